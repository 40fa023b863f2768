/*
 * jsonsel.h - select one value from a JSON document by a data point's dataSource.
 *
 * Two spellings are accepted, told apart by the first character:
 *   - a JSON Pointer (RFC 6901): "" (the whole document), "/a/b/0", with "~0" for '~'
 *     and "~1" for '/' inside a token; a token addresses an object member by name or an
 *     array element by its decimal index;
 *   - a path: "$" (the whole document) followed by steps ".name", "['name']" (or
 *     "[\"name\"]", with backslash escapes for the quote and the backslash) and
 *     "[index]", where a negative index counts from the end ("[-1]" is the last element).
 *
 * A selector is compiled once (when the data point is added) so that a malformed one is
 * reported before the first poll, with the character position and what was expected
 * there; evaluating it against a document either yields the value or says which step did
 * not match (a missing member, an index out of range, a step into a scalar).
 */
#ifndef FP_JSONSEL_H
#define FP_JSONSEL_H

#include <jansson.h>
#include <stddef.h>

#include "fp_buf.h"
#include "fp_status.h"

typedef struct fp_jsonsel fp_jsonsel;

/* Compile sel. On success *out is a new selector (free with fp_jsonsel_free) and FP_OK
 * is returned; on a malformed selector FP_ERR_INVALID with a message in err (always
 * NUL-terminated when err_len > 0); FP_ERR_NOMEM when allocation failed. */
fp_status fp_jsonsel_compile(const char *sel, fp_jsonsel **out, char *err, size_t err_len);

/* The value sel selects in doc (borrowed from doc), or NULL with the reason in err. */
json_t *fp_jsonsel_eval(const fp_jsonsel *sel, const json_t *doc, char *err, size_t err_len);

/* The selector text as compiled. */
const char *fp_jsonsel_text(const fp_jsonsel *sel);

/* Free; NULL is a no-op. */
void fp_jsonsel_free(fp_jsonsel *sel);

#endif
