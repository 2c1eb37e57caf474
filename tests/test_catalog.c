/* The catalog, single-threaded: builders and configuration, getOrCreate,
 * child sessions, databases, saveAsTable in every mode, insertInto, reading
 * tables and their snapshots, temp and global temp views, the memory
 * backend's maxMemory bound, the backend registry (with a recording backend
 * written here, checked call by call as seed 002's mocks are), and the old
 * spk_session_new entry point. Every expectation is written out by hand:
 * rows are compared as text ("v,v|v,v"), errors by status and by words of
 * spk_last_error(). */
#define _POSIX_C_SOURCE 200809L /* alarm: a deadlock fails the run instead of hanging it */
#include "test.h"
#include <signal.h>
#include <stdarg.h>
#include <threads.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

/* A test that runs for minutes is stuck (a lock taken twice, say): report
 * which one and end the run. */
static void on_alarm(int sig) {
    (void)sig;
    static const char a[] = "FAIL ", b[] = ": still running after 120 s (a deadlock?)\nRESULT 0 1\n";
    const char *name = spk_test_current ? spk_test_current : "?";
    if (write(1, a, sizeof a - 1) < 0 || write(1, name, strlen(name)) < 0 || write(1, b, sizeof b - 1) < 0) _exit(2);
    _exit(1);
}
#define RUN_TIMED(fn)     \
    do {                  \
        alarm(120);       \
        RUN(fn);          \
        alarm(0);         \
    } while (0)




/* The same rows read with a cursor (a second reading path). */
static char *cursor_text(const spk_table *t) {
    sbuf b = {NULL, 0, 0};
    sb_str(&b, "");
    int ncols = spk_schema_ncols(spk_table_schema(t));
    spk_cursor c;
    spk_cursor_open(&c, t);
    bool first = true;
    while (spk_cursor_next(&c)) {
        if (!first) sb_str(&b, "|");
        first = false;
        for (int i = 0; i < ncols; i++) {
            spk_value v;
            char buf[SPK_VALUE_TEXT_MAX];
            if (i) sb_str(&b, ",");
            if (spk_cursor_get(&c, i, &v) != SPK_OK) sb_str(&b, "<get failed>");
            else if (v.is_null) sb_str(&b, "NULL");
            else if (v.type.id == SPK_TYPE_STRING) sb_put(&b, v.as.str.ptr, v.as.str.len);
            else {
                spk_value_format(&v, buf, sizeof buf);
                sb_str(&b, buf);
            }
        }
    }
    return b.p;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* "r1|r2|r3" with its rows sorted (a multiset's canonical form). */
static char *sorted_rows(const char *text) {
    size_t n = 1, len = strlen(text);
    for (size_t i = 0; i < len; i++) n += text[i] == '|';
    char *copy = (char *)malloc(len + 1);
    char **rows = (char **)malloc(n * sizeof *rows);
    if (!copy || !rows) abort();
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

/* Collects df (consumed: released here) and compares its rows with `want`
 * ("" = no rows), in order or, if `sorted`, as multisets; the cursor
 * reading and count() must agree. */
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
    char *got = table_text(t), *cur = cursor_text(t);
    size_t nrows = spk_table_nrows(t);
    spk_table_free(t);
    if (strcmp(got, cur) != 0) failf(file, line, "spk_table_get and the cursor disagree:\n  \"%s\"\n  \"%s\"", got, cur);
    if (sorted) {
        char *g = sorted_rows(got), *w = sorted_rows(want);
        if (strcmp(g, w) != 0) failf(file, line, "rows (as multisets)\n  got:      \"%s\"\n  expected: \"%s\"", g, w);
        free(g);
        free(w);
    } else if (strcmp(got, want) != 0) {
        failf(file, line, "rows\n  got:      \"%s\"\n  expected: \"%s\"", got, want);
    }
    int64_t n = -1;
    st = spk_df_count(df, &n);
    if (st != SPK_OK) failf(file, line, "count failed: %s %s", spk_status_name(st), spk_last_error());
    else if ((size_t)n != nrows) failf(file, line, "count() = %lld but collect gave %zu rows", (long long)n, nrows);
    free(got);
    free(cur);
    spk_df_release(df);
}
#define EXPECT_ROWS(df, want) expect_rows_at(__FILE__, __LINE__, (df), (want), false)
#define EXPECT_SET(df, want) expect_rows_at(__FILE__, __LINE__, (df), (want), true)
/* The rows of spark.table(name) in session s. */
#define EXPECT_TABLE(s, name, want) expect_rows_at(__FILE__, __LINE__, spk_session_table((s), (name)), (want), false)

/* `got` is the status a call returned: it must be `want`, and the message
 * must contain each NULL-terminated needle. */
static void expect_status_at(const char *file, int line, const char *call, spk_status got, spk_status want, ...) {
    const char *msg = spk_last_error();
    if (got != want) {
        failf(file, line, "%s returned %s, expected %s (%s)", call, spk_status_name(got), spk_status_name(want), msg);
        return;
    }
    if (want == SPK_OK) return;
    if (spk_last_status() != want)
        failf(file, line, "%s: spk_last_status() is %s, expected %s", call, spk_status_name(spk_last_status()), spk_status_name(want));
    va_list ap;
    va_start(ap, want);
    for (const char *n = va_arg(ap, const char *); n; n = va_arg(ap, const char *))
        if (!strstr(msg, n)) failf(file, line, "%s: expected \"%s\" in the error:\n  \"%s\"", call, n, msg);
    va_end(ap);
}
#define EXPECT_ERR(call, st, ...) expect_status_at(__FILE__, __LINE__, #call, (call), (st), __VA_ARGS__, (const char *)NULL)

/* df (consumed) must be NULL with status st and each needle in the message. */
static void expect_null_at(const char *file, int line, const char *call, spk_df *df, spk_status st, ...) {
    if (df) {
        failf(file, line, "%s: expected a failure (%s), got a DataFrame", call, spk_status_name(st));
        spk_df_release(df);
        return;
    }
    const char *msg = spk_last_error();
    if (spk_last_status() != st)
        failf(file, line, "%s: status %s, expected %s (%s)", call, spk_status_name(spk_last_status()), spk_status_name(st), msg);
    va_list ap;
    va_start(ap, st);
    for (const char *n = va_arg(ap, const char *); n; n = va_arg(ap, const char *))
        if (!strstr(msg, n)) failf(file, line, "%s: expected \"%s\" in the error:\n  \"%s\"", call, n, msg);
    va_end(ap);
}
#define EXPECT_NULL(call, st, ...) expect_null_at(__FILE__, __LINE__, #call, (call), (st), __VA_ARGS__, (const char *)NULL)

/* "a,b,c" from a name list, which is freed. */
static void expect_names_at(const char *file, int line, const char *call, spk_status st, spk_names *n, const char *want) {
    if (st != SPK_OK) {
        failf(file, line, "%s failed: %s %s", call, spk_status_name(st), spk_last_error());
        spk_names_free(n);
        return;
    }
    sbuf b = {NULL, 0, 0};
    sb_str(&b, "");
    for (int i = 0; i < n->n; i++) {
        if (i) sb_str(&b, ",");
        sb_str(&b, n->names[i]);
    }
    if (strcmp(b.p, want) != 0) failf(file, line, "%s\n  got:      \"%s\"\n  expected: \"%s\"", call, b.p, want);
    free(b.p);
    spk_names_free(n);
    if (n->n != 0 || n->names != NULL) failf(file, line, "spk_names_free left the list non-empty");
}
#define EXPECT_TABLES(s, db, want)                                                                          \
    do {                                                                                                    \
        spk_names n_ = {0, NULL, NULL};                                                                     \
        expect_names_at(__FILE__, __LINE__, "listTables(" #db ")", spk_catalog_list_tables((s), (db), &n_), \
                        &n_, (want));                                                                       \
    } while (0)
#define EXPECT_DATABASES(s, want)                                                                          \
    do {                                                                                                   \
        spk_names n_ = {0, NULL, NULL};                                                                    \
        expect_names_at(__FILE__, __LINE__, "listDatabases", spk_catalog_list_databases((s), &n_), &n_, (want)); \
    } while (0)

/* The value of key in s, or "<unset>" / "<error>" (one static buffer). */
static const char *conf(spk_session *s, const char *key) {
    static char buf[256];
    spk_status st = spk_conf_get(s, key, buf, sizeof buf);
    if (st == SPK_ERR_NOT_FOUND) return "<unset>";
    if (st != SPK_OK) return "<error>";
    return buf;
}

static const char *current_db(spk_session *s) {
    static char buf[160];
    if (spk_catalog_current_database(s, buf, sizeof buf) != SPK_OK) return "<error>";
    return buf;
}

/* The table's current version, 0 if that fails. */
static uint64_t version_of(spk_session *s, const char *name) {
    uint64_t v = 0;
    if (spk_catalog_table_version(s, name, &v) != SPK_OK) return 0;
    return v;
}

/* A fixture DataFrame; NULL (reported) on failure. */
static spk_df *fixture_at(const char *file, int line, spk_session *s, const char *text) {
    spk_df *df = spk_df_from_fixture(s, text);
    if (!df) failf(file, line, "fixture failed: %s", spk_last_error());
    return df;
}
#define FIX(s, text) fixture_at(__FILE__, __LINE__, (s), (text))

/* saveAsTable of a fixture; the status of the save (the fixture must build). */
static spk_status save_fix(spk_session *s, const char *fixture, const char *name, const char *mode) {
    spk_df *df = spk_df_from_fixture(s, fixture);
    if (!df) {
        fprintf(stderr, "%s: fixture failed: %s\n", spk_test_current, spk_last_error());
        spk_test_current_failed = 1;
        return SPK_ERR_INTERNAL;
    }
    spk_status st = spk_catalog_save_as_table(s, df, name, mode);
    spk_df_release(df);
    return st;
}

static spk_status insert_fix(spk_session *s, const char *fixture, const char *name, bool overwrite) {
    spk_df *df = spk_df_from_fixture(s, fixture);
    if (!df) {
        fprintf(stderr, "%s: fixture failed: %s\n", spk_test_current, spk_last_error());
        spk_test_current_failed = 1;
        return SPK_ERR_INTERNAL;
    }
    spk_status st = spk_catalog_insert_into(s, df, name, overwrite);
    spk_df_release(df);
    return st;
}

static spk_status view_fix(spk_session *s, const char *fixture, const char *name, bool replace, bool global) {
    spk_df *df = spk_df_from_fixture(s, fixture);
    if (!df) {
        fprintf(stderr, "%s: fixture failed: %s\n", spk_test_current, spk_last_error());
        spk_test_current_failed = 1;
        return SPK_ERR_INTERNAL;
    }
    spk_status st = global ? (replace ? spk_catalog_create_or_replace_global_temp_view(s, name, df)
                                      : spk_catalog_create_global_temp_view(s, name, df))
                           : (replace ? spk_catalog_create_or_replace_temp_view(s, name, df)
                                      : spk_catalog_create_temp_view(s, name, df));
    spk_df_release(df);
    return st;
}

/* A root session from a builder with the NULL-terminated key, value pairs. */
static spk_session *session_with(const char *key, ...) {
    spk_builder *b = NULL;
    spk_session *s = NULL;
    if (spk_builder_new(&b) != SPK_OK) {
        fprintf(stderr, "%s: spk_builder_new: %s\n", spk_test_current, spk_last_error());
        spk_test_current_failed = 1;
        return NULL;
    }
    va_list ap;
    va_start(ap, key);
    for (const char *k = key; k; k = va_arg(ap, const char *)) {
        const char *v = va_arg(ap, const char *);
        if (spk_builder_config(b, k, v) != SPK_OK) {
            fprintf(stderr, "%s: config %s=%s: %s\n", spk_test_current, k, v, spk_last_error());
            spk_test_current_failed = 1;
        }
    }
    va_end(ap);
    if (spk_builder_create(b, &s) != SPK_OK) {
        fprintf(stderr, "%s: spk_builder_create: %s\n", spk_test_current, spk_last_error());
        spk_test_current_failed = 1;
        s = NULL;
    }
    spk_builder_free(b);
    return s;
}

/* The schema as "name:type" with "?" after nullable columns. */
static void expect_schema_at(const char *file, int line, const spk_schema *s, const char *want) {
    if (!s) {
        failf(file, line, "no schema");
        return;
    }
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
        if (f->nullable) sb_str(&b, "?");
    }
    if (strcmp(b.p, want) != 0) failf(file, line, "schema\n  got:      \"%s\"\n  expected: \"%s\"", b.p, want);
    free(b.p);
}
/* The schema of spark.table(name) in s. */
static void expect_table_schema_at(const char *file, int line, spk_session *s, const char *name, const char *want) {
    spk_df *df = spk_session_table(s, name);
    if (!df) {
        failf(file, line, "table %s: %s", name, spk_last_error());
        return;
    }
    expect_schema_at(file, line, spk_df_schema(df), want);
    spk_df_release(df);
}
#define EXPECT_DF_SCHEMA(df, want) expect_schema_at(__FILE__, __LINE__, spk_df_schema(df), (want))
#define EXPECT_TABLE_SCHEMA(s, name, want) expect_table_schema_at(__FILE__, __LINE__, (s), (name), (want))

/* ------------------------------------------------------------ 1. builder and configuration */

static void test_builder_config(void) {
    spk_builder *b = NULL;
    CHECK_OK(spk_builder_new(&b));
    if (!b) return;
    CHECK_OK(spk_builder_config(b, "spark.app.name", "catalog-test"));
    CHECK_OK(spk_builder_config(b, "my.custom.key", "v1"));
    CHECK_OK(spk_builder_config(b, "my.custom.key", "v2")); /* the last value wins */
    CHECK_OK(spk_builder_config(b, "spark.sparkless.backend", "memory"));
    CHECK_OK(spk_builder_config(b, "spark.sparkless.backend.maxMemory", "512m"));
    CHECK_OK(spk_builder_config(b, "spark.sparkless.backend.basePath", "/tmp/unused-by-memory"));
    CHECK_OK(spk_builder_config(b, "spark.sparkless.threads", "2"));
    CHECK_OK(spk_builder_config(b, "spark.sql.caseSensitive", "FALSE"));
    /* byte sizes Spark accepts */
    CHECK_OK(spk_builder_config(b, "spark.sparkless.backend.maxMemory", "100b"));
    CHECK_OK(spk_builder_config(b, "spark.sparkless.backend.maxMemory", "2GB"));
    CHECK_OK(spk_builder_config(b, "spark.sparkless.backend.maxMemory", "1024"));
    CHECK_OK(spk_builder_config(b, "spark.sparkless.backend.maxMemory", "512m"));

    /* bad values of known keys: SPK_ERR_ARG naming the key, and the old value
     * stays (checked on the session below) */
    EXPECT_ERR(spk_builder_config(b, "spark.sparkless.backend", "nosuch"), SPK_ERR_ARG, "spark.sparkless.backend", "nosuch",
               "memory", "file");
    EXPECT_ERR(spk_builder_config(b, "spark.sparkless.backend.maxMemory", "12x"), SPK_ERR_ARG,
               "spark.sparkless.backend.maxMemory", "12x");
    EXPECT_ERR(spk_builder_config(b, "spark.sparkless.backend.maxMemory", ""), SPK_ERR_ARG, "spark.sparkless.backend.maxMemory");
    EXPECT_ERR(spk_builder_config(b, "spark.sparkless.backend.maxMemory", "k"), SPK_ERR_ARG, "spark.sparkless.backend.maxMemory");
    EXPECT_ERR(spk_builder_config(b, "spark.sparkless.threads", "-1"), SPK_ERR_ARG, "spark.sparkless.threads", "-1");
    EXPECT_ERR(spk_builder_config(b, "spark.sparkless.threads", "abc"), SPK_ERR_ARG, "spark.sparkless.threads", "abc");
    EXPECT_ERR(spk_builder_config(b, "spark.sparkless.threads", ""), SPK_ERR_ARG, "spark.sparkless.threads");
    EXPECT_ERR(spk_builder_config(b, "spark.sql.caseSensitive", "maybe"), SPK_ERR_ARG, "spark.sql.caseSensitive", "maybe");
    EXPECT_ERR(spk_builder_config(b, "spark.sparkless.backend.basePath", ""), SPK_ERR_ARG, "spark.sparkless.backend.basePath");
    EXPECT_ERR(spk_builder_config(b, "spark.sparkless.backend.allowDiskSpillover", "yes"), SPK_ERR_ARG,
               "spark.sparkless.backend.allowDiskSpillover");
    EXPECT_ERR(spk_builder_config(b, "spark.sparkless.threads", "99999999"), SPK_ERR_ARG, "spark.sparkless.threads");
    EXPECT_ERR(spk_builder_config(b, "spark.sparkless.backend.maxMemory", "99999999999999999999"), SPK_ERR_ARG,
               "spark.sparkless.backend.maxMemory");
    EXPECT_ERR(spk_builder_config(b, "spark.sparkless.backend.maxMemory", "17179869184g"), SPK_ERR_ARG, /* 2^64 bytes */
               "spark.sparkless.backend.maxMemory");
    EXPECT_ERR(spk_builder_config(b, "spark.sparkless.backend.maxMemory", "-1"), SPK_ERR_ARG, "spark.sparkless.backend.maxMemory");
    CHECK_OK(spk_builder_config(b, "spark.sparkless.backend.allowDiskSpillover", "true"));
    EXPECT_ERR(spk_builder_config(b, "", "x"), SPK_ERR_ARG, "empty key");
    EXPECT_ERR(spk_builder_config(b, NULL, "x"), SPK_ERR_ARG, "NULL");
    EXPECT_ERR(spk_builder_config(b, "k", NULL), SPK_ERR_ARG, "NULL");
    EXPECT_ERR(spk_builder_config(NULL, "k", "v"), SPK_ERR_ARG, "NULL builder");

    spk_session *s = NULL;
    CHECK_OK(spk_builder_create(b, &s));
    spk_builder_free(b);
    if (!s) return;
    CHECK_STR(conf(s, "spark.app.name"), "catalog-test");
    CHECK_STR(conf(s, "my.custom.key"), "v2");
    CHECK_STR(conf(s, "spark.sparkless.backend"), "memory");
    CHECK_STR(conf(s, "spark.sparkless.backend.maxMemory"), "512m");
    CHECK_STR(conf(s, "spark.sparkless.backend.basePath"), "/tmp/unused-by-memory");
    CHECK_STR(conf(s, "spark.sparkless.threads"), "2");
    CHECK_STR(conf(s, "spark.sql.caseSensitive"), "FALSE");
    CHECK_STR(conf(s, "spark.sparkless.backend.allowDiskSpillover"), "true");
    CHECK_EQ_INT(spk_session_threads(s), 2);
    CHECK_STR(spk_backend_type(spk_session_backend(s)), "memory");

    /* static keys cannot change on a live session */
    EXPECT_ERR(spk_conf_set(s, "spark.sparkless.backend", "memory"), SPK_ERR_STATE, "spark.sparkless.backend", "static");
    EXPECT_ERR(spk_conf_set(s, "spark.sparkless.backend.maxMemory", "1g"), SPK_ERR_STATE, "spark.sparkless.backend.maxMemory");
    EXPECT_ERR(spk_conf_set(s, "spark.sparkless.backend.basePath", "/x"), SPK_ERR_STATE, "spark.sparkless.backend.basePath");
    EXPECT_ERR(spk_conf_unset(s, "spark.sparkless.backend.maxMemory"), SPK_ERR_STATE, "spark.sparkless.backend.maxMemory");
    CHECK_STR(conf(s, "spark.sparkless.backend.maxMemory"), "512m");

    /* unset keys, buffers */
    char buf[64];
    EXPECT_ERR(spk_conf_get(s, "no.such.key", buf, sizeof buf), SPK_ERR_NOT_FOUND, "no.such.key");
    EXPECT_ERR(spk_conf_get(s, "spark.app.name", buf, 5), SPK_ERR_LIMIT, "spark.app.name", "13");
    EXPECT_ERR(spk_conf_get(s, "spark.app.name", buf, 12), SPK_ERR_LIMIT, "spark.app.name");
    CHECK_OK(spk_conf_get(s, "spark.app.name", buf, 13)); /* 12 characters and the NUL */
    CHECK_STR(buf, "catalog-test");
    EXPECT_ERR(spk_conf_get(s, NULL, buf, sizeof buf), SPK_ERR_ARG, "NULL");

    /* runtime keys: set, replace, check, unset */
    CHECK_OK(spk_conf_set(s, "my.custom.key", "v3"));
    CHECK_STR(conf(s, "my.custom.key"), "v3");
    CHECK_OK(spk_conf_set(s, "another.key", ""));
    CHECK_STR(conf(s, "another.key"), "");
    CHECK_OK(spk_conf_unset(s, "my.custom.key"));
    CHECK_STR(conf(s, "my.custom.key"), "<unset>");
    CHECK_OK(spk_conf_unset(s, "my.custom.key")); /* unsetting an unset key is fine */
    CHECK_STR(conf(s, "spark.app.name"), "catalog-test");
    EXPECT_ERR(spk_conf_set(s, "spark.sql.caseSensitive", "maybe"), SPK_ERR_ARG, "spark.sql.caseSensitive", "maybe");
    EXPECT_ERR(spk_conf_set(s, "spark.sparkless.threads", "abc"), SPK_ERR_ARG, "spark.sparkless.threads");
    CHECK_STR(conf(s, "spark.sql.caseSensitive"), "FALSE");
    CHECK_OK(spk_conf_set(s, "spark.sparkless.threads", "1"));
    CHECK_EQ_INT(spk_session_threads(s), 1);

    /* spark.sql.caseSensitive changes name resolution of later DataFrames */
    spk_df *d = FIX(s, "id INT, Name STRING\n1,a\n2,b");
    EXPECT_ROWS(spk_df_select(d, 1, spk_col("ID")), "1|2");
    EXPECT_ROWS(spk_df_select(d, 1, spk_col("name")), "a|b");
    spk_df_release(d);
    CHECK_OK(spk_conf_set(s, "spark.sql.caseSensitive", "true"));
    CHECK_STR(conf(s, "spark.sql.caseSensitive"), "true");
    d = FIX(s, "id INT, Name STRING\n1,a\n2,b");
    EXPECT_NULL(spk_df_select(d, 1, spk_col("ID")), SPK_ERR_NOT_FOUND, "ID");
    EXPECT_NULL(spk_df_select(d, 1, spk_col("name")), SPK_ERR_NOT_FOUND, "name");
    EXPECT_ROWS(spk_df_select(d, 1, spk_col("id")), "1|2");
    EXPECT_ROWS(spk_df_select(d, 1, spk_col("Name")), "a|b");
    spk_df_release(d);
    /* unset: back to the default (case-insensitive) */
    CHECK_OK(spk_conf_unset(s, "spark.sql.caseSensitive"));
    d = FIX(s, "id INT\n1\n2");
    EXPECT_ROWS(spk_df_select(d, 1, spk_col("ID")), "1|2");
    spk_df_release(d);
    spk_session_stop(s);

    /* set on the builder, it holds from the start */
    s = session_with("spark.sql.caseSensitive", "true", (const char *)NULL);
    if (!s) return;
    d = FIX(s, "id INT\n1\n2");
    EXPECT_NULL(spk_df_select(d, 1, spk_col("ID")), SPK_ERR_NOT_FOUND, "ID");
    EXPECT_ROWS(spk_df_select(d, 1, spk_col("id")), "1|2");
    spk_df_release(d);
    /* a session made without the backend key reports the backend it uses */
    CHECK_STR(spk_backend_type(spk_session_backend(s)), "memory");
    spk_session_stop(s);

    /* builder odds and ends */
    spk_builder_free(NULL);
    EXPECT_ERR(spk_builder_new(NULL), SPK_ERR_ARG, "NULL");
    CHECK_OK(spk_builder_new(&b));
    EXPECT_ERR(spk_builder_backend(b, NULL), SPK_ERR_ARG, "NULL");
    EXPECT_ERR(spk_builder_create(b, NULL), SPK_ERR_ARG, "NULL");
    spk_builder_free(b); /* a builder never used makes no session */
}

/* ------------------------------------------------------------ 2. getOrCreate */

static void test_get_or_create(void) {
    spk_builder *b1 = NULL, *b2 = NULL, *b3 = NULL;
    spk_session *s1 = NULL, *s2 = NULL, *s3 = NULL;
    CHECK_OK(spk_builder_new(&b1));
    CHECK_OK(spk_builder_new(&b2));
    CHECK_OK(spk_builder_new(&b3));
    if (!b1 || !b2 || !b3) return;
    CHECK_OK(spk_builder_config(b1, "spark.app.name", "first"));
    CHECK_OK(spk_builder_config(b1, "k", "1"));
    CHECK_OK(spk_builder_config(b2, "k", "2"));
    CHECK_OK(spk_builder_config(b2, "only.second", "yes"));
    CHECK_OK(spk_builder_config(b2, "spark.sql.caseSensitive", "true"));
    CHECK_OK(spk_builder_config(b2, "spark.sparkless.backend.maxMemory", "1k")); /* static: not applied */

    CHECK_OK(spk_builder_get_or_create(b1, &s1));
    if (!s1) goto done;
    CHECK_OK(save_fix(s1, "id INT\n1\n2", "g1", NULL));
    /* a backend injected into a later builder is not used (the default
     * session exists); the builder still owns it and closes it when freed */
    spk_backend *unused = NULL;
    CHECK_OK(spk_backend_create("memory", NULL, &unused));
    if (unused) CHECK_OK(spk_builder_backend(b2, unused));
    CHECK_OK(spk_builder_get_or_create(b2, &s2));
    CHECK(s1 == s2);
    CHECK(spk_session_backend(s1) != unused);
    if (!s2) goto done;
    CHECK_STR(conf(s1, "spark.app.name"), "first");
    CHECK_STR(conf(s1, "k"), "2");
    CHECK_STR(conf(s2, "only.second"), "yes");
    CHECK_STR(conf(s1, "spark.sql.caseSensitive"), "true");
    CHECK_STR(conf(s1, "spark.sparkless.backend.maxMemory"), "<unset>");
    /* the runtime key took effect: resolution is case-sensitive now */
    spk_df *d = FIX(s2, "id INT\n1");
    EXPECT_NULL(spk_df_select(d, 1, spk_col("ID")), SPK_ERR_NOT_FOUND, "ID");
    spk_df_release(d);
    /* the static key did not: a table of far more than 1k saves */
    d = spk_df_range(s2, 0, 1000, 1);
    CHECK_OK(spk_catalog_save_as_table(s2, d, "g_big", NULL));
    spk_df_release(d);
    EXPECT_TABLES(s1, NULL, "g1,g_big");

    /* one handle stops; the other still works, and is still the default */
    spk_session_stop(s1);
    EXPECT_TABLE(s2, "g1", "1|2");
    CHECK_OK(save_fix(s2, "id INT\n3", "g2", NULL));
    EXPECT_TABLES(s2, NULL, "g1,g2,g_big");
    CHECK_OK(spk_builder_get_or_create(b3, &s3));
    CHECK(s3 == s2);
    spk_session_stop(s3);
    EXPECT_TABLE(s2, "g2", "3");
    spk_session_stop(s2);
    s1 = s2 = s3 = NULL;

    /* all handles gone: a fresh default session with an empty catalog and
     * only this builder's configuration */
    CHECK_OK(spk_builder_get_or_create(b3, &s3));
    if (s3) {
        EXPECT_TABLES(s3, NULL, "");
        CHECK(!spk_catalog_table_exists(s3, "g1"));
        CHECK_STR(conf(s3, "k"), "<unset>");
        CHECK_STR(conf(s3, "spark.app.name"), "<unset>");
        /* a builder_create session is not the default */
        spk_session *other = NULL;
        CHECK_OK(spk_builder_create(b1, &other));
        CHECK(other != s3);
        if (other) {
            CHECK_OK(save_fix(other, "id INT\n9", "only_other", NULL));
            CHECK(!spk_catalog_table_exists(s3, "only_other"));
            spk_session_stop(other);
        }
        spk_session *again = NULL;
        CHECK_OK(spk_builder_get_or_create(b1, &again));
        CHECK(again == s3);
        CHECK_STR(conf(s3, "k"), "1");
        spk_session_stop(again);
        spk_session_stop(s3);
    }
done:
    if (s1 && s1 != s2) spk_session_stop(s1);
    spk_builder_free(b1);
    spk_builder_free(b2);
    spk_builder_free(b3);
}

/* ------------------------------------------------------------ 3. child sessions */

static void test_child_sessions(void) {
    spk_session *parent = session_with("p.key", "p", "spark.app.name", "parent", (const char *)NULL);
    if (!parent) return;
    CHECK_OK(save_fix(parent, "id INT, s STRING\n1,x\n2,y", "shared1", NULL));
    CHECK_OK(spk_conf_set(parent, "spark.sql.caseSensitive", "true"));
    spk_session *child = NULL;
    CHECK_OK(spk_session_new_session(parent, &child));
    if (!child) {
        spk_session_stop(parent);
        return;
    }
    CHECK(child != parent);
    CHECK(spk_session_backend(child) == spk_session_backend(parent));

    /* tables are shared both ways */
    EXPECT_TABLE(child, "shared1", "1,x|2,y");
    CHECK_OK(save_fix(child, "v DOUBLE\n1.5", "shared2", NULL));
    EXPECT_TABLE(parent, "shared2", "1.5");
    CHECK_OK(save_fix(parent, "v DOUBLE\n2.5", "shared2", "append"));
    EXPECT_TABLE(child, "shared2", "1.5|2.5");
    CHECK_EQ_INT(version_of(child, "shared2"), 2);

    /* configuration: a copy of the parent's; changes do not leak either way */
    CHECK_STR(conf(child, "p.key"), "p");
    CHECK_STR(conf(child, "spark.app.name"), "parent");
    CHECK_STR(conf(child, "spark.sql.caseSensitive"), "true");
    spk_df *d = FIX(child, "id INT\n1");
    EXPECT_NULL(spk_df_select(d, 1, spk_col("ID")), SPK_ERR_NOT_FOUND, "ID"); /* case sensitivity copied too */
    spk_df_release(d);
    CHECK_OK(spk_conf_set(child, "p.key", "c"));
    CHECK_OK(spk_conf_set(child, "c.only", "x"));
    CHECK_OK(spk_conf_set(child, "spark.sql.caseSensitive", "false"));
    CHECK_STR(conf(parent, "p.key"), "p");
    CHECK_STR(conf(parent, "c.only"), "<unset>");
    CHECK_STR(conf(parent, "spark.sql.caseSensitive"), "true");
    d = FIX(parent, "id INT\n1");
    EXPECT_NULL(spk_df_select(d, 1, spk_col("ID")), SPK_ERR_NOT_FOUND, "ID");
    spk_df_release(d);
    d = FIX(child, "id INT\n1");
    EXPECT_ROWS(spk_df_select(d, 1, spk_col("ID")), "1");
    spk_df_release(d);
    CHECK_OK(spk_conf_set(parent, "p.later", "1"));
    CHECK_STR(conf(child, "p.later"), "<unset>");
    CHECK_OK(spk_conf_unset(child, "spark.app.name"));
    CHECK_STR(conf(parent, "spark.app.name"), "parent");

    /* temp views are per session: the same name holds different plans */
    CHECK_OK(view_fix(parent, "a INT\n10", "v", false, false));
    CHECK_OK(view_fix(child, "a INT\n20\n21", "v", false, false));
    EXPECT_TABLE(parent, "v", "10");
    EXPECT_TABLE(child, "v", "20|21");
    CHECK_OK(view_fix(parent, "a INT\n11", "only_parent", false, false));
    CHECK(spk_catalog_table_exists(parent, "only_parent"));
    CHECK(!spk_catalog_table_exists(child, "only_parent"));
    EXPECT_NULL(spk_session_table(child, "only_parent"), SPK_ERR_NOT_FOUND, "only_parent");
    EXPECT_TABLES(parent, NULL, "only_parent,shared1,shared2,v");
    EXPECT_TABLES(child, NULL, "shared1,shared2,v");
    CHECK(spk_catalog_drop_temp_view(parent, "v"));
    EXPECT_TABLE(child, "v", "20|21");
    CHECK(!spk_catalog_table_exists(parent, "v"));

    /* a new session starts in "default", whatever the parent's current database */
    CHECK_OK(spk_catalog_create_database(parent, "pdb", false));
    CHECK_OK(spk_catalog_set_current_database(parent, "pdb"));
    spk_session *child2 = NULL;
    CHECK_OK(spk_session_new_session(parent, &child2));
    if (child2) {
        CHECK_STR(current_db(child2), "default");
        CHECK_STR(current_db(parent), "pdb");
        CHECK_OK(spk_catalog_set_current_database(child2, "pdb"));
        CHECK_OK(save_fix(child2, "z INT\n5", "in_pdb", NULL));
        EXPECT_TABLE(parent, "in_pdb", "5");     /* parent's current database is pdb */
        EXPECT_NULL(spk_session_table(child, "in_pdb"), SPK_ERR_NOT_FOUND, "in_pdb"); /* child's is default */
        EXPECT_TABLE(child, "pdb.in_pdb", "5");
        /* a child of a child shares the same catalog */
        spk_session *grandchild = NULL;
        CHECK_OK(spk_session_new_session(child2, &grandchild));
        if (grandchild) {
            EXPECT_TABLE(grandchild, "pdb.in_pdb", "5");
            EXPECT_TABLE(grandchild, "shared1", "1,x|2,y");
            spk_session_stop(grandchild);
        }
        spk_session_stop(child2);
    }

    /* the parent stops; the child keeps the catalog alive */
    CHECK_OK(view_fix(parent, "g INT\n77", "pgv", false, true));
    spk_session_stop(parent);
    EXPECT_TABLE(child, "global_temp.pgv", "77");
    EXPECT_TABLE(child, "shared1", "1,x|2,y");
    EXPECT_TABLE(child, "pdb.in_pdb", "5");
    CHECK_OK(save_fix(child, "id INT\n3", "shared3", NULL));
    EXPECT_TABLE(child, "shared3", "3");
    EXPECT_TABLES(child, NULL, "shared1,shared2,shared3,v");
    EXPECT_TABLE(child, "v", "20|21");
    CHECK_STR(conf(child, "p.key"), "c");
    /* and a child of the child, made after the root stopped */
    spk_session *late = NULL;
    CHECK_OK(spk_session_new_session(child, &late));
    if (late) {
        EXPECT_TABLE(late, "shared3", "3");
        CHECK_STR(conf(late, "c.only"), "x");
        spk_session_stop(late);
    }
    spk_session_stop(child);
    EXPECT_ERR(spk_session_new_session(NULL, &child), SPK_ERR_ARG, "NULL");
}

/* ------------------------------------------------------------ 4. databases */

static void test_databases(void) {
    spk_session *s = session_with((const char *)NULL);
    if (!s) return;
    CHECK(spk_catalog_database_exists(s, "default"));
    CHECK(spk_catalog_database_exists(s, "DEFAULT"));
    CHECK(!spk_catalog_database_exists(s, "sales"));
    EXPECT_DATABASES(s, "default");
    CHECK_STR(current_db(s), "default");

    CHECK_OK(spk_catalog_create_database(s, "Sales", false));
    CHECK(spk_catalog_database_exists(s, "sales"));
    CHECK(spk_catalog_database_exists(s, "SALES"));
    EXPECT_DATABASES(s, "default,sales");
    EXPECT_ERR(spk_catalog_create_database(s, "sales", false), SPK_ERR_EXISTS, "sales", "already exists");
    EXPECT_ERR(spk_catalog_create_database(s, "SALES", false), SPK_ERR_EXISTS, "sales");
    CHECK_OK(spk_catalog_create_database(s, "SALES", true));
    EXPECT_ERR(spk_catalog_create_database(s, "default", false), SPK_ERR_EXISTS, "default");
    CHECK_OK(spk_catalog_create_database(s, "hr_2024", false));
    EXPECT_DATABASES(s, "default,hr_2024,sales");

    /* bad names */
    EXPECT_ERR(spk_catalog_create_database(s, "a-b", false), SPK_ERR_ARG, "a-b");
    EXPECT_ERR(spk_catalog_create_database(s, "", false), SPK_ERR_ARG, "database name");
    EXPECT_ERR(spk_catalog_create_database(s, "a.b", false), SPK_ERR_ARG, "a.b");
    EXPECT_ERR(spk_catalog_create_database(s, "a b", false), SPK_ERR_ARG, "a b");
    EXPECT_ERR(spk_catalog_create_database(s, NULL, false), SPK_ERR_ARG, "NULL");
    EXPECT_ERR(spk_catalog_create_database(s, "global_temp", false), SPK_ERR_ARG, "global_temp");
    EXPECT_ERR(spk_catalog_create_database(s, "Global_Temp", true), SPK_ERR_ARG, "global_temp");
    CHECK(!spk_catalog_database_exists(s, "a-b"));
    EXPECT_DATABASES(s, "default,hr_2024,sales");
    /* at most 128 characters */
    char longname[131], qualified[300];
    memset(longname, 'n', 129);
    longname[129] = 0;
    EXPECT_ERR(spk_catalog_create_database(s, longname, false), SPK_ERR_ARG, "128");
    longname[128] = 0;
    CHECK_OK(spk_catalog_create_database(s, longname, false));
    snprintf(qualified, sizeof qualified, "%s.%s", longname, longname);
    CHECK_OK(save_fix(s, "id INT\n1", qualified, NULL));
    EXPECT_TABLE(s, qualified, "1");
    CHECK_OK(spk_catalog_drop_database(s, longname, false, true));

    /* dropping */
    EXPECT_ERR(spk_catalog_drop_database(s, "default", false, false), SPK_ERR_ARG, "default");
    EXPECT_ERR(spk_catalog_drop_database(s, "DEFAULT", true, true), SPK_ERR_ARG, "default");
    CHECK(spk_catalog_database_exists(s, "default"));
    EXPECT_ERR(spk_catalog_drop_database(s, "nosuch", false, false), SPK_ERR_NOT_FOUND, "nosuch");
    CHECK_OK(spk_catalog_drop_database(s, "nosuch", true, false));
    EXPECT_ERR(spk_catalog_drop_database(s, "global_temp", true, true), SPK_ERR_ARG, "global_temp");
    CHECK_OK(spk_catalog_drop_database(s, "HR_2024", false, false)); /* empty: no cascade needed */
    CHECK(!spk_catalog_database_exists(s, "hr_2024"));

    /* a database with tables */
    CHECK_OK(save_fix(s, "id INT\n1\n2", "sales.orders", NULL));
    CHECK_OK(save_fix(s, "id INT\n7", "SALES.Refunds", NULL));
    EXPECT_TABLES(s, "sales", "orders,refunds");
    EXPECT_TABLES(s, "SALES", "orders,refunds");
    EXPECT_TABLES(s, NULL, "");
    EXPECT_ERR(spk_catalog_drop_database(s, "sales", false, false), SPK_ERR_STATE, "sales", "cascade");
    CHECK(spk_catalog_database_exists(s, "sales"));
    EXPECT_TABLE(s, "sales.orders", "1|2");
    EXPECT_TABLE(s, "Sales.Orders", "1|2");

    /* the current database */
    CHECK_OK(spk_catalog_set_current_database(s, "Sales"));
    CHECK_STR(current_db(s), "sales");
    EXPECT_TABLE(s, "orders", "1|2");
    CHECK_OK(save_fix(s, "id INT\n3", "t2", NULL));
    EXPECT_TABLES(s, NULL, "orders,refunds,t2");
    EXPECT_TABLES(s, "sales", "orders,refunds,t2");
    EXPECT_TABLES(s, "default", "");
    EXPECT_TABLE(s, "t2", "3");
    EXPECT_TABLE(s, "sales.t2", "3");
    EXPECT_NULL(spk_session_table(s, "default.t2"), SPK_ERR_NOT_FOUND, "t2");
    CHECK(spk_catalog_table_exists(s, "t2"));
    CHECK(!spk_catalog_table_exists(s, "default.t2"));
    CHECK_EQ_INT(version_of(s, "t2"), 1);
    CHECK_OK(save_fix(s, "id INT\n4", "t2", "append"));
    EXPECT_TABLE(s, "sales.t2", "3|4");
    CHECK_OK(insert_fix(s, "id INT\n5", "t2", false));
    EXPECT_TABLE(s, "sales.t2", "3|4|5");
    EXPECT_ERR(spk_catalog_set_current_database(s, "nosuch"), SPK_ERR_NOT_FOUND, "nosuch");
    EXPECT_ERR(spk_catalog_set_current_database(s, "global_temp"), SPK_ERR_ARG, "global_temp");
    EXPECT_ERR(spk_catalog_set_current_database(s, "a-b"), SPK_ERR_ARG, "a-b");
    CHECK_STR(current_db(s), "sales");
    char small[3];
    EXPECT_ERR(spk_catalog_current_database(s, small, sizeof small), SPK_ERR_LIMIT, "6");
    CHECK_OK(spk_catalog_drop_table(s, "t2", false));
    EXPECT_TABLES(s, "sales", "orders,refunds");
    CHECK_OK(spk_catalog_set_current_database(s, "default"));
    CHECK_STR(current_db(s), "default");

    /* drop with cascade takes its tables; a new database of the name is empty */
    CHECK_OK(spk_catalog_drop_database(s, "sales", false, true));
    CHECK(!spk_catalog_database_exists(s, "sales"));
    EXPECT_DATABASES(s, "default");
    EXPECT_NULL(spk_session_table(s, "sales.orders"), SPK_ERR_NOT_FOUND, "sales");
    CHECK(!spk_catalog_table_exists(s, "sales.orders"));
    EXPECT_ERR(spk_catalog_list_tables(s, "sales", &(spk_names){0, NULL, NULL}), SPK_ERR_NOT_FOUND, "sales");
    CHECK_OK(spk_catalog_create_database(s, "sales", false));
    EXPECT_TABLES(s, "sales", "");
    /* writing into a missing database */
    EXPECT_ERR(save_fix(s, "id INT\n1", "nodb.t", NULL), SPK_ERR_NOT_FOUND, "nodb");
    CHECK(!spk_catalog_database_exists(s, "nodb"));

    /* global_temp holds no tables */
    EXPECT_ERR(save_fix(s, "id INT\n1", "global_temp.t", NULL), SPK_ERR_ARG, "global_temp");
    EXPECT_ERR(save_fix(s, "id INT\n1", "GLOBAL_TEMP.t", "overwrite"), SPK_ERR_ARG, "global_temp");
    EXPECT_TABLES(s, "global_temp", "");
    spk_session_stop(s);
}

/* ------------------------------------------------------------ 5. saveAsTable and insertInto */

static void test_save_modes(void) {
    spk_session *s = session_with((const char *)NULL);
    if (!s) return;
    /* a new table: every column nullable, whatever the data's schema */
    spk_df *src = FIX(s, "id INT NOT NULL, name STRING NOT NULL\n1,a\n2,b");
    EXPECT_DF_SCHEMA(src, "id:int,name:string");
    CHECK_OK(spk_catalog_save_as_table(s, src, "t", NULL));
    spk_df_release(src);
    EXPECT_TABLE(s, "t", "1,a|2,b");
    EXPECT_TABLE_SCHEMA(s, "t", "id:int?,name:string?");
    CHECK_EQ_INT(version_of(s, "t"), 1);

    /* error mode (NULL, "error", "errorifexists", any case): the table stays */
    EXPECT_ERR(save_fix(s, "id INT, name STRING\n9,z", "t", NULL), SPK_ERR_EXISTS, "default.t", "already exists");
    EXPECT_ERR(save_fix(s, "id INT, name STRING\n9,z", "t", "error"), SPK_ERR_EXISTS, "default.t");
    EXPECT_ERR(save_fix(s, "id INT, name STRING\n9,z", "T", "ErrorIfExists"), SPK_ERR_EXISTS, "default.t");
    EXPECT_ERR(save_fix(s, "x DOUBLE\n1.0", "default.t", "default"), SPK_ERR_EXISTS, "default.t");
    EXPECT_TABLE(s, "t", "1,a|2,b");
    CHECK_EQ_INT(version_of(s, "t"), 1);

    /* unknown mode: nothing written, not even a new table */
    EXPECT_ERR(save_fix(s, "id INT, name STRING\n9,z", "t", "upsert"), SPK_ERR_ARG, "upsert", "append");
    EXPECT_ERR(save_fix(s, "id INT\n1", "t_bogus", "bogus"), SPK_ERR_ARG, "bogus");
    CHECK(!spk_catalog_table_exists(s, "t_bogus"));
    EXPECT_TABLE(s, "t", "1,a|2,b");

    /* append matches columns by name */
    CHECK_OK(save_fix(s, "name STRING, id INT\nc,3", "t", "append"));
    EXPECT_TABLE(s, "t", "1,a|2,b|3,c");
    CHECK_EQ_INT(version_of(s, "t"), 2);
    CHECK_OK(save_fix(s, "NAME STRING, Id INT\nd,4", "t", "APPEND")); /* names ignore case */
    EXPECT_TABLE(s, "t", "1,a|2,b|3,c|4,d");
    EXPECT_TABLE_SCHEMA(s, "t", "id:int?,name:string?");
    CHECK_EQ_INT(version_of(s, "t"), 3);
    /* a missing or an extra column: SPK_ERR_SCHEMA naming it, nothing written */
    EXPECT_ERR(save_fix(s, "id INT\n5", "t", "append"), SPK_ERR_SCHEMA, "name", "default.t");
    EXPECT_ERR(save_fix(s, "id INT, name STRING, extra INT\n5,e,1", "t", "append"), SPK_ERR_SCHEMA, "extra");
    EXPECT_ERR(save_fix(s, "id INT, nom STRING\n5,e", "t", "append"), SPK_ERR_SCHEMA, "name", "nom");
    EXPECT_TABLE(s, "t", "1,a|2,b|3,c|4,d");
    CHECK_EQ_INT(version_of(s, "t"), 3);
    /* an appended empty DataFrame makes a version with the same rows */
    CHECK_OK(save_fix(s, "id INT, name STRING\n", "t", "append"));
    EXPECT_TABLE(s, "t", "1,a|2,b|3,c|4,d");
    CHECK_EQ_INT(version_of(s, "t"), 4);

    /* INT appended into BIGINT widens; the table keeps BIGINT */
    spk_df *big = spk_df_range(s, 10, 12, 1); /* id BIGINT NOT NULL */
    CHECK_OK(spk_catalog_save_as_table(s, big, "w", "overwrite"));
    spk_df_release(big);
    EXPECT_TABLE_SCHEMA(s, "w", "id:bigint?");
    CHECK_OK(save_fix(s, "id INT\n7\nNULL", "w", "append"));
    EXPECT_TABLE(s, "w", "10|11|7|NULL");
    EXPECT_TABLE_SCHEMA(s, "w", "id:bigint?");
    CHECK_EQ_INT(version_of(s, "w"), 2);
    /* an incompatible type: SPK_ERR_SCHEMA naming the column (catalog.h) */
    EXPECT_ERR(save_fix(s, "id STRING\nx", "w", "append"), SPK_ERR_SCHEMA, "`id`", "default.w");
    EXPECT_ERR(save_fix(s, "id STRING\n", "w", "append"), SPK_ERR_SCHEMA, "`id`"); /* by type, even with no rows */
    EXPECT_ERR(save_fix(s, "id DOUBLE\n1.5", "w", "append"), SPK_ERR_SCHEMA, "`id`"); /* DOUBLE does not fit BIGINT */
    EXPECT_TABLE(s, "w", "10|11|7|NULL");
    CHECK_EQ_INT(version_of(s, "w"), 2);

    /* append to a missing table creates it */
    CHECK_OK(save_fix(s, "k STRING\nnew", "t_new", "append"));
    EXPECT_TABLE(s, "t_new", "new");
    CHECK_EQ_INT(version_of(s, "t_new"), 1);

    /* overwrite replaces rows and schema */
    CHECK_OK(save_fix(s, "x DOUBLE, y STRING\n1.5,p", "t", "overwrite"));
    EXPECT_TABLE(s, "t", "1.5,p");
    EXPECT_TABLE_SCHEMA(s, "t", "x:double?,y:string?");
    CHECK_EQ_INT(version_of(s, "t"), 5);
    CHECK_OK(save_fix(s, "z INT NOT NULL\n1", "t_ow", "Overwrite")); /* creates when missing */
    EXPECT_TABLE(s, "t_ow", "1");
    EXPECT_TABLE_SCHEMA(s, "t_ow", "z:int?");
    CHECK_EQ_INT(version_of(s, "t_ow"), 1);
    /* overwriting with no rows leaves an empty table of the new schema */
    CHECK_OK(save_fix(s, "q BOOLEAN\n", "t_ow", "overwrite"));
    EXPECT_TABLE(s, "t_ow", "");
    EXPECT_TABLE_SCHEMA(s, "t_ow", "q:boolean?");
    CHECK_EQ_INT(version_of(s, "t_ow"), 2);

    /* ignore leaves an existing table; creates a missing one */
    CHECK_OK(save_fix(s, "id INT, name STRING\n1,a", "t", "ignore"));
    EXPECT_TABLE(s, "t", "1.5,p");
    EXPECT_TABLE_SCHEMA(s, "t", "x:double?,y:string?");
    CHECK_EQ_INT(version_of(s, "t"), 5);
    CHECK_OK(save_fix(s, "id INT\n8", "t_ign", "IGNORE"));
    EXPECT_TABLE(s, "t_ign", "8");
    CHECK_EQ_INT(version_of(s, "t_ign"), 1);

    /* versions 1, 2, 3 */
    CHECK_OK(save_fix(s, "a INT\n1", "ver", NULL));
    CHECK_EQ_INT(version_of(s, "ver"), 1);
    CHECK_OK(save_fix(s, "a INT\n2", "ver", "append"));
    CHECK_EQ_INT(version_of(s, "ver"), 2);
    CHECK_OK(save_fix(s, "a INT\n3", "ver", "overwrite"));
    CHECK_EQ_INT(version_of(s, "ver"), 3);
    EXPECT_TABLE(s, "ver", "3");
    uint64_t v = 0;
    EXPECT_ERR(spk_catalog_table_version(s, "nosuch", &v), SPK_ERR_NOT_FOUND, "nosuch");
    EXPECT_ERR(spk_catalog_table_version(s, "ver", NULL), SPK_ERR_ARG, "NULL");

    /* saveAsTable of a DataFrame built from another table (a query over it) */
    spk_df *t = spk_session_table(s, "w");
    spk_df *f = spk_df_filter(t, spk_gt(spk_col("id"), spk_lit_i64(9)));
    CHECK_OK(spk_catalog_save_as_table(s, f, "w_big", NULL));
    spk_df_release(f);
    spk_df_release(t);
    EXPECT_TABLE(s, "w_big", "10|11");
    /* and into itself, overwriting (the source was read at build time) */
    t = spk_session_table(s, "w");
    f = spk_df_filter(t, spk_lt(spk_col("id"), spk_lit_i64(11)));
    CHECK_OK(spk_catalog_save_as_table(s, f, "w", "overwrite"));
    spk_df_release(f);
    spk_df_release(t);
    EXPECT_TABLE(s, "w", "10|7");
    CHECK_EQ_INT(version_of(s, "w"), 3);

    /* bad names */
    EXPECT_ERR(save_fix(s, "a INT\n1", "a-b", NULL), SPK_ERR_ARG, "a-b");
    EXPECT_ERR(save_fix(s, "a INT\n1", "a.b.c", NULL), SPK_ERR_ARG, "a.b.c");
    EXPECT_ERR(save_fix(s, "a INT\n1", "", NULL), SPK_ERR_ARG, "table name");
    EXPECT_ERR(save_fix(s, "a INT\n1", ".t", NULL), SPK_ERR_ARG, "database name");
    EXPECT_ERR(spk_catalog_save_as_table(s, NULL, "x", NULL), SPK_ERR_ARG, "NULL");
    EXPECT_TABLES(s, NULL, "t,t_ign,t_new,t_ow,ver,w,w_big");

    /* insertInto: by position */
    CHECK_OK(save_fix(s, "id INT, name STRING\n1,a", "ins", NULL));
    CHECK_OK(insert_fix(s, "a INT, b STRING\n2,b", "ins", false)); /* other names: position counts */
    EXPECT_TABLE(s, "ins", "1,a|2,b");
    EXPECT_TABLE_SCHEMA(s, "ins", "id:int?,name:string?");
    CHECK_EQ_INT(version_of(s, "ins"), 2);
    EXPECT_ERR(insert_fix(s, "id INT, name STRING\n1,a", "missing", false), SPK_ERR_NOT_FOUND, "missing");
    CHECK(!spk_catalog_table_exists(s, "missing"));
    EXPECT_ERR(insert_fix(s, "id INT\n3", "ins", false), SPK_ERR_SCHEMA, "2 columns");
    EXPECT_ERR(insert_fix(s, "id INT, name STRING, x INT\n3,c,1", "ins", false), SPK_ERR_SCHEMA, "columns");
    EXPECT_TABLE(s, "ins", "1,a|2,b");
    CHECK_EQ_INT(version_of(s, "ins"), 2);
    CHECK_OK(insert_fix(s, "id INT, name STRING\n9,z\n8,y", "ins", true));
    EXPECT_TABLE(s, "ins", "9,z|8,y");
    EXPECT_TABLE_SCHEMA(s, "ins", "id:int?,name:string?");
    CHECK_EQ_INT(version_of(s, "ins"), 3);
    EXPECT_ERR(insert_fix(s, "id INT, name STRING\n1,a", "missing", true), SPK_ERR_NOT_FOUND, "missing");
    /* values widen to the table's types by position */
    CHECK_OK(insert_fix(s, "n INT\n5", "w", false));
    EXPECT_TABLE(s, "w", "10|7|5");
    EXPECT_TABLE_SCHEMA(s, "w", "id:bigint?");
    EXPECT_ERR(spk_catalog_insert_into(s, NULL, "w", false), SPK_ERR_ARG, "NULL");
    /* a type that does not widen: SPK_ERR_SCHEMA naming the table's column */
    EXPECT_ERR(insert_fix(s, "n STRING\nx", "w", false), SPK_ERR_SCHEMA, "`id`", "default.w");
    EXPECT_ERR(insert_fix(s, "n STRING\nx", "w", true), SPK_ERR_SCHEMA, "`id`");
    EXPECT_TABLE(s, "w", "10|7|5");
    /* appending a table to itself doubles it (the source is read before the write) */
    spk_df *self = spk_session_table(s, "w");
    CHECK_OK(spk_catalog_save_as_table(s, self, "w", "append"));
    CHECK_OK(spk_catalog_insert_into(s, self, "w", false));
    spk_df_release(self);
    EXPECT_TABLE(s, "w", "10|7|5|10|7|5|10|7|5");
    spk_session_stop(s);
}

/* ------------------------------------------------------------ 6. reading tables */

static void test_read_tables(void) {
    spk_session *s = session_with((const char *)NULL);
    if (!s) return;
    CHECK_OK(save_fix(s, "id INT, name STRING\n1,a\n2,b", "r", NULL));
    spk_df *before = spk_session_table(s, "r");
    CHECK(before != NULL);
    EXPECT_DF_SCHEMA(before, "id:int?,name:string?");
    CHECK_OK(save_fix(s, "id INT, name STRING\n3,c", "r", "append"));
    /* a DataFrame read before the append is a snapshot of version 1 */
    EXPECT_ROWS(spk_df_retain(before), "1,a|2,b");
    EXPECT_TABLE(s, "r", "1,a|2,b|3,c");
    /* qualified column names: the DataFrame is aliased by the table name */
    EXPECT_ROWS(spk_df_select(before, 1, spk_col("r.id")), "1|2");
    EXPECT_ROWS(spk_df_select(before, 2, spk_col("r.name"), spk_col("id")), "a,1|b,2");
    EXPECT_NULL(spk_df_select(before, 1, spk_col("q.id")), SPK_ERR_NOT_FOUND, "`q`.`id`");
    spk_df *qual = spk_session_table(s, "default.r");
    EXPECT_ROWS(spk_df_select(qual, 1, spk_col("r.name")), "a|b|c");
    EXPECT_ROWS(spk_df_filter(qual, spk_eq(spk_col("r.id"), spk_lit_i64(2))), "2,b");
    spk_df_release(qual);
    /* a self-join through the aliases */
    spk_df *l = spk_df_alias(before, "l");
    spk_df *rr = spk_session_table(s, "r");
    spk_df *j = spk_df_join(l, rr, spk_eq(spk_col("l.id"), spk_col("r.id")), "inner");
    EXPECT_SET(spk_df_select(j, 2, spk_col("l.name"), spk_col("r.id")), "a,1|b,2");
    spk_df_release(j);
    spk_df_release(rr);
    spk_df_release(l);
    /* overwrite and drop do not disturb the snapshot either */
    CHECK_OK(save_fix(s, "q INT\n0", "r", "overwrite"));
    EXPECT_ROWS(spk_df_retain(before), "1,a|2,b");
    CHECK_OK(spk_catalog_drop_table(s, "r", false));
    EXPECT_ROWS(spk_df_retain(before), "1,a|2,b");
    spk_df_release(before);

    /* listTables: tables, then the session's temp views (as one sorted list) */
    CHECK_OK(save_fix(s, "id INT\n1", "r", NULL));
    CHECK_OK(save_fix(s, "id INT\n2", "r2", NULL));
    CHECK_OK(view_fix(s, "id INT\n3", "rv", false, false));
    EXPECT_TABLES(s, NULL, "r,r2,rv");
    EXPECT_TABLES(s, "default", "r,r2,rv");
    EXPECT_ERR(spk_catalog_list_tables(s, "nosuch", &(spk_names){0, NULL, NULL}), SPK_ERR_NOT_FOUND, "nosuch");
    CHECK_OK(spk_catalog_create_database(s, "other", false));
    EXPECT_TABLES(s, "other", ""); /* temp views belong to the current database's listing only */

    /* tableExists */
    CHECK(spk_catalog_table_exists(s, "r"));
    CHECK(spk_catalog_table_exists(s, "R"));
    CHECK(spk_catalog_table_exists(s, "default.r"));
    CHECK(spk_catalog_table_exists(s, "rv"));
    CHECK(!spk_catalog_table_exists(s, "default.rv")); /* a temp view is in no database */
    CHECK(!spk_catalog_table_exists(s, "nosuch"));
    CHECK(!spk_catalog_table_exists(s, "other.r"));
    CHECK(!spk_catalog_table_exists(s, "nodb.r"));
    CHECK(!spk_catalog_table_exists(s, "a-b"));
    CHECK(!spk_catalog_table_exists(s, NULL));

    /* dropTable */
    CHECK_OK(spk_catalog_drop_table(s, "R2", false));
    CHECK(!spk_catalog_table_exists(s, "r2"));
    EXPECT_ERR(spk_catalog_drop_table(s, "r2", false), SPK_ERR_NOT_FOUND, "r2");
    CHECK_OK(spk_catalog_drop_table(s, "r2", true));
    CHECK_OK(spk_catalog_drop_table(s, "nodb.r2", true));
    EXPECT_TABLES(s, NULL, "r,rv");
    CHECK_OK(spk_catalog_drop_table(s, "default.r", false));
    EXPECT_TABLES(s, NULL, "rv");
    /* a dropped name can be saved anew, starting at version 1 */
    CHECK_OK(save_fix(s, "n STRING\nfresh", "r", NULL));
    EXPECT_TABLE(s, "r", "fresh");
    CHECK_EQ_INT(version_of(s, "r"), 1);

    /* missing tables and bad names */
    EXPECT_NULL(spk_session_table(s, "nosuch"), SPK_ERR_NOT_FOUND, "nosuch");
    EXPECT_NULL(spk_session_table(s, "nodb.r"), SPK_ERR_NOT_FOUND, "nodb");
    EXPECT_NULL(spk_session_table(s, "a.b.c"), SPK_ERR_ARG, "a.b.c");
    EXPECT_NULL(spk_session_table(s, "a-b"), SPK_ERR_ARG, "a-b");
    EXPECT_NULL(spk_session_table(s, NULL), SPK_ERR_ARG, "NULL");
    spk_session_stop(s);
}

/* ------------------------------------------------------------ 7. views */

static void test_views(void) {
    spk_session *s = session_with((const char *)NULL);
    if (!s) return;
    CHECK_OK(save_fix(s, "id INT\n1\n2\n3\n4\n5", "base", NULL));
    spk_df *base = spk_session_table(s, "base");
    spk_df *gt2 = spk_df_filter(base, spk_gt(spk_col("id"), spk_lit_i64(2)));
    spk_df *le2 = spk_df_filter(base, spk_le(spk_col("id"), spk_lit_i64(2)));
    CHECK_OK(spk_catalog_create_temp_view(s, "v", gt2));
    EXPECT_ERR(spk_catalog_create_temp_view(s, "v", le2), SPK_ERR_EXISTS, "TempTableAlreadyExistsException", "v");
    EXPECT_ERR(spk_catalog_create_temp_view(s, "V", le2), SPK_ERR_EXISTS, "TempTableAlreadyExistsException");
    EXPECT_TABLE(s, "v", "3|4|5");
    EXPECT_TABLE(s, "V", "3|4|5");
    EXPECT_ERR(spk_catalog_create_temp_view(s, "a-b", le2), SPK_ERR_ARG, "a-b");
    EXPECT_ERR(spk_catalog_create_temp_view(s, "db.v", le2), SPK_ERR_ARG, "db.v");
    EXPECT_ERR(spk_catalog_create_temp_view(s, "x", NULL), SPK_ERR_ARG, "NULL");

    /* replace: later reads see the new plan, a DataFrame read before keeps the old */
    spk_df *old = spk_session_table(s, "v");
    CHECK_OK(spk_catalog_create_or_replace_temp_view(s, "v", le2));
    EXPECT_TABLE(s, "v", "1|2");
    EXPECT_ROWS(spk_df_retain(old), "3|4|5");
    CHECK_OK(spk_catalog_create_or_replace_temp_view(s, "fresh", gt2)); /* also creates */
    EXPECT_TABLE(s, "fresh", "3|4|5");

    /* Views are lazy plans, not copies: no rows were materialised when the
     * view was made. But the plan of spk_session_table(s, "base") was fixed
     * at the version current when it was built (a table DataFrame is a
     * snapshot), so a view over it does NOT see rows saved into "base"
     * later: after this append, "fresh" (id > 2 over version 1) still gives
     * 3, 4, 5 while the table itself has 7 rows. (Spark would re-read the
     * table and give 3..7; this is the implementation's documented
     * snapshot-at-build behaviour, asserted here.) */
    CHECK_OK(save_fix(s, "id INT\n6\n7", "base", "append"));
    EXPECT_TABLE(s, "base", "1|2|3|4|5|6|7");
    EXPECT_TABLE(s, "fresh", "3|4|5");
    /* a view made from a fresh read of the table sees the new version */
    spk_df *base2 = spk_session_table(s, "base");
    spk_df *gt2b = spk_df_filter(base2, spk_gt(spk_col("id"), spk_lit_i64(2)));
    CHECK_OK(spk_catalog_create_or_replace_temp_view(s, "fresh", gt2b));
    EXPECT_TABLE(s, "fresh", "3|4|5|6|7");
    spk_df_release(gt2b);
    spk_df_release(base2);
    /* a view over a view: reading "v" at build time fixes its plan */
    spk_df *vv = spk_session_table(s, "v");
    spk_df *vv2 = spk_df_with_column(vv, "twice", spk_mul(spk_col("id"), spk_lit_i64(2)));
    CHECK_OK(spk_catalog_create_temp_view(s, "v_twice", vv2));
    spk_df_release(vv2);
    spk_df_release(vv);
    EXPECT_TABLE(s, "v_twice", "1,2|2,4");
    CHECK_OK(spk_catalog_create_or_replace_temp_view(s, "v", gt2));
    EXPECT_TABLE(s, "v_twice", "1,2|2,4");
    EXPECT_TABLE(s, "v", "3|4|5");

    /* a temp view shadows a table for unqualified names only */
    CHECK_OK(save_fix(s, "id INT\n1", "shadow", NULL));
    CHECK_OK(view_fix(s, "id INT\n100", "shadow", false, false));
    EXPECT_TABLE(s, "shadow", "100");
    EXPECT_TABLE(s, "default.shadow", "1");
    CHECK(spk_catalog_table_exists(s, "shadow"));
    EXPECT_TABLES(s, NULL, "base,fresh,shadow,shadow,v,v_twice");
    CHECK(spk_catalog_drop_temp_view(s, "SHADOW"));
    EXPECT_TABLE(s, "shadow", "1");
    CHECK(!spk_catalog_drop_temp_view(s, "shadow"));
    CHECK(spk_catalog_table_exists(s, "shadow")); /* the table is still there */
    CHECK(!spk_catalog_drop_temp_view(s, "nosuch"));
    CHECK(!spk_catalog_drop_temp_view(s, "a-b"));
    CHECK(!spk_catalog_drop_temp_view(s, NULL));

    /* global temp views */
    CHECK_OK(view_fix(s, "g INT\n42", "gv", false, true));
    EXPECT_ERR(view_fix(s, "g INT\n43", "gv", false, true), SPK_ERR_EXISTS, "global_temp.gv", "TempTableAlreadyExistsException");
    EXPECT_TABLE(s, "global_temp.gv", "42");
    CHECK_OK(view_fix(s, "g INT\n43", "GV", true, true));
    EXPECT_TABLE(s, "global_temp.gv", "43");
    EXPECT_NULL(spk_session_table(s, "gv"), SPK_ERR_NOT_FOUND, "gv");
    CHECK(spk_catalog_table_exists(s, "global_temp.gv"));
    CHECK(!spk_catalog_table_exists(s, "gv"));
    EXPECT_TABLES(s, "global_temp", "gv");
    EXPECT_TABLES(s, "GLOBAL_TEMP", "gv");
    /* a global view and a temp view of the same name are separate */
    CHECK_OK(view_fix(s, "g INT\n7", "gv", false, false));
    EXPECT_TABLE(s, "gv", "7");
    EXPECT_TABLE(s, "global_temp.gv", "43");
    CHECK(spk_catalog_drop_temp_view(s, "gv"));

    spk_session *child = NULL;
    CHECK_OK(spk_session_new_session(s, &child));
    if (child) {
        EXPECT_TABLE(child, "global_temp.gv", "43");
        EXPECT_NULL(spk_session_table(child, "gv"), SPK_ERR_NOT_FOUND, "gv");
        CHECK(spk_catalog_table_exists(child, "global_temp.gv"));
        CHECK(!spk_catalog_table_exists(child, "gv"));
        /* the parent's temp views are not the child's */
        EXPECT_NULL(spk_session_table(child, "v"), SPK_ERR_NOT_FOUND, "v");
        CHECK(!spk_catalog_drop_temp_view(child, "v"));
        EXPECT_TABLE(s, "v", "3|4|5");
        EXPECT_TABLES(child, NULL, "base,shadow");
        EXPECT_TABLES(child, "global_temp", "gv");
        /* created in the child, visible in the parent */
        CHECK_OK(view_fix(child, "h INT\n5", "gv2", false, true));
        EXPECT_TABLE(s, "global_temp.gv2", "5");
        CHECK(spk_catalog_drop_global_temp_view(child, "gv"));
        CHECK(!spk_catalog_drop_global_temp_view(child, "gv"));
        EXPECT_NULL(spk_session_table(s, "global_temp.gv"), SPK_ERR_NOT_FOUND, "gv");
        CHECK(!spk_catalog_table_exists(s, "global_temp.gv"));
        EXPECT_TABLES(s, "global_temp", "gv2");
        spk_session_stop(child);
    }
    /* global views outlive the session that made them (they are the catalog's) */
    EXPECT_TABLE(s, "global_temp.gv2", "5");
    CHECK(!spk_catalog_drop_global_temp_view(s, "nosuch"));
    CHECK(spk_catalog_drop_global_temp_view(s, "GV2"));
    EXPECT_TABLES(s, "global_temp", "");

    spk_df_release(old);
    spk_df_release(le2);
    spk_df_release(gt2);
    spk_df_release(base);
    spk_session_stop(s);
}

/* ------------------------------------------------------------ 8. maxMemory */

static void test_max_memory(void) {
    spk_session *s = session_with("spark.sparkless.backend.maxMemory", "64k", (const char *)NULL);
    if (!s) return;
    spk_df *small = spk_df_range(s, 0, 3, 1);
    CHECK_OK(spk_catalog_save_as_table(s, small, "small", NULL));
    EXPECT_TABLE(s, "small", "0|1|2");
    CHECK_EQ_INT(version_of(s, "small"), 1);

    /* 100k rows do not fit in 64 KiB */
    spk_df *big = spk_df_range(s, 0, 100000, 1);
    EXPECT_ERR(spk_catalog_save_as_table(s, big, "big", NULL), SPK_ERR_LIMIT, "spark.sparkless.backend.maxMemory", "big");
    EXPECT_TABLES(s, NULL, "small");
    CHECK(!spk_catalog_table_exists(s, "big"));
    EXPECT_NULL(spk_session_table(s, "big"), SPK_ERR_NOT_FOUND, "big");
    EXPECT_TABLE(s, "small", "0|1|2");
    CHECK_EQ_INT(version_of(s, "small"), 1);
    /* overwrite and append that would pass the limit leave the old version */
    EXPECT_ERR(spk_catalog_save_as_table(s, big, "small", "overwrite"), SPK_ERR_LIMIT, "spark.sparkless.backend.maxMemory");
    EXPECT_TABLE(s, "small", "0|1|2");
    CHECK_EQ_INT(version_of(s, "small"), 1);
    EXPECT_ERR(spk_catalog_save_as_table(s, big, "small", "append"), SPK_ERR_LIMIT, "spark.sparkless.backend.maxMemory");
    EXPECT_TABLE(s, "small", "0|1|2");
    CHECK_EQ_INT(version_of(s, "small"), 1);
    EXPECT_ERR(spk_catalog_insert_into(s, big, "small", true), SPK_ERR_LIMIT, "spark.sparkless.backend.maxMemory");
    EXPECT_TABLE(s, "small", "0|1|2");
    CHECK_EQ_INT(version_of(s, "small"), 1);
    EXPECT_TABLES(s, NULL, "small");

    /* the failures left the accounting as it was: small writes keep working,
     * and overwriting a table many times over does not add up its versions */
    spk_df *other = spk_df_range(s, 5, 7, 1);
    CHECK_OK(spk_catalog_save_as_table(s, other, "small2", NULL));
    EXPECT_TABLE(s, "small2", "5|6");
    for (int i = 0; i < 200; i++) {
        spk_status st = spk_catalog_save_as_table(s, other, "small", "overwrite");
        if (st != SPK_OK) {
            CHECK_OK(st);
            break;
        }
    }
    EXPECT_TABLE(s, "small", "5|6");
    CHECK_EQ_INT(version_of(s, "small"), 201);
    /* dropping and saving again many times does not leak accounting either */
    for (int i = 0; i < 100; i++) {
        spk_status st = spk_catalog_drop_table(s, "small2", false);
        if (st == SPK_OK) st = spk_catalog_save_as_table(s, other, "small2", NULL);
        if (st != SPK_OK) {
            CHECK_OK(st);
            break;
        }
    }
    EXPECT_TABLES(s, NULL, "small,small2");
    /* after dropping everything, a table of over half the budget fits (3000
     * BIGINTs take some 37 KiB), and a second one no longer does */
    CHECK_OK(spk_catalog_drop_table(s, "small", false));
    CHECK_OK(spk_catalog_drop_table(s, "small2", false));
    spk_df *mid = spk_df_range(s, 0, 3000, 1);
    spk_status st = spk_catalog_save_as_table(s, mid, "mid", NULL);
    CHECK_OK(st);
    spk_df_release(mid);
    if (st == SPK_OK) {
        spk_df *mid2 = spk_df_range(s, 0, 3000, 1);
        EXPECT_ERR(spk_catalog_save_as_table(s, mid2, "mid2", NULL), SPK_ERR_LIMIT, "spark.sparkless.backend.maxMemory");
        spk_df_release(mid2);
        CHECK(!spk_catalog_table_exists(s, "mid2"));
    }
    /* dropping a database with cascade gives its tables' bytes back */
    CHECK_OK(spk_catalog_drop_table(s, "mid", true));
    CHECK_OK(spk_catalog_create_database(s, "m", false));
    mid = spk_df_range(s, 0, 3000, 1);
    CHECK_OK(spk_catalog_save_as_table(s, mid, "m.t", NULL));
    EXPECT_ERR(spk_catalog_save_as_table(s, mid, "mid", NULL), SPK_ERR_LIMIT, "spark.sparkless.backend.maxMemory");
    CHECK_OK(spk_catalog_drop_database(s, "m", false, true));
    CHECK_OK(spk_catalog_save_as_table(s, mid, "mid", NULL));
    spk_df_release(mid);
    spk_df_release(other);
    spk_df_release(big);
    spk_df_release(small);
    spk_session_stop(s);

    /* "0" is no limit */
    s = session_with("spark.sparkless.backend.maxMemory", "0", (const char *)NULL);
    if (!s) return;
    big = spk_df_range(s, 0, 100000, 1);
    CHECK_OK(spk_catalog_save_as_table(s, big, "big", NULL));
    spk_df_release(big);
    spk_session_stop(s);

    /* without the key there is no limit */
    s = session_with((const char *)NULL);
    if (!s) return;
    big = spk_df_range(s, 0, 100000, 1);
    CHECK_OK(spk_catalog_save_as_table(s, big, "big", NULL));
    spk_df_release(big);
    spk_df *bt = spk_session_table(s, "big");
    EXPECT_ROWS(spk_df_agg(bt, 1, spk_call("count", 1, spk_star())), "100000");
    spk_df_release(bt);
    spk_session_stop(s);
}

/* ------------------------------------------------------------ 9. the backend registry */

/* What a recording backend saw: one log per backend family (the registered
 * "recording" and an injected instance), appended to under the store's lock. */
typedef struct rec_log {
    char text[16384];
    size_t len;
    int factories, closes;
    void *user_seen;
    uint64_t max_memory_seen;
    char base_path_seen[64];
} rec_log;
static rec_log REC, INJ;

static void rec_reset(rec_log *l) {
    l->len = 0;
    l->text[0] = 0;
}

static void rec_add(rec_log *l, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(l->text + l->len, sizeof l->text - l->len, fmt, ap);
    va_end(ap);
    if (w > 0) l->len += (size_t)w < sizeof l->text - l->len ? (size_t)w : sizeof l->text - l->len - 1;
    if (l->len < sizeof l->text - 1) l->text[l->len++] = ';', l->text[l->len] = 0;
}

/* How many times `what` occurs in the log. */
static int rec_count(const rec_log *l, const char *what) {
    int n = 0;
    for (const char *p = strstr(l->text, what); p; p = strstr(p + 1, what)) n++;
    return n;
}

typedef struct rec_table {
    char db[130], name[130];
    spk_table *rows;
    uint64_t version;
} rec_table;

typedef struct rec_store {
    mtx_t lock;
    rec_log *log;
    char dbs[16][130];
    int ndbs;
    rec_table tables[64];
    int ntables;
} rec_store;

static const char *mode_name(spk_write_mode m) {
    switch (m) {
    case SPK_WRITE_ERROR: return "error";
    case SPK_WRITE_APPEND: return "append";
    case SPK_WRITE_OVERWRITE: return "overwrite";
    case SPK_WRITE_IGNORE: return "ignore";
    case SPK_WRITE_INSERT: return "insert";
    case SPK_WRITE_INSERT_OVERWRITE: return "insert_overwrite";
    }
    return "?";
}

/* Under the lock. */
static int rec_find_db(rec_store *r, const char *db) {
    for (int i = 0; i < r->ndbs; i++)
        if (strcmp(r->dbs[i], db) == 0) return i;
    return -1;
}
static int rec_find_table(rec_store *r, const char *db, const char *name) {
    for (int i = 0; i < r->ntables; i++)
        if (strcmp(r->tables[i].db, db) == 0 && strcmp(r->tables[i].name, name) == 0) return i;
    return -1;
}
static void rec_remove_table(rec_store *r, int i) {
    spk_table_free(r->tables[i].rows);
    r->tables[i] = r->tables[--r->ntables];
}

static spk_status rec_create_schema(void *self, const char *schema, bool if_not_exists) {
    rec_store *r = (rec_store *)self;
    spk_status st = SPK_OK;
    mtx_lock(&r->lock);
    rec_add(r->log, "create_schema(%s,%d)", schema, (int)if_not_exists);
    if (rec_find_db(r, schema) >= 0) st = if_not_exists ? SPK_OK : SPK_ERR_EXISTS;
    else if (r->ndbs == 16) st = SPK_ERR_LIMIT;
    else snprintf(r->dbs[r->ndbs++], sizeof r->dbs[0], "%s", schema);
    mtx_unlock(&r->lock);
    return st;
}

static spk_status rec_drop_schema(void *self, const char *schema, bool cascade) {
    rec_store *r = (rec_store *)self;
    spk_status st = SPK_OK;
    mtx_lock(&r->lock);
    rec_add(r->log, "drop_schema(%s,%d)", schema, (int)cascade);
    int d = rec_find_db(r, schema), n = 0;
    for (int i = 0; i < r->ntables; i++) n += strcmp(r->tables[i].db, schema) == 0;
    if (d < 0) st = SPK_ERR_NOT_FOUND;
    else if (n && !cascade) st = SPK_ERR_STATE;
    else {
        for (int i = r->ntables - 1; i >= 0; i--)
            if (strcmp(r->tables[i].db, schema) == 0) rec_remove_table(r, i);
        memcpy(r->dbs[d], r->dbs[--r->ndbs], sizeof r->dbs[0]);
    }
    mtx_unlock(&r->lock);
    return st;
}

static spk_status rec_list_schemas(void *self, spk_names *out) {
    rec_store *r = (rec_store *)self;
    spk_status st = SPK_OK;
    mtx_lock(&r->lock);
    rec_add(r->log, "list_schemas()");
    for (int i = 0; i < r->ndbs && st == SPK_OK; i++) st = spk_names_add(out, r->dbs[i]);
    mtx_unlock(&r->lock);
    return st;
}

static spk_status rec_list_tables(void *self, const char *schema, spk_names *out) {
    rec_store *r = (rec_store *)self;
    spk_status st = SPK_OK;
    mtx_lock(&r->lock);
    rec_add(r->log, "list_tables(%s)", schema);
    if (rec_find_db(r, schema) < 0) st = SPK_ERR_NOT_FOUND;
    for (int i = 0; i < r->ntables && st == SPK_OK; i++)
        if (strcmp(r->tables[i].db, schema) == 0) st = spk_names_add(out, r->tables[i].name);
    mtx_unlock(&r->lock);
    return st;
}

/* base's rows then add's, in a new table of base's schema. */
static spk_status rec_concat(spk_table *base, spk_table *add, spk_table **out) {
    spk_table *t = NULL;
    spk_status st = spk_table_new(NULL, spk_table_schema(base), &t);
    int n = spk_schema_ncols(spk_table_schema(base));
    spk_value row[16];
    if (st == SPK_OK && n > 16) st = SPK_ERR_LIMIT;
    const spk_table *parts[2] = {base, add};
    for (int p = 0; p < 2 && st == SPK_OK; p++) {
        spk_cursor c;
        spk_cursor_open(&c, parts[p]);
        while (st == SPK_OK && spk_cursor_next(&c)) {
            for (int i = 0; i < n && st == SPK_OK; i++) st = spk_cursor_get(&c, i, &row[i]);
            if (st == SPK_OK) st = spk_table_append_row(t, row, n);
        }
    }
    if (st != SPK_OK) {
        spk_table_free(t);
        return st;
    }
    *out = t;
    return SPK_OK;
}

/* The write modes as spk_backend_ops documents them; rows is taken over. */
static spk_status rec_write(void *self, const char *schema, const char *table, spk_table *rows, spk_write_mode mode,
                            uint64_t *version) {
    rec_store *r = (rec_store *)self;
    spk_status st = SPK_OK;
    mtx_lock(&r->lock);
    rec_add(r->log, "write(%s.%s,%s,%zu)", schema, table, mode_name(mode), spk_table_nrows(rows));
    int i = rec_find_table(r, schema, table);
    char target[270];
    snprintf(target, sizeof target, "%s.%s", schema, table);
    if (rec_find_db(r, schema) < 0) st = SPK_ERR_NOT_FOUND;
    else if (i < 0 && (mode == SPK_WRITE_INSERT || mode == SPK_WRITE_INSERT_OVERWRITE)) st = SPK_ERR_NOT_FOUND;
    else if (i >= 0 && mode == SPK_WRITE_ERROR) st = SPK_ERR_EXISTS;
    else if (i >= 0 && mode == SPK_WRITE_IGNORE) {
        if (version) *version = r->tables[i].version;
    } else if (i < 0) {
        if (r->ntables == 64) st = SPK_ERR_LIMIT;
        else {
            rec_table *t = &r->tables[r->ntables++];
            snprintf(t->db, sizeof t->db, "%s", schema);
            snprintf(t->name, sizeof t->name, "%s", table);
            t->rows = rows;
            rows = NULL;
            t->version = 1;
            if (version) *version = 1;
        }
    } else {
        rec_table *t = &r->tables[i];
        spk_table *next = NULL;
        if (mode == SPK_WRITE_APPEND || mode == SPK_WRITE_INSERT) {
            st = spk_schema_append_check(spk_table_schema(t->rows), spk_table_schema(rows), target);
            if (st == SPK_OK) st = rec_concat(t->rows, rows, &next);
        } else if (mode == SPK_WRITE_INSERT_OVERWRITE) {
            st = spk_schema_append_check(spk_table_schema(t->rows), spk_table_schema(rows), target);
            if (st == SPK_OK) next = rows, rows = NULL;
        } else {
            next = rows; /* overwrite */
            rows = NULL;
        }
        if (st == SPK_OK) {
            spk_table_free(t->rows);
            t->rows = next;
            t->version++;
            if (version) *version = t->version;
        }
    }
    mtx_unlock(&r->lock);
    spk_table_free(rows);
    return st;
}

static spk_status rec_scan(void *self, const char *schema, const char *table, uint64_t version, spk_table **out,
                           uint64_t *version_out) {
    rec_store *r = (rec_store *)self;
    spk_status st = SPK_OK;
    mtx_lock(&r->lock);
    rec_add(r->log, "scan(%s.%s,%llu)", schema, table, (unsigned long long)version);
    int i = rec_find_table(r, schema, table);
    if (i < 0 || (version && version != r->tables[i].version)) st = SPK_ERR_NOT_FOUND;
    else {
        *out = spk_table_retain(r->tables[i].rows);
        if (version_out) *version_out = r->tables[i].version;
    }
    mtx_unlock(&r->lock);
    return st;
}

static spk_status rec_drop_table(void *self, const char *schema, const char *table) {
    rec_store *r = (rec_store *)self;
    spk_status st = SPK_OK;
    mtx_lock(&r->lock);
    rec_add(r->log, "drop_table(%s.%s)", schema, table);
    int i = rec_find_table(r, schema, table);
    if (i < 0) st = SPK_ERR_NOT_FOUND;
    else rec_remove_table(r, i);
    mtx_unlock(&r->lock);
    return st;
}

static void rec_close(void *self) {
    rec_store *r = (rec_store *)self;
    rec_add(r->log, "close()");
    r->log->closes++;
    while (r->ntables) rec_remove_table(r, r->ntables - 1);
    mtx_destroy(&r->lock);
    free(r);
}

static const spk_backend_ops rec_ops = {rec_create_schema, rec_drop_schema, rec_list_schemas, rec_write,
                                        rec_scan,          rec_drop_table,  rec_list_tables,  rec_close,
                                        NULL,              NULL,            NULL,             NULL};

static rec_store *rec_store_new(rec_log *log) {
    rec_store *r = (rec_store *)calloc(1, sizeof *r);
    if (!r) return NULL;
    if (mtx_init(&r->lock, mtx_plain) != thrd_success) {
        free(r);
        return NULL;
    }
    r->log = log;
    return r;
}

static spk_status rec_factory(const spk_backend_config *config, spk_backend **out) {
    rec_log *log = (rec_log *)config->user;
    log->factories++;
    log->user_seen = config->user;
    log->max_memory_seen = config->max_memory;
    snprintf(log->base_path_seen, sizeof log->base_path_seen, "%s", config->base_path ? config->base_path : "(null)");
    rec_store *r = rec_store_new(log);
    if (!r) return SPK_ERR_NOMEM;
    spk_status st = spk_backend_new(config->alloc, "recording", &rec_ops, r, out);
    if (st != SPK_OK) rec_close(r);
    return st;
}

static bool names_have(const spk_names *n, const char *name) {
    for (int i = 0; i < n->n; i++)
        if (strcmp(n->names[i], name) == 0) return true;
    return false;
}

/* The log entries since the last reset, compared whole. */
#define EXPECT_LOG(log, want) CHECK_STR((log).text, (want))

static void test_registry(void) {
    spk_names names = {0, NULL, NULL};
    CHECK_OK(spk_backend_list(&names));
    CHECK(names_have(&names, "memory"));
    CHECK(names_have(&names, "file"));
    CHECK(!names_have(&names, "recording"));
    spk_names_free(&names);

    EXPECT_ERR(spk_backend_create("nosuch", NULL, &(spk_backend *){NULL}), SPK_ERR_NOT_FOUND, "nosuch", "memory", "file");
    EXPECT_ERR(spk_backend_register("bad name", rec_factory, &REC), SPK_ERR_ARG, "bad name");
    EXPECT_ERR(spk_backend_register("", rec_factory, &REC), SPK_ERR_ARG, "");
    EXPECT_ERR(spk_backend_register("abcdefghijklmnopqrstuvwxyz012345", rec_factory, &REC), SPK_ERR_ARG, "31");
    EXPECT_ERR(spk_backend_register("x", NULL, &REC), SPK_ERR_ARG, "NULL");
    EXPECT_ERR(spk_backend_register("memory", rec_factory, &REC), SPK_ERR_EXISTS, "memory");

    CHECK_OK(spk_backend_register("recording", rec_factory, &REC));
    EXPECT_ERR(spk_backend_register("recording", rec_factory, &INJ), SPK_ERR_EXISTS, "recording");
    CHECK_OK(spk_backend_list(&names));
    CHECK(names_have(&names, "memory"));
    CHECK(names_have(&names, "file"));
    CHECK(names_have(&names, "recording"));
    spk_names_free(&names);
    EXPECT_ERR(spk_backend_create("nosuch", NULL, &(spk_backend *){NULL}), SPK_ERR_NOT_FOUND, "recording");

    /* spk_backend_create straight from the registry */
    spk_backend *direct = NULL;
    CHECK_OK(spk_backend_create("recording", NULL, &direct));
    CHECK_EQ_INT(REC.factories, 1);
    CHECK(REC.user_seen == &REC);
    CHECK_STR(spk_backend_type(direct), "recording");
    EXPECT_LOG(REC, "create_schema(default,1);"); /* spk_backend_new makes "default" */
    spk_backend_close(direct);
    CHECK_EQ_INT(REC.closes, 1);
    spk_backend *mem = NULL;
    CHECK_OK(spk_backend_create("memory", NULL, &mem));
    CHECK_STR(spk_backend_type(mem), "memory");
    spk_backend_close(mem);
    spk_backend_close(NULL);

    /* spk_backend_new checks its ops */
    spk_backend_ops partial = rec_ops;
    partial.scan = NULL;
    EXPECT_ERR(spk_backend_new(NULL, "partial", &partial, NULL, &(spk_backend *){NULL}), SPK_ERR_ARG, "partial");

    /* a session on the registered backend */
    rec_reset(&REC);
    spk_builder *b = NULL;
    CHECK_OK(spk_builder_new(&b));
    if (!b) return;
    EXPECT_ERR(spk_builder_config(b, "spark.sparkless.backend", "Recording"), SPK_ERR_ARG, "Recording"); /* names are exact */
    CHECK_OK(spk_builder_config(b, "spark.sparkless.backend", "recording"));
    CHECK_OK(spk_builder_config(b, "spark.sparkless.backend.maxMemory", "1m"));
    CHECK_OK(spk_builder_config(b, "spark.sparkless.backend.basePath", "/some/where"));
    spk_session *s = NULL;
    CHECK_OK(spk_builder_create(b, &s));
    spk_builder_free(b);
    if (!s) return;
    CHECK_EQ_INT(REC.factories, 2);
    CHECK(REC.user_seen == &REC);
    CHECK_EQ_INT(REC.max_memory_seen, 1048576);
    CHECK_STR(REC.base_path_seen, "/some/where");
    CHECK_STR(spk_backend_type(spk_session_backend(s)), "recording");
    CHECK_STR(conf(s, "spark.sparkless.backend"), "recording");
    EXPECT_LOG(REC, "create_schema(default,1);");

    /* databases */
    rec_reset(&REC);
    CHECK_OK(spk_catalog_create_database(s, "RDB", false));
    EXPECT_LOG(REC, "create_schema(rdb,0);");
    rec_reset(&REC);
    CHECK_OK(spk_catalog_create_database(s, "rdb", true));
    EXPECT_LOG(REC, "create_schema(rdb,1);");
    rec_reset(&REC);
    EXPECT_DATABASES(s, "default,rdb");
    EXPECT_LOG(REC, "list_schemas();");
    rec_reset(&REC);
    CHECK(spk_catalog_database_exists(s, "rdb"));
    CHECK_EQ_INT(rec_count(&REC, "list_schemas()"), 1);

    /* save, each mode: one write with the mode and the row count */
    rec_reset(&REC);
    CHECK_OK(save_fix(s, "id INT, name STRING\n1,a\n2,b", "rdb.t", NULL));
    CHECK_EQ_INT(rec_count(&REC, "write("), 1);
    CHECK_EQ_INT(rec_count(&REC, "write(rdb.t,error,2)"), 1);
    CHECK_EQ_INT(rec_count(&REC, "drop_"), 0);
    rec_reset(&REC);
    EXPECT_ERR(save_fix(s, "id INT, name STRING\n9,z", "rdb.t", "error"), SPK_ERR_EXISTS, "rdb.t");
    CHECK_EQ_INT(rec_count(&REC, "write("), rec_count(&REC, "write(rdb.t,error,1)")); /* no other write */
    rec_reset(&REC);
    CHECK_OK(save_fix(s, "name STRING, id INT\nc,3", "rdb.t", "append"));
    CHECK_EQ_INT(rec_count(&REC, "write("), 1);
    CHECK_EQ_INT(rec_count(&REC, "write(rdb.t,append,1)"), 1);
    rec_reset(&REC);
    EXPECT_TABLE(s, "rdb.t", "1,a|2,b|3,c");
    EXPECT_LOG(REC, "scan(rdb.t,0);");
    rec_reset(&REC);
    CHECK_EQ_INT(version_of(s, "rdb.t"), 2);
    EXPECT_LOG(REC, "scan(rdb.t,0);");
    EXPECT_TABLE_SCHEMA(s, "rdb.t", "id:int?,name:string?");
    rec_reset(&REC);
    CHECK_OK(save_fix(s, "id INT, name STRING\n7,q", "rdb.t", "ignore"));
    CHECK_EQ_INT(rec_count(&REC, "write("), rec_count(&REC, "write(rdb.t,ignore,1)"));
    EXPECT_TABLE(s, "rdb.t", "1,a|2,b|3,c");
    CHECK_EQ_INT(version_of(s, "rdb.t"), 2);
    rec_reset(&REC);
    CHECK_OK(save_fix(s, "x DOUBLE\n0.5", "rdb.t", "overwrite"));
    CHECK_EQ_INT(rec_count(&REC, "write("), 1);
    CHECK_EQ_INT(rec_count(&REC, "write(rdb.t,overwrite,1)"), 1);
    EXPECT_TABLE(s, "rdb.t", "0.5");
    CHECK_EQ_INT(version_of(s, "rdb.t"), 3);
    rec_reset(&REC);
    CHECK_OK(insert_fix(s, "y DOUBLE\n1.5\n2.5", "rdb.t", false));
    CHECK_EQ_INT(rec_count(&REC, "write("), 1);
    CHECK_EQ_INT(rec_count(&REC, "write(rdb.t,insert,2)"), 1);
    EXPECT_TABLE(s, "rdb.t", "0.5|1.5|2.5");
    rec_reset(&REC);
    CHECK_OK(insert_fix(s, "y DOUBLE\n9.5", "rdb.t", true));
    CHECK_EQ_INT(rec_count(&REC, "write("), 1);
    CHECK_EQ_INT(rec_count(&REC, "write(rdb.t,insert_overwrite,1)"), 1);
    EXPECT_TABLE(s, "rdb.t", "9.5");
    CHECK_EQ_INT(version_of(s, "rdb.t"), 5);
    rec_reset(&REC);
    EXPECT_ERR(insert_fix(s, "y DOUBLE\n9.5", "rdb.nosuch", false), SPK_ERR_NOT_FOUND, "nosuch");
    CHECK_EQ_INT(rec_count(&REC, "write("), rec_count(&REC, "write(rdb.nosuch,insert,1)"));
    /* a new table in default, unqualified */
    rec_reset(&REC);
    CHECK_OK(save_fix(s, "k INT\n1", "u", "overwrite"));
    CHECK_EQ_INT(rec_count(&REC, "write("), 1);
    CHECK_EQ_INT(rec_count(&REC, "write(default.u,overwrite,1)"), 1);

    /* list */
    rec_reset(&REC);
    EXPECT_TABLES(s, "rdb", "t");
    EXPECT_LOG(REC, "list_tables(rdb);");
    rec_reset(&REC);
    EXPECT_TABLES(s, NULL, "u");
    EXPECT_LOG(REC, "list_tables(default);");
    rec_reset(&REC);
    CHECK(spk_catalog_table_exists(s, "rdb.t"));
    EXPECT_LOG(REC, "scan(rdb.t,0);");

    /* views never reach the backend */
    rec_reset(&REC);
    CHECK_OK(view_fix(s, "a INT\n1", "rv", false, false));
    CHECK_OK(view_fix(s, "a INT\n2", "rgv", false, true));
    EXPECT_TABLE(s, "rv", "1");
    EXPECT_TABLE(s, "global_temp.rgv", "2");
    CHECK(spk_catalog_drop_temp_view(s, "rv"));
    CHECK(spk_catalog_drop_global_temp_view(s, "rgv"));
    EXPECT_LOG(REC, "");

    /* drop */
    rec_reset(&REC);
    CHECK_OK(spk_catalog_drop_table(s, "rdb.t", false));
    EXPECT_LOG(REC, "drop_table(rdb.t);");
    rec_reset(&REC);
    CHECK_OK(spk_catalog_drop_table(s, "rdb.t", true));
    EXPECT_LOG(REC, "drop_table(rdb.t);");
    CHECK_OK(save_fix(s, "k INT\n1", "rdb.t2", NULL));
    rec_reset(&REC);
    CHECK(spk_catalog_drop_database(s, "rdb", false, false) == SPK_ERR_STATE);
    EXPECT_LOG(REC, "drop_schema(rdb,0);");
    rec_reset(&REC);
    CHECK_OK(spk_catalog_drop_database(s, "rdb", false, true));
    EXPECT_LOG(REC, "drop_schema(rdb,1);");
    EXPECT_DATABASES(s, "default");

    /* stopping the session closes the backend once */
    rec_reset(&REC);
    CHECK_EQ_INT(REC.closes, 1);
    spk_session *child = NULL;
    CHECK_OK(spk_session_new_session(s, &child));
    spk_session_stop(s);
    CHECK_EQ_INT(REC.closes, 1); /* the child still uses it */
    if (child) {
        EXPECT_TABLE(child, "u", "1");
        spk_df *held = spk_session_table(child, "u");
        spk_session_stop(child);
        CHECK_EQ_INT(REC.closes, 2);
        EXPECT_ROWS(held, "1"); /* scan's reference outlives the backend */
    }
    CHECK_EQ_INT(REC.closes, 2);
    CHECK_EQ_INT(rec_count(&REC, "close()"), 1);

    /* dependency injection: the builder's backend instance wins over the key */
    rec_reset(&INJ);
    rec_store *store = rec_store_new(&INJ);
    spk_backend *inj = NULL;
    CHECK(store != NULL);
    if (!store) return;
    CHECK_OK(spk_backend_new(NULL, "injected", &rec_ops, store, &inj));
    EXPECT_LOG(INJ, "create_schema(default,1);");
    CHECK_OK(spk_builder_new(&b));
    if (!b || !inj) {
        spk_builder_free(b);
        spk_backend_close(inj);
        return;
    }
    CHECK_OK(spk_builder_config(b, "spark.sparkless.backend", "recording"));
    CHECK_OK(spk_builder_backend(b, inj));
    int factories = REC.factories;
    rec_reset(&REC);
    rec_reset(&INJ);
    s = NULL;
    CHECK_OK(spk_builder_create(b, &s));
    CHECK_EQ_INT(REC.factories, factories); /* the registry was not asked */
    if (s) {
        CHECK(spk_session_backend(s) == inj);
        CHECK_STR(spk_backend_type(spk_session_backend(s)), "injected");
        CHECK_OK(save_fix(s, "id INT\n1\n2", "it", NULL));
        CHECK_EQ_INT(rec_count(&INJ, "write(default.it,error,2)"), 1);
        EXPECT_TABLE(s, "it", "1|2");
        EXPECT_LOG(REC, "");
        spk_session_stop(s);
        CHECK_EQ_INT(INJ.closes, 1);
    }
    spk_builder_free(b); /* the session took the backend over: no second close */
    CHECK_EQ_INT(INJ.closes, 1);

    /* a builder freed unused closes the backend it was given; a replaced one is closed too */
    store = rec_store_new(&INJ);
    rec_store *store2 = rec_store_new(&INJ);
    spk_backend *inj2 = NULL;
    inj = NULL;
    if (store) CHECK_OK(spk_backend_new(NULL, "injected", &rec_ops, store, &inj));
    if (store2) CHECK_OK(spk_backend_new(NULL, "injected2", &rec_ops, store2, &inj2));
    CHECK_OK(spk_builder_new(&b));
    if (b && inj && inj2) {
        CHECK_OK(spk_builder_backend(b, inj));
        CHECK_OK(spk_builder_backend(b, inj2));
        CHECK_EQ_INT(INJ.closes, 2);
        spk_builder_free(b);
        CHECK_EQ_INT(INJ.closes, 3);
    } else {
        spk_builder_free(b);
        spk_backend_close(inj);
        spk_backend_close(inj2);
    }
}

/* A user backend cannot set spk_last_error() (spk__fail is internal), so
 * when one fails the catalog must record the failure itself: the ERROR
 * MODEL promises that spk_last_status()/spk_last_error() describe the most
 * recent failed call. The recording backend returns bare statuses. */
static void test_backend_errors_reported(void) {
    spk_session *s = session_with("spark.sparkless.backend", "recording", (const char *)NULL);
    if (!s) return;
    CHECK_STR(spk_backend_type(spk_session_backend(s)), "recording");
    spk_clear_error();
    EXPECT_ERR(spk_catalog_drop_table(s, "nosuch", false), SPK_ERR_NOT_FOUND, "nosuch");
    spk_clear_error();
    EXPECT_ERR(spk_catalog_list_tables(s, "nodb", &(spk_names){0, NULL, NULL}), SPK_ERR_NOT_FOUND, "nodb");
    spk_clear_error();
    EXPECT_ERR(spk_catalog_create_database(s, "default", false), SPK_ERR_EXISTS, "default");
    spk_clear_error();
    EXPECT_ERR(spk_catalog_drop_database(s, "nodb", false, false), SPK_ERR_NOT_FOUND, "nodb");
    spk_session_stop(s);
}

/* ------------------------------------------------------------ 10. the old entry point, DataFrames outliving sessions */

static void test_legacy_session(void) {
    spk_session *s = NULL;
    CHECK_OK(spk_session_new(NULL, &s));
    if (!s) return;
    CHECK_STR(spk_backend_type(spk_session_backend(s)), "memory");
    CHECK_STR(current_db(s), "default");
    CHECK_OK(save_fix(s, "id INT, name STRING\n1,a\n2,b\n3,c", "legacy", NULL));
    EXPECT_TABLE(s, "legacy", "1,a|2,b|3,c");
    EXPECT_TABLES(s, NULL, "legacy");
    CHECK_OK(save_fix(s, "id INT, name STRING\n4,d", "legacy", "append"));
    CHECK_EQ_INT(version_of(s, "legacy"), 2);

    /* DataFrames outlive the session */
    spk_df *t = spk_session_table(s, "legacy");
    spk_df *f = spk_df_filter(t, spk_gt(spk_col("legacy.id"), spk_lit_i64(1)));
    spk_df *fx = FIX(s, "z INT\n5\n6");
    CHECK_OK(view_fix(s, "q INT\n8", "lv", false, false));
    spk_df *view = spk_session_table(s, "lv");
    spk_df_release(t);
    spk_session_free(s); /* the same as stop */
    EXPECT_ROWS(f, "2,b|3,c|4,d");
    EXPECT_ROWS(fx, "5|6");
    EXPECT_ROWS(view, "8");

    /* options: case sensitivity and threads */
    spk_session_options o = {NULL, true, 1};
    CHECK_OK(spk_session_new(&o, &s));
    if (s) {
        CHECK_STR(conf(s, "spark.sql.caseSensitive"), "true");
        CHECK_STR(conf(s, "spark.sparkless.threads"), "1");
        CHECK_EQ_INT(spk_session_threads(s), 1);
        spk_df *d = FIX(s, "id INT\n1");
        EXPECT_NULL(spk_df_select(d, 1, spk_col("ID")), SPK_ERR_NOT_FOUND, "ID");
        CHECK_OK(spk_catalog_save_as_table(s, d, "cs", NULL));
        spk_df_release(d);
        EXPECT_TABLE(s, "CS", "1"); /* table names ignore case even so */
        /* a child of a legacy session */
        spk_session *child = NULL;
        CHECK_OK(spk_session_new_session(s, &child));
        spk_session_stop(s);
        if (child) {
            EXPECT_TABLE(child, "cs", "1");
            spk_df *d2 = spk_session_table(child, "cs");
            spk_session_stop(child);
            EXPECT_ROWS(d2, "1"); /* the catalog has closed; the snapshot holds */
        }
    }
    spk_session_options bad = {NULL, false, -1};
    spk_session *none = NULL;
    EXPECT_ERR(spk_session_new(&bad, &none), SPK_ERR_ARG, "threads");
    CHECK(none == NULL);
    spk_session_free(NULL);
    spk_session_stop(NULL);

    /* a builder session with a counting allocator: stop gives every byte back */
    spk_failalloc fa;
    spk_failalloc_init(&fa, NULL, 0);
    spk_builder *b = NULL;
    CHECK_OK(spk_builder_new(&b));
    if (!b) return;
    CHECK_OK(spk_builder_allocator(b, &fa.iface));
    CHECK_OK(spk_builder_config(b, "spark.sparkless.threads", "1"));
    s = NULL;
    CHECK_OK(spk_builder_create(b, &s));
    spk_builder_free(b);
    if (!s) return;
    CHECK(fa.live_blocks > 0);
    CHECK_OK(save_fix(s, "id INT, name STRING\n1,a\n2,b", "counted", NULL));
    CHECK_OK(save_fix(s, "id INT, name STRING\n3,c", "counted", "append"));
    CHECK_OK(view_fix(s, "a INT\n1", "cv", false, false));
    CHECK_OK(view_fix(s, "a INT\n2", "cgv", false, true));
    spk_df *keep = spk_session_table(s, "counted");
    spk_session_stop(s);
    CHECK(fa.live_blocks > 0); /* the DataFrame still holds its snapshot */
    EXPECT_ROWS(keep, "1,a|2,b|3,c");
    CHECK_EQ_INT(fa.live_blocks, 0);
    CHECK_EQ_INT(fa.live_bytes, 0);
}

/* Many configuration keys (more than any fixed table would hold) all reach
 * the session and its children. */
static void test_many_config_keys(void) {
    spk_builder *b = NULL;
    CHECK(spk_builder_new(&b) == SPK_OK);
    char key[64], value[64];
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "app.key%03d", i);
        snprintf(value, sizeof value, "v%d", i * 7);
        CHECK(spk_builder_config(b, key, value) == SPK_OK);
    }
    spk_session *s = NULL, *child = NULL;
    CHECK(spk_builder_create(b, &s) == SPK_OK);
    spk_builder_free(b);
    if (!s) return;
    CHECK(spk_session_new_session(s, &child) == SPK_OK);
    for (int i = 0; i < 300; i += 37) {
        snprintf(key, sizeof key, "app.key%03d", i);
        snprintf(value, sizeof value, "v%d", i * 7);
        CHECK_STR(conf(s, key), value);
        CHECK_STR(conf(child, key), value);
    }
    CHECK_STR(conf(child, "app.key299"), "v2093");
    spk_session_stop(child);
    spk_session_stop(s);
}

/* Every allocation of a catalog workload fails in turn: each call either
 * succeeds or returns SPK_ERR_NOMEM, a failed save leaves no table behind,
 * and nothing leaks (live blocks return to zero). */
static int catalog_workload(const spk_allocator *a, bool *saved) {
    spk_builder *b = NULL;
    spk_session *s = NULL;
    int nomem = 0;
    *saved = false;
    if (spk_builder_new(&b) != SPK_OK) return -1;
    spk_builder_allocator(b, a);
    spk_builder_config(b, "spark.sparkless.threads", "1");
    spk_status st = spk_builder_create(b, &s);
    spk_builder_free(b);
    if (st != SPK_OK) return st == SPK_ERR_NOMEM ? 1 : -1;
    spk_df *df = spk_df_from_fixture(s, "id INT, name STRING\n1,a\n2,b\n3,c");
    if (!df) nomem += spk_last_status() == SPK_ERR_NOMEM;
    if (df) {
        st = spk_catalog_save_as_table(s, df, "t", NULL);
        if (st == SPK_OK) *saved = true;
        else if (st == SPK_ERR_NOMEM) nomem++;
        else return -1;
        if (!*saved && spk_catalog_table_exists(s, "default.t")) return -2; /* a failed save left a table */
        st = spk_catalog_save_as_table(s, df, "t", "append");
        if (st != SPK_OK && st != SPK_ERR_NOMEM) return -1;
        st = spk_catalog_create_temp_view(s, "v", df);
        if (st != SPK_OK && st != SPK_ERR_NOMEM) return -1;
        spk_df *t = spk_session_table(s, *saved ? "t" : "v");
        spk_table *rows = NULL;
        if (t && spk_df_collect(t, &rows) == SPK_OK && spk_table_nrows(rows) % 3 != 0) return -3;
        spk_table_free(rows);
        spk_df_release(t);
        spk_df_release(df);
    }
    spk_session_stop(s);
    return nomem;
}

static void test_catalog_allocation_failures(void) {
    spk_failalloc count;
    spk_failalloc_init(&count, NULL, 0);
    bool saved = false;
    CHECK_EQ_INT(catalog_workload(&count.iface, &saved), 0);
    CHECK(saved);
    CHECK_EQ_INT(count.live_blocks, 0);
    long total = count.calls;
    CHECK(total > 20);
    fprintf(stderr, "sweep over %ld allocations\n", total);
    for (long k = 1; k <= total; k++) {
        spk_failalloc f;
        spk_failalloc_init(&f, NULL, k);
        int r = catalog_workload(&f.iface, &saved);
        if (r < 0 || f.live_blocks != 0) {
            fprintf(stderr, "allocation %ld of %ld: result %d, %ld blocks left: %s\n", k, total, r, f.live_blocks, spk_last_error());
            CHECK(r >= 0 && f.live_blocks == 0);
            break;
        }
    }
}

int main(void) {
    signal(SIGALRM, on_alarm);
    RUN_TIMED(test_builder_config);
    RUN_TIMED(test_get_or_create);
    RUN_TIMED(test_child_sessions);
    RUN_TIMED(test_databases);
    RUN_TIMED(test_save_modes);
    RUN_TIMED(test_read_tables);
    RUN_TIMED(test_views);
    RUN_TIMED(test_max_memory);
    RUN_TIMED(test_registry);
    RUN_TIMED(test_backend_errors_reported);
    RUN_TIMED(test_legacy_session);
    RUN_TIMED(test_many_config_keys);
    RUN_TIMED(test_catalog_allocation_failures);
    return TEST_REPORT();
}
