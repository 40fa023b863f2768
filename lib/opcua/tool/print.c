/*
 * print.c - values a user writes on the fieldplane-opcua command line, parsed into OPC UA
 * values of built-in scalar types (and arrays of them). Printing goes the other way in the
 * library, ua_print_append (lib/opcua/ua_types_print.c), the one printer of the tree.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fp_alloc.h"
#include "fp_time.h"
#include "opcua/ua_nodeid.h"
#include "tool.h"

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* -------------------------------------------------------------------------- parsing */

/* Parse one scalar of built-in kind t->kind from z into p (initialised, of t->size). */
static ua_status parse_scalar(void *p, const char *z, const ua_type *t)
{
    char *end = NULL;
    errno = 0;
    switch (t->kind) {
    case UA_KIND_BOOLEAN:
        if (!strcmp(z, "true") || !strcmp(z, "1"))
            *(bool *)p = true;
        else if (!strcmp(z, "false") || !strcmp(z, "0"))
            *(bool *)p = false;
        else
            return UA_STATUS_BAD_TYPE_MISMATCH;
        return UA_STATUS_GOOD;
    case UA_KIND_SBYTE:
    case UA_KIND_INT16:
    case UA_KIND_INT32:
    case UA_KIND_INT64:
    case UA_KIND_ENUM: {
        long long v = strtoll(z, &end, 0);
        if (errno || end == z || *end)
            return UA_STATUS_BAD_TYPE_MISMATCH;
        long long lo = t->kind == UA_KIND_SBYTE   ? INT8_MIN
                       : t->kind == UA_KIND_INT16 ? INT16_MIN
                       : t->kind == UA_KIND_INT64 ? INT64_MIN
                                                  : INT32_MIN;
        long long hi = t->kind == UA_KIND_SBYTE   ? INT8_MAX
                       : t->kind == UA_KIND_INT16 ? INT16_MAX
                       : t->kind == UA_KIND_INT64 ? INT64_MAX
                                                  : INT32_MAX;
        if (v < lo || v > hi)
            return UA_STATUS_BAD_TYPE_MISMATCH;
        if (t->kind == UA_KIND_SBYTE)
            *(int8_t *)p = (int8_t)v;
        else if (t->kind == UA_KIND_INT16)
            *(int16_t *)p = (int16_t)v;
        else if (t->kind == UA_KIND_INT64)
            *(int64_t *)p = v;
        else
            *(int32_t *)p = (int32_t)v;
        return UA_STATUS_GOOD;
    }
    case UA_KIND_BYTE:
    case UA_KIND_UINT16:
    case UA_KIND_UINT32:
    case UA_KIND_UINT64:
    case UA_KIND_STATUSCODE: {
        if (t->kind == UA_KIND_STATUSCODE) {
            ua_status sc;
            if (ua_status_from_name(z, &sc)) {
                *(uint32_t *)p = sc;
                return UA_STATUS_GOOD;
            }
        }
        if (*z == '-')
            return UA_STATUS_BAD_TYPE_MISMATCH;
        unsigned long long v = strtoull(z, &end, 0);
        if (errno || end == z || *end)
            return UA_STATUS_BAD_TYPE_MISMATCH;
        unsigned long long hi = t->kind == UA_KIND_BYTE     ? UINT8_MAX
                                : t->kind == UA_KIND_UINT16 ? UINT16_MAX
                                : t->kind == UA_KIND_UINT64 ? UINT64_MAX
                                                            : UINT32_MAX;
        if (v > hi)
            return UA_STATUS_BAD_TYPE_MISMATCH;
        if (t->kind == UA_KIND_BYTE)
            *(uint8_t *)p = (uint8_t)v;
        else if (t->kind == UA_KIND_UINT16)
            *(uint16_t *)p = (uint16_t)v;
        else if (t->kind == UA_KIND_UINT64)
            *(uint64_t *)p = v;
        else
            *(uint32_t *)p = (uint32_t)v;
        return UA_STATUS_GOOD;
    }
    case UA_KIND_FLOAT:
    case UA_KIND_DOUBLE: {
        double v = strtod(z, &end);
        if (end == z || *end)
            return UA_STATUS_BAD_TYPE_MISMATCH;
        if (t->kind == UA_KIND_FLOAT)
            *(float *)p = (float)v;
        else
            *(double *)p = v;
        return UA_STATUS_GOOD;
    }
    case UA_KIND_STRING:
    case UA_KIND_XMLELEMENT:
        return ua_string_from(p, z);
    case UA_KIND_BYTESTRING: {
        size_t n = strlen(z);
        if (n >= 2 && z[0] == '0' && (z[1] == 'x' || z[1] == 'X')) {
            ua_string *s = p;
            n -= 2;
            if (n % 2)
                return UA_STATUS_BAD_TYPE_MISMATCH;
            s->data = n ? fp_malloc(n / 2) : UA_EMPTY_ARRAY;
            if (!s->data)
                return UA_STATUS_BAD_OUT_OF_MEMORY;
            s->length = n / 2;
            for (size_t i = 0; i < n / 2; i++) {
                int hi = hexval(z[2 + 2 * i]), lo = hexval(z[3 + 2 * i]);
                if (hi < 0 || lo < 0)
                    return UA_STATUS_BAD_TYPE_MISMATCH;
                s->data[i] = (uint8_t)(hi << 4 | lo);
            }
            return UA_STATUS_GOOD;
        }
        return ua_string_from(p, z);
    }
    case UA_KIND_GUID:
        return ua_guid_parse(z, strlen(z), p) ? UA_STATUS_GOOD : UA_STATUS_BAD_TYPE_MISMATCH;
    case UA_KIND_NODEID:
        return ua_node_id_parse(p, z, NULL, 0) ? UA_STATUS_BAD_TYPE_MISMATCH : UA_STATUS_GOOD;
    case UA_KIND_LOCALIZEDTEXT:
        return ua_string_from(&((ua_localized_text *)p)->text, z);
    case UA_KIND_QUALIFIEDNAME: {
        ua_qualified_name *q = p;
        const char *colon = strchr(z, ':');
        if (colon) {
            unsigned long ns = strtoul(z, &end, 10);
            if (end == colon && ns <= 0xffff) {
                q->ns = (uint16_t)ns;
                z = colon + 1;
            }
        }
        return ua_string_from(&q->name, z);
    }
    case UA_KIND_DATETIME: {
        struct tm tm;
        memset(&tm, 0, sizeof(tm));
        int ms = 0;
        int n = 0;
        if (sscanf(z, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
            return UA_STATUS_BAD_TYPE_MISMATCH;
        const char *rest = z + n;
        if (*rest == '.') {
            int digits = 0;
            rest++;
            while (*rest >= '0' && *rest <= '9') {
                if (digits++ < 3)
                    ms = ms * 10 + (*rest - '0');
                rest++;
            }
            while (digits < 3 && digits++ >= 0)
                ms *= 10;
        }
        if (strcmp(rest, "Z") != 0 && *rest)
            return UA_STATUS_BAD_TYPE_MISMATCH;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        time_t secs = timegm(&tm);
        *(ua_datetime *)p =
            (ua_datetime)secs * 10000000 + (ua_datetime)ms * 10000 + UA_DATETIME_UNIX_EPOCH;
        return UA_STATUS_GOOD;
    }
    default:
        return UA_STATUS_BAD_TYPE_MISMATCH;
    }
}

ua_status tool_parse_variant(ua_variant *v, const char *z, const ua_type *t, bool is_array)
{
    ua_status st;
    ua_init(v, UA_TYPE(VARIANT));
    if (!is_array) {
        void *p = ua_new(t);
        if (!p)
            return UA_STATUS_BAD_OUT_OF_MEMORY;
        st = parse_scalar(p, z, t);
        if (st) {
            ua_delete(p, t);
            return st;
        }
        ua_variant_set_scalar_take(v, p, t);
        return UA_STATUS_GOOD;
    }
    size_t n = *z ? 1 : 0;
    for (const char *q = z; *q; q++)
        n += *q == ',';
    uint8_t *items = ua_array_new(n, t);
    char *copy = fp_strdup(z);
    if (!items || !copy) {
        fp_free(copy);
        ua_array_free(items, n, t);
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    }
    char *save = NULL, *tok = copy;
    st = UA_STATUS_GOOD;
    for (size_t i = 0; i < n && !st; i++) {
        char *comma = strchr(tok, ',');
        if (comma)
            *comma = '\0';
        st = parse_scalar(items + i * t->size, tok, t);
        tok = comma ? comma + 1 : tok + strlen(tok);
    }
    (void)save;
    fp_free(copy);
    if (!st)
        st = ua_variant_set_array_copy(v, items, n, t);
    ua_array_free(items, n, t);
    return st;
}
