/*
 * api_secrets.c - secrets (write-only values that connectors may read) and the
 * audit log.
 *
 * A secret's values live in their own table and leave the registry only
 * through GET .../secrets/{name}/value, for admin and connector tokens. Lists,
 * GETs, watch events and the audit log carry names, keys and times only.
 */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp_alloc.h"
#include "fp_time.h"

/* Parse ?top= (1..1000, default 100); false with r filled when out of range. */
static bool page_size(fp_req *q, fp_resp *r, int *out)
{
    const char *z = fp_req_arg(q, "top");
    char *end;
    long v;

    *out = 100;
    if (!z)
        return true;
    v = strtol(z, &end, 10);
    if (!*z || *end || v < 1 || v > 1000) {
        fp_resp_error(r, 400, "InvalidQuery", "top", NULL, "top must be an integer from 1 to 1000");
        return false;
    }
    *out = (int)v;
    return true;
}

/* The metadata document of a secret (no values). Returns a new reference. */
static json_t *secret_meta(const char *name, const char *data_json, const char *created,
                           const char *modified)
{
    json_t *data = json_loads(data_json ? data_json : "{}", 0, NULL);
    json_t *keys = json_array();
    const char *k;
    json_t *v;

    json_object_foreach(data, k, v) json_array_append_new(keys, json_string(k));
    json_decref(data);
    return json_pack("{s:s, s:s, s:{s:o, s:s, s:s}}", "name", name, "type",
                     "Microsoft.DeviceRegistry/namespaces/secrets", "properties", "keys", keys,
                     "createdAt", created ? created : "", "lastModifiedAt",
                     modified ? modified : "");
}

typedef struct secret_list_ctx {
    json_t *arr;
    int want;
    bool more;
    char last[300];
} secret_list_ctx;

static bool list_secret(void *ctx, const char *name, const char *data, const char *created,
                        const char *modified)
{
    secret_list_ctx *c = ctx;
    if ((int)json_array_size(c->arr) == c->want) {
        c->more = true;
        return false;
    }
    json_array_append_new(c->arr, secret_meta(name, data, created, modified));
    snprintf(c->last, sizeof c->last, "%s", name);
    return true;
}

/* Parse {"data": {k: "v"}} or {"value": "v"} into a data object (new reference). */
static json_t *secret_data(json_t *body, fp_resp *r)
{
    json_t *data = json_object_get(body, "data");
    json_t *value = json_object_get(body, "value");
    const char *k;
    json_t *v;

    if (value) {
        if (!json_is_string(value)) {
            fp_resp_error(r, 400, "InvalidField", "value", NULL, "value must be a string");
            return NULL;
        }
        return json_pack("{s:O}", "value", value);
    }
    if (!json_is_object(data) || json_object_size(data) == 0) {
        fp_resp_error(r, 400, "MissingField", "data", NULL,
                      "send {\"data\": {\"key\": \"value\"}} or {\"value\": \"...\"}");
        return NULL;
    }
    json_object_foreach(data, k, v)
    {
        if (!json_is_string(v)) {
            char tgt[300];
            snprintf(tgt, sizeof tgt, "data.%s", k);
            fp_resp_error(r, 400, "InvalidField", tgt, NULL, "%s must be a string", tgt);
            return NULL;
        }
        if (!*k || strchr(k, '/')) {
            fp_resp_error(r, 400, "InvalidField", "data", NULL,
                          "secret keys must be non-empty and have no '/': '%s'", k);
            return NULL;
        }
    }
    return json_incref(data);
}

typedef struct users_ctx {
    const char *secret;
    bool found;
} users_ctx;

static fp_status find_secret_ref(void *ctx, const fp_ref *ref, fp_verr *err)
{
    users_ctx *c = ctx;
    if (ref->type == FP_REF_SECRET && strcmp(ref->name, c->secret) == 0)
        c->found = true;
    return FP_OK;
}

typedef struct scan_ctx {
    const char *secret;
    json_t *users;
} scan_ctx;

static bool scan_device(void *ctx, const fp_rec *rec)
{
    scan_ctx *c = ctx;
    json_t *doc = json_loadb(rec->doc, rec->doc_len, 0, NULL);
    users_ctx u = {.secret = c->secret};
    fp_verr err;

    if (doc && fp_model_each_ref(FP_KIND_DEVICE, doc, find_secret_ref, &u, &err) == FP_OK &&
        u.found)
        json_array_append_new(c->users, json_pack("{s:s, s:s, s:s}", "code", "StillReferenced",
                                                  "target", "device", "message", rec->name));
    json_decref(doc);
    return json_array_size(c->users) < 50;
}

/* The devices of ns that refer to secret name, as error details (new reference). */
static json_t *secret_users(fp_store *st, const char *ns, const char *name)
{
    fp_list_query lq = {.kind = FP_KIND_DEVICE, .ns = ns, .limit = 1 << 30};
    scan_ctx c = {.secret = name, .users = json_array()};
    fp_store_list(st, &lq, scan_device, &c);
    return c.users;
}

void fp_api_secret(fp_req *q, fp_resp *r)
{
    fp_store *st = q->reg->store;
    const char *ns = q->seg[3];
    const char *name = q->n_seg >= 6 ? q->seg[5] : NULL;
    bool want_value = q->n_seg == 7 && strcmp(q->seg[6], "value") == 0;
    fp_verr verr = {0};
    char *data = NULL, *created = NULL, *modified = NULL;
    fp_status rc;

    if (q->n_seg == 7 && !want_value) {
        fp_resp_error(r, 404, "NotFound", NULL, NULL, "no such path: %s", q->url);
        return;
    }
    if (!fp_store_exists(st, FP_KIND_NAMESPACE, "", ns)) {
        if (fp_req_can(q, "read", ns, r))
            fp_resp_error(r, 404, "NotFound", NULL, NULL, "namespace '%s' not found", ns);
        return;
    }
    if (name && !fp_model_secret_name_valid(name, &verr)) {
        if (strcmp(q->method, "PUT") == 0)
            fp_resp_verr(r, &verr);
        else
            fp_resp_error(r, 404, "NotFound", NULL, NULL, "secret '%s' not found in namespace '%s'",
                          name, ns);
        return;
    }
    if (!name) {
        secret_list_ctx c = {.arr = json_array(), .want = 100};
        if (strcmp(q->method, "GET") != 0) {
            json_decref(c.arr);
            fp_resp_error(r, 405, "MethodNotAllowed", NULL, NULL,
                          "%s is not allowed on a collection", q->method);
            return;
        }
        if (!fp_req_can(q, "read", ns, r)) {
            json_decref(c.arr);
            return;
        }
        if (!page_size(q, r, &c.want)) {
            json_decref(c.arr);
            return;
        }
        fp_store_secret_list(st, ns, fp_req_arg(q, "skipToken"), 1 << 30, list_secret, &c);
        {
            json_t *out = json_pack("{s:o, s:I}", "value", c.arr, "revision",
                                    (json_int_t)fp_store_revision(st));
            if (c.more) {
                fp_buf link;
                fp_buf_init(&link, 4096);
                fp_buf_printf(&link, "/api/v1/namespaces/%s/secrets?top=%d&skipToken=", ns, c.want);
                fp_buf_url_encode(&link, c.last);
                if (!link.err)
                    json_object_set_new(out, "nextLink", json_string(link.data));
                fp_buf_clear(&link);
            }
            fp_resp_json(r, 200, out);
        }
        return;
    }
    if (strcmp(q->method, "GET") == 0) {
        if (!fp_req_can(q, want_value ? "secret-read" : "read", ns, r))
            return;
        rc = fp_store_secret_get(st, ns, name, &data, &created, &modified);
        if (rc == FP_ERR_NOT_FOUND)
            fp_resp_error(r, 404, "NotFound", NULL, NULL, "secret '%s' not found in namespace '%s'",
                          name, ns);
        else if (rc)
            fp_resp_status(r, rc, "cannot read secret '%s'", name);
        else if (want_value)
            fp_resp_json(r, 200,
                         json_pack("{s:s, s:o}", "name", name, "data", json_loads(data, 0, NULL)));
        else
            fp_resp_json(r, 200, secret_meta(name, data, created, modified));
        goto out;
    }
    if (want_value) {
        fp_resp_error(r, 405, "MethodNotAllowed", NULL, NULL,
                      "values are written with PUT on the secret itself");
        return;
    }
    if (strcmp(q->method, "PUT") == 0 || strcmp(q->method, "DELETE") == 0) {
        bool is_put = q->method[0] == 'P';
        json_t *body = NULL, *sdata = NULL, *meta_doc;
        char now[40], *text = NULL, *meta_text;
        fp_change_meta meta = {.token_id = q->tok.id};
        bool existed;

        if (!fp_req_can(q, "secret-write", ns, r))
            return;
        if (is_put) {
            body = fp_req_json(q, r);
            if (!body)
                return;
            sdata = secret_data(body, r);
            json_decref(body);
            if (!sdata)
                return;
            text = json_dumps(sdata, JSON_COMPACT);
        }
        fp_time_now_rfc3339(now);
        if (fp_store_begin(st)) {
            json_decref(sdata);
            free(text);
            fp_resp_status(r, FP_ERR_IO, "storage is not available");
            return;
        }
        existed = fp_store_secret_get(st, ns, name, NULL, &created, NULL) == FP_OK;
        if (!is_put && !existed) {
            fp_store_rollback(st);
            fp_resp_error(r, 404, "NotFound", NULL, NULL, "secret '%s' not found in namespace '%s'",
                          name, ns);
            goto out;
        }
        if (!is_put) {
            const char *force = fp_req_arg(q, "force");
            json_t *users = secret_users(st, ns, name);
            if (json_array_size(users) && !(force && strcmp(force, "true") == 0)) {
                fp_store_rollback(st);
                fp_resp_error(
                    r, 409, "StillReferenced", NULL, users,
                    "secret '%s' is still used by %zu device%s (%s%s); change them "
                    "first or repeat with ?force=true",
                    name, json_array_size(users), json_array_size(users) == 1 ? "" : "s",
                    json_string_value(json_object_get(json_array_get(users, 0), "message")),
                    json_array_size(users) > 1 ? ", ..." : "");
                goto out;
            }
            json_decref(users);
        }
        rc = is_put ? fp_store_secret_put(st, ns, name, text, now)
                    : fp_store_secret_delete(st, ns, name);
        meta_doc = secret_meta(name, text, existed ? created : now, now);
        meta_text = json_dumps(meta_doc, JSON_COMPACT);
        meta.action = is_put ? "secret-set" : "secret-delete";
        meta.type = !is_put ? FP_CHANGE_DELETED : existed ? FP_CHANGE_MODIFIED : FP_CHANGE_ADDED;
        if (!rc)
            rc = fp_store_record(st, FP_KIND_SECRET, ns, name, meta_text,
                                 fp_store_next_revision(st), &meta);
        if (rc) {
            fp_store_rollback(st);
            fp_resp_status(r, rc, "cannot write secret '%s'", name);
        } else if (fp_store_commit(st)) {
            fp_resp_status(r, FP_ERR_IO, "cannot commit secret '%s'", name);
        } else if (is_put) {
            fp_resp_json(r, existed ? 200 : 201, meta_doc);
            meta_doc = NULL;
        } else {
            r->status = 204;
        }
        json_decref(meta_doc);
        free(meta_text);
        free(text);
        json_decref(sdata);
        goto out;
    }
    fp_resp_error(r, 405, "MethodNotAllowed", NULL, NULL, "%s is not allowed on a secret",
                  q->method);
out:
    fp_free(data);
    fp_free(created);
    fp_free(modified);
}

/* ---------------------------------------------------------------------------
 * Audit
 * ------------------------------------------------------------------------- */

typedef struct audit_ctx {
    json_t *arr;
    int want;
    bool more;
    int64_t last;
} audit_ctx;

static const char *change_type_name(int type)
{
    return type == FP_CHANGE_ADDED ? "ADDED" : type == FP_CHANGE_DELETED ? "DELETED" : "MODIFIED";
}

static bool audit_row(void *ctx, const fp_change *ch)
{
    audit_ctx *c = ctx;
    const char *kind = ch->kind == FP_KIND_SECRET ? "Secret" : fp_kind_name((fp_kind)ch->kind);
    const char *name = ch->name;
    char vname[300];

    if ((int)json_array_size(c->arr) == c->want) {
        c->more = true;
        return false;
    }
    if (ch->kind == FP_KIND_SCHEMA_VERSION && strchr(name, '/')) {
        /* "schema/0000000003" -> "schema/versions/3" */
        const char *slash = strchr(name, '/');
        snprintf(vname, sizeof vname, "%.*s/versions/%lld", (int)(slash - name), name,
                 atoll(slash + 1));
        name = vname;
    }
    json_array_append_new(c->arr,
                          json_pack("{s:I, s:s, s:s?, s:s, s:s, s:s, s:s, s:s}", "revision",
                                    (json_int_t)ch->rev, "time", ch->time, "tokenId", ch->token_id,
                                    "action", ch->action, "change", change_type_name(ch->type),
                                    "kind", kind, "namespace", ch->ns, "name", name));
    c->last = ch->rev;
    return true;
}

void fp_api_audit(fp_req *q, fp_resp *r)
{
    fp_audit_query aq = {0};
    audit_ctx c = {0};
    const char *skip = fp_req_arg(q, "skipToken");
    char vname[300];
    json_t *out;

    if (strcmp(q->method, "GET") != 0) {
        fp_resp_error(r, 405, "MethodNotAllowed", NULL, NULL, "the audit log is read-only");
        return;
    }
    aq.ns = fp_req_arg(q, "namespace");
    if (q->tok.ns[0] && !aq.ns)
        aq.ns = q->tok.ns;
    if (!fp_req_can(q, "audit", aq.ns, r))
        return;
    aq.kind = fp_req_arg(q, "kind");
    aq.name = fp_req_arg(q, "name");
    if (aq.name && strstr(aq.name, "/versions/")) {
        /* Records show "schema/versions/3"; the store keys versions "schema/0000000003". */
        const char *v = strstr(aq.name, "/versions/");
        snprintf(vname, sizeof vname, "%.*s/%010lld", (int)(v - aq.name), aq.name, atoll(v + 10));
        aq.name = vname;
    }
    aq.token_id = fp_req_arg(q, "tokenId");
    aq.action = fp_req_arg(q, "action");
    aq.exclude_action = fp_req_arg(q, "excludeAction");
    if (skip) {
        /* A token from nextLink is a revision; anything else would read as 0 and restart
         * silently at the newest record, so a client would page the same records forever. */
        char *end;
        long long before = strtoll(skip, &end, 10);
        if (!*skip || *end || before <= 0) {
            fp_resp_error(r, 400, "InvalidQuery", "skipToken", NULL,
                          "skipToken must be the one from the previous page's nextLink (a "
                          "positive revision)");
            return;
        }
        aq.before = before;
    }
    if (!page_size(q, r, &c.want))
        return;
    aq.limit = c.want + 1;
    c.arr = json_array();
    if (fp_store_audit(q->reg->store, &aq, audit_row, &c)) {
        json_decref(c.arr);
        fp_resp_status(r, FP_ERR_IO, "cannot read the audit log");
        return;
    }
    out = json_pack("{s:o}", "value", c.arr);
    if (c.more) {
        static const char *const k_keys[] = {"namespace", "kind",   "name",
                                             "tokenId",   "action", "excludeAction"};
        fp_buf link;
        fp_buf_init(&link, 8192);
        fp_buf_printf(&link, "/api/v1/audit?top=%d&skipToken=%lld", c.want, (long long)c.last);
        for (size_t i = 0; i < sizeof k_keys / sizeof k_keys[0]; i++) {
            const char *v = fp_req_arg(q, k_keys[i]);
            if (!v && i == 0)
                v = aq.ns;
            if (!v)
                continue;
            fp_buf_printf(&link, "&%s=", k_keys[i]);
            fp_buf_url_encode(&link, v);
        }
        if (!link.err)
            json_object_set_new(out, "nextLink", json_string(link.data));
        fp_buf_clear(&link);
    }
    fp_resp_json(r, 200, out);
}
