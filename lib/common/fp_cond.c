/*
 * fp_cond.c - monotonic timed waits on condition variables (see fp_cond.h for why).
 */
#include "fp_cond.h"

#include <errno.h>
#include <time.h>

#include "fp_time.h"

int fp_cond_init(pthread_cond_t *c)
{
    pthread_condattr_t ca;
    int rc = pthread_condattr_init(&ca);

    if (rc)
        return rc;
    rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (!rc)
        rc = pthread_cond_init(c, &ca);
    pthread_condattr_destroy(&ca);
    return rc;
}

int fp_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *mu, uint64_t deadline_ms)
{
    struct timespec ts;

    /* fp_mono_ms() and a CLOCK_MONOTONIC deadline share their origin. UINT64_MAX (what
     * fp_cond_wait_ms makes of a wait too long to add) means no deadline. */
    if (deadline_ms == UINT64_MAX)
        return pthread_cond_wait(c, mu);
    ts.tv_sec = (time_t)(deadline_ms / 1000u);
    ts.tv_nsec = (long)(deadline_ms % 1000u) * 1000000L;
    return pthread_cond_timedwait(c, mu, &ts) == ETIMEDOUT ? ETIMEDOUT : 0;
}

int fp_cond_wait_ms(pthread_cond_t *c, pthread_mutex_t *mu, uint64_t ms)
{
    uint64_t now = fp_mono_ms();
    return fp_cond_wait_until(c, mu, ms > UINT64_MAX - now ? UINT64_MAX : now + ms);
}
