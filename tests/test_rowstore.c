/* rowstore: tables, appends of every type, NULLs, strings, widening, errors,
 * chunk boundaries, all-or-nothing batches, CSV text, fixtures, cursors. */
#include "test.h"
#include <math.h>

/* ------------------------------------------------------------ helpers */

static spk_schema *schema_of(const char *ddl) {
    spk_schema *s = NULL;
    if (spk_schema_parse(NULL, ddl, &s) != SPK_OK) {
        fprintf(stderr, "%s: cannot parse \"%s\": %s\n", spk_test_current, ddl, spk_last_error());
        spk_test_current_failed = 1;
        return NULL;
    }
    return s;
}

/* A new table over `ddl` (the table holds the only schema reference). */
static spk_table *table_of(const char *ddl) {
    spk_schema *s = schema_of(ddl);
    if (!s) return NULL;
    spk_table *t = NULL;
    spk_status st = spk_table_new(NULL, s, &t);
    spk_schema_release(s);
    if (st != SPK_OK || !t) {
        fprintf(stderr, "%s: spk_table_new failed: %s\n", spk_test_current, spk_last_error());
        spk_test_current_failed = 1;
        return NULL;
    }
    return t;
}

/* Reads cell (row, col) or reports why not. */
static bool cell(const char *file, int line, const spk_table *t, size_t row, int col, spk_value *v) {
    memset(v, 0, sizeof *v);
    spk_status st = spk_table_get(t, row, col, v);
    if (st != SPK_OK) {
        fprintf(stderr, "%s:%d: %s: spk_table_get(%zu, %d) returned %s (%s)\n", file, line,
                spk_test_current, row, col, spk_status_name(st), spk_last_error());
        spk_test_current_failed = 1;
        return false;
    }
    return true;
}

static void fail_cell(const char *file, int line, size_t row, int col, const char *what) {
    fprintf(stderr, "%s:%d: %s: cell (%zu, %d): %s\n", file, line, spk_test_current, row, col, what);
    spk_test_current_failed = 1;
}

static void check_null_at(const char *file, int line, const spk_table *t, size_t row, int col) {
    spk_value v;
    if (!cell(file, line, t, row, col, &v)) return;
    if (!v.is_null) fail_cell(file, line, row, col, "expected NULL");
}

static void check_int_at(const char *file, int line, const spk_table *t, size_t row, int col,
                         int type_id, long long want) {
    spk_value v;
    if (!cell(file, line, t, row, col, &v)) return;
    char msg[160];
    long long got = 0;
    if (v.is_null) {
        fail_cell(file, line, row, col, "unexpected NULL");
        return;
    }
    if (v.type.id != type_id) {
        snprintf(msg, sizeof msg, "type id %d, expected %d", v.type.id, type_id);
        fail_cell(file, line, row, col, msg);
        return;
    }
    switch (type_id) {
    case SPK_TYPE_BOOLEAN: got = v.as.b; break;
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE: got = v.as.i32; break;
    default: got = v.as.i64; break;
    }
    if (got != want) {
        snprintf(msg, sizeof msg, "value %lld, expected %lld", got, want);
        fail_cell(file, line, row, col, msg);
    }
}

static void check_dec_at(const char *file, int line, const spk_table *t, size_t row, int col, int p,
                         int s, long long unscaled) {
    spk_value v;
    if (!cell(file, line, t, row, col, &v)) return;
    char msg[160];
    if (v.is_null || v.type.id != SPK_TYPE_DECIMAL || v.type.precision != p || v.type.scale != s ||
        v.as.i64 != unscaled) {
        snprintf(msg, sizeof msg, "got decimal(%d,%d) %lld null=%d id=%d, expected decimal(%d,%d) %lld",
                 v.type.precision, v.type.scale, (long long)v.as.i64, v.is_null, v.type.id, p, s,
                 unscaled);
        fail_cell(file, line, row, col, msg);
    }
}

static void check_f64_at(const char *file, int line, const spk_table *t, size_t row, int col,
                         double want) {
    spk_value v;
    if (!cell(file, line, t, row, col, &v)) return;
    char msg[160];
    bool same = v.type.id == SPK_TYPE_DOUBLE && !v.is_null &&
                (isnan(want) ? isnan(v.as.f64)
                             : (v.as.f64 == want && signbit(v.as.f64) == signbit(want)));
    if (!same) {
        snprintf(msg, sizeof msg, "got %.17g (id %d, null %d), expected %.17g", v.as.f64, v.type.id,
                 v.is_null, want);
        fail_cell(file, line, row, col, msg);
    }
}

static void check_strn_at(const char *file, int line, const spk_table *t, size_t row, int col,
                          const char *want, size_t n) {
    spk_value v;
    if (!cell(file, line, t, row, col, &v)) return;
    char msg[200];
    if (v.is_null || v.type.id != SPK_TYPE_STRING) {
        snprintf(msg, sizeof msg, "expected string \"%.40s\", got id %d null %d", want, v.type.id,
                 v.is_null);
        fail_cell(file, line, row, col, msg);
        return;
    }
    if (v.as.str.len != n || (n && (!v.as.str.ptr || memcmp(v.as.str.ptr, want, n) != 0))) {
        snprintf(msg, sizeof msg, "got \"%.*s\" (%zu bytes), expected \"%.40s\" (%zu bytes)",
                 (int)(v.as.str.len < 40 ? v.as.str.len : 40), v.as.str.ptr ? v.as.str.ptr : "",
                 v.as.str.len, want, n);
        fail_cell(file, line, row, col, msg);
    }
}

#define CHECK_NULL_AT(t, r, c) check_null_at(__FILE__, __LINE__, (t), (r), (c))
#define CHECK_INT_AT(t, r, c, id, want) check_int_at(__FILE__, __LINE__, (t), (r), (c), (id), (want))
#define CHECK_I32_AT(t, r, c, want) CHECK_INT_AT(t, r, c, SPK_TYPE_INT32, want)
#define CHECK_I64_AT(t, r, c, want) CHECK_INT_AT(t, r, c, SPK_TYPE_INT64, want)
#define CHECK_DEC_AT(t, r, c, p, s, u) check_dec_at(__FILE__, __LINE__, (t), (r), (c), (p), (s), (u))
#define CHECK_F64_AT(t, r, c, want) check_f64_at(__FILE__, __LINE__, (t), (r), (c), (want))
#define CHECK_STRN_AT(t, r, c, s, n) check_strn_at(__FILE__, __LINE__, (t), (r), (c), (s), (n))
#define CHECK_STR_AT(t, r, c, s) CHECK_STRN_AT(t, r, c, s, strlen(s))

static const char *ALL_DDL = "flag BOOLEAN, qty INT, big BIGINT, score DOUBLE, amount DECIMAL(10,2), "
                             "label STRING, day DATE, event_ts TIMESTAMP";

/* ------------------------------------------------------------ basics */

static void test_new_free(void) {
    spk_table_free(NULL);
    spk_failalloc f;
    spk_failalloc_init(&f, NULL, 0);
    spk_schema *s = NULL;
    CHECK_OK(spk_schema_parse(&f.iface, "a INT, b STRING", &s));
    if (!s) return;
    long schema_blocks = f.live_blocks;
    spk_table *t = NULL;
    CHECK_OK(spk_table_new(NULL, s, &t));
    if (!t) {
        spk_schema_release(s);
        return;
    }
    CHECK(spk_table_schema(t) == s);
    CHECK_EQ_INT(spk_table_nrows(t), 0);
    /* The table holds its own reference: our release does not free the schema. */
    spk_schema_release(s);
    CHECK_EQ_INT(f.live_blocks, schema_blocks);
    CHECK_EQ_INT(spk_schema_ncols(spk_table_schema(t)), 2);
    CHECK_OK(spk_table_append(t, spk_value_i32(1), spk_value_str("x")));
    CHECK_EQ_INT(spk_table_nrows(t), 1);
    spk_table_free(t);
    CHECK_EQ_INT(f.live_blocks, 0);
    CHECK_EQ_INT(f.live_bytes, 0);

    /* The table's own allocations go through its allocator. */
    spk_failalloc g;
    spk_failalloc_init(&g, NULL, 0);
    s = schema_of("a INT, b STRING");
    if (!s) return;
    t = NULL;
    CHECK_OK(spk_table_new(&g.iface, s, &t));
    spk_schema_release(s);
    CHECK(g.live_blocks > 0);
    for (int i = 0; i < 100; i++) CHECK_OK(spk_table_append(t, spk_value_i32(i), spk_value_str("some text")));
    spk_table_free(t);
    CHECK_EQ_INT(g.live_blocks, 0);
    CHECK_EQ_INT(g.live_bytes, 0);

    /* A failed creation leaves the schema's count alone. */
    spk_failalloc h;
    spk_failalloc_init(&h, NULL, 1);
    s = schema_of("a INT");
    if (!s) return;
    t = NULL;
    CHECK_STATUS(spk_table_new(&h.iface, s, &t), SPK_ERR_NOMEM);
    CHECK(t == NULL);
    CHECK_EQ_INT(h.live_blocks, 0);
    CHECK_EQ_INT(spk_schema_ncols(s), 1);
    spk_schema_release(s);
}

static void test_every_type(void) {
    spk_table *t = table_of(ALL_DDL);
    if (!t) return;
    int32_t d1;
    CHECK(spk_date_from_ymd(2024, 2, 29, &d1));
    CHECK_EQ_INT(d1, 19782);
    CHECK_OK(spk_table_append(t, spk_value_bool(true), spk_value_i32(42), spk_value_i64(1LL << 40),
                              spk_value_f64(3.25), spk_value_decimal(12345, 10, 2),
                              spk_value_str("hello"), spk_value_date(19782),
                              spk_value_timestamp(1700000000123456LL)));
    spk_value row2[8] = {spk_value_bool(false),
                         spk_value_i32(INT32_MIN),
                         spk_value_i64(INT64_MIN),
                         spk_value_f64(-0.0),
                         spk_value_decimal(-9999999999LL, 10, 2),
                         spk_value_str("w\xc3\xb6rld"),
                         spk_value_date(-719162),
                         spk_value_timestamp(-1)};
    CHECK_OK(spk_table_append_row(t, row2, 8));
    CHECK_OK(spk_table_append(t, spk_value_bool(true), spk_value_i32(INT32_MAX), spk_value_i64(INT64_MAX),
                              spk_value_f64(INFINITY), spk_value_decimal(9999999999LL, 10, 2),
                              spk_value_strn("", 0), spk_value_date(2932896),
                              spk_value_timestamp(0)));
    CHECK_OK(spk_table_append(t, spk_value_bool(false), spk_value_i32(0), spk_value_i64(0),
                              spk_value_f64(NAN), spk_value_decimal(0, 10, 2), spk_value_str("a"),
                              spk_value_date(0), spk_value_timestamp(INT64_MIN)));
    CHECK_EQ_INT(spk_table_nrows(t), 4);

    CHECK_INT_AT(t, 0, 0, SPK_TYPE_BOOLEAN, 1);
    CHECK_I32_AT(t, 0, 1, 42);
    CHECK_I64_AT(t, 0, 2, 1LL << 40);
    CHECK_F64_AT(t, 0, 3, 3.25);
    CHECK_DEC_AT(t, 0, 4, 10, 2, 12345);
    CHECK_STR_AT(t, 0, 5, "hello");
    CHECK_INT_AT(t, 0, 6, SPK_TYPE_DATE, 19782);
    CHECK_INT_AT(t, 0, 7, SPK_TYPE_TIMESTAMP, 1700000000123456LL);

    CHECK_INT_AT(t, 1, 0, SPK_TYPE_BOOLEAN, 0);
    CHECK_I32_AT(t, 1, 1, INT32_MIN);
    CHECK_I64_AT(t, 1, 2, INT64_MIN);
    CHECK_F64_AT(t, 1, 3, -0.0);
    CHECK_DEC_AT(t, 1, 4, 10, 2, -9999999999LL);
    CHECK_STR_AT(t, 1, 5, "w\xc3\xb6rld");
    CHECK_INT_AT(t, 1, 6, SPK_TYPE_DATE, -719162);
    CHECK_INT_AT(t, 1, 7, SPK_TYPE_TIMESTAMP, -1);

    CHECK_I32_AT(t, 2, 1, INT32_MAX);
    CHECK_I64_AT(t, 2, 2, INT64_MAX);
    CHECK_F64_AT(t, 2, 3, INFINITY);
    CHECK_DEC_AT(t, 2, 4, 10, 2, 9999999999LL);
    CHECK_STRN_AT(t, 2, 5, "", 0);
    CHECK_INT_AT(t, 2, 6, SPK_TYPE_DATE, 2932896);
    CHECK_INT_AT(t, 2, 7, SPK_TYPE_TIMESTAMP, 0);

    CHECK_F64_AT(t, 3, 3, NAN);
    CHECK_DEC_AT(t, 3, 4, 10, 2, 0);
    CHECK_STR_AT(t, 3, 5, "a");
    CHECK_INT_AT(t, 3, 7, SPK_TYPE_TIMESTAMP, INT64_MIN);

    /* no cell is NULL */
    for (size_t r = 0; r < 4; r++)
        for (int c = 0; c < 8; c++) {
            spk_value v;
            CHECK_OK(spk_table_get(t, r, c, &v));
            CHECK(!v.is_null);
        }
    spk_table_free(t);
}

static void test_nulls_every_type(void) {
    spk_table *t = table_of(ALL_DDL);
    if (!t) return;
    spk_schema *s = spk_table_schema(t);
    /* untyped NULLs */
    spk_value v[8];
    for (int i = 0; i < 8; i++) v[i] = spk_value_null();
    CHECK_OK(spk_table_append_row(t, v, 8));
    /* typed NULLs of the column's own type */
    for (int i = 0; i < 8; i++) v[i] = spk_value_null_of(spk_schema_field(s, i)->type);
    CHECK_OK(spk_table_append_row(t, v, 8));
    /* one NULL per row, every other column set */
    for (int nc = 0; nc < 8; nc++) {
        spk_value r[8] = {spk_value_bool(true),     spk_value_i32(7),   spk_value_i64(8),
                          spk_value_f64(9.5),       spk_value_decimal(1000, 10, 2), spk_value_str("s"),
                          spk_value_date(10),       spk_value_timestamp(11)};
        r[nc] = spk_value_null();
        CHECK_OK(spk_table_append_row(t, r, 8));
    }
    /* NULL string through spk_value_str(NULL) */
    CHECK_OK(spk_table_append(t, spk_value_bool(true), spk_value_i32(1), spk_value_i64(2), spk_value_f64(3),
                              spk_value_decimal(4, 10, 2), spk_value_str(NULL), spk_value_date(5),
                              spk_value_timestamp(6)));
    CHECK_EQ_INT(spk_table_nrows(t), 11);
    for (int c = 0; c < 8; c++) {
        CHECK_NULL_AT(t, 0, c);
        CHECK_NULL_AT(t, 1, c);
        spk_value x;
        CHECK_OK(spk_table_get(t, 0, c, &x));
        CHECK_EQ_INT(x.type.id, spk_schema_field(s, c)->type.id); /* a NULL of the column's type */
    }
    for (int nc = 0; nc < 8; nc++) {
        size_t row = 2 + (size_t)nc;
        for (int c = 0; c < 8; c++) {
            if (c == nc) {
                CHECK_NULL_AT(t, row, c);
                continue;
            }
            switch (c) {
            case 0: CHECK_INT_AT(t, row, 0, SPK_TYPE_BOOLEAN, 1); break;
            case 1: CHECK_I32_AT(t, row, 1, 7); break;
            case 2: CHECK_I64_AT(t, row, 2, 8); break;
            case 3: CHECK_F64_AT(t, row, 3, 9.5); break;
            case 4: CHECK_DEC_AT(t, row, 4, 10, 2, 1000); break;
            case 5: CHECK_STR_AT(t, row, 5, "s"); break;
            case 6: CHECK_INT_AT(t, row, 6, SPK_TYPE_DATE, 10); break;
            default: CHECK_INT_AT(t, row, 7, SPK_TYPE_TIMESTAMP, 11); break;
            }
        }
    }
    CHECK_NULL_AT(t, 10, 5);
    CHECK_I64_AT(t, 10, 2, 2);
    spk_table_free(t);
}

static void test_strings(void) {
    spk_table *t = table_of("k INT, s STRING");
    if (!t) return;
    size_t lens[] = {0, 1, 1000, 100000, 7};
    char *buf[5];
    for (int i = 0; i < 5; i++) {
        buf[i] = (char *)malloc(lens[i] + 1);
        if (!buf[i]) return;
        for (size_t j = 0; j < lens[i]; j++) buf[i][j] = (char)('a' + (j * 7 + (size_t)i) % 26);
        buf[i][lens[i]] = '\0';
    }
    memcpy(buf[4], "ab\0cd\0e", 7); /* embedded NUL bytes */
    for (int i = 0; i < 5; i++) CHECK_OK(spk_table_append(t, spk_value_i32(i), spk_value_strn(buf[i], lens[i])));
    /* The table copied the bytes: change the sources. */
    char *orig[5];
    for (int i = 0; i < 5; i++) {
        orig[i] = (char *)malloc(lens[i] + 1);
        if (!orig[i]) return;
        memcpy(orig[i], buf[i], lens[i] + 1);
        memset(buf[i], 'Z', lens[i]);
    }
    for (int i = 0; i < 5; i++) {
        CHECK_STRN_AT(t, (size_t)i, 1, orig[i], lens[i]);
        CHECK_I32_AT(t, (size_t)i, 0, i);
    }
    /* spk_value_str stops at the first NUL; spk_value_strn does not. */
    CHECK_OK(spk_table_append(t, spk_value_i32(5), spk_value_str("ab\0cd")));
    CHECK_STRN_AT(t, 5, 1, "ab", 2);
    /* The same through the cursor. */
    spk_cursor c;
    spk_cursor_open(&c, t);
    size_t n = 0;
    while (spk_cursor_next(&c)) {
        spk_value v;
        CHECK_OK(spk_cursor_get(&c, 1, &v));
        if (n < 5) {
            CHECK_EQ_INT(v.as.str.len, lens[n]);
            CHECK(v.as.str.len == lens[n] && (lens[n] == 0 || memcmp(v.as.str.ptr, orig[n], lens[n]) == 0));
        }
        n++;
    }
    CHECK_EQ_INT(n, 6);
    for (int i = 0; i < 5; i++) {
        free(buf[i]);
        free(orig[i]);
    }
    spk_table_free(t);
}

static void test_string_views_stay_valid(void) {
    /* "strings are views into the table, valid until it is freed": a view
     * taken early still reads correctly after many more appends. */
    spk_table *t = table_of("s STRING");
    if (!t) return;
    CHECK_OK(spk_table_append(t, spk_value_str("first string value")));
    spk_value early;
    CHECK_OK(spk_table_get(t, 0, 0, &early));
    char big[300];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (int i = 0; i < 70000; i++) {
        spk_status st = spk_table_append(t, spk_value_str(big));
        if (st != SPK_OK) {
            CHECK_OK(st);
            break;
        }
    }
    /* The contract: a view is valid until the table is next appended to, so
     * the early view may dangle now; a fresh read must give the same bytes. */
    spk_value again;
    CHECK_OK(spk_table_get(t, 0, 0, &again));
    CHECK(again.as.str.len == 18 && memcmp(again.as.str.ptr, "first string value", 18) == 0);
    CHECK_EQ_INT(early.as.str.len, 18);
    spk_table_free(t);
}

/* ------------------------------------------------------------ widening and errors */

static void test_widening(void) {
    spk_table *t = table_of("l BIGINT, d DOUBLE, m DECIMAL(10,2), w DECIMAL(12,3)");
    if (!t) return;
    CHECK_OK(spk_table_append(t, spk_value_i32(7), spk_value_i32(-3), spk_value_i32(5),
                              spk_value_decimal(123, 5, 1)));
    CHECK_OK(spk_table_append(t, spk_value_i32(INT32_MIN), spk_value_i64(1LL << 40), spk_value_i64(-42),
                              spk_value_decimal(-99999999, 10, 2)));
    CHECK_OK(spk_table_append(t, spk_value_i64(9), spk_value_f64(0.5), spk_value_i32(-12345678),
                              spk_value_i32(123456789)));
    CHECK_EQ_INT(spk_table_nrows(t), 3);
    CHECK_I64_AT(t, 0, 0, 7);
    CHECK_F64_AT(t, 0, 1, -3.0);
    CHECK_DEC_AT(t, 0, 2, 10, 2, 500);
    CHECK_DEC_AT(t, 0, 3, 12, 3, 12300);
    CHECK_I64_AT(t, 1, 0, INT32_MIN);
    CHECK_F64_AT(t, 1, 1, 1099511627776.0);
    CHECK_DEC_AT(t, 1, 2, 10, 2, -4200);
    CHECK_DEC_AT(t, 1, 3, 12, 3, -999999990);
    CHECK_DEC_AT(t, 2, 2, 10, 2, -1234567800);
    CHECK_DEC_AT(t, 2, 3, 12, 3, 123456789000LL);
    spk_table_free(t);
}

static void test_decimal_widening_overflow(void) {
    /* Rescaling must not overflow: values that do not fit the column are
     * rejected, never stored wrapped. */
    spk_table *t = table_of("m DECIMAL(18,2)");
    if (!t) return;
    CHECK(spk_table_append(t, spk_value_decimal(100000000000000000LL, 18, 0)) != SPK_OK); /* 1e17 */
    CHECK(spk_table_append(t, spk_value_i64(INT64_MAX)) != SPK_OK);
    CHECK(spk_table_append(t, spk_value_i64(INT64_MIN)) != SPK_OK);
    CHECK(spk_table_append(t, spk_value_i64(10000000000000000LL)) != SPK_OK); /* 1e16 is 1e18 unscaled: 19 digits */
    CHECK_EQ_INT(spk_table_nrows(t), 0);
    CHECK_OK(spk_table_append(t, spk_value_i64(9999999999999999LL)));      /* 16 digits + 2 = 18: fits */
    CHECK_OK(spk_table_append(t, spk_value_decimal(123456789012345678LL, 18, 2)));
    CHECK_EQ_INT(spk_table_nrows(t), 2);
    CHECK_DEC_AT(t, 0, 0, 18, 2, 999999999999999900LL);
    spk_table_free(t);
}

static void test_narrowing_rejected(void) {
    spk_table *t = table_of("i INT, l BIGINT, m DECIMAL(5,1), s STRING, dt DATE, b BOOLEAN");
    if (!t) return;
    spk_value good[6] = {spk_value_i32(1), spk_value_i64(2), spk_value_decimal(3, 5, 1),
                         spk_value_str("x"), spk_value_date(4), spk_value_bool(true)};
    CHECK_OK(spk_table_append_row(t, good, 6));
    struct {
        int col;
        spk_value v;
    } bad[] = {
        {0, spk_value_i64(5)},                 /* BIGINT into INT */
        {0, spk_value_f64(1.0)},               /* DOUBLE into INT */
        {0, spk_value_str("1")},               /* strings are not parsed */
        {0, spk_value_bool(true)},
        {1, spk_value_f64(2.0)},               /* DOUBLE into BIGINT */
        {1, spk_value_decimal(1, 5, 0)},       /* DECIMAL into BIGINT */
        {2, spk_value_decimal(12345, 10, 2)},  /* DECIMAL(10,2) into DECIMAL(5,1): loses a digit */
        {2, spk_value_f64(1.5)},
        {3, spk_value_i32(1)},                 /* INT into STRING */
        {4, spk_value_str("2024-01-01")},
        {4, spk_value_i32(5)},                 /* INT into DATE */
        {5, spk_value_i32(1)},                 /* INT into BOOLEAN */
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        spk_value row[6];
        memcpy(row, good, sizeof row);
        row[bad[k].col] = bad[k].v;
        spk_status st = spk_table_append_row(t, row, 6);
        if (st != SPK_ERR_TYPE) {
            fprintf(stderr, "%s: case %zu (column %d) returned %s, expected SPK_ERR_TYPE\n",
                    spk_test_current, k, bad[k].col, spk_status_name(st));
            spk_test_current_failed = 1;
        }
        CHECK_EQ_INT(spk_table_nrows(t), 1);
    }
    /* A value that does not fit the decimal column is not stored either. */
    CHECK(spk_table_append(t, spk_value_i32(0), spk_value_i64(0), spk_value_i32(100000), spk_value_str(""),
                           spk_value_date(0), spk_value_bool(false)) != SPK_OK);
    CHECK_EQ_INT(spk_table_nrows(t), 1);
    CHECK_I32_AT(t, 0, 0, 1);
    CHECK_STR_AT(t, 0, 3, "x");
    spk_table_free(t);
}

static void test_type_mismatch_message(void) {
    spk_table *t = table_of("ident BIGINT, quantity INT, label STRING");
    if (!t) return;
    spk_clear_error();
    CHECK_STATUS(spk_table_append(t, spk_value_i64(1), spk_value_str("seven"), spk_value_str("x")),
                 SPK_ERR_TYPE);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_TYPE);
    CHECK_CONTAINS(spk_last_error(), "quantity");
    CHECK_EQ_INT(spk_table_nrows(t), 0);
    CHECK_STATUS(spk_table_append(t, spk_value_i64(1), spk_value_i32(2), spk_value_f64(1.0)), SPK_ERR_TYPE);
    CHECK_CONTAINS(spk_last_error(), "label");
    CHECK_EQ_INT(spk_table_nrows(t), 0);
    spk_table_free(t);
}

static void test_null_into_not_null(void) {
    spk_table *t = table_of("ident BIGINT NOT NULL, label STRING NOT NULL, note STRING");
    if (!t) return;
    CHECK_STATUS(spk_table_append(t, spk_value_null(), spk_value_str("a"), spk_value_str("b")), SPK_ERR_NULL);
    CHECK_CONTAINS(spk_last_error(), "ident");
    CHECK_STATUS(spk_table_append(t, spk_value_null_of(spk_type_of(SPK_TYPE_INT64)), spk_value_str("a"),
                                  spk_value_null()),
                 SPK_ERR_NULL);
    CHECK_STATUS(spk_table_append(t, spk_value_i64(1), spk_value_str(NULL), spk_value_null()), SPK_ERR_NULL);
    CHECK_CONTAINS(spk_last_error(), "label");
    CHECK_EQ_INT(spk_table_nrows(t), 0);
    CHECK_OK(spk_table_append(t, spk_value_i64(1), spk_value_str("a"), spk_value_null()));
    CHECK_EQ_INT(spk_table_nrows(t), 1);
    CHECK_NULL_AT(t, 0, 2);
    spk_table_free(t);
}

static void test_typed_null_types(void) {
    /* A typed NULL follows the typing rules of its type: it may widen like a
     * value of that type, but a NULL of an unrelated type is a mismatch (only
     * the untyped NULL fits any nullable column). */
    spk_table *t = table_of("big BIGINT, label STRING, dt DATE");
    if (!t) return;
    CHECK_OK(spk_table_append(t, spk_value_null_of(spk_type_of(SPK_TYPE_INT32)), spk_value_null_of(spk_type_of(SPK_TYPE_STRING)),
                              spk_value_null_of(spk_type_of(SPK_TYPE_DATE))));
    CHECK_EQ_INT(spk_table_nrows(t), 1);
    CHECK_NULL_AT(t, 0, 0);
    CHECK_STATUS(spk_table_append(t, spk_value_i64(1), spk_value_null_of(spk_type_of(SPK_TYPE_INT32)), spk_value_null()),
                 SPK_ERR_TYPE);
    CHECK_STATUS(spk_table_append(t, spk_value_null_of(spk_type_of(SPK_TYPE_DOUBLE)), spk_value_null(), spk_value_null()),
                 SPK_ERR_TYPE);
    CHECK_STATUS(spk_table_append(t, spk_value_null(), spk_value_null(), spk_value_null_of(spk_type_of(SPK_TYPE_STRING))),
                 SPK_ERR_TYPE);
    CHECK_EQ_INT(spk_table_nrows(t), 1);
    spk_table_free(t);
}

static void test_wrong_arity(void) {
    spk_table *t = table_of("a INT, b STRING");
    if (!t) return;
    CHECK(spk_table_append(t, spk_value_i32(1)) != SPK_OK);
    CHECK(spk_table_append(t, spk_value_i32(1), spk_value_str("x"), spk_value_i32(3)) != SPK_OK);
    spk_value v[2] = {spk_value_i32(1), spk_value_str("x")};
    CHECK(spk_table_append_row(t, v, 0) != SPK_OK);
    CHECK(spk_table_append_row(t, v, -1) != SPK_OK);
    CHECK_EQ_INT(spk_table_nrows(t), 0);
    CHECK_OK(spk_table_append_row(t, v, 2));
    CHECK_EQ_INT(spk_table_nrows(t), 1);
    spk_table_free(t);
}

static void test_get_out_of_range(void) {
    spk_table *t = table_of("a INT, b STRING");
    if (!t) return;
    spk_value v;
    CHECK(spk_table_get(t, 0, 0, &v) != SPK_OK);
    CHECK_OK(spk_table_append(t, spk_value_i32(1), spk_value_str("x")));
    CHECK_OK(spk_table_get(t, 0, 1, &v));
    CHECK(spk_table_get(t, 1, 0, &v) != SPK_OK);
    CHECK(spk_table_get(t, 0, 2, &v) != SPK_OK);
    CHECK(spk_table_get(t, 0, -1, &v) != SPK_OK);
    CHECK(spk_table_get(t, (size_t)-1, 0, &v) != SPK_OK);
    spk_cursor c;
    spk_cursor_open(&c, t);
    CHECK(spk_cursor_next(&c));
    CHECK(spk_cursor_get(&c, 2, &v) != SPK_OK);
    CHECK(spk_cursor_get(&c, -1, &v) != SPK_OK);
    CHECK(!spk_cursor_next(&c));
    CHECK(!spk_cursor_next(&c)); /* stays at the end */
    spk_table_free(t);

    t = table_of("a INT");
    if (!t) return;
    spk_cursor_open(&c, t);
    CHECK(!spk_cursor_next(&c)); /* empty table */
    spk_table_free(t);
}

/* ------------------------------------------------------------ many rows */

static void make_label(char *buf, size_t cap, size_t i, size_t *len) {
    /* lengths 0..40, content depends on i */
    size_t n = i % 41;
    int w = snprintf(buf, cap, "%zu:", i);
    size_t k = (size_t)w;
    while (k < n + (size_t)w && k + 1 < cap) {
        buf[k] = (char)('A' + (i + k) % 26);
        k++;
    }
    buf[k] = '\0';
    *len = k;
}

static void test_many_rows(void) {
    enum { N = 200000 };
    spk_table *t = table_of("id BIGINT NOT NULL, label STRING, x DOUBLE, q INT");
    if (!t) return;
    char buf[128];
    size_t len;
    for (size_t i = 0; i < N; i++) {
        make_label(buf, sizeof buf, i, &len);
        spk_value q = i % 5 == 0 ? spk_value_null() : spk_value_i32((int32_t)(i * 3));
        spk_status st = spk_table_append(t, spk_value_i64((int64_t)i * 1000003), spk_value_strn(buf, len),
                                         spk_value_f64((double)i / 4.0), q);
        if (st != SPK_OK) {
            CHECK_OK(st);
            break;
        }
    }
    CHECK_EQ_INT(spk_table_nrows(t), N);
    CHECK(spk_table_nchunks(t) > 1);
    CHECK(spk_table_nchunks(t) >= (N + SPK_CHUNK_ROWS - 1) / SPK_CHUNK_ROWS);

    long bad = 0;
    for (size_t i = 0; i < N; i++) {
        spk_value a, b, c, d;
        make_label(buf, sizeof buf, i, &len);
        if (spk_table_get(t, i, 0, &a) != SPK_OK || spk_table_get(t, i, 1, &b) != SPK_OK ||
            spk_table_get(t, i, 2, &c) != SPK_OK || spk_table_get(t, i, 3, &d) != SPK_OK) {
            bad++;
            continue;
        }
        bool ok = !a.is_null && a.as.i64 == (int64_t)i * 1000003 && !b.is_null && b.as.str.len == len &&
                  memcmp(b.as.str.ptr, buf, len) == 0 && c.as.f64 == (double)i / 4.0;
        ok = ok && (i % 5 == 0 ? d.is_null : (!d.is_null && d.as.i32 == (int32_t)(i * 3)));
        if (!ok) {
            if (bad < 5) fprintf(stderr, "%s: row %zu reads back wrong\n", spk_test_current, i);
            bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);

    /* The cursor visits every row once, in order. */
    spk_cursor cur;
    spk_cursor_open(&cur, t);
    size_t seen = 0;
    bad = 0;
    while (spk_cursor_next(&cur)) {
        spk_value a, b;
        if (cur.row != seen) bad++;
        if (spk_cursor_get(&cur, 0, &a) != SPK_OK || a.as.i64 != (int64_t)seen * 1000003) bad++;
        make_label(buf, sizeof buf, seen, &len);
        if (spk_cursor_get(&cur, 1, &b) != SPK_OK || b.as.str.len != len ||
            memcmp(b.as.str.ptr, buf, len) != 0)
            bad++;
        seen++;
        if (seen > N) break;
    }
    CHECK_EQ_INT(seen, N);
    CHECK_EQ_INT(bad, 0);
    spk_table_free(t);
}

static void test_chunk_boundary_exact(void) {
    spk_table *t = table_of("id INT");
    if (!t) return;
    for (int i = 0; i < SPK_CHUNK_ROWS; i++) CHECK_OK(spk_table_append(t, spk_value_i32(i)));
    CHECK_EQ_INT(spk_table_nrows(t), SPK_CHUNK_ROWS);
    CHECK(spk_table_nchunks(t) >= 1);
    CHECK_OK(spk_table_append(t, spk_value_i32(-1)));
    CHECK_EQ_INT(spk_table_nchunks(t), 2);
    CHECK_I32_AT(t, SPK_CHUNK_ROWS - 1, 0, SPK_CHUNK_ROWS - 1);
    CHECK_I32_AT(t, SPK_CHUNK_ROWS, 0, -1);
    spk_cursor c;
    spk_cursor_open(&c, t);
    size_t n = 0;
    while (spk_cursor_next(&c)) n++;
    CHECK_EQ_INT(n, SPK_CHUNK_ROWS + 1);
    spk_table_free(t);
}

/* ------------------------------------------------------------ batches */

static void fill_batch(spk_value *v, size_t first, size_t n, char (*names)[32]) {
    for (size_t i = 0; i < n; i++) {
        snprintf(names[i], 32, "name-%zu", first + i);
        v[2 * i] = spk_value_i64((int64_t)(first + i));
        v[2 * i + 1] = (first + i) % 3 ? spk_value_str(names[i]) : spk_value_null();
    }
}

static void check_batch_rows(const spk_table *t, size_t n) {
    long bad = 0;
    char want[32];
    for (size_t i = 0; i < n; i++) {
        spk_value a, b;
        snprintf(want, sizeof want, "name-%zu", i);
        if (spk_table_get(t, i, 0, &a) != SPK_OK || spk_table_get(t, i, 1, &b) != SPK_OK) {
            bad++;
            continue;
        }
        bool ok = !a.is_null && a.as.i64 == (int64_t)i;
        ok = ok && (i % 3 ? (!b.is_null && b.as.str.len == strlen(want) && memcmp(b.as.str.ptr, want, b.as.str.len) == 0)
                          : b.is_null);
        bad += !ok;
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_append_rows(void) {
    enum { FIRST = 65530 };
    spk_table *t = table_of("ident BIGINT NOT NULL, label STRING");
    if (!t) return;
    spk_value *v = (spk_value *)malloc(sizeof(spk_value) * 2 * FIRST);
    char(*names)[32] = (char(*)[32])malloc(32 * (size_t)FIRST);
    if (!v || !names) return;
    fill_batch(v, 0, FIRST, names);
    CHECK_OK(spk_table_append_rows(t, v, FIRST));
    CHECK_EQ_INT(spk_table_nrows(t), FIRST);
    CHECK_EQ_INT(spk_table_nchunks(t), 1);
    check_batch_rows(t, FIRST);
    CHECK_OK(spk_table_append_rows(t, v, 0)); /* nothing */
    CHECK_EQ_INT(spk_table_nrows(t), FIRST);

    /* A batch of 20 crossing the chunk boundary whose 15th row is bad. */
    spk_value batch[40];
    char bnames[20][32];
    fill_batch(batch, FIRST, 20, bnames);
    batch[2 * 14] = spk_value_null(); /* row 15: NULL into NOT NULL */
    spk_clear_error();
    CHECK_STATUS(spk_table_append_rows(t, batch, 20), SPK_ERR_NULL);
    CHECK_CONTAINS(spk_last_error(), "15");
    CHECK_CONTAINS(spk_last_error(), "ident");
    CHECK_EQ_INT(spk_table_nrows(t), FIRST);
    CHECK_EQ_INT(spk_table_nchunks(t), 1);
    spk_value tmp;
    CHECK(spk_table_get(t, FIRST, 0, &tmp) != SPK_OK);
    check_batch_rows(t, FIRST);
    spk_cursor c;
    spk_cursor_open(&c, t);
    size_t n = 0;
    while (spk_cursor_next(&c)) n++;
    CHECK_EQ_INT(n, FIRST);

    /* Type error in the 15th row: the same. */
    fill_batch(batch, FIRST, 20, bnames);
    batch[2 * 14 + 1] = spk_value_i32(3);
    CHECK_STATUS(spk_table_append_rows(t, batch, 20), SPK_ERR_TYPE);
    CHECK_CONTAINS(spk_last_error(), "15");
    CHECK_CONTAINS(spk_last_error(), "label");
    CHECK_EQ_INT(spk_table_nrows(t), FIRST);

    /* The last row bad, after the boundary. */
    fill_batch(batch, FIRST, 20, bnames);
    batch[2 * 19] = spk_value_str("no");
    CHECK_STATUS(spk_table_append_rows(t, batch, 20), SPK_ERR_TYPE);
    CHECK_CONTAINS(spk_last_error(), "20");
    CHECK_EQ_INT(spk_table_nrows(t), FIRST);

    /* Then a good batch: the table is in a consistent state. */
    fill_batch(batch, FIRST, 20, bnames);
    CHECK_OK(spk_table_append_rows(t, batch, 20));
    CHECK_EQ_INT(spk_table_nrows(t), FIRST + 20);
    CHECK_EQ_INT(spk_table_nchunks(t), 2);
    check_batch_rows(t, FIRST + 20);
    spk_cursor_open(&c, t);
    n = 0;
    bool order = true;
    while (spk_cursor_next(&c)) {
        spk_value a;
        if (spk_cursor_get(&c, 0, &a) != SPK_OK || a.as.i64 != (int64_t)n) order = false;
        n++;
    }
    CHECK(order);
    CHECK_EQ_INT(n, FIRST + 20);
    free(v);
    free(names);
    spk_table_free(t);
}

/* ------------------------------------------------------------ CSV text */

static void test_text_basic(void) {
    spk_table *t = table_of("id INT, name STRING, amount DECIMAL(10,2)");
    if (!t) return;
    const char *text = "1,\"a,b\",1.50\n"
                       "2,\"say \"\"hi\"\"\",2\n"
                       "3,\"line1\nline2\",3\n"
                       "4,NULL,null\n"
                       "5,,\n"
                       "6,\"\",1\n"
                       "  7 ,  bob  , 2.5 \n"
                       "\n"
                       "   \n"
                       "8,\"NULL\",-0.01\n"
                       "9,\" x \",0\n"
                       "10,last,99999999.99";
    CHECK_OK(spk_table_append_text(t, text, (size_t)-1));
    CHECK_EQ_INT(spk_table_nrows(t), 10);
    for (int i = 0; i < 10; i++) CHECK_I32_AT(t, (size_t)i, 0, i + 1);
    CHECK_STR_AT(t, 0, 1, "a,b");
    CHECK_DEC_AT(t, 0, 2, 10, 2, 150);
    CHECK_STR_AT(t, 1, 1, "say \"hi\"");
    CHECK_DEC_AT(t, 1, 2, 10, 2, 200);
    CHECK_STR_AT(t, 2, 1, "line1\nline2");
    CHECK_NULL_AT(t, 3, 1);
    CHECK_NULL_AT(t, 3, 2);
    CHECK_NULL_AT(t, 4, 1);
    CHECK_NULL_AT(t, 4, 2);
    CHECK_STRN_AT(t, 5, 1, "", 0);
    CHECK_DEC_AT(t, 6, 2, 10, 2, 250);
    CHECK_STR_AT(t, 6, 1, "bob");
    CHECK_STR_AT(t, 7, 1, "NULL"); /* quoted: a string */
    CHECK_DEC_AT(t, 7, 2, 10, 2, -1);
    CHECK_STR_AT(t, 8, 1, " x ");
    CHECK_STR_AT(t, 9, 1, "last");
    CHECK_DEC_AT(t, 9, 2, 10, 2, 9999999999LL);
    spk_table_free(t);
}

static void test_text_crlf_and_len(void) {
    spk_table *t = table_of("id INT, name STRING");
    if (!t) return;
    CHECK_OK(spk_table_append_text(t, "1,y\r\n2,z\r\n\r\n3,\"q\r\nr\"\r\n", (size_t)-1));
    CHECK_EQ_INT(spk_table_nrows(t), 3);
    CHECK_STR_AT(t, 0, 1, "y");
    CHECK_STR_AT(t, 1, 1, "z");
    CHECK_STR_AT(t, 2, 1, "q\r\nr");
    /* An explicit length: only the first 4 bytes ("4,ab") count. */
    const char *more = "4,abXXX\n5,c";
    CHECK_OK(spk_table_append_text(t, more, 4));
    CHECK_EQ_INT(spk_table_nrows(t), 4);
    CHECK_I32_AT(t, 3, 0, 4);
    CHECK_STR_AT(t, 3, 1, "ab");
    /* Empty text adds nothing. */
    CHECK_OK(spk_table_append_text(t, "", (size_t)-1));
    CHECK_OK(spk_table_append_text(t, "\n\n", (size_t)-1));
    CHECK_EQ_INT(spk_table_nrows(t), 4);
    /* Every type from text. */
    spk_table_free(t);
    t = table_of(ALL_DDL);
    if (!t) return;
    CHECK_OK(spk_table_append_text(t, "true,-5,9000000000,1.5e3,-12.345,txt,2024-02-29,2024-01-02 03:04:05.5\n"
                                      "FALSE,0,0,NaN,0.005,,1970-01-01,1970-01-01T00:00:00Z\n",
                                   (size_t)-1));
    CHECK_EQ_INT(spk_table_nrows(t), 2);
    CHECK_INT_AT(t, 0, 0, SPK_TYPE_BOOLEAN, 1);
    CHECK_I32_AT(t, 0, 1, -5);
    CHECK_I64_AT(t, 0, 2, 9000000000LL);
    CHECK_F64_AT(t, 0, 3, 1500.0);
    CHECK_DEC_AT(t, 0, 4, 10, 2, -1235); /* half-up */
    CHECK_STR_AT(t, 0, 5, "txt");
    CHECK_INT_AT(t, 0, 6, SPK_TYPE_DATE, 19782);
    CHECK_INT_AT(t, 0, 7, SPK_TYPE_TIMESTAMP, 1704164645500000LL);
    CHECK_INT_AT(t, 1, 0, SPK_TYPE_BOOLEAN, 0);
    CHECK_F64_AT(t, 1, 3, NAN);
    CHECK_DEC_AT(t, 1, 4, 10, 2, 1);
    CHECK_NULL_AT(t, 1, 5);
    CHECK_INT_AT(t, 1, 6, SPK_TYPE_DATE, 0);
    CHECK_INT_AT(t, 1, 7, SPK_TYPE_TIMESTAMP, 0);
    spk_table_free(t);
}

static void test_text_only_empty_quoted(void) {
    /* A text whose only quoted field is "" (the empty string, not NULL). */
    spk_table *t = table_of("id INT, name STRING");
    if (!t) return;
    CHECK_OK(spk_table_append_text(t, "1,\"\"\n", (size_t)-1));
    CHECK_EQ_INT(spk_table_nrows(t), 1);
    CHECK_STRN_AT(t, 0, 1, "", 0);
    spk_table_free(t);
}

static void test_text_not_terminated(void) {
    /* With an explicit length the text need not be NUL-terminated: nothing
     * past `len` is read (ASan sees any over-read of these exact-size blocks). */
    static const char *texts[] = {"1,abc\n2,de", "1,\"ab\"", "1,2.5\n3,45", "7,\"\"", "8,NULL", "9,"};
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
        size_t n = strlen(texts[k]);
        char *buf = (char *)malloc(n);
        if (!buf) return;
        memcpy(buf, texts[k], n);
        spk_table *t = table_of(k == 2 ? "id INT, x DOUBLE" : "id INT, name STRING");
        if (t) {
            CHECK_OK(spk_table_append_text(t, buf, n));
            CHECK_EQ_INT(spk_table_nrows(t), k == 0 || k == 2 ? 2 : 1);
            spk_table_free(t);
        }
        free(buf);
    }
    /* An unterminated quote running into the end of the block. */
    char *buf = (char *)malloc(5);
    spk_table *t = table_of("id INT, name STRING");
    if (buf && t) {
        memcpy(buf, "1,\"ab", 5);
        CHECK_STATUS(spk_table_append_text(t, buf, 5), SPK_ERR_PARSE);
        CHECK_EQ_INT(spk_table_nrows(t), 0);
    }
    spk_table_free(t);
    free(buf);
    /* The last field's numeric text ends exactly at the block's end. */
    t = table_of("id INT, x DOUBLE, d DATE, ts TIMESTAMP, m DECIMAL(5,2), b BOOLEAN");
    const char *row = "12,1.5e3,2024-01-02,2024-01-02 03:04:05,1.25,true";
    size_t n = strlen(row);
    for (size_t cut = 1; t && cut <= 6; cut++) {
        /* keep `cut` fields: the last one ends the block */
        size_t end = 0, commas = 0;
        while (end < n && !(row[end] == ',' && ++commas == cut)) end++;
        char *b2 = (char *)malloc(end);
        if (!b2) break;
        memcpy(b2, row, end);
        spk_table *u = NULL;
        char ddl[160] = "";
        static const char *cols[] = {"id INT", "x DOUBLE", "d DATE", "ts TIMESTAMP", "m DECIMAL(5,2)", "b BOOLEAN"};
        for (size_t c = 0; c < cut; c++) {
            if (c) strcat(ddl, ", ");
            strcat(ddl, cols[c]);
        }
        u = table_of(ddl);
        if (u) {
            CHECK_OK(spk_table_append_text(u, b2, end));
            CHECK_EQ_INT(spk_table_nrows(u), 1);
        }
        spk_table_free(u);
        free(b2);
    }
    spk_table_free(t);
}

/* Runs a failing append_text on an empty table and checks the status
 * (SPK_STATUS_COUNT: any failure), the message pieces and that no row is kept. */
static void text_error_case(const char *file, int line, const char *ddl, const char *text, spk_status want,
                            const char *const *needles) {
    spk_table *t = table_of(ddl);
    if (!t) return;
    spk_clear_error();
    spk_status st = spk_table_append_text(t, text, (size_t)-1);
    if (want == SPK_STATUS_COUNT ? st == SPK_OK : st != want) {
        fprintf(stderr, "%s:%d: %s: append_text returned %s, expected %s (%s)\n", file, line,
                spk_test_current, spk_status_name(st),
                want == SPK_STATUS_COUNT ? "a failure" : spk_status_name(want), spk_last_error());
        spk_test_current_failed = 1;
    }
    if (st != SPK_OK && spk_last_status() != st) {
        fprintf(stderr, "%s:%d: %s: spk_last_status() is %s, the call returned %s\n", file, line,
                spk_test_current, spk_status_name(spk_last_status()), spk_status_name(st));
        spk_test_current_failed = 1;
    }
    for (int i = 0; needles && needles[i]; i++) {
        if (!strstr(spk_last_error(), needles[i])) {
            fprintf(stderr, "%s:%d: %s: expected \"%s\" in \"%s\"\n", file, line, spk_test_current,
                    needles[i], spk_last_error());
            spk_test_current_failed = 1;
        }
    }
    if (spk_table_nrows(t) != 0) {
        fprintf(stderr, "%s:%d: %s: %zu rows kept after a failed append\n", file, line, spk_test_current,
                spk_table_nrows(t));
        spk_test_current_failed = 1;
    }
    spk_table_free(t);
}
#define TEXT_ERROR(ddl, text, want, ...)                                                     \
    do {                                                                                     \
        const char *const needles_[] = {__VA_ARGS__, NULL};                                  \
        text_error_case(__FILE__, __LINE__, (ddl), (text), (want), needles_);                \
    } while (0)

static void test_text_errors(void) {
    TEXT_ERROR("id INT, name STRING", "1,a\n2,b\n3\n4,d\n", SPK_STATUS_COUNT, "line 3");
    TEXT_ERROR("id INT, name STRING", "1,a\n2,b\n3,c,extra\n", SPK_STATUS_COUNT, "line 3");
    TEXT_ERROR("name STRING, qty INT, amount DECIMAL(10,2)", "a,1,1\nb,x1,2\n", SPK_ERR_PARSE,
               "line 2, column 2", "`qty`", "x1");
    TEXT_ERROR("id INT, amount DECIMAL(10,2)", "1,2\n2,3\n3,1.5.5\n", SPK_ERR_PARSE,
               "line 3, column 2", "`amount`", "1.5.5", "DECIMAL(10,2)");
    TEXT_ERROR("id INT, name STRING", "1,a\n3000000000,b\n", SPK_ERR_RANGE, "line 2, column 1", "`id`",
               "3000000000");
    TEXT_ERROR("id INT, amount DECIMAL(4,2)", "1,12.34\n2,123.45\n", SPK_ERR_RANGE, "line 2, column 2",
               "`amount`");
    TEXT_ERROR("id INT NOT NULL, name STRING", "1,a\nNULL,b\n", SPK_ERR_NULL, "line 2, column 1", "`id`");
    TEXT_ERROR("id INT, name STRING NOT NULL", "1,a\n2,\n", SPK_ERR_NULL, "line 2, column 2", "`name`");
    TEXT_ERROR("id INT, name STRING", "1,a\n2,\"abc\n3,d\n", SPK_ERR_PARSE, "line 2");
    TEXT_ERROR("id INT, d DATE", "1,2024-02-30\n", SPK_STATUS_COUNT, "line 1, column 2", "`d`",
               "2024-02-30");
    TEXT_ERROR("flag BOOLEAN", "true\nmaybe\n", SPK_ERR_PARSE, "line 2, column 1", "maybe");
    /* the line number counts lines inside quoted fields */
    TEXT_ERROR("id INT, name STRING", "1,\"a\nb\nc\"\nx,d\n", SPK_ERR_PARSE, "line 4, column 1");
    /* blank lines count too */
    TEXT_ERROR("id INT, name STRING", "\n\n1,a\nzz,b\n", SPK_ERR_PARSE, "line 4, column 1", "zz");
    /* CRLF */
    TEXT_ERROR("id INT, name STRING", "1,a\r\n2,b\r\nq,c\r\n", SPK_ERR_PARSE, "line 3, column 1");
}

static void test_text_error_keeps_rows(void) {
    /* Rows appended before a failing call are all still there, unchanged. */
    spk_table *t = table_of("id INT NOT NULL, name STRING");
    if (!t) return;
    CHECK_OK(spk_table_append_text(t, "1,one\n2,two\n3,three\n", (size_t)-1));
    CHECK_EQ_INT(spk_table_nrows(t), 3);
    const char *bad[] = {"4,four\n5,five\nbad,six\n", "4,four\n5\n", "4,four\nNULL,x\n",
                         "4,four\n5,\"unterminated\n", "4,four\n99999999999,x\n"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        CHECK(spk_table_append_text(t, bad[k], (size_t)-1) != SPK_OK);
        CHECK_EQ_INT(spk_table_nrows(t), 3);
    }
    CHECK_I32_AT(t, 0, 0, 1);
    CHECK_STR_AT(t, 2, 1, "three");
    spk_value v;
    CHECK(spk_table_get(t, 3, 0, &v) != SPK_OK);
    /* Still appendable. */
    CHECK_OK(spk_table_append_text(t, "4,four", (size_t)-1));
    CHECK_EQ_INT(spk_table_nrows(t), 4);
    CHECK_STR_AT(t, 3, 1, "four");
    spk_table_free(t);
}

static void test_text_error_across_chunk(void) {
    /* A failing text that would have crossed the chunk boundary. */
    spk_table *t = table_of("id INT NOT NULL");
    if (!t) return;
    for (int i = 0; i < 65530; i++) CHECK_OK(spk_table_append(t, spk_value_i32(i)));
    char text[400] = "";
    for (int i = 0; i < 20; i++) {
        char line[32];
        snprintf(line, sizeof line, i == 14 ? "oops\n" : "%d\n", 65530 + i);
        strcat(text, line);
    }
    CHECK_STATUS(spk_table_append_text(t, text, (size_t)-1), SPK_ERR_PARSE);
    CHECK_CONTAINS(spk_last_error(), "line 15, column 1");
    CHECK_EQ_INT(spk_table_nrows(t), 65530);
    CHECK_EQ_INT(spk_table_nchunks(t), 1);
    char *fix = strstr(text, "oops");
    if (fix) memcpy(fix, "1234", 4);
    CHECK_OK(spk_table_append_text(t, text, (size_t)-1));
    CHECK_EQ_INT(spk_table_nrows(t), 65550);
    CHECK_EQ_INT(spk_table_nchunks(t), 2);
    CHECK_I32_AT(t, 65529, 0, 65529);
    CHECK_I32_AT(t, 65543, 0, 65543);
    CHECK_I32_AT(t, 65544, 0, 1234);
    CHECK_I32_AT(t, 65549, 0, 65549);
    spk_table_free(t);
}

/* ------------------------------------------------------------ fixtures */

static void test_fixture(void) {
    spk_table *t = NULL;
    CHECK_OK(spk_table_from_fixture(NULL, "id INT, name STRING\n1,Alice\n2,NULL", &t));
    if (!t) return;
    CHECK_EQ_INT(spk_table_nrows(t), 2);
    CHECK_EQ_INT(spk_schema_ncols(spk_table_schema(t)), 2);
    CHECK_I32_AT(t, 0, 0, 1);
    CHECK_STR_AT(t, 0, 1, "Alice");
    CHECK_I32_AT(t, 1, 0, 2);
    CHECK_NULL_AT(t, 1, 1);
    spk_table_free(t);

    /* Schema only; trailing newline; the allocator is used and released. */
    spk_failalloc f;
    spk_failalloc_init(&f, NULL, 0);
    t = NULL;
    CHECK_OK(spk_table_from_fixture(&f.iface, "a BIGINT NOT NULL, b DECIMAL(5,2)\n", &t));
    CHECK(t != NULL);
    if (t) {
        CHECK_EQ_INT(spk_table_nrows(t), 0);
        CHECK(f.live_blocks > 0);
        const spk_field *fl = spk_schema_field(spk_table_schema(t), 0);
        CHECK(fl != NULL && !fl->nullable);
    }
    spk_table_free(t);
    CHECK_EQ_INT(f.live_blocks, 0);
    CHECK_EQ_INT(f.live_bytes, 0);

    t = NULL;
    CHECK_OK(spk_table_from_fixture(NULL, "id: int, `full name`: string\r\n1,\"Smith, J\"\r\n\r\n2,x\r\n", &t));
    if (t) {
        CHECK_EQ_INT(spk_table_nrows(t), 2);
        CHECK_STR_AT(t, 0, 1, "Smith, J");
        CHECK_STR_AT(t, 1, 1, "x");
    }
    spk_table_free(t);
}

static void test_fixture_errors(void) {
    spk_table *t = NULL;
    spk_failalloc f;
    spk_failalloc_init(&f, NULL, 0);
    CHECK_STATUS(spk_table_from_fixture(&f.iface, "id INT, name STRING\n1,Alice\nx,Bob", &t), SPK_ERR_PARSE);
    CHECK_CONTAINS(spk_last_error(), "line 3, column 1");
    CHECK_CONTAINS(spk_last_error(), "`id`");
    CHECK(t == NULL);
    CHECK_EQ_INT(f.live_blocks, 0);
    CHECK_STATUS(spk_table_from_fixture(&f.iface, "id INT, name STRING\n1,Alice\n2\n", &t), SPK_ERR_PARSE);
    CHECK_CONTAINS(spk_last_error(), "line 3");
    CHECK_EQ_INT(f.live_blocks, 0);
    CHECK_STATUS(spk_table_from_fixture(&f.iface, "id INT NOT NULL\n1\n\nNULL\n", &t), SPK_ERR_NULL);
    CHECK_CONTAINS(spk_last_error(), "line 4, column 1");
    CHECK_EQ_INT(f.live_blocks, 0);
    CHECK_STATUS(spk_table_from_fixture(&f.iface, "id INTT, name STRING\n1,Alice", &t), SPK_ERR_PARSE);
    CHECK_CONTAINS(spk_last_error(), "INTT");
    CHECK(t == NULL);
    CHECK_EQ_INT(f.live_blocks, 0);
    CHECK_EQ_INT(f.live_bytes, 0);
    CHECK_STATUS(spk_table_from_fixture(NULL, "", &t), SPK_ERR_PARSE);
    CHECK(t == NULL);
}

/* ------------------------------------------------------------ memory */

static void test_memory(void) {
    spk_schema *s = schema_of("id BIGINT, label STRING");
    if (!s) return;
    spk_failalloc f;
    spk_failalloc_init(&f, NULL, 0);
    spk_table *t = NULL;
    CHECK_OK(spk_table_new(&f.iface, s, &t));
    spk_schema_release(s);
    if (!t) return;
    /* The table is the only user of this allocator: it holds live_bytes. */
    CHECK_EQ_INT(spk_table_memory(t), f.live_bytes);
    CHECK_OK(spk_table_append(t, spk_value_i64(1), spk_value_str("one")));
    size_t m1 = spk_table_memory(t);
    CHECK(m1 > 0);
    CHECK_EQ_INT(m1, f.live_bytes);
    char big[1000];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (int i = 0; i < 100000; i++) {
        spk_status st = spk_table_append(t, spk_value_i64(i), spk_value_str(i % 10 ? "short" : big));
        if (st != SPK_OK) {
            CHECK_OK(st);
            break;
        }
    }
    size_t m2 = spk_table_memory(t);
    CHECK(m2 > m1);
    CHECK(m2 >= (size_t)100000 * 8 + (size_t)10000 * 999); /* at least the raw data */
    CHECK_EQ_INT(m2, f.live_bytes);
    spk_table_free(t);
    CHECK_EQ_INT(f.live_blocks, 0);
}

int main(void) {
    RUN(test_new_free);
    RUN(test_every_type);
    RUN(test_nulls_every_type);
    RUN(test_strings);
    RUN(test_string_views_stay_valid);
    RUN(test_widening);
    RUN(test_decimal_widening_overflow);
    RUN(test_narrowing_rejected);
    RUN(test_type_mismatch_message);
    RUN(test_null_into_not_null);
    RUN(test_typed_null_types);
    RUN(test_wrong_arity);
    RUN(test_get_out_of_range);
    RUN(test_many_rows);
    RUN(test_chunk_boundary_exact);
    RUN(test_append_rows);
    RUN(test_text_basic);
    RUN(test_text_crlf_and_len);
    RUN(test_text_only_empty_quoted);
    RUN(test_text_not_terminated);
    RUN(test_text_errors);
    RUN(test_text_error_keeps_rows);
    RUN(test_text_error_across_chunk);
    RUN(test_fixture);
    RUN(test_fixture_errors);
    RUN(test_memory);
    return TEST_REPORT();
}
