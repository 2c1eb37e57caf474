/* The file backend under SIGKILL. A child process opens the file backend
 * and, as fast as it can, writes versions of three tables (overwrites and
 * appends) and, in between, commits transactions that append to three
 * other tables at once (each table gets rows tagged with the transaction's
 * sequence number), reporting each write and each transaction through a
 * pipe once it has returned; the parent kills it after a random 0 to 80 ms
 * (seeded, so every run kills at the same offsets), then opens the backend
 * itself and checks every table: it reads, its rows are exactly those of
 * the version it is at, that version is the last one reported or the one
 * after (a write that committed but was not reported yet), and no version
 * goes backwards. The transactions' tables hold exactly the rows of
 * transactions 1 to T, all three the same T: every reported transaction,
 * and the one in flight all or nothing (all, if the kill left its commit
 * record in place). No temporary file, commit record or superseded version
 * survives an open. SPK_KILLS sets the number of kills (default 20). */
#define _POSIX_C_SOURCE 200809L
#include "test.h"

#if !defined(__unix__) && !defined(__APPLE__)
int main(void) {
    printf("note: fork() is not available; the kill test is skipped\n");
    return TEST_REPORT();
}
#else
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NTABLES 3
static const char *const table_names[NTABLES] = {"small", "medium", "large"};
static const size_t table_scale[NTABLES] = {1, 40, 1500};

/* Version v of a table overwrites it when v % 3 == 1 (so version 1 creates
 * it) and appends otherwise; version u adds (u % 5 + 1) * scale rows. */
static bool is_overwrite(uint64_t v) { return v % 3 == 1; }
static size_t rows_added(int k, uint64_t u) { return (size_t)(u % 5 + 1) * table_scale[k]; }

static spk_schema *kill_schema(void) {
    spk_schema *s = NULL;
    spk_schema_parse(NULL, "id BIGINT, tag STRING, val DOUBLE", &s);
    return s;
}

/* Row j of version u of table k. */
static void row_of(int k, uint64_t u, size_t j, char *tag, size_t cap, spk_value out[3]) {
    snprintf(tag, cap, "t%dv%llur%zu%.*s", k, (unsigned long long)u, j, (int)(j % 13), "=============");
    out[0] = spk_value_i64((int64_t)(u * 1000000 + j));
    out[1] = j % 7 == 3 ? spk_value_null() : spk_value_str(tag);
    out[2] = j % 11 == 5 ? spk_value_null() : spk_value_f64((double)u + (double)j / 8.0);
}

/* The rows version u adds. */
static spk_table *version_rows(spk_schema *schema, int k, uint64_t u) {
    spk_table *t = NULL;
    if (spk_table_new(NULL, schema, &t) != SPK_OK) return NULL;
    char tag[64];
    spk_value row[3];
    for (size_t j = 0; j < rows_added(k, u); j++) {
        row_of(k, u, j, tag, sizeof tag, row);
        if (spk_table_append_row(t, row, 3) != SPK_OK) {
            spk_table_free(t);
            return NULL;
        }
    }
    return t;
}

/* The transactions' tables: transaction q appends txn_rows(k, q) rows to each. */
#define NTXN 3
#define TXN_REPORT 1000 /* report.table of a transaction, whose sequence number is in report.version */
static const char *const txn_names[NTXN] = {"ta", "tb", "tc"};
static size_t txn_rows(int k, uint64_t q) { return k == 0 ? 1 : k == 1 ? (size_t)(q % 5 + 1) * 10 : (size_t)(q % 3 + 1) * 150; }

static spk_schema *txn_schema(void) {
    spk_schema *s = NULL;
    spk_schema_parse(NULL, "seq BIGINT, j BIGINT, tag STRING", &s);
    return s;
}

static void txn_row_of(int k, uint64_t q, size_t j, char *tag, size_t cap, spk_value out[3]) {
    snprintf(tag, cap, "%s#%llu.%zu", txn_names[k], (unsigned long long)q, j);
    out[0] = spk_value_i64((int64_t)q);
    out[1] = spk_value_i64((int64_t)j);
    out[2] = spk_value_str(tag);
}

static spk_table *txn_table(spk_schema *schema, int k, uint64_t q) {
    spk_table *t = NULL;
    if (spk_table_new(NULL, schema, &t) != SPK_OK) return NULL;
    char tag[64];
    spk_value row[3];
    for (size_t j = 0; j < txn_rows(k, q); j++) {
        txn_row_of(k, q, j, tag, sizeof tag, row);
        if (spk_table_append_row(t, row, 3) != SPK_OK) {
            spk_table_free(t);
            return NULL;
        }
    }
    return t;
}

static spk_session *open_base(const char *base, const char *threads) {
    spk_builder *b = NULL;
    spk_session *s = NULL;
    spk_status st = spk_builder_new(&b);
    if (st == SPK_OK) st = spk_builder_config(b, "spark.sparkless.backend", "file");
    if (st == SPK_OK) st = spk_builder_config(b, "spark.sparkless.backend.basePath", base);
    if (st == SPK_OK && threads) st = spk_builder_config(b, "spark.sparkless.threads", threads);
    if (st == SPK_OK) st = spk_builder_create(b, &s);
    spk_builder_free(b);
    return st == SPK_OK ? s : NULL;
}

/* ------------------------------------------------------------ the child */

typedef struct report {
    uint32_t table;
    uint32_t pad;
    uint64_t version;
} report;

/* One transaction: q's rows appended to each of the transactions' tables. */
static bool child_txn(spk_session *s, spk_schema *schema, uint64_t q) {
    spk_txn *t = NULL;
    if (spk_txn_begin(s, &t) != SPK_OK) return false;
    bool ok = true;
    for (int k = 0; k < NTXN && ok; k++) {
        spk_table *rows = txn_table(schema, k, q);
        spk_df *df = rows ? spk_df_from_table(s, rows) : NULL;
        ok = df && spk_txn_write(t, txn_names[k], df) == SPK_OK;
        spk_df_release(df);
    }
    uint64_t asof = 0;
    ok = ok && spk_txn_commit(t, &asof, NULL) == SPK_OK && asof > 0;
    spk_txn_free(t);
    return ok;
}

static void child_main(const char *base, int out, int start) {
    spk_session *s = open_base(base, NULL);
    spk_schema *schema = kill_schema(), *tschema = txn_schema();
    if (!s || !schema || !tschema) _exit(2);
    uint64_t version[NTABLES], seq = 0; /* seq: transactions committed = the version of their tables */
    for (int k = 0; k < NTABLES; k++) {
        version[k] = 0;
        spk_status st = spk_catalog_table_version(s, table_names[k], &version[k]);
        if (st != SPK_OK && st != SPK_ERR_NOT_FOUND) _exit(3);
    }
    spk_status st = spk_catalog_table_version(s, txn_names[0], &seq);
    if (st != SPK_OK && st != SPK_ERR_NOT_FOUND) _exit(3);
    for (long i = 0; i < 100000; i++) {
        if ((i + start) % 2 == 1) { /* every other step a transaction */
            uint64_t now = 0;
            if (!child_txn(s, tschema, seq + 1) || spk_catalog_table_version(s, txn_names[NTXN - 1], &now) != SPK_OK ||
                now != seq + 1)
                _exit(7);
            seq++;
            report r = {TXN_REPORT, 0, seq};
            if (write(out, &r, sizeof r) != (ssize_t)sizeof r) _exit(6);
            continue;
        }
        int k = (int)((i / 2 + start) % NTABLES);
        uint64_t v = version[k] + 1;
        spk_table *rows = version_rows(schema, k, v);
        spk_df *df = rows ? spk_df_from_table(s, rows) : NULL;
        if (!df) _exit(4);
        st = spk_catalog_save_as_table(s, df, table_names[k], is_overwrite(v) ? "overwrite" : "append");
        spk_df_release(df);
        uint64_t now = 0;
        if (st != SPK_OK || spk_catalog_table_version(s, table_names[k], &now) != SPK_OK || now != v) _exit(5);
        version[k] = v;
        report r = {(uint32_t)k, 0, v};
        if (write(out, &r, sizeof r) != (ssize_t)sizeof r) _exit(6);
    }
    _exit(0);
}

/* ------------------------------------------------------------ the parent */

/* Files in dir: temporary ones, and the .spkt files of table `name`. */
static void count_files(const char *dir, const char *name, int *tmp, int *versions) {
    *tmp = *versions = 0;
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    size_t nl = strlen(name);
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l > 4 && strcmp(e->d_name + l - 4, ".tmp") == 0) (*tmp)++;
        if (strncmp(e->d_name, name, nl) == 0 && e->d_name[nl] == '.' && l > 5 && strcmp(e->d_name + l - 5, ".spkt") == 0)
            (*versions)++;
    }
    closedir(d);
}

/* Table k must hold exactly the rows of version v. */
static bool check_content(spk_session *s, spk_schema *schema, int k, uint64_t v) {
    spk_df *df = spk_session_table(s, table_names[k]);
    spk_table *got = NULL;
    if (!df || spk_df_collect(df, &got) != SPK_OK) {
        fprintf(stderr, "%s: table %s (version %llu) does not read: %s %s\n", spk_test_current, table_names[k],
                (unsigned long long)v, spk_status_name(spk_last_status()), spk_last_error());
        spk_df_release(df);
        return false;
    }
    spk_df_release(df);
    uint64_t first = v;
    while (!is_overwrite(first)) first--;
    size_t want = 0, r = 0;
    for (uint64_t u = first; u <= v; u++) want += rows_added(k, u);
    bool ok = spk_table_nrows(got) == want && spk_schema_equal(spk_table_schema(got), schema, false);
    if (!ok)
        fprintf(stderr, "%s: table %s at version %llu has %zu rows, expected %zu\n", spk_test_current, table_names[k],
                (unsigned long long)v, spk_table_nrows(got), want);
    char tag[64];
    for (uint64_t u = first; ok && u <= v; u++)
        for (size_t j = 0; ok && j < rows_added(k, u); j++, r++) {
            spk_value w[3], g[3];
            row_of(k, u, j, tag, sizeof tag, w);
            for (int c = 0; c < 3 && ok; c++) {
                ok = spk_table_get(got, r, c, &g[c]) == SPK_OK && g[c].is_null == w[c].is_null;
                if (ok && !g[c].is_null) {
                    if (c == 0) ok = g[c].as.i64 == w[c].as.i64;
                    else if (c == 1) ok = g[c].as.str.len == w[c].as.str.len && memcmp(g[c].as.str.ptr, w[c].as.str.ptr, w[c].as.str.len) == 0;
                    else ok = g[c].as.f64 == w[c].as.f64;
                }
                if (!ok)
                    fprintf(stderr, "%s: table %s at version %llu: row %zu column %d differs\n", spk_test_current,
                            table_names[k], (unsigned long long)v, r, c);
            }
        }
    spk_table_free(got);
    return ok;
}

/* Commit records in the base directory: committed ones, and ones being
 * written. *redo (may be NULL): the transaction a committed record commits,
 * read from the version of table ta it names (the version of the
 * transactions' tables is the transaction's number), or 0. */
static void count_records(const char *base, int *committed, int *torn, uint64_t *redo) {
    *committed = *torn = 0;
    if (redo) *redo = 0;
    DIR *d = opendir(base);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (strncmp(e->d_name, ".commit.", 8) == 0 && l > 4 && strcmp(e->d_name + l - 4, ".tmp") == 0) (*torn)++;
        if (strncmp(e->d_name, "commit.", 7) != 0 || l < 5 || strcmp(e->d_name + l - 5, ".spkc") != 0) continue;
        (*committed)++;
        char path[1024], text[4096] = {0};
        snprintf(path, sizeof path, "%s/%s", base, e->d_name);
        FILE *f = fopen(path, "rb");
        size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
        if (f) fclose(f);
        text[n] = 0;
        const char *at = strstr(text, "\ndefault/ta.");
        if (at && redo) *redo = strtoull(at + 12, NULL, 10);
    }
    closedir(d);
}

/* Transaction table k holds exactly the rows of transactions 1 to q, in
 * order; *q is found from its last row (0 when the table does not exist). */
static bool check_txn_content(spk_session *s, spk_schema *schema, int k, uint64_t *q) {
    *q = 0;
    spk_df *df = spk_session_table(s, txn_names[k]);
    if (!df && spk_last_status() == SPK_ERR_NOT_FOUND) return true;
    spk_table *got = NULL;
    if (!df || spk_df_collect(df, &got) != SPK_OK) {
        fprintf(stderr, "%s: table %s does not read: %s %s\n", spk_test_current, txn_names[k],
                spk_status_name(spk_last_status()), spk_last_error());
        spk_df_release(df);
        return false;
    }
    spk_df_release(df);
    size_t n = spk_table_nrows(got);
    spk_value last;
    bool ok = spk_schema_equal(spk_table_schema(got), schema, false) && n > 0 && spk_table_get(got, n - 1, 0, &last) == SPK_OK &&
              !last.is_null && last.as.i64 > 0;
    if (ok) *q = (uint64_t)last.as.i64;
    size_t want = 0, r = 0;
    for (uint64_t u = 1; ok && u <= *q; u++) want += txn_rows(k, u);
    if (ok && n != want) {
        fprintf(stderr, "%s: table %s ends with transaction %llu but has %zu rows, expected %zu\n", spk_test_current,
                txn_names[k], (unsigned long long)*q, n, want);
        ok = false;
    } else if (!ok) {
        fprintf(stderr, "%s: table %s has the wrong schema or no rows\n", spk_test_current, txn_names[k]);
    }
    char tag[64];
    for (uint64_t u = 1; ok && u <= *q; u++)
        for (size_t j = 0; ok && j < txn_rows(k, u); j++, r++) {
            spk_value w[3], g[3];
            txn_row_of(k, u, j, tag, sizeof tag, w);
            for (int c = 0; c < 3 && ok; c++) {
                ok = spk_table_get(got, r, c, &g[c]) == SPK_OK && !g[c].is_null;
                if (ok && c < 2) ok = g[c].as.i64 == w[c].as.i64;
                else if (ok) ok = g[c].as.str.len == w[c].as.str.len && memcmp(g[c].as.str.ptr, w[c].as.str.ptr, w[c].as.str.len) == 0;
            }
            if (!ok)
                fprintf(stderr, "%s: table %s: row %zu is not row %zu of transaction %llu\n", spk_test_current, txn_names[k], r,
                        j, (unsigned long long)u);
        }
    spk_table_free(got);
    return ok;
}

static unsigned long long rng_state = 0x2545F4914F6CDD1DULL;
static unsigned rng(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)(rng_state >> 33);
}

static void test_kill_loop(void) {
    const char *env = getenv("SPK_KILLS");
    int kills = env && atoi(env) > 0 ? atoi(env) : 20;
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    char base[512], dir[600];
    snprintf(base, sizeof base, "%s/spk_file_kill_%ld", tmp, (long)getpid());
    snprintf(dir, sizeof dir, "%s/default", base);
    rm_tree(base);
    spk_schema *schema = kill_schema(), *tschema = txn_schema();
    CHECK(schema != NULL && tschema != NULL);
    uint64_t reported[NTABLES] = {0}, seen[NTABLES] = {0}, txn_reported = 0, txn_seen = 0;
    long writes = 0, txns = 0;
    int killed_midway = 0, left_tmp = 0, unreported = 0, left_record = 0, left_torn = 0, txn_unreported = 0;
    for (int i = 0; i < kills && schema && tschema && !spk_test_current_failed; i++) {
        int fds[2];
        if (pipe(fds) != 0) {
            CHECK(!"pipe failed");
            break;
        }
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid < 0) {
            CHECK(!"fork failed");
            close(fds[0]);
            close(fds[1]);
            break;
        }
        if (pid == 0) {
            close(fds[0]);
            child_main(base, fds[1], i % NTABLES);
        }
        close(fds[1]);
        unsigned ms = rng() % 81; /* a transaction of three tables takes several fsyncs */
        struct timespec pause = {0, (long)ms * 1000000L};
        while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {
        }
        kill(pid, SIGKILL);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) killed_midway++;
        else {
            fprintf(stderr, "%s: kill %d: the child exited by itself (status %d)\n", spk_test_current, i + 1,
                    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
            spk_test_current_failed = 1;
        }
        report r;
        ssize_t got;
        while ((got = read(fds[0], &r, sizeof r)) == (ssize_t)sizeof r) {
            if (r.table == TXN_REPORT && r.version > txn_reported) {
                txn_reported = r.version;
                txns++;
                continue;
            }
            if (r.table >= NTABLES || r.version <= reported[r.table]) {
                fprintf(stderr, "%s: kill %d: odd report (table %u, version %llu)\n", spk_test_current, i + 1, r.table,
                        (unsigned long long)r.version);
                spk_test_current_failed = 1;
                break;
            }
            reported[r.table] = r.version;
            writes++;
        }
        close(fds[0]);
        /* What the parent finds: a write cut short leaves a temporary file. */
        for (int k = 0; k < NTABLES; k++) {
            int ntmp = 0, nver = 0;
            count_files(dir, table_names[k], &ntmp, &nver);
            if (ntmp) {
                left_tmp++;
                break;
            }
        }
        int committed = 0, torn = 0;
        uint64_t redo = 0;
        count_records(base, &committed, &torn, &redo);
        left_record += committed != 0;
        left_torn += torn != 0;
        spk_session *s = open_base(base, "1");
        if (!s) {
            fprintf(stderr, "%s: kill %d: the backend does not open: %s\n", spk_test_current, i + 1, spk_last_error());
            spk_test_current_failed = 1;
            break;
        }
        for (int k = 0; k < NTABLES; k++) {
            uint64_t v = 0;
            spk_status st = spk_catalog_table_version(s, table_names[k], &v);
            uint64_t lo = reported[k] > seen[k] ? reported[k] : seen[k];
            if (st != SPK_OK && !(st == SPK_ERR_NOT_FOUND && lo == 0)) {
                fprintf(stderr, "%s: kill %d: table %s: %s %s\n", spk_test_current, i + 1, table_names[k],
                        spk_status_name(st), spk_last_error());
                spk_test_current_failed = 1;
                continue;
            }
            if (v < lo || v > lo + 1) {
                fprintf(stderr, "%s: kill %d: table %s is at version %llu; reported %llu, seen before %llu\n",
                        spk_test_current, i + 1, table_names[k], (unsigned long long)v, (unsigned long long)reported[k],
                        (unsigned long long)seen[k]);
                spk_test_current_failed = 1;
            }
            if (v == lo + 1 && lo == reported[k]) unreported++;
            if (v && !check_content(s, schema, k, v)) spk_test_current_failed = 1;
            seen[k] = v;
            int ntmp = 0, nver = 0;
            count_files(dir, table_names[k], &ntmp, &nver);
            if (ntmp != 0 || nver != (v ? 1 : 0)) {
                fprintf(stderr, "%s: kill %d: after opening, %d temporary files and %d versions of %s remain\n",
                        spk_test_current, i + 1, ntmp, nver, table_names[k]);
                spk_test_current_failed = 1;
            }
        }
        /* The transactions: all three tables end with the same one, which
         * is the last reported or the one in flight. */
        uint64_t q[NTXN] = {0}, lo = txn_reported > txn_seen ? txn_reported : txn_seen;
        for (int k = 0; k < NTXN; k++) {
            if (!check_txn_content(s, tschema, k, &q[k])) spk_test_current_failed = 1;
            uint64_t v = 0;
            spk_status st = spk_catalog_table_version(s, txn_names[k], &v);
            if ((st == SPK_OK ? v : 0) != q[k] || (st != SPK_OK && st != SPK_ERR_NOT_FOUND)) {
                fprintf(stderr, "%s: kill %d: table %s is at version %llu (%s) but holds transactions 1 to %llu\n",
                        spk_test_current, i + 1, txn_names[k], (unsigned long long)v, spk_status_name(st),
                        (unsigned long long)q[k]);
                spk_test_current_failed = 1;
            }
            int ntmp = 0, nver = 0;
            count_files(dir, txn_names[k], &ntmp, &nver);
            if (ntmp != 0 || nver != (q[k] ? 1 : 0)) {
                fprintf(stderr, "%s: kill %d: after opening, %d temporary files and %d versions of %s remain\n",
                        spk_test_current, i + 1, ntmp, nver, txn_names[k]);
                spk_test_current_failed = 1;
            }
        }
        if (q[1] != q[0] || q[2] != q[0]) {
            fprintf(stderr, "%s: kill %d: a transaction is partly there: tables %s, %s, %s end with transactions %llu, %llu, "
                            "%llu\n", spk_test_current, i + 1, txn_names[0], txn_names[1], txn_names[2],
                    (unsigned long long)q[0], (unsigned long long)q[1], (unsigned long long)q[2]);
            spk_test_current_failed = 1;
        }
        if (q[0] < lo || q[0] > lo + 1) {
            fprintf(stderr, "%s: kill %d: the transactions' tables end with transaction %llu; reported %llu, seen before %llu\n",
                    spk_test_current, i + 1, (unsigned long long)q[0], (unsigned long long)txn_reported,
                    (unsigned long long)txn_seen);
            spk_test_current_failed = 1;
        }
        if (q[0] == lo + 1 && lo == txn_reported) txn_unreported++;
        txn_seen = q[0];
        if (redo && q[0] != redo) {
            fprintf(stderr, "%s: kill %d: transaction %llu had its commit record in place, but the tables end with %llu\n",
                    spk_test_current, i + 1, (unsigned long long)redo, (unsigned long long)q[0]);
            spk_test_current_failed = 1;
        }
        count_records(base, &committed, &torn, NULL);
        if (committed || torn) {
            fprintf(stderr, "%s: kill %d: after opening, a commit record remains\n", spk_test_current, i + 1);
            spk_test_current_failed = 1;
        }
        spk_session_stop(s);
    }
    printf("kill test: %d kills (%d during the child's run; %d left a temporary file, %d a committed commit record to redo, "
           "%d one cut short; %d came after a write and %d after a transaction the child had not reported), %ld writes and "
           "%ld transactions of %d tables reported committed; versions reached: %s %llu, %s %llu, %s %llu; transactions "
           "reached: %llu\n",
           kills, killed_midway, left_tmp, left_record, left_torn, unreported, txn_unreported, writes, txns, NTXN, table_names[0],
           (unsigned long long)seen[0], table_names[1], (unsigned long long)seen[1], table_names[2],
           (unsigned long long)seen[2], (unsigned long long)txn_seen);
    if (spk_test_current_failed) printf("kill test: the files are left in %s\n", base);
    else rm_tree(base);
    spk_schema_release(schema);
    spk_schema_release(tschema);
}

int main(void) {
    RUN(test_kill_loop);
    return TEST_REPORT();
}
#endif
