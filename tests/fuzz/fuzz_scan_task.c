/* libFuzzer harness: encoded scan tasks (spk_scan_task_decode). Any bytes
 * must decode or be refused cleanly; every accessor of a decoded task must
 * work; and the task runs on a session whose file backend holds the table
 * `t` (fuzz_common.h), so tasks the seed corpus made on a file backend read
 * rows here, and tasks of any other table or backend fail cleanly.
 * Built and run by `make test` (tools/runtests) and `make fuzz FUZZER=scan_task`. */
#define _POSIX_C_SOURCE 200809L
#define SPARKLESS_IMPLEMENTATION
#include "../../sparkless.h"
#include "fuzz_common.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static spk_session *session;
static char base[4096];

static void cleanup(void) {
    spk_session_stop(session);
    session = NULL;
    fuzz_rmtree(base);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    if (fuzz_register_udfs() != 0 || fuzz_tempdir(base, sizeof base) != 0) {
        fprintf(stderr, "fuzz_scan_task: setup failed: %s\n", spk_last_error());
        abort();
    }
    session = fuzz_session_with_t(base);
    if (!session) {
        fuzz_rmtree(base);
        abort();
    }
    atexit(cleanup);
    return 0;
}

static void fail(const char *what) {
    fprintf(stderr, "fuzz_scan_task: %s (last error: %s)\n", what, spk_last_error());
    abort();
}

/* ASCII case-insensitive equality (table names match case-insensitively). */
static int same_name(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        int x = (unsigned char)*a, y = (unsigned char)*b;
        if (x >= 'A' && x <= 'Z') x += 32;
        if (y >= 'A' && y <= 'Z') y += 32;
        if (x != y) return 0;
    }
    return *a == *b;
}

static void read_shard(const spk_shard *sh) {
    char buf[48];
    size_t n = spk_shard_describe(sh, buf, sizeof buf);
    if (strlen(buf) != (n < sizeof buf ? n : sizeof buf - 1)) fail("spk_shard_describe broke the snprintf contract");
    if (spk_shard_is_physical(sh)) {
        uint64_t asof = 0;
        int64_t begin = 0, end = 0;
        spk_shard_rows(sh, &asof, &begin, &end);
        if (begin < 0 || end < begin) fail("a physical shard with a bad row range");
        if (spk_shard_nkeys(sh) != 0) fail("a physical shard with keys");
        return;
    }
    int nk = spk_shard_nkeys(sh);
    if (nk < 1) fail("a key shard without keys");
    spk_value *lo = (spk_value *)calloc((size_t)nk, sizeof *lo), *hi = (spk_value *)calloc((size_t)nk, sizeof *hi);
    if (!lo || !hi) fail("out of memory");
    for (int k = 0; k < nk; k++)
        if (!spk_shard_key_name(sh, k)) fail("a key shard without a key name");
    bool has_lo = false, has_hi = false;
    spk_shard_bounds(sh, &has_lo, lo, &has_hi, hi);
    char vb[32];
    for (int k = 0; k < nk; k++) {
        if (has_lo) (void)spk_value_format(&lo[k], vb, sizeof vb);
        if (has_hi) (void)spk_value_format(&hi[k], vb, sizeof vb);
    }
    free(lo);
    free(hi);
}

static void one(const uint8_t *data, size_t size) {
    spk_scan_task *t = NULL;
    if (spk_scan_task_decode(data, size, NULL, &t) != SPK_OK) {
        if (t) fail("a refused task left *out set");
        return;
    }
    if (!t) fail("decoded to NULL");
    const char *table = spk_scan_task_table(t);
    if (!table || !strchr(table, '.')) fail("a task without a db.table name");
    (void)spk_scan_task_asof(t);
    const spk_shard *sh = spk_scan_task_shard(t);
    if (sh) read_shard(sh);
    const spk_expr *pred = spk_scan_task_predicate(t);
    if (pred) {
        char sql[64];
        (void)spk_expr_to_sql(pred, sql, sizeof sql);
    }
    int nc = spk_scan_task_ncolumns(t);
    if (nc < 0) fail("a negative column count");
    for (int i = 0; i < nc; i++)
        if (!spk_scan_task_column(t, i)) fail("a missing column name");
    if (spk_scan_task_column(t, nc) || spk_scan_task_column(t, -1)) fail("a column outside the range");

    spk_df *df = spk_scan_task_run(t, session);
    if (df && !same_name(table, "default.t")) fail("a task of another table ran");
    spk_table *rows = NULL;
    if (df && spk_df_collect(df, &rows) == SPK_OK && spk_table_nrows(rows) > 6) fail("more rows than table t holds");
    spk_table_free(rows);
    spk_df_release(df);
    spk_scan_task_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    one(data, size);
    uint8_t *fixed = fuzz_wire_fixup(data, size); /* the same bytes under a matching header */
    if (fixed) {
        one(fixed, size);
        free(fixed);
    }
    return 0;
}
