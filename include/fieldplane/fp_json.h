/*
 * fp_json.h - small helpers around jansson shared by the modules that read JSON.
 */
#ifndef FP_JSON_H
#define FP_JSON_H

#include <jansson.h>

/* What kind of value v is, for error messages: "an object", "an array", "a string",
 * "a number", "a boolean" or "null". */
const char *fp_json_kind(const json_t *v);

#endif
