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
#include <time.h>
#include <unistd.h>

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

/* Append z escaped as the inside of a JSON / quoted string; "..." ends a cut message. */
static void put_escaped(line *l, const char *z, size_t room)
{
    size_t stop = l->n + room;
    for (; *z; z++) {
        unsigned char c = (unsigned char)*z;
        char e[8];
        size_t n = 1;
        if (c == '"' || c == '\\')
            n = (size_t)snprintf(e, sizeof e, "\\%c", c);
        else if (c == '\n')
            n = (size_t)snprintf(e, sizeof e, "\\n");
        else if (c < 0x20)
            n = (size_t)snprintf(e, sizeof e, "\\u%04x", c);
        else
            e[0] = (char)c;
        if (l->n + n > stop - 3) {
            put(l, "...", 3);
            return;
        }
        put(l, e, n);
    }
}

void fp_log(fp_log_level level, const char *mod, const char *fmt, ...)
{
    char msg[2048], ts[40], head[160];
    struct timespec now;
    struct tm tm;
    va_list ap;
    line l;
    int hn;

    if (!fp_log_enabled(level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);

    if (g_json)
        hn = snprintf(head, sizeof head,
                      "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"mod\":\"%.40s\",\"msg\":\"", ts,
                      now.tv_nsec / 1000000, k_level_name[level], mod);
    else
        hn = snprintf(head, sizeof head, "%s.%03ldZ level=%s mod=%.40s msg=\"", ts,
                      now.tv_nsec / 1000000, k_level_name[level], mod);
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
