/*
 * test_common_log.c - fp_log writes whole lines: escaped, cut when too long, never interleaved.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fp_log.h"

/* stderr goes to a temporary file while fn runs; returns what was written (caller frees). */
static char *capture(void (*fn)(void))
{
    char path[] = "/tmp/fp-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    fn();
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    off_t n = lseek(fd, 0, SEEK_END);
    char *s = calloc(1, (size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(pread(fd, s, (size_t)n, 0), n);
    close(fd);
    return s;
}

static void log_escapes(void)
{
    fp_log(FP_LOG_WARN, "t", "a \"quoted\" \\ line\nand a tab\t, an \x1b escape, a bad \xff byte.");
}

/* Messages go through fp_json_escape: short escapes where JSON has them, \u00XX for the other
 * control characters, U+FFFD for a byte that is not UTF-8. */
static void test_escaping(void **state)
{
    (void)state;
    char *s = capture(log_escapes);
    assert_non_null(strstr(s,
                           " level=warn mod=t msg=\"a \\\"quoted\\\" \\\\ line\\nand a tab\\t, an "
                           "\\u001b escape, a bad \xEF\xBF\xBD byte.\"\n"));
    assert_int_equal(strchr(s, '\n') - s + 1, (long)strlen(s)); /* one line */
    free(s);
}

static void log_long(void)
{
    char big[3000];
    memset(big, '"', sizeof big - 1); /* each one doubles when escaped */
    big[sizeof big - 1] = 0;
    fp_log(FP_LOG_ERROR, "t", "%s", big);
}

static void test_long_message_is_cut_whole(void **state)
{
    (void)state;
    char *s = capture(log_long);
    size_t n = strlen(s);
    assert_true(n <= 4096); /* one atomic pipe write */
    assert_memory_equal(s + n - 5, "...\"\n", 5);
    assert_int_equal(strchr(s, '\n') - s + 1, (long)n);
    /* The cut never splits an escape: the text before "..." is whole \" pairs. */
    const char *m = strstr(s, "msg=\"") + 5;
    assert_int_equal((s + n - 5 - m) % 2, 0);
    free(s);
}

static void log_long_utf8(void)
{
    char big[2001];
    for (size_t i = 0; i + 3 <= sizeof big - 1; i += 3)
        memcpy(big + i, "\x01\xC3\xA9", 3); /* a control character (6 bytes escaped), U+00E9 */
    big[sizeof big - 1 - (sizeof big - 1) % 3] = 0;
    fp_log(FP_LOG_ERROR, "t", "%s", big);
}

/* Cut in the middle of multi-byte text, the line is still valid UTF-8: what comes before
 * "..." is whole units of \u0001 and U+00E9, never half an escape or half a character. */
static void test_long_utf8_is_cut_between_characters(void **state)
{
    (void)state;
    char *s = capture(log_long_utf8);
    size_t n = strlen(s);
    assert_true(n <= 4096);
    assert_memory_equal(s + n - 5, "...\"\n", 5);
    const char *m = strstr(s, "msg=\"") + 5;
    size_t kept = (size_t)(s + n - 5 - m);
    for (size_t i = 0; i + 8 <= kept; i += 8)
        assert_memory_equal(m + i, "\\u0001\xC3\xA9", 8);
    assert_true(kept % 8 == 0 || (kept % 8 == 6 && memcmp(m + kept - 6, "\\u0001", 6) == 0));
    free(s);
}

enum { THREADS = 4, LINES = 200 };

static void *spam(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < LINES; i++)
        fp_log(FP_LOG_INFO, "spam", "thread %d line %d %s", id, i,
               "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    return NULL;
}

/* Processes sharing one stderr, as the children of `fieldplane up` share its pipe, each with
 * threads: no line may be cut into by another. */
static void log_processes(void)
{
    pid_t pid[THREADS];
    for (int i = 0; i < THREADS; i++) {
        pid[i] = fork();
        assert_true(pid[i] >= 0);
        if (pid[i] == 0) {
            pthread_t t[2];
            for (int k = 0; k < 2; k++)
                pthread_create(&t[k], NULL, spam, (void *)(intptr_t)(i * 2 + k));
            for (int k = 0; k < 2; k++)
                pthread_join(t[k], NULL);
            _exit(0);
        }
    }
    for (int i = 0; i < THREADS; i++)
        waitpid(pid[i], NULL, 0);
}

static void test_lines_do_not_interleave(void **state)
{
    (void)state;
    char *s = capture(log_processes);
    int lines = 0;
    for (char *p = s, *nl; (nl = strchr(p, '\n')); p = nl + 1, lines++) {
        *nl = 0;
        int id, i;
        char tail[80];
        const char *m = strstr(p, "mod=spam msg=\"thread ");
        assert_non_null(m);
        assert_int_equal(sscanf(m, "mod=spam msg=\"thread %d line %d %79s", &id, &i, tail), 3);
        assert_string_equal(tail,
                            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"");
    }
    assert_int_equal(lines, THREADS * 2 * LINES);
    free(s);
}

static void log_json(void)
{
    fp_log(FP_LOG_INFO, "j", "x\"y");
}

static void test_json(void **state)
{
    (void)state;
    /* The format is read once per process: a child takes the JSON one. */
    char path[] = "/tmp/fp-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("FIELDPLANE_LOG_FORMAT", "json", 1);
        dup2(fd, STDERR_FILENO);
        log_json();
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    char s[512] = {0};
    assert_true(pread(fd, s, sizeof s - 1, 0) > 0);
    close(fd);
    assert_non_null(strstr(s, "\"level\":\"info\",\"mod\":\"j\",\"msg\":\"x\\\"y\"}\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_long_message_is_cut_whole),
        cmocka_unit_test(test_long_utf8_is_cut_between_characters),
        cmocka_unit_test(test_lines_do_not_interleave),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
