/*
 * model_internal.h - what the model_*.c files share and nobody else needs.
 *
 * Validation errors name the offending field by its JSON path. Building that
 * path string for every field visited would cost a formatted write per field,
 * so the validator keeps a small stack of path segments instead (a key or an
 * array index each) and renders the string only when it reports an error.
 */
#ifndef FP_REGISTRY_MODEL_INTERNAL_H
#define FP_REGISTRY_MODEL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "model.h"

/* Deepest path the model ever walks is about ten segments; keep room. */
#define FP_MPATH_MAX_DEPTH 24

typedef struct fp_mpath_seg {
    const char *key; /* object key, or NULL for an array index */
    size_t idx;
} fp_mpath_seg;

typedef struct fp_mpath {
    fp_mpath_seg seg[FP_MPATH_MAX_DEPTH];
    int depth;
    int overflow; /* segments pushed beyond the array (rendered as "...") */
} fp_mpath;

void fp_mpath_init(fp_mpath *p);
void fp_mpath_push_key(fp_mpath *p, const char *key);
void fp_mpath_push_idx(fp_mpath *p, size_t idx);
void fp_mpath_pop(fp_mpath *p);

/* Render the path ("properties.datasets[2].name"), with an optional last key
 * appended, into out (always NUL-terminated, truncated if too small). Keys that
 * are not plain identifiers are written as ["key"]. */
void fp_mpath_render(const fp_mpath *p, const char *last_key, char *out, size_t out_len);

/* True when the n bytes at z are one JSON text whose top value is an object
 * (RFC 8259 grammar, nesting up to 256 levels). Allocates nothing. */
bool fp_json_text_is_object(const char *z, size_t n);

/* True for the kinds whose properties.version is written by the client
 * (discovered resources) rather than by the server. */
bool fp_model_kind_client_version(fp_kind kind);

#endif
