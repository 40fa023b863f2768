/*
 * test_common_time.c - fp_time: the RFC 3339 form is the one the resource model documents
 * ("2026-11-26T16:00:00.123Z") for every instant of years 0000..9999, clamped outside them,
 * and is what gmtime_r + strftime gave in the copies it replaced; the clocks agree with the
 * system's; UUIDs are version 4, well formed and distinct, across threads and across fork().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fp_cond.h"
#include "fp_time.h"

static void expect_rfc3339(int64_t unix_ms, const char *want)
{
    char out[FP_RFC3339_LEN];

    memset(out, 'x', sizeof out);
    fp_time_rfc3339(out, unix_ms);
    assert_string_equal(out, want);
}

static void test_rfc3339_known_instants(void **state)
{
    (void)state;
    expect_rfc3339(0, "1970-01-01T00:00:00.000Z");
    expect_rfc3339(1, "1970-01-01T00:00:00.001Z");
    expect_rfc3339(-1, "1969-12-31T23:59:59.999Z");
    expect_rfc3339(1795708800123LL, "2026-11-26T16:00:00.123Z");
    expect_rfc3339(951782400000LL, "2000-02-29T00:00:00.000Z"); /* 400-year leap day */
    expect_rfc3339(951782400000LL - 1, "2000-02-28T23:59:59.999Z");
    expect_rfc3339(-2203891200000LL, "1900-03-01T00:00:00.000Z"); /* 1900 has no Feb 29 */
    expect_rfc3339(-2203891200000LL - 1, "1900-02-28T23:59:59.999Z");
    expect_rfc3339(-11670953103211LL, "1600-02-29T12:34:56.789Z");
}

static void test_rfc3339_range_ends(void **state)
{
    (void)state;
    expect_rfc3339(FP_RFC3339_MIN_MS, "0000-01-01T00:00:00.000Z");
    expect_rfc3339(FP_RFC3339_MAX_MS, "9999-12-31T23:59:59.999Z");
    /* Outside them: the nearest end, never a five-digit or negative year. */
    expect_rfc3339(FP_RFC3339_MIN_MS - 1, "0000-01-01T00:00:00.000Z");
    expect_rfc3339(INT64_MIN, "0000-01-01T00:00:00.000Z");
    expect_rfc3339(FP_RFC3339_MAX_MS + 1, "9999-12-31T23:59:59.999Z");
    expect_rfc3339(INT64_MAX, "9999-12-31T23:59:59.999Z");
}

/* What the replaced copies did (rt_now_iso, the registry's fp_now_rfc3339, the CLI's): the
 * seconds through gmtime_r and strftime, the milliseconds appended. */
static void reference(char *out, size_t cap, int64_t unix_ms)
{
    int64_t secs = unix_ms / 1000 - (unix_ms % 1000 < 0);
    int ms = (int)(unix_ms - secs * 1000);
    time_t t = (time_t)secs;
    struct tm tm;
    char base[40];

    assert_non_null(gmtime_r(&t, &tm));
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%s.%03dZ", base, ms);
}

/* The same text as gmtime_r for instants spread over 1000..9999 (every day boundary of a
 * walk in prime steps, and the milliseconds either side of it). */
static void test_rfc3339_matches_gmtime(void **state)
{
    const int64_t from = -30610224000000LL + 86400000LL; /* 1000-01-02: %Y pads no further */
    const int64_t step = 86400000LL * 97 + 3600000LL * 7 + 60000 * 13 + 1000 * 17 + 19;
    char got[FP_RFC3339_LEN], want[64];
    long n = 0;
    (void)state;

    for (int64_t t = from; t < FP_RFC3339_MAX_MS - step; t += step, n++) {
        int64_t day = t - (t % 86400000LL + 86400000LL) % 86400000LL;
        const int64_t probes[] = {t, day, day - 1, day + 1};
        for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
            fp_time_rfc3339(got, probes[i]);
            reference(want, sizeof want, probes[i]);
            assert_string_equal(got, want);
        }
    }
    assert_true(n > 30000);
}

static void test_now(void **state)
{
    char out[FP_RFC3339_LEN], want[64];
    (void)state;

    int64_t before = fp_time_now_ms();
    fp_time_now_rfc3339(out);
    int64_t after = fp_time_now_ms();
    assert_true(before > 1700000000000LL); /* past 2023: the wall clock in milliseconds */
    assert_true(llabs((long long)(before - (int64_t)time(NULL) * 1000)) < 2000);
    assert_int_equal(strlen(out), FP_RFC3339_LEN - 1);
    /* The text is one of the instants read around it (both may fall in one millisecond). */
    int match = 0;
    for (int64_t t = before; t <= after && !match; t++) {
        reference(want, sizeof want, t);
        match = strcmp(out, want) == 0;
    }
    assert_true(match);
}

static void test_monotonic_clock(void **state)
{
    struct timespec nap = {0, 20 * 1000000L};
    (void)state;

    uint64_t ms0 = fp_mono_ms();
    double s0 = fp_mono_s();
    nanosleep(&nap, NULL);
    uint64_t ms1 = fp_mono_ms();
    double s1 = fp_mono_s();
    /* A sleep lasts at least what was asked; whole milliseconds lose at most one. */
    assert_true(ms1 - ms0 >= 19);
    assert_true(s1 - s0 >= 0.020);
    /* One clock: the two units read the same instant to within a few ms. */
    assert_true(llabs((long long)(ms1 - (uint64_t)(s1 * 1000.0))) <= 5);
}

/* 36 characters, 8-4-4-4-12 lowercase hex, version 4, variant 10. */
static void expect_uuid4(const char *u)
{
    assert_int_equal(strlen(u), FP_UUID_LEN - 1);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(u[i], '-');
        else
            assert_non_null(strchr("0123456789abcdef", u[i]));
    }
    assert_int_equal(u[14], '4');
    assert_non_null(strchr("89ab", u[19]));
}

static int cmp_uuid(const void *a, const void *b)
{
    return strcmp(a, b);
}

enum { N_IDS = 5000 };

/* More ids than one refill of the per-thread pool (64), all distinct. */
static void test_uuid4_form_and_distinct(void **state)
{
    char(*ids)[FP_UUID_LEN] = calloc(N_IDS, FP_UUID_LEN);
    (void)state;

    assert_non_null(ids);
    for (int i = 0; i < N_IDS; i++) {
        fp_uuid4(ids[i]);
        expect_uuid4(ids[i]);
    }
    qsort(ids, N_IDS, FP_UUID_LEN, cmp_uuid);
    for (int i = 1; i < N_IDS; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
    free(ids);
}

enum { THREADS = 4, PER_THREAD = 500 };

static char g_thread_ids[THREADS * PER_THREAD][FP_UUID_LEN];

static void *make_ids(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int i = 0; i < PER_THREAD; i++)
        fp_uuid4(g_thread_ids[t * PER_THREAD + i]);
    return NULL;
}

/* Each thread draws from its own pool: no two threads hand out the same id. */
static void test_uuid4_threads(void **state)
{
    pthread_t th[THREADS];
    (void)state;

    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, make_ids, (void *)(intptr_t)t), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    qsort(g_thread_ids, THREADS * PER_THREAD, FP_UUID_LEN, cmp_uuid);
    for (int i = 1; i < THREADS * PER_THREAD; i++)
        assert_string_not_equal(g_thread_ids[i - 1], g_thread_ids[i]);
}

/* A child of fork() does not hand out the ids left in its parent's pool. */
static void test_uuid4_fork(void **state)
{
    char parent[FP_UUID_LEN], child[FP_UUID_LEN] = "";
    int fd[2];
    (void)state;

    fp_uuid4(parent); /* the pool is filled now */
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char id[FP_UUID_LEN];
        fp_uuid4(id);
        _exit(write(fd[1], id, sizeof id) == (ssize_t)sizeof id ? 0 : 1);
    }
    close(fd[1]);
    fp_uuid4(parent);
    assert_int_equal(read(fd[0], child, sizeof child), (ssize_t)sizeof child);
    close(fd[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    expect_uuid4(child);
    assert_string_not_equal(parent, child);
}

/* fp_cond: a timed wait times out after (not before) its time on the monotonic clock, a
 * signal ends it early, and a deadline already passed returns at once. */
typedef struct cond_case {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int flag;
} cond_case;

static void *signal_later(void *arg)
{
    cond_case *c = arg;
    usleep(20 * 1000);
    pthread_mutex_lock(&c->mu);
    c->flag = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static void test_cond_waits(void **state)
{
    (void)state;
    cond_case c = {.flag = 0};
    pthread_mutex_init(&c.mu, NULL);
    assert_int_equal(fp_cond_init(&c.cv), 0);

    pthread_mutex_lock(&c.mu);
    uint64_t t0 = fp_mono_ms();
    assert_int_equal(fp_cond_wait_ms(&c.cv, &c.mu, 40), ETIMEDOUT);
    assert_true(fp_mono_ms() - t0 >= 40);
    t0 = fp_mono_ms();
    assert_int_equal(fp_cond_wait_until(&c.cv, &c.mu, t0 - 1), ETIMEDOUT);
    assert_true(fp_mono_ms() - t0 < 1000);

    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, signal_later, &c), 0);
    t0 = fp_mono_ms();
    while (!c.flag)
        if (fp_cond_wait_ms(&c.cv, &c.mu, 60000) == ETIMEDOUT)
            break;
    assert_int_equal(c.flag, 1);
    assert_true(fp_mono_ms() - t0 < 30000);
    pthread_mutex_unlock(&c.mu);
    pthread_join(th, NULL);
    pthread_cond_destroy(&c.cv);
    pthread_mutex_destroy(&c.mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3339_known_instants),
        cmocka_unit_test(test_rfc3339_range_ends),
        cmocka_unit_test(test_rfc3339_matches_gmtime),
        cmocka_unit_test(test_now),
        cmocka_unit_test(test_monotonic_clock),
        cmocka_unit_test(test_uuid4_form_and_distinct),
        cmocka_unit_test(test_uuid4_threads),
        cmocka_unit_test(test_cond_waits),
        cmocka_unit_test(test_uuid4_fork),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
