/*
 * fpc_schema.h - JSON Schema (draft-07) inference for the messages a connector publishes.
 *
 * Internal to libfieldplane-connector. A schema builder is fed the definition (the names
 * of the data points or events) and then the payloads seen; it answers whether the
 * schema changed, and gives the schema text in a canonical form (sorted keys, no
 * whitespace), so the same content always hashes the same.
 *
 * Inference: the payload is an object; each member's type is inferred from its values
 * (integer, number, string, boolean, null, array with item type, object with properties,
 * recursively, bounded in depth at 8). A member that was seen with two types gets the
 * union (integer and number widen to number; other pairs give a "type" array). Members
 * named in the definition are listed in properties even before a value was seen (without a
 * type). OPC UA-style members {"SourceTimestamp", "Value"} need no special case.
 */
#ifndef FPC_SCHEMA_H
#define FPC_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct fpc_schema fpc_schema;

/* title: the schema's title ("<asset>/<dataset>"). names: the defined member names (may be
 * NULL when n_names == 0). NULL on allocation failure. */
fpc_schema *fpc_schema_new(const char *title, const char *const *names, size_t n_names);
void fpc_schema_free(fpc_schema *s);

/* Learn from one payload (a JSON object). Returns true when the schema text changed
 * (decided on the tree, without rendering it). A payload that is not an object is
 * ignored (false). */
bool fpc_schema_observe(fpc_schema *s, const json_t *payload);

/* True when every defined name has been seen with a value at least once. The runtime
 * then samples payloads instead of parsing every one. */
bool fpc_schema_complete(const fpc_schema *s);

/* The canonical schema text (owned by s, valid until the next observe/free). It is
 * rendered on this call and not kept past the next observe, so the builder stays small
 * between registrations. NULL when out of memory. */
const char *fpc_schema_text(fpc_schema *s);

#endif
