/* bench/wire — encoding and decoding an expression for shipping (wire.h).
 *
 * One 20-node expression — columns, DOUBLE, BIGINT, DECIMAL, STRING and
 * DATE literals, arithmetic, comparisons, AND/OR, a CASE, a cast and a function
 * call — on one core:
 *   roundtrip  encode + decode + free of the decoded tree and the bytes
 *   encode     encode + free of the bytes
 *   decode     decode of the same bytes + free of the tree
 * Each is timed over runs of about 0.2 s; the median of 9 runs is reported
 * (the machines are shared: more, shorter runs steady the median).
 * The decoded tree must equal the original (spk_expr_equal), else exit 2.
 * Run: make bench (or build/bench/wire). */
#define SPARKLESS_IMPLEMENTATION
#include "../sparkless.h"
#include "bench_util.h"
#include <time.h>

#define RUNS 9
#define RUN_SECONDS 0.2

static const char *const sql = "CASE WHEN a + 1.5D > 10L AND (b < 2.5 OR name = 'x') THEN upper(name) "
                               "ELSE CAST(d >= DATE '2024-01-01' AS STRING) END";

static int fail(const char *what) {
    fprintf(stderr, "%s: %s\n", what, spk_last_error());
    return 1;
}

/* Counts the tree's nodes (reads the implementation's struct, which this
 * file compiles: the count printed is the count run). */
static int nodes(const spk_expr *e) {
    int n = 1;
    for (int i = 0; i < e->nargs; i++) n += nodes(e->args[i]);
    return n;
}

typedef enum { ROUNDTRIP, ENCODE, DECODE } mode;

/* One timed run: repeats the operation in blocks until RUN_SECONDS have
 * passed; returns seconds per operation, or a negative number on failure. */
static double timed_run(mode m, const spk_expr *e, const spk_bytes *bytes) {
    long ops = 0;
    double t0 = now_s(), elapsed = 0;
    do {
        for (int k = 0; k < 256; k++) {
            spk_bytes b = {NULL, 0};
            spk_expr *back = NULL;
            if (m != DECODE && spk_expr_encode(e, &b) != SPK_OK) return -1;
            if (m != ENCODE && spk_expr_decode(m == DECODE ? bytes->data : b.data, m == DECODE ? bytes->len : b.len, NULL,
                                               &back) != SPK_OK)
                return -1;
            spk_expr_release(back);
            spk_bytes_free(&b);
        }
        ops += 256;
        elapsed = now_s() - t0;
    } while (elapsed < RUN_SECONDS);
    return elapsed / (double)ops;
}

int main(void) {
    spk_expr *e = NULL;
    if (spk_expr_parse(sql, &e) != SPK_OK) return fail("parse");
    spk_bytes bytes = {NULL, 0};
    spk_expr *back = NULL;
    if (spk_expr_encode(e, &bytes) != SPK_OK) return fail("encode");
    if (spk_expr_decode(bytes.data, bytes.len, NULL, &back) != SPK_OK) return fail("decode");
    if (!spk_expr_equal(e, back)) {
        fprintf(stderr, "MISMATCH: the decoded tree differs from the original\n");
        return 2;
    }
    spk_expr_release(back);

    static const char *const names[3] = {"wire_roundtrip", "wire_encode", "wire_decode"};
    int n = nodes(e);
    for (int m = ROUNDTRIP; m <= DECODE; m++) {
        double t[RUNS];
        for (int r = 0; r < RUNS; r++)
            if ((t[r] = timed_run((mode)m, e, &bytes)) < 0) return fail(names[m]);
        double sec = median(t, RUNS);
        printf("BENCH %s nodes=%d bytes=%zu %s_per_s=%.0f ns_per_%s=%.0f\n", names[m], n, bytes.len,
               m == ROUNDTRIP ? "roundtrips" : m == ENCODE ? "encodes" : "decodes", 1.0 / sec,
               m == ROUNDTRIP ? "roundtrip" : m == ENCODE ? "encode" : "decode", sec * 1e9);
    }
    spk_bytes_free(&bytes);
    spk_expr_release(e);
    return 0;
}
