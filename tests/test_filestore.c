/* filestore: the file backend through the catalog — round trips of every
 * type, reopening (databases, tables, versions), append, overwrite, drop,
 * left-over files, superseded versions, every kind of damage to a file
 * (each reported as SPK_ERR_CORRUPT naming the file while the other tables
 * stay readable), files written by hand from the format's specification,
 * transactions' commit records (redone after a crash, ignored when torn,
 * refused when damaged or hostile, each made by hand from the format),
 * transactions committed through txn.h (one left unfinished for the next
 * open to finish), configuration errors and allocation failures. Every
 * test works in a fresh directory under the system's temporary directory. */
#include "test.h"

#if !defined(__unix__) && !defined(__APPLE__)
int main(void) {
    printf("note: the file backend needs POSIX; its tests are skipped\n");
    return TEST_REPORT();
}
#else
#include <math.h>
#include <stdarg.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

#define FAILF(...) failf(__FILE__, __LINE__, __VA_ARGS__)

/* A new, absent directory name for one test. */
static int dir_counter;
static void fresh_base(char *out, size_t cap) {
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    snprintf(out, cap, "%s/spk_filestore_%ld_%d", tmp, (long)getpid(), ++dir_counter);
    rm_tree(out);
}

static bool file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static bool path_exists_f(const char *fmt, ...) {
    char path[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    return file_exists(path);
}

/* How many entries of dir end with `suffix`. */
static int count_suffix(const char *dir, const char *suffix) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    size_t sl = strlen(suffix);
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l >= sl && strcmp(e->d_name + l - sl, suffix) == 0) n++;
    }
    closedir(d);
    return n;
}

static unsigned char *read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    unsigned char *p = (unsigned char *)malloc(cap);
    size_t got;
    while (p && (got = fread(p + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            unsigned char *q = (unsigned char *)realloc(p, cap * 2);
            if (!q) {
                free(p);
                p = NULL;
                break;
            }
            p = q;
            cap *= 2;
        }
    }
    fclose(f);
    *n = len;
    return p;
}

static bool write_bytes(const char *path, const unsigned char *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    bool ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static spk_session *open_opts(const char *base, const spk_allocator *alloc, const char *threads) {
    spk_builder *b = NULL;
    spk_session *s = NULL;
    spk_status st = spk_builder_new(&b);
    if (st == SPK_OK) st = spk_builder_config(b, "spark.sparkless.backend", "file");
    if (st == SPK_OK) st = spk_builder_config(b, "spark.sparkless.backend.basePath", base);
    if (st == SPK_OK && threads) st = spk_builder_config(b, "spark.sparkless.threads", threads);
    if (st == SPK_OK && alloc) st = spk_builder_allocator(b, alloc);
    if (st == SPK_OK) st = spk_builder_create(b, &s);
    spk_builder_free(b);
    return st == SPK_OK ? s : NULL;
}

#define OPEN(base) open_checked(__FILE__, __LINE__, (base))
static spk_session *open_checked(const char *file, int line, const char *base) {
    spk_session *s = open_opts(base, NULL, NULL);
    if (!s) failf(file, line, "cannot open the file backend at %s: %s %s", base, spk_status_name(spk_last_status()),
                  spk_last_error());
    return s;
}

static spk_status save_fixture(spk_session *s, const char *name, const char *fixture, const char *mode) {
    spk_df *df = spk_df_from_fixture(s, fixture);
    if (!df) return spk_last_status();
    spk_status st = spk_catalog_save_as_table(s, df, name, mode);
    spk_df_release(df);
    return st;
}

/* Saves a copy of t (which stays the caller's). */
static spk_status save_table(spk_session *s, const char *name, spk_table *t, const char *mode) {
    spk_table *copy = NULL;
    spk_status st = spk_table_new(NULL, spk_table_schema(t), &copy);
    spk_cursor c;
    spk_cursor_open(&c, t);
    int n = spk_schema_ncols(spk_table_schema(t));
    spk_value row[16];
    while (st == SPK_OK && spk_cursor_next(&c)) {
        for (int i = 0; i < n && st == SPK_OK; i++) st = spk_cursor_get(&c, i, &row[i]);
        if (st == SPK_OK) st = spk_table_append_row(copy, row, n);
    }
    if (st != SPK_OK) {
        spk_table_free(copy);
        return st;
    }
    spk_df *df = spk_df_from_table(s, copy);
    if (!df) return spk_last_status();
    st = spk_catalog_save_as_table(s, df, name, mode);
    spk_df_release(df);
    return st;
}

/* The rows of a saved table, or NULL (the status in spk_last_status()). */
static spk_table *read_table(spk_session *s, const char *name) {
    spk_df *df = spk_session_table(s, name);
    if (!df) return NULL;
    spk_table *t = NULL;
    spk_status st = spk_df_collect(df, &t);
    spk_df_release(df);
    return st == SPK_OK ? t : NULL;
}

/* Same values (types, NULLs, bits of doubles, bytes of strings) row by row. */
static bool same_rows(const char *file, int line, const spk_table *got, const spk_table *want) {
    if (!got || !want) {
        failf(file, line, "missing table (%s)", spk_last_error());
        return false;
    }
    int n = spk_schema_ncols(spk_table_schema(want));
    if (spk_schema_ncols(spk_table_schema(got)) != n || spk_table_nrows(got) != spk_table_nrows(want)) {
        failf(file, line, "shape: got %d columns x %zu rows, expected %d x %zu", spk_schema_ncols(spk_table_schema(got)),
              spk_table_nrows(got), n, spk_table_nrows(want));
        return false;
    }
    for (size_t r = 0; r < spk_table_nrows(want); r++)
        for (int c = 0; c < n; c++) {
            spk_value a, b;
            if (spk_table_get(got, r, c, &a) != SPK_OK || spk_table_get(want, r, c, &b) != SPK_OK) {
                failf(file, line, "cannot read row %zu column %d", r, c);
                return false;
            }
            bool same = spk_type_equal(a.type, b.type) && a.is_null == b.is_null;
            if (same && !a.is_null) switch ((spk_type_id)a.type.id) {
                case SPK_TYPE_BOOLEAN: same = a.as.b == b.as.b; break;
                case SPK_TYPE_INT32:
                case SPK_TYPE_DATE: same = a.as.i32 == b.as.i32; break;
                case SPK_TYPE_DOUBLE: same = memcmp(&a.as.f64, &b.as.f64, sizeof(double)) == 0; break;
                case SPK_TYPE_STRING:
                    same = a.as.str.len == b.as.str.len && (a.as.str.len == 0 || memcmp(a.as.str.ptr, b.as.str.ptr, a.as.str.len) == 0);
                    break;
                default: same = a.as.i64 == b.as.i64; break;
                }
            if (!same) {
                char x[64], y[64];
                spk_value_format(&a, x, sizeof x);
                spk_value_format(&b, y, sizeof y);
                failf(file, line, "row %zu column %d: got %s, expected %s", r, c, x, y);
                return false;
            }
        }
    return true;
}
#define CHECK_ROWS(got, want) same_rows(__FILE__, __LINE__, (got), (want))

/* A saved table equals a fixture (values only: saved columns are nullable). */
static void check_table_fixture(const char *file, int line, spk_session *s, const char *name, const char *fixture) {
    spk_table *want = NULL;
    if (spk_table_from_fixture(NULL, fixture, &want) != SPK_OK) {
        failf(file, line, "bad fixture: %s", spk_last_error());
        return;
    }
    spk_table *got = read_table(s, name);
    if (!got) failf(file, line, "cannot read table %s: %s %s", name, spk_status_name(spk_last_status()), spk_last_error());
    else same_rows(file, line, got, want);
    spk_table_free(got);
    spk_table_free(want);
}
#define CHECK_TABLE(s, name, fixture) check_table_fixture(__FILE__, __LINE__, (s), (name), (fixture))

static uint64_t version_of(spk_session *s, const char *name) {
    uint64_t v = 0;
    if (spk_catalog_table_version(s, name, &v) != SPK_OK) return 0;
    return v;
}

/* "a,b,c" for a name list. */
static void names_text(const spk_names *n, char *out, size_t cap) {
    size_t used = 0;
    out[0] = 0;
    for (int i = 0; i < n->n && used < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? "," : "", n->names[i]);
}

static void check_databases(const char *file, int line, spk_session *s, const char *want) {
    spk_names n;
    char text[512];
    if (spk_catalog_list_databases(s, &n) != SPK_OK) {
        failf(file, line, "list_databases failed: %s", spk_last_error());
        return;
    }
    names_text(&n, text, sizeof text);
    if (strcmp(text, want) != 0) failf(file, line, "databases: got \"%s\", expected \"%s\"", text, want);
    spk_names_free(&n);
}
#define CHECK_DATABASES(s, want) check_databases(__FILE__, __LINE__, (s), (want))

static void check_tables(const char *file, int line, spk_session *s, const char *db, const char *want) {
    spk_names n;
    char text[512];
    if (spk_catalog_list_tables(s, db, &n) != SPK_OK) {
        failf(file, line, "list_tables(%s) failed: %s", db, spk_last_error());
        return;
    }
    names_text(&n, text, sizeof text);
    if (strcmp(text, want) != 0) failf(file, line, "tables of %s: got \"%s\", expected \"%s\"", db, text, want);
    spk_names_free(&n);
}
#define CHECK_TABLES(s, db, want) check_tables(__FILE__, __LINE__, (s), (db), (want))

/* ------------------------------------------------------------ round trips */

static spk_schema *schema_of(const char *ddl) {
    spk_schema *s = NULL;
    if (spk_schema_parse(NULL, ddl, &s) != SPK_OK) FAILF("cannot parse %s: %s", ddl, spk_last_error());
    return s;
}

static spk_table *new_table(const char *ddl) {
    spk_schema *schema = schema_of(ddl);
    spk_table *t = NULL;
    if (schema && spk_table_new(NULL, schema, &t) != SPK_OK) FAILF("spk_table_new: %s", spk_last_error());
    spk_schema_release(schema);
    return t;
}

/* Every column type, with NULLs, NaN, -0.0, infinities, extreme integers,
 * empty strings and bytes that are not text. */
static spk_table *all_types_table(void) {
    spk_table *t = new_table("b BOOLEAN, i INT, l BIGINT, d DOUBLE, m DECIMAL(12,3), dt DATE, ts TIMESTAMP, s STRING, "
                             "e DECIMAL(18,0), `odd name` STRING");
    if (!t) return NULL;
    const spk_value null = spk_value_null();
    int32_t day = 0;
    int64_t ts = 0;
    spk_date_from_ymd(2024, 2, 29, &day);
    spk_timestamp_from_parts(1969, 12, 31, 23, 59, 59, 999999, &ts);
    spk_value rows[][10] = {
        {spk_value_bool(true), spk_value_i32(INT32_MIN), spk_value_i64(INT64_MAX), spk_value_f64(-0.0),
         spk_value_decimal(-123456789012, 12, 3), spk_value_date(day), spk_value_timestamp(ts), spk_value_str(""),
         spk_value_decimal(999999999999999999LL, 18, 0), spk_value_str("first")},
        {null, null, null, null, null, null, null, null, null, null},
        {spk_value_bool(false), spk_value_i32(INT32_MAX), spk_value_i64(INT64_MIN), spk_value_f64(NAN),
         spk_value_decimal(1, 12, 3), spk_value_date(-719162), spk_value_timestamp(INT64_MIN / 2),
         spk_value_strn("a\0b\xff", 4), spk_value_decimal(-999999999999999999LL, 18, 0), null},
        {null, spk_value_i32(0), spk_value_i64(0), spk_value_f64(INFINITY), spk_value_decimal(0, 12, 3), null,
         spk_value_timestamp(0), spk_value_str("h\xc3\xa9llo, w\xc3\xb6rld \"quoted\"\n"), null, spk_value_str("")},
        {spk_value_bool(true), null, spk_value_i64(-1), spk_value_f64(-INFINITY), spk_value_decimal(-1, 12, 3),
         spk_value_date(2932896), null, null, spk_value_decimal(5, 18, 0), spk_value_str("last")},
        {spk_value_bool(false), spk_value_i32(-1), null, spk_value_f64(5e-324), null, spk_value_date(0),
         spk_value_timestamp(INT64_MAX / 2), spk_value_str(""), spk_value_decimal(0, 18, 0), spk_value_str("")},
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++)
        if (spk_table_append_row(t, rows[r], 10) != SPK_OK) FAILF("append row %zu: %s", r, spk_last_error());
    return t;
}

/* More than two chunks, with strings (some NULL, some empty) in two columns. */
static spk_table *big_table(size_t nrows) {
    spk_table *t = new_table("id BIGINT, s STRING, d DOUBLE, u STRING");
    if (!t) return NULL;
    char text[64];
    for (size_t i = 0; i < nrows; i++) {
        snprintf(text, sizeof text, "row %zu %.*s", i, (int)(i % 17), "abcdefghijklmnopqrstuvwxyz");
        spk_value row[4] = {spk_value_i64((int64_t)i * 7919), i % 7 == 0 ? spk_value_null() : spk_value_str(text),
                            i % 5 == 0 ? spk_value_null() : spk_value_f64((double)i / 3.0),
                            i % 11 == 0 ? spk_value_str("") : spk_value_strn(text, i % 9)};
        if (spk_table_append_row(t, row, 4) != SPK_OK) {
            FAILF("append row %zu: %s", i, spk_last_error());
            break;
        }
    }
    return t;
}

static void test_round_trip_all_types(void) {
    char base[512];
    fresh_base(base, sizeof base);
    spk_table *want = all_types_table();
    spk_session *s = OPEN(base);
    if (!s || !want) goto done;
    CHECK_OK(save_table(s, "all_types", want, NULL));
    spk_table *got = read_table(s, "all_types");
    CHECK_ROWS(got, want);
    spk_table_free(got);
    spk_session_stop(s);
    CHECK(path_exists_f("%s/default/all_types.1.spkt", base));
    CHECK_EQ_INT(count_suffix(base, ""), 3); /* ".", "..", "default" */

    s = OPEN(base);
    if (!s) goto done;
    got = read_table(s, "all_types");
    CHECK_ROWS(got, want);
    if (got) {
        char ddl[512];
        spk_schema_ddl(spk_table_schema(got), ddl, sizeof ddl);
        CHECK_STR(ddl, "b BOOLEAN, i INT, l BIGINT, d DOUBLE, m DECIMAL(12,3), dt DATE, ts TIMESTAMP, s STRING, "
                       "e DECIMAL(18,0), `odd name` STRING");
    }
    spk_table_free(got);
    CHECK_EQ_INT(version_of(s, "all_types"), 1);
    spk_session_stop(s);
done:
    spk_table_free(want);
    rm_tree(base);
}

static void test_round_trip_multi_chunk(void) {
    char base[512];
    fresh_base(base, sizeof base);
    spk_table *want = big_table(2 * SPK_CHUNK_ROWS + 4321);
    spk_session *s = OPEN(base);
    if (!s || !want) goto done;
    CHECK(spk_table_nchunks(want) >= 3);
    CHECK_OK(save_table(s, "big", want, NULL));
    spk_session_stop(s);
    s = OPEN(base);
    if (!s) goto done;
    spk_table *got = read_table(s, "big");
    CHECK_ROWS(got, want);
    spk_table_free(got);
    /* append to the loaded table, and again across a reopen */
    CHECK_OK(save_fixture(s, "big", "id BIGINT, s STRING, d DOUBLE, u STRING\n-1,tail,0.5,NULL", "append"));
    spk_session_stop(s);
    s = OPEN(base);
    if (!s) goto done;
    got = read_table(s, "big");
    CHECK(got && spk_table_nrows(got) == spk_table_nrows(want) + 1);
    if (got && spk_table_nrows(got) == spk_table_nrows(want) + 1) {
        spk_value v;
        CHECK_OK(spk_table_get(got, spk_table_nrows(want), 1, &v));
        CHECK(v.type.id == SPK_TYPE_STRING && v.as.str.len == 4 && memcmp(v.as.str.ptr, "tail", 4) == 0);
        CHECK_OK(spk_table_get(got, 70000, 0, &v));
        CHECK_EQ_INT(v.as.i64, 70000LL * 7919);
    }
    spk_table_free(got);
    CHECK_EQ_INT(version_of(s, "big"), 2);
    spk_session_stop(s);
    CHECK(!path_exists_f("%s/default/big.1.spkt", base));
    CHECK(path_exists_f("%s/default/big.2.spkt", base));
done:
    spk_table_free(want);
    rm_tree(base);
}

static void test_empty_table(void) {
    char base[512];
    fresh_base(base, sizeof base);
    spk_session *s = OPEN(base);
    if (!s) goto done;
    CHECK_OK(save_fixture(s, "nothing", "a INT, b STRING", NULL));
    spk_session_stop(s);
    s = OPEN(base);
    if (!s) goto done;
    spk_table *got = read_table(s, "nothing");
    CHECK(got && spk_table_nrows(got) == 0 && spk_schema_ncols(spk_table_schema(got)) == 2);
    spk_table_free(got);
    CHECK_OK(save_fixture(s, "nothing", "a INT, b STRING\n1,x", "append"));
    CHECK_TABLE(s, "nothing", "a INT, b STRING\n1,x");
    spk_session_stop(s);
done:
    rm_tree(base);
}

/* ------------------------------------------------------------ the catalog across reopening */

static void test_reopen_catalog(void) {
    char base[512];
    fresh_base(base, sizeof base);
    spk_session *s = OPEN(base);
    if (!s) goto done;
    CHECK_OK(spk_catalog_create_database(s, "sales", false));
    CHECK_OK(spk_catalog_create_database(s, "HR", false));
    CHECK_OK(spk_catalog_create_database(s, "empty_db", false));
    CHECK_OK(save_fixture(s, "sales.orders", "id INT, amount DECIMAL(10,2)\n1,9.99", NULL));
    CHECK_OK(save_fixture(s, "sales.orders", "id INT, amount DECIMAL(10,2)\n2,19.99", "overwrite"));
    CHECK_OK(save_fixture(s, "sales.orders", "id INT, amount DECIMAL(10,2)\n3,29.99\n4,NULL", "overwrite"));
    CHECK_OK(save_fixture(s, "sales.customers", "name STRING\nAda\nGrace", NULL));
    CHECK_OK(save_fixture(s, "hr.people", "name STRING, age INT\nAlan,41", NULL));
    CHECK_OK(save_fixture(s, "t", "x DOUBLE\n1.5", NULL));
    spk_session_stop(s);

    CHECK(path_exists_f("%s/sales/orders.3.spkt", base));
    CHECK(!path_exists_f("%s/sales/orders.2.spkt", base));
    CHECK(!path_exists_f("%s/sales/orders.1.spkt", base));
    CHECK(path_exists_f("%s/hr/people.1.spkt", base));
    CHECK(path_exists_f("%s/empty_db", base));

    s = OPEN(base);
    if (!s) goto done;
    CHECK_DATABASES(s, "default,empty_db,hr,sales");
    CHECK_TABLES(s, "sales", "customers,orders");
    CHECK_TABLES(s, "hr", "people");
    CHECK_TABLES(s, "empty_db", "");
    CHECK_TABLES(s, "default", "t");
    CHECK_EQ_INT(version_of(s, "sales.orders"), 3);
    CHECK_EQ_INT(version_of(s, "sales.customers"), 1);
    CHECK_TABLE(s, "sales.orders", "id INT, amount DECIMAL(10,2)\n3,29.99\n4,NULL");
    CHECK_TABLE(s, "sales.customers", "name STRING\nAda\nGrace");
    CHECK_TABLE(s, "hr.people", "name STRING, age INT\nAlan,41");
    CHECK_TABLE(s, "t", "x DOUBLE\n1.5");
    /* versions continue from the files */
    CHECK_OK(save_fixture(s, "sales.orders", "id INT, amount DECIMAL(10,2)\n5,1.00", "overwrite"));
    CHECK_EQ_INT(version_of(s, "sales.orders"), 4);
    spk_session_stop(s);
    s = OPEN(base);
    if (!s) goto done;
    CHECK_EQ_INT(version_of(s, "sales.orders"), 4);
    CHECK_TABLE(s, "sales.orders", "id INT, amount DECIMAL(10,2)\n5,1.00");
    spk_session_stop(s);
done:
    rm_tree(base);
}

static void test_append_then_reopen(void) {
    char base[512];
    fresh_base(base, sizeof base);
    spk_session *s = OPEN(base);
    if (!s) goto done;
    CHECK_OK(save_fixture(s, "t", "id INT, name STRING\n1,a\n2,NULL", NULL));
    CHECK_OK(save_fixture(s, "t", "id INT, name STRING\n3,ccc", "append"));
    /* a failed append changes nothing, on disk either */
    CHECK_STATUS(save_fixture(s, "t", "id INT, other STRING\n9,z", "append"), SPK_ERR_SCHEMA);
    spk_session_stop(s);
    CHECK(path_exists_f("%s/default/t.2.spkt", base));
    CHECK(!path_exists_f("%s/default/t.1.spkt", base));
    CHECK(!path_exists_f("%s/default/t.3.spkt", base));
    char dir[600];
    snprintf(dir, sizeof dir, "%s/default", base);
    CHECK_EQ_INT(count_suffix(dir, ".tmp"), 0);

    s = OPEN(base);
    if (!s) goto done;
    CHECK_EQ_INT(version_of(s, "t"), 2);
    CHECK_TABLE(s, "t", "id INT, name STRING\n1,a\n2,NULL\n3,ccc");
    CHECK_OK(save_fixture(s, "t", "id INT, name STRING\n4,\"\"", "append"));
    spk_session_stop(s);
    s = OPEN(base);
    if (!s) goto done;
    CHECK_EQ_INT(version_of(s, "t"), 3);
    CHECK_TABLE(s, "t", "id INT, name STRING\n1,a\n2,NULL\n3,ccc\n4,\"\"");
    spk_session_stop(s);
    CHECK_EQ_INT(count_suffix(dir, ".spkt"), 1);
done:
    rm_tree(base);
}

static void test_overwrite_then_reopen(void) {
    char base[512];
    fresh_base(base, sizeof base);
    spk_session *s = OPEN(base);
    if (!s) goto done;
    CHECK_OK(save_fixture(s, "t", "a INT\n1\n2\n3", NULL));
    CHECK_OK(save_fixture(s, "t", "x STRING, y DOUBLE\nhello,2.5", "overwrite"));
    spk_session_stop(s);
    s = OPEN(base);
    if (!s) goto done;
    CHECK_EQ_INT(version_of(s, "t"), 2);
    CHECK_TABLE(s, "t", "x STRING, y DOUBLE\nhello,2.5");
    spk_df *df = spk_session_table(s, "t");
    const char *cols[4] = {0};
    CHECK_EQ_INT(spk_df_columns(df, cols, 4), 2);
    CHECK_STR(cols[0], "x");
    CHECK_STR(cols[1], "y");
    spk_df_release(df);
    /* "ignore" and "error" leave it alone */
    CHECK_OK(save_fixture(s, "t", "z INT\n7", "ignore"));
    CHECK_STATUS(save_fixture(s, "t", "z INT\n7", NULL), SPK_ERR_EXISTS);
    spk_session_stop(s);
    s = OPEN(base);
    if (!s) goto done;
    CHECK_EQ_INT(version_of(s, "t"), 2);
    CHECK_TABLE(s, "t", "x STRING, y DOUBLE\nhello,2.5");
    spk_session_stop(s);
done:
    rm_tree(base);
}

static void test_drop_then_reopen(void) {
    char base[512];
    fresh_base(base, sizeof base);
    spk_session *s = OPEN(base);
    if (!s) goto done;
    CHECK_OK(save_fixture(s, "t", "a INT\n1", NULL));
    CHECK_OK(save_fixture(s, "t", "a INT\n2", "append"));
    CHECK_OK(save_fixture(s, "u", "a INT\n3", NULL));
    CHECK_OK(spk_catalog_create_database(s, "scratch", false));
    CHECK_OK(save_fixture(s, "scratch.x", "a INT\n4", NULL));
    CHECK_OK(save_fixture(s, "scratch.y", "a INT\n5", NULL));
    CHECK_OK(spk_catalog_create_database(s, "gone", false));
    CHECK_OK(spk_catalog_drop_table(s, "t", false));
    CHECK(!path_exists_f("%s/default/t.2.spkt", base));
    CHECK_STATUS(spk_catalog_drop_database(s, "scratch", false, false), SPK_ERR_STATE);
    CHECK(path_exists_f("%s/scratch/x.1.spkt", base));
    CHECK_OK(spk_catalog_drop_database(s, "gone", false, false));
    CHECK(!path_exists_f("%s/gone", base));
    spk_session_stop(s);

    s = OPEN(base);
    if (!s) goto done;
    CHECK(!spk_catalog_table_exists(s, "t"));
    CHECK_TABLES(s, "default", "u");
    CHECK_DATABASES(s, "default,scratch");
    CHECK_TABLES(s, "scratch", "x,y");
    CHECK_OK(spk_catalog_drop_database(s, "scratch", false, true));
    CHECK(!path_exists_f("%s/scratch", base));
    /* a table made again after a drop starts at version 1 */
    CHECK_OK(save_fixture(s, "t", "b STRING\nagain", NULL));
    CHECK_EQ_INT(version_of(s, "t"), 1);
    spk_session_stop(s);

    s = OPEN(base);
    if (!s) goto done;
    CHECK_DATABASES(s, "default");
    CHECK_TABLES(s, "default", "t,u");
    CHECK_TABLE(s, "t", "b STRING\nagain");
    CHECK_TABLE(s, "u", "a INT\n3");
    spk_session_stop(s);
done:
    rm_tree(base);
}

/* ------------------------------------------------------------ left-over and foreign files */

static void put_file(const char *path, const char *text) {
    if (!write_bytes(path, (const unsigned char *)text, strlen(text))) FAILF("cannot write %s", path);
}

static void test_stray_files(void) {
    char base[512], path[1024];
    fresh_base(base, sizeof base);
    spk_session *s = OPEN(base);
    if (!s) goto done;
    CHECK_OK(save_fixture(s, "t", "a INT\n1", NULL));
    spk_session_stop(s);
    /* a write interrupted before its rename, and names that are not the backend's */
    snprintf(path, sizeof path, "%s/default/.t.2.4242_0.tmp", base);
    put_file(path, "half a file");
    snprintf(path, sizeof path, "%s/default/.u.1.4242_1.tmp", base);
    put_file(path, "SPKT");
    snprintf(path, sizeof path, "%s/default/notes.txt", base);
    put_file(path, "keep me");
    snprintf(path, sizeof path, "%s/default/t.01.spkt", base);
    put_file(path, "not a canonical version");
    snprintf(path, sizeof path, "%s/default/T.5.spkt", base);
    put_file(path, "not a table name");
    snprintf(path, sizeof path, "%s/default/v.0.spkt", base);
    put_file(path, "version 0 does not exist");
    snprintf(path, sizeof path, "%s/Upper", base);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/.hidden", base);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/readme", base);
    put_file(path, "a file, not a database");

    s = OPEN(base);
    if (!s) goto done;
    CHECK_DATABASES(s, "default");
    CHECK_TABLES(s, "default", "t");
    CHECK_EQ_INT(version_of(s, "t"), 1);
    CHECK_TABLE(s, "t", "a INT\n1");
    spk_session_stop(s);
    CHECK(!path_exists_f("%s/default/.t.2.4242_0.tmp", base));
    CHECK(!path_exists_f("%s/default/.u.1.4242_1.tmp", base));
    CHECK(path_exists_f("%s/default/notes.txt", base));
    CHECK(path_exists_f("%s/default/t.01.spkt", base));
    CHECK(path_exists_f("%s/default/T.5.spkt", base));
    CHECK(path_exists_f("%s/Upper", base));
    CHECK(path_exists_f("%s/readme", base));
done:
    rm_tree(base);
}

static void test_highest_version_wins(void) {
    char base[512], v1[1024], v2[1024], v5[1024];
    fresh_base(base, sizeof base);
    snprintf(v1, sizeof v1, "%s/default/t.1.spkt", base);
    snprintf(v2, sizeof v2, "%s/default/t.2.spkt", base);
    snprintf(v5, sizeof v5, "%s/default/t.5.spkt", base);
    size_t n1 = 0;
    unsigned char *first = NULL;
    spk_session *s = OPEN(base);
    if (!s) goto done;
    CHECK_OK(save_fixture(s, "t", "a INT\n1", NULL));
    first = read_bytes(v1, &n1);
    CHECK(first != NULL);
    CHECK_OK(save_fixture(s, "t", "a INT\n2", "overwrite"));
    spk_session_stop(s);
    if (!first) goto done;
    CHECK(!file_exists(v1));
    CHECK(file_exists(v2));
    /* a crash between the rename and the removal of the old version */
    CHECK(write_bytes(v1, first, n1));
    s = OPEN(base);
    if (!s) goto done;
    CHECK_EQ_INT(version_of(s, "t"), 2);
    CHECK_TABLE(s, "t", "a INT\n2");
    spk_session_stop(s);
    CHECK(!file_exists(v1));
    /* the higher number wins whatever the content */
    CHECK(write_bytes(v5, first, n1));
    s = OPEN(base);
    if (!s) goto done;
    CHECK_EQ_INT(version_of(s, "t"), 5);
    CHECK_TABLE(s, "t", "a INT\n1");
    CHECK_OK(save_fixture(s, "t", "a INT\n6", "append"));
    CHECK_EQ_INT(version_of(s, "t"), 6);
    spk_session_stop(s);
    CHECK(!file_exists(v2));
    CHECK(!file_exists(v5));
    CHECK(path_exists_f("%s/default/t.6.spkt", base));
done:
    free(first);
    rm_tree(base);
}

/* ------------------------------------------------------------ damaged files */

/* An independent CRC-32 (bitwise), as the format specifies. */
static uint32_t crc32_bitwise(uint32_t crc, const unsigned char *p, size_t n) {
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

typedef struct fbuf {
    unsigned char p[4096];
    size_t n;
} fbuf;
static void fb_bytes(fbuf *b, const void *p, size_t n) {
    if (b->n + n <= sizeof b->p) memcpy(b->p + b->n, p, n);
    b->n += n;
}
static void fb_u32(fbuf *b, uint32_t v) {
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    fb_bytes(b, x, 4);
}
static void fb_u64(fbuf *b, uint64_t v) {
    fb_u32(b, (uint32_t)v);
    fb_u32(b, (uint32_t)(v >> 32));
}

/* What a hand-made file holds: one schema, chunks of raw slots and heaps. */
typedef struct hand_chunk {
    uint32_t nrows;
    const unsigned char *slots;
    size_t slot_bytes;
    const char *heap;
    uint32_t heap_len;
} hand_chunk;

typedef struct hand_file {
    const char *ddl;
    uint32_t version, flags, width, ncols;
    uint64_t nrows;
    uint32_t nchunks; /* as written in the header */
    const hand_chunk *chunks;
    int nchunk_specs;
    const char *extra; /* bytes between the last chunk and the trailer */
} hand_file;

static void build_file(fbuf *b, const hand_file *h) {
    b->n = 0;
    fb_bytes(b, "SPKT", 4);
    fb_u32(b, h->version);
    fb_u32(b, h->flags);
    fb_u32(b, (uint32_t)strlen(h->ddl));
    fb_bytes(b, h->ddl, strlen(h->ddl));
    fb_u32(b, h->width);
    fb_u32(b, h->ncols);
    fb_u64(b, h->nrows);
    fb_u32(b, h->nchunks);
    uint32_t header_crc = crc32_bitwise(0, b->p, b->n);
    for (int i = 0; i < h->nchunk_specs; i++) {
        size_t start = b->n;
        fb_u32(b, h->chunks[i].nrows);
        fb_u32(b, h->chunks[i].heap_len);
        fb_bytes(b, h->chunks[i].slots, h->chunks[i].slot_bytes);
        fb_bytes(b, h->chunks[i].heap, h->chunks[i].heap_len);
        fb_u32(b, crc32_bitwise(0, b->p + start, b->n - start));
    }
    if (h->extra) fb_bytes(b, h->extra, strlen(h->extra));
    fb_u32(b, header_crc);
    fb_bytes(b, "TKPS", 4);
}

/* A catalog with a good table and a bad one whose file is replaced by
 * `bytes`: the bad one must fail with SPK_ERR_CORRUPT naming the file (and
 * `needle`, if given) and the good one read fine. */
static bool check_corrupt(const char *file, int line, const char *base, const unsigned char *bytes, size_t n,
                          const char *needle, const char *what) {
    char bad[1024];
    snprintf(bad, sizeof bad, "%s/default/bad.1.spkt", base);
    if (!write_bytes(bad, bytes, n)) {
        failf(file, line, "cannot write %s", bad);
        return false;
    }
    bool ok = true;
    spk_session *s = open_opts(base, NULL, "1");
    if (!s) {
        failf(file, line, "%s: open failed: %s", what, spk_last_error());
        return false;
    }
    spk_clear_error();
    spk_df *df = spk_session_table(s, "bad");
    if (df || spk_last_status() != SPK_ERR_CORRUPT || !strstr(spk_last_error(), bad) ||
        (needle && !strstr(spk_last_error(), needle))) {
        failf(file, line, "%s: reading the bad table gave %s \"%s\" (expected SPK_ERR_CORRUPT naming %s%s%s)", what,
              df ? "a DataFrame" : spk_status_name(spk_last_status()), spk_last_error(), bad, needle ? " and " : "",
              needle ? needle : "");
        ok = false;
    }
    spk_df_release(df);
    CHECK(spk_catalog_table_exists(s, "bad"));
    spk_table *good = read_table(s, "good");
    spk_value v;
    if (!good || spk_table_nrows(good) != 2 || spk_table_get(good, 1, 1, &v) != SPK_OK || v.as.str.len != 5) {
        failf(file, line, "%s: the good table does not read: %s", what, spk_last_error());
        ok = false;
    }
    spk_table_free(good);
    spk_session_stop(s);
    return ok;
}
#define CHECK_CORRUPT(base, bytes, n, needle, what) check_corrupt(__FILE__, __LINE__, (base), (bytes), (n), (needle), (what))

/* base with tables good and bad (bad.1.spkt's bytes returned). */
static unsigned char *corrupt_setup(char *base, size_t cap, size_t *n) {
    fresh_base(base, cap);
    spk_session *s = OPEN(base);
    if (!s) return NULL;
    CHECK_OK(save_fixture(s, "good", "id INT, s STRING\n1,one\n2,three", NULL));
    CHECK_OK(save_fixture(s, "bad", "id INT, s STRING, d DOUBLE\n1,x,0.5\n2,NULL,NULL\n3,yz,-1", NULL));
    spk_session_stop(s);
    char path[1024];
    snprintf(path, sizeof path, "%s/default/bad.1.spkt", base);
    unsigned char *bytes = read_bytes(path, n);
    if (!bytes) FAILF("cannot read %s", path);
    return bytes;
}

static void test_corrupt_every_byte(void) {
    char base[512], what[64];
    size_t n = 0;
    unsigned char *bytes = corrupt_setup(base, sizeof base, &n);
    if (!bytes) goto done;
    CHECK(n > 60);
    for (size_t i = 0; i < n; i++) {
        bytes[i] ^= 0xFF;
        snprintf(what, sizeof what, "byte %zu of %zu flipped", i, n);
        bool ok = CHECK_CORRUPT(base, bytes, n, NULL, what);
        bytes[i] ^= 0xFF;
        if (!ok) break;
    }
    /* the bytes as they were read fine */
    char path[1024];
    snprintf(path, sizeof path, "%s/default/bad.1.spkt", base);
    CHECK(write_bytes(path, bytes, n));
    spk_session *s = OPEN(base);
    if (s) {
        CHECK_TABLE(s, "bad", "id INT, s STRING, d DOUBLE\n1,x,0.5\n2,NULL,NULL\n3,yz,-1");
        spk_session_stop(s);
    }
done:
    free(bytes);
    rm_tree(base);
}

static void test_corrupt_sections(void) {
    char base[512];
    size_t n = 0;
    unsigned char *bytes = corrupt_setup(base, sizeof base, &n);
    if (!bytes) goto done;
    uint32_t ddl_len = (uint32_t)bytes[12] | (uint32_t)bytes[13] << 8;
    size_t chunk = 36 + ddl_len; /* the first chunk's header */
    struct {
        size_t at;
        const char *needle;
    } flips[] = {
        {0, "bad magic"},
        {4, "format version"},
        {8, "flags"},
        {16, "checksum mismatch in the header"},          /* the schema text */
        {16 + ddl_len, "checksum mismatch in the header"}, /* the row width */
        {chunk + 12, "checksum mismatch in chunk 1"},      /* a row slot */
        {n - 14, "checksum mismatch in chunk 1"},          /* the string heap */
        {n - 9, "checksum mismatch in chunk 1"},           /* the chunk's checksum */
        {n - 6, "checksum mismatch in the header"},        /* the trailer's checksum */
        {n - 1, "end marker"},
    };
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "byte %zu flipped", flips[i].at);
        bytes[flips[i].at] ^= 0x10;
        CHECK_CORRUPT(base, bytes, n, flips[i].needle, what);
        bytes[flips[i].at] ^= 0x10;
    }
    /* wrong magic; format version 2 */
    memcpy(bytes, "SPKX", 4);
    CHECK_CORRUPT(base, bytes, n, "bad magic", "wrong magic");
    memcpy(bytes, "SPKT", 4);
    bytes[4] = 2;
    CHECK_CORRUPT(base, bytes, n, "format version 2 is not supported", "format version 2");
    bytes[4] = 1;
    /* an extra byte at the end, and a copy of the end marker past it */
    unsigned char *longer = (unsigned char *)malloc(n + 8);
    if (longer) {
        memcpy(longer, bytes, n);
        longer[n] = 0;
        CHECK_CORRUPT(base, longer, n + 1, "end marker", "one byte appended");
        memcpy(longer + n, bytes + n - 8, 8);
        CHECK_CORRUPT(base, longer, n + 8, NULL, "trailer repeated");
        free(longer);
    }
done:
    free(bytes);
    rm_tree(base);
}

static void test_corrupt_truncated(void) {
    char base[512], what[64];
    size_t n = 0;
    unsigned char *bytes = corrupt_setup(base, sizeof base, &n);
    if (!bytes) goto done;
    for (size_t len = 0; len < n; len++) {
        snprintf(what, sizeof what, "truncated to %zu of %zu bytes", len, n);
        if (!CHECK_CORRUPT(base, bytes, len, NULL, what)) break;
    }
    CHECK_CORRUPT(base, bytes, n - 8, "end marker", "no trailer");
    CHECK_CORRUPT(base, bytes, 3, "too short", "three bytes");
done:
    free(bytes);
    rm_tree(base);
}

/* Files made by hand from the specification: one that is right reads back;
 * ones with valid checksums but content that would make reads go wrong are
 * refused. */
static void test_hand_made_files(void) {
    char base[512], path[1024];
    size_t n = 0;
    unsigned char *orig = corrupt_setup(base, sizeof base, &n);
    bool ready = orig != NULL;
    free(orig);
    if (!ready) goto done;
    snprintf(path, sizeof path, "%s/default/bad.1.spkt", base);
    CHECK_EQ_INT(crc32_bitwise(0, (const unsigned char *)"123456789", 9), 0xCBF43926u);

    /* "id INT, s STRING": (7, "ab"), (NULL, "cde"); width 1 + 4 + 4 */
    unsigned char slots[18] = {0x00, 7, 0, 0, 0, 2, 0, 0, 0, /* row 2: id NULL */ 0x01, 0xEE, 0xEE, 0xEE, 0xEE, 5, 0, 0, 0};
    hand_chunk good_chunk = {2, slots, sizeof slots, "abcde", 5};
    hand_file h = {"id INT, s STRING", 1, 0, 9, 2, 2, 1, &good_chunk, 1, NULL};
    fbuf b;
    build_file(&b, &h);
    CHECK(write_bytes(path, b.p, b.n));
    spk_session *s = OPEN(base);
    if (s) {
        CHECK_TABLE(s, "bad", "id INT, s STRING\n7,ab\nNULL,cde");
        spk_session_stop(s);
    }
    /* the same rows as two chunks */
    hand_chunk two[2] = {{1, slots, 9, "ab", 2}, {1, slots + 9, 9, "xyzcde", 6}};
    unsigned char second[9];
    memcpy(second, slots + 9, 9);
    second[5] = 6; /* "xyzcde" ends at 6 */
    two[1].slots = second;
    hand_file h2 = {"id INT, s STRING", 1, 0, 9, 2, 2, 2, two, 2, NULL};
    build_file(&b, &h2);
    CHECK(write_bytes(path, b.p, b.n));
    s = OPEN(base);
    if (s) {
        CHECK_TABLE(s, "bad", "id INT, s STRING\n7,ab\nNULL,xyzcde");
        spk_session_stop(s);
    }

    struct {
        const char *what, *needle;
        hand_file file;
        hand_chunk chunk;
        int patch_at;          /* a byte of the slots to change, or -1 */
        unsigned char patch;
    } cases[] = {
        {"string offset past the heap", "past the end of the string heap", h, good_chunk, 14, 9},
        {"string offsets going back", "before the previous string", h, good_chunk, 14, 1},
        {"strings not filling the heap", "the string heap holds", h, {2, slots, sizeof slots, "abcdef", 6}, -1, 0},
        {"heap without strings", "without strings", {"id INT", 1, 0, 5, 1, 1, 1, NULL, 1, NULL},
         {1, (const unsigned char *)"\0\1\0\0\0", 5, "zz", 2}, -1, 0},
        {"NULL in a NOT NULL column", "NOT NULL column `id`", {"id INT NOT NULL, s STRING", 1, 0, 9, 2, 2, 1, NULL, 1, NULL},
         good_chunk, -1, 0},
        {"empty chunk", "chunk 1 holds 0 rows", h, {0, slots, 0, "", 0}, -1, 0},
        {"too many rows in a chunk", "holds 65537 rows", h, {65537, slots, sizeof slots, "abcde", 5}, -1, 0},
        {"row count too high", "the header says 3", {"id INT, s STRING", 1, 0, 9, 2, 3, 1, NULL, 1, NULL}, good_chunk, -1, 0},
        {"row count too low", "more than the header's 1 rows", {"id INT, s STRING", 1, 0, 9, 2, 1, 1, NULL, 1, NULL}, good_chunk,
         -1, 0},
        {"wrong row width", "the header gives 2 columns in 10 bytes", {"id INT, s STRING", 1, 0, 10, 2, 2, 1, NULL, 1, NULL},
         good_chunk, -1, 0},
        {"wrong column count", "the header gives 3 columns", {"id INT, s STRING", 1, 0, 9, 3, 2, 1, NULL, 1, NULL}, good_chunk,
         -1, 0},
        {"more chunks than fit", "chunks cannot fit", {"id INT, s STRING", 1, 0, 9, 2, 2, 0xFFFFFFFFu, NULL, 1, NULL},
         good_chunk, -1, 0},
        {"fewer chunks than written", "unexpected bytes after the last chunk",
         {"id INT, s STRING", 1, 0, 9, 2, 0, 0, NULL, 1, NULL}, good_chunk, -1, 0},
        {"bytes after the last chunk", "unexpected bytes", {"id INT, s STRING", 1, 0, 9, 2, 2, 1, NULL, 1, "junk"}, good_chunk,
         -1, 0},
        {"schema that does not parse", "the schema does not parse", {"id INTEGRAL, s STRING", 1, 0, 9, 2, 2, 1, NULL, 1, NULL},
         good_chunk, -1, 0},
        {"huge heap length", "extends past the end", h, {2, slots, sizeof slots, "abcde", 5}, -2, 0},
        {"unknown flag", "unsupported flags", {"id INT, s STRING", 1, 4, 9, 2, 2, 1, NULL, 1, NULL}, good_chunk, -1, 0},
        {"format version 0", "format version 0", {"id INT, s STRING", 0, 0, 9, 2, 2, 1, NULL, 1, NULL}, good_chunk, -1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char patched[sizeof slots];
        hand_chunk c = cases[i].chunk;
        hand_file f = cases[i].file;
        if (cases[i].patch_at >= 0) {
            memcpy(patched, c.slots, c.slot_bytes);
            patched[cases[i].patch_at] = cases[i].patch;
            c.slots = patched;
        }
        f.chunks = &c;
        build_file(&b, &f);
        if (cases[i].patch_at == -2) { /* heap length field of the chunk: 0x7FFFFFFF, checksum fixed */
            size_t chunk = 36 + strlen(f.ddl);
            b.p[chunk + 4] = 0xFF;
            b.p[chunk + 7] = 0x7F;
            uint32_t crc = crc32_bitwise(0, b.p + chunk, b.n - 8 - 4 - chunk);
            for (int k = 0; k < 4; k++) b.p[b.n - 12 + k] = (unsigned char)(crc >> (8 * k));
        }
        CHECK_CORRUPT(base, b.p, b.n, cases[i].needle, cases[i].what);
    }
done:
    rm_tree(base);
}

/* A corrupt table can be overwritten (the way to repair it) or dropped. */
static void test_corrupt_table_recovery(void) {
    char base[512], path[1024];
    size_t n = 0;
    unsigned char *bytes = corrupt_setup(base, sizeof base, &n);
    if (!bytes) goto done;
    snprintf(path, sizeof path, "%s/default/bad.1.spkt", base);
    bytes[n - 20] ^= 1;
    CHECK(write_bytes(path, bytes, n));
    spk_session *s = OPEN(base);
    if (!s) goto done;
    CHECK_STATUS(save_fixture(s, "bad", "id INT, s STRING, d DOUBLE\n9,z,1", "append"), SPK_ERR_CORRUPT);
    CHECK_OK(save_fixture(s, "bad", "q STRING\nrepaired", "overwrite"));
    CHECK_TABLE(s, "bad", "q STRING\nrepaired");
    CHECK_OK(save_fixture(s, "good", "id INT, s STRING\n3,seven", "append"));
    spk_session_stop(s);
    CHECK(!file_exists(path));
    s = OPEN(base);
    if (!s) goto done;
    CHECK_EQ_INT(version_of(s, "bad"), 2);
    CHECK_TABLE(s, "bad", "q STRING\nrepaired");
    CHECK_TABLE(s, "good", "id INT, s STRING\n1,one\n2,three\n3,seven");
    spk_session_stop(s);
    /* dropping a corrupt table */
    snprintf(path, sizeof path, "%s/default/bad.2.spkt", base);
    put_file(path, "garbage");
    s = OPEN(base);
    if (!s) goto done;
    CHECK(spk_catalog_table_exists(s, "bad"));
    CHECK_OK(spk_catalog_drop_table(s, "bad", false));
    spk_session_stop(s);
    CHECK(!file_exists(path));
    s = OPEN(base);
    if (!s) goto done;
    CHECK_TABLES(s, "default", "good");
    spk_session_stop(s);
done:
    free(bytes);
    rm_tree(base);
}

/* ------------------------------------------------------------ configuration */

/* ------------------------------------------------------------ commit records
 * The state a crash leaves inside a three-table transaction's commit, made
 * by hand from the format's specification: version 1 of default.a,
 * default.b and other.c committed, version 2 of each prepared in its
 * temporary file, and (per test) the commit record. */

#define PENDING 3
static const char *const pending_db[PENDING] = {"default", "default", "other"};
static const char *const pending_name[PENDING] = {"a", "b", "other.c"}; /* as the catalog names them */
static const char *const pending_file[PENDING] = {"a", "b", "c"};
static const char *const pending_v1[PENDING] = {"x INT\n1", "y STRING\nb1", "z DOUBLE\n1.5"};
static const char *const pending_v2[PENDING] = {"x INT\n2\n3", "y STRING\nb2\nNULL", "z DOUBLE\n2.5"};
/* The record's entries for that state. */
static const char pending_entries[] = "default/a.2.spkt default/.a.2.777_1.tmp\n"
                                      "default/b.2.spkt default/.b.2.777_2.tmp\n"
                                      "other/c.2.spkt other/.c.2.777_3.tmp\n";

typedef struct pending {
    unsigned char *v1[PENDING], *v2[PENDING];
    size_t n1[PENDING], n2[PENDING];
} pending;

static void pending_free(pending *p) {
    for (int i = 0; i < PENDING; i++) {
        free(p->v1[i]);
        free(p->v2[i]);
    }
    memset(p, 0, sizeof *p);
}

static void pending_path(char *out, size_t cap, const char *base, int i, int version, bool tmp) {
    if (tmp) snprintf(out, cap, "%s/%s/.%s.%d.777_%d.tmp", base, pending_db[i], pending_file[i], version, i + 1);
    else snprintf(out, cap, "%s/%s/%s.%d.spkt", base, pending_db[i], pending_file[i], version);
}

/* (Re)makes the state: version 1 files, version 2 in temporary files, no record. */
static bool pending_restore(const char *base, const pending *p) {
    char path[1024];
    bool ok = true;
    for (int i = 0; i < PENDING; i++) {
        pending_path(path, sizeof path, base, i, 1, false);
        ok = write_bytes(path, p->v1[i], p->n1[i]) && ok;
        pending_path(path, sizeof path, base, i, 2, false);
        unlink(path);
        pending_path(path, sizeof path, base, i, 2, true);
        ok = write_bytes(path, p->v2[i], p->n2[i]) && ok;
    }
    snprintf(path, sizeof path, "%s/commit.777_9.spkc", base);
    unlink(path);
    if (!ok) FAILF("cannot make the pending state under %s", base);
    return ok;
}

/* A fresh base with the tables' version files written by the backend itself. */
static bool pending_setup(char *base, size_t cap, pending *p) {
    memset(p, 0, sizeof *p);
    fresh_base(base, cap);
    spk_session *s = OPEN(base);
    if (!s) return false;
    CHECK_OK(spk_catalog_create_database(s, "other", false));
    for (int i = 0; i < PENDING; i++) CHECK_OK(save_fixture(s, pending_name[i], pending_v1[i], NULL));
    spk_session_stop(s);
    char path[1024];
    for (int i = 0; i < PENDING; i++) {
        pending_path(path, sizeof path, base, i, 1, false);
        p->v1[i] = read_bytes(path, &p->n1[i]);
    }
    if (!(s = OPEN(base))) return false;
    for (int i = 0; i < PENDING; i++) CHECK_OK(save_fixture(s, pending_name[i], pending_v2[i], "overwrite"));
    spk_session_stop(s);
    bool ok = true;
    for (int i = 0; i < PENDING; i++) {
        pending_path(path, sizeof path, base, i, 2, false);
        p->v2[i] = read_bytes(path, &p->n2[i]);
        ok = ok && p->v1[i] && p->v2[i];
    }
    if (!ok) FAILF("cannot read the version files under %s", base);
    return ok && pending_restore(base, p);
}

/* A record as the format gives it: the header line, the entries, the checksum line. */
static size_t record_text(char *out, size_t cap, const char *head, const char *entries) {
    int n = snprintf(out, cap, "%s%s", head, entries);
    if (n < 0 || (size_t)n + 10 > cap) return 0;
    snprintf(out + n, cap - (size_t)n, "%08x\n", (unsigned)crc32_bitwise(0, (const unsigned char *)out, (size_t)n));
    return (size_t)n + 9;
}

static bool put_record(const char *base, const char *name, const char *text, size_t len) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", base, name);
    bool ok = write_bytes(path, (const unsigned char *)text, len);
    if (!ok) FAILF("cannot write %s", path);
    return ok;
}

/* Every table is at version `v` with its rows, and nothing else is left
 * over: no record (but `foreign` files named *.spkc), no temporary file,
 * no other version. */
static void check_pending_tables(const char *file, int line, const char *base, int v, int foreign) {
    spk_session *s = open_opts(base, NULL, "1");
    if (!s) {
        failf(file, line, "cannot open %s: %s", base, spk_last_error());
        return;
    }
    for (int i = 0; i < PENDING; i++) {
        uint64_t got = version_of(s, pending_name[i]);
        if (got != (uint64_t)v) failf(file, line, "table %s is at version %llu, expected %d", pending_name[i], (unsigned long long)got, v);
        check_table_fixture(file, line, s, pending_name[i], v == 1 ? pending_v1[i] : pending_v2[i]);
    }
    spk_session_stop(s);
    char dir[600];
    int spkt = 0, tmp = count_suffix(base, ".tmp"), records = count_suffix(base, ".spkc");
    for (int d = 0; d < 2; d++) {
        snprintf(dir, sizeof dir, "%s/%s", base, d ? "other" : "default");
        tmp += count_suffix(dir, ".tmp");
        spkt += count_suffix(dir, ".spkt");
    }
    if (tmp || records != foreign || spkt != PENDING)
        failf(file, line, "after opening: %d temporary files, %d *.spkc files, %d version files (expected 0, %d, %d)", tmp,
              records, spkt, foreign, PENDING);
}
#define CHECK_PENDING_TABLES(base, v) check_pending_tables(__FILE__, __LINE__, (base), (v), 0)

/* A crash after the record's rename: the open finishes the transaction,
 * whichever of its renames were done before the crash. */
static void test_commit_record_redo(void) {
    char base[512], record[4096], from[1024], to[1024];
    pending p;
    if (!pending_setup(base, sizeof base, &p)) goto done;
    size_t len = record_text(record, sizeof record, "SPKC 1 3\n", pending_entries);
    CHECK(len > 0);
    for (int done_before = 0; done_before <= PENDING; done_before++) {
        if (!pending_restore(base, &p)) break;
        for (int i = 0; i < done_before; i++) { /* renamed before the crash, in the record's order */
            pending_path(from, sizeof from, base, i, 2, true);
            pending_path(to, sizeof to, base, i, 2, false);
            CHECK(rename(from, to) == 0);
        }
        if (!put_record(base, "commit.777_9.spkc", record, len)) break;
        CHECK_PENDING_TABLES(base, 2);
        CHECK(!path_exists_f("%s/commit.777_9.spkc", base));
    }
    /* a crash after the renames, before the record's removal: nothing to do but remove it */
    if (put_record(base, "commit.777_9.spkc", record, len)) CHECK_PENDING_TABLES(base, 2);
    /* a record of one table, and one of a table in a database that is gone, are fine too */
    if (pending_restore(base, &p)) {
        size_t n = record_text(record, sizeof record, "SPKC 1 2\n",
                               "default/b.2.spkt default/.b.2.777_2.tmp\ngone/t.5.spkt gone/.t.5.1_1.tmp\n");
        if (put_record(base, "commit.1_1.spkc", record, n)) {
            spk_session *s = OPEN(base);
            if (s) {
                CHECK_EQ_INT(version_of(s, "a"), 1);
                CHECK_EQ_INT(version_of(s, "b"), 2);
                CHECK_TABLE(s, "b", pending_v2[1]);
                CHECK_EQ_INT(version_of(s, "other.c"), 1);
                spk_session_stop(s);
            }
            CHECK_EQ_INT(count_suffix(base, ".spkc"), 0);
        }
    }
done:
    pending_free(&p);
    rm_tree(base);
}

/* A crash before the record's rename leaves its temporary file, whole or
 * torn: the transaction did not commit, and the open removes the lot. */
static void test_commit_record_torn(void) {
    char base[512], record[4096];
    pending p;
    if (!pending_setup(base, sizeof base, &p)) goto done;
    size_t len = record_text(record, sizeof record, "SPKC 1 3\n", pending_entries);
    size_t cuts[] = {len, len - 1, len - 9, 20, 0};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        if (!pending_restore(base, &p) || !put_record(base, ".commit.777_9.tmp", record, cuts[i])) break;
        CHECK_PENDING_TABLES(base, 1);
        CHECK(!path_exists_f("%s/.commit.777_9.tmp", base));
    }
    /* names that are not a record's are not read, and are let be */
    if (pending_restore(base, &p) && put_record(base, "commit.notes.spkc", "not a record", 12) &&
        put_record(base, "commit.1_2.spkc.bak", record, len)) {
        check_pending_tables(__FILE__, __LINE__, base, 1, 1);
        CHECK(path_exists_f("%s/commit.notes.spkc", base));
        CHECK(path_exists_f("%s/commit.1_2.spkc.bak", base));
    }
done:
    pending_free(&p);
    rm_tree(base);
}

/* Every file under dir (recursively) with its size and checksum, sorted. */
static void tree_lines(const char *dir, const char *rel, sbuf *out) {
    DIR *d = opendir(dir);
    if (!d) return;
    char *names[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 256)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            size_t len = strlen(e->d_name) + 1;
            if ((names[n] = (char *)malloc(len)) != NULL) memcpy(names[n++], e->d_name, len);
        }
    closedir(d);
    for (int i = 1; i < n; i++) /* insertion sort: a handful of names */
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *x = names[j];
            names[j] = names[j - 1];
            names[j - 1] = x;
        }
    for (int i = 0; i < n; i++) {
        char path[1024], sub[1024], line[1200];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", names[i]);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            tree_lines(path, sub, out);
        } else {
            size_t len = 0;
            unsigned char *bytes = read_bytes(path, &len);
            snprintf(line, sizeof line, "%s %zu %08x\n", sub, len, (unsigned)crc32_bitwise(0, bytes, bytes ? len : 0));
            free(bytes);
            sb_str(out, line);
        }
        free(names[i]);
    }
}

static char *tree_text(const char *base) {
    sbuf b = {NULL, 0, 0};
    sb_str(&b, "");
    tree_lines(base, "", &b);
    return b.p;
}

/* A committed record that is damaged or names files it must not: the open
 * fails with SPK_ERR_CORRUPT naming the record, and no file changes. */
static void test_commit_record_corrupt(void) {
    char base[512], record[4096], path[1024];
    pending p;
    if (!pending_setup(base, sizeof base, &p)) goto done;
    snprintf(path, sizeof path, "%s/commit.777_9.spkc", base);
    struct {
        const char *what, *head, *entries, *needle;
        int flip;   /* a byte to change after the checksum is made, or -1 */
        int cut;    /* bytes to leave out at the end */
    } cases[] = {
        {"a changed entry", "SPKC 1 3\n", pending_entries, "checksum mismatch", 20, 0},
        {"a changed checksum", "SPKC 1 3\n", pending_entries, "checksum mismatch", -2, 0},
        {"no checksum line", "SPKC 1 3\n", pending_entries, "checksum line", -1, 9},
        {"cut in the checksum line", "SPKC 1 3\n", pending_entries, "checksum line", -1, 4},
        {"cut in an entry", "SPKC 1 3\n", pending_entries, "checksum line", -1, 30},
        {"empty", "", "", "not a commit record", -1, 9},
        {"bad magic", "SPKX 1 3\n", pending_entries, "not a commit record", -1, 0},
        {"format version 2", "SPKC 2 3\n", pending_entries, "format version 2", -1, 0},
        {"no entry count", "SPKC 1\n", pending_entries, "first line", -1, 0},
        {"zero entries", "SPKC 1 0\n", "", "entry count", -1, 0},
        {"a leading zero", "SPKC 1 03\n", pending_entries, "entry count", -1, 0},
        {"fewer entries than counted", "SPKC 1 4\n", pending_entries, "ends after 3 of its 4 entries", -1, 0},
        {"more entries than counted", "SPKC 1 2\n", pending_entries, "unexpected text after its 2 entries", -1, 0},
        {"an absolute path", "SPKC 1 1\n", "/etc/a.2.spkt /etc/.a.2.777_1.tmp\n", "entry 1", -1, 0},
        {"an absolute temporary file", "SPKC 1 1\n", "default/a.2.spkt /default/.a.2.777_1.tmp\n", "entry 1", -1, 0},
        {"a parent directory", "SPKC 1 1\n", "../default/a.2.spkt ../default/.a.2.777_1.tmp\n", "entry 1", -1, 0},
        {"a parent directory inside", "SPKC 1 1\n", "default/../a.2.spkt default/../.a.2.777_1.tmp\n", "entry 1", -1, 0},
        {"a subdirectory", "SPKC 1 1\n", "default/x/a.2.spkt default/x/.a.2.777_1.tmp\n", "entry 1", -1, 0},
        {"another table's temporary file", "SPKC 1 1\n", "default/a.2.spkt default/.b.2.777_2.tmp\n", "entry 1", -1, 0},
        {"another version's temporary file", "SPKC 1 1\n", "default/a.2.spkt default/.a.3.777_1.tmp\n", "entry 1", -1, 0},
        {"a temporary file in another database", "SPKC 1 1\n", "default/c.2.spkt other/.c.2.777_3.tmp\n", "entry 1", -1, 0},
        {"not a table file", "SPKC 1 1\n", "default/notes.txt default/.notes.txt.777_1.tmp\n", "entry 1", -1, 0},
        {"version 0", "SPKC 1 1\n", "default/a.0.spkt default/.a.0.777_1.tmp\n", "entry 1", -1, 0},
        {"an upper-case database", "SPKC 1 1\n", "Default/a.2.spkt Default/.a.2.777_1.tmp\n", "entry 1", -1, 0},
        {"a temporary name without its number", "SPKC 1 1\n", "default/a.2.spkt default/.a.2..tmp\n", "entry 1", -1, 0},
        {"a temporary name with letters", "SPKC 1 1\n", "default/a.2.spkt default/.a.2.7x7.tmp\n", "entry 1", -1, 0},
        {"two spaces", "SPKC 1 1\n", "default/a.2.spkt  default/.a.2.777_1.tmp\n", "entry 1", -1, 0},
        {"a bad third entry", "SPKC 1 3\n",
         "default/a.2.spkt default/.a.2.777_1.tmp\ndefault/b.2.spkt default/.b.2.777_2.tmp\nother/c.2.spkt /tmp/.c.2.777_3.tmp\n",
         "entry 3", -1, 0},
        {"a NUL byte", "SPKC 1 1\n", "default/a.2.spkt default/.a.2.777_1.tmp\n", "NUL", 20, 0},
    };
    char *before = NULL;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (!pending_restore(base, &p)) break;
        free(before);
        before = tree_text(base);
        size_t len = record_text(record, sizeof record, cases[i].head, cases[i].entries);
        if (cases[i].flip >= 0) record[cases[i].flip] = strcmp(cases[i].what, "a NUL byte") == 0 ? 0 : (char)(record[cases[i].flip] ^ 1);
        if (cases[i].flip == -2) record[len - 2] = record[len - 2] == '0' ? '1' : '0';
        if (strcmp(cases[i].what, "a NUL byte") == 0) /* the checksum covers the NUL */
            snprintf(record + len - 9, 10, "%08x\n", (unsigned)crc32_bitwise(0, (const unsigned char *)record, len - 9));
        len -= (size_t)cases[i].cut;
        if (!put_record(base, "commit.777_9.spkc", record, len)) break;
        spk_backend *b = NULL;
        spk_backend_config cfg = {NULL, base, 0, NULL};
        spk_status st = spk_backend_file(&cfg, &b);
        if (st != SPK_ERR_CORRUPT || !strstr(spk_last_error(), path) || !strstr(spk_last_error(), cases[i].needle))
            FAILF("%s: the open gave %s \"%s\" (expected SPK_ERR_CORRUPT naming %s and \"%s\")", cases[i].what,
                  spk_status_name(st), spk_last_error(), path, cases[i].needle);
        spk_backend_close(b);
        char *after = tree_text(base);
        size_t rlen = 0;
        unsigned char *rbytes = read_bytes(path, &rlen);
        char line[128];
        snprintf(line, sizeof line, "commit.777_9.spkc %zu %08x\n", len, (unsigned)crc32_bitwise(0, rbytes, rbytes ? rlen : 0));
        free(rbytes);
        /* the files are as before, with the record added (it sorts first) */
        sbuf want = {NULL, 0, 0};
        sb_str(&want, line);
        sb_str(&want, before);
        if (strcmp(after, want.p) != 0) FAILF("%s: the files changed:\n%s\nexpected:\n%s", cases[i].what, after, want.p);
        free(want.p);
        free(after);
    }
    free(before);
    /* a good record beside a bad one: neither is redone */
    if (pending_restore(base, &p)) {
        size_t len = record_text(record, sizeof record, "SPKC 1 3\n", pending_entries);
        put_record(base, "commit.1_1.spkc", record, len);
        record[20] ^= 1;
        put_record(base, "commit.777_9.spkc", record, len);
        spk_backend *b = NULL;
        spk_backend_config cfg = {NULL, base, 0, NULL};
        CHECK_STATUS(spk_backend_file(&cfg, &b), SPK_ERR_CORRUPT);
        CHECK_CONTAINS(spk_last_error(), path);
        spk_backend_close(b); /* NULL, unless the check failed */
        CHECK(path_exists_f("%s/default/.a.2.777_1.tmp", base));
        CHECK(!path_exists_f("%s/default/a.2.spkt", base));
        /* with the bad one gone, the good one is redone */
        unlink(path);
        CHECK_PENDING_TABLES(base, 2);
    }
done:
    pending_free(&p);
    rm_tree(base);
}

/* Opening with a record to redo, each allocation failing in turn: nothing
 * leaks, and the open either fails with SPK_ERR_NOMEM or finishes it. */
static void test_commit_record_allocation_failures(void) {
    char base[512], record[4096];
    pending p;
    if (!pending_setup(base, sizeof base, &p)) goto done;
    size_t len = record_text(record, sizeof record, "SPKC 1 3\n", pending_entries);
    spk_failalloc fa;
    long k;
    for (k = 1; k < 10000; k++) {
        if (!pending_restore(base, &p) || !put_record(base, "commit.777_9.spkc", record, len)) break;
        spk_failalloc_init(&fa, NULL, k);
        spk_backend *b = NULL;
        spk_backend_config cfg = {&fa.iface, base, 0, NULL};
        spk_status st = spk_backend_file(&cfg, &b);
        spk_backend_close(b);
        if (fa.live_blocks != 0) {
            FAILF("open failing at allocation %ld: %ld blocks leaked", k, fa.live_blocks);
            break;
        }
        if (st == SPK_OK) break;
        if (st != SPK_ERR_NOMEM) {
            FAILF("open failing at allocation %ld returned %s: %s", k, spk_status_name(st), spk_last_error());
            break;
        }
    }
    CHECK(k > 5);
    CHECK_PENDING_TABLES(base, 2);
done:
    pending_free(&p);
    rm_tree(base);
}

/* ------------------------------------------------------------ transactions */

static spk_status txn_append(spk_session *s, int n, const char *const *names, const char *const *fixtures) {
    spk_txn *t = NULL;
    spk_status st = spk_txn_begin(s, &t);
    for (int i = 0; i < n && st == SPK_OK; i++) {
        spk_df *df = spk_df_from_fixture(s, fixtures[i]);
        st = df ? spk_txn_write(t, names[i], df) : spk_last_status();
        spk_df_release(df);
    }
    if (st == SPK_OK) st = spk_txn_commit(t, NULL, NULL);
    spk_txn_free(t);
    return st;
}

/* The transaction tests' tables (one in another database) and the rows each gets. */
static const char *const names[3] = {"a", "b", "other.c"};
static const char *const adds[3] = {"x INT\n2", "y STRING\nb2", "z DOUBLE\n2.5"};

/* A transaction's tables change together, on disk as in memory, and leave
 * no commit record or temporary file behind. */
static void test_txn_commit_files(void) {
    char base[512], dir[600], other[600];
    fresh_base(base, sizeof base);
    snprintf(dir, sizeof dir, "%s/default", base);
    snprintf(other, sizeof other, "%s/other", base);
    spk_session *s = OPEN(base);
    if (!s) goto done;
    CHECK_OK(spk_catalog_create_database(s, "other", false));
    CHECK_OK(save_fixture(s, "a", "x INT\n1", NULL));
    CHECK_OK(save_fixture(s, "b", "y STRING\nb1", NULL));
    CHECK_OK(txn_append(s, 3, names, adds)); /* other.c is created */
    CHECK_EQ_INT(version_of(s, "a"), 2);
    CHECK_EQ_INT(version_of(s, "b"), 2);
    CHECK_EQ_INT(version_of(s, "other.c"), 1);
    CHECK_OK(txn_append(s, 1, names + 1, adds + 1)); /* one table: a plain commit */
    CHECK_EQ_INT(version_of(s, "b"), 3);
    spk_session_stop(s);
    CHECK_EQ_INT(count_suffix(base, ".spkc") + count_suffix(base, ".tmp") + count_suffix(dir, ".tmp") + count_suffix(other, ".tmp"), 0);
    CHECK(path_exists_f("%s/a.2.spkt", dir) && !path_exists_f("%s/a.1.spkt", dir));
    CHECK(path_exists_f("%s/b.3.spkt", dir) && path_exists_f("%s/c.1.spkt", other));
    s = OPEN(base);
    if (!s) goto done;
    CHECK_TABLE(s, "a", "x INT\n1\n2");
    CHECK_TABLE(s, "b", "y STRING\nb1\nb2\nb2");
    CHECK_TABLE(s, "other.c", "z DOUBLE\n2.5");
    spk_session_stop(s);
done:
    rm_tree(base);
}

/* A transaction whose commit cannot be finished after its record is
 * written (a directory sits where one of its files must go): the commit
 * fails saying the next open finishes it, the backend refuses changes, an
 * open fails while the rename still cannot be done, and once it can, the
 * open finishes the transaction. */
static void test_txn_commit_unfinished(void) {
    char base[512], blocker[1024], inside[1100];
    fresh_base(base, sizeof base);
    snprintf(blocker, sizeof blocker, "%s/default/b.2.spkt", base);
    snprintf(inside, sizeof inside, "%s/keep", blocker);
    spk_session *s = OPEN(base);
    if (!s) goto done;
    CHECK_OK(spk_catalog_create_database(s, "other", false));
    CHECK_OK(save_fixture(s, "a", "x INT\n1", NULL));
    CHECK_OK(save_fixture(s, "b", "y STRING\nb1", NULL));
    CHECK_OK(save_fixture(s, "other.c", "z DOUBLE\n1.5", NULL));
    CHECK(mkdir(blocker, 0777) == 0);
    put_file(inside, "in the way");
    CHECK_STATUS(txn_append(s, 3, names, adds), SPK_ERR_IO);
    CHECK_CONTAINS(spk_last_error(), blocker);
    CHECK_CONTAINS(spk_last_error(), "the next open of the base path finishes the transaction");
    CHECK_EQ_INT(version_of(s, "a"), 1); /* not in this session's memory */
    CHECK_STATUS(save_fixture(s, "a", "x INT\n3", "append"), SPK_ERR_IO);
    CHECK_CONTAINS(spk_last_error(), "refuses changes");
    CHECK_STATUS(spk_catalog_drop_table(s, "b", false), SPK_ERR_IO);
    spk_session_stop(s);
    CHECK_EQ_INT(count_suffix(base, ".spkc"), 1);
    spk_backend *b = NULL;
    spk_backend_config cfg = {NULL, base, 0, NULL};
    CHECK_STATUS(spk_backend_file(&cfg, &b), SPK_ERR_IO);
    CHECK_CONTAINS(spk_last_error(), "commit record");
    spk_backend_close(b); /* NULL, unless the check failed */
    CHECK_EQ_INT(count_suffix(base, ".spkc"), 1);
    unlink(inside);
    rmdir(blocker);
    s = OPEN(base);
    if (!s) goto done;
    CHECK_EQ_INT(version_of(s, "a"), 2);
    CHECK_TABLE(s, "a", "x INT\n1\n2");
    CHECK_TABLE(s, "b", "y STRING\nb1\nb2");
    CHECK_TABLE(s, "other.c", "z DOUBLE\n1.5\n2.5");
    spk_session_stop(s);
    CHECK_EQ_INT(count_suffix(base, ".spkc"), 0);
done:
    rm_tree(base);
}

/* A three-table transaction with each allocation failing in turn: nothing
 * leaks, no file is left over, and the tables move on all together or not
 * at all. */
static void test_txn_allocation_failures(void) {
    char base[512], dir[600], other[600];
    fresh_base(base, sizeof base);
    snprintf(dir, sizeof dir, "%s/default", base);
    snprintf(other, sizeof other, "%s/other", base);
    spk_session *s = OPEN(base);
    if (!s) goto done;
    CHECK_OK(spk_catalog_create_database(s, "other", false));
    for (int i = 0; i < 3; i++) CHECK_OK(save_fixture(s, names[i], adds[i], NULL));
    spk_session_stop(s);
    spk_failalloc fa;
    long k;
    for (k = 1; k < 10000; k++) {
        spk_failalloc_init(&fa, NULL, 0);
        s = open_opts(base, &fa.iface, "1");
        if (!s) {
            FAILF("open: %s", spk_last_error());
            break;
        }
        uint64_t before[3], after[3];
        for (int i = 0; i < 3; i++) before[i] = version_of(s, names[i]);
        fa.fail_at = fa.calls + k;
        spk_status st = txn_append(s, 3, names, adds);
        fa.fail_at = 0;
        for (int i = 0; i < 3; i++) after[i] = version_of(s, names[i]);
        spk_session_stop(s);
        if (fa.live_blocks != 0) {
            FAILF("a transaction failing at allocation %ld: %ld blocks leaked", k, fa.live_blocks);
            break;
        }
        if (count_suffix(dir, ".tmp") + count_suffix(other, ".tmp") + count_suffix(base, ".tmp") + count_suffix(base, ".spkc"))
            FAILF("a transaction failing at allocation %ld left a file behind", k);
        for (int i = 0; i < 3; i++)
            if (after[i] != before[i] + (st == SPK_OK)) {
                FAILF("a transaction failing at allocation %ld returned %s, and table %s went from version %llu to %llu", k,
                      spk_status_name(st), names[i], (unsigned long long)before[i], (unsigned long long)after[i]);
                break;
            }
        if (st == SPK_OK) break;
        if (st != SPK_ERR_NOMEM) {
            FAILF("a transaction failing at allocation %ld returned %s: %s", k, spk_status_name(st), spk_last_error());
            break;
        }
    }
    CHECK(k > 3);
    s = OPEN(base);
    if (s) {
        CHECK_TABLE(s, "a", "x INT\n2\n2");
        CHECK_TABLE(s, "other.c", "z DOUBLE\n2.5\n2.5");
        spk_session_stop(s);
    }
done:
    rm_tree(base);
}

static void test_config_errors(void) {
    char base[512], path[1024];
    fresh_base(base, sizeof base);
    spk_backend *b = NULL;
    CHECK_STATUS(spk_backend_file(NULL, &b), SPK_ERR_ARG);
    CHECK_CONTAINS(spk_last_error(), "spark.sparkless.backend.basePath");
    spk_backend_config cfg = {NULL, "", 0, NULL};
    CHECK_STATUS(spk_backend_file(&cfg, &b), SPK_ERR_ARG);
    CHECK_CONTAINS(spk_last_error(), "spark.sparkless.backend.basePath");
    CHECK(b == NULL);
    /* the builder without a base path */
    spk_builder *builder = NULL;
    spk_session *s = NULL;
    CHECK_OK(spk_builder_new(&builder));
    CHECK_OK(spk_builder_config(builder, "spark.sparkless.backend", "file"));
    CHECK_STATUS(spk_builder_create(builder, &s), SPK_ERR_ARG);
    CHECK_CONTAINS(spk_last_error(), "spark.sparkless.backend.basePath");
    spk_builder_free(builder);
    /* a missing parent directory; a file where the directory should be */
    snprintf(path, sizeof path, "%s/no/such/dir", base);
    cfg.base_path = path;
    CHECK_STATUS(spk_backend_file(&cfg, &b), SPK_ERR_IO);
    CHECK_CONTAINS(spk_last_error(), path);
    put_file(base, "a file");
    cfg.base_path = base;
    CHECK_STATUS(spk_backend_file(&cfg, &b), SPK_ERR_IO);
    CHECK_CONTAINS(spk_last_error(), base);
    unlink(base);
    /* a base path that does not exist yet is made, with a trailing '/' too */
    snprintf(path, sizeof path, "%s/", base);
    cfg.base_path = path;
    CHECK_OK(spk_backend_file(&cfg, &b));
    CHECK_STR(spk_backend_type(b), "file");
    spk_backend_close(b);
    CHECK(path_exists_f("%s/default", base));
    rm_tree(base);
}

/* max_memory bounds writes as for the memory backend. */
static void test_max_memory(void) {
    char base[512];
    fresh_base(base, sizeof base);
    spk_builder *b = NULL;
    spk_session *s = NULL;
    CHECK_OK(spk_builder_new(&b));
    CHECK_OK(spk_builder_config(b, "spark.sparkless.backend", "file"));
    CHECK_OK(spk_builder_config(b, "spark.sparkless.backend.basePath", base));
    CHECK_OK(spk_builder_config(b, "spark.sparkless.backend.maxMemory", "64k"));
    CHECK_OK(spk_builder_create(b, &s));
    spk_builder_free(b);
    if (!s) goto done;
    spk_table *big = big_table(20000);
    if (big) CHECK_STATUS(save_table(s, "big", big, NULL), SPK_ERR_LIMIT);
    spk_table_free(big);
    CHECK_OK(save_fixture(s, "small", "a INT\n1", NULL));
    spk_session_stop(s);
    CHECK(!path_exists_f("%s/default/big.1.spkt", base));
    char dir[600];
    snprintf(dir, sizeof dir, "%s/default", base);
    CHECK_EQ_INT(count_suffix(dir, ".tmp"), 0);
    CHECK_EQ_INT(count_suffix(dir, ".spkt"), 1);
done:
    rm_tree(base);
}

/* ------------------------------------------------------------ allocation failures */

/* Every allocation of opening a catalog (two tables, a corrupt one, a
 * left-over file) and of a write fails in turn: the call fails with
 * SPK_ERR_NOMEM, nothing leaks, and no failed write leaves a file. */
static void test_allocation_failures(void) {
    char base[512], dir[600], path[1024];
    fresh_base(base, sizeof base);
    snprintf(dir, sizeof dir, "%s/default", base);
    spk_session *s = OPEN(base);
    if (!s) goto done;
    CHECK_OK(spk_catalog_create_database(s, "other", false));
    CHECK_OK(save_fixture(s, "t", "id INT, s STRING\n1,a\n2,bb", NULL));
    CHECK_OK(save_fixture(s, "other.u", "x DOUBLE\n1.5", NULL));
    CHECK_OK(save_fixture(s, "v", "x DOUBLE\n1.5", NULL));
    spk_session_stop(s);
    snprintf(path, sizeof path, "%s/default/v.1.spkt", base);
    put_file(path, "SPKT garbage");
    snprintf(path, sizeof path, "%s/default/.t.9.1_1.tmp", base);
    put_file(path, "left over");

    spk_failalloc fa;
    long k;
    for (k = 1; k < 10000; k++) {
        spk_failalloc_init(&fa, NULL, k);
        s = open_opts(base, &fa.iface, "1");
        spk_status st = s ? SPK_OK : spk_last_status();
        if (s) spk_session_stop(s);
        if (fa.live_blocks != 0) {
            FAILF("open failing at allocation %ld: %ld blocks leaked", k, fa.live_blocks);
            break;
        }
        if (st == SPK_OK) break;
        if (st != SPK_ERR_NOMEM) {
            FAILF("open failing at allocation %ld returned %s: %s", k, spk_status_name(st), spk_last_error());
            break;
        }
    }
    CHECK(k > 10);
    for (k = 1; k < 10000; k++) {
        spk_failalloc_init(&fa, NULL, 0);
        s = open_opts(base, &fa.iface, "1");
        if (!s) {
            FAILF("open: %s", spk_last_error());
            break;
        }
        uint64_t before = version_of(s, "t");
        fa.fail_at = fa.calls + k;
        spk_status st = save_fixture(s, "t", "id INT, s STRING\n3,ccc", "append");
        fa.fail_at = 0;
        uint64_t after = version_of(s, "t");
        spk_session_stop(s);
        if (fa.live_blocks != 0) {
            FAILF("append failing at allocation %ld: %ld blocks leaked", k, fa.live_blocks);
            break;
        }
        if (count_suffix(dir, ".tmp") != 0) FAILF("append failing at allocation %ld left a temporary file", k);
        if (st == SPK_OK) {
            CHECK_EQ_INT(after, before + 1);
            break;
        }
        CHECK_EQ_INT(after, before);
        if (st != SPK_ERR_NOMEM) {
            FAILF("append failing at allocation %ld returned %s: %s", k, spk_status_name(st), spk_last_error());
            break;
        }
    }
    CHECK(k > 3);
    s = OPEN(base);
    if (s) {
        CHECK_TABLE(s, "t", "id INT, s STRING\n1,a\n2,bb\n3,ccc");
        CHECK_TABLE(s, "other.u", "x DOUBLE\n1.5");
        spk_session_stop(s);
    }
done:
    rm_tree(base);
}

int main(void) {
    RUN(test_round_trip_all_types);
    RUN(test_round_trip_multi_chunk);
    RUN(test_empty_table);
    RUN(test_reopen_catalog);
    RUN(test_append_then_reopen);
    RUN(test_overwrite_then_reopen);
    RUN(test_drop_then_reopen);
    RUN(test_stray_files);
    RUN(test_highest_version_wins);
    RUN(test_corrupt_every_byte);
    RUN(test_corrupt_sections);
    RUN(test_corrupt_truncated);
    RUN(test_hand_made_files);
    RUN(test_corrupt_table_recovery);
    RUN(test_commit_record_redo);
    RUN(test_commit_record_torn);
    RUN(test_commit_record_corrupt);
    RUN(test_commit_record_allocation_failures);
    RUN(test_txn_commit_files);
    RUN(test_txn_commit_unfinished);
    RUN(test_txn_allocation_failures);
    RUN(test_config_errors);
    RUN(test_max_memory);
    RUN(test_allocation_failures);
    return TEST_REPORT();
}
#endif
