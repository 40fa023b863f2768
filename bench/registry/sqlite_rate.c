/*
 * sqlite_rate.c - the raw SQLite peer of the registry benchmark.
 *
 * It commits one-row transactions as fast as one thread can, in a fresh
 * database in WAL mode with synchronous=NORMAL (the registry's settings), each
 * row a ~2 KB asset document in a WITHOUT ROWID table keyed by (kind, ns,
 * name). That is the floor under the registry's create rate: what is left of
 * the time per create above it is the API layer (HTTP, JSON, validation,
 * the change log).
 *
 * With --shape registry each transaction instead writes what a registry create
 * writes: the resource row with its revisions and deviceRef (and the partial
 * index on it) plus a row in the change log holding the document again.
 *
 * Usage: bench_sqlite_rate --db PATH [--rows N] [--shape row|registry]
 */
#include "bench.h"

#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char k_schema_row[] =
    "CREATE TABLE resources(kind INTEGER NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,"
    " doc TEXT NOT NULL, PRIMARY KEY(kind, ns, name)) WITHOUT ROWID;";
static const char k_insert_row[] = "INSERT INTO resources(kind, ns, name, doc) VALUES(?1,?2,?3,?4)";

static const char k_schema_registry[] =
    "CREATE TABLE resources(kind INTEGER NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,"
    " doc TEXT NOT NULL, mod_rev INTEGER NOT NULL, spec_rev INTEGER NOT NULL,"
    " device_ref TEXT, endpoint_types TEXT, PRIMARY KEY(kind, ns, name)) WITHOUT ROWID;"
    "CREATE INDEX resources_device_ref ON resources(kind, ns, device_ref)"
    " WHERE device_ref IS NOT NULL;"
    "CREATE TABLE changes(rev INTEGER PRIMARY KEY, type INTEGER NOT NULL, kind INTEGER NOT NULL,"
    " ns TEXT NOT NULL, name TEXT NOT NULL, doc TEXT, time TEXT NOT NULL, token_id TEXT,"
    " action TEXT NOT NULL);";
static const char k_insert_registry[] =
    "INSERT INTO resources(kind, ns, name, doc, mod_rev, spec_rev, device_ref) "
    "VALUES(?1,?2,?3,?4,?5,?5,?6)";
static const char k_insert_change[] =
    "INSERT INTO changes(rev, type, kind, ns, name, doc, time, token_id, action) "
    "VALUES(?1,1,?2,?3,?4,?5,'2026-11-26T12:00:00.000Z','04347bfcc271bf12','create')";

static int check(sqlite3 *db, int rc, const char *what)
{
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "bench: %s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
    return rc;
}

static void step(sqlite3 *db, sqlite3_stmt *s, const char *what)
{
    check(db, sqlite3_step(s), what);
    sqlite3_reset(s);
}

int main(int argc, char **argv)
{
    static const struct option k_opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"rows", required_argument, NULL, 'r'},
        {"shape", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL, *shape = "row";
    long n_rows = 100000;
    sqlite3 *db;
    sqlite3_stmt *begin, *commit, *ins, *chg = NULL;
    fp_buf doc;
    char name[32], device[32], wal[1100];
    double t0, t1, cpu0, cpu1, wq0, wq1, doc_bytes = 0;
    bool registry_shape;
    int c;

    while ((c = getopt_long(argc, argv, "", k_opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            path = optarg;
            break;
        case 'r':
            n_rows = atol(optarg);
            break;
        case 's':
            shape = optarg;
            break;
        default:
            path = NULL;
            n_rows = 0;
            break;
        }
    }
    registry_shape = strcmp(shape, "registry") == 0;
    if (!path || n_rows < 1 || (!registry_shape && strcmp(shape, "row") != 0)) {
        fprintf(stderr, "Usage: bench_sqlite_rate --db PATH [--rows N] [--shape row|registry]\n");
        return 2;
    }
    unlink(path);
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(wal);
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        fprintf(stderr, "bench: cannot open %s\n", path);
        return 1;
    }
    check(db, sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL), "WAL");
    check(db, sqlite3_exec(db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL), "synchronous");
    check(db, sqlite3_exec(db, "PRAGMA cache_size=-16000", NULL, NULL, NULL), "cache_size");
    check(db, sqlite3_exec(db, registry_shape ? k_schema_registry : k_schema_row, NULL, NULL, NULL),
          "schema");
    check(db, sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, NULL), "prepare");
    check(db, sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL), "prepare");
    check(db,
          sqlite3_prepare_v2(db, registry_shape ? k_insert_registry : k_insert_row, -1, &ins, NULL),
          "prepare");
    if (registry_shape)
        check(db, sqlite3_prepare_v2(db, k_insert_change, -1, &chg, NULL), "prepare");

    fp_buf_init(&doc, 1 << 20);
    t0 = fp_mono_s();
    cpu0 = bench_self_cpu();
    wq0 = bench_proc_runq_wait(0);
    for (long i = 0; i < n_rows; i++) {
        fp_buf_reset(&doc);
        bench_asset_doc(&doc, i, 100);
        doc_bytes += (double)doc.len;
        bench_asset_name(name, sizeof name, i);
        step(db, begin, "BEGIN");
        sqlite3_bind_int(ins, 1, 2);
        sqlite3_bind_text(ins, 2, "bench", -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 4, doc.data, (int)doc.len, SQLITE_STATIC);
        if (registry_shape) {
            bench_device_name(device, sizeof device, i % 100);
            sqlite3_bind_int64(ins, 5, i + 1);
            sqlite3_bind_text(ins, 6, device, -1, SQLITE_STATIC);
            sqlite3_bind_int64(chg, 1, i + 1);
            sqlite3_bind_int(chg, 2, 2);
            sqlite3_bind_text(chg, 3, "bench", -1, SQLITE_STATIC);
            sqlite3_bind_text(chg, 4, name, -1, SQLITE_STATIC);
            sqlite3_bind_text(chg, 5, doc.data, (int)doc.len, SQLITE_STATIC);
        }
        step(db, ins, "INSERT");
        if (registry_shape)
            step(db, chg, "INSERT change");
        step(db, commit, "COMMIT");
    }
    t1 = fp_mono_s();
    cpu1 = bench_self_cpu();
    wq1 = bench_proc_runq_wait(0);
    printf("sqlite_%s_rows %ld\n", shape, n_rows);
    printf("sqlite_%s_doc_bytes_mean %.0f\n", shape, doc_bytes / (double)n_rows);
    printf("sqlite_%s_seconds %.3f\n", shape, t1 - t0);
    printf("sqlite_%s_commits_per_s %.0f\n", shape, (double)n_rows / (t1 - t0));
    printf("sqlite_%s_cpu_share %.3f\n", shape, (cpu1 - cpu0) / (t1 - t0));
    printf("sqlite_%s_runq_wait_share %.3f\n", shape, (wq1 - wq0) / (t1 - t0));
    printf("sqlite_version %s\n", sqlite3_libversion());
    sqlite3_finalize(begin);
    sqlite3_finalize(commit);
    sqlite3_finalize(ins);
    sqlite3_finalize(chg);
    sqlite3_close(db);
    fp_buf_clear(&doc);
    return 0;
}
