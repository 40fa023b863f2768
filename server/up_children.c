/*
 * up_children.c - the children of `fieldplane up`: starting and stopping them, the ports
 * they listen on, mosquitto's generated configuration, waiting for the registry, and the
 * small files up keeps in its data directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <arpa/inet.h>
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

#include "fp_buf.h"
#include "fp_log.h"
#include "registry.h"
#include "store.h"
#include "up.h"

double up_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Start (or restart) one child. */
int up_start_child(child *c, const char *log_dir)
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
    c->started = up_mono_s();
    c->restart_at = 0;
    fp_log_info("up", "started %s (pid %d)", c->name, (int)pid);
    return 0;
}

/* Stop every running child: SIGTERM, then SIGKILL after 10 s. */
void up_stop_children(child *kids, int n)
{
    double deadline = up_mono_s() + 10;
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
    } while (left && up_mono_s() < deadline);
    for (int i = 0; i < n; i++)
        if (kids[i].pid > 0) {
            fp_log_warn("up", "%s did not stop in 10 s; killing it", kids[i].name);
            kill(kids[i].pid, SIGKILL);
            waitpid(kids[i].pid, NULL, 0);
        }
}

/* Parse "ADDR:PORT"; returns the port or -1. */
int up_split_addr(const char *z, char *host, size_t host_len)
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
int up_free_port(const char *host)
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
int up_port_in_use(const char *host, int port)
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
int up_write_mosquitto_conf(const char *data, const char *host, int port, char *conf,
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
int up_wait_registry(const char *data, child *reg, char *url, size_t url_len, int timeout_s)
{
    char path[1200];
    double deadline = up_mono_s() + timeout_s;

    snprintf(path, sizeof path, "%s/registry.url", data);
    while (up_mono_s() < deadline) {
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

/* Read the first line of path into out; false when missing or empty. */
bool up_read_line_file(const char *path, char *out, size_t out_len)
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
int up_write_secret_file(const char *path, const char *text)
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
