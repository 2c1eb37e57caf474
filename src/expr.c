/* expr: expression nodes, builders, the SQL expression parser, and Spark's
 * text form of an expression. Typing and evaluation live in eval. */
#include "taskq.c"
#include "expr.h"

typedef enum spk__op {
    SPK__OP_COL, SPK__OP_STAR, SPK__OP_LIT, SPK__OP_INTERVAL,
    SPK__OP_NEG, SPK__OP_NOT, SPK__OP_IS_NULL, SPK__OP_IS_NOT_NULL,
    SPK__OP_ADD, SPK__OP_SUB, SPK__OP_MUL, SPK__OP_DIV, SPK__OP_MOD, SPK__OP_INTDIV,
    SPK__OP_EQ, SPK__OP_NE, SPK__OP_LT, SPK__OP_LE, SPK__OP_GT, SPK__OP_GE, SPK__OP_EQ_NS,
    SPK__OP_AND, SPK__OP_OR,
    SPK__OP_IN, SPK__OP_LIKE, SPK__OP_RLIKE,
    SPK__OP_CASE, SPK__OP_CAST, SPK__OP_ALIAS, SPK__OP_CALL,
    SPK__OP_SORT, /* a sort key: args[0], with direction and NULL order; only in orderBy */
    SPK__OP_COUNT
} spk__op;

/* The SQL text a parsed expression came from, shared by its column and call
 * nodes so that errors found later (an unknown column at bind time) can
 * point a caret at the right place. */
typedef struct spk__source {
    atomic_int refs;
    size_t len;
    char text[]; /* len + 1 bytes */
} spk__source;

/* A block that decoded nodes are carved from (wire.c), so a decode costs a
 * few allocations instead of one per node: it counts the live nodes in it
 * (with a bias while the decoder still carves) and goes with the last. */
typedef struct spk__expr_block {
    atomic_int refs;
    size_t size;
} spk__expr_block;

/* Whether dropping one reference of a count leaves none. A count of 1 read
 * with acquire is the caller's own reference alone (nobody else can add one
 * without holding one), so the common case of releasing a tree nobody
 * shares skips the atomic read-modify-write. */
static bool spk__last_ref(atomic_int *refs) {
    return atomic_load_explicit(refs, memory_order_acquire) == 1 ||
           atomic_fetch_sub_explicit(refs, 1, memory_order_acq_rel) == 1;
}

struct spk_expr {
    atomic_int refs;
    uint8_t op;        /* spk__op */
    bool distinct;     /* CALL: aggregate over distinct values */
    bool has_else;     /* CASE: the last argument is the ELSE value */
    bool descending;   /* SORT */
    bool nulls_first;  /* SORT */
    bool inline_text;  /* name, qualifier and text lie in this node's block (decoded by wire.c): not freed apart */
    int nargs;
    spk_expr **args;   /* CASE: cond, value, cond, value, ..., [else] */
    char *name;        /* COL: column; ALIAS: alias; CALL: function; LIKE/RLIKE: pattern */
    char *qualifier;   /* COL: table or alias qualifier, or NULL */
    char *text;        /* LIT: the bytes of a string literal */
    spk_value lit;     /* LIT */
    spk_type type;     /* CAST: target type */
    int32_t months, days; /* INTERVAL */
    int64_t micros;       /* INTERVAL */
    int height;           /* 1 + the tallest child: bounded, so recursion is */
    spk__source *source;  /* COL, CALL from the parser: the text, and ... */
    size_t pos;           /* ... the node's byte offset in it */
    spk_udf *udf;         /* CALL of a UDF made by spk_udf_call or decoded: a reference */
    spk__expr_block *block; /* the block the node lies in (decoded nodes), or NULL: its own allocation */
    size_t size;       /* of this node's block (struct + args) */
};

/* A UDF definition (udf.h; made and registered in udf.c). It lives here
 * because expression nodes hold references to it. One block holds the
 * struct, arg_types and params; name and each parameter name are strings
 * of the default allocator. */
struct spk_udf {
    atomic_int refs;
    uint8_t kind;          /* spk_udf_kind */
    int nargs;
    char *name;
    spk_type *arg_types;   /* nargs */
    spk_type return_type;  /* MACRO: NULL-typed (the body's type, found at bind) */
    spk_udf_fn fn;         /* SCALAR */
    spk_udaf_fns agg;      /* AGGREGATE */
    void *user;
    char **params;         /* MACRO: nargs parameter names */
    spk_expr *body;        /* MACRO: the body, over COL nodes named by params */
    int depth;             /* 1 + the deepest UDF its body holds by reference: bounded, so releases are */
    size_t size;           /* of the block */
};

SPKDEF spk_udf *spk_udf_retain(spk_udf *u) {
    if (u) atomic_fetch_add_explicit(&u->refs, 1, memory_order_relaxed);
    return u;
}

static void spk__free_string(char *s);

SPKDEF void spk_udf_release(spk_udf *u) {
    if (!u || atomic_fetch_sub_explicit(&u->refs, 1, memory_order_acq_rel) != 1) return;
    spk__free_string(u->name);
    for (int i = 0; u->params && i < u->nargs; i++) spk__free_string(u->params[i]);
    spk_expr_release(u->body); /* may release macros it calls: nesting is bounded where bodies are made */
    spk__free(&spk__default_allocator, u, u->size);
}

static spk__source *spk__source_new(const char *text, size_t len) {
    spk__source *s = (spk__source *)spk__alloc(&spk__default_allocator, sizeof *s + len + 1);
    if (!s) {
        spk__nomem("the expression text", sizeof *s + len + 1);
        return NULL;
    }
    atomic_init(&s->refs, 1);
    s->len = len;
    memcpy(s->text, text, len);
    s->text[len] = '\0';
    return s;
}
static spk__source *spk__source_retain(spk__source *s) {
    if (s) atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}
static void spk__source_release(spk__source *s) {
    if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
        spk__free(&spk__default_allocator, s, sizeof *s + s->len + 1);
}

static const spk_allocator *spk__expr_alloc(void) { return &spk__default_allocator; }

/* Every recursive walk of a tree (binding, evaluation, release) is bounded
 * by this height, so no input can exhaust the stack. */
#define SPK_EXPR_MAX_DEPTH 1000

static void spk__free_string(char *s) {
    if (s) spk__free(spk__expr_alloc(), s, strlen(s) + 1);
}

static spk_expr *spk__expr_new(spk__op op, int nargs) {
    size_t size = sizeof(spk_expr) + (size_t)nargs * sizeof(spk_expr *);
    spk_expr *e = (spk_expr *)spk__calloc(spk__expr_alloc(), size);
    if (!e) {
        spk__nomem("an expression", size);
        return NULL;
    }
    atomic_init(&e->refs, 1);
    e->op = (uint8_t)op;
    e->nargs = nargs;
    e->args = nargs ? (spk_expr **)(void *)(e + 1) : NULL;
    e->size = size;
    e->height = 1;
    return e;
}

SPKDEF spk_expr *spk_expr_retain(spk_expr *e) {
    if (e) atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed); /* as spk_schema_retain */
    return e;
}

/* The block references one release drops, paid with one atomic operation
 * per run of nodes from the same block rather than one per node: a decoded
 * tree lies in one block, so releasing it costs one. Holding the drops back
 * only delays the block's free until its nodes are no longer touched. */
typedef struct spk__block_drops {
    spk__expr_block *block;
    int drops;
} spk__block_drops;

static void spk__block_drops_pay(spk__block_drops *d) {
    spk__expr_block *b = d->block;
    if (!b) return;
    /* As spk__last_ref: a count equal to our own drops is ours alone. */
    if (atomic_load_explicit(&b->refs, memory_order_acquire) == d->drops ||
        atomic_fetch_sub_explicit(&b->refs, d->drops, memory_order_acq_rel) == d->drops)
        spk__free(spk__expr_alloc(), b, b->size);
    d->block = NULL;
    d->drops = 0;
}

static void spk__expr_release_into(spk_expr *e, spk__block_drops *d) {
    while (e && spk__last_ref(&e->refs)) {
        /* Release children; the last one iteratively, so long chains such as
         * a + b + c + ... cannot exhaust the stack. */
        spk_expr *tail = NULL;
        for (int i = 0; i < e->nargs; i++) {
            if (i == e->nargs - 1) tail = e->args[i];
            else spk__expr_release_into(e->args[i], d);
        }
        if (!e->inline_text) {
            spk__free_string(e->name);
            spk__free_string(e->qualifier);
            if (e->text) spk__free(spk__expr_alloc(), e->text, e->lit.as.str.len + 1);
        }
        if (e->source) spk__source_release(e->source);
        if (e->udf) spk_udf_release(e->udf);
        if (e->block) {
            if (e->block != d->block) {
                spk__block_drops_pay(d);
                d->block = e->block;
            }
            d->drops++;
        } else spk__free(spk__expr_alloc(), e, e->size);
        e = tail;
    }
}

SPKDEF void spk_expr_release(spk_expr *e) {
    spk__block_drops d = {NULL, 0};
    spk__expr_release_into(e, &d);
    spk__block_drops_pay(&d);
}

static void spk__release_all(spk_expr *const *list, int n) {
    for (int i = 0; i < n; i++) spk_expr_release(list[i]);
}

/* A node with the given children; consumes them, also on failure. */
/* Sets e's height from its children; false (and an error) if too tall. */
static bool spk__set_height(spk_expr *e) {
    int h = 0;
    for (int i = 0; i < e->nargs; i++)
        if (e->args[i] && e->args[i]->height > h) h = e->args[i]->height;
    e->height = h + 1;
    if (e->height <= SPK_EXPR_MAX_DEPTH) return true;
    spk__fail(SPK_ERR_LIMIT, "expression nested more than %d levels deep", SPK_EXPR_MAX_DEPTH);
    return false;
}

static spk_expr *spk__node(spk__op op, spk_expr *const *args, int n) {
    int tallest = 0;
    for (int i = 0; i < n; i++) {
        if (!args[i]) {
            spk__release_all(args, n);
            return NULL;
        }
        if (args[i]->height > tallest) tallest = args[i]->height;
    }
    if (tallest >= SPK_EXPR_MAX_DEPTH) {
        spk__release_all(args, n);
        spk__fail(SPK_ERR_LIMIT, "expression nested more than %d levels deep", SPK_EXPR_MAX_DEPTH);
        return NULL;
    }
    spk_expr *e = spk__expr_new(op, n);
    if (!e) {
        spk__release_all(args, n);
        return NULL;
    }
    for (int i = 0; i < n; i++) e->args[i] = args[i];
    e->height = tallest + 1;
    return e;
}

static spk_expr *spk__unary(spk__op op, spk_expr *a) { return spk__node(op, &a, 1); }
static spk_expr *spk__binary(spk__op op, spk_expr *a, spk_expr *b) {
    spk_expr *args[2] = {a, b};
    return spk__node(op, args, 2);
}

/* Sets e->name to a copy of `name`; releases e and returns NULL on failure. */
static spk_expr *spk__with_name(spk_expr *e, const char *name, size_t len) {
    if (!e) return NULL;
    e->name = spk__strndup(spk__expr_alloc(), name, len);
    if (!e->name) {
        spk__nomem("a name", len + 1);
        spk_expr_release(e);
        return NULL;
    }
    return e;
}

/* A copy of node e with the given children (consumed); NULL and an error
 * if the copy would be too tall. Rewrites (the optimizer moving an
 * expression, a macro's substitution) build through it, so a copy keeps
 * everything the node holds, its UDF included. */
static spk_expr *spk__expr_copy_with(const spk_expr *e, spk_expr **args) {
    spk_expr *c = spk__node((spk__op)e->op, args, e->nargs);
    if (!c) return NULL;
    c->distinct = e->distinct;
    c->has_else = e->has_else;
    c->descending = e->descending;
    c->nulls_first = e->nulls_first;
    c->lit = e->lit;
    c->type = e->type;
    c->months = e->months;
    c->days = e->days;
    c->micros = e->micros;
    c->pos = e->pos;
    c->source = spk__source_retain(e->source);
    c->udf = spk_udf_retain(e->udf);
    bool ok = true;
    if (e->name) ok = (c->name = spk__strndup(spk__expr_alloc(), e->name, strlen(e->name))) != NULL;
    if (ok && e->qualifier) ok = (c->qualifier = spk__strndup(spk__expr_alloc(), e->qualifier, strlen(e->qualifier))) != NULL;
    if (ok && e->text) {
        ok = (c->text = spk__strndup(spk__expr_alloc(), e->text, e->lit.as.str.len)) != NULL;
        if (ok) c->lit.as.str.ptr = c->text;
    }
    if (!ok) {
        spk__nomem("an expression", sizeof *c);
        spk_expr_release(c);
        return NULL;
    }
    return c;
}

/* ---------------------------------------------------------------- builders */

SPKDEF spk_expr *spk_col(const char *name) {
    if (!name) {
        spk__fail(SPK_ERR_ARG, "spk_col: NULL name");
        return NULL;
    }
    /* "t.col" is qualified; "`a.b`" is one quoted name (`` for a backtick);
     * "*" and "t.*" are stars, as in PySpark's col("*"). */
    size_t len = strlen(name);
    if (strcmp(name, "*") == 0) return spk_star();
    if (len > 2 && strcmp(name + len - 2, ".*") == 0 && name[0] != '`') {
        spk_expr *star = spk_star();
        if (star && !(star->qualifier = spk__strndup(spk__expr_alloc(), name, len - 2))) {
            spk__nomem("a qualifier", len - 1);
            spk_expr_release(star);
            star = NULL;
        }
        return star;
    }
    const char *qual = NULL, *col = name;
    size_t qual_len = 0, col_len = len;
    char unquoted[256];
    if (len >= 2 && name[0] == '`' && name[len - 1] == '`') {
        size_t k = 0;
        for (size_t i = 1; i + 1 < len; i++) {
            if (k == sizeof unquoted - 1) {
                spk__fail(SPK_ERR_ARG, "spk_col: a quoted name longer than %zu bytes", sizeof unquoted - 1);
                return NULL;
            }
            unquoted[k++] = name[i];
            if (name[i] == '`' && name[i + 1] == '`') i++;
        }
        col = unquoted;
        col_len = k;
    } else {
        const char *dot = strchr(name, '.');
        if (dot && dot != name && dot[1]) {
            qual = name;
            qual_len = (size_t)(dot - name);
            col = dot + 1;
            col_len = len - qual_len - 1;
        }
    }
    spk_expr *e = spk__with_name(spk__expr_new(SPK__OP_COL, 0), col, col_len);
    if (e && qual) {
        e->qualifier = spk__strndup(spk__expr_alloc(), qual, qual_len);
        if (!e->qualifier) {
            spk__nomem("a column qualifier", qual_len + 1);
            spk_expr_release(e);
            return NULL;
        }
    }
    return e;
}

SPKDEF spk_expr *spk_star(void) { return spk__expr_new(SPK__OP_STAR, 0); }

SPKDEF spk_expr *spk_lit(spk_value v) {
    if (!spk_type_valid(v.type)) {
        spk__fail(SPK_ERR_ARG, "spk_lit: invalid type");
        return NULL;
    }
    spk_expr *e = spk__expr_new(SPK__OP_LIT, 0);
    if (!e) return NULL;
    e->lit = v;
    if (v.is_null || v.type.id == SPK_TYPE_NULL) {
        e->lit = spk_value_null_of(v.type);
    } else if (v.type.id == SPK_TYPE_STRING) {
        e->text = spk__strndup(spk__expr_alloc(), v.as.str.ptr ? v.as.str.ptr : "", v.as.str.len);
        if (!e->text) {
            spk__nomem("a string literal", v.as.str.len + 1);
            spk__free(spk__expr_alloc(), e, e->size);
            return NULL;
        }
        e->lit.as.str.ptr = e->text;
    }
    return e;
}

SPKDEF spk_expr *spk_lit_null(void) { return spk_lit(spk_value_null()); }
SPKDEF spk_expr *spk_lit_bool(bool x) { return spk_lit(spk_value_bool(x)); }
SPKDEF spk_expr *spk_lit_i32(int32_t x) { return spk_lit(spk_value_i32(x)); }
SPKDEF spk_expr *spk_lit_i64(int64_t x) { return spk_lit(spk_value_i64(x)); }
SPKDEF spk_expr *spk_lit_f64(double x) { return spk_lit(spk_value_f64(x)); }
SPKDEF spk_expr *spk_lit_str(const char *s) { return spk_lit(s ? spk_value_str(s) : spk_value_null_of(spk_type_of(SPK_TYPE_STRING))); }
SPKDEF spk_expr *spk_lit_decimal(int64_t unscaled, int precision, int scale) {
    return spk_lit(spk_value_decimal(unscaled, precision, scale));
}
SPKDEF spk_expr *spk_lit_date(int year, int month, int day) {
    int32_t d;
    if (!spk_date_from_ymd(year, month, day, &d)) {
        spk__fail(SPK_ERR_ARG, "spk_lit_date: %04d-%02d-%02d is not a valid date", year, month, day);
        return NULL;
    }
    return spk_lit(spk_value_date(d));
}

SPKDEF spk_expr *spk_add(spk_expr *a, spk_expr *b) { return spk__binary(SPK__OP_ADD, a, b); }
SPKDEF spk_expr *spk_sub(spk_expr *a, spk_expr *b) { return spk__binary(SPK__OP_SUB, a, b); }
SPKDEF spk_expr *spk_mul(spk_expr *a, spk_expr *b) { return spk__binary(SPK__OP_MUL, a, b); }
SPKDEF spk_expr *spk_div(spk_expr *a, spk_expr *b) { return spk__binary(SPK__OP_DIV, a, b); }
SPKDEF spk_expr *spk_mod(spk_expr *a, spk_expr *b) { return spk__binary(SPK__OP_MOD, a, b); }
SPKDEF spk_expr *spk_intdiv(spk_expr *a, spk_expr *b) { return spk__binary(SPK__OP_INTDIV, a, b); }
SPKDEF spk_expr *spk_neg(spk_expr *a) { return spk__unary(SPK__OP_NEG, a); }
SPKDEF spk_expr *spk_eq(spk_expr *a, spk_expr *b) { return spk__binary(SPK__OP_EQ, a, b); }
/* Spark reads a != b as NOT (a = b), and names it so. */
SPKDEF spk_expr *spk_ne(spk_expr *a, spk_expr *b) { return spk_not(spk_eq(a, b)); }
SPKDEF spk_expr *spk_lt(spk_expr *a, spk_expr *b) { return spk__binary(SPK__OP_LT, a, b); }
SPKDEF spk_expr *spk_le(spk_expr *a, spk_expr *b) { return spk__binary(SPK__OP_LE, a, b); }
SPKDEF spk_expr *spk_gt(spk_expr *a, spk_expr *b) { return spk__binary(SPK__OP_GT, a, b); }
SPKDEF spk_expr *spk_ge(spk_expr *a, spk_expr *b) { return spk__binary(SPK__OP_GE, a, b); }
SPKDEF spk_expr *spk_eq_null_safe(spk_expr *a, spk_expr *b) { return spk__binary(SPK__OP_EQ_NS, a, b); }
SPKDEF spk_expr *spk_and(spk_expr *a, spk_expr *b) { return spk__binary(SPK__OP_AND, a, b); }
SPKDEF spk_expr *spk_or(spk_expr *a, spk_expr *b) { return spk__binary(SPK__OP_OR, a, b); }
SPKDEF spk_expr *spk_not(spk_expr *a) { return spk__unary(SPK__OP_NOT, a); }
SPKDEF spk_expr *spk_is_null(spk_expr *a) { return spk__unary(SPK__OP_IS_NULL, a); }
SPKDEF spk_expr *spk_is_not_null(spk_expr *a) { return spk__unary(SPK__OP_IS_NOT_NULL, a); }

SPKDEF spk_expr *spk_in_array(spk_expr *x, spk_expr *const *list, int n) {
    if (n < 1 || !list) {
        spk_expr_release(x);
        if (list) spk__release_all(list, n);
        spk__fail(SPK_ERR_ARG, "IN needs at least one value");
        return NULL;
    }
    spk_expr *stack[17] = {NULL}, **args = stack;
    size_t size = ((size_t)n + 1) * sizeof *args;
    if (n + 1 > 17 && !(args = (spk_expr **)spk__alloc(spk__expr_alloc(), size))) {
        spk__nomem("an IN list", size);
        spk_expr_release(x);
        spk__release_all(list, n);
        return NULL;
    }
    args[0] = x;
    for (int i = 0; i < n; i++) args[i + 1] = list[i];
    spk_expr *e = spk__node(SPK__OP_IN, args, n + 1);
    if (args != stack) spk__free(spk__expr_alloc(), args, size);
    return e;
}

SPKDEF spk_expr *spk_in(spk_expr *x, int n, ...) {
    spk_expr *stack[16] = {NULL}, **list = stack;
    size_t size = (size_t)(n > 0 ? n : 0) * sizeof *list;
    bool heap = n > 16;
    if (heap && !(list = (spk_expr **)spk__alloc(spk__expr_alloc(), size))) list = NULL;
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        spk_expr *item = va_arg(ap, spk_expr *);
        if (list) list[i] = item;
        else spk_expr_release(item);
    }
    va_end(ap);
    if (!list) {
        spk_expr_release(x);
        spk__nomem("an IN list", size);
        return NULL;
    }
    spk_expr *e = spk_in_array(x, list, n);
    if (heap) spk__free(spk__expr_alloc(), list, size);
    return e;
}

SPKDEF spk_expr *spk_between(spk_expr *x, spk_expr *lo, spk_expr *hi) {
    /* Spark rewrites BETWEEN to (x >= lo) AND (x <= hi); x is shared. */
    if (!x || !lo || !hi) {
        spk_expr_release(x);
        spk_expr_release(lo);
        spk_expr_release(hi);
        return NULL;
    }
    return spk_and(spk_ge(spk_expr_retain(x), lo), spk_le(x, hi));
}

static spk_expr *spk__pattern_node(spk__op op, spk_expr *x, const char *pattern) {
    if (!pattern) {
        spk_expr_release(x);
        spk__fail(SPK_ERR_ARG, "LIKE/RLIKE: NULL pattern");
        return NULL;
    }
    return spk__with_name(spk__unary(op, x), pattern, strlen(pattern));
}
SPKDEF spk_expr *spk_like(spk_expr *x, const char *pattern) { return spk__pattern_node(SPK__OP_LIKE, x, pattern); }
SPKDEF spk_expr *spk_rlike(spk_expr *x, const char *regex) { return spk__pattern_node(SPK__OP_RLIKE, x, regex); }

SPKDEF spk_expr *spk_when(spk_expr *prev, spk_expr *cond, spk_expr *value) {
    if ((prev && (prev->op != SPK__OP_CASE || prev->has_else)) || !cond || !value) {
        if (prev && (prev->op != SPK__OP_CASE || prev->has_else))
            spk__fail(SPK_ERR_ARG, "spk_when: the first argument must be NULL or a CASE without ELSE");
        spk_expr_release(prev);
        spk_expr_release(cond);
        spk_expr_release(value);
        return NULL;
    }
    int old = prev ? prev->nargs : 0;
    spk_expr *e = spk__expr_new(SPK__OP_CASE, old + 2);
    if (!e) {
        spk_expr_release(prev);
        spk_expr_release(cond);
        spk_expr_release(value);
        return NULL;
    }
    for (int i = 0; i < old; i++) e->args[i] = spk_expr_retain(prev->args[i]);
    e->args[old] = cond;
    e->args[old + 1] = value;
    spk_expr_release(prev);
    if (!spk__set_height(e)) {
        spk_expr_release(e);
        return NULL;
    }
    return e;
}

SPKDEF spk_expr *spk_otherwise(spk_expr *case_expr, spk_expr *value) {
    if (!case_expr || !value || case_expr->op != SPK__OP_CASE || case_expr->has_else) {
        if (case_expr && (case_expr->op != SPK__OP_CASE || case_expr->has_else))
            spk__fail(SPK_ERR_ARG, "spk_otherwise: the first argument must be a CASE without ELSE");
        spk_expr_release(case_expr);
        spk_expr_release(value);
        return NULL;
    }
    spk_expr *e = spk__expr_new(SPK__OP_CASE, case_expr->nargs + 1);
    if (!e) {
        spk_expr_release(case_expr);
        spk_expr_release(value);
        return NULL;
    }
    for (int i = 0; i < case_expr->nargs; i++) e->args[i] = spk_expr_retain(case_expr->args[i]);
    e->args[case_expr->nargs] = value;
    e->has_else = true;
    spk_expr_release(case_expr);
    if (!spk__set_height(e)) {
        spk_expr_release(e);
        return NULL;
    }
    return e;
}

SPKDEF spk_expr *spk_cast(spk_expr *x, spk_type to) {
    if (!spk_type_valid(to)) {
        spk_expr_release(x);
        spk__fail(SPK_ERR_ARG, "spk_cast: invalid target type");
        return NULL;
    }
    spk_expr *e = spk__unary(SPK__OP_CAST, x);
    if (e) e->type = to;
    return e;
}

SPKDEF spk_expr *spk_alias(spk_expr *x, const char *name) {
    if (!name || !name[0]) {
        spk_expr_release(x);
        spk__fail(SPK_ERR_ARG, "spk_alias: empty name");
        return NULL;
    }
    return spk__with_name(spk__unary(SPK__OP_ALIAS, x), name, strlen(name));
}

SPKDEF spk_expr *spk_call_array(const char *function, spk_expr *const *args, int n) {
    if (!function || n < 0 || (n && !args)) {
        if (args) spk__release_all(args, n);
        spk__fail(SPK_ERR_ARG, "spk_call: bad arguments");
        return NULL;
    }
    return spk__with_name(spk__node(SPK__OP_CALL, args, n), function, strlen(function));
}

SPKDEF spk_expr *spk_call(const char *function, int n, ...) {
    spk_expr *stack[16] = {NULL}, **args = stack;
    size_t size = (size_t)(n > 0 ? n : 0) * sizeof *args;
    bool heap = n > 16;
    if (heap && !(args = (spk_expr **)spk__alloc(spk__expr_alloc(), size))) args = NULL;
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        spk_expr *a = va_arg(ap, spk_expr *);
        if (args) args[i] = a;
        else spk_expr_release(a);
    }
    va_end(ap);
    if (!args) {
        spk__nomem("function arguments", size);
        return NULL;
    }
    spk_expr *e = spk_call_array(function, args, n);
    if (heap) spk__free(spk__expr_alloc(), args, size);
    return e;
}

SPKDEF spk_expr *spk_count_distinct(spk_expr *x) {
    spk_expr *e = spk_call("count", 1, x);
    if (e) e->distinct = true;
    return e;
}

/* ---------------------------------------------------------------- lexer */

typedef enum spk__tok_kind {
    SPK__TOK_END, SPK__TOK_IDENT, SPK__TOK_QUOTED_IDENT, SPK__TOK_STRING, SPK__TOK_NUMBER,
    SPK__TOK_SYMBOL
} spk__tok_kind;

typedef struct spk__tok {
    spk__tok_kind kind;
    size_t pos, len; /* in the source text */
    char sym[4];     /* SYMBOL: "(", "<=", "<=>", ... */
} spk__tok;

typedef struct spk__parser {
    spk__source *source; /* shared with the nodes that may need a caret later */
    const char *src;
    size_t len, pos;
    spk__tok tok; /* current token */
    int depth;
} spk__parser;

#define SPK__MAX_PARSE_DEPTH 200

static spk_status spk__parse_error(spk__parser *p, size_t pos, const char *fmt, ...) SPK__PRINTF(3, 4);
static spk_status spk__parse_error(spk__parser *p, size_t pos, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    spk__fail(SPK_ERR_PARSE, "[PARSE_SYNTAX_ERROR] %s", msg);
    spk__fail_caret(p->src, pos);
    return SPK_ERR_PARSE;
}

static spk_status spk__next(spk__parser *p) {
    const char *s = p->src;
    size_t i = p->pos;
    while (i < p->len && spk__is_space((unsigned char)s[i])) i++;
    spk__tok t;
    memset(&t, 0, sizeof t);
    t.pos = i;
    if (i >= p->len) {
        t.kind = SPK__TOK_END;
    } else if (spk__is_ident_start((unsigned char)s[i])) {
        while (i < p->len && spk__is_ident_char((unsigned char)s[i])) i++;
        t.kind = SPK__TOK_IDENT;
    } else if (spk__is_digit((unsigned char)s[i]) || (s[i] == '.' && i + 1 < p->len && spk__is_digit((unsigned char)s[i + 1]))) {
        while (i < p->len && spk__is_digit((unsigned char)s[i])) i++;
        if (i < p->len && s[i] == '.') {
            i++;
            while (i < p->len && spk__is_digit((unsigned char)s[i])) i++;
        }
        if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
            size_t j = i + 1;
            if (j < p->len && (s[j] == '+' || s[j] == '-')) j++;
            if (j < p->len && spk__is_digit((unsigned char)s[j])) {
                i = j;
                while (i < p->len && spk__is_digit((unsigned char)s[i])) i++;
            }
        }
        while (i < p->len && spk__is_ident_char((unsigned char)s[i])) i++; /* suffix: L, D, BD, ... */
        t.kind = SPK__TOK_NUMBER;
    } else if (s[i] == '\'' || s[i] == '"') {
        char q = s[i++];
        while (i < p->len && s[i] != q) {
            if (s[i] == '\\' && i + 1 < p->len) i++;
            i++;
        }
        if (i >= p->len) return spk__parse_error(p, t.pos, "unterminated string literal");
        i++;
        t.kind = SPK__TOK_STRING;
    } else if (s[i] == '`') {
        i++;
        for (;;) {
            if (i >= p->len) return spk__parse_error(p, t.pos, "unterminated `quoted` identifier");
            if (s[i] == '`') {
                if (i + 1 < p->len && s[i + 1] == '`') i += 2;
                else break;
            } else {
                i++;
            }
        }
        i++;
        t.kind = SPK__TOK_QUOTED_IDENT;
    } else {
        static const char *const symbols[] = {"<=>", "<=", ">=", "<>", "!=", "==", "||", "(", ")", ",",
                                              ".", "+", "-", "*", "/", "%", "=", "<", ">", "!"};
        t.kind = SPK__TOK_SYMBOL;
        for (size_t k = 0; k < sizeof symbols / sizeof symbols[0]; k++) {
            size_t n = strlen(symbols[k]);
            if (p->len - i >= n && memcmp(s + i, symbols[k], n) == 0) {
                memcpy(t.sym, symbols[k], n);
                i += n;
                break;
            }
        }
        if (!t.sym[0]) return spk__parse_error(p, t.pos, "unexpected character '%c'", s[i]);
    }
    t.len = i - t.pos;
    p->tok = t;
    p->pos = i;
    return SPK_OK;
}

static bool spk__tok_is_kw(const spk__parser *p, const char *kw) {
    return p->tok.kind == SPK__TOK_IDENT && spk__word_is(p->src + p->tok.pos, p->tok.len, kw);
}
static bool spk__tok_is_sym(const spk__parser *p, const char *sym) {
    return p->tok.kind == SPK__TOK_SYMBOL && strcmp(p->tok.sym, sym) == 0;
}

/* Words that end an expression or have a role, so they are never column names. */
static bool spk__is_reserved(const char *w, size_t n) {
    static const char *const words[] = {"and", "or", "not", "in", "is", "null", "true", "false", "between",
                                        "like", "rlike", "regexp", "case", "when", "then", "else", "end",
                                        "cast", "as", "div", "distinct", "interval"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (spk__word_is(w, n, words[i])) return true;
    return false;
}

static spk_status spk__expect_sym(spk__parser *p, const char *sym) {
    if (!spk__tok_is_sym(p, sym))
        return spk__parse_error(p, p->tok.pos, "expected '%s' but found %s", sym,
                                p->tok.kind == SPK__TOK_END ? "the end of the text" : "something else");
    return spk__next(p);
}
static spk_status spk__expect_kw(spk__parser *p, const char *kw) {
    if (!spk__tok_is_kw(p, kw))
        return spk__parse_error(p, p->tok.pos, "expected %s", kw);
    return spk__next(p);
}

/* Decodes a quoted string token (Spark's backslash escapes) into a fresh string. */
static spk_status spk__string_token(spk__parser *p, char **out, size_t *out_len) {
    const char *s = p->src + p->tok.pos + 1;
    size_t n = p->tok.len - 2, k = 0, len = 0;
    for (size_t i = 0; i < n; i++, len++) /* the decoded length first: the buffer is freed by it */
        if (s[i] == '\\' && i + 1 < n) len += s[++i] == '%' || s[i] == '_';
    char *buf = (char *)spk__alloc(spk__expr_alloc(), len + 1);
    if (!buf) return spk__nomem("a string literal", len + 1);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            char e = s[++i];
            switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case '0': c = '\0'; break;
            case 'Z': c = 26; break;
            case '%': /* kept escaped: LIKE patterns need the backslash */
            case '_': buf[k++] = '\\'; c = e; break;
            default: c = e; break; /* \\ \' \" and any other character stand for themselves */
            }
        }
        buf[k++] = c;
    }
    SPK_ASSERT(k == len);
    buf[k] = '\0';
    *out = buf;
    *out_len = k;
    return SPK_OK;
}

/* ---------------------------------------------------------------- parser */

static spk_status spk__parse_or(spk__parser *p, spk_expr **out);

/* Releases `e` and returns st: the error path of every parse step. */
static spk_status spk__drop(spk_expr *e, spk_status st) {
    spk_expr_release(e);
    return st;
}
/* The status a builder left when it returned NULL. */
static spk_status spk__builder_failed(void) {
    return spk_last_status() != SPK_OK ? spk_last_status() : SPK_ERR_NOMEM;
}

static spk_status spk__built(spk_expr *e, spk_expr **out) {
    if (!e) return spk__builder_failed();
    *out = e;
    return SPK_OK;
}

/* e is the node just parsed: step past its last token, and keep e only if that works. */
static spk_status spk__built_next(spk__parser *p, spk_expr *e, spk_expr **out) {
    spk_status st = spk__next(p);
    if (st != SPK_OK) return spk__drop(e, st);
    *out = e;
    return SPK_OK;
}

static spk_status spk__parse_number(spk__parser *p, spk_expr **out) {
    const char *s = p->src + p->tok.pos;
    size_t n = p->tok.len, body = 0;
    bool dot = false, exp = false;
    while (body < n && (spk__is_digit((unsigned char)s[body]) || s[body] == '.' ||
                        ((s[body] == 'e' || s[body] == 'E') && body + 1 < n &&
                         (spk__is_digit((unsigned char)s[body + 1]) || s[body + 1] == '+' || s[body + 1] == '-')) ||
                        ((s[body] == '+' || s[body] == '-') && body > 0 && (s[body - 1] == 'e' || s[body - 1] == 'E')))) {
        if (s[body] == '.') dot = true;
        if (s[body] == 'e' || s[body] == 'E') exp = true;
        body++;
    }
    const char *suffix = s + body;
    size_t slen = n - body;
    spk_value v;
    spk_expr *e = NULL;
    unsigned long errors = spk__error_count; /* a literal builder that fails (out of memory) records one */
    if (slen == 0 && !dot && !exp) {
        int64_t x;
        spk__parse_result r = spk__parse_int64(s, body, false, &x);
        if (r == SPK__PARSED) e = x >= INT32_MIN && x <= INT32_MAX ? spk_lit_i32((int32_t)x) : spk_lit_i64(x);
        else if (spk__parse_double(s, body, &v.as.f64) == SPK__PARSED) e = spk_lit_f64(v.as.f64); /* beyond BIGINT */
    } else if (spk__word_is(suffix, slen, "l") && !dot && !exp) {
        int64_t x;
        if (spk__parse_int64(s, body, false, &x) != SPK__PARSED)
            return spk__parse_error(p, p->tok.pos, "%.*s is out of range for BIGINT", (int)n, s);
        e = spk_lit_i64(x);
    } else if (spk__word_is(suffix, slen, "d") || spk__word_is(suffix, slen, "f") || (slen == 0 && exp)) {
        double d;
        if (spk__parse_double(s, body, &d) != SPK__PARSED) return spk__parse_error(p, p->tok.pos, "bad number");
        e = spk_lit_f64(d);
    } else if (slen == 0 || spk__word_is(suffix, slen, "bd")) {
        /* A decimal literal: DECIMAL(digits, fraction digits); beyond 18 digits a DOUBLE. */
        size_t int_digits = 0, frac = 0, i = 0;
        while (i < body && s[i] == '0') i++;
        for (; i < body && s[i] != '.'; i++) int_digits++;
        if (i < body) frac = body - i - 1;
        int scale = (int)frac, precision = (int)(int_digits + frac);
        if (precision < 1) precision = 1;
        if (precision < scale) precision = scale;
        int64_t x;
        if (!exp && precision <= SPK_DECIMAL_MAX_PRECISION &&
            spk__parse_decimal(s, body, precision, scale, &x) == SPK__PARSED) {
            e = spk_lit_decimal(x, precision, scale);
        } else {
            double d;
            if (spk__parse_double(s, body, &d) != SPK__PARSED) return spk__parse_error(p, p->tok.pos, "bad number");
            e = spk_lit_f64(d);
        }
    } else {
        return spk__parse_error(p, p->tok.pos + body, "unknown number suffix '%.*s'", (int)slen, suffix);
    }
    if (!e && spk__error_count != errors) return spk__builder_failed();
    if (!e) return spk__parse_error(p, p->tok.pos, "bad number '%.*s'", (int)n, s);
    return spk__built_next(p, e, out);
}

/* INTERVAL n unit: DAY(S), WEEK(S), MONTH(S), YEAR(S), HOUR(S), MINUTE(S), SECOND(S). */
static spk_status spk__parse_interval(spk__parser *p, spk_expr **out) {
    spk_status st = spk__next(p);
    if (st != SPK_OK) return st;
    bool neg = false;
    if (spk__tok_is_sym(p, "-")) {
        neg = true;
        if ((st = spk__next(p)) != SPK_OK) return st;
    }
    int64_t n;
    size_t num_pos = p->tok.pos;
    if (p->tok.kind == SPK__TOK_STRING) { /* INTERVAL '3' DAY */
        if (spk__parse_int64(p->src + p->tok.pos + 1, p->tok.len - 2, false, &n) != SPK__PARSED)
            return spk__parse_error(p, num_pos, "expected a whole number of units in the interval");
    } else if (p->tok.kind != SPK__TOK_NUMBER || spk__parse_int64(p->src + p->tok.pos, p->tok.len, false, &n) != SPK__PARSED) {
        return spk__parse_error(p, num_pos, "expected a whole number after INTERVAL");
    }
    if (neg) n = -n;
    if ((st = spk__next(p)) != SPK_OK) return st;
    if (p->tok.kind != SPK__TOK_IDENT) return spk__parse_error(p, p->tok.pos, "expected an interval unit such as DAY");
    const char *u = p->src + p->tok.pos;
    size_t ul = p->tok.len;
    if (ul > 1 && (u[ul - 1] == 's' || u[ul - 1] == 'S')) ul--;
    spk_expr *e = spk__expr_new(SPK__OP_INTERVAL, 0);
    if (!e) return SPK_ERR_NOMEM;
    if (n > INT32_MAX / 12 || n < INT32_MIN / 12 || n > INT64_MAX / SPK__MICROS_PER_DAY || n < -INT64_MAX / SPK__MICROS_PER_DAY) {
        spk_expr_release(e);
        return spk__parse_error(p, num_pos, "interval out of range");
    }
    if (spk__word_is(u, ul, "day")) e->days = (int32_t)n;
    else if (spk__word_is(u, ul, "week")) e->days = (int32_t)(n * 7);
    else if (spk__word_is(u, ul, "month")) e->months = (int32_t)n;
    else if (spk__word_is(u, ul, "year")) e->months = (int32_t)(n * 12);
    else if (spk__word_is(u, ul, "hour")) e->micros = n * 3600 * SPK__MICROS_PER_SECOND;
    else if (spk__word_is(u, ul, "minute")) e->micros = n * 60 * SPK__MICROS_PER_SECOND;
    else if (spk__word_is(u, ul, "second")) e->micros = n * SPK__MICROS_PER_SECOND;
    else {
        spk_expr_release(e);
        return spk__parse_error(p, p->tok.pos, "unknown interval unit '%.*s'", (int)p->tok.len, u);
    }
    return spk__built_next(p, e, out);
}

static spk_status spk__parse_case(spk__parser *p, spk_expr **out) {
    spk_status st = spk__next(p);
    if (st != SPK_OK) return st;
    spk_expr *operand = NULL, *c = NULL;
    if (!spk__tok_is_kw(p, "when")) {
        if ((st = spk__parse_or(p, &operand)) != SPK_OK) return st;
    }
    if (!spk__tok_is_kw(p, "when")) {
        spk_expr_release(operand);
        return spk__parse_error(p, p->tok.pos, "expected WHEN in CASE");
    }
    while (spk__tok_is_kw(p, "when")) {
        spk_expr *cond = NULL, *value = NULL;
        if ((st = spk__next(p)) != SPK_OK || (st = spk__parse_or(p, &cond)) != SPK_OK) break;
        if ((st = spk__expect_kw(p, "then")) != SPK_OK || (st = spk__parse_or(p, &value)) != SPK_OK) {
            spk_expr_release(cond);
            break;
        }
        if (operand) cond = spk_eq(spk_expr_retain(operand), cond); /* CASE x WHEN v: x = v */
        c = spk_when(c, cond, value);
        if (!c) {
            st = spk__builder_failed();
            break;
        }
    }
    spk_expr_release(operand);
    if (st == SPK_OK && spk__tok_is_kw(p, "else")) {
        spk_expr *other = NULL;
        if ((st = spk__next(p)) == SPK_OK && (st = spk__parse_or(p, &other)) == SPK_OK) {
            c = spk_otherwise(c, other);
            if (!c) st = spk__builder_failed();
        }
    }
    if (st == SPK_OK) st = spk__expect_kw(p, "end");
    if (st != SPK_OK) return spk__drop(c, st);
    *out = c;
    return SPK_OK;
}

/* Records where a node came from, for carets in later errors. */
static spk_expr *spk__mark(spk__parser *p, spk_expr *e, size_t pos) {
    if (e) {
        e->source = spk__source_retain(p->source);
        e->pos = pos;
    }
    return e;
}

static spk_status spk__parse_call(spk__parser *p, const char *name, size_t name_len, size_t name_pos, spk_expr **out) {
    spk_status st = spk__next(p); /* past '(' */
    if (st != SPK_OK) return st;
    bool distinct = false;
    spk_expr *stack[16], **args = stack;
    int n = 0, cap = 16;
    if (spk__tok_is_kw(p, "distinct")) {
        distinct = true;
        if ((st = spk__next(p)) != SPK_OK) return st;
    }
    if (spk__tok_is_sym(p, "*")) { /* count(*) */
        args[n++] = spk_star();
        if (!args[0]) return SPK_ERR_NOMEM;
        st = spk__next(p);
    } else if (!spk__tok_is_sym(p, ")")) {
        for (;;) {
            if (n == cap) {
                size_t bytes = (size_t)cap * 2 * sizeof *args;
                spk_expr **grown = (spk_expr **)spk__alloc(spk__expr_alloc(), bytes);
                if (!grown) {
                    st = spk__nomem("function arguments", bytes);
                    break;
                }
                memcpy(grown, args, (size_t)n * sizeof *args);
                if (args != stack) spk__free(spk__expr_alloc(), args, (size_t)cap * sizeof *args);
                args = grown;
                cap *= 2;
            }
            if ((st = spk__parse_or(p, &args[n])) != SPK_OK) break;
            n++;
            if (!spk__tok_is_sym(p, ",")) break;
            if ((st = spk__next(p)) != SPK_OK) break;
        }
    }
    if (st == SPK_OK) st = spk__expect_sym(p, ")");
    spk_expr *e = NULL;
    if (st == SPK_OK) {
        e = spk__with_name(spk__node(SPK__OP_CALL, args, n), name, name_len);
        n = 0; /* consumed */
        if (!e) st = spk__builder_failed();
        else spk__mark(p, e, name_pos)->distinct = distinct;
    }
    spk__release_all(args, n);
    if (args != stack) spk__free(spk__expr_alloc(), args, (size_t)cap * sizeof *args);
    if (st != SPK_OK) return st;
    *out = e;
    return SPK_OK;
}

/* An identifier token's text: plain, or `quoted` with `` unescaped. */
static size_t spk__ident_text(const spk__parser *p, char *buf, size_t cap) {
    const char *s = p->src + p->tok.pos;
    size_t n = p->tok.len, k = 0;
    if (p->tok.kind == SPK__TOK_QUOTED_IDENT) {
        for (size_t i = 1; i + 1 < n && k + 1 < cap; i++) {
            buf[k++] = s[i];
            if (s[i] == '`') i++;
        }
    } else {
        for (size_t i = 0; i < n && k + 1 < cap; i++) buf[k++] = s[i];
    }
    buf[k] = '\0';
    return k;
}

/* The identifier at the current token into buf, or a parse error if it
 * does not fit: cutting it could split a UTF-8 character, and would name a
 * different column. */
static spk_status spk__ident(spk__parser *p, char *buf, size_t cap, size_t *len) {
    const char *s = p->src + p->tok.pos;
    size_t full = p->tok.len;
    if (p->tok.kind == SPK__TOK_QUOTED_IDENT) { /* `` stands for one backtick */
        full = 0;
        for (size_t i = 1; i + 1 < p->tok.len; i++, full++)
            if (s[i] == '`') i++;
    }
    if (full >= cap) return spk__parse_error(p, p->tok.pos, "an identifier longer than %zu bytes", cap - 1);
    *len = spk__ident_text(p, buf, cap);
    return SPK_OK;
}

static spk_status spk__parse_primary(spk__parser *p, spk_expr **out) {
    spk_status st;
    size_t at = p->tok.pos;
    switch (p->tok.kind) {
    case SPK__TOK_END: return spk__parse_error(p, at, "unexpected end of the expression");
    case SPK__TOK_NUMBER: return spk__parse_number(p, out);
    case SPK__TOK_STRING: {
        /* Adjacent literals concatenate: 'It' 's' is "Its", as in Spark. */
        char *text = NULL;
        size_t len = 0;
        st = SPK_OK;
        while (st == SPK_OK && p->tok.kind == SPK__TOK_STRING) {
            char *piece;
            size_t plen;
            if ((st = spk__string_token(p, &piece, &plen)) != SPK_OK) break;
            if (!text) {
                text = piece;
                len = plen;
            } else {
                char *joined = (char *)spk__realloc(spk__expr_alloc(), text, len + 1, len + plen + 1);
                if (joined) {
                    memcpy(joined + len, piece, plen + 1);
                    text = joined;
                    len += plen;
                } else {
                    st = spk__nomem("a string literal", len + plen + 1);
                }
                spk__free(spk__expr_alloc(), piece, plen + 1);
            }
            if (st == SPK_OK) st = spk__next(p);
        }
        spk_expr *e = st == SPK_OK ? spk_lit(spk_value_strn(text, len)) : NULL;
        if (text) spk__free(spk__expr_alloc(), text, len + 1);
        if (st != SPK_OK) return st;
        return spk__built(e, out);
    }
    case SPK__TOK_SYMBOL:
        if (spk__tok_is_sym(p, "(")) {
            if ((st = spk__next(p)) != SPK_OK || (st = spk__parse_or(p, out)) != SPK_OK) return st;
            if ((st = spk__expect_sym(p, ")")) != SPK_OK) {
                spk_expr_release(*out);
                *out = NULL;
            }
            return st;
        }
        if (spk__tok_is_sym(p, "*")) {
            if ((st = spk__next(p)) != SPK_OK) return st;
            return spk__built(spk_star(), out);
        }
        return spk__parse_error(p, at, "unexpected '%s'", p->tok.sym);
    case SPK__TOK_IDENT:
    case SPK__TOK_QUOTED_IDENT:
        break;
    }
    const char *w = p->src + at;
    size_t wl = p->tok.len;
    if (p->tok.kind == SPK__TOK_IDENT) {
        if (spk__word_is(w, wl, "null")) return (st = spk__next(p)) != SPK_OK ? st : spk__built(spk_lit_null(), out);
        if (spk__word_is(w, wl, "true")) return (st = spk__next(p)) != SPK_OK ? st : spk__built(spk_lit_bool(true), out);
        if (spk__word_is(w, wl, "false")) return (st = spk__next(p)) != SPK_OK ? st : spk__built(spk_lit_bool(false), out);
        if (spk__word_is(w, wl, "case")) return spk__parse_case(p, out);
        if (spk__word_is(w, wl, "interval")) return spk__parse_interval(p, out);
        if (spk__word_is(w, wl, "cast")) {
            spk_expr *x = NULL;
            spk_type t;
            if ((st = spk__next(p)) != SPK_OK || (st = spk__expect_sym(p, "(")) != SPK_OK ||
                (st = spk__parse_or(p, &x)) != SPK_OK)
                return st;
            if ((st = spk__expect_kw(p, "as")) != SPK_OK) return spk__drop(x, st);
            size_t pos = p->tok.pos;
            if ((st = spk__type_parse_at(p->src, p->len, &pos, &t)) != SPK_OK) {
                spk__fail_caret(p->src, pos);
                return spk__drop(x, st);
            }
            p->pos = pos;
            if ((st = spk__next(p)) != SPK_OK || (st = spk__expect_sym(p, ")")) != SPK_OK) return spk__drop(x, st);
            return spk__built(spk_cast(x, t), out);
        }
        if ((spk__word_is(w, wl, "date") || spk__word_is(w, wl, "timestamp")) ) {
            bool is_date = spk__word_is(w, wl, "date");
            spk__parser save = *p;
            if ((st = spk__next(p)) != SPK_OK) return st;
            if (p->tok.kind == SPK__TOK_STRING) { /* DATE '2020-01-01' */
                size_t lit_pos = p->tok.pos;
                spk_value v;
                const char *body = p->src + p->tok.pos + 1;
                size_t blen = p->tok.len - 2;
                spk_type t = spk_type_of(is_date ? SPK_TYPE_DATE : SPK_TYPE_TIMESTAMP);
                spk__parse_result r = spk__parse_value(t, body, blen, true, &v);
                if (r != SPK__PARSED)
                    return spk__parse_error(p, lit_pos, "cannot parse %.*s as a %s", (int)p->tok.len,
                                            p->src + p->tok.pos, is_date ? "DATE" : "TIMESTAMP");
                if ((st = spk__next(p)) != SPK_OK) return st;
                return spk__built(spk_lit(v), out);
            }
            *p = save; /* a column or function called date */
        }
        if (spk__is_reserved(w, wl))
            return spk__parse_error(p, at, "unexpected keyword '%.*s'", (int)wl, w);
    }
    /* A column, t.column, or a function call. */
    char name[256], qual[256];
    size_t name_len = 0;
    if ((st = spk__ident(p, name, sizeof name, &name_len)) != SPK_OK) return st;
    bool quoted = p->tok.kind == SPK__TOK_QUOTED_IDENT;
    if ((st = spk__next(p)) != SPK_OK) return st;
    if (!quoted && spk__tok_is_sym(p, "(")) return spk__parse_call(p, name, name_len, at, out);
    if (spk__tok_is_sym(p, ".")) {
        memcpy(qual, name, name_len + 1);
        if ((st = spk__next(p)) != SPK_OK) return st;
        if (spk__tok_is_sym(p, "*")) { /* t.* */
            if ((st = spk__next(p)) != SPK_OK) return st;
            spk_expr *e = spk_star();
            if (e && !(e->qualifier = spk__strndup(spk__expr_alloc(), qual, strlen(qual)))) {
                spk_expr_release(e);
                e = NULL;
            }
            return spk__built(e, out);
        }
        if (p->tok.kind != SPK__TOK_IDENT && p->tok.kind != SPK__TOK_QUOTED_IDENT)
            return spk__parse_error(p, p->tok.pos, "expected a column name after '%s.'", qual);
        if ((st = spk__ident(p, name, sizeof name, &name_len)) != SPK_OK || (st = spk__next(p)) != SPK_OK) return st;
        spk_expr *e = spk__mark(p, spk__with_name(spk__expr_new(SPK__OP_COL, 0), name, name_len), at);
        if (e && !(e->qualifier = spk__strndup(spk__expr_alloc(), qual, strlen(qual)))) {
            spk_expr_release(e);
            e = NULL;
        }
        return spk__built(e, out);
    }
    return spk__built(spk__mark(p, spk__with_name(spk__expr_new(SPK__OP_COL, 0), name, name_len), at), out);
}

static spk_status spk__parse_unary(spk__parser *p, spk_expr **out) {
    if (++p->depth > SPK__MAX_PARSE_DEPTH) return spk__parse_error(p, p->tok.pos, "expression nested too deeply");
    spk_status st;
    if (spk__tok_is_sym(p, "-") || spk__tok_is_sym(p, "+")) {
        bool minus = spk__tok_is_sym(p, "-");
        spk_expr *x = NULL;
        if ((st = spk__next(p)) != SPK_OK) return st;
        if (minus && p->tok.kind == SPK__TOK_NUMBER) { /* -9223372036854775808[L]: only negated does it fit */
            static const char min_digits[] = "9223372036854775808";
            size_t nd = sizeof min_digits - 1;
            const char *t = p->src + p->tok.pos;
            if ((p->tok.len == nd || (p->tok.len == nd + 1 && (t[nd] == 'L' || t[nd] == 'l'))) &&
                memcmp(t, min_digits, nd) == 0) {
                if ((st = spk__next(p)) != SPK_OK) return st;
                p->depth--;
                return spk__built(spk_lit_i64(INT64_MIN), out);
            }
        }
        if ((st = spk__parse_unary(p, &x)) != SPK_OK) return st;
        p->depth--;
        if (!minus) {
            *out = x;
            return SPK_OK;
        }
        /* Fold -literal so that -2147483648 is an INT and -5 prints as -5. */
        if (x->op == SPK__OP_LIT && !x->lit.is_null) {
            spk_value v = x->lit;
            bool folded = true;
            switch (v.type.id) {
            case SPK_TYPE_INT32:
                if (v.as.i32 == INT32_MIN) v = spk_value_i64(-(int64_t)INT32_MIN);
                else v.as.i32 = -v.as.i32;
                break;
            case SPK_TYPE_INT64:
                if (v.as.i64 == -(int64_t)INT32_MIN) v = spk_value_i32(INT32_MIN);
                else v.as.i64 = (int64_t)(0 - (uint64_t)v.as.i64);
                break;
            case SPK_TYPE_DOUBLE: v.as.f64 = -v.as.f64; break;
            case SPK_TYPE_DECIMAL: v.as.i64 = -v.as.i64; break;
            default: folded = false;
            }
            if (folded) {
                spk_expr_release(x);
                return spk__built(spk_lit(v), out);
            }
        }
        return spk__built(spk_neg(x), out);
    }
    st = spk__parse_primary(p, out);
    p->depth--;
    return st;
}

static spk_status spk__parse_mul(spk__parser *p, spk_expr **out) {
    spk_expr *a = NULL, *b = NULL;
    spk_status st = spk__parse_unary(p, &a);
    while (st == SPK_OK) {
        spk__op op;
        if (spk__tok_is_sym(p, "*")) op = SPK__OP_MUL;
        else if (spk__tok_is_sym(p, "/")) op = SPK__OP_DIV;
        else if (spk__tok_is_sym(p, "%")) op = SPK__OP_MOD;
        else if (spk__tok_is_kw(p, "div")) op = SPK__OP_INTDIV;
        else break;
        if ((st = spk__next(p)) != SPK_OK || (st = spk__parse_unary(p, &b)) != SPK_OK) break;
        if (!(a = spk__binary(op, a, b))) st = spk__builder_failed();
    }
    if (st != SPK_OK) return spk__drop(a, st);
    *out = a;
    return SPK_OK;
}

static spk_status spk__parse_add(spk__parser *p, spk_expr **out) {
    spk_expr *a = NULL, *b = NULL;
    spk_status st = spk__parse_mul(p, &a);
    while (st == SPK_OK) {
        spk_expr *e;
        if (spk__tok_is_sym(p, "+") || spk__tok_is_sym(p, "-")) {
            bool plus = spk__tok_is_sym(p, "+");
            if ((st = spk__next(p)) != SPK_OK || (st = spk__parse_mul(p, &b)) != SPK_OK) break;
            e = plus ? spk_add(a, b) : spk_sub(a, b);
        } else if (spk__tok_is_sym(p, "||")) {
            if ((st = spk__next(p)) != SPK_OK || (st = spk__parse_mul(p, &b)) != SPK_OK) break;
            e = spk_call("concat", 2, a, b);
        } else {
            break;
        }
        a = e;
        if (!a) st = spk__builder_failed();
    }
    if (st != SPK_OK) return spk__drop(a, st);
    *out = a;
    return SPK_OK;
}

/* Comparisons, then at most one predicate: [NOT] BETWEEN / IN / LIKE / RLIKE, IS [NOT] NULL. */
static spk_status spk__parse_predicate(spk__parser *p, spk_expr **out) {
    spk_expr *a = NULL, *b = NULL;
    spk_status st = spk__parse_add(p, &a);
    while (st == SPK_OK && p->tok.kind == SPK__TOK_SYMBOL) {
        static const struct { const char *sym; spk__op op; } cmp[] = {
            {"=", SPK__OP_EQ}, {"==", SPK__OP_EQ}, {"<>", SPK__OP_NE}, {"!=", SPK__OP_NE}, {"<", SPK__OP_LT},
            {"<=", SPK__OP_LE}, {">", SPK__OP_GT}, {">=", SPK__OP_GE}, {"<=>", SPK__OP_EQ_NS}};
        int found = -1;
        for (int i = 0; i < (int)(sizeof cmp / sizeof cmp[0]); i++)
            if (strcmp(p->tok.sym, cmp[i].sym) == 0) found = i;
        if (found < 0) break;
        if ((st = spk__next(p)) != SPK_OK || (st = spk__parse_add(p, &b)) != SPK_OK) break;
        a = cmp[found].op == SPK__OP_NE ? spk_ne(a, b) : spk__binary(cmp[found].op, a, b);
        if (!a) st = spk__builder_failed();
    }
    if (st != SPK_OK) return spk__drop(a, st);
    if (spk__tok_is_kw(p, "is")) {
        bool negate = false;
        if ((st = spk__next(p)) != SPK_OK) return spk__drop(a, st);
        if (spk__tok_is_kw(p, "not")) {
            negate = true;
            if ((st = spk__next(p)) != SPK_OK) return spk__drop(a, st);
        }
        if ((st = spk__expect_kw(p, "null")) != SPK_OK) return spk__drop(a, st);
        return spk__built(negate ? spk_is_not_null(a) : spk_is_null(a), out);
    }
    bool negate = false;
    if (spk__tok_is_kw(p, "not")) {
        negate = true;
        if ((st = spk__next(p)) != SPK_OK) return spk__drop(a, st);
        if (!spk__tok_is_kw(p, "between") && !spk__tok_is_kw(p, "in") && !spk__tok_is_kw(p, "like") &&
            !spk__tok_is_kw(p, "rlike") && !spk__tok_is_kw(p, "regexp"))
            return spk__drop(a, spk__parse_error(p, p->tok.pos, "expected BETWEEN, IN, LIKE or RLIKE after NOT"));
    }
    spk_expr *e = a;
    if (spk__tok_is_kw(p, "between")) {
        spk_expr *lo = NULL, *hi = NULL;
        if ((st = spk__next(p)) != SPK_OK || (st = spk__parse_add(p, &lo)) != SPK_OK) return spk__drop(a, st);
        if ((st = spk__expect_kw(p, "and")) != SPK_OK || (st = spk__parse_add(p, &hi)) != SPK_OK) {
            spk_expr_release(lo);
            return spk__drop(a, st);
        }
        e = spk_between(a, lo, hi);
    } else if (spk__tok_is_kw(p, "in")) {
        if ((st = spk__next(p)) != SPK_OK || (st = spk__expect_sym(p, "(")) != SPK_OK) return spk__drop(a, st);
        spk_expr *stack[16], **list = stack;
        int n = 0, cap = 16;
        for (;;) {
            if (n == cap) {
                size_t bytes = (size_t)cap * 2 * sizeof *list;
                spk_expr **grown = (spk_expr **)spk__alloc(spk__expr_alloc(), bytes);
                if (!grown) {
                    st = spk__nomem("an IN list", bytes);
                    break;
                }
                memcpy(grown, list, (size_t)n * sizeof *list);
                if (list != stack) spk__free(spk__expr_alloc(), list, (size_t)cap * sizeof *list);
                list = grown;
                cap *= 2;
            }
            if ((st = spk__parse_or(p, &list[n])) != SPK_OK) break;
            n++;
            if (!spk__tok_is_sym(p, ",")) break;
            if ((st = spk__next(p)) != SPK_OK) break;
        }
        if (st == SPK_OK) st = spk__expect_sym(p, ")");
        if (st == SPK_OK) {
            e = spk_in_array(a, list, n);
        } else {
            spk__release_all(list, n);
            spk_expr_release(a);
        }
        if (list != stack) spk__free(spk__expr_alloc(), list, (size_t)cap * sizeof *list);
        if (st != SPK_OK) return st;
    } else if (spk__tok_is_kw(p, "like") || spk__tok_is_kw(p, "rlike") || spk__tok_is_kw(p, "regexp")) {
        bool like = spk__tok_is_kw(p, "like");
        if ((st = spk__next(p)) != SPK_OK) return spk__drop(a, st);
        if (p->tok.kind != SPK__TOK_STRING)
            return spk__drop(a, spk__parse_error(p, p->tok.pos, "expected a string pattern after %s", like ? "LIKE" : "RLIKE"));
        char *pattern;
        size_t plen;
        if ((st = spk__string_token(p, &pattern, &plen)) != SPK_OK) return spk__drop(a, st);
        e = like ? spk_like(a, pattern) : spk_rlike(a, pattern);
        spk__free(spk__expr_alloc(), pattern, plen + 1);
        if ((st = spk__next(p)) != SPK_OK) return spk__drop(e, st);
    }
    if (negate && e) e = spk_not(e);
    return spk__built(e, out);
}

static spk_status spk__parse_not(spk__parser *p, spk_expr **out) {
    if (spk__tok_is_kw(p, "not") || spk__tok_is_sym(p, "!")) {
        if (++p->depth > SPK__MAX_PARSE_DEPTH) return spk__parse_error(p, p->tok.pos, "expression nested too deeply");
        spk_expr *x = NULL;
        spk_status st = spk__next(p);
        if (st == SPK_OK) st = spk__parse_not(p, &x);
        p->depth--;
        if (st != SPK_OK) return st;
        return spk__built(spk_not(x), out);
    }
    return spk__parse_predicate(p, out);
}

static spk_status spk__parse_and(spk__parser *p, spk_expr **out) {
    spk_expr *a = NULL, *b = NULL;
    spk_status st = spk__parse_not(p, &a);
    while (st == SPK_OK && spk__tok_is_kw(p, "and")) {
        if ((st = spk__next(p)) != SPK_OK || (st = spk__parse_not(p, &b)) != SPK_OK) break;
        if (!(a = spk_and(a, b))) st = spk__builder_failed();
    }
    if (st != SPK_OK) return spk__drop(a, st);
    *out = a;
    return SPK_OK;
}

static spk_status spk__parse_or(spk__parser *p, spk_expr **out) {
    if (++p->depth > SPK__MAX_PARSE_DEPTH) return spk__parse_error(p, p->tok.pos, "expression nested too deeply");
    spk_expr *a = NULL, *b = NULL;
    spk_status st = spk__parse_and(p, &a);
    while (st == SPK_OK && spk__tok_is_kw(p, "or")) {
        if ((st = spk__next(p)) != SPK_OK || (st = spk__parse_and(p, &b)) != SPK_OK) break;
        if (!(a = spk_or(a, b))) st = spk__builder_failed();
    }
    p->depth--;
    if (st != SPK_OK) return spk__drop(a, st);
    *out = a;
    return SPK_OK;
}

SPKDEF spk_status spk_expr_parse(const char *sql, spk_expr **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_expr_parse: NULL output");
    *out = NULL;
    if (!sql) return spk__fail(SPK_ERR_ARG, "spk_expr_parse: NULL text");
    spk__parser p;
    memset(&p, 0, sizeof p);
    p.src = sql;
    p.len = strlen(sql);
    p.source = spk__source_new(sql, p.len);
    if (!p.source) return SPK_ERR_NOMEM;
    spk_expr *e = NULL;
    spk_status st = spk__next(&p);
    if (st == SPK_OK) st = spk__parse_or(&p, &e);
    if (st == SPK_OK && (spk__tok_is_kw(&p, "as") || p.tok.kind == SPK__TOK_IDENT || p.tok.kind == SPK__TOK_QUOTED_IDENT)) {
        /* expr [AS] alias */
        if (spk__tok_is_kw(&p, "as")) st = spk__next(&p);
        if (st == SPK_OK && p.tok.kind != SPK__TOK_IDENT && p.tok.kind != SPK__TOK_QUOTED_IDENT)
            st = spk__parse_error(&p, p.tok.pos, "expected an alias name after AS");
        if (st == SPK_OK && p.tok.kind == SPK__TOK_IDENT && spk__is_reserved(p.src + p.tok.pos, p.tok.len))
            st = spk__parse_error(&p, p.tok.pos, "unexpected keyword '%.*s'", (int)p.tok.len, p.src + p.tok.pos);
        if (st == SPK_OK) {
            char name[256];
            size_t name_len;
            if ((st = spk__ident(&p, name, sizeof name, &name_len)) == SPK_OK) {
                e = spk_alias(e, name);
                if (!e) st = spk__builder_failed();
                else st = spk__next(&p);
            }
        }
    }
    if (st == SPK_OK && p.tok.kind != SPK__TOK_END)
        st = spk__parse_error(&p, p.tok.pos, "unexpected '%.*s' after the end of the expression", (int)p.tok.len,
                              p.src + p.tok.pos);
    spk__source_release(p.source);
    if (st != SPK_OK) return spk__drop(e, st);
    *out = e;
    return SPK_OK;
}

/* ---------------------------------------------------------------- SQL text */

static const char *spk__op_symbol(spk__op op) {
    switch (op) {
    case SPK__OP_ADD: return "+";
    case SPK__OP_SUB: return "-";
    case SPK__OP_MUL: return "*";
    case SPK__OP_DIV: return "/";
    case SPK__OP_MOD: return "%";
    case SPK__OP_INTDIV: return "div";
    case SPK__OP_EQ: return "=";
    case SPK__OP_NE: return "!=";
    case SPK__OP_LT: return "<";
    case SPK__OP_LE: return "<=";
    case SPK__OP_GT: return ">";
    case SPK__OP_GE: return ">=";
    case SPK__OP_EQ_NS: return "<=>";
    case SPK__OP_AND: return "AND";
    case SPK__OP_OR: return "OR";
    default: return "?";
    }
}

static void spk__expr_sql(spk__textout *o, const spk_expr *e, int depth) {
    if (depth > 256) {
        spk__out(o, "...");
        return;
    }
    switch ((spk__op)e->op) {
    case SPK__OP_COL: spk__out(o, "%s", e->name); break;
    case SPK__OP_STAR: spk__out(o, e->qualifier ? "%s.*" : "*", e->qualifier); break;
    case SPK__OP_LIT: {
        char text[SPK_VALUE_TEXT_MAX];
        spk_type_id id = (spk_type_id)e->lit.type.id;
        if (e->lit.is_null) {
            spk__out(o, "NULL");
        } else if (id == SPK_TYPE_STRING) {
            spk__out(o, "%.*s", (int)e->lit.as.str.len, e->lit.as.str.ptr);
        } else {
            spk_value_format(&e->lit, text, sizeof text);
            if (id == SPK_TYPE_DATE) spk__out(o, "DATE '%s'", text);
            else if (id == SPK_TYPE_TIMESTAMP) spk__out(o, "TIMESTAMP '%s'", text);
            else spk__out(o, "%s", text); /* Spark names numeric literals by value: no L */
        }
        break;
    }
    case SPK__OP_INTERVAL:
        spk__out(o, "INTERVAL '");
        if (e->months) spk__out(o, "%d months", (int)e->months);
        if (e->days) spk__out(o, "%s%d days", e->months ? " " : "", (int)e->days);
        if (e->micros || (!e->months && !e->days)) spk__out(o, "%s%lld microseconds", e->months || e->days ? " " : "", (long long)e->micros);
        spk__out(o, "'");
        break;
    case SPK__OP_NEG: spk__out(o, "(- "); spk__expr_sql(o, e->args[0], depth + 1); spk__out(o, ")"); break;
    case SPK__OP_NOT: spk__out(o, "(NOT "); spk__expr_sql(o, e->args[0], depth + 1); spk__out(o, ")"); break;
    case SPK__OP_IS_NULL:
    case SPK__OP_IS_NOT_NULL:
        spk__out(o, "(");
        spk__expr_sql(o, e->args[0], depth + 1);
        spk__out(o, e->op == SPK__OP_IS_NULL ? " IS NULL)" : " IS NOT NULL)");
        break;
    case SPK__OP_ADD: case SPK__OP_SUB: case SPK__OP_MUL: case SPK__OP_DIV: case SPK__OP_MOD:
    case SPK__OP_INTDIV: case SPK__OP_EQ: case SPK__OP_NE: case SPK__OP_LT: case SPK__OP_LE:
    case SPK__OP_GT: case SPK__OP_GE: case SPK__OP_EQ_NS: case SPK__OP_AND: case SPK__OP_OR:
        spk__out(o, "(");
        spk__expr_sql(o, e->args[0], depth + 1);
        spk__out(o, " %s ", spk__op_symbol((spk__op)e->op));
        spk__expr_sql(o, e->args[1], depth + 1);
        spk__out(o, ")");
        break;
    case SPK__OP_IN:
        spk__out(o, "(");
        spk__expr_sql(o, e->args[0], depth + 1);
        spk__out(o, " IN (");
        for (int i = 1; i < e->nargs; i++) {
            if (i > 1) spk__out(o, ", ");
            spk__expr_sql(o, e->args[i], depth + 1);
        }
        spk__out(o, "))");
        break;
    case SPK__OP_LIKE:
    case SPK__OP_RLIKE:
        spk__expr_sql(o, e->args[0], depth + 1);
        spk__out(o, e->op == SPK__OP_LIKE ? " LIKE %s" : " RLIKE %s", e->name);
        break;
    case SPK__OP_CASE: {
        int pairs = (e->nargs - (e->has_else ? 1 : 0)) / 2;
        spk__out(o, "CASE");
        for (int i = 0; i < pairs; i++) {
            spk__out(o, " WHEN ");
            spk__expr_sql(o, e->args[2 * i], depth + 1);
            spk__out(o, " THEN ");
            spk__expr_sql(o, e->args[2 * i + 1], depth + 1);
        }
        if (e->has_else) {
            spk__out(o, " ELSE ");
            spk__expr_sql(o, e->args[e->nargs - 1], depth + 1);
        }
        spk__out(o, " END");
        break;
    }
    case SPK__OP_CAST: {
        char type[32];
        spk_type_format(e->type, SPK_TYPE_SQL, type, sizeof type);
        spk__out(o, "CAST(");
        spk__expr_sql(o, e->args[0], depth + 1);
        spk__out(o, " AS %s)", type);
        break;
    }
    case SPK__OP_ALIAS: spk__out(o, "%s", e->name); break;
    case SPK__OP_CALL: {
        /* Spark names count(*) "count(1)". */
        bool star = e->nargs == 1 && e->args[0]->op == SPK__OP_STAR && !e->args[0]->qualifier;
        for (const char *c = e->name; *c; c++) spk__out(o, "%c", (char)spk__lower((unsigned char)*c));
        spk__out(o, "(%s", e->distinct ? "DISTINCT " : "");
        for (int i = 0; i < e->nargs; i++) {
            if (i) spk__out(o, ", ");
            if (star) spk__out(o, "1");
            else spk__expr_sql(o, e->args[i], depth + 1);
        }
        spk__out(o, ")");
        break;
    }
    case SPK__OP_SORT:
        spk__expr_sql(o, e->args[0], depth + 1);
        spk__out(o, "%s NULLS %s", e->descending ? " DESC" : " ASC", e->nulls_first ? "FIRST" : "LAST");
        break;
    case SPK__OP_COUNT: break;
    }
}

SPKDEF size_t spk_expr_to_sql(const spk_expr *e, char *buf, size_t cap) {
    spk__textout o = spk__textout_make(buf, cap);
    if (e) spk__expr_sql(&o, e, 0);
    else spk__out(&o, "NULL-expression");
    return o.len;
}
