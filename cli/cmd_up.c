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
 * The children are rows of a table, so later connectors are added as rows.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <arpa/inet.h>
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
#include "fp_log.h"
#include "registry.h"

#define MAX_ARGS 16
#define MAX_CHILDREN 8

typedef struct child {
    const char *name;
    char *argv[MAX_ARGS];
    pid_t pid;
    double started;    /* monotonic seconds of the last start */
    double restart_at; /* when to start again after an exit (0 = not waiting) */
    double backoff_s;
    int restarts;
} child;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: fieldplane up [--data DIR] [--listen ADDR:PORT] [--broker mqtt://HOST:PORT]\n"
            "                     [--mqtt-listen ADDR:PORT]\n\n"
            "Start Fieldplane on this box: the registry (REST API and web UI) and an MQTT\n"
            "broker, supervised (restarted with back-off if they exit) until Ctrl-C.\n\n"
            "Options:\n"
            "  --data DIR              data directory (default ./fieldplane-data)\n"
            "  --listen ADDR:PORT      registry address (default 127.0.0.1:8080)\n"
            "  --broker URL            use this MQTT broker instead of starting mosquitto\n"
            "  --mqtt-listen ADDR:PORT address of the mosquitto that up starts\n"
            "                          (default 127.0.0.1:1883; port 0 picks a free one)\n"
            "  --mosquitto PATH        the mosquitto binary (default /usr/sbin/mosquitto)\n"
            "  -h, --help              this help\n\n"
            "Example:\n"
            "  fieldplane up --data ./data\n");
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
    c->started = mono_s();
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
    double deadline = mono_s() + timeout_s;

    snprintf(path, sizeof path, "%s/registry.url", data);
    while (mono_s() < deadline) {
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

/* Stop every running child: SIGTERM, then SIGKILL after 10 s. */
static void stop_children(child *kids, int n)
{
    double deadline = mono_s() + 10;
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
    } while (left && mono_s() < deadline);
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
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *data = "./fieldplane-data", *listen = "127.0.0.1:8080", *broker = NULL;
    const char *mqtt_listen = "127.0.0.1:1883", *mosquitto = "/usr/sbin/mosquitto";
    char abs_data[1024], broker_url[300], conf[1200], url[256], token[256], path[1200];
    char mqtt_host[256], mqtt_port_s[16];
    child kids[MAX_CHILDREN];
    int n_kids = 0, c, mqtt_port;
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

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);

    for (int i = 0; i < n_kids; i++) {
        kids[i].backoff_s = 1;
        if (start_child(&kids[i], abs_data) != 0) {
            stop_children(kids, n_kids);
            return FP_EXIT_ERROR;
        }
    }
    if (wait_registry(abs_data, &kids[n_kids - 1], url, sizeof url, 15) != 0) {
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
    fflush(stdout);

    for (;;) {
        struct timespec tick = {.tv_sec = 0, .tv_nsec = 200 * 1000000L};
        int sig = sigtimedwait(&set, NULL, &tick);
        double now = mono_s();

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
