/*
 * test_registry_store.c - the SQLite store: transactions and revisions,
 * paging and filters, change history and compaction, secrets and tokens,
 * and reopening a file (what a restart sees).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"

static char g_path[256];

static int setup(void **state)
{
    snprintf(g_path, sizeof g_path, "/tmp/fp-store-test-%d.db", (int)getpid());
    unlink(g_path);
    return 0;
}

static int teardown(void **state)
{
    char p[300];
    unlink(g_path);
    snprintf(p, sizeof p, "%s-wal", g_path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", g_path);
    unlink(p);
    return 0;
}

static fp_store *open_store(int64_t history)
{
    fp_store_opts o = {.history = history};
    fp_store *st = NULL;
    char err[256];
    assert_int_equal(fp_store_open(g_path, &o, &st, err, sizeof err), FP_OK);
    return st;
}

/* Put one asset named name with device_ref dev in a transaction; returns its revision. */
static int64_t put_one(fp_store *st, const char *name, const char *dev)
{
    fp_change_meta meta = {.token_id = "t1", .action = "create", .type = FP_CHANGE_ADDED};
    char doc[128];
    fp_rec rec = {.kind = FP_KIND_ASSET, .ns = "ns-1", .name = (char *)name, .doc = doc};
    int64_t rev;

    snprintf(doc, sizeof doc, "{\"name\":\"%s\"}", name);
    rec.doc_len = strlen(doc);
    assert_int_equal(fp_store_begin(st), FP_OK);
    rev = fp_store_next_revision(st);
    rec.mod_rev = rec.spec_rev = rev;
    fp_index ix = {.device_ref = dev};
    assert_int_equal(fp_store_put(st, &rec, &ix, &meta), FP_OK);
    assert_int_equal(fp_store_commit(st), FP_OK);
    return rev;
}

static void test_put_get_and_revisions(void **state)
{
    fp_store *st = open_store(0);
    fp_rec rec;

    assert_int_equal(fp_store_revision(st), 0);
    assert_int_equal(put_one(st, "a-1", "dev-1"), 1);
    assert_int_equal(put_one(st, "a-2", "dev-2"), 2);
    assert_int_equal(fp_store_revision(st), 2);
    assert_int_equal(fp_store_get(st, FP_KIND_ASSET, "ns-1", "a-1", &rec), FP_OK);
    assert_string_equal(rec.doc, "{\"name\":\"a-1\"}");
    assert_int_equal(rec.mod_rev, 1);
    fp_rec_clear(&rec);
    assert_int_equal(fp_store_get(st, FP_KIND_ASSET, "ns-1", "zz", &rec), FP_ERR_NOT_FOUND);
    assert_int_equal(fp_store_get(st, FP_KIND_DEVICE, "ns-1", "a-1", &rec), FP_ERR_NOT_FOUND);
    fp_store_close(st);

    /* What a restart sees: the same revision and data. */
    st = open_store(0);
    assert_int_equal(fp_store_revision(st), 2);
    assert_int_equal(fp_store_get(st, FP_KIND_ASSET, "ns-1", "a-2", &rec), FP_OK);
    fp_rec_clear(&rec);
    fp_store_close(st);
}

static void test_rollback_changes_nothing(void **state)
{
    fp_store *st = open_store(0);
    fp_change_meta meta = {.token_id = "t1", .action = "create", .type = FP_CHANGE_ADDED};
    fp_rec rec = {.kind = FP_KIND_ASSET, .ns = "ns-1", .name = "gone", .doc = "{}", .doc_len = 2};
    fp_rec out;

    assert_int_equal(fp_store_begin(st), FP_OK);
    rec.mod_rev = rec.spec_rev = fp_store_next_revision(st);
    assert_int_equal(fp_store_put(st, &rec, NULL, &meta), FP_OK);
    fp_store_rollback(st);
    assert_int_equal(fp_store_revision(st), 0);
    assert_int_equal(fp_store_get(st, FP_KIND_ASSET, "ns-1", "gone", &out), FP_ERR_NOT_FOUND);
    /* The next revision is 1 again: no gap from the rolled-back one. */
    assert_int_equal(put_one(st, "kept", NULL), 1);
    fp_store_close(st);
}

typedef struct names {
    char v[64][32];
    int n;
} names;

static bool collect(void *ctx, const fp_rec *rec)
{
    names *ns = ctx;
    snprintf(ns->v[ns->n++], sizeof ns->v[0], "%s", rec->name);
    return ns->n < 64;
}

static void test_list_paging_and_filters(void **state)
{
    fp_store *st = open_store(0);
    char name[32];
    names got = {0};

    for (int i = 0; i < 12; i++) {
        snprintf(name, sizeof name, "%s-%02d", i % 3 ? "pump" : "oven", i);
        put_one(st, name, i % 2 ? "dev-odd" : "dev-even");
    }
    {
        fp_list_query q = {.kind = FP_KIND_ASSET, .ns = "ns-1", .limit = 5};
        assert_int_equal(fp_store_list(st, &q, collect, &got), FP_OK);
        assert_int_equal(got.n, 5);
        assert_string_equal(got.v[0], "oven-00");
        q.after = "pump-07";
        got.n = 0;
        fp_store_list(st, &q, collect, &got);
        assert_int_equal(got.n, 3); /* pump-08, pump-10, pump-11 */
        assert_string_equal(got.v[0], "pump-08");
    }
    {
        fp_list_query q = {.kind = FP_KIND_ASSET, .ns = "ns-1", .prefix = "oven", .limit = 100};
        got.n = 0;
        fp_store_list(st, &q, collect, &got);
        assert_int_equal(got.n, 4);
    }
    {
        fp_list_query q = {
            .kind = FP_KIND_ASSET, .ns = "ns-1", .device_ref = "dev-odd", .limit = 100};
        got.n = 0;
        fp_store_list(st, &q, collect, &got);
        assert_int_equal(got.n, 6);
    }
    {
        fp_list_query q = {.kind = FP_KIND_ASSET, .ns = "other", .limit = 100};
        got.n = 0;
        fp_store_list(st, &q, collect, &got);
        assert_int_equal(got.n, 0);
    }
    fp_store_close(st);
}

typedef struct seen {
    int64_t revs[2048];
    int n, n_nodoc;
} seen;

static bool collect_change(void *ctx, const fp_change *ch)
{
    seen *s = ctx;
    s->revs[s->n++] = ch->rev;
    if (!ch->doc)
        s->n_nodoc++;
    return s->n < 2048;
}

static void test_changes_and_compaction(void **state)
{
    fp_store *st = open_store(10);
    seen s = {0};
    fp_rec rec;

    put_one(st, "early", NULL); /* revision 1, never changed again */
    for (int i = 0; i < 1029; i++)
        put_one(st, "same", NULL);
    assert_int_equal(fp_store_changes(st, 1020, 100, collect_change, &s), FP_OK);
    assert_int_equal(s.n, 10);
    assert_int_equal(s.revs[0], 1021);
    assert_int_equal(s.n_nodoc, 0);
    /* Compaction ran at revision 1024 and kept the last 10 documents. */
    assert_int_equal(fp_store_oldest_resumable(st), 1014);
    memset(&s, 0, sizeof s);
    fp_store_changes(st, 1, 5, collect_change, &s);
    assert_int_equal(s.n_nodoc, 5);
    /* ... and the current document of every resource, however old. */
    assert_int_equal(fp_store_get(st, FP_KIND_ASSET, "ns-1", "early", &rec), FP_OK);
    assert_string_equal(rec.doc, "{\"name\":\"early\"}");
    fp_rec_clear(&rec);
    fp_store_close(st);
    st = open_store(10);
    assert_int_equal(fp_store_oldest_resumable(st), 1014);
    assert_int_equal(fp_store_revision(st), 1030);
    /* The wait returns at once when the revision is already past. */
    assert_int_equal(fp_store_wait(st, 10, 1000), 1030);
    assert_int_equal(fp_store_wait(st, 1030, 10), 1030);
    fp_store_close(st);
}

static void test_tokens(void **state)
{
    fp_store *st = open_store(0);
    char text[128], bad[128];
    fp_token tok, chk;

    assert_int_equal(fp_store_token_create(st, "viewer", "ns-1", "test", text, sizeof text, &tok),
                     FP_OK);
    assert_int_equal(strlen(text), 4 + 16 + 1 + 48);
    assert_int_equal(fp_store_token_check(st, text, &chk), FP_OK);
    assert_string_equal(chk.role, "viewer");
    assert_string_equal(chk.ns, "ns-1");
    snprintf(bad, sizeof bad, "%s", text);
    bad[30] = bad[30] == 'a' ? 'b' : 'a';
    assert_int_equal(fp_store_token_check(st, bad, &chk), FP_ERR_UNAUTHORIZED);
    assert_int_equal(fp_store_token_check(st, "fpt_short", &chk), FP_ERR_UNAUTHORIZED);
    assert_int_equal(fp_store_token_check(st, "", &chk), FP_ERR_UNAUTHORIZED);
    assert_int_equal(fp_store_token_revoke(st, tok.id), FP_OK);
    assert_int_equal(fp_store_token_check(st, text, &chk), FP_ERR_UNAUTHORIZED);
    assert_int_equal(fp_store_token_revoke(st, "0000000000000000"), FP_ERR_NOT_FOUND);
    fp_store_close(st);
}

static void test_secrets(void **state)
{
    fp_store *st = open_store(0);
    char *data = NULL, *created = NULL;

    assert_int_equal(fp_store_begin(st), FP_OK);
    assert_int_equal(fp_store_secret_put(st, "ns-1", "s-1", "{\"k\":\"v\"}", "2026-01-01"), FP_OK);
    assert_int_equal(fp_store_commit(st), FP_OK);
    assert_true(fp_store_secret_exists(st, "ns-1", "s-1"));
    assert_false(fp_store_secret_exists(st, "ns-2", "s-1"));
    assert_int_equal(fp_store_secret_get(st, "ns-1", "s-1", &data, &created, NULL), FP_OK);
    assert_string_equal(data, "{\"k\":\"v\"}");
    assert_string_equal(created, "2026-01-01");
    free(data);
    free(created);
    assert_int_equal(fp_store_begin(st), FP_OK);
    assert_int_equal(fp_store_secret_delete(st, "ns-1", "s-1"), FP_OK);
    assert_int_equal(fp_store_secret_delete(st, "ns-1", "s-1"), FP_ERR_NOT_FOUND);
    assert_int_equal(fp_store_commit(st), FP_OK);
    fp_store_close(st);
}

static void test_open_errors(void **state)
{
    fp_store *st = (fp_store *)1;
    char err[256] = "";
    assert_int_equal(fp_store_open("/nonexistent-dir/x/registry.db", NULL, &st, err, sizeof err),
                     FP_ERR_IO);
    assert_null(st);
    assert_non_null(strstr(err, "/nonexistent-dir/x/registry.db"));
}

/* A database as schema version 1 left it, with one device and one asset. */
static void write_v1_database(void)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(g_path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(
            db,
            "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
            "CREATE TABLE resources(kind INTEGER NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,"
            " doc TEXT NOT NULL, mod_rev INTEGER NOT NULL, spec_rev INTEGER NOT NULL,"
            " device_ref TEXT, endpoint_types TEXT, PRIMARY KEY(kind, ns, name)) WITHOUT ROWID;"
            "CREATE INDEX resources_device_ref ON resources(kind, ns, device_ref)"
            " WHERE device_ref IS NOT NULL;"
            "CREATE TABLE changes(rev INTEGER PRIMARY KEY, type INTEGER NOT NULL, kind INTEGER "
            "NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL, doc TEXT, time TEXT NOT NULL, "
            "token_id TEXT, action TEXT NOT NULL);"
            "CREATE TABLE secrets(ns TEXT NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL,"
            " created TEXT NOT NULL, modified TEXT NOT NULL, PRIMARY KEY(ns, name)) WITHOUT ROWID;"
            "CREATE TABLE tokens(id TEXT PRIMARY KEY, hash TEXT NOT NULL, role TEXT NOT NULL,"
            " ns TEXT NOT NULL DEFAULT '', created TEXT NOT NULL, description TEXT NOT NULL "
            "DEFAULT '', revoked INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
            "INSERT INTO meta VALUES('schema_version', 1);"
            "INSERT INTO resources VALUES(1, 'ns-1', 'plc', '{\"properties\":{\"endpoints\":"
            "{\"inbound\":{\"opc\":{},\"web\":{}}}}}', 1, 1, NULL, ' microsoft.opcua ');"
            "INSERT INTO resources VALUES(2, 'ns-1', 'oven', '{}', 2, 2, 'plc', NULL);"
            "INSERT INTO changes VALUES(1, 1, 1, 'ns-1', 'plc', '{}', 't', 'x', 'create');"
            "INSERT INTO changes VALUES(2, 1, 2, 'ns-1', 'oven', '{}', 't', 'x', 'create');",
            NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
}

static void test_migration_from_v1(void **state)
{
    fp_store *st;
    names got = {0};
    fp_list_query q = {.kind = FP_KIND_ASSET, .ns = "ns-1", .device_ref = "plc", .limit = 10};

    write_v1_database();
    st = open_store(0);
    assert_int_equal(fp_store_revision(st), 2);
    {
        /* The current documents moved into their change rows (schema 3). */
        fp_rec rec;
        assert_int_equal(fp_store_get(st, FP_KIND_DEVICE, "ns-1", "plc", &rec), FP_OK);
        assert_non_null(strstr(rec.doc, "inbound"));
        fp_rec_clear(&rec);
    }
    assert_int_equal(fp_store_device_endpoint(st, "ns-1", "plc", "opc"), FP_OK);
    assert_int_equal(fp_store_device_endpoint(st, "ns-1", "plc", "web"), FP_OK);
    assert_int_equal(fp_store_device_endpoint(st, "ns-1", "plc", "op"), FP_ERR_INVALID);
    assert_int_equal(fp_store_device_endpoint(st, "ns-1", "ghost", "opc"), FP_ERR_NOT_FOUND);
    fp_store_list(st, &q, collect, &got);
    assert_int_equal(got.n, 1);
    assert_string_equal(got.v[0], "oven");
    /* New writes work on the migrated table. */
    assert_int_equal(put_one(st, "pump", "plc"), 3);
    fp_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_and_revisions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_paging_and_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changes_and_compaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secrets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_from_v1, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
