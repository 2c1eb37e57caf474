/* Decoded expression trees released from several threads at once (runs
 * under TSan and ASan in make test). A decoded tree's nodes lie in shared
 * blocks; each node holds one count of its block, and a release pays a
 * block's counts in one atomic operation per run of its nodes. Threads that
 * hold different subtrees of one decoded tree release them concurrently,
 * reading them until then; every block must be freed exactly once, after
 * its last node, and nothing may leak (the allocator below counts). */
#include <stdatomic.h>
#include <stdlib.h>

static atomic_long live_blocks; /* the library's allocations not yet freed */
static void *counting_malloc(size_t n) {
    void *p = malloc(n);
    if (p) live_blocks++;
    return p;
}
static void *counting_realloc(void *p, size_t n) { return p ? realloc(p, n) : counting_malloc(n); }
static void counting_free(void *p) {
    if (p) live_blocks--;
    free(p);
}
#define SPK_MALLOC(n) counting_malloc(n)
#define SPK_REALLOC(p, n) counting_realloc((p), (n))
#define SPK_FREE(p) counting_free(p)
#define SPARKLESS_STATIC
#define SPARKLESS_IMPLEMENTATION /* for the nodes' children: no public accessor hands out a subtree */
#include "../sparkless.h"
#include "test.h"
#include "test_threads.h"

#define VALUES 200 /* a IN (0, ..., 199): 201 nodes, several 4 KiB blocks */
#define MAX_THREADS 8

typedef struct holder {
    spk_expr *nodes[VALUES + 2];
    int n;
    atomic_int *go;
    int bad; /* subtrees that did not print as expected */
} holder;

/* Waits for the start, then reads each held subtree (retaining and
 * releasing it on the way, to race the other threads' counts), and
 * releases it. */
static int hold_and_release(void *arg) {
    holder *h = (holder *)arg;
    while (!atomic_load(h->go)) thrd_yield();
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < h->n; i++) {
            spk_expr *again = spk_expr_retain(h->nodes[i]);
            char sql[32];
            spk_expr_to_sql(again, sql, sizeof sql);
            if (!sql[0]) h->bad++;
            spk_expr_release(again);
        }
    for (int i = 0; i < h->n; i++) spk_expr_release(h->nodes[i]);
    return 0;
}

static spk_expr *decoded_wide_in(void) {
    spk_expr *list[VALUES];
    for (int i = 0; i < VALUES; i++) list[i] = spk_lit_i32(i);
    spk_expr *e = spk_in_array(spk_col("a"), list, VALUES), *d = NULL;
    spk_bytes b = {NULL, 0};
    if (spk_expr_encode(e, &b) != SPK_OK || spk_expr_decode(b.data, b.len, NULL, &d) != SPK_OK)
        failf(__FILE__, __LINE__, "round trip: %s", spk_last_error());
    spk_bytes_free(&b);
    spk_expr_release(e);
    return d;
}

static void test_subtrees_released_across_threads(void) {
    static const int counts[] = {1, 2, 3, 8};
    for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
        int nthreads = counts[c];
        long before = atomic_load(&live_blocks);
        spk_expr *d = decoded_wide_in();
        if (!d) return;
        CHECK_EQ_INT(d->nargs, VALUES + 1);
        CHECK(d->args[1]->block != NULL && d->args[1]->block != d->args[VALUES]->block); /* the values span blocks */
        atomic_int go = 0;
        holder h[MAX_THREADS];
        for (int t = 0; t < nthreads; t++) h[t] = (holder){.n = 0, .go = &go, .bad = 0};
        /* Thread t holds children t, t + nthreads, ...; thread 0 also the root. */
        for (int i = 0; i < d->nargs; i++) {
            holder *to = &h[i % nthreads];
            to->nodes[to->n++] = spk_expr_retain(d->args[i]);
        }
        h[0].nodes[h[0].n++] = spk_expr_retain(d);
        mt_thread threads[MAX_THREADS];
        int started = 0;
        for (int t = 0; t < nthreads; t++)
            if (mt_start(&threads[t], hold_and_release, &h[t])) started++;
        CHECK_EQ_INT(started, nthreads);
        atomic_store(&go, 1);
        spk_expr_release(d); /* the decoder's reference goes while the threads read */
        for (int t = 0; t < started; t++) mt_join(&threads[t]);
        for (int t = 0; t < nthreads; t++) CHECK_EQ_INT(h[t].bad, 0);
        CHECK_EQ_INT(atomic_load(&live_blocks), before);
    }
}

/* Trees built on decoded nodes, released from two threads in both orders. */
typedef struct one_release {
    spk_expr *e;
    atomic_int *go;
} one_release;

static int release_one(void *arg) {
    one_release *r = (one_release *)arg;
    while (!atomic_load(r->go)) thrd_yield();
    spk_expr_release(r->e);
    return 0;
}

static void test_built_on_decoded(void) {
    for (int round = 0; round < 20; round++) {
        long before = atomic_load(&live_blocks);
        spk_expr *d = decoded_wide_in();
        if (!d) return;
        /* Two new trees share the decoded children: one holds the even ones, one the odd. */
        spk_expr *even[VALUES / 2 + 1], *odd[VALUES / 2 + 1];
        int ne = 0, no = 0;
        for (int i = 0; i < d->nargs; i++) {
            if (i % 2) odd[no++] = spk_expr_retain(d->args[i]);
            else even[ne++] = spk_expr_retain(d->args[i]);
        }
        spk_expr *a = spk_call_array("coalesce", even, ne), *b = spk_call_array("coalesce", odd, no);
        CHECK(a && b);
        atomic_int go = 0;
        one_release ra = {a, &go}, rb = {b, &go};
        mt_thread ta, tb;
        bool sa = mt_start(&ta, release_one, &ra), sb = mt_start(&tb, release_one, &rb);
        CHECK(sa && sb);
        atomic_store(&go, 1);
        if (round % 2) spk_expr_release(d);
        if (sa) mt_join(&ta);
        if (sb) mt_join(&tb);
        if (!(round % 2)) spk_expr_release(d);
        CHECK_EQ_INT(atomic_load(&live_blocks), before);
    }
}

int main(void) {
    RUN(test_subtrees_released_across_threads);
    RUN(test_built_on_decoded);
    return TEST_REPORT();
}
