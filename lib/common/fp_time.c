/*
 * fp_time.c - the clocks, RFC 3339 timestamps and random UUIDs of Fieldplane (see fp_time.h).
 *
 * Both text forms are written digit by digit rather than with gmtime_r and snprintf: they
 * are made on the publish path of every message, glibc's gmtime_r takes the time zone lock
 * that every thread shares, and a fixed-width form needs no format parser.
 */
#include "fp_time.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* ---- clocks ---------------------------------------------------------------------------------- */

uint64_t fp_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

double fp_mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t fp_time_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- RFC 3339 -------------------------------------------------------------------------------- */

#define MS_PER_DAY 86400000LL

/* The proleptic Gregorian date of day number `days` (0 = 1970-01-01). Counted from
 * 0000-03-01, so that the leap day ends a year, in eras of 400 years (146097 days), each
 * of which repeats the same calendar. */
static void civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    int64_t z = days + 719468; /* days since 0000-03-01 */
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153; /* month from March: [0, 11] */
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* v (0 <= v < 10^width) as exactly width decimal digits. */
static void put_digits(char *out, int64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

void fp_time_rfc3339(char out[FP_RFC3339_LEN], int64_t unix_ms)
{
    if (unix_ms < FP_RFC3339_MIN_MS)
        unix_ms = FP_RFC3339_MIN_MS;
    else if (unix_ms > FP_RFC3339_MAX_MS)
        unix_ms = FP_RFC3339_MAX_MS;
    /* Floor division: an instant before 1970 is in the day before, counted forward. */
    int64_t days = unix_ms / MS_PER_DAY, ms = unix_ms % MS_PER_DAY, y;
    int m, d;
    if (ms < 0) {
        ms += MS_PER_DAY;
        days--;
    }
    civil_from_days(days, &y, &m, &d);
    put_digits(out, y, 4);
    out[4] = '-';
    put_digits(out + 5, m, 2);
    out[7] = '-';
    put_digits(out + 8, d, 2);
    out[10] = 'T';
    put_digits(out + 11, ms / 3600000, 2);
    out[13] = ':';
    put_digits(out + 14, ms / 60000 % 60, 2);
    out[16] = ':';
    put_digits(out + 17, ms / 1000 % 60, 2);
    out[19] = '.';
    put_digits(out + 20, ms % 1000, 3);
    out[23] = 'Z';
    out[24] = '\0';
}

void fp_time_now_rfc3339(char out[FP_RFC3339_LEN])
{
    fp_time_rfc3339(out, fp_time_now_ms());
}

/* ---- UUIDs ----------------------------------------------------------------------------------- */

/* Random bytes for the ids are drawn from the kernel 1 KiB at a time per thread: one system
 * call per 64 ids, as the connector runtime stamps an id on every message. Not OpenSSL's
 * RAND_bytes: its first call initialises the libcrypto providers (about 2 MB of memory) in
 * processes that need nothing else from it. */
static _Thread_local unsigned char tl_pool[1024];
static _Thread_local size_t tl_used = sizeof tl_pool;

/* A child of fork() starts with a copy of its parent's pool and would hand out the ids the
 * parent hands out next; it drops its copy. The child runs only the thread that forked, so
 * that thread's pool is the only one to drop. */
static void pool_drop_in_child(void)
{
    memset(tl_pool, 0, sizeof tl_pool);
    tl_used = sizeof tl_pool;
}

static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

static void atfork_register(void)
{
    pthread_atfork(NULL, NULL, pool_drop_in_child);
}

/* 16 random bytes into b; -1 when the kernel gives none. */
static int uuid_random(unsigned char b[16])
{
    pthread_once(&g_atfork_once, atfork_register);
    if (tl_used + 16 > sizeof tl_pool) {
        size_t got = 0;
        while (got < sizeof tl_pool) {
            ssize_t n = getrandom(tl_pool + got, sizeof tl_pool - got, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return -1;
            got += (size_t)n;
        }
        tl_used = 0;
    }
    memcpy(b, tl_pool + tl_used, 16);
    memset(tl_pool + tl_used, 0, 16); /* an id's bytes are never handed out twice */
    tl_used += 16;
    return 0;
}

void fp_uuid4(char out[FP_UUID_LEN])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];

    if (uuid_random(b) != 0) {
        /* The CSPRNG failing is near impossible; an id unique to this process still beats
         * none, and beats the same id every time. */
        static atomic_ullong ctr;
        struct timespec ts;
        unsigned long long c = atomic_fetch_add(&ctr, 1);
        clock_gettime(CLOCK_REALTIME, &ts);
        for (int i = 0; i < 8; i++) {
            b[i] = (unsigned char)((unsigned long long)ts.tv_nsec >> (i * 8));
            b[8 + i] = (unsigned char)((c ^ (unsigned long long)ts.tv_sec) >> (i * 8));
        }
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* variant 10 (RFC 9562) */
    /* 8-4-4-4-12 lowercase hex, as "%02x..." would print it. */
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\0';
}
