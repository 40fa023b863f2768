/*
 * test_cli_out.c - table output, output of documents in each format, and the
 * client's config file (path from XDG_CONFIG_HOME or HOME, mode 0600,
 * environment overrides).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "client.h"
#include "fp_alloc.h"

/* Everything written to f, as a new string. */
static char *slurp(FILE *f)
{
    long n;
    char *s;

    fflush(f);
    n = ftell(f);
    rewind(f);
    s = calloc(1, (size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n)
        fail_msg("short read");
    return s;
}

static const fp_col cols[] = {
    {"NAME", "name", FP_COL_VALUE},          {"N", "properties.list", FP_COL_COUNT},
    {"KEYS", "properties.map", FP_COL_KEYS}, {"ITEMS", "properties.list", FP_COL_NAMES},
    {"ON", "properties.on", FP_COL_VALUE},   {NULL},
};

static void test_table(void **state)
{
    json_t *rows = json_loads(
        "[{\"name\": \"a\", \"properties\": {\"list\": [{\"name\": \"x\"}, {\"name\": \"y\"}],"
        " \"map\": {\"k1\": 1, \"k2\": 2}, \"on\": true}},"
        " {\"name\": \"long-name\", \"properties\": {}}]",
        0, NULL);
    FILE *f = tmpfile();
    char *s;
    (void)state;

    fp_print_table(f, rows, cols);
    s = slurp(f);
    assert_string_equal(s, "NAME       N  KEYS   ITEMS  ON\n"
                           "a          2  k1,k2  x,y    true\n"
                           "long-name  0  -      -      -\n");
    free(s);
    fclose(f);
    json_decref(rows);
}

static void test_print_formats(void **state)
{
    json_t *doc =
        json_pack("{s:s,s:{s:b,s:s}}", "name", "a", "properties", "enabled", 1, "on", "yes");
    fp_ctx ctx;
    char *s;
    (void)state;

    memset(&ctx, 0, sizeof ctx);
    ctx.out = tmpfile();
    ctx.output = FP_OUT_JSON;
    fp_print(&ctx, doc, cols);
    s = slurp(ctx.out);
    assert_string_equal(s, "{\n  \"name\": \"a\",\n  \"properties\": {\n    \"enabled\": true,\n   "
                           " \"on\": \"yes\"\n  }\n}\n");
    free(s);
    fclose(ctx.out);

    ctx.out = tmpfile();
    ctx.output = FP_OUT_YAML;
    fp_print(&ctx, doc, cols);
    s = slurp(ctx.out);
    assert_string_equal(s, "name: a\nproperties:\n  enabled: true\n  \"on\": \"yes\"\n");
    free(s);
    fclose(ctx.out);
    json_decref(doc);
}

static void test_config(void **state)
{
    char dir[] = "/tmp/fp-cli-test-XXXXXX", path[4096], xdg[4200];
    fp_client_config cfg;
    struct stat st;
    char err[256];
    (void)state;

    assert_non_null(mkdtemp(dir));
    unsetenv("XDG_CONFIG_HOME");
    unsetenv("FIELDPLANE_URL");
    unsetenv("FIELDPLANE_TOKEN");
    setenv("HOME", dir, 1);
    assert_true(fp_config_path(path, sizeof path));
    snprintf(xdg, sizeof xdg, "%s/.config/fieldplane/config", dir);
    assert_string_equal(path, xdg);

    fp_config_load(&cfg);
    assert_string_equal(cfg.url, "http://127.0.0.1:8080");
    assert_string_equal(cfg.token, "");

    snprintf(cfg.url, sizeof cfg.url, "http://10.0.0.1:9000");
    snprintf(cfg.token, sizeof cfg.token, "fp_secret");
    assert_int_equal(fp_config_save(&cfg, err, sizeof err), FP_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    memset(&cfg, 0, sizeof cfg);
    fp_config_load(&cfg);
    assert_string_equal(cfg.url, "http://10.0.0.1:9000");
    assert_string_equal(cfg.token, "fp_secret");

    setenv("FIELDPLANE_URL", "http://127.0.0.2:1", 1);
    setenv("FIELDPLANE_TOKEN", "fp_env", 1);
    fp_config_load(&cfg);
    assert_string_equal(cfg.url, "http://127.0.0.2:1");
    assert_string_equal(cfg.token, "fp_env");
    unsetenv("FIELDPLANE_URL");
    unsetenv("FIELDPLANE_TOKEN");

    /* XDG_CONFIG_HOME wins over HOME. */
    snprintf(xdg, sizeof xdg, "%s/xdg", dir);
    setenv("XDG_CONFIG_HOME", xdg, 1);
    assert_true(fp_config_path(path, sizeof path));
    assert_non_null(strstr(path, "/xdg/fieldplane/config"));
    assert_int_equal(fp_config_save(&cfg, err, sizeof err), FP_OK);
    assert_int_equal(stat(path, &st), 0);
    unsetenv("XDG_CONFIG_HOME");

    char cmd[4400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_exit_codes(void **state)
{
    (void)state;
    assert_int_equal(fp_exit_for_http(200), FP_EXIT_OK);
    assert_int_equal(fp_exit_for_http(204), FP_EXIT_OK);
    assert_int_equal(fp_exit_for_http(400), FP_EXIT_INVALID);
    assert_int_equal(fp_exit_for_http(413), FP_EXIT_INVALID);
    assert_int_equal(fp_exit_for_http(401), FP_EXIT_UNAUTHORIZED);
    assert_int_equal(fp_exit_for_http(403), FP_EXIT_UNAUTHORIZED);
    assert_int_equal(fp_exit_for_http(404), FP_EXIT_NOT_FOUND);
    assert_int_equal(fp_exit_for_http(409), FP_EXIT_CONFLICT);
    assert_int_equal(fp_exit_for_http(412), FP_EXIT_CONFLICT);
    assert_int_equal(fp_exit_for_http(0), FP_EXIT_UNREACHABLE);
    assert_int_equal(fp_exit_for_http(500), FP_EXIT_ERROR);
}

static void test_api_path(void **state)
{
    char *p;
    (void)state;

    p = fp_api_path("plant a", "devices", "x/y", "/status");
    assert_string_equal(p, "/api/v1/namespaces/plant%20a/devices/x%2Fy/status");
    fp_free(p);
    p = fp_api_path(NULL, NULL, NULL, NULL);
    assert_string_equal(p, "/api/v1/namespaces");
    fp_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),    cmocka_unit_test(test_print_formats),
        cmocka_unit_test(test_config),   cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_api_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
