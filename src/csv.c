/* csv: the CSV reader and writer (csv.h). */
#include "io.c"
#include "csv.h"

/* How a read goes: a buffer, or a file whose records may span lines or
 * whose schema is inferred (read whole), is cut into slices at record
 * boundaries (line breaks; with multiline, line breaks outside quotes,
 * found by reading the records in order), and the slices are parsed in
 * parallel, each into a table of its own, and joined in order
 * (spk__table_adopt). The header (or, with no schema, the first record) is
 * read on the calling thread, from a first window. Any other file is read
 * by the parsing tasks themselves, a block (8 MiB) each, in turn: a task
 * reads its block behind the unfinished record the one before left, hands
 * the turn on and parses its complete lines while the next task reads
 * (spk__csv_block_task), so nothing waits between windows and a block is
 * parsed while it is still in cache. Fields are read in
 * place: only a quoted field with escapes or doubled quotes is copied, into
 * a scratch buffer, and numbers and dates have fast parsers for their plain
 * forms (spk_value_parse's parser takes the rest, so what is accepted is
 * exactly what spk_value_parse accepts). A record's fixed-width values are
 * parsed straight into their chunk columns, and a record without quotes
 * copies its strings into the chunk's heap past its end; its null bitmap
 * (and a quoted record's strings) are staged, and the heap's end moves,
 * only once it is known good (spk__csv_commit). Line numbers in messages
 * are counted per slice and added up afterwards. */

/* ---------------------------------------------------------------- dialect */

/* Byte classes (a byte may be several). */
enum { SPK__CSV_DELIM = 1, SPK__CSV_EOL = 2, SPK__CSV_QUOTE = 4, SPK__CSV_ESCAPE = 8, SPK__CSV_SPACE = 16 };

typedef struct spk__csv_dialect {
    char delimiter, quote, escape;
    bool multiline, trim_leading, trim_trailing;
    const char *null_value;
    size_t null_len;
    unsigned char cls[256];
} spk__csv_dialect;

/* Space, for trimming, blank lines and the writer's quoting: ' ', \t, \f,
 * \v, unless the byte has another role. */
static spk_status spk__csv_dialect_init(spk__csv_dialect *d, char delimiter, char quote, char escape,
                                        const char *null_value, const char *who) {
    memset(d, 0, sizeof *d);
    d->delimiter = delimiter ? delimiter : ',';
    d->quote = quote ? quote : '"';
    d->escape = escape ? escape : '\\';
    d->null_value = null_value ? null_value : "";
    d->null_len = strlen(d->null_value);
    if (d->delimiter == d->quote)
        return spk__fail(SPK_ERR_ARG, "%s: the delimiter and the quote are the same character ('%c')", who, d->quote);
    const char roles[3] = {d->delimiter, d->quote, d->escape};
    static const char *const role_names[3] = {"delimiter", "quote", "escape"};
    for (int i = 0; i < 3; i++)
        if (roles[i] == '\n' || roles[i] == '\r')
            return spk__fail(SPK_ERR_ARG, "%s: the %s cannot be a line break", who, role_names[i]);
    d->cls['\n'] |= SPK__CSV_EOL;
    d->cls['\r'] |= SPK__CSV_EOL;
    d->cls[(unsigned char)d->delimiter] |= SPK__CSV_DELIM;
    d->cls[(unsigned char)d->quote] |= SPK__CSV_QUOTE;
    d->cls[(unsigned char)d->escape] |= SPK__CSV_ESCAPE;
    static const char spaces[4] = {' ', '\t', '\f', '\v'};
    for (int i = 0; i < 4; i++)
        if (!d->cls[(unsigned char)spaces[i]]) d->cls[(unsigned char)spaces[i]] = SPK__CSV_SPACE;
    return SPK_OK;
}

/* ---------------------------------------------------------------- tokenizer */

/* A reader over data[pos, end): the whole input or one slice. Lines are
 * counted from the reader's start. */
typedef struct spk__csv_reader {
    const spk__csv_dialect *d;
    const char *data;
    size_t pos, end;
    size_t line, line_start;  /* the line holding pos, and where it starts */
    size_t record_end;        /* after a record's last field: where it ends (before its line break) */
    size_t end_line, end_line_start;
    bool scan_only;           /* only finding record ends: quoted text is not unescaped */
    char *scratch;            /* the current record's unescaped quoted fields */
    size_t scratch_len, scratch_cap;
} spk__csv_reader;

enum { SPK__CSV_FIELD_OK, SPK__CSV_UNTERMINATED, SPK__CSV_AFTER_QUOTE };
#define SPK__CSV_IN_DATA ((size_t)-1)

/* One field as read. */
typedef struct spk__csv_tok {
    const char *text;       /* the value's bytes (NULL: in the reader's scratch at scratch_at) */
    size_t len, scratch_at;
    size_t start, raw_len;  /* data[start, start + raw_len): the field as written, quotes included */
    size_t line, line_start;
    size_t problem_at;      /* the byte a problem is blamed on, on line problem_line */
    size_t problem_line, problem_line_start;
    unsigned char problem;
    bool quoted, last;      /* last: the record ends after this field */
} spk__csv_tok;

static void spk__csv_reader_init(spk__csv_reader *r, const spk__csv_dialect *d, const char *data, size_t pos,
                                 size_t end) {
    memset(r, 0, sizeof *r);
    r->d = d;
    r->data = data;
    r->pos = pos;
    r->end = end;
    r->line_start = pos;
}

static void spk__csv_reader_free(spk__csv_reader *r) {
    if (r->scratch) spk__free(&spk__default_allocator, r->scratch, r->scratch_cap);
    r->scratch = NULL;
    r->scratch_cap = r->scratch_len = 0;
}

static spk_status spk__csv_scratch_put(spk__csv_reader *r, const char *p, size_t n) {
    if (r->scan_only || !n) return SPK_OK;
    if (r->scratch_cap - r->scratch_len < n) {
        size_t cap = r->scratch_cap ? r->scratch_cap : 256;
        while (cap - r->scratch_len < n) {
            if (cap > SIZE_MAX / 2) return spk__nomem("a CSV field", SIZE_MAX);
            cap *= 2;
        }
        char *q = (char *)spk__realloc(&spk__default_allocator, r->scratch, r->scratch_cap, cap);
        if (!q) return spk__nomem("a CSV field", cap);
        r->scratch = q;
        r->scratch_cap = cap;
    }
    memcpy(r->scratch + r->scratch_len, p, n);
    r->scratch_len += n;
    return SPK_OK;
}

/* The length of the line break at data[p] (which is \r or \n). */
static size_t spk__csv_eol_len(const char *data, size_t p, size_t end) {
    return data[p] == '\r' && p + 1 < end && data[p + 1] == '\n' ? 2 : 1;
}

/* A quoted field from its opening quote at f->start; leaves r->pos on the
 * delimiter or line break after it (or at the end). */
static spk_status spk__csv_read_quoted(spk__csv_reader *r, spk__csv_tok *f) {
    const unsigned char *cls = r->d->cls;
    const char *data = r->data;
    size_t end = r->end, q = f->start + 1, seg = q, at = r->scratch_len;
    bool copied = false;
    spk_status st;
    for (;;) {
        while (q < end && !(cls[(unsigned char)data[q]] & (SPK__CSV_QUOTE | SPK__CSV_ESCAPE | SPK__CSV_EOL))) q++;
        if (q >= end) break; /* open at the end of the input */
        unsigned char c = (unsigned char)data[q];
        unsigned k = cls[c];
        if (k & SPK__CSV_QUOTE) { /* before the escape: an escape equal to the quote doubles it */
            if (q + 1 < end && data[q + 1] == data[q]) {
                if ((st = spk__csv_scratch_put(r, data + seg, q + 1 - seg)) != SPK_OK) return st;
                copied = true;
                q += 2;
                seg = q;
                continue;
            }
            if (copied) {
                if ((st = spk__csv_scratch_put(r, data + seg, q - seg)) != SPK_OK) return st;
                f->text = NULL;
                f->scratch_at = at;
                f->len = r->scratch_len - at;
            } else {
                f->text = data + f->start + 1;
                f->len = q - f->start - 1;
            }
            q++;
            f->raw_len = q - f->start;
            while (q < end && (cls[(unsigned char)data[q]] & SPK__CSV_SPACE)) q++;
            if (q < end && !(cls[(unsigned char)data[q]] & (SPK__CSV_DELIM | SPK__CSV_EOL))) {
                f->problem = SPK__CSV_AFTER_QUOTE;
                f->problem_at = q;
                f->problem_line = r->line;
                f->problem_line_start = r->line_start;
                while (q < end && !(cls[(unsigned char)data[q]] & (SPK__CSV_DELIM | SPK__CSV_EOL))) q++;
            }
            r->pos = q;
            return SPK_OK;
        }
        if (k & SPK__CSV_EOL) {
            if (!r->d->multiline) break; /* the line ends the record, and the quote is open */
            q += spk__csv_eol_len(data, q, end);
            r->line++;
            r->line_start = q;
            continue;
        }
        /* the escape: the next character is text, whatever it is */
        if (q + 1 >= end) {
            q = end;
            break;
        }
        size_t lit = q + 1, lit_end = q + 2;
        bool eol = (cls[(unsigned char)data[lit]] & SPK__CSV_EOL) != 0;
        if (eol && !r->d->multiline) {
            q = lit;
            break;
        }
        if (eol) {
            lit_end = lit + spk__csv_eol_len(data, lit, end);
            r->line++;
            r->line_start = lit_end;
        }
        if ((st = spk__csv_scratch_put(r, data + seg, q - seg)) != SPK_OK) return st;
        if ((st = spk__csv_scratch_put(r, data + lit, lit_end - lit)) != SPK_OK) return st;
        copied = true;
        q = lit_end;
        seg = q;
    }
    f->problem = SPK__CSV_UNTERMINATED;
    f->problem_at = f->start;
    f->problem_line = f->line;
    f->problem_line_start = f->line_start;
    f->text = data + f->start;
    f->len = 0;
    f->raw_len = q - f->start;
    r->pos = q;
    return SPK_OK;
}

/* The first delimiter or line break in data[q, end), or end. Eight bytes
 * at a time where the compiler offers a count of trailing zeros (a
 * little-endian word's first matching byte is its lowest). */
static size_t spk__csv_scan_plain(const spk__csv_dialect *d, const char *data, size_t q, size_t end) {
#if (defined(__GNUC__) || defined(__clang__)) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    const uint64_t delim = ones * (unsigned char)d->delimiter, lf = ones * '\n', cr = ones * '\r';
    while (end - q >= 8) {
        uint64_t w, a, b, c;
        memcpy(&w, data + q, 8);
        a = w ^ delim;
        b = w ^ lf;
        c = w ^ cr;
        uint64_t hit = (((a - ones) & ~a) | ((b - ones) & ~b) | ((c - ones) & ~c)) & highs;
        if (hit) return q + ((size_t)__builtin_ctzll(hit) >> 3);
        q += 8;
    }
#endif
    while (q < end && !(d->cls[(unsigned char)data[q]] & (SPK__CSV_DELIM | SPK__CSV_EOL))) q++;
    return q;
}

#if (defined(__GNUC__) || defined(__clang__)) && defined(__SSE2__)
#include <immintrin.h> /* SSE2, and AVX2 or AVX-512 where the target has them */
#define SPK__CSV_SSE2 1
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && defined(__AVX512CD__) && \
    defined(__AVX512VBMI2__)
/* 64-byte compares into masks, byte compression, 64-bit lane products (Ice Lake, Zen 4 and later) */
#define SPK__CSV_AVX512 1
#endif
#elif (defined(__GNUC__) || defined(__clang__)) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SPK__CSV_SWAR 1
/* The high bit of each byte of w equal to the byte in `pattern` (repeated). */
static uint64_t spk__csv_eq_bytes(uint64_t w, uint64_t pattern) {
    const uint64_t low7 = 0x7f7f7f7f7f7f7f7full;
    uint64_t x = w ^ pattern;
    return ~(((x & low7) + low7) | x | low7);
}
#endif

/* Splits a record that holds no quote character at data[p]: the end of
 * each field (its delimiter, or the record's end) into ends[], at most cap
 * of them. Returns how many, with *record_end where the record's line
 * ends, or 0 when the record has a quote or more than cap fields (the
 * general reader takes it then). */
static size_t spk__csv_split_plain(const spk__csv_dialect *d, const char *data, size_t p, size_t end, size_t *ends,
                                   size_t cap, size_t *record_end) {
    size_t n = 0, q = p;
#if defined(SPK__CSV_SSE2) && defined(__AVX2__)
    const __m256i delim32 = _mm256_set1_epi8(d->delimiter), quote32 = _mm256_set1_epi8(d->quote);
    const __m256i lf32 = _mm256_set1_epi8('\n'), cr32 = _mm256_set1_epi8('\r');
    for (; end - q >= 32; q += 32) {
        __m256i w = _mm256_loadu_si256((const __m256i *)(const void *)(data + q));
        unsigned delims = (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(w, delim32));
        unsigned eols =
            (unsigned)_mm256_movemask_epi8(_mm256_or_si256(_mm256_cmpeq_epi8(w, lf32), _mm256_cmpeq_epi8(w, cr32)));
        unsigned quotes = (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(w, quote32));
        unsigned before = eols ? (eols & (0u - eols)) - 1 : 0xffffffffu;
        if (quotes & before) return 0;
        for (delims &= before; delims; delims &= delims - 1) {
            if (n == cap) return 0;
            ends[n++] = q + (size_t)__builtin_ctz(delims);
        }
        if (eols) {
            if (n == cap) return 0;
            *record_end = ends[n++] = q + (size_t)__builtin_ctz(eols);
            return n;
        }
    }
#endif
#ifdef SPK__CSV_SSE2
    const __m128i delim = _mm_set1_epi8(d->delimiter), quote = _mm_set1_epi8(d->quote);
    const __m128i lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
    for (; end - q >= 16; q += 16) {
        __m128i w = _mm_loadu_si128((const __m128i *)(const void *)(data + q));
        unsigned delims = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(w, delim));
        unsigned eols = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(w, lf), _mm_cmpeq_epi8(w, cr)));
        unsigned quotes = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(w, quote));
        unsigned before = eols ? (eols & (0u - eols)) - 1 : 0xffffu; /* the bytes before the line break */
        if (quotes & before) return 0;
        for (delims &= before; delims; delims &= delims - 1) {
            if (n == cap) return 0;
            ends[n++] = q + (size_t)__builtin_ctz(delims);
        }
        if (eols) {
            if (n == cap) return 0;
            *record_end = ends[n++] = q + (size_t)__builtin_ctz(eols);
            return n;
        }
    }
#elif defined(SPK__CSV_SWAR)
    const uint64_t ones = 0x0101010101010101ull;
    const uint64_t delim = ones * (unsigned char)d->delimiter, quote = ones * (unsigned char)d->quote;
    const uint64_t lf = ones * '\n', cr = ones * '\r';
    for (; end - q >= 8; q += 8) {
        uint64_t w;
        memcpy(&w, data + q, 8);
        uint64_t hits = spk__csv_eq_bytes(w, delim) | spk__csv_eq_bytes(w, lf) | spk__csv_eq_bytes(w, cr) |
                        spk__csv_eq_bytes(w, quote);
        for (; hits; hits &= hits - 1) {
            size_t at = q + ((size_t)__builtin_ctzll(hits) >> 3);
            unsigned k = d->cls[(unsigned char)data[at]];
            if (k & SPK__CSV_QUOTE) return 0;
            if (n == cap) return 0;
            ends[n++] = at;
            if (k & SPK__CSV_EOL) {
                *record_end = at;
                return n;
            }
        }
    }
#endif
    for (; q < end; q++) {
        unsigned k = d->cls[(unsigned char)data[q]];
        if (!(k & (SPK__CSV_DELIM | SPK__CSV_EOL | SPK__CSV_QUOTE))) continue;
        if ((k & SPK__CSV_QUOTE) || n == cap) return 0;
        ends[n++] = q;
        if (k & SPK__CSV_EOL) {
            *record_end = q;
            return n;
        }
    }
    if (n == cap) return 0;
    ends[n++] = end;
    *record_end = end;
    return n;
}

/* Reads the field's text at r->pos (a leading space trimmed first when
 * asked); r->pos is left on what follows it: a delimiter, a line break or
 * the end. */
static spk_status spk__csv_read_content(spk__csv_reader *r, spk__csv_tok *f) {
    const unsigned char *cls = r->d->cls;
    const char *data = r->data;
    size_t p = r->pos, end = r->end;
    if (r->d->trim_leading)
        while (p < end && (cls[(unsigned char)data[p]] & SPK__CSV_SPACE)) p++;
    f->start = p;
    f->line = r->line;
    f->line_start = r->line_start;
    f->problem = SPK__CSV_FIELD_OK;
    f->scratch_at = SPK__CSV_IN_DATA;
    if (p < end && (cls[(unsigned char)data[p]] & SPK__CSV_QUOTE)) {
        f->quoted = true;
        return spk__csv_read_quoted(r, f);
    }
    f->quoted = false;
    size_t q = spk__csv_scan_plain(r->d, data, p, end), e = q;
    if (r->d->trim_trailing)
        while (e > p && (cls[(unsigned char)data[e - 1]] & SPK__CSV_SPACE)) e--;
    f->text = data + p;
    f->len = f->raw_len = e - p;
    r->pos = q;
    return SPK_OK;
}

/* Moves past what follows a field: a delimiter (false: more fields follow)
 * or the record's end and its line break (true). */
static bool spk__csv_field_end(spk__csv_reader *r) {
    size_t p = r->pos;
    if (p < r->end && (r->d->cls[(unsigned char)r->data[p]] & SPK__CSV_DELIM)) {
        r->pos = p + 1;
        return false;
    }
    r->record_end = p;
    r->end_line = r->line;
    r->end_line_start = r->line_start;
    if (p < r->end) {
        p += spk__csv_eol_len(r->data, p, r->end);
        r->line++;
        r->line_start = p;
    }
    r->pos = p;
    return true;
}

/* Reads the field at r->pos, and the delimiter or line break after it. */
static spk_status spk__csv_read_field(spk__csv_reader *r, spk__csv_tok *f) {
    spk_status st = spk__csv_read_content(r, f);
    if (st != SPK_OK) return st;
    f->last = spk__csv_field_end(r);
    return SPK_OK;
}

/* Skips lines of only spaces; false at the end of the input. */
static bool spk__csv_skip_blank(spk__csv_reader *r) {
    const unsigned char *cls = r->d->cls;
    const char *data = r->data;
    size_t p = r->pos;
    for (;;) {
        size_t q = p;
        while (q < r->end && (cls[(unsigned char)data[q]] & SPK__CSV_SPACE)) q++;
        if (q >= r->end) {
            r->pos = r->end;
            return false;
        }
        if (!(cls[(unsigned char)data[q]] & SPK__CSV_EOL)) {
            r->pos = p;
            return true;
        }
        q += spk__csv_eol_len(data, q, r->end);
        r->line++;
        r->line_start = q;
        p = q;
    }
}

/* Moves past one record. */
static spk_status spk__csv_skip_record(spk__csv_reader *r) {
    spk__csv_tok f;
    do {
        spk_status st = spk__csv_read_field(r, &f);
        if (st != SPK_OK) return st;
    } while (!f.last);
    return SPK_OK;
}

static const char *spk__csv_text(const spk__csv_reader *r, const spk__csv_tok *f) {
    return f->text ? f->text : r->scratch + f->scratch_at;
}

/* NULL: an unquoted empty field, or one written as null_value. */
static bool spk__csv_is_null(const spk__csv_dialect *d, const spk__csv_reader *r, const spk__csv_tok *f) {
    if (!f->quoted && f->len == 0) return true;
    return f->raw_len == d->null_len && memcmp(r->data + f->start, d->null_value, d->null_len) == 0;
}

/* ---------------------------------------------------------------- values */

/* [-]digits, at most 18 of them. */
static bool spk__csv_fast_int(const char *s, size_t n, int64_t *out) {
    size_t i = s[0] == '-';
    if (i == n || n - i > 18) return false;
    uint64_t v = 0;
    for (; i < n; i++) {
        unsigned dgt = (unsigned)((unsigned char)s[i] - '0');
        if (dgt > 9) return false;
        v = v * 10 + dgt;
    }
    *out = s[0] == '-' ? -(int64_t)v : (int64_t)v;
    return true;
}

/* [-]digits[.digits] with no more fraction digits than the scale (no rounding). */
static bool spk__csv_fast_decimal(const char *s, size_t n, int precision, int scale, int64_t *out) {
    size_t i = s[0] == '-';
    bool neg = i == 1;
    uint64_t v = 0;
    int int_digits = 0, frac = 0;
    for (; i < n; i++, int_digits++) {
        unsigned dgt = (unsigned)((unsigned char)s[i] - '0');
        if (dgt > 9) break;
        v = v * 10 + dgt;
        if (int_digits == 18) return false;
    }
    if (int_digits == 0 || int_digits + scale > 18) return false;
    if (i < n) {
        if (s[i] != '.') return false;
        for (i++; i < n; i++, frac++) {
            unsigned dgt = (unsigned)((unsigned char)s[i] - '0');
            if (dgt > 9 || frac == scale) return false;
            v = v * 10 + dgt;
        }
        if (frac == 0) return false;
    }
    for (; frac < scale; frac++) v *= 10;
    if (v >= (uint64_t)spk__pow10[precision]) return false;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

/* [-]digits[.digits] with at most 15 digits: exact as a quotient of two exact doubles. */
static bool spk__csv_fast_double(const char *s, size_t n, double *out) {
    static const double pow10[16] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    size_t i = s[0] == '-';
    uint64_t v = 0;
    int digits = 0, frac = -1;
    for (; i < n; i++) {
        unsigned dgt = (unsigned)((unsigned char)s[i] - '0');
        if (dgt <= 9) {
            v = v * 10 + dgt;
            digits++;
            if (frac >= 0) frac++;
        } else if (s[i] == '.' && frac < 0) {
            frac = 0;
        } else {
            return false;
        }
    }
    if (digits == 0 || digits > 15) return false;
    double d = (double)v;
    if (frac > 0) d /= pow10[frac];
    *out = s[0] == '-' ? -d : d;
    return true;
}

static int spk__csv_digits2(const char *s) {
    unsigned a = (unsigned)((unsigned char)s[0] - '0'), b = (unsigned)((unsigned char)s[1] - '0');
    return a <= 9 && b <= 9 ? (int)(a * 10 + b) : -1;
}

/* yyyy-mm-dd (years 0001-9999 here; spk_date_from_ymd's arithmetic, without its floors) */
static bool spk__csv_fast_date(const char *s, size_t n, int32_t *out) {
    static const unsigned char month_days[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (n < 10 || s[4] != '-' || s[7] != '-') return false;
    int hi = spk__csv_digits2(s), lo = spk__csv_digits2(s + 2);
    int m = spk__csv_digits2(s + 5), d = spk__csv_digits2(s + 8);
    int y = hi * 100 + lo;
    if (hi < 0 || lo < 0 || d < 1 || m < 1 || m > 12 || d > month_days[m] || y == 0) return false;
    if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return false;
    int ym = y - (m <= 2), era = ym / 400, year_of_era = ym - era * 400;
    int day_of_year = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    *out = era * 146097 + year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year - 719468;
    return true;
}

/* yyyy-mm-dd[ T]hh:mm:ss[.f{1,6}] */
static bool spk__csv_fast_timestamp(const char *s, size_t n, int64_t *out) {
    int32_t days;
    if (n < 19 || n == 20 || n > 26 || (s[10] != ' ' && s[10] != 'T') || s[13] != ':' || s[16] != ':' ||
        !spk__csv_fast_date(s, 10, &days))
        return false;
    int h = spk__csv_digits2(s + 11), mi = spk__csv_digits2(s + 14), sec = spk__csv_digits2(s + 17);
    if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) return false;
    int64_t micros = 0;
    if (n > 19) {
        if (s[19] != '.') return false;
        for (size_t i = 20; i < 26; i++) {
            unsigned dgt = 0;
            if (i < n && (dgt = (unsigned)((unsigned char)s[i] - '0')) > 9) return false;
            micros = micros * 10 + dgt;
        }
    }
    *out = (int64_t)days * SPK__MICROS_PER_DAY + ((int64_t)h * 3600 + mi * 60 + sec) * SPK__MICROS_PER_SECOND + micros;
    return true;
}

/* Stores a field's text as a value of type t (not STRING) in its
 * column's bytes at dst, as the row store lays them out; false when
 * spk_value_parse would refuse the text. The commonest types (all of
 * TPC-H's) are parsed in line; spk__csv_store_other has the rest. */
static bool spk__csv_store_other(spk_type t, const char *s, size_t n, unsigned char *dst);
static inline bool spk__csv_store(spk_type t, const char *s, size_t n, unsigned char *dst) {
    int64_t i64;
    int32_t i32;
    if (n) switch ((spk_type_id)t.id) {
        case SPK_TYPE_INT64:
            if (!spk__csv_fast_int(s, n, &i64)) break;
            memcpy(dst, &i64, 8);
            return true;
        case SPK_TYPE_DECIMAL:
            if (!spk__csv_fast_decimal(s, n, t.precision, t.scale, &i64)) break;
            memcpy(dst, &i64, 8);
            return true;
        case SPK_TYPE_DATE:
            if (n != 10 || !spk__csv_fast_date(s, n, &i32)) break;
            memcpy(dst, &i32, 4);
            return true;
        default: break;
        }
    return spk__csv_store_other(t, s, n, dst);
}

/* ---- word-at-a-time parsers for fields whose end is known, with at least
 * SPK__CSV_ROOM bytes readable from their start (the bytes past the field
 * are read and ignored). They accept the fast parsers' forms, and give
 * the same values; whatever they refuse goes to spk__csv_store. */
#define SPK__CSV_ROOM 40
#if (defined(__GNUC__) || defined(__clang__)) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SPK__CSV_WORDS 1
/* The value of the 8 digits of x, one a byte (each 0-9), the first in the low byte. */
static inline uint64_t spk__csv_eight_digits(uint64_t x) {
    x = (x * (10 * 256 + 1)) >> 8;                               /* each 16 bits: 2 digits' value */
    x = ((x & 0x00ff00ff00ff00ffull) * (100 * 65536 + 1)) >> 16; /* each 32 bits: 4 digits' */
    return ((x & 0x0000ffff0000ffffull) * (10000 * 4294967296ull + 1)) >> 32;
}

/* s[0, n), 1 <= n <= 8, as digits: the value's digits one a byte, n of
 * them at the high end and zeros below (so they read as leading zeros);
 * false when a byte is not a digit. */
static inline bool spk__csv_digit_word(const char *s, size_t n, uint64_t *x) {
    uint64_t w;
    memcpy(&w, s, 8);
    /* '0' off each byte; a byte below '0' borrows only from the bytes after it, which are flagged or dropped */
    uint64_t d = (w - 0x3030303030303030ull) << (8 * (8 - n));
    *x = d;
    return ((d | (d + 0x7676767676767676ull)) & 0x8080808080808080ull) == 0;
}

/* s[0, n), 1 <= n <= 16, all digits: their value. */
static inline bool spk__csv_word_uint(const char *s, size_t n, uint64_t *out) {
    uint64_t hi, lo;
    if (n <= 8) {
        if (!spk__csv_digit_word(s, n, &lo)) return false;
        *out = spk__csv_eight_digits(lo);
        return true;
    }
    if (!spk__csv_digit_word(s, n - 8, &hi) || !spk__csv_digit_word(s + n - 8, 8, &lo)) return false;
    *out = spk__csv_eight_digits(hi) * 100000000u + spk__csv_eight_digits(lo);
    return true;
}

/* [-]digits, at most 16 of them, as spk__csv_fast_int reads them. */
static inline bool spk__csv_word_int(const char *s, size_t n, int64_t *out) {
    bool neg = s[0] == '-';
    uint64_t v;
    if (n - neg < 1 || n - neg > 16 || !spk__csv_word_uint(s + neg, n - neg, &v)) return false;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

/* digits[.digits] of more than 8 bytes, at most 16 digits each side (as
 * spk__csv_word_decimal, which has taken the sign). */
static bool spk__csv_word_decimal_long(const char *s, size_t n, int precision, int scale, bool neg, int64_t *out) {
    size_t whole = 0;
    while (whole < n && s[whole] != '.') whole++;
    uint64_t v, frac = 0;
    size_t frac_digits = whole < n ? n - whole - 1 : 0;
    if (whole < 1 || whole > 16 || whole + (size_t)scale > 18 || frac_digits > (size_t)scale ||
        (whole < n && frac_digits == 0) || !spk__csv_word_uint(s, whole, &v) ||
        (frac_digits && !spk__csv_word_uint(s + whole + 1, frac_digits, &frac)))
        return false;
    v = v * (uint64_t)spk__pow10[scale] + frac * (uint64_t)spk__pow10[(size_t)scale - frac_digits];
    if (v >= (uint64_t)spk__pow10[precision]) return false;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

/* [-]digits[.digits], at most 16 digits each side, as spk__csv_fast_decimal
 * reads it. Up to 8 bytes (after the sign) in one word: the point found
 * in it and taken out, and the digits either side converted at once. */
static SPK__ALWAYS_INLINE bool spk__csv_word_decimal(const char *s, size_t n, int precision, int scale,
                                                      int64_t *out) {
    bool neg = s[0] == '-';
    s += neg;
    n -= neg;
    if (n - 1 >= 8) return spk__csv_word_decimal_long(s, n, precision, scale, neg, out);
    uint64_t w, x, digits;
    memcpy(&w, s, 8);
    x = w ^ 0x2e2e2e2e2e2e2e2eull; /* a point: a zero byte, flagged exactly */
    uint64_t points = ~(((x & 0x7f7f7f7f7f7f7f7full) + 0x7f7f7f7f7f7f7f7full) | x | 0x7f7f7f7f7f7f7f7full);
    size_t whole = points ? (size_t)__builtin_ctzll(points) >> 3 : 8, ndigits = n, frac_digits = 0;
    if (whole >= n) {
        whole = n;
    } else { /* the digits after the point moved down over it */
        if (whole == 0 || whole == n - 1) return false;
        w = (w & (((uint64_t)1 << (8 * whole)) - 1)) | ((w >> (8 * whole + 8)) << (8 * whole));
        ndigits = n - 1;
        frac_digits = n - whole - 1;
    }
    if (whole + (size_t)scale > 18 || frac_digits > (size_t)scale ||
        !spk__csv_digit_word((const char *)&w, ndigits, &digits))
        return false;
    x = spk__csv_eight_digits(digits) * (uint64_t)spk__pow10[(size_t)scale - frac_digits];
    if (x >= (uint64_t)spk__pow10[precision]) return false;
    *out = neg ? -(int64_t)x : (int64_t)x;
    return true;
}

/* yyyy-mm-dd: its digits checked as one word, and in years 1901-2099,
 * where every fourth year is a leap year and no other, the days counted
 * without the calendar's 100- and 400-year rules. */
static inline bool spk__csv_word_date(const char *s, int32_t *out) {
    static const unsigned short before_month[2][13] = {{0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334},
                                                       {0, 0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335}};
    static const unsigned char month_days[2][13] = {{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31},
                                                    {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}};
    uint64_t w;
    memcpy(&w, s, 8);
    /* "yyyy-mm-" less "0000-00-": the digits' values and zeros for the dashes, all bytes 0-9 */
    uint64_t x = w - 0x2d30302d30303030ull;
    unsigned d0 = (unsigned)((unsigned char)s[8] - '0'), d1 = (unsigned)((unsigned char)s[9] - '0');
    if (((x | (x + 0x7676767676767676ull)) & 0x8080808080808080ull) || (x & 0xff0000ff00000000ull) || d0 > 9 || d1 > 9)
        return false;
    uint64_t pairs = x * 10 + (x >> 8); /* byte 0: the century, byte 2: the year in it, byte 5: the month */
    int y = (int)(pairs & 0xff) * 100 + (int)((pairs >> 16) & 0xff), m = (int)((pairs >> 40) & 0xff);
    int d = (int)(d0 * 10 + d1);
    if (y < 1901 || y > 2099) return spk__csv_fast_date(s, 10, out);
    int leap = (y & 3) == 0;
    if (m < 1 || m > 12 || d < 1 || d > month_days[leap][m]) return false;
    /* days from 1970-01-01 to January 1st of y: a leap day for each fourth year from 1972 (floored) */
    *out = 365 * (y - 1970) + ((y - 1901) >> 2) - 17 + before_month[leap][m] + d - 1;
    return true;
}
#endif

/* spk__csv_store for a field with SPK__CSV_ROOM bytes readable from s. */
static inline bool spk__csv_store_roomy(spk_type t, const char *s, size_t n, unsigned char *dst) {
#ifdef SPK__CSV_WORDS
    int64_t i64;
    int32_t i32;
    switch ((spk_type_id)t.id) {
    case SPK_TYPE_INT64:
        if (!spk__csv_word_int(s, n, &i64)) break;
        memcpy(dst, &i64, 8);
        return true;
    case SPK_TYPE_INT32:
        if (!spk__csv_word_int(s, n, &i64) || i64 < INT32_MIN || i64 > INT32_MAX) break;
        i32 = (int32_t)i64;
        memcpy(dst, &i32, 4);
        return true;
    case SPK_TYPE_DECIMAL:
        if (!spk__csv_word_decimal(s, n, t.precision, t.scale, &i64)) break;
        memcpy(dst, &i64, 8);
        return true;
    case SPK_TYPE_DATE:
        if (n != 10 || !spk__csv_word_date(s, &i32)) break;
        memcpy(dst, &i32, 4);
        return true;
    default: break;
    }
#endif
    return spk__csv_store(t, s, n, dst);
}

static bool spk__csv_store_slow(spk_type t, const char *s, size_t n, unsigned char *dst);
static bool spk__csv_store_other(spk_type t, const char *s, size_t n, unsigned char *dst) {
    int64_t i64;
    int32_t i32;
    double f64;
    if (n) switch ((spk_type_id)t.id) {
        case SPK_TYPE_INT32:
            if (!spk__csv_fast_int(s, n, &i64)) break;
            if (i64 < INT32_MIN || i64 > INT32_MAX) return false;
            i32 = (int32_t)i64;
            memcpy(dst, &i32, 4);
            return true;
        case SPK_TYPE_DOUBLE:
            if (!spk__csv_fast_double(s, n, &f64)) break;
            memcpy(dst, &f64, 8);
            return true;
        case SPK_TYPE_TIMESTAMP:
            if (!spk__csv_fast_timestamp(s, n, &i64)) break;
            memcpy(dst, &i64, 8);
            return true;
        default: break; /* the fast forms of the others failed above, or there are none */
        }
    return spk__csv_store_slow(t, s, n, dst);
}

/* The forms the fast parsers leave (signs, spaces, exponents, other
 * years, booleans ...), through spk_value_parse's own parser. */
static bool spk__csv_store_slow(spk_type t, const char *s, size_t n, unsigned char *dst) {
    spk_value v;
    if (spk__parse_value(t, s, n, false, &v) != SPK__PARSED) return false;
    switch ((spk_type_id)t.id) {
    case SPK_TYPE_BOOLEAN: *dst = v.as.b; break;
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE: memcpy(dst, &v.as.i32, 4); break;
    case SPK_TYPE_INT64:
    case SPK_TYPE_DECIMAL:
    case SPK_TYPE_TIMESTAMP: memcpy(dst, &v.as.i64, 8); break;
    case SPK_TYPE_DOUBLE: memcpy(dst, &v.as.f64, 8); break;
    case SPK_TYPE_NULL:
    case SPK_TYPE_STRING:
    case SPK_TYPE_COUNT: return false;
    }
    return true;
}

/* ---------------------------------------------------------------- a read */

/* Inference: the types every non-NULL sample of a column parses as, one
 * bit each, in the order preferred. */
static const spk_type_id spk__csv_infer_order[6] = {SPK_TYPE_INT32, SPK_TYPE_INT64, SPK_TYPE_DOUBLE,
                                                     SPK_TYPE_BOOLEAN, SPK_TYPE_DATE, SPK_TYPE_TIMESTAMP};
#define SPK__CSV_INFER_ALL 63u
#define SPK__CSV_INFER_SEEN 64u /* a non-NULL sample was seen */

typedef struct spk__csv_slice {
    const char *data;  /* its bytes, when not the job's (a block of a streamed file) */
    size_t begin, end;
    spk_table *table;
    size_t lines;      /* line breaks in the slice, once parsed */
    spk_status status; /* the slice's failure */
    bool positioned;   /* the failure is at line error_line of the slice (else: no position) */
    size_t error_line;
    char *error;       /* its message (after "input:line:"); default allocator, strlen + 1 bytes */
} spk__csv_slice;

typedef struct spk__csv_job {
    spk__csv_dialect d;
    const char *data, *name;
    const spk_allocator *alloc; /* the session's: the tables */
    spk_schema *schema;
    int ncols, nfields;         /* columns, and the fields a record should have (the corrupt column takes none) */
    int *field_col;             /* field k -> its column */
    int *string_cols, nstring;  /* the STRING columns, in order */
    spk_type *types;            /* per column */
    int corrupt;                /* the corrupt-record column, or -1 */
    spk_read_mode mode;
    bool blank_is_record;       /* one field a record: a blank line is a record (holding NULL) */
    spk__csv_slice *slices;
    size_t nslices, slices_cap;
    unsigned *masks;            /* inference: nslices * ncols */
    struct spk__csv_stream *stream; /* a file read a block a task (spk__csv_block_task), or NULL */
} spk__csv_job;

static const char *spk__csv_slice_data(const spk__csv_job *job, const spk__csv_slice *sl) {
    return sl->data ? sl->data : job->data;
}

static void spk__csv_job_free(spk__csv_job *job) {
    const spk_allocator *a = &spk__default_allocator;
    size_t ncols = (size_t)(job->ncols ? job->ncols : 1); /* the per-column arrays hold at least one */
    for (size_t i = 0; i < job->nslices; i++) {
        spk_table_free(job->slices[i].table);
        if (job->slices[i].error) spk__free(a, job->slices[i].error, strlen(job->slices[i].error) + 1);
    }
    if (job->slices) spk__free(a, job->slices, job->slices_cap * sizeof *job->slices);
    if (job->masks) spk__free(a, job->masks, job->nslices * (size_t)job->ncols * sizeof *job->masks);
    if (job->field_col) spk__free(a, job->field_col, ncols * sizeof(int));
    if (job->string_cols) spk__free(a, job->string_cols, ncols * sizeof(int));
    if (job->types) spk__free(a, job->types, ncols * sizeof *job->types);
    spk_schema_release(job->schema);
    memset(job, 0, sizeof *job);
}

/* Records a slice's failure: the message given, or the thread's error. */
static spk_status spk__csv_slice_fail(spk__csv_slice *sl, spk_status st, bool positioned, size_t line,
                                      const char *msg) {
    sl->status = st;
    sl->positioned = positioned;
    sl->error_line = line;
    if (!msg) msg = spk_last_error();
    size_t n = strlen(msg) + 1;
    sl->error = (char *)spk__alloc(&spk__default_allocator, n);
    if (sl->error) memcpy(sl->error, msg, n);
    return st;
}

/* Fails slice sl with a malformed record (FAILFAST): "<column> (`name`): <what>",
 * the column of byte `at` in the line starting at line_start; col -1: no name. */
static spk_status spk__csv_malformed(const spk__csv_job *job, spk__csv_slice *sl, size_t line, size_t line_start,
                                     size_t at, int col, const char *fmt, ...) SPK__PRINTF(7, 8);
static spk_status spk__csv_malformed(const spk__csv_job *job, spk__csv_slice *sl, size_t line, size_t line_start,
                                     size_t at, int col, const char *fmt, ...) {
    char msg[SPK_ERROR_MAX];
    size_t column = spk__io_column(spk__csv_slice_data(job, sl), line_start, at);
    int n = col >= 0 ? snprintf(msg, sizeof msg, "%zu (`%s`): ", column, spk_schema_field(job->schema, col)->name)
                     : snprintf(msg, sizeof msg, "%zu: ", column);
    if (n >= 0 && (size_t)n < sizeof msg) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return spk__csv_slice_fail(sl, SPK_ERR_PARSE, true, line, msg);
}

/* A field that does not parse: its text shown, cut to 64 bytes at a character boundary. */
static spk_status spk__csv_bad_field(const spk__csv_job *job, spk__csv_slice *sl, const spk__csv_tok *f,
                                     const char *text, int col) {
    size_t shown = f->len;
    if (shown > 64) {
        shown = 64;
        while (shown > 0 && ((unsigned char)text[shown] & 0xc0) == 0x80) shown--;
    }
    return spk__csv_malformed(job, sl, f->line, f->line_start, f->start, col, "cannot parse '%.*s%s' as %s", (int)shown,
                              text, shown < f->len ? "..." : "", spk__type_sql(job->types[col]).s);
}

static spk_status spk__csv_field_problem(const spk__csv_job *job, spk__csv_slice *sl, const spk__csv_tok *f, int col) {
    if (f->problem == SPK__CSV_UNTERMINATED)
        return spk__csv_malformed(job, sl, f->problem_line, f->problem_line_start, f->problem_at, col,
                                  "unterminated quote");
    return spk__csv_malformed(job, sl, f->problem_line, f->problem_line_start, f->problem_at, col,
                              "unexpected '%c' after a closing quote", spk__csv_slice_data(job, sl)[f->problem_at]);
}

/* A row being read. Its fixed-width values go straight to their places in
 * the chunk, as row `index` (one past its rows, so a record dropped as
 * malformed leaves nothing behind); its null bitmap and strings are staged
 * (strings as views) until spk__csv_commit puts them in and counts the row:
 * a chunk's strings follow each other in column order (rowstore.c). */
typedef struct spk__csv_row {
    unsigned char *nulls;  /* the row's null bitmap, t->null_bytes (at least 8 bytes held, the rest 0) */
    const char **str;      /* per column: a string's bytes (NULL: in the reader's scratch at str_off) */
    size_t *str_len, *str_off;
    spk__chunk *chunk;     /* the chunk the targets' bases point into, at its rows and capacity then */
    unsigned char *chunk_rows;
    uint32_t chunk_cap;
    uint32_t index;
    bool any_null;         /* some bit of `nulls` is set */
    /* the null bits of columns 0-63, bit col (as spk__chunk.maybe_null holds them): kept beside the
     * bytes, as reading the bytes back as one word would wait on their byte-wide stores */
    uint64_t null_word;
    /* placed: the record's strings are copied into the chunk's heap as they are read (at heap + heap_at,
     * moving on), not staged in str[] (spk__csv_place_strings) */
    bool placed;
    char *heap;
    uint32_t heap_at;
} spk__csv_row;

/* The only writer of the row's null bits. */
static void spk__csv_set_null_bit(spk__csv_row *row, int col) {
    row->nulls[col >> 3] |= (unsigned char)(1u << (col & 7));
    if (col < 64) row->null_word |= (uint64_t)1 << col;
    row->any_null = true;
}

/* Where field k of a record goes. */
typedef struct spk__csv_target {
    int col;
    uint32_t size;       /* the column's field bytes */
    unsigned char *base; /* the column's values in the row's chunk (spk__csv_begin_row) */
    spk_type type;
} spk__csv_target;

static inline unsigned char *spk__csv_dest(const spk__csv_row *row, const spk__csv_target *to) {
    return to->base + (size_t)row->index * to->size;
}

/* The field is NULL: its bit set, and a fixed-width value 0, as other
 * writers leave it (a placed string: an empty one's end). */
static void spk__csv_set_null(spk__csv_row *row, const spk__csv_target *to) {
    spk__csv_set_null_bit(row, to->col);
    if (to->type.id != SPK_TYPE_STRING) memset(spk__csv_dest(row, to), 0, to->size);
    else if (row->placed) memcpy(spk__csv_dest(row, to), &row->heap_at, 4);
}

/* Makes room in the row's chunk for `bytes` of strings and has the
 * record's strings placed there as they are read: for a record of plain
 * fields, whose strings take fewer bytes than the record. Strings must be
 * placed in column order, so not with a corrupt-record column (filled
 * last). Near a chunk's 4 GiB of strings the record is staged instead, for
 * spk__csv_commit to move it to a fresh chunk. */
static spk_status spk__csv_place_strings(spk_table *t, spk__csv_row *row, size_t bytes) {
    spk__chunk *c = row->chunk;
    row->placed = false;
    if (bytes > (size_t)(c->heap_cap - c->heap_len)) {
        if (bytes > (size_t)(UINT32_MAX - c->heap_len)) return SPK_OK;
        spk_status st = spk__chunk_reserve(t, c, 0, bytes, false);
        if (st != SPK_OK) return st;
    }
    row->placed = true;
    row->heap = c->heap;
    row->heap_at = c->heap_len;
    return SPK_OK;
}

/* Makes room in t for one more row and points the targets at it. */
static spk_status spk__csv_begin_row(spk_table *t, spk__csv_row *row, spk__csv_target *targets, int ntargets) {
    spk__chunk *c = row->chunk;
    /* the common case in line: room left in the chunk the last row went to, still the table's last (and
     * private to this reader, so never shared), not moved or grown since */
    if (!c || c != t->chunks[t->nchunks - 1] || c->rows != row->chunk_rows || c->cap_rows != row->chunk_cap ||
        c->nrows >= c->cap_rows) {
        spk_status st = spk__reserve_row(t, 0, &c);
        if (st != SPK_OK) return st;
    }
    if (c != row->chunk || c->rows != row->chunk_rows || c->cap_rows != row->chunk_cap) {
        for (int k = 0; k < ntargets; k++) targets[k].base = spk__field_at(t, c, 0, targets[k].col);
        row->chunk = c;
        row->chunk_rows = c->rows;
        row->chunk_cap = c->cap_rows;
    }
    row->index = c->nrows;
    if (t->null_bytes <= 8) memcpy(row->nulls, &(uint64_t){0}, 8); /* no call for the usual few bytes */
    else memset(row->nulls, 0, t->null_bytes);
    row->any_null = false;
    row->null_word = 0;
    return SPK_OK;
}

static void spk__csv_finish_row(spk_table *t, spk__chunk *c, const spk__csv_row *row, uint32_t heap_at);

/* Appends the row begun by spk__csv_begin_row: its null bitmap, and its
 * strings copied into the chunk's heap (as spk__append_one writes a row,
 * without converting values that already have the column's type). */
static spk_status spk__csv_commit(spk_table *t, spk__csv_row *row, const int *string_cols, int nstring,
                                  const char *scratch) {
    spk__chunk *c = row->chunk;
    if (row->placed) {
        spk__csv_finish_row(t, c, row, row->heap_at);
        return SPK_OK;
    }
    size_t bytes = 0;
    for (int i = 0; i < nstring; i++)
        if (!spk__slot_is_null(row->nulls, string_cols[i])) bytes += row->str_len[string_cols[i]];
    spk_status st = SPK_OK;
    if (bytes > (size_t)(c->heap_cap - c->heap_len)) {
        if (bytes <= (size_t)(UINT32_MAX - c->heap_len)) {
            st = spk__chunk_reserve(t, c, 0, bytes, false); /* the heap grows; the row's values stay where they are */
        } else { /* past a chunk's 4 GiB of strings: the row moves to a fresh chunk */
            unsigned char *slot = (unsigned char *)spk__alloc(&spk__default_allocator, t->width);
            if (!slot) return spk__nomem("a CSV row", t->width);
            spk__chunk_get_slots(t, c, row->index, 1, slot);
            if ((st = spk__reserve_row(t, bytes, &c)) == SPK_OK) spk__chunk_put_slots(t, c, c->nrows, slot, 1);
            spk__free(&spk__default_allocator, slot, t->width);
            row->chunk = NULL; /* the targets are pointed at the new chunk by the next row */
            row->index = c->nrows;
        }
        if (st != SPK_OK) return st;
    }
    uint32_t heap_at = c->heap_len;
    for (int i = 0; i < nstring; i++) {
        int col = string_cols[i];
        size_t len = row->str_len[col];
        if (len && !spk__slot_is_null(row->nulls, col)) {
            spk__copy_bytes(c->heap + heap_at, row->str[col] ? row->str[col] : scratch + row->str_off[col], len);
            heap_at += (uint32_t)len;
        }
        memcpy(spk__field_at(t, c, row->index, col), &heap_at, 4);
    }
    spk__csv_finish_row(t, c, row, heap_at);
    return SPK_OK;
}

/* The row's null bitmap into chunk c, and the row counted, its strings ending at heap_at. */
static void spk__csv_finish_row(spk_table *t, spk__chunk *c, const spk__csv_row *row, uint32_t heap_at) {
    spk__copy_bytes((char *)spk__nulls_at(t, c, row->index), (const char *)row->nulls, t->null_bytes);
    if (row->any_null) {
        if (t->null_bytes <= 8) c->maybe_null[0] |= row->null_word;
        else spk__chunk_note_nulls(c, row->nulls, t->null_bytes);
    }
    c->heap_len = heap_at;
    c->nrows++;
    t->nrows++;
}

/* Stores one field's text (not NULL) in the row; false when it does not
 * parse as the column's type. A string in the scratch has text NULL. */
static bool spk__csv_put(spk__csv_row *row, const spk__csv_target *to, const char *text, size_t len, size_t scratch_at,
                         const char *scratch) {
    if (to->type.id == SPK_TYPE_STRING) {
        row->str[to->col] = text;
        row->str_off[to->col] = scratch_at;
        row->str_len[to->col] = len;
        return true;
    }
    if (spk__csv_store(to->type, text ? text : scratch + scratch_at, len, spk__csv_dest(row, to))) return true;
    spk__csv_set_null(row, to);
    return false;
}

/* A record with no quote character, split by spk__csv_split_plain into n
 * fields ending at ends[]; sets *bad when it is malformed. */
static spk_status spk__csv_plain_record(const spk__csv_job *job, spk__csv_slice *sl, spk__csv_reader *r,
                                        spk__csv_row *row, const spk__csv_target *targets, const size_t *ends, size_t n,
                                        size_t record_end, bool *bad) {
    const spk__csv_dialect *d = &job->d;
    const size_t nfields = (size_t)job->nfields, m = n < nfields ? n : nfields;
    const char *data = r->data;
    /* in locals: the values stored below are bytes, which may alias anything, so these would be loaded again */
    const bool trim_leading = d->trim_leading, trim_trailing = d->trim_trailing;
    const size_t null_len = d->null_len, roomy_below = r->end >= SPK__CSV_ROOM ? r->end - SPK__CSV_ROOM + 1 : 0;
    size_t s = r->pos;
    for (size_t k = 0; k < m; s = ends[k++] + 1) {
        size_t e = ends[k], b = s;
        if (trim_leading)
            while (b < e && (d->cls[(unsigned char)data[b]] & SPK__CSV_SPACE)) b++;
        if (trim_trailing)
            while (e > b && (d->cls[(unsigned char)data[e - 1]] & SPK__CSV_SPACE)) e--;
        const spk__csv_target *to = &targets[k];
        if (e == b || (e - b == null_len && memcmp(data + b, d->null_value, null_len) == 0)) {
            spk__csv_set_null(row, to);
        } else if (to->type.id == SPK_TYPE_STRING) {
            if (row->placed) {
                spk__copy_bytes(row->heap + row->heap_at, data + b, e - b);
                row->heap_at += (uint32_t)(e - b);
                memcpy(spk__csv_dest(row, to), &row->heap_at, 4);
            } else {
                row->str[to->col] = data + b;
                row->str_off[to->col] = SPK__CSV_IN_DATA;
                row->str_len[to->col] = e - b;
            }
        } else if (!(b < roomy_below ? spk__csv_store_roomy(to->type, data + b, e - b, spk__csv_dest(row, to))
                                    : spk__csv_store(to->type, data + b, e - b, spk__csv_dest(row, to)))) {
            spk__csv_set_null(row, to);
            *bad = true;
            if (job->mode == SPK_READ_FAILFAST) {
                spk__csv_tok f;
                memset(&f, 0, sizeof f);
                f.start = b;
                f.len = e - b;
                f.line = r->line;
                f.line_start = r->line_start;
                return spk__csv_bad_field(job, sl, &f, data + b, to->col);
            }
        }
    }
    if (n != nfields) {
        *bad = true;
        if (job->mode == SPK_READ_FAILFAST && n > nfields)
            return spk__csv_malformed(job, sl, r->line, r->line_start, nfields ? ends[nfields - 1] + 1 : r->pos, -1,
                                      "%zu fields, expected %zu", n, nfields);
        if (job->mode == SPK_READ_FAILFAST)
            return spk__csv_malformed(job, sl, r->line, r->line_start, record_end, targets[n].col,
                                      "%zu fields, expected %zu", n, nfields);
        for (size_t k = n; k < nfields; k++) spk__csv_set_null(row, &targets[k]);
    }
    r->pos = record_end;
    spk__csv_field_end(r);
    return SPK_OK;
}

/* A record of any shape, field by field; sets *bad when it is malformed. */
static spk_status spk__csv_general_record(const spk__csv_job *job, spk__csv_slice *sl, spk__csv_reader *r,
                                          spk__csv_row *row, const spk__csv_target *targets, bool *bad) {
    const size_t nfields = (size_t)job->nfields;
    size_t k = 0, extra_line = 0, extra_line_start = 0, extra_at = 0;
    bool last;
    spk__csv_tok f;
    do {
        spk_status st = spk__csv_read_content(r, &f);
        if (st != SPK_OK) return st;
        last = spk__csv_field_end(r);
        if (k < nfields) {
            const spk__csv_target *to = &targets[k];
            if (f.problem) {
                spk__csv_set_null(row, to);
                *bad = true;
                if (job->mode == SPK_READ_FAILFAST) return spk__csv_field_problem(job, sl, &f, to->col);
            } else if (spk__csv_is_null(&job->d, r, &f)) {
                spk__csv_set_null(row, to);
            } else if (!spk__csv_put(row, to, f.text, f.len, f.scratch_at, r->scratch)) {
                *bad = true;
                if (job->mode == SPK_READ_FAILFAST)
                    return spk__csv_bad_field(job, sl, &f, spk__csv_text(r, &f), to->col);
            }
        } else if (k == nfields) {
            *bad = true;
            extra_line = f.line;
            extra_line_start = f.line_start;
            extra_at = f.start;
        }
        k++;
    } while (!last);
    if (k != nfields) {
        *bad = true;
        if (job->mode == SPK_READ_FAILFAST && k > nfields)
            return spk__csv_malformed(job, sl, extra_line, extra_line_start, extra_at, -1, "%zu fields, expected %zu",
                                      k, nfields);
        if (job->mode == SPK_READ_FAILFAST)
            return spk__csv_malformed(job, sl, r->end_line, r->end_line_start, r->record_end, targets[k].col,
                                      "%zu fields, expected %zu", k, nfields);
        for (; k < nfields; k++) spk__csv_set_null(row, &targets[k]);
    }
    return SPK_OK;
}

/* ---------------------------------------------------------------- batches
 * Runs of plain records are parsed a column at a time: split first, a
 * batch of records at once, then each column's fields of the whole batch
 * in one loop, with one type switch a column and the column's values
 * written one after the other. A batch is written past its chunk's rows
 * and strings and counted only when every field parsed, so that a batch
 * with a field in error is given back, whole, to the record-at-a-time
 * path, which blames and places its records as it always does. */
#define SPK__CSV_BATCH 64
#define SPK__CSV_FLAT_SLACK 64 /* ends written past a batch's by the block splitter (at most 63) */

typedef struct spk__csv_batch {
    size_t *ends;      /* the records' field ends, nfields apart, then SPK__CSV_FLAT_SLACK to spare */
    size_t *starts;    /* each record's first byte */
    unsigned char **string_dst; /* per STRING column: its values in the batch's chunk (spk__csv_batch_strings) */
    size_t solo;       /* records the record path takes before the next batch (a batch gave them back) */
} spk__csv_batch;

/* Splits up to `limit` records at r->pos into the batch, one record at a
 * time: records with no quote and exactly nfields fields (so not a blank
 * line, unless a record is one field, when a blank line is a record) that
 * end before roomy_below, so that every field has SPK__CSV_ROOM bytes
 * after its start. Stops before the first other record; returns how many,
 * with *next where that starts. */
static size_t spk__csv_batch_split(const spk__csv_job *job, const spk__csv_reader *r, spk__csv_batch *b,
                                   size_t limit, size_t roomy_below, size_t *next) {
    const spk__csv_dialect *d = &job->d;
    const size_t nfields = (size_t)job->nfields;
    const char *data = r->data;
    size_t pos = r->pos, count = 0;
    while (count < limit && pos < roomy_below) {
        size_t record_end = 0;
        if (spk__csv_split_plain(d, data, pos, r->end, b->ends + count * nfields, nfields + 1, &record_end) !=
                nfields ||
            record_end >= roomy_below)
            break;
        b->starts[count++] = pos;
        pos = record_end + spk__csv_eol_len(data, record_end, r->end);
    }
    *next = pos;
    return count;
}

#ifdef SPK__CSV_SSE2
/* For the 64 bytes at p, a bit each: delimiters and line feeds (sep), line
 * feeds (lf), and quotes and carriage returns (odd). */
static inline void spk__csv_block_masks(const spk__csv_dialect *d, const char *p, uint64_t *sep, uint64_t *lf,
                                        uint64_t *odd) {
    uint64_t m[3] = {0, 0, 0};
#ifdef SPK__CSV_AVX512
    const __m512i w = _mm512_loadu_si512((const void *)p);
    m[1] = _mm512_cmpeq_epi8_mask(w, _mm512_set1_epi8('\n'));
    m[0] = m[1] | _mm512_cmpeq_epi8_mask(w, _mm512_set1_epi8(d->delimiter));
    m[2] = _mm512_cmpeq_epi8_mask(w, _mm512_set1_epi8(d->quote)) |
           _mm512_cmpeq_epi8_mask(w, _mm512_set1_epi8('\r'));
#elif defined(__AVX2__)
    const __m256i delim = _mm256_set1_epi8(d->delimiter), quote = _mm256_set1_epi8(d->quote);
    const __m256i lfs = _mm256_set1_epi8('\n'), crs = _mm256_set1_epi8('\r');
    for (int h = 0; h < 2; h++) {
        __m256i w = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32 * h));
        __m256i is_lf = _mm256_cmpeq_epi8(w, lfs);
        m[0] |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_or_si256(_mm256_cmpeq_epi8(w, delim), is_lf)) << (32 * h);
        m[1] |= (uint64_t)(uint32_t)_mm256_movemask_epi8(is_lf) << (32 * h);
        m[2] |= (uint64_t)(uint32_t)_mm256_movemask_epi8(
                    _mm256_or_si256(_mm256_cmpeq_epi8(w, quote), _mm256_cmpeq_epi8(w, crs)))
                << (32 * h);
    }
#else
    const __m128i delim = _mm_set1_epi8(d->delimiter), quote = _mm_set1_epi8(d->quote);
    const __m128i lfs = _mm_set1_epi8('\n'), crs = _mm_set1_epi8('\r');
    for (int h = 0; h < 4; h++) {
        __m128i w = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * h));
        __m128i is_lf = _mm_cmpeq_epi8(w, lfs);
        m[0] |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(w, delim), is_lf)) << (16 * h);
        m[1] |= (uint64_t)(uint32_t)_mm_movemask_epi8(is_lf) << (16 * h);
        m[2] |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(w, quote), _mm_cmpeq_epi8(w, crs)))
                << (16 * h);
    }
#endif
    *sep = m[0];
    *lf = m[1];
    *odd = m[2];
}

/* The offsets q + i of the cnt bits i set in sep, in order, at out, and
 * up to 16 whatever cnt is (so that how many mispredicts nothing): what
 * follows the last is overwritten, or ignored. */
static inline void spk__csv_block_positions(size_t *out, size_t q, uint64_t sep, size_t cnt) {
#ifdef SPK__CSV_AVX512
    /* each set bit's index as a byte, packed in order, then widened and stored 8 at a time */
    const __m512i byte_index = _mm512_set_epi64(0x3f3e3d3c3b3a3938, 0x3736353433323130, 0x2f2e2d2c2b2a2928,
                                                0x2726252423222120, 0x1f1e1d1c1b1a1918, 0x1716151413121110,
                                                0x0f0e0d0c0b0a0908, 0x0706050403020100);
    const __m512i base = _mm512_set1_epi64((long long)q);
    __m512i at = _mm512_maskz_compress_epi8(sep, byte_index);
    for (size_t j = 0; j < 16 || j < cnt; j += 8) {
        __m512i eight = _mm512_cvtepu8_epi64(_mm512_castsi512_si128(at));
        _mm512_storeu_si512((void *)(out + j), _mm512_add_epi64(base, eight));
        at = _mm512_alignr_epi64(_mm512_setzero_si512(), at, 1); /* the next 8 bytes down */
    }
#else
    for (int j = 0; j < 16; j++) {
        out[j] = q + (size_t)__builtin_ctzll(sep | ((uint64_t)1 << 63));
        sep &= sep - 1;
    }
    for (size_t j = 16; j < cnt; j++) {
        out[j] = q + (size_t)__builtin_ctzll(sep);
        sep &= sep - 1;
    }
#endif
}

/* Splits up to `limit` records at r->pos into the batch, 64 bytes at a
 * time: the position of every delimiter and line feed, in order, 16 a
 * block whatever the block holds (so that how many it holds mispredicts
 * nothing). Takes the lines before the first quote or carriage return,
 * and before roomy_below; returns how many, or 0 when not every one of
 * them has exactly nfields fields (spk__csv_batch_split sorts them out). */
static size_t spk__csv_batch_blocks(const spk__csv_job *job, const spk__csv_reader *r, spk__csv_batch *b,
                                    size_t limit, size_t roomy_below, size_t *next) {
    const size_t nfields = (size_t)job->nfields;
    const char *data = r->data;
    size_t q = r->pos, nsep = 0, nlf = 0;
    /* nsep stays within the room for a batch's ends, the slack taking a block's last 64 */
    while (nlf < limit && nsep <= SPK__CSV_BATCH * nfields && roomy_below >= 64 && q <= roomy_below - 64) {
        uint64_t sep, lf, odd;
        spk__csv_block_masks(&job->d, data + q, &sep, &lf, &odd);
        bool last = false;
        if (odd) { /* only what comes before it */
            uint64_t before = (odd & (0 - odd)) - 1;
            sep &= before;
            lf &= before;
            last = true;
        }
        size_t want = limit - nlf;
        if ((size_t)__builtin_popcountll(lf) >= want) { /* the batch ends at the want-th line feed */
            uint64_t x = lf;
            for (size_t j = 1; j < want; j++) x &= x - 1;
            uint64_t upto = ((x & (0 - x)) << 1) - 1; /* bit 63 set: all ones, as the shift drops it */
            sep &= upto;
            lf &= upto;
            last = true;
        }
        size_t *out = b->ends + nsep, cnt = (size_t)__builtin_popcountll(sep);
        spk__csv_block_positions(out, q, sep, cnt);
        nsep += cnt;
        nlf += (size_t)__builtin_popcountll(lf);
        q += 64;
        if (last) break;
    }
    /* nlf records: each must end with a line feed as field nfields, and as there are no others, then
     * each has exactly nfields fields */
    if (nlf == 0 || nsep < nlf * nfields) return 0;
    for (size_t i = 0; i < nlf; i++)
        if (data[b->ends[(i + 1) * nfields - 1]] != '\n') return 0;
    b->starts[0] = r->pos;
    for (size_t i = 1; i < nlf; i++) b->starts[i] = b->ends[i * nfields - 1] + 1;
    *next = b->ends[nlf * nfields - 1] + 1;
    return nlf;
}
#endif

#ifdef SPK__CSV_AVX512
#define SPK__V8(x) _mm512_set1_epi64((long long)(x))

/* Eight DECIMAL fields at s, n bytes each, as spk__csv_word_decimal reads
 * them when they have no sign and 8 bytes at most (and the scale is 7 at
 * most): their values, and a bit for each lane that parsed. With scale 0
 * and precision 18, eight INT or BIGINT fields of up to 8 digits. */
static inline __mmask8 spk__csv_decimal8(const char *data, __m512i s, __m512i n, int precision, int scale,
                                         __m512i *value) {
    static const int64_t pow10[8] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000};
    const __m512i zero = _mm512_setzero_si512(), n8 = _mm512_slli_epi64(n, 3);
    __m512i w = _mm512_i64gather_epi64(s, (const void *)data, 1);
    __mmask8 ok = _mm512_cmplt_epu64_mask(_mm512_sub_epi64(n, SPK__V8(1)), SPK__V8(8));
    /* the bits below a lane's first point: its digits before the point (all 64 bits when it has none) */
    __m512i points = _mm512_movm_epi8(_mm512_cmpeq_epi8_mask(w, _mm512_set1_epi8('.')));
    __m512i below = _mm512_sub_epi64(_mm512_and_si512(points, _mm512_sub_epi64(zero, points)), SPK__V8(1));
    __m512i whole8 = _mm512_sub_epi64(SPK__V8(64), _mm512_lzcnt_epi64(below)); /* 8 bits a digit before it */
    __mmask8 point = _mm512_cmplt_epu64_mask(whole8, n8);                      /* a point inside the field */
    ok &= (__mmask8)~(point & (_mm512_cmpeq_epi64_mask(whole8, zero) |
                               _mm512_cmpeq_epi64_mask(whole8, _mm512_sub_epi64(n8, SPK__V8(8)))));
    /* the digits after the point moved down over it; frac: how many they are */
    __m512i moved = _mm512_or_si512(_mm512_and_si512(w, below), _mm512_andnot_si512(below, _mm512_srli_epi64(w, 8)));
    w = _mm512_mask_blend_epi64(point, w, moved);
    __m512i frac = _mm512_maskz_srli_epi64(point, _mm512_sub_epi64(_mm512_sub_epi64(n8, whole8), SPK__V8(8)), 3);
    __m512i digits8 = _mm512_mask_sub_epi64(n8, point, n8, SPK__V8(8));
    ok &= _mm512_cmple_epu64_mask(frac, SPK__V8(scale));
    /* as spk__csv_digit_word and spk__csv_eight_digits, a lane each */
    __m512i d = _mm512_sllv_epi64(_mm512_sub_epi64(w, SPK__V8(0x3030303030303030)),
                                  _mm512_sub_epi64(SPK__V8(64), digits8));
    ok &= _mm512_testn_epi64_mask(_mm512_or_si512(d, _mm512_add_epi64(d, SPK__V8(0x7676767676767676))),
                                  SPK__V8(0x8080808080808080));
    d = _mm512_srli_epi64(_mm512_mullo_epi64(d, SPK__V8(10 * 256 + 1)), 8);
    d = _mm512_srli_epi64(
        _mm512_mullo_epi64(_mm512_and_si512(d, SPK__V8(0x00ff00ff00ff00ff)), SPK__V8(100 * 65536 + 1)), 16);
    d = _mm512_srli_epi64(
        _mm512_mullo_epi64(_mm512_and_si512(d, SPK__V8(0x0000ffff0000ffff)), SPK__V8(10000 * 4294967296ull + 1)), 32);
    __m512i scaled =
        _mm512_permutexvar_epi64(_mm512_sub_epi64(SPK__V8(scale), frac), _mm512_loadu_si512((const void *)pow10));
    d = _mm512_mullo_epi64(d, scaled);
    ok &= _mm512_cmplt_epu64_mask(d, SPK__V8(spk__pow10[precision]));
    *value = d;
    return ok;
}

/* Eight DATE fields at s, n bytes each, as spk__csv_word_date reads them
 * in years 1901-2099: their days, and a bit for each lane that parsed. */
static inline __mmask8 spk__csv_date8(const char *data, __m512i s, __m512i n, __m256i *days) {
    /* months 1-12 (0 and 13-15 unused): days in a common year, and days before them */
    static const int64_t month_days[16] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 0, 0, 0};
    static const int64_t before_month[16] = {0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 0, 0, 0};
    __m512i w = _mm512_i64gather_epi64(s, (const void *)data, 1);                            /* yyyy-mm- */
    __m512i dd = _mm512_srli_epi64(_mm512_i64gather_epi64(_mm512_add_epi64(s, SPK__V8(2)), (const void *)data, 1), 48);
    __mmask8 ok = _mm512_cmpeq_epi64_mask(n, SPK__V8(10));
    __m512i x = _mm512_sub_epi64(w, SPK__V8(0x2d30302d30303030));
    ok &= _mm512_testn_epi64_mask(_mm512_or_si512(x, _mm512_add_epi64(x, SPK__V8(0x7676767676767676))),
                                  SPK__V8(0x8080808080808080));
    ok &= _mm512_testn_epi64_mask(x, SPK__V8(0xff0000ff00000000));
    __m512i d0 = _mm512_sub_epi64(_mm512_and_si512(dd, SPK__V8(0xff)), SPK__V8('0'));
    __m512i d1 = _mm512_sub_epi64(_mm512_srli_epi64(dd, 8), SPK__V8('0'));
    ok &= _mm512_cmple_epu64_mask(d0, SPK__V8(9)) & _mm512_cmple_epu64_mask(d1, SPK__V8(9));
    __m512i pairs = _mm512_add_epi64(_mm512_mullo_epi64(x, SPK__V8(10)), _mm512_srli_epi64(x, 8));
    __m512i y = _mm512_add_epi64(_mm512_mullo_epi64(_mm512_and_si512(pairs, SPK__V8(0xff)), SPK__V8(100)),
                                 _mm512_and_si512(_mm512_srli_epi64(pairs, 16), SPK__V8(0xff)));
    __m512i m = _mm512_and_si512(_mm512_srli_epi64(pairs, 40), SPK__V8(0xff));
    __m512i d = _mm512_add_epi64(_mm512_mullo_epi64(d0, SPK__V8(10)), d1);
    ok &= _mm512_cmple_epu64_mask(_mm512_sub_epi64(y, SPK__V8(1901)), SPK__V8(2099 - 1901));
    ok &= _mm512_cmple_epu64_mask(_mm512_sub_epi64(m, SPK__V8(1)), SPK__V8(11));
    __mmask8 leap = _mm512_testn_epi64_mask(y, SPK__V8(3));
    __m512i lo = _mm512_loadu_si512((const void *)month_days), hi = _mm512_loadu_si512((const void *)(month_days + 8));
    __m512i most = _mm512_permutex2var_epi64(lo, m, hi);
    most = _mm512_mask_add_epi64(most, leap & _mm512_cmpeq_epi64_mask(m, SPK__V8(2)), most, SPK__V8(1));
    ok &= _mm512_cmple_epu64_mask(_mm512_sub_epi64(d, SPK__V8(1)), _mm512_sub_epi64(most, SPK__V8(1)));
    lo = _mm512_loadu_si512((const void *)before_month);
    hi = _mm512_loadu_si512((const void *)(before_month + 8));
    __m512i before = _mm512_permutex2var_epi64(lo, m, hi);
    before = _mm512_mask_add_epi64(before, leap & _mm512_cmpge_epu64_mask(m, SPK__V8(3)), before, SPK__V8(1));
    /* as spk__csv_word_date: 365 a year from 1970, a leap day each fourth year from 1972 */
    __m512i out = _mm512_add_epi64(_mm512_mullo_epi64(_mm512_sub_epi64(y, SPK__V8(1970)), SPK__V8(365)),
                                   _mm512_srli_epi64(_mm512_sub_epi64(y, SPK__V8(1901)), 2));
    out = _mm512_add_epi64(out, _mm512_add_epi64(before, _mm512_sub_epi64(d, SPK__V8(18))));
    *days = _mm512_cvtepi64_epi32(out);
    return ok;
}

/* Column k's fields (INT, BIGINT, DECIMAL with scale 7 at most, DATE) of the
 * batch's records, 8 at a time, into dst: a bit for each group of 8 left
 * to the column's loop (one with a field they refuse, and a last group
 * short of 8). */
static uint64_t spk__csv_batch_column8(const spk__csv_batch *b, const char *data, size_t count, size_t nfields,
                                       int k, spk_type type, unsigned char *dst) {
    const size_t groups = count / 8;
    uint64_t todo = count % 8 ? (uint64_t)1 << groups : 0;
    const __m512i rows = _mm512_mullo_epi64(_mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0), SPK__V8(nfields));
    for (size_t g = 0; g < groups; g++) {
        __m512i at = _mm512_add_epi64(rows, SPK__V8(g * 8 * nfields + (size_t)k)); /* field k's ends */
        __m512i end = _mm512_i64gather_epi64(at, (const void *)b->ends, 8), s;
        if (k) /* from the byte after field k - 1's end */
            s = _mm512_add_epi64(_mm512_i64gather_epi64(_mm512_sub_epi64(at, SPK__V8(1)), (const void *)b->ends, 8),
                                 SPK__V8(1));
        else
            s = _mm512_loadu_si512((const void *)(b->starts + 8 * g));
        __m512i n = _mm512_sub_epi64(end, s), values = _mm512_setzero_si512();
        __m256i days = _mm256_setzero_si256();
        bool wide = type.id != SPK_TYPE_INT32 && type.id != SPK_TYPE_DATE; /* 8 bytes a value, or 4 */
        __mmask8 ok = type.id == SPK_TYPE_DATE      ? spk__csv_date8(data, s, n, &days)
                      : type.id == SPK_TYPE_DECIMAL ? spk__csv_decimal8(data, s, n, type.precision, type.scale, &values)
                                                    : spk__csv_decimal8(data, s, n, 18, 0, &values);
        if (ok != 0xff) todo |= (uint64_t)1 << g;
        else if (wide) _mm512_storeu_si512((void *)(dst + 64 * g), values);
        else if (type.id == SPK_TYPE_DATE) _mm256_storeu_si256((__m256i *)(void *)(dst + 32 * g), days);
        else _mm256_storeu_si256((__m256i *)(void *)(dst + 32 * g), _mm512_cvtepi64_epi32(values));
    }
    return todo;
}
#undef SPK__V8
#endif

/* One loop over a batch column's fields: PARSE(s, n, dst) stores the
 * value of text s[0, n) (not NULL) at dst, or is false. A macro, so that
 * each type gets its own loop with its parser in line. */
#define SPK__CSV_BATCH_LOOP(PARSE)                                                                         \
    for (size_t i = 0; i < count; i++, dst += size, nulls += nb, before += before_step, end += nfields) {  \
        if (!((todo >> (i >> 3)) & 1)) continue; /* parsed 8 at a time */                                 \
        size_t s = *before + skip, n = *end - s;                                                           \
        if (n == 0 || (n == null_len && memcmp(data + s, null_value, n) == 0)) {                          \
            *nulls |= bit;                                                                                 \
            *any_null = true;                                                                              \
            memset(dst, 0, size);                                                                          \
        } else if (!(PARSE)) {                                                                             \
            return false;                                                                                  \
        }                                                                                                  \
    }

/* Column k of the count split records into rows [index, index + count) of
 * chunk c, its NULLs marked in their bitmaps (cleared beforehand) and in
 * *any_null; false when a field does not parse. */
static bool spk__csv_batch_column(const spk__csv_job *job, const spk__csv_batch *b, const char *data, spk_table *t,
                                  spk__chunk *c, uint32_t index, size_t count, int k, bool *any_null) {
    const size_t nfields = (size_t)job->nfields, nb = t->null_bytes, null_len = job->d.null_len;
    const char *null_value = job->d.null_value; /* in locals: the values stored are bytes, which may alias them */
    /* field k of record i: from the byte after field k - 1's end (record i's start for field 0) to its end */
    const size_t *before = k ? b->ends + k - 1 : b->starts, *end = b->ends + k;
    const size_t before_step = k ? nfields : 1, skip = k ? 1 : 0;
    const int col = job->field_col[k];
    const spk_type type = job->types[col];
    const uint32_t size = t->size[col];
    unsigned char *dst = spk__field_at(t, c, index, col), *nulls = spk__nulls_at(t, c, index) + (col >> 3);
    const unsigned char bit = (unsigned char)(1u << (col & 7));
    int64_t i64;
    int32_t i32;
    (void)i64;
    (void)i32;
    uint64_t todo = ~(uint64_t)0; /* a bit a group of 8 records: still to parse */
#ifdef SPK__CSV_AVX512
    if (null_len == 0 &&
        (type.id == SPK_TYPE_INT32 || type.id == SPK_TYPE_INT64 || type.id == SPK_TYPE_DATE ||
         (type.id == SPK_TYPE_DECIMAL && type.scale <= 7)) &&
        (todo = spk__csv_batch_column8(b, data, count, nfields, k, type, dst)) == 0)
        return true;
#endif
    switch ((spk_type_id)type.id) {
    case SPK_TYPE_STRING: return true; /* spk__csv_batch_strings */
#ifdef SPK__CSV_WORDS
    case SPK_TYPE_INT64:
        SPK__CSV_BATCH_LOOP((spk__csv_word_int(data + s, n, &i64) && (memcpy(dst, &i64, 8), true)))
        return true;
    case SPK_TYPE_INT32:
        SPK__CSV_BATCH_LOOP((spk__csv_word_int(data + s, n, &i64) && i64 >= INT32_MIN && i64 <= INT32_MAX &&
                             (i32 = (int32_t)i64, memcpy(dst, &i32, 4), true)))
        return true;
    case SPK_TYPE_DECIMAL:
        SPK__CSV_BATCH_LOOP(
            (spk__csv_word_decimal(data + s, n, type.precision, type.scale, &i64) && (memcpy(dst, &i64, 8), true)))
        return true;
    case SPK_TYPE_DATE:
        SPK__CSV_BATCH_LOOP((n == 10 && spk__csv_word_date(data + s, &i32) && (memcpy(dst, &i32, 4), true)))
        return true;
#endif
    default:
        SPK__CSV_BATCH_LOOP(spk__csv_store_roomy(type, data + s, n, dst))
        return true;
    }
}
#undef SPK__CSV_BATCH_LOOP

/* The batch's strings, row by row into the chunk's heap from heap_len
 * (with SPK__CSV_ROOM bytes to spare after them), each copied as 32 bytes
 * and more only when longer: what a copy writes past its string is
 * written over by the next. Marks NULLs as spk__csv_batch_column does;
 * returns where the strings end. */
static uint32_t spk__csv_batch_strings(const spk__csv_job *job, const spk__csv_batch *b, const char *data,
                                       spk_table *t, spk__chunk *c, uint32_t index, size_t count, uint64_t *any_null) {
    const size_t nfields = (size_t)job->nfields, nb = t->null_bytes, null_len = job->d.null_len;
    const char *null_value = job->d.null_value;
    const int nstring = job->nstring, *string_cols = job->string_cols;
    const size_t *ends = b->ends, *starts = b->starts;
    unsigned char **dst = b->string_dst;
    for (int j = 0; j < nstring; j++) dst[j] = spk__field_at(t, c, index, string_cols[j]);
    char *heap = c->heap;
    uint32_t at = c->heap_len;
    unsigned char *nulls = spk__nulls_at(t, c, index);
    for (size_t i = 0; i < count; i++, nulls += nb)
        for (int j = 0; j < nstring; j++) {
            int col = string_cols[j]; /* field col: no corrupt-record column in a batch */
            size_t at_end = i * nfields + (size_t)col, s = col ? ends[at_end - 1] + 1 : starts[i], n = ends[at_end] - s;
            if (n == 0 || (n == null_len && memcmp(data + s, null_value, n) == 0)) {
                nulls[col >> 3] |= (unsigned char)(1u << (col & 7));
                if (col < SPK__NULLS_KNOWN) any_null[col >> 6] |= (uint64_t)1 << (col & 63);
            } else {
                memcpy(heap + at, data + s, 32);
                if (n > 32) memcpy(heap + at + 32, data + s + 32, n - 32);
                at += (uint32_t)n;
            }
            memcpy(dst[j] + 4 * i, &at, 4);
        }
    return at;
}

/* Parses a batch of plain records at r->pos into t's last chunk; *taken:
 * how many (0: none, for the record path to take the next one). */
static spk_status spk__csv_batch_records(const spk__csv_job *job, spk__csv_reader *r, spk_table *t,
                                         spk__csv_batch *b, size_t roomy_below, size_t *taken) {
    spk__chunk *c = t->chunks[t->nchunks - 1];
    *taken = 0;
    if (c->nrows >= SPK_CHUNK_ROWS) return SPK_OK;
    size_t limit = SPK_CHUNK_ROWS - c->nrows, next = 0, count = 0;
    if (limit > SPK__CSV_BATCH) limit = SPK__CSV_BATCH;
#ifdef SPK__CSV_SSE2
    count = spk__csv_batch_blocks(job, r, b, limit, roomy_below, &next);
#endif
    if (count == 0 && (count = spk__csv_batch_split(job, r, b, limit, roomy_below, &next)) == 0) return SPK_OK;
    size_t bytes = next - r->pos; /* the records' bytes: more than their strings' */
    /* near a chunk's 4 GiB of strings, the record path moves on to a fresh chunk */
    if (bytes > (size_t)(UINT32_MAX - SPK__CSV_ROOM - c->heap_len)) return SPK_OK;
    spk_status st = spk__chunk_reserve(t, c, (uint32_t)count, bytes + SPK__CSV_ROOM, false);
    if (st != SPK_OK) return st;
    memset(spk__nulls_at(t, c, c->nrows), 0, count * t->null_bytes);
    uint64_t nulls[2] = {0, 0};
    for (int k = 0; k < job->nfields; k++) {
        bool any_null = false;
        if (!spk__csv_batch_column(job, b, r->data, t, c, c->nrows, count, k, &any_null)) {
            b->solo = count; /* a field in error: the record path takes these again */
            return SPK_OK;
        }
        int col = job->field_col[k];
        if (any_null && col < SPK__NULLS_KNOWN) nulls[col >> 6] |= (uint64_t)1 << (col & 63);
    }
    c->heap_len = spk__csv_batch_strings(job, b, r->data, t, c, c->nrows, count, nulls);
    c->maybe_null[0] |= nulls[0];
    c->maybe_null[1] |= nulls[1];
    c->nrows += (uint32_t)count;
    t->nrows += count;
    r->line += count;
    r->pos = r->line_start = next;
    *taken = count;
    return SPK_OK;
}

/* After a slice's first row (`bytes` of input): room for the rows the
 * slice will likely hold, so that its chunk does not grow by doubling
 * (which moves its columns). A guess with a sixteenth to spare, as the
 * first row may be longer than most; the chunk grows as usual past it,
 * and shrinks when sealed if much is left. */
static void spk__csv_presize(spk_table *t, const spk__csv_slice *sl, size_t bytes) {
    spk__chunk *c = t->chunks[0];
    size_t rows = (sl->end - sl->begin) / (bytes ? bytes : 1), heap = c->heap_len;
    rows += rows / 16 + 16;
    if (rows > SPK_CHUNK_ROWS) rows = SPK_CHUNK_ROWS;
    if (heap > ((size_t)1 << 20) / rows) heap = ((size_t)1 << 20) / rows; /* at most 1 MiB ahead on a guess */
    spk__chunk_reserve(t, c, (uint32_t)(rows - c->nrows), heap * rows, false); /* failing: grown later as needed */
}

/* Parses the records of slice sl into its table. ends: room for nfields + 1. */
static spk_status spk__csv_parse_records(const spk__csv_job *job, spk__csv_slice *sl, spk__csv_reader *r,
                                         spk__csv_row *row, spk__csv_target *targets, size_t *ends,
                                         spk__csv_batch *batch) {
    spk_table *t = sl->table;
    const size_t roomy_below = r->end >= SPK__CSV_ROOM ? r->end - SPK__CSV_ROOM + 1 : 0;
    spk_status st;
    for (;;) {
        if (batch && t->nchunks) {
            size_t taken = 0;
            if (batch->solo) batch->solo--;
            else if ((st = spk__csv_batch_records(job, r, t, batch, roomy_below, &taken)) != SPK_OK) return st;
            if (taken) continue;
        }
        if (job->blank_is_record ? r->pos >= r->end : !spk__csv_skip_blank(r)) return SPK_OK;
        size_t record_start = r->pos, record_end = 0;
        bool bad = false;
        r->scratch_len = 0;
        if ((st = spk__csv_begin_row(t, row, targets, job->nfields)) != SPK_OK) return st;
        size_t n = spk__csv_split_plain(&job->d, r->data, r->pos, r->end, ends, (size_t)job->nfields + 1, &record_end);
        row->placed = false;
        if (n && job->corrupt < 0 && (st = spk__csv_place_strings(t, row, record_end - r->pos)) != SPK_OK) return st;
        if (n) st = spk__csv_plain_record(job, sl, r, row, targets, ends, n, record_end, &bad);
        else st = spk__csv_general_record(job, sl, r, row, targets, &bad);
        if (st != SPK_OK) return st;
        if (bad && job->mode == SPK_READ_DROPMALFORMED) continue;
        if (job->corrupt >= 0) {
            if (bad) {
                row->str[job->corrupt] = r->data + record_start;
                row->str_len[job->corrupt] = r->record_end - record_start;
            } else {
                spk__csv_set_null_bit(row, job->corrupt); /* a string: no value to clear */
            }
        }
        if ((st = spk__csv_commit(t, row, job->string_cols, job->nstring, r->scratch)) != SPK_OK) return st;
        if (t->nrows == 1) spk__csv_presize(t, sl, r->pos - record_start);
    }
}

static spk_status spk__csv_parse_task(void *ctx, int worker, size_t task) {
    (void)worker;
    const spk__csv_job *job = (const spk__csv_job *)ctx;
    spk__csv_slice *sl = &job->slices[task];
    spk__csv_reader r;
    spk__csv_reader_init(&r, &job->d, spk__csv_slice_data(job, sl), sl->begin, sl->end);
    spk__csv_row row;
    memset(&row, 0, sizeof row);
    spk__csv_target *targets = NULL;
    size_t *ends = NULL;
    size_t n = (size_t)job->ncols + 1, size = 0;
    void *block = NULL;
    spk__csv_batch batch, *use_batch = NULL;
    /* batches take plain records with nothing to trim, not a corrupt-record column's */
    const bool batched = job->corrupt < 0 && !job->d.trim_leading && !job->d.trim_trailing && job->nfields > 0;
    const size_t batch_ends = batched ? SPK__CSV_BATCH * ((size_t)job->nfields + 1) + SPK__CSV_FLAT_SLACK : 0;
    spk_status st = spk_table_new(job->alloc, job->schema, &sl->table);
    if (st == SPK_OK) {
        size = n * (sizeof *targets + sizeof *row.str + sizeof *row.str_len + sizeof *row.str_off + sizeof *ends) +
               batch_ends * sizeof(size_t) + (batched ? n * sizeof *batch.string_dst : 0) +
               (sl->table->null_bytes < 8 ? 8 : sl->table->null_bytes);
        if (!(block = spk__calloc(&spk__default_allocator, size))) st = spk__nomem("a CSV row", size);
    }
    if (st == SPK_OK) {
        row.str = (const char **)block; /* the 8-byte arrays first: all aligned */
        row.str_len = (size_t *)(void *)(row.str + n);
        row.str_off = row.str_len + n;
        ends = row.str_off + n;
        targets = (spk__csv_target *)(void *)(ends + n);
        size_t *batch_at = (size_t *)(void *)(targets + n);
        unsigned char **string_dst = (unsigned char **)(void *)(batch_at + batch_ends);
        if (batched) {
            batch.ends = batch_at;
            batch.starts = batch_at + SPK__CSV_BATCH * (size_t)job->nfields + SPK__CSV_FLAT_SLACK;
            batch.string_dst = string_dst;
            batch.solo = 0;
            use_batch = &batch;
        }
        row.nulls = (unsigned char *)(string_dst + (batched ? n : 0));
        for (int k = 0; k < job->nfields; k++) {
            int col = job->field_col[k];
            targets[k] = (spk__csv_target){col, sl->table->size[col], NULL, job->types[col]};
        }
        st = spk__csv_parse_records(job, sl, &r, &row, targets, ends, use_batch);
    }
    sl->lines = r.line;
    spk__csv_reader_free(&r);
    if (block) spk__free(&spk__default_allocator, block, size);
    if (st != SPK_OK && !sl->status) spk__csv_slice_fail(sl, st, false, 0, NULL);
    return st;
}

/* ---------------------------------------------------------------- a file in blocks
 * A file not read whole is read by the parsing tasks themselves, a block
 * each: task i waits for its turn, reads block i into its worker's buffer
 * behind the record the block before left unfinished (the carry), hands
 * the turn on and parses up to its last line break while the next task
 * reads. No task waits for others to finish a window, and a block is
 * parsed while it is still in the cache it was read into. */
typedef struct spk__csv_buffer {
    char *p;
    size_t cap;
} spk__csv_buffer;

typedef struct spk__csv_stream {
    spk__io_input *in;
    size_t block;             /* bytes a task reads */
    atomic_size_t turn;       /* the task that reads next; what follows is the turn holder's */
    bool stop;                /* a read failed: later tasks read nothing */
    size_t read;              /* bytes read from the file so far */
    char *carry;              /* the record begun after the last line break read */
    size_t carry_len, carry_cap;
    spk__csv_buffer *buffers; /* one a worker */
    int nbuffers;             /* the most workers a round may have (the session's threads may change meanwhile) */
} spk__csv_stream;

/* Where the complete lines of data[0, len) end: after the last line break
 * (a CR at the very end might be half of a CRLF still to come), or at len
 * once the input is all there; 0 when no line ends in it. */
static size_t spk__csv_lines_end(const char *data, size_t len, bool eof) {
    if (eof) return len;
    for (size_t p = len; p > 0; p--) {
        char c = data[p - 1];
        if (c == '\n' || (c == '\r' && p < len)) return p;
    }
    return 0;
}

/* Room for `want` bytes in b, the ones held kept. */
static spk_status spk__csv_buffer_reserve(spk__csv_buffer *b, size_t want) {
    if (want <= b->cap) return SPK_OK;
    char *p = (char *)spk__realloc(&spk__default_allocator, b->p, b->cap, want);
    if (!p) return spk__nomem("an input file's bytes", want);
    b->p = p;
    b->cap = want;
    return SPK_OK;
}

/* Reads the next block into b behind the carry, and more while no line
 * ends in it, and makes slice sl its complete lines; the rest is the next
 * carry. The caller holds the turn. */
static spk_status spk__csv_read_block(spk__csv_stream *fs, spk__csv_buffer *b, spk__csv_slice *sl) {
    spk__io_input *in = fs->in;
    size_t len = fs->carry_len, want = len + fs->block, end;
    spk_status st = spk__csv_buffer_reserve(b, want);
    if (st != SPK_OK) return st;
    if (len) memcpy(b->p, fs->carry, len);
    for (;;) {
        size_t before = len;
        if (!in->eof && !spk__io_read_into(in, b->p, &len, want, &in->eof))
            return spk__fail(SPK_ERR_IO, "%s: read error", in->name);
        fs->read += len - before;
        if ((end = spk__csv_lines_end(b->p, len, in->eof)) > 0 || in->eof) break;
        want *= 2; /* a record longer than a block: read on to its end */
        if ((st = spk__csv_buffer_reserve(b, want)) != SPK_OK) return st;
    }
    size_t rest = len - end;
    spk__csv_buffer carry = {fs->carry, fs->carry_cap};
    if ((st = spk__csv_buffer_reserve(&carry, rest)) != SPK_OK) return st;
    fs->carry = carry.p;
    fs->carry_cap = carry.cap;
    if (rest) memcpy(fs->carry, b->p + end, rest);
    fs->carry_len = rest;
    sl->data = b->p;
    sl->begin = 0;
    sl->end = end;
    return SPK_OK;
}

/* Task i of a streamed file: block i read in turn, then parsed. */
static spk_status spk__csv_block_task(void *ctx, int worker, size_t task) {
    spk__csv_job *job = (spk__csv_job *)ctx;
    spk__csv_stream *fs = job->stream;
    spk__csv_slice *sl = &job->slices[task];
    while (atomic_load_explicit(&fs->turn, memory_order_acquire) != task) thrd_yield();
    spk_status st = SPK_OK;
    if (!fs->stop && (!fs->in->eof || fs->carry_len)) {
        st = spk__csv_read_block(fs, &fs->buffers[worker], sl);
        fs->stop = st != SPK_OK;
    }
    atomic_store_explicit(&fs->turn, task + 1, memory_order_release);
    if (st != SPK_OK) return spk__csv_slice_fail(sl, st, false, 0, NULL);
    return sl->end > sl->begin ? spk__csv_parse_task(ctx, worker, task) : SPK_OK;
}

/* Narrows masks (one per field) by the records r reads: all of them, or
 * while *budget (counted down) lasts. */
static spk_status spk__csv_infer_records(const spk__csv_job *job, spk__csv_reader *r, unsigned *masks, size_t *budget) {
    for (;;) {
        if (budget && *budget == 0) return SPK_OK;
        if (job->blank_is_record ? r->pos >= r->end : !spk__csv_skip_blank(r)) return SPK_OK;
        if (budget) (*budget)--;
        r->scratch_len = 0;
        spk__csv_tok f;
        size_t k = 0;
        do {
            spk_status st = spk__csv_read_field(r, &f);
            if (st != SPK_OK) return st;
            if (k < (size_t)job->nfields && !f.problem && !spk__csv_is_null(&job->d, r, &f)) {
                unsigned *m = &masks[k];
                const char *text = spk__csv_text(r, &f);
                *m |= SPK__CSV_INFER_SEEN;
                for (int i = 0; i < 6; i++) {
                    unsigned char bytes[8];
                    if ((*m & (1u << i)) && !spk__csv_store(spk_type_of(spk__csv_infer_order[i]), text, f.len, bytes))
                        *m &= ~(1u << i);
                }
            }
            k++;
        } while (!f.last);
    }
}

static spk_status spk__csv_infer_task(void *ctx, int worker, size_t task) {
    (void)worker;
    const spk__csv_job *job = (const spk__csv_job *)ctx;
    spk__csv_slice *sl = &job->slices[task];
    spk__csv_reader r;
    spk__csv_reader_init(&r, &job->d, job->data, sl->begin, sl->end);
    spk_status st = spk__csv_infer_records(job, &r, job->masks + task * (size_t)job->ncols, NULL);
    spk__csv_reader_free(&r);
    if (st != SPK_OK) spk__csv_slice_fail(sl, st, false, 0, NULL);
    return st;
}

static spk_status spk__csv_add_slice(spk__csv_job *job, size_t begin, size_t end) {
    if (job->nslices == job->slices_cap) {
        size_t cap = job->slices_cap ? job->slices_cap * 2 : 16;
        void *p = spk__realloc(&spk__default_allocator, job->slices, job->slices_cap * sizeof *job->slices,
                               cap * sizeof *job->slices);
        if (!p) return spk__nomem("CSV slices", cap * sizeof *job->slices);
        job->slices = (spk__csv_slice *)p;
        job->slices_cap = cap;
    }
    spk__csv_slice *sl = &job->slices[job->nslices++];
    memset(sl, 0, sizeof *sl);
    sl->begin = begin;
    sl->end = end;
    return SPK_OK;
}

/* Bytes a slice should hold: about 60000 lines (a table chunk), at least
 * 1 MiB, and small enough to give every thread a few. Inputs under 1 MiB
 * are one slice. While spk_exec_override sets a morsel size (tests), slices
 * are tiny so that small inputs take the parallel path. */
static size_t spk__csv_slice_size(const char *data, size_t begin, size_t len, int threads) {
    size_t n = len - begin;
    uint32_t forced = atomic_load_explicit(&spk__override_morsel, memory_order_relaxed);
    if (forced) {
        size_t size = (size_t)forced * 16, floor = n / 1024 + 1;
        return size > floor ? size : floor;
    }
    if (n < ((size_t)1 << 20)) return n ? n : 1;
    size_t sample = n < 65536 ? n : 65536, lines = 0;
    for (const char *p = data + begin, *e = p + sample; (p = (const char *)memchr(p, '\n', (size_t)(e - p))) != NULL;
         p++)
        lines++;
    size_t size = (lines ? sample / lines : sample) * 60000, fair = n / ((size_t)(threads > 0 ? threads : 1) * 4);
    if (size > fair) size = fair;
    if (size < ((size_t)1 << 20)) size = (size_t)1 << 20;
    if (size > ((size_t)64 << 20)) size = (size_t)64 << 20;
    return size;
}

/* Cuts data[begin, len) into slices of about `size` bytes at record
 * boundaries: line breaks, or with multiline the ends of records, found by
 * reading them in order. */
static spk_status spk__csv_cut(spk__csv_job *job, size_t begin, size_t len, size_t size) {
    spk_status st = SPK_OK;
    const char *data = job->data;
    if (!job->d.multiline) {
        while (st == SPK_OK && begin < len) {
            size_t end = len;
            if (len - begin > size) {
                size_t j = begin + size;
                while (j < len && data[j] != '\n' && data[j] != '\r') j++;
                if (j < len) end = j + spk__csv_eol_len(data, j, len);
            }
            st = spk__csv_add_slice(job, begin, end);
            begin = end;
        }
        return st;
    }
    spk__csv_reader r;
    spk__csv_reader_init(&r, &job->d, data, begin, len);
    r.scan_only = true;
    for (;;) {
        if (job->blank_is_record ? r.pos >= len : !spk__csv_skip_blank(&r)) break;
        if (r.pos - begin >= size) {
            if ((st = spk__csv_add_slice(job, begin, r.pos)) != SPK_OK) return st;
            begin = r.pos;
        }
        if ((st = spk__csv_skip_record(&r)) != SPK_OK) return st;
    }
    return begin < len ? spk__csv_add_slice(job, begin, len) : SPK_OK;
}

/* The first failure in input order, raised with its position. */
static spk_status spk__csv_raise(const spk__csv_job *job, size_t first_line) {
    size_t line = first_line;
    for (size_t i = 0; i < job->nslices; i++) {
        const spk__csv_slice *sl = &job->slices[i];
        if (sl->status == SPK_OK) {
            line += sl->lines;
            continue;
        }
        const char *msg = sl->error ? sl->error : "out of memory";
        if (sl->positioned) return spk__fail(sl->status, "%s:%zu:%s", job->name, line + sl->error_line, msg);
        return spk__fail(sl->status, "%s", msg);
    }
    return spk__fail(SPK_ERR_INTERNAL, "%s: a CSV slice failed without saying why", job->name);
}

/* The given schema, with every column nullable (as Spark reads files). */
static spk_status spk__csv_nullable(const spk_allocator *alloc, const spk_schema *schema, spk_schema **out) {
    int n = spk_schema_ncols(schema);
    bool all = true;
    for (int i = 0; i < n; i++) all = all && spk_schema_field(schema, i)->nullable;
    if (all) {
        *out = spk_schema_retain((spk_schema *)schema);
        return SPK_OK;
    }
    size_t size = (size_t)n * sizeof(spk_field);
    spk_field *fields = (spk_field *)spk__alloc(&spk__default_allocator, size);
    if (!fields) return spk__nomem("a schema", size);
    for (int i = 0; i < n; i++) {
        fields[i] = *spk_schema_field(schema, i);
        fields[i].nullable = true;
    }
    spk_status st = spk__schema_make(alloc, fields, n, true, out);
    spk__free(&spk__default_allocator, fields, size);
    return st;
}

/* Column names from the header's fields (NULL ones given as ""), renamed
 * as Spark does: an empty name is _c<index>, each of several equal names
 * <name><index>. */
static spk_status spk__csv_header_schema(const spk_allocator *alloc, char **names, const spk_type *types, int n,
                                         bool case_sensitive, spk_schema **out) {
    size_t count = (size_t)(n ? n : 1);
    spk_field *fields = (spk_field *)spk__alloc(&spk__default_allocator, count * sizeof *fields);
    char **renamed = (char **)spk__calloc(&spk__default_allocator, count * sizeof *renamed);
    spk_status st = fields && renamed ? SPK_OK : spk__nomem("column names", count * sizeof *fields);
    for (int i = 0; st == SPK_OK && i < n; i++) {
        bool dup = false;
        for (int j = 0; j < n && !dup; j++)
            dup = j != i && names[i][0] && spk__name_eq(names[i], names[j], case_sensitive);
        char number[24];
        snprintf(number, sizeof number, "%d", i);
        const char *base = !names[i][0] ? "_c" : names[i], *suffix = !names[i][0] || dup ? number : "";
        size_t a = strlen(base), b = strlen(suffix);
        if (!(renamed[i] = (char *)spk__alloc(&spk__default_allocator, a + b + 1))) {
            st = spk__nomem("a column name", a + b + 1);
        } else {
            memcpy(renamed[i], base, a);
            memcpy(renamed[i] + a, suffix, b + 1);
        }
        if (st == SPK_OK) fields[i] = (spk_field){renamed[i], types[i], true};
    }
    if (st == SPK_OK) st = spk__schema_make(alloc, fields, n, true, out);
    for (int i = 0; renamed && i < n; i++)
        if (renamed[i]) spk__free(&spk__default_allocator, renamed[i], strlen(renamed[i]) + 1);
    if (renamed) spk__free(&spk__default_allocator, renamed, count * sizeof *renamed);
    if (fields) spk__free(&spk__default_allocator, fields, count * sizeof *fields);
    return st;
}

/* Checks the read options and fills the dialect. */
static spk_status spk__csv_read_options(const spk_csv_options *o, spk__csv_dialect *d, bool case_sensitive) {
    spk_status st = spk__csv_dialect_init(d, o->delimiter, o->quote, o->escape, o->null_value, "spk_read_csv");
    if (st != SPK_OK) return st;
    d->multiline = o->multiline;
    d->trim_leading = o->ignore_leading_space;
    d->trim_trailing = o->ignore_trailing_space;
    if ((unsigned)o->mode > (unsigned)SPK_READ_FAILFAST)
        return spk__fail(SPK_ERR_ARG, "spk_read_csv: unknown read mode %d", (int)o->mode);
    if (!o->corrupt_column) return SPK_OK;
    if (!o->schema)
        return spk__fail(SPK_ERR_ARG,
                         "spk_read_csv: corrupt_column `%s` needs a schema that holds it as a STRING column",
                         o->corrupt_column);
    int col = spk_schema_index(o->schema, o->corrupt_column, case_sensitive);
    if (col < 0)
        return spk__fail(SPK_ERR_ARG, "spk_read_csv: corrupt_column `%s` is not a column of the schema",
                         o->corrupt_column);
    if (spk_schema_field(o->schema, col)->type.id != SPK_TYPE_STRING)
        return spk__fail(SPK_ERR_ARG, "spk_read_csv: corrupt_column `%s` must be a STRING column, not %s",
                         o->corrupt_column, spk__type_sql(spk_schema_field(o->schema, col)->type).s);
    return SPK_OK;
}

/* The first record's fields as C strings: names (NULL fields as ""). */
static spk_status spk__csv_first_record(spk__csv_reader *r, bool header, char ***names, int *n) {
    size_t cap = 0;
    spk__csv_tok f;
    r->scratch_len = 0;
    do {
        spk_status st = spk__csv_read_field(r, &f);
        if (st != SPK_OK) return st;
        if (*n == INT_MAX) return spk__fail(SPK_ERR_LIMIT, "a CSV record has more than %d fields", INT_MAX);
        if ((size_t)*n == cap) {
            size_t grown = cap ? cap * 2 : 16;
            void *p = spk__realloc(&spk__default_allocator, *names, cap * sizeof **names, grown * sizeof **names);
            if (!p) return spk__nomem("column names", grown * sizeof **names);
            *names = (char **)p;
            memset(*names + cap, 0, (grown - cap) * sizeof **names);
            cap = grown;
        }
        const char *text = spk__csv_text(r, &f);
        size_t len = header && !f.problem && !spk__csv_is_null(r->d, r, &f) ? f.len : 0;
        const char *nul = len ? (const char *)memchr(text, '\0', len) : NULL;
        if (nul) len = (size_t)(nul - text);
        char *name = (char *)spk__alloc(&spk__default_allocator, len + 1);
        if (!name) return spk__nomem("a column name", len + 1);
        if (len) memcpy(name, text, len);
        name[len] = '\0';
        (*names)[(*n)++] = name;
    } while (!f.last);
    return SPK_OK;
}

static void spk__csv_names_free(char **names, int n) {
    if (!names) return;
    size_t cap = 16;
    while (cap < (size_t)n) cap *= 2;
    for (int i = 0; i < n; i++) spk__free(&spk__default_allocator, names[i], strlen(names[i]) + 1);
    spk__free(&spk__default_allocator, names, cap * sizeof *names);
}

/* Column types by inference (no schema given). */
static spk_status spk__csv_infer(spk_session *s, spk__csv_job *job, const spk_csv_options *o, size_t data_begin,
                                 size_t len, size_t first_line) {
    size_t ncols = (size_t)job->ncols, total = 0;
    spk_status st = SPK_OK;
    if (o->sample_rows || job->nslices <= 1) { /* in order, on this thread */
        job->masks = (unsigned *)spk__alloc(&spk__default_allocator, ncols * sizeof *job->masks);
        if (!job->masks) return spk__nomem("inference state", ncols * sizeof *job->masks);
        total = 1;
        for (size_t c = 0; c < ncols; c++) job->masks[c] = SPK__CSV_INFER_ALL;
        spk__csv_reader r;
        spk__csv_reader_init(&r, &job->d, job->data, data_begin, len);
        size_t budget = o->sample_rows;
        st = spk__csv_infer_records(job, &r, job->masks, o->sample_rows ? &budget : NULL);
        spk__csv_reader_free(&r);
    } else {
        total = job->nslices;
        job->masks = (unsigned *)spk__alloc(&spk__default_allocator, total * ncols * sizeof *job->masks);
        if (!job->masks) return spk__nomem("inference state", total * ncols * sizeof *job->masks);
        for (size_t i = 0; i < total * ncols; i++) job->masks[i] = SPK__CSV_INFER_ALL;
        st = spk__par_run(s, spk__par_workers(s, total), total, spk__csv_infer_task, job);
        if (st != SPK_OK) st = spk__csv_raise(job, first_line);
        for (size_t i = 1; st == SPK_OK && i < total; i++)
            for (size_t c = 0; c < ncols; c++) {
                unsigned m = job->masks[i * ncols + c];
                unsigned *into = &job->masks[c];
                *into = (*into & m & SPK__CSV_INFER_ALL) | ((*into | m) & SPK__CSV_INFER_SEEN);
            }
    }
    for (size_t c = 0; st == SPK_OK && c < ncols; c++) {
        unsigned m = job->masks[c];
        job->types[c] = spk_type_of(SPK_TYPE_STRING);
        for (int i = 0; i < 6 && (m & SPK__CSV_INFER_SEEN); i++)
            if (m & (1u << i)) {
                job->types[c] = spk_type_of(spk__csv_infer_order[i]);
                break;
            }
    }
    /* job_free frees nslices * ncols masks: keep that true */
    if (total != job->nslices) {
        spk__free(&spk__default_allocator, job->masks, total * ncols * sizeof *job->masks);
        job->masks = NULL;
    }
    return st;
}

/* Reads the header (or, with no schema, the first record) from
 * data[begin, end) and settles the columns; *data_begin and *first_line
 * get where the records start. Inference reads data[*data_begin, end). */
static spk_status spk__csv_prepare(spk_session *s, spk__csv_job *job, const spk_csv_options *o, size_t begin,
                                   size_t end, bool case_sensitive, size_t *data_begin, size_t *first_line) {
    spk__csv_reader r;
    spk__csv_reader_init(&r, &job->d, job->data, begin, end);
    r.line = 1;
    char **names = NULL;
    int nnames = 0;
    spk_status st = SPK_OK;
    if (o->schema) {
        st = spk__csv_nullable(s->alloc, o->schema, &job->schema);
        if (st == SPK_OK && o->header && spk__csv_skip_blank(&r)) st = spk__csv_skip_record(&r);
        job->ncols = spk_schema_ncols(o->schema);
        if (o->corrupt_column) job->corrupt = spk_schema_index(job->schema, o->corrupt_column, case_sensitive);
        job->nfields = job->ncols - (job->corrupt >= 0);
    } else if (spk__csv_skip_blank(&r)) {
        size_t pos = r.pos, line = r.line, line_start = r.line_start;
        st = spk__csv_first_record(&r, o->header, &names, &nnames);
        if (!o->header) { /* it is also the first row */
            r.pos = pos;
            r.line = line;
            r.line_start = line_start;
        }
        job->ncols = job->nfields = nnames;
    }
    spk__csv_reader_free(&r);
    *data_begin = r.pos;
    *first_line = r.line;
    size_t ncols = (size_t)job->ncols;
    job->blank_is_record = job->nfields == 1;
    if (st == SPK_OK) {
        job->types = (spk_type *)spk__alloc(&spk__default_allocator, (ncols ? ncols : 1) * sizeof *job->types);
        job->field_col = (int *)spk__alloc(&spk__default_allocator, (ncols ? ncols : 1) * sizeof(int));
        job->string_cols = (int *)spk__alloc(&spk__default_allocator, (ncols ? ncols : 1) * sizeof(int));
        if (!job->types || !job->field_col || !job->string_cols)
            st = spk__nomem("CSV columns", ncols * (sizeof(spk_type) + 2 * sizeof(int)));
    }
    if (st == SPK_OK && !o->schema) {
        for (size_t c = 0; c < ncols; c++) job->types[c] = spk_type_of(SPK_TYPE_STRING);
        if (o->infer_schema && ncols) {
            st = spk__csv_cut(job, r.pos, end, spk__csv_slice_size(job->data, r.pos, end, spk_session_threads(s)));
            if (st == SPK_OK) st = spk__csv_infer(s, job, o, r.pos, end, r.line);
        }
        if (st == SPK_OK)
            st = spk__csv_header_schema(s->alloc, names, job->types, job->ncols, case_sensitive, &job->schema);
    } else if (st == SPK_OK) {
        for (size_t c = 0; c < ncols; c++) job->types[c] = spk_schema_field(job->schema, (int)c)->type;
    }
    spk__csv_names_free(names, nnames);
    if (st != SPK_OK) return st;
    for (int c = 0, k = 0; c < job->ncols; c++) {
        if (c != job->corrupt) job->field_col[k++] = c;
        if (job->types[c].id == SPK_TYPE_STRING) job->string_cols[job->nstring++] = c;
    }
    return SPK_OK;
}

/* Forgets the slices of the last window (their tables were joined). */
static void spk__csv_slices_reset(spk__csv_job *job) {
    const spk_allocator *a = &spk__default_allocator;
    for (size_t i = 0; i < job->nslices; i++) {
        spk_table_free(job->slices[i].table);
        if (job->slices[i].error) spk__free(a, job->slices[i].error, strlen(job->slices[i].error) + 1);
    }
    if (job->masks) spk__free(a, job->masks, job->nslices * (size_t)job->ncols * sizeof *job->masks);
    job->masks = NULL;
    job->nslices = 0;
}

/* Parses the records of job->data[begin, end), which ends at a record
 * boundary, in parallel slices whose tables are joined onto *result (made
 * at the first call). *line: the input's line number at `begin`, moved past
 * the window's lines. */
static spk_status spk__csv_parse_window(spk_session *s, spk__csv_job *job, size_t begin, size_t end, size_t *line,
                                        spk_table **result) {
    spk_status st = SPK_OK;
    if (job->nslices == 0 && begin < end)
        st = spk__csv_cut(job, begin, end, spk__csv_slice_size(job->data, begin, end, spk_session_threads(s)));
    size_t ntasks = job->nslices;
    if (st == SPK_OK && ntasks) {
        int workers = spk__par_workers(s, ntasks);
        if (job->stream && workers > job->stream->nbuffers) workers = job->stream->nbuffers;
        st = spk__par_run(s, workers, ntasks, job->stream ? spk__csv_block_task : spk__csv_parse_task, job);
        if (st != SPK_OK) return spk__csv_raise(job, *line);
    }
    for (size_t i = 0; st == SPK_OK && i < job->nslices; i++) {
        *line += job->slices[i].lines;
        if (!job->slices[i].table) continue; /* a block with no complete line */
        if (!*result) {
            *result = job->slices[i].table;
            job->slices[i].table = NULL;
        } else
            st = spk__table_adopt(*result, job->slices[i].table);
    }
    if (st == SPK_OK && !*result) st = spk_table_new(s->alloc, job->schema, result);
    spk__csv_slices_reset(job);
    return st;
}

/* Bytes a task of a streamed file reads: about a chunk's worth of
 * records, small enough to stay in the cache until parsed (tiny while
 * spk_exec_override sets a morsel size, so that tests cross many blocks). */
static size_t spk__csv_block_size(void) {
    uint32_t forced = atomic_load_explicit(&spk__override_morsel, memory_order_relaxed);
    return forced ? (size_t)forced * 64 : (size_t)8 << 20;
}

/* Streams the rest of a file through block tasks, in rounds of as many
 * tasks as its size calls for (a few a thread when it is not known),
 * each round's tables joined onto *result. The bytes held in `in` past
 * `begin` are the first carry. */
static spk_status spk__csv_stream_file(spk_session *s, spk__csv_job *job, spk__io_input *in, size_t begin,
                                       size_t *line, spk_table **result) {
    int threads = spk_session_threads(s);
    spk__csv_stream fs;
    memset(&fs, 0, sizeof fs);
    fs.in = in;
    fs.block = spk__csv_block_size();
    fs.read = in->len;
    size_t nbuffers = (size_t)(threads > 0 ? threads : 1);
    fs.nbuffers = (int)nbuffers;
    fs.buffers = (spk__csv_buffer *)spk__calloc(&spk__default_allocator, nbuffers * sizeof *fs.buffers);
    spk__csv_buffer carry = {NULL, 0};
    spk_status st = fs.buffers ? spk__csv_buffer_reserve(&carry, in->len - begin)
                               : spk__nomem("CSV buffers", nbuffers * sizeof *fs.buffers);
    if (st == SPK_OK) {
        fs.carry = carry.p;
        fs.carry_cap = carry.cap;
        fs.carry_len = in->len - begin;
        if (fs.carry_len) memcpy(fs.carry, in->data + begin, fs.carry_len);
    }
    job->stream = &fs;
    while (st == SPK_OK && !(in->eof && !fs.carry_len)) {
        size_t ntasks = nbuffers * 4;
        if (in->size_hint >= 0 && (size_t)in->size_hint > fs.read) {
            size_t left = ((size_t)in->size_hint - fs.read + fs.carry_len) / fs.block + 2;
            ntasks = left > ntasks ? left : ntasks;
        }
        if (ntasks > ((size_t)1 << 16)) ntasks = (size_t)1 << 16;
        for (size_t i = 0; st == SPK_OK && i < ntasks; i++) st = spk__csv_add_slice(job, 0, 0);
        atomic_store_explicit(&fs.turn, 0, memory_order_relaxed);
        if (st == SPK_OK) st = spk__csv_parse_window(s, job, 0, 0, line, result);
        else spk__csv_slices_reset(job);
    }
    job->stream = NULL;
    for (size_t i = 0; fs.buffers && i < nbuffers; i++)
        if (fs.buffers[i].p) spk__free(&spk__default_allocator, fs.buffers[i].p, fs.buffers[i].cap);
    if (fs.buffers) spk__free(&spk__default_allocator, fs.buffers, nbuffers * sizeof *fs.buffers);
    if (fs.carry) spk__free(&spk__default_allocator, fs.carry, fs.carry_cap);
    return st;
}

/* Reads records from `in`: a buffer whole, a file a window at a time (one
 * window whole when records may span lines or the schema is inferred). The
 * header must lie in the first window; windows grow until it does, as they
 * do until they hold a line break. */
static spk_status spk__csv_load_job(spk_session *s, spk__io_input *in, const spk_csv_options *o, spk__csv_job *job,
                                    bool case_sensitive, spk_table **out) {
    job->name = in->name;
    job->alloc = s->alloc;
    job->mode = o->mode;
    bool whole = job->d.multiline || (!o->schema && o->infer_schema);
    size_t window = spk__csv_block_size(), end = 0, begin = 0, line = 1;
    spk_status st = whole ? spk__io_input_read_all(in) : SPK_OK;
    for (bool ready = false; st == SPK_OK && !ready;) { /* the first window: a header and a line break */
        if (!in->eof && (st = spk__io_input_fill(in, in->len + window)) != SPK_OK) break;
        end = spk__csv_lines_end(in->data, in->len, in->eof);
        begin = in->len >= 3 && memcmp(in->data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
        spk__csv_reader r;
        spk__csv_reader_init(&r, &job->d, in->data, begin, end);
        ready = in->eof || (end > 0 && (!(o->header || !o->schema) || spk__csv_skip_blank(&r)));
        spk__csv_reader_free(&r);
        if (!ready) window *= 2;
    }
    spk_table *result = NULL;
    if (st == SPK_OK) {
        job->data = in->data;
        st = spk__csv_prepare(s, job, o, begin, end, case_sensitive, &begin, &line);
    }
    if (st == SPK_OK) {
        job->data = in->data;
        st = in->eof ? spk__csv_parse_window(s, job, begin, end, &line, &result)
                     : spk__csv_stream_file(s, job, in, begin, &line, &result);
    }
    if (st != SPK_OK) {
        spk_table_free(result);
        return st;
    }
    if (result->nchunks) spk__chunk_seal(result, result->chunks[result->nchunks - 1]); /* no room kept for appends */
    *out = result;
    return SPK_OK;
}

static spk_df *spk__csv_read(spk_session *s, spk__io_input *in, const spk_csv_options *o) {
    spk__csv_job job;
    memset(&job, 0, sizeof job);
    job.corrupt = -1;
    bool case_sensitive = atomic_load_explicit(&s->case_sensitive, memory_order_relaxed);
    spk_table *t = NULL;
    spk_status st = spk__csv_read_options(o, &job.d, case_sensitive);
    if (st == SPK_OK) st = spk__csv_load_job(s, in, o, &job, case_sensitive, &t);
    spk__csv_job_free(&job);
    spk__io_input_free(in);
    if (st != SPK_OK) return NULL;
    spk_df *df = spk_df_from_table(s, t);
    if (!df) spk_table_free(t);
    return df;
}

/* The options (zero: defaults), checked before any input is read. */
static bool spk__csv_read_begin(spk_session *s, const spk_csv_options *opts, spk_csv_options *o) {
    if (opts) *o = *opts;
    else memset(o, 0, sizeof *o);
    if (!s) {
        spk__fail(SPK_ERR_ARG, "spk_read_csv: NULL session");
        return false;
    }
    spk__csv_dialect d;
    return spk__csv_read_options(o, &d, atomic_load_explicit(&s->case_sensitive, memory_order_relaxed)) == SPK_OK;
}

SPKDEF spk_df *spk_read_csv(spk_session *s, const char *path, const spk_csv_options *opts) {
    spk_csv_options o;
    spk__io_input in;
    if (!spk__csv_read_begin(s, opts, &o)) return NULL;
    if (spk__io_input_path(path, &in) != SPK_OK) {
        spk__io_input_free(&in);
        return NULL;
    }
    return spk__csv_read(s, &in, &o);
}

SPKDEF spk_df *spk_read_csv_buffer(spk_session *s, const void *data, size_t len, const spk_csv_options *opts) {
    spk_csv_options o;
    spk__io_input in;
    if (!spk__csv_read_begin(s, opts, &o)) return NULL;
    spk__io_input_buffer(data, len, &in);
    return spk__csv_read(s, &in, &o);
}

SPKDEF spk_df *spk_read_csv_file(spk_session *s, FILE *f, const spk_csv_options *opts) {
    spk_csv_options o;
    spk__io_input in;
    if (!spk__csv_read_begin(s, opts, &o)) return NULL;
    if (spk__io_input_file(f, &in) != SPK_OK) {
        spk__io_input_free(&in);
        return NULL;
    }
    return spk__csv_read(s, &in, &o);
}

/* ---------------------------------------------------------------- writing */

/* A field that would not read back as itself unquoted is quoted. */
static bool spk__csv_needs_quotes(const spk__csv_dialect *d, const char *s, size_t n) {
    if (n == 0 || (n == d->null_len && memcmp(s, d->null_value, n) == 0)) return true;
    if ((d->cls[(unsigned char)s[0]] | d->cls[(unsigned char)s[n - 1]]) & SPK__CSV_SPACE) return true;
    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) return true; /* it would read as a byte-order mark */
    for (size_t i = 0; i < n; i++)
        if (d->cls[(unsigned char)s[i]] & (SPK__CSV_DELIM | SPK__CSV_EOL | SPK__CSV_QUOTE | SPK__CSV_ESCAPE))
            return true;
    return false;
}

static void spk__csv_put_field(spk__io_output *out, const spk__csv_dialect *d, const char *s, size_t n) {
    if (!spk__csv_needs_quotes(d, s, n)) {
        spk__io_write(out, s, n);
        return;
    }
    spk__io_write(out, &d->quote, 1);
    size_t seg = 0;
    for (size_t i = 0; i < n; i++)
        if (d->cls[(unsigned char)s[i]] & (SPK__CSV_QUOTE | SPK__CSV_ESCAPE)) {
            spk__io_write(out, s + seg, i - seg);
            spk__io_write(out, &d->escape, 1);
            seg = i; /* the character itself follows */
        }
    spk__io_write(out, s + seg, n - seg);
    spk__io_write(out, &d->quote, 1);
}

static spk_status spk__csv_write_options(const spk_csv_write_options *opts, spk_csv_write_options *o,
                                         spk__csv_dialect *d, const char *who) {
    if (opts) *o = *opts;
    else memset(o, 0, sizeof *o);
    spk_status st = spk__csv_dialect_init(d, o->delimiter, o->quote, o->escape, o->null_value, who);
    if (st != SPK_OK) return st;
    for (size_t i = 0; i < d->null_len; i++)
        if (d->cls[(unsigned char)d->null_value[i]] & (SPK__CSV_DELIM | SPK__CSV_EOL | SPK__CSV_QUOTE))
            return spk__fail(SPK_ERR_ARG,
                             "%s: null_value '%s' holds the delimiter, the quote or a line break: "
                             "it would not read back",
                             who, d->null_value);
    return SPK_OK;
}

/* Runs df and writes its rows (and the header) to out; out is left to close or abort. */
static spk_status spk__csv_write_rows(spk_df *df, spk__io_output *out, const spk__csv_dialect *d, bool header) {
    spk_table *t = NULL;
    spk_status st = spk_df_collect(df, &t);
    if (st != SPK_OK) return st;
    const spk_schema *schema = spk_table_schema(t);
    int ncols = spk_schema_ncols(schema);
    if (header) {
        for (int c = 0; c < ncols; c++) {
            if (c) spk__io_write(out, &d->delimiter, 1);
            const char *name = spk_schema_field(schema, c)->name;
            spk__csv_put_field(out, d, name, strlen(name));
        }
        spk__io_puts(out, "\n");
    }
    spk_cursor cur;
    spk_cursor_open(&cur, t);
    while (st == SPK_OK && !out->failed && spk_cursor_next(&cur)) {
        for (int c = 0; st == SPK_OK && c < ncols; c++) {
            spk_value v;
            if (c) spk__io_write(out, &d->delimiter, 1);
            if ((st = spk_cursor_get(&cur, c, &v)) != SPK_OK) break;
            if (v.is_null) {
                spk__io_write(out, d->null_value, d->null_len);
            } else if (v.type.id == SPK_TYPE_STRING) {
                spk__csv_put_field(out, d, v.as.str.ptr, v.as.str.len);
            } else {
                char text[SPK_VALUE_TEXT_MAX];
                size_t n = spk_value_format(&v, text, sizeof text);
                spk__csv_put_field(out, d, text, n < sizeof text ? n : sizeof text - 1);
            }
        }
        spk__io_puts(out, "\n");
    }
    spk_table_free(t);
    return st != SPK_OK ? st : out->failed;
}

SPKDEF spk_status spk_write_csv(spk_df *df, const char *path, const spk_csv_write_options *opts) {
    spk_csv_write_options o;
    spk__csv_dialect d;
    if (!df) return spk__fail(SPK_ERR_ARG, "spk_write_csv: NULL DataFrame (an earlier call failed: see its error)");
    spk_status st = spk__csv_write_options(opts, &o, &d, "spk_write_csv");
    if (st != SPK_OK) return st;
    spk__io_output out;
    bool skip = false;
    if ((st = spk__io_output_path(path, o.mode, &out, &skip)) != SPK_OK) return st;
    if (skip) {
        spk__io_output_abort(&out);
        return SPK_OK;
    }
    if ((st = spk__csv_write_rows(df, &out, &d, o.header && !out.append_to_nonempty)) != SPK_OK) {
        spk__io_output_abort(&out);
        return st;
    }
    return spk__io_output_close(&out, NULL, NULL);
}

SPKDEF spk_status spk_write_csv_file(spk_df *df, FILE *f, const spk_csv_write_options *opts) {
    spk_csv_write_options o;
    spk__csv_dialect d;
    if (!df)
        return spk__fail(SPK_ERR_ARG, "spk_write_csv_file: NULL DataFrame (an earlier call failed: see its error)");
    if (!f) return spk__fail(SPK_ERR_ARG, "spk_write_csv_file: NULL FILE*");
    spk_status st = spk__csv_write_options(opts, &o, &d, "spk_write_csv_file");
    if (st != SPK_OK) return st;
    spk__io_output out;
    spk__io_output_file(f, &out);
    if ((st = spk__csv_write_rows(df, &out, &d, o.header)) != SPK_OK) {
        spk__io_output_abort(&out);
        return st;
    }
    return spk__io_output_close(&out, NULL, NULL);
}

SPKDEF spk_status spk_write_csv_string(spk_df *df, const spk_csv_write_options *opts, char **out_text, size_t *len) {
    spk_csv_write_options o;
    spk__csv_dialect d;
    if (!out_text) return spk__fail(SPK_ERR_ARG, "spk_write_csv_string: NULL output");
    *out_text = NULL;
    if (len) *len = 0;
    if (!df)
        return spk__fail(SPK_ERR_ARG, "spk_write_csv_string: NULL DataFrame (an earlier call failed: see its error)");
    spk_status st = spk__csv_write_options(opts, &o, &d, "spk_write_csv_string");
    if (st != SPK_OK) return st;
    spk__io_output out;
    spk__io_output_string(&out);
    if ((st = spk__csv_write_rows(df, &out, &d, o.header)) != SPK_OK) {
        spk__io_output_abort(&out);
        return st;
    }
    return spk__io_output_close(&out, out_text, len);
}
