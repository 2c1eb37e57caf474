/* spk_taskq and spk_pool, deterministic cases: capacities and rounding,
 * empty and full, wraparound of the positions (through the spk_taskq_new_at
 * test hook), a model-based random walk per capacity, close, allocation and
 * thread-start failures, the CPU-list parser, and the pool's edge cases
 * (no tasks, shutdown with tasks queued, a full queue, nested waits). The
 * concurrent stress tests and the linearizability check are in
 * tests/test_mt_taskq.c. */
#include "test.h"
#include <stdint.h>
#include <stdatomic.h>
#include <threads.h>
#include <time.h>

/* Items are small integers carried in the pointer. */
static void *item(uintptr_t v) { return (void *)v; }
static uintptr_t value(void *p) { return (uintptr_t)p; }

/* Start positions that cover both wraparounds: positions wrap at SIZE_MAX,
 * the cells' turns (twice the position) at SIZE_MAX / 2. */
static const size_t starts[] = {0, 1, SIZE_MAX - 2, SIZE_MAX / 2 - 3, SIZE_MAX / 2 + 1, SIZE_MAX};
enum { NSTARTS = sizeof starts / sizeof starts[0] };

/* ------------------------------------------------------------ the queue */

static void test_capacity_rounding(void) {
    static const size_t asked[] = {1, 2, 3, 4, 5, 7, 8, 9, 1000, 1024, 1025};
    static const size_t got[] = {1, 2, 4, 4, 8, 8, 8, 16, 1024, 1024, 2048};
    for (size_t i = 0; i < sizeof asked / sizeof asked[0]; i++) {
        spk_taskq *q = NULL;
        CHECK_OK(spk_taskq_new(NULL, asked[i], &q));
        if (!q) continue;
        CHECK_EQ_INT(spk_taskq_capacity(q), got[i]);
        /* exactly that many fit */
        size_t pushed = 0;
        while (pushed < got[i] + 1 && spk_taskq_try_push(q, item(pushed))) pushed++;
        CHECK_EQ_INT(pushed, got[i]);
        spk_taskq_free(q);
    }
}

static void test_bad_arguments(void) {
    spk_taskq *q = NULL;
    CHECK_STATUS(spk_taskq_new(NULL, 0, &q), SPK_ERR_ARG);
    CHECK_CONTAINS(spk_last_error(), "capacity must be at least 1");
    CHECK(q == NULL);
    CHECK_STATUS(spk_taskq_new(NULL, SPK_TASKQ_MAX_CAPACITY + 1, &q), SPK_ERR_LIMIT);
    CHECK_CONTAINS(spk_last_error(), "above the maximum");
    CHECK(q == NULL);
    CHECK_STATUS(spk_taskq_new(NULL, 4, NULL), SPK_ERR_ARG);
    spk_taskq_free(NULL); /* harmless */
}

static void test_empty(void) {
    spk_taskq *q = NULL;
    CHECK_OK(spk_taskq_new(NULL, 4, &q));
    if (!q) return;
    void *got = item(77);
    CHECK(!spk_taskq_try_pop(q, &got));
    CHECK(value(got) == 77); /* untouched on failure */
    CHECK_EQ_INT(spk_taskq_size(q), 0);
    CHECK(spk_taskq_try_push(q, item(5)));
    CHECK(spk_taskq_try_pop(q, &got) && value(got) == 5);
    CHECK(!spk_taskq_try_pop(q, &got));
    CHECK_EQ_INT(spk_taskq_size(q), 0);
    spk_taskq_free(q);
}

static void test_full(void) {
    spk_taskq *q = NULL;
    CHECK_OK(spk_taskq_new(NULL, 4, &q));
    if (!q) return;
    for (uintptr_t v = 1; v <= 4; v++) CHECK(spk_taskq_try_push(q, item(v)));
    CHECK_EQ_INT(spk_taskq_size(q), 4);
    CHECK(!spk_taskq_try_push(q, item(99)));
    CHECK_EQ_INT(spk_taskq_size(q), 4);
    void *got = NULL;
    CHECK(spk_taskq_try_pop(q, &got) && value(got) == 1);
    CHECK(spk_taskq_try_push(q, item(5))); /* room again */
    CHECK(!spk_taskq_try_push(q, item(99)));
    for (uintptr_t v = 2; v <= 5; v++) CHECK(spk_taskq_try_pop(q, &got) && value(got) == v);
    CHECK(!spk_taskq_try_pop(q, &got));
    spk_taskq_free(q);
}

/* NULL and all-ones pointers are items like any other. */
static void test_any_pointer_value(void) {
    spk_taskq *q = NULL;
    CHECK_OK(spk_taskq_new(NULL, 2, &q));
    if (!q) return;
    CHECK(spk_taskq_try_push(q, NULL));
    CHECK(spk_taskq_try_push(q, item(UINTPTR_MAX)));
    void *got = item(1);
    CHECK(spk_taskq_try_pop(q, &got) && got == NULL);
    CHECK(spk_taskq_try_pop(q, &got) && value(got) == UINTPTR_MAX);
    spk_taskq_free(q);
}

/* Capacity 1, 2 and 4, lap after lap (each lap reuses every cell), from
 * every start position: fill to capacity, one more fails, drain in order,
 * one more pop fails. */
static void test_small_capacities_laps(void) {
    static const size_t caps[] = {1, 2, 4};
    for (size_t c = 0; c < 3; c++)
        for (int s = 0; s < NSTARTS; s++) {
            spk_taskq *q = NULL;
            CHECK_OK(spk_taskq_new_at(NULL, caps[c], starts[s], &q));
            if (!q) continue;
            uintptr_t next_in = 1, next_out = 1;
            int bad = 0;
            for (int lap = 0; lap < 50; lap++) {
                for (size_t k = 0; k < caps[c]; k++)
                    if (!spk_taskq_try_push(q, item(next_in++))) bad++;
                if (spk_taskq_try_push(q, item(0))) bad++;
                if (spk_taskq_size(q) != caps[c]) bad++;
                void *got;
                for (size_t k = 0; k < caps[c]; k++)
                    if (!spk_taskq_try_pop(q, &got) || value(got) != next_out++) bad++;
                if (spk_taskq_try_pop(q, &got)) bad++;
                if (spk_taskq_size(q) != 0) bad++;
            }
            if (bad) fprintf(stderr, "  capacity %zu, start %zu: %d wrong answers\n", caps[c], starts[s], bad);
            CHECK_EQ_INT(bad, 0);
            spk_taskq_free(q);
        }
}

/* The positions cross SIZE_MAX while the queue is partly full: items pushed
 * before the wrap come out after it, in order, and full/empty stay exact. */
static void test_wraparound(void) {
    for (size_t cap = 1; cap <= 8; cap *= 2) {
        spk_taskq *q = NULL;
        /* three positions before the wrap */
        CHECK_OK(spk_taskq_new_at(NULL, cap, SIZE_MAX - 2, &q));
        if (!q) continue;
        uintptr_t in = 100, out = 100;
        void *got;
        /* fill: the wrap happens while filling when cap > 3 */
        for (size_t k = 0; k < cap; k++) CHECK(spk_taskq_try_push(q, item(in++)));
        CHECK(!spk_taskq_try_push(q, item(0)));
        CHECK_EQ_INT(spk_taskq_size(q), cap);
        /* step one item at a time across the wrap, keeping the queue full */
        for (int step = 0; step < 20; step++) {
            CHECK(spk_taskq_try_pop(q, &got) && value(got) == out);
            out++;
            CHECK(spk_taskq_try_push(q, item(in++)));
            CHECK(!spk_taskq_try_push(q, item(0)));
            CHECK_EQ_INT(spk_taskq_size(q), cap);
        }
        while (spk_taskq_try_pop(q, &got)) {
            CHECK_EQ_INT(value(got), out);
            out++;
        }
        CHECK_EQ_INT(out, in);
        CHECK_EQ_INT(spk_taskq_size(q), 0);
        spk_taskq_free(q);
    }
}

/* A random walk of pushes and pops against a plain array model, for
 * capacities 1 to 9 (rounded to 1, 2, 4, 8, 16) and every start position. */
static uint64_t rng_state;
static uint64_t rng(void) { /* xorshift64 */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_model_random_walk(void) {
    rng_state = 0x2545F4914F6CDD1DULL;
    for (size_t asked = 1; asked <= 9; asked++)
        for (int s = 0; s < NSTARTS; s++) {
            spk_taskq *q = NULL;
            CHECK_OK(spk_taskq_new_at(NULL, asked, starts[s], &q));
            if (!q) continue;
            size_t cap = spk_taskq_capacity(q);
            uintptr_t model[16];
            size_t head = 0, count = 0, mismatches = 0;
            uintptr_t next = 1;
            for (int op = 0; op < 4000; op++) {
                /* lean towards pushing for a while, then towards popping,
                 * so that both full and empty are visited often */
                bool push = (rng() % 100) < (size_t)((op / 200) % 2 ? 30 : 70);
                if (push) {
                    bool ok = spk_taskq_try_push(q, item(next));
                    if (ok != (count < cap)) mismatches++;
                    if (ok && count < cap) model[(head + count++) % cap] = next;
                    next++;
                } else {
                    void *got = item(0);
                    bool ok = spk_taskq_try_pop(q, &got);
                    if (ok != (count > 0)) mismatches++;
                    if (ok && count > 0) {
                        if (value(got) != model[head]) mismatches++;
                        head = (head + 1) % cap;
                        count--;
                    }
                }
                if (spk_taskq_size(q) != count) mismatches++;
            }
            if (mismatches) fprintf(stderr, "  capacity %zu, start %zu: %zu mismatches\n", cap, starts[s], mismatches);
            CHECK_EQ_INT(mismatches, 0);
            spk_taskq_free(q);
        }
}

static void test_close(void) {
    spk_taskq *q = NULL;
    CHECK_OK(spk_taskq_new(NULL, 4, &q));
    if (!q) return;
    CHECK(!spk_taskq_is_closed(q));
    CHECK(spk_taskq_push(q, item(1)));
    CHECK(spk_taskq_push(q, item(2)));
    spk_taskq_close(q);
    CHECK(spk_taskq_is_closed(q));
    CHECK(!spk_taskq_try_push(q, item(3))); /* closed for pushing */
    CHECK(!spk_taskq_push(q, item(3)));     /* fails instead of waiting */
    void *got = NULL;
    CHECK(spk_taskq_pop(q, &got) && value(got) == 1); /* drained first */
    CHECK(spk_taskq_try_pop(q, &got) && value(got) == 2);
    got = item(9);
    CHECK(!spk_taskq_pop(q, &got)); /* closed and empty: returns at once */
    CHECK(value(got) == 9);
    spk_taskq_close(q); /* twice is harmless */
    CHECK(!spk_taskq_pop(q, &got));
    spk_taskq_free(q);

    /* A full queue that gets closed: a blocked push gives up. */
    CHECK_OK(spk_taskq_new(NULL, 1, &q));
    if (!q) return;
    CHECK(spk_taskq_push(q, item(1)));
    spk_taskq_close(q);
    CHECK(!spk_taskq_push(q, item(2)));
    CHECK(spk_taskq_pop(q, &got) && value(got) == 1);
    spk_taskq_free(q);
}

static void test_queue_out_of_memory(void) {
    spk_failalloc fa;
    spk_failalloc_init(&fa, NULL, 1);
    spk_taskq *q = NULL;
    CHECK_STATUS(spk_taskq_new(&fa.iface, 64, &q), SPK_ERR_NOMEM);
    CHECK_CONTAINS(spk_last_error(), "task queue");
    CHECK(q == NULL);
    CHECK_EQ_INT(fa.live_blocks, 0);
    /* and with memory, through the same allocator, freed exactly */
    spk_failalloc_init(&fa, NULL, 0);
    CHECK_OK(spk_taskq_new(&fa.iface, 64, &q));
    CHECK_EQ_INT(fa.live_blocks, 1);
    if (q) CHECK(spk_taskq_try_push(q, item(1)));
    spk_taskq_free(q); /* with an item still in it: dropped, not leaked */
    CHECK_EQ_INT(fa.live_blocks, 0);
    CHECK_EQ_INT(fa.live_bytes, 0);
}

/* ------------------------------------------------------------ cores */

static void test_cpu_list(void) {
    CHECK_EQ_INT(spk_cpu_list_count("0-1\n"), 2);
    CHECK_EQ_INT(spk_cpu_list_count("0"), 1);
    CHECK_EQ_INT(spk_cpu_list_count("0\n"), 1);
    CHECK_EQ_INT(spk_cpu_list_count("0,2-5"), 5);
    CHECK_EQ_INT(spk_cpu_list_count("0-3,8,10-11\n"), 7);
    CHECK_EQ_INT(spk_cpu_list_count("5-5"), 1);
    CHECK_EQ_INT(spk_cpu_list_count("0-127"), 128);
    CHECK_EQ_INT(spk_cpu_list_count(""), -1);
    CHECK_EQ_INT(spk_cpu_list_count("\n"), -1);
    CHECK_EQ_INT(spk_cpu_list_count("x"), -1);
    CHECK_EQ_INT(spk_cpu_list_count("3-1"), -1);
    CHECK_EQ_INT(spk_cpu_list_count("0,"), -1);
    CHECK_EQ_INT(spk_cpu_list_count("1-"), -1);
    CHECK_EQ_INT(spk_cpu_list_count("-1"), -1);
    CHECK_EQ_INT(spk_cpu_list_count("0-1 junk"), -1);
    CHECK_EQ_INT(spk_cpu_list_count("99999999999999999999"), -1);
    CHECK_EQ_INT(spk_cpu_list_count(NULL), -1);
    int n = spk_cpu_count();
    CHECK(n >= 1);
#if defined(__linux__)
    FILE *f = fopen("/sys/devices/system/cpu/online", "r");
    if (f) {
        char text[4096];
        size_t len = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[len] = '\0';
        CHECK_EQ_INT(n, spk_cpu_list_count(text));
    }
#endif
}

/* ------------------------------------------------------------ the pool */

static atomic_long ran;
static void count_task(void *arg) {
    (void)arg;
    atomic_fetch_add(&ran, 1);
}

static void test_pool_no_tasks(void) {
    spk_pool *pool = NULL;
    CHECK_OK(spk_pool_new(NULL, 3, 0, &pool));
    if (!pool) return;
    CHECK_EQ_INT(spk_pool_nthreads(pool), 3);
    spk_pool_wait(pool); /* nothing to wait for */
    spk_pool_wait(pool);
    spk_waitgroup *g = NULL;
    CHECK_OK(spk_waitgroup_new(pool, &g));
    spk_waitgroup_wait(g);
    spk_waitgroup_free(g);
    spk_pool_free(pool);

    /* created and freed at once, and 0 = one worker per core */
    CHECK_OK(spk_pool_new(NULL, 0, 0, &pool));
    if (!pool) return;
    CHECK_EQ_INT(spk_pool_nthreads(pool), spk_cpu_count());
    spk_pool_free(pool);
    spk_pool_free(NULL);
}

static void test_pool_bad_arguments(void) {
    spk_pool *pool = NULL;
    CHECK_STATUS(spk_pool_new(NULL, -1, 0, &pool), SPK_ERR_ARG);
    CHECK_CONTAINS(spk_last_error(), "-1 worker threads");
    CHECK_STATUS(spk_pool_new(NULL, SPK_POOL_MAX_THREADS + 1, 0, &pool), SPK_ERR_ARG);
    CHECK(pool == NULL);
    CHECK_STATUS(spk_pool_new(NULL, 1, 0, NULL), SPK_ERR_ARG);
    CHECK_OK(spk_pool_new(NULL, 1, 0, &pool));
    if (!pool) return;
    CHECK_STATUS(spk_pool_submit(pool, NULL, NULL), SPK_ERR_ARG);
    CHECK_CONTAINS(spk_last_error(), "NULL task function");
    spk_waitgroup *g = NULL;
    CHECK_OK(spk_waitgroup_new(pool, &g));
    CHECK_STATUS(spk_waitgroup_submit(g, NULL, NULL), SPK_ERR_ARG);
    spk_waitgroup_free(g);
    spk_pool_free(pool);
}

static void test_pool_runs_batches(void) {
    spk_pool *pool = NULL;
    CHECK_OK(spk_pool_new(NULL, 2, 64, &pool));
    if (!pool) return;
    atomic_store(&ran, 0);
    for (int round = 1; round <= 5; round++) {
        for (int i = 0; i < 500; i++) CHECK_OK(spk_pool_submit(pool, count_task, NULL));
        spk_pool_wait(pool);
        CHECK_EQ_INT(atomic_load(&ran), 500L * round);
    }
    /* a separate group, reused */
    spk_waitgroup *g = NULL;
    CHECK_OK(spk_waitgroup_new(pool, &g));
    if (g) {
        for (int round = 0; round < 3; round++) {
            atomic_store(&ran, 0);
            for (int i = 0; i < 300; i++) CHECK_OK(spk_waitgroup_submit(g, count_task, NULL));
            spk_waitgroup_wait(g);
            CHECK_EQ_INT(atomic_load(&ran), 300);
        }
        spk_waitgroup_free(g);
    }
    spk_pool_free(pool);
}

/* Tasks still queued when spk_pool_free is called all run before it returns:
 * the one worker is held by a slow first task while the rest queue up. */
static atomic_int gate_entered;
static void slow_task(void *arg) {
    (void)arg;
    atomic_store(&gate_entered, 1);
    thrd_sleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
    atomic_fetch_add(&ran, 1);
}

static void test_pool_shutdown_runs_queued(void) {
    spk_pool *pool = NULL;
    CHECK_OK(spk_pool_new(NULL, 1, 256, &pool));
    if (!pool) return;
    atomic_store(&ran, 0);
    atomic_store(&gate_entered, 0);
    CHECK_OK(spk_pool_submit(pool, slow_task, NULL));
    while (!atomic_load(&gate_entered)) thrd_yield();
    for (int i = 0; i < 200; i++) CHECK_OK(spk_pool_submit(pool, count_task, NULL));
    spk_pool_free(pool); /* the 200 are queued behind the slow task */
    CHECK_EQ_INT(atomic_load(&ran), 201);
}

/* A full queue: the submitting thread runs a queued task to make room. One
 * worker, held inside a task; capacity 1, filled by the second task; the
 * third submit must run the second task itself. */
static atomic_int gate_open;
static void gated_task(void *arg) {
    (void)arg;
    atomic_store(&gate_entered, 1);
    while (!atomic_load(&gate_open)) thrd_yield();
}
static thrd_t second_task_thread;
static atomic_int second_task_ran;
static void second_task(void *arg) {
    (void)arg;
    second_task_thread = thrd_current();
    atomic_store(&second_task_ran, 1);
}

static void test_pool_full_queue_helps(void) {
    spk_pool *pool = NULL;
    CHECK_OK(spk_pool_new(NULL, 1, 1, &pool));
    if (!pool) return;
    atomic_store(&gate_entered, 0);
    atomic_store(&gate_open, 0);
    atomic_store(&second_task_ran, 0);
    atomic_store(&ran, 0);
    CHECK_OK(spk_pool_submit(pool, gated_task, NULL));
    while (!atomic_load(&gate_entered)) thrd_yield(); /* the worker is inside it */
    CHECK_OK(spk_pool_submit(pool, second_task, NULL)); /* fills the queue */
    CHECK_OK(spk_pool_submit(pool, count_task, NULL));  /* full: runs second_task here */
    CHECK(atomic_load(&second_task_ran) == 1);
    CHECK(thrd_equal(second_task_thread, thrd_current()));
    atomic_store(&gate_open, 1);
    spk_pool_wait(pool);
    CHECK_EQ_INT(atomic_load(&ran), 1);
    /* many more through the one-cell queue */
    for (int i = 0; i < 1000; i++) CHECK_OK(spk_pool_submit(pool, count_task, NULL));
    spk_pool_wait(pool);
    CHECK_EQ_INT(atomic_load(&ran), 1001);
    spk_pool_free(pool);
}

/* A task that submits subtasks into its own group and waits for them, on a
 * one-worker pool: the waiting worker runs them itself. */
typedef struct nested {
    spk_pool *pool;
    atomic_int children_done;
    int ok;
} nested;
static void child_task(void *arg) { atomic_fetch_add(&((nested *)arg)->children_done, 1); }
static void parent_task(void *arg) {
    nested *n = (nested *)arg;
    spk_waitgroup *g = NULL;
    if (spk_waitgroup_new(n->pool, &g) != SPK_OK) return;
    for (int i = 0; i < 100; i++) spk_waitgroup_submit(g, child_task, n);
    spk_waitgroup_wait(g);
    n->ok = atomic_load(&n->children_done) == 100;
    spk_waitgroup_free(g);
}

static void test_pool_nested_wait(void) {
    for (size_t cap = 1; cap <= 256; cap *= 16) {
        spk_pool *pool = NULL;
        CHECK_OK(spk_pool_new(NULL, 1, cap, &pool));
        if (!pool) return;
        nested n;
        n.pool = pool;
        atomic_init(&n.children_done, 0);
        n.ok = 0;
        CHECK_OK(spk_pool_submit(pool, parent_task, &n));
        spk_pool_wait(pool);
        CHECK(n.ok == 1);
        spk_pool_free(pool);
    }
}

/* Every allocation of spk_pool_new fails in turn: NOMEM, nothing leaked,
 * started workers stopped. Then a group's allocation. */
static void test_pool_out_of_memory(void) {
    int failures = 0;
    for (long fail_at = 1;; fail_at++) {
        spk_failalloc fa;
        spk_failalloc_init(&fa, NULL, fail_at);
        spk_pool *pool = NULL;
        spk_status st = spk_pool_new(&fa.iface, 2, 16, &pool);
        if (st == SPK_OK) {
            CHECK(fa.failures == 0);
            spk_waitgroup *g = NULL;
            fa.fail_at = fa.calls + 1; /* the next allocation: the group */
            CHECK_STATUS(spk_waitgroup_new(pool, &g), SPK_ERR_NOMEM);
            CHECK(g == NULL);
            spk_pool_free(pool);
            CHECK_EQ_INT(fa.live_blocks, 0);
            break;
        }
        failures++;
        CHECK_EQ_INT(st, SPK_ERR_NOMEM);
        CHECK_CONTAINS(spk_last_error(), "out of memory");
        CHECK(pool == NULL);
        CHECK_EQ_INT(fa.live_blocks, 0);
        CHECK_EQ_INT(fa.live_bytes, 0);
        if (fail_at > 20) break;
    }
    CHECK(failures >= 3); /* pool, threads, queue */
}

/* The system refusing a thread, through the test hook: the workers started
 * before it are stopped and joined, nothing leaks. */
static void test_pool_thread_start_failure(void) {
    for (int failing = 1; failing <= 4; failing++) {
        spk_failalloc fa;
        spk_failalloc_init(&fa, NULL, 0);
        spk_pool *pool = NULL;
        spk_pool_fail_thread_start(failing);
        CHECK_STATUS(spk_pool_new(&fa.iface, 4, 16, &pool), SPK_ERR_LIMIT);
        char expected[64];
        snprintf(expected, sizeof expected, "cannot start worker thread %d of 4", failing);
        CHECK_CONTAINS(spk_last_error(), expected);
        CHECK(pool == NULL);
        CHECK_EQ_INT(fa.live_blocks, 0);
    }
    /* the hook fired once: the next pool starts */
    spk_pool *pool = NULL;
    CHECK_OK(spk_pool_new(NULL, 4, 16, &pool));
    spk_pool_free(pool);
    /* and 0 disarms it */
    spk_pool_fail_thread_start(1);
    spk_pool_fail_thread_start(0);
    CHECK_OK(spk_pool_new(NULL, 1, 16, &pool));
    spk_pool_free(pool);
}

/* A hang (a wait for a peer that does not exist) fails the program instead
 * of stalling the test run. Not built under TSan (only tests/test_mt_* are),
 * so a C11 thread will do. */
enum { WATCHDOG_SECONDS = 120 };
static int watchdog_main(void *arg) {
    (void)arg;
    time_t deadline = time(NULL) + WATCHDOG_SECONDS;
    while (time(NULL) < deadline) thrd_sleep(&(struct timespec){.tv_sec = 1}, NULL);
    fprintf(stderr, "watchdog: %s still running after %d s: counted as a failure\n", spk_test_current,
            WATCHDOG_SECONDS);
    printf("RESULT %d %d\n", spk_test_passed, spk_test_failed + 1);
    fflush(stdout);
    _Exit(1);
}

int main(void) {
    thrd_t watchdog;
    if (thrd_create(&watchdog, watchdog_main, NULL) == thrd_success) thrd_detach(watchdog);
    RUN(test_capacity_rounding);
    RUN(test_bad_arguments);
    RUN(test_empty);
    RUN(test_full);
    RUN(test_any_pointer_value);
    RUN(test_small_capacities_laps);
    RUN(test_wraparound);
    RUN(test_model_random_walk);
    RUN(test_close);
    RUN(test_queue_out_of_memory);
    RUN(test_cpu_list);
    RUN(test_pool_no_tasks);
    RUN(test_pool_bad_arguments);
    RUN(test_pool_runs_batches);
    RUN(test_pool_shutdown_runs_queued);
    RUN(test_pool_full_queue_helps);
    RUN(test_pool_nested_wait);
    RUN(test_pool_out_of_memory);
    RUN(test_pool_thread_start_failure);
    return TEST_REPORT();
}
