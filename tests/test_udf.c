/* User-defined functions (udf.h): scalar and aggregate UDFs written in C,
 * SQL macros, their registries (session, worker context, global) and how a
 * call by name resolves, in DataFrame queries at several thread counts.
 * Expected rows are written out by hand or computed by a reference written
 * here in plain C. This program compiles its own copy of the implementation
 * with a counting malloc, for the allocation-failure sweep at the end. */
#include "test_sweep.h"
#define SPARKLESS_STATIC
#define SPARKLESS_IMPLEMENTATION
#include "../sparkless.h"
#include "test.h"
#include "test_threads.h"

/* ------------------------------------------------------------ helpers */

static spk_session *new_session(void) {
    spk_session_options o = {NULL, false, 0}; /* threads follow FOR_EACH_THREAD_COUNT */
    spk_session *s = NULL;
    if (spk_session_new(&o, &s) != SPK_OK) abort();
    return s;
}

static spk_expr *sql(const char *text) {
    spk_expr *e = NULL;
    if (spk_expr_parse(text, &e) != SPK_OK) {
        fprintf(stderr, "parse of \"%s\" failed: %s\n", text, spk_last_error());
        abort();
    }
    return e;
}

static spk_type T(spk_type_id id) { return spk_type_of(id); }

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* "r1|r2" with the rows sorted; frees `text`. */
static char *sorted_rows(char *text) {
    size_t n = 1, len = strlen(text);
    for (size_t i = 0; i < len; i++) n += text[i] == '|';
    char **rows = (char **)malloc(n * sizeof *rows);
    size_t k = 0;
    rows[k++] = text;
    for (size_t i = 0; i < len; i++)
        if (text[i] == '|') {
            text[i] = '\0';
            rows[k++] = text + i + 1;
        }
    qsort(rows, n, sizeof *rows, cmp_str);
    sbuf b = {NULL, 0, 0};
    sb_str(&b, "");
    for (size_t i = 0; i < n; i++) {
        if (i) sb_str(&b, "|");
        sb_str(&b, rows[i]);
    }
    free(rows);
    free(text);
    return b.p;
}

/* Collects df (consumed) and compares its rows ("v,v|v,v") in order or,
 * if sorted, as multisets. */
static void expect_rows_at(const char *file, int line, spk_df *df, const char *want, bool sorted) {
    if (!df) {
        failf(file, line, "DataFrame is NULL: %s %s", spk_status_name(spk_last_status()), spk_last_error());
        return;
    }
    spk_table *t = NULL;
    spk_status st = spk_df_collect(df, &t);
    spk_df_release(df);
    if (st != SPK_OK) {
        failf(file, line, "collect failed: %s %s", spk_status_name(st), spk_last_error());
        return;
    }
    char *got = table_text(t);
    spk_table_free(t);
    char *w = (char *)malloc(strlen(want) + 1);
    memcpy(w, want, strlen(want) + 1);
    if (sorted) {
        got = sorted_rows(got);
        w = sorted_rows(w);
    }
    if (strcmp(got, w) != 0) failf(file, line, "rows\n  got:      \"%s\"\n  expected: \"%s\"", got, w);
    free(got);
    free(w);
}
#define EXPECT_ROWS(df, want) expect_rows_at(__FILE__, __LINE__, (df), (want), false)
#define EXPECT_SET(df, want) expect_rows_at(__FILE__, __LINE__, (df), (want), true)

/* df (consumed) fails, at build or at collect, with status st and a message containing `needle`. */
static void expect_fail_at(const char *file, int line, spk_df *df, spk_status st, const char *needle) {
    spk_status got = SPK_OK;
    if (!df) {
        got = spk_last_status();
    } else {
        spk_table *t = NULL;
        got = spk_df_collect(df, &t);
        spk_table_free(t);
        spk_df_release(df);
    }
    if (got != st) {
        failf(file, line, "status %s, expected %s (%s)", spk_status_name(got), spk_status_name(st), spk_last_error());
        return;
    }
    if (!strstr(spk_last_error(), needle)) failf(file, line, "expected \"%s\" in \"%s\"", needle, spk_last_error());
}
#define EXPECT_FAIL(df, st, needle) expect_fail_at(__FILE__, __LINE__, (df), (st), (needle))

/* Intermediate DataFrames of a test (spk_df_* borrow their inputs): freed by drop_held(). */
static spk_df *held[64];
static int nheld;
static spk_df *hold(spk_df *df) {
    if (df && nheld < 64) held[nheld++] = df;
    return df;
}
static void drop_held(void) {
    while (nheld) spk_df_release(held[--nheld]);
}

/* The name of column i. */
static const char *col_name(const spk_df *df, int i) {
    return df ? spk_schema_field(spk_df_schema(df), i)->name : "(no DataFrame)";
}

/* ------------------------------------------------------------ the UDFs */

static atomic_long plus_one_calls;

/* plus_one(INT) -> INT: NULL stays NULL. */
static spk_status plus_one(void *user, const spk_value *args, int nargs, spk_value *result) {
    (void)user;
    atomic_fetch_add(&plus_one_calls, 1);
    if (nargs != 1 || args[0].type.id != SPK_TYPE_INT32) return SPK_ERR_INTERNAL;
    *result = args[0].is_null ? spk_value_null_of(T(SPK_TYPE_INT32)) : spk_value_i32(args[0].as.i32 + 1);
    return SPK_OK;
}

/* greet(STRING) -> STRING: "hi <s>", "nobody" for NULL. The result lives in
 * a per-thread buffer the next call overwrites: the library must copy it. */
static spk_status greet(void *user, const spk_value *args, int nargs, spk_value *result) {
    static _Thread_local char buf[128];
    (void)user;
    (void)nargs;
    if (args[0].is_null) {
        *result = spk_value_str("nobody");
        return SPK_OK;
    }
    int n = snprintf(buf, sizeof buf, "hi %.*s", (int)args[0].as.str.len, args[0].as.str.ptr);
    *result = spk_value_strn(buf, (size_t)n);
    return SPK_OK;
}

/* add_d(DOUBLE, DOUBLE) -> DOUBLE; NULL if either is. */
static spk_status add_d(void *user, const spk_value *args, int nargs, spk_value *result) {
    (void)user;
    (void)nargs;
    *result = args[0].is_null || args[1].is_null ? spk_value_null_of(T(SPK_TYPE_DOUBLE))
                                                 : spk_value_f64(args[0].as.f64 + args[1].as.f64);
    return SPK_OK;
}

/* is_even(BIGINT) -> BOOLEAN */
static spk_status is_even(void *user, const spk_value *args, int nargs, spk_value *result) {
    (void)user;
    (void)nargs;
    *result = args[0].is_null ? spk_value_null_of(T(SPK_TYPE_BOOLEAN)) : spk_value_bool(args[0].as.i64 % 2 == 0);
    return SPK_OK;
}

/* answer() -> INT: 42, counting its calls. */
static atomic_long answer_calls;
static spk_status answer(void *user, const spk_value *args, int nargs, spk_value *result) {
    (void)user;
    (void)args;
    (void)nargs;
    atomic_fetch_add(&answer_calls, 1);
    *result = spk_value_i32(42);
    return SPK_OK;
}

/* constant(): returns *(int *)user, for the resolution-order tests. */
static spk_status constant(void *user, const spk_value *args, int nargs, spk_value *result) {
    (void)args;
    (void)nargs;
    *result = spk_value_i32(*(const int *)user);
    return SPK_OK;
}

/* no_neg(INT) -> INT: SPK_ERR_RANGE for a negative value, after a failing library call of its own. */
static spk_status no_neg(void *user, const spk_value *args, int nargs, spk_value *result) {
    (void)user;
    (void)nargs;
    if (!args[0].is_null && args[0].as.i32 < 0) {
        spk_type t;
        (void)spk_type_parse("no such type", &t); /* leaves a message the UDF's failure should carry */
        return SPK_ERR_RANGE;
    }
    *result = args[0];
    return SPK_OK;
}

/* liar(INT) -> INT that returns a STRING. */
static spk_status liar(void *user, const spk_value *args, int nargs, spk_value *result) {
    (void)user;
    (void)args;
    (void)nargs;
    *result = spk_value_str("not an int");
    return SPK_OK;
}

/* next_day(DATE) -> DATE */
static spk_status next_day(void *user, const spk_value *args, int nargs, spk_value *result) {
    (void)user;
    (void)nargs;
    *result = args[0].is_null ? args[0] : spk_value_date(args[0].as.i32 + 1);
    return SPK_OK;
}

static spk_udf *make_scalar(const char *name, spk_type_id arg, spk_type_id ret, spk_udf_fn fn, void *user) {
    spk_type t = T(arg);
    spk_udf *u = NULL;
    if (spk_udf_scalar(name, &t, 1, T(ret), fn, user, &u) != SPK_OK) {
        fprintf(stderr, "spk_udf_scalar(%s): %s\n", name, spk_last_error());
        abort();
    }
    return u;
}

static spk_udf *make_macro(const char *name, const char *params, const char *body) {
    spk_udf *u = NULL;
    if (spk_udf_macro(name, params, body, &u) != SPK_OK) {
        fprintf(stderr, "spk_udf_macro(%s): %s\n", name, spk_last_error());
        abort();
    }
    return u;
}

static void reg(spk_udf_registry *r, spk_udf *u) {
    if (spk_udf_register(r, u) != SPK_OK) abort();
    spk_udf_release(u);
}

/* -- aggregates */

/* prod_mod(BIGINT) -> BIGINT: the product of (x mod 1000 + 1) modulo 1000003; NULL for no values. */
typedef struct prod_state {
    int64_t acc, count;
} prod_state;
static void prod_init(void *user, void *state) {
    (void)user;
    prod_state *s = (prod_state *)state;
    s->acc = 1;
    s->count = 0;
}
static int64_t prod_factor(int64_t x) { return (x % 1000 + 1000) % 1000 + 1; }
static spk_status prod_update(void *user, void *state, const spk_value *arg) {
    (void)user;
    prod_state *s = (prod_state *)state;
    if (arg->is_null) return SPK_ERR_INTERNAL; /* NULLs must be skipped before update */
    if (arg->as.i64 == -999) return SPK_ERR_RANGE;
    s->acc = s->acc * prod_factor(arg->as.i64) % 1000003;
    s->count++;
    return SPK_OK;
}
static spk_status prod_merge(void *user, void *into, const void *from) {
    (void)user;
    prod_state *a = (prod_state *)into;
    const prod_state *b = (const prod_state *)from;
    a->acc = a->acc * b->acc % 1000003;
    a->count += b->count;
    return SPK_OK;
}
static spk_status prod_finish(void *user, const void *state, spk_value *result) {
    (void)user;
    const prod_state *s = (const prod_state *)state;
    *result = s->count ? spk_value_i64(s->acc) : spk_value_null_of(T(SPK_TYPE_INT64));
    return SPK_OK;
}
static const spk_udaf_fns prod_fns = {sizeof(prod_state), prod_init, prod_update, prod_merge, prod_finish, NULL};

/* collect_sorted(STRING) -> STRING: the values sorted and joined with ','.
 * The state owns a heap list (freed by destroy); finish's result lives in
 * a per-thread buffer the library must copy. */
typedef struct strlist {
    char **items;
    size_t n, cap;
} strlist;
static atomic_long strlist_live; /* lists made and not destroyed */
static void sl_init(void *user, void *state) {
    (void)user;
    memset(state, 0, sizeof(strlist));
}
static spk_status sl_add(strlist *s, const char *p, size_t len) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        char **items = (char **)realloc(s->items, cap * sizeof *items);
        if (!items) return SPK_ERR_NOMEM;
        if (!s->items) atomic_fetch_add(&strlist_live, 1);
        s->items = items;
        s->cap = cap;
    }
    char *copy = (char *)malloc(len + 1);
    if (!copy) return SPK_ERR_NOMEM;
    memcpy(copy, p, len);
    copy[len] = '\0';
    s->items[s->n++] = copy;
    return SPK_OK;
}
static spk_status sl_update(void *user, void *state, const spk_value *arg) {
    (void)user;
    if (((uintptr_t)state & 15) != 0) return SPK_ERR_INTERNAL; /* states are aligned for any type */
    return sl_add((strlist *)state, arg->as.str.ptr, arg->as.str.len);
}
static spk_status sl_merge(void *user, void *into, const void *from) {
    (void)user;
    const strlist *b = (const strlist *)from;
    for (size_t i = 0; i < b->n; i++) {
        spk_status st = sl_add((strlist *)into, b->items[i], strlen(b->items[i]));
        if (st != SPK_OK) return st;
    }
    return SPK_OK;
}
static spk_status sl_finish(void *user, const void *state, spk_value *result) {
    static _Thread_local char buf[65536];
    (void)user;
    const strlist *s = (const strlist *)state;
    if (!s->n) {
        *result = spk_value_null_of(T(SPK_TYPE_STRING));
        return SPK_OK;
    }
    char **sorted = (char **)malloc(s->n * sizeof *sorted);
    if (!sorted) return SPK_ERR_NOMEM;
    memcpy(sorted, s->items, s->n * sizeof *sorted);
    qsort(sorted, s->n, sizeof *sorted, cmp_str);
    size_t len = 0;
    for (size_t i = 0; i < s->n && len < sizeof buf - 64; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? "," : "", sorted[i]);
    free(sorted);
    *result = spk_value_strn(buf, len);
    return SPK_OK;
}
static void sl_destroy(void *user, void *state) {
    (void)user;
    strlist *s = (strlist *)state;
    for (size_t i = 0; i < s->n; i++) free(s->items[i]);
    if (s->items) atomic_fetch_sub(&strlist_live, 1);
    free(s->items);
}
static const spk_udaf_fns sl_fns = {sizeof(strlist), sl_init, sl_update, sl_merge, sl_finish, sl_destroy};

static spk_udf *make_agg(const char *name, spk_type_id arg, spk_type_id ret, const spk_udaf_fns *fns) {
    spk_udf *u = NULL;
    if (spk_udf_aggregate(name, T(arg), T(ret), fns, NULL, &u) != SPK_OK) {
        fprintf(stderr, "spk_udf_aggregate(%s): %s\n", name, spk_last_error());
        abort();
    }
    return u;
}

/* ------------------------------------------------------------ definitions */

static void test_signature_and_accessors(void) {
    spk_type args[2] = {T(SPK_TYPE_INT32), spk_type_decimal(10, 2)};
    spk_udf *s = NULL, *a = make_agg("prod_mod", SPK_TYPE_INT64, SPK_TYPE_INT64, &prod_fns);
    spk_udf *m = make_macro("double_it", "x INT, y decimal(10,2)", "x * 2 + y");
    CHECK_OK(spk_udf_scalar("Plus_One", args, 2, T(SPK_TYPE_STRING), plus_one, NULL, &s));
    char buf[128];
    spk_udf_signature(s, buf, sizeof buf);
    CHECK_STR(buf, "Plus_One(INT, DECIMAL(10,2)) -> STRING");
    spk_udf_signature(a, buf, sizeof buf);
    CHECK_STR(buf, "prod_mod(BIGINT) -> BIGINT");
    spk_udf_signature(m, buf, sizeof buf);
    CHECK_STR(buf, "double_it(x INT, y DECIMAL(10,2)) -> ?");
    CHECK_EQ_INT(spk_udf_signature(m, buf, 5), strlen("double_it(x INT, y DECIMAL(10,2)) -> ?"));
    CHECK_STR(buf, "doub");
    CHECK_STR(spk_udf_name(s), "Plus_One");
    CHECK(spk_udf_kind_of(s) == SPK_UDF_SCALAR && spk_udf_kind_of(a) == SPK_UDF_AGGREGATE &&
          spk_udf_kind_of(m) == SPK_UDF_MACRO);
    CHECK_EQ_INT(spk_udf_nargs(s), 2);
    CHECK_EQ_INT(spk_udf_nargs(a), 1);
    CHECK_EQ_INT(spk_udf_nargs(m), 2);
    CHECK(spk_type_equal(spk_udf_arg_type(s, 1), spk_type_decimal(10, 2)));
    CHECK(spk_udf_arg_type(s, 2).id == SPK_TYPE_NULL && spk_udf_arg_type(s, -1).id == SPK_TYPE_NULL);
    CHECK(spk_udf_return_type(s).id == SPK_TYPE_STRING);
    CHECK(spk_udf_return_type(a).id == SPK_TYPE_INT64);
    CHECK(spk_udf_return_type(m).id == SPK_TYPE_NULL);
    CHECK(spk_udf_arg_type(m, 0).id == SPK_TYPE_INT32);
    /* a zero-parameter macro */
    spk_udf *z = make_macro("forty_two", "", "40 + 2");
    spk_udf_signature(z, buf, sizeof buf);
    CHECK_STR(buf, "forty_two() -> ?");
    CHECK(spk_udf_retain(z) == z);
    spk_udf_release(z);
    spk_udf_release(z);
    spk_udf_release(s);
    spk_udf_release(a);
    spk_udf_release(m);
    spk_udf_release(NULL);
}

static void test_constructor_errors(void) {
    spk_type i32 = T(SPK_TYPE_INT32);
    spk_udf *u = (spk_udf *)(uintptr_t)1;
    char long_name[130];
    memset(long_name, 'a', 129);
    long_name[129] = '\0';
    const char *bad[] = {"", "1abc", "a-b", "a b", "é", long_name};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(spk_udf_scalar(bad[i], &i32, 1, i32, plus_one, NULL, &u), SPK_ERR_ARG);
        CHECK(u == NULL);
        CHECK_CONTAINS(spk_last_error(), "[A-Za-z0-9_]");
    }
    long_name[128] = '\0'; /* 128 is allowed */
    CHECK_OK(spk_udf_scalar(long_name, &i32, 1, i32, plus_one, NULL, &u));
    spk_udf_release(u);
    CHECK_OK(spk_udf_scalar("_x9", NULL, 0, i32, answer, NULL, &u));
    spk_udf_release(u);
    CHECK_STATUS(spk_udf_scalar("f", &i32, 65, i32, plus_one, NULL, &u), SPK_ERR_ARG);
    CHECK_STATUS(spk_udf_scalar("f", NULL, 1, i32, plus_one, NULL, &u), SPK_ERR_ARG);
    CHECK_STATUS(spk_udf_scalar("f", &i32, 1, i32, NULL, NULL, &u), SPK_ERR_ARG);
    CHECK_CONTAINS(spk_last_error(), "`f`");
    CHECK_STATUS(spk_udf_scalar("f", &i32, 1, spk_type_decimal(40, 2), plus_one, NULL, &u), SPK_ERR_ARG);
    CHECK_STATUS(spk_udf_scalar("f", &i32, 1, i32, plus_one, NULL, NULL), SPK_ERR_ARG);
    /* aggregates */
    spk_udaf_fns f = prod_fns;
    f.state_size = 0;
    CHECK_STATUS(spk_udf_aggregate("agg", i32, i32, &f, NULL, &u), SPK_ERR_ARG);
    CHECK_CONTAINS(spk_last_error(), "state_size");
    f.state_size = 4097;
    CHECK_STATUS(spk_udf_aggregate("agg", i32, i32, &f, NULL, &u), SPK_ERR_ARG);
    f.state_size = 4096;
    CHECK_OK(spk_udf_aggregate("agg", i32, i32, &f, NULL, &u));
    spk_udf_release(u);
    f.finish = NULL;
    CHECK_STATUS(spk_udf_aggregate("agg", i32, i32, &f, NULL, &u), SPK_ERR_ARG);
    CHECK_CONTAINS(spk_last_error(), "`agg`");
    CHECK_STATUS(spk_udf_aggregate("agg", i32, i32, NULL, NULL, &u), SPK_ERR_ARG);
    /* macros */
    CHECK_STATUS(spk_udf_macro("m", "x INT", "x + y", &u), SPK_ERR_ARG);
    CHECK(u == NULL);
    CHECK_CONTAINS(spk_last_error(), "macro `m`");
    CHECK_CONTAINS(spk_last_error(), "`y`");
    CHECK_STATUS(spk_udf_macro("m", "x INT", "t.x + 1", &u), SPK_ERR_ARG);
    CHECK_CONTAINS(spk_last_error(), "`t.x`");
    CHECK_STATUS(spk_udf_macro("m", "x INT", "count(*)", &u), SPK_ERR_ARG);
    CHECK_CONTAINS(spk_last_error(), "`*`");
    CHECK_STATUS(spk_udf_macro("m", "x INT, X BIGINT", "x", &u), SPK_ERR_PARSE); /* the DDL's own check */
    const char *twice[2] = {"x", "X"};
    spk_type two_types[2] = {i32, i32};
    CHECK_STATUS(spk_udf_macro_expr("m", twice, two_types, 2, spk_col("x"), &u), SPK_ERR_ARG);
    CHECK_CONTAINS(spk_last_error(), "named twice");
    CHECK_STATUS(spk_udf_macro("m", "x NOTATYPE", "x", &u), SPK_ERR_PARSE);
    CHECK_CONTAINS(spk_last_error(), "macro `m`");
    CHECK_STATUS(spk_udf_macro("m", "x INT", "x +", &u), SPK_ERR_PARSE);
    CHECK_CONTAINS(spk_last_error(), "macro `m`");
    CHECK_STATUS(spk_udf_macro("9m", "x INT", "x", &u), SPK_ERR_ARG);
    const char *names[1] = {"x"};
    spk_type types[1] = {i32};
    CHECK_STATUS(spk_udf_macro_expr("m", names, types, 1, NULL, &u), SPK_ERR_ARG);
    CHECK_STATUS(spk_udf_macro_expr("m", names, types, 1, spk_col("q"), &u), SPK_ERR_ARG); /* consumed: no leak */
    CHECK_STATUS(spk_udf_macro_expr("bad name", names, types, 1, spk_col("x"), &u), SPK_ERR_ARG);
    CHECK_OK(spk_udf_macro_expr("m", names, types, 1, spk_mul(spk_col("X"), spk_lit_i32(3)), &u)); /* case-insensitive */
    spk_udf_release(u);
}

/* Macros whose bodies hold other macros by reference nest at most 64 deep. */
static void test_macro_nesting_limit(void) {
    const char *names[1] = {"x"};
    spk_type types[1] = {T(SPK_TYPE_INT32)};
    spk_udf *prev = NULL;
    int made = 0;
    spk_status st = SPK_OK;
    for (int i = 0; i < 80 && st == SPK_OK; i++) {
        char name[32];
        snprintf(name, sizeof name, "nest%d", i);
        spk_expr *body = prev ? spk_udf_call(prev, 1, spk_add(spk_col("x"), spk_lit_i32(1))) : spk_col("x");
        spk_udf *u = NULL;
        st = spk_udf_macro_expr(name, names, types, 1, body, &u);
        if (st == SPK_OK) {
            made++;
            spk_udf_release(prev);
            prev = u;
        }
    }
    CHECK_EQ_INT(made, 64);
    CHECK(st == SPK_ERR_LIMIT);
    CHECK_CONTAINS(spk_last_error(), "nest64");
    /* the deepest one still binds and evaluates: 63 additions */
    spk_table *t = NULL;
    CHECK_OK(spk_table_from_fixture(NULL, "v INT\n1\n10", &t));
    spk_bound *b = NULL;
    spk_expr *call = spk_udf_call(prev, 1, spk_col("v"));
    CHECK_OK(spk_expr_bind(call, spk_table_schema(t), false, &b));
    spk_table *out = NULL;
    if (b) CHECK_OK(spk_bound_eval(b, t, &out));
    if (out) {
        char *text = table_text(out);
        CHECK_STR(text, "64|73");
        free(text);
    }
    spk_table_free(out);
    spk_bound_free(b);
    spk_expr_release(call);
    spk_table_free(t);
    spk_udf_release(prev);
}

/* ------------------------------------------------------------ registries */

static void test_registry(void) {
    spk_udf_registry *r = NULL;
    CHECK_OK(spk_udf_registry_new(&r));
    spk_udf *p = make_scalar("plus_one", SPK_TYPE_INT32, SPK_TYPE_INT32, plus_one, NULL);
    CHECK(spk_udf_lookup(r, "plus_one") == NULL);
    CHECK_OK(spk_udf_register(r, p));
    spk_udf *found = spk_udf_lookup(r, "PLUS_ONE"); /* case-insensitive */
    CHECK(found == p);
    spk_udf_release(found);
    /* register replaces the same name, whatever its case */
    spk_udf *p2 = make_scalar("Plus_ONE", SPK_TYPE_INT32, SPK_TYPE_INT32, plus_one, NULL);
    CHECK_OK(spk_udf_register(r, p2));
    found = spk_udf_lookup(r, "plus_one");
    CHECK(found == p2);
    CHECK_STR(spk_udf_name(found), "Plus_ONE");
    spk_udf_release(found);
    /* many names */
    for (int i = 0; i < 40; i++) {
        char name[16];
        snprintf(name, sizeof name, "f%d", i);
        reg(r, make_scalar(name, SPK_TYPE_INT32, SPK_TYPE_INT32, plus_one, NULL));
    }
    found = spk_udf_lookup(r, "f39");
    CHECK(found && strcmp(spk_udf_name(found), "f39") == 0);
    spk_udf_release(found);
    CHECK_OK(spk_udf_unregister(r, "F20"));
    CHECK(spk_udf_lookup(r, "f20") == NULL);
    CHECK_STATUS(spk_udf_unregister(r, "f20"), SPK_ERR_NOT_FOUND);
    CHECK_CONTAINS(spk_last_error(), "`f20`");
    found = spk_udf_lookup(r, "f21");
    CHECK(found != NULL);
    spk_udf_release(found);
    /* a looked-up UDF outlives the registry */
    found = spk_udf_lookup(r, "plus_one");
    CHECK_STATUS(spk_udf_register(r, NULL), SPK_ERR_ARG);
    CHECK_STATUS(spk_udf_register(NULL, p), SPK_ERR_ARG);
    /* strict flag */
    CHECK(!spk_udf_registry_strict(r));
    spk_udf_registry_set_strict(r, true);
    CHECK(spk_udf_registry_strict(r));
    spk_udf_registry_set_strict(r, false);
    CHECK(!spk_udf_registry_strict(r));
    CHECK(!spk_udf_registry_strict(NULL));
    CHECK(spk_udf_registry_retain(r) == r);
    spk_udf_registry_release(r);
    spk_udf_registry_release(r);
    spk_udf_registry_release(NULL);
    CHECK_STR(spk_udf_name(found), "Plus_ONE");
    spk_udf_release(found);
    spk_udf_release(p);
    spk_udf_release(p2);
    /* the global registry: one, made once */
    spk_udf_registry *g = spk_udf_global();
    CHECK(g != NULL && g == spk_udf_global());
    /* the session's */
    spk_session *s = new_session();
    CHECK(spk_session_udfs(s) != NULL && spk_session_udfs(s) != g);
    CHECK(spk_session_udfs(NULL) == NULL);
    drop_held();
    spk_session_stop(s);
}

/* Registries under concurrent registration and lookup. */
typedef struct reg_race {
    spk_udf_registry *r;
    int id;
    int bad;
} reg_race;

static int reg_race_thread(void *arg) {
    reg_race *x = (reg_race *)arg;
    for (int i = 0; i < 300; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%d_%d", x->id, i % 7);
        spk_udf *u = make_scalar(name, SPK_TYPE_INT32, SPK_TYPE_INT32, plus_one, NULL);
        if (spk_udf_register(x->r, u) != SPK_OK) x->bad++;
        spk_udf *found = spk_udf_lookup(x->r, name);
        if (found != u) x->bad++;
        spk_udf_release(found);
        spk_udf_release(u);
        spk_udf_release(spk_udf_lookup(x->r, "shared"));
        if (i % 3 == 0 && spk_udf_unregister(x->r, name) != SPK_OK) x->bad++;
        if (i % 50 == 0) spk_udf_registry_set_strict(x->r, i % 100 == 0);
        (void)spk_udf_registry_strict(x->r);
    }
    return 0;
}

static void test_registry_threads(void) {
    spk_udf_registry *r = NULL;
    CHECK_OK(spk_udf_registry_new(&r));
    reg(r, make_scalar("shared", SPK_TYPE_INT32, SPK_TYPE_INT32, plus_one, NULL));
    reg_race x[4];
    mt_thread th[4];
    for (int i = 0; i < 4; i++) {
        x[i].r = r;
        x[i].id = i;
        x[i].bad = 0;
        CHECK(mt_start(&th[i], reg_race_thread, &x[i]));
    }
    for (int i = 0; i < 4; i++) mt_join(&th[i]);
    for (int i = 0; i < 4; i++) CHECK_EQ_INT(x[i].bad, 0);
    spk_udf *u = spk_udf_lookup(r, "t0_6");
    CHECK(u != NULL);
    spk_udf_release(u);
    spk_udf_registry_release(r);
}

/* ------------------------------------------------------------ scalar UDFs in queries */

#define PEOPLE "id BIGINT, v INT, name STRING, d DATE\n1,1,ann,2024-01-31\n2,NULL,NULL,NULL\n3,-5,bob,2023-12-31\n4,41,cy,2020-02-28"

static void test_scalar_select(void) {
    spk_session *s = new_session();
    spk_udf *p = make_scalar("plus_one", SPK_TYPE_INT32, SPK_TYPE_INT32, plus_one, NULL);
    spk_udf *g = make_scalar("greet", SPK_TYPE_STRING, SPK_TYPE_STRING, greet, NULL);
    spk_udf *nd = make_scalar("next_day", SPK_TYPE_DATE, SPK_TYPE_DATE, next_day, NULL);
    spk_type dd[2] = {T(SPK_TYPE_DOUBLE), T(SPK_TYPE_DOUBLE)};
    spk_udf *ad = NULL;
    CHECK_OK(spk_udf_scalar("add_d", dd, 2, T(SPK_TYPE_DOUBLE), add_d, NULL, &ad));
    spk_df *df = spk_df_from_fixture(s, PEOPLE);
    spk_df *sel = spk_df_select(df, 4, spk_udf_call(p, 1, spk_col("v")), spk_udf_call(g, 1, spk_col("name")),
                                spk_udf_call(nd, 1, spk_col("d")),
                                spk_udf_call(ad, 2, spk_col("v"), spk_lit_f64(0.5))); /* INT -> DOUBLE implicitly */
    CHECK_STR(col_name(sel, 0), "plus_one(v)");
    CHECK_STR(col_name(sel, 1), "greet(name)");
    CHECK_STR(col_name(sel, 3), "add_d(v, 0.5)");
    if (sel) {
        const spk_field *f = spk_schema_field(spk_df_schema(sel), 1);
        CHECK(f->type.id == SPK_TYPE_STRING && f->nullable);
        CHECK(spk_schema_field(spk_df_schema(sel), 2)->type.id == SPK_TYPE_DATE);
    }
    EXPECT_ROWS(sel, "2,hi ann,2024-02-01,1.5|NULL,nobody,NULL,NULL|-4,hi bob,2024-01-01,-4.5|42,hi cy,2020-02-29,41.5");
    /* filter and withColumn; a STRING argument cast to INT implicitly */
    spk_udf *ev = make_scalar("is_even", SPK_TYPE_INT64, SPK_TYPE_BOOLEAN, is_even, NULL);
    EXPECT_ROWS(spk_df_filter(df, spk_udf_call(ev, 1, spk_col("id"))), "2,NULL,NULL,NULL|4,41,cy,2020-02-28");
    spk_df *wc = spk_df_with_column(df, "w", spk_udf_call(p, 1, spk_udf_call(p, 1, spk_lit_str("7"))));
    spk_df *proj = spk_df_select(wc, 2, spk_col("id"), spk_col("w"));
    EXPECT_ROWS(proj, "1,9|2,9|3,9|4,9");
    spk_df_release(wc);
    spk_df_release(df);
    spk_udf_release(p);
    spk_udf_release(g);
    spk_udf_release(nd);
    spk_udf_release(ad);
    spk_udf_release(ev);
    drop_held();
    spk_session_stop(s);
}

/* Many rows over every thread count; compared with the same computation in C. */
static void test_scalar_many_rows(void) {
    spk_session *s = new_session();
    spk_udf *g = make_scalar("greet", SPK_TYPE_STRING, SPK_TYPE_STRING, greet, NULL);
    spk_udf *ev = make_scalar("is_even", SPK_TYPE_INT64, SPK_TYPE_BOOLEAN, is_even, NULL);
    reg(spk_session_udfs(s), make_scalar("plus_one", SPK_TYPE_INT32, SPK_TYPE_INT32, plus_one, NULL));
    enum { N = 3000 };
    spk_df *r = spk_df_range(s, 0, N, 1);
    spk_df *w = spk_df_with_column(r, "s", spk_call("concat", 2, spk_lit_str("n"), spk_col("id")));
    spk_df *f = spk_df_filter(w, spk_udf_call(ev, 1, spk_col("id")));
    spk_df *sel = spk_df_select(f, 3, spk_col("id"), spk_udf_call(g, 1, spk_col("s")),
                                sql("plus_one(CAST(id AS INT) * 2)"));
    spk_table *t = NULL;
    if (sel) CHECK_OK(spk_df_collect(sel, &t));
    else failf(__FILE__, __LINE__, "select failed: %s", spk_last_error());
    if (t) {
        CHECK_EQ_INT(spk_table_nrows(t), N / 2);
        int bad = 0;
        for (size_t i = 0; i < spk_table_nrows(t); i++) {
            spk_value a, b, c;
            char want[64];
            spk_table_get(t, i, 0, &a);
            spk_table_get(t, i, 1, &b);
            spk_table_get(t, i, 2, &c);
            int n = snprintf(want, sizeof want, "hi n%lld", (long long)(2 * i));
            bad += a.as.i64 != (int64_t)(2 * i) || b.is_null || b.as.str.len != (size_t)n ||
                   memcmp(b.as.str.ptr, want, (size_t)n) != 0 || c.as.i32 != (int32_t)(4 * i + 1);
        }
        CHECK_EQ_INT(bad, 0);
    }
    spk_table_free(t);
    spk_df_release(sel);
    spk_df_release(f);
    spk_df_release(w);
    spk_df_release(r);
    spk_udf_release(g);
    spk_udf_release(ev);
    drop_held();
    spk_session_stop(s);
}

/* Calls by name: spk_call, SQL text in selectExpr and where. */
static void test_by_name(void) {
    spk_session *s = new_session();
    spk_udf_registry *r = spk_session_udfs(s);
    reg(r, make_scalar("plus_one", SPK_TYPE_INT32, SPK_TYPE_INT32, plus_one, NULL));
    reg(r, make_scalar("IsEven", SPK_TYPE_INT64, SPK_TYPE_BOOLEAN, is_even, NULL));
    reg(r, make_scalar("greet", SPK_TYPE_STRING, SPK_TYPE_STRING, greet, NULL));
    spk_df *df = spk_df_from_fixture(s, PEOPLE);
    EXPECT_ROWS(spk_df_select(df, 1, spk_call("PLUS_ONE", 1, spk_col("v"))), "2|NULL|-4|42");
    spk_df *se = spk_df_select_expr(df, 2, "plus_one(v) + 1 AS w", "greet(upper(name))");
    CHECK_STR(col_name(se, 0), "w");
    CHECK_STR(col_name(se, 1), "greet(upper(name))");
    EXPECT_ROWS(se, "3,hi ANN|NULL,nobody|-3,hi BOB|43,hi CY");
    EXPECT_ROWS(spk_df_select(hold(spk_df_where(df, "iseven(id) AND plus_one(v) > 0")), 1, spk_col("name")), "cy");
    /* a built-in keeps its name: a UDF called upper is not consulted */
    reg(r, make_scalar("upper", SPK_TYPE_STRING, SPK_TYPE_STRING, greet, NULL));
    EXPECT_ROWS(spk_df_select_expr(df, 1, "upper(name)"), "ANN|NULL|BOB|CY");
    spk_df_release(df);
    drop_held();
    spk_session_stop(s);
}

/* minus_hundred(INT) -> INT: another function under a name plus_one also uses. */
static spk_status minus_hundred(void *user, const spk_value *args, int nargs, spk_value *result) {
    (void)user;
    (void)nargs;
    *result = args[0].is_null ? spk_value_null_of(T(SPK_TYPE_INT32)) : spk_value_i32(args[0].as.i32 - 100);
    return SPK_OK;
}

/* A call holding its UDF keeps it when the optimizer moves it: the filter
 * over a projection is pushed below it and rebuilt, and must not fall back
 * to resolving the name, here to another UDF the session registered. */
static void test_optimizer_keeps_reference(void) {
    spk_session *s = new_session();
    spk_udf *mine = make_scalar("shift", SPK_TYPE_INT32, SPK_TYPE_INT32, plus_one, NULL);
    reg(spk_session_udfs(s), make_scalar("shift", SPK_TYPE_INT32, SPK_TYPE_INT32, minus_hundred, NULL));
    spk_df *df = spk_df_from_fixture(s, PEOPLE);
    spk_df *p = hold(spk_df_select(df, 2, spk_alias(spk_col("v"), "w"), spk_col("name")));
    spk_df *f = hold(spk_df_filter(p, spk_gt(spk_udf_call(mine, 1, spk_col("w")), spk_lit_i32(1))));
    EXPECT_SET(spk_df_select(f, 1, spk_col("name")), "ann|cy");
    /* by name, the session's UDF is the one meant */
    EXPECT_SET(spk_df_select(hold(spk_df_where(p, "shift(w) < 0")), 1, spk_col("name")), "ann|bob|cy");
    spk_udf_release(mine);
    spk_df_release(df);
    drop_held();
    spk_session_stop(s);
}

/* session -> worker context -> global, each shadowing the next. */
static void test_resolution_order(void) {
    static int one = 1, two = 2, three = 3;
    spk_session *s = new_session();
    spk_session *child = NULL;
    CHECK_OK(spk_session_new_session(s, &child));
    spk_udf_registry *wr = NULL;
    CHECK_OK(spk_udf_registry_new(&wr));
    spk_udf *cg = NULL, *cw = NULL, *cs = NULL;
    CHECK_OK(spk_udf_scalar("which_one", NULL, 0, T(SPK_TYPE_INT32), constant, &one, &cg));
    CHECK_OK(spk_udf_scalar("which_one", NULL, 0, T(SPK_TYPE_INT32), constant, &two, &cw));
    CHECK_OK(spk_udf_scalar("which_one", NULL, 0, T(SPK_TYPE_INT32), constant, &three, &cs));
    spk_df *df = spk_df_from_fixture(s, "a INT\n7");
    spk_df *cdf = spk_df_from_fixture(child, "a INT\n7");
    EXPECT_FAIL(spk_df_select_expr(df, 1, "which_one()"), SPK_ERR_NOT_FOUND, "[UNRESOLVED_ROUTINE] Cannot resolve function `which_one`");
    CHECK_OK(spk_udf_register(spk_udf_global(), cg));
    EXPECT_ROWS(spk_df_select_expr(df, 1, "which_one()"), "1");
    spk_set_worker_ctx(wr);
    CHECK(spk_worker_ctx() == wr);
    EXPECT_ROWS(spk_df_select_expr(df, 1, "which_one()"), "1");
    CHECK_OK(spk_udf_register(wr, cw));
    EXPECT_ROWS(spk_df_select_expr(df, 1, "which_one()"), "2");
    CHECK_OK(spk_udf_register(spk_session_udfs(s), cs));
    EXPECT_ROWS(spk_df_select_expr(df, 1, "which_one()"), "3");
    /* the child session has its own (empty) registry */
    CHECK(spk_session_udfs(child) != spk_session_udfs(s));
    EXPECT_ROWS(spk_df_select_expr(cdf, 1, "which_one()"), "2");
    CHECK_OK(spk_udf_unregister(spk_session_udfs(s), "which_one"));
    EXPECT_ROWS(spk_df_select_expr(df, 1, "which_one()"), "2");
    spk_clear_worker_ctx();
    CHECK(spk_worker_ctx() == NULL);
    EXPECT_ROWS(spk_df_select_expr(df, 1, "which_one()"), "1");
    /* a DataFrame keeps what it was bound to */
    spk_df *bound = spk_df_select_expr(df, 1, "which_one()");
    CHECK_OK(spk_udf_unregister(spk_udf_global(), "which_one"));
    EXPECT_ROWS(bound, "1");
    EXPECT_FAIL(spk_df_select_expr(df, 1, "which_one()"), SPK_ERR_NOT_FOUND, "which_one");
    /* set_worker_ctx replaces (retaining the new one, releasing the old) */
    spk_udf_registry *wr2 = NULL;
    CHECK_OK(spk_udf_registry_new(&wr2));
    spk_set_worker_ctx(wr);
    spk_set_worker_ctx(wr2);
    spk_udf_registry_release(wr2); /* the context holds it */
    CHECK(spk_worker_ctx() == wr2);
    EXPECT_FAIL(spk_df_select_expr(df, 1, "which_one()"), SPK_ERR_NOT_FOUND, "which_one");
    spk_clear_worker_ctx();
    spk_udf_registry_release(wr);
    spk_udf_release(cg);
    spk_udf_release(cw);
    spk_udf_release(cs);
    spk_df_release(df);
    spk_df_release(cdf);
    spk_session_stop(child);
    drop_held();
    spk_session_stop(s);
}

static void test_scalar_errors(void) {
    spk_session *s = new_session();
    spk_udf_registry *r = spk_session_udfs(s);
    spk_udf *p = make_scalar("plus_one", SPK_TYPE_INT32, SPK_TYPE_INT32, plus_one, NULL);
    CHECK_OK(spk_udf_register(r, p));
    reg(r, make_scalar("no_neg", SPK_TYPE_INT32, SPK_TYPE_INT32, no_neg, NULL));
    reg(r, make_scalar("liar", SPK_TYPE_INT32, SPK_TYPE_INT32, liar, NULL));
    spk_df *df = spk_df_from_fixture(s, PEOPLE);
    /* argument types: BOOLEAN and DATE do not cast to INT implicitly */
    EXPECT_FAIL(spk_df_select_expr(df, 1, "plus_one(v > 1)"), SPK_ERR_TYPE, "argument 1 of the UDF `plus_one` requires the \"INT\" type, however it has the type \"BOOLEAN\"");
    EXPECT_FAIL(spk_df_select(df, 1, spk_udf_call(p, 1, spk_col("d"))), SPK_ERR_TYPE, "`plus_one`");
    /* arity: by name at bind, by reference when the call is made */
    EXPECT_FAIL(spk_df_select_expr(df, 1, "plus_one(v, v)"), SPK_ERR_ARG,
                "[WRONG_NUM_ARGS] The `plus_one` requires 1 parameters but the actual number is 2.");
    CHECK(spk_udf_call(p, 2, spk_col("v"), spk_col("v")) == NULL);
    CHECK(spk_last_status() == SPK_ERR_ARG);
    CHECK_CONTAINS(spk_last_error(), "The `plus_one` requires 1 parameters but the actual number is 2.");
    CHECK(spk_udf_call(NULL, 1, spk_col("v")) == NULL);
    spk_expr *none[1] = {NULL};
    CHECK(spk_udf_call_array(p, none, 0) == NULL);
    /* DISTINCT */
    EXPECT_FAIL(spk_df_select_expr(df, 1, "plus_one(DISTINCT v)"), SPK_ERR_UNSUPPORTED, "plus_one");
    /* a failing call fails the query, naming the UDF and carrying its inner message */
    EXPECT_ROWS(spk_df_select_expr(hold(spk_df_where(df, "v > 0")), 1, "no_neg(v)"), "1|41");
    EXPECT_FAIL(spk_df_select_expr(df, 1, "no_neg(v)"), SPK_ERR_RANGE, "the UDF `no_neg` (call) failed with SPK_ERR_RANGE");
    CHECK_CONTAINS(spk_last_error(), "no such type");
    /* a result of another type */
    EXPECT_FAIL(spk_df_select_expr(df, 1, "liar(v)"), SPK_ERR_TYPE,
                "the UDF `liar` returned a value of type \"STRING\", but it is declared to return \"INT\"");
    /* and in a filter */
    EXPECT_FAIL(spk_df_where(df, "no_neg(v) > 0"), SPK_ERR_RANGE, "no_neg");
    spk_df_release(df);
    spk_udf_release(p);
    drop_held();
    spk_session_stop(s);
}

/* A UDF is never constant-folded, even with constant arguments. */
static void test_no_folding(void) {
    spk_session *s = new_session();
    spk_udf *p = make_scalar("plus_one", SPK_TYPE_INT32, SPK_TYPE_INT32, plus_one, NULL);
    spk_udf *a = NULL;
    CHECK_OK(spk_udf_scalar("answer", NULL, 0, T(SPK_TYPE_INT32), answer, NULL, &a));
    spk_schema *schema = NULL;
    CHECK_OK(spk_schema_parse(NULL, "x INT", &schema));
    spk_bound *b = NULL;
    spk_expr *e = spk_add(spk_udf_call(p, 1, spk_lit_i32(1)), spk_lit_i32(1));
    long before = atomic_load(&plus_one_calls);
    CHECK_OK(spk_expr_bind(e, schema, false, &b));
    CHECK_EQ_INT(atomic_load(&plus_one_calls), before); /* not called while binding */
    spk_value v;
    CHECK_STATUS(spk_bound_constant(b, &v), SPK_ERR_STATE);
    spk_bound_free(b);
    spk_expr_release(e);
    spk_schema_release(schema);
    spk_df *df = spk_df_from_fixture(s, "x INT\n1\n2\n3");
    long answers = atomic_load(&answer_calls);
    EXPECT_ROWS(spk_df_select(df, 2, spk_udf_call(a, 0), spk_udf_call(p, 1, spk_lit_i32(5))), "42,6|42,6|42,6");
    CHECK_EQ_INT(atomic_load(&answer_calls) - answers, 3);
    spk_df_release(df);
    spk_udf_release(p);
    spk_udf_release(a);
    drop_held();
    spk_session_stop(s);
}

/* ------------------------------------------------------------ aggregate UDFs */

static void test_aggregate(void) {
    spk_session *s = new_session();
    spk_udf *prod = make_agg("prod_mod", SPK_TYPE_INT64, SPK_TYPE_INT64, &prod_fns);
    spk_udf *cat = make_agg("collect_sorted", SPK_TYPE_STRING, SPK_TYPE_STRING, &sl_fns);
    reg(spk_session_udfs(s), spk_udf_retain(cat));
    /* rows: key k = i % 37 (NULL for i % 101 == 0), x = i * 7 (NULL when i % 5 == 0),
     * name = "w<i % 13>"; key 36's x is always NULL */
    enum { N = 2500, K = 37 };
    spk_schema *schema = NULL;
    CHECK_OK(spk_schema_parse(NULL, "k INT, x BIGINT, name STRING", &schema));
    spk_value *rows = (spk_value *)calloc((size_t)N * 3, sizeof *rows);
    char (*names)[16] = (char (*)[16])calloc(N, 16);
    for (int i = 0; i < N; i++) {
        snprintf(names[i], 16, "w%d", i % 13);
        rows[3 * i] = i % 101 == 0 ? spk_value_null_of(T(SPK_TYPE_INT32)) : spk_value_i32(i % K);
        rows[3 * i + 1] = i % 5 == 0 || i % K == 36 ? spk_value_null_of(T(SPK_TYPE_INT64)) : spk_value_i64((int64_t)i * 7);
        rows[3 * i + 2] = spk_value_str(names[i]);
    }
    spk_df *df = spk_df_from_rows(s, schema, rows, N);
    /* the reference: per key (K = NULL key), product and sorted names */
    int64_t want_prod[K + 1];
    long want_count[K + 1];
    char *want_names[K + 1];
    for (int k = 0; k <= K; k++) {
        want_prod[k] = 1;
        want_count[k] = 0;
        int counts[13] = {0};
        for (int i = 0; i < N; i++) {
            int key = i % 101 == 0 ? K : i % K;
            if (key != k) continue;
            counts[i % 13]++;
            if (!rows[3 * i + 1].is_null) {
                want_prod[k] = want_prod[k] * prod_factor((int64_t)i * 7) % 1000003;
                want_count[k]++;
            }
        }
        /* sorted as strings: w0 w1 w10 w11 w12 w2 ... */
        char *order[13];
        for (int j = 0; j < 13; j++) {
            order[j] = (char *)malloc(16);
            snprintf(order[j], 16, "w%d", j);
        }
        qsort(order, 13, sizeof *order, cmp_str);
        sbuf b = {NULL, 0, 0};
        sb_str(&b, "");
        for (int j = 0; j < 13; j++) {
            int idx = atoi(order[j] + 1);
            for (int c = 0; c < counts[idx]; c++) {
                if (b.len) sb_str(&b, ",");
                sb_str(&b, order[j]);
            }
            free(order[j]);
        }
        want_names[k] = b.p;
    }
    FOR_EACH_THREAD_COUNT(round_) {
        spk_expr *keys[1] = {spk_col("k")};
        spk_expr *aggs[3] = {spk_udf_call(prod, 1, spk_col("x")), sql("collect_sorted(name)"), spk_call("count", 1, spk_col("x"))};
        spk_df *g = spk_df_group_agg(df, keys, 1, aggs, 3);
        CHECK_STR(col_name(g, 1), "prod_mod(x)");
        CHECK_STR(col_name(g, 2), "collect_sorted(name)");
        spk_table *t = NULL;
        if (g) CHECK_OK(spk_df_collect(g, &t));
        else failf(__FILE__, __LINE__, "groupBy failed: %s", spk_last_error());
        if (t) {
            CHECK_EQ_INT(spk_table_nrows(t), K + 1);
            int bad = 0;
            for (size_t i = 0; i < spk_table_nrows(t); i++) {
                spk_value k, p, n, c;
                spk_table_get(t, i, 0, &k);
                spk_table_get(t, i, 1, &p);
                spk_table_get(t, i, 2, &n);
                spk_table_get(t, i, 3, &c);
                int key = k.is_null ? K : k.as.i32;
                bool prod_ok = want_count[key] ? !p.is_null && p.as.i64 == want_prod[key] : p.is_null;
                bool names_ok = !n.is_null && n.as.str.len == strlen(want_names[key]) &&
                                memcmp(n.as.str.ptr, want_names[key], n.as.str.len) == 0;
                if (!prod_ok || !names_ok || c.as.i64 != want_count[key]) {
                    if (!bad) failf(__FILE__, __LINE__, "group %d: prod %lld (want %lld), names %.*s", key,
                                    (long long)p.as.i64, (long long)want_prod[key], (int)n.as.str.len, n.as.str.ptr);
                    bad++;
                }
            }
            CHECK_EQ_INT(bad, 0);
        }
        spk_table_free(t);
        spk_df_release(g);
        CHECK_EQ_INT(atomic_load(&strlist_live), 0); /* every state destroyed */
        /* a global aggregate, and an expression over aggregates */
        int64_t all = 1;
        for (int k = 0; k <= K; k++) all = all * want_prod[k] % 1000003;
        char want[64];
        snprintf(want, sizeof want, "%lld,%lld", (long long)all, (long long)((all + 1) * 2));
        spk_df *a = spk_df_agg(df, 2, spk_udf_call(prod, 1, spk_col("x")),
                               spk_mul(spk_add(spk_udf_call(prod, 1, spk_col("x")), spk_lit_i64(1)), spk_lit_i64(2)));
        EXPECT_ROWS(a, want);
        /* no rows: NULL */
        EXPECT_ROWS(spk_df_agg(hold(spk_df_where(df, "k > 1000")), 1, sql("collect_sorted(name)")), "NULL");
    }
    /* spk_bound_eval on an aggregate */
    spk_table *t = NULL;
    CHECK_OK(spk_table_from_fixture(NULL, "name STRING\nb\nNULL\na\nc", &t));
    spk_bound *b = NULL;
    spk_expr *e = spk_udf_call(cat, 1, spk_col("name"));
    CHECK_OK(spk_expr_bind(e, spk_table_schema(t), false, &b));
    CHECK(spk_bound_is_aggregate(b));
    spk_table *out = NULL;
    if (b) CHECK_OK(spk_bound_eval(b, t, &out));
    if (out) {
        char *text = table_text(out);
        CHECK_STR(text, "a,b,c");
        free(text);
        CHECK_STR(spk_schema_field(spk_table_schema(out), 0)->name, "collect_sorted(name)");
    }
    spk_table_free(out);
    spk_bound_free(b);
    spk_expr_release(e);
    spk_table_free(t);
    for (int k = 0; k <= K; k++) free(want_names[k]);
    free(rows);
    free(names);
    spk_schema_release(schema);
    spk_df_release(df);
    spk_udf_release(prod);
    spk_udf_release(cat);
    drop_held();
    spk_session_stop(s);
}

static void test_aggregate_errors(void) {
    spk_session *s = new_session();
    spk_udf *prod = make_agg("prod_mod", SPK_TYPE_INT64, SPK_TYPE_INT64, &prod_fns);
    reg(spk_session_udfs(s), spk_udf_retain(prod));
    spk_df *df = spk_df_from_fixture(s, "k INT, x BIGINT, b BOOLEAN\n1,3,true\n1,-999,false\n2,4,true");
    /* update failing fails the query, naming the UDF */
    EXPECT_FAIL(spk_df_agg(df, 1, sql("prod_mod(x)")), SPK_ERR_RANGE, "the UDF `prod_mod` (update) failed");
    spk_expr *keys[1] = {spk_col("k")};
    spk_expr *aggs[1] = {sql("prod_mod(x)")};
    EXPECT_FAIL(spk_df_group_agg(df, keys, 1, aggs, 1), SPK_ERR_RANGE, "prod_mod");
    /* nested aggregates, DISTINCT, types, arity */
    EXPECT_FAIL(spk_df_agg(df, 1, sql("prod_mod(sum(x))")), SPK_ERR_ANALYSIS, "NESTED_AGGREGATE_FUNCTION");
    EXPECT_FAIL(spk_df_agg(df, 1, sql("sum(prod_mod(x))")), SPK_ERR_ANALYSIS, "NESTED_AGGREGATE_FUNCTION");
    EXPECT_FAIL(spk_df_agg(df, 1, sql("prod_mod(DISTINCT x)")), SPK_ERR_UNSUPPORTED, "prod_mod");
    EXPECT_FAIL(spk_df_agg(df, 1, sql("prod_mod(b)")), SPK_ERR_TYPE, "`prod_mod`");
    EXPECT_FAIL(spk_df_agg(df, 1, sql("prod_mod(x, x)")), SPK_ERR_ARG, "The `prod_mod` requires 1 parameters");
    /* over the rows that do not fail, with an INT argument widened to BIGINT */
    EXPECT_ROWS(spk_df_agg(hold(spk_df_where(df, "x > 0")), 1, sql("prod_mod(k)")), "6");
    spk_df_release(df);
    spk_udf_release(prod);
    drop_held();
    spk_session_stop(s);
}

/* ------------------------------------------------------------ macros */

static void test_macros(void) {
    spk_session *s = new_session();
    spk_udf_registry *r = spk_session_udfs(s);
    spk_udf *dbl = make_macro("double_it", "x INT", "x * 2");
    CHECK_OK(spk_udf_register(r, dbl));
    reg(r, make_macro("quad", "x INT", "double_it(double_it(x))"));
    reg(r, make_macro("shout", "s STRING", "upper(s) || '!'"));
    reg(r, make_macro("total", "x BIGINT", "sum(x) * 2"));
    reg(r, make_macro("answer_m", "", "40 + 2"));
    reg(r, make_macro("inc_twice", "x INT", "plus_one(plus_one(x))"));
    reg(r, make_scalar("plus_one", SPK_TYPE_INT32, SPK_TYPE_INT32, plus_one, NULL));
    reg(r, make_macro("mix", "a INT, b STRING", "concat(b, ':', a + a)"));
    spk_df *df = spk_df_from_fixture(s, PEOPLE);
    spk_df *sel = spk_df_select(df, 2, spk_udf_call(dbl, 1, spk_col("v")), sql("DOUBLE_IT(v + 1)"));
    CHECK_STR(col_name(sel, 0), "double_it(v)");
    CHECK_STR(col_name(sel, 1), "double_it((v + 1))");
    if (sel) CHECK(spk_schema_field(spk_df_schema(sel), 0)->type.id == SPK_TYPE_INT32);
    EXPECT_ROWS(sel, "2,4|NULL,NULL|-10,-8|82,84");
    /* arguments are cast to the parameter's type: 2.7 -> 2, '5' -> 5 */
    EXPECT_ROWS(spk_df_select_expr(hold(spk_df_limit(df, 1)), 3, "double_it(2.7)", "double_it('5')", "answer_m()"), "4,10,42");
    EXPECT_ROWS(spk_df_select_expr(df, 3, "quad(v)", "shout(name)", "inc_twice(v)"),
                "4,ANN!,3|NULL,NULL,NULL|-20,BOB!,-3|164,CY!,43");
    EXPECT_ROWS(spk_df_select_expr(df, 1, "mix(v, name)"), "ann:2|NULL|bob:-10|cy:82");
    EXPECT_ROWS(spk_df_agg(df, 1, sql("total(id)")), "20");
    /* a macro holding another by reference, called through spk_udf_call */
    const char *xs[1] = {"x"};
    spk_type ints[1] = {T(SPK_TYPE_INT32)};
    spk_udf *oct = NULL;
    CHECK_OK(spk_udf_macro_expr("oct", xs, ints, 1, spk_udf_call(dbl, 1, spk_call("quad", 1, spk_col("x"))), &oct));
    spk_df *o = spk_df_select(df, 1, spk_udf_call(oct, 1, spk_col("id")));
    CHECK_STR(col_name(o, 0), "oct(id)");
    EXPECT_ROWS(o, "8|16|24|32");
    /* arity */
    EXPECT_FAIL(spk_df_select_expr(df, 1, "double_it(v, v)"), SPK_ERR_ARG,
                "[WRONG_NUM_ARGS] The `double_it` requires 1 parameters but the actual number is 2.");
    /* a body that does not type: the message says which macro */
    reg(r, make_macro("bad_body", "x DATE", "x * 2"));
    EXPECT_FAIL(spk_df_select_expr(df, 1, "bad_body(d)"), SPK_ERR_TYPE, "(in the macro `bad_body`)");
    /* recursion, direct and mutual */
    reg(r, make_macro("rec", "x INT", "rec(x) + 1"));
    EXPECT_FAIL(spk_df_select_expr(df, 1, "rec(v)"), SPK_ERR_LIMIT, "macro `rec`");
    reg(r, make_macro("ping", "x INT", "pong(x)"));
    reg(r, make_macro("pong", "x INT", "ping(x)"));
    EXPECT_FAIL(spk_df_select_expr(df, 1, "ping(v)"), SPK_ERR_LIMIT, "[MACRO_RECURSION]");
    /* a self-referencing body that stays shallow hits the 64-level bound itself */
    reg(r, make_macro("self", "x INT", "self(1)"));
    EXPECT_FAIL(spk_df_select_expr(df, 1, "self(v)"), SPK_ERR_LIMIT, "more than 64 levels deep");
    /* the caller's column names do not leak into the body */
    reg(r, make_macro("uses_v", "x INT", "x + 1"));
    EXPECT_ROWS(spk_df_select_expr(df, 1, "uses_v(id)"), "2|3|4|5");
    spk_df_release(df);
    spk_udf_release(dbl);
    spk_udf_release(oct);
    drop_held();
    spk_session_stop(s);
}

/* Expansion never builds a tree taller than SPK_EXPR_MAX_DEPTH (1000). */
static void test_macro_height(void) {
    sbuf body = {NULL, 0, 0}, arg = {NULL, 0, 0};
    sb_str(&body, "x");
    sb_str(&arg, "v");
    for (int i = 0; i < 600; i++) {
        sb_str(&body, " + 1");
        sb_str(&arg, " - 1");
    }
    spk_udf *tall = make_macro("tall", "x INT", body.p);
    spk_table *t = NULL;
    CHECK_OK(spk_table_from_fixture(NULL, "v INT\n1000", &t));
    spk_udf_registry *r = NULL;
    CHECK_OK(spk_udf_registry_new(&r));
    CHECK_OK(spk_udf_register(r, tall));
    spk_set_worker_ctx(r);
    spk_bound *b = NULL;
    spk_expr *small = spk_udf_call(tall, 1, spk_col("v"));
    CHECK_OK(spk_expr_bind(small, spk_table_schema(t), false, &b));
    spk_table *out = NULL;
    if (b) CHECK_OK(spk_bound_eval(b, t, &out));
    if (out) {
        char *text = table_text(out);
        CHECK_STR(text, "1600");
        free(text);
    }
    spk_table_free(out);
    spk_bound_free(b);
    b = NULL;
    spk_expr_release(small);
    /* an argument 600 levels tall substituted 600 levels down */
    spk_expr *big = spk_udf_call(tall, 1, sql(arg.p));
    CHECK(big != NULL);
    CHECK_STATUS(spk_expr_bind(big, spk_table_schema(t), false, &b), SPK_ERR_LIMIT);
    CHECK_CONTAINS(spk_last_error(), "macro `tall`");
    CHECK(b == NULL);
    spk_expr_release(big);
    /* the same through a chain of calls by name, each one short */
    spk_udf *wrap = make_macro("wrap", "x INT", "tall(tall(x))");
    CHECK_OK(spk_udf_register(r, wrap));
    spk_expr *chain = sql("wrap(v)");
    CHECK_STATUS(spk_expr_bind(chain, spk_table_schema(t), false, &b), SPK_ERR_LIMIT);
    CHECK_CONTAINS(spk_last_error(), "macro `tall`");
    spk_expr_release(chain);
    spk_clear_worker_ctx();
    spk_udf_registry_release(r);
    spk_udf_release(tall);
    spk_udf_release(wrap);
    spk_table_free(t);
    free(body.p);
    free(arg.p);
}

/* ------------------------------------------------------------ worker contexts on threads */

typedef struct worker_job {
    spk_udf_registry *r;
    int expect;
    int failures;
} worker_job;

static int worker_main(void *arg) {
    worker_job *j = (worker_job *)arg;
    spk_set_worker_ctx(j->r);
    spk_session *s = new_session();
    for (int i = 0; i < 20; i++) {
        if (spk_worker_ctx() != j->r) j->failures++;
        spk_df *df = spk_df_range(s, 0, 50, 1);
        spk_df *sel = spk_df_select_expr(df, 1, "tag() + CAST(id AS INT)");
        spk_table *t = NULL;
        if (!sel || spk_df_collect(sel, &t) != SPK_OK) {
            j->failures++;
        } else {
            for (size_t k = 0; k < spk_table_nrows(t); k++) {
                spk_value v;
                spk_table_get(t, k, 0, &v);
                if (v.is_null || v.as.i32 != j->expect + (int)k) j->failures++;
            }
        }
        spk_table_free(t);
        spk_df_release(sel);
        spk_df_release(df);
    }
    spk_session_stop(s);
    spk_clear_worker_ctx();
    return 0;
}

static void test_worker_ctx_threads(void) {
    static int a = 100, b = 200;
    spk_udf_registry *ra = NULL, *rb = NULL;
    CHECK_OK(spk_udf_registry_new(&ra));
    CHECK_OK(spk_udf_registry_new(&rb));
    spk_udf *ua = NULL, *ub = NULL;
    CHECK_OK(spk_udf_scalar("tag", NULL, 0, T(SPK_TYPE_INT32), constant, &a, &ua));
    CHECK_OK(spk_udf_scalar("tag", NULL, 0, T(SPK_TYPE_INT32), constant, &b, &ub));
    reg(ra, ua);
    reg(rb, ub);
    worker_job jobs[2] = {{ra, 100, 0}, {rb, 200, 0}};
    mt_thread th[2];
    CHECK(mt_start(&th[0], worker_main, &jobs[0]));
    CHECK(mt_start(&th[1], worker_main, &jobs[1]));
    mt_join(&th[0]);
    mt_join(&th[1]);
    CHECK_EQ_INT(jobs[0].failures, 0);
    CHECK_EQ_INT(jobs[1].failures, 0);
    CHECK(spk_worker_ctx() == NULL); /* the main thread's was never set */
    spk_udf_registry_release(ra);
    spk_udf_registry_release(rb);
}

/* ------------------------------------------------------------ allocation failures */

/* Makes, registers, binds and evaluates one of each kind; every failure is SPK_ERR_NOMEM. */
static spk_status sweep_workload(void) {
    spk_udf *p = NULL, *m = NULL, *a = NULL;
    spk_udf_registry *r = NULL;
    spk_table *t = NULL, *out = NULL, *out2 = NULL;
    spk_bound *b = NULL, *b2 = NULL;
    spk_expr *e = NULL, *e2 = NULL;
    spk_type i32 = T(SPK_TYPE_INT32);
    spk_status st = spk_udf_scalar("plus_one", &i32, 1, i32, plus_one, NULL, &p);
    if (st == SPK_OK) st = spk_udf_macro("twice", "x INT", "plus_one(x) * 2", &m);
    if (st == SPK_OK) st = spk_udf_aggregate("cat", T(SPK_TYPE_STRING), T(SPK_TYPE_STRING), &sl_fns, NULL, &a);
    if (st == SPK_OK) st = spk_udf_registry_new(&r);
    if (st == SPK_OK) st = spk_udf_register(r, p);
    if (st == SPK_OK) st = spk_udf_register(r, m);
    if (st == SPK_OK) st = spk_udf_register(r, a);
    if (st == SPK_OK) spk_set_worker_ctx(r);
    if (st == SPK_OK) st = spk_table_from_fixture(NULL, "v INT, s STRING\n1,x\nNULL,y\n3,z", &t);
    if (st == SPK_OK) st = spk_expr_parse("twice(v) + plus_one(length(s))", &e);
    if (st == SPK_OK) st = spk_expr_bind(e, spk_table_schema(t), false, &b);
    if (st == SPK_OK) st = spk_bound_eval(b, t, &out);
    if (st == SPK_OK) st = spk_expr_parse("cat(s)", &e2);
    if (st == SPK_OK) st = spk_expr_bind(e2, spk_table_schema(t), false, &b2);
    if (st == SPK_OK) st = spk_bound_eval(b2, t, &out2);
    if (st == SPK_OK) {
        spk_value v;
        if (spk_table_get(out, 0, 0, &v) != SPK_OK || v.as.i32 != 6) st = SPK_ERR_INTERNAL;
        if (spk_table_get(out2, 0, 0, &v) != SPK_OK || v.as.str.len != 5) st = SPK_ERR_INTERNAL;
    }
    spk_clear_worker_ctx();
    spk_table_free(out);
    spk_table_free(out2);
    spk_bound_free(b);
    spk_bound_free(b2);
    spk_expr_release(e);
    spk_expr_release(e2);
    spk_table_free(t);
    spk_udf_registry_release(r);
    spk_udf_release(p);
    spk_udf_release(m);
    spk_udf_release(a);
    return st;
}

static void test_alloc_sweep(void) {
    long live = sweep_live;
    CHECK_OK(sweep_workload());
    CHECK_EQ_INT(sweep_live, live);
    int failed = 0, completed = 0;
    for (long k = 1; k < 100000 && !completed; k++) {
        sweep_calls = 0;
        sweep_fail_at = k;
        spk_status st = sweep_workload();
        bool hit = sweep_calls >= k;
        sweep_fail_at = 0;
        if (!hit) {
            completed = 1; /* ran past the last allocation */
            if (st != SPK_OK) failf(__FILE__, __LINE__, "no allocation failed, yet %s: %s", spk_status_name(st), spk_last_error());
        } else if (st != SPK_ERR_NOMEM) {
            if (failed++ < 5) failf(__FILE__, __LINE__, "allocation %ld refused: %s (%s)", k, spk_status_name(st), spk_last_error());
        }
        if (sweep_live != live) {
            if (failed++ < 5) failf(__FILE__, __LINE__, "allocation %ld refused: %ld blocks leaked", k, sweep_live - live);
            live = sweep_live;
        }
    }
    CHECK(completed);
    CHECK_EQ_INT(atomic_load(&strlist_live), 0);
}

int main(void) {
    RUN(test_signature_and_accessors);
    RUN(test_constructor_errors);
    RUN(test_macro_nesting_limit);
    RUN(test_registry);
    RUN(test_registry_threads);
    RUN(test_resolution_order);
    RUN(test_macro_height);
    RUN(test_worker_ctx_threads);
    RUN(test_alloc_sweep);
    FOR_EACH_THREAD_COUNT(round_) {
        RUN(test_scalar_select);
        RUN(test_scalar_many_rows);
        RUN(test_by_name);
        RUN(test_optimizer_keeps_reference);
        RUN(test_scalar_errors);
        RUN(test_no_folding);
        RUN(test_aggregate_errors);
        RUN(test_macros);
    }
    RUN(test_aggregate); /* runs every thread count itself */
    return TEST_REPORT();
}
