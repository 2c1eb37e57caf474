/* taskq implementation */
#include "rowstore.c"
#include "taskq.h"

/* ---------------------------------------------------------------- threads
 * Workers are C11 <threads.h> threads with mtx_t and cnd_t, except under
 * ThreadSanitizer. The TSan runtimes of gcc 12 and clang 14 do not intercept
 * glibc's C11 thread functions (since glibc 2.34 they call the pthreads
 * implementation internally, not through the symbols TSan replaces): a
 * thread started with thrd_create has no TSan state and crashes on its first
 * instrumented access, and mtx_lock/cnd_wait still work but are invisible to
 * TSan, which then reports the data they guard as races. So under TSan the
 * same code runs on pthreads, which TSan does intercept. The wrappers below
 * are the only place that knows. */
#if defined(__SANITIZE_THREAD__)
#define SPK__PTHREADS 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SPK__PTHREADS 1
#endif
#endif

#ifdef SPK__PTHREADS
#include <pthread.h>
typedef struct spk__thread {
    pthread_t handle;
    int (*fn)(void *);
    void *arg;
} spk__thread;
static void *spk__thread_trampoline(void *p) {
    spk__thread *t = (spk__thread *)p;
    t->fn(t->arg);
    return NULL;
}
/* `t` must stay where it is until joined: the new thread reads fn and arg from it. */
static int spk__thread_start(spk__thread *t, int (*fn)(void *), void *arg) {
    t->fn = fn;
    t->arg = arg;
    return pthread_create(&t->handle, NULL, spk__thread_trampoline, t) == 0 ? thrd_success : thrd_error;
}
static void spk__thread_join(spk__thread *t) { pthread_join(t->handle, NULL); }

typedef pthread_mutex_t spk__mutex;
typedef pthread_cond_t spk__cond;
static bool spk__mutex_init(spk__mutex *m) { return pthread_mutex_init(m, NULL) == 0; }
static void spk__mutex_destroy(spk__mutex *m) { pthread_mutex_destroy(m); }
static void spk__mutex_lock(spk__mutex *m) { pthread_mutex_lock(m); }
static void spk__mutex_unlock(spk__mutex *m) { pthread_mutex_unlock(m); }
static bool spk__mutex_trylock(spk__mutex *m) { return pthread_mutex_trylock(m) == 0; }
typedef pthread_once_t spk__once_flag;
#define SPK__ONCE_INIT PTHREAD_ONCE_INIT
static void spk__call_once(spk__once_flag *flag, void (*fn)(void)) { pthread_once(flag, fn); }
static bool spk__cond_init(spk__cond *c) { return pthread_cond_init(c, NULL) == 0; }
static void spk__cond_destroy(spk__cond *c) { pthread_cond_destroy(c); }
static void spk__cond_wait(spk__cond *c, spk__mutex *m) { pthread_cond_wait(c, m); }
static void spk__cond_signal(spk__cond *c) { pthread_cond_signal(c); }
static void spk__cond_broadcast(spk__cond *c) { pthread_cond_broadcast(c); }
#else
typedef struct spk__thread {
    thrd_t handle;
} spk__thread;
/* Returns thrd_success, thrd_nomem or thrd_error, as thrd_create. */
static int spk__thread_start(spk__thread *t, int (*fn)(void *), void *arg) {
    return thrd_create(&t->handle, fn, arg);
}
static void spk__thread_join(spk__thread *t) { thrd_join(t->handle, NULL); }

typedef mtx_t spk__mutex;
typedef cnd_t spk__cond;
static bool spk__mutex_init(spk__mutex *m) { return mtx_init(m, mtx_plain) == thrd_success; }
static void spk__mutex_destroy(spk__mutex *m) { mtx_destroy(m); }
static void spk__mutex_lock(spk__mutex *m) { mtx_lock(m); }
static void spk__mutex_unlock(spk__mutex *m) { mtx_unlock(m); }
static bool spk__mutex_trylock(spk__mutex *m) { return mtx_trylock(m) == thrd_success; }
typedef once_flag spk__once_flag;
#define SPK__ONCE_INIT ONCE_FLAG_INIT
static void spk__call_once(spk__once_flag *flag, void (*fn)(void)) { call_once(flag, fn); }
static bool spk__cond_init(spk__cond *c) { return cnd_init(c) == thrd_success; }
static void spk__cond_destroy(spk__cond *c) { cnd_destroy(c); }
static void spk__cond_wait(spk__cond *c, spk__mutex *m) { cnd_wait(c, m); }
static void spk__cond_signal(spk__cond *c) { cnd_signal(c); }
static void spk__cond_broadcast(spk__cond *c) { cnd_broadcast(c); }
#endif

#ifndef SPK_DEFAULT_THREADS
#define SPK_DEFAULT_THREADS 2
#endif

/* Distance that keeps two hot variables off each other's cache lines: two
 * 64-byte lines, because Intel cores prefetch lines in adjacent pairs and
 * Apple's cores have 128-byte lines. */
#define SPK__CACHE_LINE 128

/* Waiting: the first few retries re-read at once (what is awaited is usually
 * a few instructions away in another thread), every later one yields. */
#define SPK__SPIN_TRIES 8

static void spk__backoff(int *tries) {
    if (*tries < SPK__SPIN_TRIES)
        (*tries)++;
    else
        thrd_yield();
}

/* ---------------------------------------------------------------- the ring
 * Positions. push_pos is the position the next push claims, pop_pos the one
 * the next pop claims; both only grow (modulo 2^N, N the width of size_t),
 * and position p lives in cell p & mask. push_pos - pop_pos, modulo 2^N, is
 * the number of items, counting pushes that have claimed a position but not
 * yet stored their item (a pop waits for those).
 *
 * Turns. Each cell's `turn` says which operation may use it next, for the
 * position p it currently serves:
 *     2p      empty, awaiting the push of position p;
 *     2p + 1  holds the item of position p, awaiting its pop.
 * The pop of p hands the cell to position p + capacity: turn 2(p + capacity).
 * Doubling keeps "holds p" (2p + 1) apart from "empty, awaiting p + 1"
 * (2p + 2), which would otherwise be the same number when capacity is 1.
 *
 * Wraparound. All of this is unsigned arithmetic modulo 2^N, which C defines
 * (no signed overflow anywhere); the capacity divides 2^N, so p & mask stays
 * right across the wrap, and turns, at twice the speed, wrap consistently
 * with their positions. Two turns that are compared differ by at most about
 * 2 * capacity, plus twice the operations other threads complete while one
 * thread holds a stale position between two loads; with capacity <=
 * SPK_TASKQ_MAX_CAPACITY = 2^(N-4) that stays far below SIZE_MAX / 2, so
 * "a comes before b" is "b - a, modulo 2^N, is in 1..SIZE_MAX/2"
 * (spk__wraps_before), exact across the wrap. spk_taskq_new_at starts the
 * positions anywhere, to test that. */

typedef struct spk__task {
    spk_task_fn fn;       /* NULL for a plain spk_taskq item */
    void *arg;            /* the task's argument, or the item */
    spk_waitgroup *group; /* the pool's wait-group that counts the task */
} spk__task;

typedef struct spk__taskq_cell {
    atomic_size_t turn;
    spk__task task; /* written by the push that owns the turn, read by the pop */
} spk__taskq_cell;

/* The hot positions are separated by padding, not alignas: objects come from
 * run-time allocators that promise only malloc's alignment, and an
 * over-aligned member in a block that is not aligned to match would be
 * undefined behaviour (UBSan reports it). Padding of a full SPK__CACHE_LINE
 * between them keeps them apart wherever the block starts. */
struct spk_taskq {
    /* Read-mostly: set at creation (closed: once), read by every call. */
    spk__taskq_cell *cells; /* inside the same block, aligned to 64 bytes */
    size_t mask;            /* capacity - 1 */
    const spk_allocator *alloc;
    size_t block_size;
    atomic_bool closed;
    char pad_shared[SPK__CACHE_LINE];
    atomic_size_t push_pos; /* producers' line */
    char pad_push[SPK__CACHE_LINE];
    atomic_size_t pop_pos; /* consumers' line */
    char pad_pop[SPK__CACHE_LINE];
};

static size_t spk__turn_empty(size_t pos) { return pos * 2; }
static size_t spk__turn_full(size_t pos) { return pos * 2 + 1; }
static bool spk__wraps_before(size_t a, size_t b) {
    size_t d = b - a;
    return d != 0 && d <= SIZE_MAX / 2;
}

/* Memory orders, once for all the operations below.
 *
 * - turn: a push stores its cell's new turn with release after writing the
 *   task, and a pop loads it with acquire before reading the task, so the
 *   task (and everything the pusher did before) is visible to the popper.
 *   The pop's release store after reading, with the next push's acquire
 *   load, orders that read before the next lap's write into the same cell.
 *   This pair is what makes the cell's plain `task` field race-free.
 * - push_pos / pop_pos claiming CAS: seq_cst. Claiming needs no ordering of
 *   its own (the turn does the handing over), but the exact "full" and
 *   "empty" answers need every thread to agree on one order of all position
 *   changes, S: such an answer is a snapshot of both positions at one point
 *   of S (spk__taskq_snapshot). With acquire/release, two threads could see
 *   a push and a pop happen in opposite orders (the IRIW shape) and report
 *   "full" and "empty" about the same state. The pool's no-lost-wake-up
 *   argument relies on the same order. On x86 a CAS is a locked instruction
 *   whatever its order, so this costs nothing there. The CAS's failure order
 *   is relaxed: a failed CAS only refreshes the position, and the next turn
 *   load (acquire) or the snapshot re-establishes anything that matters.
 * - The first position load of an operation is relaxed: it is a guess that
 *   the turn check and the CAS validate.
 * - Snapshot loads (only when the queue looks full or empty): seq_cst, so
 *   that they take their place in S.
 * - closed: close stores with release and the blocking pop loads with
 *   acquire, so the pushes that happened before close are visible to its
 *   final try. A push reads it relaxed: it only decides whether to start,
 *   and a close that happened before the push is seen anyway (coherence). */

/* Reads a pair of positions that were both current at one point of S:
 * `first` is read twice around `other` and must be unchanged (it only
 * grows, so unchanged means it held that value throughout). False if it
 * moved, with *first_now set to its newer value. */
static bool spk__taskq_snapshot(atomic_size_t *first, atomic_size_t *other, size_t *first_now,
                                size_t *other_now) {
    size_t before = atomic_load_explicit(first, memory_order_seq_cst);
    *other_now = atomic_load_explicit(other, memory_order_seq_cst);
    *first_now = atomic_load_explicit(first, memory_order_seq_cst);
    return before == *first_now;
}

static bool spk__taskq_try_push_task(spk_taskq *q, const spk__task *task) {
    if (atomic_load_explicit(&q->closed, memory_order_relaxed)) return false;
    size_t pos = atomic_load_explicit(&q->push_pos, memory_order_relaxed);
    int tries = 0;
    for (;;) {
        spk__taskq_cell *cell = &q->cells[pos & q->mask];
        size_t turn = atomic_load_explicit(&cell->turn, memory_order_acquire);
        if (turn == spk__turn_empty(pos)) {
            if (atomic_compare_exchange_weak_explicit(&q->push_pos, &pos, pos + 1, memory_order_seq_cst,
                                                      memory_order_relaxed)) {
                cell->task = *task;
                atomic_store_explicit(&cell->turn, spk__turn_full(pos), memory_order_release);
                return true;
            }
            continue; /* another push took pos (pos now holds the newer value) or a spurious failure */
        }
        if (!spk__wraps_before(turn, spk__turn_empty(pos))) {
            /* The cell is past pos: other pushes took it; catch up. */
            pos = atomic_load_explicit(&q->push_pos, memory_order_relaxed);
            continue;
        }
        /* The cell still serves position pos - capacity: its item is not
         * popped yet, or its pop has claimed it but not handed it back. Full
         * only in the first case, i.e. if pos - pop_pos == capacity at one
         * instant while push_pos == pos. */
        size_t push_now, pop_now;
        if (spk__taskq_snapshot(&q->push_pos, &q->pop_pos, &push_now, &pop_now) && push_now == pos) {
            if (pos - pop_now > q->mask) return false; /* full */
            spk__backoff(&tries); /* a pop is handing the cell back: wait for it */
        }
        pos = push_now;
    }
}

static bool spk__taskq_try_pop_task(spk_taskq *q, spk__task *out) {
    size_t pos = atomic_load_explicit(&q->pop_pos, memory_order_relaxed);
    int tries = 0;
    for (;;) {
        spk__taskq_cell *cell = &q->cells[pos & q->mask];
        size_t turn = atomic_load_explicit(&cell->turn, memory_order_acquire);
        if (turn == spk__turn_full(pos)) {
            if (atomic_compare_exchange_weak_explicit(&q->pop_pos, &pos, pos + 1, memory_order_seq_cst,
                                                      memory_order_relaxed)) {
                *out = cell->task;
                atomic_store_explicit(&cell->turn, spk__turn_empty(pos + q->mask + 1), memory_order_release);
                return true;
            }
            continue;
        }
        if (!spk__wraps_before(turn, spk__turn_full(pos))) {
            /* The cell is past pos: other pops took it; catch up. */
            pos = atomic_load_explicit(&q->pop_pos, memory_order_relaxed);
            continue;
        }
        /* The item of position pos is not in the cell yet. Empty only if no
         * push has claimed pos, i.e. push_pos == pos == pop_pos at one
         * instant; otherwise a push is between its claim and its store. */
        size_t pop_now, push_now;
        if (spk__taskq_snapshot(&q->pop_pos, &q->push_pos, &pop_now, &push_now) && pop_now == pos) {
            if (push_now == pos) return false; /* empty */
            spk__backoff(&tries);              /* a push is storing its item: wait for it */
        }
        pos = pop_now;
    }
}

static spk_status spk__taskq_create(const spk_allocator *alloc, size_t capacity, size_t start_pos,
                                    const char *caller, spk_taskq **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "%s: NULL output", caller);
    if (capacity == 0) return spk__fail(SPK_ERR_ARG, "%s: capacity must be at least 1", caller);
    if (capacity > SPK_TASKQ_MAX_CAPACITY)
        return spk__fail(SPK_ERR_LIMIT, "%s: capacity %zu is above the maximum %zu", caller, capacity,
                         (size_t)SPK_TASKQ_MAX_CAPACITY);
    size_t rounded = 1;
    while (rounded < capacity) rounded *= 2; /* cannot overflow: capacity <= 2^(N-4) */
    alloc = spk__allocator_or_default(alloc);

    /* One block: the header, up to 63 bytes to align the cells to 64, the cells. */
    size_t cells_bytes, block;
    if (spk__mul_overflows(rounded, sizeof(spk__taskq_cell), &cells_bytes) ||
        cells_bytes > SIZE_MAX - sizeof(spk_taskq) - 63)
        return spk__fail(SPK_ERR_LIMIT, "%s: %zu cells do not fit in memory", caller, rounded);
    block = sizeof(spk_taskq) + 63 + cells_bytes;
    char *raw = (char *)spk__alloc(alloc, block);
    if (!raw) return spk__nomem("a task queue", block);

    spk_taskq *q = (spk_taskq *)raw;
    memset(q, 0, sizeof *q);
    char *after = raw + sizeof *q;
    size_t misalign = (size_t)((uintptr_t)after % 64);
    q->cells = (spk__taskq_cell *)(after + (64 - misalign) % 64);
    q->mask = rounded - 1;
    q->alloc = alloc;
    q->block_size = block;
    atomic_init(&q->closed, false);
    atomic_init(&q->push_pos, start_pos);
    atomic_init(&q->pop_pos, start_pos);
    /* Position start_pos + k (k < capacity) is served first by cell
     * (start_pos + k) & mask, which awaits its push. */
    for (size_t k = 0; k < rounded; k++) {
        spk__taskq_cell *cell = &q->cells[(start_pos + k) & q->mask];
        atomic_init(&cell->turn, spk__turn_empty(start_pos + k));
        cell->task.fn = NULL;
        cell->task.arg = NULL;
        cell->task.group = NULL;
    }
    *out = q;
    return SPK_OK;
}

SPKDEF spk_status spk_taskq_new(const spk_allocator *alloc, size_t capacity, spk_taskq **out) {
    return spk__taskq_create(alloc, capacity, 0, "spk_taskq_new", out);
}

SPKDEF spk_status spk_taskq_new_at(const spk_allocator *alloc, size_t capacity, size_t start_pos,
                                   spk_taskq **out) {
    return spk__taskq_create(alloc, capacity, start_pos, "spk_taskq_new_at", out);
}

SPKDEF void spk_taskq_free(spk_taskq *q) {
    if (q) spk__free(q->alloc, q, q->block_size);
}

SPKDEF size_t spk_taskq_capacity(const spk_taskq *q) { return q->mask + 1; }

SPKDEF size_t spk_taskq_size(spk_taskq *q) {
    /* pop_pos first: push_pos read later is at least what it was then, and
     * that was at least pop_pos, so the difference cannot go below zero. It
     * can exceed the capacity if pops and pushes ran in between: clamp. */
    size_t pop = atomic_load_explicit(&q->pop_pos, memory_order_seq_cst);
    size_t push = atomic_load_explicit(&q->push_pos, memory_order_seq_cst);
    size_t n = push - pop;
    return n > q->mask + 1 ? q->mask + 1 : n;
}

SPKDEF bool spk_taskq_try_push(spk_taskq *q, void *item) {
    spk__task task = {NULL, item, NULL};
    return spk__taskq_try_push_task(q, &task);
}

SPKDEF bool spk_taskq_try_pop(spk_taskq *q, void **item) {
    spk__task task;
    if (!spk__taskq_try_pop_task(q, &task)) return false;
    *item = task.arg;
    return true;
}

SPKDEF bool spk_taskq_push(spk_taskq *q, void *item) {
    spk__task task = {NULL, item, NULL};
    int tries = 0;
    while (!spk__taskq_try_push_task(q, &task)) {
        if (atomic_load_explicit(&q->closed, memory_order_relaxed)) return false;
        spk__backoff(&tries);
    }
    return true;
}

SPKDEF bool spk_taskq_pop(spk_taskq *q, void **item) {
    int tries = 0;
    for (;;) {
        if (spk_taskq_try_pop(q, item)) return true;
        /* Closed and we just saw it empty: one more try, after the acquire
         * load, catches every push that happened before the close. */
        if (atomic_load_explicit(&q->closed, memory_order_acquire)) return spk_taskq_try_pop(q, item);
        spk__backoff(&tries);
    }
}

SPKDEF void spk_taskq_close(spk_taskq *q) { atomic_store_explicit(&q->closed, true, memory_order_release); }

SPKDEF bool spk_taskq_is_closed(spk_taskq *q) {
    return atomic_load_explicit(&q->closed, memory_order_acquire);
}

/* ---------------------------------------------------------------- cores */

SPKDEF int spk_cpu_list_count(const char *list) {
    if (!list) return -1;
    const char *p = list;
    long count = 0;
    for (;;) {
        long first = 0, last;
        if (!spk__is_digit((unsigned char)*p)) return -1;
        for (; spk__is_digit((unsigned char)*p); p++) {
            first = first * 10 + (*p - '0');
            if (first > (1L << 22)) return -1; /* no CPU number is that large */
        }
        last = first;
        if (*p == '-') {
            p++;
            if (!spk__is_digit((unsigned char)*p)) return -1;
            for (last = 0; spk__is_digit((unsigned char)*p); p++) {
                last = last * 10 + (*p - '0');
                if (last > (1L << 22)) return -1;
            }
            if (last < first) return -1;
        }
        count += last - first + 1;
        if (count > INT_MAX) return -1;
        if (*p == ',') {
            p++;
            continue;
        }
        while (spk__is_space((unsigned char)*p)) p++;
        return *p == '\0' ? (int)count : -1;
    }
}

SPKDEF int spk_cpu_count(void) {
#if defined(__linux__)
    /* Not sysconf(_SC_NPROCESSORS_ONLN): under -std=c11 <unistd.h> hides it
     * unless feature macros come before the first system header, which a
     * header library cannot arrange. */
    FILE *f = fopen("/sys/devices/system/cpu/online", "r");
    if (f) {
        char text[4096];
        size_t n = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[n] = '\0';
        int count = spk_cpu_list_count(text);
        if (count >= 1) return count;
    }
#endif
    return SPK_DEFAULT_THREADS >= 1 ? SPK_DEFAULT_THREADS : 1;
}

/* ---------------------------------------------------------------- the pool
 * Wake-ups. An idle worker announces itself in `sleepers` (under the lock)
 * before its last look at the queue, then waits on `work_ready` without
 * letting go of the lock in between. A submit pushes its task and then reads
 * `sleepers`; if it is not zero, it signals under the lock. No wake-up is
 * lost: the worker's increment and its look at the queue, and the submit's
 * push (its claiming CAS) and its read of sleepers, are all seq_cst, so in
 * their single order S either
 *   - the submit's read comes after the increment: it sees a sleeper and
 *     signals; it can take the lock only once the worker is inside cnd_wait
 *     (which releases the lock atomically) or has left with a task, so the
 *     signal is not sent into the gap between the look and the wait; or
 *   - the read comes before the increment: then the push came before it too,
 *     and the worker's look (a try_pop whose "empty" answer is a seq_cst
 *     snapshot of both positions) sees push_pos past pop_pos, so it does not
 *     answer empty: it takes the task (waiting for the push to store it if
 *     need be) instead of sleeping.
 * The worker stays counted in `sleepers` while it re-checks after each wake,
 * so the same holds for every wait of its loop.
 *
 * Wait-groups. `pending` counts a group's unfinished tasks. Every decrement
 * is a release and the waiter's load an acquire, and decrements are
 * read-modify-writes (one release sequence), so a waiter that sees zero sees
 * everything every task of the group did. A decrement that may be the last
 * one is done under the pool's lock, and the waiter looks at the count under
 * the lock before it returns; so once a waiter has seen zero, no finishing
 * task will touch the group again, and it may be freed. The same lock and
 * `group_done` condition make that last decrement's wake-up impossible to
 * lose (the usual monitor argument). */

struct spk_waitgroup {
    atomic_size_t pending; /* tasks submitted through the group and not finished */
    spk_pool *pool;
};

struct spk_pool {
    const spk_allocator *alloc;
    spk_taskq *queue;
    spk__thread *threads;
    int nthreads;
    int started;            /* threads running (to join) */
    spk__mutex lock;             /* guards stopping, and the waits on the two conditions */
    spk__cond work_ready;       /* idle workers wait here for tasks or for stopping */
    spk__cond group_done;       /* wait-group waiters wait here */
    bool lock_made, work_ready_made, group_done_made; /* what to destroy */
    bool stopping;          /* under lock */
    atomic_int sleepers;    /* idle workers in (or about to enter) cnd_wait */
    spk_waitgroup own;      /* the group of spk_pool_submit / spk_pool_wait */
};

static _Thread_local int spk__pool_failing_thread;

SPKDEF void spk_pool_fail_thread_start(int worker) { spk__pool_failing_thread = worker; }

static void spk__group_finish(spk_waitgroup *g) {
    size_t n = atomic_load_explicit(&g->pending, memory_order_relaxed);
    while (n > 1)
        if (atomic_compare_exchange_weak_explicit(&g->pending, &n, n - 1, memory_order_release,
                                                  memory_order_relaxed))
            return; /* not the last: the group still has work, nobody can free it */
    /* Maybe the last one: see "Wait-groups" above for why under the lock. */
    spk_pool *pool = g->pool;
    spk__mutex_lock(&pool->lock);
    if (atomic_fetch_sub_explicit(&g->pending, 1, memory_order_release) == 1)
        spk__cond_broadcast(&pool->group_done);
    spk__mutex_unlock(&pool->lock);
}

static void spk__pool_run(const spk__task *task) {
    task->fn(task->arg);
    spk__group_finish(task->group);
}

static int spk__pool_worker(void *arg) {
    spk_pool *pool = (spk_pool *)arg;
    spk__task task;
    for (;;) {
        /* Busy: take the next task. A couple of yields before sleeping spare
         * the lock and condition variable when tasks come in bursts. */
        bool got = false;
        for (int look = 0; look < 3 && !(got = spk__taskq_try_pop_task(pool->queue, &task)); look++)
            thrd_yield();
        if (!got) {
            spk__mutex_lock(&pool->lock);
            atomic_fetch_add_explicit(&pool->sleepers, 1, memory_order_seq_cst);
            while (!(got = spk__taskq_try_pop_task(pool->queue, &task)) && !pool->stopping)
                spk__cond_wait(&pool->work_ready, &pool->lock);
            /* relaxed: a submit that still sees this worker counted merely
             * signals once more than needed */
            atomic_fetch_sub_explicit(&pool->sleepers, 1, memory_order_relaxed);
            spk__mutex_unlock(&pool->lock);
            if (!got) return 0; /* stopping, and the queue is drained */
        }
        spk__pool_run(&task);
    }
}

/* Stops and joins the started workers, then frees everything. */
static void spk__pool_destroy(spk_pool *pool) {
    if (pool->started > 0) {
        spk__mutex_lock(&pool->lock);
        pool->stopping = true;
        spk__cond_broadcast(&pool->work_ready);
        spk__mutex_unlock(&pool->lock);
        for (int i = 0; i < pool->started; i++) spk__thread_join(&pool->threads[i]);
    }
    if (pool->group_done_made) spk__cond_destroy(&pool->group_done);
    if (pool->work_ready_made) spk__cond_destroy(&pool->work_ready);
    if (pool->lock_made) spk__mutex_destroy(&pool->lock);
    spk_taskq_free(pool->queue);
    spk__free(pool->alloc, pool->threads, (size_t)pool->nthreads * sizeof *pool->threads);
    spk__free(pool->alloc, pool, sizeof *pool);
}

SPKDEF spk_status spk_pool_new(const spk_allocator *alloc, int nthreads, size_t queue_capacity,
                               spk_pool **out) {
    int failing_thread = spk__pool_failing_thread;
    spk__pool_failing_thread = 0;
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_pool_new: NULL output");
    if (nthreads < 0 || nthreads > SPK_POOL_MAX_THREADS)
        return spk__fail(SPK_ERR_ARG, "spk_pool_new: %d worker threads (expected 0 to %d; 0 = one per core)",
                         nthreads, SPK_POOL_MAX_THREADS);
    if (nthreads == 0) {
        nthreads = spk_cpu_count();
        if (nthreads > SPK_POOL_MAX_THREADS) nthreads = SPK_POOL_MAX_THREADS;
    }
    if (queue_capacity == 0) queue_capacity = SPK_POOL_DEFAULT_QUEUE;
    alloc = spk__allocator_or_default(alloc);

    spk_pool *pool = (spk_pool *)spk__calloc(alloc, sizeof *pool);
    if (!pool) return spk__nomem("a thread pool", sizeof *pool);
    pool->alloc = alloc;
    pool->nthreads = nthreads;
    atomic_init(&pool->sleepers, 0);
    atomic_init(&pool->own.pending, 0);
    pool->own.pool = pool;

    spk_status st = SPK_OK;
    size_t threads_bytes = (size_t)nthreads * sizeof *pool->threads;
    pool->threads = (spk__thread *)spk__calloc(alloc, threads_bytes);
    if (!pool->threads) {
        st = spk__nomem("the pool's threads", threads_bytes);
        goto fail;
    }
    st = spk_taskq_new(alloc, queue_capacity, &pool->queue);
    if (st != SPK_OK) {
        spk__fail_prefix("spk_pool_new: ");
        goto fail;
    }
    if (!spk__mutex_init(&pool->lock)) goto fail_sync;
    pool->lock_made = true;
    if (!spk__cond_init(&pool->work_ready)) goto fail_sync;
    pool->work_ready_made = true;
    if (!spk__cond_init(&pool->group_done)) goto fail_sync;
    pool->group_done_made = true;

    for (int i = 0; i < nthreads; i++) {
        int rc = i + 1 == failing_thread ? thrd_error
                                         : spk__thread_start(&pool->threads[i], spk__pool_worker, pool);
        if (rc != thrd_success) {
            st = spk__fail(rc == thrd_nomem ? SPK_ERR_NOMEM : SPK_ERR_LIMIT,
                           "spk_pool_new: cannot start worker thread %d of %d (%s)", i + 1, nthreads,
                           rc == thrd_nomem ? "out of memory" : "the system refused a new thread");
            goto fail;
        }
        pool->started++;
    }
    *out = pool;
    return SPK_OK;

fail_sync:
    st = spk__fail(SPK_ERR_NOMEM, "spk_pool_new: cannot create the pool's mutex or condition variables");
fail:
    spk__pool_destroy(pool);
    return st;
}

SPKDEF void spk_pool_free(spk_pool *pool) {
    if (pool) spk__pool_destroy(pool);
}

SPKDEF int spk_pool_nthreads(const spk_pool *pool) { return pool->nthreads; }

static spk_status spk__pool_submit(spk_pool *pool, spk_waitgroup *group, spk_task_fn fn, void *arg,
                                   const char *caller) {
    if (!fn) return spk__fail(SPK_ERR_ARG, "%s: NULL task function", caller);
    spk__task task = {fn, arg, group};
    /* relaxed: the task's own finish can only follow this through the
     * queue's release/acquire hand-over, and a wait in this thread follows
     * it in program order; either way it is seen. */
    atomic_fetch_add_explicit(&group->pending, 1, memory_order_relaxed);
    while (!spk__taskq_try_push_task(pool->queue, &task)) {
        /* Full: make room by running a queued task here instead of waiting
         * for a worker, so that tasks submitting tasks cannot deadlock. */
        spk__task other;
        if (spk__taskq_try_pop_task(pool->queue, &other))
            spk__pool_run(&other);
        else
            thrd_yield(); /* emptied meanwhile: the next push will get in */
    }
    /* seq_cst: pairs with the worker's increment; see "Wake-ups" above. */
    if (atomic_load_explicit(&pool->sleepers, memory_order_seq_cst) > 0) {
        spk__mutex_lock(&pool->lock);
        spk__cond_signal(&pool->work_ready);
        spk__mutex_unlock(&pool->lock);
    }
    return SPK_OK;
}

static void spk__group_wait(spk_waitgroup *g) {
    spk_pool *pool = g->pool;
    spk__task task;
    /* Help while the group has work left and the queue has tasks. */
    while (atomic_load_explicit(&g->pending, memory_order_acquire) != 0 &&
           spk__taskq_try_pop_task(pool->queue, &task))
        spk__pool_run(&task);
    /* The rest is running on workers: sleep until a group finishes. Always
     * through the lock, even if pending is already zero, so that the last
     * finisher has let go of the group before this returns. */
    spk__mutex_lock(&pool->lock);
    while (atomic_load_explicit(&g->pending, memory_order_acquire) != 0)
        spk__cond_wait(&pool->group_done, &pool->lock);
    spk__mutex_unlock(&pool->lock);
}

SPKDEF spk_status spk_pool_submit(spk_pool *pool, spk_task_fn fn, void *arg) {
    return spk__pool_submit(pool, &pool->own, fn, arg, "spk_pool_submit");
}

SPKDEF void spk_pool_wait(spk_pool *pool) { spk__group_wait(&pool->own); }

SPKDEF spk_status spk_waitgroup_new(spk_pool *pool, spk_waitgroup **out) {
    if (!pool || !out) return spk__fail(SPK_ERR_ARG, "spk_waitgroup_new: NULL argument");
    spk_waitgroup *g = (spk_waitgroup *)spk__alloc(pool->alloc, sizeof *g);
    if (!g) return spk__nomem("a wait-group", sizeof *g);
    atomic_init(&g->pending, 0);
    g->pool = pool;
    *out = g;
    return SPK_OK;
}

SPKDEF void spk_waitgroup_free(spk_waitgroup *group) {
    if (!group) return;
    SPK_ASSERT(atomic_load_explicit(&group->pending, memory_order_relaxed) == 0);
    spk__free(group->pool->alloc, group, sizeof *group);
}

SPKDEF spk_status spk_waitgroup_submit(spk_waitgroup *group, spk_task_fn fn, void *arg) {
    return spk__pool_submit(group->pool, group, fn, arg, "spk_waitgroup_submit");
}

SPKDEF void spk_waitgroup_wait(spk_waitgroup *group) { spk__group_wait(group); }
