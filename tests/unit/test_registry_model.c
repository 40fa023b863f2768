/*
 * test_registry_model.c - names as registry errors (and the OpenAPI document's copy of
 * the rules), normalisation (with the legacy event mapping), the fixture documents,
 * create-only fields, spec changes, references, index values and JSON merge patch
 * (RFC 7396 appendix A).
 *
 * Fixtures are read from tests/fixtures/model beside this file; the path is
 * derived from __FILE__, which CMake passes as an absolute path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "model.h"

static json_t *load(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);

    if (!v)
        fail_msg("bad test JSON at %d:%d: %s\n%s", jerr.line, jerr.column, jerr.text, text);
    return v;
}

static json_t *load_fixture(const char *name)
{
    char path[1024];
    const char *slash = strrchr(__FILE__, '/');
    int dir_len = slash ? (int)(slash - __FILE__) : 1;
    json_error_t jerr;
    json_t *v;

    snprintf(path, sizeof path, "%.*s/../fixtures/model/%s", dir_len, slash ? __FILE__ : ".", name);
    v = json_load_file(path, 0, &jerr);
    if (!v)
        fail_msg("cannot load %s: %s", path, jerr.text);
    return v;
}

static const json_t *props_of(const json_t *doc)
{
    return json_object_get(doc, "properties");
}

static const json_t *at(const json_t *v, const char *path)
{
    /* "a.b.0.c": keys and array indexes */
    char key[128];

    while (v && *path) {
        size_t n = strcspn(path, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, path);
        if (json_is_array(v))
            v = json_array_get(v, (size_t)atoi(key));
        else
            v = json_object_get(v, key);
        path += n;
        if (*path == '.')
            path++;
    }
    return v;
}

/* ---------------------------------------------------------------------------
 * Names (the rules and kinds themselves: tests/unit/test_model_names.c)
 * ------------------------------------------------------------------------- */

static void test_names(void **state)
{
    static const struct {
        fp_kind kind;
        const char *name;
        bool ok;
    } k_names[] = {
        {FP_KIND_NAMESPACE, "plant-3", true},
        {FP_KIND_NAMESPACE, "ab", false},
        {FP_KIND_NAMESPACE, "abc", true},
        {FP_KIND_NAMESPACE, "Plant", false},
        {FP_KIND_NAMESPACE, "-abc", false},
        {FP_KIND_NAMESPACE, "abc-", false},
        {FP_KIND_NAMESPACE, "a_b", false},
        {FP_KIND_NAMESPACE, "a234567890123456789012345678901234567890123456789012345678901234",
         true},
        {FP_KIND_NAMESPACE, "a2345678901234567890123456789012345678901234567890123456789012345",
         false},
        {FP_KIND_DEVICE, "PLC-C01", true},
        {FP_KIND_DEVICE, "plc-", true},
        {FP_KIND_DEVICE, "-plc", false},
        {FP_KIND_DISCOVERED_DEVICE, "-plc", false},
        {FP_KIND_DEVICE, "pl", false},
        {FP_KIND_DEVICE, "plc.c01", false},
        {FP_KIND_DEVICE, "a23456789012345678901234567890123456789012345678901234567890123", true},
        {FP_KIND_DEVICE, "a234567890123456789012345678901234567890123456789012345678901234", false},
        {FP_KIND_ASSET, "press-01", true},
        {FP_KIND_ASSET, "Press-01", false},
        {FP_KIND_ASSET, "press-", false},
        {FP_KIND_DISCOVERED_ASSET, "press-01", true},
        {FP_KIND_DISCOVERED_DEVICE, "plc-d04", true},
        {FP_KIND_DISCOVERED_DEVICE, "PLC", false},
        {FP_KIND_SCHEMA, "oven-temps", true},
        {FP_KIND_SCHEMA, "oven_temps", false},
        {FP_KIND_SCHEMA_VERSION, "1", true},
        {FP_KIND_SCHEMA_VERSION, "42", true},
        {FP_KIND_SCHEMA_VERSION, "0", false},
        {FP_KIND_SCHEMA_VERSION, "01", false},
        {FP_KIND_SCHEMA_VERSION, "1a", false},
        {FP_KIND_SCHEMA_VERSION, "", false},
        {FP_KIND_SCHEMA_VERSION, "12345678901", false},
        {FP_KIND_ASSET, "", false},
        {FP_KIND_ASSET, NULL, false},
    };
    fp_verr err;

    (void)state;
    for (size_t i = 0; i < sizeof k_names / sizeof k_names[0]; i++) {
        memset(&err, 0, sizeof err);
        if (fp_model_name_valid(k_names[i].kind, k_names[i].name, &err) != k_names[i].ok)
            fail_msg("%s name '%s': expected %s", fp_kind_name(k_names[i].kind),
                     k_names[i].name ? k_names[i].name : "(null)",
                     k_names[i].ok ? "valid" : "invalid");
        if (!k_names[i].ok) {
            char why[sizeof err.message];
            assert_string_equal(err.code, "InvalidName");
            assert_string_equal(err.target, "name");
            assert_int_equal(err.status, FP_ERR_INVALID);
            /* The registry answers in lib/model's words, which the runtime logs too. */
            assert_int_equal(fp_model_name_check(k_names[i].kind, k_names[i].name, why, sizeof why),
                             FP_ERR_INVALID);
            assert_string_equal(err.message, why);
        }
    }
    memset(&err, 0, sizeof err);
    assert_false(fp_model_name_valid(FP_KIND_DISCOVERED_DEVICE, "-plc", &err));
    assert_string_equal(
        err.message, "discovered device name \"-plc\" must start with a lowercase letter or digit");
    assert_true(fp_model_secret_name_valid("plc-c01", &err));
    assert_true(fp_model_secret_name_valid("a", &err));
    assert_true(fp_model_secret_name_valid("ca.plant3", &err));
    assert_false(fp_model_secret_name_valid("", &err));
    assert_false(fp_model_secret_name_valid("Plc", &err));
    assert_false(fp_model_secret_name_valid("plc-", &err));
    assert_false(fp_model_secret_name_valid("plc/key", &err));
    assert_string_equal(err.code, "InvalidName");
}

/* The OpenAPI document the registry serves (docs/openapi.json, embedded at build time). */
extern const unsigned char fp_openapi_json[];
extern const size_t fp_openapi_json_len;

static const char *str_or_empty(const json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : "";
}

/* docs/openapi.json restates each name rule as a path parameter's schema: every "{x}" that
 * follows a collection segment must carry lib/model's pattern and lengths for that kind. */
static void test_openapi_names(void **state)
{
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)fp_openapi_json, fp_openapi_json_len, 0, &jerr);
    const json_t *params = json_object_get(json_object_get(doc, "components"), "parameters");
    const char *path;
    json_t *item;
    int checked = 0;

    (void)state;
    if (!doc)
        fail_msg("docs/openapi.json: %s at %d:%d", jerr.text, jerr.line, jerr.column);
    json_object_foreach(json_object_get(doc, "paths"), path, item)
    {
        char segs[16][64], prev[64] = "";
        int n = 0;
        for (const char *p = path; *p && n < 16;) {
            size_t len = strcspn(++p, "/");
            snprintf(segs[n++], sizeof segs[0], "%.*s", (int)len, p);
            p += len;
        }
        for (int i = 0; i < n; snprintf(prev, sizeof prev, "%s", segs[i]), i++) {
            fp_kind kind = FP_KIND_COUNT;
            char want[64];
            size_t j;
            json_t *ref;
            const json_t *schema = NULL;
            const fp_name_rule *rule;

            if (segs[i][0] != '{')
                continue;
            if (!strcmp(prev, "secrets"))
                kind = FP_KIND_SECRET;
            else if (!fp_kind_parse(prev, &kind))
                fail_msg("%s: {%s} follows no collection", path, segs[i]);
            snprintf(want, sizeof want, "%.*s", (int)strlen(segs[i]) - 2, segs[i] + 1);
            json_array_foreach(json_object_get(item, "parameters"), j, ref)
            {
                const char *r = json_string_value(json_object_get(ref, "$ref"));
                const char *pname = r && strrchr(r, '/') ? strrchr(r, '/') + 1 : "";
                const json_t *param = json_object_get(params, pname);
                if (!strcmp(str_or_empty(json_object_get(param, "name")), want))
                    schema = json_object_get(param, "schema");
            }
            if (!schema)
                fail_msg("%s: no parameter describes {%s}", path, want);
            rule = fp_model_name_rule(kind);
            if (strcmp(str_or_empty(json_object_get(schema, "pattern")), rule->pattern))
                fail_msg("%s {%s}: pattern %s, lib/model says %s", path, want,
                         str_or_empty(json_object_get(schema, "pattern")), rule->pattern);
            if (json_object_get(schema, "minLength"))
                assert_int_equal(json_integer_value(json_object_get(schema, "minLength")),
                                 rule->min_len);
            if (json_object_get(schema, "maxLength"))
                assert_int_equal(json_integer_value(json_object_get(schema, "maxLength")),
                                 rule->max_len);
            checked++;
        }
    }
    assert_true(checked >= 20);
    json_decref(doc);
}

/* ---------------------------------------------------------------------------
 * Normalisation
 * ------------------------------------------------------------------------- */

static void test_legacy_events(void **state)
{
    json_t *doc = load_fixture("asset-legacy-events.json");
    const json_t *g;
    fp_verr err;

    (void)state;
    assert_int_equal(fp_model_normalize(FP_KIND_ASSET, doc, &err), FP_OK);
    assert_null(json_object_get(props_of(doc), "events"));
    assert_int_equal(json_array_size(json_object_get(props_of(doc), "eventGroups")), 1);
    g = at(doc, "properties.eventGroups.0");
    assert_string_equal(json_string_value(json_object_get(g, "name")), "doorOpened");
    assert_string_equal(json_string_value(json_object_get(g, "dataSource")), "ns=3;s=Press.Door");
    assert_string_equal(json_string_value(at(g, "events.0.name")), "doorOpened");
    assert_null(at(g, "events.0.eventNotifier"));
    assert_string_equal(json_string_value(at(g, "events.0.eventConfiguration")),
                        "{\"queueSize\":10}");
    assert_string_equal(json_string_value(at(g, "events.0.destinations.0.configuration.topic")),
                        "plant3/hall-c/press-01/door");
    assert_int_equal(fp_model_validate(FP_KIND_ASSET, doc, &err), FP_OK);
    json_decref(doc);

    /* appended after existing groups; a clash of names is then a DuplicateName */
    doc = load("{\"properties\":{\"deviceRef\":{\"deviceName\":\"d\",\"endpointName\":\"e\"},"
               "\"eventGroups\":[{\"name\":\"jam\"}],"
               "\"events\":[{\"name\":\"stop\",\"eventNotifier\":\"n\"},{\"name\":\"jam\"}]}}");
    assert_int_equal(fp_model_normalize(FP_KIND_ASSET, doc, &err), FP_OK);
    assert_int_equal(json_array_size(json_object_get(props_of(doc), "eventGroups")), 3);
    assert_null(at(doc, "properties.eventGroups.2.dataSource"));
    assert_int_equal(fp_model_validate(FP_KIND_ASSET, doc, &err), FP_ERR_INVALID);
    assert_string_equal(err.code, "DuplicateName");
    assert_string_equal(err.target, "properties.eventGroups[2].name");
    json_decref(doc);

    /* discovered assets of the 2025-10-01 API still have the flat shape */
    doc = load_fixture("discovered-asset-flat-events.json");
    assert_int_equal(fp_model_normalize(FP_KIND_DISCOVERED_ASSET, doc, &err), FP_OK);
    assert_string_equal(json_string_value(at(doc, "properties.eventGroups.1.name")), "stop");
    assert_string_equal(
        json_string_value(at(doc, "properties.eventGroups.0.events.0.lastUpdatedOn")),
        "2025-11-03T08:00:00Z");
    assert_int_equal(fp_model_validate(FP_KIND_DISCOVERED_ASSET, doc, &err), FP_OK);
    json_decref(doc);

    /* bad legacy shapes are reported at the path the client sent */
    {
        static const struct {
            const char *doc;
            const char *code;
            const char *target;
        } k_bad[] = {
            {"{\"properties\":{\"events\":{}}}", "InvalidField", "properties.events"},
            {"{\"properties\":{\"events\":[7]}}", "InvalidField", "properties.events[0]"},
            {"{\"properties\":{\"events\":[{\"name\":\"a\"},{\"eventNotifier\":\"x\"}]}}",
             "MissingField", "properties.events[1].name"},
            {"{\"properties\":{\"events\":[{\"name\":1}]}}", "InvalidField",
             "properties.events[0].name"},
            {"{\"properties\":{\"events\":[{\"name\":\"a\",\"eventNotifier\":1}]}}", "InvalidField",
             "properties.events[0].eventNotifier"},
            {"{\"properties\":{\"events\":[],\"eventGroups\":{}}}", "InvalidField",
             "properties.eventGroups"},
        };
        for (size_t i = 0; i < sizeof k_bad / sizeof k_bad[0]; i++) {
            doc = load(k_bad[i].doc);
            assert_int_equal(fp_model_normalize(FP_KIND_ASSET, doc, &err), FP_ERR_INVALID);
            assert_string_equal(err.code, k_bad[i].code);
            assert_string_equal(err.target, k_bad[i].target);
            json_decref(doc);
        }
    }
    /* devices have no events: the field is left alone */
    doc = load("{\"properties\":{\"events\":[1]}}");
    assert_int_equal(fp_model_normalize(FP_KIND_DEVICE, doc, &err), FP_OK);
    assert_non_null(json_object_get(props_of(doc), "events"));
    json_decref(doc);
}

static void test_defaults_and_server_fields(void **state)
{
    json_t *doc;
    fp_verr err;

    (void)state;
    doc = load(
        "{\"name\":\"a\",\"properties\":{\"uuid\":\"u\",\"version\":4,\"lastTransitionTime\":"
        "\"t\",\"provisioningState\":\"Succeeded\",\"status\":{},\"custom\":1,"
        "\"managementGroups\":[{\"name\":\"m\",\"actions\":[{\"name\":\"a\",\"targetUri\":\"x\"},"
        "{\"name\":\"b\",\"targetUri\":\"y\",\"actionType\":\"Write\"}]},"
        "{\"name\":\"n\",\"defaultTimeoutInSeconds\":5}, 7]}}");
    assert_int_equal(fp_model_normalize(FP_KIND_ASSET, doc, &err), FP_OK);
    assert_null(json_object_get(props_of(doc), "uuid"));
    assert_null(json_object_get(props_of(doc), "version"));
    assert_null(json_object_get(props_of(doc), "lastTransitionTime"));
    assert_null(json_object_get(props_of(doc), "provisioningState"));
    assert_null(json_object_get(props_of(doc), "status"));
    assert_int_equal(json_integer_value(json_object_get(props_of(doc), "custom")), 1);
    assert_true(json_is_true(json_object_get(props_of(doc), "enabled")));
    assert_string_equal(
        json_string_value(at(doc, "properties.managementGroups.0.actions.0.actionType")), "Call");
    assert_string_equal(
        json_string_value(at(doc, "properties.managementGroups.0.actions.1.actionType")), "Write");
    assert_int_equal(
        json_integer_value(at(doc, "properties.managementGroups.0.defaultTimeoutInSeconds")), 100);
    assert_int_equal(
        json_integer_value(at(doc, "properties.managementGroups.1.defaultTimeoutInSeconds")), 5);
    assert_string_equal(json_string_value(json_object_get(doc, "name")), "a");
    json_decref(doc);

    /* enabled false stays; null becomes the default */
    doc = load("{\"properties\":{\"enabled\":false}}");
    assert_int_equal(fp_model_normalize(FP_KIND_DEVICE, doc, &err), FP_OK);
    assert_true(json_is_false(json_object_get(props_of(doc), "enabled")));
    json_decref(doc);
    doc = load("{\"properties\":{\"enabled\":null}}");
    assert_int_equal(fp_model_normalize(FP_KIND_DEVICE, doc, &err), FP_OK);
    assert_true(json_is_true(json_object_get(props_of(doc), "enabled")));
    json_decref(doc);

    /* discovered resources keep their own version; no enabled default */
    doc = load("{\"properties\":{\"version\":9,\"uuid\":\"u\"}}");
    assert_int_equal(fp_model_normalize(FP_KIND_DISCOVERED_DEVICE, doc, &err), FP_OK);
    assert_int_equal(json_integer_value(json_object_get(props_of(doc), "version")), 9);
    assert_null(json_object_get(props_of(doc), "uuid"));
    assert_null(json_object_get(props_of(doc), "enabled"));
    json_decref(doc);

    /* schema versions: hash is the server's */
    doc = load("{\"properties\":{\"schemaContent\":\"{}\",\"hash\":\"abc\"}}");
    assert_int_equal(fp_model_normalize(FP_KIND_SCHEMA_VERSION, doc, &err), FP_OK);
    assert_null(json_object_get(props_of(doc), "hash"));
    json_decref(doc);

    /* properties absent: created; not an object: refused */
    doc = load("{}");
    assert_int_equal(fp_model_normalize(FP_KIND_NAMESPACE, doc, &err), FP_OK);
    assert_true(json_is_object(props_of(doc)));
    assert_int_equal(fp_model_validate(FP_KIND_NAMESPACE, doc, &err), FP_OK);
    json_decref(doc);
    doc = load("{\"properties\":[]}");
    assert_int_equal(fp_model_normalize(FP_KIND_NAMESPACE, doc, &err), FP_ERR_INVALID);
    assert_string_equal(err.target, "properties");
    json_decref(doc);
    doc = load("[1]");
    assert_int_equal(fp_model_normalize(FP_KIND_NAMESPACE, doc, &err), FP_ERR_INVALID);
    assert_string_equal(err.target, "");
    assert_int_equal(fp_model_validate(FP_KIND_NAMESPACE, doc, &err), FP_ERR_INVALID);
    json_decref(doc);
}

/* ---------------------------------------------------------------------------
 * Fixtures
 * ------------------------------------------------------------------------- */

static void test_fixtures_validate(void **state)
{
    static const struct {
        const char *file;
        fp_kind kind;
    } k_fixtures[] = {
        {"asset-press.json", FP_KIND_ASSET},
        {"asset-legacy-events.json", FP_KIND_ASSET},
        {"asset-exported.json", FP_KIND_ASSET},
        {"device-opcua-userpass.json", FP_KIND_DEVICE},
        {"device-x509.json", FP_KIND_DEVICE},
        {"discovered-device.json", FP_KIND_DISCOVERED_DEVICE},
        {"discovered-asset-flat-events.json", FP_KIND_DISCOVERED_ASSET},
        {"namespace.json", FP_KIND_NAMESPACE},
        {"schema.json", FP_KIND_SCHEMA},
        {"schema-version.json", FP_KIND_SCHEMA_VERSION},
    };
    fp_verr err;

    (void)state;
    for (size_t i = 0; i < sizeof k_fixtures / sizeof k_fixtures[0]; i++) {
        json_t *doc = load_fixture(k_fixtures[i].file);
        fp_status rc = fp_model_normalize(k_fixtures[i].kind, doc, &err);
        if (rc == FP_OK)
            rc = fp_model_validate(k_fixtures[i].kind, doc, &err);
        if (rc != FP_OK)
            fail_msg("%s: %s at %s: %s", k_fixtures[i].file, err.code, err.target, err.message);
        json_decref(doc);
    }
}

static void test_export_keeps_envelope(void **state)
{
    json_t *doc = load_fixture("asset-exported.json");
    fp_verr err;

    (void)state;
    assert_int_equal(fp_model_normalize(FP_KIND_ASSET, doc, &err), FP_OK);
    assert_non_null(json_object_get(doc, "id"));
    assert_non_null(json_object_get(doc, "etag"));
    assert_non_null(json_object_get(doc, "location"));
    assert_non_null(json_object_get(doc, "extendedLocation"));
    assert_non_null(json_object_get(doc, "systemData"));
    assert_non_null(json_object_get(props_of(doc), "futureProperty"));
    assert_null(json_object_get(props_of(doc), "status"));
    assert_null(json_object_get(props_of(doc), "version"));
    json_decref(doc);
}

/* ---------------------------------------------------------------------------
 * Create-only fields and spec changes
 * ------------------------------------------------------------------------- */

static void expect_create_only(fp_kind kind, const char *old_text, const char *new_text,
                               fp_status want, const char *target)
{
    json_t *old_doc = load(old_text), *new_doc = load(new_text);
    fp_verr err;

    memset(&err, 0, sizeof err);
    if (fp_model_check_create_only(kind, old_doc, new_doc, &err) != want)
        fail_msg("%s -> %s: expected %d, got %s at %s", old_text, new_text, (int)want, err.code,
                 err.target);
    if (want != FP_OK) {
        assert_string_equal(err.code, "CreateOnlyField");
        assert_string_equal(err.target, target);
        assert_non_null(strstr(err.message, target));
    }
    json_decref(old_doc);
    json_decref(new_doc);
}

static void test_create_only(void **state)
{
    (void)state;
    expect_create_only(FP_KIND_DEVICE, "{\"properties\":{\"externalDeviceId\":\"a\"}}",
                       "{\"properties\":{\"externalDeviceId\":\"a\",\"model\":\"m\"}}", FP_OK,
                       NULL);
    expect_create_only(FP_KIND_DEVICE, "{\"properties\":{\"externalDeviceId\":\"a\"}}",
                       "{\"properties\":{\"externalDeviceId\":\"b\"}}", FP_ERR_INVALID,
                       "properties.externalDeviceId");
    expect_create_only(FP_KIND_DEVICE, "{\"properties\":{\"externalDeviceId\":\"a\"}}",
                       "{\"properties\":{}}", FP_ERR_INVALID, "properties.externalDeviceId");
    expect_create_only(FP_KIND_DEVICE, "{\"properties\":{}}",
                       "{\"properties\":{\"discoveredDeviceRef\":\"d\"}}", FP_ERR_INVALID,
                       "properties.discoveredDeviceRef");
    expect_create_only(FP_KIND_DEVICE, "{\"properties\":{\"operatingSystem\":\"Linux\"}}",
                       "{\"properties\":{\"operatingSystem\":\"RTOS\"}}", FP_ERR_INVALID,
                       "properties.operatingSystem");
    expect_create_only(FP_KIND_DEVICE, "{\"properties\":{\"operatingSystemVersion\":\"1\"}}",
                       "{\"properties\":{\"operatingSystemVersion\":\"2\"}}", FP_OK, NULL);
    /* null and absent are the same */
    expect_create_only(FP_KIND_DEVICE, "{\"properties\":{\"externalDeviceId\":null}}",
                       "{\"properties\":{}}", FP_OK, NULL);
    expect_create_only(
        FP_KIND_ASSET,
        "{\"properties\":{\"deviceRef\":{\"deviceName\":\"a\",\"endpointName\":\"e\"}}}",
        "{\"properties\":{\"deviceRef\":{\"endpointName\":\"e\",\"deviceName\":\"a\"}}}", FP_OK,
        NULL);
    expect_create_only(
        FP_KIND_ASSET,
        "{\"properties\":{\"deviceRef\":{\"deviceName\":\"a\",\"endpointName\":\"e\"}}}",
        "{\"properties\":{\"deviceRef\":{\"deviceName\":\"a\",\"endpointName\":\"f\"}}}",
        FP_ERR_INVALID, "properties.deviceRef");
    expect_create_only(FP_KIND_ASSET, "{\"properties\":{\"externalAssetId\":\"x\"}}",
                       "{\"properties\":{\"externalAssetId\":\"y\"}}", FP_ERR_INVALID,
                       "properties.externalAssetId");
    expect_create_only(FP_KIND_ASSET, "{\"properties\":{\"discoveredAssetRefs\":[\"a\"]}}",
                       "{\"properties\":{\"discoveredAssetRefs\":[\"a\",\"b\"]}}", FP_ERR_INVALID,
                       "properties.discoveredAssetRefs");
    expect_create_only(FP_KIND_ASSET, "{\"properties\":{\"displayName\":\"a\"}}",
                       "{\"properties\":{\"displayName\":\"b\"}}", FP_OK, NULL);
    expect_create_only(FP_KIND_SCHEMA, "{\"properties\":{\"format\":\"Delta/1.0\"}}",
                       "{\"properties\":{\"format\":\"JsonSchema/draft-07\"}}", FP_ERR_INVALID,
                       "properties.format");
    expect_create_only(FP_KIND_SCHEMA, "{\"properties\":{\"schemaType\":\"MessageSchema\"}}",
                       "{\"properties\":{\"schemaType\":\"MessageSchema\",\"displayName\":\"x\"}}",
                       FP_OK, NULL);
    /* a schema version's content is the API's 409, not a CreateOnlyField */
    expect_create_only(FP_KIND_SCHEMA_VERSION, "{\"properties\":{\"schemaContent\":\"{}\"}}",
                       "{\"properties\":{\"schemaContent\":\"{ }\"}}", FP_OK, NULL);
    expect_create_only(FP_KIND_DISCOVERED_DEVICE, "{\"properties\":{\"externalDeviceId\":\"a\"}}",
                       "{\"properties\":{\"externalDeviceId\":\"b\"}}", FP_OK, NULL);
    expect_create_only(FP_KIND_NAMESPACE, "{}", "{\"properties\":{\"x\":1}}", FP_OK, NULL);
}

static bool changed(fp_kind kind, const char *a, const char *b)
{
    json_t *old_doc = load(a), *new_doc = load(b);
    bool r = fp_model_spec_changed(kind, old_doc, new_doc);

    json_decref(old_doc);
    json_decref(new_doc);
    return r;
}

static void test_spec_changed(void **state)
{
    (void)state;
    assert_false(
        changed(FP_KIND_ASSET, "{\"properties\":{\"a\":1}}", "{\"properties\":{\"a\":1}}"));
    assert_true(changed(FP_KIND_ASSET, "{\"properties\":{\"a\":1}}", "{\"properties\":{\"a\":2}}"));
    assert_true(changed(FP_KIND_ASSET, "{\"properties\":{\"a\":1}}", "{\"properties\":{}}"));
    assert_true(changed(FP_KIND_ASSET, "{\"properties\":{}}", "{\"properties\":{\"a\":1}}"));
    assert_false(changed(FP_KIND_ASSET, "{\"properties\":{\"a\":null}}", "{\"properties\":{}}"));
    /* key order does not matter */
    assert_false(changed(FP_KIND_ASSET, "{\"properties\":{\"a\":1,\"b\":{\"x\":1,\"y\":2}}}",
                         "{\"properties\":{\"b\":{\"y\":2,\"x\":1},\"a\":1}}"));
    /* array order does */
    assert_true(
        changed(FP_KIND_ASSET, "{\"properties\":{\"a\":[1,2]}}", "{\"properties\":{\"a\":[2,1]}}"));
    /* server-set fields and status are not spec */
    assert_false(
        changed(FP_KIND_ASSET,
                "{\"properties\":{\"a\":1,\"version\":3,\"uuid\":\"u\",\"status\":{\"x\":1},"
                "\"provisioningState\":\"Succeeded\",\"lastTransitionTime\":\"t\"}}",
                "{\"properties\":{\"a\":1,\"version\":4,\"status\":{\"x\":2}}}"));
    /* tags are spec; absent and empty are the same */
    assert_true(changed(FP_KIND_DEVICE, "{\"tags\":{\"a\":\"1\"},\"properties\":{}}",
                        "{\"tags\":{\"a\":\"2\"},\"properties\":{}}"));
    assert_false(changed(FP_KIND_DEVICE, "{\"tags\":{},\"properties\":{}}", "{\"properties\":{}}"));
    /* other envelope fields are not */
    assert_false(changed(FP_KIND_DEVICE, "{\"etag\":\"1\",\"systemData\":{},\"properties\":{}}",
                         "{\"etag\":\"2\",\"properties\":{}}"));
    /* a discovered resource's version is its own */
    assert_true(changed(FP_KIND_DISCOVERED_ASSET, "{\"properties\":{\"version\":1}}",
                        "{\"properties\":{\"version\":2}}"));
    assert_false(changed(FP_KIND_SCHEMA_VERSION,
                         "{\"properties\":{\"schemaContent\":\"x\",\"hash\":\"a\"}}",
                         "{\"properties\":{\"schemaContent\":\"x\"}}"));
    assert_false(changed(FP_KIND_NAMESPACE, "{}", "{\"properties\":{}}"));
}

/* ---------------------------------------------------------------------------
 * References and index values
 * ------------------------------------------------------------------------- */

typedef struct seen {
    int n;
    char lines[16][400];
    int stop_at; /* return an error on this call (1-based), 0: never */
} seen;

static fp_status record_ref(void *ctx, const fp_ref *ref, fp_verr *err)
{
    seen *s = ctx;

    if (s->n < 16)
        snprintf(s->lines[s->n], sizeof s->lines[0], "%s %s%s%s @ %s",
                 ref->type == FP_REF_SECRET ? "secret" : "device", ref->name,
                 ref->endpoint ? ":" : "", ref->endpoint ? ref->endpoint : "", ref->target);
    s->n++;
    if (s->n == s->stop_at)
        return fp_verr_set(err, FP_ERR_INVALID, "UnknownReference", ref->target, "%s is unknown.",
                           ref->target);
    return FP_OK;
}

static void test_refs(void **state)
{
    json_t *doc;
    seen s;
    fp_verr err;

    (void)state;
    memset(&s, 0, sizeof s);
    doc = load_fixture("asset-press.json");
    assert_int_equal(fp_model_each_ref(FP_KIND_ASSET, doc, record_ref, &s, &err), FP_OK);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.lines[0], "device plc-c01:plc @ properties.deviceRef");
    assert_string_equal(fp_model_device_ref(FP_KIND_ASSET, doc), "plc-c01");
    assert_null(fp_model_device_ref(FP_KIND_DEVICE, doc));
    json_decref(doc);

    memset(&s, 0, sizeof s);
    doc = load_fixture("device-opcua-userpass.json");
    assert_int_equal(fp_model_each_ref(FP_KIND_DEVICE, doc, record_ref, &s, &err), FP_OK);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.lines[0], "secret plc-c01 @ "
                                    "properties.endpoints.inbound.plc.authentication."
                                    "usernamePasswordCredentials.usernameSecretName");
    assert_string_equal(s.lines[1], "secret plc-c01 @ "
                                    "properties.endpoints.inbound.plc.authentication."
                                    "usernamePasswordCredentials.passwordSecretName");
    assert_string_equal(
        s.lines[2], "secret plant3-ca @ properties.endpoints.inbound.plc.trustSettings.trustList");
    json_decref(doc);

    memset(&s, 0, sizeof s);
    doc = load_fixture("device-x509.json");
    assert_int_equal(fp_model_each_ref(FP_KIND_DEVICE, doc, record_ref, &s, &err), FP_OK);
    assert_int_equal(s.n, 3);
    assert_string_equal(
        s.lines[0],
        "secret cam-a07-cert @ "
        "properties.endpoints.inbound.camera.authentication.x509Credentials.certificateSecretName");
    assert_string_equal(s.lines[1], "secret plant3-intermediates @ "
                                    "properties.endpoints.inbound.camera.authentication."
                                    "x509Credentials.intermediateCertificatesSecretName");
    assert_string_equal(
        s.lines[2],
        "secret cam-a07-cert @ "
        "properties.endpoints.inbound.camera.authentication.x509Credentials.keySecretName");
    /* the callback's error stops the walk and comes back */
    memset(&s, 0, sizeof s);
    s.stop_at = 2;
    assert_int_equal(fp_model_each_ref(FP_KIND_DEVICE, doc, record_ref, &s, &err), FP_ERR_INVALID);
    assert_int_equal(s.n, 2);
    assert_string_equal(err.code, "UnknownReference");
    json_decref(doc);

    /* no references: discovered assets, namespaces, a bare asset */
    memset(&s, 0, sizeof s);
    doc = load_fixture("discovered-asset-flat-events.json");
    assert_int_equal(fp_model_each_ref(FP_KIND_DISCOVERED_ASSET, doc, record_ref, &s, &err), FP_OK);
    assert_int_equal(s.n, 0);
    assert_string_equal(fp_model_device_ref(FP_KIND_DISCOVERED_ASSET, doc), "plc-d04");
    json_decref(doc);
    doc = load("{\"properties\":{}}");
    assert_int_equal(fp_model_each_ref(FP_KIND_ASSET, doc, record_ref, &s, &err), FP_OK);
    assert_int_equal(fp_model_each_ref(FP_KIND_DEVICE, doc, record_ref, &s, &err), FP_OK);
    assert_int_equal(s.n, 0);
    assert_null(fp_model_device_ref(FP_KIND_ASSET, doc));
    json_decref(doc);
}

static void test_endpoint_types(void **state)
{
    json_t *doc;
    char out[128];

    (void)state;
    doc = load_fixture("device-x509.json");
    assert_true(fp_model_endpoint_types(FP_KIND_DEVICE, doc, out, sizeof out));
    assert_string_equal(out, " microsoft.onvif microsoft.media ");
    assert_true(fp_model_endpoint_types(FP_KIND_ASSET, doc, out, sizeof out));
    assert_string_equal(out, "");
    assert_false(fp_model_endpoint_types(FP_KIND_DEVICE, doc, out, 20));
    assert_true(fp_model_endpoint_types(FP_KIND_DEVICE, doc, out, 34));
    assert_false(fp_model_endpoint_types(FP_KIND_DEVICE, doc, out, 33));
    json_decref(doc);
    doc = load_fixture("device-opcua-userpass.json");
    assert_true(fp_model_endpoint_types(FP_KIND_DEVICE, doc, out, sizeof out));
    assert_string_equal(out, " microsoft.opcua ");
    json_decref(doc);
    doc = load("{\"properties\":{}}");
    assert_true(fp_model_endpoint_types(FP_KIND_DEVICE, doc, out, sizeof out));
    assert_string_equal(out, "");
    json_decref(doc);
}

/* ---------------------------------------------------------------------------
 * JSON merge patch
 * ------------------------------------------------------------------------- */

static void test_merge_patch_rfc7396(void **state)
{
    /* RFC 7396 appendix A */
    static const char *const k_rows[][3] = {
        {"{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
        {"{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"},
        {"{\"a\":\"b\"}", "{\"a\":null}", "{}"},
        {"{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}"},
        {"{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
        {"{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}"},
        {"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}"},
        {"{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}"},
        {"[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]"},
        {"{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]"},
        {"{\"a\":\"foo\"}", "null", "null"},
        {"{\"a\":\"foo\"}", "\"bar\"", "\"bar\""},
        {"{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}"},
        {"[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}"},
        {"{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof k_rows / sizeof k_rows[0]; i++) {
        json_t *target = load(k_rows[i][0]);
        json_t *patch = load(k_rows[i][1]);
        json_t *want = load(k_rows[i][2]);
        json_t *got = fp_json_merge_patch(target, patch);

        assert_non_null(got);
        if (!json_equal(got, want)) {
            char *z = json_dumps(got, JSON_ENCODE_ANY);
            fail_msg("row %zu: %s + %s gave %s", i, k_rows[i][0], k_rows[i][1], z);
        }
        /* the patch is borrowed and left as it was */
        {
            json_t *again = load(k_rows[i][1]);
            assert_true(json_equal(patch, again));
            json_decref(again);
        }
        json_decref(got);
        json_decref(patch);
        json_decref(want);
    }
}

static void test_merge_patch_sharing(void **state)
{
    json_t *shared = load("{\"x\":{\"y\":1}}");
    json_t *target = load("{\"keep\":1,\"a\":{\"b\":1}}");
    json_t *patch = load("{\"a\":{\"b\":2},\"s\":{\"x\":{\"y\":2}},\"z\":3}");
    json_t *got;
    char *z;

    (void)state;
    /* a subtree shared with another document is copied, not changed */
    json_object_set(target, "s", shared);
    json_incref(target); /* and the caller keeps the whole target too */
    got = fp_json_merge_patch(target, patch);
    assert_non_null(got);
    assert_ptr_not_equal(got, target);
    assert_int_equal(json_integer_value(at(shared, "x.y")), 1);
    assert_int_equal(json_integer_value(at(target, "a.b")), 1);
    assert_int_equal(json_integer_value(at(got, "s.x.y")), 2);
    assert_int_equal(json_integer_value(at(got, "a.b")), 2);
    /* keys keep their place, new ones come last */
    z = json_dumps(got, JSON_COMPACT);
    assert_string_equal(z, "{\"keep\":1,\"a\":{\"b\":2},\"s\":{\"x\":{\"y\":2}},\"z\":3}");
    free(z);
    json_decref(got);
    json_decref(target);
    json_decref(shared);
    json_decref(patch);

    /* a target no one else holds is changed in place */
    target = load("{\"a\":{\"b\":1}}");
    patch = load("{\"a\":{\"c\":2}}");
    got = fp_json_merge_patch(target, patch);
    assert_ptr_equal(got, target);
    json_decref(got);
    json_decref(patch);

    /* NULL target is "no document" */
    patch = load("{\"a\":{\"b\":null,\"c\":1}}");
    got = fp_json_merge_patch(NULL, patch);
    z = json_dumps(got, JSON_COMPACT);
    assert_string_equal(z, "{\"a\":{\"c\":1}}");
    free(z);
    json_decref(got);
    json_decref(patch);
}

/* ---------------------------------------------------------------------------
 * Cost of one write
 * ------------------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Normalise and validate a 10-data-point asset; prints the time per asset.
 * Asserts only a generous bound, since sanitizer builds are much slower. */
static void test_validation_cost(void **state)
{
    json_t *doc = load_fixture("asset-press.json");
    json_t *points = json_array();
    const int n_run = 20000;
    double t0, t1, t_parse, t_norm;
    char *text;
    fp_verr err;

    (void)state;
    for (int i = 0; i < 10; i++) {
        char name[16], src[48];
        snprintf(name, sizeof name, "point%d", i);
        snprintf(src, sizeof src, "ns=3;s=Press.Point%d", i);
        json_array_append_new(points, json_pack("{s:s, s:s, s:s}", "name", name, "dataSource", src,
                                                "dataPointConfiguration",
                                                "{\"samplingInterval\":100,\"queueSize\":5}"));
    }
    json_object_set_new(json_array_get(json_object_get(props_of(doc), "datasets"), 0), "dataPoints",
                        points);
    text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);

    t0 = now_s();
    for (int i = 0; i < n_run; i++) {
        json_t *d = json_loads(text, 0, NULL);
        json_decref(d);
    }
    t_parse = (now_s() - t0) / n_run;

    t0 = now_s();
    for (int i = 0; i < n_run; i++) {
        json_t *d = json_loads(text, 0, NULL);
        if (fp_model_normalize(FP_KIND_ASSET, d, &err) != FP_OK)
            fail_msg("%s at %s", err.code, err.target);
        json_decref(d);
    }
    t_norm = (now_s() - t0) / n_run - t_parse;
    if (t_norm < 0) /* below the noise of the two loops */
        t_norm = 0;

    doc = json_loads(text, 0, NULL);
    assert_int_equal(fp_model_normalize(FP_KIND_ASSET, doc, &err), FP_OK);
    t0 = now_s();
    for (int i = 0; i < n_run; i++) {
        if (fp_model_validate(FP_KIND_ASSET, doc, &err) != FP_OK)
            fail_msg("%s at %s", err.code, err.target);
    }
    t1 = now_s();
    print_message("10-point asset (%zu bytes), CPU time each: validate %.2f us, normalize %.2f us, "
                  "jansson parse %.2f us\n",
                  strlen(text), (t1 - t0) / n_run * 1e6, t_norm * 1e6, t_parse * 1e6);
    assert_true((t1 - t0) / n_run < 500e-6);
    json_decref(doc);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_openapi_names),
        cmocka_unit_test(test_legacy_events),
        cmocka_unit_test(test_defaults_and_server_fields),
        cmocka_unit_test(test_fixtures_validate),
        cmocka_unit_test(test_export_keeps_envelope),
        cmocka_unit_test(test_create_only),
        cmocka_unit_test(test_spec_changed),
        cmocka_unit_test(test_refs),
        cmocka_unit_test(test_endpoint_types),
        cmocka_unit_test(test_merge_patch_rfc7396),
        cmocka_unit_test(test_merge_patch_sharing),
        cmocka_unit_test(test_validation_cost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
