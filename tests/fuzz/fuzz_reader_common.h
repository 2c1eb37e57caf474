/* What the reader fuzzers (fuzz_csv.c, fuzz_jsonl.c) share: failing loudly
 * (abort, so libFuzzer keeps the input) and a table rendered as text with
 * its types, to compare what was read with what was read back. Include
 * after sparkless.h. */
#ifndef SPK_FUZZ_READER_COMMON_H
#define SPK_FUZZ_READER_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void fuzz_fail(const char *who, const char *what, const char *a, const char *b) {
    fprintf(stderr, "%s: %s\n", who, what);
    if (a) fprintf(stderr, "first:\n%s\n", a);
    if (b) fprintf(stderr, "second:\n%s\n", b);
    fprintf(stderr, "last error: %s\n", spk_last_error());
    abort();
}

typedef struct fuzz_text {
    char *p;
    size_t len, cap;
} fuzz_text;

static inline void fuzz_put(fuzz_text *t, const char *s, size_t n) {
    if (t->cap - t->len < n + 1) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap - t->len < n + 1) cap *= 2;
        char *p = (char *)realloc(t->p, cap);
        if (!p) abort();
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

/* The schema's DDL, then one line per row: each value formatted, NULL as
 * \N, strings with their bytes escaped so that any difference shows (free it). */
static inline char *fuzz_table_text(const spk_table *t) {
    fuzz_text out = {NULL, 0, 0};
    char buf[4096];
    spk_schema_ddl(spk_table_schema(t), buf, sizeof buf);
    fuzz_put(&out, buf, strlen(buf));
    fuzz_put(&out, "\n", 1);
    int ncols = spk_schema_ncols(spk_table_schema(t));
    spk_cursor c;
    spk_cursor_open(&c, t);
    while (spk_cursor_next(&c)) {
        for (int i = 0; i < ncols; i++) {
            spk_value v;
            if (spk_cursor_get(&c, i, &v) != SPK_OK) abort();
            if (i) fuzz_put(&out, "|", 1);
            if (v.is_null) fuzz_put(&out, "\\N", 2);
            else if (v.type.id == SPK_TYPE_STRING)
                for (size_t k = 0; k < v.as.str.len; k++) {
                    char e[8];
                    snprintf(e, sizeof e, "%02x", (unsigned char)v.as.str.ptr[k]);
                    fuzz_put(&out, e, 2);
                }
            else {
                size_t n = spk_value_format(&v, buf, sizeof buf);
                fuzz_put(&out, buf, n < sizeof buf ? n : sizeof buf - 1);
            }
        }
        fuzz_put(&out, "\n", 1);
    }
    return out.p;
}

#endif
