/*
 * test_time.h - the clock and sleep helpers the unit tests share (header only: each test is
 * its own program). The clock is the tree's own, fp_mono_ms from fp_time.h.
 */
#ifndef FP_TEST_TIME_H
#define FP_TEST_TIME_H

#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "fp_time.h"

/* Sleep ms milliseconds, also across signals. */
static inline void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

#endif
