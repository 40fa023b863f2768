/*
 * fuzz_registry_request.c - libFuzzer harness for the registry's request path: the bytes a
 * client sends (method, target, headers, body, several requests in a row), through
 * libmicrohttpd, authentication, framing checks, routing, the handlers and the store.
 *
 * One registry runs for the whole process on a scratch data directory, without a listening
 * socket of its own: each input is written into a loopback TCP connection that the harness
 * accepts and hands to the registry as an accepted connection (fp_registry_serve_fd). "@TOKEN@" in
 * an input stands for the registry's admin token, so inputs reach the authenticated handlers. What
 * comes back must be HTTP (or nothing, when the registry drops a request it cannot parse), and
 * never a 500: every input is the client's mistake or a valid request. Streams (watch) are cut
 * after a short wait, which the registry must survive too.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fp_buf.h"
#include "fp_log.h"
#include "fp_time.h"
#include "registry.h"

#define MAX_INPUT (256u * 1024u)
#define READ_WAIT_MS 1500 /* longest wait for the answers to one input (streams are cut) */

/* The answers in data (several when the input pipelined requests) are HTTP and none is a
 * 500. A status line is at the start or right after the blank line that ends a header block
 * (or an answer without a body); a body never starts there with "HTTP/1." (the registry's
 * bodies are JSON), while it may quote the request, "HTTP/1.1 500" and all, so only those
 * places are looked at. libmicrohttpd's own 400 for a malformed request can repeat its header
 * block, which this reads as two answers, both 400. */
static void check_responses(const char *data, size_t len)
{
    if (len &&
        (len < 12 || (memcmp(data, "HTTP/1.1 ", 9) != 0 && memcmp(data, "HTTP/1.0 ", 9) != 0)))
        goto bad;
    for (size_t i = 0; i + 12 <= len; i++) {
        bool line_start = i == 0 || (i >= 4 && memcmp(data + i - 4, "\r\n\r\n", 4) == 0);
        if (line_start && memcmp(data + i, "HTTP/1.", 7) == 0 &&
            memcmp(data + i + 9, "500", 3) == 0)
            goto bad;
    }
    return;
bad:
    fprintf(stderr, "the answer is not HTTP or is a 500:\n%.*s\n", (int)(len > 4096 ? 4096 : len),
            data);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static fp_registry *g_reg;
static char g_dir[64];
static char g_token[128];
static int g_lsn = -1;                /* the harness's loopback listener */
static struct sockaddr_in g_lsn_addr; /* where it listens */

/* Stop the registry and remove its data directory (at exit, also after a replay). */
static void teardown(void)
{
    static const char *const k_files[] = {"registry.db", "registry.db-wal", "registry.db-shm",
                                          "admin.token"};
    char path[128];

    fp_registry_stop(g_reg);
    g_reg = NULL;
    close(g_lsn);
    for (size_t i = 0; i < sizeof k_files / sizeof k_files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", g_dir, k_files[i]);
        unlink(path);
    }
    rmdir(g_dir);
}

static void setup(void)
{
    fp_registry_opts o = {0};
    char path[128];
    FILE *f;

    socklen_t len = sizeof g_lsn_addr;

    fp_log_set_level(FP_LOG_ERROR);
    g_lsn_addr.sin_family = AF_INET;
    g_lsn_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_lsn = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (g_lsn < 0 || bind(g_lsn, (struct sockaddr *)&g_lsn_addr, sizeof g_lsn_addr) != 0 ||
        listen(g_lsn, 8) != 0 || getsockname(g_lsn, (struct sockaddr *)&g_lsn_addr, &len) != 0)
        abort();
    snprintf(g_dir, sizeof g_dir, "/tmp/fp-fuzz-registry-XXXXXX");
    if (!mkdtemp(g_dir))
        abort();
    o.data_dir = g_dir;
    o.listen = "127.0.0.1:0";
    o.no_listen = true;
    o.max_body = 64 * 1024;
    o.keepalive_s = 1;
    if (fp_registry_start(&o, &g_reg) != FP_OK)
        abort();
    snprintf(path, sizeof path, "%s/admin.token", g_dir);
    f = fopen(path, "r");
    if (!f || !fgets(g_token, sizeof g_token, f))
        abort();
    fclose(f);
    g_token[strcspn(g_token, "\r\n")] = '\0';
    atexit(teardown);
}

/* The input with each "@TOKEN@" replaced by the admin token, into b. */
static void expand(fp_buf *b, const uint8_t *data, size_t size)
{
    static const char k_mark[] = "@TOKEN@";
    size_t i = 0;

    while (i < size) {
        const uint8_t *hit = NULL;
        for (size_t j = i; j + sizeof k_mark - 1 <= size; j++)
            if (memcmp(data + j, k_mark, sizeof k_mark - 1) == 0) {
                hit = data + j;
                break;
            }
        if (!hit) {
            fp_buf_append(b, data + i, size - i);
            return;
        }
        fp_buf_append(b, data + i, (size_t)(hit - (data + i)));
        fp_buf_append_str(b, g_token);
        i = (size_t)(hit - data) + sizeof k_mark - 1;
    }
}

/* Write the request and read the answers until the registry closes or the wait is over. */
static void exchange(int fd, const fp_buf *req, fp_buf *resp)
{
    uint64_t deadline = fp_mono_ms() + READ_WAIT_MS;
    size_t off = 0;
    bool shut = false;

    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN | (shut ? 0 : POLLOUT)};
        uint64_t now = fp_mono_ms();
        char chunk[8192];
        ssize_t n;

        if (now >= deadline || poll(&p, 1, (int)(deadline - now)) <= 0)
            return;
        if (!shut && (p.revents & POLLOUT)) {
            n = send(fd, req->data + off, req->len - off, MSG_NOSIGNAL);
            if (n > 0)
                off += (size_t)n;
            if (n < 0 || off == req->len) {
                shutdown(fd, SHUT_WR); /* no more requests: the registry may close */
                shut = true;
            }
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            n = recv(fd, chunk, sizeof chunk, 0);
            if (n <= 0)
                return;
            fp_buf_append(resp, chunk, (size_t)n);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fp_buf req, resp;
    int sv[2];

    if (size > MAX_INPUT)
        return 0;
    if (!g_reg)
        setup();
    fp_buf_init(&req, 2 * MAX_INPUT);
    fp_buf_init(&resp, 8u << 20);
    expand(&req, data, size);
    if (req.len == 0)
        goto out;
    /* sv[1] the client's end, sv[0] the accepted one the registry serves. */
    sv[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sv[1] < 0 || connect(sv[1], (struct sockaddr *)&g_lsn_addr, sizeof g_lsn_addr) != 0 ||
        (sv[0] = accept(g_lsn, NULL, NULL)) < 0)
        abort();
    if (fp_registry_serve_fd(g_reg, sv[0]) != FP_OK) {
        close(sv[1]);
        goto out;
    }
    exchange(sv[1], &req, &resp);
    close(sv[1]);
    /* Whatever came back is HTTP, and no input makes the registry fail with a 500. */
    check_responses(resp.data, resp.len);
out:
    fp_buf_clear(&req);
    fp_buf_clear(&resp);
    return 0;
}
