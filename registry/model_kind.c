/*
 * model_kind.c - the kinds of resource the registry stores, their names, and
 * the rules for resource and secret names.
 *
 * One table holds, per kind, the kind name used in watch events, the URL
 * segment of its collection and its ARM type; everything else in the registry
 * derives these strings from here. The name rules are those of Azure Device
 * Registry (stable API 2025-10-01) so that names valid there are valid here.
 * This file also holds the small helpers the other model files share: error
 * filling and the JSON path stack used in error targets.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fp_json.h"
#include "model.h"
#include "model_internal.h"

static const struct {
    const char *name;
    const char *collection;
    const char *arm_type;
} k_kinds[FP_KIND_COUNT] = {
    [FP_KIND_NAMESPACE] = {"Namespace", "namespaces", "Microsoft.DeviceRegistry/namespaces"},
    [FP_KIND_DEVICE] = {"Device", "devices", "Microsoft.DeviceRegistry/namespaces/devices"},
    [FP_KIND_ASSET] = {"Asset", "assets", "Microsoft.DeviceRegistry/namespaces/assets"},
    [FP_KIND_DISCOVERED_DEVICE] = {"DiscoveredDevice", "discoveredDevices",
                                   "Microsoft.DeviceRegistry/namespaces/discoveredDevices"},
    [FP_KIND_DISCOVERED_ASSET] = {"DiscoveredAsset", "discoveredAssets",
                                  "Microsoft.DeviceRegistry/namespaces/discoveredAssets"},
    [FP_KIND_SCHEMA] = {"Schema", "schemas", "Microsoft.DeviceRegistry/namespaces/schemas"},
    [FP_KIND_SCHEMA_VERSION] = {"SchemaVersion", "versions",
                                "Microsoft.DeviceRegistry/namespaces/schemas/versions"},
};

/* Kind name for watch events and messages; "Unknown" outside the enum. */
const char *fp_kind_name(fp_kind kind)
{
    return (unsigned)kind < FP_KIND_COUNT ? k_kinds[kind].name : "Unknown";
}

/* URL segment of the collection; "" outside the enum. */
const char *fp_kind_collection(fp_kind kind)
{
    return (unsigned)kind < FP_KIND_COUNT ? k_kinds[kind].collection : "";
}

/* ARM type written into stored documents; "" outside the enum. */
const char *fp_kind_arm_type(fp_kind kind)
{
    return (unsigned)kind < FP_KIND_COUNT ? k_kinds[kind].arm_type : "";
}

/* Kind from a kind name or collection segment, any case; *out is set only
 * on success. */
bool fp_kind_parse(const char *z, fp_kind *out)
{
    if (!z)
        return false;
    for (int k = 0; k < FP_KIND_COUNT; k++) {
        if (strcasecmp(z, k_kinds[k].name) == 0 || strcasecmp(z, k_kinds[k].collection) == 0) {
            *out = (fp_kind)k;
            return true;
        }
    }
    /* Azure's own segment for schema versions. */
    if (strcasecmp(z, "schemaVersions") == 0) {
        *out = FP_KIND_SCHEMA_VERSION;
        return true;
    }
    return false;
}

/* See model_internal.h. */
bool fp_model_kind_client_version(fp_kind kind)
{
    return kind == FP_KIND_DISCOVERED_DEVICE || kind == FP_KIND_DISCOVERED_ASSET;
}

/* Fill err (if not NULL), truncating each field to its array; returns st. */
fp_status fp_verr_set(fp_verr *err, fp_status st, const char *code, const char *target,
                      const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return st;
    err->status = st;
    snprintf(err->code, sizeof err->code, "%s", code ? code : "");
    snprintf(err->target, sizeof err->target, "%s", target ? target : "");
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return st;
}

/* ---------------------------------------------------------------------------
 * Names
 * ------------------------------------------------------------------------- */

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* ^[a-z0-9][a-z0-9-]*[a-z0-9]$ */
static bool dns_label_like(const char *z, size_t n)
{
    if (n < 2 || !is_lower_alnum(z[0]) || !is_lower_alnum(z[n - 1]))
        return false;
    for (size_t i = 1; i + 1 < n; i++) {
        if (!is_lower_alnum(z[i]) && z[i] != '-')
            return false;
    }
    return true;
}

/* ^[0-9a-zA-Z][a-zA-Z0-9-]*$ */
static bool device_name_like(const char *z, size_t n)
{
    if (n < 1 || !is_alnum(z[0]))
        return false;
    for (size_t i = 1; i < n; i++) {
        if (!is_alnum(z[i]) && z[i] != '-')
            return false;
    }
    return true;
}

/* A positive decimal integer without leading zeros, at most 10 digits. */
static bool version_name_like(const char *z, size_t n)
{
    if (n < 1 || n > 10 || z[0] < '1' || z[0] > '9')
        return false;
    for (size_t i = 1; i < n; i++) {
        if (z[i] < '0' || z[i] > '9')
            return false;
    }
    return true;
}

/* Azure's name rule for kind (stable API 2025-10-01); on failure err says
 * which rule with code InvalidName and target "name". */
bool fp_model_name_valid(fp_kind kind, const char *name, fp_verr *err)
{
    size_t n = name ? strlen(name) : 0;
    size_t min_len = 3, max_len = 63;
    bool ok;
    const char *rule;

    if ((unsigned)kind >= FP_KIND_COUNT) {
        fp_verr_set(err, FP_ERR_INVALID, "InvalidName", "name", "The resource kind is unknown.");
        return false;
    }
    switch (kind) {
    case FP_KIND_NAMESPACE:
    case FP_KIND_SCHEMA:
        max_len = 64;
        ok = dns_label_like(name, n);
        rule = "lowercase letters, digits and '-', starting and ending with a letter or digit";
        break;
    case FP_KIND_DEVICE:
        ok = device_name_like(name, n);
        rule = "letters, digits and '-', starting with a letter or digit";
        break;
    case FP_KIND_SCHEMA_VERSION:
        min_len = 1;
        max_len = 10;
        ok = version_name_like(name, n);
        rule = "a positive integer without leading zeros";
        break;
    default:
        ok = dns_label_like(name, n);
        rule = "lowercase letters, digits and '-', starting and ending with a letter or digit";
        break;
    }
    if (n < min_len || n > max_len) {
        fp_verr_set(err, FP_ERR_INVALID, "InvalidName", "name",
                    "The %s name must be %zu to %zu characters long.", fp_kind_name(kind), min_len,
                    max_len);
        return false;
    }
    if (!ok) {
        fp_verr_set(err, FP_ERR_INVALID, "InvalidName", "name",
                    "The %s name '%s' is not valid: use %s.", fp_kind_name(kind), name, rule);
        return false;
    }
    return true;
}

/* ^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$ over n bytes, 1-253 of them. */
static bool secret_name_ok(const char *z, size_t n)
{
    if (n < 1 || n > 253 || !is_lower_alnum(z[0]) || !is_lower_alnum(z[n - 1]))
        return false;
    for (size_t i = 1; i + 1 < n; i++) {
        if (!is_lower_alnum(z[i]) && z[i] != '-' && z[i] != '.')
            return false;
    }
    return true;
}

/* Secret name rule; InvalidName with target "name" on failure. */
bool fp_model_secret_name_valid(const char *name, fp_verr *err)
{
    if (name && secret_name_ok(name, strlen(name)))
        return true;
    fp_verr_set(err, FP_ERR_INVALID, "InvalidName", "name",
                "The secret name must be 1 to 253 lowercase letters, digits, '-' and '.', "
                "starting and ending with a letter or digit.");
    return false;
}

/* See model_internal.h; ref must not be NULL. */
bool fp_model_secret_ref_valid(const char *ref)
{
    const char *slash = strchr(ref, '/');
    size_t n_key;

    if (!slash)
        return secret_name_ok(ref, strlen(ref));
    if (!secret_name_ok(ref, (size_t)(slash - ref)))
        return false;
    n_key = strlen(slash + 1);
    if (n_key < 1 || n_key > 253)
        return false;
    for (const char *c = slash + 1; *c; c++) {
        if (!is_alnum(*c) && *c != '-' && *c != '.' && *c != '_')
            return false;
    }
    return true;
}

/* ---------------------------------------------------------------------------
 * JSON path stack
 * ------------------------------------------------------------------------- */

/* An empty path (the document itself). */
void fp_mpath_init(fp_mpath *p)
{
    p->depth = 0;
    p->overflow = 0;
}

/* Enter an object member; key is borrowed until the matching pop. Past the
 * depth limit only a count is kept, so push and pop always pair up. */
void fp_mpath_push_key(fp_mpath *p, const char *key)
{
    if (p->depth < FP_MPATH_MAX_DEPTH) {
        p->seg[p->depth].key = key;
        p->seg[p->depth].idx = 0;
        p->depth++;
    } else {
        p->overflow++;
    }
}

/* Enter an array element. */
void fp_mpath_push_idx(fp_mpath *p, size_t idx)
{
    if (p->depth < FP_MPATH_MAX_DEPTH) {
        p->seg[p->depth].key = NULL;
        p->seg[p->depth].idx = idx;
        p->depth++;
    } else {
        p->overflow++;
    }
}

/* Leave the last segment entered. */
void fp_mpath_pop(fp_mpath *p)
{
    if (p->overflow > 0)
        p->overflow--;
    else if (p->depth > 0)
        p->depth--;
}

/* A key that can be written after a dot: [A-Za-z0-9_$-]+ */
static bool plain_key(const char *key)
{
    if (!*key)
        return false;
    for (const char *c = key; *c; c++) {
        if (!is_alnum(*c) && *c != '_' && *c != '-' && *c != '$')
            return false;
    }
    return true;
}

/* Append to out at *pos, never past out_len - 1. */
static void put(char *out, size_t out_len, size_t *pos, const char *z)
{
    while (*z && *pos + 1 < out_len)
        out[(*pos)++] = *z++;
    out[*pos] = '\0';
}

/* Where put_run appends: out at *pos, as put does. */
typedef struct path_out {
    char *out;
    size_t out_len;
    size_t *pos;
} path_out;

/* One run of fp_json_escape's output; a run that does not fit is cut between two UTF-8
 * characters, so a cut path is still valid text for a JSON error body. After a cut the
 * buffer counts as full: a closing quote appended in the room left would read as the end
 * of a shorter key. */
static void put_run(void *ctx, const void *b, size_t len)
{
    path_out *o = ctx;
    const char *z = b;
    size_t room = o->out_len - 1 - *o->pos;
    bool cut = len > room;

    if (cut) {
        len = room;
        while (len > 0 && ((unsigned char)z[len] & 0xC0) == 0x80)
            len--;
    }
    memcpy(o->out + *o->pos, z, len);
    *o->pos += len;
    o->out[*o->pos] = '\0';
    if (cut)
        *o->pos = o->out_len - 1;
}

/* A key as `.key`, or `["key"]` with the key quoted as a JSON string by the tree's one
 * escaper when it holds anything else, so the path reads as JSONPath. */
static void put_key(char *out, size_t out_len, size_t *pos, const char *key)
{
    if (plain_key(key)) {
        if (*pos > 0)
            put(out, out_len, pos, ".");
        put(out, out_len, pos, key);
        return;
    }
    put(out, out_len, pos, "[\"");
    fp_json_escape(key, strlen(key), put_run, &(path_out){out, out_len, pos});
    put(out, out_len, pos, "\"]");
}

/* See model_internal.h. */
void fp_mpath_render(const fp_mpath *p, const char *last_key, char *out, size_t out_len)
{
    size_t pos = 0;

    if (out_len == 0)
        return;
    out[0] = '\0';
    for (int i = 0; i < p->depth; i++) {
        if (p->seg[i].key) {
            put_key(out, out_len, &pos, p->seg[i].key);
        } else {
            char num[32];
            snprintf(num, sizeof num, "[%zu]", p->seg[i].idx);
            put(out, out_len, &pos, num);
        }
    }
    if (p->overflow)
        put(out, out_len, &pos, "...");
    if (last_key)
        put_key(out, out_len, &pos, last_key);
}
