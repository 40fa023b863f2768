/*
 * cmd_apply.c - `fieldplane apply -f FILE|DIR`: declarative create-or-update of
 * many namespaces, devices and assets at once, from JSON or YAML in the ARM
 * shape (single documents, arrays, {"value": [...]} lists, ARM templates'
 * "resources") or as Kubernetes custom resources (apiVersion
 * namespaces.deviceregistry.microsoft.com/v1, kind Device or Asset, spec).
 *
 * Every file is read and checked before anything is written. Then namespaces
 * go first, devices next and assets last (assets refer to devices). A resource
 * whose spec already holds every field of the document is left alone; others
 * are created with If-None-Match or replaced with If-Match. --dry-run says what
 * would happen and which fields differ.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "client.h"
#include "fp_alloc.h"

static const fp_flag apply_flags[] = {
    {"file", 'f', FP_FLAG_LIST, FP_F_REQUIRED, NULL, "FILE|DIR",
     "a JSON or YAML file, a directory of them (*.json, *.yaml, *.yml), or - for stdin"},
    {"namespace", 0, FP_FLAG_STR, 0, NULL, "NS",
     "the namespace of devices and assets (default: what each document says)"},
    {"dry-run", 0, FP_FLAG_BOOL, 0, NULL, NULL, "show what would change, change nothing"},
    {0},
};

static const fp_col result_cols[] = {
    {"KIND", "kind", FP_COL_VALUE},       {"NAMESPACE", "namespace", FP_COL_VALUE},
    {"NAME", "name", FP_COL_VALUE},       {"RESULT", "result", FP_COL_VALUE},
    {"CHANGES", "changes", FP_COL_VALUE}, {0},
};

/* True when have's key holds a value the server fills in by default, so that a
 * document leaving it out still says the same thing. */
static bool is_default(const char *key, const json_t *v)
{
    return (!strcmp(key, "enabled") && json_is_true(v)) ||
           (!strcmp(key, "actionType") && json_is_string(v) &&
            !strcmp(json_string_value(v), "Call")) ||
           (!strcmp(key, "defaultTimeoutInSeconds") &&
            json_integer_value(v) == FP_MODEL_ACTION_TIMEOUT_DEFAULT_S);
}

/* True when writing want over have changes nothing: the same fields with the
 * same values (arrays element by element), apart from server defaults. */
static bool same(const json_t *want, const json_t *have)
{
    if (json_is_object(want)) {
        const char *key;
        json_t *v;
        if (!json_is_object(have))
            return false;
        json_object_foreach((json_t *)want, key,
                            v) if (!same(v, json_object_get(have, key))) return false;
        json_object_foreach((json_t *)have, key, v) if (!json_object_get(want, key) &&
                                                        !json_is_null(v) &&
                                                        !is_default(key, v)) return false;
        return true;
    }
    if (json_is_array(want)) {
        if (!json_is_array(have) || json_array_size(want) != json_array_size(have))
            return false;
        for (size_t i = 0; i < json_array_size(want); i++)
            if (!same(json_array_get(want, i), json_array_get(have, i)))
                return false;
        return true;
    }
    if (json_is_null(want))
        return !have || json_is_null(have);
    if (json_is_number(want) && json_is_number(have))
        return json_number_value(want) == json_number_value(have);
    return json_equal(want, have);
}

/* Append "sep name" to b. */
static void add_change(fp_buf *b, const char *prefix, const char *key)
{
    fp_buf_printf(b, "%s%s%s", b->len ? ", " : "", prefix, key);
}

/* The top-level fields (and properties.*) that differ, "properties.datasets, tags". */
static void changed_fields(fp_buf *b, const json_t *want, const json_t *have)
{
    const json_t *wp = json_object_get(want, "properties"),
                 *hp = json_object_get(have, "properties");
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)want, key,
                        v) if (strcmp(key, "properties") && !same(v, json_object_get(have, key)))
        add_change(b, "", key);
    json_object_foreach((json_t *)have, key,
                        v) if (strcmp(key, "properties") && !json_object_get(want, key))
        add_change(b, "-", key);
    json_object_foreach((json_t *)wp, key, v) if (!same(v, json_object_get(hp, key)))
        add_change(b, "properties.", key);
    json_object_foreach((json_t *)hp, key,
                        v) if (!json_object_get(wp, key) && !json_is_null(v) && !is_default(key, v))
        add_change(b, "-properties.", key);
}

/* Parse one file's text into documents appended to docs. Returns 0 or -1. */
static int read_one(fp_ctx *ctx, const char *file, json_t *docs)
{
    size_t len;
    char *text = fp_read_file(file, &len);
    char err[512];
    json_t *vals;
    const char *dot = strrchr(file, '.');
    bool json = dot && !strcmp(dot, ".json");
    size_t i;
    json_t *v;

    if (!text) {
        fp_errorf(ctx, "cannot read %s: %s", file, strerror(errno));
        return -1;
    }
    if (json) {
        json_error_t jerr;
        json_t *one = json_loadb(text, len, 0, &jerr);
        if (!one) {
            fp_errorf(ctx, "%s: line %d, column %d: %s", file, jerr.line, jerr.column, jerr.text);
            fp_free(text);
            return -1;
        }
        vals = json_pack("[o]", one);
    } else {
        /* YAML, which also reads JSON. */
        vals = fp_yaml_parse(text, len, err, sizeof err);
        if (!vals) {
            fp_errorf(ctx, "%s: %s", file, err);
            fp_free(text);
            return -1;
        }
    }
    fp_free(text);
    json_array_foreach(vals, i, v)
    {
        json_t *list = fp_doc_expand(v);
        size_t j;
        json_t *d;
        json_array_foreach(list, j, d)
        {
            json_t *entry = json_pack("{s:s,s:O}", "file", file, "doc", d);
            json_object_set_new(entry, "index", json_integer((json_int_t)(i + j + 1)));
            json_array_append_new(docs, entry);
        }
        json_decref(list);
    }
    json_decref(vals);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read FILE or the *.json / *.yaml / *.yml files of DIR (in name order). */
static int read_path(fp_ctx *ctx, const char *path, json_t *docs)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    char **names = NULL;
    int n = 0, rc = 0;

    if (!strcmp(path, "-") || stat(path, &st) || !S_ISDIR(st.st_mode))
        return read_one(ctx, path, docs);
    d = opendir(path);
    if (!d) {
        fp_errorf(ctx, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    while ((e = readdir(d))) {
        const char *dot = strrchr(e->d_name, '.');
        char **grown;
        if (e->d_name[0] == '.' || !dot ||
            (strcmp(dot, ".json") && strcmp(dot, ".yaml") && strcmp(dot, ".yml")))
            continue;
        grown = fp_realloc(names, (size_t)(n + 1) * sizeof *names);
        if (!grown)
            break;
        names = grown;
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        names[n] = fp_malloc(len);
        if (!names[n])
            break;
        snprintf(names[n], len, "%s/%s", path, e->d_name);
        n++;
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; i < n; i++) {
        if (!rc)
            rc = read_one(ctx, names[i], docs);
        fp_free(names[i]);
    }
    fp_free(names);
    return rc;
}

/* Apply one normalised document; returns an exit code and fills result. */
static int apply_one(fp_ctx *ctx, const fp_apply_doc *ad, json_t *result)
{
    fp_client *c = fp_ctx_client(ctx);
    bool dry = fp_arg_given(ctx, "dry-run");
    char *path, what[400], etag[256];
    json_t *want = fp_doc_spec(ad->doc);
    fp_resp r;
    fp_buf changes;
    int rc;

    snprintf(what, sizeof what, "%s '%s'", fp_rkind_name(ad->kind), ad->name);
    path = ad->kind == FP_RK_NAMESPACE
               ? fp_api_path(ad->ns, NULL, NULL, NULL)
               : fp_api_path(ad->ns, fp_rkind_collection(ad->kind), ad->name, NULL);
    fp_buf_init(&changes, 1 << 16);
    rc = fp_client_send(c, "GET", path, NULL, NULL, NULL, &r);
    if (rc == FP_EXIT_OK) {
        json_t *have = fp_doc_spec(r.body);
        snprintf(etag, sizeof etag, "%s", r.etag[0] ? r.etag : "*");
        if (same(want, have)) {
            json_object_set_new(result, "result", json_string("unchanged"));
        } else {
            changed_fields(&changes, want, have);
            json_object_set_new(result, "changes", json_string(changes.data ? changes.data : ""));
            if (dry) {
                json_object_set_new(result, "result", json_string("would update"));
            } else {
                /* The server knows best what changes the spec: an unchanged ETag
                 * after the write means nothing did. */
                fp_resp_clear(&r);
                rc = fp_client_send(c, "PUT", path, want, etag, NULL, &r);
                if (rc)
                    fp_report(ctx, rc, &r, what);
                json_object_set_new(result, "result",
                                    json_string(rc                                   ? "failed"
                                                : r.etag[0] && !strcmp(r.etag, etag) ? "unchanged"
                                                                                     : "updated"));
            }
        }
        json_decref(have);
    } else if (r.status == 404) {
        if (dry) {
            rc = FP_EXIT_OK;
            json_object_set_new(result, "result", json_string("would create"));
        } else {
            fp_resp_clear(&r);
            rc = fp_client_send(c, "PUT", path, want, NULL, "*", &r);
            if (rc)
                fp_report(ctx, rc, &r, what);
            json_object_set_new(result, "result", json_string(rc ? "failed" : "created"));
        }
    } else {
        fp_report(ctx, rc, &r, what);
        json_object_set_new(result, "result", json_string("failed"));
    }
    fp_resp_clear(&r);
    fp_buf_clear(&changes);
    fp_free(path);
    json_decref(want);
    return rc;
}

static int apply_run(fp_ctx *ctx)
{
    json_t *docs = json_array(), *results = json_array();
    fp_apply_doc *ads = NULL;
    size_t n = 0, done = 0;
    int rc = FP_EXIT_OK, bad = 0;

    for (int i = 0; i < fp_arg_count(ctx, "file") && !bad; i++)
        if (read_path(ctx, fp_arg_at(ctx, "file", i), docs))
            bad = 1;
    if (bad) {
        rc = FP_EXIT_INVALID;
        goto out;
    }
    n = json_array_size(docs);
    ads = fp_calloc(n ? n : 1, sizeof *ads);
    if (!ads) {
        rc = FP_EXIT_ERROR;
        goto out;
    }
    /* Without --namespace, devices and assets that name no namespace go to the
     * one namespace document of the input, if there is exactly one (what
     * `export` writes). */
    const char *ns = fp_arg_str(ctx, "namespace");
    char only_ns[128] = "";
    int n_ns = 0;
    for (size_t i = 0; i < n && !ns; i++) {
        fp_apply_doc probe;
        char err[512];
        if (!fp_doc_normalize(json_object_get(json_array_get(docs, i), "doc"), "-", &probe, err,
                              sizeof err)) {
            if (probe.kind == FP_RK_NAMESPACE) {
                snprintf(only_ns, sizeof only_ns, "%s", probe.ns);
                n_ns++;
            }
            json_decref(probe.doc);
        }
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(docs, i);
        char err[512];
        int nrc = fp_doc_normalize(json_object_get(e, "doc"), ns, &ads[i], err, sizeof err);
        if (nrc && !ns && n_ns == 1 && strstr(err, "names no namespace"))
            nrc = fp_doc_normalize(json_object_get(e, "doc"), only_ns, &ads[i], err, sizeof err);
        if (nrc) {
            fp_errorf(ctx, "%s, document %" JSON_INTEGER_FORMAT ": %s",
                      json_string_value(json_object_get(e, "file")),
                      json_integer_value(json_object_get(e, "index")), err);
            bad++;
        }
    }
    if (bad) {
        fp_errorf(ctx, "%d bad document%s: nothing applied", bad, bad == 1 ? "" : "s");
        rc = FP_EXIT_INVALID;
        goto out;
    }
    if (!fp_ctx_client(ctx)) {
        rc = FP_EXIT_ERROR;
        goto out;
    }
    /* Namespaces, then devices, then assets. */
    for (int kind = FP_RK_NAMESPACE; kind <= FP_RK_ASSET; kind++) {
        for (size_t i = 0; i < n; i++) {
            if ((int)ads[i].kind != kind)
                continue;
            json_t *res = json_pack("{s:s,s:s,s:s}", "kind", fp_rkind_name(ads[i].kind),
                                    "namespace", ads[i].ns, "name", ads[i].name);
            int one = apply_one(ctx, &ads[i], res);
            if (one && !rc)
                rc = one;
            if (one == FP_EXIT_UNREACHABLE) {
                json_decref(res);
                goto out;
            }
            json_array_append_new(results, res);
            fp_progress(ctx, "applying", (long)++done, (long)n);
        }
    }
    fp_print(ctx, results, result_cols);
out:
    for (size_t i = 0; ads && i < n; i++)
        json_decref(ads[i].doc);
    fp_free(ads);
    json_decref(docs);
    json_decref(results);
    return rc;
}

const fp_cli_cmd fp_cli_apply = {
    "apply",
    "Create or update resources from ARM JSON or Kubernetes YAML files",
    "fieldplane apply -f plant-a/ --dry-run\n"
    "fieldplane apply -f oven-1.yaml --namespace plant-a",
    apply_flags,
    NULL,
    apply_run,
    NULL,
    NULL,
    FP_OP_NONE,
    "Accepts ARM documents (type Microsoft.DeviceRegistry/namespaces[/devices|/assets]; "
    "alone, in a JSON array, in {\"value\": [...]} or in an ARM template's resources) and "
    "Kubernetes custom resources (apiVersion namespaces.deviceregistry.microsoft.com/v1, "
    "kind Device or Asset, metadata.name, spec; metadata.namespace or --namespace names the "
    "namespace). All files are checked before anything is written. Server-set fields (uuid, "
    "version, status, systemData, etag) are ignored."};
