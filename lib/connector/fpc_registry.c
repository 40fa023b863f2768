/*
 * fpc_registry.c - the connector runtime's client of the registry REST API.
 *
 * It speaks HTTP through the SDK's own client (fpc_http.c), not libcurl, so a connector
 * process loads no curl and, for an http registry, never initialises OpenSSL. An fpc_reg
 * is shared by all the runtime's threads without a lock of its own: fpc_http keeps one
 * connection alive for sequential requests (status writes are frequent) and makes a new
 * one when two threads ask at once. Plain requests have a 5 s connect and a 30 s total
 * timeout; the watch has no total timeout (it is meant to stay open) and runs on a
 * connection of its own, with the stop flag checked every 100 ms so a stop request is
 * seen quickly even when the stream is idle, and a minute of silence taken as a dead
 * peer (the registry sends a BOOKMARK every 15 s).
 *
 * The watch answer is ndjson: lines are cut out of the body as it arrives, whatever the
 * read boundaries, and each is parsed and handed on before the next read. Error messages name
 * method, URL, HTTP status and the registry's error code and message, so that they can go into a
 * status or a log line as they are.
 */
#include "fpc_registry.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp_alloc.h"
#include "fp_status.h"
#include "fp_buf.h"
#include "fp_log.h"
#include "fp_sha256.h"
#include "fpc_http.h"

#define FPC_CONNECT_TIMEOUT_MS 5000
#define FPC_REQUEST_TIMEOUT_MS 30000
#define FPC_MAX_RESPONSE (128u << 20) /* one list page of large documents fits */
#define FPC_MAX_WATCH_LINE (16u << 20)
#define FPC_MAX_ERROR_BODY (64u << 10)
#define FPC_WATCH_IDLE_MS 60000 /* four missed keep-alive BOOKMARKs */
#define FPC_MAX_PAGES 100000

struct fpc_reg {
    char *base;        /* without a trailing slash */
    char *auth_header; /* "Authorization: Bearer <token>" */
    fpc_http *http;
};

fpc_reg *fpc_reg_new(const char *base_url, const char *token, const char *cafile)
{
    char err[512] = "";
    fpc_reg *reg;
    size_t n;
    fp_buf auth;

    if (!base_url || !token)
        return NULL;
    reg = fp_calloc(1, sizeof *reg);
    if (!reg)
        return NULL;
    n = strlen(base_url);
    while (n > 0 && base_url[n - 1] == '/')
        n--;
    reg->base = fp_strndup(base_url, n);
    fp_buf_init(&auth, 64u << 10);
    fp_buf_printf(&auth, "Authorization: Bearer %s", token);
    reg->auth_header = fp_buf_take(&auth, NULL);
    if (!reg->base || !reg->auth_header) {
        fpc_reg_free(reg);
        return NULL;
    }
    reg->http = fpc_http_new(reg->base, cafile, err, sizeof err);
    if (!reg->http) {
        fp_log_error("registry", "%s", err);
        fpc_reg_free(reg);
        return NULL;
    }
    return reg;
}

void fpc_reg_free(fpc_reg *reg)
{
    if (!reg)
        return;
    fp_free(reg->base);
    if (reg->auth_header) {
        /* The token is a credential: do not leave it in freed memory. */
        volatile char *p = reg->auth_header;
        while (*p)
            *p++ = '\0';
        fp_free(reg->auth_header);
    }
    fpc_http_free(reg->http);
    fp_free(reg);
}

/* ---------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------- */

/* The fp_status that stands for a non-2xx HTTP answer. */
static fp_status status_from_http(long http)
{
    switch (http) {
    case 400:
    case 405:
    case 422:
        return FP_ERR_INVALID;
    case 401:
        return FP_ERR_UNAUTHORIZED;
    case 403:
        return FP_ERR_FORBIDDEN;
    case 404:
        return FP_ERR_NOT_FOUND;
    case 409:
        return FP_ERR_CONFLICT;
    case 410:
        return FP_ERR_GONE;
    case 412:
        return FP_ERR_PRECONDITION;
    case 413:
        return FP_ERR_TOO_LARGE;
    default:
        break;
    }
    if (http >= 500 || http == 408 || http == 429)
        return FP_ERR_UNAVAILABLE;
    if (http >= 400)
        return FP_ERR_INVALID;
    return FP_ERR_INTERNAL; /* 1xx/3xx: the registry never answers those */
}

/* "GET URL: 404 NotFound: message" from an error answer (body may be NULL or not an
 * ARM error document). */
static void http_err(char *err, size_t err_len, const char *method, const char *url, long http,
                     const json_t *body, const char *raw)
{
    const json_t *e = json_object_get(body, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));

    if (code || msg)
        fp_set_err(err, err_len, "%s %s: %ld %s: %s", method, url, http, code ? code : "",
                   msg ? msg : "");
    else if (raw && *raw)
        fp_set_err(err, err_len, "%s %s: %ld: %.200s", method, url, http, raw);
    else
        fp_set_err(err, err_len, "%s %s: %ld (no error body)", method, url, http);
}

/* One request; raw answer into resp (initialised here). extra_header: one more header
 * line or NULL. Transport failures are FP_ERR_UNAVAILABLE (FP_ERR_TOO_LARGE, FP_ERR_NOMEM
 * for the limit and memory); any HTTP answer is FP_OK with *http_status set. */
static fp_status perform(fpc_reg *reg, const char *method, const char *path, const json_t *body,
                         const char *extra_header, long *http_status, fp_buf *resp, char *url,
                         size_t url_len, char *err, size_t err_len)
{
    const char *headers[5];
    char *body_text = NULL;
    char herr[400] = "";
    fpc_http_req req;
    fp_status st;
    int n, h = 0, http = 0;

    fp_buf_init(resp, FPC_MAX_RESPONSE);
    n = snprintf(url, url_len, "%s%s", reg->base, path);
    if (n < 0 || (size_t)n >= url_len) {
        fp_set_err(err, err_len, "%s %s%.100s...: URL too long", method, reg->base, path);
        return FP_ERR_INVALID;
    }
    if (body) {
        body_text = json_dumps(body, JSON_COMPACT);
        if (!body_text) {
            fp_set_err(err, err_len, "%s %s: cannot encode the request body", method, url);
            return FP_ERR_NOMEM;
        }
    }
    headers[h++] = reg->auth_header;
    if (body_text)
        headers[h++] = "Content-Type: application/json";
    headers[h++] = "Accept: application/json";
    if (extra_header)
        headers[h++] = extra_header;
    headers[h] = NULL;
    memset(&req, 0, sizeof req);
    req.method = method;
    req.target = path;
    req.headers = headers;
    req.body = body_text;
    req.body_len = body_text ? strlen(body_text) : 0;
    req.connect_timeout_ms = FPC_CONNECT_TIMEOUT_MS;
    req.total_timeout_ms = FPC_REQUEST_TIMEOUT_MS;
    req.max_body = FPC_MAX_RESPONSE;
    st = fpc_http_do(reg->http, &req, &http, resp, NULL, herr, sizeof herr);
    if (st) {
        fp_set_err(err, err_len, "%s %s: %s", method, url, herr);
        if (st != FP_ERR_TOO_LARGE && st != FP_ERR_NOMEM)
            st = FP_ERR_UNAVAILABLE;
    } else {
        *http_status = http;
    }
    free(body_text);
    return st;
}

/* perform() and parse the answer: *out gets the JSON body (NULL when empty). */
static fp_status request_json(fpc_reg *reg, const char *method, const char *path,
                              const json_t *body, const char *extra_header, long *http_status,
                              json_t **out, char *url, size_t url_len, char *err, size_t err_len)
{
    fp_buf resp;
    fp_status st;
    json_t *doc = NULL;

    *out = NULL;
    *http_status = 0;
    st = perform(reg, method, path, body, extra_header, http_status, &resp, url, url_len, err,
                 err_len);
    if (st)
        goto out;
    if (resp.len > 0) {
        json_error_t je;
        doc = json_loadb(resp.data, resp.len, JSON_ALLOW_NUL, &je);
        if (!doc) {
            if (*http_status >= 200 && *http_status < 300) {
                fp_set_err(err, err_len, "%s %s: %ld: the answer is not JSON (line %d: %s)", method,
                           url, *http_status, je.line, je.text);
                st = FP_ERR_INVALID;
                goto out;
            }
            /* An error answer from a proxy or a crashed peer: keep its text for the
             * message, the caller sees the status code. */
            http_err(err, err_len, method, url, *http_status, NULL, resp.data);
            doc = json_string(resp.data);
        }
    }
    *out = doc;
out:
    fp_buf_clear(&resp);
    return st;
}

fp_status fpc_reg_request(fpc_reg *reg, const char *method, const char *path, const json_t *body,
                          long *http_status, json_t **out, char *err, size_t err_len)
{
    char url[4096];
    json_t *doc = NULL;
    long http = 0;
    fp_status st;

    if (out)
        *out = NULL;
    if (!reg || !method || !path || path[0] != '/') {
        fp_set_err(err, err_len, "fpc_reg_request: the path must start with '/'");
        return FP_ERR_INVALID;
    }
    st = request_json(reg, method, path, body, NULL, &http, &doc, url, sizeof url, err, err_len);
    if (http_status)
        *http_status = http;
    if (st)
        return st;
    if ((http < 200 || http >= 300))
        http_err(err, err_len, method, url, http, doc, json_string_value(doc));
    if (out)
        *out = doc;
    else
        json_decref(doc);
    return FP_OK;
}

/* ---------------------------------------------------------------------------
 * Lists
 * ------------------------------------------------------------------------- */

fp_status fpc_reg_list(fpc_reg *reg, const char *path, json_t **items, int64_t *revision, char *err,
                       size_t err_len)
{
    char url[4096];
    char *next = NULL;
    json_t *all = json_array(), *page = NULL;
    fp_status st = FP_OK;
    const char *cur = path;
    int n_page;

    *items = NULL;
    if (revision)
        *revision = 0;
    if (!all)
        return FP_ERR_NOMEM;
    for (n_page = 0; cur; n_page++) {
        const json_t *value, *nl;
        long http = 0;

        if (n_page >= FPC_MAX_PAGES) {
            fp_set_err(err, err_len, "GET %s%s: more than %d pages, giving up", reg->base, path,
                       FPC_MAX_PAGES);
            st = FP_ERR_TOO_LARGE;
            goto out;
        }
        if (cur[0] != '/') {
            fp_set_err(err, err_len, "GET %s%s: nextLink '%.200s' is not a path", reg->base, path,
                       cur);
            st = FP_ERR_INVALID;
            goto out;
        }
        st = request_json(reg, "GET", cur, NULL, NULL, &http, &page, url, sizeof url, err, err_len);
        if (st)
            goto out;
        if (http < 200 || http >= 300) {
            http_err(err, err_len, "GET", url, http, page, json_string_value(page));
            st = status_from_http(http);
            goto out;
        }
        value = json_object_get(page, "value");
        if (!json_is_array(value)) {
            fp_set_err(err, err_len, "GET %s: %ld: the answer has no \"value\" array", url, http);
            st = FP_ERR_INVALID;
            goto out;
        }
        if (json_array_extend(all, (json_t *)value)) {
            st = FP_ERR_NOMEM;
            goto out;
        }
        if (n_page == 0 && revision)
            *revision = json_integer_value(json_object_get(page, "revision"));
        nl = json_object_get(page, "nextLink");
        fp_free(next);
        next = NULL;
        if (json_is_string(nl) && json_string_length(nl) > 0) {
            next = fp_strdup(json_string_value(nl));
            if (!next) {
                st = FP_ERR_NOMEM;
                goto out;
            }
        }
        cur = next;
        json_decref(page);
        page = NULL;
    }
    *items = all;
    all = NULL;
out:
    json_decref(page);
    json_decref(all);
    fp_free(next);
    return st;
}

/* ---------------------------------------------------------------------------
 * Watch
 * ------------------------------------------------------------------------- */

typedef struct watch_ctx {
    const char *url;
    int (*on_event)(const json_t *ev, void *arg);
    void *arg;
    atomic_int *stop;
    int64_t *last_revision;
    fp_buf line;     /* the part of a line not yet ended by '\n' */
    fp_buf err_body; /* the body of a non-200 answer */
    long http;
    bool ended_by_callback;
    fp_status st; /* why the body callback stopped the transfer */
    char *err;
    size_t err_len;
} watch_ctx;

/* One complete line (without '\n'); FP_OK to go on. */
static fp_status watch_line(watch_ctx *w, char *p, size_t len)
{
    json_error_t je;
    json_t *ev;
    const json_t *rev;
    const char *type;
    fp_status st = FP_OK;

    if (len > 0 && p[len - 1] == '\r')
        len--;
    while (len > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        len--;
    }
    if (len == 0)
        return FP_OK;
    ev = json_loadb(p, len, 0, &je);
    if (!ev || !json_is_object(ev)) {
        fp_set_err(w->err, w->err_len, "GET %s: a watch line is not a JSON object (column %d: %s)",
                   w->url, je.column, ev ? "not an object" : je.text);
        json_decref(ev);
        return FP_ERR_INVALID;
    }
    type = json_string_value(json_object_get(ev, "type"));
    if (!type) {
        fp_set_err(w->err, w->err_len, "GET %s: a watch line has no \"type\"", w->url);
        st = FP_ERR_INVALID;
        goto out;
    }
    if (strcmp(type, "ERROR") == 0) {
        const json_t *e = json_object_get(ev, "error");
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        fp_set_err(w->err, w->err_len, "GET %s: the watch ended with an error: %s: %s", w->url,
                   code ? code : "(no code)", msg ? msg : "");
        st = code && strcmp(code, "Gone") == 0 ? FP_ERR_GONE : FP_ERR_UNAVAILABLE;
        goto out;
    }
    rev = json_object_get(ev, "revision");
    if (json_is_integer(rev) && json_integer_value(rev) > *w->last_revision)
        *w->last_revision = json_integer_value(rev);
    if (w->on_event(ev, w->arg) != 0) {
        w->ended_by_callback = true;
        st = FP_ERR_UNAVAILABLE; /* any non-zero: stops the transfer; reported as FP_OK */
    }
out:
    json_decref(ev);
    return st;
}

/* The body callback of the watch: cut lines out of what arrives. A non-zero return ends
 * the transfer (w->st and the message say why, or w->ended_by_callback). */
static fp_status watch_body(int status, const char *data, size_t len, void *arg)
{
    watch_ctx *w = arg;
    char *p = (char *)data;
    size_t off = 0;

    w->http = status;
    if (w->http != 200) {
        /* Keep the start of an error answer for the message; the rest is not needed. */
        if (w->err_body.len < FPC_MAX_ERROR_BODY) {
            size_t room = FPC_MAX_ERROR_BODY - w->err_body.len;
            fp_buf_append(&w->err_body, p, len < room ? len : room);
        }
        return FP_OK;
    }
    while (off < len) {
        char *nl = memchr(p + off, '\n', len - off);
        size_t piece = nl ? (size_t)(nl - (p + off)) : len - off;
        fp_status st;

        if (w->line.len + piece > FPC_MAX_WATCH_LINE) {
            fp_set_err(w->err, w->err_len, "GET %s: a watch line is longer than %u bytes", w->url,
                       FPC_MAX_WATCH_LINE);
            w->st = FP_ERR_TOO_LARGE;
            return w->st;
        }
        if (!nl) {
            if (fp_buf_append(&w->line, p + off, piece)) {
                fp_set_err(w->err, w->err_len, "GET %s: out of memory for a watch line", w->url);
                w->st = FP_ERR_NOMEM;
                return w->st;
            }
            break;
        }
        if (w->line.len > 0) {
            if (fp_buf_append(&w->line, p + off, piece)) {
                fp_set_err(w->err, w->err_len, "GET %s: out of memory for a watch line", w->url);
                w->st = FP_ERR_NOMEM;
                return w->st;
            }
            st = watch_line(w, w->line.data, w->line.len);
            fp_buf_reset(&w->line);
        } else {
            st = watch_line(w, p + off, piece);
        }
        if (st) {
            if (!w->ended_by_callback)
                w->st = st;
            return st;
        }
        off += piece + 1;
    }
    return FP_OK;
}

fp_status fpc_reg_watch(fpc_reg *reg, int64_t since, const char *kinds,
                        int (*on_event)(const json_t *ev, void *arg), void *arg, atomic_int *stop,
                        int64_t *last_revision, char *err, size_t err_len)
{
    const char *headers[3];
    char herr[400] = "";
    char *url = NULL;
    fp_buf ub;
    watch_ctx w;
    fpc_http_req req;
    fp_status st = FP_OK;
    bool stopped = false;
    int64_t dummy_rev = since;
    int http = 0;

    memset(&w, 0, sizeof w);
    fp_buf_init(&w.line, FPC_MAX_WATCH_LINE + 1);
    fp_buf_init(&w.err_body, FPC_MAX_ERROR_BODY + 1);
    if (!last_revision)
        last_revision = &dummy_rev;
    *last_revision = since;

    fp_buf_init(&ub, 8192);
    fp_buf_printf(&ub, "%s/api/v1/watch?since=%" PRId64, reg->base, since);
    if (kinds && *kinds) {
        fp_buf_append_str(&ub, "&kinds=");
        /* Commas stay as they are: the registry splits the list on them. */
        for (const char *k = kinds; *k;) {
            size_t len = strcspn(k, ",");
            char *one = fp_strndup(k, len);
            if (!one) {
                ub.err = FP_ERR_NOMEM;
                break;
            }
            fp_buf_append_pct(&ub, one);
            fp_free(one);
            k += len;
            if (*k == ',') {
                fp_buf_append(&ub, ",", 1);
                k++;
            }
        }
    }
    if (ub.err) {
        fp_buf_clear(&ub);
        fp_set_err(err, err_len, "GET %s/api/v1/watch: cannot build the URL", reg->base);
        return FP_ERR_NOMEM;
    }
    url = fp_buf_take(&ub, NULL);

    w.url = url;
    w.on_event = on_event;
    w.arg = arg;
    w.stop = stop;
    w.last_revision = last_revision;
    w.err = err;
    w.err_len = err_len;

    headers[0] = reg->auth_header;
    headers[1] = "Accept: application/json";
    headers[2] = NULL;
    memset(&req, 0, sizeof req);
    req.method = "GET";
    req.target = url + strlen(reg->base);
    req.headers = headers;
    req.connect_timeout_ms = FPC_CONNECT_TIMEOUT_MS;
    /* No total timeout: the stream stays open. A peer that sends nothing for a minute
     * (four missed keep-alives) is taken as gone. */
    req.idle_timeout_ms = FPC_WATCH_IDLE_MS;
    req.on_body = watch_body;
    req.arg = &w;
    req.stop = stop;
    req.fresh_connection = true; /* hours long: keep the shared one for short requests */
    st = fpc_http_do(reg->http, &req, &http, NULL, &stopped, herr, sizeof herr);

    if (stopped || w.ended_by_callback) {
        st = FP_OK;
    } else if (w.st) {
        st = w.st; /* err already set by the callback */
    } else if (st) {
        fp_set_err(err, err_len, "GET %s: %s", url, herr);
        if (st != FP_ERR_NOMEM)
            st = FP_ERR_UNAVAILABLE;
    } else {
        w.http = http;
        if (w.http != 200) {
            json_t *body =
                w.err_body.len ? json_loadb(w.err_body.data, w.err_body.len, 0, NULL) : NULL;
            http_err(err, err_len, "GET", url, w.http, body, w.err_body.data);
            json_decref(body);
            st = w.http == 410 ? FP_ERR_GONE : status_from_http(w.http);
            if (st == FP_ERR_INTERNAL)
                st = FP_ERR_UNAVAILABLE;
        } else {
            fp_set_err(err, err_len, "GET %s: the registry ended the watch stream", url);
            st = FP_ERR_UNAVAILABLE;
        }
    }
    fp_buf_clear(&w.line);
    fp_buf_clear(&w.err_body);
    fp_free(url);
    return st;
}

/* ---------------------------------------------------------------------------
 * Secrets
 * ------------------------------------------------------------------------- */

fp_status fpc_reg_secret(fpc_reg *reg, const char *ns, const char *ref, char **value, char *err,
                         size_t err_len)
{
    char url[4096];
    const char *slash, *key = NULL;
    char *name = NULL;
    const json_t *data, *v = NULL;
    json_t *doc = NULL;
    fp_buf path;
    fp_status st;
    long http = 0;

    *value = NULL;
    if (!ns || !*ns || !ref || !*ref) {
        fp_set_err(err, err_len, "a secret reference needs a namespace and a name");
        return FP_ERR_INVALID;
    }
    slash = strchr(ref, '/');
    name = slash ? fp_strndup(ref, (size_t)(slash - ref)) : fp_strdup(ref);
    if (!name)
        return FP_ERR_NOMEM;
    if (slash) {
        key = slash + 1;
        if (!*name || !*key) {
            fp_set_err(err, err_len, "secret reference '%s' is not \"name\" or \"name/key\"", ref);
            st = FP_ERR_INVALID;
            goto out;
        }
    }
    fp_buf_init(&path, 4096);
    fp_buf_append_str(&path, "/api/v1/namespaces/");
    fp_buf_append_pct(&path, ns);
    fp_buf_append_str(&path, "/secrets/");
    fp_buf_append_pct(&path, name);
    fp_buf_append_str(&path, "/value");
    if (path.err) {
        fp_buf_clear(&path);
        fp_set_err(err, err_len, "secret reference '%s': name too long", ref);
        st = FP_ERR_INVALID;
        goto out;
    }
    st =
        request_json(reg, "GET", path.data, NULL, NULL, &http, &doc, url, sizeof url, err, err_len);
    fp_buf_clear(&path);
    if (st)
        goto out;
    if (http == 404) {
        const char *msg =
            json_string_value(json_object_get(json_object_get(doc, "error"), "message"));
        fp_set_err(err, err_len, "GET %s: 404 NotFound: secret '%s' in namespace '%s': %s", url,
                   name, ns, msg ? msg : "not found");
        st = FP_ERR_NOT_FOUND;
        goto out;
    }
    if (http < 200 || http >= 300) {
        http_err(err, err_len, "GET", url, http, doc, json_string_value(doc));
        st = status_from_http(http);
        goto out;
    }
    data = json_object_get(doc, "data");
    if (!json_is_object(data)) {
        fp_set_err(err, err_len, "GET %s: %ld: the answer has no \"data\" object", url, http);
        st = FP_ERR_INVALID;
        goto out;
    }
    if (key) {
        v = json_object_get(data, key);
        if (!v) {
            fp_set_err(err, err_len, "secret '%s' in namespace '%s' has no key '%s'", name, ns,
                       key);
            st = FP_ERR_NOT_FOUND;
            goto out;
        }
    } else if (json_object_size(data) == 1) {
        v = json_object_iter_value(json_object_iter((json_t *)data));
    } else if ((v = json_object_get(data, "value")) == NULL) {
        fp_buf keys;
        const char *k;
        const json_t *ignored;

        fp_buf_init(&keys, 2048);
        json_object_foreach((json_t *)data, k, ignored)
        {
            (void)ignored;
            fp_buf_printf(&keys, "%s'%s'", keys.len ? ", " : "", k);
        }
        fp_set_err(err, err_len,
                   "secret '%s' in namespace '%s' has several keys (%s) and none named 'value': "
                   "name one as '%s/<key>'",
                   name, ns, keys.data ? keys.data : "none", name);
        fp_buf_clear(&keys);
        st = FP_ERR_NOT_FOUND;
        goto out;
    }
    if (!json_is_string(v)) {
        fp_set_err(err, err_len,
                   "secret '%s' in namespace '%s': the value of key '%s' is not a string", name, ns,
                   key ? key : "value");
        st = FP_ERR_INVALID;
        goto out;
    }
    *value = fp_strndup(json_string_value(v), json_string_length(v));
    st = *value ? FP_OK : FP_ERR_NOMEM;
out:
    json_decref(doc);
    fp_free(name);
    return st;
}

/* ---------------------------------------------------------------------------
 * Schemas
 * ------------------------------------------------------------------------- */

/* "/api/v1/namespaces/NS/schemas/NAME" + suffix, escaped; NULL on failure. */
static char *schema_path(const char *ns, const char *name, const char *suffix)
{
    fp_buf b;

    fp_buf_init(&b, 4096);
    fp_buf_append_str(&b, "/api/v1/namespaces/");
    fp_buf_append_pct(&b, ns);
    fp_buf_append_str(&b, "/schemas/");
    fp_buf_append_pct(&b, name);
    if (suffix)
        fp_buf_append_str(&b, suffix);
    return fp_buf_take(&b, NULL);
}

/* Make sure the schema exists (create-only PUT: 412 means someone made it already). */
static fp_status schema_ensure(fpc_reg *reg, const char *ns, const char *name,
                               const char *description, char *err, size_t err_len)
{
    char url[4096];
    char *path = schema_path(ns, name, NULL);
    json_t *body = NULL, *doc = NULL;
    fp_status st;
    long http = 0;

    if (!path)
        return FP_ERR_NOMEM;
    body = json_pack("{s:{s:s,s:s,s:s}}", "properties", "format", "JsonSchema/draft-07",
                     "schemaType", "MessageSchema", "description", description ? description : "");
    if (!body) {
        st = FP_ERR_NOMEM;
        goto out;
    }
    st = request_json(reg, "PUT", path, body, "If-None-Match: *", &http, &doc, url, sizeof url, err,
                      err_len);
    if (st)
        goto out;
    if (http == 412 || (http >= 200 && http < 300))
        goto out;
    http_err(err, err_len, "PUT", url, http, doc, json_string_value(doc));
    st = status_from_http(http);
out:
    json_decref(doc);
    json_decref(body);
    fp_free(path);
    return st;
}

/* Find the version holding content (by hash): *found = its number or 0; *max = highest. */
static fp_status schema_find(fpc_reg *reg, const char *ns, const char *name, const char *hash,
                             int64_t *found, int64_t *max, char *err, size_t err_len)
{
    char *path = schema_path(ns, name, "/versions");
    json_t *items = NULL, *it;
    size_t i;
    fp_status st;

    *found = 0;
    *max = 0;
    if (!path)
        return FP_ERR_NOMEM;
    st = fpc_reg_list(reg, path, &items, NULL, err, err_len);
    fp_free(path);
    if (st)
        return st;
    json_array_foreach(items, i, it)
    {
        const char *vname = json_string_value(json_object_get(it, "name"));
        const char *h =
            json_string_value(json_object_get(json_object_get(it, "properties"), "hash"));
        char *end = NULL;
        long long n;

        if (!vname)
            continue;
        errno = 0;
        n = strtoll(vname, &end, 10);
        if (errno || end == vname || *end || n <= 0)
            continue;
        if (n > *max)
            *max = n;
        if (h && strcmp(h, hash) == 0 && (*found == 0 || n < *found))
            *found = n;
    }
    json_decref(items);
    return FP_OK;
}

fp_status fpc_reg_schema_register(fpc_reg *reg, const char *ns, const char *name,
                                  const char *content, const char *description, int64_t *version,
                                  char *err, size_t err_len)
{
    char hash[65], url[4096], suffix[64];
    json_t *body = NULL;
    fp_status st;
    int attempt;

    *version = 0;
    if (!ns || !*ns || !name || !*name || !content) {
        fp_set_err(err, err_len, "registering a schema needs a namespace, a name and content");
        return FP_ERR_INVALID;
    }
    fp_sha256_hex(content, strlen(content), hash);
    st = schema_ensure(reg, ns, name, description, err, err_len);
    if (st)
        return st;
    body = json_pack("{s:{s:s,s:s}}", "properties", "schemaContent", content, "description",
                     description ? description : "");
    if (!body)
        return FP_ERR_NOMEM;

    /* Two runtimes may register the same schema at once: one of them gets 409 (other
     * content under the number it chose) or finds its content already there; a second
     * look at the versions settles it. */
    for (attempt = 0; attempt < 2; attempt++) {
        int64_t found = 0, max = 0;
        json_t *doc = NULL;
        char *path;
        long http = 0;

        st = schema_find(reg, ns, name, hash, &found, &max, err, err_len);
        if (st)
            goto out;
        if (found) {
            *version = found;
            goto out;
        }
        snprintf(suffix, sizeof suffix, "/versions/%" PRId64, max + 1);
        path = schema_path(ns, name, suffix);
        if (!path) {
            st = FP_ERR_NOMEM;
            goto out;
        }
        st = request_json(reg, "PUT", path, body, NULL, &http, &doc, url, sizeof url, err, err_len);
        fp_free(path);
        if (st) {
            json_decref(doc);
            goto out;
        }
        if (http >= 200 && http < 300) {
            json_decref(doc);
            *version = max + 1;
            goto out;
        }
        http_err(err, err_len, "PUT", url, http, doc, json_string_value(doc));
        json_decref(doc);
        st = status_from_http(http);
        if (http != 409)
            goto out;
    }
out:
    json_decref(body);
    return st;
}
