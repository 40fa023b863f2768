/*
 * fp_log.c - structured logging: one line per event, text or JSON.
 */
#include "fp_log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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

/* Read FIELDPLANE_LOG and FIELDPLANE_LOG_FORMAT once. */
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
    init_from_env();
    return (int)level <= g_level;
}

/* Write z to f escaped as the inside of a JSON / quoted string. */
static void put_escaped(FILE *f, const char *z)
{
    for (; *z; z++) {
        unsigned char c = (unsigned char)*z;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
}

void fp_log(fp_log_level level, const char *mod, const char *fmt, ...)
{
    char msg[2048], ts[40];
    struct timespec now;
    struct tm tm;
    va_list ap;

    if (!fp_log_enabled(level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);

    pthread_mutex_lock(&g_lock);
    if (g_json) {
        fprintf(stderr, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"mod\":\"%s\",\"msg\":\"", ts,
                now.tv_nsec / 1000000, k_level_name[level], mod);
        put_escaped(stderr, msg);
        fputs("\"}\n", stderr);
    } else {
        fprintf(stderr, "%s.%03ldZ level=%s mod=%s msg=\"", ts, now.tv_nsec / 1000000,
                k_level_name[level], mod);
        put_escaped(stderr, msg);
        fputs("\"\n", stderr);
    }
    pthread_mutex_unlock(&g_lock);
}
