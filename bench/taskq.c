/* bench/taskq — throughput of spk_taskq next to a mutex + condition variable
 * bounded queue, in the same run.
 *
 * P producers push ITEMS items in all (blocking push), C consumers pop until
 * the queue is closed and drained (blocking pop); time from the start signal
 * to the last consumer's exit. For 1P/1C, 2P/2C and 4P/4C, each queue kind
 * runs RUNS times, alternating, and the median is reported in Mitems/s.
 * Targets: 1P/1C lock-free >= 5 x the mutex queue; every 4P/4C lock-free run
 * finishes within 3 x the median 2P/2C time (no stalls when the threads
 * outnumber the cores). Run: make bench (or build/bench/taskq). */
#define SPARKLESS_IMPLEMENTATION
#include "../sparkless.h"
#include "bench_util.h"
#include <threads.h>
#include <stdatomic.h>
#include <time.h>

#define ITEMS 2000000
#define CAPACITY 1024
#define RUNS 5
#define MAX_THREADS 4

/* ---------------------------------------------------------------- the baseline
 * The textbook bounded queue: one mutex, "not full" and "not empty"
 * condition variables, a signal after every change. */
typedef struct mutex_queue {
    mtx_t lock;
    cnd_t not_full, not_empty;
    void **items;
    size_t capacity, head, count;
    bool closed;
} mutex_queue;

static bool mq_init(mutex_queue *q, size_t capacity) {
    q->items = malloc(capacity * sizeof *q->items);
    q->capacity = capacity;
    q->head = q->count = 0;
    q->closed = false;
    return q->items && mtx_init(&q->lock, mtx_plain) == thrd_success && cnd_init(&q->not_full) == thrd_success &&
           cnd_init(&q->not_empty) == thrd_success;
}

static void mq_destroy(mutex_queue *q) {
    cnd_destroy(&q->not_empty);
    cnd_destroy(&q->not_full);
    mtx_destroy(&q->lock);
    free(q->items);
}

static bool mq_push(mutex_queue *q, void *item) {
    mtx_lock(&q->lock);
    while (q->count == q->capacity && !q->closed) cnd_wait(&q->not_full, &q->lock);
    if (q->closed) {
        mtx_unlock(&q->lock);
        return false;
    }
    q->items[(q->head + q->count++) % q->capacity] = item;
    cnd_signal(&q->not_empty);
    mtx_unlock(&q->lock);
    return true;
}

static bool mq_pop(mutex_queue *q, void **item) {
    mtx_lock(&q->lock);
    while (q->count == 0 && !q->closed) cnd_wait(&q->not_empty, &q->lock);
    if (q->count == 0) {
        mtx_unlock(&q->lock);
        return false;
    }
    *item = q->items[q->head];
    q->head = (q->head + 1) % q->capacity;
    q->count--;
    cnd_signal(&q->not_full);
    mtx_unlock(&q->lock);
    return true;
}

static void mq_close(mutex_queue *q) {
    mtx_lock(&q->lock);
    q->closed = true;
    cnd_broadcast(&q->not_full);
    cnd_broadcast(&q->not_empty);
    mtx_unlock(&q->lock);
}

/* ---------------------------------------------------------------- one run */

typedef struct bench_run {
    bool lockfree;
    spk_taskq *lq;
    mutex_queue mq;
    int producers;
    atomic_int go;
} bench_run;

typedef struct worker {
    bench_run *run;
    int id;
    long count;
    uint64_t sum;
} worker;

static int producer_main(void *arg) {
    worker *w = (worker *)arg;
    bench_run *r = w->run;
    long share = ITEMS / r->producers;
    while (!atomic_load(&r->go)) thrd_yield();
    for (long i = 0; i < share; i++) {
        void *item = (void *)(uintptr_t)((uint64_t)w->id * share + (uint64_t)i + 1);
        bool ok = r->lockfree ? spk_taskq_push(r->lq, item) : mq_push(&r->mq, item);
        if (!ok) break;
        w->count++;
    }
    return 0;
}

static int consumer_main(void *arg) {
    worker *w = (worker *)arg;
    bench_run *r = w->run;
    while (!atomic_load(&r->go)) thrd_yield();
    void *item;
    while (r->lockfree ? spk_taskq_pop(r->lq, &item) : mq_pop(&r->mq, &item)) {
        w->count++;
        w->sum += (uintptr_t)item;
    }
    return 0;
}

/* Seconds for one run, or a negative number if something went wrong. */
static double run_once(bool lockfree, int producers, int consumers) {
    static bench_run r;
    r.lockfree = lockfree;
    r.producers = producers;
    atomic_store(&r.go, 0);
    if (lockfree) {
        if (spk_taskq_new(NULL, CAPACITY, &r.lq) != SPK_OK) return -1;
    } else if (!mq_init(&r.mq, CAPACITY)) {
        return -1;
    }
    worker pw[MAX_THREADS], cw[MAX_THREADS];
    thrd_t pt[MAX_THREADS], ct[MAX_THREADS];
    memset(pw, 0, sizeof pw);
    memset(cw, 0, sizeof cw);
    for (int i = 0; i < consumers; i++) {
        cw[i].run = &r;
        cw[i].id = i;
        if (thrd_create(&ct[i], consumer_main, &cw[i]) != thrd_success) return -1;
    }
    for (int i = 0; i < producers; i++) {
        pw[i].run = &r;
        pw[i].id = i;
        if (thrd_create(&pt[i], producer_main, &pw[i]) != thrd_success) return -1;
    }
    double t0 = now_s();
    atomic_store(&r.go, 1);
    for (int i = 0; i < producers; i++) thrd_join(pt[i], NULL);
    if (lockfree)
        spk_taskq_close(r.lq);
    else
        mq_close(&r.mq);
    for (int i = 0; i < consumers; i++) thrd_join(ct[i], NULL);
    double secs = now_s() - t0;

    long count = 0;
    uint64_t sum = 0, n = (uint64_t)(ITEMS / producers) * (uint64_t)producers;
    for (int i = 0; i < consumers; i++) {
        count += cw[i].count;
        sum += cw[i].sum;
    }
    if (lockfree)
        spk_taskq_free(r.lq);
    else
        mq_destroy(&r.mq);
    if ((uint64_t)count != n || sum != n * (n + 1) / 2) {
        fprintf(stderr, "taskq bench: wrong result (%ld items)\n", count);
        return -1;
    }
    return secs;
}

int main(void) {
    static const int sides[] = {1, 2, 4};
    double lockfree[3][RUNS], mutex[3][RUNS], median_lf[3], median_mx[3];
    for (int s = 0; s < 3; s++) {
        for (int run = 0; run < RUNS; run++) {
            lockfree[s][run] = run_once(true, sides[s], sides[s]);
            mutex[s][run] = run_once(false, sides[s], sides[s]);
            if (lockfree[s][run] < 0 || mutex[s][run] < 0) return 1;
        }
    }
    double slowest_4p4c = 0;
    for (int run = 0; run < RUNS; run++)
        if (lockfree[2][run] > slowest_4p4c) slowest_4p4c = lockfree[2][run];
    for (int s = 0; s < 3; s++) {
        median_lf[s] = median(lockfree[s], RUNS);
        median_mx[s] = median(mutex[s], RUNS);
    }

    printf("taskq: %d items per run, capacity %d, median of %d runs, %d online cores\n", ITEMS, CAPACITY, RUNS,
           spk_cpu_count());
    for (int s = 0; s < 3; s++) {
        double lf = ITEMS / median_lf[s] / 1e6, mx = ITEMS / median_mx[s] / 1e6;
        printf("taskq %dP%dC lockfree=%.2f Mitems/s mutex=%.2f Mitems/s ratio=%.2f\n", sides[s], sides[s], lf, mx,
               lf / mx);
    }
    double stall_ratio = slowest_4p4c / median_lf[1];
    printf("taskq 4P4C vs 2P2C: median %.3f s vs %.3f s; slowest 4P4C run %.3f s = %.2f x the 2P2C median "
           "(target <= 3)\n",
           median_lf[2], median_lf[1], slowest_4p4c, stall_ratio);
    double ratio_1p1c = median_mx[0] / median_lf[0];
    printf("taskq targets: 1P1C ratio %.2f (>= 5: %s), 4P4C within 3x 2P2C (%s)\n", ratio_1p1c,
           ratio_1p1c >= 5 ? "met" : "MISSED", stall_ratio <= 3 ? "met" : "MISSED");
    return ratio_1p1c >= 5 && stall_ratio <= 3 ? 0 : 2;
}
