/*
 * test_cli_docs.c - docs/cli.md and contrib/completion/fieldplane.bash are
 * generated from the command tables; this test fails when either is stale.
 * Run with FP_UPDATE_DOCS=1 to rewrite them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client.h"
#include "fp_alloc.h"

/* The checkout's root, from this file's path (CMake compiles it by absolute path). */
static void source_root(char *out, size_t len)
{
    const char *self = __FILE__;
    const char *tail = strstr(self, "tests/unit/test_cli_docs.c");

    if (!tail || self[0] != '/')
        fail_msg("cannot find the checkout from %s", self);
    snprintf(out, len, "%.*s", (int)(tail - self), self);
}

static void check_file(const char *rel, fp_buf *want)
{
    char root[4096], path[4400];
    size_t len;
    char *have;

    source_root(root, sizeof root);
    snprintf(path, sizeof path, "%s%s", root, rel);
    if (getenv("FP_UPDATE_DOCS")) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fwrite(want->data, 1, want->len, f);
        fclose(f);
        return;
    }
    have = fp_read_file(path, &len);
    if (!have)
        fail_msg("%s is missing: run FP_UPDATE_DOCS=1 %s", path, "tests/test_cli_docs");
    bool stale = len != want->len || memcmp(have, want->data, len);
    fp_free(have);
    if (stale) {
        fp_buf_clear(want);
        fail_msg("%s is stale: run FP_UPDATE_DOCS=1 build/dev/tests/test_cli_docs", path);
    }
}

static void test_cli_md(void **state)
{
    fp_buf b;
    (void)state;

    fp_buf_init(&b, 8u << 20);
    assert_int_equal(fp_cli_docs(&b), FP_OK);
    /* Every leaf command has its usage and example in the page. */
    assert_non_null(strstr(b.data, "`fieldplane device endpoint inbound add opcua`"));
    assert_non_null(strstr(b.data, "`fieldplane asset datapoint import`"));
    assert_non_null(strstr(b.data, "| 6 | the server could not be reached |"));
    check_file("docs/cli.md", &b);
    fp_buf_clear(&b);
}

static void test_completion(void **state)
{
    fp_buf b;
    (void)state;

    fp_buf_init(&b, 8u << 20);
    assert_int_equal(fp_cli_bash_completion(&b), FP_OK);
    assert_non_null(strstr(b.data, "\"asset datapoint import\")"));
    check_file("contrib/completion/fieldplane.bash", &b);
    fp_buf_clear(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_md),
        cmocka_unit_test(test_completion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
