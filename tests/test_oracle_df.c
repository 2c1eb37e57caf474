/* A differential test of DataFrames against SQLite: seeded random small
 * tables (INT, BIGINT, DOUBLE, STRING, with NULLs) are loaded into
 * sparkless (spk_table_append_row, spk_df_from_table) and into an in-memory
 * SQLite database, and the same queries run both ways: filters, arithmetic
 * projections, GROUP BY with the common aggregates, ORDER BY with LIMIT and
 * OFFSET, DISTINCT, UNION ALL (and joins, where the library has them).
 * Results are compared as multisets, or in order where the ORDER BY decides
 * it; numbers compare by value (an INT 2 equals a REAL 2.0), doubles to 1e-9
 * relative. Only the dialects' shared semantics are used: NULLs sort first
 * ascending and last descending in both; no integer division. */
#include "test.h"

#ifndef SPK_HAVE_SQLITE
int main(void) {
    printf("note: SQLite is not available (no <sqlite3.h>); the DataFrame differential test is skipped\n");
    return TEST_REPORT();
}
#else
#include <math.h>
#include <stdarg.h>
#include <sqlite3.h>

/* snprintf through vsnprintf: generated texts are cut, never overflow (and
 * gcc's -Wformat-truncation has nothing to guess about). */
static int sfmt(char *buf, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

/* ------------------------------------------------------------ deterministic randomness */

static uint64_t rng_state;
static uint64_t rng_next(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static int rnd(int n) { return (int)(rng_next() % (uint64_t)n); }
static bool chance(int percent) { return rnd(100) < percent; }

/* ------------------------------------------------------------ the tables */

#define N1 300
#define N2 200
static spk_session *S;
static spk_df *T1, *T2;
static sqlite3 *DB;

static const char *const WORDS[] = {"", "a", "b", "ab", "ba", "abc", "B", "A", "b a", "zz"};

static bool load(const char *name, const char *ddl, const char *sql_create, int nrows, int which) {
    spk_schema *schema = NULL;
    spk_table *t = NULL;
    if (spk_schema_parse(NULL, ddl, &schema) != SPK_OK || spk_table_new(NULL, schema, &t) != SPK_OK) {
        spk_schema_release(schema);
        return false;
    }
    int ncols = spk_schema_ncols(schema);
    spk_schema_release(schema);
    sqlite3_stmt *ins = NULL;
    char sql[256];
    sfmt(sql, sizeof sql, "INSERT INTO %s VALUES (?,?,?,?,?,?)", name);
    if (sqlite3_exec(DB, sql_create, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(DB, sql, -1, &ins, NULL) != SQLITE_OK) {
        fprintf(stderr, "sqlite: %s\n", sqlite3_errmsg(DB));
        spk_table_free(t);
        return false;
    }
    bool ok = true;
    for (int r = 0; r < nrows && ok; r++) {
        spk_value v[6];
        v[0] = spk_value_i32(r);                                                      /* id / k: unique */
        v[1] = chance(12) ? spk_value_null() : spk_value_i32(rnd(21) - 10);           /* a / j */
        v[2] = chance(12) ? spk_value_null() : spk_value_i64(((int64_t)rnd(2000001) - 1000000) * 1000003); /* b */
        v[3] = chance(12) ? spk_value_null() : spk_value_f64((rnd(161) - 80) / 4.0);  /* x / y */
        v[4] = chance(12) ? spk_value_null() : spk_value_str(WORDS[rnd(10)]);         /* s / u */
        v[5] = chance(15) ? spk_value_null() : spk_value_i32(rnd(4));                 /* c: a small key */
        if (which == 2) v[1] = chance(15) ? spk_value_null() : spk_value_i32(rnd(30) - 10); /* j: join key */
        if (spk_table_append_row(t, v, ncols) != SPK_OK) {
            fprintf(stderr, "append: %s\n", spk_last_error());
            ok = false;
            break;
        }
        sqlite3_reset(ins);
        for (int c = 0; c < ncols; c++) {
            if (v[c].is_null || v[c].type.id == SPK_TYPE_NULL) sqlite3_bind_null(ins, c + 1);
            else if (v[c].type.id == SPK_TYPE_INT32) sqlite3_bind_int(ins, c + 1, v[c].as.i32);
            else if (v[c].type.id == SPK_TYPE_INT64) sqlite3_bind_int64(ins, c + 1, v[c].as.i64);
            else if (v[c].type.id == SPK_TYPE_DOUBLE) sqlite3_bind_double(ins, c + 1, v[c].as.f64);
            else sqlite3_bind_text(ins, c + 1, v[c].as.str.ptr, (int)v[c].as.str.len, SQLITE_TRANSIENT);
        }
        if (sqlite3_step(ins) != SQLITE_DONE) {
            fprintf(stderr, "sqlite insert: %s\n", sqlite3_errmsg(DB));
            ok = false;
        }
    }
    sqlite3_finalize(ins);
    spk_df *df = ok ? spk_df_from_table(S, t) : NULL;
    if (!df) {
        spk_table_free(t);
        return false;
    }
    if (which == 1) T1 = df;
    else T2 = df;
    return true;
}

/* ------------------------------------------------------------ results as cells */

typedef struct cell {
    int kind; /* 0 NULL, 1 integer, 2 double, 3 text */
    long long i;
    double d;
    char *s;
    char key[48]; /* canonical sort key (text keys compare via s) */
} cell;

typedef struct rowset {
    cell *cells;
    size_t nrows;
    int ncols;
} rowset;

static void cell_key(cell *c) {
    if (c->kind == 0) sfmt(c->key, sizeof c->key, "0");
    else if (c->kind == 3) sfmt(c->key, sizeof c->key, "3");
    else {
        double v = c->kind == 1 ? (double)c->i : c->d;
        char t[40];
        sfmt(t, sizeof t, "%.9e", v);
        double r = strtod(t, NULL);
        if (c->kind == 1) sfmt(c->key, sizeof c->key, "1%lld", c->i);
        else if (fabs(r) < 1e15 && r == floor(r)) sfmt(c->key, sizeof c->key, "1%lld", (long long)r);
        else sfmt(c->key, sizeof c->key, "2%s", t);
    }
}

static void rowset_free(rowset *r) {
    for (size_t i = 0; r->cells && i < r->nrows * (size_t)r->ncols; i++) free(r->cells[i].s);
    free(r->cells);
    r->cells = NULL;
}

static bool from_table(const spk_table *t, rowset *out) {
    out->ncols = spk_schema_ncols(spk_table_schema(t));
    out->nrows = spk_table_nrows(t);
    out->cells = (cell *)calloc(out->nrows * (size_t)out->ncols + 1, sizeof(cell));
    for (size_t r = 0; r < out->nrows; r++)
        for (int c = 0; c < out->ncols; c++) {
            cell *x = &out->cells[r * (size_t)out->ncols + (size_t)c];
            spk_value v;
            if (spk_table_get(t, r, c, &v) != SPK_OK) return false;
            if (v.is_null || v.type.id == SPK_TYPE_NULL) x->kind = 0;
            else if (v.type.id == SPK_TYPE_INT32) x->kind = 1, x->i = v.as.i32;
            else if (v.type.id == SPK_TYPE_INT64) x->kind = 1, x->i = v.as.i64;
            else if (v.type.id == SPK_TYPE_BOOLEAN) x->kind = 1, x->i = v.as.b;
            else if (v.type.id == SPK_TYPE_DOUBLE) x->kind = 2, x->d = v.as.f64;
            else if (v.type.id == SPK_TYPE_DECIMAL) x->kind = 2, x->d = (double)v.as.i64 / pow(10, v.type.scale);
            else if (v.type.id == SPK_TYPE_STRING) {
                x->kind = 3;
                x->s = (char *)malloc(v.as.str.len + 1);
                memcpy(x->s, v.as.str.ptr, v.as.str.len);
                x->s[v.as.str.len] = '\0';
            } else return false;
            cell_key(x);
        }
    return true;
}

static bool from_sqlite(const char *sql, rowset *out, char *err, size_t errcap) {
    sqlite3_stmt *st = NULL;
    memset(out, 0, sizeof *out);
    if (sqlite3_prepare_v2(DB, sql, -1, &st, NULL) != SQLITE_OK) {
        sfmt(err, errcap, "sqlite prepare: %s", sqlite3_errmsg(DB));
        return false;
    }
    out->ncols = sqlite3_column_count(st);
    size_t cap = 64;
    out->cells = (cell *)calloc(cap * (size_t)out->ncols + 1, sizeof(cell));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->nrows == cap) {
            cap *= 2;
            out->cells = (cell *)realloc(out->cells, (cap * (size_t)out->ncols + 1) * sizeof(cell));
        }
        for (int c = 0; c < out->ncols; c++) {
            cell *x = &out->cells[out->nrows * (size_t)out->ncols + (size_t)c];
            memset(x, 0, sizeof *x);
            switch (sqlite3_column_type(st, c)) {
            case SQLITE_NULL: x->kind = 0; break;
            case SQLITE_INTEGER: x->kind = 1, x->i = sqlite3_column_int64(st, c); break;
            case SQLITE_FLOAT: x->kind = 2, x->d = sqlite3_column_double(st, c); break;
            default: {
                const unsigned char *p = sqlite3_column_text(st, c);
                int n = sqlite3_column_bytes(st, c);
                x->kind = 3;
                x->s = (char *)malloc((size_t)n + 1);
                memcpy(x->s, p, (size_t)n);
                x->s[n] = '\0';
            }
            }
            cell_key(x);
        }
        out->nrows++;
    }
    bool ok = rc == SQLITE_DONE;
    if (!ok) sfmt(err, errcap, "sqlite step: %s", sqlite3_errmsg(DB));
    sqlite3_finalize(st);
    return ok;
}

static int g_ncols; /* for qsort */
static int cmp_cell_key(const cell *a, const cell *b) {
    int k = strcmp(a->key, b->key);
    if (k || a->kind != 3) return k;
    return strcmp(a->s, b->s);
}
static int cmp_rows(const void *pa, const void *pb) {
    const cell *a = (const cell *)pa, *b = (const cell *)pb;
    for (int c = 0; c < g_ncols; c++) {
        int k = cmp_cell_key(&a[c], &b[c]);
        if (k) return k;
    }
    return 0;
}
/* Rows are ncols consecutive cells: sort them as blocks. */
static void sort_rows(rowset *r) {
    if (r->nrows < 2 || r->ncols == 0) return;
    g_ncols = r->ncols;
    /* qsort needs a fixed element size: sort an index, then permute */
    size_t n = r->nrows, w = (size_t)r->ncols;
    cell *copy = (cell *)malloc(n * w * sizeof(cell));
    size_t *idx = (size_t *)malloc(n * sizeof *idx);
    for (size_t i = 0; i < n; i++) idx[i] = i;
    /* insertion-free: a simple merge sort over indices */
    size_t *tmp = (size_t *)malloc(n * sizeof *tmp);
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = cmp_rows(&r->cells[idx[j] * w], &r->cells[idx[i] * w]) < 0 ? idx[j++] : idx[i++];
            while (i < mid) tmp[k++] = idx[i++];
            while (j < hi) tmp[k++] = idx[j++];
        }
        memcpy(idx, tmp, n * sizeof *idx);
    }
    for (size_t i = 0; i < n; i++) memcpy(&copy[i * w], &r->cells[idx[i] * w], w * sizeof(cell));
    memcpy(r->cells, copy, n * w * sizeof(cell));
    free(copy);
    free(idx);
    free(tmp);
}

static bool cell_equal(const cell *a, const cell *b) {
    if (a->kind == 0 || b->kind == 0) return a->kind == b->kind;
    if (a->kind == 3 || b->kind == 3) return a->kind == b->kind && strcmp(a->s, b->s) == 0;
    if (a->kind == 1 && b->kind == 1) return a->i == b->i;
    double x = a->kind == 1 ? (double)a->i : a->d, y = b->kind == 1 ? (double)b->i : b->d;
    if (x == y) return true;
    return fabs(x - y) <= 1e-9 * fmax(fabs(x), fabs(y));
}

static void cell_text(const cell *c, char *buf, size_t cap) {
    switch (c->kind) {
    case 0: sfmt(buf, cap, "NULL"); break;
    case 1: sfmt(buf, cap, "%lld", c->i); break;
    case 2: sfmt(buf, cap, "%.17g", c->d); break;
    default: sfmt(buf, cap, "'%s'", c->s); break;
    }
}

static void row_text(const rowset *r, size_t row, char *buf, size_t cap) {
    size_t k = 0;
    buf[0] = '\0';
    for (int c = 0; c < r->ncols && k + 1 < cap; c++) {
        char t[64];
        cell_text(&r->cells[row * (size_t)r->ncols + (size_t)c], t, sizeof t);
        k += (size_t)sfmt(buf + k, cap - k, "%s%s", c ? ", " : "", t);
    }
}

/* ------------------------------------------------------------ running a query both ways */

static int queries, failures, reported;
static long rows_compared;

static void report(const char *what, const char *spk_desc, const char *sql, const char *detail) {
    failures++;
    if (reported++ < 12)
        fprintf(stderr, "%s: %s\n  sparkless: %s\n  sqlite:    %s\n  %s\n", spk_test_current, what, spk_desc, sql, detail);
}

/* Runs df (consumed) and sql; compares. `ordered`: in order, else as multisets. */
static void compare(spk_df *df, const char *spk_desc, const char *sql, bool ordered) {
    queries++;
    char detail[1024];
    if (!df) {
        sfmt(detail, sizeof detail, "building the DataFrame failed: %s", spk_last_error());
        report("no DataFrame", spk_desc, sql, detail);
        return;
    }
    spk_table *t = NULL;
    spk_status st = spk_df_collect(df, &t);
    if (st != SPK_OK) {
        sfmt(detail, sizeof detail, "collect failed: %s %s", spk_status_name(st), spk_last_error());
        report("collect failed", spk_desc, sql, detail);
        spk_df_release(df);
        return;
    }
    rowset a = {0}, b = {0};
    bool ok = from_table(t, &a);
    spk_table_free(t);
    int64_t counted = -1;
    if (spk_df_count(df, &counted) != SPK_OK || counted != (int64_t)a.nrows) {
        sfmt(detail, sizeof detail, "count() = %lld, collect gave %zu rows (%s)", (long long)counted, a.nrows,
                 spk_last_error());
        report("count disagrees with collect", spk_desc, sql, detail);
    }
    spk_df_release(df);
    if (!ok) {
        report("reading the result failed", spk_desc, sql, "");
        rowset_free(&a);
        return;
    }
    if (!from_sqlite(sql, &b, detail, sizeof detail)) {
        report("sqlite failed (test bug)", spk_desc, sql, detail);
        rowset_free(&a);
        rowset_free(&b);
        return;
    }
    if (a.ncols != b.ncols || a.nrows != b.nrows) {
        sfmt(detail, sizeof detail, "shape: sparkless %zu rows x %d cols, sqlite %zu rows x %d cols", a.nrows, a.ncols,
                 b.nrows, b.ncols);
        report("different shapes", spk_desc, sql, detail);
    } else {
        if (!ordered) {
            sort_rows(&a);
            sort_rows(&b);
        }
        for (size_t r = 0; r < a.nrows; r++) {
            bool same = true;
            for (int c = 0; c < a.ncols; c++)
                same = same && cell_equal(&a.cells[r * (size_t)a.ncols + (size_t)c], &b.cells[r * (size_t)b.ncols + (size_t)c]);
            if (!same) {
                char x[400], y[400];
                row_text(&a, r, x, sizeof x);
                row_text(&b, r, y, sizeof y);
                sfmt(detail, sizeof detail, "%s row %zu: sparkless (%s), sqlite (%s)", ordered ? "" : "sorted", r, x, y);
                report("different rows", spk_desc, sql, detail);
                break;
            }
        }
        rows_compared += (long)a.nrows;
    }
    rowset_free(&a);
    rowset_free(&b);
}

/* ------------------------------------------------------------ generators: (Spark text, SQLite text) */

typedef struct q {
    char spk[1024];
    char sql[1024];
} q;

static void qset(q *o, const char *spk, const char *sql) {
    sfmt(o->spk, sizeof o->spk, "%s", spk);
    sfmt(o->sql, sizeof o->sql, "%s", sql ? sql : spk);
}

static void int_lit(char *buf, size_t cap) { sfmt(buf, cap, "%d", rnd(23) - 11); }

/* A predicate over t1 (columns id, a, b, x, s, c). */
static void gen_pred(q *o, int depth) {
    char l1[32], l2[32], t[1100], u[1100];
    static const char *const OPS[] = {"=", "<>", "<", "<=", ">", ">="};
    const char *op = OPS[rnd(6)];
    if (depth > 0 && chance(45)) {
        q x, y;
        gen_pred(&x, depth - 1);
        switch (rnd(3)) {
        case 0:
            gen_pred(&y, depth - 1);
            sfmt(t, sizeof t, "(%s AND %s)", x.spk, y.spk);
            sfmt(u, sizeof u, "(%s AND %s)", x.sql, y.sql);
            break;
        case 1:
            gen_pred(&y, depth - 1);
            sfmt(t, sizeof t, "(%s OR %s)", x.spk, y.spk);
            sfmt(u, sizeof u, "(%s OR %s)", x.sql, y.sql);
            break;
        default:
            sfmt(t, sizeof t, "(NOT %s)", x.spk);
            sfmt(u, sizeof u, "(NOT %s)", x.sql);
            break;
        }
        qset(o, t, u);
        return;
    }
    int_lit(l1, sizeof l1);
    int_lit(l2, sizeof l2);
    switch (rnd(12)) {
    case 0: sfmt(t, sizeof t, "(a %s %s)", op, l1); qset(o, t, NULL); break;
    case 1: sfmt(t, sizeof t, "(a %s c)", op); qset(o, t, NULL); break;
    case 2: {
        double d = (rnd(161) - 80) / 4.0;
        sfmt(t, sizeof t, "(x %s %.2fD)", op, d);
        sfmt(u, sizeof u, "(x %s %.2f)", op, d);
        qset(o, t, u);
        break;
    }
    case 3: sfmt(t, sizeof t, "(s %s '%s')", op, WORDS[rnd(10)]); qset(o, t, NULL); break;
    case 4: {
        static const char *const C[] = {"a", "b", "x", "s", "c"};
        sfmt(t, sizeof t, "(%s IS %sNULL)", C[rnd(5)], chance(50) ? "NOT " : "");
        qset(o, t, NULL);
        break;
    }
    case 5:
        sfmt(t, sizeof t, "(a %sIN (%s, %s%s))", chance(30) ? "NOT " : "", l1, l2, chance(25) ? ", NULL" : "");
        qset(o, t, NULL);
        break;
    case 6: sfmt(t, sizeof t, "(s IN ('%s', '%s'))", WORDS[rnd(10)], WORDS[rnd(10)]); qset(o, t, NULL); break;
    case 7: sfmt(t, sizeof t, "(a %sBETWEEN %s AND %s)", chance(30) ? "NOT " : "", l1, l2); qset(o, t, NULL); break;
    case 8: {
        double lo = (rnd(81) - 40) / 4.0, hi = lo + rnd(40) / 2.0;
        sfmt(t, sizeof t, "(x BETWEEN %.2fD AND %.2fD)", lo, hi);
        sfmt(u, sizeof u, "(x BETWEEN %.2f AND %.2f)", lo, hi);
        qset(o, t, u);
        break;
    }
    case 9: sfmt(t, sizeof t, "((a + c) %s %s)", op, l1); qset(o, t, NULL); break;
    case 10: sfmt(t, sizeof t, "(b %s %lld)", op, ((long long)rnd(2001) - 1000) * 1000003LL * 1000); qset(o, t, NULL); break;
    default: sfmt(t, sizeof t, "((x * 2.0D - a) %s %s)", op, l1);
        sfmt(u, sizeof u, "((x * 2.0 - a) %s %s)", op, l1);
        qset(o, t, u);
        break;
    }
}

/* A projection expression over t1 (no integer division), named e<k>. */
static void gen_proj(q *o, bool numeric) {
    int k = rnd(14);
    if (numeric && k == 9) k = 10; /* SQLite reads 'abx' * 3 as 0, Spark as NULL: keep strings out */
    switch (k) {
    case 0: qset(o, "a + c", NULL); break;
    case 1: qset(o, "a * 3 - b", NULL); break;
    case 2: qset(o, "x * 2.5D + a", "x * 2.5 + a"); break;
    case 3: qset(o, "-a", NULL); break;
    case 4: qset(o, "a - x", NULL); break;
    case 5: qset(o, "(a + 1) * (b - 2)", NULL); break;
    case 6: qset(o, "x / 4.0D", "x / 4.0"); break;
    case 7: qset(o, "coalesce(a, c, 0)", NULL); break;
    case 8: qset(o, "abs(a) + abs(x)", NULL); break;
    case 9: qset(o, "concat(s, 'x')", "s || 'x'"); break;
    case 10: qset(o, "length(s)", NULL); break;
    case 11: qset(o, "CASE WHEN a > c THEN a ELSE c END", NULL); break;
    case 12: qset(o, "a % 4", NULL); break;
    default: qset(o, "x * x - a * c", NULL); break;
    }
}

static spk_df *where_or_self(spk_df *df, const q *p, spk_df **hold) {
    *hold = p ? spk_df_where(df, p->spk) : spk_df_retain(df);
    return *hold;
}

/* ------------------------------------------------------------ query families */

static void test_filters(void) {
    for (int i = 0; i < 150; i++) {
        q p;
        gen_pred(&p, 3);
        char sql[1400];
        sfmt(sql, sizeof sql, "SELECT id, a, b, x, s, c FROM t1 WHERE %s", p.sql);
        compare(spk_df_where(T1, p.spk), p.spk, sql, false);
    }
}

static void test_projections(void) {
    for (int i = 0; i < 120; i++) {
        q e1, e2, e3, p;
        gen_proj(&e1, false);
        gen_proj(&e2, false);
        gen_proj(&e3, false);
        bool filtered = chance(50);
        if (filtered) gen_pred(&p, 2);
        char s1[200], s2[200], s3[200], sql[2000], desc[2000];
        sfmt(s1, sizeof s1, "%s AS e1", e1.spk);
        sfmt(s2, sizeof s2, "%s AS e2", e2.spk);
        sfmt(s3, sizeof s3, "%s AS e3", e3.spk);
        sfmt(sql, sizeof sql, "SELECT id, %s, %s, %s FROM t1%s%s", e1.sql, e2.sql, e3.sql, filtered ? " WHERE " : "",
                 filtered ? p.sql : "");
        sfmt(desc, sizeof desc, "select(id, %s, %s, %s) where %s", s1, s2, s3, filtered ? p.spk : "-");
        spk_df *hold;
        spk_df *src = where_or_self(T1, filtered ? &p : NULL, &hold);
        compare(spk_df_select_expr(src, 4, "id", s1, s2, s3), desc, sql, false);
        spk_df_release(hold);
    }
    /* withColumn chains against the same SELECT */
    for (int i = 0; i < 30; i++) {
        q e1, e2;
        gen_proj(&e1, true);
        gen_proj(&e2, false);
        spk_expr *x1 = NULL, *x2 = NULL;
        spk_expr_parse(e1.spk, &x1);
        spk_expr_parse(e2.spk, &x2);
        spk_df *w1 = spk_df_with_column(T1, "a", x1); /* replaces a in place */
        spk_df *w2 = spk_df_with_column(w1, "n", x2);
        char sql[1000], desc[1000];
        /* the second expression sees the new a */
        sfmt(sql, sizeof sql, "SELECT id, a, b, x, s, c, %s FROM (SELECT id, %s AS a, b, x, s, c FROM t1)", e2.sql,
                 e1.sql);
        sfmt(desc, sizeof desc, "withColumn(a, %s).withColumn(n, %s)", e1.spk, e2.spk);
        compare(spk_df_retain(w2), desc, sql, false);
        spk_df_release(w2);
        spk_df_release(w1);
    }
}

static void test_group_by(void) {
    static const char *const AGG_SPK[] = {"count(*)", "count(x)", "sum(a)", "sum(x)", "min(s)", "max(b)",
                                          "avg(x)",   "avg(a)",   "min(x)", "max(a)", "count(DISTINCT a)", "sum(a * c)"};
    static const char *const KEYS[][2] = {{"c", NULL}, {"a", NULL}, {"s", NULL}, {"c", "s"},
                                          {"a", "c"}, {"s", "a"}, {"x", NULL}, {"a % 3", "s"}};
    for (int i = 0; i < 150; i++) {
        int kk = rnd(8);
        int nkeys = KEYS[kk][1] ? 2 : 1;
        if (chance(10)) nkeys = 0;
        int naggs = 1 + rnd(4);
        bool filtered = chance(40);
        q p;
        if (filtered) gen_pred(&p, 2);
        spk_expr *keys[2] = {NULL, NULL}, *aggs[4] = {NULL, NULL, NULL, NULL};
        char sel[600] = "", group[100] = "", desc[1600];
        for (int k = 0; k < nkeys; k++) {
            spk_expr_parse(KEYS[kk][k], &keys[k]);
            strcat(sel, k ? ", " : "");
            strcat(sel, KEYS[kk][k]);
            strcat(group, k ? ", " : " GROUP BY ");
            strcat(group, KEYS[kk][k]);
        }
        for (int g = 0; g < naggs; g++) {
            const char *a = AGG_SPK[rnd(12)];
            spk_expr_parse(a, &aggs[g]);
            strcat(sel, nkeys + g ? ", " : "");
            strcat(sel, a);
        }
        char sql[2000];
        sfmt(sql, sizeof sql, "SELECT %s FROM t1%s%s%s", sel, filtered ? " WHERE " : "", filtered ? p.sql : "", group);
        sfmt(desc, sizeof desc, "groupBy/agg: %s where %s", sel, filtered ? p.spk : "-");
        spk_df *hold;
        spk_df *src = where_or_self(T1, filtered ? &p : NULL, &hold);
        compare(spk_df_group_agg(src, keys, nkeys, aggs, naggs), desc, sql, false);
        spk_df_release(hold);
    }
    /* HAVING: a filter over the aggregate */
    for (int i = 0; i < 20; i++) {
        int lim = rnd(30);
        spk_expr *keys[1] = {spk_col("a")}, *aggs[2] = {spk_alias(spk_call("count", 1, spk_star()), "n"),
                                                         spk_alias(spk_call("sum", 1, spk_col("x")), "sx")};
        spk_df *g = spk_df_group_agg(T1, keys, 1, aggs, 2);
        char cond[64], sql[300];
        sfmt(cond, sizeof cond, "n > %d", lim / 3);
        sfmt(sql, sizeof sql, "SELECT a, count(*) AS n, sum(x) AS sx FROM t1 GROUP BY a HAVING count(*) > %d", lim / 3);
        compare(spk_df_where(g, cond), cond, sql, false);
        spk_df_release(g);
    }
}

static void test_order_limit(void) {
    static const char *const KEYS[][2] = {{"a", "a"}, {"s", "s"}, {"x", "x"}, {"b", "b"}, {"c", "c"},
                                          {"a + c", "a + c"}, {"x * -1.0D", "x * -1.0"}, {"length(s)", "length(s)"}};
    for (int i = 0; i < 150; i++) {
        int nk = 1 + rnd(3);
        spk_expr *keys[4];
        char order[400] = "", desc[1400];
        for (int k = 0; k < nk; k++) {
            int which = rnd(8), dir = rnd(4);
            spk_expr *e = NULL;
            spk_expr_parse(KEYS[which][0], &e);
            /* 0 asc (NULLS FIRST), 1 desc (NULLS LAST), 2 asc NULLS LAST, 3 desc NULLS FIRST */
            keys[k] = dir == 0 ? spk_asc(e) : dir == 1 ? spk_desc(e) : dir == 2 ? spk_asc_nulls_last(e) : spk_desc_nulls_first(e);
            static const char *const DIRS[] = {" ASC", " DESC", " ASC NULLS LAST", " DESC NULLS FIRST"};
            strcat(order, k ? ", " : "");
            strcat(order, KEYS[which][1]);
            strcat(order, DIRS[dir]);
        }
        /* ties broken by the unique id */
        bool id_desc = chance(50);
        keys[nk] = id_desc ? spk_desc(spk_col("id")) : spk_col("id");
        strcat(order, id_desc ? ", id DESC" : ", id");
        nk++;
        bool filtered = chance(40);
        q p;
        if (filtered) gen_pred(&p, 2);
        int limit = chance(70) ? rnd(40) : -1, offset = chance(50) ? rnd(30) : 0;
        char sql[2000];
        sfmt(sql, sizeof sql, "SELECT id, a, b, x, s, c FROM t1%s%s ORDER BY %s LIMIT %d OFFSET %d",
                 filtered ? " WHERE " : "", filtered ? p.sql : "", order, limit, offset);
        sfmt(desc, sizeof desc, "orderBy(%s) limit %d offset %d where %s", order, limit, offset, filtered ? p.spk : "-");
        spk_df *hold;
        spk_df *src = where_or_self(T1, filtered ? &p : NULL, &hold);
        spk_df *o = spk_df_order_by_array(src, keys, nk);
        /* Spark applies OFFSET before LIMIT in SQL: LIMIT l OFFSET o is offset(o).limit(l) */
        spk_df *off = offset ? spk_df_offset(o, offset) : spk_df_retain(o);
        spk_df *lim = limit >= 0 ? spk_df_limit(off, limit) : spk_df_retain(off);
        compare(lim, desc, sql, true);
        spk_df_release(off);
        spk_df_release(o);
        spk_df_release(hold);
    }
    /* limit then offset on a sorted frame: SQLite's subquery */
    for (int i = 0; i < 20; i++) {
        int limit = rnd(50), offset = rnd(30);
        spk_df *o = spk_df_order_by(T1, 2, spk_desc(spk_col("x")), spk_col("id"));
        spk_df *l = spk_df_limit(o, limit);
        char sql[300], desc[100];
        sfmt(sql, sizeof sql,
                 "SELECT * FROM (SELECT id, a, b, x, s, c FROM t1 ORDER BY x DESC, id LIMIT %d) ORDER BY x DESC, id "
                 "LIMIT -1 OFFSET %d",
                 limit, offset);
        sfmt(desc, sizeof desc, "orderBy(x desc, id).limit(%d).offset(%d)", limit, offset);
        compare(spk_df_offset(l, offset), desc, sql, true);
        spk_df_release(l);
        spk_df_release(o);
    }
}

static void test_distinct(void) {
    static const char *const COLS[] = {"a", "c", "s", "x", "a, c", "c, s", "s, a, c", "a % 3 AS m, c"};
    static const char *const SQLCOLS[] = {"a", "c", "s", "x", "a, c", "c, s", "s, a, c", "a % 3 AS m, c"};
    for (int i = 0; i < 80; i++) {
        int w = rnd(8);
        bool filtered = chance(50);
        q p;
        if (filtered) gen_pred(&p, 2);
        char sql[1400], desc[1400];
        sfmt(sql, sizeof sql, "SELECT DISTINCT %s FROM t1%s%s", SQLCOLS[w], filtered ? " WHERE " : "",
                 filtered ? p.sql : "");
        sfmt(desc, sizeof desc, "distinct(%s) where %s", COLS[w], filtered ? p.spk : "-");
        spk_df *hold;
        spk_df *src = where_or_self(T1, filtered ? &p : NULL, &hold);
        /* split the column list into selectExpr arguments */
        char list[64];
        sfmt(list, sizeof list, "%s", COLS[w]);
        char *parts[3] = {NULL, NULL, NULL};
        int np = 0;
        for (char *tok = list; tok && np < 3;) {
            parts[np++] = tok;
            char *comma = strstr(tok, ", ");
            if (comma) {
                *comma = '\0';
                tok = comma + 2;
            } else tok = NULL;
        }
        spk_df *s = np == 1 ? spk_df_select_expr(src, 1, parts[0])
                  : np == 2 ? spk_df_select_expr(src, 2, parts[0], parts[1])
                            : spk_df_select_expr(src, 3, parts[0], parts[1], parts[2]);
        compare(spk_df_distinct(s), desc, sql, false);
        spk_df_release(s);
        spk_df_release(hold);
    }
}

static void test_union_all(void) {
    for (int i = 0; i < 80; i++) {
        q p1, p2;
        gen_pred(&p1, 2);
        gen_pred(&p2, 1);
        /* t2's predicate is written over t1's names: rename in a projection */
        spk_df *a = spk_df_where(T1, p1.spk);
        spk_df *a2 = spk_df_select_expr(a, 3, "a", "s", "x");
        spk_df *b0 = spk_df_select_expr(T2, 6, "k AS id", "j AS a", "b", "y AS x", "u AS s", "c");
        spk_df *b = spk_df_where(b0, p2.spk);
        spk_df *b2 = spk_df_select_expr(b, 3, "a", "s", "x");
        spk_df *u = spk_df_union(a2, b2);
        char sql[3000], desc[2400];
        sfmt(sql, sizeof sql,
                 "SELECT a, s, x FROM t1 WHERE %s UNION ALL SELECT a, s, x FROM (SELECT k AS id, j AS a, b, y AS x, u AS s, c "
                 "FROM t2) WHERE %s",
                 p1.sql, p2.sql);
        sfmt(desc, sizeof desc, "union(t1 where %s, t2 where %s)", p1.spk, p2.spk);
        if (chance(30)) {
            char wrapped[3100];
            sfmt(wrapped, sizeof wrapped, "SELECT DISTINCT * FROM (%s)", sql);
            compare(spk_df_distinct(u), desc, wrapped, false);
        } else if (chance(30)) {
            char wrapped[3200];
            sfmt(wrapped, sizeof wrapped, "SELECT s, count(*), sum(a), max(x) FROM (%s) GROUP BY s", sql);
            spk_expr *keys[1] = {spk_col("s")};
            spk_expr *aggs[3] = {spk_call("count", 1, spk_star()), spk_call("sum", 1, spk_col("a")),
                                 spk_call("max", 1, spk_col("x"))};
            compare(spk_df_group_agg(u, keys, 1, aggs, 3), desc, wrapped, false);
        } else {
            compare(spk_df_retain(u), desc, sql, false);
        }
        spk_df_release(u);
        spk_df_release(b2);
        spk_df_release(b);
        spk_df_release(b0);
        spk_df_release(a2);
        spk_df_release(a);
    }
}


/* Random chains of transformations over t1's columns (filters, in-place
 * integer withColumn, sort + limit/offset, distinct, union with itself),
 * against SQLite's nested subqueries: these exercise the optimizer's
 * rewrites (pushing filters and limits through the other nodes). */
static void test_chains(void) {
    static const char *const A_EXPRS[] = {"a + c", "-a", "coalesce(a, c, 0)", "a * 3 - c", "abs(a)",
                                          "CASE WHEN a > c THEN a ELSE c END", "length(s)"};
    static const char *const SORT_KEYS[][2] = {{"a", "a"}, {"s", "s"}, {"x", "x"}, {"c", "c"}, {"a - c", "a - c"}};
    for (int i = 0; i < 150; i++) {
        spk_df *cur = spk_df_retain(T1);
        char *sql = (char *)malloc(16384), *desc = (char *)malloc(8192), *tmp = (char *)malloc(16384);
        sfmt(sql, 16384, "SELECT id, a, b, x, s, c FROM t1");
        sfmt(desc, 8192, "t1");
        int nops = 2 + rnd(4);
        bool ordered = false;
        for (int k = 0; k < nops && cur; k++) {
            spk_df *next = NULL;
            ordered = false;
            switch (rnd(6)) {
            case 0:
            case 1: {
                q p;
                gen_pred(&p, 2);
                next = spk_df_where(cur, p.spk);
                sfmt(tmp, 16384, "SELECT * FROM (%s) WHERE %s", sql, p.sql);
                sfmt(desc + strlen(desc), 8192 - strlen(desc), ".where(%s)", p.spk);
                break;
            }
            case 2: {
                const char *e = A_EXPRS[rnd(7)];
                spk_expr *x = NULL;
                spk_expr_parse(e, &x);
                next = spk_df_with_column(cur, "a", x);
                sfmt(tmp, 16384, "SELECT id, %s AS a, b, x, s, c FROM (%s)", e, sql);
                sfmt(desc + strlen(desc), 8192 - strlen(desc), ".withColumn(a, %s)", e);
                break;
            }
            case 3: {
                int w = rnd(5), dir = rnd(2), limit = rnd(60), offset = chance(40) ? rnd(20) : 0;
                spk_expr *e = NULL;
                spk_expr_parse(SORT_KEYS[w][0], &e);
                spk_expr *keys[7] = {dir ? spk_desc(e) : spk_asc(e), spk_col("id"), spk_col("a"), spk_col("b"),
                                     spk_col("x"), spk_col("s"), spk_col("c")};
                spk_df *o = spk_df_order_by_array(cur, keys, 7);
                spk_df *off = offset ? spk_df_offset(o, offset) : spk_df_retain(o);
                next = spk_df_limit(off, limit);
                spk_df_release(off);
                spk_df_release(o);
                sfmt(tmp, 16384, "SELECT * FROM (%s) ORDER BY %s%s, id, a, b, x, s, c LIMIT %d OFFSET %d", sql,
                     SORT_KEYS[w][1], dir ? " DESC" : "", limit, offset);
                sfmt(desc + strlen(desc), 8192 - strlen(desc), ".orderBy(%s%s, id, ...).offset(%d).limit(%d)",
                     SORT_KEYS[w][0], dir ? " desc" : "", offset, limit);
                ordered = true;
                break;
            }
            case 4:
                next = spk_df_distinct(cur);
                sfmt(tmp, 16384, "SELECT DISTINCT * FROM (%s)", sql);
                sfmt(desc + strlen(desc), 8192 - strlen(desc), ".distinct()");
                break;
            default: {
                q p;
                gen_pred(&p, 1);
                spk_df *f = spk_df_where(cur, p.spk);
                next = spk_df_union(cur, f);
                spk_df_release(f);
                sfmt(tmp, 16384, "SELECT * FROM (%s) UNION ALL SELECT * FROM (%s) WHERE %s", sql, sql, p.sql);
                sfmt(desc + strlen(desc), 8192 - strlen(desc), ".union(self.where(%s))", p.spk);
                break;
            }
            }
            spk_df_release(cur);
            cur = next;
            memcpy(sql, tmp, strlen(tmp) + 1);
        }
        if (!ordered) {
            sfmt(tmp, 16384, "SELECT id, a, b, x, s, c FROM (%s)", sql);
            memcpy(sql, tmp, strlen(tmp) + 1);
        }
        compare(cur, desc, sql, ordered);
        free(sql);
        free(desc);
        free(tmp);
    }
}

static void test_summary(void) {
    /* the families above ran; a run that compared nothing would pass vacuously */
    CHECK(queries >= 950);
    CHECK(rows_compared > 10000);
    CHECK_EQ_INT(failures, 0);
    printf("oracle_df: %d queries, %ld rows compared, %d mismatches\n", queries, rows_compared, failures);
}

/* Each family records mismatches in `failures`; fail the family that saw one. */
#define RUN_FAMILY(fn)                                   \
    do {                                                 \
        int before_ = failures;                          \
        spk_test_current = #fn;                          \
        fn();                                            \
        spk_test_current_failed = failures != before_;   \
        if (spk_test_current_failed) {                   \
            spk_test_failed++;                           \
            printf("FAIL %s (%d mismatches)\n", #fn, failures - before_); \
        } else {                                         \
            spk_test_passed++;                           \
        }                                                \
    } while (0)

int main(void) {
    FOR_EACH_THREAD_COUNT(round_) {
        rng_state = 20240611;
        if (spk_session_new(NULL, &S) != SPK_OK || sqlite3_open(":memory:", &DB) != SQLITE_OK ||
            !load("t1", "id INT, a INT, b BIGINT, x DOUBLE, s STRING, c INT",
                  "CREATE TABLE t1(id INTEGER, a INTEGER, b INTEGER, x REAL, s TEXT, c INTEGER)", N1, 1) ||
            !load("t2", "k INT, j INT, b BIGINT, y DOUBLE, u STRING, c INT",
                  "CREATE TABLE t2(k INTEGER, j INTEGER, b INTEGER, y REAL, u TEXT, c INTEGER)", N2, 2)) {
            fprintf(stderr, "setup failed: %s\n", spk_last_error());
            spk_test_failed++;
        } else {
            RUN_FAMILY(test_filters);
            RUN_FAMILY(test_projections);
            RUN_FAMILY(test_group_by);
            RUN_FAMILY(test_order_limit);
            RUN_FAMILY(test_distinct);
            RUN_FAMILY(test_union_all);
            RUN_FAMILY(test_chains);
            RUN(test_summary);
        }
        spk_df_release(T1);
        spk_df_release(T2);
        sqlite3_close(DB);
        spk_session_free(S);
    }
    return TEST_REPORT();
}
#endif
