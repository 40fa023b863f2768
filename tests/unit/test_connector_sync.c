/*
 * test_connector_sync.c - the runtime's registry sync (rt_sync.c) against a small fake
 * registry on a loopback port (libmicrohttpd): the first list builds the model (served
 * endpoint types only, case-insensitively; assets by deviceRef), watch events change it
 * (an asset change, a new device whose secret is missing, then the Secret event that
 * brings it), and a 410 on the watch makes it list again and drop what disappeared.
 *
 * The fake answers a watch with every event after `since` and then ends the stream, as a
 * registry that drops the connection would; the sync resumes from the last revision.
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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../lib/connector/rt_internal.h"

/* ---- the fake registry ------------------------------------------------------------------ */

static struct {
    struct MHD_Daemon *d;
    char base[64];
    pthread_mutex_t mu;
    json_t *devices; /* array of documents */
    json_t *assets;
    json_t *secrets; /* name -> value */
    json_t *events;  /* watch lines, in revision order */
    int64_t revision;
    bool gone_next; /* the next watch answers 410 */
    int lists;      /* asset lists served */
} g;

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type, char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned code, json_t *doc)
{
    char *t = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return reply(c, code, "application/json", t);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_len, void **ctx)
{
    if (!*ctx) { /* first call: headers only */
        *ctx = (void *)1;
        return MHD_YES;
    }
    if (*upload_len) {
        *upload_len = 0; /* status writes: accepted, ignored */
        return MHD_YES;
    }
    pthread_mutex_lock(&g.mu);
    json_t *out = NULL;
    unsigned code = 200;
    char secret[128];
    if (strcmp(method, "GET") != 0) {
        out = json_object();
    } else if (!strcmp(url, "/api/v1/namespaces")) {
        out = json_pack("{s:[{s:s}], s:I}", "value", "name", "ns1", "revision",
                        (json_int_t)g.revision);
    } else if (!strcmp(url, "/api/v1/namespaces/ns1/devices")) {
        out = json_pack("{s:O, s:I}", "value", g.devices, "revision", (json_int_t)g.revision);
    } else if (!strcmp(url, "/api/v1/namespaces/ns1/assets")) {
        g.lists++;
        out = json_pack("{s:O, s:I}", "value", g.assets, "revision", (json_int_t)g.revision);
    } else if (sscanf(url, "/api/v1/namespaces/ns1/secrets/%127[^/]/value", secret) == 1) {
        const char *v = json_string_value(json_object_get(g.secrets, secret));
        if (v) {
            out = json_pack("{s:s, s:{s:s}}", "name", secret, "data", "value", v);
        } else {
            code = 404;
            out = json_pack("{s:{s:s, s:s}}", "error", "code", "NotFound", "message",
                            "secret not found");
        }
    } else if (!strcmp(url, "/api/v1/watch")) {
        const char *since_s = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
        int64_t since = since_s ? strtoll(since_s, NULL, 10) : 0;
        if (g.gone_next) {
            g.gone_next = false;
            code = 410;
            out = json_pack("{s:{s:s, s:s, s:I}}", "error", "code", "Gone", "message", "compacted",
                            "currentRevision", (json_int_t)g.revision);
        } else {
            /* A bookmark, every event after since, then the end of the stream. */
            json_t *bm = json_pack("{s:s, s:I}", "type", "BOOKMARK", "revision", (json_int_t)since);
            char *text = json_dumps(bm, JSON_COMPACT);
            json_decref(bm);
            size_t len = strlen(text);
            size_t i;
            json_t *ev;
            json_array_foreach(g.events, i, ev)
            {
                if (json_integer_value(json_object_get(ev, "revision")) <= since)
                    continue;
                char *line = json_dumps(ev, JSON_COMPACT);
                text = realloc(text, len + strlen(line) + 2);
                text[len++] = '\n';
                strcpy(text + len, line);
                len += strlen(line);
                free(line);
            }
            text = realloc(text, len + 2);
            strcpy(text + len, "\n");
            pthread_mutex_unlock(&g.mu);
            return reply(c, 200, "application/x-ndjson", text);
        }
    } else {
        code = 404;
        out = json_pack("{s:{s:s, s:s}}", "error", "code", "NotFound", "message", url);
    }
    pthread_mutex_unlock(&g.mu);
    return reply_json(c, code, out);
}

static void fake_start(void)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    pthread_mutex_init(&g.mu, NULL);
    g.d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL,
                           NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
    assert_non_null(g.d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(g.d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(g.base, sizeof g.base, "http://127.0.0.1:%u", (unsigned)info->port);
}

/* Put doc into the list state by name (the registry's lists and its events agree). */
static void list_put(json_t *arr, json_t *doc)
{
    size_t i;
    json_t *x;
    const char *name = json_string_value(json_object_get(doc, "name"));
    json_array_foreach(arr, i, x)
    {
        if (!strcmp(json_string_value(json_object_get(x, "name")), name)) {
            json_array_set(arr, i, doc);
            return;
        }
    }
    json_array_append(arr, doc);
}

/* Append a watch event (under the lock) with the next revision. */
static void push_event(const char *type, const char *kind, const char *name, json_t *obj)
{
    pthread_mutex_lock(&g.mu);
    if (obj && !strcmp(kind, "Device"))
        list_put(g.devices, obj);
    if (obj && !strcmp(kind, "Asset"))
        list_put(g.assets, obj);
    g.revision++;
    json_t *ev = json_pack("{s:s, s:I, s:s, s:s, s:s}", "type", type, "revision",
                           (json_int_t)g.revision, "kind", kind, "namespace", "ns1", "name", name);
    if (obj)
        json_object_set_new(ev, "object", obj);
    json_array_append_new(g.events, ev);
    pthread_mutex_unlock(&g.mu);
}

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("bad test JSON: %s", e.text);
    return j;
}

/* ---- a connector that records ----------------------------------------------------------- */

static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_log[4096];

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    pthread_mutex_lock(&g_log_lock);
    size_t n = strlen(g_log);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_log + n, sizeof g_log - n, fmt, ap);
    va_end(ap);
    n = strlen(g_log);
    snprintf(g_log + n, sizeof g_log - n, ";");
    pthread_mutex_unlock(&g_log_lock);
}

static int t_ep_add(fp_endpoint *ep)
{
    logf_("+ep %s/%s trust=%s", ep->device, ep->name,
          ep->trust_list_pem ? ep->trust_list_pem : "-");
    return 0;
}
static void t_ep_remove(fp_endpoint *ep)
{
    logf_("-ep %s/%s", ep->device, ep->name);
}
static int t_ds_add(fp_dataset *ds)
{
    logf_("+ds %s/%s", ds->asset->name, ds->name);
    return 0;
}
static void t_ds_remove(fp_dataset *ds)
{
    logf_("-ds %s/%s", ds->asset->name, ds->name);
}

static const char *const TYPES[] = {"Microsoft.Http", NULL};
static const fp_connector g_conn = {
    .abi = FP_CONNECTOR_ABI,
    .name = "test",
    .endpoint_types = TYPES,
    .endpoint_add = t_ep_add,
    .endpoint_remove = t_ep_remove,
    .dataset_add = t_ds_add,
    .dataset_remove = t_ds_remove,
};

static fp_rt g_rt;

static void *sync_thread(void *arg)
{
    rt_sync_run(arg);
    return NULL;
}

/* Wait up to 10 s for pred(). */
static bool wait_for(bool (*pred)(void))
{
    for (int i = 0; i < 1000; i++) {
        if (pred())
            return true;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return false;
}

static size_t n_datasets(const char *asset)
{
    rt_asset *as = rt_model_asset_find(&g_rt, "ns1", asset);
    return as ? as->pub.n_datasets : 0;
}

static bool listed(void)
{
    return n_datasets("a1") == 1;
}
static bool a1_changed(void)
{
    return n_datasets("a1") == 2;
}
static bool a3_attached(void)
{
    return rt_model_asset_find(&g_rt, "ns1", "a3") != NULL;
}
static bool dev2_started(void)
{
    rt_endpoint *ep = rt_model_endpoint_find(&g_rt, "ns1", "dev2", "web");
    return ep && ep->started;
}
static bool a1_gone(void)
{
    return rt_model_asset_find(&g_rt, "ns1", "a1") == NULL;
}

static void test_sync_list_watch_relist(void **state)
{
    fake_start();
    g.revision = 10;
    g.events = json_array();
    g.secrets = json_object();
    /* dev1: one served endpoint (type in another case) and one that is not served. */
    g.devices =
        parse("[{\"name\": \"dev1\", \"properties\": {\"version\": 1, \"endpoints\":"
              " {\"inbound\": {\"web\": {\"endpointType\": \"MICROSOFT.HTTP\","
              " \"address\": \"http://x\"}, \"opc\": {\"endpointType\": \"Microsoft.OpcUa\","
              " \"address\": \"opc.tcp://x\"}}}}}]");
    g.assets = parse("[{\"name\": \"a1\", \"properties\": {\"version\": 1, \"deviceRef\":"
                     " {\"deviceName\": \"dev1\", \"endpointName\": \"web\"},"
                     " \"datasets\": [{\"name\": \"d1\"}]}},"
                     " {\"name\": \"a2\", \"properties\": {\"version\": 1, \"deviceRef\":"
                     " {\"deviceName\": \"dev1\", \"endpointName\": \"opc\"},"
                     " \"datasets\": [{\"name\": \"d1\"}]}}]");

    memset(&g_rt, 0, sizeof g_rt);
    g_rt.conn = &g_conn;
    g_rt.opt.registry_url = g.base;
    pthread_mutex_init(&g_rt.lock, NULL);
    rt_set_current(&g_rt);
    g_rt.reg = fpc_reg_new(g.base, "tok", NULL);
    assert_non_null(g_rt.reg);
    assert_int_equal(rt_exec_start(&g_rt, 2), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, sync_thread, &g_rt), 0);

    /* 1. The list: dev1/web with a1; the OPC UA endpoint and its asset a2 are not ours. */
    assert_true(wait_for(listed));
    assert_null(rt_model_endpoint_find(&g_rt, "ns1", "dev1", "opc"));
    assert_null(rt_model_asset_find(&g_rt, "ns1", "a2"));
    assert_string_equal(g_log, "+ep dev1/web trust=-;+ds a1/d1;");

    /* 2. Watch: a1 gets a second dataset; a status-only write (same version) is ignored. */
    push_event("MODIFIED", "Asset", "a1",
               parse("{\"name\": \"a1\", \"properties\": {\"version\": 2, \"deviceRef\":"
                     " {\"deviceName\": \"dev1\", \"endpointName\": \"web\"},"
                     " \"datasets\": [{\"name\": \"d1\"}, {\"name\": \"d2\"}]}}"));
    push_event("MODIFIED", "Asset", "a1",
               parse("{\"name\": \"a1\", \"properties\": {\"version\": 2, \"deviceRef\":"
                     " {\"deviceName\": \"dev1\", \"endpointName\": \"web\"},"
                     " \"datasets\": [{\"name\": \"d1\"}, {\"name\": \"d2\"}],"
                     " \"status\": {\"config\": {\"version\": 2}}}}"));
    /* A device whose trust list secret does not exist yet, and an asset on it. */
    push_event(
        "ADDED", "Device", "dev2",
        parse("{\"name\": \"dev2\", \"properties\": {\"version\": 1, \"endpoints\":"
              " {\"inbound\": {\"web\": {\"endpointType\": \"Microsoft.Http\","
              " \"address\": \"http://y\", \"trustSettings\": {\"trustList\": \"ca\"}}}}}}"));
    push_event("ADDED", "Asset", "a3",
               parse("{\"name\": \"a3\", \"properties\": {\"version\": 1, \"deviceRef\":"
                     " {\"deviceName\": \"dev2\", \"endpointName\": \"web\"},"
                     " \"datasets\": [{\"name\": \"d\"}]}}"));
    assert_true(wait_for(a1_changed));
    assert_true(wait_for(a3_attached));
    rt_endpoint *ep2 = rt_model_endpoint_find(&g_rt, "ns1", "dev2", "web");
    assert_non_null(ep2);
    assert_false(ep2->started);
    assert_string_equal(ep2->error.code, "SecretNotFound");
    assert_non_null(strstr(ep2->error.message, "trustSettings.trustList"));
    assert_non_null(strstr(ep2->error.message, "\"ca\""));
    int64_t rev = atomic_load(&g_rt.revision);
    assert_true(rev >= 14);

    /* 3. The secret appears: the endpoint and its asset start. */
    pthread_mutex_lock(&g.mu);
    json_object_set_new(g.secrets, "ca", json_string("PEM"));
    pthread_mutex_unlock(&g.mu);
    push_event("ADDED", "Secret", "ca", parse("{\"name\": \"ca\"}"));
    assert_true(wait_for(dev2_started));
    assert_true(wait_for(a3_attached));

    /* 4. The watch history is gone (410): list again; a1 was deleted meanwhile. */
    pthread_mutex_lock(&g.mu);
    json_array_remove(g.assets, 0); /* a1 */
    g.revision += 5;
    g.gone_next = true;
    pthread_mutex_unlock(&g.mu);
    assert_true(wait_for(a1_gone)); /* the watch reconnects after each end of stream */
    pthread_mutex_lock(&g.mu);
    assert_true(g.lists >= 2);
    pthread_mutex_unlock(&g.mu);

    atomic_store(&g_rt.stop, 1);
    pthread_join(th, NULL);
    assert_string_equal(g_log, "+ep dev1/web trust=-;+ds a1/d1;"
                               "+ds a1/d2;"
                               "+ep dev2/web trust=PEM;+ds a3/d;"
                               "-ds a1/d2;-ds a1/d1;");
    rt_model_shutdown(&g_rt);
    rt_exec_stop(&g_rt);
    fpc_reg_free(g_rt.reg);
    pthread_mutex_destroy(&g_rt.lock);
    rt_set_current(NULL);
    MHD_stop_daemon(g.d);
    json_decref(g.devices);
    json_decref(g.assets);
    json_decref(g.secrets);
    json_decref(g.events);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync_list_watch_relist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
