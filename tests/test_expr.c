/* expr: the Spark SQL expression parser (precedence, every construct, literal
 * typing, errors with a caret), Spark's text form of expressions
 * (spk_expr_to_sql), and the C builders (ownership, NULL propagation,
 * sharing, CASE misuse). Run under ASan/LSan: every path must release. */
#define _POSIX_C_SOURCE 200809L /* fork, waitpid: crash-prone tests run in a child */
#include "test.h"
#include <math.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

/* The schema most parser tests bind against. */
#define STD_DDL                                                                                    \
    "a INT, b INT, c INT, l BIGINT, x DOUBLE, s STRING, t STRING, d DATE, ts TIMESTAMP, "          \
    "m DECIMAL(15,2), p BOOLEAN, q BOOLEAN"

static spk_schema *schema_of(const char *ddl) {
    spk_schema *s = NULL;
    if (spk_schema_parse(NULL, ddl, &s) != SPK_OK) {
        fprintf(stderr, "%s: cannot parse schema \"%s\": %s\n", spk_test_current, ddl, spk_last_error());
        spk_test_current_failed = 1;
        return NULL;
    }
    return s;
}

static void fail_at(const char *file, int line, const char *fmt, const char *a, const char *b, const char *c) {
    fprintf(stderr, "%s:%d: %s: ", file, line, spk_test_current);
    fprintf(stderr, fmt, a, b, c);
    fputc('\n', stderr);
    spk_test_current_failed = 1;
}

/* Parses `text`; NULL (and a reported failure) if it does not parse. */
static spk_expr *parse_at(const char *file, int line, const char *text) {
    spk_expr *e = NULL;
    spk_status st = spk_expr_parse(text, &e);
    if (st != SPK_OK || !e) {
        fail_at(file, line, "parse of \"%s\" failed: %s %s", text, spk_status_name(st), spk_last_error());
        spk_expr_release(e);
        return NULL;
    }
    return e;
}

/* spk_expr_to_sql of the parsed text equals `want`. */
static void check_sql_at(const char *file, int line, const char *text, const char *want) {
    spk_expr *e = parse_at(file, line, text);
    if (!e) return;
    char buf[1024];
    size_t n = spk_expr_to_sql(e, buf, sizeof buf);
    if (n != strlen(buf) || strcmp(buf, want) != 0)
        fail_at(file, line, "\"%s\" printed as \"%s\", expected \"%s\"", text, buf, want);
    spk_expr_release(e);
}
#define CHECK_SQL(text, want) check_sql_at(__FILE__, __LINE__, (text), (want))

/* spk_expr_to_sql of a built expression (consumed) equals `want`. */
static void check_built_at(const char *file, int line, spk_expr *e, const char *want) {
    if (!e) {
        fail_at(file, line, "builder returned NULL (%s), expected \"%s\"%s", spk_last_error(), want, "");
        return;
    }
    char buf[1024];
    spk_expr_to_sql(e, buf, sizeof buf);
    if (strcmp(buf, want) != 0) fail_at(file, line, "built expression printed as \"%s\", expected \"%s\"%s", buf, want, "");
    spk_expr_release(e);
}
#define CHECK_BUILT(e, want) check_built_at(__FILE__, __LINE__, (e), (want))

/* Parses and binds `text` against STD_DDL (or `ddl`). */
static spk_bound *bind_at(const char *file, int line, const char *text, const char *ddl) {
    spk_expr *e = parse_at(file, line, text);
    if (!e) return NULL;
    spk_schema *s = schema_of(ddl ? ddl : STD_DDL);
    spk_bound *b = NULL;
    spk_status st = s ? spk_expr_bind(e, s, false, &b) : SPK_ERR_ARG;
    if (st != SPK_OK) fail_at(file, line, "bind of \"%s\" failed: %s %s", text, spk_status_name(st), spk_last_error());
    spk_schema_release(s);
    spk_expr_release(e);
    return st == SPK_OK ? b : NULL;
}

/* The bound type of `text` prints (SQL style) as `want`. */
static void check_type_at(const char *file, int line, const char *text, const char *want) {
    spk_bound *b = bind_at(file, line, text, NULL);
    if (!b) return;
    char t[64];
    spk_type_format(spk_bound_type(b), SPK_TYPE_SQL, t, sizeof t);
    if (strcmp(t, want) != 0) fail_at(file, line, "\"%s\" has type %s, expected %s", text, t, want);
    spk_bound_free(b);
}
#define CHECK_TYPE(text, want) check_type_at(__FILE__, __LINE__, (text), (want))

/* `text` folds to a constant whose Spark text (spk_value_format) is `want`
 * ("NULL" for NULL) and whose type is `type` (NULL: any). */
static void check_const_at(const char *file, int line, const char *text, const char *type, const char *want) {
    spk_bound *b = bind_at(file, line, text, NULL);
    if (!b) return;
    spk_value v;
    spk_status st = spk_bound_constant(b, &v);
    if (st != SPK_OK) {
        fail_at(file, line, "\"%s\" is not constant: %s%s", text, spk_last_error(), "");
    } else {
        char got[256], t[64];
        if (v.is_null) snprintf(got, sizeof got, "NULL");
        else spk_value_format(&v, got, sizeof got);
        if (strcmp(got, want) != 0) fail_at(file, line, "\"%s\" folded to \"%s\", expected \"%s\"", text, got, want);
        spk_type_format(spk_bound_type(b), SPK_TYPE_SQL, t, sizeof t);
        if (type && strcmp(t, type) != 0) fail_at(file, line, "\"%s\" has type %s, expected %s", text, t, type);
    }
    spk_bound_free(b);
}
#define CHECK_CONST(text, type, want) check_const_at(__FILE__, __LINE__, (text), (type), (want))

/* A string literal decodes to exactly `want` (n bytes). */
static void check_string_lit_at(const char *file, int line, const char *text, const char *want, size_t n) {
    spk_bound *b = bind_at(file, line, text, NULL);
    if (!b) return;
    spk_value v;
    if (spk_bound_constant(b, &v) != SPK_OK || v.is_null || v.type.id != SPK_TYPE_STRING || v.as.str.len != n ||
        memcmp(v.as.str.ptr, want, n) != 0)
        fail_at(file, line, "string literal %s did not decode to \"%s\"%s", text, want, "");
    spk_bound_free(b);
}
#define CHECK_STRLIT(text, want) check_string_lit_at(__FILE__, __LINE__, (text), (want), sizeof(want) - 1)

/* The message has the line "pos N)" and ends with a caret line: exactly N
 * dashes then '^', under a line of the text. */
static void check_caret_at(const char *file, int line, const char *msg, size_t pos) {
    char want[64];
    snprintf(want, sizeof want, "pos %zu)", pos);
    if (!strstr(msg, want)) {
        fprintf(stderr, "%s:%d: %s: expected \"%s\" in:\n%s\n", file, line, spk_test_current, want, msg);
        spk_test_current_failed = 1;
        return;
    }
    const char *last = strrchr(msg, '\n');
    last = last ? last + 1 : msg;
    size_t dashes = 0;
    while (last[dashes] == '-') dashes++;
    if (dashes != pos || strcmp(last + dashes, "^") != 0 || !strstr(msg, "== SQL ==\n")) {
        fprintf(stderr, "%s:%d: %s: caret line \"%s\" is not %zu dashes and '^' in:\n%s\n", file, line,
                spk_test_current, last, pos, msg);
        spk_test_current_failed = 1;
    }
}

/* Parsing fails with SPK_ERR_PARSE, the message holds `fragment` and a
 * caret at byte `pos` (of a one-line text). */
static void check_parse_error_at(const char *file, int line, const char *text, size_t pos, const char *fragment) {
    spk_expr *e = (spk_expr *)(uintptr_t)1;
    spk_clear_error();
    spk_status st = spk_expr_parse(text, &e);
    if (st != SPK_ERR_PARSE) {
        fail_at(file, line, "parse of \"%s\" returned %s, expected SPK_ERR_PARSE%s", text, spk_status_name(st), "");
        if (st == SPK_OK) spk_expr_release(e);
        return;
    }
    if (e != NULL) fail_at(file, line, "parse of \"%s\" failed but left *out non-NULL%s%s", text, "", "");
    const char *msg = spk_last_error();
    if (spk_last_status() != SPK_ERR_PARSE) fail_at(file, line, "last status after \"%s\" is not PARSE%s%s", text, "", "");
    if (fragment && !strstr(msg, fragment))
        fail_at(file, line, "error for \"%s\" lacks \"%s\": %s", text, fragment, msg);
    if (!strstr(msg, text)) fail_at(file, line, "error for \"%s\" does not show the text: %s%s", text, msg, "");
    check_caret_at(file, line, msg, pos);
}
#define CHECK_PARSE_ERROR(text, pos, fragment) check_parse_error_at(__FILE__, __LINE__, (text), (pos), (fragment))

/* A fixture table; NULL (reported) on failure. */
static spk_table *fixture(const char *text) {
    spk_table *t = NULL;
    if (spk_table_from_fixture(NULL, text, &t) != SPK_OK) {
        fprintf(stderr, "%s: fixture failed: %s\n", spk_test_current, spk_last_error());
        spk_test_current_failed = 1;
        return NULL;
    }
    return t;
}

/* ------------------------------------------------------------ precedence */

static void test_precedence_logic(void) {
    CHECK_SQL("p OR q AND a = 1", "(p OR (q AND (a = 1)))");
    CHECK_SQL("p AND q OR a = 1", "((p AND q) OR (a = 1))");
    CHECK_SQL("p OR q OR p", "((p OR q) OR p)");
    CHECK_SQL("p AND q AND p", "((p AND q) AND p)");
    CHECK_SQL("NOT p AND q", "((NOT p) AND q)");
    CHECK_SQL("NOT p OR q", "((NOT p) OR q)");
    CHECK_SQL("NOT (p OR q)", "(NOT (p OR q))");
    CHECK_SQL("NOT a = b", "(NOT (a = b))");
    CHECK_SQL("NOT NOT p", "(NOT (NOT p))");
    CHECK_SQL("! p", "(NOT p)");
    CHECK_SQL("a = 1 AND b = 2 OR NOT c = 3", "(((a = 1) AND (b = 2)) OR (NOT (c = 3)))");
    CHECK_SQL("a = b IS NULL", "((a = b) IS NULL)");
    CHECK_SQL("a + 1 IS NOT NULL", "((a + 1) IS NOT NULL)");
    CHECK_SQL("NOT a IS NULL", "(NOT (a IS NULL))");
    CHECK_SQL("a IS NULL OR b IS NOT NULL", "((a IS NULL) OR (b IS NOT NULL))");
    CHECK_SQL("a IN (1, 2) AND p", "((a IN (1, 2)) AND p)");
    CHECK_SQL("a BETWEEN 1 AND 2 AND p", "(((a >= 1) AND (a <= 2)) AND p)");
    CHECK_SQL("a BETWEEN 1 + 1 AND 3 * 2", "((a >= (1 + 1)) AND (a <= (3 * 2)))");
    CHECK_SQL("s LIKE 'x%' OR p", "(s LIKE x% OR p)");
}

static void test_precedence_arithmetic(void) {
    CHECK_SQL("a + b * c", "(a + (b * c))");
    CHECK_SQL("a * b + c", "((a * b) + c)");
    CHECK_SQL("(a + b) * c", "((a + b) * c)");
    CHECK_SQL("a - b - c", "((a - b) - c)");
    CHECK_SQL("a - (b - c)", "(a - (b - c))");
    CHECK_SQL("a / b * c", "((a / b) * c)");
    CHECK_SQL("a % b div c", "((a % b) div c)");
    CHECK_SQL("a div b * c", "((a div b) * c)");
    CHECK_SQL("a + b % c", "(a + (b % c))");
    CHECK_SQL("-a * b", "((- a) * b)");
    CHECK_SQL("- - a", "(- (- a))");
    CHECK_SQL("-(a + b)", "(- (a + b))");
    CHECK_SQL("+a", "a");
    CHECK_SQL("a - -b", "(a - (- b))");
    CHECK_SQL("a + b = c", "((a + b) = c)");
    CHECK_SQL("a = b + c", "(a = (b + c))");
    CHECK_SQL("a < b + 1", "(a < (b + 1))");
    CHECK_SQL("a * b < c - 1 AND p", "(((a * b) < (c - 1)) AND p)");
    /* || binds as + and - (left to right) and is Spark's concat */
    CHECK_SQL("s || t", "concat(s, t)");
    CHECK_SQL("s || t || s", "concat(concat(s, t), s)");
    CHECK_SQL("s || a + b", "(concat(s, a) + b)");
    CHECK_SQL("a + b || s", "concat((a + b), s)");
    CHECK_SQL("s || a * b", "concat(s, (a * b))");
    CHECK_SQL("s || t = 'ab'", "(concat(s, t) = ab)");
}

static void test_operators(void) {
    CHECK_SQL("a = b", "(a = b)");
    CHECK_SQL("a == b", "(a = b)");
    CHECK_SQL("a < b", "(a < b)");
    CHECK_SQL("a <= b", "(a <= b)");
    CHECK_SQL("a > b", "(a > b)");
    CHECK_SQL("a >= b", "(a >= b)");
    CHECK_SQL("a <=> b", "(a <=> b)");
    /* Spark parses != and <> as Not(EqualTo(a, b)), named "(NOT (a = b))" */
    CHECK_SQL("a != b", "(NOT (a = b))");
    CHECK_SQL("a <> b", "(NOT (a = b))");
    CHECK_SQL("a+b", "(a + b)");
    CHECK_SQL("a<=b", "(a <= b)");
    CHECK_SQL("a<=>b", "(a <=> b)");
    CHECK_SQL("a % b", "(a % b)");
    CHECK_SQL("a DIV b", "(a div b)");
    CHECK_SQL("a / b", "(a / b)");
    CHECK_SQL("p AND q", "(p AND q)");
    CHECK_SQL("p and q or p", "((p AND q) OR p)");
    /* the operators bind with the expected types and constant values */
    CHECK_CONST("1 = 1", "BOOLEAN", "true");
    CHECK_CONST("1 == 2", "BOOLEAN", "false");
    CHECK_CONST("1 != 2", "BOOLEAN", "true");
    CHECK_CONST("1 <> 1", "BOOLEAN", "false");
    CHECK_CONST("1 < 2", "BOOLEAN", "true");
    CHECK_CONST("2 <= 2", "BOOLEAN", "true");
    CHECK_CONST("1 > 2", "BOOLEAN", "false");
    CHECK_CONST("1 >= 2", "BOOLEAN", "false");
    CHECK_CONST("NULL <=> NULL", "BOOLEAN", "true");
    CHECK_CONST("1 <=> NULL", "BOOLEAN", "false");
    CHECK_CONST("7 % 3", "INT", "1");
    CHECK_CONST("7 div 2", "BIGINT", "3");
    CHECK_CONST("7 / 2", "DOUBLE", "3.5");
}

static void test_predicates(void) {
    CHECK_SQL("a IN (1)", "(a IN (1))");
    CHECK_SQL("a IN (1, 2, b + 1)", "(a IN (1, 2, (b + 1)))");
    CHECK_SQL("a NOT IN (1, 2)", "(NOT (a IN (1, 2)))");
    CHECK_SQL("a BETWEEN 1 AND 5", "((a >= 1) AND (a <= 5))");
    CHECK_SQL("a NOT BETWEEN 1 AND 5", "(NOT ((a >= 1) AND (a <= 5)))");
    CHECK_SQL("s LIKE 'A%'", "s LIKE A%");
    CHECK_SQL("s NOT LIKE 'A%'", "(NOT s LIKE A%)");
    CHECK_SQL("s RLIKE '^a.*b$'", "s RLIKE ^a.*b$");
    CHECK_SQL("s REGEXP 'x+'", "s RLIKE x+");
    CHECK_SQL("s NOT RLIKE 'x'", "(NOT s RLIKE x)");
    CHECK_SQL("a IS NULL", "(a IS NULL)");
    CHECK_SQL("a IS NOT NULL", "(a IS NOT NULL)");
    CHECK_SQL("a is not null", "(a IS NOT NULL)");
    CHECK_CONST("3 IN (1, 2, 3)", "BOOLEAN", "true");
    CHECK_CONST("3 NOT IN (1, 2)", "BOOLEAN", "true");
    CHECK_CONST("3 BETWEEN 3 AND 4", "BOOLEAN", "true");
    CHECK_CONST("5 NOT BETWEEN 3 AND 4", "BOOLEAN", "true");
    CHECK_CONST("'abc' LIKE 'a%'", "BOOLEAN", "true");
    CHECK_CONST("'abc' NOT LIKE 'a%'", "BOOLEAN", "false");
    CHECK_CONST("'abc' RLIKE 'b'", "BOOLEAN", "true");
    CHECK_CONST("NULL IS NULL", "BOOLEAN", "true");
    CHECK_CONST("1 IS NOT NULL", "BOOLEAN", "true");
}

/* ------------------------------------------------------------ names and literals */

static void test_column_names(void) {
    CHECK_SQL("a", "a");
    CHECK_SQL("A", "A");
    CHECK_SQL("_x1", "_x1");
    CHECK_SQL("t.a", "a");
    CHECK_SQL("`a`", "a");
    CHECK_SQL("`my col` + 1", "(my col + 1)");
    CHECK_SQL("`x``y`", "x`y");
    CHECK_SQL("`a.b`", "a.b");
    /* qualified and quoted names resolve */
    const char *ddl = "a INT, `my col` INT, `a.b` INT, `x``y` INT, `select` INT";
    spk_bound *b;
    if ((b = bind_at(__FILE__, __LINE__, "t.a", ddl))) {
        char buf[64];
        spk_bound_explain(b, buf, sizeof buf);
        CHECK_STR(buf, "a#0");
        spk_bound_free(b);
    }
    if ((b = bind_at(__FILE__, __LINE__, "`my col` + 1", ddl))) {
        char buf[64];
        spk_bound_explain(b, buf, sizeof buf);
        CHECK_STR(buf, "(my col#1 + 1)");
        CHECK_STR(spk_bound_name(b), "(my col + 1)");
        spk_bound_free(b);
    }
    if ((b = bind_at(__FILE__, __LINE__, "`a.b`", ddl))) {
        char buf[64];
        spk_bound_explain(b, buf, sizeof buf);
        CHECK_STR(buf, "a.b#2");
        spk_bound_free(b);
    }
    if ((b = bind_at(__FILE__, __LINE__, "`x``y` * 2", ddl))) {
        char buf[64];
        spk_bound_explain(b, buf, sizeof buf);
        CHECK_STR(buf, "(x`y#3 * 2)");
        spk_bound_free(b);
    }
    if ((b = bind_at(__FILE__, __LINE__, "`select` + a", ddl))) {
        char buf[64];
        spk_bound_explain(b, buf, sizeof buf);
        CHECK_STR(buf, "(select#4 + a#0)");
        spk_bound_free(b);
    }
    /* built columns follow the same rules */
    const char *names[] = {"t.a", "`a.b`", "`x``y`", "`my col`"};
    const int index[] = {0, 2, 3, 1};
    spk_schema *s = schema_of(ddl);
    for (int i = 0; i < 4 && s; i++) {
        spk_expr *e = spk_col(names[i]);
        spk_bound *bb = NULL;
        CHECK_OK(spk_expr_bind(e, s, false, &bb));
        if (bb) {
            char buf[64], want[64];
            spk_bound_explain(bb, buf, sizeof buf);
            snprintf(want, sizeof want, "%s#%d", spk_schema_field(s, index[i])->name, index[i]);
            CHECK_STR(buf, want);
        }
        spk_bound_free(bb);
        spk_expr_release(e);
    }
    spk_schema_release(s);
}

static void test_numeric_literals(void) {
    CHECK_CONST("123", "INT", "123");
    CHECK_CONST("0", "INT", "0");
    CHECK_CONST("2147483647", "INT", "2147483647");
    CHECK_CONST("2147483648", "BIGINT", "2147483648");
    CHECK_CONST("-2147483648", "INT", "-2147483648");
    CHECK_CONST("-2147483649", "BIGINT", "-2147483649");
    CHECK_CONST("123L", "BIGINT", "123");
    CHECK_CONST("123l", "BIGINT", "123");
    CHECK_CONST("9223372036854775807L", "BIGINT", "9223372036854775807");
    CHECK_CONST("-9223372036854775808L", "BIGINT", "-9223372036854775808");
    CHECK_CONST("-9223372036854775808", "BIGINT", "-9223372036854775808");
    CHECK_CONST("1.5", "DECIMAL(2,1)", "1.5");
    CHECK_CONST("0.5", "DECIMAL(1,1)", "0.5");
    CHECK_CONST("123.450", "DECIMAL(6,3)", "123.450");
    CHECK_CONST("-1.25", "DECIMAL(3,2)", "-1.25");
    CHECK_CONST("1.5BD", "DECIMAL(2,1)", "1.5");
    CHECK_CONST("1.5D", "DOUBLE", "1.5");
    CHECK_CONST("1.5d", "DOUBLE", "1.5");
    CHECK_CONST("2D", "DOUBLE", "2.0");
    CHECK_CONST("1e3", "DOUBLE", "1000.0");
    CHECK_CONST("1E-2", "DOUBLE", "0.01");
    CHECK_CONST("2.5e+1", "DOUBLE", "25.0");
    CHECK_CONST(".5D", "DOUBLE", "0.5");
    CHECK_CONST("TRUE", "BOOLEAN", "true");
    CHECK_CONST("false", "BOOLEAN", "false");
    CHECK_CONST("NULL", NULL, "NULL");
    CHECK_CONST("null", NULL, "NULL");
    /* Spark's column names print numeric literals by value, with no L suffix */
    CHECK_SQL("123", "123");
    CHECK_SQL("123L", "123");
    CHECK_SQL("a + 2147483648", "(a + 2147483648)");
    CHECK_SQL("1.5", "1.5");
    CHECK_SQL("1.5D", "1.5");
    CHECK_SQL("1e3", "1000.0");
    CHECK_SQL("-5", "-5");
    CHECK_SQL("TRUE", "true");
    CHECK_SQL("NULL", "NULL");
}

static void test_string_literals(void) {
    CHECK_STRLIT("'abc'", "abc");
    CHECK_STRLIT("''", "");
    CHECK_STRLIT("\"double quoted\"", "double quoted");
    CHECK_STRLIT("'it''s'", "its"); /* adjacent literals concatenate, as in Spark */
    CHECK_STRLIT("'a' 'b' \"c\"", "abc");
    CHECK_STRLIT("'a\\nb'", "a\nb");
    CHECK_STRLIT("'a\\tb'", "a\tb");
    CHECK_STRLIT("'a\\\\b'", "a\\b");
    CHECK_STRLIT("'it\\'s'", "it's");
    CHECK_STRLIT("\"say \\\"hi\\\"\"", "say \"hi\"");
    CHECK_STRLIT("'\"'", "\"");
    CHECK_STRLIT("\"'\"", "'");
    CHECK_STRLIT("'h\xc3\xa9llo'", "h\xc3\xa9llo");
    CHECK_SQL("'abc'", "abc");
    CHECK_SQL("s = 'x y'", "(s = x y)");
    CHECK_TYPE("'abc'", "STRING");
}

static void test_datetime_literals(void) {
    CHECK_CONST("DATE '2020-01-01'", "DATE", "2020-01-01");
    CHECK_CONST("date '1999-12-31'", "DATE", "1999-12-31");
    CHECK_CONST("TIMESTAMP '2020-01-01 12:00:00'", "TIMESTAMP", "2020-01-01 12:00:00");
    CHECK_SQL("DATE '2020-01-01'", "DATE '2020-01-01'");
    CHECK_SQL("TIMESTAMP '2020-01-01 12:00:00'", "TIMESTAMP '2020-01-01 12:00:00'");
    /* intervals, through date and timestamp arithmetic */
    CHECK_CONST("DATE '2020-01-01' + INTERVAL 3 DAY", "DATE", "2020-01-04");
    CHECK_CONST("DATE '2020-01-01' + INTERVAL 3 DAYS", "DATE", "2020-01-04");
    CHECK_CONST("DATE '2020-01-01' - INTERVAL 3 DAY", "DATE", "2019-12-29");
    CHECK_CONST("DATE '2020-01-31' + INTERVAL 1 MONTH", "DATE", "2020-02-29");
    CHECK_CONST("DATE '2020-03-31' - INTERVAL 1 MONTH", "DATE", "2020-02-29");
    CHECK_CONST("DATE '2020-02-29' + INTERVAL 1 YEAR", "DATE", "2021-02-28");
    CHECK_CONST("DATE '2020-01-01' + INTERVAL 2 WEEK", "DATE", "2020-01-15");
    CHECK_CONST("DATE '2020-01-01' + INTERVAL '3' DAY", "DATE", "2020-01-04");
    CHECK_CONST("DATE '2020-01-01' + INTERVAL -3 DAY", "DATE", "2019-12-29");
    CHECK_CONST("TIMESTAMP '2020-01-01 12:00:00' + INTERVAL 3 HOUR", "TIMESTAMP", "2020-01-01 15:00:00");
    CHECK_CONST("TIMESTAMP '2020-01-01 23:30:00' + INTERVAL 45 MINUTE", "TIMESTAMP", "2020-01-02 00:15:00");
    CHECK_CONST("TIMESTAMP '2020-01-01 00:00:00' - INTERVAL 1 SECOND", "TIMESTAMP", "2019-12-31 23:59:59");
    CHECK_CONST("DATE '2020-01-01' + INTERVAL 3 HOUR", "TIMESTAMP", "2020-01-01 03:00:00");
}

static void test_case_cast_alias(void) {
    CHECK_SQL("CASE WHEN a > 1 THEN 'x' WHEN a > 0 THEN 'y' ELSE 'z' END",
              "CASE WHEN (a > 1) THEN x WHEN (a > 0) THEN y ELSE z END");
    CHECK_SQL("CASE WHEN p THEN 1 END", "CASE WHEN p THEN 1 END");
    CHECK_SQL("CASE a WHEN 1 THEN 10 WHEN 2 THEN 20 END", "CASE WHEN (a = 1) THEN 10 WHEN (a = 2) THEN 20 END");
    CHECK_SQL("CASE a + 1 WHEN b THEN 1 ELSE 0 END", "CASE WHEN ((a + 1) = b) THEN 1 ELSE 0 END");
    CHECK_SQL("case when p then case when q then 1 else 2 end else 3 end",
              "CASE WHEN p THEN CASE WHEN q THEN 1 ELSE 2 END ELSE 3 END");
    CHECK_CONST("CASE WHEN 1 > 2 THEN 'a' ELSE 'b' END", "STRING", "b");
    CHECK_CONST("CASE 2 WHEN 1 THEN 'a' WHEN 2 THEN 'b' END", "STRING", "b");
    CHECK_CONST("CASE 3 WHEN 1 THEN 'a' WHEN 2 THEN 'b' END", "STRING", "NULL");

    static const struct { const char *in, *sql; } casts[] = {
        {"CAST(a AS int)", "CAST(a AS INT)"},          {"CAST(a AS INTEGER)", "CAST(a AS INT)"},
        {"CAST(a AS bigint)", "CAST(a AS BIGINT)"},    {"CAST(a AS long)", "CAST(a AS BIGINT)"},
        {"CAST(a AS double)", "CAST(a AS DOUBLE)"},    {"CAST(a AS decimal(10,2))", "CAST(a AS DECIMAL(10,2))"},
        {"CAST(a AS DECIMAL)", "CAST(a AS DECIMAL(10,0))"}, {"CAST(a AS string)", "CAST(a AS STRING)"},
        {"CAST(a AS varchar(10))", "CAST(a AS STRING)"}, {"CAST(s AS date)", "CAST(s AS DATE)"},
        {"CAST(s AS timestamp)", "CAST(s AS TIMESTAMP)"}, {"CAST(a AS boolean)", "CAST(a AS BOOLEAN)"},
        {"CAST(a AS bool)", "CAST(a AS BOOLEAN)"},     {"cast(a + 1 as string)", "CAST((a + 1) AS STRING)"},
    };
    for (size_t i = 0; i < sizeof casts / sizeof casts[0]; i++) CHECK_SQL(casts[i].in, casts[i].sql);
    CHECK_TYPE("CAST(a AS bigint)", "BIGINT");
    CHECK_TYPE("CAST(a AS decimal(10,2))", "DECIMAL(10,2)");
    CHECK_TYPE("CAST(s AS date)", "DATE");
    CHECK_TYPE("CAST(s AS timestamp)", "TIMESTAMP");
    CHECK_TYPE("CAST(a AS string)", "STRING");
    CHECK_TYPE("CAST(a AS boolean)", "BOOLEAN");
    CHECK_CONST("CAST('12' AS INT)", "INT", "12");
    CHECK_CONST("CAST('x12' AS INT)", "INT", "NULL");
    CHECK_CONST("CAST(1.9D AS INT)", "INT", "1");
    CHECK_CONST("CAST(-1.9D AS BIGINT)", "BIGINT", "-1");
    CHECK_CONST("CAST(TRUE AS INT)", "INT", "1");
    CHECK_CONST("CAST('2020-02-29' AS DATE)", "DATE", "2020-02-29");
    CHECK_CONST("CAST(12 AS STRING)", "STRING", "12");
    CHECK_CONST("CAST(1.5 AS DOUBLE)", "DOUBLE", "1.5");
    CHECK_CONST("CAST(3.14159 AS DECIMAL(4,2))", "DECIMAL(4,2)", "3.14");
    CHECK_CONST("CAST(123.4 AS DECIMAL(3,1))", "DECIMAL(3,1)", "NULL");

    CHECK_SQL("a + 1 AS total", "total");
    CHECK_SQL("a + 1 total", "total");
    CHECK_SQL("a AS `my name`", "my name");
    CHECK_SQL("a `odd``name`", "odd`name");
    spk_bound *b = bind_at(__FILE__, __LINE__, "a * 2 AS twice", NULL);
    if (b) {
        CHECK_STR(spk_bound_name(b), "twice");
        char buf[64];
        spk_bound_explain(b, buf, sizeof buf);
        CHECK_STR(buf, "(a#0 * 2)");
        spk_bound_free(b);
    }
}

static void test_calls(void) {
    CHECK_SQL("pi()", "pi()");
    CHECK_SQL("upper(s)", "upper(s)");
    CHECK_SQL("coalesce(a, b, c)", "coalesce(a, b, c)");
    CHECK_SQL("coalesce(a, b + 1, abs(c))", "coalesce(a, (b + 1), abs(c))");
    CHECK_SQL("count(*)", "count(1)");
    CHECK_SQL("count(DISTINCT a)", "count(DISTINCT a)");
    CHECK_SQL("count(distinct a)", "count(DISTINCT a)");
    CHECK_SQL("sum(a) * 2", "(sum(a) * 2)");
    CHECK_SQL("date(s)", "date(s)"); /* a function called date, not a literal */
    CHECK_SQL("upper ( s )", "upper(s)");
    /* 40 arguments (beyond any small fixed buffer) */
    char text[512] = "coalesce(a", want[512] = "coalesce(a";
    for (int i = 0; i < 39; i++) {
        strcat(text, i % 2 ? ", a" : ", b");
        strcat(want, i % 2 ? ", a" : ", b");
    }
    strcat(text, ")");
    strcat(want, ")");
    CHECK_SQL(text, want);
    CHECK_TYPE(text, "INT");
    /* IN with 40 items */
    char in[512] = "a IN (0", inwant[512] = "(a IN (0";
    for (int i = 1; i < 40; i++) {
        char item[16];
        snprintf(item, sizeof item, ", %d", i);
        strcat(in, item);
        strcat(inwant, item);
    }
    strcat(in, ")");
    strcat(inwant, "))");
    CHECK_SQL(in, inwant);
    CHECK_CONST("39 IN (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, "
                "25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39)",
                "BOOLEAN", "true");
}

static void test_whitespace_and_case(void) {
    CHECK_SQL("  a\t+\n b  ", "(a + b)");
    CHECK_SQL("a IS  NOT\tNULL", "(a IS NOT NULL)");
    CHECK_SQL("a between 1 and 2", "((a >= 1) AND (a <= 2))");
    CHECK_SQL("a Not In (1)", "(NOT (a IN (1)))");
    CHECK_SQL("Case When p Then 1 Else 2 End", "CASE WHEN p THEN 1 ELSE 2 END");
}

/* ------------------------------------------------------------ errors */

static void test_parse_errors(void) {
    CHECK_PARSE_ERROR("'abc", 0, "unterminated");
    CHECK_PARSE_ERROR("a = 'abc", 4, "unterminated");
    CHECK_PARSE_ERROR("(a + 1", 6, "')'");
    CHECK_PARSE_ERROR("upper(s", 7, "')'");
    CHECK_PARSE_ERROR("a b c", 4, NULL);
    CHECK_PARSE_ERROR("a + 1 )", 6, NULL);
    CHECK_PARSE_ERROR("1 +", 3, NULL);
    CHECK_PARSE_ERROR("a AND", 5, NULL);
    CHECK_PARSE_ERROR("1X", 1, "X");
    CHECK_PARSE_ERROR("", 0, NULL);
    CHECK_PARSE_ERROR("   ", 3, NULL);
    CHECK_PARSE_ERROR("a = = b", 4, NULL);
    CHECK_PARSE_ERROR("a # b", 2, "#");
    CHECK_PARSE_ERROR("`abc", 0, "unterminated");
    CHECK_PARSE_ERROR("a IN ()", 6, NULL);
    CHECK_PARSE_ERROR("a IN 1", 5, NULL);
    CHECK_PARSE_ERROR("a BETWEEN 1", 11, NULL);
    CHECK_PARSE_ERROR("a BETWEEN 1 OR 2", 12, NULL);
    CHECK_PARSE_ERROR("a NOT 5", 6, NULL);
    CHECK_PARSE_ERROR("a IS 5", 5, NULL);
    CHECK_PARSE_ERROR("f(a,)", 4, NULL);
    CHECK_PARSE_ERROR("CASE WHEN p THEN 1", 18, NULL);
    CHECK_PARSE_ERROR("CASE END", 5, NULL);
    CHECK_PARSE_ERROR("CAST(a AS)", 9, NULL);
    CHECK_PARSE_ERROR("CAST(a AS nosuchtype)", 10, NULL);
    CHECK_PARSE_ERROR("CAST(a)", 6, NULL);
    CHECK_PARSE_ERROR("DATE '2020-13-01'", 5, NULL);
    CHECK_PARSE_ERROR("INTERVAL 3 FORTNIGHT", 11, "FORTNIGHT");
    CHECK_PARSE_ERROR("INTERVAL x DAY", 9, NULL);
    CHECK_PARSE_ERROR("99999999999999999999L", 0, NULL);
    CHECK_PARSE_ERROR("s LIKE", 6, NULL);
    CHECK_PARSE_ERROR("a AS", 4, NULL);
    CHECK_PARSE_ERROR("a AS AND", 5, NULL);
    CHECK_PARSE_ERROR("AND a", 0, NULL);
    CHECK_PARSE_ERROR(")", 0, NULL);
    CHECK_PARSE_ERROR("a + 1 AS x y", 11, NULL);

    /* a multi-line text: the caret is under the line that holds the error */
    spk_expr *e = NULL;
    CHECK_STATUS(spk_expr_parse("a +\n  )", &e), SPK_ERR_PARSE);
    CHECK(e == NULL);
    CHECK_CONTAINS(spk_last_error(), "line 2");
    CHECK_CONTAINS(spk_last_error(), "  )\n--^");

    /* identifiers over 255 bytes are refused, never cut (a cut could split a
     * UTF-8 character and would name another column); 255 is fine */
    {
        char text[400];
        memset(text, 'x', 255);
        text[255] = '\0';
        CHECK_OK(spk_expr_parse(text, &e));
        spk_expr_release(e);
        e = NULL;
        text[0] = '`';
        memset(text + 1, 'y', 298);
        memcpy(text + 299, "\xc3\xa9`", 4);
        CHECK_STATUS(spk_expr_parse(text, &e), SPK_ERR_PARSE);
        CHECK(e == NULL);
        CHECK_CONTAINS(spk_last_error(), "an identifier longer than 255 bytes");
        char qualified[sizeof text + 2];
        snprintf(qualified, sizeof qualified, "t.%s", text);
        CHECK_STATUS(spk_expr_parse(qualified, &e), SPK_ERR_PARSE);
        CHECK_CONTAINS(spk_last_error(), "an identifier longer than 255 bytes");
        CHECK(spk_col(text) == NULL);
        CHECK_STATUS(spk_last_status(), SPK_ERR_ARG);
    }

    /* NULL arguments */
    CHECK_STATUS(spk_expr_parse(NULL, &e), SPK_ERR_ARG);
    CHECK_STATUS(spk_expr_parse("a", NULL), SPK_ERR_ARG);
}

static char *repeat_text(const char *prefix, const char *unit, int n, const char *middle, const char *unit2,
                         const char *suffix) {
    size_t size = strlen(prefix) + (size_t)n * (strlen(unit) + strlen(unit2)) + strlen(middle) + strlen(suffix) + 1;
    char *s = (char *)malloc(size), *at = s;
    if (!s) return NULL;
    at += sprintf(at, "%s", prefix);
    for (int i = 0; i < n; i++) at += sprintf(at, "%s", unit);
    at += sprintf(at, "%s", middle);
    for (int i = 0; i < n; i++) at += sprintf(at, "%s", unit2);
    sprintf(at, "%s", suffix);
    return s;
}

static void check_too_deep(const char *file, int line, char *text) {
    if (!text) {
        fail_at(file, line, "out of memory%s%s%s", "", "", "");
        return;
    }
    spk_expr *e = NULL;
    spk_status st = spk_expr_parse(text, &e);
    if (st != SPK_ERR_PARSE || e != NULL) {
        fail_at(file, line, "deep text (%.20s...) returned %s, expected SPK_ERR_PARSE%s", text, spk_status_name(st), "");
        spk_expr_release(e);
    } else if (!strstr(spk_last_error(), "nested too deeply") || !strstr(spk_last_error(), "^")) {
        fail_at(file, line, "deep text: message lacks \"nested too deeply\" and a caret: %s%s%s", spk_last_error(), "", "");
    }
    free(text);
}

static void test_deep_nesting(void) {
    check_too_deep(__FILE__, __LINE__, repeat_text("", "(", 100000, "1", ")", ""));
    check_too_deep(__FILE__, __LINE__, repeat_text("", "(", 100000, "", "", "")); /* and unbalanced */
    check_too_deep(__FILE__, __LINE__, repeat_text("", "NOT ", 100000, "p", "", ""));
    check_too_deep(__FILE__, __LINE__, repeat_text("", "- ", 100000, "1", "", ""));
    check_too_deep(__FILE__, __LINE__, repeat_text("", "abs(", 100000, "a", ")", ""));
    check_too_deep(__FILE__, __LINE__, repeat_text("", "CASE WHEN p THEN ", 100000, "1", " END", ""));
    check_too_deep(__FILE__, __LINE__, repeat_text("", "a IN (", 100000, "1", ")", ""));
    /* moderate nesting still parses */
    char *ok = repeat_text("", "(", 30, "a + 1", ")", "");
    CHECK_SQL(ok, "(a + 1)");
    free(ok);
    ok = repeat_text("", "abs(", 20, "a", ")", "");
    spk_bound *b = ok ? bind_at(__FILE__, __LINE__, ok, NULL) : NULL;
    CHECK(b != NULL);
    spk_bound_free(b);
    free(ok);
}

/* A 900-term sum (under the 1000-level limit) parses, binds, evaluates and
 * is released; a 10000-term one is refused with SPK_ERR_LIMIT, parsed or
 * built, and nothing overflows the stack. */
static void test_long_expressions(void) {
    enum { N = 900, TOO_MANY = 10000 };
    {
        char *deep = repeat_text("a", " + a", TOO_MANY - 1, "", "", "");
        spk_expr *e = NULL;
        if (deep) {
            CHECK_STATUS(spk_expr_parse(deep, &e), SPK_ERR_LIMIT);
            CHECK(e == NULL);
            CHECK_CONTAINS(spk_last_error(), "levels deep");
        }
        free(deep);
        spk_expr *chain = spk_col("a");
        for (int i = 1; i < TOO_MANY; i++) chain = spk_add(chain, spk_col("a"));
        CHECK(chain == NULL);
        CHECK_EQ_INT(spk_last_status(), SPK_ERR_LIMIT);
    }
    char *text = repeat_text("a", " + a", N - 1, "", "", "");
    spk_table *t = fixture("a INT\n1\n2\nNULL\n-3");
    spk_expr *e = NULL;
    if (text && t) {
        CHECK_OK(spk_expr_parse(text, &e));
        spk_bound *b = NULL;
        if (e) CHECK_OK(spk_expr_bind(e, spk_table_schema(t), false, &b));
        char small[64] = "";
        if (e) CHECK(spk_expr_to_sql(e, small, sizeof small) >= sizeof small - 1); /* truncated, terminated */
        CHECK(strlen(small) < sizeof small);
        spk_table *out = NULL;
        if (b) CHECK_OK(spk_bound_eval(b, t, &out));
        if (out) {
            spk_value v;
            CHECK_EQ_INT(spk_table_nrows(out), 4);
            CHECK_OK(spk_table_get(out, 0, 0, &v));
            CHECK(!v.is_null && v.as.i32 == N);
            CHECK_OK(spk_table_get(out, 1, 0, &v));
            CHECK(!v.is_null && v.as.i32 == 2 * N);
            CHECK_OK(spk_table_get(out, 2, 0, &v));
            CHECK(v.is_null);
            CHECK_OK(spk_table_get(out, 3, 0, &v));
            CHECK(!v.is_null && v.as.i32 == -3 * N);
        }
        spk_table_free(out);
        spk_bound_free(b);
        spk_expr_release(e);
    }
    free(text);

    /* all constants: folds to one value */
    text = repeat_text("1", " + 1", N - 1, "", "", "");
    if (text) {
        spk_bound *b = bind_at(__FILE__, __LINE__, text, NULL);
        spk_value v;
        if (b) {
            CHECK_OK(spk_bound_constant(b, &v));
            CHECK(!v.is_null && v.type.id == SPK_TYPE_INT32 && v.as.i32 == N);
        }
        spk_bound_free(b);
    }
    free(text);

    /* a long AND chain and a long OR chain */
    text = repeat_text("a > -5", " AND a > -5", N - 1, "", "", "");
    if (text && t) {
        spk_bound *b = bind_at(__FILE__, __LINE__, text, "a INT");
        spk_table *out = NULL;
        if (b) CHECK_OK(spk_bound_filter(b, t, &out));
        if (out) CHECK_EQ_INT(spk_table_nrows(out), 3);
        spk_table_free(out);
        spk_bound_free(b);
    }
    free(text);
    text = repeat_text("a = 100", " OR a = 100", N - 1, " OR a = 2", "", "");
    if (text && t) {
        spk_bound *b = bind_at(__FILE__, __LINE__, text, "a INT");
        spk_table *out = NULL;
        if (b) CHECK_OK(spk_bound_filter(b, t, &out));
        if (out) CHECK_EQ_INT(spk_table_nrows(out), 1);
        spk_table_free(out);
        spk_bound_free(b);
    }
    free(text);

    /* a built chain, released from the root */
    spk_expr *sum = spk_col("a");
    for (int i = 1; i < N; i++) sum = spk_add(sum, spk_col("a"));
    CHECK(sum != NULL);
    if (sum && t) {
        spk_bound *b = NULL;
        CHECK_OK(spk_expr_bind(sum, spk_table_schema(t), false, &b));
        spk_table *out = NULL;
        if (b) CHECK_OK(spk_bound_eval(b, t, &out));
        spk_value v;
        if (out && spk_table_get(out, 1, 0, &v) == SPK_OK) CHECK(!v.is_null && v.as.i32 == 2 * N);
        spk_table_free(out);
        spk_bound_free(b);
    }
    spk_expr_release(sum);
    /* a long right-leaning chain, built */
    spk_expr *nest = spk_col("a");
    for (int i = 1; i < N; i++) nest = spk_add(spk_col("a"), nest);
    CHECK(nest != NULL);
    spk_expr_release(nest);
    spk_table_free(t);
}

/* ------------------------------------------------------------ builders */

static void test_builders_chain(void) {
    CHECK_BUILT(spk_gt(spk_add(spk_col("a"), spk_mul(spk_lit_i32(2), spk_col("b"))), spk_lit_i32(10)),
                "((a + (2 * b)) > 10)");
    CHECK_BUILT(spk_and(spk_or(spk_col("p"), spk_col("q")), spk_not(spk_col("p"))), "((p OR q) AND (NOT p))");
    CHECK_BUILT(spk_sub(spk_div(spk_col("a"), spk_col("b")), spk_mod(spk_col("a"), spk_intdiv(spk_col("b"), spk_col("c")))),
                "((a / b) - (a % (b div c)))");
    CHECK_BUILT(spk_neg(spk_col("a")), "(- a)");
    CHECK_BUILT(spk_eq(spk_col("a"), spk_lit_i32(1)), "(a = 1)");
    CHECK_BUILT(spk_ne(spk_col("a"), spk_lit_i32(1)), "(NOT (a = 1))");
    CHECK_BUILT(spk_lt(spk_col("a"), spk_lit_i32(1)), "(a < 1)");
    CHECK_BUILT(spk_le(spk_col("a"), spk_lit_i32(1)), "(a <= 1)");
    CHECK_BUILT(spk_ge(spk_col("a"), spk_lit_i32(1)), "(a >= 1)");
    CHECK_BUILT(spk_eq_null_safe(spk_col("a"), spk_lit_null()), "(a <=> NULL)");
    CHECK_BUILT(spk_is_null(spk_col("a")), "(a IS NULL)");
    CHECK_BUILT(spk_is_not_null(spk_col("a")), "(a IS NOT NULL)");
    CHECK_BUILT(spk_in(spk_col("a"), 3, spk_lit_i32(1), spk_lit_i32(2), spk_lit_i32(3)), "(a IN (1, 2, 3))");
    CHECK_BUILT(spk_between(spk_col("a"), spk_lit_i32(1), spk_lit_i32(5)), "((a >= 1) AND (a <= 5))");
    CHECK_BUILT(spk_like(spk_col("s"), "A%"), "s LIKE A%");
    CHECK_BUILT(spk_rlike(spk_col("s"), "^A"), "s RLIKE ^A");
    CHECK_BUILT(spk_cast(spk_col("a"), spk_type_of(SPK_TYPE_STRING)), "CAST(a AS STRING)");
    CHECK_BUILT(spk_cast(spk_col("a"), spk_type_decimal(10, 2)), "CAST(a AS DECIMAL(10,2))");
    CHECK_BUILT(spk_alias(spk_add(spk_col("a"), spk_lit_i32(1)), "next"), "next");
    CHECK_BUILT(spk_call("upper", 1, spk_col("s")), "upper(s)");
    CHECK_BUILT(spk_call("coalesce", 3, spk_col("a"), spk_col("b"), spk_lit_i32(0)), "coalesce(a, b, 0)");
    CHECK_BUILT(spk_call("pi", 0), "pi()");
    CHECK_BUILT(spk_call("count", 1, spk_star()), "count(1)");
    CHECK_BUILT(spk_count_distinct(spk_col("a")), "count(DISTINCT a)");
    CHECK_BUILT(spk_lit_str("hello"), "hello");
    CHECK_BUILT(spk_lit_bool(true), "true");
    CHECK_BUILT(spk_lit_f64(2.5), "2.5");
    CHECK_BUILT(spk_lit_f64(NAN), "NaN");
    CHECK_BUILT(spk_lit_decimal(12345, 5, 2), "123.45");
    CHECK_BUILT(spk_lit_date(2020, 2, 29), "DATE '2020-02-29'");
    CHECK_BUILT(spk_lit_i64(7), "7");
    CHECK_BUILT(spk_lit_null(), "NULL");
    CHECK_BUILT(spk_col("t.a"), "a");
    CHECK_BUILT(spk_col("`a.b`"), "a.b");
    CHECK_BUILT(spk_star(), "*");
    CHECK_BUILT(spk_otherwise(spk_when(spk_when(NULL, spk_gt(spk_col("a"), spk_lit_i32(1)), spk_lit_str("big")),
                                       spk_gt(spk_col("a"), spk_lit_i32(0)), spk_lit_str("small")),
                              spk_lit_str("none")),
                "CASE WHEN (a > 1) THEN big WHEN (a > 0) THEN small ELSE none END");
    CHECK_BUILT(spk_when(NULL, spk_col("p"), spk_lit_i32(1)), "CASE WHEN p THEN 1 END");

    /* IN and calls with more items than a small stack buffer */
    spk_expr *items[20];
    for (int i = 0; i < 20; i++) items[i] = spk_lit_i32(i);
    spk_expr *in = spk_in_array(spk_col("a"), items, 20);
    CHECK(in != NULL);
    char buf[256];
    if (in) {
        spk_expr_to_sql(in, buf, sizeof buf);
        CHECK_STR(buf, "(a IN (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19))");
    }
    spk_expr_release(in);
    in = spk_in(spk_col("a"), 18, spk_lit_i32(0), spk_lit_i32(1), spk_lit_i32(2), spk_lit_i32(3), spk_lit_i32(4),
                spk_lit_i32(5), spk_lit_i32(6), spk_lit_i32(7), spk_lit_i32(8), spk_lit_i32(9), spk_lit_i32(10),
                spk_lit_i32(11), spk_lit_i32(12), spk_lit_i32(13), spk_lit_i32(14), spk_lit_i32(15), spk_lit_i32(16),
                spk_lit_i32(17));
    CHECK(in != NULL);
    spk_expr_release(in);
    spk_expr *call = spk_call("coalesce", 18, spk_col("a"), spk_col("a"), spk_col("a"), spk_col("a"), spk_col("a"),
                              spk_col("a"), spk_col("a"), spk_col("a"), spk_col("a"), spk_col("a"), spk_col("a"),
                              spk_col("a"), spk_col("a"), spk_col("a"), spk_col("a"), spk_col("a"), spk_col("a"),
                              spk_lit_i32(0));
    CHECK(call != NULL);
    if (call) {
        spk_expr_to_sql(call, buf, sizeof buf);
        CHECK_STR(buf, "coalesce(a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, 0)");
    }
    spk_expr_release(call);
}

static void test_to_sql_contract(void) {
    spk_expr *e = spk_add(spk_col("alpha"), spk_col("beta")); /* "(alpha + beta)": 14 characters */
    char buf[8];
    memset(buf, 'x', sizeof buf);
    CHECK_EQ_INT(spk_expr_to_sql(e, buf, sizeof buf), 14);
    CHECK_STR(buf, "(alpha ");
    CHECK_EQ_INT(spk_expr_to_sql(e, NULL, 0), 14);
    buf[0] = 'x';
    CHECK_EQ_INT(spk_expr_to_sql(e, buf, 1), 14);
    CHECK(buf[0] == '\0');
    char exact[15];
    CHECK_EQ_INT(spk_expr_to_sql(e, exact, sizeof exact), 14);
    CHECK_STR(exact, "(alpha + beta)");
    spk_expr_release(e);
    char nb[64];
    spk_expr_to_sql(NULL, nb, sizeof nb); /* must not crash */
    spk_expr_release(NULL);
}

static void test_builders_null_propagation(void) {
    /* every builder given a NULL returns NULL and releases its other arguments (LSan checks) */
    CHECK(spk_add(NULL, spk_col("x")) == NULL);
    CHECK(spk_add(spk_col("x"), NULL) == NULL);
    CHECK(spk_sub(NULL, spk_col("x")) == NULL);
    CHECK(spk_mul(spk_col("x"), NULL) == NULL);
    CHECK(spk_div(NULL, NULL) == NULL);
    CHECK(spk_mod(spk_col("x"), NULL) == NULL);
    CHECK(spk_intdiv(NULL, spk_col("x")) == NULL);
    CHECK(spk_neg(NULL) == NULL);
    CHECK(spk_eq(NULL, spk_lit_i32(1)) == NULL);
    CHECK(spk_ne(spk_lit_i32(1), NULL) == NULL);
    CHECK(spk_lt(NULL, spk_lit_str("x")) == NULL);
    CHECK(spk_le(spk_lit_str("x"), NULL) == NULL);
    CHECK(spk_gt(NULL, spk_col("a")) == NULL);
    CHECK(spk_ge(spk_col("a"), NULL) == NULL);
    CHECK(spk_eq_null_safe(NULL, spk_col("a")) == NULL);
    CHECK(spk_and(NULL, spk_col("p")) == NULL);
    CHECK(spk_or(spk_col("p"), NULL) == NULL);
    CHECK(spk_not(NULL) == NULL);
    CHECK(spk_is_null(NULL) == NULL);
    CHECK(spk_is_not_null(NULL) == NULL);
    CHECK(spk_in(NULL, 2, spk_lit_i32(1), spk_lit_i32(2)) == NULL);
    CHECK(spk_in(spk_col("a"), 3, spk_lit_i32(1), NULL, spk_lit_i32(2)) == NULL);
    CHECK(spk_between(NULL, spk_lit_i32(1), spk_lit_i32(2)) == NULL);
    CHECK(spk_between(spk_col("a"), NULL, spk_lit_i32(2)) == NULL);
    CHECK(spk_between(spk_col("a"), spk_lit_i32(1), NULL) == NULL);
    CHECK(spk_like(NULL, "x") == NULL);
    CHECK(spk_rlike(NULL, "x") == NULL);
    CHECK(spk_cast(NULL, spk_type_of(SPK_TYPE_INT32)) == NULL);
    CHECK(spk_alias(NULL, "x") == NULL);
    CHECK(spk_call("upper", 1, NULL) == NULL);
    CHECK(spk_call("coalesce", 3, spk_col("a"), NULL, spk_col("b")) == NULL);
    CHECK(spk_count_distinct(NULL) == NULL);
    CHECK(spk_when(NULL, NULL, spk_lit_i32(1)) == NULL);
    CHECK(spk_when(NULL, spk_col("p"), NULL) == NULL);
    CHECK(spk_when(spk_when(NULL, spk_col("p"), spk_lit_i32(1)), spk_col("q"), NULL) == NULL);
    CHECK(spk_otherwise(NULL, spk_lit_i32(1)) == NULL);
    CHECK(spk_otherwise(spk_when(NULL, spk_col("p"), spk_lit_i32(1)), NULL) == NULL);

    /* invalid arguments: NULL with a message */
    spk_clear_error();
    CHECK(spk_lit_date(2021, 2, 29) == NULL);
    CHECK_CONTAINS(spk_last_error(), "2021-02-29");
    spk_clear_error();
    CHECK(spk_like(spk_col("s"), NULL) == NULL);
    CHECK(spk_last_error()[0] != '\0');
    spk_clear_error();
    CHECK(spk_alias(spk_col("a"), "") == NULL);
    CHECK(spk_last_error()[0] != '\0');
    spk_clear_error();
    CHECK(spk_cast(spk_col("a"), spk_type_decimal(30, 2)) == NULL);
    CHECK(spk_last_error()[0] != '\0');
    spk_clear_error();
    CHECK(spk_in(spk_col("a"), 0) == NULL);
    CHECK(spk_last_error()[0] != '\0');
    spk_clear_error();
    CHECK(spk_col(NULL) == NULL);
    CHECK(spk_last_error()[0] != '\0');
    spk_clear_error();
    CHECK(spk_call(NULL, 1, spk_col("a")) == NULL);

    /* a failure deep in a chain fails the chain; the binder reports the first failure */
    spk_clear_error();
    spk_expr *chain = spk_gt(spk_add(spk_lit_date(2020, 2, 30), spk_col("a")), spk_lit_i32(1));
    CHECK(chain == NULL);
    spk_schema *s = schema_of(STD_DDL);
    spk_bound *b = (spk_bound *)(uintptr_t)1;
    if (s) CHECK_STATUS(spk_expr_bind(chain, s, false, &b), SPK_ERR_ARG);
    CHECK(b == NULL);
    CHECK_CONTAINS(spk_last_error(), "2020-02-30");
    spk_schema_release(s);
}

static void test_builders_sharing(void) {
    spk_table *t = fixture("a INT, b INT\n1,10\n2,20\nNULL,30");
    if (!t) return;
    spk_expr *x = spk_col("a");
    /* x used three times: two retained references and the original */
    spk_expr *e = spk_add(spk_mul(spk_expr_retain(x), spk_expr_retain(x)), x);
    CHECK_BUILT(spk_expr_retain(e), "((a * a) + a)");
    spk_expr *pred = spk_gt(spk_col("b"), spk_lit_i32(15));
    spk_expr *both = spk_or(spk_expr_retain(pred), spk_not(spk_expr_retain(pred)));
    spk_expr *again = spk_and(spk_expr_retain(pred), spk_expr_retain(both));
    spk_expr_release(pred); /* the trees keep it alive */
    spk_bound *b = NULL;
    CHECK_OK(spk_expr_bind(e, spk_table_schema(t), false, &b));
    spk_table *out = NULL;
    if (b) CHECK_OK(spk_bound_eval(b, t, &out));
    spk_value v;
    if (out) {
        CHECK_OK(spk_table_get(out, 0, 0, &v));
        CHECK(!v.is_null && v.as.i32 == 2);
        CHECK_OK(spk_table_get(out, 1, 0, &v));
        CHECK(!v.is_null && v.as.i32 == 6);
        CHECK_OK(spk_table_get(out, 2, 0, &v));
        CHECK(v.is_null);
    }
    spk_table_free(out);
    spk_bound_free(b);
    /* one expression bound twice, and evaluated after its builder references are gone */
    spk_bound *b1 = NULL, *b2 = NULL;
    CHECK_OK(spk_expr_bind(again, spk_table_schema(t), false, &b1));
    CHECK_OK(spk_expr_bind(again, spk_table_schema(t), false, &b2));
    spk_expr_release(again);
    spk_expr_release(both);
    spk_table *f1 = NULL, *f2 = NULL;
    if (b1) CHECK_OK(spk_bound_filter(b1, t, &f1));
    if (b2) CHECK_OK(spk_bound_filter(b2, t, &f2));
    if (f1) CHECK_EQ_INT(spk_table_nrows(f1), 2);
    if (f2) CHECK_EQ_INT(spk_table_nrows(f2), 2);
    spk_table_free(f1);
    spk_table_free(f2);
    spk_bound_free(b1);
    spk_bound_free(b2);
    spk_expr_release(e);

    /* extending a CASE leaves the shorter one intact (expressions are immutable) */
    spk_expr *c1 = spk_when(NULL, spk_col("p"), spk_lit_i32(1));
    spk_expr *keep = spk_expr_retain(c1);
    spk_expr *c2 = spk_when(c1, spk_col("q"), spk_lit_i32(2));
    spk_expr *keep2 = spk_expr_retain(c2);
    spk_expr *c3 = spk_otherwise(c2, spk_lit_i32(3));
    CHECK_BUILT(keep, "CASE WHEN p THEN 1 END");
    CHECK_BUILT(keep2, "CASE WHEN p THEN 1 WHEN q THEN 2 END");
    CHECK_BUILT(c3, "CASE WHEN p THEN 1 WHEN q THEN 2 ELSE 3 END");
    spk_table_free(t);
}

static void test_when_misuse(void) {
    spk_clear_error();
    CHECK(spk_when(spk_col("a"), spk_col("p"), spk_lit_i32(1)) == NULL);
    CHECK_CONTAINS(spk_last_error(), "spk_when");
    spk_clear_error();
    CHECK(spk_otherwise(spk_col("a"), spk_lit_i32(1)) == NULL);
    CHECK_CONTAINS(spk_last_error(), "spk_otherwise");
    spk_clear_error();
    spk_expr *done = spk_otherwise(spk_when(NULL, spk_col("p"), spk_lit_i32(1)), spk_lit_i32(0));
    CHECK(done != NULL);
    spk_expr *keep = spk_expr_retain(done);
    CHECK(spk_when(done, spk_col("q"), spk_lit_i32(2)) == NULL); /* after ELSE */
    CHECK_CONTAINS(spk_last_error(), "spk_when");
    spk_clear_error();
    CHECK(spk_otherwise(spk_expr_retain(keep), spk_lit_i32(5)) == NULL); /* a second ELSE */
    CHECK_CONTAINS(spk_last_error(), "spk_otherwise");
    CHECK_BUILT(keep, "CASE WHEN p THEN 1 ELSE 0 END");
    /* a parsed CASE can be extended by the builders too */
    spk_expr *parsed = NULL;
    CHECK_OK(spk_expr_parse("CASE WHEN p THEN 1 END", &parsed));
    if (parsed) CHECK_BUILT(spk_otherwise(parsed, spk_lit_i32(9)), "CASE WHEN p THEN 1 ELSE 9 END");
}

/* The parser never leaks or crashes on any prefix of valid texts. */
static void test_every_prefix(void) {
    static const char *const texts[] = {
        "CASE a WHEN 1 THEN 'x' WHEN 2 THEN \"y\" ELSE concat(s, 'z') END AS label",
        "a NOT BETWEEN 1 AND 2 OR s NOT LIKE 'a\\%%' AND t RLIKE '^x' OR a NOT IN (1, 2, NULL)",
        "CAST(m AS DECIMAL(10,2)) * -1.5D + count(DISTINCT a) - sum(x) / 2 div 3 % 4",
        "d <= DATE '1998-12-01' - INTERVAL 90 DAY AND ts > TIMESTAMP '2020-01-01 00:00:00'",
        "`we ``ird`.`col` <=> NULL IS NOT NULL",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        spk_expr *full = NULL;
        CHECK_OK(spk_expr_parse(texts[i], &full));
        spk_expr_release(full);
        size_t n = strlen(texts[i]);
        char *buf = (char *)malloc(n + 1);
        if (!buf) continue;
        for (size_t k = 0; k < n; k++) {
            memcpy(buf, texts[i], k);
            buf[k] = '\0';
            spk_expr *e = NULL;
            spk_status st = spk_expr_parse(buf, &e);
            CHECK(st == SPK_OK || st == SPK_ERR_PARSE);
            CHECK((st == SPK_OK) == (e != NULL));
            if (st == SPK_ERR_PARSE) CHECK(strchr(spk_last_error(), '^') != NULL);
            spk_expr_release(e);
        }
        free(buf);
    }
}

/* Runs fn in a child process, so that a crash (a stack overflow) fails the
 * test and the rest of the program still runs. */
static void run_isolated(void (*fn)(void)) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) { /* no fork: run in place */
        fn();
        return;
    }
    if (pid == 0) {
        spk_test_current_failed = 0;
        fn();
        fflush(stderr);
        _exit(spk_test_current_failed ? 1 : 0);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "%s: the test crashed or failed in its child process (status 0x%x)\n", spk_test_current,
                (unsigned)status);
        spk_test_current_failed = 1;
    }
}
static void test_long_expressions_isolated(void) { run_isolated(test_long_expressions); }

int main(void) {
    RUN(test_precedence_logic);
    RUN(test_precedence_arithmetic);
    RUN(test_operators);
    RUN(test_predicates);
    RUN(test_column_names);
    RUN(test_numeric_literals);
    RUN(test_string_literals);
    RUN(test_datetime_literals);
    RUN(test_case_cast_alias);
    RUN(test_calls);
    RUN(test_whitespace_and_case);
    RUN(test_parse_errors);
    RUN(test_deep_nesting);
    RUN(test_long_expressions_isolated);
    RUN(test_builders_chain);
    RUN(test_to_sql_contract);
    RUN(test_builders_null_propagation);
    RUN(test_builders_sharing);
    RUN(test_when_misuse);
    RUN(test_every_prefix);
    return TEST_REPORT();
}
