/* test_mt_csv: a CSV file read a window at a time, the next window read
 * on a pool thread while the current one is parsed, with each allocation
 * of the library refused in turn (the default allocator's: input buffers,
 * slices, tables). Every refusal must end in OutOfMemoryError, or in the
 * whole and right table where the library had a way around it (a pool
 * that did not start runs on one thread); nothing may leak. This program
 * compiles its own copy of the implementation with a counting malloc. */
#define _POSIX_C_SOURCE 200809L
#include "test_sweep.h"
#define SPARKLESS_STATIC
#define SPARKLESS_IMPLEMENTATION
#include "../sparkless.h"
#include "test.h"

enum { ROWS = 400 };

/* Row i of the file: every column type the reader parses in line. */
static int write_rows(const char *path) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    for (int i = 0; i < ROWS; i++)
        fprintf(f, "%d|%lld|%d.%02d|1997-%02d-%02d|name%d|%s\n", i, (long long)i * 1000003, i * 7, i % 100, i % 12 + 1,
                i % 28 + 1, i, i % 5 ? "x" : "");
    return fclose(f) == 0;
}

/* Reads the file; SPK_OK only when every row came back as written. */
static spk_status read_rows(spk_session *s, const char *path, const spk_schema *schema) {
    spk_csv_options o;
    memset(&o, 0, sizeof o);
    o.delimiter = '|';
    o.schema = schema;
    o.mode = SPK_READ_FAILFAST;
    spk_df *df = spk_read_csv(s, path, &o);
    if (!df) return spk_last_status();
    spk_table *t = NULL;
    spk_status st = spk_df_collect(df, &t);
    spk_df_release(df);
    if (st != SPK_OK) return st;
    if (spk_table_nrows(t) != ROWS) st = SPK_ERR_INTERNAL;
    for (int i = 0; i < ROWS && st == SPK_OK; i++) {
        spk_value id, big, price, day, name, tail;
        spk_table_get(t, (size_t)i, 0, &id);
        spk_table_get(t, (size_t)i, 1, &big);
        spk_table_get(t, (size_t)i, 2, &price);
        spk_table_get(t, (size_t)i, 3, &day);
        spk_table_get(t, (size_t)i, 4, &name);
        spk_table_get(t, (size_t)i, 5, &tail);
        char want_name[32];
        int n = snprintf(want_name, sizeof want_name, "name%d", i);
        int32_t want_day = 0;
        spk_date_from_ymd(1997, i % 12 + 1, i % 28 + 1, &want_day);
        if (id.as.i32 != i || big.as.i64 != (int64_t)i * 1000003 || price.as.i64 != (int64_t)i * 700 + i % 100 ||
            day.as.i32 != want_day || name.as.str.len != (size_t)n ||
            memcmp(name.as.str.ptr, want_name, (size_t)n) != 0 || tail.is_null != (i % 5 == 0))
            st = SPK_ERR_INTERNAL;
    }
    spk_table_free(t);
    return st;
}

static void sweep(int threads) {
    char dir[512], path[600];
    CHECK(make_temp_dir(dir, sizeof dir, "spk_mt_csv"));
    snprintf(path, sizeof path, "%s/rows.tbl", dir);
    CHECK(write_rows(path));
    spk_schema *schema = NULL;
    CHECK_OK(spk_schema_parse(NULL, "id INT, big BIGINT, price DECIMAL(12,2), day DATE, name STRING, tail STRING",
                              &schema));
    spk_exec_override(threads, 3); /* windows of a few hundred bytes: dozens of them, each read ahead */
    spk_session_options so;
    memset(&so, 0, sizeof so);
    so.threads = threads;
    spk_session *s = NULL;
    CHECK_OK(spk_session_new(&so, &s));
    CHECK_OK(read_rows(s, path, schema)); /* the pool starts here, outside the sweep */
    long live = sweep_live;
    int failed = 0, completed = 0, refused = 0;
    for (long k = 1; k < 200000 && !completed && s; k++) {
        sweep_calls = 0;
        sweep_fail_at = k;
        spk_status st = read_rows(s, path, schema);
        bool hit = sweep_calls >= k;
        sweep_fail_at = 0;
        if (!hit) {
            completed = 1; /* ran past the last allocation */
            if (st != SPK_OK) failf(__FILE__, __LINE__, "no allocation refused, yet %s: %s", spk_status_name(st), spk_last_error());
        } else if (st == SPK_ERR_NOMEM) {
            refused++;
        } else if (st != SPK_OK) {
            if (failed++ < 5) failf(__FILE__, __LINE__, "allocation %ld refused: %s (%s)", k, spk_status_name(st), spk_last_error());
        }
        if (sweep_live != live) {
            if (failed++ < 5) failf(__FILE__, __LINE__, "allocation %ld refused: %ld blocks leaked", k, sweep_live - live);
            live = sweep_live;
        }
    }
    CHECK(completed);
    CHECK(refused > 10);
    spk_session_free(s);
    spk_exec_override(0, 0);
    spk_schema_release(schema);
    rm_tree(dir);
}

static void test_sweep_one_thread(void) { sweep(1); }
static void test_sweep_two_threads(void) { sweep(2); }

int main(void) {
    RUN(test_sweep_one_thread);
    RUN(test_sweep_two_threads);
    return TEST_REPORT();
}
