/*
 * test_sse_parse.c - the server-sent events parser, one test per rule of the event
 * stream interpretation, each fed whole, byte by byte and in chunks of two.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "sse_parse.h"

/* Events serialised as "type|id|data;" to compare in one string. */
typedef struct collect {
    char out[4096];
    int n;
} collect;

static void on_event(void *arg, const fp_sse_event *ev)
{
    collect *c = arg;
    size_t len = strlen(c->out);
    assert_int_equal(strlen(ev->data), ev->data_len);
    assert_int_equal(strlen(ev->type), ev->type_len);
    snprintf(c->out + len, sizeof c->out - len, "%s|%s|%s;", ev->type, ev->id, ev->data);
    c->n++;
}

/* Parse in (of n bytes) in chunks of chunk bytes (0 = whole); the events as a string. */
static const char *run_chunked(const char *in, size_t n, size_t chunk, fp_sse_parser *keep)
{
    static collect c;
    fp_sse_parser p;
    size_t i = 0;

    memset(&c, 0, sizeof c);
    fp_sse_init(&p, 64, 128, on_event, &c);
    if (chunk == 0)
        chunk = n ? n : 1;
    while (i < n) {
        size_t k = n - i < chunk ? n - i : chunk;
        if (fp_sse_feed(&p, in + i, k))
            break;
        i += k;
    }
    if (keep)
        *keep = p;
    else
        fp_sse_clear(&p);
    return c.out;
}

/* Check that in gives want however it is split. */
static void expect_n(const char *in, size_t n, const char *want)
{
    static const size_t chunks[] = {0, 1, 2, 3, 7};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        const char *got = run_chunked(in, n, chunks[i], NULL);
        if (strcmp(got, want))
            fail_msg("chunk %zu: got \"%s\", want \"%s\"", chunks[i], got, want);
    }
}

static void expect(const char *in, const char *want)
{
    expect_n(in, strlen(in), want);
}

static void test_basic(void **state)
{
    expect("data: hello\n\n", "message||hello;");
    expect("event: temp\ndata: 21\n\n", "temp||21;");
    expect("data: a\n\ndata: b\n\n", "message||a;message||b;");
}

static void test_multiline_data(void **state)
{
    expect("data: a\ndata: b\ndata\ndata: c\n\n", "message||a\nb\n\nc;");
    expect("data:\n\n", "message||;"); /* one empty data line: an event with "" */
}

static void test_line_ends(void **state)
{
    expect("data: a\r\n\r\n", "message||a;");
    expect("data: a\r\rdata: b\n\n", "message||a;message||b;");
    expect("data: a\rdata: b\r\r", "message||a\nb;");
    /* CR then LF are one line end, even when split between reads (chunk sizes above). */
    expect("data: x\r\n\r\ndata: y\r\n\r\n", "message||x;message||y;");
}

static void test_cr_split_across_feeds(void **state)
{
    collect c = {0};
    fp_sse_parser p;
    fp_sse_init(&p, 0, 0, on_event, &c);
    assert_int_equal(fp_sse_feed(&p, "data: a\r", 8), FP_OK);
    assert_int_equal(fp_sse_feed(&p, "\n", 1), FP_OK);
    assert_int_equal(c.n, 0); /* the LF belonged to the CR: no empty line yet */
    assert_int_equal(fp_sse_feed(&p, "\r", 1), FP_OK);
    assert_int_equal(c.n, 1);
    assert_int_equal(fp_sse_feed(&p, "\n", 1), FP_OK);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.out, "message||a;");
    fp_sse_clear(&p);
}

static void test_bom(void **state)
{
    expect("\xef\xbb\xbf"
           "data: a\n\n",
           "message||a;");
    /* Only one byte order mark is removed; a second one is part of the field name. */
    expect("\xef\xbb\xbf\xef\xbb\xbf"
           "data: a\n\n",
           "");
    /* A partial mark is content (an unknown field here). */
    expect("\xef\xbb"
           "data: a\n\ndata: b\n\n",
           "message||b;");
}

static void test_comments_and_unknown(void **state)
{
    expect(": keep-alive\n\ndata: a\n: note\n\n", "message||a;");
    expect("foo: bar\ndata: a\n\n", "message||a;");
    expect(":\n\n", "");
}

static void test_space_after_colon(void **state)
{
    expect("data:a\n\n", "message||a;");
    expect("data:  a\n\n", "message|| a;"); /* only one space is removed */
    expect("data: a \n\n", "message||a ;");
    expect("event:  x\ndata: 1\n\n", " x||1;");
}

static void test_field_without_colon(void **state)
{
    expect("data\n\n", "message||;");
    expect("data\ndata\n\n", "message||\n;");
    expect("event\ndata: 1\n\n", "message||1;"); /* empty type: default */
}

static void test_no_data_no_event(void **state)
{
    expect("event: x\n\n", "");
    expect("event: x\n\ndata: 1\n\n", "message||1;"); /* the type was reset */
    expect("data: 1\n", "");                          /* never dispatched without blank line */
}

static void test_ids(void **state)
{
    expect("id: 1\ndata: a\n\ndata: b\n\n", "message|1|a;message|1|b;");
    expect("id: 1\ndata: a\n\nid\ndata: b\n\n", "message|1|a;message||b;");
    expect_n("id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n", 33, "message|1|a;message|1|b;");
    expect("id: 7\n\ndata: x\n\n", "message|7|x;");
}

static void test_last_id_committed_at_dispatch(void **state)
{
    fp_sse_parser p;
    run_chunked("id: 1\ndata: a\n\nid: 2\n", 21, 0, &p);
    assert_string_equal(fp_sse_last_id(&p), "1");
    fp_sse_new_stream(&p);
    assert_string_equal(fp_sse_last_id(&p), "1");
    fp_sse_clear(&p);

    run_chunked("id: 1\ndata: a\n\nid: 2\n\n", 22, 0, &p);
    assert_string_equal(fp_sse_last_id(&p), "2");
    fp_sse_reset_id(&p);
    assert_string_equal(fp_sse_last_id(&p), "");
    fp_sse_clear(&p);
}

static void test_retry(void **state)
{
    fp_sse_parser p;
    run_chunked("retry: 1500\n", 12, 0, &p);
    assert_int_equal(fp_sse_retry_ms(&p), 1500);
    fp_sse_clear(&p);
    run_chunked("retry: 15x0\nretry: -1\nretry:\nretry: 1.5\n", 40, 0, &p);
    assert_int_equal(fp_sse_retry_ms(&p), -1);
    fp_sse_clear(&p);
    run_chunked("retry: 99999999999999999999\n", 28, 0, &p);
    assert_int_equal(fp_sse_retry_ms(&p), INT32_MAX);
    fp_sse_clear(&p);
    run_chunked("retry:200\nretry: x\n", 19, 0, &p);
    assert_int_equal(fp_sse_retry_ms(&p), 200);
    fp_sse_clear(&p);
}

static void test_new_stream_drops_partial(void **state)
{
    collect c = {0};
    fp_sse_parser p;
    fp_sse_init(&p, 0, 0, on_event, &c);
    fp_sse_feed(&p, "data: half\nda", 13);
    fp_sse_new_stream(&p);
    fp_sse_feed(&p,
                "\xef\xbb\xbf"
                "ta: whole\n\n",
                14);
    /* "ta" after the reset is an unknown field, and the earlier data is gone. */
    assert_int_equal(c.n, 0);
    fp_sse_feed(&p, "data: b\n\n", 9);
    assert_string_equal(c.out, "message||b;");
    fp_sse_clear(&p);
}

static void test_bounds(void **state)
{
    char line[200];
    fp_sse_parser p;
    collect c = {0};

    memset(line, 'x', sizeof line);
    memcpy(line, "data: ", 6);
    fp_sse_init(&p, 64, 128, on_event, &c);
    assert_int_equal(fp_sse_feed(&p, line, 64), FP_OK);
    assert_int_equal(fp_sse_feed(&p, line, 1), FP_ERR_TOO_LARGE);
    assert_non_null(strstr(fp_sse_error(&p), "line longer than 64 bytes"));
    assert_int_equal(fp_sse_feed(&p, "\n\n", 2), FP_ERR_TOO_LARGE); /* stays failed */
    fp_sse_new_stream(&p);
    assert_string_equal(fp_sse_error(&p), "");
    /* Event data over its bound, from lines within theirs. */
    for (int i = 0; i < 4; i++) {
        fp_status st = fp_sse_feed(&p, "data: 0123456789012345678901234567890123456\n", 44);
        if (i < 3)
            assert_int_equal(st, FP_OK);
        else
            assert_int_equal(st, FP_ERR_TOO_LARGE);
    }
    assert_non_null(strstr(fp_sse_error(&p), "event data longer than 128 bytes"));
    assert_int_equal(c.n, 0);
    fp_sse_clear(&p);
}

static void test_utf8_repair(void **state)
{
    /* Valid multibyte text passes; a lone continuation byte and a truncated sequence
     * become U+FFFD each; an invalid sequence's maximal subpart is one U+FFFD. */
    expect("data: \xc3\xa9t\xc3\xa9\n\n", "message||\xc3\xa9t\xc3\xa9;");
    expect("data: a\x80z\n\n", "message||a\xef\xbf\xbdz;");
    expect("data: \xe2\x82z\n\n", "message||\xef\xbf\xbdz;");
    expect("data: \xed\xa0\x80\n\n", "message||\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd;");
    expect("data: \xf0\x9f\x98\x80\n\n", "message||\xf0\x9f\x98\x80;");
    expect("data: \xf0\x9f\x98\n\n", "message||\xef\xbf\xbd;");
    expect("event: \xff\ndata: 1\n\n", "\xef\xbf\xbd||1;");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_multiline_data),
        cmocka_unit_test(test_line_ends),
        cmocka_unit_test(test_cr_split_across_feeds),
        cmocka_unit_test(test_bom),
        cmocka_unit_test(test_comments_and_unknown),
        cmocka_unit_test(test_space_after_colon),
        cmocka_unit_test(test_field_without_colon),
        cmocka_unit_test(test_no_data_no_event),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_last_id_committed_at_dispatch),
        cmocka_unit_test(test_retry),
        cmocka_unit_test(test_new_stream_drops_partial),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_utf8_repair),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
