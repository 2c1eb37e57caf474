/* tests/fuzz/gen_corpus.c — writes the fuzzers' seed corpora:
 *   gen_corpus DIR   writes DIR/expr/, DIR/scan_task/ and DIR/txn_json/
 * (make fuzz-corpus regenerates tests/fuzz/corpus). Every seed is made by
 * the library's own encoders from real objects — expressions of every node
 * kind, literal type, aggregates, UDF references and an inline macro; scan
 * tasks with predicates, projections, physical and computed shards;
 * operations taken from real transactions — and checked to decode again.
 * The output is deterministic but for the 8 bytes of backend instance in
 * each scan task (random per backend). Most tasks are made on a file
 * backend, so that the scan-task fuzzer (whose file backend holds the same
 * table at the same version) runs them; a few on a memory backend, which
 * no other process can run. Exits 1 if any seed could not be made. */
#define _POSIX_C_SOURCE 200809L
#define SPARKLESS_IMPLEMENTATION
#include "../../sparkless.h"
#include "fuzz_common.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *outdir;
static int failures;
static int counts[3]; /* seeds written per kind: expr, scan_task, txn_json */

static void failed(const char *kind, const char *label, const char *what) {
    fprintf(stderr, "gen_corpus: %s %s: %s: %s\n", kind, label, what, spk_last_error());
    failures++;
}

/* Writes DIR/kind/NN-label. */
static void put(int k, const char *label, const void *data, size_t len) {
    static const char *const kinds[3] = {"expr", "scan_task", "txn_json"};
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%02d-%s", outdir, kinds[k], ++counts[k], label);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "gen_corpus: cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

/* ------------------------------------------------------------ expressions */

/* Encodes e (consumed), checks that it decodes to an equal tree, writes it. */
static void expr_seed(const char *label, spk_expr *e) {
    if (!e) {
        failed("expr", label, "could not build");
        return;
    }
    spk_bytes b;
    memset(&b, 0, sizeof b);
    spk_expr *back = NULL;
    if (spk_expr_encode(e, &b) != SPK_OK) failed("expr", label, "encode");
    else if (spk_expr_decode(b.data, b.len, NULL, &back) != SPK_OK) failed("expr", label, "decode");
    else if (!spk_expr_equal(e, back)) failed("expr", label, "decoded to a different tree");
    else put(0, label, b.data, b.len);
    spk_expr_release(back);
    spk_bytes_free(&b);
    spk_expr_release(e);
}

static void expr_sql(const char *label, const char *sql) {
    spk_expr *e = NULL;
    if (spk_expr_parse(sql, &e) != SPK_OK) {
        failed("expr", label, sql);
        return;
    }
    expr_seed(label, e);
}

static void gen_exprs(void) {
    /* Leaves: columns, star, every literal type. */
    expr_seed("col", spk_col("x"));
    expr_seed("col-qualified", spk_col("t.x"));
    expr_seed("col-quoted", spk_col("`odd.name`"));
    expr_seed("star", spk_star());
    expr_seed("lit-null", spk_lit_null());
    expr_seed("lit-null-typed", spk_lit(spk_value_null_of(spk_type_decimal(12, 3))));
    expr_seed("lit-bool", spk_and(spk_lit_bool(true), spk_lit_bool(false)));
    expr_seed("lit-int", spk_in(spk_col("i"), 3, spk_lit_i32(INT32_MIN), spk_lit_i32(0), spk_lit_i32(INT32_MAX)));
    expr_seed("lit-bigint", spk_between(spk_col("k"), spk_lit_i64(INT64_MIN), spk_lit_i64(INT64_MAX)));
    expr_seed("lit-double", spk_in(spk_col("d"), 5, spk_lit_f64(1.5), spk_lit_f64(-0.0), spk_lit_f64(NAN),
                                   spk_lit_f64(-INFINITY), spk_lit_f64(1e308)));
    expr_seed("lit-string", spk_in(spk_col("s"), 3, spk_lit_str(""), spk_lit_str("it's \"q\" \xc3\xa9\xe2\x82\xac"),
                                   spk_lit(spk_value_strn("nul\0byte", 8))));
    expr_seed("lit-decimal", spk_add(spk_lit_decimal(-99999999, 10, 2), spk_lit_decimal(999999999999999999, 18, 18)));
    expr_seed("lit-date", spk_ge(spk_col("dt"), spk_lit_date(2024, 2, 29)));
    expr_seed("lit-timestamp", spk_lt(spk_col("ts"), spk_lit(spk_value_timestamp(-1))));
    expr_sql("interval", "dt <= DATE '1998-12-01' - INTERVAL 90 DAY");
    expr_sql("interval-units", "ts + INTERVAL 3 HOUR + INTERVAL '2' MONTH - INTERVAL 1 YEAR");
    /* Unary, binary, logic, predicates. */
    expr_seed("neg-not", spk_not(spk_gt(spk_neg(spk_col("a")), spk_lit_i32(0))));
    expr_seed("null-tests", spk_or(spk_is_null(spk_col("a")), spk_is_not_null(spk_col("b"))));
    expr_seed("arith", spk_sub(spk_add(spk_mul(spk_col("a"), spk_col("b")), spk_div(spk_col("c"), spk_lit_i32(3))),
                               spk_add(spk_mod(spk_col("a"), spk_lit_i32(7)), spk_intdiv(spk_col("b"), spk_lit_i64(2)))));
    expr_seed("compare", spk_and(spk_and(spk_eq(spk_col("a"), spk_lit_i32(1)), spk_ne(spk_col("b"), spk_lit_i32(2))),
                                 spk_and(spk_le(spk_col("c"), spk_col("d")), spk_eq_null_safe(spk_col("e"), spk_lit_null()))));
    expr_seed("like", spk_like(spk_col("s"), "x\\_%'"));
    expr_seed("rlike", spk_rlike(spk_col("s"), "^(a|b)+[0-9]{2,}$"));
    expr_seed("case-else", spk_otherwise(spk_when(spk_when(NULL, spk_is_null(spk_col("v")), spk_lit_str("none")),
                                                  spk_gt(spk_col("v"), spk_lit_i32(9)), spk_lit_str("big")),
                                         spk_lit_str("small")));
    expr_seed("case-no-else", spk_when(NULL, spk_col("flag"), spk_lit_i64(1)));
    expr_seed("cast", spk_add(spk_cast(spk_col("s"), spk_type_of(SPK_TYPE_DATE)),
                              spk_cast(spk_cast(spk_col("d"), spk_type_decimal(18, 4)), spk_type_of(SPK_TYPE_INT32))));
    expr_sql("cast-all", "CAST(a AS BOOLEAN) OR CAST(b AS BIGINT) > 0 OR CAST(c AS STRING) = CAST(d AS TIMESTAMP)");
    expr_seed("alias", spk_alias(spk_mul(spk_col("price"), spk_sub(spk_lit_i32(1), spk_col("disc"))), "net"));
    expr_seed("call", spk_call("concat", 3, spk_call("upper", 1, spk_col("s")), spk_lit_str("-"),
                               spk_call("substring", 3, spk_col("s"), spk_lit_i32(2), spk_lit_i32(3))));
    expr_seed("agg-sum", spk_alias(spk_call("sum", 1, spk_col("x")), "total"));
    expr_seed("agg-count-star", spk_call("count", 1, spk_star()));
    expr_seed("agg-count-distinct", spk_count_distinct(spk_col("g")));
    expr_sql("agg-mixed", "avg(x) + max(y) - min(y) * count(DISTINCT z)");
    expr_seed("sort-asc", spk_asc(spk_col("a")));
    expr_seed("sort-desc-nulls-first", spk_desc_nulls_first(spk_col("b")));
    expr_seed("sort-asc-nulls-last", spk_asc_nulls_last(spk_add(spk_col("a"), spk_col("b"))));
    expr_seed("sort-desc", spk_desc(spk_call("lower", 1, spk_col("s"))));
    expr_sql("tpch-q6", "l_shipdate >= DATE '1994-01-01' AND l_shipdate < DATE '1995-01-01' AND "
                        "l_discount BETWEEN 0.05 AND 0.07 AND l_quantity < 24");
    expr_sql("tpch-q1", "sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) AS sum_charge");
    expr_sql("timestamp-literal", "ts BETWEEN TIMESTAMP '2024-01-01 10:20:30.123456' AND TIMESTAMP '2038-01-19 03:14:07'");
    /* A deep left-leaning chain. */
    spk_expr *deep = spk_col("x");
    for (int i = 0; i < 60; i++) deep = spk_add(deep, spk_lit_i32(i));
    expr_seed("deep", deep);

    /* UDF references: a scalar and an aggregate registered here and in the
     * fuzzers, and a macro that travels inline. */
    spk_udf *scale = spk_udf_lookup(spk_udf_global(), "fz_scale");
    spk_udf *total = spk_udf_lookup(spk_udf_global(), "fz_total");
    spk_udf *twice = NULL, *twice_scaled = NULL;
    if (spk_udf_macro("fz_twice", "x INT", "x * 2", &twice) != SPK_OK) failed("expr", "macro", "fz_twice");
    if (spk_udf_macro("fz_mix", "a DOUBLE, b STRING", "CASE WHEN b IS NULL THEN fz_scale(a) ELSE a END", &twice_scaled) != SPK_OK)
        failed("expr", "macro", "fz_mix");
    if (scale) {
        expr_seed("udf-scalar", spk_gt(spk_udf_call(scale, 1, spk_col("d")), spk_lit_f64(1.0)));
        expr_seed("udf-scalar-nested", spk_udf_call(scale, 1, spk_udf_call(scale, 1, spk_cast(spk_col("i"), spk_type_of(SPK_TYPE_DOUBLE)))));
    }
    if (total) {
        expr_seed("udf-aggregate", spk_alias(spk_udf_call(total, 1, spk_col("k")), "t"));
        expr_seed("udf-aggregate-mixed", spk_add(spk_udf_call(total, 1, spk_col("k")), spk_call("count", 1, spk_star())));
    }
    if (twice) {
        expr_seed("udf-macro", spk_udf_call(twice, 1, spk_col("i")));
        expr_seed("udf-macro-twice", spk_add(spk_udf_call(twice, 1, spk_lit_i32(3)), spk_udf_call(twice, 1, spk_col("j"))));
    }
    if (twice_scaled) expr_seed("udf-macro-calls-udf", spk_udf_call(twice_scaled, 2, spk_col("d"), spk_col("s")));
    if (!scale || !total) failed("expr", "udf", "fz_scale/fz_total not registered");
    spk_udf_release(scale);
    spk_udf_release(total);
    spk_udf_release(twice);
    spk_udf_release(twice_scaled);
}

/* ------------------------------------------------------------ scan tasks */

static void task_seed(const char *label, spk_scan *sc, const spk_shard *sh) {
    spk_bytes b;
    memset(&b, 0, sizeof b);
    spk_scan_task *t = NULL;
    if (spk_scan_task_encode(sc, sh, &b) != SPK_OK) failed("scan_task", label, "encode");
    else if (spk_scan_task_decode(b.data, b.len, NULL, &t) != SPK_OK) failed("scan_task", label, "decode");
    else put(1, label, b.data, b.len);
    spk_scan_task_free(t);
    spk_bytes_free(&b);
}

/* A scan of `table` with an optional predicate (SQL) and projection. */
static spk_scan *scan_of(spk_session *s, const char *table, const char *where, const char *const *cols, int ncols) {
    spk_scan *sc = NULL;
    spk_expr *pred = NULL;
    if (spk_scan_new(s, table, 0, &sc) != SPK_OK) goto bad;
    if (where && (spk_expr_parse(where, &pred) != SPK_OK || spk_scan_where(sc, pred) != SPK_OK)) goto bad;
    if (ncols && spk_scan_select(sc, cols, ncols) != SPK_OK) goto bad;
    return sc;
bad:
    failed("scan_task", table, where ? where : "scan");
    spk_scan_free(sc);
    return NULL;
}

/* One seed per shard of sc (at most 4), and one of the whole scan. */
static void task_shards(const char *label, spk_scan *sc, spk_shards *set) {
    char name[128];
    for (int i = 0; set && i < spk_shards_count(set) && i < 4; i++) {
        snprintf(name, sizeof name, "%s-shard%d", label, i);
        task_seed(name, sc, spk_shards_get(set, i));
    }
    spk_shards_free(set);
}

static void gen_tasks(void) {
    char base[4096];
    if (fuzz_tempdir(base, sizeof base) != 0) {
        failed("scan_task", "session", "no temporary directory");
        return;
    }
    spk_session *s = fuzz_session_with_t(base);
    if (!s) {
        failed("scan_task", "session", "table t");
        fuzz_rmtree(base);
        return;
    }
    spk_df *u = spk_df_from_fixture(s, "k INT, name STRING\n1,x\n2,y\n");
    if (!u || spk_catalog_create_database(s, "other", true) != SPK_OK || spk_catalog_save_as_table(s, u, "other.u", NULL) != SPK_OK)
        failed("scan_task", "session", "table other.u");
    spk_df_release(u);

    spk_scan *sc = scan_of(s, "t", NULL, NULL, 0);
    spk_shards *set = NULL;
    if (sc) {
        task_seed("whole", sc, NULL);
        if (spk_scan_shards(sc, 0, &set) == SPK_OK) task_shards("physical", sc, set);
        else failed("scan_task", "physical", "shards");
        if (spk_scan_compute_shards(sc, 3, (const char *[]){"g"}, 1, &set) == SPK_OK) task_shards("keys-int", sc, set);
        else failed("scan_task", "keys-int", "compute_shards");
    }
    spk_scan_free(sc);

    sc = scan_of(s, "t", "d > 0 AND s IS NOT NULL", (const char *[]){"id", "s"}, 2);
    if (sc) {
        task_seed("pred-proj", sc, NULL);
        if (spk_scan_compute_shards(sc, 2, (const char *[]){"s", "id"}, 2, &set) == SPK_OK) task_shards("keys-2", sc, set);
        else failed("scan_task", "keys-2", "compute_shards");
        if (spk_scan_shards(sc, 1, &set) == SPK_OK) task_shards("pred-physical", sc, set);
        else failed("scan_task", "pred-physical", "shards");
    }
    spk_scan_free(sc);

    sc = scan_of(s, "t", "dt BETWEEN DATE '1999-01-01' AND DATE '2024-12-31' - INTERVAL 1 DAY OR x IN (1.25, -3.50)",
                 (const char *[]){"dt", "x", "g"}, 3);
    if (sc) {
        task_seed("pred-dates", sc, NULL);
        if (spk_scan_compute_shards(sc, 4, (const char *[]){"dt", "x"}, 2, &set) == SPK_OK) task_shards("keys-date-dec", sc, set);
        else failed("scan_task", "keys-date-dec", "compute_shards");
    }
    spk_scan_free(sc);

    sc = scan_of(s, "t", "fz_scale(d) > 1.0 OR upper(s) LIKE 'A%'", NULL, 0);
    if (sc) task_seed("pred-udf", sc, NULL);
    spk_scan_free(sc);

    sc = scan_of(s, "t", "CAST(id AS STRING) RLIKE '[0-9]' AND NOT (g <=> NULL)", (const char *[]){"d"}, 1);
    if (sc) {
        if (spk_scan_compute_shards(sc, 2, (const char *[]){"d"}, 1, &set) == SPK_OK) task_shards("keys-double", sc, set);
        else failed("scan_task", "keys-double", "compute_shards");
    }
    spk_scan_free(sc);

    sc = scan_of(s, "other.u", "k = 2", NULL, 0);
    if (sc) {
        task_seed("other-table", sc, NULL);
        if (spk_scan_shards(sc, 0, &set) == SPK_OK) task_shards("other-physical", sc, set);
        else failed("scan_task", "other-physical", "shards");
    }
    spk_scan_free(sc);
    spk_session_stop(s);
    fuzz_rmtree(base);

    /* On a memory backend: tasks no other process can run. */
    s = fuzz_session_with_t(NULL);
    sc = s ? scan_of(s, "t", "id > 2", (const char *[]){"id", "d"}, 2) : NULL;
    if (sc) {
        task_seed("memory-whole", sc, NULL);
        if (spk_scan_shards(sc, 0, &set) == SPK_OK) task_shards("memory-physical", sc, set);
        else failed("scan_task", "memory-physical", "shards");
        if (spk_scan_compute_shards(sc, 2, (const char *[]){"id"}, 1, &set) == SPK_OK) task_shards("memory-keys", sc, set);
        else failed("scan_task", "memory-keys", "compute_shards");
    }
    spk_scan_free(sc);
    spk_session_stop(s);
}

/* ------------------------------------------------------------ transaction JSON */

/* Writes the operations of t (taken) as a seed and frees t. */
static void txn_seed(const char *label, spk_txn *t, spk_status st) {
    spk_txn_ops *ops = NULL;
    char *json = NULL;
    if (st != SPK_OK) failed("txn_json", label, "building");
    else if (spk_txn_take(t, &ops) != SPK_OK) failed("txn_json", label, "take");
    else if (spk_txn_ops_to_json(ops, &json) != SPK_OK) failed("txn_json", label, "to_json");
    else put(2, label, json, strlen(json));
    spk_string_free(json);
    spk_txn_ops_free(ops);
    spk_txn_free(t);
}

/* A document written by hand (members in other orders, unknown members,
 * escapes, number forms): checked to decode, written as it is. */
static void txn_doc(const char *label, const char *json) {
    spk_txn_ops *ops = NULL;
    if (spk_txn_ops_from_json(json, strlen(json), &ops) != SPK_OK) failed("txn_json", label, "from_json");
    else put(2, label, json, strlen(json));
    spk_txn_ops_free(ops);
}

static void gen_txn_docs(void) {
    txn_doc("doc-compact", "{\"operations\":[{\"op\":\"delete\",\"table\":\"a.b\",\"where\":null}],\"version\":1,"
                           "\"format\":\"sparkless-txn-ops\"}");
    txn_doc("doc-spaces", " {\n\t\"format\" : \"sparkless-txn-ops\" ,\r\n \"version\" : 1 , \"operations\" : [ ] }\n");
    txn_doc("doc-unknown-members",
            "{\"format\": \"sparkless-txn-ops\", \"version\": 1, \"comment\": [1, -2.5e3, {\"x\": [true, false, null]}],"
            " \"operations\": [{\"op\": \"delete\", \"table\": \"db.t\", \"where\": \"`k` = 1\", \"note\": {}}]}");
    txn_doc("doc-escapes",
            "{\"format\": \"sparkless-txn-ops\", \"version\": 1, \"operations\": [{\"op\": \"write\", \"table\": \"a.b\","
            " \"rows\": {\"schema\": \"s STRING, d DOUBLE\", \"rows\": [[\"\\u00e9\\ud83d\\ude00\\/\\b\\f\\r\\\"\", 1e2],"
            " [\"\", -0.0], [null, 0.5E-3], [\"\\u0000\", \"NaN\"]]}}]}");
    txn_doc("doc-numbers",
            "{\"format\": \"sparkless-txn-ops\", \"version\": 1, \"operations\": [{\"op\": \"write\", \"table\": \"a.b\","
            " \"rows\": {\"schema\": \"i INT, k BIGINT, x DECIMAL(18,2), b BOOLEAN\","
            " \"rows\": [[-2147483648, 9223372036854775807, \"-9999999999999999.99\", true], [0, -0, \"0.1\", false]]}}]}");
    txn_doc("doc-merge-clauses",
            "{\"format\": \"sparkless-txn-ops\", \"version\": 1, \"operations\": [{\"op\": \"merge\", \"table\": \"a.b\","
            " \"target_alias\": null, \"source_alias\": \"s\", \"on\": \"`b`.`k` = `s`.`k`\","
            " \"source\": {\"schema\": \"k BIGINT, v STRING\", \"rows\": [[1, \"x\"]]},"
            " \"clauses\": [{\"when\": \"matched\", \"action\": \"delete\", \"condition\": \"`s`.`v` IS NULL\"},"
            " {\"when\": \"matched\", \"action\": \"update_all\", \"condition\": null},"
            " {\"when\": \"not_matched\", \"action\": \"insert\", \"condition\": \"true\", \"set\": [[\"k\", \"`s`.`k` + 1L\"]]},"
            " {\"when\": \"not_matched\", \"action\": \"insert_all\"}]}]}");
}

static spk_txn *begin(spk_session *s) {
    spk_txn *t = NULL;
    if (spk_txn_begin(s, &t) != SPK_OK) failed("txn_json", "begin", "");
    return t;
}

static spk_status write_fixture(spk_txn *t, spk_session *s, const char *table, const char *fixture) {
    spk_df *df = spk_df_from_fixture(s, fixture);
    spk_status st = df ? spk_txn_write(t, table, df) : SPK_ERR_ARG;
    spk_df_release(df);
    return st;
}

static void gen_txns(void) {
    spk_session *s = fuzz_session_with_t(NULL);
    if (!s) {
        failed("txn_json", "session", "table t");
        return;
    }
    spk_txn *t = begin(s);
    if (t) txn_seed("empty", t, SPK_OK);

    t = begin(s);
    if (t) txn_seed("write-all-types", t,
                    write_fixture(t, s, "a", "k:bigint,v:string,d:double,x:decimal(10,2),dt:date,ts:timestamp,b:boolean,i:int\n"
                                             "1,plain,1.5,12.34,2024-02-29,2024-01-01 10:20:30.123456,true,-2147483648\n"
                                             "2,,NaN,-0.01,1970-01-01,1970-01-01 00:00:00,false,2147483647\n"
                                             "3,NULL,NULL,NULL,NULL,NULL,NULL,NULL\n"));

    /* Awkward values only a table built in C holds. */
    t = begin(s);
    if (t) {
        spk_schema *sch = NULL;
        spk_table *odd = NULL;
        spk_status st = spk_schema_parse(NULL, "k BIGINT NOT NULL, v STRING, d DOUBLE, x DECIMAL(18,18), dt DATE, ts TIMESTAMP", &sch);
        if (st == SPK_OK) st = spk_table_new(NULL, sch, &odd);
        spk_value v[6] = {spk_value_i64(INT64_MIN), spk_value_strn("q'u\"o\\te\n\t\0nul \xc3\xa9\xe2\x82\xac\x7f", 21),
                          spk_value_f64(-INFINITY), spk_value_decimal(-999999999999999999, 18, 18), spk_value_date(-719162),
                          spk_value_timestamp(-1)};
        if (st == SPK_OK) st = spk_table_append_row(odd, v, 6);
        v[0] = spk_value_i64(INT64_MAX);
        v[1] = spk_value_str("\x01\x1f </script> \\u0000");
        v[2] = spk_value_f64(5e-324);
        v[3] = spk_value_decimal(1, 18, 18);
        v[4] = spk_value_date(2932896);
        v[5] = spk_value_timestamp(INT64_C(253402300799999999));
        if (st == SPK_OK) st = spk_table_append_row(odd, v, 6);
        if (st == SPK_OK) st = spk_txn_write_rows(t, "other.odd", odd);
        spk_table_free(odd);
        spk_schema_release(sch);
        txn_seed("write-odd-values", t, st);
    }

    t = begin(s);
    if (t) txn_seed("delete-all", t, spk_txn_delete(t, "t", NULL));
    t = begin(s);
    if (t) txn_seed("delete-where", t,
                    spk_txn_delete(t, "t", spk_or(spk_like(spk_col("s"), "x\\_%'"), spk_in(spk_col("id"), 2, spk_lit_i64(7), spk_lit_i64(-8)))));
    t = begin(s);
    if (t) {
        spk_expr *w = NULL;
        spk_status st = spk_expr_parse("dt <= DATE '1998-12-01' - INTERVAL 90 DAY AND x BETWEEN -1.5 AND CAST('2.5' AS DECIMAL(10,2)) "
                                       "AND `t`.`s` RLIKE '^a' AND NOT d <=> NULL",
                                       &w);
        txn_seed("delete-parsed", t, st == SPK_OK ? spk_txn_delete(t, "t", w) : st);
    }
    t = begin(s);
    if (t) txn_seed("update", t,
                    spk_txn_update(t, "t", 2, (const char *[]){"s", "d"},
                                   (spk_expr *[]){spk_when(NULL, spk_is_null(spk_col("s")), spk_lit_str("it's")),
                                                  spk_cast(spk_mul(spk_col("t.id"), spk_lit_f64(0.1)), spk_type_of(SPK_TYPE_DOUBLE))},
                                   spk_not(spk_between(spk_col("id"), spk_lit_i64(-3), spk_lit_i64(3)))));
    t = begin(s);
    if (t) txn_seed("update-all-rows", t,
                    spk_txn_update(t, "t", 1, (const char *[]){"g"}, (spk_expr *[]){spk_call("coalesce", 2, spk_col("g"), spk_lit_i32(0))},
                                   NULL));

    spk_df *src = spk_df_from_fixture(s, "id:bigint,s:string,g:int\n2,B,21\n3,C,0\n9,D,40\n");
    const char *merges[] = {"merge-full", "merge-all", "merge-no-alias"};
    for (int i = 0; i < 3; i++) {
        t = begin(s);
        if (!t) continue;
        spk_merge *m = i == 2 ? spk_merge_into("t", NULL, src, NULL, spk_eq(spk_col("t.id"), spk_col("id")))
                              : spk_merge_into("t", "tg", src, "sr", spk_eq(spk_col("tg.id"), spk_col("sr.id")));
        spk_status st = m ? SPK_OK : SPK_ERR_ARG;
        if (st == SPK_OK && i == 0) {
            st = spk_merge_when_matched_delete(m, spk_eq(spk_col("sr.g"), spk_lit_i32(0)));
            if (st == SPK_OK)
                st = spk_merge_when_matched_update(m, NULL, 2, (const char *[]){"s", "g"},
                                                   (spk_expr *[]){spk_col("sr.s"), spk_add(spk_col("tg.g"), spk_col("sr.g"))});
            if (st == SPK_OK)
                st = spk_merge_when_not_matched_insert(m, spk_gt(spk_col("sr.id"), spk_lit_i64(4)), 2, (const char *[]){"id", "s"},
                                                       (spk_expr *[]){spk_col("sr.id"), spk_col("sr.s")});
        } else if (st == SPK_OK && i == 1) {
            st = spk_merge_when_matched_update_all(m, spk_is_not_null(spk_col("sr.s")));
            if (st == SPK_OK) st = spk_merge_when_not_matched_insert_all(m, NULL);
        } else if (st == SPK_OK) {
            st = spk_merge_when_matched_delete(m, NULL);
        }
        if (st == SPK_OK) st = spk_txn_merge(t, m);
        spk_merge_free(m);
        txn_seed(merges[i], t, st);
    }

    /* Every kind in one transaction, across tables. */
    t = begin(s);
    if (t) {
        spk_status st = write_fixture(t, s, "t", "id:bigint,g:int\n10,1\n");
        if (st == SPK_OK) st = spk_txn_delete(t, "other.u", spk_eq(spk_col("k"), spk_lit_i32(1)));
        if (st == SPK_OK)
            st = spk_txn_update(t, "t", 1, (const char *[]){"s"}, (spk_expr *[]){spk_call("concat", 2, spk_col("s"), spk_lit_str("!"))},
                                spk_is_not_null(spk_col("s")));
        spk_merge *m = spk_merge_into("other.u", "u", src, "sr", spk_eq(spk_col("u.k"), spk_col("sr.g")));
        if (st == SPK_OK && m) st = spk_merge_when_not_matched_insert_all(m, spk_lit_bool(true));
        if (st == SPK_OK) st = m ? spk_txn_merge(t, m) : SPK_ERR_ARG;
        spk_merge_free(m);
        txn_seed("mixed", t, st);
    }
    spk_df_release(src);
    spk_session_stop(s);
    gen_txn_docs();
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus DIR\n");
        return 2;
    }
    outdir = argv[1];
    const char *subs[3] = {"expr", "scan_task", "txn_json"};
    char path[1024];
    mkdir(outdir, 0777);
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", outdir, subs[i]);
        mkdir(path, 0777);
    }
    if (fuzz_register_udfs() != 0) failed("udf", "register", "fz_scale, fz_total");
    gen_txns();
    gen_exprs();
    gen_tasks();
    printf("gen_corpus: %d expr, %d scan_task, %d txn_json seeds in %s\n", counts[0], counts[1], counts[2], outdir);
    return failures ? 1 : 0;
}
