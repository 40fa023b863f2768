/*
 * etag.c - entity tags and the precondition headers' list parsing.
 */
#include "etag.h"

#include <stdio.h>
#include <string.h>

void fp_etag_format(int64_t spec_rev, char *out, size_t out_len)
{
    snprintf(out, out_len, "\"%lld\"", (long long)spec_rev);
}

/*
 * Walk a comma-separated list of entity tags. For each one call the
 * comparison: returns true as soon as one matches. weak_ok allows W/ tags.
 */
static bool list_has(const char *header, const char *etag, bool weak_ok)
{
    size_t n_etag = strlen(etag);
    const char *p = header;

    while (*p) {
        bool weak = false;
        const char *start, *end;

        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        if (p[0] == 'W' && p[1] == '/') {
            weak = true;
            p += 2;
        }
        if (*p != '"')
            return false; /* malformed list: nothing matches */
        start = p;
        end = strchr(p + 1, '"');
        if (!end)
            return false;
        p = end + 1;
        if ((!weak || weak_ok) && (size_t)(p - start) == n_etag && memcmp(start, etag, n_etag) == 0)
            return true;
    }
    return false;
}

/* "*" with optional surrounding blanks. */
static bool is_star(const char *header)
{
    while (*header == ' ')
        header++;
    if (*header != '*')
        return false;
    header++;
    while (*header == ' ')
        header++;
    return *header == '\0';
}

bool fp_etag_if_match(const char *header, const char *etag, bool exists)
{
    if (!exists)
        return false;
    if (is_star(header))
        return true;
    return list_has(header, etag, false);
}

bool fp_etag_if_none_match_fails(const char *header, const char *etag, bool exists)
{
    if (!exists)
        return false;
    if (is_star(header))
        return true;
    return list_has(header, etag, true);
}
