/*
 * ua_types_print.c - text form of any OPC UA value, through the type descriptors, for
 * tools and logs (ua_print). Output is bounded by the caller's buffer; the full length is
 * returned like snprintf so callers can size a second attempt.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "opcua/ua_nodeid.h"
#include "opcua/ua_types.h"

typedef struct out {
    char *buf;
    size_t cap;
    size_t len;
} out;

static void put(out *o, const char *z, size_t n)
{
    for (size_t i = 0; i < n; i++, o->len++)
        if (o->len + 1 < o->cap)
            o->buf[o->len] = z[i];
}

static void puts_z(out *o, const char *z)
{
    put(o, z, strlen(z));
}

static void put_fmt_u64(out *o, uint64_t v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
    put(o, tmp, (size_t)n);
}

static void put_fmt_i64(out *o, int64_t v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    put(o, tmp, (size_t)n);
}

static void put_double(out *o, double v)
{
    char tmp[40];
    int n = snprintf(tmp, sizeof tmp, "%.17g", v);
    /* integral values as integers; otherwise the shortest form that reads back the same */
    if (v > -1e15 && v < 1e15 && v == (double)(int64_t)v) {
        put_fmt_i64(o, (int64_t)v);
        return;
    }
    for (int prec = 1; prec < 17; prec++) {
        char t2[40];
        int m = snprintf(t2, sizeof t2, "%.*g", prec, v);
        double back;
        if (sscanf(t2, "%lf", &back) == 1 && back == v) {
            memcpy(tmp, t2, (size_t)m + 1);
            n = m;
            break;
        }
    }
    put(o, tmp, (size_t)n);
}

static void put_datetime(out *o, int64_t dt)
{
    /* civil date from days since 1970-01-01 (proleptic Gregorian, H. Hinnant's method) */
    if (dt < 0)
        dt = 0;
    int64_t t = dt - UA_DATETIME_UNIX_EPOCH; /* 100 ns since 1970, may be negative */
    int64_t secs = t >= 0 ? t / 10000000 : -((-t + 9999999) / 10000000);
    int64_t frac_ms = (t - secs * 10000000) / 10000;
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2)
        y++;
    char tmp[64];
    int n = snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)y, (int)m, (int)d,
                     (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), (int)frac_ms);
    put(o, tmp, (size_t)n);
}

static void print_value(out *o, const void *p, const ua_type *t);

static void print_items(out *o, const void *items, size_t n, const ua_type *t)
{
    if (items == NULL) {
        puts_z(o, "null");
        return;
    }
    const uint8_t *q = items;
    for (size_t i = 0; i < n; i++) {
        if (i)
            puts_z(o, ", ");
        print_value(o, q + i * t->size, t);
    }
}

static void print_string(out *o, const ua_string *s)
{
    if (s->data == NULL)
        puts_z(o, "null");
    else
        put(o, (const char *)s->data, s->length);
}

static void print_value(out *o, const void *p, const ua_type *t)
{
    char tmp[96];
    switch (t->kind) {
    case UA_KIND_BOOLEAN:
        puts_z(o, *(const bool *)p ? "true" : "false");
        break;
    case UA_KIND_SBYTE:
        put_fmt_i64(o, *(const int8_t *)p);
        break;
    case UA_KIND_BYTE:
        put_fmt_u64(o, *(const uint8_t *)p);
        break;
    case UA_KIND_INT16:
        put_fmt_i64(o, *(const int16_t *)p);
        break;
    case UA_KIND_UINT16:
        put_fmt_u64(o, *(const uint16_t *)p);
        break;
    case UA_KIND_ENUM: {
        const char *name = ua_enum_name(t, *(const int32_t *)p);
        if (name != NULL)
            puts_z(o, name);
        else
            put_fmt_i64(o, *(const int32_t *)p);
        break;
    }
    case UA_KIND_INT32:
        put_fmt_i64(o, *(const int32_t *)p);
        break;
    case UA_KIND_UINT32:
        put_fmt_u64(o, *(const uint32_t *)p);
        break;
    case UA_KIND_INT64:
        put_fmt_i64(o, *(const int64_t *)p);
        break;
    case UA_KIND_UINT64:
        put_fmt_u64(o, *(const uint64_t *)p);
        break;
    case UA_KIND_FLOAT:
        put_double(o, *(const float *)p);
        break;
    case UA_KIND_DOUBLE:
        put_double(o, *(const double *)p);
        break;
    case UA_KIND_STRING:
    case UA_KIND_XMLELEMENT:
        print_string(o, p);
        break;
    case UA_KIND_DATETIME:
        put_datetime(o, *(const int64_t *)p);
        break;
    case UA_KIND_GUID: {
        ua_node_id n;
        memset(&n, 0, sizeof n);
        n.id_type = UA_NODEID_GUID;
        n.id.guid = *(const ua_guid *)p;
        size_t k = ua_node_id_print(&n, tmp, sizeof tmp);
        if (k > 2 && k < sizeof tmp)
            put(o, tmp + 2, k - 2); /* without "g=" */
        break;
    }
    case UA_KIND_BYTESTRING: {
        const ua_string *b = p;
        if (b->data == NULL) {
            puts_z(o, "null");
            break;
        }
        for (size_t i = 0; i < b->length; i += 3) {
            char q[5];
            ua_base64_encode(b->data + i, b->length - i < 3 ? b->length - i : 3, q, sizeof q);
            put(o, q, 4);
        }
        break;
    }
    case UA_KIND_NODEID: {
        size_t k = ua_node_id_print(p, NULL, 0);
        if (k < sizeof tmp) {
            ua_node_id_print(p, tmp, sizeof tmp);
            put(o, tmp, k);
        } else {
            const ua_node_id *n = p;
            if (n->ns) {
                puts_z(o, "ns=");
                put_fmt_u64(o, n->ns);
                puts_z(o, ";");
            }
            puts_z(o, n->id_type == UA_NODEID_STRING ? "s=" : "b=");
            if (n->id_type == UA_NODEID_STRING)
                print_string(o, &n->id.string);
            else
                print_value(o, &n->id.string, UA_TYPE(BYTESTRING));
        }
        break;
    }
    case UA_KIND_EXPANDEDNODEID: {
        const ua_expanded_node_id *x = p;
        if (x->server_index) {
            puts_z(o, "svr=");
            put_fmt_u64(o, x->server_index);
            puts_z(o, ";");
        }
        if (x->namespace_uri.data) {
            puts_z(o, "nsu=");
            print_string(o, &x->namespace_uri);
            puts_z(o, ";");
            ua_node_id n = x->node_id;
            n.ns = 0;
            print_value(o, &n, UA_TYPE(NODE_ID));
        } else {
            print_value(o, &x->node_id, UA_TYPE(NODE_ID));
        }
        break;
    }
    case UA_KIND_STATUSCODE:
        puts_z(o, ua_status_name(*(const uint32_t *)p));
        break;
    case UA_KIND_QUALIFIEDNAME: {
        const ua_qualified_name *q = p;
        if (q->ns) {
            put_fmt_u64(o, q->ns);
            puts_z(o, ":");
        }
        print_string(o, &q->name);
        break;
    }
    case UA_KIND_LOCALIZEDTEXT:
        print_string(o, &((const ua_localized_text *)p)->text);
        break;
    case UA_KIND_EXTENSIONOBJECT: {
        const ua_extension_object *eo = p;
        if (eo->encoding == UA_EO_DECODED && eo->type && eo->data) {
            print_value(o, eo->data, eo->type);
        } else if (eo->encoding == UA_EO_NONE) {
            puts_z(o, "null");
        } else {
            puts_z(o, "<");
            print_value(o, &eo->type_id, UA_TYPE(NODE_ID));
            puts_z(o, ", ");
            put_fmt_u64(o, eo->body.length);
            puts_z(o, " bytes>");
        }
        break;
    }
    case UA_KIND_DATAVALUE: {
        const ua_data_value *dv = p;
        if (dv->has & UA_DV_VALUE)
            print_value(o, &dv->value, UA_TYPE(VARIANT));
        else
            puts_z(o, "null");
        if ((dv->has & UA_DV_STATUS) && dv->status != 0) {
            puts_z(o, " (");
            puts_z(o, ua_status_name(dv->status));
            puts_z(o, ")");
        }
        break;
    }
    case UA_KIND_VARIANT: {
        const ua_variant *v = p;
        if (v->type == NULL)
            puts_z(o, "null");
        else if (v->is_array)
            print_items(o, v->data, v->array_length, v->type);
        else
            print_value(o, ua_variant_data(v), v->type);
        break;
    }
    case UA_KIND_DIAGNOSTICINFO: {
        const ua_diagnostic_info *di = p;
        puts_z(o, "{");
        if (di->has & UA_DI_ADDITIONAL_INFO)
            print_string(o, &di->additional_info);
        if (di->has & UA_DI_INNER_STATUS_CODE) {
            puts_z(o, " ");
            puts_z(o, ua_status_name(di->inner_status_code));
        }
        puts_z(o, "}");
        break;
    }
    case UA_KIND_STRUCTURE:
        puts_z(o, "{");
        for (unsigned i = 0; i < t->member_count; i++) {
            const ua_member *m = &t->members[i];
            const uint8_t *mp = (const uint8_t *)p + m->offset;
            if (i)
                puts_z(o, ", ");
            puts_z(o, m->name);
            puts_z(o, "=");
            if (m->is_array) {
                size_t n;
                const void *items;
                memcpy(&n, mp, sizeof n);
                memcpy(&items, mp + sizeof(size_t), sizeof items);
                puts_z(o, "[");
                print_items(o, items, n, m->type);
                puts_z(o, "]");
            } else {
                print_value(o, mp, m->type);
            }
        }
        puts_z(o, "}");
        break;
    default:
        puts_z(o, "?");
    }
}

size_t ua_print(const void *p, const ua_type *t, char *buf, size_t cap)
{
    out o = {buf, cap, 0};
    print_value(&o, p, t);
    if (cap > 0)
        buf[o.len < cap ? o.len : cap - 1] = '\0';
    return o.len;
}

void *ua_variant_struct(const ua_variant *v, const ua_type *t)
{
    if (v->type == NULL || v->is_array)
        return NULL;
    if (v->type == t)
        return ua_variant_data(v);
    if (v->type->kind == UA_KIND_EXTENSIONOBJECT) {
        const ua_extension_object *eo = ua_variant_data(v);
        if (eo->encoding == UA_EO_DECODED && eo->type == t)
            return eo->data;
    }
    return NULL;
}

const char *ua_enum_name(const ua_type *t, int64_t v)
{
    for (unsigned i = 0; i < t->enum_count; i++)
        if (t->enum_values[i].value == v)
            return t->enum_values[i].name;
    return NULL;
}
