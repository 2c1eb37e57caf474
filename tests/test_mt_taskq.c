/* spk_taskq and spk_pool under concurrency (run under TSan too):
 *   - stress: producers push tagged values (producer << TAG_SHIFT | sequence),
 *     consumers check that each producer's values reach them in order, and
 *     at the end every value was taken exactly once (count, sum, a per-value
 *     tally); tiny capacities, more threads than cores, blocking and try
 *     forms, positions that wrap around during the run;
 *   - the pool: batches and wait rounds, several submitting threads with
 *     their own wait-groups, task trees, shutdown while tasks resubmit, and a
 *     lost-wake-up detector;
 *   - linearizability: many short random histories (3 threads, at most 12
 *     operations, plus the pops that free a push stuck on a full queue) on a
 *     capacity 1 or 2 queue, each checked by brute force against a
 *     sequential bounded FIFO queue; the checker is itself checked on
 *     hand-written histories.
 * Environment: SPK_LIN_HISTORIES=n checks n histories (default
 * LIN_DEFAULT_HISTORIES); SPK_STRESS_VERBOSE=1 prints each stress run's time.
 * Every loop is bounded (and a watchdog fails the program if something hangs);
 * the file runs in a few seconds under TSan. */
#include "test.h"
#include <stdint.h>
#include <stdatomic.h>
#include <threads.h>
#include <time.h>

#include "test_threads.h"

static double now_s(void) {
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ================================================================ stress */

enum { MAX_SIDE = 8, MAX_ITEMS = 100000 };
#define TAG_SHIFT (sizeof(uintptr_t) >= 8 ? 32 : 20)
#define SEQ_MASK (((uintptr_t)1 << TAG_SHIFT) - 1)

typedef struct stress {
    spk_taskq *q;
    int producers, consumers, items;
    bool try_forms; /* try_push / try_pop in yield loops instead of push / pop */
    atomic_int go;
    atomic_long taken; /* try_forms: values taken so far, to know when to stop */
    atomic_uchar seen[MAX_SIDE][MAX_ITEMS];
} stress;

typedef struct stress_thread {
    stress *s;
    int id;
    /* consumer results, read after join */
    long count, fifo_violations, bad_values;
    uint64_t sum;
} stress_thread;

static uintptr_t tag(int producer, int seq) { return (uintptr_t)producer << TAG_SHIFT | (uintptr_t)seq; }

static int producer_main(void *arg) {
    stress_thread *t = (stress_thread *)arg;
    stress *s = t->s;
    while (!atomic_load(&s->go)) thrd_yield();
    for (int seq = 0; seq < s->items; seq++) {
        void *v = (void *)tag(t->id, seq);
        if (s->try_forms) {
            while (!spk_taskq_try_push(s->q, v)) thrd_yield();
        } else if (!spk_taskq_push(s->q, v)) {
            t->bad_values++; /* the queue is never closed while producers run */
        }
    }
    return 0;
}

static void take(stress_thread *t, long *last, void *p) {
    stress *s = t->s;
    uintptr_t v = (uintptr_t)p;
    uintptr_t producer = v >> TAG_SHIFT, seq = v & SEQ_MASK;
    if (producer >= (uintptr_t)s->producers || seq >= (uintptr_t)s->items) {
        t->bad_values++;
        return;
    }
    /* per-producer FIFO: this consumer sees each producer's values in order */
    if ((long)seq <= last[producer]) t->fifo_violations++;
    last[producer] = (long)seq;
    atomic_fetch_add(&s->seen[producer][seq], 1);
    t->count++;
    t->sum += v;
}

static int consumer_main(void *arg) {
    stress_thread *t = (stress_thread *)arg;
    stress *s = t->s;
    long last[MAX_SIDE];
    for (int i = 0; i < MAX_SIDE; i++) last[i] = -1;
    long total = (long)s->producers * s->items;
    while (!atomic_load(&s->go)) thrd_yield();
    void *p;
    if (s->try_forms) {
        while (atomic_load(&s->taken) < total) {
            if (spk_taskq_try_pop(s->q, &p)) {
                take(t, last, p);
                atomic_fetch_add(&s->taken, 1);
            } else {
                thrd_yield();
            }
        }
    } else {
        while (spk_taskq_pop(s->q, &p)) take(t, last, p); /* until closed and drained */
    }
    return 0;
}

static stress stress_state; /* large (the tally): static */

static void run_stress(int producers, int consumers, size_t capacity, size_t start, int items, bool try_forms) {
    stress *s = &stress_state;
    memset(s, 0, sizeof *s);
    s->producers = producers;
    s->consumers = consumers;
    s->items = items;
    s->try_forms = try_forms;
    CHECK_OK(spk_taskq_new_at(NULL, capacity, start, &s->q));
    if (!s->q) return;
    stress_thread pt[MAX_SIDE], ct[MAX_SIDE];
    mt_thread ph[MAX_SIDE], ch[MAX_SIDE];
    memset(pt, 0, sizeof pt);
    memset(ct, 0, sizeof ct);
    int np = 0, nc = 0;
    for (; nc < consumers; nc++) {
        ct[nc].s = s;
        ct[nc].id = nc;
        if (!mt_start(&ch[nc], consumer_main, &ct[nc])) break;
    }
    for (; np < producers; np++) {
        pt[np].s = s;
        pt[np].id = np;
        if (!mt_start(&ph[np], producer_main, &pt[np])) break;
    }
    CHECK_EQ_INT(np, producers);
    CHECK_EQ_INT(nc, consumers);
    double t0 = now_s();
    atomic_store(&s->go, 1);
    for (int i = 0; i < np; i++) mt_join(&ph[i]);
    spk_taskq_close(s->q); /* the blocking consumers stop once it is drained */
    if (np < producers) atomic_store(&s->taken, (long)producers * items); /* let try consumers stop */
    for (int i = 0; i < nc; i++) mt_join(&ch[i]);
    double secs = now_s() - t0;

    long count = 0, fifo = 0, bad = 0, tally_wrong = 0;
    uint64_t sum = 0, expected_sum = 0;
    for (int i = 0; i < nc; i++) {
        count += ct[i].count;
        fifo += ct[i].fifo_violations;
        bad += ct[i].bad_values;
        sum += ct[i].sum;
    }
    for (int i = 0; i < np; i++) bad += pt[i].bad_values;
    for (int p = 0; p < producers; p++)
        for (int q = 0; q < items; q++) {
            expected_sum += tag(p, q);
            if (atomic_load(&s->seen[p][q]) != 1) tally_wrong++;
        }
    if (count != (long)producers * items || fifo || bad || tally_wrong || sum != expected_sum)
        fprintf(stderr, "  %dP/%dC capacity %zu start %zu %s: count %ld (want %ld), fifo violations %ld, "
                        "bad %ld, values not taken exactly once %ld, sum %s\n",
                producers, consumers, capacity, start, try_forms ? "try" : "blocking", count,
                (long)producers * items, fifo, bad, tally_wrong, sum == expected_sum ? "ok" : "WRONG");
    CHECK_EQ_INT(count, (long)producers * items);
    CHECK_EQ_INT(fifo, 0);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(tally_wrong, 0);
    CHECK(sum == expected_sum);
    CHECK_EQ_INT(spk_taskq_size(s->q), 0);
    if (getenv("SPK_STRESS_VERBOSE"))
        printf("  %dP/%dC capacity %zu %s: %ld items in %.3f s\n", producers, consumers, capacity,
               try_forms ? "try" : "blocking", count, secs);
    spk_taskq_free(s->q);
}

static void test_stress_tiny_capacities(void) {
    run_stress(1, 1, 1, 0, 100000, false);
    run_stress(1, 1, 2, 0, 100000, false);
    run_stress(2, 2, 1, 0, 40000, false);
    run_stress(2, 2, 2, 0, 40000, false);
    run_stress(3, 1, 2, 0, 20000, false);
    run_stress(1, 3, 2, 0, 60000, false);
}

static void test_stress_oversubscribed(void) {
    /* 16 threads on however many cores there are */
    run_stress(8, 8, 1, 0, 8000, false);
    run_stress(8, 8, 2, 0, 8000, false);
    run_stress(8, 8, 64, 0, 8000, false);
    run_stress(4, 4, 4, 0, 20000, false);
}

static void test_stress_try_forms(void) {
    run_stress(2, 2, 1, 0, 30000, true);
    run_stress(4, 4, 2, 0, 15000, true);
    run_stress(8, 8, 8, 0, 6000, true);
}

/* Positions (and turns) wrap around in the middle of the run. */
static void test_stress_wraparound(void) {
    run_stress(4, 4, 2, SIZE_MAX - 20000, 10000, false);
    run_stress(8, 8, 4, SIZE_MAX - 20000, 5000, true);
    run_stress(3, 3, 1, SIZE_MAX / 2 - 15000, 10000, false);
}

/* ================================================================ the pool */

static atomic_long task_count;
static atomic_ullong task_sum;
static void add_task(void *arg) {
    atomic_fetch_add(&task_count, 1);
    atomic_fetch_add(&task_sum, (unsigned long long)(uintptr_t)arg);
}

/* Many small tasks, several wait rounds, more workers than cores. */
static void test_pool_rounds(void) {
    spk_pool *pool = NULL;
    CHECK_OK(spk_pool_new(NULL, 6, 128, &pool));
    if (!pool) return;
    atomic_store(&task_count, 0);
    atomic_store(&task_sum, 0);
    unsigned long long want_sum = 0;
    for (int round = 1; round <= 20; round++) {
        for (uintptr_t i = 1; i <= 2000; i++) {
            CHECK_OK(spk_pool_submit(pool, add_task, (void *)i));
            want_sum += i;
        }
        spk_pool_wait(pool);
        CHECK_EQ_INT(atomic_load(&task_count), 2000L * round);
        CHECK(atomic_load(&task_sum) == want_sum);
    }
    spk_pool_free(pool);
}

/* Several threads share one pool, each joining its own batches. */
typedef struct submitter {
    spk_pool *pool;
    atomic_long done;
    long wrong;
} submitter;
static void count_for(void *arg) { atomic_fetch_add(&((submitter *)arg)->done, 1); }
static int submitter_main(void *arg) {
    submitter *s = (submitter *)arg;
    spk_waitgroup *g = NULL;
    if (spk_waitgroup_new(s->pool, &g) != SPK_OK) {
        s->wrong++;
        return 0;
    }
    for (int round = 1; round <= 20; round++) {
        for (int i = 0; i < 250; i++)
            if (spk_waitgroup_submit(g, count_for, s) != SPK_OK) s->wrong++;
        spk_waitgroup_wait(g);
        if (atomic_load(&s->done) != 250L * round) s->wrong++;
    }
    spk_waitgroup_free(g);
    return 0;
}

static void test_pool_groups_from_many_threads(void) {
    enum { SUBMITTERS = 4 };
    spk_pool *pool = NULL;
    CHECK_OK(spk_pool_new(NULL, 3, 32, &pool));
    if (!pool) return;
    submitter s[SUBMITTERS];
    mt_thread th[SUBMITTERS];
    int started = 0;
    for (int i = 0; i < SUBMITTERS; i++) {
        s[i].pool = pool;
        atomic_init(&s[i].done, 0);
        s[i].wrong = 0;
    }
    for (; started < SUBMITTERS; started++)
        if (!mt_start(&th[started], submitter_main, &s[started])) break;
    for (int i = 0; i < started; i++) mt_join(&th[i]);
    CHECK_EQ_INT(started, SUBMITTERS);
    for (int i = 0; i < started; i++) {
        CHECK_EQ_INT(s[i].wrong, 0);
        CHECK_EQ_INT(atomic_load(&s[i].done), 250L * 20);
    }
    spk_pool_free(pool);
}

/* A tree of tasks: each submits its children into the pool's group before
 * it finishes, so spk_pool_wait covers tasks submitted while it waits. */
static spk_pool *tree_pool;
static void tree_task(void *arg) {
    uintptr_t depth = (uintptr_t)arg;
    atomic_fetch_add(&task_count, 1);
    if (depth < 4)
        for (int i = 0; i < 4; i++) spk_pool_submit(tree_pool, tree_task, (void *)(depth + 1));
}

static void test_pool_task_tree(void) {
    CHECK_OK(spk_pool_new(NULL, 4, 16, &tree_pool));
    if (!tree_pool) return;
    for (int round = 0; round < 10; round++) {
        atomic_store(&task_count, 0);
        CHECK_OK(spk_pool_submit(tree_pool, tree_task, (void *)(uintptr_t)0));
        spk_pool_wait(tree_pool);
        CHECK_EQ_INT(atomic_load(&task_count), 1 + 4 + 16 + 64 + 256);
    }
    spk_pool_free(tree_pool);
}

/* spk_pool_free while tasks keep resubmitting themselves: every link of
 * every chain runs before free returns. */
static spk_pool *chain_pool;
static void chain_task(void *arg) {
    uintptr_t left = (uintptr_t)arg;
    atomic_fetch_add(&task_count, 1);
    if (left > 0) spk_pool_submit(chain_pool, chain_task, (void *)(left - 1));
}

static void test_pool_free_drains_chains(void) {
    for (int round = 0; round < 5; round++) {
        CHECK_OK(spk_pool_new(NULL, 3, 4, &chain_pool));
        if (!chain_pool) return;
        atomic_store(&task_count, 0);
        for (int c = 0; c < 10; c++) CHECK_OK(spk_pool_submit(chain_pool, chain_task, (void *)(uintptr_t)49));
        spk_pool_free(chain_pool);
        CHECK_EQ_INT(atomic_load(&task_count), 10 * 50);
    }
}

/* Lost wake-ups: submit one task at a time and watch for it to run without
 * ever calling spk_pool_wait (which would run it on this thread). Workers go
 * to sleep between tasks; if a submit's wake-up were lost, the task would
 * sit in the queue while every worker sleeps, and the deadline would pass. */
static atomic_int flag;
static void set_flag(void *arg) {
    (void)arg;
    atomic_store(&flag, 1);
}

static void test_pool_no_lost_wakeups(void) {
    for (int workers = 1; workers <= 4; workers *= 2) {
        spk_pool *pool = NULL;
        CHECK_OK(spk_pool_new(NULL, workers, 8, &pool));
        if (!pool) return;
        long stuck = 0;
        for (int round = 0; round < 1500; round++) {
            atomic_store(&flag, 0);
            CHECK_OK(spk_pool_submit(pool, set_flag, NULL));
            double deadline = now_s() + 5.0;
            while (!atomic_load(&flag) && now_s() < deadline) thrd_yield();
            if (!atomic_load(&flag)) {
                stuck++;
                break;
            }
            /* Vary the moment of the next submit: after the workers have
             * gone to sleep, or while they are on their way there (where a
             * wake-up could fall between a worker's last look at the queue
             * and its wait). */
            if (round % 5 == 0)
                thrd_sleep(&(struct timespec){.tv_nsec = 200 * 1000}, NULL);
            else
                for (int k = 0; k < round % 7; k++) thrd_yield();
        }
        CHECK_EQ_INT(stuck, 0);
        spk_pool_wait(pool);
        spk_pool_free(pool);
    }
}

/* ================================================================ linearizability
 * A history is a list of completed operations, each with the values of a
 * global counter taken just before its call (inv) and just after its return
 * (res). An operation a precedes b in real time iff a.res < b.inv. The
 * history is linearizable iff some order of all operations (1) keeps every
 * such precedence and (2) is a legal run of a sequential bounded FIFO queue
 * of the same capacity:
 *     push(v)       legal when not full; appends v (the blocking push waits
 *                   until it is legal, so it only ever returns true)
 *     try_push(v)   true: not full, appends v; false: full
 *     try_pop       true with v: not empty and v is the oldest, removes it;
 *                   false: empty
 * The search tries every order (depth first, pruning illegal steps and
 * remembering failed states); histories are small enough for that. */

enum { LIN_THREADS = 3, LIN_MAX_OPS = 12, LIN_DRAIN_THREAD = LIN_THREADS, LIN_MAX_RECORDED = 32 };
enum { LIN_DEFAULT_HISTORIES = 10000 };
enum { OP_PUSH, OP_TRY_PUSH, OP_TRY_POP };
static const char *const op_names[] = {"push", "try_push", "try_pop"};

typedef struct lin_op {
    int thread, kind;
    bool ok;
    uintptr_t value; /* pushed, or popped when ok */
    unsigned inv, res;
} lin_op;

typedef struct lin_history {
    size_t capacity;
    int nops;
    lin_op ops[LIN_MAX_RECORDED];
} lin_history;

/* -- the checker */

typedef struct lin_queue {
    uintptr_t items[4];
    int head, count;
} lin_queue;

enum { MEMO_SLOTS = 1 << 14 };
typedef struct lin_search {
    const lin_history *h;
    uint32_t preds[LIN_MAX_RECORDED]; /* ops that must come before op i */
    uint32_t all;
    uint64_t memo_key[MEMO_SLOTS]; /* failed (done set, queue) states, + 1 (0 = free) */
    unsigned memo_generation[MEMO_SLOTS], generation;
    long steps;
} lin_search;

static uint64_t lin_state_key(uint32_t done, const lin_queue *q) {
    uint64_t key = done;
    key = key << 3 | (uint64_t)q->count;
    for (int i = 0; i < q->count; i++) key = key << 6 | (q->items[(q->head + i) % 4] & 63);
    return key + 1;
}

static bool lin_memo_has(lin_search *s, uint64_t key, bool insert) {
    size_t slot = (size_t)(spk_hash_u64(key) % MEMO_SLOTS);
    for (int probe = 0; probe < 32; probe++, slot = (slot + 1) % MEMO_SLOTS) {
        if (s->memo_generation[slot] != s->generation) {
            if (insert) {
                s->memo_generation[slot] = s->generation;
                s->memo_key[slot] = key;
            }
            return false;
        }
        if (s->memo_key[slot] == key) return true;
    }
    return false; /* crowded: forget it, the search is still exact */
}

/* Applies op to q if it is legal there. */
static bool lin_apply(const lin_op *op, lin_queue *q, size_t capacity) {
    switch (op->kind) {
    case OP_PUSH:
    case OP_TRY_PUSH:
        if (!op->ok) return op->kind == OP_TRY_PUSH && (size_t)q->count == capacity;
        if ((size_t)q->count == capacity) return false;
        q->items[(q->head + q->count) % 4] = op->value;
        q->count++;
        return true;
    default:
        if (!op->ok) return q->count == 0;
        if (q->count == 0 || q->items[q->head] != op->value) return false;
        q->head = (q->head + 1) % 4;
        q->count--;
        return true;
    }
}

static bool lin_search_from(lin_search *s, uint32_t done, const lin_queue *q) {
    if (done == s->all) return true;
    uint64_t key = lin_state_key(done, q);
    if (lin_memo_has(s, key, false)) return false;
    s->steps++;
    for (int i = 0; i < s->h->nops; i++) {
        uint32_t bit = (uint32_t)1 << i;
        if ((done & bit) || (s->preds[i] & ~done)) continue; /* done, or not yet allowed */
        lin_queue next = *q;
        if (lin_apply(&s->h->ops[i], &next, s->h->capacity) && lin_search_from(s, done | bit, &next))
            return true;
    }
    lin_memo_has(s, key, true);
    return false;
}

static lin_search lin_searcher; /* big memo: static, reused */

static bool lin_check(const lin_history *h) {
    lin_search *s = &lin_searcher;
    s->h = h;
    s->generation++;
    s->steps = 0;
    s->all = h->nops == 32 ? UINT32_MAX : ((uint32_t)1 << h->nops) - 1;
    for (int i = 0; i < h->nops; i++) {
        s->preds[i] = 0;
        for (int j = 0; j < h->nops; j++)
            if (h->ops[j].res < h->ops[i].inv) s->preds[i] |= (uint32_t)1 << j;
    }
    lin_queue empty = {{0, 0, 0, 0}, 0, 0};
    return lin_search_from(s, 0, &empty);
}

static void lin_print(const lin_history *h) {
    fprintf(stderr, "  history (capacity %zu), [inv, res] per op:\n", h->capacity);
    for (int i = 0; i < h->nops; i++) {
        const lin_op *op = &h->ops[i];
        fprintf(stderr, "    thread %d [%3u, %3u] %-8s", op->thread, op->inv, op->res, op_names[op->kind]);
        if (op->kind == OP_TRY_POP)
            fprintf(stderr, op->ok ? " -> %lu\n" : " -> empty\n", (unsigned long)op->value);
        else
            fprintf(stderr, " %lu -> %s\n", (unsigned long)op->value, op->ok ? "ok" : "full");
    }
}

/* The checker itself, on histories written by hand: it must accept the
 * linearizable ones and reject the others. */
static lin_op mk(int thread, int kind, bool ok, uintptr_t value, unsigned inv, unsigned res) {
    lin_op op = {thread, kind, ok, value, inv, res};
    return op;
}
static bool check_ops(size_t capacity, const lin_op *ops, int n) {
    static lin_history h;
    h.capacity = capacity;
    h.nops = n;
    memcpy(h.ops, ops, (size_t)n * sizeof *ops);
    return lin_check(&h);
}

static void test_checker_on_known_histories(void) {
    /* sequential and correct */
    lin_op a[] = {mk(0, OP_PUSH, true, 1, 0, 1), mk(1, OP_TRY_POP, true, 1, 2, 3)};
    CHECK(check_ops(2, a, 2));
    /* a pop that finds the queue empty after a push completed: not linearizable */
    lin_op b[] = {mk(0, OP_PUSH, true, 1, 0, 1), mk(1, OP_TRY_POP, false, 0, 2, 3)};
    CHECK(!check_ops(2, b, 2));
    /* ... but fine if the two overlap (the pop goes first) */
    lin_op c[] = {mk(0, OP_PUSH, true, 1, 0, 2), mk(1, OP_TRY_POP, false, 0, 1, 3)};
    CHECK(check_ops(2, c, 2));
    /* FIFO: 1 then 2 pushed one after the other, 2 popped first */
    lin_op d[] = {mk(0, OP_PUSH, true, 1, 0, 1), mk(0, OP_PUSH, true, 2, 2, 3),
                  mk(1, OP_TRY_POP, true, 2, 4, 5)};
    CHECK(!check_ops(2, d, 3));
    /* overlapping pushes may come out in either order */
    lin_op e[] = {mk(0, OP_PUSH, true, 1, 0, 3), mk(1, OP_PUSH, true, 2, 1, 2),
                  mk(2, OP_TRY_POP, true, 2, 4, 5), mk(2, OP_TRY_POP, true, 1, 6, 7)};
    CHECK(check_ops(2, e, 4));
    /* "full" with one item in a capacity-2 queue */
    lin_op f[] = {mk(0, OP_PUSH, true, 1, 0, 1), mk(1, OP_TRY_PUSH, false, 2, 2, 3)};
    CHECK(!check_ops(2, f, 2));
    CHECK(check_ops(1, f, 2)); /* but right at capacity 1 */
    /* an item popped twice, and one never pushed */
    lin_op g[] = {mk(0, OP_PUSH, true, 1, 0, 1), mk(1, OP_TRY_POP, true, 1, 2, 5),
                  mk(2, OP_TRY_POP, true, 1, 3, 4)};
    CHECK(!check_ops(2, g, 3));
    lin_op h[] = {mk(0, OP_TRY_POP, true, 7, 0, 1)};
    CHECK(!check_ops(2, h, 1));
    /* a blocking push that completes only after a pop made room */
    lin_op i[] = {mk(0, OP_PUSH, true, 1, 0, 1), mk(0, OP_PUSH, true, 2, 2, 7),
                  mk(1, OP_TRY_POP, true, 1, 3, 4), mk(1, OP_TRY_POP, true, 2, 8, 9)};
    CHECK(check_ops(1, i, 4));
    /* ... but not if it completed before the pop started */
    lin_op j[] = {mk(0, OP_PUSH, true, 1, 0, 1), mk(0, OP_PUSH, true, 2, 2, 3),
                  mk(1, OP_TRY_POP, true, 1, 4, 5)};
    CHECK(!check_ops(1, j, 3));
}

/* -- running histories: three persistent threads, one round per history */

typedef struct lin_program {
    int nops;
    int kind[LIN_MAX_OPS];
    uintptr_t value[LIN_MAX_OPS];
} lin_program;

typedef struct lin_run {
    spk_taskq *q;
    lin_program prog[LIN_THREADS];
    lin_op done_ops[LIN_THREADS][LIN_MAX_OPS];
    atomic_int round;            /* the round to run; -1: exit */
    atomic_int finished[LIN_THREADS]; /* last round finished by each thread */
    atomic_int in_push[LIN_THREADS];  /* inside a blocking push */
    atomic_uint clock;
} lin_run;

static lin_run lin;

typedef struct lin_worker_arg {
    int id;
} lin_worker_arg;

/* A short random pause before each operation, so that the threads' calls
 * overlap in ever different ways (with none, the scheduler tends to replay
 * one interleaving); the seed comes from the clock, so each run differs. */
static void lin_jitter(uint64_t *state) {
    *state = spk_hash_u64(*state);
    unsigned spins = (unsigned)(*state % 64);
    for (volatile unsigned i = 0; i < spins; i++) {
    }
    if (*state >> 60 == 0) thrd_yield(); /* one time in 16 */
}

static int lin_worker(void *arg) {
    int id = ((lin_worker_arg *)arg)->id;
    int round = 0;
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    uint64_t jitter_state = (uint64_t)ts.tv_nsec * 31 + (uint64_t)id;
    for (;;) {
        int r;
        while ((r = atomic_load(&lin.round)) == round) thrd_yield();
        if (r < 0) return 0;
        round = r;
        const lin_program *p = &lin.prog[id];
        for (int k = 0; k < p->nops; k++) {
            lin_op *op = &lin.done_ops[id][k];
            op->thread = id;
            op->kind = p->kind[k];
            op->value = p->value[k];
            lin_jitter(&jitter_state);
            if (op->kind == OP_PUSH) atomic_store(&lin.in_push[id], 1);
            op->inv = atomic_fetch_add(&lin.clock, 1);
            switch (op->kind) {
            case OP_PUSH: op->ok = spk_taskq_push(lin.q, (void *)op->value); break;
            case OP_TRY_PUSH: op->ok = spk_taskq_try_push(lin.q, (void *)op->value); break;
            default: {
                void *got = NULL;
                op->ok = spk_taskq_try_pop(lin.q, &got);
                op->value = op->ok ? (uintptr_t)got : 0;
            }
            }
            op->res = atomic_fetch_add(&lin.clock, 1);
            atomic_store(&lin.in_push[id], 0);
        }
        atomic_store(&lin.finished[id], round);
    }
}

static long lin_histories_from_env(void) {
    const char *text = getenv("SPK_LIN_HISTORIES");
    long n = text ? strtol(text, NULL, 10) : 0;
    return n > 0 ? n : LIN_DEFAULT_HISTORIES;
}

static void test_linearizable_histories(void) {
    static const size_t lin_starts[] = {0, SIZE_MAX - 3, SIZE_MAX / 2 - 2};
    long histories = lin_histories_from_env();
    lin_worker_arg args[LIN_THREADS];
    mt_thread th[LIN_THREADS];
    atomic_store(&lin.round, 0);
    int started = 0;
    for (; started < LIN_THREADS; started++) {
        atomic_store(&lin.finished[started], 0);
        atomic_store(&lin.in_push[started], 0);
        args[started].id = started;
        if (!mt_start(&th[started], lin_worker, &args[started])) break;
    }
    CHECK_EQ_INT(started, LIN_THREADS);
    if (started < LIN_THREADS) {
        atomic_store(&lin.round, -1);
        for (int i = 0; i < started; i++) mt_join(&th[i]);
        return;
    }

    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    long violations = 0, overlapping = 0, drained = 0, total_ops = 0;
    static lin_history h;
    double t0 = now_s();
    long checked = 0;
    for (long n = 1; n <= histories && violations < 3; n++) {
        /* a random program: 1..4 operations per thread, at most 12 in all */
        size_t capacity = 1 + (size_t)((seed = spk_hash_u64(seed)) % 2);
        size_t start = lin_starts[(seed = spk_hash_u64(seed)) % 3];
        uintptr_t next_value = 1;
        for (int t = 0; t < LIN_THREADS; t++) {
            lin_program *p = &lin.prog[t];
            p->nops = 1 + (int)((seed = spk_hash_u64(seed)) % 4);
            for (int k = 0; k < p->nops; k++) {
                int kind = (int)((seed = spk_hash_u64(seed)) % 3);
                p->kind[k] = kind;
                p->value[k] = kind == OP_TRY_POP ? 0 : next_value++;
            }
        }
        if (spk_taskq_new_at(NULL, capacity, start, &lin.q) != SPK_OK) {
            CHECK(false);
            break;
        }
        atomic_store(&lin.clock, 0);
        atomic_store(&lin.round, (int)n); /* go */

        /* Wait for the round. A blocking push can wait forever on a full
         * queue once every other thread is done; when that state has lasted
         * a while, this thread pops (try_pop), and the pops that succeed
         * join the history. */
        h.nops = 0;
        int stuck_for = 0;
        for (;;) {
            int finished = 0, stuck = 0;
            for (int t = 0; t < LIN_THREADS; t++) {
                if (atomic_load(&lin.finished[t]) == (int)n)
                    finished++;
                else if (atomic_load(&lin.in_push[t]))
                    stuck++;
            }
            if (finished == LIN_THREADS) break;
            stuck_for = finished + stuck == LIN_THREADS ? stuck_for + 1 : 0;
            if (stuck_for > 20 && h.nops < LIN_MAX_RECORDED - LIN_MAX_OPS) {
                lin_op *op = &h.ops[h.nops];
                void *got = NULL;
                op->inv = atomic_fetch_add(&lin.clock, 1);
                op->ok = spk_taskq_try_pop(lin.q, &got);
                op->res = atomic_fetch_add(&lin.clock, 1);
                if (op->ok) { /* a failed pop changes nothing: leaving it out only loosens the check */
                    op->thread = LIN_DRAIN_THREAD;
                    op->kind = OP_TRY_POP;
                    op->value = (uintptr_t)got;
                    h.nops++;
                    drained++;
                }
            }
            thrd_yield();
        }
        for (int t = 0; t < LIN_THREADS; t++)
            for (int k = 0; k < lin.prog[t].nops; k++) h.ops[h.nops++] = lin.done_ops[t][k];
        h.capacity = capacity;
        spk_taskq_free(lin.q);
        lin.q = NULL;
        total_ops += h.nops;
        checked++;

        /* count histories in which threads really overlapped */
        bool overlap = false;
        for (int i = 0; i < h.nops && !overlap; i++)
            for (int j = 0; j < h.nops; j++)
                if (h.ops[i].thread != h.ops[j].thread && h.ops[i].inv < h.ops[j].res &&
                    h.ops[j].inv < h.ops[i].res)
                    overlap = true;
        overlapping += overlap;

        if (!lin_check(&h)) {
            violations++;
            fprintf(stderr, "  history %ld (start position %zu) is not linearizable:\n", n, start);
            lin_print(&h);
        }
    }
    atomic_store(&lin.round, -1);
    for (int i = 0; i < started; i++) mt_join(&th[i]);
    double secs = now_s() - t0;
    printf("linearizability: %ld histories (%ld operations, %ld with overlapping threads, %ld drain pops) "
           "checked in %.2f s: %ld violations\n",
           checked, total_ops, overlapping, drained, secs, violations);
    CHECK_EQ_INT(violations, 0);
    CHECK(overlapping > 0);
}

/* A hang (a lost wake-up, a wait for a peer that does not exist) fails the
 * program instead of stalling the test run. */
enum { WATCHDOG_SECONDS = 240 };
static int watchdog_main(void *arg) {
    (void)arg;
    double deadline = now_s() + WATCHDOG_SECONDS;
    while (now_s() < deadline) thrd_sleep(&(struct timespec){.tv_sec = 1}, NULL);
    fprintf(stderr, "watchdog: %s still running after %d s: counted as a failure\n", spk_test_current,
            WATCHDOG_SECONDS);
    printf("RESULT %d %d\n", spk_test_passed, spk_test_failed + 1);
    fflush(stdout);
    _Exit(1);
}

int main(void) {
    static mt_thread watchdog;
    if (mt_start(&watchdog, watchdog_main, NULL)) mt_detach(&watchdog);
    RUN(test_stress_tiny_capacities);
    RUN(test_stress_oversubscribed);
    RUN(test_stress_try_forms);
    RUN(test_stress_wraparound);
    RUN(test_pool_rounds);
    RUN(test_pool_groups_from_many_threads);
    RUN(test_pool_task_tree);
    RUN(test_pool_free_drains_chains);
    RUN(test_pool_no_lost_wakeups);
    RUN(test_checker_on_known_histories);
    RUN(test_linearizable_histories);
    return TEST_REPORT();
}
