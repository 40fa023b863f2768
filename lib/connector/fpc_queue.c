/*
 * fpc_queue.c - the bounded on-disk FIFO behind the MQTT publisher (see fpc_queue.h).
 *
 * In memory the queue keeps an index of the records from the head on (a ring of
 * {seq, segment, offset, size, acked}), so acks and reads never scan files. Reads go
 * through pread on the segment's descriptor, which the page cache serves, except for the
 * record just appended: it is still encoded in the append buffer, and the publisher sends
 * it right after appending, so reading it back from the file (and checking its crc) would
 * only cost a system call and a pass over its bytes. The body of a record is
 *
 *     [enq_ms u64][expiry_s u32][qos u8][retain u8][0 u16][n_props u32]
 *     topic, payload, content_type, response_topic, correlation, then n_props x (key, value)
 *
 * each string as [len u32][bytes], len 0xffffffff for "none" (NULL).
 */
#include "fpc_queue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fp_alloc.h"
#include "fp_log.h"
#include "fp_time.h"

#define MOD "queue"
#define NONE_LEN 0xffffffffu
#define MAX_RECORD (256u * 1024u * 1024u) /* hard cap on one record, whatever max_bytes */
#define ERR_LOG_INTERVAL_MS 10000         /* at most one error line per queue this often */
#define BODY_FIXED 24u
#define ACK_SLOT 32u
#define ACK_MAGIC 0x4b415046u /* "FPAK" */
#define SEG_MIN (64u * 1024u)
#define SEG_MAX (8u * 1024u * 1024u)

typedef struct qseg {
    uint64_t name_seq; /* from the file name: its order among segments */
    uint64_t last_seq; /* seq of its last record (valid when n_rec > 0) */
    uint64_t n_rec;
    uint64_t size;
    int fd;
    char *path;
} qseg;

typedef struct qent {
    uint64_t seq;
    uint64_t off;
    uint32_t size; /* whole record, header included */
    bool acked;
    qseg *seg;
} qent;

struct fpc_queue {
    pthread_mutex_t mu;
    char *dir;
    uint64_t max_bytes;
    uint64_t seg_bytes;
    bool sync;
    bool drop_newest;
    int lock_fd;
    int ack_fd;
    uint64_t ack_gen;
    uint64_t head;       /* first unacked seq (in memory) */
    uint64_t head_saved; /* the head the `acked` marker holds */
    uint64_t ack_delay_ms;
    uint64_t ack_saved_ms; /* monotonic time of the last marker write */
    uint64_t next_seq;     /* for the next append */
    /* segments, oldest first */
    qseg **segs;
    size_t n_segs, cap_segs;
    /* ring of index entries, oldest first; front is always unacked */
    qent *ring;
    size_t ring_cap, ring_start, ring_n;
    uint64_t count, bytes, dropped, recovered_drop, unreadable;
    unsigned char *wbuf; /* record being appended */
    size_t wcap;
    uint64_t wbuf_seq; /* seq of the appended record still whole in wbuf, 0 when none */
    size_t wbuf_len;
    unsigned char *rbuf; /* record being read back */
    size_t rcap;
    char last_err[256];
    uint64_t write_failed;  /* appends that could not be written (disk full, I/O error) */
    int write_errno;        /* errno of the last failed write, 0 once one succeeds again */
    uint64_t err_logged_ms; /* fp_mono_ms() of the last error line, 0 for none yet */
    uint64_t err_unlogged;  /* errors since then that were not logged */
};

/* ---- little helpers ---------------------------------------------------------------------- */

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32), eight bytes per step with eight tables
 * ("slicing by 8"): every record is checked when appended and again when read back, and
 * the byte-at-a-time loop was a visible share of the publish path. Same values as the
 * byte-wise form, so queues written before read back unchanged. */
static uint32_t g_crc_table[8][256];
static pthread_once_t g_crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        g_crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            g_crc_table[t][i] =
                (g_crc_table[t - 1][i] >> 8) ^ g_crc_table[0][g_crc_table[t - 1][i] & 0xff];
}

static uint32_t le32(const unsigned char *s)
{
    return (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24;
}

uint32_t fpc_crc32(uint32_t crc, const void *p, size_t len)
{
    const unsigned char *s = p;
    const uint32_t(*t)[256] = g_crc_table;

    pthread_once(&g_crc_once, crc_init);
    crc = ~crc;
    while (len >= 8) {
        uint32_t a = crc ^ le32(s), b = le32(s + 4);
        crc = t[7][a & 0xff] ^ t[6][(a >> 8) & 0xff] ^ t[5][(a >> 16) & 0xff] ^ t[4][a >> 24] ^
              t[3][b & 0xff] ^ t[2][(b >> 8) & 0xff] ^ t[1][(b >> 16) & 0xff] ^ t[0][b >> 24];
        s += 8;
        len -= 8;
    }
    while (len--)
        crc = t[0][(crc ^ *s++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static int grow(unsigned char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 4096;
    while (n < need)
        n *= 2;
    unsigned char *p = fp_realloc(*buf, n);
    if (!p)
        return -1;
    *buf = p;
    *cap = n;
    return 0;
}

static void set_err(fpc_queue *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Record an error and log it, at most one line per ERR_LOG_INTERVAL_MS: on a full disk
 * every publish fails the same way, and a line per message would fill what is left of the
 * disk with the log. The next line says how many were not logged. */
static void set_err(fpc_queue *q, const char *fmt, ...)
{
    va_list ap;
    uint64_t now = fp_mono_ms();

    va_start(ap, fmt);
    vsnprintf(q->last_err, sizeof q->last_err, fmt, ap);
    va_end(ap);
    if (q->err_logged_ms && now - q->err_logged_ms < ERR_LOG_INTERVAL_MS) {
        q->err_unlogged++;
        return;
    }
    if (q->err_unlogged)
        fp_log_error(MOD, "%s (and %" PRIu64 " more errors not logged in the last %d s)",
                     q->last_err, q->err_unlogged, ERR_LOG_INTERVAL_MS / 1000);
    else
        fp_log_error(MOD, "%s", q->last_err);
    q->err_logged_ms = now ? now : 1;
    q->err_unlogged = 0;
}

/* An append could not be written: count it and keep its errno for the health. */
static void write_failed(fpc_queue *q, int err)
{
    q->write_failed++;
    q->write_errno = err ? err : EIO;
}

/* Write all of len bytes at off; -1 with errno on failure. */
static int pwrite_all(int fd, const void *p, size_t len, uint64_t off)
{
    const unsigned char *s = p;

    while (len > 0) {
        ssize_t n = pwrite(fd, s, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        s += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* Read exactly len bytes at off; -1 on error or short file. */
static int pread_all(int fd, void *p, size_t len, uint64_t off)
{
    unsigned char *d = p;

    while (len > 0) {
        ssize_t n = pread(fd, d, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0) {
            errno = EIO;
            return -1;
        }
        d += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

static int mkdir_p(const char *dir)
{
    char tmp[4096];
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(tmp, dir, len + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static char *path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = fp_malloc(a + b + 2);

    if (!p)
        return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

static void sync_dir(fpc_queue *q)
{
    int fd = open(q->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* ---- the index ring ------------------------------------------------------------------------ */

static qent *ring_at(fpc_queue *q, size_t i)
{
    return &q->ring[(q->ring_start + i) % q->ring_cap];
}

static int ring_push(fpc_queue *q, const qent *e)
{
    if (q->ring_n == q->ring_cap) {
        size_t ncap = q->ring_cap ? q->ring_cap * 2 : 1024;
        qent *n = fp_malloc(ncap * sizeof *n);
        if (!n)
            return -1;
        for (size_t i = 0; i < q->ring_n; i++)
            n[i] = *ring_at(q, i);
        fp_free(q->ring);
        q->ring = n;
        q->ring_cap = ncap;
        q->ring_start = 0;
    }
    q->ring[(q->ring_start + q->ring_n) % q->ring_cap] = *e;
    q->ring_n++;
    return 0;
}

/* Index of seq in the ring, or -1. Seqs are increasing; usually contiguous. */
static long ring_find(fpc_queue *q, uint64_t seq)
{
    if (q->ring_n == 0)
        return -1;
    uint64_t first = ring_at(q, 0)->seq;
    if (seq < first)
        return -1;
    if (seq - first < q->ring_n && ring_at(q, (size_t)(seq - first))->seq == seq)
        return (long)(seq - first);
    size_t lo = 0, hi = q->ring_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t s = ring_at(q, mid)->seq;
        if (s == seq)
            return (long)mid;
        if (s < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* First ring index with seq >= from, or ring_n. */
static size_t ring_lower(fpc_queue *q, uint64_t from)
{
    size_t lo = 0, hi = q->ring_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ring_at(q, mid)->seq < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- the acked marker ---------------------------------------------------------------------- */

static void ack_write(fpc_queue *q)
{
    unsigned char slot[ACK_SLOT] = {0};

    if (q->ack_fd < 0)
        return;
    q->ack_saved_ms = fp_mono_ms();
    q->ack_gen++;
    put32(slot, ACK_MAGIC);
    put64(slot + 4, q->ack_gen);
    put64(slot + 12, q->head);
    put32(slot + 20, fpc_crc32(0, slot, 20));
    if (pwrite_all(q->ack_fd, slot, sizeof slot, (q->ack_gen & 1) * ACK_SLOT) != 0) {
        set_err(q, "cannot write %s/acked: %s", q->dir, strerror(errno));
        return;
    }
    if (q->sync)
        fdatasync(q->ack_fd);
    q->head_saved = q->head;
}

/* Read the head from the marker; 0 when there is no valid slot. */
static uint64_t ack_read(fpc_queue *q)
{
    unsigned char buf[2 * ACK_SLOT];
    uint64_t best_gen = 0, head = 0;
    ssize_t n = pread(q->ack_fd, buf, sizeof buf, 0);

    for (int i = 0; i < 2 && n >= (ssize_t)((i + 1) * ACK_SLOT); i++) {
        unsigned char *s = buf + i * ACK_SLOT;
        if (get32(s) != ACK_MAGIC || get32(s + 20) != fpc_crc32(0, s, 20))
            continue;
        uint64_t gen = get64(s + 4);
        if (gen >= best_gen) {
            best_gen = gen;
            head = get64(s + 12);
        }
    }
    if (n > 0 && best_gen == 0)
        fp_log_warn(MOD, "%s/acked holds no valid slot: every queued message is sent again",
                    q->dir);
    q->ack_gen = best_gen;
    return head;
}

/* ---- segments ---------------------------------------------------------------------------- */

static void seg_free(qseg *s)
{
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    fp_free(s->path);
    fp_free(s);
}

static int segs_push(fpc_queue *q, qseg *s)
{
    if (q->n_segs == q->cap_segs) {
        size_t ncap = q->cap_segs ? q->cap_segs * 2 : 16;
        qseg **n = fp_realloc(q->segs, ncap * sizeof *n);
        if (!n)
            return -1;
        q->segs = n;
        q->cap_segs = ncap;
    }
    q->segs[q->n_segs++] = s;
    return 0;
}

static qseg *seg_create(fpc_queue *q, uint64_t first_seq)
{
    char name[64];
    qseg *s = fp_calloc(1, sizeof *s);

    if (!s)
        goto out_nomem;
    s->fd = -1;
    snprintf(name, sizeof name, "seg-%020" PRIu64 ".fpq", first_seq);
    s->path = path_join(q->dir, name);
    if (!s->path)
        goto out_nomem;
    s->name_seq = first_seq;
    s->fd = open(s->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (s->fd < 0) {
        set_err(q, "cannot create %s: %s", s->path, strerror(errno));
        goto out_free;
    }
    if (q->sync)
        sync_dir(q);
    if (segs_push(q, s) != 0)
        goto out_nomem;
    return s;

out_nomem:
    set_err(q, "out of memory creating a segment in %s", q->dir);
out_free:
    if (s && s->fd >= 0)
        unlink(s->path);
    seg_free(s);
    return NULL;
}

/* Delete the oldest segments whose records all lie before the persisted head, except the
 * one being written to. Not the head in memory: until the marker says so, a crash sends
 * those records again, and they must still be there (the marker never points past the
 * records on disk, so sequence numbers are never reused after a restart). */
static void segs_trim(fpc_queue *q)
{
    size_t k = 0;

    while (k + 1 < q->n_segs) {
        qseg *s = q->segs[k];
        if (s->n_rec > 0 && s->last_seq >= q->head_saved)
            break;
        if (unlink(s->path) != 0 && errno != ENOENT)
            set_err(q, "cannot delete %s: %s", s->path, strerror(errno));
        seg_free(s);
        k++;
    }
    if (k > 0) {
        memmove(q->segs, q->segs + k, (q->n_segs - k) * sizeof *q->segs);
        q->n_segs -= k;
    }
}

/* Write the marker (and drop the segments it frees) when the head moved. */
static void save_head(fpc_queue *q)
{
    if (q->head == q->head_saved)
        return;
    ack_write(q);
    segs_trim(q);
}

/* Pop the acknowledged prefix of the ring; persist the new head unless the last marker
 * write is younger than ack_delay_ms (fpc_queue_flush writes it later). */
static void advance_head(fpc_queue *q)
{
    while (q->ring_n > 0 && ring_at(q, 0)->acked) {
        q->ring_start = (q->ring_start + 1) % q->ring_cap;
        q->ring_n--;
    }
    q->head = q->ring_n > 0 ? ring_at(q, 0)->seq : q->next_seq;
    if (q->head != q->head_saved && (q->ack_delay_ms == 0 || q->ack_saved_ms == 0 ||
                                     fp_mono_ms() - q->ack_saved_ms >= q->ack_delay_ms))
        save_head(q);
}

/* Count a drop; log the 1st, 10th, 100th ... so a full queue is seen without a flood. */
static void count_drop(fpc_queue *q, const char *which)
{
    q->dropped++;
    for (uint64_t n = 1; n <= q->dropped && n < UINT64_MAX / 10; n *= 10) {
        if (n == q->dropped) {
            fp_log_warn(MOD,
                        "%s: the queue is full (%" PRIu64
                        " bytes): dropped the %s message (%" PRIu64 " dropped so far)",
                        q->dir, q->max_bytes, which, q->dropped);
            break;
        }
    }
}

static void mark_acked(fpc_queue *q, qent *e)
{
    if (e->acked)
        return;
    e->acked = true;
    q->count--;
    q->bytes -= e->size;
}

/* ---- record encoding ------------------------------------------------------------------------ */

static size_t str_size(const char *z)
{
    return 4 + (z ? strlen(z) : 0);
}

static unsigned char *put_bytes(unsigned char *p, const void *s, size_t len, bool none)
{
    if (none) {
        put32(p, NONE_LEN);
        return p + 4;
    }
    put32(p, (uint32_t)len);
    if (len)
        memcpy(p + 4, s, len);
    return p + 4 + len;
}

static unsigned char *put_str(unsigned char *p, const char *z)
{
    return put_bytes(p, z, z ? strlen(z) : 0, z == NULL);
}

/* Encode msg as a whole record (header included) into q->wbuf; its size, or 0. */
static size_t encode(fpc_queue *q, const fpc_msg *msg, uint64_t enq_ms, uint64_t seq)
{
    uint64_t body = BODY_FIXED + str_size(msg->topic) + 4 + msg->len + str_size(msg->content_type) +
                    str_size(msg->response_topic) + 4 + msg->correlation_len;

    for (size_t i = 0; i < msg->n_props; i++)
        body += str_size(msg->props[i].key) + str_size(msg->props[i].value);
    if (body + FPC_QUEUE_HDR > MAX_RECORD || body + FPC_QUEUE_HDR > q->max_bytes) {
        set_err(q,
                "message for %s is too large for the queue (%" PRIu64 " bytes, limit %" PRIu64 ")",
                msg->topic, body + FPC_QUEUE_HDR,
                q->max_bytes < MAX_RECORD ? q->max_bytes : (uint64_t)MAX_RECORD);
        return 0;
    }
    if (grow(&q->wbuf, &q->wcap, (size_t)body + FPC_QUEUE_HDR) != 0) {
        set_err(q, "out of memory encoding a message for %s", msg->topic);
        return 0;
    }
    unsigned char *b = q->wbuf + FPC_QUEUE_HDR, *p = b;
    put64(p, enq_ms);
    put32(p + 8, msg->expiry_s);
    p[12] = (unsigned char)msg->qos;
    p[13] = msg->retain ? 1 : 0;
    p[14] = p[15] = 0;
    put32(p + 16, (uint32_t)msg->n_props);
    put32(p + 20, 0);
    p += BODY_FIXED;
    p = put_str(p, msg->topic);
    p = put_bytes(p, msg->payload, msg->len, false);
    p = put_str(p, msg->content_type);
    p = put_str(p, msg->response_topic);
    p = put_bytes(p, msg->correlation, msg->correlation_len, msg->correlation == NULL);
    for (size_t i = 0; i < msg->n_props; i++) {
        p = put_str(p, msg->props[i].key);
        p = put_str(p, msg->props[i].value);
    }
    put32(q->wbuf, FPC_QUEUE_MAGIC);
    put32(q->wbuf + 4, (uint32_t)body);
    put64(q->wbuf + 12, seq);
    put32(q->wbuf + 8, fpc_crc32(fpc_crc32(0, q->wbuf + 12, 8), b, (size_t)body));
    return (size_t)body + FPC_QUEUE_HDR;
}

/* A cursor over a record body during decoding. */
typedef struct rd {
    const unsigned char *p, *end;
} rd;

/* Take one string: *out points to a NUL-terminated copy in dst (or NULL for none). */
static int take(rd *r, unsigned char **dst, const char **out, size_t *len_out)
{
    if (r->end - r->p < 4)
        return -1;
    uint32_t len = get32(r->p);
    r->p += 4;
    if (len == NONE_LEN) {
        *out = NULL;
        if (len_out)
            *len_out = 0;
        return 0;
    }
    if ((uint64_t)(r->end - r->p) < len)
        return -1;
    memcpy(*dst, r->p, len);
    (*dst)[len] = 0;
    *out = (const char *)*dst;
    *dst += len + 1;
    r->p += len;
    if (len_out)
        *len_out = len;
    return 0;
}

/* Decode a record body into it (seq set by the caller). -1 when malformed. */
static int decode(const unsigned char *body, size_t len, fpc_queue_item *it)
{
    rd r = {body, body + len};
    const char *s;

    if (len < BODY_FIXED)
        return -1;
    uint32_t n_props = get32(body + 16);
    if (n_props > len / 8)
        return -1;
    /* Every string gains at most a terminator: len + one byte per string is enough. */
    if (grow(&it->buf, &it->cap, len + 5 + 2 * (size_t)n_props + 1) != 0)
        return -1;
    if (n_props > it->props_cap) {
        fpc_prop *np = fp_realloc(it->props, n_props * sizeof *np);
        if (!np)
            return -1;
        it->props = np;
        it->props_cap = n_props;
    }
    memset(&it->msg, 0, sizeof it->msg);
    it->enq_ms = get64(body);
    it->msg.expiry_s = get32(body + 8);
    it->msg.qos = body[12];
    it->msg.retain = body[13] != 0;
    r.p += BODY_FIXED;
    unsigned char *d = it->buf;
    if (take(&r, &d, &it->msg.topic, NULL) != 0 || !it->msg.topic)
        return -1;
    if (take(&r, &d, &s, &it->msg.len) != 0 || !s)
        return -1;
    it->msg.payload = s;
    if (take(&r, &d, &it->msg.content_type, NULL) != 0 ||
        take(&r, &d, &it->msg.response_topic, NULL) != 0 ||
        take(&r, &d, &s, &it->msg.correlation_len) != 0)
        return -1;
    it->msg.correlation = s;
    for (uint32_t i = 0; i < n_props; i++) {
        if (take(&r, &d, &it->props[i].key, NULL) != 0 || !it->props[i].key ||
            take(&r, &d, &it->props[i].value, NULL) != 0 || !it->props[i].value)
            return -1;
    }
    if (r.p != r.end)
        return -1;
    it->msg.props = n_props ? it->props : NULL;
    it->msg.n_props = n_props;
    return 0;
}

/* ---- open and recovery ------------------------------------------------------------------ */

static int cmp_seg(const void *a, const void *b)
{
    const qseg *x = *(qseg *const *)a, *y = *(qseg *const *)b;
    return x->name_seq < y->name_seq ? -1 : x->name_seq > y->name_seq;
}

/* Read a whole file into a fresh buffer. */
static unsigned char *slurp(int fd, uint64_t *size_out)
{
    struct stat st;

    if (fstat(fd, &st) != 0)
        return NULL;
    size_t size = (size_t)st.st_size;
    unsigned char *p = fp_malloc(size ? size : 1);
    if (!p)
        return NULL;
    if (size && pread_all(fd, p, size, 0) != 0) {
        fp_free(p);
        return NULL;
    }
    *size_out = size;
    return p;
}

/* Scan one segment: index its records from the head on, cut a torn or corrupt tail. */
static int scan_seg(fpc_queue *q, qseg *s, uint64_t *last_seq, bool *have_last, bool is_last)
{
    uint64_t size = 0, off = 0;
    unsigned char *data = slurp(s->fd, &size);
    const char *why = NULL;

    if (!data) {
        snprintf(q->last_err, sizeof q->last_err, "cannot read %s: %s", s->path, strerror(errno));
        return -1;
    }
    while (off < size) {
        if (size - off < FPC_QUEUE_HDR) {
            why = "torn header";
            break;
        }
        const unsigned char *h = data + off;
        uint32_t len = get32(h + 4);
        uint64_t seq = get64(h + 12);
        if (get32(h) != FPC_QUEUE_MAGIC) {
            why = "bad magic";
            break;
        }
        if (len > MAX_RECORD || len < BODY_FIXED) {
            why = "bad length";
            break;
        }
        if (size - off - FPC_QUEUE_HDR < len) {
            why = "torn record";
            break;
        }
        if (get32(h + 8) != fpc_crc32(fpc_crc32(0, h + 12, 8), h + FPC_QUEUE_HDR, len)) {
            why = "bad crc";
            break;
        }
        if (*have_last && seq <= *last_seq) {
            why = "sequence number out of order";
            break;
        }
        *last_seq = seq;
        *have_last = true;
        s->last_seq = seq;
        s->n_rec++;
        if (seq >= q->head) {
            qent e = {.seq = seq, .off = off, .size = FPC_QUEUE_HDR + len, .seg = s};
            if (ring_push(q, &e) != 0) {
                fp_free(data);
                snprintf(q->last_err, sizeof q->last_err, "out of memory indexing %s", s->path);
                return -1;
            }
            q->count++;
            q->bytes += e.size;
        }
        off += FPC_QUEUE_HDR + len;
    }
    fp_free(data);
    if (off < size) {
        fp_log_warn(MOD, "%s: %s at offset %" PRIu64 ", dropping %" PRIu64 " bytes%s", s->path, why,
                    off, size - off, is_last ? "" : " (not the last segment: data corruption)");
        q->recovered_drop += size - off;
        if (ftruncate(s->fd, (off_t)off) != 0) {
            snprintf(q->last_err, sizeof q->last_err, "cannot truncate %s: %s", s->path,
                     strerror(errno));
            return -1;
        }
    }
    s->size = off;
    return 0;
}

static int load(fpc_queue *q)
{
    DIR *d = opendir(q->dir);
    struct dirent *de;

    if (!d) {
        snprintf(q->last_err, sizeof q->last_err, "cannot read directory %s: %s", q->dir,
                 strerror(errno));
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        char *end;
        if (strncmp(de->d_name, "seg-", 4) != 0)
            continue;
        errno = 0;
        uint64_t n = strtoull(de->d_name + 4, &end, 10);
        if (errno || end == de->d_name + 4 || strcmp(end, ".fpq") != 0)
            continue;
        qseg *s = fp_calloc(1, sizeof *s);
        if (!s || !(s->path = path_join(q->dir, de->d_name)) || segs_push(q, s) != 0) {
            if (s)
                fp_free(s->path);
            fp_free(s);
            closedir(d);
            snprintf(q->last_err, sizeof q->last_err, "out of memory listing %s", q->dir);
            return -1;
        }
        s->name_seq = n;
        s->fd = open(s->path, O_RDWR | O_CLOEXEC);
        if (s->fd < 0) {
            snprintf(q->last_err, sizeof q->last_err, "cannot open %s: %s", s->path,
                     strerror(errno));
            closedir(d);
            return -1;
        }
    }
    closedir(d);
    if (q->n_segs > 1)
        qsort(q->segs, q->n_segs, sizeof *q->segs, cmp_seg);

    uint64_t last_seq = 0;
    bool have_last = false;
    for (size_t i = 0; i < q->n_segs; i++) {
        if (scan_seg(q, q->segs[i], &last_seq, &have_last, i + 1 == q->n_segs) != 0)
            return -1;
    }
    q->next_seq = have_last && last_seq + 1 > q->head ? last_seq + 1 : q->head;
    if (q->next_seq == 0)
        q->next_seq = 1; /* seq 0 is never used, so head 0 means "nothing acked" */
    q->head = q->ring_n ? ring_at(q, 0)->seq : q->next_seq;
    /* Empty segments other than the last are leftovers of a cut. */
    for (size_t i = 0; i + 1 < q->n_segs;) {
        qseg *s = q->segs[i];
        if (s->n_rec == 0) {
            unlink(s->path);
            seg_free(s);
            memmove(q->segs + i, q->segs + i + 1, (q->n_segs - i - 1) * sizeof *q->segs);
            q->n_segs--;
        } else {
            i++;
        }
    }
    segs_trim(q);
    return 0;
}

fpc_queue *fpc_queue_open(const char *dir, uint64_t max_bytes, bool sync, bool drop_newest,
                          char *err, size_t err_len)
{
    fpc_queue *q = NULL;
    char *path = NULL;

    if (!dir || !*dir) {
        snprintf(err, err_len, "queue directory is empty");
        return NULL;
    }
    if (mkdir_p(dir) != 0) {
        snprintf(err, err_len, "cannot create queue directory %s: %s", dir, strerror(errno));
        return NULL;
    }
    q = fp_calloc(1, sizeof *q);
    if (!q || !(q->dir = fp_strdup(dir)))
        goto out_nomem;
    pthread_mutex_init(&q->mu, NULL);
    q->lock_fd = q->ack_fd = -1;
    q->max_bytes = max_bytes ? max_bytes : 64ull * 1024 * 1024;
    q->seg_bytes = q->max_bytes / 8;
    if (q->seg_bytes < SEG_MIN)
        q->seg_bytes = SEG_MIN;
    if (q->seg_bytes > SEG_MAX)
        q->seg_bytes = SEG_MAX;
    q->sync = sync;
    q->drop_newest = drop_newest;

    if (!(path = path_join(dir, "lock")))
        goto out_nomem;
    q->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (q->lock_fd < 0) {
        snprintf(err, err_len, "cannot open %s: %s", path, strerror(errno));
        goto out_close;
    }
    if (flock(q->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, err_len, "%s: the queue is in use by another process (%s)", path,
                 strerror(errno));
        goto out_close;
    }
    fp_free(path);
    if (!(path = path_join(dir, "acked")))
        goto out_nomem;
    q->ack_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (q->ack_fd < 0) {
        snprintf(err, err_len, "cannot open %s: %s", path, strerror(errno));
        goto out_close;
    }
    fp_free(path);
    path = NULL;
    q->head = q->head_saved = ack_read(q);
    if (load(q) != 0) {
        snprintf(err, err_len, "%s", q->last_err);
        goto out_close;
    }
    q->last_err[0] = 0;
    if (q->count > 0 || q->recovered_drop > 0)
        fp_log_info(MOD,
                    "%s: recovered %" PRIu64 " queued messages (%" PRIu64
                    " bytes) in %zu segments, head %" PRIu64 "",
                    dir, q->count, q->bytes, q->n_segs, q->head);
    return q;

out_nomem:
    snprintf(err, err_len, "out of memory opening the queue in %s", dir);
out_close:
    fp_free(path);
    fpc_queue_close(q);
    return NULL;
}

void fpc_queue_close(fpc_queue *q)
{
    if (!q)
        return;
    if (q->ack_fd >= 0)
        save_head(q); /* acks held back by ack_delay_ms */
    for (size_t i = 0; i < q->n_segs; i++)
        seg_free(q->segs[i]);
    fp_free(q->segs);
    fp_free(q->ring);
    fp_free(q->wbuf);
    fp_free(q->rbuf);
    if (q->ack_fd >= 0)
        close(q->ack_fd);
    if (q->lock_fd >= 0)
        close(q->lock_fd); /* releases the flock */
    if (q->dir)
        pthread_mutex_destroy(&q->mu);
    fp_free(q->dir);
    fp_free(q);
}

/* ---- operations ------------------------------------------------------------------------- */

int fpc_queue_append(fpc_queue *q, const fpc_msg *msg, uint64_t enq_ms, uint64_t *seq_out)
{
    int rc = -1;

    if (!msg || !msg->topic || (msg->len && !msg->payload) || (msg->n_props && !msg->props)) {
        snprintf(q->last_err, sizeof q->last_err, "invalid message (no topic or payload)");
        return -1;
    }
    for (size_t i = 0; i < msg->n_props; i++) {
        if (!msg->props[i].key || !msg->props[i].value) {
            snprintf(q->last_err, sizeof q->last_err, "user property %zu has no key or value", i);
            return -1;
        }
    }
    pthread_mutex_lock(&q->mu);
    uint64_t seq = q->next_seq;
    q->wbuf_seq = 0; /* wbuf is about to hold another record */
    size_t size = encode(q, msg, enq_ms, seq);
    if (size == 0)
        goto out;
    if (q->bytes + size > q->max_bytes) {
        if (q->drop_newest) {
            count_drop(q, "newest");
            rc = FPC_QUEUE_FULL;
            goto out;
        }
        while (q->ring_n > 0 && q->bytes + size > q->max_bytes) {
            mark_acked(q, ring_at(q, 0));
            count_drop(q, "oldest");
            advance_head(q);
        }
    }
    qseg *s = q->n_segs ? q->segs[q->n_segs - 1] : NULL;
    if (!s || s->size >= q->seg_bytes) {
        s = seg_create(q, seq);
        if (!s) {
            write_failed(q, errno);
            goto out;
        }
        segs_trim(q);
    }
    if (pwrite_all(s->fd, q->wbuf, size, s->size) != 0) {
        write_failed(q, errno);
        set_err(q, "cannot write %s: %s", s->path, strerror(q->write_errno));
        /* Leave no partial record behind (ENOSPC may have written part of it). */
        if (ftruncate(s->fd, (off_t)s->size) != 0)
            fp_log_error(MOD, "cannot truncate %s: %s", s->path, strerror(errno));
        goto out;
    }
    if (q->sync && fdatasync(s->fd) != 0) {
        write_failed(q, errno);
        set_err(q, "cannot sync %s: %s", s->path, strerror(q->write_errno));
        goto out;
    }
    qent e = {.seq = seq, .off = s->size, .size = (uint32_t)size, .seg = s};
    if (ring_push(q, &e) != 0) {
        set_err(q, "out of memory indexing %s", s->path);
        /* On disk but not indexed: the next open finds it; nothing is lost. */
        goto out;
    }
    s->size += size;
    s->n_rec++;
    s->last_seq = seq;
    q->next_seq = seq + 1;
    q->count++;
    q->bytes += size;
    q->wbuf_seq = seq;
    q->wbuf_len = size;
    if (q->ring_n == 1)
        q->head = seq;
    if (seq_out)
        *seq_out = seq;
    if (q->write_errno) {
        fp_log_info(MOD, "the disk queue is written again (%" PRIu64 " appends failed)",
                    q->write_failed);
        q->write_errno = 0;
    }
    rc = 0;
out:
    pthread_mutex_unlock(&q->mu);
    return rc;
}

int fpc_queue_peek(fpc_queue *q, uint64_t from_seq, fpc_queue_item *it)
{
    int rc = 0;

    pthread_mutex_lock(&q->mu);
    for (size_t i = ring_lower(q, from_seq); i < q->ring_n; i++) {
        qent *e = ring_at(q, i);
        if (e->acked)
            continue;
        if (e->seq == q->wbuf_seq && e->size == q->wbuf_len &&
            decode(q->wbuf + FPC_QUEUE_HDR, e->size - FPC_QUEUE_HDR, it) == 0) {
            /* Just appended: the bytes written are still here, checked as they were
             * made. */
            it->seq = e->seq;
            rc = 1;
            break;
        }
        if (grow(&q->rbuf, &q->rcap, e->size) == 0 &&
            pread_all(e->seg->fd, q->rbuf, e->size, e->off) == 0 &&
            get32(q->rbuf) == FPC_QUEUE_MAGIC && get64(q->rbuf + 12) == e->seq &&
            get32(q->rbuf + 8) == fpc_crc32(fpc_crc32(0, q->rbuf + 12, 8), q->rbuf + FPC_QUEUE_HDR,
                                            e->size - FPC_QUEUE_HDR) &&
            decode(q->rbuf + FPC_QUEUE_HDR, e->size - FPC_QUEUE_HDR, it) == 0) {
            it->seq = e->seq;
            rc = 1;
            break;
        }
        uint64_t bad = e->seq;
        set_err(q, "%s: record %" PRIu64 " at offset %" PRIu64 " cannot be read back; skipped",
                e->seg->path, bad, e->off);
        q->unreadable++;
        mark_acked(q, e);
        advance_head(q); /* the ring may have moved: find our place again */
        i = ring_lower(q, bad + 1);
        if (i >= q->ring_n)
            break;
        i--;
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

int fpc_queue_ack(fpc_queue *q, uint64_t seq)
{
    int rc = 0;

    pthread_mutex_lock(&q->mu);
    if (seq >= q->next_seq || seq == 0) {
        rc = -1;
    } else if (seq >= q->head) {
        long i = ring_find(q, seq);
        if (i >= 0) {
            mark_acked(q, ring_at(q, (size_t)i));
            if (i == 0)
                advance_head(q);
        }
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

void fpc_queue_set_ack_delay(fpc_queue *q, uint64_t ms)
{
    pthread_mutex_lock(&q->mu);
    q->ack_delay_ms = ms;
    pthread_mutex_unlock(&q->mu);
}

int fpc_queue_flush(fpc_queue *q)
{
    int rc = 0;

    pthread_mutex_lock(&q->mu);
    if (q->head != q->head_saved) {
        save_head(q);
        rc = q->head == q->head_saved ? 0 : -1;
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

bool fpc_queue_flush_due(fpc_queue *q)
{
    bool due;

    pthread_mutex_lock(&q->mu);
    due = q->head != q->head_saved;
    pthread_mutex_unlock(&q->mu);
    return due;
}

void fpc_queue_get_stats(fpc_queue *q, fpc_queue_stats *out)
{
    pthread_mutex_lock(&q->mu);
    out->count = q->count;
    out->bytes = q->bytes;
    out->dropped = q->dropped;
    out->head_seq = q->head;
    out->saved_head_seq = q->head_saved;
    out->next_seq = q->next_seq;
    out->recovered_drop = q->recovered_drop;
    out->unreadable = q->unreadable;
    out->segments = q->n_segs;
    out->write_failed = q->write_failed;
    out->write_errno = q->write_errno;
    pthread_mutex_unlock(&q->mu);
}

void fpc_queue_last_error(fpc_queue *q, char *buf, size_t len)
{
    pthread_mutex_lock(&q->mu);
    snprintf(buf, len, "%s", q->last_err);
    pthread_mutex_unlock(&q->mu);
}

void fpc_queue_item_init(fpc_queue_item *it)
{
    memset(it, 0, sizeof *it);
}

void fpc_queue_item_clear(fpc_queue_item *it)
{
    if (!it)
        return;
    fp_free(it->buf);
    fp_free(it->props);
    memset(it, 0, sizeof *it);
}
