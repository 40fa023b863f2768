/*
 * test_cli_yaml.c - YAML to JSON and back (scalar typing, quoting, several
 * documents, anchors, errors with lines) and the CSV reader and writer
 * (quotes, CRLF, line numbers of records, errors).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "client.h"
#include "fp_alloc.h"

static void test_yaml_scalars(void **state)
{
    const char *y = "a: 1\nb: -2.5\nc: true\nd: null\ne: '12'\nf: hello world\ng: ~\n"
                    "h: \"true\"\ni: [x, 2]\nj: {k: v}\nk: ns=3;s=Temp\nl: 0x10\n";
    char err[256];
    json_t *docs = fp_yaml_parse(y, strlen(y), err, sizeof err);
    json_t *d;
    (void)state;

    assert_non_null(docs);
    assert_int_equal(json_array_size(docs), 1);
    d = json_array_get(docs, 0);
    assert_int_equal(json_integer_value(json_object_get(d, "a")), 1);
    assert_true(json_is_real(json_object_get(d, "b")));
    assert_true(json_is_true(json_object_get(d, "c")));
    assert_true(json_is_null(json_object_get(d, "d")));
    assert_string_equal(json_string_value(json_object_get(d, "e")), "12");
    assert_string_equal(json_string_value(json_object_get(d, "f")), "hello world");
    assert_true(json_is_null(json_object_get(d, "g")));
    assert_string_equal(json_string_value(json_object_get(d, "h")), "true");
    assert_int_equal(json_integer_value(json_array_get(json_object_get(d, "i"), 1)), 2);
    assert_string_equal(fp_json_str(d, "j.k"), "v");
    assert_string_equal(json_string_value(json_object_get(d, "k")), "ns=3;s=Temp");
    assert_string_equal(json_string_value(json_object_get(d, "l")), "0x10");
    json_decref(docs);
}

static void test_yaml_round_trip(void **state)
{
    const char *j = "{\"s\": \"123\", \"t\": \"true\", \"u\": \"\", \"v\": \"yes\", \"w\": "
                    "\"a: b\", \"x\": \"line1\\nline2\\n\", \"n\": 5, \"r\": 1.5, \"e\": [], "
                    "\"o\": {}, \"z\": null, \"q\": \"it's\", \"nested\": [{\"a\": [1, "
                    "{\"b\": \"-\"}]}]}";
    json_t *in = json_loads(j, 0, NULL), *docs;
    fp_buf b;
    char err[256];
    (void)state;

    assert_non_null(in);
    fp_buf_init(&b, 1 << 20);
    assert_int_equal(fp_yaml_emit(&b, in), FP_OK);
    docs = fp_yaml_parse(b.data, b.len, err, sizeof err);
    assert_non_null(docs);
    assert_true(json_equal(in, json_array_get(docs, 0)));
    json_decref(docs);
    fp_buf_clear(&b);
    json_decref(in);
}

static void test_yaml_multi_and_errors(void **state)
{
    const char *multi = "---\na: 1\n---\n---\nb: &x {c: 2}\nd: *x\n...\n";
    const char *bad = "a: 1\nb: [1, 2\nc: 3\n";
    const char *dup = "a: 1\na: 2\n";
    char err[256];
    json_t *docs;
    (void)state;

    docs = fp_yaml_parse(multi, strlen(multi), err, sizeof err);
    assert_non_null(docs);
    assert_int_equal(json_array_size(docs), 2);
    assert_int_equal(json_integer_value(fp_json_get(json_array_get(docs, 1), "d.c")), 2);
    json_decref(docs);
    assert_null(fp_yaml_parse(bad, strlen(bad), err, sizeof err));
    assert_non_null(strstr(err, "line"));
    assert_null(fp_yaml_parse(dup, strlen(dup), err, sizeof err));
    assert_non_null(strstr(err, "line 2"));

    /* Several documents are emitted with separators and read back. */
    json_t *two = json_pack("[{s:i},{s:s}]", "a", 1, "b", "x");
    fp_buf b;
    fp_buf_init(&b, 1 << 20);
    assert_int_equal(fp_yaml_emit_all(&b, two), FP_OK);
    assert_non_null(strstr(b.data, "---"));
    docs = fp_yaml_parse(b.data, b.len, err, sizeof err);
    assert_true(json_equal(docs, two));
    json_decref(docs);
    json_decref(two);
    fp_buf_clear(&b);
}

static void test_csv(void **state)
{
    const char *text = "\xEF\xBB\xBFname,dataSource,dataPointConfiguration\r\n"
                       "t1,\"ns=3;s=A\",\n"
                       "\n"
                       "t2,\"multi\nline\",\"{\"\"a\"\":1}\"\n"
                       "t3,x,y";
    fp_csv csv;
    char err[256];
    (void)state;

    assert_int_equal(fp_csv_parse(&csv, text, strlen(text), err, sizeof err), FP_OK);
    assert_int_equal(csv.n_row, 4);
    assert_string_equal(csv.rows[0].fields[0], "name");
    assert_int_equal(csv.rows[1].line, 2);
    assert_string_equal(csv.rows[1].fields[1], "ns=3;s=A");
    assert_string_equal(csv.rows[1].fields[2], "");
    assert_int_equal(csv.rows[2].line, 4);
    assert_string_equal(csv.rows[2].fields[1], "multi\nline");
    assert_string_equal(csv.rows[2].fields[2], "{\"a\":1}");
    assert_int_equal(csv.rows[3].line, 6);
    assert_int_equal(csv.rows[3].n_field, 3);
    fp_csv_clear(&csv);

    assert_int_not_equal(fp_csv_parse(&csv, "a,\"b\n", 5, err, sizeof err), FP_OK);
    assert_non_null(strstr(err, "line 1"));
    assert_int_not_equal(fp_csv_parse(&csv, "a\n\"b\"c\n", 7, err, sizeof err), FP_OK);
    assert_non_null(strstr(err, "line 2"));
}

static void test_csv_write(void **state)
{
    fp_buf b;
    fp_csv csv;
    char err[64];
    (void)state;

    fp_buf_init(&b, 1 << 16);
    fp_csv_field(&b, "plain", false);
    fp_csv_field(&b, "a,b", false);
    fp_csv_field(&b, "say \"hi\"", false);
    fp_csv_field(&b, NULL, true);
    assert_string_equal(b.data, "plain,\"a,b\",\"say \"\"hi\"\"\",\n");
    assert_int_equal(fp_csv_parse(&csv, b.data, b.len, err, sizeof err), FP_OK);
    assert_string_equal(csv.rows[0].fields[2], "say \"hi\"");
    assert_string_equal(csv.rows[0].fields[3], "");
    fp_csv_clear(&csv);
    fp_buf_clear(&b);
}

static void test_item_lines(void **state)
{
    const char *y = "# points\n- name: a\n  dataSource: x\n\n- {name: b}\n- c\n";
    const char *m = "other: [1, 2]\ndataPoints:\n  - a\n  - b: {c: [1]}\n    d: 2\n  - e\nx: 1\n";
    const char *j = "[\n {\"a\": 1},\n\n {\"b\": [1,\n 2]},\n 3]";
    json_t *l;
    (void)state;

    l = fp_yaml_item_lines(y, strlen(y), "dataPoints");
    assert_int_equal(json_array_size(l), 3);
    assert_int_equal(json_integer_value(json_array_get(l, 0)), 2);
    assert_int_equal(json_integer_value(json_array_get(l, 1)), 5);
    assert_int_equal(json_integer_value(json_array_get(l, 2)), 6);
    json_decref(l);
    l = fp_yaml_item_lines(m, strlen(m), "dataPoints");
    assert_int_equal(json_array_size(l), 3);
    assert_int_equal(json_integer_value(json_array_get(l, 1)), 4);
    assert_int_equal(json_integer_value(json_array_get(l, 2)), 6);
    json_decref(l);
    l = fp_yaml_item_lines(j, strlen(j), "x");
    assert_int_equal(json_array_size(l), 3);
    assert_int_equal(json_integer_value(json_array_get(l, 1)), 4);
    json_decref(l);
    assert_null(fp_yaml_item_lines("[1, 2", 5, "x"));
}

static void test_sub_item_lines(void **state)
{
    const char *y = "datasets:\n"
                    "  - name: a\n"
                    "    dataPoints:\n"
                    "      - {name: p}\n"
                    "      - name: q\n"
                    "        dataSource: s\n"
                    "  - name: b\n"
                    "    other: [1, 2]\n"
                    "  - name: c\n"
                    "    dataPoints: [x,\n"
                    "      y]\n";
    json_t *l, *e;
    (void)state;

    l = fp_yaml_sub_item_lines(y, strlen(y), "datasets", "dataPoints");
    assert_non_null(l);
    assert_int_equal(json_array_size(l), 3);
    e = json_array_get(l, 0);
    assert_int_equal(json_array_size(e), 3);
    assert_int_equal(json_integer_value(json_array_get(e, 0)), 2);
    assert_int_equal(json_integer_value(json_array_get(e, 1)), 4);
    assert_int_equal(json_integer_value(json_array_get(e, 2)), 5);
    e = json_array_get(l, 1);
    assert_int_equal(json_array_size(e), 1); /* other: is not dataPoints */
    e = json_array_get(l, 2);
    assert_int_equal(json_array_size(e), 3);
    assert_int_equal(json_integer_value(json_array_get(e, 2)), 11);
    json_decref(l);
}

/* Anchors and aliases cannot expand a small file into a huge document, nesting
 * is bounded, a plain merge key yields to the mapping's own keys, and a quoted
 * "<<" is an ordinary key that survives a round trip. */
static void test_yaml_limits_and_merge(void **state)
{
    char err[256];
    fp_buf b, deep;
    json_t *docs, *d;
    (void)state;

    fp_buf_init(&b, 1 << 20);
    fp_buf_append_str(&b, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 10; i++)
        fp_buf_printf(&b,
                      "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i,
                      i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
    assert_null(fp_yaml_parse(b.data, b.len, err, sizeof err));
    assert_non_null(strstr(err, "expands to more than"));
    fp_buf_clear(&b);

    fp_buf_init(&deep, 1 << 20);
    for (int i = 0; i < 5000; i++)
        fp_buf_append_str(&deep, "[");
    assert_null(fp_yaml_parse(deep.data, deep.len, err, sizeof err));
    assert_non_null(strstr(err, "nested deeper than"));
    fp_buf_clear(&deep);

    /* Depth through aliases counts too. */
    {
        const char *y = "a: &a [[[[[[[[[[1]]]]]]]]]]\nb: &b [*a, *a]\n";
        docs = fp_yaml_parse(y, strlen(y), err, sizeof err);
        assert_non_null(docs);
        json_decref(docs);
    }

    {
        const char *y = "base: &b {k: 1, m: 2}\nx:\n  <<: *b\n  k: 3\n\"<<\": {q: 1}\n"
                        "y: &b {k: 9}\nz: {<<: *b}\n";
        docs = fp_yaml_parse(y, strlen(y), err, sizeof err);
        assert_non_null(docs);
        d = json_array_get(docs, 0);
        assert_int_equal(json_integer_value(fp_json_get(d, "x.k")), 3);
        assert_int_equal(json_integer_value(fp_json_get(d, "x.m")), 2);
        assert_int_equal(json_integer_value(fp_json_get(d, "<<.q")), 1);
        /* A redefined anchor: the latest one wins. */
        assert_int_equal(json_integer_value(fp_json_get(d, "z.k")), 9);
        fp_buf_init(&b, 1 << 20);
        assert_int_equal(fp_yaml_emit(&b, d), FP_OK);
        json_t *again = fp_yaml_parse(b.data, b.len, err, sizeof err);
        assert_non_null(again);
        assert_true(json_equal(json_array_get(again, 0), d));
        json_decref(again);
        fp_buf_clear(&b);
        json_decref(docs);
    }
}

static void test_msg_endpoint(void **state)
{
    char err[256], *name;
    json_t *ep;
    (void)state;

    ep = fp_msg_endpoint_parse("broker=Microsoft.Mqtt,mqtts://b:8883", &name, err, sizeof err);
    assert_non_null(ep);
    assert_string_equal(name, "broker");
    assert_string_equal(json_string_value(json_object_get(ep, "endpointType")), "Microsoft.Mqtt");
    assert_string_equal(json_string_value(json_object_get(ep, "address")), "mqtts://b:8883");
    fp_free(name);
    json_decref(ep);
    ep = fp_msg_endpoint_parse("e=mqtt://a,b", &name, err, sizeof err);
    assert_non_null(ep);
    assert_null(json_object_get(ep, "endpointType"));
    assert_string_equal(json_string_value(json_object_get(ep, "address")), "mqtt://a,b");
    fp_free(name);
    json_decref(ep);
    assert_null(fp_msg_endpoint_parse("=x", &name, err, sizeof err));
    assert_null(name);
    assert_null(fp_msg_endpoint_parse("x", &name, err, sizeof err));
    assert_null(fp_msg_endpoint_parse("x=T,", &name, err, sizeof err));
    assert_null(fp_msg_endpoint_parse("x=,addr", &name, err, sizeof err));
    assert_null(fp_msg_endpoint_parse("x=", &name, err, sizeof err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml_scalars),
        cmocka_unit_test(test_yaml_round_trip),
        cmocka_unit_test(test_yaml_multi_and_errors),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_csv_write),
        cmocka_unit_test(test_item_lines),
        cmocka_unit_test(test_sub_item_lines),
        cmocka_unit_test(test_yaml_limits_and_merge),
        cmocka_unit_test(test_msg_endpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
