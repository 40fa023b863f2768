/*
 * rt_exec.c - strands on a worker pool, timers and tasks of the connector runtime.
 *
 * A strand is a queue of work items that run in order, one at a time, on whichever
 * worker is free: each endpoint and its assets own one, so a connector's callbacks for
 * the same asset never race, while different endpoints run in parallel. A strand is in
 * the ready list at most once; the worker that runs an item puts it back when more items
 * wait, so a busy strand cannot starve the others.
 *
 * Timers live in one binary min-heap by due time (ties in the order they were queued),
 * served by one thread that only posts ticks to strands: with a thousand periodic timers a
 * sorted list cost the timer thread a walk of the whole list per tick. A periodic timer whose
 * previous tick has not run yet skips the tick rather than piling ticks up behind a slow callback.
 * Each timer carries a reference count: one for its owner (dropped by fp_timer_cancel) and one per
 * posted tick, so a tick posted just before a cancel finds the timer alive and sees it cancelled.
 *
 * Tasks are plain threads with a stop flag and a condition variable, so a task sleeping
 * in fp_task_sleep() stops at once.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fp_alloc.h"
#include "fp_log.h"
#include "rt_internal.h"

typedef struct rt_item {
    void (*fn)(void *arg);
    void *arg;
    struct rt_item *next;
} rt_item;

struct rt_strand {
    struct rt_exec *ex;
    rt_item *head, *tail;
    bool queued;  /* in the ready list, or an item of it is running */
    bool running; /* an item is running now, on thread `runner` */
    pthread_t runner;
    rt_strand *next_ready;
};

struct fp_timer {
    struct rt_exec *ex;
    rt_strand *strand;
    fp_asset *asset; /* NULL for the runtime's own one-shot timers */
    uint64_t due_ms, interval_ms;
    bool once;
    void (*fn)(void *arg);
    void *arg;
    bool in_list, posted, running, cancelled;
    size_t hidx;  /* its index in the heap, while in_list */
    uint64_t seq; /* queue order among timers due at the same time */
    pthread_t runner;
    int refs;
};

struct rt_exec {
    pthread_mutex_t lock; /* ready list, strands' queues */
    pthread_cond_t work;  /* workers wait for a ready strand */
    pthread_cond_t idle;  /* an item finished (strand_run, strand_free wait) */
    rt_strand *ready_head, *ready_tail;
    bool stop, stopped;
    int n_workers;
    pthread_t *workers;

    pthread_mutex_t tlock; /* the timer list and every timer's state */
    pthread_cond_t tcond;  /* the timer thread waits for the next due time */
    pthread_cond_t tdone;  /* a tick finished (cancel waits) */
    fp_timer **heap;       /* min-heap by (due_ms, seq) */
    size_t n_heap, cap_heap;
    uint64_t tseq;
    bool tstop;
    bool tstarted;
    pthread_t tthread;
};

uint64_t rt_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A condition variable on the monotonic clock, so timed waits ignore wall clock jumps. */
static void cond_init_mono(pthread_cond_t *c)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(c, &ca);
    pthread_condattr_destroy(&ca);
}

static void abs_mono(struct timespec *ts, uint64_t at_ms)
{
    ts->tv_sec = (time_t)(at_ms / 1000u);
    ts->tv_nsec = (long)(at_ms % 1000u) * 1000000L;
}

/* ---- strands ------------------------------------------------------------------------------- */

static void ready_push(struct rt_exec *ex, rt_strand *s)
{
    s->next_ready = NULL;
    if (ex->ready_tail)
        ex->ready_tail->next_ready = s;
    else
        ex->ready_head = s;
    ex->ready_tail = s;
    pthread_cond_signal(&ex->work);
}

static void *worker_main(void *arg)
{
    struct rt_exec *ex = arg;

    pthread_mutex_lock(&ex->lock);
    for (;;) {
        while (!ex->ready_head && !ex->stop)
            pthread_cond_wait(&ex->work, &ex->lock);
        if (!ex->ready_head)
            break; /* stopping and nothing left to run */
        rt_strand *s = ex->ready_head;
        ex->ready_head = s->next_ready;
        if (!ex->ready_head)
            ex->ready_tail = NULL;
        rt_item *it = s->head;
        s->head = it->next;
        if (!s->head)
            s->tail = NULL;
        s->running = true;
        s->runner = pthread_self();
        pthread_mutex_unlock(&ex->lock);

        it->fn(it->arg);
        fp_free(it);

        pthread_mutex_lock(&ex->lock);
        s->running = false;
        if (s->head)
            ready_push(ex, s); /* behind the other ready strands: fairness */
        else
            s->queued = false;
        pthread_cond_broadcast(&ex->idle);
    }
    pthread_mutex_unlock(&ex->lock);
    return NULL;
}

static void *timer_main(void *arg);

int rt_exec_start(fp_rt *rt, int workers)
{
    struct rt_exec *ex = fp_calloc(1, sizeof *ex);
    if (!ex)
        return -1;
    if (workers < 1)
        workers = 1;
    pthread_mutex_init(&ex->lock, NULL);
    pthread_cond_init(&ex->work, NULL);
    pthread_cond_init(&ex->idle, NULL);
    pthread_mutex_init(&ex->tlock, NULL);
    cond_init_mono(&ex->tcond);
    pthread_cond_init(&ex->tdone, NULL);
    ex->workers = fp_calloc((size_t)workers, sizeof *ex->workers);
    if (!ex->workers)
        goto out_free;
    for (int i = 0; i < workers; i++) {
        if (pthread_create(&ex->workers[i], NULL, worker_main, ex) != 0) {
            fp_log_error("runtime", "cannot start worker thread %d: %s", i, strerror(errno));
            break;
        }
        ex->n_workers++;
    }
    if (ex->n_workers == 0)
        goto out_free;
    if (pthread_create(&ex->tthread, NULL, timer_main, ex) != 0) {
        fp_log_error("runtime", "cannot start the timer thread");
        rt->exec = ex;
        rt_exec_stop(rt);
        return -1;
    }
    ex->tstarted = true;
    rt->exec = ex;
    return 0;

out_free:
    fp_free(ex->workers);
    fp_free(ex);
    return -1;
}

void rt_exec_stop(fp_rt *rt)
{
    struct rt_exec *ex = rt->exec;
    if (!ex)
        return;
    pthread_mutex_lock(&ex->tlock);
    ex->tstop = true;
    pthread_cond_broadcast(&ex->tcond);
    pthread_mutex_unlock(&ex->tlock);
    if (ex->tstarted)
        pthread_join(ex->tthread, NULL);

    pthread_mutex_lock(&ex->lock);
    ex->stop = true;
    pthread_cond_broadcast(&ex->work);
    pthread_mutex_unlock(&ex->lock);
    for (int i = 0; i < ex->n_workers; i++)
        pthread_join(ex->workers[i], NULL);

    /* Timers the connector never cancelled (their assets are gone by now). */
    for (size_t i = 0; i < ex->n_heap; i++)
        fp_free(ex->heap[i]);
    fp_free(ex->heap);
    pthread_mutex_destroy(&ex->lock);
    pthread_cond_destroy(&ex->work);
    pthread_cond_destroy(&ex->idle);
    pthread_mutex_destroy(&ex->tlock);
    pthread_cond_destroy(&ex->tcond);
    pthread_cond_destroy(&ex->tdone);
    fp_free(ex->workers);
    fp_free(ex);
    rt->exec = NULL;
}

rt_strand *rt_strand_new(fp_rt *rt)
{
    if (!rt->exec)
        return NULL;
    rt_strand *s = fp_calloc(1, sizeof *s);
    if (s)
        s->ex = rt->exec;
    return s;
}

int rt_strand_post(rt_strand *s, void (*fn)(void *arg), void *arg)
{
    struct rt_exec *ex = s->ex;
    rt_item *it = fp_malloc(sizeof *it);
    if (!it)
        return -1;
    it->fn = fn;
    it->arg = arg;
    it->next = NULL;
    pthread_mutex_lock(&ex->lock);
    if (ex->stop) {
        pthread_mutex_unlock(&ex->lock);
        fp_free(it);
        return -1;
    }
    if (s->tail)
        s->tail->next = it;
    else
        s->head = it;
    s->tail = it;
    if (!s->queued) {
        s->queued = true;
        ready_push(ex, s);
    }
    pthread_mutex_unlock(&ex->lock);
    return 0;
}

bool rt_strand_current(const rt_strand *s)
{
    struct rt_exec *ex = s->ex;
    pthread_mutex_lock(&ex->lock);
    bool cur = s->running && pthread_equal(s->runner, pthread_self());
    pthread_mutex_unlock(&ex->lock);
    return cur;
}

typedef struct run_ctx {
    struct rt_exec *ex;
    void (*fn)(void *arg);
    void *arg;
    bool done;
} run_ctx;

static void run_item(void *arg)
{
    run_ctx *rc = arg;
    rc->fn(rc->arg);
    pthread_mutex_lock(&rc->ex->lock);
    rc->done = true;
    pthread_cond_broadcast(&rc->ex->idle);
    pthread_mutex_unlock(&rc->ex->lock);
}

void rt_strand_run(rt_strand *s, void (*fn)(void *arg), void *arg)
{
    /* From the strand itself waiting would deadlock; running inline keeps the order, since
     * nothing else of the strand can run meanwhile. */
    if (rt_strand_current(s)) {
        fn(arg);
        return;
    }
    run_ctx rc = {.ex = s->ex, .fn = fn, .arg = arg};
    if (rt_strand_post(s, run_item, &rc) != 0) {
        /* No workers any more (shutdown) or no memory: run here, nothing else runs it. */
        fn(arg);
        return;
    }
    pthread_mutex_lock(&s->ex->lock);
    while (!rc.done)
        pthread_cond_wait(&s->ex->idle, &s->ex->lock);
    pthread_mutex_unlock(&s->ex->lock);
}

void rt_strand_free(rt_strand *s)
{
    if (!s)
        return;
    struct rt_exec *ex = s->ex;
    pthread_mutex_lock(&ex->lock);
    while (s->queued && !ex->stop)
        pthread_cond_wait(&ex->idle, &ex->lock);
    /* After stop the workers drained every ready strand before exiting; what could be
     * left is nothing. */
    while (s->head) {
        rt_item *it = s->head;
        s->head = it->next;
        fp_free(it);
    }
    pthread_mutex_unlock(&ex->lock);
    fp_free(s);
}

/* ---- timers -----------------------------------------------------------------------------------
 */

static void timer_unref_locked(fp_timer *t)
{
    if (--t->refs == 0)
        fp_free(t);
}

static bool timer_before(const fp_timer *a, const fp_timer *b)
{
    return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->seq < b->seq);
}

static void heap_put(struct rt_exec *ex, size_t i, fp_timer *t)
{
    ex->heap[i] = t;
    t->hidx = i;
}

static void heap_up(struct rt_exec *ex, size_t i)
{
    fp_timer *t = ex->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_before(t, ex->heap[parent]))
            break;
        heap_put(ex, i, ex->heap[parent]);
        i = parent;
    }
    heap_put(ex, i, t);
}

static void heap_down(struct rt_exec *ex, size_t i)
{
    fp_timer *t = ex->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= ex->n_heap)
            break;
        if (c + 1 < ex->n_heap && timer_before(ex->heap[c + 1], ex->heap[c]))
            c++;
        if (!timer_before(ex->heap[c], t))
            break;
        heap_put(ex, i, ex->heap[c]);
        i = c;
    }
    heap_put(ex, i, t);
}

/* Room for one more timer in the heap: 0, or -1 when out of memory. */
static int heap_reserve_locked(struct rt_exec *ex)
{
    if (ex->n_heap < ex->cap_heap)
        return 0;
    size_t ncap = ex->cap_heap ? ex->cap_heap * 2 : 64;
    fp_timer **n = fp_realloc(ex->heap, ncap * sizeof *n);
    if (!n)
        return -1;
    ex->heap = n;
    ex->cap_heap = ncap;
    return 0;
}

/* The caller made room (heap_reserve_locked), or took t out just before. */
static void timer_insert_locked(struct rt_exec *ex, fp_timer *t)
{
    t->seq = ex->tseq++;
    t->in_list = true;
    ex->heap[ex->n_heap] = t;
    t->hidx = ex->n_heap++;
    heap_up(ex, t->hidx);
}

static void timer_unlink_locked(struct rt_exec *ex, fp_timer *t)
{
    if (t->in_list) {
        size_t i = t->hidx;
        fp_timer *last = ex->heap[--ex->n_heap];
        if (i < ex->n_heap) {
            heap_put(ex, i, last);
            if (i > 0 && timer_before(last, ex->heap[(i - 1) / 2]))
                heap_up(ex, i);
            else
                heap_down(ex, i);
        }
    }
    t->in_list = false;
}

static void timer_tick(void *arg)
{
    fp_timer *t = arg;
    struct rt_exec *ex = t->ex;

    pthread_mutex_lock(&ex->tlock);
    if (t->cancelled) {
        t->posted = false;
        timer_unref_locked(t);
        pthread_mutex_unlock(&ex->tlock);
        return;
    }
    t->running = true;
    t->runner = pthread_self();
    pthread_mutex_unlock(&ex->tlock);

    t->fn(t->arg);

    pthread_mutex_lock(&ex->tlock);
    t->running = false;
    t->posted = false;
    pthread_cond_broadcast(&ex->tdone);
    timer_unref_locked(t);
    pthread_mutex_unlock(&ex->tlock);
}

static void *timer_main(void *arg)
{
    struct rt_exec *ex = arg;

    pthread_mutex_lock(&ex->tlock);
    while (!ex->tstop) {
        fp_timer *t = ex->n_heap ? ex->heap[0] : NULL;
        if (!t) {
            pthread_cond_wait(&ex->tcond, &ex->tlock);
            continue;
        }
        uint64_t now = rt_mono_ms();
        if (t->due_ms > now) {
            struct timespec ts;
            abs_mono(&ts, t->due_ms);
            pthread_cond_timedwait(&ex->tcond, &ex->tlock, &ts);
            continue;
        }
        timer_unlink_locked(ex, t);
        if (!t->posted) {
            t->posted = true;
            t->refs++;
            /* Lock order tlock -> lock: the workers never take tlock while holding lock. */
            if (rt_strand_post(t->strand, timer_tick, t) != 0) {
                t->posted = false;
                t->refs--;
            }
        } /* else: the previous tick has not run yet; skip this one */
        if (!t->once) {
            t->due_ms += t->interval_ms;
            if (t->due_ms <= now)
                t->due_ms = now + t->interval_ms;
            timer_insert_locked(ex, t);
        }
    }
    pthread_mutex_unlock(&ex->tlock);
    return NULL;
}

static fp_timer *timer_new(rt_strand *s, fp_asset *as, uint64_t first_ms, uint64_t interval_ms,
                           bool once, void (*fn)(void *arg), void *arg)
{
    if (!s || !fn)
        return NULL;
    struct rt_exec *ex = s->ex;
    fp_timer *t = fp_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ex = ex;
    t->strand = s;
    t->asset = as;
    t->once = once;
    t->interval_ms = interval_ms ? interval_ms : 1;
    t->fn = fn;
    t->arg = arg;
    t->refs = 1;
    t->due_ms = rt_mono_ms() + first_ms;
    pthread_mutex_lock(&ex->tlock);
    if (heap_reserve_locked(ex) != 0) {
        pthread_mutex_unlock(&ex->tlock);
        fp_free(t);
        return NULL;
    }
    timer_insert_locked(ex, t);
    pthread_cond_signal(&ex->tcond);
    pthread_mutex_unlock(&ex->tlock);
    return t;
}

fp_timer *fp_timer_every(fp_asset *as, uint64_t first_ms, uint64_t interval_ms,
                         void (*fn)(void *arg), void *arg)
{
    if (!as)
        return NULL;
    rt_asset *ra = rt_asset_of(as);
    if (!ra->ep || !ra->ep->strand)
        return NULL;
    return timer_new(ra->ep->strand, as, first_ms, interval_ms, false, fn, arg);
}

fp_timer *rt_timer_after(rt_strand *s, uint64_t ms, void (*fn)(void *arg), void *arg)
{
    return timer_new(s, NULL, ms, 0, true, fn, arg);
}

/* Cancel with tlock held; waits (releasing tlock) for a tick running on another thread. */
static void timer_cancel_locked(struct rt_exec *ex, fp_timer *t)
{
    t->cancelled = true;
    if (t->in_list)
        timer_unlink_locked(ex, t);
    while (t->running && !pthread_equal(t->runner, pthread_self()))
        pthread_cond_wait(&ex->tdone, &ex->tlock);
    timer_unref_locked(t);
}

void fp_timer_cancel(fp_timer *t)
{
    if (!t)
        return;
    struct rt_exec *ex = t->ex;
    pthread_mutex_lock(&ex->tlock);
    if (!t->cancelled)
        timer_cancel_locked(ex, t);
    pthread_mutex_unlock(&ex->tlock);
}

void rt_timers_cancel_asset(fp_asset *as)
{
    rt_asset *ra = rt_asset_of(as);
    if (!ra->ep || !ra->ep->strand)
        return;
    struct rt_exec *ex = ra->ep->strand->ex;
    pthread_mutex_lock(&ex->tlock);
    for (;;) {
        fp_timer *t = NULL;
        for (size_t i = 0; i < ex->n_heap && !t; i++)
            if (ex->heap[i]->asset == as)
                t = ex->heap[i];
        if (!t)
            break;
        timer_cancel_locked(ex, t); /* unlinks it, so the scan ends */
    }
    pthread_mutex_unlock(&ex->tlock);
}

/* ---- tasks ------------------------------------------------------------------------------------
 */

struct fp_task {
    pthread_t thread;
    char name[32];
    void (*fn)(fp_task *t, void *arg);
    void *arg;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    atomic_bool stopping;
    bool self_stop; /* fp_task_stop was called from the task: it frees itself */
};

static void task_destroy(fp_task *t)
{
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->cond);
    fp_free(t);
}

static void *task_main(void *arg)
{
    fp_task *t = arg;
    t->fn(t, t->arg);
    pthread_mutex_lock(&t->lock);
    bool self = t->self_stop;
    pthread_mutex_unlock(&t->lock);
    if (self)
        task_destroy(t);
    return NULL;
}

fp_task *fp_task_start(const char *name, void (*fn)(fp_task *t, void *arg), void *arg)
{
    if (!fn)
        return NULL;
    fp_task *t = fp_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    snprintf(t->name, sizeof t->name, "%s", name ? name : "task");
    t->fn = fn;
    t->arg = arg;
    pthread_mutex_init(&t->lock, NULL);
    cond_init_mono(&t->cond);
    atomic_init(&t->stopping, false);
    if (pthread_create(&t->thread, NULL, task_main, t) != 0) {
        fp_log_error("runtime", "cannot start task %s", t->name);
        task_destroy(t);
        return NULL;
    }
    char tname[16]; /* the kernel's limit for thread names */
    memcpy(tname, t->name, sizeof tname - 1);
    tname[sizeof tname - 1] = '\0';
    pthread_setname_np(t->thread, tname);
    return t;
}

bool fp_task_stopping(const fp_task *t)
{
    return t ? atomic_load(&t->stopping) : true;
}

bool fp_task_sleep(fp_task *t, uint64_t ms)
{
    if (!t)
        return true;
    struct timespec ts;
    abs_mono(&ts, rt_mono_ms() + ms);
    pthread_mutex_lock(&t->lock);
    while (!atomic_load(&t->stopping)) {
        if (pthread_cond_timedwait(&t->cond, &t->lock, &ts) == ETIMEDOUT)
            break;
    }
    bool stop = atomic_load(&t->stopping);
    pthread_mutex_unlock(&t->lock);
    return stop;
}

void fp_task_stop(fp_task *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    atomic_store(&t->stopping, true);
    pthread_cond_broadcast(&t->cond);
    bool self = pthread_equal(t->thread, pthread_self());
    if (self)
        t->self_stop = true;
    pthread_mutex_unlock(&t->lock);
    if (self) {
        pthread_detach(t->thread); /* it frees itself when fn returns */
        return;
    }
    pthread_join(t->thread, NULL);
    task_destroy(t);
}
