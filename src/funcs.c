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
        spk__vec_set(out, i, &v);
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

enum { SPK__D_YEAR, SPK__D_MONTH, SPK__D_DAY };

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
        o[i] = part == SPK__D_YEAR ? (int32_t)y : part == SPK__D_MONTH ? m : d;
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
static void spk__count_init(void *s) { *(int64_t *)s = 0; }
static spk_status spk__count_update(const spk__bnode *node, char *states, const uint32_t *groups, const spk__vec *arg,
                                    const uint32_t *sel, uint32_t n) {
    size_t stride = node->agg->state_size;
    const uint8_t *nulls = arg->nulls;
    SPK__FOR_ROWS(sel, n, *(int64_t *)(void *)SPK__STATE(states, stride, groups, i) += !nulls[i]);
    return SPK_OK;
}
static void spk__count_merge(const spk__bnode *node, void *into, const void *from) {
    (void)node;
    *(int64_t *)into += *(const int64_t *)from;
}
static void spk__count_final(const spk__bnode *node, const void *s, spk__vec *out, uint32_t row) {
    (void)node;
    out->nulls[row] = 0;
    out->v.i64[row] = *(const int64_t *)s;
}
static const spk__agg_ops spk__agg_count = {sizeof(int64_t), spk__count_init, spk__count_update,
                                            spk__count_merge, spk__count_final, NULL};

/* -- count(DISTINCT x): a set of value hashes with the values themselves */
typedef struct spk__distinct_set {
    spk__held_value *slots; /* open addressing; v.type.id SPK_TYPE_COUNT marks empty */
    uint64_t *hashes;
    size_t cap, count;
} spk__distinct_set;

static void spk__distinct_init(void *s) { memset(s, 0, sizeof(spk__distinct_set *)); }

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

static spk_status spk__distinct_update(const spk__bnode *node, char *states, const uint32_t *groups, const spk__vec *arg,
                                       const uint32_t *sel, uint32_t n) {
    size_t stride = node->agg->state_size;
    spk_status st = SPK_OK;
    SPK__FOR_ROWS(sel, n, {
        if (!arg->nulls[i] && st == SPK_OK) {
            spk_value v = spk__vec_get(arg, i);
            st = spk__distinct_add(SPK__STATE(states, stride, groups, i), &v);
        }
    });
    return st;
}

static void spk__distinct_merge(const spk__bnode *node, void *into, const void *from) {
    (void)node;
    const spk__distinct_set *src = *(spk__distinct_set *const *)from;
    for (size_t i = 0; src && i < src->cap; i++)
        if (src->slots[i].v.type.id != SPK_TYPE_COUNT) spk__distinct_add(into, &src->slots[i].v);
}

static void spk__distinct_final(const spk__bnode *node, const void *s, spk__vec *out, uint32_t row) {
    (void)node;
    const spk__distinct_set *set = *(spk__distinct_set *const *)s;
    out->nulls[row] = 0;
    out->v.i64[row] = set ? (int64_t)set->count : 0;
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
 * row order, decimals add exactly and give NULL when the result overflows. */
typedef struct spk__sum_state {
    int64_t count;  /* non-NULL inputs */
    int64_t i;      /* INT64 and DECIMAL sums (DECIMAL: at the input's scale) */
    double d;
    bool overflow;  /* DECIMAL sum left the int64 range */
} spk__sum_state;

static void spk__sum_init(void *s) { memset(s, 0, sizeof(spk__sum_state)); }

static spk_status spk__sum_update(const spk__bnode *node, char *states, const uint32_t *groups, const spk__vec *arg,
                                  const uint32_t *sel, uint32_t n) {
    size_t stride = node->agg->state_size;
    const uint8_t *nulls = arg->nulls;
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
    case SPK_TYPE_DECIMAL: {
        const int64_t *x = arg->v.i64;
        SPK__FOR_ROWS(sel, n, if (!nulls[i]) {
            spk__sum_state *s = (spk__sum_state *)(void *)SPK__STATE(states, stride, groups, i);
            int64_t r;
            if (spk__add_overflow_i64(s->i, x[i], &r)) s->overflow = true;
            s->i = r;
            s->count++;
        });
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

static void spk__sum_merge(const spk__bnode *node, void *into, const void *from) {
    spk__sum_state *a = (spk__sum_state *)into;
    const spk__sum_state *b = (const spk__sum_state *)from;
    a->count += b->count;
    a->d += b->d;
    if (node->args[0]->type.id == SPK_TYPE_DECIMAL) {
        int64_t r;
        if (spk__add_overflow_i64(a->i, b->i, &r)) a->overflow = true;
        a->i = r;
        a->overflow |= b->overflow;
    } else {
        a->i = (int64_t)((uint64_t)a->i + (uint64_t)b->i);
    }
}

static void spk__sum_final(const spk__bnode *node, const void *st, spk__vec *out, uint32_t row) {
    const spk__sum_state *s = (const spk__sum_state *)st;
    out->nulls[row] = s->count == 0;
    if (out->type.id == SPK_TYPE_DOUBLE) out->v.f64[row] = s->d;
    else if (out->type.id == SPK_TYPE_DECIMAL)
        out->nulls[row] |= s->overflow || s->i >= spk__pow10[out->type.precision] ||
                           s->i <= -spk__pow10[out->type.precision];
    if (out->type.id != SPK_TYPE_DOUBLE) out->v.i64[row] = s->i;
    (void)node;
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
static void spk__avg_final(const spk__bnode *node, const void *st, spk__vec *out, uint32_t row) {
    const spk__sum_state *s = (const spk__sum_state *)st;
    out->nulls[row] = s->count == 0;
    if (s->count == 0) return;
    spk_type in = node->args[0]->type;
    if (out->type.id == SPK_TYPE_DOUBLE) {
        double sum = in.id == SPK_TYPE_DOUBLE ? s->d : (double)s->i;
        out->v.f64[row] = sum / (double)s->count;
        return;
    }
    int64_t q;
    if (s->overflow || !spk__decimal_div_round(s->i, in.scale, s->count, 0, out->type.scale, out->type.precision, &q))
        out->nulls[row] = 1;
    else
        out->v.i64[row] = q;
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

static void spk__pick_init(void *s) { memset(s, 0, sizeof(spk__pick_state)); }
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

static spk_status spk__pick_update(const spk__bnode *node, char *states, const uint32_t *groups, const spk__vec *arg,
                                   const uint32_t *sel, uint32_t n) {
    size_t stride = node->agg->state_size;
    spk_status st = SPK_OK;
    SPK__FOR_ROWS(sel, n, if (st == SPK_OK) {
        spk_value v = spk__vec_get(arg, i);
        st = spk__pick_offer(node, (spk__pick_state *)(void *)SPK__STATE(states, stride, groups, i), &v);
    });
    return st;
}

static void spk__pick_merge(const spk__bnode *node, void *into, const void *from) {
    const spk__pick_state *b = (const spk__pick_state *)from;
    if (b->set) spk__pick_offer(node, (spk__pick_state *)into, &b->held.v);
}

static void spk__pick_final(const spk__bnode *node, const void *st, spk__vec *out, uint32_t row) {
    (void)node;
    const spk__pick_state *s = (const spk__pick_state *)st;
    spk_value v = s->set ? s->held.v : spk_value_null_of(out->type);
    spk__vec_set(out, row, &v); /* the string stays owned by the state until destroy */
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

static void spk__moments_init(void *s) { memset(s, 0, sizeof(spk__moments)); }

static spk_status spk__moments_update(const spk__bnode *node, char *states, const uint32_t *groups, const spk__vec *arg,
                                      const uint32_t *sel, uint32_t n) {
    size_t stride = node->agg->state_size;
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

static void spk__moments_merge(const spk__bnode *node, void *into, const void *from) {
    (void)node;
    spk__moments *a = (spk__moments *)into;
    const spk__moments *b = (const spk__moments *)from;
    if (b->n == 0) return;
    if (a->n == 0) {
        *a = *b;
        return;
    }
    double n = a->n + b->n, delta = b->mean - a->mean;
    a->m2 += b->m2 + delta * delta * a->n * b->n / n;
    a->mean += delta * b->n / n;
    a->n = n;
}

static void spk__moments_final(const spk__bnode *node, const void *st, spk__vec *out, uint32_t row) {
    const spk__moments *m = (const spk__moments *)st;
    int64_t kind = node->iarg;
    bool sample = kind == 1 || kind == 3;
    double denom = sample ? m->n - 1 : m->n;
    out->nulls[row] = denom <= 0;
    double var = denom > 0 ? m->m2 / denom : 0;
    out->v.f64[row] = kind >= 3 ? sqrt(var) : var;
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
    {"upper", 1, 1, spk__bind_upper, false},
    {"ucase", 1, 1, spk__bind_upper, false},
    {"lower", 1, 1, spk__bind_lower, false},
    {"lcase", 1, 1, spk__bind_lower, false},
    {"concat", 1, -1, spk__bind_concat, false},
    /* null handling */
    {"coalesce", 1, -1, spk__bind_coalesce, false},
    /* math */
    {"abs", 1, 1, spk__bind_abs, false},
    {"sqrt", 1, 1, spk__bind_sqrt, false},
    {"cbrt", 1, 1, spk__bind_cbrt, false},
    {"exp", 1, 1, spk__bind_exp, false},
    {"ln", 1, 1, spk__bind_ln, false},
    {"log10", 1, 1, spk__bind_log10, false},
    {"log2", 1, 1, spk__bind_log2, false},
    /* dates */
    {"year", 1, 1, spk__bind_year, false},
    {"month", 1, 1, spk__bind_month, false},
    {"dayofmonth", 1, 1, spk__bind_dayofmonth, false},
    {"day", 1, 1, spk__bind_dayofmonth, false},
    {"date_add", 2, 2, spk__bind_date_add, false},
    {"date_sub", 2, 2, spk__bind_date_sub, false},
    {"add_months", 2, 2, spk__bind_add_months, false},
    {"datediff", 2, 2, spk__bind_datediff, false},
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
