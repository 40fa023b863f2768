/*
 * test_common_sha256.c - fp_sha256 gives the FIPS 180-4 / NIST example digests, whole and
 * fed in pieces of every size around the 64-byte block and the 56-byte padding edge.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "fp_sha256.h"

static void check(const char *msg, size_t n, const char *want)
{
    char hex[65];
    fp_sha256_hex(msg, n, hex);
    assert_string_equal(hex, want);
}

static void test_vectors(void **state)
{
    (void)state;
    check("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    check("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    check("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklm"
          "nopqrlmnopqrsmnopqrstnopqrstu",
          112, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void test_million_a(void **state)
{
    size_t n = 1000000;
    char *m = malloc(n);
    (void)state;
    assert_non_null(m);
    memset(m, 'a', n);
    check(m, n, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

    /* The same message through update() in uneven pieces. */
    fp_sha256_ctx c;
    unsigned char md[32], md2[32];
    size_t off = 0, step = 1;
    fp_sha256_init(&c);
    while (off < n) {
        size_t take = step < n - off ? step : n - off;
        fp_sha256_update(&c, m + off, take);
        off += take;
        step = step * 7 % 131 + 1;
    }
    fp_sha256_final(&c, md);
    fp_sha256(m, n, md2);
    assert_memory_equal(md, md2, 32);
    free(m);
}

/* Lengths 0..200 hashed whole equal the same data fed one byte at a time: the
 * padding branch (55, 56, 63, 64 bytes in the last block) is covered both ways. */
static void test_split_equals_whole(void **state)
{
    unsigned char data[200];
    (void)state;
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 31 + 7);
    for (size_t n = 0; n <= sizeof data; n++) {
        fp_sha256_ctx c;
        unsigned char a[32], b[32];
        fp_sha256(data, n, a);
        fp_sha256_init(&c);
        for (size_t i = 0; i < n; i++)
            fp_sha256_update(&c, data + i, 1);
        fp_sha256_final(&c, b);
        assert_memory_equal(a, b, 32);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_million_a),
        cmocka_unit_test(test_split_equals_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
