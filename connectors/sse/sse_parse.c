/*
 * sse_parse.c - the server-sent events stream parser (see sse_parse.h).
 *
 * Bytes are collected into the current line until a CR or LF; a CR that ends a read
 * leaves `after_cr` set so that an LF opening the next read is not taken for a second,
 * empty line. Every byte goes through the line buffer whatever the chunking, so the
 * bounds trip at the same byte whether the stream came in one read or one byte at a
 * time. Values are repaired to valid UTF-8 only when handed to the callback.
 */
#include "sse_parse.h"

#include <stdio.h>
#include <string.h>

static const unsigned char k_bom[3] = {0xef, 0xbb, 0xbf};

void fp_sse_init(fp_sse_parser *p, size_t max_line, size_t max_event, fp_sse_event_fn on_event,
                 void *arg)
{
    memset(p, 0, sizeof *p);
    p->on_event = on_event;
    p->arg = arg;
    p->max_line = max_line ? max_line : FP_SSE_DEFAULT_MAX_LINE;
    p->max_event = max_event ? max_event : FP_SSE_DEFAULT_MAX_EVENT;
    fp_buf_init(&p->line, p->max_line);
    fp_buf_init(&p->data, p->max_event);
    fp_buf_init(&p->type, p->max_line);
    fp_buf_init(&p->id_buf, p->max_line);
    fp_buf_init(&p->last_id, p->max_line);
    /* A repaired value may grow threefold (each bad byte becomes 3 bytes of U+FFFD). */
    fp_buf_init(&p->scratch, 3 * p->max_event + 16);
    p->retry_ms = -1;
}

void fp_sse_clear(fp_sse_parser *p)
{
    fp_buf_clear(&p->line);
    fp_buf_clear(&p->data);
    fp_buf_clear(&p->type);
    fp_buf_clear(&p->id_buf);
    fp_buf_clear(&p->last_id);
    fp_buf_clear(&p->scratch);
}

void fp_sse_new_stream(fp_sse_parser *p)
{
    fp_buf_reset(&p->line);
    fp_buf_reset(&p->data);
    fp_buf_reset(&p->type);
    /* The id buffer goes back to the committed id: an "id" line of an event that was
     * never dispatched does not count. */
    fp_buf_reset(&p->id_buf);
    if (p->last_id.len)
        fp_buf_append(&p->id_buf, p->last_id.data, p->last_id.len);
    p->bom_seen = 0;
    p->started = false;
    p->after_cr = false;
    p->err = FP_OK;
    p->err_msg[0] = '\0';
}

const char *fp_sse_last_id(const fp_sse_parser *p)
{
    return p->last_id.len ? p->last_id.data : "";
}

void fp_sse_reset_id(fp_sse_parser *p)
{
    fp_buf_reset(&p->last_id);
    fp_buf_reset(&p->id_buf);
}

int64_t fp_sse_retry_ms(const fp_sse_parser *p)
{
    return p->retry_ms;
}

const char *fp_sse_error(const fp_sse_parser *p)
{
    return p->err_msg;
}

fp_status fp_sse_utf8_repair(fp_buf *out, const char *z, size_t n)
{
    static const char k_fffd[3] = {(char)0xef, (char)0xbf, (char)0xbd};
    const unsigned char *s = (const unsigned char *)z;
    size_t i = 0, start = 0, run = 0;
    unsigned needed = 0, seen = 0;
    unsigned char lower = 0x80, upper = 0xbf;

    /* Copies valid runs in one append; `run` is where the current valid run began. */
    while (i < n) {
        unsigned char c = s[i];
        if (needed == 0) {
            start = i;
            if (c < 0x80) {
                i++;
                continue;
            } else if (c >= 0xc2 && c <= 0xdf) {
                needed = 1;
            } else if (c >= 0xe0 && c <= 0xef) {
                if (c == 0xe0)
                    lower = 0xa0;
                if (c == 0xed)
                    upper = 0x9f;
                needed = 2;
            } else if (c >= 0xf0 && c <= 0xf4) {
                if (c == 0xf0)
                    lower = 0x90;
                if (c == 0xf4)
                    upper = 0x8f;
                needed = 3;
            } else {
                fp_buf_append(out, z + run, i - run);
                fp_buf_append(out, k_fffd, 3);
                run = ++i;
                continue;
            }
            i++;
            continue;
        }
        if (c < lower || c > upper) {
            /* The bad byte is looked at again as the start of a new sequence. */
            fp_buf_append(out, z + run, start - run);
            fp_buf_append(out, k_fffd, 3);
            run = i;
            needed = seen = 0;
            lower = 0x80, upper = 0xbf;
            continue;
        }
        lower = 0x80, upper = 0xbf;
        i++;
        if (++seen == needed)
            needed = seen = 0;
    }
    if (needed) {
        fp_buf_append(out, z + run, start - run);
        fp_buf_append(out, k_fffd, 3);
    } else {
        fp_buf_append(out, z + run, n - run);
    }
    return out->err;
}

/* Stop the parser with a message. */
static fp_status fail(fp_sse_parser *p, fp_status st, const char *what, size_t limit)
{
    p->err = st;
    if (st == FP_ERR_TOO_LARGE)
        snprintf(p->err_msg, sizeof p->err_msg,
                 "server-sent events stream: %s longer than %zu bytes", what, limit);
    else
        snprintf(p->err_msg, sizeof p->err_msg, "server-sent events stream: out of memory");
    return st;
}

/* Hand the event to the callback and start the next one (the dispatch steps). */
static fp_status dispatch(fp_sse_parser *p)
{
    fp_sse_event ev;
    size_t type_off, id_off;

    /* The last event id string follows the buffer at every dispatch, even without data. */
    fp_buf_reset(&p->last_id);
    if (fp_buf_append(&p->last_id, p->id_buf.data ? p->id_buf.data : "", p->id_buf.len))
        return fail(p, p->last_id.err, "event id", p->max_line);
    if (p->data.len == 0) {
        fp_buf_reset(&p->type);
        return FP_OK;
    }
    /* Drop the LF that followed the last data line. */
    p->data.len--;
    p->data.data[p->data.len] = '\0';

    fp_buf_reset(&p->scratch);
    if (p->type.len)
        fp_sse_utf8_repair(&p->scratch, p->type.data, p->type.len);
    else
        fp_buf_append_str(&p->scratch, "message");
    fp_buf_append(&p->scratch, "", 1);
    type_off = p->scratch.len;
    fp_sse_utf8_repair(&p->scratch, p->last_id.data, p->last_id.len);
    fp_buf_append(&p->scratch, "", 1);
    id_off = p->scratch.len;
    fp_sse_utf8_repair(&p->scratch, p->data.data, p->data.len);
    if (p->scratch.err)
        return fail(p, p->scratch.err, "event", p->max_event);
    ev.type = p->scratch.data;
    ev.type_len = type_off - 1;
    ev.id = p->scratch.data + type_off;
    ev.data = p->scratch.data + id_off;
    ev.data_len = p->scratch.len - id_off;
    fp_buf_reset(&p->data);
    fp_buf_reset(&p->type);
    if (p->on_event)
        p->on_event(p->arg, &ev);
    return FP_OK;
}

/* True when the n bytes at z are all ASCII digits (and there is at least one). */
static bool all_digits(const char *z, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (z[i] < '0' || z[i] > '9')
            return false;
    return true;
}

/* Interpret one complete line (without its line end). */
static fp_status process_line(fp_sse_parser *p, const char *z, size_t n)
{
    const char *colon, *value;
    size_t name_len, value_len;

    if (n == 0)
        return dispatch(p);
    if (z[0] == ':')
        return FP_OK; /* a comment */
    colon = memchr(z, ':', n);
    if (colon) {
        name_len = (size_t)(colon - z);
        value = colon + 1;
        value_len = n - name_len - 1;
        if (value_len && value[0] == ' ')
            value++, value_len--;
    } else {
        name_len = n;
        value = z + n;
        value_len = 0;
    }

    if (name_len == 5 && memcmp(z, "event", 5) == 0) {
        fp_buf_reset(&p->type);
        if (fp_buf_append(&p->type, value, value_len))
            return fail(p, p->type.err, "event type", p->max_line);
    } else if (name_len == 4 && memcmp(z, "data", 4) == 0) {
        fp_buf_append(&p->data, value, value_len);
        if (fp_buf_append(&p->data, "\n", 1))
            return fail(p, p->data.err, "event data", p->max_event);
    } else if (name_len == 2 && memcmp(z, "id", 2) == 0) {
        if (!memchr(value, '\0', value_len)) {
            fp_buf_reset(&p->id_buf);
            if (fp_buf_append(&p->id_buf, value, value_len))
                return fail(p, p->id_buf.err, "event id", p->max_line);
        }
    } else if (name_len == 5 && memcmp(z, "retry", 5) == 0) {
        if (all_digits(value, value_len)) {
            int64_t v = 0;
            /* Saturate rather than overflow: a huge value means "wait as long as allowed". */
            for (size_t i = 0; i < value_len; i++) {
                v = v * 10 + (value[i] - '0');
                if (v > INT32_MAX) {
                    v = INT32_MAX;
                    break;
                }
            }
            p->retry_ms = v;
        }
    }
    /* Any other field is ignored. */
    return FP_OK;
}

fp_status fp_sse_feed(fp_sse_parser *p, const void *buf, size_t len)
{
    const char *z = buf;
    size_t i = 0;

    if (p->err)
        return p->err;
    /* The byte order mark, possibly split across reads. */
    while (!p->started && i < len) {
        if ((unsigned char)z[i] == k_bom[p->bom_seen]) {
            i++;
            if (++p->bom_seen == 3)
                p->started = true;
            continue;
        }
        /* Not a byte order mark after all: what matched so far is line content. */
        p->started = true;
        if (p->bom_seen && fp_buf_append(&p->line, k_bom, p->bom_seen))
            return fail(p, p->line.err, "line", p->max_line);
    }

    while (i < len) {
        size_t j = i;
        char c;

        if (p->after_cr) {
            p->after_cr = false;
            if (z[i] == '\n') {
                i++;
                continue;
            }
        }
        while (j < len && z[j] != '\r' && z[j] != '\n')
            j++;
        if (j > i && fp_buf_append(&p->line, z + i, j - i))
            return fail(p, p->line.err, "line", p->max_line);
        if (j == len)
            break;
        c = z[j];
        i = j + 1;
        if (c == '\r')
            p->after_cr = true;
        if (process_line(p, p->line.data ? p->line.data : "", p->line.len))
            return p->err;
        fp_buf_reset(&p->line);
    }
    return FP_OK;
}
