/* jsonl: the JSON Lines reader and writer (jsonl.h). */
#include "csv.c"
#include "jsonl.h"

/* Inputs above SPK__JSONL_PARALLEL_MIN bytes are read on the session's
 * threads in slices cut at line breaks: an eighth of the input each, but
 * no less than SPK__JSONL_SLICE_MIN and no more than SPK__JSONL_SLICE_MAX
 * bytes (not counting the rest of the line where a slice ends). The
 * slicing does not depend on the thread count. */
#define SPK__JSONL_PARALLEL_MIN ((size_t)1 << 20)
#define SPK__JSONL_SLICE_MIN ((size_t)512 << 10)
#define SPK__JSONL_SLICE_MAX ((size_t)4 << 20)

/* ---------------------------------------------------------------- lines */

/* The line starting at *pos: its bytes without the \n or \r\n that ends
 * it; *pos moves past the line break. False at the end of the input. */
static bool spk__jsonl_next_line(const char *data, size_t end, size_t *pos, size_t *start, size_t *len) {
    if (*pos >= end) return false;
    *start = *pos;
    const char *nl = (const char *)memchr(data + *pos, '\n', end - *pos);
    size_t stop = nl ? (size_t)(nl - data) : end;
    *pos = nl ? stop + 1 : end;
    if (stop > *start && data[stop - 1] == '\r') stop--;
    *len = stop - *start;
    return true;
}

/* Only JSON whitespace: such a line holds no record. */
static bool spk__jsonl_blank(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return false;
    return true;
}

/* Checks that a string is UTF-8 (JSON text must be): the offset of the first bad byte, or SIZE_MAX. */
static size_t spk__jsonl_bad_utf8(const char *s, size_t len) {
    for (size_t i = 0; i < len;) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        const char *why;
        size_t n = spk__json_utf8_length((const unsigned char *)s + i, len - i, &why);
        if (!n) return i;
        i += n;
    }
    return SIZE_MAX;
}

/* The length of the maximal subpart of the ill-formed UTF-8 sequence at
 * s (as the Unicode standard counts it: what one U+FFFD replaces). */
static size_t spk__jsonl_ill_formed_length(const unsigned char *s, size_t avail) {
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (!n) return 1;
    if (c == 0xE0) lo = 0xA0; /* the second byte's range, where it differs, rules out overlongs and surrogates */
    else if (c == 0xED) hi = 0x9F;
    else if (c == 0xF0) lo = 0x90;
    else if (c == 0xF4) hi = 0x8F;
    size_t k = 1;
    if (k < avail && s[k] >= lo && s[k] <= hi)
        for (k++; k < n && k < avail && (s[k] & 0xC0) == 0x80;) k++;
    return k;
}

/* The text with each ill-formed UTF-8 sequence replaced by U+FFFD, as
 * Spark's decoding of a line gives it, into b (emptied first). */
static void spk__jsonl_repair_utf8(spk__jbuf *b, const char *s, size_t len) {
    b->len = 0;
    size_t run = 0;
    for (size_t i = 0; i < len;) {
        const char *why;
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = spk__json_utf8_length((const unsigned char *)s + i, len - i, &why);
        if (n) {
            i += n;
            continue;
        }
        spk__jbuf_raw(b, s + run, i - run);
        spk__jbuf_raw(b, "\xEF\xBF\xBD", 3);
        i += spk__jsonl_ill_formed_length((const unsigned char *)s + i, len - i);
        run = i;
    }
    spk__jbuf_raw(b, s + run, len - run);
}

/* ---------------------------------------------------------------- malformed records */

/* Why a line is malformed: where (byte offset in the line), which column
 * (-1: none to blame) and what, as FAILFAST reports it. */
typedef struct spk__jsonl_bad {
    bool bad;
    size_t at;
    int column;
    char what[384];
} spk__jsonl_bad;

static void spk__jsonl_bad_set(spk__jsonl_bad *b, size_t at, int column, const char *fmt, ...) SPK__PRINTF(4, 5);
static void spk__jsonl_bad_set(spk__jsonl_bad *b, size_t at, int column, const char *fmt, ...) {
    if (b->bad) return; /* the first problem of a line is the one reported */
    b->bad = true;
    b->at = at;
    b->column = column;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->what, sizeof b->what, fmt, ap);
    va_end(ap);
}

/* The parser's message is "line: <head> at byte N (line L, column C)[: detail]";
 * the offset gives the column and the rest says what. */
static void spk__jsonl_bad_from_parser(spk__jsonl_bad *b, const char *message) {
    const char *m = message;
    if (strncmp(m, "line: ", 6) == 0) m += 6;
    const char *at = strstr(m, " at byte ");
    if (!at) {
        spk__jsonl_bad_set(b, 0, -1, "%s", m);
        return;
    }
    size_t offset = (size_t)strtoull(at + 9, NULL, 10);
    const char *close = strchr(at, ')');
    spk__jsonl_bad_set(b, offset, -1, "%.*s%s", (int)(at - m), m, close ? close + 1 : "");
}

static const char *spk__jsonl_kind_name(spk__json_kind k) {
    switch (k) {
    case SPK__JSON_NULL: return "null";
    case SPK__JSON_FALSE: return "false";
    case SPK__JSON_TRUE: return "true";
    case SPK__JSON_NUMBER: return "a number";
    case SPK__JSON_STRING: return "a string";
    case SPK__JSON_ARRAY: return "an array";
    case SPK__JSON_OBJECT: return "an object";
    }
    return "?";
}

/* Parses one line into *doc. A line that is not JSON or not an object is
 * malformed (*doc NULL, b set); only running out of memory is an error. */
static spk_status spk__jsonl_parse_line(const spk_allocator *a, const char *line, size_t len, spk__json_doc **doc,
                                        spk__jsonl_bad *b) {
    spk_status st = spk__json_parse(a, line, len, "line", doc);
    if (st == SPK_ERR_NOMEM) return st;
    if (st != SPK_OK) {
        spk__jsonl_bad_from_parser(b, spk_last_error());
        return SPK_OK;
    }
    const spk__json *root = spk__json_root(*doc);
    if (root->kind != SPK__JSON_OBJECT) {
        spk__jsonl_bad_set(b, root->offset, -1, "expected a JSON object, found %s", spk__jsonl_kind_name(root->kind));
        spk__json_free(*doc);
        *doc = NULL;
    }
    return SPK_OK;
}

/* ---------------------------------------------------------------- key lookup */

/* Keys to column (or inference entry) indexes, ignoring ASCII case. Open
 * addressing over a power-of-two table; an index hint by member position
 * skips the hashing for lines that repeat the previous line's key order. */
typedef struct spk__jsonl_names {
    int *slots; /* index + 1; 0: empty */
    size_t cap;
} spk__jsonl_names;

static uint64_t spk__jsonl_name_hash(const char *s, size_t len) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ (uint64_t)spk__lower((unsigned char)s[i])) * 1099511628211ULL;
    return h;
}

/* name(ctx, i) gives entry i's NUL-terminated name. */
typedef const char *(*spk__jsonl_name_fn)(const void *ctx, int i);

static int spk__jsonl_names_find(const spk__jsonl_names *n, const char *key, size_t len, spk__jsonl_name_fn name,
                                 const void *ctx) {
    if (!n->cap) return -1;
    for (size_t i = spk__jsonl_name_hash(key, len) & (n->cap - 1);; i = (i + 1) & (n->cap - 1)) {
        int v = n->slots[i];
        if (!v) return -1;
        if (spk__word_is(key, len, name(ctx, v - 1))) return v - 1;
    }
}

/* Adds entry `index` named `key`; the table stays at most half full. */
static spk_status spk__jsonl_names_add(const spk_allocator *a, spk__jsonl_names *n, int index, int count,
                                       spk__jsonl_name_fn name, const void *ctx) {
    if ((size_t)count * 2 >= n->cap) {
        size_t cap = n->cap ? n->cap * 2 : 16;
        int *slots = (int *)spk__calloc(a, cap * sizeof *slots);
        if (!slots) return spk__nomem("a column name table", cap * sizeof *slots);
        spk__free(a, n->slots, n->cap * sizeof *n->slots);
        n->slots = slots;
        n->cap = cap;
        for (int i = 0; i < count; i++)
            if (i != index) {
                const char *s = name(ctx, i);
                size_t k = spk__jsonl_name_hash(s, strlen(s)) & (cap - 1);
                while (slots[k]) k = (k + 1) & (cap - 1);
                slots[k] = i + 1;
            }
    }
    const char *s = name(ctx, index);
    size_t k = spk__jsonl_name_hash(s, strlen(s)) & (n->cap - 1);
    while (n->slots[k]) k = (k + 1) & (n->cap - 1);
    n->slots[k] = index + 1;
    return SPK_OK;
}

static void spk__jsonl_names_free(const spk_allocator *a, spk__jsonl_names *n) {
    spk__free(a, n->slots, n->cap * sizeof *n->slots);
    n->slots = NULL;
    n->cap = 0;
}

static const char *spk__jsonl_schema_name(const void *ctx, int i) {
    return spk_schema_field((const spk_schema *)ctx, i)->name;
}

/* ---------------------------------------------------------------- nested values as text */

/* The value's compact JSON text (members in document order). */
static void spk__jsonl_compact(spk__jbuf *b, const spk__json *v) {
    switch (v->kind) {
    case SPK__JSON_NULL: spk__jbuf_raw(b, "null", 4); break;
    case SPK__JSON_FALSE: spk__jbuf_raw(b, "false", 5); break;
    case SPK__JSON_TRUE: spk__jbuf_raw(b, "true", 4); break;
    case SPK__JSON_NUMBER: spk__jbuf_raw(b, v->str, v->len); break;
    case SPK__JSON_STRING: spk__jbuf_str(b, v->str, v->len); break;
    case SPK__JSON_ARRAY:
    case SPK__JSON_OBJECT: {
        bool object = v->kind == SPK__JSON_OBJECT;
        spk__jbuf_raw(b, object ? "{" : "[", 1);
        for (size_t i = 0; i < v->n; i++) {
            if (i) spk__jbuf_raw(b, ",", 1);
            if (object) {
                spk__jbuf_str(b, v->keys[i], v->key_lens[i]);
                spk__jbuf_raw(b, ":", 1);
            }
            spk__jsonl_compact(b, &v->items[i]);
        }
        spk__jbuf_raw(b, object ? "}" : "]", 1);
        break;
    }
    }
}

/* ---------------------------------------------------------------- inference */

/* What inference saw of one key. */
typedef struct spk__jsonl_seen {
    char *name; /* the first spelling met, NUL-terminated */
    size_t name_len;
    size_t last_line; /* the line that last named it: a second mention in one line is a duplicate */
    bool in_good_line; /* named by a line that was not malformed */
    bool integer, fractional, boolean, string, nested;
} spk__jsonl_seen;

typedef struct spk__jsonl_infer {
    const spk_allocator *alloc;
    spk__jsonl_seen *keys;
    int n, cap;
    spk__jsonl_names names;
    bool malformed; /* a sampled line was malformed */
} spk__jsonl_infer;

static const char *spk__jsonl_seen_name(const void *ctx, int i) {
    return ((const spk__jsonl_infer *)ctx)->keys[i].name;
}

static void spk__jsonl_infer_free(spk__jsonl_infer *inf) {
    for (int i = 0; i < inf->n; i++) spk__free(inf->alloc, inf->keys[i].name, inf->keys[i].name_len + 1);
    spk__free(inf->alloc, inf->keys, (size_t)inf->cap * sizeof *inf->keys);
    spk__jsonl_names_free(inf->alloc, &inf->names);
}

static spk_status spk__jsonl_infer_key(spk__jsonl_infer *inf, const char *key, size_t len, int *out) {
    int i = spk__jsonl_names_find(&inf->names, key, len, spk__jsonl_seen_name, inf);
    if (i >= 0) {
        *out = i;
        return SPK_OK;
    }
    if (inf->n == INT_MAX / 2) return spk__fail(SPK_ERR_LIMIT, "JSON input: more than %d distinct keys", INT_MAX / 2);
    if (inf->n == inf->cap) {
        int cap = inf->cap ? inf->cap * 2 : 16;
        size_t old_bytes = (size_t)inf->cap * sizeof *inf->keys, bytes = (size_t)cap * sizeof *inf->keys;
        void *p = spk__realloc(inf->alloc, inf->keys, old_bytes, bytes);
        if (!p) return spk__nomem("inferred columns", bytes);
        inf->keys = (spk__jsonl_seen *)p;
        inf->cap = cap;
    }
    char *name = (char *)spk__alloc(inf->alloc, len + 1);
    if (!name) return spk__nomem("a column name", len + 1);
    memcpy(name, key, len);
    name[len] = '\0';
    spk__jsonl_seen *k = &inf->keys[inf->n];
    memset(k, 0, sizeof *k);
    k->name = name;
    k->name_len = len;
    k->last_line = SIZE_MAX;
    inf->n++;
    spk_status st = spk__jsonl_names_add(inf->alloc, &inf->names, inf->n - 1, inf->n, spk__jsonl_seen_name, inf);
    if (st != SPK_OK) return st;
    *out = inf->n - 1;
    return SPK_OK;
}

/* Keys that cannot name a column (empty, or holding a NUL) are left out. */
static bool spk__jsonl_usable_key(const char *key, size_t len) { return len > 0 && !memchr(key, '\0', len); }

/* Notes one object line (number `line`, 0-based among sampled lines). */
static spk_status spk__jsonl_infer_object(spk__jsonl_infer *inf, const spk__json *obj, size_t line,
                                          spk__jsonl_bad *b) {
    for (size_t m = 0; m < obj->n; m++) {
        if (!spk__jsonl_usable_key(obj->keys[m], obj->key_lens[m])) continue;
        int i = 0;
        spk_status st = spk__jsonl_infer_key(inf, obj->keys[m], obj->key_lens[m], &i);
        if (st != SPK_OK) return st;
        if (inf->keys[i].last_line == line) {
            char name[48];
            spk__json_key_excerpt(obj->keys[m], obj->key_lens[m], name, sizeof name);
            spk__jsonl_bad_set(b, obj->items[m].offset, -1, "duplicate key \"%s\" (keys match columns ignoring case)",
                               name);
            return SPK_OK;
        }
        inf->keys[i].last_line = line;
    }
    for (size_t m = 0; m < obj->n; m++) {
        if (!spk__jsonl_usable_key(obj->keys[m], obj->key_lens[m])) continue;
        spk__jsonl_seen *k = &inf->keys[spk__jsonl_names_find(&inf->names, obj->keys[m], obj->key_lens[m],
                                                              spk__jsonl_seen_name, inf)];
        const spk__json *v = &obj->items[m];
        k->in_good_line = true;
        switch (v->kind) {
        case SPK__JSON_NULL: break;
        case SPK__JSON_TRUE:
        case SPK__JSON_FALSE: k->boolean = true; break;
        case SPK__JSON_STRING: k->string = true; break;
        case SPK__JSON_ARRAY:
        case SPK__JSON_OBJECT: k->nested = true; break;
        case SPK__JSON_NUMBER:
            if (spk__json_is_int(v, NULL)) k->integer = true;
            else k->fractional = true; /* a fraction, an exponent, or too big for BIGINT */
            break;
        }
    }
    return SPK_OK;
}

static spk_type spk__jsonl_seen_type(const spk__jsonl_seen *k) {
    bool number = k->integer || k->fractional;
    int kinds = (int)number + (int)k->boolean + (int)k->string + (int)k->nested;
    if (kinds == 1 && number) return spk_type_of(k->fractional ? SPK_TYPE_DOUBLE : SPK_TYPE_INT64);
    if (kinds == 1 && k->boolean) return spk_type_of(SPK_TYPE_BOOLEAN);
    return spk_type_of(SPK_TYPE_STRING); /* strings, nested values, mixed kinds, only nulls */
}

typedef struct spk__jsonl_field_sort {
    const char *name;
    spk_type type;
} spk__jsonl_field_sort;

static int spk__jsonl_field_order(const void *a, const void *b) {
    return strcmp(((const spk__jsonl_field_sort *)a)->name, ((const spk__jsonl_field_sort *)b)->name);
}

/* A FAILFAST error for line `line_no` starting at byte line_start of the input. */
static spk_status spk__jsonl_fail(const spk__io_input *in, size_t line_start, size_t line_no, const spk__jsonl_bad *b,
                                  const spk_schema *schema, char *buf, size_t cap) {
    size_t column = spk__io_column(in->data, line_start, line_start + b->at);
    if (b->column >= 0)
        snprintf(buf, cap, "%s:%zu:%zu (`%s`): %s", in->name, line_no, column,
                 spk_schema_field(schema, b->column)->name, b->what);
    else
        snprintf(buf, cap, "%s:%zu:%zu: %s", in->name, line_no, column, b->what);
    return SPK_ERR_PARSE;
}

/* Infers the schema from the first sample_rows non-blank lines from byte
 * `begin`. In PERMISSIVE mode a malformed sample adds the corrupt-record
 * column, if one is named, as Spark adds it (*added_corrupt then). */
static spk_status spk__jsonl_infer_schema(const spk_allocator *a, const spk__io_input *in, size_t begin,
                                          const spk_json_options *o, spk_schema **out, bool *added_corrupt) {
    spk__jsonl_infer inf;
    memset(&inf, 0, sizeof inf);
    inf.alloc = a;
    spk_status st = SPK_OK;
    size_t pos = begin, start, len, line_no = 0, sampled = 0;
    while ((o->sample_rows == 0 || sampled < o->sample_rows) &&
           spk__jsonl_next_line(in->data, in->len, &pos, &start, &len)) {
        line_no++;
        const char *line = in->data + start;
        if (spk__jsonl_blank(line, len)) continue;
        spk__jsonl_bad bad;
        bad.bad = false;
        spk__json_doc *doc = NULL;
        if ((st = spk__jsonl_parse_line(a, line, len, &doc, &bad)) != SPK_OK) break;
        if (doc) st = spk__jsonl_infer_object(&inf, spk__json_root(doc), sampled, &bad);
        spk__json_free(doc);
        if (st != SPK_OK) break;
        sampled++;
        if (bad.bad) {
            if (o->mode == SPK_READ_FAILFAST) {
                char msg[SPK_ERROR_MAX];
                st = spk__jsonl_fail(in, start, line_no, &bad, NULL, msg, sizeof msg);
                st = spk__fail(st, "%s", msg);
                break;
            }
            inf.malformed = true;
        }
    }
    spk__jsonl_field_sort *f = NULL;
    spk_field *fields = NULL;
    int n = 0, corrupt_key = -1;
    size_t fbytes = ((size_t)inf.n + 1) * sizeof *f, fields_bytes = ((size_t)inf.n + 1) * sizeof *fields;
    bool add_corrupt = o->corrupt_column && o->mode == SPK_READ_PERMISSIVE && inf.malformed;
    *added_corrupt = add_corrupt;
    if (st == SPK_OK) {
        f = (spk__jsonl_field_sort *)spk__alloc(a, fbytes);
        fields = (spk_field *)spk__alloc(a, fields_bytes);
        if (!f || !fields) st = spk__nomem("inferred columns", fbytes + fields_bytes);
    }
    if (st == SPK_OK) {
        if (add_corrupt)
            corrupt_key = spk__jsonl_names_find(&inf.names, o->corrupt_column, strlen(o->corrupt_column),
                                                spk__jsonl_seen_name, &inf);
        for (int i = 0; i < inf.n; i++)
            if (inf.keys[i].in_good_line && i != corrupt_key)
                f[n++] = (spk__jsonl_field_sort){inf.keys[i].name, spk__jsonl_seen_type(&inf.keys[i])};
        if (add_corrupt) f[n++] = (spk__jsonl_field_sort){o->corrupt_column, spk_type_of(SPK_TYPE_STRING)};
        qsort(f, (size_t)n, sizeof *f, spk__jsonl_field_order);
        for (int i = 0; i < n; i++) fields[i] = (spk_field){f[i].name, f[i].type, true};
        st = spk_schema_new(a, fields, n, out);
    }
    spk__free(a, f, fbytes);
    spk__free(a, fields, fields_bytes);
    spk__jsonl_infer_free(&inf);
    return st;
}

/* ---------------------------------------------------------------- reading rows */

typedef struct spk__jsonl_slice {
    size_t begin, end;   /* bytes of the input, from a line's start */
    size_t first_line;   /* the 1-based number of its first line */
    spk_table *table;
    char message[SPK_ERROR_MAX]; /* FAILFAST: the error of its first malformed line */
} spk__jsonl_slice;

typedef struct spk__jsonl_reader {
    const spk_allocator *alloc;
    const spk__io_input *in;
    spk_schema *schema;
    int ncols;
    int corrupt; /* the corrupt-record column, or -1 */
    spk_read_mode mode;
    spk__jsonl_slice *slices;
    size_t nslices, slices_cap;
    atomic_size_t first_failed; /* FAILFAST: the lowest slice that failed (SIZE_MAX: none) */
} spk__jsonl_reader;

/* One slice's working memory. */
typedef struct spk__jsonl_row {
    spk_value *values;
    size_t *stamp;      /* the line that last set each column: a second key for it is a duplicate */
    size_t *text_at;    /* a STRING column's text in `text` (nested values), or SIZE_MAX */
    int *hint;          /* the column member m named in the previous line */
    size_t hint_cap;
    spk__jbuf text;
    spk__jbuf line;     /* a malformed line's text with ill-formed UTF-8 repaired */
    spk__jsonl_names names;
} spk__jsonl_row;

/* Converts v to column type t (as jsonl.h says); b is set when it does not convert (*out is then NULL). */
static void spk__jsonl_convert(const spk__json *v, spk_type t, int column, spk__jsonl_row *r, spk__jsonl_bad *b,
                               spk_value *out) {
    *out = spk_value_null_of(t);
    if (v->kind == SPK__JSON_NULL) return;
    bool boolean = v->kind == SPK__JSON_TRUE || v->kind == SPK__JSON_FALSE;
    bool parse = false; /* the value's text is to be parsed as t */
    switch ((spk_type_id)t.id) {
    case SPK_TYPE_STRING:
        if (v->kind == SPK__JSON_STRING || v->kind == SPK__JSON_NUMBER) *out = spk_value_strn(v->str, v->len);
        else if (boolean) *out = spk_value_str(v->kind == SPK__JSON_TRUE ? "true" : "false");
        else { /* an object or array: its text, which goes in r->text (the pointer is set once the row is done) */
            r->text_at[column] = r->text.len;
            spk__jsonl_compact(&r->text, v);
            out->is_null = false;
            out->as.str.ptr = NULL;
            out->as.str.len = r->text.len - r->text_at[column];
        }
        return;
    case SPK_TYPE_BOOLEAN:
        if (boolean) {
            *out = spk_value_bool(v->kind == SPK__JSON_TRUE);
            return;
        }
        break;
    case SPK_TYPE_INT32:
    case SPK_TYPE_INT64: parse = v->kind == SPK__JSON_NUMBER; break;
    case SPK_TYPE_DOUBLE:
        if (v->kind == SPK__JSON_STRING) { /* how JSON writers put the values it has no number for */
            static const struct {
                const char *text;
                double value;
            } special[] = {{"NaN", NAN},        {"+NaN", NAN},       {"-NaN", NAN},       {"Infinity", INFINITY},
                           {"+Infinity", INFINITY}, {"+INF", INFINITY}, {"-Infinity", -INFINITY}, {"-INF", -INFINITY}};
            for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
                if (strlen(special[i].text) == v->len && memcmp(special[i].text, v->str, v->len) == 0) {
                    *out = spk_value_f64(special[i].value);
                    return;
                }
        }
        parse = v->kind == SPK__JSON_NUMBER || v->kind == SPK__JSON_STRING;
        break;
    case SPK_TYPE_DECIMAL: parse = v->kind == SPK__JSON_NUMBER || v->kind == SPK__JSON_STRING; break;
    case SPK_TYPE_DATE:
    case SPK_TYPE_TIMESTAMP: parse = v->kind == SPK__JSON_STRING; break;
    case SPK_TYPE_NULL:
    case SPK_TYPE_COUNT: break;
    }
    if (!parse) {
        spk__jsonl_bad_set(b, v->offset, column, "cannot read %s as %s", spk__jsonl_kind_name(v->kind),
                           spk__type_sql(t).s);
        return;
    }
    /* A string for a number must be one of the special ones above */
    spk__parse_result pr = v->kind == SPK__JSON_STRING && t.id == SPK_TYPE_DOUBLE
                               ? SPK__MALFORMED
                               : spk__parse_value(t, v->str, v->len, false, out);
    if (pr == SPK__PARSED) return;
    *out = spk_value_null_of(t);
    char shown[48];
    spk__json_key_excerpt(v->str, v->len, shown, sizeof shown);
    if (pr == SPK__OVERFLOW)
        spk__jsonl_bad_set(b, v->offset, column, "value %s is out of range for %s", shown, spk__type_sql(t).s);
    else if (v->kind == SPK__JSON_STRING)
        spk__jsonl_bad_set(b, v->offset, column, "cannot parse \"%s\" as %s", shown, spk__type_sql(t).s);
    else
        spk__jsonl_bad_set(b, v->offset, column, "cannot parse %s as %s", shown, spk__type_sql(t).s);
    return;
}

/* The column member m of obj names (or -1). */
static int spk__jsonl_column_of(const spk__jsonl_reader *rd, spk__jsonl_row *r, const spk__json *obj, size_t m) {
    const char *key = obj->keys[m];
    size_t len = obj->key_lens[m];
    if (m < r->hint_cap && r->hint[m] >= 0 && spk__word_is(key, len, spk_schema_field(rd->schema, r->hint[m])->name))
        return r->hint[m];
    int c = spk__jsonl_names_find(&r->names, key, len, spk__jsonl_schema_name, rd->schema);
    if (m < r->hint_cap) r->hint[m] = c;
    return c;
}

/* Fills r->values from one object line (number line_no); b says whether it was malformed. */
static void spk__jsonl_fill(const spk__jsonl_reader *rd, spk__jsonl_row *r, const spk__json *obj, size_t line_no,
                            spk__jsonl_bad *b) {
    r->text.len = 0;
    for (int c = 0; c < rd->ncols; c++) {
        r->values[c] = spk_value_null_of(spk_schema_field(rd->schema, c)->type);
        r->text_at[c] = SIZE_MAX;
    }
    for (size_t m = 0; m < obj->n; m++) {
        int c = spk__jsonl_column_of(rd, r, obj, m);
        if (c < 0 || c == rd->corrupt) continue;
        if (r->stamp[c] == line_no) {
            char name[48];
            spk__json_key_excerpt(obj->keys[m], obj->key_lens[m], name, sizeof name);
            spk__jsonl_bad_set(b, obj->items[m].offset, c, "duplicate key \"%s\" (keys match columns ignoring case)",
                               name);
            r->values[c] = spk_value_null_of(spk_schema_field(rd->schema, c)->type);
            r->text_at[c] = SIZE_MAX;
            continue;
        }
        r->stamp[c] = line_no;
        spk__jsonl_convert(&obj->items[m], spk_schema_field(rd->schema, c)->type, c, r, b, &r->values[c]);
    }
}

static void spk__jsonl_row_free(const spk_allocator *a, spk__jsonl_row *r, int ncols) {
    size_t n = (size_t)(ncols ? ncols : 1);
    spk__free(a, r->values, n * sizeof *r->values);
    spk__free(a, r->stamp, n * sizeof *r->stamp);
    spk__free(a, r->text_at, n * sizeof *r->text_at);
    spk__free(a, r->hint, r->hint_cap * sizeof *r->hint);
    spk__jbuf_free(&r->text);
    spk__jbuf_free(&r->line);
    spk__jsonl_names_free(a, &r->names);
}

static spk_status spk__jsonl_row_init(const spk__jsonl_reader *rd, spk__jsonl_row *r) {
    const spk_allocator *a = rd->alloc;
    memset(r, 0, sizeof *r);
    spk__jbuf_init(&r->text, a);
    spk__jbuf_init(&r->line, a);
    size_t n = (size_t)(rd->ncols ? rd->ncols : 1);
    r->values = (spk_value *)spk__alloc(a, n * sizeof *r->values);
    r->stamp = (size_t *)spk__alloc(a, n * sizeof *r->stamp);
    r->text_at = (size_t *)spk__alloc(a, n * sizeof *r->text_at);
    r->hint_cap = n < 16 ? 16 : n < 1024 ? n : 1024; /* members past it are looked up by hash */
    r->hint = (int *)spk__alloc(a, r->hint_cap * sizeof *r->hint);
    if (!r->values || !r->stamp || !r->text_at || !r->hint) {
        spk__jsonl_row_free(a, r, rd->ncols);
        return spk__nomem("a JSON reader's row", n * (sizeof *r->values + 2 * sizeof(size_t)));
    }
    for (size_t i = 0; i < n; i++) r->stamp[i] = 0;
    for (size_t i = 0; i < r->hint_cap; i++) r->hint[i] = -1;
    for (int c = 0; c < rd->ncols; c++) {
        spk_status st = spk__jsonl_names_add(a, &r->names, c, c + 1, spk__jsonl_schema_name, rd->schema);
        if (st != SPK_OK) {
            spk__jsonl_row_free(a, r, rd->ncols);
            return st;
        }
    }
    return SPK_OK;
}

/* Reads one slice into its own table (a task of spk__par_run). */
static spk_status spk__jsonl_read_slice(void *ctx, int worker, size_t task) {
    (void)worker;
    spk__jsonl_reader *rd = (spk__jsonl_reader *)ctx;
    spk__jsonl_slice *sl = &rd->slices[task];
    if (atomic_load_explicit(&rd->first_failed, memory_order_relaxed) < task) return SPK_OK; /* an earlier one failed */
    spk_status st = spk_table_new(rd->alloc, rd->schema, &sl->table);
    if (st != SPK_OK) return st;
    spk__jsonl_row r;
    if ((st = spk__jsonl_row_init(rd, &r)) != SPK_OK) return st;
    const char *data = rd->in->data;
    size_t pos = sl->begin, start, len, line_no = sl->first_line - 1;
    while (spk__jsonl_next_line(data, sl->end, &pos, &start, &len)) {
        line_no++;
        const char *line = data + start;
        if (spk__jsonl_blank(line, len)) continue;
        spk__jsonl_bad bad;
        bad.bad = false;
        spk__json_doc *doc = NULL;
        if ((st = spk__jsonl_parse_line(rd->alloc, line, len, &doc, &bad)) != SPK_OK) break;
        if (doc) spk__jsonl_fill(rd, &r, spk__json_root(doc), line_no, &bad);
        else
            for (int c = 0; c < rd->ncols; c++) {
                r.values[c] = spk_value_null_of(spk_schema_field(rd->schema, c)->type);
                r.text_at[c] = SIZE_MAX;
            }
        if (bad.bad && rd->mode == SPK_READ_FAILFAST) {
            spk__json_free(doc);
            spk__jsonl_fail(rd->in, start, line_no, &bad, rd->schema, sl->message, sizeof sl->message);
            size_t seen = atomic_load_explicit(&rd->first_failed, memory_order_relaxed);
            while (task < seen && !atomic_compare_exchange_weak_explicit(&rd->first_failed, &seen, task,
                                                                         memory_order_relaxed, memory_order_relaxed)) {
            }
            break;
        }
        if (bad.bad && rd->mode == SPK_READ_DROPMALFORMED) {
            spk__json_free(doc);
            continue;
        }
        if (r.text.failed) st = spk__nomem("a nested JSON value's text", r.text.cap);
        for (int c = 0; c < rd->ncols && st == SPK_OK; c++)
            if (r.text_at[c] != SIZE_MAX) r.values[c].as.str.ptr = r.text.p + r.text_at[c];
        if (rd->corrupt >= 0 && bad.bad) { /* the line's text (else NULL, as fill left it) */
            if (spk__jsonl_bad_utf8(line, len) == SIZE_MAX) r.values[rd->corrupt] = spk_value_strn(line, len);
            else {
                spk__jsonl_repair_utf8(&r.line, line, len);
                if (r.line.failed) st = spk__nomem("a malformed line's text", len * 3);
                r.values[rd->corrupt] = spk_value_strn(r.line.p ? r.line.p : "", r.line.len);
            }
        }
        if (st == SPK_OK) st = spk_table_append_row(sl->table, r.values, rd->ncols);
        spk__json_free(doc);
        if (st != SPK_OK) break;
    }
    spk__jsonl_row_free(rd->alloc, &r, rd->ncols);
    return st;
}

/* Cuts [begin, len) into slices at line breaks and numbers their first lines. */
static spk_status spk__jsonl_slices(const spk_allocator *a, const spk__io_input *in, size_t begin,
                                    spk__jsonl_slice **out, size_t *count, size_t *cap) {
    size_t body = in->len - begin, size = body / 8;
    if (size < SPK__JSONL_SLICE_MIN) size = SPK__JSONL_SLICE_MIN;
    if (size > SPK__JSONL_SLICE_MAX) size = SPK__JSONL_SLICE_MAX;
    size_t max = body > SPK__JSONL_PARALLEL_MIN ? body / size + 1 : 1, bytes = max * sizeof **out;
    spk__jsonl_slice *s = (spk__jsonl_slice *)spk__alloc(a, bytes);
    if (!s) return spk__nomem("input slices", bytes);
    *cap = max;
    size_t n = 0, at = begin, line = 1;
    while (n == 0 || at < in->len) {
        size_t end = in->len;
        if (n + 1 < max && in->len - at > size) {
            size_t from = at + size;
            const char *nl = (const char *)memchr(in->data + from, '\n', in->len - from);
            end = nl ? (size_t)(nl - in->data) + 1 : in->len;
        }
        s[n].begin = at;
        s[n].end = end;
        s[n].first_line = line;
        s[n].table = NULL;
        s[n].message[0] = '\0';
        n++;
        for (const char *p = in->data + at, *e = in->data + end;
             p < e && (p = (const char *)memchr(p, '\n', (size_t)(e - p))) != NULL; p++)
            line++;
        at = end;
    }
    *out = s;
    *count = n;
    return SPK_OK;
}

/* The schema with every column nullable (as Spark reads files): a missing key is NULL. */
static spk_status spk__jsonl_nullable(const spk_allocator *a, const spk_schema *given, spk_schema **out) {
    int n = spk_schema_ncols(given);
    bool all = true;
    for (int i = 0; i < n; i++) all = all && spk_schema_field(given, i)->nullable;
    if (all) {
        *out = spk_schema_retain((spk_schema *)given);
        return SPK_OK;
    }
    size_t bytes = (size_t)n * sizeof(spk_field);
    spk_field *fields = (spk_field *)spk__alloc(a, bytes);
    if (!fields) return spk__nomem("a schema", bytes);
    for (int i = 0; i < n; i++) {
        fields[i] = *spk_schema_field(given, i);
        fields[i].nullable = true;
    }
    spk_status st = spk_schema_new(a, fields, n, out);
    spk__free(a, fields, bytes);
    return st;
}

static spk_df *spk__jsonl_read(spk_session *s, spk__io_input *in, spk_status input_status,
                               const spk_json_options *opts) {
    spk_json_options o;
    memset(&o, 0, sizeof o);
    if (opts) o = *opts;
    spk_status st = SPK_OK;
    if (!s) st = spk__fail(SPK_ERR_ARG, "spk_read_json: NULL session");
    else if (o.mode != SPK_READ_PERMISSIVE && o.mode != SPK_READ_DROPMALFORMED && o.mode != SPK_READ_FAILFAST)
        st = spk__fail(SPK_ERR_ARG, "spk_read_json: invalid mode %d", (int)o.mode);
    else if (o.corrupt_column && !o.corrupt_column[0])
        st = spk__fail(SPK_ERR_ARG, "spk_read_json: corrupt_column is empty");
    else if (o.corrupt_column && o.schema) {
        int c = spk_schema_index(o.schema, o.corrupt_column, false);
        if (c < 0 || spk_schema_field(o.schema, c)->type.id != SPK_TYPE_STRING)
            st = spk__fail(SPK_ERR_ARG, "spk_read_json: corrupt_column `%s` is not a STRING column of the schema",
                           o.corrupt_column);
    }
    if (st == SPK_OK && input_status != SPK_OK) st = input_status; /* its error is already recorded */
    if (st != SPK_OK) {
        spk__io_input_free(in);
        return NULL;
    }
    const spk_allocator *a = s->alloc;
    size_t begin = in->len >= 3 && memcmp(in->data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    spk_schema *schema = NULL;
    bool has_corrupt = o.corrupt_column != NULL;
    if (o.schema) st = spk__jsonl_nullable(a, o.schema, &schema);
    else st = spk__jsonl_infer_schema(a, in, begin, &o, &schema, &has_corrupt);
    spk__jsonl_reader rd;
    memset(&rd, 0, sizeof rd);
    rd.alloc = a;
    rd.in = in;
    rd.schema = schema;
    rd.ncols = spk_schema_ncols(schema);
    rd.corrupt = has_corrupt && schema ? spk_schema_index(schema, o.corrupt_column, false) : -1;
    rd.mode = o.mode;
    atomic_init(&rd.first_failed, SIZE_MAX);
    if (st == SPK_OK) st = spk__jsonl_slices(a, in, begin, &rd.slices, &rd.nslices, &rd.slices_cap);
    if (st == SPK_OK) st = spk__par_run(s, spk__par_workers(s, rd.nslices), rd.nslices, spk__jsonl_read_slice, &rd);
    size_t failed = atomic_load_explicit(&rd.first_failed, memory_order_relaxed);
    if (st == SPK_OK && failed != SIZE_MAX) st = spk__fail(SPK_ERR_PARSE, "%s", rd.slices[failed].message);
    spk_table *t = NULL;
    if (st == SPK_OK) {
        t = rd.slices[0].table;
        rd.slices[0].table = NULL;
        for (size_t i = 1; i < rd.nslices && st == SPK_OK; i++) st = spk__table_adopt(t, rd.slices[i].table);
    }
    for (size_t i = 0; i < rd.nslices; i++) spk_table_free(rd.slices[i].table);
    spk__free(a, rd.slices, rd.slices_cap * sizeof *rd.slices);
    spk_schema_release(schema);
    spk__io_input_free(in);
    if (st != SPK_OK) {
        spk_table_free(t);
        return NULL;
    }
    spk_df *df = spk_df_from_table(s, t);
    if (!df) spk_table_free(t);
    return df;
}

SPKDEF spk_df *spk_read_json(spk_session *s, const char *path, const spk_json_options *opts) {
    spk__io_input in;
    spk_status st = spk__io_input_path(path, &in);
    if (st == SPK_OK) st = spk__io_input_read_all(&in);
    return spk__jsonl_read(s, &in, st, opts);
}

SPKDEF spk_df *spk_read_json_buffer(spk_session *s, const void *data, size_t len, const spk_json_options *opts) {
    spk__io_input in;
    spk__io_input_buffer(data, len, &in);
    return spk__jsonl_read(s, &in, SPK_OK, opts);
}

SPKDEF spk_df *spk_read_json_file(spk_session *s, FILE *f, const spk_json_options *opts) {
    spk__io_input in;
    spk_status st = spk__io_input_file(f, &in);
    if (st == SPK_OK) st = spk__io_input_read_all(&in);
    return spk__jsonl_read(s, &in, st, opts);
}

/* ---------------------------------------------------------------- writing */


/* Every string of t is UTF-8; checked before anything is written, so that
 * a failed APPEND adds nothing. */
static spk_status spk__jsonl_check_strings(const spk_table *t) {
    const spk_schema *schema = spk_table_schema(t);
    int ncols = spk_schema_ncols(schema);
    spk_cursor cur;
    spk_cursor_open(&cur, t);
    for (size_t row = 1; spk_cursor_next(&cur); row++)
        for (int c = 0; c < ncols; c++) {
            spk_value v;
            if (spk_schema_field(schema, c)->type.id != SPK_TYPE_STRING) continue;
            spk_status st = spk_cursor_get(&cur, c, &v);
            if (st != SPK_OK) return st;
            size_t bad = v.is_null ? SIZE_MAX : spk__jsonl_bad_utf8(v.as.str.ptr, v.as.str.len);
            if (bad != SIZE_MAX)
                return spk__fail(SPK_ERR_ARG,
                                 "row %zu, column `%s`: the string is not UTF-8 (byte 0x%02X at offset %zu); "
                                 "JSON text must be UTF-8",
                                 row, spk_schema_field(schema, c)->name, (unsigned char)v.as.str.ptr[bad], bad);
        }
    return SPK_OK;
}

static void spk__jsonl_write_value(spk__jbuf *b, const spk_value *v) {
    char text[SPK_VALUE_TEXT_MAX];
    switch ((spk_type_id)v->type.id) {
    case SPK_TYPE_STRING: spk__jbuf_str(b, v->as.str.ptr, v->as.str.len); return;
    case SPK_TYPE_DOUBLE:
        spk_value_format(v, text, sizeof text);
        if (isfinite(v->as.f64)) spk__jbuf_raw(b, text, strlen(text));
        else spk__jbuf_str(b, text, strlen(text)); /* JSON has no number for NaN or the infinities */
        return;
    case SPK_TYPE_DATE:
    case SPK_TYPE_TIMESTAMP:
        spk_value_format(v, text, sizeof text);
        spk__jbuf_str(b, text, strlen(text));
        return;
    case SPK_TYPE_BOOLEAN:
    case SPK_TYPE_INT32:
    case SPK_TYPE_INT64:
    case SPK_TYPE_DECIMAL:
        spk_value_format(v, text, sizeof text);
        spk__jbuf_raw(b, text, strlen(text));
        return;
    case SPK_TYPE_NULL:
    case SPK_TYPE_COUNT: break;
    }
    spk__jbuf_raw(b, "null", 4);
}

/* Runs df and writes its rows to out (opened by the caller; closed or aborted here). */
static spk_status spk__jsonl_write(spk_df *df, spk__io_output *out, bool write_nulls, char **str, size_t *len) {
    spk_table *t = NULL;
    spk_status st = spk_df_collect(df, &t);
    const spk_schema *schema = t ? spk_table_schema(t) : NULL;
    int ncols = spk_schema_ncols(schema);
    spk__jbuf b;
    spk__jbuf_init(&b, &spk__default_allocator);
    spk_cursor cur;
    if (st == SPK_OK) st = spk__jsonl_check_strings(t);
    if (st == SPK_OK) spk_cursor_open(&cur, t);
    while (st == SPK_OK && spk_cursor_next(&cur)) {
        b.len = 0;
        spk__jbuf_raw(&b, "{", 1);
        bool first = true;
        for (int c = 0; c < ncols && st == SPK_OK; c++) {
            spk_value v;
            if ((st = spk_cursor_get(&cur, c, &v)) != SPK_OK) break;
            if (v.is_null && !write_nulls) continue;
            const char *name = spk_schema_field(schema, c)->name;
            if (!first) spk__jbuf_raw(&b, ",", 1);
            first = false;
            spk__jbuf_str(&b, name, strlen(name));
            spk__jbuf_raw(&b, ":", 1);
            if (v.is_null) spk__jbuf_raw(&b, "null", 4);
            else spk__jsonl_write_value(&b, &v);
        }
        spk__jbuf_raw(&b, "}\n", 2);
        if (st == SPK_OK && b.failed) st = spk__nomem("a JSON line", b.cap);
        if (st == SPK_OK) spk__io_write(out, b.p, b.len);
        if (st == SPK_OK && out->failed) st = out->failed;
    }
    spk__jbuf_free(&b);
    spk_table_free(t);
    if (st != SPK_OK) {
        spk__io_output_abort(out);
        return st;
    }
    return spk__io_output_close(out, str, len);
}

/* Names must be UTF-8, and writing one twice would make objects with duplicate keys. */
static spk_status spk__jsonl_check_columns(spk_df *df) {
    if (!df) return spk__fail(SPK_ERR_ARG, "spk_write_json: NULL DataFrame");
    const spk_schema *schema = spk_df_schema(df);
    int n = spk_schema_ncols(schema);
    for (int i = 0; i < n; i++) {
        const char *name = spk_schema_field(schema, i)->name;
        if (spk__jsonl_bad_utf8(name, strlen(name)) != SIZE_MAX)
            return spk__fail(SPK_ERR_ARG, "column %d: its name is not UTF-8, which JSON text must be", i + 1);
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            if (spk__name_eq(spk_schema_field(schema, i)->name, spk_schema_field(schema, j)->name, false))
                return spk__fail(SPK_ERR_ANALYSIS,
                                 "[COLUMN_ALREADY_EXISTS] The column `%s` already exists: JSON objects cannot hold "
                                 "a key twice (rename one of them)",
                                 spk_schema_field(schema, i)->name);
    return SPK_OK;
}

SPKDEF spk_status spk_write_json(spk_df *df, const char *path, const spk_json_write_options *opts) {
    spk_json_write_options o;
    memset(&o, 0, sizeof o);
    if (opts) o = *opts;
    spk_status st = spk__jsonl_check_columns(df);
    if (st != SPK_OK) return st;
    spk__io_output out;
    bool skip;
    if ((st = spk__io_output_path(path, o.mode, &out, &skip)) != SPK_OK) return st;
    if (skip) return spk__io_output_close(&out, NULL, NULL);
    return spk__jsonl_write(df, &out, o.write_nulls, NULL, NULL);
}

SPKDEF spk_status spk_write_json_file(spk_df *df, FILE *f, const spk_json_write_options *opts) {
    spk_status st = spk__jsonl_check_columns(df);
    if (st != SPK_OK) return st;
    if (!f) return spk__fail(SPK_ERR_ARG, "spk_write_json_file: NULL FILE*");
    spk__io_output out;
    spk__io_output_file(f, &out);
    return spk__jsonl_write(df, &out, opts && opts->write_nulls, NULL, NULL);
}

SPKDEF spk_status spk_write_json_string(spk_df *df, const spk_json_write_options *opts, char **out, size_t *len) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_write_json_string: NULL output");
    *out = NULL;
    if (len) *len = 0;
    spk_status st = spk__jsonl_check_columns(df);
    if (st != SPK_OK) return st;
    spk__io_output o;
    spk__io_output_string(&o);
    return spk__jsonl_write(df, &o, opts && opts->write_nulls, out, len);
}
