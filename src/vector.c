/* vector: the internal vocabulary of evaluation — column vectors over a
 * batch of rows, bound (typed) expression nodes, kernel signatures, and the
 * per-batch string arena. Nothing here is public. */
#include "udf.c"
#include "vector.h"

#define SPK__BATCH 2048 /* rows per batch: fits the vectors of a typical expression in L1/L2 */

typedef struct spk__str {
    const char *ptr;
    size_t len;
} spk__str;

/* A vector: SPK__BATCH values of one type and one null byte each (1 = NULL).
 * Physical layout by type: BOOLEAN uint8_t; INT32, DATE int32_t; INT64,
 * DECIMAL (unscaled), TIMESTAMP int64_t; DOUBLE double; STRING spk__str.
 * Kernels compute every selected row, NULL or not, from whatever bytes the
 * inputs hold, then set the null bytes; so the values of NULL rows are
 * arbitrary but always initialised (vectors start zeroed). */
typedef struct spk__vec {
    spk_type type;
    uint8_t *nulls;
    union {
        void *any;
        uint8_t *b;
        int32_t *i32;
        int64_t *i64;
        double *f64;
        spk__str *str;
    } v;
} spk__vec;

/* Growable arena for strings made during one batch (upper(), concat, casts
 * to string); reset at the start of every batch, so no per-row allocation. */
typedef struct spk__arena_block {
    struct spk__arena_block *next;
    size_t cap, used;
    /* bytes follow */
} spk__arena_block;

typedef struct spk__arena {
    const spk_allocator *alloc;
    spk__arena_block *head;
} spk__arena;

static char *spk__arena_alloc(spk__arena *a, size_t n) {
    spk__arena_block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = b ? b->cap * 2 : 16384;
        while (cap < n) cap *= 2;
        spk__arena_block *fresh = (spk__arena_block *)spk__alloc(a->alloc, sizeof *fresh + cap);
        if (!fresh) return NULL;
        fresh->next = b;
        fresh->cap = cap;
        fresh->used = 0;
        a->head = b = fresh;
    }
    char *p = (char *)(b + 1) + b->used;
    b->used += n;
    return p;
}

/* Keeps only the newest (largest) block, emptied. */
static void spk__arena_reset(spk__arena *a) {
    spk__arena_block *b = a->head;
    if (!b) return;
    spk__arena_block *rest = b->next;
    while (rest) {
        spk__arena_block *next = rest->next;
        spk__free(a->alloc, rest, sizeof *rest + rest->cap);
        rest = next;
    }
    b->next = NULL;
    b->used = 0;
}

static void spk__arena_free(spk__arena *a) {
    spk__arena_reset(a);
    if (a->head) spk__free(a->alloc, a->head, sizeof *a->head + a->head->cap);
    a->head = NULL;
}

/* Bytes per value of a physical type. */
static size_t spk__phys_size(spk_type_id id) {
    switch (id) {
    case SPK_TYPE_BOOLEAN: return 1;
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE: return 4;
    case SPK_TYPE_STRING: return sizeof(spk__str);
    case SPK_TYPE_NULL: return 1;
    default: return 8;
    }
}

/* ---------------------------------------------------------------- bound nodes */

typedef enum spk__bkind {
    SPK__B_COL,    /* a column of the input */
    SPK__B_LIT,    /* a constant, filled into its vector once */
    SPK__B_KERNEL, /* a kernel over the argument vectors */
    SPK__B_AND, SPK__B_OR, SPK__B_CASE, /* evaluated lazily over narrowed selections */
    SPK__B_AGG     /* an aggregate: evaluated by aggregation, not by kernels */
} spk__bkind;

struct spk__eval;
struct spk__bnode;
typedef void (*spk__kernel)(struct spk__eval *ev, const struct spk__bnode *node, spk__vec *out,
                            spk__vec *const *args, const uint32_t *sel, uint32_t n);

/* Aggregate functions work on per-group states of state_size bytes; update
 * adds the selected rows, each to the state of its group. */
typedef struct spk__agg_ops {
    size_t state_size;
    void (*init)(const struct spk__bnode *node, void *state);
    /* row i's state is at states + group_of_row[i] * stride (group_of_row NULL: states), every
     * group_of_row[i] below ngroups */
    spk_status (*update)(const struct spk__bnode *node, char *states, size_t stride, const uint32_t *group_of_row,
                         uint32_t ngroups, const spk__vec *arg, const uint32_t *sel, uint32_t n);
    spk_status (*merge)(const struct spk__bnode *node, void *into, const void *from); /* adds `from` into `into` */
    spk_status (*final)(const struct spk__bnode *node, const void *state, spk__vec *out, uint32_t row);
    void (*destroy)(const struct spk__bnode *node, void *state); /* optional */
} spk__agg_ops;

typedef struct spk__bnode {
    uint8_t kind;       /* spk__bkind */
    spk_type type;      /* result type */
    bool nullable;
    int col;            /* COL: input column index */
    spk_value lit;      /* LIT: the value (string bytes in `text`) */
    char *text;
    size_t text_size;
    int nargs;
    int args_cap;       /* the argument slots allocated with the node (nargs may be cut to drop some) */
    struct spk__bnode **args;
    spk__kernel kernel; /* KERNEL */
    const spk__agg_ops *agg; /* AGG */
    bool distinct;      /* AGG */
    void *aux;          /* kernel data (compiled pattern, ...), freed by aux_free */
    void (*aux_free)(void *aux);
    int64_t iarg;       /* small integer parameter for kernels (a scale, a unit, ...) */
    int slot;           /* index of the node's vector in the evaluator */
    char *name;         /* the Spark column name of this expression */
    char *label;        /* what explain() shows for a kernel: "+", "upper", "CAST" */
} spk__bnode;

/* The evaluator state kernels may touch: the string arena and the first
 * failure (kernels never fail per row in Spark semantics, but can run out
 * of memory while making strings). */
typedef struct spk__eval {
    const spk_allocator *alloc;
    spk__arena arena;
    spk_status status;
    spk__vec *vecs; /* one per bound node slot */
    int nvecs;
} spk__eval;

/* Runs the statement(s) given for every selected row index i (sel NULL:
 * rows 0..n-1); variadic so that bodies may contain commas. Two
 * loops so that the dense case stays a plain, vectorisable loop. */
#define SPK__FOR_ROWS(sel, n, ...)                                                                \
    do {                                                                                          \
        if (sel) {                                                                                \
            for (uint32_t k_ = 0; k_ < (n); k_++) {                                               \
                uint32_t i = (sel)[k_];                                                           \
                __VA_ARGS__;                                                                      \
            }                                                                                     \
        } else {                                                                                  \
            for (uint32_t i = 0; i < (n); i++) {                                                  \
                __VA_ARGS__;                                                                      \
            }                                                                                     \
        }                                                                                         \
    } while (0)

/* Strings made by kernels: from the arena; on failure the evaluator records
 * SPK_ERR_NOMEM and the kernel writes an empty string. */
static char *spk__eval_strbuf(spk__eval *ev, size_t n) {
    char *p = spk__arena_alloc(&ev->arena, n ? n : 1);
    if (!p && ev->status == SPK_OK) ev->status = spk__nomem("strings of a batch", n);
    return p;
}

/* A vector element as an spk_value (strings as views). */
static spk_value spk__vec_get(const spk__vec *v, uint32_t i) {
    spk_value x = spk_value_null_of(v->type);
    if (v->nulls[i]) return x;
    x.is_null = false;
    switch ((spk_type_id)v->type.id) {
    case SPK_TYPE_BOOLEAN: x.as.b = v->v.b[i] != 0; break;
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE: x.as.i32 = v->v.i32[i]; break;
    case SPK_TYPE_DOUBLE: x.as.f64 = v->v.f64[i]; break;
    case SPK_TYPE_STRING: x.as.str.ptr = v->v.str[i].ptr; x.as.str.len = v->v.str[i].len; break;
    case SPK_TYPE_NULL:
    case SPK_TYPE_COUNT: x.is_null = true; break;
    default: x.as.i64 = v->v.i64[i]; break;
    }
    return x;
}

/* Stores an spk_value (of the vector's type, or NULL) at row i; strings are
 * referenced, not copied. */
static void spk__vec_set(spk__vec *v, uint32_t i, const spk_value *x) {
    if (x->is_null || x->type.id == SPK_TYPE_NULL) {
        v->nulls[i] = 1;
        return;
    }
    v->nulls[i] = 0;
    switch ((spk_type_id)v->type.id) {
    case SPK_TYPE_BOOLEAN: v->v.b[i] = x->as.b; break;
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE: v->v.i32[i] = x->as.i32; break;
    case SPK_TYPE_DOUBLE: v->v.f64[i] = x->as.f64; break;
    case SPK_TYPE_STRING: v->v.str[i].ptr = x->as.str.ptr; v->v.str[i].len = x->as.str.len; break;
    case SPK_TYPE_NULL:
    case SPK_TYPE_COUNT: v->nulls[i] = 1; break;
    default: v->v.i64[i] = x->as.i64; break;
    }
}

/* Moves rows sel[0..n) of v (ascending) to positions 0..n-1, in place:
 * position k is written only after every row at or below it was read. */
#define SPK__COMPACT(T, field)                                        \
    do {                                                              \
        T *x_ = v->v.field;                                           \
        for (uint32_t k = 0; k < n; k++) {                            \
            x_[k] = x_[sel[k]];                                       \
            v->nulls[k] = v->nulls[sel[k]];                           \
        }                                                             \
    } while (0)

static void spk__vec_compact(spk__vec *v, const uint32_t *sel, uint32_t n) {
    switch ((spk_type_id)v->type.id) {
    case SPK_TYPE_BOOLEAN: SPK__COMPACT(uint8_t, b); break;
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE: SPK__COMPACT(int32_t, i32); break;
    case SPK_TYPE_STRING: SPK__COMPACT(spk__str, str); break;
    case SPK_TYPE_NULL:
    case SPK_TYPE_COUNT: memset(v->nulls, 1, n); break;
    default: SPK__COMPACT(int64_t, i64); break;
    }
}

/* out.nulls = a.nulls | b.nulls over the selection; dense batches go eight
 * null bytes at a time. */
static void spk__nulls_or(spk__vec *out, const spk__vec *a, const spk__vec *b, const uint32_t *sel, uint32_t n) {
    uint8_t *restrict o = out->nulls;
    const uint8_t *restrict x = a->nulls, *restrict y = b->nulls;
    if (sel) {
        for (uint32_t k = 0; k < n; k++) o[sel[k]] = x[sel[k]] | y[sel[k]];
        return;
    }
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t u, v;
        memcpy(&u, x + i, 8);
        memcpy(&v, y + i, 8);
        u |= v;
        memcpy(o + i, &u, 8);
    }
    for (; i < n; i++) o[i] = x[i] | y[i];
}
static void spk__nulls_copy(spk__vec *out, const spk__vec *a, const uint32_t *sel, uint32_t n) {
    uint8_t *restrict o = out->nulls;
    const uint8_t *restrict x = a->nulls;
    if (sel) {
        for (uint32_t k = 0; k < n; k++) o[sel[k]] = x[sel[k]];
        return;
    }
    memcpy(o, x, n);
}

/* ---------------------------------------------------------------- bound node lifetime */

static const spk_allocator *spk__bind_alloc(void) { return &spk__default_allocator; }

static spk__bnode *spk__bnode_new(spk__bkind kind, spk_type type, int nargs) {
    size_t size = sizeof(spk__bnode) + (size_t)nargs * sizeof(spk__bnode *);
    spk__bnode *b = (spk__bnode *)spk__calloc(spk__bind_alloc(), size);
    if (!b) {
        spk__nomem("a bound expression", size);
        return NULL;
    }
    b->kind = (uint8_t)kind;
    b->type = type;
    b->nullable = true;
    b->nargs = b->args_cap = nargs;
    b->args = nargs ? (spk__bnode **)(void *)(b + 1) : NULL;
    b->col = -1;
    b->slot = -1;
    return b;
}

static void spk__bnode_free(spk__bnode *b) {
    if (!b) return;
    for (int i = 0; i < b->nargs; i++) spk__bnode_free(b->args[i]);
    if (b->aux_free) b->aux_free(b->aux);
    if (b->text) spk__free(spk__bind_alloc(), b->text, b->text_size);
    spk__free_string(b->name);
    spk__free_string(b->label);
    spk__free(spk__bind_alloc(), b, sizeof(spk__bnode) + (size_t)b->args_cap * sizeof(spk__bnode *));
}

static spk_status spk__bnode_set_label(spk__bnode *b, const char *label) {
    b->label = spk__strndup(spk__bind_alloc(), label, strlen(label));
    return b->label ? SPK_OK : spk__nomem("a label", strlen(label) + 1);
}

/* A literal node; string bytes are copied into the node. */
static spk__bnode *spk__bnode_lit(spk_value v) {
    spk__bnode *b = spk__bnode_new(SPK__B_LIT, v.type, 0);
    if (!b) return NULL;
    b->lit = v;
    b->nullable = v.is_null || v.type.id == SPK_TYPE_NULL;
    if (!b->nullable && v.type.id == SPK_TYPE_STRING) {
        b->text_size = v.as.str.len + 1;
        b->text = spk__strndup(spk__bind_alloc(), v.as.str.ptr ? v.as.str.ptr : "", v.as.str.len);
        if (!b->text) {
            spk__nomem("a string literal", b->text_size);
            spk__free(spk__bind_alloc(), b, sizeof(spk__bnode));
            return NULL;
        }
        b->lit.as.str.ptr = b->text;
    }
    return b;
}

/* ---------------------------------------------------------------- casts */

/* Whether CAST(from AS to) is allowed: exactly when spk_value_cast accepts a
 * non-NULL value of type `from`, so explicit casts and spk_value_cast agree. */
static bool spk__can_cast(spk_type from, spk_type to) {
    if (from.id == SPK_TYPE_NULL) return true;
    if (to.id == SPK_TYPE_NULL) return false;
    spk_value probe = spk_value_null_of(from), out;
    probe.is_null = false;
    if (from.id == SPK_TYPE_STRING) probe.as.str.ptr = "";
    char text[SPK_VALUE_TEXT_MAX];
    spk_status saved_status = spk_last_status();
    char saved[SPK_ERROR_MAX];
    memcpy(saved, spk_last_error(), sizeof saved);
    bool ok = spk_value_cast(&probe, to, &out, text) != SPK_ERR_TYPE;
    spk__fail(saved_status, "%s", saved); /* leave this thread's error as it was */
    return ok;
}

/* Whether Spark casts `from` to `to` on its own (function arguments,
 * operands): numbers among themselves, anything to and from STRING, DATE
 * and TIMESTAMP between each other; never BOOLEAN to or from numbers or
 * dates. Explicit CAST allows more (spk__can_cast). */
static bool spk__can_implicit_cast(spk_type from, spk_type to) {
    spk_type_id f = (spk_type_id)from.id, t = (spk_type_id)to.id;
    if (f == SPK_TYPE_NULL || f == t) return true;
    if (f == SPK_TYPE_STRING || t == SPK_TYPE_STRING) return spk__can_cast(from, to);
    if (spk__is_numeric(f) && spk__is_numeric(t)) return true;
    return (f == SPK_TYPE_DATE || f == SPK_TYPE_TIMESTAMP) && (t == SPK_TYPE_DATE || t == SPK_TYPE_TIMESTAMP);
}

/* CAST kernel: fast paths for the common numeric widenings, then a general
 * per-row path through spk_value_cast (strings made in the batch arena). */
static void spk__kernel_cast(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                             const uint32_t *sel, uint32_t n) {
    const spk__vec *a = args[0];
    spk_type_id from = (spk_type_id)a->type.id, to = (spk_type_id)out->type.id;
    (void)node;
    if (from == SPK_TYPE_INT32 && to == SPK_TYPE_INT64) {
        const int32_t *x = a->v.i32;
        int64_t *o = out->v.i64;
        SPK__FOR_ROWS(sel, n, o[i] = x[i]);
        spk__nulls_copy(out, a, sel, n);
        return;
    }
    if ((from == SPK_TYPE_INT32 || from == SPK_TYPE_INT64) && to == SPK_TYPE_DOUBLE) {
        double *o = out->v.f64;
        if (from == SPK_TYPE_INT32) {
            const int32_t *x = a->v.i32;
            SPK__FOR_ROWS(sel, n, o[i] = (double)x[i]);
        } else {
            const int64_t *x = a->v.i64;
            SPK__FOR_ROWS(sel, n, o[i] = (double)x[i]);
        }
        spk__nulls_copy(out, a, sel, n);
        return;
    }
    if (from == SPK_TYPE_DATE && to == SPK_TYPE_TIMESTAMP) {
        const int32_t *x = a->v.i32;
        int64_t *o = out->v.i64;
        SPK__FOR_ROWS(sel, n, o[i] = (int64_t)x[i] * SPK__MICROS_PER_DAY);
        spk__nulls_copy(out, a, sel, n);
        return;
    }
    if (to == SPK_TYPE_DECIMAL && (from == SPK_TYPE_DECIMAL || from == SPK_TYPE_INT32 || from == SPK_TYPE_INT64)) {
        int from_scale = from == SPK_TYPE_DECIMAL ? a->type.scale : 0;
        int to_scale = out->type.scale, precision = out->type.precision;
        int64_t *o = out->v.i64;
        uint8_t *on = out->nulls;
        const uint8_t *an = a->nulls;
        if (from == SPK_TYPE_INT32) {
            const int32_t *x = a->v.i32;
            SPK__FOR_ROWS(sel, n, on[i] = an[i] | !spk__decimal_rescale(x[i], 0, to_scale, precision, &o[i]));
        } else {
            const int64_t *x = a->v.i64;
            SPK__FOR_ROWS(sel, n, on[i] = an[i] | !spk__decimal_rescale(x[i], from_scale, to_scale, precision, &o[i]));
        }
        return;
    }
    if (to == SPK_TYPE_STRING && from == SPK_TYPE_STRING) {
        spk__str *o = out->v.str;
        const spk__str *x = a->v.str;
        SPK__FOR_ROWS(sel, n, o[i] = x[i]);
        spk__nulls_copy(out, a, sel, n);
        return;
    }
    SPK__FOR_ROWS(sel, n, {
        spk_value in = spk__vec_get(a, i), r;
        char text[SPK_VALUE_TEXT_MAX];
        if (spk_value_cast(&in, out->type, &r, text) != SPK_OK) {
            r = spk_value_null_of(out->type); /* rejected at bind time; DATE out of TIMESTAMP range */
        } else if (to == SPK_TYPE_STRING && !r.is_null && r.as.str.ptr == text) {
            char *copy = spk__eval_strbuf(ev, r.as.str.len);
            if (copy) memcpy(copy, text, r.as.str.len);
            r.as.str.ptr = copy ? copy : "";
            if (!copy) r.as.str.len = 0;
        }
        spk__vec_set(out, i, &r);
    });
}

/* Wraps *slot in a CAST to `to` (no-op if it already has that type). */
static spk_status spk__coerce(spk__bnode **slot, spk_type to) {
    spk__bnode *x = *slot;
    if (spk_type_equal(x->type, to)) return SPK_OK;
    if (x->kind == SPK__B_LIT) { /* fold: cast the constant now */
        spk_value r;
        char text[SPK_VALUE_TEXT_MAX];
        spk_status st = spk_value_cast(&x->lit, to, &r, text);
        if (st != SPK_OK) return st;
        spk__bnode *lit = spk__bnode_lit(r);
        if (!lit) return SPK_ERR_NOMEM;
        lit->name = x->name;
        x->name = NULL;
        spk__bnode_free(x);
        *slot = lit;
        return SPK_OK;
    }
    spk__bnode *c = spk__bnode_new(SPK__B_KERNEL, to, 1);
    if (!c) return SPK_ERR_NOMEM;
    c->args[0] = x;
    c->nullable = true;
    c->kernel = spk__kernel_cast;
    if (spk__bnode_set_label(c, "CAST") != SPK_OK) {
        c->args[0] = NULL;
        c->nargs = 0;
        spk__bnode_free(c);
        return SPK_ERR_NOMEM;
    }
    *slot = c;
    return SPK_OK;
}

/* ---------------------------------------------------------------- implicit typing
 * Spark's default (non-ANSI) coercion, with DECIMAL capped at 18 digits. */

static bool spk__is_numeric_type(spk_type t) { return spk__is_numeric((spk_type_id)t.id); }

/* The decimal type an integer operand behaves as (Spark: INT as DECIMAL(10,0);
 * BIGINT as DECIMAL(20,0), which we cap at 18 digits). */
static spk_type spk__decimal_of(spk_type t) {
    if (t.id == SPK_TYPE_DECIMAL) return t;
    return spk_type_decimal(t.id == SPK_TYPE_INT32 ? 10 : 18, 0);
}

/* Spark's precision-loss rule: keep the integer digits, keep at least
 * min(scale, 6) fraction digits, within 18 digits. */
static spk_type spk__decimal_bounded(int precision, int scale) {
    if (precision <= SPK_DECIMAL_MAX_PRECISION) return spk_type_decimal(precision, scale);
    int int_digits = precision - scale;
    int min_scale = scale < 6 ? scale : 6;
    int adjusted = SPK_DECIMAL_MAX_PRECISION - int_digits;
    if (adjusted < min_scale) adjusted = min_scale;
    return spk_type_decimal(SPK_DECIMAL_MAX_PRECISION, adjusted);
}

/* The wider of two decimals (for comparison, CASE, IN, coalesce). */
static spk_type spk__decimal_wider(spk_type a, spk_type b) {
    int scale = a.scale > b.scale ? a.scale : b.scale;
    int ia = a.precision - a.scale, ib = b.precision - b.scale;
    return spk__decimal_bounded((ia > ib ? ia : ib) + scale, scale);
}

/* The type two operands meet at; false if there is none (BOOLEAN and DATE).
 * For a comparison (and IN) a string meets another type at that type, as
 * Spark casts the string; for CASE and coalesce values it meets at STRING. */
static bool spk__common_type(spk_type a, spk_type b, bool comparison, spk_type *out) {
    spk_type_id x = (spk_type_id)a.id, y = (spk_type_id)b.id;
    if (spk_type_equal(a, b)) { *out = a; return true; }
    if (x == SPK_TYPE_NULL) { *out = b; return true; }
    if (y == SPK_TYPE_NULL) { *out = a; return true; }
    if (spk__is_numeric_type(a) && spk__is_numeric_type(b)) {
        if (x == SPK_TYPE_DOUBLE || y == SPK_TYPE_DOUBLE) *out = spk_type_of(SPK_TYPE_DOUBLE);
        else if (x == SPK_TYPE_DECIMAL || y == SPK_TYPE_DECIMAL) *out = spk__decimal_wider(spk__decimal_of(a), spk__decimal_of(b));
        else *out = spk_type_of(SPK_TYPE_INT64);
        return true;
    }
    if ((x == SPK_TYPE_DATE || x == SPK_TYPE_TIMESTAMP) && (y == SPK_TYPE_DATE || y == SPK_TYPE_TIMESTAMP)) {
        *out = spk_type_of(SPK_TYPE_TIMESTAMP);
        return true;
    }
    if (x == SPK_TYPE_STRING || y == SPK_TYPE_STRING) {
        spk_type other = x == SPK_TYPE_STRING ? b : a;
        /* Spark compares a string with a DECIMAL as DOUBLEs (SPARK-22469). */
        if (comparison && other.id == SPK_TYPE_DECIMAL) other = spk_type_of(SPK_TYPE_DOUBLE);
        *out = comparison ? other : spk_type_of(SPK_TYPE_STRING);
        return true;
    }
    return false;
}

/* ---------------------------------------------------------------- exact decimal arithmetic
 * Unscaled int64 operands with their scales; results rounded half-up to the
 * result scale and checked against its precision (false: overflow, which
 * Spark's default mode turns into NULL). Intermediates are 128-bit where the
 * compiler has them (gcc, clang); elsewhere long double, exact to 18 digits
 * only when the intermediate fits its mantissa. */

static bool spk__add_overflow_i64(int64_t a, int64_t b, int64_t *out) {
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_add_overflow(a, b, out);
#else
    if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b)) {
        *out = (int64_t)((uint64_t)a + (uint64_t)b);
        return true;
    }
    *out = a + b;
    return false;
#endif
}

#if defined(__SIZEOF_INT128__)
__extension__ typedef __int128 spk__wide;
#else
typedef long double spk__wide;
#endif

static spk__wide spk__wide_pow10(int k) {
    spk__wide p = 1;
    while (k-- > 0) p *= 10;
    return p;
}

/* v / 10^k rounded half away from zero (Spark's HALF_UP). */
static spk__wide spk__wide_div_round(spk__wide v, spk__wide d) {
#if defined(__SIZEOF_INT128__)
    spk__wide q = v / d, r = v % d;
    if ((r < 0 ? -r : r) * 2 >= d) q += v < 0 ? -1 : 1;
    return q;
#else
    spk__wide q = v / d;
    return q < 0 ? -floorl(-q + 0.5L) : floorl(q + 0.5L);
#endif
}

static bool spk__wide_fits(spk__wide v, int precision, int64_t *out) {
    spk__wide limit = (spk__wide)spk__pow10[precision];
    if (v >= limit || v <= -limit) return false;
    *out = (int64_t)v;
    return true;
}

/* Brings v from scale `from` to scale `to` (both <= 36). */
static spk__wide spk__wide_rescale(spk__wide v, int from, int to) {
    if (to >= from) return v * spk__wide_pow10(to - from);
    return spk__wide_div_round(v, spk__wide_pow10(from - to));
}

static bool spk__mul_overflow_i64(int64_t a, int64_t b, int64_t *out) {
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_mul_overflow(a, b, out);
#else
    if (a != 0 && ((b > 0 ? b : -b) > INT64_MAX / (a > 0 ? a : -a) || a == INT64_MIN || b == INT64_MIN)) return true;
    *out = a * b;
    return false;
#endif
}

static bool spk__decimal_add_sub(int64_t a, int sa, int64_t b, int sb, bool subtract, int scale, int precision, int64_t *out) {
    int s = sa > sb ? sa : sb;
    spk__wide x = spk__wide_rescale(a, sa, s), y = spk__wide_rescale(b, sb, s);
    return spk__wide_fits(spk__wide_rescale(subtract ? x - y : x + y, s, scale), precision, out);
}

static bool spk__decimal_mul(int64_t a, int sa, int64_t b, int sb, int scale, int precision, int64_t *out) {
    return spk__wide_fits(spk__wide_rescale((spk__wide)a * b, sa + sb, scale), precision, out);
}

/* (a / 10^sa) / (b / 10^sb) at `scale`; false on overflow or b == 0. */
static bool spk__decimal_div_round(int64_t a, int sa, int64_t b, int sb, int scale, int precision, int64_t *out) {
    if (b == 0) return false;
    int k = scale - sa + sb; /* a * 10^k / b */
    spk__wide num = a, den = b;
    if (k >= 0) {
        if (k > 36) return false;
        spk__wide f = spk__wide_pow10(k);
        spk__wide limit = (spk__wide)spk__pow10[18] * (spk__wide)spk__pow10[18] * 100; /* 1e38 */
        if ((num < 0 ? -num : num) > limit / f) return false;
        num *= f;
    } else {
        den *= spk__wide_pow10(-k);
    }
    if (den < 0) {
        num = -num;
        den = -den;
    }
    return spk__wide_fits(spk__wide_div_round(num, den), precision, out);
}

static bool spk__decimal_mod(int64_t a, int sa, int64_t b, int sb, int scale, int precision, int64_t *out) {
    int s = sa > sb ? sa : sb;
    spk__wide x = spk__wide_rescale(a, sa, s), y = spk__wide_rescale(b, sb, s);
    if (y == 0) return false;
#if defined(__SIZEOF_INT128__)
    spk__wide r = x % y;
#else
    spk__wide r = fmodl(x, y);
#endif
    return spk__wide_fits(spk__wide_rescale(r, s, scale), precision, out);
}

/* ---------------------------------------------------------------- vectors into tables
 * The bulk path from evaluation back to the row store: values are written
 * straight into a chunk's columns, a chunk's worth of room reserved at a time. */

/* Room for `rows` more rows holding `string_bytes` in the tail chunk, which
 * may be a fresh one; *fit is how many rows the tail can take now (>= 1). */
static spk_status spk__reserve_rows(spk_table *t, uint32_t rows, size_t string_bytes, spk__chunk **chunk, uint32_t *fit) {
    spk__chunk *c = NULL;
    spk_status st = spk__reserve_row(t, 0, &c); /* a tail chunk with room for one row */
    if (st != SPK_OK) return st;
    uint32_t room = SPK_CHUNK_ROWS - c->nrows;
    uint32_t want = rows < room ? rows : room;
    if (string_bytes > (size_t)(UINT32_MAX - c->heap_len)) return spk__fail(SPK_ERR_LIMIT, "a chunk's strings exceed 4 GiB");
    if ((st = spk__chunk_reserve(t, c, want, string_bytes, true)) != SPK_OK) return st;
    *chunk = c;
    *fit = want;
    return SPK_OK;
}

/* Appends rows from column vectors (one per table column, of the column's
 * type) for the selected rows. Values are trusted to fit their columns;
 * a NULL in a non-nullable column is SPK_ERR_NULL. All or nothing. */
static spk_status spk__table_append_vecs(spk_table *t, spk__vec *const *cols, const uint32_t *sel, uint32_t n) {
    spk__table_mark mark = spk__table_mark_get(t);
    uint32_t done = 0;
    while (done < n) {
        /* Strings first decide how many rows fit this chunk's heap. */
        spk__chunk *c;
        uint32_t fit;
        spk_status st = spk__reserve_rows(t, n - done, 0, &c, &fit);
        size_t bytes = 0;
        for (int col = 0; st == SPK_OK && col < t->ncols; col++) {
            if (cols[col]->type.id != SPK_TYPE_STRING) continue;
            for (uint32_t k = done; k < done + fit; k++) {
                uint32_t i = sel ? sel[k] : k;
                if (!cols[col]->nulls[i]) bytes += cols[col]->v.str[i].len;
            }
        }
        if (st == SPK_OK && bytes) st = spk__reserve_rows(t, fit, bytes, &c, &fit);
        if (st != SPK_OK) {
            spk__table_rollback(t, mark);
            return st;
        }
        /* Column at a time: one type switch per column, then a tight loop. */
        unsigned char *nulls = spk__nulls_at(t, c, c->nrows);
        size_t nb = t->null_bytes;
        memset(nulls, 0, (size_t)fit * nb);
        uint32_t heap_at = c->heap_len;
        for (int col = 0; col < t->ncols; col++) {
            const spk__vec *v = cols[col];
            unsigned char *p = spk__field_at(t, c, c->nrows, col), bit = (unsigned char)(1u << (col & 7));
            int byte = col >> 3;
            bool nullable = spk_schema_field(t->schema, col)->nullable;
            for (uint32_t k = 0; k < fit; k++) {
                uint32_t i = sel ? sel[done + k] : done + k;
                if (v->nulls[i]) {
                    if (!nullable) {
                        spk__table_rollback(t, mark);
                        return spk__fail(SPK_ERR_NULL, "column %d (`%s`): NULL in non-nullable column", col + 1,
                                         spk_schema_field(t->schema, col)->name);
                    }
                    nulls[(size_t)k * nb + byte] |= bit;
                    if (col < SPK__NULLS_KNOWN) c->maybe_null[col >> 6] |= (uint64_t)1 << (col & 63);
                }
            }
            switch ((spk_type_id)v->type.id) {
            case SPK_TYPE_BOOLEAN:
                for (uint32_t k = 0; k < fit; k++) {
                    uint32_t i = sel ? sel[done + k] : done + k;
                    p[k] = v->nulls[i] ? 0 : v->v.b[i];
                }
                break;
            case SPK_TYPE_INT32:
            case SPK_TYPE_DATE:
                if (!sel) memcpy(p, &v->v.i32[done], (size_t)fit * 4);
                else for (uint32_t k = 0; k < fit; k++) memcpy(p + (size_t)k * 4, &v->v.i32[sel[done + k]], 4);
                break;
            case SPK_TYPE_STRING:
                break; /* below, in row order, so the heap stays row-major */
            case SPK_TYPE_NULL:
            case SPK_TYPE_COUNT: break;
            default:
                if (!sel) memcpy(p, &v->v.i64[done], (size_t)fit * 8);
                else for (uint32_t k = 0; k < fit; k++) memcpy(p + (size_t)k * 8, &v->v.i64[sel[done + k]], 8);
                break;
            }
        }
        if (t->last_string >= 0) {
            for (uint32_t k = 0; k < fit; k++) {
                uint32_t i = sel ? sel[done + k] : done + k;
                for (int col = 0; col < t->ncols; col++) {
                    const spk__vec *v = cols[col];
                    if (v->type.id != SPK_TYPE_STRING) continue;
                    if (!v->nulls[i] && v->v.str[i].len) {
                        memcpy(c->heap + heap_at, v->v.str[i].ptr, v->v.str[i].len);
                        heap_at += (uint32_t)v->v.str[i].len;
                    }
                    memcpy(spk__field_at(t, c, c->nrows + k, col), &heap_at, 4);
                }
            }
        }
        c->nrows += fit;
        t->nrows += fit;
        c->heap_len = heap_at;
        done += fit;
    }
    return SPK_OK;
}

/* Appends copies of rows [start + sel[k]] of chunk `c` of table `in` to `t`
 * (same layout: equal schemas). Fields move column by column, runs of
 * consecutive rows at once; strings are copied and their end offsets
 * rewritten. All or nothing. */
static spk_status spk__table_append_slots(spk_table *t, const spk_table *in, const spk__chunk *c, uint32_t start,
                                          const uint32_t *sel, uint32_t n) {
    spk__table_mark mark = spk__table_mark_get(t);
    uint32_t done = 0;
    while (done < n) {
        spk__chunk *dst;
        uint32_t fit;
        spk_status st = spk__reserve_rows(t, n - done, 0, &dst, &fit);
        size_t bytes = 0;
        if (st == SPK_OK && t->last_string >= 0) {
            for (uint32_t k = done; k < done + fit; k++) {
                uint32_t row = start + (sel ? sel[k] : k);
                uint32_t first = row ? spk__load_u32(spk__field_at(in, c, row - 1, in->last_string)) : 0;
                bytes += spk__load_u32(spk__field_at(in, c, row, in->last_string)) - first;
            }
            if (bytes) st = spk__reserve_rows(t, fit, bytes, &dst, &fit);
        }
        if (st != SPK_OK) {
            spk__table_rollback(t, mark);
            return st;
        }
        dst->maybe_null[0] |= c->maybe_null[0];
        dst->maybe_null[1] |= c->maybe_null[1];
        /* Fields column by column, runs of consecutive rows at once; then strings in row order. */
        for (int col = -1; col < t->ncols; col++) {
            size_t size = col < 0 ? t->null_bytes : t->size[col];
            uint32_t k = done, at = dst->nrows;
            while (size && k < done + fit) {
                uint32_t row = start + (sel ? sel[k] : k), run = 1;
                while (k + run < done + fit && start + (sel ? sel[k + run] : k + run) == row + run) run++;
                if (col < 0) memcpy(spk__nulls_at(t, dst, at), spk__nulls_at(in, c, row), (size_t)run * size);
                else memcpy(spk__field_at(t, dst, at, col), spk__field_at(in, c, row, col), (size_t)run * size);
                at += run;
                k += run;
            }
        }
        uint32_t heap_at = dst->heap_len;
        for (uint32_t k = done; t->last_string >= 0 && k < done + fit; k++) {
            uint32_t row = start + (sel ? sel[k] : k), at = dst->nrows + (k - done);
            uint32_t from = row ? spk__load_u32(spk__field_at(in, c, row - 1, in->last_string)) : 0;
            uint32_t to = spk__load_u32(spk__field_at(in, c, row, in->last_string));
            if (to > from) memcpy(dst->heap + heap_at, c->heap + from, to - from);
            for (int col = 0; col < t->ncols; col++) { /* ends shift by the same amount */
                if (spk_schema_field(t->schema, col)->type.id != SPK_TYPE_STRING) continue;
                uint32_t end = spk__load_u32(spk__field_at(in, c, row, col)) - from + heap_at;
                memcpy(spk__field_at(t, dst, at, col), &end, 4);
            }
            heap_at += to - from;
        }
        dst->nrows += fit;
        t->nrows += fit;
        dst->heap_len = heap_at;
        done += fit;
    }
    return SPK_OK;
}

/* Appends copies of every row of src (same layout) to t. All or nothing. */
static spk_status spk__table_append_table(spk_table *t, const spk_table *src) {
    spk__table_mark mark = spk__table_mark_get(t);
    spk_status st = SPK_OK;
    for (size_t i = 0; st == SPK_OK && i < src->nchunks; i++)
        st = spk__table_append_slots(t, src, src->chunks[i], 0, NULL, src->chunks[i]->nrows);
    if (st != SPK_OK) spk__table_rollback(t, mark);
    return st;
}

/* Appends every row of `src` (same schema, same allocator) to t, moving
 * big chunks over as they are and copying small ones, so that a result
 * put together from many small per-morsel pieces is not many small chunks.
 * src is left to be freed; on failure t may hold some of its rows. */
static spk_status spk__table_adopt(spk_table *t, spk_table *src) {
    size_t kept = 0;
    spk_status st = SPK_OK;
    for (size_t i = 0; i < src->nchunks; i++) {
        spk__chunk *c = src->chunks[i];
        spk__chunk *last = t->nchunks ? t->chunks[t->nchunks - 1] : NULL;
        if (st != SPK_OK || c->nrows < SPK_CHUNK_ROWS / 4) {
            if (st == SPK_OK && c->nrows) st = spk__table_append_slots(t, src, c, 0, NULL, c->nrows);
            src->chunks[kept++] = c; /* freed with src */
            continue;
        }
        if (t->nchunks == t->cap_chunks) {
            size_t cap = t->cap_chunks ? t->cap_chunks * 2 : 4;
            void *p = spk__table_realloc(t, t->chunks, t->cap_chunks * sizeof *t->chunks, cap * sizeof *t->chunks);
            if (!p) {
                st = spk__nomem("the chunk list", cap * sizeof *t->chunks);
                src->chunks[kept++] = c;
                continue;
            }
            t->chunks = (spk__chunk **)p;
            t->cap_chunks = cap;
        }
        if (last) spk__chunk_seal(t, last);
        size_t bytes = spk__chunk_bytes(src, c);
        src->bytes -= bytes;
        t->bytes += bytes;
        c->first_row = t->nrows;
        t->chunks[t->nchunks++] = c;
        t->nrows += c->nrows;
    }
    src->nchunks = kept;
    return st;
}

/* A new table with the rows of src, sharing its chunks (which neither
 * writes again: appends to either start a chunk of their own). A small
 * tail chunk is copied instead, so that a table grown by many small
 * appends does not become many small chunks. Same allocator as src. */
static spk_status spk__table_share(const spk_table *src, spk_table **out) {
    spk_table *t = NULL;
    spk_status st = spk_table_new(src->alloc, src->schema, &t);
    size_t shared = src->nchunks;
    if (shared && src->chunks[shared - 1]->nrows < SPK_CHUNK_ROWS / 4) shared--;
    if (st == SPK_OK && shared) {
        t->chunks = (spk__chunk **)spk__table_alloc(t, shared * sizeof *t->chunks);
        if (!t->chunks) st = spk__nomem("the chunk list", shared * sizeof *t->chunks);
        else t->cap_chunks = shared;
    }
    for (size_t i = 0; st == SPK_OK && i < shared; i++) {
        spk__chunk *c = src->chunks[i];
        atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed); /* src holds one */
        t->chunks[t->nchunks++] = c;
        t->nrows += c->nrows;
        t->bytes += spk__chunk_bytes(t, c);
    }
    if (st == SPK_OK && shared < src->nchunks) {
        const spk__chunk *c = src->chunks[shared];
        st = spk__table_append_slots(t, src, c, 0, NULL, c->nrows);
    }
    if (st != SPK_OK) {
        spk_table_free(t);
        return st;
    }
    *out = t;
    return SPK_OK;
}
