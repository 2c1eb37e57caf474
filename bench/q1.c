/* bench/q1 — TPC-H Q1 through the DataFrame API, on 1 thread and on N.
 *
 * A lineitem-like table of 6M rows (l_returnflag STRING 'A'/'N'/'R',
 * l_linestatus STRING 'O'/'F', l_quantity 1..50, l_extendedprice
 * 900.00..105000.00, l_discount 0.00..0.10, l_tax 0.00..0.08, all
 * DECIMAL(15,2), l_shipdate DATE 1992-01-02..1998-12-01), uniform values from
 * a fixed-seed xorshift generator (flag and status are independent, so there
 * are 6 groups rather than TPC-H's 4). The query:
 *   filter l_shipdate <= DATE '1998-09-02'   (1998-12-01 - 90 days)
 *   groupBy l_returnflag, l_linestatus
 *   agg sum(l_quantity), sum(l_extendedprice),
 *       sum(l_extendedprice * (1 - l_discount)),
 *       sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)),
 *       avg(l_quantity), avg(l_extendedprice), avg(l_discount), count(*)
 *   orderBy l_returnflag, l_linestatus
 *   collect
 * runs in two sessions, one with threads = 1 and one with threads = N
 * (default spk_cpu_count()). A DataFrame belongs to the session that made it
 * and spk_df_from_table takes its table over, so each session gets its own
 * copy of the table, built from the same seed. After one warm-up collect per
 * session, median of 5 collects each: seconds, ns per input row, and the
 * speedup (1-thread median / N-thread median). The N-thread result must
 * equal the 1-thread result value for value (spk_value_equal), else exit 1.
 * Run: make bench (or build/bench/q1 [ROWS [THREADS]], e.g. q1 200000 2). */
#define SPARKLESS_IMPLEMENTATION
#include "../sparkless.h"
#include "bench_util.h"
#include <time.h>

#define ROWS 6000000
#define RUNS 5
#define BATCH 4096
#define NCOLS 7

static uint64_t rng_state;
static uint64_t rng(void) { /* xorshift64 */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int fail(const char *what) {
    fprintf(stderr, "q1: %s: %s\n", what, spk_last_error());
    return 1;
}

/* A fresh table of `rows` lineitem rows; the same rows for every call. */
static spk_value batch[BATCH * NCOLS];
static spk_status build_table(spk_schema *schema, size_t rows, spk_table **out) {
    static const char *const flags[3] = {"A", "N", "R"}, *const statuses[2] = {"O", "F"};
    int32_t first_day = 0, last_day = 0;
    spk_date_from_ymd(1992, 1, 2, &first_day);
    spk_date_from_ymd(1998, 12, 1, &last_day);
    uint64_t days = (uint64_t)(last_day - first_day) + 1;
    spk_table *t = NULL;
    spk_status st = spk_table_new(NULL, schema, &t);
    if (st != SPK_OK) return st;
    rng_state = 0x9e3779b97f4a7c15ULL;
    for (size_t r = 0; r < rows; r += BATCH) {
        size_t n = rows - r < BATCH ? rows - r : BATCH;
        for (size_t k = 0; k < n; k++) {
            spk_value *v = &batch[k * NCOLS];
            v[0] = spk_value_str(flags[rng() % 3]);
            v[1] = spk_value_str(statuses[rng() % 2]);
            v[2] = spk_value_decimal((int64_t)(1 + rng() % 50) * 100, 15, 2);   /* 1.00 .. 50.00 */
            v[3] = spk_value_decimal(90000 + (int64_t)(rng() % 10410001), 15, 2); /* 900.00 .. 105000.00 */
            v[4] = spk_value_decimal((int64_t)(rng() % 11), 15, 2);             /* 0.00 .. 0.10 */
            v[5] = spk_value_decimal((int64_t)(rng() % 9), 15, 2);              /* 0.00 .. 0.08 */
            v[6] = spk_value_date(first_day + (int32_t)(rng() % days));         /* 1992-01-02 .. 1998-12-01 */
        }
        st = spk_table_append_rows(t, batch, n);
        if (st != SPK_OK) {
            spk_table_free(t);
            return st;
        }
    }
    *out = t;
    return SPK_OK;
}

/* Q1 over `lineitem` (borrowed); NULL with the error in spk_last_error(). */
static spk_df *q1(spk_df *lineitem) {
    spk_df *filtered = spk_df_filter(lineitem, spk_le(spk_col("l_shipdate"), spk_lit_date(1998, 9, 2)));
    spk_expr *keys[2] = {spk_col("l_returnflag"), spk_col("l_linestatus")};
    spk_expr *aggs[8] = {
        spk_alias(spk_call("sum", 1, spk_col("l_quantity")), "sum_qty"),
        spk_alias(spk_call("sum", 1, spk_col("l_extendedprice")), "sum_base_price"),
        spk_alias(spk_call("sum", 1, spk_mul(spk_col("l_extendedprice"), spk_sub(spk_lit_i32(1), spk_col("l_discount")))),
                  "sum_disc_price"),
        spk_alias(spk_call("sum", 1,
                           spk_mul(spk_mul(spk_col("l_extendedprice"), spk_sub(spk_lit_i32(1), spk_col("l_discount"))),
                                   spk_add(spk_lit_i32(1), spk_col("l_tax")))),
                  "sum_charge"),
        spk_alias(spk_call("avg", 1, spk_col("l_quantity")), "avg_qty"),
        spk_alias(spk_call("avg", 1, spk_col("l_extendedprice")), "avg_price"),
        spk_alias(spk_call("avg", 1, spk_col("l_discount")), "avg_disc"),
        spk_alias(spk_call("count", 1, spk_star()), "count_order"),
    };
    spk_df *grouped = spk_df_group_agg(filtered, keys, 2, aggs, 8);
    spk_df *ordered = spk_df_order_by(grouped, 2, spk_col("l_returnflag"), spk_col("l_linestatus"));
    spk_df_release(grouped);
    spk_df_release(filtered);
    return ordered;
}

/* Warm-up, then RUNS timed collects; *last gets the last run's result. */
static spk_status time_q1(spk_df *q, double *median_s, spk_table **last) {
    double t[RUNS];
    spk_table *out = NULL;
    spk_status st = spk_df_collect(q, &out);
    if (st != SPK_OK) return st;
    for (int run = 0; run < RUNS; run++) {
        spk_table_free(out);
        out = NULL;
        double t0 = now_s();
        st = spk_df_collect(q, &out);
        t[run] = now_s() - t0;
        if (st != SPK_OK) return st;
    }
    *median_s = median(t, RUNS);
    *last = out;
    return SPK_OK;
}

static void format_row(const spk_table *t, size_t row, char *buf, size_t cap) {
    int ncols = spk_schema_ncols(spk_table_schema(t));
    size_t len = 0;
    buf[0] = '\0';
    for (int c = 0; c < ncols && len < cap; c++) {
        spk_value v;
        char text[SPK_VALUE_TEXT_MAX + 64];
        if (spk_table_get(t, row, c, &v) != SPK_OK)
            snprintf(text, sizeof text, "?");
        else
            spk_value_format(&v, text, sizeof text);
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", c ? " | " : "", text);
    }
}

/* true when a and b have the same shape and every value is equal; else
 * prints the first difference. */
static bool same_result(const spk_table *a, const spk_table *b) {
    int ncols = spk_schema_ncols(spk_table_schema(a));
    if (spk_table_nrows(a) != spk_table_nrows(b) || ncols != spk_schema_ncols(spk_table_schema(b))) {
        fprintf(stderr, "q1: results differ: %zu rows x %d columns vs %zu rows x %d columns\n", spk_table_nrows(a), ncols,
                spk_table_nrows(b), spk_schema_ncols(spk_table_schema(b)));
        return false;
    }
    for (size_t r = 0; r < spk_table_nrows(a); r++)
        for (int c = 0; c < ncols; c++) {
            spk_value x, y;
            if (spk_table_get(a, r, c, &x) != SPK_OK || spk_table_get(b, r, c, &y) != SPK_OK) {
                fprintf(stderr, "q1: reading row %zu column %d: %s\n", r, c, spk_last_error());
                return false;
            }
            if (!spk_type_equal(x.type, y.type) || !spk_value_equal(&x, &y)) {
                char ra[512], rb[512];
                format_row(a, r, ra, sizeof ra);
                format_row(b, r, rb, sizeof rb);
                fprintf(stderr, "q1: results differ at row %zu column %d:\n  1 thread:  %s\n  N threads: %s\n", r, c, ra,
                        rb);
                return false;
            }
        }
    return true;
}

int main(int argc, char **argv) {
    size_t rows = ROWS;
    int threads = spk_cpu_count();
    if (argc > 1) {
        char *end;
        unsigned long long n = strtoull(argv[1], &end, 10);
        if (*end || n == 0 || argv[1][0] == '-') {
            fprintf(stderr, "usage: %s [ROWS [THREADS]]\n", argv[0]);
            return 2;
        }
        rows = (size_t)n;
    }
    if (argc > 2) {
        char *end;
        long n = strtol(argv[2], &end, 10);
        if (*end || n < 1 || n > SPK_POOL_MAX_THREADS) {
            fprintf(stderr, "usage: %s [ROWS [THREADS]]  (THREADS 1..%d)\n", argv[0], SPK_POOL_MAX_THREADS);
            return 2;
        }
        threads = (int)n;
    }

    int rc = 1;
    spk_schema *schema = NULL;
    spk_session *s1 = NULL, *sn = NULL;
    spk_table *t1 = NULL, *tn = NULL, *r1 = NULL, *rn = NULL;
    spk_df *li1 = NULL, *lin = NULL, *q1_1 = NULL, *q1_n = NULL;

    if (spk_schema_parse(NULL,
                         "l_returnflag STRING, l_linestatus STRING, l_quantity DECIMAL(15,2), "
                         "l_extendedprice DECIMAL(15,2), l_discount DECIMAL(15,2), l_tax DECIMAL(15,2), "
                         "l_shipdate DATE",
                         &schema) != SPK_OK) {
        rc = fail("schema");
        goto done;
    }
    spk_session_options o1 = {.alloc = NULL, .case_sensitive = false, .threads = 1};
    spk_session_options on = {.alloc = NULL, .case_sensitive = false, .threads = threads};
    if (spk_session_new(&o1, &s1) != SPK_OK || spk_session_new(&on, &sn) != SPK_OK) {
        rc = fail("session");
        goto done;
    }

    double t0 = now_s();
    if (build_table(schema, rows, &t1) != SPK_OK) {
        rc = fail("load");
        goto done;
    }
    double load_s = now_s() - t0;
    if (build_table(schema, rows, &tn) != SPK_OK) {
        rc = fail("load");
        goto done;
    }
    /* Each DataFrame takes its table over; on failure the table stays ours. */
    if ((li1 = spk_df_from_table(s1, t1)) != NULL) t1 = NULL;
    if ((lin = spk_df_from_table(sn, tn)) != NULL) tn = NULL;
    if (!li1 || !lin) {
        rc = fail("spk_df_from_table");
        goto done;
    }
    q1_1 = q1(li1);
    q1_n = q1(lin);
    if (!q1_1 || !q1_n) {
        rc = fail("building Q1");
        goto done;
    }

    double m1 = 0, mn = 0;
    if (time_q1(q1_1, &m1, &r1) != SPK_OK) {
        rc = fail("collect (1 thread)");
        goto done;
    }
    if (time_q1(q1_n, &mn, &rn) != SPK_OK) {
        rc = fail("collect (N threads)");
        goto done;
    }

    printf("q1: %zu rows (loaded in %.2fs), threads 1 and %d (session reports %d), median of %d after 1 warm-up\n", rows,
           load_s, threads, spk_session_threads(sn), RUNS);
    for (size_t r = 0; r < spk_table_nrows(r1); r++) {
        char line[512];
        format_row(r1, r, line, sizeof line);
        printf("  %s\n", line);
    }
    if (!same_result(r1, rn)) goto done; /* rc is 1 */
    printf("  results identical (%zu rows)\n", spk_table_nrows(r1));
    printf("  threads=%-4d median %.3fs, %.2f ns/row\n", 1, m1, m1 * 1e9 / (double)rows);
    printf("  threads=%-4d median %.3fs, %.2f ns/row\n", threads, mn, mn * 1e9 / (double)rows);
    printf("q1: rows=%zu threads=1 median=%.3fs threads=%d median=%.3fs speedup=%.2fx\n", rows, m1, threads, mn, m1 / mn);
    rc = 0;

done:
    spk_table_free(r1);
    spk_table_free(rn);
    spk_df_release(q1_1);
    spk_df_release(q1_n);
    spk_df_release(li1);
    spk_df_release(lin);
    spk_table_free(t1);
    spk_table_free(tn);
    spk_session_free(s1);
    spk_session_free(sn);
    spk_schema_release(schema);
    return rc;
}
