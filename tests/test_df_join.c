/* Joins, set operations and row utilities of DataFrames (spk_df_join,
 * spk_df_join_using, intersect/subtract/exceptAll, unionByName,
 * dropDuplicates, fillna/dropna, sample, describe, head/take/first,
 * foreach, columns/dtypes), checked against PySpark 3.5's semantics on
 * small fixtures. Every expected row is derived by hand in the comments;
 * nothing expected is computed by the library. Join output order is
 * unspecified, as in Spark, so those rows are compared as sorted multisets. */
#include "test.h"
#include <ctype.h>
#include <stdarg.h>

/* ------------------------------------------------------------ helpers */

static spk_session *S;




static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* "r1|r2|r3" with its rows sorted (a multiset's canonical form). */
static char *sorted_rows(const char *text) {
    size_t n = 1, len = strlen(text);
    for (size_t i = 0; i < len; i++) n += text[i] == '|';
    char *copy = (char *)malloc(len + 1);
    char **rows = (char **)malloc(n * sizeof *rows);
    memcpy(copy, text, len + 1);
    size_t k = 0;
    rows[k++] = copy;
    for (size_t i = 0; i < len; i++)
        if (copy[i] == '|') {
            copy[i] = '\0';
            rows[k++] = copy + i + 1;
        }
    qsort(rows, n, sizeof *rows, cmp_str);
    sbuf b = {NULL, 0, 0};
    sb_str(&b, "");
    for (size_t i = 0; i < n; i++) {
        if (i) sb_str(&b, "|");
        sb_str(&b, rows[i]);
    }
    free(rows);
    free(copy);
    return b.p;
}

/* Collects df (consumed) and compares its rows with `want` ("" = no rows),
 * in order or, if `sorted`, as multisets. Also checks count() agrees. */
static void expect_rows_at(const char *file, int line, spk_df *df, const char *want, bool sorted) {
    if (!df) {
        failf(file, line, "DataFrame is NULL: %s %s", spk_status_name(spk_last_status()), spk_last_error());
        return;
    }
    spk_table *t = NULL;
    spk_status st = spk_df_collect(df, &t);
    if (st != SPK_OK) {
        failf(file, line, "collect failed: %s %s", spk_status_name(st), spk_last_error());
        spk_df_release(df);
        return;
    }
    char *got = table_text(t);
    size_t nrows = spk_table_nrows(t);
    spk_table_free(t);
    if (sorted) {
        char *g = sorted_rows(got), *w = sorted_rows(want);
        if (strcmp(g, w) != 0) failf(file, line, "rows (as multisets)\n  got:      \"%s\"\n  expected: \"%s\"", g, w);
        free(g);
        free(w);
    } else if (strcmp(got, want) != 0) {
        failf(file, line, "rows\n  got:      \"%s\"\n  expected: \"%s\"", got, want);
    }
    /* count() must agree with the number of rows the expectation has */
    size_t want_rows = want[0] ? 1 : 0;
    for (const char *p = want; *p; p++) want_rows += *p == '|';
    if (nrows != want_rows && !(want_rows == 1 && nrows == 1))
        failf(file, line, "collect gave %zu rows, expected %zu", nrows, want_rows);
    int64_t n = -1;
    st = spk_df_count(df, &n);
    if (st != SPK_OK) failf(file, line, "count failed: %s %s", spk_status_name(st), spk_last_error());
    else if ((size_t)n != nrows) failf(file, line, "count() = %lld but collect gave %zu rows", (long long)n, nrows);
    free(got);
    spk_df_release(df);
}
#define EXPECT_ROWS(df, want) expect_rows_at(__FILE__, __LINE__, (df), (want), false)
#define EXPECT_SET(df, want) expect_rows_at(__FILE__, __LINE__, (df), (want), true)

/* The schema as "name:simpletype,..." (dtypes). */
static void expect_schema_at(const char *file, int line, const spk_df *df, const char *want) {
    if (!df) {
        failf(file, line, "DataFrame is NULL: %s", spk_last_error());
        return;
    }
    const spk_schema *s = spk_df_schema(df);
    sbuf b = {NULL, 0, 0};
    sb_str(&b, "");
    for (int i = 0; i < spk_schema_ncols(s); i++) {
        char ty[48];
        const spk_field *f = spk_schema_field(s, i);
        spk_type_format(f->type, SPK_TYPE_SIMPLE, ty, sizeof ty);
        if (i) sb_str(&b, ",");
        sb_str(&b, f->name);
        sb_str(&b, ":");
        sb_str(&b, ty);
    }
    if (strcmp(b.p, want) != 0) failf(file, line, "schema\n  got:      \"%s\"\n  expected: \"%s\"", b.p, want);
    free(b.p);
}
#define EXPECT_SCHEMA(df, want) expect_schema_at(__FILE__, __LINE__, (df), (want))

/* df (consumed) must be NULL, with status `st` (SPK_OK: any failure) and a
 * message containing each of the NULL-terminated needles. */
static void expect_error_at(const char *file, int line, spk_df *df, spk_status st, ...) {
    if (df) {
        failf(file, line, "expected a failure (%s), got a DataFrame", spk_status_name(st));
        spk_df_release(df);
        return;
    }
    const char *msg = spk_last_error();
    if (st != SPK_OK && spk_last_status() != st)
        failf(file, line, "status %s, expected %s (%s)", spk_status_name(spk_last_status()), spk_status_name(st), msg);
    if (st == SPK_OK && spk_last_status() == SPK_OK) failf(file, line, "no error recorded");
    va_list ap;
    va_start(ap, st);
    for (const char *n = va_arg(ap, const char *); n; n = va_arg(ap, const char *))
        if (!strstr(msg, n)) failf(file, line, "expected \"%s\" in the error:\n  \"%s\"", n, msg);
    va_end(ap);
}
#define EXPECT_ERROR(df, st, ...) expect_error_at(__FILE__, __LINE__, (df), (st), __VA_ARGS__, (const char *)NULL)


static spk_df *fixture_at(const char *file, int line, const char *text) {
    spk_df *df = spk_df_from_fixture(S, text);
    if (!df) failf(file, line, "fixture failed: %s", spk_last_error());
    return df;
}
#define FIX(text) fixture_at(__FILE__, __LINE__, (text))

/* Intermediate DataFrames of a chain: K(x) keeps x until the end of the
 * current test, then releases it. */
static spk_df *kept[512];
static int nkept;
static spk_df *K(spk_df *df) {
    if (nkept < (int)(sizeof kept / sizeof *kept)) kept[nkept++] = df;
    else spk_df_release(df), df = NULL;
    return df;
}
static void release_kept(void) {
    while (nkept > 0) spk_df_release(kept[--nkept]);
}
#define RUN_DF(fn) do { RUN(fn); release_kept(); } while (0)

static spk_expr *parse(const char *sql) {
    spk_expr *e = NULL;
    if (spk_expr_parse(sql, &e) != SPK_OK) {
        fprintf(stderr, "parse of \"%s\" failed: %s\n", sql, spk_last_error());
        spk_test_current_failed = 1;
        return NULL;
    }
    return e;
}

/* Nullability of each column as a string of 't'/'f' ("tf": first nullable). */
static void expect_nullable_at(const char *file, int line, const spk_df *df, const char *want) {
    if (!df) {
        failf(file, line, "DataFrame is NULL: %s", spk_last_error());
        return;
    }
    const spk_schema *s = spk_df_schema(df);
    char got[64] = {0};
    int n = spk_schema_ncols(s);
    for (int i = 0; i < n && i < 63; i++) got[i] = spk_schema_field(s, i)->nullable ? 't' : 'f';
    if (strcmp(got, want) != 0) failf(file, line, "nullability\n  got:      \"%s\"\n  expected: \"%s\"", got, want);
}
#define EXPECT_NULLABLE(df, want) expect_nullable_at(__FILE__, __LINE__, (df), (want))

/* ------------------------------------------------------------ fixtures */

/* left: id 2 twice, a NULL id, 4 unmatched; right: id 2 twice, a NULL id, 3 unmatched */
static const char *const LEFT = "id INT, v STRING\n1,a\n2,b\n2,c\nNULL,n\n4,d";
static const char *const RIGHT = "id INT, w INT\n2,20\n2,21\n3,30\nNULL,99\n1,10";

/* a.id = b.id matches: 1-1 once, 2-2 four times (2 x 2); NULLs never match */
#define INNER_ROWS "1,a,1,10|2,b,2,20|2,b,2,21|2,c,2,20|2,c,2,21"
#define LEFT_EXTRA "NULL,n,NULL,NULL|4,d,NULL,NULL"
#define RIGHT_EXTRA "NULL,NULL,3,30|NULL,NULL,NULL,99"

static spk_df *aliased(const char *text, const char *alias) {
    spk_df *f = FIX(text);
    spk_df *a = spk_df_alias(f, alias);
    spk_df_release(f);
    return a;
}

static spk_df *join_on(spk_df *l, spk_df *r, const char *cond, const char *how) {
    return spk_df_join(l, r, parse(cond), how);
}

/* ------------------------------------------------------------ joins */

static void test_join_types(void) {
    spk_df *a = K(aliased(LEFT, "a")), *b = K(aliased(RIGHT, "b"));
    EXPECT_SET(join_on(a, b, "a.id = b.id", "inner"), INNER_ROWS);
    EXPECT_SET(spk_df_join(a, b, parse("a.id = b.id"), NULL), INNER_ROWS); /* NULL how: inner */
    EXPECT_SET(join_on(a, b, "a.id = b.id", "left"), INNER_ROWS "|" LEFT_EXTRA);
    EXPECT_SET(join_on(a, b, "a.id = b.id", "leftouter"), INNER_ROWS "|" LEFT_EXTRA);
    EXPECT_SET(join_on(a, b, "a.id = b.id", "left_outer"), INNER_ROWS "|" LEFT_EXTRA);
    EXPECT_SET(join_on(a, b, "a.id = b.id", "right"), INNER_ROWS "|" RIGHT_EXTRA);
    EXPECT_SET(join_on(a, b, "a.id = b.id", "rightouter"), INNER_ROWS "|" RIGHT_EXTRA);
    EXPECT_SET(join_on(a, b, "a.id = b.id", "right_outer"), INNER_ROWS "|" RIGHT_EXTRA);
    EXPECT_SET(join_on(a, b, "a.id = b.id", "full"), INNER_ROWS "|" LEFT_EXTRA "|" RIGHT_EXTRA);
    EXPECT_SET(join_on(a, b, "a.id = b.id", "outer"), INNER_ROWS "|" LEFT_EXTRA "|" RIGHT_EXTRA);
    EXPECT_SET(join_on(a, b, "a.id = b.id", "fullouter"), INNER_ROWS "|" LEFT_EXTRA "|" RIGHT_EXTRA);
    EXPECT_SET(join_on(a, b, "a.id = b.id", "full_outer"), INNER_ROWS "|" LEFT_EXTRA "|" RIGHT_EXTRA);
    EXPECT_SET(join_on(a, b, "a.id = b.id", "FULL_OUTER"), INNER_ROWS "|" LEFT_EXTRA "|" RIGHT_EXTRA);
    /* semi: the left rows with a match, each once despite two matches */
    EXPECT_SET(join_on(a, b, "a.id = b.id", "left_semi"), "1,a|2,b|2,c");
    EXPECT_SET(join_on(a, b, "a.id = b.id", "leftsemi"), "1,a|2,b|2,c");
    EXPECT_SET(join_on(a, b, "a.id = b.id", "semi"), "1,a|2,b|2,c");
    /* anti: the left rows without one, the NULL key included */
    EXPECT_SET(join_on(a, b, "a.id = b.id", "left_anti"), "NULL,n|4,d");
    EXPECT_SET(join_on(a, b, "a.id = b.id", "leftanti"), "NULL,n|4,d");
    EXPECT_SET(join_on(a, b, "a.id = b.id", "anti"), "NULL,n|4,d");
    /* cross with a condition is an inner join */
    EXPECT_SET(join_on(a, b, "a.id = b.id", "cross"), INNER_ROWS);
    /* schemas: left columns then right ones; semi/anti only the left ones */
    spk_df *j = K(join_on(a, b, "a.id = b.id", "full"));
    EXPECT_SCHEMA(j, "id:int,v:string,id:int,w:int");
    EXPECT_SCHEMA(K(join_on(a, b, "a.id = b.id", "semi")), "id:int,v:string");
    EXPECT_SCHEMA(K(join_on(a, b, "a.id = b.id", "anti")), "id:int,v:string");
}

static void test_join_cross(void) {
    spk_df *x = K(FIX("x INT\n1\n2")), *y = K(FIX("y STRING\np\nq\nNULL"));
    /* 2 x 3 rows */
    EXPECT_SET(spk_df_cross_join(x, y), "1,p|1,q|1,NULL|2,p|2,q|2,NULL");
    EXPECT_SET(spk_df_join(x, y, NULL, "cross"), "1,p|1,q|1,NULL|2,p|2,q|2,NULL");
    EXPECT_SCHEMA(K(spk_df_cross_join(x, y)), "x:int,y:string");
    const char *none[1] = {NULL};
    EXPECT_SET(spk_df_join_using(x, y, none, 0, "cross"), "1,p|1,q|1,NULL|2,p|2,q|2,NULL");
    /* cross with an empty side: no rows */
    EXPECT_SET(spk_df_cross_join(x, K(spk_df_limit(y, 0))), "");
}

static void test_join_null_safe(void) {
    spk_df *a = K(aliased(LEFT, "a")), *b = K(aliased(RIGHT, "b"));
    /* <=> matches NULL to NULL as well: one more row */
    EXPECT_SET(join_on(a, b, "a.id <=> b.id", "inner"), INNER_ROWS "|NULL,n,NULL,99");
    EXPECT_SET(spk_df_join(a, b, spk_eq_null_safe(spk_col("a.id"), spk_col("b.id")), "inner"),
               INNER_ROWS "|NULL,n,NULL,99");
    EXPECT_SET(join_on(a, b, "a.id <=> b.id", "left"), INNER_ROWS "|NULL,n,NULL,99|4,d,NULL,NULL");
    EXPECT_SET(join_on(a, b, "a.id <=> b.id", "full"), INNER_ROWS "|NULL,n,NULL,99|4,d,NULL,NULL|NULL,NULL,3,30");
    EXPECT_SET(join_on(a, b, "a.id <=> b.id", "anti"), "4,d");
    EXPECT_SET(join_on(a, b, "a.id <=> b.id", "semi"), "1,a|2,b|2,c|NULL,n");
    /* a plain = with only NULL keys on both sides matches nothing */
    spk_df *n1 = K(aliased("k INT, p INT\nNULL,1\nNULL,2", "a")), *n2 = K(aliased("k INT, q INT\nNULL,3", "b"));
    EXPECT_SET(join_on(n1, n2, "a.k = b.k", "inner"), "");
    EXPECT_SET(join_on(n1, n2, "a.k = b.k", "full"), "NULL,1,NULL,NULL|NULL,2,NULL,NULL|NULL,NULL,NULL,3");
    EXPECT_SET(join_on(n1, n2, "a.k <=> b.k", "inner"), "NULL,1,NULL,3|NULL,2,NULL,3");
}

static void test_join_empty_sides(void) {
    spk_df *a = K(aliased(LEFT, "a")), *b = K(aliased(RIGHT, "b"));
    spk_df *ea = K(spk_df_alias(K(spk_df_limit(a, 0)), "a")), *eb = K(spk_df_alias(K(spk_df_limit(b, 0)), "b"));
    /* empty right */
    EXPECT_SET(join_on(a, eb, "a.id = b.id", "inner"), "");
    EXPECT_SET(join_on(a, eb, "a.id = b.id", "left"), "1,a,NULL,NULL|2,b,NULL,NULL|2,c,NULL,NULL|NULL,n,NULL,NULL|4,d,NULL,NULL");
    EXPECT_SET(join_on(a, eb, "a.id = b.id", "right"), "");
    EXPECT_SET(join_on(a, eb, "a.id = b.id", "full"), "1,a,NULL,NULL|2,b,NULL,NULL|2,c,NULL,NULL|NULL,n,NULL,NULL|4,d,NULL,NULL");
    EXPECT_SET(join_on(a, eb, "a.id = b.id", "semi"), "");
    EXPECT_SET(join_on(a, eb, "a.id = b.id", "anti"), "1,a|2,b|2,c|NULL,n|4,d");
    /* empty left */
    EXPECT_SET(join_on(ea, b, "a.id = b.id", "inner"), "");
    EXPECT_SET(join_on(ea, b, "a.id = b.id", "left"), "");
    EXPECT_SET(join_on(ea, b, "a.id = b.id", "right"), "NULL,NULL,2,20|NULL,NULL,2,21|NULL,NULL,3,30|NULL,NULL,NULL,99|NULL,NULL,1,10");
    EXPECT_SET(join_on(ea, b, "a.id = b.id", "full"), "NULL,NULL,2,20|NULL,NULL,2,21|NULL,NULL,3,30|NULL,NULL,NULL,99|NULL,NULL,1,10");
    EXPECT_SET(join_on(ea, b, "a.id = b.id", "semi"), "");
    EXPECT_SET(join_on(ea, b, "a.id = b.id", "anti"), "");
    /* both empty */
    EXPECT_SET(join_on(ea, eb, "a.id = b.id", "full"), "");
}

static void test_join_string_and_two_keys(void) {
    /* string keys compare exactly (case matters in values) */
    spk_df *a = K(aliased("k STRING, x INT\nab,1\nAb,2\nb,3\nNULL,4", "a"));
    spk_df *b = K(aliased("k STRING, y INT\nab,10\nb,20\nb,21\nB,30\nNULL,40", "b"));
    EXPECT_SET(join_on(a, b, "a.k = b.k", "inner"), "ab,1,ab,10|b,3,b,20|b,3,b,21");
    EXPECT_SET(join_on(a, b, "a.k = b.k", "left"), "ab,1,ab,10|b,3,b,20|b,3,b,21|Ab,2,NULL,NULL|NULL,4,NULL,NULL");
    EXPECT_SET(join_on(a, b, "a.k = b.k", "anti"), "Ab,2|NULL,4");
    /* two-column keys: both must be equal; a NULL in either never matches */
    spk_df *c = K(aliased("p INT, q STRING, x INT\n1,p,1\n1,q,2\n2,p,3\nNULL,p,4\n2,NULL,5", "c"));
    spk_df *d = K(aliased("p INT, q STRING, y INT\n1,p,10\n1,p,11\n2,q,12\nNULL,p,13\n2,NULL,14", "d"));
    EXPECT_SET(join_on(c, d, "c.p = d.p AND c.q = d.q", "inner"), "1,p,1,1,p,10|1,p,1,1,p,11");
    EXPECT_SET(join_on(c, d, "c.p = d.p AND c.q = d.q", "semi"), "1,p,1");
    EXPECT_SET(join_on(c, d, "c.p = d.p AND c.q = d.q", "anti"), "1,q,2|2,p,3|NULL,p,4|2,NULL,5");
    EXPECT_SET(join_on(c, d, "c.p <=> d.p AND c.q <=> d.q", "inner"),
               "1,p,1,1,p,10|1,p,1,1,p,11|NULL,p,4,NULL,p,13|2,NULL,5,2,NULL,14");
    const char *keys[2] = {"p", "q"};
    EXPECT_SET(spk_df_join_using(c, d, keys, 2, "inner"), "1,p,1,10|1,p,1,11");
    EXPECT_SCHEMA(K(spk_df_join_using(c, d, keys, 2, "inner")), "p:int,q:string,x:int,y:int");
}

static void test_join_non_equi_and_residual(void) {
    spk_df *x = K(aliased("x INT\n1\n2\n3\nNULL", "a")), *y = K(aliased("y INT\n2\n3\nNULL", "b"));
    /* x < y: (1,2) (1,3) (2,3); comparisons with NULL are never true */
    EXPECT_SET(join_on(x, y, "a.x < b.y", "inner"), "1,2|1,3|2,3");
    EXPECT_SET(join_on(x, y, "a.x < b.y", "left"), "1,2|1,3|2,3|3,NULL|NULL,NULL");
    EXPECT_SET(join_on(x, y, "a.x < b.y", "right"), "1,2|1,3|2,3|NULL,NULL");
    EXPECT_SET(join_on(x, y, "a.x < b.y", "full"), "1,2|1,3|2,3|3,NULL|NULL,NULL|NULL,NULL");
    EXPECT_SET(join_on(x, y, "a.x < b.y", "semi"), "1|2");
    EXPECT_SET(join_on(x, y, "a.x < b.y", "anti"), "3|NULL");
    EXPECT_SET(join_on(x, y, "a.x < b.y", "cross"), "1,2|1,3|2,3");

    spk_df *a = K(aliased(LEFT, "a")), *b = K(aliased(RIGHT, "b"));
    /* equality plus a residual: only w > 20 (the 21) survives among the matches */
    const char *cond = "a.id = b.id AND b.w > 20";
    EXPECT_SET(join_on(a, b, cond, "inner"), "2,b,2,21|2,c,2,21");
    EXPECT_SET(join_on(a, b, cond, "left"), "2,b,2,21|2,c,2,21|1,a,NULL,NULL|NULL,n,NULL,NULL|4,d,NULL,NULL");
    EXPECT_SET(join_on(a, b, cond, "right"),
               "2,b,2,21|2,c,2,21|NULL,NULL,2,20|NULL,NULL,3,30|NULL,NULL,NULL,99|NULL,NULL,1,10");
    EXPECT_SET(join_on(a, b, cond, "full"),
               "2,b,2,21|2,c,2,21|1,a,NULL,NULL|NULL,n,NULL,NULL|4,d,NULL,NULL|"
               "NULL,NULL,2,20|NULL,NULL,3,30|NULL,NULL,NULL,99|NULL,NULL,1,10");
    EXPECT_SET(join_on(a, b, cond, "semi"), "2,b|2,c");
    EXPECT_SET(join_on(a, b, cond, "anti"), "1,a|NULL,n|4,d");
    /* a residual over the left side only: a.v <> 'b' */
    EXPECT_SET(join_on(a, b, "a.id = b.id AND a.v <> 'b'", "left"),
               "1,a,1,10|2,c,2,20|2,c,2,21|2,b,NULL,NULL|NULL,n,NULL,NULL|4,d,NULL,NULL");
    /* equality of expressions of each side: a.id + 1 = b.id */
    EXPECT_SET(join_on(a, b, "a.id + 1 = b.id", "inner"), "1,a,2,20|1,a,2,21|2,b,3,30|2,c,3,30");
}

static void test_join_resolution(void) {
    spk_df *a = K(aliased(LEFT, "a")), *b = K(aliased(RIGHT, "b"));
    /* a bare `id` is on both sides */
    EXPECT_ERROR(join_on(a, b, "id = b.id", "inner"), SPK_ERR_AMBIGUOUS, "`a`.`id`", "`b`.`id`");
    EXPECT_ERROR(spk_df_join(a, b, spk_eq(spk_col("id"), spk_col("w")), "inner"), SPK_ERR_AMBIGUOUS, "id");
    /* a bare name that only one side has resolves */
    EXPECT_SET(join_on(a, b, "a.id = b.id AND w = 10", "inner"), "1,a,1,10");
    EXPECT_SET(join_on(a, b, "a.id = b.id AND v = 'c'", "inner"), "2,c,2,20|2,c,2,21");
    /* an unknown qualifier or column fails */
    EXPECT_ERROR(join_on(a, b, "a.id = c.id", "inner"), SPK_OK, "c.id");
    EXPECT_ERROR(join_on(a, b, "a.id = b.nope", "inner"), SPK_OK, "nope");
    /* the aliases stay on the output: a.id and b.id select after the join */
    spk_df *j = K(join_on(a, b, "a.id = b.id", "left"));
    EXPECT_SET(spk_df_select(j, 2, spk_col("b.id"), spk_col("a.v")), "1,a|2,b|2,b|2,c|2,c|NULL,n|NULL,d");
    EXPECT_ERROR(spk_df_select(j, 1, spk_col("id")), SPK_ERR_AMBIGUOUS, "`a`.`id`", "`b`.`id`");
    /* unknown join type */
    EXPECT_ERROR(join_on(a, b, "a.id = b.id", "sideways"), SPK_ERR_ARG, "sideways", "inner", "left", "right", "full",
                 "semi", "anti", "cross");
    const char *id[1] = {"id"};
    EXPECT_ERROR(spk_df_join_using(a, b, id, 1, "sideways"), SPK_ERR_ARG, "inner");
    /* NULL `on` needs cross */
    EXPECT_ERROR(spk_df_join(a, b, NULL, "inner"), SPK_OK, "");
    /* NULL DataFrames propagate */
    EXPECT_ERROR(spk_df_join(NULL, b, parse("true"), "inner"), SPK_OK, "");
}

static void test_join_schemas(void) {
    spk_df *a = K(aliased("id INT NOT NULL, v STRING NOT NULL\n1,a\n2,b", "a"));
    spk_df *b = K(aliased("id INT NOT NULL, w DOUBLE NOT NULL\n2,2.5\n3,3.5", "b"));
    spk_df *in = K(join_on(a, b, "a.id = b.id", "inner"));
    EXPECT_SCHEMA(in, "id:int,v:string,id:int,w:double");
    EXPECT_NULLABLE(in, "ffff");
    spk_df *l = K(join_on(a, b, "a.id = b.id", "left"));
    EXPECT_NULLABLE(l, "fftt");
    spk_df *r = K(join_on(a, b, "a.id = b.id", "right"));
    EXPECT_NULLABLE(r, "ttff");
    spk_df *f = K(join_on(a, b, "a.id = b.id", "full"));
    EXPECT_NULLABLE(f, "tttt");
    spk_df *s = K(join_on(a, b, "a.id = b.id", "semi"));
    EXPECT_SCHEMA(s, "id:int,v:string");
    EXPECT_NULLABLE(s, "ff");
    EXPECT_NULLABLE(K(join_on(a, b, "a.id = b.id", "anti")), "ff");
    EXPECT_NULLABLE(K(spk_df_cross_join(a, b)), "ffff");
    EXPECT_SET(spk_df_retain(r), "2,b,2,2.5|NULL,NULL,3,3.5");
    /* join_using left: the key from the left, the right's columns nullable */
    const char *id[1] = {"id"};
    spk_df *ul = K(spk_df_join_using(a, b, id, 1, "left"));
    EXPECT_SCHEMA(ul, "id:int,v:string,w:double");
    EXPECT_NULLABLE(ul, "fft");
    spk_df *ur = K(spk_df_join_using(a, b, id, 1, "right"));
    EXPECT_NULLABLE(ur, "ftf");
    /* columns / dtypes of a join */
    const char *names[8] = {0};
    CHECK_EQ_INT(spk_df_columns(f, names, 8), 4);
    CHECK_STR(names[0], "id");
    CHECK_STR(names[1], "v");
    CHECK_STR(names[2], "id");
    CHECK_STR(names[3], "w");
    const char *two[2] = {0};
    CHECK_EQ_INT(spk_df_columns(f, two, 2), 4); /* the full count, two written */
    CHECK_STR(two[1], "v");
    spk_dtype dt[8];
    CHECK_EQ_INT(spk_df_dtypes(f, dt, 8), 4);
    CHECK_STR(dt[0].name, "id");
    CHECK_STR(dt[0].type, "int");
    CHECK_STR(dt[1].type, "string");
    CHECK_STR(dt[3].name, "w");
    CHECK_STR(dt[3].type, "double");
    CHECK_EQ_INT(spk_df_columns(NULL, names, 8), -1);
}

/* The optimizer cuts each side of a join to the columns read above it or by
 * the condition: the rows and the output columns stay those of the plan as built. */
static const char *const PA = "id INT, v STRING, x INT, junk STRING\n1,a,10,j1\n2,b,20,j2\n2,c,30,j3\nNULL,n,40,j4\n4,d,NULL,j5";
static const char *const PB = "id INT, w INT, y STRING, junk STRING\n2,5,p,k1\n2,15,q,k2\n3,25,r,k3\nNULL,35,s,k4\n1,NULL,t,k5";

static void test_join_pruned_plans(void) {
    spk_df *a = K(aliased(PA, "a")), *b = K(aliased(PB, "b"));
    /* a.id = b.id: (1,a,10,j1 | 1,NULL,t,k5), (2,b,20,j2 | 2,5,p,k1), (2,b,20,j2 | 2,15,q,k2),
     * (2,c,30,j3 | 2,5,p,k1), (2,c,30,j3 | 2,15,q,k2) */
    spk_df *j = K(join_on(a, b, "a.id = b.id", "inner"));
    /* the keys only in the condition */
    EXPECT_SET(spk_df_select(j, 2, spk_col("a.v"), spk_col("b.w")), "a,NULL|b,5|b,15|c,5|c,15");
    /* x and w only in a filter above the join (it reads both sides, so it stays there):
     * 10 + NULL, 20 + 5 = 25 fail; 35, 35, 45 pass */
    spk_df *f = K(spk_df_where(j, "a.x + b.w > 25"));
    EXPECT_SET(spk_df_select(f, 2, spk_col("a.v"), spk_col("b.y")), "b,q|c,p|c,q");
    /* a filter that goes below the join: junk must reach it though nothing above reads it */
    spk_df *g = K(spk_df_where(j, "b.junk <> 'k1'"));
    EXPECT_SET(spk_df_select(g, 1, spk_col("a.v")), "a|b|c");
    /* the same names on both sides, each side's own */
    EXPECT_SET(spk_df_select(j, 3, spk_col("a.id"), spk_col("b.id"), spk_col("b.junk")), "1,1,k5|2,2,k1|2,2,k2|2,2,k1|2,2,k2");
    EXPECT_SET(spk_df_select(j, 2, spk_col("b.junk"), spk_col("a.junk")), "k5,j1|k1,j2|k2,j2|k1,j3|k2,j3");
    /* select * after the join keeps every column, duplicates included, in order */
    spk_df *star = K(spk_df_select(j, 1, spk_star()));
    EXPECT_SCHEMA(star, "id:int,v:string,x:int,junk:string,id:int,w:int,y:string,junk:string");
    EXPECT_SET(spk_df_retain(star), "1,a,10,j1,1,NULL,t,k5|2,b,20,j2,2,5,p,k1|2,b,20,j2,2,15,q,k2|"
                                    "2,c,30,j3,2,5,p,k1|2,c,30,j3,2,15,q,k2");
    EXPECT_SET(spk_df_select(star, 2, spk_col("b.y"), spk_col("a.junk")), "t,j1|p,j2|q,j2|p,j3|q,j3");
    EXPECT_SET(spk_df_retain(j), "1,a,10,j1,1,NULL,t,k5|2,b,20,j2,2,5,p,k1|2,b,20,j2,2,15,q,k2|"
                                 "2,c,30,j3,2,5,p,k1|2,c,30,j3,2,15,q,k2");
    /* three tables, grouped: w joins c.k; (b,5) (b,15) (c,5) (c,15) match, sum(a.x) per a.v */
    spk_df *c = K(aliased("k INT, z STRING, pad STRING\n5,five,x\n15,fifteen,x\n25,tw,x", "c"));
    spk_df *j3 = K(join_on(j, c, "b.w = c.k", "inner"));
    spk_expr *keys[1] = {spk_col("a.v")}, *aggs[2] = {parse("sum(a.x) AS sx"), parse("count(c.z) AS n")};
    spk_df *grouped = K(spk_df_group_agg(j3, keys, 1, aggs, 2));
    EXPECT_SET(spk_df_retain(grouped), "b,40,2|c,60,2");
    EXPECT_SET(spk_df_order_by(grouped, 1, spk_desc(spk_col("sx"))), "c,60,2|b,40,2");
    /* count() reads no column at all */
    int64_t n = -1;
    CHECK_OK(spk_df_count(j3, &n));
    CHECK_EQ_INT(n, 4);
    /* semi: the right side only for the condition; (2,15) matches 2,b and 2,c, (1,NULL) fails w > 10 */
    EXPECT_SET(spk_df_select(K(join_on(a, b, "a.id = b.id AND b.w > 10", "semi")), 1, spk_col("v")), "b|c");
    EXPECT_SET(join_on(a, b, "a.id = b.id AND b.w > 10", "anti"), "1,a,10,j1|NULL,n,40,j4|4,d,NULL,j5");
    /* outer joins: a right column only in a filter above a left join */
    spk_df *l = K(join_on(a, b, "a.id = b.id", "left"));
    EXPECT_SET(spk_df_select(K(spk_df_where(l, "b.y IS NULL")), 1, spk_col("a.v")), "n|d");
    spk_df *full = K(join_on(a, b, "a.id = b.id AND a.x > 15", "full"));
    EXPECT_SET(spk_df_select(full, 2, spk_col("a.v"), spk_col("b.y")),
               "a,NULL|b,p|b,q|c,p|c,q|n,NULL|d,NULL|NULL,r|NULL,s|NULL,t");
    /* USING: the key once, then the other columns */
    const char *id[1] = {"id"};
    spk_df *u = K(spk_df_join_using(a, b, id, 1, "inner"));
    EXPECT_SET(spk_df_select(u, 2, spk_col("id"), spk_col("y")), "1,t|2,p|2,q|2,p|2,q");
}

/* Sides that a chain of filters and projections computes are streamed into
 * the join's arrays: strings made per batch must outlive their batch, a
 * limit keeps its order, and string keys match by their bytes. */
static void test_join_streamed_sides(void) {
    spk_df *a = K(aliased(PA, "a")), *b = K(aliased(PB, "b"));
    spk_df *ua = K(spk_df_select_expr(a, 3, "id", "upper(v) AS u", "concat(junk, '-', v) AS tag"));
    spk_df *ub = K(spk_df_select_expr(b, 2, "id AS bid", "upper(y) AS uy"));
    EXPECT_SET(join_on(ua, ub, "id = bid", "inner"), "1,A,j1-a,1,T|2,B,j2-b,2,P|2,B,j2-b,2,Q|2,C,j3-c,2,P|2,C,j3-c,2,Q");
    /* string keys, one computed */
    spk_df *names = K(FIX("name STRING, n INT\nB,1\nC,2\nZ,3\nNULL,4"));
    EXPECT_SET(spk_df_select(K(join_on(ua, names, "u = name", "inner")), 2, spk_col("u"), spk_col("n")), "B,1|C,2");
    EXPECT_SET(spk_df_select(K(join_on(names, ua, "lower(name) = lower(u)", "left")), 2, spk_col("n"), spk_col("tag")),
               "1,j2-b|2,j3-c|3,NULL|4,NULL");
    spk_df *s = K(FIX("s STRING\nNULL\nx\nlonger than sixteen bytes")), *t = K(FIX("t STRING\nNULL\ny\nx\nlonger than sixteen bytes"));
    EXPECT_SET(join_on(s, t, "s <=> t", "inner"), "NULL,NULL|x,x|longer than sixteen bytes,longer than sixteen bytes");
    EXPECT_SET(join_on(s, t, "s = t", "inner"), "x,x|longer than sixteen bytes,longer than sixteen bytes");
    /* a limit over a filter: the first two rows with w > 0, (2,5,p) and (2,15,q) */
    spk_df *lim = K(spk_df_limit(K(spk_df_where(b, "w > 0")), 2));
    EXPECT_SET(spk_df_select(K(join_on(a, lim, "a.id = b.id", "inner")), 2, spk_col("a.v"), spk_col("b.y")), "b,p|b,q|c,p|c,q");
    /* an aggregated side is read as a table: sum(w) per id is 1 -> NULL, 2 -> 20 */
    spk_expr *keys[1] = {spk_col("id")}, *aggs[1] = {parse("sum(w) AS sw")};
    spk_df *g = K(spk_df_alias(K(spk_df_group_agg(b, keys, 1, aggs, 1)), "g"));
    EXPECT_SET(spk_df_select(K(join_on(a, g, "a.id = g.id", "inner")), 2, spk_col("a.v"), spk_col("sw")), "a,NULL|b,20|c,20");
    /* BIGINT and DATE keys, hashed as stored */
    spk_df *d1 = K(FIX("k BIGINT, d DATE\n5000000000,2024-01-02\n7,2024-01-03\nNULL,NULL"));
    spk_df *d2 = K(FIX("k2 BIGINT, d2 DATE, x INT\n5000000000,2024-01-02,1\n7,2024-01-02,2\n7,2024-01-03,3\nNULL,NULL,4"));
    EXPECT_SET(spk_df_select(K(join_on(d1, d2, "k = k2 AND d = d2", "inner")), 1, spk_col("x")), "1|3");
    EXPECT_SET(spk_df_select(K(join_on(d1, d2, "k <=> k2 AND d <=> d2", "inner")), 1, spk_col("x")), "1|3|4");
}

/* An inner join whose bigger side is a chain over a table probes that side
 * as it streams, never holding it: many morsels (FOR_EACH_THREAD_COUNT),
 * strings the chain makes per batch, an offset (batches with a selection),
 * duplicate and NULL keys, a residual conjunct, the
 * streamed side on either side of the join. Checked against a plain loop. */
#define PROBE_ROWS 3000
#define PROBE_SMALL 200
static void test_join_streamed_probe(void) {
    spk_schema *bs = NULL, *ss = NULL;
    CHECK_OK(spk_schema_parse(NULL, "k INT, s STRING, x BIGINT", &bs));
    CHECK_OK(spk_schema_parse(NULL, "k2 INT, label STRING", &ss));
    static spk_value big[PROBE_ROWS * 3], small[PROBE_SMALL * 2];
    static char text[PROBE_ROWS][40], labels[PROBE_SMALL][16];
    for (int i = 0; i < PROBE_ROWS; i++) {
        big[i * 3] = i % 97 == 0 ? spk_value_null() : spk_value_i32(i % 150);
        snprintf(text[i], sizeof text[i], i % 4 ? "s%d" : "a string of some length %d", i);
        big[i * 3 + 1] = spk_value_str(text[i]);
        big[i * 3 + 2] = spk_value_i64(i);
    }
    for (int r = 0; r < PROBE_SMALL; r++) { /* keys 0..119, 0..79 twice; 120..149 match nothing */
        small[r * 2] = r % 53 == 0 ? spk_value_null() : spk_value_i32(r % 120);
        snprintf(labels[r], sizeof labels[r], "L%d", r);
        small[r * 2 + 1] = spk_value_str(labels[r]);
    }
    /* the rows wanted, from probing rows `from` on */
    sbuf want[2] = {{NULL, 0, 0}, {NULL, 0, 0}};
    for (int w = 0; w < 2; w++) {
        sb_str(&want[w], "");
        for (int i = w ? 10 : 0; i < PROBE_ROWS; i++) {
            if (i % 97 == 0 || i % 3 == 1) continue;
            for (int r = 0; r < PROBE_SMALL; r++) {
                if (r % 53 == 0 || r % 120 != i % 150 || i <= (r % 120) * 10) continue;
                char row[80], upper[40];
                size_t n = strlen(text[i]);
                for (size_t c = 0; c <= n; c++) upper[c] = (char)toupper((unsigned char)text[i][c]);
                snprintf(row, sizeof row, "%s%.15s,%.39s,%d", want[w].len ? "|" : "", labels[r], upper, i);
                sb_str(&want[w], row);
            }
        }
    }
    spk_df *b = K(spk_df_from_rows(S, bs, big, PROBE_ROWS)), *sm = K(spk_df_from_rows(S, ss, small, PROBE_SMALL));
    spk_df *p = K(spk_df_where(K(spk_df_select_expr(b, 3, "k", "upper(s) AS us", "x")), "x % 3 <> 1 AND length(us) > 1"));
    EXPECT_SET(spk_df_select(K(join_on(sm, p, "k2 = k AND x > k2 * 10", "inner")), 3, spk_col("label"), spk_col("us"), spk_col("x")),
               want[0].p);
    EXPECT_SET(spk_df_select(K(join_on(p, sm, "k = k2 AND x > k2 * 10", "inner")), 3, spk_col("label"), spk_col("us"), spk_col("x")),
               want[0].p);
    spk_df *rest = K(spk_df_offset(p, 7)); /* rows 0, 2, 3, 5, 6, 8, 9 skipped: batches with a selection */
    EXPECT_SET(spk_df_select(K(join_on(sm, rest, "k2 = k AND x > k2 * 10", "inner")), 3, spk_col("label"), spk_col("us"), spk_col("x")),
               want[1].p);
    free(want[0].p);
    free(want[1].p);
    spk_schema_release(bs);
    spk_schema_release(ss);
}

static void test_join_using(void) {
    spk_df *l = K(FIX(LEFT)), *r = K(FIX(RIGHT));
    const char *id[1] = {"id"};
    spk_df *in = K(spk_df_join_using(l, r, id, 1, "inner"));
    EXPECT_SCHEMA(in, "id:int,v:string,w:int");
    EXPECT_SET(spk_df_retain(in), "1,a,10|2,b,20|2,b,21|2,c,20|2,c,21");
    EXPECT_SET(spk_df_join_using(l, r, id, 1, NULL), "1,a,10|2,b,20|2,b,21|2,c,20|2,c,21");
    /* left: the left key */
    EXPECT_SET(spk_df_join_using(l, r, id, 1, "left"), "1,a,10|2,b,20|2,b,21|2,c,20|2,c,21|NULL,n,NULL|4,d,NULL");
    /* right: the right key */
    EXPECT_SET(spk_df_join_using(l, r, id, 1, "right"), "1,a,10|2,b,20|2,b,21|2,c,20|2,c,21|3,NULL,30|NULL,NULL,99");
    /* full: coalesce(left.id, right.id) */
    spk_df *f = K(spk_df_join_using(l, r, id, 1, "full_outer"));
    EXPECT_SCHEMA(f, "id:int,v:string,w:int");
    EXPECT_SET(spk_df_retain(f),
               "1,a,10|2,b,20|2,b,21|2,c,20|2,c,21|NULL,n,NULL|4,d,NULL|3,NULL,30|NULL,NULL,99");
    /* the coalesced key is usable by name downstream */
    EXPECT_SET(spk_df_where(f, "id >= 3"), "4,d,NULL|3,NULL,30");
    EXPECT_SET(spk_df_join_using(l, r, id, 1, "semi"), "1,a|2,b|2,c");
    EXPECT_SCHEMA(K(spk_df_join_using(l, r, id, 1, "anti")), "id:int,v:string");
    EXPECT_SET(spk_df_join_using(l, r, id, 1, "anti"), "NULL,n|4,d");
    /* a key only one side has */
    const char *v[1] = {"v"};
    EXPECT_ERROR(spk_df_join_using(l, r, v, 1, "inner"), SPK_ERR_NOT_FOUND, "v");
    const char *zz[1] = {"zz"};
    EXPECT_ERROR(spk_df_join_using(l, r, zz, 1, "inner"), SPK_ERR_NOT_FOUND, "zz");
    /* the key column moves first even when it is not first on either side */
    spk_df *p = K(FIX("v STRING, id INT\nx,1\ny,5"));
    spk_df *q = K(FIX("w INT, id INT\n7,1\n8,1"));
    spk_df *u = K(spk_df_join_using(p, q, id, 1, "left"));
    EXPECT_SCHEMA(u, "id:int,v:string,w:int");
    EXPECT_SET(spk_df_retain(u), "1,x,7|1,x,8|5,y,NULL");
}

/* ------------------------------------------------------------ set operations */

static const char *const SET_A = "x INT, s STRING\n1,a\n1,a\n1,a\n2,b\nNULL,c\nNULL,c\n3,NULL";
static const char *const SET_B = "x INT, s STRING\n1,a\nNULL,c\nNULL,c\nNULL,c\n3,NULL\n4,d";

static void test_set_operations(void) {
    spk_df *a = K(FIX(SET_A)), *b = K(FIX(SET_B));
    /* a: {1a x3, 2b, NULLc x2, 3NULL}; b: {1a, NULLc x3, 3NULL, 4d} */
    EXPECT_SET(spk_df_intersect(a, b), "1,a|NULL,c|3,NULL");
    EXPECT_SET(spk_df_intersect_all(a, b), "1,a|NULL,c|NULL,c|3,NULL");
    EXPECT_SET(spk_df_subtract(a, b), "2,b");
    EXPECT_SET(spk_df_except_all(a, b), "1,a|1,a|2,b");
    EXPECT_SET(spk_df_subtract(b, a), "4,d");
    EXPECT_SET(spk_df_except_all(b, a), "NULL,c|4,d");
    EXPECT_SET(spk_df_intersect_all(b, a), "1,a|NULL,c|NULL,c|3,NULL");
    /* subtract is distinct even without b */
    spk_df *e = K(spk_df_limit(b, 0));
    EXPECT_SET(spk_df_subtract(a, e), "1,a|2,b|NULL,c|3,NULL");
    EXPECT_SET(spk_df_except_all(a, e), "1,a|1,a|1,a|2,b|NULL,c|NULL,c|3,NULL");
    EXPECT_SET(spk_df_intersect(a, e), "");
    EXPECT_SET(spk_df_intersect_all(a, e), "");
    EXPECT_SET(spk_df_intersect(a, a), "1,a|2,b|NULL,c|3,NULL");
    EXPECT_SCHEMA(K(spk_df_intersect(a, b)), "x:int,s:string");
    /* by position: names from the first input */
    spk_df *c = K(FIX("y INT, t STRING\n2,b\n9,z"));
    spk_df *i = K(spk_df_intersect(a, c));
    EXPECT_SCHEMA(i, "x:int,s:string");
    EXPECT_SET(spk_df_retain(i), "2,b");
    /* different column counts fail */
    spk_df *one = K(FIX("x INT\n1"));
    EXPECT_ERROR(spk_df_intersect(a, one), SPK_OK, "");
    EXPECT_ERROR(spk_df_except_all(a, one), SPK_OK, "");
}

static void test_union_by_name(void) {
    spk_df *a = K(FIX("a INT, b STRING\n1,x\n2,y"));
    spk_df *b = K(FIX("b STRING, a INT\nz,3\ny,2"));
    spk_df *u = K(spk_df_union_by_name(a, b, false));
    EXPECT_SCHEMA(u, "a:int,b:string");
    EXPECT_SET(spk_df_retain(u), "1,x|2,y|3,z|2,y"); /* duplicates kept */
    /* union by position would pair the string with the int column instead */
    spk_df *c = K(FIX("b STRING, c DOUBLE\nw,1.5"));
    EXPECT_ERROR(spk_df_union_by_name(a, c, false), SPK_ERR_SCHEMA, "a");
    spk_df *m = K(spk_df_union_by_name(a, c, true));
    EXPECT_SCHEMA(m, "a:int,b:string,c:double");
    EXPECT_SET(spk_df_retain(m), "1,x,NULL|2,y,NULL|NULL,w,1.5");
    /* allow_missing with identical columns behaves as the plain one */
    EXPECT_SET(spk_df_union_by_name(a, b, true), "1,x|2,y|3,z|2,y");
}

/* ------------------------------------------------------------ rows */

static void test_drop_duplicates(void) {
    spk_df *d = K(FIX("k INT, v STRING\n1,a\n2,b\n1,c\nNULL,d\nNULL,e\n2,b\n1,a"));
    EXPECT_SET(spk_df_drop_duplicates(d, NULL, 0), "1,a|2,b|1,c|NULL,d|NULL,e");
    /* subset k: the first row of each k (NULLs are one group) */
    const char *k[1] = {"k"};
    EXPECT_SET(spk_df_drop_duplicates(d, k, 1), "1,a|2,b|NULL,d");
    const char *v[1] = {"v"};
    EXPECT_SET(spk_df_drop_duplicates(d, v, 1), "1,a|2,b|1,c|NULL,d|NULL,e");
    const char *kv[2] = {"v", "k"};
    EXPECT_SET(spk_df_drop_duplicates(d, kv, 2), "1,a|2,b|1,c|NULL,d|NULL,e");
    EXPECT_SCHEMA(K(spk_df_drop_duplicates(d, k, 1)), "k:int,v:string");
    const char *zz[1] = {"zz"};
    EXPECT_ERROR(spk_df_drop_duplicates(d, zz, 1), SPK_ERR_NOT_FOUND, "zz");
    /* first row kept: with a unique payload the first occurrence shows */
    spk_df *e = K(FIX("g STRING, n INT\nx,5\ny,1\nx,3\ny,9\nx,7"));
    const char *g[1] = {"g"};
    EXPECT_SET(spk_df_drop_duplicates(e, g, 1), "x,5|y,1");
}

static void test_fillna(void) {
    spk_df *f = K(FIX("i INT, l BIGINT, d DOUBLE, s STRING, b BOOLEAN\n1,NULL,NULL,NULL,NULL\nNULL,7,2.5,x,true\nNULL,NULL,NULL,NULL,false"));
    /* a number fills every numeric column */
    spk_df *n = K(spk_df_fillna(f, spk_value_i64(0), NULL, 0));
    EXPECT_SCHEMA(n, "i:int,l:bigint,d:double,s:string,b:boolean");
    EXPECT_NULLABLE(n, "ffftt");
    EXPECT_SET(spk_df_retain(n), "1,0,0.0,NULL,NULL|0,7,2.5,x,true|0,0,0.0,NULL,false");
    /* 2.5 fills an INT column with 2 */
    const char *i[1] = {"i"};
    spk_df *h = K(spk_df_fillna(f, spk_value_f64(2.5), i, 1));
    EXPECT_NULLABLE(h, "ftttt");
    EXPECT_SET(spk_df_retain(h), "1,NULL,NULL,NULL,NULL|2,7,2.5,x,true|2,NULL,NULL,NULL,false");
    EXPECT_SET(spk_df_fillna(f, spk_value_f64(2.5), NULL, 0), "1,2,2.5,NULL,NULL|2,7,2.5,x,true|2,2,2.5,NULL,false");
    /* a string fills only STRING columns */
    spk_df *s = K(spk_df_fillna(f, spk_value_str("z"), NULL, 0));
    EXPECT_NULLABLE(s, "tttft");
    EXPECT_SET(spk_df_retain(s), "1,NULL,NULL,z,NULL|NULL,7,2.5,x,true|NULL,NULL,NULL,z,false");
    /* a boolean only BOOLEAN ones */
    EXPECT_SET(spk_df_fillna(f, spk_value_bool(true), NULL, 0), "1,NULL,NULL,NULL,true|NULL,7,2.5,x,true|NULL,NULL,NULL,NULL,false");
    /* a string value with a numeric subset column changes nothing */
    EXPECT_SET(spk_df_fillna(f, spk_value_str("z"), i, 1), "1,NULL,NULL,NULL,NULL|NULL,7,2.5,x,true|NULL,NULL,NULL,NULL,false");
    const char *zz[1] = {"zz"};
    EXPECT_ERROR(spk_df_fillna(f, spk_value_i32(1), zz, 1), SPK_ERR_NOT_FOUND, "zz");
    /* NaN in a DOUBLE column is filled too */
    spk_df *nan = K(spk_df_select_expr(K(FIX("d DOUBLE\n1.0\n2.0")), 1, "CASE WHEN d > 1 THEN CAST('NaN' AS DOUBLE) ELSE d END AS d"));
    EXPECT_SET(spk_df_fillna(nan, spk_value_i32(9), NULL, 0), "1.0|9.0");
}

static void test_dropna(void) {
    spk_df *g = K(FIX("a INT, b INT, c STRING\n1,2,x\nNULL,2,x\nNULL,NULL,NULL\n1,NULL,NULL"));
    EXPECT_SET(spk_df_dropna(g, "any", -1, NULL, 0), "1,2,x");
    EXPECT_SET(spk_df_dropna(g, NULL, -1, NULL, 0), "1,2,x");
    EXPECT_SET(spk_df_dropna(g, "all", -1, NULL, 0), "1,2,x|NULL,2,x|1,NULL,NULL");
    /* thresh: at least 2 non-null values (overrides how) */
    EXPECT_SET(spk_df_dropna(g, "any", 2, NULL, 0), "1,2,x|NULL,2,x");
    EXPECT_SET(spk_df_dropna(g, "all", 3, NULL, 0), "1,2,x");
    EXPECT_SET(spk_df_dropna(g, "any", 0, NULL, 0), "1,2,x|NULL,2,x|NULL,NULL,NULL|1,NULL,NULL");
    const char *a[1] = {"a"};
    EXPECT_SET(spk_df_dropna(g, "any", -1, a, 1), "1,2,x|1,NULL,NULL");
    const char *ab[2] = {"a", "b"};
    EXPECT_SET(spk_df_dropna(g, "all", -1, ab, 2), "1,2,x|NULL,2,x|1,NULL,NULL");
    EXPECT_SET(spk_df_dropna(g, "any", -1, ab, 2), "1,2,x");
    const char *bc[2] = {"b", "c"};
    EXPECT_SET(spk_df_dropna(g, NULL, 1, bc, 2), "1,2,x|NULL,2,x");
    const char *zz[1] = {"zz"};
    EXPECT_ERROR(spk_df_dropna(g, "any", -1, zz, 1), SPK_ERR_NOT_FOUND, "zz");
    EXPECT_SCHEMA(K(spk_df_dropna(g, "any", -1, NULL, 0)), "a:int,b:int,c:string");
    /* NaN counts as missing */
    spk_df *nan = K(spk_df_select_expr(K(FIX("d DOUBLE\n1.0\n2.0")), 1, "CASE WHEN d > 1 THEN CAST('NaN' AS DOUBLE) ELSE d END AS d"));
    EXPECT_SET(spk_df_dropna(nan, "any", -1, NULL, 0), "1.0");
}

/* The documented rule: row i kept when the i-th SplitMix64 output (as a
 * double from its top 53 bits) is below fraction. */
static uint64_t sm_state;
static uint64_t sm_next(void) {
    uint64_t z = (sm_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void test_sample(void) {
    spk_df *r = K(spk_df_range(S, 0, 200, 1));
    spk_table *t1 = NULL, *t2 = NULL, *t3 = NULL;
    CHECK_OK(spk_df_collect(K(spk_df_sample(r, 0.3, 42)), &t1));
    CHECK_OK(spk_df_collect(K(spk_df_sample(r, 0.3, 42)), &t2));
    CHECK_OK(spk_df_collect(K(spk_df_sample(r, 0.3, 43)), &t3));
    if (t1 && t2 && t3) {
        char *a = table_text(t1), *b = table_text(t2), *c = table_text(t3);
        CHECK_STR(a, b);
        CHECK(strcmp(a, c) != 0); /* another seed, other rows (2^-200-ish odds otherwise) */
        CHECK(spk_table_nrows(t1) > 20 && spk_table_nrows(t1) < 100);
        /* the exact rows of the documented rule */
        sbuf w = {NULL, 0, 0};
        sb_str(&w, "");
        sm_state = 42;
        bool firstrow = true;
        for (int i = 0; i < 200; i++) {
            double u = (double)(sm_next() >> 11) * (1.0 / 9007199254740992.0);
            if (u < 0.3) {
                char buf[16];
                snprintf(buf, sizeof buf, "%s%d", firstrow ? "" : "|", i);
                sb_str(&w, buf);
                firstrow = false;
            }
        }
        char *sa = sorted_rows(a), *sw = sorted_rows(w.p);
        CHECK_STR(sa, sw);
        free(sa);
        free(sw);
        free(w.p);
        free(a);
        free(b);
        free(c);
    }
    spk_table_free(t1);
    spk_table_free(t2);
    spk_table_free(t3);
    int64_t n = -1;
    CHECK_OK(spk_df_count(K(spk_df_sample(r, 0.0, 7)), &n));
    CHECK_EQ_INT(n, 0);
    CHECK_OK(spk_df_count(K(spk_df_sample(r, 1.0, 7)), &n));
    CHECK_EQ_INT(n, 200);
    EXPECT_SCHEMA(K(spk_df_sample(r, 0.5, 1)), "id:bigint");
    /* sample over a join: still deterministic */
    spk_df *j = K(spk_df_join_using(K(FIX(LEFT)), K(FIX(RIGHT)), (const char *const[]){"id"}, 1, "inner"));
    CHECK_OK(spk_df_count(K(spk_df_sample(j, 1.0, 3)), &n));
    CHECK_EQ_INT(n, 5);
}

static void test_describe(void) {
    spk_df *d = K(FIX("x INT, s STRING, y DOUBLE\n1,b,NULL\n2,a,NULL\n3,c,NULL\n4,NULL,NULL\nNULL,a,NULL"));
    /* x: count 4, mean 2.5, sample variance (2.25+0.25+0.25+2.25)/3 = 5/3, stddev 1.2909944487358056 */
    spk_df *x = K(spk_df_describe(d, (const char *const[]){"x"}, 1));
    EXPECT_SCHEMA(x, "summary:string,x:string");
    EXPECT_ROWS(spk_df_retain(x), "count,4|mean,2.5|stddev,1.2909944487358056|min,1|max,4");
    /* strings: no mean or stddev; min/max by text */
    EXPECT_ROWS(spk_df_describe(d, (const char *const[]){"s"}, 1), "count,4|mean,NULL|stddev,NULL|min,a|max,c");
    /* an all-NULL column: count 0, the rest NULL */
    EXPECT_ROWS(spk_df_describe(d, (const char *const[]){"y"}, 1), "count,0|mean,NULL|stddev,NULL|min,NULL|max,NULL");
    /* every numeric and STRING column */
    spk_df *all = K(spk_df_describe(d, NULL, 0));
    EXPECT_SCHEMA(all, "summary:string,x:string,s:string,y:string");
    /* one value: stddev NULL */
    EXPECT_ROWS(spk_df_describe(K(FIX("v DOUBLE\n5.5")), NULL, 0), "count,1|mean,5.5|stddev,NULL|min,5.5|max,5.5");
    EXPECT_ERROR(spk_df_describe(d, (const char *const[]){"zz"}, 1), SPK_OK, "zz");
}

static void test_head_take_first(void) {
    spk_df *r = K(spk_df_range(S, 0, 10, 1));
    spk_table *t = NULL;
    CHECK_OK(spk_df_head(r, 3, &t));
    if (t) {
        char *s = table_text(t);
        CHECK_STR(s, "0|1|2");
        free(s);
        spk_table_free(t);
        t = NULL;
    }
    CHECK_OK(spk_df_take(r, 4, &t));
    if (t) {
        char *s = table_text(t);
        CHECK_STR(s, "0|1|2|3");
        free(s);
        spk_table_free(t);
        t = NULL;
    }
    CHECK_OK(spk_df_head(r, 0, &t));
    if (t) CHECK_EQ_INT(spk_table_nrows(t), 0);
    spk_table_free(t);
    t = NULL;
    CHECK_OK(spk_df_head(r, 100, &t));
    if (t) CHECK_EQ_INT(spk_table_nrows(t), 10);
    spk_table_free(t);
    t = NULL;
    CHECK_OK(spk_df_first(r, &t));
    if (t) {
        char *s = table_text(t);
        CHECK_STR(s, "0");
        CHECK_EQ_INT(spk_table_nrows(t), 1);
        free(s);
    }
    spk_table_free(t);
    t = NULL;
    CHECK_OK(spk_df_first(K(spk_df_limit(r, 0)), &t));
    if (t) CHECK_EQ_INT(spk_table_nrows(t), 0);
    spk_table_free(t);
    t = NULL;
    /* head of an ordered join */
    spk_df *j = K(spk_df_join_using(K(FIX(LEFT)), K(FIX(RIGHT)), (const char *const[]){"id"}, 1, "full"));
    spk_df *o = K(spk_df_order_by(j, 3, spk_desc(spk_col("id")), spk_col("v"), spk_col("w")));
    CHECK_OK(spk_df_head(o, 3, &t));
    if (t) {
        char *s = table_text(t);
        CHECK_STR(s, "4,d,NULL|3,NULL,30|2,b,20");
        free(s);
    }
    spk_table_free(t);
    t = NULL;
    CHECK_STATUS(spk_df_head(r, -1, &t), SPK_ERR_ARG);
    spk_table_free(t);
}

typedef struct visit {
    int calls, stop_at;
    long long sum;
    int nulls;
} visit;

static spk_status visit_row(void *user, const spk_value *row, int ncols) {
    visit *v = (visit *)user;
    v->calls++;
    if (ncols != 4) return SPK_ERR_INTERNAL;
    if (row[3].is_null) v->nulls++;
    else v->sum += row[3].as.i32;
    if (v->stop_at && v->calls == v->stop_at) return SPK_ERR_STATE;
    return SPK_OK;
}

static void test_foreach(void) {
    spk_df *a = K(aliased(LEFT, "a")), *b = K(aliased(RIGHT, "b"));
    spk_df *j = K(join_on(a, b, "a.id = b.id", "full"));
    visit v = {0, 0, 0, 0};
    CHECK_OK(spk_df_foreach(j, visit_row, &v));
    /* 9 rows; w: 10 + 20 + 21 + 20 + 21 + 30 + 99 = 221, two NULLs */
    CHECK_EQ_INT(v.calls, 9);
    CHECK_EQ_INT(v.sum, 221);
    CHECK_EQ_INT(v.nulls, 2);
    visit s = {0, 3, 0, 0};
    CHECK_STATUS(spk_df_foreach(j, visit_row, &s), SPK_ERR_STATE);
    CHECK_EQ_INT(s.calls, 3);
    visit e = {0, 0, 0, 0};
    CHECK_OK(spk_df_foreach(K(spk_df_limit(j, 0)), visit_row, &e));
    CHECK_EQ_INT(e.calls, 0);
}

int main(void) {
    FOR_EACH_THREAD_COUNT(round_) {
        if (spk_session_new(NULL, &S) != SPK_OK) {
            fprintf(stderr, "no session: %s\n", spk_last_error());
            return 1;
        }
        RUN_DF(test_join_types);
        RUN_DF(test_join_cross);
        RUN_DF(test_join_null_safe);
        RUN_DF(test_join_empty_sides);
        RUN_DF(test_join_string_and_two_keys);
        RUN_DF(test_join_non_equi_and_residual);
        RUN_DF(test_join_resolution);
        RUN_DF(test_join_schemas);
        RUN_DF(test_join_using);
        RUN_DF(test_join_pruned_plans);
        RUN_DF(test_join_streamed_sides);
        RUN_DF(test_join_streamed_probe);
        RUN_DF(test_set_operations);
        RUN_DF(test_union_by_name);
        RUN_DF(test_drop_duplicates);
        RUN_DF(test_fillna);
        RUN_DF(test_dropna);
        RUN_DF(test_sample);
        RUN_DF(test_describe);
        RUN_DF(test_head_take_first);
        RUN_DF(test_foreach);
        spk_session_free(S);
    }
    return TEST_REPORT();
}
