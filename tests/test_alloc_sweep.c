/* The allocation-failure sweep: a workload that parses a schema, fills a
 * table spanning two chunks (append_row, append_rows and append_text), builds
 * a fixture table, reads everything back and frees everything, run once with
 * every allocation in turn refused. Each run must report SPK_ERR_NOMEM, keep
 * what it had consistent (all-or-nothing appends) and leak nothing. */
#include "test.h"
#include <time.h>

#define DDL "id BIGINT NOT NULL, name STRING, price DECIMAL(15,2), d DATE"

/* Rows in four phases, each starting where the one before ended:
 *   B1  ROWS_B1 rows by append_rows in batches of BATCH (from an empty table)
 *   A   ROWS_A rows by append_row
 *   C   ROWS_C rows as CSV text in pieces of TEXT_LINES
 *   B2  ROWS_B2 rows by append_rows in batches of BATCH; the first batch
 *       crosses the chunk boundary at SPK_CHUNK_ROWS.
 * 70,000 rows in all, so the table spans two chunks and every way of
 * appending has to grow storage at some point. */
enum { BATCH = 2500, ROWS_B1 = 20000, ROWS_A = 40000, ROWS_C = 5000, TEXT_LINES = 625, ROWS_B2 = 5000 };
enum { START_A = ROWS_B1, START_C = START_A + ROWS_A, START_B2 = START_C + ROWS_C };
enum { NROWS = START_B2 + ROWS_B2 };

/* ------------------------------------------------------------ the expected data */

static int64_t row_id(size_t i) { return (int64_t)i * 7 + 1; }
static bool name_null(size_t i) { return i % 11 == 0; }
static size_t row_name(size_t i, char *buf) { /* 0..36 bytes */
    size_t n = i % 37;
    for (size_t k = 0; k < n; k++) buf[k] = (char)('a' + (i * 3 + k * 5) % 26);
    if (n > 2) buf[n / 2] = ' ';
    buf[n] = '\0';
    return n;
}
static int64_t row_price(size_t i) { return ((int64_t)i * 7919) % 10000000 - 5000000; } /* unscaled, scale 2 */
static bool date_null(size_t i) { return i % 13 == 0; }
static void row_ymd(size_t i, int *y, int *m, int *d) {
    *y = 1950 + (int)(i % 100);
    *m = 1 + (int)(i / 7 % 12);
    *d = 1 + (int)(i / 3 % 28);
}
/* days since 1970-01-01 (H. Hinnant's days_from_civil) */
static int32_t days_from_civil(int y, int m, int d) {
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t)(era * 146097 + doe - 719468);
}
static int32_t row_date(size_t i) {
    int y, m, d;
    row_ymd(i, &y, &m, &d);
    return days_from_civil(y, m, d);
}

/* Value checks against the generator; false on any difference. */
static bool row_matches(const spk_table *t, size_t i) {
    spk_value v[4];
    for (int c = 0; c < 4; c++)
        if (spk_table_get(t, i, c, &v[c]) != SPK_OK) return false;
    char name[64];
    size_t n = row_name(i, name);
    if (v[0].is_null || v[0].type.id != SPK_TYPE_INT64 || v[0].as.i64 != row_id(i)) return false;
    if (name_null(i) ? !v[1].is_null
                     : (v[1].is_null || v[1].as.str.len != n || (n && memcmp(v[1].as.str.ptr, name, n) != 0)))
        return false;
    if (v[2].is_null || v[2].type.id != SPK_TYPE_DECIMAL || v[2].type.precision != 15 ||
        v[2].type.scale != 2 || v[2].as.i64 != row_price(i))
        return false;
    if (date_null(i) ? !v[3].is_null : (v[3].is_null || v[3].as.i32 != row_date(i))) return false;
    return true;
}

/* A checksum folded from the raw values, independent of the library. */
static uint64_t fold(uint64_t h, uint64_t x) {
    h ^= x + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h * 0x100000001b3ULL;
}
static uint64_t expected_checksum(void) {
    uint64_t h = 1;
    char name[64];
    for (size_t i = 0; i < NROWS; i++) {
        h = fold(h, (uint64_t)row_id(i));
        if (name_null(i)) {
            h = fold(h, 0xdead);
        } else {
            size_t n = row_name(i, name);
            h = fold(h, n);
            for (size_t k = 0; k < n; k++) h = fold(h, (unsigned char)name[k]);
        }
        h = fold(h, (uint64_t)row_price(i));
        h = fold(h, date_null(i) ? 0xbeef : (uint64_t)(uint32_t)row_date(i));
    }
    return h;
}

static spk_value value_of(size_t i, int c, char *namebuf) {
    switch (c) {
    case 0: return spk_value_i64(row_id(i));
    case 1: return name_null(i) ? spk_value_null() : spk_value_strn(namebuf, row_name(i, namebuf));
    case 2: return spk_value_decimal(row_price(i), 15, 2);
    default: return date_null(i) ? spk_value_null() : spk_value_date(row_date(i));
    }
}

/* CSV pieces for the rows of phase C, built once before the sweep. */
static char *text_piece[ROWS_C / TEXT_LINES];

static bool build_text(void) {
    for (int p = 0; p < ROWS_C / TEXT_LINES; p++) {
        size_t cap = (size_t)TEXT_LINES * 128, used = 0;
        char *s = (char *)malloc(cap);
        if (!s) return false;
        for (int l = 0; l < TEXT_LINES; l++) {
            size_t i = (size_t)START_C + (size_t)p * TEXT_LINES + (size_t)l;
            char name[64], date[16], price[32];
            size_t nlen = row_name(i, name);
            bool quote = !name_null(i) && (i % 2 || nlen == 0); /* "" is the empty string */
            int64_t pr = row_price(i);
            int64_t mag = pr < 0 ? -pr : pr;
            snprintf(price, sizeof price, "%s%lld.%02lld", pr < 0 ? "-" : "", (long long)(mag / 100),
                     (long long)(mag % 100));
            int y, m, d;
            row_ymd(i, &y, &m, &d);
            snprintf(date, sizeof date, "%04d-%02d-%02d", y, m, d);
            /* every other name quoted (an empty one always); NULLs written
             * as NULL, null or an empty field */
            const char *nul = i % 2 ? "NULL" : (i % 3 ? "null" : "");
            int w = snprintf(s + used, cap - used, "%lld,%s%s%s,%s,%s%s", (long long)row_id(i),
                             quote ? "\"" : "", name_null(i) ? nul : name, quote ? "\"" : "", price, date_null(i) ? nul : date,
                             l % 5 == 4 ? "\r\n" : "\n");
            used += (size_t)w;
            if (l % 97 == 0) used += (size_t)snprintf(s + used, cap - used, "\n"); /* blank line */
        }
        text_piece[p] = s;
    }
    return true;
}

static const char *FIXTURE = DDL "\n"
                                 "1,Alice,1.50,2024-01-01\n"
                                 "2,NULL,-3.25,NULL\n"
                                 "3,\"x, \"\"y\"\"\",0,1970-01-01\n";

/* ------------------------------------------------------------ the workload */

static long workload_inconsistent; /* a failed append left the table changed */

static bool table_prefix_ok(const spk_table *t, size_t rows) {
    if (spk_table_nrows(t) != rows) return false;
    for (size_t i = 0; i < rows; i++)
        if (!row_matches(t, i)) return false;
    return true;
}

/* Rows first..first+n-1 through append_rows, BATCH at a time; after a
 * failure the table must hold exactly the rows before the failed batch. */
static spk_status append_batches(spk_table *t, size_t first, size_t n, spk_value *batch, char (*names)[64]) {
    for (size_t b = 0; b < n / BATCH; b++) {
        size_t from = first + b * BATCH;
        for (size_t r = 0; r < BATCH; r++)
            for (int c = 0; c < 4; c++) batch[r * 4 + (size_t)c] = value_of(from + r, c, names[r]);
        spk_status st = spk_table_append_rows(t, batch, BATCH);
        if (st != SPK_OK) {
            if (!table_prefix_ok(t, from)) workload_inconsistent++;
            return st;
        }
    }
    return SPK_OK;
}

static spk_status workload(const spk_allocator *a) {
    spk_schema *s = NULL;
    spk_table *t = NULL, *fx = NULL;
    spk_status st;
    char namebuf[64];
    spk_value *batch = (spk_value *)malloc(sizeof(spk_value) * 4 * BATCH);
    char(*names)[64] = (char(*)[64])malloc(64 * (size_t)BATCH);
    if (!batch || !names) {
        st = SPK_ERR_INTERNAL;
        goto done;
    }

    st = spk_schema_parse(a, DDL, &s);
    if (st != SPK_OK) goto done;
    st = spk_table_new(a, s, &t);
    spk_schema_release(s); /* the table keeps its own reference */
    s = NULL;
    if (st != SPK_OK) goto done;

    st = append_batches(t, 0, ROWS_B1, batch, names);
    if (st != SPK_OK) goto done;
    for (size_t i = START_A; i < START_C; i++) {
        spk_value row[4];
        for (int c = 0; c < 4; c++) row[c] = value_of(i, c, namebuf);
        st = spk_table_append_row(t, row, 4);
        if (st != SPK_OK) {
            if (!table_prefix_ok(t, i)) workload_inconsistent++;
            goto done;
        }
    }
    for (int p = 0; p < ROWS_C / TEXT_LINES; p++) {
        size_t first = (size_t)START_C + (size_t)p * TEXT_LINES;
        st = spk_table_append_text(t, text_piece[p], (size_t)-1);
        if (st != SPK_OK) {
            if (!table_prefix_ok(t, first)) workload_inconsistent++;
            goto done;
        }
    }
    if (spk_table_nchunks(t) != 1) {
        st = SPK_ERR_INTERNAL;
        goto done;
    }
    st = append_batches(t, START_B2, ROWS_B2, batch, names);
    if (st != SPK_OK) goto done;
    if (spk_table_nrows(t) != NROWS || spk_table_nchunks(t) != 2) {
        st = SPK_ERR_INTERNAL;
        goto done;
    }

    st = spk_table_from_fixture(a, FIXTURE, &fx);
    if (st != SPK_OK) goto done;

    /* Read everything back: a checksum through the cursor, every value by get. */
    uint64_t h = 1;
    spk_cursor cur;
    spk_cursor_open(&cur, t);
    size_t seen = 0;
    while (spk_cursor_next(&cur)) {
        spk_value v[4];
        for (int c = 0; c < 4; c++)
            if (spk_cursor_get(&cur, c, &v[c]) != SPK_OK) {
                st = SPK_ERR_INTERNAL;
                goto done;
            }
        h = fold(h, (uint64_t)v[0].as.i64);
        if (v[1].is_null) {
            h = fold(h, 0xdead);
        } else {
            h = fold(h, v[1].as.str.len);
            for (size_t k = 0; k < v[1].as.str.len; k++) h = fold(h, (unsigned char)v[1].as.str.ptr[k]);
        }
        h = fold(h, (uint64_t)v[2].as.i64);
        h = fold(h, v[3].is_null ? 0xbeef : (uint64_t)(uint32_t)v[3].as.i32);
        seen++;
    }
    static uint64_t want_h;
    if (!want_h) want_h = expected_checksum();
    if (seen != NROWS || h != want_h) {
        st = SPK_ERR_INTERNAL;
        goto done;
    }
    if (!table_prefix_ok(t, NROWS)) {
        st = SPK_ERR_INTERNAL;
        goto done;
    }
    spk_value fv[4];
    if (spk_table_nrows(fx) != 3 || spk_table_get(fx, 2, 1, &fv[1]) != SPK_OK ||
        fv[1].is_null || fv[1].as.str.len != 6 || memcmp(fv[1].as.str.ptr, "x, \"y\"", 6) != 0 ||
        spk_table_get(fx, 1, 2, &fv[2]) != SPK_OK || fv[2].as.i64 != -325 ||
        spk_table_get(fx, 1, 3, &fv[3]) != SPK_OK || !fv[3].is_null ||
        spk_table_get(fx, 0, 3, &fv[0]) != SPK_OK || fv[0].as.i32 != 19723) {
        st = SPK_ERR_INTERNAL;
        goto done;
    }

done:
    spk_table_free(fx);
    spk_table_free(t);
    spk_schema_release(s);
    free(batch);
    free(names);
    return st;
}

/* ------------------------------------------------------------ tests */

static long total_allocs;

static double now_s(void) {
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_clean_run(void) {
    spk_failalloc f;
    spk_failalloc_init(&f, NULL, 0);
    workload_inconsistent = 0;
    spk_status st = workload(&f.iface);
    CHECK_OK(st);
    CHECK(f.calls > 0);
    CHECK_EQ_INT(f.failures, 0);
    CHECK_EQ_INT(f.live_blocks, 0);
    CHECK_EQ_INT(f.live_bytes, 0);
    CHECK_EQ_INT(workload_inconsistent, 0);
    total_allocs = f.calls;
    printf("allocation sweep: N = %ld allocations per run\n", total_allocs);

    /* Deterministic: a second run makes the same number of allocations. */
    spk_failalloc g;
    spk_failalloc_init(&g, NULL, 0);
    CHECK_OK(workload(&g.iface));
    CHECK_EQ_INT(g.calls, f.calls);
    CHECK_EQ_INT(g.live_blocks, 0);

    /* Refusing allocation N+1 (which never comes) changes nothing. */
    spk_failalloc h;
    spk_failalloc_init(&h, NULL, f.calls + 1);
    CHECK_OK(workload(&h.iface));
    CHECK_EQ_INT(h.failures, 0);
    CHECK_EQ_INT(h.live_blocks, 0);
}

static void sweep(bool fail_after, long step) {
    long n = total_allocs, bad_status = 0, leaks = 0, not_hit = 0, wrong_last = 0;
    workload_inconsistent = 0;
    for (long k = 1; k <= n; k += step) {
        spk_failalloc f;
        spk_failalloc_init(&f, NULL, k);
        f.fail_after = fail_after;
        spk_clear_error();
        spk_status st = workload(&f.iface);
        if (st != SPK_ERR_NOMEM) {
            if (bad_status < 10)
                fprintf(stderr, "%s: fail_at %ld%s: workload returned %s (%s)\n", spk_test_current, k,
                        fail_after ? " (and after)" : "", spk_status_name(st), spk_last_error());
            bad_status++;
        } else if (spk_last_status() != SPK_ERR_NOMEM) {
            wrong_last++;
        }
        if (f.failures < 1) not_hit++;
        if (f.live_blocks != 0 || f.live_bytes != 0) {
            if (leaks < 10)
                fprintf(stderr, "%s: fail_at %ld%s: %ld blocks, %zu bytes still live\n", spk_test_current, k,
                        fail_after ? " (and after)" : "", f.live_blocks, f.live_bytes);
            leaks++;
        }
    }
    CHECK_EQ_INT(bad_status, 0);
    CHECK_EQ_INT(wrong_last, 0);
    CHECK_EQ_INT(not_hit, 0);
    CHECK_EQ_INT(leaks, 0);
    CHECK_EQ_INT(workload_inconsistent, 0);
}

static void test_sweep_fail_at(void) {
    CHECK(total_allocs > 0);
    double t0 = now_s();
    sweep(false, 1);
    printf("allocation sweep: fail_at 1..%ld took %.2f s\n", total_allocs, now_s() - t0);
}

static void test_sweep_fail_after(void) {
    CHECK(total_allocs > 0);
    double t0 = now_s();
    sweep(true, 7);
    printf("allocation sweep: fail_after, every 7th of 1..%ld took %.2f s\n", total_allocs, now_s() - t0);
}

int main(void) {
    if (!build_text()) {
        printf("cannot build the CSV text\n");
        return 1;
    }
    RUN(test_clean_run);
    RUN(test_sweep_fail_at);
    RUN(test_sweep_fail_after);
    for (int p = 0; p < ROWS_C / TEXT_LINES; p++) free(text_piece[p]);
    return TEST_REPORT();
}
