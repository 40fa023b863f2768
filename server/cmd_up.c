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
 *
 * This file is the command and its supervision loop; the children and ports are
 * up_children.c, finding and starting connectors up_connectors.c, the demo up_demo.c.
 */
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
#include "up.h"
#include "fp_buf.h"
#include "fp_log.h"
#include "fp_time.h"
#include "registry.h"
#include "store.h"

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
            "Connectors: up looks for fieldplane-connector-http, fieldplane-connector-sse,\n"
            "fieldplane-connector-opcua and fieldplane-connector-modbus next to the\n"
            "fieldplane binary and in ../connectors/NAME/ from it (the build tree). Each\n"
            "gets a token of role connector, made once and kept in\n"
            "DATA/connectors/NAME.token, and the data\n"
            "directory DATA/connectors/NAME.\n\n"
            "Example:\n"
            "  fieldplane up --data ./data --demo\n"
            "  mosquitto_sub -h 127.0.0.1 -p 1883 -t 'demo/#' -v\n");
}

/* The supervision loop: a child that exits is started again after its back-off (1 s
 * doubling to 30 s, reset after a minute of good running); SIGINT or SIGTERM (blocked in
 * set) stops every child and ends up. */
static int supervise(child *kids, int n_kids, const sigset_t *set, const char *abs_data)
{
    for (;;) {
        struct timespec tick = {.tv_sec = 0, .tv_nsec = 200 * 1000000L};
        int sig = sigtimedwait(set, NULL, &tick);
        double now = fp_mono_s();

        if (sig == SIGINT || sig == SIGTERM) {
            fp_log_info("up", "received %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
            up_stop_children(kids, n_kids);
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
                up_start_child(k, abs_data);
            }
        }
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
    reg_port = up_split_addr(listen, reg_host, sizeof reg_host);
    if (reg_port < 0) {
        fprintf(stderr, "fieldplane up: --listen must be ADDR:PORT\n");
        return FP_EXIT_USAGE;
    }
    if (reg_port == 0) {
        reg_port = up_free_port(reg_host);
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
        mqtt_port = up_split_addr(mqtt_listen, mqtt_host, sizeof mqtt_host);
        if (mqtt_port < 0) {
            fprintf(stderr, "fieldplane up: --mqtt-listen must be ADDR:PORT\n");
            return FP_EXIT_USAGE;
        }
        if (mqtt_port == 0)
            mqtt_port = up_free_port(mqtt_host);
        if (up_port_in_use(mqtt_host, mqtt_port)) {
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
        if (up_write_mosquitto_conf(abs_data, mqtt_host, mqtt_port, conf, sizeof conf) != 0)
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
        sim_port = up_demo_port(abs_data, &sim_moved);
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
        n_found = up_find_connectors(connectors_dir, found);
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
            if (up_connector_child(&kids[n_kids], &found[i], st, abs_data, url, broker_url) != 0) {
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
        if (up_start_child(&kids[i], abs_data) != 0) {
            up_stop_children(kids, n_kids);
            return FP_EXIT_ERROR;
        }
    }
    if (up_wait_registry(abs_data, &kids[n_base - 1], url, sizeof url, 15) != 0) {
        fprintf(stderr, "fieldplane up: the registry did not start; its messages are above\n");
        up_stop_children(kids, n_kids);
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
        if (up_start_child(&kids[i], abs_data) != 0) {
            up_stop_children(kids, n_kids);
            return FP_EXIT_ERROR;
        }
    }
    if (demo) {
        /* The banner says where the simulator is: wait until it serves (its port file). */
        char sim_url[256];
        double until = fp_mono_s() + 10;
        snprintf(path, sizeof path, "%s/simulator.url", abs_data);
        while (!up_read_line_file(path, sim_url, sizeof sim_url) && fp_mono_s() < until)
            usleep(50 * 1000);
        snprintf(path, sizeof path, "%s/admin.token", abs_data);
        if (!token[0])
            fprintf(stderr, "fieldplane up: --demo needs %s to register the demo device\n", path);
        else
            demo_ok = up_demo_setup(url, token, sim_port, sim_moved) == 0;
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
    /* Each connector's /metrics and /healthz: it picks its port at start and writes it to
     * DATA/connectors/NAME/ops.url; wait a little for each, as for the simulator. */
    for (int i = n_base; i < n_kids; i++) {
        char ops_url[256] = "";
        double until = fp_mono_s() + 5;
        if (strncmp(kids[i].name, "connector-", 10) != 0)
            continue;
        snprintf(path, sizeof path, "%s/connectors/%s/ops.url", abs_data, kids[i].name + 10);
        while (!up_read_line_file(path, ops_url, sizeof ops_url) && fp_mono_s() < until)
            usleep(50 * 1000);
        printf("Connector %-10s %s/metrics  (%s)\n", kids[i].name + 10,
               ops_url[0] ? ops_url : "(not serving yet: see its log)", kids[i].argv[0]);
    }
    if (n_found == 0 && !no_connectors)
        printf("No connectors are built (looked next to %s and in its ../connectors/).\n",
               fp_self_exe());
    if (demo) {
        const char *hp = strstr(broker_url, "://");
        char bhost[256] = "127.0.0.1";
        int bport = up_split_addr(hp ? hp + 3 : broker_url, bhost, sizeof bhost);
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

    return supervise(kids, n_kids, &set, abs_data);
}
