/*
 * test_connector_queue.c - the publisher's disk queue: append, read back, ack (in and out
 * of order), reopen, a torn tail cut at every offset of the last record, a corrupt
 * record, both policies when full, order across segments, and the directory lock; the
 * record just appended read back from memory (and the file when it was overwritten
 * there); acks held back by an ack delay: persisted by flush and close, and sent again
 * after a crash that came before them (never lost, segments kept until then); appends
 * that cannot be written counted with their errno and logged once in a while.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/connector/fpc_queue.h"

static char g_dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/fpc-queue-test-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static fpc_queue *open_q(uint64_t max, bool drop_newest)
{
    char err[256] = "";
    fpc_queue *q = fpc_queue_open(g_dir, max, false, drop_newest, err, sizeof err);
    if (!q)
        fail_msg("open: %s", err);
    return q;
}

/* A message whose payload says i, with two user properties. */
static uint64_t append_n(fpc_queue *q, int i, size_t pad)
{
    char payload[1024], v[32];
    fpc_prop props[2] = {{"id", v}, {"kind", "test"}};
    snprintf(v, sizeof v, "%d", i);
    snprintf(payload, sizeof payload, "{\"i\":%d,\"pad\":\"%*s\"}", i, (int)pad, "");
    fpc_msg m = {.topic = "t/a",
                 .payload = payload,
                 .len = strlen(payload),
                 .qos = 1,
                 .retain = (i % 2) == 0,
                 .expiry_s = (uint32_t)i,
                 .content_type = "application/json",
                 .props = props,
                 .n_props = 2,
                 .response_topic = i % 3 ? NULL : "reply/x",
                 .correlation = i % 3 ? NULL : "\x01\x00\x02",
                 .correlation_len = i % 3 ? 0 : 3};
    uint64_t seq = 0;
    assert_int_equal(fpc_queue_append(q, &m, 1000 + (uint64_t)i, &seq), 0);
    return seq;
}

static void check_item(const fpc_queue_item *it, int i)
{
    char v[32];
    snprintf(v, sizeof v, "%d", i);
    assert_string_equal(it->msg.topic, "t/a");
    char want[64];
    snprintf(want, sizeof want, "{\"i\":%d,", i);
    assert_memory_equal(it->msg.payload, want, strlen(want));
    assert_int_equal(it->msg.qos, 1);
    assert_int_equal(it->msg.retain, (i % 2) == 0);
    assert_int_equal(it->msg.expiry_s, i);
    assert_int_equal(it->enq_ms, 1000 + i);
    assert_string_equal(it->msg.content_type, "application/json");
    assert_int_equal(it->msg.n_props, 2);
    assert_string_equal(it->msg.props[0].key, "id");
    assert_string_equal(it->msg.props[0].value, v);
    assert_string_equal(it->msg.props[1].key, "kind");
    assert_string_equal(it->msg.props[1].value, "test");
    if (i % 3) {
        assert_null(it->msg.response_topic);
        assert_null(it->msg.correlation);
    } else {
        assert_string_equal(it->msg.response_topic, "reply/x");
        assert_int_equal(it->msg.correlation_len, 3);
        assert_memory_equal(it->msg.correlation, "\x01\x00\x02", 3);
    }
}

/* The one segment file of g_dir (tests that stay in one segment). */
static void seg_path(char *out, size_t len)
{
    DIR *d = opendir(g_dir);
    struct dirent *de;
    int n = 0;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, "seg-", 4) == 0) {
            snprintf(out, len, "%s/%s", g_dir, de->d_name);
            n++;
        }
    }
    closedir(d);
    assert_int_equal(n, 1);
}

/* The check value of CRC-32 and agreement with a byte-at-a-time reference at every
 * length and offset around the 8-byte steps (and over a split). */
static void test_crc32(void **state)
{
    (void)state;
    unsigned char buf[300];
    assert_int_equal(fpc_crc32(0, "123456789", 9), 0xcbf43926u);
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 131 + 7);
    for (size_t off = 0; off < 9; off++) {
        for (size_t len = 0; off + len <= sizeof buf; len += 1 + len / 8) {
            uint32_t ref = 0xffffffffu;
            for (size_t k = 0; k < len; k++) {
                ref ^= buf[off + k];
                for (int b = 0; b < 8; b++)
                    ref = (ref & 1) ? 0xedb88320u ^ (ref >> 1) : ref >> 1;
            }
            ref = ~ref;
            assert_int_equal(fpc_crc32(0, buf + off, len), ref);
            assert_int_equal(
                fpc_crc32(fpc_crc32(0, buf + off, len / 3), buf + off + len / 3, len - len / 3),
                ref);
        }
    }
}

static void test_append_ack_reopen(void **state)
{
    (void)state;
    fpc_queue *q = open_q(0, false);
    fpc_queue_item it;
    fpc_queue_stats st;

    fpc_queue_item_init(&it);
    for (int i = 1; i <= 10; i++)
        assert_int_equal(append_n(q, i, 10), i);
    for (int i = 1; i <= 10; i++) {
        assert_int_equal(fpc_queue_peek(q, (uint64_t)i, &it), 1);
        assert_int_equal(it.seq, i);
        check_item(&it, i);
    }
    assert_int_equal(fpc_queue_peek(q, 11, &it), 0);
    for (int i = 1; i <= 3; i++)
        assert_int_equal(fpc_queue_ack(q, (uint64_t)i), 0);
    assert_int_equal(fpc_queue_ack(q, 2), 0);   /* again: a no-op */
    assert_int_equal(fpc_queue_ack(q, 99), -1); /* never appended */
    fpc_queue_get_stats(q, &st);
    assert_int_equal(st.count, 7);
    assert_int_equal(st.head_seq, 4);
    fpc_queue_close(q);

    q = open_q(0, false);
    fpc_queue_get_stats(q, &st);
    assert_int_equal(st.count, 7);
    assert_int_equal(st.head_seq, 4);
    assert_int_equal(st.next_seq, 11);
    assert_int_equal(fpc_queue_peek(q, 0, &it), 1);
    assert_int_equal(it.seq, 4);
    check_item(&it, 4);
    for (int i = 4; i <= 10; i++)
        fpc_queue_ack(q, (uint64_t)i);
    fpc_queue_get_stats(q, &st);
    assert_int_equal(st.count, 0);
    assert_int_equal(st.bytes, 0);
    fpc_queue_close(q);

    /* Everything acked: reopen is empty and sequence numbers keep growing. */
    q = open_q(0, false);
    fpc_queue_get_stats(q, &st);
    assert_int_equal(st.count, 0);
    assert_int_equal(append_n(q, 11, 0), 11);
    fpc_queue_close(q);
    fpc_queue_item_clear(&it);
}

static void test_out_of_order_ack(void **state)
{
    (void)state;
    fpc_queue *q = open_q(0, false);
    fpc_queue_item it;
    fpc_queue_stats st;

    fpc_queue_item_init(&it);
    for (int i = 1; i <= 5; i++)
        append_n(q, i, 0);
    fpc_queue_ack(q, 2);
    fpc_queue_ack(q, 3);
    fpc_queue_get_stats(q, &st);
    assert_int_equal(st.head_seq, 1);
    assert_int_equal(st.count, 3);
    /* Iteration skips the acked ones. */
    assert_int_equal(fpc_queue_peek(q, 2, &it), 1);
    assert_int_equal(it.seq, 4);
    fpc_queue_ack(q, 1);
    fpc_queue_get_stats(q, &st);
    assert_int_equal(st.head_seq, 4);
    assert_int_equal(st.count, 2);
    fpc_queue_close(q);
    fpc_queue_item_clear(&it);
}

static void copy_file(const char *from, const char *to, off_t len)
{
    char buf[65536];
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(in >= 0 && out >= 0);
    while (len > 0) {
        ssize_t n = read(in, buf, len < (off_t)sizeof buf ? (size_t)len : sizeof buf);
        assert_true(n > 0);
        assert_int_equal(write(out, buf, (size_t)n), n);
        len -= n;
    }
    close(in);
    close(out);
}

static void test_torn_tail(void **state)
{
    (void)state;
    char path[512], saved[600];
    struct stat st2, st3;
    fpc_queue_item it;
    fpc_queue_stats st;

    fpc_queue_item_init(&it);
    fpc_queue *q = open_q(0, false);
    append_n(q, 1, 5);
    append_n(q, 2, 5);
    seg_path(path, sizeof path);
    assert_int_equal(stat(path, &st2), 0);
    append_n(q, 3, 5);
    assert_int_equal(stat(path, &st3), 0);
    fpc_queue_close(q);
    snprintf(saved, sizeof saved, "%s.saved", g_dir);
    copy_file(path, saved, st3.st_size);

    /* A crash can leave any prefix of the last record: every cut keeps records 1 and 2. */
    for (off_t cut = st2.st_size; cut < st3.st_size; cut++) {
        copy_file(saved, path, cut);
        q = open_q(0, false);
        fpc_queue_get_stats(q, &st);
        assert_int_equal(st.count, 2);
        assert_int_equal(st.recovered_drop, (uint64_t)(cut - st2.st_size));
        assert_int_equal(fpc_queue_peek(q, 0, &it), 1);
        check_item(&it, 1);
        assert_int_equal(fpc_queue_peek(q, 2, &it), 1);
        check_item(&it, 2);
        assert_int_equal(fpc_queue_peek(q, 3, &it), 0);
        /* The queue goes on after the cut. */
        assert_int_equal(append_n(q, 3, 5), 3);
        fpc_queue_close(q);
        q = open_q(0, false);
        fpc_queue_get_stats(q, &st);
        assert_int_equal(st.count, 3);
        assert_int_equal(st.recovered_drop, 0);
        fpc_queue_close(q);
    }
    unlink(saved);
    fpc_queue_item_clear(&it);
}

static void test_crc_corruption(void **state)
{
    (void)state;
    char path[512];
    struct stat s1;
    fpc_queue_item it;
    fpc_queue_stats st;

    fpc_queue_item_init(&it);
    fpc_queue *q = open_q(0, false);
    append_n(q, 1, 5);
    seg_path(path, sizeof path);
    assert_int_equal(stat(path, &s1), 0);
    append_n(q, 2, 5);
    append_n(q, 3, 5);
    fpc_queue_close(q);

    /* Flip one payload byte of record 2: it fails its crc and ends the segment. */
    int fd = open(path, O_RDWR);
    unsigned char c;
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &c, 1, s1.st_size + 40), 1);
    c ^= 0x55;
    assert_int_equal(pwrite(fd, &c, 1, s1.st_size + 40), 1);
    close(fd);

    q = open_q(0, false);
    fpc_queue_get_stats(q, &st);
    assert_int_equal(st.count, 1);
    assert_true(st.recovered_drop > 0);
    assert_int_equal(fpc_queue_peek(q, 0, &it), 1);
    check_item(&it, 1);
    /* The queue goes on after the cut. */
    assert_int_equal(append_n(q, 2, 5), 2);
    fpc_queue_close(q);
    fpc_queue_item_clear(&it);
}

static void test_full_drop_newest(void **state)
{
    (void)state;
    fpc_queue *q = open_q(2000, true);
    fpc_queue_stats st;
    fpc_queue_item it;
    int ok = 0, refused = 0;

    fpc_queue_item_init(&it);
    for (int i = 1; i <= 30; i++) {
        char payload[200];
        memset(payload, 'x', sizeof payload);
        fpc_msg m = {.topic = "t/full", .payload = payload, .len = sizeof payload, .qos = 1};
        int rc = fpc_queue_append(q, &m, 0, NULL);
        if (rc == 0)
            ok++;
        else if (rc == FPC_QUEUE_FULL)
            refused++;
        else
            fail_msg("append %d failed", i);
    }
    fpc_queue_get_stats(q, &st);
    assert_true(ok > 0 && refused > 0);
    assert_int_equal(st.dropped, refused);
    assert_int_equal(st.count, ok);
    assert_true(st.bytes <= 2000);
    /* The oldest are kept. */
    assert_int_equal(fpc_queue_peek(q, 0, &it), 1);
    assert_int_equal(it.seq, 1);
    /* A message larger than the whole queue is an error, not a drop. */
    char big[3000] = {0};
    fpc_msg m = {.topic = "t/full", .payload = big, .len = sizeof big, .qos = 1};
    assert_int_equal(fpc_queue_append(q, &m, 0, NULL), -1);
    char err[256];
    fpc_queue_last_error(q, err, sizeof err);
    assert_non_null(strstr(err, "too large"));
    fpc_queue_close(q);
    fpc_queue_item_clear(&it);
}

/* Appends that cannot be written (here past RLIMIT_FSIZE, as on a full disk) are counted
 * with their errno for the connector's health, and logged once in a while, not per message
 * (a full disk would otherwise fill up with the log of its own errors). */
static void test_write_failure(void **state)
{
    (void)state;
    fpc_queue *q = open_q(0, false);
    fpc_queue_stats st;
    struct rlimit old, tiny = {.rlim_cur = 1, .rlim_max = RLIM_INFINITY};
    int pipefd[2], saved_err;
    char log[16384];
    ssize_t n;
    int lines = 0;

    append_n(q, 1, 10); /* the segment file exists */
    assert_int_equal(pipe(pipefd), 0);
    fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
    saved_err = dup(2);
    dup2(pipefd[1], 2);
    signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &old);
    tiny.rlim_max = old.rlim_max;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &tiny), 0);
    for (int i = 0; i < 50; i++) {
        fpc_msg m = {.topic = "t/disk", .payload = "x", .len = 1, .qos = 1};
        assert_int_equal(fpc_queue_append(q, &m, 0, NULL), -1);
    }
    setrlimit(RLIMIT_FSIZE, &old);
    dup2(saved_err, 2);
    close(saved_err);
    close(pipefd[1]);
    n = read(pipefd[0], log, sizeof log - 1);
    close(pipefd[0]);
    log[n > 0 ? n : 0] = '\0';
    for (const char *p = log; (p = strstr(p, "cannot write")); p++)
        lines++;
    assert_int_equal(lines, 1);
    fpc_queue_get_stats(q, &st);
    assert_int_equal(st.write_failed, 50);
    assert_int_equal(st.write_errno, EFBIG);
    assert_int_equal(st.count, 1);
    /* Written again: the errno clears, the count stays. */
    append_n(q, 2, 10);
    fpc_queue_get_stats(q, &st);
    assert_int_equal(st.write_errno, 0);
    assert_int_equal(st.write_failed, 50);
    assert_int_equal(st.count, 2);
    fpc_queue_close(q);
}

static void test_full_drop_oldest(void **state)
{
    (void)state;
    fpc_queue *q = open_q(2000, false);
    fpc_queue_stats st;
    fpc_queue_item it;

    fpc_queue_item_init(&it);
    for (int i = 1; i <= 30; i++)
        assert_int_equal(append_n(q, i, 150), i);
    fpc_queue_get_stats(q, &st);
    assert_true(st.bytes <= 2000);
    assert_int_equal(st.dropped + st.count, 30);
    assert_true(st.dropped > 0);
    /* What is left is the newest, in order. */
    uint64_t seq = 0, expect = 30 - st.count + 1;
    while (fpc_queue_peek(q, seq, &it) == 1) {
        assert_int_equal(it.seq, expect);
        check_item(&it, (int)expect);
        expect++;
        seq = it.seq + 1;
    }
    assert_int_equal(expect, 31);
    fpc_queue_close(q);
    q = open_q(2000, false);
    fpc_queue_get_stats(q, &st);
    assert_int_equal(st.head_seq, 30 - st.count + 1);
    fpc_queue_close(q);
    fpc_queue_item_clear(&it);
}

static void test_order_segments(void **state)
{
    (void)state;
    fpc_queue *q = open_q(1024 * 1024, false);
    fpc_queue_stats st;
    fpc_queue_item it;
    const int n = 2000;

    fpc_queue_item_init(&it);
    for (int i = 1; i <= n; i++)
        append_n(q, i, 150);
    fpc_queue_get_stats(q, &st);
    assert_true(st.segments > 3);
    /* Ack the first half, reopen, the second half comes back in order. */
    for (int i = 1; i <= n / 2; i++)
        fpc_queue_ack(q, (uint64_t)i);
    fpc_queue_close(q);
    q = open_q(1024 * 1024, false);
    fpc_queue_get_stats(q, &st);
    assert_int_equal(st.count, n / 2);
    uint64_t seq = 0;
    int expect = n / 2 + 1;
    while (fpc_queue_peek(q, seq, &it) == 1) {
        assert_int_equal(it.seq, expect);
        check_item(&it, expect);
        fpc_queue_ack(q, it.seq);
        expect++;
        seq = it.seq + 1;
    }
    assert_int_equal(expect, n + 1);
    fpc_queue_get_stats(q, &st);
    assert_int_equal(st.count, 0);
    assert_true(st.segments <= 1); /* acknowledged segments are deleted */
    fpc_queue_close(q);
    fpc_queue_item_clear(&it);
}

/* The record just appended reads back from the append buffer, not the file: damage the
 * file under it and the read still gives the message. The one before comes from the file
 * (and is skipped there when the file is bad), so both paths are exercised. */
static void test_peek_just_appended(void **state)
{
    (void)state;
    fpc_queue *q = open_q(0, false);
    fpc_queue_item it;
    fpc_queue_stats st;
    char path[512];

    fpc_queue_item_init(&it);
    append_n(q, 1, 10);
    uint64_t s2 = append_n(q, 2, 10);
    seg_path(path, sizeof path);
    /* Zero the whole file: both records are gone on disk. */
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    char zero[4096] = {0};
    assert_true(sb.st_size <= (off_t)sizeof zero);
    assert_int_equal(pwrite(fd, zero, (size_t)sb.st_size, 0), sb.st_size);
    close(fd);
    /* seq 1 comes from the file: unreadable, skipped; seq 2 from memory. */
    assert_int_equal(fpc_queue_peek(q, 0, &it), 1);
    assert_int_equal(it.seq, s2);
    check_item(&it, 2);
    fpc_queue_get_stats(q, &st);
    assert_int_equal(st.unreadable, 1);
    /* Read twice: the same from memory. */
    assert_int_equal(fpc_queue_peek(q, s2, &it), 1);
    check_item(&it, 2);
    fpc_queue_close(q);
    fpc_queue_item_clear(&it);
}

/* With an ack delay the marker trails the acks; flush and close write it. */
static void test_ack_delay_flush(void **state)
{
    (void)state;
    fpc_queue *q = open_q(0, false);
    fpc_queue_stats st;

    fpc_queue_set_ack_delay(q, 60000);
    for (int i = 1; i <= 10; i++)
        append_n(q, i, 10);
    /* The first ack that moves the head writes at once (no write for a delay yet)... */
    fpc_queue_ack(q, 1);
    fpc_queue_get_stats(q, &st);
    assert_int_equal(st.head_seq, 2);
    assert_int_equal(st.saved_head_seq, 2);
    assert_true(!fpc_queue_flush_due(q));
    /* ...the next ones within the delay wait. */
    for (int i = 2; i <= 4; i++)
        fpc_queue_ack(q, (uint64_t)i);
    fpc_queue_get_stats(q, &st);
    assert_int_equal(st.head_seq, 5);
    assert_int_equal(st.saved_head_seq, 2);
    assert_true(fpc_queue_flush_due(q));
    assert_int_equal(fpc_queue_flush(q), 0);
    fpc_queue_get_stats(q, &st);
    assert_int_equal(st.saved_head_seq, 5);
    assert_true(!fpc_queue_flush_due(q));
    assert_int_equal(fpc_queue_flush(q), 0); /* nothing to do */
    /* Close writes what is pending. */
    fpc_queue_ack(q, 5);
    fpc_queue_ack(q, 6);
    fpc_queue_close(q);
    q = open_q(0, false);
    fpc_queue_get_stats(q, &st);
    assert_int_equal(st.head_seq, 7);
    assert_int_equal(st.count, 4);
    fpc_queue_close(q);

    /* Delay 0 (the default): every ack that moves the head is written. */
    q = open_q(0, false);
    fpc_queue_ack(q, 7);
    fpc_queue_get_stats(q, &st);
    assert_int_equal(st.saved_head_seq, 8);
    fpc_queue_close(q);
}

/* A crash before the marker caught up: the acked but unpersisted messages are there
 * again after the restart (sent again: duplicates), nothing is lost, and the segments
 * holding them were kept although every record in them was acknowledged in memory. */
static void test_ack_delay_crash(void **state)
{
    (void)state;
    const int n = 600, acked = 500;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        char err[256];
        fpc_queue *q = fpc_queue_open(g_dir, 256 * 1024, false, false, err, sizeof err);
        if (!q)
            _exit(2);
        fpc_queue_set_ack_delay(q, 60000);
        for (int i = 1; i <= n; i++)
            append_n(q, i, 150);
        for (int i = 1; i <= 10; i++)
            fpc_queue_ack(q, (uint64_t)i); /* the first moves the marker to 2 */
        fpc_queue_flush(q);                /* ... this to 11 */
        for (int i = 11; i <= acked; i++)
            fpc_queue_ack(q, (uint64_t)i); /* in memory only */
        fpc_queue_stats st;
        fpc_queue_get_stats(q, &st);
        if (st.head_seq != (uint64_t)acked + 1 || st.saved_head_seq != 11 || st.segments < 3)
            _exit(4);
        _exit(0); /* a crash: no close */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    fpc_queue *q = open_q(256 * 1024, false);
    fpc_queue_item it;
    fpc_queue_stats st;
    fpc_queue_item_init(&it);
    fpc_queue_get_stats(q, &st);
    assert_int_equal(st.head_seq, 11);
    assert_int_equal(st.count, n - 10);
    assert_int_equal(st.next_seq, n + 1);
    uint64_t seq = 0;
    int expect = 11;
    while (fpc_queue_peek(q, seq, &it) == 1) {
        assert_int_equal(it.seq, expect);
        check_item(&it, expect);
        expect++;
        seq = it.seq + 1;
    }
    assert_int_equal(expect, n + 1);
    fpc_queue_close(q);
    fpc_queue_item_clear(&it);
}

static void test_lock_and_errors(void **state)
{
    (void)state;
    char err[256] = "";
    fpc_queue *q = open_q(0, false);
    assert_null(fpc_queue_open(g_dir, 0, false, false, err, sizeof err));
    assert_non_null(strstr(err, "in use"));
    assert_non_null(strstr(err, g_dir));
    fpc_queue_close(q);

    /* A path under a regular file cannot be a queue directory. */
    char file[300], sub[320];
    snprintf(file, sizeof file, "%s/plain", g_dir);
    close(open(file, O_WRONLY | O_CREAT, 0600));
    snprintf(sub, sizeof sub, "%s/q", file);
    assert_null(fpc_queue_open(sub, 0, false, false, err, sizeof err));
    assert_non_null(strstr(err, sub));
}

static void test_sync_mode(void **state)
{
    (void)state;
    char err[256];
    fpc_queue *q = fpc_queue_open(g_dir, 0, true, false, err, sizeof err);
    assert_non_null(q);
    for (int i = 1; i <= 5; i++)
        append_n(q, i, 0);
    fpc_queue_ack(q, 1);
    fpc_queue_close(q);
    q = open_q(0, false);
    fpc_queue_stats st;
    fpc_queue_get_stats(q, &st);
    assert_int_equal(st.count, 4);
    fpc_queue_close(q);
}

/* SIGKILL while appending (and acking): every append that returned is there after a
 * reopen, in order, and the queue opens cleanly. Repeated with different kill times. */
static void test_sigkill(void **state)
{
    (void)state;
    for (int round = 0; round < 5; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            char err[256];
            fpc_queue *q = fpc_queue_open(g_dir, 0, false, false, err, sizeof err);
            if (!q)
                _exit(2);
            for (int i = 1;; i++) {
                uint64_t seq = append_n(q, i, (size_t)(i % 300));
                /* Acks trail the appends, so the marker is rewritten all the time. */
                if (i > 50)
                    fpc_queue_ack(q, seq - 50);
                if (write(fds[1], &seq, sizeof seq) != sizeof seq)
                    _exit(3);
            }
        }
        close(fds[1]);
        struct timespec ts = {0, (long)(20 + 15 * round) * 1000000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        uint64_t seq, last = 0;
        while (read(fds[0], &seq, sizeof seq) == sizeof seq)
            last = seq;
        close(fds[0]);
        assert_true(last > 0);

        fpc_queue *q = open_q(0, false);
        fpc_queue_item it;
        fpc_queue_stats st;
        fpc_queue_item_init(&it);
        fpc_queue_get_stats(q, &st);
        /* What the child was told is queued (and not yet acked) is all there: it acked up
         * to last - 50, and perhaps one more append + ack it had no time to report. */
        uint64_t from = last > 50 ? last - 50 : 1, expect = 0;
        assert_true(st.head_seq <= from + 2);
        uint64_t at = st.head_seq;
        while (fpc_queue_peek(q, at, &it) == 1) {
            if (expect)
                assert_int_equal(it.seq, expect);
            expect = it.seq + 1;
            at = it.seq + 1;
        }
        assert_true(expect > last);
        fpc_queue_item_clear(&it);
        fpc_queue_close(q);
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'/*", g_dir);
        assert_int_equal(system(cmd), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32),
        cmocka_unit_test_setup_teardown(test_append_ack_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_order_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crc_corruption, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_drop_newest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_drop_oldest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigkill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peek_just_appended, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ack_delay_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ack_delay_crash, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
