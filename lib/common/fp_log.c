/*
 * fp_log.c - structured logging: one line per event, text or JSON.
 */
#include "fp_log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fp_json.h"
#include "fp_time.h"

static const char *const k_level_name[] = {"error", "warn", "info", "debug"};
static int g_level = -1;
static int g_json = -1;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

int fp_log_parse_level(const char *z)
{
    for (int i = 0; z && i < 4; i++)
        if (strcasecmp(z, k_level_name[i]) == 0)
            return i;
    return -1;
}

/* Read FIELDPLANE_LOG and FIELDPLANE_LOG_FORMAT once, whichever thread logs first. */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void init_from_env(void)
{
    if (g_level < 0) {
        int lv = fp_log_parse_level(getenv("FIELDPLANE_LOG"));
        g_level = lv < 0 ? FP_LOG_INFO : lv;
    }
    if (g_json < 0) {
        const char *z = getenv("FIELDPLANE_LOG_FORMAT");
        g_json = z && strcmp(z, "json") == 0;
    }
}

void fp_log_set_level(fp_log_level level)
{
    g_level = (int)level;
}

int fp_log_enabled(fp_log_level level)
{
    pthread_once(&g_once, init_from_env);
    return (int)level <= g_level;
}

/* A log line is built whole and written with one write(2): processes that share a pipe (the
 * children of `fieldplane up`) then never interleave inside each other's lines. */
typedef struct line {
    char b[4096];
    size_t n;
} line;

static void put(line *l, const char *z, size_t n)
{
    if (n > sizeof l->b - 1 - l->n)
        n = sizeof l->b - 1 - l->n;
    memcpy(l->b + l->n, z, n);
    l->n += n;
}

/* The escaped message goes to l up to stop; once a run of it does not fit, the rest is
 * dropped and the caller ends the line with "..." (room for it is kept past stop). */
typedef struct cut_sink {
    line *l;
    size_t stop;
    int cut;
} cut_sink;

/* One run from fp_json_escape: an escape (a backslash sequence) is kept whole or not at
 * all; plain text, always valid UTF-8 there, is cut between two characters, so the line
 * stays valid JSON and valid UTF-8 whatever the message held. */
static void put_run(void *ctx, const void *b, size_t len)
{
    cut_sink *s = ctx;
    const unsigned char *z = b;

    if (s->cut)
        return;
    if (s->l->n + len > s->stop) {
        size_t keep = 0;
        if (z[0] != '\\') {
            keep = s->stop - s->l->n;
            while (keep > 0 && (z[keep] & 0xC0) == 0x80)
                keep--;
        }
        put(s->l, b, keep);
        s->cut = 1;
        return;
    }
    put(s->l, b, len);
}

/* Append z escaped by the tree's one JSON string escaper (a quoted string of the text
 * format is the same); "..." ends a message cut to fit room bytes. */
static void put_escaped(line *l, const char *z, size_t room)
{
    cut_sink s = {l, l->n + room - 3, 0};

    fp_json_escape(z, strlen(z), put_run, &s);
    if (s.cut)
        put(l, "...", 3);
}

void fp_log(fp_log_level level, const char *mod, const char *fmt, ...)
{
    char msg[2048], ts[FP_RFC3339_LEN], head[160];
    va_list ap;
    line l;
    int hn;

    if (!fp_log_enabled(level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fp_time_now_rfc3339(ts);

    if (g_json)
        hn = snprintf(head, sizeof head,
                      "{\"time\":\"%s\",\"level\":\"%s\",\"mod\":\"%.40s\",\"msg\":\"", ts,
                      k_level_name[level], mod);
    else
        hn = snprintf(head, sizeof head, "%s level=%s mod=%.40s msg=\"", ts, k_level_name[level],
                      mod);
    l.n = 0;
    put(&l, head, hn < 0 ? 0 : (size_t)hn < sizeof head ? (size_t)hn : sizeof head - 1);
    put_escaped(&l, msg, sizeof l.b - 1 - l.n - 3);
    put(&l, g_json ? "\"}\n" : "\"\n", g_json ? 3 : 2);

    pthread_mutex_lock(&g_lock);
    fflush(stderr);
    for (size_t off = 0; off < l.n;) {
        ssize_t w = write(STDERR_FILENO, l.b + off, l.n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    pthread_mutex_unlock(&g_lock);
}
