/*
 * fuzz_connector_queue.c - the disk queue's recovery of whatever a segment file holds.
 *
 * The input becomes the only segment file of a fresh queue directory; the queue is
 * opened (recovery: scan, cut a bad tail), every message read back and acknowledged in
 * a mixed order, one appended, and the queue reopened. None of it may crash; what the
 * queue recovers must read back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fp_log.h"
#include "../../lib/connector/fpc_queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void rm_dir(const char *dir)
{
    char path[512];
    const char *names[] = {"seg-00000000000000000001.fpq", "acked", "lock"};

    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    /* The append may have started another segment. */
    for (uint64_t s = 2; s < 8; s++) {
        snprintf(path, sizeof path, "%s/seg-%020llu.fpq", dir, (unsigned long long)s);
        unlink(path);
    }
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[] = "/tmp/fpc-fuzz-queue-XXXXXX", path[512], err[256];
    fpc_queue_item it;

    fp_log_set_level(FP_LOG_ERROR);
    if (!mkdtemp(dir))
        return 0;
    snprintf(path, sizeof path, "%s/seg-00000000000000000001.fpq", dir);
    FILE *f = fopen(path, "wb");
    if (!f)
        goto out;
    if (size && fwrite(data, 1, size, f) != size) {
        fclose(f);
        goto out;
    }
    fclose(f);

    fpc_queue_item_init(&it);
    fpc_queue *q = fpc_queue_open(dir, 1 << 20, false, false, err, sizeof err);
    if (q) {
        uint64_t seq = 0;
        int n = 0;
        while (fpc_queue_peek(q, seq, &it) == 1) {
            /* What was recovered is a whole message. */
            if (!it.msg.topic || (it.msg.len && !it.msg.payload))
                abort();
            seq = it.seq + 1;
            if (n++ % 2)
                fpc_queue_ack(q, it.seq);
        }
        fpc_msg m = {.topic = "fuzz/t", .payload = "x", .len = 1, .qos = 1};
        uint64_t added = 0;
        /* The record just appended reads back from memory: the same message. */
        if (fpc_queue_append(q, &m, 0, &added) == 0 &&
            (fpc_queue_peek(q, added, &it) != 1 || it.seq != added || it.msg.len != 1 ||
             memcmp(it.msg.payload, "x", 1) != 0 || strcmp(it.msg.topic, "fuzz/t") != 0))
            abort();
        fpc_queue_close(q);
        /* Acks held back by an ack delay are written by the flush and the close. */
        q = fpc_queue_open(dir, 1 << 20, false, false, err, sizeof err);
        if (q)
            fpc_queue_set_ack_delay(q, 60000);
        seq = 0;
        n = 0;
        while (q && fpc_queue_peek(q, seq, &it) == 1) {
            seq = it.seq + 1;
            fpc_queue_ack(q, it.seq);
            if (n++ == 3 && fpc_queue_flush(q) != 0)
                abort();
        }
        fpc_queue_close(q);
        q = fpc_queue_open(dir, 1 << 20, false, false, err, sizeof err);
        if (q && fpc_queue_peek(q, 0, &it) == 1)
            abort(); /* everything was acknowledged */
        fpc_queue_close(q);
    }
    fpc_queue_item_clear(&it);
out:
    rm_dir(dir);
    return 0;
}
