/*
 * test_cli_alloc.c - the client's parsers under allocation failure: every
 * allocation of the CSV reader, the flag parser and the path builder is made
 * to fail in turn; each must report the failure and free what it took (the
 * sanitizer build checks the freeing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "client.h"
#include "fp_alloc.h"

static void test_csv_alloc_failures(void **state)
{
    const char *text = "name,dataSource\nt1,\"a,b\"\nt2,\"x\"\"y\"\n\nt3,z\n";
    char err[128];
    fp_csv csv;
    int failed = 0;
    (void)state;

    for (long n = 0; n < 200; n++) {
        fp_alloc_fail_after(n);
        fp_status st = fp_csv_parse(&csv, text, strlen(text), err, sizeof err);
        fp_alloc_fail_after(-1);
        if (st == FP_OK) {
            assert_int_equal(csv.n_row, 4);
            fp_csv_clear(&csv);
            break;
        }
        assert_int_equal(st, FP_ERR_NOMEM);
        assert_int_equal(csv.n_row, 0);
        failed++;
    }
    assert_true(failed > 5);
}

static const fp_flag a_flags[] = {
    {"name", 'n', FP_FLAG_STR, FP_F_POSITIONAL, "name", NULL, "name"},
    {"attr", 0, FP_FLAG_KV, 0, "a", NULL, "attr"},
    {"dest", 0, FP_FLAG_DEST, 0, "d", NULL, "dest"},
    {NULL},
};

static int noop(fp_ctx *ctx)
{
    (void)ctx;
    return 0;
}

static const fp_cli_cmd a_cmd = {"t", "T", NULL, a_flags, NULL, noop, NULL, NULL, FP_OP_NONE, NULL};

static void test_parse_alloc_failures(void **state)
{
    const char *argv[] = {"x",      "--attr",  "a=1",   "--attr", "b=2",
                          "--dest", "topic=t", "qos=1", "-o",     "json"};
    int ok = 0;
    (void)state;

    for (long n = 0; n < 200 && !ok; n++) {
        fp_ctx ctx;
        memset(&ctx, 0, sizeof ctx);
        ctx.out = ctx.err = tmpfile();
        fp_alloc_fail_after(n);
        int rc = fp_cli_parse(&ctx, &a_cmd, 10, (char **)argv);
        fp_alloc_fail_after(-1);
        if (rc == FP_EXIT_OK) {
            assert_int_equal(fp_arg_count(&ctx, "attr"), 2);
            ok = 1;
        } else {
            assert_int_not_equal(rc, FP_EXIT_OK);
        }
        fclose(ctx.out);
        fp_ctx_clear(&ctx);
    }
    assert_true(ok);

    for (long n = 0; n < 50; n++) {
        fp_alloc_fail_after(n);
        char *p = fp_api_path("ns", "assets", "a b", "/status");
        fp_alloc_fail_after(-1);
        if (p) {
            assert_string_equal(p, "/api/v1/namespaces/ns/assets/a%20b/status");
            fp_free(p);
            break;
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_alloc_failures),
        cmocka_unit_test(test_parse_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
