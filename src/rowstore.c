/* rowstore: chunks of rows, stored column by column inside each chunk.
 *
 * A row's slot, for a schema's columns in order, with no padding (fields are
 * read with memcpy, so alignment does not matter):
 *   [null bitmap: ceil(ncols/8) bytes, bit set = NULL][field 0][field 1]...
 * Field widths: BOOLEAN 1, INT32/DATE 4, INT64/DOUBLE/DECIMAL/TIMESTAMP 8,
 * STRING 4, void 0. A STRING field holds the end offset of its bytes in the
 * chunk's heap; the bytes start where the previous string of the chunk, in
 * row-major order, ended. That makes a string cost 4 bytes of slot plus its
 * bytes, and keeps a chunk's strings in scan order.
 *
 * A chunk does not keep slots whole (PAX): it keeps every row's null bitmap,
 * then every row's field 0, then every row's field 1, and so on. A column's
 * part starts at cap_rows * offset, where offset is its place in a slot, so
 * a chunk takes cap_rows slots' bytes either way, and a scan reads only the
 * bytes of the columns it uses (a filter on one 4-byte column of a 99-byte
 * row reads 4 bytes a row, not the whole row). Slots still exist at the
 * edges: the file format is row-major (and the CSV reader moves a row whose
 * strings overflow a chunk as one), and spk__chunk_put_slots /
 * spk__chunk_get_slots convert. */
#include "schema.c"
#include "rowstore.h"

typedef struct spk__chunk {
    atomic_int refs;  /* tables holding it; a chunk held by more than one is never written */
    size_t first_row; /* table row number of this chunk's row 0 (the same in every table holding it) */
    uint32_t nrows, cap_rows;
    uint32_t heap_len, heap_cap;
    unsigned char *rows; /* cap_rows * width bytes */
    char *heap;
    /* Bit col: column col (< SPK__NULLS_KNOWN) may hold a NULL in this chunk.
     * Set by every write of a NULL, never cleared, so a clear bit lets a
     * scan skip reading the column's null bits. */
    uint64_t maybe_null[2];
} spk__chunk;

#define SPK__NULLS_KNOWN 128

/* Whether column col of chunk c may hold a NULL (see spk__chunk.maybe_null). */
static inline bool spk__chunk_maybe_null(const spk__chunk *c, int col) {
    return col >= SPK__NULLS_KNOWN || ((c->maybe_null[col >> 6] >> (col & 63)) & 1);
}

/* Notes the NULLs of one row's null bitmap (nb bytes) in c->maybe_null. */
static inline void spk__chunk_note_nulls(spk__chunk *c, const unsigned char *bitmap, size_t nb) {
    for (size_t b = 0; b < nb && b < SPK__NULLS_KNOWN / 8; b++) c->maybe_null[b >> 3] |= (uint64_t)bitmap[b] << (8 * (b & 7));
}

struct spk_table {
    atomic_int refs;     /* spk_table_retain; a table with more than one reference is read-only */
    const spk_allocator *alloc;
    spk_schema *schema;
    int ncols;
    uint32_t width;      /* bytes per slot */
    uint32_t *offset;    /* per column: byte offset in the slot (in a chunk: its part starts at cap_rows * offset) */
    uint32_t *size;      /* per column: bytes of its field (spk__field_width) */
    uint32_t null_bytes; /* bytes of a row's null bitmap */
    int *prev_string;    /* per column: the previous STRING column, or -1 */
    int last_string;     /* the last STRING column, or -1 */
    spk__chunk **chunks;
    size_t nchunks, cap_chunks;
    size_t nrows;
    size_t bytes;        /* held from the allocator */
};

static uint32_t spk__field_width(spk_type_id id) {
    switch (id) {
    case SPK_TYPE_BOOLEAN: return 1;
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE:
    case SPK_TYPE_STRING: return 4;
    case SPK_TYPE_INT64:
    case SPK_TYPE_DOUBLE:
    case SPK_TYPE_DECIMAL:
    case SPK_TYPE_TIMESTAMP: return 8;
    default: return 0;
    }
}

/* Allocation wrappers that keep t->bytes exact. */
static void *spk__table_alloc(spk_table *t, size_t size) {
    void *p = spk__alloc(t->alloc, size);
    if (p) t->bytes += size ? size : 1;
    return p;
}
static void *spk__table_realloc(spk_table *t, void *p, size_t old_size, size_t new_size) {
    void *q = spk__realloc(t->alloc, p, old_size, new_size);
    if (q) t->bytes = t->bytes - (p ? (old_size ? old_size : 1) : 0) + (new_size ? new_size : 1);
    return q;
}
static void spk__table_free_block(spk_table *t, void *p, size_t size) {
    if (!p) return;
    spk__free(t->alloc, p, size);
    t->bytes -= size ? size : 1;
}

/* Bytes a chunk holds from its table's allocator (as the spk__table_*
 * wrappers count them). */
static size_t spk__chunk_bytes(const spk_table *t, const spk__chunk *c) {
    size_t rows = (size_t)c->cap_rows * t->width, bytes = sizeof *c;
    if (c->rows) bytes += rows ? rows : 1;
    if (c->heap) bytes += c->heap_cap ? c->heap_cap : 1;
    return bytes;
}


static bool spk__chunk_shared(spk__chunk *c) { return atomic_load_explicit(&c->refs, memory_order_acquire) > 1; }

/* Drops t's hold on c; the last holder frees it. */
static void spk__chunk_free(spk_table *t, spk__chunk *c) {
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) > 1) { /* acq_rel: as spk_table_free */
        t->bytes -= spk__chunk_bytes(t, c);
        return;
    }
    spk__table_free_block(t, c->rows, (size_t)c->cap_rows * t->width);
    spk__table_free_block(t, c->heap, c->heap_cap);
    spk__table_free_block(t, c, sizeof *c);
}

SPKDEF spk_status spk_table_new(const spk_allocator *alloc, spk_schema *schema, spk_table **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_table_new: NULL output");
    *out = NULL;
    if (!schema) return spk__fail(SPK_ERR_ARG, "spk_table_new: NULL schema");
    alloc = spk__allocator_or_default(alloc);
    spk_table *t = (spk_table *)spk__calloc(alloc, sizeof *t);
    if (!t) return spk__nomem("a table", sizeof *t);
    atomic_init(&t->refs, 1);
    t->alloc = alloc;
    t->bytes = sizeof *t;
    t->ncols = spk_schema_ncols(schema);
    size_t n = (size_t)t->ncols;
    t->offset = (uint32_t *)spk__table_alloc(t, 2 * n * sizeof *t->offset);
    t->prev_string = t->offset ? (int *)spk__table_alloc(t, n * sizeof *t->prev_string) : NULL;
    if (!t->offset || !t->prev_string) {
        spk__table_free_block(t, t->offset, 2 * n * sizeof *t->offset);
        spk__free(alloc, t, sizeof *t);
        return spk__nomem("a table layout", n * (2 * sizeof *t->offset + sizeof *t->prev_string));
    }
    t->size = t->offset + n;
    uint32_t at = (uint32_t)((n + 7) / 8);
    t->null_bytes = at;
    t->last_string = -1;
    for (int i = 0; i < t->ncols; i++) {
        spk_type_id id = (spk_type_id)spk_schema_field(schema, i)->type.id;
        t->offset[i] = at;
        t->size[i] = spk__field_width(id);
        at += t->size[i];
        t->prev_string[i] = t->last_string;
        if (id == SPK_TYPE_STRING) t->last_string = i;
    }
    t->width = at;
    t->schema = spk_schema_retain(schema);
    *out = t;
    return SPK_OK;
}

SPKDEF spk_table *spk_table_retain(spk_table *t) {
    if (t) atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed); /* the caller already holds one */
    return t;
}

static bool spk__table_shared(const spk_table *t) {
    return atomic_load_explicit(&((spk_table *)t)->refs, memory_order_acquire) > 1;
}

SPKDEF void spk_table_free(spk_table *t) {
    /* acq_rel: every holder's reads happen before the last one frees */
    if (!t || atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) > 1) return;
    for (size_t i = 0; i < t->nchunks; i++) spk__chunk_free(t, t->chunks[i]);
    spk__table_free_block(t, t->chunks, t->cap_chunks * sizeof *t->chunks);
    spk__table_free_block(t, t->offset, 2 * (size_t)t->ncols * sizeof *t->offset);
    spk__table_free_block(t, t->prev_string, (size_t)t->ncols * sizeof *t->prev_string);
    spk_schema_release(t->schema);
    spk__free(t->alloc, t, sizeof *t);
}

SPKDEF spk_schema *spk_table_schema(const spk_table *t) { return t ? t->schema : NULL; }
SPKDEF size_t spk_table_nrows(const spk_table *t) { return t ? t->nrows : 0; }
SPKDEF size_t spk_table_nchunks(const spk_table *t) { return t ? t->nchunks : 0; }
SPKDEF size_t spk_table_memory(const spk_table *t) { return t ? t->bytes : 0; }

/* ---------------------------------------------------------------- reading */

static uint32_t spk__load_u32(const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static bool spk__slot_is_null(const unsigned char *slot, int col) {
    return (slot[col >> 3] >> (col & 7)) & 1;
}

/* Row `index`'s field of column `col` in chunk c; column col's fields lie
 * t->size[col] bytes apart. */
static inline unsigned char *spk__field_at(const spk_table *t, const spk__chunk *c, size_t index, int col) {
    return c->rows + (size_t)c->cap_rows * t->offset[col] + index * t->size[col];
}

/* Row `index`'s null bitmap in chunk c (spk__slot_is_null reads it); bitmaps lie t->null_bytes apart. */
static inline unsigned char *spk__nulls_at(const spk_table *t, const spk__chunk *c, size_t index) {
    return c->rows + index * t->null_bytes;
}

/* Copies one field (or a null bitmap of up to 8 bytes): fixed sizes inline
 * rather than a call per field, as a file's chunks are put slot by slot. */
static inline void spk__copy_small(unsigned char *to, const unsigned char *from, size_t size) {
    switch (size) {
    case 8: memcpy(to, from, 8); break;
    case 4: memcpy(to, from, 4); break;
    case 1: *to = *from; break;
    default: memcpy(to, from, size); break;
    }
}

/* Copies n bytes (the two never overlap), a short run without a call:
 * two words that overlap cover 8 to 16 bytes, two halves 4 to 8. */
static inline void spk__copy_bytes(char *to, const char *from, size_t n) {
    if (n > 16) {
        memcpy(to, from, n);
    } else if (n >= 8) {
        uint64_t head, tail;
        memcpy(&head, from, 8);
        memcpy(&tail, from + n - 8, 8);
        memcpy(to, &head, 8);
        memcpy(to + n - 8, &tail, 8);
    } else if (n >= 4) {
        uint32_t head, tail;
        memcpy(&head, from, 4);
        memcpy(&tail, from + n - 4, 4);
        memcpy(to, &head, 4);
        memcpy(to + n - 4, &tail, 4);
    } else {
        for (size_t i = 0; i < n; i++) to[i] = from[i];
    }
}

/* Writes n row-major slots as rows [index, index + n) of chunk c. */
static void spk__chunk_put_slots(const spk_table *t, spk__chunk *c, size_t index, const unsigned char *slots, size_t n) {
    size_t w = t->width, nb = t->null_bytes;
    unsigned char *nulls = spk__nulls_at(t, c, index);
    for (size_t r = 0; r < n; r++) {
        spk__copy_small(nulls + r * nb, slots + r * w, nb);
        spk__chunk_note_nulls(c, slots + r * w, nb);
    }
    for (int col = 0; col < t->ncols; col++) {
        size_t size = t->size[col];
        unsigned char *to = spk__field_at(t, c, index, col);
        const unsigned char *from = slots + t->offset[col];
        for (size_t r = 0; r < n; r++) spk__copy_small(to + r * size, from + r * w, size);
    }
}

/* Reads rows [index, index + n) of chunk c as n row-major slots. */
static void spk__chunk_get_slots(const spk_table *t, const spk__chunk *c, size_t index, size_t n, unsigned char *slots) {
    size_t w = t->width, nb = t->null_bytes;
    const unsigned char *nulls = spk__nulls_at(t, c, index);
    for (size_t r = 0; r < n; r++) spk__copy_small(slots + r * w, nulls + r * nb, nb);
    for (int col = 0; col < t->ncols; col++) {
        size_t size = t->size[col];
        const unsigned char *from = spk__field_at(t, c, index, col);
        unsigned char *to = slots + t->offset[col];
        for (size_t r = 0; r < n; r++) spk__copy_small(to + r * w, from + r * size, size);
    }
}

/* Moves chunk c's columns to where a capacity of `cap` rows puts them (the
 * buffer holds at least the larger of both). Growing, the last column moves
 * first, shrinking the first, so that no column lands on one not yet moved. */
static void spk__chunk_move_columns(const spk_table *t, spk__chunk *c, uint32_t cap) {
    size_t from = c->cap_rows, to = cap, n = c->nrows;
    if (from == to || !c->rows) return;
    for (int k = 0; k < t->ncols; k++) {
        int col = to > from ? t->ncols - 1 - k : k;
        size_t off = t->offset[col], size = t->size[col];
        if (size && n) memmove(c->rows + to * off, c->rows + from * off, n * size);
    }
}

/* Where the string of `col` in row `index` starts: the end of the string
 * before it in row-major order. */
static uint32_t spk__string_start(const spk_table *t, const spk__chunk *c, size_t index, int col) {
    if (t->prev_string[col] >= 0) return spk__load_u32(spk__field_at(t, c, index, t->prev_string[col]));
    if (index == 0) return 0;
    return spk__load_u32(spk__field_at(t, c, index - 1, t->last_string));
}

static void spk__read_cell(const spk_table *t, const spk__chunk *c, size_t index, int col, spk_value *out) {
    spk_type type = spk_schema_field(t->schema, col)->type;
    *out = spk_value_null_of(type);
    if (spk__slot_is_null(spk__nulls_at(t, c, index), col)) return;
    out->is_null = false;
    const unsigned char *p = spk__field_at(t, c, index, col);
    switch ((spk_type_id)type.id) {
    case SPK_TYPE_BOOLEAN: out->as.b = *p != 0; break;
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE: memcpy(&out->as.i32, p, 4); break;
    case SPK_TYPE_INT64:
    case SPK_TYPE_DECIMAL:
    case SPK_TYPE_TIMESTAMP: memcpy(&out->as.i64, p, 8); break;
    case SPK_TYPE_DOUBLE: memcpy(&out->as.f64, p, 8); break;
    case SPK_TYPE_STRING: {
        uint32_t start = spk__string_start(t, c, index, col), end = spk__load_u32(p);
        out->as.str.ptr = c->heap ? c->heap + start : "";
        out->as.str.len = end - start;
        break;
    }
    case SPK_TYPE_NULL:
    case SPK_TYPE_COUNT: out->is_null = true; break;
    }
}

SPKDEF spk_status spk_table_get(const spk_table *t, size_t row, int col, spk_value *out) {
    if (!t || !out) return spk__fail(SPK_ERR_ARG, "spk_table_get: NULL argument");
    if (col < 0 || col >= t->ncols)
        return spk__fail(SPK_ERR_ARG, "spk_table_get: column %d out of range (table has %d columns)", col, t->ncols);
    if (row >= t->nrows)
        return spk__fail(SPK_ERR_ARG, "spk_table_get: row %zu out of range (table has %zu rows)", row, t->nrows);
    size_t lo = 0, hi = t->nchunks; /* last chunk whose first_row <= row */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->chunks[mid]->first_row <= row) lo = mid;
        else hi = mid;
    }
    spk__read_cell(t, t->chunks[lo], row - t->chunks[lo]->first_row, col, out);
    return SPK_OK;
}

SPKDEF void spk_cursor_open(spk_cursor *c, const spk_table *t) {
    memset(c, 0, sizeof *c);
    c->table = t;
}

SPKDEF bool spk_cursor_next(spk_cursor *c) {
    const spk_table *t = c->table;
    if (!t) return false;
    if (c->started) {
        c->index++;
        c->row++;
    }
    c->started = true;
    while (c->chunk < t->nchunks && c->index >= t->chunks[c->chunk]->nrows) {
        c->chunk++;
        c->index = 0;
    }
    return c->chunk < t->nchunks;
}

SPKDEF spk_status spk_cursor_get(const spk_cursor *c, int col, spk_value *out) {
    const spk_table *t = c ? c->table : NULL;
    if (!t || !out) return spk__fail(SPK_ERR_ARG, "spk_cursor_get: NULL argument");
    if (!c->started || c->chunk >= t->nchunks)
        return spk__fail(SPK_ERR_STATE, "spk_cursor_get: the cursor is not on a row (call spk_cursor_next first)");
    if (col < 0 || col >= t->ncols)
        return spk__fail(SPK_ERR_ARG, "spk_cursor_get: column %d out of range (table has %d columns)", col, t->ncols);
    spk__read_cell(t, t->chunks[c->chunk], c->index, col, out);
    return SPK_OK;
}

/* ---------------------------------------------------------------- writing */

/* Whether values of type `from` may be stored in a column of type `to`:
 * the same type, or a widening that loses nothing for any value (integers to
 * a DECIMAL or DOUBLE are checked per value by spk__coerce_cell). */
static bool spk__storable(spk_type from, spk_type to) {
    spk_type_id f = (spk_type_id)from.id, t = (spk_type_id)to.id;
    if (f == SPK_TYPE_NULL) return true;
    if (t == SPK_TYPE_DECIMAL && f == SPK_TYPE_DECIMAL)
        return from.scale <= to.scale && from.precision - from.scale <= to.precision - to.scale;
    if (f == t) return true;
    if (t == SPK_TYPE_INT64) return f == SPK_TYPE_INT32;
    if (t == SPK_TYPE_DOUBLE || t == SPK_TYPE_DECIMAL) return spk__is_integral(f);
    return false;
}

/* Converts `v` to what column `f` stores. Errors change nothing. */
static spk_status spk__coerce_cell(const spk_field *f, const spk_value *v, spk_value *out) {
    if (!spk_type_valid(v->type))
        return spk__fail(SPK_ERR_ARG, "value has an invalid type (%s)", spk__type_sql(v->type).s);
    if (!spk__storable(v->type, f->type))
        return spk__fail(SPK_ERR_TYPE, "cannot store a %s%s value in a column of type %s",
                         v->is_null ? "NULL " : "", spk__type_sql(v->type).s, spk__type_sql(f->type).s);
    if (spk__value_is_null(v)) {
        if (!f->nullable) return spk__fail(SPK_ERR_NULL, "NULL in non-nullable column");
        *out = spk_value_null_of(f->type);
        return SPK_OK;
    }
    spk_type_id from = (spk_type_id)v->type.id, to = (spk_type_id)f->type.id;
    *out = *v;
    out->type = f->type;
    if (to == SPK_TYPE_INT64 && from == SPK_TYPE_INT32) {
        out->as.i64 = v->as.i32;
    } else if (to == SPK_TYPE_DOUBLE && from != SPK_TYPE_DOUBLE) {
        int64_t x = spk__as_int64(v);
        out->as.f64 = (double)x;
        if (x > (1LL << 53) || x < -(1LL << 53))
            return spk__fail(SPK_ERR_RANGE, "%lld cannot be stored as DOUBLE without loss", (long long)x);
    } else if (to == SPK_TYPE_DECIMAL) {
        int64_t x;
        int scale = 0;
        spk__as_scaled(v, &x, &scale);
        if (!spk__decimal_rescale(x, scale, f->type.scale, f->type.precision, &out->as.i64)) {
            char text[SPK_VALUE_TEXT_MAX];
            spk_value_format(v, text, sizeof text);
            return spk__fail(SPK_ERR_RANGE, "%s does not fit %s", text, spk__type_sql(f->type).s);
        }
    }
    return SPK_OK;
}

/* Seals a full chunk: its buffers shrink to fit (a failed shrink keeps
 * them). Rows are kept when under an eighth of them are spare: a shrink
 * moves every column but the first for little memory, and room never
 * written is never faulted in. */
static void spk__chunk_seal(spk_table *t, spk__chunk *c) {
    if (spk__chunk_shared(c)) return;
    if (c->nrows && c->nrows < c->cap_rows - c->cap_rows / 8) {
        uint32_t cap = c->cap_rows;
        spk__chunk_move_columns(t, c, c->nrows);
        c->cap_rows = c->nrows;
        void *p = spk__table_realloc(t, c->rows, (size_t)cap * t->width, (size_t)c->nrows * t->width);
        if (p) {
            c->rows = (unsigned char *)p;
        } else { /* the columns go back where the buffer's size puts them */
            spk__chunk_move_columns(t, c, cap);
            c->cap_rows = cap;
        }
    }
    if (c->heap && c->heap_len < c->heap_cap) {
        void *p = spk__table_realloc(t, c->heap, c->heap_cap, c->heap_len ? c->heap_len : 1);
        if (p) {
            c->heap = (char *)p;
            c->heap_cap = c->heap_len ? c->heap_len : 1;
        }
    }
}

/* Grows chunk c to take `rows` more rows (within SPK_CHUNK_ROWS) and
 * `string_bytes` more heap (the caller checked the 4 GiB limit). Capacity
 * doubles; a bulk writer into a table that has filled a chunk takes the
 * whole chunk at once, and a fresh heap starts at the previous chunk's size. */
static spk_status spk__chunk_reserve(spk_table *t, spk__chunk *c, uint32_t rows, size_t string_bytes, bool bulk) {
    if (c->cap_rows - c->nrows < rows) {
        uint32_t cap = c->cap_rows ? c->cap_rows : 16;
        while (cap - c->nrows < rows && cap < SPK_CHUNK_ROWS) cap *= 2;
        if ((bulk && t->nchunks > 1) || cap > SPK_CHUNK_ROWS) cap = SPK_CHUNK_ROWS;
        void *p = spk__table_realloc(t, c->rows, (size_t)c->cap_rows * t->width, (size_t)cap * t->width);
        if (!p) return spk__nomem("table rows", (size_t)cap * t->width);
        c->rows = (unsigned char *)p;
        spk__chunk_move_columns(t, c, cap);
        c->cap_rows = cap;
    }
    if (string_bytes > (size_t)(c->heap_cap - c->heap_len)) {
        uint64_t need = (uint64_t)c->heap_len + string_bytes, cap = c->heap_cap ? c->heap_cap : 256;
        if (bulk && t->nchunks > 1 && c->heap_cap == 0) cap = t->chunks[t->nchunks - 2]->heap_len + 1;
        while (cap < need) cap *= 2;
        if (cap > UINT32_MAX) cap = UINT32_MAX;
        void *p = spk__table_realloc(t, c->heap, c->heap_cap, (size_t)cap);
        if (!p) return spk__nomem("table strings", (size_t)cap);
        c->heap = (char *)p;
        c->heap_cap = (uint32_t)cap;
    }
    return SPK_OK;
}

/* Makes room for one more row with `string_bytes` of strings; returns the chunk. */
static spk_status spk__reserve_row(spk_table *t, size_t string_bytes, spk__chunk **chunk) {
    spk__chunk *c = t->nchunks ? t->chunks[t->nchunks - 1] : NULL;
    if (string_bytes > UINT32_MAX - 1)
        return spk__fail(SPK_ERR_LIMIT, "a row holds %zu bytes of strings; the limit is 4 GiB", string_bytes);
    if (!c || c->nrows == SPK_CHUNK_ROWS || string_bytes > (size_t)(UINT32_MAX - c->heap_len) || spk__chunk_shared(c)) {
        if (t->nchunks == t->cap_chunks) {
            size_t cap = t->cap_chunks ? t->cap_chunks * 2 : 4;
            void *p = spk__table_realloc(t, t->chunks, t->cap_chunks * sizeof *t->chunks, cap * sizeof *t->chunks);
            if (!p) return spk__nomem("the chunk list", cap * sizeof *t->chunks);
            t->chunks = (spk__chunk **)p;
            t->cap_chunks = cap;
        }
        spk__chunk *fresh = (spk__chunk *)spk__table_alloc(t, sizeof *fresh);
        if (!fresh) return spk__nomem("a chunk", sizeof *fresh);
        memset(fresh, 0, sizeof *fresh);
        atomic_init(&fresh->refs, 1);
        fresh->first_row = t->nrows;
        if (c) spk__chunk_seal(t, c);
        t->chunks[t->nchunks++] = fresh;
        c = fresh;
    }
    spk_status st = spk__chunk_reserve(t, c, 1, string_bytes, false);
    if (st == SPK_OK) *chunk = c;
    return st;
}

/* Appends one row. Errors carry "column N (`name`): " and change nothing. */
static spk_status spk__append_one(spk_table *t, const spk_value *values) {
    spk_value cells_stack[32];
    spk_value *cells = cells_stack;
    size_t ncols = (size_t)t->ncols, cells_size = ncols * sizeof *cells;
    if (ncols > 32) {
        cells = (spk_value *)spk__alloc(t->alloc, cells_size);
        if (!cells) return spk__nomem("a row", cells_size);
    }
    spk_status st = SPK_OK;
    size_t string_bytes = 0;
    for (int i = 0; i < t->ncols && st == SPK_OK; i++) {
        const spk_field *f = spk_schema_field(t->schema, i);
        st = spk__coerce_cell(f, &values[i], &cells[i]);
        if (st != SPK_OK) {
            spk__fail_prefix("column %d (`%s`): ", i + 1, f->name);
        } else if (f->type.id == SPK_TYPE_STRING && !cells[i].is_null) {
            if (!cells[i].as.str.ptr && cells[i].as.str.len)
                st = spk__fail(SPK_ERR_ARG, "column %d (`%s`): string value with NULL pointer", i + 1, f->name);
            string_bytes += cells[i].as.str.len;
        }
    }
    spk__chunk *c = NULL;
    if (st == SPK_OK) st = spk__reserve_row(t, string_bytes, &c);
    if (st == SPK_OK) {
        unsigned char *nulls = spk__nulls_at(t, c, c->nrows);
        uint32_t heap_at = c->heap_len;
        memset(nulls, 0, t->null_bytes);
        for (int i = 0; i < t->ncols; i++) {
            unsigned char *p = spk__field_at(t, c, c->nrows, i);
            const spk_value *v = &cells[i];
            if (v->is_null) nulls[i >> 3] |= (unsigned char)(1u << (i & 7));
            if (v->is_null && i < SPK__NULLS_KNOWN) c->maybe_null[i >> 6] |= (uint64_t)1 << (i & 63);
            switch ((spk_type_id)v->type.id) {
            case SPK_TYPE_BOOLEAN: *p = v->is_null ? 0 : v->as.b; break;
            case SPK_TYPE_INT32:
            case SPK_TYPE_DATE: memcpy(p, &v->as.i32, 4); break;
            case SPK_TYPE_INT64:
            case SPK_TYPE_DECIMAL:
            case SPK_TYPE_TIMESTAMP: memcpy(p, &v->as.i64, 8); break;
            case SPK_TYPE_DOUBLE: memcpy(p, &v->as.f64, 8); break;
            case SPK_TYPE_STRING:
                if (!v->is_null && v->as.str.len) {
                    memcpy(c->heap + heap_at, v->as.str.ptr, v->as.str.len);
                    heap_at += (uint32_t)v->as.str.len;
                }
                memcpy(p, &heap_at, 4);
                break;
            case SPK_TYPE_NULL:
            case SPK_TYPE_COUNT: break;
            }
        }
        c->heap_len = heap_at;
        c->nrows++;
        t->nrows++;
    }
    if (cells != cells_stack) spk__free(t->alloc, cells, cells_size);
    return st;
}

/* The table's extent, to undo a failed multi-row append. */
typedef struct spk__table_mark {
    size_t nchunks, nrows;
    uint32_t tail_rows, tail_heap;
} spk__table_mark;

static spk__table_mark spk__table_mark_get(const spk_table *t) {
    spk__table_mark m = {t->nchunks, t->nrows, 0, 0};
    if (t->nchunks) {
        m.tail_rows = t->chunks[t->nchunks - 1]->nrows;
        m.tail_heap = t->chunks[t->nchunks - 1]->heap_len;
    }
    return m;
}

static spk_status spk__fail_shared(const char *fn) {
    return spk__fail(SPK_ERR_STATE, "%s: the table has more than one reference (it was retained or saved), so it is read-only", fn);
}

static void spk__table_rollback(spk_table *t, spk__table_mark m) {
    while (t->nchunks > m.nchunks) spk__chunk_free(t, t->chunks[--t->nchunks]);
    if (m.nchunks && t->chunks[m.nchunks - 1]->nrows != m.tail_rows) { /* never a shared chunk: those are not written */
        t->chunks[m.nchunks - 1]->nrows = m.tail_rows;
        t->chunks[m.nchunks - 1]->heap_len = m.tail_heap;
    }
    t->nrows = m.nrows;
}

SPKDEF spk_status spk_table_append_row(spk_table *t, const spk_value *values, int n) {
    if (!t || (!values && n)) return spk__fail(SPK_ERR_ARG, "spk_table_append_row: NULL argument");
    if (spk__table_shared(t)) return spk__fail_shared("spk_table_append_row");
    if (n != t->ncols)
        return spk__fail(SPK_ERR_ARG, "spk_table_append_row: got %d values for %d columns", n, t->ncols);
    return spk__append_one(t, values);
}

SPKDEF spk_status spk_table_append_rows(spk_table *t, const spk_value *values, size_t nrows) {
    if (!t || (!values && nrows && t->ncols)) return spk__fail(SPK_ERR_ARG, "spk_table_append_rows: NULL argument");
    if (spk__table_shared(t)) return spk__fail_shared("spk_table_append_rows");
    spk__table_mark mark = spk__table_mark_get(t);
    for (size_t r = 0; r < nrows; r++) {
        spk_status st = spk__append_one(t, values + r * (size_t)t->ncols);
        if (st != SPK_OK) {
            spk__table_rollback(t, mark);
            spk__fail_prefix("row %zu, ", r + 1);
            return st;
        }
    }
    return SPK_OK;
}

/* ---------------------------------------------------------------- CSV text */

typedef struct spk__csv_field {
    size_t start, len; /* in the text, or in the scratch buffer when quoted */
    bool quoted;
} spk__csv_field;

/* Growable scratch owned by one append_text call. */
typedef struct spk__scratch {
    const spk_allocator *alloc;
    char *text;
    size_t text_len, text_cap;
    spk__csv_field *fields;
    size_t nfields, fields_cap;
    spk_value *values;
    size_t values_cap;
} spk__scratch;

static void spk__scratch_free(spk__scratch *s) {
    spk__free(s->alloc, s->text, s->text_cap);
    spk__free(s->alloc, s->fields, s->fields_cap * sizeof *s->fields);
    spk__free(s->alloc, s->values, s->values_cap * sizeof *s->values);
}

static spk_status spk__grow(const spk_allocator *a, void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return SPK_OK;
    size_t new_cap = *cap ? *cap : 16, bytes;
    while (new_cap < need) new_cap *= 2;
    if (spk__mul_overflows(new_cap, elem, &bytes)) return spk__nomem("a text buffer", SIZE_MAX);
    void *q = spk__realloc(a, *p, *cap * elem, bytes);
    if (!q) return spk__nomem("a text buffer", bytes);
    *p = q;
    *cap = new_cap;
    return SPK_OK;
}

/* Splits the record starting at *pos into fields; *line counts newlines. */
static spk_status spk__csv_record(spk__scratch *s, const char *text, size_t len, size_t *pos, size_t *line) {
    size_t i = *pos, record_line = *line;
    s->nfields = 0;
    s->text_len = 0;
    for (;;) {
        spk_status st = spk__grow(s->alloc, (void **)&s->fields, &s->fields_cap, s->nfields + 1, sizeof *s->fields);
        if (st != SPK_OK) return st;
        spk__csv_field *f = &s->fields[s->nfields++];
        while (i < len && (text[i] == ' ' || text[i] == '\t')) i++;
        if (i < len && text[i] == '"') {
            f->quoted = true;
            f->start = s->text_len;
            size_t open = i++;
            for (;;) {
                if (i >= len)
                    return spk__fail(SPK_ERR_PARSE, "line %zu, column %zu: unterminated quoted field (opened at byte %zu)",
                                     record_line, s->nfields, open + 1);
                char ch = text[i++];
                if (ch == '"') {
                    if (i < len && text[i] == '"') i++;
                    else break;
                }
                if (ch == '\n') (*line)++;
                st = spk__grow(s->alloc, (void **)&s->text, &s->text_cap, s->text_len + 1, 1);
                if (st != SPK_OK) return st;
                s->text[s->text_len++] = ch;
            }
            f->len = s->text_len - f->start;
            while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r')) i++;
            if (i < len && text[i] != ',' && text[i] != '\n')
                return spk__fail(SPK_ERR_PARSE, "line %zu, column %zu: unexpected '%c' after a closing quote",
                                 *line, s->nfields, text[i]);
        } else {
            f->quoted = false;
            f->start = i;
            while (i < len && text[i] != ',' && text[i] != '\n') i++;
            size_t end = i;
            while (end > f->start && (text[end - 1] == ' ' || text[end - 1] == '\t' || text[end - 1] == '\r')) end--;
            f->len = end - f->start;
        }
        if (i < len && text[i] == ',') {
            i++;
            continue;
        }
        if (i < len) { /* '\n' */
            i++;
            (*line)++;
        }
        break;
    }
    *pos = i;
    return SPK_OK;
}

static bool spk__blank_line(const char *text, size_t len, size_t pos, size_t *next) {
    size_t i = pos;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r')) i++;
    if (i < len && text[i] != '\n') return false;
    *next = i < len ? i + 1 : i;
    return true;
}

/* Appends CSV rows; `line` is the number of the text's first line. */
static spk_status spk__append_text_lines(spk_table *t, const char *text, size_t len, size_t line) {
    spk__scratch s;
    memset(&s, 0, sizeof s);
    s.alloc = t->alloc;
    spk__table_mark mark = spk__table_mark_get(t);
    spk_status st = spk__grow(s.alloc, (void **)&s.values, &s.values_cap, (size_t)t->ncols + 1, sizeof *s.values);
    size_t pos = 0;
    while (st == SPK_OK && pos < len) {
        size_t next;
        if (spk__blank_line(text, len, pos, &next)) {
            pos = next;
            line++;
            continue;
        }
        size_t record_line = line;
        st = spk__csv_record(&s, text, len, &pos, &line);
        if (st != SPK_OK) break;
        if (s.nfields != (size_t)t->ncols) {
            st = spk__fail(SPK_ERR_PARSE, "line %zu: expected %d fields, found %zu", record_line, t->ncols, s.nfields);
            break;
        }
        for (int c = 0; c < t->ncols && st == SPK_OK; c++) {
            const spk__csv_field *f = &s.fields[c];
            const char *p = !f->quoted ? text + f->start : s.text ? s.text + f->start : "";
            const spk_field *field = spk_schema_field(t->schema, c);
            if (!f->quoted && (f->len == 0 || (f->len == 4 && (memcmp(p, "NULL", 4) == 0 || memcmp(p, "null", 4) == 0)))) {
                s.values[c] = spk_value_null();
                continue;
            }
            st = spk_value_parse(field->type, p, f->len, &s.values[c]);
            if (st != SPK_OK) spk__fail_prefix("line %zu, column %d (`%s`): ", record_line, c + 1, field->name);
        }
        if (st != SPK_OK) break;
        st = spk__append_one(t, s.values);
        if (st != SPK_OK) spk__fail_prefix("line %zu, ", record_line);
    }
    if (st != SPK_OK) spk__table_rollback(t, mark);
    spk__scratch_free(&s);
    return st;
}

SPKDEF spk_status spk_table_append_text(spk_table *t, const char *text, size_t len) {
    if (!t || !text) return spk__fail(SPK_ERR_ARG, "spk_table_append_text: NULL argument");
    if (spk__table_shared(t)) return spk__fail_shared("spk_table_append_text");
    if (len == (size_t)-1) len = strlen(text);
    return spk__append_text_lines(t, text, len, 1);
}

SPKDEF spk_status spk_table_from_fixture(const spk_allocator *alloc, const char *text, spk_table **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_table_from_fixture: NULL output");
    *out = NULL;
    if (!text) return spk__fail(SPK_ERR_ARG, "spk_table_from_fixture: NULL text");
    size_t len = strlen(text), pos = 0, line = 1, next;
    while (pos < len && spk__blank_line(text, len, pos, &next)) pos = next, line++;
    size_t eol = pos;
    while (eol < len && text[eol] != '\n') eol++;
    spk_schema *schema = NULL;
    spk_status st = spk__schema_parse_span(alloc, text + pos, eol - pos, &schema);
    if (st != SPK_OK) {
        spk__fail_prefix("fixture line %zu (the schema): ", line);
        return st;
    }
    spk_table *t = NULL;
    st = spk_table_new(alloc, schema, &t);
    spk_schema_release(schema);
    if (st != SPK_OK) return st;
    if (eol < len) st = spk__append_text_lines(t, text + eol + 1, len - eol - 1, line + 1);
    if (st != SPK_OK) {
        spk_table_free(t);
        return st;
    }
    *out = t;
    return SPK_OK;
}
