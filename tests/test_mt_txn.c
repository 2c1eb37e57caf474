/* Snapshots and transactions under threads, on the memory and the file
 * backend (runs under TSan in make test):
 *   S4 (seed 004): a driver begins a transaction on `squares`; 4 workers,
 *     each in its own session, write their rows in their own transactions,
 *     take() them and encode them as JSON; the driver decodes, include()s
 *     and commits once. A reader at the old asof sees none of the rows, a
 *     reader after sees all; a corrupted worker document refuses the
 *     commit and nothing is written.
 *   Scans at fixed asofs while commits go on: 2 writer threads commit
 *     appends and merges to their own tables; 8 reader threads take
 *     snapshots and scan them again and again (whole, and shard by shard);
 *     every scan's row count and checksum must be those of the version its
 *     asof names, as the writer recorded them.
 *   SPK_TXN_RUNS=n      repeat S4 n times per backend (default 2)
 *   SPK_TXN_SECONDS=s   length of the scan scenario (default 1)
 *   SPK_TXN_SCAN_RUNS=n repeat the scan scenario n times per backend (default 1)
 *   SPK_TXN_BACKEND=b   only "memory" or only "file" (default both) */
#include "test.h"
#include "test_threads.h"
#include <dirent.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

static int env_int(const char *name, int fallback) {
    const char *env = getenv(name);
    int n = env ? atoi(env) : fallback;
    return n > 0 ? n : fallback;
}

static char base_root[200];
static int base_count;

/* A root session on the backend; base receives the file backend's path. */
static spk_session *session_for(const char *backend, char *base, size_t cap) {
    spk_builder *b = NULL;
    spk_session *s = NULL;
    base[0] = 0;
    if (spk_builder_new(&b) != SPK_OK) return NULL;
    spk_builder_config(b, "spark.sparkless.threads", "2");
    if (strcmp(backend, "file") == 0) {
        if (!base_root[0]) {
            const char *tmp = getenv("TMPDIR");
            snprintf(base_root, sizeof base_root, "%s/spk_mt_txn_%ld", tmp && *tmp ? tmp : "/tmp", (long)time(NULL) ^ (long)clock());
        }
        snprintf(base, cap, "%s_%d", base_root, base_count++);
        spk_builder_config(b, "spark.sparkless.backend", "file");
        spk_builder_config(b, "spark.sparkless.backend.basePath", base);
    }
    if (spk_builder_create(b, &s) != SPK_OK) fprintf(stderr, "session: %s\n", spk_last_error());
    spk_builder_free(b);
    return s;
}

static int64_t count_rows(spk_df *df) {
    int64_t n = -1;
    if (!df || spk_df_count(df, &n) != SPK_OK) n = -1;
    spk_df_release(df);
    return n;
}

/* ------------------------------------------------------------ S4 */

#define WORKERS 4
#define ROWS_PER_WORKER 250

typedef struct s4_worker {
    spk_session *root;
    int index;
    char *json; /* the worker's operations; spk_string_free */
    spk_status status;
} s4_worker;

/* What a worker on another node does: its own session, its own
 * transaction, rows for its index, take(), to JSON. */
static int s4_work(void *p) {
    s4_worker *w = (s4_worker *)p;
    spk_session *s = NULL;
    spk_txn *t = NULL;
    spk_txn_ops *ops = NULL;
    spk_status st = spk_session_new_session(w->root, &s);
    if (st == SPK_OK) st = spk_txn_begin(s, &t);
    spk_df *keys = st == SPK_OK ? spk_df_range(s, (int64_t)w->index * ROWS_PER_WORKER, (int64_t)(w->index + 1) * ROWS_PER_WORKER, 1)
                                : NULL;
    spk_df *rows = keys ? spk_df_select_expr(keys, 2, "id AS key", "id * id AS square") : NULL;
    if (st == SPK_OK && !rows) st = spk_last_status();
    if (st == SPK_OK) st = spk_txn_write(t, "squares", rows);
    if (st == SPK_OK) st = spk_txn_take(t, &ops);
    if (st == SPK_OK) st = spk_txn_ops_to_json(ops, &w->json);
    if (st != SPK_OK) fprintf(stderr, "worker %d: %s\n", w->index, spk_last_error());
    w->status = st;
    spk_txn_ops_free(ops);
    spk_df_release(rows);
    spk_df_release(keys);
    spk_txn_free(t);
    spk_session_stop(s);
    return 0;
}

/* One S4 run; corrupt: 0 none, 1 a worker's JSON is cut short, 2 a value in
 * it no longer fits the schema. */
static void s4_run(const char *backend, int corrupt) {
    char base[256];
    spk_session *s = session_for(backend, base, sizeof base);
    CHECK(s != NULL);
    if (!s) return;
    spk_df *empty = spk_df_from_fixture(s, "key:bigint,square:bigint\n");
    CHECK_OK(spk_catalog_save_as_table(s, empty, "squares", NULL));
    spk_df_release(empty);
    spk_snapshot *before = NULL;
    CHECK_OK(spk_snapshot_new(s, "squares", &before));

    spk_txn *driver = NULL;
    CHECK_OK(spk_txn_begin(s, &driver)); /* before the workers start */
    s4_worker w[WORKERS];
    mt_thread th[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        w[i] = (s4_worker){s, i, NULL, SPK_ERR_INTERNAL};
        CHECK(mt_start(&th[i], s4_work, &w[i]));
    }
    for (int i = 0; i < WORKERS; i++) mt_join(&th[i]);
    for (int i = 0; i < WORKERS; i++) CHECK_OK(w[i].status);
    if (corrupt == 1 && w[2].json) w[2].json[strlen(w[2].json) / 2] = 0;
    if (corrupt == 2 && w[1].json) {
        char *at = strstr(w[1].json, "[250, 62500]");
        CHECK(at != NULL);
        if (at) memcpy(at, "[250, \"62\"] ", 12);
    }
    spk_status st = SPK_OK;
    for (int i = 0; i < WORKERS && st == SPK_OK; i++) {
        spk_txn_ops *ops = NULL;
        st = w[i].json ? spk_txn_ops_from_json(w[i].json, strlen(w[i].json), &ops) : SPK_ERR_INTERNAL;
        if (st == SPK_OK) st = spk_txn_include(driver, ops);
        spk_txn_ops_free(ops);
    }
    if (corrupt) {
        CHECK_EQ_INT(st, SPK_ERR_PARSE);
        CHECK_CONTAINS(spk_last_error(), "transaction operations");
        spk_txn_rollback(driver); /* the driver refuses to commit a partial set */
    } else {
        CHECK_OK(st);
        uint64_t asof = 0;
        CHECK_OK(spk_txn_commit(driver, &asof, NULL));
        CHECK(asof > spk_snapshot_asof(before));
    }
    spk_txn_free(driver);
    for (int i = 0; i < WORKERS; i++) spk_string_free(w[i].json);

    /* The old asof sees none of the rows; the latest all, or none after a refusal. */
    CHECK_EQ_INT(count_rows(spk_session_table_asof(s, "squares", spk_snapshot_asof(before))), 0);
    int64_t expect = corrupt ? 0 : WORKERS * ROWS_PER_WORKER;
    CHECK_EQ_INT(count_rows(spk_session_table(s, "squares")), expect);
    spk_df *t = spk_session_table(s, "squares");
    spk_df *bad = t ? spk_df_where(t, "square != key * key") : NULL;
    CHECK_EQ_INT(count_rows(bad), 0);
    spk_df_release(t);
    spk_snapshot_free(before);
    spk_session_stop(s);
    /* On the file backend the commit is durable: a new session reads it. */
    if (base[0]) {
        spk_builder *b = NULL;
        spk_session *again = NULL;
        CHECK_OK(spk_builder_new(&b));
        spk_builder_config(b, "spark.sparkless.backend", "file");
        spk_builder_config(b, "spark.sparkless.backend.basePath", base);
        CHECK_OK(spk_builder_create(b, &again));
        spk_builder_free(b);
        CHECK_EQ_INT(count_rows(spk_session_table(again, "squares")), expect);
        spk_session_stop(again);
        rm_tree(base);
    }
}

static void test_s4(const char *backend) {
    int n = env_int("SPK_TXN_RUNS", 2);
    for (int r = 0; r < n; r++) s4_run(backend, 0);
    s4_run(backend, 1);
    s4_run(backend, 2);
}
static void test_s4_memory(void) { test_s4("memory"); }
static void test_s4_file(void) { test_s4("file"); }

/* ------------------------------------------------------------ scans at fixed asofs while commits go on */

#define WRITERS 2
#define READERS 8
#define KEYS (1 << 18)
#define LOG_MAX 100000

/* What a version holds, as the writer that committed it knows it: a slot
 * is claimed with `n`, filled, then published with `ready`. */
typedef struct version_log {
    atomic_int n;
    struct {
        atomic_bool ready;
        int writer;
        uint64_t asof;
        int64_t rows;
        int64_t checksum;
    } e[LOG_MAX];
} version_log;

typedef struct scan_world {
    spk_session *root;
    atomic_bool stop;
    version_log *log;
    atomic_long scans, commits, failures;
} scan_world;

static int64_t row_hash(int64_t k, int64_t v) { return (k * 1000003) ^ (v * 7919); }

static bool log_find(version_log *log, int writer, uint64_t asof, int64_t *rows, int64_t *sum) {
    int n = atomic_load(&log->n);
    for (int i = (n < LOG_MAX ? n : LOG_MAX) - 1; i >= 0; i--)
        if (atomic_load(&log->e[i].ready) && log->e[i].writer == writer && log->e[i].asof == asof) {
            *rows = log->e[i].rows;
            *sum = log->e[i].checksum;
            return true;
        }
    return false;
}

typedef struct writer_arg {
    scan_world *w;
    int index;
} writer_arg;

/* The only writer of table w<index>: it keeps a model of the table (value
 * per key, -1 absent) and logs each committed version's count and checksum. */
static int writer_main(void *p) {
    writer_arg *a = (writer_arg *)p;
    scan_world *w = a->w;
    spk_session *s = NULL;
    char table[16];
    snprintf(table, sizeof table, "w%d", a->index);
    int64_t *model = (int64_t *)malloc(KEYS * sizeof *model);
    for (int k = 0; k < KEYS; k++) model[k] = -1;
    int next_key = 0;
    int64_t rows = 0, sum = 0; /* of the model, kept as it changes */
    uint64_t seed = 0x9E3779B97F4A7C15ull * (uint64_t)(a->index + 1);
    if (spk_session_new_session(w->root, &s) != SPK_OK) atomic_fetch_add(&w->failures, 1);
    for (int round = 0; s && !atomic_load(&w->stop) && next_key < KEYS - 64; round++) {
        spk_txn *t = NULL;
        spk_status st = spk_txn_begin(s, &t);
        char fixture[4096];
        int used = snprintf(fixture, sizeof fixture, "k:bigint,v:bigint\n");
        if (round % 3 != 2) { /* append 32 new keys */
            for (int i = 0; i < 32; i++, next_key++) {
                used += snprintf(fixture + used, sizeof fixture - (size_t)used, "%d,%d\n", next_key, round);
                model[next_key] = round;
                rows++;
                sum += row_hash(next_key, round);
            }
            spk_df *df = spk_df_from_fixture(s, fixture);
            if (st == SPK_OK) st = df ? spk_txn_write(t, table, df) : spk_last_status();
            spk_df_release(df);
        } else { /* merge: update 16 existing keys, insert 4 new */
            for (int i = 0; i < 16; i++) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                int k = (int)((seed >> 33) % (uint64_t)next_key);
                char line[64];
                snprintf(line, sizeof line, "\n%d,", k);
                if (strstr(fixture, line)) continue; /* one source row per key */
                used += snprintf(fixture + used, sizeof fixture - (size_t)used, "%d,%d\n", k, 100000 + round);
                sum += row_hash(k, 100000 + round) - row_hash(k, model[k]);
                model[k] = 100000 + round;
            }
            for (int i = 0; i < 4; i++, next_key++) {
                used += snprintf(fixture + used, sizeof fixture - (size_t)used, "%d,%d\n", next_key, round);
                model[next_key] = round;
                rows++;
                sum += row_hash(next_key, round);
            }
            spk_df *src = spk_df_from_fixture(s, fixture);
            spk_merge *m = src ? spk_merge_into(table, "t", src, "s", spk_eq(spk_col("t.k"), spk_col("s.k"))) : NULL;
            if (m) {
                if (spk_merge_when_matched_update_all(m, NULL) != SPK_OK) st = spk_last_status();
                if (spk_merge_when_not_matched_insert_all(m, NULL) != SPK_OK) st = spk_last_status();
            }
            if (st == SPK_OK) st = m ? spk_txn_merge(t, m) : spk_last_status();
            spk_merge_free(m);
            spk_df_release(src);
        }
        uint64_t asof = 0;
        if (st == SPK_OK) st = spk_txn_commit(t, &asof, NULL);
        spk_txn_free(t);
        if (st != SPK_OK) {
            fprintf(stderr, "writer %d: %s\n", a->index, spk_last_error());
            atomic_fetch_add(&w->failures, 1);
            break;
        }
        int i = atomic_fetch_add(&w->log->n, 1);
        if (i < LOG_MAX) {
            w->log->e[i].writer = a->index;
            w->log->e[i].asof = asof;
            w->log->e[i].rows = rows;
            w->log->e[i].checksum = sum;
            atomic_store(&w->log->e[i].ready, true);
        }
        atomic_fetch_add(&w->commits, 1);
    }
    free(model);
    spk_session_stop(s);
    return 0;
}

/* Count and checksum of a DataFrame over (k, v); consumes df. */
static bool df_digest(spk_df *df, int64_t *rows, int64_t *sum) {
    spk_table *t = NULL;
    bool ok = df && spk_df_collect(df, &t) == SPK_OK;
    spk_df_release(df);
    *rows = 0;
    *sum = 0;
    for (size_t r = 0; ok && r < spk_table_nrows(t); r++) {
        spk_value k, v;
        ok = spk_table_get(t, r, 0, &k) == SPK_OK && spk_table_get(t, r, 1, &v) == SPK_OK;
        if (ok) {
            (*rows)++;
            *sum += row_hash(k.as.i64, v.as.i64);
        }
    }
    spk_table_free(t);
    return ok;
}

typedef struct reader_arg {
    scan_world *w;
    int index;
} reader_arg;

static int reader_main(void *p) {
    reader_arg *a = (reader_arg *)p;
    scan_world *w = a->w;
    spk_session *s = NULL;
    if (spk_session_new_session(w->root, &s) != SPK_OK) {
        atomic_fetch_add(&w->failures, 1);
        return 0;
    }
    int writer = a->index % WRITERS;
    char table[16];
    snprintf(table, sizeof table, "w%d", writer);
    while (!atomic_load(&w->stop)) {
        spk_snapshot *snap = NULL;
        if (spk_snapshot_new(s, table, &snap) != SPK_OK) {
            if (spk_last_status() != SPK_ERR_NOT_FOUND) atomic_fetch_add(&w->failures, 1); /* not created yet */
            continue;
        }
        uint64_t asof = spk_snapshot_asof(snap);
        int64_t want_rows = 0, want_sum = 0;
        /* The writer logs a version just after committing it. */
        for (int spin = 0; !log_find(w->log, writer, asof, &want_rows, &want_sum) && spin < 1000000; spin++) thrd_yield();
        for (int again = 0; again < 3; again++) {
            int64_t rows = 0, sum = 0;
            bool ok = df_digest(spk_session_table_asof(s, table, asof), &rows, &sum);
            /* The same version, shard by shard. */
            spk_scan *sc = NULL;
            spk_shards *set = NULL;
            const char *keys[] = {"k"};
            int64_t srows = 0, ssum = 0;
            ok = ok && spk_scan_new(s, table, asof, &sc) == SPK_OK && spk_scan_compute_shards(sc, 5, keys, 1, &set) == SPK_OK;
            for (int i = 0; ok && i < spk_shards_count(set); i++) {
                int64_t r1 = 0, s1 = 0;
                ok = df_digest(spk_scan_df(sc, s, spk_shards_get(set, i)), &r1, &s1);
                srows += r1;
                ssum += s1;
            }
            spk_shards_free(set);
            spk_scan_free(sc);
            if (!ok || rows != want_rows || sum != want_sum || srows != want_rows || ssum != want_sum) {
                fprintf(stderr, "reader %d: %s at asof %llu: %lld rows (shards %lld), want %lld; %s\n", a->index, table,
                        (unsigned long long)asof, (long long)rows, (long long)srows, (long long)want_rows,
                        ok ? "checksum or count differs" : spk_last_error());
                atomic_fetch_add(&w->failures, 1);
            }
            atomic_fetch_add(&w->scans, 1);
        }
        spk_snapshot_free(snap);
    }
    spk_session_stop(s);
    return 0;
}

static void scan_scenario(const char *backend) {
    char base[256];
    scan_world w;
    memset(&w, 0, sizeof w);
    w.log = (version_log *)calloc(1, sizeof *w.log);
    CHECK(w.log != NULL);
    w.root = session_for(backend, base, sizeof base);
    CHECK(w.root != NULL);
    if (!w.root || !w.log) return;
    atomic_init(&w.stop, false);
    mt_thread wt[WRITERS], rt[READERS];
    writer_arg wa[WRITERS];
    reader_arg ra[READERS];
    for (int i = 0; i < WRITERS; i++) {
        wa[i] = (writer_arg){&w, i};
        CHECK(mt_start(&wt[i], writer_main, &wa[i]));
    }
    for (int i = 0; i < READERS; i++) {
        ra[i] = (reader_arg){&w, i};
        CHECK(mt_start(&rt[i], reader_main, &ra[i]));
    }
    struct timespec pause = {env_int("SPK_TXN_SECONDS", 1), 0};
    thrd_sleep(&pause, NULL);
    atomic_store(&w.stop, true);
    for (int i = 0; i < WRITERS; i++) mt_join(&wt[i]);
    for (int i = 0; i < READERS; i++) mt_join(&rt[i]);
    printf("  %s: %ld commits, %ld scans checked, %ld failures\n", backend, atomic_load(&w.commits), atomic_load(&w.scans),
           atomic_load(&w.failures));
    CHECK_EQ_INT(atomic_load(&w.failures), 0);
    CHECK(atomic_load(&w.commits) >= 2);
    CHECK(atomic_load(&w.scans) >= READERS);
    spk_session_stop(w.root);
    free(w.log);
    if (base[0]) rm_tree(base);
}

static void test_scans_memory(void) {
    for (int r = env_int("SPK_TXN_SCAN_RUNS", 1); r > 0; r--) scan_scenario("memory");
}
static void test_scans_file(void) {
    for (int r = env_int("SPK_TXN_SCAN_RUNS", 1); r > 0; r--) scan_scenario("file");
}

static bool backend_wanted(const char *name) {
    const char *only = getenv("SPK_TXN_BACKEND");
    return !only || !*only || strcmp(only, name) == 0;
}

int main(void) {
    if (backend_wanted("memory")) {
        RUN(test_s4_memory);
        RUN(test_scans_memory);
    }
    if (backend_wanted("file")) {
        RUN(test_s4_file);
        RUN(test_scans_file);
    }
    return TEST_REPORT();
}
