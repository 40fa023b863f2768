/*
 * ua_loop.c - the event loop that drives every connection of libfieldplane-opcua.
 *
 * One epoll instance watches the sockets, and one binary min-heap of timers orders the
 * deadlines (request timeouts, token renewal, keep-alives, reconnect backoff). Sockets and
 * timers are structs embedded in their owners (ua_loop_io, ua_loop_timer), so that adding
 * or removing one never allocates beyond the heap's array, and a process can hold many
 * sessions on one thread. Nothing here blocks except epoll_wait itself.
 *
 * An owner may remove its socket, or free itself, from inside a callback: the loop keeps
 * a short list of the sockets removed during the current batch of epoll events and skips
 * their pending events.
 *
 * A loop can also be run from another event loop (ua_loop_fd): its epoll descriptor is then
 * the one thing to watch. Sockets make it readable by themselves; for the timers, the loop
 * adds a timerfd to its own epoll set and keeps it armed at the earliest deadline, so the
 * descriptor also becomes readable when a timer is due. Loops that are never asked for their
 * descriptor have no timerfd and make no extra system call per timer.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "fp_alloc.h"
#include "fp_time.h"
#include "opcua/ua_client.h"

#define UA_LOOP_BATCH 64

struct ua_loop {
    int epfd;
    ua_loop_timer **heap; /* min-heap on due_ms */
    size_t n_heap;
    size_t cap_heap;
    /* Sockets removed while a batch of events is being dispatched. */
    ua_loop_io *removed[UA_LOOP_BATCH];
    size_t n_removed;
    bool in_batch;
    bool removed_overflow; /* more removals than fit: drop the rest of the batch */
    bool stop;
    /* ua_loop_fd: a timerfd in the epoll set, armed at the earliest deadline. */
    int timer_fd;        /* -1 until ua_loop_fd */
    ua_loop_io timer_io; /* its place in the epoll set */
    uint64_t armed_ms;   /* the deadline it is armed at (0: disarmed) */
    bool in_timers;      /* run_timers is firing: it arms once when done */
};

/* The tree's one monotonic clock; the loop's timerfd is armed on the same clock
 * (CLOCK_MONOTONIC), so a deadline computed from it fires when it says. */
uint64_t ua_loop_now_ms(void)
{
    return fp_mono_ms();
}

ua_loop *ua_loop_new(void)
{
    ua_loop *loop = fp_calloc(1, sizeof(*loop));
    if (!loop)
        return NULL;
    loop->timer_fd = -1;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        fp_free(loop);
        return NULL;
    }
    return loop;
}

void ua_loop_free(ua_loop *loop)
{
    if (!loop)
        return;
    for (size_t i = 0; i < loop->n_heap; i++)
        loop->heap[i]->heap_index = 0;
    fp_free(loop->heap);
    if (loop->timer_fd >= 0)
        close(loop->timer_fd);
    close(loop->epfd);
    fp_free(loop);
}

/* ---------------------------------------------------------------------------- sockets */

int ua_loop_io_add(ua_loop *loop, ua_loop_io *io, int fd, uint32_t events, ua_loop_io_cb cb,
                   void *ctx)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.ptr = io;
    io->fd = fd;
    io->cb = cb;
    io->ctx = ctx;
    io->events = events;
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -errno;
    /* A struct reused for a new socket in the same batch must not be skipped. */
    for (size_t i = 0; i < loop->n_removed; i++) {
        if (loop->removed[i] == io)
            loop->removed[i] = NULL;
    }
    return 0;
}

int ua_loop_io_modify(ua_loop *loop, ua_loop_io *io, uint32_t events)
{
    struct epoll_event ev;
    if (io->events == events)
        return 0;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.ptr = io;
    if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
        return -errno;
    io->events = events;
    return 0;
}

void ua_loop_io_remove(ua_loop *loop, ua_loop_io *io)
{
    if (io->fd < 0)
        return;
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    io->fd = -1;
    if (loop->in_batch) {
        if (loop->n_removed < UA_LOOP_BATCH)
            loop->removed[loop->n_removed++] = io;
        else
            loop->removed_overflow = true;
    }
}

/* ----------------------------------------------------------------------------- timers */

static void heap_swap(ua_loop *loop, size_t a, size_t b)
{
    ua_loop_timer *t = loop->heap[a];
    loop->heap[a] = loop->heap[b];
    loop->heap[b] = t;
    loop->heap[a]->heap_index = a + 1;
    loop->heap[b]->heap_index = b + 1;
}

static void heap_up(ua_loop *loop, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (loop->heap[parent]->due_ms <= loop->heap[i]->due_ms)
            break;
        heap_swap(loop, i, parent);
        i = parent;
    }
}

static void heap_down(ua_loop *loop, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < loop->n_heap && loop->heap[l]->due_ms < loop->heap[m]->due_ms)
            m = l;
        if (r < loop->n_heap && loop->heap[r]->due_ms < loop->heap[m]->due_ms)
            m = r;
        if (m == i)
            return;
        heap_swap(loop, i, m);
        i = m;
    }
}

/* Keep the timerfd (when there is one) armed at the earliest deadline. Re-arming also
 * clears an expiry not yet read, so the descriptor is readable only while a timer is due. */
static void arm_timer_fd(ua_loop *loop)
{
    struct itimerspec its;
    uint64_t due;

    if (loop->timer_fd < 0 || loop->in_timers)
        return;
    due = loop->n_heap > 0 ? loop->heap[0]->due_ms : 0;
    if (due == loop->armed_ms)
        return;
    memset(&its, 0, sizeof(its));
    if (due) {
        its.it_value.tv_sec = (time_t)(due / 1000u);
        its.it_value.tv_nsec = (long)(due % 1000u) * 1000000L;
    }
    /* Absolute on CLOCK_MONOTONIC, the clock of ua_loop_now_ms: a deadline already past
     * fires at once. It cannot fail with these arguments; were it to, run_once still runs
     * due timers whenever the loop is run for another reason. */
    if (timerfd_settime(loop->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
        loop->armed_ms = due;
}

void ua_loop_timer_init(ua_loop_timer *t, ua_loop_timer_cb cb, void *ctx)
{
    memset(t, 0, sizeof(*t));
    t->cb = cb;
    t->ctx = ctx;
}

bool ua_loop_timer_active(const ua_loop_timer *t)
{
    return t->heap_index != 0;
}

/* Take t off the heap (the timerfd is left for the caller to re-arm). */
static void heap_remove(ua_loop *loop, ua_loop_timer *t)
{
    if (t->heap_index == 0)
        return;
    size_t i = t->heap_index - 1;
    size_t last = loop->n_heap - 1;
    if (i != last) {
        heap_swap(loop, i, last);
        loop->n_heap--;
        heap_down(loop, i);
        heap_up(loop, i);
    } else {
        loop->n_heap--;
    }
    t->heap_index = 0;
}

void ua_loop_timer_stop(ua_loop *loop, ua_loop_timer *t)
{
    heap_remove(loop, t);
    arm_timer_fd(loop);
}

int ua_loop_timer_start(ua_loop *loop, ua_loop_timer *t, uint64_t delay_ms)
{
    heap_remove(loop, t);
    if (loop->n_heap == loop->cap_heap) {
        size_t cap = loop->cap_heap ? loop->cap_heap * 2 : 16;
        ua_loop_timer **heap = fp_realloc(loop->heap, cap * sizeof(*heap));
        if (!heap) {
            arm_timer_fd(loop);
            return -ENOMEM;
        }
        loop->heap = heap;
        loop->cap_heap = cap;
    }
    t->due_ms = ua_loop_now_ms() + delay_ms;
    loop->heap[loop->n_heap] = t;
    t->heap_index = ++loop->n_heap;
    heap_up(loop, loop->n_heap - 1);
    arm_timer_fd(loop);
    return 0;
}

/* Fire the timers that are due; returns the number fired. The timerfd is re-armed once,
 * when the outermost call is done (a callback may run the loop again in a *_sync call, and
 * may start timers of its own). */
static int run_timers(ua_loop *loop)
{
    int n = 0;
    uint64_t now = ua_loop_now_ms();
    bool outer = !loop->in_timers;

    loop->in_timers = true;
    while (loop->n_heap > 0 && loop->heap[0]->due_ms <= now) {
        ua_loop_timer *t = loop->heap[0];
        heap_remove(loop, t);
        t->cb(t->ctx);
        n++;
    }
    if (outer) {
        loop->in_timers = false;
        arm_timer_fd(loop);
    }
    return n;
}

/* ------------------------------------------------------------------------------ running */

/* The timerfd expired: take the expiry off it; run_once then fires what is due and re-arms
 * it at the next deadline. */
static void on_timer_fd(void *ctx, uint32_t events)
{
    ua_loop *loop = ctx;
    uint64_t ticks;
    ssize_t n = read(loop->timer_fd, &ticks, sizeof(ticks));

    (void)events, (void)n; /* EAGAIN: already re-armed */
    loop->armed_ms = 0;    /* an expired timerfd is disarmed */
}

int ua_loop_fd(ua_loop *loop)
{
    if (loop->timer_fd >= 0)
        return loop->epfd;
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    loop->timer_fd = fd;
    int rc = ua_loop_io_add(loop, &loop->timer_io, fd, EPOLLIN, on_timer_fd, loop);
    if (rc < 0) {
        loop->timer_fd = -1;
        close(fd);
        return rc;
    }
    loop->armed_ms = 0;
    arm_timer_fd(loop);
    return loop->epfd;
}

int ua_loop_run_once(ua_loop *loop, int max_wait_ms)
{
    struct epoll_event evs[UA_LOOP_BATCH];
    int wait_ms = max_wait_ms;
    if (loop->n_heap > 0) {
        uint64_t now = ua_loop_now_ms();
        uint64_t due = loop->heap[0]->due_ms;
        int until = due <= now ? 0 : (due - now > 86400000u ? 86400000 : (int)(due - now));
        if (wait_ms < 0 || until < wait_ms)
            wait_ms = until;
    }
    int n = epoll_wait(loop->epfd, evs, UA_LOOP_BATCH, wait_ms);
    if (n < 0) {
        if (errno == EINTR)
            return 0;
        return -errno;
    }
    loop->in_batch = true;
    loop->n_removed = 0;
    loop->removed_overflow = false;
    for (int i = 0; i < n && !loop->removed_overflow; i++) {
        ua_loop_io *io = evs[i].data.ptr;
        bool gone = false;
        for (size_t k = 0; k < loop->n_removed; k++) {
            if (loop->removed[k] == io)
                gone = true;
        }
        if (gone || io->fd < 0)
            continue;
        io->cb(io->ctx, evs[i].events);
    }
    loop->in_batch = false;
    loop->n_removed = 0;
    return n + run_timers(loop);
}

void ua_loop_stop(ua_loop *loop)
{
    loop->stop = true;
}

int ua_loop_run(ua_loop *loop)
{
    loop->stop = false;
    while (!loop->stop) {
        int rc = ua_loop_run_once(loop, -1);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int ua_loop_run_until(ua_loop *loop, const bool *done, uint64_t timeout_ms)
{
    uint64_t end = ua_loop_now_ms() + timeout_ms;
    while (!*done) {
        uint64_t now = ua_loop_now_ms();
        if (now >= end)
            return -ETIMEDOUT;
        int rc = ua_loop_run_once(loop, (int)(end - now > 1000 ? 1000 : end - now));
        if (rc < 0)
            return rc;
    }
    return 0;
}
