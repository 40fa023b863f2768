/*
 * model_kind.c - resource and secret names as registry errors, and the small helpers
 * the other model files share: error filling and the JSON path stack used in error
 * targets.
 *
 * The kinds and the name rules themselves live in lib/model (fp_model.h), shared with
 * the connector runtime and the CLI, so that a name the runtime lets through is one the
 * registry takes; this file only turns lib/model's verdict into an ARM error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fp_json.h"
#include "model.h"
#include "model_internal.h"

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

/* lib/model decides and words the message; the registry adds its error code and target. */
bool fp_model_name_valid(fp_kind kind, const char *name, fp_verr *err)
{
    char why[sizeof err->message];

    if (fp_model_name_check(kind, name, why, sizeof why) == FP_OK)
        return true;
    fp_verr_set(err, FP_ERR_INVALID, "InvalidName", "name", "%s", why);
    return false;
}

/* Secret name rule; InvalidName with target "name" on failure. */
bool fp_model_secret_name_valid(const char *name, fp_verr *err)
{
    return fp_model_name_valid(FP_KIND_SECRET, name, err);
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

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
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
