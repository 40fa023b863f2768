/*
 * ua_types.h - the OPC UA built-in types and the table-driven codec of libfieldplane-opcua.
 *
 * Every OPC UA data type the library knows is described by one ua_type descriptor: its
 * C size, its kind (one of the 25 built-in types, an enumeration or a structure) and,
 * for a structure, its members with their offsets. One walker (ua_encode, ua_decode,
 * ua_copy, ua_clear) handles every type through these descriptors, the way open62541
 * does. The descriptors of the structures and enumerations of the specification are
 * generated from Opc.Ua.Types.bsd into gen/ua_types_gen.h (included at the end of this
 * header), so that every type has ua_<type>_init / _clear / _copy and a descriptor
 * UA_TYPE(<TYPE>).
 *
 * Memory conventions:
 *  - A string or byte string is length + pointer. A null string has data == NULL; an
 *    empty (non-null) string has length 0 and data == UA_EMPTY_ARRAY. Arrays follow the
 *    same rule: `size_t x_count; T *x;` side by side, NULL for a null array, UA_EMPTY_ARRAY
 *    for an empty one.
 *  - A value decoded or copied owns all its heap memory; ua_clear() frees it and leaves
 *    the value initialised (all zero). Heap memory goes through fp_malloc/fp_free.
 *  - A Variant holds a scalar of up to 16 bytes (numbers, DateTime, Guid, StatusCode,
 *    String, ByteString) inside itself, so that decoding a DataValue of a number does not
 *    allocate: use ua_variant_data() to reach the value, not v->data.
 *
 * Errors are OPC UA status codes (ua_status, see ua_status.h).
 */
#ifndef UA_TYPES_H
#define UA_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fp_buf.h"
#include "opcua/ua_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ built-in types */

typedef bool ua_boolean;
typedef int8_t ua_sbyte;
typedef uint8_t ua_byte;
typedef int16_t ua_int16;
typedef uint16_t ua_uint16;
typedef int32_t ua_int32;
typedef uint32_t ua_uint32;
typedef int64_t ua_int64;
typedef uint64_t ua_uint64;
typedef float ua_float;
typedef double ua_double;

/* The pointer of an empty (non-null) string or array. Never dereferenced or freed. */
#define UA_EMPTY_ARRAY ((void *)0x01)

typedef struct ua_string {
    size_t length;
    uint8_t *data; /* NULL: null string; UA_EMPTY_ARRAY when length is 0 and not null */
} ua_string;
typedef ua_string ua_bytestring;
typedef ua_string ua_xml_element;

/* 100 ns intervals since 1601-01-01 UTC. */
typedef int64_t ua_datetime;
#define UA_DATETIME_UNIX_EPOCH 116444736000000000LL /* 1970-01-01 as a ua_datetime */

typedef struct ua_guid {
    uint32_t data1;
    uint16_t data2;
    uint16_t data3;
    uint8_t data4[8];
} ua_guid;

typedef enum ua_node_id_type {
    UA_NODEID_NUMERIC = 0,
    UA_NODEID_STRING = 3,
    UA_NODEID_GUID = 4,
    UA_NODEID_BYTESTRING = 5
} ua_node_id_type;

typedef struct ua_node_id {
    uint16_t ns;
    uint8_t id_type; /* ua_node_id_type */
    union {
        uint32_t numeric;
        ua_string string; /* also the ByteString form */
        ua_guid guid;
    } id;
} ua_node_id;

typedef struct ua_expanded_node_id {
    ua_node_id node_id;
    ua_string namespace_uri; /* null when absent */
    uint32_t server_index;
} ua_expanded_node_id;

typedef uint32_t ua_status_code;

typedef struct ua_qualified_name {
    uint16_t ns;
    ua_string name;
} ua_qualified_name;

typedef struct ua_localized_text {
    ua_string locale; /* null when absent */
    ua_string text;   /* null when absent */
} ua_localized_text;

typedef struct ua_type ua_type;

typedef enum ua_eo_encoding {
    UA_EO_NONE = 0,    /* no body */
    UA_EO_BINARY = 1,  /* opaque binary body in `body`, type_id is its encoding id */
    UA_EO_XML = 2,     /* opaque XML body in `body` */
    UA_EO_DECODED = 3, /* decoded: `type` and `data` (heap, owned) */
} ua_eo_encoding;

typedef struct ua_extension_object {
    uint8_t encoding;    /* ua_eo_encoding */
    ua_node_id type_id;  /* encoding id as received; unused for UA_EO_DECODED */
    ua_bytestring body;  /* UA_EO_BINARY / UA_EO_XML */
    const ua_type *type; /* UA_EO_DECODED */
    void *data;          /* UA_EO_DECODED */
} ua_extension_object;

typedef struct ua_variant {
    const ua_type *type; /* NULL: empty variant */
    void *data;          /* array, or heap scalar; NULL for a scalar held in `scalar` */
    size_t array_length; /* arrays only */
    size_t dims_count;   /* ArrayDimensions, 0 when absent */
    uint32_t *dims;
    bool is_array;
    union {
        uint64_t u64[2];
        double d;
        void *p;
    } scalar; /* storage for small scalars (type->size <= sizeof scalar) */
} ua_variant;

/* DataValue presence bits (ua_data_value.has), as on the wire. */
#define UA_DV_VALUE 0x01u
#define UA_DV_STATUS 0x02u
#define UA_DV_SOURCE_TIMESTAMP 0x04u
#define UA_DV_SERVER_TIMESTAMP 0x08u
#define UA_DV_SOURCE_PICOSECONDS 0x10u
#define UA_DV_SERVER_PICOSECONDS 0x20u

typedef struct ua_data_value {
    ua_variant value;
    ua_status_code status;
    ua_datetime source_timestamp;
    ua_datetime server_timestamp;
    uint16_t source_picoseconds;
    uint16_t server_picoseconds;
    uint8_t has; /* UA_DV_* bits */
} ua_data_value;

/* DiagnosticInfo presence bits (ua_diagnostic_info.has), as on the wire. */
#define UA_DI_SYMBOLIC_ID 0x01u
#define UA_DI_NAMESPACE_URI 0x02u
#define UA_DI_LOCALIZED_TEXT 0x04u
#define UA_DI_LOCALE 0x08u
#define UA_DI_ADDITIONAL_INFO 0x10u
#define UA_DI_INNER_STATUS_CODE 0x20u
#define UA_DI_INNER_DIAGNOSTIC_INFO 0x40u

typedef struct ua_diagnostic_info {
    uint8_t has; /* UA_DI_* bits */
    int32_t symbolic_id;
    int32_t namespace_uri;
    int32_t localized_text;
    int32_t locale;
    ua_string additional_info;
    ua_status_code inner_status_code;
    struct ua_diagnostic_info *inner; /* heap, owned; NULL when absent */
} ua_diagnostic_info;

/* ---------------------------------------------------------------- type descriptors */

/* Kinds 1..25 are the built-in type ids of OPC 10000-6 5.1.2. */
typedef enum ua_kind {
    UA_KIND_BOOLEAN = 1,
    UA_KIND_SBYTE,
    UA_KIND_BYTE,
    UA_KIND_INT16,
    UA_KIND_UINT16,
    UA_KIND_INT32,
    UA_KIND_UINT32,
    UA_KIND_INT64,
    UA_KIND_UINT64,
    UA_KIND_FLOAT,
    UA_KIND_DOUBLE,
    UA_KIND_STRING,
    UA_KIND_DATETIME,
    UA_KIND_GUID,
    UA_KIND_BYTESTRING,
    UA_KIND_XMLELEMENT,
    UA_KIND_NODEID,
    UA_KIND_EXPANDEDNODEID,
    UA_KIND_STATUSCODE,
    UA_KIND_QUALIFIEDNAME,
    UA_KIND_LOCALIZEDTEXT,
    UA_KIND_EXTENSIONOBJECT,
    UA_KIND_DATAVALUE,
    UA_KIND_VARIANT,
    UA_KIND_DIAGNOSTICINFO,
    UA_KIND_ENUM = 30,      /* Int32 on the wire, int32_t in C */
    UA_KIND_STRUCTURE = 31, /* members in order */
} ua_kind;

typedef struct ua_member {
    const char *name;    /* as in the schema, e.g. "NodesToRead" */
    const ua_type *type; /* element type */
    uint32_t offset;     /* of the member; for an array, of its size_t count */
    bool is_array;       /* `size_t count; T *items;` at offset */
} ua_member;

struct ua_type {
    const char *name;            /* as in the schema, e.g. "ReadRequest" */
    uint32_t type_id;            /* DataType NodeId (ns=0 numeric) */
    uint32_t binary_encoding_id; /* <Name>_Encoding_DefaultBinary, 0 if none */
    uint32_t size;               /* sizeof the C type */
    uint32_t min_encoded_size;   /* fewest bytes one value takes on the wire */
    uint8_t kind;                /* ua_kind */
    bool pointer_free;           /* no heap memory inside: copy is memcpy, clear is memset */
    uint16_t member_count;
    const ua_member *members;
    /* enumerations and option sets: their named values (NULL for other kinds) */
    uint16_t enum_count;
    const struct ua_enum_value *enum_values;
};

typedef struct ua_enum_value {
    int64_t value;
    const char *name; /* as in the schema, e.g. "Variable" */
} ua_enum_value;

/* ----------------------------------------------------------------------- the walker */

/* Limits the decoder enforces against hostile input. A zero field means the default. */
typedef struct ua_decode_limits {
    size_t max_string_length; /* bytes of one String/ByteString/XmlElement; default 16 MiB */
    size_t max_array_length;  /* elements of one array; default 16 Mi */
    uint32_t max_depth;       /* nesting of Variant/DataValue/DiagnosticInfo/ExtensionObject
                                 and structures; default 64 */
    size_t max_alloc_bytes;   /* heap bytes one decode call may allocate; default 256 MiB */
} ua_decode_limits;

#define UA_DEFAULT_MAX_STRING_LENGTH (16u * 1024 * 1024)
#define UA_DEFAULT_MAX_ARRAY_LENGTH (16u * 1024 * 1024)
#define UA_DEFAULT_MAX_DEPTH 64u
#define UA_DEFAULT_MAX_ALLOC ((size_t)256 * 1024 * 1024)

/* Set *p (of type t) to its initial all-zero value. */
void ua_init(void *p, const ua_type *t);

/* Free what *p (of type t) owns and leave it initialised. p may hold a partly decoded
 * value: every pointer is either NULL, UA_EMPTY_ARRAY or owned. */
void ua_clear(void *p, const ua_type *t);

/* Deep copy *src into *dst (uninitialised memory is fine). On failure *dst is left
 * cleared. Returns UA_STATUS_GOOD or UA_STATUS_BAD_OUT_OF_MEMORY. */
ua_status ua_copy(const void *src, void *dst, const ua_type *t);

/* Number of bytes the binary encoding of *p takes, computed without encoding or
 * allocating; 0 on an unencodable value (and for a structure without fields, which
 * encodes to nothing). */
size_t ua_encoded_size(const void *p, const ua_type *t);

/* Encode *p (of type t) into [*pos, end) and advance *pos. Returns UA_STATUS_GOOD,
 * UA_STATUS_BAD_ENCODING_LIMITS_EXCEEDED when the buffer is too small, or
 * UA_STATUS_BAD_ENCODING_ERROR on an unencodable value (e.g. a string over 2 GiB).
 * On failure the bytes before *end may have been written and *pos is unspecified. */
ua_status ua_encode(const void *p, const ua_type *t, uint8_t **pos, const uint8_t *end);

/* Encode *p into a new heap buffer *out (owned by the caller, free with fp_free or
 * ua_bytestring_clear). Errors: those of ua_encode except the buffer being too small,
 * and UA_STATUS_BAD_OUT_OF_MEMORY; on error *out is null. */
ua_status ua_encode_alloc(const void *p, const ua_type *t, ua_bytestring *out);

/* Decode one value of type t from [*pos, end) into *dst (uninitialised memory is fine)
 * and advance *pos. limits may be NULL for the defaults. On failure *dst is cleared
 * (nothing leaks) and the status is UA_STATUS_BAD_DECODING_ERROR (malformed or truncated
 * input), UA_STATUS_BAD_ENCODING_LIMITS_EXCEEDED (a limit was hit) or
 * UA_STATUS_BAD_OUT_OF_MEMORY. */
ua_status ua_decode(const uint8_t **pos, const uint8_t *end, void *dst, const ua_type *t,
                    const ua_decode_limits *limits);

/* Decode a whole buffer: like ua_decode, and it is an error
 * (UA_STATUS_BAD_DECODING_ERROR) when bytes remain. */
ua_status ua_decode_buf(const uint8_t *buf, size_t len, void *dst, const ua_type *t,
                        const ua_decode_limits *limits);

/* A service message as it travels in a secure channel message body: the NodeId of the
 * type's DefaultBinary encoding, then the encoded structure. Errors as ua_encode, and
 * UA_STATUS_BAD_ENCODING_ERROR for a type without a binary encoding id. */
ua_status ua_encode_message(const void *p, const ua_type *t, uint8_t **pos, const uint8_t *end);

/* Decode a whole message body (encoding NodeId + structure, nothing may remain): *type
 * gets the descriptor and *msg a new heap value (owned by the caller, ua_delete). Errors:
 * UA_STATUS_BAD_UNKNOWN_RESPONSE (the encoding NodeId names no known type; *type NULL),
 * and those of ua_decode_buf. On error *msg is NULL. */
ua_status ua_decode_message(const uint8_t *buf, size_t len, const ua_type **type, void **msg,
                            const ua_decode_limits *limits);

/* Arrays of n values of type t: allocate zeroed (UA_EMPTY_ARRAY for n == 0, NULL on
 * failure), deep copy, and free (clears each element, then frees the block). */
void *ua_array_new(size_t n, const ua_type *t);
ua_status ua_array_copy(const void *src, size_t n, void **dst, const ua_type *t);
void ua_array_free(void *p, size_t n, const ua_type *t);

/* Heap value of type t: allocated and initialised / cleared and freed (NULL is a no-op). */
void *ua_new(const ua_type *t);
void ua_delete(void *p, const ua_type *t);

/* The descriptor of the structure whose DefaultBinary encoding has numeric id enc_id in
 * namespace 0, or NULL. Used for ExtensionObject bodies. */
const ua_type *ua_find_type_by_encoding_id(uint32_t enc_id);
/* The descriptor of DataType ns=0;i=type_id, or NULL. */
const ua_type *ua_find_type_by_type_id(uint32_t type_id);
/* The descriptor of the type named as in the schema ("ReadRequest"), or NULL. */
const ua_type *ua_find_type_by_name(const char *name);

/* ------------------------------------------------------------------ helpers by type */

/* A String from a C string, copied (null for z == NULL). UA_STATUS_BAD_OUT_OF_MEMORY. */
ua_status ua_string_from(ua_string *s, const char *z);
/* A non-owning String over a C string: do not clear it. */
ua_string ua_string_view(const char *z);
bool ua_string_equal(const ua_string *a, const ua_string *b);
/* A NUL-terminated heap copy of s (owned by the caller, fp_free), NULL on no memory. */
char *ua_string_dup_cstr(const ua_string *s);

bool ua_node_id_equal(const ua_node_id *a, const ua_node_id *b);
/* ns=ns;i=id */
ua_node_id ua_node_id_numeric(uint16_t ns, uint32_t id);
bool ua_guid_equal(const ua_guid *a, const ua_guid *b);

/* The value inside a Variant (scalar or array), NULL for an empty variant. */
void *ua_variant_data(const ua_variant *v);
static inline bool ua_variant_is_empty(const ua_variant *v)
{
    return v->type == NULL;
}
static inline bool ua_variant_is_scalar(const ua_variant *v)
{
    return v->type != NULL && !v->is_array;
}
/* Put a copy of the scalar *p of type t into v (v's old content is cleared first). */
ua_status ua_variant_set_scalar_copy(ua_variant *v, const void *p, const ua_type *t);
/* Put the heap scalar p (from ua_new) into v, taking it over (v is cleared first). */
void ua_variant_set_scalar_take(ua_variant *v, void *p, const ua_type *t);
/* Put a copy of the n values at p into v as a one-dimensional array. */
ua_status ua_variant_set_array_copy(ua_variant *v, const void *p, size_t n, const ua_type *t);

/* The schema name of value v of enumeration t ("Variable" for NodeClass 2), or NULL. */
const char *ua_enum_name(const ua_type *t, int64_t v);

/* The structure of type t inside a scalar Variant: the Variant holds t itself or an
 * ExtensionObject decoded as t. Borrowed (owned by v); NULL otherwise. */
void *ua_variant_struct(const ua_variant *v, const ua_type *t);

/* Append the text form of *p of type t to b: the one way the tree prints OPC UA values (the
 * fieldplane-opcua tool, logs, tests). Numbers in the shortest form that reads back as the
 * same value (NaN, Infinity), strings as they are, DateTime in RFC 3339 UTC (ticks when the
 * year has no four digits), StatusCode and enumeration values by name, NodeId and
 * ExpandedNodeId in their string form, Guid without "g=", LocalizedText as its text,
 * QualifiedName as ns:name, ByteString as 0x and hex, arrays comma separated, structures as
 * {Name=value,...} (TypeName{...} inside an ExtensionObject), opaque ExtensionObjects as
 * ExtensionObject(type id,n bytes), a DataValue as its value, or its status when bad. Errors
 * are b's (fp_buf). */
void ua_print_append(fp_buf *b, const void *p, const ua_type *t);

/* ua_print_append into buf (cap bytes, NUL-terminated when cap > 0). Returns the length of
 * the full text like snprintf (>= cap means truncated), 0 when it cannot be made. */
size_t ua_print(const void *p, const ua_type *t, char *buf, size_t cap);

/* Put a copy of the structure *p of type t into an ExtensionObject (decoded form). */
ua_status ua_extension_object_set_copy(ua_extension_object *eo, const void *p, const ua_type *t);

#ifdef __cplusplus
}
#endif

#include "opcua/ua_types_gen.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The RequestHeader / ResponseHeader of a service message of type t (every request and
 * response type starts with one), or NULL when t has none. Borrowed from msg. */
ua_request_header *ua_request_header_of(void *msg, const ua_type *t);
ua_response_header *ua_response_header_of(void *msg, const ua_type *t);

#ifdef __cplusplus
}
#endif

#endif
