/*
 * cold_start.c - time a registry start on an existing data directory.
 *
 * Each run forks and execs `fieldplane registry --data DIR --listen
 * 127.0.0.1:0`, reads the URL it prints on stdout, polls GET /healthz until it
 * answers 200, and reports the time from just before the fork to that answer,
 * with the registry's RSS at that moment. The registry is then stopped with
 * SIGTERM and reaped before the next run. The OS page cache is left as it is
 * (warm after the load): the figure is the process's own start-up cost.
 *
 * Usage: bench_cold_start --bin FIELDPLANE --data DIR [--runs N] [--log FILE]
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t g_child = -1;

static void stop_child(void)
{
    int status;

    if (g_child > 0) {
        kill(g_child, SIGTERM);
        waitpid(g_child, &status, 0);
        g_child = -1;
    }
}

static void on_signal(int sig)
{
    if (g_child > 0)
        kill(g_child, SIGTERM);
    _exit(128 + sig);
}

/* Start the registry; its stdout comes back on *out_fd. */
static pid_t spawn(const char *bin, const char *data, const char *log, int *out_fd)
{
    int pfd[2];
    pid_t pid;

    if (pipe(pfd))
        return -1;
    pid = fork();
    if (pid == 0) {
        int lfd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(pfd[1], 1);
        if (lfd >= 0)
            dup2(lfd, 2);
        close(pfd[0]);
        close(pfd[1]);
        execl(bin, bin, "registry", "--data", data, "--listen", "127.0.0.1:0", (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    *out_fd = pfd[0];
    return pid;
}

/* Read the first line the registry prints ("... serving http://HOST:PORT") and
 * copy its URL into url. */
static int read_url(int fd, char *url, size_t url_len)
{
    size_t n = 0;
    char *p;

    while (n < url_len - 1) {
        ssize_t r = read(fd, url + n, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        if (url[n] == '\n')
            break;
        n++;
    }
    url[n] = '\0';
    p = strstr(url, "http://");
    if (!p)
        return -1;
    memmove(url, p, strlen(p) + 1);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    static const struct option k_opts[] = {
        {"bin", required_argument, NULL, 'b'},
        {"data", required_argument, NULL, 'd'},
        {"runs", required_argument, NULL, 'r'},
        {"log", required_argument, NULL, 'l'},
        {NULL, 0, NULL, 0},
    };
    const char *bin = NULL, *data = NULL, *log = "/dev/null";
    double times[64];
    int runs = 5, c;

    while ((c = getopt_long(argc, argv, "", k_opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            bin = optarg;
            break;
        case 'd':
            data = optarg;
            break;
        case 'r':
            runs = atoi(optarg);
            break;
        case 'l':
            log = optarg;
            break;
        default:
            bin = NULL;
            break;
        }
    }
    if (!bin || !data || runs < 1 || runs > 64) {
        fprintf(stderr, "Usage: bench_cold_start --bin FIELDPLANE --data DIR [--runs N (1..64)] "
                        "[--log FILE]\n");
        return 2;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    setvbuf(stdout, NULL, _IOLBF, 0);

    for (int run = 0; run < runs; run++) {
        char url[256];
        bench_http h;
        double t0, t1;
        int fd = -1;
        long rss;

        t0 = fp_mono_s();
        g_child = spawn(bin, data, log, &fd);
        if (g_child < 0 || read_url(fd, url, sizeof url)) {
            fprintf(stderr, "bench: the registry did not print its URL (log in %s)\n", log);
            stop_child();
            return 1;
        }
        close(fd);
        if (bench_http_open(&h, url)) {
            stop_child();
            return 1;
        }
        for (;;) {
            struct timespec ms = {0, 1000000};
            int st = bench_http_request(&h, "GET", "/healthz", NULL, NULL, 0);
            if (st == 200)
                break;
            if (fp_mono_s() - t0 > 30) {
                fprintf(stderr, "bench: /healthz did not answer 200 within 30 s\n");
                stop_child();
                return 1;
            }
            nanosleep(&ms, NULL);
        }
        t1 = fp_mono_s();
        rss = bench_proc_status_kb(g_child, "VmRSS");
        bench_http_close(&h);
        stop_child();
        times[run] = t1 - t0;
        printf("cold_start_run_%d_ms %.1f\n", run + 1, times[run] * 1e3);
        printf("cold_start_run_%d_rss_kb %ld\n", run + 1, rss);
    }
    qsort(times, (size_t)runs, sizeof times[0], cmp_double);
    printf("cold_start_runs %d\n", runs);
    printf("cold_start_min_ms %.1f\n", times[0] * 1e3);
    printf("cold_start_median_ms %.1f\n", times[runs / 2] * 1e3);
    printf("cold_start_max_ms %.1f\n", times[runs - 1] * 1e3);
    return 0;
}
