/*
 * rt_exec.c - strands on a worker pool, timers and tasks of the connector runtime.
 *
 * A strand is a queue of work items that run in order, one at a time, on whichever
 * worker is free: each endpoint and its assets own one, so a connector's callbacks for
 * the same asset never race, while different endpoints run in parallel. A strand is in
 * the ready list at most once; the worker that runs an item puts it back when more items
 * wait, so a busy strand cannot starve the others.
 *
 * The pool grows for blocked work. An item may block for as long as its device's timeout
 * (a connect, a request): a monitor thread, awake only while strands wait for a worker,
 * counts the workers whose current item has run for GROW_BLOCKED_MS, used less than half of
 * that in CPU time and sleeps in the kernel (they wait on a device, they do not compute or
 * wait for a CPU), and when fewer than
 * `workers` of the pool are left to run, adds a thread, up to --max-threads. So a hung
 * device holds one thread and delays only its own strand; CPU-bound work never grows the
 * pool past `workers`. Threads above `workers` leave after IDLE_EXIT_MS without work.
 * Workers run on small stacks (WORKER_STACK), since a thousand of them may exist.
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
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fp_alloc.h"
#include "fp_cond.h"
#include "fp_log.h"
#include "fp_time.h"
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
    uint64_t ready_ms; /* when it last entered the ready list */
    rt_strand *next_ready;
};

/* An item that has run this long with little CPU time is blocked on a device. */
#define GROW_BLOCKED_MS 20
/* How often the monitor looks while strands wait for a worker. */
#define MONITOR_PERIOD_MS 10
/* A thread above the pool's base size leaves after this long without work. */
#define IDLE_EXIT_MS 10000
/* Stack of a worker thread: items are callbacks, not deep recursions; the sanitizers' shadow
 * frames need more. */
#if defined(__SANITIZE_ADDRESS__)
#define WORKER_STACK (4u << 20)
#else
#define WORKER_STACK (512u << 10)
#endif

/* One worker thread, as the monitor sees it (all fields under ex->lock). */
typedef struct rt_worker {
    struct rt_exec *ex;
    pid_t tid;         /* its kernel thread id (0 until it runs) */
    clockid_t cpu;     /* its CPU-time clock */
    bool busy;         /* running an item */
    uint64_t item_seq; /* +1 per item taken */
    uint64_t mon_seq;  /* the item the monitor measured from */
    uint64_t mon_ms;   /* when the monitor first saw that item */
    uint64_t mon_cpu_ns;
    int mon_sleeps; /* looks in a row that found it asleep with little CPU */
    struct rt_worker *next, *prev;
} rt_worker;

struct fp_timer {
    struct rt_exec *ex;
    rt_strand *strand;
    fp_asset *asset;       /* the owning asset, else NULL */
    fp_endpoint *endpoint; /* the owning endpoint (fp_endpoint_timer_every), else NULL */
    atomic_ullong *skips;  /* counts skipped ticks, or NULL */
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
    pthread_cond_t gone; /* a worker left (stop waits for the last) */
    bool stop;
    int base;        /* --workers: threads kept, and how many may run unblocked */
    int max_threads; /* --max-threads */
    int n_threads, n_idle, peak_threads;
    int n_busy;       /* workers running an item */
    int n_ready;      /* strands in the ready list */
    uint64_t grown;   /* threads added for blocked work */
    int last_blocked; /* blocked workers at the monitor's last look */
    rt_worker *workers_list;
    pthread_attr_t attr; /* small stacks, detached */

    pthread_cond_t mcond; /* the monitor waits for strands that wait */
    bool mwaiting;
    bool mstarted;
    pthread_t monitor;

    pthread_mutex_t wlock; /* fd watches */
    int epfd;              /* -1 until the first watch */
    bool io_started;
    pthread_t io_thread;
    pthread_cond_t wdone;      /* a watch callback finished (unwatch waits) */
    struct fp_fd_watch *grave; /* removed, freed by the I/O thread after its batch */

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

/* ---- strands and the growing pool ------------------------------------------------------- */

static void ready_push(struct rt_exec *ex, rt_strand *s)
{
    s->next_ready = NULL;
    s->ready_ms = fp_mono_ms();
    if (ex->ready_tail)
        ex->ready_tail->next_ready = s;
    else
        ex->ready_head = s;
    ex->ready_tail = s;
    ex->n_ready++;
    pthread_cond_signal(&ex->work);
    /* More strands wait than workers are free (idle, or woken and not yet running): one may
     * wait behind blocked workers, so the monitor looks. */
    if (ex->mwaiting && ex->n_ready > ex->n_threads - ex->n_busy)
        pthread_cond_signal(&ex->mcond);
}

static void *worker_main(void *arg);

/* Start one more worker (ex->lock held). 0, or -1 when the thread could not be made. */
static int worker_spawn_locked(struct rt_exec *ex)
{
    rt_worker *w = fp_calloc(1, sizeof *w);
    pthread_t th;
    if (!w)
        return -1;
    w->ex = ex;
    w->next = ex->workers_list;
    if (w->next)
        w->next->prev = w;
    ex->workers_list = w;
    ex->n_threads++;
    if (pthread_create(&th, &ex->attr, worker_main, w) != 0) {
        int e = errno;
        ex->n_threads--;
        ex->workers_list = w->next;
        if (w->next)
            w->next->prev = NULL;
        fp_free(w);
        fp_log_error("runtime", "cannot start a worker thread (%d running): %s", ex->n_threads,
                     strerror(e));
        return -1;
    }
    if (pthread_getcpuclockid(th, &w->cpu) != 0)
        w->cpu = (clockid_t)-1;
    if (ex->n_threads > ex->peak_threads)
        ex->peak_threads = ex->n_threads;
    return 0;
}

static void worker_unlink_locked(struct rt_exec *ex, rt_worker *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        ex->workers_list = w->next;
    if (w->next)
        w->next->prev = w->prev;
    ex->n_threads--;
    pthread_cond_broadcast(&ex->gone);
}

static void *worker_main(void *arg)
{
    rt_worker *w = arg;
    struct rt_exec *ex = w->ex;
    pid_t tid = (pid_t)syscall(SYS_gettid);

    pthread_mutex_lock(&ex->lock);
    w->tid = tid;
    for (;;) {
        while (!ex->ready_head && !ex->stop) {
            ex->n_idle++;
            if (ex->n_threads > ex->base) {
                int rc = fp_cond_wait_ms(&ex->work, &ex->lock, IDLE_EXIT_MS);
                ex->n_idle--;
                if (rc == ETIMEDOUT && !ex->ready_head && ex->n_threads > ex->base)
                    goto out; /* grown for blocked work that is over */
            } else {
                pthread_cond_wait(&ex->work, &ex->lock);
                ex->n_idle--;
            }
        }
        if (!ex->ready_head)
            break; /* stopping and nothing left to run */
        rt_strand *s = ex->ready_head;
        ex->ready_head = s->next_ready;
        if (!ex->ready_head)
            ex->ready_tail = NULL;
        ex->n_ready--;
        rt_item *it = s->head;
        s->head = it->next;
        if (!s->head)
            s->tail = NULL;
        s->running = true;
        s->runner = pthread_self();
        w->busy = true;
        ex->n_busy++;
        w->item_seq++;
        pthread_mutex_unlock(&ex->lock);

        it->fn(it->arg);
        fp_free(it);

        pthread_mutex_lock(&ex->lock);
        w->busy = false;
        ex->n_busy--;
        s->running = false;
        if (s->head)
            ready_push(ex, s); /* behind the other ready strands: fairness */
        else
            s->queued = false;
        pthread_cond_broadcast(&ex->idle);
    }
out:
    worker_unlink_locked(ex, w);
    pthread_mutex_unlock(&ex->lock);
    fp_free(w);
    return NULL;
}

static uint64_t cpu_ns(clockid_t c)
{
    struct timespec ts;
    if (c == (clockid_t)-1 || clock_gettime(c, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Whether the thread sleeps in the kernel (state S or D in /proc): blocked on I/O, a lock or
 * a timer, not running or waiting for a CPU. False when it cannot be told. */
static bool thread_sleeping(pid_t tid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the name may hold spaces and parentheses */
    if (!p || p[1] != ' ')
        return false;
    return p[2] == 'S' || p[2] == 'D';
}

/* Workers whose item has waited on something, not computed, for GROW_BLOCKED_MS (lock held;
 * reading another thread's CPU clock is a system call, a few per look). */
static int count_blocked_locked(struct rt_exec *ex, uint64_t now)
{
    int blocked = 0;
    for (rt_worker *w = ex->workers_list; w; w = w->next) {
        if (!w->busy)
            continue;
        if (w->mon_seq != w->item_seq) {
            w->mon_seq = w->item_seq;
            w->mon_sleeps = 0;
            w->mon_ms = now;
            w->mon_cpu_ns = cpu_ns(w->cpu);
            continue;
        }
        uint64_t wall_ms = now - w->mon_ms;
        if (wall_ms < GROW_BLOCKED_MS)
            continue;
        /* Asleep in the kernel now, and little CPU since the item began: waiting on a
         * device. A thread that computes but gets no CPU on a loaded machine is runnable
         * (R), not asleep, so a busy box does not grow the pool. */
        uint64_t used_ns = cpu_ns(w->cpu) - w->mon_cpu_ns;
        /* Twice in a row: a computing thread caught once in a page fault (D) is not blocked. */
        if (used_ns < wall_ms * 1000000u / 2 && thread_sleeping(w->tid))
            w->mon_sleeps++;
        else
            w->mon_sleeps = 0;
        if (w->mon_sleeps >= 2)
            blocked++;
    }
    return blocked;
}

static void *monitor_main(void *arg)
{
    struct rt_exec *ex = arg;

    pthread_mutex_lock(&ex->lock);
    while (!ex->stop) {
        if (!ex->ready_head) {
            ex->mwaiting = true;
            pthread_cond_wait(&ex->mcond, &ex->lock);
            ex->mwaiting = false;
            continue;
        }
        uint64_t now = fp_mono_ms();
        int blocked = count_blocked_locked(ex, now);
        ex->last_blocked = blocked;
        /* Strands wait, no worker is free, and too few workers are left to run: a thread
         * for the strands that wait, since the blocked ones may hold theirs for seconds. */
        if (now - ex->ready_head->ready_ms >= MONITOR_PERIOD_MS) {
            int need = ex->base - (ex->n_threads - blocked);
            while (need-- > 0 && ex->n_threads < ex->max_threads && worker_spawn_locked(ex) == 0)
                ex->grown++;
        }
        fp_cond_wait_until(&ex->mcond, &ex->lock, now + MONITOR_PERIOD_MS);
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
    ex->base = workers;
    ex->max_threads = rt->opt.max_threads > 0 ? rt->opt.max_threads : RT_MAX_THREADS_DEFAULT;
    if (ex->max_threads < workers)
        ex->max_threads = workers;
    ex->epfd = -1;
    pthread_mutex_init(&ex->lock, NULL);
    fp_cond_init(&ex->work);
    pthread_cond_init(&ex->idle, NULL);
    pthread_cond_init(&ex->gone, NULL);
    fp_cond_init(&ex->mcond);
    pthread_mutex_init(&ex->tlock, NULL);
    fp_cond_init(&ex->tcond);
    pthread_cond_init(&ex->tdone, NULL);
    pthread_mutex_init(&ex->wlock, NULL);
    pthread_cond_init(&ex->wdone, NULL);
    pthread_attr_init(&ex->attr);
    pthread_attr_setstacksize(&ex->attr, WORKER_STACK);
    pthread_attr_setdetachstate(&ex->attr, PTHREAD_CREATE_DETACHED);
    rt->exec = ex;

    pthread_mutex_lock(&ex->lock);
    for (int i = 0; i < workers; i++)
        if (worker_spawn_locked(ex) != 0)
            break;
    int started = ex->n_threads;
    pthread_mutex_unlock(&ex->lock);
    if (started == 0)
        goto out_stop;
    if (pthread_create(&ex->monitor, NULL, monitor_main, ex) != 0) {
        fp_log_error("runtime", "cannot start the worker monitor thread");
        goto out_stop;
    }
    ex->mstarted = true;
    if (pthread_create(&ex->tthread, NULL, timer_main, ex) != 0) {
        fp_log_error("runtime", "cannot start the timer thread");
        goto out_stop;
    }
    ex->tstarted = true;
    return 0;

out_stop:
    rt_exec_stop(rt);
    return -1;
}

static void io_stop(struct rt_exec *ex);

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
    io_stop(ex);

    pthread_mutex_lock(&ex->lock);
    ex->stop = true;
    pthread_cond_broadcast(&ex->work);
    pthread_cond_broadcast(&ex->mcond);
    while (ex->n_threads > 0)
        pthread_cond_wait(&ex->gone, &ex->lock);
    pthread_mutex_unlock(&ex->lock);
    if (ex->mstarted)
        pthread_join(ex->monitor, NULL);

    /* Timers the connector never cancelled (their assets are gone by now). */
    for (size_t i = 0; i < ex->n_heap; i++)
        fp_free(ex->heap[i]);
    fp_free(ex->heap);
    pthread_attr_destroy(&ex->attr);
    pthread_mutex_destroy(&ex->lock);
    pthread_cond_destroy(&ex->work);
    pthread_cond_destroy(&ex->idle);
    pthread_cond_destroy(&ex->gone);
    pthread_cond_destroy(&ex->mcond);
    pthread_mutex_destroy(&ex->tlock);
    pthread_cond_destroy(&ex->tcond);
    pthread_cond_destroy(&ex->tdone);
    pthread_mutex_destroy(&ex->wlock);
    pthread_cond_destroy(&ex->wdone);
    fp_free(ex);
    rt->exec = NULL;
}

void rt_exec_stats_get(fp_rt *rt, rt_exec_stats *st)
{
    struct rt_exec *ex = rt->exec;
    memset(st, 0, sizeof *st);
    if (!ex)
        return;
    pthread_mutex_lock(&ex->lock);
    st->threads = (uint64_t)ex->n_threads;
    st->peak_threads = (uint64_t)ex->peak_threads;
    st->idle = (uint64_t)ex->n_idle;
    st->blocked = (uint64_t)ex->last_blocked;
    st->grown = ex->grown;
    st->base = (uint64_t)ex->base;
    st->max_threads = (uint64_t)ex->max_threads;
    pthread_mutex_unlock(&ex->lock);
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
        uint64_t now = fp_mono_ms();
        if (t->due_ms > now) {
            fp_cond_wait_until(&ex->tcond, &ex->tlock, t->due_ms);
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
        } else if (t->skips) {
            atomic_fetch_add(t->skips, 1); /* the previous tick has not run yet: skip */
        }
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

static fp_timer *timer_new(rt_strand *s, fp_asset *as, fp_endpoint *ep, uint64_t first_ms,
                           uint64_t interval_ms, bool once, void (*fn)(void *arg), void *arg,
                           atomic_ullong *skips)
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
    t->endpoint = ep;
    t->skips = skips;
    t->once = once;
    t->interval_ms = interval_ms ? interval_ms : 1;
    t->fn = fn;
    t->arg = arg;
    t->refs = 1;
    t->due_ms = fp_mono_ms() + first_ms;
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
    return timer_new(ra->ep->strand, as, NULL, first_ms, interval_ms, false, fn, arg, NULL);
}

fp_timer *fp_endpoint_timer_every(fp_endpoint *ep, uint64_t first_ms, uint64_t interval_ms,
                                  void (*fn)(void *arg), void *arg)
{
    if (!ep)
        return NULL;
    rt_endpoint *re = rt_endpoint_of(ep);
    return timer_new(re->strand, NULL, ep, first_ms, interval_ms, false, fn, arg, NULL);
}

fp_timer *rt_timer_sample(fp_asset *as, uint64_t interval_ms, void (*fn)(void *arg), void *arg,
                          atomic_ullong *skips)
{
    rt_asset *ra = rt_asset_of(as);
    if (!ra->ep || !ra->ep->strand)
        return NULL;
    return timer_new(ra->ep->strand, as, NULL, 0, interval_ms, false, fn, arg, skips);
}

fp_timer *rt_timer_after(rt_strand *s, uint64_t ms, void (*fn)(void *arg), void *arg)
{
    return timer_new(s, NULL, NULL, ms, 0, true, fn, arg, NULL);
}

int fp_endpoint_post(fp_endpoint *ep, void (*fn)(void *arg), void *arg)
{
    if (!ep || !fn)
        return -1;
    rt_endpoint *re = rt_endpoint_of(ep);
    if (atomic_load(&re->closing) || !re->strand)
        return -1;
    return rt_strand_post(re->strand, fn, arg);
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

/* Cancel every timer that belongs to the asset or the endpoint (one of them NULL). */
static void timers_cancel_owned(struct rt_exec *ex, const fp_asset *as, const fp_endpoint *ep)
{
    pthread_mutex_lock(&ex->tlock);
    for (;;) {
        fp_timer *t = NULL;
        for (size_t i = 0; i < ex->n_heap && !t; i++)
            if ((as && ex->heap[i]->asset == as) || (ep && ex->heap[i]->endpoint == ep))
                t = ex->heap[i];
        if (!t)
            break;
        timer_cancel_locked(ex, t); /* unlinks it, so the scan ends */
    }
    pthread_mutex_unlock(&ex->tlock);
}

void rt_timers_cancel_asset(fp_asset *as)
{
    rt_asset *ra = rt_asset_of(as);
    if (!ra->ep || !ra->ep->strand)
        return;
    timers_cancel_owned(ra->ep->strand->ex, as, NULL);
}

void rt_timers_cancel_endpoint(fp_endpoint *ep)
{
    rt_endpoint *re = rt_endpoint_of(ep);
    if (!re->strand)
        return;
    timers_cancel_owned(re->strand->ex, NULL, ep);
}

/* ---- descriptor watches ---------------------------------------------------------------------- */

struct fp_fd_watch {
    struct rt_exec *ex;
    rt_strand *strand;
    fp_endpoint *endpoint;
    int fd;
    uint32_t events;  /* FP_FD_* asked for */
    uint32_t revents; /* what the last readiness carried */
    void (*cb)(void *arg, uint32_t revents);
    void *arg;
    bool posted, running, removed;
    pthread_t runner;
    int refs;                  /* the owner's, and one while a call is posted */
    struct fp_fd_watch *next;  /* in the endpoint's list */
    struct fp_fd_watch *gnext; /* in ex->grave after removal */
};

static uint32_t to_epoll(uint32_t ev)
{
    return (ev & FP_FD_READ ? (uint32_t)EPOLLIN : 0) | (ev & FP_FD_WRITE ? (uint32_t)EPOLLOUT : 0) |
           (uint32_t)EPOLLONESHOT;
}

static uint32_t from_epoll(uint32_t ev)
{
    return (ev & (EPOLLIN | EPOLLPRI) ? FP_FD_READ : 0) | (ev & EPOLLOUT ? FP_FD_WRITE : 0) |
           (ev & (EPOLLERR | EPOLLHUP) ? FP_FD_ERROR : 0);
}

static void watch_unref_locked(fp_fd_watch *w)
{
    if (--w->refs == 0)
        fp_free(w);
}

/* The callback on the strand; re-arms the descriptor afterwards. */
static void watch_run(void *arg)
{
    fp_fd_watch *w = arg;
    struct rt_exec *ex = w->ex;

    pthread_mutex_lock(&ex->wlock);
    if (w->removed) {
        w->posted = false;
        watch_unref_locked(w);
        pthread_mutex_unlock(&ex->wlock);
        return;
    }
    w->running = true;
    w->runner = pthread_self();
    uint32_t rev = w->revents;
    pthread_mutex_unlock(&ex->wlock);

    w->cb(w->arg, rev);

    pthread_mutex_lock(&ex->wlock);
    w->running = false;
    w->posted = false;
    if (!w->removed) {
        struct epoll_event e = {.events = to_epoll(w->events), .data.ptr = w};
        if (epoll_ctl(ex->epfd, EPOLL_CTL_MOD, w->fd, &e) != 0)
            fp_log_warn("runtime", "cannot watch descriptor %d again: %s", w->fd, strerror(errno));
    }
    pthread_cond_broadcast(&ex->wdone);
    watch_unref_locked(w);
    pthread_mutex_unlock(&ex->wlock);
}

/* A removed watch is kept until the I/O thread has handled the batch of events it may be
 * in (a batch is read without the lock), then its owner's reference goes (wlock held). */
static void grave_free_locked(struct rt_exec *ex)
{
    while (ex->grave) {
        fp_fd_watch *w = ex->grave;
        ex->grave = w->gnext;
        watch_unref_locked(w);
    }
}

static void *io_main(void *arg)
{
    struct rt_exec *ex = arg;
    struct epoll_event evs[64];

    for (;;) {
        int n = epoll_wait(ex->epfd, evs, 64, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fp_log_error("runtime", "descriptor watch failed: %s", strerror(errno));
            return NULL;
        }
        pthread_mutex_lock(&ex->wlock);
        for (int i = 0; i < n; i++) {
            fp_fd_watch *w = evs[i].data.ptr;
            if (!w) { /* the stop descriptor */
                pthread_mutex_unlock(&ex->wlock);
                return NULL;
            }
            if (w->removed || w->posted)
                continue;
            w->revents = from_epoll(evs[i].events);
            w->posted = true;
            w->refs++;
            if (rt_strand_post(w->strand, watch_run, w) != 0) {
                w->posted = false;
                w->refs--;
            }
        }
        /* Watches removed up to now cannot be in a later batch: free them. */
        grave_free_locked(ex);
        pthread_mutex_unlock(&ex->wlock);
    }
}

/* The epoll set and its thread, on first use (wlock held). */
static int io_start_locked(struct rt_exec *ex)
{
    if (ex->io_started)
        return 0;
    ex->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (ex->epfd < 0)
        return -1;
    if (pthread_create(&ex->io_thread, NULL, io_main, ex) != 0) {
        close(ex->epfd);
        ex->epfd = -1;
        return -1;
    }
    ex->io_started = true;
    return 0;
}

static void io_stop(struct rt_exec *ex)
{
    if (!ex->io_started)
        return;
    /* An eventfd-free stop: a pipe whose read end is readable (NULL data) ends the thread. */
    int p[2];
    if (pipe(p) == 0) {
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = NULL};
        if (write(p[1], "x", 1) == 1 && epoll_ctl(ex->epfd, EPOLL_CTL_ADD, p[0], &e) == 0)
            pthread_join(ex->io_thread, NULL);
        close(p[0]);
        close(p[1]);
    }
    close(ex->epfd);
    ex->epfd = -1;
    ex->io_started = false;
    pthread_mutex_lock(&ex->wlock);
    grave_free_locked(ex);
    pthread_mutex_unlock(&ex->wlock);
}

fp_fd_watch *fp_fd_watch_add(fp_endpoint *ep, int fd, uint32_t events,
                             void (*cb)(void *arg, uint32_t revents), void *arg)
{
    if (!ep || fd < 0 || !cb)
        return NULL;
    rt_endpoint *re = rt_endpoint_of(ep);
    if (!re->strand)
        return NULL;
    struct rt_exec *ex = re->strand->ex;
    fp_fd_watch *w = fp_calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->ex = ex;
    w->strand = re->strand;
    w->endpoint = ep;
    w->fd = fd;
    w->events = events;
    w->cb = cb;
    w->arg = arg;
    w->refs = 1;
    pthread_mutex_lock(&ex->wlock);
    struct epoll_event e = {.events = to_epoll(events), .data.ptr = w};
    if (io_start_locked(ex) != 0 || epoll_ctl(ex->epfd, EPOLL_CTL_ADD, fd, &e) != 0) {
        fp_log_error("runtime", "cannot watch descriptor %d: %s", fd, strerror(errno));
        pthread_mutex_unlock(&ex->wlock);
        fp_free(w);
        return NULL;
    }
    w->next = re->watches;
    re->watches = w;
    pthread_mutex_unlock(&ex->wlock);
    return w;
}

int fp_fd_watch_modify(fp_fd_watch *w, uint32_t events)
{
    if (!w)
        return -1;
    struct rt_exec *ex = w->ex;
    int rc = 0;
    pthread_mutex_lock(&ex->wlock);
    w->events = events;
    /* While a call is posted or running, the re-arm after it applies the new events. */
    if (!w->posted && !w->removed) {
        struct epoll_event e = {.events = to_epoll(events), .data.ptr = w};
        rc = epoll_ctl(ex->epfd, EPOLL_CTL_MOD, w->fd, &e) == 0 ? 0 : -1;
    }
    pthread_mutex_unlock(&ex->wlock);
    return rc;
}

/* wlock held. */
static void watch_remove_locked(struct rt_exec *ex, fp_fd_watch *w)
{
    rt_endpoint *re = rt_endpoint_of(w->endpoint);
    for (fp_fd_watch **pp = &re->watches; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    w->removed = true;
    epoll_ctl(ex->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    while (w->running && !pthread_equal(w->runner, pthread_self()))
        pthread_cond_wait(&ex->wdone, &ex->wlock);
    w->gnext = ex->grave;
    ex->grave = w;
}

void fp_fd_unwatch(fp_fd_watch *w)
{
    if (!w)
        return;
    struct rt_exec *ex = w->ex;
    pthread_mutex_lock(&ex->wlock);
    if (!w->removed)
        watch_remove_locked(ex, w);
    pthread_mutex_unlock(&ex->wlock);
}

void rt_watches_cancel_endpoint(fp_endpoint *ep)
{
    rt_endpoint *re = rt_endpoint_of(ep);
    if (!re->strand || !re->watches)
        return;
    struct rt_exec *ex = re->strand->ex;
    pthread_mutex_lock(&ex->wlock);
    while (re->watches) {
        fp_log_warn("runtime", "endpoint %s/%s: descriptor %d was still watched at its removal",
                    ep->device, ep->name, re->watches->fd);
        watch_remove_locked(ex, re->watches);
    }
    pthread_mutex_unlock(&ex->wlock);
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
    fp_cond_init(&t->cond);
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
    uint64_t deadline = fp_mono_ms() + ms;
    pthread_mutex_lock(&t->lock);
    while (!atomic_load(&t->stopping)) {
        if (fp_cond_wait_until(&t->cond, &t->lock, deadline) == ETIMEDOUT)
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
