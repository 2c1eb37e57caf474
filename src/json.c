/* json: a strict JSON reader (a DOM over one arena) and a writer. */
#include "shard.c"
#include "json.h"

/* ---------------------------------------------------------------- the DOM */

typedef enum spk__json_kind {
    SPK__JSON_NULL,
    SPK__JSON_FALSE,
    SPK__JSON_TRUE,
    SPK__JSON_NUMBER,
    SPK__JSON_STRING,
    SPK__JSON_ARRAY,
    SPK__JSON_OBJECT
} spk__json_kind;

typedef struct spk__json spk__json;
struct spk__json {
    spk__json_kind kind;
    size_t offset;     /* byte offset of the value in the document (for error messages) */
    const char *str;   /* STRING: the decoded UTF-8, NUL-terminated (it may also contain NUL bytes: use len);
                          NUMBER: the number's text exactly as written, NUL-terminated */
    size_t len;        /* STRING/NUMBER: bytes in str */
    size_t n;          /* ARRAY: items; OBJECT: members */
    spk__json *items;  /* ARRAY: n values; OBJECT: n member values */
    const char **keys; /* OBJECT: n member names, decoded, NUL-terminated */
    size_t *key_lens;
};

#define SPK__JSON_MAX_DEPTH 64
#define SPK__JSON_MAX_BYTES ((size_t)1 << 30)

/* Everything a document owns lives in a chain of blocks, so freeing it is a
 * walk down the chain whatever state a failed parse left it in. */
typedef struct spk__json_block {
    struct spk__json_block *next;
    size_t size; /* the whole block, header included */
} spk__json_block;

#define SPK__JSON_ALIGN _Alignof(max_align_t)
#define SPK__JSON_BLOCK_HEAD \
    ((sizeof(spk__json_block) + SPK__JSON_ALIGN - 1) / SPK__JSON_ALIGN * SPK__JSON_ALIGN)
#define SPK__JSON_BLOCK_MAX ((size_t)8 << 20)

typedef struct spk__json_doc {
    const spk_allocator *alloc;
    spk__json root;
    spk__json_block *blocks;
    char *free_ptr; /* unused tail of the block allocations come from */
    size_t free_bytes;
    size_t next_block; /* size of the next block (doubles up to SPK__JSON_BLOCK_MAX) */
} spk__json_doc;

/* size bytes aligned to `align` (a power of two no larger than max_align_t); NULL when out of memory. */
static void *spk__json_arena_alloc(spk__json_doc *d, size_t size, size_t align) {
    size_t pad = (align - (size_t)((uintptr_t)d->free_ptr & (align - 1))) & (align - 1);
    if (d->free_ptr && pad <= d->free_bytes && size <= d->free_bytes - pad) {
        char *p = d->free_ptr + pad;
        d->free_ptr = p + size;
        d->free_bytes -= pad + size;
        return p;
    }
    if (size > SIZE_MAX - SPK__JSON_BLOCK_HEAD) return NULL;
    size_t bytes = SPK__JSON_BLOCK_HEAD + size;
    if (bytes < d->next_block) bytes = d->next_block;
    spk__json_block *b = (spk__json_block *)spk__alloc(d->alloc, bytes);
    if (!b) return NULL;
    b->next = d->blocks;
    b->size = bytes;
    d->blocks = b;
    if (d->next_block < SPK__JSON_BLOCK_MAX) d->next_block *= 2;
    char *p = (char *)b + SPK__JSON_BLOCK_HEAD;
    /* An oversized request leaves little behind: keep allocating from
     * whichever block has more room. */
    size_t left = bytes - SPK__JSON_BLOCK_HEAD - size;
    if (left >= d->free_bytes) {
        d->free_ptr = p + size;
        d->free_bytes = left;
    }
    return p;
}

static void spk__json_free(spk__json_doc *d) {
    if (!d) return;
    const spk_allocator *a = d->alloc;
    for (spk__json_block *b = d->blocks, *next; b; b = next) {
        next = b->next;
        spk__free(a, b, b->size);
    }
    spk__free(a, d, sizeof *d);
}

static const spk__json *spk__json_root(const spk__json_doc *d) { return d ? &d->root : NULL; }

/* Linear: the documents this serves have small objects, and a lookup table
 * would cost every object an allocation. */
static const spk__json *spk__json_get(const spk__json *obj, const char *key) {
    if (!obj || obj->kind != SPK__JSON_OBJECT || !key) return NULL;
    size_t len = strlen(key);
    for (size_t i = 0; i < obj->n; i++)
        if (obj->key_lens[i] == len && memcmp(obj->keys[i], key, len) == 0) return &obj->items[i];
    return NULL;
}

/* A NUMBER written without fraction or exponent ("-0" included) whose value fits int64. */
static bool spk__json_is_int(const spk__json *v, int64_t *out) {
    if (!v || v->kind != SPK__JSON_NUMBER) return false;
    size_t i = 0;
    bool neg = v->len > 0 && v->str[0] == '-';
    if (neg) i++;
    if (i == v->len) return false;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, mag = 0;
    for (; i < v->len; i++) {
        unsigned digit = (unsigned)(v->str[i] - '0');
        if (digit > 9) return false;
        if (mag > (limit - digit) / 10) return false;
        mag = mag * 10 + digit;
    }
    if (out) *out = !neg ? (int64_t)mag : mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    return true;
}

/* Any NUMBER, correctly rounded and locale-independent (types' double
 * parser accepts every JSON number); false for a magnitude beyond double's
 * range, which no caller could use. */
static bool spk__json_is_number(const spk__json *v, double *out) {
    if (!v || v->kind != SPK__JSON_NUMBER) return false;
    double d;
    if (spk__parse_double(v->str, v->len, &d) != SPK__PARSED || !isfinite(d)) return false;
    if (out) *out = d;
    return true;
}

/* ---------------------------------------------------------------- the parser */

typedef struct spk__json_key {
    const char *name;
    size_t len;
    size_t offset; /* of its opening quote */
} spk__json_key;

typedef struct spk__json_parser {
    const char *text;
    size_t len, pos;
    const char *what;
    spk__json_doc *doc;
    /* Items and member names of the open containers, innermost last; a
     * container moves its own into the arena when it closes, so every array
     * ends up contiguous without knowing its size in advance. */
    spk__json *items;
    size_t items_len, items_cap;
    spk__json_key *keys;
    size_t keys_len, keys_cap;
} spk__json_parser;

/* " at byte N (line L, column C)" (1-based line and column, counted in bytes). */
static int spk__json_where(const spk__json_parser *p, size_t at, char *buf, size_t cap) {
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < at && i < p->len; i++)
        if (p->text[i] == '\n') {
            line++;
            line_start = i + 1;
        }
    return snprintf(buf, cap, "at byte %zu (line %zu, column %zu)", at, line, at - line_start + 1);
}

static spk_status spk__json_error(const spk__json_parser *p, size_t at, const char *fmt, ...) SPK__PRINTF(3, 4);
static spk_status spk__json_error(const spk__json_parser *p, size_t at, const char *fmt, ...) {
    char where[96], detail[256];
    spk__json_where(p, at, where, sizeof where);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return spk__fail(SPK_ERR_PARSE, "%s: invalid JSON %s: %s", p->what, where, detail);
}

/* "expected <what>, found <the byte at `at`>". */
static spk_status spk__json_expected(const spk__json_parser *p, size_t at, const char *expected) {
    char found[24];
    if (at >= p->len) snprintf(found, sizeof found, "end of input");
    else {
        unsigned char c = (unsigned char)p->text[at];
        if (c >= 0x20 && c < 0x7f) snprintf(found, sizeof found, "'%c'", c);
        else snprintf(found, sizeof found, "byte 0x%02X", c);
    }
    return spk__json_error(p, at, "expected %s, found %s", expected, found);
}

static void spk__json_skip_space(spk__json_parser *p) {
    while (p->pos < p->len) {
        char c = p->text[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static spk_status spk__json_nomem(size_t bytes) { return spk__nomem("a parsed JSON document", bytes); }

static bool spk__json_grow(const spk_allocator *a, void **array, size_t *cap, size_t elem) {
    size_t new_cap = *cap ? *cap * 2 : 16, old_bytes = *cap * elem, new_bytes;
    if (spk__mul_overflows(new_cap, elem, &new_bytes)) return false;
    void *grown = spk__realloc(a, *array, old_bytes, new_bytes);
    if (!grown) return false;
    *array = grown;
    *cap = new_cap;
    return true;
}

static spk_status spk__json_push_item(spk__json_parser *p, const spk__json *v) {
    if (p->items_len == p->items_cap &&
        !spk__json_grow(p->doc->alloc, (void **)&p->items, &p->items_cap, sizeof *p->items))
        return spk__json_nomem((p->items_cap ? p->items_cap * 2 : 16) * sizeof *p->items);
    p->items[p->items_len++] = *v;
    return SPK_OK;
}

static spk_status spk__json_push_key(spk__json_parser *p, const char *name, size_t len, size_t offset) {
    if (p->keys_len == p->keys_cap &&
        !spk__json_grow(p->doc->alloc, (void **)&p->keys, &p->keys_cap, sizeof *p->keys))
        return spk__json_nomem((p->keys_cap ? p->keys_cap * 2 : 16) * sizeof *p->keys);
    p->keys[p->keys_len++] = (spk__json_key){name, len, offset};
    return SPK_OK;
}

/* Length of the well-formed UTF-8 sequence at s (0x80 and above), or 0 with *why set. */
static size_t spk__json_utf8_length(const unsigned char *s, size_t avail, const char **why) {
    unsigned char c = s[0];
    size_t n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (n == 0) {
        *why = c < 0xC0   ? "a UTF-8 continuation byte without a lead byte"
               : c < 0xC2 ? "an overlong UTF-8 encoding"
                          : "a byte that never occurs in UTF-8";
        return 0;
    }
    uint32_t cp = c & (0x7Fu >> n);
    for (size_t k = 1; k < n; k++) {
        if (k >= avail || (s[k] & 0xC0) != 0x80) {
            *why = "a truncated UTF-8 sequence";
            return 0;
        }
        cp = cp << 6 | (s[k] & 0x3Fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)) *why = "an overlong UTF-8 encoding";
    else if (cp >= 0xD800 && cp <= 0xDFFF) *why = "a UTF-8 encoded surrogate (U+D800..U+DFFF)";
    else if (cp > 0x10FFFF) *why = "a UTF-8 sequence beyond U+10FFFF";
    else return n;
    return 0;
}

static size_t spk__json_put_utf8(char *o, uint32_t cp) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The four hex digits at text[at..at+4) if they lie before `end`; -1 otherwise. */
static long spk__json_hex4(const char *text, size_t at, size_t end) {
    if (end - at < 4) return -1;
    long v = 0;
    for (size_t i = at; i < at + 4; i++) {
        char c = text[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* The string whose opening quote is at p->pos, decoded into the arena. */
static spk_status spk__json_string(spk__json_parser *p, const char **out, size_t *out_len) {
    const char *t = p->text;
    size_t open = p->pos, end = open + 1;
    /* Escapes only shrink, so the raw length bounds the decoded one. */
    while (end < p->len && t[end] != '"') end += t[end] == '\\' ? 2 : 1;
    if (end >= p->len) return spk__json_error(p, open, "unterminated string");
    char *buf = (char *)spk__json_arena_alloc(p->doc, end - open, 1);
    if (!buf) return spk__json_nomem(end - open);
    char *o = buf;
    size_t i = open + 1;
    while (i < end) {
        unsigned char c = (unsigned char)t[i];
        if (c == '\\') {
            char e = t[i + 1]; /* before end: the scan above stepped over it */
            static const char escaped[] = "\"\\/bfnrt", decoded[] = "\"\\/\b\f\n\r\t";
            const char *simple = e ? strchr(escaped, e) : NULL;
            if (simple) {
                *o++ = decoded[simple - escaped];
                i += 2;
                continue;
            }
            if (e != 'u') {
                if ((unsigned char)e >= 0x20 && (unsigned char)e < 0x7f)
                    return spk__json_error(p, i, "invalid escape '\\%c' in a string", e);
                return spk__json_error(p, i, "invalid escape (backslash followed by byte 0x%02X) in a string",
                                       (unsigned char)e);
            }
            long cp = spk__json_hex4(t, i + 2, end);
            if (cp < 0) return spk__json_error(p, i, "\\u must be followed by four hex digits");
            size_t used = 6;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return spk__json_error(p, i, "lone low surrogate \\u%04lX (not after a high surrogate)", cp);
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                long low = end - i >= 12 && t[i + 6] == '\\' && t[i + 7] == 'u' ? spk__json_hex4(t, i + 8, end) : -1;
                if (low < 0xDC00 || low > 0xDFFF)
                    return spk__json_error(p, i, "lone high surrogate \\u%04lX (a \\uDC00..\\uDFFF escape must follow)",
                                           cp);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                used = 12;
            }
            o += spk__json_put_utf8(o, (uint32_t)cp);
            i += used;
        } else if (c < 0x20) {
            return spk__json_error(p, i, "control character 0x%02X in a string (it must be escaped)", c);
        } else if (c < 0x80) {
            *o++ = (char)c;
            i++;
        } else {
            const char *why = "";
            size_t n = spk__json_utf8_length((const unsigned char *)t + i, end - i, &why);
            if (!n) return spk__json_error(p, i, "invalid UTF-8: %s (byte 0x%02X)", why, c);
            memcpy(o, t + i, n);
            o += n;
            i += n;
        }
    }
    *o = '\0';
    *out = buf;
    *out_len = (size_t)(o - buf);
    p->pos = end + 1;
    return SPK_OK;
}

static bool spk__json_digit_at(const spk__json_parser *p, size_t at) {
    return at < p->len && spk__is_digit((unsigned char)p->text[at]);
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, kept as written. */
static spk_status spk__json_number(spk__json_parser *p, spk__json *v) {
    size_t start = p->pos, i = start;
    if (p->text[i] == '-') i++;
    if (!spk__json_digit_at(p, i)) return spk__json_expected(p, i, "a digit after '-'");
    if (p->text[i] == '0') {
        i++;
        if (spk__json_digit_at(p, i)) return spk__json_error(p, start, "number with a leading zero");
    } else {
        while (spk__json_digit_at(p, i)) i++;
    }
    if (i < p->len && p->text[i] == '.') {
        i++;
        if (!spk__json_digit_at(p, i)) return spk__json_expected(p, i, "a digit after the decimal point");
        while (spk__json_digit_at(p, i)) i++;
    }
    if (i < p->len && (p->text[i] == 'e' || p->text[i] == 'E')) {
        i++;
        if (i < p->len && (p->text[i] == '+' || p->text[i] == '-')) i++;
        if (!spk__json_digit_at(p, i)) return spk__json_expected(p, i, "a digit in the exponent");
        while (spk__json_digit_at(p, i)) i++;
    }
    char *text = (char *)spk__json_arena_alloc(p->doc, i - start + 1, 1);
    if (!text) return spk__json_nomem(i - start + 1);
    memcpy(text, p->text + start, i - start);
    text[i - start] = '\0';
    v->kind = SPK__JSON_NUMBER;
    v->str = text;
    v->len = i - start;
    p->pos = i;
    return SPK_OK;
}

static spk_status spk__json_literal(spk__json_parser *p, spk__json *v, const char *word, spk__json_kind kind) {
    for (size_t k = 0; word[k]; k++)
        if (p->pos + k >= p->len || p->text[p->pos + k] != word[k]) {
            char expected[16];
            snprintf(expected, sizeof expected, "'%s'", word);
            return spk__json_expected(p, p->pos + k, expected);
        }
    p->pos += strlen(word);
    v->kind = kind;
    return SPK_OK;
}

/* Moves the top `n` items (and names, for an object) of the stacks into the arena. */
static spk_status spk__json_close(spk__json_parser *p, spk__json *v, size_t n, bool object) {
    v->n = n;
    if (n == 0) return SPK_OK;
    size_t bytes;
    if (spk__mul_overflows(n, sizeof(spk__json), &bytes)) return spk__json_nomem(SIZE_MAX);
    v->items = (spk__json *)spk__json_arena_alloc(p->doc, bytes, _Alignof(spk__json));
    if (!v->items) return spk__json_nomem(bytes);
    memcpy(v->items, p->items + p->items_len - n, bytes);
    p->items_len -= n;
    if (!object) return SPK_OK;
    /* n pointers and n sizes: no overflow, since n items of spk__json fit */
    v->keys = (const char **)spk__json_arena_alloc(p->doc, n * sizeof *v->keys, _Alignof(const char *));
    v->key_lens = v->keys ? (size_t *)spk__json_arena_alloc(p->doc, n * sizeof *v->key_lens, _Alignof(size_t)) : NULL;
    if (!v->key_lens) return spk__json_nomem(n * sizeof *v->key_lens);
    const spk__json_key *k = p->keys + p->keys_len - n;
    for (size_t i = 0; i < n; i++) {
        v->keys[i] = k[i].name;
        v->key_lens[i] = k[i].len;
    }
    p->keys_len -= n;
    return SPK_OK;
}

static int spk__json_key_order(const void *a, const void *b) {
    const spk__json_key *x = (const spk__json_key *)a, *y = (const spk__json_key *)b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    int c = memcmp(x->name, y->name, x->len);
    if (c) return c;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* The key to report as a duplicate among the top n names: the first to
 * repeat an earlier one in document order; NULL if all differ. Small objects
 * compare pairwise; large ones sort a copy, so a hostile document with
 * thousands of members costs n log n, not n squared. */
static spk_status spk__json_find_duplicate(spk__json_parser *p, size_t n, const spk__json_key **dup) {
    const spk__json_key *k = p->keys + p->keys_len - n;
    *dup = NULL;
    if (n <= 16) {
        for (size_t j = 1; j < n && !*dup; j++)
            for (size_t i = 0; i < j; i++)
                if (k[i].len == k[j].len && memcmp(k[i].name, k[j].name, k[i].len) == 0) {
                    *dup = &k[j];
                    break;
                }
        return SPK_OK;
    }
    size_t bytes = n * sizeof *k; /* no overflow: the stack already holds n of them */
    spk__json_key *sorted = (spk__json_key *)spk__alloc(p->doc->alloc, bytes);
    if (!sorted) return spk__json_nomem(bytes);
    memcpy(sorted, k, bytes);
    qsort(sorted, n, sizeof *sorted, spk__json_key_order);
    size_t first_repeat = SIZE_MAX;
    for (size_t i = 1; i < n; i++)
        if (sorted[i].len == sorted[i - 1].len && memcmp(sorted[i].name, sorted[i - 1].name, sorted[i].len) == 0 &&
            sorted[i].offset < first_repeat)
            first_repeat = sorted[i].offset;
    spk__free(p->doc->alloc, sorted, bytes);
    for (size_t i = 0; i < n && first_repeat != SIZE_MAX; i++)
        if (k[i].offset == first_repeat) *dup = &k[i];
    return SPK_OK;
}

/* A key for a message: at most 40 bytes (cut at a character boundary), control characters as '?'. */
static void spk__json_key_excerpt(const char *s, size_t len, char *buf, size_t cap) {
    size_t keep = len <= 40 ? len : 40;
    while (keep < len && keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80) keep--;
    size_t o = 0;
    for (size_t i = 0; i < keep && o + 4 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (keep < len && o + 4 < cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
}

static spk_status spk__json_value(spk__json_parser *p, int depth, spk__json *v);

static spk_status spk__json_container(spk__json_parser *p, int depth, spk__json *v, bool object) {
    if (depth > SPK__JSON_MAX_DEPTH) {
        char where[96];
        spk__json_where(p, p->pos, where, sizeof where);
        return spk__fail(SPK_ERR_LIMIT, "%s: JSON nested deeper than %d levels %s", p->what, SPK__JSON_MAX_DEPTH,
                         where);
    }
    v->kind = object ? SPK__JSON_OBJECT : SPK__JSON_ARRAY;
    char close = object ? '}' : ']';
    size_t n = 0;
    spk_status st;
    p->pos++;
    spk__json_skip_space(p);
    if (p->pos < p->len && p->text[p->pos] == close) {
        p->pos++;
        return SPK_OK;
    }
    for (;;) {
        if (object) {
            spk__json_skip_space(p);
            if (p->pos >= p->len || p->text[p->pos] != '"')
                return spk__json_expected(p, p->pos, n ? "a string key after ','" : "a string key or '}'");
            size_t key_at = p->pos, key_len;
            const char *key;
            if ((st = spk__json_string(p, &key, &key_len)) != SPK_OK) return st;
            if ((st = spk__json_push_key(p, key, key_len, key_at)) != SPK_OK) return st;
            spk__json_skip_space(p);
            if (p->pos >= p->len || p->text[p->pos] != ':') return spk__json_expected(p, p->pos, "':' after the key");
            p->pos++;
        }
        spk__json item;
        if ((st = spk__json_value(p, depth, &item)) != SPK_OK) return st;
        if ((st = spk__json_push_item(p, &item)) != SPK_OK) return st;
        n++;
        spk__json_skip_space(p);
        if (p->pos < p->len && p->text[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->text[p->pos] == close) break;
        return spk__json_expected(p, p->pos,
                                  object ? "',' or '}' after an object member" : "',' or ']' after an array item");
    }
    p->pos++;
    if (object) {
        const spk__json_key *dup;
        if ((st = spk__json_find_duplicate(p, n, &dup)) != SPK_OK) return st;
        if (dup) {
            char name[48];
            spk__json_key_excerpt(dup->name, dup->len, name, sizeof name);
            return spk__json_error(p, dup->offset, "duplicate key \"%s\" in an object", name);
        }
    }
    return spk__json_close(p, v, n, object);
}

/* One value at p->pos (after optional whitespace); depth counts the containers around it. */
static spk_status spk__json_value(spk__json_parser *p, int depth, spk__json *v) {
    memset(v, 0, sizeof *v);
    spk__json_skip_space(p);
    v->offset = p->pos;
    if (p->pos >= p->len) return spk__json_expected(p, p->pos, "a value");
    char c = p->text[p->pos];
    switch (c) {
    case '{': return spk__json_container(p, depth + 1, v, true);
    case '[': return spk__json_container(p, depth + 1, v, false);
    case '"': v->kind = SPK__JSON_STRING; return spk__json_string(p, &v->str, &v->len);
    case 't': return spk__json_literal(p, v, "true", SPK__JSON_TRUE);
    case 'f': return spk__json_literal(p, v, "false", SPK__JSON_FALSE);
    case 'n': return spk__json_literal(p, v, "null", SPK__JSON_NULL);
    default:
        if (c == '-' || spk__is_digit((unsigned char)c)) return spk__json_number(p, v);
        return spk__json_expected(p, p->pos, "a value");
    }
}

static spk_status spk__json_parse(const spk_allocator *a, const char *text, size_t len, const char *what,
                                  spk__json_doc **out) {
    *out = NULL;
    a = spk__allocator_or_default(a);
    if (!what) what = "JSON document";
    if (len > SPK__JSON_MAX_BYTES)
        return spk__fail(SPK_ERR_LIMIT, "%s: JSON document of %zu bytes is over the limit of %zu bytes (1 GiB)", what,
                         len, SPK__JSON_MAX_BYTES);
    if (!text && len) return spk__fail(SPK_ERR_ARG, "%s: no JSON text (NULL) for %zu bytes", what, len);
    spk__json_doc *d = (spk__json_doc *)spk__calloc(a, sizeof *d);
    if (!d) return spk__nomem("a JSON document", sizeof *d);
    d->alloc = a;
    /* Small documents fit their first block. */
    d->next_block = len < 1024 ? 2048 : len < SPK__JSON_BLOCK_MAX / 2 ? 2 * len : SPK__JSON_BLOCK_MAX;
    spk__json_parser p = {text, len, 0, what, d, NULL, 0, 0, NULL, 0, 0};
    spk_status st = spk__json_value(&p, 0, &d->root);
    if (st == SPK_OK) {
        spk__json_skip_space(&p);
        if (p.pos < len) st = spk__json_expected(&p, p.pos, "end of input after the value");
    }
    spk__free(a, p.items, p.items_cap * sizeof *p.items);
    spk__free(a, p.keys, p.keys_cap * sizeof *p.keys);
    if (st != SPK_OK) {
        spk__json_free(d);
        return st;
    }
    *out = d;
    return SPK_OK;
}

/* ---------------------------------------------------------------- the writer */

typedef struct spk__jbuf {
    const spk_allocator *alloc;
    char *p;
    size_t len, cap;
    bool failed;
} spk__jbuf;

static void spk__jbuf_init(spk__jbuf *b, const spk_allocator *a) {
    b->alloc = spk__allocator_or_default(a);
    b->p = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}

static void spk__jbuf_free(spk__jbuf *b) {
    spk__free(b->alloc, b->p, b->cap);
    b->p = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}

/* Room for n more bytes plus the NUL; false (and the buffer given up) if there is none to be had. */
static bool spk__jbuf_reserve(spk__jbuf *b, size_t n) {
    if (b->failed) return false;
    if (n < b->cap - b->len) return true; /* cap > len whenever p is set */
    if (n > SIZE_MAX - 1 - b->len) goto fail;
    size_t need = b->len + n + 1, cap = b->cap ? b->cap : 256;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *grown = (char *)spk__realloc(b->alloc, b->p, b->cap, cap);
    if (!grown) goto fail;
    b->p = grown;
    b->cap = cap;
    return true;
fail:
    spk__jbuf_free(b);
    b->failed = true;
    return false;
}

static void spk__jbuf_raw(spk__jbuf *b, const char *s, size_t n) {
    if (n == 0 || !spk__jbuf_reserve(b, n)) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void spk__jbuf_fmt(spk__jbuf *b, const char *fmt, ...) SPK__PRINTF(2, 3);
static void spk__jbuf_fmt(spk__jbuf *b, const char *fmt, ...) {
    if (b->failed) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) { /* an encoding error: the text cannot be written, so the result must not pass for whole */
        spk__jbuf_free(b);
        b->failed = true;
        return;
    }
    if (n == 0 || !spk__jbuf_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void spk__jbuf_str(spk__jbuf *b, const char *s, size_t n) {
    spk__jbuf_raw(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        switch (c) {
        case '"': memcpy(esc, "\\\"", 3); break;
        case '\\': memcpy(esc, "\\\\", 3); break;
        case '\n': memcpy(esc, "\\n", 3); break;
        case '\t': memcpy(esc, "\\t", 3); break;
        case '\r': memcpy(esc, "\\r", 3); break;
        case '\b': memcpy(esc, "\\b", 3); break;
        case '\f': memcpy(esc, "\\f", 3); break;
        default:
            if (c >= 0x20) continue;
            snprintf(esc, sizeof esc, "\\u%04x", c);
        }
        spk__jbuf_raw(b, s + run, i - run);
        spk__jbuf_raw(b, esc, strlen(esc));
        run = i + 1;
    }
    spk__jbuf_raw(b, s + run, n - run);
    spk__jbuf_raw(b, "\"", 1);
}

static spk_status spk__jbuf_finish(spk__jbuf *b, char **out, size_t *len) {
    *out = NULL;
    if (len) *len = 0;
    if (b->failed) {
        spk__jbuf_free(b);
        return spk__fail(SPK_ERR_NOMEM, "out of memory writing a JSON text");
    }
    char *text = b->p;
    size_t n = b->len;
    if (!text) text = (char *)spk__alloc(b->alloc, 1);
    else if (b->cap != n + 1) text = (char *)spk__realloc(b->alloc, b->p, b->cap, n + 1);
    if (!text) {
        spk__jbuf_free(b);
        return spk__nomem("a JSON text", n + 1);
    }
    text[n] = '\0';
    *out = text;
    if (len) *len = n;
    b->p = NULL;
    b->len = b->cap = 0;
    return SPK_OK;
}
