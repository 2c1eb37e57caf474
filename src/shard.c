/* shard: physical shards (chunk runs) and computed key-range shards. */
#include "catalog.c"
#include "shard.h"

/* A shard set is one block: the set, its shards, the bound values (shard i's
 * upper bound is shard i+1's lower bound, so they are stored once), the key
 * names and the bytes of the names and string bounds. The tables a set was
 * made from may be freed before it, so nothing in it points into them. */
struct spk_shard {
    bool physical;
    int nkeys;
    uint64_t asof;                  /* physical only */
    int64_t row_begin, row_end;     /* physical only */
    const char *const *key_names;   /* key shards: nkeys names, as the schema spells them */
    const spk_value *lower, *upper; /* key shards: nkeys values each, NULL when unbounded */
};

struct spk_shards {
    size_t bytes; /* the whole block, from spk__default_allocator */
    int count;
    spk_shard *shards;
};

#define SPK__SHARD_MAX_KEYS 16
#define SPK__SHARD_MAX_COUNT 65536
#define SPK__SHARD_SIGN_BIT 0x8000000000000000ULL

static size_t spk__shard_align(size_t n) {
    size_t a = _Alignof(max_align_t);
    return (n + a - 1) / a * a;
}

/* An empty set of `count` shards with room for `nbounds` values, `nkeys`
 * names and `text_bytes` of characters (returned in *text). */
static spk_status spk__shards_alloc(int count, size_t nbounds, int nkeys, size_t text_bytes, spk_shards **out,
                                    spk_value **bounds, const char ***names, char **text) {
    size_t at_shards = spk__shard_align(sizeof(spk_shards));
    size_t at_bounds = spk__shard_align(at_shards + (size_t)count * sizeof(spk_shard));
    size_t at_names = spk__shard_align(at_bounds + nbounds * sizeof(spk_value));
    size_t at_text = at_names + (size_t)nkeys * sizeof(char *);
    size_t bytes = at_text + text_bytes;
    unsigned char *block = (unsigned char *)spk__calloc(&spk__default_allocator, bytes);
    if (!block) return spk__nomem("a shard set", bytes);
    spk_shards *set = (spk_shards *)(void *)block;
    set->bytes = bytes;
    set->count = count;
    set->shards = (spk_shard *)(void *)(block + at_shards);
    *bounds = (spk_value *)(void *)(block + at_bounds);
    *names = (const char **)(void *)(block + at_names);
    *text = (char *)(block + at_text);
    *out = set;
    return SPK_OK;
}

SPKDEF int spk_shards_count(const spk_shards *set) { return set ? set->count : 0; }

SPKDEF const spk_shard *spk_shards_get(const spk_shards *set, int i) {
    return set && i >= 0 && i < set->count ? &set->shards[i] : NULL;
}

SPKDEF void spk_shards_free(spk_shards *set) {
    if (set) spk__free(&spk__default_allocator, set, set->bytes);
}

SPKDEF bool spk_shard_is_physical(const spk_shard *sh) { return sh && sh->physical; }

SPKDEF void spk_shard_rows(const spk_shard *sh, uint64_t *asof, int64_t *row_begin, int64_t *row_end) {
    bool phys = sh && sh->physical;
    if (asof) *asof = phys ? sh->asof : 0;
    if (row_begin) *row_begin = phys ? sh->row_begin : 0;
    if (row_end) *row_end = phys ? sh->row_end : 0;
}

SPKDEF int spk_shard_nkeys(const spk_shard *sh) { return sh && !sh->physical ? sh->nkeys : 0; }

SPKDEF const char *spk_shard_key_name(const spk_shard *sh, int k) {
    return sh && !sh->physical && k >= 0 && k < sh->nkeys ? sh->key_names[k] : NULL;
}

SPKDEF void spk_shard_bounds(const spk_shard *sh, bool *has_lower, spk_value *lower, bool *has_upper, spk_value *upper) {
    bool keyed = sh && !sh->physical;
    if (has_lower) *has_lower = keyed && sh->lower;
    if (has_upper) *has_upper = keyed && sh->upper;
    if (keyed && sh->lower && lower) memcpy(lower, sh->lower, (size_t)sh->nkeys * sizeof *lower);
    if (keyed && sh->upper && upper) memcpy(upper, sh->upper, (size_t)sh->nkeys * sizeof *upper);
}

/* ---------------------------------------------------------------- describe */

/* Appends n raw bytes to a spk__textout (schema.c), which may hold NULs or
 * exceed what a "%.*s" precision can say. */
static void spk__shard_put(spk__textout *o, const char *s, size_t n) {
    if (o->len < o->cap) {
        size_t room = o->cap - 1 - o->len, k = n < room ? n : room;
        if (k) memcpy(o->buf + o->len, s, k);
        o->buf[o->len + k] = '\0';
    }
    o->len += n;
}

static void spk__shard_puts(spk__textout *o, const char *s) { spk__shard_put(o, s, strlen(s)); }

/* A value as a SQL literal: 'it''s', DATE '2024-01-31', NULL, 42. */
static void spk__shard_literal(spk__textout *o, const spk_value *v) {
    if (v->is_null || v->type.id == SPK_TYPE_NULL) {
        spk__shard_puts(o, "NULL");
        return;
    }
    if (v->type.id == SPK_TYPE_STRING) {
        /* Quotes doubled; control bytes (NUL among them) as \xNN, so the text stays one C string. */
        const char *p = v->as.str.ptr, *end = p + v->as.str.len;
        spk__shard_put(o, "'", 1);
        for (; p < end; p++) {
            unsigned char c = (unsigned char)*p;
            if (c == '\'') spk__shard_put(o, "''", 2);
            else if (c < 0x20 || c == 0x7f) spk__out(o, "\\x%02x", c);
            else spk__shard_put(o, p, 1);
        }
        spk__shard_put(o, "'", 1);
        return;
    }
    char text[SPK_VALUE_TEXT_MAX];
    spk_value_format(v, text, sizeof text);
    bool quoted = v->type.id == SPK_TYPE_DATE || v->type.id == SPK_TYPE_TIMESTAMP;
    if (quoted) spk__shard_puts(o, v->type.id == SPK_TYPE_DATE ? "DATE '" : "TIMESTAMP '");
    spk__shard_puts(o, text);
    if (quoted) spk__shard_put(o, "'", 1);
}

/* One key: the value; several: (v1, v2). */
static void spk__shard_tuple(spk__textout *o, const spk_value *values, int n) {
    if (n > 1) spk__shard_put(o, "(", 1);
    for (int k = 0; k < n; k++) {
        if (k) spk__shard_put(o, ", ", 2);
        spk__shard_literal(o, &values[k]);
    }
    if (n > 1) spk__shard_put(o, ")", 1);
}

SPKDEF size_t spk_shard_describe(const spk_shard *sh, char *buf, size_t cap) {
    spk__textout o = spk__textout_make(buf, cap);
    if (!sh) {
        spk__shard_puts(&o, "(no shard)");
    } else if (sh->physical) {
        spk__out(&o, "rows [%lld, %lld) of asof %llu", (long long)sh->row_begin, (long long)sh->row_end,
                 (unsigned long long)sh->asof);
    } else {
        spk__shard_puts(&o, "keys ");
        if (sh->lower) {
            spk__shard_put(&o, "[", 1);
            spk__shard_tuple(&o, sh->lower, sh->nkeys);
        } else {
            spk__shard_puts(&o, "(-inf");
        }
        spk__shard_put(&o, ", ", 2);
        if (sh->upper) {
            spk__shard_tuple(&o, sh->upper, sh->nkeys);
            spk__shard_put(&o, ")", 1);
        } else {
            spk__shard_puts(&o, "+inf)");
        }
    }
    return o.len;
}

/* ---------------------------------------------------------------- cut points */

/* Splits positions [0, n) whose groups end at ends[0..ngroups) (increasing,
 * the last == n) into k runs of whole groups (1 <= k <= ngroups): cut i lies
 * at the group end nearest to i*n/k, kept after the previous cut and early
 * enough to leave a group for each later run, so no run is empty. */
static void spk__shard_cuts(const size_t *ends, size_t ngroups, size_t n, int k, size_t *cuts) {
    size_t prev = 0; /* groups before the previous cut */
    for (int i = 1; i < k; i++) {
        size_t target = (size_t)(((uint64_t)i * n + (uint64_t)k / 2) / (uint64_t)k);
        size_t lo = 0, hi = ngroups; /* the first group ending at or after target */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (ends[mid] < target) lo = mid + 1;
            else hi = mid;
        }
        size_t groups = lo + 1;
        if (lo > 0 && target - ends[lo - 1] <= ends[lo] - target) groups = lo;
        if (groups < prev + 1) groups = prev + 1;
        if (groups > ngroups - (size_t)(k - i)) groups = ngroups - (size_t)(k - i);
        cuts[i - 1] = ends[groups - 1];
        prev = groups;
    }
}

/* ---------------------------------------------------------------- physical shards */

static spk_status spk__shards_physical(const spk_table *rows, uint64_t asof, int max, spk_shards **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "shards: NULL output");
    *out = NULL;
    if (!rows) return spk__fail(SPK_ERR_ARG, "shards: NULL table");
    if (max < 0) return spk__fail(SPK_ERR_ARG, "shards: the shard count must be >= 0 (0: one per chunk), got %d", max);
    const spk_allocator *a = rows->alloc;
    size_t nonempty = 0;
    for (size_t i = 0; i < rows->nchunks; i++) nonempty += rows->chunks[i]->nrows > 0;
    size_t k = max == 0 || (size_t)max > nonempty ? nonempty : (size_t)max;
    if (k == 0) k = 1;
    size_t *ends = NULL, *cuts = NULL, ends_bytes = (nonempty ? nonempty : 1) * sizeof *ends;
    size_t cuts_bytes = k * sizeof *cuts;
    ends = (size_t *)spk__alloc(a, ends_bytes);
    cuts = ends ? (size_t *)spk__alloc(a, cuts_bytes) : NULL;
    spk_status st = ends && cuts ? SPK_OK : spk__nomem("shard cut points", ends_bytes + cuts_bytes);
    spk_shards *set = NULL;
    spk_value *bounds = NULL;
    const char **names = NULL;
    char *text = NULL;
    if (st == SPK_OK) st = spk__shards_alloc((int)k, 0, 0, 0, &set, &bounds, &names, &text);
    if (st == SPK_OK) {
        size_t g = 0;
        for (size_t i = 0; i < rows->nchunks; i++)
            if (rows->chunks[i]->nrows) ends[g++] = rows->chunks[i]->first_row + rows->chunks[i]->nrows;
        if (nonempty) spk__shard_cuts(ends, nonempty, rows->nrows, (int)k, cuts);
        cuts[k - 1] = rows->nrows;
        for (size_t i = 0; i < k; i++) {
            spk_shard *sh = &set->shards[i];
            sh->physical = true;
            sh->asof = asof;
            sh->row_begin = i ? (int64_t)cuts[i - 1] : 0;
            sh->row_end = (int64_t)cuts[i];
        }
        *out = set;
    }
    spk__free(a, ends, ends_bytes);
    spk__free(a, cuts, cuts_bytes);
    return st;
}

/* ---------------------------------------------------------------- key codes
 * A non-string key becomes an unsigned 64-bit code that sorts as
 * spk_value_compare sorts values of its type: integers with the sign bit
 * flipped, doubles by their bits (-0.0 as 0.0, every NaN as one NaN above
 * +Infinity). Codes of one column compare exactly, and decode back. */

static uint64_t spk__shard_f64_code(double d) {
    uint64_t bits;
    if (d == 0) d = 0.0;
    if (isnan(d)) bits = 0x7ff8000000000000ULL;
    else memcpy(&bits, &d, sizeof bits);
    return bits & SPK__SHARD_SIGN_BIT ? ~bits : bits | SPK__SHARD_SIGN_BIT;
}

static uint64_t spk__shard_slot_code(const unsigned char *p, spk_type_id id) {
    switch (id) {
    case SPK_TYPE_BOOLEAN: return *p != 0;
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE: {
        int32_t x;
        memcpy(&x, p, 4);
        return (uint64_t)(int64_t)x ^ SPK__SHARD_SIGN_BIT;
    }
    case SPK_TYPE_INT64:
    case SPK_TYPE_DECIMAL:
    case SPK_TYPE_TIMESTAMP: {
        uint64_t x;
        memcpy(&x, p, 8);
        return x ^ SPK__SHARD_SIGN_BIT;
    }
    case SPK_TYPE_DOUBLE: {
        double d;
        memcpy(&d, p, 8);
        return spk__shard_f64_code(d);
    }
    default: return 0;
    }
}

/* The code of a non-NULL value of its own column's type. */
static uint64_t spk__shard_value_code(const spk_value *v) {
    switch ((spk_type_id)v->type.id) {
    case SPK_TYPE_BOOLEAN: return v->as.b;
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE: return (uint64_t)(int64_t)v->as.i32 ^ SPK__SHARD_SIGN_BIT;
    case SPK_TYPE_DOUBLE: return spk__shard_f64_code(v->as.f64);
    case SPK_TYPE_INT64:
    case SPK_TYPE_DECIMAL:
    case SPK_TYPE_TIMESTAMP: return (uint64_t)v->as.i64 ^ SPK__SHARD_SIGN_BIT;
    default: return 0;
    }
}

static spk_value spk__shard_code_value(uint64_t code, spk_type type) {
    spk_value v = spk_value_null_of(type);
    v.is_null = false;
    switch ((spk_type_id)type.id) {
    case SPK_TYPE_BOOLEAN: v.as.b = code != 0; break;
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE: v.as.i32 = (int32_t)(int64_t)(code ^ SPK__SHARD_SIGN_BIT); break;
    case SPK_TYPE_DOUBLE: {
        uint64_t bits = code & SPK__SHARD_SIGN_BIT ? code & ~SPK__SHARD_SIGN_BIT : ~code;
        memcpy(&v.as.f64, &bits, sizeof bits);
        break;
    }
    case SPK_TYPE_INT64:
    case SPK_TYPE_DECIMAL:
    case SPK_TYPE_TIMESTAMP: v.as.i64 = (int64_t)(code ^ SPK__SHARD_SIGN_BIT); break;
    default: v.is_null = true; break;
    }
    return v;
}

/* A string field of row `index` of chunk c: a view into the chunk's heap. */
static void spk__shard_slot_string(const spk_table *t, const spk__chunk *c, size_t index, int col, const char **ptr,
                             size_t *len) {
    uint32_t start = spk__string_start(t, c, index, col);
    uint32_t end = spk__load_u32(spk__field_at(t, c, index, col));
    *ptr = c->heap ? c->heap + start : "";
    *len = end - start;
}

/* ---------------------------------------------------------------- key shards */

/* Key column k's index; a miss names the key and lists the table's columns
 * (the lookup's suggestions hold at most five). */
static spk_status spk__shard_key_lookup(const spk_schema *schema, const char *name, bool case_sensitive, const char *what,
                                        int k, int *col) {
    spk_status st = spk_schema_lookup(schema, name, case_sensitive, col);
    if (st == SPK_OK) return SPK_OK;
    spk__fail_prefix("%s: key column %d: ", what, k + 1);
    int ncols = spk_schema_ncols(schema);
    if (st == SPK_ERR_NOT_FOUND && ncols > 5) {
        spk__fail_append(" The table's columns: ");
        for (int i = 0; i < ncols; i++) spk__fail_append("%s`%s`", i ? ", " : "", spk_schema_field(schema, i)->name);
        spk__fail_append(".");
    }
    return st;
}

typedef struct spk__shard_strview {
    const char *ptr;
    size_t len;
} spk__shard_strview;

/* The first 8 bytes of a string, big-endian, zero-padded: prefixes that
 * differ order as the strings do; equal ones need the whole strings. */
static uint64_t spk__shard_str_prefix(const char *p, size_t len) {
    const unsigned char *u = (const unsigned char *)p;
    if (len >= 8)
        return (uint64_t)u[0] << 56 | (uint64_t)u[1] << 48 | (uint64_t)u[2] << 40 | (uint64_t)u[3] << 32 |
               (uint64_t)u[4] << 24 | (uint64_t)u[5] << 16 | (uint64_t)u[6] << 8 | (uint64_t)u[7];
    uint64_t x = 0;
    for (size_t i = 0; i < 8; i++) x = x << 8 | (i < len ? u[i] : 0u);
    return x;
}

/* One key column read from every row, in table order. */
typedef struct spk__shard_keycol {
    int col;
    spk_type type;
    bool is_string;
    unsigned char *nulls;     /* 1 = NULL */
    uint64_t *codes;          /* the key's code; a string's prefix; 0 for NULL */
    spk__shard_strview *strs; /* string keys: views into the table */
} spk__shard_keycol;

typedef struct spk__shard_keyset {
    const spk_allocator *alloc;
    size_t nrows;
    int nkeys;
    spk__shard_keycol keys[SPK__SHARD_MAX_KEYS];
} spk__shard_keyset;

static void spk__shard_keyset_free(spk__shard_keyset *ks) {
    size_t n = ks->nrows ? ks->nrows : 1;
    for (int k = 0; k < ks->nkeys; k++) {
        spk__shard_keycol *kc = &ks->keys[k];
        spk__free(ks->alloc, kc->nulls, n);
        spk__free(ks->alloc, kc->codes, n * sizeof *kc->codes);
        spk__free(ks->alloc, kc->strs, n * sizeof *kc->strs);
    }
}

/* Reads key column kc of every row of t. */
static spk_status spk__shard_keycol_load(spk__shard_keyset *ks, const spk_table *t, spk__shard_keycol *kc) {
    size_t n = ks->nrows ? ks->nrows : 1;
    kc->nulls = (unsigned char *)spk__alloc(ks->alloc, n);
    kc->codes = kc->nulls ? (uint64_t *)spk__alloc(ks->alloc, n * sizeof *kc->codes) : NULL;
    if (kc->codes && kc->is_string) kc->strs = (spk__shard_strview *)spk__alloc(ks->alloc, n * sizeof *kc->strs);
    if (!kc->codes || (kc->is_string && !kc->strs))
        return spk__nomem("shard key values", n * (1 + sizeof *kc->codes + sizeof *kc->strs));
    spk_type_id id = (spk_type_id)kc->type.id;
    int col = kc->col;
    size_t r = 0;
    for (size_t ci = 0; ci < t->nchunks; ci++) {
        const spk__chunk *c = t->chunks[ci];
        for (size_t i = 0; i < c->nrows; i++, r++) {
            bool null = id == SPK_TYPE_NULL || spk__slot_is_null(spk__nulls_at(t, c, i), col);
            kc->nulls[r] = null;
            kc->codes[r] = 0;
            if (kc->is_string) {
                kc->strs[r].ptr = "";
                kc->strs[r].len = 0;
                if (!null) {
                    spk__shard_slot_string(t, c, i, col, &kc->strs[r].ptr, &kc->strs[r].len);
                    kc->codes[r] = spk__shard_str_prefix(kc->strs[r].ptr, kc->strs[r].len);
                }
            } else if (!null) {
                kc->codes[r] = spk__shard_slot_code(spk__field_at(t, c, i, col), id);
            }
        }
    }
    return SPK_OK;
}

/* Tuple order of rows a and b: NULLs first, keys left to right. */
static int spk__shard_keyset_cmp(const spk__shard_keyset *ks, uint32_t a, uint32_t b) {
    for (int k = 0; k < ks->nkeys; k++) {
        const spk__shard_keycol *kc = &ks->keys[k];
        int na = kc->nulls[a], nb = kc->nulls[b];
        if (na || nb) {
            if (na != nb) return na ? -1 : 1;
            continue;
        }
        if (kc->codes[a] != kc->codes[b]) return kc->codes[a] < kc->codes[b] ? -1 : 1;
        if (kc->is_string) {
            int c = spk__cmp_bytes(kc->strs[a].ptr, kc->strs[a].len, kc->strs[b].ptr, kc->strs[b].len);
            if (c) return c;
        }
    }
    return 0;
}

/* A row and its first key's code, sorted by code first (a NULL's code is 0,
 * never above a value's); rows with equal codes are then ordered by the
 * whole tuple. */
typedef struct spk__shard_rowkey {
    uint64_t code;
    uint32_t row;
} spk__shard_rowkey;

static bool spk__shard_rowkey_less(const spk__shard_keyset *ks, const spk__shard_rowkey *a, const spk__shard_rowkey *b) {
    return spk__shard_keyset_cmp(ks, a->row, b->row) < 0;
}

/* Stable bottom-up merge sort (runs of 16 by insertion first). */
static void spk__shard_sort_rows(const spk__shard_keyset *ks, spk__shard_rowkey *v, spk__shard_rowkey *tmp, size_t n) {
    const size_t run = 16;
    for (size_t lo = 0; lo < n; lo += run) {
        size_t hi = lo + run < n ? lo + run : n;
        for (size_t i = lo + 1; i < hi; i++) {
            spk__shard_rowkey x = v[i];
            size_t j = i;
            while (j > lo && spk__shard_rowkey_less(ks, &x, &v[j - 1])) {
                v[j] = v[j - 1];
                j--;
            }
            v[j] = x;
        }
    }
    spk__shard_rowkey *from = v, *to = tmp;
    for (size_t width = run; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi) to[o++] = spk__shard_rowkey_less(ks, &from[j], &from[i]) ? from[j++] : from[i++];
            while (i < mid) to[o++] = from[i++];
            while (j < hi) to[o++] = from[j++];
        }
        spk__shard_rowkey *swap = from;
        from = to;
        to = swap;
    }
    if (from != v) memcpy(v, from, n * sizeof *v);
}

#define SPK__SHARD_RADIX_BITS 11
#define SPK__SHARD_RADIX_PASSES 6 /* ceil(64 / 11) */
#define SPK__SHARD_RADIX_COUNTS (SPK__SHARD_RADIX_PASSES << SPK__SHARD_RADIX_BITS)

/* LSD radix sort by 64-bit code, 11 bits a pass, with every pass's
 * histogram taken in one read; passes where every code has the same digit
 * are skipped. counts: SPK__SHARD_RADIX_COUNTS entries. */
static void spk__shard_radix_histogram(size_t *counts, uint64_t code) {
    const uint64_t mask = (1u << SPK__SHARD_RADIX_BITS) - 1;
    for (int p = 0; p < SPK__SHARD_RADIX_PASSES; p++)
        counts[((size_t)p << SPK__SHARD_RADIX_BITS) + ((code >> (p * SPK__SHARD_RADIX_BITS)) & mask)]++;
}

/* Turns pass p's digit counts into starting offsets; false when one digit
 * holds all n codes (the pass would move nothing). */
static bool spk__shard_radix_offsets(size_t *count, uint64_t first_digit, size_t n) {
    if (count[first_digit] == n) return false;
    size_t at = 0;
    for (size_t d = 0; d < ((size_t)1 << SPK__SHARD_RADIX_BITS); d++) {
        size_t c = count[d];
        count[d] = at;
        at += c;
    }
    return true;
}

static void spk__shard_radix_sort(uint64_t *codes, uint64_t *tmp, size_t *counts, size_t n) {
    const uint64_t mask = (1u << SPK__SHARD_RADIX_BITS) - 1;
    memset(counts, 0, SPK__SHARD_RADIX_COUNTS * sizeof *counts);
    for (size_t i = 0; i < n; i++) spk__shard_radix_histogram(counts, codes[i]);
    uint64_t *from = codes, *to = tmp;
    for (int p = 0; p < SPK__SHARD_RADIX_PASSES; p++) {
        int shift = p * SPK__SHARD_RADIX_BITS;
        size_t *count = counts + ((size_t)p << SPK__SHARD_RADIX_BITS);
        if (!spk__shard_radix_offsets(count, (from[0] >> shift) & mask, n)) continue;
        for (size_t i = 0; i < n; i++) to[count[(from[i] >> shift) & mask]++] = from[i];
        uint64_t *swap = from;
        from = to;
        to = swap;
    }
    if (from != codes) memcpy(codes, from, n * sizeof *codes);
}

static void spk__shard_radix_sort_pairs(spk__shard_rowkey *v, spk__shard_rowkey *tmp, size_t *counts, size_t n) {
    const uint64_t mask = (1u << SPK__SHARD_RADIX_BITS) - 1;
    memset(counts, 0, SPK__SHARD_RADIX_COUNTS * sizeof *counts);
    for (size_t i = 0; i < n; i++) spk__shard_radix_histogram(counts, v[i].code);
    spk__shard_rowkey *from = v, *to = tmp;
    for (int p = 0; p < SPK__SHARD_RADIX_PASSES; p++) {
        int shift = p * SPK__SHARD_RADIX_BITS;
        size_t *count = counts + ((size_t)p << SPK__SHARD_RADIX_BITS);
        if (!spk__shard_radix_offsets(count, (from[0].code >> shift) & mask, n)) continue;
        for (size_t i = 0; i < n; i++) to[count[(from[i].code >> shift) & mask]++] = from[i];
        spk__shard_rowkey *swap = from;
        from = to;
        to = swap;
    }
    if (from != v) memcpy(v, from, n * sizeof *v);
}

/* The rows in key order, one of two ways: a single non-string key is sorted
 * as bare codes (NULLs counted, they come first); anything else sorts row
 * numbers. Position p is the p-th row in that order. */
typedef struct spk__shard_sorted {
    const spk__shard_keyset *ks;
    size_t nnull;     /* codes path: positions [0, nnull) are NULL */
    uint64_t *codes;  /* codes path: non-NULL codes, sorted (owned by ks->keys[0]) */
    uint32_t *order;  /* rows path */
} spk__shard_sorted;

static bool spk__shard_sorted_same(const spk__shard_sorted *s, size_t p) { /* positions p-1 and p hold equal keys */
    if (!s->order) return p < s->nnull || (p > s->nnull && s->codes[p - 1 - s->nnull] == s->codes[p - s->nnull]);
    return spk__shard_keyset_cmp(s->ks, s->order[p - 1], s->order[p]) == 0;
}

/* Key k at position p, strings as views into the table. */
static spk_value spk__shard_sorted_key(const spk__shard_sorted *s, size_t p, int k) {
    const spk__shard_keycol *kc = &s->ks->keys[k];
    if (!s->order)
        return p < s->nnull ? spk_value_null_of(kc->type) : spk__shard_code_value(s->codes[p - s->nnull], kc->type);
    uint32_t r = s->order[p];
    if (kc->nulls[r]) return spk_value_null_of(kc->type);
    if (!kc->is_string) return spk__shard_code_value(kc->codes[r], kc->type);
    return spk_value_strn(kc->strs[r].ptr, kc->strs[r].len);
}

static spk_status spk__shards_compute(const spk_table *rows, const char *const *keys, int nkeys, bool case_sensitive,
                                      int n, spk_shards **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "compute shards: NULL output");
    *out = NULL;
    if (!rows || !keys) return spk__fail(SPK_ERR_ARG, "compute shards: NULL argument");
    if (nkeys < 1 || nkeys > SPK__SHARD_MAX_KEYS)
        return spk__fail(SPK_ERR_ARG, "compute shards: %d key columns; between 1 and %d are allowed", nkeys,
                         SPK__SHARD_MAX_KEYS);
    if (n < 1 || n > SPK__SHARD_MAX_COUNT)
        return spk__fail(SPK_ERR_ARG, "compute shards: %d shards asked for; between 1 and %d are allowed", n,
                         SPK__SHARD_MAX_COUNT);
    if (rows->nrows > UINT32_MAX)
        return spk__fail(SPK_ERR_LIMIT, "compute shards: the table has %zu rows; the limit is %lu", rows->nrows,
                         (unsigned long)UINT32_MAX);
    spk__shard_keyset ks;
    memset(&ks, 0, sizeof ks);
    ks.alloc = rows->alloc;
    ks.nrows = rows->nrows;
    size_t names_bytes = 0;
    for (int k = 0; k < nkeys; k++) {
        if (!keys[k]) return spk__fail(SPK_ERR_ARG, "compute shards: key column %d is NULL", k + 1);
        int col;
        spk_status st = spk__shard_key_lookup(rows->schema, keys[k], case_sensitive, "compute shards", k, &col);
        if (st != SPK_OK) return st;
        const spk_field *f = spk_schema_field(rows->schema, col);
        ks.keys[k].col = col;
        ks.keys[k].type = f->type;
        ks.keys[k].is_string = f->type.id == SPK_TYPE_STRING;
        names_bytes += strlen(f->name) + 1;
    }

    size_t nrows = rows->nrows, n1 = nrows ? nrows : 1;
    size_t order_bytes = n1 * sizeof(uint32_t), tmp_bytes = 0, ends_bytes = n1 * sizeof(size_t);
    spk__shard_sorted sorted = {&ks, 0, NULL, NULL};
    void *tmp = NULL;
    size_t *ends = NULL, *cuts = NULL, cuts_bytes = (size_t)n * sizeof *cuts;
    spk_shards *set = NULL;
    spk_status st = SPK_OK;
    for (int k = 0; k < nkeys && st == SPK_OK; k++) {
        ks.nkeys = k + 1; /* what keyset_free releases */
        st = spk__shard_keycol_load(&ks, rows, &ks.keys[k]);
    }

    /* Sort. */
    bool by_codes = nkeys == 1 && !ks.keys[0].is_string;
    if (st == SPK_OK && by_codes) {
        spk__shard_keycol *kc = &ks.keys[0];
        size_t m = 0;
        for (size_t r = 0; r < nrows; r++) {
            kc->codes[m] = kc->codes[r];
            m += !kc->nulls[r];
        }
        sorted.nnull = nrows - m;
        sorted.codes = kc->codes;
        tmp_bytes = n1 * sizeof(uint64_t) + SPK__SHARD_RADIX_COUNTS * sizeof(size_t);
        tmp = spk__alloc(ks.alloc, tmp_bytes);
        if (!tmp) st = spk__nomem("a sort buffer", tmp_bytes);
        else if (m) spk__shard_radix_sort(kc->codes, (uint64_t *)tmp, (size_t *)((uint64_t *)tmp + n1), m);
    } else if (st == SPK_OK) {
        /* Row numbers by key: (first key's code, row) pairs by code, then
         * each run of equal codes by the whole tuple. */
        tmp_bytes = 2 * n1 * sizeof(spk__shard_rowkey) + SPK__SHARD_RADIX_COUNTS * sizeof(size_t);
        sorted.order = (uint32_t *)spk__alloc(ks.alloc, order_bytes);
        tmp = sorted.order ? spk__alloc(ks.alloc, tmp_bytes) : NULL;
        if (!tmp) {
            st = spk__nomem("a sort buffer", order_bytes + tmp_bytes);
        } else {
            spk__shard_rowkey *pairs = (spk__shard_rowkey *)tmp;
            for (size_t r = 0; r < nrows; r++) {
                pairs[r].code = ks.keys[0].codes[r];
                pairs[r].row = (uint32_t)r;
            }
            spk__shard_radix_sort_pairs(pairs, pairs + n1, (size_t *)(pairs + 2 * n1), nrows);
            for (size_t lo = 0, hi; lo < nrows; lo = hi) {
                for (hi = lo + 1; hi < nrows && pairs[hi].code == pairs[lo].code;) hi++;
                if (hi - lo > 1) spk__shard_sort_rows(&ks, pairs + lo, pairs + n1 + lo, hi - lo);
            }
            for (size_t r = 0; r < nrows; r++) sorted.order[r] = pairs[r].row;
        }
    }
    /* The sort buffer is no longer needed: free it before the next ones. */
    spk__free(ks.alloc, tmp, tmp_bytes);
    tmp = NULL;

    /* Groups of equal keys, then cuts between groups. */
    size_t ngroups = 0;
    if (st == SPK_OK) {
        ends = (size_t *)spk__alloc(ks.alloc, ends_bytes);
        cuts = ends ? (size_t *)spk__alloc(ks.alloc, cuts_bytes) : NULL;
        if (!cuts) st = spk__nomem("shard cut points", ends_bytes + cuts_bytes);
    }
    if (st == SPK_OK) {
        for (size_t p = 1; p < nrows; p++)
            if (!spk__shard_sorted_same(&sorted, p)) ends[ngroups++] = p;
        if (nrows) ends[ngroups++] = nrows;
        int count = ngroups == 0 ? 1 : ngroups < (size_t)n ? (int)ngroups : n;
        if (ngroups) spk__shard_cuts(ends, ngroups, nrows, count, cuts);

        /* The set: bound i is the key at cut i. */
        size_t nbounds = (size_t)(count - 1) * (size_t)nkeys, text_bytes = names_bytes;
        for (int i = 0; i + 1 < count; i++)
            for (int k = 0; k < nkeys; k++) {
                spk_value v = spk__shard_sorted_key(&sorted, cuts[i], k);
                if (v.type.id == SPK_TYPE_STRING && !v.is_null) text_bytes += v.as.str.len;
            }
        spk_value *bounds = NULL;
        const char **names = NULL;
        char *text = NULL;
        st = spk__shards_alloc(count, nbounds, nkeys, text_bytes, &set, &bounds, &names, &text);
        if (st == SPK_OK) {
            for (int k = 0; k < nkeys; k++) {
                const char *name = spk_schema_field(rows->schema, ks.keys[k].col)->name;
                size_t len = strlen(name);
                memcpy(text, name, len + 1);
                names[k] = text;
                text += len + 1;
            }
            for (int i = 0; i + 1 < count; i++)
                for (int k = 0; k < nkeys; k++) {
                    spk_value v = spk__shard_sorted_key(&sorted, cuts[i], k);
                    if (v.type.id == SPK_TYPE_STRING && !v.is_null) {
                        if (v.as.str.len) memcpy(text, v.as.str.ptr, v.as.str.len);
                        v.as.str.ptr = text;
                        text += v.as.str.len;
                    }
                    bounds[(size_t)i * (size_t)nkeys + (size_t)k] = v;
                }
            for (int i = 0; i < count; i++) {
                spk_shard *sh = &set->shards[i];
                sh->nkeys = nkeys;
                sh->key_names = names;
                sh->lower = i > 0 ? bounds + (size_t)(i - 1) * (size_t)nkeys : NULL;
                sh->upper = i + 1 < count ? bounds + (size_t)i * (size_t)nkeys : NULL;
            }
            *out = set;
        }
    }
    spk__free(ks.alloc, ends, ends_bytes);
    spk__free(ks.alloc, cuts, cuts_bytes);
    spk__free(ks.alloc, sorted.order, order_bytes);
    spk__shard_keyset_free(&ks);
    return st;
}

/* ---------------------------------------------------------------- filtering */

/* Physical: the row range, sharing whole chunks where they can keep their row
 * numbers (a chunk's first_row is the same in every table holding it, so
 * only a run from row 0 can be shared; the rest is copied). */
static spk_status spk__shard_filter_rows(const spk_table *rows, const spk_shard *sh, spk_table *t) {
    size_t begin = (size_t)sh->row_begin, end = (size_t)sh->row_end;
    spk_status st = SPK_OK;
    for (size_t ci = 0; ci < rows->nchunks && st == SPK_OK; ci++) {
        spk__chunk *c = rows->chunks[ci];
        size_t first = c->first_row, last = first + c->nrows;
        size_t from = begin > first ? begin : first, to = end < last ? end : last;
        if (from >= to) continue;
        if (from == first && to == last && first == t->nrows) {
            if (t->nchunks == t->cap_chunks) {
                size_t cap = t->cap_chunks ? t->cap_chunks * 2 : 4;
                void *p = spk__table_realloc(t, t->chunks, t->cap_chunks * sizeof *t->chunks, cap * sizeof *t->chunks);
                if (!p) {
                    st = spk__nomem("the chunk list", cap * sizeof *t->chunks);
                    break;
                }
                t->chunks = (spk__chunk **)p;
                t->cap_chunks = cap;
            }
            atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed); /* rows holds one */
            t->chunks[t->nchunks++] = c;
            t->nrows += c->nrows;
            t->bytes += spk__chunk_bytes(t, c);
        } else {
            st = spk__table_append_slots(t, rows, c, (uint32_t)(from - first), NULL, (uint32_t)(to - from));
        }
    }
    return st;
}

/* One key of a key shard, resolved against the table being filtered. */
typedef struct spk__shard_keyfilter {
    int col;
    spk_type_id id;
    bool exact;            /* bounds have the column's type: compare codes or bytes */
    bool lower_null, upper_null;
    uint64_t lower_code, upper_code;
} spk__shard_keyfilter;

/* Whether spk_value_compare orders a value of type b against column type a
 * by value (rather than by type id). */
static bool spk__shard_comparable(spk_type a, spk_type b) {
    spk_type_id x = (spk_type_id)a.id, y = (spk_type_id)b.id;
    if (x == y) return true;
    if (spk__is_numeric(x) && spk__is_numeric(y)) return true;
    return (x == SPK_TYPE_DATE || x == SPK_TYPE_TIMESTAMP) && (y == SPK_TYPE_DATE || y == SPK_TYPE_TIMESTAMP);
}

/* Whether codes of type b's values order against codes of column type a's:
 * INT32 and INT64 codes share one space (the value sign-extended). */
static bool spk__shard_same_storage(spk_type a, spk_type b) {
    if (spk__is_integral((spk_type_id)a.id) && spk__is_integral((spk_type_id)b.id)) return true;
    return a.id == b.id && (a.id != SPK_TYPE_DECIMAL || a.scale == b.scale);
}

/* Key k of a row against key k of a bound (not NULL): <0, 0, >0. */
static int spk__shard_key_vs(const spk__shard_keyfilter *f, const spk_value *b, uint64_t bound_code, uint64_t code,
                             const char *str, size_t len, const spk_value *v) {
    if (!f->exact) return spk_value_compare(v, b, true);
    if (code != bound_code) return code < bound_code ? -1 : 1;
    return f->id == SPK_TYPE_STRING ? spk__cmp_bytes(str, len, b->as.str.ptr, b->as.str.len) : 0;
}

/* Whether row i of chunk c lies in [lower, upper) (a NULL bound pointer:
 * unbounded). Both bounds are compared in one walk over the keys, each
 * key read once, stopping as soon as both comparisons are decided. */
static bool spk__shard_row_in(const spk_table *t, const spk__chunk *c, uint32_t i, const spk__shard_keyfilter *kf,
                              int nkeys, const spk_value *lower, const spk_value *upper) {
    const unsigned char *nulls = spk__nulls_at(t, c, i);
    int vs_lower = lower ? 0 : 1, vs_upper = upper ? 0 : -1; /* 0: equal so far */
    for (int k = 0; k < nkeys && (vs_lower == 0 || vs_upper == 0); k++) {
        const spk__shard_keyfilter *f = &kf[k];
        bool row_null = f->id == SPK_TYPE_NULL || spk__slot_is_null(nulls, f->col);
        uint64_t code = 0;
        const char *str = NULL;
        size_t len = 0;
        spk_value v;
        if (!row_null) {
            if (!f->exact) {
                spk__read_cell(t, c, i, f->col, &v);
            } else if (f->id == SPK_TYPE_STRING) {
                spk__shard_slot_string(t, c, i, f->col, &str, &len);
                code = spk__shard_str_prefix(str, len);
            } else {
                code = spk__shard_slot_code(spk__field_at(t, c, i, f->col), f->id);
            }
        }
        for (int side = 0; side < 2; side++) {
            int *state = side ? &vs_upper : &vs_lower;
            if (*state) continue;
            const spk_value *b = side ? &upper[k] : &lower[k];
            bool bound_null = side ? f->upper_null : f->lower_null;
            if (row_null || bound_null) *state = row_null == bound_null ? 0 : row_null ? -1 : 1;
            else *state = spk__shard_key_vs(f, b, side ? f->upper_code : f->lower_code, code, str, len, &v);
        }
        if (vs_lower < 0 || vs_upper > 0) return false;
    }
    return vs_lower >= 0 && vs_upper < 0;
}

/* Which codes a single-key shard takes: lo <= code <= lo + last, as one
 * unsigned comparison (code - lo <= last; codes below lo wrap above last). */
typedef struct spk__shard_code_range {
    uint64_t lo, last;
    bool values_in; /* false: no non-NULL value is in (an empty range, or a NULL upper bound) */
    bool nulls_in;
} spk__shard_code_range;

/* The rows of chunk c whose key (one exactly-typed fixed-width column) is in
 * range, into sel; returns how many. One tight loop per storage width. */
static uint32_t spk__shard_select_codes(const spk_table *t, const spk__chunk *c, const spk__shard_keyfilter *kf,
                                        const spk__shard_code_range *r, uint32_t *sel) {
    const unsigned char *nulls = spk__nulls_at(t, c, 0) + (kf->col >> 3), *vals = spk__field_at(t, c, 0, kf->col);
    const size_t nb = t->null_bytes, size = t->size[kf->col];
    const unsigned char null_bit = (unsigned char)(1u << (kf->col & 7));
    const uint64_t lo = r->lo, last = r->last;
    const bool nulls_in = r->nulls_in;
    uint32_t m = 0, n = c->nrows;
    if (!r->values_in) {
        for (uint32_t i = 0; i < n; i++) {
            sel[m] = i;
            m += nulls_in && (nulls[(size_t)i * nb] & null_bit);
        }
        return m;
    }
    switch (kf->id) {
    case SPK_TYPE_INT64:
    case SPK_TYPE_DECIMAL:
    case SPK_TYPE_TIMESTAMP:
        for (uint32_t i = 0; i < n; i++) {
            uint64_t x;
            memcpy(&x, vals + (size_t)i * 8, 8);
            sel[m] = i;
            m += nulls[(size_t)i * nb] & null_bit ? nulls_in : ((x ^ SPK__SHARD_SIGN_BIT) - lo) <= last;
        }
        break;
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE:
        for (uint32_t i = 0; i < n; i++) {
            int32_t x;
            memcpy(&x, vals + (size_t)i * 4, 4);
            sel[m] = i;
            m += nulls[(size_t)i * nb] & null_bit ? nulls_in : (((uint64_t)(int64_t)x ^ SPK__SHARD_SIGN_BIT) - lo) <= last;
        }
        break;
    default:
        for (uint32_t i = 0; i < n; i++) {
            sel[m] = i;
            m += nulls[(size_t)i * nb] & null_bit ? nulls_in : (spk__shard_slot_code(vals + (size_t)i * size, kf->id) - lo) <= last;
        }
        break;
    }
    return m;
}

/* Key shard: rows with lower <= key < upper, chunk by chunk through a
 * selection of row indexes. */
static spk_status spk__shard_filter_keys(const spk_table *rows, const spk_shard *sh, bool case_sensitive, spk_table *t) {
    spk__shard_keyfilter kf[SPK__SHARD_MAX_KEYS];
    int nkeys = sh->nkeys;
    if (nkeys < 1 || nkeys > SPK__SHARD_MAX_KEYS || !sh->key_names)
        return spk__fail(SPK_ERR_ARG, "shard filter: a key shard with %d keys", nkeys);
    for (int k = 0; k < nkeys; k++) {
        spk_status st =
            spk__shard_key_lookup(rows->schema, sh->key_names[k], case_sensitive, "shard filter", k, &kf[k].col);
        if (st != SPK_OK) return st;
        const spk_field *f = spk_schema_field(rows->schema, kf[k].col);
        kf[k].id = (spk_type_id)f->type.id;
        kf[k].exact = true;
        kf[k].lower_code = kf[k].upper_code = 0;
        kf[k].lower_null = sh->lower && spk__value_is_null(&sh->lower[k]);
        kf[k].upper_null = sh->upper && spk__value_is_null(&sh->upper[k]);
        for (int side = 0; side < 2; side++) {
            const spk_value *bounds = side ? sh->upper : sh->lower;
            if (!bounds || spk__value_is_null(&bounds[k])) continue;
            const spk_value *b = &bounds[k];
            if (!spk_type_valid(b->type) || !spk__shard_comparable(f->type, b->type))
                return spk__fail(SPK_ERR_TYPE,
                                 "shard filter: key `%s` is %s in the table but the shard's bound is %s; "
                                 "they do not compare",
                                 f->name, spk__type_sql(f->type).s, spk__type_sql(b->type).s);
            uint64_t code = b->type.id == SPK_TYPE_STRING ? spk__shard_str_prefix(b->as.str.ptr, b->as.str.len)
                                                          : spk__shard_value_code(b);
            if (!spk__shard_same_storage(f->type, b->type)) kf[k].exact = false;
            else if (side) kf[k].upper_code = code;
            else kf[k].lower_code = code;
        }
    }
    size_t most = 0;
    for (size_t ci = 0; ci < rows->nchunks; ci++)
        if (rows->chunks[ci]->nrows > most) most = rows->chunks[ci]->nrows;
    size_t sel_bytes = (most ? most : 1) * sizeof(uint32_t);
    uint32_t *sel = (uint32_t *)spk__alloc(rows->alloc, sel_bytes);
    if (!sel) return spk__nomem("a shard selection", sel_bytes);
    /* One exactly-typed fixed-width key (the common case) compares codes inline. */
    bool one_code = nkeys == 1 && kf[0].exact && kf[0].id != SPK_TYPE_STRING && kf[0].id != SPK_TYPE_NULL;
    spk__shard_code_range range = {0, UINT64_MAX, true, true};
    if (one_code) {
        /* NULL sorts below every value: equal to a NULL bound, below any other. */
        bool lower_null = sh->lower && spk__value_is_null(&sh->lower[0]);
        bool upper_null = sh->upper && spk__value_is_null(&sh->upper[0]);
        bool has_lo = sh->lower && !lower_null, has_hi = sh->upper && !upper_null;
        range.nulls_in = !has_lo && !upper_null;
        range.lo = has_lo ? kf[0].lower_code : 0;
        range.values_in = !upper_null && (!has_hi || kf[0].upper_code > range.lo);
        range.last = has_hi ? kf[0].upper_code - 1 - range.lo : UINT64_MAX - range.lo;
    }
    spk_status st = SPK_OK;
    for (size_t ci = 0; ci < rows->nchunks && st == SPK_OK; ci++) {
        const spk__chunk *c = rows->chunks[ci];
        uint32_t m = 0;
        if (one_code) {
            m = spk__shard_select_codes(rows, c, &kf[0], &range, sel);
        } else {
            for (uint32_t i = 0; i < c->nrows; i++) {
                sel[m] = i;
                m += spk__shard_row_in(rows, c, i, kf, nkeys, sh->lower, sh->upper);
            }
        }
        if (m) st = spk__table_append_slots(t, rows, c, 0, sel, m);
    }
    spk__free(rows->alloc, sel, sel_bytes);
    return st;
}

static spk_status spk__shard_filter(const spk_table *rows, uint64_t asof, const spk_shard *sh, bool case_sensitive,
                                    spk_table **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "shard filter: NULL output");
    *out = NULL;
    if (!rows || !sh) return spk__fail(SPK_ERR_ARG, "shard filter: NULL argument");
    if (sh->physical) {
        if (sh->asof != asof)
            return spk__fail(SPK_ERR_ARG, "shard filter: a shard of asof %llu used on a scan at asof %llu (physical shards "
                             "apply only to the version they were made from)",
                             (unsigned long long)sh->asof, (unsigned long long)asof);
        if (sh->row_begin < 0 || sh->row_end < sh->row_begin || (uint64_t)sh->row_end > (uint64_t)rows->nrows)
            return spk__fail(SPK_ERR_ARG, "shard filter: rows [%lld, %lld) are not within the table's %zu rows",
                             (long long)sh->row_begin, (long long)sh->row_end, rows->nrows);
    } else if (!sh->lower && !sh->upper && sh->nkeys >= 1 && sh->nkeys <= SPK__SHARD_MAX_KEYS && sh->key_names) {
        /* Unbounded: every row, sharing the chunks once the keys are known to exist. */
        for (int k = 0; k < sh->nkeys; k++) {
            int col;
            spk_status st = spk__shard_key_lookup(rows->schema, sh->key_names[k], case_sensitive, "shard filter", k, &col);
            if (st != SPK_OK) return st;
        }
        return spk__table_share(rows, out);
    }
    spk_table *t = NULL;
    spk_status st = spk_table_new(rows->alloc, rows->schema, &t);
    if (st == SPK_OK)
        st = sh->physical ? spk__shard_filter_rows(rows, sh, t) : spk__shard_filter_keys(rows, sh, case_sensitive, t);
    if (st != SPK_OK) {
        spk_table_free(t);
        return st;
    }
    *out = t;
    return SPK_OK;
}
