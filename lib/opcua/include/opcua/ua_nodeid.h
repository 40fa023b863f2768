/*
 * ua_nodeid.h - NodeIds and ExpandedNodeIds in the string forms users write
 * (OPC 10000-6 5.3.1.10/11): `i=2258`, `ns=3;s=Tag`, `ns=1;g=09087e75-8e5e-499b-954f-f2a9603db28a`,
 * `ns=1;b=<base64>`, `nsu=http://example.org/UA/;s=Tag`, and for ExpandedNodeIds a leading
 * `svr=<n>;`. In an nsu URI the characters ';' and '%' are percent-encoded.
 */
#ifndef UA_NODEID_H
#define UA_NODEID_H

#include <stddef.h>

#include "opcua/ua_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parse a NodeId from the NUL-terminated string z into *out (owned by the caller, clear
 * with ua_node_id_clear). A `nsu=` form is resolved through ns_array, the server's
 * NamespaceArray (ns_count entries; ns_array may be NULL when ns_count is 0).
 * Errors: UA_STATUS_BAD_NODE_ID_INVALID (syntax), UA_STATUS_BAD_NODE_ID_UNKNOWN (the nsu
 * URI is not in ns_array), UA_STATUS_BAD_OUT_OF_MEMORY. On error *out is cleared. */
ua_status ua_node_id_parse(ua_node_id *out, const char *z, const ua_string *ns_array,
                           size_t ns_count);

/* Parse an ExpandedNodeId: like ua_node_id_parse, with an optional `svr=<n>;` prefix; a
 * `nsu=` form is kept as namespace_uri (not resolved). Same errors, no BadNodeIdUnknown. */
ua_status ua_expanded_node_id_parse(ua_expanded_node_id *out, const char *z);

/* Resolve an ExpandedNodeId with a namespace URI to a NodeId through ns_array.
 * Errors: UA_STATUS_BAD_NODE_ID_UNKNOWN, UA_STATUS_BAD_OUT_OF_MEMORY. */
ua_status ua_expanded_node_id_resolve(const ua_expanded_node_id *x, const ua_string *ns_array,
                                      size_t ns_count, ua_node_id *out);

/* Print n in its string form into buf (cap bytes, always NUL-terminated when cap > 0).
 * Returns the length the full string has, like snprintf: a result >= cap means truncated. */
size_t ua_node_id_print(const ua_node_id *n, char *buf, size_t cap);
size_t ua_expanded_node_id_print(const ua_expanded_node_id *x, char *buf, size_t cap);

/* The string form as a new heap string (fp_free), NULL on no memory. */
char *ua_node_id_to_string(const ua_node_id *n);

/* A Guid in its string form 09087E75-8E5E-499B-954F-F2A9603DB28A (len bytes of z, hex digits
 * in either case). Returns false when z is not exactly that form. */
bool ua_guid_parse(const char *z, size_t len, ua_guid *g);

/* Base64 (RFC 4648, with padding) helpers used by the b= form. ua_base64_decode returns
 * UA_STATUS_BAD_DECODING_ERROR on bad input; *out is a new byte string. */
ua_status ua_base64_decode(const char *z, size_t len, ua_bytestring *out);
size_t ua_base64_encode(const uint8_t *p, size_t len, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

/* Attribute ids of Read, Write and monitored items (OPC 10000-6, AttributeIds.csv): named
 * here once, so no call site writes 13 for Value. */
enum {
    UA_ATTR_NODE_ID = 1,
    UA_ATTR_NODE_CLASS = 2,
    UA_ATTR_BROWSE_NAME = 3,
    UA_ATTR_DISPLAY_NAME = 4,
    UA_ATTR_DESCRIPTION = 5,
    UA_ATTR_WRITE_MASK = 6,
    UA_ATTR_USER_WRITE_MASK = 7,
    UA_ATTR_IS_ABSTRACT = 8,
    UA_ATTR_SYMMETRIC = 9,
    UA_ATTR_INVERSE_NAME = 10,
    UA_ATTR_CONTAINS_NO_LOOPS = 11,
    UA_ATTR_EVENT_NOTIFIER = 12,
    UA_ATTR_VALUE = 13,
    UA_ATTR_DATA_TYPE = 14,
    UA_ATTR_VALUE_RANK = 15,
    UA_ATTR_ARRAY_DIMENSIONS = 16,
    UA_ATTR_ACCESS_LEVEL = 17,
    UA_ATTR_USER_ACCESS_LEVEL = 18,
    UA_ATTR_MINIMUM_SAMPLING_INTERVAL = 19,
    UA_ATTR_HISTORIZING = 20,
    UA_ATTR_EXECUTABLE = 21,
    UA_ATTR_USER_EXECUTABLE = 22,
};

#endif
