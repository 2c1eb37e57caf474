/* Threads (run under TSan and ASan): the default allocator's kept blocks,
 * taken and given back by several threads at once. Each thread fills its
 * blocks with its own byte and checks it is still there after every move,
 * so a block handed to two threads, or kept while still in use, shows up
 * as another thread's bytes. */
#include "test.h"
#include <stdatomic.h>

#include "test_threads.h"

enum { NTHREADS = 4, ITERS = 300, HELD = 3 };

typedef struct worker {
    int id;
    long bad, failed; /* read by main after join */
} worker;

/* Only the ends of a block are written and checked: enough to see a block
 * shared by two threads, and quick. */
static void mark(unsigned char *p, size_t n, unsigned char byte) {
    size_t edge = n < 4096 ? n : 4096;
    memset(p, byte, edge);
    memset(p + n - edge, byte, edge);
}
static bool marked(const unsigned char *p, size_t n, unsigned char byte) {
    size_t edge = n < 4096 ? n : 4096;
    for (size_t i = 0; i < edge; i++)
        if (p[i] != byte || p[n - 1 - i] != byte) return false;
    return true;
}

static int run_worker(void *arg) {
    worker *w = (worker *)arg;
    const spk_allocator *a = spk_default_allocator();
    unsigned char byte = (unsigned char)(0x40 + w->id);
    unsigned seed = 12345u * (unsigned)(w->id + 1);
    unsigned char *held[HELD] = {NULL};
    size_t sizes[HELD] = {0};
    for (int it = 0; it < ITERS; it++) {
        int k = it % HELD;
        seed = seed * 1103515245u + 12345u;
        size_t n = ((size_t)256 << 10) + (seed >> 8) % ((size_t)3 << 20); /* 256 KiB to 3.25 MiB */
        if (!held[k]) {
            if (!(held[k] = (unsigned char *)a->alloc(a->user, n))) {
                w->failed++;
                continue;
            }
        } else {
            if (!marked(held[k], sizes[k], byte)) w->bad++;
            unsigned char *q = (unsigned char *)a->realloc(a->user, held[k], sizes[k], n);
            if (!q) {
                w->failed++;
                continue;
            }
            size_t kept = sizes[k] < n ? sizes[k] : n, edge = kept < 4096 ? kept : 4096;
            for (size_t i = 0; i < edge; i++) w->bad += q[i] != byte; /* the front moved with it */
            held[k] = q;
        }
        sizes[k] = n;
        mark(held[k], n, byte);
        if (seed & 0x100) { /* sometimes given back */
            a->free(a->user, held[k], n);
            held[k] = NULL;
        }
    }
    for (int k = 0; k < HELD; k++)
        if (held[k]) {
            if (!marked(held[k], sizes[k], byte)) w->bad++;
            a->free(a->user, held[k], sizes[k]);
        }
    return 0;
}

static void test_kept_blocks_threads(void) {
    size_t old = spk_memory_set_retention((size_t)32 << 20); /* small enough that the limit is hit too */
    worker w[NTHREADS];
    mt_thread t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (worker){i, 0, 0};
        CHECK(mt_start(&t[i], run_worker, &w[i]));
    }
    for (int i = 0; i < NTHREADS; i++) mt_join(&t[i]);
    for (int i = 0; i < NTHREADS; i++) {
        CHECK_EQ_INT(w[i].bad, 0);
        CHECK_EQ_INT(w[i].failed, 0);
    }
    CHECK(spk_memory_retained() > 0);
    CHECK(spk_memory_retained() <= (size_t)32 << 20);
    spk_memory_release();
    CHECK_EQ_INT((long long)spk_memory_retained(), 0);
    spk_memory_set_retention(old);
}

int main(void) {
    RUN(test_kept_blocks_threads);
    return TEST_REPORT();
}
