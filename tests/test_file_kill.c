/* The file backend under SIGKILL. A child process opens the file backend
 * and writes versions of three tables (overwrites and appends) as fast as it
 * can, reporting each version through a pipe once its write has returned;
 * the parent kills it after a random 0 to 30 ms (seeded, so every run
 * kills at the same offsets), then opens the backend itself and checks
 * every table: it reads, its rows are exactly those of the version it is
 * at, that version is the last one reported or the one after (a write that
 * committed but was not reported yet), and no version goes backwards. No
 * temporary file or superseded version survives an open. SPK_KILLS sets the
 * number of kills (default 20). */
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

static void child_main(const char *base, int out, int start) {
    spk_session *s = open_base(base, NULL);
    spk_schema *schema = kill_schema();
    if (!s || !schema) _exit(2);
    uint64_t version[NTABLES];
    for (int k = 0; k < NTABLES; k++) {
        version[k] = 0;
        spk_status st = spk_catalog_table_version(s, table_names[k], &version[k]);
        if (st != SPK_OK && st != SPK_ERR_NOT_FOUND) _exit(3);
    }
    for (long i = 0; i < 100000; i++) {
        int k = (int)((i + start) % NTABLES);
        uint64_t v = version[k] + 1;
        spk_table *rows = version_rows(schema, k, v);
        spk_df *df = rows ? spk_df_from_table(s, rows) : NULL;
        if (!df) _exit(4);
        spk_status st = spk_catalog_save_as_table(s, df, table_names[k], is_overwrite(v) ? "overwrite" : "append");
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

static void remove_tree(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
                char child[1024];
                snprintf(child, sizeof child, "%s/%s", path, e->d_name);
                remove_tree(child);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

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
    remove_tree(base);
    spk_schema *schema = kill_schema();
    CHECK(schema != NULL);
    uint64_t reported[NTABLES] = {0}, seen[NTABLES] = {0};
    long writes = 0;
    int killed_midway = 0, left_tmp = 0, unreported = 0;
    for (int i = 0; i < kills && schema && !spk_test_current_failed; i++) {
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
        unsigned ms = rng() % 31;
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
        spk_session_stop(s);
    }
    printf("kill test: %d kills (%d during the child's run; %d left a temporary file, %d came after a commit the child "
           "had not reported), %ld writes reported committed; versions reached: %s %llu, %s %llu, %s %llu\n",
           kills, killed_midway, left_tmp, unreported, writes, table_names[0], (unsigned long long)seen[0], table_names[1],
           (unsigned long long)seen[1], table_names[2], (unsigned long long)seen[2]);
    if (spk_test_current_failed) printf("kill test: the files are left in %s\n", base);
    else remove_tree(base);
    spk_schema_release(schema);
}

int main(void) {
    RUN(test_kill_loop);
    return TEST_REPORT();
}
#endif
