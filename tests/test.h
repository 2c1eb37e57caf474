/* A tiny test harness shared by the test programs: no registration magic,
 * main() calls RUN(fn) for each test function; a test fails if any CHECK in
 * it fails. The last line a program prints is "RESULT <passed> <failed>",
 * which tools/runtests adds up. */
#ifndef SPK_TEST_H
#define SPK_TEST_H

#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <stdarg.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../sparkless.h"

static int spk_test_passed, spk_test_failed, spk_test_current_failed;
static const char *spk_test_current;
static int spk_test_threads; /* in FOR_EACH_THREAD_COUNT: the current count */
/* Keeps the state above "used" in programs that run no check (an oracle
 * test built without its oracle), so -Werror stays quiet. */
static inline void spk_test_unused(void) {
    (void)spk_test_current;
    (void)spk_test_current_failed;
}

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__,           \
                    spk_test_current, #cond);                                              \
            spk_test_current_failed = 1;                                                   \
        }                                                                                  \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                 \
    do {                                                                                   \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                    \
        if (check_a_ != check_b_) {                                                        \
            fprintf(stderr, "%s:%d: %s: %s == %s failed: %lld != %lld\n", __FILE__,        \
                    __LINE__, spk_test_current, #a, #b, check_a_, check_b_);               \
            spk_test_current_failed = 1;                                                   \
        }                                                                                  \
    } while (0)

#define CHECK_STR(a, b)                                                                    \
    do {                                                                                   \
        const char *check_a_ = (a), *check_b_ = (b);                                       \
        if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0) {                   \
            fprintf(stderr, "%s:%d: %s: %s == %s failed:\n  got:      \"%s\"\n  expected: \"%s\"\n", \
                    __FILE__, __LINE__, spk_test_current, #a, #b,                          \
                    check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)");       \
            spk_test_current_failed = 1;                                                   \
        }                                                                                  \
    } while (0)

/* The substring `needle` occurs in `hay`. */
#define CHECK_CONTAINS(hay, needle)                                                        \
    do {                                                                                   \
        const char *check_h_ = (hay), *check_n_ = (needle);                                \
        if (!check_h_ || !strstr(check_h_, check_n_)) {                                    \
            fprintf(stderr, "%s:%d: %s: expected \"%s\" in:\n  \"%s\"\n", __FILE__,        \
                    __LINE__, spk_test_current, check_n_, check_h_ ? check_h_ : "(null)"); \
            spk_test_current_failed = 1;                                                   \
        }                                                                                  \
    } while (0)

/* The call returns `expected`; on a mismatch the library's message is shown. */
#define CHECK_STATUS(call, expected)                                                       \
    do {                                                                                   \
        spk_status check_s_ = (call);                                                      \
        if (check_s_ != (expected)) {                                                      \
            fprintf(stderr, "%s:%d: %s: %s returned %s, expected %s (%s)\n", __FILE__,     \
                    __LINE__, spk_test_current, #call, spk_status_name(check_s_),          \
                    spk_status_name(expected), spk_last_error());                          \
            spk_test_current_failed = 1;                                                   \
        }                                                                                  \
    } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, SPK_OK)

#define RUN(fn)                                                                            \
    do {                                                                                   \
        spk_test_current = #fn;                                                            \
        spk_test_current_failed = 0;                                                       \
        fn();                                                                              \
        if (spk_test_current_failed) {                                                     \
            spk_test_failed++;                                                             \
            if (spk_test_threads) printf("FAIL %s (threads=%d)\n", #fn, spk_test_threads);    \
            else printf("FAIL %s\n", #fn);                                                  \
        } else {                                                                           \
            spk_test_passed++;                                                             \
        }                                                                                  \
    } while (0)

/* Query tests run their body once per thread count (1, 2, 3 and 8), every
 * run but the first with morsels of a few rows, so that tiny inputs split
 * into many morsels and every parallel path is taken: results must not
 * depend on either. Sessions made with threads = 0 inside the body follow
 * the count (spk_exec_override). */
static const int spk_test_thread_counts[4] = {1, 2, 3, 8};
static const uint32_t spk_test_morsel_rows[4] = {0, 7, 2, 1};
#define FOR_EACH_THREAD_COUNT(i)                                                           \
    for (int i = 0; i < 4 ? (spk_test_threads = spk_test_thread_counts[i],                 \
                             spk_exec_override(spk_test_threads, spk_test_morsel_rows[i]), 1) \
                          : (spk_test_threads = 0, spk_exec_override(0, 0), 0);            \
         i++)

#define TEST_REPORT()                                                                      \
    (printf("RESULT %d %d\n", spk_test_passed, spk_test_failed), spk_test_failed ? 1 : 0)

/* Helpers for tests that print their own failure detail or compare rows as
 * text (inline so that programs not using them stay warning-free). */

/* Fails the current test with a formatted message at file:line. */
static inline void failf(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "%s:%d: %s: ", file, line, spk_test_current);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    spk_test_current_failed = 1;
}

/* A growing string. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;
static inline void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (b->len + n + 1 > cap) cap *= 2;
        char *p = (char *)realloc(b->p, cap);
        if (!p) abort();
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}
static inline void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* Rows of t as "v,v|v,v" (NULL as NULL), each value as Spark's show prints
 * it (read with spk_table_get); free the result. */
static inline char *table_text(const spk_table *t) {
    sbuf b = {NULL, 0, 0};
    sb_str(&b, "");
    int ncols = spk_schema_ncols(spk_table_schema(t));
    for (size_t r = 0; r < spk_table_nrows(t); r++) {
        if (r) sb_str(&b, "|");
        for (int c = 0; c < ncols; c++) {
            spk_value v;
            char buf[SPK_VALUE_TEXT_MAX];
            if (c) sb_str(&b, ",");
            if (spk_table_get(t, r, c, &v) != SPK_OK) sb_str(&b, "<get failed>");
            else if (v.is_null) sb_str(&b, "NULL");
            else if (v.type.id == SPK_TYPE_STRING) sb_put(&b, v.as.str.ptr, v.as.str.len);
            else {
                spk_value_format(&v, buf, sizeof buf);
                sb_str(&b, buf);
            }
        }
    }
    return b.p;
}

#if defined(_POSIX_C_SOURCE) && _POSIX_C_SOURCE >= 200809L
/* A fresh directory $TMPDIR/<prefix>_XXXXXX (or under /tmp) in buf; false if
 * it could not be made. For tests that ask for POSIX 2008 (mkdtemp). */
static inline bool make_temp_dir(char *buf, size_t cap, const char *prefix) {
    const char *tmp = getenv("TMPDIR");
    snprintf(buf, cap, "%s/%s_XXXXXX", tmp && *tmp ? tmp : "/tmp", prefix);
    return mkdtemp(buf) != NULL;
}
#endif

/* rm -r of a file or directory a test made. */
static inline void rm_tree(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return;
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        char child[1024];
        while ((e = readdir(d)) != NULL)
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
                snprintf(child, sizeof child, "%s/%s", path, e->d_name) < (int)sizeof child)
                rm_tree(child);
        closedir(d);
    }
    rmdir(path);
}

#endif
