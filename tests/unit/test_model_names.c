/*
 * test_model_names.c - the resource model's kinds and name rules (lib/model).
 *
 * A table gives, per kind, names and the verdict the registry's contract (Azure Device
 * Registry's rules, docs/resource-model.md) wants, with the exact message for refused
 * ones: the registry answers with it and the connector runtime logs it, so its words are
 * part of the contract too. The regular expression each rule publishes (for docs, the
 * OpenAPI document and forms) is checked against the code over every short string of a
 * small alphabet, so the pattern people read cannot drift from what is enforced.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fp_model.h"

#define LONG63 "a23456789012345678901234567890123456789012345678901234567890123"
#define LONG64 LONG63 "4"
#define LONG65 LONG64 "5"

static void test_kinds(void **state)
{
    fp_kind k;

    (void)state;
    assert_string_equal(fp_kind_name(FP_KIND_DISCOVERED_DEVICE), "DiscoveredDevice");
    assert_string_equal(fp_kind_collection(FP_KIND_DISCOVERED_ASSET), "discoveredAssets");
    assert_string_equal(fp_kind_collection(FP_KIND_SCHEMA_VERSION), "versions");
    assert_string_equal(fp_kind_arm_type(FP_KIND_ASSET),
                        "Microsoft.DeviceRegistry/namespaces/assets");
    assert_string_equal(fp_kind_noun(FP_KIND_DISCOVERED_DEVICE), "discovered device");
    assert_string_equal(fp_kind_noun(FP_KIND_SECRET), "secret");
    assert_false(fp_kind_namespaced(FP_KIND_NAMESPACE));
    for (int i = FP_KIND_DEVICE; i < FP_KIND_COUNT; i++)
        assert_true(fp_kind_namespaced((fp_kind)i));
    for (int i = 0; i < FP_KIND_COUNT; i++) {
        assert_true(fp_kind_parse(fp_kind_name((fp_kind)i), &k));
        assert_int_equal(k, i);
        assert_true(fp_kind_parse(fp_kind_collection((fp_kind)i), &k));
        assert_int_equal(k, i);
        assert_non_null(fp_model_name_rule((fp_kind)i));
    }
    /* Secrets have a rule but are not a kind of the ARM model. */
    assert_false(fp_kind_parse("secrets", &k));
    assert_string_equal(fp_kind_name(FP_KIND_SECRET), "Unknown");
    assert_string_equal(fp_kind_collection(FP_KIND_SECRET),
                        "secrets"); /* a collection all the same */
    assert_false(fp_kind_namespaced(FP_KIND_SECRET));
    assert_non_null(fp_model_name_rule(FP_KIND_SECRET));
    assert_null(fp_model_name_rule((fp_kind)99));
    assert_string_equal(fp_kind_name((fp_kind)-1), "Unknown");
    assert_string_equal(fp_kind_noun((fp_kind)99), "resource");
    /* The store keeps kinds as numbers: they never move. */
    assert_int_equal(FP_KIND_NAMESPACE, 0);
    assert_int_equal(FP_KIND_SCHEMA_VERSION, 6);
    assert_int_equal(FP_KIND_SECRET, 7);
}

/* One name, one kind, and the verdict: NULL for valid, else the whole message. */
typedef struct verdict {
    fp_kind kind;
    const char *name;
    const char *why;
} verdict;

static const verdict k_table[] = {
    /* The name of the issue: a discovered device the runtime used to let through. */
    {FP_KIND_DISCOVERED_DEVICE, "-plc",
     "discovered device name \"-plc\" must start with a lowercase letter or digit"},
    {FP_KIND_DEVICE, "-plc", "device name \"-plc\" must start with a letter or digit"},
    {FP_KIND_ASSET, "-plc", "asset name \"-plc\" must start with a lowercase letter or digit"},
    {FP_KIND_DISCOVERED_ASSET, "-plc",
     "discovered asset name \"-plc\" must start with a lowercase letter or digit"},
    {FP_KIND_NAMESPACE, "-plc",
     "namespace name \"-plc\" must start with a lowercase letter or digit"},
    {FP_KIND_SCHEMA, "-plc", "schema name \"-plc\" must start with a lowercase letter or digit"},
    {FP_KIND_SCHEMA_VERSION, "-plc",
     "schema version name \"-plc\" must be a positive integer without leading zeros"},
    {FP_KIND_SECRET, "-plc", "secret name \"-plc\" must start with a lowercase letter or digit"},

    /* Namespaces and schemas: lowercase DNS labels of 3 to 64. */
    {FP_KIND_NAMESPACE, "plant-3", NULL},
    {FP_KIND_NAMESPACE, "abc", NULL},
    {FP_KIND_NAMESPACE, "007", NULL},
    {FP_KIND_NAMESPACE, "a--b", NULL},
    {FP_KIND_NAMESPACE, LONG64, NULL},
    {FP_KIND_NAMESPACE, "ab", "namespace name \"ab\" must be 3 to 64 characters long (it has 2)"},
    {FP_KIND_NAMESPACE, LONG65,
     "namespace name \"" LONG65 "\" must be 3 to 64 characters long (it has 65)"},
    {FP_KIND_NAMESPACE, "Plant",
     "namespace name \"Plant\" may hold only lowercase letters, digits and '-' (not 'P')"},
    {FP_KIND_NAMESPACE, "abc-",
     "namespace name \"abc-\" must end with a lowercase letter or digit"},
    {FP_KIND_NAMESPACE, "a_b",
     "namespace name \"a_b\" may hold only lowercase letters, digits and '-' (not '_')"},
    {FP_KIND_SCHEMA, "oven-temps", NULL},
    {FP_KIND_SCHEMA, LONG64, NULL},
    {FP_KIND_SCHEMA, "oven.temps",
     "schema name \"oven.temps\" may hold only lowercase letters, digits and '-' (not '.')"},

    /* Devices: letters of either case, digits and '-', 3 to 63, first a letter or digit,
     * and (Azure's rule) a '-' may end the name. */
    {FP_KIND_DEVICE, "PLC-C01", NULL},
    {FP_KIND_DEVICE, "plc-", NULL},
    {FP_KIND_DEVICE, "0ab", NULL},
    {FP_KIND_DEVICE, LONG63, NULL},
    {FP_KIND_DEVICE, "pl", "device name \"pl\" must be 3 to 63 characters long (it has 2)"},
    {FP_KIND_DEVICE, LONG64,
     "device name \"" LONG64 "\" must be 3 to 63 characters long (it has 64)"},
    {FP_KIND_DEVICE, "plc.c01",
     "device name \"plc.c01\" may hold only letters, digits and '-' (not '.')"},
    {FP_KIND_DEVICE, "plc c01",
     "device name \"plc c01\" may hold only letters, digits and '-' (not ' ')"},

    /* Assets and discovered resources: lowercase DNS labels of 3 to 63. */
    {FP_KIND_ASSET, "press-01", NULL},
    {FP_KIND_ASSET, LONG63, NULL},
    {FP_KIND_ASSET, LONG64,
     "asset name \"" LONG64 "\" must be 3 to 63 characters long (it has 64)"},
    {FP_KIND_ASSET, "Press-01",
     "asset name \"Press-01\" may hold only lowercase letters, digits and '-' (not 'P')"},
    {FP_KIND_ASSET, "press-", "asset name \"press-\" must end with a lowercase letter or digit"},
    {FP_KIND_ASSET, "", "asset name \"\" must be 3 to 63 characters long (it has 0)"},
    {FP_KIND_DISCOVERED_ASSET, "press-01", NULL},
    {FP_KIND_DISCOVERED_DEVICE, "plc-d04", NULL},
    /* Names the runtime's own rule let through (either case, from 1 character). */
    {FP_KIND_DISCOVERED_DEVICE, "PLC",
     "discovered device name \"PLC\" may hold only lowercase letters, digits and '-' (not 'P')"},
    {FP_KIND_DISCOVERED_DEVICE, "p1",
     "discovered device name \"p1\" must be 3 to 63 characters long (it has 2)"},
    {FP_KIND_DISCOVERED_DEVICE, "plc-",
     "discovered device name \"plc-\" must end with a lowercase letter or digit"},

    /* Schema versions: positive integers without leading zeros, up to 10 digits. */
    {FP_KIND_SCHEMA_VERSION, "1", NULL},
    {FP_KIND_SCHEMA_VERSION, "42", NULL},
    {FP_KIND_SCHEMA_VERSION, "1234567890", NULL},
    {FP_KIND_SCHEMA_VERSION, "0",
     "schema version name \"0\" must be a positive integer without leading zeros"},
    {FP_KIND_SCHEMA_VERSION, "01",
     "schema version name \"01\" must be a positive integer without leading zeros"},
    {FP_KIND_SCHEMA_VERSION, "1a",
     "schema version name \"1a\" must be a positive integer without leading zeros"},
    {FP_KIND_SCHEMA_VERSION, "",
     "schema version name \"\" must be 1 to 10 characters long (it has 0)"},
    {FP_KIND_SCHEMA_VERSION, "12345678901",
     "schema version name \"12345678901\" must be 1 to 10 characters long (it has 11)"},

    /* Secrets: lowercase letters, digits, '-' and '.', 1 to 253. */
    {FP_KIND_SECRET, "a", NULL},
    {FP_KIND_SECRET, "plc-c01", NULL},
    {FP_KIND_SECRET, "ca.plant3", NULL},
    {FP_KIND_SECRET, "", "secret name \"\" must be 1 to 253 characters long (it has 0)"},
    {FP_KIND_SECRET, "Plc",
     "secret name \"Plc\" may hold only lowercase letters, digits, '-' and '.' (not 'P')"},
    {FP_KIND_SECRET, "plc.", "secret name \"plc.\" must end with a lowercase letter or digit"},
    {FP_KIND_SECRET, "plc/key",
     "secret name \"plc/key\" may hold only lowercase letters, digits, '-' and '.' (not '/')"},

    /* What cannot be shown is not shown: control characters, quotes, bytes beyond ASCII. */
    {FP_KIND_ASSET, "pu\nmp",
     "asset name \"pu?mp\" may hold only lowercase letters, digits and '-' (not byte 0x0a)"},
    {FP_KIND_ASSET, "pu\"mp",
     "asset name \"pu?mp\" may hold only lowercase letters, digits and '-' (not '\"')"},
    {FP_KIND_DEVICE, "pr\xc3\xa9ss",
     "device name \"pr??ss\" may hold only letters, digits and '-' (not byte 0xc3)"},
};

static void test_name_table(void **state)
{
    char why[512];

    (void)state;
    for (size_t i = 0; i < sizeof k_table / sizeof k_table[0]; i++) {
        const verdict *v = &k_table[i];
        fp_status st = fp_model_name_check(v->kind, v->name, why, sizeof why);
        if (!v->why) {
            if (st != FP_OK)
                fail_msg("%s name \"%s\": refused (%s), should be valid", fp_kind_noun(v->kind),
                         v->name, why);
            assert_string_equal(why, "");
            continue;
        }
        if (st != FP_ERR_INVALID)
            fail_msg("%s name \"%s\": accepted, should be refused", fp_kind_noun(v->kind), v->name);
        if (strcmp(why, v->why) != 0)
            fail_msg("%s name \"%s\":\n  got      %s\n  expected %s", fp_kind_noun(v->kind),
                     v->name, why, v->why);
    }
}

static void test_name_edges(void **state)
{
    char why[512], small[16], long_name[300];

    (void)state;
    /* NULL is the empty name; why may be NULL; an unknown kind is refused. */
    assert_int_equal(fp_model_name_check(FP_KIND_ASSET, NULL, why, sizeof why), FP_ERR_INVALID);
    assert_string_equal(why, "asset name \"\" must be 3 to 63 characters long (it has 0)");
    assert_int_equal(fp_model_name_check(FP_KIND_ASSET, "-plc", NULL, 0), FP_ERR_INVALID);
    assert_int_equal(fp_model_name_check(FP_KIND_ASSET, "plc", NULL, 99), FP_OK);
    assert_int_equal(fp_model_name_check((fp_kind)42, "plc", why, sizeof why), FP_ERR_INVALID);
    assert_non_null(strstr(why, "unknown"));

    /* A small buffer is cut and still terminated. */
    memset(small, 'x', sizeof small);
    assert_int_equal(fp_model_name_check(FP_KIND_DEVICE, "-plc", small, sizeof small),
                     FP_ERR_INVALID);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_memory_equal(small, "device name \"-p", sizeof small - 1);
    small[0] = 'x';
    assert_int_equal(fp_model_name_check(FP_KIND_DEVICE, "-plc", small, 1), FP_ERR_INVALID);
    assert_int_equal(small[0], '\0');

    /* A long name is cut in the message. */
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_int_equal(fp_model_name_check(FP_KIND_SECRET, long_name, why, sizeof why),
                     FP_ERR_INVALID);
    assert_non_null(strstr(why, "aaa...\" must be 1 to 253 characters long (it has 299)"));
    assert_true(strlen(why) < 200);
}

static void test_secret_refs(void **state)
{
    char why[512];

    (void)state;
    assert_int_equal(fp_model_secret_ref_check("plc-c01", why, sizeof why), FP_OK);
    assert_int_equal(fp_model_secret_ref_check("plc-c01/password", why, sizeof why), FP_OK);
    assert_int_equal(fp_model_secret_ref_check("ca.plant3/Key_1.pem", why, sizeof why), FP_OK);
    assert_int_equal(fp_model_secret_ref_check("Plc/password", why, sizeof why), FP_ERR_INVALID);
    assert_string_equal(
        why, "secret name \"Plc\" may hold only lowercase letters, digits, '-' and '.' (not 'P')");
    assert_int_equal(fp_model_secret_ref_check("plc/", why, sizeof why), FP_ERR_INVALID);
    assert_string_equal(why, "secret key \"\" must be 1 to 253 characters long (it has 0)");
    assert_int_equal(fp_model_secret_ref_check("plc/a b", why, sizeof why), FP_ERR_INVALID);
    assert_string_equal(
        why, "secret key \"a b\" may hold only letters, digits, '-', '_' and '.' (not ' ')");
    assert_int_equal(fp_model_secret_ref_check("plc/a/b", why, sizeof why), FP_ERR_INVALID);
    assert_int_equal(fp_model_secret_ref_check("/key", why, sizeof why), FP_ERR_INVALID);
    assert_int_equal(fp_model_secret_ref_check(NULL, NULL, 0), FP_ERR_INVALID);
}

/* Every string over a small alphabet up to max_len: the published pattern and the lengths
 * of the rule agree with the check. */
static void check_pattern(fp_kind kind, const char *alphabet, size_t max_len)
{
    const fp_name_rule *rule = fp_model_name_rule(kind);
    size_t n_alpha = strlen(alphabet);
    char name[16];
    size_t idx[16];
    regex_t re;

    assert_non_null(rule);
    assert_true(max_len < sizeof name);
    assert_int_equal(regcomp(&re, rule->pattern, REG_EXTENDED | REG_NOSUB), 0);
    for (size_t len = 0; len <= max_len; len++) {
        memset(idx, 0, sizeof idx);
        for (;;) {
            for (size_t i = 0; i < len; i++)
                name[i] = alphabet[idx[i]];
            name[len] = '\0';
            bool by_pattern =
                regexec(&re, name, 0, NULL, 0) == 0 && len >= rule->min_len && len <= rule->max_len;
            bool by_code = fp_model_name_check(kind, name, NULL, 0) == FP_OK;
            if (by_pattern != by_code)
                fail_msg("%s name \"%s\": pattern %s says %s, the check %s", fp_kind_noun(kind),
                         name, rule->pattern, by_pattern ? "valid" : "invalid",
                         by_code ? "valid" : "invalid");
            size_t i = 0;
            while (i < len && ++idx[i] == n_alpha)
                idx[i++] = 0;
            if (i == len)
                break;
        }
    }
    regfree(&re);
}

static void test_patterns_agree(void **state)
{
    (void)state;
    for (int k = 0; k < FP_KIND_COUNT; k++)
        check_pattern((fp_kind)k, "aZ0-._", 4);
    check_pattern(FP_KIND_SECRET, "aZ0-._", 4);
    check_pattern(FP_KIND_SCHEMA_VERSION, "01a", 5);
    /* Past the length limits (the alphabet walk above stays below them). */
    for (int k = 0; k <= FP_KIND_SECRET; k++) {
        const fp_name_rule *rule = fp_model_name_rule((fp_kind)k);
        char name[300];
        size_t n = rule->max_len + 1;
        assert_true(n < sizeof name);
        memset(name, k == FP_KIND_SCHEMA_VERSION ? '1' : 'a', n);
        name[n] = '\0';
        assert_int_equal(fp_model_name_check((fp_kind)k, name, NULL, 0), FP_ERR_INVALID);
        name[n - 1] = '\0';
        assert_int_equal(fp_model_name_check((fp_kind)k, name, NULL, 0), FP_OK);
        assert_non_null(rule->text);
        assert_true(rule->text[0] != '\0');
    }
}

/* The endpoint types: found case-insensitively (as connectors compare), each with a label and
 * an example address, no type twice; an unknown or NULL type is not found. */
static void test_endpoint_types(void **state)
{
    (void)state;
    size_t n;
    const fp_endpoint_type *t = fp_endpoint_types(&n);
    assert_true(n >= 5);
    for (size_t i = 0; i < n; i++) {
        assert_ptr_equal(fp_endpoint_type_find(t[i].type), &t[i]);
        assert_true(t[i].label[0] && strstr(t[i].example, "://"));
        for (size_t j = 0; j < i; j++)
            assert_true(strcasecmp(t[i].type, t[j].type) != 0);
    }
    assert_ptr_equal(fp_endpoint_type_find("microsoft.opcua"),
                     fp_endpoint_type_find(FP_ENDPOINT_OPCUA));
    assert_string_equal(fp_endpoint_type_find("MICROSOFT.SSEHTTP")->type, FP_ENDPOINT_SSE);
    assert_null(fp_endpoint_type_find("Contoso.Modbus"));
    assert_null(fp_endpoint_type_find(NULL));

    /* Addresses: each example passes its own type; a wrong or missing scheme is named. */
    char why[200];
    for (size_t i = 0; i < n; i++)
        assert_int_equal(fp_endpoint_address_check(t[i].type, t[i].example, why, sizeof why),
                         FP_OK);
    assert_int_equal(fp_endpoint_address_check(FP_ENDPOINT_OPCUA, "OPC.TCP://plc:4840", why, 200),
                     FP_OK);
    assert_int_equal(fp_endpoint_address_check(FP_ENDPOINT_OPCUA, "http//nonsense", why, 200),
                     FP_ERR_INVALID);
    assert_string_equal(why, "must be a URL starting opc.tcp:// for endpoint type Microsoft.OpcUa, "
                             "not \"http//nonsense\"");
    assert_int_equal(fp_endpoint_address_check(FP_ENDPOINT_HTTP, "ftp://x", why, 200),
                     FP_ERR_INVALID);
    assert_string_equal(why, "must be a URL starting http:// or https:// for endpoint type "
                             "Microsoft.Http, not \"ftp://x\"");
    assert_int_equal(fp_endpoint_address_check(FP_ENDPOINT_HTTP, "http://", why, 200),
                     FP_ERR_INVALID);
    assert_int_equal(fp_endpoint_address_check(FP_ENDPOINT_MQTT, "mqtt://b:1883", why, 200), FP_OK);
    assert_int_equal(fp_endpoint_address_check("Contoso.Modbus", "tcp://10.0.0.4:502", why, 200),
                     FP_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),          cmocka_unit_test(test_name_table),
        cmocka_unit_test(test_name_edges),     cmocka_unit_test(test_secret_refs),
        cmocka_unit_test(test_patterns_agree), cmocka_unit_test(test_endpoint_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
