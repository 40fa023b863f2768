/*
 * api_server.c - the registry's HTTP server: libmicrohttpd setup, request
 * reading with a body limit, authentication, routing, responses, metrics, and
 * the open endpoints (/healthz, the web UI's files).
 *
 * A request is authenticated on its headers, before its body is read: no or an
 * unknown token answers 401 at once, a Content-Length over the limit is never
 * held, and only an authenticated request's body is kept, so a client without a
 * token cannot make the registry hold bodies in memory.
 *
 * libmicrohttpd runs one thread per connection, so a handler may block (the
 * watch stream waits on the store) without holding up other clients, and a
 * keep-alive client gets its requests served on one warm thread.
 */
#include "api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fp_alloc.h"
#include "fp_json.h"
#include "fp_log.h"
#include "fp_time.h"
#include "web_assets.h"

#ifndef FP_HAVE_WEB
/* Without the web UI target the registry serves a one-page notice instead. */
static const unsigned char k_no_ui[] =
    "<!doctype html><title>Fieldplane</title><p>The Fieldplane registry is running. "
    "This build has no web UI; use the fieldplane command or the REST API at /api/v1.</p>";
const fp_web_asset fp_web_assets[] = {
    {"/index.html", "text/html; charset=utf-8", k_no_ui, sizeof k_no_ui - 1},
    {NULL, NULL, NULL, 0},
};
#endif

/* The OpenAPI document, embedded from docs/openapi.json at build time. */
extern const unsigned char fp_openapi_json[];
extern const size_t fp_openapi_json_len;

/* ---------------------------------------------------------------------------
 * Metrics
 * ------------------------------------------------------------------------- */

static const char *const k_route_name[FP_ROUTE_COUNT] = {
    [FP_ROUTE_OTHER] = "other",
    [FP_ROUTE_HEALTHZ] = "healthz",
    [FP_ROUTE_METRICS] = "metrics",
    [FP_ROUTE_WEB] = "web",
    [FP_ROUTE_WHOAMI] = "whoami",
    [FP_ROUTE_OPENAPI] = "openapi",
    [FP_ROUTE_AUDIT] = "audit",
    [FP_ROUTE_WATCH] = "watch",
    [FP_ROUTE_NAMESPACES] = "namespaces",
    [FP_ROUTE_DEVICES] = "devices",
    [FP_ROUTE_ASSETS] = "assets",
    [FP_ROUTE_DISCOVERED_DEVICES] = "discoveredDevices",
    [FP_ROUTE_DISCOVERED_ASSETS] = "discoveredAssets",
    [FP_ROUTE_SCHEMAS] = "schemas",
    [FP_ROUTE_SCHEMA_VERSIONS] = "schemaVersions",
    [FP_ROUTE_SECRETS] = "secrets",
    [FP_ROUTE_STATUS] = "status",
    [FP_ROUTE_LIVE] = "live",
};

static const int k_codes[] = {200, 201, 204, 304, 400, 401, 403, 404,
                              405, 409, 410, 412, 413, 500, 503};
#define N_CODES ((int)(sizeof k_codes / sizeof k_codes[0]))
static const double k_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                   0.01,   0.025,   0.05,   0.1,   0.5,    1.0};
#define N_BUCKETS ((int)(sizeof k_buckets / sizeof k_buckets[0]))

static atomic_ullong g_requests[FP_ROUTE_COUNT][N_CODES + 1];
static atomic_ullong g_hist[FP_ROUTE_COUNT][N_BUCKETS + 1];
static atomic_ullong g_hist_sum_us[FP_ROUTE_COUNT];
static atomic_int g_watch_clients;

void fp_metrics_watch_clients(int delta)
{
    atomic_fetch_add(&g_watch_clients, delta);
}

/* Count one finished request. */
static void metrics_count(fp_route route, int code, double seconds)
{
    int ci = N_CODES, bi = N_BUCKETS;
    for (int i = 0; i < N_CODES; i++)
        if (k_codes[i] == code) {
            ci = i;
            break;
        }
    atomic_fetch_add(&g_requests[route][ci], 1);
    for (int i = 0; i < N_BUCKETS; i++)
        if (seconds <= k_buckets[i]) {
            bi = i;
            break;
        }
    atomic_fetch_add(&g_hist[route][bi], 1);
    atomic_fetch_add(&g_hist_sum_us[route], (unsigned long long)(seconds * 1e6));
}

/* Resource counts by kind that the token may see: all of them, or for a token limited
 * to a namespace that namespace's only, without the count of namespaces (-1), as the
 * token may not learn what else the registry holds. */
static fp_status metrics_counts(const fp_req *q, int64_t counts[FP_KIND_COUNT])
{
    if (!q->tok.ns[0])
        return fp_store_count_all(q->reg->store, counts);
    for (int k = 0; k < FP_KIND_COUNT; k++) {
        counts[k] = -1;
        if (k != FP_KIND_NAMESPACE && fp_store_count(q->reg->store, k, q->tok.ns, &counts[k]))
            return FP_ERR_IO;
    }
    return FP_OK;
}

void fp_api_metrics(fp_req *q, fp_resp *r)
{
    fp_buf b;
    int64_t counts[FP_KIND_COUNT];

    fp_buf_init(&b, 1 << 20);
    fp_buf_append_str(&b, "# HELP fieldplane_http_requests_total HTTP requests by route and "
                          "status code.\n# TYPE fieldplane_http_requests_total counter\n");
    for (int rt = 0; rt < FP_ROUTE_COUNT; rt++)
        for (int c = 0; c <= N_CODES; c++) {
            unsigned long long n = atomic_load(&g_requests[rt][c]);
            if (n)
                fp_buf_printf(&b,
                              "fieldplane_http_requests_total{route=\"%s\",code=\"%s%d\"} %llu\n",
                              k_route_name[rt], c == N_CODES ? "other" : "",
                              c == N_CODES ? 0 : k_codes[c], n);
        }
    fp_buf_append_str(&b, "# HELP fieldplane_http_request_duration_seconds Time to answer a "
                          "request (streams: to their first byte).\n"
                          "# TYPE fieldplane_http_request_duration_seconds histogram\n");
    for (int rt = 0; rt < FP_ROUTE_COUNT; rt++) {
        unsigned long long cum = 0, total = 0;
        for (int i = 0; i <= N_BUCKETS; i++)
            total += atomic_load(&g_hist[rt][i]);
        if (!total)
            continue;
        for (int i = 0; i < N_BUCKETS; i++) {
            cum += atomic_load(&g_hist[rt][i]);
            fp_buf_printf(&b,
                          "fieldplane_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} "
                          "%llu\n",
                          k_route_name[rt], k_buckets[i], cum);
        }
        fp_buf_printf(&b,
                      "fieldplane_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} "
                      "%llu\n"
                      "fieldplane_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                      "fieldplane_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                      k_route_name[rt], total, k_route_name[rt],
                      (double)atomic_load(&g_hist_sum_us[rt]) / 1e6, k_route_name[rt], total);
    }
    if (metrics_counts(q, counts) == FP_OK) {
        fp_buf_append_str(&b, "# HELP fieldplane_resources Stored resources by kind.\n"
                              "# TYPE fieldplane_resources gauge\n");
        for (int k = 0; k < FP_KIND_COUNT; k++)
            if (counts[k] >= 0)
                fp_buf_printf(&b, "fieldplane_resources{kind=\"%s\"} %lld\n",
                              fp_kind_name((fp_kind)k), (long long)counts[k]);
    }
    fp_buf_printf(&b,
                  "# HELP fieldplane_watch_clients Open watch streams.\n"
                  "# TYPE fieldplane_watch_clients gauge\nfieldplane_watch_clients %d\n"
                  "# HELP fieldplane_revision The last committed revision.\n"
                  "# TYPE fieldplane_revision gauge\nfieldplane_revision %lld\n",
                  atomic_load(&g_watch_clients), (long long)fp_store_revision(q->reg->store));
    fp_resp_buf(r, 200, &b, "text/plain; version=0.0.4; charset=utf-8");
}

/* ---------------------------------------------------------------------------
 * Responses
 * ------------------------------------------------------------------------- */

void fp_resp_json(fp_resp *r, int http, json_t *json)
{
    r->status = http;
    r->body = json ? json_dumps(json, JSON_COMPACT) : NULL;
    r->body_len = r->body ? strlen(r->body) : 0;
    r->content_type = "application/json";
    json_decref(json);
}

void fp_resp_buf(fp_resp *r, int http, fp_buf *b, const char *content_type)
{
    if (b->err) {
        fp_buf_clear(b);
        fp_resp_error(r, 500, "InternalError", NULL, NULL, "response too large or out of memory");
        return;
    }
    r->status = http;
    r->body = fp_buf_take(b, &r->body_len);
    r->content_type = content_type;
}

/* A JSON string of z. Messages quote what the client sent (a path, a name), which may be
 * any bytes, and jansson refuses text that is not UTF-8 (the body would be empty): such
 * text goes through the one escaper, which puts U+FFFD for each stray byte. */
static json_t *json_text(const char *z)
{
    json_t *j = json_string(z);
    fp_buf b;

    if (j)
        return j;
    fp_buf_init(&b, 1 << 16);
    if (fp_json_quote_buf(&b, z, strlen(z)) == FP_OK)
        j = json_loadb(b.data, b.len, JSON_DECODE_ANY, NULL);
    fp_buf_clear(&b);
    return j ? j : json_string("(unprintable)");
}

/* Fill the error body from a va_list message. */
static void error_v(fp_resp *r, int http, const char *code, const char *target, json_t *details,
                    const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));

static void error_v(fp_resp *r, int http, const char *code, const char *target, json_t *details,
                    const char *fmt, va_list ap)
{
    char msg[1024];
    json_t *err;

    vsnprintf(msg, sizeof msg, fmt, ap);
    err = json_pack("{s:s, s:o}", "code", code, "message", json_text(msg));
    if (target && *target)
        json_object_set_new(err, "target", json_text(target));
    json_object_set_new(err, "details", details ? details : json_array());
    fp_free(r->body);
    r->body = NULL;
    fp_resp_json(r, http, json_pack("{s:o}", "error", err));
}

void fp_resp_error(fp_resp *r, int http, const char *code, const char *target, json_t *details,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_v(r, http, code, target, details, fmt, ap);
    va_end(ap);
}

void fp_resp_status(fp_resp *r, fp_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_v(r, fp_status_http(st), fp_status_name(st), NULL, NULL, fmt, ap);
    va_end(ap);
}

void fp_resp_verr(fp_resp *r, const fp_verr *err)
{
    fp_status st = err->status ? err->status : FP_ERR_INVALID;
    fp_resp_error(r, fp_status_http(st), err->code[0] ? err->code : fp_status_name(st), err->target,
                  NULL, "%s", err->message);
}

void fp_buf_url_encode(fp_buf *b, const char *z)
{
    for (; *z; z++) {
        unsigned char ch = (unsigned char)*z;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~')
            fp_buf_append(b, z, 1);
        else
            fp_buf_printf(b, "%%%02X", ch);
    }
}

/* ---------------------------------------------------------------------------
 * Requests
 * ------------------------------------------------------------------------- */

const char *fp_req_arg(const fp_req *q, const char *key)
{
    return MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *fp_req_header(const fp_req *q, const char *key)
{
    return MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, key);
}

json_t *fp_req_json(const fp_req *q, fp_resp *r)
{
    json_error_t jerr;
    json_t *j;

    if (q->body.len == 0) {
        fp_resp_error(r, 400, "InvalidJson", NULL, NULL,
                      "the request has no body; send a JSON "
                      "document");
        return NULL;
    }
    j = json_loadb(q->body.data, q->body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        fp_resp_error(r, 400, "InvalidJson", NULL, NULL, "malformed JSON at line %d, column %d: %s",
                      jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        fp_resp_error(r, 400, "InvalidJson", NULL, NULL, "the body must be a JSON object");
        return NULL;
    }
    return j;
}

/*
 * Decide whether the request's token may do action in namespace ns (NULL for
 * none). Actions: read, write (devices, assets), write-namespace, write-discovered
 * (discovered resources and schemas), status, secret-write, secret-read, audit.
 */
bool fp_req_can(const fp_req *q, const char *action, const char *ns, fp_resp *r)
{
    const char *role = q->tok.role;
    bool ok;

    if (q->tok.ns[0] && (!ns || strcmp(ns, q->tok.ns) != 0)) {
        fp_resp_error(r, 403, "Forbidden", NULL, NULL, "this token is limited to namespace '%s'",
                      q->tok.ns);
        return false;
    }
    if (strcmp(action, "write-namespace") == 0 && q->tok.ns[0]) {
        fp_resp_error(r, 403, "Forbidden", NULL, NULL,
                      "a token limited to namespace '%s' cannot create or delete namespaces",
                      q->tok.ns);
        return false;
    }
    if (strcmp(role, "admin") == 0)
        return true;
    if (strcmp(action, "read") == 0)
        ok = true;
    else if (strcmp(action, "write") == 0)
        ok = strcmp(role, "operator") == 0;
    else if (strcmp(action, "write-discovered") == 0 || strcmp(action, "status") == 0)
        ok = strcmp(role, "operator") == 0 || strcmp(role, "connector") == 0;
    else if (strcmp(action, "secret-write") == 0)
        ok = strcmp(role, "operator") == 0;
    else if (strcmp(action, "secret-read") == 0)
        ok = strcmp(role, "connector") == 0;
    else if (strcmp(action, "audit") == 0)
        ok = strcmp(role, "operator") == 0 || strcmp(role, "viewer") == 0;
    else
        ok = false; /* write-namespace and anything unknown: admin only */
    if (!ok)
        fp_resp_error(r, 403, "Forbidden", NULL, NULL, "role '%s' may not %s here", role,
                      strcmp(action, "read") == 0 ? "read" : action);
    return ok;
}

/* Split the path into segments (in q->path_copy). */
static void split_path(fp_req *q)
{
    char *p, *save = NULL;

    q->path_copy = fp_strdup(q->url);
    q->n_seg = 0;
    if (!q->path_copy)
        return;
    for (p = strtok_r(q->path_copy, "/", &save); p && q->n_seg < FP_MAX_SEGMENTS;
         p = strtok_r(NULL, "/", &save))
        q->seg[q->n_seg++] = p;
    if (p) /* too many segments */
        q->n_seg = FP_MAX_SEGMENTS + 1;
}

/* Classify the request path into a route (for handlers and metrics). */
static fp_route classify(const fp_req *q)
{
    const char *const *s = q->seg;
    int n = q->n_seg;

    if (n == 1 && strcmp(s[0], "healthz") == 0)
        return FP_ROUTE_HEALTHZ;
    if (n == 1 && strcmp(s[0], "metrics") == 0)
        return FP_ROUTE_METRICS;
    if (n < 2 || strcmp(s[0], "api") != 0 || strcmp(s[1], "v1") != 0)
        return FP_ROUTE_WEB;
    if (n == 3 && strcmp(s[2], "whoami") == 0)
        return FP_ROUTE_WHOAMI;
    if (n == 3 && strcmp(s[2], "openapi.json") == 0)
        return FP_ROUTE_OPENAPI;
    if (n == 3 && strcmp(s[2], "audit") == 0)
        return FP_ROUTE_AUDIT;
    if (n == 3 && strcmp(s[2], "watch") == 0)
        return FP_ROUTE_WATCH;
    if (n < 3 || strcmp(s[2], "namespaces") != 0 || n > 9)
        return FP_ROUTE_OTHER;
    if (n <= 4)
        return FP_ROUTE_NAMESPACES;
    if (strcmp(s[4], "secrets") == 0)
        return n <= 7 ? FP_ROUTE_SECRETS : FP_ROUTE_OTHER;
    if (n == 7 && strcmp(s[6], "status") == 0 && strcmp(s[4], "schemas") != 0)
        return FP_ROUTE_STATUS;
    if (n == 7 && strcmp(s[4], "assets") == 0 && strcmp(s[6], "live") == 0)
        return FP_ROUTE_LIVE;
    if (strcmp(s[4], "schemas") == 0) {
        if (n >= 7 && strcmp(s[6], "versions") == 0 && n <= 8)
            return FP_ROUTE_SCHEMA_VERSIONS;
        return n <= 6 ? FP_ROUTE_SCHEMAS : FP_ROUTE_OTHER;
    }
    if (n > 6)
        return FP_ROUTE_OTHER;
    if (strcmp(s[4], "devices") == 0)
        return FP_ROUTE_DEVICES;
    if (strcmp(s[4], "assets") == 0)
        return FP_ROUTE_ASSETS;
    if (strcmp(s[4], "discoveredDevices") == 0)
        return FP_ROUTE_DISCOVERED_DEVICES;
    if (strcmp(s[4], "discoveredAssets") == 0)
        return FP_ROUTE_DISCOVERED_ASSETS;
    return FP_ROUTE_OTHER;
}

/* ---------------------------------------------------------------------------
 * Open endpoints and small handlers
 * ------------------------------------------------------------------------- */

/* Content type from a file name (for FIELDPLANE_WEB_DIR). */
static const char *content_type_of(const char *path)
{
    static const struct {
        const char *ext, *type;
    } k_types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".json", "application/json"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof k_types / sizeof k_types[0]; i++)
        if (strcmp(dot, k_types[i].ext) == 0)
            return k_types[i].type;
    return "application/octet-stream";
}

/* /ui/model.js: the rules of lib/model as an ES module, so that the web UI's forms show and
 * check what the registry enforces instead of a copy of their own:
 *   export const nameRules = {"Namespace": {minLength, maxLength, pattern, text}, ...};
 *   export const endpointTypes = [{type, label, example}, ...];
 * name rules keyed by kind name, with "Secret" for secret names. Made from the tables on each
 * request (they are small); nothing in it is secret, so it is served without a token, like
 * the UI. */
static json_t *model_name_rules(void)
{
    json_t *rules = json_object();
    for (int k = 0; rules && k <= FP_KIND_SECRET; k++) {
        const fp_name_rule *rule = fp_model_name_rule((fp_kind)k);
        json_t *row =
            json_pack("{s:I, s:I, s:s, s:s}", "minLength", (json_int_t)rule->min_len, "maxLength",
                      (json_int_t)rule->max_len, "pattern", rule->pattern, "text", rule->text);
        if (!row || json_object_set_new(
                        rules, k == FP_KIND_SECRET ? "Secret" : fp_kind_name((fp_kind)k), row)) {
            json_decref(rules);
            rules = NULL;
        }
    }
    return rules;
}

static json_t *model_endpoint_types(void)
{
    size_t n;
    const fp_endpoint_type *t = fp_endpoint_types(&n);
    json_t *types = json_array();
    for (size_t i = 0; types && i < n; i++) {
        json_t *row = json_pack("{s:s, s:s, s:s}", "type", t[i].type, "label", t[i].label,
                                "example", t[i].example);
        if (!row || json_array_append_new(types, row)) {
            json_decref(types);
            types = NULL;
        }
    }
    return types;
}

static void serve_model_js(fp_resp *r)
{
    json_t *rules = model_name_rules(), *types = model_endpoint_types();
    char *rules_text = rules ? json_dumps(rules, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    char *types_text = types ? json_dumps(types, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    fp_buf b;

    json_decref(rules);
    json_decref(types);
    if (!rules_text || !types_text) {
        free(rules_text);
        free(types_text);
        fp_resp_status(r, FP_ERR_NOMEM, "out of memory");
        return;
    }
    fp_buf_init(&b, 1u << 20);
    fp_buf_printf(&b,
                  "// Generated by the registry from lib/model (fp_model.h): the name rules it "
                  "enforces\n// and the endpoint types it knows by name.\n"
                  "export const nameRules = %s;\nexport const endpointTypes = %s;\n",
                  rules_text, types_text);
    free(rules_text);
    free(types_text);
    fp_resp_buf(r, 200, &b, "text/javascript; charset=utf-8");
}

/* Serve the web UI: embedded files, or FIELDPLANE_WEB_DIR in development. */
static void serve_web(fp_req *q, fp_resp *r)
{
    const char *path = q->url;
    const char *dir = getenv("FIELDPLANE_WEB_DIR");

    if (strcmp(q->method, "GET") != 0 && strcmp(q->method, "HEAD") != 0) {
        fp_resp_error(r, 405, "MethodNotAllowed", NULL, NULL, "%s is not allowed on %s", q->method,
                      q->url);
        return;
    }
    if (strcmp(path, "/") == 0 || strcmp(path, "/ui") == 0 || strcmp(path, "/ui/") == 0)
        path = "/index.html";
    if (strcmp(path, "/ui/model.js") == 0) {
        serve_model_js(r);
        return;
    }
    if (dir && *dir && !strstr(path, "..")) {
        char file[4096];
        fp_buf b;
        FILE *f;
        /* The folder mirrors URL paths: FIELDPLANE_WEB_DIR=web serves web/ui/app.js at /ui/app.js.
         */
        snprintf(file, sizeof file, "%s%s", dir, path);
        f = fopen(file, "rb");
        if (f) {
            char chunk[8192];
            size_t n;
            fp_buf_init(&b, 64u << 20);
            while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
                fp_buf_append(&b, chunk, n);
            fclose(f);
            fp_resp_buf(r, 200, &b, content_type_of(file));
            return;
        }
    }
    for (const fp_web_asset *a = fp_web_assets; a->path; a++) {
        if (strcmp(a->path, path) == 0 ||
            (strncmp(path, "/ui/", 4) == 0 && strcmp(a->path, path + 3) == 0)) {
            r->status = 200;
            r->body = fp_malloc(a->len + 1);
            if (!r->body) {
                fp_resp_status(r, FP_ERR_NOMEM, "out of memory");
                return;
            }
            memcpy(r->body, a->data, a->len);
            r->body_len = a->len;
            r->content_type = a->content_type;
            return;
        }
    }
    fp_resp_error(r, 404, "NotFound", NULL, NULL, "no such page or API path: %s", q->url);
}

static void handle_healthz(fp_req *q, fp_resp *r)
{
    fp_resp_json(r, 200,
                 json_pack("{s:s, s:I}", "status", "ok", "revision",
                           (json_int_t)fp_store_revision(q->reg->store)));
}

static void handle_whoami(fp_req *q, fp_resp *r)
{
    fp_resp_json(r, 200,
                 json_pack("{s:s, s:s, s:s?}", "id", q->tok.id, "role", q->tok.role, "namespace",
                           q->tok.ns[0] ? q->tok.ns : NULL));
}

static void handle_openapi(fp_req *q, fp_resp *r)
{
    r->status = 200;
    r->body = fp_malloc(fp_openapi_json_len + 1);
    if (!r->body) {
        fp_resp_status(r, FP_ERR_NOMEM, "out of memory");
        return;
    }
    memcpy(r->body, fp_openapi_json, fp_openapi_json_len);
    r->body_len = fp_openapi_json_len;
    r->content_type = "application/json";
}

/*
 * libmicrohttpd decodes the path and the query in place, so "%00" would become a NUL
 * and cut a name short without a word ("a%00b" served as "a"). Text holding "%00" is
 * left as it was sent instead: the path is refused on it (on_request), and a query
 * value keeps the three characters, which no name or number accepts.
 */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *z)
{
    (void)cls;
    (void)conn;
    if (strstr(z, "%00"))
        return strlen(z);
    return MHD_http_unescape(z);
}

/* Authenticate from "Authorization: Bearer" (or ?access_token= for streams). */
static bool authenticate(fp_req *q, fp_resp *r)
{
    const char *h = fp_req_header(q, MHD_HTTP_HEADER_AUTHORIZATION);
    const char *tok = NULL;

    if (h && strncasecmp(h, "Bearer ", 7) == 0)
        tok = h + 7;
    else if (!h && (q->route == FP_ROUTE_WATCH || q->route == FP_ROUTE_LIVE))
        tok = fp_req_arg(q, "access_token");
    if (!tok) {
        fp_resp_error(r, 401, "Unauthorized", NULL, NULL,
                      "missing token: send 'Authorization: Bearer <token>' (fieldplane up "
                      "printed where the admin token is)");
        return false;
    }
    while (*tok == ' ')
        tok++;
    if (fp_store_token_check(q->reg->store, tok, &q->tok) != FP_OK) {
        fp_resp_error(r, 401, "Unauthorized", NULL, NULL, "unknown or revoked token");
        return false;
    }
    q->authed = true;
    return true;
}

void fp_token_hold_init(fp_token_hold *h, const fp_req *q)
{
    h->store = q->reg->store;
    snprintf(h->id, sizeof h->id, "%s", q->tok.id);
    h->checked_ms = fp_mono_ms();
}

bool fp_token_hold_revoked(fp_token_hold *h)
{
    uint64_t now = fp_mono_ms();

    if (now - h->checked_ms < FP_TOKEN_RECHECK_MS)
        return false;
    h->checked_ms = now;
    return !fp_store_token_live(h->store, h->id);
}

/* Route an authenticated or open request to its handler. */
static void dispatch(fp_req *q, fp_resp *r)
{
    if (q->n_seg > FP_MAX_SEGMENTS) {
        fp_resp_error(r, 404, "NotFound", NULL, NULL, "no such path: %s", q->url);
        return;
    }
    if ((q->route == FP_ROUTE_HEALTHZ || q->route == FP_ROUTE_METRICS ||
         q->route == FP_ROUTE_WHOAMI || q->route == FP_ROUTE_OPENAPI) &&
        strcmp(q->method, "GET") != 0 && strcmp(q->method, "HEAD") != 0) {
        fp_resp_error(r, 405, "MethodNotAllowed", NULL, NULL, "%s is not allowed on %s; use GET",
                      q->method, q->url);
        return;
    }
    if (q->route == FP_ROUTE_HEALTHZ) {
        handle_healthz(q, r);
        return;
    }
    if (q->route == FP_ROUTE_WEB) {
        serve_web(q, r);
        return;
    }
    if (!q->authed && !authenticate(q, r))
        return;
    if (q->body_too_large) {
        fp_resp_error(r, 413, "PayloadTooLarge", NULL, NULL,
                      "the request body is larger than the limit of %zu bytes",
                      q->reg->opts.max_body);
        return;
    }
    switch (q->route) {
    case FP_ROUTE_METRICS:
        fp_api_metrics(q, r);
        break;
    case FP_ROUTE_WHOAMI:
        handle_whoami(q, r);
        break;
    case FP_ROUTE_OPENAPI:
        handle_openapi(q, r);
        break;
    case FP_ROUTE_AUDIT:
        fp_api_audit(q, r);
        break;
    case FP_ROUTE_WATCH:
        fp_api_watch(q, r);
        break;
    case FP_ROUTE_SECRETS:
        fp_api_secret(q, r);
        break;
    case FP_ROUTE_STATUS:
        fp_api_status(q, r);
        break;
    case FP_ROUTE_LIVE:
        fp_api_live(q, r);
        break;
    case FP_ROUTE_OTHER:
        fp_resp_error(r, 404, "NotFound", NULL, NULL, "no such API path: %s", q->url);
        break;
    default:
        fp_api_resource(q, r);
        break;
    }
}

/* Queue r on the connection (with the usual headers) and release it. */
static enum MHD_Result send_resp(fp_req *q, fp_resp *r)
{
    struct MHD_Response *resp = r->stream;
    enum MHD_Result ret;

    if (!resp) {
        resp = MHD_create_response_from_buffer(r->body_len, r->body ? r->body : (void *)"",
                                               r->body ? MHD_RESPMEM_MUST_FREE
                                                       : MHD_RESPMEM_PERSISTENT);
        if (!resp) {
            fp_free(r->body);
            return MHD_NO;
        }
        r->body = NULL;
        if (r->content_type)
            MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    }
    if (r->etag[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, r->etag);
    if (r->location[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->location);
    if (r->status == 401)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"fieldplane\"");
    if (r->close)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (q->route == FP_ROUTE_WEB)
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; style-src 'self' "
                                "'unsafe-inline'; connect-src 'self'");
    else
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    ret = MHD_queue_response(q->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* What the framing headers of a request say, gathered by framing_header(). */
typedef struct framing {
    const char *content_length; /* the first Content-Length */
    bool lengths_differ;        /* another Content-Length with a different value */
    bool transfer_encoding;
} framing;

static enum MHD_Result framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    framing *f = cls;

    (void)kind;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (!f->content_length)
            f->content_length = value;
        else if (strcmp(f->content_length, value) != 0)
            f->lengths_differ = true;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->transfer_encoding = true;
    }
    return MHD_YES;
}

/*
 * Refuse a request whose length two parties could read differently (RFC 9112, 6.3):
 * two Content-Length headers that disagree, or Content-Length beside
 * Transfer-Encoding. libmicrohttpd 0.9.75 takes one of them and runs what is left as
 * the next request, and a proxy in front may take the other: a request smuggled past
 * the proxy. Returns true with 400 in r; the caller closes the connection.
 */
static bool framing_is_ambiguous(fp_req *q, fp_resp *r)
{
    framing f = {0};

    MHD_get_connection_values(q->conn, MHD_HEADER_KIND, framing_header, &f);
    if (f.lengths_differ) {
        fp_resp_error(r, 400, "InvalidRequest", NULL, NULL,
                      "the request has two Content-Length headers with different values");
        return true;
    }
    if (f.content_length && f.transfer_encoding) {
        fp_resp_error(r, 400, "InvalidRequest", NULL, NULL,
                      "the request has both Content-Length and Transfer-Encoding; send one");
        return true;
    }
    return false;
}

/* Whether the request says a body follows (a non-zero Content-Length, or chunks). */
static bool has_body(const fp_req *q)
{
    const char *zlen = fp_req_header(q, MHD_HTTP_HEADER_CONTENT_LENGTH);

    if (fp_req_header(q, MHD_HTTP_HEADER_TRANSFER_ENCODING))
        return true;
    return zlen && strspn(zlen, "0 ") != strlen(zlen);
}

/* Send r as the answer to q, count it and log it. */
static enum MHD_Result answer(fp_req *q, fp_resp *r)
{
    enum MHD_Result ret;

    if (!r->status)
        fp_resp_error(r, 500, "InternalError", NULL, NULL, "no response was produced");
    ret = send_resp(q, r);
    metrics_count(q->route, r->status, fp_mono_s() - q->t_start);
    if (r->status >= 500)
        fp_log_warn("api", "%s %s -> %d", q->method, q->url, r->status);
    else
        fp_log_debug("api", "%s %s -> %d", q->method, q->url, r->status);
    return ret;
}

/*
 * Decide on the headers alone what becomes of the request's body. A request to an
 * authenticated route with no or an unknown token answers 401 at once, before a byte
 * of its body is read: otherwise anyone who can connect pins a body's worth of memory
 * per connection. With a valid token, a declared Content-Length over --max-body marks
 * the body to be discarded as it arrives; a client that waits for "100 Continue"
 * (curl, so the CLI) gets the 413 at once and never sends it, while one that sends
 * straight on gets it after the body, as answering early would make it fail on a
 * broken pipe without seeing the answer. Returns true when r holds an early answer.
 */
static bool answer_on_headers(fp_req *q, fp_resp *r)
{
    const char *zlen, *zexpect;
    unsigned long long n;
    char *end;

    if (q->route == FP_ROUTE_HEALTHZ || q->route == FP_ROUTE_WEB)
        return false; /* open routes: their bodies are never kept (see on_request) */
    if (q->n_seg > FP_MAX_SEGMENTS)
        return false; /* 404 from dispatch, body discarded */
    if (!authenticate(q, r))
        return true;
    zlen = fp_req_header(q, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!zlen)
        return false;
    n = strtoull(zlen, &end, 10);
    if (end == zlen || n <= q->reg->opts.max_body)
        return false;
    q->body_too_large = true;
    zexpect = fp_req_header(q, MHD_HTTP_HEADER_EXPECT);
    if (!zexpect || strcasecmp(zexpect, "100-continue") != 0)
        return false;
    fp_resp_error(r, 413, "PayloadTooLarge", NULL, NULL,
                  "the request body (Content-Length %llu) is larger than the limit of %zu bytes", n,
                  q->reg->opts.max_body);
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **ctx)
{
    fp_registry *reg = cls;
    fp_req *q = *ctx;
    fp_resp r;

    if (!q) {
        q = fp_calloc(1, sizeof *q);
        if (!q)
            return MHD_NO;
        q->reg = reg;
        q->conn = conn;
        q->method = method;
        q->url = url;
        q->t_start = fp_mono_s();
        fp_buf_init(&q->body, reg->opts.max_body);
        split_path(q);
        q->route = q->path_copy ? classify(q) : FP_ROUTE_OTHER;
        *ctx = q;
        memset(&r, 0, sizeof r);
        if (strstr(url, "%00"))
            fp_resp_error(&r, 400, "InvalidRequest", NULL, NULL,
                          "the path holds %%00 (a NUL byte), which no name may contain");
        else if (!framing_is_ambiguous(q, &r)) {
            /* Without a body there is nothing to protect: such a request is answered
             * as usual, and keeps its connection (an early answer closes it). */
            if (!has_body(q) || !answer_on_headers(q, &r))
                return MHD_YES;
        }
        /* Answered before the body: the connection closes after the answer, as the
         * unread body would otherwise be taken for the next request. */
        q->answered = true;
        r.close = true;
        return answer(q, &r);
    }
    if (*upload_data_size) {
        /* Only an authenticated request keeps its body; an open route never uses one. */
        if (q->authed && !q->answered && !q->body_too_large &&
            fp_buf_append(&q->body, upload_data, *upload_data_size) == FP_ERR_TOO_LARGE)
            q->body_too_large = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (q->answered)
        return MHD_YES;
    memset(&r, 0, sizeof r);
    dispatch(q, &r);
    q->answered = true;
    return answer(q, &r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **ctx,
                         enum MHD_RequestTerminationCode toe)
{
    fp_req *q = *ctx;
    if (!q)
        return;
    fp_buf_clear(&q->body);
    fp_free(q->path_copy);
    fp_free(q);
    *ctx = NULL;
}

/* ---------------------------------------------------------------------------
 * Start and stop
 * ------------------------------------------------------------------------- */

void fp_registry_db_path(const char *data_dir, char *out, size_t out_len)
{
    snprintf(out, out_len, "%s/registry.db", data_dir);
}

/* mkdir -p with mode 0700 for what it creates. */
static int make_dirs(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static bool count_token(void *ctx, const fp_token *tok)
{
    (*(int *)ctx)++;
    return true;
}

/* Create the first admin token in an open store that has none, and write it to
 * DATA/admin.token (0600). */
static fp_status first_admin_token(fp_store *st, const char *data_dir, bool *created)
{
    char path[1100], text[128];
    fp_token tok;
    int n = 0, fd;
    fp_status rc;

    *created = false;
    fp_store_token_list(st, count_token, &n);
    if (n > 0)
        return FP_OK;
    rc = fp_store_token_create(st, "admin", "", "created on first start", text, sizeof text, &tok);
    if (rc)
        return rc;
    snprintf(path, sizeof path, "%s/admin.token", data_dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || dprintf(fd, "%s\n", text) < 0) {
        fp_log_error("registry", "cannot write %s: %s", path, strerror(errno));
        rc = FP_ERR_IO;
    } else {
        *created = true;
        fp_log_info("registry", "created the first admin token (id %s) in %s", tok.id, path);
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Make an existing data directory and its admin token private as new ones are: other
 * local users must not list or open what is in it (the database files are made 0600 by
 * the store). */
static void private_dir(const char *data_dir)
{
    char path[1100];

    fp_path_make_private(data_dir);
    snprintf(path, sizeof path, "%s/admin.token", data_dir);
    fp_path_make_private(path);
}

/* Create the data directory and open (creating or migrating) its database. */
static fp_status open_data_dir(const char *data_dir, const fp_store_opts *sopts, fp_store **out)
{
    char db[1100], err[512];
    fp_status rc;

    if (make_dirs(data_dir) != 0) {
        fp_log_error("registry", "cannot create data directory %s: %s", data_dir, strerror(errno));
        return FP_ERR_IO;
    }
    private_dir(data_dir);
    fp_registry_db_path(data_dir, db, sizeof db);
    rc = fp_store_open(db, sopts, out, err, sizeof err);
    if (rc)
        fp_log_error("registry", "%s", err);
    return rc;
}

fp_status fp_registry_ensure_admin_token(const char *data_dir, bool *created)
{
    fp_store *st;
    fp_status rc;

    *created = false;
    rc = open_data_dir(data_dir, NULL, &st);
    if (rc)
        return rc;
    rc = first_admin_token(st, data_dir, created);
    fp_store_close(st);
    return rc;
}

/* Parse "ADDR:PORT" into a sockaddr_in. */
static int parse_listen(const char *z, struct sockaddr_in *sa)
{
    char host[256];
    const char *colon = strrchr(z, ':');
    char *end;
    long port;

    if (!colon || (size_t)(colon - z) >= sizeof host)
        return -1;
    memcpy(host, z, (size_t)(colon - z));
    host[colon - z] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return -1;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    if (host[0] == '\0')
        snprintf(host, sizeof host, "0.0.0.0");
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

fp_status fp_registry_start(const fp_registry_opts *opts, fp_registry **out)
{
    fp_registry *reg;
    struct sockaddr_in sa;
    fp_store_opts sopts = {0};
    const union MHD_DaemonInfo *info;
    bool created;
    fp_status rc;

    *out = NULL;
    if (parse_listen(opts->listen ? opts->listen : "127.0.0.1:8080", &sa) != 0) {
        fp_log_error("registry", "--listen '%s' is not ADDR:PORT with an IPv4 address",
                     opts->listen);
        return FP_ERR_INVALID;
    }
    reg = fp_calloc(1, sizeof *reg);
    if (!reg)
        return FP_ERR_NOMEM;
    reg->opts = *opts;
    if (!reg->opts.max_body)
        reg->opts.max_body = 4u << 20;
    if (reg->opts.keepalive_s <= 0)
        reg->opts.keepalive_s = 15;
    snprintf(reg->data_dir, sizeof reg->data_dir, "%s", opts->data_dir);
    if (opts->broker_url)
        snprintf(reg->broker_url, sizeof reg->broker_url, "%s", opts->broker_url);
    reg->opts.data_dir = reg->data_dir;
    reg->opts.broker_url = reg->broker_url[0] ? reg->broker_url : NULL;
    sopts.history = opts->history;
    sopts.sync_full = opts->sync_full;
    /* One open of the database at start: the first token is made on it too. */
    rc = open_data_dir(opts->data_dir, &sopts, &reg->store);
    if (!rc)
        rc = first_admin_token(reg->store, opts->data_dir, &created);
    if (rc) {
        fp_store_close(reg->store);
        fp_free(reg);
        return rc;
    }
    fp_live_start(reg);
    /* With no_listen the address is only where connections seem to come from. */
    reg->mhd = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
            MHD_USE_TURBO | (opts->no_listen ? MHD_USE_NO_LISTEN_SOCKET : 0),
        0, NULL, NULL, on_request, reg, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, reg, MHD_OPTION_UNESCAPE_CALLBACK, unescape,
        NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)1000, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)256, MHD_OPTION_END);
    if (!reg->mhd) {
        fp_log_error("registry",
                     "cannot listen on %s (address in use, or not an address of "
                     "this machine)",
                     opts->listen);
        fp_live_stop(reg);
        fp_store_close(reg->store);
        fp_free(reg);
        return FP_ERR_IO;
    }
    info = MHD_get_daemon_info(reg->mhd, MHD_DAEMON_INFO_BIND_PORT);
    {
        char host[64];
        inet_ntop(AF_INET, &sa.sin_addr, host, sizeof host);
        snprintf(reg->url, sizeof reg->url, "http://%s:%u", host,
                 info ? info->port : ntohs(sa.sin_port));
    }
    fp_log_info("registry", "serving %s (data %s, revision %lld)", reg->url, reg->data_dir,
                (long long)fp_store_revision(reg->store));
    *out = reg;
    return FP_OK;
}

fp_status fp_registry_serve_fd(fp_registry *reg, int fd)
{
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

    /* libmicrohttpd closes fd itself when it refuses it. */
    if (MHD_add_connection(reg->mhd, fd, (const struct sockaddr *)&peer, sizeof peer) != MHD_YES)
        return FP_ERR_IO;
    return FP_OK;
}

const char *fp_registry_url(const fp_registry *reg)
{
    return reg->url;
}

void fp_registry_stop(fp_registry *reg)
{
    if (!reg)
        return;
    reg->stopping = 1;
    fp_store_wake_all(reg->store);
    fp_live_signal_stop(reg);
    MHD_stop_daemon(reg->mhd);
    fp_live_stop(reg);
    fp_store_close(reg->store);
    fp_log_info("registry", "stopped");
    fp_free(reg);
}
