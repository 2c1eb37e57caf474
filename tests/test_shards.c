/* Shards of a table version: physical shards (runs of whole chunks) and
 * computed key-range shards, checked against what the rows say: every row
 * in exactly one shard (a bitmap of ids), each shard's rows inside its key
 * range, bounds chaining from unbounded to unbounded, row counts within 10%
 * of equal on uniform and skewed keys, duplicated keys never split. Also
 * NULLs and two-column keys, strings, errors, describe, and an
 * allocation-failure sweep. The internal functions are static, so this
 * program compiles its own copy of the implementation. */
#define SPARKLESS_STATIC
#define SPARKLESS_IMPLEMENTATION
#include "../sparkless.h"
#include "test.h"
#include "test_threads.h"
#include <math.h>

#define BIG_ROWS 1000000

/* ------------------------------------------------------------ helpers */

static uint64_t rng_state = 0x5eed5eed12345678ULL;
static uint64_t mix64(uint64_t z) { /* a bijection of uint64: distinct inputs give distinct outputs */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static uint64_t rng_next(void) { return mix64(rng_state += 0x9e3779b97f4a7c15ULL); }
static double rng_unit(void) { return (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0); } /* [0, 1) */

typedef enum key_kind { KEYS_UNIFORM, KEYS_SKEWED, KEYS_DUPLICATES } key_kind;

/* Key of row `id`. Uniform: a bijection of the id over all of int64.
 * Skewed: log-uniform magnitudes (most keys tiny, a few huge), made distinct
 * by the id in the low bits. Duplicates: about 1/k of the rows hold k (half
 * of them hold 1), capped at 1000, and every 97th row NULL. */
static spk_value key_of(key_kind kind, uint64_t id) {
    switch (kind) {
    case KEYS_UNIFORM: return spk_value_i64((int64_t)mix64(id ^ 0xabcdefULL));
    case KEYS_SKEWED: return spk_value_i64((int64_t)floor(exp(rng_unit() * 20.0)) * (1 << 20) + (int64_t)id);
    case KEYS_DUPLICATES: {
        if (id % 97 == 13) return spk_value_null_of(spk_type_of(SPK_TYPE_INT64));
        double k = 1.0 / (1.0 - rng_unit());
        return spk_value_i64(k > 1000 ? 1000 : (int64_t)k);
    }
    }
    return spk_value_null();
}

/* "id BIGINT NOT NULL, k BIGINT" with ids 0..n-1 in order. */
static spk_table *make_keyed(const spk_allocator *alloc, key_kind kind, size_t n) {
    spk_table *t = NULL;
    if (spk_table_from_fixture(alloc, "id BIGINT NOT NULL, k BIGINT", &t) != SPK_OK) return NULL;
    enum { BATCH = 50000 };
    spk_value *v = (spk_value *)malloc(sizeof(spk_value) * 2 * BATCH);
    if (!v) abort();
    for (size_t at = 0; at < n; at += BATCH) {
        size_t m = n - at < BATCH ? n - at : BATCH;
        for (size_t i = 0; i < m; i++) {
            v[2 * i] = spk_value_i64((int64_t)(at + i));
            v[2 * i + 1] = key_of(kind, at + i);
        }
        if (spk_table_append_rows(t, v, m) != SPK_OK) {
            spk_table_free(t);
            t = NULL;
            break;
        }
    }
    free(v);
    return t;
}

static spk_table *big[3]; /* built once: uniform, skewed, duplicates */
static spk_table *big_table(key_kind kind) {
    if (!big[kind]) big[kind] = make_keyed(NULL, kind, BIG_ROWS);
    return big[kind];
}

/* Tuple order of a row's keys against a bound (spk_value_compare, NULLs first). */
static int tuple_cmp(const spk_value *a, const spk_value *b, int n) {
    for (int k = 0; k < n; k++) {
        int c = spk_value_compare(&a[k], &b[k], true);
        if (c) return c;
    }
    return 0;
}

/* Distinct key tuples of t (columns cols[0..nkeys)), counted by sorting. */
static const spk_table *count_table;
static const int *count_cols;
static int count_nkeys;
static int cmp_rows_for_count(const void *x, const void *y) {
    spk_value a[4], b[4];
    for (int k = 0; k < count_nkeys; k++) {
        spk_table_get(count_table, *(const size_t *)x, count_cols[k], &a[k]);
        spk_table_get(count_table, *(const size_t *)y, count_cols[k], &b[k]);
    }
    return tuple_cmp(a, b, count_nkeys);
}
static size_t distinct_tuples(const spk_table *t, const int *cols, int nkeys) {
    size_t n = spk_table_nrows(t), d = 0;
    size_t *idx = (size_t *)malloc((n ? n : 1) * sizeof *idx);
    if (!idx) abort();
    for (size_t i = 0; i < n; i++) idx[i] = i;
    count_table = t;
    count_cols = cols;
    count_nkeys = nkeys;
    qsort(idx, n, sizeof *idx, cmp_rows_for_count);
    for (size_t i = 0; i < n; i++) d += i == 0 || cmp_rows_for_count(&idx[i - 1], &idx[i]) != 0;
    free(idx);
    return d;
}

/* Checks a key shard set of t (n asked for; `distinct` key tuples; ids in
 * column 0 are 0..rows-1): shard count, bounds chaining from unbounded to
 * unbounded, every row once, each row inside its shard's range, each lower
 * bound the smallest key of its shard (bounds occur in the data), and, with
 * distinct keys, row counts within 10% of equal. */
static void check_key_shards(const char *what, const spk_table *t, const spk_shards *set, int n, size_t distinct,
                             bool distinct_keys, const int *cols, const char *const *names, int nkeys, int *owner) {
    size_t rows = spk_table_nrows(t);
    int count = spk_shards_count(set);
    int expect = distinct == 0 ? 1 : distinct < (size_t)n ? (int)distinct : n;
    if (count != expect) failf(__FILE__, __LINE__, "%s: %d shards, expected %d", what, count, expect);
    unsigned char *seen = (unsigned char *)calloc(rows ? rows : 1, 1);
    if (!seen) abort();
    spk_value prev_upper[4];
    size_t total = 0;
    for (int i = 0; i < count; i++) {
        const spk_shard *sh = spk_shards_get(set, i);
        spk_value lower[4], upper[4];
        bool has_lower = true, has_upper = true;
        CHECK(sh != NULL && !spk_shard_is_physical(sh));
        CHECK_EQ_INT(spk_shard_nkeys(sh), nkeys);
        for (int k = 0; k < nkeys; k++) CHECK_STR(spk_shard_key_name(sh, k), names[k]);
        spk_shard_bounds(sh, &has_lower, lower, &has_upper, upper);
        if (has_lower != (i > 0) || has_upper != (i + 1 < count))
            failf(__FILE__, __LINE__, "%s: shard %d of %d: has_lower %d, has_upper %d", what, i, count, has_lower, has_upper);
        if (i > 0 && has_lower && tuple_cmp(lower, prev_upper, nkeys) != 0)
            failf(__FILE__, __LINE__, "%s: shard %d's lower bound is not shard %d's upper bound", what, i, i - 1);
        if (has_lower && has_upper && tuple_cmp(lower, upper, nkeys) >= 0)
            failf(__FILE__, __LINE__, "%s: shard %d's bounds are not increasing", what, i);
        if (has_upper) memcpy(prev_upper, upper, sizeof(spk_value) * (size_t)nkeys);

        spk_table *part = NULL;
        CHECK_OK(spk__shard_filter(t, 0, sh, false, &part));
        if (!part) break;
        size_t size = spk_table_nrows(part), bad_range = 0, dup = 0, lower_hits = 0, split = 0;
        spk_cursor cur;
        spk_cursor_open(&cur, part);
        while (spk_cursor_next(&cur)) {
            spk_value id, key[4];
            spk_cursor_get(&cur, 0, &id);
            for (int k = 0; k < nkeys; k++) spk_cursor_get(&cur, cols[k], &key[k]);
            if (id.as.i64 < 0 || (size_t)id.as.i64 >= rows || seen[id.as.i64]++) dup++;
            int vs_lower = has_lower ? tuple_cmp(key, lower, nkeys) : 1;
            if (vs_lower < 0 || (has_upper && tuple_cmp(key, upper, nkeys) >= 0)) bad_range++;
            lower_hits += vs_lower == 0;
            if (owner) { /* small integer keys (NULL as 1001): which shard holds each value */
                int v = key[0].is_null ? 1001 : (int)key[0].as.i64;
                if (owner[v] == -1) owner[v] = i;
                else if (owner[v] != i) split++;
            }
        }
        spk_table_free(part);
        if (dup) failf(__FILE__, __LINE__, "%s: shard %d: %zu rows seen before (or bad ids)", what, i, dup);
        if (bad_range) failf(__FILE__, __LINE__, "%s: shard %d: %zu rows outside its key range", what, i, bad_range);
        if (split) failf(__FILE__, __LINE__, "%s: shard %d: %zu rows hold a value an earlier shard holds", what, i, split);
        if (has_lower && lower_hits == 0)
            failf(__FILE__, __LINE__, "%s: shard %d: its lower bound is not a key of any of its rows", what, i);
        if (rows && size == 0) failf(__FILE__, __LINE__, "%s: shard %d of %d is empty", what, i, count);
        if (distinct_keys && rows >= (size_t)n) {
            double ideal = (double)rows / count;
            if (fabs((double)size - ideal) > 0.10 * ideal)
                failf(__FILE__, __LINE__, "%s: shard %d holds %zu rows; equal would be %.0f", what, i, size, ideal);
        }
        total += size;
    }
    size_t missing = 0;
    for (size_t r = 0; r < rows; r++) missing += !seen[r];
    if (total != rows || missing)
        failf(__FILE__, __LINE__, "%s: the shards hold %zu rows (%zu ids missing); the table has %zu", what, total, missing,
              rows);
    free(seen);
}

static const int key_cols_k[1] = {1};
static const char *const key_names_k[1] = {"k"};

/* Computes n shards on column k and checks them. */
static void check_compute(const char *what, const spk_table *t, int n, size_t distinct, bool distinct_keys) {
    spk_shards *set = NULL;
    char label[128];
    snprintf(label, sizeof label, "%s, %zu rows, n=%d", what, spk_table_nrows(t), n);
    CHECK_OK(spk__shards_compute(t, key_names_k, 1, false, n, &set));
    if (set) check_key_shards(label, t, set, n, distinct, distinct_keys, key_cols_k, key_names_k, 1, NULL);
    spk_shards_free(set);
}

static const int shard_counts[4] = {1, 2, 7, 64};

/* ------------------------------------------------------------ key shards */

static void test_compute_small_tables(void) {
    for (int kind = KEYS_UNIFORM; kind <= KEYS_SKEWED; kind++) {
        for (size_t rows = 0; rows <= 1; rows++) {
            spk_table *t = make_keyed(NULL, (key_kind)kind, rows);
            CHECK(t != NULL);
            if (!t) continue;
            for (int i = 0; i < 4; i++)
                check_compute(kind == KEYS_UNIFORM ? "uniform" : "skewed", t, shard_counts[i], rows, true);
            spk_table_free(t);
        }
    }
}

static void test_compute_uniform_1m(void) {
    const spk_table *t = big_table(KEYS_UNIFORM);
    CHECK(t != NULL);
    for (int i = 0; t && i < 4; i++) check_compute("uniform", t, shard_counts[i], BIG_ROWS, true);
}

static void test_compute_skewed_1m(void) {
    const spk_table *t = big_table(KEYS_SKEWED);
    CHECK(t != NULL);
    for (int i = 0; t && i < 4; i++) check_compute("skewed", t, shard_counts[i], BIG_ROWS, true);
}

/* Heavy duplicates (half the rows hold 1) and NULLs: a value never spans two
 * shards, coverage stays exact, and no shard is empty. */
static void test_compute_duplicates_1m(void) {
    const spk_table *t = big_table(KEYS_DUPLICATES);
    CHECK(t != NULL);
    if (!t) return;
    bool present[1002] = {false};
    size_t distinct = 0;
    spk_cursor cur;
    spk_cursor_open(&cur, t);
    while (spk_cursor_next(&cur)) {
        spk_value k;
        spk_cursor_get(&cur, 1, &k);
        int v = k.is_null ? 1001 : (int)k.as.i64;
        distinct += !present[v];
        present[v] = true;
    }
    CHECK(distinct > 64 && distinct <= 1001 && present[1] && present[1001]);
    for (int i = 0; i < 4; i++) {
        int n = shard_counts[i];
        spk_shards *set = NULL;
        CHECK_OK(spk__shards_compute(t, key_names_k, 1, false, n, &set));
        if (!set) continue;
        char label[64];
        snprintf(label, sizeof label, "duplicates, n=%d", n);
        int owner[1002];
        for (int v = 0; v < 1002; v++) owner[v] = -1;
        check_key_shards(label, t, set, n, distinct, false, key_cols_k, key_names_k, 1, owner);
        CHECK(owner[1] >= 0 && owner[1001] == 0); /* NULLs sort first */
        spk_shards_free(set);
    }
}

/* Two key columns (string, int), both with NULLs; small enough to count the
 * distinct tuples by hand, asked for more shards than there are tuples too. */
static void test_compute_two_keys_with_nulls(void) {
    spk_table *t = NULL;
    CHECK_OK(spk_table_from_fixture(NULL, "id BIGINT NOT NULL, s STRING, x INT", &t));
    if (!t) return;
    static const char *const words[] = {NULL, "", "a", "ab", "b", "ba", "zz", "\xc3\xa9t\xc3\xa9"};
    for (int i = 0; i < 400; i++) {
        const char *w = words[rng_next() % 8];
        uint64_t r = rng_next() % 12;
        spk_value row[3] = {spk_value_i64(i), w ? spk_value_str(w) : spk_value_null(),
                            r == 11 ? spk_value_null() : spk_value_i32((int32_t)r - 5)};
        CHECK_OK(spk_table_append_row(t, row, 3));
    }
    static const int cols[2] = {1, 2};
    static const char *const names[2] = {"s", "x"};
    static const char *const asked[2] = {"S", "X"}; /* case-insensitive lookup; the shard keeps the schema's spelling */
    size_t distinct = distinct_tuples(t, cols, 2);
    CHECK(distinct > 64 && distinct < 400);
    static const int ns[6] = {1, 2, 7, 64, 96, 1000};
    for (int i = 0; i < 6; i++) {
        spk_shards *set = NULL;
        CHECK_OK(spk__shards_compute(t, asked, 2, false, ns[i], &set));
        char label[64];
        snprintf(label, sizeof label, "(s, x), n=%d", ns[i]);
        if (set) check_key_shards(label, t, set, ns[i], distinct, false, cols, names, 2, NULL);
        spk_shards_free(set);
    }
    /* Case-sensitive: "S" is not a column. */
    spk_shards *set = NULL;
    CHECK_STATUS(spk__shards_compute(t, asked, 2, true, 4, &set), SPK_ERR_NOT_FOUND);
    CHECK(set == NULL);
    spk_table_free(t);
}

/* A string key: bounds are copies, readable after the table is gone, and
 * rows added later (outside every earlier key) land in exactly one shard. */
static void test_compute_string_key(void) {
    spk_table *t = NULL;
    CHECK_OK(spk_table_from_fixture(NULL, "id BIGINT NOT NULL, name STRING", &t));
    if (!t) return;
    char buf[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(buf, sizeof buf, "name-%04d", (int)(mix64((uint64_t)i) % 10000));
        spk_value row[2] = {spk_value_i64(i), spk_value_str(buf)};
        CHECK_OK(spk_table_append_row(t, row, 2));
    }
    static const int cols[1] = {1};
    static const char *const names[1] = {"name"};
    size_t distinct = distinct_tuples(t, cols, 1);
    spk_shards *set = NULL;
    CHECK_OK(spk__shards_compute(t, names, 1, false, 4, &set));
    if (!set) {
        spk_table_free(t);
        return;
    }
    check_key_shards("string key", t, set, 4, distinct, distinct == 1000, cols, names, 1, NULL);
    /* The bounds as text, then checked again once the table is freed. */
    char before[3][32];
    for (int i = 0; i < 3; i++) {
        spk_value lower[1], upper[1];
        bool hl, hu;
        spk_shard_bounds(spk_shards_get(set, i), &hl, lower, &hu, upper);
        CHECK(hu && upper[0].type.id == SPK_TYPE_STRING && upper[0].as.str.len < sizeof before[i]);
        snprintf(before[i], sizeof before[i], "%.*s", (int)upper[0].as.str.len, upper[0].as.str.ptr);
        CHECK(strncmp(before[i], "name-", 5) == 0);
    }
    /* Later rows: below every key, above every key, NULL, and a bound itself. */
    spk_table *later = NULL;
    CHECK_OK(spk_table_from_fixture(NULL, "id BIGINT NOT NULL, name STRING", &later));
    for (int i = 0; later && i < 1000; i++) {
        spk_value v;
        spk_table_get(t, (size_t)i, 1, &v);
        spk_value row[2] = {spk_value_i64(i), v};
        CHECK_OK(spk_table_append_row(later, row, 2));
    }
    spk_table_free(t);
    const char *extra[4] = {"", "zzz", NULL, before[1]};
    for (int i = 0; later && i < 4; i++) {
        spk_value row[2] = {spk_value_i64(1000 + i), extra[i] ? spk_value_str(extra[i]) : spk_value_null()};
        CHECK_OK(spk_table_append_row(later, row, 2));
    }
    for (int i = 0; i < 3; i++) {
        spk_value lower[1], upper[1];
        bool hl, hu;
        spk_shard_bounds(spk_shards_get(set, i), &hl, lower, &hu, upper);
        CHECK(hu && upper[0].as.str.len == strlen(before[i]) &&
              memcmp(upper[0].as.str.ptr, before[i], strlen(before[i])) == 0);
    }
    if (later) check_key_shards("string key, later rows", later, set, 4, 4, false, cols, names, 1, NULL);
    spk_table_free(later);
    spk_shards_free(set);
}

/* A shard's bounds compare with a column of another numeric type by value;
 * with an unrelated type it is SPK_ERR_TYPE; a missing key column is
 * SPK_ERR_NOT_FOUND. */
static void test_filter_other_schemas(void) {
    spk_table *ints = NULL, *longs = NULL, *strs = NULL, *other = NULL, *doubles = NULL, *wide = NULL;
    CHECK_OK(spk_table_from_fixture(NULL, "id BIGINT NOT NULL, k INT\n0,5\n1,-3\n2,NULL\n3,40\n4,7\n5,12", &ints));
    CHECK_OK(spk_table_from_fixture(NULL, "id BIGINT NOT NULL, k BIGINT\n0,5\n1,-3\n2,NULL\n3,40\n4,7\n5,12\n6,6", &longs));
    CHECK_OK(spk_table_from_fixture(NULL, "id BIGINT NOT NULL, k STRING\n0,a", &strs));
    CHECK_OK(spk_table_from_fixture(NULL, "id BIGINT NOT NULL, j INT\n0,1", &other));
    CHECK_OK(spk_table_from_fixture(NULL, "id BIGINT NOT NULL, k DOUBLE\n0,5.0\n1,-3.5\n2,NULL\n3,40\n4,6.99\n5,12\n6,7.0\n7,NaN",
                                    &doubles));
    CHECK_OK(spk_table_from_fixture(NULL, "id BIGINT NOT NULL, a INT, b INT, c INT, d INT, e INT, f INT\n0,1,2,3,4,5,6", &wide));
    spk_shards *set = NULL;
    CHECK_OK(spk__shards_compute(ints, key_names_k, 1, false, 3, &set));
    if (set && longs && strs && other && doubles && wide) {
        CHECK_EQ_INT(spk_shards_count(set), 3);
        check_key_shards("INT bounds on a BIGINT column", longs, set, 3, 3, false, key_cols_k, key_names_k, 1, NULL);
        /* Compared by value (spk_value_compare), not by code: bounds 5 and 12 take 5.0, 6.99 and 7.0. */
        check_key_shards("INT bounds on a DOUBLE column", doubles, set, 3, 3, false, key_cols_k, key_names_k, 1, NULL);
        spk_table *mid = NULL;
        CHECK_OK(spk__shard_filter(doubles, 0, spk_shards_get(set, 1), false, &mid));
        char *text = mid ? table_text(mid) : NULL;
        CHECK_STR(text, "0,5.0|4,6.99|6,7.0");
        free(text);
        spk_table_free(mid);
        spk_table *part = (spk_table *)1;
        CHECK_STATUS(spk__shard_filter(strs, 0, spk_shards_get(set, 1), false, &part), SPK_ERR_TYPE);
        CHECK(part == NULL);
        CHECK_CONTAINS(spk_last_error(), "`k`");
        CHECK_STATUS(spk__shard_filter(other, 0, spk_shards_get(set, 1), false, &part), SPK_ERR_NOT_FOUND);
        CHECK_CONTAINS(spk_last_error(), "`k`");
        /* More columns than the suggestions show: all of them are listed. */
        CHECK_STATUS(spk__shard_filter(wide, 0, spk_shards_get(set, 1), false, &part), SPK_ERR_NOT_FOUND);
        CHECK_CONTAINS(spk_last_error(), "`id`, `a`, `b`, `c`, `d`, `e`, `f`");
        /* A shard bounded on one side only resolves its keys too. */
        CHECK_STATUS(spk__shard_filter(wide, 0, spk_shards_get(set, 0), true, &part), SPK_ERR_NOT_FOUND);
        /* A shard with only an upper bound checks that bound's type too. */
        CHECK_STATUS(spk__shard_filter(strs, 0, spk_shards_get(set, 0), false, &part), SPK_ERR_TYPE);
    }
    spk_shards_free(set);
    spk_table_free(ints);
    spk_table_free(longs);
    spk_table_free(strs);
    spk_table_free(other);
    spk_table_free(doubles);
    spk_table_free(wide);
}

static void test_compute_errors(void) {
    const spk_table *t = big_table(KEYS_UNIFORM);
    spk_table *small = make_keyed(NULL, KEYS_UNIFORM, 10);
    CHECK(t && small);
    if (!t || !small) return;
    spk_shards *set = (spk_shards *)1;
    const char *const bad[2] = {"k", "nope"};
    CHECK_STATUS(spk__shards_compute(small, bad, 2, false, 4, &set), SPK_ERR_NOT_FOUND);
    CHECK(set == NULL);
    CHECK_CONTAINS(spk_last_error(), "`nope`");
    CHECK_CONTAINS(spk_last_error(), "`id`");
    CHECK_CONTAINS(spk_last_error(), "`k`");
    const char *const keys17[17] = {"k", "k", "k", "k", "k", "k", "k", "k", "k", "k", "k", "k", "k", "k", "k", "k", "k"};
    CHECK_STATUS(spk__shards_compute(small, keys17, 0, false, 4, &set), SPK_ERR_ARG);
    CHECK_STATUS(spk__shards_compute(small, keys17, 17, false, 4, &set), SPK_ERR_ARG);
    CHECK_OK(spk__shards_compute(small, keys17, 16, false, 4, &set)); /* the same column 16 times is a valid tuple */
    CHECK_EQ_INT(spk_shards_count(set), 4);
    spk_shards_free(set);
    CHECK_STATUS(spk__shards_compute(small, key_names_k, 1, false, 0, &set), SPK_ERR_ARG);
    CHECK_STATUS(spk__shards_compute(small, key_names_k, 1, false, 65537, &set), SPK_ERR_ARG);
    CHECK_STATUS(spk__shards_compute(NULL, key_names_k, 1, false, 2, &set), SPK_ERR_ARG);
    const char *const null_name[1] = {NULL};
    CHECK_STATUS(spk__shards_compute(small, null_name, 1, false, 2, &set), SPK_ERR_ARG);
    /* The largest count on a million distinct keys: 65536 shards of 15 or 16 rows. */
    CHECK_OK(spk__shards_compute(t, key_names_k, 1, false, 65536, &set));
    CHECK_EQ_INT(spk_shards_count(set), 65536);
    int64_t low = INT64_MAX, high = 0;
    for (int i = 0; set && i < 65536; i += 4099) {
        spk_table *part = NULL;
        CHECK_OK(spk__shard_filter(t, 0, spk_shards_get(set, i), false, &part));
        int64_t n = (int64_t)spk_table_nrows(part);
        low = n < low ? n : low;
        high = n > high ? n : high;
        spk_table_free(part);
    }
    CHECK(low >= 15 && high <= 16);
    spk_shards_free(set);
    spk_table_free(small);
}

/* ------------------------------------------------------------ physical shards */

/* Checks physical shards of t at asof: count, chunk-aligned ranges chaining
 * from 0 to the end, sizes as even as chunks allow, and the filtered rows are
 * the table's rows in order. */
static void check_physical(const spk_table *t, uint64_t asof, int max) {
    spk_shards *set = NULL;
    CHECK_OK(spk__shards_physical(t, asof, max, &set));
    if (!set) return;
    size_t rows = spk_table_nrows(t), chunks = spk_table_nchunks(t);
    size_t expect = chunks == 0 ? 1 : max == 0 || (size_t)max > chunks ? chunks : (size_t)max;
    int count = spk_shards_count(set);
    if ((size_t)count != expect) failf(__FILE__, __LINE__, "max %d: %d shards, expected %zu", max, count, expect);
    int64_t next = 0, next_id = 0;
    for (int i = 0; i < count; i++) {
        const spk_shard *sh = spk_shards_get(set, i);
        uint64_t sh_asof;
        int64_t begin, end;
        CHECK(spk_shard_is_physical(sh));
        CHECK_EQ_INT(spk_shard_nkeys(sh), 0);
        spk_shard_rows(sh, &sh_asof, &begin, &end);
        CHECK_EQ_INT(sh_asof, asof);
        if (begin != next || end < begin || (rows && end == begin) || (end % SPK_CHUNK_ROWS && (size_t)end != rows))
            failf(__FILE__, __LINE__, "max %d: shard %d is rows [%lld, %lld) after %lld", max, i, (long long)begin,
                  (long long)end, (long long)next);
        double ideal = (double)rows / count;
        if (fabs((double)(end - begin) - ideal) > SPK_CHUNK_ROWS)
            failf(__FILE__, __LINE__, "max %d: shard %d holds %lld rows; equal would be %.0f", max, i,
                  (long long)(end - begin), ideal);
        next = end;
        spk_table *part = NULL;
        CHECK_OK(spk__shard_filter(t, asof, sh, false, &part));
        if (!part) continue;
        CHECK_EQ_INT(spk_table_nrows(part), end - begin);
        spk_cursor cur;
        spk_cursor_open(&cur, part);
        size_t wrong = 0;
        while (spk_cursor_next(&cur)) {
            spk_value id;
            spk_cursor_get(&cur, 0, &id);
            wrong += id.as.i64 != next_id++;
        }
        if (wrong) failf(__FILE__, __LINE__, "max %d: shard %d: %zu rows out of order", max, i, wrong);
        if (begin == 0) { /* a run from row 0 shares the table's chunks instead of copying them */
            size_t shared = 0;
            for (size_t c = 0; c < part->nchunks && c < t->nchunks; c++) shared += part->chunks[c] == t->chunks[c];
            CHECK_EQ_INT(shared, part->nchunks);
        }
        if (rows && i == 0) { /* spot-check the slots themselves: a key read through the shard's table */
            spk_value a, b;
            CHECK_OK(spk_table_get(part, 0, 1, &a));
            CHECK_OK(spk_table_get(t, (size_t)begin, 1, &b));
            CHECK(spk_value_compare(&a, &b, true) == 0);
        }
        spk_table_free(part);
    }
    if ((size_t)next != rows || (size_t)next_id != rows)
        failf(__FILE__, __LINE__, "max %d: shards end at row %lld, %lld rows read, table has %zu", max, (long long)next,
              (long long)next_id, rows);
    spk_shards_free(set);
}

static void test_physical(void) {
    static const int maxes[5] = {0, 1, 2, 7, 64};
    const spk_table *t = big_table(KEYS_UNIFORM);
    CHECK(t && spk_table_nchunks(t) == (BIG_ROWS + SPK_CHUNK_ROWS - 1) / SPK_CHUNK_ROWS);
    for (size_t rows = 0; rows <= 1; rows++) {
        spk_table *small = make_keyed(NULL, KEYS_SKEWED, rows);
        for (int i = 0; small && i < 5; i++) check_physical(small, 3, maxes[i]);
        spk_table_free(small);
    }
    for (int i = 0; t && i < 5; i++) check_physical(t, 7, maxes[i]);
    spk_shards *set = NULL;
    CHECK_STATUS(spk__shards_physical(t, 7, -1, &set), SPK_ERR_ARG);
    /* A table with strings over several chunks, shards copied rather than shared. */
    spk_table *s = NULL;
    CHECK_OK(spk_table_from_fixture(NULL, "id BIGINT NOT NULL, k STRING", &s));
    for (int i = 0; s && i < 3 * SPK_CHUNK_ROWS + 5; i++) {
        char buf[24];
        snprintf(buf, sizeof buf, "v%d", i % 1000);
        spk_value row[2] = {spk_value_i64(i), spk_value_str(buf)};
        if (spk_table_append_row(s, row, 2) != SPK_OK) break;
    }
    for (int i = 0; s && i < 5; i++) check_physical(s, 1, maxes[i]);
    if (s) {
        CHECK_OK(spk__shards_physical(s, 1, 2, &set));
        spk_table *part = NULL;
        CHECK_OK(spk__shard_filter(s, 1, spk_shards_get(set, 1), false, &part));
        char *text = part ? table_text(part) : NULL;
        CHECK(text && strncmp(text, "131072,v72|131073,v73|", 22) == 0);
        free(text);
        spk_table_free(part);
        spk_shards_free(set);
    }
    spk_table_free(s);
}

/* A physical shard applies only to its own version and its own rows. */
static void test_physical_errors(void) {
    const spk_table *t = big_table(KEYS_UNIFORM);
    if (!t) return;
    spk_shards *set = NULL;
    CHECK_OK(spk__shards_physical(t, 7, 4, &set));
    if (!set) return;
    spk_table *part = (spk_table *)1;
    CHECK_STATUS(spk__shard_filter(t, 8, spk_shards_get(set, 1), false, &part), SPK_ERR_ARG);
    CHECK(part == NULL);
    CHECK_CONTAINS(spk_last_error(), "asof 7");
    CHECK_CONTAINS(spk_last_error(), "asof 8");
    spk_shard beyond = *spk_shards_get(set, 3);
    beyond.row_end = BIG_ROWS + 1;
    CHECK_STATUS(spk__shard_filter(t, 7, &beyond, false, &part), SPK_ERR_ARG);
    CHECK_CONTAINS(spk_last_error(), "1000001");
    spk_table *small = make_keyed(NULL, KEYS_UNIFORM, 100);
    CHECK_STATUS(spk__shard_filter(small, 7, spk_shards_get(set, 1), false, &part), SPK_ERR_ARG);
    spk_table_free(small);
    CHECK_STATUS(spk__shard_filter(t, 7, NULL, false, &part), SPK_ERR_ARG);
    spk_shards_free(set);
}

/* ------------------------------------------------------------ accessors, describe */

static void test_describe(void) {
    const spk_table *t = big_table(KEYS_UNIFORM);
    spk_shards *set = NULL;
    char buf[128];
    if (t) {
        CHECK_OK(spk__shards_physical(t, 7, 0, &set));
        CHECK_EQ_INT(spk_shard_describe(spk_shards_get(set, 0), buf, sizeof buf), strlen("rows [0, 65536) of asof 7"));
        CHECK_STR(buf, "rows [0, 65536) of asof 7");
        spk_shard_describe(spk_shards_get(set, 15), buf, sizeof buf);
        CHECK_STR(buf, "rows [983040, 1000000) of asof 7");
        CHECK(spk_shard_key_name(spk_shards_get(set, 0), 0) == NULL);
        spk_shards_free(set);
        set = NULL;
    }
    spk_table *k = NULL;
    CHECK_OK(spk_table_from_fixture(NULL, "i INT, s STRING\n20,a\n5,z\n10,b", &k));
    const char *const keys[2] = {"i", "s"};
    CHECK_OK(spk__shards_compute(k, keys, 2, false, 3, &set));
    CHECK_EQ_INT(spk_shards_count(set), 3);
    if (spk_shards_count(set) == 3) {
        spk_shard_describe(spk_shards_get(set, 0), buf, sizeof buf);
        CHECK_STR(buf, "keys (-inf, (10, 'b'))");
        size_t len = spk_shard_describe(spk_shards_get(set, 1), buf, sizeof buf);
        CHECK_STR(buf, "keys [(10, 'b'), (20, 'a'))");
        CHECK_EQ_INT(len, strlen("keys [(10, 'b'), (20, 'a'))"));
        spk_shard_describe(spk_shards_get(set, 2), buf, sizeof buf);
        CHECK_STR(buf, "keys [(20, 'a'), +inf)");
        /* snprintf contract: the full length, a cut and terminated text. */
        char small[8];
        CHECK_EQ_INT(spk_shard_describe(spk_shards_get(set, 1), small, sizeof small), len);
        CHECK_STR(small, "keys [(");
        CHECK_EQ_INT(spk_shard_describe(spk_shards_get(set, 1), NULL, 0), len);
        CHECK_STR(spk_shard_key_name(spk_shards_get(set, 1), 1), "s");
        CHECK(spk_shard_key_name(spk_shards_get(set, 1), 2) == NULL);
        CHECK(spk_shards_get(set, 3) == NULL && spk_shards_get(set, -1) == NULL);
        uint64_t asof = 99;
        int64_t b = 99, e = 99;
        spk_shard_rows(spk_shards_get(set, 1), &asof, &b, &e);
        CHECK(asof == 0 && b == 0 && e == 0);
    }
    spk_shards_free(set);
    spk_table_free(k);
    /* One key, quotes doubled, a date, NULL bounds. */
    CHECK_OK(spk_table_from_fixture(NULL, "s STRING, d DATE\nit's,2024-01-31\nb,NULL\nNULL,1999-12-31", &k));
    const char *const s_only[1] = {"s"}, *const d_only[1] = {"d"};
    set = NULL;
    CHECK_OK(spk__shards_compute(k, s_only, 1, false, 3, &set));
    spk_shard_describe(spk_shards_get(set, 1), buf, sizeof buf);
    CHECK_STR(buf, "keys ['b', 'it''s')");
    spk_shards_free(set);
    set = NULL;
    CHECK_OK(spk__shards_compute(k, d_only, 1, false, 2, &set));
    spk_shard_describe(spk_shards_get(set, 0), buf, sizeof buf);
    CHECK_STR(buf, "keys (-inf, DATE '2024-01-31')"); /* the cut nearest 3/2 rows: after the first two */
    spk_shards_free(set);
    set = NULL;
    CHECK_OK(spk__shards_compute(k, d_only, 1, false, 1, &set));
    spk_shard_describe(spk_shards_get(set, 0), buf, sizeof buf);
    CHECK_STR(buf, "keys (-inf, +inf)");
    spk_shards_free(set);
    spk_table_free(k);
    CHECK_EQ_INT(spk_shards_count(NULL), 0);
    spk_shards_free(NULL);
}

/* Doubles: -0.0 equals 0.0 (never split), NaN sorts above +Infinity; a
 * NULL-heavy column where a bound is NULL-adjacent. */
static void test_compute_doubles_and_nulls(void) {
    spk_table *t = NULL;
    CHECK_OK(spk_table_from_fixture(NULL, "id BIGINT NOT NULL, k DOUBLE", &t));
    if (!t) return;
    static const double vals[] = {0.0, -0.0, 1.5, -1.5, 1e300, -1e300, 0.25};
    for (int i = 0; i < 300; i++) {
        spk_value k;
        int r = (int)(rng_next() % 10);
        if (r < 7) k = spk_value_f64(vals[r]);
        else if (r == 7) k = spk_value_f64(NAN);
        else if (r == 8) k = spk_value_f64(INFINITY);
        else k = spk_value_null();
        spk_value row[2] = {spk_value_i64(i), k};
        CHECK_OK(spk_table_append_row(t, row, 2));
    }
    size_t distinct = distinct_tuples(t, key_cols_k, 1);
    CHECK_EQ_INT(distinct, 9); /* 0.0 and -0.0 are one value; plus NaN, Infinity, NULL */
    for (int n = 1; n <= 12; n++) {
        spk_shards *set = NULL;
        CHECK_OK(spk__shards_compute(t, key_names_k, 1, false, n, &set));
        char label[32];
        snprintf(label, sizeof label, "doubles, n=%d", n);
        if (set) check_key_shards(label, t, set, n, distinct, false, key_cols_k, key_names_k, 1, NULL);
        if (set && n >= 9) { /* every value its own shard: the last is NaN's */
            spk_value lower[1];
            bool hl, hu;
            spk_shard_bounds(spk_shards_get(set, 8), &hl, lower, &hu, NULL);
            CHECK(hl && !hu && lower[0].type.id == SPK_TYPE_DOUBLE && isnan(lower[0].as.f64));
        }
        spk_shards_free(set);
    }
    spk_table_free(t);
}

/* ------------------------------------------------------------ threads */

/* Workers filter shards of one shared table at once (the table is read-only;
 * physical shards share its chunks, so chunk reference counts are touched
 * from every thread), and one of them computes a set meanwhile. */
typedef struct worker {
    const spk_table *t;
    const spk_shards *keyed, *physical;
    int id, nworkers;
    size_t rows;
    uint64_t id_sum;
    int errors, computed;
} worker;

static void count_rows(worker *w, const spk_table *part) {
    spk_cursor cur;
    spk_cursor_open(&cur, part);
    while (spk_cursor_next(&cur)) {
        spk_value v;
        spk_cursor_get(&cur, 0, &v);
        w->id_sum += (uint64_t)v.as.i64;
        w->rows++;
    }
}

static int worker_run(void *arg) {
    worker *w = (worker *)arg;
    for (int pass = 0; pass < 2; pass++) {
        const spk_shards *set = pass ? w->physical : w->keyed;
        for (int i = w->id; i < spk_shards_count(set); i += w->nworkers) {
            spk_table *part = NULL;
            if (spk__shard_filter(w->t, 5, spk_shards_get(set, i), false, &part) != SPK_OK) w->errors++;
            if (part) count_rows(w, part);
            spk_table_free(part);
        }
    }
    if (w->id == 0) {
        spk_shards *set = NULL;
        w->computed = spk__shards_compute(w->t, key_names_k, 1, false, 16, &set) == SPK_OK ? spk_shards_count(set) : -1;
        spk_shards_free(set);
    }
    return 0;
}

static void test_concurrent_filters(void) {
    const spk_table *t = big_table(KEYS_SKEWED);
    if (!t) return;
    spk_shards *keyed = NULL, *physical = NULL;
    CHECK_OK(spk__shards_compute(t, key_names_k, 1, false, 13, &keyed));
    CHECK_OK(spk__shards_physical(t, 5, 9, &physical));
    if (!keyed || !physical) return;
    enum { NW = 4 };
    worker w[NW];
    mt_thread th[NW];
    bool started[NW];
    for (int i = 0; i < NW; i++) {
        w[i] = (worker){t, keyed, physical, i, NW, 0, 0, 0, 0};
        started[i] = mt_start(&th[i], worker_run, &w[i]);
        CHECK(started[i]);
    }
    size_t rows = 0;
    uint64_t sum = 0;
    for (int i = 0; i < NW; i++) {
        if (!started[i]) continue;
        mt_join(&th[i]);
        rows += w[i].rows;
        sum += w[i].id_sum;
        CHECK_EQ_INT(w[i].errors, 0);
    }
    /* Each pass reads every row once: twice the rows, twice the id sum. */
    CHECK_EQ_INT(rows, 2 * (size_t)BIG_ROWS);
    CHECK(sum == (uint64_t)BIG_ROWS * (BIG_ROWS - 1));
    CHECK_EQ_INT(w[0].computed, 16);
    spk_shards_free(keyed);
    spk_shards_free(physical);
}

/* ------------------------------------------------------------ allocation failures */

/* Fails allocation k of compute (then of filter) for every k until a run
 * needs no failure: each run is SPK_OK or SPK_ERR_NOMEM and leaves the
 * allocator's live blocks as they were. */
static void sweep(const spk_table *t, spk_failalloc *f, const char *const *keys, int nkeys, bool physical) {
    long base_blocks = f->live_blocks;
    long runs = 0, nomem = 0;
    for (long k = 1; k < 100000; k++) {
        f->failures = 0;
        f->fail_at = f->calls + k;
        spk_shards *set = NULL;
        spk_status st = physical ? spk__shards_physical(t, 1, 3, &set) : spk__shards_compute(t, keys, nkeys, false, 5, &set);
        spk_table *part = NULL;
        spk_status st2 = SPK_OK;
        if (st == SPK_OK) st2 = spk__shard_filter(t, 1, spk_shards_get(set, spk_shards_count(set) - 1), false, &part);
        f->fail_at = 0;
        runs++;
        if (st != SPK_OK && st != SPK_ERR_NOMEM)
            failf(__FILE__, __LINE__, "run %ld: compute returned %s", k, spk_status_name(st));
        if (st2 != SPK_OK && st2 != SPK_ERR_NOMEM)
            failf(__FILE__, __LINE__, "run %ld: filter returned %s", k, spk_status_name(st2));
        if (st == SPK_OK && st2 == SPK_OK && f->failures == 0) {
            CHECK(part != NULL && spk_table_nrows(part) > 0);
        }
        nomem += st == SPK_ERR_NOMEM || st2 == SPK_ERR_NOMEM;
        if ((st == SPK_ERR_NOMEM && set) || (st2 == SPK_ERR_NOMEM && part))
            failf(__FILE__, __LINE__, "run %ld: output on failure", k);
        spk_table_free(part);
        spk_shards_free(set);
        if (f->live_blocks != base_blocks)
            failf(__FILE__, __LINE__, "run %ld: %ld blocks live, expected %ld", k, f->live_blocks, base_blocks);
        if (f->failures == 0) break;
    }
    CHECK(runs > 2 && nomem > 0);
}

static void test_alloc_failures(void) {
    spk_failalloc f;
    spk_failalloc_init(&f, NULL, 0);
    spk_table *t = NULL;
    CHECK_OK(spk_table_from_fixture(&f.iface, "id BIGINT NOT NULL, s STRING, k BIGINT", &t));
    if (!t) return;
    for (int i = 0; i < 3000; i++) {
        char buf[16];
        snprintf(buf, sizeof buf, "w%d", (int)(rng_next() % 50));
        spk_value row[3] = {spk_value_i64(i), i % 31 ? spk_value_str(buf) : spk_value_null(),
                            spk_value_i64((int64_t)(rng_next() % 1000))};
        CHECK_OK(spk_table_append_row(t, row, 3));
    }
    const char *const one[1] = {"k"}, *const two[2] = {"s", "k"};
    sweep(t, &f, one, 1, false);
    sweep(t, &f, two, 2, false);
    sweep(t, &f, NULL, 0, true);
    spk_table_free(t);
    CHECK_EQ_INT(f.live_blocks, 0);
}

int main(void) {
    RUN(test_describe);
    RUN(test_compute_small_tables);
    RUN(test_compute_uniform_1m);
    RUN(test_compute_skewed_1m);
    RUN(test_compute_duplicates_1m);
    RUN(test_compute_two_keys_with_nulls);
    RUN(test_compute_string_key);
    RUN(test_compute_doubles_and_nulls);
    RUN(test_filter_other_schemas);
    RUN(test_compute_errors);
    RUN(test_physical);
    RUN(test_physical_errors);
    RUN(test_concurrent_filters);
    RUN(test_alloc_failures);
    for (int i = 0; i < 3; i++) spk_table_free(big[i]);
    return TEST_REPORT();
}
