/*
 * ua_types.c - the memory side of the table-driven codec: init, clear, copy and arrays of
 * every OPC UA type through its descriptor, helpers for strings, NodeIds, Variants and
 * ExtensionObjects, and descriptor lookup by encoding id, type id or name.
 *
 * Invariant the walker relies on: every pointer inside a value is NULL, UA_EMPTY_ARRAY or
 * owned by the value, so clearing is always safe, also for a half-decoded value.
 */
#include <string.h>

#include "fp_alloc.h"
#include "opcua/ua_types.h"

_Static_assert(sizeof(size_t) == sizeof(void *), "array members are `size_t n; T *p;` pairs");

/* Generated in gen/ua_types_gen.c. */
extern const uint32_t ua_types_by_encoding_id[][2];
extern const size_t ua_types_by_encoding_id_count;
extern const uint32_t ua_types_by_type_id[][2];
extern const size_t ua_types_by_type_id_count;
extern const uint16_t ua_types_by_name[];
extern const size_t ua_types_by_name_count;

static inline void free_block(void *p)
{
    if (p != NULL && p != UA_EMPTY_ARRAY)
        fp_free(p);
}

/* ========================================================================== clear */

static void clear_value(void *p, const ua_type *t);

static void clear_items(void *items, size_t n, const ua_type *t)
{
    if (items == NULL || items == UA_EMPTY_ARRAY)
        return;
    if (!t->pointer_free) {
        uint8_t *q = items;
        for (size_t i = 0; i < n; i++, q += t->size)
            clear_value(q, t);
    }
    fp_free(items);
}

static void clear_variant(ua_variant *v)
{
    if (v->type != NULL) {
        if (v->is_array) {
            clear_items(v->data, v->array_length, v->type);
        } else if (v->data != NULL) {
            clear_value(v->data, v->type);
            fp_free(v->data);
        } else if (!v->type->pointer_free) {
            clear_value(&v->scalar, v->type);
        }
    }
    free_block(v->dims);
}

static void clear_diagnostic_info(ua_diagnostic_info *di)
{
    /* iterative over the inner chain: it can be as deep as the decoder allowed */
    free_block(di->additional_info.data);
    ua_diagnostic_info *inner = di->inner;
    while (inner) {
        ua_diagnostic_info *next = inner->inner;
        free_block(inner->additional_info.data);
        fp_free(inner);
        inner = next;
    }
}

static void clear_value(void *p, const ua_type *t)
{
    switch (t->kind) {
    case UA_KIND_STRING:
    case UA_KIND_BYTESTRING:
    case UA_KIND_XMLELEMENT:
        free_block(((ua_string *)p)->data);
        break;
    case UA_KIND_NODEID: {
        ua_node_id *n = p;
        if (n->id_type == UA_NODEID_STRING || n->id_type == UA_NODEID_BYTESTRING)
            free_block(n->id.string.data);
        break;
    }
    case UA_KIND_EXPANDEDNODEID: {
        ua_expanded_node_id *x = p;
        clear_value(&x->node_id, &ua_types[UA_KIND_NODEID - 1]);
        free_block(x->namespace_uri.data);
        break;
    }
    case UA_KIND_QUALIFIEDNAME:
        free_block(((ua_qualified_name *)p)->name.data);
        break;
    case UA_KIND_LOCALIZEDTEXT:
        free_block(((ua_localized_text *)p)->locale.data);
        free_block(((ua_localized_text *)p)->text.data);
        break;
    case UA_KIND_EXTENSIONOBJECT: {
        ua_extension_object *eo = p;
        clear_value(&eo->type_id, &ua_types[UA_KIND_NODEID - 1]);
        free_block(eo->body.data);
        if (eo->data != NULL && eo->type != NULL) {
            clear_value(eo->data, eo->type);
            fp_free(eo->data);
        }
        break;
    }
    case UA_KIND_DATAVALUE:
        clear_variant(&((ua_data_value *)p)->value);
        break;
    case UA_KIND_VARIANT:
        clear_variant(p);
        break;
    case UA_KIND_DIAGNOSTICINFO:
        clear_diagnostic_info(p);
        break;
    case UA_KIND_STRUCTURE:
        if (t->pointer_free)
            break;
        for (unsigned i = 0; i < t->member_count; i++) {
            const ua_member *m = &t->members[i];
            uint8_t *mp = (uint8_t *)p + m->offset;
            if (m->is_array) {
                size_t n;
                void *items;
                memcpy(&n, mp, sizeof n);
                memcpy(&items, mp + sizeof(size_t), sizeof items);
                clear_items(items, n, m->type);
            } else if (!m->type->pointer_free) {
                clear_value(mp, m->type);
            }
        }
        break;
    default:
        break;
    }
}

void ua_init(void *p, const ua_type *t)
{
    memset(p, 0, t->size);
}

void ua_clear(void *p, const ua_type *t)
{
    clear_value(p, t);
    memset(p, 0, t->size);
}

/* =========================================================================== copy */

static ua_status copy_value(const void *src, void *dst, const ua_type *t);

static ua_status copy_bytes(const ua_string *src, ua_string *dst)
{
    if (src->data == NULL || src->data == UA_EMPTY_ARRAY || src->length == 0) {
        dst->data = src->data == NULL ? NULL : UA_EMPTY_ARRAY;
        dst->length = 0;
        return UA_STATUS_GOOD;
    }
    dst->data = fp_malloc(src->length);
    if (dst->data == NULL)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    memcpy(dst->data, src->data, src->length);
    dst->length = src->length;
    return UA_STATUS_GOOD;
}

/* dst is zeroed; on failure it holds what was copied so far (clearable). */
static ua_status copy_items(const void *src, size_t n, void **dst, size_t *dst_n, const ua_type *t)
{
    if (src == NULL || src == UA_EMPTY_ARRAY || n == 0) {
        *dst = src == NULL ? NULL : UA_EMPTY_ARRAY;
        *dst_n = 0;
        return UA_STATUS_GOOD;
    }
    uint8_t *a = fp_calloc(n, t->size);
    if (a == NULL)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    *dst = a;
    *dst_n = n;
    if (t->pointer_free) {
        memcpy(a, src, n * t->size);
        return UA_STATUS_GOOD;
    }
    const uint8_t *q = src;
    for (size_t i = 0; i < n; i++) {
        ua_status rc = copy_value(q + i * t->size, a + i * t->size, t);
        if (rc != UA_STATUS_GOOD)
            return rc;
    }
    return UA_STATUS_GOOD;
}

static ua_status copy_node_id(const ua_node_id *src, ua_node_id *dst)
{
    *dst = *src;
    if (src->id_type == UA_NODEID_STRING || src->id_type == UA_NODEID_BYTESTRING) {
        dst->id.string.data = NULL;
        dst->id.string.length = 0;
        return copy_bytes(&src->id.string, &dst->id.string);
    }
    return UA_STATUS_GOOD;
}

static ua_status copy_variant(const ua_variant *src, ua_variant *dst)
{
    ua_status rc;
    if (src->type == NULL)
        return UA_STATUS_GOOD;
    dst->type = src->type;
    dst->is_array = src->is_array;
    if (src->is_array) {
        rc = copy_items(src->data, src->array_length, &dst->data, &dst->array_length, src->type);
    } else if (src->data == NULL) {
        rc = copy_value(&src->scalar, &dst->scalar, src->type);
    } else {
        dst->data = fp_calloc(1, src->type->size);
        if (dst->data == NULL)
            return UA_STATUS_BAD_OUT_OF_MEMORY;
        rc = copy_value(src->data, dst->data, src->type);
    }
    if (rc != UA_STATUS_GOOD)
        return rc;
    void *dims = NULL;
    rc = copy_items(src->dims, src->dims_count, &dims, &dst->dims_count,
                    &ua_types[UA_KIND_UINT32 - 1]);
    dst->dims = dims;
    return rc;
}

static ua_status copy_value(const void *src, void *dst, const ua_type *t)
{
    ua_status rc;
    if (t->pointer_free) {
        memcpy(dst, src, t->size);
        return UA_STATUS_GOOD;
    }
    switch (t->kind) {
    case UA_KIND_STRING:
    case UA_KIND_BYTESTRING:
    case UA_KIND_XMLELEMENT:
        return copy_bytes(src, dst);
    case UA_KIND_NODEID:
        return copy_node_id(src, dst);
    case UA_KIND_EXPANDEDNODEID: {
        const ua_expanded_node_id *s = src;
        ua_expanded_node_id *x = dst;
        x->server_index = s->server_index;
        rc = copy_node_id(&s->node_id, &x->node_id);
        return rc == UA_STATUS_GOOD ? copy_bytes(&s->namespace_uri, &x->namespace_uri) : rc;
    }
    case UA_KIND_QUALIFIEDNAME: {
        const ua_qualified_name *s = src;
        ua_qualified_name *q = dst;
        q->ns = s->ns;
        return copy_bytes(&s->name, &q->name);
    }
    case UA_KIND_LOCALIZEDTEXT: {
        const ua_localized_text *s = src;
        ua_localized_text *l = dst;
        rc = copy_bytes(&s->locale, &l->locale);
        return rc == UA_STATUS_GOOD ? copy_bytes(&s->text, &l->text) : rc;
    }
    case UA_KIND_EXTENSIONOBJECT: {
        const ua_extension_object *s = src;
        ua_extension_object *eo = dst;
        eo->encoding = s->encoding;
        eo->type = s->type;
        rc = copy_node_id(&s->type_id, &eo->type_id);
        if (rc == UA_STATUS_GOOD)
            rc = copy_bytes(&s->body, &eo->body);
        if (rc == UA_STATUS_GOOD && s->data != NULL && s->type != NULL) {
            eo->data = fp_calloc(1, s->type->size);
            if (eo->data == NULL)
                return UA_STATUS_BAD_OUT_OF_MEMORY;
            rc = copy_value(s->data, eo->data, s->type);
        }
        return rc;
    }
    case UA_KIND_DATAVALUE: {
        const ua_data_value *s = src;
        ua_data_value *dv = dst;
        *dv = *s;
        memset(&dv->value, 0, sizeof dv->value);
        return copy_variant(&s->value, &dv->value);
    }
    case UA_KIND_VARIANT:
        return copy_variant(src, dst);
    case UA_KIND_DIAGNOSTICINFO: {
        const ua_diagnostic_info *s = src;
        ua_diagnostic_info *di = dst;
        while (s != NULL) {
            *di = *s;
            di->inner = NULL;
            di->additional_info.data = NULL;
            rc = copy_bytes(&s->additional_info, &di->additional_info);
            if (rc != UA_STATUS_GOOD)
                return rc;
            if (s->inner == NULL)
                break;
            di->inner = fp_calloc(1, sizeof *di->inner);
            if (di->inner == NULL)
                return UA_STATUS_BAD_OUT_OF_MEMORY;
            di = di->inner;
            s = s->inner;
        }
        return UA_STATUS_GOOD;
    }
    case UA_KIND_STRUCTURE:
        for (unsigned i = 0; i < t->member_count; i++) {
            const ua_member *m = &t->members[i];
            const uint8_t *sp = (const uint8_t *)src + m->offset;
            uint8_t *dp = (uint8_t *)dst + m->offset;
            if (m->is_array) {
                size_t n, dn = 0;
                void *items, *ditems = NULL;
                memcpy(&n, sp, sizeof n);
                memcpy(&items, sp + sizeof(size_t), sizeof items);
                rc = copy_items(items, n, &ditems, &dn, m->type);
                memcpy(dp, &dn, sizeof dn);
                memcpy(dp + sizeof(size_t), &ditems, sizeof ditems);
            } else {
                rc = copy_value(sp, dp, m->type);
            }
            if (rc != UA_STATUS_GOOD)
                return rc;
        }
        return UA_STATUS_GOOD;
    default:
        memcpy(dst, src, t->size);
        return UA_STATUS_GOOD;
    }
}

ua_status ua_copy(const void *src, void *dst, const ua_type *t)
{
    memset(dst, 0, t->size);
    ua_status rc = copy_value(src, dst, t);
    if (rc != UA_STATUS_GOOD)
        ua_clear(dst, t);
    return rc;
}

/* ========================================================================= arrays */

void *ua_array_new(size_t n, const ua_type *t)
{
    if (n == 0)
        return UA_EMPTY_ARRAY;
    return fp_calloc(n, t->size);
}

ua_status ua_array_copy(const void *src, size_t n, void **dst, const ua_type *t)
{
    size_t dn = 0;
    *dst = NULL;
    ua_status rc = copy_items(src, n, dst, &dn, t);
    if (rc != UA_STATUS_GOOD) {
        clear_items(*dst, dn, t);
        *dst = NULL;
    }
    return rc;
}

void ua_array_free(void *p, size_t n, const ua_type *t)
{
    clear_items(p, n, t);
}

void *ua_new(const ua_type *t)
{
    return fp_calloc(1, t->size);
}

void ua_delete(void *p, const ua_type *t)
{
    if (p == NULL)
        return;
    clear_value(p, t);
    fp_free(p);
}

/* ========================================================================= lookup */

static const ua_type *find_by_id(const uint32_t (*tab)[2], size_t n, uint32_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tab[mid][0] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < n && tab[lo][0] == id)
        return &ua_types[tab[lo][1]];
    return NULL;
}

const ua_type *ua_find_type_by_encoding_id(uint32_t enc_id)
{
    return find_by_id(ua_types_by_encoding_id, ua_types_by_encoding_id_count, enc_id);
}

const ua_type *ua_find_type_by_type_id(uint32_t type_id)
{
    return find_by_id(ua_types_by_type_id, ua_types_by_type_id_count, type_id);
}

const ua_type *ua_find_type_by_name(const char *name)
{
    size_t lo = 0, hi = ua_types_by_name_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ua_types[ua_types_by_name[mid]].name, name);
        if (c == 0)
            return &ua_types[ua_types_by_name[mid]];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ======================================================================== helpers */

ua_status ua_string_from(ua_string *s, const char *z)
{
    ua_string v = ua_string_view(z);
    s->data = NULL;
    s->length = 0;
    return copy_bytes(&v, s);
}

ua_string ua_string_view(const char *z)
{
    ua_string s = {0, NULL};
    if (z != NULL) {
        s.length = strlen(z);
        s.data = s.length ? (uint8_t *)(uintptr_t)z : UA_EMPTY_ARRAY;
    }
    return s;
}

bool ua_string_equal(const ua_string *a, const ua_string *b)
{
    if ((a->data == NULL) != (b->data == NULL) || a->length != b->length)
        return false;
    return a->length == 0 || memcmp(a->data, b->data, a->length) == 0;
}

char *ua_string_dup_cstr(const ua_string *s)
{
    char *z = fp_malloc(s->length + 1);
    if (z == NULL)
        return NULL;
    if (s->length)
        memcpy(z, s->data, s->length);
    z[s->length] = '\0';
    return z;
}

bool ua_guid_equal(const ua_guid *a, const ua_guid *b)
{
    return a->data1 == b->data1 && a->data2 == b->data2 && a->data3 == b->data3 &&
           memcmp(a->data4, b->data4, 8) == 0;
}

bool ua_node_id_equal(const ua_node_id *a, const ua_node_id *b)
{
    if (a->ns != b->ns || a->id_type != b->id_type)
        return false;
    switch (a->id_type) {
    case UA_NODEID_NUMERIC:
        return a->id.numeric == b->id.numeric;
    case UA_NODEID_GUID:
        return ua_guid_equal(&a->id.guid, &b->id.guid);
    default:
        return ua_string_equal(&a->id.string, &b->id.string);
    }
}

ua_node_id ua_node_id_numeric(uint16_t ns, uint32_t id)
{
    ua_node_id n;
    memset(&n, 0, sizeof n);
    n.ns = ns;
    n.id_type = UA_NODEID_NUMERIC;
    n.id.numeric = id;
    return n;
}

void *ua_variant_data(const ua_variant *v)
{
    if (v->type == NULL)
        return NULL;
    if (v->is_array || v->data != NULL)
        return v->data;
    return (void *)(uintptr_t)&v->scalar;
}

ua_status ua_variant_set_scalar_copy(ua_variant *v, const void *p, const ua_type *t)
{
    ua_clear(v, &ua_types[UA_KIND_VARIANT - 1]);
    if (t->size <= sizeof v->scalar) {
        ua_status rc = copy_value(p, &v->scalar, t);
        if (rc != UA_STATUS_GOOD) {
            memset(v, 0, sizeof *v);
            return rc;
        }
        v->type = t;
        return UA_STATUS_GOOD;
    }
    void *q = fp_malloc(t->size);
    if (q == NULL)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    ua_status rc = ua_copy(p, q, t);
    if (rc != UA_STATUS_GOOD) {
        fp_free(q);
        return rc;
    }
    v->type = t;
    v->data = q;
    return UA_STATUS_GOOD;
}

void ua_variant_set_scalar_take(ua_variant *v, void *p, const ua_type *t)
{
    ua_clear(v, &ua_types[UA_KIND_VARIANT - 1]);
    v->type = t;
    v->data = p;
}

ua_status ua_variant_set_array_copy(ua_variant *v, const void *p, size_t n, const ua_type *t)
{
    ua_clear(v, &ua_types[UA_KIND_VARIANT - 1]);
    void *a = NULL;
    ua_status rc = ua_array_copy(p, n, &a, t);
    if (rc != UA_STATUS_GOOD)
        return rc;
    if (a == NULL)
        a = UA_EMPTY_ARRAY;
    v->type = t;
    v->is_array = true;
    v->data = a;
    v->array_length = n;
    return UA_STATUS_GOOD;
}

ua_status ua_extension_object_set_copy(ua_extension_object *eo, const void *p, const ua_type *t)
{
    ua_clear(eo, &ua_types[UA_KIND_EXTENSIONOBJECT - 1]);
    void *q = fp_malloc(t->size);
    if (q == NULL)
        return UA_STATUS_BAD_OUT_OF_MEMORY;
    ua_status rc = ua_copy(p, q, t);
    if (rc != UA_STATUS_GOOD) {
        fp_free(q);
        return rc;
    }
    eo->encoding = UA_EO_DECODED;
    eo->type = t;
    eo->data = q;
    return UA_STATUS_GOOD;
}

ua_request_header *ua_request_header_of(void *msg, const ua_type *t)
{
    if (t->kind != UA_KIND_STRUCTURE || t->member_count == 0 || t->members[0].is_array ||
        t->members[0].type != UA_TYPE(REQUEST_HEADER))
        return NULL;
    return (ua_request_header *)((uint8_t *)msg + t->members[0].offset);
}

ua_response_header *ua_response_header_of(void *msg, const ua_type *t)
{
    if (t->kind != UA_KIND_STRUCTURE || t->member_count == 0 || t->members[0].is_array ||
        t->members[0].type != UA_TYPE(RESPONSE_HEADER))
        return NULL;
    return (ua_response_header *)((uint8_t *)msg + t->members[0].offset);
}
