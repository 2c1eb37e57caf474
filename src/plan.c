/* plan: sessions, DataFrames as immutable logical plan nodes, their
 * analysis (every expression is bound when the node is built), the
 * optimizer's rewrites and the plan's text for explain(). */
#include "eval.c"
#include "plan.h"

struct spk_session {
    atomic_int refs;             /* one for the session's handles, one per DataFrame node made from it */
    const spk_allocator *alloc;
    atomic_bool case_sensitive;  /* spark.sql.caseSensitive, copied into each DataFrame node */
    atomic_int threads;          /* resolved: >= 1 */
    atomic_bool threads_set;     /* a thread count was configured (spk_exec_override does not apply) */
    _Atomic(spk_pool *) pool;    /* threads - 1 workers (the caller is the last), made at first use */
    struct spk__sessx *ext;      /* the catalog's part (catalog.c): views, configuration; NULL once stopped */
    spk_udf_registry *udfs;      /* spark.udf: its own, made with the session */
};

/* spk_exec_override: 0 when unset. */
static atomic_int spk__override_threads;
static atomic_uint spk__override_morsel;

SPKDEF void spk_exec_override(int threads, uint32_t morsel_rows) {
    atomic_store_explicit(&spk__override_threads, threads > 0 ? threads : 0, memory_order_relaxed);
    atomic_store_explicit(&spk__override_morsel, morsel_rows, memory_order_relaxed);
}

SPKDEF int spk_session_threads(const spk_session *s) {
    int forced = atomic_load_explicit(&spk__override_threads, memory_order_relaxed);
    if (!s) return 1;
    return forced > 0 && !atomic_load_explicit(&s->threads_set, memory_order_relaxed)
               ? forced
               : atomic_load_explicit(&s->threads, memory_order_relaxed);
}

static uint32_t spk__morsel_rows(void) {
    uint32_t forced = atomic_load_explicit(&spk__override_morsel, memory_order_relaxed);
    return forced ? forced : SPK_MORSEL_ROWS;
}

/* The session's worker pool, started by the first query that needs one.
 * Racing first queries each start a pool; one is published with a CAS and
 * the others are stopped again, so no lock is held while threads start. */
static spk_status spk__session_pool(spk_session *s, spk_pool **out) {
    spk_pool *p = atomic_load_explicit(&s->pool, memory_order_acquire); /* pairs with the CAS below */
    if (p) {
        *out = p;
        return SPK_OK;
    }
    int workers = spk_session_threads(s) - 1;
    spk_status st = spk_pool_new(&spk__default_allocator, workers > 0 ? workers : 1, 0, &p);
    if (st != SPK_OK) return st;
    spk_pool *expected = NULL;
    /* acq_rel: publishes the pool's setup to later loads, and on failure
     * acquires the winner's */
    if (!atomic_compare_exchange_strong_explicit(&s->pool, &expected, p, memory_order_acq_rel, memory_order_acquire)) {
        spk_pool_free(p);
        p = expected;
    }
    *out = p;
    return SPK_OK;
}

typedef enum spk__pkind {
    SPK__P_SCAN,    /* a table */
    SPK__P_PROJECT, /* exprs: the output columns */
    SPK__P_FILTER,  /* exprs[0]: the condition */
    SPK__P_AGG,     /* exprs: nkeys grouping keys, then the aggregate outputs */
    SPK__P_SORT,    /* exprs: sort keys (SPK__OP_SORT nodes) */
    SPK__P_LIMIT,   /* limit, offset */
    SPK__P_DISTINCT,
    SPK__P_UNION    /* child and right, by position */
} spk__pkind;

/* Kinds added with joins and the other set operations. They stay outside
 * spk__pkind only while explain's switch (optimize.c) has no case for them
 * (-Wswitch): move them into it when it does. Code switching on them
 * switches on the plain int. */
enum {
    SPK__P_JOIN = SPK__P_UNION + 1, /* child (left) and right; exprs[0], if nexprs: the condition, bound
                                     * against left ++ right (their schemas and qualifiers); join: spk__jtype */
    SPK__P_INTERSECT,               /* child and right, by position; all: as multisets */
    SPK__P_EXCEPT,                  /* child minus right, by position; all: as multisets */
    SPK__P_DEDUP,                   /* exprs: key columns (none: every column); the first row of each key */
    SPK__P_SAMPLE                   /* streams: each row kept with probability fraction (seed) */
};

typedef enum spk__jtype {
    SPK__J_INNER, SPK__J_CROSS, SPK__J_LEFT, SPK__J_RIGHT, SPK__J_FULL, SPK__J_SEMI, SPK__J_ANTI
} spk__jtype;

struct spk_df {
    atomic_int refs;
    uint8_t kind;           /* spk__pkind */
    spk_session *session;
    spk_schema *schema;     /* the output columns */
    char **qualifiers;      /* per output column: the alias of the frame it came from, or NULL */
    spk_df *child, *right;
    spk_table *table;       /* SCAN: owned; freed with the node */
    int nexprs, nkeys;
    spk_expr **exprs;
    spk_bound **bound;      /* exprs bound against the child's output */
    int64_t limit, offset;  /* LIMIT: limit < 0 means none */
    char *alias;            /* set by spk_df_alias (a PROJECT of every column) */
    uint8_t join;           /* JOIN: spk__jtype */
    bool all;               /* INTERSECT, EXCEPT: ALL (multisets) */
    double fraction;        /* SAMPLE */
    uint64_t seed;          /* SAMPLE */
    bool case_sensitive;    /* the session's spark.sql.caseSensitive when the node was made */
};

static const spk_allocator *spk__df_alloc(const spk_df *df) { return df->session->alloc; }

/* A session with one reference (its handles'); catalog.c adds the rest. */
static spk_status spk__session_make(const spk_allocator *alloc, bool case_sensitive, int threads, spk_session **out) {
    if (threads < 0 || threads > SPK_POOL_MAX_THREADS)
        return spk__fail(SPK_ERR_ARG, "threads is %d; it must be 0 (one per core) to %d", threads, SPK_POOL_MAX_THREADS);
    alloc = spk__allocator_or_default(alloc);
    spk_session *s = (spk_session *)spk__calloc(alloc, sizeof *s);
    if (!s) return spk__nomem("a session", sizeof *s);
    spk_status st = spk_udf_registry_new(&s->udfs);
    if (st != SPK_OK) {
        spk__free(alloc, s, sizeof *s);
        return st;
    }
    s->alloc = alloc;
    atomic_init(&s->refs, 1);
    atomic_init(&s->case_sensitive, case_sensitive);
    atomic_init(&s->threads_set, threads != 0);
    int resolved = threads ? threads : spk_cpu_count();
    atomic_init(&s->threads, resolved > SPK_POOL_MAX_THREADS ? SPK_POOL_MAX_THREADS : resolved);
    atomic_init(&s->pool, NULL);
    *out = s;
    return SPK_OK;
}

/* spark.sparkless.threads set on a live session: later queries use it (the
 * pool keeps its size; runners beyond it queue and still finish). */
static void spk__session_set_threads(spk_session *s, int threads) {
    int resolved = threads ? threads : spk_cpu_count();
    atomic_store(&s->threads, resolved > SPK_POOL_MAX_THREADS ? SPK_POOL_MAX_THREADS : resolved);
    atomic_store(&s->threads_set, threads != 0);
}

static void spk__session_release(spk_session *s) {
    /* acq_rel: every use happens before the last release frees */
    if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) > 1) return;
    spk_pool_free(atomic_load_explicit(&s->pool, memory_order_acquire));
    spk_udf_registry_release(s->udfs);
    spk__free(s->alloc, s, sizeof *s);
}

SPKDEF spk_udf_registry *spk_session_udfs(spk_session *s) { return s ? s->udfs : NULL; }

SPKDEF spk_df *spk_df_retain(spk_df *df) {
    if (df) atomic_fetch_add_explicit(&df->refs, 1, memory_order_relaxed); /* as spk_schema_retain */
    return df;
}

static void spk__free_qualifiers(const spk_allocator *a, char **q, int n) {
    if (!q) return;
    for (int i = 0; i < n; i++)
        if (q[i]) spk__free(a, q[i], strlen(q[i]) + 1);
    spk__free(a, q, (size_t)(n ? n : 1) * sizeof *q);
}

SPKDEF void spk_df_release(spk_df *df) {
    while (df && atomic_fetch_sub_explicit(&df->refs, 1, memory_order_acq_rel) == 1) {
        const spk_allocator *a = spk__df_alloc(df);
        for (int i = 0; i < df->nexprs; i++) {
            spk_expr_release(df->exprs[i]);
            if (df->bound) spk_bound_free(df->bound[i]);
        }
        if (df->exprs) spk__free(a, df->exprs, (size_t)(df->nexprs ? df->nexprs : 1) * sizeof *df->exprs);
        if (df->bound) spk__free(a, df->bound, (size_t)(df->nexprs ? df->nexprs : 1) * sizeof *df->bound);
        spk__free_qualifiers(a, df->qualifiers, spk_schema_ncols(df->schema));
        spk_schema_release(df->schema);
        spk_table_free(df->table);
        if (df->alias) spk__free(a, df->alias, strlen(df->alias) + 1);
        spk_df_release(df->right);
        spk_df *child = df->child; /* iterate down the chain: plans can be long */
        spk_session *s = df->session;
        spk__free(a, df, sizeof *df);
        spk__session_release(s);
        df = child;
    }
}

/* ---------------------------------------------------------------- building nodes */

static spk_df *spk__df_new(spk_session *s, spk__pkind kind, spk_df *child) {
    spk_df *df = (spk_df *)spk__calloc(s->alloc, sizeof *df);
    if (!df) {
        spk__nomem("a DataFrame", sizeof *df);
        return NULL;
    }
    atomic_init(&df->refs, 1);
    df->kind = (uint8_t)kind;
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed); /* the caller holds one */
    df->session = s;
    df->case_sensitive = child ? child->case_sensitive : atomic_load_explicit(&s->case_sensitive, memory_order_relaxed);
    df->child = spk_df_retain(child);
    df->limit = -1;
    return df;
}

/* Takes over `exprs` (consumed even on failure). */
static bool spk__df_set_exprs(spk_df *df, spk_expr *const *exprs, int n) {
    const spk_allocator *a = spk__df_alloc(df);
    df->exprs = (spk_expr **)spk__calloc(a, (size_t)(n ? n : 1) * sizeof *df->exprs);
    df->bound = df->exprs ? (spk_bound **)spk__calloc(a, (size_t)(n ? n : 1) * sizeof *df->bound) : NULL;
    if (!df->bound) {
        if (df->exprs) spk__free(a, df->exprs, (size_t)(n ? n : 1) * sizeof *df->exprs);
        df->exprs = NULL;
        for (int i = 0; i < n; i++) spk_expr_release(exprs[i]);
        spk__nomem("expressions", (size_t)n * sizeof *df->exprs);
        return false;
    }
    df->nexprs = n;
    for (int i = 0; i < n; i++) df->exprs[i] = exprs[i];
    return true;
}

static char *spk__dup(const spk_allocator *a, const char *s) {
    char *p = s ? spk__strndup(a, s, strlen(s)) : NULL;
    if (s && !p) spk__nomem("a name", strlen(s) + 1);
    return p;
}

/* Output columns of a node: a schema (duplicates allowed, as Spark) and qualifiers. */
static bool spk__df_set_output(spk_df *df, const spk_field *fields, int n, char *const *qualifiers) {
    spk_schema *s = NULL;
    if (spk__schema_make(spk__df_alloc(df), fields, n, true, &s) != SPK_OK) return false;
    df->schema = s;
    const spk_allocator *a = spk__df_alloc(df);
    df->qualifiers = (char **)spk__calloc(a, (size_t)(n ? n : 1) * sizeof *df->qualifiers);
    if (!df->qualifiers) {
        spk__nomem("column qualifiers", (size_t)n * sizeof(char *));
        return false;
    }
    for (int i = 0; qualifiers && i < n; i++) {
        if (qualifiers[i] && !(df->qualifiers[i] = spk__dup(a, qualifiers[i]))) return false;
    }
    return true;
}

/* Binds every expression of df against its child's columns. */
static spk_status spk__df_bind(spk_df *df, spk_df *input) {
    for (int i = 0; i < df->nexprs; i++) {
        const spk_expr *e = df->exprs[i];
        if (e && e->op == SPK__OP_SORT) e = e->args[0];
        spk_status st = spk__bind_scoped_udfs(e, input->schema, (const char *const *)input->qualifiers,
                                              df->case_sensitive, df->session->udfs, &df->bound[i]);
        if (st != SPK_OK) return st;
    }
    return SPK_OK;
}

/* The shared failure path of every transformation. */
static spk_df *spk__df_fail(spk_df *df) {
    spk_df_release(df);
    return NULL;
}

SPKDEF spk_df *spk_df_from_table(spk_session *s, spk_table *table) {
    if (!s || !table) {
        spk__fail(SPK_ERR_ARG, "spk_df_from_table: NULL argument");
        return NULL;
    }
    spk_df *df = spk__df_new(s, SPK__P_SCAN, NULL);
    if (!df) return NULL;
    df->table = table;
    df->schema = spk_schema_retain(spk_table_schema(table));
    df->qualifiers = (char **)spk__calloc(s->alloc, (size_t)(spk_schema_ncols(df->schema) ? spk_schema_ncols(df->schema) : 1) * sizeof(char *));
    if (!df->qualifiers) {
        df->table = NULL; /* the caller keeps it on failure */
        spk__nomem("column qualifiers", sizeof(char *));
        return spk__df_fail(df);
    }
    return df;
}

SPKDEF spk_df *spk_df_from_fixture(spk_session *s, const char *text) {
    if (!s) {
        spk__fail(SPK_ERR_ARG, "spk_df_from_fixture: NULL session");
        return NULL;
    }
    spk_table *t = NULL;
    if (spk_table_from_fixture(s->alloc, text, &t) != SPK_OK) return NULL;
    spk_df *df = spk_df_from_table(s, t);
    if (!df) spk_table_free(t);
    return df;
}

SPKDEF spk_df *spk_df_from_rows(spk_session *s, spk_schema *schema, const spk_value *values, size_t nrows) {
    if (!s || !schema) {
        spk__fail(SPK_ERR_ARG, "spk_df_from_rows: NULL argument");
        return NULL;
    }
    spk_table *t = NULL;
    if (spk_table_new(s->alloc, schema, &t) != SPK_OK) return NULL;
    if (spk_table_append_rows(t, values, nrows) != SPK_OK) {
        spk_table_free(t);
        return NULL;
    }
    spk_df *df = spk_df_from_table(s, t);
    if (!df) spk_table_free(t);
    return df;
}

SPKDEF spk_df *spk_df_range(spk_session *s, int64_t start, int64_t end, int64_t step) {
    if (!s || step == 0) {
        spk__fail(SPK_ERR_ARG, "spk_df_range: %s", s ? "step must not be 0" : "NULL session");
        return NULL;
    }
    spk_field f = {"id", spk_type_of(SPK_TYPE_INT64), false};
    spk_schema *schema = NULL;
    spk_table *t = NULL;
    if (spk_schema_new(s->alloc, &f, 1, &schema) != SPK_OK) return NULL;
    spk_status st = spk_table_new(s->alloc, schema, &t);
    spk_schema_release(schema);
    if (st != SPK_OK) return NULL;
    /* Rows are produced in batches straight into the table. */
    spk__vec v;
    int64_t values[SPK__BATCH];
    uint8_t nulls[SPK__BATCH] = {0};
    v.type = f.type;
    v.nulls = nulls;
    v.v.i64 = values;
    spk__vec *cols[1] = {&v};
    int64_t x = start;
    while (st == SPK_OK && (step > 0 ? x < end : x > end)) {
        uint32_t n = 0;
        while (n < SPK__BATCH && (step > 0 ? x < end : x > end)) {
            values[n++] = x;
            if ((step > 0 && x > INT64_MAX - step) || (step < 0 && x < INT64_MIN - step)) {
                x = end; /* the next value would pass the end anyway */
                break;
            }
            x += step;
        }
        st = spk__table_append_vecs(t, cols, NULL, n);
    }
    if (st != SPK_OK) {
        spk_table_free(t);
        return NULL;
    }
    spk_df *df = spk_df_from_table(s, t);
    if (!df) spk_table_free(t);
    return df;
}

/* ---------------------------------------------------------------- projections */

/* Appends the expressions `*` or `q.*` expand to, as column references. */
static int spk__expand_star(const spk_df *input, const spk_expr *star, spk_expr **out, int cap) {
    int n = 0, ncols = spk_schema_ncols(input->schema);
    for (int i = 0; i < ncols; i++) {
        const char *q = input->qualifiers[i];
        if (star->qualifier && (!q || !spk__name_eq(q, star->qualifier, false))) continue;
        if (n >= cap) return -1;
        spk_expr *c = spk__with_name(spk__expr_new(SPK__OP_COL, 0), spk_schema_field(input->schema, i)->name,
                                     strlen(spk_schema_field(input->schema, i)->name));
        if (c && q && !(c->qualifier = spk__strndup(spk__expr_alloc(), q, strlen(q)))) {
            spk_expr_release(c);
            c = NULL;
        }
        if (!c) {
            for (int k = 0; k < n; k++) spk_expr_release(out[k]);
            return -2;
        }
        out[n++] = c;
    }
    return n;
}

/* A column used outside every aggregate of b that is not a grouping key of g. */
static const spk__bnode *spk__bare_column_except(const spk__bnode *b, const spk_df *g) {
    if (b->kind == SPK__B_AGG) return NULL;
    if (b->kind == SPK__B_COL) {
        for (int k = 0; k < g->nkeys; k++)
            if (g->bound[k]->root->kind == SPK__B_COL && g->bound[k]->root->col == b->col) return NULL;
        return b;
    }
    for (int i = 0; i < b->nargs; i++) {
        const spk__bnode *c = spk__bare_column_except(b->args[i], g);
        if (c) return c;
    }
    return NULL;
}

/* A PROJECT of `exprs` (consumed) over df. The output name of each column is
 * the alias or Spark's text of the expression; a column reference keeps its
 * qualifier. */
static spk_df *spk__project(spk_df *df, spk_expr *const *exprs, int n) {
    if (!df) {
        for (int i = 0; i < n; i++) spk_expr_release(exprs[i]);
        return NULL;
    }
    /* expand stars first */
    int ncols = spk_schema_ncols(df->schema), cap = n + ncols * n + 1, total = 0;
    const spk_allocator *a = spk__df_alloc(df);
    spk_expr **all = (spk_expr **)spk__calloc(a, (size_t)cap * sizeof *all);
    if (!all) {
        for (int i = 0; i < n; i++) spk_expr_release(exprs[i]);
        spk__nomem("a projection", (size_t)cap * sizeof *all);
        return NULL;
    }
    bool ok = true;
    for (int i = 0; i < n; i++) {
        if (!exprs[i]) {
            ok = false;
            continue;
        }
        if (ok && exprs[i]->op == SPK__OP_STAR) {
            int k = spk__expand_star(df, exprs[i], all + total, cap - total);
            if (k < 0) ok = false;
            else if (k == 0 && exprs[i]->qualifier) {
                spk__fail(SPK_ERR_NOT_FOUND, "[CANNOT_RESOLVE_STAR_EXPAND] Cannot resolve `%s`.* given input columns",
                          exprs[i]->qualifier);
                ok = false;
            } else {
                total += k;
            }
            spk_expr_release(exprs[i]);
        } else if (ok) {
            all[total++] = exprs[i];
        } else {
            spk_expr_release(exprs[i]);
        }
    }
    spk_df *p = ok ? spk__df_new(df->session, SPK__P_PROJECT, df) : NULL;
    if (!p) {
        for (int i = 0; i < total; i++) spk_expr_release(all[i]);
        spk__free(a, all, (size_t)cap * sizeof *all);
        return NULL;
    }
    bool set = spk__df_set_exprs(p, all, total);
    spk__free(a, all, (size_t)cap * sizeof *all);
    if (!set || spk__df_bind(p, df) != SPK_OK) return spk__df_fail(p);
    spk_field stack_fields[32], *fields = stack_fields;
    char *stack_q[32], **quals = stack_q;
    size_t fsize = (size_t)total * sizeof *fields, qsize = (size_t)total * sizeof *quals;
    if (total > 32) {
        fields = (spk_field *)spk__alloc(a, fsize);
        quals = fields ? (char **)spk__alloc(a, qsize) : NULL;
        if (!quals) {
            if (fields) spk__free(a, fields, fsize);
            spk__nomem("a projection", fsize + qsize);
            return spk__df_fail(p);
        }
    }
    for (int i = 0; i < total; i++) {
        const spk_expr *e = p->exprs[i];
        const spk_bound *b = p->bound[i];
        fields[i].name = e->op == SPK__OP_COL ? e->name : spk_bound_name(b);
        fields[i].type = spk_bound_type(b);
        fields[i].nullable = spk_bound_nullable(b) || fields[i].type.id == SPK_TYPE_NULL;
        quals[i] = NULL;
        if (e->op == SPK__OP_COL && b->root->kind == SPK__B_COL) quals[i] = df->qualifiers[b->root->col];
    }
    ok = spk__df_set_output(p, fields, total, quals);
    if (fields != stack_fields) {
        spk__free(a, fields, fsize);
        spk__free(a, quals, qsize);
    }
    if (!ok) return spk__df_fail(p);
    /* select(sum(x), ...) aggregates the whole frame, as Spark's analyzer
     * turns such a projection into an aggregation without keys. */
    for (int i = 0; i < total; i++)
        if (p->bound[i]->aggregate) p->kind = SPK__P_AGG;
    for (int i = 0; p->kind == SPK__P_AGG && i < total; i++) {
        const spk__bnode *bare = spk__bare_column_except(p->bound[i]->root, p);
        if (bare) {
            spk__fail(SPK_ERR_ANALYSIS,
                      "[MISSING_AGGREGATION] The non-aggregating expression \"%s\" is based on columns which are not "
                      "participating in the GROUP BY clause: `%s`.", spk_bound_name(p->bound[i]), bare->name);
            return spk__df_fail(p);
        }
    }
    return p;
}

SPKDEF spk_df *spk_df_select_array(spk_df *df, spk_expr *const *exprs, int n) {
    if (n < 0 || (n && !exprs)) {
        spk__fail(SPK_ERR_ARG, "spk_df_select: bad arguments");
        return NULL;
    }
    return spk__project(df, exprs, n);
}

#define SPK__VA_EXPRS(n, last, body)                                                                   \
    spk_expr *stack_[32] = {NULL}, **list_ = stack_;                                                   \
    size_t size_ = (size_t)((n) > 0 ? (n) : 0) * sizeof *list_;                                        \
    bool heap_ = (n) > 32;                                                                             \
    if (heap_ && !(list_ = (spk_expr **)spk__alloc(&spk__default_allocator, size_))) list_ = NULL;     \
    va_list ap_;                                                                                       \
    va_start(ap_, last);                                                                               \
    for (int i_ = 0; i_ < (n); i_++) {                                                                 \
        spk_expr *x_ = va_arg(ap_, spk_expr *);                                                        \
        if (list_) list_[i_] = x_;                                                                     \
        else spk_expr_release(x_);                                                                     \
    }                                                                                                  \
    va_end(ap_);                                                                                       \
    spk_df *result_ = NULL;                                                                            \
    if (!list_) spk__nomem("arguments", size_);                                                        \
    else { body; }                                                                                     \
    if (heap_ && list_) spk__free(&spk__default_allocator, list_, size_);                              \
    return result_

SPKDEF spk_df *spk_df_select(spk_df *df, int n, ...) {
    SPK__VA_EXPRS(n, n, result_ = spk_df_select_array(df, list_, n));
}

SPKDEF spk_df *spk_df_select_expr(spk_df *df, int n, ...) {
    spk_expr *stack[32] = {NULL}, **list = stack;
    size_t size = (size_t)(n > 0 ? n : 0) * sizeof *list;
    if (n > 32 && !(list = (spk_expr **)spk__calloc(&spk__default_allocator, size))) {
        spk__nomem("arguments", size);
        return NULL;
    }
    va_list ap;
    va_start(ap, n);
    spk_status st = SPK_OK;
    int parsed = 0;
    for (int i = 0; i < n; i++) {
        const char *sql = va_arg(ap, const char *);
        if (st == SPK_OK && (st = spk_expr_parse(sql, &list[i])) == SPK_OK) parsed++;
    }
    va_end(ap);
    spk_df *r = NULL;
    if (st == SPK_OK) r = df ? spk__project(df, list, n) : NULL;
    else for (int i = 0; i < parsed; i++) spk_expr_release(list[i]);
    if (st == SPK_OK && !df) for (int i = 0; i < n; i++) spk_expr_release(list[i]);
    if (list != stack) spk__free(&spk__default_allocator, list, size);
    return r;
}

/* A projection of every column of df, by reference. */
static int spk__all_columns(const spk_df *df, spk_expr **out, int skip_col) {
    int n = 0, ncols = spk_schema_ncols(df->schema);
    for (int i = 0; i < ncols; i++) {
        if (i == skip_col) continue;
        const spk_field *f = spk_schema_field(df->schema, i);
        /* Reference by position-safe name: quote it so dots and case survive. */
        spk_expr *c = spk__with_name(spk__expr_new(SPK__OP_COL, 0), f->name, strlen(f->name));
        if (c && df->qualifiers[i] && !(c->qualifier = spk__strndup(spk__expr_alloc(), df->qualifiers[i], strlen(df->qualifiers[i])))) {
            spk_expr_release(c);
            c = NULL;
        }
        if (!c) {
            for (int k = 0; k < n; k++) spk_expr_release(out[k]);
            return -1;
        }
        out[n++] = c;
    }
    return n;
}

/* withColumns: every value is computed from df's columns (not from another
 * new column), each replacing the column of its name in place or, if there
 * is none, added at the end in the order given, as Spark does. */
SPKDEF spk_df *spk_df_with_columns(spk_df *df, const char *const *names, spk_expr *const *values, int n) {
    bool ok = df && n >= 0 && (n == 0 || (names && values));
    for (int k = 0; ok && k < n; k++) ok = names[k] && values[k];
    int ncols = df ? spk_schema_ncols(df->schema) : 0;
    size_t size = (size_t)(ncols + (n > 0 ? n : 0) + 1) * sizeof(spk_expr *);
    spk_expr **list = ok ? (spk_expr **)spk__alloc(&spk__default_allocator, size) : NULL;
    int total = list ? spk__all_columns(df, list, -1) : -1;
    if (total < 0) {
        if (ok && !list) spk__nomem("withColumns", size);
        else if (df && !ok) spk__fail(SPK_ERR_ARG, "withColumns: NULL name or value");
        for (int k = 0; values && k < n; k++) spk_expr_release(values[k]);
        if (list) spk__free(&spk__default_allocator, list, size);
        return NULL;
    }
    for (int k = 0; k < n; k++) {
        spk_expr *named = spk_alias(values[k], names[k]);
        if (!named) { /* consume the rest and fail */
            for (int m = k + 1; m < n; m++) spk_expr_release(values[m]);
            for (int i = 0; i < total; i++) spk_expr_release(list[i]);
            spk__free(&spk__default_allocator, list, size);
            return NULL;
        }
        int existing = -1;
        for (int i = 0; i < total && existing < 0; i++) /* the input's column, or one added just now */
            if (spk__name_eq(i < ncols ? spk_schema_field(df->schema, i)->name : list[i]->name, names[k],
                             df->case_sensitive))
                existing = i;
        if (existing >= 0) {
            spk_expr_release(list[existing]);
            list[existing] = named;
        } else {
            list[total++] = named;
        }
    }
    spk_df *r = spk__project(df, list, total);
    spk__free(&spk__default_allocator, list, size);
    return r;
}

SPKDEF spk_df *spk_df_with_column(spk_df *df, const char *name, spk_expr *value) {
    if (!name) {
        spk_expr_release(value);
        if (df) spk__fail(SPK_ERR_ARG, "spk_df_with_column: NULL name");
        return NULL;
    }
    return spk_df_with_columns(df, &name, &value, 1);
}

SPKDEF spk_df *spk_df_with_column_renamed(spk_df *df, const char *existing, const char *new_name) {
    if (!df) return NULL;
    if (!existing || !new_name || !new_name[0]) {
        spk__fail(SPK_ERR_ARG, "spk_df_with_column_renamed: bad names");
        return NULL;
    }
    int ncols = spk_schema_ncols(df->schema);
    size_t size = (size_t)(ncols ? ncols : 1) * sizeof(spk_expr *);
    spk_expr **list = (spk_expr **)spk__alloc(&spk__default_allocator, size);
    if (!list) {
        spk__nomem("withColumnRenamed", size);
        return NULL;
    }
    int n = spk__all_columns(df, list, -1);
    if (n < 0) {
        spk__free(&spk__default_allocator, list, size);
        return NULL;
    }
    bool ok = true;
    for (int i = 0; i < n; i++) /* renaming a missing column is a no-op in Spark */
        if (spk__name_eq(spk_schema_field(df->schema, i)->name, existing, df->case_sensitive))
            ok = ok && (list[i] = spk_alias(list[i], new_name)) != NULL;
    spk_df *r = NULL;
    if (ok) r = spk__project(df, list, n);
    else for (int i = 0; i < n; i++) spk_expr_release(list[i]);
    spk__free(&spk__default_allocator, list, size);
    return r;
}

SPKDEF spk_df *spk_df_drop(spk_df *df, int n, ...) {
    if (!df) return NULL;
    int ncols = spk_schema_ncols(df->schema);
    size_t size = (size_t)(ncols ? ncols : 1) * sizeof(spk_expr *);
    spk_expr **list = (spk_expr **)spk__alloc(&spk__default_allocator, size);
    bool *gone = list ? (bool *)spk__calloc(&spk__default_allocator, (size_t)(ncols ? ncols : 1)) : NULL;
    if (!gone) {
        if (list) spk__free(&spk__default_allocator, list, size);
        spk__nomem("drop", size);
        return NULL;
    }
    va_list ap;
    va_start(ap, n);
    for (int k = 0; k < n; k++) {
        const char *name = va_arg(ap, const char *);
        for (int i = 0; name && i < ncols; i++)
            if (spk__name_eq(spk_schema_field(df->schema, i)->name, name, df->case_sensitive)) gone[i] = true;
    }
    va_end(ap);
    int total = 0;
    spk_df *r = NULL;
    int all = spk__all_columns(df, list, -1);
    if (all >= 0) {
        for (int i = 0; i < all; i++) {
            if (gone[i]) spk_expr_release(list[i]);
            else list[total++] = list[i];
        }
        r = spk__project(df, list, total);
    }
    spk__free(&spk__default_allocator, gone, (size_t)(ncols ? ncols : 1));
    spk__free(&spk__default_allocator, list, size);
    return r;
}

SPKDEF spk_df *spk_df_alias(spk_df *df, const char *alias) {
    if (!df) return NULL;
    if (!alias || !alias[0]) {
        spk__fail(SPK_ERR_ARG, "spk_df_alias: empty alias");
        return NULL;
    }
    int ncols = spk_schema_ncols(df->schema);
    size_t size = (size_t)(ncols ? ncols : 1) * sizeof(spk_expr *);
    spk_expr **list = (spk_expr **)spk__alloc(&spk__default_allocator, size);
    if (!list) {
        spk__nomem("alias", size);
        return NULL;
    }
    int n = spk__all_columns(df, list, -1);
    spk_df *r = n >= 0 ? spk__project(df, list, n) : NULL;
    spk__free(&spk__default_allocator, list, size);
    if (!r) return NULL;
    const spk_allocator *a = spk__df_alloc(r);
    for (int i = 0; i < ncols; i++) { /* every column now answers to the alias */
        if (r->qualifiers[i]) spk__free(a, r->qualifiers[i], strlen(r->qualifiers[i]) + 1);
        if (!(r->qualifiers[i] = spk__dup(a, alias))) return spk__df_fail(r);
    }
    if (!(r->alias = spk__dup(a, alias))) return spk__df_fail(r);
    return r;
}

/* ---------------------------------------------------------------- filter, limit, sort, ... */

SPKDEF spk_df *spk_df_filter(spk_df *df, spk_expr *condition) {
    if (!df || !condition) {
        spk_expr_release(condition);
        return NULL;
    }
    spk_df *f = spk__df_new(df->session, SPK__P_FILTER, df);
    if (!f || !spk__df_set_exprs(f, &condition, 1)) {
        if (!f) spk_expr_release(condition);
        return spk__df_fail(f);
    }
    if (spk__df_bind(f, df) != SPK_OK) return spk__df_fail(f);
    spk_type t = spk_bound_type(f->bound[0]);
    if (t.id != SPK_TYPE_BOOLEAN && t.id != SPK_TYPE_NULL) {
        char ty[32];
        spk_type_format(t, SPK_TYPE_SQL, ty, sizeof ty);
        spk__fail(SPK_ERR_TYPE, "[DATATYPE_MISMATCH.FILTER_NOT_BOOLEAN] Cannot resolve \"%s\": the filter has type \"%s\", not \"BOOLEAN\".",
                  spk_bound_name(f->bound[0]), ty);
        return spk__df_fail(f);
    }
    if (spk_bound_is_aggregate(f->bound[0])) {
        spk__fail(SPK_ERR_ANALYSIS, "[INVALID_WHERE_CONDITION] the WHERE condition \"%s\" contains an aggregate",
                  spk_bound_name(f->bound[0]));
        return spk__df_fail(f);
    }
    f->schema = spk_schema_retain(df->schema);
    int ncols = spk_schema_ncols(df->schema);
    f->qualifiers = (char **)spk__calloc(spk__df_alloc(f), (size_t)(ncols ? ncols : 1) * sizeof(char *));
    if (!f->qualifiers) return spk__df_fail(f);
    for (int i = 0; i < ncols; i++)
        if (df->qualifiers[i] && !(f->qualifiers[i] = spk__dup(spk__df_alloc(f), df->qualifiers[i]))) return spk__df_fail(f);
    return f;
}

SPKDEF spk_df *spk_df_where(spk_df *df, const char *condition_sql) {
    if (!df) return NULL;
    spk_expr *e = NULL;
    if (spk_expr_parse(condition_sql, &e) != SPK_OK) return NULL;
    return spk_df_filter(df, e);
}

/* A node with the same columns as its child (filter-like shape). */
static spk_df *spk__same_columns(spk_df *df, spk__pkind kind) {
    spk_df *n = spk__df_new(df->session, kind, df);
    if (!n) return NULL;
    n->schema = spk_schema_retain(df->schema);
    int ncols = spk_schema_ncols(df->schema);
    n->qualifiers = (char **)spk__calloc(spk__df_alloc(n), (size_t)(ncols ? ncols : 1) * sizeof(char *));
    if (!n->qualifiers) return spk__df_fail(n);
    for (int i = 0; i < ncols; i++)
        if (df->qualifiers[i] && !(n->qualifiers[i] = spk__dup(spk__df_alloc(n), df->qualifiers[i]))) return spk__df_fail(n);
    return n;
}

SPKDEF spk_df *spk_df_limit(spk_df *df, int64_t n) {
    if (!df) return NULL;
    if (n < 0) {
        spk__fail(SPK_ERR_ARG, "[INVALID_LIMIT_LIKE_EXPRESSION.IS_NEGATIVE] The limit must be >= 0, got %lld", (long long)n);
        return NULL;
    }
    spk_df *l = spk__same_columns(df, SPK__P_LIMIT);
    if (l) l->limit = n;
    return l;
}

SPKDEF spk_df *spk_df_offset(spk_df *df, int64_t n) {
    if (!df) return NULL;
    if (n < 0) {
        spk__fail(SPK_ERR_ARG, "[INVALID_LIMIT_LIKE_EXPRESSION.IS_NEGATIVE] The offset must be >= 0, got %lld", (long long)n);
        return NULL;
    }
    spk_df *l = spk__same_columns(df, SPK__P_LIMIT);
    if (l) l->offset = n;
    return l;
}

SPKDEF spk_df *spk_df_distinct(spk_df *df) {
    if (!df) return NULL;
    return spk__same_columns(df, SPK__P_DISTINCT);
}

static spk_expr *spk__sort_key(spk_expr *e, bool desc, bool nulls_first) {
    spk_expr *s = spk__unary(SPK__OP_SORT, e);
    if (s) {
        s->descending = desc;
        s->nulls_first = nulls_first;
    }
    return s;
}
/* Spark's defaults: ascending puts NULLs first, descending puts them last. */
SPKDEF spk_expr *spk_asc(spk_expr *e) { return spk__sort_key(e, false, true); }
SPKDEF spk_expr *spk_desc(spk_expr *e) { return spk__sort_key(e, true, false); }
SPKDEF spk_expr *spk_asc_nulls_last(spk_expr *e) { return spk__sort_key(e, false, false); }
SPKDEF spk_expr *spk_desc_nulls_first(spk_expr *e) { return spk__sort_key(e, true, true); }

SPKDEF spk_df *spk_df_order_by_array(spk_df *df, spk_expr *const *keys, int n) {
    if (!df || n < 1) {
        for (int i = 0; i < n; i++) spk_expr_release(keys[i]);
        if (df) spk__fail(SPK_ERR_ARG, "orderBy needs at least one key");
        return NULL;
    }
    spk_expr *stack[32], **list = stack;
    size_t size = (size_t)n * sizeof *list;
    if (n > 32 && !(list = (spk_expr **)spk__alloc(&spk__default_allocator, size))) {
        for (int i = 0; i < n; i++) spk_expr_release(keys[i]);
        spk__nomem("sort keys", size);
        return NULL;
    }
    bool ok = true;
    for (int i = 0; i < n; i++) {
        spk_expr *k = keys[i];
        if (k && k->op != SPK__OP_SORT) k = spk_asc(k);
        list[i] = k;
        ok = ok && k;
    }
    spk_df *s = ok ? spk__same_columns(df, SPK__P_SORT) : NULL;
    if (!s) {
        for (int i = 0; i < n; i++) spk_expr_release(list[i]);
    } else if (!spk__df_set_exprs(s, list, n) || spk__df_bind(s, df) != SPK_OK) {
        s = spk__df_fail(s);
    }
    if (list != stack) spk__free(&spk__default_allocator, list, size);
    return s;
}

SPKDEF spk_df *spk_df_sort_array(spk_df *df, spk_expr *const *keys, int n) { return spk_df_order_by_array(df, keys, n); }

SPKDEF spk_df *spk_df_order_by(spk_df *df, int n, ...) {
    SPK__VA_EXPRS(n, n, result_ = spk_df_order_by_array(df, list_, n));
}

/* The output of a set operation: a's names (and aliases, as Spark keeps the
 * first input's attributes), each type the two inputs' common type. `op`
 * names it in errors. Nullability: either side's for UNION, both sides' for
 * INTERSECT, the first's for EXCEPT. */
static spk_df *spk__set_op(spk_df *a, spk_df *b, int kind, bool all, const char *op) {
    if (!a || !b) return NULL;
    if (a->session->alloc != b->session->alloc) { /* a session and its children share one */
        spk__fail(SPK_ERR_ARG, "%s: the DataFrames come from sessions with different allocators", op);
        return NULL;
    }
    int na = spk_schema_ncols(a->schema), nb = spk_schema_ncols(b->schema);
    if (na != nb) {
        spk__fail(SPK_ERR_SCHEMA, "[NUM_COLUMNS_MISMATCH] %s can only be performed on inputs with the same number of "
                                  "columns, but the first input has %d columns and the second input has %d columns.",
                  op, na, nb);
        return NULL;
    }
    spk_field stack[32], *fields = stack;
    size_t size = (size_t)(na ? na : 1) * sizeof *fields;
    if (na > 32 && !(fields = (spk_field *)spk__alloc(&spk__default_allocator, size))) {
        spk__nomem("a set operation", size);
        return NULL;
    }
    bool ok = true;
    for (int i = 0; i < na && ok; i++) {
        const spk_field *fa = spk_schema_field(a->schema, i), *fb = spk_schema_field(b->schema, i);
        fields[i] = *fa;
        fields[i].nullable = kind == SPK__P_UNION ? fa->nullable || fb->nullable
                           : kind == SPK__P_INTERSECT ? fa->nullable && fb->nullable : fa->nullable;
        /* Spark widens to STRING, but not from BOOLEAN (TypeCoercion.stringPromotion) */
        bool boolean_string = (fa->type.id == SPK_TYPE_BOOLEAN && fb->type.id == SPK_TYPE_STRING) ||
                              (fa->type.id == SPK_TYPE_STRING && fb->type.id == SPK_TYPE_BOOLEAN);
        if (boolean_string || !spk__common_type(fa->type, fb->type, false, &fields[i].type)) {
            char x[32], y[32];
            spk_type_format(fa->type, SPK_TYPE_SQL, x, sizeof x);
            spk_type_format(fb->type, SPK_TYPE_SQL, y, sizeof y);
            spk__fail(SPK_ERR_SCHEMA, "[INCOMPATIBLE_COLUMN_TYPE] %s can only be performed on inputs with compatible "
                                      "column types: column %d (`%s`) is \"%s\" in the first input and \"%s\" in the second.",
                      op, i + 1, fa->name, x, y);
            ok = false;
        }
    }
    spk_df *u = ok ? spk__df_new(a->session, (spk__pkind)kind, a) : NULL;
    if (u) {
        u->right = spk_df_retain(b);
        u->all = all;
        if (!spk__df_set_output(u, fields, na, a->qualifiers)) u = spk__df_fail(u);
    }
    if (fields != stack) spk__free(&spk__default_allocator, fields, size);
    return u;
}

SPKDEF spk_df *spk_df_union_all(spk_df *a, spk_df *b) { return spk_df_union(a, b); }

SPKDEF spk_df *spk_df_union(spk_df *a, spk_df *b) { return spk__set_op(a, b, SPK__P_UNION, true, "UNION"); }
SPKDEF spk_df *spk_df_intersect(spk_df *a, spk_df *b) { return spk__set_op(a, b, SPK__P_INTERSECT, false, "INTERSECT"); }
SPKDEF spk_df *spk_df_intersect_all(spk_df *a, spk_df *b) { return spk__set_op(a, b, SPK__P_INTERSECT, true, "INTERSECT"); }
SPKDEF spk_df *spk_df_subtract(spk_df *a, spk_df *b) { return spk__set_op(a, b, SPK__P_EXCEPT, false, "EXCEPT"); }
SPKDEF spk_df *spk_df_except_all(spk_df *a, spk_df *b) { return spk__set_op(a, b, SPK__P_EXCEPT, true, "EXCEPT"); }

/* A reference to column `name` of a frame whose alias is `qualifier` (or none). */
static spk_expr *spk__col_ref(const char *qualifier, const char *name) {
    spk_expr *c = spk__with_name(spk__expr_new(SPK__OP_COL, 0), name, strlen(name));
    if (c && qualifier && !(c->qualifier = spk__strndup(spk__expr_alloc(), qualifier, strlen(qualifier)))) {
        spk_expr_release(c);
        spk__nomem("a column qualifier", strlen(qualifier) + 1);
        return NULL;
    }
    return c;
}

/* A NULL of type t named `name`, for a column one input of a union lacks. */
static spk_expr *spk__null_column(spk_type t, const char *name) {
    return spk_alias(spk_cast(spk_lit_null(), t), name);
}

/* A list of n expressions on the heap; releases them all if any is NULL. */
static spk_expr **spk__expr_list(int n) {
    size_t size = (size_t)(n > 0 ? n : 1) * sizeof(spk_expr *);
    spk_expr **l = (spk_expr **)spk__calloc(&spk__default_allocator, size);
    if (!l) spk__nomem("expressions", size);
    return l;
}
static void spk__expr_list_free(spk_expr **l, int n, int made) {
    for (int i = 0; i < made; i++) spk_expr_release(l[i]);
    spk__free(&spk__default_allocator, l, (size_t)(n > 0 ? n : 1) * sizeof(spk_expr *));
}

SPKDEF spk_df *spk_df_union_by_name(spk_df *a, spk_df *b, bool allow_missing_columns) {
    if (!a || !b) return NULL;
    bool cs = a->case_sensitive;
    int na = spk_schema_ncols(a->schema), nb = spk_schema_ncols(b->schema), extra = 0;
    bool *used = (bool *)spk__calloc(&spk__default_allocator, (size_t)(nb ? nb : 1));
    spk_expr **lb = used ? spk__expr_list(na + nb) : NULL, **la = lb ? spk__expr_list(na + nb) : NULL;
    int mb = 0, ma = 0;
    bool ok = la != NULL;
    if (!used) spk__nomem("unionByName", (size_t)nb);
    /* b reordered by a's names (Spark's ResolveUnion) */
    for (int i = 0; ok && i < na; i++) {
        const spk_field *fa = spk_schema_field(a->schema, i);
        int j = 0;
        while (j < nb && !spk__name_eq(spk_schema_field(b->schema, j)->name, fa->name, cs)) j++;
        if (j < nb) {
            used[j] = true;
            ok = (lb[mb++] = spk__col_ref(b->qualifiers[j], spk_schema_field(b->schema, j)->name)) != NULL;
        } else if (allow_missing_columns) {
            ok = (lb[mb++] = spk__null_column(fa->type, fa->name)) != NULL;
        } else {
            spk__fail(SPK_ERR_SCHEMA, "[UNRESOLVED_COLUMN_AMONG_FIELD_NAMES] Cannot resolve column name `%s` among (", fa->name);
            for (int k = 0; k < nb; k++) spk__fail_append("%s%s", k ? ", " : "", spk_schema_field(b->schema, k)->name);
            spk__fail_append(").");
            ok = false;
        }
    }
    /* b's other columns go last; a gets NULLs for them if allowed, else the
     * union fails on the column count, as Spark's */
    for (int j = 0; ok && j < nb; j++) {
        if (used[j]) continue;
        extra++;
        ok = (lb[mb++] = spk__col_ref(b->qualifiers[j], spk_schema_field(b->schema, j)->name)) != NULL;
    }
    spk_df *r = NULL;
    if (ok && allow_missing_columns && extra) {
        for (int i = 0; ok && i < na; i++)
            ok = (la[ma++] = spk__col_ref(a->qualifiers[i], spk_schema_field(a->schema, i)->name)) != NULL;
        for (int j = 0; ok && j < nb; j++)
            if (!used[j]) ok = (la[ma++] = spk__null_column(spk_schema_field(b->schema, j)->type, spk_schema_field(b->schema, j)->name)) != NULL;
    }
    if (ok) {
        spk_df *pa = ma ? spk__project(a, la, ma) : spk_df_retain(a);
        spk_df *pb = spk__project(b, lb, mb);
        ma = mb = 0; /* consumed */
        r = pa && pb ? spk_df_union(pa, pb) : NULL;
        spk_df_release(pa);
        spk_df_release(pb);
    }
    if (la) spk__expr_list_free(la, na + nb, ma);
    if (lb) spk__expr_list_free(lb, na + nb, mb);
    if (used) spk__free(&spk__default_allocator, used, (size_t)(nb ? nb : 1));
    return r;
}

/* ---------------------------------------------------------------- joins */

/* Spark's JoinType names: case-insensitive, underscores ignored. */
static bool spk__join_type(const char *how, spk__jtype *out) {
    static const struct { const char *name; spk__jtype type; } names[] = {
        {"inner", SPK__J_INNER},     {"cross", SPK__J_CROSS},     {"outer", SPK__J_FULL},
        {"full", SPK__J_FULL},       {"fullouter", SPK__J_FULL},  {"left", SPK__J_LEFT},
        {"leftouter", SPK__J_LEFT},  {"right", SPK__J_RIGHT},     {"rightouter", SPK__J_RIGHT},
        {"semi", SPK__J_SEMI},       {"leftsemi", SPK__J_SEMI},   {"anti", SPK__J_ANTI},
        {"leftanti", SPK__J_ANTI},
    };
    if (!how) {
        *out = SPK__J_INNER;
        return true;
    }
    char norm[16];
    size_t n = 0;
    for (const char *p = how; *p; p++) {
        if (*p == '_') continue;
        if (n + 1 >= sizeof norm) break;
        norm[n++] = (char)spk__lower((unsigned char)*p);
    }
    norm[n] = '\0';
    for (size_t i = 0; n + 1 < sizeof norm && i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(norm, names[i].name) == 0) {
            *out = names[i].type;
            return true;
        }
    }
    spk__fail(SPK_ERR_ARG, "[UNSUPPORTED_JOIN_TYPE] Unsupported join type '%s'. Supported join types include: 'inner', "
                           "'outer', 'full', 'fullouter', 'full_outer', 'leftouter', 'left', 'left_outer', 'rightouter', "
                           "'right', 'right_outer', 'leftsemi', 'left_semi', 'semi', 'leftanti', 'left_anti', 'anti', 'cross'.",
              how);
    return false;
}

/* A JOIN node; `on` (consumed) may be NULL: every pair of rows qualifies. */
static spk_df *spk__join(spk_df *left, spk_df *right, spk_expr *on, spk__jtype type) {
    if (left->session->alloc != right->session->alloc) {
        spk_expr_release(on);
        spk__fail(SPK_ERR_ARG, "join: the DataFrames come from sessions with different allocators");
        return NULL;
    }
    int nl = spk_schema_ncols(left->schema), nr = spk_schema_ncols(right->schema), n = nl + nr;
    const spk_allocator *a = &spk__default_allocator;
    size_t fsize = (size_t)(n ? n : 1) * sizeof(spk_field), qsize = (size_t)(n ? n : 1) * sizeof(char *);
    spk_field *fields = (spk_field *)spk__alloc(a, fsize);
    char **quals = fields ? (char **)spk__alloc(a, qsize) : NULL;
    spk_df *j = quals ? spk__df_new(left->session, (spk__pkind)SPK__P_JOIN, left) : NULL;
    spk_schema *input = NULL;
    bool ok = j != NULL;
    if (!quals) spk__nomem("a join", fsize + qsize);
    if (ok) {
        j->right = spk_df_retain(right);
        j->join = (uint8_t)type;
        for (int i = 0; i < n; i++) {
            const spk_df *side = i < nl ? left : right;
            fields[i] = *spk_schema_field(side->schema, i < nl ? i : i - nl);
            quals[i] = side->qualifiers[i < nl ? i : i - nl];
        }
        /* The condition sees both sides' columns, as they are. */
        ok = spk__schema_make(a, fields, n, true, &input) == SPK_OK;
    }
    if (on) { /* consumed either way */
        if (ok) ok = spk__df_set_exprs(j, &on, 1);
        else spk_expr_release(on);
        on = NULL;
    }
    if (ok && j->nexprs) {
        ok = spk__bind_scoped_udfs(j->exprs[0], input, (const char *const *)quals, j->case_sensitive, j->session->udfs,
                                   &j->bound[0]) == SPK_OK;
        spk_type t = ok ? spk_bound_type(j->bound[0]) : spk_type_of(SPK_TYPE_BOOLEAN);
        if (t.id != SPK_TYPE_BOOLEAN && t.id != SPK_TYPE_NULL) {
            char ty[32];
            spk_type_format(t, SPK_TYPE_SQL, ty, sizeof ty);
            spk__fail(SPK_ERR_TYPE, "[JOIN_CONDITION_IS_NOT_BOOLEAN_TYPE] The join condition \"%s\" has the invalid type "
                                    "\"%s\", expected \"BOOLEAN\".", spk_bound_name(j->bound[0]), ty);
            ok = false;
        } else if (ok && spk_bound_is_aggregate(j->bound[0])) {
            spk__fail(SPK_ERR_ANALYSIS, "[UNSUPPORTED_EXPR_FOR_OPERATOR] A query operator contains one or more unsupported "
                                   "expressions. Consider to rewrite it to avoid window functions, aggregate functions, "
                                   "and generator functions in the WHERE clause. Invalid expressions: [%s]",
                      spk_bound_name(j->bound[0]));
            ok = false;
        }
    }
    if (ok) {
        /* Outer joins make the side that may be missing nullable; semi and
         * anti joins keep only the left columns. */
        for (int i = 0; i < n; i++)
            if ((i < nl && (type == SPK__J_RIGHT || type == SPK__J_FULL)) || (i >= nl && (type == SPK__J_LEFT || type == SPK__J_FULL)))
                fields[i].nullable = true;
        ok = spk__df_set_output(j, fields, type == SPK__J_SEMI || type == SPK__J_ANTI ? nl : n, quals);
    }
    spk_expr_release(on);
    spk_schema_release(input);
    if (quals) spk__free(a, quals, qsize);
    if (fields) spk__free(a, fields, fsize);
    return ok ? j : spk__df_fail(j);
}

SPKDEF spk_df *spk_df_join(spk_df *left, spk_df *right, spk_expr *on, const char *how) {
    spk__jtype type;
    if (!left || !right || !spk__join_type(how, &type)) {
        spk_expr_release(on);
        return NULL;
    }
    if (!on && type != SPK__J_CROSS) {
        spk__fail(SPK_ERR_ARG, "join: no join condition for a %s join; a cartesian product needs how \"cross\" "
                               "(or spk_df_cross_join)", how ? how : "inner");
        return NULL;
    }
    return spk__join(left, right, on, type == SPK__J_CROSS && on ? SPK__J_INNER : type);
}

SPKDEF spk_df *spk_df_cross_join(spk_df *left, spk_df *right) { return spk_df_join(left, right, NULL, "cross"); }

/* Where a USING column is on one side, or -1 with Spark's error. */
static int spk__using_column(const spk_df *side, const char *name, const char *which) {
    int ncols = spk_schema_ncols(side->schema), found = -1, matches = 0;
    for (int i = 0; i < ncols; i++) {
        if (!spk__name_eq(spk_schema_field(side->schema, i)->name, name, side->case_sensitive)) continue;
        if (found < 0) found = i;
        matches++;
    }
    if (matches == 1) return found;
    if (matches > 1) {
        spk__fail(SPK_ERR_AMBIGUOUS, "[AMBIGUOUS_REFERENCE] Reference `%s` is ambiguous on the %s side of the join.", name, which);
        return -1;
    }
    spk__fail(SPK_ERR_NOT_FOUND, "[UNRESOLVED_USING_COLUMN_FOR_JOIN] USING column `%s` cannot be resolved on the %s side "
                                 "of the join. The %s-side columns: [", name, which, which);
    for (int i = 0; i < ncols; i++) spk__fail_append("%s`%s`", i ? ", " : "", spk_schema_field(side->schema, i)->name);
    spk__fail_append("].");
    return -1;
}

/* The sides of a USING join are aliased apart, so the condition and the
 * output can name each side's column even when both sides have the same
 * names and aliases; the output then gets the sides' own aliases back. */
#define SPK__USING_LEFT "__spk_using_left"
#define SPK__USING_RIGHT "__spk_using_right"

SPKDEF spk_df *spk_df_join_using(spk_df *left, spk_df *right, const char *const *names, int n, const char *how) {
    spk__jtype type;
    if (!left || !right || !spk__join_type(how, &type)) return NULL;
    if (n < 0 || (n && !names)) {
        spk__fail(SPK_ERR_ARG, "spk_df_join_using: bad column list");
        return NULL;
    }
    int nl = spk_schema_ncols(left->schema), nr = spk_schema_ncols(right->schema), nout = nl + nr;
    const spk_allocator *a = &spk__default_allocator;
    size_t isize = (size_t)(nl + nr + 2) * sizeof(int);
    int *lkey = (int *)spk__alloc(a, isize), *rkey = lkey ? lkey + nl + 1 : NULL; /* per column: its key number, or -1 */
    spk_expr **list = lkey ? spk__expr_list(nout) : NULL;
    if (!lkey) spk__nomem("a join", isize);
    bool ok = list != NULL;
    int *lk = NULL, *rk = NULL; /* per key: its column on each side */
    size_t ksize = (size_t)(n ? n : 1) * 2 * sizeof(int);
    if (ok && !(lk = (int *)spk__alloc(a, ksize))) {
        spk__nomem("a join", ksize);
        ok = false;
    }
    if (ok) {
        rk = lk + n;
        for (int i = 0; i < nl; i++) lkey[i] = -1;
        for (int i = 0; i < nr; i++) rkey[i] = -1;
    }
    spk_expr *cond = NULL;
    int nkeys = 0;
    for (int k = 0; ok && k < n; k++) {
        if (!names[k]) {
            spk__fail(SPK_ERR_ARG, "spk_df_join_using: NULL column name");
            ok = false;
            break;
        }
        int l = spk__using_column(left, names[k], "left"), r = l >= 0 ? spk__using_column(right, names[k], "right") : -1;
        if (r < 0) {
            ok = false;
            break;
        }
        if (lkey[l] >= 0) continue; /* a name given twice */
        lkey[l] = nkeys;
        rkey[r] = nkeys;
        lk[nkeys] = l;
        rk[nkeys++] = r;
        spk_expr *eq = spk_eq(spk__col_ref(SPK__USING_LEFT, spk_schema_field(left->schema, l)->name),
                              spk__col_ref(SPK__USING_RIGHT, spk_schema_field(right->schema, r)->name));
        cond = cond ? spk_and(cond, eq) : eq;
        ok = cond != NULL;
    }
    spk_df *la = ok ? spk_df_alias(left, SPK__USING_LEFT) : NULL, *ra = la ? spk_df_alias(right, SPK__USING_RIGHT) : NULL;
    spk_df *j = ra ? spk__join(la, ra, cond, type) : NULL;
    if (!ra) spk_expr_release(cond);
    spk_df_release(la);
    spk_df_release(ra);
    /* keys, then the other left columns, then the other right ones */
    const char *quals_stack[32], **quals = quals_stack;
    size_t qsize = (size_t)(nout ? nout : 1) * sizeof *quals;
    if (j && nout > 32 && !(quals = (const char **)spk__alloc(a, qsize))) {
        spk__nomem("a join", qsize);
        j = spk__df_fail(j);
    }
    int m = 0;
    ok = j != NULL;
    for (int k = 0; ok && k < nkeys; k++) {
        const char *lname = spk_schema_field(left->schema, lk[k])->name, *rname = spk_schema_field(right->schema, rk[k])->name;
        if (type == SPK__J_FULL) {
            spk_expr *args[2] = {spk__col_ref(SPK__USING_LEFT, lname), spk__col_ref(SPK__USING_RIGHT, rname)};
            list[m] = spk_alias(spk_call_array("coalesce", args, 2), lname);
            quals[m] = NULL;
        } else if (type == SPK__J_RIGHT) {
            list[m] = spk__col_ref(SPK__USING_RIGHT, rname);
            quals[m] = right->qualifiers[rk[k]];
        } else {
            list[m] = spk__col_ref(SPK__USING_LEFT, lname);
            quals[m] = left->qualifiers[lk[k]];
        }
        ok = list[m++] != NULL;
    }
    for (int i = 0; ok && i < nl; i++) {
        if (lkey[i] >= 0) continue;
        quals[m] = left->qualifiers[i];
        ok = (list[m++] = spk__col_ref(SPK__USING_LEFT, spk_schema_field(left->schema, i)->name)) != NULL;
    }
    for (int i = 0; ok && type != SPK__J_SEMI && type != SPK__J_ANTI && i < nr; i++) {
        if (rkey[i] >= 0) continue;
        quals[m] = right->qualifiers[i];
        ok = (list[m++] = spk__col_ref(SPK__USING_RIGHT, spk_schema_field(right->schema, i)->name)) != NULL;
    }
    spk_df *r = NULL;
    if (ok) {
        r = spk__project(j, list, m);
        for (int i = 0; r && i < m; i++) { /* the sides' own aliases again */
            const spk_allocator *da = spk__df_alloc(r);
            if (r->qualifiers[i]) spk__free(da, r->qualifiers[i], strlen(r->qualifiers[i]) + 1);
            r->qualifiers[i] = NULL;
            if (quals[i] && !(r->qualifiers[i] = spk__dup(da, quals[i]))) r = spk__df_fail(r);
        }
        m = 0;
    }
    spk_df_release(j);
    if (quals != quals_stack) spk__free(a, quals, qsize);
    if (list) spk__expr_list_free(list, nout, m);
    if (lk) spk__free(a, lk, ksize);
    if (lkey) spk__free(a, lkey, isize);
    return r;
}

/* ---------------------------------------------------------------- rows */

/* The column a name (possibly `alias.name`) resolves to, with the binder's errors. */
static int spk__resolve_column(const spk_df *df, const char *name) {
    if (!name) {
        spk__fail(SPK_ERR_ARG, "NULL column name");
        return -1;
    }
    spk_expr *e = spk_col(name);
    spk_bound *b = NULL;
    int col = -1;
    if (e && spk__bind_scoped_udfs(e, df->schema, (const char *const *)df->qualifiers, df->case_sensitive,
                                   df->session->udfs, &b) == SPK_OK) {
        if (b->root->kind == SPK__B_COL) col = b->root->col;
        else spk__fail(SPK_ERR_ARG, "`%s` is not a column", name);
    }
    spk_bound_free(b);
    spk_expr_release(e);
    return col;
}

/* Marks the columns of a subset list (NULL or n = 0: every column). */
static bool spk__subset_columns(const spk_df *df, const char *const *subset, int n, bool *mask) {
    int ncols = spk_schema_ncols(df->schema);
    for (int i = 0; i < ncols; i++) mask[i] = !subset || n <= 0;
    for (int k = 0; subset && k < n; k++) {
        int c = spk__resolve_column(df, subset[k]);
        if (c < 0) return false;
        mask[c] = true;
    }
    return true;
}

SPKDEF spk_df *spk_df_drop_duplicates(spk_df *df, const char *const *subset, int n) {
    if (!df) return NULL;
    int ncols = spk_schema_ncols(df->schema);
    bool *mask = (bool *)spk__calloc(&spk__default_allocator, (size_t)(ncols ? ncols : 1));
    spk_expr **list = mask ? spk__expr_list(ncols) : NULL;
    if (!mask) spk__nomem("dropDuplicates", (size_t)ncols);
    bool ok = list != NULL;
    /* Spark keys on every column with a listed name; unknown names fail. */
    for (int k = 0; ok && subset && k < n; k++) {
        bool found = false;
        for (int i = 0; subset[k] && i < ncols; i++)
            if (spk__name_eq(spk_schema_field(df->schema, i)->name, subset[k], df->case_sensitive)) mask[i] = found = true;
        if (!found) {
            spk__fail(SPK_ERR_NOT_FOUND, "[UNRESOLVED_COLUMN_AMONG_FIELD_NAMES] Cannot resolve column name `%s` among (",
                      subset[k] ? subset[k] : "NULL");
            for (int i = 0; i < ncols; i++) spk__fail_append("%s%s", i ? ", " : "", spk_schema_field(df->schema, i)->name);
            spk__fail_append(").");
            ok = false;
        }
    }
    int m = 0;
    bool every = true;
    for (int i = 0; ok && i < ncols; i++) every = every && mask[i];
    spk_df *d = ok ? spk__same_columns(df, (spk__pkind)SPK__P_DEDUP) : NULL;
    /* Keys as column references; every column (no list) needs none. */
    for (int i = 0; d && subset && n > 0 && !every && i < ncols; i++)
        if (mask[i] && !(list[m++] = spk__col_ref(df->qualifiers[i], spk_schema_field(df->schema, i)->name))) d = spk__df_fail(d);
    if (d && m) {
        bool set = spk__df_set_exprs(d, list, m);
        m = 0;
        if (!set || spk__df_bind(d, df) != SPK_OK) d = spk__df_fail(d);
        else d->nkeys = d->nexprs;
    }
    if (list) spk__expr_list_free(list, ncols, m);
    if (mask) spk__free(&spk__default_allocator, mask, (size_t)(ncols ? ncols : 1));
    return d;
}

SPKDEF spk_df *spk_df_fillna(spk_df *df, spk_value value, const char *const *subset, int n) {
    if (!df) return NULL;
    spk_type_id vt = (spk_type_id)value.type.id;
    bool numeric = vt == SPK_TYPE_INT32 || vt == SPK_TYPE_INT64 || vt == SPK_TYPE_DOUBLE || vt == SPK_TYPE_DECIMAL;
    if (value.is_null || !(numeric || vt == SPK_TYPE_STRING || vt == SPK_TYPE_BOOLEAN)) {
        char ty[32];
        spk_type_format(value.type, SPK_TYPE_SIMPLE, ty, sizeof ty);
        spk__fail(SPK_ERR_ARG, "fillna: value should be a number, a string or a boolean, not %s", value.is_null ? "NULL" : ty);
        return NULL;
    }
    int ncols = spk_schema_ncols(df->schema);
    bool *mask = (bool *)spk__calloc(&spk__default_allocator, (size_t)(ncols ? ncols : 1));
    spk_expr **list = mask ? spk__expr_list(ncols) : NULL;
    if (!mask) spk__nomem("fillna", (size_t)ncols);
    int m = list ? spk__all_columns(df, list, -1) : -1;
    bool ok = m >= 0 && spk__subset_columns(df, subset, n, mask);
    for (int i = 0; ok && i < ncols; i++) {
        const spk_field *f = spk_schema_field(df->schema, i);
        spk_type_id ct = (spk_type_id)f->type.id;
        bool fits = numeric ? (ct == SPK_TYPE_INT32 || ct == SPK_TYPE_INT64 || ct == SPK_TYPE_DOUBLE || ct == SPK_TYPE_DECIMAL)
                            : ct == vt;
        if (!mask[i] || !fits) continue;
        /* Spark's fillCol: coalesce(col, CAST(value AS type)), NaN counting as NULL in DOUBLE columns */
        spk_expr *col = list[i];
        list[i] = NULL;
        if (ct == SPK_TYPE_DOUBLE) {
            spk_expr *args[2] = {col, spk_cast(spk_lit_null(), f->type)};
            col = spk_call_array("nanvl", args, 2);
        }
        spk_expr *args[2] = {col, spk_cast(spk_lit(value), f->type)};
        ok = (list[i] = spk_alias(spk_call_array("coalesce", args, 2), f->name)) != NULL;
    }
    spk_df *r = NULL;
    if (ok) {
        r = spk__project(df, list, m);
        m = 0;
    }
    if (list) spk__expr_list_free(list, ncols, m < 0 ? 0 : m);
    if (mask) spk__free(&spk__default_allocator, mask, (size_t)(ncols ? ncols : 1));
    return r;
}

/* terms[0..n) combined pairwise into a balanced tree (so its height is log n). */
static spk_expr *spk__balanced(spk_expr **terms, int n, spk_expr *(*op)(spk_expr *, spk_expr *)) {
    if (n == 1) return terms[0];
    int half = n / 2;
    spk_expr *l = spk__balanced(terms, half, op);
    spk_expr *r = spk__balanced(terms + half, n - half, op);
    return op(l, r);
}

SPKDEF spk_df *spk_df_dropna(spk_df *df, const char *how, int thresh, const char *const *subset, int n) {
    if (!df) return NULL;
    if (how && strcmp(how, "any") != 0 && strcmp(how, "all") != 0) {
        spk__fail(SPK_ERR_ARG, "how ('%s') should be 'any' or 'all'", how);
        return NULL;
    }
    int ncols = spk_schema_ncols(df->schema);
    bool *mask = (bool *)spk__calloc(&spk__default_allocator, (size_t)(ncols ? ncols : 1));
    spk_expr **terms = mask ? spk__expr_list(ncols) : NULL;
    if (!mask) spk__nomem("dropna", (size_t)ncols);
    bool ok = terms && spk__subset_columns(df, subset, n, mask);
    int m = 0;
    /* a value counts when it is neither NULL nor NaN (Spark's AtLeastNNonNulls) */
    for (int i = 0; ok && i < ncols; i++) {
        if (!mask[i]) continue;
        const spk_field *f = spk_schema_field(df->schema, i);
        spk_expr *c = spk__col_ref(df->qualifiers[i], f->name);
        if (f->type.id == SPK_TYPE_DOUBLE) {
            spk_expr *args[2] = {c, spk_cast(spk_lit_null(), f->type)};
            c = spk_call_array("nanvl", args, 2);
        }
        ok = (terms[m++] = spk_is_not_null(c)) != NULL;
    }
    int need = thresh >= 0 ? thresh : how && strcmp(how, "all") == 0 ? 1 : m;
    spk_df *r = NULL;
    if (ok && (need <= 0 || m == 0)) { /* every row qualifies, or (need > 0, no columns) none */
        r = spk_df_filter(df, spk_lit_bool(need <= 0));
    } else if (ok) {
        spk_expr *cond;
        if (need == m) {
            cond = spk__balanced(terms, m, spk_and);
        } else if (need == 1) {
            cond = spk__balanced(terms, m, spk_or);
        } else {
            for (int i = 0; i < m; i++) terms[i] = spk_otherwise(spk_when(NULL, terms[i], spk_lit_i32(1)), spk_lit_i32(0));
            cond = spk_ge(spk__balanced(terms, m, spk_add), spk_lit_i32(need));
        }
        m = 0;
        r = spk_df_filter(df, cond);
    }
    if (terms) spk__expr_list_free(terms, ncols, m);
    if (mask) spk__free(&spk__default_allocator, mask, (size_t)(ncols ? ncols : 1));
    return r;
}

SPKDEF spk_df *spk_df_sample(spk_df *df, double fraction, uint64_t seed) {
    if (!df) return NULL;
    if (!(fraction >= 0 && fraction <= 1)) {
        char text[SPK_VALUE_TEXT_MAX];
        spk_value v = spk_value_f64(fraction);
        spk_value_format(&v, text, sizeof text);
        spk__fail(SPK_ERR_ARG, "requirement failed: Sampling fraction (%s) must be on interval [0, 1] without replacement", text);
        return NULL;
    }
    spk_df *s = spk__same_columns(df, (spk__pkind)SPK__P_SAMPLE);
    if (s) {
        s->fraction = fraction;
        s->seed = seed;
    }
    return s;
}

/* ---------------------------------------------------------------- aggregation */

SPKDEF spk_df *spk_df_group_agg(spk_df *df, spk_expr *const *keys, int nkeys, spk_expr *const *aggs, int naggs) {
    int n = nkeys + naggs;
    if (!df || nkeys < 0 || naggs < 0) {
        for (int i = 0; i < nkeys; i++) spk_expr_release(keys[i]);
        for (int i = 0; i < naggs; i++) spk_expr_release(aggs[i]);
        return NULL;
    }
    spk_expr *stack[32], **list = stack;
    size_t size = (size_t)(n ? n : 1) * sizeof *list;
    if (n > 32 && !(list = (spk_expr **)spk__alloc(&spk__default_allocator, size))) {
        for (int i = 0; i < nkeys; i++) spk_expr_release(keys[i]);
        for (int i = 0; i < naggs; i++) spk_expr_release(aggs[i]);
        spk__nomem("an aggregation", size);
        return NULL;
    }
    bool ok = true;
    for (int i = 0; i < nkeys; i++) ok = ok && (list[i] = keys[i]) != NULL;
    for (int i = 0; i < naggs; i++) ok = ok && (list[nkeys + i] = aggs[i]) != NULL;
    spk_df *g = ok ? spk__df_new(df->session, SPK__P_AGG, df) : NULL;
    if (!g) {
        for (int i = 0; i < n; i++) spk_expr_release(list[i]);
        if (list != stack) spk__free(&spk__default_allocator, list, size);
        return NULL;
    }
    g->nkeys = nkeys;
    bool set = spk__df_set_exprs(g, list, n);
    if (list != stack) spk__free(&spk__default_allocator, list, size);
    if (!set || spk__df_bind(g, df) != SPK_OK) return spk__df_fail(g);
    for (int i = nkeys; i < n; i++) { /* a column outside any aggregate must be a grouping key */
        const spk__bnode *bare = spk__bare_column_except(g->bound[i]->root, g);
        if (bare) {
            spk__fail(SPK_ERR_ANALYSIS,
                      "[MISSING_AGGREGATION] The non-aggregating expression \"%s\" is based on columns which are not "
                      "participating in the GROUP BY clause: `%s`.",
                      spk_bound_name(g->bound[i]), bare->name);
            return spk__df_fail(g);
        }
    }
    for (int i = 0; i < nkeys; i++) {
        if (spk_bound_is_aggregate(g->bound[i])) {
            spk__fail(SPK_ERR_ANALYSIS, "[GROUP_BY_AGGREGATE] Aggregate functions are not allowed in GROUP BY, but found %s.",
                      spk_bound_name(g->bound[i]));
            return spk__df_fail(g);
        }
    }
    /* An output may use grouping columns outside its aggregates only where
     * they are grouping keys themselves (checked when it runs each group). */
    spk_field stack_f[32], *fields = stack_f;
    char *stack_q[32], **quals = stack_q;
    size_t fsize = (size_t)(n ? n : 1) * sizeof *fields, qsize = (size_t)(n ? n : 1) * sizeof *quals;
    if (n > 32) {
        fields = (spk_field *)spk__alloc(spk__df_alloc(g), fsize);
        quals = fields ? (char **)spk__alloc(spk__df_alloc(g), qsize) : NULL;
        if (!quals) {
            if (fields) spk__free(spk__df_alloc(g), fields, fsize);
            spk__nomem("an aggregation", fsize);
            return spk__df_fail(g);
        }
    }
    for (int i = 0; i < n; i++) {
        const spk_expr *e = g->exprs[i];
        fields[i].name = e->op == SPK__OP_COL ? e->name : spk_bound_name(g->bound[i]);
        fields[i].type = spk_bound_type(g->bound[i]);
        fields[i].nullable = spk_bound_nullable(g->bound[i]) || fields[i].type.id == SPK_TYPE_NULL;
        quals[i] = e->op == SPK__OP_COL && g->bound[i]->root->kind == SPK__B_COL ? df->qualifiers[g->bound[i]->root->col] : NULL;
    }
    ok = spk__df_set_output(g, fields, n, quals);
    if (fields != stack_f) {
        spk__free(spk__df_alloc(g), fields, fsize);
        spk__free(spk__df_alloc(g), quals, qsize);
    }
    return ok ? g : spk__df_fail(g);
}

SPKDEF spk_df *spk_df_agg(spk_df *df, int n, ...) {
    SPK__VA_EXPRS(n, n, result_ = spk_df_group_agg(df, NULL, 0, list_, n));
}

/* groupBy(keys).count() / .sum(cols) / .avg / .min / .max: `function` over
 * each named column, or over every numeric column that is not a key when
 * none are named (count takes none and names its column "count"). Keys are
 * consumed. */
static spk_df *spk__group_shortcut(spk_df *df, spk_expr *const *keys, int nkeys, const char *function,
                                   const char *const *cols, int ncols) {
    int nc = df ? spk_schema_ncols(df->schema) : 0, naggs = 0;
    bool count = strcmp(function, "count") == 0;
    size_t size = (size_t)(count ? 1 : (ncols > 0 ? ncols : nc) + 1) * sizeof(spk_expr *);
    spk_expr **aggs = df ? (spk_expr **)spk__alloc(&spk__default_allocator, size) : NULL;
    if (!aggs) {
        if (df) spk__nomem("an aggregation", size);
        for (int k = 0; k < nkeys; k++) spk_expr_release(keys[k]);
        return NULL;
    }
    if (count) {
        aggs[naggs++] = spk_alias(spk_call("count", 1, spk_star()), "count");
    } else if (ncols > 0) {
        for (int i = 0; i < ncols; i++) aggs[naggs++] = spk_call(function, 1, spk_col(cols[i]));
    } else {
        for (int i = 0; i < nc; i++) {
            const spk_field *f = spk_schema_field(df->schema, i);
            bool is_key = false;
            for (int k = 0; k < nkeys && !is_key; k++)
                is_key = keys[k] && keys[k]->op == SPK__OP_COL && spk__name_eq(keys[k]->name, f->name, df->case_sensitive);
            if (!is_key && spk__is_numeric((spk_type_id)f->type.id)) {
                spk_expr *c = spk__with_name(spk__expr_new(SPK__OP_COL, 0), f->name, strlen(f->name));
                aggs[naggs++] = spk_call(function, 1, c);
            }
        }
    }
    spk_df *g = spk_df_group_agg(df, keys, nkeys, aggs, naggs);
    spk__free(&spk__default_allocator, aggs, size);
    return g;
}

SPKDEF spk_df *spk_df_group_count(spk_df *df, spk_expr *const *keys, int nkeys) {
    return spk__group_shortcut(df, keys, nkeys, "count", NULL, 0);
}
SPKDEF spk_df *spk_df_group_sum(spk_df *df, spk_expr *const *keys, int nkeys, const char *const *cols, int ncols) {
    return spk__group_shortcut(df, keys, nkeys, "sum", cols, ncols);
}
SPKDEF spk_df *spk_df_group_avg(spk_df *df, spk_expr *const *keys, int nkeys, const char *const *cols, int ncols) {
    return spk__group_shortcut(df, keys, nkeys, "avg", cols, ncols);
}
SPKDEF spk_df *spk_df_group_min(spk_df *df, spk_expr *const *keys, int nkeys, const char *const *cols, int ncols) {
    return spk__group_shortcut(df, keys, nkeys, "min", cols, ncols);
}
SPKDEF spk_df *spk_df_group_max(spk_df *df, spk_expr *const *keys, int nkeys, const char *const *cols, int ncols) {
    return spk__group_shortcut(df, keys, nkeys, "max", cols, ncols);
}
