/*
 * print.c - text forms of OPC UA values for the fieldplane-opcua tool.
 *
 * Printing walks the codec's type descriptors, so any value the codec decodes has a text
 * form: built-in types as users expect them (numbers, ISO 8601 times, node ids, status
 * names), arrays comma separated, structures as {Member=value,...}. Parsing goes the other
 * way for the built-in scalar types a user writes on the command line.
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

/* ----------------------------------------------------------------------- node ids */

void tool_node_id_print(fp_buf *b, const ua_node_id *n)
{
    if (n->ns)
        fp_buf_printf(b, "ns=%u;", n->ns);
    switch (n->id_type) {
    case UA_NODEID_NUMERIC:
        fp_buf_printf(b, "i=%" PRIu32, n->id.numeric);
        break;
    case UA_NODEID_STRING:
        fp_buf_append_str(b, "s=");
        if (n->id.string.length)
            fp_buf_append(b, n->id.string.data, n->id.string.length);
        break;
    case UA_NODEID_GUID: {
        const ua_guid *g = &n->id.guid;
        fp_buf_printf(b, "g=%08" PRIX32 "-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X", g->data1,
                      g->data2, g->data3, g->data4[0], g->data4[1], g->data4[2], g->data4[3],
                      g->data4[4], g->data4[5], g->data4[6], g->data4[7]);
        break;
    }
    case UA_NODEID_BYTESTRING: {
        static const char b64[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const uint8_t *p = n->id.string.data;
        size_t len = n->id.string.length;
        fp_buf_append_str(b, "b=");
        for (size_t i = 0; i < len; i += 3) {
            uint32_t v = (uint32_t)p[i] << 16;
            if (i + 1 < len)
                v |= (uint32_t)p[i + 1] << 8;
            if (i + 2 < len)
                v |= p[i + 2];
            char out[4] = {b64[(v >> 18) & 63], b64[(v >> 12) & 63],
                           i + 1 < len ? b64[(v >> 6) & 63] : '=', i + 2 < len ? b64[v & 63] : '='};
            fp_buf_append(b, out, 4);
        }
        break;
    }
    default:
        fp_buf_append_str(b, "?");
    }
}

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

/* ------------------------------------------------------------------------- printing */

static void print_double(fp_buf *b, double d, int digits)
{
    char tmp[64];
    if (isnan(d)) {
        fp_buf_append_str(b, "NaN");
        return;
    }
    if (isinf(d)) {
        fp_buf_append_str(b, d > 0 ? "Infinity" : "-Infinity");
        return;
    }
    /* The shortest form that reads back as the same value. */
    for (int prec = digits - 2; prec <= digits; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (digits <= 9 ? (float)strtod(tmp, NULL) == (float)d : strtod(tmp, NULL) == d)
            break;
    }
    fp_buf_append_str(b, tmp);
}

/* RFC 3339 with milliseconds; an instant with no four-digit year (a raw value far outside
 * what a server means) as its number of 100 ns ticks, not as a clamped date. */
static void print_datetime(fp_buf *b, ua_datetime t)
{
    /* Milliseconds since 1970, rounded down; the epoch is a whole number of them, so no
     * value of t overflows on the way. */
    int64_t ms = t / 10000 - (t % 10000 < 0) - UA_DATETIME_UNIX_EPOCH / 10000;
    char text[FP_RFC3339_LEN];

    if (ms < FP_RFC3339_MIN_MS || ms > FP_RFC3339_MAX_MS) {
        fp_buf_printf(b, "%" PRId64, t);
        return;
    }
    fp_time_rfc3339(text, ms);
    fp_buf_append_str(b, text);
}

static void print_bytes_hex(fp_buf *b, const ua_string *s)
{
    if (!s->data) {
        fp_buf_append_str(b, "null");
        return;
    }
    fp_buf_append_str(b, "0x");
    for (size_t i = 0; i < s->length; i++)
        fp_buf_printf(b, "%02x", s->data[i]);
}

static void print_text(fp_buf *b, const ua_string *s)
{
    if (s->data && s->length)
        fp_buf_append(b, s->data, s->length);
}

static void print_structure(fp_buf *b, const void *p, const ua_type *t)
{
    fp_buf_append_str(b, "{");
    for (uint16_t i = 0; i < t->member_count; i++) {
        const ua_member *m = &t->members[i];
        const uint8_t *q = (const uint8_t *)p + m->offset;
        if (i)
            fp_buf_append_str(b, ",");
        fp_buf_printf(b, "%s=", m->name);
        if (m->is_array) {
            size_t n;
            void *items;
            memcpy(&n, q, sizeof(n));
            memcpy(&items, q + sizeof(size_t), sizeof(items));
            fp_buf_append_str(b, "[");
            for (size_t k = 0; k < n && items && items != UA_EMPTY_ARRAY; k++) {
                if (k)
                    fp_buf_append_str(b, ",");
                tool_print_value(b, (const uint8_t *)items + k * m->type->size, m->type);
            }
            fp_buf_append_str(b, "]");
        } else {
            tool_print_value(b, q, m->type);
        }
    }
    fp_buf_append_str(b, "}");
}

void tool_print_variant(fp_buf *b, const ua_variant *v)
{
    if (!v->type) {
        fp_buf_append_str(b, "null");
        return;
    }
    const uint8_t *data = ua_variant_data(v);
    if (!v->is_array) {
        tool_print_value(b, data, v->type);
        return;
    }
    for (size_t i = 0; i < v->array_length && data; i++) {
        if (i)
            fp_buf_append_str(b, ",");
        tool_print_value(b, data + i * v->type->size, v->type);
    }
}

void tool_print_value(fp_buf *b, const void *p, const ua_type *t)
{
    switch (t->kind) {
    case UA_KIND_BOOLEAN:
        fp_buf_append_str(b, *(const bool *)p ? "true" : "false");
        break;
    case UA_KIND_SBYTE:
        fp_buf_printf(b, "%d", *(const int8_t *)p);
        break;
    case UA_KIND_BYTE:
        fp_buf_printf(b, "%u", *(const uint8_t *)p);
        break;
    case UA_KIND_INT16:
        fp_buf_printf(b, "%d", *(const int16_t *)p);
        break;
    case UA_KIND_UINT16:
        fp_buf_printf(b, "%u", *(const uint16_t *)p);
        break;
    case UA_KIND_INT32:
    case UA_KIND_ENUM:
        fp_buf_printf(b, "%" PRId32, *(const int32_t *)p);
        break;
    case UA_KIND_UINT32:
        fp_buf_printf(b, "%" PRIu32, *(const uint32_t *)p);
        break;
    case UA_KIND_INT64:
        fp_buf_printf(b, "%" PRId64, *(const int64_t *)p);
        break;
    case UA_KIND_UINT64:
        fp_buf_printf(b, "%" PRIu64, *(const uint64_t *)p);
        break;
    case UA_KIND_FLOAT:
        print_double(b, *(const float *)p, 9);
        break;
    case UA_KIND_DOUBLE:
        print_double(b, *(const double *)p, 17);
        break;
    case UA_KIND_STRING:
    case UA_KIND_XMLELEMENT:
        print_text(b, p);
        break;
    case UA_KIND_BYTESTRING:
        print_bytes_hex(b, p);
        break;
    case UA_KIND_DATETIME:
        print_datetime(b, *(const ua_datetime *)p);
        break;
    case UA_KIND_GUID: {
        ua_node_id n;
        memset(&n, 0, sizeof(n));
        n.id_type = UA_NODEID_GUID;
        n.id.guid = *(const ua_guid *)p;
        fp_buf buf;
        fp_buf_init(&buf, 128);
        tool_node_id_print(&buf, &n);
        if (!buf.err && buf.len > 2)
            fp_buf_append_str(b, buf.data + 2);
        fp_buf_clear(&buf);
        break;
    }
    case UA_KIND_NODEID:
        tool_node_id_print(b, p);
        break;
    case UA_KIND_EXPANDEDNODEID: {
        const ua_expanded_node_id *x = p;
        if (x->server_index)
            fp_buf_printf(b, "svr=%" PRIu32 ";", x->server_index);
        if (x->namespace_uri.data) {
            fp_buf_append_str(b, "nsu=");
            print_text(b, &x->namespace_uri);
            fp_buf_append_str(b, ";");
            ua_node_id n = x->node_id;
            n.ns = 0;
            tool_node_id_print(b, &n);
        } else {
            tool_node_id_print(b, &x->node_id);
        }
        break;
    }
    case UA_KIND_STATUSCODE:
        fp_buf_append_str(b, ua_status_name(*(const ua_status_code *)p));
        break;
    case UA_KIND_QUALIFIEDNAME: {
        const ua_qualified_name *q = p;
        if (q->ns)
            fp_buf_printf(b, "%u:", q->ns);
        print_text(b, &q->name);
        break;
    }
    case UA_KIND_LOCALIZEDTEXT:
        print_text(b, &((const ua_localized_text *)p)->text);
        break;
    case UA_KIND_EXTENSIONOBJECT: {
        const ua_extension_object *eo = p;
        if (eo->encoding == UA_EO_DECODED && eo->type) {
            fp_buf_append_str(b, eo->type->name);
            print_structure(b, eo->data, eo->type);
        } else if (eo->encoding == UA_EO_NONE) {
            fp_buf_append_str(b, "null");
        } else {
            fp_buf_append_str(b, "ExtensionObject(");
            tool_node_id_print(b, &eo->type_id);
            fp_buf_printf(b, ",%zu bytes)", eo->body.length);
        }
        break;
    }
    case UA_KIND_DATAVALUE: {
        const ua_data_value *dv = p;
        if (dv->has & UA_DV_STATUS && ua_status_is_bad(dv->status))
            fp_buf_append_str(b, ua_status_name(dv->status));
        else
            tool_print_variant(b, &dv->value);
        break;
    }
    case UA_KIND_VARIANT:
        tool_print_variant(b, p);
        break;
    case UA_KIND_DIAGNOSTICINFO:
        fp_buf_append_str(b, "DiagnosticInfo");
        break;
    case UA_KIND_STRUCTURE:
        print_structure(b, p, t);
        break;
    default:
        fp_buf_append_str(b, "?");
    }
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
