/*
 * ua_encoding.c - the binary encoding of OPC 10000-6 §5.2: one walker over the type
 * descriptors that encodes, sizes and decodes every type.
 *
 * The decoder treats its input as hostile. Before it allocates an array it checks the
 * element count against the bytes left (count * the element's smallest encoding), it
 * caps string lengths, array lengths and nesting depth (ua_decode_limits), and it
 * requires an ExtensionObject body to be consumed exactly by the decoder of its type.
 * Everything is decoded into zeroed memory, so that on any failure the partly decoded
 * value can be handed to ua_clear() and nothing leaks.
 *
 * Numbers are little-endian on the wire; on little-endian hosts arrays of numbers are
 * copied in one memcpy.
 */
#include <limits.h>
#include <string.h>

#include "fp_alloc.h"
#include "opcua/ua_types.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define UA_HOST_LE 1
#else
#define UA_HOST_LE 0
#endif

/* ------------------------------------------------------------------ shared helpers */

static inline const ua_type *builtin(unsigned id)
{
    return &ua_types[id - 1];
}

/* The built-in type id a value of type t travels as inside a Variant. */
static unsigned variant_wire_id(const ua_type *t)
{
    if (t->kind <= UA_KIND_DIAGNOSTICINFO)
        return t->kind;
    if (t->kind == UA_KIND_ENUM)
        return UA_KIND_INT32;
    return UA_KIND_EXTENSIONOBJECT;
}

/* ========================================================================== encode */

typedef struct enc {
    uint8_t *pos;
    const uint8_t *end;
} enc;

#define ENC_NEED(e, n)                                                                             \
    do {                                                                                           \
        if ((size_t)((e)->end - (e)->pos) < (size_t)(n))                                           \
            return UA_STATUS_BAD_ENCODING_LIMITS_EXCEEDED;                                         \
    } while (0)

static inline void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void put_u32(uint8_t *p, uint32_t v)
{
#if UA_HOST_LE
    memcpy(p, &v, 4);
#else
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
#endif
}
static inline void put_u64(uint8_t *p, uint64_t v)
{
#if UA_HOST_LE
    memcpy(p, &v, 8);
#else
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
#endif
}

static ua_status enc_byte(enc *e, uint8_t v)
{
    ENC_NEED(e, 1);
    *e->pos++ = v;
    return UA_STATUS_GOOD;
}
static ua_status enc_u16(enc *e, uint16_t v)
{
    ENC_NEED(e, 2);
    put_u16(e->pos, v);
    e->pos += 2;
    return UA_STATUS_GOOD;
}
static ua_status enc_u32(enc *e, uint32_t v)
{
    ENC_NEED(e, 4);
    put_u32(e->pos, v);
    e->pos += 4;
    return UA_STATUS_GOOD;
}
static ua_status enc_u64(enc *e, uint64_t v)
{
    ENC_NEED(e, 8);
    put_u64(e->pos, v);
    e->pos += 8;
    return UA_STATUS_GOOD;
}

/* Int32 length of an array or string: -1 for null. */
static ua_status enc_length(enc *e, const void *data, size_t n)
{
    if (data == NULL)
        return enc_u32(e, 0xFFFFFFFFu);
    if (n > INT32_MAX)
        return UA_STATUS_BAD_ENCODING_ERROR;
    return enc_u32(e, (uint32_t)n);
}

static ua_status enc_string(enc *e, const ua_string *s)
{
    if (s->data == NULL)
        return enc_u32(e, 0xFFFFFFFFu);
    if (s->length > INT32_MAX)
        return UA_STATUS_BAD_ENCODING_ERROR;
    ENC_NEED(e, 4 + s->length);
    put_u32(e->pos, (uint32_t)s->length);
    if (s->length)
        memcpy(e->pos + 4, s->data, s->length);
    e->pos += 4 + s->length;
    return UA_STATUS_GOOD;
}

static ua_status enc_guid(enc *e, const ua_guid *g)
{
    ENC_NEED(e, 16);
    put_u32(e->pos, g->data1);
    put_u16(e->pos + 4, g->data2);
    put_u16(e->pos + 6, g->data3);
    memcpy(e->pos + 8, g->data4, 8);
    e->pos += 16;
    return UA_STATUS_GOOD;
}

/* A NodeId in its most compact form; flags are the ExpandedNodeId bits (0x80, 0x40). */
static ua_status enc_node_id(enc *e, const ua_node_id *n, uint8_t flags)
{
    ua_status rc;
    switch (n->id_type) {
    case UA_NODEID_NUMERIC:
        if (n->ns == 0 && n->id.numeric <= 0xFF) {
            ENC_NEED(e, 2);
            e->pos[0] = 0x00 | flags;
            e->pos[1] = (uint8_t)n->id.numeric;
            e->pos += 2;
        } else if (n->ns <= 0xFF && n->id.numeric <= 0xFFFF) {
            ENC_NEED(e, 4);
            e->pos[0] = 0x01 | flags;
            e->pos[1] = (uint8_t)n->ns;
            put_u16(e->pos + 2, (uint16_t)n->id.numeric);
            e->pos += 4;
        } else {
            ENC_NEED(e, 7);
            e->pos[0] = 0x02 | flags;
            put_u16(e->pos + 1, n->ns);
            put_u32(e->pos + 3, n->id.numeric);
            e->pos += 7;
        }
        return UA_STATUS_GOOD;
    case UA_NODEID_STRING:
    case UA_NODEID_BYTESTRING:
        ENC_NEED(e, 3);
        e->pos[0] = (uint8_t)(n->id_type | flags);
        put_u16(e->pos + 1, n->ns);
        e->pos += 3;
        return enc_string(e, &n->id.string);
    case UA_NODEID_GUID:
        ENC_NEED(e, 3);
        e->pos[0] = 0x04 | flags;
        put_u16(e->pos + 1, n->ns);
        e->pos += 3;
        rc = enc_guid(e, &n->id.guid);
        return rc;
    default:
        return UA_STATUS_BAD_ENCODING_ERROR;
    }
}

static ua_status enc_value(enc *e, const void *p, const ua_type *t);

static ua_status enc_array(enc *e, const void *items, size_t n, const ua_type *t)
{
    ua_status rc = enc_length(e, items, n);
    if (rc != UA_STATUS_GOOD || items == NULL || n == 0)
        return rc;
    if (items == UA_EMPTY_ARRAY)
        return UA_STATUS_BAD_ENCODING_ERROR;
#if UA_HOST_LE
    if (t->kind >= UA_KIND_SBYTE && t->kind <= UA_KIND_DOUBLE) {
        ENC_NEED(e, n * t->size);
        memcpy(e->pos, items, n * t->size);
        e->pos += n * t->size;
        return UA_STATUS_GOOD;
    }
#endif
    const uint8_t *q = items;
    for (size_t i = 0; i < n; i++, q += t->size) {
        rc = enc_value(e, q, t);
        if (rc != UA_STATUS_GOOD)
            return rc;
    }
    return UA_STATUS_GOOD;
}

/* A structure of type t as an ExtensionObject with a binary body. */
static ua_status enc_eo_body(enc *e, const void *data, const ua_type *t)
{
    ua_node_id id = ua_node_id_numeric(0, t->binary_encoding_id);
    if (t->binary_encoding_id == 0)
        return UA_STATUS_BAD_ENCODING_ERROR;
    ua_status rc = enc_node_id(e, &id, 0);
    if (rc != UA_STATUS_GOOD)
        return rc;
    ENC_NEED(e, 5);
    e->pos[0] = 0x01;
    uint8_t *len_at = e->pos + 1;
    e->pos += 5;
    rc = enc_value(e, data, t);
    if (rc != UA_STATUS_GOOD)
        return rc;
    size_t body = (size_t)(e->pos - len_at - 4);
    if (body > INT32_MAX)
        return UA_STATUS_BAD_ENCODING_ERROR;
    put_u32(len_at, (uint32_t)body);
    return UA_STATUS_GOOD;
}

static ua_status enc_extension_object(enc *e, const ua_extension_object *eo)
{
    ua_status rc;
    switch (eo->encoding) {
    case UA_EO_NONE:
        rc = enc_node_id(e, &eo->type_id, 0);
        if (rc == UA_STATUS_GOOD)
            rc = enc_byte(e, 0x00);
        return rc;
    case UA_EO_BINARY:
    case UA_EO_XML:
        rc = enc_node_id(e, &eo->type_id, 0);
        if (rc == UA_STATUS_GOOD)
            rc = enc_byte(e, eo->encoding);
        if (rc == UA_STATUS_GOOD)
            rc = enc_string(e, &eo->body);
        return rc;
    case UA_EO_DECODED:
        if (eo->type == NULL || eo->data == NULL)
            return UA_STATUS_BAD_ENCODING_ERROR;
        return enc_eo_body(e, eo->data, eo->type);
    default:
        return UA_STATUS_BAD_ENCODING_ERROR;
    }
}

static ua_status enc_variant(enc *e, const ua_variant *v)
{
    if (v->type == NULL)
        return enc_byte(e, 0x00);
    unsigned wire = variant_wire_id(v->type);
    const void *data = ua_variant_data(v);
    bool wrap = v->type->kind == UA_KIND_STRUCTURE;
    uint8_t mask = (uint8_t)wire;
    if (v->is_array)
        mask |= 0x80;
    if (v->is_array && v->dims_count > 0)
        mask |= 0x40;
    ua_status rc = enc_byte(e, mask);
    if (rc != UA_STATUS_GOOD)
        return rc;
    if (!v->is_array) {
        if (data == NULL)
            return UA_STATUS_BAD_ENCODING_ERROR;
        return wrap ? enc_eo_body(e, data, v->type) : enc_value(e, data, v->type);
    }
    if (!wrap) {
        rc = enc_array(e, v->data, v->array_length, v->type);
    } else {
        rc = enc_length(e, v->data, v->array_length);
        const uint8_t *q = v->data;
        for (size_t i = 0; rc == UA_STATUS_GOOD && q && i < v->array_length; i++) {
            rc = enc_eo_body(e, q, v->type);
            q += v->type->size;
        }
    }
    if (rc != UA_STATUS_GOOD || v->dims_count == 0)
        return rc;
    return enc_array(e, v->dims, v->dims_count, builtin(UA_KIND_INT32));
}

static ua_status enc_data_value(enc *e, const ua_data_value *dv)
{
    uint8_t has = dv->has & 0x3F;
    ua_status rc = enc_byte(e, has);
    if (rc == UA_STATUS_GOOD && (has & UA_DV_VALUE))
        rc = enc_variant(e, &dv->value);
    if (rc == UA_STATUS_GOOD && (has & UA_DV_STATUS))
        rc = enc_u32(e, dv->status);
    if (rc == UA_STATUS_GOOD && (has & UA_DV_SOURCE_TIMESTAMP))
        rc = enc_u64(e, (uint64_t)dv->source_timestamp);
    if (rc == UA_STATUS_GOOD && (has & UA_DV_SOURCE_PICOSECONDS))
        rc = enc_u16(e, dv->source_picoseconds);
    if (rc == UA_STATUS_GOOD && (has & UA_DV_SERVER_TIMESTAMP))
        rc = enc_u64(e, (uint64_t)dv->server_timestamp);
    if (rc == UA_STATUS_GOOD && (has & UA_DV_SERVER_PICOSECONDS))
        rc = enc_u16(e, dv->server_picoseconds);
    return rc;
}

static ua_status enc_diagnostic_info(enc *e, const ua_diagnostic_info *di)
{
    uint8_t has = di->has & 0x7F;
    if (di->inner == NULL)
        has &= (uint8_t)~UA_DI_INNER_DIAGNOSTIC_INFO;
    ua_status rc = enc_byte(e, has);
    if (rc == UA_STATUS_GOOD && (has & UA_DI_SYMBOLIC_ID))
        rc = enc_u32(e, (uint32_t)di->symbolic_id);
    if (rc == UA_STATUS_GOOD && (has & UA_DI_NAMESPACE_URI))
        rc = enc_u32(e, (uint32_t)di->namespace_uri);
    if (rc == UA_STATUS_GOOD && (has & UA_DI_LOCALE))
        rc = enc_u32(e, (uint32_t)di->locale);
    if (rc == UA_STATUS_GOOD && (has & UA_DI_LOCALIZED_TEXT))
        rc = enc_u32(e, (uint32_t)di->localized_text);
    if (rc == UA_STATUS_GOOD && (has & UA_DI_ADDITIONAL_INFO))
        rc = enc_string(e, &di->additional_info);
    if (rc == UA_STATUS_GOOD && (has & UA_DI_INNER_STATUS_CODE))
        rc = enc_u32(e, di->inner_status_code);
    if (rc == UA_STATUS_GOOD && (has & UA_DI_INNER_DIAGNOSTIC_INFO))
        rc = enc_diagnostic_info(e, di->inner);
    return rc;
}

static ua_status enc_value(enc *e, const void *p, const ua_type *t)
{
    switch (t->kind) {
    case UA_KIND_BOOLEAN:
        return enc_byte(e, *(const bool *)p ? 1 : 0);
    case UA_KIND_SBYTE:
    case UA_KIND_BYTE:
        return enc_byte(e, *(const uint8_t *)p);
    case UA_KIND_INT16:
    case UA_KIND_UINT16:
        return enc_u16(e, *(const uint16_t *)p);
    case UA_KIND_INT32:
    case UA_KIND_UINT32:
    case UA_KIND_FLOAT:
    case UA_KIND_STATUSCODE:
    case UA_KIND_ENUM: {
        uint32_t v;
        memcpy(&v, p, 4);
        return enc_u32(e, v);
    }
    case UA_KIND_INT64:
    case UA_KIND_UINT64:
    case UA_KIND_DOUBLE:
    case UA_KIND_DATETIME: {
        uint64_t v;
        memcpy(&v, p, 8);
        return enc_u64(e, v);
    }
    case UA_KIND_STRING:
    case UA_KIND_BYTESTRING:
    case UA_KIND_XMLELEMENT:
        return enc_string(e, p);
    case UA_KIND_GUID:
        return enc_guid(e, p);
    case UA_KIND_NODEID:
        return enc_node_id(e, p, 0);
    case UA_KIND_EXPANDEDNODEID: {
        const ua_expanded_node_id *x = p;
        uint8_t flags = (x->namespace_uri.data ? 0x80 : 0) | (x->server_index ? 0x40 : 0);
        ua_status rc = enc_node_id(e, &x->node_id, flags);
        if (rc == UA_STATUS_GOOD && x->namespace_uri.data)
            rc = enc_string(e, &x->namespace_uri);
        if (rc == UA_STATUS_GOOD && x->server_index)
            rc = enc_u32(e, x->server_index);
        return rc;
    }
    case UA_KIND_QUALIFIEDNAME: {
        const ua_qualified_name *q = p;
        ua_status rc = enc_u16(e, q->ns);
        return rc == UA_STATUS_GOOD ? enc_string(e, &q->name) : rc;
    }
    case UA_KIND_LOCALIZEDTEXT: {
        const ua_localized_text *l = p;
        uint8_t mask = (l->locale.data ? 0x01 : 0) | (l->text.data ? 0x02 : 0);
        ua_status rc = enc_byte(e, mask);
        if (rc == UA_STATUS_GOOD && l->locale.data)
            rc = enc_string(e, &l->locale);
        if (rc == UA_STATUS_GOOD && l->text.data)
            rc = enc_string(e, &l->text);
        return rc;
    }
    case UA_KIND_EXTENSIONOBJECT:
        return enc_extension_object(e, p);
    case UA_KIND_DATAVALUE:
        return enc_data_value(e, p);
    case UA_KIND_VARIANT:
        return enc_variant(e, p);
    case UA_KIND_DIAGNOSTICINFO:
        return enc_diagnostic_info(e, p);
    case UA_KIND_STRUCTURE:
        for (unsigned i = 0; i < t->member_count; i++) {
            const ua_member *m = &t->members[i];
            const uint8_t *mp = (const uint8_t *)p + m->offset;
            ua_status rc;
            if (m->is_array) {
                size_t n;
                void *items;
                memcpy(&n, mp, sizeof n);
                memcpy(&items, mp + sizeof(size_t), sizeof items);
                rc = enc_array(e, items, n, m->type);
            } else {
                rc = enc_value(e, mp, m->type);
            }
            if (rc != UA_STATUS_GOOD)
                return rc;
        }
        return UA_STATUS_GOOD;
    default:
        return UA_STATUS_BAD_ENCODING_ERROR;
    }
}

ua_status ua_encode(const void *p, const ua_type *t, uint8_t **pos, const uint8_t *end)
{
    enc e = {*pos, end};
    ua_status rc = enc_value(&e, p, t);
    *pos = e.pos;
    return rc;
}

/* ========================================================================== sizes */

/* The size walker mirrors the encoder rule by rule; the unit tests and the decode fuzzer
 * check that both agree on every value. Returns false on an unencodable value. */
static bool size_value(const void *p, const ua_type *t, size_t *n);

static bool size_string(const ua_string *s, size_t *n)
{
    if (s->data != NULL && s->length > INT32_MAX)
        return false;
    *n += 4 + (s->data ? s->length : 0);
    return true;
}

static bool size_node_id(const ua_node_id *id, size_t *n)
{
    switch (id->id_type) {
    case UA_NODEID_NUMERIC:
        if (id->ns == 0 && id->id.numeric <= 0xFF)
            *n += 2;
        else if (id->ns <= 0xFF && id->id.numeric <= 0xFFFF)
            *n += 4;
        else
            *n += 7;
        return true;
    case UA_NODEID_STRING:
    case UA_NODEID_BYTESTRING:
        *n += 3;
        return size_string(&id->id.string, n);
    case UA_NODEID_GUID:
        *n += 3 + 16;
        return true;
    default:
        return false;
    }
}

static bool size_array(const void *items, size_t count, const ua_type *t, size_t *n)
{
    *n += 4;
    if (items == NULL || count == 0)
        return true;
    if (count > INT32_MAX || items == UA_EMPTY_ARRAY)
        return false;
    if (t->kind >= UA_KIND_BOOLEAN && t->kind <= UA_KIND_DOUBLE) {
        *n += count * t->min_encoded_size;
        return true;
    }
    const uint8_t *q = items;
    for (size_t i = 0; i < count; i++, q += t->size)
        if (!size_value(q, t, n))
            return false;
    return true;
}

static bool size_eo_body(const void *data, const ua_type *t, size_t *n)
{
    if (t->binary_encoding_id == 0)
        return false;
    ua_node_id id = ua_node_id_numeric(0, t->binary_encoding_id);
    size_t body = 0;
    if (!size_node_id(&id, n) || !size_value(data, t, &body) || body > INT32_MAX)
        return false;
    *n += 5 + body;
    return true;
}

static bool size_variant(const ua_variant *v, size_t *n)
{
    *n += 1;
    if (v->type == NULL)
        return true;
    const void *data = ua_variant_data(v);
    bool wrap = v->type->kind == UA_KIND_STRUCTURE;
    if (!v->is_array) {
        if (data == NULL)
            return false;
        return wrap ? size_eo_body(data, v->type, n) : size_value(data, v->type, n);
    }
    if (!wrap) {
        if (!size_array(v->data, v->array_length, v->type, n))
            return false;
    } else {
        if (v->data != NULL && v->array_length > INT32_MAX)
            return false;
        *n += 4;
        const uint8_t *q = v->data;
        for (size_t i = 0; q && i < v->array_length; i++, q += v->type->size)
            if (!size_eo_body(q, v->type, n))
                return false;
    }
    if (v->dims_count > 0)
        return size_array(v->dims, v->dims_count, &ua_types[UA_KIND_INT32 - 1], n);
    return true;
}

static bool size_value(const void *p, const ua_type *t, size_t *n)
{
    switch (t->kind) {
    case UA_KIND_BOOLEAN:
    case UA_KIND_SBYTE:
    case UA_KIND_BYTE:
    case UA_KIND_INT16:
    case UA_KIND_UINT16:
    case UA_KIND_INT32:
    case UA_KIND_UINT32:
    case UA_KIND_INT64:
    case UA_KIND_UINT64:
    case UA_KIND_FLOAT:
    case UA_KIND_DOUBLE:
    case UA_KIND_DATETIME:
    case UA_KIND_GUID:
    case UA_KIND_STATUSCODE:
    case UA_KIND_ENUM:
        *n += t->min_encoded_size;
        return true;
    case UA_KIND_STRING:
    case UA_KIND_BYTESTRING:
    case UA_KIND_XMLELEMENT:
        return size_string(p, n);
    case UA_KIND_NODEID:
        return size_node_id(p, n);
    case UA_KIND_EXPANDEDNODEID: {
        const ua_expanded_node_id *x = p;
        if (!size_node_id(&x->node_id, n))
            return false;
        if (x->namespace_uri.data && !size_string(&x->namespace_uri, n))
            return false;
        if (x->server_index)
            *n += 4;
        return true;
    }
    case UA_KIND_QUALIFIEDNAME:
        *n += 2;
        return size_string(&((const ua_qualified_name *)p)->name, n);
    case UA_KIND_LOCALIZEDTEXT: {
        const ua_localized_text *l = p;
        *n += 1;
        if (l->locale.data && !size_string(&l->locale, n))
            return false;
        return l->text.data == NULL || size_string(&l->text, n);
    }
    case UA_KIND_EXTENSIONOBJECT: {
        const ua_extension_object *eo = p;
        switch (eo->encoding) {
        case UA_EO_NONE:
            *n += 1;
            return size_node_id(&eo->type_id, n);
        case UA_EO_BINARY:
        case UA_EO_XML:
            *n += 1;
            return size_node_id(&eo->type_id, n) && size_string(&eo->body, n);
        case UA_EO_DECODED:
            return eo->type != NULL && eo->data != NULL && size_eo_body(eo->data, eo->type, n);
        default:
            return false;
        }
    }
    case UA_KIND_DATAVALUE: {
        const ua_data_value *dv = p;
        *n += 1;
        if ((dv->has & UA_DV_VALUE) && !size_variant(&dv->value, n))
            return false;
        if (dv->has & UA_DV_STATUS)
            *n += 4;
        if (dv->has & UA_DV_SOURCE_TIMESTAMP)
            *n += 8;
        if (dv->has & UA_DV_SOURCE_PICOSECONDS)
            *n += 2;
        if (dv->has & UA_DV_SERVER_TIMESTAMP)
            *n += 8;
        if (dv->has & UA_DV_SERVER_PICOSECONDS)
            *n += 2;
        return true;
    }
    case UA_KIND_VARIANT:
        return size_variant(p, n);
    case UA_KIND_DIAGNOSTICINFO:
        for (const ua_diagnostic_info *di = p; di != NULL;) {
            uint8_t has = di->has;
            *n += 1;
            if (has & UA_DI_SYMBOLIC_ID)
                *n += 4;
            if (has & UA_DI_NAMESPACE_URI)
                *n += 4;
            if (has & UA_DI_LOCALE)
                *n += 4;
            if (has & UA_DI_LOCALIZED_TEXT)
                *n += 4;
            if ((has & UA_DI_ADDITIONAL_INFO) && !size_string(&di->additional_info, n))
                return false;
            if (has & UA_DI_INNER_STATUS_CODE)
                *n += 4;
            di = (has & UA_DI_INNER_DIAGNOSTIC_INFO) ? di->inner : NULL;
        }
        return true;
    case UA_KIND_STRUCTURE:
        for (unsigned i = 0; i < t->member_count; i++) {
            const ua_member *m = &t->members[i];
            const uint8_t *mp = (const uint8_t *)p + m->offset;
            bool ok;
            if (m->is_array) {
                size_t count;
                void *items;
                memcpy(&count, mp, sizeof count);
                memcpy(&items, mp + sizeof(size_t), sizeof items);
                ok = size_array(items, count, m->type, n);
            } else {
                ok = size_value(mp, m->type, n);
            }
            if (!ok)
                return false;
        }
        return true;
    default:
        return false;
    }
}

size_t ua_encoded_size(const void *p, const ua_type *t)
{
    size_t n = 0;
    return size_value(p, t, &n) ? n : 0;
}

ua_status ua_encode_alloc(const void *p, const ua_type *t, ua_bytestring *out)
{
    size_t cap = 256;
    out->data = NULL;
    out->length = 0;
    for (;;) {
        uint8_t *buf = fp_malloc(cap);
        if (buf == NULL)
            return UA_STATUS_BAD_OUT_OF_MEMORY;
        enc e = {buf, buf + cap};
        ua_status rc = enc_value(&e, p, t);
        if (rc == UA_STATUS_GOOD) {
            out->length = (size_t)(e.pos - buf);
            out->data = buf;
            return UA_STATUS_GOOD;
        }
        fp_free(buf);
        if (rc != UA_STATUS_BAD_ENCODING_LIMITS_EXCEEDED || cap > ((size_t)1 << 31))
            return rc;
        cap *= 4;
    }
}

/* ========================================================================== decode */

typedef struct dec {
    const uint8_t *pos;
    const uint8_t *end;
    size_t max_string;
    size_t max_array;
    uint32_t depth;
    uint32_t max_depth;
    size_t alloc_left; /* bytes the decoder may still allocate */
    bool over_budget;
} dec;

/* Zeroed heap memory for n elements of `size`, counted against the allocation budget:
 * small encodings can ask for large structures (an empty DataValue is one byte on the
 * wire and about 80 in memory), so a cap on the message size alone does not bound memory. */
static void *dec_alloc(dec *d, size_t n, size_t size)
{
    size_t bytes = n * size; /* n is bounded by the input length, size by the types */
    if (bytes > d->alloc_left) {
        d->over_budget = true;
        return NULL;
    }
    d->alloc_left -= bytes;
    return fp_calloc(n, size);
}

/* The status for a failed dec_alloc. */
static ua_status alloc_failed(const dec *d)
{
    return d->over_budget ? UA_STATUS_BAD_ENCODING_LIMITS_EXCEEDED : UA_STATUS_BAD_OUT_OF_MEMORY;
}

#define DEC_NEED(d, n)                                                                             \
    do {                                                                                           \
        if ((size_t)((d)->end - (d)->pos) < (size_t)(n))                                           \
            return UA_STATUS_BAD_DECODING_ERROR;                                                   \
    } while (0)

static inline uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t get_u32(const uint8_t *p)
{
#if UA_HOST_LE
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
#else
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
#endif
}
static inline uint64_t get_u64(const uint8_t *p)
{
#if UA_HOST_LE
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
#else
    return (uint64_t)get_u32(p) | ((uint64_t)get_u32(p + 4) << 32);
#endif
}

static ua_status dec_byte(dec *d, uint8_t *v)
{
    DEC_NEED(d, 1);
    *v = *d->pos++;
    return UA_STATUS_GOOD;
}
static ua_status dec_u16(dec *d, uint16_t *v)
{
    DEC_NEED(d, 2);
    *v = get_u16(d->pos);
    d->pos += 2;
    return UA_STATUS_GOOD;
}
static ua_status dec_u32(dec *d, uint32_t *v)
{
    DEC_NEED(d, 4);
    *v = get_u32(d->pos);
    d->pos += 4;
    return UA_STATUS_GOOD;
}
static ua_status dec_u64(dec *d, uint64_t *v)
{
    DEC_NEED(d, 8);
    *v = get_u64(d->pos);
    d->pos += 8;
    return UA_STATUS_GOOD;
}

static ua_status dec_string(dec *d, ua_string *s)
{
    DEC_NEED(d, 4);
    int32_t n = (int32_t)get_u32(d->pos);
    d->pos += 4;
    if (n == -1)
        return UA_STATUS_GOOD; /* null */
    if (n < 0)
        return UA_STATUS_BAD_DECODING_ERROR;
    if ((size_t)n > d->max_string)
        return UA_STATUS_BAD_ENCODING_LIMITS_EXCEEDED;
    DEC_NEED(d, n);
    if (n == 0) {
        s->data = UA_EMPTY_ARRAY;
        return UA_STATUS_GOOD;
    }
    s->data = dec_alloc(d, 1, (size_t)n);
    if (s->data == NULL)
        return alloc_failed(d);
    memcpy(s->data, d->pos, (size_t)n);
    s->length = (size_t)n;
    d->pos += n;
    return UA_STATUS_GOOD;
}

static ua_status dec_guid(dec *d, ua_guid *g)
{
    DEC_NEED(d, 16);
    g->data1 = get_u32(d->pos);
    g->data2 = get_u16(d->pos + 4);
    g->data3 = get_u16(d->pos + 6);
    memcpy(g->data4, d->pos + 8, 8);
    d->pos += 16;
    return UA_STATUS_GOOD;
}

/* A NodeId; *flags receives the ExpandedNodeId bits when flags is not NULL, else any
 * such bit is an error. */
static ua_status dec_node_id(dec *d, ua_node_id *n, uint8_t *flags)
{
    uint8_t b;
    ua_status rc = dec_byte(d, &b);
    if (rc != UA_STATUS_GOOD)
        return rc;
    if (flags)
        *flags = b & 0xC0;
    else if (b & 0xC0)
        return UA_STATUS_BAD_DECODING_ERROR;
    switch (b & 0x3F) {
    case 0x00:
        DEC_NEED(d, 1);
        n->id_type = UA_NODEID_NUMERIC;
        n->id.numeric = *d->pos++;
        return UA_STATUS_GOOD;
    case 0x01:
        DEC_NEED(d, 3);
        n->id_type = UA_NODEID_NUMERIC;
        n->ns = d->pos[0];
        n->id.numeric = get_u16(d->pos + 1);
        d->pos += 3;
        return UA_STATUS_GOOD;
    case 0x02:
        DEC_NEED(d, 6);
        n->id_type = UA_NODEID_NUMERIC;
        n->ns = get_u16(d->pos);
        n->id.numeric = get_u32(d->pos + 2);
        d->pos += 6;
        return UA_STATUS_GOOD;
    case 0x03:
    case 0x05:
        DEC_NEED(d, 2);
        n->id_type = (uint8_t)(b & 0x3F);
        n->ns = get_u16(d->pos);
        d->pos += 2;
        return dec_string(d, &n->id.string);
    case 0x04:
        DEC_NEED(d, 2);
        n->id_type = UA_NODEID_GUID;
        n->ns = get_u16(d->pos);
        d->pos += 2;
        return dec_guid(d, &n->id.guid);
    default:
        return UA_STATUS_BAD_DECODING_ERROR;
    }
}

static ua_status dec_value(dec *d, void *dst, const ua_type *t);

/* An array of `n` elements announced on the wire: check before allocating. */
static ua_status dec_array_items(dec *d, int32_t n, void **items, size_t *count, const ua_type *t)
{
    if (n == -1)
        return UA_STATUS_GOOD;
    if (n < 0)
        return UA_STATUS_BAD_DECODING_ERROR;
    size_t min = t->min_encoded_size ? t->min_encoded_size : 1;
    if ((size_t)n > (size_t)(d->end - d->pos) / min)
        return UA_STATUS_BAD_DECODING_ERROR; /* cannot be there: do not allocate */
    if ((size_t)n > d->max_array)
        return UA_STATUS_BAD_ENCODING_LIMITS_EXCEEDED;
    if (n == 0) {
        *items = UA_EMPTY_ARRAY;
        return UA_STATUS_GOOD;
    }
    uint8_t *a = dec_alloc(d, (size_t)n, t->size);
    if (a == NULL)
        return alloc_failed(d);
    *items = a;
    *count = (size_t)n;
#if UA_HOST_LE
    if (t->kind >= UA_KIND_SBYTE && t->kind <= UA_KIND_DOUBLE) {
        /* min_encoded_size == size for these: the check above covered the bytes */
        memcpy(a, d->pos, (size_t)n * t->size);
        d->pos += (size_t)n * t->size;
        return UA_STATUS_GOOD;
    }
#endif
    for (size_t i = 0; i < (size_t)n; i++) {
        ua_status rc = dec_value(d, a + i * t->size, t);
        if (rc != UA_STATUS_GOOD)
            return rc;
    }
    return UA_STATUS_GOOD;
}

static ua_status dec_array(dec *d, void **items, size_t *count, const ua_type *t)
{
    DEC_NEED(d, 4);
    int32_t n = (int32_t)get_u32(d->pos);
    d->pos += 4;
    return dec_array_items(d, n, items, count, t);
}

static ua_status depth_enter(dec *d)
{
    if (++d->depth > d->max_depth)
        return UA_STATUS_BAD_ENCODING_LIMITS_EXCEEDED;
    return UA_STATUS_GOOD;
}

static ua_status dec_extension_object(dec *d, ua_extension_object *eo)
{
    ua_status rc = dec_node_id(d, &eo->type_id, NULL);
    uint8_t enc_byte_v = 0;
    if (rc == UA_STATUS_GOOD)
        rc = dec_byte(d, &enc_byte_v);
    if (rc != UA_STATUS_GOOD)
        return rc;
    if (enc_byte_v == 0x00) {
        eo->encoding = UA_EO_NONE;
        return UA_STATUS_GOOD;
    }
    if (enc_byte_v == 0x02) {
        eo->encoding = UA_EO_XML;
        return dec_string(d, &eo->body);
    }
    if (enc_byte_v != 0x01)
        return UA_STATUS_BAD_DECODING_ERROR;
    DEC_NEED(d, 4);
    int32_t len = (int32_t)get_u32(d->pos);
    const ua_type *t = NULL;
    if (eo->type_id.ns == 0 && eo->type_id.id_type == UA_NODEID_NUMERIC)
        t = ua_find_type_by_encoding_id(eo->type_id.id.numeric);
    if (t == NULL || len < 0) {
        eo->encoding = UA_EO_BINARY;
        return dec_string(d, &eo->body);
    }
    d->pos += 4;
    DEC_NEED(d, len);
    void *data = dec_alloc(d, 1, t->size);
    if (data == NULL)
        return alloc_failed(d);
    eo->encoding = UA_EO_DECODED;
    eo->type = t;
    eo->data = data;
    /* The body is decoded within its announced length and must use all of it. */
    const uint8_t *outer_end = d->end;
    const uint8_t *body_end = d->pos + len;
    d->end = body_end;
    rc = dec_value(d, data, t);
    d->end = outer_end;
    if (rc == UA_STATUS_GOOD && d->pos != body_end)
        rc = UA_STATUS_BAD_DECODING_ERROR;
    return rc;
}

static ua_status dec_variant(dec *d, ua_variant *v)
{
    uint8_t mask;
    ua_status rc = dec_byte(d, &mask);
    if (rc != UA_STATUS_GOOD)
        return rc;
    unsigned id = mask & 0x3F;
    if (id == 0)
        return mask == 0 ? UA_STATUS_GOOD : UA_STATUS_BAD_DECODING_ERROR;
    if (id > UA_KIND_DIAGNOSTICINFO)
        return UA_STATUS_BAD_DECODING_ERROR;
    const ua_type *t = builtin(id);
    if (!(mask & 0x80)) {
        if (mask & 0x40)
            return UA_STATUS_BAD_DECODING_ERROR;
        if (id == UA_KIND_VARIANT)
            return UA_STATUS_BAD_DECODING_ERROR; /* a scalar Variant in a Variant */
        v->type = t;
        if (t->size <= sizeof v->scalar)
            return dec_value(d, &v->scalar, t);
        v->data = dec_alloc(d, 1, t->size);
        if (v->data == NULL) {
            v->type = NULL;
            return alloc_failed(d);
        }
        return dec_value(d, v->data, t);
    }
    v->type = t;
    v->is_array = true;
    rc = dec_array(d, &v->data, &v->array_length, t);
    if (rc != UA_STATUS_GOOD || !(mask & 0x40))
        return rc;
    void *dims = NULL;
    rc = dec_array(d, &dims, &v->dims_count, builtin(UA_KIND_UINT32));
    v->dims = dims;
    if (rc != UA_STATUS_GOOD)
        return rc;
    for (size_t i = 0; i < v->dims_count; i++)
        if (v->dims[i] > INT32_MAX)
            return UA_STATUS_BAD_DECODING_ERROR;
    return UA_STATUS_GOOD;
}

static ua_status dec_data_value(dec *d, ua_data_value *dv)
{
    uint8_t has;
    uint64_t v64;
    ua_status rc = dec_byte(d, &has);
    if (rc != UA_STATUS_GOOD)
        return rc;
    has &= 0x3F; /* reserved bits are ignored */
    dv->has = has;
    if (has & UA_DV_VALUE) {
        rc = dec_variant(d, &dv->value);
        if (rc != UA_STATUS_GOOD)
            return rc;
    }
    if (has & UA_DV_STATUS) {
        rc = dec_u32(d, &dv->status);
        if (rc != UA_STATUS_GOOD)
            return rc;
    }
    if (has & UA_DV_SOURCE_TIMESTAMP) {
        rc = dec_u64(d, &v64);
        if (rc != UA_STATUS_GOOD)
            return rc;
        dv->source_timestamp = (int64_t)v64;
    }
    if (has & UA_DV_SOURCE_PICOSECONDS) {
        rc = dec_u16(d, &dv->source_picoseconds);
        if (rc != UA_STATUS_GOOD)
            return rc;
    }
    if (has & UA_DV_SERVER_TIMESTAMP) {
        rc = dec_u64(d, &v64);
        if (rc != UA_STATUS_GOOD)
            return rc;
        dv->server_timestamp = (int64_t)v64;
    }
    if (has & UA_DV_SERVER_PICOSECONDS)
        rc = dec_u16(d, &dv->server_picoseconds);
    return rc;
}

static ua_status dec_diagnostic_info(dec *d, ua_diagnostic_info *di)
{
    uint8_t has;
    uint32_t v;
    ua_status rc = dec_byte(d, &has);
    if (rc != UA_STATUS_GOOD)
        return rc;
    if (has & 0x80)
        return UA_STATUS_BAD_DECODING_ERROR;
    di->has = has;
    if (rc == UA_STATUS_GOOD && (has & UA_DI_SYMBOLIC_ID) && (rc = dec_u32(d, &v)) == 0)
        di->symbolic_id = (int32_t)v;
    if (rc == UA_STATUS_GOOD && (has & UA_DI_NAMESPACE_URI) && (rc = dec_u32(d, &v)) == 0)
        di->namespace_uri = (int32_t)v;
    if (rc == UA_STATUS_GOOD && (has & UA_DI_LOCALE) && (rc = dec_u32(d, &v)) == 0)
        di->locale = (int32_t)v;
    if (rc == UA_STATUS_GOOD && (has & UA_DI_LOCALIZED_TEXT) && (rc = dec_u32(d, &v)) == 0)
        di->localized_text = (int32_t)v;
    if (rc == UA_STATUS_GOOD && (has & UA_DI_ADDITIONAL_INFO))
        rc = dec_string(d, &di->additional_info);
    if (rc == UA_STATUS_GOOD && (has & UA_DI_INNER_STATUS_CODE))
        rc = dec_u32(d, &di->inner_status_code);
    if (rc == UA_STATUS_GOOD && (has & UA_DI_INNER_DIAGNOSTIC_INFO)) {
        rc = depth_enter(d);
        if (rc != UA_STATUS_GOOD)
            return rc;
        di->inner = dec_alloc(d, 1, sizeof *di->inner);
        if (di->inner == NULL)
            return alloc_failed(d);
        rc = dec_diagnostic_info(d, di->inner);
        d->depth--;
    }
    return rc;
}

static ua_status dec_value(dec *d, void *dst, const ua_type *t)
{
    ua_status rc;
    switch (t->kind) {
    case UA_KIND_BOOLEAN:
        DEC_NEED(d, 1);
        *(bool *)dst = *d->pos++ != 0;
        return UA_STATUS_GOOD;
    case UA_KIND_SBYTE:
    case UA_KIND_BYTE:
        return dec_byte(d, dst);
    case UA_KIND_INT16:
    case UA_KIND_UINT16:
        return dec_u16(d, dst);
    case UA_KIND_INT32:
    case UA_KIND_UINT32:
    case UA_KIND_FLOAT:
    case UA_KIND_STATUSCODE:
    case UA_KIND_ENUM:
        DEC_NEED(d, 4);
        memcpy(dst, d->pos, 4); /* as get_u32 on little-endian hosts */
#if !UA_HOST_LE
        {
            uint32_t v = get_u32(d->pos);
            memcpy(dst, &v, 4);
        }
#endif
        d->pos += 4;
        return UA_STATUS_GOOD;
    case UA_KIND_INT64:
    case UA_KIND_UINT64:
    case UA_KIND_DOUBLE:
    case UA_KIND_DATETIME: {
        DEC_NEED(d, 8);
        uint64_t v = get_u64(d->pos);
        d->pos += 8;
        memcpy(dst, &v, 8);
        return UA_STATUS_GOOD;
    }
    case UA_KIND_STRING:
    case UA_KIND_BYTESTRING:
    case UA_KIND_XMLELEMENT:
        return dec_string(d, dst);
    case UA_KIND_GUID:
        return dec_guid(d, dst);
    case UA_KIND_NODEID:
        return dec_node_id(d, dst, NULL);
    case UA_KIND_EXPANDEDNODEID: {
        ua_expanded_node_id *x = dst;
        uint8_t flags;
        rc = dec_node_id(d, &x->node_id, &flags);
        if (rc == UA_STATUS_GOOD && (flags & 0x80)) {
            rc = dec_string(d, &x->namespace_uri);
            if (rc == UA_STATUS_GOOD && x->namespace_uri.data == NULL)
                x->namespace_uri.data = UA_EMPTY_ARRAY; /* present, even if null */
        }
        if (rc == UA_STATUS_GOOD && (flags & 0x40))
            rc = dec_u32(d, &x->server_index);
        return rc;
    }
    case UA_KIND_QUALIFIEDNAME: {
        ua_qualified_name *q = dst;
        rc = dec_u16(d, &q->ns);
        return rc == UA_STATUS_GOOD ? dec_string(d, &q->name) : rc;
    }
    case UA_KIND_LOCALIZEDTEXT: {
        ua_localized_text *l = dst;
        uint8_t mask;
        rc = dec_byte(d, &mask);
        if (rc == UA_STATUS_GOOD && (mask & 0x01)) {
            rc = dec_string(d, &l->locale);
            if (rc == UA_STATUS_GOOD && l->locale.data == NULL)
                l->locale.data = UA_EMPTY_ARRAY;
        }
        if (rc == UA_STATUS_GOOD && (mask & 0x02)) {
            rc = dec_string(d, &l->text);
            if (rc == UA_STATUS_GOOD && l->text.data == NULL)
                l->text.data = UA_EMPTY_ARRAY;
        }
        return rc;
    }
    case UA_KIND_EXTENSIONOBJECT:
    case UA_KIND_DATAVALUE:
    case UA_KIND_VARIANT:
    case UA_KIND_DIAGNOSTICINFO:
        rc = depth_enter(d);
        if (rc != UA_STATUS_GOOD)
            return rc;
        if (t->kind == UA_KIND_EXTENSIONOBJECT)
            rc = dec_extension_object(d, dst);
        else if (t->kind == UA_KIND_DATAVALUE)
            rc = dec_data_value(d, dst);
        else if (t->kind == UA_KIND_VARIANT)
            rc = dec_variant(d, dst);
        else
            rc = dec_diagnostic_info(d, dst);
        d->depth--;
        return rc;
    case UA_KIND_STRUCTURE:
        rc = depth_enter(d);
        if (rc != UA_STATUS_GOOD)
            return rc;
        for (unsigned i = 0; i < t->member_count; i++) {
            const ua_member *m = &t->members[i];
            uint8_t *mp = (uint8_t *)dst + m->offset;
            if (m->is_array) {
                size_t n = 0;
                void *items = NULL;
                rc = dec_array(d, &items, &n, m->type);
                memcpy(mp, &n, sizeof n);
                memcpy(mp + sizeof(size_t), &items, sizeof items);
            } else {
                rc = dec_value(d, mp, m->type);
            }
            if (rc != UA_STATUS_GOOD)
                return rc;
        }
        d->depth--;
        return UA_STATUS_GOOD;
    default:
        return UA_STATUS_BAD_DECODING_ERROR;
    }
}

ua_status ua_decode(const uint8_t **pos, const uint8_t *end, void *dst, const ua_type *t,
                    const ua_decode_limits *limits)
{
    dec d = {*pos,
             end,
             UA_DEFAULT_MAX_STRING_LENGTH,
             UA_DEFAULT_MAX_ARRAY_LENGTH,
             0,
             UA_DEFAULT_MAX_DEPTH,
             UA_DEFAULT_MAX_ALLOC,
             false};
    if (limits) {
        if (limits->max_alloc_bytes)
            d.alloc_left = limits->max_alloc_bytes;
        if (limits->max_string_length)
            d.max_string = limits->max_string_length;
        if (limits->max_array_length)
            d.max_array = limits->max_array_length;
        if (limits->max_depth)
            d.max_depth = limits->max_depth;
    }
    memset(dst, 0, t->size);
    ua_status rc = dec_value(&d, dst, t);
    if (rc != UA_STATUS_GOOD) {
        ua_clear(dst, t);
        return rc;
    }
    *pos = d.pos;
    return UA_STATUS_GOOD;
}

ua_status ua_decode_buf(const uint8_t *buf, size_t len, void *dst, const ua_type *t,
                        const ua_decode_limits *limits)
{
    const uint8_t *pos = buf;
    ua_status rc = ua_decode(&pos, buf + len, dst, t, limits);
    if (rc == UA_STATUS_GOOD && pos != buf + len) {
        ua_clear(dst, t);
        rc = UA_STATUS_BAD_DECODING_ERROR;
    }
    return rc;
}

/* ======================================================================= messages */

ua_status ua_encode_message(const void *p, const ua_type *t, uint8_t **pos, const uint8_t *end)
{
    if (t->binary_encoding_id == 0)
        return UA_STATUS_BAD_ENCODING_ERROR;
    ua_node_id id = ua_node_id_numeric(0, t->binary_encoding_id);
    enc e = {*pos, end};
    ua_status rc = enc_node_id(&e, &id, 0);
    if (rc == UA_STATUS_GOOD)
        rc = enc_value(&e, p, t);
    *pos = e.pos;
    return rc;
}

ua_status ua_decode_message(const uint8_t *buf, size_t len, const ua_type **type, void **msg,
                            const ua_decode_limits *limits)
{
    const uint8_t *pos = buf;
    ua_node_id id;
    *type = NULL;
    *msg = NULL;
    ua_status rc = ua_decode(&pos, buf + len, &id, UA_TYPE(NODE_ID), limits);
    if (rc != UA_STATUS_GOOD)
        return rc;
    const ua_type *t = NULL;
    if (id.ns == 0 && id.id_type == UA_NODEID_NUMERIC)
        t = ua_find_type_by_encoding_id(id.id.numeric);
    ua_clear(&id, UA_TYPE(NODE_ID));
    if (t == NULL)
        return UA_STATUS_BAD_UNKNOWN_RESPONSE;
    void *m = ua_new(t);
    if (m == NULL)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    rc = ua_decode_buf(pos, (size_t)(buf + len - pos), m, t, limits);
    if (rc != UA_STATUS_GOOD) {
        ua_delete(m, t);
        return rc;
    }
    *type = t;
    *msg = m;
    return UA_STATUS_GOOD;
}
