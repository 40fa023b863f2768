/*
 * rt_config.c - a connector's configuration rows filled from the resource model's
 * `...Configuration` strings.
 *
 * Each object's struct is filled row by row from a chain of levels (the object's own
 * configuration, its group's, the asset's defaults), most specific first, else the row's
 * default; a value of the wrong type or out of range is an error naming the key and the
 * level. Absent or empty configurations share one empty object, so a thousand data points
 * without configuration cost nothing each. Split out of rt_model.c, which builds the objects
 * and runs their lifecycle.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fp_alloc.h"
#include "fp_json.h"
#include "fp_log.h"
#include "fp_sha256.h"
#include "rt_internal.h"

const char *rt_json_kind(const json_t *v)
{
    return json_is_integer(v) ? "an integer" : fp_json_kind(v);
}

/* ---- configuration rows -----------------------------------------------------------------------
 */

/* The value at a dotted key ("session.timeoutMilliseconds") of obj, or NULL. */
static const json_t *lookup_dotted(const json_t *obj, const char *key)
{
    const json_t *cur = obj;
    const char *p = key;
    char part[128];
    while (json_is_object(cur)) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof part)
            return NULL;
        memcpy(part, p, n);
        part[n] = '\0';
        cur = json_object_get(cur, part);
        if (!dot)
            return cur;
        p = dot + 1;
    }
    return NULL;
}

static size_t cfg_type_size(fp_cfg_type t)
{
    switch (t) {
    case FP_CFG_INT:
        return sizeof(int64_t);
    case FP_CFG_DOUBLE:
        return sizeof(double);
    case FP_CFG_BOOL:
        return sizeof(bool);
    case FP_CFG_STRING:
        return sizeof(char *);
    default:
        return sizeof(json_t *);
    }
}

/* Fill one row from v (NULL: from the default). `where` names the level for errors. */
static int fill_row(const fp_config_key *row, const json_t *v, const char *where, char *dst,
                    char *err, size_t err_len)
{
    switch (row->type) {
    case FP_CFG_INT: {
        int64_t x = 0;
        if (v) {
            if (!json_is_integer(v)) {
                snprintf(err, err_len, "%s: %s must be an integer, not %s", where, row->key,
                         rt_json_kind(v));
                return -1;
            }
            x = (int64_t)json_integer_value(v);
        } else if (row->def) {
            char *end;
            errno = 0;
            long long ll = strtoll(row->def, &end, 10);
            if (errno || end == row->def || *end) {
                snprintf(err, err_len, "configuration row %s: bad default \"%s\"", row->key,
                         row->def);
                return -1;
            }
            x = ll;
        }
        if ((row->min || row->max) && (v || row->def) && (x < row->min || x > row->max)) {
            snprintf(err, err_len,
                     "%s: %s = %" PRId64 " is out of range [%" PRId64 ", %" PRId64 "]", where,
                     row->key, x, row->min, row->max);
            return -1;
        }
        memcpy(dst, &x, sizeof x);
        return 0;
    }
    case FP_CFG_DOUBLE: {
        double x = 0;
        if (v) {
            if (!json_is_number(v)) {
                snprintf(err, err_len, "%s: %s must be a number, not %s", where, row->key,
                         rt_json_kind(v));
                return -1;
            }
            x = json_number_value(v);
        } else if (row->def) {
            char *end;
            x = strtod(row->def, &end);
            if (end == row->def || *end) {
                snprintf(err, err_len, "configuration row %s: bad default \"%s\"", row->key,
                         row->def);
                return -1;
            }
        }
        if ((row->min || row->max) && (v || row->def) &&
            (x < (double)row->min || x > (double)row->max)) {
            snprintf(err, err_len, "%s: %s = %g is out of range [%" PRId64 ", %" PRId64 "]", where,
                     row->key, x, row->min, row->max);
            return -1;
        }
        memcpy(dst, &x, sizeof x);
        return 0;
    }
    case FP_CFG_BOOL: {
        bool x = false;
        if (v) {
            if (!json_is_boolean(v)) {
                snprintf(err, err_len, "%s: %s must be true or false, not %s", where, row->key,
                         rt_json_kind(v));
                return -1;
            }
            x = json_is_true(v);
        } else if (row->def) {
            if (!strcmp(row->def, "true"))
                x = true;
            else if (strcmp(row->def, "false") != 0) {
                snprintf(err, err_len, "configuration row %s: bad default \"%s\"", row->key,
                         row->def);
                return -1;
            }
        }
        memcpy(dst, &x, sizeof x);
        return 0;
    }
    case FP_CFG_STRING: {
        const char *s = NULL;
        if (v) {
            if (!json_is_string(v)) {
                snprintf(err, err_len, "%s: %s must be a string, not %s", where, row->key,
                         rt_json_kind(v));
                return -1;
            }
            s = json_string_value(v);
        } else {
            s = row->def;
        }
        char *copy = NULL;
        if (s && !(copy = fp_strdup(s))) {
            snprintf(err, err_len, "%s: out of memory", row->key);
            return -1;
        }
        memcpy(dst, &copy, sizeof copy);
        return 0;
    }
    case FP_CFG_JSON: {
        /* Borrowed; a JSON row has no default (the connector sees NULL when unset). */
        const json_t *x = v;
        memcpy(dst, &x, sizeof x);
        return 0;
    }
    }
    snprintf(err, err_len, "configuration row %s: unknown type", row->key);
    return -1;
}

/* Free the strings of the config struct at cfg (not the struct itself). */
void rt_config_clear(const fp_connector *conn, fp_cfg_scope scope, char *cfg)
{
    if (!cfg)
        return;
    for (const fp_config_key *row = conn->config; row && row->key; row++) {
        if (row->scope != scope || row->type != FP_CFG_STRING)
            continue;
        char *s;
        memcpy(&s, cfg + row->offset, sizeof s);
        fp_free(s);
    }
}

void rt_config_free(const fp_connector *conn, fp_cfg_scope scope, void *cfg)
{
    rt_config_clear(conn, scope, cfg);
    fp_free(cfg);
}

/* Fill the zeroed config struct at cfg (conn->config_size[scope] bytes) from the chain. On
 * failure its strings are freed again and err says why. */
int rt_config_fill_into(const fp_connector *conn, fp_cfg_scope scope, const rt_cfg_level *chain,
                        size_t n_chain, char *cfg, char *err, size_t err_len)
{
    size_t size = conn->config_size[scope];
    for (const fp_config_key *row = conn->config; row && row->key; row++) {
        if (row->scope != scope)
            continue;
        if (row->offset + cfg_type_size(row->type) > size) {
            snprintf(err, err_len, "configuration row %s: offset beyond the struct's size",
                     row->key);
            goto out_fail;
        }
        const json_t *v = NULL;
        const char *where = "default";
        for (size_t i = 0; i < n_chain; i++) {
            const json_t *x = chain[i].json ? lookup_dotted(chain[i].json, row->key) : NULL;
            if (!x || json_is_null(x))
                continue;
            if (row->type == FP_CFG_INT && json_is_integer(x) && json_integer_value(x) == -1)
                continue; /* -1: "not set" in the resource model */
            v = x;
            where = chain[i].label;
            break;
        }
        if (fill_row(row, v, where, cfg + row->offset, err, err_len) != 0)
            goto out_fail;
    }
    return 0;

out_fail:
    rt_config_clear(conn, scope, cfg);
    memset(cfg, 0, size);
    return -1;
}

int rt_config_fill(const fp_connector *conn, fp_cfg_scope scope, const rt_cfg_level *chain,
                   size_t n_chain, void **cfg_out, char *err, size_t err_len)
{
    *cfg_out = NULL;
    size_t size = conn->config_size[scope];
    if (size == 0)
        return 0;
    char *cfg = fp_calloc(1, size);
    if (!cfg) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    if (rt_config_fill_into(conn, scope, chain, n_chain, cfg, err, err_len) != 0) {
        fp_free(cfg);
        return -1;
    }
    *cfg_out = cfg;
    return 0;
}

/* Configurations that are absent or empty (the usual case for data points and the asset's
 * defaults) share one empty object, never modified (config_json is const to connectors),
 * rather than an empty object each: about 200 bytes each. A reference for the caller, or
 * NULL. */
static json_t *g_empty_cfg;
static pthread_once_t g_empty_once = PTHREAD_ONCE_INIT;

static void empty_cfg_init(void)
{
    g_empty_cfg = json_object();
}

json_t *rt_config_empty(void)
{
    pthread_once(&g_empty_once, empty_cfg_init);
    return g_empty_cfg ? json_incref(g_empty_cfg) : json_object();
}

/* Append the reference cfg to a child's keep array. The shared empty object lives as long
 * as the process, so its reference is dropped instead of kept (a slot per data point). */
void rt_keep_add(json_t *keep, json_t *cfg)
{
    if (cfg && cfg == g_empty_cfg)
        json_decref(cfg);
    else
        json_array_append_new(keep, cfg);
}

json_t *rt_config_parse(const json_t *obj, const char *field, const char *label, char *err,
                        size_t err_len)
{
    const json_t *v = json_object_get(obj, field);
    if (!v || json_is_null(v))
        return rt_config_empty();
    if (json_is_object(v))
        return json_deep_copy(v); /* already parsed by whoever wrote the document */
    if (!json_is_string(v)) {
        snprintf(err, err_len, "%s is not a JSON object: it is %s", label, rt_json_kind(v));
        return NULL;
    }
    const char *s = json_string_value(v);
    if (!*s)
        return rt_config_empty();
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    if (!j) {
        snprintf(err, err_len, "%s is not a JSON object: %s", label, je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        snprintf(err, err_len, "%s is not a JSON object: it is %s", label, rt_json_kind(j));
        json_decref(j);
        return NULL;
    }
    return j;
}
