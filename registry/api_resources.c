/*
 * api_resources.c - GET, PUT, PATCH, DELETE and list of the registry's
 * resources (namespaces, devices, assets, discovered devices and assets,
 * schemas and schema versions), and their status subresource.
 *
 * A write runs in one store transaction: read the current document, check the
 * preconditions, validate the new one (model.h), check its references, build
 * the stored document (server-set fields, systemData, version, ETag) and write
 * it with its change record. A rejected request changes nothing.
 *
 * Stored documents are compact JSON text; GET and list send them as stored,
 * without parsing, which keeps reads cheap.
 */
#include "api.h"
#include "etag.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp_alloc.h"
#include "fp_log.h"
#include "fp_time.h"

#define MAX_PAGE 1000
#define DEFAULT_PAGE 100

/* What a request path names. */
typedef struct target {
    fp_kind kind;
    const char *ns;      /* "" for namespaces */
    const char *name;    /* URL name, NULL for a collection */
    const char *schema;  /* schema versions: the schema's name */
    char key[300];       /* store key: name, or "<schema>/<%010lld>" for versions */
    char coll_path[512]; /* the collection's URL path */
} target;

/* Resolve q's path into t; false (with r filled) if it names nothing. */
static bool resolve(fp_req *q, fp_resp *r, target *t)
{
    const char *const *s = q->seg;
    int n = q->n_seg;

    memset(t, 0, sizeof *t);
    if (q->route == FP_ROUTE_NAMESPACES) {
        t->kind = FP_KIND_NAMESPACE;
        t->ns = "";
        t->name = n == 4 ? s[3] : NULL;
        snprintf(t->coll_path, sizeof t->coll_path, "/api/v1/namespaces");
    } else if (q->route == FP_ROUTE_SCHEMA_VERSIONS) {
        t->kind = FP_KIND_SCHEMA_VERSION;
        t->ns = s[3];
        t->schema = s[5];
        t->name = n == 8 ? s[7] : NULL;
        snprintf(t->coll_path, sizeof t->coll_path, "/api/v1/namespaces/%s/schemas/%s/versions",
                 s[3], s[5]);
    } else {
        if (!fp_kind_parse(s[4], &t->kind) || t->kind == FP_KIND_NAMESPACE ||
            t->kind == FP_KIND_SCHEMA_VERSION || strcmp(fp_kind_collection(t->kind), s[4]) != 0) {
            fp_resp_error(r, 404, "NotFound", NULL, NULL, "no such collection: %s", s[4]);
            return false;
        }
        t->ns = s[3];
        t->name = n == 6 ? s[5] : NULL;
        snprintf(t->coll_path, sizeof t->coll_path, "/api/v1/namespaces/%s/%s", s[3], s[4]);
    }
    if (t->name) {
        fp_verr err = {0};
        if (!fp_model_name_valid(t->kind, t->name, &err)) {
            if (strcmp(q->method, "GET") == 0 || strcmp(q->method, "DELETE") == 0)
                fp_resp_error(r, 404, "NotFound", NULL, NULL, "%s '%s' not found",
                              fp_kind_name(t->kind), t->name);
            else
                fp_resp_verr(r, &err);
            return false;
        }
        if (t->kind == FP_KIND_SCHEMA_VERSION)
            snprintf(t->key, sizeof t->key, "%s/%010lld", t->schema, atoll(t->name));
        else
            snprintf(t->key, sizeof t->key, "%s", t->name);
    }
    return true;
}

/* "Application" for connector tokens, "User" otherwise (systemData). */
static const char *actor_type(const fp_req *q)
{
    return strcmp(q->tok.role, "connector") == 0 ? "Application" : "User";
}

static void set_etag(fp_resp *r, int64_t spec_rev)
{
    fp_etag_format(spec_rev, r->etag, sizeof r->etag);
}

/* Answer a stored record as the body. */
static void resp_rec(fp_resp *r, int http, fp_rec *rec)
{
    r->status = http;
    r->body = rec->doc;
    r->body_len = rec->doc_len;
    rec->doc = NULL;
    r->content_type = "application/json";
    set_etag(r, rec->spec_rev);
}

/* Check If-Match / If-None-Match against the current record (NULL if absent). */
static bool preconditions_ok(fp_req *q, fp_resp *r, const fp_rec *cur, const target *t)
{
    const char *im = fp_req_header(q, MHD_HTTP_HEADER_IF_MATCH);
    const char *inm = fp_req_header(q, MHD_HTTP_HEADER_IF_NONE_MATCH);
    char etag[40] = "";

    if (cur)
        fp_etag_format(cur->spec_rev, etag, sizeof etag);
    if (inm && fp_etag_if_none_match_fails(inm, etag, cur != NULL)) {
        fp_resp_error(r, 412, "PreconditionFailed", NULL, NULL,
                      "%s '%s' exists already (If-None-Match: %s)", fp_kind_name(t->kind), t->name,
                      inm);
        return false;
    }
    if (im && !fp_etag_if_match(im, etag, cur != NULL)) {
        if (!cur)
            fp_resp_error(r, 412, "PreconditionFailed", NULL, NULL,
                          "%s '%s' does not exist (If-Match)", fp_kind_name(t->kind), t->name);
        else
            fp_resp_error(r, 412, "PreconditionFailed", NULL, NULL,
                          "%s '%s' was changed by someone else (ETag is now %s, the request "
                          "has If-Match: %s); read it again and retry",
                          fp_kind_name(t->kind), t->name, etag, im);
        return false;
    }
    return true;
}

/* Does kind carry a server-maintained properties.version? */
static bool has_spec_version(fp_kind kind)
{
    return kind == FP_KIND_DEVICE || kind == FP_KIND_ASSET;
}

/* Does kind have a status subresource? */
static bool has_status(fp_kind kind)
{
    return kind == FP_KIND_DEVICE || kind == FP_KIND_ASSET || kind == FP_KIND_DISCOVERED_DEVICE ||
           kind == FP_KIND_DISCOVERED_ASSET;
}

static bool has_uuid(fp_kind kind)
{
    return kind == FP_KIND_NAMESPACE || kind == FP_KIND_DEVICE || kind == FP_KIND_ASSET ||
           kind == FP_KIND_DISCOVERED_DEVICE || kind == FP_KIND_DISCOVERED_ASSET;
}

typedef struct ref_ctx {
    fp_store *store;
    const char *ns;
} ref_ctx;

/* Check one reference against the store (inside the transaction). */
static fp_status check_ref(void *ctx, const fp_ref *ref, fp_verr *err)
{
    ref_ctx *c = ctx;
    fp_status rc;

    if (ref->type == FP_REF_SECRET) {
        if (!fp_store_secret_exists(c->store, c->ns, ref->name))
            return fp_verr_set(err, FP_ERR_INVALID, "UnknownReference", ref->target,
                               "%s names secret '%s', which does not exist in namespace '%s'",
                               ref->target, ref->name, c->ns);
        return FP_OK;
    }
    rc = fp_store_device_endpoint(c->store, c->ns, ref->name, ref->endpoint ? ref->endpoint : "");
    if (rc == FP_ERR_NOT_FOUND)
        return fp_verr_set(err, FP_ERR_INVALID, "UnknownReference", ref->target,
                           "%s names device '%s', which does not exist in namespace '%s'",
                           ref->target, ref->name, c->ns);
    if (rc == FP_ERR_INVALID)
        return fp_verr_set(err, FP_ERR_INVALID, "UnknownReference", ref->target,
                           "device '%s' has no inbound endpoint '%s'", ref->name,
                           ref->endpoint ? ref->endpoint : "");
    if (rc)
        return fp_verr_set(err, rc, fp_status_name(rc), ref->target, "cannot read device '%s'",
                           ref->name);
    return FP_OK;
}

/* The parent of t must exist: its namespace, and for versions its schema. */
static bool parent_exists(fp_req *q, fp_resp *r, const target *t)
{
    if (!fp_kind_namespaced(t->kind))
        return true;
    if (!fp_store_exists(q->reg->store, FP_KIND_NAMESPACE, "", t->ns)) {
        fp_resp_error(r, 404, "NotFound", NULL, NULL, "namespace '%s' not found", t->ns);
        return false;
    }
    if (t->kind == FP_KIND_SCHEMA_VERSION &&
        !fp_store_exists(q->reg->store, FP_KIND_SCHEMA, t->ns, t->schema)) {
        fp_resp_error(r, 404, "NotFound", NULL, NULL, "schema '%s' not found in namespace '%s'",
                      t->schema, t->ns);
        return false;
    }
    return true;
}

/* Fill server-set fields of the document to store. old may be NULL. */
static void stamp(fp_req *q, const target *t, json_t *doc, const json_t *old, bool spec_changed,
                  int64_t spec_rev, const char *now)
{
    json_t *props = json_object_get(doc, "properties");
    json_t *oprops = json_object_get(old, "properties");
    json_t *osd = json_object_get(old, "systemData");
    char etag[40];

    if (!json_is_object(props)) {
        props = json_object();
        json_object_set_new(doc, "properties", props);
    }
    json_object_set_new(doc, "name", json_string(t->name));
    json_object_set_new(doc, "type", json_string(fp_kind_arm_type(t->kind)));
    fp_etag_format(spec_rev, etag, sizeof etag);
    json_object_set_new(doc, "etag", json_string(etag));
    if (has_uuid(t->kind)) {
        json_t *u = json_object_get(oprops, "uuid");
        if (json_is_string(u)) {
            json_object_set(props, "uuid", u);
        } else {
            char uuid[FP_UUID_LEN];
            fp_uuid4(uuid);
            json_object_set_new(props, "uuid", json_string(uuid));
        }
    }
    if (has_spec_version(t->kind)) {
        json_int_t v = json_integer_value(json_object_get(oprops, "version"));
        json_object_set_new(props, "version", json_integer(!old ? 1 : spec_changed ? v + 1 : v));
    }
    if (has_status(t->kind)) {
        /* Status belongs to the connectors: a spec write keeps it as it was. */
        if (json_object_get(oprops, "status"))
            json_object_set(props, "status", json_object_get(oprops, "status"));
        else
            json_object_del(props, "status");
    }
    if (t->kind == FP_KIND_SCHEMA_VERSION) {
        const char *content = json_string_value(json_object_get(props, "schemaContent"));
        unsigned char md[SHA256_DIGEST_LENGTH];
        char hex[65];
        SHA256((const unsigned char *)(content ? content : ""), content ? strlen(content) : 0, md);
        for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
            snprintf(hex + 2 * i, 3, "%02x", md[i]);
        json_object_set_new(props, "hash", json_string(hex));
    }
    json_object_set_new(props, "provisioningState", json_string("Succeeded"));
    if (json_is_object(osd)) {
        json_t *sd = json_deep_copy(osd);
        if (spec_changed) {
            json_object_set_new(sd, "lastModifiedBy", json_string(q->tok.id));
            json_object_set_new(sd, "lastModifiedByType", json_string(actor_type(q)));
            json_object_set_new(sd, "lastModifiedAt", json_string(now));
        }
        json_object_set_new(doc, "systemData", sd);
    } else {
        json_object_set_new(doc, "systemData",
                            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "createdBy", q->tok.id,
                                      "createdByType", actor_type(q), "createdAt", now,
                                      "lastModifiedBy", q->tok.id, "lastModifiedByType",
                                      actor_type(q), "lastModifiedAt", now));
    }
}

/* Fill the index values of doc (filters, reference checks). names is a buffer
 * the caller clears. */
static void index_of(fp_kind kind, const json_t *doc, fp_index *ix, char *types, size_t types_len,
                     fp_buf *names)
{
    const char *key;
    json_t *ep;

    memset(ix, 0, sizeof *ix);
    ix->device_ref = fp_model_device_ref(kind, doc);
    if (!fp_model_endpoint_types(kind, doc, types, types_len))
        types[0] = '\0';
    ix->endpoint_types = types;
    if (kind != FP_KIND_DEVICE)
        return;
    fp_buf_append_str(names, "\n");
    json_object_foreach(
        json_object_get(json_object_get(json_object_get(doc, "properties"), "endpoints"),
                        "inbound"),
        key, ep)
    {
        fp_buf_append_str(names, key);
        fp_buf_append_str(names, "\n");
    }
    ix->endpoint_names = names->err ? NULL : names->data;
}

/* The action a token needs to write kind. */
static const char *write_action(fp_kind kind)
{
    switch (kind) {
    case FP_KIND_NAMESPACE:
        return "write-namespace";
    case FP_KIND_DEVICE:
    case FP_KIND_ASSET:
        return "write";
    default:
        return "write-discovered";
    }
}

/* PUT (patch == NULL) or PATCH (patch = the merge patch) of one resource. */
static void write_resource(fp_req *q, fp_resp *r, const target *t, json_t *body, bool is_patch)
{
    fp_store *st = q->reg->store;
    fp_rec cur = {0}, out = {0};
    json_t *doc = NULL, *old = NULL;
    fp_verr err = {0};
    bool have_cur, changed;
    char now[40], *text = NULL, types[512];
    fp_change_meta meta = {.token_id = q->tok.id};
    fp_index ix;
    fp_buf names;
    fp_status rc;

    fp_buf_init(&names, 1u << 20);
    if (!is_patch) {
        /* Validate before taking the lock: most of the work, none of the contention. */
        json_t *nm = json_object_get(body, "name");
        if (nm && (!json_is_string(nm) || strcmp(json_string_value(nm), t->name) != 0)) {
            fp_resp_error(r, 400, "InvalidField", "name", NULL,
                          "name in the body ('%s') differs from the name in the path ('%s')",
                          json_is_string(nm) ? json_string_value(nm) : "?", t->name);
            return;
        }
        if (fp_model_normalize(t->kind, body, &err) || fp_model_validate(t->kind, body, &err)) {
            fp_resp_verr(r, &err);
            return;
        }
    }
    if (fp_store_begin(st)) {
        fp_resp_status(r, FP_ERR_IO, "storage is not available; see the registry's log");
        return;
    }
    if (!parent_exists(q, r, t))
        goto out_rollback;
    rc = fp_store_get(st, t->kind, t->ns, t->key, &cur);
    if (rc && rc != FP_ERR_NOT_FOUND) {
        fp_resp_status(r, rc, "cannot read %s '%s'", fp_kind_name(t->kind), t->name);
        goto out_rollback;
    }
    have_cur = rc == FP_OK;
    if (!preconditions_ok(q, r, have_cur ? &cur : NULL, t))
        goto out_rollback;
    if (have_cur) {
        old = json_loadb(cur.doc, cur.doc_len, 0, NULL);
        if (!old) {
            fp_resp_status(r, FP_ERR_INTERNAL, "stored %s '%s' is not valid JSON",
                           fp_kind_name(t->kind), t->name);
            goto out_rollback;
        }
    }
    if (is_patch) {
        if (!have_cur) {
            fp_resp_error(r, 404, "NotFound", NULL, NULL, "%s '%s' not found",
                          fp_kind_name(t->kind), t->name);
            goto out_rollback;
        }
        doc = fp_json_merge_patch(json_deep_copy(old), body);
        if (!doc) {
            fp_resp_status(r, FP_ERR_NOMEM, "out of memory");
            goto out_rollback;
        }
        json_object_set_new(doc, "name", json_string(t->name));
        if (fp_model_normalize(t->kind, doc, &err) || fp_model_validate(t->kind, doc, &err)) {
            fp_resp_verr(r, &err);
            goto out_rollback;
        }
    } else {
        doc = json_incref(body);
    }
    if (old && fp_model_check_create_only(t->kind, old, doc, &err)) {
        fp_resp_verr(r, &err);
        goto out_rollback;
    }
    if (t->kind == FP_KIND_SCHEMA_VERSION && old &&
        !json_equal(json_object_get(json_object_get(old, "properties"), "schemaContent"),
                    json_object_get(json_object_get(doc, "properties"), "schemaContent"))) {
        fp_resp_error(r, 409, "Conflict", "properties.schemaContent", NULL,
                      "version %s of schema '%s' exists with other content; a schema version "
                      "never changes: add a new version",
                      t->name, t->schema);
        goto out_rollback;
    }
    {
        ref_ctx rc_ctx = {st, t->ns};
        if (fp_model_each_ref(t->kind, doc, check_ref, &rc_ctx, &err)) {
            fp_resp_verr(r, &err);
            goto out_rollback;
        }
    }
    changed = !old || fp_model_spec_changed(t->kind, old, doc);
    fp_time_now_rfc3339(now);
    out.kind = t->kind;
    out.ns = (char *)t->ns;
    out.name = (char *)t->key;
    if (!changed) {
        stamp(q, t, doc, old, false, cur.spec_rev, now);
        if (json_equal(old, doc)) {
            /* Nothing changed: answer the stored document, write nothing. */
            fp_store_rollback(st);
            resp_rec(r, 200, &cur);
            goto out;
        }
    }
    out.mod_rev = fp_store_next_revision(st);
    out.spec_rev = changed ? out.mod_rev : cur.spec_rev;
    stamp(q, t, doc, old, changed, out.spec_rev, now);
    text = json_dumps(doc, JSON_COMPACT);
    if (!text) {
        fp_resp_status(r, FP_ERR_NOMEM, "out of memory");
        goto out_rollback;
    }
    out.doc = text;
    out.doc_len = strlen(text);
    meta.type = have_cur ? FP_CHANGE_MODIFIED : FP_CHANGE_ADDED;
    meta.action = !have_cur ? "create" : is_patch ? "update" : "replace";
    index_of(t->kind, doc, &ix, types, sizeof types, &names);
    rc = fp_store_put(st, &out, &ix, &meta);
    if (rc) {
        fp_resp_status(r, rc, "cannot store %s '%s'", fp_kind_name(t->kind), t->name);
        goto out_rollback;
    }
    if (fp_store_commit(st)) {
        fp_resp_status(r, FP_ERR_IO, "cannot commit %s '%s'", fp_kind_name(t->kind), t->name);
        goto out;
    }
    r->status = have_cur ? 200 : 201;
    r->body = text;
    r->body_len = out.doc_len;
    r->content_type = "application/json";
    text = NULL;
    set_etag(r, out.spec_rev);
    if (!have_cur)
        snprintf(r->location, sizeof r->location, "%s/%s", t->coll_path, t->name);
    goto out;

out_rollback:
    fp_store_rollback(st);
out:
    free(text);
    fp_buf_clear(&names);
    fp_rec_clear(&cur);
    json_decref(doc);
    json_decref(old);
}

/* ---------------------------------------------------------------------------
 * Delete
 * ------------------------------------------------------------------------- */

typedef struct name_list {
    char **names;
    int n, cap;
    bool truncated;
    int max;
} name_list;

static bool collect_name(void *ctx, const fp_rec *rec)
{
    name_list *l = ctx;
    if (l->n >= l->max) {
        l->truncated = true;
        return false;
    }
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        char **p = fp_realloc(l->names, sizeof *p * (size_t)cap);
        if (!p)
            return false;
        l->names = p;
        l->cap = cap;
    }
    l->names[l->n] = fp_strdup(rec->name);
    if (l->names[l->n])
        l->n++;
    return true;
}

static void name_list_clear(name_list *l)
{
    for (int i = 0; i < l->n; i++)
        fp_free(l->names[i]);
    fp_free(l->names);
    memset(l, 0, sizeof *l);
}

/* Delete one stored resource with its change record (inside the transaction). */
static fp_status delete_one(fp_req *q, int kind, const char *ns, const char *key,
                            const char *action)
{
    fp_store *st = q->reg->store;
    fp_change_meta meta = {.token_id = q->tok.id, .action = action, .type = FP_CHANGE_DELETED};
    fp_rec rec;
    fp_status rc = fp_store_get(st, kind, ns, key, &rec);

    if (rc)
        return rc;
    rc = fp_store_delete(st, kind, ns, key, rec.doc, fp_store_next_revision(st), &meta);
    fp_rec_clear(&rec);
    return rc;
}

/* Delete every resource of kind in ns whose key starts with prefix (or refers to
 * device_ref); inside the transaction. */
static fp_status delete_all(fp_req *q, int kind, const char *ns, const char *prefix,
                            const char *device_ref)
{
    fp_list_query lq = {
        .kind = kind, .ns = ns, .prefix = prefix, .device_ref = device_ref, .limit = 1 << 30};
    name_list l = {.max = 1 << 30};
    fp_status rc = fp_store_list(q->reg->store, &lq, collect_name, &l);

    for (int i = 0; !rc && i < l.n; i++)
        rc = delete_one(q, kind, ns, l.names[i], "delete");
    name_list_clear(&l);
    return rc;
}

static bool collect_secret(void *ctx, const char *name, const char *data, const char *c,
                           const char *m)
{
    fp_rec rec = {.name = (char *)name};
    return collect_name(ctx, &rec);
}

static void delete_resource(fp_req *q, fp_resp *r, const target *t)
{
    fp_store *st = q->reg->store;
    const char *cascade = fp_req_arg(q, "cascade");
    bool do_cascade = cascade && (strcmp(cascade, "true") == 0 || strcmp(cascade, "1") == 0);
    fp_rec cur = {0};
    fp_status rc;

    if (fp_store_begin(st)) {
        fp_resp_status(r, FP_ERR_IO, "storage is not available; see the registry's log");
        return;
    }
    rc = fp_store_get(st, t->kind, t->ns, t->key, &cur);
    if (rc == FP_ERR_NOT_FOUND) {
        fp_resp_error(r, 404, "NotFound", NULL, NULL, "%s '%s' not found", fp_kind_name(t->kind),
                      t->name);
        goto out_rollback;
    }
    if (rc) {
        fp_resp_status(r, rc, "cannot read %s '%s'", fp_kind_name(t->kind), t->name);
        goto out_rollback;
    }
    if (!preconditions_ok(q, r, &cur, t))
        goto out_rollback;

    if (t->kind == FP_KIND_DEVICE) {
        fp_list_query lq = {
            .kind = FP_KIND_ASSET, .ns = t->ns, .device_ref = t->name, .limit = 1 << 30};
        name_list l = {.max = do_cascade ? 1 << 30 : 50};
        fp_store_list(st, &lq, collect_name, &l);
        if (l.n && !do_cascade) {
            json_t *details = json_array();
            for (int i = 0; i < l.n; i++)
                json_array_append_new(
                    details, json_pack("{s:s, s:s, s:s}", "code", "StillReferenced", "target",
                                       "properties.deviceRef", "message", l.names[i]));
            fp_resp_error(r, 409, "StillReferenced", NULL, details,
                          "device '%s' is still referenced by %s%d asset%s (%s%s); delete them "
                          "first or repeat with ?cascade=true",
                          t->name, l.truncated ? "more than " : "", l.n, l.n == 1 ? "" : "s",
                          l.names[0], l.n > 1 ? ", ..." : "");
            name_list_clear(&l);
            goto out_rollback;
        }
        for (int i = 0; i < l.n && !rc; i++)
            rc = delete_one(q, FP_KIND_ASSET, t->ns, l.names[i], "delete");
        name_list_clear(&l);
    } else if (t->kind == FP_KIND_NAMESPACE) {
        int64_t n_total = 0;
        for (int k = FP_KIND_DEVICE; k < FP_KIND_COUNT; k++) {
            int64_t n = 0;
            fp_store_count(st, k, t->name, &n);
            n_total += n;
        }
        {
            name_list sl = {.max = 1 << 30};
            fp_store_secret_list(st, t->name, NULL, 1 << 30, collect_secret, &sl);
            n_total += sl.n;
            if (n_total && !do_cascade) {
                fp_resp_error(r, 409, "StillReferenced", NULL, NULL,
                              "namespace '%s' still holds %lld resources; delete them first or "
                              "repeat with ?cascade=true",
                              t->name, (long long)n_total);
                name_list_clear(&sl);
                goto out_rollback;
            }
            /* Assets before devices, versions with their schemas. */
            static const int k_order[] = {FP_KIND_ASSET,          FP_KIND_DISCOVERED_ASSET,
                                          FP_KIND_DEVICE,         FP_KIND_DISCOVERED_DEVICE,
                                          FP_KIND_SCHEMA_VERSION, FP_KIND_SCHEMA};
            for (size_t i = 0; !rc && i < sizeof k_order / sizeof k_order[0]; i++)
                rc = delete_all(q, k_order[i], t->name, NULL, NULL);
            for (int i = 0; !rc && i < sl.n; i++) {
                fp_change_meta meta = {
                    .token_id = q->tok.id, .action = "secret-delete", .type = FP_CHANGE_DELETED};
                rc = fp_store_secret_delete(st, t->name, sl.names[i]);
                if (!rc)
                    rc = fp_store_record(st, FP_KIND_SECRET, t->name, sl.names[i], NULL,
                                         fp_store_next_revision(st), &meta);
            }
            name_list_clear(&sl);
        }
    } else if (t->kind == FP_KIND_SCHEMA) {
        char prefix[300];
        snprintf(prefix, sizeof prefix, "%s/", t->name);
        rc = delete_all(q, FP_KIND_SCHEMA_VERSION, t->ns, prefix, NULL);
    }
    if (!rc)
        rc = delete_one(q, t->kind, t->ns, t->key, "delete");
    if (rc) {
        fp_resp_status(r, rc, "cannot delete %s '%s'", fp_kind_name(t->kind), t->name);
        goto out_rollback;
    }
    if (fp_store_commit(st)) {
        fp_resp_status(r, FP_ERR_IO, "cannot commit the delete of %s '%s'", fp_kind_name(t->kind),
                       t->name);
        goto out;
    }
    r->status = 204;
    goto out;

out_rollback:
    fp_store_rollback(st);
out:
    fp_rec_clear(&cur);
}

/* ---------------------------------------------------------------------------
 * List
 * ------------------------------------------------------------------------- */

typedef struct tag_filter {
    char key[128];
    const char *value; /* NULL: key present */
    char value_buf[256];
} tag_filter;

typedef struct list_ctx {
    fp_buf *out;
    int want;  /* page size */
    int n;     /* documents written */
    bool more; /* a further match exists */
    char last[300];
    tag_filter tags[8];
    int n_tags;
    bool too_many_tags;
    const char *exact; /* only this name (namespace-limited tokens), or NULL */
} list_ctx;

static enum MHD_Result collect_tag(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    list_ctx *c = cls;
    tag_filter *f;
    const char *eq;

    if (strcmp(key, "tag") != 0 || !value)
        return MHD_YES;
    if (c->n_tags >= 8) {
        c->too_many_tags = true;
        return MHD_YES;
    }
    f = &c->tags[c->n_tags++];
    eq = strchr(value, '=');
    if (!eq)
        eq = strchr(value, ':');
    if (eq) {
        snprintf(f->key, sizeof f->key, "%.*s", (int)(eq - value), value);
        snprintf(f->value_buf, sizeof f->value_buf, "%s", eq + 1);
        f->value = f->value_buf;
    } else {
        snprintf(f->key, sizeof f->key, "%s", value);
    }
    return MHD_YES;
}

/* Does the document pass the tag filters? */
static bool tags_match(list_ctx *c, const fp_rec *rec)
{
    json_t *doc, *tags;
    bool ok = true;

    if (!c->n_tags)
        return true;
    doc = json_loadb(rec->doc, rec->doc_len, 0, NULL);
    tags = json_object_get(doc, "tags");
    for (int i = 0; ok && i < c->n_tags; i++) {
        json_t *v = json_object_get(tags, c->tags[i].key);
        ok = v && (!c->tags[i].value ||
                   (json_is_string(v) && strcmp(json_string_value(v), c->tags[i].value) == 0));
    }
    json_decref(doc);
    return ok;
}

static bool list_row(void *ctx, const fp_rec *rec)
{
    list_ctx *c = ctx;
    if (c->exact && strcmp(rec->name, c->exact) != 0)
        return true;
    if (!tags_match(c, rec))
        return true;
    if (c->n == c->want) {
        c->more = true;
        return false;
    }
    if (c->n)
        fp_buf_append(c->out, ",", 1);
    fp_buf_append(c->out, rec->doc, rec->doc_len);
    snprintf(c->last, sizeof c->last, "%s", rec->name);
    c->n++;
    return true;
}

/* Parse a positive integer query parameter; false (r filled) if malformed. */
static bool int_arg(fp_req *q, fp_resp *r, const char *key, long lo, long hi, long *out)
{
    const char *z = fp_req_arg(q, key);
    char *end;
    long v;

    if (!z)
        return true;
    v = strtol(z, &end, 10);
    if (!*z || *end || v < lo || v > hi) {
        fp_resp_error(r, 400, "InvalidQuery", key, NULL, "%s must be an integer from %ld to %ld",
                      key, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

static void list_resources(fp_req *q, fp_resp *r, const target *t)
{
    fp_buf b;
    list_ctx c = {0};
    long top = DEFAULT_PAGE;
    char prefix[300], ep_type[200];
    fp_list_query lq = {.kind = t->kind, .ns = t->ns, .limit = 1 << 30};
    const char *skip = fp_req_arg(q, "skipToken");
    const char *name_prefix = fp_req_arg(q, "namePrefix");
    const char *et = fp_req_arg(q, "endpointType");
    int64_t revision;
    fp_status rc;

    if (!int_arg(q, r, "top", 1, MAX_PAGE, &top))
        return;
    if (t->kind == FP_KIND_NAMESPACE && q->tok.ns[0]) {
        /* A namespace-limited token lists its own namespace only. */
        lq.prefix = q->tok.ns;
        c.exact = q->tok.ns;
    }
    if (t->kind != FP_KIND_NAMESPACE || !q->tok.ns[0]) {
        if (t->kind == FP_KIND_SCHEMA_VERSION) {
            snprintf(prefix, sizeof prefix, "%s/", t->schema);
            lq.prefix = prefix;
        } else if (name_prefix) {
            lq.prefix = name_prefix;
        }
    }
    if (et) {
        snprintf(ep_type, sizeof ep_type, " %s ", et);
        for (char *p = ep_type; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        lq.endpoint_type = ep_type;
    }
    lq.device_ref = fp_req_arg(q, "deviceRef");
    lq.after = skip;
    if (!parent_exists(q, r, t))
        return;
    MHD_get_connection_values(q->conn, MHD_GET_ARGUMENT_KIND, collect_tag, &c);
    if (c.too_many_tags) {
        fp_resp_error(r, 400, "InvalidQuery", "tag", NULL, "at most 8 tag filters per request");
        return;
    }
    fp_buf_init(&b, 256u << 20);
    c.out = &b;
    c.want = (int)top;
    revision = fp_store_revision(q->reg->store);
    fp_buf_append_str(&b, "{\"value\":[");
    rc = fp_store_list(q->reg->store, &lq, list_row, &c);
    if (rc) {
        fp_buf_clear(&b);
        fp_resp_status(r, rc, "cannot list %s", fp_kind_collection(t->kind));
        return;
    }
    fp_buf_append_str(&b, "]");
    if (c.more && c.last[0]) {
        /* nextLink keeps the filters and moves the skipToken on. */
        fp_buf_printf(&b, ",\"nextLink\":\"%s?top=%ld&skipToken=", t->coll_path, top);
        fp_buf_url_encode(&b, c.last);
        if (name_prefix) {
            fp_buf_append_str(&b, "&namePrefix=");
            fp_buf_url_encode(&b, name_prefix);
        }
        if (et) {
            fp_buf_append_str(&b, "&endpointType=");
            fp_buf_url_encode(&b, et);
        }
        if (lq.device_ref) {
            fp_buf_append_str(&b, "&deviceRef=");
            fp_buf_url_encode(&b, lq.device_ref);
        }
        for (int i = 0; i < c.n_tags; i++) {
            fp_buf_append_str(&b, "&tag=");
            fp_buf_url_encode(&b, c.tags[i].key);
            if (c.tags[i].value) {
                fp_buf_append_str(&b, "%3D");
                fp_buf_url_encode(&b, c.tags[i].value);
            }
        }
        fp_buf_append_str(&b, "\"");
    }
    fp_buf_printf(&b, ",\"revision\":%lld}", (long long)revision);
    fp_resp_buf(r, 200, &b, "application/json");
}

/* ---------------------------------------------------------------------------
 * Entry points
 * ------------------------------------------------------------------------- */

void fp_api_resource(fp_req *q, fp_resp *r)
{
    target t;
    json_t *body;
    const char *m = q->method;

    if (!resolve(q, r, &t))
        return;
    if (!t.name) {
        if (strcmp(m, "GET") != 0) {
            fp_resp_error(r, 405, "MethodNotAllowed", NULL, NULL,
                          "%s is not allowed on a collection; use PUT on %s/NAME", m, t.coll_path);
            return;
        }
        if (!fp_req_can(q, "read",
                        t.kind == FP_KIND_NAMESPACE ? q->tok.ns[0] ? q->tok.ns : NULL : t.ns, r))
            return;
        list_resources(q, r, &t);
        return;
    }
    if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) {
        fp_rec rec;
        fp_status rc;
        if (!fp_req_can(q, "read", t.ns[0] ? t.ns : t.name, r))
            return;
        rc = fp_store_get(q->reg->store, t.kind, t.ns, t.key, &rec);
        if (rc == FP_ERR_NOT_FOUND) {
            fp_resp_error(r, 404, "NotFound", NULL, NULL, "%s '%s' not found%s%s",
                          fp_kind_name(t.kind), t.name, t.ns[0] ? " in namespace " : "", t.ns);
            return;
        }
        if (rc) {
            fp_resp_status(r, rc, "cannot read %s '%s'", fp_kind_name(t.kind), t.name);
            return;
        }
        resp_rec(r, 200, &rec);
        fp_rec_clear(&rec);
        return;
    }
    if (strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0) {
        if (!fp_req_can(q, write_action(t.kind), t.ns[0] ? t.ns : t.name, r))
            return;
        body = fp_req_json(q, r);
        if (!body)
            return;
        write_resource(q, r, &t, body, strcmp(m, "PATCH") == 0);
        json_decref(body);
        return;
    }
    if (strcmp(m, "DELETE") == 0) {
        if (!fp_req_can(q, write_action(t.kind), t.ns[0] ? t.ns : t.name, r))
            return;
        delete_resource(q, r, &t);
        return;
    }
    fp_resp_error(r, 405, "MethodNotAllowed", NULL, NULL, "%s is not allowed on %s", m, q->url);
}

void fp_api_status(fp_req *q, fp_resp *r)
{
    fp_store *st = q->reg->store;
    fp_kind kind;
    const char *ns = q->seg[3], *name = q->seg[5];
    fp_rec cur = {0}, out = {0};
    json_t *body = NULL, *doc = NULL, *status, *props;
    fp_change_meta meta = {.token_id = q->tok.id, .action = "status", .type = FP_CHANGE_MODIFIED};
    char *text = NULL;
    bool is_patch = strcmp(q->method, "PATCH") == 0;
    fp_status rc;

    if (!fp_kind_parse(q->seg[4], &kind) || !has_status(kind) ||
        strcmp(fp_kind_collection(kind), q->seg[4]) != 0) {
        fp_resp_error(r, 404, "NotFound", NULL, NULL, "%s has no status subresource", q->seg[4]);
        return;
    }
    if (strcmp(q->method, "GET") == 0) {
        if (!fp_req_can(q, "read", ns, r))
            return;
        rc = fp_store_get(st, kind, ns, name, &cur);
        if (rc) {
            fp_resp_error(r, fp_status_http(rc), fp_status_name(rc), NULL, NULL,
                          "%s '%s' not found", fp_kind_name(kind), name);
            return;
        }
        doc = json_loadb(cur.doc, cur.doc_len, 0, NULL);
        status = json_object_get(json_object_get(doc, "properties"), "status");
        fp_resp_json(r, 200, status ? json_incref(status) : json_object());
        set_etag(r, cur.spec_rev);
        goto out;
    }
    if (strcmp(q->method, "PUT") != 0 && !is_patch) {
        fp_resp_error(r, 405, "MethodNotAllowed", NULL, NULL,
                      "%s is not allowed on a status; use GET, PUT or PATCH", q->method);
        return;
    }
    if (!fp_req_can(q, "status", ns, r))
        return;
    body = fp_req_json(q, r);
    if (!body)
        return;
    status = json_object_get(json_object_get(body, "properties"), "status");
    if (!status)
        status = body;
    if (!json_is_object(status)) {
        fp_resp_error(r, 400, "InvalidField", "properties.status", NULL,
                      "properties.status must be a JSON object");
        goto out;
    }
    if (fp_store_begin(st)) {
        fp_resp_status(r, FP_ERR_IO, "storage is not available; see the registry's log");
        goto out;
    }
    rc = fp_store_get(st, kind, ns, name, &cur);
    if (rc) {
        fp_resp_error(r, fp_status_http(rc), fp_status_name(rc), NULL, NULL, "%s '%s' not found",
                      fp_kind_name(kind), name);
        goto out_rollback;
    }
    doc = json_loadb(cur.doc, cur.doc_len, 0, NULL);
    props = json_object_get(doc, "properties");
    if (!json_is_object(props)) {
        fp_resp_status(r, FP_ERR_INTERNAL, "stored %s '%s' has no properties", fp_kind_name(kind),
                       name);
        goto out_rollback;
    }
    if (is_patch) {
        json_t *merged =
            fp_json_merge_patch(json_deep_copy(json_object_get(props, "status")), status);
        json_object_set_new(props, "status", merged ? merged : json_object());
    } else {
        json_object_set(props, "status", status);
    }
    text = json_dumps(doc, JSON_COMPACT);
    if (!text) {
        fp_resp_status(r, FP_ERR_NOMEM, "out of memory");
        goto out_rollback;
    }
    out.kind = (int)kind;
    out.ns = (char *)ns;
    out.name = (char *)name;
    out.doc = text;
    out.doc_len = strlen(text);
    out.spec_rev = cur.spec_rev;
    out.mod_rev = fp_store_next_revision(st);
    {
        char types[512];
        fp_index ix;
        fp_buf names;
        fp_buf_init(&names, 1u << 20);
        index_of(kind, doc, &ix, types, sizeof types, &names);
        rc = fp_store_put(st, &out, &ix, &meta);
        fp_buf_clear(&names);
    }
    if (rc) {
        fp_resp_status(r, rc, "cannot store the status of %s '%s'", fp_kind_name(kind), name);
        goto out_rollback;
    }
    if (fp_store_commit(st)) {
        fp_resp_status(r, FP_ERR_IO, "cannot commit the status of %s '%s'", fp_kind_name(kind),
                       name);
        goto out;
    }
    r->status = 200;
    r->body = text;
    r->body_len = out.doc_len;
    r->content_type = "application/json";
    text = NULL;
    set_etag(r, cur.spec_rev);
    goto out;

out_rollback:
    fp_store_rollback(st);
out:
    free(text);
    fp_rec_clear(&cur);
    json_decref(doc);
    json_decref(body);
}
