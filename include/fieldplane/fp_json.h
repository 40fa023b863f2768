/*
 * fieldplane/fp_json.h - small helpers around jansson shared by the modules that read JSON
 * (part of the connector SDK; connectors use them for error messages that name what a
 * configuration value or a device's answer was instead of what was expected).
 */
#ifndef FP_JSON_H
#define FP_JSON_H

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What kind of value v is, for error messages: "an object", "an array", "a string",
 * "a number", "a boolean" or "null". */
const char *fp_json_kind(const json_t *v);

#ifdef __cplusplus
}
#endif

#endif
