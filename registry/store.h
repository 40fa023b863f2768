/*
 * store.h - the registry's storage interface.
 *
 * One interface for every backend (SQLite now, PostgreSQL later) so that the API
 * layer never sees SQL. The store keeps:
 *  - resources: one row per (kind, namespace, name) with the revision of its
 *    last change (mod_rev) and of its last spec change (spec_rev, the ETag),
 *    and index columns for list filters and reference checks;
 *  - changes: one row per committed change with a global, increasing revision.
 *    The row holds the document as that change left it (a resource's current
 *    document is the one of its mod_rev: each write stores one document) and
 *    doubles as the audit record (time, token, action). Documents are kept for
 *    the last `history` revisions so that watches can resume, and for every
 *    resource's current revision; older ones are dropped (a watch from before
 *    them answers 410);
 *  - secrets (values stored apart from documents) and API tokens (hashes only).
 *
 * Concurrency: a store is used by many threads; every call takes the store's
 * lock itself, except between fp_store_begin and fp_store_commit/rollback,
 * which holds it for the whole transaction (one transaction per request).
 */
#ifndef FP_REGISTRY_STORE_H
#define FP_REGISTRY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fp_status.h"
#include "model.h"

/* Change rows about secrets (documents carry no values) have the kind FP_KIND_SECRET,
 * defined beside the kinds in lib/model/fp_model.h. */

typedef struct fp_store fp_store;

typedef struct fp_store_opts {
    int64_t history; /* change documents kept for watch resume (default 100000) */
    bool sync_full;  /* fsync every commit (survives power loss; default: process crash) */
    bool read_only;  /* open without creating or migrating */
} fp_store_opts;

typedef enum fp_change_type {
    FP_CHANGE_ADDED = 1,
    FP_CHANGE_MODIFIED = 2,
    FP_CHANGE_DELETED = 3,
} fp_change_type;

/* A stored resource. Strings are owned by the record (fp_rec_clear). */
typedef struct fp_rec {
    int kind;
    char *ns;
    char *name;
    char *doc; /* compact JSON text */
    size_t doc_len;
    int64_t mod_rev;
    int64_t spec_rev;
} fp_rec;

void fp_rec_clear(fp_rec *rec);

/* Open (creating and migrating) the database file at path. The database and its -wal
 * and -shm files are made 0600 (created so, tightened when looser). On failure returns
 * FP_ERR_IO with a message in errmsg. */
fp_status fp_store_open(const char *path, const fp_store_opts *opts, fp_store **out, char *errmsg,
                        size_t errmsg_len);
void fp_store_close(fp_store *st);

/* Take group and other permissions off the file or directory at path, if it has any
 * (what is in the data directory holds secrets); a path that cannot be changed (not
 * ours) is named in a warning, as it does not stop the registry. */
void fp_path_make_private(const char *path);

/* The last committed revision. */
int64_t fp_store_revision(fp_store *st);
/* The oldest revision a watch may resume from (since >= this). */
int64_t fp_store_oldest_resumable(fp_store *st);

/* ---------------------------------------------------------------------------
 * Transactions: begin takes the store lock, commit/rollback release it.
 * ------------------------------------------------------------------------- */

fp_status fp_store_begin(fp_store *st);
fp_status fp_store_commit(fp_store *st);
void fp_store_rollback(fp_store *st);

/* Allocate the next revision inside a transaction. */
int64_t fp_store_next_revision(fp_store *st);

/* Does the resource exist? Reads the key only, not the document. */
bool fp_store_exists(fp_store *st, int kind, const char *ns, const char *name);

/* Read one resource (inside or outside a transaction). FP_ERR_NOT_FOUND if absent. */
fp_status fp_store_get(fp_store *st, int kind, const char *ns, const char *name, fp_rec *out);

/* Write a resource and its change row inside a transaction. rec->mod_rev is the
 * change's revision (from fp_store_next_revision). index values may be NULL. */
typedef struct fp_change_meta {
    const char *token_id;
    const char *action; /* create, replace, update, delete, status, secret-set, ... */
    fp_change_type type;
} fp_change_meta;

/* Index values kept beside a document for filters and reference checks; any
 * field may be NULL. */
typedef struct fp_index {
    const char *device_ref;     /* assets: deviceRef.deviceName */
    const char *endpoint_types; /* devices: " type type " lowercased */
    const char *endpoint_names; /* devices: "\nname\nname\n" */
} fp_index;

fp_status fp_store_put(fp_store *st, const fp_rec *rec, const fp_index *ix,
                       const fp_change_meta *meta);

/* Does device in ns have the inbound endpoint? FP_OK, FP_ERR_NOT_FOUND (no such
 * device) or FP_ERR_INVALID (no such endpoint). Reads the index, not the document. */
fp_status fp_store_device_endpoint(fp_store *st, const char *ns, const char *device,
                                   const char *endpoint);
/* Delete inside a transaction; doc is the last state recorded in the change. */
fp_status fp_store_delete(fp_store *st, int kind, const char *ns, const char *name, const char *doc,
                          int64_t rev, const fp_change_meta *meta);
/* Record a change row without a resource (secrets). */
fp_status fp_store_record(fp_store *st, int kind, const char *ns, const char *name, const char *doc,
                          int64_t rev, const fp_change_meta *meta);

/* ---------------------------------------------------------------------------
 * Lists
 * ------------------------------------------------------------------------- */

typedef struct fp_list_query {
    int kind;
    const char *ns;            /* "" for namespaces */
    const char *after;         /* names strictly after this (paging), or NULL */
    const char *prefix;        /* name prefix, or NULL */
    const char *device_ref;    /* exact device_ref, or NULL */
    const char *endpoint_type; /* lowercased " type " fragment, or NULL */
    int limit;                 /* rows to return */
} fp_list_query;

/* Called per row in name order; return false to stop. Strings are borrowed. */
typedef bool (*fp_list_cb)(void *ctx, const fp_rec *rec);

fp_status fp_store_list(fp_store *st, const fp_list_query *q, fp_list_cb cb, void *ctx);

/* Number of resources of kind in ns ("" and kind NAMESPACE: all namespaces). */
fp_status fp_store_count(fp_store *st, int kind, const char *ns, int64_t *out);
/* Resource counts by kind over the whole store (for metrics). */
fp_status fp_store_count_all(fp_store *st, int64_t counts[FP_KIND_COUNT]);

/* ---------------------------------------------------------------------------
 * Changes: watch and audit
 * ------------------------------------------------------------------------- */

typedef struct fp_change {
    int64_t rev;
    int type; /* fp_change_type */
    int kind;
    const char *ns;
    const char *name;
    const char *doc; /* NULL once compacted */
    const char *time;
    const char *token_id;
    const char *action;
} fp_change;

typedef bool (*fp_change_cb)(void *ctx, const fp_change *ch);

/* Changes with rev > since, oldest first, at most limit. */
fp_status fp_store_changes(fp_store *st, int64_t since, int limit, fp_change_cb cb, void *ctx);

typedef struct fp_audit_query {
    const char *ns, *kind, *name, *token_id, *action;
    const char *exclude_action; /* leave out records of this action ("status": connector writes) */
    int64_t before;             /* revisions strictly below (paging), 0 = from newest */
    int limit;
} fp_audit_query;

/* Audit records newest first. kind is matched against fp_kind_name / "Secret". */
fp_status fp_store_audit(fp_store *st, const fp_audit_query *q, fp_change_cb cb, void *ctx);

/* Block until the revision passes `rev` or timeout_ms passes; returns the current revision. */
int64_t fp_store_wait(fp_store *st, int64_t rev, int timeout_ms);
/* Wake every waiter (shutdown). */
void fp_store_wake_all(fp_store *st);

/* ---------------------------------------------------------------------------
 * Secrets (inside a transaction for writes)
 * ------------------------------------------------------------------------- */

/* data_json is a JSON object of string values; created/modified are RFC 3339. */
fp_status fp_store_secret_put(fp_store *st, const char *ns, const char *name, const char *data_json,
                              const char *now);
fp_status fp_store_secret_delete(fp_store *st, const char *ns, const char *name);
/* Values (data_json, caller frees with fp_free) and times; any out may be NULL. */
fp_status fp_store_secret_get(fp_store *st, const char *ns, const char *name, char **data_json,
                              char **created, char **modified);
typedef bool (*fp_secret_cb)(void *ctx, const char *name, const char *data_json,
                             const char *created, const char *modified);
fp_status fp_store_secret_list(fp_store *st, const char *ns, const char *after, int limit,
                               fp_secret_cb cb, void *ctx);
bool fp_store_secret_exists(fp_store *st, const char *ns, const char *name);

/* ---------------------------------------------------------------------------
 * Tokens
 * ------------------------------------------------------------------------- */

typedef struct fp_token {
    char id[32];
    char role[16];
    char ns[80]; /* "" = all namespaces */
    char created[40];
    char description[128];
    bool revoked;
    char expires[40]; /* RFC 3339 UTC; "" = never */
} fp_token;

/* Create a token; the secret text to hand out (fpt_<id>_<secret>) goes to out_text. */
fp_status fp_store_token_create(fp_store *st, const char *role, const char *ns,
                                const char *description, char *out_text, size_t out_len,
                                fp_token *out);
fp_status fp_store_token_revoke(fp_store *st, const char *id);
/* Make a token expire at `expires` (fp_time_rfc3339 text, "" for never): from then on it
 * is refused as a revoked one is. FP_ERR_NOT_FOUND for an unknown id. */
fp_status fp_store_token_expire_at(fp_store *st, const char *id, const char *expires);
typedef bool (*fp_token_cb)(void *ctx, const fp_token *tok);
fp_status fp_store_token_list(fp_store *st, fp_token_cb cb, void *ctx);
/* Check a presented token; FP_ERR_UNAUTHORIZED if unknown, malformed or revoked. */
fp_status fp_store_token_check(fp_store *st, const char *text, fp_token *out);
/* Whether the token with this id (checked before) is still there, not revoked nor expired, for
 * streams that outlive their request. A database error answers true: a busy store
 * must not cut off every stream. */
bool fp_store_token_live(fp_store *st, const char *id);

#endif
