/* txn: snapshots (a table state fixed by its asof), scans split into
 * shards, and transactions whose operations travel as JSON and commit
 * atomically across tables. Snapshots, scans and shard sets may be used
 * from any number of threads at once; a transaction by one thread at a
 * time (give each worker its own, and combine them with take/include). */

/* ---------------------------------------------------------------- snapshots
 * Every committed write to a saved table — saveAsTable, insertInto, a
 * transaction — makes a new version stamped with the backend's commit
 * counter, its asof: larger for every later commit, and shared by the
 * tables one transaction commits together. A table read at asof A gives
 * the version that was current just after commit A, while later commits go
 * on. Versions stay readable while a snapshot or a scan holds them; the
 * rest are freed as they are replaced. (Backends without snapshots, i.e.
 * user backends that leave the optional operations NULL: SPK_ERR_UNSUPPORTED.) */

typedef struct spk_snapshot spk_snapshot;
/* table.snapshot(): holds the table's current version until freed. */
SPKDEF spk_status spk_snapshot_new(spk_session *s, const char *table, spk_snapshot **out);
SPKDEF uint64_t spk_snapshot_asof(const spk_snapshot *snap);
SPKDEF void spk_snapshot_free(spk_snapshot *snap); /* NULL is fine */
/* spark.read.option("asOf", ...).table(table): a DataFrame over the table
 * as of `asof` (0: the latest). An asof whose version is no longer held is
 * SPK_ERR_NOT_FOUND; one after the latest commit is SPK_ERR_ARG. NULL with
 * the error in spk_last_error(). */
SPKDEF spk_df *spk_session_table_asof(spk_session *s, const char *table, uint64_t asof);

/* ---------------------------------------------------------------- scans and shards
 * A scan is a table at an asof, an optional predicate and projection; with
 * a shard it is a self-contained task: any thread (or, shipped, any
 * worker) that has the table name, the asof, the predicate, the columns
 * and the shard reads exactly the same rows. A scan holds its version. */

typedef struct spk_scan spk_scan;
/* asof 0: the latest version (spk_scan_asof says which). */
SPKDEF spk_status spk_scan_new(spk_session *s, const char *table, uint64_t asof, spk_scan **out);
SPKDEF void spk_scan_free(spk_scan *sc); /* NULL is fine */
SPKDEF uint64_t spk_scan_asof(const spk_scan *sc);
/* where=: only rows for which predicate is true (consumed). */
SPKDEF spk_status spk_scan_where(spk_scan *sc, spk_expr *predicate);
/* The columns to return (names; n = 0: all). */
SPKDEF spk_status spk_scan_select(spk_scan *sc, const char *const *columns, int n);
/* shards(): the version's physical layout — runs of whole chunks, at most
 * max_shards of them (0: one per chunk); an empty table gives one shard. */
SPKDEF spk_status spk_scan_shards(spk_scan *sc, int max_shards, spk_shards **out);
/* compute_shards(): reads the key columns of the scan's rows (predicate
 * applied) and returns n key ranges (fewer when there are fewer distinct
 * keys; at least one) holding about equal row counts. A key value is never
 * split, so one value holding many rows makes its shard larger. */
SPKDEF spk_status spk_scan_compute_shards(spk_scan *sc, int n, const char *const *keys, int nkeys, spk_shards **out);
/* The scan's rows in shard sh (NULL: all) as a DataFrame of session s
 * (any session on the same catalog; NULL: the scan's). */
SPKDEF spk_df *spk_scan_df(spk_scan *sc, spk_session *s, const spk_shard *sh);

/* ---------------------------------------------------------------- transactions
 * txn = table.txn(): operations collect in the transaction and nothing is
 * written until spk_txn_commit, which applies all of them — across every
 * table they touch — as one atomic commit with one asof.
 *
 * Concurrency is optimistic. Writes (appends) never conflict: they land on
 * whatever version is current at commit. A delete, update or merge reads
 * the table as it is at commit; if another commit changed that table after
 * this transaction began, the commit fails with SPK_ERR_CONFLICT naming the
 * table, and nothing is written. spk_txn_run retries such a transaction.
 *
 * Worker transactions hand their operations to a driver: take() them,
 * encode them with spk_txn_ops_to_json, decode them on the driver and
 * include() them; the driver's transaction, begun before the workers',
 * commits everything once. */

typedef struct spk_txn spk_txn;
typedef struct spk_txn_ops spk_txn_ops; /* a list of operations you own */

SPKDEF spk_status spk_txn_begin(spk_session *s, spk_txn **out);
/* Frees the transaction; one not committed is rolled back. NULL is fine. */
SPKDEF void spk_txn_free(spk_txn *t);
/* txn.write(df): appends df's rows (collected now) to table, matching
 * columns by name as saveAsTable's append does; creates the table (every
 * column nullable) if it does not exist at commit. */
SPKDEF spk_status spk_txn_write(spk_txn *t, const char *table, spk_df *df);
/* The same with rows you keep (copied now). */
SPKDEF spk_status spk_txn_write_rows(spk_txn *t, const char *table, const spk_table *rows);
/* DELETE FROM table WHERE where (NULL: every row). */
SPKDEF spk_status spk_txn_delete(spk_txn *t, const char *table, spk_expr *where);
/* UPDATE table SET columns[i] = values[i] WHERE where (NULL: every row). */
SPKDEF spk_status spk_txn_update(spk_txn *t, const char *table, int n, const char *const *columns, spk_expr *const *values,
                                 spk_expr *where);
/* MERGE INTO (dml.h); the merge's source is collected now, and m stays yours. */
SPKDEF spk_status spk_txn_merge(spk_txn *t, const spk_merge *m);
/* take(): the operations so far, in order; the transaction is left empty
 * (and may collect more, or be committed or freed). */
SPKDEF spk_status spk_txn_take(spk_txn *t, spk_txn_ops **out);
/* include(): appends copies of ops' operations (taken elsewhere). */
SPKDEF spk_status spk_txn_include(spk_txn *t, const spk_txn_ops *ops);
/* Applies every operation at once. On success *asof (may be NULL) is the
 * commit's asof (or the current one, when there was nothing to do); on
 * failure nothing is written. Either way the transaction is over: later
 * calls on it are SPK_ERR_STATE. metrics (may be NULL) receives the rows
 * written (as inserted), updated, deleted and merged, summed. */
SPKDEF spk_status spk_txn_commit(spk_txn *t, uint64_t *asof, spk_dml_metrics *metrics);
/* Drops the operations and ends the transaction. */
SPKDEF void spk_txn_rollback(spk_txn *t);

/* Retries: begins a transaction, calls fn(txn, user) to fill it, commits;
 * on SPK_ERR_CONFLICT starts over, at most max_attempts times (<= 0: 10).
 * fn's own error ends it with that error. */
typedef spk_status (*spk_txn_fn)(spk_txn *t, void *user);
SPKDEF spk_status spk_txn_run(spk_session *s, int max_attempts, spk_txn_fn fn, void *user, uint64_t *asof);

/* A merge on its own: one transaction. */
SPKDEF spk_status spk_merge_execute(spk_session *s, const spk_merge *m, spk_dml_metrics *metrics);

SPKDEF int spk_txn_ops_count(const spk_txn_ops *ops);
SPKDEF void spk_txn_ops_free(spk_txn_ops *ops); /* NULL is fine */
/* Operations as a JSON document (format: TRANSACTION OPERATIONS in the
 * header's doc), NUL-terminated; free with spk_string_free. */
SPKDEF spk_status spk_txn_ops_to_json(const spk_txn_ops *ops, char **out);
/* Decodes a document from spk_txn_ops_to_json. Malformed JSON, an unknown
 * format version or operation, a bad schema or row: SPK_ERR_PARSE (or
 * SPK_ERR_VERSION) naming what and where. Tables are checked at commit. */
SPKDEF spk_status spk_txn_ops_from_json(const char *json, size_t len, spk_txn_ops **out);
