/*
 * fp_cond.h - condition variables whose timed waits run on the monotonic clock.
 *
 * A timed wait on a condition variable takes an absolute deadline on the clock the variable
 * was made with; pthread's default is the wall clock, which NTP or an operator may step by
 * hours on a box that booted without a time source. A status flush, a discovery pause or a
 * watch keep-alive then waits far too long or not at all. Every timed wait in the tree goes
 * through these three functions, so the deadline arithmetic and the clock are written once,
 * and a variable made with fp_cond_init is the only kind they are used on.
 */
#ifndef FP_COND_H
#define FP_COND_H

#include <pthread.h>
#include <stdint.h>

/* Initialise c for waits on the monotonic clock. Returns 0 or pthread's error number. */
int fp_cond_init(pthread_cond_t *c);

/* Wait on c (made with fp_cond_init; mu held) until signalled or until the fp_mono_ms()
 * instant deadline_ms has passed. Returns 0 (signalled, or woken early: callers re-check
 * their predicate) or ETIMEDOUT. */
int fp_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *mu, uint64_t deadline_ms);

/* As fp_cond_wait_until, for at most ms milliseconds from now. */
int fp_cond_wait_ms(pthread_cond_t *c, pthread_mutex_t *mu, uint64_t ms);

#endif
