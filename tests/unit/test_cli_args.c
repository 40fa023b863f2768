/*
 * test_cli_args.c - the client command parser: flag types, required and
 * positional flags, unknown flags, create-only flags on update commands, and
 * turning flags into document fields (targets, JSON-string fields, destinations).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client.h"

static const fp_flag t_flags[] = {
    {"name", 'n', FP_FLAG_STR, FP_F_REQUIRED | FP_F_POSITIONAL, "name", NULL, "name"},
    {"count", 0, FP_FLAG_INT, 0, "properties.count", NULL, "count"},
    {"on", 0, FP_FLAG_BOOL, 0, "properties.on", NULL, "on"},
    {"off", 0, FP_FLAG_BOOL, FP_F_NEGATE | FP_F_CREATE_ONLY, "properties.enabled", NULL, "off"},
    {"attr", 0, FP_FLAG_KV, 0, "properties.attributes", NULL, "attr"},
    {"ref", 0, FP_FLAG_LIST, 0, "properties.refs", NULL, "ref"},
    {"config", 0, FP_FLAG_JSON, 0, "properties.cfg", NULL, "cfg"},
    {"interval", 0, FP_FLAG_INT, 0, "properties.cfg#a.interval", NULL, "interval"},
    {"dest", 0, FP_FLAG_DEST, 0, "properties.destinations", NULL, "dest"},
    {"en", 0, FP_FLAG_TF, 0, "properties.en", NULL, "en"},
    {NULL},
};

static int run_noop(fp_ctx *ctx)
{
    (void)ctx;
    return 0;
}

static const fp_cli_cmd t_add = {"add",    "Add", NULL, t_flags,   NULL,
                                 run_noop, NULL,  NULL, FP_OP_ADD, NULL};
static const fp_cli_cmd t_update = {"update", "Update", NULL, t_flags,      NULL,
                                    run_noop, NULL,     NULL, FP_OP_UPDATE, NULL};

/* Parse argv (NULL-terminated) for cmd; errors go to a scratch stream. */
static int parse(fp_ctx *ctx, const fp_cli_cmd *cmd, const char **argv)
{
    int argc = 0;

    while (argv[argc])
        argc++;
    memset(ctx, 0, sizeof *ctx);
    ctx->out = tmpfile();
    ctx->err = tmpfile();
    snprintf(ctx->path, sizeof ctx->path, "test %s", cmd->name);
    return fp_cli_parse(ctx, cmd, argc, (char **)argv);
}

static void done(fp_ctx *ctx)
{
    fclose(ctx->out);
    fclose(ctx->err);
    fp_ctx_clear(ctx);
}

static void test_flags_to_document(void **state)
{
    const char *argv[] = {
        "pump-1",   "--count",    "5",     "--on",        "--attr",
        "a=1",      "--attr",     "b=x=y", "--ref",       "r1",
        "--ref=r2", "--interval", "250",   "--config",    "{\"a\": {\"q\": 1}, \"b\": 2}",
        "--dest",   "topic=t/1",  "qos=1", "retain=Keep", "ttl=60",
        "--dest",   "key=k",      "--en",  "false",       "-o",
        "yaml",     NULL};
    fp_ctx ctx;
    json_t *doc = json_object();
    (void)state;

    assert_int_equal(parse(&ctx, &t_add, argv), FP_EXIT_OK);
    assert_int_equal(ctx.output, FP_OUT_YAML);
    assert_string_equal(fp_arg_str(&ctx, "name"), "pump-1");
    assert_int_equal(fp_arg_count(&ctx, "attr"), 2);
    assert_int_equal(fp_apply_flags(&ctx, doc), FP_EXIT_OK);
    assert_string_equal(fp_json_str(doc, "name"), "pump-1");
    assert_int_equal(json_integer_value(fp_json_get(doc, "properties.count")), 5);
    assert_true(json_is_true(fp_json_get(doc, "properties.on")));
    assert_true(json_is_false(fp_json_get(doc, "properties.en")));
    assert_string_equal(fp_json_str(doc, "properties.attributes.b"), "x=y");
    assert_int_equal(json_array_size(fp_json_get(doc, "properties.refs")), 2);
    /* The JSON-string field keeps the given keys and gets the typed one. */
    json_t *cfg = json_loads(fp_json_str(doc, "properties.cfg"), 0, NULL);
    assert_non_null(cfg);
    assert_int_equal(json_integer_value(fp_json_get(cfg, "a.interval")), 250);
    assert_int_equal(json_integer_value(fp_json_get(cfg, "a.q")), 1);
    assert_int_equal(json_integer_value(fp_json_get(cfg, "b")), 2);
    json_decref(cfg);
    json_t *dests = fp_json_get(doc, "properties.destinations");
    assert_int_equal(json_array_size(dests), 2);
    assert_string_equal(fp_json_str(json_array_get(dests, 0), "target"), "Mqtt");
    assert_string_equal(fp_json_str(json_array_get(dests, 0), "configuration.qos"), "Qos1");
    assert_string_equal(fp_json_str(json_array_get(dests, 0), "configuration.retain"), "Keep");
    assert_int_equal(json_integer_value(fp_json_get(json_array_get(dests, 0), "configuration.ttl")),
                     60);
    assert_string_equal(fp_json_str(json_array_get(dests, 1), "target"), "BrokerStateStore");
    json_decref(doc);
    done(&ctx);
}

static void test_usage_errors(void **state)
{
    const char *unknown[] = {"x", "--bogus", "1", NULL};
    const char *missing[] = {"--count", "1", NULL};
    const char *bad_int[] = {"x", "--count", "ten", NULL};
    const char *bad_kv[] = {"x", "--attr", "novalue", NULL};
    const char *bad_json[] = {"x", "--config", "{", NULL};
    const char *bad_dest[] = {"x", "--dest", "qos=1", NULL};
    const char *bad_out[] = {"x", "-o", "xml", NULL};
    const char *no_value[] = {"x", "--count", NULL};
    const char *extra[] = {"x", "y", NULL};
    const char *create_only[] = {"x", "--off", NULL};
    fp_ctx ctx;
    (void)state;

    assert_int_equal(parse(&ctx, &t_add, unknown), FP_EXIT_USAGE);
    done(&ctx);
    assert_int_equal(parse(&ctx, &t_add, missing), FP_EXIT_USAGE);
    done(&ctx);
    assert_int_equal(parse(&ctx, &t_add, bad_int), FP_EXIT_USAGE);
    done(&ctx);
    assert_int_equal(parse(&ctx, &t_add, bad_kv), FP_EXIT_USAGE);
    done(&ctx);
    assert_int_equal(parse(&ctx, &t_add, bad_json), FP_EXIT_USAGE);
    done(&ctx);
    assert_int_equal(parse(&ctx, &t_add, bad_dest), FP_EXIT_USAGE);
    done(&ctx);
    assert_int_equal(parse(&ctx, &t_add, bad_out), FP_EXIT_USAGE);
    done(&ctx);
    assert_int_equal(parse(&ctx, &t_add, no_value), FP_EXIT_USAGE);
    done(&ctx);
    assert_int_equal(parse(&ctx, &t_add, extra), FP_EXIT_USAGE);
    done(&ctx);
    /* Create-only flags exist on add, not on update. */
    assert_int_equal(parse(&ctx, &t_add, create_only), FP_EXIT_OK);
    done(&ctx);
    assert_int_equal(parse(&ctx, &t_update, create_only), FP_EXIT_USAGE);
    done(&ctx);
}

static void test_dest_parse(void **state)
{
    char err[256];
    json_t *d;
    (void)state;

    d = fp_dest_parse("path=/data/x", err, sizeof err);
    assert_non_null(d);
    assert_string_equal(fp_json_str(d, "target"), "Storage");
    assert_string_equal(fp_json_str(d, "configuration.path"), "/data/x");
    json_decref(d);
    d = fp_dest_parse("topic=a,qos=Qos0,retain=Never", err, sizeof err);
    assert_non_null(d);
    assert_string_equal(fp_json_str(d, "configuration.retain"), "Never");
    json_decref(d);
    assert_null(fp_dest_parse("topic=a qos=2", err, sizeof err));
    assert_non_null(strstr(err, "qos"));
    assert_null(fp_dest_parse("key=k ttl=5", err, sizeof err));
    assert_null(fp_dest_parse("color=red", err, sizeof err));
    assert_null(fp_dest_parse("", err, sizeof err));
}

static void test_tree_is_consistent(void **state)
{
    /* Every leaf has a summary and an example; flag names are unique per command. */
    const fp_cli_cmd *stack[64];
    int depth = 0;
    (void)state;

    for (int g = 0; fp_client_groups[g]; g++)
        stack[depth++] = fp_client_groups[g];
    while (depth) {
        const fp_cli_cmd *c = stack[--depth];
        assert_non_null(c->summary);
        if (c->run) {
            assert_non_null(c->example);
            const fp_flag *tables[3] = {c->flags, c->more_flags, fp_global_flags};
            for (int a = 0; a < 3; a++)
                for (const fp_flag *f = tables[a]; f && f->name; f++)
                    for (int b = a; b < 3; b++)
                        for (const fp_flag *g2 = tables[b]; g2 && g2->name; g2++) {
                            if (g2 == f || (b == a && g2 < f))
                                continue;
                            if (!strcmp(f->name, g2->name))
                                fail_msg("%s: flag --%s twice", c->name, f->name);
                        }
        }
        for (const fp_cli_cmd *k = c->children; k && k->name; k++) {
            assert_true(depth < 64);
            stack[depth++] = k;
        }
    }
}

static void test_json_paths(void **state)
{
    json_t *doc = json_object();
    char err[128];
    (void)state;

    assert_int_equal(fp_json_set(doc, "a.b.c", json_string("x"), err, sizeof err), 0);
    assert_string_equal(fp_json_str(doc, "a.b.c"), "x");
    assert_null(fp_json_get(doc, "a.x.c"));
    /* A '#' path into a field that holds something other than a JSON object fails. */
    json_object_set_new(doc, "cfg", json_string("[1]"));
    assert_int_not_equal(fp_json_set(doc, "cfg#k", json_integer(1), err, sizeof err), 0);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flags_to_document), cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_dest_parse),        cmocka_unit_test(test_tree_is_consistent),
        cmocka_unit_test(test_json_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
