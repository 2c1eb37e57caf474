/* DataFrames: every transformation and action, checked against what PySpark
 * 3.5 prints or returns on the same data. Expected rows, show() tables and
 * printSchema trees are written out by hand from Spark's semantics and
 * Dataset.showString's format; nothing expected is computed by the library.
 * Rows whose order Spark leaves unspecified (groupBy, distinct, joins) are
 * compared as sorted multisets. */
#include "test.h"
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

static void expect_show_at(const char *file, int line, spk_df *df, int n, int truncate, bool vertical, const char *want) {
    if (!df) {
        failf(file, line, "DataFrame is NULL: %s", spk_last_error());
        return;
    }
    char *got = NULL;
    spk_status st = spk_df_show_string(df, n, truncate, vertical, &got);
    if (st != SPK_OK) {
        failf(file, line, "show_string failed: %s %s", spk_status_name(st), spk_last_error());
        return;
    }
    if (strcmp(got, want) != 0) failf(file, line, "show(%d, %d, %s)\n--- got:\n%s--- expected:\n%s---", n, truncate,
                                      vertical ? "vertical" : "horizontal", got, want);
    spk_string_free(got);
}
#define EXPECT_SHOW(df, n, tr, v, want) expect_show_at(__FILE__, __LINE__, (df), (n), (tr), (v), (want))

static spk_df *fixture_at(const char *file, int line, const char *text) {
    spk_df *df = spk_df_from_fixture(S, text);
    if (!df) failf(file, line, "fixture failed: %s", spk_last_error());
    return df;
}
#define FIX(text) fixture_at(__FILE__, __LINE__, (text))

/* Intermediate DataFrames of a chain (DataFrame arguments are borrowed):
 * K(x) keeps x until the end of the current test, then releases it. */
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

static spk_expr *count_star(void) { return spk_call("count", 1, spk_star()); }
static spk_expr *fn1(const char *f, const char *col) { return spk_call(f, 1, spk_col(col)); }

/* ------------------------------------------------------------ data */

#define PEOPLE "id INT, name STRING, dept STRING, salary INT, bonus DOUBLE\n" \
               "1,Alice,eng,100,1.5\n"                                     \
               "2,Bob,eng,80,NULL\n"                                       \
               "3,Carol,ops,90,2.0\n"                                      \
               "4,Dan,NULL,70,0.5\n"                                       \
               "5,Eve,ops,NULL,NULL\n"                                     \
               "6,Frank,NULL,60,1.0\n"

#define SALES "k1 STRING, k2 INT, v INT\n" \
              "a,1,10\n"                  \
              "a,1,20\n"                  \
              "a,2,NULL\n"                \
              "b,1,5\n"                   \
              "NULL,1,7\n"                \
              "NULL,1,NULL\n"             \
              "a,NULL,3\n"                \
              "a,NULL,3\n"

#define SORTDATA "id INT, a INT, s STRING\n" \
                 "1,2,x\n"                  \
                 "2,NULL,y\n"               \
                 "3,1,z\n"                  \
                 "4,2,w\n"                  \
                 "5,NULL,v\n"               \
                 "6,1,u\n"

/* ------------------------------------------------------------ sources */

static void test_sources(void) {
    spk_df *p = FIX(PEOPLE);
    EXPECT_SCHEMA(p, "id:int,name:string,dept:string,salary:int,bonus:double");
    EXPECT_ROWS(spk_df_retain(p), "1,Alice,eng,100,1.5|2,Bob,eng,80,NULL|3,Carol,ops,90,2.0|4,Dan,NULL,70,0.5|"
                                  "5,Eve,ops,NULL,NULL|6,Frank,NULL,60,1.0");
    spk_df_release(p);

    /* from_table: the DataFrame takes the table over */
    spk_schema *schema = NULL;
    spk_table *t = NULL;
    CHECK_OK(spk_schema_parse(NULL, "x BIGINT, s STRING", &schema));
    CHECK_OK(spk_table_new(NULL, schema, &t));
    spk_schema_release(schema);
    CHECK_OK(spk_table_append(t, spk_value_i64(7), spk_value_str("seven")));
    CHECK_OK(spk_table_append(t, spk_value_null(), spk_value_str("none")));
    spk_df *d = spk_df_from_table(S, t);
    EXPECT_SCHEMA(d, "x:bigint,s:string");
    EXPECT_ROWS(d, "7,seven|NULL,none");

    /* collect gives the caller its own copy: two collects, both freed */
    spk_df *e = FIX("a INT\n1\n2");
    spk_table *t1 = NULL, *t2 = NULL;
    CHECK_OK(spk_df_collect(e, &t1));
    CHECK_OK(spk_df_collect(e, &t2));
    CHECK(t1 && t2 && t1 != t2);
    CHECK_EQ_INT(t1 ? spk_table_nrows(t1) : 0, 2);
    spk_table_free(t1);
    spk_table_free(t2);
    spk_df_release(e);

    /* bad fixture: NULL with the error */
    EXPECT_ERROR(spk_df_from_fixture(S, "a INT\nx1"), SPK_OK, "x1");
    EXPECT_ERROR(spk_df_from_table(S, NULL), SPK_ERR_ARG, "");
}

static void test_range(void) {
    spk_df *r = spk_df_range(S, 0, 10, 3);
    EXPECT_SCHEMA(r, "id:bigint");
    EXPECT_ROWS(r, "0|3|6|9");
    EXPECT_ROWS(spk_df_range(S, 10, 0, -3), "10|7|4|1");
    EXPECT_ROWS(spk_df_range(S, -5, -1, 2), "-5|-3");
    EXPECT_ROWS(spk_df_range(S, 0, 5, 1), "0|1|2|3|4");
    EXPECT_ROWS(spk_df_range(S, 0, 0, 1), "");
    EXPECT_ROWS(spk_df_range(S, 0, 10, -1), "");
    EXPECT_ROWS(spk_df_range(S, 10, 0, 1), "");
    EXPECT_ROWS(spk_df_range(S, 3, 4, 100), "3");
    EXPECT_ROWS(spk_df_range(S, INT64_MAX - 5, INT64_MAX, 4), "9223372036854775802|9223372036854775806");
    EXPECT_ROWS(spk_df_range(S, INT64_MIN + 5, INT64_MIN, -4), "-9223372036854775803|-9223372036854775807");
    EXPECT_ERROR(spk_df_range(S, 0, 10, 0), SPK_ERR_ARG, "");
    int64_t n = 0;
    spk_df *big = spk_df_range(S, 0, 100000, 7);
    CHECK_OK(spk_df_count(big, &n));
    CHECK_EQ_INT(n, 14286);
    spk_df_release(big);
    big = spk_df_range(S, 5000, -5000, -1);
    CHECK_OK(spk_df_count(big, &n));
    CHECK_EQ_INT(n, 10000);
    spk_df_release(big);
}

/* ------------------------------------------------------------ select & friends */

static void test_select(void) {
    spk_df *p = FIX(PEOPLE);
    spk_df *s = spk_df_select(p, 2, spk_col("name"), spk_col("id"));
    EXPECT_SCHEMA(s, "name:string,id:int");
    EXPECT_ROWS(s, "Alice,1|Bob,2|Carol,3|Dan,4|Eve,5|Frank,6");

    /* select("*") with both spellings, and * next to other columns */
    s = spk_df_select(p, 1, spk_col("*"));
    EXPECT_SCHEMA(s, "id:int,name:string,dept:string,salary:int,bonus:double");
    EXPECT_ROWS(s, "1,Alice,eng,100,1.5|2,Bob,eng,80,NULL|3,Carol,ops,90,2.0|4,Dan,NULL,70,0.5|"
                   "5,Eve,ops,NULL,NULL|6,Frank,NULL,60,1.0");
    s = spk_df_select(p, 2, spk_star(), spk_col("id"));
    EXPECT_SCHEMA(s, "id:int,name:string,dept:string,salary:int,bonus:double,id:int");
    spk_df_release(s);

    /* expressions get Spark's names */
    s = spk_df_select(p, 3, spk_add(spk_col("id"), spk_lit_i32(1)), spk_call("upper", 1, spk_col("name")),
                      spk_alias(spk_mul(spk_col("salary"), spk_lit_i32(2)), "double_pay"));
    EXPECT_SCHEMA(s, "(id + 1):int,upper(name):string,double_pay:int");
    EXPECT_ROWS(s, "2,ALICE,200|3,BOB,160|4,CAROL,180|5,DAN,140|6,EVE,NULL|7,FRANK,120");

    /* selectExpr */
    s = spk_df_select_expr(p, 3, "id * 2 AS dbl", "lower(name)", "salary / 4");
    EXPECT_SCHEMA(s, "dbl:int,lower(name):string,(salary / 4):double");
    EXPECT_ROWS(spk_df_limit(s, 2), "2,alice,25.0|4,bob,20.0");
    spk_df_release(s);
    EXPECT_ERROR(spk_df_select_expr(p, 1, "id +"), SPK_ERR_PARSE, "");

    /* literals only */
    s = spk_df_select(p, 1, spk_lit_str("k"));
    EXPECT_SCHEMA(s, "k:string");
    EXPECT_ROWS(s, "k|k|k|k|k|k");

    /* duplicate column names are allowed in results */
    s = spk_df_select(p, 3, spk_col("id"), spk_col("id"), spk_alias(spk_col("name"), "id"));
    EXPECT_SCHEMA(s, "id:int,id:int,id:string");
    EXPECT_ROWS(spk_df_limit(s, 2), "1,1,Alice|2,2,Bob");
    /* ...but referring to one of them is ambiguous */
    EXPECT_ERROR(spk_df_select(s, 1, spk_col("id")), SPK_ERR_AMBIGUOUS, "`id`");
    EXPECT_ERROR(spk_df_where(s, "id > 1"), SPK_ERR_AMBIGUOUS, "`id`");
    spk_df_release(s);

    /* resolution is case-insensitive by default */
    EXPECT_ROWS(spk_df_select(K(spk_df_where(p, "ID < 3")), 1, spk_col("NAME")), "Alice|Bob");

    /* backquoted names with dots */
    spk_df *q = FIX("`a.b` INT, c INT\n1,2");
    s = spk_df_select(q, 1, spk_col("`a.b`"));
    EXPECT_SCHEMA(s, "a.b:int");
    EXPECT_ROWS(s, "1");
    spk_df_release(q);

    /* zero columns */
    s = spk_df_select(p, 0);
    EXPECT_SCHEMA(s, "");
    int64_t n = -1;
    CHECK_OK(spk_df_count(s, &n));
    CHECK_EQ_INT(n, 6);
    spk_df_release(s);
    spk_df_release(p);
}

static void test_errors(void) {
    spk_df *p = FIX(PEOPLE);
    /* misspelt columns name themselves with suggestions */
    EXPECT_ERROR(spk_df_where(p, "nmae = 'Bob'"), SPK_ERR_NOT_FOUND, "UNRESOLVED_COLUMN", "`nmae`", "Did you mean",
                 "`name`");
    EXPECT_ERROR(spk_df_select(p, 1, spk_col("salery")), SPK_ERR_NOT_FOUND, "`salery`", "`salary`");
    EXPECT_ERROR(spk_df_filter(p, spk_gt(spk_col("bonsu"), spk_lit_i32(1))), SPK_ERR_NOT_FOUND, "`bonsu`", "`bonus`");
    EXPECT_ERROR(spk_df_with_column(p, "x", spk_col("idd")), SPK_ERR_NOT_FOUND, "`idd`", "`id`");
    EXPECT_ERROR(spk_df_order_by(p, 1, spk_col("nam")), SPK_ERR_NOT_FOUND, "`nam`", "`name`");
    spk_expr *k = spk_col("dpt"), *a = count_star();
    EXPECT_ERROR(spk_df_group_agg(p, &k, 1, &a, 1), SPK_ERR_NOT_FOUND, "`dpt`", "`dept`");
    /* an aggregate in WHERE */
    EXPECT_ERROR(spk_df_where(p, "sum(salary) > 10"), SPK_OK, "INVALID_WHERE_CONDITION");
    EXPECT_ERROR(spk_df_filter(p, spk_gt(fn1("max", "id"), spk_lit_i32(1))), SPK_OK, "INVALID_WHERE_CONDITION");
    /* a non-boolean filter */
    EXPECT_ERROR(spk_df_where(p, "salary"), SPK_ERR_TYPE, "FILTER_NOT_BOOLEAN");
    /* a column in agg that is not grouped */
    k = spk_col("dept");
    a = spk_col("name");
    EXPECT_ERROR(spk_df_group_agg(p, &k, 1, &a, 1), SPK_OK, "[MISSING_AGGREGATION]", "name");
    k = spk_col("dept");
    a = spk_add(fn1("sum", "salary"), spk_col("salary"));
    EXPECT_ERROR(spk_df_group_agg(p, &k, 1, &a, 1), SPK_OK, "[MISSING_AGGREGATION]", "salary");
    EXPECT_ERROR(spk_df_agg(p, 2, count_star(), spk_col("id")), SPK_OK, "[MISSING_AGGREGATION]", "id");
    EXPECT_ERROR(spk_df_select(p, 2, fn1("sum", "salary"), spk_col("id")), SPK_OK, "MISSING_AGGREGATION");
    /* an aggregate as a grouping key */
    k = fn1("sum", "id");
    a = count_star();
    EXPECT_ERROR(spk_df_group_agg(p, &k, 1, &a, 1), SPK_OK, "GROUP_BY_AGGREGATE");
    /* union of different widths */
    spk_df *two = spk_df_select(p, 2, spk_col("id"), spk_col("name"));
    EXPECT_ERROR(spk_df_union(p, two), SPK_ERR_SCHEMA, "NUM_COLUMNS_MISMATCH", "5", "2");
    spk_df_release(two);
    /* negative limits */
    EXPECT_ERROR(spk_df_limit(p, -1), SPK_ERR_ARG, "");
    EXPECT_ERROR(spk_df_offset(p, -3), SPK_ERR_ARG, "");
    /* a failure propagates through a chain as NULL, showing once at the end */
    spk_clear_error();
    spk_df *chain = spk_df_limit(K(spk_df_where(p, "nope > 1")), 3);
    CHECK(chain == NULL);
    CHECK_CONTAINS(spk_last_error(), "`nope`");
    spk_df_release(chain);
    CHECK(spk_df_select(NULL, 1, spk_col("x")) == NULL); /* the expression is consumed (LSan) */
    CHECK(spk_df_filter(NULL, spk_lit_bool(true)) == NULL);
    CHECK(spk_df_with_column(NULL, "x", spk_lit_i32(1)) == NULL);
    CHECK(spk_df_union(p, NULL) == NULL);
    spk_table *t = (spk_table *)1;
    CHECK(spk_df_collect(NULL, &t) != SPK_OK);
    CHECK(t == NULL);
    int64_t n;
    CHECK(spk_df_count(NULL, &n) != SPK_OK);
    char *str = NULL;
    CHECK(spk_df_show_string(NULL, 20, 20, false, &str) != SPK_OK);
    CHECK(str == NULL);
    spk_df_release(p);
}

/* PySpark raises AnalysisException for every analysis error. */
static void test_error_categories(void) {
    spk_df *p = FIX(PEOPLE);
    CHECK(spk_df_where(p, "sum(salary) > 10") == NULL);
    CHECK_STR(spk_status_category(spk_last_status()), "AnalysisException");
    spk_expr *k = spk_col("dept"), *a = spk_col("name");
    CHECK(spk_df_group_agg(p, &k, 1, &a, 1) == NULL);
    CHECK_STR(spk_status_category(spk_last_status()), "AnalysisException");
    CHECK(spk_df_where(p, "nmae = 1") == NULL);
    CHECK_STR(spk_status_category(spk_last_status()), "AnalysisException");
    spk_df_release(p);
}

static void test_alias(void) {
    spk_df *p = FIX(PEOPLE);
    spk_df *t = spk_df_alias(p, "t");
    EXPECT_SCHEMA(t, "id:int,name:string,dept:string,salary:int,bonus:double");
    spk_df *s = spk_df_select(t, 1, spk_col("t.*"));
    EXPECT_SCHEMA(s, "id:int,name:string,dept:string,salary:int,bonus:double");
    EXPECT_ROWS(spk_df_limit(s, 1), "1,Alice,eng,100,1.5");
    spk_df_release(s);
    s = spk_df_select(t, 2, spk_col("t.name"), spk_col("t.id"));
    EXPECT_SCHEMA(s, "name:string,id:int");
    EXPECT_ROWS(spk_df_limit(s, 2), "Alice,1|Bob,2");
    spk_df_release(s);
    EXPECT_ROWS(spk_df_select_expr(K(spk_df_where(t, "t.id > 4")), 1, "t.name"), "Eve|Frank");
    /* unqualified names still resolve */
    EXPECT_ROWS(spk_df_select(K(spk_df_where(t, "id = 2")), 1, spk_col("name")), "Bob");
    /* the qualifier survives a filter, a sort and a projection */
    spk_df *chain = spk_df_select(K(spk_df_order_by(K(spk_df_where(t, "salary >= 90")), 1, spk_desc(spk_col("t.id")))), 1,
                                  spk_col("t.id"));
    EXPECT_ROWS(spk_df_select(chain, 1, spk_col("t.id")), "3|1");
    spk_df_release(chain);
    /* a wrong qualifier */
    EXPECT_ERROR(spk_df_select(t, 1, spk_col("u.id")), SPK_ERR_NOT_FOUND, "");
    EXPECT_ERROR(spk_df_select(t, 1, spk_col("u.*")), SPK_OK, "");
    EXPECT_ERROR(spk_df_alias(p, ""), SPK_ERR_ARG, "");
    /* re-aliasing replaces the qualifier */
    spk_df *u = spk_df_alias(t, "u");
    EXPECT_ROWS(spk_df_select(K(spk_df_limit(u, 1)), 1, spk_col("u.name")), "Alice");
    EXPECT_ERROR(spk_df_select(u, 1, spk_col("t.name")), SPK_ERR_NOT_FOUND, "");
    spk_df_release(u);
    spk_df_release(t);
    spk_df_release(p);
}

static void test_with_column(void) {
    spk_df *p = FIX(PEOPLE);
    /* replacing keeps the position */
    spk_df *w = spk_df_with_column(p, "salary", spk_mul(spk_col("salary"), spk_lit_i32(2)));
    EXPECT_SCHEMA(w, "id:int,name:string,dept:string,salary:int,bonus:double");
    EXPECT_ROWS(spk_df_select(w, 1, spk_col("salary")), "200|160|180|140|NULL|120");
    spk_df_release(w);
    /* replacing with another type */
    w = spk_df_with_column(p, "id", spk_cast(spk_col("id"), spk_type_of(SPK_TYPE_STRING)));
    EXPECT_SCHEMA(w, "id:string,name:string,dept:string,salary:int,bonus:double");
    spk_df_release(w);
    /* a new column goes last */
    w = spk_df_with_column(p, "flag", spk_gt(spk_col("id"), spk_lit_i32(3)));
    EXPECT_SCHEMA(w, "id:int,name:string,dept:string,salary:int,bonus:double,flag:boolean");
    EXPECT_ROWS(spk_df_select(w, 1, spk_col("flag")), "false|false|false|true|true|true");
    /* chained, the new column usable at once */
    spk_df *w2 = spk_df_with_column(w, "n2", spk_when(NULL, spk_col("flag"), spk_col("name")));
    EXPECT_ROWS(spk_df_select(w2, 1, spk_col("n2")), "NULL|NULL|NULL|Dan|Eve|Frank");
    spk_df_release(w2);
    spk_df_release(w);
    /* a name differing only in case replaces, case-insensitively */
    w = spk_df_with_column(p, "ID", spk_lit_i32(0));
    CHECK_EQ_INT(spk_schema_ncols(spk_df_schema(w)), 5);
    EXPECT_ROWS(spk_df_select(w, 1, spk_col("id")), "0|0|0|0|0|0");
    spk_df_release(w);

    /* withColumnRenamed: in place; a missing name is a no-op */
    spk_df *r = spk_df_with_column_renamed(p, "name", "full_name");
    EXPECT_SCHEMA(r, "id:int,full_name:string,dept:string,salary:int,bonus:double");
    EXPECT_ROWS(spk_df_select(K(spk_df_limit(r, 1)), 1, spk_col("full_name")), "Alice");
    EXPECT_ERROR(spk_df_select(r, 1, spk_col("name")), SPK_ERR_NOT_FOUND, "`name`");
    spk_df_release(r);
    r = spk_df_with_column_renamed(p, "nope", "x");
    EXPECT_SCHEMA(r, "id:int,name:string,dept:string,salary:int,bonus:double");
    spk_df_release(r);
    r = spk_df_with_column_renamed(p, "DEPT", "team");
    EXPECT_SCHEMA(r, "id:int,name:string,team:string,salary:int,bonus:double");
    spk_df_release(r);
    /* renaming onto an existing name gives duplicates, as Spark */
    r = spk_df_with_column_renamed(p, "dept", "name");
    EXPECT_SCHEMA(r, "id:int,name:string,name:string,salary:int,bonus:double");
    spk_df_release(r);

    /* drop */
    spk_df *d = spk_df_drop(p, 2, "dept", "nope");
    EXPECT_SCHEMA(d, "id:int,name:string,salary:int,bonus:double");
    EXPECT_ROWS(spk_df_limit(d, 1), "1,Alice,100,1.5");
    spk_df_release(d);
    d = spk_df_drop(p, 1, "missing");
    EXPECT_SCHEMA(d, "id:int,name:string,dept:string,salary:int,bonus:double");
    EXPECT_ROWS(d, "1,Alice,eng,100,1.5|2,Bob,eng,80,NULL|3,Carol,ops,90,2.0|4,Dan,NULL,70,0.5|"
                   "5,Eve,ops,NULL,NULL|6,Frank,NULL,60,1.0");
    d = spk_df_drop(p, 1, "BONUS");
    EXPECT_SCHEMA(d, "id:int,name:string,dept:string,salary:int");
    spk_df_release(d);
    d = spk_df_drop(p, 5, "id", "name", "dept", "salary", "bonus");
    EXPECT_SCHEMA(d, "");
    int64_t n = -1;
    CHECK_OK(spk_df_count(d, &n));
    CHECK_EQ_INT(n, 6);
    spk_df_release(d);
    spk_df_release(p);
}

/* ------------------------------------------------------------ filter */

static void test_filter(void) {
    spk_df *p = FIX(PEOPLE);
    EXPECT_ROWS(spk_df_select(K(spk_df_where(p, "salary > 75")), 1, spk_col("id")), "1|2|3");
    /* NULL conditions drop the row */
    EXPECT_ROWS(spk_df_select(K(spk_df_where(p, "dept = 'eng' OR bonus > 0.9")), 1, spk_col("id")), "1|2|3|6");
    EXPECT_ROWS(spk_df_select(K(spk_df_where(p, "NOT (salary > 75)")), 1, spk_col("id")), "4|6");
    EXPECT_ROWS(spk_df_select(K(spk_df_where(p, "dept IS NULL")), 1, spk_col("id")), "4|6");
    EXPECT_ROWS(spk_df_select(K(spk_df_where(p, "name IN ('Bob', 'Eve', 'Zed')")), 1, spk_col("id")), "2|5");
    EXPECT_ROWS(spk_df_select(K(spk_df_where(p, "id BETWEEN 2 AND 4")), 1, spk_col("id")), "2|3|4");
    EXPECT_ROWS(spk_df_select(K(spk_df_where(p, "name LIKE '%a%'")), 1, spk_col("id")), "3|4|6");
    EXPECT_ROWS(spk_df_where(p, "false"), "");
    EXPECT_ROWS(spk_df_where(p, "NULL"), "");
    EXPECT_ROWS(spk_df_select(K(spk_df_where(p, "true")), 1, spk_col("id")), "1|2|3|4|5|6");
    /* filter with a built expression, twice (conjunction) */
    spk_df *f = spk_df_filter(K(spk_df_filter(p, spk_is_not_null(spk_col("bonus")))), spk_lt(spk_col("id"), spk_lit_i32(5)));
    EXPECT_ROWS(spk_df_select(f, 2, spk_col("id"), spk_col("bonus")), "1,1.5|3,2.0|4,0.5");
    spk_df_release(f);
    /* filter over a projection's alias */
    spk_df *s = spk_df_select_expr(p, 2, "id", "salary * 2 AS s2");
    EXPECT_ROWS(spk_df_where(s, "s2 >= 160"), "1,200|2,160|3,180");
    spk_df_release(s);
    /* a multi-batch filter: 5000 rows, every 7th kept */
    spk_df *r = spk_df_range(S, 0, 5000, 1);
    f = spk_df_where(r, "id % 7 = 0");
    int64_t n = -1;
    CHECK_OK(spk_df_count(f, &n));
    CHECK_EQ_INT(n, 715); /* 0, 7, ..., 4998 */
    EXPECT_ROWS(spk_df_offset(f, 713), "4991|4998");
    spk_df_release(f);
    spk_df_release(r);
    spk_df_release(p);
}

/* ------------------------------------------------------------ limit / offset */

static void test_limit_offset(void) {
    spk_df *r = spk_df_range(S, 1, 7, 1); /* 1..6 */
    EXPECT_ROWS(spk_df_limit(r, 3), "1|2|3");
    EXPECT_ROWS(spk_df_limit(r, 0), "");
    EXPECT_ROWS(spk_df_limit(r, 100), "1|2|3|4|5|6");
    EXPECT_ROWS(spk_df_offset(r, 2), "3|4|5|6");
    EXPECT_ROWS(spk_df_offset(r, 0), "1|2|3|4|5|6");
    EXPECT_ROWS(spk_df_offset(r, 6), "");
    EXPECT_ROWS(spk_df_offset(r, 100), "");
    spk_df *x = spk_df_limit(r, 5);
    EXPECT_ROWS(spk_df_offset(x, 2), "3|4|5"); /* limit then offset */
    EXPECT_ROWS(spk_df_limit(x, 2), "1|2");
    EXPECT_ROWS(spk_df_limit(x, 9), "1|2|3|4|5");
    spk_df_release(x);
    x = spk_df_offset(r, 2);
    EXPECT_ROWS(spk_df_limit(x, 3), "3|4|5"); /* offset then limit */
    EXPECT_ROWS(spk_df_offset(x, 1), "4|5|6");
    EXPECT_ROWS(spk_df_limit(K(spk_df_offset(x, 3)), 5), "6");
    spk_df_release(x);
    /* after a sort, after a filter */
    EXPECT_ROWS(spk_df_limit(K(spk_df_order_by(r, 1, spk_desc(spk_col("id")))), 2), "6|5");
    x = spk_df_order_by(r, 1, spk_desc(spk_col("id")));
    EXPECT_ROWS(spk_df_limit(K(spk_df_offset(x, 1)), 2), "5|4");
    spk_df_release(x);
    x = spk_df_where(r, "id % 2 = 0");
    EXPECT_ROWS(spk_df_limit(K(spk_df_offset(x, 1)), 1), "4");
    spk_df_release(x);
    /* a filter after a limit sees only the limited rows */
    x = spk_df_limit(r, 3);
    EXPECT_ROWS(spk_df_where(x, "id > 2"), "3");
    spk_df_release(x);
    /* a limit across many batches */
    spk_df *big = spk_df_range(S, 0, 10000, 1);
    EXPECT_ROWS(spk_df_offset(K(spk_df_limit(big, 4098)), 4095), "4095|4096|4097");
    int64_t n = -1;
    x = spk_df_limit(big, 4321);
    CHECK_OK(spk_df_count(x, &n));
    CHECK_EQ_INT(n, 4321);
    spk_df_release(x);
    x = spk_df_offset(big, 9000);
    CHECK_OK(spk_df_count(x, &n));
    CHECK_EQ_INT(n, 1000);
    spk_df_release(x);
    spk_df_release(big);
    spk_df_release(r);
}

/* ------------------------------------------------------------ orderBy */

static void test_order_by(void) {
    spk_df *d = FIX(SORTDATA);
    EXPECT_ROWS(spk_df_select(K(spk_df_order_by(d, 1, spk_col("a"))), 1, spk_col("id")), "2|5|3|6|1|4");
    EXPECT_ROWS(spk_df_select(K(spk_df_order_by(d, 1, spk_asc(spk_col("a")))), 1, spk_col("id")), "2|5|3|6|1|4");
    EXPECT_ROWS(spk_df_select(K(spk_df_order_by(d, 1, spk_desc(spk_col("a")))), 1, spk_col("id")), "1|4|3|6|2|5");
    EXPECT_ROWS(spk_df_select(K(spk_df_order_by(d, 1, spk_asc_nulls_last(spk_col("a")))), 1, spk_col("id")),
                "3|6|1|4|2|5");
    EXPECT_ROWS(spk_df_select(K(spk_df_order_by(d, 1, spk_desc_nulls_first(spk_col("a")))), 1, spk_col("id")),
                "2|5|1|4|3|6");
    EXPECT_ROWS(spk_df_select(K(spk_df_order_by(d, 2, spk_col("a"), spk_desc(spk_col("id")))), 1, spk_col("id")),
                "5|2|6|3|4|1");
    EXPECT_ROWS(spk_df_select(K(spk_df_order_by(d, 2, spk_desc(spk_col("a")), spk_asc(spk_col("s")))), 1, spk_col("id")),
                "4|1|6|3|5|2");
    EXPECT_ROWS(spk_df_select(K(spk_df_order_by(d, 1, spk_col("s"))), 1, spk_col("s")), "u|v|w|x|y|z");
    EXPECT_ROWS(spk_df_select(K(spk_df_order_by(d, 1, spk_desc(spk_col("s")))), 1, spk_col("s")), "z|y|x|w|v|u");
    /* by an expression that is not an output column */
    EXPECT_ROWS(spk_df_select(K(spk_df_order_by(d, 1, spk_desc(spk_mod(spk_col("id"), spk_lit_i32(3))))), 1, spk_col("id")),
                "2|5|1|4|3|6");
    /* the sort is stable: equal keys keep their input order */
    spk_df *st = FIX("k INT, seq INT\n1,1\n0,2\n1,3\n0,4\n1,5\n0,6\n1,7\n0,8");
    EXPECT_ROWS(spk_df_select(K(spk_df_order_by(st, 1, spk_col("k"))), 1, spk_col("seq")), "2|4|6|8|1|3|5|7");
    EXPECT_ROWS(spk_df_select(K(spk_df_order_by(st, 1, spk_desc(spk_col("k")))), 1, spk_col("seq")), "1|3|5|7|2|4|6|8");
    spk_df_release(st);
    /* doubles: -0.0 equals 0.0, NaN is largest, NULL first ascending */
    spk_df *dd = FIX("x DOUBLE, i INT\nNaN,1\n1.5,2\nNULL,3\n-Infinity,4\n0.0,5\n-0.0,6\nInfinity,7");
    EXPECT_ROWS(spk_df_select(K(spk_df_order_by(dd, 1, spk_col("x"))), 1, spk_col("i")), "3|4|5|6|2|7|1");
    EXPECT_ROWS(spk_df_select(K(spk_df_order_by(dd, 1, spk_desc(spk_col("x")))), 1, spk_col("i")), "1|7|2|5|6|4|3");
    spk_df_release(dd);
    /* a big sort: 5000 rows, descending by id % 1000 then id */
    spk_df *r = spk_df_range(S, 0, 5000, 1);
    spk_df *o = spk_df_order_by(r, 2, spk_desc(spk_mod(spk_col("id"), spk_lit_i64(1000))), spk_col("id"));
    EXPECT_ROWS(spk_df_limit(o, 6), "999|1999|2999|3999|4999|998");
    spk_df_release(o);
    spk_df_release(r);
    EXPECT_ERROR(spk_df_order_by(d, 0), SPK_ERR_ARG, "");
    spk_df_release(d);
}

/* A limit right above a sort keeps only its window (top-k, or selection
 * for an offset); the result must be the full sort's rows in that window. */
static void test_sort_limit_window(void) {
    spk_df *d = FIX("id INT, k INT, s STRING\n1,5,b\n2,NULL,a\n3,7,c\n4,5,a\n5,NULL,b\n6,7,a\n7,5,c\n8,1,NULL");
    spk_df *by_k = K(spk_df_order_by(d, 1, spk_desc(spk_col("k"))));
    /* ties keep input order; NULLs last descending */
    EXPECT_ROWS(spk_df_select(K(spk_df_limit(by_k, 3)), 1, spk_col("id")), "3|6|1");
    EXPECT_ROWS(spk_df_select(K(spk_df_limit(K(spk_df_offset(by_k, 2)), 3)), 1, spk_col("id")), "1|4|7");
    EXPECT_ROWS(spk_df_select(K(spk_df_limit(K(spk_df_offset(by_k, 6)), 5)), 1, spk_col("id")), "2|5");
    EXPECT_ROWS(spk_df_select(K(spk_df_offset(by_k, 5)), 1, spk_col("id")), "8|2|5");
    EXPECT_ROWS(spk_df_select(K(spk_df_limit(K(spk_df_offset(by_k, 8)), 3)), 1, spk_col("id")), "");
    EXPECT_ROWS(spk_df_select(K(spk_df_limit(K(spk_df_offset(by_k, 100)), 3)), 1, spk_col("id")), "");
    EXPECT_ROWS(spk_df_select(K(spk_df_limit(by_k, 100)), 1, spk_col("id")), "3|6|1|4|7|8|2|5");
    /* the explicit NULL orders */
    EXPECT_ROWS(spk_df_select(K(spk_df_limit(K(spk_df_order_by(d, 1, spk_desc_nulls_first(spk_col("k")))), 3)), 1,
                              spk_col("id")),
                "2|5|3");
    EXPECT_ROWS(spk_df_select(K(spk_df_limit(K(spk_df_order_by(d, 1, spk_asc_nulls_last(spk_col("k")))), 2)), 1,
                              spk_col("id")),
                "8|1");
    EXPECT_ROWS(spk_df_select(K(spk_df_limit(K(spk_df_offset(K(spk_df_order_by(d, 1, spk_asc_nulls_last(spk_col("k")))), 6)), 2)),
                              1, spk_col("id")),
                "2|5");
    /* multi-key mixes: strings descending (NULLS LAST) under an integer ascending (NULLS FIRST) */
    spk_df *mix = K(spk_df_order_by(d, 2, spk_asc(spk_col("k")), spk_desc(spk_col("s"))));
    EXPECT_ROWS(spk_df_select(mix, 1, spk_col("id")), "5|2|8|7|1|4|3|6");
    EXPECT_ROWS(spk_df_select(K(spk_df_limit(K(spk_df_offset(mix, 3)), 3)), 1, spk_col("id")), "7|1|4");
    EXPECT_ROWS(spk_df_select(K(spk_df_limit(K(spk_df_order_by(d, 2, spk_asc_nulls_last(spk_col("s")), spk_desc(spk_col("id")))), 4)), 1,
                              spk_col("id")),
                "6|4|2|5");
    /* a limit over a projection of columns over the sort's input (read through) */
    spk_df *p = K(spk_df_select(d, 2, spk_col("s"), spk_alias(spk_col("id"), "n")));
    EXPECT_ROWS(spk_df_limit(K(spk_df_offset(K(spk_df_order_by(p, 2, spk_desc(spk_col("s")), spk_desc(spk_col("n")))), 1)), 3),
                "c,3|b,5|b,1");
    spk_df_release(d);

    /* strings sharing their first 8 bytes, and long ones: the fallback to the whole strings */
    spk_df *t = FIX("i INT, s STRING\n1,abcdefgh\n2,abcdefghb\n3,abcdefg\n4,abcdefgha\n5,abcdefgh\n6,abcdefghab\n7,z\n8,NULL");
    EXPECT_ROWS(spk_df_select(K(spk_df_order_by(t, 1, spk_col("s"))), 1, spk_col("i")), "8|3|1|5|4|6|2|7");
    EXPECT_ROWS(spk_df_select(K(spk_df_order_by(t, 1, spk_desc(spk_col("s")))), 1, spk_col("i")), "7|2|6|4|1|5|3|8");
    EXPECT_ROWS(spk_df_select(K(spk_df_limit(K(spk_df_offset(K(spk_df_order_by(t, 1, spk_desc(spk_col("s")))), 2)), 3)), 1, spk_col("i")),
                "6|4|1");
    spk_df_release(t);

    /* the whole BIGINT range with NULLs (a field of 65 bits), booleans, dates */
    spk_df *w = FIX("i INT, x BIGINT, b BOOLEAN, d DATE\n1,9223372036854775807,true,2024-01-02\n"
                    "2,-9223372036854775808,false,NULL\n3,NULL,NULL,1969-12-31\n4,0,true,2024-01-02\n5,-1,false,1970-01-01");
    EXPECT_ROWS(spk_df_select(K(spk_df_order_by(w, 1, spk_col("x"))), 1, spk_col("i")), "3|2|5|4|1");
    EXPECT_ROWS(spk_df_select(K(spk_df_order_by(w, 1, spk_desc(spk_col("x")))), 1, spk_col("i")), "1|4|5|2|3");
    EXPECT_ROWS(spk_df_select(K(spk_df_limit(K(spk_df_order_by(w, 1, spk_asc_nulls_last(spk_col("x")))), 2)), 1, spk_col("i")), "2|5");
    EXPECT_ROWS(spk_df_select(K(spk_df_order_by(w, 2, spk_desc(spk_col("b")), spk_desc(spk_col("i")))), 1, spk_col("i")), "4|1|5|2|3");
    EXPECT_ROWS(spk_df_select(K(spk_df_order_by(w, 1, spk_desc_nulls_first(spk_col("d")))), 1, spk_col("i")), "2|1|4|5|3");
    spk_df_release(w);

    /* doubles in a window: -0.0 equals 0.0 (input order), NaN largest */
    spk_df *dd = FIX("x DOUBLE, i INT\nNaN,1\n1.5,2\nNULL,3\n-Infinity,4\n0.0,5\n-0.0,6\nInfinity,7\n-0.0,8\nNaN,9");
    EXPECT_ROWS(spk_df_select(K(spk_df_limit(K(spk_df_offset(K(spk_df_order_by(dd, 1, spk_col("x"))), 2)), 3)), 1, spk_col("i")), "5|6|8");
    EXPECT_ROWS(spk_df_select(K(spk_df_limit(K(spk_df_order_by(dd, 1, spk_desc(spk_col("x")))), 3)), 1, spk_col("i")), "1|9|7");
    spk_df_release(dd);
}

/* Orders of the big sort test: by (id * 7919) % 1013 descending, then id % 7,
 * then id (input order); as text, by the decimal string of the first. */
static int big_key(int64_t id) { return (int)(id * 7919 % 1013); }
static int big_cmp(const void *pa, const void *pb) {
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    if (big_key(a) != big_key(b)) return big_key(a) > big_key(b) ? -1 : 1;
    if (a % 7 != b % 7) return a % 7 < b % 7 ? -1 : 1;
    return (a > b) - (a < b);
}
static int big_text_cmp(const void *pa, const void *pb) {
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    char x[16], y[16];
    snprintf(x, sizeof x, "%d", big_key(a));
    snprintf(y, sizeof y, "%d", big_key(b));
    int c = strcmp(x, y);
    if (c) return c > 0 ? -1 : 1;
    return (a > b) - (a < b);
}

/* "id|id|..." of ids[from, to). */
static char *ids_text(const int64_t *ids, size_t from, size_t to) {
    size_t cap = (to - from) * 8 + 1, len = 0;
    char *s = (char *)malloc(cap);
    s[0] = 0;
    for (size_t i = from; i < to; i++) len += (size_t)snprintf(s + len, cap - len, "%s%lld", i > from ? "|" : "", (long long)ids[i]);
    return s;
}

static void test_sort_big(void) {
    enum { N = 20000 };
    static int64_t ids[N];
    for (int64_t i = 0; i < N; i++) ids[i] = i;
    qsort(ids, N, sizeof *ids, big_cmp);
    spk_df *r = spk_df_range(S, 0, N, 1);
    spk_expr *key = spk_mod(spk_mul(spk_col("id"), spk_lit_i64(7919)), spk_lit_i64(1013));
    spk_df *o = K(spk_df_order_by(r, 3, spk_desc(key), spk_mod(spk_col("id"), spk_lit_i64(7)), spk_col("id")));
    char *want = ids_text(ids, 0, N);
    EXPECT_ROWS(spk_df_select(o, 1, spk_col("id")), want);
    free(want);
    /* windows: top-k, the middle, the end, and through a projection of columns */
    size_t windows[][2] = {{0, 10}, {N / 2, N / 2 + 5}, {N - 3, N}, {137, 137 + 2000}};
    for (size_t w = 0; w < sizeof windows / sizeof *windows; w++) {
        size_t lo = windows[w][0], hi = windows[w][1];
        want = ids_text(ids, lo, hi);
        EXPECT_ROWS(spk_df_select(K(spk_df_limit(K(spk_df_offset(o, (int64_t)lo)), (int64_t)(hi - lo))), 1, spk_col("id")), want);
        spk_df *p = K(spk_df_select(r, 2, spk_alias(spk_col("id"), "x"), spk_col("id")));
        spk_df *po = K(spk_df_order_by(p, 2, spk_desc(spk_mod(spk_mul(spk_col("x"), spk_lit_i64(7919)), spk_lit_i64(1013))),
                                       spk_mod(spk_col("id"), spk_lit_i64(7))));
        EXPECT_ROWS(spk_df_select(K(spk_df_limit(K(spk_df_offset(po, (int64_t)lo)), (int64_t)(hi - lo))), 1, spk_col("x")), want);
        free(want);
    }
    /* a key whose leading bits few values share: windows narrowed by several rounds of radix selection, and
     * one across two buckets; the order is the even ids, then the odd ones */
    spk_expr *clustered = spk_add(spk_mul(spk_mod(spk_col("id"), spk_lit_i64(2)), spk_lit_i64((int64_t)1 << 40)), spk_col("id"));
    spk_df *oc = K(spk_df_order_by(r, 1, clustered));
    size_t spans[][2] = {{5000, 5005}, {254, 259}, {N / 2 - 2, N / 2 + 3}, {0, 3}, {N - 10, N}, {N / 4, N / 4 + 600}};
    for (size_t w = 0; w < sizeof spans / sizeof *spans; w++) {
        size_t lo = spans[w][0], hi = spans[w][1];
        for (size_t k = lo; k < hi; k++) ids[k] = k < N / 2 ? 2 * (int64_t)k : 2 * (int64_t)(k - N / 2) + 1;
        want = ids_text(ids, lo, hi);
        EXPECT_ROWS(spk_df_select(K(spk_df_limit(K(spk_df_offset(oc, (int64_t)lo)), (int64_t)(hi - lo))), 1, spk_col("id")), want);
        free(want);
    }
    /* a string key: whole-string fallbacks in the merge sort */
    for (int64_t i = 0; i < N; i++) ids[i] = i;
    qsort(ids, N, sizeof *ids, big_text_cmp);
    spk_expr *text = spk_cast(spk_mod(spk_mul(spk_col("id"), spk_lit_i64(7919)), spk_lit_i64(1013)), spk_type_of(SPK_TYPE_STRING));
    spk_df *ot = K(spk_df_order_by(r, 1, spk_desc(text)));
    want = ids_text(ids, 0, N);
    EXPECT_ROWS(spk_df_select(ot, 1, spk_col("id")), want);
    free(want);
    want = ids_text(ids, 5000, 5007);
    EXPECT_ROWS(spk_df_select(K(spk_df_limit(K(spk_df_offset(ot, 5000)), 7)), 1, spk_col("id")), want);
    free(want);
    spk_df_release(r);
}

/* A filter of several conjuncts over a table: each conjunct runs on the
 * rows the ones before kept, loading its columns only for them; the rows
 * kept are packed to the front for the projection above, which reads
 * predicate columns (a, s) and others (b, x). NULLs fail a conjunct.
 * Checked against a plain loop, then the same filter under an aggregate.
 * Then column-against-literal tests, which run on the row slots: every
 * comparison, the literal on either side, INT, BIGINT, DATE and DECIMAL
 * columns with NULLs, read above the filter or not at all. */
#define CONJ_ROWS 9000
static void test_filter_conjuncts(void) {
    spk_schema *schema = NULL;
    CHECK_OK(spk_schema_parse(NULL, "a INT, b BIGINT, s STRING, x DOUBLE, t STRING, d DATE, m DECIMAL(10,2)", &schema));
    static spk_value rows[CONJ_ROWS * 7];
    static const char *const words[4] = {"zz", "kept", "a longer string value", ""};
    static int64_t want_b[CONJ_ROWS];
    static int64_t want2_b[CONJ_ROWS], want2_m[CONJ_ROWS];
    int nwant = 0, nwant2 = 0;
    int64_t want_sum = 0;
    uint64_t z = 99;
    for (int r = 0; r < CONJ_ROWS; r++) {
        z = z * 6364136223846793005ULL + 1442695040888963407ULL;
        int a = (int)((z >> 33) % 100);
        int64_t b = (int64_t)((z >> 20) % 1000);
        int w = (int)((z >> 45) % 4);
        double x = (double)((z >> 10) % 100) / 100.0;
        spk_value *v = &rows[r * 7];
        bool a_null = r % 13 == 0, s_null = r % 17 == 0, x_null = r % 19 == 0;
        v[0] = a_null ? spk_value_null() : spk_value_i32(a);
        v[1] = spk_value_i64(b);
        v[2] = s_null ? spk_value_null() : spk_value_str(words[w]);
        v[3] = x_null ? spk_value_null() : spk_value_f64(x);
        v[4] = spk_value_str(words[(w + 1) % 4]);
        int32_t day = (int32_t)((z >> 40) % 60);
        int64_t cents = (int64_t)((z >> 50) % 10000);
        bool d_null = r % 23 == 0, m_null = r % 29 == 0;
        v[5] = d_null ? spk_value_null() : spk_value_date(day);
        v[6] = m_null ? spk_value_null() : spk_value_decimal(cents, 10, 2);
        /* 900 > b AND d >= DATE '1970-01-11' AND m <= 50.00 AND DATE '1970-02-10' >= d AND b != 5 AND a = a */
        if (b < 900 && !d_null && day >= 10 && !m_null && cents <= 5000 && day <= 40 && b != 5 && !a_null) {
            want2_b[nwant2] = b;
            want2_m[nwant2++] = cents;
        }
        /* a > 10 AND s != 'zz' AND (b % 3 = 0 OR x < 0.5) AND a < 90 */
        bool or_true = b % 3 == 0 || (!x_null && x < 0.5);
        if (!a_null && a > 10 && !s_null && w != 0 && or_true && a < 90) {
            want_b[nwant++] = b;
            want_sum += b + a;
        }
    }
    const char *pred = "a > 10 AND s != 'zz' AND (b % 3 = 0 OR x < 0.5) AND a < 90";
    spk_df *d = spk_df_from_rows(S, schema, rows, CONJ_ROWS);
    spk_df *f = spk_df_select_expr(K(spk_df_where(d, pred)), 4, "b", "a", "s", "x");
    spk_table *t = NULL;
    CHECK_OK(spk_df_collect(f, &t));
    CHECK(t && spk_table_nrows(t) == (size_t)nwant);
    for (int i = 0; t && i < nwant && i < (int)spk_table_nrows(t); i++) {
        spk_value b, a, s;
        spk_table_get(t, (size_t)i, 0, &b);
        spk_table_get(t, (size_t)i, 1, &a);
        spk_table_get(t, (size_t)i, 2, &s);
        if (b.as.i64 != want_b[i] || a.is_null || a.as.i32 <= 10 || a.as.i32 >= 90 || s.is_null ||
            (s.as.str.len == 2 && memcmp(s.as.str.ptr, "zz", 2) == 0)) {
            failf(__FILE__, __LINE__, "row %d: want b=%lld, got b=%lld a=%d", i, (long long)want_b[i], (long long)b.as.i64,
                  a.is_null ? -1 : a.as.i32);
            break;
        }
    }
    spk_table_free(t);
    spk_df_release(f);
    /* the same rows summed: the aggregate reads the packed batch */
    spk_df *g = spk_df_select_expr(K(spk_df_where(d, pred)), 1, "sum(b + a) AS total");
    char want[64];
    snprintf(want, sizeof want, "%lld", (long long)want_sum);
    EXPECT_ROWS(g, want);
    const char *pred2 = "900 > b AND d >= DATE '1970-01-11' AND m <= 50.00 AND DATE '1970-02-10' >= d AND b != 5 AND a = a";
    f = spk_df_select_expr(K(spk_df_where(d, pred2)), 2, "b", "m");
    t = NULL;
    CHECK_OK(spk_df_collect(f, &t));
    CHECK(t && spk_table_nrows(t) == (size_t)nwant2);
    for (int i = 0; t && i < nwant2 && i < (int)spk_table_nrows(t); i++) {
        spk_value b, m;
        spk_table_get(t, (size_t)i, 0, &b);
        spk_table_get(t, (size_t)i, 1, &m);
        if (b.is_null || m.is_null || b.as.i64 != want2_b[i] || m.as.i64 != want2_m[i]) {
            failf(__FILE__, __LINE__, "tests, row %d: want b=%lld m=%lld", i, (long long)want2_b[i], (long long)want2_m[i]);
            break;
        }
    }
    spk_table_free(t);
    spk_df_release(f);
    int64_t counted = -1;
    f = spk_df_where(d, pred2);
    CHECK_OK(spk_df_count(f, &counted)); /* nothing above reads a column */
    CHECK_EQ_INT(counted, nwant2);
    spk_df_release(f);
    f = spk_df_where(d, "b = 77 AND 3 < a AND a <= 50 AND m > 0.00");
    CHECK_OK(spk_df_count(f, &counted));
    int64_t want3 = 0;
    for (int r = 0; r < CONJ_ROWS; r++) {
        const spk_value *v = &rows[r * 7];
        want3 += v[1].as.i64 == 77 && !v[0].is_null && v[0].as.i32 > 3 && v[0].as.i32 <= 50 && !v[6].is_null && v[6].as.i64 > 0;
    }
    CHECK_EQ_INT(counted, want3);
    spk_df_release(f);
    spk_df_release(d);
    spk_schema_release(schema);
}

/* ------------------------------------------------------------ groupBy / agg */

/* Many groups over keys of every kind (hashed and compared by type; DOUBLE
 * through spk_value), NULL keys among them: groups come out in the order of
 * their first row and with the right states, whether the aggregates let
 * each worker keep one set of groups (count, decimal sum, min of a string)
 * or need one per morsel (a DOUBLE sum). Without the DOUBLE key the keys
 * are packed into words: (a, b, c) mixes batches whose strings all fit a
 * word with batches holding a longer one (the small morsels of
 * FOR_EACH_THREAD_COUNT make both), so one group is found both ways;
 * (n, e, c) packs INT, BOOLEAN and DATE. Checked against a plain loop. */
#define GROUP_ROWS 20000
static void test_group_keys_typed(void) {
    spk_schema *schema = NULL;
    CHECK_OK(spk_schema_parse(NULL, "a BIGINT, b STRING, c DATE, d DOUBLE, v DECIMAL(10,2), f DOUBLE, n INT, e BOOLEAN", &schema));
    static spk_value rows[GROUP_ROWS * 8];
    static char names[GROUP_ROWS][24];
    static int first[GROUP_ROWS], count[GROUP_ROWS];
    static int64_t sum[GROUP_ROWS];
    int ngroups = 0, group_of[400];
    for (int g = 0; g < 400; g++) group_of[g] = -1;
    memset(count, 0, sizeof count); /* static: the test runs once per thread count */
    memset(sum, 0, sizeof sum);
    uint64_t x = 12345;
    for (int r = 0; r < GROUP_ROWS; r++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int g = (int)((x >> 33) % 400); /* the group: every key is a function of it */
        spk_value *v = &rows[r * 8];
        v[0] = g % 37 == 0 ? spk_value_null() : spk_value_i64((int64_t)g * 1000003);
        snprintf(names[r], sizeof names[r], g % 3 ? "k%d" : "a longer key %d", g); /* short and long strings */
        v[1] = g % 41 == 0 ? spk_value_null() : spk_value_str(names[r]);
        v[2] = spk_value_date(g % 5 ? -g : g);
        v[3] = g % 7 == 0 ? spk_value_f64(-0.0) : spk_value_f64(g % 7 == 1 ? 0.0 : (double)g);
        v[4] = spk_value_decimal((int64_t)(x >> 40) % 100000, 10, 2);
        v[5] = spk_value_f64((double)((x >> 20) % 1000) / 8.0);
        v[6] = g % 11 == 0 ? spk_value_null() : spk_value_i32(g * 7);
        v[7] = spk_value_bool(g % 2 == 0);
        /* the reference groups by g: rows with -0.0 and 0.0 in d (g % 7 is 0 or 1) differ in the other keys */
        if (group_of[g] < 0) {
            group_of[g] = ngroups;
            first[ngroups++] = g;
        }
        count[group_of[g]]++;
        sum[group_of[g]] += v[4].as.i64;
    }
    for (int run = 0; run < 4; run++) {
        int order_free = run != 1, variant = run < 2 ? 0 : run - 1, nkeys = variant == 0 ? 4 : 3;
        spk_df *d = spk_df_from_rows(S, schema, rows, GROUP_ROWS);
        spk_expr *keys[4] = {spk_col(variant == 2 ? "n" : "a"), spk_col(variant == 2 ? "e" : "b"), spk_col("c"),
                             variant == 0 ? spk_col("d") : NULL};
        spk_expr *aggs[3] = {count_star(), fn1("sum", "v"), order_free ? fn1("min", "b") : fn1("sum", "f")};
        spk_df *g = spk_df_group_agg(d, keys, nkeys, aggs, 3);
        spk_table *t = NULL;
        CHECK_OK(spk_df_collect(g, &t));
        CHECK(t && spk_table_nrows(t) == (size_t)ngroups);
        for (int i = 0; t && i < ngroups && i < (int)spk_table_nrows(t); i++) {
            spk_value k, c, s;
            spk_table_get(t, (size_t)i, 0, &k);
            spk_table_get(t, (size_t)i, (size_t)nkeys, &c);
            spk_table_get(t, (size_t)i, (size_t)nkeys + 1, &s);
            int want = first[i];
            bool key_ok = variant == 2 ? (want % 11 == 0 ? k.is_null : !k.is_null && k.as.i32 == want * 7)
                                       : (want % 37 == 0 ? k.is_null : !k.is_null && k.as.i64 == (int64_t)want * 1000003);
            if (!key_ok || c.as.i64 != count[i] || s.as.i64 != sum[i]) {
                failf(__FILE__, __LINE__, "group %d (run %d): want g=%d count %d sum %lld, got count %lld sum %lld",
                      i, run, want, count[i], (long long)sum[i], (long long)c.as.i64, (long long)s.as.i64);
                break;
            }
        }
        spk_table_free(t);
        spk_df_release(g);
        spk_df_release(d);
    }
    spk_schema_release(schema);
}

/* A part matches rows against its groups' words while it has at most 8
 * groups and hashes them after that: a batch that passes the mark part
 * way through — densely, or under an offset's selection — hashes the rest
 * of its rows before probing. 50 groups, first seen in key order 1..49, 0
 * (the offset skips row 0); checked against a plain loop. */
#define FEW_ROWS 5000
static void test_group_few_to_many(void) {
    spk_schema *schema = NULL;
    CHECK_OK(spk_schema_parse(NULL, "k INT, v BIGINT", &schema));
    static spk_value rows[FEW_ROWS * 2];
    int64_t count[50] = {0}, sum[50] = {0};
    for (int r = 0; r < FEW_ROWS; r++) {
        rows[r * 2] = spk_value_i32(r % 50);
        rows[r * 2 + 1] = spk_value_i64(r * 3);
    }
    for (int skip = 0; skip < 2; skip++) {
        memset(count, 0, sizeof count);
        memset(sum, 0, sizeof sum);
        for (int r = skip; r < FEW_ROWS; r++) {
            count[r % 50]++;
            sum[r % 50] += r * 3;
        }
        spk_df *d = spk_df_from_rows(S, schema, rows, FEW_ROWS);
        spk_df *in = skip ? spk_df_offset(d, skip) : spk_df_filter(d, spk_ge(spk_col("v"), spk_lit_i64(0)));
        spk_expr *keys[1] = {spk_col("k")};
        spk_expr *aggs[2] = {count_star(), fn1("sum", "v")};
        spk_df *g = spk_df_group_agg(in, keys, 1, aggs, 2);
        spk_table *t = NULL;
        CHECK_OK(spk_df_collect(g, &t));
        CHECK(t && spk_table_nrows(t) == 50);
        for (int i = 0; t && i < 50 && i < (int)spk_table_nrows(t); i++) {
            int want = (i + skip) % 50;
            spk_value k, c, v;
            spk_table_get(t, (size_t)i, 0, &k);
            spk_table_get(t, (size_t)i, 1, &c);
            spk_table_get(t, (size_t)i, 2, &v);
            if (k.as.i32 != want || c.as.i64 != count[want] || v.as.i64 != sum[want]) {
                failf(__FILE__, __LINE__, "group %d (skip %d): want k=%d count %lld sum %lld, got k=%d count %lld sum %lld", i, skip,
                      want, (long long)count[want], (long long)sum[want], k.as.i32, (long long)c.as.i64, (long long)v.as.i64);
                break;
            }
        }
        spk_table_free(t);
        spk_df_release(g);
        spk_df_release(in);
        spk_df_release(d);
    }
    spk_schema_release(schema);
}

/* One integer key found through an array indexed by its value, batch by
 * batch while every key of the batch is non-NULL and below 2^21: batches
 * holding a NULL, a negative key or a larger one take the hash table, so
 * groups are found both ways; keys past the array's first size grow it.
 * INT and BIGINT keys; checked against a plain loop, groups in order of
 * their first row. */
#define DIRECT_ROWS 20000
static int direct_key(int r) { /* INT32_MIN: NULL */
    if (r % 1000 == 999) return INT32_MIN;
    if (r % 777 == 5) return -5;
    if (r % 1234 == 7) return 3000000;
    return r < 10000 ? (r * 7919) % 3000 : (r * 7919) % 10000;
}
static int direct_slot(int key) { return key == INT32_MIN ? 10000 : key == -5 ? 10001 : key == 3000000 ? 10002 : key; }
static void test_group_direct_keys(void) {
    static int first[10003], order[10003];
    static int64_t count[10003], sum[10003];
    int ngroups = 0;
    for (int g = 0; g < 10003; g++) first[g] = -1, count[g] = 0, sum[g] = 0;
    for (int r = 0; r < DIRECT_ROWS; r++) {
        int g = direct_slot(direct_key(r));
        if (first[g] < 0) first[g] = r, order[ngroups++] = g;
        count[g]++;
        sum[g] += r;
    }
    for (int wide = 0; wide < 2; wide++) {
        spk_schema *schema = NULL;
        CHECK_OK(spk_schema_parse(NULL, wide ? "k BIGINT, v BIGINT" : "k INT, v BIGINT", &schema));
        static spk_value rows[DIRECT_ROWS * 2];
        for (int r = 0; r < DIRECT_ROWS; r++) {
            int key = direct_key(r);
            rows[r * 2] = key == INT32_MIN ? spk_value_null() : wide ? spk_value_i64(key) : spk_value_i32(key);
            rows[r * 2 + 1] = spk_value_i64(r);
        }
        spk_df *d = spk_df_from_rows(S, schema, rows, DIRECT_ROWS);
        spk_expr *keys[1] = {spk_col("k")};
        spk_expr *aggs[2] = {count_star(), fn1("sum", "v")};
        spk_df *g = spk_df_group_agg(d, keys, 1, aggs, 2);
        spk_table *t = NULL;
        CHECK_OK(spk_df_collect(g, &t));
        CHECK(t && spk_table_nrows(t) == (size_t)ngroups);
        for (int i = 0; t && i < ngroups && i < (int)spk_table_nrows(t); i++) {
            int want = order[i], key = direct_key(first[want]);
            spk_value k, c, v;
            spk_table_get(t, (size_t)i, 0, &k);
            spk_table_get(t, (size_t)i, 1, &c);
            spk_table_get(t, (size_t)i, 2, &v);
            int64_t got_key = k.is_null ? INT32_MIN : wide ? k.as.i64 : k.as.i32;
            if (got_key != key || c.as.i64 != count[want] || v.as.i64 != sum[want]) {
                failf(__FILE__, __LINE__, "group %d (%s): want k=%d count %lld sum %lld, got k=%lld count %lld sum %lld", i,
                      wide ? "BIGINT" : "INT", key, (long long)count[want], (long long)sum[want], (long long)got_key,
                      (long long)c.as.i64, (long long)v.as.i64);
                break;
            }
        }
        spk_table_free(t);
        spk_df_release(g);
        spk_df_release(d);
        spk_schema_release(schema);
    }
}

/* Keys that are no strings are read back from the groups' packed words
 * (no key values kept): in the output, and in the merge, where a group a
 * worker's part has and the largest lacks is added anew from them. 300
 * rows (too few to split the groups between workers) whose INT, DATE and
 * BOOLEAN keys change every 3 rows, NULLs among them, so that workers
 * taking different morsels hold different groups. */
static void test_group_keys_from_words(void) {
    enum { ROWS = 300 };
    spk_schema *schema = NULL;
    CHECK_OK(spk_schema_parse(NULL, "k INT, d DATE, b BOOLEAN, v BIGINT", &schema));
    static spk_value rows[ROWS * 4];
    for (int r = 0; r < ROWS; r++) {
        int g = r / 3;
        rows[r * 4] = g % 13 == 5 ? spk_value_null() : spk_value_i32(g * 7 - 5000);
        rows[r * 4 + 1] = g % 11 == 3 ? spk_value_null() : spk_value_date(-g);
        rows[r * 4 + 2] = g % 7 == 1 ? spk_value_null() : spk_value_bool(g % 2 == 0);
        rows[r * 4 + 3] = spk_value_i64(r);
    }
    spk_df *d = spk_df_from_rows(S, schema, rows, ROWS);
    spk_expr *keys[3] = {spk_col("k"), spk_col("d"), spk_col("b")};
    spk_expr *aggs[2] = {count_star(), fn1("sum", "v")};
    spk_df *g = spk_df_group_agg(d, keys, 3, aggs, 2);
    spk_table *t = NULL;
    CHECK_OK(spk_df_collect(g, &t));
    CHECK(t && spk_table_nrows(t) == ROWS / 3);
    for (int i = 0; t && i < ROWS / 3 && i < (int)spk_table_nrows(t); i++) {
        spk_value k, dv, b, c, v;
        spk_table_get(t, (size_t)i, 0, &k);
        spk_table_get(t, (size_t)i, 1, &dv);
        spk_table_get(t, (size_t)i, 2, &b);
        spk_table_get(t, (size_t)i, 3, &c);
        spk_table_get(t, (size_t)i, 4, &v);
        bool ok = (i % 13 == 5 ? k.is_null : !k.is_null && k.as.i32 == i * 7 - 5000) &&
                  (i % 11 == 3 ? dv.is_null : !dv.is_null && dv.as.i32 == -i) &&
                  (i % 7 == 1 ? b.is_null : !b.is_null && b.as.b == (i % 2 == 0)) && c.as.i64 == 3 && v.as.i64 == 9 * i + 3;
        if (!ok) {
            failf(__FILE__, __LINE__, "group %d: keys %s%d %s%d %s%d, count %lld, sum %lld", i, k.is_null ? "NULL " : "",
                  k.as.i32, dv.is_null ? "NULL " : "", dv.as.i32, b.is_null ? "NULL " : "", (int)b.as.b, (long long)c.as.i64,
                  (long long)v.as.i64);
            break;
        }
    }
    spk_table_free(t);
    spk_df_release(g);
    spk_df_release(d);
    spk_schema_release(schema);
}

/* A chunk notes which columns may hold NULLs, and scans skip the null bits
 * of the others (rowstore.c), so every way rows reach a table must note its
 * NULLs. Each table below holds the same 50 rows, x, s and d NULL on every
 * fourth; a NULL's field holds 0 there, which `x <= 0` would keep and
 * count(x) would count if its null bit went unread. */
static void check_noted_nulls(const char *how, spk_df *d) {
    spk_df *kept = spk_df_filter(d, spk_le(spk_col("x"), spk_lit_i64(0))); /* a column test on the stored values */
    int64_t n = -1;
    CHECK_OK(spk_df_count(kept, &n));
    if (n != 12) fprintf(stderr, "%s: %s: x <= 0 kept %lld rows, expected 12\n", spk_test_current, how, (long long)n);
    CHECK(n == 12);
    spk_df_release(kept);
    spk_expr *aggs[4] = {fn1("count", "x"), fn1("count", "s"), fn1("count", "d"), fn1("sum", "x")};
    spk_df *g = spk_df_group_agg(d, NULL, 0, aggs, 4);
    spk_table *t = NULL;
    CHECK_OK(spk_df_collect(g, &t));
    for (int c = 0; t && c < 4; c++) {
        spk_value v;
        CHECK_OK(spk_table_get(t, 0, c, &v));
        int64_t want = c < 3 ? 37 : 13 + 2 * 12; /* 37 non-NULL rows; x: 12 zeros, 13 ones, 12 twos */
        if (v.is_null || v.as.i64 != want) fprintf(stderr, "%s: %s: aggregate %d is %lld, expected %lld\n", spk_test_current, how, c, (long long)v.as.i64, (long long)want);
        CHECK(!v.is_null && v.as.i64 == want);
    }
    spk_table_free(t);
    spk_df_release(g);
}

/* The same checks on q's result read back as a table; releases q. */
static void check_collected_nulls(const char *how, spk_df *q) {
    spk_table *t = NULL;
    CHECK_OK(spk_df_collect(q, &t));
    if (t) {
        spk_df *d = spk_df_from_table(S, t);
        check_noted_nulls(how, d);
        spk_df_release(d);
    }
    spk_df_release(q);
}

static void test_nulls_noted_by_every_writer(void) {
    spk_schema *schema = NULL;
    CHECK_OK(spk_schema_parse(NULL, "id BIGINT, x BIGINT, s STRING, d DATE", &schema));
    static spk_value rows[50 * 4];
    char csv[4096];
    size_t at = 0;
    for (int r = 0; r < 50; r++) {
        bool null = r % 4 == 0;
        rows[r * 4] = spk_value_i64(r);
        rows[r * 4 + 1] = null ? spk_value_null() : spk_value_i64(r % 3);
        rows[r * 4 + 2] = null ? spk_value_null() : spk_value_str("a");
        rows[r * 4 + 3] = null ? spk_value_null() : spk_value_date(19000 + r);
        at += (size_t)snprintf(csv + at, sizeof csv - at, null ? "%d,,,\n" : "%d,%d,a,2022-01-0%d\n", r, r % 3, 1 + r % 9);
    }
    spk_df *d = spk_df_from_rows(S, schema, rows, 50); /* one row at a time */
    check_noted_nulls("rows", d);
    spk_csv_options o = {0};
    o.schema = schema;
    spk_df *c = spk_read_csv_buffer(S, csv, at, &o); /* staged slots put into the chunk */
    CHECK(c != NULL);
    if (c) check_noted_nulls("CSV", c);
    spk_expr *computed[4] = {spk_col("id"), spk_alias(spk_add(spk_col("x"), spk_lit_i64(0)), "x"),
                             spk_alias(spk_call("lower", 1, spk_col("s")), "s"), spk_col("d")};
    check_collected_nulls("computed", spk_df_select_array(d, computed, 4)); /* batches of vectors into the table */
    check_collected_nulls("filtered", spk_df_filter(d, spk_ge(spk_col("id"), spk_lit_i64(0)))); /* kept rows copied */
    spk_df_release(c);
    spk_df_release(d);
    spk_schema_release(schema);
}

/* A DECIMAL sum whose running total leaves the 64-bit range and comes back
 * is exact whatever the order of its rows; one that ends outside is NULL.
 * Group 1: 20 rows of 10^18 - 1, then 20 of its negative; then 40 rows
 * where every fourth is 10^18 - 1 and the next its negative. With few
 * groups a batch adds its rows into four sets of partial sums in turn
 * (spk__sum_few_groups): two of the sets then end past the range, one each
 * way, and only their counted wraps make the total 0. Group 3: every fourth
 * of 76 rows is 10^18 - 1, so one set adds 19 of them, past 2^64 by less
 * than 10^18: NULL, by its wrap alone. */
static void test_decimal_sum_wraps(void) {
    spk_schema *schema = NULL;
    CHECK_OK(spk_schema_parse(NULL, "k INT, v DECIMAL(18,0)", &schema));
    spk_value rows[316];
    const int64_t big = 999999999999999999LL; /* 10 of them pass INT64_MAX */
    for (int r = 0; r < 80; r++) {
        int64_t v = r < 40 ? (r < 20 ? big : -big) : r % 4 == 0 ? big : r % 4 == 1 ? -big : r % 4 == 2 ? 5 : -5;
        rows[r * 2] = spk_value_i32(1);
        rows[r * 2 + 1] = spk_value_decimal(v, 18, 0);
    }
    rows[160] = spk_value_i32(2), rows[161] = spk_value_decimal(big, 18, 0);
    rows[162] = spk_value_i32(2), rows[163] = spk_value_decimal(1, 18, 0);
    for (int r = 0; r < 76; r++) {
        rows[164 + r * 2] = spk_value_i32(3);
        rows[165 + r * 2] = spk_value_decimal(r % 4 == 0 ? big : 0, 18, 0);
    }
    spk_df *d = spk_df_from_rows(S, schema, rows, 158);
    spk_expr *keys[1] = {spk_col("k")};
    spk_expr *aggs[2] = {fn1("sum", "v"), fn1("avg", "v")};
    spk_df *g = spk_df_group_agg(d, keys, 1, aggs, 2);
    EXPECT_SET(g, "1,0,0.0000|2,NULL,NULL|3,NULL,NULL"); /* 10^18 does not fit DECIMAL(18,0), nor its average DECIMAL(18,4) */
    spk_df_release(d);
    spk_schema_release(schema);
}

static void test_group_by(void) {
    spk_df *p = FIX(PEOPLE);
    spk_expr *k[1] = {spk_col("dept")};
    spk_expr *a[5] = {count_star(), fn1("sum", "salary"), fn1("avg", "salary"), fn1("min", "salary"), fn1("max", "salary")};
    spk_df *g = spk_df_group_agg(p, k, 1, a, 5);
    EXPECT_SCHEMA(g, "dept:string,count(1):bigint,sum(salary):bigint,avg(salary):double,min(salary):int,max(salary):int");
    /* NULL keys group together */
    EXPECT_SET(g, "eng,2,180,90.0,80,100|ops,2,90,90.0,90,90|NULL,2,130,65.0,60,70");
    k[0] = spk_col("dept");
    a[0] = fn1("count", "salary");
    a[1] = fn1("count", "bonus");
    a[2] = fn1("sum", "bonus");
    a[3] = fn1("min", "name");
    a[4] = fn1("max", "name");
    g = spk_df_group_agg(p, k, 1, a, 5);
    EXPECT_SCHEMA(g, "dept:string,count(salary):bigint,count(bonus):bigint,sum(bonus):double,min(name):string,max(name):string");
    EXPECT_SET(g, "eng,2,1,1.5,Alice,Bob|ops,1,1,2.0,Carol,Eve|NULL,2,2,1.5,Dan,Frank");

    /* several keys, several aggregates, count distinct */
    spk_df *s = FIX(SALES);
    spk_expr *k2[2] = {spk_col("k1"), spk_col("k2")};
    spk_expr *a2[7] = {count_star(), fn1("count", "v"), fn1("sum", "v"), fn1("avg", "v"),
                       fn1("min", "v"), fn1("max", "v"), spk_count_distinct(spk_col("v"))};
    g = spk_df_group_agg(s, k2, 2, a2, 7);
    EXPECT_SCHEMA(g, "k1:string,k2:int,count(1):bigint,count(v):bigint,sum(v):bigint,avg(v):double,min(v):int,"
                     "max(v):int,count(DISTINCT v):bigint");
    EXPECT_SET(g, "a,1,2,2,30,15.0,10,20,2|a,2,1,0,NULL,NULL,NULL,NULL,0|b,1,1,1,5,5.0,5,5,1|"
                  "NULL,1,2,1,7,7.0,7,7,1|a,NULL,2,2,6,3.0,3,3,1");
    /* an expression key and expressions over aggregates */
    spk_expr *k3[1] = {spk_mod(spk_col("k2"), spk_lit_i32(2))};
    spk_expr *a3[2] = {spk_alias(spk_add(fn1("sum", "v"), spk_lit_i32(1)), "s1"), spk_alias(fn1("max", "k1"), "mk")};
    g = spk_df_group_agg(s, k3, 1, a3, 2);
    EXPECT_SCHEMA(g, "(k2 % 2):int,s1:bigint,mk:string");
    EXPECT_SET(g, "1,43,b|0,NULL,a|NULL,7,a");
    /* a grouping key may appear again among the outputs */
    spk_expr *k4[1] = {spk_col("k1")};
    spk_expr *a4[2] = {spk_col("k1"), spk_alias(spk_call("upper", 1, spk_col("k1")), "u")};
    g = spk_df_group_agg(s, k4, 1, a4, 2);
    EXPECT_SCHEMA(g, "k1:string,k1:string,u:string");
    EXPECT_SET(g, "a,a,A|b,b,B|NULL,NULL,NULL");
    /* only keys, no aggregates: the distinct keys */
    spk_expr *k5[2] = {spk_col("k2"), spk_col("k1")};
    g = spk_df_group_agg(s, k5, 2, NULL, 0);
    EXPECT_SET(g, "1,a|2,a|1,b|1,NULL|NULL,a");
    /* group then filter (HAVING) then sort */
    spk_expr *k6[1] = {spk_col("k1")};
    spk_expr *a6[1] = {spk_alias(count_star(), "n")};
    g = spk_df_group_agg(s, k6, 1, a6, 1);
    EXPECT_ROWS(spk_df_order_by(K(spk_df_where(g, "n >= 2")), 1, spk_col("k1")), "NULL,2|a,5");
    spk_df_release(g);
    /* many groups across batches: 5000 rows into 97 groups */
    spk_df *r = spk_df_range(S, 0, 5000, 1);
    spk_expr *k7[1] = {spk_alias(spk_mod(spk_col("id"), spk_lit_i64(97)), "m")};
    spk_expr *a7[2] = {spk_alias(count_star(), "n"), spk_alias(fn1("sum", "id"), "s")};
    g = spk_df_group_agg(r, k7, 1, a7, 2);
    int64_t n = -1;
    CHECK_OK(spk_df_count(g, &n));
    CHECK_EQ_INT(n, 97);
    /* m = 0: 0, 97, ..., 4947 → 52 values, sum 97 * (0 + ... + 51) = 97 * 1326 */
    /* m = 96: 96, 193, ..., 4947 + 96 = 5043 > 4999, so up to 4946: 51 values */
    EXPECT_SET(spk_df_where(g, "m = 0 OR m = 96"), "0,52,128622|96,51,128571");
    spk_df_release(g);
    spk_df_release(r);
    spk_df_release(s);
    spk_df_release(p);
}

static void test_global_agg(void) {
    spk_df *p = FIX(PEOPLE);
    spk_df *g = spk_df_agg(p, 6, count_star(), fn1("sum", "salary"), fn1("avg", "bonus"), fn1("min", "name"),
                           fn1("max", "name"), spk_count_distinct(spk_col("dept")));
    EXPECT_SCHEMA(g, "count(1):bigint,sum(salary):bigint,avg(bonus):double,min(name):string,max(name):string,"
                     "count(DISTINCT dept):bigint");
    EXPECT_ROWS(g, "6,400,1.25,Alice,Frank,2");
    /* select with aggregates aggregates the whole frame */
    EXPECT_ROWS(spk_df_select(p, 2, fn1("max", "salary"), spk_alias(fn1("count", "dept"), "c")), "100,4");
    EXPECT_ROWS(spk_df_select_expr(p, 1, "sum(salary) / count(salary) AS mean"), "80.0");
    /* over an empty frame: one row, count 0, the rest NULL */
    spk_df *e = FIX("id INT, v DOUBLE");
    g = spk_df_agg(e, 5, count_star(), fn1("sum", "v"), fn1("avg", "v"), fn1("min", "id"), fn1("count", "v"));
    EXPECT_ROWS(g, "0,NULL,NULL,NULL,0");
    /* over a frame filtered empty */
    EXPECT_ROWS(spk_df_agg(K(spk_df_where(p, "id > 100")), 2, count_star(), fn1("sum", "salary")), "0,NULL");
    /* groupBy over an empty frame: no rows */
    spk_expr *k[1] = {spk_col("id")};
    spk_expr *a[1] = {count_star()};
    EXPECT_ROWS(spk_df_group_agg(e, k, 1, a, 1), "");
    spk_df_release(e);
    spk_df_release(p);
}

/* ------------------------------------------------------------ distinct / union */

static void test_distinct_union(void) {
    spk_df *d = FIX("a INT, b STRING\n1,x\n1,x\nNULL,NULL\nNULL,NULL\n2,x\n1,y\nNULL,x");
    spk_df *x = spk_df_distinct(d);
    EXPECT_SCHEMA(x, "a:int,b:string");
    EXPECT_SET(x, "1,x|NULL,NULL|2,x|1,y|NULL,x");
    EXPECT_SET(spk_df_distinct(K(spk_df_select(d, 1, spk_col("b")))), "x|NULL|y");
    spk_df *b = spk_df_select(d, 1, spk_col("b"));
    EXPECT_SET(spk_df_distinct(b), "x|NULL|y");
    spk_df_release(b);
    /* distinct of doubles: -0.0 and 0.0 are one value, NaN one value */
    spk_df *f = FIX("x DOUBLE\n0.0\n-0.0\nNaN\nNaN\n1.0");
    x = spk_df_distinct(f);
    int64_t n = -1;
    CHECK_OK(spk_df_count(x, &n));
    CHECK_EQ_INT(n, 3);
    spk_df_release(x);
    spk_df_release(f);

    /* union keeps duplicates, first frame first, names from the first */
    spk_df *a = FIX("id INT, s STRING\n1,a\n2,b");
    spk_df *c = FIX("num INT, t STRING\n2,b\n3,NULL");
    spk_df *u = spk_df_union(a, c);
    EXPECT_SCHEMA(u, "id:int,s:string");
    EXPECT_ROWS(spk_df_retain(u), "1,a|2,b|2,b|3,NULL");
    EXPECT_SET(spk_df_distinct(u), "1,a|2,b|3,NULL");
    spk_df *uu = spk_df_union(u, u);
    EXPECT_ROWS(uu, "1,a|2,b|2,b|3,NULL|1,a|2,b|2,b|3,NULL");
    spk_df_release(u);
    /* a limit on the left side stops only the left side */
    spk_df *a1 = K(spk_df_limit(a, 1));
    EXPECT_ROWS(spk_df_union(a1, a), "1,a|1,a|2,b");
    EXPECT_ROWS(spk_df_union(a, a1), "1,a|2,b|1,a");
    EXPECT_ROWS(spk_df_union(a1, a1), "1,a|1,a");
    spk_df *r6 = K(spk_df_range(S, 0, 6, 1));
    spk_df *top2 = K(spk_df_limit(K(spk_df_order_by(r6, 1, spk_desc(spk_col("id")))), 2));
    EXPECT_ROWS(spk_df_union(top2, K(spk_df_where(top2, "id > 4"))), "5|4|5");
    /* union with itself and with an empty frame */
    EXPECT_ROWS(spk_df_union(a, a), "1,a|2,b|1,a|2,b");
    spk_df *e = FIX("x INT, y STRING");
    EXPECT_ROWS(spk_df_union(a, e), "1,a|2,b");
    EXPECT_ROWS(spk_df_union(e, a), "1,a|2,b");
    /* types widen: INT with BIGINT is BIGINT, INT with DOUBLE is DOUBLE */
    spk_df *l = FIX("id BIGINT, s STRING\n10000000000,z");
    u = spk_df_union(a, l);
    EXPECT_SCHEMA(u, "id:bigint,s:string");
    EXPECT_ROWS(u, "1,a|2,b|10000000000,z");
    spk_df *dd = FIX("v DOUBLE, s STRING\n0.5,h");
    u = spk_df_union(a, dd);
    EXPECT_SCHEMA(u, "id:double,s:string");
    EXPECT_ROWS(u, "1.0,a|2.0,b|0.5,h");
    /* union then aggregate */
    EXPECT_ROWS(spk_df_agg(K(spk_df_union(a, c)), 1, fn1("sum", "id")), "8");
    spk_df *ac = spk_df_union(a, c);
    EXPECT_ROWS(spk_df_agg(ac, 2, fn1("sum", "id"), count_star()), "8,4");
    spk_df_release(ac);
    spk_df_release(dd);
    spk_df_release(l);
    spk_df_release(e);
    spk_df_release(c);
    spk_df_release(a);
    spk_df_release(d);
}

/* Spark (non-ANSI) widens INT and STRING to STRING in a union. */
static void test_union_string_widening(void) {
    spk_df *a = FIX("id INT\n1");
    spk_df *b = FIX("s STRING\nx");
    spk_df *u = spk_df_union(a, b);
    EXPECT_SCHEMA(u, "id:string");
    if (u) EXPECT_ROWS(u, "1|x");
    spk_df_release(a);
    spk_df_release(b);
}

/* ------------------------------------------------------------ empty inputs */

static void test_empty(void) {
    spk_df *e = FIX("id INT, v DOUBLE, s STRING");
    EXPECT_SCHEMA(e, "id:int,v:double,s:string");
    EXPECT_ROWS(spk_df_retain(e), "");
    EXPECT_ROWS(spk_df_where(e, "id > 0"), "");
    EXPECT_ROWS(spk_df_select(e, 1, spk_add(spk_col("id"), spk_lit_i32(1))), "");
    EXPECT_ROWS(spk_df_order_by(e, 1, spk_col("v")), "");
    EXPECT_ROWS(spk_df_distinct(e), "");
    EXPECT_ROWS(spk_df_limit(e, 5), "");
    EXPECT_ROWS(spk_df_offset(e, 5), "");
    EXPECT_ROWS(spk_df_union(e, e), "");
    EXPECT_ROWS(spk_df_with_column(e, "w", spk_lit_i32(1)), "");
    spk_df *e2 = FIX("id INT, v DOUBLE, s STRING\n");
    EXPECT_ROWS(e2, "");
    EXPECT_SHOW(e, 20, 20, false, "+---+---+---+\n| id|  v|  s|\n+---+---+---+\n+---+---+---+\n");
    spk_df_release(e);
}

/* ------------------------------------------------------------ count without materializing */

static void test_count_streams(void) {
    spk_failalloc fa;
    spk_failalloc_init(&fa, NULL, 0);
    spk_session_options o = {&fa.iface, false, 1}; /* one thread: the allocation order is fixed */
    spk_session *s = NULL;
    CHECK_OK(spk_session_new(&o, &s));
    if (!s) return;
    spk_df *r = spk_df_range(s, 0, 200000, 1);
    spk_df *w = spk_df_where(r, "id % 3 <> 0");
    spk_df *f = spk_df_select_expr(w, 2, "id", "id * 2 AS d");
    spk_df *l = spk_df_limit(f, 100000);
    /* count() optimizes first, which builds plan nodes; an optimized plan
     * optimizes to itself, so counting those measures the stream alone */
    spk_df *fo = spk__optimize(f), *lo = spk__optimize(l);
    long before = fa.calls;
    size_t bytes = fa.live_bytes;
    int64_t n = -1;
    CHECK_OK(spk_df_count(fo, &n));
    CHECK_EQ_INT(n, 133333);
    long count_calls = fa.calls - before;
    CHECK_OK(spk_df_count(lo, &n));
    CHECK_EQ_INT(n, 100000);
    count_calls += fa.calls - before - count_calls;
    CHECK_EQ_INT(fa.live_bytes, bytes);
    /* collect, by contrast, builds a table of ~2.1 MB with the session's allocator */
    before = fa.calls;
    spk_table *t = NULL;
    CHECK_OK(spk_df_collect(f, &t));
    long collect_calls = fa.calls - before;
    CHECK(fa.live_bytes > bytes + 1000000);
    spk_table_free(t);
    CHECK(count_calls <= 4);
    CHECK(collect_calls > count_calls);
    spk_df_release(lo);
    spk_df_release(fo);
    spk_df_release(l);
    spk_df_release(f);
    spk_df_release(w);
    spk_df_release(r);
    spk_session_free(s);
    CHECK_EQ_INT(fa.live_blocks, 0);
}

/* ------------------------------------------------------------ show */

static void test_show_basic(void) {
    spk_df *p = FIX("id INT, name STRING\n1,Alice\n22,NULL\n333,Bo");
    EXPECT_SHOW(p, 20, 20, false,
                "+---+-----+\n"
                "| id| name|\n"
                "+---+-----+\n"
                "|  1|Alice|\n"
                "| 22| NULL|\n"
                "|333|   Bo|\n"
                "+---+-----+\n");
    EXPECT_SHOW(p, 2, 20, false,
                "+---+-----+\n"
                "| id| name|\n"
                "+---+-----+\n"
                "|  1|Alice|\n"
                "| 22| NULL|\n"
                "+---+-----+\n"
                "only showing top 2 rows\n");
    EXPECT_SHOW(p, 1, 20, false,
                "+---+-----+\n"
                "| id| name|\n"
                "+---+-----+\n"
                "|  1|Alice|\n"
                "+---+-----+\n"
                "only showing top 1 row\n");
    EXPECT_SHOW(p, 3, 20, false,
                "+---+-----+\n"
                "| id| name|\n"
                "+---+-----+\n"
                "|  1|Alice|\n"
                "| 22| NULL|\n"
                "|333|   Bo|\n"
                "+---+-----+\n");
    EXPECT_SHOW(p, 0, 20, false,
                "+---+----+\n"
                "| id|name|\n"
                "+---+----+\n"
                "+---+----+\n"
                "only showing top 0 rows\n");
    /* truncate 0: left-aligned */
    EXPECT_SHOW(p, 20, 0, false,
                "+---+-----+\n"
                "|id |name |\n"
                "+---+-----+\n"
                "|1  |Alice|\n"
                "|22 |NULL |\n"
                "|333|Bo   |\n"
                "+---+-----+\n");
    /* the show() writer */
    FILE *f = tmpfile();
    if (f) {
        char buf[256] = {0};
        CHECK_OK(spk_df_show(p, 1, 20, false, f));
        rewind(f);
        size_t got = fread(buf, 1, sizeof buf - 1, f);
        buf[got] = '\0';
        /* show() prints a blank line after the text, as PySpark's print(showString) */
        CHECK_STR(buf, "+---+-----+\n| id| name|\n+---+-----+\n|  1|Alice|\n+---+-----+\nonly showing top 1 row\n\n");
        fclose(f);
    }
    spk_df_release(p);

    /* the empty frame: the header only */
    spk_df *e = FIX("id INT");
    EXPECT_SHOW(e, 20, 20, false, "+---+\n| id|\n+---+\n+---+\n");
    EXPECT_SHOW(e, 20, 0, false, "+---+\n|id |\n+---+\n+---+\n");
    spk_df_release(e);
    /* duplicate names */
    spk_df *r = spk_df_range(S, 0, 2, 1);
    spk_df *dup = spk_df_select(r, 2, spk_col("id"), spk_col("id"));
    EXPECT_SHOW(dup, 20, 20, false, "+---+---+\n| id| id|\n+---+---+\n|  0|  0|\n|  1|  1|\n+---+---+\n");
    spk_df_release(dup);
    spk_df_release(r);
}

static void test_show_default_rows(void) {
    spk_df *r = spk_df_range(S, 0, 25, 1);
    char want[1024];
    size_t k = (size_t)snprintf(want, sizeof want, "+---+\n| id|\n+---+\n");
    for (int i = 0; i < 20; i++) k += (size_t)snprintf(want + k, sizeof want - k, "|%3d|\n", i);
    snprintf(want + k, sizeof want - k, "+---+\nonly showing top 20 rows\n");
    EXPECT_SHOW(r, 20, 20, false, want);
    /* exactly 20 rows: no footer */
    spk_df *r20 = spk_df_limit(r, 20);
    k = (size_t)snprintf(want, sizeof want, "+---+\n| id|\n+---+\n");
    for (int i = 0; i < 20; i++) k += (size_t)snprintf(want + k, sizeof want - k, "|%3d|\n", i);
    snprintf(want + k, sizeof want - k, "+---+\n");
    EXPECT_SHOW(r20, 20, 20, false, want);
    spk_df_release(r20);
    /* a wider column widens the table */
    spk_df *big = spk_df_range(S, 99998, 100001, 1);
    EXPECT_SHOW(big, 20, 20, false, "+------+\n|    id|\n+------+\n| 99998|\n| 99999|\n|100000|\n+------+\n");
    spk_df_release(big);
    spk_df_release(r);
}

static void test_show_truncate(void) {
    spk_df *d = FIX("s STRING, n INT\nabcdefghijklmnopqrstuvwxyz,1\nshort,22\nabcdefghijklmnopqrst,3\nabcdefghijklmnopqrstu,4");
    EXPECT_SHOW(d, 20, 20, false,
                "+--------------------+---+\n"
                "|                   s|  n|\n"
                "+--------------------+---+\n"
                "|abcdefghijklmnopq...|  1|\n"
                "|               short| 22|\n"
                "|abcdefghijklmnopqrst|  3|\n"
                "|abcdefghijklmnopq...|  4|\n"
                "+--------------------+---+\n");
    EXPECT_SHOW(d, 20, 0, false,
                "+--------------------------+---+\n"
                "|s                         |n  |\n"
                "+--------------------------+---+\n"
                "|abcdefghijklmnopqrstuvwxyz|1  |\n"
                "|short                     |22 |\n"
                "|abcdefghijklmnopqrst      |3  |\n"
                "|abcdefghijklmnopqrstu     |4  |\n"
                "+--------------------------+---+\n");
    EXPECT_SHOW(d, 2, 3, false,
                "+---+---+\n"
                "|  s|  n|\n"
                "+---+---+\n"
                "|abc|  1|\n"
                "|sho| 22|\n"
                "+---+---+\n"
                "only showing top 2 rows\n");
    EXPECT_SHOW(d, 2, 1, false,
                "+---+---+\n"
                "|  s|  n|\n"
                "+---+---+\n"
                "|  a|  1|\n"
                "|  s|  2|\n"
                "+---+---+\n"
                "only showing top 2 rows\n");
    EXPECT_SHOW(d, 2, 4, false,
                "+----+---+\n"
                "|   s|  n|\n"
                "+----+---+\n"
                "|a...|  1|\n"
                "|s...| 22|\n"
                "+----+---+\n"
                "only showing top 2 rows\n");
    EXPECT_SHOW(d, 2, 5, false,
                "+-----+---+\n"
                "|    s|  n|\n"
                "+-----+---+\n"
                "|ab...|  1|\n"
                "|short| 22|\n"
                "+-----+---+\n"
                "only showing top 2 rows\n");
    spk_df_release(d);
}

/* Spark truncates cells but never the column names (getRows prepends the
 * escaped field names untruncated). */
static void test_show_header_not_truncated(void) {
    spk_df *d = FIX("longname INT, abcdefghijklmnopqrstuvwxy STRING\n1,x");
    EXPECT_SHOW(d, 20, 3, false,
                "+--------+-------------------------+\n"
                "|longname|abcdefghijklmnopqrstuvwxy|\n"
                "+--------+-------------------------+\n"
                "|       1|                        x|\n"
                "+--------+-------------------------+\n");
    EXPECT_SHOW(d, 20, 20, false,
                "+--------+-------------------------+\n"
                "|longname|abcdefghijklmnopqrstuvwxy|\n"
                "+--------+-------------------------+\n"
                "|       1|                        x|\n"
                "+--------+-------------------------+\n");
    spk_df_release(d);
}

static void test_show_vertical(void) {
    spk_df *p = FIX("id INT, name STRING\n1,Alice\n22,NULL");
    EXPECT_SHOW(p, 20, 20, true,
                "-RECORD 0-----\n"
                " id   | 1     \n"
                " name | Alice \n"
                "-RECORD 1-----\n"
                " id   | 22    \n"
                " name | NULL  \n");
    EXPECT_SHOW(p, 1, 20, true,
                "-RECORD 0-----\n"
                " id   | 1     \n"
                " name | Alice \n"
                "only showing top 1 row\n");
    /* truncation applies to vertical cells too */
    EXPECT_SHOW(p, 20, 4, true,
                "-RECORD 0----\n"
                " id   | 1    \n"
                " name | A... \n"
                "-RECORD 1----\n"
                " id   | 22   \n"
                " name | NULL \n");
    spk_df_release(p);
    /* empty: only "(0 rows)" */
    spk_df *e = FIX("id INT, name STRING");
    EXPECT_SHOW(e, 20, 20, true, "(0 rows)\n");
    spk_df_release(e);
}

/* Vertical widths start at 3, as the horizontal ones (minimumColWidth). */
static void test_show_vertical_min_width(void) {
    spk_df *p = FIX("a INT\n1\n2");
    EXPECT_SHOW(p, 20, 20, true,
                "-RECORD 0--\n"
                " a   | 1   \n"
                "-RECORD 1--\n"
                " a   | 2   \n");
    spk_df_release(p);
    spk_df *q = FIX("a INT, bb STRING\n1,xyzzy");
    EXPECT_SHOW(q, 20, 20, true,
                "-RECORD 0----\n"
                " a   | 1     \n"
                " bb  | xyzzy \n");
    spk_df_release(q);
}

static void test_show_types(void) {
    spk_df *d = FIX("d DOUBLE\n1.0E7\n0.001\n1.0E-4\n1234567.0\n-0.0\nNaN\nInfinity\n100");
    EXPECT_SHOW(d, 20, 20, false,
                "+---------+\n"
                "|        d|\n"
                "+---------+\n"
                "|    1.0E7|\n"
                "|    0.001|\n"
                "|   1.0E-4|\n"
                "|1234567.0|\n"
                "|     -0.0|\n"
                "|      NaN|\n"
                "| Infinity|\n"
                "|    100.0|\n"
                "+---------+\n");
    spk_df_release(d);
    spk_df *m = FIX("p DECIMAL(10,2), q DECIMAL(5,0)\n1.5,1\n-0.05,-12345\n12345678.99,0\nNULL,NULL");
    EXPECT_SHOW(m, 20, 20, false,
                "+-----------+------+\n"
                "|          p|     q|\n"
                "+-----------+------+\n"
                "|       1.50|     1|\n"
                "|      -0.05|-12345|\n"
                "|12345678.99|     0|\n"
                "|       NULL|  NULL|\n"
                "+-----------+------+\n");
    spk_df_release(m);
    spk_df *t = FIX("d DATE, ts TIMESTAMP, b BOOLEAN\n"
                    "2024-02-29,2024-02-29 13:05:09,true\n"
                    "1970-01-01,1970-01-01 00:00:00.5,false\n"
                    "NULL,NULL,NULL");
    EXPECT_SHOW(t, 20, 20, false,
                "+----------+--------------------+-----+\n"
                "|         d|                  ts|    b|\n"
                "+----------+--------------------+-----+\n"
                "|2024-02-29| 2024-02-29 13:05:09| true|\n"
                "|1970-01-01|1970-01-01 00:00:...|false|\n"
                "|      NULL|                NULL| NULL|\n"
                "+----------+--------------------+-----+\n");
    /* a timestamp is a cell like any other: 21 characters cut at 20 */
    EXPECT_SHOW(t, 20, 0, false,
                "+----------+---------------------+-----+\n"
                "|d         |ts                   |b    |\n"
                "+----------+---------------------+-----+\n"
                "|2024-02-29|2024-02-29 13:05:09  |true |\n"
                "|1970-01-01|1970-01-01 00:00:00.5|false|\n"
                "|NULL      |NULL                 |NULL |\n"
                "+----------+---------------------+-----+\n");
    spk_df_release(t);
    /* BIGINT extremes, and expressions as headers */
    spk_df *r = spk_df_range(S, 0, 1, 1);
    spk_df *x = spk_df_select(r, 2, spk_alias(spk_lit_i64(INT64_MIN), "lo"), spk_add(spk_col("id"), spk_lit_i32(1)));
    EXPECT_SHOW(x, 20, 20, false,
                "+--------------------+--------+\n"
                "|                  lo|(id + 1)|\n"
                "+--------------------+--------+\n"
                "|-9223372036854775808|       1|\n"
                "+--------------------+--------+\n");
    spk_df_release(x);
    spk_df_release(r);
}

static void test_show_wide_and_escapes(void) {
    spk_df *c = FIX("s STRING, n INT\n日本語,1\nab,2");
    EXPECT_SHOW(c, 20, 20, false,
                "+------+---+\n"
                "|     s|  n|\n"
                "+------+---+\n"
                "|日本語|  1|\n"
                "|    ab|  2|\n"
                "+------+---+\n");
    EXPECT_SHOW(c, 20, 0, false,
                "+------+---+\n"
                "|s     |n  |\n"
                "+------+---+\n"
                "|日本語|1  |\n"
                "|ab    |2  |\n"
                "+------+---+\n");
    EXPECT_SHOW(c, 20, 20, true,
                "-RECORD 0-----\n"
                " s   | 日本語 \n"
                " n   | 1      \n"
                "-RECORD 1-----\n"
                " s   | ab     \n"
                " n   | 2      \n");
    spk_df_release(c);
    /* truncation counts characters, widths count CJK twice; é is narrow */
    spk_df *t = FIX("s STRING\n日本語です\ncafé");
    EXPECT_SHOW(t, 20, 4, false,
                "+-----+\n"
                "|    s|\n"
                "+-----+\n"
                "|日...|\n"
                "| café|\n"
                "+-----+\n");
    spk_df_release(t);
    /* control characters are escaped before truncation */
    spk_df *n = FIX("s STRING\n\"a\nb\"\n\"x\ty\"\n\"0123456789\n123456789\"");
    EXPECT_SHOW(n, 20, 20, false,
                "+--------------------+\n"
                "|                   s|\n"
                "+--------------------+\n"
                "|                a\\nb|\n"
                "|                x\\ty|\n"
                "|0123456789\\n12345...|\n"
                "+--------------------+\n");
    spk_df_release(n);
}

/* Spark measures width in UTF-16 units: a character outside the BMP is 2. */
static void test_show_supplementary_width(void) {
    spk_df *e = FIX("e STRING\n\xF0\x9F\x98\x80\xF0\x9F\x98\x80\nab");
    EXPECT_SHOW(e, 20, 20, false,
                "+----+\n"
                "|   e|\n"
                "+----+\n"
                "|\xF0\x9F\x98\x80\xF0\x9F\x98\x80|\n"
                "|  ab|\n"
                "+----+\n");
    spk_df_release(e);
}

/* ------------------------------------------------------------ printSchema, explain */

static char *capture_print_schema(const spk_df *df) {
    FILE *f = tmpfile();
    if (!f) return NULL;
    spk_df_print_schema(df, f);
    long len = ftell(f);
    rewind(f);
    char *buf = (char *)calloc(1, (size_t)(len > 0 ? len : 0) + 1);
    if (len > 0 && fread(buf, 1, (size_t)len, f) != (size_t)len) buf[0] = '\0';
    fclose(f);
    return buf;
}

static void test_print_schema(void) {
    /* PySpark's printSchema is print(treeString()): the tree plus a newline */
    spk_df *p = FIX("id INT NOT NULL, name STRING, price DECIMAL(15,2), d DATE, ts TIMESTAMP, ok BOOLEAN, x DOUBLE, l BIGINT");
    char *s = capture_print_schema(p);
    CHECK_STR(s, "root\n"
                 " |-- id: integer (nullable = false)\n"
                 " |-- name: string (nullable = true)\n"
                 " |-- price: decimal(15,2) (nullable = true)\n"
                 " |-- d: date (nullable = true)\n"
                 " |-- ts: timestamp (nullable = true)\n"
                 " |-- ok: boolean (nullable = true)\n"
                 " |-- x: double (nullable = true)\n"
                 " |-- l: long (nullable = true)\n"
                 "\n");
    free(s);
    spk_df_release(p);
    spk_df *r = spk_df_range(S, 0, 3, 1);
    s = capture_print_schema(r);
    CHECK_STR(s, "root\n |-- id: long (nullable = false)\n\n");
    free(s);
    spk_df_release(r);
}

static void test_result_nullability(void) {
    /* the tree itself (treeString) for derived frames: count is never null,
     * sum is; range's id is not null and stays so through arithmetic */
    spk_df *r = spk_df_range(S, 0, 3, 1);
    spk_df *g = spk_df_agg(r, 2, count_star(), fn1("sum", "id"));
    char buf[512];
    spk_schema_tree_string(spk_df_schema(g), buf, sizeof buf);
    CHECK_STR(buf, "root\n |-- count(1): long (nullable = false)\n |-- sum(id): long (nullable = true)\n");
    spk_df_release(g);
    spk_df *x = spk_df_select(r, 2, spk_add(spk_col("id"), spk_lit_i64(1)), spk_alias(spk_lit_null(), "n"));
    spk_schema_tree_string(spk_df_schema(x), buf, sizeof buf);
    CHECK_STR(buf, "root\n |-- (id + 1): long (nullable = false)\n |-- n: void (nullable = true)\n");
    spk_df_release(x);
    spk_df_release(r);
}

static void test_explain(void) {
    spk_df *p = FIX(PEOPLE);
    spk_df *q = spk_df_select(K(spk_df_where(p, "salary > 75")), 1, spk_col("name"));
    FILE *f = tmpfile();
    if (f && q) {
        CHECK_OK(spk_df_explain(q, false, f));
        long len = ftell(f);
        rewind(f);
        char buf[4096] = {0};
        size_t got = fread(buf, 1, sizeof buf - 1, f);
        buf[got] = '\0';
        CHECK(len > 0);
        CHECK_CONTAINS(buf, "Plan ==");
        CHECK_CONTAINS(buf, "salary");
        fclose(f);
    } else if (f) {
        fclose(f);
    }
    spk_df_release(q);
    spk_df_release(p);
    CHECK(spk_df_explain(NULL, false, stderr) != SPK_OK);
}

/* ------------------------------------------------------------ immutability, sharing */

static void test_immutability(void) {
    spk_df *p = FIX(PEOPLE);
    spk_df *a = spk_df_where(p, "id <= 2");
    spk_df *b = spk_df_with_column(a, "x", spk_lit_i32(1));
    spk_df_release(a); /* b keeps its input alive */
    EXPECT_ROWS(spk_df_select(b, 2, spk_col("id"), spk_col("x")), "1,1|2,1");
    /* the parent is unchanged by derived frames */
    EXPECT_SCHEMA(p, "id:int,name:string,dept:string,salary:int,bonus:double");
    int64_t n = -1;
    CHECK_OK(spk_df_count(p, &n));
    CHECK_EQ_INT(n, 6);
    /* one expression reused in two frames */
    spk_expr *cond = parse("salary >= 80");
    spk_df *c1 = spk_df_filter(p, spk_expr_retain(cond));
    spk_df *c2 = spk_df_filter(b, cond);
    EXPECT_ROWS(spk_df_select(c1, 1, spk_col("id")), "1|2|3");
    EXPECT_ROWS(spk_df_select(c2, 1, spk_col("id")), "1|2");
    spk_df_release(c1);
    spk_df_release(c2);
    spk_df_release(b);
    spk_df_release(p);
}

/* ------------------------------------------------------------ a longer pipeline */

static void test_pipeline(void) {
    spk_df *p = FIX(PEOPLE);
    /* SELECT dept, sum(salary + coalesce(bonus, 0) * 10) AS pay FROM people
     * WHERE id <> 3 GROUP BY dept ORDER BY pay DESC */
    spk_df *w = spk_df_where(p, "id <> 3");
    spk_df *c = spk_df_with_column(w, "pay", parse("salary + coalesce(bonus, 0) * 10"));
    spk_expr *k[1] = {spk_col("dept")};
    spk_expr *a[1] = {spk_alias(fn1("sum", "pay"), "pay")};
    spk_df *g = spk_df_group_agg(c, k, 1, a, 1);
    spk_df *o = spk_df_order_by(g, 1, spk_desc(spk_col("pay")));
    EXPECT_SCHEMA(o, "dept:string,pay:double");
    /* eng: 100+15 + 80+0 = 195; NULL: 70+5 + 60+10 = 145; ops: Eve NULL salary → NULL */
    EXPECT_ROWS(spk_df_retain(o), "eng,195.0|NULL,145.0|ops,NULL");
    EXPECT_SHOW(o, 20, 20, false,
                "+----+-----+\n"
                "|dept|  pay|\n"
                "+----+-----+\n"
                "| eng|195.0|\n"
                "|NULL|145.0|\n"
                "| ops| NULL|\n"
                "+----+-----+\n");
    spk_df_release(o);
    spk_df_release(g);
    spk_df_release(c);
    spk_df_release(w);
    spk_df_release(p);
}

/* withColumns computes every value from the input (a reference to a new
 * name sees the old column), replaces in place, appends new ones in order. */
static void test_with_columns(void) {
    spk_df *d = FIX("a INT, b STRING\n1,x\n2,y");
    const char *names[] = {"b", "c", "d"};
    spk_expr *values[] = {spk_call("upper", 1, spk_col("b")), spk_mul(spk_col("a"), spk_lit_i32(10)),
                          spk_call("concat", 2, spk_col("b"), spk_lit_str("!"))};
    spk_df *w = spk_df_with_columns(d, names, values, 3);
    CHECK(w != NULL);
    EXPECT_SHOW(w, 20, 20, false,
                "+---+---+---+---+\n"
                "|  a|  b|  c|  d|\n"
                "+---+---+---+---+\n"
                "|  1|  X| 10| x!|\n"
                "|  2|  Y| 20| y!|\n"
                "+---+---+---+---+\n");
    const char *bad[] = {"e"};
    spk_expr *missing[] = {spk_col("nope")};
    CHECK(spk_df_with_columns(d, bad, missing, 1) == NULL);
    CHECK_CONTAINS(spk_last_error(), "`nope`");
    spk_df_release(w);
    spk_df_release(d);
}

/* groupBy().count()/sum()/avg()/min()/max(), named columns or every numeric
 * non-key column, with Spark's column names. */
static void test_group_shortcuts(void) {
    spk_df *d = FIX("k STRING, x INT, y DOUBLE, s STRING\na,1,1.5,p\na,3,2.5,q\nb,5,NULL,r\nNULL,7,4.0,s");
    spk_expr *k1[] = {spk_col("k")};
    spk_df *g1 = spk_df_group_count(d, k1, 1), *c = spk_df_order_by(g1, 1, spk_col("k"));
    EXPECT_SHOW(c, 20, 20, false,
                "+----+-----+\n"
                "|   k|count|\n"
                "+----+-----+\n"
                "|NULL|    1|\n"
                "|   a|    2|\n"
                "|   b|    1|\n"
                "+----+-----+\n");
    spk_expr *k2[] = {spk_col("k")};
    spk_df *sum = spk_df_group_sum(d, k2, 1, NULL, 0); /* x and y: the numeric non-key columns */
    spk_df *sums = spk_df_order_by(sum, 1, spk_col("k"));
    EXPECT_SHOW(sums, 20, 20, false,
                "+----+------+------+\n"
                "|   k|sum(x)|sum(y)|\n"
                "+----+------+------+\n"
                "|NULL|     7|   4.0|\n"
                "|   a|     4|   4.0|\n"
                "|   b|     5|  NULL|\n"
                "+----+------+------+\n");
    const char *cols[] = {"x"};
    spk_expr *k3[] = {spk_col("k")}, *k4[] = {spk_col("k")}, *k5[] = {spk_col("k")};
    spk_df *ga = spk_df_group_avg(d, k3, 1, cols, 1), *avg = spk_df_order_by(ga, 1, spk_col("k"));
    spk_df *gn = spk_df_group_min(d, k4, 1, cols, 1), *mn = spk_df_order_by(gn, 1, spk_col("k"));
    spk_df *gx = spk_df_group_max(d, k5, 1, cols, 1), *mx = spk_df_order_by(gx, 1, spk_col("k"));
    EXPECT_SHOW(avg, 20, 20, false, "+----+------+\n|   k|avg(x)|\n+----+------+\n|NULL|   7.0|\n|   a|   2.0|\n|   b|   5.0|\n+----+------+\n");
    EXPECT_SHOW(mn, 20, 20, false, "+----+------+\n|   k|min(x)|\n+----+------+\n|NULL|     7|\n|   a|     1|\n|   b|     5|\n+----+------+\n");
    EXPECT_SHOW(mx, 20, 20, false, "+----+------+\n|   k|max(x)|\n+----+------+\n|NULL|     7|\n|   a|     3|\n|   b|     5|\n+----+------+\n");
    spk_df *none = spk_df_group_count(d, NULL, 0); /* no keys: the whole frame */
    EXPECT_SHOW(none, 20, 20, false, "+-----+\n|count|\n+-----+\n|    4|\n+-----+\n");
    spk_df *frames[] = {none, mx, gx, mn, gn, avg, ga, sums, sum, c, g1, d};
    for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) spk_df_release(frames[i]);
}

/* createDataFrame from a schema and C values; sort and unionAll are the
 * same operations as orderBy and union. */
static void test_from_rows_and_aliases(void) {
    spk_schema *schema = NULL;
    CHECK_OK(spk_schema_parse(NULL, "id INT NOT NULL, name STRING", &schema));
    spk_value rows[] = {spk_value_i32(2), spk_value_str("b"), spk_value_i32(1), spk_value_null()};
    spk_df *d = spk_df_from_rows(S, schema, rows, 2);
    CHECK(d != NULL);
    spk_expr *keys[] = {spk_col("id")};
    spk_df *sorted = spk_df_sort_array(d, keys, 1);
    spk_df *both = spk_df_union_all(sorted, sorted);
    EXPECT_SHOW(both, 20, 20, false,
                "+---+----+\n| id|name|\n+---+----+\n|  1|NULL|\n|  2|   b|\n|  1|NULL|\n|  2|   b|\n+---+----+\n");
    spk_value bad[] = {spk_value_null(), spk_value_str("x")}; /* NULL into NOT NULL */
    CHECK(spk_df_from_rows(S, schema, bad, 1) == NULL);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_NULL);
    spk_df_release(both);
    spk_df_release(sorted);
    spk_df_release(d);
    spk_schema_release(schema);
}

int main(void) {
    FOR_EACH_THREAD_COUNT(round_) {
        if (spk_session_new(NULL, &S) != SPK_OK) {
            fprintf(stderr, "no session: %s\n", spk_last_error());
            return 1;
        }
        RUN_DF(test_sources);
        RUN_DF(test_range);
        RUN_DF(test_select);
        RUN_DF(test_errors);
        RUN_DF(test_error_categories);
        RUN_DF(test_alias);
        RUN_DF(test_with_column);
        RUN_DF(test_filter);
        RUN_DF(test_filter_conjuncts);
        RUN_DF(test_limit_offset);
        RUN_DF(test_order_by);
        RUN_DF(test_sort_limit_window);
        RUN_DF(test_sort_big);
        RUN_DF(test_group_by);
        RUN_DF(test_group_keys_typed);
        RUN_DF(test_group_few_to_many);
        RUN_DF(test_group_direct_keys);
        RUN_DF(test_group_keys_from_words);
        RUN_DF(test_nulls_noted_by_every_writer);
        RUN_DF(test_decimal_sum_wraps);
        RUN_DF(test_global_agg);
        RUN_DF(test_distinct_union);
        RUN_DF(test_union_string_widening);
        RUN_DF(test_empty);
        RUN_DF(test_count_streams);
        RUN_DF(test_with_columns);
        RUN_DF(test_group_shortcuts);
        RUN_DF(test_from_rows_and_aliases);
        RUN_DF(test_show_basic);
        RUN_DF(test_show_default_rows);
        RUN_DF(test_show_truncate);
        RUN_DF(test_show_header_not_truncated);
        RUN_DF(test_show_vertical);
        RUN_DF(test_show_vertical_min_width);
        RUN_DF(test_show_types);
        RUN_DF(test_show_wide_and_escapes);
        RUN_DF(test_show_supplementary_width);
        RUN_DF(test_print_schema);
        RUN_DF(test_result_nullability);
        RUN_DF(test_explain);
        RUN_DF(test_immutability);
        RUN_DF(test_pipeline);
        spk_session_free(S);
    }
    return TEST_REPORT();
}
