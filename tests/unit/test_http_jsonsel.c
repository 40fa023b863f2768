/*
 * test_http_jsonsel.c - JSON Pointer and "$." path selectors of the HTTP connector.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fp_json.h"
#include "jsonsel.h"

static const char *k_doc = "{\"a\":{\"b\":[10,20,{\"c\":true}]},\"a/b\":1,\"m~n\":2,\"\":3,"
                           "\"key with space\":\"s\",\"it's\":4,\"0\":\"zero\",\"n\":null}";

/* Select sel from k_doc and return the value dumped as JSON (static buffer), or NULL. */
static const char *sel_dump(const char *sel, char *err, size_t err_len)
{
    static char out[256];
    json_t *doc = json_loads(k_doc, 0, NULL);
    fp_jsonsel *s = NULL;
    json_t *v;
    char *d;

    assert_non_null(doc);
    if (fp_jsonsel_compile(sel, &s, err, err_len)) {
        json_decref(doc);
        return NULL;
    }
    v = fp_jsonsel_eval(s, doc, err, err_len);
    if (!v) {
        fp_jsonsel_free(s);
        json_decref(doc);
        return NULL;
    }
    d = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(out, sizeof out, "%s", d);
    free(d);
    fp_jsonsel_free(s);
    json_decref(doc);
    return out;
}

static void expect(const char *sel, const char *want)
{
    char err[256];
    const char *got = sel_dump(sel, err, sizeof err);
    if (!got)
        fail_msg("%s: %s", sel, err);
    assert_string_equal(got, want);
}

/* A selector that compiles but finds nothing; the message must contain part. */
static void expect_missing(const char *sel, const char *part)
{
    char err[256];
    fp_jsonsel *s = NULL;
    json_t *doc = json_loads(k_doc, 0, NULL);

    assert_int_equal(fp_jsonsel_compile(sel, &s, err, sizeof err), FP_OK);
    assert_null(fp_jsonsel_eval(s, doc, err, sizeof err));
    if (!strstr(err, part))
        fail_msg("%s: message \"%s\" lacks \"%s\"", sel, err, part);
    fp_jsonsel_free(s);
    json_decref(doc);
}

static void expect_malformed(const char *sel, const char *part)
{
    char err[256];
    fp_jsonsel *s = NULL;

    assert_int_equal(fp_jsonsel_compile(sel, &s, err, sizeof err), FP_ERR_INVALID);
    assert_null(s);
    if (!strstr(err, part))
        fail_msg("%s: message \"%s\" lacks \"%s\"", sel, err, part);
}

static void test_pointer(void **state)
{
    expect("", k_doc);
    expect("/a/b/0", "10");
    expect("/a/b/2/c", "true");
    expect("/a~1b", "1");
    expect("/m~0n", "2");
    expect("/", "3"); /* the empty member name */
    expect("/0", "\"zero\"");
    expect("/n", "null");
    expect("/key with space", "\"s\"");
}

static void test_pointer_missing(void **state)
{
    expect_missing("/x", "no member \"x\" in the object at the document root");
    expect_missing("/a/b/3", "index 3 is out of range (3 elements) in the array at \"/a/b\"");
    expect_missing("/a/b/01", "\"01\" is not an array index");
    expect_missing("/a/b/-", "\"-\" is not an array index");
    expect_missing("/a/b/0/x", "\"x\" asked of a number, not an object or array, at \"/a/b/0\"");
}

static void test_pointer_malformed(void **state)
{
    expect_malformed("/a~2", "at character 3: '~' must be followed by '0' or '1'");
    expect_malformed("/a~", "found the end");
    expect_malformed("a/b", "at character 1: expected '/'");
}

static void test_path(void **state)
{
    expect("$", k_doc);
    expect("$.a.b[0]", "10");
    expect("$.a.b[2].c", "true");
    expect("$.a.b[-1].c", "true");
    expect("$.a.b[-3]", "10");
    expect("$['key with space']", "\"s\"");
    expect("$[\"key with space\"]", "\"s\"");
    expect("$['it\\'s']", "4");
    expect("$['a/b']", "1");
    expect("$['']", "3");
    expect("$.0", "\"zero\"");
    expect("$['a']['b'][1]", "20");
}

static void test_path_missing(void **state)
{
    expect_missing("$.a.x", "no member \"x\" in the object at \"$.a\"");
    expect_missing("$.a.b[3]", "index 3 is out of range (3 elements)");
    expect_missing("$.a.b[-4]", "index -4 is out of range");
    expect_missing("$.a[0]", "index [0] applied to an object, not an array");
    expect_missing("$.a.b.c", "member \"c\" asked of an array, not an object");
    expect_missing("$.n.x", "asked of null");
}

static void test_path_malformed(void **state)
{
    expect_malformed("$.", "at character 3: expected a member name after '.', found the end");
    expect_malformed("$..a", "at character 3: expected a member name after '.', found '.'");
    expect_malformed("$a", "at character 2: expected '.' or '[', found 'a'");
    expect_malformed("$[", "at character 3: expected a quoted name or an index after '['");
    expect_malformed("$[x]", "expected a quoted name or an index after '[', found 'x'");
    expect_malformed("$[1", "at character 4: expected ']' after the index, found the end");
    expect_malformed("$['a", "unterminated name");
    expect_malformed("$['a'x", "at character 6: expected ']' after the quoted name, found 'x'");
    expect_malformed("$[1234567890123456]", "index too large");
    expect_malformed("$.a b", "expected '.' or '[', found ' '");
    expect_malformed("temperature", "found 't'");
}

static void test_text(void **state)
{
    fp_jsonsel *s = NULL;
    char err[64];
    assert_int_equal(fp_jsonsel_compile("$.a", &s, err, sizeof err), FP_OK);
    assert_string_equal(fp_jsonsel_text(s), "$.a");
    fp_jsonsel_free(s);
    fp_jsonsel_free(NULL);
}

static void expect_dump(const char *in, const char *want)
{
    json_t *v = json_loads(in, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    fp_buf b;
    assert_non_null(v);
    fp_buf_init(&b, 1024);
    assert_int_equal(fp_json_dump_compact(&b, v), FP_OK);
    assert_string_equal(b.data, want);
    fp_buf_clear(&b);
    json_decref(v);
}

static void test_dump_compact(void **state)
{
    expect_dump("21.1", "21.1");
    expect_dump("0.1", "0.1");
    expect_dump("21.0", "21.0");
    expect_dump("1e300", "1e+300");
    expect_dump("-0.30000000000000004", "-0.30000000000000004");
    expect_dump("{ \"b\" : [1, 2.5, true, false, null], \"a\": \"x\\\"\\n\\u0001\\u00e9\" }",
                "{\"b\":[1,2.5,true,false,null],\"a\":\"x\\\"\\n\\u0001\xc3\xa9\"}");
    expect_dump("\"a\\u0000b\"", "\"a\\u0000b\"");
    expect_dump("9007199254740993", "9007199254740993");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pointer),
        cmocka_unit_test(test_pointer_missing),
        cmocka_unit_test(test_pointer_malformed),
        cmocka_unit_test(test_path),
        cmocka_unit_test(test_path_missing),
        cmocka_unit_test(test_path_malformed),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_dump_compact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
