/*
 * jsonsel.c - JSON Pointer and "$.a.b[0]" path selection over jansson documents.
 *
 * Both spellings compile to the same list of steps. A JSON Pointer token is kept as a
 * "token" step, which is a member name on an object and an index on an array (the
 * pointer does not say which; the document does). A path step says which it is. Each
 * step remembers where it starts in the text so that an evaluation error can name the
 * part of the selector that did match.
 */
#include "jsonsel.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp_alloc.h"
#include "fp_status.h"
#include "fp_buf.h"
#include "fp_json.h"

/* More digits than this cannot be a sensible index and could overflow. */
#define JSONSEL_MAX_INDEX_DIGITS 15

typedef enum step_kind {
    STEP_TOKEN = 0, /* JSON Pointer token: member name, or index on an array */
    STEP_KEY,       /* path .name / ['name']: member name only */
    STEP_INDEX,     /* path [n]: array index only, negative counts from the end */
} step_kind;

typedef struct step {
    step_kind kind;
    char *key;     /* TOKEN, KEY: the decoded name */
    long long idx; /* INDEX, and TOKEN when idx_ok */
    bool idx_ok;   /* TOKEN: the token is a valid array index ("0" or no leading zero) */
    size_t start;  /* offset of the step in the selector text */
} step;

struct fp_jsonsel {
    char *text;
    size_t n_steps;
    step *steps;
};

/* Describe the character at p for an error message: 'x', \xNN, or "the end". */
static const char *describe_char(const char *p, char out[16])
{
    unsigned char c = (unsigned char)*p;

    if (c == '\0')
        snprintf(out, 16, "the end");
    else if (c < 0x20 || c >= 0x7f)
        snprintf(out, 16, "byte 0x%02x", c);
    else
        snprintf(out, 16, "'%c'", c);
    return out;
}

/* Append one step; takes key (freed on failure). */
static fp_status add_step(fp_jsonsel *s, step *st, size_t *cap)
{
    if (s->n_steps == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        step *n = fp_realloc(s->steps, ncap * sizeof *n);
        if (!n) {
            fp_free(st->key);
            return FP_ERR_NOMEM;
        }
        s->steps = n;
        *cap = ncap;
    }
    s->steps[s->n_steps++] = *st;
    return FP_OK;
}

/* Parse a decimal index of n digits at p (optional leading '-'); false on overflow. */
static bool parse_index(const char *p, size_t n, long long *out)
{
    long long v = 0;
    bool neg = false;
    size_t i = 0;

    if (n > 0 && p[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == n || n - i > JSONSEL_MAX_INDEX_DIGITS)
        return false;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = neg ? -v : v;
    return true;
}

/* RFC 6901: "/"-separated tokens with ~0 and ~1 escapes. */
static fp_status compile_pointer(fp_jsonsel *s, const char *z, char *err, size_t err_len)
{
    size_t cap = 0, i = 0;
    char ch[16];

    while (z[i] == '/') {
        step st = {.kind = STEP_TOKEN, .start = i};
        fp_buf b;
        size_t j = i + 1;

        fp_buf_init(&b, strlen(z) + 1);
        fp_buf_append(&b, "", 0);
        while (z[j] && z[j] != '/') {
            if (z[j] == '~') {
                if (z[j + 1] != '0' && z[j + 1] != '1') {
                    fp_buf_clear(&b);
                    fp_set_err(err, err_len,
                               "at character %zu: '~' must be followed by '0' or '1' in a JSON "
                               "Pointer, found %s",
                               j + 1, describe_char(&z[j + 1], ch));
                    return FP_ERR_INVALID;
                }
                fp_buf_append(&b, z[j + 1] == '0' ? "~" : "/", 1);
                j += 2;
            } else {
                fp_buf_append(&b, &z[j], 1);
                j++;
            }
        }
        if (b.err) {
            fp_buf_clear(&b);
            return FP_ERR_NOMEM;
        }
        st.key = fp_buf_take(&b, NULL);
        if (!st.key)
            return FP_ERR_NOMEM;
        /* An array index is "0" or digits without a leading zero (RFC 6901 section 4). */
        if (st.key[0] == '0' && st.key[1] == '\0')
            st.idx_ok = true, st.idx = 0;
        else if (st.key[0] >= '1' && st.key[0] <= '9')
            st.idx_ok = parse_index(st.key, strlen(st.key), &st.idx);
        if (add_step(s, &st, &cap))
            return FP_ERR_NOMEM;
        i = j;
    }
    return FP_OK;
}

/* True for a byte that may appear in a ".name" step. */
static bool is_name_char(unsigned char c)
{
    return c > 0x20 && c != 0x7f && c != '.' && c != '[' && c != ']' && c != '\'' && c != '"';
}

/* "$" then .name, ['name'], ["name"], [index] steps. */
static fp_status compile_path(fp_jsonsel *s, const char *z, char *err, size_t err_len)
{
    size_t cap = 0, i = 1;
    char ch[16];

    while (z[i]) {
        step st = {.start = i};
        if (z[i] == '.') {
            size_t j = i + 1;
            while (is_name_char((unsigned char)z[j]))
                j++;
            if (j == i + 1) {
                fp_set_err(err, err_len,
                           "at character %zu: expected a member name after '.', found %s", j + 1,
                           describe_char(&z[j], ch));
                return FP_ERR_INVALID;
            }
            st.kind = STEP_KEY;
            st.key = fp_strndup(&z[i + 1], j - i - 1);
            if (!st.key)
                return FP_ERR_NOMEM;
            i = j;
        } else if (z[i] == '[' && (z[i + 1] == '\'' || z[i + 1] == '"')) {
            char q = z[i + 1];
            size_t j = i + 2;
            fp_buf b;

            fp_buf_init(&b, strlen(z) + 1);
            fp_buf_append(&b, "", 0);
            while (z[j] && z[j] != q) {
                if (z[j] == '\\' && (z[j + 1] == q || z[j + 1] == '\\'))
                    j++;
                fp_buf_append(&b, &z[j], 1);
                j++;
            }
            if (!z[j]) {
                fp_buf_clear(&b);
                fp_set_err(
                    err, err_len,
                    "at character %zu: unterminated name, expected a closing %c before the end",
                    i + 2, q);
                return FP_ERR_INVALID;
            }
            if (z[j + 1] != ']') {
                fp_buf_clear(&b);
                fp_set_err(err, err_len,
                           "at character %zu: expected ']' after the quoted name, found %s", j + 2,
                           describe_char(&z[j + 1], ch));
                return FP_ERR_INVALID;
            }
            if (b.err) {
                fp_buf_clear(&b);
                return FP_ERR_NOMEM;
            }
            st.kind = STEP_KEY;
            st.key = fp_buf_take(&b, NULL);
            if (!st.key)
                return FP_ERR_NOMEM;
            i = j + 2;
        } else if (z[i] == '[') {
            size_t j = i + 1;
            if (z[j] == '-')
                j++;
            while (z[j] >= '0' && z[j] <= '9')
                j++;
            if (z[j] != ']' || !parse_index(&z[i + 1], j - i - 1, &st.idx)) {
                if (j == i + 1 || (j == i + 2 && z[i + 1] == '-'))
                    fp_set_err(err, err_len,
                               "at character %zu: expected a quoted name or an index after '[', "
                               "found %s",
                               j + 1, describe_char(&z[j], ch));
                else if (z[j] != ']')
                    fp_set_err(err, err_len,
                               "at character %zu: expected ']' after the index, found %s", j + 1,
                               describe_char(&z[j], ch));
                else
                    fp_set_err(err, err_len,
                               "at character %zu: index too large (at most %d digits)", i + 2,
                               JSONSEL_MAX_INDEX_DIGITS);
                return FP_ERR_INVALID;
            }
            st.kind = STEP_INDEX;
            i = j + 1;
        } else {
            fp_set_err(err, err_len, "at character %zu: expected '.' or '[', found %s", i + 1,
                       describe_char(&z[i], ch));
            return FP_ERR_INVALID;
        }
        if (add_step(s, &st, &cap))
            return FP_ERR_NOMEM;
    }
    return FP_OK;
}

fp_status fp_jsonsel_compile(const char *sel, fp_jsonsel **out, char *err, size_t err_len)
{
    fp_jsonsel *s;
    fp_status st;
    char ch[16];

    *out = NULL;
    fp_set_err(err, err_len, "%s", "");
    if (sel[0] != '\0' && sel[0] != '/' && sel[0] != '$') {
        fp_set_err(
            err, err_len,
            "at character 1: expected '/' (a JSON Pointer such as \"/a/b/0\") or '$' (a path "
            "such as \"$.a.b[0]\"), found %s",
            describe_char(sel, ch));
        return FP_ERR_INVALID;
    }
    s = fp_calloc(1, sizeof *s);
    if (!s)
        return FP_ERR_NOMEM;
    s->text = fp_strdup(sel);
    if (!s->text) {
        st = FP_ERR_NOMEM;
        goto out_free;
    }
    st = sel[0] == '$' ? compile_path(s, sel, err, err_len) : compile_pointer(s, sel, err, err_len);
    if (st)
        goto out_free;
    *out = s;
    return FP_OK;

out_free:
    if (st == FP_ERR_NOMEM)
        fp_set_err(err, err_len, "out of memory compiling the selector");
    fp_jsonsel_free(s);
    return st;
}

json_t *fp_jsonsel_eval(const fp_jsonsel *sel, const json_t *doc, char *err, size_t err_len)
{
    json_t *cur = (json_t *)doc;

    for (size_t i = 0; i < sel->n_steps; i++) {
        const step *st = &sel->steps[i];
        int plen = (int)st->start;
        const char *at =
            plen == 0 || (plen == 1 && sel->text[0] == '$') ? "the document root" : NULL;
        json_t *next = NULL;

#define FAIL(fmt, ...)                                                                             \
    do {                                                                                           \
        if (at)                                                                                    \
            fp_set_err(err, err_len, fmt " at the document root", __VA_ARGS__);                    \
        else                                                                                       \
            fp_set_err(err, err_len, fmt " at \"%.*s\"", __VA_ARGS__, plen, sel->text);            \
        return NULL;                                                                               \
    } while (0)

        if (json_is_object(cur) && st->kind != STEP_INDEX) {
            next = json_object_get(cur, st->key);
            if (!next)
                FAIL("no member \"%s\" in the object", st->key);
        } else if (json_is_array(cur) && st->kind != STEP_KEY) {
            long long n = (long long)json_array_size(cur);
            long long k = st->idx;
            if (st->kind == STEP_TOKEN && !st->idx_ok)
                FAIL("\"%s\" is not an array index, for the array", st->key);
            if (k < 0)
                k += n;
            if (k < 0 || k >= n)
                FAIL("index %lld is out of range (%lld elements) in the array", st->idx, n);
            next = json_array_get(cur, (size_t)k);
        } else if (st->kind == STEP_INDEX) {
            FAIL("index [%lld] applied to %s, not an array,", st->idx, fp_json_kind(cur));
        } else if (st->kind == STEP_KEY) {
            FAIL("member \"%s\" asked of %s, not an object,", st->key, fp_json_kind(cur));
        } else {
            FAIL("\"%s\" asked of %s, not an object or array,", st->key, fp_json_kind(cur));
        }
#undef FAIL
        cur = next;
    }
    return cur;
}

const char *fp_jsonsel_text(const fp_jsonsel *sel)
{
    return sel->text;
}

void fp_jsonsel_free(fp_jsonsel *sel)
{
    if (!sel)
        return;
    for (size_t i = 0; i < sel->n_steps; i++)
        fp_free(sel->steps[i].key);
    fp_free(sel->steps);
    fp_free(sel->text);
    fp_free(sel);
}
