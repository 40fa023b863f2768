/*
 * test_connector_schema.c - JSON Schema inference (fpc_schema): types and their unions,
 * nested objects and arrays, the depth bound, defined names, completeness and the
 * canonical text that the registry hashes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

/* An internal header of the library, not on its public include path. */
#include "../../lib/connector/fpc_schema.h"

#define DRAFT "\"$schema\":\"http://json-schema.org/draft-07/schema#\""

/* Observe the JSON text z; returns what observe answered. */
static bool see(fpc_schema *s, const char *z)
{
    json_error_t je;
    json_t *v = json_loads(z, JSON_DECODE_ANY, &je);
    bool changed;

    assert_non_null(v);
    changed = fpc_schema_observe(s, v);
    json_decref(v);
    return changed;
}

/* The schema of the member at "properties"."name". */
static json_t *prop(fpc_schema *s, const char *name)
{
    json_t *doc = json_loads(fpc_schema_text(s), 0, NULL);
    json_t *p;

    assert_non_null(doc);
    p = json_object_get(json_object_get(doc, "properties"), name);
    if (p)
        json_incref(p);
    json_decref(doc);
    return p;
}

static void assert_type(fpc_schema *s, const char *name, const char *want)
{
    json_t *p = prop(s, name);
    char *t;

    assert_non_null(p);
    t = json_dumps(json_object_get(p, "type"), JSON_ENCODE_ANY | JSON_COMPACT);
    assert_string_equal(t, want);
    free(t);
    json_decref(p);
}

static void test_empty_schema(void **state)
{
    fpc_schema *s = fpc_schema_new("oven/telemetry", NULL, 0);
    (void)state;
    assert_non_null(s);
    assert_string_equal(fpc_schema_text(s), "{" DRAFT ",\"properties\":{},\"title\":"
                                            "\"oven/telemetry\",\"type\":\"object\"}");
    assert_true(fpc_schema_complete(s));
    fpc_schema_free(s);
}

static void test_scalar_types(void **state)
{
    fpc_schema *s = fpc_schema_new("a/b", NULL, 0);
    (void)state;
    assert_true(see(s, "{\"i\":1,\"r\":1.5,\"s\":\"x\",\"b\":true,\"n\":null}"));
    assert_type(s, "i", "\"integer\"");
    assert_type(s, "r", "\"number\"");
    assert_type(s, "s", "\"string\"");
    assert_type(s, "b", "\"boolean\"");
    assert_type(s, "n", "\"null\"");
    /* The same shape again changes nothing. */
    assert_false(see(s, "{\"i\":2,\"r\":2.5,\"s\":\"y\",\"b\":false,\"n\":null}"));
    fpc_schema_free(s);
}

static void test_integer_widens_to_number(void **state)
{
    fpc_schema *s = fpc_schema_new("a/b", NULL, 0);
    (void)state;
    assert_true(see(s, "{\"t\":20}"));
    assert_type(s, "t", "\"integer\"");
    assert_true(see(s, "{\"t\":20.5}"));
    assert_type(s, "t", "\"number\"");
    assert_false(see(s, "{\"t\":21}"));
    assert_type(s, "t", "\"number\"");

    /* Number first, then integer: no change at all. */
    fpc_schema *s2 = fpc_schema_new("a/b", NULL, 0);
    assert_true(see(s2, "{\"t\":1.25}"));
    assert_false(see(s2, "{\"t\":3}"));
    assert_string_equal(fpc_schema_text(s), fpc_schema_text(s2));
    fpc_schema_free(s2);
    fpc_schema_free(s);
}

static void test_type_union(void **state)
{
    fpc_schema *s = fpc_schema_new("a/b", NULL, 0);
    (void)state;
    see(s, "{\"v\":\"on\"}");
    assert_true(see(s, "{\"v\":3}"));
    assert_type(s, "v", "[\"integer\",\"string\"]");
    assert_true(see(s, "{\"v\":null}"));
    assert_type(s, "v", "[\"integer\",\"null\",\"string\"]");
    assert_true(see(s, "{\"v\":0.5}"));
    assert_type(s, "v", "[\"null\",\"number\",\"string\"]");
    fpc_schema_free(s);
}

static void test_nested(void **state)
{
    fpc_schema *s = fpc_schema_new("a/b", NULL, 0);
    json_t *p, *exp;
    (void)state;
    see(s, "{\"status\":{\"running\":true,\"mode\":\"auto\"},\"counters\":[1,2],"
           "\"rows\":[{\"a\":1},{\"b\":\"x\"}],\"empty\":[]}");
    p = prop(s, "status");
    exp = json_loads("{\"type\":\"object\",\"properties\":{\"running\":{\"type\":\"boolean\"},"
                     "\"mode\":{\"type\":\"string\"}}}",
                     0, NULL);
    assert_true(json_equal(p, exp));
    json_decref(p);
    json_decref(exp);

    p = prop(s, "counters");
    exp = json_loads("{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}", 0, NULL);
    assert_true(json_equal(p, exp));
    json_decref(p);
    json_decref(exp);

    /* Items of an array merge: a and b both described. */
    p = prop(s, "rows");
    exp = json_loads("{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
                     "\"a\":{\"type\":\"integer\"},\"b\":{\"type\":\"string\"}}}}",
                     0, NULL);
    assert_true(json_equal(p, exp));
    json_decref(p);
    json_decref(exp);

    p = prop(s, "empty");
    exp = json_loads("{\"type\":\"array\"}", 0, NULL);
    assert_true(json_equal(p, exp));
    json_decref(p);
    json_decref(exp);

    /* A new nested member is a change. */
    assert_true(see(s, "{\"status\":{\"alarm\":false}}"));
    assert_false(see(s, "{\"status\":{\"alarm\":true,\"mode\":\"manual\"}}"));
    fpc_schema_free(s);
}

static void test_depth_bound(void **state)
{
    fpc_schema *s = fpc_schema_new("a/b", NULL, 0);
    char payload[512] = "";
    const char *text;
    int depth = 0;
    (void)state;

    /* 20 levels of {"x": ...}: only 8 are described. */
    for (int i = 0; i < 20; i++)
        strcat(payload, "{\"x\":");
    strcat(payload, "1");
    for (int i = 0; i < 20; i++)
        strcat(payload, "}");
    assert_true(see(s, payload));
    text = fpc_schema_text(s);
    for (const char *p = text; (p = strstr(p, "\"properties\"")); p++)
        depth++;
    assert_int_equal(depth, 8);
    /* Deeper changes are not seen. */
    strcpy(payload, "");
    for (int i = 0; i < 20; i++)
        strcat(payload, "{\"x\":");
    strcat(payload, "\"deep\"");
    for (int i = 0; i < 20; i++)
        strcat(payload, "}");
    assert_false(see(s, payload));
    fpc_schema_free(s);
}

static void test_names_before_values(void **state)
{
    const char *names[] = {"temperature", "pressure", "running"};
    fpc_schema *s = fpc_schema_new("oven/telemetry", names, 3);
    json_t *p;
    (void)state;

    assert_non_null(s);
    p = prop(s, "pressure");
    assert_non_null(p);
    assert_int_equal(json_object_size(p), 0); /* listed, no type yet */
    json_decref(p);
    assert_false(fpc_schema_complete(s));

    assert_true(see(s, "{\"temperature\":21.5,\"pressure\":3}"));
    assert_false(fpc_schema_complete(s));
    assert_true(see(s, "{\"running\":true}"));
    assert_true(fpc_schema_complete(s));
    assert_type(s, "pressure", "\"integer\"");

    /* Extra members beyond the definition are learned too. */
    assert_true(see(s, "{\"extra\":\"x\"}"));
    assert_type(s, "extra", "\"string\"");
    fpc_schema_free(s);
}

static void test_opcua_style(void **state)
{
    fpc_schema *s = fpc_schema_new("a/b", NULL, 0);
    json_t *p, *exp;
    (void)state;
    see(s, "{\"t\":{\"SourceTimestamp\":\"2026-11-26T13:40:31Z\",\"Value\":20.5}}");
    p = prop(s, "t");
    exp = json_loads("{\"type\":\"object\",\"properties\":{\"SourceTimestamp\":{\"type\":"
                     "\"string\"},\"Value\":{\"type\":\"number\"}}}",
                     0, NULL);
    assert_true(json_equal(p, exp));
    json_decref(p);
    json_decref(exp);
    fpc_schema_free(s);
}

static void test_canonical_text(void **state)
{
    const char *names[] = {"b", "a"};
    fpc_schema *s1 = fpc_schema_new("x/y", names, 2);
    fpc_schema *s2 = fpc_schema_new("x/y", names, 2);
    (void)state;

    /* Same values in another member order and another payload split. */
    see(s1, "{\"a\":1,\"b\":{\"q\":true,\"p\":\"s\"},\"c\":[1.5]}");
    see(s2, "{\"c\":[2.5]}");
    see(s2, "{\"b\":{\"p\":\"t\"}}");
    see(s2, "{\"b\":{\"q\":false},\"a\":7}");
    assert_string_equal(fpc_schema_text(s1), fpc_schema_text(s2));
    /* Sorted keys, no whitespace. */
    assert_null(strchr(fpc_schema_text(s1), ' '));
    assert_non_null(strstr(fpc_schema_text(s1), "{\"$schema\":"));
    assert_true(strstr(fpc_schema_text(s1), "\"a\":") < strstr(fpc_schema_text(s1), "\"b\":"));
    fpc_schema_free(s1);
    fpc_schema_free(s2);
}

/* observe answers "changed" from the tree alone: an integer seen after a number changes
 * nothing in the text, so it is no change; the text is rendered on demand each time. */
static void test_change_without_text(void **state)
{
    static const char *const names[] = {"v"};
    fpc_schema *s = fpc_schema_new("a/b", names, 1);
    char *before;
    (void)state;
    assert_true(see(s, "{\"v\":0.5}"));
    before = strdup(fpc_schema_text(s));
    assert_false(see(s, "{\"v\":2}"));
    assert_string_equal(fpc_schema_text(s), before);
    assert_false(see(s, "{\"v\":2.5}"));
    assert_true(see(s, "{\"v\":{\"x\":1}}"));
    assert_type(s, "v", "[\"number\",\"object\"]");
    assert_false(see(s, "{\"v\":{\"x\":1}}"));
    assert_true(see(s, "{\"v\":{\"x\":1.5}}"));
    assert_true(see(s, "{\"w\":[]}"));
    assert_true(see(s, "{\"w\":[true]}"));
    assert_false(see(s, "{\"w\":[false]}"));
    free(before);
    fpc_schema_free(s);
}

static void test_non_object_ignored(void **state)
{
    fpc_schema *s = fpc_schema_new("a/b", NULL, 0);
    char *before;
    (void)state;
    before = strdup(fpc_schema_text(s));
    assert_false(see(s, "[1,2]"));
    assert_false(see(s, "42"));
    assert_false(see(s, "\"text\""));
    assert_false(see(s, "null"));
    assert_false(fpc_schema_observe(s, NULL));
    assert_string_equal(fpc_schema_text(s), before);
    free(before);
    fpc_schema_free(s);
    fpc_schema_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_schema),
        cmocka_unit_test(test_scalar_types),
        cmocka_unit_test(test_integer_widens_to_number),
        cmocka_unit_test(test_type_union),
        cmocka_unit_test(test_nested),
        cmocka_unit_test(test_depth_bound),
        cmocka_unit_test(test_names_before_values),
        cmocka_unit_test(test_opcua_style),
        cmocka_unit_test(test_canonical_text),
        cmocka_unit_test(test_change_without_text),
        cmocka_unit_test(test_non_object_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
