/* Threads (run under TSan): one DataFrame chain (a table of a few thousand
 * rows, a filter, a projection, a groupBy and an orderBy), built once and
 * shared by 8 threads that at the same time collect it, count it, show it
 * and derive further frames from it (where / select / orderBy). Every result
 * is checked against values the main thread computed in plain C from the
 * same data, never by the library. */
#include "test.h"
#include <threads.h>
#include <stdatomic.h>

#include "test_threads.h"

enum { NTHREADS = 8, ITERS = 16, NROWS = 3000, NK = 17 };

/* ------------------------------------------------------------ the data, and its answers in C */

/* Row i: id = i, k = (i * 7) % NK, v = (i * 31) % 101 or NULL when i % 11 == 0,
 * tag = "t" + (i % 23). The chain keeps rows with id % 5 <> 0, projects
 * k, v, tag and w = v * 2, groups by k: count(*) AS cnt, sum(w) AS total,
 * max(tag) AS maxtag, and
 * orders by k. */
static int row_k(int i) { return (i * 7) % NK; }
static bool row_v_null(int i) { return i % 11 == 0; }
static int row_v(int i) { return (i * 31) % 101; }
static void row_tag(int i, char *buf) { snprintf(buf, 8, "t%d", i % 23); }

typedef struct expected {
    long long n[NK], sum[NK];
    bool sum_null[NK];
    char maxtag[NK][8];
    long long kept_rows; /* rows passing the filter */
    char *show;          /* show(20, 20) of the ordered groups */
    char *show_vertical; /* show(3, 0, vertical) */
} expected;

static expected E;

static void compute_expected(void) {
    for (int k = 0; k < NK; k++) {
        E.sum_null[k] = true;
        E.maxtag[k][0] = '\0';
    }
    for (int i = 0; i < NROWS; i++) {
        if (i % 5 == 0) continue;
        int k = row_k(i);
        char tag[8];
        row_tag(i, tag);
        E.kept_rows++;
        E.n[k]++;
        if (!row_v_null(i)) {
            E.sum[k] += 2LL * row_v(i);
            E.sum_null[k] = false;
        }
        if (strcmp(tag, E.maxtag[k]) > 0) strcpy(E.maxtag[k], tag);
    }
    /* show(20, 20): columns k, cnt, total, maxtag; widths max(3, header, cells) */
    char cells[NK][4][32];
    const char *head[4] = {"k", "cnt", "total", "maxtag"};
    size_t w[4] = {3, 3, 3, 3};
    for (int c = 0; c < 4; c++)
        if (strlen(head[c]) > w[c]) w[c] = strlen(head[c]);
    for (int k = 0; k < NK; k++) {
        snprintf(cells[k][0], 32, "%d", k);
        snprintf(cells[k][1], 32, "%lld", E.n[k]);
        if (E.sum_null[k]) snprintf(cells[k][2], 32, "NULL");
        else snprintf(cells[k][2], 32, "%lld", E.sum[k]);
        snprintf(cells[k][3], 32, "%s", E.maxtag[k]);
        for (int c = 0; c < 4; c++)
            if (strlen(cells[k][c]) > w[c]) w[c] = strlen(cells[k][c]);
    }
    size_t cap = 8192, len = 0;
    char *s = (char *)malloc(cap), sep[128];
    size_t sl = 0;
    for (int c = 0; c < 4; c++) {
        sep[sl++] = '+';
        for (size_t j = 0; j < w[c]; j++) sep[sl++] = '-';
    }
    sep[sl++] = '+';
    sep[sl++] = '\n';
    sep[sl] = '\0';
    len += (size_t)snprintf(s + len, cap - len, "%s", sep);
    for (int c = 0; c < 4; c++) len += (size_t)snprintf(s + len, cap - len, "|%*s", (int)w[c], head[c]);
    len += (size_t)snprintf(s + len, cap - len, "|\n%s", sep);
    for (int k = 0; k < NK; k++) {
        for (int c = 0; c < 4; c++) len += (size_t)snprintf(s + len, cap - len, "|%*s", (int)w[c], cells[k][c]);
        len += (size_t)snprintf(s + len, cap - len, "|\n");
    }
    snprintf(s + len, cap - len, "%s", sep);
    E.show = s;
    /* vertical, 3 records, truncate 0: name width 6 (maxtag), data width
     * the widest of the first three rows' cells (min 3) */
    size_t dw = 3;
    for (int k = 0; k < 3; k++)
        for (int c = 0; c < 4; c++)
            if (strlen(cells[k][c]) > dw) dw = strlen(cells[k][c]);
    char *v = (char *)malloc(cap);
    len = 0;
    for (int k = 0; k < 3; k++) {
        len += (size_t)snprintf(v + len, cap - len, "-RECORD %d", k);
        for (size_t j = 9; j < 6 + dw + 5; j++) v[len++] = '-';
        v[len++] = '\n';
        for (int c = 0; c < 4; c++) len += (size_t)snprintf(v + len, cap - len, " %-6s | %-*s \n", head[c], (int)dw, cells[k][c]);
    }
    snprintf(v + len, cap - len, "only showing top 3 rows\n");
    E.show_vertical = v;
}

/* ------------------------------------------------------------ the shared frames */

static spk_session *S;
static spk_df *BASE;    /* the filtered, projected rows */
static spk_df *GROUPS;  /* grouped by k, unordered */
static spk_df *ORDERED; /* ordered by k */

static bool build_frames(void) {
    spk_schema *schema = NULL;
    spk_table *t = NULL;
    if (spk_schema_parse(NULL, "id INT, k INT, v INT, tag STRING", &schema) != SPK_OK) return false;
    spk_status st = spk_table_new(NULL, schema, &t);
    spk_schema_release(schema);
    if (st != SPK_OK) return false;
    for (int i = 0; i < NROWS && st == SPK_OK; i++) {
        char tag[8];
        row_tag(i, tag);
        st = spk_table_append(t, spk_value_i32(i), spk_value_i32(row_k(i)),
                              row_v_null(i) ? spk_value_null() : spk_value_i32(row_v(i)), spk_value_str(tag));
    }
    spk_df *src = st == SPK_OK ? spk_df_from_table(S, t) : NULL;
    if (!src) {
        spk_table_free(t);
        return false;
    }
    spk_df *f = spk_df_where(src, "id % 5 <> 0");
    BASE = spk_df_select_expr(f, 4, "k", "v", "tag", "v * 2 AS w");
    spk_df_release(f);
    spk_df_release(src);
    spk_expr *keys[1] = {spk_col("k")};
    spk_expr *aggs[3] = {spk_alias(spk_call("count", 1, spk_star()), "cnt"),
                         spk_alias(spk_call("sum", 1, spk_col("w")), "total"),
                         spk_alias(spk_call("max", 1, spk_col("tag")), "maxtag")};
    GROUPS = spk_df_group_agg(BASE, keys, 1, aggs, 3);
    ORDERED = spk_df_order_by(GROUPS, 1, spk_col("k"));
    return BASE && GROUPS && ORDERED;
}

/* ------------------------------------------------------------ the workers */

typedef struct worker {
    int id;
    long failures, checks;
    char first_failure[256];
} worker;

static void wfail(worker *w, const char *what) {
    if (w->failures++ == 0) snprintf(w->first_failure, sizeof w->first_failure, "%s (%s)", what, spk_last_error());
}
#define WCHECK(w, cond)                \
    do {                               \
        (w)->checks++;                 \
        if (!(cond)) wfail((w), #cond); \
    } while (0)

static long long get_i64(const spk_table *t, size_t r, int c, bool *null) {
    spk_value v;
    if (spk_table_get(t, r, c, &v) != SPK_OK) {
        *null = true;
        return -1;
    }
    *null = v.is_null;
    if (v.is_null) return 0;
    return v.type.id == SPK_TYPE_INT32 ? v.as.i32 : v.as.i64;
}

/* The ordered groups: row k holds k, n[k], sum[k], maxtag[k]. */
static bool check_ordered_table(const spk_table *t, int from_k) {
    if (!t || spk_table_nrows(t) != (size_t)(NK - from_k)) return false;
    for (int k = from_k; k < NK; k++) {
        size_t r = (size_t)(k - from_k);
        bool null;
        if (get_i64(t, r, 0, &null) != k || null) return false;
        if (get_i64(t, r, 1, &null) != E.n[k] || null) return false;
        long long s = get_i64(t, r, 2, &null);
        if (null != E.sum_null[k] || (!null && s != E.sum[k])) return false;
        spk_value v;
        if (spk_table_get(t, r, 3, &v) != SPK_OK || v.is_null || v.as.str.len != strlen(E.maxtag[k]) ||
            memcmp(v.as.str.ptr, E.maxtag[k], v.as.str.len) != 0)
            return false;
    }
    return true;
}

static int work(void *arg) {
    worker *w = (worker *)arg;
    for (int it = 0; it < ITERS; it++) {
        int variant = (w->id + it) % 4;
        /* collect the shared ordered groups */
        spk_table *t = NULL;
        WCHECK(w, spk_df_collect(ORDERED, &t) == SPK_OK);
        WCHECK(w, check_ordered_table(t, 0));
        spk_table_free(t);
        /* count the shared frames */
        int64_t n = -1;
        WCHECK(w, spk_df_count(GROUPS, &n) == SPK_OK && n == NK);
        WCHECK(w, spk_df_count(BASE, &n) == SPK_OK && n == E.kept_rows);
        /* show the shared ordered groups */
        char *s = NULL;
        if (variant == 0 || variant == 2) {
            WCHECK(w, spk_df_show_string(ORDERED, 20, 20, false, &s) == SPK_OK && s && strcmp(s, E.show) == 0);
        } else {
            WCHECK(w, spk_df_show_string(ORDERED, 3, 0, true, &s) == SPK_OK && s && strcmp(s, E.show_vertical) == 0);
        }
        spk_string_free(s);
        /* derive: groups with k >= from, ordered (on the unordered groups) */
        int from = (w->id * 3 + it) % NK;
        char cond[32];
        snprintf(cond, sizeof cond, "k >= %d", from);
        spk_df *f = spk_df_where(GROUPS, cond);
        spk_df *o = spk_df_order_by(f, 1, spk_asc(spk_col("k")));
        spk_df *sel = spk_df_select(o, 4, spk_col("k"), spk_col("cnt"), spk_col("total"), spk_col("maxtag"));
        t = NULL;
        WCHECK(w, sel && spk_df_collect(sel, &t) == SPK_OK);
        WCHECK(w, check_ordered_table(t, from));
        spk_table_free(t);
        spk_df_release(sel);
        spk_df_release(o);
        spk_df_release(f);
        /* derive: base rows with a given k, counted, and their w summed */
        int k = (w->id + it * 5) % NK;
        snprintf(cond, sizeof cond, "k = %d", k);
        f = spk_df_where(BASE, cond);
        WCHECK(w, f && spk_df_count(f, &n) == SPK_OK && n == E.n[k]);
        spk_df *g = spk_df_agg(f, 1, spk_call("sum", 1, spk_col("w")));
        t = NULL;
        WCHECK(w, g && spk_df_collect(g, &t) == SPK_OK && t && spk_table_nrows(t) == 1);
        if (t && spk_table_nrows(t) == 1) {
            bool null;
            long long sum = get_i64(t, 0, 0, &null);
            WCHECK(w, null == E.sum_null[k] && (null || sum == E.sum[k]));
        }
        spk_table_free(t);
        spk_df_release(g);
        /* derive: the largest tag of those rows, through a sort and a limit */
        spk_df *so = spk_df_order_by(f, 1, spk_desc(spk_col("tag")));
        spk_df *d = spk_df_limit(so, 1);
        t = NULL;
        WCHECK(w, d && spk_df_collect(d, &t) == SPK_OK && t && spk_table_nrows(t) == 1);
        if (t && spk_table_nrows(t) == 1) {
            spk_value v;
            WCHECK(w, spk_table_get(t, 0, 2, &v) == SPK_OK && !v.is_null && v.as.str.len == strlen(E.maxtag[k]) &&
                          memcmp(v.as.str.ptr, E.maxtag[k], v.as.str.len) == 0);
        }
        spk_table_free(t);
        spk_df_release(d);
        spk_df_release(so);
        spk_df_release(f);
        /* errors are this thread's own */
        spk_clear_error();
        char bad[32];
        snprintf(bad, sizeof bad, "zz%d > 1", w->id);
        spk_df *e = spk_df_where(BASE, bad);
        char want[32];
        snprintf(want, sizeof want, "`zz%d`", w->id);
        WCHECK(w, e == NULL && strstr(spk_last_error(), want) != NULL);
        spk_df_release(e);
    }
    return 0;
}

static void test_shared_frames(void) {
    worker workers[NTHREADS];
    mt_thread threads[NTHREADS];
    bool started[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        memset(&workers[i], 0, sizeof workers[i]);
        workers[i].id = i;
        started[i] = mt_start(&threads[i], work, &workers[i]);
        CHECK(started[i]);
    }
    for (int i = 0; i < NTHREADS; i++)
        if (started[i]) mt_join(&threads[i]);
    for (int i = 0; i < NTHREADS; i++) {
        if (workers[i].failures) {
            fprintf(stderr, "worker %d: %ld of %ld checks failed; first: %s\n", i, workers[i].failures, workers[i].checks,
                    workers[i].first_failure);
        }
        CHECK_EQ_INT(workers[i].failures, 0);
        CHECK(!started[i] || workers[i].checks >= (long)ITERS * 10);
    }
}

/* The main thread's own view, before and after the threads ran: the same
 * answers (nothing shared was changed by them). */
static void test_main_view(void) {
    spk_table *t = NULL;
    CHECK_OK(spk_df_collect(ORDERED, &t));
    CHECK(check_ordered_table(t, 0));
    spk_table_free(t);
    char *s = NULL;
    CHECK_OK(spk_df_show_string(ORDERED, 20, 20, false, &s));
    CHECK_STR(s, E.show);
    spk_string_free(s);
    s = NULL;
    CHECK_OK(spk_df_show_string(ORDERED, 3, 0, true, &s));
    CHECK_STR(s, E.show_vertical);
    spk_string_free(s);
    int64_t n = -1;
    CHECK_OK(spk_df_count(BASE, &n));
    CHECK_EQ_INT(n, E.kept_rows);
}

/* A thread-safe allocator that refuses every request after the first
 * `left`: failures then happen inside the worker threads of a query. */
typedef struct limited_alloc {
    spk_allocator iface;
    atomic_long left;
} limited_alloc;

static bool limited_take(limited_alloc *a) { return atomic_fetch_sub(&a->left, 1) > 0; }
static void *limited_alloc_fn(void *user, size_t size) { return limited_take((limited_alloc *)user) ? malloc(size) : NULL; }
static void *limited_realloc_fn(void *user, void *ptr, size_t old_size, size_t new_size) {
    if (new_size > old_size && !limited_take((limited_alloc *)user)) return NULL;
    return realloc(ptr, new_size);
}
static void limited_free_fn(void *user, void *ptr, size_t size) {
    (void)user;
    (void)size;
    free(ptr);
}

/* Out of memory in a worker thread reaches the caller as SPK_ERR_NOMEM
 * with its message, loses nothing (LSan) and leaves the session working;
 * a query that does get its memory gives the right answer. Results are
 * checked against the ones computed in C, whatever the budget. */
static void test_worker_failures(void) {
    int ok = 0, failed = 0;
    for (long budget = 0; budget < 400; budget += 7) {
        limited_alloc la = {{limited_alloc_fn, limited_realloc_fn, limited_free_fn, NULL}, 0};
        la.iface.user = &la;
        atomic_init(&la.left, 1000000);
        spk_session_options o = {&la.iface, false, 8};
        spk_session *s = NULL;
        CHECK_OK(spk_session_new(&o, &s));
        spk_table *t = NULL;
        CHECK_OK(spk_table_from_fixture(&la.iface, "k INT, v INT, tag STRING\n1,10,a\n2,20,b\n1,30,c\n3,NULL,d\n2,5,e\n1,1,f\n4,4,g", &t));
        spk_df *src = spk_df_from_table(s, t);
        spk_df *f = spk_df_where(src, "v IS NULL OR v > 2");
        spk_expr *keys[1] = {spk_col("k")};
        spk_expr *aggs[2] = {spk_alias(spk_call("sum", 1, spk_col("v")), "total"), spk_alias(spk_call("max", 1, spk_col("tag")), "mt")};
        spk_df *g = spk_df_group_agg(f, keys, 1, aggs, 2);
        spk_df *o2 = spk_df_order_by(g, 1, spk_col("k"));
        spk_df *j = spk_df_join(o2, src, spk_eq(spk_col("total"), spk_col("v")), "left");
        CHECK(j != NULL);
        atomic_store(&la.left, budget); /* from here on the query's tables run out */
        spk_table *out = NULL;
        spk_status st = spk_df_collect(j, &out);
        if (st == SPK_OK) {
            ok++;
            CHECK_EQ_INT(spk_table_nrows(out), 4);
            char *text = NULL;
            atomic_store(&la.left, 1000000);
            spk_df *again = spk_df_from_table(s, out);
            CHECK_OK(spk_df_show_string(again, 10, 0, false, &text));
            CHECK_STR(text, "+---+-----+---+----+----+----+\n"
                            "|k  |total|mt |k   |v   |tag |\n"
                            "+---+-----+---+----+----+----+\n"
                            "|4  |4    |g  |4   |4   |g   |\n" /* matches first, then the unmatched */
                            "|1  |40   |c  |NULL|NULL|NULL|\n"
                            "|2  |25   |e  |NULL|NULL|NULL|\n"
                            "|3  |NULL |d  |NULL|NULL|NULL|\n"
                            "+---+-----+---+----+----+----+\n");
            spk_string_free(text);
            spk_df_release(again);
        } else {
            failed++;
            CHECK_STATUS(st, SPK_ERR_NOMEM);
            CHECK_CONTAINS(spk_last_error(), "out of memory");
            CHECK(out == NULL);
        }
        atomic_store(&la.left, 1000000);
        spk_df_release(j);
        spk_df_release(o2);
        spk_df_release(g);
        spk_df_release(f);
        spk_df_release(src);
        spk_session_free(s);
    }
    CHECK(ok > 0);
    CHECK(failed > 0);
}

int main(void) {
    compute_expected();
    FOR_EACH_THREAD_COUNT(round_) {
        if (spk_session_new(NULL, &S) != SPK_OK || !build_frames()) {
            fprintf(stderr, "cannot build the shared frames: %s\n", spk_last_error());
            spk_test_failed++;
        } else {
            RUN(test_main_view);
            RUN(test_shared_frames);
            RUN(test_main_view);
            RUN(test_worker_failures);
        }
        spk_df_release(ORDERED);
        spk_df_release(GROUPS);
        spk_df_release(BASE);
        spk_session_free(S);
    }
    free(E.show);
    free(E.show_vertical);
    return TEST_REPORT();
}
