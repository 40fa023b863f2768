/*
 * bench.h - shared pieces of the registry benchmark: a minimal blocking
 * HTTP/1.1 client for one keep-alive connection, the asset documents the load
 * sends, timing and percentile helpers, and readers of /proc for the CPU time
 * and memory of another process.
 *
 * The HTTP client is deliberately small (one request in flight, one write per
 * request, Content-Length bodies only) so that the client side of the benchmark
 * costs little CPU and the figures describe the registry, not the client.
 */
#ifndef FP_BENCH_H
#define FP_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fp_buf.h"
#include "fp_time.h" /* fp_mono_s, the clock every measurement here reads */

/* ---------------------------------------------------------------------------
 * HTTP client
 * ------------------------------------------------------------------------- */

typedef struct bench_http {
    int fd;
    char host[64];
    int port;
    fp_buf out;    /* the request being sent */
    char *in;      /* bytes read from the socket */
    size_t in_len; /* valid bytes in `in` */
    size_t in_cap;
    int status;       /* status code of the last response */
    const char *body; /* body of the last response, inside `in`, NUL-terminated */
    size_t body_len;
    long n_connects; /* connections opened; 1 for a run on one keep-alive connection */
} bench_http;

/* Parse "http://HOST:PORT" into h and connect (TCP_NODELAY). Returns 0 or -1 with
 * a message on stderr. */
int bench_http_open(bench_http *h, const char *url);
void bench_http_close(bench_http *h);
/* Send one request and read its response into h->status / h->body. token may be
 * NULL (no Authorization header), body may be NULL. Returns the status code, or -1
 * on a transport error (message on stderr). A connection the server closed is
 * reopened once before the request is sent; n_connects counts it. */
int bench_http_request(bench_http *h, const char *method, const char *path, const char *token,
                       const char *body, size_t body_len);

/* ---------------------------------------------------------------------------
 * Documents
 * ------------------------------------------------------------------------- */

/* Name of asset i ("asset-000042") into out. */
void bench_asset_name(char *out, size_t out_len, long i);
/* Name of device i ("plc-007") into out. */
void bench_device_name(char *out, size_t out_len, long i);
/* Append to b the PUT body of asset i: deviceRef to device (i % n_devices), one
 * dataset of 10 OPC UA data points, a destination; about 2 KB. */
void bench_asset_doc(fp_buf *b, long i, long n_devices);
/* Append to b the PUT body of device i with one OPC UA inbound endpoint "plc". */
void bench_device_doc(fp_buf *b, long i);

/* ---------------------------------------------------------------------------
 * Measuring
 * ------------------------------------------------------------------------- */

/* User + system CPU seconds of this process. */
double bench_self_cpu(void);
/* User + system CPU seconds of process pid from /proc/PID/stat, -1 if unreadable. */
double bench_proc_cpu(pid_t pid);
/* Seconds the threads of process pid (0: this process) have spent runnable but
 * waiting for a CPU, summed from /proc/PID/task/TID/schedstat; -1 if unreadable.
 * Threads that have exited are not counted. */
double bench_proc_runq_wait(pid_t pid);
/* A "VmXXX:" field of /proc/PID/status in kB (field "VmRSS", "VmHWM"), -1 if absent. */
long bench_proc_status_kb(pid_t pid, const char *field);

/* Latency samples of one kind of request. */
typedef struct bench_lat {
    double *v;
    size_t n, cap;
} bench_lat;

void bench_lat_add(bench_lat *l, double seconds);
/* Sort the samples and return the p-quantile (0 < p <= 1) by nearest rank. */
double bench_lat_pct(bench_lat *l, double p);
double bench_lat_mean(const bench_lat *l);
void bench_lat_free(bench_lat *l);
/* Print "<prefix>_n, _p50_ms, _p99_ms, _max_ms, _mean_ms" lines to stdout. */
void bench_lat_report(bench_lat *l, const char *prefix);

/* A small, fast, seedable generator (xorshift64*) so runs are repeatable. */
uint64_t bench_rand(uint64_t *state);

#endif
