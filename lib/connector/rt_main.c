/*
 * rt_main.c - fp_connector_main: the whole life of a connector process.
 *
 * Parses the command line (flags, else environment, else defaults), starts the registry
 * client, the MQTT publisher with its disk queue, the connector's init, the workers and
 * the background parts (status writer, discovery, actions, /metrics), then runs the
 * registry sync on the main thread until SIGINT or SIGTERM. Shutdown runs in the reverse
 * order: every endpoint is removed through the connector's callbacks on its strand, the
 * status writer makes its last writes, and the publisher gets a few seconds to drain its
 * queue (what is left stays on disk for the next start).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fp_alloc.h"
#include "fp_log.h"
#include "fp_status.h"
#include "rt_internal.h"

#define EXIT_USAGE 2

/* Free heap pages inside the heap are kept by malloc until something is allocated there
 * again; after the bursts of start-up (the list, building every object, subscriptions) and
 * of schema registration, about 1 MB of them would stay resident for good. */
void rt_heap_trim(void)
{
    malloc_trim(0);
}

static fp_rt *g_rt;

void rt_set_current(fp_rt *rt)
{
    g_rt = rt;
}

fp_rt *fp_rt_get(void)
{
    return g_rt;
}

void *fp_rt_user(fp_rt *rt)
{
    return rt ? rt->user : NULL;
}

void fp_rt_set_user(fp_rt *rt, void *user)
{
    if (rt)
        rt->user = user;
}

const char *fp_rt_data_dir(fp_rt *rt)
{
    return rt ? rt->opt.data_dir : NULL;
}

static void on_signal(int sig)
{
    (void)sig;
    if (g_rt)
        atomic_store(&g_rt->stop, 1);
}

/* Strings main() allocated for the options (freed at exit). */
typedef struct main_bufs {
    char *data_dir, *storage_root, *queue_dir, *instance, *host, *mqtt_password, *token;
} main_bufs;

static void bufs_free(main_bufs *b)
{
    if (b->token) {
        memset(b->token, 0, strlen(b->token));
        fp_free(b->token);
    }
    if (b->mqtt_password) {
        memset(b->mqtt_password, 0, strlen(b->mqtt_password));
        fp_free(b->mqtt_password);
    }
    fp_free(b->data_dir);
    fp_free(b->storage_root);
    fp_free(b->queue_dir);
    fp_free(b->instance);
    fp_free(b->host);
}

enum {
    OPT_REGISTRY = 1000,
    OPT_REGISTRY_CAFILE,
    OPT_TOKEN,
    OPT_TOKEN_FILE,
    OPT_BROKER,
    OPT_MQTT_USER,
    OPT_MQTT_PASS_FILE,
    OPT_MQTT_CAFILE,
    OPT_MQTT_CERT,
    OPT_MQTT_KEY,
    OPT_DATA,
    OPT_QUEUE_MAX,
    OPT_QUEUE_MAX_KB,
    OPT_QUEUE_DROP,
    OPT_QUEUE_SYNC,
    OPT_STORAGE_ROOT,
    OPT_LISTEN,
    OPT_NAMESPACE,
    OPT_INSTANCE,
    OPT_WORKERS,
    OPT_MAX_THREADS,
    OPT_LOG_LEVEL,
    OPT_HELP,
    OPT_HELP_CONFIG,
    OPT_JSON,
    OPT_VERSION,
};

static const struct option LONG_OPTS[] = {
    {"registry", required_argument, NULL, OPT_REGISTRY},
    {"registry-cafile", required_argument, NULL, OPT_REGISTRY_CAFILE},
    {"token", required_argument, NULL, OPT_TOKEN},
    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {"broker", required_argument, NULL, OPT_BROKER},
    {"mqtt-username", required_argument, NULL, OPT_MQTT_USER},
    {"mqtt-password-file", required_argument, NULL, OPT_MQTT_PASS_FILE},
    {"mqtt-cafile", required_argument, NULL, OPT_MQTT_CAFILE},
    {"mqtt-cert", required_argument, NULL, OPT_MQTT_CERT},
    {"mqtt-key", required_argument, NULL, OPT_MQTT_KEY},
    {"data", required_argument, NULL, OPT_DATA},
    {"queue-max-mb", required_argument, NULL, OPT_QUEUE_MAX},
    {"queue-max-kb", required_argument, NULL, OPT_QUEUE_MAX_KB},
    {"queue-drop", required_argument, NULL, OPT_QUEUE_DROP},
    {"queue-sync", no_argument, NULL, OPT_QUEUE_SYNC},
    {"storage-root", required_argument, NULL, OPT_STORAGE_ROOT},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"namespace", required_argument, NULL, OPT_NAMESPACE},
    {"instance", required_argument, NULL, OPT_INSTANCE},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"max-threads", required_argument, NULL, OPT_MAX_THREADS},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"help", no_argument, NULL, OPT_HELP},
    {"help-config", no_argument, NULL, OPT_HELP_CONFIG},
    {"json", no_argument, NULL, OPT_JSON},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static void usage(const fp_connector *conn, FILE *f)
{
    fprintf(f, "Usage: fieldplane-connector-%s [flags]\n\n", conn->name);
    if (conn->description)
        fprintf(f, "%s\n\n", conn->description);
    fprintf(f, "Serves endpoint types:");
    for (const char *const *t = conn->endpoint_types; t && *t; t++)
        fprintf(f, " %s", *t);
    fprintf(f,
            "\n\nFlags (environment variables in brackets):\n"
            "  --registry URL            registry base URL [FIELDPLANE_REGISTRY]\n"
            "                            (default http://127.0.0.1:8080)\n"
            "  --registry-cafile F       CA bundle (PEM) for an https:// registry (default: the\n"
            "                            system's CA store)\n"
            "  --token T                 registry bearer token [FIELDPLANE_TOKEN]\n"
            "  --token-file F            read the token from file F\n"
            "  --broker URL              mqtt://HOST:PORT or mqtts://HOST:PORT\n"
            "                            [FIELDPLANE_BROKER] (default mqtt://127.0.0.1:1883)\n"
            "  --mqtt-username U         broker username\n"
            "  --mqtt-password-file F    broker password, read from file F\n"
            "  --mqtt-cafile F           CA bundle (PEM) for mqtts://\n"
            "  --mqtt-cert F             client certificate (PEM) for mqtts://\n"
            "  --mqtt-key F              client key (PEM) for mqtts://\n"
            "  --data DIR                data directory, created if missing (default\n"
            "                            ./fieldplane-%s-data); the queue is DIR/queue\n"
            "  --queue-max-mb N          disk queue limit in MiB (default 64)\n"
            "  --queue-max-kb N          the same in KiB (at least 16), for small devices\n"
            "  --queue-drop oldest|newest  what a full queue drops (default oldest)\n"
            "  --queue-sync              fsync each queued message (power-loss safe)\n"
            "  --storage-root DIR        root of Storage destinations (default DIR/storage)\n"
            "  --listen ADDR:PORT        serve /metrics and /healthz (default: off)\n"
            "  --namespace NS            serve only namespace NS\n"
            "  --instance ID             instance id (default %s-<hostname>)\n"
            "  --workers N               callback worker threads kept running (default 4)\n"
            "  --max-threads N           most worker threads while devices block them: a\n"
            "                            hung device holds one (default 1024)\n"
            "  --log-level L             error, warn, info or debug [FIELDPLANE_LOG]\n"
            "  --help                    this text\n"
            "  --help-config [--json]    the configuration keys the connector reads (--json:\n"
            "                            as the JSON document the web UI's forms are built from)\n"
            "  --version                 print the version\n",
            conn->name, conn->name);
}

/* ---------------------------------------------------------------------------------------
 * --help-config [--json]: the configuration rows as text for a person, or as the JSON
 * document that the web UI's forms are built from (web/CMakeLists.txt embeds it) and that
 * tests/system/config_docs.test.mjs checks the docs' key tables against. Both are made from
 * conn->config alone, so the rows stay the one description of a key.
 * ------------------------------------------------------------------------------------ */

static const char *scope_name(fp_cfg_scope s)
{
    static const char *const names[FP_CFG_SCOPE_COUNT] = {
        "endpoint", "dataset", "datapoint", "eventGroup", "event", "stream", "action"};
    return (unsigned)s < FP_CFG_SCOPE_COUNT ? names[s] : "?";
}

/* Short for the text table; the JSON names are JSON Schema's, which the UI and tests read. */
static const char *type_name(fp_cfg_type t, bool json)
{
    static const char *const text[] = {"int", "double", "bool", "string", "json"};
    static const char *const schema[] = {"integer", "number", "boolean", "string", "json"};
    if ((unsigned)t >= sizeof text / sizeof text[0])
        return "?";
    return json ? schema[t] : text[t];
}

static void help_config_text(const fp_connector *conn)
{
    printf("Configuration keys of fieldplane-connector-%s (JSON in the resource model's\n"
           "...Configuration strings; a dataset key falls back to the asset's\n"
           "defaultDatasetsConfiguration, a data point key to its dataset's, and so on):\n\n",
           conn->name);
    printf("%-11s %-40s %-7s %-10s %s\n", "SCOPE", "KEY", "TYPE", "DEFAULT", "DESCRIPTION");
    int n = 0;
    for (const fp_config_key *row = conn->config; row && row->key; row++, n++) {
        printf("%-11s %-40s %-7s %-10s %s", scope_name(row->scope), row->key,
               type_name(row->type, false), row->def ? row->def : "-",
               row->description ? row->description : "");
        if (row->min || row->max)
            printf(" [%lld..%lld]", (long long)row->min, (long long)row->max);
        if (row->choices) {
            char choices[1024];
            fp_choices_text(row->choices, choices, sizeof choices);
            printf(" (one of %s)", choices);
        }
        printf("\n");
    }
    if (n == 0)
        printf("(none)\n");
}

/* A row's default as a JSON value of the row's type (null when it has none). A default that
 * does not read as its type, or a STRING default that is not one of the row's choices, is a
 * mistake in the table: NULL, with the reason in err, so that the build step that embeds the
 * export for the UI fails instead of shipping it. */
static json_t *row_default(const fp_config_key *row, char *err, size_t err_len)
{
    char *end;

    if (!row->def)
        return json_null();
    switch (row->type) {
    case FP_CFG_INT: {
        errno = 0;
        long long x = strtoll(row->def, &end, 10);
        if (!errno && end != row->def && !*end)
            return json_integer((json_int_t)x);
        break;
    }
    case FP_CFG_DOUBLE: {
        double x = strtod(row->def, &end);
        if (end != row->def && !*end)
            return json_real(x);
        break;
    }
    case FP_CFG_BOOL:
        if (!strcmp(row->def, "true") || !strcmp(row->def, "false"))
            return json_boolean(!strcmp(row->def, "true"));
        break;
    case FP_CFG_STRING:
        for (const char *const *c = row->choices; c && *c; c++)
            if (!strcasecmp(*c, row->def))
                return json_string(row->def);
        if (!row->choices)
            return json_string(row->def);
        fp_set_err(err, err_len, "configuration row %s: default \"%s\" is not one of its choices",
                   row->key, row->def);
        return NULL;
    case FP_CFG_JSON: {
        json_t *x = json_loads(row->def, JSON_DECODE_ANY, NULL);
        if (x)
            return x;
        break;
    }
    }
    fp_set_err(err, err_len, "configuration row %s: default \"%s\" is not a %s", row->key, row->def,
               type_name(row->type, true));
    return NULL;
}

/* The rows as {connector, description, endpointTypes, keys: [{scope, key, type, default, min,
 * max, description, enum?}]}; min and max are null for an unbounded key. NULL with a reason in
 * err for a row that is wrong (see row_default; choices on a key that is not a string; a key
 * twice in one scope, which the UI and the docs could only show once). */
static json_t *config_export(const fp_connector *conn, char *err, size_t err_len)
{
    json_t *doc = json_object(), *types = json_array(), *keys = json_array();

    if (err_len)
        err[0] = '\0';
    if (!doc || !types || !keys)
        goto fail_nomem;
    if (json_object_set_new(doc, "connector", json_string(conn->name)) ||
        json_object_set_new(doc, "description",
                            conn->description ? json_string(conn->description) : json_null()) ||
        json_object_set(doc, "endpointTypes", types) || json_object_set(doc, "keys", keys))
        goto fail_nomem;
    for (const char *const *t = conn->endpoint_types; t && *t; t++)
        if (json_array_append_new(types, json_string(*t)))
            goto fail_nomem;
    for (const fp_config_key *row = conn->config; row && row->key; row++) {
        bool bounded = row->min || row->max;
        json_t *def, *k;

        for (const fp_config_key *prev = conn->config; prev < row; prev++) {
            if (prev->scope == row->scope && !strcmp(prev->key, row->key)) {
                fp_set_err(err, err_len, "configuration row %s: two rows of scope %s", row->key,
                           scope_name(row->scope));
                goto fail;
            }
        }
        if (row->choices && row->type != FP_CFG_STRING) {
            fp_set_err(err, err_len, "configuration row %s: choices on a key of type %s", row->key,
                       type_name(row->type, true));
            goto fail;
        }
        if (!(def = row_default(row, err, err_len))) {
            if (!err[0])
                fp_set_err(err, err_len, "configuration row %s: out of memory", row->key);
            goto fail;
        }
        k = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:s}", "scope", scope_name(row->scope), "key",
                      row->key, "type", type_name(row->type, true), "default", def, "min",
                      bounded ? json_integer(row->min) : json_null(), "max",
                      bounded ? json_integer(row->max) : json_null(), "description",
                      row->description ? row->description : "");
        if (!k || json_array_append_new(keys, k))
            goto fail_nomem;
        if (row->choices) {
            json_t *e = json_array();
            if (!e || json_object_set_new(k, "enum", e))
                goto fail_nomem;
            for (const char *const *c = row->choices; *c; c++)
                if (json_array_append_new(e, json_string(*c)))
                    goto fail_nomem;
        }
    }
    json_decref(types);
    json_decref(keys);
    return doc;
fail_nomem:
    fp_set_err(err, err_len, "out of memory");
fail:
    json_decref(types);
    json_decref(keys);
    json_decref(doc);
    return NULL;
}

/* --help-config: the exit status of the process. */
static int help_config(const fp_connector *conn, bool json)
{
    char err[512] = "";

    if (!json) {
        help_config_text(conn);
        return 0;
    }
    json_t *doc = config_export(conn, err, sizeof err);
    if (!doc) {
        fprintf(stderr, "error: --help-config --json: %s\n", err);
        return 1;
    }
    int rc = json_dumpf(doc, stdout, JSON_INDENT(2)) == 0 && fputc('\n', stdout) != EOF ? 0 : 1;
    json_decref(doc);
    if (fflush(stdout) != 0)
        rc = 1;
    if (rc)
        fprintf(stderr, "error: --help-config --json: writing the document failed\n");
    return rc;
}

/* Read a whole small file (a token, a password), without the trailing newline. */
static char *read_secret_file(const char *flag, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "error: %s %s: %s\n", flag, path, strerror(errno));
        return NULL;
    }
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    bool more = !feof(f) && fgetc(f) != EOF;
    fclose(f);
    if (more) {
        fprintf(stderr, "error: %s %s: file is larger than %zu bytes\n", flag, path,
                sizeof buf - 1);
        return NULL;
    }
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    if (n == 0) {
        fprintf(stderr, "error: %s %s: the file is empty\n", flag, path);
        return NULL;
    }
    char *z = fp_strdup(buf);
    memset(buf, 0, sizeof buf);
    return z;
}

static int parse_int(const char *flag, const char *v, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "error: %s: expected an integer in %ld..%ld, got \"%s\"\n", flag, lo, hi,
                v);
        return -1;
    }
    *out = x;
    return 0;
}

/* "mqtt://host:port" or "mqtts://host:port" (port optional: 1883 / 8883). */
static int parse_broker(const char *url, main_bufs *b, fpc_mqtt_opts *m)
{
    const char *rest;
    if (!strncmp(url, "mqtt://", 7)) {
        rest = url + 7;
        m->tls = false;
        m->port = 1883;
    } else if (!strncmp(url, "mqtts://", 8)) {
        rest = url + 8;
        m->tls = true;
        m->port = 8883;
    } else {
        goto bad;
    }
    const char *colon = strrchr(rest, ':');
    const char *host_end = colon ? colon : rest + strlen(rest);
    if (rest[0] == '[') { /* [v6]:port */
        const char *close = strchr(rest, ']');
        if (!close)
            goto bad;
        b->host = fp_strndup(rest + 1, (size_t)(close - rest - 1));
        colon = close[1] == ':' ? close + 1 : NULL;
        if (!colon && close[1])
            goto bad;
    } else {
        b->host = fp_strndup(rest, (size_t)(host_end - rest));
    }
    if (!b->host || !b->host[0] || strchr(b->host, '/'))
        goto bad;
    if (colon) {
        long port;
        char *end;
        errno = 0;
        port = strtol(colon + 1, &end, 10);
        if (errno || end == colon + 1 || *end || port < 1 || port > 65535)
            goto bad;
        m->port = (int)port;
    }
    m->host = b->host;
    return 0;
bad:
    fprintf(stderr, "error: --broker: expected mqtt://HOST:PORT or mqtts://HOST:PORT, got \"%s\"\n",
            url);
    return -1;
}

static int mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static char *str_join(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *z = fp_malloc(n);
    if (z)
        snprintf(z, n, "%s%s%s", a, b, c);
    return z;
}

/* Fill rt->opt from argv and the environment. Returns -1 to exit with *exit_code. */
static int parse_flags(const fp_connector *conn, int argc, char **argv, rt_options *o, main_bufs *b,
                       int *exit_code)
{
    const char *token = NULL, *token_file = NULL, *pass_file = NULL, *drop = "oldest";
    const char *data = NULL, *log_level = NULL;
    long queue_kb = 64 * 1024, workers = 4, max_threads = RT_MAX_THREADS_DEFAULT;
    bool want_help_config = false, json_out = false;
    memset(o, 0, sizeof *o);
    o->registry_url = getenv("FIELDPLANE_REGISTRY");
    o->broker_url = getenv("FIELDPLANE_BROKER");
    *exit_code = EXIT_USAGE;

    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", LONG_OPTS, NULL)) != -1) {
        switch (c) {
        case OPT_REGISTRY:
            o->registry_url = optarg;
            break;
        case OPT_REGISTRY_CAFILE:
            o->registry_cafile = optarg;
            break;
        case OPT_TOKEN:
            token = optarg;
            break;
        case OPT_TOKEN_FILE:
            token_file = optarg;
            break;
        case OPT_BROKER:
            o->broker_url = optarg;
            break;
        case OPT_MQTT_USER:
            o->mqtt.username = optarg;
            break;
        case OPT_MQTT_PASS_FILE:
            pass_file = optarg;
            break;
        case OPT_MQTT_CAFILE:
            o->mqtt.cafile = optarg;
            break;
        case OPT_MQTT_CERT:
            o->mqtt.certfile = optarg;
            break;
        case OPT_MQTT_KEY:
            o->mqtt.keyfile = optarg;
            break;
        case OPT_DATA:
            data = optarg;
            break;
        case OPT_QUEUE_MAX:
            if (parse_int("--queue-max-mb", optarg, 1, 1024 * 1024, &queue_kb))
                return -1;
            queue_kb *= 1024;
            break;
        case OPT_QUEUE_MAX_KB:
            if (parse_int("--queue-max-kb", optarg, 16, 1024L * 1024 * 1024, &queue_kb))
                return -1;
            break;
        case OPT_QUEUE_DROP:
            if (strcmp(optarg, "oldest") && strcmp(optarg, "newest")) {
                fprintf(stderr, "error: --queue-drop: expected oldest or newest, got \"%s\"\n",
                        optarg);
                return -1;
            }
            drop = optarg;
            break;
        case OPT_QUEUE_SYNC:
            o->mqtt.queue_sync = true;
            break;
        case OPT_STORAGE_ROOT:
            o->storage_root = optarg;
            break;
        case OPT_LISTEN: {
            const char *colon = strrchr(optarg, ':');
            char *end = NULL;
            long port = colon ? strtol(colon + 1, &end, 10) : -1;
            if (!colon || colon == optarg || end == colon + 1 || *end || port < 0 || port > 65535) {
                fprintf(stderr, "error: --listen: expected ADDR:PORT, got \"%s\"\n", optarg);
                return -1;
            }
            o->listen = optarg;
            break;
        }
        case OPT_NAMESPACE:
            if (!optarg[0]) {
                fprintf(stderr, "error: --namespace: empty name\n");
                return -1;
            }
            o->namespace_only = optarg;
            break;
        case OPT_INSTANCE:
            if (!optarg[0]) {
                fprintf(stderr, "error: --instance: empty id\n");
                return -1;
            }
            o->instance = optarg;
            break;
        case OPT_WORKERS:
            if (parse_int("--workers", optarg, 1, 256, &workers))
                return -1;
            break;
        case OPT_MAX_THREADS:
            if (parse_int("--max-threads", optarg, 1, 16384, &max_threads))
                return -1;
            break;
        case OPT_LOG_LEVEL:
            if (fp_log_parse_level(optarg) < 0) {
                fprintf(stderr,
                        "error: --log-level: expected error, warn, info or debug, got "
                        "\"%s\"\n",
                        optarg);
                return -1;
            }
            log_level = optarg;
            break;
        case OPT_HELP:
            usage(conn, stdout);
            *exit_code = 0;
            return -1;
        case OPT_HELP_CONFIG:
            want_help_config = true;
            break;
        case OPT_JSON:
            json_out = true;
            break;
        case OPT_VERSION:
            printf("fieldplane-connector-%s %s\n", conn->name, FP_VERSION);
            *exit_code = 0;
            return -1;
        case ':':
            fprintf(stderr, "error: flag %s needs a value (see --help)\n", argv[optind - 1]);
            return -1;
        default:
            if (optopt && optopt < OPT_REGISTRY)
                fprintf(stderr, "error: unknown flag -%c (see --help)\n", optopt);
            else if (optopt >= OPT_REGISTRY)
                fprintf(stderr, "error: flag %s needs a value (see --help)\n", argv[optind - 1]);
            else
                fprintf(stderr, "error: unknown flag %s (see --help)\n", argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "error: unexpected argument \"%s\" (flags only; see --help)\n",
                argv[optind]);
        return -1;
    }
    /* After the loop, so that --json may come before or after --help-config. */
    if (want_help_config) {
        *exit_code = help_config(conn, json_out);
        return -1;
    }
    if (json_out) {
        fprintf(stderr, "error: --json goes with --help-config\n");
        return -1;
    }
    if (log_level)
        fp_log_set_level((fp_log_level)fp_log_parse_level(log_level));

    if (!o->registry_url || !o->registry_url[0])
        o->registry_url = "http://127.0.0.1:8080";
    if (strncmp(o->registry_url, "http://", 7) && strncmp(o->registry_url, "https://", 8)) {
        fprintf(stderr, "error: --registry: expected an http:// or https:// URL, got \"%s\"\n",
                o->registry_url);
        return -1;
    }
    if (token)
        b->token = fp_strdup(token);
    else if (token_file) {
        if (!(b->token = read_secret_file("--token-file", token_file)))
            return -1;
    } else if (getenv("FIELDPLANE_TOKEN") && getenv("FIELDPLANE_TOKEN")[0])
        b->token = fp_strdup(getenv("FIELDPLANE_TOKEN"));
    if (!b->token || !b->token[0]) {
        fprintf(stderr, "error: no registry token: pass --token T or --token-file F, or set "
                        "FIELDPLANE_TOKEN (make one with: fieldplane token create --role "
                        "connector)\n");
        return -1;
    }
    o->token = b->token;

    if (o->registry_cafile && strncmp(o->registry_url, "https://", 8)) {
        fprintf(stderr, "error: --registry-cafile needs an https:// registry, not %s\n",
                o->registry_url);
        return -1;
    }
    if (o->registry_cafile && access(o->registry_cafile, R_OK) != 0) {
        fprintf(stderr, "error: --registry-cafile %s: %s\n", o->registry_cafile, strerror(errno));
        return -1;
    }
    if (!o->broker_url || !o->broker_url[0])
        o->broker_url = "mqtt://127.0.0.1:1883";
    if (parse_broker(o->broker_url, b, &o->mqtt) != 0)
        return -1;
    if ((o->mqtt.cafile || o->mqtt.certfile || o->mqtt.keyfile) && !o->mqtt.tls) {
        fprintf(stderr, "error: --mqtt-cafile/--mqtt-cert/--mqtt-key need an mqtts:// broker\n");
        return -1;
    }
    if (!o->mqtt.certfile != !o->mqtt.keyfile) {
        fprintf(stderr, "error: %s needs %s too\n", o->mqtt.certfile ? "--mqtt-cert" : "--mqtt-key",
                o->mqtt.certfile ? "--mqtt-key" : "--mqtt-cert");
        return -1;
    }
    if (pass_file) {
        if (!o->mqtt.username) {
            fprintf(stderr, "error: --mqtt-password-file needs --mqtt-username\n");
            return -1;
        }
        if (!(b->mqtt_password = read_secret_file("--mqtt-password-file", pass_file)))
            return -1;
        o->mqtt.password = b->mqtt_password;
    }

    *exit_code = 1;
    b->data_dir = data ? fp_strdup(data) : str_join("./fieldplane-", conn->name, "-data");
    if (!b->data_dir)
        return -1;
    if (mkdir_p(b->data_dir) != 0) {
        fprintf(stderr, "error: --data %s: cannot create: %s\n", b->data_dir, strerror(errno));
        return -1;
    }
    o->data_dir = b->data_dir;
    b->queue_dir = str_join(b->data_dir, "/queue", "");
    b->storage_root =
        o->storage_root ? fp_strdup(o->storage_root) : str_join(b->data_dir, "/storage", "");
    if (!b->queue_dir || !b->storage_root)
        return -1;
    if (mkdir_p(b->storage_root) != 0) {
        fprintf(stderr, "error: --storage-root %s: cannot create: %s\n", b->storage_root,
                strerror(errno));
        return -1;
    }
    o->storage_root = b->storage_root;
    if (!o->instance) {
        char host[256] = "localhost";
        gethostname(host, sizeof host - 1);
        host[sizeof host - 1] = '\0';
        b->instance = str_join(conn->name, "-", host);
        if (!b->instance)
            return -1;
        o->instance = b->instance;
    }
    o->workers = (int)workers;
    o->max_threads = (int)(max_threads < workers ? workers : max_threads);
    o->mqtt.client_id = o->instance;
    o->mqtt.queue_dir = b->queue_dir;
    o->mqtt.queue_max_bytes = (uint64_t)queue_kb * 1024u;
    o->mqtt.drop_newest = !strcmp(drop, "newest");
    *exit_code = 0;
    return 0;
}

int fp_connector_main(const fp_connector *conn, int argc, char **argv)
{
    if (!conn || conn->abi != FP_CONNECTOR_ABI) {
        fprintf(stderr,
                "error: connector table ABI %d, this runtime speaks %d: rebuild the "
                "connector against this libfieldplane-connector\n",
                conn ? conn->abi : -1, FP_CONNECTOR_ABI);
        return 1;
    }
    if (!conn->name || !conn->name[0] || !conn->endpoint_types || !conn->endpoint_types[0]) {
        fprintf(stderr, "error: the connector table needs a name and at least one endpoint "
                        "type\n");
        return 1;
    }
    if (!conn->dataset_sample != !conn->sampling_key) {
        fprintf(stderr, "error: the connector table sets %s without %s\n",
                conn->dataset_sample ? "dataset_sample" : "sampling_key",
                conn->dataset_sample ? "sampling_key" : "dataset_sample");
        return 1;
    }
    for (size_t c = 0; conn->counters && conn->counters[c].name; c++) {
        const char *n = conn->counters[c].name;
        if (c >= FP_MAX_COUNTERS || !*n ||
            strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(n) ||
            !conn->counters[c].help) {
            fprintf(stderr,
                    "error: the connector table's counters: at most %d rows, each with a name "
                    "of lowercase letters, digits and '_' and a help line (row %zu)\n",
                    FP_MAX_COUNTERS, c);
            return 1;
        }
    }
    if (conn->sampling_key) {
        const fp_config_key *k = conn->config;
        while (k && k->key &&
               !(k->scope == FP_CFG_DATASET && k->type == FP_CFG_INT &&
                 !strcmp(k->key, conn->sampling_key)))
            k++;
        if (!k || !k->key) {
            fprintf(stderr,
                    "error: the connector table's sampling_key \"%s\" is not an FP_CFG_DATASET "
                    "FP_CFG_INT row of its config\n",
                    conn->sampling_key);
            return 1;
        }
    }
    /* glibc gives each thread that allocates an arena of its own, up to 8 per core; with a
     * dozen threads (workers, timers, MQTT, status, endpoint tasks) handing buffers to each
     * other, freed memory stays spread over many arenas and the RSS grows far past what is
     * in use. One arena keeps that bounded: on the OPC UA reference workload a second one
     * held 2.4 MB for 1 MB in use and cost 0.7 MB of RSS, with no CPU difference that three
     * runs could tell apart (few threads allocate on the hot path, and glibc's per-thread
     * cache serves most small blocks without the arena's lock). MALLOC_ARENA_MAX in the
     * environment still wins. */
    if (!getenv("MALLOC_ARENA_MAX"))
        mallopt(M_ARENA_MAX, 1);
    main_bufs b;
    memset(&b, 0, sizeof b);
    int code = 1;
    fp_rt *rt = fp_calloc(1, sizeof *rt);
    if (!rt) {
        fprintf(stderr, "error: out of memory\n");
        return 1;
    }
    rt->conn = conn;
    pthread_mutex_init(&rt->lock, NULL);
    atomic_init(&rt->stop, 0);
    atomic_init(&rt->revision, 0);
    atomic_init(&rt->registry_ok, false);
    if (parse_flags(conn, argc, argv, &rt->opt, &b, &code) != 0)
        goto out_free;
    code = 1;
    rt_set_current(rt);

    char err[512] = "";
    rt->reg = fpc_reg_new(rt->opt.registry_url, rt->opt.token, rt->opt.registry_cafile);
    if (!rt->reg) {
        fp_log_error("runtime", "cannot create the registry client for %s", rt->opt.registry_url);
        goto out_free;
    }
    rt->mqtt = fpc_mqtt_new(&rt->opt.mqtt, err, sizeof err);
    if (!rt->mqtt) {
        fp_log_error("runtime", "cannot open the MQTT publisher (queue %s): %s",
                     rt->opt.mqtt.queue_dir, err);
        goto out_reg;
    }
    if (fpc_mqtt_start(rt->mqtt) != 0) {
        fp_log_error("runtime", "cannot start the MQTT publisher for %s", rt->opt.broker_url);
        goto out_mqtt;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* What started is stopped, in the reverse order, whatever failed on the way. */
    bool init_ok = false, exec_ok = false, status_ok = false, disc_ok = false, act_ok = false,
         ops_ok = false;
    if (conn->init && conn->init(rt) != 0) {
        fp_log_error("runtime", "connector %s: init failed", conn->name);
        goto out_stop;
    }
    init_ok = true;
    if (rt_exec_start(rt, rt->opt.workers) != 0) {
        fp_log_error("runtime", "cannot start %d worker threads", rt->opt.workers);
        goto out_stop;
    }
    exec_ok = true;
    if (rt_status_start(rt) != 0) {
        fp_log_error("runtime", "cannot start the status writer");
        goto out_stop;
    }
    status_ok = true;
    if (rt_discovery_start(rt) != 0) {
        fp_log_error("runtime", "cannot start discovery reporting");
        goto out_stop;
    }
    disc_ok = true;
    if (rt_actions_start(rt) != 0) {
        fp_log_error("runtime", "cannot start management actions");
        goto out_stop;
    }
    act_ok = true;
    if (rt_ops_start(rt, rt->opt.listen) != 0) {
        fp_log_error("runtime", "--listen %s: cannot serve /metrics and /healthz", rt->opt.listen);
        goto out_stop;
    }
    ops_ok = true;

    char types[512] = "";
    for (const char *const *t = conn->endpoint_types; *t; t++) {
        size_t n = strlen(types);
        snprintf(types + n, sizeof types - n, "%s%s", n ? ", " : "", *t);
    }
    fp_log_info(
        "runtime",
        "connector %s started: registry %s, broker %s, serving %s, instance %s, data %s%s%s",
        conn->name, rt->opt.registry_url, rt->opt.broker_url, types, rt->opt.instance,
        rt->opt.data_dir, rt->opt.namespace_only ? ", namespace " : "",
        rt->opt.namespace_only ? rt->opt.namespace_only : "");

    rt_sync_run(rt);
    fp_log_info("runtime", "connector %s stopping", conn->name);
    code = 0;

out_stop:
    if (exec_ok)
        rt_model_shutdown(rt); /* every endpoint through its callbacks, on its strand */
    if (init_ok && conn->exit)
        conn->exit(rt);
    if (act_ok)
        rt_actions_stop(rt);
    if (status_ok)
        rt_status_stop(rt); /* the last status writes */
    if (disc_ok)
        rt_discovery_stop(rt);
    if (ops_ok)
        rt_ops_stop(rt);
    if (exec_ok)
        rt_exec_stop(rt);
out_mqtt:
    fpc_mqtt_free(rt->mqtt, code == 0 ? 5000 : 0);
    rt->mqtt = NULL;
out_reg:
    fpc_reg_free(rt->reg);
    rt->reg = NULL;
    if (code == 0)
        fp_log_info("runtime", "connector %s stopped", conn->name);
out_free:
    rt_set_current(NULL);
    pthread_mutex_destroy(&rt->lock);
    bufs_free(&b);
    fp_free(rt);
    return code;
}
