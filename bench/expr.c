/* bench/expr — the expression evaluator against a hand-written C loop.
 *
 * 10M rows of (price DECIMAL(15,2), disc DECIMAL(15,2), tax DECIMAL(15,2),
 * shipdate DATE) with TPC-H lineitem's value ranges. Single-threaded, same
 * run, median of 5:
 *   E1  price * (1 - disc) * (1 + tax)   evaluated into a result table
 *   E2  shipdate <= DATE '1998-09-02'    as a filter producing the rows
 * next to loops over an array of structs doing the same work: scaled int64
 * arithmetic with the results stored in a freshly allocated array, and the
 * matching rows copied into a freshly allocated array (each run makes its
 * output anew, as the engine does). Target: <= 3x the loop.
 * Run: make bench (or build/bench/expr). */
#define SPARKLESS_IMPLEMENTATION
#include "../sparkless.h"
#include "bench_util.h"
#include <time.h>

#define ROWS 10000000
#define RUNS 5

typedef struct lineitem {
    int64_t price, disc, tax; /* scale 2 */
    int32_t shipdate;
} lineitem;

static uint64_t rng_state = 42;
static uint64_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int fail(const char *what) {
    fprintf(stderr, "%s: %s\n", what, spk_last_error());
    return 1;
}

int main(void) {
    lineitem *rows = malloc((size_t)ROWS * sizeof *rows);
    if (!rows) return 1;
    int32_t first_day, cutoff;
    spk_date_from_ymd(1992, 1, 2, &first_day);
    spk_date_from_ymd(1998, 9, 2, &cutoff);
    for (size_t i = 0; i < ROWS; i++) {
        rows[i].price = 90000 + (int64_t)(rng() % 10400000); /* 900.00 .. 104900.00 */
        rows[i].disc = (int64_t)(rng() % 11);                 /* 0.00 .. 0.10 */
        rows[i].tax = (int64_t)(rng() % 9);                   /* 0.00 .. 0.08 */
        rows[i].shipdate = first_day + (int32_t)(rng() % 2526);
    }

    spk_schema *schema = NULL;
    spk_table *table = NULL;
    if (spk_schema_parse(NULL, "price DECIMAL(15,2), disc DECIMAL(15,2), tax DECIMAL(15,2), shipdate DATE", &schema) ||
        spk_table_new(NULL, schema, &table))
        return fail("setup");
    static spk_value batch[1024 * 4];
    for (size_t r = 0; r < ROWS; r += 1024) {
        size_t n = ROWS - r < 1024 ? ROWS - r : 1024;
        for (size_t k = 0; k < n; k++) {
            const lineitem *l = &rows[r + k];
            batch[k * 4 + 0] = spk_value_decimal(l->price, 15, 2);
            batch[k * 4 + 1] = spk_value_decimal(l->disc, 15, 2);
            batch[k * 4 + 2] = spk_value_decimal(l->tax, 15, 2);
            batch[k * 4 + 3] = spk_value_date(l->shipdate);
        }
        if (spk_table_append_rows(table, batch, n)) return fail("load");
    }

    spk_expr *e1 = NULL, *e2 = NULL;
    spk_bound *b1 = NULL, *b2 = NULL;
    if (spk_expr_parse("price * (1 - disc) * (1 + tax)", &e1) || spk_expr_parse("shipdate <= DATE '1998-09-02'", &e2) ||
        spk_expr_bind(e1, schema, false, &b1) || spk_expr_bind(e2, schema, false, &b2))
        return fail("bind");

    double t_hand1[RUNS], t_hand2[RUNS], t_spk1[RUNS], t_spk2[RUNS];
    int64_t hand_sum = 0, spk_sum = 0;
    size_t hand_kept_n = 0, spk_kept_n = 0;
    for (int run = 0; run < RUNS; run++) {
        double t0 = now_s();
        int64_t *hand_out = malloc((size_t)ROWS * sizeof *hand_out);
        if (!hand_out) return 1;
        for (size_t i = 0; i < ROWS; i++)
            hand_out[i] = rows[i].price * (100 - rows[i].disc) * (100 + rows[i].tax); /* scale 6 */
        t_hand1[run] = now_s() - t0;
        hand_sum = 0;
        for (size_t i = 0; i < ROWS; i++) hand_sum += hand_out[i];
        free(hand_out);

        t0 = now_s();
        lineitem *hand_kept = malloc((size_t)ROWS * sizeof *hand_kept);
        if (!hand_kept) return 1;
        size_t kept = 0;
        for (size_t i = 0; i < ROWS; i++)
            if (rows[i].shipdate <= cutoff) hand_kept[kept++] = rows[i];
        t_hand2[run] = now_s() - t0;
        hand_kept_n = kept;
        free(hand_kept);

        spk_table *out = NULL;
        t0 = now_s();
        if (spk_bound_eval(b1, table, &out)) return fail("eval");
        t_spk1[run] = now_s() - t0;
        spk_sum = 0;
        spk_cursor c;
        spk_cursor_open(&c, out);
        while (spk_cursor_next(&c)) {
            spk_value v;
            spk_cursor_get(&c, 0, &v);
            spk_sum += v.as.i64;
        }
        spk_table_free(out);

        t0 = now_s();
        if (spk_bound_filter(b2, table, &out)) return fail("filter");
        t_spk2[run] = now_s() - t0;
        spk_kept_n = spk_table_nrows(out);
        spk_table_free(out);
    }
    char type[32];
    spk_type_format(spk_bound_type(b1), SPK_TYPE_SQL, type, sizeof type);
    if (spk_sum != hand_sum || spk_kept_n != hand_kept_n) {
        fprintf(stderr, "MISMATCH: sum %lld vs %lld, kept %zu vs %zu\n", (long long)spk_sum, (long long)hand_sum,
                spk_kept_n, hand_kept_n);
        return 2;
    }
    double h1 = median(t_hand1, RUNS), s1 = median(t_spk1, RUNS), h2 = median(t_hand2, RUNS), s2 = median(t_spk2, RUNS);
    printf("expr: %d rows, 1 thread, median of %d\n", ROWS, RUNS);
    printf("  E1 price * (1 - disc) * (1 + tax) -> %s: sparkless %.2f ns/row, hand loop %.2f ns/row, ratio %.2f (target <= 3)\n",
           type, s1 * 1e9 / ROWS, h1 * 1e9 / ROWS, s1 / h1);
    printf("  E2 shipdate <= DATE '1998-09-02' (%zu rows kept): sparkless %.2f ns/row, hand loop %.2f ns/row, ratio %.2f (target <= 3)\n",
           spk_kept_n, s2 * 1e9 / ROWS, h2 * 1e9 / ROWS, s2 / h2);
    spk_bound_free(b1);
    spk_bound_free(b2);
    spk_expr_release(e1);
    spk_expr_release(e2);
    spk_table_free(table);
    spk_schema_release(schema);
    free(rows);
    return 0;
}
