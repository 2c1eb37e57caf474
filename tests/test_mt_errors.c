/* Threads (run under TSan): each thread keeps its own last error while all of
 * them make failing and successful calls, and share one schema whose
 * reference count they change concurrently. */
#include "test.h"
#include <threads.h>
#include <stdatomic.h>

#include "test_threads.h"

enum { NTHREADS = 8, ITERS = 2000 };

/* A thread-safe counting allocator for the shared schema; it scribbles over
 * blocks before freeing them, so a premature free shows up as wrong data. */
static atomic_long shared_live_blocks, shared_frees;

static void *count_alloc(void *u, size_t n) {
    (void)u;
    void *p = malloc(n);
    if (p) atomic_fetch_add(&shared_live_blocks, 1);
    return p;
}
static void *count_realloc(void *u, void *p, size_t o, size_t n) {
    (void)u;
    (void)o;
    return realloc(p, n);
}
static void count_free(void *u, void *p, size_t n) {
    (void)u;
    memset(p, 0xAA, n);
    atomic_fetch_sub(&shared_live_blocks, 1);
    atomic_fetch_add(&shared_frees, 1);
    free(p);
}
static const spk_allocator counting = {count_alloc, count_realloc, count_free, NULL};

typedef struct worker {
    int id;
    spk_schema *shared; /* one reference owned by this worker */
    /* results, read by main after join */
    long wrong_status, missing_own, saw_other, not_kept, not_cleared, bad_index, bad_retain, ok_iters;
    long live_seen_zero;
} worker;

static atomic_int started;

/* The tags thread i puts in its failing calls; none is a substring of another. */
static void tag(char *buf, size_t cap, const char *kind, int i) { snprintf(buf, cap, "%s_%dq", kind, i); }

static bool mentions_other(const char *msg, int self) {
    char t[32];
    for (int j = 0; j < NTHREADS; j++) {
        if (j == self) continue;
        tag(t, sizeof t, "tpye", j);
        if (strstr(msg, t)) return true;
        tag(t, sizeof t, "missing", j);
        if (strstr(msg, t)) return true;
        tag(t, sizeof t, "colz", j);
        if (strstr(msg, t)) return true;
    }
    return false;
}

static int work(void *arg) {
    worker *w = (worker *)arg;
    char ddl[96], own_type[32], own_missing[32], own_col[32], colname[32];
    tag(own_type, sizeof own_type, "tpye", w->id);
    tag(own_missing, sizeof own_missing, "missing", w->id);
    tag(own_col, sizeof own_col, "colz", w->id);
    snprintf(ddl, sizeof ddl, "id INT, v %s, w STRING", own_type);
    snprintf(colname, sizeof colname, "col%d", w->id);

    /* A private table whose INT column carries this thread's tag. */
    char tddl[64];
    snprintf(tddl, sizeof tddl, "k BIGINT, %s INT", own_col);
    spk_table *t = NULL;
    spk_table_from_fixture(NULL, tddl, &t);

    atomic_fetch_add(&started, 1);
    while (atomic_load(&started) < NTHREADS) thrd_yield();

    for (int it = 0; it < ITERS; it++) {
        const char *own;
        spk_status want, st;
        switch (it % 3) {
        case 0: {
            spk_schema *s = NULL;
            st = spk_schema_parse(NULL, ddl, &s);
            want = SPK_ERR_PARSE;
            own = own_type;
            spk_schema_release(s);
            break;
        }
        case 1: {
            int idx = 0;
            st = spk_schema_lookup(w->shared, own_missing, false, &idx);
            want = SPK_ERR_NOT_FOUND;
            own = own_missing;
            break;
        }
        default:
            st = t ? spk_table_append(t, spk_value_i64(it), spk_value_str("not an int")) : SPK_ERR_INTERNAL;
            want = SPK_ERR_TYPE;
            own = own_col;
            break;
        }
        if (st != want || spk_last_status() != want) w->wrong_status++;
        if (!strstr(spk_last_error(), own)) w->missing_own++;
        if (mentions_other(spk_last_error(), w->id)) w->saw_other++;

        /* Successful calls on the shared schema, which leave the error alone. */
        spk_schema *r = spk_schema_retain(w->shared);
        if (r != w->shared) w->bad_retain++;
        if (spk_schema_index(w->shared, colname, false) != 2 + w->id) w->bad_index++;
        if (spk_schema_index(w->shared, "ID", false) != 0) w->bad_index++;
        if (spk_schema_index(w->shared, "ID", true) != -1) w->bad_index++;
        int idx = -1;
        if (spk_schema_lookup(w->shared, "name", false, &idx) != SPK_OK || idx != 1) w->bad_index++;
        const spk_field *f = spk_schema_field(w->shared, 2 + w->id);
        if (!f || strcmp(f->name, colname) != 0) w->bad_index++;
        if (atomic_load(&shared_live_blocks) <= 0) w->live_seen_zero++;
        spk_schema_release(r);
        if (t && spk_table_append(t, spk_value_i64(it), spk_value_i32(it)) != SPK_OK) w->bad_index++;
        if (!strstr(spk_last_error(), own) || spk_last_status() != want) w->not_kept++;

        if (it % 100 == 99) {
            spk_clear_error();
            if (spk_last_error()[0] != '\0' || spk_last_status() != SPK_OK) w->not_cleared++;
        }
        w->ok_iters++;
    }
    if (!t || spk_table_nrows(t) != ITERS) w->bad_index++;
    spk_table_free(t);
    spk_schema_release(w->shared); /* the last one out frees it */
    return 0;
}

static void test_thread_local_errors_and_refcounts(void) {
    atomic_store(&shared_live_blocks, 0);
    atomic_store(&shared_frees, 0);
    atomic_store(&started, 0);
    spk_schema *shared = NULL;
    CHECK_OK(spk_schema_parse(&counting, "id BIGINT NOT NULL, name STRING, col0 INT, col1 INT, col2 INT, "
                                         "col3 INT, col4 INT, col5 INT, col6 INT, col7 INT",
                              &shared));
    if (!shared) return;
    CHECK(atomic_load(&shared_live_blocks) > 0);

    /* A failure on the main thread, which no worker may disturb. */
    spk_schema *bad = NULL;
    CHECK_STATUS(spk_schema_parse(NULL, "x mainthreadtype", &bad), SPK_ERR_PARSE);

    worker w[NTHREADS];
    mt_thread th[NTHREADS];
    int created = 0;
    memset(w, 0, sizeof w);
    for (int i = 0; i < NTHREADS; i++) {
        w[i].id = i;
        w[i].shared = spk_schema_retain(shared);
        if (!mt_start(&th[i], work, &w[i])) {
            spk_schema_release(w[i].shared);
            break;
        }
        created++;
    }
    CHECK_EQ_INT(created, NTHREADS);
    if (created < NTHREADS) atomic_store(&started, NTHREADS); /* let the others run */
    /* Give up our own reference while the workers still use theirs. */
    spk_schema_release(shared);
    for (int i = 0; i < created; i++) mt_join(&th[i]);

    for (int i = 0; i < created; i++) {
        CHECK_EQ_INT(w[i].ok_iters, ITERS);
        CHECK_EQ_INT(w[i].wrong_status, 0);
        CHECK_EQ_INT(w[i].missing_own, 0);
        CHECK_EQ_INT(w[i].saw_other, 0);
        CHECK_EQ_INT(w[i].not_kept, 0);
        CHECK_EQ_INT(w[i].not_cleared, 0);
        CHECK_EQ_INT(w[i].bad_index, 0);
        CHECK_EQ_INT(w[i].bad_retain, 0);
        CHECK_EQ_INT(w[i].live_seen_zero, 0);
    }
    /* Freed exactly once, by the last release, and completely. */
    CHECK_EQ_INT(atomic_load(&shared_live_blocks), 0);
    CHECK(atomic_load(&shared_frees) > 0);
    /* The main thread's error is still its own. */
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_PARSE);
    CHECK_CONTAINS(spk_last_error(), "mainthreadtype");
    CHECK(!mentions_other(spk_last_error(), -1));
}

/* Many threads retain and release one schema at once; the count ends where it began. */
static spk_schema *hammered;
static int hammer(void *arg) {
    (void)arg;
    spk_schema *mine[64];
    for (int round = 0; round < 200; round++) {
        for (int k = 0; k < 64; k++) mine[k] = spk_schema_retain(hammered);
        for (int k = 0; k < 64; k++) spk_schema_release(mine[k]);
    }
    return 0;
}

static void test_refcount_hammer(void) {
    atomic_store(&shared_live_blocks, 0);
    atomic_store(&shared_frees, 0);
    hammered = NULL;
    CHECK_OK(spk_schema_parse(&counting, "a INT, b STRING", &hammered));
    if (!hammered) return;
    long blocks = atomic_load(&shared_live_blocks), frees = atomic_load(&shared_frees);
    mt_thread th[NTHREADS];
    int created = 0;
    for (int i = 0; i < NTHREADS; i++)
        if (mt_start(&th[i], hammer, NULL)) created++;
        else break;
    for (int i = 0; i < created; i++) mt_join(&th[i]);
    CHECK_EQ_INT(created, NTHREADS);
    CHECK_EQ_INT(atomic_load(&shared_frees), frees); /* nothing freed while referenced */
    CHECK_EQ_INT(atomic_load(&shared_live_blocks), blocks);
    CHECK_EQ_INT(spk_schema_ncols(hammered), 2);
    CHECK_EQ_INT(spk_schema_index(hammered, "b", true), 1);
    spk_schema_release(hammered);
    CHECK_EQ_INT(atomic_load(&shared_live_blocks), 0);
    CHECK(atomic_load(&shared_frees) > frees);
}

int main(void) {
    RUN(test_thread_local_errors_and_refcounts);
    RUN(test_refcount_hammer);
    return TEST_REPORT();
}
