/* The allocation-failure sweep's malloc, for a test program that compiles
 * its own copy of the implementation: include this before sparkless.h
 * (with SPARKLESS_STATIC and SPARKLESS_IMPLEMENTATION). It counts live
 * blocks and, while sweep_fail_at is set, refuses the allocation of that
 * number (1-based, counted in sweep_calls). */
#ifndef SPK_TEST_SWEEP_H
#define SPK_TEST_SWEEP_H
#include <stdlib.h>
#include <stdatomic.h>

static atomic_long sweep_calls, sweep_fail_at, sweep_live; /* atomic: pool threads allocate too */
static void *sweep_malloc(size_t n) {
    if (sweep_fail_at && ++sweep_calls == sweep_fail_at) return NULL;
    void *p = malloc(n);
    if (p) sweep_live++;
    return p;
}
static void *sweep_realloc(void *p, size_t n) {
    if (!p) return sweep_malloc(n);
    if (sweep_fail_at && ++sweep_calls == sweep_fail_at) return NULL;
    return realloc(p, n);
}
static void sweep_free(void *p) {
    if (p) sweep_live--;
    free(p);
}
#define SPK_MALLOC(n) sweep_malloc(n)
#define SPK_REALLOC(p, n) sweep_realloc((p), (n))
#define SPK_FREE(p) sweep_free(p)
#endif
