/*
 * bench_util.c - timing, percentiles and /proc readers for the benchmarks.
 *
 * Latencies are kept as raw samples and sorted once: with at most some
 * hundred thousand samples this is cheap and gives exact nearest-rank
 * percentiles rather than histogram estimates.
 */
#include "bench.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

double bench_self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

double bench_proc_cpu(pid_t pid)
{
    char path[64], line[2048], *p;
    unsigned long long utime, stime;
    FILE *f;
    size_t n;

    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    /* The command name may hold spaces: fields are counted after its ')'. */
    p = strrchr(line, ')');
    if (!p ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

double bench_proc_runq_wait(pid_t pid)
{
    char path[300];
    unsigned long long run_ns, wait_ns, total = 0;
    struct dirent *e;
    DIR *d;

    if (pid > 0)
        snprintf(path, sizeof path, "/proc/%ld/task", (long)pid);
    else
        snprintf(path, sizeof path, "/proc/self/task");
    d = opendir(path);
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL) {
        char stat_path[600];
        FILE *f;
        if (e->d_name[0] == '.')
            continue;
        snprintf(stat_path, sizeof stat_path, "%s/%s/schedstat", path, e->d_name);
        f = fopen(stat_path, "r");
        if (!f)
            continue; /* the thread has just exited */
        if (fscanf(f, "%llu %llu", &run_ns, &wait_ns) == 2)
            total += wait_ns;
        fclose(f);
    }
    closedir(d);
    return (double)total / 1e9;
}

long bench_proc_status_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    size_t field_len = strlen(field);
    long kb = -1;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, field_len) == 0 && line[field_len] == ':') {
            kb = strtol(line + field_len + 1, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

void bench_lat_add(bench_lat *l, double seconds)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4096;
        double *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            fprintf(stderr, "bench: out of memory\n");
            exit(1);
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = seconds;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_lat_pct(bench_lat *l, double p)
{
    size_t rank;

    if (!l->n)
        return 0;
    qsort(l->v, l->n, sizeof *l->v, cmp_double);
    /* Nearest rank: the smallest sample with at least p of all samples at or below it. */
    rank = (size_t)(p * (double)l->n);
    if ((double)rank < p * (double)l->n)
        rank++;
    if (rank < 1)
        rank = 1;
    return l->v[rank - 1];
}

double bench_lat_mean(const bench_lat *l)
{
    double sum = 0;
    for (size_t i = 0; i < l->n; i++)
        sum += l->v[i];
    return l->n ? sum / (double)l->n : 0;
}

void bench_lat_free(bench_lat *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}

void bench_lat_report(bench_lat *l, const char *prefix)
{
    printf("%s_n %zu\n", prefix, l->n);
    printf("%s_p50_ms %.3f\n", prefix, bench_lat_pct(l, 0.50) * 1e3);
    printf("%s_p99_ms %.3f\n", prefix, bench_lat_pct(l, 0.99) * 1e3);
    printf("%s_max_ms %.3f\n", prefix, bench_lat_pct(l, 1.0) * 1e3);
    printf("%s_mean_ms %.3f\n", prefix, bench_lat_mean(l) * 1e3);
}

uint64_t bench_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}
