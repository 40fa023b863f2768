/*
 * fpc_registry.h - the connector runtime's client of the registry REST API (over fpc_http).
 *
 * Internal to libfieldplane-connector. One fpc_reg holds the base URL, the token and an
 * fpc_http client (one kept-alive connection, a new one when threads ask at once), so
 * calls are safe from any thread. Errors fill `err` (when not NULL) with a message that
 * names the URL and what went wrong ("GET http://127.0.0.1:8080/api/v1/...: 404
 * NotFound: ...").
 */
#ifndef FPC_REGISTRY_H
#define FPC_REGISTRY_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>

#include "fp_status.h"

typedef struct fpc_reg fpc_reg;

/* base_url: "http://127.0.0.1:8080" (no trailing slash needed). token: the bearer token
 * (copied). cafile: PEM bundle for https registries, or NULL for the system's. NULL on
 * allocation failure or a URL that is not http(s)://host[:port][/path] (logged). */
fpc_reg *fpc_reg_new(const char *base_url, const char *token, const char *cafile);
void fpc_reg_free(fpc_reg *reg);

/* One request. path starts with "/api/v1/...". body may be NULL. On any HTTP answer the
 * return is FP_OK and *http_status is set; *out (if out != NULL) receives the parsed JSON
 * body (NULL for an empty body). FP_ERR_UNAVAILABLE when the registry cannot be reached,
 * FP_ERR_INVALID when the answer is not JSON. method: "GET", "PUT", "PATCH", "DELETE". */
fp_status fpc_reg_request(fpc_reg *reg, const char *method, const char *path, const json_t *body,
                          long *http_status, json_t **out, char *err, size_t err_len);

/* GET every page of a collection (following nextLink). path may carry a query
 * ("/api/v1/namespaces/ns/devices?endpointType=Microsoft.Http"); "/api/v1/namespaces" too.
 * *items receives a new JSON array of documents, *revision the revision of the first page.
 * Non-2xx answers are FP_ERR_* mapped from the status (404 -> FP_ERR_NOT_FOUND ...). */
fp_status fpc_reg_list(fpc_reg *reg, const char *path, json_t **items, int64_t *revision, char *err,
                       size_t err_len);

/* Watch from `since` (exclusive) for `kinds` ("Device,Asset,Secret", NULL = all), blocking.
 * on_event is called for every line (ADDED, MODIFIED, DELETED, BOOKMARK), in order, with
 * the parsed line (borrowed); a non-zero return ends the watch with FP_OK. Returns when
 * *stop becomes non-zero (checked at least every 200 ms) with FP_OK; FP_ERR_GONE on a 410
 * answer or an ERROR line (relist); FP_ERR_UNAVAILABLE when the connection fails or ends.
 * *last_revision is kept up to date with the highest revision seen (BOOKMARKs included)
 * so the caller resumes from it. */
fp_status fpc_reg_watch(fpc_reg *reg, int64_t since, const char *kinds,
                        int (*on_event)(const json_t *ev, void *arg), void *arg, atomic_int *stop,
                        int64_t *last_revision, char *err, size_t err_len);

/* Resolve a secret reference "name" or "name/key" in namespace ns. With no key, the secret's
 * only key, else the key "value". *value receives a new string. FP_ERR_NOT_FOUND names
 * the missing secret or key in err. */
fp_status fpc_reg_secret(fpc_reg *reg, const char *ns, const char *ref, char **value, char *err,
                         size_t err_len);

/* Register a message schema: make sure schema `name` exists in ns (format
 * JsonSchema/draft-07, schemaType MessageSchema), then find a version with the same
 * SHA-256 of content or PUT version (highest + 1). *version receives the version number
 * that holds `content`. Never creates a second version for the same content. */
fp_status fpc_reg_schema_register(fpc_reg *reg, const char *ns, const char *name,
                                  const char *content, const char *description, int64_t *version,
                                  char *err, size_t err_len);

#endif
