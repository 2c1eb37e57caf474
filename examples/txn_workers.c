/* txn_workers.c — seed 004's pattern: fan work out, commit once.
 * A driver fixes the state of `squares` with a snapshot and begins a
 * transaction. Four workers each scan one shard of that snapshot, write
 * their rows in a transaction of their own, take() the operations and hand
 * them back as JSON text (what would cross a network). The driver decodes
 * them, include()s them and commits once: every row appears at one asof,
 * and the snapshot still reads the state before. */
#define SPARKLESS_IMPLEMENTATION
#include "../sparkless.h"

#include <threads.h>

#define WORKERS 4

typedef struct worker {
    spk_session *root;
    spk_scan *scan;         /* the driver's scan: shared, read-only */
    const spk_shard *shard; /* this worker's part of it */
    char *json;             /* its operations, for the driver */
    spk_status status;
} worker;

static int work(void *p) {
    worker *w = (worker *)p;
    spk_session *mine = NULL;
    spk_txn *txn = NULL;
    spk_txn_ops *ops = NULL;
    spk_df *part = NULL, *squares = NULL;
    spk_status st = spk_session_new_session(w->root, &mine);
    if (st == SPK_OK && !(part = spk_scan_df(w->scan, mine, w->shard))) st = spk_last_status();
    if (st == SPK_OK && !(squares = spk_df_select_expr(part, 2, "key + 100 AS key", "(key + 100) * (key + 100) AS square")))
        st = spk_last_status();
    if (st == SPK_OK) st = spk_txn_begin(mine, &txn);
    if (st == SPK_OK) st = spk_txn_write(txn, "squares", squares);
    if (st == SPK_OK) st = spk_txn_take(txn, &ops);
    if (st == SPK_OK) st = spk_txn_ops_to_json(ops, &w->json);
    w->status = st;
    spk_txn_ops_free(ops);
    spk_txn_free(txn);
    spk_df_release(squares);
    spk_df_release(part);
    spk_session_stop(mine);
    return 0;
}

static int fail(const char *what) {
    fprintf(stderr, "%s: %s\n", what, spk_last_error());
    return 1;
}

int main(void) {
    spk_session *s = NULL;
    spk_builder *b = NULL;
    if (spk_builder_new(&b) != SPK_OK || spk_builder_create(b, &s) != SPK_OK) return fail("session");
    spk_builder_free(b);
    spk_df *first = spk_df_from_fixture(s, "key:bigint,square:bigint\n0,0\n1,1\n2,4\n3,9\n4,16\n5,25\n6,36\n7,49\n");
    if (spk_catalog_save_as_table(s, first, "squares", NULL) != SPK_OK) return fail("save");
    spk_df_release(first);

    /* The driver: a snapshot, a scan of it cut into shards, a transaction begun before the workers. */
    spk_snapshot *before = NULL;
    spk_scan *scan = NULL;
    spk_shards *shards = NULL;
    spk_txn *txn = NULL;
    const char *key[] = {"key"};
    if (spk_snapshot_new(s, "squares", &before) != SPK_OK) return fail("snapshot");
    if (spk_scan_new(s, "squares", spk_snapshot_asof(before), &scan) != SPK_OK) return fail("scan");
    if (spk_scan_compute_shards(scan, WORKERS, key, 1, &shards) != SPK_OK) return fail("shards");
    if (spk_txn_begin(s, &txn) != SPK_OK) return fail("begin");

    int n = spk_shards_count(shards);
    worker w[WORKERS];
    thrd_t threads[WORKERS];
    for (int i = 0; i < n; i++) {
        char text[96];
        spk_shard_describe(spk_shards_get(shards, i), text, sizeof text);
        printf("worker %d takes %s\n", i, text);
        w[i] = (worker){s, scan, spk_shards_get(shards, i), NULL, SPK_OK};
        if (thrd_create(&threads[i], work, &w[i]) != thrd_success) return 1;
    }
    for (int i = 0; i < n; i++) thrd_join(threads[i], NULL);

    /* Back on the driver: decode, include, commit once. */
    for (int i = 0; i < n; i++) {
        spk_txn_ops *ops = NULL;
        if (w[i].status != SPK_OK) return fail("worker");
        if (spk_txn_ops_from_json(w[i].json, strlen(w[i].json), &ops) != SPK_OK) return fail("decode");
        if (spk_txn_include(txn, ops) != SPK_OK) return fail("include");
        spk_txn_ops_free(ops);
        spk_string_free(w[i].json);
    }
    uint64_t asof = 0;
    if (spk_txn_commit(txn, &asof, NULL) != SPK_OK) return fail("commit");
    printf("committed at asof %llu (the snapshot is asof %llu)\n", (unsigned long long)asof,
           (unsigned long long)spk_snapshot_asof(before));

    spk_df *old = spk_session_table_asof(s, "squares", spk_snapshot_asof(before));
    spk_df *now = spk_session_table(s, "squares");
    int64_t n_old = 0, n_now = 0;
    spk_df_count(old, &n_old);
    spk_df_count(now, &n_now);
    printf("rows at the snapshot: %lld; rows now: %lld\n", (long long)n_old, (long long)n_now);
    spk_df *sorted = spk_df_order_by(now, 1, spk_col("key"));
    spk_df_show(sorted, 20, 20, false, stdout);

    spk_df_release(sorted);
    spk_df_release(now);
    spk_df_release(old);
    spk_txn_free(txn);
    spk_shards_free(shards);
    spk_scan_free(scan);
    spk_snapshot_free(before);
    spk_session_stop(s);
    return n_old == 8 && n_now == 16 ? 0 : 1;
}
