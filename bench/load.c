/* bench/load — loading TPC-H lineitem from its .tbl file with spk_read_csv.
 *
 *   build/bench/load [SF]      (default SF 1: about 6M rows, 760 MB)
 *
 * Generates lineitem at scale factor SF into build/tpch/sf<SF>/lineitem.tbl
 * with bench/tpch_gen.c's generator (compiled in, not run as a program),
 * unless the file is there with its marker lineitem.tbl.ok naming the
 * generator version, SF and the file's size. Then reads it 3 times with
 * spk_read_csv on a session with all threads (delimiter '|', FAILFAST, the
 * 16 lineitem columns plus a last STRING column that takes the empty field
 * after each line's trailing '|'), timing each read (wall clock), and prints
 *   BENCH load sf=<SF> sparkless_s=<median> rows=<n> threads=<t> peak_rss_mb=<n>
 * peak_rss_mb is getrusage's ru_maxrss when the line is printed (the reads,
 * before the check below copies the table).
 * Then checks the last read row for row against the file, read again by a
 * parser of its own (line by line, split at '|'): integers exactly,
 * decimals as unscaled integers, dates as year-month-day, strings byte for
 * byte, the last column NULL. The first difference exits with status 2. */
#define _POSIX_C_SOURCE 200809L
#define TPCH_GEN_NO_MAIN
#include "tpch_gen.c"

#define SPARKLESS_IMPLEMENTATION
#include "../sparkless.h"
#include "bench_util.h"
#include <sys/resource.h>

#define RUNS 3
#define NCOLS 17

typedef enum { K_BIGINT, K_INT, K_DECIMAL, K_DATE, K_STRING, K_EMPTY } column_kind;

static const struct {
    const char *name, *type;
    column_kind kind;
} columns[NCOLS] = {
    {"l_orderkey", "BIGINT", K_BIGINT},
    {"l_partkey", "BIGINT", K_BIGINT},
    {"l_suppkey", "BIGINT", K_BIGINT},
    {"l_linenumber", "INT", K_INT},
    {"l_quantity", "DECIMAL(15,2)", K_DECIMAL},
    {"l_extendedprice", "DECIMAL(15,2)", K_DECIMAL},
    {"l_discount", "DECIMAL(15,2)", K_DECIMAL},
    {"l_tax", "DECIMAL(15,2)", K_DECIMAL},
    {"l_returnflag", "STRING", K_STRING},
    {"l_linestatus", "STRING", K_STRING},
    {"l_shipdate", "DATE", K_DATE},
    {"l_commitdate", "DATE", K_DATE},
    {"l_receiptdate", "DATE", K_DATE},
    {"l_shipinstruct", "STRING", K_STRING},
    {"l_shipmode", "STRING", K_STRING},
    {"l_comment", "STRING", K_STRING},
    {"l_trailing", "STRING", K_EMPTY}, /* the empty field after the trailing '|' */
};

static int fail(const char *what) {
    fprintf(stderr, "load: %s: %s\n", what, spk_last_error());
    return 1;
}

/* ---- the input file ------------------------------------------------------- */

static void marker_text(const tpch_scale *sc, long long bytes, char *buf, size_t cap) {
    snprintf(buf, cap, "tpch_gen v%d lineitem sf=%g bytes=%lld\n", TPCH_GEN_VERSION, sc->sf, bytes);
}

/* true when path exists and its marker names this generator, SF and the file's size. */
static bool cached(const tpch_scale *sc, const char *path, const char *marker) {
    struct stat st;
    if (stat(path, &st) != 0) return false;
    FILE *f = fopen(marker, "rb");
    if (!f) return false;
    char have[256] = "", want[256];
    size_t n = fread(have, 1, sizeof have - 1, f);
    fclose(f);
    have[n] = '\0';
    marker_text(sc, (long long)st.st_size, want, sizeof want);
    return strcmp(have, want) == 0;
}

/* Writes lineitem to path (through path.tmp, renamed when whole), then the marker. */
static bool generate(const tpch_scale *sc, const char *path, const char *marker) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    remove(marker);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "load: cannot write %s: %s\n", tmp, strerror(errno));
        return false;
    }
    tpch_out out;
    bool ok = tpch_out_open(&out, f);
    if (ok) tpch_generate(sc, &out, NULL, NULL);
    ok = tpch_out_close(&out) && ok;
    int err = out.err;
    if (fclose(f) != 0 && ok) ok = false, err = errno;
    if (ok && rename(tmp, path) != 0) ok = false, err = errno;
    if (!ok) {
        fprintf(stderr, "load: writing %s: %s\n", tmp, strerror(err));
        remove(tmp);
        return false;
    }
    char text[256];
    marker_text(sc, (long long)out.bytes, text, sizeof text);
    FILE *m = fopen(marker, "wb");
    if (!m || fputs(text, m) == EOF || fclose(m) != 0) {
        fprintf(stderr, "load: cannot write %s\n", marker);
        return false;
    }
    return true;
}

/* ---- the check: the file, parsed again, against the table ----------------- */

static bool parse_int(const char *s, size_t n, int64_t *out) {
    size_t i = 0;
    bool neg = n > 0 && s[0] == '-';
    if (neg) i++;
    if (i == n) return false;
    int64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (INT64_MAX - 9) / 10) return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return true;
}
/* [-]digits[.d[d]] as hundredths. */
static bool parse_cents(const char *s, size_t n, int64_t *out) {
    const char *dot = memchr(s, '.', n);
    size_t whole = dot ? (size_t)(dot - s) : n, frac = dot ? n - whole - 1 : 0;
    int64_t w = 0, f = 0;
    if (!parse_int(s, whole, &w) || frac > 2 || (dot && frac == 0)) return false;
    for (size_t i = 0; i < frac; i++) {
        char c = dot[1 + i];
        if (c < '0' || c > '9') return false;
        f = f * 10 + (c - '0');
    }
    if (frac == 1) f *= 10;
    *out = s[0] == '-' ? w * 100 - f : w * 100 + f;
    return true;
}
static bool parse_ymd(const char *s, size_t n, int *y, int *m, int *d) {
    int64_t yy, mm, dd;
    if (n != 10 || s[4] != '-' || s[7] != '-' || s[0] == '-' || s[5] == '-' || s[8] == '-') return false;
    if (!parse_int(s, 4, &yy) || !parse_int(s + 5, 2, &mm) || !parse_int(s + 8, 2, &dd)) return false;
    *y = (int)yy, *m = (int)mm, *d = (int)dd;
    return true;
}

/* true when the table's value v is what the file's field says. */
static bool field_matches(column_kind kind, const char *s, size_t n, const spk_value *v) {
    if (kind == K_EMPTY) return n == 0 && v->is_null;
    if (v->is_null) return false;
    int64_t x;
    int y, m, d, ty, tm, td;
    switch (kind) {
    case K_BIGINT: return v->type.id == SPK_TYPE_INT64 && parse_int(s, n, &x) && v->as.i64 == x;
    case K_INT: return v->type.id == SPK_TYPE_INT32 && parse_int(s, n, &x) && v->as.i32 == x;
    case K_DECIMAL:
        return v->type.id == SPK_TYPE_DECIMAL && v->type.scale == 2 && parse_cents(s, n, &x) && v->as.i64 == x;
    case K_DATE:
        if (v->type.id != SPK_TYPE_DATE || !parse_ymd(s, n, &y, &m, &d)) return false;
        spk_date_to_ymd(v->as.i32, &ty, &tm, &td);
        return ty == y && tm == m && td == d;
    case K_STRING: return v->type.id == SPK_TYPE_STRING && v->as.str.len == n && memcmp(v->as.str.ptr, s, n) == 0;
    case K_EMPTY: break;
    }
    return false;
}

static int mismatch(size_t line, const char *text, const char *why) {
    fprintf(stderr, "load: MISMATCH at row %zu (line %zu of the file): %s\n  file: %s\n", line, line, why,
            text ? text : "(none)");
    return 2;
}

/* 0 when the table holds the file's rows in order, 2 at the first
 * difference, 1 when the file cannot be read. */
static int verify(const char *path, const spk_table *t) {
    if (spk_schema_ncols(spk_table_schema(t)) != NCOLS)
        return mismatch(0, NULL, "the table has the wrong column count");
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "load: cannot read %s: %s\n", path, strerror(errno));
        return 1;
    }
    char *line = NULL;
    size_t cap = 0, row = 0;
    ssize_t len;
    int rc = 0;
    spk_cursor c;
    spk_cursor_open(&c, t);
    while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
        row++;
        if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
        if (!spk_cursor_next(&c)) {
            rc = mismatch(row, line, "the table has fewer rows than the file");
            break;
        }
        const char *field = line, *end = line + len;
        for (int col = 0; col < NCOLS && rc == 0; col++) {
            const char *bar = col < NCOLS - 1 ? memchr(field, '|', (size_t)(end - field)) : end;
            if (!bar) {
                rc = mismatch(row, line, "the line has fewer than 16 '|'-ended fields");
                break;
            }
            spk_value v;
            if (spk_cursor_get(&c, col, &v) != SPK_OK) {
                fprintf(stderr, "load: reading row %zu column %d: %s\n", row, col, spk_last_error());
                rc = 1;
                break;
            }
            if (!field_matches(columns[col].kind, field, (size_t)(bar - field), &v)) {
                char table_text[SPK_VALUE_TEXT_MAX + 64], why[sizeof table_text + 256];
                spk_value_format(&v, table_text, sizeof table_text);
                snprintf(why, sizeof why, "column %d `%s`: file '%.*s', table '%s'", col + 1, columns[col].name,
                         (int)(bar - field), field, table_text);
                rc = mismatch(row, line, why);
            }
            field = bar + 1;
        }
    }
    if (rc == 0 && ferror(f)) {
        fprintf(stderr, "load: reading %s: %s\n", path, strerror(errno));
        rc = 1;
    }
    if (rc == 0 && spk_cursor_next(&c)) rc = mismatch(row + 1, NULL, "the table has more rows than the file");
    if (rc == 0) printf("load: verified %zu rows x %d columns against %s\n", row, NCOLS, path);
    free(line);
    fclose(f);
    return rc;
}

/* ---- main ------------------------------------------------------------------- */

int main(int argc, char **argv) {
    double sf = 1;
    char *end = NULL;
    if (argc == 2) sf = strtod(argv[1], &end);
    if (argc > 2 || (end && (*end || end == argv[1])) || !(sf > 0 && sf <= 100)) {
        fprintf(stderr, "usage: %s [SF]   (scale factor, 0 < SF <= 100; default 1)\n", argv[0]);
        return 2;
    }
    tpch_scale sc = {0, 0, 0, 0, 0, 0};
    if (!tpch_scale_init(sf, &sc)) return 2; /* not reached: sf is checked above */
    char dir[256], path[512], marker[600];
    snprintf(dir, sizeof dir, "build/tpch/sf%g", sf);
    snprintf(path, sizeof path, "%s/lineitem.tbl", dir);
    snprintf(marker, sizeof marker, "%s.ok", path);
    if (cached(&sc, path, marker)) {
        printf("load: using %s (generated earlier)\n", path);
    } else {
        if (!tpch_mkdirs(dir)) {
            fprintf(stderr, "load: cannot create %s: %s\n", dir, strerror(errno));
            return 1;
        }
        double t0 = now_s();
        if (!generate(&sc, path, marker)) return 1;
        printf("load: generated %s in %.2fs\n", path, now_s() - t0);
    }

    char ddl[1024] = "";
    for (int i = 0; i < NCOLS; i++) {
        size_t used = strlen(ddl);
        snprintf(ddl + used, sizeof ddl - used, "%s%s %s", i ? ", " : "", columns[i].name, columns[i].type);
    }
    spk_schema *schema = NULL;
    spk_session *s = NULL;
    spk_df *df = NULL;
    spk_table *table = NULL;
    int rc = 1;
    if (spk_schema_parse(NULL, ddl, &schema) != SPK_OK) {
        rc = fail("schema");
        goto done;
    }
    spk_session_options so = {.alloc = NULL, .case_sensitive = false, .threads = 0};
    if (spk_session_new(&so, &s) != SPK_OK) {
        rc = fail("session");
        goto done;
    }
    spk_csv_options opts = {0};
    opts.delimiter = '|';
    opts.schema = schema;
    opts.mode = SPK_READ_FAILFAST;

    double times[RUNS];
    for (int run = 0; run < RUNS; run++) {
        spk_df_release(df); /* one table in memory at a time */
        double t0 = now_s();
        df = spk_read_csv(s, path, &opts);
        times[run] = now_s() - t0;
        if (!df) {
            rc = fail("spk_read_csv");
            goto done;
        }
    }
    int64_t rows = 0;
    if (spk_df_count(df, &rows) != SPK_OK) {
        rc = fail("count");
        goto done;
    }
    struct rusage ru;
    long peak_mb = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss / 1024 : -1; /* Linux: KiB */
    printf("BENCH load sf=%g sparkless_s=%.3f rows=%lld threads=%d peak_rss_mb=%ld\n", sf, median(times, RUNS),
           (long long)rows, spk_session_threads(s), peak_mb);
    fflush(stdout);

    if (spk_df_collect(df, &table) != SPK_OK) {
        rc = fail("collect");
        goto done;
    }
    spk_df_release(df);
    df = NULL;
    rc = verify(path, table);

done:
    spk_table_free(table);
    spk_df_release(df);
    spk_session_free(s);
    spk_schema_release(schema);
    return rc;
}
