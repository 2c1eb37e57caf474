/* testing: spk_assert_df_equal / spk_assert_schema_equal and their _at
 * forms — equality in any row order, DOUBLE tolerance, NaN and NULL,
 * column order and nullability options, multiset semantics for duplicates,
 * the exact text of schema and row reports (side by side, capped at
 * max_rows, positional with check_row_order), a 1,000-row frame differing
 * in one row, and failures to run a DataFrame. */
#define _POSIX_C_SOURCE 200809L
#include "test.h"

static spk_session *session(void) {
    spk_session *s = NULL;
    if (spk_session_new(NULL, &s) != SPK_OK) failf(__FILE__, __LINE__, "session: %s", spk_last_error());
    return s;
}

/* Compares two fixtures: the status, and the message (NULL unless
 * SPK_ERR_ASSERTION), which the caller frees. */
static spk_status compare(const char *actual, const char *expected, const spk_df_equal_options *o, char **message) {
    spk_session *s = session();
    spk_df *a = spk_df_from_fixture(s, actual), *e = spk_df_from_fixture(s, expected);
    if (!a || !e) failf(__FILE__, __LINE__, "fixture: %s", spk_last_error());
    *message = (char *)"not set";
    spk_status st = spk_assert_df_equal(a, e, o, message);
    spk_df_release(a);
    spk_df_release(e);
    spk_session_free(s);
    return st;
}

/* actual and expected are equal (and no message is made). */
static void check_equal_at(const char *file, int line, const char *actual, const char *expected,
                           const spk_df_equal_options *o) {
    char *m = NULL;
    spk_status st = compare(actual, expected, o, &m);
    if (st != SPK_OK || m)
        failf(file, line, "expected equal, got %s:\n%s", spk_status_name(st), m ? m : "(no message)");
    spk_string_free(m);
}
#define CHECK_EQUAL(a, e, o) check_equal_at(__FILE__, __LINE__, (a), (e), (o))

/* actual and expected differ, with exactly `report` as the message. */
static void check_report_at(const char *file, int line, const char *actual, const char *expected,
                            const spk_df_equal_options *o, const char *report) {
    char *m = NULL;
    spk_status st = compare(actual, expected, o, &m);
    if (st != SPK_ERR_ASSERTION) failf(file, line, "expected SPK_ERR_ASSERTION, got %s", spk_status_name(st));
    else if (!m || strcmp(m, report) != 0)
        failf(file, line, "report differs:\n--- got\n%s\n--- expected\n%s", m ? m : "(null)", report);
    spk_string_free(m);
}
#define CHECK_REPORT(a, e, o, report) check_report_at(__FILE__, __LINE__, (a), (e), (o), (report))

/* ------------------------------------------------------------ equal frames */

static void test_equal_in_any_row_order(void) {
    CHECK_EQUAL("id INT, name STRING\n1,a\n2,b\n3,c", "id INT, name STRING\n3,c\n1,a\n2,b", NULL);
    CHECK_EQUAL("id INT, name STRING\n1,a\n1,a\n2,b", "id INT, name STRING\n1,a\n2,b\n1,a", NULL);
    CHECK_EQUAL("id INT", "id INT", NULL); /* both empty */
    spk_df_equal_options o = {0};
    o.check_row_order = true;
    CHECK_EQUAL("id INT, name STRING\n1,a\n2,b", "id INT, name STRING\n1,a\n2,b", &o);
}

static void test_equal_nulls_nan_infinity(void) {
    CHECK_EQUAL("x DOUBLE, s STRING, d DATE\nNULL,NULL,NULL\nNaN,a,2024-01-31\nInfinity,b,NULL\n-Infinity,c,NULL",
                "x DOUBLE, s STRING, d DATE\n-Infinity,c,NULL\nInfinity,b,NULL\nNaN,a,2024-01-31\nNULL,NULL,NULL",
                NULL);
    spk_df_equal_options o = {0};
    o.exact = true;
    CHECK_EQUAL("x DOUBLE\nNaN\nNULL\n-0.0", "x DOUBLE\nNULL\n0.0\nNaN", &o);
}

static void test_equal_within_tolerance(void) {
    /* |a - e| <= 1e-8 + 1e-5 * |e| by default */
    CHECK_EQUAL("id INT, x DOUBLE\n1,100.0\n2,0.0", "id INT, x DOUBLE\n2,0.000000005\n1,100.0009", NULL);
    /* rows whose doubles sort in another order once the noise is in */
    CHECK_EQUAL("x DOUBLE, y DOUBLE\n1.0,5.0\n1.0000001,3.0", "x DOUBLE, y DOUBLE\n1.0000001,5.0\n1.0,3.0", NULL);
    CHECK_EQUAL("x DOUBLE\n1.0\n1.0000001\n2.0", "x DOUBLE\n2.0000001\n0.9999999\n1.0000002", NULL);
    spk_df_equal_options o = {0};
    o.atol = 0.5;
    CHECK_EQUAL("x DOUBLE\n10.0", "x DOUBLE\n10.4", &o);
    o.atol = 0;
    o.rtol = 0.1;
    CHECK_EQUAL("x DOUBLE\n10.0", "x DOUBLE\n10.99", &o);
    CHECK_EQUAL("x DOUBLE\n100.0", "x DOUBLE\n111.0", &o); /* relative to expected's value */
    /* DECIMAL is compared by value, never within a tolerance */
    o.atol = 1;
    CHECK_EQUAL("d DECIMAL(10,2)\n1.5", "d DECIMAL(10,2)\n1.50", &o);
}

static void test_ignore_column_order(void) {
    spk_df_equal_options o = {0};
    o.ignore_column_order = true;
    CHECK_EQUAL("id INT, name STRING, x DOUBLE\n1,a,1.5\n2,b,2.5", "x DOUBLE, id INT, name STRING\n2.5,2,b\n1.5,1,a",
                &o);
    o.check_row_order = true;
    CHECK_EQUAL("id INT, name STRING\n1,a\n2,b", "name STRING, id INT\na,1\nb,2", &o);
}

static void test_nullability_ignored_by_default(void) {
    CHECK_EQUAL("id INT NOT NULL, s STRING\n1,a", "id INT, s STRING NOT NULL\n1,a", NULL);
}

/* ------------------------------------------------------------ schema reports */

static void test_schema_type_differs(void) {
    CHECK_REPORT("id INT, name STRING, amount DECIMAL(10,2)\n1,a,1.00", "id INT, name STRING, amount DOUBLE\n1,a,1.0",
                 NULL,
                 "[DIFFERENT_SCHEMA] Schemas do not match (1 column differs, marked *)\n"
                 "  actual                                            expected\n"
                 "  root                                              root\n"
                 "   |-- id: integer (nullable = true)                 |-- id: integer (nullable = true)\n"
                 "   |-- name: string (nullable = true)                |-- name: string (nullable = true)\n"
                 "*  |-- amount: decimal(10,2) (nullable = true)    *  |-- amount: double (nullable = true)");
}

static void test_schema_names_are_case_sensitive(void) {
    CHECK_REPORT("id INT\n1", "ID INT\n1", NULL,
                 "[DIFFERENT_SCHEMA] Schemas do not match (1 column differs, marked *)\n"
                 "  actual                                  expected\n"
                 "  root                                    root\n"
                 "*  |-- id: integer (nullable = true)    *  |-- ID: integer (nullable = true)");
}

static void test_schema_column_count_differs(void) {
    CHECK_REPORT("id INT, name STRING\n1,a", "id INT\n1", NULL,
                 "[DIFFERENT_SCHEMA] Schemas do not match (1 column differs, marked *)\n"
                 "  actual                                   expected\n"
                 "  root                                     root\n"
                 "   |-- id: integer (nullable = true)        |-- id: integer (nullable = true)\n"
                 "*  |-- name: string (nullable = true)");
    CHECK_REPORT("id INT\n1", "id INT, name STRING\n1,a", NULL,
                 "[DIFFERENT_SCHEMA] Schemas do not match (1 column differs, marked *)\n"
                 "  actual                                  expected\n"
                 "  root                                    root\n"
                 "   |-- id: integer (nullable = true)       |-- id: integer (nullable = true)\n"
                 "                                        *  |-- name: string (nullable = true)");
}

static void test_schema_column_order(void) {
    /* by position, both columns differ; by name, only the type of `id` */
    CHECK_REPORT("id INT, name STRING\n1,a", "name STRING, id BIGINT\na,1", NULL,
                 "[DIFFERENT_SCHEMA] Schemas do not match (2 columns differ, marked *)\n"
                 "  actual                                   expected\n"
                 "  root                                     root\n"
                 "*  |-- id: integer (nullable = true)     *  |-- name: string (nullable = true)\n"
                 "*  |-- name: string (nullable = true)    *  |-- id: long (nullable = true)");
    spk_df_equal_options o = {0};
    o.ignore_column_order = true;
    CHECK_REPORT("id INT, name STRING\n1,a", "name STRING, id BIGINT\na,1", &o,
                 "[DIFFERENT_SCHEMA] Schemas do not match (1 column differs, marked *; column order ignored)\n"
                 "  actual                                   expected\n"
                 "  root                                     root\n"
                 "*  |-- id: integer (nullable = true)        |-- name: string (nullable = true)\n"
                 "   |-- name: string (nullable = true)    *  |-- id: long (nullable = true)");
    /* a name missing on each side */
    CHECK_REPORT("id INT, b STRING\n1,a", "c STRING, id INT\na,1", &o,
                 "[DIFFERENT_SCHEMA] Schemas do not match (2 columns differ, marked *; column order ignored)\n"
                 "  actual                                  expected\n"
                 "  root                                    root\n"
                 "   |-- id: integer (nullable = true)    *  |-- c: string (nullable = true)\n"
                 "*  |-- b: string (nullable = true)         |-- id: integer (nullable = true)");
}

static void test_schema_nullability_checked(void) {
    spk_df_equal_options o = {0};
    o.check_nullable = true;
    CHECK_REPORT("id INT NOT NULL, s STRING\n1,a", "id INT, s STRING\n1,a", &o,
                 "[DIFFERENT_SCHEMA] Schemas do not match (1 column differs, marked *)\n"
                 "  actual                                   expected\n"
                 "  root                                     root\n"
                 "*  |-- id: integer (nullable = false)    *  |-- id: integer (nullable = true)\n"
                 "   |-- s: string (nullable = true)          |-- s: string (nullable = true)");
    CHECK_EQUAL("id INT NOT NULL\n1", "id INT NOT NULL\n1", &o);
}

static void test_assert_schema_equal(void) {
    spk_schema *a = NULL, *b = NULL, *c = NULL;
    CHECK_OK(spk_schema_parse(NULL, "id BIGINT NOT NULL, price DECIMAL(15,2)", &a));
    CHECK_OK(spk_schema_parse(NULL, "id BIGINT, price DECIMAL(15,2)", &b));
    CHECK_OK(spk_schema_parse(NULL, "price DECIMAL(15,2), id BIGINT", &c));
    char *m = (char *)"not set";
    CHECK_OK(spk_assert_schema_equal(a, b, NULL, &m));
    CHECK(m == NULL);
    spk_df_equal_options o = {0};
    o.check_nullable = true;
    CHECK_STATUS(spk_assert_schema_equal(a, b, &o, &m), SPK_ERR_ASSERTION);
    CHECK_STR(m, "[DIFFERENT_SCHEMA] Schemas do not match (1 column differs, marked *)\n"
                 "  actual                                           expected\n"
                 "  root                                             root\n"
                 "*  |-- id: long (nullable = false)               *  |-- id: long (nullable = true)\n"
                 "   |-- price: decimal(15,2) (nullable = true)       |-- price: decimal(15,2) (nullable = true)");
    CHECK_STR(spk_last_error(), "[DIFFERENT_SCHEMA] Schemas do not match (1 column differs, marked *)");
    spk_string_free(m);
    CHECK_STATUS(spk_assert_schema_equal(b, c, NULL, &m), SPK_ERR_ASSERTION);
    CHECK_CONTAINS(m, "(2 columns differ, marked *)");
    spk_string_free(m);
    o.ignore_column_order = true;
    o.check_nullable = false;
    CHECK_OK(spk_assert_schema_equal(b, c, &o, &m));
    CHECK_STATUS(spk_assert_schema_equal(b, c, NULL, NULL), SPK_ERR_ASSERTION); /* no message asked for */
    CHECK_STATUS(spk_assert_schema_equal(NULL, c, NULL, &m), SPK_ERR_ARG);
    CHECK(m == NULL);
    spk_schema_release(a);
    spk_schema_release(b);
    spk_schema_release(c);
}

/* ------------------------------------------------------------ row reports */

static void test_rows_differ(void) {
    CHECK_REPORT("id INT, name STRING, amount DECIMAL(10,2)\n1,Alice,10.50\n2,Bob,3.00\n3,Chen,7.25",
                 "id INT, name STRING, amount DECIMAL(10,2)\n3,Chen,7.25\n2,Bob,3.10\n1,Alice,10.50", NULL,
                 "[DIFFERENT_ROWS] 1 row only in actual, 1 row only in expected (2 rows match)\n"
                 "only in actual       only in expected\n"
                 "+---+----+------+    +---+----+------+\n"
                 "| id|name|amount|    | id|name|amount|\n"
                 "+---+----+------+    +---+----+------+\n"
                 "|  2| Bob|  3.00|    |  2| Bob|  3.10|\n"
                 "+---+----+------+    +---+----+------+");
}

static void test_rows_missing_on_one_side(void) {
    CHECK_REPORT("id INT\n1\n2\n3", "id INT\n2\n1", NULL,
                 "[DIFFERENT_ROWS] 1 row only in actual, 0 rows only in expected (2 rows match)\n"
                 "only in actual    only in expected\n"
                 "+---+             +---+\n"
                 "| id|             | id|\n"
                 "+---+             +---+\n"
                 "|  3|             +---+\n"
                 "+---+");
    CHECK_REPORT("id INT", "id INT\n7", NULL,
                 "[DIFFERENT_ROWS] 0 rows only in actual, 1 row only in expected (0 rows match)\n"
                 "only in actual    only in expected\n"
                 "+---+             +---+\n"
                 "| id|             | id|\n"
                 "+---+             +---+\n"
                 "+---+             |  7|\n"
                 "                  +---+");
}

/* Rows count as a multiset: [1,1,2] and [1,2,2] differ, by one row each. */
static void test_duplicates(void) {
    CHECK_REPORT("n INT\n1\n1\n2", "n INT\n1\n2\n2", NULL,
                 "[DIFFERENT_ROWS] 1 row only in actual, 1 row only in expected (2 rows match)\n"
                 "only in actual    only in expected\n"
                 "+---+             +---+\n"
                 "|  n|             |  n|\n"
                 "+---+             +---+\n"
                 "|  1|             |  2|\n"
                 "+---+             +---+");
    CHECK_REPORT("n INT, s STRING\n1,a\n1,a\n1,a", "n INT, s STRING\n1,a", NULL,
                 "[DIFFERENT_ROWS] 2 rows only in actual, 0 rows only in expected (1 row matches)\n"
                 "only in actual    only in expected\n"
                 "+---+---+         +---+---+\n"
                 "|  n|  s|         |  n|  s|\n"
                 "+---+---+         +---+---+\n"
                 "|  1|  a|         +---+---+\n"
                 "|  1|  a|\n"
                 "+---+---+");
}

static void test_values_that_differ(void) {
    /* outside the tolerance, with exact, NULL against a value, NaN against a number */
    CHECK_REPORT("x DOUBLE\n1.0", "x DOUBLE\n1.001", NULL,
                 "[DIFFERENT_ROWS] 1 row only in actual, 1 row only in expected (0 rows match)\n"
                 "only in actual    only in expected\n"
                 "+---+             +-----+\n"
                 "|  x|             |    x|\n"
                 "+---+             +-----+\n"
                 "|1.0|             |1.001|\n"
                 "+---+             +-----+");
    spk_df_equal_options o = {0};
    o.exact = true;
    char *m = NULL;
    CHECK_STATUS(compare("x DOUBLE\n1.0", "x DOUBLE\n1.0000001", &o, &m), SPK_ERR_ASSERTION);
    CHECK_CONTAINS(m, "|1.0000001|");
    spk_string_free(m);
    CHECK_STATUS(compare("x DOUBLE\nNULL", "x DOUBLE\n0.0", NULL, &m), SPK_ERR_ASSERTION);
    CHECK_CONTAINS(m, "|NULL|");
    spk_string_free(m);
    CHECK_STATUS(compare("x DOUBLE\nNaN", "x DOUBLE\n1.0", NULL, &m), SPK_ERR_ASSERTION);
    CHECK_CONTAINS(m, "|NaN|");
    spk_string_free(m);
    CHECK_STATUS(compare("x DOUBLE\nInfinity", "x DOUBLE\n1.0E308", NULL, &m), SPK_ERR_ASSERTION);
    spk_string_free(m);
    CHECK_STATUS(compare("s STRING\nNULL", "s STRING\nNULL\nNULL", NULL, &m), SPK_ERR_ASSERTION);
    spk_string_free(m);
    /* rtol scales with expected's value, not actual's */
    o.exact = false;
    o.rtol = 0.1;
    CHECK_STATUS(compare("x DOUBLE\n111.0", "x DOUBLE\n100.0", &o, &m), SPK_ERR_ASSERTION);
    spk_string_free(m);
    /* atol alone: rtol stays 0 (the defaults apply only when both are 0) */
    o.rtol = 0;
    o.atol = 1e-9;
    CHECK_STATUS(compare("x DOUBLE\n100.0", "x DOUBLE\n100.0001", &o, &m), SPK_ERR_ASSERTION);
    spk_string_free(m);
    CHECK_EQUAL("x DOUBLE\n100.0", "x DOUBLE\n100.0001", NULL);
    o.atol = 100;
    CHECK_STATUS(compare("d DECIMAL(10,2)\n1.00", "d DECIMAL(10,2)\n1.01", &o, &m), SPK_ERR_ASSERTION);
    spk_string_free(m);
}

/* Cells are cut at 20 characters and escaped, as show() prints them. */
static void test_long_cells_truncated(void) {
    CHECK_REPORT("id INT, s STRING\n1,\"abcdefghijklmnopqrstuvwxyz\"", "id INT, s STRING\n1,\"line one\\nline two\"",
                 NULL,
                 "[DIFFERENT_ROWS] 1 row only in actual, 1 row only in expected (0 rows match)\n"
                 "only in actual                only in expected\n"
                 "+---+--------------------+    +---+------------------+\n"
                 "| id|                   s|    | id|                 s|\n"
                 "+---+--------------------+    +---+------------------+\n"
                 "|  1|abcdefghijklmnopq...|    |  1|line one\\nline two|\n"
                 "+---+--------------------+    +---+------------------+");
}

/* With columns matched by name, both tables show actual's column order. */
static void test_rows_differ_columns_reordered(void) {
    spk_df_equal_options o = {0};
    o.ignore_column_order = true;
    CHECK_REPORT("id INT, name STRING\n1,a\n2,b", "name STRING, id INT\nb,2\nc,1", &o,
                 "[DIFFERENT_ROWS] 1 row only in actual, 1 row only in expected (1 row matches)\n"
                 "only in actual    only in expected\n"
                 "+---+----+        +---+----+\n"
                 "| id|name|        | id|name|\n"
                 "+---+----+        +---+----+\n"
                 "|  1|   a|        |  1|   c|\n"
                 "+---+----+        +---+----+");
}

static void test_row_order_checked(void) {
    spk_df_equal_options o = {0};
    o.check_row_order = true;
    CHECK_REPORT("id INT, name STRING\n1,a\n2,b\n3,c\n4,d", "id INT, name STRING\n1,a\n3,c\n2,b\n4,d", &o,
                 "[DIFFERENT_ROWS] 2 rows differ (2 rows match in order)\n"
                 "actual            expected\n"
                 "+---+---+----+    +---+---+----+\n"
                 "|row| id|name|    |row| id|name|\n"
                 "+---+---+----+    +---+---+----+\n"
                 "|  1|  2|   b|    |  1|  3|   c|\n"
                 "|  2|  3|   c|    |  2|  2|   b|\n"
                 "+---+---+----+    +---+---+----+");
    /* the rows past the shorter side */
    CHECK_REPORT("id INT\n1\n2\n3", "id INT\n1\n5", &o,
                 "[DIFFERENT_ROWS] 1 row differs, 1 row only in actual (1 row matches in order)\n"
                 "actual       expected\n"
                 "+---+---+    +---+---+\n"
                 "|row| id|    |row| id|\n"
                 "+---+---+    +---+---+\n"
                 "|  1|  2|    |  1|  5|\n"
                 "|  2|  3|    +---+---+\n"
                 "+---+---+");
    CHECK_REPORT("id INT\n1", "id INT\n1\n2", &o,
                 "[DIFFERENT_ROWS] 1 row only in expected (1 row matches in order)\n"
                 "actual       expected\n"
                 "+---+---+    +---+---+\n"
                 "|row| id|    |row| id|\n"
                 "+---+---+    +---+---+\n"
                 "+---+---+    |  1|  2|\n"
                 "             +---+---+");
    /* tolerance applies position by position too */
    CHECK_EQUAL("x DOUBLE\n1.0\n2.0", "x DOUBLE\n1.000001\n2.000001", &o);
}

/* 25 rows only in actual: max_rows of them are shown, then how many were not. */
static void test_max_rows(void) {
    sbuf a = {NULL, 0, 0};
    sb_str(&a, "n INT");
    for (int i = 1; i <= 25; i++) {
        char row[16];
        snprintf(row, sizeof row, "\n%d", i);
        sb_str(&a, row);
    }
    spk_df_equal_options o = {0};
    o.max_rows = 3;
    CHECK_REPORT(a.p, "n INT\n2\n40", &o,
                 "[DIFFERENT_ROWS] 24 rows only in actual, 1 row only in expected (1 row matches)\n"
                 "only in actual            only in expected\n"
                 "+---+                     +---+\n"
                 "|  n|                     |  n|\n"
                 "+---+                     +---+\n"
                 "|  1|                     | 40|\n"
                 "|  3|                     +---+\n"
                 "|  4|\n"
                 "+---+\n"
                 "21 more rows not shown");
    char *m = NULL;
    CHECK_STATUS(compare(a.p, "n INT", NULL, &m), SPK_ERR_ASSERTION); /* the default: 20 */
    CHECK_CONTAINS(m, "|  1|");
    CHECK_CONTAINS(m, "| 20|");
    CHECK(!strstr(m, "| 21|"));
    CHECK_CONTAINS(m, "\n5 more rows not shown");
    spk_string_free(m);
    o.max_rows = 24;
    CHECK_STATUS(compare(a.p, "n INT", &o, &m), SPK_ERR_ASSERTION);
    CHECK_CONTAINS(m, "\n1 more row not shown");
    spk_string_free(m);
    o.max_rows = 1;
    o.check_row_order = true;
    CHECK_STATUS(compare("n INT\n1\n2\n3", "n INT\n3\n2\n1", &o, &m), SPK_ERR_ASSERTION);
    CHECK_CONTAINS(m, "|  0|  1|");
    CHECK_CONTAINS(m, "|  0|  3|");
    CHECK(!strstr(m, "|  2|"));
    CHECK_CONTAINS(m, "1 more row not shown    1 more row not shown");
    spk_string_free(m);
    free(a.p);
}

/* The row of `i` in the 1,000-row fixtures: a unique name token per row. */
static void thousand_rows(sbuf *b, int changed, const char *amount) {
    sb_str(b, "id INT, name STRING, amount DOUBLE");
    for (int i = 0; i < 1000; i++) {
        char row[64];
        if (i == changed) snprintf(row, sizeof row, "\n%d,name%04d,%s", i, i, amount);
        else snprintf(row, sizeof row, "\n%d,name%04d,%d.25", i, i, i);
        sb_str(b, row);
    }
}

static void test_thousand_rows_one_differs(void) {
    sbuf a = {NULL, 0, 0}, e = {NULL, 0, 0};
    thousand_rows(&a, 637, "637.25");
    thousand_rows(&e, 637, "6370.5");
    for (int pass = 0; pass < 2; pass++) {
        spk_df_equal_options o = {0};
        o.check_row_order = pass == 1;
        char *m = NULL;
        CHECK_STATUS(compare(a.p, e.p, &o, &m), SPK_ERR_ASSERTION);
        if (!m) continue;
        CHECK_CONTAINS(m, pass ? "[DIFFERENT_ROWS] 1 row differs (999 rows match in order)\n"
                               : "[DIFFERENT_ROWS] 1 row only in actual, 1 row only in expected (999 rows match)\n");
        CHECK_CONTAINS(m, pass ? "|637|637|name0637|637.25|    |637|637|name0637|6370.5|"
                               : "|637|name0637|637.25|    |637|name0637|6370.5|");
        int others = 0;
        for (int i = 0; i < 1000; i++) {
            char token[16];
            snprintf(token, sizeof token, "name%04d", i);
            if (i != 637 && strstr(m, token)) others++;
        }
        CHECK_EQ_INT(others, 0);
        /* the header and the one row: two lines of cells */
        int cell_lines = 0;
        for (const char *p = m; (p = strchr(p, '\n')) != NULL; p++) cell_lines += p[1] == '|';
        CHECK_EQ_INT(cell_lines, 2);
        CHECK(!strstr(m, "more row"));
        spk_string_free(m);
    }
    /* equal in another order, and with noise within the tolerance */
    sbuf r = {NULL, 0, 0};
    sb_str(&r, "id INT, name STRING, amount DOUBLE");
    for (int i = 999; i >= 0; i--) {
        char row[64];
        snprintf(row, sizeof row, "\n%d,name%04d,%d.2500001", i, i, i);
        sb_str(&r, row);
    }
    CHECK_EQUAL(a.p, r.p, NULL);
    free(a.p);
    free(e.p);
    free(r.p);
}

/* ------------------------------------------------------------ failures and options */

static spk_status fail_at_run(void *user, const spk_value *args, int nargs, spk_value *result) {
    (void)user;
    (void)args;
    (void)nargs;
    (void)result;
    return SPK_ERR_RANGE;
}

static void test_failures_to_run(void) {
    spk_session *s = session();
    spk_df *a = spk_df_from_fixture(s, "id INT\n1\n2");
    char *m = (char *)"not set";
    CHECK_STATUS(spk_assert_df_equal(NULL, a, NULL, &m), SPK_ERR_ARG);
    CHECK(m == NULL);
    CHECK_CONTAINS(spk_last_error(), "NULL actual DataFrame");
    m = (char *)"not set";
    CHECK_STATUS(spk_assert_df_equal(a, NULL, NULL, &m), SPK_ERR_ARG);
    CHECK(m == NULL);
    /* a DataFrame that fails when it runs */
    spk_type i32 = spk_type_of(SPK_TYPE_INT32);
    spk_udf *u = NULL;
    CHECK_OK(spk_udf_scalar("refuse", &i32, 1, i32, fail_at_run, NULL, &u));
    spk_df *bad = spk_df_select(a, 1, spk_alias(spk_udf_call(u, 1, spk_col("id")), "id"));
    CHECK(bad != NULL);
    m = (char *)"not set";
    CHECK_STATUS(spk_assert_df_equal(bad, a, NULL, &m), SPK_ERR_RANGE);
    CHECK(m == NULL);
    CHECK_CONTAINS(spk_last_error(), "refuse");
    m = (char *)"not set";
    CHECK_STATUS(spk_assert_df_equal(a, bad, NULL, &m), SPK_ERR_RANGE);
    CHECK(m == NULL);
    /* options that make no sense */
    spk_df_equal_options o = {0};
    o.max_rows = -1;
    CHECK_STATUS(spk_assert_df_equal(a, a, &o, &m), SPK_ERR_ARG);
    o.max_rows = 0;
    o.rtol = -1e-3;
    CHECK_STATUS(spk_assert_df_equal(a, a, &o, &m), SPK_ERR_ARG);
    CHECK(m == NULL);
    /* the same DataFrame on both sides, and no message asked for */
    CHECK_OK(spk_assert_df_equal(a, a, NULL, NULL));
    spk_df *b = spk_df_from_fixture(s, "id INT\n1\n3");
    CHECK_STATUS(spk_assert_df_equal(a, b, NULL, NULL), SPK_ERR_ASSERTION);
    CHECK_STR(spk_last_error(), "[DIFFERENT_ROWS] 1 row only in actual, 1 row only in expected (1 row matches)");
    spk_df_release(b);
    spk_df_release(bad);
    spk_udf_release(u);
    spk_df_release(a);
    spk_session_free(s);
}

/* Runs an _at assertion with stderr sent to a temporary file; returns what it printed. */
static char *stderr_of(bool (*fn)(void *), void *ctx, bool *result) {
    FILE *tmp = tmpfile();
    if (!tmp) return NULL;
    fflush(stderr);
    int saved = dup(fileno(stderr));
    dup2(fileno(tmp), fileno(stderr));
    *result = fn(ctx);
    fflush(stderr);
    dup2(saved, fileno(stderr));
    close(saved);
    long n = ftell(tmp);
    char *text = (char *)calloc((size_t)(n > 0 ? n : 0) + 1, 1);
    rewind(tmp);
    if (text && n > 0 && fread(text, 1, (size_t)n, tmp) != (size_t)n) text[0] = '\0';
    fclose(tmp);
    return text;
}

typedef struct at_case {
    spk_df *a, *e;
    const spk_schema *sa, *se;
    int line;
} at_case;

static bool run_df_at(void *ctx) {
    at_case *c = (at_case *)ctx;
    c->line = __LINE__ + 1;
    return SPK_ASSERT_DF_EQUAL(c->a, c->e, NULL);
}

static bool run_schema_at(void *ctx) {
    at_case *c = (at_case *)ctx;
    c->line = __LINE__ + 1;
    return SPK_ASSERT_SCHEMA_EQUAL(c->sa, c->se, NULL);
}

static void test_at_forms(void) {
    spk_session *s = session();
    spk_df *a = spk_df_from_fixture(s, "id INT\n1\n2"), *same = spk_df_from_fixture(s, "id INT\n2\n1");
    spk_df *other = spk_df_from_fixture(s, "id INT\n1\n3"), *wide = spk_df_from_fixture(s, "id BIGINT\n1\n2");
    at_case c = {a, same, spk_df_schema(a), spk_df_schema(same), 0};
    bool ok = false;
    char *out = stderr_of(run_df_at, &c, &ok);
    CHECK(ok);
    CHECK_STR(out, "");
    free(out);

    c.e = other;
    out = stderr_of(run_df_at, &c, &ok);
    CHECK(!ok);
    char head[256];
    snprintf(head, sizeof head,
             "%s:%d: [DIFFERENT_ROWS] 1 row only in actual, 1 row only in expected (1 row matches)\n", __FILE__,
             c.line);
    CHECK(out && strncmp(out, head, strlen(head)) == 0);
    CHECK_CONTAINS(out, "|  2|             |  3|\n");
    free(out);

    c.e = NULL;
    out = stderr_of(run_df_at, &c, &ok);
    CHECK(!ok);
    CHECK_CONTAINS(out, ": SPK_ERR_ARG: spk_assert_df_equal: NULL expected DataFrame");
    free(out);

    out = stderr_of(run_schema_at, &c, &ok);
    CHECK(ok);
    CHECK_STR(out, "");
    free(out);
    c.se = spk_df_schema(wide);
    out = stderr_of(run_schema_at, &c, &ok);
    CHECK(!ok);
    snprintf(head, sizeof head, "%s:%d: [DIFFERENT_SCHEMA] Schemas do not match (1 column differs, marked *)\n",
             __FILE__, c.line);
    CHECK(out && strncmp(out, head, strlen(head)) == 0);
    free(out);
    c.se = NULL;
    out = stderr_of(run_schema_at, &c, &ok);
    CHECK(!ok);
    CHECK_CONTAINS(out, ": SPK_ERR_ARG: spk_assert_schema_equal: NULL expected schema");
    free(out);

    spk_df_release(a);
    spk_df_release(same);
    spk_df_release(other);
    spk_df_release(wide);
    spk_session_free(s);
}

/* Frames from a query (not fixtures), compared at every thread count. */
static void test_query_results(void) {
    FOR_EACH_THREAD_COUNT(t) {
        spk_session *s = session();
        spk_df *orders = spk_df_from_fixture(s, "customer STRING, amount DECIMAL(10,2)\n"
                                                "ann,10.00\nbob,5.50\nann,2.25\ncid,1.00\nbob,0.50");
        spk_expr *keys[] = {spk_col("customer")};
        spk_expr *aggs[] = {spk_alias(spk_call("sum", 1, spk_col("amount")), "total")};
        spk_df *totals = spk_df_group_agg(orders, keys, 1, aggs, 1);
        spk_df *want = spk_df_from_fixture(s, "customer STRING, total DECIMAL(18,2)\ncid,1.00\nann,12.25\nbob,6.00");
        char *m = NULL;
        CHECK_OK(spk_assert_df_equal(totals, want, NULL, &m));
        if (m) failf(__FILE__, __LINE__, "%s", m);
        spk_string_free(m);
        spk_df_release(want);
        spk_df_release(totals);
        spk_df_release(orders);
        spk_session_free(s);
    }
}

int main(void) {
    RUN(test_equal_in_any_row_order);
    RUN(test_equal_nulls_nan_infinity);
    RUN(test_equal_within_tolerance);
    RUN(test_ignore_column_order);
    RUN(test_nullability_ignored_by_default);
    RUN(test_schema_type_differs);
    RUN(test_schema_names_are_case_sensitive);
    RUN(test_schema_column_count_differs);
    RUN(test_schema_column_order);
    RUN(test_schema_nullability_checked);
    RUN(test_assert_schema_equal);
    RUN(test_rows_differ);
    RUN(test_rows_missing_on_one_side);
    RUN(test_duplicates);
    RUN(test_values_that_differ);
    RUN(test_long_cells_truncated);
    RUN(test_rows_differ_columns_reordered);
    RUN(test_row_order_checked);
    RUN(test_max_rows);
    RUN(test_thousand_rows_one_differs);
    RUN(test_failures_to_run);
    RUN(test_at_forms);
    RUN(test_query_results);
    return TEST_REPORT();
}
