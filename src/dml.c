/* dml: DELETE, UPDATE and MERGE as functions from a table version to the next. */
#include "json.c"
#include "dml.h"

/* Each statement takes a table version (read-only, possibly shared with
 * readers) and builds a new table with the same schema, allocated with the
 * version's allocator; nothing here touches the catalog. Clauses run as
 * "arms" over a batch of input rows: every row takes the first arm whose
 * condition is true, conditions evaluated only for rows still undecided (as
 * Delta's CASE WHEN), and the rows of arms that write are assembled column
 * by column from evaluated vectors and appended in input order. */

/* ---------------------------------------------------------------- the MERGE statement */

typedef enum spk__merge_action { SPK__MERGE_UPDATE, SPK__MERGE_UPDATE_ALL, SPK__MERGE_DELETE, SPK__MERGE_INSERT,
                                 SPK__MERGE_INSERT_ALL } spk__merge_action;

typedef struct spk__merge_clause {
    bool matched;              /* whenMatched; false: whenNotMatched */
    spk__merge_action action;
    spk_expr *condition;       /* NULL: always */
    int n;                     /* UPDATE / INSERT: assignments */
    char **columns;            /* n target column names (copies) */
    spk_expr **values;         /* n expressions (owned references) */
} spk__merge_clause;

struct spk_merge {
    const spk_allocator *alloc;        /* &spk__default_allocator */
    char *target;                      /* as given: "t" or "db.t" */
    char *target_alias, *source_alias; /* NULL when not given */
    spk_df *source;                    /* the source DataFrame (a reference), or NULL when built by spk__merge_alloc */
    spk_expr *on;
    int nclauses;
    spk__merge_clause *clauses;
};

/* Delta's builder method for a clause: "whenMatchedUpdate", "whenNotMatchedInsertAll". */
static const char *spk__merge_clause_name(bool matched, spk__merge_action action) {
    static const char *const names[2][5] = {
        {"whenNotMatchedUpdate", "whenNotMatchedUpdateAll", "whenNotMatchedDelete", "whenNotMatchedInsert",
         "whenNotMatchedInsertAll"},
        {"whenMatchedUpdate", "whenMatchedUpdateAll", "whenMatchedDelete", "whenMatchedInsert", "whenMatchedInsertAll"}};
    return (unsigned)action <= SPK__MERGE_INSERT_ALL ? names[matched][action] : "an unknown clause";
}

static char *spk__merge_strdup(const spk_allocator *a, const char *s) {
    char *p = s ? spk__strndup(a, s, strlen(s)) : NULL;
    if (s && !p) spk__nomem("a name", strlen(s) + 1);
    return p;
}

static void spk__merge_strfree(const spk_allocator *a, char *s) {
    if (s) spk__free(a, s, strlen(s) + 1);
}

static void spk__merge_clause_clear(const spk_allocator *a, spk__merge_clause *c) {
    spk_expr_release(c->condition);
    for (int i = 0; i < c->n; i++) {
        if (c->columns) spk__merge_strfree(a, c->columns[i]);
        if (c->values) spk_expr_release(c->values[i]);
    }
    if (c->columns) spk__free(a, c->columns, (size_t)c->n * sizeof *c->columns);
    if (c->values) spk__free(a, c->values, (size_t)c->n * sizeof *c->values);
    memset(c, 0, sizeof *c);
}

SPKDEF void spk_merge_free(spk_merge *m) {
    if (!m) return;
    const spk_allocator *a = m->alloc;
    for (int i = 0; i < m->nclauses; i++) spk__merge_clause_clear(a, &m->clauses[i]);
    if (m->clauses) spk__free(a, m->clauses, (size_t)m->nclauses * sizeof *m->clauses);
    spk__merge_strfree(a, m->target);
    spk__merge_strfree(a, m->target_alias);
    spk__merge_strfree(a, m->source_alias);
    spk_df_release(m->source);
    spk_expr_release(m->on);
    spk__free(a, m, sizeof *m);
}

/* The shared constructor: copies the names, retains source, consumes on. */
static spk_merge *spk__merge_new(const char *fn, const char *target, const char *target_alias, spk_df *source,
                                 const char *source_alias, spk_expr *on) {
    const char *bad = !target || !target[0]          ? "the target table name is NULL or empty"
                      : !on                          ? "the ON condition is NULL (an earlier call may have failed)"
                      : target_alias && !target_alias[0] ? "the target alias is empty (pass NULL for none)"
                      : source_alias && !source_alias[0] ? "the source alias is empty (pass NULL for none)"
                                                         : NULL;
    if (bad) {
        spk_expr_release(on);
        spk__fail(SPK_ERR_ARG, "%s: %s", fn, bad);
        return NULL;
    }
    const spk_allocator *a = &spk__default_allocator;
    spk_merge *m = (spk_merge *)spk__calloc(a, sizeof *m);
    if (!m) {
        spk_expr_release(on);
        spk__nomem("a merge", sizeof *m);
        return NULL;
    }
    m->alloc = a;
    m->on = on;
    m->source = spk_df_retain(source);
    if (!(m->target = spk__merge_strdup(a, target)) || (target_alias && !(m->target_alias = spk__merge_strdup(a, target_alias))) ||
        (source_alias && !(m->source_alias = spk__merge_strdup(a, source_alias)))) {
        spk_merge_free(m);
        return NULL;
    }
    return m;
}

SPKDEF spk_merge *spk_merge_into(const char *target, const char *target_alias, spk_df *source, const char *source_alias,
                                 spk_expr *on) {
    if (!source) {
        spk_expr_release(on);
        spk__fail(SPK_ERR_ARG, "spk_merge_into: NULL source DataFrame (an earlier call may have failed)");
        return NULL;
    }
    return spk__merge_new("spk_merge_into", target, target_alias, source, source_alias, on);
}

/* A merge with no source (the transaction decoder builds these; it passes the source rows separately). */
static spk_merge *spk__merge_alloc(const char *target, const char *target_alias, const char *source_alias, spk_expr *on) {
    return spk__merge_new("merge", target, target_alias, NULL, source_alias, on);
}

/* Everything spk__merge_add_clause checks before it takes anything over. */
static spk_status spk__merge_check_clause(const spk_merge *m, bool matched, spk__merge_action action, int n,
                                          const char *const *columns, spk_expr *const *values) {
    if (!m) return spk__fail(SPK_ERR_ARG, "merge clause: NULL merge");
    const char *name = spk__merge_clause_name(matched, action);
    int number = m->nclauses + 1;
    if ((unsigned)action > SPK__MERGE_INSERT_ALL) return spk__fail(SPK_ERR_ARG, "merge clause %d: unknown action %d", number, (int)action);
    if (matched ? action > SPK__MERGE_DELETE : action < SPK__MERGE_INSERT)
        return spk__fail(SPK_ERR_ARG, "merge clause %d (%s): %s", number, name,
                         matched ? "a whenMatched clause updates or deletes" : "a whenNotMatched clause inserts");
    bool assigns = action == SPK__MERGE_UPDATE || action == SPK__MERGE_INSERT;
    if (!assigns && n != 0)
        return spk__fail(SPK_ERR_ARG, "merge clause %d (%s): takes no assignments (got %d)", number, name, n);
    if (assigns) {
        if (n < 1 || !columns || !values)
            return spk__fail(SPK_ERR_ARG, "merge clause %d (%s): needs at least one column and value to assign", number, name);
        for (int i = 0; i < n; i++) {
            if (!columns[i] || !columns[i][0])
                return spk__fail(SPK_ERR_ARG, "merge clause %d (%s): assignment %d has no column name", number, name, i + 1);
            if (!values[i])
                return spk__fail(SPK_ERR_ARG, "merge clause %d (%s): the value assigned to `%s` is NULL (an earlier call "
                                              "may have failed)", number, name, columns[i]);
            for (int j = 0; j < i; j++)
                if (spk__name_eq(columns[i], columns[j], false))
                    return spk__fail(SPK_ERR_ARG, "merge clause %d (%s): column `%s` is assigned twice", number, name, columns[i]);
        }
    }
    /* Delta: only the last clause of a kind may lack a condition (a later one could never apply). */
    for (int k = 0; k < m->nclauses; k++) {
        const spk__merge_clause *c = &m->clauses[k];
        if (c->matched == matched && !c->condition)
            return spk__fail(SPK_ERR_ARG, "merge clause %d (%s): only the last %s clause may omit its condition, and clause %d "
                                          "(%s) has none", number, name, matched ? "whenMatched" : "whenNotMatched", k + 1,
                             spk__merge_clause_name(c->matched, c->action));
    }
    return SPK_OK;
}

/* Adds a clause (consumes condition and values, also on error). Checks: matched clauses may be UPDATE/UPDATE_ALL/DELETE,
 * not-matched ones INSERT/INSERT_ALL; n >= 1 for UPDATE/INSERT, columns non-NULL, no column assigned twice (case-insensitive)
 * -> SPK_ERR_ARG naming the clause. (Delta also requires that only the last clause of a kind may lack a condition:
 * enforce it, SPK_ERR_ARG.) The public spk_merge_when_* functions are thin wrappers over this. */
static spk_status spk__merge_add_clause(spk_merge *m, bool matched, spk__merge_action action, spk_expr *condition, int n,
                                        const char *const *columns, spk_expr *const *values) {
    int owned = n > 0 && values ? n : 0; /* the values this call consumes */
    spk_status st = spk__merge_check_clause(m, matched, action, n, columns, values);
    if (st != SPK_OK) {
        spk_expr_release(condition);
        for (int i = 0; i < owned; i++) spk_expr_release(values[i]);
        return st;
    }
    const spk_allocator *a = m->alloc;
    spk__merge_clause c;
    memset(&c, 0, sizeof c);
    c.matched = matched;
    c.action = action;
    c.condition = condition;
    if (action == SPK__MERGE_UPDATE || action == SPK__MERGE_INSERT) {
        c.columns = (char **)spk__calloc(a, (size_t)n * sizeof *c.columns);
        c.values = c.columns ? (spk_expr **)spk__calloc(a, (size_t)n * sizeof *c.values) : NULL;
        if (!c.values) {
            if (c.columns) spk__free(a, c.columns, (size_t)n * sizeof *c.columns);
            c.columns = NULL;
            st = spk__nomem("a merge clause's assignments", (size_t)n * (sizeof(char *) + sizeof(spk_expr *)));
            for (int i = 0; i < n; i++) spk_expr_release(values[i]);
        } else {
            c.n = n;
            for (int i = 0; i < n; i++) { /* the clause owns every value from here on */
                c.values[i] = values[i];
                if (st == SPK_OK && !(c.columns[i] = spk__merge_strdup(a, columns[i]))) st = SPK_ERR_NOMEM;
            }
        }
    }
    /* The list grows last, so that its size always matches nclauses. */
    size_t grown = (size_t)(m->nclauses + 1) * sizeof *m->clauses;
    spk__merge_clause *list = st == SPK_OK ? (spk__merge_clause *)spk__realloc(a, m->clauses, (size_t)m->nclauses * sizeof *m->clauses, grown) : NULL;
    if (st == SPK_OK && !list) st = spk__nomem("a merge clause", grown);
    if (st != SPK_OK) {
        spk__merge_clause_clear(a, &c); /* releases the condition and the values it holds */
        return st;
    }
    m->clauses = list;
    m->clauses[m->nclauses++] = c;
    return SPK_OK;
}

SPKDEF spk_status spk_merge_when_matched_update(spk_merge *m, spk_expr *condition, int n, const char *const *columns,
                                                spk_expr *const *values) {
    return spk__merge_add_clause(m, true, SPK__MERGE_UPDATE, condition, n, columns, values);
}
SPKDEF spk_status spk_merge_when_matched_update_all(spk_merge *m, spk_expr *condition) {
    return spk__merge_add_clause(m, true, SPK__MERGE_UPDATE_ALL, condition, 0, NULL, NULL);
}
SPKDEF spk_status spk_merge_when_matched_delete(spk_merge *m, spk_expr *condition) {
    return spk__merge_add_clause(m, true, SPK__MERGE_DELETE, condition, 0, NULL, NULL);
}
SPKDEF spk_status spk_merge_when_not_matched_insert(spk_merge *m, spk_expr *condition, int n, const char *const *columns,
                                                    spk_expr *const *values) {
    return spk__merge_add_clause(m, false, SPK__MERGE_INSERT, condition, n, columns, values);
}
SPKDEF spk_status spk_merge_when_not_matched_insert_all(spk_merge *m, spk_expr *condition) {
    return spk__merge_add_clause(m, false, SPK__MERGE_INSERT_ALL, condition, 0, NULL, NULL);
}

/* ---------------------------------------------------------------- arms over rows */

/* The rows arms run over: a table, the schema expressions are bound
 * against (the table's, or one with the same columns), each column's
 * qualifier, and the rows that take no arm at all. */
typedef struct spk__dml_input {
    const spk_table *table;
    spk_schema *schema;
    const char *const *qualifiers; /* per column (an entry may be NULL: unqualified names only) */
    const uint8_t *skip;           /* per table row: nonzero rows take no arm; NULL: none skipped */
    bool case_sensitive;
    spk_udf_registry *udfs;        /* the session's, for UDFs called by name; NULL: none */
} spk__dml_input;

/* A bound expression with the working memory of its evaluation. */
typedef struct spk__dml_eval {
    spk_bound *bound; /* NULL: none */
    spk__runner run;
    bool running;        /* run is initialised */
    unsigned long batch; /* the batch whose columns run holds */
} spk__dml_eval;

enum { SPK__ARM_KEEP, SPK__ARM_UPDATE, SPK__ARM_DELETE, SPK__ARM_INSERT };

typedef struct spk__dml_arm {
    int kind;
    char label[64];       /* for messages: "clause 2 (whenMatchedUpdate)", or "" */
    const char *cond_name; /* "WHERE", "condition" */
    spk__dml_eval cond;   /* bound NULL: every row that reaches the arm */
    spk__dml_eval *value; /* per output column: the assigned expression, or bound NULL */
    int *from;            /* per output column without a value: the input column stored, or -1 for NULL */
    int64_t rows;         /* rows that took the arm */
} spk__dml_arm;

typedef struct spk__dml_plan {
    const spk_allocator *alloc; /* the output's: scratch comes from it too */
    const char *table;          /* display name, for messages */
    spk_schema *out;            /* the written rows' schema */
    spk__dml_input in;
    int narms;
    spk__dml_arm *arms;
} spk__dml_plan;

static void spk__dml_eval_clear(spk__dml_eval *e) {
    if (e->running) spk__runner_free(&e->run);
    spk_bound_free(e->bound);
    memset(e, 0, sizeof *e);
}

static void spk__dml_plan_clear(spk__dml_plan *p) {
    int nout = spk_schema_ncols(p->out);
    for (int k = 0; k < p->narms; k++) {
        spk__dml_arm *arm = &p->arms[k];
        spk__dml_eval_clear(&arm->cond);
        for (int c = 0; arm->value && c < nout; c++) spk__dml_eval_clear(&arm->value[c]);
        if (arm->value) spk__free(p->alloc, arm->value, (size_t)(nout ? nout : 1) * sizeof *arm->value);
        if (arm->from) spk__free(p->alloc, arm->from, (size_t)(nout ? nout : 1) * sizeof *arm->from);
    }
    if (p->arms) spk__free(p->alloc, p->arms, (size_t)(p->narms ? p->narms : 1) * sizeof *p->arms);
    p->arms = NULL;
    p->narms = 0;
}

/* Room for `narms` arms whose rows, by default, store nothing (NULL) in each column. */
static spk_status spk__dml_plan_arms(spk__dml_plan *p, int narms) {
    int nout = spk_schema_ncols(p->out);
    size_t nc = (size_t)(nout ? nout : 1);
    p->arms = (spk__dml_arm *)spk__calloc(p->alloc, (size_t)(narms ? narms : 1) * sizeof *p->arms);
    if (!p->arms) return spk__nomem("a statement's clauses", (size_t)narms * sizeof *p->arms);
    p->narms = narms;
    for (int k = 0; k < narms; k++) {
        spk__dml_arm *arm = &p->arms[k];
        arm->value = (spk__dml_eval *)spk__calloc(p->alloc, nc * sizeof *arm->value);
        arm->from = arm->value ? (int *)spk__alloc(p->alloc, nc * sizeof *arm->from) : NULL;
        if (!arm->from) return spk__nomem("a clause's columns", nc * (sizeof *arm->value + sizeof *arm->from));
        for (int c = 0; c < nout; c++) arm->from[c] = -1;
    }
    return SPK_OK;
}

/* arm writes its input rows unchanged (the input being a table of the output's schema). */
static void spk__dml_keep(spk__dml_plan *p, spk__dml_arm *arm) {
    arm->kind = SPK__ARM_KEEP;
    for (int c = 0; c < spk_schema_ncols(p->out); c++) arm->from[c] = c;
}

/* Binds e against the input's columns; a condition must be BOOLEAN. */
static spk_status spk__dml_bind(const spk__dml_input *in, const spk_expr *e, bool condition, spk_bound **out) {
    *out = NULL;
    spk_bound *b = NULL;
    spk_status st = spk__bind_scoped_udfs(e, in->schema, in->qualifiers, in->case_sensitive, in->udfs, &b);
    if (st != SPK_OK) return st;
    spk_type t = spk_bound_type(b);
    char ty[32];
    if (spk_bound_is_aggregate(b))
        st = spk__fail(SPK_ERR_ANALYSIS, "aggregate functions are not allowed here: \"%s\"", spk_bound_name(b));
    else if (condition && t.id != SPK_TYPE_BOOLEAN && t.id != SPK_TYPE_NULL)
        st = spk__fail(SPK_ERR_TYPE, "the condition \"%s\" is of type %s, not BOOLEAN", spk_bound_name(b),
                       spk__type_sql_name(t, ty, sizeof ty));
    if (st != SPK_OK) {
        spk_bound_free(b);
        return st;
    }
    *out = b;
    return SPK_OK;
}

static spk_status spk__dml_storable(const spk__dml_plan *p, int col, spk_type from) {
    const spk_field *f = spk_schema_field(p->out, col);
    if (spk__storable(from, f->type)) return SPK_OK;
    return spk__fail(SPK_ERR_TYPE, "cannot assign %s to column `%s` %s of table %s", spk__type_sql(from).s, f->name,
                     spk__type_sql(f->type).s, p->table);
}

/* The output column an assignment names. */
static spk_status spk__dml_target_column(const spk__dml_plan *p, const char *name, int *col) {
    *col = spk_schema_index(p->out, name, p->in.case_sensitive);
    if (*col >= 0) return SPK_OK;
    spk__fail(SPK_ERR_NOT_FOUND, "cannot assign to column `%s`: table %s has no such column.", name, p->table);
    const char *names[64];
    int n = spk_schema_ncols(p->out) < 64 ? spk_schema_ncols(p->out) : 64;
    for (int i = 0; i < n; i++) names[i] = spk_schema_field(p->out, i)->name;
    spk__fail_suggest(name, names, n);
    return SPK_ERR_NOT_FOUND;
}

/* arm sets column `name` to `value`; errors say which clause and column. */
static spk_status spk__dml_assign(spk__dml_plan *p, spk__dml_arm *arm, const char *name, const spk_expr *value) {
    int col;
    spk_status st = spk__dml_target_column(p, name, &col);
    if (st == SPK_OK && arm->value[col].bound)
        st = spk__fail(SPK_ERR_ARG, "column `%s` is assigned twice", spk_schema_field(p->out, col)->name);
    spk_bound *b = NULL;
    if (st == SPK_OK) st = spk__dml_bind(&p->in, value, false, &b);
    if (st == SPK_OK) st = spk__dml_storable(p, col, spk_bound_type(b));
    if (st != SPK_OK) {
        spk_bound_free(b);
        spk__fail_prefix("%s%sSET `%s`: ", arm->label, arm->label[0] ? ", " : "", name);
        return st;
    }
    arm->value[col].bound = b;
    return SPK_OK;
}

static spk_status spk__dml_condition(spk__dml_plan *p, spk__dml_arm *arm, const spk_expr *condition, const char *name) {
    arm->cond_name = name;
    if (!condition) return SPK_OK;
    spk_status st = spk__dml_bind(&p->in, condition, true, &arm->cond.bound);
    if (st != SPK_OK) spk__fail_prefix("%s%s%s: ", arm->label, arm->label[0] ? " " : "", name);
    return st;
}

/* One batch of input rows. */
typedef struct spk__dml_batch {
    const spk__chunk *chunk;
    uint32_t start, n;
    unsigned long id;
} spk__dml_batch;

/* Evaluates e for the rows sel of the batch; *out is the result vector. */
static spk_status spk__dml_eval_rows(const spk__dml_plan *p, spk__dml_eval *e, const spk__dml_batch *b, const uint32_t *sel,
                                     uint32_t m, const spk__vec **out) {
    if (!e->running) {
        spk_status st = spk__runner_init(&e->run, e->bound->root, e->bound->nslots);
        if (st != SPK_OK) return st;
        e->running = true;
    }
    if (e->batch != b->id) { /* load the batch's columns once */
        e->batch = b->id;
        spk__arena_reset(&e->run.ev.arena);
        int ncols = spk_schema_ncols(e->bound->schema);
        for (int j = 0; j < ncols; j++)
            if (e->bound->col_slot[j] >= 0)
                spk__load_column(p->in.table, b->chunk, b->start, b->n, j, &e->run.ev.vecs[e->bound->col_slot[j]]);
    }
    spk__eval_node(&e->run, e->bound->root, sel, m);
    if (e->run.ev.status != SPK_OK) return e->run.ev.status;
    *out = &e->run.ev.vecs[e->bound->root->slot];
    return SPK_OK;
}

/* Stores rows sel of src (NULL: NULLs) into dst, output column `col`, as
 * insertInto stores values: widened to the column's type, checked per value. */
static spk_status spk__dml_store(const spk__dml_plan *p, int col, spk__vec *dst, const spk__vec *src, const uint32_t *sel,
                                 uint32_t m) {
    const spk_field *f = spk_schema_field(p->out, col);
    if (!src || spk_type_equal(src->type, dst->type)) {
        size_t w = spk__phys_size((spk_type_id)dst->type.id);
        for (uint32_t k = 0; k < m; k++) {
            uint32_t i = sel[k];
            if (src) memcpy((char *)dst->v.any + i * w, (const char *)src->v.any + i * w, w);
            dst->nulls[i] = src ? src->nulls[i] : 1;
            if (dst->nulls[i] && !f->nullable)
                return spk__fail(SPK_ERR_NULL, "NULL value in non-nullable column `%s` of table %s", f->name, p->table);
        }
        return SPK_OK;
    }
    for (uint32_t k = 0; k < m; k++) {
        uint32_t i = sel[k];
        spk_value x = spk__vec_get(src, i), y;
        spk_status st = spk__coerce_cell(f, &x, &y);
        if (st == SPK_ERR_NULL)
            return spk__fail(SPK_ERR_NULL, "NULL value in non-nullable column `%s` of table %s", f->name, p->table);
        if (st != SPK_OK) {
            spk__fail_prefix("column `%s` of table %s: ", f->name, p->table);
            return st;
        }
        spk__vec_set(dst, i, &y);
    }
    return SPK_OK;
}

/* Vectors of SPK__BATCH values for the given types, in one block. */
typedef struct spk__dml_vecs {
    const spk_allocator *alloc;
    void *block;
    size_t size;
    spk__vec *vecs;
} spk__dml_vecs;

static spk_status spk__dml_vecs_new(spk__dml_vecs *v, const spk_allocator *a, const spk_schema *s) {
    int n = spk_schema_ncols(s);
    size_t size = (size_t)(n ? n : 1) * sizeof(spk__vec) + 16;
    for (int i = 0; i < n; i++) size += SPK__BATCH * (1 + spk__phys_size((spk_type_id)spk_schema_field(s, i)->type.id)) + 16;
    memset(v, 0, sizeof *v);
    v->alloc = a;
    v->block = spk__calloc(a, size);
    if (!v->block) return spk__nomem("column vectors", size);
    v->size = size;
    v->vecs = (spk__vec *)v->block;
    char *at = (char *)(v->vecs + (n ? n : 1));
    for (int i = 0; i < n; i++) {
        spk__vec *x = &v->vecs[i];
        x->type = spk_schema_field(s, i)->type;
        at = (char *)(((uintptr_t)at + 15) & ~(uintptr_t)15);
        x->v.any = at;
        at += SPK__BATCH * spk__phys_size((spk_type_id)x->type.id);
        x->nulls = (uint8_t *)at;
        at += SPK__BATCH;
    }
    return SPK_OK;
}

static void spk__dml_vecs_free(spk__dml_vecs *v) {
    if (v->block) spk__free(v->alloc, v->block, v->size);
    v->block = NULL;
}

/* Runs the arms over every input row, appending the rows of the arms that
 * write to `out` in input order. chosen (optional): per input row, the arm
 * it took, or -1. On error `out` may hold some rows (the caller drops it). */
static spk_status spk__dml_execute(spk__dml_plan *p, spk_table *out, int32_t *chosen) {
    const spk_table *t = p->in.table;
    int nout = spk_schema_ncols(p->out), nin = spk_schema_ncols(p->in.schema);
    spk__dml_vecs outv, inv;
    memset(&inv, 0, sizeof inv);
    spk_status st = spk__dml_vecs_new(&outv, p->alloc, p->out);
    if (st == SPK_OK) st = spk__dml_vecs_new(&inv, p->alloc, p->in.schema);
    /* per arm its rows, then the undecided rows, the written rows, each row's arm, each input vector's batch */
    size_t sels = ((size_t)p->narms + 2) * SPK__BATCH * sizeof(uint32_t), arm_of = SPK__BATCH * sizeof(int32_t),
           loaded = (size_t)(nin ? nin : 1) * sizeof(unsigned long), size = sels + arm_of + loaded;
    char *scratch = st == SPK_OK ? (char *)spk__calloc(p->alloc, size) : NULL;
    if (st == SPK_OK && !scratch) st = spk__nomem("a statement's selections", size);
    uint32_t *ntake = NULL;
    if (st == SPK_OK && !(ntake = (uint32_t *)spk__calloc(p->alloc, (size_t)(p->narms ? p->narms : 1) * sizeof *ntake)))
        st = spk__nomem("a statement's selections", (size_t)p->narms * sizeof *ntake);
    uint32_t *take = NULL, *und = NULL, *written = NULL;
    int32_t *arm_at = NULL;
    unsigned long *in_batch = NULL, id = 0;
    if (st == SPK_OK) {
        take = (uint32_t *)(void *)scratch;
        und = take + (size_t)p->narms * SPK__BATCH;
        written = und + SPK__BATCH;
        arm_at = (int32_t *)(void *)(scratch + sels);
        in_batch = (unsigned long *)(void *)(scratch + sels + arm_of);
    }
    for (size_t ci = 0; st == SPK_OK && ci < t->nchunks; ci++) {
        const spk__chunk *c = t->chunks[ci];
        for (uint32_t start = 0; st == SPK_OK && start < c->nrows; start += SPK__BATCH) {
            spk__dml_batch b = {c, start, c->nrows - start < SPK__BATCH ? c->nrows - start : SPK__BATCH, ++id};
            size_t row0 = c->first_row + start;
            uint32_t nund = 0;
            for (uint32_t i = 0; i < b.n; i++) {
                arm_at[i] = -1;
                if (!p->in.skip || !p->in.skip[row0 + i]) und[nund++] = i;
            }
            /* Each row takes the first arm whose condition holds; later
             * conditions see only the rows still undecided. */
            for (int k = 0; k < p->narms; k++) {
                spk__dml_arm *arm = &p->arms[k];
                uint32_t *mine = take + (size_t)k * SPK__BATCH, n = 0;
                if (nund && arm->cond.bound) {
                    const spk__vec *v = NULL;
                    if ((st = spk__dml_eval_rows(p, &arm->cond, &b, und, nund, &v)) != SPK_OK) {
                        spk__fail_prefix("%s%s%s: ", arm->label, arm->label[0] ? " " : "", arm->cond_name ? arm->cond_name : "condition");
                        break;
                    }
                    uint32_t kept = 0;
                    for (uint32_t j = 0; j < nund; j++) {
                        uint32_t i = und[j];
                        if (!v->nulls[i] && v->v.b[i]) mine[n++] = i;
                        else und[kept++] = i;
                    }
                    nund = kept;
                } else if (nund) {
                    memcpy(mine, und, nund * sizeof *und);
                    n = nund;
                    nund = 0;
                }
                ntake[k] = n;
                arm->rows += n;
                for (uint32_t j = 0; j < n; j++) arm_at[mine[j]] = k;
            }
            if (st != SPK_OK) break;
            if (chosen) memcpy(chosen + row0, arm_at, b.n * sizeof *arm_at);
            uint32_t nw = 0;
            bool as_is = true; /* every written row is its input row unchanged */
            for (uint32_t i = 0; i < b.n; i++) {
                int k = arm_at[i];
                if (k < 0 || p->arms[k].kind == SPK__ARM_DELETE) continue;
                written[nw++] = i;
                as_is &= p->arms[k].kind == SPK__ARM_KEEP;
            }
            if (nw == 0) continue;
            if (as_is) { /* keep arms exist only where the input is a table of the output's schema */
                st = spk__table_append_slots(out, t, c, start, written, nw);
                continue;
            }
            for (int k = 0; st == SPK_OK && k < p->narms; k++) {
                spk__dml_arm *arm = &p->arms[k];
                const uint32_t *mine = take + (size_t)k * SPK__BATCH;
                if (!ntake[k] || arm->kind == SPK__ARM_DELETE) continue;
                for (int col = 0; st == SPK_OK && col < nout; col++) {
                    const spk__vec *src = NULL;
                    if (arm->value[col].bound) {
                        st = spk__dml_eval_rows(p, &arm->value[col], &b, mine, ntake[k], &src);
                    } else if (arm->from[col] >= 0) {
                        int from = arm->from[col];
                        if (in_batch[from] != b.id) {
                            in_batch[from] = b.id;
                            spk__load_column(t, c, start, b.n, from, &inv.vecs[from]);
                        }
                        src = &inv.vecs[from];
                    }
                    if (st == SPK_OK) st = spk__dml_store(p, col, &outv.vecs[col], src, mine, ntake[k]);
                    if (st != SPK_OK && arm->label[0])
                        spk__fail_prefix("%s, SET `%s`: ", arm->label, spk_schema_field(p->out, col)->name);
                }
            }
            if (st != SPK_OK) break;
            spk__vec *cols[256], **colv = cols;
            if (nout > 256 && !(colv = (spk__vec **)spk__alloc(p->alloc, (size_t)nout * sizeof *colv))) {
                st = spk__nomem("column vectors", (size_t)nout * sizeof *colv);
                break;
            }
            for (int col = 0; col < nout; col++) colv[col] = &outv.vecs[col];
            st = spk__table_append_vecs(out, colv, written, nw);
            if (colv != cols) spk__free(p->alloc, colv, (size_t)nout * sizeof *colv);
        }
    }
    if (ntake) spk__free(p->alloc, ntake, (size_t)(p->narms ? p->narms : 1) * sizeof *ntake);
    if (scratch) spk__free(p->alloc, scratch, size);
    spk__dml_vecs_free(&inv);
    spk__dml_vecs_free(&outv);
    return st;
}

/* ---------------------------------------------------------------- DELETE and UPDATE */

/* A table's name without its database: what its columns may be qualified by. */
static const char *spk__dml_short_name(const char *table) {
    const char *dot = strrchr(table, '.');
    return dot && dot[1] ? dot + 1 : table;
}

/* The plan of a statement over one table's rows, columns qualified by its name. */
static spk_status spk__dml_plan_rows(spk__dml_plan *p, const char *table, const spk_table *rows, bool case_sensitive,
                                     spk_udf_registry *udfs, const char ***qualifiers) {
    memset(p, 0, sizeof *p);
    p->alloc = rows->alloc;
    p->table = table;
    p->out = rows->schema;
    p->in.table = rows;
    p->in.schema = rows->schema;
    p->in.case_sensitive = case_sensitive;
    p->in.udfs = udfs;
    int n = spk_schema_ncols(rows->schema);
    size_t size = (size_t)(n ? n : 1) * sizeof(const char *);
    const char **q = (const char **)spk__alloc(p->alloc, size);
    if (!q) return spk__nomem("column qualifiers", size);
    for (int i = 0; i < n; i++) q[i] = spk__dml_short_name(table);
    p->in.qualifiers = q;
    *qualifiers = q;
    return SPK_OK;
}

static void spk__dml_plan_rows_free(spk__dml_plan *p, const char **qualifiers) {
    int n = spk_schema_ncols(p->out);
    spk__dml_plan_clear(p);
    if (qualifiers) spk__free(p->alloc, (void *)qualifiers, (size_t)(n ? n : 1) * sizeof *qualifiers);
}

/* Runs a planned statement into a new table of the rows' schema. */
static spk_status spk__dml_run_rows(spk__dml_plan *p, spk_table **out) {
    spk_table *result = NULL;
    spk_status st = spk_table_new(p->alloc, p->out, &result);
    if (st == SPK_OK) st = spk__dml_execute(p, result, NULL);
    if (st != SPK_OK) {
        spk_table_free(result);
        return st;
    }
    *out = result;
    return SPK_OK;
}

static spk_status spk__dml_check_args(const char *fn, const spk_table *rows, spk_table **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "%s: NULL output", fn);
    *out = NULL;
    if (!rows) return spk__fail(SPK_ERR_ARG, "%s: NULL table", fn);
    return SPK_OK;
}

/* table: the target's display name "db.table" (for messages; its part after the '.' is the default target alias).
 * rows / target / source: borrowed, read-only (never append to them). *out: a NEW table with exactly rows'/target's
 * schema (same column names, types, nullability), allocated with target's allocator (t->alloc). metrics (may be NULL):
 * ADDED to (+=), not overwritten. On any error nothing is returned and nothing leaks.
 * where NULL: every row; rows where `where` is NULL are kept (SQL: only TRUE deletes). */
static spk_status spk__dml_delete(const char *table, const spk_table *rows, const spk_expr *where, bool case_sensitive,
                                  spk_udf_registry *udfs, spk_table **out, spk_dml_metrics *metrics) {
    spk_status st = spk__dml_check_args("delete", rows, out);
    if (st != SPK_OK) return st;
    if (!table) table = "?";
    spk__dml_plan p;
    const char **q = NULL;
    st = spk__dml_plan_rows(&p, table, rows, case_sensitive, udfs, &q);
    if (st == SPK_OK) st = spk__dml_plan_arms(&p, where ? 2 : 1);
    if (st == SPK_OK) {
        p.arms[0].kind = SPK__ARM_DELETE;
        if (where) {
            spk__dml_keep(&p, &p.arms[1]);
            st = spk__dml_condition(&p, &p.arms[0], where, "WHERE");
        }
    }
    if (st == SPK_OK) st = spk__dml_run_rows(&p, out);
    if (st == SPK_OK && metrics) metrics->deleted += p.arms[0].rows;
    spk__dml_plan_rows_free(&p, q);
    return st;
}

/* where NULL: every row; rows keep their order. */
static spk_status spk__dml_update(const char *table, const spk_table *rows, int n, char *const *columns,
                                  spk_expr *const *values, const spk_expr *where, bool case_sensitive,
                                  spk_udf_registry *udfs, spk_table **out, spk_dml_metrics *metrics) {
    spk_status st = spk__dml_check_args("update", rows, out);
    if (st != SPK_OK) return st;
    if (!table) table = "?";
    if (n < 1 || !columns || !values) return spk__fail(SPK_ERR_ARG, "update of %s: needs at least one column and value to assign", table);
    for (int i = 0; i < n; i++)
        if (!columns[i] || !values[i])
            return spk__fail(SPK_ERR_ARG, "update of %s: assignment %d has a NULL %s", table, i + 1, columns[i] ? "value" : "column");
    spk__dml_plan p;
    const char **q = NULL;
    st = spk__dml_plan_rows(&p, table, rows, case_sensitive, udfs, &q);
    if (st == SPK_OK) st = spk__dml_plan_arms(&p, where ? 2 : 1);
    if (st == SPK_OK) {
        spk__dml_arm *arm = &p.arms[0];
        arm->kind = SPK__ARM_UPDATE;
        for (int c = 0; c < spk_schema_ncols(p.out); c++) arm->from[c] = c;
        for (int i = 0; st == SPK_OK && i < n; i++) st = spk__dml_assign(&p, arm, columns[i], values[i]);
        if (st == SPK_OK && where) {
            spk__dml_keep(&p, &p.arms[1]);
            st = spk__dml_condition(&p, arm, where, "WHERE");
        }
    }
    if (st == SPK_OK) st = spk__dml_run_rows(&p, out);
    if (st == SPK_OK && metrics) metrics->updated += p.arms[0].rows;
    spk__dml_plan_rows_free(&p, q);
    return st;
}

/* ---------------------------------------------------------------- MERGE */

/* A copy of the columns of t marked in `use`, then a BIGINT column `name`
 * holding each row's number: what the join matches on. */
static spk_status spk__merge_with_row_ids(const spk_allocator *a, const spk_table *t, const bool *use, const char *name,
                                          spk_table **out) {
    int n = t->ncols, m = 0;
    size_t fsize = (size_t)(n + 1) * (sizeof(spk_field) + sizeof(int));
    spk_field *fields = (spk_field *)spk__alloc(a, fsize);
    if (!fields) return spk__nomem("a schema", fsize);
    int *from = (int *)(void *)(fields + n + 1);
    for (int i = 0; i < n; i++) {
        if (!use[i]) continue;
        fields[m] = *spk_schema_field(t->schema, i);
        from[m++] = i;
    }
    fields[m].name = name;
    fields[m].type = spk_type_of(SPK_TYPE_INT64);
    fields[m].nullable = false;
    spk_schema *s = NULL;
    spk_table *copy = NULL;
    spk__dml_vecs v;
    memset(&v, 0, sizeof v);
    spk_status st = spk_schema_new(a, fields, m + 1, &s);
    if (st == SPK_OK) st = spk_table_new(a, s, &copy);
    if (st == SPK_OK) st = spk__dml_vecs_new(&v, a, s);
    spk_schema_release(s);
    size_t csize = (size_t)(m + 1) * sizeof(spk__vec *);
    spk__vec **cols = st == SPK_OK ? (spk__vec **)spk__alloc(a, csize) : NULL;
    if (st == SPK_OK && !cols) st = spk__nomem("column vectors", csize);
    for (int i = 0; st == SPK_OK && i <= m; i++) cols[i] = &v.vecs[i];
    for (size_t ci = 0; st == SPK_OK && ci < t->nchunks; ci++) {
        const spk__chunk *c = t->chunks[ci];
        for (uint32_t start = 0; st == SPK_OK && start < c->nrows; start += SPK__BATCH) {
            uint32_t rows = c->nrows - start < SPK__BATCH ? c->nrows - start : SPK__BATCH;
            for (int k = 0; k < m; k++) spk__load_column(t, c, start, rows, from[k], &v.vecs[k]);
            for (uint32_t i = 0; i < rows; i++) {
                v.vecs[m].v.i64[i] = (int64_t)(c->first_row + start + i);
                v.vecs[m].nulls[i] = 0;
            }
            st = spk__table_append_vecs(copy, cols, NULL, rows);
        }
    }
    if (cols) spk__free(a, cols, csize);
    spk__dml_vecs_free(&v);
    spk__free(a, fields, fsize);
    if (st != SPK_OK) {
        spk_table_free(copy);
        return st;
    }
    *out = copy;
    return SPK_OK;
}

/* `base`, or base_N, whichever first names no column of a or b (case-insensitive). */
static void spk__merge_row_id_name(char *buf, size_t cap, const char *base, const spk_schema *a, const spk_schema *b) {
    snprintf(buf, cap, "%s", base);
    for (int k = 1; spk_schema_index(a, buf, false) >= 0 || spk_schema_index(b, buf, false) >= 0; k++)
        snprintf(buf, cap, "%s_%d", base, k);
}

/* A DataFrame over t, taken over (freed here if that fails), whose columns
 * answer to `alias` when it is given. The scan node is still ours alone, so
 * it takes the qualifiers itself: what spk_df_alias's projection gives, and
 * what the optimizer makes of one over a scan. */
static spk_df *spk__merge_frame(spk_session *s, spk_table *t, const char *alias) {
    spk_df *df = spk_df_from_table(s, t);
    if (!df) {
        spk_table_free(t);
        return NULL;
    }
    for (int i = 0; alias && i < spk_schema_ncols(df->schema); i++)
        if (!(df->qualifiers[i] = spk__dup(spk__df_alloc(df), alias))) return spk__df_fail(df);
    return df;
}

/* Row r of t: its chunk, and its index there. */
static const spk__chunk *spk__merge_locate(const spk_table *t, size_t r, uint32_t *index) {
    size_t lo = 0, hi = t->nchunks;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->chunks[mid]->first_row <= r) lo = mid;
        else hi = mid;
    }
    *index = (uint32_t)(r - t->chunks[lo]->first_row);
    return t->chunks[lo];
}

/* Appends the target's rows in order: fate[r] -1 keeps row r, -2 drops it,
 * u >= 0 writes row u of `updates` (the target's schema) in its place. */
static spk_status spk__merge_assemble(const spk_allocator *a, const spk_table *target, const int64_t *fate,
                                      const spk_table *updates, spk_table *out) {
    if (!fate) return spk__table_append_table(out, target);
    int n = target->ncols;
    spk__dml_vecs v;
    spk_status st = spk__dml_vecs_new(&v, a, target->schema);
    size_t size = (size_t)(n ? n : 1) * sizeof(spk__vec *) + SPK__BATCH * sizeof(uint32_t);
    char *scratch = st == SPK_OK ? (char *)spk__alloc(a, size) : NULL;
    if (st == SPK_OK && !scratch) st = spk__nomem("column vectors", size);
    spk__vec **cols = (spk__vec **)(void *)scratch;
    uint32_t *kept = scratch ? (uint32_t *)(void *)(scratch + (size_t)(n ? n : 1) * sizeof(spk__vec *)) : NULL;
    for (int i = 0; st == SPK_OK && i < n; i++) cols[i] = &v.vecs[i];
    for (size_t ci = 0; st == SPK_OK && ci < target->nchunks; ci++) {
        const spk__chunk *c = target->chunks[ci];
        for (uint32_t start = 0; st == SPK_OK && start < c->nrows; start += SPK__BATCH) {
            uint32_t m = c->nrows - start < SPK__BATCH ? c->nrows - start : SPK__BATCH, nk = 0;
            const int64_t *f = fate + c->first_row + start;
            bool changed = false;
            for (uint32_t i = 0; i < m; i++) changed |= f[i] != -1;
            if (!changed) { /* whole slots, as they are */
                st = spk__table_append_slots(out, target, c, start, NULL, m);
                continue;
            }
            for (int col = 0; col < n; col++) spk__load_column(target, c, start, m, col, &v.vecs[col]);
            for (uint32_t i = 0; i < m; i++) {
                if (f[i] == -2) continue;
                kept[nk++] = i;
                if (f[i] < 0) continue;
                uint32_t index;
                const spk__chunk *uc = spk__merge_locate(updates, (size_t)f[i], &index);
                for (int col = 0; col < n; col++) {
                    spk_value x;
                    spk__read_cell(updates, uc, index, col, &x);
                    spk__vec_set(&v.vecs[col], i, &x);
                }
            }
            st = spk__table_append_vecs(out, cols, kept, nk);
        }
    }
    if (scratch) spk__free(a, scratch, size);
    spk__dml_vecs_free(&v);
    return st;
}

/* Everything one merge allocates, freed in one place. */
typedef struct spk__merge_run {
    const spk_allocator *alloc; /* the target's */
    spk_session *session;
    const char *table;
    const spk_table *target, *source;
    const char *target_alias, *source_alias;
    int nt, ns, nview;
    spk_schema *view;          /* target columns, then source columns: what the ON condition and matched clauses see */
    const char **view_quals;   /* nview: the target alias, then the source alias */
    const char **source_quals; /* ns + 1: the source alias */
    bool *on_uses;             /* nview: the columns the ON condition reads */
    spk__dml_plan matched, inserts;
    spk_table *pairs;          /* the matched (target, source) pairs as rows of the view */
    spk_table *updates, *out;
    int64_t *trow, *srow;      /* per pair: its target row, its source row */
    int32_t *chosen;           /* per pair: the matched arm it took, or -1 */
    int64_t *fate;             /* per target row: see spk__merge_assemble */
    uint8_t *matched_source;   /* per source row: it matched a target row */
    size_t npairs;
} spk__merge_run;

static void spk__merge_run_free(spk__merge_run *r) {
    const spk_allocator *a = r->alloc;
    spk__dml_plan_clear(&r->matched);
    spk__dml_plan_clear(&r->inserts);
    size_t nv = (size_t)(r->nview ? r->nview : 1), nt_rows = r->target->nrows, ns_rows = r->source->nrows;
    if (r->view_quals) spk__free(a, (void *)r->view_quals, nv * sizeof *r->view_quals);
    if (r->on_uses) spk__free(a, r->on_uses, nv * sizeof *r->on_uses);
    if (r->source_quals) spk__free(a, (void *)r->source_quals, (size_t)(r->ns + 1) * sizeof *r->source_quals);
    spk_schema_release(r->view);
    spk_table_free(r->pairs);
    spk_table_free(r->updates);
    spk_table_free(r->out);
    if (r->trow) spk__free(a, r->trow, (r->npairs ? r->npairs : 1) * sizeof *r->trow);
    if (r->srow) spk__free(a, r->srow, (r->npairs ? r->npairs : 1) * sizeof *r->srow);
    if (r->chosen) spk__free(a, r->chosen, (r->npairs ? r->npairs : 1) * sizeof *r->chosen);
    if (r->fate) spk__free(a, r->fate, (nt_rows ? nt_rows : 1) * sizeof *r->fate);
    if (r->matched_source) spk__free(a, r->matched_source, ns_rows ? ns_rows : 1);
}

/* n elements of elem bytes (at least one), or NULL with the error set. */
static void *spk__merge_array(const spk_allocator *a, size_t n, size_t elem, const char *what) {
    size_t bytes;
    if (spk__mul_overflows(n ? n : 1, elem, &bytes)) {
        spk__nomem(what, SIZE_MAX);
        return NULL;
    }
    void *p = spk__alloc(a, bytes);
    if (!p) spk__nomem(what, bytes);
    return p;
}

/* The view's schema and qualifiers; the ON condition bound against it,
 * which also tells which columns the join needs. */
static spk_status spk__merge_view(spk__merge_run *r, const spk_merge *m) {
    const spk_allocator *a = r->alloc;
    size_t nv = (size_t)(r->nview ? r->nview : 1);
    spk_field *fields = (spk_field *)spk__merge_array(a, nv, sizeof *fields, "a merge's columns");
    r->view_quals = (const char **)spk__merge_array(a, nv, sizeof *r->view_quals, "a merge's columns");
    r->on_uses = (bool *)spk__merge_array(a, nv, sizeof *r->on_uses, "a merge's columns");
    r->source_quals = (const char **)spk__merge_array(a, (size_t)r->ns + 1, sizeof *r->source_quals, "a merge's columns");
    spk_status st = fields && r->view_quals && r->on_uses && r->source_quals ? SPK_OK : SPK_ERR_NOMEM;
    for (int j = 0; st == SPK_OK && j < r->nview; j++) {
        bool left = j < r->nt;
        fields[j] = *spk_schema_field(left ? r->target->schema : r->source->schema, left ? j : j - r->nt);
        r->view_quals[j] = left ? r->target_alias : r->source_alias;
        if (!left) r->source_quals[j - r->nt] = r->source_alias;
    }
    if (st == SPK_OK) st = spk__schema_make(a, fields, r->nview, true, &r->view);
    if (fields) spk__free(a, fields, nv * sizeof *fields);
    if (st != SPK_OK) return st;
    r->matched.in.schema = r->view;
    r->matched.in.qualifiers = r->view_quals;
    r->inserts.in.schema = r->source->schema;
    r->inserts.in.qualifiers = r->source_quals;
    spk_bound *on = NULL;
    if ((st = spk__dml_bind(&r->matched.in, m->on, true, &on)) != SPK_OK) {
        spk__fail_prefix("ON condition: ");
        return st;
    }
    for (int j = 0; j < r->nview; j++) r->on_uses[j] = on->col_slot[j] >= 0;
    spk_bound_free(on);
    return SPK_OK;
}

/* The matched clauses as arms over the pairs, the not-matched ones over
 * the source rows; every expression is bound here, before any row is
 * computed. */
static spk_status spk__merge_bind(spk__merge_run *r, const spk_merge *m) {
    int nm = 0, ni = 0;
    for (int i = 0; i < m->nclauses; i++) {
        if (m->clauses[i].matched) nm++;
        else ni++;
    }
    spk_status st = spk__dml_plan_arms(&r->matched, nm);
    if (st == SPK_OK) st = spk__dml_plan_arms(&r->inserts, ni);
    int km = 0, ki = 0;
    for (int i = 0; st == SPK_OK && i < m->nclauses; i++) {
        const spk__merge_clause *k = &m->clauses[i];
        spk__dml_plan *p = k->matched ? &r->matched : &r->inserts;
        spk__dml_arm *arm = &p->arms[k->matched ? km++ : ki++];
        snprintf(arm->label, sizeof arm->label, "clause %d (%s)", i + 1, spk__merge_clause_name(k->matched, k->action));
        arm->kind = k->action == SPK__MERGE_DELETE ? SPK__ARM_DELETE : k->matched ? SPK__ARM_UPDATE : SPK__ARM_INSERT;
        st = spk__dml_condition(p, arm, k->condition, "condition");
        if (k->action == SPK__MERGE_UPDATE)
            for (int c = 0; c < r->nt; c++) arm->from[c] = c; /* unassigned columns keep the target's value */
        if (k->action == SPK__MERGE_UPDATE_ALL || k->action == SPK__MERGE_INSERT_ALL) {
            /* Delta's rule: every target column from the source column of its name. */
            for (int c = 0; st == SPK_OK && c < r->nt; c++) {
                const spk_field *f = spk_schema_field(p->out, c);
                int from = spk_schema_index(r->source->schema, f->name, p->in.case_sensitive);
                if (from < 0) {
                    st = spk__fail(SPK_ERR_SCHEMA, "%s: the source has no column `%s` for target column `%s` of table %s",
                                   arm->label, f->name, f->name, p->table);
                    break;
                }
                const spk_field *g = spk_schema_field(r->source->schema, from);
                if ((st = spk__dml_storable(p, c, g->type)) != SPK_OK) spk__fail_prefix("%s, source column `%s`: ", arm->label, g->name);
                arm->from[c] = k->matched ? r->nt + from : from;
            }
        }
        for (int j = 0; st == SPK_OK && j < k->n; j++) st = spk__dml_assign(p, arm, k->columns[j], k->values[j]);
    }
    return st;
}

/* Who matches whom: the engine's join (a hash join when ON has
 * equalities) over copies of the columns ON reads plus each side's row
 * numbers; then each pair's row numbers, and matched_source. */
static spk_status spk__merge_match(spk__merge_run *r, const spk_merge *m) {
    char tname[64], sname[64];
    spk__merge_row_id_name(tname, sizeof tname, "__spk_merge_target_row", r->target->schema, r->source->schema);
    spk__merge_row_id_name(sname, sizeof sname, "__spk_merge_source_row", r->target->schema, r->source->schema);
    spk_session *s = r->session;
    spk_table *tcopy = NULL, *scopy = NULL, *joined = NULL;
    spk_status st = spk__merge_with_row_ids(s->alloc, r->target, r->on_uses, tname, &tcopy);
    if (st == SPK_OK) st = spk__merge_with_row_ids(s->alloc, r->source, r->on_uses + r->nt, sname, &scopy);
    if (st != SPK_OK) {
        spk_table_free(tcopy);
        return st;
    }
    int tcols = spk_schema_ncols(tcopy->schema), scols = spk_schema_ncols(scopy->schema);
    spk_df *left = spk__merge_frame(s, tcopy, r->target_alias);
    spk_df *right = spk__merge_frame(s, scopy, r->source_alias);
    spk_df *j = spk_df_join(left, right, spk_expr_retain(m->on), "inner");
    st = j ? spk_df_collect(j, &joined) : spk_last_status();
    spk_df_release(j);
    spk_df_release(right);
    spk_df_release(left);
    if (st != SPK_OK) return st;
    const spk_schema *js = joined->schema;
    if (spk_schema_ncols(js) != tcols + scols || spk_schema_field(js, tcols - 1)->type.id != SPK_TYPE_INT64 ||
        spk_schema_field(js, tcols + scols - 1)->type.id != SPK_TYPE_INT64) {
        spk_table_free(joined);
        return spk__fail(SPK_ERR_INTERNAL, "merge into %s: the join returned unexpected columns", r->table);
    }
    r->npairs = joined->nrows;
    r->trow = (int64_t *)spk__merge_array(r->alloc, r->npairs, sizeof *r->trow, "a merge's pairs");
    r->srow = r->trow ? (int64_t *)spk__merge_array(r->alloc, r->npairs, sizeof *r->srow, "a merge's pairs") : NULL;
    if (!r->srow) {
        spk_table_free(joined);
        return SPK_ERR_NOMEM;
    }
    for (size_t ci = 0; ci < joined->nchunks; ci++) {
        const spk__chunk *c = joined->chunks[ci];
        for (uint32_t i = 0; i < c->nrows; i++) {
            spk_value t, u;
            spk__read_cell(joined, c, i, tcols - 1, &t);
            spk__read_cell(joined, c, i, tcols + scols - 1, &u);
            r->trow[c->first_row + i] = t.as.i64;
            r->srow[c->first_row + i] = u.as.i64;
        }
    }
    spk_table_free(joined);
    for (size_t p = 0; p < r->npairs; p++) r->matched_source[r->srow[p]] = 1;
    return SPK_OK;
}

/* Delta's rule: a target row matched by two source rows is ambiguous
 * unless the only matched clause deletes unconditionally (a merge without
 * matched clauses only inserts, and is never ambiguous). */
static spk_status spk__merge_check_matches(spk__merge_run *r, const spk_merge *m) {
    int matched = 0;
    bool plain_delete = false;
    for (int i = 0; i < m->nclauses; i++) {
        const spk__merge_clause *k = &m->clauses[i];
        if (!k->matched) continue;
        matched++;
        plain_delete = k->action == SPK__MERGE_DELETE && !k->condition;
    }
    if (matched == 0 || (matched == 1 && plain_delete)) return SPK_OK;
    for (size_t p = 0; p < r->npairs; p++) { /* fate counts here: -1 unmatched, >= 0 matched once, -3 more */
        int64_t *f = &r->fate[r->trow[p]];
        *f = *f == -1 ? (int64_t)p : -3;
    }
    spk_status st = SPK_OK;
    for (size_t t = 0; t < r->target->nrows; t++) {
        if (r->fate[t] == -3 && st == SPK_OK)
            st = spk__fail(SPK_ERR_STATE, "[DELTA_MULTIPLE_SOURCE_ROW_MATCHING_TARGET_ROW_IN_MERGE] Cannot perform Merge as "
                                          "multiple source rows matched and attempted to modify the same target row in "
                                          "table %s in possibly conflicting ways (target row %zu is matched by more than "
                                          "one source row). Which source row applies would be ambiguous; preprocess the "
                                          "source so that each target row matches at most one.",
                           r->table, t + 1);
        r->fate[t] = -1;
    }
    return st;
}

/* The pairs as rows of the view: each pair's target row, then its source row. */
static spk_status spk__merge_pair_rows(spk__merge_run *r) {
    const spk_allocator *a = r->alloc;
    const spk_table *t = r->target, *s = r->source;
    spk__dml_vecs v;
    memset(&v, 0, sizeof v);
    spk_status st = spk_table_new(a, r->view, &r->pairs);
    if (st == SPK_OK) st = spk__dml_vecs_new(&v, a, r->view);
    size_t csize = (size_t)(r->nview ? r->nview : 1) * sizeof(spk__vec *);
    spk__vec **cols = st == SPK_OK ? (spk__vec **)spk__alloc(a, csize) : NULL;
    if (st == SPK_OK && !cols) st = spk__nomem("column vectors", csize);
    for (int j = 0; st == SPK_OK && j < r->nview; j++) cols[j] = &v.vecs[j];
    for (size_t done = 0; st == SPK_OK && done < r->npairs; done += SPK__BATCH) {
        uint32_t n = r->npairs - done < SPK__BATCH ? (uint32_t)(r->npairs - done) : SPK__BATCH;
        for (uint32_t k = 0; k < n; k++) {
            uint32_t ti, si;
            const spk__chunk *tc = spk__merge_locate(t, (size_t)r->trow[done + k], &ti);
            const spk__chunk *sc = spk__merge_locate(s, (size_t)r->srow[done + k], &si);
            for (int j = 0; j < r->nview; j++) {
                spk_value x;
                if (j < r->nt) spk__read_cell(t, tc, ti, j, &x);
                else spk__read_cell(s, sc, si, j - r->nt, &x);
                spk__vec_set(&v.vecs[j], k, &x);
            }
        }
        st = spk__table_append_vecs(r->pairs, cols, NULL, n);
    }
    if (cols) spk__free(a, cols, csize);
    spk__dml_vecs_free(&v);
    return st;
}

static spk_status spk__dml_merge(spk_session *s, const char *table, const spk_table *target, const spk_merge *m,
                                 const spk_table *source, spk_table **out, spk_dml_metrics *metrics) {
    spk_status st = spk__dml_check_args("merge", target, out);
    if (st != SPK_OK) return st;
    if (!s || !m || !source) return spk__fail(SPK_ERR_ARG, "merge: NULL %s", !s ? "session" : !m ? "merge" : "source rows");
    if (!table) table = m->target;
    if (m->nclauses == 0)
        return spk__fail(SPK_ERR_ARG, "merge into %s: there must be at least one WHEN clause in a MERGE statement", table);
    const char *talias = m->target_alias ? m->target_alias : spk__dml_short_name(table);
    if (m->source_alias && spk__name_eq(talias, m->source_alias, false))
        return spk__fail(SPK_ERR_ARG, "merge into %s: the target and the source are both called `%s`; give them different "
                                      "aliases", table, m->source_alias);
    spk__merge_run r;
    memset(&r, 0, sizeof r);
    const spk_allocator *a = r.alloc = target->alloc;
    r.session = s;
    r.table = table;
    r.target = target;
    r.source = source;
    r.target_alias = talias;
    r.source_alias = m->source_alias;
    r.nt = target->ncols;
    r.ns = source->ncols;
    r.nview = r.nt + r.ns;
    spk__dml_plan *plans[2] = {&r.matched, &r.inserts};
    for (int i = 0; i < 2; i++) {
        plans[i]->alloc = a;
        plans[i]->table = table;
        plans[i]->out = target->schema;
        plans[i]->in.case_sensitive = atomic_load(&s->case_sensitive);
        plans[i]->in.udfs = s->udfs;
    }
    r.inserts.in.table = source;
    st = spk__merge_view(&r, m);
    if (st == SPK_OK) st = spk__merge_bind(&r, m);
    if (st == SPK_OK) {
        r.matched_source = (uint8_t *)spk__merge_array(a, source->nrows, 1, "a merge's source rows");
        r.fate = r.matched_source ? (int64_t *)spk__merge_array(a, target->nrows, sizeof *r.fate, "a merge's target rows") : NULL;
        if (!r.fate) st = SPK_ERR_NOMEM;
        for (size_t i = 0; st == SPK_OK && i < source->nrows; i++) r.matched_source[i] = 0;
        for (size_t i = 0; st == SPK_OK && i < target->nrows; i++) r.fate[i] = -1;
    }
    if (st == SPK_OK && target->nrows && source->nrows) st = spk__merge_match(&r, m);
    if (st == SPK_OK) st = spk__merge_check_matches(&r, m);
    /* Matched clauses over the pairs; updated rows land in `updates`, in pair order. */
    if (st == SPK_OK && r.npairs && r.matched.narms) {
        st = spk__merge_pair_rows(&r);
        r.matched.in.table = r.pairs;
        if (st == SPK_OK && !(r.chosen = (int32_t *)spk__merge_array(a, r.npairs, sizeof *r.chosen, "a merge's pairs")))
            st = SPK_ERR_NOMEM;
        if (st == SPK_OK) st = spk_table_new(a, target->schema, &r.updates);
        if (st == SPK_OK) st = spk__dml_execute(&r.matched, r.updates, r.chosen);
        int64_t next = 0;
        for (size_t p = 0; st == SPK_OK && p < r.npairs; p++) {
            int k = r.chosen[p];
            if (k >= 0) r.fate[r.trow[p]] = r.matched.arms[k].kind == SPK__ARM_DELETE ? -2 : next++;
        }
    }
    /* The target's rows in order, then the inserted ones in source order. */
    if (st == SPK_OK) st = spk_table_new(a, target->schema, &r.out);
    if (st == SPK_OK) st = spk__merge_assemble(a, target, r.updates ? r.fate : NULL, r.updates, r.out);
    if (st == SPK_OK && r.inserts.narms) {
        r.inserts.in.skip = r.matched_source;
        st = spk__dml_execute(&r.inserts, r.out, NULL);
    }
    if (st == SPK_OK) {
        spk_dml_metrics done = {0, 0, 0};
        for (size_t t = 0; r.updates && t < target->nrows; t++) {
            done.updated += r.fate[t] >= 0;
            done.deleted += r.fate[t] == -2;
        }
        for (int k = 0; k < r.inserts.narms; k++) done.inserted += r.inserts.arms[k].rows;
        if (metrics) {
            metrics->updated += done.updated;
            metrics->deleted += done.deleted;
            metrics->inserted += done.inserted;
        }
        *out = r.out;
        r.out = NULL;
    }
    spk__merge_run_free(&r);
    return st;
}
