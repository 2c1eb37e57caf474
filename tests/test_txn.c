/* Snapshots, scans and shards, transactions, their JSON, and MERGE through
 * the catalog, single-threaded, on the memory backend (and the file
 * backend where the difference matters). Expected rows are written out by
 * hand as text ("v,v|v,v"); errors are checked by status and by words of
 * spk_last_error(). The threaded scenarios (S4, scans racing commits) are
 * in test_mt_txn.c. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include "test.h"
#include <stdint.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

static spk_session *new_session(const char *backend, const char *base) {
    spk_builder *b = NULL;
    spk_session *s = NULL;
    if (spk_builder_new(&b) != SPK_OK) return NULL;
    if (backend) (void)spk_builder_config(b, "spark.sparkless.backend", backend);
    if (base) (void)spk_builder_config(b, "spark.sparkless.backend.basePath", base);
    if (spk_builder_create(b, &s) != SPK_OK) fprintf(stderr, "builder: %s\n", spk_last_error());
    spk_builder_free(b);
    return s;
}

/* Rows of a DataFrame ordered by its first column, as text; NULL df reads as "<error: ...>". */
static char *df_text(spk_df *df) {
    if (!df) {
        sbuf b = {NULL, 0, 0};
        sb_str(&b, "<error: ");
        sb_str(&b, spk_last_error());
        sb_str(&b, ">");
        return b.p;
    }
    spk_df *sorted = spk_df_order_by(df, 1, spk_col(spk_schema_field(spk_df_schema(df), 0)->name));
    spk_table *t = NULL;
    char *text = NULL;
    if (sorted && spk_df_collect(sorted, &t) == SPK_OK) text = table_text(t);
    else {
        sbuf b = {NULL, 0, 0};
        sb_str(&b, "<collect failed>");
        text = b.p;
    }
    spk_table_free(t);
    spk_df_release(sorted);
    spk_df_release(df);
    return text;
}

#define CHECK_DF(df, expected)         \
    do {                               \
        char *got_ = df_text(df);      \
        CHECK_STR(got_, expected);     \
        free(got_);                    \
    } while (0)

static void save(spk_session *s, const char *name, const char *fixture, const char *mode) {
    spk_df *df = spk_df_from_fixture(s, fixture);
    CHECK(df != NULL);
    if (df) CHECK_OK(spk_catalog_save_as_table(s, df, name, mode));
    spk_df_release(df);
}

/* txn.write of fixture rows. */
static spk_status write_fixture(spk_session *s, spk_txn *t, const char *table, const char *fixture) {
    spk_df *df = spk_df_from_fixture(s, fixture);
    spk_status st = df ? spk_txn_write(t, table, df) : spk_last_status();
    spk_df_release(df);
    return st;
}

static const char *kv_fixture = "k:bigint,v:string\n1,a\n2,b\n3,c\n";

/* ------------------------------------------------------------ snapshots */

static void test_snapshots(void) {
    spk_session *s = new_session(NULL, NULL);
    save(s, "t", kv_fixture, NULL);
    spk_snapshot *s1 = NULL, *s2 = NULL;
    CHECK_OK(spk_snapshot_new(s, "t", &s1));
    uint64_t a1 = spk_snapshot_asof(s1);
    CHECK(a1 >= 1);
    save(s, "t", "k:bigint,v:string\n4,d\n", "append");
    save(s, "u", "x:int\n7\n", NULL); /* another table's commit moves the counter on */
    CHECK_OK(spk_snapshot_new(s, "t", &s2));
    uint64_t a2 = spk_snapshot_asof(s2);
    CHECK(a2 > a1);
    uint64_t version = 0;
    CHECK_OK(spk_catalog_table_version(s, "t", &version));
    CHECK_EQ_INT(version, 2);

    CHECK_DF(spk_session_table_asof(s, "t", a1), "1,a|2,b|3,c");
    CHECK_DF(spk_session_table_asof(s, "t", a2), "1,a|2,b|3,c|4,d");
    CHECK_DF(spk_session_table_asof(s, "t", 0), "1,a|2,b|3,c|4,d");
    /* An asof between two versions of t reads the earlier one. */
    CHECK_DF(spk_session_table_asof(s, "default.t", a2 + 1), "1,a|2,b|3,c|4,d");
    save(s, "t", "k:bigint,v:string\n9,z\n", "overwrite");
    CHECK_DF(spk_session_table_asof(s, "t", a1), "1,a|2,b|3,c");
    CHECK_DF(spk_session_table(s, "t"), "9,z");

    /* After the latest commit, not yet: an argument error. */
    CHECK(spk_session_table_asof(s, "t", 1000000) == NULL);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_ARG);
    CHECK_CONTAINS(spk_last_error(), "after the latest commit");
    /* Released: that version is gone. */
    spk_snapshot_free(s1);
    CHECK(spk_session_table_asof(s, "t", a1) == NULL);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_NOT_FOUND);
    CHECK_CONTAINS(spk_last_error(), "no version kept");
    CHECK_DF(spk_session_table_asof(s, "t", a2), "1,a|2,b|3,c|4,d");
    /* A DataFrame made from a version keeps its rows after the snapshot goes. */
    spk_df *held = spk_session_table_asof(s, "t", a2);
    spk_snapshot_free(s2);
    CHECK_DF(held, "1,a|2,b|3,c|4,d");

    /* A dropped table is not there at later asofs, but a snapshot taken before still reads it. */
    spk_snapshot *s3 = NULL;
    CHECK_OK(spk_snapshot_new(s, "u", &s3));
    CHECK_OK(spk_catalog_drop_table(s, "u", false));
    CHECK_DF(spk_session_table_asof(s, "u", spk_snapshot_asof(s3)), "7");
    CHECK(spk_session_table(s, "u") == NULL);
    spk_snapshot_free(s3);

    /* Views and missing tables. */
    spk_df *v = spk_session_table(s, "t");
    CHECK_OK(spk_catalog_create_temp_view(s, "tv", v));
    spk_df_release(v);
    spk_snapshot *bad = NULL;
    CHECK_STATUS(spk_snapshot_new(s, "tv", &bad), SPK_ERR_ARG);
    CHECK_CONTAINS(spk_last_error(), "temp view");
    CHECK_STATUS(spk_snapshot_new(s, "nope", &bad), SPK_ERR_NOT_FOUND);
    CHECK_CONTAINS(spk_last_error(), "default.nope");
    CHECK(bad == NULL);
    spk_session_stop(s);
}

/* ------------------------------------------------------------ scans and shards */

static void test_scans(void) {
    spk_session *s = new_session(NULL, NULL);
    spk_df *range = spk_df_range(s, 0, 10000, 1);
    spk_df *df = spk_df_with_column(range, "g", spk_mod(spk_col("id"), spk_lit_i64(7)));
    CHECK_OK(spk_catalog_save_as_table(s, df, "nums", NULL));
    spk_df_release(range);
    spk_df_release(df);

    spk_scan *sc = NULL;
    CHECK_OK(spk_scan_new(s, "nums", 0, &sc));
    uint64_t asof = spk_scan_asof(sc);
    CHECK(asof > 0);
    CHECK_OK(spk_scan_where(sc, spk_lt(spk_col("nums.id"), spk_lit_i64(100))));
    const char *cols[] = {"g"};
    CHECK_OK(spk_scan_select(sc, cols, 1));
    /* The table changes; the scan does not. */
    save(s, "nums", "id:bigint,g:bigint\n1,1\n", "overwrite");
    int64_t n = -1;
    spk_df *all = spk_scan_df(sc, NULL, NULL);
    CHECK(all != NULL);
    CHECK_OK(spk_df_count(all, &n));
    CHECK_EQ_INT(n, 100);
    CHECK_EQ_INT(spk_schema_ncols(spk_df_schema(all)), 1);
    spk_df_release(all);

    /* Computed shards over the predicate's rows: every row exactly once. */
    for (int want = 1; want <= 64; want = want * 2 + 1) {
        spk_shards *set = NULL;
        const char *keys[] = {"id"};
        CHECK_OK(spk_scan_compute_shards(sc, want, keys, 1, &set));
        int got = spk_shards_count(set);
        CHECK(got >= 1 && got <= want);
        int64_t total = 0;
        for (int i = 0; i < got; i++) {
            spk_df *part = spk_scan_df(sc, NULL, spk_shards_get(set, i));
            int64_t c = -1;
            CHECK(part != NULL);
            if (part) CHECK_OK(spk_df_count(part, &c));
            total += c;
            spk_df_release(part);
        }
        CHECK_EQ_INT(total, 100);
        spk_shards_free(set);
    }
    /* Physical shards are of the whole version; the predicate still applies. */
    spk_shards *phys = NULL;
    CHECK_OK(spk_scan_shards(sc, 0, &phys));
    CHECK(spk_shards_count(phys) >= 1);
    CHECK(spk_shard_is_physical(spk_shards_get(phys, 0)));
    int64_t total = 0;
    for (int i = 0; i < spk_shards_count(phys); i++) {
        int64_t c = -1;
        spk_df *part = spk_scan_df(sc, NULL, spk_shards_get(phys, i));
        if (part) CHECK_OK(spk_df_count(part, &c));
        total += c;
        spk_df_release(part);
    }
    CHECK_EQ_INT(total, 100);

    /* A physical shard belongs to its version. */
    spk_scan *later = NULL;
    CHECK_OK(spk_scan_new(s, "nums", 0, &later));
    CHECK(spk_scan_asof(later) > asof);
    CHECK(spk_scan_df(later, NULL, spk_shards_get(phys, 0)) == NULL);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_ARG);
    CHECK_CONTAINS(spk_last_error(), "asof");
    spk_shards_free(phys);

    /* A worker rebuilds the same task from the table name, the asof and the shard. */
    spk_scan *worker = NULL;
    CHECK_OK(spk_scan_new(s, "nums", asof, &worker));
    CHECK_EQ_INT(spk_scan_asof(worker), asof);
    spk_df *whole = spk_scan_df(worker, NULL, NULL);
    CHECK_DF(whole ? spk_df_filter(whole, spk_eq(spk_col("id"), spk_lit_i64(9999))) : NULL, "9999,3");
    spk_df_release(whole);
    spk_scan_free(worker);

    /* Bad arguments. */
    CHECK_STATUS(spk_scan_where(later, spk_col("nope")), SPK_ERR_NOT_FOUND);
    CHECK_STATUS(spk_scan_where(later, spk_col("id")), SPK_ERR_TYPE);
    const char *bad_cols[] = {"zz"};
    CHECK_STATUS(spk_scan_select(later, bad_cols, 1), SPK_ERR_NOT_FOUND);
    spk_shards *none = NULL;
    const char *bad_keys[] = {"zz"};
    CHECK_STATUS(spk_scan_compute_shards(later, 4, bad_keys, 1, &none), SPK_ERR_NOT_FOUND);
    CHECK_CONTAINS(spk_last_error(), "zz");
    spk_scan_free(later);
    spk_scan_free(sc);
    spk_session_stop(s);
}

/* ------------------------------------------------------------ transactions */

static void test_txn_commit(void) {
    spk_session *s = new_session(NULL, NULL);
    save(s, "a", kv_fixture, NULL);
    spk_snapshot *before = NULL;
    CHECK_OK(spk_snapshot_new(s, "a", &before));

    spk_txn *t = NULL;
    CHECK_OK(spk_txn_begin(s, &t));
    spk_df *rows = spk_df_from_fixture(s, "v:string,k:bigint\nd,4\n"); /* by name, not position */
    CHECK_OK(spk_txn_write(t, "a", rows));
    CHECK_OK(spk_txn_write(t, "b", rows)); /* created at commit */
    CHECK_OK(spk_txn_delete(t, "a", spk_eq(spk_col("k"), spk_lit_i64(2))));
    const char *set_cols[] = {"v"};
    spk_expr *set_vals[] = {spk_call("upper", 1, spk_col("v"))};
    CHECK_OK(spk_txn_update(t, "a", 1, set_cols, set_vals, spk_gt(spk_col("k"), spk_lit_i64(2))));
    /* Nothing is visible before commit. */
    CHECK_DF(spk_session_table(s, "a"), "1,a|2,b|3,c");
    CHECK(!spk_catalog_table_exists(s, "b"));
    uint64_t asof = 0;
    spk_dml_metrics m = {0, 0, 0};
    CHECK_OK(spk_txn_commit(t, &asof, &m));
    CHECK_EQ_INT(m.inserted, 2);
    CHECK_EQ_INT(m.deleted, 1);
    CHECK_EQ_INT(m.updated, 2);
    CHECK_DF(spk_session_table(s, "a"), "1,a|3,C|4,D");
    CHECK_DF(spk_session_table(s, "b"), "d,4");
    /* Both tables carry the one asof. */
    spk_snapshot *sa = NULL, *sb = NULL;
    CHECK_OK(spk_snapshot_new(s, "a", &sa));
    CHECK_OK(spk_snapshot_new(s, "b", &sb));
    CHECK_EQ_INT(spk_snapshot_asof(sa), asof);
    CHECK_EQ_INT(spk_snapshot_asof(sb), asof);
    CHECK_DF(spk_session_table_asof(s, "a", spk_snapshot_asof(before)), "1,a|2,b|3,c");
    spk_snapshot_free(sa);
    spk_snapshot_free(sb);
    /* Over: later calls are refused. */
    CHECK_STATUS(spk_txn_commit(t, NULL, NULL), SPK_ERR_STATE);
    CHECK_STATUS(spk_txn_write(t, "a", rows), SPK_ERR_STATE);
    spk_txn_free(t);

    /* Rollback writes nothing; an empty commit gives the current asof. */
    CHECK_OK(spk_txn_begin(s, &t));
    CHECK_OK(spk_txn_delete(t, "a", NULL));
    spk_txn_rollback(t);
    CHECK_STATUS(spk_txn_commit(t, NULL, NULL), SPK_ERR_STATE);
    spk_txn_free(t);
    CHECK_DF(spk_session_table(s, "a"), "1,a|3,C|4,D");
    CHECK_OK(spk_txn_begin(s, &t));
    uint64_t now = 0;
    CHECK_OK(spk_txn_commit(t, &now, NULL));
    CHECK_EQ_INT(now, asof);
    spk_txn_free(t);
    /* A transaction freed without commit is rolled back. */
    CHECK_OK(spk_txn_begin(s, &t));
    CHECK_OK(spk_txn_delete(t, "a", NULL));
    spk_txn_free(t);
    CHECK_DF(spk_session_table(s, "a"), "1,a|3,C|4,D");

    /* A failing operation writes nothing in any table. */
    CHECK_OK(spk_txn_begin(s, &t));
    CHECK_OK(spk_txn_write(t, "b", rows));
    spk_df *wrong = spk_df_from_fixture(s, "k:string,v:string\nx,y\n");
    CHECK_OK(spk_txn_write(t, "a", wrong));
    CHECK_STATUS(spk_txn_commit(t, NULL, NULL), SPK_ERR_SCHEMA);
    CHECK_CONTAINS(spk_last_error(), "default.a");
    spk_txn_free(t);
    spk_df_release(wrong);
    CHECK_DF(spk_session_table(s, "b"), "d,4");
    CHECK_OK(spk_txn_begin(s, &t));
    CHECK_OK(spk_txn_write(t, "b", rows));
    CHECK_OK(spk_txn_delete(t, "missing", NULL));
    CHECK_STATUS(spk_txn_commit(t, NULL, NULL), SPK_ERR_NOT_FOUND);
    CHECK_CONTAINS(spk_last_error(), "default.missing");
    spk_txn_free(t);
    CHECK_OK(spk_txn_begin(s, &t));
    CHECK_OK(spk_txn_update(t, "a", 1, set_cols, (spk_expr *[]){spk_col("nope")}, NULL));
    CHECK_STATUS(spk_txn_commit(t, NULL, NULL), SPK_ERR_NOT_FOUND);
    CHECK_CONTAINS(spk_last_error(), "nope");
    spk_txn_free(t);
    CHECK_DF(spk_session_table(s, "b"), "d,4");
    CHECK_DF(spk_session_table(s, "a"), "1,a|3,C|4,D");
    spk_df_release(rows);
    spk_snapshot_free(before);
    spk_session_stop(s);
}

/* ------------------------------------------------------------ conflicts and retries */

typedef struct retry_state {
    spk_session *other;
    int calls;
} retry_state;

/* Deletes k = 1; on the first call another session commits to the table
 * first, so that attempt conflicts. */
static spk_status delete_one(spk_txn *t, void *user) {
    retry_state *r = (retry_state *)user;
    if (r->calls++ == 0) {
        spk_txn *o = NULL;
        if (spk_txn_begin(r->other, &o) != SPK_OK) return spk_last_status();
        spk_status st = spk_txn_update(o, "a", 1, (const char *[]){"v"}, (spk_expr *[]){spk_lit_str("other")},
                                       spk_eq(spk_col("k"), spk_lit_i64(3)));
        if (st == SPK_OK) st = spk_txn_commit(o, NULL, NULL);
        spk_txn_free(o);
        if (st != SPK_OK) return st;
    }
    return spk_txn_delete(t, "a", spk_eq(spk_col("k"), spk_lit_i64(1)));
}

static spk_status always_fails(spk_txn *t, void *user) {
    (void)user;
    return spk_txn_delete(t, "a.b.c", NULL);
}

static void test_txn_conflicts(void) {
    spk_session *s = new_session(NULL, NULL);
    spk_session *other = NULL;
    CHECK_OK(spk_session_new_session(s, &other));
    save(s, "a", kv_fixture, NULL);
    save(s, "c", "x:int\n1\n", NULL);

    /* A delete on a table another commit changed after begin: refused, nothing written. */
    spk_txn *t1 = NULL, *t2 = NULL;
    CHECK_OK(spk_txn_begin(s, &t1));
    CHECK_OK(spk_txn_begin(other, &t2));
    CHECK_OK(spk_txn_delete(t2, "a", spk_eq(spk_col("k"), spk_lit_i64(2))));
    CHECK_OK(spk_txn_commit(t2, NULL, NULL));
    CHECK_OK(write_fixture(s, t1, "c", "x:int\n2\n"));
    CHECK_OK(spk_txn_delete(t1, "a", spk_eq(spk_col("k"), spk_lit_i64(3))));
    CHECK_STATUS(spk_txn_commit(t1, NULL, NULL), SPK_ERR_CONFLICT);
    CHECK_CONTAINS(spk_last_error(), "default.a");
    CHECK_CONTAINS(spk_last_error(), "nothing was written");
    CHECK_DF(spk_session_table(s, "a"), "1,a|3,c");
    CHECK_DF(spk_session_table(s, "c"), "1");
    spk_txn_free(t1);
    spk_txn_free(t2);

    /* Appends land on whatever is current: no conflict. */
    CHECK_OK(spk_txn_begin(s, &t1));
    CHECK_OK(spk_txn_begin(other, &t2));
    CHECK_OK(write_fixture(s, t2, "c", "x:int\n5\n"));
    CHECK_OK(spk_txn_commit(t2, NULL, NULL));
    CHECK_OK(write_fixture(s, t1, "c", "x:int\n6\n"));
    CHECK_OK(spk_txn_commit(t1, NULL, NULL));
    CHECK_DF(spk_session_table(s, "c"), "1|5|6");
    spk_txn_free(t1);
    spk_txn_free(t2);

    /* The retry helper starts over after a conflict. */
    retry_state r = {other, 0};
    uint64_t asof = 0;
    CHECK_OK(spk_txn_run(s, 5, delete_one, &r, &asof));
    CHECK_EQ_INT(r.calls, 2);
    CHECK_DF(spk_session_table(s, "a"), "3,other");
    /* With one attempt the conflict is returned. */
    r.calls = 0;
    save(s, "a", kv_fixture, "overwrite");
    CHECK_STATUS(spk_txn_run(s, 1, delete_one, &r, NULL), SPK_ERR_CONFLICT);
    CHECK_CONTAINS(spk_last_error(), "gave up after 1 attempt");
    CHECK_DF(spk_session_table(s, "a"), "1,a|2,b|3,other");
    /* The callback's own error ends it. */
    CHECK_STATUS(spk_txn_run(s, 5, always_fails, NULL, NULL), SPK_ERR_ARG);
    CHECK_CONTAINS(spk_last_error(), "a.b.c");
    spk_session_stop(other);
    spk_session_stop(s);
}

/* ------------------------------------------------------------ MERGE */

static void test_merge(void) {
    spk_session *s = new_session(NULL, NULL);
    save(s, "target", "k:bigint,v:string,n:int\n1,a,10\n2,b,20\n3,c,30\n", NULL);
    spk_df *src = spk_df_from_fixture(s, "k:bigint,v:string,n:int\n2,B,21\n3,C,0\n4,D,40\n5,E,50\n");
    spk_merge *m = spk_merge_into("target", "t", src, "s", spk_eq(spk_col("t.k"), spk_col("s.k")));
    CHECK(m != NULL);
    CHECK_OK(spk_merge_when_matched_delete(m, spk_eq(spk_col("s.n"), spk_lit_i32(0))));
    CHECK_OK(spk_merge_when_matched_update(m, NULL, 2, (const char *[]){"v", "n"},
                                           (spk_expr *[]){spk_col("s.v"), spk_add(spk_col("t.n"), spk_col("s.n"))}));
    CHECK_OK(spk_merge_when_not_matched_insert(m, spk_gt(spk_col("s.k"), spk_lit_i64(4)), 2, (const char *[]){"k", "v"},
                                               (spk_expr *[]){spk_col("s.k"), spk_col("s.v")}));
    spk_dml_metrics met = {0, 0, 0};
    CHECK_OK(spk_merge_execute(s, m, &met));
    CHECK_EQ_INT(met.updated, 1);
    CHECK_EQ_INT(met.deleted, 1);
    CHECK_EQ_INT(met.inserted, 1);
    CHECK_DF(spk_session_table(s, "target"), "1,a,10|2,B,41|5,E,NULL");
    spk_merge_free(m);

    /* Two source rows for one target row: an error, nothing written. */
    spk_df *dup = spk_df_from_fixture(s, "k:bigint,v:string,n:int\n1,x,1\n1,y,2\n");
    m = spk_merge_into("target", NULL, dup, "s", spk_eq(spk_col("target.k"), spk_col("s.k")));
    CHECK_OK(spk_merge_when_matched_update_all(m, NULL));
    CHECK_STATUS(spk_merge_execute(s, m, NULL), SPK_ERR_STATE);
    CHECK_CONTAINS(spk_last_error(), "multiple source rows");
    CHECK_DF(spk_session_table(s, "target"), "1,a,10|2,B,41|5,E,NULL");
    spk_merge_free(m);
    spk_df_release(dup);
    spk_df_release(src);
    spk_session_stop(s);
}

/* ------------------------------------------------------------ JSON */

/* Operations of every kind, with awkward values, taken from a transaction. */
static spk_txn_ops *sample_ops(spk_session *s) {
    spk_txn *t = NULL;
    spk_txn_ops *ops = NULL;
    if (spk_txn_begin(s, &t) != SPK_OK) return NULL;
    spk_df *rows = spk_df_from_fixture(s, "k:bigint,v:string,d:double,x:decimal(10,2),dt:date,ts:timestamp,b:boolean,i:int\n"
                                          "1,plain,1.5,12.34,2024-02-29,2024-01-01 10:20:30.123456,true,-2147483648\n"
                                          "2,,NaN,-0.01,1970-01-01,1970-01-01 00:00:00,false,2147483647\n"
                                          "3,NULL,NULL,NULL,NULL,NULL,NULL,NULL\n");
    spk_table *odd = NULL;
    spk_schema *sch = NULL;
    (void)spk_schema_parse(NULL, "k BIGINT, v STRING, d DOUBLE, x DECIMAL(10,2), dt DATE, ts TIMESTAMP, b BOOLEAN, i INT", &sch);
    (void)spk_table_new(NULL, sch, &odd);
    spk_value vals[8] = {spk_value_i64(INT64_MIN), spk_value_strn("q'u\"o\\te\n\t\0nul \xc3\xa9\xe2\x82\xac", 20),
                         spk_value_f64(-1.0 / 0.0), spk_value_decimal(-99999999, 10, 2), spk_value_date(-719162),
                         spk_value_timestamp(-1), spk_value_bool(false), spk_value_i32(0)};
    (void)spk_table_append_row(odd, vals, 8);
    vals[0] = spk_value_i64(INT64_MAX);
    vals[2] = spk_value_f64(1e308);
    vals[3] = spk_value_decimal(1, 10, 2);
    (void)spk_table_append_row(odd, vals, 8);
    spk_status st = spk_txn_write(t, "a", rows);
    if (st == SPK_OK) st = spk_txn_write_rows(t, "a", odd);
    if (st == SPK_OK) st = spk_txn_delete(t, "a", spk_or(spk_like(spk_col("v"), "x\\_%'"), spk_in(spk_col("k"), 2, spk_lit_i64(7), spk_lit_i64(-8))));
    if (st == SPK_OK)
        st = spk_txn_update(t, "a", 2, (const char *[]){"v", "d"},
                            (spk_expr *[]){spk_when(NULL, spk_is_null(spk_col("v")), spk_lit_str("it's")),
                                           spk_cast(spk_mul(spk_col("a.k"), spk_lit_f64(0.1)), spk_type_of(SPK_TYPE_DOUBLE))},
                            spk_not(spk_between(spk_col("k"), spk_lit_i64(-3), spk_lit_i64(3))));
    if (st == SPK_OK) st = spk_txn_delete(t, "other.b", NULL);
    spk_merge *m = spk_merge_into("a", "t", rows, "s", spk_eq(spk_col("t.k"), spk_col("s.k")));
    if (m) {
        (void)spk_merge_when_matched_update(m, spk_is_not_null(spk_col("t.v")), 1, (const char *[]){"v"},
                                            (spk_expr *[]){spk_call("concat", 2, spk_col("t.v"), spk_lit_str("!"))});
        (void)spk_merge_when_matched_delete(m, NULL);
        (void)spk_merge_when_not_matched_insert_all(m, spk_lit_bool(true));
        if (st == SPK_OK) st = spk_txn_merge(t, m);
    }
    if (st == SPK_OK) st = spk_txn_take(t, &ops);
    spk_merge_free(m);
    spk_df_release(rows);
    spk_table_free(odd);
    spk_schema_release(sch);
    spk_txn_free(t);
    if (st != SPK_OK) fprintf(stderr, "sample_ops: %s\n", spk_last_error());
    return ops;
}

static void test_json_round_trip(void) {
    spk_session *s = new_session(NULL, NULL);
    spk_txn_ops *ops = sample_ops(s);
    CHECK(ops != NULL);
    if (!ops) {
        spk_session_stop(s);
        return;
    }
    CHECK_EQ_INT(spk_txn_ops_count(ops), 6);
    char *json = NULL, *again = NULL;
    CHECK_OK(spk_txn_ops_to_json(ops, &json));
    spk_txn_ops *back = NULL;
    CHECK_OK(spk_txn_ops_from_json(json, strlen(json), &back));
    CHECK_EQ_INT(spk_txn_ops_count(back), 6);
    if (back) CHECK_OK(spk_txn_ops_to_json(back, &again));
    if (json && again) CHECK_STR(again, json);
    if (json) {
        CHECK_CONTAINS(json, "\"format\": \"sparkless-txn-ops\", \"version\": 1");
        CHECK_CONTAINS(json, "\"-Infinity\"");
        CHECK_CONTAINS(json, "\"NaN\"");
        CHECK_CONTAINS(json, "-9223372036854775808");
        CHECK_CONTAINS(json, "\"table\": \"other.b\"");
    }
    /* The decoded operations commit as the originals would. */
    save(s, "a", "k:bigint,v:string,d:double,x:decimal(10,2),dt:date,ts:timestamp,b:boolean,i:int\n", NULL);
    CHECK_OK(spk_catalog_create_database(s, "other", false));
    save(s, "other.b", "z:int\n1\n", NULL);
    spk_session *s2 = new_session(NULL, NULL);
    save(s2, "a", "k:bigint,v:string,d:double,x:decimal(10,2),dt:date,ts:timestamp,b:boolean,i:int\n", NULL);
    CHECK_OK(spk_catalog_create_database(s2, "other", false));
    save(s2, "other.b", "z:int\n1\n", NULL);
    spk_txn *t1 = NULL, *t2 = NULL;
    CHECK_OK(spk_txn_begin(s, &t1));
    CHECK_OK(spk_txn_include(t1, ops));
    CHECK_OK(spk_txn_commit(t1, NULL, NULL));
    CHECK_OK(spk_txn_begin(s2, &t2));
    CHECK_OK(spk_txn_include(t2, back));
    CHECK_OK(spk_txn_commit(t2, NULL, NULL));
    char *x1 = df_text(spk_session_table(s, "a")), *x2 = df_text(spk_session_table(s2, "a"));
    CHECK_STR(x1, x2);
    CHECK_CONTAINS(x1, "-9223372036854775808,NULL,-9.223372036854776E17,-999999.99,0001-01-01,1969-12-31 23:59:59.999999,false,0|1,plain!,1.5,12.34");
    free(x1);
    free(x2);
    CHECK_DF(spk_session_table(s2, "other.b"), "");
    spk_txn_free(t1);
    spk_txn_free(t2);
    spk_string_free(json);
    spk_string_free(again);
    spk_txn_ops_free(ops);
    spk_txn_ops_free(back);
    spk_session_stop(s2);
    spk_session_stop(s);
}

static void expect_bad(const char *json, spk_status code, const char *words) {
    spk_txn_ops *ops = NULL;
    spk_status st = spk_txn_ops_from_json(json, strlen(json), &ops);
    if (st != code) failf(__FILE__, __LINE__, "decoding %s: got %s (%s), expected %s", json, spk_status_name(st), spk_last_error(),
                          spk_status_name(code));
    if (st != SPK_OK && !strstr(spk_last_error(), words))
        failf(__FILE__, __LINE__, "decoding %s: error \"%s\" lacks \"%s\"", json, spk_last_error(), words);
    CHECK(ops == NULL);
    spk_txn_ops_free(ops);
}

#define HEAD "{\"format\": \"sparkless-txn-ops\", \"version\": 1, \"operations\": ["

static void test_json_errors(void) {
    expect_bad("", SPK_ERR_PARSE, "at byte 0");
    expect_bad("[]", SPK_ERR_PARSE, "must be an object");
    expect_bad("{\"format\": \"x\", \"version\": 1, \"operations\": []}", SPK_ERR_PARSE, "\"format\"");
    expect_bad("{\"format\": \"sparkless-txn-ops\", \"version\": 2, \"operations\": []}", SPK_ERR_VERSION, "version 2");
    expect_bad("{\"format\": \"sparkless-txn-ops\", \"version\": \"1\", \"operations\": []}", SPK_ERR_PARSE, "\"version\"");
    expect_bad(HEAD "{\"op\": \"drop\", \"table\": \"a.b\"}]}", SPK_ERR_PARSE, "unknown operation \"drop\"");
    expect_bad(HEAD "{\"op\": \"delete\", \"table\": \"b\"}]}", SPK_ERR_PARSE, "database.table");
    expect_bad(HEAD "{\"op\": \"delete\", \"table\": \"a.b-c\"}]}", SPK_ERR_ARG, "'-'");
    expect_bad(HEAD "{\"op\": \"delete\", \"table\": \"a.b\", \"where\": \"k >\"}]}", SPK_ERR_PARSE, "operation 1, \"where\"");
    expect_bad(HEAD "{\"op\": \"delete\", \"table\": \"a.b\", \"where\": 5}]}", SPK_ERR_PARSE, "string or null");
    expect_bad(HEAD "{\"op\": \"update\", \"table\": \"a.b\", \"set\": []}]}", SPK_ERR_PARSE, "\"set\"");
    expect_bad(HEAD "{\"op\": \"update\", \"table\": \"a.b\", \"set\": [[\"v\"]]}]}", SPK_ERR_PARSE, "[column, expression]");
    expect_bad(HEAD "{\"op\": \"write\", \"table\": \"a.b\", \"rows\": {\"schema\": \"k BIGINTT\", \"rows\": []}}]}", SPK_ERR_PARSE,
               "\"schema\"");
    expect_bad(HEAD "{\"op\": \"write\", \"table\": \"a.b\", \"rows\": {\"schema\": \"k BIGINT\", \"rows\": [[1, 2]]}}]}",
               SPK_ERR_PARSE, "row 1 must be an array of 1 values");
    expect_bad(HEAD "{\"op\": \"write\", \"table\": \"a.b\", \"rows\": {\"schema\": \"k BIGINT\", \"rows\": [[1], [\"2\"]]}}]}",
               SPK_ERR_PARSE, "row 2, column `k`: a string is not a BIGINT value");
    expect_bad(HEAD "{\"op\": \"write\", \"table\": \"a.b\", \"rows\": {\"schema\": \"k INT\", \"rows\": [[2147483648]]}}]}",
               SPK_ERR_PARSE, "row 1, column `k`");
    expect_bad(HEAD "{\"op\": \"write\", \"table\": \"a.b\", \"rows\": {\"schema\": \"k INT NOT NULL\", \"rows\": [[null]]}}]}",
               SPK_ERR_NULL, "operation 1, row 1");
    expect_bad(HEAD "{\"op\": \"write\", \"table\": \"a.b\", \"rows\": {\"schema\": \"d DATE\", \"rows\": [[\"2024-02-30\"]]}}]}",
               SPK_ERR_PARSE, "column `d`");
    expect_bad(HEAD "{\"op\": \"merge\", \"table\": \"a.b\", \"on\": \"x = y\", \"source\": {\"schema\": \"x INT\", \"rows\": []},"
                    " \"clauses\": [{\"when\": \"sometimes\", \"action\": \"delete\"}]}]}",
               SPK_ERR_PARSE, "\"when\"");
    expect_bad(HEAD "{\"op\": \"merge\", \"table\": \"a.b\", \"on\": \"x = y\", \"source\": {\"schema\": \"x INT\", \"rows\": []},"
                    " \"clauses\": [{\"when\": \"matched\", \"action\": \"insert\", \"set\": [[\"x\", \"1\"]]}]}]}",
               SPK_ERR_ARG, "clause 1");

    /* Every truncation of a valid document fails cleanly; the whole succeeds. */
    spk_session *s = new_session(NULL, NULL);
    spk_txn_ops *ops = sample_ops(s);
    char *json = NULL;
    if (ops) CHECK_OK(spk_txn_ops_to_json(ops, &json));
    size_t len = json ? strlen(json) : 0, accepted = 0;
    for (size_t cut = 0; cut <= len; cut++) {
        char *copy = (char *)malloc(cut ? cut : 1); /* exact size: ASan sees any read past it */
        memcpy(copy, json, cut);
        spk_txn_ops *back = NULL;
        spk_status st = spk_txn_ops_from_json(copy, cut, &back);
        if (st == SPK_OK) accepted++;
        else if (st != SPK_ERR_PARSE) failf(__FILE__, __LINE__, "cut at %zu: %s", cut, spk_last_error());
        spk_txn_ops_free(back);
        free(copy);
    }
    CHECK_EQ_INT(accepted, 1);
    /* Flipped bytes: decoded or refused, never a crash. */
    for (size_t at = 0; at < len; at += 3) {
        char *copy = (char *)malloc(len);
        memcpy(copy, json, len);
        copy[at] ^= 0x20;
        spk_txn_ops *back = NULL;
        (void)spk_txn_ops_from_json(copy, len, &back);
        spk_txn_ops_free(back);
        free(copy);
    }
    spk_string_free(json);
    spk_txn_ops_free(ops);
    spk_session_stop(s);
}

/* ------------------------------------------------------------ memory under continuous commits */

typedef struct counting {
    spk_allocator a;
    long long live;
} counting;
static void *count_alloc(void *ctx, size_t n) {
    ((counting *)ctx)->live += (long long)n;
    return malloc(n);
}
static void *count_realloc(void *ctx, void *p, size_t old, size_t n) {
    ((counting *)ctx)->live += (long long)n - (long long)old;
    return realloc(p, n);
}
static void count_free(void *ctx, void *p, size_t n) {
    ((counting *)ctx)->live -= (long long)n;
    free(p);
}

/* 10,000 commits, each appending 16 rows and deleting the 16 oldest (so
 * the table's size is constant), each under a snapshot taken before and
 * released after: the memory the backend holds must not grow. */
static void test_memory_flat(void) {
    counting c = {{NULL, NULL, NULL, NULL}, 0};
    c.a.user = &c;
    c.a.alloc = count_alloc;
    c.a.realloc = count_realloc;
    c.a.free = count_free;
    spk_builder *b = NULL;
    spk_session *s = NULL;
    CHECK_OK(spk_builder_new(&b));
    CHECK_OK(spk_builder_allocator(b, &c.a));
    CHECK_OK(spk_builder_create(b, &s));
    spk_builder_free(b);
    if (!s) return;
    spk_df *first = spk_df_range(s, 0, 1024, 1);
    CHECK_OK(spk_catalog_save_as_table(s, first, "log", NULL));
    spk_df_release(first);
    const int commits = 10000;
    long long at_1000 = 0, at_end = 0;
    for (int i = 0; i < commits; i++) {
        spk_snapshot *snap = NULL;
        CHECK_OK(spk_snapshot_new(s, "log", &snap));
        spk_txn *t = NULL;
        CHECK_OK(spk_txn_begin(s, &t));
        spk_df *more = spk_df_range(s, 1024 + 16LL * i, 1024 + 16LL * (i + 1), 1);
        CHECK_OK(spk_txn_write(t, "log", more));
        spk_df_release(more);
        CHECK_OK(spk_txn_delete(t, "log", spk_lt(spk_col("id"), spk_lit_i64(16LL * (i + 1)))));
        CHECK_OK(spk_txn_commit(t, NULL, NULL));
        spk_txn_free(t);
        spk_snapshot_free(snap);
        if (i + 1 == 1000) at_1000 = c.live;
        if ((i + 1) % 2500 == 0) printf("  memory after %5d commits: %lld bytes\n", i + 1, c.live);
    }
    at_end = c.live;
    int64_t n = 0;
    spk_df *now = spk_session_table(s, "log");
    CHECK_OK(spk_df_count(now, &n));
    spk_df_release(now);
    CHECK_EQ_INT(n, 1024);
    printf("  memory: %lld bytes after 1,000 commits, %lld after %d (%+.1f%%)\n", at_1000, at_end, commits,
           100.0 * (double)(at_end - at_1000) / (double)at_1000);
    CHECK(at_end <= at_1000 + at_1000 / 10 && at_end >= at_1000 - at_1000 / 10);
    /* The measure can fail: snapshots held keep their versions. */
    spk_snapshot *held[64];
    for (int i = 0; i < 64; i++) {
        CHECK_OK(spk_snapshot_new(s, "log", &held[i]));
        spk_txn *t = NULL;
        CHECK_OK(spk_txn_begin(s, &t));
        CHECK_OK(spk_txn_delete(t, "log", spk_eq(spk_col("id"), spk_lit_i64(-1)))); /* a new version, same rows */
        CHECK_OK(spk_txn_commit(t, NULL, NULL));
        spk_txn_free(t);
    }
    printf("  memory with 64 snapshots held: %lld bytes\n", c.live);
    CHECK(c.live > 8 * at_end);
    for (int i = 0; i < 64; i++) spk_snapshot_free(held[i]);
    CHECK(c.live <= at_end + at_end / 10);
    spk_session_stop(s);
    CHECK_EQ_INT(c.live, 0);
}

/* ------------------------------------------------------------ backends */

static void test_file_backend(void) {
    char dir[512];
    if (!make_temp_dir(dir, sizeof dir, "spk_txn")) {
        CHECK(!"mkdtemp failed");
        return;
    }
    spk_session *s = new_session("file", dir);
    CHECK(s != NULL);
    if (!s) return;
    save(s, "a", kv_fixture, NULL);
    spk_txn *t = NULL;
    CHECK_OK(spk_txn_begin(s, &t));
    CHECK_OK(write_fixture(s, t, "b", "z:int\n1\n2\n"));
    CHECK_OK(spk_txn_update(t, "a", 1, (const char *[]){"v"}, (spk_expr *[]){spk_lit_str("w")}, spk_ge(spk_col("k"), spk_lit_i64(2))));
    CHECK_OK(spk_txn_commit(t, NULL, NULL));
    spk_txn_free(t);
    spk_session_stop(s);
    s = new_session("file", dir);
    CHECK_DF(spk_session_table(s, "a"), "1,a|2,w|3,w");
    CHECK_DF(spk_session_table(s, "b"), "1|2");
    CHECK_OK(spk_catalog_drop_table(s, "a", false));
    CHECK_OK(spk_catalog_drop_table(s, "b", false));
    spk_session_stop(s);
    rm_tree(dir);
}

/* A user backend without the optional operations: no snapshots or transactions. */
static spk_status nb_ok_schema(void *self, const char *schema, bool f) { (void)self; (void)schema; (void)f; return SPK_OK; }
static spk_status nb_list(void *self, spk_names *out) { (void)self; memset(out, 0, sizeof *out); return SPK_OK; }
static spk_status nb_write(void *self, const char *sc, const char *t, spk_table *rows, spk_write_mode m, uint64_t *v) {
    (void)self; (void)sc; (void)t; (void)m; (void)v;
    spk_table_free(rows);
    return SPK_ERR_UNSUPPORTED;
}
static spk_status nb_scan(void *self, const char *sc, const char *t, uint64_t v, spk_table **out, uint64_t *vo) {
    (void)self; (void)sc; (void)t; (void)v; (void)out; (void)vo;
    return SPK_ERR_NOT_FOUND;
}
static spk_status nb_drop(void *self, const char *sc, const char *t) { (void)self; (void)sc; (void)t; return SPK_ERR_NOT_FOUND; }
static spk_status nb_tables(void *self, const char *sc, spk_names *out) { (void)sc; return nb_list(self, out); }
static void nb_close(void *self) { (void)self; }
static spk_status nb_commit(void *self, spk_backend_commit *w, int n, uint64_t *asof) {
    (void)self; (void)asof;
    for (int i = 0; i < n; i++) spk_table_free(w[i].rows);
    return SPK_ERR_UNSUPPORTED;
}

static void test_unsupported_backend(void) {
    static const spk_backend_ops ops = {nb_ok_schema, nb_ok_schema, nb_list, nb_write, nb_scan, nb_drop, nb_tables, nb_close,
                                        NULL, NULL, NULL, NULL};
    spk_backend *be = NULL;
    CHECK_OK(spk_backend_new(NULL, "plain", &ops, NULL, &be));
    spk_builder *b = NULL;
    spk_session *s = NULL;
    CHECK_OK(spk_builder_new(&b));
    CHECK_OK(spk_builder_backend(b, be));
    CHECK_OK(spk_builder_create(b, &s));
    spk_builder_free(b);
    spk_txn *t = NULL;
    CHECK_STATUS(spk_txn_begin(s, &t), SPK_ERR_UNSUPPORTED);
    CHECK_CONTAINS(spk_last_error(), "'plain'");
    spk_snapshot *snap = NULL;
    CHECK_STATUS(spk_snapshot_new(s, "x", &snap), SPK_ERR_UNSUPPORTED);
    spk_session_stop(s);
    /* Some of the optional operations without the others is a mistake. */
    spk_backend_ops half = ops;
    half.commit = nb_commit;
    spk_backend *none = NULL;
    CHECK_STATUS(spk_backend_new(NULL, "plain2", &half, NULL, &none), SPK_ERR_ARG);
    CHECK_CONTAINS(spk_last_error(), "set all four");
    CHECK(none == NULL);
}

int main(void) {
    RUN(test_snapshots);
    RUN(test_scans);
    RUN(test_txn_commit);
    RUN(test_txn_conflicts);
    RUN(test_merge);
    RUN(test_json_round_trip);
    RUN(test_json_errors);
    RUN(test_memory_flat);
    RUN(test_file_backend);
    RUN(test_unsupported_backend);
    return TEST_REPORT();
}
