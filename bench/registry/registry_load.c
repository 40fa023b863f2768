/*
 * registry_load.c - the load half of the registry benchmark.
 *
 * Against a running registry (URL, admin token and process id given by
 * run.sh) it creates a namespace, some devices and then N assets with PUT over
 * ONE keep-alive connection, one request in flight, and reports creates per
 * second with the CPU the client and the registry spent on them. It then times
 * GETs of random single assets and list pages of 100 (a full walk along
 * nextLink, then pages at random skipTokens), and reads the registry's memory
 * from /proc. Figures go to stdout as "key value" lines, progress to stderr.
 *
 * Usage: bench_registry_load --url URL --token TOKEN --pid PID [--assets N]
 *        [--devices N] [--gets N] [--lists N] [--seed N]
 */
#include "bench.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_PATH "/api/v1/namespaces/bench"
#define ASSET_TYPE "\"type\":\"Microsoft.DeviceRegistry/namespaces/assets\""

typedef struct load_opts {
    const char *url;
    const char *token;
    pid_t pid;
    long n_assets;
    long n_devices;
    long n_gets;
    long n_lists;
    uint64_t seed;
} load_opts;

static void fail_status(const bench_http *h, const char *method, const char *path, int want)
{
    fprintf(stderr, "bench: %s %s answered %d (expected %d): %.*s\n", method, path, h->status, want,
            (int)(h->body_len > 400 ? 400 : h->body_len), h->body ? h->body : "");
    exit(1);
}

/* Count the asset documents in a list page (each has exactly one type field). */
static long count_assets(const char *body)
{
    long n = 0;
    for (const char *p = body; (p = strstr(p, ASSET_TYPE)) != NULL; p += sizeof ASSET_TYPE - 1)
        n++;
    return n;
}

/* Copy the page's nextLink into out; false on the last page. */
static bool next_link(const char *body, char *out, size_t out_len)
{
    const char *p = strstr(body, "\"nextLink\":\""), *end;

    if (!p)
        return false;
    p += strlen("\"nextLink\":\"");
    end = strchr(p, '"');
    if (!end || (size_t)(end - p) >= out_len)
        return false;
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
    return true;
}

static void setup(bench_http *h, const load_opts *o)
{
    fp_buf doc;
    char path[256], name[32];
    int st;

    st = bench_http_request(h, "PUT", NS_PATH, o->token, "{\"properties\":{}}", 17);
    if (st != 201 && st != 200)
        fail_status(h, "PUT", NS_PATH, 201);
    fp_buf_init(&doc, 1 << 20);
    for (long i = 0; i < o->n_devices; i++) {
        fp_buf_reset(&doc);
        bench_device_doc(&doc, i);
        bench_device_name(name, sizeof name, i);
        snprintf(path, sizeof path, NS_PATH "/devices/%s", name);
        st = bench_http_request(h, "PUT", path, o->token, doc.data, doc.len);
        if (st != 201 && st != 200)
            fail_status(h, "PUT", path, 201);
    }
    fp_buf_clear(&doc);
}

static void run_creates(bench_http *h, const load_opts *o)
{
    bench_lat lat = {0};
    fp_buf doc;
    char path[256], name[32];
    double t0, t1, cpu0, cpu1, srv0, srv1, tb, doc_bytes = 0, wq0, wq1, sq0, sq1;
    long block = o->n_assets >= 100000 ? 10000 : (o->n_assets + 9) / 10;

    fp_buf_init(&doc, 1 << 20);
    t0 = tb = fp_mono_s();
    cpu0 = bench_self_cpu();
    srv0 = bench_proc_cpu(o->pid);
    wq0 = bench_proc_runq_wait(0);
    sq0 = bench_proc_runq_wait(o->pid);
    for (long i = 0; i < o->n_assets; i++) {
        double ts;
        fp_buf_reset(&doc);
        bench_asset_doc(&doc, i, o->n_devices);
        doc_bytes += (double)doc.len;
        bench_asset_name(name, sizeof name, i);
        snprintf(path, sizeof path, NS_PATH "/assets/%s", name);
        ts = fp_mono_s();
        if (bench_http_request(h, "PUT", path, o->token, doc.data, doc.len) != 201)
            fail_status(h, "PUT", path, 201);
        bench_lat_add(&lat, fp_mono_s() - ts);
        if ((i + 1) % block == 0) {
            double tn = fp_mono_s();
            fprintf(stderr, "  %7ld assets, %8.0f creates/s in the last %ld\n", i + 1,
                    (double)block / (tn - tb), block);
            printf("create_block_%ld_per_s %.0f\n", i + 1, (double)block / (tn - tb));
            tb = tn;
        }
    }
    t1 = fp_mono_s();
    cpu1 = bench_self_cpu();
    srv1 = bench_proc_cpu(o->pid);
    wq1 = bench_proc_runq_wait(0);
    sq1 = bench_proc_runq_wait(o->pid);
    printf("assets %ld\n", o->n_assets);
    printf("asset_put_body_bytes_mean %.0f\n", doc_bytes / (double)o->n_assets);
    printf("create_seconds %.3f\n", t1 - t0);
    printf("creates_per_s %.0f\n", (double)o->n_assets / (t1 - t0));
    printf("create_client_cpu_s %.3f\n", cpu1 - cpu0);
    printf("create_client_cpu_share %.3f\n", (cpu1 - cpu0) / (t1 - t0));
    printf("create_server_cpu_s %.3f\n", srv1 - srv0);
    printf("create_server_cpu_share %.3f\n", (srv1 - srv0) / (t1 - t0));
    printf("create_server_cpu_us_per_create %.1f\n", (srv1 - srv0) * 1e6 / (double)o->n_assets);
    /* Time runnable but without a core: high on a busy machine. */
    printf("create_client_runq_wait_share %.3f\n", (wq1 - wq0) / (t1 - t0));
    printf("create_server_runq_wait_share %.3f\n", (sq1 - sq0) / (t1 - t0));
    bench_lat_report(&lat, "put");
    bench_lat_free(&lat);
    fp_buf_clear(&doc);
}

static void run_gets(bench_http *h, const load_opts *o, uint64_t *rng)
{
    bench_lat lat = {0};
    char path[256], name[32];
    double srv0 = bench_proc_cpu(o->pid), t0 = fp_mono_s(), body_bytes = 0;

    for (long k = 0; k < o->n_gets; k++) {
        double ts;
        bench_asset_name(name, sizeof name, (long)(bench_rand(rng) % (uint64_t)o->n_assets));
        snprintf(path, sizeof path, NS_PATH "/assets/%s", name);
        ts = fp_mono_s();
        if (bench_http_request(h, "GET", path, o->token, NULL, 0) != 200)
            fail_status(h, "GET", path, 200);
        bench_lat_add(&lat, fp_mono_s() - ts);
        body_bytes += (double)h->body_len;
    }
    printf("asset_stored_bytes_mean %.0f\n", body_bytes / (double)o->n_gets);
    printf("get_per_s %.0f\n", (double)o->n_gets / (fp_mono_s() - t0));
    printf("get_server_cpu_us_per_get %.1f\n",
           (bench_proc_cpu(o->pid) - srv0) * 1e6 / (double)o->n_gets);
    bench_lat_report(&lat, "get");
    bench_lat_free(&lat);
}

static void run_lists(bench_http *h, const load_opts *o, uint64_t *rng)
{
    bench_lat walk = {0}, rnd = {0};
    char path[1024], name[32];
    long pages = 0, seen = 0;
    double srv0, body_bytes = 0;
    bool more = true;

    /* The whole collection, page after page along nextLink. */
    srv0 = bench_proc_cpu(o->pid);
    snprintf(path, sizeof path, NS_PATH "/assets?top=100");
    while (more) {
        double ts = fp_mono_s();
        if (bench_http_request(h, "GET", path, o->token, NULL, 0) != 200)
            fail_status(h, "GET", path, 200);
        bench_lat_add(&walk, fp_mono_s() - ts);
        pages++;
        seen += count_assets(h->body);
        body_bytes += (double)h->body_len;
        more = next_link(h->body, path, sizeof path);
    }
    if (seen != o->n_assets) {
        fprintf(stderr, "bench: the list walk saw %ld assets, expected %ld\n", seen, o->n_assets);
        exit(1);
    }
    printf("list_walk_pages %ld\n", pages);
    printf("list_walk_assets %ld\n", seen);
    printf("list_page_bytes_mean %.0f\n", body_bytes / (double)pages);
    printf("list_walk_server_cpu_ms_per_page %.3f\n",
           (bench_proc_cpu(o->pid) - srv0) * 1e3 / (double)pages);
    bench_lat_report(&walk, "list_walk");

    /* Pages that start at random names, as a UI jumping around would ask. */
    for (long k = 0; k < o->n_lists; k++) {
        long span = o->n_assets > 100 ? o->n_assets - 100 : 1;
        double ts;
        bench_asset_name(name, sizeof name, (long)(bench_rand(rng) % (uint64_t)span));
        snprintf(path, sizeof path, NS_PATH "/assets?top=100&skipToken=%s", name);
        ts = fp_mono_s();
        if (bench_http_request(h, "GET", path, o->token, NULL, 0) != 200)
            fail_status(h, "GET", path, 200);
        bench_lat_add(&rnd, fp_mono_s() - ts);
        if (o->n_assets > 100 && count_assets(h->body) != 100) {
            fprintf(stderr, "bench: a page at %s held %ld assets\n", name, count_assets(h->body));
            exit(1);
        }
    }
    bench_lat_report(&rnd, "list_random");
    /* Both sets together: the figure the target is stated for. */
    for (size_t i = 0; i < rnd.n; i++)
        bench_lat_add(&walk, rnd.v[i]);
    bench_lat_report(&walk, "list_all");
    bench_lat_free(&walk);
    bench_lat_free(&rnd);
}

static void usage(void)
{
    fprintf(stderr, "Usage: bench_registry_load --url URL --token TOKEN --pid PID [--assets N]\n"
                    "       [--devices N] [--gets N] [--lists N] [--seed N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option k_opts[] = {
        {"url", required_argument, NULL, 'u'},
        {"token", required_argument, NULL, 't'},
        {"pid", required_argument, NULL, 'p'},
        {"assets", required_argument, NULL, 'a'},
        {"devices", required_argument, NULL, 'd'},
        {"gets", required_argument, NULL, 'g'},
        {"lists", required_argument, NULL, 'l'},
        {"seed", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    load_opts o = {
        .n_assets = 100000, .n_devices = 100, .n_gets = 20000, .n_lists = 2000, .seed = 20261126};
    bench_http h;
    uint64_t rng;
    int c;

    while ((c = getopt_long(argc, argv, "", k_opts, NULL)) != -1) {
        switch (c) {
        case 'u':
            o.url = optarg;
            break;
        case 't':
            o.token = optarg;
            break;
        case 'p':
            o.pid = (pid_t)atol(optarg);
            break;
        case 'a':
            o.n_assets = atol(optarg);
            break;
        case 'd':
            o.n_devices = atol(optarg);
            break;
        case 'g':
            o.n_gets = atol(optarg);
            break;
        case 'l':
            o.n_lists = atol(optarg);
            break;
        case 's':
            o.seed = strtoull(optarg, NULL, 10);
            break;
        default:
            usage();
        }
    }
    if (!o.url || !o.token || o.pid <= 0 || o.n_assets < 1 || o.n_assets > 999999 ||
        o.n_devices < 1 || o.n_devices > 999 || o.n_gets < 1 || o.n_lists < 1)
        usage();
    rng = o.seed ? o.seed : 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (bench_http_open(&h, o.url))
        return 1;

    fprintf(stderr, "bench: creating %ld devices and %ld assets on one connection\n", o.n_devices,
            o.n_assets);
    setup(&h, &o);
    run_creates(&h, &o);
    printf("rss_after_creates_kb %ld\n", bench_proc_status_kb(o.pid, "VmRSS"));
    printf("hwm_after_creates_kb %ld\n", bench_proc_status_kb(o.pid, "VmHWM"));
    fprintf(stderr, "bench: %ld GETs of random assets\n", o.n_gets);
    run_gets(&h, &o, &rng);
    fprintf(stderr, "bench: list pages of 100\n");
    run_lists(&h, &o, &rng);
    printf("rss_end_kb %ld\n", bench_proc_status_kb(o.pid, "VmRSS"));
    printf("hwm_end_kb %ld\n", bench_proc_status_kb(o.pid, "VmHWM"));
    printf("client_connections %ld\n", h.n_connects);
    bench_http_close(&h);
    return 0;
}
