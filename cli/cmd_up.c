/*
 * cmd_up.c - `fieldplane up`: everything on one box with one command.
 *
 * Creates the data directory, starts the registry and (unless --broker points
 * at an existing one) Debian's mosquitto with a generated configuration on
 * loopback, and supervises them: a child that exits is restarted with an
 * exponential back-off (1 s doubling to 30 s, reset after a minute of good
 * running); SIGINT or SIGTERM stops every child cleanly (SIGTERM, then SIGKILL
 * after 10 s). Children get PR_SET_PDEATHSIG so they never outlive `up`.
 *
 * The children are rows of a table. After the registry answers, up adds a row for
 * each connector executable it finds built (next to the fieldplane binary, in the
 * build tree's connectors/<name>/, or in --connectors-dir), each with its own token of
 * role connector (made offline once, kept in DATA/connectors/<name>.token) and data
 * directory. --demo adds `fieldplane simulate` as one more child and registers a demo
 * device and two assets on it through the REST API, so data flows at once.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <arpa/inet.h>
#include <getopt.h>
#include <libgen.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "fp_buf.h"
#include "fp_log.h"
#include "fp_time.h"
#include "registry.h"
#include "store.h"

/* The longest argv is a connector's: 11 words and the NULL. Children: mosquitto, the
 * registry, the simulator and up to MAX_CONNECTORS connectors. */
#define MAX_ARGS 16
#define MAX_CONNECTORS 12
#define MAX_CHILDREN (3 + MAX_CONNECTORS)
#define CONNECTOR_PREFIX "fieldplane-connector-"

typedef struct child {
    const char *name;
    char *argv[MAX_ARGS];
    char str[4][1200]; /* strings of argv this row owns (connectors, simulator) */
    pid_t pid;
    double started;    /* monotonic seconds of the last start */
    double restart_at; /* when to start again after an exit (0 = not waiting) */
    double backoff_s;
    int restarts;
} child;

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: fieldplane up [--data DIR] [--listen ADDR:PORT] [--broker mqtt://HOST:PORT]\n"
            "                     [--mqtt-listen ADDR:PORT] [--connectors-dir DIR]\n"
            "                     [--no-connectors] [--demo]\n\n"
            "Start Fieldplane on this box: the registry (REST API and web UI), an MQTT\n"
            "broker and the connectors that are built, supervised (restarted with back-off\n"
            "if they exit) until Ctrl-C.\n\n"
            "Options:\n"
            "  --data DIR              data directory (default ./fieldplane-data)\n"
            "  --listen ADDR:PORT      registry address (default 127.0.0.1:8080;\n"
            "                          port 0 picks a free one)\n"
            "  --broker URL            use this MQTT broker instead of starting mosquitto\n"
            "  --mqtt-listen ADDR:PORT address of the mosquitto that up starts\n"
            "                          (default 127.0.0.1:1883; port 0 picks a free one)\n"
            "  --mosquitto PATH        the mosquitto binary (default /usr/sbin/mosquitto)\n"
            "  --connectors-dir DIR    also start every fieldplane-connector-* in DIR\n"
            "                          (or DIR/NAME/fieldplane-connector-NAME)\n"
            "  --no-connectors         start no connectors\n"
            "  --demo                  also run a simulated device (fieldplane simulate) and\n"
            "                          register it in namespace demo with the assets oven\n"
            "                          (HTTP, topic demo/oven/telemetry) and line (SSE,\n"
            "                          topic demo/line/events)\n"
            "  -h, --help              this help\n\n"
            "Connectors: up looks for fieldplane-connector-http, fieldplane-connector-sse\n"
            "and fieldplane-connector-opcua next to the fieldplane binary and in\n"
            "../connectors/NAME/ from it (the build tree). Each gets a token of role\n"
            "connector, made once and kept in DATA/connectors/NAME.token, and the data\n"
            "directory DATA/connectors/NAME.\n\n"
            "Example:\n"
            "  fieldplane up --data ./data --demo\n"
            "  mosquitto_sub -h 127.0.0.1 -p 1883 -t 'demo/#' -v\n");
}

/* Start (or restart) one child. */
static int start_child(child *c, const char *log_dir)
{
    char log_path[1200];
    pid_t pid;
    int fd;

    snprintf(log_path, sizeof log_path, "%s/%s.log", log_dir, c->name);
    pid = fork();
    if (pid < 0) {
        fp_log_error("up", "cannot start %s: fork: %s", c->name, strerror(errno));
        return -1;
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        setpgid(0, 0); /* Ctrl-C reaches up, which stops the children in order */
        if (strcmp(c->name, "mosquitto") == 0) {
            /* mosquitto logs to stderr; keep it in a file next to the data. */
            fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
            if (fd >= 0) {
                dup2(fd, STDERR_FILENO);
                dup2(fd, STDOUT_FILENO);
                close(fd);
            }
        }
        execv(c->argv[0], c->argv);
        fprintf(stderr, "fieldplane up: cannot run %s: %s\n", c->argv[0], strerror(errno));
        _exit(127);
    }
    c->pid = pid;
    c->started = fp_mono_s();
    c->restart_at = 0;
    fp_log_info("up", "started %s (pid %d)", c->name, (int)pid);
    return 0;
}

/* Parse "ADDR:PORT"; returns the port or -1. */
static int split_addr(const char *z, char *host, size_t host_len)
{
    const char *colon = strrchr(z, ':');
    char *end;
    long port;

    if (!colon || (size_t)(colon - z) >= host_len)
        return -1;
    memcpy(host, z, (size_t)(colon - z));
    host[colon - z] = '\0';
    port = strtol(colon + 1, &end, 10);
    return *end || port < 0 || port > 65535 ? -1 : (int)port;
}

/* A free TCP port on host (bind to 0 and read it back). */
static int free_port(const char *host)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd < 0)
        return -1;
    inet_pton(AF_INET, host, &sa.sin_addr);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* Is something listening on host:port already? */
static int port_in_use(const char *host, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), used;

    if (fd < 0)
        return 0;
    inet_pton(AF_INET, host, &sa.sin_addr);
    used = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return used;
}

/* Write the mosquitto configuration into DIR/mosquitto/mosquitto.conf. */
static int write_mosquitto_conf(const char *data, const char *host, int port, char *conf,
                                size_t conf_len)
{
    char dir[1100];
    FILE *f;

    snprintf(dir, sizeof dir, "%s/mosquitto", data);
    mkdir(dir, 0700);
    snprintf(conf, conf_len, "%s/mosquitto.conf", dir);
    f = fopen(conf, "w");
    if (!f) {
        fp_log_error("up", "cannot write %s: %s", conf, strerror(errno));
        return -1;
    }
    fprintf(f,
            "# Generated by fieldplane up; edits are overwritten at the next start.\n"
            "# Point fieldplane up at your own broker with --broker mqtt://HOST:PORT.\n"
            "listener %d %s\n"
            "allow_anonymous true\n"
            "persistence true\n"
            "persistence_location %s/\n"
            "autosave_interval 60\n"
            "max_queued_messages 100000\n"
            "log_dest stderr\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            "log_timestamp_format %%Y-%%m-%%dT%%H:%%M:%%S\n",
            port, host, dir);
    fclose(f);
    return 0;
}

/* Wait until DATA/registry.url exists (the registry is serving) or timeout. */
static int wait_registry(const char *data, child *reg, char *url, size_t url_len, int timeout_s)
{
    char path[1200];
    double deadline = fp_mono_s() + timeout_s;

    snprintf(path, sizeof path, "%s/registry.url", data);
    while (fp_mono_s() < deadline) {
        FILE *f = fopen(path, "r");
        int status;
        if (f) {
            int ok = fgets(url, (int)url_len, f) != NULL;
            fclose(f);
            if (ok) {
                url[strcspn(url, "\r\n")] = '\0';
                return 0;
            }
        }
        if (waitpid(reg->pid, &status, WNOHANG) == reg->pid) {
            reg->pid = 0;
            return -1;
        }
        usleep(50 * 1000);
    }
    return -1;
}

/* ---------------------------------------------------------------------------
 * Connectors
 * ------------------------------------------------------------------------- */

typedef struct found_connector {
    char name[64];
    char exe[1100];
} found_connector;

static bool is_executable_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* Add exe as connector name unless that name is known already or the list is full. */
static void add_connector(found_connector *list, int *n, const char *name, const char *exe)
{
    char real[PATH_MAX];

    if (!*name || strlen(name) >= sizeof list[0].name || !is_executable_file(exe))
        return;
    for (int i = 0; i < *n; i++)
        if (strcmp(list[i].name, name) == 0)
            return;
    if (*n >= MAX_CONNECTORS) {
        fp_log_warn("up", "more than %d connectors found; not starting %s", MAX_CONNECTORS, exe);
        return;
    }
    if (!realpath(exe, real))
        snprintf(real, sizeof real, "%s", exe);
    snprintf(list[*n].name, sizeof list[*n].name, "%s", name);
    if (strlen(real) >= sizeof list[*n].exe) {
        fp_log_warn("up", "connector path too long, not starting it: %s", real);
        return;
    }
    memcpy(list[*n].exe, real, strlen(real) + 1);
    (*n)++;
}

/* Every fieldplane-connector-NAME in dir, and dir/NAME/fieldplane-connector-NAME. */
static void scan_connectors_dir(const char *dir, found_connector *list, int *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[2400];

    if (!d) {
        fp_log_warn("up", "cannot read --connectors-dir %s: %s", dir, strerror(errno));
        return;
    }
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (strncmp(e->d_name, CONNECTOR_PREFIX, strlen(CONNECTOR_PREFIX)) == 0) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            add_connector(list, n, e->d_name + strlen(CONNECTOR_PREFIX), path);
        } else {
            snprintf(path, sizeof path, "%s/%s/" CONNECTOR_PREFIX "%s", dir, e->d_name, e->d_name);
            add_connector(list, n, e->d_name, path);
        }
    }
    closedir(d);
}

/* The connectors to start: --connectors-dir first, then ours next to this binary and in
 * the build tree (<bin dir>/../connectors/<name>/). */
static int find_connectors(const char *extra_dir, found_connector *list)
{
    static const char *const k_ours[] = {"http", "sse", "opcua"};
    char self[PATH_MAX], path[PATH_MAX + 200];
    const char *bin_dir;
    int n = 0;

    if (extra_dir)
        scan_connectors_dir(extra_dir, list, &n);
    snprintf(self, sizeof self, "%s", fp_self_exe());
    bin_dir = dirname(self);
    for (size_t i = 0; i < sizeof k_ours / sizeof k_ours[0]; i++) {
        snprintf(path, sizeof path, "%s/" CONNECTOR_PREFIX "%s", bin_dir, k_ours[i]);
        add_connector(list, &n, k_ours[i], path);
        snprintf(path, sizeof path, "%s/../connectors/%s/" CONNECTOR_PREFIX "%s", bin_dir,
                 k_ours[i], k_ours[i]);
        add_connector(list, &n, k_ours[i], path);
    }
    return n;
}

/* Read the first line of path into out; false when missing or empty. */
static bool read_line_file(const char *path, char *out, size_t out_len)
{
    FILE *f = fopen(path, "r");
    bool ok;

    if (!f)
        return false;
    ok = fgets(out, (int)out_len, f) != NULL;
    fclose(f);
    if (ok)
        out[strcspn(out, "\r\n")] = '\0';
    return ok && out[0];
}

/* Write text to path, mode 0600, through a temporary file and a rename. */
static int write_secret_file(const char *path, const char *text)
{
    char tmp[1300];
    int fd;
    size_t len = strlen(text);

    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    close(fd);
    return rename(tmp, path);
}

/* Make sure DATA/connectors/<name>.token holds a valid connector token: reuse the one
 * there while the store still accepts it (kept across restarts), else make a new one. */
static int connector_token(fp_store *st, const char *data, const char *name, char *path,
                           size_t path_len)
{
    char text[256], desc[128];
    fp_token tok;

    if ((size_t)snprintf(path, path_len, "%s/connectors/%s.token", data, name) >= path_len) {
        fp_log_error("up", "the path of connector %s's token is too long", name);
        return -1;
    }
    if (read_line_file(path, text, sizeof text) && fp_store_token_check(st, text, &tok) == FP_OK &&
        strcmp(tok.role, "connector") == 0)
        return 0;
    if ((size_t)snprintf(desc, sizeof desc, "fieldplane up: connector %s", name) >= sizeof desc)
        desc[sizeof desc - 1] = '\0'; /* a description: cut is fine */
    if (fp_store_token_create(st, "connector", NULL, desc, text, sizeof text, &tok) != FP_OK) {
        fp_log_error("up", "cannot create a token for connector %s", name);
        return -1;
    }
    if (write_secret_file(path, text) != 0) {
        fp_log_error("up", "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    fp_log_info("up", "created connector token %s for %s in %s", tok.id, name, path);
    return 0;
}

/* Fill a child row for connector c. */
static int connector_child(child *k, const found_connector *c, fp_store *st, const char *data,
                           const char *registry_url, const char *broker_url)
{
    char **a = k->argv;

    memset(k, 0, sizeof *k);
    if ((size_t)snprintf(k->str[0], sizeof k->str[0], "connector-%s", c->name) >=
            sizeof k->str[0] ||
        (size_t)snprintf(k->str[1], sizeof k->str[1], "%s", c->exe) >= sizeof k->str[1] ||
        (size_t)snprintf(k->str[3], sizeof k->str[3], "%s/connectors/%s", data, c->name) >=
            sizeof k->str[3]) {
        fp_log_error("up", "the paths of connector %s are too long", c->name);
        return -1;
    }
    if (mkdir(k->str[3], 0700) != 0 && errno != EEXIST) {
        fp_log_error("up", "cannot create %s: %s", k->str[3], strerror(errno));
        return -1;
    }
    if (connector_token(st, data, c->name, k->str[2], sizeof k->str[2]) != 0)
        return -1;
    k->name = k->str[0];
    a[0] = k->str[1];
    a[1] = "--registry";
    a[2] = (char *)registry_url;
    a[3] = "--token-file";
    a[4] = k->str[2];
    a[5] = "--broker";
    a[6] = (char *)broker_url;
    a[7] = "--data";
    a[8] = k->str[3];
    a[9] = "--listen";
    a[10] = "127.0.0.1:0";
    a[11] = NULL;
    return 0;
}

/* ---------------------------------------------------------------------------
 * The demo
 * ------------------------------------------------------------------------- */

static size_t demo_sink(char *p, size_t size, size_t n, void *arg)
{
    fp_buf *b = arg;
    fp_buf_append(b, p, size * n); /* only for the error message: truncation is fine */
    return size * n;
}

/* PUT (create-only) or PATCH one demo resource; 412 on a create means it is there. */
static long demo_request(CURL *curl, const char *method, const char *base, const char *auth,
                         const char *path, json_t *body)
{
    struct curl_slist *h = NULL;
    char url[600], *text = json_dumps(body, JSON_COMPACT);
    long http = 0;
    fp_buf resp;
    CURLcode cc;

    json_decref(body);
    if (!text)
        return -1;
    fp_buf_init(&resp, 8192);
    snprintf(url, sizeof url, "%s%s", base, path);
    h = curl_slist_append(h, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    if (strcmp(method, "PUT") == 0)
        h = curl_slist_append(h, "If-None-Match: *");
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, text);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, demo_sink);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    cc = curl_easy_perform(curl);
    if (cc != CURLE_OK) {
        fprintf(stderr, "fieldplane up: demo: %s %s: %s\n", method, url, curl_easy_strerror(cc));
        http = -1;
    } else {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http);
        if ((http < 200 || http >= 300) && http != 412)
            fprintf(stderr, "fieldplane up: demo: %s %s: %ld %s\n", method, url, http,
                    resp.data ? resp.data : "");
    }
    curl_slist_free_all(h);
    fp_buf_clear(&resp);
    free(text);
    return http;
}

static json_t *mqtt_destination(const char *topic)
{
    return json_pack("[{s:s,s:{s:s,s:s}}]", "target", "Mqtt", "configuration", "topic", topic,
                     "qos", "Qos1");
}

/* Register namespace demo, device demo-sim and the assets oven and line. Resources that
 * exist are left as they are, except the device's addresses when the simulator had to
 * move to another port (moved). Returns 0 when everything is in place. */
static int demo_setup(const char *registry_url, const char *admin_token, int sim_port, bool moved)
{
    char addr[64], auth[400];
    CURL *curl = curl_easy_init();
    json_t *endpoints;
    long http;
    int rc = -1;

    if (!curl)
        return -1;
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", admin_token);
    snprintf(addr, sizeof addr, "http://127.0.0.1:%d", sim_port);

    http = demo_request(
        curl, "PUT", registry_url, auth, "/api/v1/namespaces/demo",
        json_pack("{s:s,s:{s:s}}", "location", "demo", "tags", "purpose", "fieldplane up --demo"));
    if (http != 412 && (http < 200 || http >= 300))
        goto out;
    endpoints = json_pack("{s:{s:s,s:s,s:{s:s}},s:{s:s,s:s,s:{s:s}}}", "rest", "endpointType",
                          "Microsoft.Http", "address", addr, "authentication", "method",
                          "Anonymous", "events", "endpointType", "Microsoft.SSEHttp", "address",
                          addr, "authentication", "method", "Anonymous");
    http = demo_request(curl, "PUT", registry_url, auth, "/api/v1/namespaces/demo/devices/demo-sim",
                        json_pack("{s:{s:b,s:s,s:s,s:{s:O}}}", "properties", "enabled", 1,
                                  "manufacturer", "Fieldplane", "model", "simulator", "endpoints",
                                  "inbound", endpoints));
    if (http == 412 && moved)
        http = demo_request(
            curl, "PATCH", registry_url, auth, "/api/v1/namespaces/demo/devices/demo-sim",
            json_pack("{s:{s:{s:{s:{s:s},s:{s:s}}}}}", "properties", "endpoints", "inbound", "rest",
                      "address", addr, "events", "address", addr));
    json_decref(endpoints);
    if (http != 412 && (http < 200 || http >= 300))
        goto out;

    http = demo_request(
        curl, "PUT", registry_url, auth, "/api/v1/namespaces/demo/assets/oven",
        json_pack("{s:{s:s,s:{s:s,s:s},s:[{s:s,s:s,s:s,s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}],s:o}]}}",
                  "properties", "displayName", "Demo oven (simulated, HTTP)", "deviceRef",
                  "deviceName", "demo-sim", "endpointName", "rest", "datasets", "name", "telemetry",
                  "dataSource", "/api/oven", "datasetConfiguration",
                  "{\"samplingIntervalInMilliseconds\":1000}", "dataPoints", "name", "temperature",
                  "dataSource", "$.temperature", "name", "pressure", "dataSource", "/pressure",
                  "name", "running", "dataSource", "$.status.running", "destinations",
                  mqtt_destination("demo/oven/telemetry")));
    if (http != 412 && (http < 200 || http >= 300))
        goto out;
    http = demo_request(curl, "PUT", registry_url, auth, "/api/v1/namespaces/demo/assets/line",
                        json_pack("{s:{s:s,s:{s:s,s:s},s:[{s:s,s:s,s:[{s:s,s:s},{s:s,s:s}],s:o}]}}",
                                  "properties", "displayName", "Demo line (simulated, SSE)",
                                  "deviceRef", "deviceName", "demo-sim", "endpointName", "events",
                                  "eventGroups", "name", "alarms", "dataSource", "/events",
                                  "events", "name", "alarm", "dataSource", "alarm", "name", "cycle",
                                  "dataSource", "cycle", "defaultDestinations",
                                  mqtt_destination("demo/line/events")));
    if (http != 412 && (http < 200 || http >= 300))
        goto out;
    rc = 0;
out:
    curl_easy_cleanup(curl);
    return rc;
}

/* The simulator's port: the one of the last run (DATA/simulator.port) while it is free, so
 * the registered device keeps its address; else a new one (*moved). */
static int demo_port(const char *data, bool *moved)
{
    char path[1200], line[32];
    int port = 0;

    *moved = false;
    snprintf(path, sizeof path, "%s/simulator.port", data);
    if (read_line_file(path, line, sizeof line))
        port = atoi(line);
    if (port > 0 && port < 65536 && !port_in_use("127.0.0.1", port))
        return port;
    *moved = port > 0;
    port = free_port("127.0.0.1");
    if (port > 0) {
        FILE *f = fopen(path, "w");
        if (f) {
            fprintf(f, "%d\n", port);
            fclose(f);
        }
    }
    return port;
}

/* Stop every running child: SIGTERM, then SIGKILL after 10 s. */
static void stop_children(child *kids, int n)
{
    double deadline = fp_mono_s() + 10;
    int left;

    for (int i = n - 1; i >= 0; i--)
        if (kids[i].pid > 0)
            kill(kids[i].pid, SIGTERM);
    do {
        left = 0;
        for (int i = 0; i < n; i++) {
            int status;
            if (kids[i].pid <= 0)
                continue;
            if (waitpid(kids[i].pid, &status, WNOHANG) == kids[i].pid) {
                fp_log_info("up", "%s stopped", kids[i].name);
                kids[i].pid = 0;
            } else {
                left++;
            }
        }
        if (left)
            usleep(50 * 1000);
    } while (left && fp_mono_s() < deadline);
    for (int i = 0; i < n; i++)
        if (kids[i].pid > 0) {
            fp_log_warn("up", "%s did not stop in 10 s; killing it", kids[i].name);
            kill(kids[i].pid, SIGKILL);
            waitpid(kids[i].pid, NULL, 0);
        }
}

int fp_cmd_up(int argc, char **argv)
{
    static const struct option k_opts[] = {
        {"data", required_argument, NULL, 'd'},
        {"listen", required_argument, NULL, 'l'},
        {"broker", required_argument, NULL, 'b'},
        {"mqtt-listen", required_argument, NULL, 'm'},
        {"mosquitto", required_argument, NULL, 'M'},
        {"connectors-dir", required_argument, NULL, 'C'},
        {"no-connectors", no_argument, NULL, 'N'},
        {"demo", no_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *data = "./fieldplane-data", *listen = "127.0.0.1:8080", *broker = NULL;
    const char *mqtt_listen = "127.0.0.1:1883", *mosquitto = "/usr/sbin/mosquitto";
    char abs_data[1024], broker_url[300], conf[1200], url[256], token[256], path[1200];
    char mqtt_host[256], mqtt_port_s[16], listen_buf[300], reg_host[256];
    const char *connectors_dir = NULL;
    static child kids[MAX_CHILDREN]; /* large rows: not on the stack */
    found_connector found[MAX_CONNECTORS];
    int n_kids = 0, c, mqtt_port, reg_port, n_base, n_found = 0, sim_port = 0;
    bool no_connectors = false, demo = false, sim_moved = false, demo_ok = false;
    sigset_t set;
    bool created;
    FILE *f;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", k_opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data = optarg;
            break;
        case 'l':
            listen = optarg;
            break;
        case 'b':
            broker = optarg;
            break;
        case 'm':
            mqtt_listen = optarg;
            break;
        case 'M':
            mosquitto = optarg;
            break;
        case 'C':
            connectors_dir = optarg;
            break;
        case 'N':
            no_connectors = true;
            break;
        case 'D':
            demo = true;
            break;
        case 'h':
            usage(stdout);
            return FP_EXIT_OK;
        default:
            fprintf(stderr, "fieldplane up: unknown or incomplete option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return FP_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fieldplane up: unexpected argument '%s'\n", argv[optind]);
        return FP_EXIT_USAGE;
    }
    if (broker && strncmp(broker, "mqtt://", 7) != 0 && strncmp(broker, "mqtts://", 8) != 0) {
        fprintf(stderr, "fieldplane up: --broker must look like mqtt://HOST:PORT\n");
        return FP_EXIT_USAGE;
    }
    if (connectors_dir && no_connectors) {
        fprintf(stderr, "fieldplane up: --connectors-dir and --no-connectors exclude each other\n");
        return FP_EXIT_USAGE;
    }
    /* Connectors and the demo device are given the registry's address once: a port 0 is
     * resolved here so that it stays the same when the registry is restarted. */
    reg_port = split_addr(listen, reg_host, sizeof reg_host);
    if (reg_port < 0) {
        fprintf(stderr, "fieldplane up: --listen must be ADDR:PORT\n");
        return FP_EXIT_USAGE;
    }
    if (reg_port == 0) {
        reg_port = free_port(reg_host);
        snprintf(listen_buf, sizeof listen_buf, "%s:%d", reg_host, reg_port);
        listen = listen_buf;
    }
    if (fp_registry_ensure_admin_token(data, &created) != FP_OK)
        return FP_EXIT_ERROR;
    if (!realpath(data, abs_data))
        snprintf(abs_data, sizeof abs_data, "%s", data);
    snprintf(path, sizeof path, "%s/registry.url", abs_data);
    unlink(path);

    memset(kids, 0, sizeof kids);
    if (!broker) {
        mqtt_port = split_addr(mqtt_listen, mqtt_host, sizeof mqtt_host);
        if (mqtt_port < 0) {
            fprintf(stderr, "fieldplane up: --mqtt-listen must be ADDR:PORT\n");
            return FP_EXIT_USAGE;
        }
        if (mqtt_port == 0)
            mqtt_port = free_port(mqtt_host);
        if (port_in_use(mqtt_host, mqtt_port)) {
            fprintf(stderr,
                    "fieldplane up: something already listens on %s:%d; use it with --broker "
                    "mqtt://%s:%d, or pick another port with --mqtt-listen %s:0\n",
                    mqtt_host, mqtt_port, mqtt_host, mqtt_port, mqtt_host);
            return FP_EXIT_ERROR;
        }
        if (access(mosquitto, X_OK) != 0) {
            fprintf(stderr,
                    "fieldplane up: %s not found; install Debian's mosquitto (scripts/bootstrap "
                    "does) or point at a broker with --broker mqtt://HOST:PORT\n",
                    mosquitto);
            return FP_EXIT_ERROR;
        }
        if (write_mosquitto_conf(abs_data, mqtt_host, mqtt_port, conf, sizeof conf) != 0)
            return FP_EXIT_ERROR;
        snprintf(broker_url, sizeof broker_url, "mqtt://%s:%d", mqtt_host, mqtt_port);
        snprintf(mqtt_port_s, sizeof mqtt_port_s, "%d", mqtt_port);
        kids[n_kids].name = "mosquitto";
        kids[n_kids].argv[0] = (char *)mosquitto;
        kids[n_kids].argv[1] = "-c";
        kids[n_kids].argv[2] = conf;
        n_kids++;
    } else {
        snprintf(broker_url, sizeof broker_url, "%s", broker);
    }
    kids[n_kids].name = "registry";
    {
        char **a = kids[n_kids].argv;
        a[0] = (char *)fp_self_exe();
        a[1] = "registry";
        a[2] = "--data";
        a[3] = abs_data;
        a[4] = "--listen";
        a[5] = (char *)listen;
        a[6] = "--broker";
        a[7] = broker_url;
    }
    n_kids++;
    n_base = n_kids; /* started first; the rest once the registry answers */

    if (demo) {
        child *k = &kids[n_kids];
        sim_port = demo_port(abs_data, &sim_moved);
        if (sim_port <= 0) {
            fprintf(stderr, "fieldplane up: --demo: no free loopback port for the simulator\n");
            return FP_EXIT_ERROR;
        }
        snprintf(k->str[1], sizeof k->str[1], "127.0.0.1:%d", sim_port);
        snprintf(k->str[2], sizeof k->str[2], "%s/simulator.url", abs_data);
        unlink(k->str[2]);
        k->name = "simulator";
        k->argv[0] = (char *)fp_self_exe();
        k->argv[1] = "simulate";
        k->argv[2] = "--listen";
        k->argv[3] = k->str[1];
        k->argv[4] = "--port-file";
        k->argv[5] = k->str[2];
        n_kids++;
    }
    if (!no_connectors)
        n_found = find_connectors(connectors_dir, found);
    if (n_found > 0) {
        char db[1200], err[256];
        fp_store *st = NULL;

        snprintf(path, sizeof path, "%s/connectors", abs_data);
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "fieldplane up: cannot create %s: %s\n", path, strerror(errno));
            return FP_EXIT_ERROR;
        }
        /* Tokens are made offline, before the registry opens the database. */
        fp_registry_db_path(abs_data, db, sizeof db);
        if (fp_store_open(db, NULL, &st, err, sizeof err) != FP_OK) {
            fprintf(stderr, "fieldplane up: %s\n", err);
            return FP_EXIT_ERROR;
        }
        for (int i = 0; i < n_found; i++) {
            if (connector_child(&kids[n_kids], &found[i], st, abs_data, url, broker_url) != 0) {
                fprintf(stderr, "fieldplane up: cannot prepare connector %s (%s)\n", found[i].name,
                        found[i].exe);
                fp_store_close(st);
                return FP_EXIT_ERROR;
            }
            n_kids++;
        }
        fp_store_close(st);
    }

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);

    for (int i = 0; i < n_kids; i++)
        kids[i].backoff_s = 1;
    for (int i = 0; i < n_base; i++) {
        if (start_child(&kids[i], abs_data) != 0) {
            stop_children(kids, n_kids);
            return FP_EXIT_ERROR;
        }
    }
    if (wait_registry(abs_data, &kids[n_base - 1], url, sizeof url, 15) != 0) {
        fprintf(stderr, "fieldplane up: the registry did not start; its messages are above\n");
        stop_children(kids, n_kids);
        return FP_EXIT_ERROR;
    }
    token[0] = '\0';
    snprintf(path, sizeof path, "%s/admin.token", abs_data);
    f = fopen(path, "r");
    if (f) {
        if (!fgets(token, sizeof token, f))
            token[0] = '\0';
        token[strcspn(token, "\r\n")] = '\0';
        fclose(f);
    }
    /* Connectors and the simulator: their argv point at url, which is known now. */
    for (int i = n_base; i < n_kids; i++) {
        if (start_child(&kids[i], abs_data) != 0) {
            stop_children(kids, n_kids);
            return FP_EXIT_ERROR;
        }
    }
    if (demo) {
        /* The banner says where the simulator is: wait until it serves (its port file). */
        char sim_url[256];
        double until = fp_mono_s() + 10;
        snprintf(path, sizeof path, "%s/simulator.url", abs_data);
        while (!read_line_file(path, sim_url, sizeof sim_url) && fp_mono_s() < until)
            usleep(50 * 1000);
        snprintf(path, sizeof path, "%s/admin.token", abs_data);
        if (!token[0])
            fprintf(stderr, "fieldplane up: --demo needs %s to register the demo device\n", path);
        else
            demo_ok = demo_setup(url, token, sim_port, sim_moved) == 0;
    }
    printf("\nFieldplane is up.\n\n"
           "  Web UI and REST API  %s\n"
           "  MQTT broker          %s%s\n"
           "  Data directory       %s\n\n"
           "Sign in with the admin token (kept in %s):\n\n  %s\n\n"
           "Try:  curl -H \"Authorization: Bearer $(cat %s)\" %s/api/v1/namespaces\n"
           "Stop with Ctrl-C.\n\n",
           url, broker_url, broker ? " (external)" : " (mosquitto, started by up)", abs_data, path,
           token[0] ? token
                    : "(admin.token was removed: create one with fieldplane token "
                      "create --data DIR --role admin)",
           path, url);
    for (int i = n_base; i < n_kids; i++)
        if (strncmp(kids[i].name, "connector-", 10) == 0)
            printf("Connector %-14s %s\n", kids[i].name + 10, kids[i].argv[0]);
    if (n_found == 0 && !no_connectors)
        printf("No connectors are built (looked next to %s and in its ../connectors/).\n",
               fp_self_exe());
    if (demo) {
        const char *hp = strstr(broker_url, "://");
        char bhost[256] = "127.0.0.1";
        int bport = split_addr(hp ? hp + 3 : broker_url, bhost, sizeof bhost);
        printf("\nDemo: a simulated device at http://127.0.0.1:%d, registered as namespace demo, "
               "device demo-sim,\nassets oven (HTTP) and line (SSE)%s. See its messages with:\n\n"
               "  mosquitto_sub -h %s -p %d -t 'demo/#' -v\n",
               sim_port, demo_ok ? "" : " (registration FAILED, see above)", bhost,
               bport > 0 ? bport : 1883);
        if (n_found == 0)
            printf("\n(No connector is running, so nothing is published yet: build them with "
                   "cmake --build.)\n");
    }
    fflush(stdout);

    for (;;) {
        struct timespec tick = {.tv_sec = 0, .tv_nsec = 200 * 1000000L};
        int sig = sigtimedwait(&set, NULL, &tick);
        double now = fp_mono_s();

        if (sig == SIGINT || sig == SIGTERM) {
            fp_log_info("up", "received %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
            stop_children(kids, n_kids);
            return FP_EXIT_OK;
        }
        for (int i = 0; i < n_kids; i++) {
            child *k = &kids[i];
            int status;
            if (k->pid > 0 && waitpid(k->pid, &status, WNOHANG) == k->pid) {
                if (now - k->started > 60)
                    k->backoff_s = 1;
                if (WIFEXITED(status))
                    fp_log_warn("up", "%s exited with status %d; restarting in %.0f s", k->name,
                                WEXITSTATUS(status), k->backoff_s);
                else
                    fp_log_warn("up", "%s was killed by signal %d; restarting in %.0f s", k->name,
                                WTERMSIG(status), k->backoff_s);
                k->pid = 0;
                k->restart_at = now + k->backoff_s;
                k->backoff_s = k->backoff_s * 2 > 30 ? 30 : k->backoff_s * 2;
            }
            if (k->pid == 0 && k->restart_at > 0 && now >= k->restart_at) {
                k->restarts++;
                start_child(k, abs_data);
            }
        }
    }
}
