/*
 * opc_json.c - OPC UA values to JSON and back, for the OPC UA connector (library fpuaconn).
 *
 * Data changes, event fields and action results leave the connector as JSON; action
 * arguments and written values arrive as JSON. This file is the one place that maps the
 * two: one writer walks any value through the codec's type descriptors (built-in types,
 * enumerations, structures) into an fp_buf, and one reader turns a JSON value into a
 * Variant of a built-in type chosen by the caller (from a method's InputArguments or a
 * variable's DataType). It touches no client or session, so unit tests and a fuzz harness
 * drive it directly. The mapping, type by type, is in docs/connector-opcua-values.md.
 *
 * The writer must produce valid JSON whatever a server sends: strings are escaped and
 * invalid UTF-8 becomes U+FFFD, non-finite numbers become strings, and nesting is bounded
 * by OPC_JSON_MAX_DEPTH (a hostile server can nest Variants and ExtensionObjects deeper
 * than any consumer wants to walk); a value that goes deeper fails as a whole and leaves
 * the buffer as it was.
 */
#include <errno.h>
#include <stdarg.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fieldplane/fp_alloc.h>
#include <fieldplane/fp_json.h>
#include <fieldplane/fp_time.h>
#include "opc_internal.h"
#include "opcua/ua_nodeid.h"

/* 9999-12-31T23:59:59Z, OPC UA's MaxDateTime: later instants print as it and parse to
 * INT64_MAX (OPC 10000-6 5.2.2.5). */
#define OPC_MAX_DATETIME 2650467743990000000LL
#define TICKS_PER_SEC 10000000LL
/* 2^53: the largest magnitude up to which every integer is exact in a double. */
#define OPC_JSON_SAFE_INT 9007199254740992LL

/* ================================================================== the JSON writer */

typedef struct jw {
    fp_buf *b;
    unsigned depth;
    bool too_deep; /* a value nested past OPC_JSON_MAX_DEPTH */
    bool nomem;    /* an allocation outside the buffer failed */
} jw;

static void put(jw *w, const void *p, size_t n)
{
    fp_buf_append(w->b, p, n);
}

static void put_z(jw *w, const char *z)
{
    fp_buf_append(w->b, z, strlen(z));
}

static bool enter(jw *w)
{
    if (w->depth >= OPC_JSON_MAX_DEPTH) {
        w->too_deep = true;
        return false;
    }
    w->depth++;
    return true;
}

static void leave(jw *w)
{
    w->depth--;
}

static void put_sink(void *ctx, const void *p, size_t n)
{
    put(ctx, p, n);
}

/* A JSON string of n bytes, after the prefix pre, escaped by the tree's one escaper
 * (fp_json_escape: invalid UTF-8 becomes U+FFFD). */
static void put_str_pre(jw *w, const char *pre, const uint8_t *p, size_t n)
{
    put(w, "\"", 1);
    put_z(w, pre);
    fp_json_escape((const char *)p, n, put_sink, w);
    put(w, "\"", 1);
}

static void put_str(jw *w, const uint8_t *p, size_t n)
{
    put_str_pre(w, "", p, n);
}

static void put_zstr(jw *w, const char *z)
{
    put_str(w, (const uint8_t *)z, strlen(z));
}

/* A String, XmlElement or the text of a LocalizedText: null when null. */
static void put_ua_string(jw *w, const ua_string *s)
{
    if (s->data == NULL)
        put_z(w, "null");
    else
        put_str(w, s->data, s->length);
}

static void put_i64(jw *w, int64_t v)
{
    char tmp[32];
    bool exact = v >= -OPC_JSON_SAFE_INT && v <= OPC_JSON_SAFE_INT;
    int n = snprintf(tmp, sizeof tmp, exact ? "%" PRId64 : "\"%" PRId64 "\"", v);
    put(w, tmp, (size_t)n);
}

static void put_u64(jw *w, uint64_t v)
{
    char tmp[32];
    bool exact = v <= (uint64_t)OPC_JSON_SAFE_INT;
    int n = snprintf(tmp, sizeof tmp, exact ? "%" PRIu64 : "\"%" PRIu64 "\"", v);
    put(w, tmp, (size_t)n);
}

/* Non-finite values as the strings "NaN", "Infinity", "-Infinity" (JSON has no such
 * numbers). */
static void put_real(jw *w, double v, bool is_float)
{
    char tmp[FP_REAL_TEXT_LEN];
    size_t n = fp_real_text(tmp, v, is_float);
    if (!isfinite(v)) {
        put(w, "\"", 1);
        put(w, tmp, n);
        put(w, "\"", 1);
        return;
    }
    put(w, tmp, n);
}

/* Base64 of n bytes, in slices through a stack buffer. */
static void put_base64(jw *w, const uint8_t *p, size_t n)
{
    char tmp[4 * 256 + 1];
    put(w, "\"", 1);
    for (size_t i = 0; i < n; i += 3 * 256) {
        size_t m = n - i < 3 * 256 ? n - i : 3 * 256;
        size_t k = ua_base64_encode(p + i, m, tmp, sizeof tmp);
        put(w, tmp, k);
    }
    put(w, "\"", 1);
}

static void put_bytestring(jw *w, const ua_bytestring *s)
{
    if (s->data == NULL)
        put_z(w, "null");
    else
        put_base64(w, s->data, s->length);
}

/* The symbolic name of a status code, "0x%08X" for codes the table does not know (the
 * library answers those with their bare severity, which would hide the code). */
static const char *status_symbol(ua_status s, char tmp[16])
{
    const char *name = ua_status_name(s);
    ua_status known;
    if (ua_status_from_name(name, &known) && known == (s & 0xFFFF0000u))
        return name;
    snprintf(tmp, 16, "0x%08" PRIX32, s);
    return tmp;
}

/* A NodeId or ExpandedNodeId in its string form (on the stack when short). */
static void put_node_id(jw *w, const void *p, bool expanded)
{
    char tmp[160];
    size_t k = expanded ? ua_expanded_node_id_print(p, tmp, sizeof tmp)
                        : ua_node_id_print(p, tmp, sizeof tmp);
    if (k < sizeof tmp) {
        put_str(w, (const uint8_t *)tmp, k);
        return;
    }
    char *z = fp_malloc(k + 1);
    if (z == NULL) {
        w->nomem = true;
        return;
    }
    if (expanded)
        ua_expanded_node_id_print(p, z, k + 1);
    else
        ua_node_id_print(p, z, k + 1);
    put_str(w, (const uint8_t *)z, k);
    fp_free(z);
}

static void put_value(jw *w, const void *p, const ua_type *t);
static void put_data_value(jw *w, const ua_data_value *dv);

/* n values of type t as a JSON array; null for a null array. */
static void put_items(jw *w, const void *items, size_t n, const ua_type *t)
{
    const uint8_t *q = items;
    if (items == NULL) {
        put_z(w, "null");
        return;
    }
    if (!enter(w))
        return;
    put(w, "[", 1);
    for (size_t i = 0; i < n && !w->too_deep; i++) {
        if (i)
            put(w, ",", 1);
        put_value(w, q + i * t->size, t);
    }
    put(w, "]", 1);
    leave(w);
}

/* A matrix as arrays nested by dimension, the first dimension outermost (the last index
 * varies fastest on the wire, OPC 10000-6 5.2.2.16). The caller checked that the
 * dimensions multiply to the number of items. */
static void put_matrix(jw *w, const uint8_t *items, const uint32_t *dims, size_t nd,
                       const ua_type *t)
{
    if (nd == 1) {
        put_items(w, items, dims[0], t);
        return;
    }
    size_t stride = 1;
    for (size_t i = 1; i < nd; i++)
        stride *= dims[i];
    if (!enter(w))
        return;
    put(w, "[", 1);
    for (uint32_t i = 0; i < dims[0] && !w->too_deep; i++) {
        if (i)
            put(w, ",", 1);
        put_matrix(w, items + (size_t)i * stride * t->size, dims + 1, nd - 1, t);
    }
    put(w, "]", 1);
    leave(w);
}

/* Whether v's ArrayDimensions describe its items exactly (a server may send any). */
static bool dims_match(const ua_variant *v)
{
    size_t prod = 1;
    for (size_t i = 0; i < v->dims_count; i++) {
        if (v->dims[i] == 0 || prod > SIZE_MAX / v->dims[i])
            return false;
        prod *= v->dims[i];
    }
    return prod == v->array_length;
}

static void put_variant(jw *w, const ua_variant *v)
{
    if (v->type == NULL) {
        put_z(w, "null");
        return;
    }
    if (!v->is_array) {
        put_value(w, ua_variant_data(v), v->type);
        return;
    }
    /* An empty matrix shows as [] whatever its dimensions: dimensions such as
     * [2147483647, 0] would otherwise ask for two billion empty arrays. Dimensions that
     * do not match the items are ignored. */
    if (v->data == NULL || v->dims_count < 2 || v->array_length == 0 || !dims_match(v)) {
        put_items(w, v->data, v->array_length, v->type);
        return;
    }
    if (v->dims_count > OPC_JSON_MAX_DEPTH) {
        w->too_deep = true;
        return;
    }
    put_matrix(w, v->data, v->dims, v->dims_count, v->type);
}

static void put_extension_object(jw *w, const ua_extension_object *eo)
{
    switch (eo->encoding) {
    case UA_EO_DECODED:
        if (eo->type != NULL && eo->data != NULL)
            put_value(w, eo->data, eo->type);
        else
            put_z(w, "null");
        return;
    case UA_EO_BINARY:
    case UA_EO_XML:
        break;
    default:
        put_z(w, "null");
        return;
    }
    put_z(w, "{\"TypeId\":");
    put_node_id(w, &eo->type_id, false);
    if (eo->encoding == UA_EO_BINARY) {
        put_z(w, ",\"Encoding\":\"Binary\",\"Body\":");
        put_bytestring(w, &eo->body);
    } else {
        put_z(w, ",\"Encoding\":\"Xml\",\"Body\":");
        put_ua_string(w, &eo->body);
    }
    put(w, "}", 1);
}

static void put_diagnostic_info(jw *w, const ua_diagnostic_info *di)
{
    static const struct {
        uint8_t bit;
        const char *key;
        size_t offset;
    } ints[] = {
        {UA_DI_SYMBOLIC_ID, "SymbolicId", offsetof(ua_diagnostic_info, symbolic_id)},
        {UA_DI_NAMESPACE_URI, "NamespaceUri", offsetof(ua_diagnostic_info, namespace_uri)},
        {UA_DI_LOCALIZED_TEXT, "LocalizedText", offsetof(ua_diagnostic_info, localized_text)},
        {UA_DI_LOCALE, "Locale", offsetof(ua_diagnostic_info, locale)},
    };
    char tmp[48];
    const char *sep = "";
    if (!enter(w))
        return;
    put(w, "{", 1);
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        if (!(di->has & ints[i].bit))
            continue;
        int32_t v;
        memcpy(&v, (const uint8_t *)di + ints[i].offset, sizeof v);
        int n = snprintf(tmp, sizeof tmp, "%s\"%s\":%" PRId32, sep, ints[i].key, v);
        put(w, tmp, (size_t)n);
        sep = ",";
    }
    if (di->has & UA_DI_ADDITIONAL_INFO) {
        put_z(w, sep);
        put_z(w, "\"AdditionalInfo\":");
        put_ua_string(w, &di->additional_info);
        sep = ",";
    }
    if (di->has & UA_DI_INNER_STATUS_CODE) {
        char sym[16];
        put_z(w, sep);
        put_z(w, "\"InnerStatusCode\":");
        put_zstr(w, status_symbol(di->inner_status_code, sym));
        sep = ",";
    }
    if (di->inner != NULL) {
        put_z(w, sep);
        put_z(w, "\"InnerDiagnosticInfo\":");
        put_diagnostic_info(w, di->inner);
    }
    put(w, "}", 1);
    leave(w);
}

static void put_structure(jw *w, const void *p, const ua_type *t)
{
    if (!enter(w))
        return;
    put(w, "{", 1);
    for (unsigned i = 0; i < t->member_count && !w->too_deep; i++) {
        const ua_member *m = &t->members[i];
        const uint8_t *mp = (const uint8_t *)p + m->offset;
        if (i)
            put(w, ",", 1);
        put_zstr(w, m->name);
        put(w, ":", 1);
        if (m->is_array) {
            size_t n;
            const void *items;
            memcpy(&n, mp, sizeof n);
            memcpy(&items, mp + sizeof(size_t), sizeof items);
            put_items(w, items, n, m->type);
        } else {
            put_value(w, mp, m->type);
        }
    }
    put(w, "}", 1);
    leave(w);
}

/* One value *p of type t. */
/* True when the name starts as the reader takes a namespace prefix: 1 to 5 digits up to the
 * first colon, at most 65535. A QualifiedName of namespace 0 with such a name is written with
 * "0:" so that it reads back the same. */
static bool qname_has_prefix(const uint8_t *p, size_t n)
{
    size_t d = 0;
    unsigned long v = 0;
    while (d < n && d < 6 && p[d] >= '0' && p[d] <= '9')
        v = v * 10 + (unsigned long)(p[d++] - '0');
    return d >= 1 && d <= 5 && d < n && p[d] == ':' && v <= 65535;
}

static void put_value(jw *w, const void *p, const ua_type *t)
{
    char tmp[48];
    switch (t->kind) {
    case UA_KIND_BOOLEAN:
        put_z(w, *(const bool *)p ? "true" : "false");
        break;
    case UA_KIND_SBYTE:
        put_i64(w, *(const int8_t *)p);
        break;
    case UA_KIND_BYTE:
        put_u64(w, *(const uint8_t *)p);
        break;
    case UA_KIND_INT16:
        put_i64(w, *(const int16_t *)p);
        break;
    case UA_KIND_UINT16:
        put_u64(w, *(const uint16_t *)p);
        break;
    case UA_KIND_INT32:
    case UA_KIND_ENUM:
        put_i64(w, *(const int32_t *)p);
        break;
    case UA_KIND_UINT32:
        put_u64(w, *(const uint32_t *)p);
        break;
    case UA_KIND_INT64:
        put_i64(w, *(const int64_t *)p);
        break;
    case UA_KIND_UINT64:
        put_u64(w, *(const uint64_t *)p);
        break;
    case UA_KIND_FLOAT:
        put_real(w, *(const float *)p, true);
        break;
    case UA_KIND_DOUBLE:
        put_real(w, *(const double *)p, false);
        break;
    case UA_KIND_STRING:
    case UA_KIND_XMLELEMENT:
        put_ua_string(w, p);
        break;
    case UA_KIND_DATETIME:
        opc_json_datetime(tmp, *(const int64_t *)p);
        if (tmp[0] == '\0')
            put_z(w, "null");
        else
            put_zstr(w, tmp);
        break;
    case UA_KIND_GUID: {
        const ua_guid *g = p;
        int n = snprintf(tmp, sizeof tmp,
                         "\"%08" PRIx32 "-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x\"", g->data1,
                         g->data2, g->data3, g->data4[0], g->data4[1], g->data4[2], g->data4[3],
                         g->data4[4], g->data4[5], g->data4[6], g->data4[7]);
        put(w, tmp, (size_t)n);
        break;
    }
    case UA_KIND_BYTESTRING:
        put_bytestring(w, p);
        break;
    case UA_KIND_NODEID:
        put_node_id(w, p, false);
        break;
    case UA_KIND_EXPANDEDNODEID:
        put_node_id(w, p, true);
        break;
    case UA_KIND_STATUSCODE:
        put_zstr(w, status_symbol(*(const uint32_t *)p, tmp));
        break;
    case UA_KIND_QUALIFIEDNAME: {
        const ua_qualified_name *q = p;
        if (q->name.data == NULL) {
            put_z(w, "null");
        } else if (q->ns == 0 && !qname_has_prefix(q->name.data, q->name.length)) {
            put_str(w, q->name.data, q->name.length);
        } else { /* "0:" too when the name itself would read as "ns:name" */
            snprintf(tmp, sizeof tmp, "%u:", (unsigned)q->ns);
            put_str_pre(w, tmp, q->name.data, q->name.length);
        }
        break;
    }
    case UA_KIND_LOCALIZEDTEXT:
        put_ua_string(w, &((const ua_localized_text *)p)->text);
        break;
    case UA_KIND_EXTENSIONOBJECT:
        if (!enter(w))
            break;
        put_extension_object(w, p);
        leave(w);
        break;
    case UA_KIND_DATAVALUE:
        put_data_value(w, p);
        break;
    case UA_KIND_VARIANT:
        if (!enter(w))
            break;
        put_variant(w, p);
        leave(w);
        break;
    case UA_KIND_DIAGNOSTICINFO:
        put_diagnostic_info(w, p);
        break;
    case UA_KIND_STRUCTURE:
        put_structure(w, p, t);
        break;
    default:
        put_z(w, "null");
    }
}

static void put_data_value(jw *w, const ua_data_value *dv)
{
    char ts[40] = "", tmp[96], sym[16];
    ua_status status = (dv->has & UA_DV_STATUS) ? dv->status : UA_STATUS_GOOD;
    if (!enter(w))
        return;
    if (dv->has & UA_DV_SOURCE_TIMESTAMP)
        opc_json_datetime(ts, dv->source_timestamp);
    if (ts[0] == '\0' && (dv->has & UA_DV_SERVER_TIMESTAMP))
        opc_json_datetime(ts, dv->server_timestamp);
    put(w, "{", 1);
    if (ts[0] != '\0') {
        put_z(w, "\"SourceTimestamp\":\"");
        put_z(w, ts);
        put_z(w, "\",");
    }
    put_z(w, "\"Value\":");
    /* A Bad status makes the value meaningless (OPC 10000-4 7.7.1): it is not shown. */
    if ((dv->has & UA_DV_VALUE) && !ua_status_is_bad(status))
        put_variant(w, &dv->value);
    else
        put_z(w, "null");
    if (status != UA_STATUS_GOOD) {
        int n =
            snprintf(tmp, sizeof tmp, ",\"StatusCode\":{\"Code\":%" PRIu32 ",\"Symbol\":", status);
        put(w, tmp, (size_t)n);
        put_zstr(w, status_symbol(status, sym));
        put(w, "}", 1);
    }
    put(w, "}", 1);
    leave(w);
}

/* Finish a top-level write: on a depth or memory failure the buffer is put back to where
 * it was, so that the caller can still use what it held before. */
static int finish(jw *w, size_t start)
{
    if (w->b->err != FP_OK)
        return w->b->err;
    if (!w->too_deep && !w->nomem)
        return FP_OK;
    w->b->len = start;
    if (w->b->data != NULL)
        w->b->data[start] = '\0';
    return w->too_deep ? FP_ERR_TOO_LARGE : FP_ERR_NOMEM;
}

int opc_json_variant(fp_buf *b, const ua_variant *v)
{
    jw w = {b, 0, false, false};
    size_t start = b->len;
    put_variant(&w, v);
    return finish(&w, start);
}

int opc_json_data_value(fp_buf *b, const ua_data_value *dv)
{
    jw w = {b, 0, false, false};
    size_t start = b->len;
    put_data_value(&w, dv);
    return finish(&w, start);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm, exact for
 * every year the formats here allow); fp_time_rfc3339 goes the other way. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void opc_json_datetime(char out[40], ua_datetime t)
{
    /* The values of one publish mostly share their timestamp: the last text is kept per
     * thread and copied when the instant repeats. */
    static _Thread_local ua_datetime last_t;
    static _Thread_local char last_out[40];
    if (t <= 0) {
        out[0] = '\0';
        return;
    }
    if (t > OPC_MAX_DATETIME)
        t = OPC_MAX_DATETIME;
    if (t == last_t) {
        memcpy(out, last_out, sizeof last_out);
        return;
    }
    /* Unix milliseconds, rounded down (instants before 1970 are negative here); with t in
     * (0, OPC_MAX_DATETIME] the year is 1601..9999, which the RFC 3339 form holds. */
    int64_t u = t - UA_DATETIME_UNIX_EPOCH;
    fp_time_rfc3339(out, u / 10000 - (u % 10000 < 0));
    last_t = t;
    memcpy(last_out, out, sizeof last_out);
}

/* ================================================================== the JSON reader */

/* At most max bytes of the UTF-8 text z, not cutting a character in two. */
static int utf8_prefix(const char *z, size_t max)
{
    size_t n = strlen(z);
    if (n <= max)
        return (int)n;
    while (max > 0 && ((uint8_t)z[max] & 0xC0) == 0x80)
        max--;
    return (int)max;
}

/* A JSON value shown in a message: numbers as they are, strings quoted and cut short (the
 * message stays valid UTF-8, as it may travel in JSON). */
static const char *json_show(const json_t *j, char *tmp, size_t cap)
{
    const char *z;
    if (json_is_integer(j)) {
        snprintf(tmp, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
    } else if (json_is_real(j)) {
        char num[FP_REAL_TEXT_LEN];
        fp_real_text(num, json_real_value(j), false);
        snprintf(tmp, cap, "%s", num);
    } else if (json_is_string(j)) {
        z = json_string_value(j);
        int n = utf8_prefix(z, 40);
        snprintf(tmp, cap, "\"%.*s%s\"", n, z, z[n] != '\0' ? "..." : "");
    } else {
        snprintf(tmp, cap, "%s", fp_json_kind(j));
    }
    return tmp;
}

static const char *kind_name(uint8_t kind)
{
    if (kind >= UA_KIND_BOOLEAN && kind <= UA_KIND_DIAGNOSTICINFO)
        return ua_types[kind - 1].name;
    if (kind == UA_KIND_ENUM)
        return "Enumeration";
    if (kind == UA_KIND_STRUCTURE)
        return "Structure";
    return "unknown type";
}

/* "n" when the type's name is read with "an" (an Int32, an SByte, a UInt32). */
static const char *article_n(const char *tname)
{
    return strchr("AEIO", tname[0]) != NULL || strcmp(tname, "SByte") == 0 ? "n" : "";
}

/* An integer as sign and magnitude from a JSON integer, an integral real or a decimal
 * string (Int64/UInt64 beyond 2^53 are written as strings). false with err set. */
static bool json_to_int(const json_t *j, const char *tname, bool *neg, uint64_t *mag, char *err,
                        size_t err_len)
{
    char tmp[64];
    if (json_is_integer(j)) {
        json_int_t v = json_integer_value(j);
        *neg = v < 0;
        *mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        return true;
    }
    if (json_is_real(j)) {
        /* without libm: every double of magnitude 2^52 or more is whole, and smaller
         * ones are whole when they survive a trip through int64_t */
        double d = json_real_value(j);
        double a = d < 0 ? -d : d;
        if (a < 4503599627370496.0 && d != (double)(int64_t)d) {
            fp_set_err(err, err_len, "%s is not a whole number (%s)", json_show(j, tmp, sizeof tmp),
                       tname);
            return false;
        }
        if (!(a < 18446744073709551616.0)) {
            fp_set_err(err, err_len, "%s does not fit in a%s %s", json_show(j, tmp, sizeof tmp),
                       article_n(tname), tname);
            return false;
        }
        *neg = d < 0;
        *mag = (uint64_t)a;
        return true;
    }
    if (json_is_string(j)) {
        const char *z = json_string_value(j);
        const char *q = z;
        *neg = *q == '-';
        if (*neg)
            q++;
        if (*q < '0' || *q > '9' || strlen(z) != json_string_length(j))
            goto not_number;
        char *end;
        errno = 0;
        *mag = strtoull(q, &end, 10);
        if (*end != '\0')
            goto not_number;
        if (errno == ERANGE) {
            fp_set_err(err, err_len, "%s does not fit in a%s %s", json_show(j, tmp, sizeof tmp),
                       article_n(tname), tname);
            return false;
        }
        return true;
    not_number:
        fp_set_err(err, err_len, "%s is not a whole number (%s)", json_show(j, tmp, sizeof tmp),
                   tname);
        return false;
    }
    fp_set_err(err, err_len, "expected a number for %s, got %s", tname, fp_json_kind(j));
    return false;
}

static int from_json_int(const json_t *j, uint8_t kind, void *p, char *err, size_t err_len)
{
    static const struct {
        int64_t min;
        uint64_t max;
    } range[] = {
        [UA_KIND_SBYTE] = {INT8_MIN, INT8_MAX},   [UA_KIND_BYTE] = {0, UINT8_MAX},
        [UA_KIND_INT16] = {INT16_MIN, INT16_MAX}, [UA_KIND_UINT16] = {0, UINT16_MAX},
        [UA_KIND_INT32] = {INT32_MIN, INT32_MAX}, [UA_KIND_UINT32] = {0, UINT32_MAX},
        [UA_KIND_INT64] = {INT64_MIN, INT64_MAX}, [UA_KIND_UINT64] = {0, UINT64_MAX},
        [UA_KIND_STATUSCODE] = {0, UINT32_MAX},
    };
    const char *tname = kind_name(kind);
    char tmp[64];
    bool neg;
    uint64_t mag;
    if (!json_to_int(j, tname, &neg, &mag, err, err_len))
        return -1;
    int64_t min = range[kind].min;
    bool fits =
        neg ? (min < 0 && mag <= (uint64_t)0 - (uint64_t)min) || mag == 0 : mag <= range[kind].max;
    if (!fits) {
        fp_set_err(err, err_len, "%s does not fit in a%s %s", json_show(j, tmp, sizeof tmp),
                   article_n(tname), tname);
        return -1;
    }
    int64_t s = neg ? (int64_t)((uint64_t)0 - mag) : (int64_t)mag;
    switch (kind) {
    case UA_KIND_SBYTE:
        *(int8_t *)p = (int8_t)s;
        break;
    case UA_KIND_BYTE:
        *(uint8_t *)p = (uint8_t)mag;
        break;
    case UA_KIND_INT16:
        *(int16_t *)p = (int16_t)s;
        break;
    case UA_KIND_UINT16:
        *(uint16_t *)p = (uint16_t)mag;
        break;
    case UA_KIND_INT32:
        *(int32_t *)p = (int32_t)s;
        break;
    case UA_KIND_UINT32:
    case UA_KIND_STATUSCODE:
        *(uint32_t *)p = (uint32_t)mag;
        break;
    case UA_KIND_INT64:
        *(int64_t *)p = s;
        break;
    default:
        *(uint64_t *)p = mag;
    }
    return 0;
}

static int from_json_real(const json_t *j, uint8_t kind, void *p, char *err, size_t err_len)
{
    const char *tname = kind_name(kind);
    char tmp[64];
    double d;
    if (json_is_number(j)) {
        d = json_number_value(j);
    } else if (json_is_string(j)) {
        const char *z = json_string_value(j);
        if (strcmp(z, "NaN") == 0) {
            d = NAN;
        } else if (strcmp(z, "Infinity") == 0) {
            d = INFINITY;
        } else if (strcmp(z, "-Infinity") == 0) {
            d = -INFINITY;
        } else {
            fp_set_err(err, err_len,
                       "%s is not a number (%s; the strings allowed are NaN, "
                       "Infinity, -Infinity)",
                       json_show(j, tmp, sizeof tmp), tname);
            return -1;
        }
    } else {
        fp_set_err(err, err_len, "expected a number for %s, got %s", tname, fp_json_kind(j));
        return -1;
    }
    if (kind == UA_KIND_DOUBLE) {
        *(double *)p = d;
        return 0;
    }
    if (isfinite(d) && (d > FLT_MAX || d < -FLT_MAX)) {
        fp_set_err(err, err_len, "%s does not fit in a Float", json_show(j, tmp, sizeof tmp));
        return -1;
    }
    *(float *)p = (float)d;
    return 0;
}

/* The string of j, which must be a JSON string without NUL (the text forms parsed here
 * are C strings). */
static const char *text_of(const json_t *j, const char *tname, char *err, size_t err_len)
{
    if (!json_is_string(j)) {
        fp_set_err(err, err_len, "expected a string for %s, got %s", tname, fp_json_kind(j));
        return NULL;
    }
    if (strlen(json_string_value(j)) != json_string_length(j)) {
        fp_set_err(err, err_len, "a %s must not contain a NUL character", tname);
        return NULL;
    }
    return json_string_value(j);
}

/* Exactly n decimal digits at *z, advancing it; -1 when they are not there. */
static int digits(const char **z, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*z)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *z += n;
    return v;
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* RFC 3339: YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm); 'T' and 'Z' in either case.
 * Fractions past 100 ns are dropped; a leap second 60 counts as the next second. */
static bool parse_rfc3339(const char *z, int64_t *out)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = digits(&z, 4), mo, d, h, mi, s, off = 0;
    if (y < 0 || *z++ != '-' || (mo = digits(&z, 2)) < 1 || mo > 12 || *z++ != '-' ||
        (d = digits(&z, 2)) < 1 || d > mdays[mo - 1] + (mo == 2 && leap(y)) ||
        (*z != 'T' && *z != 't') || (++z, (h = digits(&z, 2)) < 0) || h > 23 || *z++ != ':' ||
        (mi = digits(&z, 2)) < 0 || mi > 59 || *z++ != ':' || (s = digits(&z, 2)) < 0 || s > 60)
        return false;
    int64_t frac = 0, scale = TICKS_PER_SEC;
    if (*z == '.') {
        z++;
        if (*z < '0' || *z > '9')
            return false;
        for (; *z >= '0' && *z <= '9'; z++) {
            if (scale > 1) {
                scale /= 10;
                frac += (*z - '0') * scale;
            }
        }
    }
    if (*z == 'Z' || *z == 'z') {
        z++;
    } else if (*z == '+' || *z == '-') {
        int sign = *z++ == '-' ? -1 : 1, oh, om;
        if ((oh = digits(&z, 2)) < 0 || oh > 23 || *z++ != ':' || (om = digits(&z, 2)) < 0 ||
            om > 59)
            return false;
        off = sign * (oh * 60 + om);
    } else {
        return false;
    }
    if (*z != '\0')
        return false;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - off * 60;
    *out = secs * TICKS_PER_SEC + frac + UA_DATETIME_UNIX_EPOCH;
    return true;
}

static int from_json_datetime(const json_t *j, int64_t *p, char *err, size_t err_len)
{
    const char *z;
    if (json_is_null(j)) {
        *p = 0;
        return 0;
    }
    if ((z = text_of(j, "DateTime", err, err_len)) == NULL)
        return -1;
    int64_t t;
    if (!parse_rfc3339(z, &t)) {
        char tmp[64];
        fp_set_err(err, err_len, "%s is not an RFC 3339 date-time (2026-11-26T16:00:00.123Z)",
                   json_show(j, tmp, sizeof tmp));
        return -1;
    }
    if (t < 0) {
        char tmp[64];
        fp_set_err(err, err_len, "%s is before 1601-01-01, the earliest DateTime",
                   json_show(j, tmp, sizeof tmp));
        return -1;
    }
    *p = t >= OPC_MAX_DATETIME ? INT64_MAX : t;
    return 0;
}

static int from_json_string(const json_t *j, uint8_t kind, ua_string *s, char *err, size_t err_len)
{
    if (json_is_null(j))
        return 0;
    if (!json_is_string(j)) {
        fp_set_err(err, err_len, "expected a string for %s, got %s", kind_name(kind),
                   fp_json_kind(j));
        return -1;
    }
    size_t n = json_string_length(j);
    if (n == 0) {
        s->data = UA_EMPTY_ARRAY;
        return 0;
    }
    s->data = fp_malloc(n);
    if (s->data == NULL) {
        fp_set_err(err, err_len, "out of memory");
        return -1;
    }
    memcpy(s->data, json_string_value(j), n);
    s->length = n;
    return 0;
}

static int from_json_qualified_name(const json_t *j, ua_qualified_name *q, char *err,
                                    size_t err_len)
{
    const char *z = text_of(j, "QualifiedName", err, err_len);
    if (z == NULL)
        return -1;
    /* "ns:name" when the text starts with a namespace index and a colon; else all name */
    const char *colon = strchr(z, ':');
    if (colon != NULL && colon > z && colon - z <= 5 &&
        strspn(z, "0123456789") == (size_t)(colon - z)) {
        unsigned long ns = strtoul(z, NULL, 10);
        if (ns <= UINT16_MAX) {
            q->ns = (uint16_t)ns;
            z = colon + 1;
        }
    }
    if (ua_string_from(&q->name, z) != UA_STATUS_GOOD) {
        fp_set_err(err, err_len, "out of memory");
        return -1;
    }
    return 0;
}

static int from_json_localized_text(const json_t *j, ua_localized_text *lt, char *err,
                                    size_t err_len)
{
    const char *key;
    json_t *v;
    if (!json_is_object(j))
        return from_json_string(j, UA_KIND_LOCALIZEDTEXT, &lt->text, err, err_len);
    json_object_foreach((json_t *)j, key, v)
    {
        ua_string *dst;
        if (strcmp(key, "locale") == 0 || strcmp(key, "Locale") == 0) {
            dst = &lt->locale;
        } else if (strcmp(key, "text") == 0 || strcmp(key, "Text") == 0) {
            dst = &lt->text;
        } else {
            fp_set_err(err, err_len, "unknown member \"%.*s\" in a LocalizedText (locale, text)",
                       utf8_prefix(key, 40), key);
            return -1;
        }
        if (dst->data != NULL) {
            fp_set_err(err, err_len, "\"%s\" given twice in a LocalizedText", key);
            return -1;
        }
        if (from_json_string(v, UA_KIND_LOCALIZEDTEXT, dst, err, err_len) != 0)
            return -1;
    }
    return 0;
}

static int from_json_status(const json_t *j, uint32_t *p, char *err, size_t err_len)
{
    if (!json_is_string(j))
        return from_json_int(j, UA_KIND_STATUSCODE, p, err, err_len);
    const char *z = json_string_value(j);
    char *end;
    if (ua_status_from_name(z, p))
        return 0;
    if ((z[0] == '0' && (z[1] == 'x' || z[1] == 'X')) && z[2] != '\0') {
        errno = 0;
        unsigned long long v = strtoull(z + 2, &end, 16);
        if (*end == '\0' && errno == 0 && v <= UINT32_MAX) {
            *p = (uint32_t)v;
            return 0;
        }
    }
    char tmp[64];
    fp_set_err(err, err_len,
               "%s is not a StatusCode (a name such as \"BadNodeIdUnknown\", a number "
               "or 0x80340000)",
               json_show(j, tmp, sizeof tmp));
    return -1;
}

/* One scalar of the built-in type `kind` into *p (initialised, of that type). */
static int from_json(const json_t *j, uint8_t kind, void *p, char *err, size_t err_len)
{
    char tmp[64];
    const char *z;
    ua_status rc;
    switch (kind) {
    case UA_KIND_BOOLEAN:
        if (json_is_boolean(j)) {
            *(bool *)p = json_is_true(j);
            return 0;
        }
        if (json_is_integer(j) && (json_integer_value(j) == 0 || json_integer_value(j) == 1)) {
            *(bool *)p = json_integer_value(j) == 1;
            return 0;
        }
        fp_set_err(err, err_len, "expected true or false for Boolean, got %s",
                   json_show(j, tmp, sizeof tmp));
        return -1;
    case UA_KIND_SBYTE:
    case UA_KIND_BYTE:
    case UA_KIND_INT16:
    case UA_KIND_UINT16:
    case UA_KIND_INT32:
    case UA_KIND_UINT32:
    case UA_KIND_INT64:
    case UA_KIND_UINT64:
        return from_json_int(j, kind, p, err, err_len);
    case UA_KIND_FLOAT:
    case UA_KIND_DOUBLE:
        return from_json_real(j, kind, p, err, err_len);
    case UA_KIND_STRING:
    case UA_KIND_XMLELEMENT:
        return from_json_string(j, kind, p, err, err_len);
    case UA_KIND_DATETIME:
        return from_json_datetime(j, p, err, err_len);
    case UA_KIND_GUID:
        if ((z = text_of(j, "Guid", err, err_len)) == NULL)
            return -1;
        if (!ua_guid_parse(z, strlen(z), p)) {
            fp_set_err(err, err_len, "%s is not a Guid (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
                       json_show(j, tmp, sizeof tmp));
            return -1;
        }
        return 0;
    case UA_KIND_BYTESTRING:
        if (json_is_null(j))
            return 0;
        if ((z = text_of(j, "ByteString", err, err_len)) == NULL)
            return -1;
        rc = ua_base64_decode(z, strlen(z), p);
        if (rc == UA_STATUS_BAD_OUT_OF_MEMORY) {
            fp_set_err(err, err_len, "out of memory");
            return -1;
        }
        if (rc != UA_STATUS_GOOD) {
            fp_set_err(err, err_len, "%s is not base64 (a ByteString)",
                       json_show(j, tmp, sizeof tmp));
            return -1;
        }
        return 0;
    case UA_KIND_NODEID:
    case UA_KIND_EXPANDEDNODEID:
        if ((z = text_of(j, kind_name(kind), err, err_len)) == NULL)
            return -1;
        rc = kind == UA_KIND_NODEID ? ua_node_id_parse(p, z, NULL, 0)
                                    : ua_expanded_node_id_parse(p, z);
        if (rc == UA_STATUS_GOOD)
            return 0;
        if (rc == UA_STATUS_BAD_OUT_OF_MEMORY)
            fp_set_err(err, err_len, "out of memory");
        else if (rc == UA_STATUS_BAD_NODE_ID_UNKNOWN)
            fp_set_err(err, err_len,
                       "%s: a namespace URI (nsu=) cannot be resolved in a value; "
                       "write ns=<index>",
                       json_show(j, tmp, sizeof tmp));
        else
            fp_set_err(err, err_len,
                       "%s is not a %s (i=85, ns=1;s=Name, ns=2;g=<guid>, "
                       "ns=3;b=<base64>)",
                       json_show(j, tmp, sizeof tmp), kind_name(kind));
        return -1;
    case UA_KIND_STATUSCODE:
        return from_json_status(j, p, err, err_len);
    case UA_KIND_QUALIFIEDNAME:
        return from_json_qualified_name(j, p, err, err_len);
    case UA_KIND_LOCALIZEDTEXT:
        return from_json_localized_text(j, p, err, err_len);
    default:
        fp_set_err(err, err_len, "values of type %s cannot be given in JSON", kind_name(kind));
        return -1;
    }
}

int opc_json_to_variant(const json_t *j, uint8_t kind, bool array, ua_variant *out, char *err,
                        size_t err_len)
{
    memset(out, 0, sizeof *out);
    if (err_len > 0)
        err[0] = '\0';
    /* an enumeration travels in a Variant as its Int32 */
    uint8_t k = kind == UA_KIND_ENUM ? UA_KIND_INT32 : kind;
    if (k < UA_KIND_BOOLEAN || k > UA_KIND_LOCALIZEDTEXT) {
        fp_set_err(err, err_len, "values of type %s cannot be given in JSON", kind_name(kind));
        return -1;
    }
    const ua_type *t = &ua_types[k - 1];
    if (j == NULL) {
        fp_set_err(err, err_len, "no value for %s", t->name);
        return -1;
    }
    if (!json_is_array(j)) {
        void *p = ua_new(t);
        if (p == NULL) {
            fp_set_err(err, err_len, "out of memory");
            return -1;
        }
        if (from_json(j, k, p, err, err_len) != 0) {
            ua_delete(p, t);
            return -1;
        }
        ua_variant_set_scalar_take(out, p, t);
        return 0;
    }
    if (!array) {
        fp_set_err(err, err_len, "expected one %s, got an array", t->name);
        return -1;
    }
    size_t n = json_array_size(j);
    uint8_t *items = ua_array_new(n, t);
    if (items == NULL) {
        fp_set_err(err, err_len, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char sub[200];
        const json_t *e = json_array_get(j, i);
        if (json_is_array(e)) {
            fp_set_err(err, err_len, "element %zu: expected a %s, got an array", i, t->name);
            goto out_free;
        }
        if (from_json(e, k, items + i * t->size, sub, sizeof sub) != 0) {
            fp_set_err(err, err_len, "element %zu: %s", i, sub);
            goto out_free;
        }
    }
    out->type = t;
    out->is_array = true;
    out->data = items;
    out->array_length = n;
    return 0;

out_free:
    ua_array_free(items, n, t);
    return -1;
}
