/*
 * test_connector_registry.c - the runtime's registry client (fpc_registry) against a
 * small fake registry on a loopback port (libmicrohttpd): bearer header, paged lists,
 * error mapping and messages, the ndjson watch with lines split across chunks, 410 and
 * ERROR lines, stop within 200 ms, secrets by name and key, and schema registration
 * (reuse by hash, new versions, a 409 race).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* An internal header of the library, not on its public include path. */
#include "../../lib/connector/fpc_registry.h"
#include "fp_time.h"

/* ---------------------------------------------------------------------------
 * The fake registry
 * ------------------------------------------------------------------------- */

#define MAX_VERSIONS 16

static struct {
    struct MHD_Daemon *d;
    char base[64];
    pthread_mutex_t mu;
    bool schema_exists;
    char *versions[MAX_VERSIONS + 1]; /* content by number, NULL = none */
    int hide_last_once;               /* the next list omits the highest version */
    int version_puts;
    char last_secret_url[256];
} g;

typedef struct conn {
    char *body;
    size_t len;
} conn;

static void sha256_hex(const char *z, char out[65])
{
    unsigned char md[32];
    unsigned n = 0;
    EVP_Digest(z, strlen(z), md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;
    MHD_add_response_header(r, "Content-Type", "application/json");
    ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned code, json_t *doc)
{
    char *t = json_dumps(doc, JSON_COMPACT);
    enum MHD_Result ret = reply(c, code, t);
    free(t);
    json_decref(doc);
    return ret;
}

/* A streamed watch answer: the chunks in order, then either end or stay open. */
typedef struct stream {
    const char *const *chunks;
    int i;
    bool stay_open;
    int idle_ms;
    int open_ms;
} stream;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream *s = cls;
    (void)pos;
    if (s->chunks[s->i]) {
        size_t n = strlen(s->chunks[s->i]);
        assert_true(n <= max);
        memcpy(buf, s->chunks[s->i++], n);
        usleep(20 * 1000); /* so each chunk reaches the client as its own read */
        return (ssize_t)n;
    }
    if (s->stay_open && s->open_ms < 10000) {
        /* Keep the stream open with empty lines (which the client skips); a write to a
         * client that left ends the connection. idle_ms long pauses test a quiet stream. */
        usleep((useconds_t)s->idle_ms * 1000);
        s->open_ms += s->idle_ms;
        buf[0] = '\n';
        return 1;
    }
    return MHD_CONTENT_READER_END_OF_STREAM;
}

static enum MHD_Result reply_stream(struct MHD_Connection *c, const char *const *chunks,
                                    bool stay_open, int idle_ms)
{
    stream *s = calloc(1, sizeof *s);
    struct MHD_Response *r;
    enum MHD_Result ret;

    s->chunks = chunks;
    s->stay_open = stay_open;
    s->idle_ms = idle_ms;
    r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, stream_read, s, free);
    MHD_add_response_header(r, "Content-Type", "application/x-ndjson");
    ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static const char *const k_watch_split[] = {
    "{\"type\":\"BOOKMARK\",\"revision\":5}\n\n{\"type\":\"ADD",
    "ED\",\"revision\":6,\"kind\":\"Device\",\"name\":\"a\"}\r\n{\"type\":\"MODIFIED\",",
    "\"revision\":8,\"kind\":\"Asset\",\"name\":\"b\"}",
    "\n",
    NULL,
};
static const char *const k_watch_error[] = {
    "{\"type\":\"BOOKMARK\",\"revision\":2}\n",
    "{\"type\":\"ERROR\",\"error\":{\"code\":\"Gone\",\"message\":\"compacted\","
    "\"currentRevision\":99}}\n",
    NULL,
};
static const char *const k_watch_bad[] = {"{\"type\":\"BOOKMARK\",\"revision\":3}\n{nope\n", NULL};
static const char *const k_watch_ends[] = {"{\"type\":\"BOOKMARK\",\"revision\":4}\n", NULL};
static const char *const k_watch_idle[] = {"{\"type\":\"BOOKMARK\",\"revision\":10}\n", NULL};

static enum MHD_Result serve_watch(struct MHD_Connection *c)
{
    const char *since = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
    const char *kinds = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "kinds");
    long s = since ? atol(since) : -1;

    if (s == 1)
        return reply(c, 410,
                     "{\"error\":{\"code\":\"Gone\",\"message\":\"revision 1 is compacted\","
                     "\"currentRevision\":50}}");
    if (s == 2)
        return reply_stream(c, k_watch_error, false, 0);
    if (s == 3)
        return reply_stream(c, k_watch_bad, false, 0);
    if (s == 4)
        return reply_stream(c, k_watch_ends, false, 0);
    if (s == 5) {
        assert_non_null(kinds);
        assert_string_equal(kinds, "Device,Asset");
        return reply_stream(c, k_watch_split, true, 50);
    }
    if (s == 9 || s == 10)
        return reply_stream(c, s == 9 ? k_watch_split : k_watch_idle, true, s == 9 ? 50 : 1000);
    return reply(c, 400, "{\"error\":{\"code\":\"InvalidQuery\",\"message\":\"since?\"}}");
}

static enum MHD_Result serve_schema(struct MHD_Connection *c, const char *url, const char *method,
                                    conn *k)
{
    const char *ver = strstr(url, "/versions");

    pthread_mutex_lock(&g.mu);
    if (!ver && strcmp(method, "PUT") == 0) {
        const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
        json_t *body = json_loadb(k->body, k->len, 0, NULL);
        json_t *p = json_object_get(body, "properties");
        bool existed = g.schema_exists;
        assert_non_null(inm);
        assert_string_equal(json_string_value(json_object_get(p, "format")), "JsonSchema/draft-07");
        assert_string_equal(json_string_value(json_object_get(p, "schemaType")), "MessageSchema");
        json_decref(body);
        g.schema_exists = true;
        pthread_mutex_unlock(&g.mu);
        return existed ? reply(c, 412,
                               "{\"error\":{\"code\":\"PreconditionFailed\","
                               "\"message\":\"exists\"}}")
                       : reply(c, 201, "{\"name\":\"s\"}");
    }
    if (ver && strcmp(ver, "/versions") == 0 && strcmp(method, "GET") == 0) {
        json_t *arr = json_array();
        int top = 0;
        for (int i = 1; i <= MAX_VERSIONS; i++)
            if (g.versions[i])
                top = i;
        for (int i = 1; i <= MAX_VERSIONS; i++) {
            char name[16], hash[65];
            if (!g.versions[i] || (g.hide_last_once && i == top))
                continue;
            snprintf(name, sizeof name, "%d", i);
            sha256_hex(g.versions[i], hash);
            json_array_append_new(arr, json_pack("{s:s,s:{s:s,s:s}}", "name", name, "properties",
                                                 "schemaContent", g.versions[i], "hash", hash));
        }
        g.hide_last_once = 0;
        pthread_mutex_unlock(&g.mu);
        return reply_json(c, 200, json_pack("{s:o,s:i}", "value", arr, "revision", 3));
    }
    if (ver && strncmp(ver, "/versions/", 10) == 0 && strcmp(method, "PUT") == 0) {
        int n = atoi(ver + 10);
        json_t *body = json_loadb(k->body, k->len, 0, NULL);
        const char *content = json_string_value(
            json_object_get(json_object_get(body, "properties"), "schemaContent"));
        enum MHD_Result ret;
        assert_true(n >= 1 && n <= MAX_VERSIONS);
        assert_non_null(content);
        g.version_puts++;
        if (g.versions[n] && strcmp(g.versions[n], content) != 0) {
            ret =
                reply(c, 409, "{\"error\":{\"code\":\"Conflict\",\"message\":\"other content\"}}");
        } else {
            if (!g.versions[n])
                g.versions[n] = strdup(content);
            ret = reply(c, 201, "{}");
        }
        json_decref(body);
        pthread_mutex_unlock(&g.mu);
        return ret;
    }
    pthread_mutex_unlock(&g.mu);
    return reply(c, 405, "{\"error\":{\"code\":\"MethodNotAllowed\",\"message\":\"no\"}}");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **req_cls)
{
    conn *k = *req_cls;
    const char *auth;
    (void)cls;
    (void)version;

    if (!k) {
        *req_cls = calloc(1, sizeof(conn));
        return MHD_YES;
    }
    if (*upload_size) {
        k->body = realloc(k->body, k->len + *upload_size + 1);
        memcpy(k->body + k->len, upload, *upload_size);
        k->len += *upload_size;
        k->body[k->len] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!auth || strcmp(auth, "Bearer tok-1") != 0)
        return reply(c, 401, "{\"error\":{\"code\":\"Unauthorized\",\"message\":\"no token\"}}");
    if (strcmp(url, "/api/v1/watch") == 0)
        return serve_watch(c);
    if (strcmp(url, "/api/v1/namespaces/ns/devices") == 0) {
        const char *skip = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "skipToken");
        if (!skip)
            return reply(c, 200,
                         "{\"value\":[{\"name\":\"d1\"},{\"name\":\"d2\"}],\"revision\":7,"
                         "\"nextLink\":\"/api/v1/namespaces/ns/devices?skipToken=2\"}");
        return reply(c, 200, "{\"value\":[{\"name\":\"d3\"}],\"revision\":8}");
    }
    if (strcmp(url, "/api/v1/namespaces/nope/devices") == 0)
        return reply(
            c, 404,
            "{\"error\":{\"code\":\"NotFound\",\"message\":\"namespace 'nope' not found\"}}");
    if (strcmp(url, "/api/v1/namespaces/down/devices") == 0)
        return reply(c, 503, "not json at all");
    if (strncmp(url, "/api/v1/namespaces/ns/secrets/", 30) == 0) {
        const char *name = url + 30;
        snprintf(g.last_secret_url, sizeof g.last_secret_url, "%s", url);
        if (strcmp(name, "one/value") == 0)
            return reply(c, 200, "{\"name\":\"one\",\"data\":{\"k\":\"v1\"}}");
        if (strcmp(name, "cred/value") == 0)
            return reply(c, 200, "{\"name\":\"cred\",\"data\":{\"user\":\"u\",\"value\":\"pw\"}}");
        if (strcmp(name, "two/value") == 0)
            return reply(c, 200, "{\"name\":\"two\",\"data\":{\"a\":\"1\",\"b\":\"2\"}}");
        if (strcmp(name, "we ird/value") == 0)
            return reply(c, 200, "{\"name\":\"we ird\",\"data\":{\"x\":\"y\"}}");
        return reply(c, 404, "{\"error\":{\"code\":\"NotFound\",\"message\":\"no secret\"}}");
    }
    if (strncmp(url, "/api/v1/namespaces/ns/schemas/s", 31) == 0)
        return serve_schema(c, url, method, k);
    if (strcmp(url, "/api/v1/echo") == 0) {
        return reply(c, 200, k->body ? k->body : "");
    }
    return reply(c, 404, "{\"error\":{\"code\":\"NotFound\",\"message\":\"no route\"}}");
}

static void completed(void *cls, struct MHD_Connection *c, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
    conn *k = *req_cls;
    (void)cls;
    (void)c;
    (void)toe;
    if (k) {
        free(k->body);
        free(k);
    }
    *req_cls = NULL;
}

static int setup(void **state)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    const union MHD_DaemonInfo *info;
    (void)state;

    memset(&g, 0, sizeof g);
    pthread_mutex_init(&g.mu, NULL);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    g.d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL,
                           NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                           MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    assert_non_null(g.d);
    info = MHD_get_daemon_info(g.d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(g.base, sizeof g.base, "http://127.0.0.1:%u/", (unsigned)info->port);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    MHD_stop_daemon(g.d);
    for (int i = 0; i <= MAX_VERSIONS; i++)
        free(g.versions[i]);
    pthread_mutex_destroy(&g.mu);
    return 0;
}

/* ---------------------------------------------------------------------------
 * Tests
 * ------------------------------------------------------------------------- */

static void test_request(void **state)
{
    fpc_reg *reg = fpc_reg_new(g.base, "tok-1", NULL);
    char err[512] = "";
    json_t *out = NULL, *body = json_pack("{s:i}", "a", 1);
    long http = 0;
    (void)state;

    assert_non_null(reg);
    assert_int_equal(
        fpc_reg_request(reg, "PUT", "/api/v1/echo", body, &http, &out, err, sizeof err), FP_OK);
    assert_int_equal(http, 200);
    assert_true(json_equal(out, body));
    json_decref(out);
    /* Any HTTP answer is FP_OK with its status; err names it. */
    assert_int_equal(fpc_reg_request(reg, "GET", "/api/v1/namespaces/nope/devices", NULL, &http,
                                     &out, err, sizeof err),
                     FP_OK);
    assert_int_equal(http, 404);
    assert_non_null(strstr(err, "GET http://127.0.0.1:"));
    assert_non_null(strstr(err, "/api/v1/namespaces/nope/devices: 404 NotFound: namespace"));
    json_decref(out);
    /* An empty body is NULL. */
    assert_int_equal(
        fpc_reg_request(reg, "GET", "/api/v1/echo", NULL, &http, &out, err, sizeof err), FP_OK);
    assert_null(out);
    json_decref(body);
    fpc_reg_free(reg);

    /* Wrong token: 401; nobody listening: FP_ERR_UNAVAILABLE. */
    reg = fpc_reg_new(g.base, "bad", NULL);
    assert_int_equal(
        fpc_reg_request(reg, "GET", "/api/v1/echo", NULL, &http, NULL, err, sizeof err), FP_OK);
    assert_int_equal(http, 401);
    fpc_reg_free(reg);
    reg = fpc_reg_new("http://127.0.0.1:1", "tok-1", NULL);
    assert_int_equal(
        fpc_reg_request(reg, "GET", "/api/v1/echo", NULL, &http, NULL, err, sizeof err),
        FP_ERR_UNAVAILABLE);
    assert_non_null(strstr(err, "GET http://127.0.0.1:1/api/v1/echo: "));
    fpc_reg_free(reg);
    fpc_reg_free(NULL);
}

static void test_list(void **state)
{
    fpc_reg *reg = fpc_reg_new(g.base, "tok-1", NULL);
    json_t *items = NULL;
    int64_t rev = 0;
    char err[512] = "";
    (void)state;

    assert_int_equal(
        fpc_reg_list(reg, "/api/v1/namespaces/ns/devices", &items, &rev, err, sizeof err), FP_OK);
    assert_int_equal(json_array_size(items), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 2), "name")), "d3");
    assert_int_equal(rev, 7); /* the first page's */
    json_decref(items);

    assert_int_equal(
        fpc_reg_list(reg, "/api/v1/namespaces/nope/devices", &items, &rev, err, sizeof err),
        FP_ERR_NOT_FOUND);
    assert_null(items);
    assert_non_null(strstr(err, "404 NotFound: namespace 'nope' not found"));
    assert_int_equal(
        fpc_reg_list(reg, "/api/v1/namespaces/down/devices", &items, &rev, err, sizeof err),
        FP_ERR_UNAVAILABLE);
    assert_non_null(strstr(err, "503"));
    assert_non_null(strstr(err, "not json at all"));
    fpc_reg_free(reg);
}

typedef struct seen {
    int n;
    char types[8][16];
    int64_t revs[8];
    atomic_int *stop;
    int stop_at_rev;
    int return_at_rev;
} seen;

static int on_event(const json_t *ev, void *arg)
{
    seen *s = arg;
    int64_t rev = json_integer_value(json_object_get(ev, "revision"));
    if (s->n < 8) {
        snprintf(s->types[s->n], sizeof s->types[0], "%s",
                 json_string_value(json_object_get(ev, "type")));
        s->revs[s->n] = rev;
    }
    s->n++;
    if (s->stop_at_rev && rev == s->stop_at_rev)
        atomic_store(s->stop, 1);
    return s->return_at_rev && rev == s->return_at_rev;
}

static void test_watch_split_lines(void **state)
{
    fpc_reg *reg = fpc_reg_new(g.base, "tok-1", NULL);
    atomic_int stop = 0;
    seen s = {.stop = &stop, .stop_at_rev = 8};
    int64_t last = 0;
    char err[512] = "";
    double t0 = fp_mono_s();
    (void)state;

    assert_int_equal(
        fpc_reg_watch(reg, 5, "Device,Asset", on_event, &s, &stop, &last, err, sizeof err), FP_OK);
    assert_true(fp_mono_s() - t0 < 3.0);
    assert_int_equal(s.n, 3); /* the empty line is skipped, the split ones joined */
    assert_string_equal(s.types[0], "BOOKMARK");
    assert_string_equal(s.types[1], "ADDED");
    assert_string_equal(s.types[2], "MODIFIED");
    assert_int_equal(last, 8);
    fpc_reg_free(reg);
}

static void test_watch_callback_ends(void **state)
{
    fpc_reg *reg = fpc_reg_new(g.base, "tok-1", NULL);
    atomic_int stop = 0;
    seen s = {.stop = &stop, .return_at_rev = 6};
    int64_t last = 0;
    char err[512] = "";
    (void)state;

    assert_int_equal(fpc_reg_watch(reg, 9, NULL, on_event, &s, &stop, &last, err, sizeof err),
                     FP_OK);
    assert_int_equal(s.n, 2);
    assert_int_equal(last, 9); /* since: nothing higher than 9 was seen */
    fpc_reg_free(reg);
}

typedef struct stopper {
    atomic_int *stop;
    int after_ms;
} stopper;

static void *stop_later(void *arg)
{
    stopper *st = arg;
    usleep((useconds_t)st->after_ms * 1000);
    atomic_store(st->stop, 1);
    return NULL;
}

static void test_watch_stop_when_idle(void **state)
{
    fpc_reg *reg = fpc_reg_new(g.base, "tok-1", NULL);
    atomic_int stop = 0;
    seen s = {.stop = &stop};
    stopper st = {&stop, 300};
    int64_t last = 0;
    char err[512] = "";
    pthread_t th;
    double t0, took;
    (void)state;

    pthread_create(&th, NULL, stop_later, &st);
    t0 = fp_mono_s();
    assert_int_equal(fpc_reg_watch(reg, 10, NULL, on_event, &s, &stop, &last, err, sizeof err),
                     FP_OK);
    took = fp_mono_s() - t0;
    pthread_join(th, NULL);
    assert_true(took >= 0.25);
    assert_true(took < 0.3 + 0.5); /* seen within the 200 ms poll, with slack for ASan */
    assert_int_equal(last, 10);
    fpc_reg_free(reg);
}

static void test_watch_errors(void **state)
{
    fpc_reg *reg = fpc_reg_new(g.base, "tok-1", NULL);
    atomic_int stop = 0;
    seen s = {.stop = &stop};
    int64_t last = 0;
    char err[512] = "";
    (void)state;

    assert_int_equal(fpc_reg_watch(reg, 1, NULL, on_event, &s, &stop, &last, err, sizeof err),
                     FP_ERR_GONE);
    assert_non_null(strstr(err, "410 Gone: revision 1 is compacted"));
    assert_non_null(strstr(err, "/api/v1/watch?since=1"));

    assert_int_equal(fpc_reg_watch(reg, 2, NULL, on_event, &s, &stop, &last, err, sizeof err),
                     FP_ERR_GONE);
    assert_non_null(strstr(err, "Gone: compacted"));

    assert_int_equal(fpc_reg_watch(reg, 3, NULL, on_event, &s, &stop, &last, err, sizeof err),
                     FP_ERR_INVALID);
    assert_non_null(strstr(err, "not a JSON object"));

    last = 0;
    assert_int_equal(fpc_reg_watch(reg, 4, NULL, on_event, &s, &stop, &last, err, sizeof err),
                     FP_ERR_UNAVAILABLE);
    assert_non_null(strstr(err, "ended the watch"));
    assert_int_equal(last, 4);
    fpc_reg_free(reg);

    reg = fpc_reg_new("http://127.0.0.1:1", "tok-1", NULL);
    assert_int_equal(fpc_reg_watch(reg, 4, NULL, on_event, &s, &stop, &last, err, sizeof err),
                     FP_ERR_UNAVAILABLE);
    fpc_reg_free(reg);
}

static void test_secret(void **state)
{
    fpc_reg *reg = fpc_reg_new(g.base, "tok-1", NULL);
    char err[512] = "", *v = NULL;
    (void)state;

    assert_int_equal(fpc_reg_secret(reg, "ns", "one", &v, err, sizeof err), FP_OK);
    assert_string_equal(v, "v1"); /* the only key */
    free(v);
    assert_int_equal(fpc_reg_secret(reg, "ns", "cred", &v, err, sizeof err), FP_OK);
    assert_string_equal(v, "pw"); /* several: "value" */
    free(v);
    assert_int_equal(fpc_reg_secret(reg, "ns", "cred/user", &v, err, sizeof err), FP_OK);
    assert_string_equal(v, "u");
    free(v);
    assert_int_equal(fpc_reg_secret(reg, "ns", "two", &v, err, sizeof err), FP_ERR_NOT_FOUND);
    assert_null(v);
    assert_non_null(strstr(err, "'a', 'b'"));
    assert_int_equal(fpc_reg_secret(reg, "ns", "cred/nokey", &v, err, sizeof err),
                     FP_ERR_NOT_FOUND);
    assert_non_null(strstr(err, "no key 'nokey'"));
    assert_int_equal(fpc_reg_secret(reg, "ns", "ghost", &v, err, sizeof err), FP_ERR_NOT_FOUND);
    assert_non_null(strstr(err, "404 NotFound: secret 'ghost' in namespace 'ns': no secret"));
    assert_int_equal(fpc_reg_secret(reg, "ns", "/x", &v, err, sizeof err), FP_ERR_INVALID);
    /* Names are escaped into one path segment (the server sees them decoded). */
    assert_int_equal(fpc_reg_secret(reg, "ns", "we ird", &v, err, sizeof err), FP_OK);
    assert_string_equal(v, "y");
    free(v);
    assert_int_equal(fpc_reg_secret(reg, "ns", "a?b", &v, err, sizeof err), FP_ERR_NOT_FOUND);
    assert_string_equal(g.last_secret_url, "/api/v1/namespaces/ns/secrets/a?b/value");
    fpc_reg_free(reg);
}

static void test_schema_register(void **state)
{
    fpc_reg *reg = fpc_reg_new(g.base, "tok-1", NULL);
    char err[512] = "";
    int64_t v = 0;
    (void)state;

    assert_int_equal(
        fpc_reg_schema_register(reg, "ns", "s", "{\"a\":1}", "oven", &v, err, sizeof err), FP_OK);
    assert_int_equal(v, 1);
    assert_true(g.schema_exists);
    /* Same content: the same version, no PUT of a version. */
    assert_int_equal(g.version_puts, 1);
    assert_int_equal(
        fpc_reg_schema_register(reg, "ns", "s", "{\"a\":1}", "oven", &v, err, sizeof err), FP_OK);
    assert_int_equal(v, 1);
    assert_int_equal(g.version_puts, 1);
    /* New content: max + 1. */
    assert_int_equal(
        fpc_reg_schema_register(reg, "ns", "s", "{\"a\":2}", "oven", &v, err, sizeof err), FP_OK);
    assert_int_equal(v, 2);
    /* Someone else put version 3 meanwhile but our list did not show it: 409, look again,
     * then version 4. */
    g.versions[3] = strdup("{\"other\":true}");
    g.hide_last_once = 1;
    assert_int_equal(
        fpc_reg_schema_register(reg, "ns", "s", "{\"a\":3}", "oven", &v, err, sizeof err), FP_OK);
    assert_int_equal(v, 4);
    /* Old content is found again by its hash. */
    assert_int_equal(
        fpc_reg_schema_register(reg, "ns", "s", "{\"a\":1}", "oven", &v, err, sizeof err), FP_OK);
    assert_int_equal(v, 1);
    fpc_reg_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_watch_split_lines),
        cmocka_unit_test(test_watch_callback_ends),
        cmocka_unit_test(test_watch_stop_when_idle),
        cmocka_unit_test(test_watch_errors),
        cmocka_unit_test(test_secret),
        cmocka_unit_test(test_schema_register),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
