/* The catalog under threads: scenarios S1 (seed 000: many threads save
 * tables into one session's catalog, every table visible everywhere) and
 * S2 (seed 001: per-thread child sessions register the same temp view name
 * and append into their own targets), with the memory backend and the file
 * backend; a shared session's view conflict; readers racing writers on one
 * table and one view. Runs under TSan in make test.
 *   SPK_CATALOG_RUNS=n   repeat S1 and S2 n times (default 2) */
#include "test.h"
#include "test_threads.h"
#include <stdatomic.h>
#include <time.h>

#define THREADS 8

static int runs(void) {
    const char *env = getenv("SPK_CATALOG_RUNS");
    int n = env ? atoi(env) : 2;
    return n > 0 ? n : 1;
}

/* A base path for the file backend, fresh per call. */
static char base_root[200];
static int base_count;
static const char *fresh_base(char *buf, size_t cap) {
    if (!base_root[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(base_root, sizeof base_root, "%s/spk_mt_catalog_%ld", tmp && *tmp ? tmp : "/tmp", (long)time(NULL) ^ (long)clock());
    }
    snprintf(buf, cap, "%s_%d", base_root, base_count++);
    return buf;
}


static spk_session *session_for(const char *backend, char *base, size_t cap) {
    spk_builder *b = NULL;
    spk_session *s = NULL;
    if (spk_builder_new(&b) != SPK_OK) return NULL;
    spk_builder_config(b, "spark.sparkless.threads", "2");
    if (strcmp(backend, "file") == 0) {
        spk_builder_config(b, "spark.sparkless.backend", "file");
        spk_builder_config(b, "spark.sparkless.backend.basePath", fresh_base(base, cap));
    }
    if (spk_builder_create(b, &s) != SPK_OK) fprintf(stderr, "session: %s\n", spk_last_error());
    spk_builder_free(b);
    return s;
}

static bool file_backend_works(void) {
    char base[256];
    spk_session *s = session_for("file", base, sizeof base);
    spk_session_stop(s);
    rm_tree(base);
    return s != NULL;
}

/* ---------------------------------------------------------------- S1 */

#define S1_ITERATIONS 200

typedef struct s1_arg {
    spk_session *s;
    int thread;
    int failures;
} s1_arg;

/* Rows of table_{i} of thread t: (t, i, k) for k < 1 + i % 3. */
static int s1_worker(void *p) {
    s1_arg *a = (s1_arg *)p;
    char db[32], name[64], text[256];
    snprintf(db, sizeof db, "schema_%d", a->thread);
    if (spk_catalog_create_database(a->s, db, true) != SPK_OK) a->failures++;
    for (int i = 0; i < S1_ITERATIONS; i++) {
        int n = snprintf(text, sizeof text, "thread INT, i INT, k INT");
        for (int k = 0; k < 1 + i % 3; k++) n += snprintf(text + n, sizeof text - (size_t)n, "\n%d,%d,%d", a->thread, i, k);
        spk_df *df = spk_df_from_fixture(a->s, text);
        snprintf(name, sizeof name, "%s.table_%d", db, i);
        if (!df || spk_catalog_save_as_table(a->s, df, name, NULL) != SPK_OK) {
            a->failures++;
            fprintf(stderr, "save %s: %s\n", name, spk_last_error());
        }
        spk_df_release(df);
        /* visible as soon as the save returns, to this thread */
        if (!spk_catalog_table_exists(a->s, name)) a->failures++;
    }
    return 0;
}

/* Every table of every thread, read from this thread, has exactly its rows. */
typedef struct s1_check {
    spk_session *s;
    int bad;
} s1_check;

static int s1_verify(void *p) {
    s1_check *c = (s1_check *)p;
    char name[64];
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < S1_ITERATIONS; i++) {
            snprintf(name, sizeof name, "schema_%d.table_%d", t, i);
            spk_df *df = spk_session_table(c->s, name);
            spk_table *rows = NULL;
            if (!df || spk_df_collect(df, &rows) != SPK_OK || spk_table_nrows(rows) != (size_t)(1 + i % 3)) {
                c->bad++;
            } else {
                for (size_t r = 0; r < spk_table_nrows(rows); r++) {
                    spk_value v[3];
                    for (int col = 0; col < 3; col++) spk_table_get(rows, r, col, &v[col]);
                    if (v[0].as.i32 != t || v[1].as.i32 != i || v[2].as.i32 != (int)r) c->bad++;
                }
            }
            spk_table_free(rows);
            spk_df_release(df);
        }
    return 0;
}

static void run_s1(const char *backend) {
    char base[256] = "";
    spk_session *s = session_for(backend, base, sizeof base);
    CHECK(s != NULL);
    if (!s) return;
    s1_arg args[THREADS];
    mt_thread th[THREADS];
    for (int t = 0; t < THREADS; t++) {
        args[t] = (s1_arg){s, t, 0};
        CHECK(mt_start(&th[t], s1_worker, &args[t]));
    }
    for (int t = 0; t < THREADS; t++) mt_join(&th[t]);
    for (int t = 0; t < THREADS; t++) CHECK_EQ_INT(args[t].failures, 0);
    /* every table from every thread */
    s1_check checks[THREADS];
    for (int t = 0; t < THREADS; t++) {
        checks[t] = (s1_check){s, 0};
        CHECK(mt_start(&th[t], s1_verify, &checks[t]));
    }
    for (int t = 0; t < THREADS; t++) mt_join(&th[t]);
    for (int t = 0; t < THREADS; t++) CHECK_EQ_INT(checks[t].bad, 0);
    spk_names dbs = {0, NULL, NULL};
    CHECK(spk_catalog_list_databases(s, &dbs) == SPK_OK);
    CHECK_EQ_INT(dbs.n, THREADS + 1); /* and default */
    spk_names_free(&dbs);
    spk_names tables = {0, NULL, NULL};
    CHECK(spk_catalog_list_tables(s, "schema_3", &tables) == SPK_OK);
    CHECK_EQ_INT(tables.n, S1_ITERATIONS);
    spk_names_free(&tables);
    spk_session_stop(s);
    if (strcmp(backend, "file") == 0) {
        /* a new session on the same base path sees the same catalog */
        spk_builder *b = NULL;
        spk_builder_new(&b);
        spk_builder_config(b, "spark.sparkless.backend", "file");
        spk_builder_config(b, "spark.sparkless.backend.basePath", base);
        s = NULL;
        CHECK(spk_builder_create(b, &s) == SPK_OK);
        spk_builder_free(b);
        if (s) {
            s1_check c = {s, 0};
            s1_verify(&c);
            CHECK_EQ_INT(c.bad, 0);
            spk_session_stop(s);
        }
        rm_tree(base);
    }
}

static void test_s1_memory(void) {
    for (int r = 0; r < runs(); r++) run_s1("memory");
}

static void test_s1_file(void) {
    for (int r = 0; r < runs(); r++) run_s1("file");
}

/* ---------------------------------------------------------------- S2 */

typedef struct s2_arg {
    spk_session *root;
    spk_df *source;
    int entity;
    int failures;
} s2_arg;

/* The blog's pipeline, the safe way: a child session per thread. */
static int s2_worker(void *p) {
    s2_arg *a = (s2_arg *)p;
    spk_session *child = NULL;
    if (spk_session_new_session(a->root, &child) != SPK_OK) {
        a->failures++;
        return 0;
    }
    char cond[64], target[64];
    snprintf(cond, sizeof cond, "entity = %d", a->entity);
    snprintf(target, sizeof target, "target_%d", a->entity);
    spk_df *mine = spk_df_where(a->source, cond);
    if (!mine || spk_catalog_create_or_replace_temp_view(child, "temp_view", mine) != SPK_OK) a->failures++;
    spk_df_release(mine);
    /* "MERGE INTO target USING temp_view": append the view's rows */
    spk_df *view = spk_session_table(child, "temp_view");
    if (!view || spk_catalog_insert_into(child, view, target, false) != SPK_OK) {
        a->failures++;
        fprintf(stderr, "insert %s: %s\n", target, spk_last_error());
    }
    spk_df_release(view);
    spk_session_stop(child);
    return 0;
}

static void run_s2(const char *backend) {
    char base[256] = "";
    spk_session *root = session_for(backend, base, sizeof base);
    CHECK(root != NULL);
    if (!root) return;
    /* source: entity e has 10 + e rows (e, k) */
    char text[8192];
    int n = snprintf(text, sizeof text, "entity INT, k INT");
    for (int e = 0; e < THREADS; e++)
        for (int k = 0; k < 10 + e; k++) n += snprintf(text + n, sizeof text - (size_t)n, "\n%d,%d", e, k);
    spk_df *source = spk_df_from_fixture(root, text);
    CHECK(source != NULL);
    char target[64];
    for (int e = 0; e < THREADS; e++) {
        snprintf(target, sizeof target, "target_%d", e);
        spk_df *empty = spk_df_where(source, "entity < 0");
        CHECK(spk_catalog_save_as_table(root, empty, target, "overwrite") == SPK_OK);
        spk_df_release(empty);
    }
    s2_arg args[THREADS];
    mt_thread th[THREADS];
    for (int e = 0; e < THREADS; e++) {
        args[e] = (s2_arg){root, source, e, 0};
        CHECK(mt_start(&th[e], s2_worker, &args[e]));
    }
    for (int e = 0; e < THREADS; e++) mt_join(&th[e]);
    for (int e = 0; e < THREADS; e++) {
        CHECK_EQ_INT(args[e].failures, 0);
        snprintf(target, sizeof target, "target_%d", e);
        spk_df *t = spk_session_table(root, target);
        spk_table *rows = NULL;
        CHECK(t && spk_df_collect(t, &rows) == SPK_OK);
        CHECK_EQ_INT(spk_table_nrows(rows), 10 + e);
        for (size_t r = 0; r < spk_table_nrows(rows); r++) {
            spk_value v;
            spk_table_get(rows, r, 0, &v);
            CHECK_EQ_INT(v.as.i32, e); /* only its own entity's rows */
        }
        spk_table_free(rows);
        spk_df_release(t);
    }
    /* the root never saw a temp_view: each child had its own */
    CHECK(!spk_catalog_table_exists(root, "temp_view"));
    spk_df_release(source);
    spk_session_stop(root);
    if (base[0]) rm_tree(base);
}

static void test_s2_memory(void) {
    for (int r = 0; r < runs(); r++) run_s2("memory");
}

static void test_s2_file(void) {
    for (int r = 0; r < runs(); r++) run_s2("file");
}

/* ---------------------------------------------------------------- one shared session */

typedef struct shared_arg {
    spk_session *s;
    spk_df *df;
    atomic_int *created, *conflicts;
} shared_arg;

static int shared_worker(void *p) {
    shared_arg *a = (shared_arg *)p;
    spk_status st = spk_catalog_create_temp_view(a->s, "temp_view", a->df);
    if (st == SPK_OK) atomic_fetch_add(a->created, 1);
    else if (st == SPK_ERR_EXISTS && strstr(spk_last_error(), "TempTableAlreadyExistsException"))
        atomic_fetch_add(a->conflicts, 1);
    return 0;
}

/* Threads sharing one session collide on a view name: exactly one
 * createTempView wins and the others are told, never silently replaced. */
static void test_shared_session_conflict(void) {
    spk_session *s = NULL;
    CHECK(spk_session_new(NULL, &s) == SPK_OK);
    atomic_int created = 0, conflicts = 0;
    spk_df *dfs[THREADS];
    shared_arg args[THREADS];
    mt_thread th[THREADS];
    for (int t = 0; t < THREADS; t++) {
        char text[64];
        snprintf(text, sizeof text, "entity INT\n%d", t);
        dfs[t] = spk_df_from_fixture(s, text);
        args[t] = (shared_arg){s, dfs[t], &created, &conflicts};
        CHECK(mt_start(&th[t], shared_worker, &args[t]));
    }
    for (int t = 0; t < THREADS; t++) mt_join(&th[t]);
    CHECK_EQ_INT(atomic_load(&created), 1);
    CHECK_EQ_INT(atomic_load(&conflicts), THREADS - 1);
    /* the view holds the winner's plan, whole */
    spk_df *v = spk_session_table(s, "temp_view");
    spk_table *rows = NULL;
    CHECK(v && spk_df_collect(v, &rows) == SPK_OK);
    CHECK_EQ_INT(spk_table_nrows(rows), 1);
    spk_table_free(rows);
    spk_df_release(v);
    for (int t = 0; t < THREADS; t++) spk_df_release(dfs[t]);
    spk_session_stop(s);
}

/* ---------------------------------------------------------------- readers racing writers */

typedef struct race_arg {
    spk_session *s;
    atomic_int *stop;
    int bad, reads;
} race_arg;

/* Version v of "churn" has v rows, each holding v; the view "latest" is
 * replaced in step. A reader must always see one whole version. */
static int race_writer(void *p) {
    race_arg *a = (race_arg *)p;
    char text[4096];
    for (int v = 1; v <= 60; v++) {
        int n = snprintf(text, sizeof text, "v INT");
        for (int k = 0; k < v; k++) n += snprintf(text + n, sizeof text - (size_t)n, "\n%d", v);
        spk_df *df = spk_df_from_fixture(a->s, text);
        if (spk_catalog_save_as_table(a->s, df, "churn", "overwrite") != SPK_OK) a->bad++;
        if (spk_catalog_create_or_replace_global_temp_view(a->s, "latest", df) != SPK_OK) a->bad++;
        spk_df_release(df);
    }
    atomic_store(a->stop, 1);
    return 0;
}

static void check_whole(race_arg *a, spk_df *df) {
    spk_table *rows = NULL;
    if (!df) return; /* not there yet */
    if (spk_df_collect(df, &rows) != SPK_OK) {
        a->bad++;
        return;
    }
    size_t n = spk_table_nrows(rows);
    for (size_t r = 0; r < n; r++) {
        spk_value v;
        spk_table_get(rows, r, 0, &v);
        if ((size_t)v.as.i32 != n) a->bad++;
    }
    a->reads++;
    spk_table_free(rows);
}

static int race_reader(void *p) {
    race_arg *a = (race_arg *)p;
    spk_session *child = NULL;
    if (spk_session_new_session(a->s, &child) != SPK_OK) {
        a->bad++;
        return 0;
    }
    while (!atomic_load(a->stop)) {
        spk_df *t = spk_session_table(child, "churn");
        check_whole(a, t);
        spk_df_release(t);
        spk_df *v = spk_session_table(child, "global_temp.latest");
        check_whole(a, v);
        spk_df_release(v);
    }
    spk_session_stop(child);
    return 0;
}

static void test_readers_never_see_torn_state(void) {
    spk_session *s = NULL;
    CHECK(spk_session_new(NULL, &s) == SPK_OK);
    atomic_int stop = 0;
    race_arg args[4];
    mt_thread th[4];
    for (int t = 0; t < 4; t++) {
        args[t] = (race_arg){s, &stop, 0, 0};
        CHECK(mt_start(&th[t], t == 0 ? race_writer : race_reader, &args[t]));
    }
    for (int t = 0; t < 4; t++) mt_join(&th[t]);
    for (int t = 0; t < 4; t++) CHECK_EQ_INT(args[t].bad, 0);
    uint64_t version = 0;
    CHECK(spk_catalog_table_version(s, "churn", &version) == SPK_OK);
    CHECK_EQ_INT(version, 60);
    spk_session_stop(s);
}

/* getOrCreate from many threads at once: one default session. */
typedef struct goc_arg {
    spk_session *got;
} goc_arg;

static int goc_worker(void *p) {
    goc_arg *a = (goc_arg *)p;
    spk_builder *b = NULL;
    spk_builder_new(&b);
    spk_builder_config(b, "spark.app.name", "mt");
    if (spk_builder_get_or_create(b, &a->got) != SPK_OK) a->got = NULL;
    spk_builder_free(b);
    return 0;
}

static void test_get_or_create_race(void) {
    goc_arg args[THREADS];
    mt_thread th[THREADS];
    for (int t = 0; t < THREADS; t++) CHECK(mt_start(&th[t], goc_worker, &args[t]));
    for (int t = 0; t < THREADS; t++) mt_join(&th[t]);
    for (int t = 0; t < THREADS; t++) CHECK(args[t].got != NULL && args[t].got == args[0].got);
    for (int t = 0; t < THREADS; t++) spk_session_stop(args[t].got);
}

int main(void) {
    RUN(test_shared_session_conflict);
    RUN(test_get_or_create_race);
    RUN(test_readers_never_see_torn_state);
    RUN(test_s1_memory);
    RUN(test_s2_memory);
    if (file_backend_works()) {
        RUN(test_s1_file);
        RUN(test_s2_file);
    } else {
        printf("file backend unavailable here: %s\n", spk_last_error());
    }
    return TEST_REPORT();
}
