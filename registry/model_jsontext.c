/*
 * model_jsontext.c - checks that a string holds a JSON object, without
 * building it.
 *
 * Resource documents carry connector settings as strings that hold JSON
 * (datasetConfiguration, additionalConfiguration, ...). The registry must
 * refuse a string that is not a JSON object, and it does so for every data
 * point of every asset it stores, so loading each string into a jansson tree
 * (one allocation per value) would dominate the cost of a write. This is a
 * recogniser for the RFC 8259 grammar that only says yes or no and allocates
 * nothing. The input comes from a jansson string, so it is valid UTF-8;
 * bytes below 0x20 inside strings are refused as the grammar requires.
 */
#include <stdbool.h>
#include <stddef.h>

#include "model_internal.h"

#define MAX_NESTING 256

typedef struct scan {
    const char *z;
    size_t n;
    size_t i;
} scan;

static void skip_ws(scan *s)
{
    while (s->i < s->n) {
        char c = s->z[s->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        s->i++;
    }
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* At a '"': consume the string. */
static bool scan_string(scan *s)
{
    s->i++; /* opening quote */
    while (s->i < s->n) {
        unsigned char c = (unsigned char)s->z[s->i++];
        if (c == '"')
            return true;
        if (c < 0x20)
            return false;
        if (c == '\\') {
            if (s->i >= s->n)
                return false;
            c = (unsigned char)s->z[s->i++];
            switch (c) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't':
                break;
            case 'u':
                if (s->n - s->i < 4)
                    return false;
                for (int k = 0; k < 4; k++) {
                    if (!is_hex(s->z[s->i + (size_t)k]))
                        return false;
                }
                s->i += 4;
                break;
            default:
                return false;
            }
        }
    }
    return false;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool scan_number(scan *s)
{
    if (s->i < s->n && s->z[s->i] == '-')
        s->i++;
    if (s->i >= s->n || !is_digit(s->z[s->i]))
        return false;
    if (s->z[s->i] == '0') {
        s->i++;
    } else {
        while (s->i < s->n && is_digit(s->z[s->i]))
            s->i++;
    }
    if (s->i < s->n && s->z[s->i] == '.') {
        s->i++;
        if (s->i >= s->n || !is_digit(s->z[s->i]))
            return false;
        while (s->i < s->n && is_digit(s->z[s->i]))
            s->i++;
    }
    if (s->i < s->n && (s->z[s->i] == 'e' || s->z[s->i] == 'E')) {
        s->i++;
        if (s->i < s->n && (s->z[s->i] == '+' || s->z[s->i] == '-'))
            s->i++;
        if (s->i >= s->n || !is_digit(s->z[s->i]))
            return false;
        while (s->i < s->n && is_digit(s->z[s->i]))
            s->i++;
    }
    return true;
}

static bool scan_word(scan *s, const char *w)
{
    for (; *w; w++, s->i++) {
        if (s->i >= s->n || s->z[s->i] != *w)
            return false;
    }
    return true;
}

static bool scan_value(scan *s, int depth);

/* At a '{': consume the object. */
static bool scan_object(scan *s, int depth)
{
    s->i++;
    skip_ws(s);
    if (s->i < s->n && s->z[s->i] == '}') {
        s->i++;
        return true;
    }
    for (;;) {
        skip_ws(s);
        if (s->i >= s->n || s->z[s->i] != '"' || !scan_string(s))
            return false;
        skip_ws(s);
        if (s->i >= s->n || s->z[s->i] != ':')
            return false;
        s->i++;
        if (!scan_value(s, depth))
            return false;
        skip_ws(s);
        if (s->i >= s->n)
            return false;
        if (s->z[s->i] == '}') {
            s->i++;
            return true;
        }
        if (s->z[s->i] != ',')
            return false;
        s->i++;
    }
}

/* At a '[': consume the array. */
static bool scan_array(scan *s, int depth)
{
    s->i++;
    skip_ws(s);
    if (s->i < s->n && s->z[s->i] == ']') {
        s->i++;
        return true;
    }
    for (;;) {
        if (!scan_value(s, depth))
            return false;
        skip_ws(s);
        if (s->i >= s->n)
            return false;
        if (s->z[s->i] == ']') {
            s->i++;
            return true;
        }
        if (s->z[s->i] != ',')
            return false;
        s->i++;
    }
}

static bool scan_value(scan *s, int depth)
{
    skip_ws(s);
    if (s->i >= s->n)
        return false;
    switch (s->z[s->i]) {
    case '{':
        return depth < MAX_NESTING && scan_object(s, depth + 1);
    case '[':
        return depth < MAX_NESTING && scan_array(s, depth + 1);
    case '"':
        return scan_string(s);
    case 't':
        return scan_word(s, "true");
    case 'f':
        return scan_word(s, "false");
    case 'n':
        return scan_word(s, "null");
    default:
        return scan_number(s);
    }
}

/* See model_internal.h: one RFC 8259 text, object at the top, nothing after
 * it but white space. */
bool fp_json_text_is_object(const char *z, size_t n)
{
    scan s = {z, n, 0};

    skip_ws(&s);
    if (s.i >= s.n || s.z[s.i] != '{')
        return false;
    if (!scan_object(&s, 1))
        return false;
    skip_ws(&s);
    return s.i == s.n;
}
