/* txn: snapshots, scans and shards, transactions and their JSON.
 *
 * Everything here sits on the backend's optional operations (backend.h):
 * scan_asof pins a version for snapshots and scans; commit publishes the
 * next versions of several tables at once. A transaction is a list of
 * operations that name their tables in full ("db.table"); at commit each
 * touched table is read once, its operations applied in order (dml.c for
 * delete, update and merge) and all the results committed together. */
#include "dml.c"
#include "txn.h"

/* The session's catalog part, with snapshots and transactions supported. */
static struct spk__sessx *spk__txn_sessx(spk_session *s, const char *fn) {
    struct spk__sessx *x = spk__sessx_of(s, fn);
    if (x && !x->catalog->backend->ops->commit) {
        spk__fail(SPK_ERR_UNSUPPORTED, "%s: backend '%s' has no snapshots or transactions (its last_asof, scan_asof, unpin "
                                       "and commit operations are NULL)", fn, spk_backend_type(x->catalog->backend));
        return NULL;
    }
    return x;
}

/* A saved table's name (not a view): db filled in from the session. */
static spk_status spk__txn_table(struct spk__sessx *x, const char *name, char db[SPK__NAME_MAX + 1],
                                 char table[SPK__NAME_MAX + 1]) {
    spk_status st = spk__table_name(name, db, table);
    if (st == SPK_OK && !db[0]) {
        spk_df *view = spk__view_get(&x->views, table);
        if (view) {
            spk_df_release(view);
            return spk__fail(SPK_ERR_ARG, "`%s` is a temp view; snapshots, scans and transactions work on saved tables", table);
        }
        spk__current_db(x, db);
    }
    if (st == SPK_OK && strcmp(db, "global_temp") == 0)
        st = spk__fail(SPK_ERR_ARG, "`global_temp`.`%s` is a global temp view; snapshots, scans and transactions work on "
                                    "saved tables", table);
    return st;
}

static void spk__catalog_retain(spk__catalog *c) { atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed); }

/* ---------------------------------------------------------------- snapshots */

struct spk_snapshot {
    spk__catalog *catalog;
    char db[SPK__NAME_MAX + 1], table[SPK__NAME_MAX + 1];
    uint64_t asof;
};

SPKDEF spk_status spk_snapshot_new(spk_session *s, const char *name, spk_snapshot **out) {
    struct spk__sessx *x = spk__txn_sessx(s, "spk_snapshot_new");
    if (!x) return spk_last_status();
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_snapshot_new: NULL output");
    spk_snapshot *snap = (spk_snapshot *)spk__calloc(&spk__default_allocator, sizeof *snap);
    if (!snap) return spk__nomem("a snapshot", sizeof *snap);
    spk_status st = spk__txn_table(x, name, snap->db, snap->table);
    const spk_backend *b = x->catalog->backend;
    spk_table *rows = NULL;
    if (st == SPK_OK)
        st = SPK__BACKEND_CALL(b, "snapshot", snap->db, snap->table,
                               scan_asof(b->self, snap->db, snap->table, 0, true, &rows, &snap->asof));
    spk_table_free(rows);
    if (st != SPK_OK) {
        spk__free(&spk__default_allocator, snap, sizeof *snap);
        return st;
    }
    spk__catalog_retain(x->catalog);
    snap->catalog = x->catalog;
    *out = snap;
    return SPK_OK;
}

SPKDEF uint64_t spk_snapshot_asof(const spk_snapshot *snap) { return snap ? snap->asof : 0; }

SPKDEF void spk_snapshot_free(spk_snapshot *snap) {
    if (!snap) return;
    const spk_backend *b = snap->catalog->backend;
    b->ops->unpin(b->self, snap->db, snap->table, snap->asof);
    spk__catalog_release(snap->catalog);
    spk__free(&spk__default_allocator, snap, sizeof *snap);
}

/* The table's rows at asof (a reference), and that version's asof. */
static spk_status spk__read_asof(struct spk__sessx *x, const char *db, const char *table, uint64_t asof, bool pin,
                                 spk_table **rows, uint64_t *found) {
    const spk_backend *b = x->catalog->backend;
    return SPK__BACKEND_CALL(b, "scan", db, table, scan_asof(b->self, db, table, asof, pin, rows, found));
}

/* A DataFrame over rows (taken over), aliased by the table's name. */
static spk_df *spk__df_of_rows(spk_session *s, spk_table *rows, const char *table) {
    spk_df *df = spk_df_from_table(s, rows);
    if (!df) {
        spk_table_free(rows);
        return NULL;
    }
    spk_df *aliased = spk_df_alias(df, table);
    spk_df_release(df);
    return aliased;
}

SPKDEF spk_df *spk_session_table_asof(spk_session *s, const char *name, uint64_t asof) {
    if (asof == 0) return spk_session_table(s, name);
    struct spk__sessx *x = spk__txn_sessx(s, "spk_session_table_asof");
    char db[SPK__NAME_MAX + 1], table[SPK__NAME_MAX + 1];
    spk_table *rows = NULL;
    if (!x || spk__txn_table(x, name, db, table) != SPK_OK || spk__read_asof(x, db, table, asof, false, &rows, NULL) != SPK_OK)
        return NULL;
    return spk__df_of_rows(s, rows, table);
}

/* ---------------------------------------------------------------- scans */

struct spk_scan {
    spk__catalog *catalog;
    spk_session *session; /* a reference (spk__session_release) */
    char db[SPK__NAME_MAX + 1], table[SPK__NAME_MAX + 1];
    uint64_t asof;
    spk_table *rows;
    bool case_sensitive;
    spk_bound *where; /* bound once, to the version's schema (qualifier: the table's name) */
    spk_expr *where_expr; /* the predicate as given, for scan tasks (wire.c) */
    int ncolumns;
    char **columns;
};

SPKDEF spk_status spk_scan_new(spk_session *s, const char *name, uint64_t asof, spk_scan **out) {
    struct spk__sessx *x = spk__txn_sessx(s, "spk_scan_new");
    if (!x) return spk_last_status();
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_scan_new: NULL output");
    spk_scan *sc = (spk_scan *)spk__calloc(&spk__default_allocator, sizeof *sc);
    if (!sc) return spk__nomem("a scan", sizeof *sc);
    spk_status st = spk__txn_table(x, name, sc->db, sc->table);
    if (st == SPK_OK) st = spk__read_asof(x, sc->db, sc->table, asof, true, &sc->rows, &sc->asof);
    if (st != SPK_OK) {
        spk__free(&spk__default_allocator, sc, sizeof *sc);
        return st;
    }
    spk__catalog_retain(x->catalog);
    sc->catalog = x->catalog;
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    sc->session = s;
    sc->case_sensitive = atomic_load(&s->case_sensitive);
    *out = sc;
    return SPK_OK;
}

static void spk__scan_columns_free(spk_scan *sc) {
    for (int i = 0; i < sc->ncolumns; i++) spk__free(&spk__default_allocator, sc->columns[i], strlen(sc->columns[i]) + 1);
    if (sc->columns) spk__free(&spk__default_allocator, sc->columns, (size_t)sc->ncolumns * sizeof *sc->columns);
    sc->columns = NULL;
    sc->ncolumns = 0;
}

SPKDEF void spk_scan_free(spk_scan *sc) {
    if (!sc) return;
    const spk_backend *b = sc->catalog->backend;
    b->ops->unpin(b->self, sc->db, sc->table, sc->asof);
    spk_table_free(sc->rows);
    spk_bound_free(sc->where);
    spk_expr_release(sc->where_expr);
    spk__scan_columns_free(sc);
    spk__session_release(sc->session);
    spk__catalog_release(sc->catalog);
    spk__free(&spk__default_allocator, sc, sizeof *sc);
}

SPKDEF uint64_t spk_scan_asof(const spk_scan *sc) { return sc ? sc->asof : 0; }

SPKDEF spk_status spk_scan_where(spk_scan *sc, spk_expr *predicate) {
    if (!sc || !predicate) {
        spk_expr_release(predicate);
        return spk__fail(SPK_ERR_ARG, "spk_scan_where: NULL %s", sc ? "predicate" : "scan");
    }
    /* Bound now: a bad predicate fails here, not in every worker, and every
     * shard's read reuses the bound form (it is immutable). */
    spk_bound *b = NULL;
    int n = spk_schema_ncols(sc->rows->schema);
    const char **quals = (const char **)spk__calloc(&spk__default_allocator, (size_t)(n ? n : 1) * sizeof *quals);
    spk_status st = quals ? SPK_OK : spk__nomem("qualifiers", sizeof *quals);
    for (int i = 0; st == SPK_OK && i < n; i++) quals[i] = sc->table;
    if (st == SPK_OK) st = spk__bind_scoped_udfs(predicate, sc->rows->schema, quals, sc->case_sensitive, sc->session->udfs, &b);
    if (st == SPK_OK && spk_bound_type(b).id != SPK_TYPE_BOOLEAN && spk_bound_type(b).id != SPK_TYPE_NULL)
        st = spk__fail(SPK_ERR_TYPE, "a scan's predicate must be BOOLEAN, not %s", spk__type_sql(spk_bound_type(b)).s);
    if (quals) spk__free(&spk__default_allocator, (void *)quals, (size_t)(n ? n : 1) * sizeof *quals);
    if (st != SPK_OK) {
        spk_expr_release(predicate);
        spk_bound_free(b);
        return st;
    }
    spk_bound_free(sc->where);
    sc->where = b;
    spk_expr_release(sc->where_expr);
    sc->where_expr = predicate;
    return SPK_OK;
}

SPKDEF spk_status spk_scan_select(spk_scan *sc, const char *const *columns, int n) {
    if (!sc || n < 0 || (n > 0 && !columns)) return spk__fail(SPK_ERR_ARG, "spk_scan_select: bad arguments");
    for (int i = 0; i < n; i++) {
        if (!columns[i]) return spk__fail(SPK_ERR_ARG, "spk_scan_select: column %d is NULL", i + 1);
        if (spk_schema_index(sc->rows->schema, columns[i], sc->case_sensitive) < 0)
            return spk__fail(SPK_ERR_NOT_FOUND, "scan of %s.%s: no column `%s`", sc->db, sc->table, columns[i]);
    }
    char **copy = n ? (char **)spk__calloc(&spk__default_allocator, (size_t)n * sizeof *copy) : NULL;
    if (n && !copy) return spk__nomem("scan columns", (size_t)n * sizeof *copy);
    for (int i = 0; i < n; i++)
        if (!(copy[i] = spk__strndup(&spk__default_allocator, columns[i], strlen(columns[i])))) {
            for (int k = 0; k < i; k++) spk__free(&spk__default_allocator, copy[k], strlen(copy[k]) + 1);
            spk__free(&spk__default_allocator, copy, (size_t)n * sizeof *copy);
            return spk__nomem("a column name", strlen(columns[i]) + 1);
        }
    spk__scan_columns_free(sc);
    sc->columns = copy;
    sc->ncolumns = n;
    return SPK_OK;
}

SPKDEF spk_status spk_scan_shards(spk_scan *sc, int max_shards, spk_shards **out) {
    if (!sc || !out || max_shards < 0) return spk__fail(SPK_ERR_ARG, "spk_scan_shards: bad arguments");
    return spk__shards_physical(sc->rows, sc->asof, max_shards, out);
}

/* The scan's rows (restricted to sh when given) with its predicate applied. */
static spk_status spk__scan_rows(spk_scan *sc, const spk_shard *sh, spk_table **out) {
    spk_table *rows = NULL;
    spk_status st = SPK_OK;
    if (sh) st = spk__shard_filter(sc->rows, sc->asof, sh, sc->case_sensitive, &rows);
    else rows = spk_table_retain(sc->rows);
    if (st != SPK_OK || !sc->where) {
        *out = rows;
        return st;
    }
    spk_table *kept = NULL;
    st = spk_bound_filter(sc->where, rows, &kept);
    spk_table_free(rows);
    *out = kept;
    return st;
}

SPKDEF spk_status spk_scan_compute_shards(spk_scan *sc, int n, const char *const *keys, int nkeys, spk_shards **out) {
    if (!sc || !out || !keys) return spk__fail(SPK_ERR_ARG, "spk_scan_compute_shards: NULL argument");
    spk_table *rows = NULL;
    spk_status st = spk__scan_rows(sc, NULL, &rows);
    if (st == SPK_OK) st = spk__shards_compute(rows, keys, nkeys, sc->case_sensitive, n, out);
    spk_table_free(rows);
    return st;
}

SPKDEF spk_df *spk_scan_df(spk_scan *sc, spk_session *s, const spk_shard *sh) {
    if (!sc) {
        spk__fail(SPK_ERR_ARG, "spk_scan_df: NULL scan");
        return NULL;
    }
    spk_table *rows = NULL;
    if (spk__scan_rows(sc, sh, &rows) != SPK_OK) return NULL;
    spk_df *df = spk__df_of_rows(s ? s : sc->session, rows, sc->table);
    if (df && sc->ncolumns) {
        spk_expr *cols[256];
        if (sc->ncolumns > 256) {
            spk_df_release(df);
            spk__fail(SPK_ERR_LIMIT, "a scan selects at most 256 columns");
            return NULL;
        }
        for (int i = 0; i < sc->ncolumns; i++) cols[i] = spk__col_quoted(sc->columns[i]);
        spk_df *selected = spk_df_select_array(df, cols, sc->ncolumns);
        spk_df_release(df);
        df = selected;
    }
    return df;
}

/* ---------------------------------------------------------------- operations */

typedef enum spk__op_kind { SPK__TXN_WRITE, SPK__TXN_DELETE, SPK__TXN_UPDATE, SPK__TXN_MERGE } spk__op_kind;
static const char *const spk__op_names[] = {"write", "delete", "update", "merge"};

typedef struct spk__txn_op {
    spk__op_kind kind;
    char db[SPK__NAME_MAX + 1], table[SPK__NAME_MAX + 1];
    spk_table *rows;   /* WRITE: the rows; MERGE: the source */
    spk_expr *where;   /* DELETE, UPDATE: NULL for every row */
    int n;             /* UPDATE: assignments */
    char **columns;
    spk_expr **values;
    spk_merge *merge;  /* MERGE: the statement (without a source DataFrame) */
} spk__txn_op;

struct spk_txn_ops {
    int n, cap;
    spk__txn_op *ops;
};

static spk__txn_op spk__op_of(spk__op_kind kind) {
    spk__txn_op op;
    memset(&op, 0, sizeof op);
    op.kind = kind;
    return op;
}

static void spk__op_clear(spk__txn_op *op) {
    spk_table_free(op->rows);
    spk_expr_release(op->where);
    for (int i = 0; i < op->n; i++) {
        if (op->columns && op->columns[i]) spk__free(&spk__default_allocator, op->columns[i], strlen(op->columns[i]) + 1);
        if (op->values) spk_expr_release(op->values[i]);
    }
    if (op->columns) spk__free(&spk__default_allocator, op->columns, (size_t)op->n * sizeof *op->columns);
    if (op->values) spk__free(&spk__default_allocator, op->values, (size_t)op->n * sizeof *op->values);
    spk_merge_free(op->merge);
    memset(op, 0, sizeof *op);
}

static void spk__ops_clear(spk_txn_ops *ops) {
    for (int i = 0; i < ops->n; i++) spk__op_clear(&ops->ops[i]);
    if (ops->ops) spk__free(&spk__default_allocator, ops->ops, (size_t)ops->cap * sizeof *ops->ops);
    memset(ops, 0, sizeof *ops);
}

SPKDEF int spk_txn_ops_count(const spk_txn_ops *ops) { return ops ? ops->n : 0; }

SPKDEF void spk_txn_ops_free(spk_txn_ops *ops) {
    if (!ops) return;
    spk__ops_clear(ops);
    spk__free(&spk__default_allocator, ops, sizeof *ops);
}

/* Appends op (taken over: cleared on failure too). */
static spk_status spk__ops_push(spk_txn_ops *ops, spk__txn_op *op) {
    if (ops->n == ops->cap) {
        int cap = ops->cap ? 2 * ops->cap : 8;
        spk__txn_op *grown = (spk__txn_op *)spk__realloc(&spk__default_allocator, ops->ops, (size_t)ops->cap * sizeof *grown,
                                                         (size_t)cap * sizeof *grown);
        if (!grown) {
            spk__op_clear(op);
            return spk__nomem("a transaction operation", (size_t)cap * sizeof *grown);
        }
        ops->ops = grown;
        ops->cap = cap;
    }
    ops->ops[ops->n++] = *op;
    memset(op, 0, sizeof *op);
    return SPK_OK;
}

/* Assignments: copies of the names, the expressions consumed. */
static spk_status spk__op_assign(spk__txn_op *op, int n, const char *const *columns, spk_expr *const *values) {
    spk_status st = SPK_OK;
    if (n < 1 || n > 256 || !columns || !values) st = spk__fail(SPK_ERR_ARG, "an update needs 1 to 256 assignments");
    if (st == SPK_OK) {
        op->columns = (char **)spk__calloc(&spk__default_allocator, (size_t)n * sizeof *op->columns);
        op->values = (spk_expr **)spk__calloc(&spk__default_allocator, (size_t)n * sizeof *op->values);
        if (!op->columns || !op->values) st = spk__nomem("assignments", (size_t)n * 2 * sizeof(void *));
        else op->n = n;
    }
    for (int i = 0; i < n && values; i++) {
        if (st == SPK_OK && (!columns[i] || !values[i]))
            st = spk__fail(SPK_ERR_ARG, "assignment %d has a NULL %s", i + 1, !columns[i] ? "column" : "value");
        if (st == SPK_OK && !(op->columns[i] = spk__strndup(&spk__default_allocator, columns[i], strlen(columns[i]))))
            st = spk__nomem("a column name", strlen(columns[i]) + 1);
        if (op->values && i < op->n) op->values[i] = values[i];
        else spk_expr_release(values[i]);
    }
    return st;
}

/* A copy of a merge statement's clauses (expressions shared: they are immutable). */
static spk_merge *spk__merge_copy(const spk_merge *m) {
    spk_merge *c = spk__merge_alloc(m->target, m->target_alias, m->source_alias, spk_expr_retain(m->on));
    for (int i = 0; c && i < m->nclauses; i++) {
        const spk__merge_clause *k = &m->clauses[i];
        spk_expr *values[256];
        if (k->n > 256) {
            spk__fail(SPK_ERR_LIMIT, "a merge clause assigns at most 256 columns");
            spk_merge_free(c);
            return NULL;
        }
        for (int j = 0; j < k->n; j++) values[j] = spk_expr_retain(k->values[j]);
        if (spk__merge_add_clause(c, k->matched, k->action, spk_expr_retain(k->condition), k->n,
                                  (const char *const *)k->columns, values) != SPK_OK) {
            spk_merge_free(c);
            return NULL;
        }
    }
    return c;
}

static spk_status spk__op_copy(const spk__txn_op *from, spk__txn_op *to) {
    memset(to, 0, sizeof *to);
    to->kind = from->kind;
    memcpy(to->db, from->db, sizeof to->db);
    memcpy(to->table, from->table, sizeof to->table);
    to->rows = spk_table_retain(from->rows);
    to->where = spk_expr_retain(from->where);
    spk_status st = SPK_OK;
    if (from->n) {
        spk_expr *values[256];
        for (int i = 0; i < from->n; i++) values[i] = spk_expr_retain(from->values[i]);
        st = spk__op_assign(to, from->n, (const char *const *)from->columns, values);
    }
    if (st == SPK_OK && from->merge && !(to->merge = spk__merge_copy(from->merge))) st = spk_last_status();
    if (st != SPK_OK) spk__op_clear(to);
    return st;
}

/* ---------------------------------------------------------------- transactions */

struct spk_txn {
    spk_session *session; /* a reference */
    uint64_t begin_asof;
    bool over;
    spk_txn_ops ops;
};

SPKDEF spk_status spk_txn_begin(spk_session *s, spk_txn **out) {
    struct spk__sessx *x = spk__txn_sessx(s, "spk_txn_begin");
    if (!x) return spk_last_status();
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_txn_begin: NULL output");
    spk_txn *t = (spk_txn *)spk__calloc(&spk__default_allocator, sizeof *t);
    if (!t) return spk__nomem("a transaction", sizeof *t);
    const spk_backend *b = x->catalog->backend;
    spk_status st = SPK__BACKEND_CALL(b, "begin", NULL, NULL, last_asof(b->self, &t->begin_asof));
    if (st != SPK_OK) {
        spk__free(&spk__default_allocator, t, sizeof *t);
        return st;
    }
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    t->session = s;
    *out = t;
    return SPK_OK;
}

SPKDEF void spk_txn_free(spk_txn *t) {
    if (!t) return;
    spk__ops_clear(&t->ops);
    spk__session_release(t->session);
    spk__free(&spk__default_allocator, t, sizeof *t);
}

SPKDEF void spk_txn_rollback(spk_txn *t) {
    if (!t) return;
    spk__ops_clear(&t->ops);
    t->over = true;
}

/* The transaction, still open, on a live session; and the op's table. */
static struct spk__sessx *spk__txn_open(spk_txn *t, const char *fn) {
    if (!t) {
        spk__fail(SPK_ERR_ARG, "%s: NULL transaction", fn);
        return NULL;
    }
    if (t->over) {
        spk__fail(SPK_ERR_STATE, "%s: the transaction was committed or rolled back", fn);
        return NULL;
    }
    return spk__sessx_of(t->session, fn);
}

static spk_status spk__txn_add(spk_txn *t, const char *fn, spk__txn_op *op, const char *table) {
    struct spk__sessx *x = spk__txn_open(t, fn);
    spk_status st = x ? spk__txn_table(x, table, op->db, op->table) : spk_last_status();
    if (st != SPK_OK) {
        spk__op_clear(op);
        return st;
    }
    return spk__ops_push(&t->ops, op);
}

SPKDEF spk_status spk_txn_write_rows(spk_txn *t, const char *table, const spk_table *rows) {
    spk__txn_op op = spk__op_of(SPK__TXN_WRITE);
    if (!rows) return spk__fail(SPK_ERR_ARG, "spk_txn_write_rows: NULL rows");
    spk_status st = spk_table_new(&spk__default_allocator, rows->schema, &op.rows);
    if (st == SPK_OK) st = spk__table_append_table(op.rows, rows);
    if (st != SPK_OK) {
        spk__op_clear(&op);
        return st;
    }
    return spk__txn_add(t, "spk_txn_write_rows", &op, table);
}

SPKDEF spk_status spk_txn_write(spk_txn *t, const char *table, spk_df *df) {
    spk__txn_op op = spk__op_of(SPK__TXN_WRITE);
    if (!df) return spk__fail(SPK_ERR_ARG, "spk_txn_write: NULL DataFrame");
    if (!spk__txn_open(t, "spk_txn_write")) return spk_last_status();
    spk_status st = spk_df_collect(df, &op.rows);
    if (st != SPK_OK) return st;
    return spk__txn_add(t, "spk_txn_write", &op, table);
}

SPKDEF spk_status spk_txn_delete(spk_txn *t, const char *table, spk_expr *where) {
    spk__txn_op op = spk__op_of(SPK__TXN_DELETE);
    op.where = where;
    return spk__txn_add(t, "spk_txn_delete", &op, table);
}

SPKDEF spk_status spk_txn_update(spk_txn *t, const char *table, int n, const char *const *columns, spk_expr *const *values,
                                 spk_expr *where) {
    spk__txn_op op = spk__op_of(SPK__TXN_UPDATE);
    op.where = where;
    spk_status st = spk__op_assign(&op, n, columns, values);
    if (st != SPK_OK) {
        spk__op_clear(&op);
        return st;
    }
    return spk__txn_add(t, "spk_txn_update", &op, table);
}

SPKDEF spk_status spk_txn_merge(spk_txn *t, const spk_merge *m) {
    spk__txn_op op = spk__op_of(SPK__TXN_MERGE);
    if (!m) return spk__fail(SPK_ERR_ARG, "spk_txn_merge: NULL merge");
    if (!m->source) return spk__fail(SPK_ERR_ARG, "spk_txn_merge: the merge has no source DataFrame");
    if (!spk__txn_open(t, "spk_txn_merge")) return spk_last_status();
    spk_status st = spk_df_collect(m->source, &op.rows);
    if (st == SPK_OK && !(op.merge = spk__merge_copy(m))) st = spk_last_status();
    if (st != SPK_OK) {
        spk__op_clear(&op);
        return st;
    }
    return spk__txn_add(t, "spk_txn_merge", &op, m->target);
}

SPKDEF spk_status spk_txn_take(spk_txn *t, spk_txn_ops **out) {
    if (!spk__txn_open(t, "spk_txn_take")) return spk_last_status();
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_txn_take: NULL output");
    spk_txn_ops *ops = (spk_txn_ops *)spk__calloc(&spk__default_allocator, sizeof *ops);
    if (!ops) return spk__nomem("transaction operations", sizeof *ops);
    *ops = t->ops;
    memset(&t->ops, 0, sizeof t->ops);
    *out = ops;
    return SPK_OK;
}

SPKDEF spk_status spk_txn_include(spk_txn *t, const spk_txn_ops *ops) {
    if (!spk__txn_open(t, "spk_txn_include")) return spk_last_status();
    if (!ops) return spk__fail(SPK_ERR_ARG, "spk_txn_include: NULL operations");
    int before = t->ops.n;
    spk_status st = SPK_OK;
    for (int i = 0; i < ops->n && st == SPK_OK; i++) {
        spk__txn_op copy;
        st = spk__op_copy(&ops->ops[i], &copy);
        if (st == SPK_OK) st = spk__ops_push(&t->ops, &copy);
    }
    if (st != SPK_OK) /* all or nothing */
        while (t->ops.n > before) spk__op_clear(&t->ops.ops[--t->ops.n]);
    return st;
}

/* ---------------------------------------------------------------- commit */

/* rows (borrowed) arranged as `schema`, columns matched by name (saveAsTable's append). */
static spk_status spk__rows_by_name(spk_session *s, const spk_table *rows, spk_schema *schema, const char *target,
                                    spk_table **out) {
    spk_df *df = spk_df_from_table(s, spk_table_retain((spk_table *)rows));
    if (!df) {
        spk_table_free((spk_table *)rows);
        return spk_last_status();
    }
    spk_df *aligned = spk__by_name(df, schema, target);
    spk_df_release(df);
    if (!aligned) return spk_last_status();
    spk_table *collected = NULL;
    spk_status st = spk_df_collect(aligned, &collected);
    spk_df_release(aligned);
    if (st == SPK_OK) st = spk__rows_as(collected, schema, target, out);
    return st;
}

/* The next version after op, from cur (a reference, taken over; NULL when
 * the table does not exist yet). */
static spk_status spk__op_apply(spk_session *s, const spk__txn_op *op, spk_table *cur, spk_table **next,
                                spk_dml_metrics *metrics) {
    char target[2 * SPK__NAME_MAX + 2];
    snprintf(target, sizeof target, "%s.%s", op->db, op->table);
    bool cs = atomic_load(&s->case_sensitive);
    spk_status st = SPK_OK;
    spk_table *out = NULL;
    if (!cur && op->kind != SPK__TXN_WRITE) return spk__fail(SPK_ERR_NOT_FOUND, "%s: table %s not found", spk__op_names[op->kind], target);
    switch (op->kind) {
    case SPK__TXN_WRITE: {
        spk_schema *schema = NULL;
        spk_table *add = NULL;
        if (cur) schema = spk_schema_retain(cur->schema);
        else st = spk__nullable_schema(&spk__default_allocator, op->rows->schema, target, &schema);
        if (st == SPK_OK) st = spk__rows_by_name(s, op->rows, schema, target, &add);
        if (st == SPK_OK && cur) st = spk__store_appended(cur, add, &out);
        else if (st == SPK_OK) out = add;
        spk_schema_release(schema);
        if (st == SPK_OK && metrics) metrics->inserted += (int64_t)spk_table_nrows(op->rows);
        break;
    }
    case SPK__TXN_DELETE: st = spk__dml_delete(target, cur, op->where, cs, s->udfs, &out, metrics); break;
    case SPK__TXN_UPDATE:
        st = spk__dml_update(target, cur, op->n, op->columns, op->values, op->where, cs, s->udfs, &out, metrics);
        break;
    case SPK__TXN_MERGE: st = spk__dml_merge(s, target, cur, op->merge, op->rows, &out, metrics); break;
    }
    spk_table_free(cur);
    if (st != SPK_OK) {
        spk__fail_prefix("%s of %s: ", spk__op_names[op->kind], target);
        return st;
    }
    *next = out;
    return SPK_OK;
}

/* One attempt: read every touched table, apply its operations, commit. */
static spk_status spk__txn_attempt(spk_txn *t, struct spk__sessx *x, uint64_t *asof, spk_dml_metrics *metrics,
                                   bool *changed_since_begin) {
    const spk_backend *b = x->catalog->backend;
    int n = t->ops.n, ntables = 0;
    int *first = (int *)spk__calloc(&spk__default_allocator, (size_t)n * sizeof *first);      /* per op: its table's first op */
    spk_backend_commit *w = (spk_backend_commit *)spk__calloc(&spk__default_allocator, (size_t)n * sizeof *w);
    if (!first || !w) {
        if (first) spk__free(&spk__default_allocator, first, (size_t)n * sizeof *first);
        if (w) spk__free(&spk__default_allocator, w, (size_t)n * sizeof *w);
        return spk__nomem("a commit", (size_t)n * (sizeof *first + sizeof *w));
    }
    spk_status st = SPK_OK;
    for (int i = 0; i < n && st == SPK_OK; i++) {
        const spk__txn_op *op = &t->ops.ops[i];
        first[i] = i;
        for (int j = 0; j < i; j++)
            if (strcmp(t->ops.ops[j].db, op->db) == 0 && strcmp(t->ops.ops[j].table, op->table) == 0) {
                first[i] = first[j];
                break;
            }
        if (first[i] != i) continue;
        /* A table this transaction has not seen yet: read its latest version. */
        bool dml = false;
        for (int j = i; j < n; j++)
            dml |= t->ops.ops[j].kind != SPK__TXN_WRITE && strcmp(t->ops.ops[j].db, op->db) == 0 &&
                   strcmp(t->ops.ops[j].table, op->table) == 0;
        spk_table *cur = NULL;
        uint64_t cur_asof = 0;
        st = spk__read_asof(x, op->db, op->table, 0, false, &cur, &cur_asof);
        if (st == SPK_ERR_NOT_FOUND) {
            spk_clear_error();
            st = SPK_OK;
        }
        *changed_since_begin = st == SPK_OK && dml && cur_asof > t->begin_asof;
        if (*changed_since_begin)
            st = spk__fail(SPK_ERR_CONFLICT, "table %s.%s was changed by another commit (asof %llu) after this transaction "
                                             "began (asof %llu); nothing was written", op->db, op->table,
                           (unsigned long long)cur_asof, (unsigned long long)t->begin_asof);
        if (st != SPK_OK) {
            spk_table_free(cur);
            break;
        }
        w[ntables].schema = op->db;
        w[ntables].table = op->table;
        w[ntables].rows = cur;
        w[ntables].base_asof = cur_asof;
        ntables++;
    }
    /* Apply every operation, in order, to its table's next version. */
    for (int i = 0; i < n && st == SPK_OK; i++) {
        const spk__txn_op *op = &t->ops.ops[i];
        int k = 0;
        while (strcmp(w[k].schema, t->ops.ops[first[i]].db) != 0 || strcmp(w[k].table, t->ops.ops[first[i]].table) != 0) k++;
        spk_table *next = NULL;
        st = spk__op_apply(t->session, op, w[k].rows, &next, metrics);
        w[k].rows = next; /* the old one was taken over */
    }
    if (st == SPK_OK) {
        /* A table whose operations changed nothing still commits: its base is checked. */
        for (int k = 0; k < ntables && st == SPK_OK; k++)
            if (!w[k].rows) st = spk__fail(SPK_ERR_INTERNAL, "no rows for %s.%s", w[k].schema, w[k].table);
    }
    if (st == SPK_OK) {
        st = SPK__BACKEND_CALL(b, "commit", NULL, NULL, commit(b->self, w, ntables, asof));
    } else {
        for (int k = 0; k < ntables; k++) spk_table_free(w[k].rows);
    }
    spk__free(&spk__default_allocator, first, (size_t)n * sizeof *first);
    spk__free(&spk__default_allocator, w, (size_t)n * sizeof *w);
    return st;
}

SPKDEF spk_status spk_txn_commit(spk_txn *t, uint64_t *asof, spk_dml_metrics *metrics) {
    struct spk__sessx *x = spk__txn_open(t, "spk_txn_commit");
    if (!x) return spk_last_status();
    spk_status st = SPK_OK;
    uint64_t done = 0;
    if (t->ops.n == 0) {
        const spk_backend *b = x->catalog->backend;
        st = SPK__BACKEND_CALL(b, "commit", NULL, NULL, last_asof(b->self, &done));
    }
    /* Appends land on whatever is current, so a conflict with another
     * commit between the reads and the publish is retried; a delete, update
     * or merge on a changed table is refused by the next attempt's check. */
    for (int attempt = 0; t->ops.n && attempt < 64; attempt++) {
        spk_dml_metrics m = {0, 0, 0};
        bool final = false;
        st = spk__txn_attempt(t, x, &done, &m, &final);
        if (st == SPK_OK && metrics) {
            metrics->updated += m.updated;
            metrics->deleted += m.deleted;
            metrics->inserted += m.inserted;
        }
        if (st != SPK_ERR_CONFLICT || final) break;
    }
    if (st == SPK_OK && asof) *asof = done;
    spk__ops_clear(&t->ops);
    t->over = true;
    return st;
}

SPKDEF spk_status spk_txn_run(spk_session *s, int max_attempts, spk_txn_fn fn, void *user, uint64_t *asof) {
    if (!fn) return spk__fail(SPK_ERR_ARG, "spk_txn_run: NULL callback");
    if (max_attempts <= 0) max_attempts = 10;
    spk_status st = SPK_OK;
    for (int attempt = 1; attempt <= max_attempts; attempt++) {
        spk_txn *t = NULL;
        st = spk_txn_begin(s, &t);
        if (st == SPK_OK) st = fn(t, user);
        if (st == SPK_OK) st = spk_txn_commit(t, asof, NULL);
        spk_txn_free(t);
        if (st != SPK_ERR_CONFLICT) return st;
        if (attempt == max_attempts)
            spk__fail_append(" (gave up after %d attempt%s)", max_attempts, max_attempts == 1 ? "" : "s");
    }
    return st;
}

SPKDEF spk_status spk_merge_execute(spk_session *s, const spk_merge *m, spk_dml_metrics *metrics) {
    spk_txn *t = NULL;
    spk_status st = spk_txn_begin(s, &t);
    if (st == SPK_OK) st = spk_txn_merge(t, m);
    if (st == SPK_OK) st = spk_txn_commit(t, NULL, metrics);
    spk_txn_free(t);
    return st;
}

/* ---------------------------------------------------------------- operations as JSON
 * The format (TRANSACTION OPERATIONS in the header's doc) carries
 * expressions as SQL text that spk_expr_parse reads back to the same tree:
 * every column quoted, every literal typed. */

#define SPK__OPS_FORMAT "sparkless-txn-ops"
#define SPK__OPS_VERSION 1
/* The text of an expression this tall stays within the parser's nesting
 * limit (a level costs the parser at most 3 of its 200), so everything the
 * writer writes reads back and everything the reader accepts writes out. */
#define SPK__OPS_MAX_HEIGHT 60

/* The height that text and tree share: a literal the writer spells as
 * CAST('...' AS DOUBLE) counts as one level, as it reads back that way.
 * Stops counting past the limit. */
static int spk__ops_height(const spk_expr *e) {
    if (e->op == SPK__OP_LIT || (e->op == SPK__OP_CAST && e->args[0]->op == SPK__OP_LIT)) return 1;
    /* Only the leaves can count less than they are tall: one level off at most. */
    if (e->height <= 1 || e->height > SPK__OPS_MAX_HEIGHT + 1) return e->height;
    int h = 0;
    for (int i = 0; i < e->nargs && h <= SPK__OPS_MAX_HEIGHT; i++) {
        int k = spk__ops_height(e->args[i]);
        if (k > h) h = k;
    }
    return h + 1;
}

static bool spk__has_star(const spk_expr *e) {
    if (e->op == SPK__OP_STAR) return true;
    for (int i = 0; i < e->nargs; i++)
        if (spk__has_star(e->args[i])) return true;
    return false;
}

/* What the format carries: expressions within the height limit, and no `*`
 * (meaningless in a condition or an assigned value, and not text the
 * parser reads back everywhere: concat(*, x)). */
static spk_status spk__ops_expr_check(const spk_expr *e) {
    int h = spk__ops_height(e);
    if (h > SPK__OPS_MAX_HEIGHT)
        return spk__fail(SPK_ERR_LIMIT, "expression nested %d levels deep; transaction operations carry at most %d", h,
                         SPK__OPS_MAX_HEIGHT);
    if (spk__has_star(e)) return spk__fail(SPK_ERR_ARG, "`*` in an expression of a transaction operation");
    return SPK_OK;
}

static spk_status spk__ops_parse(const char *text, spk_expr **out) {
    spk_status st = spk_expr_parse(text, out);
    if (st == SPK_OK && (st = spk__ops_expr_check(*out)) != SPK_OK) {
        spk_expr_release(*out);
        *out = NULL;
    }
    return st;
}

/* `name` as a quoted identifier. */
static void spk__sql_ident(spk__jbuf *o, const char *name) {
    spk__jbuf_raw(o, "`", 1);
    for (const char *p = name; *p; p++) spk__jbuf_raw(o, *p == '`' ? "``" : p, 1 + (*p == '`'));
    spk__jbuf_raw(o, "`", 1);
}

/* A string literal with Spark's backslash escapes. */
static void spk__sql_string(spk__jbuf *o, const char *s, size_t n) {
    spk__jbuf_raw(o, "'", 1);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\'' || c == '\\') spk__jbuf_fmt(o, "\\%c", c);
        else if (c == 0) spk__jbuf_raw(o, "\\0", 2);
        else if (c == '\n') spk__jbuf_raw(o, "\\n", 2);
        else if (c == '\r') spk__jbuf_raw(o, "\\r", 2);
        else if (c == '\t') spk__jbuf_raw(o, "\\t", 2);
        else spk__jbuf_raw(o, &c, 1);
    }
    spk__jbuf_raw(o, "'", 1);
}

/* An expression as SQL that parses back to the same tree. */
static spk_status spk__sql_expr(spk__jbuf *o, const spk_expr *e, int depth) {
    if (depth > 200) return spk__fail(SPK_ERR_LIMIT, "an expression nested over 200 deep cannot be encoded");
    char type[32];
    spk_status st = SPK_OK;
    switch ((spk__op)e->op) {
    case SPK__OP_COL:
        if (e->qualifier) {
            spk__sql_ident(o, e->qualifier);
            spk__jbuf_raw(o, ".", 1);
        }
        spk__sql_ident(o, e->name);
        return SPK_OK;
    case SPK__OP_STAR:
        if (e->qualifier) {
            spk__sql_ident(o, e->qualifier);
            spk__jbuf_raw(o, ".", 1);
        }
        spk__jbuf_raw(o, "*", 1);
        return SPK_OK;
    case SPK__OP_LIT: {
        const spk_value *v = &e->lit;
        spk_type_format(v->type, SPK_TYPE_SQL, type, sizeof type);
        char text[SPK_VALUE_TEXT_MAX];
        if (v->is_null && v->type.id == SPK_TYPE_NULL) spk__jbuf_raw(o, "NULL", 4);
        else if (v->is_null) spk__jbuf_fmt(o, "CAST(NULL AS %s)", type);
        else switch (v->type.id) {
            case SPK_TYPE_BOOLEAN: spk__jbuf_fmt(o, "%s", v->as.b ? "true" : "false"); break;
            case SPK_TYPE_INT32: spk__jbuf_fmt(o, "%ld", (long)v->as.i32); break;
            case SPK_TYPE_INT64: spk__jbuf_fmt(o, "%lldL", (long long)v->as.i64); break;
            case SPK_TYPE_DOUBLE:
                if (v->as.f64 != v->as.f64) spk__jbuf_raw(o, "CAST('NaN' AS DOUBLE)", 21);
                else if (v->as.f64 > 1.7976931348623157e308) spk__jbuf_raw(o, "CAST('Infinity' AS DOUBLE)", 26);
                else if (v->as.f64 < -1.7976931348623157e308) spk__jbuf_raw(o, "CAST('-Infinity' AS DOUBLE)", 27);
                else spk__jbuf_fmt(o, "CAST('%.17g' AS DOUBLE)", v->as.f64);
                break;
            case SPK_TYPE_STRING: spk__sql_string(o, v->as.str.ptr, v->as.str.len); break;
            case SPK_TYPE_DECIMAL:
                spk_value_format(v, text, sizeof text);
                spk__jbuf_fmt(o, "CAST('%s' AS %s)", text, type);
                break;
            case SPK_TYPE_DATE:
            case SPK_TYPE_TIMESTAMP:
                spk_value_format(v, text, sizeof text);
                spk__jbuf_fmt(o, "%s '%s'", v->type.id == SPK_TYPE_DATE ? "DATE" : "TIMESTAMP", text);
                break;
            default: return spk__fail(SPK_ERR_UNSUPPORTED, "a literal of type %s cannot be encoded", type);
            }
        return SPK_OK;
    }
    case SPK__OP_INTERVAL: {
        int units = (e->months != 0) + (e->days != 0) + (e->micros != 0);
        if (units > 1 || e->micros % 1000000 != 0)
            return spk__fail(SPK_ERR_UNSUPPORTED, "an interval of mixed units (or fractions of a second) cannot be encoded");
        if (e->months) spk__jbuf_fmt(o, "INTERVAL %ld MONTH", (long)e->months);
        else if (e->days) spk__jbuf_fmt(o, "INTERVAL %ld DAY", (long)e->days);
        else spk__jbuf_fmt(o, "INTERVAL %lld SECOND", (long long)(e->micros / 1000000));
        return SPK_OK;
    }
    case SPK__OP_NEG: case SPK__OP_NOT: case SPK__OP_IS_NULL: case SPK__OP_IS_NOT_NULL:
        spk__jbuf_raw(o, e->op == SPK__OP_NEG ? "(- " : e->op == SPK__OP_NOT ? "(NOT " : "(", e->op == SPK__OP_NOT ? 5 : e->op == SPK__OP_NEG ? 3 : 1);
        st = spk__sql_expr(o, e->args[0], depth + 1);
        if (e->op == SPK__OP_IS_NULL) spk__jbuf_raw(o, " IS NULL", 8);
        if (e->op == SPK__OP_IS_NOT_NULL) spk__jbuf_raw(o, " IS NOT NULL", 12);
        spk__jbuf_raw(o, ")", 1);
        return st;
    case SPK__OP_ADD: case SPK__OP_SUB: case SPK__OP_MUL: case SPK__OP_DIV: case SPK__OP_MOD:
    case SPK__OP_INTDIV: case SPK__OP_EQ: case SPK__OP_NE: case SPK__OP_LT: case SPK__OP_LE:
    case SPK__OP_GT: case SPK__OP_GE: case SPK__OP_EQ_NS: case SPK__OP_AND: case SPK__OP_OR:
        spk__jbuf_raw(o, "(", 1);
        st = spk__sql_expr(o, e->args[0], depth + 1);
        spk__jbuf_fmt(o, " %s ", spk__op_symbol((spk__op)e->op));
        if (st == SPK_OK) st = spk__sql_expr(o, e->args[1], depth + 1);
        spk__jbuf_raw(o, ")", 1);
        return st;
    case SPK__OP_IN:
        spk__jbuf_raw(o, "(", 1);
        st = spk__sql_expr(o, e->args[0], depth + 1);
        spk__jbuf_raw(o, " IN (", 5);
        for (int i = 1; i < e->nargs && st == SPK_OK; i++) {
            if (i > 1) spk__jbuf_raw(o, ", ", 2);
            st = spk__sql_expr(o, e->args[i], depth + 1);
        }
        spk__jbuf_raw(o, "))", 2);
        return st;
    case SPK__OP_LIKE:
    case SPK__OP_RLIKE:
        spk__jbuf_raw(o, "(", 1);
        st = spk__sql_expr(o, e->args[0], depth + 1);
        spk__jbuf_raw(o, e->op == SPK__OP_LIKE ? " LIKE " : " RLIKE ", e->op == SPK__OP_LIKE ? 6 : 7);
        spk__sql_string(o, e->name, strlen(e->name));
        spk__jbuf_raw(o, ")", 1);
        return st;
    case SPK__OP_CASE: {
        int pairs = (e->nargs - (e->has_else ? 1 : 0)) / 2;
        spk__jbuf_raw(o, "CASE", 4);
        for (int i = 0; i < pairs && st == SPK_OK; i++) {
            spk__jbuf_raw(o, " WHEN ", 6);
            st = spk__sql_expr(o, e->args[2 * i], depth + 1);
            spk__jbuf_raw(o, " THEN ", 6);
            if (st == SPK_OK) st = spk__sql_expr(o, e->args[2 * i + 1], depth + 1);
        }
        if (st == SPK_OK && e->has_else) {
            spk__jbuf_raw(o, " ELSE ", 6);
            st = spk__sql_expr(o, e->args[e->nargs - 1], depth + 1);
        }
        spk__jbuf_raw(o, " END", 4);
        return st;
    }
    case SPK__OP_CAST:
        spk_type_format(e->type, SPK_TYPE_SQL, type, sizeof type);
        spk__jbuf_raw(o, "CAST(", 5);
        st = spk__sql_expr(o, e->args[0], depth + 1);
        spk__jbuf_fmt(o, " AS %s)", type);
        return st;
    case SPK__OP_ALIAS: /* a name changes nothing in a condition or an assigned value */
        return spk__sql_expr(o, e->args[0], depth + 1);
    case SPK__OP_CALL:
        spk__jbuf_fmt(o, "%s(%s", e->name, e->distinct ? "DISTINCT " : "");
        for (int i = 0; i < e->nargs && st == SPK_OK; i++) {
            if (i) spk__jbuf_raw(o, ", ", 2);
            st = spk__sql_expr(o, e->args[i], depth + 1);
        }
        spk__jbuf_raw(o, ")", 1);
        return st;
    default: return spk__fail(SPK_ERR_UNSUPPORTED, "a sort key cannot be encoded as a condition or value");
    }
}

static spk_status spk__json_expr(spk__jbuf *o, const spk_expr *e) {
    if (!e) {
        spk__jbuf_raw(o, "null", 4);
        return SPK_OK;
    }
    spk__jbuf sql;
    spk_status st = spk__ops_expr_check(e);
    if (st != SPK_OK) return st;
    spk__jbuf_init(&sql, &spk__default_allocator);
    st = spk__sql_expr(&sql, e, 0);
    if (st == SPK_OK && sql.failed) st = spk__nomem("an expression's text", sql.cap);
    if (st == SPK_OK) spk__jbuf_str(o, sql.p ? sql.p : "", sql.len);
    spk__jbuf_free(&sql);
    return st;
}

static bool spk__utf8_valid(const char *s, size_t n) {
    const char *why = NULL;
    for (size_t i = 0; i < n;) {
        size_t k = (unsigned char)s[i] < 0x80 ? 1 : spk__json_utf8_length((const unsigned char *)s + i, n - i, &why);
        if (!k) return false;
        i += k;
    }
    return true;
}

static void spk__json_name(spk__jbuf *o, const char *name) {
    if (name) spk__jbuf_str(o, name, strlen(name));
    else spk__jbuf_raw(o, "null", 4);
}

static spk_status spk__json_rows(spk__jbuf *o, const spk_table *t, const char *where) {
    char ddl[8192];
    if (spk_schema_ddl(t->schema, ddl, sizeof ddl) >= sizeof ddl)
        return spk__fail(SPK_ERR_LIMIT, "%s: the schema's DDL is over %zu bytes", where, sizeof ddl);
    spk__jbuf_raw(o, "{\"schema\": ", 11);
    spk__jbuf_str(o, ddl, strlen(ddl));
    spk__jbuf_raw(o, ", \"rows\": [", 11);
    int ncols = spk_schema_ncols(t->schema);
    spk_cursor c;
    spk_cursor_open(&c, t);
    spk_status st = SPK_OK;
    bool first = true;
    while (st == SPK_OK && spk_cursor_next(&c)) {
        spk__jbuf_raw(o, first ? "[" : ", [", first ? 1 : 3);
        first = false;
        for (int i = 0; i < ncols && st == SPK_OK; i++) {
            spk_value v;
            char text[SPK_VALUE_TEXT_MAX];
            if ((st = spk_cursor_get(&c, i, &v)) != SPK_OK) break;
            if (i) spk__jbuf_raw(o, ", ", 2);
            if (v.is_null) {
                spk__jbuf_raw(o, "null", 4);
                continue;
            }
            switch (v.type.id) {
            case SPK_TYPE_BOOLEAN: spk__jbuf_fmt(o, "%s", v.as.b ? "true" : "false"); break;
            case SPK_TYPE_INT32: spk__jbuf_fmt(o, "%ld", (long)v.as.i32); break;
            case SPK_TYPE_INT64: spk__jbuf_fmt(o, "%lld", (long long)v.as.i64); break;
            case SPK_TYPE_DOUBLE:
                if (v.as.f64 != v.as.f64) spk__jbuf_raw(o, "\"NaN\"", 5);
                else if (v.as.f64 > 1.7976931348623157e308) spk__jbuf_raw(o, "\"Infinity\"", 10);
                else if (v.as.f64 < -1.7976931348623157e308) spk__jbuf_raw(o, "\"-Infinity\"", 11);
                else spk__jbuf_fmt(o, "%.17g", v.as.f64);
                break;
            case SPK_TYPE_STRING:
                if (!spk__utf8_valid(v.as.str.ptr, v.as.str.len))
                    st = spk__fail(SPK_ERR_ARG, "%s: row %zu, column `%s` is not valid UTF-8 (JSON carries text only)", where,
                                   c.row + 1, spk_schema_field(t->schema, i)->name);
                else spk__jbuf_str(o, v.as.str.ptr, v.as.str.len);
                break;
            default:
                spk_value_format(&v, text, sizeof text);
                spk__jbuf_str(o, text, strlen(text));
            }
        }
        spk__jbuf_raw(o, "]", 1);
    }
    spk__jbuf_raw(o, "]}", 2);
    return st;
}

static spk_status spk__json_assignments(spk__jbuf *o, int n, char *const *columns, spk_expr *const *values) {
    spk_status st = SPK_OK;
    spk__jbuf_raw(o, "[", 1);
    for (int i = 0; i < n && st == SPK_OK; i++) {
        spk__jbuf_raw(o, i ? ", [" : "[", i ? 3 : 1);
        spk__json_name(o, columns[i]);
        spk__jbuf_raw(o, ", ", 2);
        st = spk__json_expr(o, values[i]);
        spk__jbuf_raw(o, "]", 1);
    }
    spk__jbuf_raw(o, "]", 1);
    return st;
}

static const char *const spk__action_names[] = {"update", "update_all", "delete", "insert", "insert_all"};

static spk_status spk__json_op(spk__jbuf *o, const spk__txn_op *op, int index) {
    char where[2 * SPK__NAME_MAX + 64];
    snprintf(where, sizeof where, "operation %d (%s of %s.%s)", index + 1, spk__op_names[op->kind], op->db, op->table);
    spk__jbuf_fmt(o, "{\"op\": \"%s\", \"table\": ", spk__op_names[op->kind]);
    char name[2 * SPK__NAME_MAX + 2];
    snprintf(name, sizeof name, "%s.%s", op->db, op->table);
    spk__json_name(o, name);
    spk_status st = SPK_OK;
    switch (op->kind) {
    case SPK__TXN_WRITE:
        spk__jbuf_raw(o, ", \"rows\": ", 10);
        st = spk__json_rows(o, op->rows, where);
        break;
    case SPK__TXN_DELETE:
        spk__jbuf_raw(o, ", \"where\": ", 11);
        st = spk__json_expr(o, op->where);
        break;
    case SPK__TXN_UPDATE:
        spk__jbuf_raw(o, ", \"set\": ", 9);
        st = spk__json_assignments(o, op->n, op->columns, op->values);
        spk__jbuf_raw(o, ", \"where\": ", 11);
        if (st == SPK_OK) st = spk__json_expr(o, op->where);
        break;
    case SPK__TXN_MERGE: {
        const spk_merge *m = op->merge;
        spk__jbuf_raw(o, ", \"target_alias\": ", 18);
        spk__json_name(o, m->target_alias);
        spk__jbuf_raw(o, ", \"source_alias\": ", 18);
        spk__json_name(o, m->source_alias);
        spk__jbuf_raw(o, ", \"on\": ", 8);
        st = spk__json_expr(o, m->on);
        spk__jbuf_raw(o, ", \"source\": ", 12);
        if (st == SPK_OK) st = spk__json_rows(o, op->rows, where);
        spk__jbuf_raw(o, ", \"clauses\": [", 14);
        for (int i = 0; i < m->nclauses && st == SPK_OK; i++) {
            const spk__merge_clause *k = &m->clauses[i];
            spk__jbuf_fmt(o, "%s{\"when\": \"%s\", \"action\": \"%s\", \"condition\": ", i ? ", " : "",
                          k->matched ? "matched" : "not_matched", spk__action_names[k->action]);
            st = spk__json_expr(o, k->condition);
            if (st == SPK_OK && (k->action == SPK__MERGE_UPDATE || k->action == SPK__MERGE_INSERT)) {
                spk__jbuf_raw(o, ", \"set\": ", 9);
                st = spk__json_assignments(o, k->n, k->columns, k->values);
            }
            spk__jbuf_raw(o, "}", 1);
        }
        spk__jbuf_raw(o, "]", 1);
        break;
    }
    }
    spk__jbuf_raw(o, "}", 1);
    return st;
}

SPKDEF spk_status spk_txn_ops_to_json(const spk_txn_ops *ops, char **out) {
    if (!ops || !out) return spk__fail(SPK_ERR_ARG, "spk_txn_ops_to_json: NULL argument");
    spk__jbuf o;
    spk__jbuf_init(&o, &spk__default_allocator);
    spk__jbuf_fmt(&o, "{\"format\": \"%s\", \"version\": %d, \"operations\": [", SPK__OPS_FORMAT, SPK__OPS_VERSION);
    spk_status st = SPK_OK;
    for (int i = 0; i < ops->n && st == SPK_OK; i++) {
        if (i) spk__jbuf_raw(&o, ", ", 2);
        st = spk__json_op(&o, &ops->ops[i], i);
    }
    spk__jbuf_raw(&o, "]}", 2);
    if (st != SPK_OK) {
        spk__jbuf_free(&o);
        return st;
    }
    char *text = NULL;
    size_t len = 0;
    if ((st = spk__jbuf_finish(&o, &text, &len)) != SPK_OK) return st;
    *out = spk__given_string(text, len); /* for spk_string_free */
    spk__free(&spk__default_allocator, text, len + 1);
    return *out ? SPK_OK : spk__nomem("transaction operations as JSON", len + 1);
}

/* ---------------------------------------------------------------- decoding */

/* SPK_ERR_PARSE about the value at v, in operation `op` (0: the document). */
static spk_status spk__ops_bad(const spk__json *v, int op, const char *fmt, ...) SPK__PRINTF(3, 4);
static spk_status spk__ops_bad(const spk__json *v, int op, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (op) return spk__fail(SPK_ERR_PARSE, "transaction operations, operation %d: %s (at byte %zu)", op, msg, v ? v->offset : 0);
    return spk__fail(SPK_ERR_PARSE, "transaction operations: %s (at byte %zu)", msg, v ? v->offset : 0);
}

static const char *spk__json_kind_name(const spk__json *v) {
    static const char *const names[] = {"null", "false", "true", "a number", "a string", "an array", "an object"};
    return v ? names[v->kind] : "nothing";
}

/* A member that must be a string (or, when nullable, null: *out = NULL). */
static spk_status spk__ops_string(const spk__json *obj, const char *key, bool nullable, int op, const char **out) {
    const spk__json *v = spk__json_get(obj, key);
    *out = NULL;
    if (v && v->kind == SPK__JSON_STRING) {
        if (strlen(v->str) != v->len) return spk__ops_bad(v, op, "\"%s\" holds a NUL character", key);
        *out = v->str;
        return SPK_OK;
    }
    if (nullable && (!v || v->kind == SPK__JSON_NULL)) return SPK_OK;
    return spk__ops_bad(v ? v : obj, op, "\"%s\" must be a string%s, not %s", key, nullable ? " or null" : "", spk__json_kind_name(v));
}

static spk_status spk__ops_expr(const spk__json *obj, const char *key, bool nullable, int op, spk_expr **out) {
    const char *text = NULL;
    *out = NULL;
    spk_status st = spk__ops_string(obj, key, nullable, op, &text);
    if (st == SPK_OK && text && (st = spk__ops_parse(text, out)) != SPK_OK)
        spk__fail_prefix("transaction operations, operation %d, \"%s\" (at byte %zu): ", op, key, spk__json_get(obj, key)->offset);
    return st;
}

/* [[column, expression], ...] */
static spk_status spk__ops_assignments(const spk__json *obj, int op, int *n, char ***columns, spk_expr ***values) {
    const spk__json *set = spk__json_get(obj, "set");
    if (!set || set->kind != SPK__JSON_ARRAY || set->n < 1 || set->n > 256)
        return spk__ops_bad(set ? set : obj, op, "\"set\" must be an array of 1 to 256 [column, expression] pairs");
    spk__txn_op tmp = spk__op_of(SPK__TXN_UPDATE);
    const char *names[256];
    spk_expr *exprs[256];
    spk_status st = SPK_OK;
    size_t i = 0;
    for (; i < set->n && st == SPK_OK; i++) {
        const spk__json *pair = &set->items[i];
        exprs[i] = NULL;
        if (pair->kind != SPK__JSON_ARRAY || pair->n != 2 || pair->items[0].kind != SPK__JSON_STRING ||
            pair->items[1].kind != SPK__JSON_STRING || strlen(pair->items[0].str) != pair->items[0].len ||
            strlen(pair->items[1].str) != pair->items[1].len) {
            st = spk__ops_bad(pair, op, "\"set\" item %zu must be [column, expression] (two strings)", i + 1);
            break;
        }
        names[i] = pair->items[0].str;
        if ((st = spk__ops_parse(pair->items[1].str, &exprs[i])) != SPK_OK)
            spk__fail_prefix("transaction operations, operation %d, \"set\" item %zu (at byte %zu): ", op, i + 1, pair->offset);
    }
    if (st != SPK_OK) {
        for (size_t k = 0; k < i; k++) spk_expr_release(exprs[k]);
        return st;
    }
    st = spk__op_assign(&tmp, (int)set->n, names, exprs);
    if (st != SPK_OK) {
        spk__op_clear(&tmp);
        return st;
    }
    *n = tmp.n;
    *columns = tmp.columns;
    *values = tmp.values;
    return SPK_OK;
}

/* One JSON value as a value of type t (strings point into the document). */
static spk_status spk__ops_value(const spk__json *v, spk_type t, spk_value *out) {
    if (v->kind == SPK__JSON_NULL) {
        *out = spk_value_null_of(t);
        return SPK_OK;
    }
    switch (t.id) {
    case SPK_TYPE_BOOLEAN:
        if (v->kind != SPK__JSON_TRUE && v->kind != SPK__JSON_FALSE) return SPK_ERR_PARSE;
        *out = spk_value_bool(v->kind == SPK__JSON_TRUE);
        return SPK_OK;
    case SPK_TYPE_STRING:
        if (v->kind != SPK__JSON_STRING) return SPK_ERR_PARSE;
        *out = spk_value_strn(v->str, v->len);
        return SPK_OK;
    case SPK_TYPE_INT32:
    case SPK_TYPE_INT64:
        if (v->kind != SPK__JSON_NUMBER) return SPK_ERR_PARSE;
        break;
    case SPK_TYPE_DOUBLE:
        if (v->kind == SPK__JSON_NUMBER) { /* a finite double, correctly rounded */
            double x = 0;
            if (!spk__json_is_number(v, &x)) return SPK_ERR_PARSE;
            *out = spk_value_f64(x);
            return SPK_OK;
        }
        if (v->kind != SPK__JSON_STRING || (strcmp(v->str, "NaN") && strcmp(v->str, "Infinity") && strcmp(v->str, "-Infinity")))
            return SPK_ERR_PARSE;
        break;
    default:
        if (v->kind != SPK__JSON_STRING) return SPK_ERR_PARSE;
    }
    return spk_value_parse(t, v->str, v->len, out);
}

/* {"schema": DDL, "rows": [[...], ...]} as a new table. */
static spk_status spk__ops_rows(const spk__json *obj, const char *key, int op, spk_table **out) {
    const spk__json *r = spk__json_get(obj, key);
    if (!r || r->kind != SPK__JSON_OBJECT) return spk__ops_bad(r ? r : obj, op, "\"%s\" must be an object {\"schema\", \"rows\"}", key);
    const char *ddl = NULL;
    spk_status st = spk__ops_string(r, "schema", false, op, &ddl);
    if (st != SPK_OK) return st;
    const spk__json *rows = spk__json_get(r, "rows");
    if (!rows || rows->kind != SPK__JSON_ARRAY) return spk__ops_bad(rows ? rows : r, op, "\"rows\" must be an array");
    spk_schema *schema = NULL;
    if ((st = spk_schema_parse(&spk__default_allocator, ddl, &schema)) != SPK_OK) {
        spk__fail_prefix("transaction operations, operation %d, \"schema\" (at byte %zu): ", op, spk__json_get(r, "schema")->offset);
        return st;
    }
    int ncols = spk_schema_ncols(schema);
    spk_table *t = NULL;
    spk_value *row = NULL;
    st = spk_table_new(&spk__default_allocator, schema, &t);
    if (st == SPK_OK && !(row = (spk_value *)spk__alloc(&spk__default_allocator, (size_t)(ncols ? ncols : 1) * sizeof *row)))
        st = spk__nomem("a row", (size_t)ncols * sizeof *row);
    for (size_t i = 0; st == SPK_OK && i < rows->n; i++) {
        const spk__json *item = &rows->items[i];
        if (item->kind != SPK__JSON_ARRAY || item->n != (size_t)ncols) {
            st = spk__ops_bad(item, op, "row %zu must be an array of %d values", i + 1, ncols);
            break;
        }
        for (int c = 0; c < ncols && st == SPK_OK; c++) {
            const spk_field *f = spk_schema_field(schema, c);
            if (spk__ops_value(&item->items[c], f->type, &row[c]) != SPK_OK) {
                spk_clear_error();
                st = spk__ops_bad(&item->items[c], op, "row %zu, column `%s`: %s is not a %s value", i + 1, f->name,
                                  spk__json_kind_name(&item->items[c]), spk__type_sql(f->type).s);
            }
        }
        if (st == SPK_OK && (st = spk_table_append_row(t, row, ncols)) != SPK_OK)
            spk__fail_prefix("transaction operations, operation %d, row %zu (at byte %zu): ", op, i + 1, item->offset);
    }
    if (row) spk__free(&spk__default_allocator, row, (size_t)(ncols ? ncols : 1) * sizeof *row);
    spk_schema_release(schema);
    if (st != SPK_OK) {
        spk_table_free(t);
        return st;
    }
    *out = t;
    return SPK_OK;
}

static spk_status spk__ops_merge(const spk__json *obj, int op, const char *target, spk_merge **out) {
    const char *talias = NULL, *salias = NULL;
    spk_expr *on = NULL;
    spk_status st = spk__ops_string(obj, "target_alias", true, op, &talias);
    if (st == SPK_OK) st = spk__ops_string(obj, "source_alias", true, op, &salias);
    if (st == SPK_OK) st = spk__ops_expr(obj, "on", false, op, &on);
    if (st != SPK_OK) return st;
    spk_merge *m = spk__merge_alloc(target, talias, salias, on);
    if (!m) return spk_last_status();
    const spk__json *clauses = spk__json_get(obj, "clauses");
    if (!clauses || clauses->kind != SPK__JSON_ARRAY) st = spk__ops_bad(clauses ? clauses : obj, op, "\"clauses\" must be an array");
    for (size_t i = 0; st == SPK_OK && i < clauses->n; i++) {
        const spk__json *k = &clauses->items[i];
        const char *when = NULL, *action = NULL;
        if (k->kind != SPK__JSON_OBJECT) st = spk__ops_bad(k, op, "clause %zu must be an object", i + 1);
        if (st == SPK_OK) st = spk__ops_string(k, "when", false, op, &when);
        if (st == SPK_OK) st = spk__ops_string(k, "action", false, op, &action);
        if (st != SPK_OK) break;
        int a = 0;
        while (a < 5 && strcmp(spk__action_names[a], action) != 0) a++;
        bool matched = strcmp(when, "matched") == 0;
        if (!matched && strcmp(when, "not_matched") != 0) st = spk__ops_bad(k, op, "clause %zu: \"when\" must be \"matched\" or \"not_matched\"", i + 1);
        else if (a == 5) st = spk__ops_bad(k, op, "clause %zu: unknown action \"%s\"", i + 1, action);
        spk_expr *condition = NULL;
        if (st == SPK_OK) st = spk__ops_expr(k, "condition", true, op, &condition);
        if (st != SPK_OK) break;
        int n = 0;
        char **columns = NULL;
        spk_expr **values = NULL;
        if (a == SPK__MERGE_UPDATE || a == SPK__MERGE_INSERT) st = spk__ops_assignments(k, op, &n, &columns, &values);
        if (st != SPK_OK) {
            spk_expr_release(condition);
            break;
        }
        spk__txn_op holder = spk__op_of(SPK__TXN_UPDATE);
        holder.n = n;
        holder.columns = columns;
        holder.values = values;
        for (int j = 0; j < n; j++) spk_expr_retain(values[j]); /* the clause consumes its own references */
        st = spk__merge_add_clause(m, matched, (spk__merge_action)a, condition, n, (const char *const *)columns, values);
        spk__op_clear(&holder);
        if (st != SPK_OK) spk__fail_prefix("transaction operations, operation %d, clause %zu: ", op, i + 1);
    }
    if (st != SPK_OK) {
        spk_merge_free(m);
        return st;
    }
    *out = m;
    return SPK_OK;
}

static spk_status spk__ops_op(const spk__json *v, int op, spk__txn_op *out) {
    memset(out, 0, sizeof *out);
    if (v->kind != SPK__JSON_OBJECT) return spk__ops_bad(v, op, "an operation must be an object, not %s", spk__json_kind_name(v));
    const char *kind = NULL, *table = NULL;
    spk_status st = spk__ops_string(v, "op", false, op, &kind);
    if (st == SPK_OK) st = spk__ops_string(v, "table", false, op, &table);
    if (st != SPK_OK) return st;
    int k = 0;
    while (k < 4 && strcmp(spk__op_names[k], kind) != 0) k++;
    if (k == 4) return spk__ops_bad(spk__json_get(v, "op"), op, "unknown operation \"%s\" (write, delete, update, merge)", kind);
    out->kind = (spk__op_kind)k;
    if ((st = spk__table_name(table, out->db, out->table)) != SPK_OK || !out->db[0]) {
        if (st == SPK_OK) st = spk__ops_bad(spk__json_get(v, "table"), op, "\"table\" must be \"database.table\", not \"%s\"", table);
        else spk__fail_prefix("transaction operations, operation %d: ", op);
        return st;
    }
    char target[2 * SPK__NAME_MAX + 2];
    snprintf(target, sizeof target, "%s.%s", out->db, out->table);
    switch (out->kind) {
    case SPK__TXN_WRITE: st = spk__ops_rows(v, "rows", op, &out->rows); break;
    case SPK__TXN_DELETE: st = spk__ops_expr(v, "where", true, op, &out->where); break;
    case SPK__TXN_UPDATE:
        st = spk__ops_assignments(v, op, &out->n, &out->columns, &out->values);
        if (st == SPK_OK) st = spk__ops_expr(v, "where", true, op, &out->where);
        break;
    case SPK__TXN_MERGE:
        st = spk__ops_rows(v, "source", op, &out->rows);
        if (st == SPK_OK) st = spk__ops_merge(v, op, target, &out->merge);
        break;
    }
    if (st != SPK_OK) spk__op_clear(out);
    return st;
}

SPKDEF spk_status spk_txn_ops_from_json(const char *json, size_t len, spk_txn_ops **out) {
    if (!json || !out) return spk__fail(SPK_ERR_ARG, "spk_txn_ops_from_json: NULL argument");
    spk__json_doc *doc = NULL;
    spk_status st = spk__json_parse(&spk__default_allocator, json, len, "transaction operations", &doc);
    if (st != SPK_OK) return st;
    const spk__json *root = spk__json_root(doc);
    const char *format = NULL;
    int64_t version = 0;
    const spk__json *list = NULL;
    if (root->kind != SPK__JSON_OBJECT) st = spk__ops_bad(root, 0, "the document must be an object, not %s", spk__json_kind_name(root));
    if (st == SPK_OK) st = spk__ops_string(root, "format", false, 0, &format);
    if (st == SPK_OK && strcmp(format, SPK__OPS_FORMAT) != 0)
        st = spk__ops_bad(spk__json_get(root, "format"), 0, "\"format\" is \"%s\", not \"" SPK__OPS_FORMAT "\"", format);
    if (st == SPK_OK && !spk__json_is_int(spk__json_get(root, "version"), &version))
        st = spk__ops_bad(root, 0, "\"version\" must be an integer");
    if (st == SPK_OK && version != SPK__OPS_VERSION)
        st = spk__fail(SPK_ERR_VERSION, "transaction operations: format version %lld is not supported (this library reads "
                                        "version %d)", (long long)version, SPK__OPS_VERSION);
    if (st == SPK_OK && (!(list = spk__json_get(root, "operations")) || list->kind != SPK__JSON_ARRAY))
        st = spk__ops_bad(list ? list : root, 0, "\"operations\" must be an array");
    spk_txn_ops *ops = NULL;
    if (st == SPK_OK && !(ops = (spk_txn_ops *)spk__calloc(&spk__default_allocator, sizeof *ops)))
        st = spk__nomem("transaction operations", sizeof *ops);
    for (size_t i = 0; st == SPK_OK && i < list->n; i++) {
        spk__txn_op op;
        if ((st = spk__ops_op(&list->items[i], (int)i + 1, &op)) == SPK_OK) st = spk__ops_push(ops, &op);
    }
    spk__json_free(doc);
    if (st != SPK_OK) {
        spk_txn_ops_free(ops);
        return st;
    }
    *out = ops;
    return SPK_OK;
}
