/*
 * fpc_queue.h - the bounded on-disk FIFO behind the MQTT publisher (store and forward).
 *
 * Internal to libfieldplane-connector. A queue is a directory of segment files
 * (seg-<first seq>.fpq) holding append-only records
 *
 *     [magic u32][len u32][crc32 u32][seq u64][record: len bytes]      (little endian)
 *
 * where the crc covers seq and the record, plus a small file `acked` with two fixed
 * slots, each [magic][gen][head seq][crc], rewritten in turn, so that a torn write of one
 * slot leaves the other. `head` is the first sequence number not yet acknowledged.
 *
 * Crash safety: every append is one write() to the segment before append returns, so a
 * process killed at any moment (SIGKILL) loses nothing it was told was queued; with
 * `sync` each append is also fdatasync'ed (power loss). On open, a torn or corrupt
 * record ends its segment: the file is truncated there and the bytes dropped are logged.
 * A lost or torn `acked` file only means acknowledged messages are sent again.
 *
 * With an ack delay (fpc_queue_set_ack_delay) the marker is rewritten at most once per
 * delay while acks come in, and by fpc_queue_flush / fpc_queue_close: a crash then sends
 * the messages acknowledged in the last delay again (duplicates, never a loss). Segment
 * files are deleted only behind the persisted head.
 *
 * The queue is bounded by the bytes of its unacknowledged records (max_bytes). Acks may
 * come out of order; the head advances over the contiguous acknowledged prefix and
 * segments whose records all lie before the head are deleted. All functions are
 * thread-safe (one mutex); a directory is locked (flock) by one open queue at a time.
 */
#ifndef FPC_QUEUE_H
#define FPC_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fpc_mqtt.h"

typedef struct fpc_queue fpc_queue;

/* Return codes of fpc_queue_append besides 0 and -1. */
#define FPC_QUEUE_FULL 1 /* refused: the queue is full and drop_newest is set */

typedef struct fpc_queue_stats {
    uint64_t count;          /* unacknowledged messages */
    uint64_t bytes;          /* their record bytes (headers included) */
    uint64_t dropped;        /* dropped because the queue was full (either policy) */
    uint64_t head_seq;       /* first unacknowledged sequence number (= next_seq if empty) */
    uint64_t saved_head_seq; /* the head as the `acked` marker on disk holds it */
    uint64_t next_seq;       /* what the next append gets */
    uint64_t recovered_drop; /* bytes cut from torn or corrupt segment tails at open */
    uint64_t unreadable;     /* records that could not be read back later (skipped) */
    uint64_t segments;       /* segment files */
    uint64_t write_failed;   /* appends that could not be written (disk full, I/O error) */
    int write_errno;         /* errno of the last of them (ENOSPC: disk full), 0 once an
                                append is written again */
} fpc_queue_stats;

/* A message read back from the queue. The msg fields point into the item's own buffers,
 * valid until the next peek into the same item or fpc_queue_item_clear. */
typedef struct fpc_queue_item {
    uint64_t seq;
    uint64_t enq_ms; /* wall clock (ms since the epoch) at append */
    fpc_msg msg;
    /* private */
    unsigned char *buf;
    size_t cap;
    fpc_prop *props;
    size_t props_cap;
} fpc_queue_item;

/* Open (creating dir if missing) and recover the queue in dir. NULL with err filled
 * (naming the file) when the directory cannot be used or is locked by another queue. */
fpc_queue *fpc_queue_open(const char *dir, uint64_t max_bytes, bool sync, bool drop_newest,
                          char *err, size_t err_len);
/* Close; unacknowledged messages stay on disk. Safe on NULL. */
void fpc_queue_close(fpc_queue *q);

/* Append a copy of msg stamped with enq_ms. 0 (seq_out set), FPC_QUEUE_FULL when refused
 * under drop_newest, -1 on an I/O error or a message too large for the queue
 * (fpc_queue_last_error says which). Under drop-oldest, older messages are dropped
 * (counted) to make room. */
int fpc_queue_append(fpc_queue *q, const fpc_msg *msg, uint64_t enq_ms, uint64_t *seq_out);

/* Read the first unacknowledged message with seq >= from_seq into it. 1 when found, 0 when
 * there is none. A record that cannot be read back is logged, dropped and skipped. */
int fpc_queue_peek(fpc_queue *q, uint64_t from_seq, fpc_queue_item *it);

/* Acknowledge seq (any order). 0, or -1 when seq is unknown (never appended); acking an
 * already acknowledged or dropped message is a no-op that returns 0. */
int fpc_queue_ack(fpc_queue *q, uint64_t seq);

/* Write the `acked` marker at most once per ms while acks come in (0, the default: at
 * every ack that moves the head). The caller then calls fpc_queue_flush now and then. */
void fpc_queue_set_ack_delay(fpc_queue *q, uint64_t ms);
/* Write the marker now if the head moved since it was last written. 0, or -1 on an I/O
 * error (fpc_queue_last_error says which; retried at the next ack or flush). */
int fpc_queue_flush(fpc_queue *q);
/* Whether acks are waiting for the marker. */
bool fpc_queue_flush_due(fpc_queue *q);

void fpc_queue_get_stats(fpc_queue *q, fpc_queue_stats *out);
/* The last I/O error ("" when none); copied into buf. */
void fpc_queue_last_error(fpc_queue *q, char *buf, size_t len);

void fpc_queue_item_init(fpc_queue_item *it);
void fpc_queue_item_clear(fpc_queue_item *it);

/* CRC-32 (IEEE 802.3), exposed for tests that forge records. */
uint32_t fpc_crc32(uint32_t crc, const void *p, size_t len);

#define FPC_QUEUE_MAGIC 0x31515046u /* "FPQ1" */
#define FPC_QUEUE_HDR 20u

#endif
