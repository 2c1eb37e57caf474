/* DELETE, UPDATE and MERGE as functions from a table version to the next
 * (src/dml.c's spk__dml_delete, spk__dml_update, spk__dml_merge) and the
 * public MERGE builder, with Delta Lake's semantics. The internal functions
 * are static, so this program compiles its own copy of the implementation.
 * Expected rows are written out by hand (rows as "v,v|v,v"); the large
 * randomized merge is checked against a nested-loop reference written here. */
#define SPARKLESS_STATIC
#define SPARKLESS_IMPLEMENTATION
#include "../sparkless.h"
#include "test.h"
#include <stdarg.h>

/* ------------------------------------------------------------ helpers */

static spk_table *fixture(const char *text) {
    spk_table *t = NULL;
    if (spk_table_from_fixture(NULL, text, &t) != SPK_OK) {
        fprintf(stderr, "fixture failed: %s\n", spk_last_error());
        abort();
    }
    return t;
}

static spk_expr *sql(const char *text) {
    spk_expr *e = NULL;
    if (spk_expr_parse(text, &e) != SPK_OK) {
        fprintf(stderr, "parse of \"%s\" failed: %s\n", text, spk_last_error());
        abort();
    }
    return e;
}

static spk_session *new_session(bool case_sensitive) {
    spk_session_options o = {NULL, case_sensitive, 0};
    spk_session *s = NULL;
    if (spk_session_new(&o, &s) != SPK_OK) abort();
    return s;
}

/* Checks a result table's rows and that it has exactly the input's schema. */
#define CHECK_ROWS(out, in, expected)                                                          \
    do {                                                                                       \
        CHECK((out) != NULL);                                                                  \
        if (out) {                                                                             \
            char *text_ = table_text(out);                                                     \
            CHECK_STR(text_, expected);                                                        \
            free(text_);                                                                       \
            CHECK(spk_schema_equal(spk_table_schema(out), spk_table_schema(in), true));        \
        }                                                                                      \
    } while (0)

#define CHECK_METRICS(m, u, d, i)         \
    do {                                  \
        CHECK_EQ_INT((m).updated, (u));   \
        CHECK_EQ_INT((m).deleted, (d));   \
        CHECK_EQ_INT((m).inserted, (i));  \
    } while (0)

/* UPDATE with assignments given as "column", "sql", ..., NULL. */
static spk_status update_sql(const spk_table *t, const char *where, spk_table **out, spk_dml_metrics *m, ...) {
    char *cols[16];
    spk_expr *vals[16];
    int n = 0;
    va_list ap;
    va_start(ap, m);
    for (const char *c; (c = va_arg(ap, const char *)) != NULL && n < 16; n++) {
        cols[n] = (char *)c;
        vals[n] = sql(va_arg(ap, const char *));
    }
    va_end(ap);
    spk_expr *w = where ? sql(where) : NULL;
    spk_status st = spk__dml_update("db.t", t, n, cols, vals, w, false, NULL, out, m);
    for (int i = 0; i < n; i++) spk_expr_release(vals[i]);
    spk_expr_release(w);
    return st;
}

/* Merge clauses from SQL text: condition NULL for none; assignments as "column", "sql", ..., NULL. */
static spk_status when(spk_merge *m, bool matched, spk__merge_action action, const char *condition, ...) {
    const char *cols[16];
    spk_expr *vals[16];
    int n = 0;
    va_list ap;
    va_start(ap, condition);
    for (const char *c; (c = va_arg(ap, const char *)) != NULL && n < 16; n++) {
        cols[n] = c;
        vals[n] = sql(va_arg(ap, const char *));
    }
    va_end(ap);
    spk_expr *cond = condition ? sql(condition) : NULL;
    bool valid = matched ? action <= SPK__MERGE_DELETE : action >= SPK__MERGE_INSERT;
    if (!valid) return spk__merge_add_clause(m, matched, action, cond, n, cols, vals); /* the public calls cannot say this */
    switch (action) {
    case SPK__MERGE_UPDATE: return spk_merge_when_matched_update(m, cond, n, cols, vals);
    case SPK__MERGE_UPDATE_ALL: return spk_merge_when_matched_update_all(m, cond);
    case SPK__MERGE_DELETE: return spk_merge_when_matched_delete(m, cond);
    case SPK__MERGE_INSERT: return spk_merge_when_not_matched_insert(m, cond, n, cols, vals);
    case SPK__MERGE_INSERT_ALL: return spk_merge_when_not_matched_insert_all(m, cond);
    }
    return spk__merge_add_clause(m, matched, action, cond, n, cols, vals);
}

/* MERGE INTO db.t through the public builder: the source DataFrame from a
 * fixture; run_merge collects it and calls the internal function, as a
 * transaction's commit does. */
static spk_merge *merge_new(spk_session *s, const char *target_alias, const char *source_fixture, const char *source_alias,
                            const char *on) {
    spk_df *src = spk_df_from_fixture(s, source_fixture);
    spk_merge *m = spk_merge_into("db.t", target_alias, src, source_alias, sql(on));
    spk_df_release(src); /* the merge holds its own reference */
    if (!m) {
        fprintf(stderr, "spk_merge_into failed: %s\n", spk_last_error());
        abort();
    }
    return m;
}

static spk_status run_merge(spk_session *s, const spk_table *target, const spk_merge *m, spk_table **out,
                            spk_dml_metrics *metrics) {
    spk_table *source = NULL;
    spk_status st = spk_df_collect(m->source, &source);
    if (st == SPK_OK) st = spk__dml_merge(s, "db.t", target, m, source, out, metrics);
    spk_table_free(source);
    return st;
}

/* Runs m over target's fixture and checks the rows and metrics (u, d, i). */
static void check_merge(spk_session *s, const char *target_fixture, spk_merge *m, const char *expected, int64_t u,
                        int64_t d, int64_t i, int line) {
    spk_table *t = fixture(target_fixture), *out = NULL;
    char *before = table_text(t);
    spk_dml_metrics mx = {0, 0, 0};
    spk_status st = run_merge(s, t, m, &out, &mx);
    if (st != SPK_OK) failf(__FILE__, line, "merge failed: %s: %s", spk_status_name(st), spk_last_error());
    else {
        char *text = table_text(out);
        if (strcmp(text, expected) != 0) failf(__FILE__, line, "rows\n  got:      \"%s\"\n  expected: \"%s\"", text, expected);
        if (!spk_schema_equal(spk_table_schema(out), spk_table_schema(t), true)) failf(__FILE__, line, "schema changed");
        if (mx.updated != u || mx.deleted != d || mx.inserted != i)
            failf(__FILE__, line, "metrics %lld/%lld/%lld, expected %lld/%lld/%lld", (long long)mx.updated,
                  (long long)mx.deleted, (long long)mx.inserted, (long long)u, (long long)d, (long long)i);
        free(text);
    }
    char *after = table_text(t);
    if (strcmp(before, after) != 0) failf(__FILE__, line, "the target table was changed");
    free(before);
    free(after);
    spk_table_free(out);
    spk_table_free(t);
    spk_merge_free(m);
}

/* Runs m and expects status `want` with `needle` in the message. */
static void check_merge_fails(spk_session *s, const char *target_fixture, spk_merge *m, spk_status want, const char *needle,
                              int line) {
    spk_table *t = fixture(target_fixture), *out = (spk_table *)(uintptr_t)1;
    spk_status st = run_merge(s, t, m, &out, NULL);
    if (st != want) failf(__FILE__, line, "got %s (%s), expected %s", spk_status_name(st), spk_last_error(), spk_status_name(want));
    else if (!strstr(spk_last_error(), needle)) failf(__FILE__, line, "expected \"%s\" in \"%s\"", needle, spk_last_error());
    if (out) failf(__FILE__, line, "a failed merge returned a table");
    spk_table_free(t);
    spk_merge_free(m);
}

static spk_session *S; /* the merge tests' session (its thread count follows FOR_EACH_THREAD_COUNT) */

/* ------------------------------------------------------------ DELETE */

static const char *const PEOPLE = "id INT, v STRING\n1,a\n2,b\n3,NULL\n4,d";

static void test_delete_where(void) {
    spk_table *t = fixture(PEOPLE), *out = NULL;
    spk_expr *w = sql("id >= 3");
    spk_dml_metrics m = {0, 0, 0};
    CHECK_OK(spk__dml_delete("db.t", t, w, false, NULL, &out, &m));
    CHECK_ROWS(out, t, "1,a|2,b");
    CHECK_METRICS(m, 0, 2, 0);
    char *text = table_text(t); /* the input is untouched */
    CHECK_STR(text, "1,a|2,b|3,NULL|4,d");
    free(text);
    spk_table_free(out);
    spk_expr_release(w);
    /* qualified by the table's name */
    w = sql("t.id = 1 OR t.v = 'd'");
    CHECK_OK(spk__dml_delete("db.t", t, w, false, NULL, &out, &m));
    CHECK_ROWS(out, t, "2,b|3,NULL");
    CHECK_METRICS(m, 0, 4, 0); /* metrics add up */
    spk_table_free(out);
    spk_expr_release(w);
    spk_table_free(t);
}

static void test_delete_all_and_null(void) {
    spk_table *t = fixture(PEOPLE), *out = NULL;
    spk_dml_metrics m = {0, 0, 0};
    CHECK_OK(spk__dml_delete("db.t", t, NULL, false, NULL, &out, &m));
    CHECK_ROWS(out, t, "");
    CHECK_EQ_INT(spk_table_nrows(out), 0);
    CHECK_METRICS(m, 0, 4, 0);
    spk_table_free(out);
    /* v = 'b' is NULL for row 3: only TRUE deletes */
    spk_expr *w = sql("v = 'b'");
    CHECK_OK(spk__dml_delete("db.t", t, w, false, NULL, &out, NULL));
    CHECK_ROWS(out, t, "1,a|3,NULL|4,d");
    spk_table_free(out);
    spk_expr_release(w);
    w = sql("v < 'c'"); /* NULL for row 3, whose NULL is stored as "", and "" < "c" */
    CHECK_OK(spk__dml_delete("db.t", t, w, false, NULL, &out, NULL));
    CHECK_ROWS(out, t, "3,NULL|4,d");
    spk_table_free(out);
    spk_expr_release(w);
    w = sql("NOT (v <> 'zz')"); /* NULL for row 3, false elsewhere */
    CHECK_OK(spk__dml_delete("db.t", t, w, false, NULL, &out, NULL));
    CHECK_ROWS(out, t, "1,a|2,b|3,NULL|4,d");
    spk_table_free(out);
    spk_expr_release(w);
    spk_table_free(t);
}

static void test_delete_errors(void) {
    spk_table *t = fixture(PEOPLE), *out = NULL;
    spk_expr *w = sql("idd = 1");
    CHECK_STATUS(spk__dml_delete("db.t", t, w, false, NULL, &out, NULL), SPK_ERR_NOT_FOUND);
    CHECK_CONTAINS(spk_last_error(), "WHERE: ");
    CHECK_CONTAINS(spk_last_error(), "`id`"); /* did you mean */
    CHECK(out == NULL);
    spk_expr_release(w);
    w = sql("id + 1");
    CHECK_STATUS(spk__dml_delete("db.t", t, w, false, NULL, &out, NULL), SPK_ERR_TYPE);
    spk_expr_release(w);
    w = sql("ID = 1"); /* case-sensitive: no such column */
    CHECK_STATUS(spk__dml_delete("db.t", t, w, true, NULL, &out, NULL), SPK_ERR_NOT_FOUND);
    CHECK_OK(spk__dml_delete("db.t", t, w, false, NULL, &out, NULL));
    CHECK_ROWS(out, t, "2,b|3,NULL|4,d");
    spk_table_free(out);
    spk_expr_release(w);
    CHECK_STATUS(spk__dml_delete("db.t", NULL, NULL, false, NULL, &out, NULL), SPK_ERR_ARG);
    spk_table_free(t);
}

/* ------------------------------------------------------------ UPDATE */

static const char *const STOCK = "id INT, qty INT, name STRING\n1,10,a\n2,20,b\n3,NULL,c";

static void test_update_expressions(void) {
    spk_table *t = fixture(STOCK), *out = NULL;
    spk_dml_metrics m = {0, 0, 0};
    CHECK_OK(update_sql(t, "id <> 2", &out, &m, "qty", "qty * 2", "name", "concat(upper(name), name)", NULL));
    CHECK_ROWS(out, t, "1,20,Aa|2,20,b|3,NULL,Cc");
    CHECK_METRICS(m, 2, 0, 0);
    spk_table_free(out);
    /* every row; values read the old row, not the one being written */
    CHECK_OK(update_sql(t, NULL, &out, &m, "qty", "id + qty", "id", "qty", NULL));
    CHECK_ROWS(out, t, "10,11,a|20,22,b|NULL,NULL,c");
    CHECK_METRICS(m, 5, 0, 0);
    spk_table_free(out);
    /* a NULL condition does not update (row 3's NULL qty is stored as 0, and 0 < 15) */
    CHECK_OK(update_sql(t, "qty > 15", &out, &m, "name", "'big'", NULL));
    CHECK_ROWS(out, t, "1,10,a|2,20,big|3,NULL,c");
    CHECK_METRICS(m, 6, 0, 0);
    spk_table_free(out);
    CHECK_OK(update_sql(t, "qty < 15", &out, &m, "name", "'small'", NULL));
    CHECK_ROWS(out, t, "1,10,small|2,20,b|3,NULL,c");
    CHECK_METRICS(m, 7, 0, 0);
    spk_table_free(out);
    /* NULL into a nullable column; an untouched table */
    CHECK_OK(update_sql(t, "id = 1", &out, NULL, "name", "NULL", "qty", "CAST(NULL AS INT)", NULL));
    CHECK_ROWS(out, t, "1,NULL,NULL|2,20,b|3,NULL,c");
    spk_table_free(out);
    CHECK_OK(update_sql(t, "id > 100", &out, NULL, "name", "'x'", NULL));
    CHECK_ROWS(out, t, "1,10,a|2,20,b|3,NULL,c");
    spk_table_free(out);
    spk_table_free(t);
}

static void test_update_widening(void) {
    spk_table *t = fixture("id INT, big BIGINT, d DOUBLE, dec DECIMAL(10,2)\n1,0,0,0\n2,0,0,0"), *out = NULL;
    CHECK_OK(update_sql(t, "id = 2", &out, NULL, "big", "id + 1", "d", "id", "dec", "id * 3", NULL));
    CHECK_ROWS(out, t, "1,0,0.0,0.00|2,3,2.0,6.00");
    spk_table_free(out);
    CHECK_OK(update_sql(t, NULL, &out, NULL, "dec", "CAST(1.5 AS DECIMAL(5,1))", "big", "big", NULL));
    CHECK_ROWS(out, t, "1,0,0.0,1.50|2,0,0.0,1.50");
    spk_table_free(out);
    /* widening is checked per value */
    CHECK_STATUS(update_sql(t, "id = 2", &out, NULL, "dec", "100000000000L", NULL), SPK_ERR_RANGE);
    CHECK_CONTAINS(spk_last_error(), "column `dec` of table db.t");
    CHECK(out == NULL);
    CHECK_STATUS(update_sql(t, "id = 2", &out, NULL, "d", "9007199254740993L", NULL), SPK_ERR_RANGE);
    CHECK(out == NULL);
    spk_table_free(t);
}

static void test_update_type_errors(void) {
    spk_table *t = fixture("id INT, big BIGINT, name STRING\n1,5,a"), *out = NULL;
    CHECK_STATUS(update_sql(t, NULL, &out, NULL, "id", "'x'", NULL), SPK_ERR_TYPE);
    CHECK_CONTAINS(spk_last_error(), "cannot assign STRING to column `id` INT of table db.t");
    CHECK(out == NULL);
    CHECK_STATUS(update_sql(t, NULL, &out, NULL, "id", "big", NULL), SPK_ERR_TYPE);
    CHECK_CONTAINS(spk_last_error(), "cannot assign BIGINT to column `id` INT of table db.t");
    CHECK_STATUS(update_sql(t, NULL, &out, NULL, "big", "1.5", NULL), SPK_ERR_TYPE);
    /* checked when bound, before any row: even with no row to update */
    CHECK_STATUS(update_sql(t, "false", &out, NULL, "name", "1", NULL), SPK_ERR_TYPE);
    CHECK(out == NULL);
    spk_table_free(t);
}

static void test_update_not_null(void) {
    spk_table *t = fixture("id INT NOT NULL, v STRING\n1,a\n2,b"), *out = NULL;
    CHECK_STATUS(update_sql(t, "id = 2", &out, NULL, "id", "NULL", NULL), SPK_ERR_NULL);
    CHECK_CONTAINS(spk_last_error(), "`id`");
    CHECK_CONTAINS(spk_last_error(), "db.t");
    CHECK(out == NULL);
    CHECK_STATUS(update_sql(t, NULL, &out, NULL, "id", "CASE WHEN id = 2 THEN NULL ELSE id END", NULL), SPK_ERR_NULL);
    CHECK_CONTAINS(spk_last_error(), "NULL value in non-nullable column `id` of table db.t");
    /* only the updated rows' values are stored */
    CHECK_OK(update_sql(t, "id = 2", &out, NULL, "id", "CASE WHEN id = 1 THEN NULL ELSE id * 10 END", NULL));
    CHECK_ROWS(out, t, "1,a|20,b");
    CHECK(!spk_schema_field(spk_table_schema(out), 0)->nullable);
    spk_table_free(out);
    spk_table_free(t);
}

static void test_update_errors(void) {
    spk_table *t = fixture(STOCK), *out = NULL;
    CHECK_STATUS(update_sql(t, NULL, &out, NULL, "nmae", "'x'", NULL), SPK_ERR_NOT_FOUND);
    CHECK_CONTAINS(spk_last_error(), "`nmae`");
    CHECK_CONTAINS(spk_last_error(), "db.t");
    CHECK_CONTAINS(spk_last_error(), "`name`");
    CHECK_STATUS(update_sql(t, NULL, &out, NULL, "name", "nmae", NULL), SPK_ERR_NOT_FOUND);
    CHECK_CONTAINS(spk_last_error(), "SET `name`: ");
    CHECK_STATUS(update_sql(t, NULL, &out, NULL, "qty", "1", "QTY", "2", NULL), SPK_ERR_ARG);
    CHECK_STATUS(update_sql(t, NULL, &out, NULL, "qty", "sum(qty)", NULL), SPK_ERR_ANALYSIS);
    CHECK_STATUS(update_sql(t, "qty", &out, NULL, "qty", "1", NULL), SPK_ERR_TYPE);
    CHECK_STATUS(update_sql(t, NULL, &out, NULL, NULL), SPK_ERR_ARG);
    CHECK_STATUS(update_sql(t, NULL, &out, NULL, "other.qty", "1", NULL), SPK_ERR_NOT_FOUND);
    CHECK(out == NULL);
    spk_table_free(t);
}

/* Many rows, several chunks' worth of batches: order kept, strings intact. */
static void test_update_many_rows(void) {
    spk_schema *schema = NULL;
    spk_table *t = NULL, *out = NULL;
    CHECK_OK(spk_schema_parse(NULL, "id INT, s STRING", &schema));
    CHECK_OK(spk_table_new(NULL, schema, &t));
    spk_schema_release(schema);
    char buf[32];
    for (int i = 0; i < 70000; i++) {
        snprintf(buf, sizeof buf, "s%d", i);
        CHECK_OK(spk_table_append(t, spk_value_i32(i), spk_value_str(buf)));
    }
    spk_dml_metrics m = {0, 0, 0};
    CHECK_OK(update_sql(t, "id % 7 = 3", &out, &m, "s", "concat(s, '!')", NULL));
    CHECK_EQ_INT(m.updated, 10000);
    CHECK_EQ_INT(spk_table_nrows(out), 70000);
    int bad = 0;
    for (size_t r = 0; r < 70000 && out; r++) {
        spk_value a, b;
        spk_table_get(out, r, 0, &a);
        spk_table_get(out, r, 1, &b);
        int n = snprintf(buf, sizeof buf, "s%d%s", (int)r, r % 7 == 3 ? "!" : "");
        bad += a.as.i32 != (int)r || b.as.str.len != (size_t)n || memcmp(b.as.str.ptr, buf, (size_t)n) != 0;
    }
    CHECK_EQ_INT(bad, 0);
    spk_table_free(out);
    spk_expr *w = sql("id >= 5");
    CHECK_OK(spk__dml_delete("db.t", t, w, false, NULL, &out, NULL));
    CHECK_ROWS(out, t, "0,s0|1,s1|2,s2|3,s3|4,s4");
    spk_expr_release(w);
    spk_table_free(out);
    spk_table_free(t);
}

/* ------------------------------------------------------------ the MERGE builder */

static void test_merge_builder(void) {
    spk_session *s = new_session(false);
    spk_df *src = spk_df_from_fixture(s, "id INT");
    CHECK(spk_merge_into(NULL, NULL, src, NULL, sql("true")) == NULL);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_ARG);
    CHECK(spk_merge_into("t", NULL, NULL, NULL, sql("true")) == NULL);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_ARG);
    CHECK(spk_merge_into("t", NULL, src, NULL, NULL) == NULL);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_ARG);
    CHECK(spk_merge_into("t", "", src, NULL, sql("true")) == NULL);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_ARG);
    spk_merge *m = spk_merge_into("db.t", "t", src, "s", sql("t.id = s.id"));
    CHECK(m != NULL);
    spk_df_release(src);
    if (!m) {
        spk_session_stop(s);
        return;
    }
    CHECK_STR(m->target, "db.t");
    CHECK_STR(m->target_alias, "t");
    CHECK_STR(m->source_alias, "s");
    /* actions of the wrong kind */
    CHECK_STATUS(when(m, true, SPK__MERGE_INSERT, NULL, "id", "1", NULL), SPK_ERR_ARG);
    CHECK_STATUS(when(m, false, SPK__MERGE_UPDATE, "true", "id", "1", NULL), SPK_ERR_ARG);
    CHECK_CONTAINS(spk_last_error(), "whenNotMatchedUpdate");
    CHECK_STATUS(when(m, false, SPK__MERGE_DELETE, NULL, NULL), SPK_ERR_ARG);
    /* assignments */
    CHECK_STATUS(spk_merge_when_matched_update(m, sql("true"), 0, NULL, NULL), SPK_ERR_ARG);
    CHECK_STATUS(when(m, true, SPK__MERGE_UPDATE, NULL, "id", "1", "ID", "2", NULL), SPK_ERR_ARG);
    CHECK_CONTAINS(spk_last_error(), "assigned twice");
    CHECK_CONTAINS(spk_last_error(), "clause 1 (whenMatchedUpdate)");
    const char *cols[1] = {"id"};
    spk_expr *nothing[1] = {NULL};
    CHECK_STATUS(spk_merge_when_not_matched_insert(m, NULL, 1, cols, nothing), SPK_ERR_ARG);
    CHECK_EQ_INT(m->nclauses, 0);
    /* only the last clause of a kind may omit its condition */
    CHECK_OK(when(m, true, SPK__MERGE_DELETE, "s.id = 1", NULL));
    CHECK_OK(when(m, true, SPK__MERGE_UPDATE, NULL, "id", "s.id", NULL));
    CHECK_STATUS(when(m, true, SPK__MERGE_DELETE, "s.id = 2", NULL), SPK_ERR_ARG);
    CHECK_CONTAINS(spk_last_error(), "only the last whenMatched clause may omit its condition");
    CHECK_CONTAINS(spk_last_error(), "clause 2 (whenMatchedUpdate)");
    CHECK_OK(when(m, false, SPK__MERGE_INSERT_ALL, NULL, NULL));
    CHECK_STATUS(when(m, false, SPK__MERGE_INSERT, "true", "id", "1", NULL), SPK_ERR_ARG);
    CHECK_EQ_INT(m->nclauses, 3);
    CHECK(m->clauses[1].n == 1 && strcmp(m->clauses[1].columns[0], "id") == 0);
    CHECK_STATUS(spk_merge_when_matched_delete(NULL, sql("true")), SPK_ERR_ARG);
    spk_merge_free(m);
    spk_merge_free(NULL);
    /* without a source, as the transaction decoder builds them */
    m = spk__merge_alloc("db.t", NULL, NULL, sql("id = id"));
    CHECK(m != NULL && m->source == NULL && m->target_alias == NULL);
    CHECK(spk__merge_alloc("db.t", NULL, NULL, NULL) == NULL);
    spk_merge_free(m);
    spk_session_stop(s);
}

/* ------------------------------------------------------------ MERGE */

static const char *const ITEMS = "id INT, name STRING, qty INT\n1,a,10\n2,b,20\n3,c,30";

static void test_merge_upsert(void) {
    spk_merge *m = merge_new(S, "t", "id INT, name STRING, qty INT\n2,B,5\n4,D,40\n3,C,7", "s", "t.id = s.id");
    CHECK_OK(when(m, true, SPK__MERGE_UPDATE, NULL, "name", "s.name", "qty", "t.qty + s.qty", NULL));
    CHECK_OK(when(m, false, SPK__MERGE_INSERT, NULL, "id", "s.id", "name", "s.name", "qty", "s.qty", NULL));
    check_merge(S, ITEMS, m, "1,a,10|2,B,25|3,C,37|4,D,40", 2, 0, 1, __LINE__);
}

/* A row takes the first clause whose condition holds. */
static void test_merge_clause_order(void) {
    const char *target = "id INT, name STRING, qty INT\n1,a,10\n2,b,20\n3,c,30\n4,d,40";
    spk_merge *m = merge_new(S, "t", "id INT, q INT\n1,1\n2,2\n3,3\n4,4\n5,5\n6,6\n7,7", "s", "t.id = s.id");
    CHECK_OK(when(m, true, SPK__MERGE_DELETE, "s.q = 1", NULL));
    CHECK_OK(when(m, true, SPK__MERGE_UPDATE, "t.qty > 25", "qty", "t.qty + 100", NULL));
    CHECK_OK(when(m, true, SPK__MERGE_UPDATE, "s.q <= 3", "qty", "0", NULL));
    CHECK_OK(when(m, false, SPK__MERGE_INSERT, "s.q = 5", "id", "s.id", "qty", "s.q * 10", NULL));
    CHECK_OK(when(m, false, SPK__MERGE_INSERT, "s.q = 6", "id", "s.id", "name", "'six'", NULL));
    /* 1: deleted; 2: 20 > 25 fails, q <= 3 holds; 3, 4: the first update; 5, 6 inserted; 7: no clause */
    check_merge(S, target, m, "2,b,0|3,c,130|4,d,140|5,NULL,50|6,six,NULL", 3, 1, 2, __LINE__);
    /* no clause applies: nothing changes */
    m = merge_new(S, "t", "id INT, q INT\n1,1\n2,2", "s", "t.id = s.id");
    CHECK_OK(when(m, true, SPK__MERGE_DELETE, "s.q > 100", NULL));
    CHECK_OK(when(m, false, SPK__MERGE_INSERT, "s.q > 100", "id", "s.id", NULL));
    check_merge(S, target, m, "1,a,10|2,b,20|3,c,30|4,d,40", 0, 0, 0, __LINE__);
    /* conditions over both sides, a NULL condition is not true */
    m = merge_new(S, "t", "id INT, q INT\n1,NULL\n2,25\n3,5", "s", "t.id = s.id");
    CHECK_OK(when(m, true, SPK__MERGE_UPDATE, "s.q > t.qty", "name", "'more'", NULL));
    CHECK_OK(when(m, true, SPK__MERGE_DELETE, "s.q IS NULL", NULL));
    check_merge(S, target, m, "2,more,20|3,c,30|4,d,40", 1, 1, 0, __LINE__);
    m = merge_new(S, "t", "id INT, q INT\n1,NULL\n2,25\n3,5\n9,NULL\n8,1", "s", "t.id = s.id");
    CHECK_OK(when(m, true, SPK__MERGE_DELETE, "s.q < t.qty", NULL)); /* NULL for id 1 (its NULL is stored as 0) */
    CHECK_OK(when(m, false, SPK__MERGE_INSERT, "s.q < 5", "id", "s.id", NULL));
    check_merge(S, target, m, "1,a,10|2,b,20|4,d,40|8,NULL,NULL", 0, 1, 1, __LINE__);
}

static void test_merge_delete(void) {
    spk_merge *m = merge_new(S, "t", "id INT\n3\n1\n9", "s", "t.id = s.id");
    CHECK_OK(when(m, true, SPK__MERGE_DELETE, NULL, NULL));
    check_merge(S, ITEMS, m, "2,b,20", 0, 2, 0, __LINE__);
}

static void test_merge_all(void) {
    /* by name, in any order and case; INT widens to BIGINT; extra source columns are ignored */
    const char *target = "id INT, name STRING, qty BIGINT\n1,a,100\n2,b,200";
    spk_merge *m = merge_new(S, "t", "qty INT, ID INT, name STRING, extra DOUBLE\n5,1,x,0.5\n7,9,y,1.5", "s", "t.id = s.id");
    CHECK_OK(when(m, true, SPK__MERGE_UPDATE_ALL, NULL, NULL));
    CHECK_OK(when(m, false, SPK__MERGE_INSERT_ALL, NULL, NULL));
    check_merge(S, target, m, "1,x,5|2,b,200|9,y,7", 1, 0, 1, __LINE__);
    /* a target column the source lacks */
    m = merge_new(S, "t", "id INT, name STRING\n1,x", "s", "t.id = s.id");
    CHECK_OK(when(m, true, SPK__MERGE_UPDATE_ALL, NULL, NULL));
    check_merge_fails(S, target, m, SPK_ERR_SCHEMA, "`qty`", __LINE__);
    m = merge_new(S, "t", "id INT, name STRING\n1,x", "s", "t.id = s.id");
    CHECK_OK(when(m, false, SPK__MERGE_INSERT_ALL, "s.id > 0", NULL));
    check_merge_fails(S, target, m, SPK_ERR_SCHEMA, "clause 1 (whenNotMatchedInsertAll)", __LINE__);
    /* a source type the column cannot take */
    m = merge_new(S, "t", "id INT, name STRING, qty DOUBLE\n1,x,1.5", "s", "t.id = s.id");
    CHECK_OK(when(m, false, SPK__MERGE_INSERT_ALL, NULL, NULL));
    check_merge_fails(S, target, m, SPK_ERR_TYPE, "cannot assign DOUBLE to column `qty` BIGINT of table db.t", __LINE__);
    /* case-sensitive sessions match names exactly */
    spk_session *cs = new_session(true);
    m = merge_new(cs, "t", "qty INT, ID INT, name STRING\n5,1,x", "s", "t.id = s.ID");
    CHECK_OK(when(m, false, SPK__MERGE_INSERT_ALL, NULL, NULL));
    check_merge_fails(cs, target, m, SPK_ERR_SCHEMA, "`id`", __LINE__);
    spk_session_stop(cs);
}

static void test_merge_insert_nulls(void) {
    /* unassigned columns are NULL, also in a non-nullable column only when a row is inserted */
    const char *target = "id INT NOT NULL, name STRING, qty INT\n1,a,10";
    spk_merge *m = merge_new(S, "t", "k INT, n STRING\n1,x\n2,y", "s", "t.id = s.k");
    CHECK_OK(when(m, false, SPK__MERGE_INSERT, NULL, "id", "s.k", NULL));
    check_merge(S, target, m, "1,a,10|2,NULL,NULL", 0, 0, 1, __LINE__);
    m = merge_new(S, "t", "k INT, n STRING\n1,x\n2,y", "s", "t.id = s.k");
    CHECK_OK(when(m, false, SPK__MERGE_INSERT, NULL, "name", "s.n", NULL));
    check_merge_fails(S, target, m, SPK_ERR_NULL, "`id`", __LINE__);
    m = merge_new(S, "t", "k INT, n STRING\n1,x", "s", "t.id = s.k");
    CHECK_OK(when(m, false, SPK__MERGE_INSERT, NULL, "name", "s.n", NULL));
    check_merge(S, target, m, "1,a,10", 0, 0, 0, __LINE__);
    m = merge_new(S, "t", "k INT, n STRING\n1,x", "s", "t.id = s.k");
    CHECK_OK(when(m, true, SPK__MERGE_UPDATE, NULL, "id", "NULL", NULL));
    check_merge_fails(S, target, m, SPK_ERR_NULL, "non-nullable column `id` of table db.t", __LINE__);
}

static void test_merge_non_equi(void) {
    const char *target = "lo INT, hi INT, label STRING\n0,10,low\n10,20,mid\n20,30,high";
    spk_merge *m = merge_new(S, "t", "x INT\n5\n25\n35", "s", "s.x >= t.lo AND s.x < t.hi");
    CHECK_OK(when(m, true, SPK__MERGE_UPDATE, NULL, "label", "concat(t.label, '+', CAST(s.x AS STRING))", NULL));
    CHECK_OK(when(m, false, SPK__MERGE_INSERT, NULL, "lo", "s.x", "hi", "s.x + 1", "label", "'new'", NULL));
    check_merge(S, target, m, "0,10,low+5|10,20,mid|20,30,high+25|35,36,new", 2, 0, 1, __LINE__);
    /* an equality plus a residual condition */
    m = merge_new(S, "t", "lo INT, x INT\n0,5\n10,99\n20,21", "s", "t.lo = s.lo AND s.x < t.hi");
    CHECK_OK(when(m, true, SPK__MERGE_DELETE, NULL, NULL));
    CHECK_OK(when(m, false, SPK__MERGE_INSERT, NULL, "lo", "s.lo", "hi", "s.x", NULL));
    check_merge(S, target, m, "10,20,mid|10,99,NULL", 0, 2, 1, __LINE__);
}

static void test_merge_multiple_matches(void) {
    const char *target = "id INT, v INT\n1,0\n2,0";
    const char *source = "id INT, v INT\n1,5\n3,7\n1,6";
    spk_merge *m = merge_new(S, "t", source, "s", "t.id = s.id");
    CHECK_OK(when(m, true, SPK__MERGE_UPDATE, NULL, "v", "s.v", NULL));
    check_merge_fails(S, target, m, SPK_ERR_STATE, "multiple source rows matched and attempted to modify the same target row",
                      __LINE__);
    /* even when no clause condition would hold (Delta checks the matches) */
    m = merge_new(S, "t", source, "s", "t.id = s.id");
    CHECK_OK(when(m, true, SPK__MERGE_UPDATE, "s.v > 100", "v", "s.v", NULL));
    check_merge_fails(S, target, m, SPK_ERR_STATE, "target row 1", __LINE__);
    m = merge_new(S, "t", source, "s", "t.id = s.id");
    CHECK_OK(when(m, true, SPK__MERGE_DELETE, "s.v = 5", NULL));
    check_merge_fails(S, target, m, SPK_ERR_STATE, "same target row", __LINE__);
    /* an unconditional delete is not ambiguous */
    m = merge_new(S, "t", source, "s", "t.id = s.id");
    CHECK_OK(when(m, true, SPK__MERGE_DELETE, NULL, NULL));
    CHECK_OK(when(m, false, SPK__MERGE_INSERT_ALL, NULL, NULL));
    check_merge(S, target, m, "2,0|3,7", 0, 1, 1, __LINE__);
    /* nor is a merge that only inserts */
    m = merge_new(S, "t", source, "s", "t.id = s.id");
    CHECK_OK(when(m, false, SPK__MERGE_INSERT_ALL, NULL, NULL));
    check_merge(S, target, m, "1,0|2,0|3,7", 0, 0, 1, __LINE__);
    /* one source row may match many target rows */
    m = merge_new(S, "t", "k INT\n0", "s", "t.v = s.k");
    CHECK_OK(when(m, true, SPK__MERGE_UPDATE, NULL, "v", "t.id * 100", NULL));
    check_merge(S, target, m, "1,100|2,200", 2, 0, 0, __LINE__);
}

static void test_merge_no_match_and_empty(void) {
    spk_merge *m = merge_new(S, "t", "id INT, name STRING, qty INT\n8,x,1\n9,y,2", "s", "t.id = s.id");
    CHECK_OK(when(m, true, SPK__MERGE_UPDATE, NULL, "qty", "0", NULL));
    CHECK_OK(when(m, false, SPK__MERGE_INSERT_ALL, NULL, NULL));
    check_merge(S, ITEMS, m, "1,a,10|2,b,20|3,c,30|8,x,1|9,y,2", 0, 0, 2, __LINE__);
    m = merge_new(S, "t", "id INT, name STRING, qty INT\n8,x,1", "s", "t.id = s.id");
    CHECK_OK(when(m, true, SPK__MERGE_DELETE, NULL, NULL));
    check_merge(S, ITEMS, m, "1,a,10|2,b,20|3,c,30", 0, 0, 0, __LINE__);
    /* empty target: everything is inserted */
    m = merge_new(S, "t", "id INT, name STRING, qty INT\n8,x,1\n9,y,2", "s", "t.id = s.id");
    CHECK_OK(when(m, true, SPK__MERGE_DELETE, NULL, NULL));
    CHECK_OK(when(m, false, SPK__MERGE_INSERT, "s.id = 9", "id", "s.id", NULL));
    check_merge(S, "id INT, name STRING, qty INT", m, "9,NULL,NULL", 0, 0, 1, __LINE__);
    /* empty source: nothing changes */
    m = merge_new(S, "t", "id INT, name STRING, qty INT", "s", "t.id = s.id");
    CHECK_OK(when(m, true, SPK__MERGE_DELETE, NULL, NULL));
    CHECK_OK(when(m, false, SPK__MERGE_INSERT_ALL, NULL, NULL));
    check_merge(S, ITEMS, m, "1,a,10|2,b,20|3,c,30", 0, 0, 0, __LINE__);
    /* both empty */
    m = merge_new(S, "t", "id INT, name STRING, qty INT", "s", "t.id = s.id");
    CHECK_OK(when(m, false, SPK__MERGE_INSERT_ALL, NULL, NULL));
    check_merge(S, "id INT, name STRING, qty INT", m, "", 0, 0, 0, __LINE__);
    /* a merge needs a clause */
    m = merge_new(S, "t", "id INT", "s", "t.id = s.id");
    check_merge_fails(S, ITEMS, m, SPK_ERR_ARG, "at least one WHEN clause", __LINE__);
}

static void test_merge_aliases(void) {
    const char *target = "id INT, v STRING\n1,a\n2,b";
    /* aliases; unqualified names resolve where they are unique */
    spk_merge *m = merge_new(S, "tgt", "key INT, val STRING\n1,A\n2,b\n3,c", "src", "tgt.id = src.key");
    CHECK_OK(when(m, true, SPK__MERGE_UPDATE, "v <> val", "v", "val", NULL));
    CHECK_OK(when(m, false, SPK__MERGE_INSERT, NULL, "id", "key", "v", "upper(val)", NULL));
    check_merge(S, target, m, "1,A|2,b|3,C", 1, 0, 1, __LINE__);
    /* no aliases: the target answers to the table's name, the source to unqualified names */
    m = merge_new(S, NULL, "key INT, val STRING\n2,z", NULL, "t.id = key");
    CHECK_OK(when(m, true, SPK__MERGE_UPDATE, NULL, "v", "concat(t.v, val)", NULL));
    check_merge(S, target, m, "1,a|2,bz", 1, 0, 0, __LINE__);
    /* a name on both sides must be qualified */
    m = merge_new(S, "t", "id INT, v STRING\n2,z", "s", "id = s.id");
    CHECK_OK(when(m, true, SPK__MERGE_DELETE, NULL, NULL));
    check_merge_fails(S, target, m, SPK_ERR_AMBIGUOUS, "ON condition: ", __LINE__);
    m = merge_new(S, "t", "id INT, v STRING\n2,z", "s", "t.id = s.id");
    CHECK_OK(when(m, true, SPK__MERGE_UPDATE, NULL, "v", "v", NULL));
    check_merge_fails(S, target, m, SPK_ERR_AMBIGUOUS, "clause 1 (whenMatchedUpdate), SET `v`: ", __LINE__);
    /* inserts see only the source */
    m = merge_new(S, "t", "k INT\n5", "s", "t.id = s.k");
    CHECK_OK(when(m, false, SPK__MERGE_INSERT, NULL, "id", "s.k", "v", "t.v", NULL));
    check_merge_fails(S, target, m, SPK_ERR_NOT_FOUND, "clause 1 (whenNotMatchedInsert), SET `v`: ", __LINE__);
    m = merge_new(S, "t", "k INT\n5", "s", "x.id = s.k");
    CHECK_OK(when(m, true, SPK__MERGE_DELETE, NULL, NULL));
    check_merge_fails(S, target, m, SPK_ERR_NOT_FOUND, "ON condition: ", __LINE__);
    /* the same name for both sides */
    m = merge_new(S, "T", "k INT\n5", "t", "T.id = t.k");
    CHECK_OK(when(m, true, SPK__MERGE_DELETE, NULL, NULL));
    check_merge_fails(S, target, m, SPK_ERR_ARG, "different aliases", __LINE__);
    /* the row ids the join carries are not visible */
    m = merge_new(S, "t", "k INT\n5", "s", "t.id = s.k AND __spk_merge_target_row >= 0");
    CHECK_OK(when(m, true, SPK__MERGE_DELETE, NULL, NULL));
    check_merge_fails(S, target, m, SPK_ERR_NOT_FOUND, "__spk_merge_target_row", __LINE__);
    /* ... and user columns of that name stay the user's */
    m = merge_new(S, "t", "__spk_merge_target_row INT, __spk_merge_source_row STRING\n2,x\n7,y", "s",
                  "t.id = s.__spk_merge_target_row");
    CHECK_OK(when(m, true, SPK__MERGE_UPDATE, NULL, "v", "s.__spk_merge_source_row", NULL));
    CHECK_OK(when(m, false, SPK__MERGE_INSERT, NULL, "id", "__spk_merge_target_row", NULL));
    check_merge(S, target, m, "1,a|2,x|7,NULL", 1, 0, 1, __LINE__);
}

static void test_merge_binding_errors(void) {
    const char *target = "id INT, v STRING\n1,a";
    spk_merge *m = merge_new(S, "t", "id INT, v STRING\n1,x", "s", "t.id = s.id");
    CHECK_OK(when(m, true, SPK__MERGE_UPDATE, NULL, "nope", "1", NULL));
    check_merge_fails(S, target, m, SPK_ERR_NOT_FOUND, "cannot assign to column `nope`: table db.t has no such column", __LINE__);
    m = merge_new(S, "t", "id INT, v STRING\n1,x", "s", "t.id = s.id");
    CHECK_OK(when(m, true, SPK__MERGE_UPDATE, NULL, "v", "s.nope", NULL));
    check_merge_fails(S, target, m, SPK_ERR_NOT_FOUND, "clause 1 (whenMatchedUpdate), SET `v`: ", __LINE__);
    m = merge_new(S, "t", "id INT, v STRING\n1,x", "s", "t.id = s.id");
    CHECK_OK(when(m, true, SPK__MERGE_DELETE, "s.v = 'q'", NULL));
    CHECK_OK(when(m, true, SPK__MERGE_DELETE, "s.vv = 'q'", NULL));
    check_merge_fails(S, target, m, SPK_ERR_NOT_FOUND, "clause 2 (whenMatchedDelete) condition: ", __LINE__);
    m = merge_new(S, "t", "id INT, v STRING\n1,x", "s", "t.id = s.id");
    CHECK_OK(when(m, true, SPK__MERGE_UPDATE, NULL, "id", "s.v", NULL));
    check_merge_fails(S, target, m, SPK_ERR_TYPE, "cannot assign STRING to column `id` INT of table db.t", __LINE__);
    m = merge_new(S, "t", "id INT, v STRING\n1,x", "s", "t.id = s.id");
    CHECK_OK(when(m, true, SPK__MERGE_DELETE, "s.id + 1", NULL));
    check_merge_fails(S, target, m, SPK_ERR_TYPE, "condition", __LINE__);
    m = merge_new(S, "t", "id INT, v STRING\n1,x", "s", "t.id + s.id");
    CHECK_OK(when(m, true, SPK__MERGE_DELETE, NULL, NULL));
    check_merge_fails(S, target, m, SPK_ERR_TYPE, "ON condition: ", __LINE__);
    m = merge_new(S, "t", "id INT, v STRING\n1,x", "s", "t.id = s.id");
    CHECK_OK(when(m, false, SPK__MERGE_INSERT, NULL, "id", "sum(s.id)", NULL));
    check_merge_fails(S, target, m, SPK_ERR_ANALYSIS, "aggregate", __LINE__);
}

static void test_merge_string_keys(void) {
    const char *target = "name STRING, n INT\nalice,1\nbob,2\n\"\",3\nBOB,4";
    spk_merge *m = merge_new(S, "t", "name STRING, n INT\nbob,20\ncarol,30\n\"\",40", "s", "t.name = s.name");
    CHECK_OK(when(m, true, SPK__MERGE_UPDATE, NULL, "n", "s.n", NULL));
    CHECK_OK(when(m, false, SPK__MERGE_INSERT_ALL, NULL, NULL));
    check_merge(S, target, m, "alice,1|bob,20|,40|BOB,4|carol,30", 2, 0, 1, __LINE__);
}

/* NULL = NULL is not true: NULL keys never match (<=> matches them). */
static void test_merge_null_keys(void) {
    const char *target = "id INT, v STRING\n1,a\nNULL,b";
    spk_merge *m = merge_new(S, "t", "id INT, v STRING\nNULL,x\n1,y", "s", "t.id = s.id");
    CHECK_OK(when(m, true, SPK__MERGE_UPDATE, NULL, "v", "s.v", NULL));
    CHECK_OK(when(m, false, SPK__MERGE_INSERT_ALL, NULL, NULL));
    check_merge(S, target, m, "1,y|NULL,b|NULL,x", 1, 0, 1, __LINE__);
    m = merge_new(S, "t", "id INT, v STRING\nNULL,x\n1,y", "s", "t.id <=> s.id");
    CHECK_OK(when(m, true, SPK__MERGE_UPDATE, NULL, "v", "s.v", NULL));
    CHECK_OK(when(m, false, SPK__MERGE_INSERT_ALL, NULL, NULL));
    check_merge(S, target, m, "1,y|NULL,x", 2, 0, 0, __LINE__);
}

static void test_merge_metrics_add(void) {
    spk_table *t = fixture(ITEMS), *out = NULL;
    spk_merge *m = merge_new(S, "t", "id INT\n1\n2\n5", "s", "t.id = s.id");
    CHECK_OK(when(m, true, SPK__MERGE_DELETE, "s.id = 1", NULL));
    CHECK_OK(when(m, true, SPK__MERGE_UPDATE, NULL, "qty", "-1", NULL));
    CHECK_OK(when(m, false, SPK__MERGE_INSERT, NULL, "id", "s.id", NULL));
    spk_dml_metrics mx = {10, 20, 30};
    CHECK_OK(run_merge(S, t, m, &out, &mx));
    CHECK_ROWS(out, t, "2,b,-1|3,c,30|5,NULL,NULL");
    CHECK_METRICS(mx, 11, 21, 31);
    spk_table_free(out);
    CHECK_OK(run_merge(S, t, m, &out, NULL));
    spk_table_free(out);
    spk_table_free(t);
    spk_merge_free(m);
}

/* More rows than a chunk holds, on both sides of the join and in the output. */
static void test_merge_many_rows(void) {
    spk_schema *ts = NULL, *ss = NULL;
    spk_table *t = NULL, *src = NULL, *out = NULL;
    CHECK_OK(spk_schema_parse(NULL, "id BIGINT, v BIGINT, s STRING", &ts));
    CHECK_OK(spk_schema_parse(NULL, "k BIGINT, w INT", &ss));
    CHECK_OK(spk_table_new(NULL, ts, &t));
    CHECK_OK(spk_table_new(NULL, ss, &src));
    char buf[32];
    for (int64_t i = 0; i < 70000; i++) {
        snprintf(buf, sizeof buf, "r%lld", (long long)i);
        CHECK_OK(spk_table_append(t, spk_value_i64(i), spk_value_i64(i), spk_value_str(buf)));
    }
    for (int32_t j = 0; j < 25000; j++) CHECK_OK(spk_table_append(src, spk_value_i64(3 * (int64_t)j), spk_value_i32(j)));
    spk_merge *m = spk__merge_alloc("db.t", NULL, "s", sql("t.id = s.k"));
    CHECK_OK(when(m, true, SPK__MERGE_DELETE, "s.w % 2 = 0", NULL));
    CHECK_OK(when(m, true, SPK__MERGE_UPDATE, NULL, "v", "t.v * 10", "s", "concat(t.s, '*')", NULL));
    CHECK_OK(when(m, false, SPK__MERGE_INSERT, NULL, "id", "s.k", "v", "s.w", NULL));
    spk_dml_metrics mx = {0, 0, 0};
    CHECK_OK(spk__dml_merge(S, "db.t", t, m, src, &out, &mx));
    /* id % 3 == 0 is matched by w = id / 3: deleted when w is even, else v * 10 and a '*' */
    CHECK_METRICS(mx, 11667, 11667, 1666);
    size_t r = 0, bad = 0;
    for (int64_t id = 0; out && id < 70000; id++) {
        if (id % 3 == 0 && (id / 3) % 2 == 0) continue;
        bool up = id % 3 == 0;
        spk_value a, b, c;
        spk_table_get(out, r, 0, &a);
        spk_table_get(out, r, 1, &b);
        spk_table_get(out, r, 2, &c);
        int n = snprintf(buf, sizeof buf, "r%lld%s", (long long)id, up ? "*" : "");
        bad += a.as.i64 != id || b.as.i64 != (up ? id * 10 : id) || c.as.str.len != (size_t)n || memcmp(c.as.str.ptr, buf, (size_t)n);
        r++;
    }
    for (int64_t k = 70002; out && k < 75000; k += 3, r++) { /* inserted, in source order */
        spk_value a, b, c;
        spk_table_get(out, r, 0, &a);
        spk_table_get(out, r, 1, &b);
        spk_table_get(out, r, 2, &c);
        bad += a.as.i64 != k || b.as.i64 != k / 3 || !c.is_null;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(spk_table_nrows(out), r);
    spk_table_free(out);
    spk_merge_free(m);
    spk_table_free(t);
    spk_table_free(src);
    spk_schema_release(ts);
    spk_schema_release(ss);
}

/* ------------------------------------------------------------ a larger randomized merge */

static uint64_t rng_state;
static uint32_t rnd(uint32_t n) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33) % n;
}

typedef struct row {
    int k;
    bool k_null;
    long long v;
    char s[32];
} row;

/* a then b into out (32 bytes; the generated strings are short). */
static void join_strings(char *out, const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la + lb >= 32) abort();
    memcpy(out, a, la);
    memcpy(out + la, b, lb + 1);
}

static void append_rows(sbuf *b, const row *r, size_t n, bool *first) {
    char line[96];
    for (size_t i = 0; i < n; i++) {
        if (!*first) sb_str(b, "|");
        *first = false;
        if (r[i].k_null) snprintf(line, sizeof line, "NULL,%lld,%s", r[i].v, r[i].s);
        else snprintf(line, sizeof line, "%d,%lld,%s", r[i].k, r[i].v, r[i].s);
        sb_str(b, line);
    }
}

static char *fixture_text(const char *ddl, const row *r, size_t n) {
    sbuf b = {NULL, 0, 0};
    sb_str(&b, ddl);
    char line[96];
    for (size_t i = 0; i < n; i++) {
        if (r[i].k_null) snprintf(line, sizeof line, "\nNULL,%lld,%s", r[i].v, r[i].s);
        else snprintf(line, sizeof line, "\n%d,%lld,%s", r[i].k, r[i].v, r[i].s);
        sb_str(&b, line);
    }
    return b.p;
}

/* ON t.k = s.k (source keys unique, so no target row matches twice):
 *   whenMatched (s.w % 3 = 0) delete
 *   whenMatched (t.v > s.w) update v = t.v - s.w, s = concat(t.s, s.s)
 *   whenMatched update v = s.w
 *   whenNotMatched (s.w % 2 = 0) insert k = s.k, v = s.w * 2, s = s.s
 *   whenNotMatched insert k = s.k, s = 'n' */
static void test_merge_random(void) {
    enum { NT = 5000, NS = 3000 };
    row *tr = (row *)calloc(NT, sizeof *tr), *sr = (row *)calloc(NS, sizeof *sr), *out = (row *)calloc(NT + NS, sizeof *out);
    int *perm = (int *)malloc(8000 * sizeof *perm);
    for (int round = 0; round < 2; round++) {
        rng_state = 12345 + (uint64_t)round;
        for (int i = 0; i < 8000; i++) perm[i] = i;
        for (int i = 7999; i > 0; i--) {
            int j = (int)rnd((uint32_t)i + 1), x = perm[i];
            perm[i] = perm[j];
            perm[j] = x;
        }
        for (int i = 0; i < NT; i++) {
            tr[i].k = (int)rnd(8000);
            tr[i].k_null = rnd(50) == 0;
            tr[i].v = (long long)rnd(1000);
            snprintf(tr[i].s, sizeof tr[i].s, "t%u", rnd(100000));
        }
        for (int i = 0; i < NS; i++) {
            sr[i].k = perm[i]; /* unique */
            sr[i].k_null = rnd(50) == 0;
            sr[i].v = (long long)rnd(1000);
            snprintf(sr[i].s, sizeof sr[i].s, "s%u", rnd(100000));
        }
        /* the reference: nested loops over values */
        size_t n = 0;
        int64_t up = 0, del = 0, ins = 0;
        bool *src_matched = (bool *)calloc(NS, sizeof *src_matched);
        for (int i = 0; i < NT; i++) {
            int match = -1;
            for (int j = 0; j < NS; j++)
                if (!tr[i].k_null && !sr[j].k_null && tr[i].k == sr[j].k) {
                    match = j;
                    src_matched[j] = true;
                }
            row r = tr[i];
            if (match >= 0) {
                const row *s = &sr[match];
                if (s->v % 3 == 0) {
                    del++;
                    continue;
                }
                up++;
                if (r.v > s->v) {
                    r.v -= s->v;
                    join_strings(r.s, tr[i].s, s->s);
                } else {
                    r.v = s->v;
                }
            }
            out[n++] = r;
        }
        size_t kept = n;
        for (int j = 0; j < NS; j++) {
            if (src_matched[j]) continue;
            row r = sr[j];
            if (r.v % 2 == 0) r.v *= 2;
            else {
                r.v = -1; /* NULL, written below */
                snprintf(r.s, sizeof r.s, "n");
            }
            out[n++] = r;
            ins++;
        }
        free(src_matched);
        sbuf want = {NULL, 0, 0};
        sb_str(&want, "");
        bool first = true;
        append_rows(&want, out, kept, &first);
        char line[96];
        for (size_t i = kept; i < n; i++) {
            const char *key = out[i].k_null ? "NULL" : NULL;
            char kbuf[16];
            if (!key) {
                snprintf(kbuf, sizeof kbuf, "%d", out[i].k);
                key = kbuf;
            }
            if (out[i].v < 0) snprintf(line, sizeof line, "%s%s,NULL,%s", first ? "" : "|", key, out[i].s);
            else snprintf(line, sizeof line, "%s%s,%lld,%s", first ? "" : "|", key, out[i].v, out[i].s);
            first = false;
            sb_str(&want, line);
        }
        char *tf = fixture_text("k INT, v BIGINT, s STRING", tr, NT), *sf = fixture_text("k INT, w BIGINT, s STRING", sr, NS);
        spk_merge *m = merge_new(S, "t", sf, "s", "t.k = s.k");
        CHECK_OK(when(m, true, SPK__MERGE_DELETE, "s.w % 3 = 0", NULL));
        CHECK_OK(when(m, true, SPK__MERGE_UPDATE, "t.v > s.w", "v", "t.v - s.w", "s", "concat(t.s, s.s)", NULL));
        CHECK_OK(when(m, true, SPK__MERGE_UPDATE, NULL, "v", "s.w", NULL));
        CHECK_OK(when(m, false, SPK__MERGE_INSERT, "s.w % 2 = 0", "k", "s.k", "v", "s.w * 2", "s", "s.s", NULL));
        CHECK_OK(when(m, false, SPK__MERGE_INSERT, NULL, "k", "s.k", "s", "'n'", NULL));
        check_merge(S, tf, m, want.p, up, del, ins, __LINE__);
        free(want.p);
        free(tf);
        free(sf);
    }
    free(perm);
    free(tr);
    free(sr);
    free(out);
}

/* ------------------------------------------------------------ allocation failures */

/* Every allocation of one merge fails in turn (the target's allocator, which
 * outputs and scratch use, and the session's, which the join uses): each run
 * gives SPK_ERR_NOMEM or the right rows, and leaks nothing. */
static void test_merge_alloc_sweep(void) {
    spk_failalloc f;
    spk_failalloc_init(&f, NULL, 0);
    spk_session_options o = {&f.iface, false, 1};
    spk_session *s = NULL;
    CHECK_OK(spk_session_new(&o, &s));
    spk_table *t = NULL, *source = NULL;
    CHECK_OK(spk_table_from_fixture(&f.iface, "id INT, name STRING, qty INT\n1,a,10\n2,b,20\n3,c,30\n4,d,40", &t));
    CHECK_OK(spk_table_from_fixture(&f.iface, "id INT, name STRING, qty INT\n2,B,5\n4,D,40\n5,E,1\n6,F,2", &source));
    spk_merge *m = spk__merge_alloc("db.t", "t", "s", sql("t.id = s.id"));
    CHECK_OK(when(m, true, SPK__MERGE_DELETE, "s.qty = 40", NULL));
    CHECK_OK(when(m, true, SPK__MERGE_UPDATE, NULL, "name", "concat(t.name, s.name)", "qty", "t.qty + s.qty", NULL));
    CHECK_OK(when(m, false, SPK__MERGE_INSERT, "s.qty > 1", "id", "s.id", "name", "lower(s.name)", NULL));
    const char *expected = "1,a,10|2,bB,25|3,c,30|6,f,NULL";
    long baseline_blocks = f.live_blocks;
    size_t baseline_bytes = f.live_bytes;
    int ok_runs = 0, nomem_runs = 0;
    for (long k = 1; k < 100000; k++) {
        f.fail_at = k;
        f.calls = 0;
        f.failures = 0;
        spk_table *out = NULL;
        spk_dml_metrics mx = {0, 0, 0};
        spk_status st = spk__dml_merge(s, "db.t", t, m, source, &out, &mx);
        f.fail_at = 0;
        long failures = f.failures;
        if (st == SPK_OK) {
            char *text = table_text(out);
            if (strcmp(text, expected) != 0) failf(__FILE__, __LINE__, "fail_at %ld: rows \"%s\"", k, text);
            if (mx.updated != 1 || mx.deleted != 1 || mx.inserted != 1) failf(__FILE__, __LINE__, "fail_at %ld: metrics", k);
            free(text);
            spk_table_free(out);
            ok_runs++;
        } else {
            if (st != SPK_ERR_NOMEM) failf(__FILE__, __LINE__, "fail_at %ld: %s (%s)", k, spk_status_name(st), spk_last_error());
            if (out) failf(__FILE__, __LINE__, "fail_at %ld: a failed merge returned a table", k);
            nomem_runs++;
        }
        if (f.live_blocks != baseline_blocks || f.live_bytes != baseline_bytes) {
            failf(__FILE__, __LINE__, "fail_at %ld: %ld blocks / %zu bytes leaked", k, f.live_blocks - baseline_blocks,
                  f.live_bytes - baseline_bytes);
            break;
        }
        if (failures == 0) break; /* every allocation of the run succeeded: the sweep is done */
    }
    CHECK(nomem_runs > 20);
    CHECK(ok_runs >= 1);
    spk_merge_free(m);
    spk_table_free(t);
    spk_table_free(source);
    spk_session_stop(s);
    CHECK_EQ_INT(f.live_blocks, 0);
}

/* DELETE and UPDATE under the same sweep. */
static void test_update_alloc_sweep(void) {
    spk_failalloc f;
    spk_failalloc_init(&f, NULL, 0);
    spk_table *t = NULL;
    CHECK_OK(spk_table_from_fixture(&f.iface, "id INT, name STRING\n1,a\n2,b\n3,c", &t));
    long baseline = f.live_blocks;
    int nomem = 0;
    for (long k = 1; k < 10000; k++) {
        f.fail_at = k;
        f.calls = 0;
        f.failures = 0;
        spk_table *out = NULL;
        spk_status st = update_sql(t, "id >= 2", &out, NULL, "name", "concat(name, 'x')", NULL);
        spk_table *del = NULL;
        spk_expr *w = sql("id = 2");
        spk_status st2 = spk__dml_delete("db.t", t, w, false, NULL, &del, NULL);
        spk_expr_release(w);
        f.fail_at = 0;
        if (st == SPK_OK) {
            char *text = table_text(out);
            if (strcmp(text, "1,a|2,bx|3,cx") != 0) failf(__FILE__, __LINE__, "fail_at %ld: \"%s\"", k, text);
            free(text);
        } else if (st != SPK_ERR_NOMEM) {
            failf(__FILE__, __LINE__, "fail_at %ld: %s", k, spk_status_name(st));
        }
        if (st2 == SPK_OK) {
            char *text = table_text(del);
            if (strcmp(text, "1,a|3,c") != 0) failf(__FILE__, __LINE__, "fail_at %ld: \"%s\"", k, text);
            free(text);
        } else if (st2 != SPK_ERR_NOMEM) {
            failf(__FILE__, __LINE__, "fail_at %ld: %s", k, spk_status_name(st2));
        }
        nomem += (st != SPK_OK) + (st2 != SPK_OK);
        spk_table_free(out);
        spk_table_free(del);
        if (f.live_blocks != baseline) {
            failf(__FILE__, __LINE__, "fail_at %ld: leaked", k);
            break;
        }
        if (f.failures == 0) break;
    }
    CHECK(nomem > 5);
    spk_table_free(t);
    CHECK_EQ_INT(f.live_blocks, 0);
}

int main(void) {
    RUN(test_delete_where);
    RUN(test_delete_all_and_null);
    RUN(test_delete_errors);
    RUN(test_update_expressions);
    RUN(test_update_widening);
    RUN(test_update_type_errors);
    RUN(test_update_not_null);
    RUN(test_update_errors);
    RUN(test_update_many_rows);
    RUN(test_update_alloc_sweep);
    RUN(test_merge_builder);
    FOR_EACH_THREAD_COUNT(i) {
        S = new_session(false);
        RUN(test_merge_upsert);
        RUN(test_merge_clause_order);
        RUN(test_merge_delete);
        RUN(test_merge_all);
        RUN(test_merge_insert_nulls);
        RUN(test_merge_non_equi);
        RUN(test_merge_multiple_matches);
        RUN(test_merge_no_match_and_empty);
        RUN(test_merge_aliases);
        RUN(test_merge_binding_errors);
        RUN(test_merge_string_keys);
        RUN(test_merge_null_keys);
        RUN(test_merge_metrics_add);
        if (i == 0 || i == 2) RUN(test_merge_random);
        if (i <= 1) RUN(test_merge_many_rows);
        spk_session_stop(S);
    }
    RUN(test_merge_alloc_sweep);
    return TEST_REPORT();
}
