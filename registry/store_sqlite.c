/*
 * store_sqlite.c - the SQLite backend of store.h.
 *
 * One database file in the data directory, in WAL mode. A single connection is
 * shared by all threads behind the store's mutex: the registry's requests are
 * short, and one connection with prepared statements is faster than a pool for
 * SQLite. With synchronous=NORMAL a committed transaction survives a crash of
 * the process (kill -9); sync_full adds an fsync per commit for power loss.
 *
 * Schema migrations are numbered steps run in order inside one transaction;
 * meta.schema_version records the last one applied.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fp_alloc.h"
#include "fp_cond.h"
#include "fp_log.h"
#include "fp_time.h"

enum {
    STMT_GET,
    STMT_PUT,
    STMT_DEL,
    STMT_CHANGE,
    STMT_CHANGES,
    STMT_SECRET_PUT,
    STMT_SECRET_DEL,
    STMT_SECRET_GET,
    STMT_TOKEN_GET,
    STMT_COMPACT,
    STMT_COMPACTED,
    STMT_ENDPOINT,
    STMT_EXISTS,
    STMT_COUNT
};

static const char *const k_stmt_sql[STMT_COUNT] = {
    /* A resource's document is the one recorded with its last change (schema 3). */
    [STMT_GET] = "SELECT c.doc, r.mod_rev, r.spec_rev FROM resources r JOIN changes c ON "
                 "c.rev = r.mod_rev WHERE r.kind=?1 AND r.ns=?2 AND r.name=?3",
    [STMT_PUT] = "INSERT INTO resources(kind, ns, name, mod_rev, spec_rev, device_ref, "
                 "endpoint_types, endpoint_names) VALUES(?1,?2,?3,?5,?6,?7,?8,?9) "
                 "ON CONFLICT(kind, ns, name) DO UPDATE SET "
                 "mod_rev=excluded.mod_rev, spec_rev=excluded.spec_rev, "
                 "device_ref=excluded.device_ref, endpoint_types=excluded.endpoint_types, "
                 "endpoint_names=excluded.endpoint_names",
    [STMT_EXISTS] = "SELECT 1 FROM resources WHERE kind=?1 AND ns=?2 AND name=?3",
    [STMT_ENDPOINT] = "SELECT endpoint_names FROM resources WHERE kind=?1 AND ns=?2 AND name=?3",
    [STMT_DEL] = "DELETE FROM resources WHERE kind=?1 AND ns=?2 AND name=?3",
    [STMT_CHANGE] = "INSERT INTO changes(rev, type, kind, ns, name, doc, time, token_id, action) "
                    "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)",
    [STMT_CHANGES] = "SELECT rev, type, kind, ns, name, doc, time, token_id, action FROM changes "
                     "WHERE rev > ?1 ORDER BY rev LIMIT ?2",
    [STMT_SECRET_PUT] = "INSERT INTO secrets(ns, name, data, created, modified) "
                        "VALUES(?1,?2,?3,?4,?4) ON CONFLICT(ns, name) DO UPDATE SET "
                        "data=excluded.data, modified=excluded.modified",
    [STMT_SECRET_DEL] = "DELETE FROM secrets WHERE ns=?1 AND name=?2",
    [STMT_SECRET_GET] = "SELECT data, created, modified FROM secrets WHERE ns=?1 AND name=?2",
    [STMT_TOKEN_GET] =
        "SELECT hash, role, ns, created, description, revoked, expires FROM tokens WHERE id=?1",
    /* Compaction keeps the documents that are some resource's current one. */
    [STMT_COMPACT] = "UPDATE changes SET doc=NULL WHERE rev > ?1 AND rev <= ?2 AND doc IS NOT NULL "
                     "AND rev NOT IN (SELECT mod_rev FROM resources WHERE mod_rev > ?1 AND "
                     "mod_rev <= ?2)",
    [STMT_COMPACTED] = "INSERT OR REPLACE INTO meta(key, value) VALUES('compacted', ?1)",
};

/* Migration steps; index + 1 is the schema version they bring the file to. */
static const char *const k_migrations[] = {
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE resources(kind INTEGER NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,"
    " doc TEXT NOT NULL, mod_rev INTEGER NOT NULL, spec_rev INTEGER NOT NULL,"
    " device_ref TEXT, endpoint_types TEXT, PRIMARY KEY(kind, ns, name)) WITHOUT ROWID;"
    "CREATE INDEX resources_device_ref ON resources(kind, ns, device_ref)"
    " WHERE device_ref IS NOT NULL;"
    "CREATE TABLE changes(rev INTEGER PRIMARY KEY, type INTEGER NOT NULL, kind INTEGER NOT NULL,"
    " ns TEXT NOT NULL, name TEXT NOT NULL, doc TEXT, time TEXT NOT NULL, token_id TEXT,"
    " action TEXT NOT NULL);"
    "CREATE TABLE secrets(ns TEXT NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL,"
    " created TEXT NOT NULL, modified TEXT NOT NULL, PRIMARY KEY(ns, name)) WITHOUT ROWID;"
    "CREATE TABLE tokens(id TEXT PRIMARY KEY, hash TEXT NOT NULL, role TEXT NOT NULL,"
    " ns TEXT NOT NULL DEFAULT '', created TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',"
    " revoked INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;",
    /* 2: documents are kilobytes: a rowid table keeps them out of the key B-tree
     * (SQLite's WITHOUT ROWID tables are meant for small rows). */
    "CREATE TABLE resources_v2(id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, ns TEXT NOT NULL,"
    " name TEXT NOT NULL, doc TEXT NOT NULL, mod_rev INTEGER NOT NULL,"
    " spec_rev INTEGER NOT NULL, device_ref TEXT, endpoint_types TEXT, endpoint_names TEXT,"
    " UNIQUE(kind, ns, name));"
    "INSERT INTO resources_v2(kind, ns, name, doc, mod_rev, spec_rev, device_ref, endpoint_types,"
    " endpoint_names)"
    " SELECT kind, ns, name, doc, mod_rev, spec_rev, device_ref, endpoint_types,"
    " CASE WHEN kind = 1 THEN char(10) || (SELECT group_concat(key, char(10)) FROM"
    " json_each(resources.doc, '$.properties.endpoints.inbound')) || char(10) END"
    " FROM resources;"
    "DROP TABLE resources;"
    "ALTER TABLE resources_v2 RENAME TO resources;"
    "CREATE INDEX resources_device_ref ON resources(kind, ns, device_ref)"
    " WHERE device_ref IS NOT NULL;",
    /* 3: each document is written once, in the change that made it; the resource
     * row points at that change. Halves what a write stores. */
    "UPDATE changes SET doc = (SELECT r.doc FROM resources r WHERE r.mod_rev = changes.rev)"
    " WHERE rev IN (SELECT mod_rev FROM resources);"
    "ALTER TABLE resources DROP COLUMN doc;"
    "CREATE INDEX resources_mod_rev ON resources(mod_rev);",
    /* 4: tokens may expire (RFC 3339 UTC, '' for never). */
    "ALTER TABLE tokens ADD COLUMN expires TEXT NOT NULL DEFAULT '';",
};

struct fp_store {
    sqlite3 *db;
    sqlite3_stmt *stmt[STMT_COUNT];
    pthread_mutex_t lock;
    pthread_cond_t changed;
    _Atomic int64_t revision;  /* last committed; written under lock, read without */
    int64_t pending;           /* last allocated inside the open transaction */
    _Atomic int64_t compacted; /* change documents up to here are gone */
    int64_t history;
    int64_t compact_check; /* revision of the last compaction check */
    bool in_txn;
    bool closing;
};

void fp_rec_clear(fp_rec *rec)
{
    fp_free(rec->ns);
    fp_free(rec->name);
    fp_free(rec->doc);
    memset(rec, 0, sizeof *rec);
}

/* Log and map a SQLite failure. */
static fp_status db_fail(fp_store *st, const char *what)
{
    fp_log_error("store", "%s: %s", what, sqlite3_errmsg(st->db));
    return FP_ERR_IO;
}

/* Run one statement that returns nothing; returns FP_OK or FP_ERR_IO. */
static fp_status exec_sql(fp_store *st, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fp_log_error("store", "%s: %s", sql, err ? err : "?");
        sqlite3_free(err);
        return FP_ERR_IO;
    }
    return FP_OK;
}

/* Read one integer from a query, or dflt if no row. */
static int64_t query_int(fp_store *st, const char *sql, int64_t dflt)
{
    sqlite3_stmt *s;
    int64_t v = dflt;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return dflt;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* Apply the migrations the file has not seen yet. */
static fp_status migrate(fp_store *st, char *errmsg, size_t errmsg_len)
{
    int n_steps = (int)(sizeof k_migrations / sizeof k_migrations[0]);
    int64_t have;
    char sql[128];

    if (exec_sql(st, "BEGIN IMMEDIATE"))
        goto fail;
    have = query_int(st, "SELECT value FROM meta WHERE key='schema_version'", 0);
    if (have > n_steps) {
        exec_sql(st, "ROLLBACK");
        snprintf(errmsg, errmsg_len,
                 "database schema version %lld is newer than this fieldplane (%d): upgrade it",
                 (long long)have, n_steps);
        return FP_ERR_IO;
    }
    for (int64_t v = have; v < n_steps; v++) {
        if (exec_sql(st, k_migrations[v]))
            goto fail_rollback;
        fp_log_info("store", "database migrated to schema version %lld", (long long)v + 1);
    }
    snprintf(sql, sizeof sql,
             "INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', %d)", n_steps);
    if (exec_sql(st, sql) || exec_sql(st, "COMMIT"))
        goto fail_rollback;
    return FP_OK;

fail_rollback:
    exec_sql(st, "ROLLBACK");
fail:
    snprintf(errmsg, errmsg_len, "database migration failed: %s", sqlite3_errmsg(st->db));
    return FP_ERR_IO;
}

void fp_path_make_private(const char *path)
{
    struct stat sb;

    if (stat(path, &sb) != 0 || !(sb.st_mode & 077))
        return;
    if (chmod(path, sb.st_mode & 0700) != 0)
        fp_log_warn("store", "%s is open to other users (mode %03o) and cannot be made %03o: %s",
                    path, (unsigned)(sb.st_mode & 0777), (unsigned)(sb.st_mode & 0700),
                    strerror(errno));
    else
        fp_log_info("store", "tightened %s from mode %03o to %03o", path,
                    (unsigned)(sb.st_mode & 0777), (unsigned)(sb.st_mode & 0700));
}

/*
 * Keep the database files private (0600): they hold secrets' values and token hashes.
 * SQLite creates the database with 0644 less the umask, and the -wal and -shm files with
 * the database's mode, so the database is created 0600 before SQLite opens it, and files
 * left looser by an older registry or by hand are tightened.
 */
static void private_files(const char *path, bool create)
{
    static const char *const k_suffix[] = {"", "-wal", "-shm"};
    char file[1200];

    if (create) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd); /* an empty file is an empty database; a failure is SQLite's to report */
    }
    for (size_t i = 0; i < sizeof k_suffix / sizeof k_suffix[0]; i++) {
        snprintf(file, sizeof file, "%s%s", path, k_suffix[i]);
        fp_path_make_private(file);
    }
}

fp_status fp_store_open(const char *path, const fp_store_opts *opts, fp_store **out, char *errmsg,
                        size_t errmsg_len)
{
    fp_store *st;
    int flags;

    *out = NULL;
    st = fp_calloc(1, sizeof *st);
    if (!st) {
        snprintf(errmsg, errmsg_len, "out of memory");
        return FP_ERR_NOMEM;
    }
    pthread_mutex_init(&st->lock, NULL);
    fp_cond_init(&st->changed);
    st->history = opts && opts->history > 0 ? opts->history : 100000;
    flags =
        opts && opts->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    private_files(path, !(opts && opts->read_only));
    if (sqlite3_open_v2(path, &st->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        snprintf(errmsg, errmsg_len, "cannot open database %s: %s", path,
                 st->db ? sqlite3_errmsg(st->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(st->db, 5000);
    if (!(opts && opts->read_only)) {
        if (exec_sql(st, "PRAGMA journal_mode=WAL")) {
            snprintf(errmsg, errmsg_len, "cannot switch %s to WAL mode: %s", path,
                     sqlite3_errmsg(st->db));
            goto fail;
        }
        exec_sql(st,
                 opts && opts->sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
        if (migrate(st, errmsg, errmsg_len))
            goto fail;
    }
    exec_sql(st, "PRAGMA foreign_keys=OFF");
    exec_sql(st, "PRAGMA cache_size=-16000"); /* 16 MB page cache at most */
    for (int i = 0; i < STMT_COUNT; i++) {
        if (sqlite3_prepare_v3(st->db, k_stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[i],
                               NULL) != SQLITE_OK) {
            snprintf(errmsg, errmsg_len, "cannot prepare statement %d: %s", i,
                     sqlite3_errmsg(st->db));
            goto fail;
        }
    }
    if (!(opts && opts->read_only)) {
        exec_sql(st, "PRAGMA journal_size_limit=67108864"); /* trim the WAL back to 64 MB */
    }
    st->revision = query_int(st, "SELECT MAX(rev) FROM changes", 0);
    st->compacted = query_int(st, "SELECT value FROM meta WHERE key='compacted'", 0);
    *out = st;
    return FP_OK;

fail:
    fp_store_close(st);
    return FP_ERR_IO;
}

void fp_store_close(fp_store *st)
{
    if (!st)
        return;
    for (int i = 0; i < STMT_COUNT; i++)
        sqlite3_finalize(st->stmt[i]);
    if (st->db)
        sqlite3_close(st->db);
    pthread_cond_destroy(&st->changed);
    pthread_mutex_destroy(&st->lock);
    fp_free(st);
}

/* Both read without the lock, so that they are safe from callbacks that run
 * while the store holds it (a watch reading changes, a transaction). */
int64_t fp_store_revision(fp_store *st)
{
    return atomic_load(&st->revision);
}

int64_t fp_store_oldest_resumable(fp_store *st)
{
    return atomic_load(&st->compacted);
}

/* ---------------------------------------------------------------------------
 * Transactions
 * ------------------------------------------------------------------------- */

/* The store whose transaction this thread holds: its calls must not lock again. */
static _Thread_local fp_store *t_txn_store;

fp_status fp_store_begin(fp_store *st)
{
    pthread_mutex_lock(&st->lock);
    if (exec_sql(st, "BEGIN IMMEDIATE")) {
        pthread_mutex_unlock(&st->lock);
        return FP_ERR_IO;
    }
    st->in_txn = true;
    st->pending = st->revision;
    t_txn_store = st;
    return FP_OK;
}

/* Drop documents of changes older than the history window (inside the txn). */
static void compact(fp_store *st)
{
    int64_t upto = st->pending - st->history;
    sqlite3_stmt *s = st->stmt[STMT_COMPACT];

    /* Check every 1024 revisions: cheap, and keeps the table's tail bounded. */
    if (st->pending - st->compact_check < 1024)
        return;
    st->compact_check = st->pending;
    if (upto <= st->compacted)
        return;
    sqlite3_bind_int64(s, 1, st->compacted);
    sqlite3_bind_int64(s, 2, upto);
    if (sqlite3_step(s) == SQLITE_DONE) {
        /* Remember the mark, so a restart need not scan the table for it. */
        sqlite3_stmt *m = st->stmt[STMT_COMPACTED];
        sqlite3_bind_int64(m, 1, upto);
        if (sqlite3_step(m) == SQLITE_DONE)
            st->compacted = upto;
        sqlite3_reset(m);
    }
    sqlite3_reset(s);
}

fp_status fp_store_commit(fp_store *st)
{
    fp_status rc;

    if (st->pending > st->revision)
        compact(st);
    rc = exec_sql(st, "COMMIT");
    if (rc) {
        exec_sql(st, "ROLLBACK");
    } else if (st->pending > st->revision) {
        st->revision = st->pending;
        pthread_cond_broadcast(&st->changed);
    }
    st->in_txn = false;
    t_txn_store = NULL;
    pthread_mutex_unlock(&st->lock);
    return rc;
}

void fp_store_rollback(fp_store *st)
{
    exec_sql(st, "ROLLBACK");
    st->in_txn = false;
    t_txn_store = NULL;
    pthread_mutex_unlock(&st->lock);
}

int64_t fp_store_next_revision(fp_store *st)
{
    return ++st->pending;
}

static void enter(fp_store *st, bool *locked)
{
    *locked = false;
    if (t_txn_store == st)
        return;
    pthread_mutex_lock(&st->lock);
    *locked = true;
}

static void leave(fp_store *st, bool locked)
{
    if (locked)
        pthread_mutex_unlock(&st->lock);
}

/* ---------------------------------------------------------------------------
 * Resources
 * ------------------------------------------------------------------------- */

/* Copy a text column into a new string. */
static char *col_dup(sqlite3_stmt *s, int i, size_t *len_out)
{
    const unsigned char *z = sqlite3_column_text(s, i);
    int n = sqlite3_column_bytes(s, i);
    if (len_out)
        *len_out = (size_t)n;
    return z ? fp_strndup((const char *)z, (size_t)n) : NULL;
}

bool fp_store_exists(fp_store *st, int kind, const char *ns, const char *name)
{
    sqlite3_stmt *s = st->stmt[STMT_EXISTS];
    bool locked, found;

    enter(st, &locked);
    sqlite3_bind_int(s, 1, kind);
    sqlite3_bind_text(s, 2, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, name, -1, SQLITE_STATIC);
    found = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    leave(st, locked);
    return found;
}

fp_status fp_store_get(fp_store *st, int kind, const char *ns, const char *name, fp_rec *out)
{
    sqlite3_stmt *s = st->stmt[STMT_GET];
    fp_status rc = FP_ERR_NOT_FOUND;
    bool locked;
    int step;

    memset(out, 0, sizeof *out);
    enter(st, &locked);
    sqlite3_bind_int(s, 1, kind);
    sqlite3_bind_text(s, 2, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, name, -1, SQLITE_STATIC);
    step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        out->kind = kind;
        out->doc = col_dup(s, 0, &out->doc_len);
        out->mod_rev = sqlite3_column_int64(s, 1);
        out->spec_rev = sqlite3_column_int64(s, 2);
        out->ns = fp_strdup(ns);
        out->name = fp_strdup(name);
        rc = out->doc && out->ns && out->name ? FP_OK : FP_ERR_NOMEM;
        if (rc)
            fp_rec_clear(out);
    } else if (step != SQLITE_DONE) {
        rc = db_fail(st, "get");
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    leave(st, locked);
    return rc;
}

/* Insert the change row (inside the transaction). */
static fp_status put_change(fp_store *st, int64_t rev, int kind, const char *ns, const char *name,
                            const char *doc, const fp_change_meta *meta)
{
    sqlite3_stmt *s = st->stmt[STMT_CHANGE];
    char now[40];
    fp_status rc = FP_OK;

    fp_time_now_rfc3339(now);
    if (kind == FP_KIND_NAMESPACE)
        ns = name; /* a namespace's own changes belong to it (audit and watch filters) */
    sqlite3_bind_int64(s, 1, rev);
    sqlite3_bind_int(s, 2, meta->type);
    sqlite3_bind_int(s, 3, kind);
    sqlite3_bind_text(s, 4, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, doc, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 8, meta->token_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 9, meta->action, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = db_fail(st, "record change");
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

fp_status fp_store_put(fp_store *st, const fp_rec *rec, const fp_index *ix,
                       const fp_change_meta *meta)
{
    sqlite3_stmt *s = st->stmt[STMT_PUT];
    fp_status rc = FP_OK;

    sqlite3_bind_int(s, 1, rec->kind);
    sqlite3_bind_text(s, 2, rec->ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, rec->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, rec->mod_rev); /* the document goes into the change row */
    sqlite3_bind_int64(s, 6, rec->spec_rev);
    if (ix && ix->device_ref)
        sqlite3_bind_text(s, 7, ix->device_ref, -1, SQLITE_STATIC);
    if (ix && ix->endpoint_types && *ix->endpoint_types)
        sqlite3_bind_text(s, 8, ix->endpoint_types, -1, SQLITE_STATIC);
    if (ix && ix->endpoint_names && *ix->endpoint_names)
        sqlite3_bind_text(s, 9, ix->endpoint_names, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = db_fail(st, "put");
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc)
        return rc;
    return put_change(st, rec->mod_rev, rec->kind, rec->ns, rec->name, rec->doc, meta);
}

fp_status fp_store_delete(fp_store *st, int kind, const char *ns, const char *name, const char *doc,
                          int64_t rev, const fp_change_meta *meta)
{
    sqlite3_stmt *s = st->stmt[STMT_DEL];
    fp_status rc = FP_OK;

    sqlite3_bind_int(s, 1, kind);
    sqlite3_bind_text(s, 2, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, name, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = db_fail(st, "delete");
    else if (sqlite3_changes(st->db) == 0)
        rc = FP_ERR_NOT_FOUND;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc)
        return rc;
    return put_change(st, rev, kind, ns, name, doc, meta);
}

fp_status fp_store_device_endpoint(fp_store *st, const char *ns, const char *device,
                                   const char *endpoint)
{
    sqlite3_stmt *s = st->stmt[STMT_ENDPOINT];
    fp_status rc = FP_ERR_NOT_FOUND;
    bool locked;

    enter(st, &locked);
    sqlite3_bind_int(s, 1, FP_KIND_DEVICE);
    sqlite3_bind_text(s, 2, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, device, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW) {
        const char *names = (const char *)sqlite3_column_text(s, 0);
        size_t n = strlen(endpoint);
        const char *p = names;
        rc = FP_ERR_INVALID;
        /* names is "\nname\nname\n": look for "\n<endpoint>\n". */
        while (n && p && (p = strstr(p, endpoint)) != NULL) {
            if (p > names && p[-1] == '\n' && p[n] == '\n') {
                rc = FP_OK;
                break;
            }
            p++;
        }
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    leave(st, locked);
    return rc;
}

fp_status fp_store_record(fp_store *st, int kind, const char *ns, const char *name, const char *doc,
                          int64_t rev, const fp_change_meta *meta)
{
    return put_change(st, rev, kind, ns, name, doc, meta);
}

fp_status fp_store_list(fp_store *st, const fp_list_query *q, fp_list_cb cb, void *ctx)
{
    char sql[512];
    sqlite3_stmt *s;
    fp_status rc = FP_OK;
    bool locked;
    int step;

    snprintf(sql, sizeof sql,
             "SELECT r.name, c.doc, r.mod_rev, r.spec_rev FROM resources r JOIN changes c ON "
             "c.rev = r.mod_rev WHERE r.kind=?1 AND r.ns=?2%s%s%s%s ORDER BY r.name LIMIT ?3",
             q->after ? " AND r.name > ?4" : "",
             q->prefix ? " AND substr(r.name,1,length(?5))=?5" : "",
             q->device_ref ? " AND r.device_ref=?6" : "",
             q->endpoint_type ? " AND instr(r.endpoint_types, ?7) > 0" : "");
    enter(st, &locked);
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
        rc = db_fail(st, "list");
        leave(st, locked);
        return rc;
    }
    sqlite3_bind_int(s, 1, q->kind);
    sqlite3_bind_text(s, 2, q->ns ? q->ns : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, q->limit);
    if (q->after)
        sqlite3_bind_text(s, 4, q->after, -1, SQLITE_STATIC);
    if (q->prefix)
        sqlite3_bind_text(s, 5, q->prefix, -1, SQLITE_STATIC);
    if (q->device_ref)
        sqlite3_bind_text(s, 6, q->device_ref, -1, SQLITE_STATIC);
    if (q->endpoint_type)
        sqlite3_bind_text(s, 7, q->endpoint_type, -1, SQLITE_STATIC);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        fp_rec rec = {
            .kind = q->kind,
            .ns = (char *)(q->ns ? q->ns : ""),
            .name = (char *)sqlite3_column_text(s, 0),
            .doc = (char *)sqlite3_column_text(s, 1),
            .doc_len = (size_t)sqlite3_column_bytes(s, 1),
            .mod_rev = sqlite3_column_int64(s, 2),
            .spec_rev = sqlite3_column_int64(s, 3),
        };
        if (!cb(ctx, &rec))
            break;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = db_fail(st, "list");
    sqlite3_finalize(s);
    leave(st, locked);
    return rc;
}

fp_status fp_store_count(fp_store *st, int kind, const char *ns, int64_t *out)
{
    sqlite3_stmt *s;
    bool locked;
    fp_status rc = FP_OK;

    enter(st, &locked);
    if (sqlite3_prepare_v2(st->db, "SELECT COUNT(*) FROM resources WHERE kind=?1 AND ns=?2", -1, &s,
                           NULL) != SQLITE_OK) {
        rc = db_fail(st, "count");
    } else {
        sqlite3_bind_int(s, 1, kind);
        sqlite3_bind_text(s, 2, ns, -1, SQLITE_STATIC);
        *out = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
        sqlite3_finalize(s);
    }
    leave(st, locked);
    return rc;
}

fp_status fp_store_count_all(fp_store *st, int64_t counts[FP_KIND_COUNT])
{
    sqlite3_stmt *s;
    bool locked;

    memset(counts, 0, sizeof(int64_t) * FP_KIND_COUNT);
    enter(st, &locked);
    if (sqlite3_prepare_v2(st->db, "SELECT kind, COUNT(*) FROM resources GROUP BY kind", -1, &s,
                           NULL) != SQLITE_OK) {
        leave(st, locked);
        return db_fail(st, "count");
    }
    while (sqlite3_step(s) == SQLITE_ROW) {
        int k = sqlite3_column_int(s, 0);
        if (k >= 0 && k < FP_KIND_COUNT)
            counts[k] = sqlite3_column_int64(s, 1);
    }
    sqlite3_finalize(s);
    leave(st, locked);
    return FP_OK;
}

/* ---------------------------------------------------------------------------
 * Changes
 * ------------------------------------------------------------------------- */

/* Fill a change from the current row of s (columns as STMT_CHANGES). */
static void row_change(sqlite3_stmt *s, fp_change *ch)
{
    ch->rev = sqlite3_column_int64(s, 0);
    ch->type = sqlite3_column_int(s, 1);
    ch->kind = sqlite3_column_int(s, 2);
    ch->ns = (const char *)sqlite3_column_text(s, 3);
    ch->name = (const char *)sqlite3_column_text(s, 4);
    ch->doc = (const char *)sqlite3_column_text(s, 5);
    ch->time = (const char *)sqlite3_column_text(s, 6);
    ch->token_id = (const char *)sqlite3_column_text(s, 7);
    ch->action = (const char *)sqlite3_column_text(s, 8);
}

fp_status fp_store_changes(fp_store *st, int64_t since, int limit, fp_change_cb cb, void *ctx)
{
    sqlite3_stmt *s = st->stmt[STMT_CHANGES];
    fp_status rc = FP_OK;
    bool locked;
    int step;

    enter(st, &locked);
    sqlite3_bind_int64(s, 1, since);
    sqlite3_bind_int(s, 2, limit);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        fp_change ch;
        row_change(s, &ch);
        if (ch.rev > st->revision)
            break; /* not committed yet (our own open transaction) */
        if (!cb(ctx, &ch))
            break;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = db_fail(st, "changes");
    sqlite3_reset(s);
    leave(st, locked);
    return rc;
}

fp_status fp_store_audit(fp_store *st, const fp_audit_query *q, fp_change_cb cb, void *ctx)
{
    char sql[512];
    sqlite3_stmt *s;
    fp_status rc = FP_OK;
    bool locked;
    int step;

    snprintf(sql, sizeof sql,
             "SELECT rev, type, kind, ns, name, NULL, time, token_id, action FROM changes "
             "WHERE 1%s%s%s%s%s%s%s ORDER BY rev DESC LIMIT ?1",
             q->ns ? " AND ns=?2" : "", q->kind ? " AND kind=?3" : "",
             q->name ? " AND name=?4" : "", q->token_id ? " AND token_id=?5" : "",
             q->action ? " AND action=?6" : "", q->before > 0 ? " AND rev < ?7" : "",
             q->exclude_action ? " AND action IS NOT ?8" : "");
    enter(st, &locked);
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
        rc = db_fail(st, "audit");
        leave(st, locked);
        return rc;
    }
    sqlite3_bind_int(s, 1, q->limit);
    if (q->ns)
        sqlite3_bind_text(s, 2, q->ns, -1, SQLITE_STATIC);
    if (q->kind) {
        fp_kind k;
        int kind = -1;
        if (strcmp(q->kind, "Secret") == 0)
            kind = FP_KIND_SECRET;
        else if (fp_kind_parse(q->kind, &k))
            kind = (int)k;
        sqlite3_bind_int(s, 3, kind);
    }
    if (q->name)
        sqlite3_bind_text(s, 4, q->name, -1, SQLITE_STATIC);
    if (q->token_id)
        sqlite3_bind_text(s, 5, q->token_id, -1, SQLITE_STATIC);
    if (q->action)
        sqlite3_bind_text(s, 6, q->action, -1, SQLITE_STATIC);
    if (q->before > 0)
        sqlite3_bind_int64(s, 7, q->before);
    if (q->exclude_action)
        sqlite3_bind_text(s, 8, q->exclude_action, -1, SQLITE_STATIC);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        fp_change ch;
        row_change(s, &ch);
        if (!cb(ctx, &ch))
            break;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = db_fail(st, "audit");
    sqlite3_finalize(s);
    leave(st, locked);
    return rc;
}

int64_t fp_store_wait(fp_store *st, int64_t rev, int timeout_ms)
{
    uint64_t deadline = fp_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    int64_t now_rev;

    pthread_mutex_lock(&st->lock);
    while (st->revision <= rev && !st->closing) {
        if (fp_cond_wait_until(&st->changed, &st->lock, deadline) != 0)
            break;
    }
    now_rev = st->revision;
    pthread_mutex_unlock(&st->lock);
    return now_rev;
}

void fp_store_wake_all(fp_store *st)
{
    pthread_mutex_lock(&st->lock);
    st->closing = true;
    pthread_cond_broadcast(&st->changed);
    pthread_mutex_unlock(&st->lock);
}

/* ---------------------------------------------------------------------------
 * Secrets
 * ------------------------------------------------------------------------- */

fp_status fp_store_secret_put(fp_store *st, const char *ns, const char *name, const char *data_json,
                              const char *now)
{
    sqlite3_stmt *s = st->stmt[STMT_SECRET_PUT];
    fp_status rc = FP_OK;

    sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, data_json, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, now, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = db_fail(st, "secret put");
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

fp_status fp_store_secret_delete(fp_store *st, const char *ns, const char *name)
{
    sqlite3_stmt *s = st->stmt[STMT_SECRET_DEL];
    fp_status rc = FP_OK;

    sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = db_fail(st, "secret delete");
    else if (sqlite3_changes(st->db) == 0)
        rc = FP_ERR_NOT_FOUND;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

fp_status fp_store_secret_get(fp_store *st, const char *ns, const char *name, char **data_json,
                              char **created, char **modified)
{
    sqlite3_stmt *s = st->stmt[STMT_SECRET_GET];
    fp_status rc = FP_ERR_NOT_FOUND;
    bool locked;

    enter(st, &locked);
    sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW) {
        rc = FP_OK;
        if (data_json && !(*data_json = col_dup(s, 0, NULL)))
            rc = FP_ERR_NOMEM;
        if (created && !(*created = col_dup(s, 1, NULL)))
            rc = FP_ERR_NOMEM;
        if (modified && !(*modified = col_dup(s, 2, NULL)))
            rc = FP_ERR_NOMEM;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    leave(st, locked);
    return rc;
}

bool fp_store_secret_exists(fp_store *st, const char *ns, const char *name)
{
    return fp_store_secret_get(st, ns, name, NULL, NULL, NULL) == FP_OK;
}

fp_status fp_store_secret_list(fp_store *st, const char *ns, const char *after, int limit,
                               fp_secret_cb cb, void *ctx)
{
    sqlite3_stmt *s;
    bool locked;
    fp_status rc = FP_OK;

    enter(st, &locked);
    if (sqlite3_prepare_v2(st->db,
                           "SELECT name, data, created, modified FROM secrets WHERE ns=?1 AND "
                           "name > ?2 ORDER BY name LIMIT ?3",
                           -1, &s, NULL) != SQLITE_OK) {
        leave(st, locked);
        return db_fail(st, "secret list");
    }
    sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, after ? after : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, limit);
    while (sqlite3_step(s) == SQLITE_ROW) {
        if (!cb(ctx, (const char *)sqlite3_column_text(s, 0),
                (const char *)sqlite3_column_text(s, 1), (const char *)sqlite3_column_text(s, 2),
                (const char *)sqlite3_column_text(s, 3)))
            break;
    }
    sqlite3_finalize(s);
    leave(st, locked);
    return rc;
}

/* ---------------------------------------------------------------------------
 * Tokens
 * ------------------------------------------------------------------------- */

/* Lowercase hex of n random bytes into out (2n+1 bytes). */
static fp_status random_hex(char *out, size_t n)
{
    unsigned char raw[32];
    if (n > sizeof raw || RAND_bytes(raw, (int)n) != 1)
        return FP_ERR_INTERNAL;
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return FP_OK;
}

/* SHA-256 hex of z into out (65 bytes). */
static void sha256_hex(const char *z, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)z, strlen(z), md);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

fp_status fp_store_token_create(fp_store *st, const char *role, const char *ns,
                                const char *description, char *out_text, size_t out_len,
                                fp_token *out)
{
    char id[17], secret[65], hash[65], now[40];
    sqlite3_stmt *s;
    fp_status rc = FP_OK;

    if (random_hex(id, 8) || random_hex(secret, 24))
        return FP_ERR_INTERNAL;
    sha256_hex(secret, hash);
    fp_time_now_rfc3339(now);
    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO tokens(id, hash, role, ns, created, description) "
                           "VALUES(?1,?2,?3,?4,?5,?6)",
                           -1, &s, NULL) != SQLITE_OK) {
        pthread_mutex_unlock(&st->lock);
        return db_fail(st, "token create");
    }
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, role, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, ns ? ns : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, description ? description : "", -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = db_fail(st, "token create");
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->lock);
    if (rc)
        return rc;
    snprintf(out_text, out_len, "fpt_%s_%s", id, secret);
    if (out) {
        memset(out, 0, sizeof *out);
        snprintf(out->id, sizeof out->id, "%s", id);
        snprintf(out->role, sizeof out->role, "%s", role);
        snprintf(out->ns, sizeof out->ns, "%s", ns ? ns : "");
        snprintf(out->created, sizeof out->created, "%s", now);
        snprintf(out->description, sizeof out->description, "%s", description ? description : "");
    }
    return FP_OK;
}

fp_status fp_store_token_revoke(fp_store *st, const char *id)
{
    sqlite3_stmt *s;
    fp_status rc = FP_OK;

    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db, "UPDATE tokens SET revoked=1 WHERE id=?1", -1, &s, NULL) !=
        SQLITE_OK) {
        pthread_mutex_unlock(&st->lock);
        return db_fail(st, "token revoke");
    }
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = db_fail(st, "token revoke");
    else if (sqlite3_changes(st->db) == 0)
        rc = FP_ERR_NOT_FOUND;
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

/* Fill tok from a row: id, role, ns, created, description, revoked. */
static void row_token(sqlite3_stmt *s, fp_token *tok)
{
    memset(tok, 0, sizeof *tok);
    snprintf(tok->id, sizeof tok->id, "%s", (const char *)sqlite3_column_text(s, 0));
    snprintf(tok->role, sizeof tok->role, "%s", (const char *)sqlite3_column_text(s, 1));
    snprintf(tok->ns, sizeof tok->ns, "%s", (const char *)sqlite3_column_text(s, 2));
    snprintf(tok->created, sizeof tok->created, "%s", (const char *)sqlite3_column_text(s, 3));
    snprintf(tok->description, sizeof tok->description, "%s",
             (const char *)sqlite3_column_text(s, 4));
    tok->revoked = sqlite3_column_int(s, 5) != 0;
    snprintf(tok->expires, sizeof tok->expires, "%s", (const char *)sqlite3_column_text(s, 6));
}

/* Whether an expiry ("" for never) has passed. Both sides are fp_time_rfc3339 text (UTC,
 * fixed width), so they compare as strings. */
static bool expired(const char *expires)
{
    char now[FP_RFC3339_LEN];

    if (!expires || !expires[0])
        return false;
    fp_time_now_rfc3339(now);
    return strcmp(expires, now) <= 0;
}

fp_status fp_store_token_expire_at(fp_store *st, const char *id, const char *expires)
{
    sqlite3_stmt *s;
    fp_status rc = FP_OK;

    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db, "UPDATE tokens SET expires=?2 WHERE id=?1", -1, &s, NULL) !=
        SQLITE_OK) {
        pthread_mutex_unlock(&st->lock);
        return db_fail(st, "token expiry");
    }
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, expires, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = db_fail(st, "token expiry");
    else if (sqlite3_changes(st->db) == 0)
        rc = FP_ERR_NOT_FOUND;
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

fp_status fp_store_token_list(fp_store *st, fp_token_cb cb, void *ctx)
{
    sqlite3_stmt *s;

    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db,
                           "SELECT id, role, ns, created, description, revoked, expires FROM "
                           "tokens "
                           "ORDER BY created, id",
                           -1, &s, NULL) != SQLITE_OK) {
        pthread_mutex_unlock(&st->lock);
        return db_fail(st, "token list");
    }
    while (sqlite3_step(s) == SQLITE_ROW) {
        fp_token tok;
        row_token(s, &tok);
        if (!cb(ctx, &tok))
            break;
    }
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->lock);
    return FP_OK;
}

fp_status fp_store_token_check(fp_store *st, const char *text, fp_token *out)
{
    sqlite3_stmt *s = st->stmt[STMT_TOKEN_GET];
    char id[17], hash[65];
    const char *secret;
    fp_status rc = FP_ERR_UNAUTHORIZED;

    /* fpt_<16 hex>_<48 hex> */
    if (!text || strncmp(text, "fpt_", 4) != 0 || strlen(text) != 4 + 16 + 1 + 48 ||
        text[20] != '_')
        return FP_ERR_UNAUTHORIZED;
    memcpy(id, text + 4, 16);
    id[16] = '\0';
    secret = text + 21;
    sha256_hex(secret, hash);

    bool locked;
    enter(st, &locked);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW) {
        const char *want = (const char *)sqlite3_column_text(s, 0);
        if (want && strlen(want) == 64 && CRYPTO_memcmp(want, hash, 64) == 0 &&
            sqlite3_column_int(s, 5) == 0 && !expired((const char *)sqlite3_column_text(s, 6))) {
            memset(out, 0, sizeof *out);
            snprintf(out->id, sizeof out->id, "%s", id);
            snprintf(out->role, sizeof out->role, "%s", (const char *)sqlite3_column_text(s, 1));
            snprintf(out->ns, sizeof out->ns, "%s", (const char *)sqlite3_column_text(s, 2));
            snprintf(out->created, sizeof out->created, "%s",
                     (const char *)sqlite3_column_text(s, 3));
            rc = FP_OK;
        }
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    leave(st, locked);
    return rc;
}

bool fp_store_token_live(fp_store *st, const char *id)
{
    sqlite3_stmt *s = st->stmt[STMT_TOKEN_GET];
    bool live = true, locked;
    int step;

    enter(st, &locked);
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    step = sqlite3_step(s);
    if (step == SQLITE_ROW)
        live = sqlite3_column_int(s, 5) == 0 && !expired((const char *)sqlite3_column_text(s, 6));
    else if (step == SQLITE_DONE)
        live = false; /* deleted */
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    leave(st, locked);
    return live;
}
