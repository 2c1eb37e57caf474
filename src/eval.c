/* eval: the binder (names to columns, Spark's coercion rules, constant
 * folding), the operator kernels, and the vectorised evaluator. */
#include "funcs.c"
#include "eval.h"

struct spk_bound {
    spk__bnode *root;
    spk_schema *schema;
    int nslots;     /* vectors an evaluation needs */
    int *col_slot;  /* per input column: its slot, or -1 if unused */
    bool aggregate;
    char *name;
};

/* ---------------------------------------------------------------- operator kernels */

static void spk__k_arith(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                         const uint32_t *sel, uint32_t n) {
    (void)ev;
    const spk__vec *va = args[0], *vb = args[1];
    spk__op op = (spk__op)node->iarg;
    spk__nulls_or(out, va, vb, sel, n);
    uint8_t *on = out->nulls;
    switch (out->type.id) {
    case SPK_TYPE_INT32: {
        const int32_t *a = va->v.i32, *b = vb->v.i32;
        int32_t *o = out->v.i32;
        /* Wrapping arithmetic through unsigned, as Java's int. */
        if (op == SPK__OP_ADD) SPK__FOR_ROWS(sel, n, o[i] = (int32_t)((uint32_t)a[i] + (uint32_t)b[i]));
        else if (op == SPK__OP_SUB) SPK__FOR_ROWS(sel, n, o[i] = (int32_t)((uint32_t)a[i] - (uint32_t)b[i]));
        else if (op == SPK__OP_MUL) SPK__FOR_ROWS(sel, n, o[i] = (int32_t)((uint32_t)a[i] * (uint32_t)b[i]));
        else SPK__FOR_ROWS(sel, n, { /* MOD: x % 0 is NULL; x % -1 is 0 (avoids INT_MIN % -1) */
            on[i] |= b[i] == 0;
            o[i] = (b[i] == 0 || b[i] == -1) ? 0 : a[i] % b[i];
        });
        break;
    }
    case SPK_TYPE_INT64: {
        const int64_t *a = va->v.i64, *b = vb->v.i64;
        int64_t *o = out->v.i64;
        if (op == SPK__OP_ADD) SPK__FOR_ROWS(sel, n, o[i] = (int64_t)((uint64_t)a[i] + (uint64_t)b[i]));
        else if (op == SPK__OP_SUB) SPK__FOR_ROWS(sel, n, o[i] = (int64_t)((uint64_t)a[i] - (uint64_t)b[i]));
        else if (op == SPK__OP_MUL) SPK__FOR_ROWS(sel, n, o[i] = (int64_t)((uint64_t)a[i] * (uint64_t)b[i]));
        else if (op == SPK__OP_INTDIV) SPK__FOR_ROWS(sel, n, {
            on[i] |= b[i] == 0;
            o[i] = b[i] == 0 ? 0 : b[i] == -1 ? (int64_t)(0 - (uint64_t)a[i]) : a[i] / b[i];
        });
        else SPK__FOR_ROWS(sel, n, {
            on[i] |= b[i] == 0;
            o[i] = (b[i] == 0 || b[i] == -1) ? 0 : a[i] % b[i];
        });
        break;
    }
    case SPK_TYPE_DOUBLE: {
        const double *a = va->v.f64, *b = vb->v.f64;
        double *o = out->v.f64;
        if (op == SPK__OP_ADD) SPK__FOR_ROWS(sel, n, o[i] = a[i] + b[i]);
        else if (op == SPK__OP_SUB) SPK__FOR_ROWS(sel, n, o[i] = a[i] - b[i]);
        else if (op == SPK__OP_MUL) SPK__FOR_ROWS(sel, n, o[i] = a[i] * b[i]);
        else if (op == SPK__OP_DIV) SPK__FOR_ROWS(sel, n, { /* x / 0 is NULL in Spark */
            on[i] |= b[i] == 0;
            o[i] = b[i] == 0 ? 0 : a[i] / b[i];
        });
        else SPK__FOR_ROWS(sel, n, {
            on[i] |= b[i] == 0;
            o[i] = b[i] == 0 ? 0 : fmod(a[i], b[i]);
        });
        break;
    }
    case SPK_TYPE_DECIMAL: {
        const int64_t *a = va->v.i64, *b = vb->v.i64;
        int64_t *o = out->v.i64;
        int sa = va->type.scale, sb = vb->type.scale, s = out->type.scale, p = out->type.precision;
        int64_t limit = spk__pow10[p];
        /* Fast paths in int64 when no rounding is needed; a row that would
         * overflow int64 takes the exact 128-bit path. */
        int ia = va->type.precision - sa, ib = vb->type.precision - sb;
        if ((op == SPK__OP_ADD || op == SPK__OP_SUB) && s == (sa > sb ? sa : sb) && (ia > ib ? ia : ib) + s + 1 <= p) {
            /* The operands' types prove the result fits: plain arithmetic. */
            int64_t fa = spk__pow10[s - sa], fb = spk__pow10[s - sb] * (op == SPK__OP_SUB ? -1 : 1);
            /* unsigned: a NULL row may hold any bits, and must not overflow signed */
            SPK__FOR_ROWS(sel, n, o[i] = (int64_t)((uint64_t)a[i] * (uint64_t)fa + (uint64_t)b[i] * (uint64_t)fb));
            break;
        }
        if (op == SPK__OP_MUL && s == sa + sb && va->type.precision + vb->type.precision <= p) {
            SPK__FOR_ROWS(sel, n, o[i] = (int64_t)((uint64_t)a[i] * (uint64_t)b[i]));
            break;
        }
        if ((op == SPK__OP_ADD || op == SPK__OP_SUB) && s == (sa > sb ? sa : sb)) {
            int64_t fa = spk__pow10[s - sa], fb = spk__pow10[s - sb], sign = op == SPK__OP_SUB ? -1 : 1;
            SPK__FOR_ROWS(sel, n, {
                int64_t x, y, r;
                if (spk__mul_overflow_i64(a[i], fa, &x) || spk__mul_overflow_i64(b[i], fb * sign, &y) ||
                    spk__add_overflow_i64(x, y, &r))
                    on[i] |= !spk__decimal_add_sub(a[i], sa, b[i], sb, op == SPK__OP_SUB, s, p, &r);
                else
                    on[i] |= r >= limit || r <= -limit;
                o[i] = r;
            });
            break;
        }
        if (op == SPK__OP_MUL && s == sa + sb) {
            SPK__FOR_ROWS(sel, n, {
                int64_t r;
                bool overflow = spk__mul_overflow_i64(a[i], b[i], &r);
                on[i] |= (uint8_t)(overflow | (r >= limit) | (r <= -limit));
                o[i] = r;
            });
            break;
        }
        switch (op) {
        case SPK__OP_ADD: SPK__FOR_ROWS(sel, n, on[i] |= !spk__decimal_add_sub(a[i], sa, b[i], sb, false, s, p, &o[i])); break;
        case SPK__OP_SUB: SPK__FOR_ROWS(sel, n, on[i] |= !spk__decimal_add_sub(a[i], sa, b[i], sb, true, s, p, &o[i])); break;
        case SPK__OP_MUL: SPK__FOR_ROWS(sel, n, on[i] |= !spk__decimal_mul(a[i], sa, b[i], sb, s, p, &o[i])); break;
        case SPK__OP_DIV: SPK__FOR_ROWS(sel, n, on[i] |= !spk__decimal_div_round(a[i], sa, b[i], sb, s, p, &o[i])); break;
        default: SPK__FOR_ROWS(sel, n, on[i] |= !spk__decimal_mod(a[i], sa, b[i], sb, s, p, &o[i])); break;
        }
        break;
    }
    default: break;
    }
}

/* a div b for DOUBLE inputs: the truncated quotient as BIGINT. */
static void spk__k_intdiv_double(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                                 const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    const double *a = args[0]->v.f64, *b = args[1]->v.f64;
    int64_t *o = out->v.i64;
    uint8_t *on = out->nulls;
    spk__nulls_or(out, args[0], args[1], sel, n);
    SPK__FOR_ROWS(sel, n, {
        on[i] |= b[i] == 0;
        o[i] = b[i] == 0 ? 0 : spk__double_to_int64(trunc(a[i] / b[i]));
    });
}

static void spk__k_neg(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                       const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    const spk__vec *a = args[0];
    if (out->type.id == SPK_TYPE_INT32) {
        const int32_t *x = a->v.i32;
        int32_t *o = out->v.i32;
        SPK__FOR_ROWS(sel, n, o[i] = (int32_t)(0u - (uint32_t)x[i]));
    } else if (out->type.id == SPK_TYPE_DOUBLE) {
        const double *x = a->v.f64;
        double *o = out->v.f64;
        SPK__FOR_ROWS(sel, n, o[i] = -x[i]);
    } else {
        const int64_t *x = a->v.i64;
        int64_t *o = out->v.i64;
        SPK__FOR_ROWS(sel, n, o[i] = (int64_t)(0 - (uint64_t)x[i]));
    }
    spk__nulls_copy(out, a, sel, n);
}

/* Comparison result from c = sign(a - b). */
static uint8_t spk__cmp_result(spk__op op, int c) {
    switch (op) {
    case SPK__OP_EQ:
    case SPK__OP_EQ_NS: return c == 0;
    case SPK__OP_NE: return c != 0;
    case SPK__OP_LT: return c < 0;
    case SPK__OP_LE: return c <= 0;
    case SPK__OP_GT: return c > 0;
    default: return c >= 0;
    }
}

/* Direct comparisons for the integer layouts, so the common filters compile
 * to plain vector code; doubles follow Spark's NaN order; strings compare
 * their bytes without copying. */
#define SPK__CMP_LOOP(T, field)                                                                        \
    do {                                                                                               \
        const T *a = va->v.field, *b = vb->v.field;                                                    \
        switch (op) {                                                                                  \
        case SPK__OP_EQ: case SPK__OP_EQ_NS: SPK__FOR_ROWS(sel, n, o[i] = a[i] == b[i]); break;        \
        case SPK__OP_NE: SPK__FOR_ROWS(sel, n, o[i] = a[i] != b[i]); break;                            \
        case SPK__OP_LT: SPK__FOR_ROWS(sel, n, o[i] = a[i] < b[i]); break;                             \
        case SPK__OP_LE: SPK__FOR_ROWS(sel, n, o[i] = a[i] <= b[i]); break;                            \
        case SPK__OP_GT: SPK__FOR_ROWS(sel, n, o[i] = a[i] > b[i]); break;                             \
        default: SPK__FOR_ROWS(sel, n, o[i] = a[i] >= b[i]); break;                                    \
        }                                                                                              \
    } while (0)

static void spk__k_compare(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                           const uint32_t *sel, uint32_t n) {
    (void)ev;
    const spk__vec *va = args[0], *vb = args[1];
    spk__op op = (spk__op)node->iarg;
    uint8_t *o = out->v.b;
    switch (va->type.id) {
    case SPK_TYPE_BOOLEAN: SPK__CMP_LOOP(uint8_t, b); break;
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE: SPK__CMP_LOOP(int32_t, i32); break;
    case SPK_TYPE_DOUBLE: {
        const double *a = va->v.f64, *b = vb->v.f64;
        SPK__FOR_ROWS(sel, n, o[i] = spk__cmp_result(op, spk__cmp_f64(a[i], b[i])));
        break;
    }
    case SPK_TYPE_STRING: {
        const spk__str *a = va->v.str, *b = vb->v.str;
        SPK__FOR_ROWS(sel, n, o[i] = spk__cmp_result(op, spk__cmp_bytes(a[i].ptr, a[i].len, b[i].ptr, b[i].len)));
        break;
    }
    case SPK_TYPE_NULL: SPK__FOR_ROWS(sel, n, o[i] = 0); break;
    default: SPK__CMP_LOOP(int64_t, i64); break; /* INT64, DECIMAL at one scale, TIMESTAMP */
    }
    if (op == SPK__OP_EQ_NS) { /* never NULL: NULL <=> NULL is true, NULL <=> x false */
        const uint8_t *an = va->nulls, *bn = vb->nulls;
        uint8_t *on = out->nulls;
        SPK__FOR_ROWS(sel, n, {
            o[i] = (an[i] | bn[i]) ? (an[i] & bn[i]) : o[i];
            on[i] = 0;
        });
    } else {
        spk__nulls_or(out, va, vb, sel, n);
    }
}

static void spk__k_not(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                       const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    const uint8_t *x = args[0]->v.b;
    uint8_t *o = out->v.b;
    SPK__FOR_ROWS(sel, n, o[i] = !x[i]);
    spk__nulls_copy(out, args[0], sel, n);
}

static void spk__k_is_null(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                           const uint32_t *sel, uint32_t n) {
    (void)ev;
    const uint8_t *x = args[0]->nulls;
    uint8_t *o = out->v.b, *on = out->nulls;
    uint8_t want = node->iarg ? 1 : 0; /* iarg 1: IS NULL, 0: IS NOT NULL */
    SPK__FOR_ROWS(sel, n, {
        o[i] = x[i] == want;
        on[i] = 0;
    });
}

/* x IN (list): true if equal to an item; else NULL if x or an item is NULL; else false. */
static void spk__k_in(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                      const uint32_t *sel, uint32_t n) {
    (void)ev;
    int items = node->nargs - 1;
    const spk__vec *x = args[0];
    SPK__FOR_ROWS(sel, n, {
        uint8_t found = 0, unknown = x->nulls[i];
        if (!unknown) {
            spk_value xv = spk__vec_get(x, i);
            for (int k = 1; k <= items && !found; k++) {
                if (args[k]->nulls[i]) {
                    unknown = 1;
                    continue;
                }
                spk_value item = spk__vec_get(args[k], i);
                found = spk_value_compare(&xv, &item, true) == 0;
            }
        }
        out->v.b[i] = found;
        out->nulls[i] = !found && unknown;
    });
}

/* -- LIKE: % matches any run, _ one character, \ escapes the next one. */
typedef struct spk__like {
    char *pattern;
    size_t len;
} spk__like;

static size_t spk__utf8_step(const char *s, size_t len, size_t i) {
    size_t j = i + 1;
    while (j < len && ((unsigned char)s[j] & 0xC0) == 0x80) j++;
    return j;
}

static bool spk__like_match(const char *p, size_t pl, const char *s, size_t sl) {
    size_t pi = 0, si = 0, star_p = (size_t)-1, star_s = 0;
    while (si < sl) {
        if (pi < pl && p[pi] == '%') {
            star_p = ++pi;
            star_s = si;
            continue;
        }
        if (pi < pl) {
            if (p[pi] == '_') {
                pi++;
                si = spk__utf8_step(s, sl, si);
                continue;
            }
            char c = p[pi];
            size_t step = 1;
            if (c == '\\' && pi + 1 < pl) {
                c = p[pi + 1];
                step = 2;
            }
            if (c == s[si]) {
                pi += step;
                si++;
                continue;
            }
        }
        if (star_p == (size_t)-1) return false;
        pi = star_p; /* let the last % swallow one more character */
        si = star_s = spk__utf8_step(s, sl, star_s);
    }
    while (pi < pl && p[pi] == '%') pi++;
    return pi == pl;
}

static void spk__like_free(void *aux) {
    spk__like *l = (spk__like *)aux;
    spk__free(spk__bind_alloc(), l->pattern, l->len + 1);
    spk__free(spk__bind_alloc(), l, sizeof *l);
}

static void spk__k_like(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                        const uint32_t *sel, uint32_t n) {
    (void)ev;
    const spk__like *l = (const spk__like *)node->aux;
    const spk__str *x = args[0]->v.str;
    uint8_t *o = out->v.b;
    SPK__FOR_ROWS(sel, n, o[i] = spk__like_match(l->pattern, l->len, x[i].ptr, x[i].len));
    spk__nulls_copy(out, args[0], sel, n);
}

/* -- RLIKE: POSIX extended regular expressions from the C library. */
#if defined(__unix__) || defined(__APPLE__)
#define SPK__HAVE_REGEX 1 /* <regex.h> came with funcs */

static void spk__regex_free(void *aux) {
    regfree((regex_t *)aux);
    spk__free(spk__bind_alloc(), aux, sizeof(regex_t));
}

static void spk__k_rlike(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                         const uint32_t *sel, uint32_t n) {
    const regex_t *re = (const regex_t *)node->aux;
    const spk__str *x = args[0]->v.str;
    uint8_t *o = out->v.b;
    SPK__FOR_ROWS(sel, n, {
        char *text = spk__eval_strbuf(ev, x[i].len + 1); /* regexec wants a C string */
        o[i] = 0;
        if (text) {
            if (x[i].len) memcpy(text, x[i].ptr, x[i].len); /* a NULL row's empty string may have no bytes */
            text[x[i].len] = '\0';
            o[i] = regexec(re, text, 0, NULL, 0) == 0;
        }
    });
    spk__nulls_copy(out, args[0], sel, n);
}
#endif

/* -- date and timestamp plus an interval (aux: months, days, micros) */
typedef struct spk__interval {
    int32_t months, days;
    int64_t micros;
} spk__interval;

static void spk__interval_free(void *aux) { spk__free(spk__bind_alloc(), aux, sizeof(spk__interval)); }

static void spk__k_add_interval(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                                const uint32_t *sel, uint32_t n) {
    (void)ev;
    const spk__interval *iv = (const spk__interval *)node->aux;
    if (out->type.id == SPK_TYPE_DATE) {
        const int32_t *d = args[0]->v.i32;
        int32_t *o = out->v.i32;
        SPK__FOR_ROWS(sel, n, o[i] = (int32_t)(uint32_t)((int64_t)spk__add_months(d[i], iv->months) + iv->days));
    } else {
        const int64_t *t = args[0]->v.i64;
        int64_t *o = out->v.i64;
        SPK__FOR_ROWS(sel, n, {
            int64_t day = spk__floor_div(t[i], SPK__MICROS_PER_DAY), tod = spk__floor_mod(t[i], SPK__MICROS_PER_DAY);
            day = (int64_t)spk__add_months((int32_t)day, iv->months) + iv->days;
            o[i] = (int64_t)((uint64_t)day * (uint64_t)SPK__MICROS_PER_DAY + (uint64_t)tod + (uint64_t)iv->micros);
        });
    }
    spk__nulls_copy(out, args[0], sel, n);
}

/* ---------------------------------------------------------------- the binder */

/* What a scope's nodes sit inside. Behind a pointer so that scopes made
 * elsewhere with {schema, qualifiers, case_sensitive, 0} stay complete. */
typedef struct spk__bind_ctx {
    spk_udf_registry *udfs; /* the session's: the first place a UDF name is looked up; may be NULL */
    int agg_depth;          /* > 0 inside an aggregate's argument */
    int macro_depth;        /* macro expansions around the node */
} spk__bind_ctx;

typedef struct spk__scope {
    const spk_schema *schema;
    const char *const *qualifiers; /* per column: the DataFrame alias it comes from, or NULL */
    bool case_sensitive;
    const spk__bind_ctx *ctx;      /* NULL: none of the above */
} spk__scope;

static spk__bind_ctx spk__ctx_of(const spk__scope *sc) {
    spk__bind_ctx c;
    memset(&c, 0, sizeof c);
    return sc->ctx ? *sc->ctx : c;
}

static spk_status spk__bind_node(const spk__scope *sc, const spk_expr *e, spk__bnode **out);

/* spk__bind_node calls active on this thread: the depth of the node being
 * bound, which bounds macro expansion (spk__bind_macro). */
static _Thread_local int spk__bind_depth;

/* The SQL text of an expression, for messages and names (cut to fit). */
typedef struct spk__sql_text { char s[256]; } spk__sql_text;
static spk__sql_text spk__sql_of(const spk_expr *e) {
    spk__sql_text t;
    size_t n = spk_expr_to_sql(e, t.s, sizeof t.s);
    if (n >= sizeof t.s) memcpy(t.s + sizeof t.s - 4, "...", 4);
    return t;
}

static spk_status spk__type_mismatch(const spk_expr *e, const char *why) {
    return spk__fail(SPK_ERR_TYPE, "[DATATYPE_MISMATCH] Cannot resolve \"%s\" due to data type mismatch: %s",
                     spk__sql_of(e).s, why);
}

/* A kernel node over already-bound arguments (consumed, also on failure). */
static spk__bnode *spk__kernel_node(spk_type type, spk__kernel kernel, const char *label, spk__bnode **args, int n) {
    spk__bnode *b = spk__bnode_new(SPK__B_KERNEL, type, n);
    if (!b || spk__bnode_set_label(b, label) != SPK_OK) {
        for (int i = 0; i < n; i++) spk__bnode_free(args[i]);
        spk__bnode_free(b);
        return NULL;
    }
    b->kernel = kernel;
    for (int i = 0; i < n; i++) b->args[i] = args[i];
    b->nullable = false;
    for (int i = 0; i < n; i++) b->nullable |= args[i]->nullable;
    return b;
}

static const char *spk__type_sql_name(spk_type t, char *buf, size_t cap) {
    spk_type_format(t, SPK_TYPE_SQL, buf, cap);
    return buf;
}

/* Resolution with DataFrame aliases: `a.id` picks the `id` that came from
 * the frame aliased `a`; a bare `id` present on both sides of a join is
 * ambiguous, and the message names both. */
static spk_status spk__lookup_qualified(const spk__scope *sc, const spk_expr *e, int *index) {
    int ncols = spk_schema_ncols(sc->schema), found = -1, matches = 0;
    for (int i = 0; i < ncols; i++) {
        const char *q = sc->qualifiers[i];
        if (!spk__name_eq(spk_schema_field(sc->schema, i)->name, e->name, sc->case_sensitive)) continue;
        if (e->qualifier && (!q || !spk__name_eq(q, e->qualifier, false))) continue;
        if (found < 0) found = i;
        matches++;
    }
    if (matches == 1) {
        *index = found;
        return SPK_OK;
    }
    if (matches > 1) {
        spk__fail(SPK_ERR_AMBIGUOUS, "[AMBIGUOUS_REFERENCE] Reference `%s` is ambiguous, could be: [", e->name);
        for (int i = 0, k = 0; i < ncols; i++) {
            if (!spk__name_eq(spk_schema_field(sc->schema, i)->name, e->name, sc->case_sensitive)) continue;
            if (e->qualifier && (!sc->qualifiers[i] || !spk__name_eq(sc->qualifiers[i], e->qualifier, false))) continue;
            spk__fail_append("%s`%s%s%s`", k++ ? ", " : "", sc->qualifiers[i] ? sc->qualifiers[i] : "",
                             sc->qualifiers[i] ? "`.`" : "", spk_schema_field(sc->schema, i)->name);
        }
        spk__fail_append("].");
        return SPK_ERR_AMBIGUOUS;
    }
    if (!e->qualifier) return spk_schema_lookup(sc->schema, e->name, sc->case_sensitive, index);
    spk__fail(SPK_ERR_NOT_FOUND,
              "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column or function parameter with name `%s`.`%s` cannot be resolved.",
              e->qualifier, e->name);
    const char *names[64];
    int n = ncols < 64 ? ncols : 64;
    for (int i = 0; i < n; i++) names[i] = spk_schema_field(sc->schema, i)->name;
    spk__fail_suggest(e->name, names, n);
    return SPK_ERR_NOT_FOUND;
}

static spk_status spk__bind_column(const spk__scope *sc, const spk_expr *e, spk__bnode **out) {
    int index;
    spk_status st = sc->qualifiers ? spk__lookup_qualified(sc, e, &index)
                                   : spk_schema_lookup(sc->schema, e->name, sc->case_sensitive, &index);
    if (st != SPK_OK) {
        if (e->source) spk__fail_caret(e->source->text, e->pos);
        return st;
    }
    /* Without qualifiers (a plain table) a `t.` prefix has nothing to check. */
    const spk_field *f = spk_schema_field(sc->schema, index);
    spk__bnode *b = spk__bnode_new(SPK__B_COL, f->type, 0);
    if (!b) return SPK_ERR_NOMEM;
    b->col = index;
    b->nullable = f->nullable;
    b->name = spk__strndup(spk__bind_alloc(), f->name, strlen(f->name));
    if (!b->name) {
        spk__bnode_free(b);
        return spk__nomem("a name", strlen(f->name) + 1);
    }
    *out = b;
    return SPK_OK;
}

/* Arithmetic: Spark's result types (integers wrap, `/` is DOUBLE unless
 * decimal, decimals follow the precision rules capped at 18 digits). */
static spk_status spk__bind_arith(const spk_expr *e, spk__bnode *a, spk__bnode *b, spk__bnode **out) {
    spk__op op = (spk__op)e->op;
    spk__bnode *args[2] = {a, b};
    spk_type ta = a->type, tb = b->type, result;
    spk_status st = SPK_OK;
    /* Strings in arithmetic are read as DOUBLE; an untyped NULL as the other side. */
    for (int i = 0; i < 2; i++) {
        if (args[i]->type.id == SPK_TYPE_STRING && st == SPK_OK) st = spk__coerce(&args[i], spk_type_of(SPK_TYPE_DOUBLE));
    }
    if (st == SPK_OK && args[0]->type.id == SPK_TYPE_NULL && args[1]->type.id == SPK_TYPE_NULL)
        st = spk__coerce(&args[0], spk_type_of(SPK_TYPE_DOUBLE));
    for (int i = 0; i < 2 && st == SPK_OK; i++) {
        spk__bnode *other = args[1 - i];
        if (args[i]->type.id == SPK_TYPE_NULL) st = spk__coerce(&args[i], other->type);
    }
    if (st != SPK_OK) goto fail;
    ta = args[0]->type;
    tb = args[1]->type;
    if (!spk__is_numeric_type(ta) || !spk__is_numeric_type(tb)) {
        char x[32], y[32], why[128];
        snprintf(why, sizeof why, "the operator requires numeric operands, not \"%s\" and \"%s\".",
                 spk__type_sql_name(ta, x, sizeof x), spk__type_sql_name(tb, y, sizeof y));
        st = spk__type_mismatch(e, why);
        goto fail;
    }
    bool any_double = ta.id == SPK_TYPE_DOUBLE || tb.id == SPK_TYPE_DOUBLE;
    bool any_decimal = ta.id == SPK_TYPE_DECIMAL || tb.id == SPK_TYPE_DECIMAL;
    spk__kernel kernel = spk__k_arith;
    if (op == SPK__OP_INTDIV) {
        /* Spark casts DOUBLE operands of div to BIGINT first; decimals divide
         * exactly and truncate, which the DOUBLE quotient matches to 15 digits. */
        if (any_decimal && !any_double) {
            result = spk_type_of(SPK_TYPE_DOUBLE);
            kernel = spk__k_intdiv_double;
        } else {
            result = spk_type_of(SPK_TYPE_INT64);
        }
        if ((st = spk__coerce(&args[0], result)) != SPK_OK || (st = spk__coerce(&args[1], result)) != SPK_OK) goto fail;
        result = spk_type_of(SPK_TYPE_INT64);
    } else if (any_double || (op == SPK__OP_DIV && !any_decimal)) {
        result = spk_type_of(SPK_TYPE_DOUBLE);
        if ((st = spk__coerce(&args[0], result)) != SPK_OK || (st = spk__coerce(&args[1], result)) != SPK_OK) goto fail;
    } else if (any_decimal) {
        spk_type da = spk__decimal_of(ta), db = spk__decimal_of(tb);
        int p1 = da.precision, s1 = da.scale, p2 = db.precision, s2 = db.scale;
        switch (op) {
        case SPK__OP_ADD:
        case SPK__OP_SUB: {
            int s = s1 > s2 ? s1 : s2, i1 = p1 - s1, i2 = p2 - s2;
            result = spk__decimal_bounded((i1 > i2 ? i1 : i2) + s + 1, s);
            break;
        }
        case SPK__OP_MUL: result = spk__decimal_bounded(p1 + p2 + 1, s1 + s2); break;
        case SPK__OP_DIV: {
            int s = 6 > s1 + p2 + 1 ? 6 : s1 + p2 + 1;
            result = spk__decimal_bounded(p1 - s1 + s2 + s, s);
            break;
        }
        default: { /* MOD */
            int s = s1 > s2 ? s1 : s2, i1 = p1 - s1, i2 = p2 - s2;
            result = spk__decimal_bounded((i1 < i2 ? i1 : i2) + s, s);
            break;
        }
        }
        if ((st = spk__coerce(&args[0], da)) != SPK_OK || (st = spk__coerce(&args[1], db)) != SPK_OK) goto fail;
    } else {
        result = ta.id == SPK_TYPE_INT64 || tb.id == SPK_TYPE_INT64 ? spk_type_of(SPK_TYPE_INT64)
                                                                     : spk_type_of(SPK_TYPE_INT32);
        if ((st = spk__coerce(&args[0], result)) != SPK_OK || (st = spk__coerce(&args[1], result)) != SPK_OK) goto fail;
    }
    *out = spk__kernel_node(result, kernel, spk__op_symbol(op), args, 2);
    if (!*out) return SPK_ERR_NOMEM;
    (*out)->iarg = op;
    if (op == SPK__OP_DIV || op == SPK__OP_MOD || op == SPK__OP_INTDIV || any_decimal) (*out)->nullable = true;
    return SPK_OK;
fail:
    spk__bnode_free(args[0]);
    spk__bnode_free(args[1]);
    return st;
}

/* DATE/TIMESTAMP +/- INTERVAL; DATE +/- INT days; DATE - DATE days. */
static bool spk__is_datetime(spk_type t) { return t.id == SPK_TYPE_DATE || t.id == SPK_TYPE_TIMESTAMP; }

static spk_status spk__bind_datetime_arith(const spk_expr *e, spk__bnode *a, spk__bnode *b, spk__bnode **out) {
    bool sub = e->op == SPK__OP_SUB;
    const spk_expr *iv_expr = e->args[1]->op == SPK__OP_INTERVAL ? e->args[1] : NULL;
    if (iv_expr) {
        spk__interval *iv = (spk__interval *)spk__alloc(spk__bind_alloc(), sizeof *iv);
        if (!iv) {
            spk__bnode_free(a);
            spk__bnode_free(b);
            return spk__nomem("an interval", sizeof *iv);
        }
        iv->months = sub ? -iv_expr->months : iv_expr->months;
        iv->days = sub ? -iv_expr->days : iv_expr->days;
        iv->micros = sub ? -iv_expr->micros : iv_expr->micros;
        spk__bnode_free(b);
        spk_status st = SPK_OK;
        if (a->type.id == SPK_TYPE_DATE && iv->micros) st = spk__coerce(&a, spk_type_of(SPK_TYPE_TIMESTAMP));
        spk__bnode *args[1] = {a};
        spk__bnode *node = st == SPK_OK ? spk__kernel_node(a->type, spk__k_add_interval, sub ? "-" : "+", args, 1) : NULL;
        if (!node) {
            if (st != SPK_OK) spk__bnode_free(a);
            spk__interval_free(iv);
            return st != SPK_OK ? st : SPK_ERR_NOMEM;
        }
        node->aux = iv;
        node->aux_free = spk__interval_free;
        *out = node;
        return SPK_OK;
    }
    /* DATE - DATE: days between (Spark 3 gives an interval; we give INT days). */
    bool date_minus_date = sub && a->type.id == SPK_TYPE_DATE && b->type.id == SPK_TYPE_DATE;
    spk__bnode *args[2] = {a, b};
    if (!sub && a->type.id != SPK_TYPE_DATE) { /* INT + DATE */
        args[0] = b;
        args[1] = a;
    }
    spk__bnode *node = spk__kernel_node(spk_type_of(date_minus_date ? SPK_TYPE_INT32 : SPK_TYPE_DATE),
                                        date_minus_date ? spk__k_datediff : spk__k_date_add,
                                        date_minus_date ? "datediff" : sub ? "date_sub" : "date_add", args, 2);
    if (!node) return SPK_ERR_NOMEM;
    node->iarg = sub ? -1 : 1;
    spk_status st = date_minus_date ? SPK_OK : spk__fn_arg(node, 1, spk_type_of(SPK_TYPE_INT32));
    if (st != SPK_OK) {
        spk__bnode_free(node);
        return st;
    }
    *out = node;
    return SPK_OK;
}

static spk_status spk__bind_compare(const spk_expr *e, spk__bnode *a, spk__bnode *b, spk__bnode **out) {
    spk_type common;
    spk__bnode *args[2] = {a, b};
    spk_status st;
    if (!spk__common_type(a->type, b->type, true, &common)) {
        char x[32], y[32], why[160];
        snprintf(why, sizeof why, "\"%s\" and \"%s\" cannot be compared.", spk__type_sql_name(a->type, x, sizeof x),
                 spk__type_sql_name(b->type, y, sizeof y));
        st = spk__type_mismatch(e, why);
        goto fail;
    }
    if (common.id == SPK_TYPE_NULL) common = spk_type_of(SPK_TYPE_BOOLEAN);
    if ((st = spk__coerce(&args[0], common)) != SPK_OK || (st = spk__coerce(&args[1], common)) != SPK_OK) goto fail;
    *out = spk__kernel_node(spk_type_of(SPK_TYPE_BOOLEAN), spk__k_compare, spk__op_symbol((spk__op)e->op), args, 2);
    if (!*out) return SPK_ERR_NOMEM;
    (*out)->iarg = e->op;
    if (e->op == SPK__OP_EQ_NS) (*out)->nullable = false;
    return SPK_OK;
fail:
    spk__bnode_free(args[0]);
    spk__bnode_free(args[1]);
    return st;
}

/* Coerces a bound node to BOOLEAN for AND/OR/NOT/WHEN (strings and NULL cast). */
static spk_status spk__want_boolean(const spk_expr *e, spk__bnode **slot) {
    spk_type_id id = (spk_type_id)(*slot)->type.id;
    if (id == SPK_TYPE_BOOLEAN) return SPK_OK;
    if (id == SPK_TYPE_NULL || id == SPK_TYPE_STRING) return spk__coerce(slot, spk_type_of(SPK_TYPE_BOOLEAN));
    char t[32], why[160];
    snprintf(why, sizeof why, "a BOOLEAN is required, not \"%s\".", spk__type_sql_name((*slot)->type, t, sizeof t));
    return spk__type_mismatch(e, why);
}

/* Binds the children of e into a fresh array (freed by the caller with spk__free_args). */
static spk_status spk__bind_children(const spk__scope *sc, const spk_expr *e, int from, spk__bnode **args) {
    for (int i = from; i < e->nargs; i++) {
        spk_status st = spk__bind_node(sc, e->args[i], &args[i - from]);
        if (st != SPK_OK) {
            for (int k = from; k < i; k++) spk__bnode_free(args[k - from]);
            return st;
        }
    }
    return SPK_OK;
}

/* ---------------------------------------------------------------- UDF calls */

/* The failure of a UDF's call as the query's: its status, the UDF's name,
 * and the message of any library call inside it that failed (the thread's
 * failure count moved since `errors_before`). */
static spk_status spk__udf_error(const spk_udf *u, spk_status st, unsigned long errors_before, const char *what) {
    char inner[SPK_ERROR_MAX / 2];
    inner[0] = '\0';
    if (spk__error_count != errors_before) snprintf(inner, sizeof inner, ": %.*s", (int)sizeof inner - 3, spk_last_error());
    if ((unsigned)st >= SPK_STATUS_COUNT)
        return spk__fail(SPK_ERR_INTERNAL, "[UDF_FAILED] the UDF `%s` (%s) returned the unknown status %d", u->name, what,
                         (int)st);
    return spk__fail(st, "[UDF_FAILED] the UDF `%s` (%s) failed with %s (%s)%s", u->name, what, spk_status_name(st),
                     spk_status_message(st), inner);
}

/* A UDF's result must be NULL or of the declared type. */
static spk_status spk__udf_check_result(const spk_udf *u, const spk_value *v) {
    if (v->is_null || v->type.id == SPK_TYPE_NULL) return SPK_OK;
    if (!spk_type_equal(v->type, u->return_type)) {
        char got[32], want[32];
        return spk__fail(SPK_ERR_TYPE, "[UDF_RESULT_TYPE] the UDF `%s` returned a value of type \"%s\", but it is declared to "
                         "return \"%s\"", u->name, spk__type_sql_name(v->type, got, sizeof got),
                         spk__type_sql_name(u->return_type, want, sizeof want));
    }
    if (v->type.id == SPK_TYPE_STRING && !v->as.str.ptr && v->as.str.len)
        return spk__fail(SPK_ERR_ARG, "[UDF_RESULT_TYPE] the UDF `%s` returned a STRING with no bytes", u->name);
    return SPK_OK;
}

/* A scalar C UDF: one call per selected row (NULL rows included: the
 * function decides what NULL gives); STRING results are copied into the
 * batch's arena before the next call. */
static void spk__k_udf(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                       const uint32_t *sel, uint32_t n) {
    const spk_udf *u = (const spk_udf *)node->aux;
    spk_value argv[SPK__UDF_MAX_ARGS];
    bool failed = ev->status != SPK_OK;
    SPK__FOR_ROWS(sel, n, {
        spk_value r = spk_value_null_of(u->return_type);
        if (!failed) {
            for (int k = 0; k < node->nargs; k++) argv[k] = spk__vec_get(args[k], i);
            unsigned long before = spk__error_count;
            spk_status st = u->fn(u->user, argv, node->nargs, &r);
            if (st != SPK_OK) st = spk__udf_error(u, st, before, "call");
            else st = spk__udf_check_result(u, &r);
            if (st == SPK_OK && !r.is_null && r.type.id == SPK_TYPE_STRING) {
                char *copy = spk__eval_strbuf(ev, r.as.str.len);
                if (copy && r.as.str.len) memcpy(copy, r.as.str.ptr, r.as.str.len);
                r.as.str.ptr = copy;
                if (!copy) st = ev->status;
            }
            if (st != SPK_OK) {
                if (ev->status == SPK_OK) ev->status = st;
                failed = true;
                r = spk_value_null_of(u->return_type);
            }
        }
        spk__vec_put(out, i, &r);
    });
}

static void spk__udf_aux_free(void *aux) { spk_udf_release((spk_udf *)aux); }

/* An aggregate UDF: the node's own spk__agg_ops (in aux) over states laid
 * out as [spk__udaf_head][the UDF's state], the UDF's part 16-aligned. */
typedef struct spk__udaf {
    spk__agg_ops ops;
    spk_udf *udf; /* a reference */
} spk__udaf;

typedef struct spk__udaf_head { /* a copy of finish's STRING result, owned by the state */
    char *held;
    size_t cap;
} spk__udaf_head;

#define SPK__UDAF_HEAD 16
_Static_assert(sizeof(spk__udaf_head) <= SPK__UDAF_HEAD, "spk__udaf_head fits its slot");

static const spk_udf *spk__udaf_of(const spk__bnode *node) { return ((const spk__udaf *)node->aux)->udf; }

static void spk__udaf_init(const spk__bnode *node, void *state) {
    const spk_udf *u = spk__udaf_of(node);
    memset(state, 0, node->agg->state_size);
    u->agg.init(u->user, (char *)state + SPK__UDAF_HEAD);
}

static spk_status spk__udaf_update(const spk__bnode *node, char *states, size_t stride, const uint32_t *groups, uint32_t ngroups, const spk__vec *arg,
                                   const uint32_t *sel, uint32_t n) {
    (void)ngroups;
    const spk_udf *u = spk__udaf_of(node);
    spk_status st = SPK_OK;
    SPK__FOR_ROWS(sel, n, if (st == SPK_OK && !arg->nulls[i]) { /* NULLs skipped, as the built-in aggregates */
        spk_value v = spk__vec_get(arg, i);
        unsigned long before = spk__error_count;
        st = u->agg.update(u->user, SPK__STATE(states, stride, groups, i) + SPK__UDAF_HEAD, &v);
        if (st != SPK_OK) st = spk__udf_error(u, st, before, "update");
    });
    return st;
}

static spk_status spk__udaf_merge(const spk__bnode *node, void *into, const void *from) {
    const spk_udf *u = spk__udaf_of(node);
    unsigned long before = spk__error_count;
    spk_status st = u->agg.merge(u->user, (char *)into + SPK__UDAF_HEAD, (const char *)from + SPK__UDAF_HEAD);
    return st == SPK_OK ? SPK_OK : spk__udf_error(u, st, before, "merge");
}

static spk_status spk__udaf_final(const spk__bnode *node, const void *state, spk__vec *out, uint32_t row) {
    const spk_udf *u = spk__udaf_of(node);
    spk_value r = spk_value_null_of(u->return_type);
    unsigned long before = spk__error_count;
    spk_status st = u->agg.finish(u->user, (const char *)state + SPK__UDAF_HEAD, &r);
    if (st != SPK_OK) return spk__udf_error(u, st, before, "finish");
    if ((st = spk__udf_check_result(u, &r)) != SPK_OK) return st;
    if (!r.is_null && r.type.id == SPK_TYPE_STRING) {
        /* Copied into the state's head (the aggregation's own memory, of
         * which only this call uses the head): the output reads it until
         * the state is destroyed. */
        spk__udaf_head *h = (spk__udaf_head *)(uintptr_t)state;
        if (h->cap < r.as.str.len) {
            char *p = (char *)spk__realloc(&spk__default_allocator, h->held, h->cap, r.as.str.len);
            if (!p) return spk__nomem("an aggregate UDF's result", r.as.str.len);
            h->held = p;
            h->cap = r.as.str.len;
        }
        if (r.as.str.len) memmove(h->held, r.as.str.ptr, r.as.str.len);
        r.as.str.ptr = h->held ? h->held : "";
    }
    spk__vec_put(out, row, &r);
    return SPK_OK;
}

static void spk__udaf_destroy(const spk__bnode *node, void *state) {
    const spk_udf *u = spk__udaf_of(node);
    spk__udaf_head *h = (spk__udaf_head *)state;
    if (u->agg.destroy) u->agg.destroy(u->user, (char *)state + SPK__UDAF_HEAD);
    if (h->held) spk__free(&spk__default_allocator, h->held, h->cap);
}

static void spk__udaf_free(void *aux) {
    spk__udaf *a = (spk__udaf *)aux;
    spk_udf_release(a->udf);
    spk__free(spk__bind_alloc(), a, sizeof *a);
}

/* Casts argument i of a UDF call to the declared type with Spark's implicit casts. */
static spk_status spk__udf_arg(const spk_udf *u, const spk_expr *e, spk__bnode *node, int i) {
    spk_type from = node->args[i]->type, to = u->arg_types[i];
    if (spk_type_equal(from, to)) return SPK_OK;
    if (!spk__can_implicit_cast(from, to)) {
        char want[32], got[32];
        return spk__fail(SPK_ERR_TYPE,
                         "[DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE] Cannot resolve \"%s\" due to data type mismatch: "
                         "argument %d of the UDF `%s` requires the \"%s\" type, however it has the type \"%s\".",
                         spk__sql_of(e).s, i + 1, u->name, spk__type_sql_name(to, want, sizeof want),
                         spk__type_sql_name(from, got, sizeof got));
    }
    return spk__coerce(&node->args[i], to);
}

/* A scalar or aggregate C UDF: arguments bound and cast, a kernel or the
 * node's aggregate ops. */
static spk_status spk__bind_c_udf(const spk__scope *sc, const spk_expr *e, spk_udf *u, spk__bnode **out) {
    bool agg = u->kind == SPK_UDF_AGGREGATE;
    spk__bind_ctx ctx = spk__ctx_of(sc);
    if (agg && ctx.agg_depth > 0)
        return spk__fail(SPK_ERR_ANALYSIS,
                         "[NESTED_AGGREGATE_FUNCTION] It is not allowed to use an aggregate function in the argument "
                         "of another aggregate function: \"%s\".", spk__sql_of(e).s);
    spk__bnode *b = spk__bnode_new(agg ? SPK__B_AGG : SPK__B_KERNEL, u->return_type, e->nargs);
    if (!b) return SPK_ERR_NOMEM;
    spk__udaf *a = NULL;
    if (agg) {
        a = (spk__udaf *)spk__calloc(spk__bind_alloc(), sizeof *a);
        if (!a) {
            spk__bnode_free(b);
            return spk__nomem("an aggregate UDF", sizeof *a);
        }
        a->udf = spk_udf_retain(u);
        a->ops.state_size = SPK__UDAF_HEAD + (u->agg.state_size + 15) / 16 * 16;
        a->ops.init = spk__udaf_init;
        a->ops.update = spk__udaf_update;
        a->ops.merge = spk__udaf_merge;
        a->ops.final = spk__udaf_final;
        a->ops.destroy = spk__udaf_destroy;
        b->aux = a;
        b->aux_free = spk__udaf_free;
        b->agg = &a->ops;
    } else {
        b->aux = spk_udf_retain(u);
        b->aux_free = spk__udf_aux_free;
        b->kernel = spk__k_udf;
    }
    spk_status st = spk__bnode_set_label(b, agg ? u->name : spk__sql_of(e).s);
    spk__scope inner = *sc;
    if (agg) {
        ctx.agg_depth++;
        inner.ctx = &ctx;
    }
    for (int i = 0; i < e->nargs && st == SPK_OK; i++) { /* unbound arguments stay NULL, which frees as nothing */
        st = spk__bind_node(&inner, e->args[i], &b->args[i]);
        if (st == SPK_OK) st = spk__udf_arg(u, e, b, i);
    }
    if (st != SPK_OK) {
        spk__bnode_free(b);
        return st;
    }
    b->nullable = true;
    *out = b;
    return SPK_OK;
}

/* A macro call: the body with each parameter replaced by its argument cast
 * to the parameter's type, bound in the caller's scope. */
static spk_status spk__bind_macro(const spk__scope *sc, const spk_expr *e, const spk_udf *m, spk__bnode **out) {
    spk__bind_ctx ctx = spk__ctx_of(sc);
    if (ctx.macro_depth >= SPK__UDF_MAX_NESTING)
        return spk__fail(SPK_ERR_LIMIT,
                         "[MACRO_RECURSION] expanding the macro `%s` nests macro calls more than %d levels deep "
                         "(does it call itself?)", m->name, SPK__UDF_MAX_NESTING);
    spk_expr *x = spk__macro_subst(m, m->body, e->args);
    if (!x) {
        spk_status st = spk_last_status() != SPK_OK ? spk_last_status() : SPK_ERR_INTERNAL;
        spk__fail_prefix("expanding the macro `%s`: ", m->name);
        return st;
    }
    /* The expansion replaces the call: in the fully expanded tree the call
     * sits at the binder's depth less one level per enclosing expansion. */
    int at = spk__bind_depth - ctx.macro_depth;
    if (at - 1 + x->height > SPK_EXPR_MAX_DEPTH) {
        spk_expr_release(x);
        return spk__fail(SPK_ERR_LIMIT,
                         "[MACRO_RECURSION] expanding the macro `%s` nests the expression more than %d levels deep "
                         "(does a macro call itself?)", m->name, SPK_EXPR_MAX_DEPTH);
    }
    ctx.macro_depth++;
    spk__scope inner = *sc;
    inner.ctx = &ctx;
    spk_status st = spk__bind_node(&inner, x, out);
    spk_expr_release(x);
    if (st != SPK_OK && st != SPK_ERR_NOMEM && st != SPK_ERR_LIMIT) spk__fail_append(" (in the macro `%s`)", m->name);
    return st;
}

static spk_status spk__bind_udf(const spk__scope *sc, const spk_expr *e, spk_udf *u, spk__bnode **out) {
    if (e->distinct)
        return spk__fail(SPK_ERR_UNSUPPORTED, "DISTINCT is supported in count(DISTINCT x) only: \"%s\"", spk__sql_of(e).s);
    if (e->nargs != u->nargs)
        return spk__fail(SPK_ERR_ARG, "[WRONG_NUM_ARGS] The `%s` requires %d parameters but the actual number is %d.",
                         u->name, u->nargs, e->nargs);
    if (u->kind == SPK_UDF_MACRO) return spk__bind_macro(sc, e, u, out);
    return spk__bind_c_udf(sc, e, u, out);
}

static spk_status spk__bind_call(const spk__scope *sc, const spk_expr *e, spk__bnode **out) {
    if (e->udf) return spk__bind_udf(sc, e, e->udf, out);
    const spk__func *f = spk__func_find(e->name);
    if (!f) {
        /* Not built in: the session's UDFs, the worker context's, the process's. */
        spk__bind_ctx ctx = spk__ctx_of(sc);
        spk_udf *u = spk__udf_resolve(ctx.udfs, e->name);
        if (u) {
            spk_status st = spk__bind_udf(sc, e, u, out);
            spk_udf_release(u);
            return st;
        }
        spk_status st = spk__unknown_function(e->name);
        if (e->source) spk__fail_caret(e->source->text, e->pos);
        return st;
    }
    if (e->nargs < f->min_args || (f->max_args >= 0 && e->nargs > f->max_args)) {
        char expected[48];
        if (f->max_args < 0) snprintf(expected, sizeof expected, "at least %d", f->min_args);
        else if (f->min_args == f->max_args) snprintf(expected, sizeof expected, "%d", f->min_args);
        else snprintf(expected, sizeof expected, "%d to %d", f->min_args, f->max_args);
        return spk__fail(SPK_ERR_ARG,
                         "[WRONG_NUM_ARGS] The `%s` requires %s parameters but the actual number is %d.",
                         f->name, expected, e->nargs);
    }
    spk__bind_ctx ctx = spk__ctx_of(sc);
    if (f->aggregate && ctx.agg_depth > 0)
        return spk__fail(SPK_ERR_ANALYSIS,
                         "[NESTED_AGGREGATE_FUNCTION] It is not allowed to use an aggregate function in the argument "
                         "of another aggregate function: \"%s\".", spk__sql_of(e).s);
    if (e->distinct && (!f->aggregate || strcmp(f->name, "count") != 0))
        return spk__fail(SPK_ERR_UNSUPPORTED, "DISTINCT is supported in count(DISTINCT x) only: \"%s\"", spk__sql_of(e).s);
    spk__bnode *b = spk__bnode_new(f->aggregate ? SPK__B_AGG : SPK__B_KERNEL, spk_type_of(SPK_TYPE_NULL), e->nargs);
    if (!b) return SPK_ERR_NOMEM;
    spk__sql_text label = spk__sql_of(e);
    spk_status st = spk__bnode_set_label(b, f->aggregate ? f->name : label.s);
    spk__scope inner = *sc;
    if (f->aggregate) {
        ctx.agg_depth++;
        inner.ctx = &ctx;
    }
    int bound = 0;
    for (int i = 0; i < e->nargs && st == SPK_OK; i++, bound++) {
        if (e->args[i]->op == SPK__OP_STAR) { /* count(*) counts rows: count(1) */
            if (!(f->aggregate && strcmp(f->name, "count") == 0) || e->args[i]->qualifier) {
                st = spk__fail(SPK_ERR_ARG, "`*` is allowed only in count(*): \"%s\"", label.s);
                break;
            }
            b->args[i] = spk__bnode_lit(spk_value_i32(1));
            if (!b->args[i]) st = SPK_ERR_NOMEM;
        } else {
            st = spk__bind_node(&inner, e->args[i], &b->args[i]);
        }
    }
    if (st != SPK_OK) {
        b->nargs = bound;
        spk__bnode_free(b);
        return st;
    }
    b->distinct = e->distinct;
    if (f->aggregate) {
        /* The bind hook's messages should name the call, not the function. */
        spk__free_string(b->label);
        b->label = NULL;
        if ((st = spk__bnode_set_label(b, label.s)) == SPK_OK) st = f->bind(b);
        if (b->label) {
            spk__free_string(b->label);
            b->label = NULL;
            if (st == SPK_OK) st = spk__bnode_set_label(b, f->name);
        }
        b->nullable = b->agg != &spk__agg_count && b->agg != &spk__agg_count_distinct;
    } else {
        st = f->bind(b);
    }
    if (st != SPK_OK) {
        spk__bnode_free(b);
        return st;
    }
    *out = b;
    return SPK_OK;
}

static spk_status spk__bind_case(const spk__scope *sc, const spk_expr *e, spk__bnode **out) {
    spk__bnode *b = spk__bnode_new(SPK__B_CASE, spk_type_of(SPK_TYPE_NULL), e->nargs + (e->has_else ? 0 : 1));
    if (!b) return SPK_ERR_NOMEM;
    int pairs = (e->nargs - (e->has_else ? 1 : 0)) / 2;
    spk_status st = spk__bind_children(sc, e, 0, b->args);
    if (st != SPK_OK) {
        b->nargs = 0;
        spk__bnode_free(b);
        return st;
    }
    if (!e->has_else) { /* ELSE NULL */
        b->args[e->nargs] = spk__bnode_lit(spk_value_null());
        if (!b->args[e->nargs]) {
            spk__bnode_free(b);
            return SPK_ERR_NOMEM;
        }
    }
    int nvalues = pairs + 1;
    spk_type t = b->args[1]->type;
    for (int k = 0; k < nvalues && st == SPK_OK; k++) {
        int vi = k < pairs ? 2 * k + 1 : b->nargs - 1;
        spk_type next;
        if (!spk__common_type(t, b->args[vi]->type, false, &next)) {
            char x[32], y[32], why[160];
            snprintf(why, sizeof why, "THEN and ELSE expressions should all be the same type, not \"%s\" and \"%s\".",
                     spk__type_sql_name(t, x, sizeof x), spk__type_sql_name(b->args[vi]->type, y, sizeof y));
            st = spk__type_mismatch(e, why);
        }
        t = next;
    }
    for (int k = 0; k < pairs && st == SPK_OK; k++) st = spk__want_boolean(e, &b->args[2 * k]);
    for (int k = 0; k < nvalues && st == SPK_OK; k++) st = spk__coerce(&b->args[k < pairs ? 2 * k + 1 : b->nargs - 1], t);
    if (st != SPK_OK) {
        spk__bnode_free(b);
        return st;
    }
    b->type = t;
    b->nullable = false;
    for (int k = 0; k < nvalues; k++) b->nullable |= b->args[k < pairs ? 2 * k + 1 : b->nargs - 1]->nullable;
    *out = b;
    return SPK_OK;
}

static spk_status spk__bind_pattern(const spk_expr *e, spk__bnode *x, spk__bnode **out) {
    spk_status st = spk__coerce(&x, spk_type_of(SPK_TYPE_STRING));
    if (st != SPK_OK) {
        spk__bnode_free(x);
        return st;
    }
    spk__bnode *args[1] = {x};
    if (e->op == SPK__OP_LIKE) {
        spk__like *l = (spk__like *)spk__alloc(spk__bind_alloc(), sizeof *l);
        if (l) {
            l->len = strlen(e->name);
            l->pattern = spk__strndup(spk__bind_alloc(), e->name, l->len);
            if (!l->pattern) {
                spk__free(spk__bind_alloc(), l, sizeof *l);
                l = NULL;
            }
        }
        spk__bnode *b = l ? spk__kernel_node(spk_type_of(SPK_TYPE_BOOLEAN), spk__k_like, "LIKE", args, 1) : NULL;
        if (!b) {
            if (l) spk__like_free(l);
            else spk__bnode_free(x);
            return SPK_ERR_NOMEM;
        }
        b->aux = l;
        b->aux_free = spk__like_free;
        *out = b;
        return SPK_OK;
    }
#ifdef SPK__HAVE_REGEX
    regex_t *re = (regex_t *)spk__alloc(spk__bind_alloc(), sizeof *re);
    if (!re) {
        spk__bnode_free(x);
        return spk__nomem("a regular expression", sizeof *re);
    }
    /* The same translation of Java's syntax as the regexp_* functions. */
    size_t plen = strlen(e->name), scratch_size = 12 * plen + 1;
    char *scratch = (char *)spk__alloc(spk__bind_alloc(), scratch_size), why[160];
    if (!scratch) {
        spk__free(spk__bind_alloc(), re, sizeof *re);
        spk__bnode_free(x);
        return spk__nomem("a regular expression", scratch_size);
    }
    bool compiled = spk__regex_compile(e->name, plen, re, scratch, why, sizeof why);
    spk__free(spk__bind_alloc(), scratch, scratch_size);
    if (!compiled) {
        spk__free(spk__bind_alloc(), re, sizeof *re);
        spk__bnode_free(x);
        return spk__fail(SPK_ERR_ARG, "[INVALID_PARAMETER_VALUE.PATTERN] the regular expression '%s' is invalid: %s",
                         e->name, why);
    }
    spk__bnode *b = spk__kernel_node(spk_type_of(SPK_TYPE_BOOLEAN), spk__k_rlike, "RLIKE", args, 1);
    if (!b) {
        spk__regex_free(re);
        return SPK_ERR_NOMEM;
    }
    b->aux = re;
    b->aux_free = spk__regex_free;
    *out = b;
    return SPK_OK;
#else
    spk__bnode_free(x);
    return spk__fail(SPK_ERR_UNSUPPORTED, "RLIKE needs POSIX <regex.h>, which this platform lacks");
#endif
}

static spk_status spk__fold(spk__bnode **slot);

static spk_status spk__bind_node_at(const spk__scope *sc, const spk_expr *e, spk__bnode **out);

static spk_status spk__bind_node(const spk__scope *sc, const spk_expr *e, spk__bnode **out) {
    spk__bind_depth++;
    spk_status st = spk__bind_node_at(sc, e, out);
    spk__bind_depth--;
    return st;
}

static spk_status spk__bind_node_at(const spk__scope *sc, const spk_expr *e, spk__bnode **out) {
    if (!e) {
        char earlier[SPK_ERROR_MAX];
        memcpy(earlier, spk_last_error(), sizeof earlier); /* the message is about to be replaced */
        return spk__fail(SPK_ERR_ARG, "NULL expression (an expression builder failed earlier: %s)", earlier);
    }
    spk_status st = SPK_OK;
    spk__bnode *a = NULL, *b = NULL;
    *out = NULL;
    switch ((spk__op)e->op) {
    case SPK__OP_COL: return spk__bind_column(sc, e, out);
    case SPK__OP_STAR:
        return spk__fail(SPK_ERR_ARG, "`*` cannot be used as a value here (only in count(*) and select)");
    case SPK__OP_LIT:
        *out = spk__bnode_lit(e->lit);
        return *out ? SPK_OK : SPK_ERR_NOMEM;
    case SPK__OP_INTERVAL:
        return spk__type_mismatch(e, "an INTERVAL can only be added to or subtracted from a DATE or TIMESTAMP.");
    case SPK__OP_ALIAS: return spk__bind_node(sc, e->args[0], out);
    case SPK__OP_CALL: st = spk__bind_call(sc, e, out); break;
    case SPK__OP_CASE: st = spk__bind_case(sc, e, out); break;
    case SPK__OP_CAST:
        if ((st = spk__bind_node(sc, e->args[0], &a)) != SPK_OK) return st;
        if (!spk__can_cast(a->type, e->type)) {
            char x[32], y[32], why[160];
            snprintf(why, sizeof why, "cannot cast \"%s\" to \"%s\".", spk__type_sql_name(a->type, x, sizeof x),
                     spk__type_sql_name(e->type, y, sizeof y));
            spk__bnode_free(a);
            return spk__type_mismatch(e, why);
        }
        if (spk_type_equal(a->type, e->type)) {
            *out = a;
            return SPK_OK;
        }
        *out = spk__kernel_node(e->type, spk__kernel_cast, "CAST", &a, 1);
        if (!*out) return SPK_ERR_NOMEM;
        (*out)->nullable = true;
        break;
    case SPK__OP_NEG:
        if ((st = spk__bind_node(sc, e->args[0], &a)) != SPK_OK) return st;
        if (a->type.id == SPK_TYPE_STRING || a->type.id == SPK_TYPE_NULL) st = spk__coerce(&a, spk_type_of(SPK_TYPE_DOUBLE));
        if (st == SPK_OK && !spk__is_numeric_type(a->type)) st = spk__type_mismatch(e, "unary minus needs a number.");
        if (st != SPK_OK) {
            spk__bnode_free(a);
            return st;
        }
        *out = spk__kernel_node(a->type, spk__k_neg, "-", &a, 1);
        if (!*out) return SPK_ERR_NOMEM;
        break;
    case SPK__OP_NOT:
        if ((st = spk__bind_node(sc, e->args[0], &a)) != SPK_OK) return st;
        if ((st = spk__want_boolean(e, &a)) != SPK_OK) {
            spk__bnode_free(a);
            return st;
        }
        *out = spk__kernel_node(spk_type_of(SPK_TYPE_BOOLEAN), spk__k_not, "NOT", &a, 1);
        if (!*out) return SPK_ERR_NOMEM;
        break;
    case SPK__OP_IS_NULL:
    case SPK__OP_IS_NOT_NULL:
        if ((st = spk__bind_node(sc, e->args[0], &a)) != SPK_OK) return st;
        *out = spk__kernel_node(spk_type_of(SPK_TYPE_BOOLEAN), spk__k_is_null,
                                e->op == SPK__OP_IS_NULL ? "IS NULL" : "IS NOT NULL", &a, 1);
        if (!*out) return SPK_ERR_NOMEM;
        (*out)->iarg = e->op == SPK__OP_IS_NULL;
        (*out)->nullable = false;
        break;
    case SPK__OP_AND:
    case SPK__OP_OR: {
        spk__bnode *node = spk__bnode_new(e->op == SPK__OP_AND ? SPK__B_AND : SPK__B_OR, spk_type_of(SPK_TYPE_BOOLEAN), 2);
        if (!node) return SPK_ERR_NOMEM;
        if ((st = spk__bind_children(sc, e, 0, node->args)) != SPK_OK) {
            node->nargs = 0;
            spk__bnode_free(node);
            return st;
        }
        if ((st = spk__want_boolean(e, &node->args[0])) != SPK_OK || (st = spk__want_boolean(e, &node->args[1])) != SPK_OK) {
            spk__bnode_free(node);
            return st;
        }
        node->nullable = node->args[0]->nullable || node->args[1]->nullable;
        *out = node;
        break;
    }
    case SPK__OP_IN: {
        spk__bnode *node = spk__bnode_new(SPK__B_KERNEL, spk_type_of(SPK_TYPE_BOOLEAN), e->nargs);
        if (!node) return SPK_ERR_NOMEM;
        if ((st = spk__bind_children(sc, e, 0, node->args)) != SPK_OK) {
            node->nargs = 0;
            spk__bnode_free(node);
            return st;
        }
        spk_type t = node->args[0]->type;
        for (int i = 1; i < node->nargs && st == SPK_OK; i++) {
            spk_type next;
            if (!spk__common_type(t, node->args[i]->type, true, &next)) {
                char x[32], y[32], why[160];
                snprintf(why, sizeof why, "\"%s\" and \"%s\" cannot be compared in IN.", spk__type_sql_name(t, x, sizeof x),
                         spk__type_sql_name(node->args[i]->type, y, sizeof y));
                st = spk__type_mismatch(e, why);
            }
            t = next;
        }
        for (int i = 0; i < node->nargs && st == SPK_OK; i++) st = spk__coerce(&node->args[i], t);
        if (st == SPK_OK) st = spk__bnode_set_label(node, "IN");
        if (st != SPK_OK) {
            spk__bnode_free(node);
            return st;
        }
        node->kernel = spk__k_in;
        node->nullable = false;
        for (int i = 0; i < node->nargs; i++) node->nullable |= node->args[i]->nullable;
        *out = node;
        break;
    }
    case SPK__OP_LIKE:
    case SPK__OP_RLIKE:
        if ((st = spk__bind_node(sc, e->args[0], &a)) != SPK_OK) return st;
        st = spk__bind_pattern(e, a, out);
        break;
    case SPK__OP_ADD: case SPK__OP_SUB: case SPK__OP_MUL: case SPK__OP_DIV: case SPK__OP_MOD: case SPK__OP_INTDIV:
        if ((st = spk__bind_node(sc, e->args[0], &a)) != SPK_OK) return st;
        if (e->args[1]->op == SPK__OP_INTERVAL && (e->op == SPK__OP_ADD || e->op == SPK__OP_SUB)) {
            if (a->type.id == SPK_TYPE_STRING) st = spk__coerce(&a, spk_type_of(SPK_TYPE_TIMESTAMP));
            if (st == SPK_OK && !spk__is_datetime(a->type))
                st = spk__type_mismatch(e, "an INTERVAL can only be added to or subtracted from a DATE or TIMESTAMP.");
            if (st != SPK_OK) {
                spk__bnode_free(a);
                return st;
            }
            st = spk__bind_datetime_arith(e, a, NULL, out);
            break;
        }
        if ((st = spk__bind_node(sc, e->args[1], &b)) != SPK_OK) {
            spk__bnode_free(a);
            return st;
        }
        if ((e->op == SPK__OP_ADD || e->op == SPK__OP_SUB) &&
            (a->type.id == SPK_TYPE_DATE || (e->op == SPK__OP_ADD && b->type.id == SPK_TYPE_DATE)) &&
            !(e->op == SPK__OP_SUB && b->type.id != SPK_TYPE_DATE && !spk__is_numeric_type(b->type) && b->type.id != SPK_TYPE_STRING)) {
            st = spk__bind_datetime_arith(e, a, b, out);
            break;
        }
        st = spk__bind_arith(e, a, b, out);
        break;
    case SPK__OP_EQ: case SPK__OP_NE: case SPK__OP_LT: case SPK__OP_LE: case SPK__OP_GT: case SPK__OP_GE: case SPK__OP_EQ_NS:
        if ((st = spk__bind_node(sc, e->args[0], &a)) != SPK_OK) return st;
        if ((st = spk__bind_node(sc, e->args[1], &b)) != SPK_OK) {
            spk__bnode_free(a);
            return st;
        }
        st = spk__bind_compare(e, a, b, out);
        break;
    case SPK__OP_SORT:
        return spk__fail(SPK_ERR_ARG, "a sort order (\"%s\") can only be used in orderBy", spk__sql_of(e).s);
    case SPK__OP_COUNT: return spk__fail(SPK_ERR_INTERNAL, "corrupt expression node");
    }
    if (st != SPK_OK) return st;
    if ((st = spk__fold(out)) != SPK_OK) { /* out of memory while folding: the node is still ours */
        spk__bnode_free(*out);
        *out = NULL;
    }
    return st;
}

/* ---------------------------------------------------------------- evaluation */

/* Numbers every node's vector; all references to one column share a slot. */
static void spk__number_slots(spk__bnode *b, int *next, int *col_slot) {
    for (int i = 0; i < b->nargs; i++) spk__number_slots(b->args[i], next, col_slot);
    if (b->kind == SPK__B_COL && col_slot) {
        if (col_slot[b->col] < 0) col_slot[b->col] = (*next)++;
        b->slot = col_slot[b->col];
    } else {
        b->slot = (*next)++;
    }
}

/* One evaluation's working memory; a bound expression may have many at once. */
typedef struct spk__runner {
    spk__eval ev;
    const spk__bnode *root;
    uint32_t *scratch;  /* per slot: two selection vectors of SPK__BATCH entries */
    void *block;
    size_t block_size;
} spk__runner;

static void spk__slot_types(const spk__bnode *b, spk_type *types) {
    types[b->slot] = b->type;
    for (int i = 0; i < b->nargs; i++) spk__slot_types(b->args[i], types);
}

static void spk__fill_literals(spk__runner *r, const spk__bnode *b) {
    if (b->kind == SPK__B_LIT) {
        spk__vec *v = &r->ev.vecs[b->slot];
        for (uint32_t i = 0; i < SPK__BATCH; i++) spk__vec_set(v, i, &b->lit);
    }
    for (int i = 0; i < b->nargs; i++) spk__fill_literals(r, b->args[i]);
}

static spk_status spk__runner_init(spk__runner *r, const spk__bnode *root, int nslots) {
    memset(r, 0, sizeof *r);
    r->root = root;
    r->ev.alloc = spk__bind_alloc();
    r->ev.arena.alloc = spk__bind_alloc();
    r->ev.nvecs = nslots;
    spk_type stack_types[64], *types = stack_types;
    size_t types_size = (size_t)nslots * sizeof *types;
    if (nslots > 64 && !(types = (spk_type *)spk__alloc(spk__bind_alloc(), types_size))) return spk__nomem("an evaluator", types_size);
    for (int i = 0; i < nslots; i++) types[i] = spk_type_of(SPK_TYPE_NULL);
    spk__slot_types(root, types);
    size_t size = (size_t)nslots * (sizeof(spk__vec) + 2 * SPK__BATCH * sizeof(uint32_t));
    for (int i = 0; i < nslots; i++) size += SPK__BATCH * (1 + spk__phys_size((spk_type_id)types[i].id)) + 16;
    r->block = spk__calloc(spk__bind_alloc(), size);
    if (!r->block) {
        if (types != stack_types) spk__free(spk__bind_alloc(), types, types_size);
        return spk__nomem("an evaluator", size);
    }
    r->block_size = size;
    char *at = (char *)r->block;
    r->ev.vecs = (spk__vec *)(void *)at;
    at += (size_t)nslots * sizeof(spk__vec);
    r->scratch = (uint32_t *)(void *)at;
    at += (size_t)nslots * 2 * SPK__BATCH * sizeof(uint32_t);
    for (int i = 0; i < nslots; i++) {
        spk__vec *v = &r->ev.vecs[i];
        v->type = types[i];
        at = (char *)(((uintptr_t)at + 15) & ~(uintptr_t)15); /* data 16-byte aligned */
        v->v.any = at;
        at += SPK__BATCH * spk__phys_size((spk_type_id)types[i].id);
        v->nulls = (uint8_t *)at;
        at += SPK__BATCH;
    }
    if (types != stack_types) spk__free(spk__bind_alloc(), types, types_size);
    spk__fill_literals(r, root);
    return SPK_OK;
}

static void spk__runner_free(spk__runner *r) {
    spk__arena_free(&r->ev.arena);
    spk__free(spk__bind_alloc(), r->block, r->block_size);
    r->block = NULL;
}

/* Evaluates b for the rows in sel (NULL: 0..n-1) into its slot's vector. */
static void spk__eval_node(spk__runner *r, const spk__bnode *b, const uint32_t *sel, uint32_t n) {
    spk__vec *out = &r->ev.vecs[b->slot];
    switch ((spk__bkind)b->kind) {
    case SPK__B_COL:
    case SPK__B_LIT:
    case SPK__B_AGG: return; /* loaded per batch / filled once / computed by aggregation */
    case SPK__B_KERNEL: {
        spk__vec *args[16] = {NULL}, **argv = args;
        spk__vec **heap = NULL;
        if (b->nargs > 16) {
            heap = (spk__vec **)spk__alloc(spk__bind_alloc(), (size_t)b->nargs * sizeof *heap);
            if (!heap) {
                if (r->ev.status == SPK_OK) r->ev.status = spk__nomem("kernel arguments", (size_t)b->nargs * sizeof *heap);
                return;
            }
            argv = heap;
        }
        for (int i = 0; i < b->nargs; i++) {
            spk__eval_node(r, b->args[i], sel, n);
            argv[i] = &r->ev.vecs[b->args[i]->slot];
        }
        b->kernel(&r->ev, b, out, argv, sel, n);
        if (heap) spk__free(spk__bind_alloc(), heap, (size_t)b->nargs * sizeof *heap);
        return;
    }
    case SPK__B_AND:
    case SPK__B_OR: {
        /* Three-valued logic, evaluating the right side only where the left
         * does not decide: AND where left is not false, OR where not true. */
        bool is_and = b->kind == SPK__B_AND;
        const spk__bnode *l = b->args[0], *rt = b->args[1];
        spk__eval_node(r, l, sel, n);
        const spk__vec *lv = &r->ev.vecs[l->slot];
        uint32_t *rest = r->scratch + (size_t)b->slot * 2 * SPK__BATCH, m = 0;
        SPK__FOR_ROWS(sel, n, {
            bool decided = !lv->nulls[i] && (lv->v.b[i] != 0) != is_and;
            out->v.b[i] = lv->v.b[i];
            out->nulls[i] = lv->nulls[i];
            if (!decided) rest[m++] = i;
        });
        if (m == 0) return;
        spk__eval_node(r, rt, rest, m);
        const spk__vec *rv = &r->ev.vecs[rt->slot];
        for (uint32_t k = 0; k < m; k++) {
            uint32_t i = rest[k];
            bool r_decides = !rv->nulls[i] && (rv->v.b[i] != 0) != is_and;
            if (r_decides) {
                out->v.b[i] = rv->v.b[i];
                out->nulls[i] = 0;
            } else if (rv->nulls[i] || lv->nulls[i]) {
                out->nulls[i] = 1; /* NULL AND true, NULL AND NULL: unknown */
            } else {
                out->v.b[i] = rv->v.b[i];
                out->nulls[i] = 0;
            }
        }
        return;
    }
    case SPK__B_CASE: {
        int pairs = (b->nargs - 1) / 2;
        uint32_t *remaining = r->scratch + (size_t)b->slot * 2 * SPK__BATCH, *matched = remaining + SPK__BATCH;
        uint32_t nrem = 0;
        SPK__FOR_ROWS(sel, n, remaining[nrem++] = i);
        size_t width = spk__phys_size((spk_type_id)out->type.id);
        for (int k = 0; k <= pairs && nrem > 0; k++) {
            const spk__bnode *value = b->args[k < pairs ? 2 * k + 1 : b->nargs - 1];
            uint32_t nmatch = 0, nkeep = 0;
            if (k < pairs) {
                const spk__bnode *cond = b->args[2 * k];
                spk__eval_node(r, cond, remaining, nrem);
                const spk__vec *cv = &r->ev.vecs[cond->slot];
                for (uint32_t j = 0; j < nrem; j++) {
                    uint32_t i = remaining[j];
                    if (!cv->nulls[i] && cv->v.b[i]) matched[nmatch++] = i;
                    else remaining[nkeep++] = i;
                }
            } else {
                memcpy(matched, remaining, nrem * sizeof *matched);
                nmatch = nrem;
                nkeep = 0;
            }
            if (nmatch) {
                spk__eval_node(r, value, matched, nmatch);
                const spk__vec *vv = &r->ev.vecs[value->slot];
                for (uint32_t j = 0; j < nmatch; j++) {
                    uint32_t i = matched[j];
                    memcpy((char *)out->v.any + i * width, (const char *)vv->v.any + i * width, width);
                    out->nulls[i] = vv->nulls[i];
                }
            }
            nrem = nkeep;
        }
        return;
    }
    }
}

/* Replaces a node whose inputs are all constants by its value, computed by
 * the same kernels that would compute it per row. */
static spk_status spk__fold(spk__bnode **slot) {
    spk__bnode *b = *slot;
    if (b->kind == SPK__B_COL || b->kind == SPK__B_LIT || b->kind == SPK__B_AGG) return SPK_OK;
    if (b->kernel == spk__k_udf) return SPK_OK; /* Spark never folds a UDF: it may count its calls, or fail */
    for (int i = 0; i < b->nargs; i++)
        if (b->args[i]->kind != SPK__B_LIT) return SPK_OK;
    int nslots = 0;
    spk__number_slots(b, &nslots, NULL);
    spk__runner r;
    spk_status st = spk__runner_init(&r, b, nslots);
    if (st != SPK_OK) return st;
    spk__eval_node(&r, b, NULL, 1);
    st = r.ev.status;
    spk__bnode *lit = NULL;
    if (st == SPK_OK) {
        spk_value v = spk__vec_get(&r.ev.vecs[b->slot], 0);
        lit = spk__bnode_lit(v);
        if (!lit) st = SPK_ERR_NOMEM;
    }
    spk__runner_free(&r);
    if (st != SPK_OK) return st;
    lit->type = b->type;
    lit->lit.type = b->type;
    spk__bnode_free(b);
    *slot = lit;
    return SPK_OK;
}

/* Runs the body for batch row i going to vector position o: every row
 * (o = i) when sel is NULL, else the rows sel[0..n) in place (o = i) or
 * packed to the front (o = 0, 1, ...) when dense. */
#define SPK__FOR_LOAD(sel, n, dense, ...)                                                         \
    do {                                                                                          \
        if (!(sel)) {                                                                             \
            for (uint32_t i = 0; i < (n); i++) {                                                  \
                const uint32_t o = i;                                                             \
                __VA_ARGS__;                                                                      \
            }                                                                                     \
        } else if (dense) {                                                                       \
            for (uint32_t o = 0; o < (n); o++) {                                                  \
                const uint32_t i = (sel)[o];                                                      \
                __VA_ARGS__;                                                                      \
            }                                                                                     \
        } else {                                                                                  \
            for (uint32_t k_ = 0; k_ < (n); k_++) {                                               \
                const uint32_t i = (sel)[k_], o = i;                                              \
                __VA_ARGS__;                                                                      \
            }                                                                                     \
        }                                                                                         \
    } while (0)

/* Loads column `col` of the rows sel[0..n) (all n rows when sel is NULL)
 * of the batch of chunk c that starts at `start` into v: each row to its
 * own position, or with `dense` packed to positions 0..n-1 (what a
 * filter's survivors become, so that the operators above run without a
 * selection). The chunk keeps the column's values together (rowstore.c),
 * so a load reads them and the rows' null bitmaps, and nothing else. */
static void spk__load_column_sel(const spk_table *t, const spk__chunk *c, uint32_t start, const uint32_t *sel, uint32_t n,
                                 bool dense, int col, spk__vec *v) {
    const unsigned char *vals = spk__field_at(t, c, start, col), *nulls = spk__nulls_at(t, c, start) + (col >> 3);
    size_t nb = t->null_bytes;
    uint8_t bit = (uint8_t)(1u << (col & 7));
    switch ((spk_type_id)v->type.id) {
    case SPK_TYPE_BOOLEAN:
        SPK__FOR_LOAD(sel, n, dense, {
            v->nulls[o] = (nulls[(size_t)i * nb] & bit) != 0;
            v->v.b[o] = vals[i];
        });
        break;
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE: {
        int32_t *out = v->v.i32; /* locals: stores through v's arrays could alias v itself */
        uint8_t *out_nulls = v->nulls;
        if (!sel) memcpy(out, vals, (size_t)n * 4);
        else SPK__FOR_LOAD(sel, n, dense, memcpy(&out[o], vals + (size_t)i * 4, 4));
        if (!spk__chunk_maybe_null(c, col) && (!sel || dense)) memset(out_nulls, 0, n);
        else SPK__FOR_LOAD(sel, n, dense, out_nulls[o] = (nulls[(size_t)i * nb] & bit) != 0);
        break;
    }
    case SPK_TYPE_STRING: {
        /* A string starts where the row's previous string column ends, or
         * the first one where the previous row's last one does (spk__string_start). */
        const char *heap = c->heap ? c->heap : "";
        uint8_t mask = spk__chunk_maybe_null(c, col) ? bit : 0; /* 0: every row reads as not NULL */
        spk__str *out = v->v.str;
        uint8_t *out_nulls = v->nulls;
        if (t->prev_string[col] >= 0) {
            const unsigned char *prev = spk__field_at(t, c, start, t->prev_string[col]);
            SPK__FOR_LOAD(sel, n, dense, {
                uint32_t from = spk__load_u32(prev + (size_t)i * 4), to = spk__load_u32(vals + (size_t)i * 4);
                out_nulls[o] = (nulls[(size_t)i * nb] & mask) != 0;
                out[o].ptr = heap + (c->heap ? from : 0);
                out[o].len = to - from;
            });
        } else { /* the first string column: the previous row's last string column, row 0 at 0 */
            const unsigned char *last = c->rows + (size_t)c->cap_rows * t->offset[t->last_string];
            SPK__FOR_LOAD(sel, n, dense, {
                size_t row = (size_t)start + i;
                uint32_t from = row ? spk__load_u32(last + (row - 1) * 4) : 0, to = spk__load_u32(vals + (size_t)i * 4);
                out_nulls[o] = (nulls[(size_t)i * nb] & mask) != 0;
                out[o].ptr = heap + (c->heap ? from : 0);
                out[o].len = to - from;
            });
        }
        break;
    }
    case SPK_TYPE_NULL:
    case SPK_TYPE_COUNT:
        if (!sel || dense) memset(v->nulls, 1, n);
        else SPK__FOR_ROWS(sel, n, v->nulls[i] = 1);
        break;
    default: {
        int64_t *out = v->v.i64;
        uint8_t *out_nulls = v->nulls;
        if (!sel) memcpy(out, vals, (size_t)n * 8);
        else SPK__FOR_LOAD(sel, n, dense, memcpy(&out[o], vals + (size_t)i * 8, 8));
        if (!spk__chunk_maybe_null(c, col) && (!sel || dense)) memset(out_nulls, 0, n);
        else SPK__FOR_LOAD(sel, n, dense, out_nulls[o] = (nulls[(size_t)i * nb] & bit) != 0);
        break;
    }
    }
}

static void spk__load_column(const spk_table *t, const spk__chunk *c, uint32_t start, uint32_t n, int col, spk__vec *v) {
    spk__load_column_sel(t, c, start, NULL, n, false, col, v);
}

/* A filter conjunct `column op literal` (op one of = < <= > >=) over a
 * column of an integer layout (INT, DATE, BIGINT, TIMESTAMP, DECIMAL) of
 * the input schema, with the literal already in the column's type: over a
 * table the test can run straight on the chunk's values (spk__filter_column),
 * with no vectors. */
typedef struct spk__column_test {
    int col;
    spk__op op;
    int64_t lit;
    bool wide; /* 8-byte values, else 4 */
} spk__column_test;

static bool spk__column_test_of(const spk_schema *schema, const spk__bnode *b, spk__column_test *out) {
    if (b->kind != SPK__B_KERNEL || b->kernel != spk__k_compare || b->nargs != 2) return false;
    spk__op op = (spk__op)b->iarg;
    const spk__bnode *col = b->args[0], *lit = b->args[1];
    if (col->kind == SPK__B_LIT) { /* 5 < x is x > 5 */
        col = b->args[1];
        lit = b->args[0];
        op = op == SPK__OP_LT ? SPK__OP_GT : op == SPK__OP_LE ? SPK__OP_GE : op == SPK__OP_GT ? SPK__OP_LT
           : op == SPK__OP_GE ? SPK__OP_LE : op;
    }
    if (col->kind != SPK__B_COL || lit->kind != SPK__B_LIT || lit->lit.is_null || col->col < 0 || col->col >= spk_schema_ncols(schema))
        return false;
    if (op != SPK__OP_EQ && op != SPK__OP_LT && op != SPK__OP_LE && op != SPK__OP_GT && op != SPK__OP_GE) return false;
    spk_type ct = spk_schema_field(schema, col->col)->type;
    if (!spk_type_equal(ct, col->type) || !spk_type_equal(ct, lit->lit.type)) return false;
    switch ((spk_type_id)ct.id) {
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE: *out = (spk__column_test){col->col, op, lit->lit.as.i32, false}; return true;
    case SPK_TYPE_INT64:
    case SPK_TYPE_TIMESTAMP:
    case SPK_TYPE_DECIMAL: *out = (spk__column_test){col->col, op, lit->lit.as.i64, true}; return true;
    default: return false;
    }
}

#define SPK__TEST_LOOP(T, CMP)                                                    \
    do {                                                                          \
        const T x_ = (T)test->lit;                                                \
        SPK__FOR_ROWS(sel, n, {                                                   \
            T v_;                                                                 \
            memcpy(&v_, vals + (size_t)i * sizeof v_, sizeof v_);                 \
            out[m] = i;                                                           \
            m += !(nulls[(size_t)i * nb] & bit) & (v_ CMP x_);                    \
        });                                                                       \
    } while (0)
#define SPK__TEST_OPS(T)                                                          \
    do {                                                                          \
        switch (test->op) {                                                       \
        case SPK__OP_EQ: SPK__TEST_LOOP(T, ==); break;                            \
        case SPK__OP_LT: SPK__TEST_LOOP(T, <); break;                             \
        case SPK__OP_LE: SPK__TEST_LOOP(T, <=); break;                            \
        case SPK__OP_GT: SPK__TEST_LOOP(T, >); break;                             \
        default: SPK__TEST_LOOP(T, >=); break;                                    \
        }                                                                         \
    } while (0)

/* The rows of sel (NULL: 0..n-1) in the batch of chunk c at `start` that
 * pass the test (not NULL, comparing true) go to out, which may be sel;
 * returns how many. */
static uint32_t spk__filter_column(const spk_table *t, const spk__chunk *c, uint32_t start, const uint32_t *sel, uint32_t n,
                                   const spk__column_test *test, uint32_t *out) {
    const unsigned char *vals = spk__field_at(t, c, start, test->col), *nulls = spk__nulls_at(t, c, start) + (test->col >> 3);
    size_t nb = t->null_bytes;
    uint8_t bit = (uint8_t)(1u << (test->col & 7));
    uint32_t m = 0;
    if (!spk__chunk_maybe_null(c, test->col)) { /* no null bits to read: they all read as 0 */
        static const unsigned char none = 0;
        nulls = &none;
        nb = 0;
    }
    if (test->wide) SPK__TEST_OPS(int64_t);
    else SPK__TEST_OPS(int32_t);
    return m;
}

/* Loads rows [start, start + n) of chunk c into the column slots. */
static void spk__load_columns(spk__runner *r, const spk_bound *bd, const spk_table *t, const spk__chunk *c,
                              uint32_t start, uint32_t n) {
    for (int col = 0; col < t->ncols; col++)
        if (bd->col_slot[col] >= 0) spk__load_column(t, c, start, n, col, &r->ev.vecs[bd->col_slot[col]]);
}

/* Calls fn for every batch of the table after loading its columns. */
typedef spk_status (*spk__batch_fn)(spk__runner *r, const spk__chunk *c, uint32_t start, uint32_t n, void *user);

static spk_status spk__for_batches(spk__runner *r, const spk_bound *bd, const spk_table *t, spk__batch_fn fn, void *user) {
    for (size_t ci = 0; ci < t->nchunks; ci++) {
        const spk__chunk *c = t->chunks[ci];
        for (uint32_t start = 0; start < c->nrows; start += SPK__BATCH) {
            uint32_t n = c->nrows - start < SPK__BATCH ? c->nrows - start : SPK__BATCH;
            spk__arena_reset(&r->ev.arena);
            spk__load_columns(r, bd, t, c, start, n);
            spk_status st = fn(r, c, start, n, user);
            if (st == SPK_OK) st = r->ev.status;
            if (st != SPK_OK) return st;
        }
    }
    return SPK_OK;
}

/* ---------------------------------------------------------------- public API */

static bool spk__contains_agg(const spk__bnode *b) {
    if (b->kind == SPK__B_AGG) return true;
    for (int i = 0; i < b->nargs; i++)
        if (spk__contains_agg(b->args[i])) return true;
    return false;
}

/* A column used outside any aggregate of an aggregating expression. */
static const spk__bnode *spk__bare_column(const spk__bnode *b) {
    if (b->kind == SPK__B_AGG) return NULL;
    if (b->kind == SPK__B_COL) return b;
    for (int i = 0; i < b->nargs; i++) {
        const spk__bnode *c = spk__bare_column(b->args[i]);
        if (c) return c;
    }
    return NULL;
}

static spk_status spk__bind_scoped_udfs(const spk_expr *e, const spk_schema *schema, const char *const *qualifiers,
                                        bool case_sensitive, spk_udf_registry *udfs, spk_bound **out);

/* Binding outside a session: UDF names resolve in the worker context and the global registry. */
static spk_status spk__bind_scoped(const spk_expr *e, const spk_schema *schema, const char *const *qualifiers,
                                   bool case_sensitive, spk_bound **out) {
    return spk__bind_scoped_udfs(e, schema, qualifiers, case_sensitive, NULL, out);
}

SPKDEF spk_status spk_expr_bind(const spk_expr *e, const spk_schema *schema, bool case_sensitive, spk_bound **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_expr_bind: NULL output");
    *out = NULL;
    if (!schema) return spk__fail(SPK_ERR_ARG, "spk_expr_bind: NULL schema");
    return spk__bind_scoped(e, schema, NULL, case_sensitive, out);
}

/* udfs: the session's registry (may be NULL), where UDF names are looked up first. */
static spk_status spk__bind_scoped_udfs(const spk_expr *e, const spk_schema *schema, const char *const *qualifiers,
                                        bool case_sensitive, spk_udf_registry *udfs, spk_bound **out) {
    spk__bind_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.udfs = udfs;
    spk__scope sc;
    memset(&sc, 0, sizeof sc);
    sc.schema = schema;
    sc.qualifiers = qualifiers;
    sc.case_sensitive = case_sensitive;
    sc.ctx = &ctx;
    spk__bnode *root = NULL;
    spk_status st = spk__bind_node(&sc, e, &root);
    if (st != SPK_OK) return st;
    spk_bound *b = (spk_bound *)spk__calloc(spk__bind_alloc(), sizeof *b);
    int ncols = spk_schema_ncols(schema);
    if (b) b->col_slot = (int *)spk__alloc(spk__bind_alloc(), (size_t)(ncols ? ncols : 1) * sizeof(int));
    char name[256];
    size_t name_len = spk_expr_to_sql(e, name, sizeof name);
    if (name_len >= sizeof name) name_len = sizeof name - 1;
    if (b && b->col_slot) b->name = spk__strndup(spk__bind_alloc(), name, name_len);
    if (!b || !b->col_slot || !b->name) {
        if (b) {
            spk__free(spk__bind_alloc(), b->col_slot, (size_t)(ncols ? ncols : 1) * sizeof(int));
            spk__free(spk__bind_alloc(), b, sizeof *b);
        }
        spk__bnode_free(root);
        return spk__nomem("a bound expression", sizeof *b);
    }
    for (int i = 0; i < ncols; i++) b->col_slot[i] = -1;
    spk__number_slots(root, &b->nslots, b->col_slot);
    b->root = root;
    b->schema = spk_schema_retain((spk_schema *)(uintptr_t)schema);
    b->aggregate = spk__contains_agg(root);
    *out = b;
    return SPK_OK;
}

SPKDEF void spk_bound_free(spk_bound *b) {
    if (!b) return;
    int ncols = spk_schema_ncols(b->schema);
    spk__bnode_free(b->root);
    spk__free(spk__bind_alloc(), b->col_slot, (size_t)(ncols ? ncols : 1) * sizeof(int));
    spk__free_string(b->name);
    spk_schema_release(b->schema);
    spk__free(spk__bind_alloc(), b, sizeof *b);
}

SPKDEF spk_type spk_bound_type(const spk_bound *b) { return b ? b->root->type : spk_type_of(SPK_TYPE_NULL); }
SPKDEF bool spk_bound_nullable(const spk_bound *b) { return b ? b->root->nullable : true; }
SPKDEF const char *spk_bound_name(const spk_bound *b) { return b ? b->name : ""; }
SPKDEF bool spk_bound_is_aggregate(const spk_bound *b) { return b && b->aggregate; }

SPKDEF spk_status spk_bound_constant(const spk_bound *b, spk_value *out) {
    if (!b || !out) return spk__fail(SPK_ERR_ARG, "spk_bound_constant: NULL argument");
    if (b->root->kind != SPK__B_LIT) return spk__fail(SPK_ERR_STATE, "\"%s\" is not a constant", b->name);
    *out = b->root->lit;
    return SPK_OK;
}

static void spk__explain_node(spk__textout *o, const spk__bnode *b, const spk_schema *s, int depth) {
    if (depth > 200) {
        spk__out(o, "...");
        return;
    }
    char t[32];
    switch ((spk__bkind)b->kind) {
    case SPK__B_COL: spk__out(o, "%s#%d", spk_schema_field(s, b->col)->name, b->col); return;
    case SPK__B_LIT: {
        char text[SPK_VALUE_TEXT_MAX];
        if (b->lit.is_null || b->lit.type.id == SPK_TYPE_NULL) spk__out(o, "NULL");
        else if (b->lit.type.id == SPK_TYPE_STRING) spk__out(o, "'%.*s'", (int)b->lit.as.str.len, b->lit.as.str.ptr);
        else {
            spk_value_format(&b->lit, text, sizeof text);
            spk_type_id id = (spk_type_id)b->lit.type.id;
            if (id == SPK_TYPE_DATE) spk__out(o, "DATE '%s'", text);
            else if (id == SPK_TYPE_TIMESTAMP) spk__out(o, "TIMESTAMP '%s'", text);
            else spk__out(o, "%s%s", text, id == SPK_TYPE_INT64 ? "L" : "");
        }
        return;
    }
    case SPK__B_AND:
    case SPK__B_OR:
        spk__out(o, "(");
        spk__explain_node(o, b->args[0], s, depth + 1);
        spk__out(o, b->kind == SPK__B_AND ? " AND " : " OR ");
        spk__explain_node(o, b->args[1], s, depth + 1);
        spk__out(o, ")");
        return;
    case SPK__B_CASE: {
        int pairs = (b->nargs - 1) / 2;
        spk__out(o, "CASE");
        for (int k = 0; k < pairs; k++) {
            spk__out(o, " WHEN ");
            spk__explain_node(o, b->args[2 * k], s, depth + 1);
            spk__out(o, " THEN ");
            spk__explain_node(o, b->args[2 * k + 1], s, depth + 1);
        }
        spk__out(o, " ELSE ");
        spk__explain_node(o, b->args[b->nargs - 1], s, depth + 1);
        spk__out(o, " END");
        return;
    }
    case SPK__B_KERNEL:
    case SPK__B_AGG:
        break;
    }
    const char *label = b->label ? b->label : "?";
    if (b->kernel == spk__kernel_cast) {
        spk_type_format(b->type, SPK_TYPE_SQL, t, sizeof t);
        spk__out(o, "CAST(");
        spk__explain_node(o, b->args[0], s, depth + 1);
        spk__out(o, " AS %s)", t);
    } else if (b->kind == SPK__B_KERNEL && b->nargs == 2 && (b->kernel == spk__k_arith || b->kernel == spk__k_compare ||
                                                            b->kernel == spk__k_intdiv_double)) {
        spk__out(o, "(");
        spk__explain_node(o, b->args[0], s, depth + 1);
        spk__out(o, " %s ", label);
        spk__explain_node(o, b->args[1], s, depth + 1);
        spk__out(o, ")");
    } else if (b->kernel == spk__k_like) {
        spk__explain_node(o, b->args[0], s, depth + 1);
        spk__out(o, " LIKE '%s'", ((const spk__like *)b->aux)->pattern);
    } else if (b->kernel == spk__k_add_interval) {
        const spk__interval *iv = (const spk__interval *)b->aux;
        spk__out(o, "(");
        spk__explain_node(o, b->args[0], s, depth + 1);
        spk__out(o, " + INTERVAL '%d months %d days %lld microseconds')", (int)iv->months, (int)iv->days,
                 (long long)iv->micros);
    } else if (b->kernel == spk__k_is_null) {
        spk__out(o, "(");
        spk__explain_node(o, b->args[0], s, depth + 1);
        spk__out(o, " %s)", label);
    } else {
        /* Function calls keep their Spark name; operators such as NOT print prefix. */
        const char *paren = strchr(label, '(');
        spk__out(o, "%.*s(%s", paren ? (int)(paren - label) : (int)strlen(label), label, b->distinct ? "DISTINCT " : "");
        for (int i = 0; i < b->nargs; i++) {
            if (i) spk__out(o, ", ");
            spk__explain_node(o, b->args[i], s, depth + 1);
        }
        spk__out(o, ")");
    }
}

SPKDEF size_t spk_bound_explain(const spk_bound *b, char *buf, size_t cap) {
    spk__textout o = spk__textout_make(buf, cap);
    if (b) spk__explain_node(&o, b->root, b->schema, 0);
    return o.len;
}

static spk_status spk__check_input(const spk_bound *b, const spk_table *in) {
    if (!spk_schema_equal(b->schema, spk_table_schema(in), false))
        return spk__fail(SPK_ERR_SCHEMA, "the table's schema differs from the one \"%s\" was bound to", b->name);
    return SPK_OK;
}

/* One output column named after the expression. */
static spk_status spk__result_table(const spk_bound *b, spk_table **out) {
    spk_field f = {b->name, b->root->type, b->root->nullable};
    if (f.type.id == SPK_TYPE_NULL) f.nullable = true;
    spk_schema *s = NULL;
    spk_status st = spk__schema_make(NULL, &f, 1, true, &s);
    if (st != SPK_OK) return st;
    st = spk_table_new(NULL, s, out);
    spk_schema_release(s);
    return st;
}

typedef struct spk__collect {
    const spk__bnode *root;
    spk_table *out;
} spk__collect;

static spk_status spk__collect_batch(spk__runner *r, const spk__chunk *c, uint32_t start, uint32_t n, void *user) {
    (void)c;
    (void)start;
    spk__collect *k = (spk__collect *)user;
    spk__eval_node(r, k->root, NULL, n);
    if (r->ev.status != SPK_OK) return r->ev.status;
    spk__vec *v = &r->ev.vecs[k->root->slot];
    return spk__table_append_vecs(k->out, &v, NULL, n);
}

/* Aggregation over the whole table: every aggregate node gets one state. */
typedef struct spk__agg_run {
    const spk__bnode *nodes[64];
    char *states[64];
    int n;
} spk__agg_run;

static void spk__collect_aggs(const spk__bnode *b, spk__agg_run *a) {
    if (b->kind == SPK__B_AGG) {
        if (a->n < 64) a->nodes[a->n++] = b;
        return;
    }
    for (int i = 0; i < b->nargs; i++) spk__collect_aggs(b->args[i], a);
}

static spk_status spk__agg_batch(spk__runner *r, const spk__chunk *c, uint32_t start, uint32_t n, void *user) {
    (void)c;
    (void)start;
    spk__agg_run *a = (spk__agg_run *)user;
    for (int k = 0; k < a->n; k++) {
        const spk__bnode *node = a->nodes[k];
        spk__eval_node(r, node->args[0], NULL, n);
        spk_status st = node->agg->update(node, a->states[k], node->agg->state_size, NULL, 1, &r->ev.vecs[node->args[0]->slot], NULL, n);
        if (st != SPK_OK) return st;
    }
    return SPK_OK;
}

static spk_status spk__eval_aggregate(const spk_bound *b, spk__runner *r, const spk_table *in, spk_table *out) {
    spk__agg_run a;
    memset(&a, 0, sizeof a);
    spk__collect_aggs(b->root, &a);
    if (a.n >= 64) return spk__fail(SPK_ERR_LIMIT, "more than 63 aggregates in one expression");
    spk_status st = SPK_OK;
    int made = 0;
    for (; made < a.n; made++) {
        a.states[made] = (char *)spk__alloc(spk__bind_alloc(), a.nodes[made]->agg->state_size);
        if (!a.states[made]) {
            st = spk__nomem("an aggregate state", a.nodes[made]->agg->state_size);
            break;
        }
        a.nodes[made]->agg->init(a.nodes[made], a.states[made]);
    }
    if (st == SPK_OK) st = spk__for_batches(r, b, in, spk__agg_batch, &a);
    if (st == SPK_OK) {
        for (int k = 0; k < a.n && st == SPK_OK; k++)
            st = a.nodes[k]->agg->final(a.nodes[k], a.states[k], &r->ev.vecs[a.nodes[k]->slot], 0);
        spk__arena_reset(&r->ev.arena);
        if (st == SPK_OK) spk__eval_node(r, b->root, NULL, 1);
        if (st == SPK_OK) st = r->ev.status;
        if (st == SPK_OK) {
            spk_value x = spk__vec_get(&r->ev.vecs[b->root->slot], 0);
            st = spk_table_append_row(out, &x, 1);
        }
    }
    for (int k = 0; k < made; k++) {
        if (a.nodes[k]->agg->destroy) a.nodes[k]->agg->destroy(a.nodes[k], a.states[k]);
        spk__free(spk__bind_alloc(), a.states[k], a.nodes[k]->agg->state_size);
    }
    return st;
}

SPKDEF spk_status spk_bound_eval(const spk_bound *b, const spk_table *in, spk_table **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_bound_eval: NULL output");
    *out = NULL;
    if (!b || !in) return spk__fail(SPK_ERR_ARG, "spk_bound_eval: NULL argument");
    spk_status st = spk__check_input(b, in);
    if (st != SPK_OK) return st;
    if (b->aggregate) {
        const spk__bnode *bare = spk__bare_column(b->root);
        if (bare)
            return spk__fail(SPK_ERR_ANALYSIS,
                             "[MISSING_AGGREGATION] The non-aggregating expression `%s` is based on columns which are "
                             "not participating in the GROUP BY clause.", bare->name);
    }
    spk_table *result = NULL;
    if ((st = spk__result_table(b, &result)) != SPK_OK) return st;
    spk__runner r;
    if ((st = spk__runner_init(&r, b->root, b->nslots)) != SPK_OK) {
        spk_table_free(result);
        return st;
    }
    if (b->aggregate) {
        st = spk__eval_aggregate(b, &r, in, result);
    } else {
        spk__collect k = {b->root, result};
        st = spk__for_batches(&r, b, in, spk__collect_batch, &k);
    }
    spk__runner_free(&r);
    if (st != SPK_OK) {
        spk_table_free(result);
        return st;
    }
    *out = result;
    return SPK_OK;
}

typedef struct spk__filter {
    const spk__bnode *root;
    const spk_table *in;
    spk_table *out;
} spk__filter;

static spk_status spk__filter_batch(spk__runner *r, const spk__chunk *c, uint32_t start, uint32_t n, void *user) {
    spk__filter *f = (spk__filter *)user;
    spk__eval_node(r, f->root, NULL, n);
    if (r->ev.status != SPK_OK) return r->ev.status;
    const spk__vec *v = &r->ev.vecs[f->root->slot];
    uint32_t *sel = r->scratch + (size_t)f->root->slot * 2 * SPK__BATCH, m = 0;
    for (uint32_t i = 0; i < n; i++) {
        sel[m] = i;
        m += !v->nulls[i] & (v->v.b[i] != 0);
    }
    return spk__table_append_slots(f->out, f->in, c, start, sel, m);
}

SPKDEF spk_status spk_bound_filter(const spk_bound *b, const spk_table *in, spk_table **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_bound_filter: NULL output");
    *out = NULL;
    if (!b || !in) return spk__fail(SPK_ERR_ARG, "spk_bound_filter: NULL argument");
    spk_status st = spk__check_input(b, in);
    if (st != SPK_OK) return st;
    if (b->root->type.id != SPK_TYPE_BOOLEAN && b->root->type.id != SPK_TYPE_NULL) {
        char t[32];
        return spk__fail(SPK_ERR_TYPE, "[DATATYPE_MISMATCH.FILTER_NOT_BOOLEAN] the filter \"%s\" is of type \"%s\", not BOOLEAN",
                         b->name, spk__type_sql_name(b->root->type, t, sizeof t));
    }
    if (b->aggregate) return spk__fail(SPK_ERR_ARG, "an aggregate cannot be used as a row filter: \"%s\"", b->name);
    spk_table *result = NULL;
    if ((st = spk_table_new(NULL, spk_table_schema(in), &result)) != SPK_OK) return st;
    spk__runner r;
    if ((st = spk__runner_init(&r, b->root, b->nslots)) != SPK_OK) {
        spk_table_free(result);
        return st;
    }
    spk__filter f = {b->root, in, result};
    st = spk__for_batches(&r, b, in, spk__filter_batch, &f);
    spk__runner_free(&r);
    if (st != SPK_OK) {
        spk_table_free(result);
        return st;
    }
    *out = result;
    return SPK_OK;
}
