/*
 * ua_types_print.c - the one text form of OPC UA values, through the type descriptors.
 *
 * Any value the codec decodes has a text form, used by the fieldplane-opcua tool's output,
 * by logs and by tests: built-in types as users expect them (numbers that read back as the
 * same value, RFC 3339 times, node ids in their string form, status codes and enumeration
 * values by name), arrays comma separated, structures as {Member=value,...}. There is no
 * second printer: the tool prints with ua_print_append, a log line with ua_print.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp_buf.h"
#include "fp_json.h"
#include "fp_time.h"
#include "opcua/ua_nodeid.h"
#include "opcua/ua_types.h"

/* The shortest text that reads back as the same value (lib/common's one formatter). */
static void print_double(fp_buf *b, double d, bool is_float)
{
    char tmp[FP_REAL_TEXT_LEN];
    fp_buf_append(b, tmp, fp_real_text(tmp, d, is_float));
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

static void print_text(fp_buf *b, const ua_string *s)
{
    if (s->data && s->length)
        fp_buf_append(b, s->data, s->length);
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

/* A node id by ua_node_id_print or ua_expanded_node_id_print: the string form a user types
 * back (lib/opcua/ua_nodeid.c is the one place that writes it). */
static void print_node_id(fp_buf *b, const void *p, bool expanded)
{
    char small[128];
    size_t n = expanded ? ua_expanded_node_id_print(p, small, sizeof small)
                        : ua_node_id_print(p, small, sizeof small);
    if (n < sizeof small) {
        fp_buf_append(b, small, n);
        return;
    }
    char *big = malloc(n + 1);
    if (!big) {
        fp_buf_append_str(b, "?");
        return;
    }
    if (expanded)
        ua_expanded_node_id_print(p, big, n + 1);
    else
        ua_node_id_print(p, big, n + 1);
    fp_buf_append(b, big, n);
    free(big);
}

static void print_items(fp_buf *b, const void *items, size_t n, const ua_type *t)
{
    const uint8_t *q = items;
    for (size_t i = 0; i < n && q && q != UA_EMPTY_ARRAY; i++) {
        if (i)
            fp_buf_append_str(b, ",");
        ua_print_append(b, q + i * t->size, t);
    }
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
            memcpy(&n, q, sizeof n);
            memcpy(&items, q + sizeof(size_t), sizeof items);
            fp_buf_append_str(b, "[");
            print_items(b, items, n, m->type);
            fp_buf_append_str(b, "]");
        } else {
            ua_print_append(b, q, m->type);
        }
    }
    fp_buf_append_str(b, "}");
}

void ua_print_append(fp_buf *b, const void *p, const ua_type *t)
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
    case UA_KIND_ENUM: {
        const char *name = ua_enum_name(t, *(const int32_t *)p);
        if (name)
            fp_buf_append_str(b, name);
        else
            fp_buf_printf(b, "%" PRId32, *(const int32_t *)p);
        break;
    }
    case UA_KIND_INT32:
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
        print_double(b, *(const float *)p, true);
        break;
    case UA_KIND_DOUBLE:
        print_double(b, *(const double *)p, false);
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
        char tmp[64];
        memset(&n, 0, sizeof n);
        n.id_type = UA_NODEID_GUID;
        n.id.guid = *(const ua_guid *)p;
        size_t k = ua_node_id_print(&n, tmp, sizeof tmp);
        if (k > 2 && k < sizeof tmp)
            fp_buf_append(b, tmp + 2, k - 2); /* without "g=" */
        break;
    }
    case UA_KIND_NODEID:
        print_node_id(b, p, false);
        break;
    case UA_KIND_EXPANDEDNODEID:
        print_node_id(b, p, true);
        break;
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
        if (eo->encoding == UA_EO_DECODED && eo->type && eo->data) {
            fp_buf_append_str(b, eo->type->name);
            if (eo->type->kind == UA_KIND_STRUCTURE)
                print_structure(b, eo->data, eo->type);
            else
                ua_print_append(b, eo->data, eo->type);
        } else if (eo->encoding == UA_EO_NONE) {
            fp_buf_append_str(b, "null");
        } else {
            fp_buf_append_str(b, "ExtensionObject(");
            print_node_id(b, &eo->type_id, false);
            fp_buf_printf(b, ",%zu bytes)", eo->body.length);
        }
        break;
    }
    case UA_KIND_DATAVALUE: {
        /* A bad value is its status; an uncertain one is its value with the status after. */
        const ua_data_value *dv = p;
        bool has_status = (dv->has & UA_DV_STATUS) && dv->status != 0;
        if (has_status && ua_status_is_bad(dv->status)) {
            fp_buf_append_str(b, ua_status_name(dv->status));
            break;
        }
        if (dv->has & UA_DV_VALUE)
            ua_print_append(b, &dv->value, UA_TYPE(VARIANT));
        else
            fp_buf_append_str(b, "null");
        if (has_status)
            fp_buf_printf(b, " (%s)", ua_status_name(dv->status));
        break;
    }
    case UA_KIND_VARIANT: {
        const ua_variant *v = p;
        if (!v->type)
            fp_buf_append_str(b, "null");
        else if (v->is_array)
            print_items(b, v->data, v->array_length, v->type);
        else
            ua_print_append(b, ua_variant_data(v), v->type);
        break;
    }
    case UA_KIND_DIAGNOSTICINFO: {
        const ua_diagnostic_info *di = p;
        fp_buf_append_str(b, "DiagnosticInfo{");
        if (di->has & UA_DI_ADDITIONAL_INFO)
            print_text(b, &di->additional_info);
        if (di->has & UA_DI_INNER_STATUS_CODE)
            fp_buf_printf(b, "%s%s", (di->has & UA_DI_ADDITIONAL_INFO) ? "," : "",
                          ua_status_name(di->inner_status_code));
        fp_buf_append_str(b, "}");
        break;
    }
    case UA_KIND_STRUCTURE:
        print_structure(b, p, t);
        break;
    default:
        fp_buf_append_str(b, "?");
    }
}

size_t ua_print(const void *p, const ua_type *t, char *buf, size_t cap)
{
    fp_buf b;
    size_t len;

    fp_buf_init(&b, (size_t)1 << 24);
    ua_print_append(&b, p, t);
    len = b.err ? 0 : b.len;
    if (cap > 0) {
        size_t n = len < cap ? len : cap - 1;
        if (n)
            memcpy(buf, b.data, n);
        buf[n] = '\0';
    }
    fp_buf_clear(&b);
    return len;
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
