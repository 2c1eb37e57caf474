/* distribute.c — seeds 003 and 004 together: ship work as bytes, run it
 * where the functions live, commit the results once.
 *
 * The driver owns `orders` (id, customer, cents). It fixes the table's state
 * with a snapshot, scans that state with a predicate that calls a C UDF,
 * cuts the scan into customer ranges and encodes one scan task per range:
 * bytes that could cross a network. A C function cannot travel in bytes, so
 * the task names the UDF (name and signature) and each worker resolves it in
 * its own worker context, a registry it set up itself. Each worker totals
 * its customers' fees, writes those rows in a transaction of its own,
 * take()s the operations and hands them back as JSON. The driver include()s
 * them into one transaction begun before the workers and commits once, then
 * checks `fees` against the same computation done locally. */
#define SPARKLESS_IMPLEMENTATION
#include "../sparkless.h"

#define ORDERS 3000
#define CUSTOMERS 12
#define WORKERS 4

/* fee(cents BIGINT) -> BIGINT: 2.9% plus 30 cents, in whole cents. Pure
 * and deterministic, as a UDF run on many threads and machines must be. */
static spk_status fee_fn(void *user, const spk_value *args, int nargs, spk_value *result) {
    (void)user;
    (void)nargs;
    *result = args[0].is_null ? spk_value_null_of(spk_type_of(SPK_TYPE_INT64)) : spk_value_i64(30 + args[0].as.i64 * 29 / 1000);
    return SPK_OK;
}

/* Every process (and here every worker) defines fee itself. */
static spk_udf *make_fee(void) {
    spk_type arg = spk_type_of(SPK_TYPE_INT64);
    spk_udf *u = NULL;
    return spk_udf_scalar("fee", &arg, 1, spk_type_of(SPK_TYPE_INT64), fee_fn, NULL, &u) == SPK_OK ? u : NULL;
}

/* Per customer: the orders and the sum of their fees. fee() is found by
 * name when the DataFrame is built: in the session's registry, then the
 * thread's worker context. */
static spk_df *fees_per_customer(spk_df *orders) {
    spk_expr *key = spk_col("customer"), *aggs[2] = {NULL, NULL};
    if (spk_expr_parse("count(*) AS orders", &aggs[0]) != SPK_OK || spk_expr_parse("sum(fee(cents)) AS fees", &aggs[1]) != SPK_OK) {
        spk_expr_release(key);
        spk_expr_release(aggs[0]);
        return NULL;
    }
    return spk_df_group_agg(orders, &key, 1, aggs, 2);
}

typedef struct worker {
    spk_session *root; /* for a session of its own on the same catalog */
    spk_bytes task;    /* its scan task, as the driver encoded it */
    char *json;        /* its operations, for the driver */
    spk_status status;
    char error[256];
} worker;

/* A worker: a task on a pool thread, standing in for a machine. */
static void work(void *p) {
    worker *w = (worker *)p;
    spk_udf_registry *ctx = NULL;
    spk_udf *fee = make_fee();
    spk_scan_task *task = NULL;
    spk_session *mine = NULL;
    spk_df *part = NULL, *totals = NULL;
    spk_txn *txn = NULL;
    spk_txn_ops *ops = NULL;

    /* This thread's worker context: the only place fee resolves here. */
    spk_status st = fee ? spk_udf_registry_new(&ctx) : spk_last_status();
    if (st == SPK_OK) st = spk_udf_register(ctx, fee);
    if (st == SPK_OK) spk_set_worker_ctx(ctx);

    /* Decode the task (its predicate's fee resolves in the context) and run it. */
    if (st == SPK_OK) st = spk_scan_task_decode(w->task.data, w->task.len, NULL, &task);
    if (st == SPK_OK) st = spk_session_new_session(w->root, &mine);
    if (st == SPK_OK && !(part = spk_scan_task_run(task, mine))) st = spk_last_status();
    if (st == SPK_OK && !(totals = fees_per_customer(part))) st = spk_last_status();

    /* The rows go into the worker's own transaction, taken as JSON. */
    if (st == SPK_OK) st = spk_txn_begin(mine, &txn);
    if (st == SPK_OK) st = spk_txn_write(txn, "fees", totals);
    if (st == SPK_OK) st = spk_txn_take(txn, &ops);
    if (st == SPK_OK) st = spk_txn_ops_to_json(ops, &w->json);
    if (st != SPK_OK) snprintf(w->error, sizeof w->error, "%.255s", spk_last_error());
    w->status = st;

    spk_txn_ops_free(ops);
    spk_txn_free(txn);
    spk_df_release(totals);
    spk_df_release(part);
    spk_session_stop(mine);
    spk_scan_task_free(task);
    spk_clear_worker_ctx();
    spk_udf_registry_release(ctx);
    spk_udf_release(fee);
}

static int fail(const char *what) {
    fprintf(stderr, "%s: %s\n", what, spk_last_error());
    return 1;
}

/* `orders`: ORDERS rows of (id, customer "c00".."c11", cents 1..20000). */
static spk_status save_orders(spk_session *s) {
    static spk_value rows[ORDERS * 3];
    static char names[CUSTOMERS][16];
    spk_schema *schema = NULL;
    spk_status st = spk_schema_parse(NULL, "id BIGINT, customer STRING, cents BIGINT", &schema);
    for (int c = 0; c < CUSTOMERS; c++) snprintf(names[c], sizeof names[c], "c%02d", c);
    for (int i = 0; i < ORDERS; i++) {
        rows[i * 3 + 0] = spk_value_i64(i);
        rows[i * 3 + 1] = spk_value_str(names[(i * 7) % CUSTOMERS]);
        rows[i * 3 + 2] = spk_value_i64((int64_t)i * 7919 % 20000 + 1);
    }
    spk_df *df = st == SPK_OK ? spk_df_from_rows(s, schema, rows, ORDERS) : NULL;
    if (st == SPK_OK) st = df ? spk_catalog_save_as_table(s, df, "orders", NULL) : spk_last_status();
    spk_df_release(df);
    spk_schema_release(schema);
    return st;
}

int main(void) {
    spk_session *s = NULL;
    spk_builder *b = NULL;
    if (spk_builder_new(&b) != SPK_OK || spk_builder_create(b, &s) != SPK_OK) return fail("session");
    spk_builder_free(b);
    if (save_orders(s) != SPK_OK) return fail("orders");
    spk_udf *fee = make_fee();
    if (!fee || spk_udf_register(spk_session_udfs(s), fee) != SPK_OK) return fail("fee"); /* for the local check */

    /* The driver: a snapshot; a scan of it keeping orders whose fee is at
     * least a dollar; customer ranges; a transaction begun before the workers. */
    spk_snapshot *snap = NULL;
    spk_scan *scan = NULL;
    spk_shards *shards = NULL;
    spk_txn *txn = NULL;
    const char *key[] = {"customer"};
    if (spk_snapshot_new(s, "orders", &snap) != SPK_OK) return fail("snapshot");
    if (spk_scan_new(s, "orders", spk_snapshot_asof(snap), &scan) != SPK_OK) return fail("scan");
    if (spk_scan_where(scan, spk_ge(spk_udf_call(fee, 1, spk_col("cents")), spk_lit_i64(100))) != SPK_OK) return fail("where");
    if (spk_scan_compute_shards(scan, WORKERS, key, 1, &shards) != SPK_OK) return fail("shards");
    if (spk_txn_begin(s, &txn) != SPK_OK) return fail("begin");

    /* One task per shard, as bytes; one worker per task. */
    int n = spk_shards_count(shards);
    worker w[WORKERS];
    spk_pool *pool = NULL;
    if (spk_pool_new(NULL, WORKERS, 0, &pool) != SPK_OK) return fail("pool");
    for (int i = 0; i < n; i++) {
        char text[96];
        w[i] = (worker){s, {NULL, 0}, NULL, SPK_OK, ""};
        if (spk_scan_task_encode(scan, spk_shards_get(shards, i), &w[i].task) != SPK_OK) return fail("encode");
        spk_shard_describe(spk_shards_get(shards, i), text, sizeof text);
        printf("worker %d: %s, a task of %zu bytes\n", i, text, w[i].task.len);
    }
    for (int i = 0; i < n; i++)
        if (spk_pool_submit(pool, work, &w[i]) != SPK_OK) return fail("submit");
    spk_pool_wait(pool);
    spk_pool_free(pool);

    /* Back on the driver: decode each worker's operations, include, commit once. */
    for (int i = 0; i < n; i++) {
        spk_txn_ops *ops = NULL;
        if (w[i].status != SPK_OK) {
            fprintf(stderr, "worker %d: %s\n", i, w[i].error);
            return 1;
        }
        if (spk_txn_ops_from_json(w[i].json, strlen(w[i].json), &ops) != SPK_OK) return fail("decode");
        if (spk_txn_include(txn, ops) != SPK_OK) return fail("include");
        spk_txn_ops_free(ops);
        spk_string_free(w[i].json);
        spk_bytes_free(&w[i].task);
    }
    uint64_t asof = 0;
    if (spk_txn_commit(txn, &asof, NULL) != SPK_OK) return fail("commit");
    printf("committed at asof %llu (orders read at asof %llu)\n", (unsigned long long)asof,
           (unsigned long long)spk_snapshot_asof(snap));

    /* The result, and the same computed on the driver from the snapshot. */
    spk_df *fees = spk_session_table(s, "fees");
    spk_df *got = spk_df_order_by(fees, 1, spk_col("customer"));
    spk_df *orders = spk_session_table_asof(s, "orders", spk_snapshot_asof(snap));
    spk_df *kept = spk_df_filter(orders, spk_ge(spk_udf_call(fee, 1, spk_col("cents")), spk_lit_i64(100)));
    spk_df *local = fees_per_customer(kept);
    spk_df *want = spk_df_order_by(local, 1, spk_col("customer"));
    char *got_text = NULL, *want_text = NULL;
    if (spk_df_show_string(got, CUSTOMERS, 20, false, &got_text) != SPK_OK) return fail("show");
    if (spk_df_show_string(want, CUSTOMERS, 20, false, &want_text) != SPK_OK) return fail("local");
    fputs(got_text, stdout);
    int64_t customers = 0;
    spk_df_count(fees, &customers);
    bool same = strcmp(got_text, want_text) == 0 && customers == CUSTOMERS;
    printf("%s\n", same ? "fees matches the driver's own computation" : "MISMATCH: the driver computes");
    if (!same) fputs(want_text, stdout);

    spk_string_free(got_text);
    spk_string_free(want_text);
    spk_df_release(want);
    spk_df_release(local);
    spk_df_release(kept);
    spk_df_release(orders);
    spk_df_release(got);
    spk_df_release(fees);
    spk_txn_free(txn);
    spk_shards_free(shards);
    spk_scan_free(scan);
    spk_snapshot_free(snap);
    spk_udf_release(fee);
    spk_session_stop(s);
    return same ? 0 : 1;
}
