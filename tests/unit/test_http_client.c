/*
 * test_http_client.c - URL joining, status texts and the authentication decision of the
 * curl setup shared by the HTTP and SSE connectors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fp_alloc.h"
#include "http_client.h"

static void expect_join(const char *base, const char *path, const char *want)
{
    char *got = fp_httpc_join(base, path);
    assert_non_null(got);
    assert_string_equal(got, want);
    fp_free(got);
}

static void test_join(void **state)
{
    expect_join("http://d:80", "api/v1", "http://d:80/api/v1");
    expect_join("http://d:80/", "/api/v1", "http://d:80/api/v1");
    expect_join("http://d:80//", "//api", "http://d:80/api");
    expect_join("http://d:80/base", "x?y=1", "http://d:80/base/x?y=1");
    expect_join("http://d:80/", "", "http://d:80/");
    expect_join("http://d:80", "/", "http://d:80");
}

static void test_reason(void **state)
{
    assert_string_equal(fp_httpc_reason(503), "Service Unavailable");
    assert_string_equal(fp_httpc_reason(404), "Not Found");
    assert_string_equal(fp_httpc_reason(599), "");
}

static fp_endpoint endpoint(fp_auth_method auth, const char *user, const char *pass)
{
    fp_endpoint ep = {.address = "http://127.0.0.1:1/", .auth = auth};
    ep.username = user;
    ep.password = pass;
    return ep;
}

static fp_httpc_cfg *cfg_of(const fp_endpoint *ep, const char *mode, char *err)
{
    return fp_httpc_cfg_new(ep, mode, 1000, 500, err, 256);
}

static void test_auth_anonymous(void **state)
{
    char err[256];
    fp_endpoint ep = endpoint(FP_AUTH_ANONYMOUS, NULL, NULL);
    fp_httpc_cfg *c = cfg_of(&ep, NULL, err);
    assert_non_null(c);
    assert_int_equal(c->auth, FP_HTTPC_AUTH_NONE);
    assert_int_equal(c->timeout_ms, 1000);
    assert_string_equal(c->address, ep.address);
    fp_httpc_cfg_unref(c);
    assert_null(cfg_of(&ep, "bearer", err));
    assert_non_null(strstr(err, "needs the authentication method UsernamePassword"));
}

static void test_auth_basic(void **state)
{
    char err[256];
    fp_endpoint ep = endpoint(FP_AUTH_USERNAME_PASSWORD, "u", "p");
    fp_httpc_cfg *c = cfg_of(&ep, "auto", err);
    assert_non_null(c);
    assert_int_equal(c->auth, FP_HTTPC_AUTH_BASIC);
    assert_string_equal(c->username, "u");
    assert_string_equal(c->password, "p");
    assert_null(c->bearer_header);
    fp_httpc_cfg_unref(c);
    c = cfg_of(&ep, "Basic", err);
    assert_non_null(c);
    assert_int_equal(c->auth, FP_HTTPC_AUTH_BASIC);
    fp_httpc_cfg_unref(c);
}

static void test_auth_bearer(void **state)
{
    char err[256];
    fp_endpoint ep = endpoint(FP_AUTH_USERNAME_PASSWORD, "u", "tok");
    fp_httpc_cfg *c = cfg_of(&ep, "bearer", err);
    assert_non_null(c);
    assert_int_equal(c->auth, FP_HTTPC_AUTH_BEARER);
    assert_string_equal(c->bearer_header, "Authorization: Bearer tok");
    fp_httpc_cfg_unref(c);
    /* No username, only a password: bearer without asking. */
    ep = endpoint(FP_AUTH_USERNAME_PASSWORD, "", "tok");
    c = cfg_of(&ep, NULL, err);
    assert_non_null(c);
    assert_int_equal(c->auth, FP_HTTPC_AUTH_BEARER);
    fp_httpc_cfg_unref(c);
    ep = endpoint(FP_AUTH_USERNAME_PASSWORD, NULL, "tok");
    c = cfg_of(&ep, NULL, err);
    assert_non_null(c);
    assert_int_equal(c->auth, FP_HTTPC_AUTH_BEARER);
    fp_httpc_cfg_unref(c);
    ep = endpoint(FP_AUTH_USERNAME_PASSWORD, "u", "");
    assert_null(cfg_of(&ep, "bearer", err));
    assert_non_null(strstr(err, "password secret, which is empty"));
    ep = endpoint(FP_AUTH_USERNAME_PASSWORD, NULL, NULL);
    assert_null(cfg_of(&ep, NULL, err));
    assert_non_null(strstr(err, "not set"));
    ep = endpoint(FP_AUTH_USERNAME_PASSWORD, NULL, "a\r\nX-Evil: 1");
    assert_null(cfg_of(&ep, NULL, err));
    assert_non_null(strstr(err, "line break"));
}

static void test_bad_config(void **state)
{
    char err[256];
    fp_endpoint ep = endpoint(FP_AUTH_ANONYMOUS, NULL, NULL);
    assert_null(cfg_of(&ep, "digest", err));
    assert_non_null(strstr(err, "expected \"auto\", \"basic\" or \"bearer\", found \"digest\""));
    ep.address = "ftp://x/";
    assert_null(cfg_of(&ep, NULL, err));
    assert_non_null(strstr(err, "expected an http:// or https:// URL"));
    ep = endpoint(FP_AUTH_CERTIFICATE, NULL, NULL);
    ep.cert_pem = "-----BEGIN CERTIFICATE-----\n";
    assert_null(cfg_of(&ep, NULL, err));
    assert_non_null(strstr(err, "the key secret is not set"));
}

static void test_certificate_and_trust(void **state)
{
    char err[256];
    fp_endpoint ep = endpoint(FP_AUTH_CERTIFICATE, NULL, NULL);
    fp_httpc_cfg *c;
    struct curl_slist *h = NULL;
    CURL *curl;

    ep.cert_pem = "CERT";
    ep.key_pem = "KEY\n";
    ep.intermediate_pem = "INTER\n";
    ep.trust_list_pem = "CA\n";
    c = cfg_of(&ep, NULL, err);
    assert_non_null(c);
    assert_string_equal(c->cert_pem, "CERT\nINTER\n");
    assert_string_equal(c->key_pem, "KEY\n");
    assert_string_equal(c->ca_pem, "CA\n");
    curl = curl_easy_init();
    assert_non_null(curl);
    assert_int_equal(fp_httpc_apply(curl, c, NULL, &h, err, sizeof err), FP_OK);
    assert_null(h);
    curl_easy_cleanup(curl);
    fp_httpc_cfg_unref(c);
}

static void test_apply_headers_and_slot(void **state)
{
    char err[256];
    fp_endpoint ep = endpoint(FP_AUTH_USERNAME_PASSWORD, NULL, "tok");
    const char *extra[] = {"Accept: text/event-stream", NULL};
    struct curl_slist *h = NULL;
    fp_httpc_slot slot;
    fp_httpc_cfg *c = cfg_of(&ep, NULL, err), *got;
    CURL *curl = curl_easy_init();

    assert_int_equal(fp_httpc_apply(curl, c, extra, &h, err, sizeof err), FP_OK);
    assert_non_null(h);
    assert_string_equal(h->data, "Authorization: Bearer tok");
    assert_string_equal(h->next->data, "Accept: text/event-stream");
    assert_null(h->next->next);
    curl_slist_free_all(h);
    curl_easy_cleanup(curl);

    fp_httpc_slot_init(&slot);
    assert_null(fp_httpc_slot_get(&slot));
    fp_httpc_slot_set(&slot, c);
    got = fp_httpc_slot_get(&slot);
    assert_ptr_equal(got, c);
    fp_httpc_slot_set(&slot, NULL); /* the slot's reference goes; ours keeps it alive */
    assert_string_equal(got->bearer_header, "Authorization: Bearer tok");
    fp_httpc_cfg_unref(got);
    fp_httpc_slot_clear(&slot);
}

static void test_write_buf_limit(void **state)
{
    fp_buf b;
    char chunk[10] = "0123456789";
    fp_buf_init(&b, 15);
    assert_int_equal(fp_httpc_write_buf(chunk, 1, 10, &b), 10);
    assert_int_equal(fp_httpc_write_buf(chunk, 1, 10, &b), 0);
    assert_int_equal(b.err, FP_ERR_TOO_LARGE);
    fp_buf_clear(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join),
        cmocka_unit_test(test_reason),
        cmocka_unit_test(test_auth_anonymous),
        cmocka_unit_test(test_auth_basic),
        cmocka_unit_test(test_auth_bearer),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_certificate_and_trust),
        cmocka_unit_test(test_apply_headers_and_slot),
        cmocka_unit_test(test_write_buf_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
