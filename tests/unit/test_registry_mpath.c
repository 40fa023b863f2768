/*
 * test_registry_mpath.c - the paths that error targets name ("properties.datasets[2].name"):
 * a key that is not a plain identifier is quoted by the tree's one JSON string escaper, and
 * a path cut to fit its buffer never ends inside a UTF-8 character.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "fp_json.h"
/* Internal header of the registry, not on its public include path. */
#include "../../registry/model_internal.h"

static void test_plain_and_indexed(void **state)
{
    fp_mpath p;
    char out[128];
    (void)state;

    fp_mpath_init(&p);
    fp_mpath_push_key(&p, "properties");
    fp_mpath_push_key(&p, "datasets");
    fp_mpath_push_idx(&p, 2);
    fp_mpath_render(&p, "name", out, sizeof out);
    assert_string_equal(out, "properties.datasets[2].name");
}

static void test_quoted_keys(void **state)
{
    fp_mpath p;
    char out[128];
    (void)state;

    fp_mpath_init(&p);
    fp_mpath_push_key(&p, "labels");
    fp_mpath_render(&p, "a.b \"c\" \\d", out, sizeof out);
    assert_string_equal(out, "labels[\"a.b \\\"c\\\" \\\\d\"]");
    /* Control characters escaped, a byte that is not UTF-8 replaced: valid JSON text. */
    fp_mpath_render(&p, "tab\there\x01, bad \xff", out, sizeof out);
    assert_string_equal(out, "labels[\"tab\\there\\u0001, bad \xEF\xBF\xBD\"]");
    fp_mpath_render(&p,
                    "Gr\xC3\xBC\xC3\x9F"
                    "e",
                    out, sizeof out);
    assert_string_equal(out, "labels[\"Gr\xC3\xBC\xC3\x9F"
                             "e\"]");
}

/* Cut inside a two-byte character, the path stops before it. */
static void test_cut_between_characters(void **state)
{
    fp_mpath p;
    char out[13]; /* labels[" (8 bytes), 4 bytes of room for the key, the NUL */
    (void)state;

    fp_mpath_init(&p);
    fp_mpath_push_key(&p, "labels");
    fp_mpath_render(&p, "G \xC3\xBC\xC3\xBC", out, sizeof out);
    assert_string_equal(out, "labels[\"G \xC3\xBC");
    fp_mpath_render(&p, "G  \xC3\xBC\xC3\xBC", out, sizeof out);
    /* Not half of the next character, and no closing quote after a cut key. */
    assert_string_equal(out, "labels[\"G  ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_indexed),
        cmocka_unit_test(test_quoted_keys),
        cmocka_unit_test(test_cut_between_characters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
