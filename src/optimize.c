/* optimize: rewrites of logical plans (filter merging, predicate pushdown,
 * projection pruning, limit pushdown) and their text for explain(). */
#include "plan.c"
#include "optimize.h"

/* A growable string for show() and explain(). */
typedef struct spk__textbuf {
    char *p;
    size_t len, cap;
    bool failed;
} spk__textbuf;

static void spk__sb_put(spk__textbuf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *q = (char *)spk__realloc(&spk__default_allocator, b->p, b->cap, cap);
        if (!q) {
            b->failed = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}
static void spk__sb_str(spk__textbuf *b, const char *s) { spk__sb_put(b, s, strlen(s)); }
static void spk__sb_fill(spk__textbuf *b, char c, size_t n) {
    for (size_t i = 0; i < n; i++) spk__sb_put(b, &c, 1);
}
static void spk__sb_printf(spk__textbuf *b, const char *fmt, ...) SPK__PRINTF(2, 3);
static void spk__sb_printf(spk__textbuf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) spk__sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}
/* Hands the text over as a string the caller frees with spk_string_free. */
static spk_status spk__sb_finish(spk__textbuf *b, char **out) {
    char *q = b->failed ? NULL : spk__given_string(b->p, b->len);
    if (b->p) spk__free(&spk__default_allocator, b->p, b->cap);
    b->p = NULL;
    if (!q) return spk__nomem("text", b->len + 1);
    *out = q;
    return SPK_OK;
}

/* ================================================================ the optimizer
 *
 * Rewrites build new nodes and never touch existing ones: a DataFrame may be
 * shared between threads, and the plan as built must stay as it was (it is
 * explain()'s analysed plan). New nodes come from plan's own constructors,
 * which bind every expression again against the new child, by name and
 * qualifier. An expression moved to another input reads it through fresh
 * column references (one column's name and qualifier), so binding either
 * finds exactly that column or fails as ambiguous; it never silently picks
 * another. A rewrite whose rebinding fails is abandoned and the node stays
 * as it was; only running out of memory stops the optimizer.
 *
 * Every expression is deterministic and evaluation fails only for want of
 * memory, so moving a predicate or a limit changes how much work is done,
 * never which rows come out (rows a filter drops earlier may no longer be
 * computed at all). */

#define SPK__OPT_MAX_DEPTH 200     /* plan levels rewritten; deeper subtrees run as built */
#define SPK__OPT_MAX_PASSES 16     /* whole-plan passes until nothing changes */
#define SPK__OPT_MAX_CONJUNCTS 128 /* a longer AND chain keeps its tail as one conjunct */
#define SPK__OPT_MAX_CHAIN 16      /* filters/sorts/limits looked through when pruning */

static _Thread_local bool spk__opt_disabled;

SPKDEF bool spk__optimizer_enable(bool on) {
    bool was = !spk__opt_disabled;
    spk__opt_disabled = !on;
    return was;
}

/* Plan constructors take (and retain) non-const nodes; nothing is mutated
 * but the atomic reference count. */
static spk_df *spk__opt_mut(const spk_df *df) { return (spk_df *)(uintptr_t)df; }
static spk_df *spk__opt_keep(const spk_df *df) { return spk_df_retain(spk__opt_mut(df)); }
static int spk__opt_ncols(const spk_df *df) { return spk_schema_ncols(df->schema); }

/* After a constructor returned NULL: out of memory stops the optimizer
 * (NULL); anything else only means that this rewrite does not apply. */
static spk_df *spk__opt_skip(const spk_df *df) {
    if (spk_last_status() == SPK_ERR_NOMEM) return NULL;
    spk_clear_error();
    return spk__opt_keep(df);
}

static bool spk__opt_is_empty(const spk_df *df) { return df->kind == SPK__P_SCAN && spk_table_nrows(df->table) == 0; }

/* Replaces n's qualifiers by copies of q[0..ncols) (q NULL: none). */
static bool spk__opt_set_qualifiers(spk_df *n, char *const *q) {
    const spk_allocator *a = spk__df_alloc(n);
    int ncols = spk__opt_ncols(n);
    char **fresh = (char **)spk__calloc(a, (size_t)(ncols ? ncols : 1) * sizeof *fresh);
    if (!fresh) {
        spk__nomem("column qualifiers", (size_t)ncols * sizeof *fresh);
        return false;
    }
    for (int i = 0; q && i < ncols; i++) {
        if (q[i] && !(fresh[i] = spk__dup(a, q[i]))) {
            spk__free_qualifiers(a, fresh, ncols);
            return false;
        }
    }
    spk__free_qualifiers(a, n->qualifiers, ncols);
    n->qualifiers = fresh;
    return true;
}

/* Gives `fresh` (consumed) the output of `orig`, the node it replaces: the
 * same schema (names, nullability), qualifiers and alias. The types must
 * already agree; if they do not, the rewrite changed the meaning and is
 * abandoned. */
static spk_df *spk__opt_adopt(spk_df *fresh, const spk_df *orig) {
    if (!fresh) return NULL;
    int n = spk__opt_ncols(orig);
    bool same = spk__opt_ncols(fresh) == n;
    for (int i = 0; same && i < n; i++)
        same = spk_type_equal(spk_schema_field(fresh->schema, i)->type, spk_schema_field(orig->schema, i)->type);
    if (!same) {
        spk_df_release(fresh);
        spk__fail(SPK_ERR_STATE, "optimizer: a rewritten node's column types differ");
        return NULL;
    }
    const spk_allocator *a = spk__df_alloc(fresh);
    char *alias = orig->alias ? spk__dup(a, orig->alias) : NULL;
    if ((orig->alias && !alias) || !spk__opt_set_qualifiers(fresh, orig->qualifiers)) {
        if (alias) spk__free(a, alias, strlen(alias) + 1);
        return spk__df_fail(fresh);
    }
    spk_schema_release(fresh->schema);
    fresh->schema = spk_schema_retain(orig->schema);
    if (fresh->alias) spk__free(a, fresh->alias, strlen(fresh->alias) + 1);
    fresh->alias = alias;
    return fresh;
}

/* An empty relation with df's columns: what a filter that is never true,
 * a limit of 0, or an operator over nothing produces. */
static spk_df *spk__opt_empty(const spk_df *df) {
    spk_table *t = NULL;
    if (spk_table_new(df->session->alloc, df->schema, &t) != SPK_OK) return NULL;
    spk_df *e = spk__df_new(df->session, SPK__P_SCAN, NULL);
    if (!e) {
        spk_table_free(t);
        return NULL;
    }
    e->table = t;
    e->schema = spk_schema_retain(df->schema);
    if (!spk__opt_set_qualifiers(e, df->qualifiers)) return spk__df_fail(e);
    return e;
}

/* ---------------------------------------------------------------- expressions */

static const spk_expr *spk__opt_unalias(const spk_expr *e) {
    while (e->op == SPK__OP_ALIAS) e = e->args[0];
    return e;
}

/* A reference to column i of df and nothing else: its name and qualifier. */
static spk_expr *spk__opt_colref(const spk_df *df, int i) {
    const char *name = spk_schema_field(df->schema, i)->name, *q = df->qualifiers[i];
    spk_expr *c = spk__with_name(spk__expr_new(SPK__OP_COL, 0), name, strlen(name));
    if (c && q && !(c->qualifier = spk__strndup(spk__expr_alloc(), q, strlen(q)))) {
        spk__nomem("a column qualifier", strlen(q) + 1);
        spk_expr_release(c);
        return NULL;
    }
    return c;
}


/* Which column of `scope` the column reference `col` means, as the binder
 * resolves it; -1 (with the error set) if none or several. */
static int spk__opt_resolve(const spk_df *scope, const spk_expr *col) {
    spk__scope sc = {scope->schema, (const char *const *)scope->qualifiers, scope->case_sensitive, 0};
    int index = -1;
    return spk__lookup_qualified(&sc, col, &index) == SPK_OK ? index : -1;
}

/* Replacements for the columns of `scope` (an expression's input) by
 * expressions over another input; NULL where a column has none. */
typedef struct spk__opt_map {
    const spk_df *scope;
    spk_expr **with;
    int n;
} spk__opt_map;

static bool spk__opt_map_init(spk__opt_map *m, const spk_df *scope) {
    m->scope = scope;
    m->n = spk__opt_ncols(scope);
    m->with = (spk_expr **)spk__calloc(spk__expr_alloc(), (size_t)(m->n ? m->n : 1) * sizeof *m->with);
    if (!m->with) spk__nomem("a column map", (size_t)m->n * sizeof *m->with);
    return m->with != NULL;
}

static void spk__opt_map_free(spk__opt_map *m) {
    if (!m->with) return;
    spk__release_all(m->with, m->n);
    spk__free(spk__expr_alloc(), m->with, (size_t)(m->n ? m->n : 1) * sizeof *m->with);
    m->with = NULL;
}

/* e with every column reference replaced through m; NULL (error set) if a
 * column has no replacement or memory runs out. Subtrees without columns
 * are shared, not copied. */
static spk_expr *spk__opt_subst(const spk_expr *e, const spk__opt_map *m) {
    if (e->op == SPK__OP_COL) {
        int i = spk__opt_resolve(m->scope, e);
        if (i < 0) return NULL;
        if (!m->with[i]) {
            spk__fail(SPK_ERR_STATE, "optimizer: column `%s` cannot move", e->name);
            return NULL;
        }
        return spk_expr_retain(m->with[i]);
    }
    if (e->nargs == 0) return spk_expr_retain((spk_expr *)(uintptr_t)e);
    spk_expr *stack[8], **args = stack;
    size_t size = (size_t)e->nargs * sizeof *args;
    if (e->nargs > 8 && !(args = (spk_expr **)spk__alloc(spk__expr_alloc(), size))) {
        spk__nomem("an expression", size);
        return NULL;
    }
    bool same = true;
    int made = 0;
    for (; made < e->nargs; made++) {
        if (!(args[made] = spk__opt_subst(e->args[made], m))) break;
        same = same && args[made] == e->args[made];
    }
    spk_expr *r = NULL;
    if (made < e->nargs) spk__release_all(args, made);
    else if (same) {
        spk__release_all(args, made);
        r = spk_expr_retain((spk_expr *)(uintptr_t)e);
    } else {
        r = spk__expr_copy_with(e, args);
    }
    if (args != stack) spk__free(spk__expr_alloc(), args, size);
    return r;
}

/* Marks the input columns a bound expression reads. */
static void spk__opt_mark_cols(const spk_bound *b, bool *used) {
    int n = spk_schema_ncols(b->schema);
    for (int c = 0; c < n; c++)
        if (b->col_slot[c] >= 0) used[c] = true;
}

/* How often each input column is referenced in a bound tree. */
static void spk__opt_count_refs(const spk__bnode *b, int *uses) {
    if (b->kind == SPK__B_COL) uses[b->col]++;
    for (int i = 0; i < b->nargs; i++) spk__opt_count_refs(b->args[i], uses);
}

/* Retained copies of list[0..n) in a fresh array, for constructors that
 * consume their expressions (free the array with spk__opt_free_list). */
static spk_expr **spk__opt_retained(spk_expr *const *list, int n) {
    /* zeroed: gcc -O3 warns of the slot left unused when n is 0 */
    spk_expr **out = (spk_expr **)spk__calloc(spk__expr_alloc(), (size_t)(n ? n : 1) * sizeof *out);
    if (!out) {
        spk__nomem("expressions", (size_t)n * sizeof *out);
        return NULL;
    }
    for (int i = 0; i < n; i++) out[i] = spk_expr_retain(list[i]);
    return out;
}
static void spk__opt_free_list(spk_expr **list, int n) {
    if (list) spk__free(spk__expr_alloc(), list, (size_t)(n ? n : 1) * sizeof *list);
}

/* ---------------------------------------------------------------- building nodes */

static spk_df *spk__opt_project(const spk_df *child, spk_expr *const *exprs, int n) {
    spk_expr **list = spk__opt_retained(exprs, n);
    if (!list) return NULL;
    spk_df *p = spk__project(spk__opt_mut(child), list, n);
    spk__opt_free_list(list, n);
    if (p && p->kind != SPK__P_PROJECT) {
        spk__fail(SPK_ERR_STATE, "optimizer: a projection turned into an aggregation");
        return spk__df_fail(p);
    }
    return p;
}

static spk_df *spk__opt_group(const spk_df *child, spk_expr *const *keys, int nkeys, spk_expr *const *aggs, int naggs) {
    spk_expr **k = spk__opt_retained(keys, nkeys);
    spk_expr **g = k ? spk__opt_retained(aggs, naggs) : NULL;
    spk_df *r = NULL;
    if (g) r = spk_df_group_agg(spk__opt_mut(child), k, nkeys, g, naggs);
    else if (k) spk__release_all(k, nkeys);
    spk__opt_free_list(k, nkeys);
    spk__opt_free_list(g, naggs);
    return r;
}

static spk_df *spk__opt_limit(const spk_df *child, int64_t limit, int64_t offset) {
    spk_df *l = spk__same_columns(spk__opt_mut(child), SPK__P_LIMIT);
    if (l) {
        l->limit = limit;
        l->offset = offset;
    }
    return l;
}

/* Node n again, over other children: its expressions bound afresh by name.
 * Projections, aggregations and unions keep n's exact output. */
static spk_df *spk__opt_rebuild(const spk_df *n, const spk_df *child, const spk_df *right) {
    switch ((spk__pkind)n->kind) {
    case SPK__P_SCAN: return spk__opt_keep(n);
    case SPK__P_PROJECT: return spk__opt_adopt(spk__opt_project(child, n->exprs, n->nexprs), n);
    case SPK__P_FILTER: return spk_df_filter(spk__opt_mut(child), spk_expr_retain(n->exprs[0]));
    case SPK__P_AGG:
        return spk__opt_adopt(spk__opt_group(child, n->exprs, n->nkeys, n->exprs + n->nkeys, n->nexprs - n->nkeys), n);
    case SPK__P_SORT: {
        spk_expr **keys = spk__opt_retained(n->exprs, n->nexprs);
        if (!keys) return NULL;
        spk_df *s = spk_df_order_by_array(spk__opt_mut(child), keys, n->nexprs);
        spk__opt_free_list(keys, n->nexprs);
        return s;
    }
    case SPK__P_LIMIT: return spk__opt_limit(child, n->limit, n->offset);
    case SPK__P_DISTINCT: return spk_df_distinct(spk__opt_mut(child));
    case SPK__P_UNION: return spk__opt_adopt(spk_df_union(spk__opt_mut(child), spk__opt_mut(right)), n);
    }
    if (n->kind == SPK__P_JOIN) /* the same join over the new sides; the condition is bound afresh */
        return spk__opt_adopt(spk__join(spk__opt_mut(child), spk__opt_mut(right),
                                        n->nexprs ? spk_expr_retain(n->exprs[0]) : NULL, (spk__jtype)n->join), n);
    /* Any kind added later stays as built. */
    spk__fail(SPK_ERR_STATE, "optimizer: cannot rebuild a plan node of kind %d", (int)n->kind);
    return NULL;
}

/* The most rows df can produce, or -1 if not known. */
static int64_t spk__opt_max_rows(const spk_df *df, int depth) {
    if (depth > SPK__OPT_MAX_DEPTH) return -1;
    switch ((spk__pkind)df->kind) {
    case SPK__P_SCAN: return spk_table_nrows(df->table) > (size_t)INT64_MAX ? -1 : (int64_t)spk_table_nrows(df->table);
    case SPK__P_PROJECT:
    case SPK__P_FILTER:
    case SPK__P_SORT:
    case SPK__P_DISTINCT: return spk__opt_max_rows(df->child, depth + 1);
    case SPK__P_AGG: return df->nkeys == 0 ? 1 : spk__opt_max_rows(df->child, depth + 1);
    case SPK__P_LIMIT: {
        int64_t m = spk__opt_max_rows(df->child, depth + 1);
        if (m >= 0) m = m > df->offset ? m - df->offset : 0;
        if (df->limit >= 0 && (m < 0 || m > df->limit)) m = df->limit;
        return m;
    }
    case SPK__P_UNION: {
        int64_t a = spk__opt_max_rows(df->child, depth + 1), b = spk__opt_max_rows(df->right, depth + 1);
        return a < 0 || b < 0 || a > INT64_MAX - b ? -1 : a + b;
    }
    }
    return -1;
}

/* ---------------------------------------------------------------- the rules */

static spk_df *spk__opt_rules(const spk_df *n, int depth);

/* The conjuncts of a filter's condition, each bound alone against the
 * filter's input (for the columns it reads and whether it is constant). */
typedef struct spk__opt_conj {
    const spk_expr *e; /* borrowed from the condition */
    spk_bound *b;
} spk__opt_conj;

typedef struct spk__opt_conjs {
    spk__opt_conj *c;
    int n;
} spk__opt_conjs;

/* Appends the conjuncts of e, leaving at least one free slot in out[0..cap)
 * for each pending right side. */
static void spk__opt_split(const spk_expr *e, const spk_expr **out, int *n, int cap) {
    e = spk__opt_unalias(e);
    if (e->op == SPK__OP_AND && cap - *n >= 2) {
        spk__opt_split(e->args[0], out, n, cap - 1);
        spk__opt_split(e->args[1], out, n, cap);
        return;
    }
    out[(*n)++] = e;
}

static void spk__opt_conjs_free(spk__opt_conjs *cs) {
    if (!cs->c) return;
    for (int i = 0; i < cs->n; i++) spk_bound_free(cs->c[i].b);
    spk__free(spk__expr_alloc(), cs->c, SPK__OPT_MAX_CONJUNCTS * sizeof *cs->c);
    cs->c = NULL;
}

static bool spk__opt_conjs_init(spk__opt_conjs *cs, const spk_expr *cond, const spk_df *input) {
    cs->n = 0;
    cs->c = (spk__opt_conj *)spk__calloc(spk__expr_alloc(), SPK__OPT_MAX_CONJUNCTS * sizeof *cs->c);
    const spk_expr *list[SPK__OPT_MAX_CONJUNCTS];
    int n = 0;
    if (!cs->c) {
        spk__nomem("conjuncts", SPK__OPT_MAX_CONJUNCTS * sizeof *cs->c);
        return false;
    }
    spk__opt_split(cond, list, &n, SPK__OPT_MAX_CONJUNCTS);
    for (; cs->n < n; cs->n++) {
        cs->c[cs->n].e = list[cs->n];
        if (spk__bind_scoped_udfs(list[cs->n], input->schema, (const char *const *)input->qualifiers,
                                  input->case_sensitive, input->session->udfs, &cs->c[cs->n].b) != SPK_OK)
            return false;
    }
    return true;
}

/* 1 if the bound conjunct is the constant TRUE, 0 if it is FALSE or NULL
 * (no row passes), -1 if it depends on the row. */
static int spk__opt_const_truth(const spk_bound *b) {
    const spk__bnode *r = b->root;
    if (r->kind != SPK__B_LIT) return -1;
    if (r->type.id == SPK_TYPE_NULL || r->lit.is_null) return 0;
    spk_value v = r->lit;
    if (r->type.id == SPK_TYPE_STRING) { /* 'true' AND x: the AND cast it, so do the same */
        char text[SPK_VALUE_TEXT_MAX];
        if (spk_value_cast(&r->lit, spk_type_of(SPK_TYPE_BOOLEAN), &v, text) != SPK_OK) return -1;
        if (v.is_null) return 0;
    } else if (r->type.id != SPK_TYPE_BOOLEAN) {
        return -1;
    }
    return v.as.b ? 1 : 0;
}

/* A conjunct ready to stand alone or in a new AND: a STRING one gets the
 * cast to BOOLEAN that its AND gave it (a filter takes no string). */
static spk_expr *spk__opt_conj_expr(spk_expr *e, const spk_bound *b) {
    if (e && spk_bound_type(b).id == SPK_TYPE_STRING) return spk_cast(e, spk_type_of(SPK_TYPE_BOOLEAN));
    return e;
}

/* Filter(c[0] AND c[1] AND ..., input); the conjuncts are consumed. */
static spk_df *spk__opt_filter_of(const spk_df *input, spk_expr **c, int n) {
    spk_expr *cond = c[0];
    for (int i = 1; i < n; i++) cond = spk_and(cond, c[i]);
    return spk_df_filter(spk__opt_mut(input), cond);
}

/* Where a filter over `in` can go: one or two inputs of `in`, with, for
 * each, the expression over that input that every column of `in` it can
 * give stands for. A conjunct moves into a side when all its columns map;
 * with all_sides (a union) it must move into every side or stay. */
typedef struct spk__opt_sides {
    int n;
    const spk_df *side[2];
    spk__opt_map map[2];
    bool all_sides;
} spk__opt_sides;

static void spk__opt_sides_free(spk__opt_sides *s) {
    for (int k = 0; k < s->n; k++) spk__opt_map_free(&s->map[k]);
}

/* The column of an aggregation's output that is a plain grouping column
 * (not DOUBLE: -0.0 and 0.0, or NaNs, group together but differ to a
 * predicate), as the input column it copies; -1 otherwise. */
static int spk__opt_agg_key_col(const spk_df *a, int i) {
    const spk__bnode *r = a->bound[i]->root;
    if (r->kind != SPK__B_COL || r->type.id == SPK_TYPE_DOUBLE) return -1;
    for (int k = 0; k < a->nkeys; k++)
        if (a->bound[k]->root->kind == SPK__B_COL && a->bound[k]->root->col == r->col) return r->col;
    return -1;
}

/* false: out of memory or a failed reference (s->n is then 0 or valid). */
static bool spk__opt_sides_of(const spk_df *in, spk__opt_sides *s) {
    memset(s, 0, sizeof *s);
    int ncols = spk__opt_ncols(in);
    switch ((spk__pkind)in->kind) {
    case SPK__P_PROJECT:
    case SPK__P_SORT:
    case SPK__P_DISTINCT:
    case SPK__P_AGG:
        if (in->kind == SPK__P_AGG && in->nkeys == 0) return true; /* one row even over nothing */
        s->side[0] = in->child;
        break;
    case SPK__P_UNION:
        s->side[0] = in->child;
        s->side[1] = in->right;
        s->all_sides = true;
        break;
    /* JOIN (child = left, right = right, output = the left columns then the
     * right ones; handled in default below). A WHERE conjunct may move
     *   INNER, CROSS:         into the one side that has all its columns;
     *   LEFT OUTER:           into the left side only: over the right side it
     *                         would also have to judge the NULL-extended rows
     *                         (it stays above, unless it rejects NULLs and the
     *                         join is made INNER first);
     *   RIGHT OUTER:          into the right side only;
     *   FULL OUTER:           nowhere;
     *   LEFT SEMI, LEFT ANTI: into the left side (the output is the left).
     * Here: side[0] = left, side[1] = right, all_sides = false; below, map[0]
     * gives colref(left, i) for i < nleft and map[1] colref(right, i - nleft)
     * for the rest, each only where the join type allows that side. (The ON
     * condition's conjuncts are not moved yet: for outer joins they go the
     * other way — a LEFT join's ON conjunct on the right side alone could move
     * into the right side, one on the left side alone could not.) */
    default:
        if (in->kind != SPK__P_JOIN) return true;
        s->side[0] = in->child;
        s->side[1] = in->right;
        break;
    }
    s->n = s->side[1] ? 2 : 1;
    /* Which sides of a join a WHERE conjunct may move into (see above). */
    bool join_side[2] = {false, false};
    if (in->kind == SPK__P_JOIN) {
        spk__jtype t = (spk__jtype)in->join;
        join_side[0] = t == SPK__J_INNER || t == SPK__J_CROSS || t == SPK__J_LEFT || t == SPK__J_SEMI || t == SPK__J_ANTI;
        join_side[1] = t == SPK__J_INNER || t == SPK__J_CROSS || t == SPK__J_RIGHT;
    }
    int nleft = spk__opt_ncols(in->child);
    for (int k = 0; k < s->n; k++)
        if (!spk__opt_map_init(&s->map[k], in)) return false;
    for (int i = 0; i < ncols; i++) {
        spk_expr *w[2] = {NULL, NULL};
        switch ((spk__pkind)in->kind) {
        case SPK__P_PROJECT: {
            const spk__bnode *r = in->bound[i]->root;
            if (r->kind == SPK__B_COL) w[0] = spk__opt_colref(in->child, r->col);
            else if (r->kind == SPK__B_LIT) w[0] = spk_expr_retain((spk_expr *)(uintptr_t)spk__opt_unalias(in->exprs[i]));
            else continue; /* computed: moving it would compute it twice */
            break;
        }
        case SPK__P_SORT: w[0] = spk__opt_colref(in->child, i); break;
        case SPK__P_DISTINCT:
            if (spk_schema_field(in->schema, i)->type.id == SPK_TYPE_DOUBLE) continue; /* as spk__opt_agg_key_col */
            w[0] = spk__opt_colref(in->child, i);
            break;
        case SPK__P_AGG: {
            int col = spk__opt_agg_key_col(in, i);
            if (col < 0) continue;
            w[0] = spk__opt_colref(in->child, col);
            break;
        }
        case SPK__P_UNION:
            /* A side whose column has another type reads it before the
             * union's cast: the predicate would compare other values. */
            for (int k = 0; k < 2; k++) {
                if (!spk_type_equal(spk_schema_field(s->side[k]->schema, i)->type, spk_schema_field(in->schema, i)->type)) continue;
                if (!(w[k] = spk__opt_colref(s->side[k], i))) break;
            }
            break;
        default:
            if (in->kind == SPK__P_JOIN) { /* output: the left columns, then the right ones */
                int k = i < nleft ? 0 : 1;
                if (join_side[k] && !(w[k] = spk__opt_colref(s->side[k], k ? i - nleft : i))) break;
            }
            break;
        }
        for (int k = 0; k < s->n; k++) s->map[k].with[i] = w[k];
        if (spk_last_status() == SPK_ERR_NOMEM) return false;
    }
    return true;
}

/* The conjuncts that stay above, and those that move into each side. */
typedef struct spk__opt_moves {
    spk_expr *stay[SPK__OPT_MAX_CONJUNCTS], *move[2][SPK__OPT_MAX_CONJUNCTS];
    int nstay, nmove[2];
} spk__opt_moves;

/* Filter over a filter, a projection, a sort, an aggregation, a distinct or
 * a union: drop conjuncts that are always true, empty the relation when one
 * is never true, merge with a filter below, and move every conjunct that
 * can go into the input's inputs (the rest stays above, in its order). */
static spk_df *spk__opt_filter_rule(const spk_df *f, int depth) {
    const spk_df *in = f->child;
    if (spk__opt_is_empty(in)) return spk__opt_empty(f);
    spk__opt_conjs cs = {NULL, 0};
    spk__opt_sides sides;
    memset(&sides, 0, sizeof sides);
    /* kept off the stack: rules recurse once per plan level */
    spk__opt_moves *mv = (spk__opt_moves *)spk__calloc(spk__expr_alloc(), sizeof *mv);
    spk_expr **stay = mv ? mv->stay : NULL;
    spk_df *below[2] = {NULL, NULL}, *mid = NULL, *r = NULL;
    bool changed = false, never = false, ok = mv && spk__opt_conjs_init(&cs, f->exprs[0], in);
    if (!mv) spk__nomem("a filter's conjuncts", sizeof *mv);
    for (int i = 0; ok && i < cs.n && !never; i++) {
        int truth = spk__opt_const_truth(cs.c[i].b);
        never = truth == 0;
        if (truth == 1) { /* TRUE AND x is x */
            spk_bound_free(cs.c[i].b);
            memmove(&cs.c[i], &cs.c[i + 1], (size_t)(cs.n - i - 1) * sizeof *cs.c);
            cs.n--;
            i--;
            changed = true;
        }
    }
    if (!ok) goto done;
    if (never) {
        r = spk__opt_empty(f);
        goto done;
    }
    if (cs.n == 0) {
        r = spk__opt_keep(in);
        goto done;
    }
    if (in->kind == SPK__P_FILTER) { /* Filter(b, Filter(a, x)) = Filter(a AND b, x): a still runs first */
        spk_expr *both = spk_expr_retain(in->exprs[0]);
        for (int i = 0; i < cs.n; i++) both = spk_and(both, spk__opt_conj_expr(spk_expr_retain((spk_expr *)(uintptr_t)cs.c[i].e), cs.c[i].b));
        mid = spk_df_filter(spk__opt_mut(in->child), both);
        if (mid) r = spk__opt_rules(mid, depth + 1);
        goto done;
    }
    if (!(ok = spk__opt_sides_of(in, &sides))) goto done;
    for (int i = 0; i < cs.n; i++) {
        spk_expr *m[2] = {NULL, NULL};
        bool fits[2] = {false, false}, any = false, all = true;
        int ncols = spk_schema_ncols(cs.c[i].b->schema);
        for (int k = 0; k < sides.n; k++) {
            fits[k] = true;
            for (int c = 0; c < ncols && fits[k]; c++)
                if (cs.c[i].b->col_slot[c] >= 0 && !sides.map[k].with[c]) fits[k] = false;
            any = any || fits[k];
            all = all && fits[k];
        }
        bool go = sides.n > 0 && (sides.all_sides ? all : any);
        for (int k = 0; go && k < sides.n; k++) {
            if (!fits[k] || (!sides.all_sides && k > 0 && fits[0])) continue; /* one side is enough */
            m[k] = spk__opt_conj_expr(spk__opt_subst(cs.c[i].e, &sides.map[k]), cs.c[i].b);
            if (!m[k]) go = false;
        }
        if (!go) {
            for (int k = 0; k < 2; k++) spk_expr_release(m[k]);
            if (spk_last_status() == SPK_ERR_NOMEM) {
                ok = false;
                goto done;
            }
            spk_clear_error();
            stay[mv->nstay++] = spk__opt_conj_expr(spk_expr_retain((spk_expr *)(uintptr_t)cs.c[i].e), cs.c[i].b);
            if (!stay[mv->nstay - 1]) {
                mv->nstay--;
                ok = false;
                goto done;
            }
            continue;
        }
        for (int k = 0; k < 2; k++)
            if (m[k]) mv->move[k][mv->nmove[k]++] = m[k];
    }
    if (mv->nmove[0] + mv->nmove[1] == 0) {
        if (changed) {
            r = spk__opt_filter_of(in, stay, mv->nstay);
            mv->nstay = 0; /* consumed */
        } else {
            r = spk__opt_keep(f);
        }
        goto done;
    }
    for (int k = 0; k < sides.n; k++) {
        if (mv->nmove[k] == 0) {
            below[k] = spk__opt_keep(sides.side[k]);
            continue;
        }
        spk_df *fk = spk__opt_filter_of(sides.side[k], mv->move[k], mv->nmove[k]);
        mv->nmove[k] = 0;
        if (!fk) goto done;
        below[k] = spk__opt_rules(fk, depth + 1);
        spk_df_release(fk);
        if (!below[k]) goto done;
    }
    mid = spk__opt_rebuild(in, below[0], sides.n > 1 ? below[1] : in->right);
    if (!mid) goto done;
    if (mv->nstay == 0) r = spk_df_retain(mid);
    else r = spk__opt_filter_of(mid, stay, mv->nstay);
    mv->nstay = 0;
done:
    if (mv) {
        spk__release_all(mv->stay, mv->nstay);
        spk__release_all(mv->move[0], mv->nmove[0]);
        spk__release_all(mv->move[1], mv->nmove[1]);
        spk__free(spk__expr_alloc(), mv, sizeof *mv);
    }
    spk_df_release(below[0]);
    spk_df_release(below[1]);
    spk_df_release(mid);
    spk__opt_sides_free(&sides);
    spk__opt_conjs_free(&cs);
    return r ? r : spk__opt_skip(f);
}

/* Project over a project: one projection of the lower one's expressions,
 * unless that would compute a non-trivial expression more than once. */
static spk_df *spk__opt_merge_projects(const spk_df *p, int depth) {
    const spk_df *q = p->child;
    int nq = spk__opt_ncols(q), np = p->nexprs;
    int *uses = (int *)spk__calloc(spk__expr_alloc(), (size_t)(nq ? nq : 1) * sizeof *uses);
    spk__opt_map map = {q, NULL, 0};
    spk_expr **list = NULL;
    spk_df *merged = NULL, *r = NULL;
    int made = 0;
    if (!uses) {
        spk__nomem("a projection", (size_t)nq * sizeof *uses);
        goto done;
    }
    for (int k = 0; k < np; k++) spk__opt_count_refs(p->bound[k]->root, uses);
    for (int i = 0; i < nq; i++) {
        spk__bkind kind = (spk__bkind)q->bound[i]->root->kind;
        if (uses[i] > 1 && kind != SPK__B_COL && kind != SPK__B_LIT) {
            r = spk__opt_keep(p);
            goto done;
        }
    }
    if (!spk__opt_map_init(&map, q)) goto done;
    for (int i = 0; i < nq; i++) map.with[i] = spk_expr_retain((spk_expr *)(uintptr_t)spk__opt_unalias(q->exprs[i]));
    list = (spk_expr **)spk__alloc(spk__expr_alloc(), (size_t)(np ? np : 1) * sizeof *list);
    if (!list) {
        spk__nomem("a projection", (size_t)np * sizeof *list);
        goto done;
    }
    for (; made < np; made++)
        if (!(list[made] = spk__opt_subst(p->exprs[made], &map))) goto done;
    /* The names come from p (adopted): the substituted expressions would
     * be named after what they compute now. */
    merged = spk__opt_adopt(spk__opt_project(q->child, list, np), p);
    if (merged) r = spk__opt_rules(merged, depth + 1);
done:
    if (list) {
        spk__release_all(list, made);
        spk__free(spk__expr_alloc(), list, (size_t)(np ? np : 1) * sizeof *list);
    }
    spk__opt_map_free(&map);
    if (uses) spk__free(spk__expr_alloc(), uses, (size_t)(nq ? nq : 1) * sizeof *uses);
    spk_df_release(merged);
    return r ? r : spk__opt_skip(p);
}

/* A projection that gives its input unchanged: every column, in order,
 * under the same name, type, nullability and qualifier. */
static bool spk__opt_is_identity(const spk_df *p) {
    const spk_df *in = p->child;
    int n = spk__opt_ncols(in);
    if (p->nexprs != n || !spk_schema_equal(p->schema, in->schema, true)) return false;
    for (int i = 0; i < n; i++) {
        const spk__bnode *r = p->bound[i]->root;
        const char *a = p->qualifiers[i], *b = in->qualifiers[i];
        if (r->kind != SPK__B_COL || r->col != i) return false;
        if ((a || b) && (!a || !b || strcmp(a, b) != 0)) return false;
    }
    return true;
}

/* A projection of the columns of `in` marked in keep[0..ncols(in)), by name
 * and qualifier, with the rules applied to it (it may prune further down);
 * NULL (error set) if it cannot be built. */
static spk_df *spk__opt_keep_cols(const spk_df *in, const bool *keep, int depth) {
    int n = spk__opt_ncols(in), made = 0;
    spk_expr **list = spk__expr_list(n);
    bool ok = list != NULL;
    for (int i = 0; i < n && ok; i++)
        if (keep[i]) ok = (list[made++] = spk__opt_colref(in, i)) != NULL;
    spk_df *p = ok ? spk__opt_project(in, list, made) : NULL;
    if (list) spk__expr_list_free(list, n, made);
    spk_df *r = p ? spk__opt_rules(p, depth + 1) : NULL;
    spk_df_release(p);
    return r;
}

/* Join j with each side cut to the columns that are read above it (need:
 * per output column of j; NULL: every one) or by its condition: a projection
 * of those columns, by name and qualifier, over each side that has others
 * (a join reads its inputs whole and copies the columns of every match).
 * The output keeps the needed columns in their order; what reads it is
 * bound again by name. j itself when every column of both sides is read;
 * NULL (error set) when a projection could not be built. */
static spk_df *spk__opt_prune_join(const spk_df *j, const bool *need, int depth) {
    const spk_df *side[2] = {j->child, j->right};
    int nl = spk__opt_ncols(side[0]), nr = spk__opt_ncols(side[1]), nout = spk__opt_ncols(j);
    bool *keep = (bool *)spk__calloc(spk__expr_alloc(), (size_t)(nl + nr ? nl + nr : 1));
    spk_df *pruned[2] = {NULL, NULL}, *r = NULL;
    bool changed = false;
    if (!keep) {
        spk__nomem("projection pruning", (size_t)(nl + nr));
        goto done;
    }
    if (j->nexprs) spk__opt_mark_cols(j->bound[0], keep);
    for (int i = 0; i < nout; i++) keep[i] = keep[i] || !need || need[i];
    for (int k = 0; k < 2; k++) {
        int from = k ? nl : 0, n = k ? nr : nl, nkeep = 0;
        for (int i = 0; i < n; i++) nkeep += keep[from + i];
        if (nkeep == 0 && n > 0) { /* keep one column, so that rows keep their count */
            keep[from] = true;
            nkeep = 1;
        }
        if (nkeep == n) {
            pruned[k] = spk__opt_keep(side[k]);
            continue;
        }
        if (!(pruned[k] = spk__opt_keep_cols(side[k], keep + from, depth))) goto done;
        changed = true;
    }
    if (!changed) r = spk__opt_keep(j);
    else r = spk__join(pruned[0], pruned[1], j->nexprs ? spk_expr_retain(j->exprs[0]) : NULL, (spk__jtype)j->join);
done:
    if (keep) spk__free(spk__expr_alloc(), keep, (size_t)(nl + nr ? nl + nr : 1));
    spk_df_release(pruned[0]);
    spk_df_release(pruned[1]);
    return r;
}

/* Projection pruning. Below a projection or an aggregation P, through any
 * filters, sorts and limits, the input needs only the columns that P and
 * those nodes read: a projection there drops the expressions nobody reads,
 * an aggregation drops aggregates nobody reads, a table read by a sort
 * gets a projection of the needed columns (the sort copies whole rows), and
 * a join (spk__opt_prune_join) or a union (both inputs, by position) gets
 * one over each input. */
static spk_df *spk__opt_prune(const spk_df *p, int depth) {
    const spk_df *chain[SPK__OPT_MAX_CHAIN], *base = p->child;
    int nchain = 0;
    bool sorts = false;
    while ((base->kind == SPK__P_FILTER || base->kind == SPK__P_SORT || base->kind == SPK__P_LIMIT) && nchain < SPK__OPT_MAX_CHAIN) {
        sorts = sorts || base->kind == SPK__P_SORT;
        chain[nchain++] = base;
        base = base->child;
    }
    int nb = spk__opt_ncols(base), nneed = 0, first_cheap = -1;
    if (nb == 0 || (base->kind != SPK__P_PROJECT && base->kind != SPK__P_AGG && base->kind != SPK__P_JOIN &&
                    base->kind != SPK__P_UNION && !(base->kind == SPK__P_SCAN && sorts)))
        return spk__opt_keep(p);
    bool *need = (bool *)spk__calloc(spk__expr_alloc(), (size_t)nb);
    spk_expr **list = need ? (spk_expr **)spk__calloc(spk__expr_alloc(), (size_t)nb * sizeof *list) : NULL;
    char **quals = list ? (char **)spk__calloc(spk__expr_alloc(), (size_t)nb * sizeof *quals) : NULL;
    spk_df *cur = NULL, *r = NULL;
    int nlist = 0;
    if (!quals) {
        spk__nomem("projection pruning", (size_t)nb * (1 + sizeof *list + sizeof *quals));
        goto done;
    }
    for (int k = 0; k < p->nexprs; k++) spk__opt_mark_cols(p->bound[k], need);
    for (int c = 0; c < nchain; c++)
        for (int k = 0; k < chain[c]->nexprs; k++) spk__opt_mark_cols(chain[c]->bound[k], need);
    if (base->kind == SPK__P_AGG)
        for (int i = 0; i < base->nkeys; i++) need[i] = true; /* the keys define the groups */
    for (int i = 0; i < nb; i++) {
        nneed += need[i];
        if (first_cheap < 0 && base->kind == SPK__P_PROJECT &&
            (base->bound[i]->root->kind == SPK__B_COL || base->bound[i]->root->kind == SPK__B_LIT))
            first_cheap = i;
    }
    if (nneed == nb) {
        r = spk__opt_keep(p);
        goto done;
    }
    if (base->kind == SPK__P_JOIN) {
        cur = spk__opt_prune_join(base, need, depth);
        if (cur == base) {
            r = spk__opt_keep(p);
            goto done;
        }
        goto rebuild;
    }
    if (base->kind == SPK__P_UNION) { /* by position: both inputs keep the same columns */
        if (nneed == 0) need[0] = true;
        spk_df *a = spk__opt_keep_cols(base->child, need, depth), *b = a ? spk__opt_keep_cols(base->right, need, depth) : NULL;
        if (b) cur = spk_df_union(a, b);
        spk_df_release(a);
        spk_df_release(b);
        goto rebuild;
    }
    if (nneed == 0) { /* keep one column, the cheapest, so that rows keep their count */
        need[base->kind == SPK__P_PROJECT && first_cheap >= 0 ? first_cheap : base->kind == SPK__P_AGG ? base->nkeys : 0] = true;
        if (++nneed == nb) {
            r = spk__opt_keep(p);
            goto done;
        }
    }
    for (int i = 0; i < nb; i++) {
        if (!need[i]) continue;
        quals[nlist] = base->qualifiers[i];
        if (base->kind == SPK__P_SCAN) {
            if (!(list[nlist] = spk__opt_colref(base, i))) goto done;
        } else {
            list[nlist] = spk_expr_retain(base->exprs[i]);
        }
        nlist++;
    }
    switch ((spk__pkind)base->kind) {
    case SPK__P_PROJECT:
    case SPK__P_SCAN:
        cur = spk__project(spk__opt_mut(base->kind == SPK__P_SCAN ? base : base->child), list, nlist);
        break;
    default: /* AGG: the keys come first, and all are kept */
        cur = spk_df_group_agg(spk__opt_mut(base->child), list, base->nkeys, list + base->nkeys, nlist - base->nkeys);
        break;
    }
    nlist = 0; /* consumed */
    if (!cur) goto done;
    if (cur->kind != base->kind && base->kind != SPK__P_SCAN) {
        spk__fail(SPK_ERR_STATE, "optimizer: a pruned node changed kind");
        goto done;
    }
    if (base->kind != SPK__P_SCAN) {
        const spk_allocator *a = spk__df_alloc(cur);
        if (!spk__opt_set_qualifiers(cur, quals)) goto done;
        if (base->alias && !(cur->alias = spk__dup(a, base->alias))) goto done;
    }
rebuild:
    if (!cur) goto done;
    for (int c = nchain - 1; c >= 0; c--) {
        spk_df *next = spk__opt_rebuild(chain[c], cur, NULL);
        spk_df_release(cur);
        if (!(cur = next)) goto done;
    }
    r = spk__opt_rebuild(p, cur, NULL);
done:
    spk__release_all(list, nlist);
    if (quals) spk__free(spk__expr_alloc(), quals, (size_t)nb * sizeof *quals);
    if (list) spk__free(spk__expr_alloc(), list, (size_t)nb * sizeof *list);
    if (need) spk__free(spk__expr_alloc(), need, (size_t)nb);
    spk_df_release(cur);
    return r ? r : spk__opt_skip(p);
}

static spk_df *spk__opt_project_rule(const spk_df *p, int depth) {
    const spk_df *in = p->child;
    if (spk__opt_is_empty(in)) return spk__opt_empty(p);
    if (spk__opt_is_identity(p)) return spk__opt_keep(in);
    if (in->kind == SPK__P_PROJECT) {
        spk_df *m = spk__opt_merge_projects(p, depth);
        if (m != p) return m;
        spk_df_release(m);
    }
    return spk__opt_prune(p, depth);
}

static spk_df *spk__opt_limit_rule(const spk_df *l, int depth) {
    const spk_df *in = l->child;
    if (l->limit == 0 || spk__opt_is_empty(in)) return spk__opt_empty(l);
    if (l->offset == 0) { /* a limit the input never reaches does nothing */
        int64_t most = spk__opt_max_rows(in, depth);
        if (l->limit < 0 || (most >= 0 && most <= l->limit)) return spk__opt_keep(in);
    }
    spk_df *mid = NULL, *r = NULL;
    if (in->kind == SPK__P_LIMIT) {
        /* The inner one passes rows [o1, o1 + l1) of x; the outer one skips
         * o2 of those and takes l2: rows [o1 + o2, ...), at most
         * min(l2, l1 - o2) of them. */
        int64_t o1 = in->offset, l1 = in->limit, o2 = l->offset, l2 = l->limit;
        if (o1 > INT64_MAX - o2) return spk__opt_keep(l);
        int64_t rest = l1 < 0 ? -1 : l1 > o2 ? l1 - o2 : 0;
        int64_t limit = rest < 0 ? l2 : l2 < 0 ? rest : (l2 < rest ? l2 : rest);
        if (limit == 0) return spk__opt_empty(l);
        mid = spk__opt_limit(in->child, limit, o1 + o2);
        if (mid) r = spk__opt_rules(mid, depth + 1);
    } else if (in->kind == SPK__P_PROJECT) {
        /* The projection then computes only the rows that are kept. */
        spk_df *lower = spk__opt_limit(in->child, l->limit, l->offset);
        if (lower) mid = spk__opt_rules(lower, depth + 1);
        spk_df_release(lower);
        if (mid) r = spk__opt_rebuild(in, mid, NULL);
    } else if (in->kind == SPK__P_UNION && l->offset == 0 && l->limit > 0) {
        /* Each side needs to give at most `limit` rows; the limit stays on top. */
        spk_df *side[2] = {NULL, NULL};
        const spk_df *old[2] = {in->child, in->right};
        bool moved = false, ok = true;
        for (int k = 0; k < 2 && ok; k++) {
            int64_t most = spk__opt_max_rows(old[k], depth + 1);
            if (most >= 0 && most <= l->limit) {
                side[k] = spk__opt_keep(old[k]);
                continue;
            }
            spk_df *lk = spk__opt_limit(old[k], l->limit, 0);
            side[k] = lk ? spk__opt_rules(lk, depth + 1) : NULL;
            spk_df_release(lk);
            ok = side[k] != NULL;
            moved = true;
        }
        if (ok && !moved) r = spk__opt_keep(l);
        else if (ok && (mid = spk__opt_rebuild(in, side[0], side[1]))) r = spk__opt_limit(mid, l->limit, 0);
        spk_df_release(side[0]);
        spk_df_release(side[1]);
    } else {
        return spk__opt_keep(l);
    }
    spk_df_release(mid);
    return r ? r : spk__opt_skip(l);
}

/* The rules for one node whose children are already optimized. Each
 * returns a new reference: n itself when nothing applies. */
static spk_df *spk__opt_rules(const spk_df *n, int depth) {
    if (depth > SPK__OPT_MAX_DEPTH) return spk__opt_keep(n);
    switch ((spk__pkind)n->kind) {
    case SPK__P_SCAN: break;
    case SPK__P_FILTER: return spk__opt_filter_rule(n, depth);
    case SPK__P_PROJECT: return spk__opt_project_rule(n, depth);
    case SPK__P_LIMIT: return spk__opt_limit_rule(n, depth);
    case SPK__P_AGG:
        /* With no keys an aggregation yields its one row even over nothing. */
        if (n->nkeys > 0 && spk__opt_is_empty(n->child)) return spk__opt_empty(n);
        return spk__opt_prune(n, depth);
    case SPK__P_SORT:
        if (spk__opt_is_empty(n->child)) return spk__opt_empty(n);
        break;
    case SPK__P_DISTINCT:
        if (spk__opt_is_empty(n->child)) return spk__opt_empty(n);
        if (n->child->kind == SPK__P_DISTINCT) return spk__opt_keep(n->child);
        break;
    case SPK__P_UNION:
        if (spk__opt_is_empty(n->child) && spk__opt_is_empty(n->right)) return spk__opt_empty(n);
        break;
    }
    if (n->kind == SPK__P_JOIN && (n->join == SPK__J_SEMI || n->join == SPK__J_ANTI)) {
        /* Only the condition reads the right side. */
        spk_df *r = spk__opt_prune_join(n, NULL, depth);
        return r ? r : spk__opt_skip(n);
    }
    return spk__opt_keep(n);
}

/* One bottom-up pass: the children first, then n over them. */
static spk_df *spk__opt_pass(const spk_df *df, int depth) {
    if (depth > SPK__OPT_MAX_DEPTH) return spk__opt_keep(df);
    spk_df *child = NULL, *right = NULL, *cur;
    if (df->child && !(child = spk__opt_pass(df->child, depth + 1))) return NULL;
    if (df->right && !(right = spk__opt_pass(df->right, depth + 1))) {
        spk_df_release(child);
        return NULL;
    }
    if (child == df->child && right == df->right) {
        cur = spk__opt_keep(df);
    } else if (!(cur = spk__opt_rebuild(df, child, right))) {
        cur = spk__opt_skip(df); /* keep the node as built, over its old children */
    }
    spk_df_release(child);
    spk_df_release(right);
    if (!cur) return NULL;
    spk_df *next = spk__opt_rules(cur, depth);
    spk_df_release(cur);
    return next;
}

SPKDEF spk_df *spk__optimize(const spk_df *df) {
    if (!df) {
        spk__fail(SPK_ERR_ARG, "optimize: NULL DataFrame (an earlier call failed: see its error)");
        return NULL;
    }
    if (spk__opt_disabled) return spk__opt_keep(df);
    /* Rewrites that do not apply fail quietly: keep the caller's last error. */
    char saved[SPK_ERROR_MAX];
    spk_status saved_status = spk_last_status();
    memcpy(saved, spk_last_error(), sizeof saved);
    spk_clear_error();
    spk_df *cur = spk__opt_keep(df);
    for (int pass = 0; pass < SPK__OPT_MAX_PASSES; pass++) {
        spk_df *next = spk__opt_pass(cur, 0);
        bool same = next == cur;
        spk_df_release(cur);
        if (!next) return NULL; /* out of memory: that error stays */
        cur = next;
        if (same) break;
    }
    /* Every rewrite keeps the output; should one not have, run the plan as built. */
    if (!spk_schema_equal(cur->schema, df->schema, true)) {
        spk_df_release(cur);
        cur = spk__opt_keep(df);
    }
    spk__fail(saved_status, "%s", saved);
    return cur;
}

/* ---------------------------------------------------------------- explain */

/* The columns of each table that a plan reads, for its LocalRelation lines
 * (the optimized plan shows only those: projection pruning's result). */
typedef struct spk__scan_use {
    const spk_df *scan;
    bool *used;
    int n;
} spk__scan_use;

typedef struct spk__scan_uses {
    spk__scan_use *v;
    int n, cap;
    bool failed;
} spk__scan_uses;

static void spk__uses_free(spk__scan_uses *u) {
    for (int i = 0; i < u->n; i++) spk__free(&spk__default_allocator, u->v[i].used, (size_t)(u->v[i].n ? u->v[i].n : 1));
    if (u->v) spk__free(&spk__default_allocator, u->v, (size_t)u->cap * sizeof *u->v);
}

static const spk__scan_use *spk__uses_find(const spk__scan_uses *u, const spk_df *scan) {
    for (int i = 0; u && i < u->n; i++)
        if (u->v[i].scan == scan) return &u->v[i];
    return NULL;
}

/* need: which of df's output columns are read (NULL: all). */
static void spk__uses_walk(spk__scan_uses *u, const spk_df *df, const bool *need, int depth) {
    if (u->failed || depth > SPK__OPT_MAX_DEPTH) return;
    int n = spk__opt_ncols(df);
    if (df->kind == SPK__P_SCAN) {
        spk__scan_use *e = (spk__scan_use *)(uintptr_t)spk__uses_find(u, df);
        if (!e) {
            if (u->n == u->cap) {
                int cap = u->cap ? u->cap * 2 : 8;
                spk__scan_use *v = (spk__scan_use *)spk__realloc(&spk__default_allocator, u->v, (size_t)u->cap * sizeof *v, (size_t)cap * sizeof *v);
                if (!v) {
                    u->failed = true;
                    return;
                }
                u->v = v;
                u->cap = cap;
            }
            bool *used = (bool *)spk__calloc(&spk__default_allocator, (size_t)(n ? n : 1));
            if (!used) {
                u->failed = true;
                return;
            }
            e = &u->v[u->n++];
            e->scan = df;
            e->used = used;
            e->n = n;
        }
        for (int i = 0; i < n; i++) e->used[i] = e->used[i] || !need || need[i];
        return;
    }
    const spk_df *kids[2] = {df->child, df->right};
    for (int k = 0; k < 2; k++) {
        const spk_df *c = kids[k];
        if (!c) continue;
        int nc = spk__opt_ncols(c);
        bool *cn = (bool *)spk__calloc(&spk__default_allocator, (size_t)(nc ? nc : 1));
        if (!cn) {
            u->failed = true;
            return;
        }
        bool all = false;
        switch ((spk__pkind)df->kind) {
        case SPK__P_PROJECT:
        case SPK__P_AGG:
            for (int i = 0; i < df->nexprs; i++)
                if (!need || need[i] || (df->kind == SPK__P_AGG && i < df->nkeys)) spk__opt_mark_cols(df->bound[i], cn);
            break;
        case SPK__P_FILTER:
        case SPK__P_SORT:
        case SPK__P_LIMIT:
        case SPK__P_UNION: /* the same columns: what is read above, and what the node reads */
            for (int i = 0; i < df->nexprs; i++) spk__opt_mark_cols(df->bound[i], cn);
            for (int i = 0; i < nc && i < n; i++) cn[i] = cn[i] || !need || need[i];
            break;
        default: all = true; break; /* distinct compares whole rows; unknown kinds read everything */
        }
        spk__uses_walk(u, c, all ? NULL : cn, depth + 1);
        spk__free(&spk__default_allocator, cn, (size_t)(nc ? nc : 1));
    }
}

static void spk__explain_bound(spk__textbuf *b, const spk_bound *bd) {
    char text[512];
    size_t n = spk_bound_explain(bd, text, sizeof text);
    if (n < sizeof text) {
        spk__sb_put(b, text, n);
        return;
    }
    char *big = (char *)spk__alloc(&spk__default_allocator, n + 1);
    if (!big) {
        b->failed = true;
        return;
    }
    spk_bound_explain(bd, big, n + 1);
    spk__sb_put(b, big, n);
    spk__free(&spk__default_allocator, big, n + 1);
}

/* [e1, e2, ...]; with names, an output whose name is not the column it
 * copies shows "AS name", as Spark's aliases. */
static void spk__explain_exprs(spk__textbuf *b, const spk_df *df, int from, int to, bool with_names) {
    spk__sb_str(b, "[");
    for (int i = from; i < to; i++) {
        const spk_bound *bd = df->bound[i];
        if (i > from) spk__sb_str(b, ", ");
        spk__explain_bound(b, bd);
        if (df->kind == SPK__P_SORT)
            spk__sb_printf(b, " %s NULLS %s", df->exprs[i]->descending ? "DESC" : "ASC", df->exprs[i]->nulls_first ? "FIRST" : "LAST");
        const char *name = spk_schema_field(df->schema, i)->name;
        if (with_names && (bd->root->kind != SPK__B_COL || strcmp(spk_schema_field(bd->schema, bd->root->col)->name, name) != 0)) {
            spk__sb_str(b, " AS ");
            spk__sb_str(b, name);
        }
    }
    spk__sb_str(b, "]");
}

/* spk_df_alias's node: every column, in order, under a new qualifier. */
static bool spk__explain_is_alias(const spk_df *df) {
    if (!df->alias || df->nexprs != spk__opt_ncols(df->child)) return false;
    for (int i = 0; i < df->nexprs; i++) {
        const spk__bnode *r = df->bound[i]->root;
        if (r->kind != SPK__B_COL || r->col != i ||
            strcmp(spk_schema_field(df->schema, i)->name, spk_schema_field(df->child->schema, i)->name) != 0)
            return false;
    }
    return true;
}

static void spk__explain_line(spk__textbuf *b, const spk_df *df, const spk__scan_uses *uses) {
    switch ((spk__pkind)df->kind) {
    case SPK__P_SCAN: {
        const spk__scan_use *u = spk__uses_find(uses, df);
        size_t rows = spk_table_nrows(df->table);
        spk__sb_str(b, rows ? "LocalRelation [" : "LocalRelation <empty>, [");
        for (int i = 0, k = 0; i < spk__opt_ncols(df); i++) {
            if (u && !u->used[i]) continue; /* pruned: nothing above reads it */
            spk__sb_str(b, k++ ? ", " : "");
            spk__sb_str(b, spk_schema_field(df->schema, i)->name);
            spk__sb_printf(b, "#%d", i);
        }
        spk__sb_str(b, "]");
        if (rows) spk__sb_printf(b, ", %zu rows", rows);
        break;
    }
    case SPK__P_PROJECT:
        if (spk__explain_is_alias(df)) {
            spk__sb_str(b, "SubqueryAlias ");
            spk__sb_str(b, df->alias);
            break;
        }
        spk__sb_str(b, "Project ");
        spk__explain_exprs(b, df, 0, df->nexprs, true);
        break;
    case SPK__P_FILTER:
        spk__sb_str(b, "Filter ");
        spk__explain_bound(b, df->bound[0]);
        break;
    case SPK__P_AGG:
        spk__sb_str(b, "Aggregate ");
        spk__explain_exprs(b, df, 0, df->nkeys, false);
        spk__sb_str(b, ", ");
        spk__explain_exprs(b, df, 0, df->nexprs, true);
        break;
    case SPK__P_SORT:
        spk__sb_str(b, "Sort ");
        spk__explain_exprs(b, df, 0, df->nexprs, false);
        spk__sb_str(b, ", true");
        break;
    case SPK__P_LIMIT:
        if (df->limit >= 0) spk__sb_printf(b, "GlobalLimit %lld", (long long)df->limit);
        if (df->offset) spk__sb_printf(b, "%sOffset %lld", df->limit >= 0 ? ", " : "", (long long)df->offset);
        break;
    case SPK__P_DISTINCT: spk__sb_str(b, "Distinct"); break;
    case SPK__P_UNION: spk__sb_str(b, "Union false, false"); break;
    default: /* the kinds kept outside spk__pkind (see plan.c) */
        if (df->kind == SPK__P_JOIN) {
            static const char *const types[] = {"Inner", "Cross", "LeftOuter", "RightOuter", "FullOuter", "LeftSemi", "LeftAnti"};
            spk__sb_printf(b, "Join %s", df->join < sizeof types / sizeof types[0] ? types[df->join] : "?");
            if (df->nexprs) {
                spk__sb_str(b, ", ");
                spk__explain_bound(b, df->bound[0]);
            }
        } else if (df->kind == SPK__P_INTERSECT || df->kind == SPK__P_EXCEPT) {
            spk__sb_printf(b, "%s %s", df->kind == SPK__P_INTERSECT ? "Intersect" : "Except", df->all ? "true" : "false");
        } else if (df->kind == SPK__P_DEDUP) {
            spk__sb_str(b, "Deduplicate ");
            spk__explain_exprs(b, df, 0, df->nexprs, false);
        } else if (df->kind == SPK__P_SAMPLE) {
            spk__sb_printf(b, "Sample 0.0, %.17g, false, %llu", df->fraction, (unsigned long long)df->seed);
        } else {
            spk__sb_printf(b, "Plan node %d", (int)df->kind);
        }
        break;
    }
    spk__sb_str(b, "\n");
}

/* Spark's tree: a child line starts "+- " (the last child) or ":- " (the
 * others, e.g. a union's or a join's left side), under each ancestor "   "
 * or ":  " depending on whether that ancestor was a last child. */
static void spk__explain_tree(spk__textbuf *b, const spk_df *df, const spk__scan_uses *uses, bool *last, int depth) {
    for (int i = 1; i < depth; i++) spk__sb_str(b, last[i] ? "   " : ":  ");
    if (depth > 0) spk__sb_str(b, last[depth] ? "+- " : ":- ");
    if (depth > SPK__OPT_MAX_DEPTH) {
        spk__sb_str(b, "...\n");
        return;
    }
    spk__explain_line(b, df, uses);
    const spk_df *kids[2] = {df->child, df->right};
    int nkids = (kids[0] != NULL) + (kids[1] != NULL);
    for (int k = 0, seen = 0; k < 2; k++) {
        if (!kids[k]) continue;
        last[depth + 1] = ++seen == nkids;
        spk__explain_tree(b, kids[k], uses, last, depth + 1);
    }
}

static void spk__explain_plan(spk__textbuf *b, const spk_df *df, bool prune) {
    bool last[SPK__OPT_MAX_DEPTH + 2] = {false};
    spk__scan_uses uses = {NULL, 0, 0, false};
    if (prune) spk__uses_walk(&uses, df, NULL, 0);
    if (uses.failed) b->failed = true;
    else spk__explain_tree(b, df, prune ? &uses : NULL, last, 0);
    spk__uses_free(&uses);
}

SPKDEF spk_status spk_df_explain_string(spk_df *df, bool extended, char **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_df_explain_string: NULL output");
    *out = NULL;
    if (!df) return spk__fail(SPK_ERR_ARG, "explain: NULL DataFrame (an earlier call failed: see its error)");
    spk_df *opt = spk__optimize(df);
    if (!opt) return spk_last_status();
    spk__textbuf b = {NULL, 0, 0, false};
    if (extended) {
        spk__sb_str(&b, "== Analyzed Logical Plan ==\n");
        for (int i = 0; i < spk__opt_ncols(df); i++) {
            char type[64];
            spk_type_format(spk_schema_field(df->schema, i)->type, SPK_TYPE_SIMPLE, type, sizeof type);
            spk__sb_str(&b, i ? ", " : "");
            spk__sb_str(&b, spk_schema_field(df->schema, i)->name);
            spk__sb_str(&b, ": ");
            spk__sb_str(&b, type);
        }
        spk__sb_str(&b, "\n");
        spk__explain_plan(&b, df, false);
        spk__sb_str(&b, "\n== Optimized Logical Plan ==\n");
        spk__explain_plan(&b, opt, true);
        spk__sb_str(&b, "\n");
    }
    /* There is no separate physical planning: exec runs the optimized plan
     * node for node, so that is the physical plan Spark users look for. */
    spk__sb_str(&b, "== Physical Plan ==\n");
    spk__explain_plan(&b, opt, true);
    spk_df_release(opt);
    return spk__sb_finish(&b, out);
}

SPKDEF spk_status spk_df_explain(spk_df *df, bool extended, FILE *f) {
    char *text = NULL;
    spk_status st = spk_df_explain_string(df, extended, &text);
    if (st != SPK_OK) return st;
    fputs(text, f);
    spk_string_free(text);
    return SPK_OK;
}
