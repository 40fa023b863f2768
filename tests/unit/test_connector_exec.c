/*
 * test_connector_exec.c - strands, timers and tasks of the connector runtime: a strand's
 * items run in order and never two at once, different strands run in parallel, a timer
 * stops when cancelled (also from its own tick, also while a tick is running), a slow
 * timer skips ticks, and a sleeping task stops at once. The pool grows past its base size
 * when every worker is blocked (strands that wait are served within a few tens of ms) but
 * not for work that computes; a descriptor watch calls back on its endpoint's strand, once
 * per readiness, and never after fp_fd_unwatch; an endpoint's timers tick on its strand and
 * end with it, and a task's posts run on the strand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/connector/rt_internal.h"
#include "test_time.h"

static fp_rt g_rt;

static int setup(void **state)
{
    memset(&g_rt, 0, sizeof g_rt);
    pthread_mutex_init(&g_rt.lock, NULL);
    return rt_exec_start(&g_rt, 4);
}

static int teardown(void **state)
{
    rt_exec_stop(&g_rt);
    pthread_mutex_destroy(&g_rt.lock);
    return 0;
}

/* ---- strands ----------------------------------------------------------------------------- */

#define N_ITEMS 2000

typedef struct strand_rec {
    atomic_int in_flight; /* items of this strand running now */
    atomic_int max_in_flight;
    int seen[N_ITEMS]; /* order of execution */
    int n_seen;
    rt_strand *s;
} strand_rec;

typedef struct item_arg {
    strand_rec *rec;
    int seq;
} item_arg;

static void item_fn(void *arg)
{
    item_arg *a = arg;
    strand_rec *r = a->rec;
    int now = atomic_fetch_add(&r->in_flight, 1) + 1;
    if (now > atomic_load(&r->max_in_flight))
        atomic_store(&r->max_in_flight, now);
    if (a->seq % 200 == 0)
        sleep_ms(2);               /* give the other workers a chance to overlap */
    r->seen[r->n_seen++] = a->seq; /* unlocked: the strand serialises */
    atomic_fetch_sub(&r->in_flight, 1);
}

static void test_strand_order_and_exclusion(void **state)
{
    enum { N_STRANDS = 4 };
    static strand_rec recs[N_STRANDS];
    static item_arg args[N_STRANDS][N_ITEMS];
    memset(recs, 0, sizeof recs);
    for (int s = 0; s < N_STRANDS; s++) {
        recs[s].s = rt_strand_new(&g_rt);
        assert_non_null(recs[s].s);
    }
    /* Interleave posts across strands. */
    for (int i = 0; i < N_ITEMS; i++)
        for (int s = 0; s < N_STRANDS; s++) {
            args[s][i] = (item_arg){&recs[s], i};
            assert_int_equal(rt_strand_post(recs[s].s, item_fn, &args[s][i]), 0);
        }
    for (int s = 0; s < N_STRANDS; s++)
        rt_strand_free(recs[s].s); /* drains */
    for (int s = 0; s < N_STRANDS; s++) {
        assert_int_equal(recs[s].n_seen, N_ITEMS);
        for (int i = 0; i < N_ITEMS; i++)
            assert_int_equal(recs[s].seen[i], i);
        assert_int_equal(atomic_load(&recs[s].max_in_flight), 1);
    }
}

/* Two strands meet: each item waits (up to 5 s) until the other one runs too, which only
 * happens when different strands run in parallel. */
typedef struct meet {
    atomic_int arrived;
    atomic_int met;
} meet;

static void meet_fn(void *arg)
{
    meet *m = arg;
    atomic_fetch_add(&m->arrived, 1);
    for (int i = 0; i < 1000 && atomic_load(&m->arrived) < 2; i++)
        sleep_ms(5);
    if (atomic_load(&m->arrived) == 2)
        atomic_fetch_add(&m->met, 1);
}

static void test_strands_run_in_parallel(void **state)
{
    meet m;
    atomic_init(&m.arrived, 0);
    atomic_init(&m.met, 0);
    rt_strand *a = rt_strand_new(&g_rt), *b = rt_strand_new(&g_rt);
    assert_int_equal(rt_strand_post(a, meet_fn, &m), 0);
    assert_int_equal(rt_strand_post(b, meet_fn, &m), 0);
    rt_strand_free(a);
    rt_strand_free(b);
    assert_int_equal(atomic_load(&m.met), 2);
}

static void set_int(void *arg)
{
    sleep_ms(20);
    *(int *)arg = 42;
}

typedef struct nested {
    rt_strand *s;
    int value;
} nested;

static void run_nested(void *arg)
{
    nested *n = arg;
    /* rt_strand_run from the strand itself runs inline instead of deadlocking. */
    rt_strand_run(n->s, set_int, &n->value);
}

static void test_strand_run_waits(void **state)
{
    rt_strand *s = rt_strand_new(&g_rt);
    int v = 0;
    rt_strand_run(s, set_int, &v);
    assert_int_equal(v, 42);
    nested n = {s, 0};
    rt_strand_run(s, run_nested, &n);
    assert_int_equal(n.value, 42);
    rt_strand_free(s);
}

/* ---- timers ------------------------------------------------------------------------------ */

typedef struct tick_state {
    atomic_int ticks;
    atomic_int running;
    int sleep_ms;
    fp_timer *self; /* cancel from the tick when ticks reaches cancel_at */
    int cancel_at;
    rt_strand *strand;
    atomic_int wrong_strand;
    struct tick_state *sibling; /* a timer on the same strand: never running at once */
    atomic_int overlaps;
} tick_state;

static void tick_fn(void *arg)
{
    tick_state *t = arg;
    if (t->strand && !rt_strand_current(t->strand))
        atomic_fetch_add(&t->wrong_strand, 1);
    if (t->sibling && atomic_load(&t->sibling->running))
        atomic_fetch_add(&t->overlaps, 1);
    atomic_store(&t->running, 1);
    int n = atomic_fetch_add(&t->ticks, 1) + 1;
    if (t->sleep_ms)
        sleep_ms(t->sleep_ms);
    if (t->self && n == t->cancel_at)
        fp_timer_cancel(t->self);
    atomic_store(&t->running, 0);
}

/* A hand-made endpoint + asset for fp_timer_every. */
typedef struct fake_asset {
    rt_endpoint ep;
    rt_asset as;
} fake_asset;

static void fake_init(fake_asset *f)
{
    memset(f, 0, sizeof *f);
    f->ep.rt = &g_rt;
    f->ep.strand = rt_strand_new(&g_rt);
    f->as.ep = &f->ep;
    f->as.pub.endpoint = &f->ep.pub;
}

static void test_timer_cancel(void **state)
{
    fake_asset f;
    fake_init(&f);
    tick_state t;
    memset(&t, 0, sizeof t);
    t.strand = f.ep.strand;
    fp_timer *tm = fp_timer_every(&f.as.pub, 0, 5, tick_fn, &t);
    assert_non_null(tm);
    for (int i = 0; i < 400 && atomic_load(&t.ticks) < 5; i++)
        sleep_ms(5);
    assert_true(atomic_load(&t.ticks) >= 5);
    fp_timer_cancel(tm);
    int after = atomic_load(&t.ticks);
    sleep_ms(50);
    assert_int_equal(atomic_load(&t.ticks), after);
    assert_int_equal(atomic_load(&t.wrong_strand), 0);

    /* Cancel from the tick itself: no deadlock, no more ticks. */
    tick_state t2;
    memset(&t2, 0, sizeof t2);
    t2.cancel_at = 3;
    t2.self = fp_timer_every(&f.as.pub, 0, 2, tick_fn, &t2);
    for (int i = 0; i < 400 && atomic_load(&t2.ticks) < 3; i++)
        sleep_ms(5);
    sleep_ms(30);
    assert_int_equal(atomic_load(&t2.ticks), 3);

    /* Cancel while a slow tick runs: returns only when it finished. */
    tick_state t3;
    memset(&t3, 0, sizeof t3);
    t3.sleep_ms = 100;
    fp_timer *slow = fp_timer_every(&f.as.pub, 0, 1000, tick_fn, &t3);
    for (int i = 0; i < 200 && !atomic_load(&t3.running); i++)
        sleep_ms(2);
    assert_true(atomic_load(&t3.running));
    fp_timer_cancel(slow);
    assert_false(atomic_load(&t3.running));
    assert_int_equal(atomic_load(&t3.ticks), 1);

    fp_timer_cancel(NULL); /* safe */
    rt_strand_free(f.ep.strand);
}

static void test_timer_skips_and_asset_cancel(void **state)
{
    fake_asset f;
    fake_init(&f);
    /* 5 ms period, 50 ms per tick: at most one tick per 50 ms runs, not every 5 ms queued ones.
     * The bound is taken from the time that really passed, so a loaded machine cannot fail it. */
    uint64_t t0 = fp_mono_ms();
    tick_state t;
    memset(&t, 0, sizeof t);
    t.sleep_ms = 50;
    fp_timer_every(&f.as.pub, 0, 5, tick_fn, &t);
    tick_state t2;
    memset(&t2, 0, sizeof t2);
    t2.sibling = &t;
    fp_timer_every(&f.as.pub, 0, 5, tick_fn, &t2);
    sleep_ms(300);
    for (int i = 0; i < 1000 && atomic_load(&t2.ticks) < 1; i++)
        sleep_ms(10);
    /* Going away with the asset: both timers stop (they are freed too: ASan checks). */
    rt_timers_cancel_asset(&f.as.pub);
    int elapsed = (int)(fp_mono_ms() - t0);
    int n = atomic_load(&t.ticks), n2 = atomic_load(&t2.ticks);
    assert_true(n >= 1 && n <= elapsed / 50 + 2);   /* elapsed/5 if ticks queued up */
    assert_true(n2 >= 1 && n2 <= elapsed / 5 + 2);  /* the quick one skips too */
    assert_int_equal(atomic_load(&t2.overlaps), 0); /* same strand: never beside the slow one */
    sleep_ms(60);
    assert_int_equal(atomic_load(&t.ticks), n);
    assert_int_equal(atomic_load(&t2.ticks), n2);
    rt_strand_free(f.ep.strand);
}

static atomic_int g_once;

static void once_fn(void *arg)
{
    atomic_fetch_add(&g_once, 1);
    fp_timer_cancel(*(fp_timer **)arg); /* as the runtime's retry timer does */
}

static void test_timer_once(void **state)
{
    rt_strand *s = rt_strand_new(&g_rt);
    static fp_timer *t;
    atomic_store(&g_once, 0);
    t = rt_timer_after(s, 10, once_fn, &t);
    sleep_ms(80);
    assert_int_equal(atomic_load(&g_once), 1);
    /* Cancelled before it fires: never runs. */
    fp_timer *t2 = rt_timer_after(s, 50, once_fn, &t2);
    fp_timer_cancel(t2);
    sleep_ms(80);
    assert_int_equal(atomic_load(&g_once), 1);
    rt_strand_free(s);
}

/* ---- tasks -------------------------------------------------------------------------------- */

static void task_fn(fp_task *t, void *arg)
{
    atomic_int *loops = arg;
    while (!fp_task_stopping(t)) {
        atomic_fetch_add(loops, 1);
        if (fp_task_sleep(t, 10000))
            break;
    }
}

/* ---- the pool grows for blocked work ----------------------------------------------------- */

static int setup_two(void **state)
{
    memset(&g_rt, 0, sizeof g_rt);
    pthread_mutex_init(&g_rt.lock, NULL);
    return rt_exec_start(&g_rt, 2);
}

static atomic_int g_release; /* blocked items wait for it */

static void block_fn(void *arg)
{
    (void)arg;
    while (!atomic_load(&g_release))
        sleep_ms(5); /* waiting, as on a device that does not answer: no CPU */
}

typedef struct lat {
    uint64_t posted_ms;
    atomic_ullong ran_ms;
} lat;

static void lat_fn(void *arg)
{
    lat *l = arg;
    atomic_store(&l->ran_ms, fp_mono_ms());
}

/* Two workers, five strands blocked on their devices: a sixth strand's items still run
 * within a few tens of milliseconds (a thread is added per blocked worker), and the pool
 * says so in its statistics. */
static void test_pool_grows_for_blocked_work(void **state)
{
    enum { N_BLOCKED = 5, N_QUICK = 20 };
    rt_strand *blocked[N_BLOCKED];
    atomic_store(&g_release, 0);
    for (int i = 0; i < N_BLOCKED; i++) {
        blocked[i] = rt_strand_new(&g_rt);
        assert_int_equal(rt_strand_post(blocked[i], block_fn, NULL), 0);
    }
    rt_strand *quick = rt_strand_new(&g_rt);
    uint64_t worst = 0;
    for (int i = 0; i < N_QUICK; i++) {
        lat l = {.posted_ms = fp_mono_ms()};
        atomic_init(&l.ran_ms, 0);
        assert_int_equal(rt_strand_post(quick, lat_fn, &l), 0);
        while (!atomic_load(&l.ran_ms) && fp_mono_ms() - l.posted_ms < 5000)
            sleep_ms(1);
        if (!atomic_load(&l.ran_ms)) { /* did not run at all while 5 strands block */
            worst = UINT64_MAX;
            atomic_store(&g_release, 1); /* so that the item runs before l goes away */
            while (!atomic_load(&l.ran_ms))
                sleep_ms(1);
            break;
        }
        uint64_t d = atomic_load(&l.ran_ms) - l.posted_ms;
        if (d > worst)
            worst = d;
        sleep_ms(10);
    }
    rt_exec_stats st;
    rt_exec_stats_get(&g_rt, &st);
    atomic_store(&g_release, 1);
    for (int i = 0; i < N_BLOCKED; i++)
        rt_strand_free(blocked[i]);
    rt_strand_free(quick);
    print_message("worst wait of a quick item: %llu ms; threads %llu (peak %llu, added %llu)\n",
                  (unsigned long long)worst, (unsigned long long)st.threads,
                  (unsigned long long)st.peak_threads, (unsigned long long)st.grown);
    assert_true(st.peak_threads >= N_BLOCKED + 1);
    assert_true(st.grown >= N_BLOCKED - 1);
    /* The first item may wait for the monitor's look (10 ms) plus the 20 ms that tell a
     * blocked worker; later ones find a free thread. 1 s leaves room for a loaded machine. */
    assert_true(worst < 1000);
}

static void spin_fn(void *arg)
{
    uint64_t until = fp_mono_ms() + 300;
    volatile uint64_t x = 0;
    (void)arg;
    while (fp_mono_ms() < until)
        x++;
}

/* Work that computes holds its workers but is not blocked: the pool stays at its size. */
static void test_pool_does_not_grow_for_cpu_work(void **state)
{
    rt_strand *s[4];
    for (int i = 0; i < 4; i++) {
        s[i] = rt_strand_new(&g_rt);
        assert_int_equal(rt_strand_post(s[i], spin_fn, NULL), 0);
    }
    for (int i = 0; i < 4; i++)
        rt_strand_free(s[i]);
    rt_exec_stats st;
    rt_exec_stats_get(&g_rt, &st);
    assert_int_equal(st.grown, 0);
    assert_int_equal(st.peak_threads, 2);
}

/* ---- descriptor watches ------------------------------------------------------------------ */

typedef struct watch_rec {
    rt_endpoint ep;
    int rfd;
    atomic_int calls;
    atomic_int on_strand;
} watch_rec;

static void watch_cb(void *arg, uint32_t revents)
{
    watch_rec *w = arg;
    char c;
    if (rt_strand_current(w->ep.strand))
        atomic_fetch_add(&w->on_strand, 1);
    if ((revents & FP_FD_READ) && read(w->rfd, &c, 1) == 1)
        atomic_fetch_add(&w->calls, 1);
}

static void wait_calls(watch_rec *w, int n)
{
    for (int i = 0; i < 500 && atomic_load(&w->calls) < n; i++)
        sleep_ms(5);
}

static void test_fd_watch(void **state)
{
    static watch_rec w;
    int p[2];
    memset(&w, 0, sizeof w);
    assert_int_equal(pipe(p), 0);
    w.rfd = p[0];
    w.ep.strand = rt_strand_new(&g_rt);
    w.ep.pub.device = "dev";
    w.ep.pub.name = "ep";
    fp_fd_watch *fw = fp_fd_watch_add(&w.ep.pub, p[0], FP_FD_READ, watch_cb, &w);
    assert_non_null(fw);
    assert_int_equal(write(p[1], "a", 1), 1);
    wait_calls(&w, 1);
    assert_int_equal(atomic_load(&w.calls), 1);
    /* Three bytes ready at once, one read per call: the watch is re-armed after each call,
     * and never two calls run at once (the strand), so exactly three calls. */
    assert_int_equal(write(p[1], "bcd", 3), 3);
    wait_calls(&w, 4);
    assert_int_equal(atomic_load(&w.calls), 4);
    assert_int_equal(atomic_load(&w.on_strand), 4);
    fp_fd_unwatch(fw);
    assert_int_equal(write(p[1], "e", 1), 1);
    sleep_ms(100);
    assert_int_equal(atomic_load(&w.calls), 4);
    /* A watch the connector left behind is dropped when its endpoint goes. */
    fw = fp_fd_watch_add(&w.ep.pub, p[0], FP_FD_READ, watch_cb, &w);
    assert_non_null(fw);
    wait_calls(&w, 5);
    rt_watches_cancel_endpoint(&w.ep.pub);
    assert_null(w.ep.watches);
    rt_strand_free(w.ep.strand);
    close(p[0]);
    close(p[1]);
}

/* ---- endpoint timers and posts from tasks ------------------------------------------------- */

typedef struct ep_rec {
    rt_endpoint ep;
    atomic_int ticks, posted_on_strand, posted;
} ep_rec;

static void ep_tick(void *arg)
{
    ep_rec *r = arg;
    atomic_fetch_add(&r->ticks, 1);
}

static void ep_posted(void *arg)
{
    ep_rec *r = arg;
    if (rt_strand_current(r->ep.strand))
        atomic_fetch_add(&r->posted_on_strand, 1);
    atomic_fetch_add(&r->posted, 1);
}

static void poster_task(fp_task *t, void *arg)
{
    ep_rec *r = arg;
    for (int i = 0; i < 10 && !fp_task_stopping(t); i++)
        assert_int_equal(fp_endpoint_post(&r->ep.pub, ep_posted, r), 0);
}

static void test_endpoint_timer_and_post(void **state)
{
    static ep_rec r;
    memset(&r, 0, sizeof r);
    r.ep.strand = rt_strand_new(&g_rt);
    fp_timer *t = fp_endpoint_timer_every(&r.ep.pub, 0, 10, ep_tick, &r);
    assert_non_null(t);
    fp_task *task = fp_task_start("poster", poster_task, &r);
    for (int i = 0; i < 200 && (atomic_load(&r.posted) < 10 || atomic_load(&r.ticks) < 3); i++)
        sleep_ms(5);
    fp_task_stop(task);
    assert_int_equal(atomic_load(&r.posted), 10);
    assert_int_equal(atomic_load(&r.posted_on_strand), 10); /* on the endpoint's strand */
    assert_true(atomic_load(&r.ticks) >= 3);
    /* The endpoint goes: its timers end with it, and posts are refused. */
    rt_timers_cancel_endpoint(&r.ep.pub);
    int ticks = atomic_load(&r.ticks);
    sleep_ms(50);
    assert_int_equal(atomic_load(&r.ticks), ticks);
    atomic_store(&r.ep.closing, true);
    assert_int_equal(fp_endpoint_post(&r.ep.pub, ep_posted, &r), -1);
    rt_strand_free(r.ep.strand);
}

static void test_task_stop_is_fast(void **state)
{
    atomic_int loops = 0;
    fp_task *t = fp_task_start("sleeper", task_fn, &loops);
    assert_non_null(t);
    for (int i = 0; i < 100 && atomic_load(&loops) == 0; i++)
        sleep_ms(5);
    uint64_t t0 = fp_mono_ms();
    fp_task_stop(t);
    assert_true(fp_mono_ms() - t0 < 1000);
    assert_int_equal(atomic_load(&loops), 1);
    fp_task_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_strand_order_and_exclusion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strands_run_in_parallel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strand_run_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timer_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timer_skips_and_asset_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timer_once, setup, teardown),
        cmocka_unit_test(test_task_stop_is_fast),
        cmocka_unit_test_setup_teardown(test_pool_grows_for_blocked_work, setup_two, teardown),
        cmocka_unit_test_setup_teardown(test_pool_does_not_grow_for_cpu_work, setup_two, teardown),
        cmocka_unit_test_setup_teardown(test_fd_watch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_endpoint_timer_and_post, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
