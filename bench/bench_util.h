/* What the benchmarks share: a wall clock and the median of timed runs. */
#ifndef SPK_BENCH_UTIL_H
#define SPK_BENCH_UTIL_H

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
/* The median of v[0..n) (n <= 64; v is left as it is). */
static double median(const double *v, int n) {
    double sorted[64];
    memcpy(sorted, v, (size_t)n * sizeof *v);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_double);
    return (sorted[(n - 1) / 2] + sorted[n / 2]) / 2;
}

#endif
