/* funcs: Spark's function library — scalar functions (a bind hook that types
 * the call and picks a kernel) and aggregate functions (per-group states).
 * The binder in eval finds them by name with spk__func_find. */
#include "vector.c"
#include "funcs.h"

typedef struct spk__func {
    const char *name;     /* lower case, as Spark names it */
    int min_args, max_args; /* max_args -1: any number */
    /* Called with the arguments bound: checks and coerces them (spk__coerce),
     * sets node->type, node->nullable and node->kernel (scalar) or node->agg. */
    spk_status (*bind)(spk__bnode *node);
    bool aggregate;
} spk__func;

/* ---------------------------------------------------------------- bind helpers */

static const char *spk__ordinal(int i) {
    static const char *const words[] = {"first", "second", "third", "fourth", "fifth"};
    return i < 5 ? words[i] : "next";
}

/* Coerces argument i to `to`, or fails in Spark's words. */
static spk_status spk__fn_arg(spk__bnode *node, int i, spk_type to) {
    spk_type from = node->args[i]->type;
    if (spk_type_equal(from, to)) return SPK_OK;
    if (!spk__can_implicit_cast(from, to)) {
        char want[32], got[32];
        spk_type_format(to, SPK_TYPE_SQL, want, sizeof want);
        spk_type_format(from, SPK_TYPE_SQL, got, sizeof got);
        return spk__fail(SPK_ERR_TYPE,
                         "[DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE] Cannot resolve \"%s\" due to data type mismatch: "
                         "the %s parameter requires the \"%s\" type, however it has the type \"%s\".",
                         node->label ? node->label : "?", spk__ordinal(i), want, got);
    }
    return spk__coerce(&node->args[i], to);
}

static spk_status spk__fn_args(spk__bnode *node, spk_type to) {
    for (int i = 0; i < node->nargs; i++) {
        spk_status st = spk__fn_arg(node, i, to);
        if (st != SPK_OK) return st;
    }
    return SPK_OK;
}

static spk_status spk__fn_numeric_arg(spk__bnode *node, int i) {
    if (spk__is_numeric_type(node->args[i]->type)) return SPK_OK;
    return spk__fn_arg(node, i, spk_type_of(SPK_TYPE_DOUBLE));
}

static bool spk__any_nullable(const spk__bnode *node) {
    for (int i = 0; i < node->nargs; i++)
        if (node->args[i]->nullable) return true;
    return false;
}

/* The common type of all arguments (for coalesce, greatest, ...). */
static spk_status spk__fn_common(spk__bnode *node, int first, spk_type *out) {
    spk_type t = node->args[first]->type;
    for (int i = first + 1; i < node->nargs; i++) {
        spk_type next;
        if (!spk__common_type(t, node->args[i]->type, false, &next)) {
            char a[32], b[32];
            spk_type_format(t, SPK_TYPE_SQL, a, sizeof a);
            spk_type_format(node->args[i]->type, SPK_TYPE_SQL, b, sizeof b);
            return spk__fail(SPK_ERR_TYPE,
                             "[DATATYPE_MISMATCH.DATA_DIFF_TYPES] Cannot resolve \"%s\" due to data type mismatch: "
                             "input to function %s should all be the same type, but it's [%s, %s].",
                             node->label, node->label, a, b);
        }
        t = next;
    }
    for (int i = first; i < node->nargs; i++) {
        spk_status st = spk__coerce(&node->args[i], t);
        if (st != SPK_OK) return st;
    }
    *out = t;
    return SPK_OK;
}

/* Whether argument i folded to a constant; *v gets its value. */
static bool spk__arg_const(const spk__bnode *node, int i, spk_value *v) {
    if (node->args[i]->kind != SPK__B_LIT) return false;
    *v = node->args[i]->lit;
    if (v->type.id == SPK_TYPE_NULL) v->is_null = true;
    return true;
}

/* Spark requires some arguments (round's scale, regexp_replace's position)
 * to be constants. */
static spk_status spk__fn_need_const(spk__bnode *node, int i, const char *what) {
    if (node->args[i]->kind == SPK__B_LIT) return SPK_OK;
    return spk__fail(SPK_ERR_TYPE,
                     "[DATATYPE_MISMATCH.NON_FOLDABLE_INPUT] Cannot resolve \"%s\" due to data type mismatch: "
                     "the input `%s` should be a foldable expression.",
                     node->label ? node->label : "?", what);
}

/* ---------------------------------------------------------------- kernel helpers */

static const spk__str spk__empty_str = {"", 0};

/* out.nulls = the OR of every argument's nulls. */
static void spk__nulls_any(spk__vec *out, spk__vec *const *args, int nargs, const uint32_t *sel, uint32_t n) {
    uint8_t *o = out->nulls;
    SPK__FOR_ROWS(sel, n, {
        uint8_t null = 0;
        for (int a = 0; a < nargs; a++) null |= args[a]->nulls[i];
        o[i] = null;
    });
}

/* spk__vec_set that leaves a NULL string row a valid empty view: kernels
 * read the bytes of NULL rows, which must not point into a freed batch. */
static void spk__vec_put(spk__vec *v, uint32_t i, const spk_value *x) {
    spk__vec_set(v, i, x);
    if (v->nulls[i] && v->type.id == SPK_TYPE_STRING) v->v.str[i] = spk__empty_str;
}

/* Row i of src (of out's type) into out. */
static void spk__vec_copy_row(spk__vec *out, const spk__vec *src, uint32_t i) {
    size_t w = spk__phys_size((spk_type_id)out->type.id);
    out->nulls[i] = src->nulls[i];
    memcpy((char *)out->v.any + i * w, (const char *)src->v.any + i * w, w);
}

/* The answer NULL for every row: round(x, NULL), date_trunc('fortnight', ts). */
static void spk__k_null(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                        const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    (void)args;
    bool str = out->type.id == SPK_TYPE_STRING;
    SPK__FOR_ROWS(sel, n, {
        out->nulls[i] = 1;
        if (str) out->v.str[i] = spk__empty_str;
    });
}

/* The first argument unchanged (after the bind hook's cast): to_date(x). */
static void spk__k_first(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                         const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    SPK__FOR_ROWS(sel, n, spk__vec_copy_row(out, args[0], i));
}

/* ---------------------------------------------------------------- UTF-8 text helpers */

static bool spk__utf8_cont(char c) { return ((unsigned char)c & 0xC0) == 0x80; }

/* The byte offset k code points after byte offset `at` (len if the text ends first). */
static size_t spk__utf8_skip(const char *s, size_t len, size_t at, int64_t k) {
    while (k > 0 && at < len) {
        at++;
        while (at < len && spk__utf8_cont(s[at])) at++;
        k--;
    }
    return at;
}

/* The first occurrence of needle in hay at or after byte `from`; SIZE_MAX if none. */
static size_t spk__find_bytes(const char *hay, size_t hl, size_t from, const char *needle, size_t nl) {
    if (from > hl) return SIZE_MAX;
    if (nl == 0) return from;
    if (hl - from < nl) return SIZE_MAX;
    const char *p = hay + from, *last = hay + (hl - nl);
    while (p <= last) {
        p = (const char *)memchr(p, needle[0], (size_t)(last - p) + 1);
        if (!p) return SIZE_MAX;
        if (memcmp(p, needle, nl) == 0) return (size_t)(p - hay);
        p++;
    }
    return SIZE_MAX;
}

static bool spk__ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* ---------------------------------------------------------------- strings */

/* Characters (code points) in UTF-8 text: bytes that do not continue one. */
static size_t spk__utf8_chars(const char *s, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

static void spk__k_length(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                          const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    const spk__str *x = args[0]->v.str;
    int32_t *o = out->v.i32;
    SPK__FOR_ROWS(sel, n, o[i] = (int32_t)spk__utf8_chars(x[i].ptr, x[i].len));
    spk__nulls_copy(out, args[0], sel, n);
}

/* upper/lower change ASCII letters only (Spark: Unicode case mapping). */
static void spk__k_case(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                        const uint32_t *sel, uint32_t n) {
    bool upper = node->iarg != 0;
    const spk__str *x = args[0]->v.str;
    const uint8_t *xn = args[0]->nulls;
    spk__str *o = out->v.str;
    SPK__FOR_ROWS(sel, n, {
        o[i].len = 0;
        o[i].ptr = "";
        if (!xn[i] && x[i].len) {
            char *buf = spk__eval_strbuf(ev, x[i].len);
            if (buf) {
                for (size_t k = 0; k < x[i].len; k++) {
                    char c = x[i].ptr[k];
                    if (upper && c >= 'a' && c <= 'z') c = (char)(c - 32);
                    else if (!upper && c >= 'A' && c <= 'Z') c = (char)(c + 32);
                    buf[k] = c;
                }
                o[i].ptr = buf;
                o[i].len = x[i].len;
            }
        }
    });
    spk__nulls_copy(out, args[0], sel, n);
}

static spk_status spk__bind_length(spk__bnode *node) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_STRING));
    node->type = spk_type_of(SPK_TYPE_INT32);
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_length;
    return st;
}

static spk_status spk__bind_upper(spk__bnode *node) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_STRING));
    node->type = spk_type_of(SPK_TYPE_STRING);
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_case;
    node->iarg = 1;
    return st;
}

static spk_status spk__bind_lower(spk__bnode *node) {
    spk_status st = spk__bind_upper(node);
    node->iarg = 0;
    return st;
}

/* concat(a, b, ...): NULL if any argument is NULL. */
static void spk__k_concat(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                          const uint32_t *sel, uint32_t n) {
    int na = node->nargs;
    spk__str *o = out->v.str;
    SPK__FOR_ROWS(sel, n, {
        size_t total = 0;
        uint8_t null = 0;
        for (int a = 0; a < na; a++) {
            null |= args[a]->nulls[i];
            total += args[a]->v.str[i].len;
        }
        out->nulls[i] = null;
        o[i].ptr = "";
        o[i].len = 0;
        if (!null && total) {
            char *buf = spk__eval_strbuf(ev, total);
            if (buf) {
                size_t at = 0;
                for (int a = 0; a < na; a++) {
                    memcpy(buf + at, args[a]->v.str[i].ptr, args[a]->v.str[i].len);
                    at += args[a]->v.str[i].len;
                }
                o[i].ptr = buf;
                o[i].len = total;
            }
        }
    });
}

static spk_status spk__bind_concat(spk__bnode *node) {
    spk_status st = spk__fn_args(node, spk_type_of(SPK_TYPE_STRING));
    node->type = spk_type_of(SPK_TYPE_STRING);
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_concat;
    return st;
}

/* trim, ltrim, rtrim: spaces (U+0020) only, as Spark's one-argument forms.
 * The result views the input's bytes. iarg: 1 leading, 2 trailing, 3 both. */
static void spk__k_trim(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                        const uint32_t *sel, uint32_t n) {
    (void)ev;
    int64_t sides = node->iarg;
    const spk__str *x = args[0]->v.str;
    const uint8_t *xn = args[0]->nulls;
    spk__str *o = out->v.str;
    SPK__FOR_ROWS(sel, n, {
        size_t a = 0, b = xn[i] ? 0 : x[i].len;
        if (sides & 1) while (a < b && x[i].ptr[a] == ' ') a++;
        if (sides & 2) while (b > a && x[i].ptr[b - 1] == ' ') b--;
        o[i] = xn[i] ? spk__empty_str : x[i];
        o[i].ptr += a;
        o[i].len = b - a;
    });
    spk__nulls_copy(out, args[0], sel, n);
}

static spk_status spk__bind_trim_sides(spk__bnode *node, int sides) {
    spk_status st = spk__bind_upper(node); /* STRING -> STRING */
    node->kernel = spk__k_trim;
    node->iarg = sides;
    return st;
}
static spk_status spk__bind_trim(spk__bnode *node) { return spk__bind_trim_sides(node, 3); }
static spk_status spk__bind_ltrim(spk__bnode *node) { return spk__bind_trim_sides(node, 1); }
static spk_status spk__bind_rtrim(spk__bnode *node) { return spk__bind_trim_sides(node, 2); }

/* substring(str, pos[, len]) in code points, as Spark's UTF8String.substringSQL:
 * pos 1 is the first character, 0 acts as 1, a negative pos counts from the
 * end; the window [start, start + len) is cut to the text. A view, no copy. */
static void spk__k_substring(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                             const uint32_t *sel, uint32_t n) {
    (void)ev;
    const spk__str *x = args[0]->v.str;
    const int32_t *pos = args[1]->v.i32, *len = node->nargs > 2 ? args[2]->v.i32 : NULL;
    spk__str *o = out->v.str;
    spk__nulls_any(out, args, node->nargs, sel, n);
    SPK__FOR_ROWS(sel, n, {
        o[i] = spk__empty_str;
        if (out->nulls[i]) continue;
        int64_t p = pos[i], start = p > 0 ? p - 1 : 0;
        if (p < 0) start = (int64_t)spk__utf8_chars(x[i].ptr, x[i].len) + p;
        int64_t end = start + (len ? len[i] : INT32_MAX); /* Spark's default length is Integer.MAX_VALUE */
        if (start < 0) start = 0;
        if (start >= end) continue;
        size_t a = spk__utf8_skip(x[i].ptr, x[i].len, 0, start);
        size_t b = spk__utf8_skip(x[i].ptr, x[i].len, a, end - start);
        o[i].ptr = x[i].ptr + a;
        o[i].len = b - a;
    });
}

static spk_status spk__bind_substring(spk__bnode *node) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_STRING));
    for (int i = 1; i < node->nargs && st == SPK_OK; i++) st = spk__fn_arg(node, i, spk_type_of(SPK_TYPE_INT32));
    node->type = spk_type_of(SPK_TYPE_STRING);
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_substring;
    return st;
}

/* concat_ws(sep, s1, s2, ...): NULL arguments are skipped; NULL only if sep is. */
static void spk__k_concat_ws(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                             const uint32_t *sel, uint32_t n) {
    int na = node->nargs;
    spk__str *o = out->v.str;
    const spk__str *sep = args[0]->v.str;
    SPK__FOR_ROWS(sel, n, {
        o[i] = spk__empty_str;
        out->nulls[i] = args[0]->nulls[i];
        if (out->nulls[i]) continue;
        size_t total = 0, parts = 0;
        for (int a = 1; a < na; a++) {
            if (args[a]->nulls[i]) continue;
            total += args[a]->v.str[i].len;
            parts++;
        }
        if (parts > 1) total += (parts - 1) * sep[i].len;
        if (total == 0) continue;
        char *buf = spk__eval_strbuf(ev, total);
        if (!buf) continue;
        size_t at = 0;
        parts = 0;
        for (int a = 1; a < na; a++) {
            if (args[a]->nulls[i]) continue;
            if (parts++) {
                memcpy(buf + at, sep[i].ptr, sep[i].len);
                at += sep[i].len;
            }
            if (args[a]->v.str[i].len) memcpy(buf + at, args[a]->v.str[i].ptr, args[a]->v.str[i].len);
            at += args[a]->v.str[i].len;
        }
        o[i].ptr = buf;
        o[i].len = total;
    });
}

static spk_status spk__bind_concat_ws(spk__bnode *node) {
    spk_status st = spk__fn_args(node, spk_type_of(SPK_TYPE_STRING));
    node->type = spk_type_of(SPK_TYPE_STRING);
    node->nullable = node->args[0]->nullable;
    node->kernel = spk__k_concat_ws;
    return st;
}

/* replace(str, search[, replacement]): every non-overlapping occurrence, left
 * to right; an empty search leaves str as it is. */
static void spk__k_replace(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                           const uint32_t *sel, uint32_t n) {
    const spk__str *x = args[0]->v.str, *s = args[1]->v.str;
    const spk__str *r = node->nargs > 2 ? args[2]->v.str : NULL;
    spk__str *o = out->v.str;
    spk__nulls_any(out, args, node->nargs, sel, n);
    SPK__FOR_ROWS(sel, n, {
        o[i] = spk__empty_str;
        if (out->nulls[i]) continue;
        o[i] = x[i];
        if (x[i].len == 0 || s[i].len == 0) continue;
        size_t rl = r ? r[i].len : 0, count = 0;
        for (size_t at = 0; (at = spk__find_bytes(x[i].ptr, x[i].len, at, s[i].ptr, s[i].len)) != SIZE_MAX; at += s[i].len)
            count++;
        if (count == 0) continue;
        size_t total = x[i].len - count * s[i].len + count * rl;
        char *buf = spk__eval_strbuf(ev, total);
        o[i] = spk__empty_str;
        if (!buf) continue;
        size_t from = 0, w = 0, at;
        while ((at = spk__find_bytes(x[i].ptr, x[i].len, from, s[i].ptr, s[i].len)) != SIZE_MAX) {
            memcpy(buf + w, x[i].ptr + from, at - from);
            w += at - from;
            if (rl) memcpy(buf + w, r[i].ptr, rl);
            w += rl;
            from = at + s[i].len;
        }
        memcpy(buf + w, x[i].ptr + from, x[i].len - from);
        o[i].ptr = buf;
        o[i].len = total;
    });
}

static spk_status spk__bind_replace(spk__bnode *node) {
    spk_status st = spk__bind_concat(node); /* every argument STRING, NULL in NULL out */
    node->kernel = spk__k_replace;
    return st;
}

/* instr(str, substr): the 1-based character position of the first
 * occurrence, 0 if none (an empty substr is found at 1). */
static void spk__k_instr(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                         const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    const spk__str *x = args[0]->v.str, *s = args[1]->v.str;
    int32_t *o = out->v.i32;
    spk__nulls_any(out, args, 2, sel, n);
    SPK__FOR_ROWS(sel, n, {
        o[i] = 0;
        if (out->nulls[i]) continue;
        size_t at = spk__find_bytes(x[i].ptr, x[i].len, 0, s[i].ptr, s[i].len);
        if (at != SIZE_MAX) o[i] = (int32_t)spk__utf8_chars(x[i].ptr, at) + 1;
    });
}

static spk_status spk__bind_instr(spk__bnode *node) {
    spk_status st = spk__fn_args(node, spk_type_of(SPK_TYPE_STRING));
    node->type = spk_type_of(SPK_TYPE_INT32);
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_instr;
    return st;
}

/* locate(substr, str[, pos]): the position of substr in str searching from
 * character pos (1-based). As Spark: a NULL pos gives 0, not NULL; pos < 1
 * gives 0; an empty substr is found at 1. */
static void spk__k_locate(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                          const uint32_t *sel, uint32_t n) {
    (void)ev;
    const spk__str *s = args[0]->v.str, *x = args[1]->v.str;
    const spk__vec *pv = node->nargs > 2 ? args[2] : NULL;
    int32_t *o = out->v.i32;
    SPK__FOR_ROWS(sel, n, {
        o[i] = 0;
        out->nulls[i] = 0;
        if (pv && pv->nulls[i]) continue;
        out->nulls[i] = args[0]->nulls[i] | args[1]->nulls[i];
        int64_t pos = pv ? pv->v.i32[i] : 1;
        if (out->nulls[i] || pos < 1) continue;
        if (s[i].len == 0) {
            o[i] = 1;
            continue;
        }
        size_t from = spk__utf8_skip(x[i].ptr, x[i].len, 0, pos - 1);
        size_t at = spk__find_bytes(x[i].ptr, x[i].len, from, s[i].ptr, s[i].len);
        if (at != SIZE_MAX) o[i] = (int32_t)(pos + (int64_t)spk__utf8_chars(x[i].ptr + from, at - from));
    });
}

static spk_status spk__bind_locate(spk__bnode *node) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_STRING));
    if (st == SPK_OK) st = spk__fn_arg(node, 1, spk_type_of(SPK_TYPE_STRING));
    if (st == SPK_OK && node->nargs > 2) st = spk__fn_arg(node, 2, spk_type_of(SPK_TYPE_INT32));
    node->type = spk_type_of(SPK_TYPE_INT32);
    node->nullable = node->args[0]->nullable || node->args[1]->nullable;
    node->kernel = spk__k_locate;
    return st;
}

/* lpad/rpad(str, len[, pad]): pad with repeats of pad (default ' ') to len
 * characters, or cut str to its first len characters; an empty pad only
 * cuts. iarg: 1 pads on the left. */
static void spk__k_pad(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                       const uint32_t *sel, uint32_t n) {
    bool left = node->iarg != 0;
    const spk__str *x = args[0]->v.str, *pad = node->nargs > 2 ? args[2]->v.str : NULL;
    const int32_t *len = args[1]->v.i32;
    spk__str *o = out->v.str;
    spk__nulls_any(out, args, node->nargs, sel, n);
    SPK__FOR_ROWS(sel, n, {
        o[i] = spk__empty_str;
        if (out->nulls[i] || len[i] <= 0) continue;
        spk__str p = pad ? pad[i] : (spk__str){" ", 1};
        size_t chars = spk__utf8_chars(x[i].ptr, x[i].len), want = (size_t)len[i];
        if (want <= chars || p.len == 0) {
            o[i].ptr = x[i].ptr;
            o[i].len = spk__utf8_skip(x[i].ptr, x[i].len, 0, (int64_t)want);
            continue;
        }
        size_t fill = want - chars, pchars = spk__utf8_chars(p.ptr, p.len);
        size_t whole = fill / pchars, part = spk__utf8_skip(p.ptr, p.len, 0, (int64_t)(fill % pchars));
        size_t total = whole * p.len + part + x[i].len;
        char *buf = spk__eval_strbuf(ev, total);
        if (!buf) continue;
        char *w = buf;
        if (!left) {
            memcpy(w, x[i].ptr, x[i].len);
            w += x[i].len;
        }
        for (size_t k = 0; k < whole; k++, w += p.len) memcpy(w, p.ptr, p.len);
        memcpy(w, p.ptr, part);
        w += part;
        if (left) memcpy(w, x[i].ptr, x[i].len);
        o[i].ptr = buf;
        o[i].len = total;
    });
}

static spk_status spk__bind_pad(spk__bnode *node, int left) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_STRING));
    if (st == SPK_OK) st = spk__fn_arg(node, 1, spk_type_of(SPK_TYPE_INT32));
    if (st == SPK_OK && node->nargs > 2) st = spk__fn_arg(node, 2, spk_type_of(SPK_TYPE_STRING));
    node->type = spk_type_of(SPK_TYPE_STRING);
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_pad;
    node->iarg = left;
    return st;
}
static spk_status spk__bind_lpad(spk__bnode *node) { return spk__bind_pad(node, 1); }
static spk_status spk__bind_rpad(spk__bnode *node) { return spk__bind_pad(node, 0); }

/* startswith / endswith / contains (iarg 0, 1, 2), byte-wise; "" is in every string. */
static void spk__k_affix(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                         const uint32_t *sel, uint32_t n) {
    (void)ev;
    int64_t which = node->iarg;
    const spk__str *x = args[0]->v.str, *s = args[1]->v.str;
    uint8_t *o = out->v.b;
    spk__nulls_any(out, args, 2, sel, n);
    SPK__FOR_ROWS(sel, n, {
        o[i] = 0;
        if (out->nulls[i] || s[i].len > x[i].len) continue;
        if (s[i].len == 0) o[i] = 1;
        else if (which == 0) o[i] = memcmp(x[i].ptr, s[i].ptr, s[i].len) == 0;
        else if (which == 1) o[i] = memcmp(x[i].ptr + x[i].len - s[i].len, s[i].ptr, s[i].len) == 0;
        else o[i] = spk__find_bytes(x[i].ptr, x[i].len, 0, s[i].ptr, s[i].len) != SIZE_MAX;
    });
}

static spk_status spk__bind_affix(spk__bnode *node, int which) {
    spk_status st = spk__fn_args(node, spk_type_of(SPK_TYPE_STRING));
    node->type = spk_type_of(SPK_TYPE_BOOLEAN);
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_affix;
    node->iarg = which;
    return st;
}
static spk_status spk__bind_startswith(spk__bnode *node) { return spk__bind_affix(node, 0); }
static spk_status spk__bind_endswith(spk__bnode *node) { return spk__bind_affix(node, 1); }
static spk_status spk__bind_contains(spk__bnode *node) { return spk__bind_affix(node, 2); }

/* reverse(str): by code point, so multi-byte characters stay whole. */
static void spk__k_reverse(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                           const uint32_t *sel, uint32_t n) {
    (void)node;
    const spk__str *x = args[0]->v.str;
    spk__str *o = out->v.str;
    spk__nulls_copy(out, args[0], sel, n);
    SPK__FOR_ROWS(sel, n, {
        o[i] = spk__empty_str;
        if (out->nulls[i] || x[i].len == 0) continue;
        char *buf = spk__eval_strbuf(ev, x[i].len);
        if (!buf) continue;
        size_t len = x[i].len;
        for (size_t a = 0, b; a < len; a = b) {
            b = spk__utf8_skip(x[i].ptr, len, a, 1);
            memcpy(buf + len - b, x[i].ptr + a, b - a);
        }
        o[i].ptr = buf;
        o[i].len = len;
    });
}

static spk_status spk__bind_reverse(spk__bnode *node) {
    spk_status st = spk__bind_upper(node);
    node->kernel = spk__k_reverse;
    return st;
}

/* initcap(str): lower case, then upper case for the first letter of the
 * text and after every space (Spark's toLowerCase().toTitleCase(); ASCII
 * letters only, like upper and lower). */
static void spk__k_initcap(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                           const uint32_t *sel, uint32_t n) {
    (void)node;
    const spk__str *x = args[0]->v.str;
    spk__str *o = out->v.str;
    spk__nulls_copy(out, args[0], sel, n);
    SPK__FOR_ROWS(sel, n, {
        o[i] = spk__empty_str;
        if (out->nulls[i] || x[i].len == 0) continue;
        char *buf = spk__eval_strbuf(ev, x[i].len);
        if (!buf) continue;
        for (size_t k = 0; k < x[i].len; k++) {
            char c = x[i].ptr[k];
            bool word_start = k == 0 || x[i].ptr[k - 1] == ' ';
            if (word_start && c >= 'a' && c <= 'z') c = (char)(c - 32);
            else if (!word_start && c >= 'A' && c <= 'Z') c = (char)(c + 32);
            buf[k] = c;
        }
        o[i].ptr = buf;
        o[i].len = x[i].len;
    });
}

static spk_status spk__bind_initcap(spk__bnode *node) {
    spk_status st = spk__bind_upper(node);
    node->kernel = spk__k_initcap;
    return st;
}

/* ---------------------------------------------------------------- regular expressions
 * Spark's patterns are Java regexes; we run them on POSIX extended regular
 * expressions from <regex.h> after translating the Java shorthands people
 * write (\d \w \s and their negations, \t \n \r) and a leading (?i).
 * Java constructs POSIX has no form for (lookaround, (?:...), lazy and
 * possessive quantifiers) are refused with a message rather than silently
 * matching differently. POSIX picks the leftmost-longest match where Java
 * picks the leftmost-first alternative, and `.` also matches a newline.
 * A constant pattern compiles once, at bind time; patterns from a column
 * compile whenever the text changes from one row to the next. */

#if defined(__unix__) || defined(__APPLE__)
#include <regex.h>
#define SPK__FN_REGEX 1

/* Writes the POSIX form of Java pattern p into out (room for 12 * len + 1
 * bytes); false with *why set if the pattern uses what POSIX lacks. */
static bool spk__regex_translate(const char *p, size_t len, char *out, const char **why) {
    static const struct { char c; const char *outside, *inside; } classes[] = {
        {'d', "[0-9]", "0-9"},           {'D', "[^0-9]", NULL},
        {'w', "[[:alnum:]_]", "[:alnum:]_"}, {'W', "[^[:alnum:]_]", NULL},
        {'s', "[[:space:]]", "[:space:]"},   {'S', "[^[:space:]]", NULL},
    };
    size_t o = 0;
    bool in_bracket = false;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (c == '\\' && i + 1 < len) {
            char e = p[++i];
            const char *put = NULL;
            for (size_t k = 0; k < sizeof classes / sizeof classes[0]; k++)
                if (classes[k].c == e) {
                    put = in_bracket ? classes[k].inside : classes[k].outside;
                    if (!put) {
                        *why = "a negated class (\\D, \\W, \\S) inside [...] is not supported";
                        return false;
                    }
                }
            if (put) {
                size_t n = strlen(put);
                memcpy(out + o, put, n);
                o += n;
                continue;
            }
            char lit = e == 't' ? '\t' : e == 'n' ? '\n' : e == 'r' ? '\r' : e == 'f' ? '\f' : 0;
            if (e == 'Q' || e == 'p' || e == 'P' || e == 'x' || e == 'u' || e == 'z' || e == 'Z' || e == 'A' || e == 'G') {
                *why = "this backslash escape is not supported by POSIX regular expressions";
                return false;
            }
            if (lit) {
                out[o++] = lit;
            } else if (in_bracket) {
                out[o++] = e; /* POSIX brackets take every character literally */
            } else {
                out[o++] = '\\';
                out[o++] = e;
            }
            continue;
        }
        if (in_bracket) {
            if (c == '[' && i + 1 < len && p[i + 1] != ':') {
                *why = "nested character classes are not supported";
                return false;
            }
            if (c == '&' && i + 1 < len && p[i + 1] == '&') {
                *why = "character class intersection (&&) is not supported";
                return false;
            }
            if (c == ']') in_bracket = false;
            out[o++] = c;
            continue;
        }
        if (c == '[') {
            in_bracket = true;
            out[o++] = c;
            if (i + 1 < len && p[i + 1] == '^') out[o++] = p[++i];
            if (i + 1 < len && p[i + 1] == ']') out[o++] = p[++i]; /* a leading ] is literal */
            continue;
        }
        if (c == '(' && i + 1 < len && p[i + 1] == '?') {
            *why = "groups starting with (? (non-capturing, lookaround, flags) are not supported";
            return false;
        }
        if ((c == '*' || c == '+' || c == '?' || c == '}') && i + 1 < len && (p[i + 1] == '?' || p[i + 1] == '+')) {
            *why = "lazy and possessive quantifiers (*? +? ?? *+ ...) are not supported";
            return false;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return true;
}

/* Checks Java's replacement syntax against a pattern with `groups` groups:
 * $n names a group (n takes as many digits as still name a group), \c is
 * the character c. NULL if valid, else why not. */
static const char *spk__regex_rep_check(const char *rep, size_t len, size_t groups) {
    for (size_t i = 0; i < len; i++) {
        if (rep[i] == '\\') {
            if (++i == len) return "character to be escaped is missing";
        } else if (rep[i] == '$') {
            if (++i == len) return "illegal group reference: group index is missing";
            if (rep[i] == '{') return "named groups (${name}) are not supported";
            if (!spk__is_digit((unsigned char)rep[i])) return "illegal group reference";
            size_t g = (size_t)(rep[i] - '0');
            if (g > groups) return "no such group";
            while (i + 1 < len && spk__is_digit((unsigned char)rep[i + 1]) && g * 10 + (size_t)(rep[i + 1] - '0') <= groups)
                g = g * 10 + (size_t)(rep[++i] - '0');
        }
    }
    return NULL;
}

/* A string being built in the batch arena, for results whose length is not
 * known up front (regexp_replace); it moves to a block twice as large when
 * full, and the arena reclaims the old one with the batch. */
typedef struct spk__sbuf {
    char *p;
    size_t len, cap;
    bool failed; /* out of memory: the row becomes "" and ev->status says why */
} spk__sbuf;

static bool spk__sbuf_reserve(spk__eval *ev, spk__sbuf *b, size_t more) {
    if (b->failed) return false;
    if (b->cap - b->len >= more) return true;
    size_t cap = b->cap ? b->cap * 2 : 64;
    while (cap - b->len < more) cap *= 2;
    char *p = spk__eval_strbuf(ev, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    if (b->len) memcpy(p, b->p, b->len);
    b->p = p;
    b->cap = cap;
    return true;
}

static void spk__sbuf_put(spk__eval *ev, spk__sbuf *b, const char *s, size_t n) {
    if (n && spk__sbuf_reserve(ev, b, n)) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
    }
}

static spk__str spk__sbuf_str(const spk__sbuf *b) {
    spk__str s = {b->p, b->len};
    if (b->failed || !b->p) s = spk__empty_str;
    return s;
}

enum { SPK__RE_GROUPS = 64 }; /* groups beyond these read as not matched */

/* A pattern compiled at bind time (the pattern is a constant). */
typedef struct spk__fn_regex {
    regex_t re;
} spk__fn_regex;

static void spk__fn_regex_free(void *aux) {
    regfree(&((spk__fn_regex *)aux)->re);
    spk__free(spk__bind_alloc(), aux, sizeof(spk__fn_regex));
}

/* Translates and compiles; false with a message in why (cap bytes). A
 * leading (?i), Java's case-insensitive flag, becomes REG_ICASE. */
static bool spk__regex_compile(const char *p, size_t len, regex_t *re, char *scratch, char *why, size_t cap) {
    const char *reason = NULL;
    int flags = REG_EXTENDED;
    if (len >= 4 && memcmp(p, "(?i)", 4) == 0) {
        flags |= REG_ICASE;
        p += 4;
        len -= 4;
    }
    if (memchr(p, '\0', len)) {
        snprintf(why, cap, "the pattern contains a NUL character");
        return false;
    }
    if (!spk__regex_translate(p, len, scratch, &reason)) {
        snprintf(why, cap, "%s", reason);
        return false;
    }
    int rc = regcomp(re, scratch, flags);
    if (rc != 0) {
        regerror(rc, re, why, cap);
        return false;
    }
    return true;
}

/* The pattern for row i: the bind-time one, or row i's own compiled into
 * *cur (kept while the next rows bring the same pattern text). NULL if it
 * does not compile. */
typedef struct spk__regex_cache {
    regex_t re;
    bool have;
    char *text; /* the pattern text *re was compiled from (arena) */
    size_t len;
} spk__regex_cache;

static const regex_t *spk__regex_for_row(spk__eval *ev, const spk__bnode *node, spk__regex_cache *c, spk__str pat) {
    if (node->aux) return &((const spk__fn_regex *)node->aux)->re;
    if (c->have && c->len == pat.len && (pat.len == 0 || memcmp(c->text, pat.ptr, pat.len) == 0)) return &c->re;
    if (c->have) regfree(&c->re);
    c->have = false;
    char *scratch = spk__eval_strbuf(ev, 12 * pat.len + 1), *text = spk__eval_strbuf(ev, pat.len);
    char why[128];
    if (!scratch || !text || !spk__regex_compile(pat.ptr, pat.len, &c->re, scratch, why, sizeof why)) return NULL;
    if (pat.len) memcpy(text, pat.ptr, pat.len); /* a NULL row's empty string may have no bytes at all */
    c->text = text;
    c->len = pat.len;
    c->have = true;
    return &c->re;
}

static void spk__regex_cache_free(spk__regex_cache *c) {
    if (c->have) regfree(&c->re);
}

/* A NUL-terminated copy of s in the batch arena (regexec wants C strings). */
static char *spk__cstr(spk__eval *ev, spk__str s) {
    char *p = spk__eval_strbuf(ev, s.len + 1);
    if (p) {
        if (s.len) memcpy(p, s.ptr, s.len);
        p[s.len] = '\0';
    }
    return p;
}

/* regexp_extract(str, regex[, idx = 1]): group idx of the first match; "" if
 * no match or the group did not take part. A group index the pattern lacks
 * fails Spark's query when a row matches; here that row is NULL. */
static void spk__k_regexp_extract(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                                  const uint32_t *sel, uint32_t n) {
    const spk__str *x = args[0]->v.str, *pat = args[1]->v.str;
    const int32_t *idx = node->nargs > 2 ? args[2]->v.i32 : NULL;
    spk__str *o = out->v.str;
    spk__regex_cache cache = {0};
    regmatch_t m[SPK__RE_GROUPS];
    spk__nulls_any(out, args, node->nargs, sel, n);
    SPK__FOR_ROWS(sel, n, {
        o[i] = spk__empty_str;
        if (out->nulls[i]) continue;
        const regex_t *re = spk__regex_for_row(ev, node, &cache, pat[i]);
        int64_t g = idx ? idx[i] : 1;
        char *text = re ? spk__cstr(ev, x[i]) : NULL;
        if (!re) { /* a pattern that does not compile: Spark fails the query */
            out->nulls[i] = 1;
            continue;
        }
        if (!text || regexec(re, text, SPK__RE_GROUPS, m, 0) != 0) continue;
        if (g < 0 || (size_t)g > re->re_nsub) {
            out->nulls[i] = 1;
            continue;
        }
        if (g >= SPK__RE_GROUPS || m[g].rm_so < 0) continue;
        o[i].ptr = x[i].ptr + m[g].rm_so;
        o[i].len = (size_t)(m[g].rm_eo - m[g].rm_so);
    });
    spk__regex_cache_free(&cache);
}

/* Appends the replacement for one match (checked by spk__regex_rep_check,
 * so every $n names a group). */
static void spk__regex_put_rep(spk__eval *ev, spk__sbuf *b, spk__str rep, const char *text, const regmatch_t *m,
                               size_t groups) {
    const char *r = rep.ptr;
    for (size_t i = 0; i < rep.len; i++) {
        if (r[i] == '\\' && i + 1 < rep.len) {
            spk__sbuf_put(ev, b, &r[++i], 1);
        } else if (r[i] == '$' && i + 1 < rep.len && spk__is_digit((unsigned char)r[i + 1])) {
            size_t g = (size_t)(r[++i] - '0');
            while (i + 1 < rep.len && spk__is_digit((unsigned char)r[i + 1]) && g * 10 + (size_t)(r[i + 1] - '0') <= groups)
                g = g * 10 + (size_t)(r[++i] - '0');
            if (g < SPK__RE_GROUPS && m[g].rm_so >= 0) spk__sbuf_put(ev, b, text + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
        } else {
            spk__sbuf_put(ev, b, &r[i], 1);
        }
    }
}

/* regexp_replace(str, regex, rep[, pos]): every match from character pos on
 * replaced, as Java's Matcher.replaceAll (an empty match also matches
 * between characters and at the end); as Spark, a str with fewer than pos
 * characters (an empty str too) comes back unchanged. */
static void spk__k_regexp_replace(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                                  const uint32_t *sel, uint32_t n) {
    const spk__str *x = args[0]->v.str, *pat = args[1]->v.str, *rep = args[2]->v.str;
    int64_t pos = node->iarg;
    spk__str *o = out->v.str;
    spk__regex_cache cache = {0};
    regmatch_t m[SPK__RE_GROUPS];
    spk__nulls_any(out, args, 3, sel, n);
    SPK__FOR_ROWS(sel, n, {
        o[i] = spk__empty_str;
        if (out->nulls[i]) continue;
        const regex_t *re = spk__regex_for_row(ev, node, &cache, pat[i]);
        if (!re || spk__regex_rep_check(rep[i].ptr, rep[i].len, re->re_nsub)) {
            out->nulls[i] = 1; /* Spark fails the query; we answer NULL */
            continue;
        }
        size_t len = x[i].len, start = spk__utf8_skip(x[i].ptr, len, 0, pos - 1);
        char *text = start < len ? spk__cstr(ev, x[i]) : NULL;
        if (start >= len) o[i] = x[i];
        if (!text) continue;
        spk__sbuf b = {NULL, 0, 0, false};
        spk__sbuf_put(ev, &b, text, start);
        size_t from = start, done = start; /* search from `from`; text before `done` is written */
        while (from <= len) {
            int flags = from > start ? REG_NOTBOL : 0;
            if (regexec(re, text + from, SPK__RE_GROUPS, m, flags) != 0) break;
            size_t ms = from + (size_t)m[0].rm_so, me = from + (size_t)m[0].rm_eo;
            for (int g = 0; g < SPK__RE_GROUPS; g++) /* offsets relative to text */
                if (m[g].rm_so >= 0) {
                    m[g].rm_so += (regoff_t)from;
                    m[g].rm_eo += (regoff_t)from;
                }
            spk__sbuf_put(ev, &b, text + done, ms - done);
            spk__regex_put_rep(ev, &b, rep[i], text, m, re->re_nsub);
            done = me;
            if (me > ms) from = me;
            else if (me < len) from = spk__utf8_skip(text, len, me, 1);
            else break;
        }
        spk__sbuf_put(ev, &b, text + done, len - done);
        o[i] = spk__sbuf_str(&b);
    });
    spk__regex_cache_free(&cache);
}

/* Compiles a constant pattern at bind time into node->aux (a bad pattern
 * is then an error at once, as in Spark's analysis). */
static spk_status spk__bind_regex_pattern(spk__bnode *node) {
    spk_value pat;
    if (!spk__arg_const(node, 1, &pat) || pat.is_null) return SPK_OK;
    spk__fn_regex *r = (spk__fn_regex *)spk__alloc(spk__bind_alloc(), sizeof *r);
    size_t scratch_size = 12 * pat.as.str.len + 1;
    char *scratch = r ? (char *)spk__alloc(spk__bind_alloc(), scratch_size) : NULL;
    if (!scratch) {
        spk__free(spk__bind_alloc(), r, sizeof *r);
        return spk__nomem("a regular expression", sizeof *r + scratch_size);
    }
    char why[160];
    bool ok = spk__regex_compile(pat.as.str.ptr, pat.as.str.len, &r->re, scratch, why, sizeof why);
    spk__free(spk__bind_alloc(), scratch, scratch_size);
    if (!ok) {
        spk__free(spk__bind_alloc(), r, sizeof *r);
        return spk__fail(SPK_ERR_ARG, "[INVALID_PARAMETER_VALUE.PATTERN] The value of parameter(s) `regexp` in `%s` is "
                         "invalid: '%.*s': %s", node->label ? node->label : "?", (int)pat.as.str.len, pat.as.str.ptr, why);
    }
    node->aux = r;
    node->aux_free = spk__fn_regex_free;
    return SPK_OK;
}
#endif

static spk_status spk__bind_regexp_extract(spk__bnode *node) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_STRING));
    if (st == SPK_OK) st = spk__fn_arg(node, 1, spk_type_of(SPK_TYPE_STRING));
    if (st == SPK_OK && node->nargs > 2) st = spk__fn_arg(node, 2, spk_type_of(SPK_TYPE_INT32));
    node->type = spk_type_of(SPK_TYPE_STRING);
    node->nullable = true;
    if (st != SPK_OK) return st;
#ifdef SPK__FN_REGEX
    if ((st = spk__bind_regex_pattern(node)) != SPK_OK) return st;
    spk_value idx;
    if (node->aux && (node->nargs < 3 || spk__arg_const(node, 2, &idx))) {
        int64_t g = node->nargs < 3 ? 1 : idx.is_null ? 0 : idx.as.i32;
        size_t groups = ((spk__fn_regex *)node->aux)->re.re_nsub;
        if (g < 0 || (size_t)g > groups)
            return spk__fail(SPK_ERR_ARG, "[INVALID_PARAMETER_VALUE.REGEX_GROUP_INDEX] The value of parameter(s) `idx` "
                             "in `%s` is invalid: Expects group index between 0 and %zu, but got %lld.",
                             node->label ? node->label : "?", groups, (long long)g);
    }
    node->kernel = spk__k_regexp_extract;
    return SPK_OK;
#else
    return spk__fail(SPK_ERR_UNSUPPORTED, "regexp_extract needs POSIX <regex.h>, which this platform lacks");
#endif
}

static spk_status spk__bind_regexp_replace(spk__bnode *node) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_STRING));
    if (st == SPK_OK) st = spk__fn_arg(node, 1, spk_type_of(SPK_TYPE_STRING));
    if (st == SPK_OK) st = spk__fn_arg(node, 2, spk_type_of(SPK_TYPE_STRING));
    node->type = spk_type_of(SPK_TYPE_STRING);
    node->nullable = true;
    node->iarg = 1;
    if (st == SPK_OK && node->nargs > 3) {
        spk_value pos = spk_value_i32(1);
        st = spk__fn_arg(node, 3, spk_type_of(SPK_TYPE_INT32));
        if (st == SPK_OK) st = spk__fn_need_const(node, 3, "position");
        if (st == SPK_OK && spk__arg_const(node, 3, &pos) && (pos.is_null || pos.as.i32 < 1))
            st = spk__fail(SPK_ERR_ARG, "[DATATYPE_MISMATCH.VALUE_OUT_OF_RANGE] Cannot resolve \"%s\" due to data type "
                           "mismatch: The `position` must be between 1 and 2147483647 (current value = %lld).",
                           node->label ? node->label : "?", pos.is_null ? 0LL : (long long)pos.as.i32);
        if (st == SPK_OK) node->iarg = pos.as.i32;
    }
    if (st != SPK_OK) return st;
#ifdef SPK__FN_REGEX
    if ((st = spk__bind_regex_pattern(node)) != SPK_OK) return st;
    spk_value rep;
    if (node->aux && spk__arg_const(node, 2, &rep) && !rep.is_null) {
        const char *why = spk__regex_rep_check(rep.as.str.ptr, rep.as.str.len, ((spk__fn_regex *)node->aux)->re.re_nsub);
        if (why)
            return spk__fail(SPK_ERR_ARG, "[INVALID_PARAMETER_VALUE] The value of parameter(s) `rep` in `%s` is invalid: "
                             "'%.*s': %s", node->label ? node->label : "?", (int)rep.as.str.len, rep.as.str.ptr, why);
    }
    node->kernel = spk__k_regexp_replace;
    return SPK_OK;
#else
    return spk__fail(SPK_ERR_UNSUPPORTED, "regexp_replace needs POSIX <regex.h>, which this platform lacks");
#endif
}

/* ---------------------------------------------------------------- null and conditional */

/* coalesce(a, b, ...): the first non-NULL argument. */
static void spk__k_coalesce(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                            const uint32_t *sel, uint32_t n) {
    (void)ev;
    int na = node->nargs;
    SPK__FOR_ROWS(sel, n, {
        spk_value v = spk_value_null_of(out->type);
        for (int a = 0; a < na; a++) {
            if (!args[a]->nulls[i]) {
                v = spk__vec_get(args[a], i);
                break;
            }
        }
        spk__vec_put(out, i, &v);
    });
}

static spk_status spk__bind_coalesce(spk__bnode *node) {
    spk_type t;
    spk_status st = spk__fn_common(node, 0, &t);
    node->type = t;
    node->nullable = true;
    for (int i = 0; i < node->nargs; i++)
        if (!node->args[i]->nullable) node->nullable = false;
    node->kernel = spk__k_coalesce;
    return st;
}

/* nvl(a, b) / ifnull(a, b): Spark rewrites them to coalesce(a, b). */
static spk_status spk__bind_nvl(spk__bnode *node) { return spk__bind_coalesce(node); }

/* if(cond, a, b) and nvl2(x, a, b): row by row, the chosen branch's value.
 * Both branches are computed for every row; that is safe because kernels
 * never fail per row. iarg: 0 if, 1 nvl2. */
static void spk__k_if(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                      const uint32_t *sel, uint32_t n) {
    (void)ev;
    const spk__vec *c = args[0];
    bool nvl2 = node->iarg != 0;
    SPK__FOR_ROWS(sel, n, {
        bool first = nvl2 ? !c->nulls[i] : (!c->nulls[i] && c->v.b[i]);
        spk__vec_copy_row(out, args[first ? 1 : 2], i);
    });
}

static spk_status spk__bind_if_like(spk__bnode *node, int nvl2) {
    spk_type t = spk_type_of(SPK_TYPE_NULL);
    spk_status st = SPK_OK;
    if (!nvl2) {
        spk_type_id id = (spk_type_id)node->args[0]->type.id;
        if (id == SPK_TYPE_NULL) st = spk__coerce(&node->args[0], spk_type_of(SPK_TYPE_BOOLEAN));
        else if (id != SPK_TYPE_BOOLEAN) {
            char got[32];
            spk_type_format(node->args[0]->type, SPK_TYPE_SQL, got, sizeof got);
            st = spk__fail(SPK_ERR_TYPE, "[DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE] Cannot resolve \"%s\" due to data "
                           "type mismatch: the first parameter requires the \"BOOLEAN\" type, however it has the type "
                           "\"%s\".", node->label ? node->label : "?", got);
        }
    }
    if (st == SPK_OK) st = spk__fn_common(node, 1, &t);
    node->type = t;
    node->nullable = node->args[1]->nullable || node->args[2]->nullable;
    node->kernel = spk__k_if;
    node->iarg = nvl2;
    return st;
}
static spk_status spk__bind_if(spk__bnode *node) { return spk__bind_if_like(node, 0); }
static spk_status spk__bind_nvl2(spk__bnode *node) { return spk__bind_if_like(node, 1); }

/* A type packed into iarg for kernels that need a second one. */
static int64_t spk__type_pack(spk_type t) { return (int64_t)t.id | (int64_t)t.precision << 8 | (int64_t)t.scale << 16; }
static spk_type spk__type_unpack(int64_t x) {
    spk_type t;
    t.id = (uint8_t)(x & 0xFF);
    t.precision = (uint8_t)(x >> 8 & 0xFF);
    t.scale = (uint8_t)(x >> 16 & 0xFF);
    return t;
}

/* nullif(a, b): NULL if a = b (compared as Spark's `=` would, at their
 * common type), else a, keeping a's own type. */
static void spk__k_nullif(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                          const uint32_t *sel, uint32_t n) {
    (void)ev;
    spk_type common = spk__type_unpack(node->iarg);
    SPK__FOR_ROWS(sel, n, {
        spk__vec_copy_row(out, args[0], i);
        if (out->nulls[i] || args[1]->nulls[i]) continue;
        spk_value a = spk__vec_get(args[0], i), b = spk__vec_get(args[1], i), ca, cb;
        char ta[SPK_VALUE_TEXT_MAX], tb[SPK_VALUE_TEXT_MAX];
        if (!spk_type_equal(a.type, common) && spk_value_cast(&a, common, &ca, ta) == SPK_OK) a = ca;
        if (!spk_type_equal(b.type, common) && spk_value_cast(&b, common, &cb, tb) == SPK_OK) b = cb;
        if (!a.is_null && !b.is_null && spk_value_compare(&a, &b, true) == 0) {
            out->nulls[i] = 1;
            if (out->type.id == SPK_TYPE_STRING) out->v.str[i] = spk__empty_str;
        }
    });
}

static spk_status spk__bind_nullif(spk__bnode *node) {
    spk_type common;
    node->type = node->args[0]->type;
    node->nullable = true;
    node->kernel = spk__k_nullif;
    if (!spk__common_type(node->args[0]->type, node->args[1]->type, true, &common)) {
        char a[32], b[32];
        spk_type_format(node->args[0]->type, SPK_TYPE_SQL, a, sizeof a);
        spk_type_format(node->args[1]->type, SPK_TYPE_SQL, b, sizeof b);
        return spk__fail(SPK_ERR_TYPE, "[DATATYPE_MISMATCH.BINARY_OP_DIFF_TYPES] Cannot resolve \"%s\" due to data type "
                         "mismatch: \"%s\" and \"%s\" cannot be compared.", node->label ? node->label : "?", a, b);
    }
    node->iarg = spk__type_pack(common);
    return SPK_OK;
}

/* isnull(x), isnotnull(x) (iarg 1, 0): never NULL themselves. */
static void spk__k_isnull(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                          const uint32_t *sel, uint32_t n) {
    (void)ev;
    uint8_t want = node->iarg ? 1 : 0;
    const uint8_t *x = args[0]->nulls;
    SPK__FOR_ROWS(sel, n, {
        out->v.b[i] = x[i] == want;
        out->nulls[i] = 0;
    });
}

static spk_status spk__bind_isnull(spk__bnode *node) {
    node->type = spk_type_of(SPK_TYPE_BOOLEAN);
    node->nullable = false;
    node->kernel = spk__k_isnull;
    node->iarg = 1;
    return SPK_OK;
}
static spk_status spk__bind_isnotnull(spk__bnode *node) {
    spk_status st = spk__bind_isnull(node);
    node->iarg = 0;
    return st;
}

/* nanvl(a, b): a unless a is NaN, then b (NULL a stays NULL). */
static void spk__k_nanvl(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                         const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    const double *a = args[0]->v.f64;
    SPK__FOR_ROWS(sel, n, spk__vec_copy_row(out, args[!args[0]->nulls[i] && isnan(a[i]) ? 1 : 0], i));
}

static spk_status spk__bind_nanvl(spk__bnode *node) {
    spk_status st = spk__fn_args(node, spk_type_of(SPK_TYPE_DOUBLE));
    node->type = spk_type_of(SPK_TYPE_DOUBLE);
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_nanvl;
    return st;
}

/* ---------------------------------------------------------------- math */

static void spk__k_abs(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                       const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    const spk__vec *a = args[0];
    switch (out->type.id) {
    case SPK_TYPE_INT32: { /* wraps at INT_MIN, as Java's Math.abs */
        const int32_t *x = a->v.i32;
        int32_t *o = out->v.i32;
        SPK__FOR_ROWS(sel, n, o[i] = x[i] < 0 ? (int32_t)(0u - (uint32_t)x[i]) : x[i]);
        break;
    }
    case SPK_TYPE_DOUBLE: {
        const double *x = a->v.f64;
        double *o = out->v.f64;
        SPK__FOR_ROWS(sel, n, o[i] = fabs(x[i]));
        break;
    }
    default: { /* INT64, DECIMAL */
        const int64_t *x = a->v.i64;
        int64_t *o = out->v.i64;
        SPK__FOR_ROWS(sel, n, o[i] = x[i] < 0 ? (int64_t)(0 - (uint64_t)x[i]) : x[i]);
        break;
    }
    }
    spk__nulls_copy(out, a, sel, n);
}

static spk_status spk__bind_abs(spk__bnode *node) {
    spk_status st = spk__fn_numeric_arg(node, 0);
    node->type = node->args[0]->type;
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_abs;
    return st;
}

/* Unary DOUBLE -> DOUBLE functions picked by iarg; NaN results of a domain
 * error (sqrt(-1)) stay NaN, as Java's Math; ln/log of <= 0 is NULL, as Spark. */
enum { SPK__M_SQRT, SPK__M_CBRT, SPK__M_EXP, SPK__M_LN, SPK__M_LOG10, SPK__M_LOG2 };

static void spk__k_math1(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                         const uint32_t *sel, uint32_t n) {
    (void)ev;
    const double *x = args[0]->v.f64;
    const uint8_t *xn = args[0]->nulls;
    double *o = out->v.f64;
    uint8_t *on = out->nulls;
    int64_t which = node->iarg;
    SPK__FOR_ROWS(sel, n, {
        double v = x[i];
        uint8_t null = xn[i];
        switch (which) {
        case SPK__M_SQRT: v = sqrt(v); break;
        case SPK__M_CBRT: v = cbrt(v); break;
        case SPK__M_EXP: v = exp(v); break;
        case SPK__M_LN: null |= v <= 0; v = log(v); break;
        case SPK__M_LOG10: null |= v <= 0; v = log10(v); break;
        default: null |= v <= 0; v = log2(v); break;
        }
        o[i] = v;
        on[i] = null;
    });
}

static spk_status spk__bind_math1(spk__bnode *node, int which) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_DOUBLE));
    node->type = spk_type_of(SPK_TYPE_DOUBLE);
    node->nullable = true;
    node->kernel = spk__k_math1;
    node->iarg = which;
    return st;
}
static spk_status spk__bind_sqrt(spk__bnode *node) { return spk__bind_math1(node, SPK__M_SQRT); }
static spk_status spk__bind_cbrt(spk__bnode *node) { return spk__bind_math1(node, SPK__M_CBRT); }
static spk_status spk__bind_exp(spk__bnode *node) { return spk__bind_math1(node, SPK__M_EXP); }
static spk_status spk__bind_ln(spk__bnode *node) { return spk__bind_math1(node, SPK__M_LN); }
static spk_status spk__bind_log10(spk__bnode *node) { return spk__bind_math1(node, SPK__M_LOG10); }
static spk_status spk__bind_log2(spk__bnode *node) { return spk__bind_math1(node, SPK__M_LOG2); }

/* |v| / 10^k rounded half-up (away from zero) or half-even, with v's sign;
 * exact in 64 bits for every k (10^19 and up round everything to 0 or 1). */
static int64_t spk__div_pow10_round(int64_t v, int64_t k, bool half_even) {
    if (k <= 0) return v;
    if (k > 19) return 0;
    uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    uint64_t p = k == 19 ? 10000000000000000000ULL : (uint64_t)spk__pow10[k];
    uint64_t q = mag / p, r = mag % p, rest = p - r;
    if (r > rest || (r == rest && (!half_even || (q & 1)))) q++;
    return v < 0 ? -(int64_t)q : (int64_t)q;
}

/* round/bround of an integer to 10^k (k >= 1), wrapping to 64 bits as
 * Java's BigDecimal.longValue does. */
static int64_t spk__round_int(int64_t v, int64_t k, bool half_even) {
    if (k > 19) return 0;
    uint64_t p = k == 19 ? 10000000000000000000ULL : (uint64_t)spk__pow10[k];
    return (int64_t)((uint64_t)spk__div_pow10_round(v, k, half_even) * p);
}

static const double spk__pow10_f64[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                          1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* round/bround of a double to d decimal places as Spark does it: on the
 * shortest decimal that prints the double (Java's BigDecimal.valueOf), so
 * round(2.675, 2) is 2.68 although the double is below 2.675. */
static double spk__round_double(double x, int64_t d, bool half_even) {
    if (isnan(x) || isinf(x)) return x;
    if (x == 0) return 0.0; /* BigDecimal has no -0 */
    /* Fast path: when x * 10^d is far enough from a .5 tie that neither the
     * product's rounding error nor the gap between x and its shortest
     * decimal (each below |y| * 2^-53) can change the side, the nearest
     * integer over 10^d is the answer, correctly rounded by the division. */
    if (d >= 0 && d <= 22) {
        double p = spk__pow10_f64[d], y = x * p, fy = floor(y), frac = y - fy;
        if (fabs(y) < 1099511627776.0 /* 2^40 */ && fabs(frac - 0.5) > 1.0 / 4096) {
            double r = (frac > 0.5 ? fy + 1 : fy) / p;
            return r == 0 ? 0.0 : r;
        }
    }
    /* The shortest digits that read back as x: if some k <= 15 digits do,
     * the 15-digit rounding is those digits and zeros (15-digit steps are
     * wider than a double's ulp), so 15, 16 and 17 are the only tries. */
    char text[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(text, sizeof text, "%.*e", prec - 1, x);
        if (prec == 17 || strtod(text, NULL) == x) break;
    }
    /* text is [-]d[.ddd]e[+-]xx: the digits D and the exponent E of the first one */
    char digits[24];
    int nd = 0;
    const char *p = text;
    bool neg = *p == '-';
    for (; *p && *p != 'e'; p++)
        if (spk__is_digit((unsigned char)*p) && nd < 20) digits[nd++] = *p;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    int64_t e_first = *p == 'e' ? atoi(p + 1) : 0, e_last = e_first - nd + 1;
    if (-d <= e_last) return x; /* already has at most d decimals */
    int64_t drop = -d - e_last; /* digits to drop from the end */
    if (drop > nd) return 0.0;  /* even the first digit is below half a unit */
    uint64_t kept = 0;
    for (int k = 0; k < nd - drop; k++) kept = kept * 10 + (uint64_t)(digits[k] - '0');
    int first = digits[nd - drop] - '0';
    bool rest = false;
    for (int k = (int)(nd - drop) + 1; k < nd; k++) rest |= digits[k] != '0';
    if (first > 5 || (first == 5 && (rest || !half_even || (kept & 1)))) kept++;
    if (kept == 0) return 0.0;
    char out[64];
    snprintf(out, sizeof out, "%s%llue%lld", neg ? "-" : "", (unsigned long long)kept, (long long)-d);
    return strtod(out, NULL);
}

/* round/bround(x, d); iarg = d * 4 + (1 for HALF_EVEN). */
static void spk__k_round(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                         const uint32_t *sel, uint32_t n) {
    (void)ev;
    int64_t d = spk__floor_div(node->iarg, 4);
    bool even = spk__floor_mod(node->iarg, 4) == 1;
    const spk__vec *a = args[0];
    spk__nulls_copy(out, a, sel, n);
    switch (out->type.id) {
    case SPK_TYPE_INT32: {
        const int32_t *x = a->v.i32;
        int32_t *o = out->v.i32;
        SPK__FOR_ROWS(sel, n, o[i] = d >= 0 ? x[i] : (int32_t)(uint32_t)(uint64_t)spk__round_int(x[i], -d, even));
        break;
    }
    case SPK_TYPE_INT64: {
        const int64_t *x = a->v.i64;
        int64_t *o = out->v.i64;
        SPK__FOR_ROWS(sel, n, o[i] = d >= 0 ? x[i] : spk__round_int(x[i], -d, even));
        break;
    }
    case SPK_TYPE_DOUBLE: {
        const double *x = a->v.f64;
        double *o = out->v.f64;
        SPK__FOR_ROWS(sel, n, o[i] = spk__round_double(x[i], d, even));
        break;
    }
    case SPK_TYPE_DECIMAL: {
        /* to scale d (or to 10^-d, stored at scale 0), NULL if it overflows
         * the result's precision (only possible where it was capped at 18) */
        const int64_t *x = a->v.i64;
        int64_t *o = out->v.i64, limit = spk__pow10[out->type.precision];
        int s = a->type.scale;
        uint8_t *on = out->nulls;
        SPK__FOR_ROWS(sel, n, {
            int64_t v = spk__div_pow10_round(x[i], d >= s ? 0 : s - d, even);
            if (d < 0) {
                if (v != 0 && -d > 18) on[i] = 1;
                else if (v != 0) {
                    int64_t p = spk__pow10[-d];
                    if (v > INT64_MAX / p || v < -INT64_MAX / p) on[i] = 1;
                    else v *= p;
                }
            }
            on[i] |= v >= limit || v <= -limit;
            o[i] = on[i] ? 0 : v;
        });
        break;
    }
    default: break;
    }
}

static spk_status spk__bind_round_mode(spk__bnode *node, bool half_even) {
    spk_status st = spk__fn_numeric_arg(node, 0);
    spk_value scale = spk_value_i32(0);
    if (st == SPK_OK && node->nargs > 1) {
        st = spk__fn_arg(node, 1, spk_type_of(SPK_TYPE_INT32));
        if (st == SPK_OK) st = spk__fn_need_const(node, 1, "scale");
        if (st == SPK_OK) spk__arg_const(node, 1, &scale);
    }
    if (st != SPK_OK) return st;
    int64_t d = scale.is_null ? 0 : scale.as.i32;
    spk_type t = node->args[0]->type;
    if (t.id == SPK_TYPE_DECIMAL) { /* Spark: room for one more integer digit, at most s decimals */
        int64_t p = t.precision, s = t.scale, int_digits = p - s + 1, prec, sc;
        if (d < 0) {
            prec = int_digits > -d + 1 ? int_digits : -d + 1;
            sc = 0;
        } else {
            sc = s < d ? s : d;
            prec = int_digits + sc;
        }
        if (prec > SPK_DECIMAL_MAX_PRECISION) prec = SPK_DECIMAL_MAX_PRECISION;
        t = spk_type_decimal((int)prec, (int)sc);
    }
    node->type = t;
    node->nullable = scale.is_null || t.id == SPK_TYPE_DECIMAL || node->args[0]->nullable;
    node->kernel = scale.is_null ? spk__k_null : spk__k_round;
    node->iarg = d * 4 + (half_even ? 1 : 0);
    return SPK_OK;
}
static spk_status spk__bind_round(spk__bnode *node) { return spk__bind_round_mode(node, false); }
static spk_status spk__bind_bround(spk__bnode *node) { return spk__bind_round_mode(node, true); }

/* floor/ceil (iarg 0, 1): DOUBLE and integers to BIGINT, DECIMAL(p, s) to
 * DECIMAL(p - s + 1, 0). */
static void spk__k_floor_ceil(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                              const uint32_t *sel, uint32_t n) {
    (void)ev;
    bool ceiling = node->iarg != 0;
    const spk__vec *a = args[0];
    int64_t *o = out->v.i64;
    spk__nulls_copy(out, a, sel, n);
    if (a->type.id == SPK_TYPE_DOUBLE) {
        const double *x = a->v.f64;
        SPK__FOR_ROWS(sel, n, o[i] = spk__double_to_int64(ceiling ? ceil(x[i]) : floor(x[i])));
    } else if (a->type.id == SPK_TYPE_DECIMAL && a->type.scale > 0) {
        const int64_t *x = a->v.i64;
        int64_t p = spk__pow10[a->type.scale];
        SPK__FOR_ROWS(sel, n, o[i] = ceiling ? -spk__floor_div(-x[i], p) : spk__floor_div(x[i], p));
    } else {
        const int64_t *x = a->v.i64;
        SPK__FOR_ROWS(sel, n, o[i] = x[i]);
    }
}

static spk_status spk__bind_floor_ceil(spk__bnode *node, int ceiling) {
    spk_status st = spk__fn_numeric_arg(node, 0);
    spk_type t = node->args[0]->type;
    if (st == SPK_OK && t.id == SPK_TYPE_INT32) st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_INT64));
    node->type = spk_type_of(SPK_TYPE_INT64);
    if (t.id == SPK_TYPE_DECIMAL && t.scale > 0) {
        int p = t.precision - t.scale + 1;
        node->type = spk_type_decimal(p > SPK_DECIMAL_MAX_PRECISION ? SPK_DECIMAL_MAX_PRECISION : p, 0);
    } else if (t.id == SPK_TYPE_DECIMAL) {
        node->type = t;
    }
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_floor_ceil;
    node->iarg = ceiling;
    return st;
}
static spk_status spk__bind_floor(spk__bnode *node) { return spk__bind_floor_ceil(node, 0); }
static spk_status spk__bind_ceil(spk__bnode *node) { return spk__bind_floor_ceil(node, 1); }

/* Java's StrictMath.pow where C's pow differs: a NaN exponent gives NaN
 * even for base 1, and (+-1)^(+-Infinity) is NaN. */
static double spk__java_pow(double x, double y) {
    if (isnan(y) || (isinf(y) && fabs(x) == 1)) return NAN;
    return pow(x, y);
}

/* Binary DOUBLE functions: iarg 0 log(base, x) (NULL if either is <= 0), 1 pow. */
static void spk__k_math2(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                         const uint32_t *sel, uint32_t n) {
    (void)ev;
    const double *a = args[0]->v.f64, *b = args[1]->v.f64;
    double *o = out->v.f64;
    uint8_t *on = out->nulls;
    spk__nulls_or(out, args[0], args[1], sel, n);
    if (node->iarg == 0)
        SPK__FOR_ROWS(sel, n, {
            on[i] |= a[i] <= 0 || b[i] <= 0;
            o[i] = on[i] ? 0 : log(b[i]) / log(a[i]);
        });
    else
        SPK__FOR_ROWS(sel, n, o[i] = spk__java_pow(a[i], b[i]));
}

static spk_status spk__bind_math2(spk__bnode *node, int which) {
    spk_status st = spk__fn_args(node, spk_type_of(SPK_TYPE_DOUBLE));
    node->type = spk_type_of(SPK_TYPE_DOUBLE);
    node->nullable = which == 0 || spk__any_nullable(node);
    node->kernel = spk__k_math2;
    node->iarg = which;
    return st;
}
static spk_status spk__bind_log(spk__bnode *node) {
    return node->nargs == 1 ? spk__bind_ln(node) : spk__bind_math2(node, 0);
}
static spk_status spk__bind_pow(spk__bnode *node) { return spk__bind_math2(node, 1); }

/* signum: -1.0, 0.0 (keeping -0.0), 1.0, or NaN, always DOUBLE as Spark. */
static void spk__k_signum(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                          const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    const double *x = args[0]->v.f64;
    double *o = out->v.f64;
    SPK__FOR_ROWS(sel, n, o[i] = x[i] > 0 ? 1.0 : x[i] < 0 ? -1.0 : x[i]);
    spk__nulls_copy(out, args[0], sel, n);
}

static spk_status spk__bind_signum(spk__bnode *node) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_DOUBLE));
    node->type = spk_type_of(SPK_TYPE_DOUBLE);
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_signum;
    return st;
}

/* greatest/least (iarg 1, -1): skips NULLs; NULL only if all are. Ties keep
 * the first; doubles order NaN above everything, as Spark. */
static void spk__k_greatest(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                            const uint32_t *sel, uint32_t n) {
    (void)ev;
    int na = node->nargs;
    int64_t dir = node->iarg;
    SPK__FOR_ROWS(sel, n, {
        int best = -1;
        spk_value bv = spk_value_null_of(out->type);
        for (int a = 0; a < na; a++) {
            if (args[a]->nulls[i]) continue;
            spk_value v = spk__vec_get(args[a], i);
            if (best < 0 || spk_value_compare(&v, &bv, true) * dir > 0) {
                best = a;
                bv = v;
            }
        }
        if (best < 0) {
            spk__vec_put(out, i, &bv);
        } else {
            spk__vec_copy_row(out, args[best], i);
        }
    });
}

static spk_status spk__bind_greatest_dir(spk__bnode *node, int dir) {
    spk_type t = node->args[0]->type;
    spk_status st = SPK_OK;
    for (int i = 1; i < node->nargs && st == SPK_OK; i++) {
        spk_type u = node->args[i]->type, next = t;
        /* Spark widens without promoting to STRING: greatest(1, '2') is an error */
        bool one_string = (t.id == SPK_TYPE_STRING) != (u.id == SPK_TYPE_STRING) && t.id != SPK_TYPE_NULL &&
                          u.id != SPK_TYPE_NULL;
        if (one_string || !spk__common_type(t, u, false, &next)) {
            char x[32], y[32];
            spk_type_format(t, SPK_TYPE_SQL, x, sizeof x);
            spk_type_format(u, SPK_TYPE_SQL, y, sizeof y);
            st = spk__fail(SPK_ERR_TYPE, "[DATATYPE_MISMATCH.DATA_DIFF_TYPES] Cannot resolve \"%s\" due to data type "
                           "mismatch: input to function %s should all be the same type, but it's [%s, %s].",
                           node->label ? node->label : "?", dir > 0 ? "`greatest`" : "`least`", x, y);
        }
        t = next;
    }
    for (int i = 0; i < node->nargs && st == SPK_OK; i++) st = spk__coerce(&node->args[i], t);
    node->type = t;
    node->nullable = true;
    for (int i = 0; i < node->nargs; i++)
        if (!node->args[i]->nullable) node->nullable = false;
    node->kernel = spk__k_greatest;
    node->iarg = dir;
    return st;
}
static spk_status spk__bind_greatest(spk__bnode *node) { return spk__bind_greatest_dir(node, 1); }
static spk_status spk__bind_least(spk__bnode *node) { return spk__bind_greatest_dir(node, -1); }

static spk__wide spk__wide_mod(spk__wide x, spk__wide y) {
#if defined(__SIZEOF_INT128__)
    return x % y;
#else
    return fmodl(x, y);
#endif
}

/* pmod(a, n): a mod n made non-negative for positive n, as Spark:
 * r = a % n; r < 0 ? (r + n) % n : r. NULL when n is 0. Integers wrap. */
static void spk__k_pmod(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                        const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    const spk__vec *va = args[0], *vb = args[1];
    uint8_t *on = out->nulls;
    spk__nulls_or(out, va, vb, sel, n);
    switch (out->type.id) {
    case SPK_TYPE_INT32: {
        const int32_t *a = va->v.i32, *b = vb->v.i32;
        int32_t *o = out->v.i32;
        SPK__FOR_ROWS(sel, n, {
            on[i] |= b[i] == 0;
            int32_t m = b[i], r = (m == 0 || m == -1) ? 0 : a[i] % m;
            if (r < 0) {
                int32_t s = (int32_t)((uint32_t)r + (uint32_t)m);
                r = m == -1 ? 0 : s % m;
            }
            o[i] = r;
        });
        break;
    }
    case SPK_TYPE_INT64: {
        const int64_t *a = va->v.i64, *b = vb->v.i64;
        int64_t *o = out->v.i64;
        SPK__FOR_ROWS(sel, n, {
            on[i] |= b[i] == 0;
            int64_t m = b[i], r = (m == 0 || m == -1) ? 0 : a[i] % m;
            if (r < 0) {
                int64_t s = (int64_t)((uint64_t)r + (uint64_t)m);
                r = m == -1 ? 0 : s % m;
            }
            o[i] = r;
        });
        break;
    }
    case SPK_TYPE_DOUBLE: {
        const double *a = va->v.f64, *b = vb->v.f64;
        double *o = out->v.f64;
        SPK__FOR_ROWS(sel, n, {
            on[i] |= b[i] == 0;
            double r = b[i] == 0 ? 0 : fmod(a[i], b[i]);
            o[i] = r < 0 ? fmod(r + b[i], b[i]) : r;
        });
        break;
    }
    case SPK_TYPE_DECIMAL: {
        const int64_t *a = va->v.i64, *b = vb->v.i64;
        int64_t *o = out->v.i64;
        int sa = va->type.scale, sb = vb->type.scale, s = sa > sb ? sa : sb;
        int prec = out->type.precision, os = out->type.scale;
        SPK__FOR_ROWS(sel, n, {
            spk__wide x = spk__wide_rescale(a[i], sa, s), y = spk__wide_rescale(b[i], sb, s), r = 0;
            on[i] |= y == 0;
            if (y != 0) {
                r = spk__wide_mod(x, y);
                if (r < 0) r = spk__wide_mod(r + y, y);
            }
            if (!on[i] && !spk__wide_fits(spk__wide_rescale(r, s, os), prec, &o[i])) on[i] = 1;
        });
        break;
    }
    default: break;
    }
}

static spk_status spk__bind_pmod(spk__bnode *node) {
    spk_status st = SPK_OK;
    for (int i = 0; i < 2 && st == SPK_OK; i++) /* strings read as DOUBLE, as in arithmetic */
        if (node->args[i]->type.id == SPK_TYPE_STRING) st = spk__coerce(&node->args[i], spk_type_of(SPK_TYPE_DOUBLE));
    if (st == SPK_OK && node->args[0]->type.id == SPK_TYPE_NULL && node->args[1]->type.id == SPK_TYPE_NULL)
        st = spk__coerce(&node->args[0], spk_type_of(SPK_TYPE_DOUBLE));
    for (int i = 0; i < 2 && st == SPK_OK; i++)
        if (node->args[i]->type.id == SPK_TYPE_NULL) st = spk__coerce(&node->args[i], node->args[1 - i]->type);
    if (st != SPK_OK) return st;
    spk_type ta = node->args[0]->type, tb = node->args[1]->type, t;
    if (!spk__is_numeric_type(ta) || !spk__is_numeric_type(tb)) {
        char x[32], y[32];
        spk_type_format(ta, SPK_TYPE_SQL, x, sizeof x);
        spk_type_format(tb, SPK_TYPE_SQL, y, sizeof y);
        return spk__fail(SPK_ERR_TYPE, "[DATATYPE_MISMATCH.BINARY_OP_DIFF_TYPES] Cannot resolve \"%s\" due to data type "
                         "mismatch: pmod requires numeric operands, not \"%s\" and \"%s\".",
                         node->label ? node->label : "?", x, y);
    }
    if (ta.id == SPK_TYPE_DOUBLE || tb.id == SPK_TYPE_DOUBLE) {
        t = spk_type_of(SPK_TYPE_DOUBLE);
        st = spk__fn_args(node, t);
    } else if (ta.id == SPK_TYPE_DECIMAL || tb.id == SPK_TYPE_DECIMAL) {
        spk_type da = spk__decimal_of(ta), db = spk__decimal_of(tb);
        int s = da.scale > db.scale ? da.scale : db.scale, ia = da.precision - da.scale, ib = db.precision - db.scale;
        t = spk__decimal_bounded((ia < ib ? ia : ib) + s, s);
        st = spk__fn_arg(node, 0, da);
        if (st == SPK_OK) st = spk__fn_arg(node, 1, db);
    } else {
        t = spk_type_of(ta.id == SPK_TYPE_INT64 || tb.id == SPK_TYPE_INT64 ? SPK_TYPE_INT64 : SPK_TYPE_INT32);
        st = spk__fn_args(node, t);
    }
    node->type = t;
    node->nullable = true;
    node->kernel = spk__k_pmod;
    return st;
}

/* ---------------------------------------------------------------- dates */

/* Adds months to a day number, clamping to the month's last day (Spark's add_months). */
static int32_t spk__add_months(int32_t days, int64_t months) {
    int64_t y;
    int m, d;
    spk__civil_from_days(days, &y, &m, &d);
    int64_t total = y * 12 + (m - 1) + months;
    int64_t ny = spk__floor_div(total, 12);
    int nm = (int)(total - ny * 12) + 1;
    int last = spk__days_in_month(ny, nm);
    return (int32_t)spk__days_from_civil(ny, nm, d > last ? last : d);
}

/* Day of the week of a day number, 0 = Monday .. 6 = Sunday (1970-01-01 was a Thursday). */
static int spk__weekday(int64_t days) { return (int)spk__floor_mod(days + 3, 7); }

/* ISO 8601 week of the year: weeks start on Monday and week 1 holds the
 * year's first Thursday, so the week's Thursday decides its year. */
static int spk__iso_week(int64_t days) {
    int64_t thursday = days - spk__weekday(days) + 3, y;
    int m, d;
    spk__civil_from_days(thursday, &y, &m, &d);
    return (int)((thursday - spk__days_from_civil(y, 1, 1)) / 7 + 1);
}

enum { SPK__D_YEAR, SPK__D_MONTH, SPK__D_DAY, SPK__D_DAYOFWEEK, SPK__D_WEEKDAY, SPK__D_DAYOFYEAR, SPK__D_QUARTER,
       SPK__D_WEEKOFYEAR };

static void spk__k_date_part(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                             const uint32_t *sel, uint32_t n) {
    (void)ev;
    const int32_t *x = args[0]->v.i32;
    int32_t *o = out->v.i32;
    int64_t part = node->iarg;
    SPK__FOR_ROWS(sel, n, {
        int64_t y;
        int m, d;
        spk__civil_from_days(x[i], &y, &m, &d);
        switch (part) {
        case SPK__D_YEAR: o[i] = (int32_t)y; break;
        case SPK__D_MONTH: o[i] = m; break;
        case SPK__D_DAY: o[i] = d; break;
        case SPK__D_DAYOFWEEK: o[i] = (spk__weekday(x[i]) + 1) % 7 + 1; break; /* 1 = Sunday */
        case SPK__D_WEEKDAY: o[i] = spk__weekday(x[i]); break;                 /* 0 = Monday */
        case SPK__D_DAYOFYEAR: o[i] = (int32_t)(x[i] - spk__days_from_civil(y, 1, 1) + 1); break;
        case SPK__D_QUARTER: o[i] = (m - 1) / 3 + 1; break;
        default: o[i] = spk__iso_week(x[i]); break;
        }
    });
    spk__nulls_copy(out, args[0], sel, n);
}

static spk_status spk__bind_date_part(spk__bnode *node, int part) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_DATE));
    node->type = spk_type_of(SPK_TYPE_INT32);
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_date_part;
    node->iarg = part;
    return st;
}
static spk_status spk__bind_year(spk__bnode *node) { return spk__bind_date_part(node, SPK__D_YEAR); }
static spk_status spk__bind_month(spk__bnode *node) { return spk__bind_date_part(node, SPK__D_MONTH); }
static spk_status spk__bind_dayofmonth(spk__bnode *node) { return spk__bind_date_part(node, SPK__D_DAY); }
static spk_status spk__bind_dayofweek(spk__bnode *node) { return spk__bind_date_part(node, SPK__D_DAYOFWEEK); }
static spk_status spk__bind_weekday(spk__bnode *node) { return spk__bind_date_part(node, SPK__D_WEEKDAY); }
static spk_status spk__bind_dayofyear(spk__bnode *node) { return spk__bind_date_part(node, SPK__D_DAYOFYEAR); }
static spk_status spk__bind_quarter(spk__bnode *node) { return spk__bind_date_part(node, SPK__D_QUARTER); }
static spk_status spk__bind_weekofyear(spk__bnode *node) { return spk__bind_date_part(node, SPK__D_WEEKOFYEAR); }

/* hour/minute/second of a TIMESTAMP (iarg: seconds per unit, units per next). */
static void spk__k_time_part(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                             const uint32_t *sel, uint32_t n) {
    (void)ev;
    const int64_t *x = args[0]->v.i64;
    int32_t *o = out->v.i32;
    int64_t unit = node->iarg * SPK__MICROS_PER_SECOND, per = node->iarg == 3600 ? 24 : 60;
    SPK__FOR_ROWS(sel, n, o[i] = (int32_t)(spk__floor_mod(x[i], SPK__MICROS_PER_DAY) / unit % per));
    spk__nulls_copy(out, args[0], sel, n);
}

static spk_status spk__bind_time_part(spk__bnode *node, int seconds) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_TIMESTAMP));
    node->type = spk_type_of(SPK_TYPE_INT32);
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_time_part;
    node->iarg = seconds;
    return st;
}
static spk_status spk__bind_hour(spk__bnode *node) { return spk__bind_time_part(node, 3600); }
static spk_status spk__bind_minute(spk__bnode *node) { return spk__bind_time_part(node, 60); }
static spk_status spk__bind_second(spk__bnode *node) { return spk__bind_time_part(node, 1); }

/* date_add(d, n) / date_sub(d, n) (iarg = sign). */
static void spk__k_date_add(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                            const uint32_t *sel, uint32_t n) {
    (void)ev;
    const int32_t *d = args[0]->v.i32, *k = args[1]->v.i32;
    int32_t *o = out->v.i32;
    int64_t sign = node->iarg;
    SPK__FOR_ROWS(sel, n, o[i] = (int32_t)(uint32_t)((int64_t)d[i] + sign * k[i]));
    spk__nulls_or(out, args[0], args[1], sel, n);
}

static spk_status spk__bind_date_add(spk__bnode *node) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_DATE));
    if (st == SPK_OK) st = spk__fn_arg(node, 1, spk_type_of(SPK_TYPE_INT32));
    node->type = spk_type_of(SPK_TYPE_DATE);
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_date_add;
    node->iarg = 1;
    return st;
}
static spk_status spk__bind_date_sub(spk__bnode *node) {
    spk_status st = spk__bind_date_add(node);
    node->iarg = -1;
    return st;
}

static void spk__k_add_months(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                              const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    const int32_t *d = args[0]->v.i32, *k = args[1]->v.i32;
    int32_t *o = out->v.i32;
    SPK__FOR_ROWS(sel, n, o[i] = spk__add_months(d[i], k[i]));
    spk__nulls_or(out, args[0], args[1], sel, n);
}

static spk_status spk__bind_add_months(spk__bnode *node) {
    spk_status st = spk__bind_date_add(node);
    node->kernel = spk__k_add_months;
    return st;
}

/* datediff(end, start): days from start to end. */
static void spk__k_datediff(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                            const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    const int32_t *a = args[0]->v.i32, *b = args[1]->v.i32;
    int32_t *o = out->v.i32;
    SPK__FOR_ROWS(sel, n, o[i] = (int32_t)(uint32_t)((int64_t)a[i] - b[i]));
    spk__nulls_or(out, args[0], args[1], sel, n);
}

static spk_status spk__bind_datediff(spk__bnode *node) {
    spk_status st = spk__fn_args(node, spk_type_of(SPK_TYPE_DATE));
    node->type = spk_type_of(SPK_TYPE_INT32);
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_datediff;
    return st;
}

/* last_day(d): the last day of d's month. */
static void spk__k_last_day(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                            const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    const int32_t *x = args[0]->v.i32;
    int32_t *o = out->v.i32;
    SPK__FOR_ROWS(sel, n, {
        int64_t y;
        int m, d;
        spk__civil_from_days(x[i], &y, &m, &d);
        o[i] = (int32_t)(x[i] + (spk__days_in_month(y, m) - d));
    });
    spk__nulls_copy(out, args[0], sel, n);
}

static spk_status spk__bind_last_day(spk__bnode *node) {
    spk_status st = spk__bind_date_part(node, 0);
    node->type = spk_type_of(SPK_TYPE_DATE);
    node->kernel = spk__k_last_day;
    return st;
}

/* months_between(end, start[, roundOff = true]) as Spark's DateTimeUtils:
 * whole months when the days of month agree or both are month ends; else
 * the month difference plus the rest in seconds over 31-day months,
 * rounded half-up to 8 decimals when roundOff. */
static double spk__months_between(int64_t t1, int64_t t2, bool round_off) {
    int64_t d1 = spk__floor_div(t1, SPK__MICROS_PER_DAY), d2 = spk__floor_div(t2, SPK__MICROS_PER_DAY), y1, y2;
    int m1, m2, day1, day2;
    spk__civil_from_days(d1, &y1, &m1, &day1);
    spk__civil_from_days(d2, &y2, &m2, &day2);
    double months = (double)((y1 * 12 + m1) - (y2 * 12 + m2));
    bool end1 = day1 == spk__days_in_month(y1, m1), end2 = day2 == spk__days_in_month(y2, m2);
    if (day1 == day2 || (end1 && end2)) return months;
    int64_t secs1 = spk__floor_mod(t1, SPK__MICROS_PER_DAY) / SPK__MICROS_PER_SECOND;
    int64_t secs2 = spk__floor_mod(t2, SPK__MICROS_PER_DAY) / SPK__MICROS_PER_SECOND;
    double diff = months + (double)((int64_t)(day1 - day2) * 86400 + secs1 - secs2) / (31.0 * 86400);
    if (!round_off) return diff;
    double scaled = diff * 1e8, r = floor(scaled); /* Java's Math.round: half-up */
    if (scaled - r >= 0.5) r += 1;
    return r / 1e8;
}

static void spk__k_months_between(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                                  const uint32_t *sel, uint32_t n) {
    (void)ev;
    const int64_t *a = args[0]->v.i64, *b = args[1]->v.i64;
    const uint8_t *r = node->nargs > 2 ? args[2]->v.b : NULL;
    double *o = out->v.f64;
    spk__nulls_any(out, args, node->nargs, sel, n);
    SPK__FOR_ROWS(sel, n, o[i] = spk__months_between(a[i], b[i], r ? r[i] != 0 : true));
}

static spk_status spk__bind_months_between(spk__bnode *node) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_TIMESTAMP));
    if (st == SPK_OK) st = spk__fn_arg(node, 1, spk_type_of(SPK_TYPE_TIMESTAMP));
    if (st == SPK_OK && node->nargs > 2) st = spk__fn_arg(node, 2, spk_type_of(SPK_TYPE_BOOLEAN));
    node->type = spk_type_of(SPK_TYPE_DOUBLE);
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_months_between;
    return st;
}

/* -- truncation units (Spark's DateTimeUtils.parseTruncLevel) */
enum { SPK__TRUNC_INVALID = -1, SPK__TRUNC_MICROSECOND, SPK__TRUNC_MILLISECOND, SPK__TRUNC_SECOND, SPK__TRUNC_MINUTE,
       SPK__TRUNC_HOUR, SPK__TRUNC_DAY, SPK__TRUNC_WEEK, SPK__TRUNC_MONTH, SPK__TRUNC_QUARTER, SPK__TRUNC_YEAR,
       SPK__TRUNC_PER_ROW /* the unit is not a constant */ };

static int spk__trunc_level(const char *s, size_t len) {
    static const struct { const char *name; int level; } units[] = {
        {"microsecond", SPK__TRUNC_MICROSECOND}, {"millisecond", SPK__TRUNC_MILLISECOND}, {"second", SPK__TRUNC_SECOND},
        {"minute", SPK__TRUNC_MINUTE}, {"hour", SPK__TRUNC_HOUR}, {"day", SPK__TRUNC_DAY}, {"dd", SPK__TRUNC_DAY},
        {"week", SPK__TRUNC_WEEK}, {"mon", SPK__TRUNC_MONTH}, {"month", SPK__TRUNC_MONTH}, {"mm", SPK__TRUNC_MONTH},
        {"quarter", SPK__TRUNC_QUARTER}, {"year", SPK__TRUNC_YEAR}, {"yyyy", SPK__TRUNC_YEAR}, {"yy", SPK__TRUNC_YEAR},
    };
    for (size_t k = 0; k < sizeof units / sizeof units[0]; k++)
        if (spk__word_is(s, len, units[k].name)) return units[k].level;
    return SPK__TRUNC_INVALID;
}

/* The first day of the week (Monday), month, quarter or year holding `days`. */
static int64_t spk__trunc_days(int64_t days, int level) {
    int64_t y;
    int m, d;
    if (level == SPK__TRUNC_WEEK) return days - spk__weekday(days);
    spk__civil_from_days(days, &y, &m, &d);
    if (level == SPK__TRUNC_MONTH) return spk__days_from_civil(y, m, 1);
    if (level == SPK__TRUNC_QUARTER) return spk__days_from_civil(y, (m - 1) / 3 * 3 + 1, 1);
    return spk__days_from_civil(y, 1, 1);
}

static int64_t spk__trunc_micros(int64_t t, int level) {
    static const int64_t unit[] = {1, 1000, SPK__MICROS_PER_SECOND, 60 * SPK__MICROS_PER_SECOND,
                                   3600 * SPK__MICROS_PER_SECOND, SPK__MICROS_PER_DAY};
    if (level <= SPK__TRUNC_DAY) return t - spk__floor_mod(t, unit[level]);
    int64_t days = spk__trunc_days(spk__floor_div(t, SPK__MICROS_PER_DAY), level);
    return (int64_t)((uint64_t)days * (uint64_t)SPK__MICROS_PER_DAY); /* wraps only at the range's ends */
}

/* date_trunc(unit, ts) -> TIMESTAMP; trunc(date, unit) -> DATE (units from
 * WEEK up only). An unknown unit gives NULL, as Spark. iarg: the level, or
 * SPK__TRUNC_PER_ROW. */
static void spk__k_date_trunc(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                              const uint32_t *sel, uint32_t n) {
    (void)ev;
    bool is_date = out->type.id == SPK_TYPE_DATE;
    const spk__vec *unit = args[is_date ? 1 : 0], *x = args[is_date ? 0 : 1];
    spk__nulls_or(out, unit, x, sel, n);
    SPK__FOR_ROWS(sel, n, {
        int level = (int)node->iarg;
        if (level == SPK__TRUNC_PER_ROW)
            level = out->nulls[i] ? SPK__TRUNC_INVALID : spk__trunc_level(unit->v.str[i].ptr, unit->v.str[i].len);
        if (level == SPK__TRUNC_INVALID || (is_date && level < SPK__TRUNC_WEEK)) out->nulls[i] = 1;
        else if (is_date) out->v.i32[i] = (int32_t)spk__trunc_days(x->v.i32[i], level);
        else out->v.i64[i] = spk__trunc_micros(x->v.i64[i], level);
    });
}

static spk_status spk__bind_trunc_common(spk__bnode *node, int unit_arg, spk_type t) {
    spk_status st = spk__fn_arg(node, unit_arg, spk_type_of(SPK_TYPE_STRING));
    if (st == SPK_OK) st = spk__fn_arg(node, 1 - unit_arg, t);
    node->type = t;
    node->nullable = true;
    node->kernel = spk__k_date_trunc;
    node->iarg = SPK__TRUNC_PER_ROW;
    spk_value unit;
    if (st == SPK_OK && spk__arg_const(node, unit_arg, &unit)) {
        int level = unit.is_null ? SPK__TRUNC_INVALID : spk__trunc_level(unit.as.str.ptr, unit.as.str.len);
        if (level == SPK__TRUNC_INVALID || (t.id == SPK_TYPE_DATE && level < SPK__TRUNC_WEEK)) node->kernel = spk__k_null;
        node->iarg = level;
    }
    return st;
}
static spk_status spk__bind_date_trunc(spk__bnode *node) {
    return spk__bind_trunc_common(node, 0, spk_type_of(SPK_TYPE_TIMESTAMP));
}
static spk_status spk__bind_trunc(spk__bnode *node) { return spk__bind_trunc_common(node, 1, spk_type_of(SPK_TYPE_DATE)); }

/* ---------------------------------------------------------------- datetime patterns
 * Spark 3's datetime patterns (java.time DateTimeFormatter letters), in UTC:
 * parsing for to_date/to_timestamp, formatting for date_format. Supported:
 * y M L d D H h K k m s S a, 'quoted text', [optional sections], and for
 * formatting also E and Q/q; other letters (eras, zones, week-based
 * fields) are refused. y is the proleptic year (Spark turns y into
 * java.time's u), so year 0 and negative years work. Parsing is
 * case-insensitive, as Spark's formatters are. */

enum { SPK__DT_MAX_TOKENS = 64, SPK__DT_MAX_PATTERN = 4096 };

typedef struct spk__dt_token {
    char letter;      /* a pattern letter; 0 literal text; '[' ']' an optional section */
    uint8_t count;    /* times the letter repeats */
    uint16_t at, len; /* literal text: bytes of the pattern */
} spk__dt_token;

typedef struct spk__dt_pattern {
    int n;
    spk__dt_token tok[SPK__DT_MAX_TOKENS];
} spk__dt_pattern;

static const char *const spk__month_names[12] = {"January", "February", "March",     "April",   "May",      "June",
                                                 "July",    "August",   "September", "October", "November", "December"};
static const char *const spk__day_names[7] = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};

/* The most times a letter may repeat; 0 if we do not support it. As in
 * Spark: narrow (5-letter) text forms and years of 7 or more letters are
 * refused, and E and Q/q only format. */
static int spk__dt_max_count(char c, bool parsing) {
    switch (c) {
    case 'y': return 6;
    case 'S': return 9;
    case 'M': case 'L': return 4;
    case 'd': case 'H': case 'h': case 'K': case 'k': case 'm': case 's': return 2;
    case 'D': return 3;
    case 'a': return 1;
    case 'E': case 'Q': case 'q': return parsing ? 0 : 4;
    default: return 0;
    }
}

static bool spk__dt_special(char c) { return c == '\'' || c == '[' || c == ']' || c == '{' || c == '}' || c == '#'; }

static bool spk__dt_add(spk__dt_pattern *p, char letter, size_t count, size_t at, size_t len) {
    if (p->n == SPK__DT_MAX_TOKENS) return false;
    spk__dt_token *t = &p->tok[p->n++];
    t->letter = letter;
    t->count = (uint8_t)count;
    t->at = (uint16_t)at;
    t->len = (uint16_t)len;
    return true;
}

/* Splits a pattern into tokens; false with the reason in why. */
static bool spk__dt_compile(const char *f, size_t len, bool parsing, spk__dt_pattern *p, char *why, size_t cap) {
    p->n = 0;
    if (len > SPK__DT_MAX_PATTERN) {
        snprintf(why, cap, "the pattern is longer than %d bytes", SPK__DT_MAX_PATTERN);
        return false;
    }
    int depth = 0;
    size_t i = 0;
    bool room = true;
    while (i < len && room) {
        char c = f[i];
        if (c == '\'') { /* 'text', with '' for a quote inside or outside */
            size_t j = i + 1, start = j;
            if (j < len && f[j] == '\'') {
                room = spk__dt_add(p, 0, 0, i, 1);
                i += 2;
                continue;
            }
            for (;;) {
                if (j >= len) {
                    snprintf(why, cap, "the pattern ends inside a quoted literal");
                    return false;
                }
                if (f[j] != '\'') {
                    j++;
                } else if (j + 1 < len && f[j + 1] == '\'') {
                    room = room && spk__dt_add(p, 0, 0, start, j + 1 - start);
                    j += 2;
                    start = j;
                } else {
                    if (j > start) room = room && spk__dt_add(p, 0, 0, start, j - start);
                    i = j + 1;
                    break;
                }
            }
        } else if (spk__ascii_alpha(c)) {
            size_t j = i;
            while (j < len && f[j] == c) j++;
            int max = spk__dt_max_count(c, parsing);
            if (max == 0) {
                snprintf(why, cap, "the pattern letter '%c' is not supported%s", c,
                         parsing && (c == 'E' || c == 'Q' || c == 'q') ? " for parsing" : "");
                return false;
            }
            if (j - i > (size_t)max) {
                snprintf(why, cap, "too many pattern letters: %c", c);
                return false;
            }
            room = spk__dt_add(p, c, j - i, i, 0);
            i = j;
        } else if (c == '[' || c == ']') {
            if (c == ']' && depth == 0) {
                snprintf(why, cap, "']' without a matching '['");
                return false;
            }
            depth += c == '[' ? 1 : -1;
            room = spk__dt_add(p, c, 0, i, 0);
            i++;
        } else if (c == '{' || c == '}' || c == '#') {
            snprintf(why, cap, "the character '%c' is reserved", c);
            return false;
        } else {
            size_t j = i;
            while (j < len && !spk__ascii_alpha(f[j]) && !spk__dt_special(f[j])) j++;
            room = spk__dt_add(p, 0, 0, i, j - i);
            i = j;
        }
    }
    if (!room) {
        snprintf(why, cap, "the pattern has more than %d parts", SPK__DT_MAX_TOKENS);
        return false;
    }
    return true; /* an unclosed [ ends at the pattern's end, as in java.time */
}

/* -- formatting */

static char *spk__put_uint(char *o, int64_t v, int width) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    for (int k = n; k < width; k++) *o++ = '0';
    while (n) *o++ = tmp[--n];
    return o;
}

/* Bytes that formatting with p can take at most. */
static size_t spk__dt_bound(const spk__dt_pattern *p) {
    size_t n = 0;
    for (int k = 0; k < p->n; k++) n += p->tok[k].letter ? (size_t)p->tok[k].count + 16 : p->tok[k].len;
    return n;
}

static char *spk__put_name(char *o, const char *name, int count) {
    size_t n = count <= 3 ? 3 : strlen(name);
    memcpy(o, name, n);
    return o + n;
}

static size_t spk__dt_format(const spk__dt_pattern *p, const char *f, int64_t ts, char *out) {
    int64_t days = spk__floor_div(ts, SPK__MICROS_PER_DAY), tod = spk__floor_mod(ts, SPK__MICROS_PER_DAY), y;
    int m, d;
    spk__civil_from_days(days, &y, &m, &d);
    int hour = (int)(tod / (3600 * SPK__MICROS_PER_SECOND)), micros = (int)(tod % SPK__MICROS_PER_SECOND);
    int minute = (int)(tod / (60 * SPK__MICROS_PER_SECOND) % 60), second = (int)(tod / SPK__MICROS_PER_SECOND % 60);
    char *o = out;
    for (int k = 0; k < p->n; k++) {
        const spk__dt_token *t = &p->tok[k];
        int c = t->count;
        switch (t->letter) {
        case 0: memcpy(o, f + t->at, t->len); o += t->len; break;
        case 'y': { /* Spark reads y as java.time's u, the proleptic year */
            if (c == 2) {
                o = spk__put_uint(o, spk__floor_mod(y, 100), 2);
                break;
            }
            if (y < 0) *o++ = '-';
            else if (c >= 4 && y >= spk__pow10[c]) *o++ = '+'; /* java.time's EXCEEDS_PAD */
            o = spk__put_uint(o, y < 0 ? -y : y, c);
            break;
        }
        case 'M':
        case 'L': o = c <= 2 ? spk__put_uint(o, m, c) : spk__put_name(o, spk__month_names[m - 1], c); break;
        case 'd': o = spk__put_uint(o, d, c); break;
        case 'D': o = spk__put_uint(o, days - spk__days_from_civil(y, 1, 1) + 1, c); break;
        case 'H': o = spk__put_uint(o, hour, c); break;
        case 'k': o = spk__put_uint(o, hour == 0 ? 24 : hour, c); break;
        case 'K': o = spk__put_uint(o, hour % 12, c); break;
        case 'h': o = spk__put_uint(o, hour % 12 == 0 ? 12 : hour % 12, c); break;
        case 'm': o = spk__put_uint(o, minute, c); break;
        case 's': o = spk__put_uint(o, second, c); break;
        case 'S': { /* the fraction, cut (not rounded) to c digits */
            char frac[24]; /* six digits; gcc -O3 warns unless it has room for any spk__put_uint */
            spk__put_uint(frac, micros, 6);
            for (int j = 0; j < c; j++) *o++ = j < 6 ? frac[j] : '0';
            break;
        }
        case 'a': memcpy(o, hour < 12 ? "AM" : "PM", 2); o += 2; break;
        case 'E': o = spk__put_name(o, spk__day_names[spk__weekday(days)], c); break;
        case 'Q':
        case 'q': {
            int q = (m - 1) / 3 + 1;
            static const char *const ordinal[4] = {"1st", "2nd", "3rd", "4th"};
            if (c <= 2) o = spk__put_uint(o, q, c);
            else if (c == 3) o += sprintf(o, "Q%d", q);
            else o += sprintf(o, "%s quarter", ordinal[q - 1]);
            break;
        }
        default: break; /* '[' and ']': every field is present, so sections print */
        }
    }
    return (size_t)(o - out);
}

/* -- parsing */

typedef struct spk__dt_fields {
    int64_t year, month, day, doy, hour, minute, second, micros;
    int ampm;         /* -1 none, 0 AM, 1 PM */
    char hour_letter; /* H, k, h or K; 0 if no hour */
    bool has_year, has_month, has_day, has_doy;
} spk__dt_fields;

/* Whether the token reads digits (for java.time's adjacent value parsing). */
static bool spk__dt_numeric(const spk__dt_token *t) {
    if (t->letter == 'M' || t->letter == 'L') return t->count <= 2;
    return t->letter != 0 && strchr("ydDHhKkmsS", t->letter) != NULL;
}

static bool spk__ascii_ieq(const char *a, const char *b, size_t n) {
    for (size_t k = 0; k < n; k++)
        if (spk__lower((unsigned char)a[k]) != spk__lower((unsigned char)b[k])) return false;
    return true;
}

/* Index of the name (its first 3 letters unless full) at s + *pos, or -1. */
static int spk__dt_name(const char *s, size_t len, size_t *pos, const char *const *names, int count, bool full) {
    for (int k = 0; k < count; k++) {
        size_t n = full ? strlen(names[k]) : 3;
        if (len - *pos >= n && spk__ascii_ieq(s + *pos, names[k], n)) {
            *pos += n;
            return k;
        }
    }
    return -1;
}

/* Matches tokens [from, to) at s + *pos into fl. */
static bool spk__dt_match(const spk__dt_pattern *p, int from, int to, const char *f, const char *s, size_t len,
                          size_t *pos, spk__dt_fields *fl) {
    for (int k = from; k < to; k++) {
        const spk__dt_token *t = &p->tok[k];
        int c = t->count;
        switch (t->letter) {
        case 0:
            if (len - *pos < t->len || !spk__ascii_ieq(s + *pos, f + t->at, t->len)) return false;
            *pos += t->len;
            continue;
        case '[': { /* an optional section: taken if it matches, else skipped */
            int end = k + 1, depth = 1;
            for (; end < to; end++) {
                depth += p->tok[end].letter == '[' ? 1 : p->tok[end].letter == ']' ? -1 : 0;
                if (depth == 0) break;
            }
            size_t saved_pos = *pos;
            spk__dt_fields saved = *fl;
            if (!spk__dt_match(p, k + 1, end, f, s, len, pos, fl)) {
                *pos = saved_pos;
                *fl = saved;
            }
            k = end;
            continue;
        }
        case ']': continue;
        case 'a':
            if (len - *pos < 2) return false;
            if (spk__ascii_ieq(s + *pos, "AM", 2)) fl->ampm = 0;
            else if (spk__ascii_ieq(s + *pos, "PM", 2)) fl->ampm = 1;
            else return false;
            *pos += 2;
            continue;
        case 'M':
        case 'L':
            if (c >= 3) {
                int month = spk__dt_name(s, len, pos, spk__month_names, 12, c == 4);
                if (month < 0) return false;
                fl->month = month + 1;
                fl->has_month = true;
                continue;
            }
            break;
        default: break;
        }
        /* a number: widths as java.time reads them; a field followed directly
         * by another number takes no more digits than its pattern shows */
        bool adjacent = k + 1 < to && spk__dt_numeric(&p->tok[k + 1]), negative = false;
        int min = c, max = c;
        if (t->letter == 'y' && c != 2 && *pos < len && (s[*pos] == '-' || s[*pos] == '+'))
            negative = s[(*pos)++] == '-';
        if (t->letter == 'y' && c != 2) max = adjacent ? (c > 4 ? c : 4) : 9;
        else if (t->letter == 'D') max = c == 1 && !adjacent ? 9 : 3;
        else if (t->letter == 'S') min = 1;
        else if (c == 1) max = adjacent ? 2 : 9; /* one letter alone reads every digit there is */
        int64_t v = 0;
        int nd = 0;
        while (*pos < len && nd < max && spk__is_digit((unsigned char)s[*pos])) v = v * 10 + (s[(*pos)++] - '0'), nd++;
        if (nd < min) return false;
        switch (t->letter) {
        case 'y': fl->year = c == 2 ? 2000 + v : negative ? -v : v; fl->has_year = true; break;
        case 'M':
        case 'L': fl->month = v; fl->has_month = true; break;
        case 'd': fl->day = v; fl->has_day = true; break;
        case 'D': fl->doy = v; fl->has_doy = true; break;
        case 'm': fl->minute = v; break;
        case 's': fl->second = v; break;
        case 'S':
            while (nd < 6) v *= 10, nd++;
            while (nd > 6) v /= 10, nd--;
            fl->micros = v;
            break;
        default: fl->hour = v; fl->hour_letter = t->letter; break; /* H h K k */
        }
    }
    return true;
}

/* The timestamp the fields name: missing date fields default to 1970-01-01,
 * missing time fields to 0; invalid dates and times fail, as java.time's
 * STRICT resolution. */
static bool spk__dt_resolve(const spk__dt_fields *fl, int64_t *out) {
    int64_t year = fl->has_year ? fl->year : 1970, hour = fl->hour;
    if (year < SPK__MIN_YEAR || year > SPK__MAX_YEAR) return false;
    int32_t jan1, days;
    if (!spk_date_from_ymd((int)year, 1, 1, &jan1)) return false;
    if (fl->has_doy && !fl->has_month && !fl->has_day) {
        if (fl->doy < 1 || fl->doy > (spk__is_leap(year) ? 366 : 365)) return false;
        days = jan1 + (int32_t)fl->doy - 1;
    } else {
        int64_t month = fl->has_month ? fl->month : 1, day = fl->has_day ? fl->day : 1;
        if (month < 1 || month > 12 || day < 1 || day > 31 || !spk_date_from_ymd((int)year, (int)month, (int)day, &days))
            return false;
        if (fl->has_doy && days - jan1 + 1 != fl->doy) return false;
    }
    switch (fl->hour_letter) {
    case 'H': if (hour > 23) return false; break;
    case 'k': if (hour < 1 || hour > 24) return false; hour %= 24; break;
    case 'h': if (hour < 1 || hour > 12) return false; hour = hour % 12 + (fl->ampm == 1 ? 12 : 0); break;
    case 'K': if (hour > 11) return false; hour += fl->ampm == 1 ? 12 : 0; break;
    default: hour = 0; break;
    }
    if (fl->minute > 59 || fl->second > 59) return false;
    if (days > INT64_MAX / SPK__MICROS_PER_DAY - 1 || days < INT64_MIN / SPK__MICROS_PER_DAY + 1) return false;
    *out = (int64_t)days * SPK__MICROS_PER_DAY + ((hour * 60 + fl->minute) * 60 + fl->second) * SPK__MICROS_PER_SECOND +
           fl->micros;
    return true;
}

static bool spk__dt_parse(const spk__dt_pattern *p, const char *f, const char *s, size_t len, int64_t *out) {
    spk__dt_fields fl;
    memset(&fl, 0, sizeof fl);
    fl.ampm = -1;
    size_t pos = 0;
    return spk__dt_match(p, 0, p->n, f, s, len, &pos, &fl) && pos == len && spk__dt_resolve(&fl, out);
}

/* The pattern of row i, compiled again only when its text changes (a
 * constant pattern compiles once per batch). */
typedef struct spk__dt_cache {
    spk__dt_pattern p;
    const char *text;
    size_t len;
    bool ok;
} spk__dt_cache;

static const spk__dt_pattern *spk__dt_for_row(spk__dt_cache *c, spk__str f, bool parsing) {
    if (!c->text || c->len != f.len || (c->text != f.ptr && memcmp(c->text, f.ptr, f.len) != 0)) {
        char why[8];
        c->ok = spk__dt_compile(f.ptr, f.len, parsing, &c->p, why, sizeof why);
        c->text = f.ptr;
        c->len = f.len;
    }
    return c->ok ? &c->p : NULL;
}

/* to_timestamp(str, fmt) and to_date(str, fmt) (the output type decides):
 * NULL where str does not match the pattern. */
static void spk__k_parse_datetime(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                                  const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    const spk__str *x = args[0]->v.str, *f = args[1]->v.str;
    bool is_date = out->type.id == SPK_TYPE_DATE;
    spk__dt_cache cache;
    cache.text = NULL;
    spk__nulls_or(out, args[0], args[1], sel, n);
    SPK__FOR_ROWS(sel, n, {
        if (out->nulls[i]) continue;
        const spk__dt_pattern *p = spk__dt_for_row(&cache, f[i], true);
        int64_t ts;
        if (!p || !spk__dt_parse(p, cache.text, x[i].ptr, x[i].len, &ts)) out->nulls[i] = 1;
        else if (is_date) out->v.i32[i] = (int32_t)spk__floor_div(ts, SPK__MICROS_PER_DAY);
        else out->v.i64[i] = ts;
    });
}

/* date_format(ts, fmt): NULL if fmt is not a pattern we support. */
static void spk__k_date_format(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                               const uint32_t *sel, uint32_t n) {
    (void)node;
    const int64_t *x = args[0]->v.i64;
    const spk__str *f = args[1]->v.str;
    spk__str *o = out->v.str;
    spk__dt_cache cache;
    cache.text = NULL;
    spk__nulls_or(out, args[0], args[1], sel, n);
    SPK__FOR_ROWS(sel, n, {
        o[i] = spk__empty_str;
        if (out->nulls[i]) continue;
        const spk__dt_pattern *p = spk__dt_for_row(&cache, f[i], false);
        char *buf = p ? spk__eval_strbuf(ev, spk__dt_bound(p)) : NULL;
        if (!p) out->nulls[i] = 1;
        if (!buf) continue;
        o[i].ptr = buf;
        o[i].len = spk__dt_format(p, cache.text, x[i], buf);
    });
}

/* A constant pattern is checked at bind time, so a bad one is an error at
 * once (Spark fails the query too); patterns from columns give NULL. */
static spk_status spk__bind_dt_pattern(spk__bnode *node, int arg, bool parsing) {
    spk_value f;
    spk__dt_pattern p;
    char why[96];
    if (!spk__arg_const(node, arg, &f) || f.is_null || spk__dt_compile(f.as.str.ptr, f.as.str.len, parsing, &p, why, sizeof why))
        return SPK_OK;
    return spk__fail(SPK_ERR_ARG, "[INVALID_DATETIME_PATTERN] Unrecognized datetime pattern '%.*s' in `%s`: %s",
                     (int)f.as.str.len, f.as.str.ptr, node->label ? node->label : "?", why);
}

/* to_date(x[, fmt]) / to_timestamp(x[, fmt]): without a pattern (or for a
 * DATE or TIMESTAMP x, which ignores it) a CAST; else parsed by the pattern. */
static spk_status spk__bind_to_datetime(spk__bnode *node, spk_type_id to) {
    spk_type_id from = (spk_type_id)node->args[0]->type.id;
    spk_status st = SPK_OK;
    node->type = spk_type_of(to);
    node->nullable = true;
    if (node->nargs > 1) st = spk__fn_arg(node, 1, spk_type_of(SPK_TYPE_STRING));
    if (node->nargs == 1 || from == SPK_TYPE_DATE || from == SPK_TYPE_TIMESTAMP) {
        node->kernel = spk__k_first;
        return st == SPK_OK ? spk__fn_arg(node, 0, node->type) : st;
    }
    node->kernel = spk__k_parse_datetime;
    if (st == SPK_OK) st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_STRING));
    return st == SPK_OK ? spk__bind_dt_pattern(node, 1, true) : st;
}
static spk_status spk__bind_to_date(spk__bnode *node) { return spk__bind_to_datetime(node, SPK_TYPE_DATE); }
static spk_status spk__bind_to_timestamp(spk__bnode *node) { return spk__bind_to_datetime(node, SPK_TYPE_TIMESTAMP); }

static spk_status spk__bind_date_format(spk__bnode *node) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_TIMESTAMP));
    if (st == SPK_OK) st = spk__fn_arg(node, 1, spk_type_of(SPK_TYPE_STRING));
    node->type = spk_type_of(SPK_TYPE_STRING);
    node->nullable = true;
    node->kernel = spk__k_date_format;
    return st == SPK_OK ? spk__bind_dt_pattern(node, 1, false) : st;
}

/* ---------------------------------------------------------------- hash
 * hash(a, b, ...): Spark's Murmur3Hash, MurmurHash3 x86 32-bit with seed 42,
 * each argument's hash the seed of the next, NULLs skipped. Values are hashed
 * in Spark's binary forms: INT, DATE, BOOLEAN as a 4-byte int; BIGINT,
 * TIMESTAMP, DECIMAL (unscaled) and DOUBLE (its bits, -0.0 as 0.0) as an
 * 8-byte long; strings by their UTF-8 bytes with Spark's own handling of
 * the last 1-3 bytes (each mixed in as a sign-extended block), which
 * differs from the reference algorithm. */

static uint32_t spk__rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

static uint32_t spk__mm3_k(uint32_t k) {
    k *= 0xcc9e2d51u;
    k = spk__rotl32(k, 15);
    return k * 0x1b873593u;
}

static uint32_t spk__mm3_h(uint32_t h, uint32_t k) {
    h ^= k;
    h = spk__rotl32(h, 13);
    return h * 5u + 0xe6546b64u;
}

static uint32_t spk__mm3_final(uint32_t h, uint32_t len) {
    h ^= len;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    return h ^ (h >> 16);
}

static uint32_t spk__mm3_int(uint32_t v, uint32_t seed) { return spk__mm3_final(spk__mm3_h(seed, spk__mm3_k(v)), 4); }

static uint32_t spk__mm3_long(uint64_t v, uint32_t seed) {
    uint32_t h = spk__mm3_h(seed, spk__mm3_k((uint32_t)v));
    return spk__mm3_final(spk__mm3_h(h, spk__mm3_k((uint32_t)(v >> 32))), 8);
}

static uint32_t spk__mm3_bytes(const char *s, size_t len, uint32_t seed) {
    const unsigned char *b = (const unsigned char *)s;
    size_t aligned = len - len % 4;
    uint32_t h = seed;
    for (size_t i = 0; i < aligned; i += 4) /* little-endian blocks, as Spark on x86 and ARM */
        h = spk__mm3_h(h, spk__mm3_k((uint32_t)b[i] | (uint32_t)b[i + 1] << 8 | (uint32_t)b[i + 2] << 16 |
                                     (uint32_t)b[i + 3] << 24));
    for (size_t i = aligned; i < len; i++) /* Spark: one sign-extended byte per block */
        h = spk__mm3_h(h, spk__mm3_k(b[i] < 0x80 ? b[i] : (uint32_t)b[i] | 0xFFFFFF00u));
    return spk__mm3_final(h, (uint32_t)len);
}

static void spk__k_hash(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                        const uint32_t *sel, uint32_t n) {
    (void)ev;
    int na = node->nargs;
    SPK__FOR_ROWS(sel, n, {
        uint32_t h = 42;
        for (int a = 0; a < na; a++) {
            const spk__vec *v = args[a];
            if (v->nulls[i]) continue;
            switch (v->type.id) {
            case SPK_TYPE_BOOLEAN: h = spk__mm3_int(v->v.b[i] ? 1 : 0, h); break;
            case SPK_TYPE_INT32:
            case SPK_TYPE_DATE: h = spk__mm3_int((uint32_t)v->v.i32[i], h); break;
            case SPK_TYPE_DOUBLE: {
                double d = v->v.f64[i];
                uint64_t bits = 0x7ff8000000000000ULL; /* Java's canonical NaN */
                if (d == 0) bits = 0;
                else if (!isnan(d)) memcpy(&bits, &d, sizeof bits);
                h = spk__mm3_long(bits, h);
                break;
            }
            case SPK_TYPE_STRING: h = spk__mm3_bytes(v->v.str[i].ptr, v->v.str[i].len, h); break;
            case SPK_TYPE_NULL:
            case SPK_TYPE_COUNT: break;
            default: h = spk__mm3_long((uint64_t)v->v.i64[i], h); break; /* INT64, DECIMAL, TIMESTAMP */
            }
        }
        out->v.i32[i] = (int32_t)h;
        out->nulls[i] = 0;
    });
}

static spk_status spk__bind_hash(spk__bnode *node) {
    node->type = spk_type_of(SPK_TYPE_INT32);
    node->nullable = false;
    node->kernel = spk__k_hash;
    return SPK_OK;
}

/* ---------------------------------------------------------------- aggregates
 * States are plain bytes; strings a state keeps (min, max, first, last) are
 * copied into memory the state owns, released by destroy. */

typedef struct spk__held_value { /* an spk_value whose string bytes the state owns */
    spk_value v;
    char *bytes;
    size_t cap;
} spk__held_value;

static spk_status spk__hold(spk__held_value *h, const spk_value *v) {
    h->v = *v;
    if (v->is_null || v->type.id != SPK_TYPE_STRING) return SPK_OK;
    if (h->cap < v->as.str.len) {
        size_t cap = v->as.str.len < 16 ? 16 : v->as.str.len;
        char *p = (char *)spk__realloc(&spk__default_allocator, h->bytes, h->cap, cap);
        if (!p) return spk__nomem("an aggregate's string", cap);
        h->bytes = p;
        h->cap = cap;
    }
    if (v->as.str.len) memcpy(h->bytes, v->as.str.ptr, v->as.str.len);
    h->v.as.str.ptr = h->bytes;
    return SPK_OK;
}

static void spk__held_free(spk__held_value *h) {
    if (h->bytes) spk__free(&spk__default_allocator, h->bytes, h->cap);
    h->bytes = NULL;
    h->cap = 0;
}

#define SPK__STATE(states, stride, groups, i) ((states) + (size_t)((groups) ? (groups)[i] : 0) * (stride))

/* -- count */
static void spk__count_init(const spk__bnode *node, void *s) {
    (void)node;
    *(int64_t *)s = 0;
}
static spk_status spk__count_update(const spk__bnode *node, char *states, size_t stride, const uint32_t *groups, uint32_t ngroups, const spk__vec *arg,
                                    const uint32_t *sel, uint32_t n) {
    (void)ngroups;
    (void)node;
    const uint8_t *nulls = arg->nulls;
    if (groups) {
        SPK__FOR_ROWS(sel, n, *(int64_t *)(void *)(states + (size_t)groups[i] * stride) += !nulls[i]);
    } else { /* one group: counted here, added once */
        int64_t count = 0;
        SPK__FOR_ROWS(sel, n, count += !nulls[i]);
        *(int64_t *)(void *)states += count;
    }
    return SPK_OK;
}
static spk_status spk__count_merge(const spk__bnode *node, void *into, const void *from) {
    (void)node;
    *(int64_t *)into += *(const int64_t *)from;
    return SPK_OK;
}
static spk_status spk__count_final(const spk__bnode *node, const void *s, spk__vec *out, uint32_t row) {
    (void)node;
    out->nulls[row] = 0;
    out->v.i64[row] = *(const int64_t *)s;
    return SPK_OK;
}
static const spk__agg_ops spk__agg_count = {sizeof(int64_t), spk__count_init, spk__count_update,
                                            spk__count_merge, spk__count_final, NULL};

/* -- count(DISTINCT x): a set of value hashes with the values themselves */
typedef struct spk__distinct_set {
    spk__held_value *slots; /* open addressing; v.type.id SPK_TYPE_COUNT marks empty */
    uint64_t *hashes;
    size_t cap, count;
} spk__distinct_set;

static void spk__distinct_init(const spk__bnode *node, void *s) {
    (void)node;
    memset(s, 0, sizeof(spk__distinct_set *));
}

static void spk__distinct_destroy(const spk__bnode *node, void *s) {
    (void)node;
    spk__distinct_set *set = *(spk__distinct_set **)s;
    if (!set) return;
    for (size_t i = 0; i < set->cap; i++) spk__held_free(&set->slots[i]);
    spk__free(&spk__default_allocator, set->slots, set->cap * sizeof *set->slots);
    spk__free(&spk__default_allocator, set->hashes, set->cap * sizeof *set->hashes);
    spk__free(&spk__default_allocator, set, sizeof *set);
    *(spk__distinct_set **)s = NULL;
}

static spk_status spk__distinct_grow(spk__distinct_set *set) {
    size_t cap = set->cap ? set->cap * 2 : 16;
    spk__held_value *slots = (spk__held_value *)spk__calloc(&spk__default_allocator, cap * sizeof *slots);
    uint64_t *hashes = slots ? (uint64_t *)spk__alloc(&spk__default_allocator, cap * sizeof *hashes) : NULL;
    if (!hashes) {
        spk__free(&spk__default_allocator, slots, cap * sizeof *slots);
        return spk__nomem("a distinct set", cap * (sizeof *slots + sizeof *hashes));
    }
    for (size_t i = 0; i < cap; i++) slots[i].v.type.id = SPK_TYPE_COUNT;
    for (size_t i = 0; i < set->cap; i++) {
        if (set->slots[i].v.type.id == SPK_TYPE_COUNT) continue;
        size_t at = set->hashes[i] & (cap - 1);
        while (slots[at].v.type.id != SPK_TYPE_COUNT) at = (at + 1) & (cap - 1);
        slots[at] = set->slots[i];
        hashes[at] = set->hashes[i];
    }
    spk__free(&spk__default_allocator, set->slots, set->cap * sizeof *set->slots);
    spk__free(&spk__default_allocator, set->hashes, set->cap * sizeof *set->hashes);
    set->slots = slots;
    set->hashes = hashes;
    set->cap = cap;
    return SPK_OK;
}

static spk_status spk__distinct_add(void *s, const spk_value *v) {
    spk__distinct_set *set = *(spk__distinct_set **)s;
    if (!set) {
        set = (spk__distinct_set *)spk__calloc(&spk__default_allocator, sizeof *set);
        if (!set) return spk__nomem("a distinct set", sizeof *set);
        *(spk__distinct_set **)s = set;
    }
    if ((set->count + 1) * 4 > set->cap * 3) {
        spk_status st = spk__distinct_grow(set);
        if (st != SPK_OK) return st;
    }
    uint64_t h = spk_value_hash(v, 0);
    size_t at = h & (set->cap - 1);
    while (set->slots[at].v.type.id != SPK_TYPE_COUNT) {
        if (set->hashes[at] == h && spk_value_equal(&set->slots[at].v, v)) return SPK_OK;
        at = (at + 1) & (set->cap - 1);
    }
    spk__held_value held = {spk_value_null(), NULL, 0};
    spk_status st = spk__hold(&held, v);
    if (st != SPK_OK) return st;
    set->slots[at] = held;
    set->hashes[at] = h;
    set->count++;
    return SPK_OK;
}

static spk_status spk__distinct_update(const spk__bnode *node, char *states, size_t stride, const uint32_t *groups, uint32_t ngroups, const spk__vec *arg,
                                       const uint32_t *sel, uint32_t n) {
    (void)ngroups;
    (void)node;
    spk_status st = SPK_OK;
    SPK__FOR_ROWS(sel, n, {
        if (!arg->nulls[i] && st == SPK_OK) {
            spk_value v = spk__vec_get(arg, i);
            st = spk__distinct_add(SPK__STATE(states, stride, groups, i), &v);
        }
    });
    return st;
}

static spk_status spk__distinct_merge(const spk__bnode *node, void *into, const void *from) {
    (void)node;
    const spk__distinct_set *src = *(spk__distinct_set *const *)from;
    spk_status st = SPK_OK;
    for (size_t i = 0; src && i < src->cap && st == SPK_OK; i++)
        if (src->slots[i].v.type.id != SPK_TYPE_COUNT) st = spk__distinct_add(into, &src->slots[i].v);
    return st;
}

static spk_status spk__distinct_final(const spk__bnode *node, const void *s, spk__vec *out, uint32_t row) {
    (void)node;
    const spk__distinct_set *set = *(spk__distinct_set *const *)s;
    out->nulls[row] = 0;
    out->v.i64[row] = set ? (int64_t)set->count : 0;
    return SPK_OK;
}

static const spk__agg_ops spk__agg_count_distinct = {sizeof(spk__distinct_set *), spk__distinct_init,
                                                     spk__distinct_update, spk__distinct_merge,
                                                     spk__distinct_final, spk__distinct_destroy};

static spk_status spk__bind_count(spk__bnode *node) {
    node->type = spk_type_of(SPK_TYPE_INT64);
    node->nullable = false;
    node->agg = node->distinct ? &spk__agg_count_distinct : &spk__agg_count;
    return SPK_OK;
}

/* -- sum and avg: integers wrap (Spark's long arithmetic), doubles add in
 * row order within a morsel and then morsel by morsel (exec.c), decimals
 * add exactly and give NULL when the result overflows. */
typedef struct spk__sum_state {
    int64_t count;  /* non-NULL inputs */
    int64_t i;      /* INT64 and DECIMAL sums (DECIMAL: at the input's scale) */
    double d;
    int64_t carry;  /* DECIMAL: times the sum wrapped past the int64 range (the exact sum is i + carry * 2^64),
                     * so that whether it overflows does not depend on the order of the inputs */
} spk__sum_state;

/* s += x on a DECIMAL sum: wrapping, counting the wraps. The add wrapped
 * when both operands have one sign and the result the other; it wrapped
 * upwards when x is positive. A wrap takes 2^63 of additions, so the
 * branch is as good as never taken, and cheaper than computing it always. */
static inline void spk__sum_add_decimal(spk__sum_state *s, int64_t x) {
    uint64_t a = (uint64_t)s->i, b = (uint64_t)x, r = a + b;
    if ((int64_t)((a ^ r) & (b ^ r)) < 0) s->carry += x < 0 ? -1 : 1;
    s->i = (int64_t)r;
}

static void spk__sum_init(const spk__bnode *node, void *s) {
    (void)node;
    memset(s, 0, sizeof(spk__sum_state));
}

/* Few groups (Q1's four). Rows in a row mostly update the same group, and
 * each update then waits on the one before it through memory. When the
 * part has at most SPK__SUM_FEW groups, rows are added into four sets of
 * accumulators in turn, which do not wait on each other, and the sets are
 * added to the states after the batch. Integer and DECIMAL sums only: their
 * result does not depend on the order of the additions (a DECIMAL sum
 * counts its wraps), where a DOUBLE sum's rounding would. The rows are
 * added as plain integers, noting a bound on their magnitudes (an OR); a
 * DECIMAL batch whose n values could pass the int64 range is added again
 * counting its wraps. */
#define SPK__SUM_FEW 8

static spk_status spk__sum_merge(const spk__bnode *node, void *into, const void *from);

static void spk__sum_few_groups(const spk__bnode *node, char *states, size_t stride, const uint32_t *groups, uint32_t ngroups,
                                const int64_t *x, const uint8_t *nulls, bool decimal, const uint32_t *sel, uint32_t n) {
    int64_t sums[4][SPK__SUM_FEW] = {{0}}, counts[4][SPK__SUM_FEW] = {{0}};
    uint64_t bits = 0; /* over the magnitudes, less 1 for negatives */
    SPK__FOR_ROWS(sel, n, if (!nulls[i]) {
        uint32_t lane = i & 3, g = groups[i];
        uint64_t v = (uint64_t)x[i];
        sums[lane][g] = (int64_t)((uint64_t)sums[lane][g] + v);
        counts[lane][g]++;
        bits |= v ^ (0 - (v >> 63));
    });
    spk__sum_state acc[4][SPK__SUM_FEW];
    memset(acc, 0, sizeof acc);
    if (decimal && n && bits >= (uint64_t)INT64_MAX / n) /* could have wrapped: again, counting the wraps */
        SPK__FOR_ROWS(sel, n, if (!nulls[i]) spk__sum_add_decimal(&acc[i & 3][groups[i]], x[i]));
    else
        for (int lane = 0; lane < 4; lane++)
            for (uint32_t g = 0; g < ngroups; g++) acc[lane][g].i = sums[lane][g];
    for (int lane = 0; lane < 4; lane++)
        for (uint32_t g = 0; g < ngroups; g++) {
            acc[lane][g].count = counts[lane][g];
            if (counts[lane][g]) (void)spk__sum_merge(node, states + (size_t)g * stride, &acc[lane][g]); /* cannot fail */
        }
}

static spk_status spk__sum_update(const spk__bnode *node, char *states, size_t stride, const uint32_t *groups, uint32_t ngroups, const spk__vec *arg,
                                  const uint32_t *sel, uint32_t n) {
    const uint8_t *nulls = arg->nulls;
    spk_type_id t = (spk_type_id)arg->type.id;
    if (groups && ngroups <= SPK__SUM_FEW && (t == SPK_TYPE_DECIMAL || t == SPK_TYPE_INT64)) {
        spk__sum_few_groups(node, states, stride, groups, ngroups, arg->v.i64, nulls, t == SPK_TYPE_DECIMAL, sel, n);
        return SPK_OK;
    }
    switch (arg->type.id) {
    case SPK_TYPE_INT32: {
        const int32_t *x = arg->v.i32;
        SPK__FOR_ROWS(sel, n, if (!nulls[i]) {
            spk__sum_state *s = (spk__sum_state *)(void *)SPK__STATE(states, stride, groups, i);
            s->i = (int64_t)((uint64_t)s->i + (uint64_t)(int64_t)x[i]);
            s->count++;
        });
        break;
    }
    case SPK_TYPE_DOUBLE: {
        const double *x = arg->v.f64;
        SPK__FOR_ROWS(sel, n, if (!nulls[i]) {
            spk__sum_state *s = (spk__sum_state *)(void *)SPK__STATE(states, stride, groups, i);
            s->d += x[i];
            s->count++;
        });
        break;
    }
    case SPK_TYPE_DECIMAL: { /* the most common sum (TPC-H's prices): groups known, or one state in locals */
        const int64_t *x = arg->v.i64;
        if (groups) {
            SPK__FOR_ROWS(sel, n, if (!nulls[i]) {
                spk__sum_state *s = (spk__sum_state *)(void *)(states + (size_t)groups[i] * stride);
                spk__sum_add_decimal(s, x[i]);
                s->count++;
            });
        } else {
            spk__sum_state *s = (spk__sum_state *)(void *)states, acc = *s;
            SPK__FOR_ROWS(sel, n, if (!nulls[i]) {
                spk__sum_add_decimal(&acc, x[i]);
                acc.count++;
            });
            *s = acc;
        }
        break;
    }
    default: { /* INT64 */
        const int64_t *x = arg->v.i64;
        SPK__FOR_ROWS(sel, n, if (!nulls[i]) {
            spk__sum_state *s = (spk__sum_state *)(void *)SPK__STATE(states, stride, groups, i);
            s->i = (int64_t)((uint64_t)s->i + (uint64_t)x[i]);
            s->count++;
        });
        break;
    }
    }
    return SPK_OK;
}

static spk_status spk__sum_merge(const spk__bnode *node, void *into, const void *from) {
    spk__sum_state *a = (spk__sum_state *)into;
    const spk__sum_state *b = (const spk__sum_state *)from;
    a->count += b->count;
    a->d += b->d;
    if (node->args[0]->type.id == SPK_TYPE_DECIMAL) {
        spk__sum_add_decimal(a, b->i);
        a->carry += b->carry;
    } else {
        a->i = (int64_t)((uint64_t)a->i + (uint64_t)b->i);
    }
    return SPK_OK;
}

static spk_status spk__sum_final(const spk__bnode *node, const void *st, spk__vec *out, uint32_t row) {
    const spk__sum_state *s = (const spk__sum_state *)st;
    out->nulls[row] = s->count == 0;
    if (out->type.id == SPK_TYPE_DOUBLE) out->v.f64[row] = s->d;
    else if (out->type.id == SPK_TYPE_DECIMAL)
        out->nulls[row] |= s->carry != 0 || s->i >= spk__pow10[out->type.precision] ||
                           s->i <= -spk__pow10[out->type.precision];
    if (out->type.id != SPK_TYPE_DOUBLE) out->v.i64[row] = s->i;
    (void)node;
    return SPK_OK;
}

static const spk__agg_ops spk__agg_sum = {sizeof(spk__sum_state), spk__sum_init, spk__sum_update,
                                          spk__sum_merge, spk__sum_final, NULL};

static spk_status spk__bind_sum(spk__bnode *node) {
    spk_status st = spk__fn_numeric_arg(node, 0);
    spk_type t = node->args[0]->type;
    if (t.id == SPK_TYPE_INT32 || t.id == SPK_TYPE_INT64) node->type = spk_type_of(SPK_TYPE_INT64);
    else if (t.id == SPK_TYPE_DECIMAL) node->type = spk__decimal_bounded(t.precision + 10, t.scale);
    else node->type = spk_type_of(SPK_TYPE_DOUBLE);
    node->agg = &spk__agg_sum;
    return st;
}

/* avg: DOUBLE, or for DECIMAL(p,s) Spark's DECIMAL(p+4, s+4), rounded half-up. */
static spk_status spk__avg_final(const spk__bnode *node, const void *st, spk__vec *out, uint32_t row) {
    const spk__sum_state *s = (const spk__sum_state *)st;
    out->nulls[row] = s->count == 0;
    if (s->count == 0) return SPK_OK;
    spk_type in = node->args[0]->type;
    if (out->type.id == SPK_TYPE_DOUBLE) {
        double sum = in.id == SPK_TYPE_DOUBLE ? s->d : (double)s->i;
        out->v.f64[row] = sum / (double)s->count;
        return SPK_OK;
    }
    int64_t q;
    if (s->carry != 0 || !spk__decimal_div_round(s->i, in.scale, s->count, 0, out->type.scale, out->type.precision, &q))
        out->nulls[row] = 1;
    else
        out->v.i64[row] = q;
    return SPK_OK;
}

static const spk__agg_ops spk__agg_avg = {sizeof(spk__sum_state), spk__sum_init, spk__sum_update,
                                          spk__sum_merge, spk__avg_final, NULL};

static spk_status spk__bind_avg(spk__bnode *node) {
    spk_status st = spk__fn_numeric_arg(node, 0);
    spk_type t = node->args[0]->type;
    node->type = t.id == SPK_TYPE_DECIMAL ? spk__decimal_bounded(t.precision + 4, t.scale + 4)
                                          : spk_type_of(SPK_TYPE_DOUBLE);
    node->agg = &spk__agg_avg;
    return st;
}

/* -- min, max, first, last: a held value */
typedef struct spk__pick_state {
    bool set;
    spk__held_value held;
} spk__pick_state;

static void spk__pick_init(const spk__bnode *node, void *s) {
    (void)node;
    memset(s, 0, sizeof(spk__pick_state));
}
static void spk__pick_destroy(const spk__bnode *node, void *s) {
    (void)node;
    spk__held_free(&((spk__pick_state *)s)->held);
}

/* iarg: 1 min, 2 max, 3 first, 4 last. */
static spk_status spk__pick_offer(const spk__bnode *node, spk__pick_state *s, const spk_value *v) {
    int64_t kind = node->iarg;
    bool take;
    if (kind == 3) take = !s->set;
    else if (kind == 4) take = true;
    else if (v->is_null) take = false; /* min/max ignore NULLs */
    else if (!s->set) take = true;
    else {
        int c = spk_value_compare(v, &s->held.v, true);
        take = kind == 1 ? c < 0 : c > 0;
    }
    if (!take) return SPK_OK;
    s->set = true;
    return spk__hold(&s->held, v);
}

static spk_status spk__pick_update(const spk__bnode *node, char *states, size_t stride, const uint32_t *groups, uint32_t ngroups, const spk__vec *arg,
                                   const uint32_t *sel, uint32_t n) {
    (void)ngroups;
    spk_status st = SPK_OK;
    SPK__FOR_ROWS(sel, n, if (st == SPK_OK) {
        spk_value v = spk__vec_get(arg, i);
        st = spk__pick_offer(node, (spk__pick_state *)(void *)SPK__STATE(states, stride, groups, i), &v);
    });
    return st;
}

static spk_status spk__pick_merge(const spk__bnode *node, void *into, const void *from) {
    const spk__pick_state *b = (const spk__pick_state *)from;
    return b->set ? spk__pick_offer(node, (spk__pick_state *)into, &b->held.v) : SPK_OK;
}

static spk_status spk__pick_final(const spk__bnode *node, const void *st, spk__vec *out, uint32_t row) {
    (void)node;
    const spk__pick_state *s = (const spk__pick_state *)st;
    spk_value v = s->set ? s->held.v : spk_value_null_of(out->type);
    spk__vec_set(out, row, &v); /* the string stays owned by the state until destroy */
    return SPK_OK;
}

static const spk__agg_ops spk__agg_pick = {sizeof(spk__pick_state), spk__pick_init, spk__pick_update,
                                           spk__pick_merge, spk__pick_final, spk__pick_destroy};

static spk_status spk__bind_pick(spk__bnode *node, int kind) {
    node->type = node->args[0]->type;
    node->agg = &spk__agg_pick;
    node->iarg = kind;
    return SPK_OK;
}
static spk_status spk__bind_min(spk__bnode *node) { return spk__bind_pick(node, 1); }
static spk_status spk__bind_max(spk__bnode *node) { return spk__bind_pick(node, 2); }
static spk_status spk__bind_first(spk__bnode *node) { return spk__bind_pick(node, 3); }
static spk_status spk__bind_last(spk__bnode *node) { return spk__bind_pick(node, 4); }

/* -- variance family: Welford's running mean and squared deviations, merged
 * with Chan's formula. iarg: 1 var_samp, 2 var_pop, 3 stddev_samp, 4 stddev_pop.
 * A sample statistic of one row is NULL (Spark 3 default); of none, NULL. */
typedef struct spk__moments {
    double n, mean, m2;
} spk__moments;

static void spk__moments_init(const spk__bnode *node, void *s) {
    (void)node;
    memset(s, 0, sizeof(spk__moments));
}

static spk_status spk__moments_update(const spk__bnode *node, char *states, size_t stride, const uint32_t *groups, uint32_t ngroups, const spk__vec *arg,
                                      const uint32_t *sel, uint32_t n) {
    (void)ngroups;
    (void)node;
    const double *x = arg->v.f64;
    const uint8_t *nulls = arg->nulls;
    SPK__FOR_ROWS(sel, n, if (!nulls[i]) {
        spk__moments *m = (spk__moments *)(void *)SPK__STATE(states, stride, groups, i);
        m->n += 1;
        double delta = x[i] - m->mean;
        m->mean += delta / m->n;
        m->m2 += delta * (x[i] - m->mean);
    });
    return SPK_OK;
}

static spk_status spk__moments_merge(const spk__bnode *node, void *into, const void *from) {
    (void)node;
    spk__moments *a = (spk__moments *)into;
    const spk__moments *b = (const spk__moments *)from;
    if (b->n == 0) return SPK_OK;
    if (a->n == 0) {
        *a = *b;
        return SPK_OK;
    }
    double n = a->n + b->n, delta = b->mean - a->mean;
    a->m2 += b->m2 + delta * delta * a->n * b->n / n;
    a->mean += delta * b->n / n;
    a->n = n;
    return SPK_OK;
}

static spk_status spk__moments_final(const spk__bnode *node, const void *st, spk__vec *out, uint32_t row) {
    const spk__moments *m = (const spk__moments *)st;
    int64_t kind = node->iarg;
    bool sample = kind == 1 || kind == 3;
    double denom = sample ? m->n - 1 : m->n;
    out->nulls[row] = denom <= 0;
    double var = denom > 0 ? m->m2 / denom : 0;
    out->v.f64[row] = kind >= 3 ? sqrt(var) : var;
    return SPK_OK;
}

static const spk__agg_ops spk__agg_moments = {sizeof(spk__moments), spk__moments_init, spk__moments_update,
                                              spk__moments_merge, spk__moments_final, NULL};

static spk_status spk__bind_moments(spk__bnode *node, int kind) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_DOUBLE));
    node->type = spk_type_of(SPK_TYPE_DOUBLE);
    node->agg = &spk__agg_moments;
    node->iarg = kind;
    return st;
}
static spk_status spk__bind_var_samp(spk__bnode *node) { return spk__bind_moments(node, 1); }
static spk_status spk__bind_var_pop(spk__bnode *node) { return spk__bind_moments(node, 2); }
static spk_status spk__bind_stddev_samp(spk__bnode *node) { return spk__bind_moments(node, 3); }
static spk_status spk__bind_stddev_pop(spk__bnode *node) { return spk__bind_moments(node, 4); }

/* ---------------------------------------------------------------- the registry */

static const spk__func spk__functions[] = {
    /* aggregates */
    {"count", 1, 1, spk__bind_count, true},
    {"sum", 1, 1, spk__bind_sum, true},
    {"avg", 1, 1, spk__bind_avg, true},
    {"mean", 1, 1, spk__bind_avg, true},
    {"min", 1, 1, spk__bind_min, true},
    {"max", 1, 1, spk__bind_max, true},
    {"first", 1, 1, spk__bind_first, true},
    {"last", 1, 1, spk__bind_last, true},
    {"stddev", 1, 1, spk__bind_stddev_samp, true},
    {"stddev_samp", 1, 1, spk__bind_stddev_samp, true},
    {"stddev_pop", 1, 1, spk__bind_stddev_pop, true},
    {"variance", 1, 1, spk__bind_var_samp, true},
    {"var_samp", 1, 1, spk__bind_var_samp, true},
    {"var_pop", 1, 1, spk__bind_var_pop, true},
    /* strings */
    {"length", 1, 1, spk__bind_length, false},
    {"char_length", 1, 1, spk__bind_length, false},
    {"character_length", 1, 1, spk__bind_length, false},
    {"len", 1, 1, spk__bind_length, false},
    {"upper", 1, 1, spk__bind_upper, false},
    {"ucase", 1, 1, spk__bind_upper, false},
    {"lower", 1, 1, spk__bind_lower, false},
    {"lcase", 1, 1, spk__bind_lower, false},
    {"concat", 1, -1, spk__bind_concat, false},
    {"concat_ws", 1, -1, spk__bind_concat_ws, false},
    {"trim", 1, 1, spk__bind_trim, false},
    {"ltrim", 1, 1, spk__bind_ltrim, false},
    {"rtrim", 1, 1, spk__bind_rtrim, false},
    {"substring", 2, 3, spk__bind_substring, false},
    {"substr", 2, 3, spk__bind_substring, false},
    {"replace", 2, 3, spk__bind_replace, false},
    {"instr", 2, 2, spk__bind_instr, false},
    {"locate", 2, 3, spk__bind_locate, false},
    {"position", 2, 3, spk__bind_locate, false},
    {"lpad", 2, 3, spk__bind_lpad, false},
    {"rpad", 2, 3, spk__bind_rpad, false},
    {"startswith", 2, 2, spk__bind_startswith, false},
    {"endswith", 2, 2, spk__bind_endswith, false},
    {"contains", 2, 2, spk__bind_contains, false},
    {"reverse", 1, 1, spk__bind_reverse, false},
    {"initcap", 1, 1, spk__bind_initcap, false},
    {"regexp_extract", 2, 3, spk__bind_regexp_extract, false},
    {"regexp_replace", 3, 4, spk__bind_regexp_replace, false},
    /* null handling and conditionals */
    {"coalesce", 1, -1, spk__bind_coalesce, false},
    {"nvl", 2, 2, spk__bind_nvl, false},
    {"ifnull", 2, 2, spk__bind_nvl, false},
    {"nvl2", 3, 3, spk__bind_nvl2, false},
    {"nullif", 2, 2, spk__bind_nullif, false},
    {"if", 3, 3, spk__bind_if, false},
    {"isnull", 1, 1, spk__bind_isnull, false},
    {"isnotnull", 1, 1, spk__bind_isnotnull, false},
    {"nanvl", 2, 2, spk__bind_nanvl, false},
    /* math */
    {"abs", 1, 1, spk__bind_abs, false},
    {"sqrt", 1, 1, spk__bind_sqrt, false},
    {"cbrt", 1, 1, spk__bind_cbrt, false},
    {"exp", 1, 1, spk__bind_exp, false},
    {"ln", 1, 1, spk__bind_ln, false},
    {"log", 1, 2, spk__bind_log, false},
    {"log10", 1, 1, spk__bind_log10, false},
    {"log2", 1, 1, spk__bind_log2, false},
    {"pow", 2, 2, spk__bind_pow, false},
    {"power", 2, 2, spk__bind_pow, false},
    {"round", 1, 2, spk__bind_round, false},
    {"bround", 1, 2, spk__bind_bround, false},
    {"floor", 1, 1, spk__bind_floor, false},
    {"ceil", 1, 1, spk__bind_ceil, false},
    {"ceiling", 1, 1, spk__bind_ceil, false},
    {"signum", 1, 1, spk__bind_signum, false},
    {"sign", 1, 1, spk__bind_signum, false},
    {"greatest", 2, -1, spk__bind_greatest, false},
    {"least", 2, -1, spk__bind_least, false},
    {"pmod", 2, 2, spk__bind_pmod, false},
    {"hash", 1, -1, spk__bind_hash, false},
    /* dates and times */
    {"year", 1, 1, spk__bind_year, false},
    {"month", 1, 1, spk__bind_month, false},
    {"dayofmonth", 1, 1, spk__bind_dayofmonth, false},
    {"day", 1, 1, spk__bind_dayofmonth, false},
    {"dayofweek", 1, 1, spk__bind_dayofweek, false},
    {"weekday", 1, 1, spk__bind_weekday, false},
    {"dayofyear", 1, 1, spk__bind_dayofyear, false},
    {"quarter", 1, 1, spk__bind_quarter, false},
    {"weekofyear", 1, 1, spk__bind_weekofyear, false},
    {"hour", 1, 1, spk__bind_hour, false},
    {"minute", 1, 1, spk__bind_minute, false},
    {"second", 1, 1, spk__bind_second, false},
    {"last_day", 1, 1, spk__bind_last_day, false},
    {"date_add", 2, 2, spk__bind_date_add, false},
    {"date_sub", 2, 2, spk__bind_date_sub, false},
    {"add_months", 2, 2, spk__bind_add_months, false},
    {"datediff", 2, 2, spk__bind_datediff, false},
    {"months_between", 2, 3, spk__bind_months_between, false},
    {"to_date", 1, 2, spk__bind_to_date, false},
    {"to_timestamp", 1, 2, spk__bind_to_timestamp, false},
    {"date_format", 2, 2, spk__bind_date_format, false},
    {"date_trunc", 2, 2, spk__bind_date_trunc, false},
    {"trunc", 2, 2, spk__bind_trunc, false},
};
static const spk__func *spk__func_find(const char *name) {
    for (size_t i = 0; i < sizeof spk__functions / sizeof spk__functions[0]; i++)
        if (spk__name_eq(spk__functions[i].name, name, false)) return &spk__functions[i];
    return NULL;
}

/* "[UNRESOLVED_ROUTINE] ..." with the closest known names. */
static spk_status spk__unknown_function(const char *name) {
    enum { N = sizeof spk__functions / sizeof spk__functions[0] };
    const char *names[N];
    for (int i = 0; i < N; i++) names[i] = spk__functions[i].name;
    spk__fail(SPK_ERR_NOT_FOUND, "[UNRESOLVED_ROUTINE] Cannot resolve function `%s`.", name);
    spk__fail_suggest(name, names, N);
    return SPK_ERR_NOT_FOUND;
}
