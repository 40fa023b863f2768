/*
 * rt_payload.c - the payload builder of connector.h: one JSON object per message.
 *
 * Names and values that reach a message come from the registry (data point names) and from
 * devices (strings); either may hold quotes, control characters or bytes that are not
 * UTF-8. Every connector writing its own "{\"%s\":%s}" got that wrong at least once, so
 * the runtime builds the object: names and strings go through the tree's one escaper
 * (fp_json_escape), numbers are written so that they read back the same, and a builder
 * that ran out of room fails as a whole, so a message is never published cut short.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fp_alloc.h"
#include "fp_buf.h"
#include "fp_json.h"
#include "rt_internal.h"

/* The default and largest text of one message: the disk queue's record limit is larger. */
#define PAYLOAD_DEFAULT_MAX (16u << 20)

struct fp_payload {
    fp_buf b;     /* "{" members..., without the closing brace until fp_payload_text */
    size_t count; /* members added */
    bool closed;  /* b ends with the closing brace (fp_payload_text ran) */
    bool failed;
};

fp_payload *fp_payload_new(size_t max_bytes)
{
    fp_payload *p = fp_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    fp_buf_init(&p->b, max_bytes ? max_bytes : PAYLOAD_DEFAULT_MAX);
    fp_payload_reset(p);
    return p;
}

void fp_payload_free(fp_payload *p)
{
    if (!p)
        return;
    fp_buf_clear(&p->b);
    fp_free(p);
}

void fp_payload_reset(fp_payload *p)
{
    if (!p)
        return;
    fp_buf_reset(&p->b);
    p->b.err = FP_OK;
    p->count = 0;
    p->closed = false;
    p->failed = fp_buf_append(&p->b, "{", 1) != FP_OK;
}

/* The separator and the quoted name of the next member; false when the builder failed. */
static bool member(fp_payload *p, const char *name)
{
    if (!p || p->failed)
        return false;
    if (p->closed) { /* text was taken: reopen the object for more members */
        p->b.len--;
        p->closed = false;
    }
    if (p->count && fp_buf_append(&p->b, ",", 1) != FP_OK)
        goto fail;
    if (fp_json_quote_buf(&p->b, name ? name : "", name ? strlen(name) : 0) != FP_OK)
        goto fail;
    if (fp_buf_append(&p->b, ":", 1) != FP_OK)
        goto fail;
    return true;
fail:
    p->failed = true;
    return false;
}

static int done(fp_payload *p)
{
    if (p->b.err != FP_OK) {
        p->failed = true;
        return -1;
    }
    p->count++;
    return 0;
}

static int add_text(fp_payload *p, const char *name, const char *text, size_t len)
{
    if (!member(p, name))
        return -1;
    fp_buf_append(&p->b, text, len);
    return done(p);
}

int fp_payload_add_int(fp_payload *p, const char *name, int64_t v)
{
    /* Digits from the end (no snprintf: this runs for every point of every message). */
    char t[24];
    size_t i = sizeof t;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        t[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        t[--i] = '-';
    return add_text(p, name, t + i, sizeof t - i);
}

int fp_payload_add_double(fp_payload *p, const char *name, double v)
{
    if (!member(p, name))
        return -1;
    fp_json_dump_real(&p->b, v); /* the shortest form that reads back the same; NaN: null */
    return done(p);
}

int fp_payload_add_bool(fp_payload *p, const char *name, bool v)
{
    return v ? add_text(p, name, "true", 4) : add_text(p, name, "false", 5);
}

int fp_payload_add_null(fp_payload *p, const char *name)
{
    return add_text(p, name, "null", 4);
}

int fp_payload_add_string(fp_payload *p, const char *name, const char *s, size_t len)
{
    if (!s)
        return fp_payload_add_null(p, name);
    if (!member(p, name))
        return -1;
    fp_json_quote_buf(&p->b, s, len == (size_t)-1 ? strlen(s) : len);
    return done(p);
}

int fp_payload_add_json(fp_payload *p, const char *name, const json_t *v)
{
    if (!v)
        return fp_payload_add_null(p, name);
    if (!member(p, name))
        return -1;
    fp_json_dump_compact(&p->b, v);
    return done(p);
}

int fp_payload_add_raw(fp_payload *p, const char *name, const char *json, size_t len)
{
    if (!json || !len)
        return fp_payload_add_null(p, name);
    return add_text(p, name, json, len);
}

fp_buf *fp_payload_member_begin(fp_payload *p, const char *name)
{
    return member(p, name) ? &p->b : NULL;
}

int fp_payload_member_end(fp_payload *p)
{
    if (!p || p->failed)
        return -1;
    return done(p);
}

size_t fp_payload_count(const fp_payload *p)
{
    return p ? p->count : 0;
}

const char *fp_payload_text(fp_payload *p, size_t *len)
{
    if (!p || p->failed)
        return NULL;
    if (!p->closed) {
        if (fp_buf_append(&p->b, "}", 1) != FP_OK) {
            p->failed = true;
            return NULL;
        }
        p->closed = true;
    }
    /* fp_buf keeps a NUL after its data */
    if (len)
        *len = p->b.len;
    return p->b.data;
}

int fp_dataset_publish_payload(fp_dataset *ds, fp_payload *p, const char *time_iso)
{
    size_t len;
    const char *t = fp_payload_text(p, &len);
    return t ? fp_dataset_publish(ds, t, len, time_iso) : -1;
}

int fp_event_publish_payload(fp_event *ev, fp_payload *p, const char *time_iso)
{
    size_t len;
    const char *t = fp_payload_text(p, &len);
    return t ? fp_event_publish(ev, t, len, time_iso) : -1;
}

/* A window of caller memory that counts what would have been written. */
typedef struct quote_sink {
    char *out;
    size_t cap, len;
} quote_sink;

static void quote_put(void *ctx, const void *b, size_t n)
{
    quote_sink *q = ctx;
    if (q->len < q->cap) {
        size_t room = q->cap - q->len;
        memcpy(q->out + q->len, b, n < room ? n : room);
    }
    q->len += n;
}

size_t fp_json_quote(char *out, size_t out_size, const char *s, size_t len)
{
    quote_sink q = {out, out_size, 0};
    if (!s)
        s = "";
    quote_put(&q, "\"", 1);
    fp_json_escape(s, len == (size_t)-1 ? strlen(s) : len, quote_put, &q);
    quote_put(&q, "\"", 1);
    if (q.len < out_size)
        out[q.len] = '\0';
    return q.len;
}
