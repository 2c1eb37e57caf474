/* Tests for the types module (src/types.h): type names, value parsing and
 * formatting, casts, ordering, equality, hashing and the calendar helpers.
 *
 * Where the header is silent the expectations follow PySpark / Spark 3.5 in
 * its default (non-ANSI) mode; the Spark expression being mirrored is given
 * in a comment next to such cases. Expected values were worked out by hand,
 * with Python's datetime and with Java 17's Double.toString (what Spark's
 * show() prints for doubles), never by calling the code under test. */
#include "test.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>

/* ------------------------------------------------------------------ helpers */

/* "Some parse failure": SPK_ERR_PARSE or SPK_ERR_RANGE both acceptable (e.g.
 * "2019-02-29" is a well-formed but impossible date). */
#define PARSE_OR_RANGE SPK_STATUS_COUNT

static int status_matches(spk_status got, spk_status want) {
    if (want == PARSE_OR_RANGE) return got == SPK_ERR_PARSE || got == SPK_ERR_RANGE;
    return got == want;
}

#define CHECK_ST(got, want)                                                                 \
    do {                                                                                    \
        spk_status st_g_ = (got), st_w_ = (want);                                           \
        if (!status_matches(st_g_, st_w_)) {                                                \
            fprintf(stderr, "%s:%d: %s: status %s, expected %s (%s)\n", __FILE__, __LINE__, \
                    spk_test_current, spk_status_name(st_g_),                               \
                    st_w_ == PARSE_OR_RANGE ? "SPK_ERR_PARSE or SPK_ERR_RANGE"              \
                                            : spk_status_name(st_w_),                       \
                    spk_last_error());                                                      \
            spk_test_current_failed = 1;                                                    \
        }                                                                                   \
    } while (0)

/* Per-case context: CASE_BEGIN before the checks of one table row, CASE_END
 * after them prints which row failed (the harness only prints a line number). */
#define CASE_BEGIN()                                                                        \
    int case_before_ = spk_test_current_failed;                                             \
    spk_test_current_failed = 0
#define CASE_END(...)                                                                       \
    do {                                                                                    \
        if (spk_test_current_failed) {                                                      \
            fprintf(stderr, "    ^ in case: ");                                             \
            fprintf(stderr, __VA_ARGS__);                                                   \
            fprintf(stderr, "\n");                                                          \
        }                                                                                   \
        spk_test_current_failed |= case_before_;                                            \
    } while (0)

#define NELEMS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static spk_status parse_s(spk_type t, const char *s, spk_value *out) {
    return spk_value_parse(t, s, strlen(s), out);
}

/* Same double, bit for bit up to NaN payloads: NaN matches any NaN, and the
 * sign of zero matters. */
static int same_double(double a, double b) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return a == b && (signbit(a) != 0) == (signbit(b) != 0);
}

static int sign_of(int x) { return (x > 0) - (x < 0); }

static double make_nan_payload(uint64_t bits) {
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng_next(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static spk_type T(spk_type_id id) { return spk_type_of(id); }
static spk_type DEC(int p, int s) { return spk_type_decimal(p, s); }

/* Formats into a scratch buffer and checks the return equals the length written. */
static const char *fmt_value(const spk_value *v, char *buf, size_t cap) {
    memset(buf, 'X', cap);
    size_t n = spk_value_format(v, buf, cap);
    if (n >= cap || strlen(buf) != n) {
        fprintf(stderr, "%s: spk_value_format returned %zu but wrote \"%s\"\n", spk_test_current,
                n, buf);
        spk_test_current_failed = 1;
    }
    return buf;
}

static uintptr_t uptr(const void *p) { return (uintptr_t)p; }

/* Days since 1970-01-01 for a proleptic Gregorian date: an independent
 * reference (Howard Hinnant's days_from_civil), not the code under test. */
static long long ref_days_from_civil(long long y, int m, int d) {
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int ref_is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
static int ref_month_days(int y, int m) {
    static const int md[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && ref_is_leap(y) ? 29 : md[m - 1];
}

/* ============================================================ data types */

static void test_type_constructors(void) {
    static const spk_type_id ids[] = {SPK_TYPE_NULL,   SPK_TYPE_BOOLEAN, SPK_TYPE_INT32,
                                      SPK_TYPE_INT64,  SPK_TYPE_DOUBLE,  SPK_TYPE_STRING,
                                      SPK_TYPE_DATE,   SPK_TYPE_TIMESTAMP};
    for (int i = 0; i < NELEMS(ids); i++) {
        spk_type t = spk_type_of(ids[i]);
        CHECK_EQ_INT(t.id, ids[i]);
        CHECK(spk_type_valid(t));
        CHECK(spk_type_equal(t, spk_type_of(ids[i])));
        for (int j = 0; j < NELEMS(ids); j++)
            if (j != i) CHECK(!spk_type_equal(t, spk_type_of(ids[j])));
    }
    spk_type d = spk_type_decimal(15, 2);
    CHECK_EQ_INT(d.id, SPK_TYPE_DECIMAL);
    CHECK_EQ_INT(d.precision, 15);
    CHECK_EQ_INT(d.scale, 2);
    CHECK(spk_type_equal(d, spk_type_decimal(15, 2)));
    CHECK(!spk_type_equal(d, spk_type_decimal(15, 3)));
    CHECK(!spk_type_equal(d, spk_type_decimal(16, 2)));
    CHECK(!spk_type_equal(d, spk_type_of(SPK_TYPE_INT64)));
    CHECK(!spk_type_equal(d, spk_type_of(SPK_TYPE_DOUBLE)));
}

static void test_type_valid(void) {
    static const struct { int p, s; bool valid; } cases[] = {
        {1, 0, true},   {10, 0, true},  {10, 2, true},   {18, 0, true},  {18, 18, true},
        {5, 5, true},   {0, 0, false},  {19, 0, false},  {19, 2, false}, {38, 10, false},
        {5, 6, false},  {10, -1, false}, {-1, 0, false}, {18, 19, false},
        /* out of uint8_t range: must not wrap into a valid type (266 % 256 == 10) */
        {266, 2, false}, {10, 258, false},
    };
    for (int i = 0; i < NELEMS(cases); i++) {
        CASE_BEGIN();
        CHECK_EQ_INT(spk_type_valid(spk_type_decimal(cases[i].p, cases[i].s)), cases[i].valid);
        CASE_END("decimal(%d,%d)", cases[i].p, cases[i].s);
    }
    spk_type bad = {0, 0, 0};
    bad.id = SPK_TYPE_COUNT;
    CHECK(!spk_type_valid(bad));
    bad.id = 200;
    CHECK(!spk_type_valid(bad));
    /* parsing and casting into an invalid type are refused */
    spk_value v;
    CHECK(spk_value_parse(spk_type_decimal(0, 0), "1", 1, &v) != SPK_OK);
    CHECK(spk_value_parse(spk_type_decimal(19, 2), "1", 1, &v) != SPK_OK);
    spk_value one = spk_value_i32(1);
    char tb[SPK_VALUE_TEXT_MAX];
    CHECK(spk_value_cast(&one, spk_type_decimal(20, 2), &v, tb) != SPK_OK);
    /* a DECIMAL built by hand with precision 0 is invalid */
    spk_type z = {SPK_TYPE_DECIMAL, 0, 0};
    CHECK(!spk_type_valid(z));
}

static void test_type_parse_valid(void) {
    static const struct { const char *text; spk_type_id id; int p, s; } cases[] = {
        {"boolean", SPK_TYPE_BOOLEAN, 0, 0},
        {"bool", SPK_TYPE_BOOLEAN, 0, 0},
        {"BOOLEAN", SPK_TYPE_BOOLEAN, 0, 0},
        {"int", SPK_TYPE_INT32, 0, 0},
        {"integer", SPK_TYPE_INT32, 0, 0},
        {"INT", SPK_TYPE_INT32, 0, 0},
        {"Integer", SPK_TYPE_INT32, 0, 0},
        {"bigint", SPK_TYPE_INT64, 0, 0},
        {"long", SPK_TYPE_INT64, 0, 0},
        {"BIGINT", SPK_TYPE_INT64, 0, 0},
        {"LONG", SPK_TYPE_INT64, 0, 0},
        {"double", SPK_TYPE_DOUBLE, 0, 0},
        {"DOUBLE", SPK_TYPE_DOUBLE, 0, 0},
        {"string", SPK_TYPE_STRING, 0, 0},
        {"STRING", SPK_TYPE_STRING, 0, 0},
        {"varchar(10)", SPK_TYPE_STRING, 0, 0},
        {"VARCHAR(255)", SPK_TYPE_STRING, 0, 0},
        {"char(3)", SPK_TYPE_STRING, 0, 0},
        {"date", SPK_TYPE_DATE, 0, 0},
        {"DATE", SPK_TYPE_DATE, 0, 0},
        {"timestamp", SPK_TYPE_TIMESTAMP, 0, 0},
        {"TimeStamp", SPK_TYPE_TIMESTAMP, 0, 0},
        {"void", SPK_TYPE_NULL, 0, 0},
        {"VOID", SPK_TYPE_NULL, 0, 0},
        /* Spark: DataType.fromDDL("decimal") == DecimalType(10,0) */
        {"decimal", SPK_TYPE_DECIMAL, 10, 0},
        {"DECIMAL", SPK_TYPE_DECIMAL, 10, 0},
        {"dec", SPK_TYPE_DECIMAL, 10, 0},
        {"numeric", SPK_TYPE_DECIMAL, 10, 0},
        {"decimal(15,2)", SPK_TYPE_DECIMAL, 15, 2},
        {"DECIMAL(15,2)", SPK_TYPE_DECIMAL, 15, 2},
        /* Spark: DataType.fromDDL("decimal(15, 2)") — spaces allowed in the list */
        {"decimal(15, 2)", SPK_TYPE_DECIMAL, 15, 2},
        /* Spark: decimal(5) == DecimalType(5,0) */
        {"decimal(5)", SPK_TYPE_DECIMAL, 5, 0},
        {"dec(7,3)", SPK_TYPE_DECIMAL, 7, 3},
        {"numeric(18,18)", SPK_TYPE_DECIMAL, 18, 18},
        {"NUMERIC(1,0)", SPK_TYPE_DECIMAL, 1, 0},
        {"decimal(18,0)", SPK_TYPE_DECIMAL, 18, 0},
    };
    for (int i = 0; i < NELEMS(cases); i++) {
        CASE_BEGIN();
        spk_type t = {99, 99, 99};
        CHECK_OK(spk_type_parse(cases[i].text, &t));
        CHECK_EQ_INT(t.id, cases[i].id);
        if (cases[i].id == SPK_TYPE_DECIMAL) {
            CHECK_EQ_INT(t.precision, cases[i].p);
            CHECK_EQ_INT(t.scale, cases[i].s);
        }
        CHECK(spk_type_valid(t));
        CASE_END("\"%s\"", cases[i].text);
    }
}

static void test_type_parse_invalid(void) {
    static const char *const cases[] = {
        "",           "   ",          "foo",          "int64",        "integers",
        "in",         "decimal(19,2)", "decimal(38,10)", "decimal(5,6)", "decimal(0,0)",
        "decimal(10", "decimal(10,)", "decimal(,2)",  "decimal(a,b)", "decimal(10,2,3)",
        "decimal()",  "decimal(-1,0)", "int(5)",      "string string", "datetime",
        "timestamp_x",
    };
    for (int i = 0; i < NELEMS(cases); i++) {
        CASE_BEGIN();
        spk_type t;
        spk_status s = spk_type_parse(cases[i], &t);
        CHECK(s != SPK_OK);
        CASE_END("\"%s\" (got %s)", cases[i], spk_status_name(s));
    }
}

static void test_type_format_styles(void) {
    static const struct { spk_type_id id; int p, s; const char *tree, *simple, *sql; } cases[] = {
        {SPK_TYPE_BOOLEAN, 0, 0, "boolean", "boolean", "BOOLEAN"},
        {SPK_TYPE_INT32, 0, 0, "integer", "int", "INT"},
        {SPK_TYPE_INT64, 0, 0, "long", "bigint", "BIGINT"},
        {SPK_TYPE_DOUBLE, 0, 0, "double", "double", "DOUBLE"},
        {SPK_TYPE_DECIMAL, 15, 2, "decimal(15,2)", "decimal(15,2)", "DECIMAL(15,2)"},
        {SPK_TYPE_DECIMAL, 10, 0, "decimal(10,0)", "decimal(10,0)", "DECIMAL(10,0)"},
        {SPK_TYPE_DECIMAL, 18, 18, "decimal(18,18)", "decimal(18,18)", "DECIMAL(18,18)"},
        {SPK_TYPE_DECIMAL, 1, 0, "decimal(1,0)", "decimal(1,0)", "DECIMAL(1,0)"},
        {SPK_TYPE_STRING, 0, 0, "string", "string", "STRING"},
        {SPK_TYPE_DATE, 0, 0, "date", "date", "DATE"},
        {SPK_TYPE_TIMESTAMP, 0, 0, "timestamp", "timestamp", "TIMESTAMP"},
        /* Spark NullType: typeName "void", simpleString "void", sql "VOID" */
        {SPK_TYPE_NULL, 0, 0, "void", "void", "VOID"},
    };
    for (int i = 0; i < NELEMS(cases); i++) {
        CASE_BEGIN();
        spk_type t = cases[i].id == SPK_TYPE_DECIMAL ? DEC(cases[i].p, cases[i].s)
                                                     : T(cases[i].id);
        char buf[64];
        CHECK_EQ_INT(spk_type_format(t, SPK_TYPE_TREE, buf, sizeof buf), strlen(cases[i].tree));
        CHECK_STR(buf, cases[i].tree);
        CHECK_EQ_INT(spk_type_format(t, SPK_TYPE_SIMPLE, buf, sizeof buf),
                     strlen(cases[i].simple));
        CHECK_STR(buf, cases[i].simple);
        CHECK_EQ_INT(spk_type_format(t, SPK_TYPE_SQL, buf, sizeof buf), strlen(cases[i].sql));
        CHECK_STR(buf, cases[i].sql);
        CASE_END("type #%d (%s)", i, cases[i].sql);
    }
}

static void test_type_format_snprintf(void) {
    char buf[16];
    /* cap 0: nothing written, full length returned */
    memset(buf, '#', sizeof buf);
    CHECK_EQ_INT(spk_type_format(T(SPK_TYPE_INT32), SPK_TYPE_TREE, buf, 0), 7);
    CHECK(buf[0] == '#');
    CHECK_EQ_INT(spk_type_format(T(SPK_TYPE_INT32), SPK_TYPE_TREE, NULL, 0), 7);
    /* cap 1: just the NUL */
    memset(buf, '#', sizeof buf);
    CHECK_EQ_INT(spk_type_format(T(SPK_TYPE_TIMESTAMP), SPK_TYPE_SQL, buf, 1), 9);
    CHECK_STR(buf, "");
    CHECK(buf[1] == '#');
    /* truncation */
    memset(buf, '#', sizeof buf);
    CHECK_EQ_INT(spk_type_format(T(SPK_TYPE_INT32), SPK_TYPE_TREE, buf, 4), 7);
    CHECK_STR(buf, "int");
    CHECK(buf[4] == '#');
    memset(buf, '#', sizeof buf);
    CHECK_EQ_INT(spk_type_format(DEC(15, 2), SPK_TYPE_SQL, buf, 10), 13);
    CHECK_STR(buf, "DECIMAL(1");
    CHECK(buf[10] == '#');
    /* exactly enough / one short */
    memset(buf, '#', sizeof buf);
    CHECK_EQ_INT(spk_type_format(DEC(15, 2), SPK_TYPE_TREE, buf, 14), 13);
    CHECK_STR(buf, "decimal(15,2)");
    memset(buf, '#', sizeof buf);
    CHECK_EQ_INT(spk_type_format(DEC(15, 2), SPK_TYPE_TREE, buf, 13), 13);
    CHECK_STR(buf, "decimal(15,2");
}

/* Every formatted name parses back to the same type. */
static void test_type_format_parse_roundtrip(void) {
    spk_type types[] = {T(SPK_TYPE_NULL),   T(SPK_TYPE_BOOLEAN), T(SPK_TYPE_INT32),
                        T(SPK_TYPE_INT64),  T(SPK_TYPE_DOUBLE),  T(SPK_TYPE_STRING),
                        T(SPK_TYPE_DATE),   T(SPK_TYPE_TIMESTAMP), DEC(1, 0),
                        DEC(10, 2),         DEC(18, 18),         DEC(18, 0), DEC(7, 7)};
    static const spk_type_style styles[] = {SPK_TYPE_TREE, SPK_TYPE_SIMPLE, SPK_TYPE_SQL};
    for (int i = 0; i < NELEMS(types); i++)
        for (int j = 0; j < NELEMS(styles); j++) {
            CASE_BEGIN();
            char buf[64];
            spk_type back = {99, 99, 99};
            spk_type_format(types[i], styles[j], buf, sizeof buf);
            CHECK_OK(spk_type_parse(buf, &back));
            CHECK(spk_type_equal(back, types[i]));
            CASE_END("\"%s\"", buf);
        }
}

/* ============================================================ value constructors */

static void test_value_constructors(void) {
    spk_value v = spk_value_null();
    CHECK(v.is_null);
    CHECK_EQ_INT(v.type.id, SPK_TYPE_NULL);

    v = spk_value_null_of(DEC(12, 3));
    CHECK(v.is_null);
    CHECK(spk_type_equal(v.type, DEC(12, 3)));

    v = spk_value_bool(true);
    CHECK(!v.is_null && v.type.id == SPK_TYPE_BOOLEAN && v.as.b);
    v = spk_value_i32(INT32_MIN);
    CHECK(!v.is_null && v.type.id == SPK_TYPE_INT32 && v.as.i32 == INT32_MIN);
    v = spk_value_i64(INT64_MAX);
    CHECK(!v.is_null && v.type.id == SPK_TYPE_INT64 && v.as.i64 == INT64_MAX);
    v = spk_value_f64(-2.5);
    CHECK(!v.is_null && v.type.id == SPK_TYPE_DOUBLE && v.as.f64 == -2.5);
    v = spk_value_decimal(-1250, 10, 2);
    CHECK(!v.is_null && spk_type_equal(v.type, DEC(10, 2)) && v.as.i64 == -1250);
    v = spk_value_date(-1);
    CHECK(!v.is_null && v.type.id == SPK_TYPE_DATE && v.as.i32 == -1);
    v = spk_value_timestamp(-1);
    CHECK(!v.is_null && v.type.id == SPK_TYPE_TIMESTAMP && v.as.i64 == -1);

    const char *s = "hello";
    v = spk_value_str(s);
    CHECK(!v.is_null && v.type.id == SPK_TYPE_STRING);
    CHECK(v.as.str.ptr == s);
    CHECK_EQ_INT(v.as.str.len, 5);
    v = spk_value_strn(s, 3);
    CHECK(!v.is_null && v.as.str.ptr == s);
    CHECK_EQ_INT(v.as.str.len, 3);
    v = spk_value_str("");
    CHECK(!v.is_null && v.type.id == SPK_TYPE_STRING);
    CHECK_EQ_INT(v.as.str.len, 0);
    v = spk_value_str(NULL);
    CHECK(v.is_null);
    CHECK_EQ_INT(v.type.id, SPK_TYPE_STRING);
}

/* ============================================================ parsing */

typedef struct { const char *text; spk_status st; long long v; } int_case;

static void run_int_cases(spk_type t, const int_case *cases, int n) {
    for (int i = 0; i < n; i++) {
        CASE_BEGIN();
        spk_value v;
        memset(&v, 0x5A, sizeof v);
        spk_status s = parse_s(t, cases[i].text, &v);
        CHECK_ST(s, cases[i].st);
        if (s == SPK_OK && cases[i].st == SPK_OK) {
            CHECK(!v.is_null);
            CHECK(spk_type_equal(v.type, t));
            if (t.id == SPK_TYPE_INT32 || t.id == SPK_TYPE_DATE) CHECK_EQ_INT(v.as.i32, cases[i].v);
            else CHECK_EQ_INT(v.as.i64, cases[i].v);
        }
        CASE_END("parse \"%s\"", cases[i].text);
    }
}

static void test_parse_int32(void) {
    static const int_case cases[] = {
        {"0", SPK_OK, 0},
        {"42", SPK_OK, 42},
        {"-42", SPK_OK, -42},
        {"+42", SPK_OK, 42},        /* Spark: cast('+42' as int) = 42 */
        {"-0", SPK_OK, 0},
        {"007", SPK_OK, 7},         /* leading zeros: cast('007' as int) = 7 */
        {" 42 ", SPK_OK, 42},
        {"   -17", SPK_OK, -17},
        {"2147483647", SPK_OK, 2147483647LL},
        {"-2147483648", SPK_OK, -2147483648LL},
        {"0000000000002147483647", SPK_OK, 2147483647LL},
        {"2147483648", SPK_ERR_RANGE, 0},
        {"-2147483649", SPK_ERR_RANGE, 0},
        {"4294967296", SPK_ERR_RANGE, 0},
        {"4294967338", SPK_ERR_RANGE, 0},   /* wraps to 42 in 32 bits */
        {"99999999999999999999", SPK_ERR_RANGE, 0},
        {"-99999999999999999999999999", SPK_ERR_RANGE, 0},
        {"9223372036854775807", SPK_ERR_RANGE, 0},
        {"", SPK_ERR_PARSE, 0},
        {"   ", SPK_ERR_PARSE, 0},
        {"abc", SPK_ERR_PARSE, 0},
        {"12a", SPK_ERR_PARSE, 0},
        {"a12", SPK_ERR_PARSE, 0},
        {"1 2", SPK_ERR_PARSE, 0},
        {"-", SPK_ERR_PARSE, 0},
        {"+", SPK_ERR_PARSE, 0},
        {"--1", SPK_ERR_PARSE, 0},
        {"+-1", SPK_ERR_PARSE, 0},
        {"1-", SPK_ERR_PARSE, 0},
        {"1.5", SPK_ERR_PARSE, 0},
        {"1e3", SPK_ERR_PARSE, 0},
        {"0x10", SPK_ERR_PARSE, 0},
        {"NULL", SPK_ERR_PARSE, 0},
        {"true", SPK_ERR_PARSE, 0},
    };
    run_int_cases(T(SPK_TYPE_INT32), cases, NELEMS(cases));
}

static void test_parse_int64(void) {
    static const int_case cases[] = {
        {"0", SPK_OK, 0},
        {"-1", SPK_OK, -1},
        {"3000000000", SPK_OK, 3000000000LL},
        {" 123456789012 ", SPK_OK, 123456789012LL},
        {"+9", SPK_OK, 9},
        {"9223372036854775807", SPK_OK, INT64_MAX},
        {"-9223372036854775808", SPK_OK, INT64_MIN},
        {"00000000000000000000009223372036854775807", SPK_OK, INT64_MAX},
        {"9223372036854775808", SPK_ERR_RANGE, 0},
        {"-9223372036854775809", SPK_ERR_RANGE, 0},
        {"18446744073709551615", SPK_ERR_RANGE, 0},
        {"18446744073709551616", SPK_ERR_RANGE, 0},  /* wraps to 0 in 64 bits */
        {"18446744073709551658", SPK_ERR_RANGE, 0},  /* wraps to 42 in 64 bits */
        {"99999999999999999999999999999999", SPK_ERR_RANGE, 0},
        {"", SPK_ERR_PARSE, 0},
        {"x", SPK_ERR_PARSE, 0},
        {"12.0", SPK_ERR_PARSE, 0},
        {"9223372036854775807x", SPK_ERR_PARSE, 0},
        {"- 1", SPK_ERR_PARSE, 0},
    };
    run_int_cases(T(SPK_TYPE_INT64), cases, NELEMS(cases));
}

/* `len` is honoured: the text need not be NUL-terminated and bytes past len
 * are not looked at. */
static void test_parse_uses_len(void) {
    spk_value v;
    CHECK_OK(spk_value_parse(T(SPK_TYPE_INT32), "123456", 3, &v));
    CHECK_EQ_INT(v.as.i32, 123);
    CHECK_OK(spk_value_parse(T(SPK_TYPE_INT64), "-77xyz", 3, &v));
    CHECK_EQ_INT(v.as.i64, -77);
    CHECK_OK(spk_value_parse(T(SPK_TYPE_DOUBLE), "2.5e10", 3, &v));
    CHECK(v.as.f64 == 2.5);
    CHECK_OK(spk_value_parse(T(SPK_TYPE_BOOLEAN), "trueish", 4, &v));
    CHECK(v.as.b == true);
    CHECK_OK(spk_value_parse(T(SPK_TYPE_DATE), "2020-01-01 and more", 10, &v));
    CHECK_EQ_INT(v.as.i32, 18262);
    CHECK_OK(spk_value_parse(DEC(10, 2), "12.345", 4, &v));
    CHECK_EQ_INT(v.as.i64, 1230);
    CHECK_ST(spk_value_parse(T(SPK_TYPE_INT32), "123", 0, &v), SPK_ERR_PARSE);

    /* a buffer with no NUL at all: ASan would catch a read past it */
    char *raw = malloc(4);
    CHECK(raw != NULL);
    if (raw) {
        memcpy(raw, "9876", 4);
        CHECK_OK(spk_value_parse(T(SPK_TYPE_INT32), raw, 4, &v));
        CHECK_EQ_INT(v.as.i32, 9876);
        CHECK_OK(spk_value_parse(T(SPK_TYPE_DOUBLE), raw, 4, &v));
        CHECK(v.as.f64 == 9876.0);
        CHECK_OK(spk_value_parse(DEC(6, 2), raw, 4, &v));
        CHECK_EQ_INT(v.as.i64, 987600);
        free(raw);
    }
    char *rawd = malloc(3);
    CHECK(rawd != NULL);
    if (rawd) {
        memcpy(rawd, "1.5", 3);
        CHECK_OK(spk_value_parse(T(SPK_TYPE_DOUBLE), rawd, 3, &v));
        CHECK(v.as.f64 == 1.5);
        free(rawd);
    }
}

static void test_parse_decimal(void) {
    static const struct { int p, s; const char *text; spk_status st; long long unscaled; } cases[] = {
        {10, 2, "12.5", SPK_OK, 1250},
        {10, 2, "12.50", SPK_OK, 1250},
        {10, 2, "12", SPK_OK, 1200},
        {10, 2, "0", SPK_OK, 0},
        {10, 2, "-0.50", SPK_OK, -50},
        {10, 2, "-0.05", SPK_OK, -5},
        {10, 2, "-12.5", SPK_OK, -1250},
        {10, 2, "+1.5", SPK_OK, 150},
        {10, 2, " 3.14 ", SPK_OK, 314},
        {10, 2, ".5", SPK_OK, 50},        /* Spark: cast('.5' as decimal(10,2)) = 0.50 */
        {10, 2, "5.", SPK_OK, 500},       /* Spark: cast('5.' as decimal(10,2)) = 5.00 */
        /* rounding half-up to the scale (Spark changePrecision uses ROUND_HALF_UP) */
        {10, 2, "12.345", SPK_OK, 1235},
        {10, 2, "12.344", SPK_OK, 1234},
        {10, 2, "12.3449999", SPK_OK, 1234},
        {10, 2, "-12.345", SPK_OK, -1235},
        {10, 2, "0.005", SPK_OK, 1},
        {10, 2, "-0.005", SPK_OK, -1},
        {10, 2, "0.004", SPK_OK, 0},
        {10, 2, "-0.001", SPK_OK, 0},
        {10, 2, "1.23999999999999999999999", SPK_OK, 124},
        {10, 2, "0.0000000000000000000000001", SPK_OK, 0},
        {10, 2, "0000000000000000000000012.5", SPK_OK, 1250},
        {10, 2, "99999999.99", SPK_OK, 9999999999LL},
        {10, 2, "-99999999.99", SPK_OK, -9999999999LL},
        {10, 2, "99999999.994", SPK_OK, 9999999999LL},
        /* precision overflow */
        {10, 2, "100000000", SPK_ERR_RANGE, 0},
        {10, 2, "100000000.00", SPK_ERR_RANGE, 0},
        {10, 2, "-100000000", SPK_ERR_RANGE, 0},
        {10, 2, "99999999.995", SPK_ERR_RANGE, 0}, /* rounds up to 100000000.00 */
        {10, 2, "123456789012345678901234567890", SPK_ERR_RANGE, 0},
        {3, 0, "999", SPK_OK, 999},
        {3, 0, "999.4", SPK_OK, 999},
        {3, 0, "0.5", SPK_OK, 1},
        {3, 0, "-0.5", SPK_OK, -1},
        {3, 0, "-2.5", SPK_OK, -3},
        {3, 0, "999.5", SPK_ERR_RANGE, 0},
        {3, 0, "1000", SPK_ERR_RANGE, 0},
        {5, 5, "0.12345", SPK_OK, 12345},
        {5, 5, "-0.99999", SPK_OK, -99999},
        {5, 5, "0.123455", SPK_OK, 12346},
        {5, 5, "1.0", SPK_ERR_RANGE, 0},
        {5, 5, "0.999995", SPK_ERR_RANGE, 0},
        {18, 0, "999999999999999999", SPK_OK, 999999999999999999LL},
        {18, 0, "-999999999999999999", SPK_OK, -999999999999999999LL},
        {18, 0, "1000000000000000000", SPK_ERR_RANGE, 0},
        {18, 0, "9223372036854775807", SPK_ERR_RANGE, 0},
        {18, 18, "0.999999999999999999", SPK_OK, 999999999999999999LL},
        {18, 18, "-0.000000000000000001", SPK_OK, -1},
        {18, 18, "1", SPK_ERR_RANGE, 0},
        {18, 2, "9999999999999999.99", SPK_OK, 999999999999999999LL},
        {10, 2, "", SPK_ERR_PARSE, 0},
        {10, 2, "  ", SPK_ERR_PARSE, 0},
        {10, 2, "abc", SPK_ERR_PARSE, 0},
        {10, 2, "1.2.3", SPK_ERR_PARSE, 0},
        {10, 2, "1,5", SPK_ERR_PARSE, 0},
        {10, 2, "-", SPK_ERR_PARSE, 0},
        {10, 2, ".", SPK_ERR_PARSE, 0},
        {10, 2, "-.", SPK_ERR_PARSE, 0},
        {10, 2, "12.5x", SPK_ERR_PARSE, 0},
        {10, 2, "1 2", SPK_ERR_PARSE, 0},
        {10, 2, "NaN", SPK_ERR_PARSE, 0},
        /* exponents: java.math.BigDecimal("1.5e2") = 150, as Spark's CSV reader and cast read decimals */
        {10, 2, "1.5e2", SPK_OK, 15000},
        {10, 2, "1E-2", SPK_OK, 1},
        {10, 2, "-2.5E+1", SPK_OK, -2500},
        {10, 2, "1e9", SPK_ERR_RANGE, 0},
        {10, 2, "1e", SPK_ERR_PARSE, 0},
        /* carry out of the rounding digit */
        {3, 2, "0.995", SPK_OK, 100},
        {3, 2, "-0.995", SPK_OK, -100},
        {3, 2, "9.995", SPK_ERR_RANGE, 0},
        {18, 18, "0.9999999999999999995", SPK_ERR_RANGE, 0},
        {18, 18, "0.9999999999999999994", SPK_OK, 999999999999999999LL},
    };
    for (int i = 0; i < NELEMS(cases); i++) {
        CASE_BEGIN();
        spk_type t = DEC(cases[i].p, cases[i].s);
        spk_value v;
        memset(&v, 0, sizeof v);
        spk_status s = parse_s(t, cases[i].text, &v);
        CHECK_ST(s, cases[i].st);
        if (s == SPK_OK && cases[i].st == SPK_OK) {
            CHECK(!v.is_null);
            CHECK(spk_type_equal(v.type, t));
            CHECK_EQ_INT(v.as.i64, cases[i].unscaled);
        }
        CASE_END("decimal(%d,%d) \"%s\"", cases[i].p, cases[i].s, cases[i].text);
    }
    /* "-0.001" rounds to zero and shows as 0.00, not -0.00 (Spark: cast('-0.001' as decimal(10,2))) */
    spk_value v;
    char buf[64];
    CHECK_OK(parse_s(DEC(10, 2), "-0.001", &v));
    CHECK_STR(fmt_value(&v, buf, sizeof buf), "0.00");
}

static void test_parse_double(void) {
    static const struct { const char *text; spk_status st; double v; } cases[] = {
        {"0", SPK_OK, 0.0},
        {"1.5", SPK_OK, 1.5},
        {"-2.25", SPK_OK, -2.25},
        {"+2.25", SPK_OK, 2.25},
        {"42", SPK_OK, 42.0},
        {"  3.25  ", SPK_OK, 3.25},
        {".5", SPK_OK, 0.5},
        {"5.", SPK_OK, 5.0},
        {"1e10", SPK_OK, 1e10},
        {"1E10", SPK_OK, 1e10},
        {"1.5e+2", SPK_OK, 150.0},
        {"-1E-3", SPK_OK, -1e-3},
        {"1.0E7", SPK_OK, 1e7},
        {"1.2345678E7", SPK_OK, 12345678.0},
        {"0.1", SPK_OK, 0.1},
        {"0.30000000000000004", SPK_OK, 0.30000000000000004},
        {"1.7976931348623157E308", SPK_OK, 1.7976931348623157e308},
        {"4.9E-324", SPK_OK, 4.9e-324},
        {"-0.0", SPK_OK, -0.0},
        {"-0", SPK_OK, -0.0},
        {"NaN", SPK_OK, NAN},
        {"nan", SPK_OK, NAN},   /* Spark: cast('nan' as double) = NaN (case-insensitive) */
        {"Infinity", SPK_OK, INFINITY},
        {"-Infinity", SPK_OK, -INFINITY},
        {"+Infinity", SPK_OK, INFINITY},
        {"inf", SPK_OK, INFINITY},
        {"INF", SPK_OK, INFINITY},
        {"-inf", SPK_OK, -INFINITY},
        {" Infinity ", SPK_OK, INFINITY},
        {"", SPK_ERR_PARSE, 0},
        {"   ", SPK_ERR_PARSE, 0},
        {"abc", SPK_ERR_PARSE, 0},
        {"1.5x", SPK_ERR_PARSE, 0},
        {"1e", SPK_ERR_PARSE, 0},
        {"e5", SPK_ERR_PARSE, 0},
        {"1.2.3", SPK_ERR_PARSE, 0},
        {"-", SPK_ERR_PARSE, 0},
        {".", SPK_ERR_PARSE, 0},
        {"1 5", SPK_ERR_PARSE, 0},
        {"Infinityx", SPK_ERR_PARSE, 0},
        {"nanx", SPK_ERR_PARSE, 0},
        {"true", SPK_ERR_PARSE, 0},
    };
    for (int i = 0; i < NELEMS(cases); i++) {
        CASE_BEGIN();
        spk_value v;
        memset(&v, 0, sizeof v);
        spk_status s = parse_s(T(SPK_TYPE_DOUBLE), cases[i].text, &v);
        CHECK_ST(s, cases[i].st);
        if (s == SPK_OK && cases[i].st == SPK_OK) {
            CHECK(!v.is_null);
            CHECK_EQ_INT(v.type.id, SPK_TYPE_DOUBLE);
            if (!same_double(v.as.f64, cases[i].v)) {
                fprintf(stderr, "  got %.17g, expected %.17g\n", v.as.f64, cases[i].v);
                CHECK(same_double(v.as.f64, cases[i].v));
            }
        }
        CASE_END("double \"%s\"", cases[i].text);
    }
    /* A long literal is still a literal: Double.parseDouble of a 602-character
     * "0.0741852963..." is 0.07418529630741853 (Java 17), and Spark's cast agrees. */
    char longnum[700];
    memcpy(longnum, "0.", 2);
    for (int i = 0; i < 600; i++) longnum[2 + i] = (char)('0' + (i * 7) % 10);
    longnum[602] = '\0';
    spk_value v;
    memset(&v, 0, sizeof v);
    CHECK_OK(parse_s(T(SPK_TYPE_DOUBLE), longnum, &v));
    CHECK(v.as.f64 == 0.07418529630741853);
}

static void test_parse_boolean(void) {
    /* Strict literals as Spark's CSV reader reads booleans (StringOps.toBoolean):
     * true/false only, any case. */
    static const struct { const char *text; spk_status st; bool v; } cases[] = {
        {"true", SPK_OK, true},   {"false", SPK_OK, false}, {"TRUE", SPK_OK, true},
        {"False", SPK_OK, false}, {"tRuE", SPK_OK, true},   {" true ", SPK_OK, true},
        {"  FALSE", SPK_OK, false},
        {"", SPK_ERR_PARSE, false},     {"t", SPK_ERR_PARSE, false},
        {"yes", SPK_ERR_PARSE, false},  {"1", SPK_ERR_PARSE, false},
        {"0", SPK_ERR_PARSE, false},    {"tru", SPK_ERR_PARSE, false},
        {"truee", SPK_ERR_PARSE, false}, {"true1", SPK_ERR_PARSE, false},
        {"fals", SPK_ERR_PARSE, false}, {"t rue", SPK_ERR_PARSE, false},
    };
    for (int i = 0; i < NELEMS(cases); i++) {
        CASE_BEGIN();
        spk_value v;
        memset(&v, 0, sizeof v);
        spk_status s = parse_s(T(SPK_TYPE_BOOLEAN), cases[i].text, &v);
        CHECK_ST(s, cases[i].st);
        if (s == SPK_OK && cases[i].st == SPK_OK) {
            CHECK(!v.is_null);
            CHECK_EQ_INT(v.type.id, SPK_TYPE_BOOLEAN);
            CHECK_EQ_INT(v.as.b, cases[i].v);
        }
        CASE_END("boolean \"%s\"", cases[i].text);
    }
}

static void test_parse_date(void) {
    /* expected day numbers from Python: (date(y,m,d) - date(1970,1,1)).days */
    static const int_case cases[] = {
        {"1970-01-01", SPK_OK, 0},
        {"2020-01-01", SPK_OK, 18262},
        {"1969-12-31", SPK_OK, -1},
        {"1969-07-20", SPK_OK, -165},
        {"1900-01-01", SPK_OK, -25567},
        {"1900-03-01", SPK_OK, -25508},
        {"2020-02-29", SPK_OK, 18321},
        {"2000-02-29", SPK_OK, 11016},
        {"2000-03-01", SPK_OK, 11017},
        {"2024-12-31", SPK_OK, 20088},
        {"1582-10-15", SPK_OK, -141427},
        {"1582-10-04", SPK_OK, -141438}, /* proleptic Gregorian: no Julian gap (Spark 3) */
        {"0001-01-01", SPK_OK, -719162},
        {"9999-12-31", SPK_OK, 2932896},
        {" 2020-01-01 ", SPK_OK, 18262},
        {"2019-02-29", PARSE_OR_RANGE, 0},
        {"1900-02-29", PARSE_OR_RANGE, 0},
        {"2100-02-29", PARSE_OR_RANGE, 0},
        {"2020-02-30", PARSE_OR_RANGE, 0},
        {"2020-04-31", PARSE_OR_RANGE, 0},
        {"2020-13-01", PARSE_OR_RANGE, 0},
        {"2020-00-10", PARSE_OR_RANGE, 0},
        {"2020-01-00", PARSE_OR_RANGE, 0},
        {"2020-01-32", PARSE_OR_RANGE, 0},
        {"", SPK_ERR_PARSE, 0},
        {"abc", SPK_ERR_PARSE, 0},
        {"2020-01-01x", SPK_ERR_PARSE, 0},
        {"2020/01/01", SPK_ERR_PARSE, 0},
        {"2020-01", PARSE_OR_RANGE, 0},
        {"2020-0a-01", SPK_ERR_PARSE, 0},
        {"--", SPK_ERR_PARSE, 0},
    };
    run_int_cases(T(SPK_TYPE_DATE), cases, NELEMS(cases));
}

static void test_parse_timestamp(void) {
    /* expected micros from Python: (datetime(...) - datetime(1970,1,1)) in µs, UTC */
    static const int_case cases[] = {
        {"1970-01-01 00:00:00", SPK_OK, 0},
        {"2020-01-01 00:00:00", SPK_OK, 1577836800000000LL},
        {"2020-01-01 12:34:56", SPK_OK, 1577882096000000LL},
        {"2020-01-01T12:34:56", SPK_OK, 1577882096000000LL},
        {"2020-01-01 12:34", SPK_OK, 1577882040000000LL},
        {"2020-01-01T12:34", SPK_OK, 1577882040000000LL},
        {"2020-01-01 12:34:56.123", SPK_OK, 1577882096123000LL},
        {"2020-01-01 12:34:56.123456", SPK_OK, 1577882096123456LL},
        {"2020-01-01 12:34:56.1", SPK_OK, 1577882096100000LL},
        {"2020-01-01 12:34:56.000001", SPK_OK, 1577882096000001LL},
        {"2020-01-01 12:34:56Z", SPK_OK, 1577882096000000LL},
        {"2020-01-01T12:34:56.5Z", SPK_OK, 1577882096500000LL},
        {"2020-01-01 12:34:56+02:00", SPK_OK, 1577874896000000LL},
        {"2020-01-01 12:34:56-05:30", SPK_OK, 1577901896000000LL},
        {"2020-01-01 12:34:56+00:00", SPK_OK, 1577882096000000LL},
        {"2020-01-01 00:30:00+01:00", SPK_OK, 1577835000000000LL}, /* previous day in UTC */
        {"2020-01-01T12:34:56.123456+02:00", SPK_OK, 1577874896123456LL},
        {"1969-12-31 23:59:59", SPK_OK, -1000000LL},
        {"1969-12-31 23:59:59.5", SPK_OK, -500000LL},
        {"1969-12-31 23:59:59.999999", SPK_OK, -1LL},
        {"1900-01-01 00:00:01", SPK_OK, -2208988799000000LL},
        {"2000-02-29 23:59:59.5", SPK_OK, 951868799500000LL},
        {"0001-01-01 00:00:00", SPK_OK, -62135596800000000LL},
        {"9999-12-31 23:59:59.999999", SPK_OK, 253402300799999999LL},
        {"  2020-01-01 00:00:00  ", SPK_OK, 1577836800000000LL},
        {"2020-01-01 24:00:00", PARSE_OR_RANGE, 0},
        {"2020-01-01 12:60:00", PARSE_OR_RANGE, 0},
        {"2020-01-01 12:34:60", PARSE_OR_RANGE, 0},
        {"2019-02-29 00:00:00", PARSE_OR_RANGE, 0},
        {"2020-13-01 00:00:00", PARSE_OR_RANGE, 0},
        {"", SPK_ERR_PARSE, 0},
        {"abc", SPK_ERR_PARSE, 0},
        {"2020-01-01X12:34:56", SPK_ERR_PARSE, 0},
        {"2020-01-01 12:34:56 junk", SPK_ERR_PARSE, 0},
        {"2020-01-01 ab:cd:ef", SPK_ERR_PARSE, 0},
        /* The extremes read back exactly; one microsecond beyond is out of range, never wrapped. */
        {"-290308-12-21 19:59:05.224192", SPK_OK, INT64_MIN},
        {"294247-01-10 04:00:54.775807", SPK_OK, INT64_MAX},
        {"-290308-12-21 19:59:05.224191", SPK_ERR_RANGE, 0},
        {"294247-01-10 04:00:54.775808", SPK_ERR_RANGE, 0},
        {"294247-01-11 00:00:00", SPK_ERR_RANGE, 0},
        {"-290308-12-21 00:00:00+01:00", SPK_ERR_RANGE, 0},
    };
    run_int_cases(T(SPK_TYPE_TIMESTAMP), cases, NELEMS(cases));
}

static void test_parse_string(void) {
    const char *text = "  hello, world  ";
    spk_value v;
    CHECK_OK(parse_s(T(SPK_TYPE_STRING), text, &v));
    CHECK(!v.is_null);
    CHECK_EQ_INT(v.type.id, SPK_TYPE_STRING);
    CHECK(v.as.str.ptr == text); /* a view, untrimmed */
    CHECK_EQ_INT(v.as.str.len, strlen(text));

    const char *e = "";
    CHECK_OK(spk_value_parse(T(SPK_TYPE_STRING), e, 0, &v));
    CHECK(!v.is_null);
    CHECK_EQ_INT(v.as.str.len, 0);

    const char *part = "abcdef";
    CHECK_OK(spk_value_parse(T(SPK_TYPE_STRING), part + 1, 3, &v));
    CHECK(v.as.str.ptr == part + 1);
    CHECK_EQ_INT(v.as.str.len, 3);

    /* non-ASCII bytes pass through untouched */
    const char *u = "h\xC3\xA9llo \xE2\x82\xAC";
    CHECK_OK(parse_s(T(SPK_TYPE_STRING), u, &v));
    CHECK_EQ_INT(v.as.str.len, strlen(u));
    CHECK(v.as.str.ptr == u);
}

static void test_parse_error_message(void) {
    static const struct { spk_type_id id; const char *text; } cases[] = {
        {SPK_TYPE_INT32, "xyz123q"}, {SPK_TYPE_INT64, "notanumber42"},
        {SPK_TYPE_DOUBLE, "1.2.3.4"}, {SPK_TYPE_BOOLEAN, "maybe"},
        {SPK_TYPE_DATE, "2019-02-29"}, {SPK_TYPE_TIMESTAMP, "2020-99-99 99:99"},
        {SPK_TYPE_INT32, "2147483648"},
    };
    for (int i = 0; i < NELEMS(cases); i++) {
        CASE_BEGIN();
        spk_value v;
        spk_clear_error();
        spk_status s = parse_s(T(cases[i].id), cases[i].text, &v);
        CHECK(s != SPK_OK);
        CHECK_EQ_INT(spk_last_status(), s);
        CHECK_CONTAINS(spk_last_error(), cases[i].text);
        CASE_END("\"%s\"", cases[i].text);
    }
    spk_value v;
    spk_clear_error();
    CHECK_ST(parse_s(DEC(5, 2), "12345.6", &v), SPK_ERR_RANGE);
    CHECK_CONTAINS(spk_last_error(), "12345.6");
}

/* ============================================================ formatting */

static void test_format_scalars(void) {
    char buf[64];
    spk_value v = spk_value_null();
    CHECK_STR(fmt_value(&v, buf, sizeof buf), "NULL");
    static const spk_type_id nullable[] = {SPK_TYPE_BOOLEAN, SPK_TYPE_INT32,  SPK_TYPE_INT64,
                                           SPK_TYPE_DOUBLE,  SPK_TYPE_STRING, SPK_TYPE_DATE,
                                           SPK_TYPE_TIMESTAMP};
    for (int i = 0; i < NELEMS(nullable); i++) {
        v = spk_value_null_of(T(nullable[i]));
        CHECK_STR(fmt_value(&v, buf, sizeof buf), "NULL");
    }
    v = spk_value_null_of(DEC(10, 2));
    CHECK_STR(fmt_value(&v, buf, sizeof buf), "NULL");

    v = spk_value_bool(true);
    CHECK_STR(fmt_value(&v, buf, sizeof buf), "true");
    v = spk_value_bool(false);
    CHECK_STR(fmt_value(&v, buf, sizeof buf), "false");

    static const struct { int32_t x; const char *s; } i32s[] = {
        {0, "0"}, {7, "7"}, {-7, "-7"}, {1000000, "1000000"},
        {INT32_MAX, "2147483647"}, {INT32_MIN, "-2147483648"},
    };
    for (int i = 0; i < NELEMS(i32s); i++) {
        v = spk_value_i32(i32s[i].x);
        CHECK_STR(fmt_value(&v, buf, sizeof buf), i32s[i].s);
    }
    static const struct { int64_t x; const char *s; } i64s[] = {
        {0, "0"}, {-1, "-1"}, {3000000000LL, "3000000000"},
        {INT64_MAX, "9223372036854775807"}, {INT64_MIN, "-9223372036854775808"},
    };
    for (int i = 0; i < NELEMS(i64s); i++) {
        v = spk_value_i64(i64s[i].x);
        CHECK_STR(fmt_value(&v, buf, sizeof buf), i64s[i].s);
    }
}

static void test_format_double(void) {
    /* Expected strings are Java 17's Double.toString, which is what Spark's
     * show() prints: spark.createDataFrame([(1e7,)], "x double").show() -> 1.0E7 */
    static const struct { double x; const char *s; } cases[] = {
        {1.0, "1.0"},
        {100.0, "100.0"},
        {0.0, "0.0"},
        {-0.0, "-0.0"},
        {-1.5, "-1.5"},
        {0.1, "0.1"},
        {0.5, "0.5"},
        {3.14, "3.14"},
        {4.35, "4.35"},
        {100.5, "100.5"},
        {0.001, "0.001"},
        {-0.001, "-0.001"},
        {0.0025, "0.0025"},
        {1e-4, "1.0E-4"},
        {1e-5, "1.0E-5"},
        {0.00099, "9.9E-4"},
        {1.5e-7, "1.5E-7"},
        {1234567.0, "1234567.0"},
        {9999999.0, "9999999.0"},
        {9999999.999, "9999999.999"},
        {123456.789, "123456.789"},
        {1e7, "1.0E7"},
        {12345678.0, "1.2345678E7"},
        {-12345678.0, "-1.2345678E7"},
        {1.23456e12, "1.23456E12"},
        {1e16, "1.0E16"},
        {9007199254740992.0, "9.007199254740992E15"},
        {1e21, "1.0E21"},
        {1e22, "1.0E22"},
        {1e100, "1.0E100"},
        {1e-300, "1.0E-300"},
        {1.0 / 3.0, "0.3333333333333333"},
        {2.0 / 3.0, "0.6666666666666666"},
        {0.1 + 0.2, "0.30000000000000004"},
        {1.7976931348623157e308, "1.7976931348623157E308"},
        {-1.7976931348623157e308, "-1.7976931348623157E308"},
        {4.9e-324, "4.9E-324"},                /* Double.MIN_VALUE: Java picks the closer 2-digit form */
        {4.9406564584124654e-323, "4.9E-323"}, /* 10 * MIN_VALUE; not "5.0E-323" */
        {4.9406564584124654e-322, "4.94E-322"},
        {2.2250738585072014e-308, "2.2250738585072014E-308"},
        {NAN, "NaN"},
        {INFINITY, "Infinity"},
        {-INFINITY, "-Infinity"},
    };
    char buf[64];
    for (int i = 0; i < NELEMS(cases); i++) {
        CASE_BEGIN();
        spk_value v = spk_value_f64(cases[i].x);
        CHECK_STR(fmt_value(&v, buf, sizeof buf), cases[i].s);
        CASE_END("double %.17g", cases[i].x);
    }
    /* a NaN with another payload, and a negative NaN, still print NaN */
    spk_value v = spk_value_f64(make_nan_payload(0x7FF0000000000001ull));
    CHECK_STR(fmt_value(&v, buf, sizeof buf), "NaN");
    v = spk_value_f64(make_nan_payload(0xFFF8000000000000ull));
    CHECK_STR(fmt_value(&v, buf, sizeof buf), "NaN");
}

/* Shape of Java's Double.toString for a finite double: [-]d+.d+ for
 * 1e-3 <= |x| < 1e7 (or 0), else [-]d.d+E[-]d+; no trailing fraction zeros
 * except a lone ".0"; at most 17 significant digits. */
static int java_shape_ok(double x, const char *s) {
    if (signbit(x)) {
        if (*s != '-') return 0;
        s++;
    } else if (*s == '-') {
        return 0;
    }
    double ax = fabs(x);
    int sci = ax != 0 && (ax < 1e-3 || ax >= 1e7);
    const char *p = s;
    int ndig = 0;
    while (*p >= '0' && *p <= '9') p++, ndig++;
    if (ndig == 0) return 0;
    if (sci && (ndig != 1 || s[0] == '0')) return 0;
    if (!sci && ndig > 1 && s[0] == '0') return 0;
    if (*p++ != '.') return 0;
    const char *f = p;
    while (*p >= '0' && *p <= '9') p++;
    int nfrac = (int)(p - f);
    if (nfrac == 0) return 0;
    if (nfrac > 1 && p[-1] == '0') return 0;
    if (sci) {
        if (*p++ != 'E') return 0;
        if (*p == '-') p++;
        if (!(*p >= '1' && *p <= '9')) return 0;
        while (*p >= '0' && *p <= '9') p++;
    }
    return *p == '\0';
}

/* Random doubles: the text has Java's shape and reads back to the same bits
 * (Double.toString always round-trips). */
static void test_format_double_random(void) {
    char buf[64];
    int bad_shape = 0, bad_trip = 0;
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = rng_next();
        if (i % 4 == 1) bits = (bits & 0x800FFFFFFFFFFFFFull) | ((uint64_t)(1023 + (int)(bits >> 52) % 60 - 30) << 52);
        if (i % 4 == 2) { /* short decimals: k / 10^j */
            double d = (double)(int64_t)(bits % 2000001) - 1000000.0;
            d /= pow(10.0, (double)((bits >> 40) % 12));
            memcpy(&bits, &d, sizeof bits);
        }
        double x;
        memcpy(&x, &bits, sizeof x);
        if (isnan(x) || isinf(x)) continue;
        spk_value v = spk_value_f64(x);
        fmt_value(&v, buf, sizeof buf);
        if (!java_shape_ok(x, buf)) {
            if (bad_shape++ < 5) fprintf(stderr, "  bad shape: %.17g -> \"%s\"\n", x, buf);
        }
        spk_value back;
        if (parse_s(T(SPK_TYPE_DOUBLE), buf, &back) != SPK_OK || !same_double(back.as.f64, x)) {
            if (bad_trip++ < 5) fprintf(stderr, "  no round trip: %.17g -> \"%s\"\n", x, buf);
        }
    }
    CHECK_EQ_INT(bad_shape, 0);
    CHECK_EQ_INT(bad_trip, 0);
}

static void test_format_decimal(void) {
    static const struct { int64_t u; int p, s; const char *text; } cases[] = {
        {1250, 10, 2, "12.50"},
        {-5, 10, 2, "-0.05"},
        {5, 10, 2, "0.05"},
        {0, 10, 2, "0.00"},
        {-1250, 10, 2, "-12.50"},
        {100, 10, 2, "1.00"},
        {-100, 10, 2, "-1.00"},
        {9999999999LL, 10, 2, "99999999.99"},
        {42, 10, 0, "42"},
        {-42, 10, 0, "-42"},
        {0, 10, 0, "0"},
        {12345, 5, 5, "0.12345"},
        {-12345, 5, 5, "-0.12345"},
        {1, 5, 5, "0.00001"},
        {-1, 5, 5, "-0.00001"},
        {0, 5, 5, "0.00000"},
        {999999999999999999LL, 18, 0, "999999999999999999"},
        {-999999999999999999LL, 18, 0, "-999999999999999999"},
        {1, 18, 18, "0.000000000000000001"},
        {-999999999999999999LL, 18, 18, "-0.999999999999999999"},
        {-999999999999999999LL, 18, 4, "-99999999999999.9999"},
        {123, 3, 1, "12.3"},
        {-7, 1, 0, "-7"},
    };
    char buf[64];
    for (int i = 0; i < NELEMS(cases); i++) {
        CASE_BEGIN();
        spk_value v = spk_value_decimal(cases[i].u, cases[i].p, cases[i].s);
        CHECK_STR(fmt_value(&v, buf, sizeof buf), cases[i].text);
        CASE_END("decimal(%d,%d) unscaled %lld", cases[i].p, cases[i].s, (long long)cases[i].u);
    }
}

static void test_format_date(void) {
    static const struct { int32_t d; const char *s; } cases[] = {
        {0, "1970-01-01"},       {-1, "1969-12-31"},      {18262, "2020-01-01"},
        {18321, "2020-02-29"},   {11016, "2000-02-29"},   {-165, "1969-07-20"},
        {-25567, "1900-01-01"},  {-141427, "1582-10-15"}, {-141438, "1582-10-04"},
        {-719162, "0001-01-01"}, {2932896, "9999-12-31"}, {20088, "2024-12-31"},
    };
    char buf[64];
    for (int i = 0; i < NELEMS(cases); i++) {
        CASE_BEGIN();
        spk_value v = spk_value_date(cases[i].d);
        CHECK_STR(fmt_value(&v, buf, sizeof buf), cases[i].s);
        CASE_END("date %d", (int)cases[i].d);
    }
}

static void test_format_timestamp(void) {
    static const struct { int64_t us; const char *s; } cases[] = {
        {0, "1970-01-01 00:00:00"},
        {1577882096000000LL, "2020-01-01 12:34:56"},
        {1577882096123000LL, "2020-01-01 12:34:56.123"},
        {1577882096123456LL, "2020-01-01 12:34:56.123456"},
        {1577882096100000LL, "2020-01-01 12:34:56.1"},
        {1577882096120000LL, "2020-01-01 12:34:56.12"},
        {1577882096000001LL, "2020-01-01 12:34:56.000001"},
        {1577882096000010LL, "2020-01-01 12:34:56.00001"},
        {1577836800000000LL, "2020-01-01 00:00:00"},
        {-1LL, "1969-12-31 23:59:59.999999"},
        {-500000LL, "1969-12-31 23:59:59.5"},
        {-1000000LL, "1969-12-31 23:59:59"},
        {-2208988799000000LL, "1900-01-01 00:00:01"},
        {951868799500000LL, "2000-02-29 23:59:59.5"},
        {-62135596800000000LL, "0001-01-01 00:00:00"},
        {253402300799999999LL, "9999-12-31 23:59:59.999999"},
    };
    char buf[64];
    for (int i = 0; i < NELEMS(cases); i++) {
        CASE_BEGIN();
        spk_value v = spk_value_timestamp(cases[i].us);
        CHECK_STR(fmt_value(&v, buf, sizeof buf), cases[i].s);
        CASE_END("timestamp %lld", (long long)cases[i].us);
    }
}

static void test_format_string(void) {
    char buf[64];
    spk_value v = spk_value_str("hello");
    CHECK_STR(fmt_value(&v, buf, sizeof buf), "hello");
    v = spk_value_str("");
    CHECK_STR(fmt_value(&v, buf, sizeof buf), "");
    /* copied raw: no quoting, no escaping, no trimming */
    v = spk_value_str("  a \"b\", NULL\t");
    CHECK_STR(fmt_value(&v, buf, sizeof buf), "  a \"b\", NULL\t");
    v = spk_value_str("NULL"); /* the string "NULL" is not a null */
    CHECK_STR(fmt_value(&v, buf, sizeof buf), "NULL");
    CHECK(!v.is_null);
    v = spk_value_str("h\xC3\xA9llo \xE2\x82\xAC");
    CHECK_STR(fmt_value(&v, buf, sizeof buf), "h\xC3\xA9llo \xE2\x82\xAC");
    /* only len bytes are used */
    v = spk_value_strn("abcdef", 3);
    CHECK_STR(fmt_value(&v, buf, sizeof buf), "abc");
    /* a string longer than SPK_VALUE_TEXT_MAX */
    char big[200];
    for (int i = 0; i < 199; i++) big[i] = (char)('a' + i % 26);
    big[199] = '\0';
    v = spk_value_str(big);
    char out[256];
    CHECK_EQ_INT(spk_value_format(&v, out, sizeof out), 199);
    CHECK_STR(out, big);
}

static void test_format_snprintf(void) {
    char buf[32];
    spk_value d = spk_value_date(18262); /* "2020-01-01", 10 chars */
    memset(buf, '#', sizeof buf);
    CHECK_EQ_INT(spk_value_format(&d, buf, 0), 10);
    CHECK(buf[0] == '#');
    CHECK_EQ_INT(spk_value_format(&d, NULL, 0), 10);
    memset(buf, '#', sizeof buf);
    CHECK_EQ_INT(spk_value_format(&d, buf, 1), 10);
    CHECK_STR(buf, "");
    CHECK(buf[1] == '#');
    memset(buf, '#', sizeof buf);
    CHECK_EQ_INT(spk_value_format(&d, buf, 5), 10);
    CHECK_STR(buf, "2020");
    CHECK(buf[5] == '#');
    memset(buf, '#', sizeof buf);
    CHECK_EQ_INT(spk_value_format(&d, buf, 10), 10);
    CHECK_STR(buf, "2020-01-0");
    memset(buf, '#', sizeof buf);
    CHECK_EQ_INT(spk_value_format(&d, buf, 11), 10);
    CHECK_STR(buf, "2020-01-01");

    struct { spk_value v; const char *full; } cases[6];
    cases[0].v = spk_value_f64(12345678.0);            cases[0].full = "1.2345678E7";
    cases[1].v = spk_value_decimal(-5, 10, 2);         cases[1].full = "-0.05";
    cases[2].v = spk_value_timestamp(1577882096123000LL); cases[2].full = "2020-01-01 12:34:56.123";
    cases[3].v = spk_value_str("a longer string value"); cases[3].full = "a longer string value";
    cases[4].v = spk_value_null();                     cases[4].full = "NULL";
    cases[5].v = spk_value_i64(INT64_MIN);             cases[5].full = "-9223372036854775808";
    for (int i = 0; i < NELEMS(cases); i++) {
        size_t full = strlen(cases[i].full);
        for (size_t cap = 0; cap <= full + 1; cap++) {
            CASE_BEGIN();
            memset(buf, '#', sizeof buf);
            CHECK_EQ_INT(spk_value_format(&cases[i].v, buf, cap), full);
            if (cap > 0) {
                CHECK_EQ_INT(strlen(buf), cap - 1 < full ? cap - 1 : full);
                CHECK(strncmp(buf, cases[i].full, cap - 1) == 0);
            }
            CHECK(buf[cap] == '#');
            CASE_END("\"%s\" cap %zu", cases[i].full, cap);
        }
    }
}

/* SPK_VALUE_TEXT_MAX holds the longest text of every non-string type. */
static void test_format_text_max(void) {
    spk_value vals[] = {
        spk_value_i64(INT64_MIN),
        spk_value_i32(INT32_MIN),
        spk_value_f64(-1.7976931348623157e308),
        spk_value_f64(-2.2250738585072014e-308),
        spk_value_f64(-4.9e-324),
        spk_value_f64(-1.2345678901234567e-100),
        spk_value_f64(-INFINITY),
        spk_value_decimal(-999999999999999999LL, 18, 18),
        spk_value_decimal(-999999999999999999LL, 18, 0),
        spk_value_decimal(-999999999999999999LL, 18, 9),
        spk_value_date(-719162),
        spk_value_date(2932896),
        spk_value_timestamp(-62135596799999999LL),
        spk_value_timestamp(253402300799999999LL),
        spk_value_date(INT32_MIN),
        spk_value_date(INT32_MAX),
        spk_value_bool(false),
        spk_value_null(),
    };
    for (int i = 0; i < NELEMS(vals); i++) {
        char buf[SPK_VALUE_TEXT_MAX];
        size_t n = spk_value_format(&vals[i], buf, sizeof buf);
        CHECK(n < SPK_VALUE_TEXT_MAX);
        CHECK_EQ_INT(strlen(buf), n);
    }
}

/* The whole int32/int64 range of dates and timestamps formats (as java.time
 * prints them, which is what Spark shows: Instant.EPOCH.plus(Long.MIN_VALUE,
 * MICROS) = -290308-12-21T19:59:05.224192Z). Run last: an overflow here is
 * undefined behaviour, which the sanitizers turn into an abort. */
static void test_format_extreme_values(void) {
    struct { spk_value v; const char *s; } cases[4];
    cases[0].v = spk_value_date(INT32_MIN);      cases[0].s = "-5877641-06-23";
    cases[1].v = spk_value_date(INT32_MAX);      cases[1].s = "+5881580-07-11";
    cases[2].v = spk_value_timestamp(INT64_MAX); cases[2].s = "+294247-01-10 04:00:54.775807";
    cases[3].v = spk_value_timestamp(INT64_MIN); cases[3].s = "-290308-12-21 19:59:05.224192";
    for (int i = 0; i < NELEMS(cases); i++) {
        CASE_BEGIN();
        char buf[SPK_VALUE_TEXT_MAX];
        CHECK_STR(fmt_value(&cases[i].v, buf, sizeof buf), cases[i].s);
        CASE_END("extreme #%d", i);
        if (i == 2) {
            /* Before the last case: a date far outside the timestamp range.
             * Spark: cast(date as timestamp) for such a date overflows
             * (Math.multiplyExact); here it must be an error or NULL, never a
             * wrapped value. date -5877641-06-23 is before every timestamp,
             * and DATE also sorts before TIMESTAMP by type id. */
            spk_value d = spk_value_date(INT32_MIN), ts = spk_value_timestamp(INT64_MIN), o;
            CHECK(spk_value_compare(&d, &ts, true) < 0);
            CHECK(spk_value_compare(&ts, &d, true) > 0);
            char tb[SPK_VALUE_TEXT_MAX];
            spk_status st = spk_value_cast(&d, T(SPK_TYPE_TIMESTAMP), &o, tb);
            CHECK(st != SPK_OK || o.is_null);
        }
    }
}

/* Format then parse gives the value back, for every non-string type. */
static void test_format_parse_roundtrip(void) {
    char buf[64];
    int bad = 0;
    for (int i = 0; i < 5000; i++) {
        uint64_t r = rng_next();
        spk_value vs[5];
        vs[0] = spk_value_i32((int32_t)(uint32_t)r);
        vs[1] = spk_value_i64((int64_t)r);
        vs[2] = spk_value_decimal((int64_t)(r % 1999999999999999999ull) - 999999999999999999LL, 18,
                                  (int)((r >> 7) % 19));
        vs[3] = spk_value_date((int32_t)(r % (2932896 + 719162 + 1)) - 719162);
        vs[4] = spk_value_timestamp((int64_t)(r % 315537897600000000ull) - 62135596800000000LL);
        for (int k = 0; k < 5; k++) {
            spk_value back;
            fmt_value(&vs[k], buf, sizeof buf);
            spk_status s = parse_s(vs[k].type, buf, &back);
            int ok = s == SPK_OK && spk_value_equal(&back, &vs[k]) &&
                     spk_type_equal(back.type, vs[k].type);
            if (!ok && bad++ < 8) fprintf(stderr, "  no round trip for kind %d: \"%s\" (%s)\n", k,
                                          buf, spk_status_name(s));
        }
    }
    CHECK_EQ_INT(bad, 0);
    spk_value b = spk_value_bool(true), back;
    CHECK_OK(parse_s(b.type, fmt_value(&b, buf, sizeof buf), &back));
    CHECK(back.as.b == true);
    b = spk_value_bool(false);
    CHECK_OK(parse_s(b.type, fmt_value(&b, buf, sizeof buf), &back));
    CHECK(back.as.b == false);
}

/* ============================================================ casts */

static spk_value cast_ok(spk_value in, spk_type to, char *textbuf) {
    spk_value out;
    memset(&out, 0x5A, sizeof out);
    CHECK_OK(spk_value_cast(&in, to, &out, textbuf));
    CHECK(spk_type_equal(out.type, to));
    return out;
}

static void test_cast_string_to_int(void) {
    /* Spark non-ANSI cast(s as int): trimmed, fraction truncated, anything
     * else (including overflow) NULL. */
    static const struct { const char *s; bool null; int32_t v; } cases[] = {
        {"42", false, 42},
        {" 42 ", false, 42},          /* cast(' 42 ' as int) = 42 */
        {"-17", false, -17},
        {"+5", false, 5},
        {"1.9", false, 1},            /* cast('1.9' as int) = 1 */
        {"-1.9", false, -1},          /* cast('-1.9' as int) = -1 */
        {"0.999", false, 0},
        {"2147483647", false, INT32_MAX},
        {"-2147483648", false, INT32_MIN},
        {"2147483648", true, 0},      /* cast('2147483648' as int) = NULL */
        {"-2147483649", true, 0},
        {"abc", true, 0},             /* cast('abc' as int) = NULL */
        {"", true, 0},
        {"   ", true, 0},
        {"12abc", true, 0},
        {"1e3", true, 0},             /* cast('1e3' as int) = NULL */
        {"1.2.3", true, 0},
    };
    char tb[SPK_VALUE_TEXT_MAX];
    for (int i = 0; i < NELEMS(cases); i++) {
        CASE_BEGIN();
        spk_value out = cast_ok(spk_value_str(cases[i].s), T(SPK_TYPE_INT32), tb);
        CHECK_EQ_INT(out.is_null, cases[i].null);
        if (!cases[i].null && !out.is_null) CHECK_EQ_INT(out.as.i32, cases[i].v);
        CASE_END("cast('%s' as int)", cases[i].s);
    }
    static const struct { const char *s; bool null; int64_t v; } lcases[] = {
        {"9223372036854775807", false, INT64_MAX},
        {"-9223372036854775808", false, INT64_MIN},
        {" -7 ", false, -7},
        {"3000000000", false, 3000000000LL},
        {"1.9", false, 1},            /* cast('1.9' as bigint) = 1 */
        {"9223372036854775808", true, 0},
        {"x", true, 0},
    };
    for (int i = 0; i < NELEMS(lcases); i++) {
        CASE_BEGIN();
        spk_value out = cast_ok(spk_value_str(lcases[i].s), T(SPK_TYPE_INT64), tb);
        CHECK_EQ_INT(out.is_null, lcases[i].null);
        if (!lcases[i].null && !out.is_null) CHECK_EQ_INT(out.as.i64, lcases[i].v);
        CASE_END("cast('%s' as bigint)", lcases[i].s);
    }
}

static void test_cast_string_to_boolean(void) {
    /* Spark StringUtils.isTrueString / isFalseString, case-insensitive, trimmed */
    static const struct { const char *s; int v; } cases[] = { /* v: 1 true, 0 false, -1 NULL */
        {"t", 1},     {"true", 1},  {"y", 1},     {"yes", 1},   {"1", 1},
        {"T", 1},     {"TRUE", 1},  {"True", 1},  {"Y", 1},     {"YES", 1},  {"yEs", 1},
        {" yes ", 1}, /* cast(' yes ' as boolean) = true */
        {"f", 0},     {"false", 0}, {"n", 0},     {"no", 0},    {"0", 0},
        {"F", 0},     {"FALSE", 0}, {"False", 0}, {"N", 0},     {"NO", 0},   {"No", 0},
        {"2", -1},    {"-1", -1},   {"maybe", -1}, {"", -1},    {"tru", -1}, {"yess", -1},
        {"on", -1},   {"off", -1},  {"10", -1},   {"0.0", -1},  {"nope", -1},
    };
    char tb[SPK_VALUE_TEXT_MAX];
    for (int i = 0; i < NELEMS(cases); i++) {
        CASE_BEGIN();
        spk_value out = cast_ok(spk_value_str(cases[i].s), T(SPK_TYPE_BOOLEAN), tb);
        CHECK_EQ_INT(out.is_null, cases[i].v < 0);
        if (cases[i].v >= 0 && !out.is_null) CHECK_EQ_INT(out.as.b, cases[i].v);
        CASE_END("cast('%s' as boolean)", cases[i].s);
    }
}

static void test_cast_string_to_other(void) {
    char tb[SPK_VALUE_TEXT_MAX];
    spk_value o;
    o = cast_ok(spk_value_str("1.5"), T(SPK_TYPE_DOUBLE), tb);
    CHECK(!o.is_null && o.as.f64 == 1.5);
    o = cast_ok(spk_value_str(" 2.5 "), T(SPK_TYPE_DOUBLE), tb);
    CHECK(!o.is_null && o.as.f64 == 2.5);
    o = cast_ok(spk_value_str("-1e-3"), T(SPK_TYPE_DOUBLE), tb);
    CHECK(!o.is_null && o.as.f64 == -1e-3);
    o = cast_ok(spk_value_str("inf"), T(SPK_TYPE_DOUBLE), tb); /* cast('inf' as double) = Infinity */
    CHECK(!o.is_null && isinf(o.as.f64) && o.as.f64 > 0);
    o = cast_ok(spk_value_str("NaN"), T(SPK_TYPE_DOUBLE), tb);
    CHECK(!o.is_null && isnan(o.as.f64));
    o = cast_ok(spk_value_str("abc"), T(SPK_TYPE_DOUBLE), tb); /* cast('abc' as double) = NULL */
    CHECK(o.is_null);
    o = cast_ok(spk_value_str(""), T(SPK_TYPE_DOUBLE), tb);
    CHECK(o.is_null);

    o = cast_ok(spk_value_str("2020-01-01"), T(SPK_TYPE_DATE), tb);
    CHECK(!o.is_null && o.as.i32 == 18262);
    o = cast_ok(spk_value_str("1969-12-31"), T(SPK_TYPE_DATE), tb);
    CHECK(!o.is_null && o.as.i32 == -1);
    o = cast_ok(spk_value_str("2020-02-30"), T(SPK_TYPE_DATE), tb); /* = NULL */
    CHECK(o.is_null);
    o = cast_ok(spk_value_str("garbage"), T(SPK_TYPE_DATE), tb);
    CHECK(o.is_null);

    o = cast_ok(spk_value_str("2020-01-01 12:34:56.123"), T(SPK_TYPE_TIMESTAMP), tb);
    CHECK(!o.is_null && o.as.i64 == 1577882096123000LL);
    o = cast_ok(spk_value_str("2020-01-01T12:34:56Z"), T(SPK_TYPE_TIMESTAMP), tb);
    CHECK(!o.is_null && o.as.i64 == 1577882096000000LL);
    o = cast_ok(spk_value_str("x"), T(SPK_TYPE_TIMESTAMP), tb);
    CHECK(o.is_null);
    /* Spark's cast also takes the shorter and longer forms:
     * cast('2020-01-01' as timestamp) = 2020-01-01 00:00:00,
     * cast('2020-01-01 12:34:56' as date) = 2020-01-01,
     * cast('2020' as date) = 2020-01-01, cast('2020-02' as date) = 2020-02-01 */
    o = cast_ok(spk_value_str("2020-01-01"), T(SPK_TYPE_TIMESTAMP), tb);
    CHECK(!o.is_null && o.as.i64 == 1577836800000000LL);
    o = cast_ok(spk_value_str("2020-01-01 12:34:56"), T(SPK_TYPE_DATE), tb);
    CHECK(!o.is_null && o.as.i32 == 18262);
    o = cast_ok(spk_value_str("2020-01-01T12:34:56Z"), T(SPK_TYPE_DATE), tb);
    CHECK(!o.is_null && o.as.i32 == 18262);
    o = cast_ok(spk_value_str("2020"), T(SPK_TYPE_DATE), tb);
    CHECK(!o.is_null && o.as.i32 == 18262);
    o = cast_ok(spk_value_str("2020-02"), T(SPK_TYPE_DATE), tb);
    CHECK(!o.is_null && o.as.i32 == 18293);
    /* cast('1.5e2' as decimal(10,2)) = 150.00 */
    o = cast_ok(spk_value_str("1.5e2"), DEC(10, 2), tb);
    CHECK(!o.is_null && o.as.i64 == 15000);

    /* cast('1.235' as decimal(5,2)) = 1.24 (HALF_UP); too many digits = NULL */
    o = cast_ok(spk_value_str("1.235"), DEC(5, 2), tb);
    CHECK(!o.is_null && o.as.i64 == 124);
    o = cast_ok(spk_value_str("-1.235"), DEC(5, 2), tb);
    CHECK(!o.is_null && o.as.i64 == -124);
    o = cast_ok(spk_value_str(" 999.99 "), DEC(5, 2), tb);
    CHECK(!o.is_null && o.as.i64 == 99999);
    o = cast_ok(spk_value_str("1234.5"), DEC(5, 2), tb);
    CHECK(o.is_null);
    o = cast_ok(spk_value_str("999.995"), DEC(5, 2), tb);
    CHECK(o.is_null);
    o = cast_ok(spk_value_str("abc"), DEC(5, 2), tb);
    CHECK(o.is_null);

    /* string to string keeps the bytes */
    const char *s = "  keep me  ";
    o = cast_ok(spk_value_str(s), T(SPK_TYPE_STRING), tb);
    CHECK(!o.is_null);
    CHECK_EQ_INT(o.as.str.len, strlen(s));
    CHECK(o.as.str.len == strlen(s) && memcmp(o.as.str.ptr, s, strlen(s)) == 0);
}

static void test_cast_integer_narrow_widen(void) {
    char tb[SPK_VALUE_TEXT_MAX];
    /* cast(3000000000L as int) = -1294967296: narrowing wraps (Java (int) of a long) */
    static const struct { int64_t in; int32_t out; } narrow[] = {
        {3000000000LL, -1294967296},
        {4294967296LL, 0},
        {4294967338LL, 42},
        {2147483648LL, INT32_MIN},
        {-2147483649LL, INT32_MAX},
        {-1, -1},
        {INT64_MAX, -1},
        {INT64_MIN, 0},
        {123, 123},
    };
    for (int i = 0; i < NELEMS(narrow); i++) {
        CASE_BEGIN();
        spk_value o = cast_ok(spk_value_i64(narrow[i].in), T(SPK_TYPE_INT32), tb);
        CHECK(!o.is_null);
        CHECK_EQ_INT(o.as.i32, narrow[i].out);
        CASE_END("cast(%lldL as int)", (long long)narrow[i].in);
    }
    spk_value o = cast_ok(spk_value_i32(-5), T(SPK_TYPE_INT64), tb);
    CHECK(!o.is_null && o.as.i64 == -5);
    o = cast_ok(spk_value_i32(INT32_MIN), T(SPK_TYPE_INT64), tb);
    CHECK(!o.is_null && o.as.i64 == INT32_MIN);
    o = cast_ok(spk_value_i32(-3), T(SPK_TYPE_DOUBLE), tb);
    CHECK(!o.is_null && o.as.f64 == -3.0);
    o = cast_ok(spk_value_i64(9007199254740993LL), T(SPK_TYPE_DOUBLE), tb);
    CHECK(!o.is_null && o.as.f64 == 9007199254740992.0);
    o = cast_ok(spk_value_i32(7), T(SPK_TYPE_INT32), tb);
    CHECK(!o.is_null && o.as.i32 == 7);

    /* booleans and numbers: cast(true as int) = 1, cast(0 as boolean) = false,
     * cast(-1 as boolean) = true, cast(0.5D as boolean) = true */
    o = cast_ok(spk_value_bool(true), T(SPK_TYPE_INT32), tb);
    CHECK(!o.is_null && o.as.i32 == 1);
    o = cast_ok(spk_value_bool(false), T(SPK_TYPE_INT64), tb);
    CHECK(!o.is_null && o.as.i64 == 0);
    o = cast_ok(spk_value_bool(true), T(SPK_TYPE_DOUBLE), tb);
    CHECK(!o.is_null && o.as.f64 == 1.0);
    o = cast_ok(spk_value_i32(0), T(SPK_TYPE_BOOLEAN), tb);
    CHECK(!o.is_null && o.as.b == false);
    o = cast_ok(spk_value_i32(-1), T(SPK_TYPE_BOOLEAN), tb);
    CHECK(!o.is_null && o.as.b == true);
    o = cast_ok(spk_value_i64(1LL << 40), T(SPK_TYPE_BOOLEAN), tb);
    CHECK(!o.is_null && o.as.b == true);
    o = cast_ok(spk_value_f64(0.5), T(SPK_TYPE_BOOLEAN), tb);
    CHECK(!o.is_null && o.as.b == true);
    o = cast_ok(spk_value_f64(-0.0), T(SPK_TYPE_BOOLEAN), tb);
    CHECK(!o.is_null && o.as.b == false);
}

static void test_cast_double_to_integer(void) {
    /* Java (int)/(long) of a double, as Spark non-ANSI: truncate, saturate, NaN -> 0 */
    static const struct { double in; int32_t i32; int64_t i64; } cases[] = {
        {1.9, 1, 1},
        {-1.9, -1, -1},
        {0.5, 0, 0},
        {-0.5, 0, 0},
        {-0.0, 0, 0},
        {123.99, 123, 123},
        {2147483647.5, INT32_MAX, 2147483647LL},
        {2147483648.0, INT32_MAX, 2147483648LL},
        {-2147483648.9, INT32_MIN, -2147483648LL},
        {1e10, INT32_MAX, 10000000000LL},
        {-1e10, INT32_MIN, -10000000000LL},
        {1e19, INT32_MAX, INT64_MAX},
        {-1e19, INT32_MIN, INT64_MIN},
        {9223372036854775808.0, INT32_MAX, INT64_MAX},
        {1e300, INT32_MAX, INT64_MAX},
        {INFINITY, INT32_MAX, INT64_MAX},
        {-INFINITY, INT32_MIN, INT64_MIN},
        {NAN, 0, 0},
    };
    char tb[SPK_VALUE_TEXT_MAX];
    for (int i = 0; i < NELEMS(cases); i++) {
        CASE_BEGIN();
        spk_value o = cast_ok(spk_value_f64(cases[i].in), T(SPK_TYPE_INT32), tb);
        CHECK(!o.is_null);
        CHECK_EQ_INT(o.as.i32, cases[i].i32);
        o = cast_ok(spk_value_f64(cases[i].in), T(SPK_TYPE_INT64), tb);
        CHECK(!o.is_null);
        CHECK_EQ_INT(o.as.i64, cases[i].i64);
        CASE_END("cast(%.17gD as int/bigint)", cases[i].in);
    }
}

static void test_cast_to_decimal(void) {
    char tb[SPK_VALUE_TEXT_MAX];
    /* cast(123 as decimal(5,2)) = 123.00; cast(1000 as decimal(5,2)) = NULL */
    static const struct { int64_t in; int p, s; bool null; int64_t u; } ints[] = {
        {123, 5, 2, false, 12300},
        {-999, 5, 2, false, -99900},
        {999, 5, 2, false, 99900},
        {1000, 5, 2, true, 0},
        {-1000, 5, 2, true, 0},
        {0, 1, 1, false, 0},
        {1, 1, 1, true, 0},
        {999999999999999999LL, 18, 0, false, 999999999999999999LL},
        {1000000000000000000LL, 18, 0, true, 0},
        {INT64_MAX, 18, 0, true, 0},
        {INT64_MIN, 18, 0, true, 0},
        {INT64_MAX, 18, 2, true, 0}, /* scaling must not overflow silently */
        {92233720368547759LL, 18, 2, true, 0},
    };
    for (int i = 0; i < NELEMS(ints); i++) {
        CASE_BEGIN();
        spk_value o = cast_ok(spk_value_i64(ints[i].in), DEC(ints[i].p, ints[i].s), tb);
        CHECK_EQ_INT(o.is_null, ints[i].null);
        if (!ints[i].null && !o.is_null) CHECK_EQ_INT(o.as.i64, ints[i].u);
        CASE_END("cast(%lldL as decimal(%d,%d))", (long long)ints[i].in, ints[i].p, ints[i].s);
    }
    spk_value o = cast_ok(spk_value_i32(42), DEC(10, 2), tb);
    CHECK(!o.is_null && o.as.i64 == 4200);
    o = cast_ok(spk_value_i32(INT32_MIN), DEC(10, 0), tb);
    CHECK(!o.is_null && o.as.i64 == INT32_MIN);
    o = cast_ok(spk_value_i32(INT32_MIN), DEC(9, 0), tb);
    CHECK(o.is_null);

    /* doubles: cast(1.125D as decimal(5,2)) = 1.13 (HALF_UP), NaN/inf -> NULL */
    static const struct { double in; int p, s; bool null; int64_t u; } dbls[] = {
        {1.125, 5, 2, false, 113},
        {-1.125, 5, 2, false, -113},
        {12.5, 10, 2, false, 1250},
        {0.0, 5, 2, false, 0},
        {999.99, 5, 2, false, 99999},
        {2.5, 3, 0, false, 3},
        {-2.5, 3, 0, false, -3},
        {1e10, 5, 2, true, 0},
        {1000.0, 5, 2, true, 0},
        {NAN, 5, 2, true, 0},
        {INFINITY, 5, 2, true, 0},
        {-INFINITY, 5, 2, true, 0},
        {1e300, 18, 0, true, 0},
    };
    for (int i = 0; i < NELEMS(dbls); i++) {
        CASE_BEGIN();
        o = cast_ok(spk_value_f64(dbls[i].in), DEC(dbls[i].p, dbls[i].s), tb);
        CHECK_EQ_INT(o.is_null, dbls[i].null);
        if (!dbls[i].null && !o.is_null) CHECK_EQ_INT(o.as.i64, dbls[i].u);
        CASE_END("cast(%.17gD as decimal(%d,%d))", dbls[i].in, dbls[i].p, dbls[i].s);
    }
}

static void test_cast_decimal_rescale(void) {
    /* cast(12.345BD as decimal(10,2)) = 12.35 (Decimal.changePrecision, ROUND_HALF_UP) */
    static const struct { int64_t u; int p1, s1, p2, s2; bool null; int64_t out; } cases[] = {
        {12345, 10, 3, 10, 2, false, 1235},
        {-12345, 10, 3, 10, 2, false, -1235},
        {12344, 10, 3, 10, 2, false, 1234},
        {12345, 10, 3, 10, 0, false, 12},
        {12500, 10, 3, 10, 0, false, 13},
        {-12500, 10, 3, 10, 0, false, -13},
        {-5, 10, 3, 10, 2, false, -1},    /* -0.005 -> -0.01 */
        {4, 10, 3, 10, 2, false, 0},
        {1250, 10, 2, 10, 4, false, 125000},
        {-1250, 10, 2, 18, 10, false, -125000000000LL},
        {1250, 10, 2, 4, 0, false, 13},   /* 12.50 -> 13 */
        {12345678, 10, 2, 6, 2, true, 0}, /* 123456.78 does not fit decimal(6,2) */
        {999995, 10, 3, 5, 2, true, 0},   /* 999.995 -> 1000.00 needs precision 6 */
        {999994, 10, 3, 5, 2, false, 99999},
        {999999999999999999LL, 18, 0, 18, 2, true, 0},
        {1, 18, 18, 18, 0, false, 0},
        {500000000000000000LL, 18, 18, 1, 0, false, 1},   /* 0.5 -> 1 */
        {-500000000000000000LL, 18, 18, 1, 0, false, -1},
        {42, 5, 0, 5, 0, false, 42},
    };
    char tb[SPK_VALUE_TEXT_MAX];
    for (int i = 0; i < NELEMS(cases); i++) {
        CASE_BEGIN();
        spk_value o = cast_ok(spk_value_decimal(cases[i].u, cases[i].p1, cases[i].s1),
                              DEC(cases[i].p2, cases[i].s2), tb);
        CHECK_EQ_INT(o.is_null, cases[i].null);
        if (!cases[i].null && !o.is_null) CHECK_EQ_INT(o.as.i64, cases[i].out);
        CASE_END("decimal(%d,%d) %lld -> decimal(%d,%d)", cases[i].p1, cases[i].s1,
                 (long long)cases[i].u, cases[i].p2, cases[i].s2);
    }
}

static void test_cast_decimal_to_other(void) {
    char tb[SPK_VALUE_TEXT_MAX];
    /* cast(12.75BD as int) = 12, cast(-12.75BD as int) = -12 (truncation) */
    spk_value o = cast_ok(spk_value_decimal(1275, 10, 2), T(SPK_TYPE_INT32), tb);
    CHECK(!o.is_null && o.as.i32 == 12);
    o = cast_ok(spk_value_decimal(-1275, 10, 2), T(SPK_TYPE_INT32), tb);
    CHECK(!o.is_null && o.as.i32 == -12);
    o = cast_ok(spk_value_decimal(-99, 10, 2), T(SPK_TYPE_INT64), tb);
    CHECK(!o.is_null && o.as.i64 == 0);
    o = cast_ok(spk_value_decimal(999999999999999999LL, 18, 0), T(SPK_TYPE_INT64), tb);
    CHECK(!o.is_null && o.as.i64 == 999999999999999999LL);
    /* non-ANSI narrowing of a decimal wraps like a long: Decimal.toInt = toLong.toInt,
     * cast(3000000000.5BD as int) = -1294967296 */
    o = cast_ok(spk_value_decimal(30000000005LL, 12, 1), T(SPK_TYPE_INT32), tb);
    CHECK(!o.is_null && o.as.i32 == -1294967296);
    o = cast_ok(spk_value_decimal(1250, 10, 2), T(SPK_TYPE_DOUBLE), tb);
    CHECK(!o.is_null && o.as.f64 == 12.5);
    o = cast_ok(spk_value_decimal(-5, 10, 2), T(SPK_TYPE_DOUBLE), tb);
    CHECK(!o.is_null && o.as.f64 == -0.05);
    o = cast_ok(spk_value_decimal(0, 10, 2), T(SPK_TYPE_BOOLEAN), tb);
    CHECK(!o.is_null && o.as.b == false);
    o = cast_ok(spk_value_decimal(1, 10, 2), T(SPK_TYPE_BOOLEAN), tb);
    CHECK(!o.is_null && o.as.b == true);
}

static void test_cast_date_timestamp(void) {
    char tb[SPK_VALUE_TEXT_MAX];
    /* cast(date'2020-01-01' as timestamp) = 2020-01-01 00:00:00 (UTC session) */
    static const struct { int32_t d; int64_t us; } d2t[] = {
        {0, 0}, {18262, 1577836800000000LL}, {-1, -86400000000LL},
        {-719162, -62135596800000000LL}, {2932896, 253402214400000000LL},
    };
    for (int i = 0; i < NELEMS(d2t); i++) {
        CASE_BEGIN();
        spk_value o = cast_ok(spk_value_date(d2t[i].d), T(SPK_TYPE_TIMESTAMP), tb);
        CHECK(!o.is_null);
        CHECK_EQ_INT(o.as.i64, d2t[i].us);
        CASE_END("date %d -> timestamp", (int)d2t[i].d);
    }
    /* timestamp -> date takes the calendar day: floor, not truncation toward 0 */
    static const struct { int64_t us; int32_t d; } t2d[] = {
        {0, 0},
        {1577882096123456LL, 18262},
        {1577836799999999LL, 18261},
        {-1, -1},
        {-86400000000LL, -1},
        {-86400000001LL, -2},
        {-62135596800000000LL, -719162},
        {253402300799999999LL, 2932896},
    };
    for (int i = 0; i < NELEMS(t2d); i++) {
        CASE_BEGIN();
        spk_value o = cast_ok(spk_value_timestamp(t2d[i].us), T(SPK_TYPE_DATE), tb);
        CHECK(!o.is_null);
        CHECK_EQ_INT(o.as.i32, t2d[i].d);
        CASE_END("timestamp %lld -> date", (long long)t2d[i].us);
    }
    /* Spark non-ANSI: cast(ts as bigint) = floor of the seconds; cast(ts as double)
     * = seconds with fraction; cast(1 as timestamp) = 1970-01-01 00:00:01;
     * cast(1.5D as timestamp) = 1970-01-01 00:00:01.5 */
    spk_value o = cast_ok(spk_value_timestamp(1577882096123456LL), T(SPK_TYPE_INT64), tb);
    CHECK(!o.is_null && o.as.i64 == 1577882096LL);
    o = cast_ok(spk_value_timestamp(-1), T(SPK_TYPE_INT64), tb);
    CHECK(!o.is_null && o.as.i64 == -1);
    o = cast_ok(spk_value_timestamp(1500000), T(SPK_TYPE_DOUBLE), tb);
    CHECK(!o.is_null && o.as.f64 == 1.5);
    o = cast_ok(spk_value_timestamp(-500000), T(SPK_TYPE_DOUBLE), tb);
    CHECK(!o.is_null && o.as.f64 == -0.5);
    o = cast_ok(spk_value_i32(1), T(SPK_TYPE_TIMESTAMP), tb);
    CHECK(!o.is_null && o.as.i64 == 1000000);
    o = cast_ok(spk_value_i64(1577882096LL), T(SPK_TYPE_TIMESTAMP), tb);
    CHECK(!o.is_null && o.as.i64 == 1577882096000000LL);
    o = cast_ok(spk_value_f64(1.5), T(SPK_TYPE_TIMESTAMP), tb);
    CHECK(!o.is_null && o.as.i64 == 1500000);
    o = cast_ok(spk_value_f64(-1.5), T(SPK_TYPE_TIMESTAMP), tb);
    CHECK(!o.is_null && o.as.i64 == -1500000);
}

static void test_cast_to_string(void) {
    struct { spk_value v; const char *s; } cases[14];
    int n = 0;
    cases[n].v = spk_value_i32(42);                       cases[n++].s = "42";
    cases[n].v = spk_value_i32(INT32_MIN);                cases[n++].s = "-2147483648";
    cases[n].v = spk_value_i64(INT64_MIN);                cases[n++].s = "-9223372036854775808";
    cases[n].v = spk_value_f64(1e7);                      cases[n++].s = "1.0E7"; /* cast(1e7 as string) */
    cases[n].v = spk_value_f64(1.0);                      cases[n++].s = "1.0";
    cases[n].v = spk_value_f64(-0.0);                     cases[n++].s = "-0.0";
    cases[n].v = spk_value_f64(NAN);                      cases[n++].s = "NaN";
    cases[n].v = spk_value_decimal(-5, 10, 2);            cases[n++].s = "-0.05";
    cases[n].v = spk_value_decimal(1250, 10, 2);          cases[n++].s = "12.50";
    cases[n].v = spk_value_bool(true);                    cases[n++].s = "true";
    cases[n].v = spk_value_bool(false);                   cases[n++].s = "false";
    cases[n].v = spk_value_date(-1);                      cases[n++].s = "1969-12-31";
    cases[n].v = spk_value_timestamp(1577882096123000LL); cases[n++].s = "2020-01-01 12:34:56.123";
    cases[n].v = spk_value_timestamp(-1);                 cases[n++].s = "1969-12-31 23:59:59.999999";
    for (int i = 0; i < n; i++) {
        CASE_BEGIN();
        char tb[SPK_VALUE_TEXT_MAX];
        memset(tb, '#', sizeof tb);
        spk_value o = cast_ok(cases[i].v, T(SPK_TYPE_STRING), tb);
        CHECK(!o.is_null);
        size_t len = strlen(cases[i].s);
        CHECK_EQ_INT(o.as.str.len, len);
        if (o.as.str.len == len) CHECK(memcmp(o.as.str.ptr, cases[i].s, len) == 0);
        /* the text lives in textbuf */
        CHECK(uptr(o.as.str.ptr) >= uptr(tb) &&
              uptr(o.as.str.ptr) + o.as.str.len <= uptr(tb) + sizeof tb);
        CASE_END("cast(... as string) = '%s'", cases[i].s);
    }
    /* two casts into two buffers: each result stays valid */
    char tb1[SPK_VALUE_TEXT_MAX], tb2[SPK_VALUE_TEXT_MAX];
    spk_value a = cast_ok(spk_value_i32(111), T(SPK_TYPE_STRING), tb1);
    spk_value b = cast_ok(spk_value_i32(2222), T(SPK_TYPE_STRING), tb2);
    CHECK(a.as.str.len == 3 && memcmp(a.as.str.ptr, "111", 3) == 0);
    CHECK(b.as.str.len == 4 && memcmp(b.as.str.ptr, "2222", 4) == 0);
}

/* Casting a value to its own type gives it back unchanged. */
static void test_cast_identity(void) {
    const char *str = "same";
    spk_value vals[] = {
        spk_value_bool(true),          spk_value_i32(INT32_MIN),
        spk_value_i64(INT64_MAX),      spk_value_f64(-0.0),
        spk_value_f64(NAN),            spk_value_f64(1e-310),
        spk_value_decimal(-5, 10, 2),  spk_value_decimal(999999999999999999LL, 18, 18),
        spk_value_str(str),            spk_value_date(-719162),
        spk_value_timestamp(-1),
    };
    char tb[SPK_VALUE_TEXT_MAX];
    for (int i = 0; i < NELEMS(vals); i++) {
        CASE_BEGIN();
        spk_value o = cast_ok(vals[i], vals[i].type, tb);
        CHECK(!o.is_null);
        CHECK(spk_value_equal(&o, &vals[i]));
        if (vals[i].type.id == SPK_TYPE_DOUBLE) CHECK(same_double(o.as.f64, vals[i].as.f64));
        if (vals[i].type.id == SPK_TYPE_STRING)
            CHECK(o.as.str.len == 4 && memcmp(o.as.str.ptr, str, 4) == 0);
        CASE_END("identity cast #%d", i);
    }
}

static void test_cast_null(void) {
    char tb[SPK_VALUE_TEXT_MAX];
    spk_type targets[] = {T(SPK_TYPE_BOOLEAN), T(SPK_TYPE_INT32), T(SPK_TYPE_INT64),
                          T(SPK_TYPE_DOUBLE),  DEC(10, 2),        T(SPK_TYPE_STRING),
                          T(SPK_TYPE_DATE),    T(SPK_TYPE_TIMESTAMP)};
    for (int i = 0; i < NELEMS(targets); i++) {
        CASE_BEGIN();
        /* untyped NULL casts to anything: cast(NULL as int) */
        spk_value o = cast_ok(spk_value_null(), targets[i], tb);
        CHECK(o.is_null);
        /* a typed NULL of a castable type stays NULL */
        o = cast_ok(spk_value_null_of(T(SPK_TYPE_STRING)), targets[i], tb);
        CHECK(o.is_null);
        o = cast_ok(spk_value_null_of(targets[i]), targets[i], tb);
        CHECK(o.is_null);
        CASE_END("NULL -> target #%d", i);
    }
}

static void test_cast_type_errors(void) {
    /* Casts Spark's Cast.canCast rejects:
     *   cast(date'2020-01-01' as int)  -> DATATYPE_MISMATCH (header: SPK_ERR_TYPE)
     *   cast(true as date)             -> DATATYPE_MISMATCH
     *   cast(1 as date), cast(1.5D as date) -> DATATYPE_MISMATCH */
    char tb[SPK_VALUE_TEXT_MAX];
    struct { spk_value in; spk_type to; const char *what; } cases[4];
    cases[0].in = spk_value_date(18262); cases[0].to = T(SPK_TYPE_INT32);   cases[0].what = "date->int";
    cases[1].in = spk_value_bool(true);  cases[1].to = T(SPK_TYPE_DATE);    cases[1].what = "boolean->date";
    cases[2].in = spk_value_i32(1);      cases[2].to = T(SPK_TYPE_DATE);    cases[2].what = "int->date";
    cases[3].in = spk_value_f64(1.5);    cases[3].to = T(SPK_TYPE_DATE);    cases[3].what = "double->date";
    for (int i = 0; i < NELEMS(cases); i++) {
        CASE_BEGIN();
        spk_value o;
        CHECK_STATUS(spk_value_cast(&cases[i].in, cases[i].to, &o, tb), SPK_ERR_TYPE);
        CASE_END("%s", cases[i].what);
    }
}

/* ============================================================ ordering */

typedef struct { spk_value v; int rank; } ranked;

/* Every pair compares as their ranks do (equal ranks compare equal), both ways. */
static void check_ranked(const ranked *r, int n, bool nulls_first, const char *what) {
    char ba[64], bb[64];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            int got = sign_of(spk_value_compare(&r[i].v, &r[j].v, nulls_first));
            int want = sign_of(r[i].rank - r[j].rank);
            if (got != want) {
                spk_value_format(&r[i].v, ba, sizeof ba);
                spk_value_format(&r[j].v, bb, sizeof bb);
                fprintf(stderr, "%s: %s: compare(%s [type %d], %s [type %d]) sign %d, expected %d\n",
                        spk_test_current, what, ba, r[i].v.type.id, bb, r[j].v.type.id, got, want);
                spk_test_current_failed = 1;
            }
        }
}

static void test_compare_nulls(void) {
    spk_value n1 = spk_value_null_of(T(SPK_TYPE_INT32)), n2 = spk_value_null();
    spk_value lo = spk_value_i32(INT32_MIN), hi = spk_value_i32(INT32_MAX);
    CHECK(spk_value_compare(&n1, &lo, true) < 0);
    CHECK(spk_value_compare(&lo, &n1, true) > 0);
    CHECK(spk_value_compare(&n1, &hi, false) > 0);
    CHECK(spk_value_compare(&hi, &n1, false) < 0);
    CHECK(spk_value_compare(&n1, &lo, false) > 0);
    CHECK_EQ_INT(spk_value_compare(&n1, &n1, true), 0);
    CHECK_EQ_INT(spk_value_compare(&n1, &n1, false), 0);
    CHECK_EQ_INT(spk_value_compare(&n1, &n2, true), 0);
    CHECK_EQ_INT(spk_value_compare(&n2, &n1, false), 0);
    /* NULL vs -Infinity / NaN / "" / the earliest date */
    spk_value others[] = {spk_value_f64(-INFINITY), spk_value_f64(NAN), spk_value_str(""),
                          spk_value_date(-719162), spk_value_bool(false),
                          spk_value_decimal(-999999999, 9, 0)};
    for (int i = 0; i < NELEMS(others); i++) {
        CASE_BEGIN();
        spk_value tn = spk_value_null_of(others[i].type);
        CHECK(spk_value_compare(&tn, &others[i], true) < 0);
        CHECK(spk_value_compare(&tn, &others[i], false) > 0);
        CHECK(spk_value_compare(&others[i], &tn, true) > 0);
        CHECK(spk_value_compare(&others[i], &tn, false) < 0);
        CHECK(spk_value_compare(&n2, &others[i], true) < 0);
        CHECK(spk_value_compare(&n2, &others[i], false) > 0);
        CASE_END("NULL vs value #%d", i);
    }
}

static void test_compare_doubles(void) {
    ranked r[] = {
        {spk_value_f64(-INFINITY), 0},
        {spk_value_f64(-1.7976931348623157e308), 1},
        {spk_value_f64(-1.0), 2},
        {spk_value_f64(-4.9e-324), 3},
        {spk_value_f64(-0.0), 4},
        {spk_value_f64(0.0), 4},
        {spk_value_f64(4.9e-324), 5},
        {spk_value_f64(0.1), 6},
        {spk_value_f64(1.0), 7},
        {spk_value_f64(1.7976931348623157e308), 8},
        {spk_value_f64(INFINITY), 9},
        {spk_value_f64(NAN), 10},
        {spk_value_f64(make_nan_payload(0x7FF0000000000001ull)), 10},
        {spk_value_f64(make_nan_payload(0xFFF8000000000000ull)), 10}, /* "negative" NaN */
    };
    check_ranked(r, NELEMS(r), true, "doubles");
    check_ranked(r, NELEMS(r), false, "doubles");
}

static void test_compare_strings(void) {
    ranked r[] = {
        {spk_value_str(""), 0},
        {spk_value_str("A"), 1},
        {spk_value_str("Z"), 2},
        {spk_value_str("a"), 3},
        {spk_value_strn("a\0b", 3), 4}, /* embedded NUL: below "ab" */
        {spk_value_str("ab"), 5},
        {spk_value_strn("abcdef", 2), 5}, /* same bytes as "ab" via len */
        {spk_value_str("abc"), 6},       /* prefix "ab" < "abc" */
        {spk_value_str("abd"), 7},
        {spk_value_str("b"), 8},
        {spk_value_str("z"), 9},
        {spk_value_str("\x7F"), 10},
        {spk_value_str("\xC3\xA9"), 11},         /* U+00E9 é */
        {spk_value_str("\xC3\xA9t\xC3\xA9"), 12},
        {spk_value_str("\xE2\x82\xAC"), 13},     /* U+20AC € */
        {spk_value_str("\xEF\xBF\xBF"), 14},     /* U+FFFF */
        {spk_value_str("\xF0\x90\x80\x80"), 15}, /* U+10000 */
        {spk_value_str("\xF0\x9F\x98\x80"), 16}, /* U+1F600 */
    };
    check_ranked(r, NELEMS(r), true, "strings");
    /* same bytes in different buffers */
    char b1[8] = "hello", b2[8] = "hello";
    spk_value x = spk_value_str(b1), y = spk_value_str(b2);
    CHECK_EQ_INT(spk_value_compare(&x, &y, true), 0);
    CHECK(spk_value_equal(&x, &y));
}

static void test_compare_mixed_numeric(void) {
    /* Spark compares numbers of different types by value after widening:
     * 1 = 1L = 1.0D = 1.00BD, 2 < 2.5D, 3L = 3.00BD ... */
    ranked r[] = {
        {spk_value_f64(-INFINITY), 0},
        {spk_value_i64(-3000000000LL), 1},
        {spk_value_i32(-5), 2},
        {spk_value_decimal(-450, 10, 2), 3},   /* -4.5 */
        {spk_value_f64(-4.5), 3},
        {spk_value_i64(-4), 4},
        {spk_value_f64(-3.5), 5},
        {spk_value_i32(0), 6},
        {spk_value_i64(0), 6},
        {spk_value_f64(-0.0), 6},
        {spk_value_decimal(0, 5, 5), 6},
        {spk_value_decimal(1, 5, 5), 7},       /* 0.00001 */
        {spk_value_i32(1), 8},
        {spk_value_i64(1), 8},
        {spk_value_f64(1.0), 8},
        {spk_value_decimal(100, 10, 2), 8},
        {spk_value_decimal(1, 5, 0), 8},
        {spk_value_decimal(1000, 10, 3), 8},
        {spk_value_decimal(1001, 10, 3), 9},   /* 1.001 */
        {spk_value_i32(2), 10},
        {spk_value_decimal(225, 4, 2), 11},    /* 2.25 */
        {spk_value_f64(2.5), 12},
        {spk_value_decimal(25, 3, 1), 12},
        {spk_value_i64(3), 13},
        {spk_value_decimal(300, 10, 2), 13},
        {spk_value_i32(INT32_MAX), 14},
        {spk_value_i64(INT32_MAX), 14},
        {spk_value_i64(1LL + INT32_MAX), 15},
        {spk_value_decimal(999999999999999999LL, 18, 0), 16},
        {spk_value_i64(1000000000000000000LL), 17},
        {spk_value_f64(1e300), 18},
        {spk_value_f64(INFINITY), 19},
        {spk_value_f64(NAN), 20},
    };
    check_ranked(r, NELEMS(r), true, "mixed numeric");
}

static void test_compare_other_types(void) {
    ranked b[] = {{spk_value_bool(false), 0}, {spk_value_bool(true), 1}};
    check_ranked(b, NELEMS(b), true, "booleans");
    ranked d[] = {
        {spk_value_date(-719162), 0}, {spk_value_date(-1), 1}, {spk_value_date(0), 2},
        {spk_value_date(18262), 3},   {spk_value_date(2932896), 4},
    };
    check_ranked(d, NELEMS(d), true, "dates");
    ranked t[] = {
        {spk_value_timestamp(INT64_MIN), 0}, {spk_value_timestamp(-62135596800000000LL), 1},
        {spk_value_timestamp(-1), 2},        {spk_value_timestamp(0), 3},
        {spk_value_timestamp(1), 4},         {spk_value_timestamp(INT64_MAX), 5},
    };
    check_ranked(t, NELEMS(t), true, "timestamps");
    ranked l[] = {
        {spk_value_i64(INT64_MIN), 0}, {spk_value_i64(INT64_MIN + 1), 1}, {spk_value_i64(-1), 2},
        {spk_value_i64(0), 3},         {spk_value_i64(INT64_MAX - 1), 4}, {spk_value_i64(INT64_MAX), 5},
    };
    check_ranked(l, NELEMS(l), true, "longs");
    ranked dec[] = { /* same type, extreme unscaled values: no overflow in the comparison */
        {spk_value_decimal(-999999999999999999LL, 18, 2), 0},
        {spk_value_decimal(-1, 18, 2), 1},
        {spk_value_decimal(0, 18, 2), 2},
        {spk_value_decimal(999999999999999999LL, 18, 2), 3},
    };
    check_ranked(dec, NELEMS(dec), true, "decimals");
    /* incomparable types order by type id: BOOLEAN < INT32 < STRING < DATE */
    spk_value bt = spk_value_bool(true), i = spk_value_i32(999), s = spk_value_str("1"),
              dt = spk_value_date(0);
    CHECK(spk_value_compare(&bt, &s, true) < 0);
    CHECK(spk_value_compare(&s, &bt, true) > 0);
    CHECK(spk_value_compare(&i, &s, true) < 0);
    CHECK(spk_value_compare(&s, &i, true) > 0);
    CHECK(spk_value_compare(&s, &dt, true) < 0);
    CHECK(spk_value_compare(&dt, &s, true) > 0);
}

/* ============================================================ equality and hashing */

static void test_equal(void) {
    char b1[8] = "abc", b2[8] = "abc";
    struct { spk_value a, b; bool eq; } cases[24];
    int n = 0;
#define EQ_CASE(x, y, e) (cases[n].a = (x), cases[n].b = (y), cases[n].eq = (e), n++)
    EQ_CASE(spk_value_null(), spk_value_null(), true);
    EQ_CASE(spk_value_null_of(T(SPK_TYPE_INT32)), spk_value_null_of(T(SPK_TYPE_INT32)), true);
    EQ_CASE(spk_value_null_of(T(SPK_TYPE_INT32)), spk_value_i32(0), false);
    EQ_CASE(spk_value_i32(0), spk_value_null_of(T(SPK_TYPE_INT32)), false);
    EQ_CASE(spk_value_f64(NAN), spk_value_f64(NAN), true);
    EQ_CASE(spk_value_f64(NAN), spk_value_f64(make_nan_payload(0xFFF8000000000001ull)), true);
    EQ_CASE(spk_value_f64(0.0), spk_value_f64(-0.0), true);
    EQ_CASE(spk_value_f64(1.0), spk_value_f64(1.0), true);
    EQ_CASE(spk_value_f64(1.0), spk_value_f64(1.0000000000000002), false);
    EQ_CASE(spk_value_f64(NAN), spk_value_f64(INFINITY), false);
    EQ_CASE(spk_value_str(b1), spk_value_str(b2), true);
    EQ_CASE(spk_value_str("abc"), spk_value_str("abd"), false);
    EQ_CASE(spk_value_str("ab"), spk_value_str("abc"), false);
    EQ_CASE(spk_value_str(""), spk_value_null_of(T(SPK_TYPE_STRING)), false);
    EQ_CASE(spk_value_decimal(1250, 10, 2), spk_value_decimal(1250, 10, 2), true);
    EQ_CASE(spk_value_decimal(1250, 10, 2), spk_value_decimal(1251, 10, 2), false);
    EQ_CASE(spk_value_date(18262), spk_value_date(18262), true);
    EQ_CASE(spk_value_timestamp(-1), spk_value_timestamp(0), false);
    EQ_CASE(spk_value_bool(true), spk_value_bool(false), false);
    EQ_CASE(spk_value_i64(INT64_MIN), spk_value_i64(INT64_MIN), true);
#undef EQ_CASE
    for (int i = 0; i < n; i++) {
        CASE_BEGIN();
        CHECK_EQ_INT(spk_value_equal(&cases[i].a, &cases[i].b), cases[i].eq);
        CHECK_EQ_INT(spk_value_equal(&cases[i].b, &cases[i].a), cases[i].eq);
        CASE_END("equality case #%d", i);
    }
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void test_hash(void) {
    char s1[8] = "hello", s2[16] = "xxhelloyy";
    struct { spk_value a, b; } same[9];
    same[0].a = spk_value_f64(0.0);   same[0].b = spk_value_f64(-0.0);
    same[1].a = spk_value_f64(NAN);   same[1].b = spk_value_f64(make_nan_payload(0x7FF0000000000001ull));
    same[2].a = spk_value_f64(NAN);   same[2].b = spk_value_f64(make_nan_payload(0xFFF8000000000000ull));
    same[3].a = spk_value_str(s1);    same[3].b = spk_value_strn(s2 + 2, 5);
    same[4].a = spk_value_null_of(T(SPK_TYPE_INT64)); same[4].b = spk_value_null_of(T(SPK_TYPE_INT64));
    same[5].a = spk_value_decimal(1250, 10, 2); same[5].b = spk_value_decimal(1250, 10, 2);
    same[6].a = spk_value_str("");    same[6].b = spk_value_strn(s2, 0);
    same[7].a = spk_value_i32(-7);    same[7].b = spk_value_i32(-7);
    same[8].a = spk_value_null();     same[8].b = spk_value_null();
    for (int i = 0; i < NELEMS(same); i++) {
        CASE_BEGIN();
        CHECK(spk_value_equal(&same[i].a, &same[i].b));
        CHECK(spk_value_hash(&same[i].a, 0) == spk_value_hash(&same[i].b, 0));
        CHECK(spk_value_hash(&same[i].a, 12345) == spk_value_hash(&same[i].b, 12345));
        CASE_END("hash pair #%d", i);
    }
    /* the seed matters */
    spk_value some[] = {spk_value_i32(1), spk_value_i64(1), spk_value_f64(1.0), spk_value_str("x"),
                        spk_value_date(1), spk_value_decimal(1, 5, 0)};
    for (int i = 0; i < NELEMS(some); i++)
        CHECK(spk_value_hash(&some[i], 1) != spk_value_hash(&some[i], 2));

    /* distinct values give distinct, well-spread hashes */
    enum { N = 10000 };
    uint64_t *h = malloc(N * sizeof *h);
    CHECK(h != NULL);
    if (!h) return;
    for (int kind = 0; kind < 5; kind++) {
        char sbuf[32];
        for (int i = 0; i < N; i++) {
            spk_value v;
            switch (kind) {
            case 0: v = spk_value_i32(i); break;
            case 1: v = spk_value_i64((int64_t)i << 32); break;
            case 2: v = spk_value_f64((double)i * 0.5); break;
            case 3:
                snprintf(sbuf, sizeof sbuf, "key%d", i);
                v = spk_value_str(sbuf);
                break;
            default: v = spk_value_timestamp((int64_t)i * 1000000); break;
            }
            h[i] = spk_value_hash(&v, 42);
        }
        int buckets[1024] = {0};
        int used = 0;
        for (int i = 0; i < N; i++)
            if (buckets[h[i] & 1023]++ == 0) used++;
        qsort(h, N, sizeof *h, cmp_u64);
        int dups = 0;
        for (int i = 1; i < N; i++) dups += h[i] == h[i - 1];
        CASE_BEGIN();
        CHECK_EQ_INT(dups, 0);
        CHECK(used > 1000); /* 10000 random keys fill ~1024 of 1024 buckets */
        CASE_END("hash spread kind %d: %d dups, %d/1024 low-bit buckets", kind, dups, used);
    }
    free(h);
}

/* ============================================================ calendar */

static void test_date_anchors(void) {
    static const struct { int y, m, d; int32_t days; } cases[] = {
        {1970, 1, 1, 0},        {1969, 12, 31, -1},     {2020, 1, 1, 18262},
        {2020, 2, 29, 18321},   {2000, 2, 29, 11016},   {2000, 3, 1, 11017},
        {1900, 1, 1, -25567},   {1900, 3, 1, -25508},   {1969, 7, 20, -165},
        {1582, 10, 15, -141427}, {1582, 10, 4, -141438}, {1, 1, 1, -719162},
        {9999, 12, 31, 2932896}, {2024, 12, 31, 20088},
    };
    for (int i = 0; i < NELEMS(cases); i++) {
        CASE_BEGIN();
        int32_t days = 12345678;
        CHECK(spk_date_from_ymd(cases[i].y, cases[i].m, cases[i].d, &days));
        CHECK_EQ_INT(days, cases[i].days);
        int y = 0, m = 0, d = 0;
        spk_date_to_ymd(cases[i].days, &y, &m, &d);
        CHECK_EQ_INT(y, cases[i].y);
        CHECK_EQ_INT(m, cases[i].m);
        CHECK_EQ_INT(d, cases[i].d);
        CASE_END("%04d-%02d-%02d", cases[i].y, cases[i].m, cases[i].d);
    }
}

static void test_date_invalid(void) {
    static const struct { int y, m, d; } cases[] = {
        {2019, 2, 29}, {1900, 2, 29}, {2100, 2, 29}, {2020, 2, 30}, {2020, 4, 31},
        {2020, 6, 31}, {2020, 9, 31}, {2020, 11, 31}, {2020, 13, 1}, {2020, 0, 1},
        {2020, 1, 0},  {2020, 1, 32}, {2020, -1, 1}, {2020, 1, -1}, {2020, 12, 32},
    };
    for (int i = 0; i < NELEMS(cases); i++) {
        CASE_BEGIN();
        int32_t days = 0;
        CHECK(!spk_date_from_ymd(cases[i].y, cases[i].m, cases[i].d, &days));
        CASE_END("%d-%d-%d", cases[i].y, cases[i].m, cases[i].d);
    }
    int32_t days = 0;
    CHECK(spk_date_from_ymd(2020, 2, 29, &days));
    CHECK(spk_date_from_ymd(2000, 2, 29, &days));
    CHECK(spk_date_from_ymd(2400, 2, 29, &days));
    CHECK(spk_date_from_ymd(2020, 12, 31, &days));
}

/* Every day from 0001-01-01 to 9999-12-31, walked with an independent
 * month-length table, in both directions. */
static void test_date_every_day(void) {
    long long expect = -719162; /* 0001-01-01, from Python */
    long bad_from = 0, bad_to = 0;
    for (int y = 1; y <= 9999; y++)
        for (int m = 1; m <= 12; m++)
            for (int d = 1, nd = ref_month_days(y, m); d <= nd; d++, expect++) {
                int32_t days = 0;
                bool ok = spk_date_from_ymd(y, m, d, &days);
                if (!ok || days != expect) {
                    if (bad_from++ < 5)
                        fprintf(stderr, "  from_ymd(%d,%d,%d): ok=%d days=%ld, expected %lld\n", y, m,
                                d, ok, (long)days, expect);
                }
                int yy = 0, mm = 0, dd = 0;
                spk_date_to_ymd((int32_t)expect, &yy, &mm, &dd);
                if (yy != y || mm != m || dd != d) {
                    if (bad_to++ < 5)
                        fprintf(stderr, "  to_ymd(%lld) = %d-%d-%d, expected %d-%d-%d\n", expect, yy,
                                mm, dd, y, m, d);
                }
            }
    CHECK_EQ_INT(expect, 2932897); /* the walk itself agrees with Python */
    CHECK_EQ_INT(ref_days_from_civil(9999, 12, 31), 2932896);
    CHECK_EQ_INT(bad_from, 0);
    CHECK_EQ_INT(bad_to, 0);

    /* a prime step through the same range, checked against days_from_civil,
     * formatted and parsed as a value too */
    long bad = 0;
    char buf[32], want[32];
    for (long long days = -719162; days <= 2932896; days += 997) {
        int y = 0, m = 0, d = 0;
        spk_date_to_ymd((int32_t)days, &y, &m, &d);
        if (ref_days_from_civil(y, m, d) != days && bad++ < 5)
            fprintf(stderr, "  to_ymd(%lld) = %d-%d-%d disagrees with reference\n", days, y, m, d);
        spk_value v = spk_value_date((int32_t)days);
        spk_value_format(&v, buf, sizeof buf);
        snprintf(want, sizeof want, "%04d-%02d-%02d", y, m, d);
        if (strcmp(buf, want) != 0 && bad++ < 5)
            fprintf(stderr, "  format(date %lld) = %s, expected %s\n", days, buf, want);
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_timestamp_from_parts(void) {
    static const struct { int y, mo, d, h, mi, s, us; bool ok; int64_t out; } cases[] = {
        {1970, 1, 1, 0, 0, 0, 0, true, 0},
        {2020, 1, 1, 12, 34, 56, 0, true, 1577882096000000LL},
        {2020, 1, 1, 12, 34, 56, 123456, true, 1577882096123456LL},
        {1969, 12, 31, 23, 59, 59, 999999, true, -1},
        {1969, 12, 31, 23, 59, 59, 500000, true, -500000},
        {1900, 1, 1, 0, 0, 1, 0, true, -2208988799000000LL},
        {2000, 2, 29, 23, 59, 59, 500000, true, 951868799500000LL},
        {1, 1, 1, 0, 0, 0, 0, true, -62135596800000000LL},
        {9999, 12, 31, 23, 59, 59, 999999, true, 253402300799999999LL},
        {2020, 1, 1, 24, 0, 0, 0, false, 0},
        {2020, 1, 1, -1, 0, 0, 0, false, 0},
        {2020, 1, 1, 0, 60, 0, 0, false, 0},
        {2020, 1, 1, 0, 0, 60, 0, false, 0},
        {2020, 1, 1, 0, 0, -1, 0, false, 0},
        {2020, 1, 1, 0, 0, 0, 1000000, false, 0},
        {2020, 1, 1, 0, 0, 0, -1, false, 0},
        {2019, 2, 29, 0, 0, 0, 0, false, 0},
        {2020, 13, 1, 0, 0, 0, 0, false, 0},
    };
    for (int i = 0; i < NELEMS(cases); i++) {
        CASE_BEGIN();
        int64_t out = 777;
        bool ok = spk_timestamp_from_parts(cases[i].y, cases[i].mo, cases[i].d, cases[i].h,
                                           cases[i].mi, cases[i].s, cases[i].us, &out);
        CHECK_EQ_INT(ok, cases[i].ok);
        if (cases[i].ok && ok) CHECK_EQ_INT(out, cases[i].out);
        CASE_END("%04d-%02d-%02d %02d:%02d:%02d.%06d", cases[i].y, cases[i].mo, cases[i].d,
                 cases[i].h, cases[i].mi, cases[i].s, cases[i].us);
    }
}

int main(void) {
    RUN(test_type_constructors);
    RUN(test_type_valid);
    RUN(test_type_parse_valid);
    RUN(test_type_parse_invalid);
    RUN(test_type_format_styles);
    RUN(test_type_format_snprintf);
    RUN(test_type_format_parse_roundtrip);
    RUN(test_value_constructors);
    RUN(test_parse_int32);
    RUN(test_parse_int64);
    RUN(test_parse_uses_len);
    RUN(test_parse_decimal);
    RUN(test_parse_double);
    RUN(test_parse_boolean);
    RUN(test_parse_date);
    RUN(test_parse_timestamp);
    RUN(test_parse_string);
    RUN(test_parse_error_message);
    RUN(test_format_scalars);
    RUN(test_format_double);
    RUN(test_format_double_random);
    RUN(test_format_decimal);
    RUN(test_format_date);
    RUN(test_format_timestamp);
    RUN(test_format_string);
    RUN(test_format_snprintf);
    RUN(test_format_text_max);
    RUN(test_format_parse_roundtrip);
    RUN(test_cast_string_to_int);
    RUN(test_cast_string_to_boolean);
    RUN(test_cast_string_to_other);
    RUN(test_cast_integer_narrow_widen);
    RUN(test_cast_double_to_integer);
    RUN(test_cast_to_decimal);
    RUN(test_cast_decimal_rescale);
    RUN(test_cast_decimal_to_other);
    RUN(test_cast_date_timestamp);
    RUN(test_cast_to_string);
    RUN(test_cast_identity);
    RUN(test_cast_null);
    RUN(test_cast_type_errors);
    RUN(test_compare_nulls);
    RUN(test_compare_doubles);
    RUN(test_compare_strings);
    RUN(test_compare_mixed_numeric);
    RUN(test_compare_other_types);
    RUN(test_equal);
    RUN(test_hash);
    RUN(test_date_anchors);
    RUN(test_date_invalid);
    RUN(test_date_every_day);
    RUN(test_timestamp_from_parts);
    RUN(test_format_extreme_values); /* last: see its comment */
    return TEST_REPORT();
}
