/* bench/tpch — sparkless against DuckDB and SQLite on TPC-H data: loading and five queries.
 *
 *   build/bench/tpch [SF]      (default SF 1; BENCH_RUNS=n timed runs each, default and minimum 3)
 *
 * Data. lineitem, orders and customer at scale factor SF, written by
 * bench/tpch_gen.c's generator (compiled in) to build/tpch/sf<SF>/<table>.tbl
 * unless a file is there with its marker <table>.tbl.ok naming the generator
 * version, the table, SF and the file's size (bench/load shares lineitem's).
 * The missing tables are written in one pass.
 *
 * Engines. Each runs in a child process of its own (fork), one after the
 * other, so that its peak RSS (wait4's ru_maxrss: the whole child, data,
 * engine and all) is its own:
 *   sparkless, all threads   a session with spk_cpu_count() threads
 *   sparkless, 1 thread      the same with threads = 1
 *   DuckDB                   in memory, SET threads = spk_cpu_count()
 *   SQLite                   in memory (one thread)
 * The peers are loaded at run time with dlopen, so nothing links against
 * them: DuckDB from $DUCKDB_LIB, else bench/peers/duckdb/libduckdb.so (which
 * bench/install-peers puts there); SQLite as libsqlite3.so.0 or
 * libsqlite3.so. A peer that cannot be loaded is left out (its numbers
 * print as -).
 *
 * Workloads, each timed BENCH_RUNS times by wall clock (timespec_get);
 * the median counts:
 *   load   lineitem from its .tbl file; the last load is kept. Then orders
 *          and customer are loaded, untimed. Before its loads, each child
 *          reads the three files through (untimed), so that every engine
 *          finds them in the page cache.
 *          sparkless: spk_read_csv, delimiter '|', no header, FAILFAST, an
 *          explicit schema with TPC-H's types (keys BIGINT, l_linenumber
 *          INT, money and quantities DECIMAL(15,2), dates DATE, text STRING)
 *          plus a last STRING column that takes the empty field after each
 *          line's trailing '|' (never selected).
 *          DuckDB: CREATE OR REPLACE TABLE ... AS SELECT * FROM read_csv(...)
 *          with the same columns and types (VARCHAR for STRING).
 *          SQLite: the file parsed here (split at '|') and inserted with a
 *          prepared statement in one transaction into a table with
 *          INTEGER (keys, numbers), REAL (DECIMAL columns) and TEXT (dates,
 *          strings) columns; the time includes the parsing.
 *   q1     TPC-H Q1: l_shipdate <= 1998-09-02, grouped by l_returnflag,
 *          l_linestatus: sums of quantity, price, discounted price and
 *          charge, averages of quantity, price and discount, count.
 *   q6     TPC-H Q6: sum(l_extendedprice * l_discount) for shipdates in 1994,
 *          discount between 0.05 and 0.07, quantity < 24.
 *   q3     TPC-H Q3 for segment BUILDING and 1995-03-15: customer, orders and
 *          lineitem joined, revenue per order, the top 10 by revenue desc,
 *          o_orderdate, and l_orderkey (added so the answer is unique).
 *   qg     select l_partkey, count(*), sum(l_quantity) from lineitem
 *          group by l_partkey order by 3 desc, 1 limit 5
 *   qs     select l_orderkey, l_linenumber, l_extendedprice from lineitem
 *          order by l_extendedprice desc, l_orderkey, l_linenumber
 *          limit 5 offset N, with N = floor(lineitem rows / 2) for every SF
 *          (about 3000000 at SF 1; a fixed offset would be past the end at
 *          small scale factors and give nothing to compare).
 * The peers run SQL (in SQLite dates are text, compared as strings); sparkless
 * runs the same queries through the DataFrame API, and its time runs from
 * building the DataFrame through spk_df_collect. Each query runs once
 * untimed first (warm-up).
 *
 * TPCH_SKIP, a list such as "sqlite,1thread,duckdb", leaves those engines
 * out (they print as -), for quicker runs while optimising.
 *
 * Output. A few lines starting with "tpch:" (threads, SF, the size of the
 * three files, the 1-thread sparkless medians, each child's peak RSS), then
 * one line per workload, in the order load q1 q6 q3 qg qs:
 *   BENCH <workload> sf=<SF> sparkless_s=<median> duckdb_s=<median> sqlite_s=<median>
 *         vs_duckdb=<sparkless/duckdb> vs_sqlite=<sparkless/sqlite> peak_rss_mb=<n>
 * sparkless_s is the all-threads child; a peer that did not run prints - for
 * its time and ratio; peak_rss_mb is the all-threads sparkless child's.
 *
 * Check. Every engine's answer to each query (the last run's rows, in
 * order) is compared value by value with sparkless on all threads (the
 * 1-thread sparkless answer too). The sparkless value's type decides:
 * integers must be equal; strings and dates (yyyy-mm-dd) equal as text;
 * numbers equal within a relative tolerance of 1e-9
 * (|a - b| <= 1e-9 * max(|a|, |b|)), widened for a DECIMAL of scale s to
 * half a unit of its last digit, 0.5 * 10^-s, since Spark's avg of a
 * DECIMAL is a DECIMAL rounded to its scale where DuckDB and SQLite give a
 * double (and SQLite's REAL sums are doubles); the check allows a few units
 * in the last place more, for the rounding of the subtraction itself. A
 * difference prints
 *   tpch: MISMATCH <query> row <i>:
 * with the rows of both engines, and the exit status is 1; else
 *   tpch: all engines agree on every answer
 * TPCH_SHOW=1 prints every engine's answers first. Any error (a sparkless
 * call, a peer's SQL) exits 1 with its message. */
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L
#define TPCH_GEN_NO_MAIN
#include "tpch_gen.c"

#define SPARKLESS_IMPLEMENTATION
#include "../sparkless.h"
#include "bench_util.h"

#include <dlfcn.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- workloads, engines, tables ------------------------------------------------ */

enum { W_LOAD, W_Q1, W_Q6, W_Q3, W_QG, W_QS, NWORK };
static const char *const work_names[NWORK] = {"load", "q1", "q6", "q3", "qg", "qs"};

enum { E_SPARK_N, E_SPARK_1, E_DUCKDB, E_SQLITE, NENGINES };
static const char *const engine_labels[NENGINES] = {"sparkless", "sparkless (1 thread)", "DuckDB", "SQLite"};

enum { T_LINEITEM, T_ORDERS, T_CUSTOMER, NTABLES };
static const char *const table_names[NTABLES] = {"lineitem", "orders", "customer"};

typedef enum { C_BIGINT, C_INT, C_MONEY, C_DATE, C_TEXT } column_type;
static const char *const spark_types[] = {"BIGINT", "INT", "DECIMAL(15,2)", "DATE", "STRING"};
static const char *const duck_types[] = {"BIGINT", "INTEGER", "DECIMAL(15,2)", "DATE", "VARCHAR"};
static const char *const lite_types[] = {"INTEGER", "INTEGER", "REAL", "TEXT", "TEXT"};

typedef struct column {
    const char *name;
    column_type type;
} column;

/* Each table's columns, the last one taking the empty field after the
 * trailing '|' (sparkless and DuckDB read it, SQLite's loader skips it). */
#define MAX_COLS 17
static const column table_columns[NTABLES][MAX_COLS] = {
    {{"l_orderkey", C_BIGINT},      {"l_partkey", C_BIGINT},       {"l_suppkey", C_BIGINT},
     {"l_linenumber", C_INT},       {"l_quantity", C_MONEY},       {"l_extendedprice", C_MONEY},
     {"l_discount", C_MONEY},       {"l_tax", C_MONEY},            {"l_returnflag", C_TEXT},
     {"l_linestatus", C_TEXT},      {"l_shipdate", C_DATE},        {"l_commitdate", C_DATE},
     {"l_receiptdate", C_DATE},     {"l_shipinstruct", C_TEXT},    {"l_shipmode", C_TEXT},
     {"l_comment", C_TEXT},         {"l_trailing", C_TEXT}},
    {{"o_orderkey", C_BIGINT},      {"o_custkey", C_BIGINT},       {"o_orderstatus", C_TEXT},
     {"o_totalprice", C_MONEY},     {"o_orderdate", C_DATE},       {"o_orderpriority", C_TEXT},
     {"o_clerk", C_TEXT},           {"o_shippriority", C_INT},     {"o_comment", C_TEXT},
     {"o_trailing", C_TEXT}},
    {{"c_custkey", C_BIGINT},       {"c_name", C_TEXT},            {"c_address", C_TEXT},
     {"c_nationkey", C_BIGINT},     {"c_phone", C_TEXT},           {"c_acctbal", C_MONEY},
     {"c_mktsegment", C_TEXT},      {"c_comment", C_TEXT},         {"c_trailing", C_TEXT}},
};
static const int table_ncols[NTABLES] = {17, 10, 9}; /* the trailing column included */

/* ---- small helpers ------------------------------------------------------------- */


/* A growable byte string; on out of memory it says so and stops the process
 * (this is a benchmark, not a library). */
typedef struct strbuf {
    char *data;
    size_t len, cap;
} strbuf;

static void sb_reserve(strbuf *b, size_t more) {
    if (b->len + more + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        fprintf(stderr, "tpch: out of memory\n");
        _exit(1);
    }
    b->data = p;
    b->cap = cap;
}
static void sb_put(strbuf *b, const char *s, size_t n) {
    sb_reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}
static void sb_puts(strbuf *b, const char *s) { sb_put(b, s, strlen(s)); }
static void sb_printf(strbuf *b, const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n > 0) {
        sb_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}
/* Text with tabs, line breaks and backslashes escaped, so that one value is one field of one line. */
static void sb_put_escaped(strbuf *b, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\t') sb_put(b, "\\t", 2);
        else if (c == '\n') sb_put(b, "\\n", 2);
        else if (c == '\\') sb_put(b, "\\\\", 2);
        else sb_put(b, &c, 1);
    }
}
static void sb_free(strbuf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* dlsym's object pointer as a function pointer (memcpy keeps -Wpedantic quiet). */
static bool load_symbol(void *lib, const char *name, void *fn_ptr, size_t size, char *err, size_t cap) {
    void *sym = dlsym(lib, name);
    if (!sym) {
        snprintf(err, cap, "symbol %s missing", name);
        return false;
    }
    memcpy(fn_ptr, &sym, size);
    return true;
}
#define LOAD_SYMBOL(lib, field, name, err) load_symbol((lib), (name), &(field), sizeof(field), (err), sizeof(err))

/* ---- result rows ----------------------------------------------------------------
 * A row travels as one line: its cells separated by tabs, each cell a kind
 * letter, a decimal scale and ':' before its text (escaped):
 *   I integer, D decimal (scale given), F double, S string, T date, X text
 *   of unknown type (DuckDB's values as text), N NULL.
 * The sparkless cell's kind decides how a peer's cell is compared. */

static void put_cell(strbuf *b, char kind, int scale, const char *text, size_t n) {
    sb_printf(b, "\t%c%d:", kind, scale);
    sb_put_escaped(b, text, n);
}

/* ---- engine state -------------------------------------------------------------- */

typedef struct duck_api {
    int (*open)(const char *path, void **database);
    int (*connect)(void *database, void **connection);
    int (*query)(void *connection, const char *sql, void *result);
    const char *(*result_error)(void *result);
    uint64_t (*row_count)(void *result);
    uint64_t (*column_count)(void *result);
    char *(*value_varchar)(void *result, uint64_t col, uint64_t row);
    bool (*value_is_null)(void *result, uint64_t col, uint64_t row);
    void (*free)(void *ptr);
    void (*destroy_result)(void *result);
    void (*disconnect)(void **connection);
    void (*close)(void **database);
    const char *(*library_version)(void);
} duck_api;

/* duckdb_result is a struct the caller allocates (48 bytes in DuckDB 1.x);
 * room to spare, aligned for anything it holds. */
typedef union duck_result {
    unsigned char bytes[512];
    void *pointer;
    uint64_t number;
    long double wide;
} duck_result;

typedef struct lite_db lite_db;
typedef struct lite_stmt lite_stmt;
typedef struct lite_api {
    int (*open)(const char *path, lite_db **db);
    int (*close)(lite_db *db);
    int (*exec)(lite_db *db, const char *sql, int (*callback)(void *, int, char **, char **), void *arg,
                char **errmsg);
    const char *(*errmsg)(lite_db *db);
    int (*prepare)(lite_db *db, const char *sql, int nbytes, lite_stmt **stmt, const char **tail);
    int (*bind_int64)(lite_stmt *stmt, int i, int64_t v);
    int (*bind_double)(lite_stmt *stmt, int i, double v);
    int (*bind_text)(lite_stmt *stmt, int i, const char *text, int n, void (*destructor)(void *));
    int (*step)(lite_stmt *stmt);
    int (*reset)(lite_stmt *stmt);
    int (*finalize)(lite_stmt *stmt);
    int (*column_count)(lite_stmt *stmt);
    int (*column_type)(lite_stmt *stmt, int col);
    const unsigned char *(*column_text)(lite_stmt *stmt, int col);
    int (*column_bytes)(lite_stmt *stmt, int col);
    int64_t (*column_int64)(lite_stmt *stmt, int col);
    double (*column_double)(lite_stmt *stmt, int col);
    void (*free)(void *ptr);
    const char *(*libversion)(void);
} lite_api;
enum { LITE_OK = 0, LITE_ROW = 100, LITE_DONE = 101, LITE_INTEGER = 1, LITE_FLOAT = 2, LITE_TEXT = 3, LITE_NULL = 5 };

typedef struct engine {
    int kind; /* E_* */
    int threads;
    char err[2048];
    char version[128];
    int64_t lineitem_rows;
    bool missing; /* a peer whose library (or one of its functions) cannot be loaded */
    /* sparkless */
    spk_session *session;
    spk_schema *schemas[NTABLES];
    spk_df *tables[NTABLES];
    /* DuckDB */
    void *duck_lib, *duck_db, *duck_conn;
    duck_api duck;
    /* SQLite */
    void *lite_lib;
    lite_db *lite;
    lite_api sq;
} engine;

/* Keeps the engine's error message for the child to report; returns false. */
static bool engine_fail(engine *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->err, sizeof e->err, fmt, ap);
    va_end(ap);
    return false;
}

/* ---- sparkless ------------------------------------------------------------------ */

static bool spark_open(engine *e) {
    spk_session_options so = {.alloc = NULL, .case_sensitive = false, .threads = e->threads};
    if (spk_session_new(&so, &e->session) != SPK_OK) return engine_fail(e, "session: %s", spk_last_error());
    for (int t = 0; t < NTABLES; t++) {
        char ddl[1024] = "";
        for (int i = 0; i < table_ncols[t]; i++) {
            size_t used = strlen(ddl);
            snprintf(ddl + used, sizeof ddl - used, "%s%s %s", i ? ", " : "", table_columns[t][i].name,
                     spark_types[table_columns[t][i].type]);
        }
        if (spk_schema_parse(NULL, ddl, &e->schemas[t]) != SPK_OK)
            return engine_fail(e, "schema of %s: %s", table_names[t], spk_last_error());
    }
    int n = spk_session_threads(e->session);
    snprintf(e->version, sizeof e->version, "sparkless %s, %d thread%s", spk_version(), n, n == 1 ? "" : "s");
    return true;
}

static bool spark_load(engine *e, int table, const char *path, double *secs) {
    spk_csv_options opts = {0};
    opts.delimiter = '|';
    opts.header = false;
    opts.schema = e->schemas[table];
    opts.mode = SPK_READ_FAILFAST;
    spk_df_release(e->tables[table]); /* one copy in memory at a time */
    e->tables[table] = NULL;
    double t0 = now_s();
    e->tables[table] = spk_read_csv(e->session, path, &opts);
    *secs = now_s() - t0;
    if (!e->tables[table]) return engine_fail(e, "spk_read_csv %s: %s", path, spk_last_error());
    if (table == T_LINEITEM && spk_df_count(e->tables[table], &e->lineitem_rows) != SPK_OK)
        return engine_fail(e, "count of lineitem: %s", spk_last_error());
    return true;
}

/* Releases *df and makes it next: the steps of a chain, each keeping what it needs of the one before. */
static spk_df *then(spk_df **df, spk_df *next) {
    spk_df_release(*df);
    *df = next;
    return next;
}
static spk_expr *sum_of(spk_expr *x, const char *name) { return spk_alias(spk_call("sum", 1, x), name); }
static spk_expr *avg_of(const char *col, const char *name) {
    return spk_alias(spk_call("avg", 1, spk_col(col)), name);
}
/* l_extendedprice * (1 - l_discount) */
static spk_expr *disc_price(void) {
    return spk_mul(spk_col("l_extendedprice"), spk_sub(spk_lit_i32(1), spk_col("l_discount")));
}

static spk_df *spark_q1(engine *e) {
    spk_df *df = spk_df_filter(e->tables[T_LINEITEM], spk_le(spk_col("l_shipdate"), spk_lit_date(1998, 9, 2)));
    spk_expr *keys[2] = {spk_col("l_returnflag"), spk_col("l_linestatus")};
    spk_expr *aggs[8] = {
        sum_of(spk_col("l_quantity"), "sum_qty"),
        sum_of(spk_col("l_extendedprice"), "sum_base_price"),
        sum_of(disc_price(), "sum_disc_price"),
        sum_of(spk_mul(disc_price(), spk_add(spk_lit_i32(1), spk_col("l_tax"))), "sum_charge"),
        avg_of("l_quantity", "avg_qty"),
        avg_of("l_extendedprice", "avg_price"),
        avg_of("l_discount", "avg_disc"),
        spk_alias(spk_call("count", 1, spk_star()), "count_order"),
    };
    then(&df, spk_df_group_agg(df, keys, 2, aggs, 8));
    return then(&df, spk_df_order_by(df, 2, spk_col("l_returnflag"), spk_col("l_linestatus")));
}

static spk_df *spark_q6(engine *e) {
    spk_expr *cond = spk_and(
        spk_and(spk_ge(spk_col("l_shipdate"), spk_lit_date(1994, 1, 1)),
                spk_lt(spk_col("l_shipdate"), spk_lit_date(1995, 1, 1))),
        spk_and(spk_between(spk_col("l_discount"), spk_lit_decimal(5, 3, 2), spk_lit_decimal(7, 3, 2)),
                spk_lt(spk_col("l_quantity"), spk_lit_i32(24))));
    spk_df *df = spk_df_filter(e->tables[T_LINEITEM], cond);
    return then(&df, spk_df_agg(df, 1, sum_of(spk_mul(spk_col("l_extendedprice"), spk_col("l_discount")), "revenue")));
}

static spk_df *spark_q3(engine *e) {
    spk_df *cust = spk_df_filter(e->tables[T_CUSTOMER], spk_eq(spk_col("c_mktsegment"), spk_lit_str("BUILDING")));
    spk_df *ord = spk_df_filter(e->tables[T_ORDERS], spk_lt(spk_col("o_orderdate"), spk_lit_date(1995, 3, 15)));
    spk_df *line = spk_df_filter(e->tables[T_LINEITEM], spk_gt(spk_col("l_shipdate"), spk_lit_date(1995, 3, 15)));
    spk_df *df = spk_df_join(cust, ord, spk_eq(spk_col("c_custkey"), spk_col("o_custkey")), "inner");
    then(&df, spk_df_join(df, line, spk_eq(spk_col("o_orderkey"), spk_col("l_orderkey")), "inner"));
    spk_df_release(cust);
    spk_df_release(ord);
    spk_df_release(line);
    spk_expr *keys[3] = {spk_col("l_orderkey"), spk_col("o_orderdate"), spk_col("o_shippriority")};
    spk_expr *aggs[1] = {sum_of(disc_price(), "revenue")};
    then(&df, spk_df_group_agg(df, keys, 3, aggs, 1));
    then(&df, spk_df_select(df, 4, spk_col("l_orderkey"), spk_col("revenue"), spk_col("o_orderdate"),
                            spk_col("o_shippriority")));
    spk_expr *order[3] = {spk_desc(spk_col("revenue")), spk_asc(spk_col("o_orderdate")),
                          spk_asc(spk_col("l_orderkey"))};
    then(&df, spk_df_order_by_array(df, order, 3));
    return then(&df, spk_df_limit(df, 10));
}

static spk_df *spark_qg(engine *e) {
    spk_expr *keys[1] = {spk_col("l_partkey")};
    spk_expr *aggs[2] = {spk_alias(spk_call("count", 1, spk_star()), "count"),
                         sum_of(spk_col("l_quantity"), "sum_qty")};
    spk_df *df = spk_df_group_agg(e->tables[T_LINEITEM], keys, 1, aggs, 2);
    spk_expr *order[2] = {spk_desc(spk_col("sum_qty")), spk_asc(spk_col("l_partkey"))};
    then(&df, spk_df_order_by_array(df, order, 2));
    return then(&df, spk_df_limit(df, 5));
}

static spk_df *spark_qs(engine *e) {
    spk_df *df = spk_df_select(e->tables[T_LINEITEM], 3, spk_col("l_orderkey"), spk_col("l_linenumber"),
                               spk_col("l_extendedprice"));
    spk_expr *order[3] = {spk_desc(spk_col("l_extendedprice")), spk_asc(spk_col("l_orderkey")),
                          spk_asc(spk_col("l_linenumber"))};
    then(&df, spk_df_order_by_array(df, order, 3));
    then(&df, spk_df_offset(df, e->lineitem_rows / 2));
    return then(&df, spk_df_limit(df, 5));
}

static void spark_rows(const spk_table *t, strbuf *rows) {
    int ncols = spk_schema_ncols(spk_table_schema(t));
    for (size_t r = 0; r < spk_table_nrows(t); r++) {
        sb_puts(rows, "R");
        for (int c = 0; c < ncols; c++) {
            spk_value v;
            char text[SPK_VALUE_TEXT_MAX];
            if (spk_table_get(t, r, c, &v) != SPK_OK || v.is_null) {
                put_cell(rows, 'N', 0, "", 0);
                continue;
            }
            char kind = 'S';
            int scale = 0;
            switch (v.type.id) {
            case SPK_TYPE_INT32: kind = 'I', snprintf(text, sizeof text, "%ld", (long)v.as.i32); break;
            case SPK_TYPE_INT64: kind = 'I', snprintf(text, sizeof text, "%lld", (long long)v.as.i64); break;
            case SPK_TYPE_DOUBLE: kind = 'F', snprintf(text, sizeof text, "%.17g", v.as.f64); break;
            case SPK_TYPE_STRING: put_cell(rows, 'S', 0, v.as.str.ptr, v.as.str.len); continue;
            case SPK_TYPE_DECIMAL: kind = 'D', scale = v.type.scale, spk_value_format(&v, text, sizeof text); break;
            case SPK_TYPE_DATE: kind = 'T', spk_value_format(&v, text, sizeof text); break;
            default: spk_value_format(&v, text, sizeof text); break;
            }
            put_cell(rows, kind, scale, text, strlen(text));
        }
        sb_puts(rows, "\n");
    }
}

static bool spark_query(engine *e, int work, double *secs, strbuf *rows) {
    double t0 = now_s();
    spk_df *df = work == W_Q1 ? spark_q1(e)
               : work == W_Q6 ? spark_q6(e)
               : work == W_Q3 ? spark_q3(e)
               : work == W_QG ? spark_qg(e)
                              : spark_qs(e);
    spk_table *out = NULL;
    spk_status st = df ? spk_df_collect(df, &out) : spk_last_status();
    *secs = now_s() - t0;
    bool ok = df && st == SPK_OK;
    if (!ok) engine_fail(e, "%s: %s", df ? "collect" : "building the query", spk_last_error());
    else spark_rows(out, rows);
    spk_table_free(out);
    spk_df_release(df);
    return ok;
}

static void spark_close(engine *e) {
    for (int t = 0; t < NTABLES; t++) {
        spk_df_release(e->tables[t]);
        spk_schema_release(e->schemas[t]);
    }
    spk_session_free(e->session);
}

/* ---- SQL for the peers ----------------------------------------------------------
 * Dates are written DATE '...'; for SQLite, where dates are text, the DATE goes. */

static const char *const query_sql[NWORK] = {
    NULL,
    "SELECT l_returnflag, l_linestatus, sum(l_quantity) AS sum_qty, sum(l_extendedprice) AS sum_base_price, "
    "sum(l_extendedprice * (1 - l_discount)) AS sum_disc_price, "
    "sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) AS sum_charge, avg(l_quantity) AS avg_qty, "
    "avg(l_extendedprice) AS avg_price, avg(l_discount) AS avg_disc, count(*) AS count_order "
    "FROM lineitem WHERE l_shipdate <= DATE '1998-09-02' "
    "GROUP BY l_returnflag, l_linestatus ORDER BY l_returnflag, l_linestatus",

    "SELECT sum(l_extendedprice * l_discount) AS revenue FROM lineitem "
    "WHERE l_shipdate >= DATE '1994-01-01' AND l_shipdate < DATE '1995-01-01' "
    "AND l_discount BETWEEN 0.05 AND 0.07 AND l_quantity < 24",

    "SELECT l_orderkey, sum(l_extendedprice * (1 - l_discount)) AS revenue, o_orderdate, o_shippriority "
    "FROM customer, orders, lineitem "
    "WHERE c_mktsegment = 'BUILDING' AND c_custkey = o_custkey AND l_orderkey = o_orderkey "
    "AND o_orderdate < DATE '1995-03-15' AND l_shipdate > DATE '1995-03-15' "
    "GROUP BY l_orderkey, o_orderdate, o_shippriority "
    "ORDER BY revenue DESC, o_orderdate, l_orderkey LIMIT 10",

    "SELECT l_partkey, count(*), sum(l_quantity) FROM lineitem GROUP BY l_partkey ORDER BY 3 DESC, 1 LIMIT 5",

    "SELECT l_orderkey, l_linenumber, l_extendedprice FROM lineitem "
    "ORDER BY l_extendedprice DESC, l_orderkey, l_linenumber LIMIT 5 OFFSET %lld",
};

/* The query's SQL for an engine: the offset filled in, DATE dropped for SQLite. */
static void peer_sql(const engine *e, int work, strbuf *sql) {
    sql->len = 0;
    sb_printf(sql, query_sql[work], (long long)(e->lineitem_rows / 2));
    if (e->kind != E_SQLITE) return;
    char *w = sql->data;
    for (const char *r = sql->data; *r;) {
        if (strncmp(r, "DATE '", 6) == 0) r += 5;
        else *w++ = *r++;
    }
    *w = '\0';
    sql->len = (size_t)(w - sql->data);
}

/* ---- DuckDB --------------------------------------------------------------------- */

static const char *duck_path(void) {
    const char *env = getenv("DUCKDB_LIB");
    return env && *env ? env : "bench/peers/duckdb/libduckdb.so";
}

/* Runs sql; with rows, appends the result's rows (values as DuckDB's text). */
static bool duck_run(engine *e, const char *sql, strbuf *rows) {
    duck_result res;
    memset(&res, 0, sizeof res);
    if (e->duck.query(e->duck_conn, sql, &res) != 0) {
        const char *msg = e->duck.result_error(&res);
        engine_fail(e, "%s\n  in: %.300s", msg ? msg : "(no message)", sql);
        e->duck.destroy_result(&res);
        return false;
    }
    if (rows) {
        uint64_t nrows = e->duck.row_count(&res), ncols = e->duck.column_count(&res);
        for (uint64_t r = 0; r < nrows; r++) {
            sb_puts(rows, "R");
            for (uint64_t c = 0; c < ncols; c++) {
                if (e->duck.value_is_null(&res, c, r)) {
                    put_cell(rows, 'N', 0, "", 0);
                    continue;
                }
                char *text = e->duck.value_varchar(&res, c, r);
                put_cell(rows, 'X', 0, text ? text : "", text ? strlen(text) : 0);
                e->duck.free(text);
            }
            sb_puts(rows, "\n");
        }
    }
    e->duck.destroy_result(&res);
    return true;
}

static bool duck_open(engine *e) {
    const char *path = duck_path();
    e->duck_lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    e->missing = true;
    if (!e->duck_lib) return engine_fail(e, "%s", dlerror());
    duck_api *d = &e->duck;
    if (!LOAD_SYMBOL(e->duck_lib, d->open, "duckdb_open", e->err) ||
        !LOAD_SYMBOL(e->duck_lib, d->connect, "duckdb_connect", e->err) ||
        !LOAD_SYMBOL(e->duck_lib, d->query, "duckdb_query", e->err) ||
        !LOAD_SYMBOL(e->duck_lib, d->result_error, "duckdb_result_error", e->err) ||
        !LOAD_SYMBOL(e->duck_lib, d->row_count, "duckdb_row_count", e->err) ||
        !LOAD_SYMBOL(e->duck_lib, d->column_count, "duckdb_column_count", e->err) ||
        !LOAD_SYMBOL(e->duck_lib, d->value_varchar, "duckdb_value_varchar", e->err) ||
        !LOAD_SYMBOL(e->duck_lib, d->value_is_null, "duckdb_value_is_null", e->err) ||
        !LOAD_SYMBOL(e->duck_lib, d->free, "duckdb_free", e->err) ||
        !LOAD_SYMBOL(e->duck_lib, d->destroy_result, "duckdb_destroy_result", e->err) ||
        !LOAD_SYMBOL(e->duck_lib, d->disconnect, "duckdb_disconnect", e->err) ||
        !LOAD_SYMBOL(e->duck_lib, d->close, "duckdb_close", e->err) ||
        !LOAD_SYMBOL(e->duck_lib, d->library_version, "duckdb_library_version", e->err))
        return false;
    e->missing = false;
    if (d->open(NULL, &e->duck_db) != 0) return engine_fail(e, "duckdb_open failed");
    if (d->connect(e->duck_db, &e->duck_conn) != 0) return engine_fail(e, "duckdb_connect failed");
    char sql[64];
    snprintf(sql, sizeof sql, "SET threads = %d", e->threads);
    if (!duck_run(e, sql, NULL)) return false;
    snprintf(e->version, sizeof e->version, "DuckDB %s, %d threads", d->library_version(), e->threads);
    return true;
}

static bool duck_load(engine *e, int table, const char *path, double *secs) {
    strbuf sql = {0};
    sb_printf(&sql, "CREATE OR REPLACE TABLE %s AS SELECT * FROM read_csv('%s', delim = '|', header = false, "
                    "auto_detect = false, columns = {",
              table_names[table], path);
    for (int i = 0; i < table_ncols[table]; i++)
        sb_printf(&sql, "%s'%s': '%s'", i ? ", " : "", table_columns[table][i].name,
                  duck_types[table_columns[table][i].type]);
    sb_puts(&sql, "})");
    double t0 = now_s();
    bool ok = duck_run(e, sql.data, NULL);
    *secs = now_s() - t0;
    sb_free(&sql);
    if (ok && table == T_LINEITEM) {
        strbuf rows = {0};
        ok = duck_run(e, "SELECT count(*) FROM lineitem", &rows);
        const char *colon = ok ? strchr(rows.data ? rows.data : "", ':') : NULL;
        if (ok && !colon) ok = engine_fail(e, "no count of lineitem");
        if (ok) e->lineitem_rows = strtoll(colon + 1, NULL, 10);
        sb_free(&rows);
    }
    return ok;
}

static bool duck_query(engine *e, int work, double *secs, strbuf *rows) {
    strbuf sql = {0};
    peer_sql(e, work, &sql);
    double t0 = now_s();
    bool ok = duck_run(e, sql.data, rows);
    *secs = now_s() - t0;
    sb_free(&sql);
    return ok;
}

static void duck_close(engine *e) {
    if (e->duck_conn) e->duck.disconnect(&e->duck_conn);
    if (e->duck_db) e->duck.close(&e->duck_db);
    /* the library stays loaded: the process ends next */
}

/* ---- SQLite --------------------------------------------------------------------- */

static bool lite_exec(engine *e, const char *sql) {
    char *msg = NULL;
    if (e->sq.exec(e->lite, sql, NULL, NULL, &msg) == LITE_OK) return true;
    engine_fail(e, "%s\n  in: %.300s", msg ? msg : e->sq.errmsg(e->lite), sql);
    e->sq.free(msg);
    return false;
}

static bool lite_open(engine *e) {
    e->lite_lib = dlopen("libsqlite3.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!e->lite_lib) e->lite_lib = dlopen("libsqlite3.so", RTLD_NOW | RTLD_LOCAL);
    e->missing = true;
    if (!e->lite_lib) return engine_fail(e, "%s", dlerror());
    lite_api *q = &e->sq;
    if (!LOAD_SYMBOL(e->lite_lib, q->open, "sqlite3_open", e->err) ||
        !LOAD_SYMBOL(e->lite_lib, q->close, "sqlite3_close", e->err) ||
        !LOAD_SYMBOL(e->lite_lib, q->exec, "sqlite3_exec", e->err) ||
        !LOAD_SYMBOL(e->lite_lib, q->errmsg, "sqlite3_errmsg", e->err) ||
        !LOAD_SYMBOL(e->lite_lib, q->prepare, "sqlite3_prepare_v2", e->err) ||
        !LOAD_SYMBOL(e->lite_lib, q->bind_int64, "sqlite3_bind_int64", e->err) ||
        !LOAD_SYMBOL(e->lite_lib, q->bind_double, "sqlite3_bind_double", e->err) ||
        !LOAD_SYMBOL(e->lite_lib, q->bind_text, "sqlite3_bind_text", e->err) ||
        !LOAD_SYMBOL(e->lite_lib, q->step, "sqlite3_step", e->err) ||
        !LOAD_SYMBOL(e->lite_lib, q->reset, "sqlite3_reset", e->err) ||
        !LOAD_SYMBOL(e->lite_lib, q->finalize, "sqlite3_finalize", e->err) ||
        !LOAD_SYMBOL(e->lite_lib, q->column_count, "sqlite3_column_count", e->err) ||
        !LOAD_SYMBOL(e->lite_lib, q->column_type, "sqlite3_column_type", e->err) ||
        !LOAD_SYMBOL(e->lite_lib, q->column_text, "sqlite3_column_text", e->err) ||
        !LOAD_SYMBOL(e->lite_lib, q->column_bytes, "sqlite3_column_bytes", e->err) ||
        !LOAD_SYMBOL(e->lite_lib, q->column_int64, "sqlite3_column_int64", e->err) ||
        !LOAD_SYMBOL(e->lite_lib, q->column_double, "sqlite3_column_double", e->err) ||
        !LOAD_SYMBOL(e->lite_lib, q->free, "sqlite3_free", e->err) ||
        !LOAD_SYMBOL(e->lite_lib, q->libversion, "sqlite3_libversion", e->err))
        return false;
    e->missing = false;
    if (q->open(":memory:", &e->lite) != LITE_OK)
        return engine_fail(e, "sqlite3_open: %s", e->lite ? q->errmsg(e->lite) : "out of memory");
    snprintf(e->version, sizeof e->version, "SQLite %s, 1 thread", q->libversion());
    return true;
}

/* One field of a '|'-separated line as an integer or a double; false if it is not one. */
static bool field_int(const char *s, const char *end, int64_t *out) {
    char *stop;
    errno = 0;
    long long v = strtoll(s, &stop, 10);
    *out = v;
    return stop == end && stop != s && errno == 0;
}
static bool field_double(const char *s, const char *end, double *out) {
    char *stop;
    *out = strtod(s, &stop);
    return stop == end && stop != s;
}

/* Parses the file and inserts its rows in one transaction; the last (empty) field is skipped. */
static bool lite_insert_file(engine *e, int table, const char *path, int64_t *nrows) {
    int ncols = table_ncols[table] - 1;
    strbuf sql = {0};
    sb_printf(&sql, "INSERT INTO %s VALUES (", table_names[table]);
    for (int i = 0; i < ncols; i++) sb_puts(&sql, i ? ", ?" : "?");
    sb_puts(&sql, ")");
    lite_stmt *stmt = NULL;
    if (e->sq.prepare(e->lite, sql.data, -1, &stmt, NULL) != LITE_OK) {
        engine_fail(e, "%s\n  in: %s", e->sq.errmsg(e->lite), sql.data);
        sb_free(&sql);
        return false;
    }
    sb_free(&sql);
    FILE *f = fopen(path, "rb");
    if (!f) {
        e->sq.finalize(stmt);
        return engine_fail(e, "cannot read %s: %s", path, strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int64_t row = 0;
    bool ok = true;
    while (ok && (len = getline(&line, &cap, f)) >= 0) {
        row++;
        if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
        const char *field = line, *end = line + len;
        for (int c = 0; c < ncols && ok; c++) {
            const char *bar = memchr(field, '|', (size_t)(end - field));
            if (!bar) {
                ok = engine_fail(e, "%s:%lld: fewer than %d fields", path, (long long)row, ncols);
                break;
            }
            int64_t i;
            double d;
            /* The text is bound without a copy (destructor 0, SQLITE_STATIC): every
             * parameter is bound again before the statement next runs. */
            switch (table_columns[table][c].type) {
            case C_BIGINT:
            case C_INT:
                ok = field_int(field, bar, &i) && e->sq.bind_int64(stmt, c + 1, i) == LITE_OK;
                break;
            case C_MONEY: ok = field_double(field, bar, &d) && e->sq.bind_double(stmt, c + 1, d) == LITE_OK; break;
            case C_DATE:
            case C_TEXT: ok = e->sq.bind_text(stmt, c + 1, field, (int)(bar - field), NULL) == LITE_OK; break;
            }
            if (!ok) engine_fail(e, "%s:%lld: field %d (%s) '%.*s' does not bind: %s", path, (long long)row, c + 1,
                                 table_columns[table][c].name, (int)(bar - field), field, e->sq.errmsg(e->lite));
            field = bar + 1;
        }
        if (ok && e->sq.step(stmt) != LITE_DONE)
            ok = engine_fail(e, "%s:%lld: insert: %s", path, (long long)row, e->sq.errmsg(e->lite));
        if (ok) e->sq.reset(stmt);
    }
    if (ok && ferror(f)) ok = engine_fail(e, "reading %s: %s", path, strerror(errno));
    free(line);
    fclose(f);
    e->sq.finalize(stmt);
    *nrows = row;
    return ok;
}

static bool lite_load(engine *e, int table, const char *path, double *secs) {
    strbuf ddl = {0};
    sb_printf(&ddl, "DROP TABLE IF EXISTS %s; CREATE TABLE %s (", table_names[table], table_names[table]);
    for (int i = 0; i < table_ncols[table] - 1; i++)
        sb_printf(&ddl, "%s%s %s", i ? ", " : "", table_columns[table][i].name,
                  lite_types[table_columns[table][i].type]);
    sb_puts(&ddl, ")");
    double t0 = now_s();
    int64_t rows = 0;
    bool ok = lite_exec(e, ddl.data) && lite_exec(e, "BEGIN") && lite_insert_file(e, table, path, &rows) &&
              lite_exec(e, "COMMIT");
    *secs = now_s() - t0;
    sb_free(&ddl);
    if (ok && table == T_LINEITEM) e->lineitem_rows = rows;
    return ok;
}

static bool lite_query(engine *e, int work, double *secs, strbuf *rows) {
    strbuf sql = {0};
    peer_sql(e, work, &sql);
    lite_stmt *stmt = NULL;
    double t0 = now_s();
    bool ok = e->sq.prepare(e->lite, sql.data, -1, &stmt, NULL) == LITE_OK;
    int rc = LITE_DONE;
    while (ok && (rc = e->sq.step(stmt)) == LITE_ROW) {
        sb_puts(rows, "R");
        for (int c = 0; c < e->sq.column_count(stmt); c++) {
            char text[64];
            switch (e->sq.column_type(stmt, c)) {
            case LITE_NULL: put_cell(rows, 'N', 0, "", 0); break;
            case LITE_INTEGER:
                snprintf(text, sizeof text, "%lld", (long long)e->sq.column_int64(stmt, c));
                put_cell(rows, 'I', 0, text, strlen(text));
                break;
            case LITE_FLOAT:
                snprintf(text, sizeof text, "%.17g", e->sq.column_double(stmt, c));
                put_cell(rows, 'F', 0, text, strlen(text));
                break;
            default: {
                const char *s = (const char *)e->sq.column_text(stmt, c);
                put_cell(rows, 'S', 0, s ? s : "", (size_t)e->sq.column_bytes(stmt, c));
            }
            }
        }
        sb_puts(rows, "\n");
    }
    *secs = now_s() - t0;
    if (!ok || rc != LITE_DONE) ok = engine_fail(e, "%s\n  in: %.300s", e->sq.errmsg(e->lite), sql.data);
    e->sq.finalize(stmt);
    sb_free(&sql);
    return ok;
}

static void lite_close(engine *e) {
    if (e->lite) e->sq.close(e->lite);
}

/* ---- the child: one engine, every workload ------------------------------------
 * It writes lines to the parent, fields separated by tabs:
 *   V <version>   N <lineitem rows>   T <workload> <median seconds>
 *   R <query> <cell>...   (after T, the last run's rows; see put_cell)
 *   E <message>   (then exit status 1)   U <message>   (peer unavailable, status 3) */

enum { CHILD_OK = 0, CHILD_ERROR = 1, CHILD_UNAVAILABLE = 3 };

static bool engine_open(engine *e) {
    return e->kind == E_DUCKDB ? duck_open(e) : e->kind == E_SQLITE ? lite_open(e) : spark_open(e);
}
static bool engine_load(engine *e, int table, const char *path, double *secs) {
    return e->kind == E_DUCKDB   ? duck_load(e, table, path, secs)
         : e->kind == E_SQLITE ? lite_load(e, table, path, secs)
                                 : spark_load(e, table, path, secs);
}
static bool engine_query(engine *e, int work, double *secs, strbuf *rows) {
    return e->kind == E_DUCKDB   ? duck_query(e, work, secs, rows)
         : e->kind == E_SQLITE ? lite_query(e, work, secs, rows)
                                 : spark_query(e, work, secs, rows);
}
static void engine_close(engine *e) {
    if (e->kind == E_DUCKDB) duck_close(e);
    else if (e->kind == E_SQLITE) lite_close(e);
    else spark_close(e);
}

static int child_fail(FILE *out, engine *e, char tag, int status) {
    strbuf msg = {0};
    sb_put_escaped(&msg, e->err, strlen(e->err));
    fprintf(out, "%c\t%s\n", tag, msg.data ? msg.data : "");
    sb_free(&msg);
    return status;
}

/* Reads the file through, so that each engine's loads find it in the page cache (this machine's
 * kernel pages out file pages idle for about a minute, so without it an engine could read part
 * of lineitem from disk during a timed load and the one before it not). */
static void read_through(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return; /* the load says what is wrong */
    static char buf[1 << 20];
    size_t got;
    do got = fread(buf, 1, sizeof buf, f);
    while (got == sizeof buf);
    fclose(f);
}

static int child_main(int kind, int threads, int runs, const char *const paths[NTABLES], FILE *out) {
    engine e;
    memset(&e, 0, sizeof e);
    e.kind = kind;
    e.threads = threads;
    if (!engine_open(&e))
        return e.missing ? child_fail(out, &e, 'U', CHILD_UNAVAILABLE) : child_fail(out, &e, 'E', CHILD_ERROR);
    fprintf(out, "V\t%s\n", e.version);
    double times[64];
    for (int t = 0; t < NTABLES; t++) read_through(paths[t]);
    for (int run = 0; run < runs; run++)
        if (!engine_load(&e, T_LINEITEM, paths[T_LINEITEM], &times[run])) return child_fail(out, &e, 'E', CHILD_ERROR);
    fprintf(out, "N\t%lld\nT\tload\t%.9f\n", (long long)e.lineitem_rows, median(times, runs));
    fflush(out);
    double ignored;
    for (int t = T_ORDERS; t < NTABLES; t++)
        if (!engine_load(&e, t, paths[t], &ignored)) return child_fail(out, &e, 'E', CHILD_ERROR);
    strbuf rows = {0};
    for (int w = W_Q1; w < NWORK; w++) {
        for (int run = -1; run < runs; run++) { /* run -1: the warm-up */
            rows.len = 0;
            if (!engine_query(&e, w, run < 0 ? &ignored : &times[run], &rows))
                return child_fail(out, &e, 'E', CHILD_ERROR);
        }
        fprintf(out, "T\t%s\t%.9f\n", work_names[w], median(times, runs));
        /* each row line "R\t<cells>" becomes "R\t<query>\t<cells>" */
        for (char *line = rows.data; line && *line;) {
            char *nl = strchr(line, '\n');
            fprintf(out, "R\t%s%.*s\n", work_names[w], (int)(nl - line - 1), line + 1);
            line = nl + 1;
        }
        fflush(out);
    }
    sb_free(&rows);
    engine_close(&e);
    return CHILD_OK;
}

/* ---- the parent: what each child said ------------------------------------------- */

typedef struct query_rows {
    int n, cap;
    char **rows; /* each: the row's cells, tab-separated (as sent, without the leading tab) */
} query_rows;

typedef struct engine_report {
    bool ran;          /* the child finished every workload */
    bool unavailable;  /* a peer that could not be loaded */
    char *error;       /* its error, if it failed */
    char version[128];
    long peak_rss_kb;
    int64_t lineitem_rows;
    double secs[NWORK];
    bool has[NWORK];
    query_rows results[NWORK];
} engine_report;

static char *dup_text(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (!p) {
        fprintf(stderr, "tpch: out of memory\n");
        exit(1);
    }
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* Undoes sb_put_escaped in place. */
static void unescape(char *s) {
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (*r == '\\' && (r[1] == 't' || r[1] == 'n' || r[1] == '\\')) {
            r++;
            *w++ = *r == 't' ? '\t' : *r == 'n' ? '\n' : '\\';
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

static int work_index(const char *name, size_t n) {
    for (int w = 0; w < NWORK; w++)
        if (strlen(work_names[w]) == n && strncmp(work_names[w], name, n) == 0) return w;
    return -1;
}

static void parse_child_line(engine_report *rep, char *line) {
    char *tab = strchr(line, '\t');
    if (!tab) return;
    char *rest = tab + 1;
    switch (line[0]) {
    case 'V': snprintf(rep->version, sizeof rep->version, "%s", rest); break;
    case 'N': rep->lineitem_rows = strtoll(rest, NULL, 10); break;
    case 'E':
    case 'U':
        free(rep->error);
        rep->error = dup_text(rest, strlen(rest));
        unescape(rep->error);
        rep->unavailable = line[0] == 'U';
        break;
    case 'T': {
        char *t2 = strchr(rest, '\t');
        int w = t2 ? work_index(rest, (size_t)(t2 - rest)) : -1;
        if (w >= 0) {
            rep->secs[w] = strtod(t2 + 1, NULL);
            rep->has[w] = true;
        }
        break;
    }
    case 'R': {
        char *t2 = strchr(rest, '\t');
        int w = t2 ? work_index(rest, (size_t)(t2 - rest)) : -1;
        if (w < 0) break;
        query_rows *q = &rep->results[w];
        if (q->n == q->cap) {
            q->cap = q->cap ? 2 * q->cap : 16;
            char **p = realloc(q->rows, (size_t)q->cap * sizeof *p);
            if (!p) {
                fprintf(stderr, "tpch: out of memory\n");
                exit(1);
            }
            q->rows = p;
        }
        q->rows[q->n++] = dup_text(t2 + 1, strlen(t2 + 1));
        break;
    }
    default: break;
    }
}

/* Forks a child for the engine, reads what it writes until it exits, and fills rep. */
static void run_engine(int kind, int threads, int runs, const char *const paths[NTABLES], engine_report *rep) {
    memset(rep, 0, sizeof *rep);
    int fds[2];
    if (pipe(fds) != 0) {
        rep->error = dup_text("pipe failed", 11);
        return;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        rep->error = dup_text("fork failed", 11);
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        close(fds[0]);
        FILE *out = fdopen(fds[1], "w");
        int status = out ? child_main(kind, threads, runs, paths, out) : CHILD_ERROR;
        if (out) fclose(out);
        _exit(status);
    }
    close(fds[1]);
    strbuf text = {0};
    char buf[65536];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        sb_put(&text, buf, (size_t)n);
    }
    close(fds[0]);
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
    }
    rep->peak_rss_kb = ru.ru_maxrss; /* Linux: KiB */
    for (char *line = text.data; line && *line;) {
        char *nl = strchr(line, '\n');
        if (!nl) break;
        *nl = '\0';
        parse_child_line(rep, line);
        line = nl + 1;
    }
    sb_free(&text);
    if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_OK) {
        rep->ran = true;
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_UNAVAILABLE) {
        rep->unavailable = true;
    } else if (!rep->error) {
        char msg[128];
        if (WIFSIGNALED(status)) snprintf(msg, sizeof msg, "the child died of signal %d", WTERMSIG(status));
        else snprintf(msg, sizeof msg, "the child exited with status %d", WEXITSTATUS(status));
        rep->error = dup_text(msg, strlen(msg));
    }
}

/* ---- comparing answers ------------------------------------------------------------ */

/* The i-th cell of a row (cells separated by tabs): kind, scale and text (escaped). */
typedef struct cell {
    char kind;
    int scale;
    const char *text;
    size_t len;
} cell;

static int split_cells(const char *row, cell *cells, int cap) {
    int n = 0;
    for (const char *p = row; *p && n < cap;) {
        const char *end = strchr(p, '\t');
        if (!end) end = p + strlen(p);
        const char *colon = memchr(p, ':', (size_t)(end - p));
        cell *c = &cells[n++];
        c->kind = *p;
        c->scale = colon ? atoi(p + 1) : 0;
        c->text = colon ? colon + 1 : end;
        c->len = (size_t)(end - c->text);
        p = *end ? end + 1 : end;
    }
    return n;
}

static bool cell_number(const cell *c, double *out) {
    char buf[128];
    if (c->len == 0 || c->len >= sizeof buf) return false;
    memcpy(buf, c->text, c->len);
    buf[c->len] = '\0';
    char *end;
    *out = strtod(buf, &end);
    return *end == '\0';
}
static bool cell_integer(const cell *c, long long *out) {
    char buf[64];
    if (c->len == 0 || c->len >= sizeof buf) return false;
    memcpy(buf, c->text, c->len);
    buf[c->len] = '\0';
    char *end;
    errno = 0;
    *out = strtoll(buf, &end, 10);
    return *end == '\0' && errno == 0;
}

/* Does the other engine's cell b agree with sparkless's cell a? (See the header comment.) */
static bool cells_agree(const cell *a, const cell *b) {
    if (a->kind == 'N' || b->kind == 'N') return a->kind == b->kind;
    switch (a->kind) {
    case 'I': {
        long long x, y;
        return cell_integer(a, &x) && cell_integer(b, &y) && x == y;
    }
    case 'D':
    case 'F': {
        double x, y;
        if (!cell_number(a, &x) || !cell_number(b, &y)) return false;
        double m = fmax(fabs(x), fabs(y)), tol = 1e-9 * m;
        if (a->kind == 'D') tol = fmax(tol, 0.5 * pow(10, -a->scale));
        /* a few units in the last place more: the subtraction rounds too */
        return fabs(x - y) <= tol + 4 * DBL_EPSILON * m;
    }
    default: return a->len == b->len && memcmp(a->text, b->text, a->len) == 0;
    }
}

static void print_row(const char *who, const char *row) {
    cell cells[32];
    int n = row ? split_cells(row, cells, 32) : 0;
    printf("  %-32s", who);
    if (!row) printf(" (no row)");
    for (int i = 0; i < n; i++) printf("%s%.*s", i ? " | " : " ", (int)cells[i].len, cells[i].text);
    printf("\n");
}

/* Compares one engine's answers with the reference's; prints each mismatch; false if any. */
static bool compare_engine(const engine_report *ref, const char *ref_name, const engine_report *other,
                           const char *other_name) {
    bool agree = true;
    for (int w = W_Q1; w < NWORK; w++) {
        const query_rows *a = &ref->results[w], *b = &other->results[w];
        int n = a->n > b->n ? a->n : b->n;
        for (int r = 0; r < n; r++) {
            const char *ra = r < a->n ? a->rows[r] : NULL, *rb = r < b->n ? b->rows[r] : NULL;
            bool same = ra && rb;
            if (same) {
                cell ca[32], cb[32];
                int na = split_cells(ra, ca, 32), nb = split_cells(rb, cb, 32);
                same = na == nb;
                for (int i = 0; same && i < na; i++) same = cells_agree(&ca[i], &cb[i]);
            }
            if (!same) {
                printf("tpch: MISMATCH %s row %d:\n", work_names[w], r + 1);
                print_row(ref_name, ra);
                print_row(other_name, rb);
                agree = false;
            }
        }
    }
    return agree;
}

/* ---- data files --------------------------------------------------------------------- */

static void marker_text(const tpch_scale *sc, const char *table, long long bytes, char *buf, size_t cap) {
    snprintf(buf, cap, "tpch_gen v%d %s sf=%g bytes=%lld\n", TPCH_GEN_VERSION, table, sc->sf, bytes);
}

/* true when path exists and its marker names this generator, table, SF and the file's size. */
static bool cached(const tpch_scale *sc, const char *table, const char *path) {
    char marker[4200];
    snprintf(marker, sizeof marker, "%s.ok", path);
    struct stat st;
    if (stat(path, &st) != 0) return false;
    FILE *f = fopen(marker, "rb");
    if (!f) return false;
    char have[256] = "", want[256];
    size_t n = fread(have, 1, sizeof have - 1, f);
    fclose(f);
    have[n] = '\0';
    marker_text(sc, table, (long long)st.st_size, want, sizeof want);
    return strcmp(have, want) == 0;
}

/* Writes the tables marked in `want` in one pass (each through <path>.tmp, renamed when whole), then their markers. */
static bool generate(const tpch_scale *sc, const bool want[NTABLES], const char *const paths[NTABLES]) {
    FILE *files[NTABLES] = {NULL, NULL, NULL};
    tpch_out outs[NTABLES];
    char tmp[NTABLES][4200];
    bool ok = true;
    for (int t = 0; t < NTABLES; t++) {
        memset(&outs[t], 0, sizeof outs[t]);
        if (!want[t]) continue;
        char marker[4200];
        snprintf(marker, sizeof marker, "%s.ok", paths[t]);
        remove(marker);
        snprintf(tmp[t], sizeof tmp[t], "%s.tmp", paths[t]);
        files[t] = fopen(tmp[t], "wb");
        if (!files[t]) {
            fprintf(stderr, "tpch: cannot write %s: %s\n", tmp[t], strerror(errno));
            ok = false;
        } else if (!tpch_out_open(&outs[t], files[t])) {
            fprintf(stderr, "tpch: out of memory\n");
            ok = false;
        }
    }
    if (ok)
        tpch_generate(sc, want[T_LINEITEM] ? &outs[T_LINEITEM] : NULL, want[T_ORDERS] ? &outs[T_ORDERS] : NULL,
                      want[T_CUSTOMER] ? &outs[T_CUSTOMER] : NULL);
    for (int t = 0; t < NTABLES; t++) {
        if (!want[t]) continue;
        bool good = tpch_out_close(&outs[t]) && ok;
        int err = outs[t].err;
        if (files[t] && fclose(files[t]) != 0 && good) good = false, err = errno;
        if (good && rename(tmp[t], paths[t]) != 0) good = false, err = errno;
        if (!good) {
            if (ok) fprintf(stderr, "tpch: writing %s: %s\n", tmp[t], strerror(err));
            remove(tmp[t]);
            ok = false;
            continue;
        }
        char marker[4200], text[256];
        snprintf(marker, sizeof marker, "%s.ok", paths[t]);
        marker_text(sc, table_names[t], (long long)outs[t].bytes, text, sizeof text);
        FILE *m = fopen(marker, "wb");
        if (!m || fputs(text, m) == EOF || fclose(m) != 0) {
            fprintf(stderr, "tpch: cannot write %s\n", marker);
            ok = false;
        }
    }
    return ok;
}

/* ---- main ------------------------------------------------------------------------------ */

static void print_time(const char *name, const engine_report *rep, int w) {
    if (rep->ran && rep->has[w]) printf(" %s=%.3f", name, rep->secs[w]);
    else printf(" %s=-", name);
}
static void print_ratio(const char *name, const engine_report *spark, const engine_report *peer, int w) {
    if (spark->ran && peer->ran && spark->has[w] && peer->has[w] && peer->secs[w] > 0)
        printf(" %s=%.3f", name, spark->secs[w] / peer->secs[w]);
    else printf(" %s=-", name);
}

int main(int argc, char **argv) {
    double sf = 1;
    char *end = NULL;
    if (argc == 2) sf = strtod(argv[1], &end);
    if (argc > 2 || (end && (*end || end == argv[1])) || !(sf > 0 && sf <= 100)) {
        fprintf(stderr, "usage: %s [SF]   (scale factor, 0 < SF <= 100; default 1; env BENCH_RUNS, default 3)\n",
                argv[0]);
        return 2;
    }
    int runs = 3;
    const char *runs_env = getenv("BENCH_RUNS");
    if (runs_env && *runs_env) {
        long r = strtol(runs_env, &end, 10);
        if (*end || r < 1 || r > 64) {
            fprintf(stderr, "tpch: BENCH_RUNS must be a number up to 64 (less than 3 counts as 3)\n");
            return 2;
        }
        runs = r < 3 ? 3 : (int)r;
    }
    signal(SIGPIPE, SIG_IGN); /* a child's failed write to the parent shows as its error, not a silent death */

    tpch_scale sc = {0, 0, 0, 0, 0, 0};
    if (!tpch_scale_init(sf, &sc)) return 2; /* not reached: sf is checked above */
    char dir[256], path_buf[NTABLES][512];
    const char *paths[NTABLES];
    snprintf(dir, sizeof dir, "build/tpch/sf%g", sf);
    bool want[NTABLES], any = false;
    for (int t = 0; t < NTABLES; t++) {
        snprintf(path_buf[t], sizeof path_buf[t], "%s/%s.tbl", dir, table_names[t]);
        paths[t] = path_buf[t];
        want[t] = !cached(&sc, table_names[t], paths[t]);
        any = any || want[t];
    }
    if (any) {
        if (!tpch_mkdirs(dir)) {
            fprintf(stderr, "tpch: cannot create %s: %s\n", dir, strerror(errno));
            return 1;
        }
        double t0 = now_s();
        if (!generate(&sc, want, paths)) return 1;
        printf("tpch: generated");
        for (int t = 0; t < NTABLES; t++)
            if (want[t]) printf(" %s", paths[t]);
        printf(" in %.2fs\n", now_s() - t0);
    }
    double mb = 0;
    for (int t = 0; t < NTABLES; t++) {
        struct stat st;
        if (stat(paths[t], &st) == 0) mb += (double)st.st_size / 1e6;
    }
    int threads = spk_cpu_count();
    printf("tpch: sf=%g, %d threads on this machine, %d timed runs each (median), data %.1f MB in %s "
           "(lineitem, orders, customer)\n",
           sf, threads, runs, mb, dir);

    /* TPCH_SKIP=sqlite,1thread,duckdb leaves engines out (a quicker run while optimising) */
    static const char *const skip_names[NENGINES] = {NULL, "1thread", "duckdb", "sqlite"};
    const char *skip = getenv("TPCH_SKIP");
    engine_report reps[NENGINES];
    for (int k = 0; k < NENGINES; k++) {
        if (skip && skip_names[k] && strstr(skip, skip_names[k])) {
            memset(&reps[k], 0, sizeof reps[k]);
            reps[k].unavailable = true;
            reps[k].error = dup_text("left out by TPCH_SKIP", 21);
            continue;
        }
        run_engine(k, k == E_SPARK_1 || k == E_SQLITE ? 1 : threads, runs, paths, &reps[k]);
    }

    int rc = 0;
    for (int k = 0; k < NENGINES; k++) {
        const engine_report *r = &reps[k];
        if (r->unavailable) {
            if (skip && skip_names[k] && strstr(skip, skip_names[k])) {
                printf("tpch: %s left out (TPCH_SKIP)\n", engine_labels[k]);
                continue;
            }
            printf("tpch: %s not found (%s); running without it\n", engine_labels[k],
                   k == E_DUCKDB ? "run bench/install-peers, or set DUCKDB_LIB" : "install libsqlite3");
            printf("tpch:   (%s)\n", r->error ? r->error : "no message");
        } else if (!r->ran) {
            printf("tpch: %s failed: %s\n", engine_labels[k], r->error ? r->error : "(no message)");
            rc = 1;
        } else {
            printf("tpch: %-22s %s; peak RSS %ld MB\n", engine_labels[k], r->version, r->peak_rss_kb / 1024);
        }
    }
    const engine_report *spark = &reps[E_SPARK_N], *one = &reps[E_SPARK_1];
    if (!spark->ran) return 1;
    printf("tpch: lineitem rows %lld, qs offset %lld\n", (long long)spark->lineitem_rows,
           (long long)(spark->lineitem_rows / 2));
    if (one->ran) {
        printf("tpch: sparkless 1 thread:");
        for (int w = 0; w < NWORK; w++) printf(" %s=%.3f", work_names[w], one->secs[w]);
        printf("  (all threads:");
        for (int w = 0; w < NWORK; w++) printf(" %s=%.3f", work_names[w], spark->secs[w]);
        printf(")\n");
    }
    for (int w = 0; w < NWORK; w++) {
        printf("BENCH %s sf=%g", work_names[w], sf);
        print_time("sparkless_s", spark, w);
        print_time("duckdb_s", &reps[E_DUCKDB], w);
        print_time("sqlite_s", &reps[E_SQLITE], w);
        print_ratio("vs_duckdb", spark, &reps[E_DUCKDB], w);
        print_ratio("vs_sqlite", spark, &reps[E_SQLITE], w);
        printf(" peak_rss_mb=%ld\n", spark->peak_rss_kb / 1024);
    }

    if (getenv("TPCH_SHOW") && *getenv("TPCH_SHOW"))
        for (int w = W_Q1; w < NWORK; w++)
            for (int k = 0; k < NENGINES; k++)
                for (int r = 0; reps[k].ran && r < reps[k].results[w].n; r++) {
                    char who[64];
                    snprintf(who, sizeof who, "%s %s:", work_names[w], engine_labels[k]);
                    print_row(who, reps[k].results[w].rows[r]);
                }

    bool agree = true;
    for (int k = E_SPARK_1; k < NENGINES; k++) {
        if (!reps[k].ran) continue;
        if (reps[k].lineitem_rows != spark->lineitem_rows) {
            printf("tpch: MISMATCH load: %s read %lld lineitem rows, sparkless %lld\n", engine_labels[k],
                   (long long)reps[k].lineitem_rows, (long long)spark->lineitem_rows);
            agree = false;
        }
        agree = compare_engine(spark, engine_labels[E_SPARK_N], &reps[k], engine_labels[k]) && agree;
    }
    if (!agree) rc = 1;
    else if (rc == 0) printf("tpch: all engines agree on every answer\n");
    else printf("tpch: the engines that finished agree on every answer\n");
    return rc;
}
