/* exec: running a plan, morsel-driven on the session's threads. Filters,
 * projections and limits stream batches of vectors from their source into
 * sinks, a morsel at a time; aggregation, sorting, distinct, set operations
 * and joins consume whole inputs and produce tables. Every operator keeps
 * each task's results apart and combines them in task order, so results
 * are the same at any thread count. Actions (collect, count, show,
 * foreach) sit on top. */
#include "optimize.c"
#include "exec.h"

/* A sink receives the batches of a stream: columns as vectors, and the
 * selected rows. It may set `done` to stop the stream early (a limit). */
typedef struct spk__sink spk__sink;
struct spk__sink {
    spk_status (*consume)(spk__sink *self, spk__vec *const *cols, int ncols, const uint32_t *sel, uint32_t n);
    bool done;
};

static spk_status spk__materialize(const spk_df *df, spk_table **out, bool *owned);

/* Vectors with their own storage, for a batch of a schema's columns. */
typedef struct spk__vecset {
    spk__vec *vecs;
    spk__vec **ptrs;
    void *block;
    size_t size;
    int n;
} spk__vecset;

static spk_status spk__vecset_init(spk__vecset *vs, const spk_schema *schema) {
    memset(vs, 0, sizeof *vs);
    int n = spk_schema_ncols(schema);
    size_t size = (size_t)n * (sizeof(spk__vec) + sizeof(spk__vec *) + SPK__BATCH + 16);
    for (int i = 0; i < n; i++) size += SPK__BATCH * spk__phys_size((spk_type_id)spk_schema_field(schema, i)->type.id);
    vs->block = spk__calloc(&spk__default_allocator, size ? size : 1);
    if (!vs->block) return spk__nomem("a batch", size);
    vs->size = size;
    vs->n = n;
    char *at = (char *)vs->block;
    vs->vecs = (spk__vec *)(void *)at;
    at += (size_t)n * sizeof(spk__vec);
    vs->ptrs = (spk__vec **)(void *)at;
    at += (size_t)n * sizeof(spk__vec *);
    for (int i = 0; i < n; i++) {
        spk__vec *v = &vs->vecs[i];
        v->type = spk_schema_field(schema, i)->type;
        at = (char *)(((uintptr_t)at + 15) & ~(uintptr_t)15);
        v->v.any = at;
        at += SPK__BATCH * spk__phys_size((spk_type_id)v->type.id);
        v->nulls = (uint8_t *)at;
        at += SPK__BATCH;
        vs->ptrs[i] = v;
    }
    return SPK_OK;
}

static void spk__vecset_free(spk__vecset *vs) {
    if (vs->block) spk__free(&spk__default_allocator, vs->block, vs->size);
    vs->block = NULL;
}

/* ---------------------------------------------------------------- parallel runs
 * An operator splits its work into numbered tasks (morsels of an input,
 * row ranges, hash partitions). spk__par_run starts up to `nworkers`
 * runners — the calling thread, and the rest as tasks on the session's pool
 * — which take task numbers from one atomic counter until none are left.
 * Which runner does which task changes from run to run, so every operator
 * keeps each task's results apart and combines them in task order
 * afterwards: a query's result never depends on the thread count. */

typedef spk_status (*spk__par_fn)(void *ctx, int worker, size_t task);

typedef struct spk__par {
    spk__par_fn fn;
    void *ctx;
    size_t ntasks;
    atomic_size_t next; /* the next task number to hand out */
    atomic_int failed;  /* set once, by the first task to fail */
    spk_status status;  /* that task's error, written only by the runner that set `failed` */
    char message[SPK_ERROR_MAX];
} spk__par;

typedef struct spk__par_runner {
    spk__par *par;
    int worker;
} spk__par_runner;

static void spk__par_loop(void *arg) {
    spk__par_runner *r = (spk__par_runner *)arg;
    spk__par *p = r->par;
    /* Relaxed throughout: the counter only hands out numbers (each task's
     * data is its own), `failed` only stops the others early, and what the
     * tasks wrote reaches the caller through the wait-group's join. */
    while (!atomic_load_explicit(&p->failed, memory_order_relaxed)) {
        size_t t = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (t >= p->ntasks) return;
        spk_status st = p->fn(p->ctx, r->worker, t);
        if (st == SPK_OK) continue;
        int expected = 0;
        if (atomic_compare_exchange_strong_explicit(&p->failed, &expected, 1, memory_order_relaxed, memory_order_relaxed)) {
            p->status = st;
            snprintf(p->message, sizeof p->message, "%s", spk_last_error()); /* this thread's: copy it for the caller */
        }
        return;
    }
}

/* How many runners a run of `ntasks` tasks gets. */
static int spk__par_workers(const spk_session *s, size_t ntasks) {
    int threads = spk_session_threads(s);
    return ntasks < (size_t)threads ? (ntasks ? (int)ntasks : 1) : threads;
}

/* Runs fn(ctx, worker, task) for every task in [0, ntasks), worker in
 * [0, nworkers); the first failure's error is raised on the calling thread.
 * One runner takes the tasks in order on the calling thread. Should the
 * pool not start, the calling thread runs everything as worker 0. */
static spk_status spk__par_run(spk_session *s, int nworkers, size_t ntasks, spk__par_fn fn, void *ctx) {
    spk__par p;
    p.fn = fn;
    p.ctx = ctx;
    p.ntasks = ntasks;
    atomic_init(&p.next, 0);
    atomic_init(&p.failed, 0);
    p.status = SPK_OK;
    p.message[0] = '\0';
    spk_pool *pool = NULL;
    spk_waitgroup *wg = NULL;
    spk__par_runner *runners = NULL;
    size_t rsize = (size_t)(nworkers > 1 ? nworkers : 1) * sizeof *runners;
    if (nworkers > 1 && ntasks > 1 && spk__session_pool(s, &pool) == SPK_OK && spk_waitgroup_new(pool, &wg) == SPK_OK)
        runners = (spk__par_runner *)spk__alloc(&spk__default_allocator, rsize);
    if (!runners) {
        spk__par_runner only = {&p, 0};
        spk__par_loop(&only);
    } else {
        for (int w = 0; w < nworkers; w++) runners[w] = (spk__par_runner){&p, w};
        for (int w = 1; w < nworkers; w++)
            if (spk_waitgroup_submit(wg, spk__par_loop, &runners[w]) != SPK_OK) break; /* fewer runners: still correct */
        spk__par_loop(&runners[0]);
        spk_waitgroup_wait(wg);
        spk__free(&spk__default_allocator, runners, rsize);
    }
    spk_waitgroup_free(wg);
    if (atomic_load_explicit(&p.failed, memory_order_relaxed)) return spk__fail(p.status, "%s", p.message);
    return SPK_OK;
}

/* A morsel: rows [start, start + n) of one chunk. */
typedef struct spk__morsel {
    const spk__chunk *chunk;
    uint32_t start, n;
} spk__morsel;

static spk_status spk__morsels_of(const spk_table *t, spk__morsel **out, size_t *count) {
    uint32_t size = spk__morsel_rows();
    size_t n = 0;
    for (size_t ci = 0; ci < t->nchunks; ci++) n += (t->chunks[ci]->nrows + (size_t)size - 1) / size;
    spk__morsel *m = (spk__morsel *)spk__alloc(&spk__default_allocator, (n ? n : 1) * sizeof *m);
    if (!m) return spk__nomem("morsels", (n ? n : 1) * sizeof *m);
    size_t k = 0;
    for (size_t ci = 0; ci < t->nchunks; ci++)
        for (uint32_t start = 0; start < t->chunks[ci]->nrows; start += size)
            m[k++] = (spk__morsel){t->chunks[ci], start, t->chunks[ci]->nrows - start < size ? t->chunks[ci]->nrows - start : size};
    *out = m;
    *count = n;
    return SPK_OK;
}

/* Row ranges of `rows` rows in morsel-sized pieces: how many, and piece i. */
static size_t spk__ranges(size_t rows) { return (rows + spk__morsel_rows() - 1) / spk__morsel_rows(); }
static void spk__range(size_t rows, size_t i, uint32_t *lo, uint32_t *hi) {
    size_t size = spk__morsel_rows(), a = i * size, b = a + size < rows ? a + size : rows;
    *lo = (uint32_t)a;
    *hi = (uint32_t)b;
}

/* ---------------------------------------------------------------- streaming chains */

static bool spk__streams(const spk_df *df) {
    if (df->kind == SPK__P_LIMIT) return df->child->kind != SPK__P_SORT; /* else the sort applies it (spk__run_sort) */
    return df->kind == SPK__P_FILTER || df->kind == SPK__P_PROJECT || df->kind == SPK__P_SAMPLE;
}

/* One operator of a chain, with its evaluation state. */
typedef struct spk__stage {
    const spk_df *node;
    spk__runner *runners; /* one per expression */
    int nrunners;
    uint32_t *sel;        /* FILTER, LIMIT: the selection they produce */
    /* FILTER: the predicate's conjuncts (a AND b AND ...), each applied to
     * the rows the ones before it kept, and per conjunct the input columns
     * it reads that none before it does: conj_cols[conj_from[j] ..
     * conj_from[j + 1]) (a bottom filter loads them only then). */
    const spk__bnode **conj;
    int nconj;
    int *conj_cols, *conj_from;
    /* Per conjunct: whether it is a column test that a bottom filter runs on
     * the stored column (tests[j]), and whether a later conjunct other than such
     * a test reads the column it is the first to read (reread[j]: then it is
     * loaded too). */
    spk__column_test *tests;
    uint8_t *is_test, *reread;
    size_t conj_size;
    spk__vec **out;       /* PROJECT: the output vectors (pointers into runners) */
    int64_t skipped, taken; /* LIMIT */
    uint64_t seen;          /* SAMPLE: rows that reached it so far */
} spk__stage;

/* Points a runner's column slots at the batch's vectors. */
static void spk__runner_bind_inputs(spk__runner *r, const spk_bound *b, spk__vec *const *cols) {
    int ncols = spk_schema_ncols(b->schema);
    for (int c = 0; c < ncols; c++)
        if (b->col_slot[c] >= 0) r->ev.vecs[b->col_slot[c]] = *cols[c];
}

static void spk__stages_free(spk__stage *stages, int n) {
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < stages[i].nrunners; k++) spk__runner_free(&stages[i].runners[k]);
        if (stages[i].runners) spk__free(&spk__default_allocator, stages[i].runners, (size_t)stages[i].node->nexprs * sizeof(spk__runner));
        if (stages[i].sel) spk__free(&spk__default_allocator, stages[i].sel, SPK__BATCH * sizeof(uint32_t));
        if (stages[i].tests) spk__free(&spk__default_allocator, stages[i].tests, stages[i].conj_size); /* the block's start */
        if (stages[i].out)
            spk__free(&spk__default_allocator, stages[i].out, (size_t)(stages[i].node->nexprs ? stages[i].node->nexprs : 1) * sizeof(spk__vec *));
    }
}

static void spk__conjuncts_of(const spk__bnode *b, const spk__bnode **into, int *n) {
    if (b->kind == SPK__B_AND) {
        spk__conjuncts_of(b->args[0], into, n);
        spk__conjuncts_of(b->args[1], into, n);
    } else {
        if (into) into[*n] = b;
        (*n)++;
    }
}

static void spk__bnode_columns(const spk__bnode *b, uint8_t *used) {
    if (b->kind == SPK__B_COL) used[b->col] = 1;
    for (int i = 0; i < b->nargs; i++) spk__bnode_columns(b->args[i], used);
}

/* A filter's conjuncts and the columns each one adds (see spk__stage). */
static spk_status spk__stage_conjuncts(spk__stage *s, const spk_bound *b) {
    int ncols = spk_schema_ncols(b->schema), n = 0;
    spk__conjuncts_of(b->root, NULL, &n);
    size_t size = (size_t)n * (sizeof *s->conj + sizeof *s->tests) + ((size_t)n + 1 + (size_t)ncols) * sizeof(int) +
                  2 * (size_t)n + 2 * (size_t)ncols + 1;
    char *block = (char *)spk__calloc(&spk__default_allocator, size);
    if (!block) return spk__nomem("a filter's conjuncts", size);
    s->tests = (spk__column_test *)(void *)block; /* the most aligned first */
    s->conj = (const spk__bnode **)(void *)(block + (size_t)n * sizeof *s->tests);
    s->conj_from = (int *)(void *)((char *)s->conj + (size_t)n * sizeof *s->conj);
    s->conj_cols = s->conj_from + n + 1;
    s->conj_size = size;
    s->is_test = (uint8_t *)(s->conj_cols + ncols);
    s->reread = s->is_test + n;
    uint8_t *seen = s->reread + n, *reads = seen + ncols;
    s->nconj = 0;
    spk__conjuncts_of(b->root, s->conj, &s->nconj);
    int at = 0;
    for (int j = 0; j < n; j++) {
        s->conj_from[j] = at;
        memset(reads, 0, (size_t)ncols);
        spk__bnode_columns(s->conj[j], reads);
        for (int c = 0; c < ncols; c++)
            if (reads[c] && !seen[c]) {
                seen[c] = 1;
                s->conj_cols[at++] = c;
            }
        s->is_test[j] = spk__column_test_of(b->schema, s->conj[j], &s->tests[j]);
    }
    s->conj_from[n] = at;
    for (int j = 0; j < n; j++) { /* a test's column, first read by it, read again later (not by a test)? */
        if (!s->is_test[j] || s->conj_from[j] == s->conj_from[j + 1]) continue;
        for (int k = j + 1; k < n && !s->reread[j]; k++) {
            if (s->is_test[k]) continue; /* reads the slots too */
            memset(reads, 0, (size_t)ncols);
            spk__bnode_columns(s->conj[k], reads);
            s->reread[j] = reads[s->tests[j].col];
        }
    }
    return SPK_OK;
}

static spk_status spk__stage_init(spk__stage *s, const spk_df *node) {
    memset(s, 0, sizeof *s);
    s->node = node;
    const spk_allocator *a = &spk__default_allocator;
    if (node->kind != SPK__P_PROJECT) {
        s->sel = (uint32_t *)spk__alloc(a, SPK__BATCH * sizeof(uint32_t));
        if (!s->sel) return spk__nomem("a selection", SPK__BATCH * sizeof(uint32_t));
    } else {
        s->out = (spk__vec **)spk__calloc(a, (size_t)(node->nexprs ? node->nexprs : 1) * sizeof(spk__vec *));
        if (!s->out) return spk__nomem("a projection", (size_t)node->nexprs * sizeof(spk__vec *));
    }
    if (node->nexprs) {
        s->runners = (spk__runner *)spk__calloc(a, (size_t)node->nexprs * sizeof(spk__runner));
        if (!s->runners) return spk__nomem("evaluators", (size_t)node->nexprs * sizeof(spk__runner));
        for (; s->nrunners < node->nexprs; s->nrunners++) {
            const spk_bound *b = node->bound[s->nrunners];
            spk_status st = spk__runner_init(&s->runners[s->nrunners], b->root, b->nslots);
            if (st != SPK_OK) return st;
        }
    }
    return node->kind == SPK__P_FILTER ? spk__stage_conjuncts(s, node->bound[0]) : SPK_OK;
}

/* sample(): row `index` of the input is kept when the index-th output of
 * SplitMix64 seeded with `seed` (Steele, Lea and Flood's generator, as
 * java.util.SplittableRandom), as a double in [0, 1) from its top 53 bits,
 * is below the fraction. Indexing the sequence by row keeps a row's fate
 * independent of how the input is batched. */
static bool spk__sample_keeps(const spk_df *node, uint64_t index) {
    uint64_t z = node->seed + (index + 1) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1p-53 < node->fraction;
}

/* Where a bottom filter loads the columns of each conjunct from: rows
 * [start, start + n) of chunk c of table t, into vecs. */
typedef struct spk__lazy_load {
    const spk_table *t;
    const spk__chunk *c;
    uint32_t start;
    spk__vec *vecs;
    const uint8_t *above; /* per column: bit 1 when read above the filter (spk__stream_run.load) */
} spk__lazy_load;

/* Evaluates filter stage s over the batch, one conjunct at a time over the
 * rows the ones before it kept (so a row fails at its first false or NULL
 * conjunct, as Spark's AND short-circuits): s->sel gets the rows kept,
 * *kept their count. With `lazy`, each conjunct's columns are loaded just
 * before it, for the rows still in play. */
static spk_status spk__stage_filter(spk__stage *s, spk__vec *const *cols, const uint32_t *sel, uint32_t n,
                                    uint32_t *kept, const spk__lazy_load *lazy) {
    spk__runner *r = &s->runners[0];
    spk__arena_reset(&r->ev.arena);
    spk__runner_bind_inputs(r, s->node->bound[0], cols);
    for (int j = 0; j < s->nconj && n > 0; j++) {
        if (lazy && s->is_test[j]) { /* straight on the stored column; loaded into a vector only if read later */
            n = spk__filter_column(lazy->t, lazy->c, lazy->start, sel, n, &s->tests[j], s->sel);
            sel = s->sel;
            int col = s->tests[j].col;
            if (s->conj_from[j] < s->conj_from[j + 1] && (s->reread[j] || (lazy->above[col] & 1)))
                spk__load_column_sel(lazy->t, lazy->c, lazy->start, sel, n, false, col, &lazy->vecs[col]);
            continue;
        }
        if (lazy)
            for (int k = s->conj_from[j]; k < s->conj_from[j + 1]; k++)
                spk__load_column_sel(lazy->t, lazy->c, lazy->start, sel, n, false, s->conj_cols[k], &lazy->vecs[s->conj_cols[k]]);
        spk__eval_node(r, s->conj[j], sel, n);
        if (r->ev.status != SPK_OK) return r->ev.status;
        const spk__vec *v = &r->ev.vecs[s->conj[j]->slot];
        uint32_t m = 0;
        SPK__FOR_ROWS(sel, n, { /* s->sel may be sel itself: entry m is written after entry k >= m is read */
            s->sel[m] = i;
            m += !v->nulls[i] & (v->v.b[i] != 0);
        });
        sel = s->sel;
        n = m;
    }
    *kept = n; /* a batch is never empty, so s->sel holds them */
    return SPK_OK;
}

/* Pushes one batch through the stages and into the sink. */
static spk_status spk__push_batch(spk__stage *stages, int nstages, spk__vec *const *cols, int ncols, const uint32_t *sel,
                                  uint32_t n, spk__sink *sink) {
    spk__vec *const *cur = cols;
    int curn = ncols;
    for (int i = nstages - 1; i >= 0 && n > 0; i--) { /* stages are top-down; run bottom-up */
        spk__stage *s = &stages[i];
        const spk_df *node = s->node;
        switch (node->kind) { /* a plain int: some kinds are outside spk__pkind (see plan.c) */
        case SPK__P_FILTER: {
            uint32_t m = 0;
            spk_status st = spk__stage_filter(s, cur, sel, n, &m, NULL);
            if (st != SPK_OK) return st;
            sel = s->sel;
            n = m;
            break;
        }
        case SPK__P_PROJECT:
            for (int k = 0; k < node->nexprs; k++) {
                spk__runner *r = &s->runners[k];
                spk__arena_reset(&r->ev.arena);
                spk__runner_bind_inputs(r, node->bound[k], cur);
                spk__eval_node(r, r->root, sel, n);
                if (r->ev.status != SPK_OK) return r->ev.status;
                s->out[k] = &r->ev.vecs[r->root->slot];
            }
            cur = s->out;
            curn = node->nexprs;
            break;
        case SPK__P_LIMIT: {
            uint32_t m = 0;
            SPK__FOR_ROWS(sel, n, {
                if (s->skipped < node->offset) {
                    s->skipped++;
                } else if (node->limit < 0 || s->taken < node->limit) {
                    s->sel[m++] = i;
                    s->taken++;
                }
            });
            sel = s->sel;
            n = m;
            break;
        }
        case SPK__P_SAMPLE: {
            uint32_t m = 0;
            SPK__FOR_ROWS(sel, n, {
                s->sel[m] = i;
                m += spk__sample_keeps(node, s->seen++);
            });
            sel = s->sel;
            n = m;
            break;
        }
        default: return spk__fail(SPK_ERR_INTERNAL, "a non-streaming node inside a stream");
        }
    }
    /* Once any limit is satisfied no further row can pass it: end the stream
     * after this batch. */
    for (int i = 0; i < nstages; i++)
        if (stages[i].node->kind == SPK__P_LIMIT && stages[i].node->limit >= 0 && stages[i].taken >= stages[i].node->limit)
            sink->done = true;
    if (n == 0) return SPK_OK;
    return sink->consume(sink, cur, curn, sel, n);
}

/* Where a stream's rows go. start() learns how the work is split; open()
 * gives the sink for one morsel's rows on one worker, close() follows the
 * morsel's last batch. An ordered feed gets every morsel in order on the
 * calling thread (a user's callback). */
typedef struct spk__feed spk__feed;
struct spk__feed {
    spk_status (*start)(spk__feed *self, int nworkers, size_t nmorsels);
    spk_status (*open)(spk__feed *self, int worker, size_t morsel, spk__sink **sink);
    spk_status (*close)(spk__feed *self, int worker, size_t morsel); /* may be NULL */
    /* Marks the columns of the stream's output that the sinks read (used[c] = 1);
     * NULL: all of them. Columns nobody reads are never loaded. */
    void (*uses)(const spk__feed *self, uint8_t *used);
    bool ordered;
    /* Set before start: the stream's input, its rows (the most its sinks can
     * see), and whether they reach the sinks as they are there (no filter or
     * projection between, so every batch is whole: no selection). */
    const spk_table *input;
    size_t rows;
    bool bare;
    /* Set by start when the sinks split the rows between them by key: that
     * many partitions, each reading every morsel in order on one thread,
     * open's `worker` being the partition (at most the workers start was
     * given). 0: each morsel is read once, by whichever worker. */
    int split;
};

/* A worker's copy of the chain: its evaluators and a batch of its own. */
typedef struct spk__stream_worker {
    spk__stage *stages;
    int ready;
    spk__vecset vs;
} spk__stream_worker;

typedef struct spk__stream_run {
    const spk_df *top;
    int nstages;
    spk_table *table;
    spk__morsel *morsels;
    size_t nmorsels;
    spk__feed *feed;
    spk__stream_worker *workers;
    int nworkers;
    bool done; /* a limit is satisfied (only ever with one worker) */
    /* Per column of the table, bits: 1 when the chain above a bottom filter
     * (or, without one, the chain) or the sink reads it; 2 when the bottom
     * filter (filter_first) does. The filter's columns are loaded conjunct
     * by conjunct, the others only for the rows it keeps, packed to the
     * front of the batch so that everything above runs without a selection. */
    uint8_t *load;
    size_t load_size;
    bool filter_first;
} spk__stream_run;

static void spk__mark_columns(const spk_bound *b, uint8_t *used) {
    int n = spk_schema_ncols(b->schema);
    for (int c = 0; c < n; c++)
        if (b->col_slot[c] >= 0) used[c] = 1;
}

/* Which of the table's columns the chain and the sink read (r->load). */
static spk_status spk__stream_columns(spk__stream_run *r) {
    int width = spk_schema_ncols(r->top->schema);
    const spk_df *d = r->top, *bottom = NULL;
    for (int i = 0; i < r->nstages; i++, d = d->child) {
        int n = spk_schema_ncols(d->child->schema);
        if (n > width) width = n;
    }
    size_t size = (size_t)(width > 0 ? width : 1) * 2;
    uint8_t *used = (uint8_t *)spk__calloc(&spk__default_allocator, size), *below = used + size / 2;
    if (!used) return spk__nomem("a column list", size);
    if (r->feed->uses) r->feed->uses(r->feed, used);
    else memset(used, 1, (size_t)spk_schema_ncols(r->top->schema));
    d = r->top;
    for (int i = 0; i < r->nstages; i++, d = d->child) {
        int n = spk_schema_ncols(d->child->schema);
        memset(below, 0, (size_t)n);
        if (d->kind == SPK__P_PROJECT) /* every expression is evaluated, so all their columns */
            for (int k = 0; k < d->nexprs; k++) spk__mark_columns(d->bound[k], below);
        else
            memcpy(below, used, (size_t)n); /* filters, limits and samples pass columns through */
        if (d->kind == SPK__P_FILTER && i < r->nstages - 1) spk__mark_columns(d->bound[0], below);
        memcpy(used, below, (size_t)n);
        bottom = d;
    }
    r->load = used;
    r->load_size = size;
    r->filter_first = bottom && bottom->kind == SPK__P_FILTER;
    if (r->filter_first) {
        const spk_bound *b = bottom->bound[0];
        for (int c = 0; c < spk_schema_ncols(b->schema); c++)
            if (b->col_slot[c] >= 0) used[c] |= 2;
    }
    return SPK_OK;
}

/* Loads the columns the chain reads and pushes the batch through it. With
 * a filter at the bottom, the other columns are loaded only for the rows it
 * keeps (a selective filter then reads little of the table). */
static spk_status spk__stream_batch(spk__stream_run *r, spk__stream_worker *w, const spk__chunk *c, uint32_t start,
                                    uint32_t n, spk__sink *sink) {
    const spk_table *t = r->table;
    spk__vec *vecs = w->vs.vecs;
    if (!r->filter_first) {
        for (int col = 0; col < t->ncols; col++)
            if (r->load[col]) spk__load_column(t, c, start, n, col, &vecs[col]);
        return spk__push_batch(w->stages, r->nstages, w->vs.ptrs, w->vs.n, NULL, n, sink);
    }
    spk__stage *s = &w->stages[r->nstages - 1];
    spk__lazy_load lazy = {t, c, start, vecs, r->load};
    uint32_t m = 0;
    spk_status st = spk__stage_filter(s, w->vs.ptrs, NULL, n, &m, &lazy);
    if (st != SPK_OK || m == 0) return st;
    const uint32_t *kept = m < n ? s->sel : NULL; /* all kept: the batch stays as it is */
    for (int col = 0; col < t->ncols; col++) {
        if (!(r->load[col] & 1)) continue;
        if (!(r->load[col] & 2)) spk__load_column_sel(t, c, start, kept, m, true, col, &vecs[col]);
        else if (kept) spk__vec_compact(&vecs[col], kept, m);
    }
    return spk__push_batch(w->stages, r->nstages - 1, w->vs.ptrs, w->vs.n, NULL, m, sink);
}

/* Morsel m through worker's chain into the feed's sink `sink_of`. */
static spk_status spk__stream_morsel(spk__stream_run *r, int worker, int sink_of, size_t m) {
    spk__stream_worker *w = &r->workers[worker];
    spk_status st = SPK_OK;
    if (!w->vs.block) {
        const spk_df *node = r->top;
        for (; w->ready < r->nstages && st == SPK_OK; w->ready++, node = node->child) st = spk__stage_init(&w->stages[w->ready], node);
        if (st == SPK_OK) st = spk__vecset_init(&w->vs, spk_table_schema(r->table));
        if (st != SPK_OK) return st;
    }
    spk__sink *sink = NULL;
    if ((st = r->feed->open(r->feed, sink_of, m, &sink)) != SPK_OK) return st;
    const spk__morsel *mo = &r->morsels[m];
    for (uint32_t at = 0; st == SPK_OK && at < mo->n && !sink->done; at += SPK__BATCH) {
        uint32_t n = mo->n - at < SPK__BATCH ? mo->n - at : SPK__BATCH;
        st = spk__stream_batch(r, w, mo->chunk, mo->start + at, n, sink);
    }
    if (sink->done && r->nworkers == 1) r->done = true;
    if (st == SPK_OK && r->feed->close) st = r->feed->close(r->feed, sink_of, m);
    return st;
}

static spk_status spk__stream_task(void *ctx, int worker, size_t m) {
    spk__stream_run *r = (spk__stream_run *)ctx;
    return r->done ? SPK_OK : spk__stream_morsel(r, worker, worker, m);
}

/* A split feed's partition: every morsel, in order. */
static spk_status spk__stream_split_task(void *ctx, int worker, size_t partition) {
    spk__stream_run *r = (spk__stream_run *)ctx;
    spk_status st = SPK_OK;
    for (size_t m = 0; m < r->nmorsels && st == SPK_OK; m++) st = spk__stream_morsel(r, worker, (int)partition, m);
    return st;
}

/* Streams the rows of `df` into the feed: the chain of filters,
 * projections, limits and samples above a materialised input, morsel by
 * morsel. Limits and samples count rows across morsels, so a chain holding
 * one runs on one thread, in order. */
static spk_status spk__stream(const spk_df *df, spk__feed *feed) {
    spk__stream_run r;
    memset(&r, 0, sizeof r);
    r.top = df;
    r.feed = feed;
    bool ordered = feed->ordered;
    const spk_df *base = df;
    while (spk__streams(base)) {
        ordered = ordered || base->kind == SPK__P_LIMIT || base->kind == SPK__P_SAMPLE;
        r.nstages++;
        base = base->child;
    }
    bool owned = false;
    size_t nmorsels = 0, wsize = 0;
    spk_status st = spk__materialize(base, &r.table, &owned);
    if (st == SPK_OK) st = spk__morsels_of(r.table, &r.morsels, &nmorsels);
    r.nmorsels = nmorsels;
    if (st == SPK_OK) {
        r.nworkers = ordered ? 1 : spk__par_workers(df->session, nmorsels);
        wsize = (size_t)r.nworkers * (sizeof(spk__stream_worker) + (size_t)(r.nstages ? r.nstages : 1) * sizeof(spk__stage));
        if (!(r.workers = (spk__stream_worker *)spk__calloc(&spk__default_allocator, wsize))) st = spk__nomem("a query's workers", wsize);
        for (int w = 0; st == SPK_OK && w < r.nworkers; w++)
            r.workers[w].stages = (spk__stage *)(void *)((char *)(r.workers + r.nworkers) + (size_t)w * (size_t)(r.nstages ? r.nstages : 1) * sizeof(spk__stage));
    }
    if (st == SPK_OK) st = spk__stream_columns(&r);
    if (st == SPK_OK) {
        feed->input = r.table;
        feed->rows = spk_table_nrows(r.table);
        feed->bare = r.nstages == 0;
        feed->split = 0;
        st = feed->start(feed, r.nworkers, nmorsels);
    }
    if (st == SPK_OK && feed->split > r.nworkers) st = spk__fail(SPK_ERR_INTERNAL, "a stream split %d ways on %d threads", feed->split, r.nworkers);
    if (st == SPK_OK && feed->split > 1) st = spk__par_run(df->session, r.nworkers, (size_t)feed->split, spk__stream_split_task, &r);
    else if (st == SPK_OK) st = spk__par_run(df->session, r.nworkers, nmorsels, spk__stream_task, &r);
    for (int w = 0; r.workers && w < r.nworkers; w++) {
        spk__stages_free(r.workers[w].stages, r.workers[w].ready);
        spk__vecset_free(&r.workers[w].vs);
    }
    if (r.workers) spk__free(&spk__default_allocator, r.workers, wsize);
    if (r.morsels) spk__free(&spk__default_allocator, r.morsels, (nmorsels ? nmorsels : 1) * sizeof *r.morsels);
    if (r.load) spk__free(&spk__default_allocator, r.load, r.load_size);
    if (owned) spk_table_free(r.table);
    return st;
}

/* ---------------------------------------------------------------- sinks and feeds */

/* Appends batches to a table, casting columns whose types differ from the
 * table's (a union's or set operation's widened types). */
typedef struct spk__cast_sink {
    spk__sink base;
    spk_table *out;
    spk__vecset cast;
    spk__arena strings; /* the batch's values cast to STRING */
} spk__cast_sink;

static spk_status spk__cast_consume(spk__sink *self, spk__vec *const *cols, int ncols, const uint32_t *sel, uint32_t n) {
    spk__cast_sink *s = (spk__cast_sink *)self;
    spk__vec *use[256];
    if (ncols > 256) return spk__fail(SPK_ERR_LIMIT, "union: more than 256 columns");
    char text[SPK_VALUE_TEXT_MAX];
    spk_status st = SPK_OK;
    spk__arena_reset(&s->strings);
    for (int c = 0; c < ncols && st == SPK_OK; c++) {
        spk__vec *target = &s->cast.vecs[c];
        if (spk_type_equal(cols[c]->type, target->type)) {
            use[c] = cols[c];
            continue;
        }
        SPK__FOR_ROWS(sel, n, if (st == SPK_OK) {
            spk_value v = spk__vec_get(cols[c], i), r;
            if (spk_value_cast(&v, target->type, &r, text) != SPK_OK) r = spk_value_null_of(target->type);
            if (!r.is_null && r.type.id == SPK_TYPE_STRING && r.as.str.len) { /* `text` is reused: keep the bytes */
                char *copy = spk__arena_alloc(&s->strings, r.as.str.len);
                if (!copy) st = spk__nomem("cast strings", r.as.str.len);
                else memcpy(copy, r.as.str.ptr, r.as.str.len);
                r.as.str.ptr = copy;
            }
            spk__vec_set(target, i, &r);
        });
        use[c] = target;
    }
    return st == SPK_OK ? spk__table_append_vecs(s->out, use, sel, n) : st;
}

static void spk__cast_sink_init(spk__cast_sink *s, spk_table *out) {
    memset(s, 0, sizeof *s);
    s->base.consume = spk__cast_consume;
    s->out = out;
    s->strings.alloc = &spk__default_allocator;
}

static void spk__cast_sink_free(spk__cast_sink *s) {
    spk__vecset_free(&s->cast);
    spk__arena_free(&s->strings);
}

/* A stream's output in pieces: each morsel's rows in a table of its own,
 * put together in morsel order at the end (spk__pieces_finish). */
typedef struct spk__pieces {
    spk_table *out;
    spk_table **parts; /* per morsel */
    size_t nparts;
} spk__pieces;

static spk_status spk__pieces_start(spk__pieces *p, size_t nmorsels) {
    size_t size = (nmorsels ? nmorsels : 1) * sizeof *p->parts;
    if (!(p->parts = (spk_table **)spk__calloc(&spk__default_allocator, size))) return spk__nomem("a query's output", size);
    p->nparts = nmorsels;
    return SPK_OK;
}

/* Morsel m's piece, empty, with the output's schema. */
static spk_status spk__pieces_open(spk__pieces *p, size_t m, spk_table **piece) {
    spk_status st = spk_table_new(p->out->alloc, spk_table_schema(p->out), &p->parts[m]);
    *piece = p->parts[m];
    return st;
}

/* Moves the pieces into the output, in order (if st is SPK_OK), and frees them. */
static spk_status spk__pieces_finish(spk__pieces *p, spk_status st) {
    for (size_t m = 0; p->parts && m < p->nparts; m++) {
        if (!p->parts[m]) continue;
        if (st == SPK_OK) st = spk__table_adopt(p->out, p->parts[m]);
        spk_table_free(p->parts[m]);
    }
    if (p->parts) spk__free(&spk__default_allocator, p->parts, (p->nparts ? p->nparts : 1) * sizeof *p->parts);
    p->parts = NULL;
    return st;
}

/* Collects a stream into a table (in pieces). */
typedef struct spk__table_feed {
    spk__feed base;
    spk__pieces pieces;
    spk__cast_sink *sinks; /* per worker */
    int nworkers;
} spk__table_feed;

static spk_status spk__table_feed_start(spk__feed *self, int nworkers, size_t nmorsels) {
    spk__table_feed *f = (spk__table_feed *)self;
    spk_status st = spk__pieces_start(&f->pieces, nmorsels);
    if (st != SPK_OK) return st;
    size_t ssize = (size_t)nworkers * sizeof *f->sinks;
    if (!(f->sinks = (spk__cast_sink *)spk__calloc(&spk__default_allocator, ssize))) return spk__nomem("a query's output", ssize);
    f->nworkers = nworkers;
    for (int w = 0; w < nworkers; w++) spk__cast_sink_init(&f->sinks[w], NULL);
    return SPK_OK;
}

static spk_status spk__table_feed_open(spk__feed *self, int worker, size_t morsel, spk__sink **sink) {
    spk__table_feed *f = (spk__table_feed *)self;
    spk__cast_sink *s = &f->sinks[worker];
    spk_status st = SPK_OK;
    if (!s->cast.block && (st = spk__vecset_init(&s->cast, spk_table_schema(f->pieces.out))) != SPK_OK) return st;
    if ((st = spk__pieces_open(&f->pieces, morsel, &s->out)) != SPK_OK) return st;
    s->base.done = false;
    *sink = &s->base;
    return SPK_OK;
}

static void spk__table_feed_init(spk__table_feed *f, spk_table *out) {
    memset(f, 0, sizeof *f);
    f->base.start = spk__table_feed_start;
    f->base.open = spk__table_feed_open;
    f->pieces.out = out;
}

/* Moves the pieces into the output, in order (if `ok`), and frees them. */
static spk_status spk__table_feed_finish(spk__table_feed *f, spk_status st) {
    st = spk__pieces_finish(&f->pieces, st);
    for (int w = 0; f->sinks && w < f->nworkers; w++) spk__cast_sink_free(&f->sinks[w]);
    if (f->sinks) spk__free(&spk__default_allocator, f->sinks, (size_t)f->nworkers * sizeof *f->sinks);
    f->sinks = NULL;
    return st;
}

/* Streams df into `out`, after the rows already there. */
static spk_status spk__stream_into(const spk_df *df, spk_table *out) {
    spk__table_feed f;
    spk__table_feed_init(&f, out);
    return spk__table_feed_finish(&f, spk__stream(df, &f.base));
}

/* Counts rows, per worker. */
typedef struct spk__count_sink {
    spk__sink base;
    int64_t rows;
} spk__count_sink;

typedef struct spk__count_feed {
    spk__feed base;
    spk__count_sink *sinks;
    int nworkers;
} spk__count_feed;

static spk_status spk__count_consume(spk__sink *self, spk__vec *const *cols, int ncols, const uint32_t *sel, uint32_t n) {
    (void)cols;
    (void)ncols;
    (void)sel;
    ((spk__count_sink *)self)->rows += n;
    return SPK_OK;
}

static void spk__count_uses(const spk__feed *self, uint8_t *used) { /* counting reads no column */
    (void)self;
    (void)used;
}

static spk_status spk__count_feed_start(spk__feed *self, int nworkers, size_t nmorsels) {
    spk__count_feed *f = (spk__count_feed *)self;
    (void)nmorsels;
    size_t size = (size_t)nworkers * sizeof *f->sinks;
    if (!(f->sinks = (spk__count_sink *)spk__calloc(&spk__default_allocator, size))) return spk__nomem("a count", size);
    f->nworkers = nworkers;
    for (int w = 0; w < nworkers; w++) f->sinks[w].base.consume = spk__count_consume;
    return SPK_OK;
}

static spk_status spk__count_feed_open(spk__feed *self, int worker, size_t morsel, spk__sink **sink) {
    (void)morsel;
    *sink = &((spk__count_feed *)self)->sinks[worker].base;
    return SPK_OK;
}

/* One sink for every morsel: an ordered feed. */
typedef struct spk__single_feed {
    spk__feed base;
    spk__sink *sink;
} spk__single_feed;

static spk_status spk__single_feed_start(spk__feed *self, int nworkers, size_t nmorsels) {
    (void)self;
    (void)nmorsels;
    return nworkers == 1 ? SPK_OK : spk__fail(SPK_ERR_INTERNAL, "an ordered stream on %d threads", nworkers);
}

static spk_status spk__single_feed_open(spk__feed *self, int worker, size_t morsel, spk__sink **sink) {
    (void)worker;
    (void)morsel;
    *sink = ((spk__single_feed *)self)->sink;
    return SPK_OK;
}

/* ---------------------------------------------------------------- aggregation
 * Two phases. Each morsel is aggregated into a part of its own: groups found
 * through an open-addressing table of hashes of the key values (hashed and
 * compared by type, straight from the key vectors), keys kept as values
 * whose strings live in the part's arena (or, when no key is a string, read
 * back from the group's packed words), one state per group and aggregate.
 * Then the parts are merged, split by hash into partitions that workers
 * merge at once, each partition taking the parts in morsel order.
 * So every group's states combine in the same order whatever the thread
 * count — floating-point sums included — and groups come out in the order
 * of their first row, as a single pass over the input would give them.
 * When no aggregate depends on that order (spk__aggs_order_free), a part
 * serves all the morsels of one worker instead, and the other workers'
 * parts merge into the largest in place (spk__agg_merge_task); a group's
 * origin — its first morsel and its rank among the groups that morsel
 * added — is the least over the parts, so the output order is the same.
 * With many groups over a table, the workers may split the groups by key
 * instead (spk__agg_should_split): then no two parts share a group, and
 * the output merges the parts by origin (spk__agg_order_next). */

typedef struct spk__agg_slot {
    const spk__bnode *node; /* the aggregate */
    int output;             /* the output expression it belongs to */
    int state;              /* the aggregate whose states it reads: itself, or an earlier one it shares (spk__agg_share) */
} spk__agg_slot;

/* Groups and their states: one morsel's or worker's, or (merged) one partition's. */
typedef struct spk__agg_part {
    spk_value *keys;   /* ngroups * nkeys; NULL when the keys are in the words (spk__agg_exec.keys_in_words) */
    uint64_t *hashes;  /* per group */
    uint64_t *origin;  /* per group: (morsel << 32) | rank, where it first showed (see above) */
    char *rows;        /* per group, run->row_size bytes: its packed keys (run->nwords words), then the
                        * aggregates' states (at run->state_at[a]); one place to touch per row and group.
                        * 64-byte aligned inside rows_block, so that a 64-byte row is one cache line */
    char *rows_block;
    size_t ngroups, cap;
    uint64_t *table;   /* open addressing: the hash's top 32 bits (a tag, so that most misses never
                        * touch the group) over group index + 1; 0 = empty (spk__agg_slot_of) */
    size_t table_cap;
    size_t indexed;    /* groups [0, indexed) are in the table; the direct path leaves its new ones out (spk__agg_index) */
    uint32_t *direct;  /* a single integer key: group index + 1 by key value, 0 = not yet known (spk__agg_direct) */
    size_t direct_cap;
    bool not_all_direct; /* some group was added by another path than the direct one, so may be missing from `direct` */
    spk__arena strings;
} spk__agg_part;

typedef struct spk__agg_worker spk__agg_worker;

#define SPK__SPLIT_MAX 64 /* the most key partitions */

typedef struct spk__agg_exec {
    spk__feed base;
    const spk_df *node;
    int nkeys;
    spk__agg_slot *aggs;
    int naggs;
    spk__agg_part **parts; /* per morsel */
    size_t nparts;
    spk__agg_part **merged; /* per partition */
    int npartitions;
    size_t fold_into;       /* per-worker parts: the one the others merge into (spk__agg_merge_task), else SIZE_MAX */
    spk__agg_worker *workers;
    int nworkers;
    bool per_worker; /* parts are per worker, not per morsel (spk__aggs_order_free) */
    int nwords;      /* nkeys + 1 when every key can be packed (spk__agg_pack), else 0 */
    bool keys_in_words; /* every key packs whatever its value (no strings): a group's key values are read
                         * back from its words (spk__agg_key) rather than kept beside them */
    size_t row_size; /* a group's row in spk__agg_part.rows */
    size_t *state_at; /* per aggregate: where its state starts in a group's row */
    /* Split by one integer key: partition p takes the values v with pivots[p - 1] <= v < pivots[p]
     * (a NULL as 0), so that each worker's key array spans a range of its own (spk__agg_should_split). */
    bool ranged;
    int64_t pivots[SPK__SPLIT_MAX - 1];
} spk__agg_exec;

static inline char *spk__agg_row(const spk__agg_exec *run, const spk__agg_part *p, size_t g) { return p->rows + g * run->row_size; }

/* Key k of group g. */
static spk_value spk__agg_key(const spk__agg_exec *run, const spk__agg_part *p, size_t g, int k) {
    if (!run->keys_in_words) return p->keys[g * (size_t)run->nkeys + (size_t)k];
    const uint64_t *w = (const uint64_t *)(const void *)spk__agg_row(run, p, g);
    spk_value v = spk_value_null_of(run->node->bound[k]->root->type);
    if ((w[run->nkeys] >> (8 * k)) & 0x80) return v; /* (spk__agg_pack_values) */
    v.is_null = false;
    switch ((spk_type_id)v.type.id) {
    case SPK_TYPE_BOOLEAN: v.as.b = w[k] != 0; break;
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE: v.as.i32 = (int32_t)w[k]; break;
    default: v.as.i64 = (int64_t)w[k]; break;
    }
    return v;
}

static inline char *spk__agg_state(const spk__agg_exec *run, const spk__agg_part *p, size_t g, int a) {
    return p->rows + g * run->row_size + run->state_at[run->aggs[a].state];
}

struct spk__agg_worker {
    spk__sink base;
    spk__agg_exec *run;
    spk__agg_part *part;  /* the morsel's, or the worker's */
    spk__runner *runners; /* one per expression of the node */
    int made;
    int index;              /* in run->workers; split, also the key partition it aggregates */
    uint32_t morsel, fresh; /* the morsel being read, and the groups it added so far (origins) */
    uint32_t batch_at, next_at; /* split: the morsel's row at the batch's row 0, and at the next batch's */
    uint32_t groups_of_row[SPK__BATCH];
    uint32_t mine[SPK__BATCH]; /* split: the rows of the batch in this worker's partition */
    uint8_t few_seen[256]; /* while the part has few groups: group + 1 by spk__agg_few_hash, 0 = none */
    uint64_t hashes[SPK__BATCH];
    uint64_t *words; /* the batch's packed keys, SPK__BATCH * run->nwords (when run->nwords) */
};

static void spk__collect_agg_nodes(const spk__bnode *b, int output, spk__agg_slot *into, int *n, int cap) {
    if (b->kind == SPK__B_AGG) {
        if (*n < cap) {
            into[*n] = (spk__agg_slot){b, output, *n};
            (*n)++;
        }
        return;
    }
    for (int i = 0; i < b->nargs; i++) spk__collect_agg_nodes(b->args[i], output, into, n, cap);
}

/* Whether two bound expressions compute the same values: same shape,
 * types, columns, literals and kernels (a kernel with private data, such
 * as a compiled pattern, is never taken for another). */
static bool spk__bnode_same(const spk__bnode *a, const spk__bnode *b) {
    if (a->kind != b->kind || !spk_type_equal(a->type, b->type) || a->nargs != b->nargs || a->iarg != b->iarg ||
        a->kernel != b->kernel || a->agg != b->agg || a->distinct != b->distinct || a->aux || b->aux)
        return false;
    if (a->kind == SPK__B_COL && a->col != b->col) return false;
    if (a->kind == SPK__B_LIT && (a->lit.is_null != b->lit.is_null || !spk_type_equal(a->lit.type, b->lit.type) ||
                                  (!a->lit.is_null && !spk_value_equal(&a->lit, &b->lit))))
        return false;
    for (int i = 0; i < a->nargs; i++)
        if (!spk__bnode_same(a->args[i], b->args[i])) return false;
    return true;
}

/* Aggregates that keep the same state from the same input share it: the
 * same aggregate twice, or sum(x) and avg(x), which both keep a count and
 * a total (so Q1's seven sums and averages update four states). */
static bool spk__agg_states_alike(const spk__bnode *x, const spk__bnode *y) {
    bool sum_x = x->agg == &spk__agg_sum || x->agg == &spk__agg_avg, sum_y = y->agg == &spk__agg_sum || y->agg == &spk__agg_avg;
    bool same_agg = x->agg == y->agg && x->iarg == y->iarg && spk_type_equal(x->type, y->type) && !x->aux && !y->aux;
    return (same_agg || (sum_x && sum_y)) && !x->distinct && !y->distinct && x->nargs == 1 && y->nargs == 1 &&
           spk__bnode_same(x->args[0], y->args[0]);
}

static void spk__agg_share(spk__agg_exec *run) {
    for (int a = 0; a < run->naggs; a++)
        for (int b = 0; b < a && run->aggs[a].state == a; b++)
            if (run->aggs[b].state == b && spk__agg_states_alike(run->aggs[a].node, run->aggs[b].node)) run->aggs[a].state = b;
}

static int spk__count_agg_nodes(const spk__bnode *b) {
    if (b->kind == SPK__B_AGG) return 1;
    int n = 0;
    for (int i = 0; i < b->nargs; i++) n += spk__count_agg_nodes(b->args[i]);
    return n;
}

static spk_status spk__agg_part_new(const spk__agg_exec *run, spk__agg_part **out) {
    const spk_allocator *a = &spk__default_allocator;
    (void)run;
    spk__agg_part *p = (spk__agg_part *)spk__calloc(a, sizeof *p);
    if (!p) return spk__nomem("an aggregation", sizeof *p);
    p->strings.alloc = a;
    *out = p;
    return SPK_OK;
}

static void spk__agg_part_free(const spk__agg_exec *run, spk__agg_part *p) {
    const spk_allocator *a = &spk__default_allocator;
    if (!p) return;
    for (int i = 0; i < run->naggs; i++) {
        const spk__bnode *node = run->aggs[i].node;
        if (node->agg->destroy && run->aggs[i].state == i)
            for (size_t g = 0; g < p->ngroups; g++) node->agg->destroy(node, spk__agg_state(run, p, g, i));
    }
    if (p->rows_block) spk__free(a, p->rows_block, p->cap * run->row_size + 64);
    size_t nk = (size_t)(run->nkeys ? run->nkeys : 1);
    if (p->keys) spk__free(a, p->keys, p->cap * nk * sizeof *p->keys);
    if (p->hashes) spk__free(a, p->hashes, p->cap * 2 * sizeof *p->hashes);
    if (p->table) spk__free(a, p->table, p->table_cap * sizeof *p->table);
    if (p->direct) spk__free(a, p->direct, p->direct_cap * sizeof *p->direct);
    spk__arena_free(&p->strings);
    spk__free(a, p, sizeof *p);
}

#define SPK__TAG_MASK 0xffffffff00000000ULL
static inline uint64_t spk__agg_slot_of(uint64_t hash, size_t g) { return (hash & SPK__TAG_MASK) | ((uint64_t)g + 1); }
/* Whether table entry e is for a group whose hash could be h; its group is (uint32_t)e - 1. */
static inline bool spk__agg_tag_matches(uint64_t e, uint64_t h) { return ((e ^ h) & SPK__TAG_MASK) == 0; }

/* Puts the groups that are not yet in the hash table into it, growing it
 * so that it stays at most half full. The direct path adds groups without
 * it (it finds them by value), so a part grouping by one small integer
 * never builds a table unless another path or the merge needs one. */
static spk_status spk__agg_index(spk__agg_part *p) {
    if (p->indexed == p->ngroups) return SPK_OK;
    if ((p->ngroups + 1) * 2 > p->table_cap) {
        size_t cap = p->table_cap ? p->table_cap * 2 : 64;
        while ((p->ngroups + 1) * 2 > cap) cap *= 2;
        uint64_t *t = (uint64_t *)spk__calloc(&spk__default_allocator, cap * sizeof *t);
        if (!t) return spk__nomem("a hash table", cap * sizeof *t);
        if (p->table) spk__free(&spk__default_allocator, p->table, p->table_cap * sizeof *p->table);
        p->table = t;
        p->table_cap = cap;
        p->indexed = 0;
    }
    for (size_t g = p->indexed; g < p->ngroups; g++) {
        size_t at = p->hashes[g] & (p->table_cap - 1);
        while (p->table[at]) at = (at + 1) & (p->table_cap - 1);
        p->table[at] = spk__agg_slot_of(p->hashes[g], g);
    }
    p->indexed = p->ngroups;
    return SPK_OK;
}

/* The group with these key values, or UINT32_MAX. */
static uint32_t spk__agg_find(const spk__agg_part *p, int nkeys, const spk_value *key, uint64_t h) {
    if (!p->table_cap) return UINT32_MAX;
    size_t at = h & (p->table_cap - 1);
    for (uint64_t e; (e = p->table[at]) != 0;) {
        uint32_t g = (uint32_t)e - 1;
        if (spk__agg_tag_matches(e, h) && p->hashes[g] == h) {
            const spk_value *gk = p->keys + (size_t)g * nkeys;
            bool same = true;
            for (int k = 0; k < nkeys && same; k++) same = spk_value_equal(&gk[k], &key[k]);
            if (same) return g;
        }
        at = (at + 1) & (p->table_cap - 1);
    }
    return UINT32_MAX;
}

/* Key k's seed for hashing (spk__hash_keys, spk__agg_hash_words). */
static uint64_t spk__key_seed(int k) { return 0x9e3779b97f4a7c15ULL * (uint64_t)(k + 1); }

/* Packed keys. When every grouping key is a BOOLEAN, INT, DATE, BIGINT,
 * DECIMAL, TIMESTAMP or STRING and there are at most 7, a group's keys
 * are also kept as nkeys + 1 words: key k's value in word k (a string of
 * up to 8 bytes as its bytes, little-endian), and in the last word byte k
 * says how: 0x80 for NULL, else a string's length. A batch whose strings
 * all fit is hashed from its words (spk__agg_hash_words, which gives what
 * spk__hash_keys gives) and probed by comparing words; a group with a
 * longer string sets the last word's top bit, which no packed row has, and
 * is found only by the general probe. */
#define SPK__UNPACKABLE (1ULL << 63)

static bool spk__key_packs(spk_type_id t) {
    return t == SPK_TYPE_BOOLEAN || t == SPK_TYPE_INT32 || t == SPK_TYPE_DATE || t == SPK_TYPE_INT64 ||
           t == SPK_TYPE_DECIMAL || t == SPK_TYPE_TIMESTAMP || t == SPK_TYPE_STRING;
}

/* Up to 8 bytes as a little-endian word, without a loop: two 4-byte reads
 * that overlap for 4..8 bytes, three single bytes (first, middle, last)
 * for 1..3. Overlapping reads see the same bytes, so OR-ing is exact. */
static inline uint64_t spk__pack_bytes(const char *p, size_t len) {
    const unsigned char *q = (const unsigned char *)p;
    if (len >= 4) { /* (compilers make each little-endian read one load) */
        const unsigned char *r = q + len - 4;
        uint64_t lo = (uint64_t)q[0] | (uint64_t)q[1] << 8 | (uint64_t)q[2] << 16 | (uint64_t)q[3] << 24;
        uint64_t hi = (uint64_t)r[0] | (uint64_t)r[1] << 8 | (uint64_t)r[2] << 16 | (uint64_t)r[3] << 24;
        return lo | hi << (8 * (len - 4));
    }
    if (len <= 1) return len ? q[0] : 0; /* flags and codes */
    return (uint64_t)q[0] | (uint64_t)q[len / 2] << (8 * (len / 2)) | (uint64_t)q[len - 1] << (8 * (len - 1));
}

static void spk__agg_pack_values(const spk_value *key, int nkeys, uint64_t *words) {
    uint64_t how = 0;
    for (int k = 0; k < nkeys; k++) {
        const spk_value *v = &key[k];
        uint64_t w = 0;
        if (v->is_null) how |= 0x80ULL << (8 * k);
        else switch ((spk_type_id)v->type.id) {
        case SPK_TYPE_BOOLEAN: w = v->as.b; break;
        case SPK_TYPE_INT32:
        case SPK_TYPE_DATE: w = (uint64_t)(int64_t)v->as.i32; break;
        case SPK_TYPE_STRING:
            if (v->as.str.len > 8) {
                how |= SPK__UNPACKABLE;
            } else {
                w = spk__pack_bytes(v->as.str.ptr, v->as.str.len);
                how |= (uint64_t)v->as.str.len << (8 * k);
            }
            break;
        default: w = (uint64_t)v->as.i64; break;
        }
        words[k] = w;
    }
    words[nkeys] = how;
}

/* The batch's keys packed into w->words; false when a string does not fit. */
static bool spk__agg_pack_batch(const spk__agg_exec *run, uint64_t *words, const spk__vec *const *keyvec,
                                const uint32_t *sel, uint32_t n) {
    int nw = run->nwords, nk = run->nkeys;
    SPK__FOR_ROWS(sel, n, words[(size_t)i * nw + nk] = 0);
    for (int k = 0; k < nk; k++) {
        const spk__vec *v = keyvec[k];
        const uint8_t *nulls = v->nulls;
        uint64_t null_how = 0x80ULL << (8 * k);
        int shift = 8 * k;
        switch ((spk_type_id)v->type.id) {
        case SPK_TYPE_BOOLEAN:
            SPK__FOR_ROWS(sel, n, {
                uint64_t *w = words + (size_t)i * nw;
                w[k] = nulls[i] ? 0 : v->v.b[i] != 0;
                w[nk] |= nulls[i] ? null_how : 0;
            });
            break;
        case SPK_TYPE_INT32:
        case SPK_TYPE_DATE:
            SPK__FOR_ROWS(sel, n, {
                uint64_t *w = words + (size_t)i * nw;
                w[k] = nulls[i] ? 0 : (uint64_t)(int64_t)v->v.i32[i];
                w[nk] |= nulls[i] ? null_how : 0;
            });
            break;
        case SPK_TYPE_STRING: {
            bool fits = true;
            SPK__FOR_ROWS(sel, n, {
                uint64_t *w = words + (size_t)i * nw;
                const spk__str *x = &v->v.str[i];
                if (nulls[i]) {
                    w[k] = 0;
                    w[nk] |= null_how;
                } else {
                    fits &= x->len <= 8;
                    w[k] = x->len <= 8 ? spk__pack_bytes(x->ptr, x->len) : 0;
                    w[nk] |= (uint64_t)(x->len & 0xff) << shift;
                }
            });
            if (!fits) return false;
            break;
        }
        case SPK_TYPE_INT64:
        case SPK_TYPE_DECIMAL:
        case SPK_TYPE_TIMESTAMP:
            SPK__FOR_ROWS(sel, n, {
                uint64_t *w = words + (size_t)i * nw;
                w[k] = nulls[i] ? 0 : (uint64_t)v->v.i64[i];
                w[nk] |= nulls[i] ? null_how : 0;
            });
            break;
        default: return false;
        }
    }
    return true;
}

/* Hashes of packed keys: spk__hash_keys's, since a key's word is the value
 * it hashes (a string's bytes, an INT sign-extended) and the last word
 * gives NULLs and string lengths. */
static void spk__agg_hash_words(const spk__agg_exec *run, const uint64_t *words, const uint32_t *sel, uint32_t n, uint64_t *h) {
    int nw = run->nwords, nk = run->nkeys;
    uint64_t seed[8], null_bits[8];
    for (int k = 0; k < nk; k++) {
        seed[k] = spk__key_seed(k);
        null_bits[k] = spk_hash_u64(seed[k] ^ 0x6e756c6cULL);
    }
    SPK__FOR_ROWS(sel, n, {
        const uint64_t *w = words + (size_t)i * nw;
        uint64_t x = 0x243f6a8885a308d3ULL, how = w[nk];
        for (int k = 0; k < nk; k++, how >>= 8) {
            uint64_t bits = how & 0x80 ? null_bits[k] : seed[k] + (w[k] ^ ((how & 0xff) << 56));
            x = spk_hash_u64(x ^ bits);
        }
        h[i] = x;
    });
}

/* The group whose packed keys are w (hash h), or UINT32_MAX. */
static inline uint32_t spk__agg_probe_packed(const spk__agg_part *p, size_t row_size, const uint64_t *w, int nw, uint64_t h) {
    if (!p->table_cap) return UINT32_MAX;
    size_t at = h & (p->table_cap - 1);
    for (uint64_t e; (e = p->table[at]) != 0;) {
        uint32_t g = (uint32_t)e - 1;
        if (spk__agg_tag_matches(e, h)) { /* the words decide */
            const uint64_t *gw = (const uint64_t *)(const void *)(p->rows + (size_t)g * row_size);
            uint64_t differ = 0;
            for (int k = 0; k < nw; k++) differ |= gw[k] ^ w[k];
            if (!differ) return g;
        }
        at = (at + 1) & (p->table_cap - 1);
    }
    return UINT32_MAX;
}

/* Few groups. While a part has at most SPK__AGG_FEW groups (Q1's flags,
 * a status column), a packed row is matched by comparing its words with
 * each group's, which costs less than hashing it and probing; only a row
 * that starts a group is hashed. */
#define SPK__AGG_FEW 8

/* The group whose packed keys are w, by comparing with every group's, or UINT32_MAX. */
static inline uint32_t spk__agg_scan_packed(const spk__agg_part *p, size_t row_size, const uint64_t *w, int nw) {
    const char *rows = p->rows;
    size_t n = p->ngroups;
#define SPK__AGG_SCAN(DIFFER)                                                 \
    for (size_t g = 0; g < n; g++) {                                          \
        const uint64_t *gw = (const uint64_t *)(const void *)(rows + g * row_size); \
        if (!(DIFFER)) return (uint32_t)g;                                    \
    }
    switch (nw) { /* one or two keys: the words compared without a loop */
    case 2: SPK__AGG_SCAN((gw[0] ^ w[0]) | (gw[1] ^ w[1])) break;
    case 3: SPK__AGG_SCAN((gw[0] ^ w[0]) | (gw[1] ^ w[1]) | (gw[2] ^ w[2])) break;
    default:
        for (size_t g = 0; g < n; g++) {
            const uint64_t *gw = (const uint64_t *)(const void *)(rows + g * row_size);
            uint64_t differ = 0;
            for (int k = 0; k < nw; k++) differ |= gw[k] ^ w[k];
            if (!differ) return (uint32_t)g;
        }
        break;
    }
#undef SPK__AGG_SCAN
    return UINT32_MAX;
}

/* Few groups are found faster still by remembering, per 8-bit hash of the
 * words, the group last seen with it: one multiply a word and a compare,
 * the scan only on a miss (a new hash, or two groups sharing one). */
static inline unsigned spk__agg_few_hash(const uint64_t *w, int nw) {
    const uint64_t m = 0x9e3779b97f4a7c15ULL;
    switch (nw) { /* one or two keys without a loop */
    case 2: return (unsigned)(((w[0] * m) ^ w[1]) * m >> 56);
    case 3: return (unsigned)((((w[0] * m) ^ w[1]) * m ^ w[2]) * m >> 56);
    default: {
        uint64_t x = 0;
        for (int k = 0; k < nw; k++) x = (x ^ w[k]) * m;
        return (unsigned)(x >> 56);
    }
    }
}

static inline bool spk__agg_words_equal(const uint64_t *a, const uint64_t *b, int nw) {
    switch (nw) {
    case 2: return !((a[0] ^ b[0]) | (a[1] ^ b[1]));
    case 3: return !((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]));
    default: {
        uint64_t differ = 0;
        for (int k = 0; k < nw; k++) differ |= a[k] ^ b[k];
        return !differ;
    }
    }
}

/* Room for `cap` groups in the part, in fresh arrays, so that a failure leaves it as it was. */
static spk_status spk__agg_reserve(const spk__agg_exec *run, spk__agg_part *p, size_t cap) {
    const spk_allocator *a = &spk__default_allocator;
    size_t nk = (size_t)(run->nkeys ? run->nkeys : 1), rs = run->row_size;
    if (cap <= p->cap) return SPK_OK;
    size_t ksize = run->keys_in_words ? 0 : cap * nk * sizeof(spk_value);
    spk_value *k = ksize ? (spk_value *)spk__alloc(a, ksize) : NULL;
    uint64_t *h = k || !ksize ? (uint64_t *)spk__alloc(a, cap * 2 * sizeof *h) : NULL;
    char *block = h ? (char *)spk__alloc(a, cap * rs + 64) : NULL;
    char *rows = block ? block + (64 - (uintptr_t)block % 64) % 64 : NULL;
    if (!block) {
        if (h) spk__free(a, h, cap * 2 * sizeof *h);
        if (k) spk__free(a, k, ksize);
        return spk__nomem("aggregation groups", cap * (2 * sizeof *h + rs) + ksize);
    }
    if (p->cap) {
        if (k) memcpy(k, p->keys, p->ngroups * nk * sizeof *k);
        memcpy(h, p->hashes, p->ngroups * sizeof *h);
        memcpy(h + cap, p->origin, p->ngroups * sizeof *h);
        memcpy(rows, p->rows, p->ngroups * rs);
        if (p->keys) spk__free(a, p->keys, p->cap * nk * sizeof *k);
        spk__free(a, p->hashes, p->cap * 2 * sizeof *h);
        spk__free(a, p->rows_block, p->cap * rs + 64);
    }
    p->rows = rows;
    p->rows_block = block;
    p->keys = k;
    p->hashes = h;
    p->origin = h + cap;
    p->cap = cap;
    return SPK_OK;
}

/* Direct lookup. A worker's part grouping by one integer key whose values
 * in a batch are all non-NULL and below SPK__AGG_DIRECT_MAX finds their
 * groups in an array indexed by the value (QG's l_partkey: 200k entries,
 * 800 KB, in the core's cache) rather than in the hash table, whose
 * entries are a cache miss each once it holds many groups; a row of a
 * value not yet in the array is hashed and probed as usual (a batch that
 * did not qualify may have added its group) and recorded. */
#define SPK__AGG_DIRECT_MAX ((uint64_t)1 << 21)

/* Whether the batch's packed keys (one key) qualify, growing the part's
 * array to hold them. Its size then bounds the groups the part can get
 * (with the rows a worker may see), so the part makes room for them at
 * once (up to 64 MiB) rather than doubling its arrays all the way: QG's
 * 200k groups would otherwise be copied and faulted in twice over. Pages
 * of that room that no group reaches are never touched. */
static spk_status spk__agg_direct(const spk__agg_exec *run, spk__agg_part *p, const uint64_t *words, const uint32_t *sel,
                                  uint32_t n, bool *ok) {
    uint64_t how = 0, max = 0;
    SPK__FOR_ROWS(sel, n, {
        how |= words[2 * (size_t)i + 1];
        max = words[2 * (size_t)i] > max ? words[2 * (size_t)i] : max;
    });
    *ok = false;
    if (how || max >= SPK__AGG_DIRECT_MAX) return SPK_OK;
    if (max >= p->direct_cap) {
        size_t cap = p->direct_cap ? p->direct_cap : 4096;
        while (cap <= max) cap *= 2;
        uint32_t *d = (uint32_t *)spk__calloc(&spk__default_allocator, cap * sizeof *d);
        if (!d) return spk__nomem("an aggregation's key index", cap * sizeof *d);
        if (p->direct) {
            memcpy(d, p->direct, p->direct_cap * sizeof *d);
            spk__free(&spk__default_allocator, p->direct, p->direct_cap * sizeof *d);
        }
        p->direct = d;
        p->direct_cap = cap;
        size_t rows = run->base.rows / (size_t)(run->nworkers > 0 ? run->nworkers : 1) + 1, room = cap < rows ? cap : rows;
        size_t most = ((size_t)64 << 20) / (run->row_size + sizeof(spk_value) + 2 * sizeof(uint64_t)); /* 64 MiB ahead at most */
        spk_status st = spk__agg_reserve(run, p, room < most ? room : most);
        if (st != SPK_OK) return st;
    }
    *ok = true;
    return SPK_OK;
}

/* Adds a group with the given key values (strings copied); returns its
 * index. `index`: put it in the hash table (the direct path does not). */
static spk_status spk__agg_new_group(const spk__agg_exec *run, spk__agg_part *p, const spk_value *key, uint64_t hash,
                                     uint64_t origin, bool index, uint32_t *group) {
    size_t nk = (size_t)(run->nkeys ? run->nkeys : 1);
    if (p->ngroups >= UINT32_MAX - 1) return spk__fail(SPK_ERR_LIMIT, "more than 4 billion groups");
    spk_status st = p->ngroups == p->cap ? spk__agg_reserve(run, p, p->cap ? p->cap * 2 : 16) : SPK_OK;
    if (st != SPK_OK) return st;
    for (int i = 0; i < run->naggs; i++)
        if (run->aggs[i].state == i) run->aggs[i].node->agg->init(run->aggs[i].node, spk__agg_state(run, p, p->ngroups, i));
    uint64_t *words = (uint64_t *)(void *)spk__agg_row(run, p, p->ngroups);
    if (run->keys_in_words) {
        spk__agg_pack_values(key, run->nkeys, words);
    } else {
        spk_value *dst = p->keys + p->ngroups * nk;
        for (int k = 0; k < run->nkeys; k++) {
            dst[k] = key[k];
            if (!key[k].is_null && key[k].type.id == SPK_TYPE_STRING && key[k].as.str.len) {
                char *copy = spk__arena_alloc(&p->strings, key[k].as.str.len);
                if (!copy) return spk__nomem("a group key", key[k].as.str.len);
                memcpy(copy, key[k].as.str.ptr, key[k].as.str.len);
                dst[k].as.str.ptr = copy;
            }
        }
        if (run->nwords) spk__agg_pack_values(dst, run->nkeys, words);
    }
    p->hashes[p->ngroups] = hash;
    p->origin[p->ngroups] = origin;
    *group = (uint32_t)p->ngroups++;
    if (!index) return SPK_OK;
    p->not_all_direct = true;
    return spk__agg_index(p);
}

/* Grouping keys are hashed and compared by their physical type, straight
 * from the key vectors; only DOUBLE keys (whose -0.0 and NaN need
 * spk_value's rules) and untyped NULLs go through spk_value. A key's hash
 * only has to agree with itself inside one aggregation: the parts store it
 * and the merge reuses it. */

static void spk__hash_keys(const spk__vec *const *keyvec, int nkeys, const uint32_t *sel, uint32_t n, uint64_t *h) {
    SPK__FOR_ROWS(sel, n, h[i] = 0x243f6a8885a308d3ULL);
    for (int k = 0; k < nkeys; k++) {
        const spk__vec *v = keyvec[k];
        const uint8_t *nulls = v->nulls;
        uint64_t seed = spk__key_seed(k), null_bits = spk_hash_u64(seed ^ 0x6e756c6cULL);
        switch ((spk_type_id)v->type.id) {
        case SPK_TYPE_BOOLEAN:
            SPK__FOR_ROWS(sel, n, h[i] = spk_hash_u64(h[i] ^ (nulls[i] ? null_bits : seed + (v->v.b[i] != 0))));
            break;
        case SPK_TYPE_INT32:
        case SPK_TYPE_DATE:
            SPK__FOR_ROWS(sel, n, h[i] = spk_hash_u64(h[i] ^ (nulls[i] ? null_bits : seed + (uint64_t)(int64_t)v->v.i32[i])));
            break;
        case SPK_TYPE_INT64:
        case SPK_TYPE_DECIMAL:
        case SPK_TYPE_TIMESTAMP:
            SPK__FOR_ROWS(sel, n, h[i] = spk_hash_u64(h[i] ^ (nulls[i] ? null_bits : seed + (uint64_t)v->v.i64[i])));
            break;
        case SPK_TYPE_STRING:
            SPK__FOR_ROWS(sel, n, {
                const spk__str *x = &v->v.str[i];
                uint64_t bits = null_bits;
                if (!nulls[i]) {
                    if (x->len <= 8) /* short strings (flags, codes) without a call */
                        bits = seed + (spk__pack_bytes(x->ptr, x->len) ^ ((uint64_t)x->len << 56));
                    else
                        bits = spk_hash_bytes(x->ptr, x->len, seed);
                }
                h[i] = spk_hash_u64(h[i] ^ bits);
            });
            break;
        default:
            SPK__FOR_ROWS(sel, n, {
                spk_value key = spk__vec_get(v, i);
                h[i] = spk_hash_u64(h[i] ^ spk_value_hash(&key, seed));
            });
            break;
        }
    }
}

/* Whether group key gk (a stored spk_value) equals row i of key vector v. */
static inline bool spk__key_matches(const spk_value *gk, const spk__vec *v, uint32_t i) {
    bool null = v->nulls[i] != 0;
    if (gk->is_null || null) return gk->is_null && null;
    switch ((spk_type_id)v->type.id) {
    case SPK_TYPE_BOOLEAN: return gk->as.b == (v->v.b[i] != 0);
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE: return gk->as.i32 == v->v.i32[i];
    case SPK_TYPE_INT64:
    case SPK_TYPE_DECIMAL:
    case SPK_TYPE_TIMESTAMP: return gk->as.i64 == v->v.i64[i];
    case SPK_TYPE_STRING:
        return gk->as.str.len == v->v.str[i].len && (gk->as.str.len == 0 || memcmp(gk->as.str.ptr, v->v.str[i].ptr, gk->as.str.len) == 0);
    default: {
        spk_value key = spk__vec_get(v, i);
        return spk_value_equal(gk, &key);
    }
    }
}

/* The group of row i (keys in keyvec, hash h), or UINT32_MAX. */
static uint32_t spk__agg_probe(const spk__agg_part *p, const spk__vec *const *keyvec, int nkeys, uint32_t i, uint64_t h) {
    if (!p->table_cap) return UINT32_MAX;
    size_t at = h & (p->table_cap - 1);
    for (uint64_t e; (e = p->table[at]) != 0;) {
        uint32_t g = (uint32_t)e - 1;
        if (spk__agg_tag_matches(e, h) && p->hashes[g] == h) {
            const spk_value *gk = p->keys + (size_t)g * (size_t)nkeys;
            bool same = true;
            for (int k = 0; k < nkeys && same; k++) same = spk__key_matches(&gk[k], keyvec[k], i);
            if (same) return g;
        }
        at = (at + 1) & (p->table_cap - 1);
    }
    return UINT32_MAX;
}

/* A row's key partition when the workers split the groups (spk__agg_should_split):
 * from a mix of its packed words, which are the same for equal keys in any batch. */
static inline uint64_t spk__agg_words_mix(const uint64_t *words, int nw) {
    uint64_t x = 0;
    for (int k = 0; k < nw; k++) x = (x ^ words[k]) * 0x9e3779b97f4a7c15ULL;
    return x;
}

static inline uint32_t spk__agg_split_of(const uint64_t *words, int nw, uint32_t nsplit) {
    return (uint32_t)(((spk__agg_words_mix(words, nw) >> 32) * nsplit) >> 32);
}

/* The rows of a whole batch of n in partition `part`, into out; how many.
 * One integer key (QG's) goes by range, straight from its vector; other
 * keys by a mix of their packed words, packed here for every row (*packed). */
static uint32_t spk__agg_split_rows(const spk__agg_exec *run, const spk__vec *const *keyvec, uint64_t *words, uint32_t n,
                                    uint32_t part, uint32_t *out, bool *packed) {
    uint32_t m = 0, nsplit = (uint32_t)run->base.split;
    const spk__vec *v = keyvec[0];
    const uint8_t *nulls = v->nulls;
    spk_type_id t = (spk_type_id)v->type.id;
    const int64_t *pivots = run->pivots;
    int64_t lo = part ? pivots[part - 1] : INT64_MIN, hi = part + 1 < nsplit ? pivots[part] : INT64_MAX;
    bool last = part + 1 == nsplit; /* (then no upper bound; the test below has no branch) */
#define SPK__SPLIT_RANGE(value)                                       \
    for (uint32_t i = 0; i < n; i++) {                                \
        int64_t x = nulls[i] ? 0 : (int64_t)(value);                  \
        out[m] = i;                                                   \
        m += (uint32_t)(x >= lo) & (uint32_t)(x < hi || last);        \
    }
    if (run->ranged && (t == SPK_TYPE_INT64 || t == SPK_TYPE_DECIMAL || t == SPK_TYPE_TIMESTAMP)) {
        SPK__SPLIT_RANGE(v->v.i64[i]);
    } else if (run->ranged && (t == SPK_TYPE_INT32 || t == SPK_TYPE_DATE)) {
        SPK__SPLIT_RANGE(v->v.i32[i]);
    } else {
        *packed = spk__agg_pack_batch(run, words, keyvec, NULL, n); /* (keys that split always pack) */
        for (uint32_t i = 0; i < n; i++) {
            out[m] = i;
            m += spk__agg_split_of(words + (size_t)i * (size_t)run->nwords, run->nwords, nsplit) == part;
        }
    }
#undef SPK__SPLIT_RANGE
    return m;
}

/* A new group's origin: its morsel, and its rank among the groups the
 * morsel added to the part — or, split, the morsel's row where it showed
 * (a partition's ranks would not order its groups against the others'). */
static inline uint64_t spk__agg_origin(spk__agg_worker *w, uint32_t i) {
    return (uint64_t)w->morsel << 32 | (w->run->base.split > 1 ? w->batch_at + i : w->fresh++);
}

static spk_status spk__agg_consume(spk__sink *self, spk__vec *const *cols, int ncols, const uint32_t *sel, uint32_t n) {
    spk__agg_worker *w = (spk__agg_worker *)self;
    const spk__agg_exec *run = w->run;
    spk__agg_part *p = w->part;
    const spk_df *node = run->node;
    (void)ncols;
    const spk__vec *keyvec[64];
    for (int k = 0; k < run->nkeys; k++) {
        spk__runner *r = &w->runners[k];
        spk__arena_reset(&r->ev.arena);
        spk__runner_bind_inputs(r, node->bound[k], cols);
        spk__eval_node(r, r->root, sel, n);
        if (r->ev.status != SPK_OK) return r->ev.status;
        keyvec[k] = &r->ev.vecs[r->root->slot];
    }
    spk_status st = SPK_OK;
    uint64_t *hashes = w->hashes;
    bool packed = false;
    if (run->base.split > 1) { /* this worker's share of a whole batch (the stream is bare) */
        if (sel) return spk__fail(SPK_ERR_INTERNAL, "a split aggregation given a selection");
        w->batch_at = w->next_at;
        w->next_at += n;
        if (!(n = spk__agg_split_rows(run, keyvec, w->words, n, (uint32_t)w->index, w->mine, &packed))) return SPK_OK;
        sel = w->mine;
    }
    if (!packed) packed = run->nwords && spk__agg_pack_batch(run, w->words, keyvec, sel, n);
    if (run->base.split > 1 && !packed) return spk__fail(SPK_ERR_INTERNAL, "a split aggregation's keys did not pack");
    bool direct = false;
    if (packed && run->per_worker && run->nkeys == 1 && (st = spk__agg_direct(run, p, w->words, sel, n, &direct)) != SPK_OK) return st;
    bool few = packed && !direct && p->ngroups <= SPK__AGG_FEW; /* rows are matched against the groups' words, unhashed */
    if (run->nkeys == 0) SPK__FOR_ROWS(sel, n, hashes[i] = 0);
    else if (packed && !few && !direct) spk__agg_hash_words(run, w->words, sel, n, hashes);
    else if (!packed) spk__hash_keys(keyvec, run->nkeys, sel, n, hashes);
    if ((!direct || p->not_all_direct) && (st = spk__agg_index(p)) != SPK_OK) return st; /* probes below need the table */
    if (packed && !few && !direct && p->table_cap > 32768) { /* a table past the core's cache: start the batch's misses together */
        size_t mask = p->table_cap - 1;
        SPK__FOR_ROWS(sel, n, SPK__PREFETCH(&p->table[hashes[i] & mask]));
        SPK__FOR_ROWS(sel, n, {
            uint64_t e = p->table[hashes[i] & mask];
            if (e) SPK__PREFETCH(p->rows + (size_t)((uint32_t)e - 1) * run->row_size);
        });
    }
    size_t nw = (size_t)run->nwords;
    uint32_t unseen = n; /* rows whose group the loop below finds */
    if (direct) { /* each row's group, its row prefetched for the updates; a value not yet seen below */
        const uint32_t *index = p->direct;
        const uint64_t *key = w->words;
        unseen = 0;
        SPK__FOR_ROWS(sel, n, {
            uint32_t e = index[key[2 * (size_t)i]];
            w->groups_of_row[i] = e - 1;
            unseen += e == 0;
            if (e) SPK__PREFETCH(p->rows + (size_t)(e - 1) * run->row_size); /* (no rows at all before the first group) */
        });
    }
    for (uint32_t k = 0; unseen && k < n && st == SPK_OK; k++) {
        uint32_t i = sel ? sel[k] : k, group;
        const uint64_t *words = packed ? w->words + (size_t)i * nw : NULL;
        if (direct) {
            uint32_t *slot = &p->direct[words[0]];
            if (*slot) {
                w->groups_of_row[i] = *slot - 1;
                continue;
            }
            spk__agg_hash_words(run, w->words, &i, 1, hashes);
            /* while every group is in `direct`, a value missing there is a new group */
            group = p->not_all_direct ? spk__agg_probe_packed(p, run->row_size, words, (int)nw, hashes[i]) : UINT32_MAX;
            if (group == UINT32_MAX) {
                spk_value key[1];
                key[0] = spk__vec_get(keyvec[0], i);
                if ((st = spk__agg_new_group(run, p, key, hashes[i], spk__agg_origin(w, i), p->not_all_direct, &group)) != SPK_OK) break;
            }
            *slot = group + 1;
            w->groups_of_row[i] = group;
            continue;
        }
        if (few && p->ngroups > SPK__AGG_FEW) { /* no longer few: hash the rest of the batch */
            few = false;
            if (sel) spk__agg_hash_words(run, w->words, sel + k, n - k, hashes);
            else spk__agg_hash_words(run, words, NULL, n - k, hashes + k);
        }
        unsigned seen = 0;
        if (few) {
            seen = spk__agg_few_hash(words, (int)nw);
            group = w->few_seen[seen] - 1u; /* UINT32_MAX when none */
            if (group == UINT32_MAX || !spk__agg_words_equal((const uint64_t *)(const void *)spk__agg_row(run, p, group), words, (int)nw))
                group = spk__agg_scan_packed(p, run->row_size, words, (int)nw);
            if (group == UINT32_MAX) spk__agg_hash_words(run, w->words, &i, 1, hashes); /* a new group keeps its hash */
        } else {
            group = packed ? spk__agg_probe_packed(p, run->row_size, words, (int)nw, hashes[i]) : spk__agg_probe(p, keyvec, run->nkeys, i, hashes[i]);
        }
        if (group == UINT32_MAX) {
            spk_value key[64];
            for (int k = 0; k < run->nkeys; k++) key[k] = spk__vec_get(keyvec[k], i);
            st = spk__agg_new_group(run, p, key, hashes[i], spk__agg_origin(w, i), true, &group);
        }
        if (few && st == SPK_OK) w->few_seen[seen] = (uint8_t)(group + 1); /* group < SPK__AGG_FEW + 1 */
        w->groups_of_row[i] = group;
    }
    if (st != SPK_OK) return st;
    /* aggregates: evaluate each one's argument over the batch, then update */
    for (int a = 0; a < run->naggs; a++) {
        const spk__agg_slot *ag = &run->aggs[a];
        if (ag->state != a) continue; /* shares an earlier aggregate's states */
        spk__runner *r = &w->runners[run->nkeys + ag->output];
        spk__arena_reset(&r->ev.arena);
        spk__runner_bind_inputs(r, node->bound[run->nkeys + ag->output], cols);
        spk__eval_node(r, ag->node->args[0], sel, n);
        if (r->ev.status != SPK_OK) return r->ev.status;
        st = ag->node->agg->update(ag->node, spk__agg_state(run, p, 0, a), run->row_size, w->groups_of_row, (uint32_t)p->ngroups,
                                   &r->ev.vecs[ag->node->args[0]->slot], sel, n);
        if (st != SPK_OK) return st;
    }
    return SPK_OK;
}

/* Evaluators for every expression of the node; *made says how many were set up. */
static spk_status spk__agg_runners(const spk_df *node, spk__runner **out, int *made) {
    size_t size = (size_t)(node->nexprs ? node->nexprs : 1) * sizeof **out;
    *made = 0;
    if (!(*out = (spk__runner *)spk__calloc(&spk__default_allocator, size))) return spk__nomem("evaluators", size);
    spk_status st = SPK_OK;
    for (; *made < node->nexprs && st == SPK_OK; (*made)++) st = spk__runner_init(&(*out)[*made], node->bound[*made]->root, node->bound[*made]->nslots);
    return st;
}

static void spk__agg_runners_free(const spk_df *node, spk__runner *r, int made) {
    if (!r) return;
    for (int i = 0; i < made; i++) spk__runner_free(&r[i]);
    spk__free(&spk__default_allocator, r, (size_t)(node->nexprs ? node->nexprs : 1) * sizeof *r);
}

/* Whether every aggregate's result is the same in whatever order the rows
 * meet it: counts, sums and averages of integers and decimals (exact; a
 * decimal sum counts its wraps), min and max of anything but DOUBLE (whose
 * -0.0 and 0.0 tie) — and no grouping key is a DOUBLE, since a group shows
 * its first row's key and -0.0 and 0.0 are one key. Then each worker keeps one set of groups for all its
 * morsels, rather than one per morsel to be merged in morsel order — far
 * fewer groups to build and merge when there are many. */
static bool spk__aggs_order_free(const spk__agg_exec *run) {
    for (int k = 0; k < run->nkeys; k++) /* a group shows its first row's key: -0.0 and 0.0 are one DOUBLE key */
        if (run->node->bound[k]->root->type.id == SPK_TYPE_DOUBLE) return false;
    for (int a = 0; a < run->naggs; a++) {
        const spk__bnode *n = run->aggs[a].node;
        if (n->agg == &spk__agg_count) continue;
        if (n->nargs < 1) return false;
        spk_type_id t = (spk_type_id)n->args[0]->type.id;
        bool exact = t == SPK_TYPE_INT32 || t == SPK_TYPE_INT64 || t == SPK_TYPE_DECIMAL;
        if ((n->agg == &spk__agg_sum || n->agg == &spk__agg_avg) && exact) continue;
        if (n->agg == &spk__agg_pick && (n->iarg == 1 || n->iarg == 2) && t != SPK_TYPE_DOUBLE) continue;
        return false;
    }
    return true;
}

/* Key partitions. When the groups are so many that every worker would
 * build nearly all of them from its own morsels (QG: 200k part keys over
 * 6M rows) and then merge them, the workers split the groups by key
 * instead: each reads every row's keys but builds and updates only the
 * groups of its partition, and nothing is merged. Only over a table read
 * as it is (a chain of filters or projections would run once per
 * partition) and with keys that always pack (no strings), since a row's
 * partition comes from its packed words — or, for one integer key, from
 * its value's range (spk__agg_exec.pivots). */

static int spk__int64_order(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Whether to split: not for a few morsels, and otherwise as a sample of
 * the keys suggests, 16 runs of 1,024 rows spread over the table. Among s
 * sampled rows, d distinct keys suggest G ≈ s² / 2(s - d) groups (for G
 * well above s, d ≈ s - s²/2G); splitting pays when G is a fair share of
 * the rows, since it saves the building and merging of a group in all but
 * one worker (~100 ns) at the cost of reading every row's keys in all of
 * them (~1 ns). For one integer key it also sets the partitions' bounds.
 * A failure to sample just means no split. */
static bool spk__agg_should_split(spk__agg_exec *run, int nworkers) {
    const spk_table *t = run->base.input;
    if (nworkers < 2 || nworkers > SPK__SPLIT_MAX || !run->per_worker || !run->base.bare || !run->nwords || !t ||
        t->nrows < 4 * (size_t)spk__morsel_rows())
        return false;
    const spk__vec *keyvec[7];
    int cols[7];
    for (int k = 0; k < run->nkeys; k++) {
        const spk__bnode *key = run->node->bound[k]->root;
        if (key->kind != SPK__B_COL || key->type.id == SPK_TYPE_STRING) return false;
        cols[k] = key->col;
    }
    enum { RUNS = 16, RUN = 1024, SET = 1 << 15 };
    const spk_allocator *a = &spk__default_allocator;
    size_t nw = (size_t)run->nwords, sampled = 0, distinct = 0, nvalues = 0;
    spk__vecset vs;
    memset(&vs, 0, sizeof vs);
    uint64_t *set = (uint64_t *)spk__calloc(a, SET * sizeof *set);
    uint64_t *words = set ? (uint64_t *)spk__alloc(a, RUN * nw * sizeof *words) : NULL;
    /* one integer key: its sampled values, whose quantiles become the partitions' bounds */
    spk_type_id kt = (spk_type_id)run->node->bound[0]->root->type.id;
    bool integer = run->nkeys == 1 && (kt == SPK_TYPE_INT32 || kt == SPK_TYPE_DATE || kt == SPK_TYPE_INT64 ||
                                       kt == SPK_TYPE_DECIMAL || kt == SPK_TYPE_TIMESTAMP);
    int64_t *values = words && integer ? (int64_t *)spk__alloc(a, RUNS * RUN * sizeof *values) : NULL;
    bool ready = words && (values || !integer) && spk__vecset_init(&vs, spk_table_schema(t)) == SPK_OK;
    for (size_t r = 0, ci = 0, first = 0; ready && r < RUNS; r++) {
        size_t row = t->nrows / RUNS * r;
        while (first + t->chunks[ci]->nrows <= row) first += t->chunks[ci++]->nrows;
        const spk__chunk *c = t->chunks[ci];
        uint32_t start = (uint32_t)(row - first), n = c->nrows - start < RUN ? c->nrows - start : RUN;
        for (int k = 0; k < run->nkeys; k++) {
            spk__load_column(t, c, start, n, cols[k], &vs.vecs[cols[k]]);
            keyvec[k] = &vs.vecs[cols[k]];
        }
        if (!spk__agg_pack_batch(run, words, keyvec, NULL, n)) break;
        for (uint32_t i = 0; i < n; i++) {
            uint64_t x = spk__agg_words_mix(words + i * nw, run->nwords) | 1; /* 0 marks an empty slot */
            size_t at = (size_t)(x >> 49);
            while (set[at] && set[at] != x) at = (at + 1) & (SET - 1);
            distinct += !set[at];
            set[at] = x;
            if (values) values[nvalues++] = (int64_t)words[i * nw]; /* a NULL's word is 0 */
        }
        sampled += n;
    }
    spk__vecset_free(&vs);
    if (words) spk__free(a, words, RUN * nw * sizeof *words);
    if (set) spk__free(a, set, SET * sizeof *set);
    size_t groups = distinct >= sampled ? SIZE_MAX : sampled * sampled / (2 * (sampled - distinct));
    bool split = sampled >= RUNS * RUN / 4 && groups >= t->nrows / 64;
    if (split && values) { /* bounds at the sample's quantiles, so that the partitions get about as many rows */
        qsort(values, nvalues, sizeof *values, spk__int64_order);
        for (int p = 1; p < nworkers; p++) run->pivots[p - 1] = values[nvalues * (size_t)p / (size_t)nworkers];
        run->ranged = true;
    }
    if (values) spk__free(a, values, RUNS * RUN * sizeof *values);
    return split;
}

static void spk__agg_uses(const spk__feed *self, uint8_t *used) {
    const spk_df *node = ((const spk__agg_exec *)self)->node;
    for (int k = 0; k < node->nexprs; k++) spk__mark_columns(node->bound[k], used);
}

static spk_status spk__agg_start(spk__feed *self, int nworkers, size_t nmorsels) {
    spk__agg_exec *run = (spk__agg_exec *)self;
    size_t nparts = run->per_worker ? (size_t)nworkers : nmorsels;
    size_t psize = (nparts ? nparts : 1) * sizeof *run->parts, wsize = (size_t)nworkers * sizeof *run->workers;
    run->parts = (spk__agg_part **)spk__calloc(&spk__default_allocator, psize);
    run->workers = run->parts ? (spk__agg_worker *)spk__calloc(&spk__default_allocator, wsize) : NULL;
    if (!run->workers) return spk__nomem("an aggregation", psize + wsize);
    run->nparts = nparts;
    run->nworkers = nworkers;
    for (int w = 0; w < nworkers; w++) {
        run->workers[w].base.consume = spk__agg_consume;
        run->workers[w].run = run;
        run->workers[w].index = w;
    }
    if (spk__agg_should_split(run, nworkers)) run->base.split = nworkers;
    return SPK_OK;
}

static spk_status spk__agg_open(spk__feed *self, int worker, size_t morsel, spk__sink **sink) {
    spk__agg_exec *run = (spk__agg_exec *)self;
    spk__agg_worker *w = &run->workers[worker];
    spk_status st = SPK_OK;
    if (!w->runners && (st = spk__agg_runners(run->node, &w->runners, &w->made)) != SPK_OK) return st;
    size_t wsize = (size_t)SPK__BATCH * (size_t)run->nwords * sizeof *w->words;
    if (run->nwords && !w->words && !(w->words = (uint64_t *)spk__alloc(&spk__default_allocator, wsize)))
        return spk__nomem("packed grouping keys", wsize);
    if ((uint64_t)morsel >= UINT32_MAX) return spk__fail(SPK_ERR_LIMIT, "an aggregation over more than 4 billion morsels");
    size_t at = run->per_worker ? (size_t)worker : morsel;
    if (!run->parts[at] && (st = spk__agg_part_new(run, &run->parts[at])) != SPK_OK) return st;
    if (w->part != run->parts[at]) memset(w->few_seen, 0, sizeof w->few_seen);
    w->part = run->parts[at];
    w->morsel = (uint32_t)morsel;
    w->fresh = 0;
    w->next_at = 0;
    *sink = &w->base;
    return SPK_OK;
}

/* Part p's group with this key (its values, packed words and hash), or
 * UINT32_MAX. A part whose groups all came by the direct path is looked
 * up in its array only (it has no hash table). */
static uint32_t spk__agg_lookup(const spk__agg_exec *run, const spk__agg_part *p, const spk_value *key, const uint64_t *words,
                                uint64_t h) {
    bool packed = run->nwords && !(words[run->nkeys] & SPK__UNPACKABLE);
    if (!p->not_all_direct) /* then the key is one non-NULL integer, or p has no such group */
        return packed && run->nkeys == 1 && !words[1] && words[0] < p->direct_cap ? p->direct[words[0]] - 1 : UINT32_MAX;
    return packed ? spk__agg_probe_packed(p, run->row_size, words, run->nwords, h) : spk__agg_find(p, run->nkeys, key, h);
}

/* Merges every part's groups of one hash partition, parts in morsel order,
 * into a part of the partition's own. Per-worker parts (whose aggregates
 * do not care about order) merge into the base part instead, in place:
 * each partition's task touches only its own groups there, so only the
 * groups the base lacks go to the partition's part. With many groups,
 * most of them in every worker's part, that copies almost nothing. */
static spk_status spk__agg_merge_task(void *ctx, int worker, size_t partition) {
    spk__agg_exec *run = (spk__agg_exec *)ctx;
    (void)worker;
    spk_status st = spk__agg_part_new(run, &run->merged[partition]);
    spk__agg_part *fresh = run->merged[partition];
    spk__agg_part *base = run->fold_into != SIZE_MAX ? run->parts[run->fold_into] : NULL;
    uint64_t mask = (uint64_t)run->npartitions - 1;
    size_t nk = (size_t)(run->nkeys ? run->nkeys : 1);
    for (size_t m = 0; st == SPK_OK && m < run->nparts; m++) {
        const spk__agg_part *from = run->parts[m];
        if (m == run->fold_into) continue;
        for (size_t g = 0; from && g < from->ngroups && st == SPK_OK; g++) {
            uint64_t h = from->hashes[g];
            if (((h >> 40) & mask) != partition) continue; /* table slots use the low bits */
            spk_value unpacked[64];
            for (int k = 0; run->keys_in_words && k < run->nkeys; k++) unpacked[k] = spk__agg_key(run, from, g, k);
            const spk_value *key = run->keys_in_words ? unpacked : from->keys + g * nk;
            const uint64_t *words = (const uint64_t *)(const void *)spk__agg_row(run, from, g);
            spk__agg_part *into = base;
            uint32_t t = base ? spk__agg_lookup(run, base, key, words, h) : UINT32_MAX;
            if (t == UINT32_MAX) {
                into = fresh;
                t = spk__agg_lookup(run, fresh, key, words, h);
            }
            if (t == UINT32_MAX) st = spk__agg_new_group(run, fresh, key, h, from->origin[g], true, &t);
            else if (from->origin[g] < into->origin[t]) into->origin[t] = from->origin[g]; /* per-worker parts */
            for (int a = 0; a < run->naggs && st == SPK_OK; a++) {
                const spk__bnode *node = run->aggs[a].node;
                if (run->aggs[a].state != a) continue;
                st = node->agg->merge(node, spk__agg_state(run, into, t, a), spk__agg_state(run, from, g, a));
            }
        }
    }
    return st;
}

/* A group to output. */
typedef struct spk__agg_ref {
    uint64_t origin;
    const spk__agg_part *part;
    uint32_t group;
} spk__agg_ref;

/* Sorts refs by origin: least significant byte first, skipping the bytes
 * that all origins share (most: a morsel number and a position in it). */
static spk_status spk__agg_refs_sort(spk__agg_ref *refs, size_t n) {
    uint64_t all_and = ~(uint64_t)0, all_or = 0;
    for (size_t i = 0; i < n; i++) {
        all_and &= refs[i].origin;
        all_or |= refs[i].origin;
    }
    uint64_t varies = all_and ^ all_or;
    if (!varies || n < 2) return SPK_OK;
    spk__agg_ref *tmp = (spk__agg_ref *)spk__alloc(&spk__default_allocator, n * sizeof *tmp), *from = refs, *to = tmp;
    if (!tmp) return spk__nomem("an aggregation's groups", n * sizeof *tmp);
    for (int shift = 0; shift < 64; shift += 8) {
        if (!((varies >> shift) & 0xff)) continue;
        size_t count[256] = {0};
        for (size_t i = 0; i < n; i++) count[(from[i].origin >> shift) & 0xff]++;
        size_t at = 0;
        for (int d = 0; d < 256; d++) {
            size_t c = count[d];
            count[d] = at;
            at += c;
        }
        for (size_t i = 0; i < n; i++) to[count[(from[i].origin >> shift) & 0xff]++] = from[i];
        spk__agg_ref *t = from;
        from = to;
        to = t;
    }
    if (from != refs) memcpy(refs, from, n * sizeof *refs);
    spk__free(&spk__default_allocator, tmp, n * sizeof *tmp);
    return SPK_OK;
}

/* Which grouping key, if any, is exactly input column `col`. */
static int spk__key_of_column(const spk_df *node, int col) {
    for (int k = 0; k < node->nkeys; k++)
        if (node->bound[k]->root->kind == SPK__B_COL && node->bound[k]->root->col == col) return k;
    return -1;
}

/* The groups to output, a batch at a time, in origin order: from an array
 * sorted by origin, or merged from split parts, which hold their groups in
 * origin order already (each read the morsels, and their rows, in order) —
 * so split groups are never gathered into one array and sorted. */
typedef struct spk__agg_order {
    const spk__agg_ref *refs; /* sorted; NULL: merge the parts */
    spk__agg_part *const *parts;
    size_t nparts;
    uint32_t next[SPK__SPLIT_MAX]; /* per part: its next group */
    spk__agg_ref batch[SPK__BATCH];
} spk__agg_order;

static const spk__agg_ref *spk__agg_order_next(spk__agg_order *o, size_t first, uint32_t n) {
    if (o->refs) return o->refs + first;
    for (uint32_t i = 0; i < n; i++) {
        size_t best = SIZE_MAX;
        for (size_t p = 0; p < o->nparts; p++) {
            const spk__agg_part *part = o->parts[p];
            if (part && o->next[p] < part->ngroups &&
                (best == SIZE_MAX || part->origin[o->next[p]] < o->parts[best]->origin[o->next[best]]))
                best = p;
        }
        uint32_t g = o->next[best]++; /* (n never passes the groups left) */
        o->batch[i] = (spk__agg_ref){o->parts[best]->origin[g], o->parts[best], g};
    }
    return o->batch;
}

/* Key k of groups r[0, n) into v, a vector of the key's type. */
static void spk__agg_key_vec(const spk__agg_exec *run, const spk__agg_ref *r, uint32_t n, int k, spk__vec *v) {
    if (!run->keys_in_words) {
        for (uint32_t i = 0; i < n; i++) spk__vec_set(v, i, &r[i].part->keys[r[i].group * (size_t)run->nkeys + (size_t)k]);
        return;
    }
    const int nk = run->nkeys;
    uint8_t *nulls = v->nulls;
#define SPK__KEY_WORDS(store)                                                                                \
    for (uint32_t i = 0; i < n; i++) {                                                                       \
        const uint64_t *w = (const uint64_t *)(const void *)spk__agg_row(run, r[i].part, r[i].group);        \
        nulls[i] = (uint8_t)((w[nk] >> (8 * k)) & 0x80 ? 1 : 0); /* a NULL's word is 0 */                 \
        store;                                                                                               \
    }
    switch ((spk_type_id)v->type.id) {
    case SPK_TYPE_BOOLEAN: SPK__KEY_WORDS(v->v.b[i] = w[k] != 0); break;
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE: SPK__KEY_WORDS(v->v.i32[i] = (int32_t)w[k]); break;
    default: SPK__KEY_WORDS(v->v.i64[i] = (int64_t)w[k]); break;
    }
#undef SPK__KEY_WORDS
}

/* Emits one row per group: the keys, then each output evaluated with its
 * aggregates' final values (and grouping columns) in place. */
static spk_status spk__agg_emit(const spk__agg_exec *run, spk__agg_order *order, size_t groups, spk_table *out) {
    const spk_df *node = run->node;
    int nout = node->nexprs, made = 0;
    spk__runner *runners = NULL;
    spk__vec **cols = (spk__vec **)spk__calloc(&spk__default_allocator, (size_t)(nout ? nout : 1) * sizeof *cols);
    if (!cols) return spk__nomem("an aggregation's output", (size_t)nout * sizeof *cols);
    spk__vecset keys, outs; /* grouping columns by input position; key outputs */
    memset(&keys, 0, sizeof keys);
    memset(&outs, 0, sizeof outs);
    spk_status st = spk__agg_runners(node, &runners, &made);
    if (st == SPK_OK) st = spk__vecset_init(&keys, node->child->schema);
    if (st == SPK_OK) st = spk__vecset_init(&outs, node->schema);
    for (size_t first = 0; st == SPK_OK && first < groups; first += SPK__BATCH) {
        uint32_t n = (uint32_t)(groups - first < SPK__BATCH ? groups - first : SPK__BATCH);
        const spk__agg_ref *r = spk__agg_order_next(order, first, n);
        /* grouping columns as input vectors, for outputs that use them */
        for (int k = 0; k < run->nkeys; k++) {
            const spk_bound *kb = node->bound[k];
            if (kb->root->kind != SPK__B_COL) continue;
            spk__vec *v = &keys.vecs[kb->root->col];
            spk__agg_key_vec(run, r, n, k, v);
        }
        for (int a = 0; a < run->naggs && st == SPK_OK; a++) {
            const spk__agg_slot *ag = &run->aggs[a];
            spk__vec *v = &runners[run->nkeys + ag->output].ev.vecs[ag->node->slot];
            for (uint32_t i = 0; i < n && st == SPK_OK; i++)
                st = ag->node->agg->final(ag->node, spk__agg_state(run, r[i].part, r[i].group, a), v, i);
        }
        for (int o = 0; o < nout && st == SPK_OK; o++) {
            spk__runner *rn = &runners[o];
            const spk_bound *b = node->bound[o];
            if (o < run->nkeys) { /* the key values themselves */
                spk__vec *v = &outs.vecs[o];
                spk__agg_key_vec(run, r, n, o, v);
                cols[o] = v;
                continue;
            }
            /* Columns outside aggregates are grouping keys (checked when the
             * frame was built): give them the groups' key values. */
            int ncols = spk_schema_ncols(b->schema);
            for (int c = 0; c < ncols; c++)
                if (b->col_slot[c] >= 0 && spk__key_of_column(node, c) >= 0) rn->ev.vecs[b->col_slot[c]] = keys.vecs[c];
            spk__arena_reset(&rn->ev.arena);
            spk__eval_node(rn, rn->root, NULL, n);
            st = rn->ev.status;
            cols[o] = &rn->ev.vecs[rn->root->slot];
        }
        if (st == SPK_OK) st = spk__table_append_vecs(out, cols, NULL, n);
    }
    spk__vecset_free(&keys);
    spk__vecset_free(&outs);
    spk__agg_runners_free(node, runners, made);
    spk__free(&spk__default_allocator, cols, (size_t)(nout ? nout : 1) * sizeof *cols);
    return st;
}

static spk_status spk__run_aggregate(const spk_df *node, spk_table *out) {
    const spk_allocator *a = &spk__default_allocator;
    if (node->nkeys > 64) return spk__fail(SPK_ERR_LIMIT, "at most 64 grouping keys");
    spk__agg_exec run;
    memset(&run, 0, sizeof run);
    run.base.start = spk__agg_start;
    run.base.uses = spk__agg_uses;
    run.base.open = spk__agg_open;
    run.node = node;
    run.nkeys = node->nkeys;
    spk_status st = SPK_OK;
    int total = 0;
    for (int o = node->nkeys; o < node->nexprs; o++) total += spk__count_agg_nodes(node->bound[o]->root);
    run.aggs = (spk__agg_slot *)spk__calloc(a, (size_t)(total ? total : 1) * sizeof *run.aggs);
    if (!run.aggs) return spk__nomem("aggregates", (size_t)total * sizeof *run.aggs);
    for (int o = node->nkeys; o < node->nexprs; o++) spk__collect_agg_nodes(node->bound[o]->root, o - node->nkeys, run.aggs, &run.naggs, total);
    run.per_worker = spk__aggs_order_free(&run);
    spk__agg_share(&run);
    run.nwords = node->nkeys >= 1 && node->nkeys <= 7 ? node->nkeys + 1 : 0;
    run.keys_in_words = run.nwords > 0;
    for (int k = 0; k < node->nkeys; k++) {
        spk_type_id t = (spk_type_id)node->bound[k]->root->type.id;
        if (!spk__key_packs(t)) run.nwords = 0;
        if (!spk__key_packs(t) || t == SPK_TYPE_STRING) run.keys_in_words = false;
    }
    size_t at_size = (size_t)(run.naggs ? run.naggs : 1) * sizeof *run.state_at;
    if (!(run.state_at = (size_t *)spk__calloc(a, at_size))) {
        spk__free(a, run.aggs, (size_t)(total ? total : 1) * sizeof *run.aggs);
        return spk__nomem("aggregates", at_size);
    }
    run.row_size = (size_t)run.nwords * sizeof(uint64_t);
    for (int i = 0; i < run.naggs; i++) { /* states 16-byte aligned: any scalar a state holds */
        if (run.aggs[i].state != i) continue;
        run.row_size = (run.row_size + 15) & ~(size_t)15;
        run.state_at[i] = run.row_size;
        run.row_size += run.aggs[i].node->agg->state_size;
    }
    run.row_size = run.row_size ? (run.row_size + 15) & ~(size_t)15 : 16;
    st = spk__stream(node->child, &run.base);
    /* Merge: by hash partition when several threads can share the work. */
    size_t nparts = 0, groups = 0, rsize = 0, msize = 0;
    for (size_t m = 0; m < run.nparts; m++) nparts += run.parts[m] != NULL;
    int threads = spk_session_threads(node->session);
    run.npartitions = 1;
    while (run.npartitions < threads && run.npartitions < 64) run.npartitions *= 2;
    run.fold_into = SIZE_MAX;
    if (st == SPK_OK && nparts > 1 && run.base.split <= 1) { /* (split parts hold different groups) */
        /* merged: a part per partition, then the base part (not owned) */
        msize = (size_t)(run.npartitions + 1) * sizeof *run.merged;
        if (!(run.merged = (spk__agg_part **)spk__calloc(a, msize))) st = spk__nomem("an aggregation", msize);
        for (size_t m = 0; st == SPK_OK && run.per_worker && m < run.nparts; m++) /* the largest part is the base */
            if (run.parts[m] && (run.fold_into == SIZE_MAX || run.parts[m]->ngroups > run.parts[run.fold_into]->ngroups)) run.fold_into = m;
        if (st == SPK_OK && run.fold_into != SIZE_MAX) {
            run.merged[run.npartitions] = run.parts[run.fold_into];
            if (run.parts[run.fold_into]->not_all_direct) st = spk__agg_index(run.parts[run.fold_into]);
        }
        if (st == SPK_OK)
            st = spk__par_run(node->session, spk__par_workers(node->session, (size_t)run.npartitions), (size_t)run.npartitions,
                              spk__agg_merge_task, &run);
    }
    /* The groups in order of first appearance; a global aggregate over no rows still yields one row. */
    spk__agg_part *empty = NULL;
    spk__agg_part *const *sources = run.merged ? run.merged : run.parts;
    size_t nsources = run.merged ? (size_t)run.npartitions + 1 : run.nparts;
    for (size_t i = 0; st == SPK_OK && i < nsources; i++) groups += sources[i] ? sources[i]->ngroups : 0;
    if (st == SPK_OK && groups == 0 && run.nkeys == 0) {
        uint32_t g;
        if ((st = spk__agg_part_new(&run, &empty)) == SPK_OK) st = spk__agg_new_group(&run, empty, NULL, 0, 0, true, &g);
        sources = &empty;
        nsources = 1;
        groups = 1;
    }
    spk__agg_ref *refs = NULL;
    spk__agg_order *order = NULL;
    bool split = run.base.split > 1 && sources == run.parts;
    rsize = split ? 0 : (groups ? groups : 1) * sizeof *refs;
    if (st == SPK_OK && !(order = (spk__agg_order *)spk__calloc(a, sizeof *order))) st = spk__nomem("an aggregation's output", sizeof *order);
    if (st == SPK_OK && !split && !(refs = (spk__agg_ref *)spk__alloc(a, rsize))) st = spk__nomem("an aggregation's groups", rsize);
    size_t k = 0;
    for (size_t i = 0; refs && i < nsources; i++)
        for (uint32_t g = 0; sources[i] && g < sources[i]->ngroups; g++) refs[k++] = (spk__agg_ref){sources[i]->origin[g], sources[i], g};
    if (refs && nsources > 1 && st == SPK_OK) st = spk__agg_refs_sort(refs, groups); /* origins are unique */
    if (order) {
        order->refs = refs;
        order->parts = sources;
        order->nparts = nsources;
    }
    if (st == SPK_OK) st = spk__agg_emit(&run, order, groups, out);
    if (refs) spk__free(a, refs, rsize);
    if (order) spk__free(a, order, sizeof *order);
    spk__agg_part_free(&run, empty);
    for (int i = 0; run.merged && i < run.npartitions; i++) spk__agg_part_free(&run, run.merged[i]);
    if (run.merged) spk__free(a, run.merged, msize);
    for (size_t m = 0; run.parts && m < run.nparts; m++) spk__agg_part_free(&run, run.parts[m]);
    if (run.parts) spk__free(a, run.parts, (run.nparts ? run.nparts : 1) * sizeof *run.parts);
    for (int w = 0; run.workers && w < run.nworkers; w++) {
        spk__agg_runners_free(node, run.workers[w].runners, run.workers[w].made);
        if (run.workers[w].words)
            spk__free(a, run.workers[w].words, (size_t)SPK__BATCH * (size_t)run.nwords * sizeof *run.workers[w].words);
    }
    if (run.workers) spk__free(a, run.workers, (size_t)run.nworkers * sizeof *run.workers);
    spk__free(a, run.aggs, (size_t)(total ? total : 1) * sizeof *run.aggs);
    spk__free(a, run.state_at, at_size);
    return st;
}

/* ---------------------------------------------------------------- sorting
 * Workers evaluate the sort keys morsel by morsel, noting each one's range;
 * then every row's keys are packed into a normalised key, a few 64-bit words
 * compared as unsigned integers, most significant first, followed by the
 * row number. A key is a bit field: its value less the smallest one (or the
 * largest one less it, descending), with one more code for NULL at the end
 * it sorts to, in as few bits as the values' range needs. A string key
 * takes a word of its first 8 bytes, and when those are equal the whole
 * strings decide. Ties are broken by row number, so the order is one total
 * order: the sort is stable and its result independent of the thread count.
 * A key that is a column is read again to be packed; others (expressions,
 * which need not give the same value twice, and strings, which ties read)
 * are kept per row between the two passes.
 * Workers sort runs of rows (radix sort; merge sort when string keys need
 * their fallback), merged pairwise in rounds, and the rows are copied out
 * in ranges. A limit right above the sort is applied by it: the rows before
 * and after the limit's window are split off by selection, never sorted or
 * copied; and when that window is small and the sort's input a projection
 * of columns, the sort reads the projection's input instead and gathers
 * the window's columns from it, so the projection is never materialised. */

#define SPK__SORT_SIGN ((uint64_t)1 << 63)
#define SPK__SORT_MAX_KEYS 64
#define SPK__SORT_MAX_WORDS (2 * SPK__SORT_MAX_KEYS + 1) /* a key takes at most 65 bits, or a bit and a word */
#define SPK__SORT_GATHER_MAX 65536 /* the most rows of a limit for which a projection of columns is gathered */

typedef struct spk__sort_field {
    bool desc, nulls_first, text;
    bool reread;                /* a column (not text): read again to encode rather than kept per row (u, nulls unused) */
    uint64_t *u;                /* not text: per row, the value as an unsigned integer in the same order */
    spk__str *s;                /* text: per row, the bytes in the workers' arenas */
    uint8_t *nulls;             /* per row: 1 = NULL */
    bool any_null, any_value;   /* over all rows */
    uint64_t lo, hi;            /* not text: the smallest and largest value */
    int null_at;                /* the bit of a separate NULL field, or -1 */
    int value_at, value_bits;   /* the value field (0 bits: one value, or only NULLs) */
    bool null_code;             /* NULL is a code of the value field: 0 (NULLS FIRST) or hi - lo + 1 */
} spk__sort_field;

typedef struct spk__sort_stats {
    bool any_null, any_value;
    uint64_t lo, hi;
} spk__sort_stats;

typedef struct spk__sort_worker {
    spk__runner runners[SPK__SORT_MAX_KEYS];
    int made;
    spk__vecset vs;
    spk__vec **inputs;  /* per column of the sort's input: its vector in vs */
    spk__arena strings; /* the bytes of string keys */
    spk__sort_stats stats[SPK__SORT_MAX_KEYS];
    uint64_t u[SPK__BATCH]; /* a reread key's batch (spk__sort_field.reread) */
    uint8_t nulls[SPK__BATCH];
} spk__sort_worker;

typedef struct spk__sort_run {
    const spk_df *node;
    spk_table *in;
    const int *cols;   /* per column of the sort's input: the column of `in` it is (a projection read through) */
    int ncols;         /* of the sort's input */
    spk__morsel *morsels;
    uint8_t *load; /* per input column: read by a key */
    int nkeys;
    spk__sort_field keys[SPK__SORT_MAX_KEYS];
    spk__sort_worker *workers;
    int nwords;    /* words of the normalised key */
    int stride;    /* words per element: the key's and the row number's, or one holding both */
    int row_bits;  /* stride 1: the row number is the word's low row_bits bits */
    bool ties;     /* a string key: equal prefix words fall back to the strings */
    int16_t tie[SPK__SORT_MAX_WORDS]; /* per key word: the string key whose prefix it is, or -1 */
    uint64_t *src, *dst; /* elements: the runs, and where the next round goes */
    size_t rows;
    size_t *bounds; /* runs: run r is [bounds[r], bounds[r + 1]) */
    size_t nruns;
    size_t lo, hi;  /* the sorted rows that are output */
    spk_table **parts; /* per output range */
} spk__sort_run;

static int spk__sort_bit_width(uint64_t x) {
    int n = 0;
    for (; x; x >>= 1) n++;
    return n;
}

/* A double as an unsigned integer in spk_value_compare's order: -0.0 equals
 * 0.0, and NaN (every NaN) is above +Infinity. */
static uint64_t spk__sort_f64(double d) {
    if (isnan(d)) return UINT64_MAX;
    if (d == 0) d = 0.0;
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b & SPK__SORT_SIGN ? ~b : b | SPK__SORT_SIGN;
}

static uint64_t spk__sort_row(const spk__sort_run *r, const uint64_t *e) {
    return r->stride == 1 ? e[0] & (((uint64_t)1 << r->row_bits) - 1) : e[r->nwords];
}

/* Equal prefix words of string key k: the strings decide. */
static int spk__sort_tie(const spk__sort_run *r, int k, uint64_t a, uint64_t b) {
    const spk__sort_field *key = &r->keys[k];
    if (key->nulls[a] || key->nulls[b]) return 0; /* both NULL: a NULL and a string differ in the NULL bit */
    const spk__str *x = &key->s[a], *y = &key->s[b];
    size_t n = x->len < y->len ? x->len : y->len;
    int c = n ? memcmp(x->ptr, y->ptr, n) : 0;
    c = c ? (c < 0 ? -1 : 1) : (x->len > y->len) - (x->len < y->len);
    return key->desc ? -c : c;
}

/* The order of two elements; 0 only for the same row. */
static int spk__sort_cmp(const spk__sort_run *r, const uint64_t *a, const uint64_t *b) {
    if (!r->ties) {
        for (int w = 0; w < r->stride; w++)
            if (a[w] != b[w]) return a[w] < b[w] ? -1 : 1;
        return 0;
    }
    for (int w = 0; w < r->nwords; w++) {
        if (a[w] != b[w]) return a[w] < b[w] ? -1 : 1;
        if (r->tie[w] >= 0) {
            int c = spk__sort_tie(r, r->tie[w], a[r->nwords], b[r->nwords]);
            if (c) return c;
        }
    }
    return (a[r->nwords] > b[r->nwords]) - (a[r->nwords] < b[r->nwords]);
}

static void spk__sort_copy(uint64_t *to, const uint64_t *from, int stride) {
    for (int w = 0; w < stride; w++) to[w] = from[w];
}

static void spk__sort_swap(uint64_t *a, uint64_t *b, int stride) {
    for (int w = 0; w < stride; w++) {
        uint64_t t = a[w];
        a[w] = b[w];
        b[w] = t;
    }
}

/* Merges sorted src[lo, mid) and src[mid, hi) into dst[lo, hi) (in elements). */
static void spk__sort_merge(const spk__sort_run *r, const uint64_t *src, uint64_t *dst, size_t lo, size_t mid, size_t hi) {
    size_t i = lo, j = mid, k = lo, s = (size_t)r->stride;
    while (i < mid && j < hi) {
        const uint64_t *a = src + i * s, *b = src + j * s;
        bool first = spk__sort_cmp(r, a, b) < 0;
        spk__sort_copy(dst + k++ * s, first ? a : b, r->stride);
        i += first;
        j += !first;
    }
    if (i < mid) memcpy(dst + k * s, src + i * s, (mid - i) * s * sizeof *dst);
    else if (j < hi) memcpy(dst + k * s, src + j * s, (hi - j) * s * sizeof *dst);
}

static void spk__sort_insertion(const spk__sort_run *r, uint64_t *e, size_t n) {
    size_t s = (size_t)r->stride;
    uint64_t hold[SPK__SORT_MAX_WORDS + 1];
    for (size_t i = 1; i < n; i++) {
        size_t j = i;
        spk__sort_copy(hold, e + i * s, r->stride);
        for (; j > 0 && spk__sort_cmp(r, hold, e + (j - 1) * s) < 0; j--) spk__sort_copy(e + j * s, e + (j - 1) * s, r->stride);
        spk__sort_copy(e + j * s, hold, r->stride);
    }
}

/* Merge sort of e[0, n) using tmp[0, n): insertion-sorted blocks, then
 * rounds of merges between the two buffers. */
static void spk__sort_merge_sort(const spk__sort_run *r, uint64_t *e, uint64_t *tmp, size_t n) {
    const size_t block = 16, s = (size_t)r->stride;
    for (size_t lo = 0; lo < n; lo += block) spk__sort_insertion(r, e + lo * s, n - lo < block ? n - lo : block);
    uint64_t *from = e, *to = tmp;
    for (size_t width = block; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            spk__sort_merge(r, from, to, lo, mid, hi);
        }
        uint64_t *t = from;
        from = to;
        to = t;
    }
    if (from != e) memcpy(e, from, n * s * sizeof *e);
}

/* Least significant digit first radix sort of e[0, n), which is in row
 * order, by the normalised key (no string fallbacks): a byte a pass, and
 * passes whose byte is the same everywhere skipped. Stable, so equal keys
 * stay in row order. */
static spk_status spk__sort_radix(const spk__sort_run *r, uint64_t *e, uint64_t *tmp, size_t n) {
    size_t s = (size_t)r->stride, ndigits = (size_t)r->nwords * 8, csize = ndigits * 256 * sizeof(size_t);
    size_t *counts = (size_t *)spk__calloc(&spk__default_allocator, csize);
    if (!counts) return spk__nomem("a sort", csize);
    for (size_t i = 0; i < n; i++) /* digit d: byte d % 8 (from the least significant) of word nwords - 1 - d / 8 */
        for (size_t d = 0; d < ndigits; d++) counts[d * 256 + (uint8_t)(e[i * s + (size_t)r->nwords - 1 - d / 8] >> (8 * (d % 8)))]++;
    size_t first = r->stride == 1 ? (size_t)r->row_bits / 8 : 0; /* bytes holding only the row number need no pass */
    uint64_t *from = e, *to = tmp;
    for (size_t d = first; d < ndigits; d++) {
        size_t *c = counts + d * 256, w = (size_t)r->nwords - 1 - d / 8, shift = 8 * (d % 8);
        if (c[(uint8_t)(from[w] >> shift)] == n) continue;
        size_t at = 0;
        for (int b = 0; b < 256; b++) {
            size_t k = c[b];
            c[b] = at;
            at += k;
        }
        if (s == 1) {
            for (size_t i = 0; i < n; i++) to[c[(uint8_t)(from[i] >> shift)]++] = from[i];
        } else if (s == 2) {
            for (size_t i = 0; i < n; i++) {
                size_t at2 = c[(uint8_t)(from[2 * i + w] >> shift)]++ * 2;
                to[at2] = from[2 * i];
                to[at2 + 1] = from[2 * i + 1];
            }
        } else {
            for (size_t i = 0; i < n; i++) spk__sort_copy(to + c[(uint8_t)(from[i * s + w] >> shift)]++ * s, from + i * s, r->stride);
        }
        uint64_t *t = from;
        from = to;
        to = t;
    }
    if (from != e) memcpy(e, from, n * s * sizeof *e);
    spk__free(&spk__default_allocator, counts, csize);
    return SPK_OK;
}

static spk_status spk__sort_elements(const spk__sort_run *r, uint64_t *e, uint64_t *tmp, size_t n) {
    if (r->ties || n < 512) {
        spk__sort_merge_sort(r, e, tmp, n);
        return SPK_OK;
    }
    return spk__sort_radix(r, e, tmp, n);
}

/* Rearranges e[0, n) so that the element of rank k is at k, those before it
 * smaller and those after it larger (introselect: quickselect with a median
 * of three pivot, and a sort of what is left if it keeps choosing badly). */
static void spk__sort_select(const spk__sort_run *r, uint64_t *e, uint64_t *tmp, size_t n, size_t k) {
    size_t lo = 0, hi = n, s = (size_t)r->stride;
    int budget = 2 * spk__sort_bit_width(n) + 8;
    while (hi - lo > 16) {
        if (budget-- == 0) {
            spk__sort_merge_sort(r, e + lo * s, tmp, hi - lo);
            return;
        }
        size_t mid = lo + (hi - lo) / 2, last = hi - 1;
        uint64_t *a = e + lo * s, *b = e + mid * s, *c = e + last * s; /* the median of a, b, c to the end */
        if (spk__sort_cmp(r, a, b) > 0) spk__sort_swap(a, b, r->stride);
        if (spk__sort_cmp(r, b, c) > 0) {
            spk__sort_swap(b, c, r->stride);
            if (spk__sort_cmp(r, a, b) > 0) spk__sort_swap(a, b, r->stride);
        }
        spk__sort_swap(b, c, r->stride); /* the pivot at last */
        size_t i = lo;
        for (size_t j = lo; j < last; j++)
            if (spk__sort_cmp(r, e + j * s, c) < 0) {
                if (i != j) spk__sort_swap(e + i * s, e + j * s, r->stride);
                i++;
            }
        spk__sort_swap(e + i * s, c, r->stride);
        if (k == i) return;
        if (k < i) hi = i;
        else lo = i + 1;
    }
    spk__sort_insertion(r, e + lo * s, hi - lo);
}

/* Sorts the elements of ranks [lo, hi) of e[0, n) into e[lo, hi); tmp has
 * room for n. Radix selection first: a histogram of the key's leading 16
 * bits finds the buckets holding the window, whose elements alone go on,
 * and while they all share a bucket, the next 16 bits do the same; then
 * quickselect and a sort of the window among what is left. */
static spk_status spk__sort_window(const spk__sort_run *r, uint64_t *e, uint64_t *tmp, size_t n, size_t lo, size_t hi) {
    size_t s = (size_t)r->stride, csize = 65536 * sizeof(size_t);
    size_t *counts = (size_t *)spk__alloc(&spk__default_allocator, csize);
    if (!counts) return spk__nomem("a sort", csize);
    uint64_t *cur = e, *other = tmp;
    size_t m = n, a = lo, b = hi; /* the window is cur[a, b) of cur[0, m) once sorted */
    for (int shift = 48; shift >= 0 && m > 256; shift -= 16) {
        memset(counts, 0, csize);
        for (size_t i = 0; i < m; i++) counts[(cur[i * s] >> shift) & 0xffff]++;
        size_t before = 0, first = 0;
        while (before + counts[first] <= a) before += counts[first++];
        size_t last = first, upto = before + counts[first];
        while (upto < b) upto += counts[++last];
        if (upto - before > m / 2 && first != last) break; /* a wide window: the buckets do not narrow it */
        if (upto - before == m) continue; /* all in one bucket: the next bits may tell them apart */
        size_t k = 0;
        for (size_t i = 0; i < m; i++) {
            size_t d = (cur[i * s] >> shift) & 0xffff;
            if (d >= first && d <= last) spk__sort_copy(other + k++ * s, cur + i * s, r->stride);
        }
        uint64_t *t = cur;
        cur = other;
        other = t;
        m = k;
        a -= before;
        b -= before;
        if (first != last) break; /* the next bits order the buckets' elements only within each */
    }
    spk__free(&spk__default_allocator, counts, csize);
    if (a > 0) spk__sort_select(r, cur, other, m, a);
    if (b < m) spk__sort_select(r, cur + a * s, other, m - a, b - a - 1);
    spk_status st = spk__sort_elements(r, cur + a * s, other, b - a);
    if (cur + a * s != e + lo * s) memmove(e + lo * s, cur + a * s, (b - a) * s * sizeof *e);
    return st;
}

static spk_status spk__sort_worker_init(spk__sort_run *r, spk__sort_worker *w) {
    const spk_df *node = r->node;
    spk_status st = SPK_OK;
    w->strings.alloc = &spk__default_allocator;
    for (; w->made < r->nkeys && st == SPK_OK; w->made++) st = spk__runner_init(&w->runners[w->made], node->bound[w->made]->root, node->bound[w->made]->nslots);
    if (st == SPK_OK) st = spk__vecset_init(&w->vs, spk_table_schema(r->in));
    size_t isize = (size_t)(r->ncols ? r->ncols : 1) * sizeof *w->inputs;
    if (st == SPK_OK && !(w->inputs = (spk__vec **)spk__alloc(&spk__default_allocator, isize))) st = spk__nomem("a sort", isize);
    if (st != SPK_OK) return st;
    for (int c = 0; c < r->ncols; c++) w->inputs[c] = &w->vs.vecs[r->cols ? r->cols[c] : c];
    for (int k = 0; k < r->nkeys; k++) w->stats[k] = (spk__sort_stats){false, false, UINT64_MAX, 0};
    return SPK_OK;
}

/* Loads the columns the keys read for rows [start, start + n) of a morsel's chunk. */
static void spk__sort_load(const spk__sort_run *r, spk__sort_worker *w, const spk__morsel *mo, uint32_t at, uint32_t n) {
    for (int col = 0; col < r->in->ncols; col++)
        if (r->load[col]) spk__load_column(r->in, mo->chunk, mo->start + at, n, col, &w->vs.vecs[col]);
}

/* Evaluates key k over the loaded batch: a text key's strings (copied into
 * the worker's arena) into s, other keys as unsigned integers in the same
 * order into u; NULLs flagged in nulls (their u is 0). */
static spk_status spk__sort_key_batch(const spk__sort_run *r, spk__sort_worker *w, int k, uint32_t n, uint64_t *u,
                                      spk__str *s, uint8_t *nulls) {
    spk__runner *rn = &w->runners[k];
    spk__arena_reset(&rn->ev.arena);
    spk__runner_bind_inputs(rn, r->node->bound[k], w->inputs);
    spk__eval_node(rn, rn->root, NULL, n);
    if (rn->ev.status != SPK_OK) return rn->ev.status;
    const spk__vec *v = &rn->ev.vecs[rn->root->slot];
    spk_type_id type = (spk_type_id)v->type.id;
    for (uint32_t i = 0; i < n; i++) nulls[i] = v->nulls[i] || type == SPK_TYPE_NULL || type == SPK_TYPE_COUNT;
    if (s) {
        for (uint32_t i = 0; i < n; i++) {
            spk__str x = nulls[i] ? (spk__str){NULL, 0} : v->v.str[i];
            if (x.len) { /* keep the bytes past this batch */
                char *copy = spk__arena_alloc(&w->strings, x.len);
                if (!copy) return spk__nomem("sort keys", x.len);
                memcpy(copy, x.ptr, x.len);
                x.ptr = copy;
            }
            s[i] = x;
        }
        return SPK_OK;
    }
    switch (type) {
    case SPK_TYPE_BOOLEAN:
        for (uint32_t i = 0; i < n; i++) u[i] = v->v.b[i] != 0;
        break;
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE:
        for (uint32_t i = 0; i < n; i++) u[i] = (uint64_t)(int64_t)v->v.i32[i] ^ SPK__SORT_SIGN;
        break;
    case SPK_TYPE_DOUBLE:
        for (uint32_t i = 0; i < n; i++) u[i] = spk__sort_f64(v->v.f64[i]);
        break;
    case SPK_TYPE_NULL:
    case SPK_TYPE_COUNT:
    case SPK_TYPE_STRING: /* not reached: text keys */
        memset(u, 0, n * sizeof *u);
        break;
    default:
        for (uint32_t i = 0; i < n; i++) u[i] = (uint64_t)v->v.i64[i] ^ SPK__SORT_SIGN;
        break;
    }
    for (uint32_t i = 0; i < n; i++) u[i] = nulls[i] ? 0 : u[i];
    return SPK_OK;
}

/* The first pass: each key's range (and whether it has NULLs and values);
 * text keys, and keys that are not a column, are kept per row. */
static spk_status spk__sort_keys_task(void *ctx, int worker, size_t m) {
    spk__sort_run *r = (spk__sort_run *)ctx;
    spk__sort_worker *w = &r->workers[worker];
    spk_status st = SPK_OK;
    if (!w->vs.block && (st = spk__sort_worker_init(r, w)) != SPK_OK) return st;
    const spk__morsel *mo = &r->morsels[m];
    for (uint32_t at = 0; st == SPK_OK && at < mo->n; at += SPK__BATCH) {
        uint32_t n = mo->n - at < SPK__BATCH ? mo->n - at : SPK__BATCH;
        size_t row = mo->chunk->first_row + mo->start + at;
        spk__sort_load(r, w, mo, at, n);
        for (int k = 0; k < r->nkeys && st == SPK_OK; k++) {
            spk__sort_field *key = &r->keys[k];
            spk__sort_stats *ks = &w->stats[k];
            uint8_t *nulls = key->reread ? w->nulls : key->nulls + row;
            uint64_t *u = key->text ? NULL : key->reread ? w->u : key->u + row;
            if ((st = spk__sort_key_batch(r, w, k, n, u, key->text ? key->s + row : NULL, nulls)) != SPK_OK) break;
            bool any_null = false, any_value = false;
            if (key->text) {
                for (uint32_t i = 0; i < n; i++) any_null |= nulls[i] != 0, any_value |= !nulls[i];
            } else {
                uint64_t lo = ks->lo, hi = ks->hi;
                for (uint32_t i = 0; i < n; i++) {
                    if (nulls[i]) {
                        any_null = true;
                        continue;
                    }
                    any_value = true;
                    lo = u[i] < lo ? u[i] : lo;
                    hi = u[i] > hi ? u[i] : hi;
                }
                ks->lo = lo;
                ks->hi = hi;
            }
            ks->any_null = ks->any_null || any_null;
            ks->any_value = ks->any_value || any_value;
        }
    }
    return st;
}

/* The fields of the normalised key, from the values' ranges. */
static void spk__sort_layout(spk__sort_run *r, int nworkers) {
    int at = 0;
    for (int w = 0; w < SPK__SORT_MAX_WORDS; w++) r->tie[w] = -1;
    for (int k = 0; k < r->nkeys; k++) {
        spk__sort_field *key = &r->keys[k];
        key->lo = UINT64_MAX;
        key->hi = 0;
        for (int w = 0; w < nworkers; w++) {
            const spk__sort_stats *ks = &r->workers[w].stats[k];
            if (!r->workers[w].vs.block) continue; /* ran no morsel */
            key->any_null = key->any_null || ks->any_null;
            key->any_value = key->any_value || ks->any_value;
            key->lo = ks->lo < key->lo ? ks->lo : key->lo;
            key->hi = ks->hi > key->hi ? ks->hi : key->hi;
        }
        bool both = key->any_null && key->any_value;
        uint64_t range = key->any_value ? key->hi - key->lo : 0;
        key->null_at = -1;
        key->value_bits = 0;
        key->null_code = false;
        if (!key->any_value) continue; /* NULL everywhere, or no rows: nothing to compare */
        if (key->text) {
            if (both) key->null_at = at++;
            at = (at + 63) / 64 * 64;
            key->value_at = at;
            key->value_bits = 64;
            r->tie[at / 64] = (int16_t)k;
            r->ties = true;
            at += 64;
        } else if (!both) {
            key->value_at = at;
            key->value_bits = spk__sort_bit_width(range);
            at += key->value_bits;
        } else if (range < UINT64_MAX) {
            key->null_code = true;
            key->value_at = at;
            key->value_bits = spk__sort_bit_width(range + 1);
            at += key->value_bits;
        } else {
            key->null_at = at++;
            key->value_at = at;
            key->value_bits = 64;
            at += 64;
        }
    }
    r->nwords = (at + 63) / 64;
    r->row_bits = spk__sort_bit_width(r->rows ? r->rows - 1 : 0);
    if (!r->ties && at + r->row_bits <= 64) {
        r->stride = 1;
        r->nwords = 1;
    } else {
        r->stride = r->nwords + 1;
    }
}

/* ORs codes[i] (`bits` bits) into the key of element i, at bit `at` (bit 0
 * is the first word's most significant). */
static void spk__sort_put(uint64_t *e, size_t stride, uint32_t n, int at, int bits, const uint64_t *codes) {
    int word = at / 64, room = 64 - at % 64;
    uint64_t *w = e + word;
    if (bits <= room) {
        int shift = room - bits;
        for (uint32_t i = 0; i < n; i++) w[i * stride] |= codes[i] << shift;
    } else {
        int spill = bits - room;
        for (uint32_t i = 0; i < n; i++) {
            w[i * stride] |= codes[i] >> spill;
            w[i * stride + 1] |= codes[i] << (64 - spill);
        }
    }
}

/* The elements of morsel m's rows, a batch at a time and a key at a time;
 * the second pass, which reads the reread keys' columns again. */
static spk_status spk__sort_encode_task(void *ctx, int worker, size_t m) {
    spk__sort_run *r = (spk__sort_run *)ctx;
    spk__sort_worker *w = &r->workers[worker];
    const spk__morsel *mo = &r->morsels[m];
    size_t s = (size_t)r->stride;
    uint64_t codes[SPK__BATCH];
    bool reread = false;
    for (int k = 0; k < r->nkeys; k++) reread = reread || (r->keys[k].reread && r->keys[k].value_bits);
    spk_status st = SPK_OK;
    if (reread && !w->vs.block && (st = spk__sort_worker_init(r, w)) != SPK_OK) return st;
    for (uint32_t at = 0; at < mo->n && st == SPK_OK; at += SPK__BATCH) {
        uint32_t n = mo->n - at < SPK__BATCH ? mo->n - at : SPK__BATCH;
        size_t first = mo->chunk->first_row + mo->start + at;
        uint64_t *e = r->src + first * s;
        memset(e, 0, (size_t)n * s * sizeof *e);
        if (reread) spk__sort_load(r, w, mo, at, n);
        for (int k = 0; k < r->nkeys && st == SPK_OK; k++) {
            const spk__sort_field *key = &r->keys[k];
            if (!key->value_bits) continue;
            if (key->reread && (st = spk__sort_key_batch(r, w, k, n, w->u, NULL, w->nulls)) != SPK_OK) break;
            const uint8_t *nulls = key->reread ? w->nulls : key->nulls + first;
            if (key->null_at >= 0) { /* NULLS FIRST: 0 for NULL, 1 for a value; NULLS LAST the other way round */
                for (uint32_t i = 0; i < n; i++) codes[i] = (uint64_t)(nulls[i] != 0) ^ key->nulls_first;
                spk__sort_put(e, s, n, key->null_at, 1, codes);
            }
            if (key->text) {
                const spk__str *x = key->s + first;
                for (uint32_t i = 0; i < n; i++) {
                    uint64_t v = 0;
                    for (size_t b = 0; b < 8; b++) v = v << 8 | (b < x[i].len ? (uint8_t)x[i].ptr[b] : 0);
                    codes[i] = nulls[i] ? 0 : key->desc ? ~v : v;
                }
            } else {
                const uint64_t *u = key->reread ? w->u : key->u + first;
                uint64_t lo = key->lo, hi = key->hi, plus = key->null_code && key->nulls_first;
                if (key->desc)
                    for (uint32_t i = 0; i < n; i++) codes[i] = hi - u[i] + plus;
                else
                    for (uint32_t i = 0; i < n; i++) codes[i] = u[i] - lo + plus;
                if (key->any_null) {
                    uint64_t null_value = key->null_code && !key->nulls_first ? hi - lo + 1 : 0;
                    for (uint32_t i = 0; i < n; i++) codes[i] = nulls[i] ? null_value : codes[i];
                }
            }
            spk__sort_put(e, s, n, key->value_at, key->value_bits, codes);
        }
        for (uint32_t i = 0; i < n; i++) {
            if (s == 1) e[i] |= first + i;
            else e[i * s + (size_t)r->nwords] = first + i;
        }
    }
    return st;
}

static spk_status spk__sort_run_task(void *ctx, int worker, size_t run) {
    spk__sort_run *r = (spk__sort_run *)ctx;
    (void)worker;
    size_t lo = r->bounds[run], hi = r->bounds[run + 1], s = (size_t)r->stride;
    return spk__sort_elements(r, r->src + lo * s, r->dst + lo * s, hi - lo);
}

/* Merges runs 2j and 2j + 1 of src into dst (a last odd run is copied). */
static spk_status spk__sort_merge_task(void *ctx, int worker, size_t j) {
    spk__sort_run *r = (spk__sort_run *)ctx;
    (void)worker;
    size_t lo = r->bounds[2 * j], mid = r->bounds[2 * j + 1], hi = 2 * j + 2 <= r->nruns ? r->bounds[2 * j + 2] : mid;
    spk__sort_merge(r, r->src, r->dst, lo, mid, hi);
    return SPK_OK;
}

/* Copies the rows of output range i, in sorted order, into a piece of its
 * own: rows that follow each other in one chunk in a single append. */
static spk_status spk__sort_copy_task(void *ctx, int worker, size_t i) {
    spk__sort_run *r = (spk__sort_run *)ctx;
    spk_table *in = r->in;
    (void)worker;
    uint32_t lo, hi;
    spk__range(r->hi - r->lo, i, &lo, &hi);
    spk_status st = spk_table_new(in->alloc, spk_table_schema(in), &r->parts[i]);
    for (size_t k = r->lo + lo; k < r->lo + hi && st == SPK_OK;) {
        size_t row = spk__sort_row(r, r->src + k * (size_t)r->stride), a = 0, b = in->nchunks; /* the last chunk whose first row <= row */
        while (b - a > 1) {
            size_t mid = a + (b - a) / 2;
            if (in->chunks[mid]->first_row <= row) a = mid;
            else b = mid;
        }
        const spk__chunk *c = in->chunks[a];
        uint32_t n = 1;
        while (k + n < r->lo + hi && row + n < c->first_row + c->nrows &&
               spk__sort_row(r, r->src + (k + n) * (size_t)r->stride) == row + n)
            n++;
        st = spk__table_append_slots(r->parts[i], in, c, (uint32_t)(row - c->first_row), NULL, n);
        k += n;
    }
    return st;
}

/* Output range i when the sort reads through a projection: each row's
 * columns gathered from `in`, a batch at a time. */
static spk_status spk__sort_gather_task(void *ctx, int worker, size_t i) {
    spk__sort_run *r = (spk__sort_run *)ctx;
    spk_table *in = r->in;
    (void)worker;
    uint32_t lo, hi;
    spk__range(r->hi - r->lo, i, &lo, &hi);
    spk__vecset batch;
    spk_status st = spk_table_new(in->alloc, r->node->schema, &r->parts[i]);
    if (st == SPK_OK) st = spk__vecset_init(&batch, r->node->schema);
    if (st != SPK_OK) return st;
    uint32_t n = 0;
    for (size_t k = r->lo + lo; k < r->lo + hi && st == SPK_OK; k++) {
        size_t row = spk__sort_row(r, r->src + k * (size_t)r->stride), a = 0, b = in->nchunks;
        while (b - a > 1) {
            size_t mid = a + (b - a) / 2;
            if (in->chunks[mid]->first_row <= row) a = mid;
            else b = mid;
        }
        for (int c = 0; c < r->ncols; c++) { /* the value lands at position n of the batch's vector */
            spk__vec at = batch.vecs[c];
            at.v.any = (char *)at.v.any + n * spk__phys_size((spk_type_id)at.type.id);
            at.nulls += n;
            spk__load_column(in, in->chunks[a], (uint32_t)(row - in->chunks[a]->first_row), 1, r->cols[c], &at);
        }
        if (++n == SPK__BATCH || k + 1 == r->lo + hi) {
            st = spk__table_append_vecs(r->parts[i], batch.ptrs, NULL, n);
            n = 0;
        }
    }
    spk__vecset_free(&batch);
    return st;
}

static void spk__sort_free(spk__sort_run *r, int nworkers, size_t nmorsels, size_t nranges) {
    const spk_allocator *a = &spk__default_allocator;
    size_t rows = r->rows ? r->rows : 1;
    if (r->parts) {
        for (size_t i = 0; i < nranges; i++) spk_table_free(r->parts[i]);
        spk__free(a, r->parts, (nranges ? nranges : 1) * sizeof *r->parts);
    }
    for (int w = 0; r->workers && w < nworkers; w++) {
        for (int k = 0; k < r->workers[w].made; k++) spk__runner_free(&r->workers[w].runners[k]);
        spk__vecset_free(&r->workers[w].vs);
        spk__arena_free(&r->workers[w].strings);
        if (r->workers[w].inputs) spk__free(a, r->workers[w].inputs, (size_t)(r->ncols ? r->ncols : 1) * sizeof *r->workers[w].inputs);
    }
    if (r->workers) spk__free(a, r->workers, (size_t)nworkers * sizeof *r->workers);
    for (int k = 0; k < r->nkeys; k++) {
        spk__sort_field *key = &r->keys[k];
        if (key->u) spk__free(a, key->u, rows * sizeof *key->u);
        if (key->s) spk__free(a, key->s, rows * sizeof *key->s);
        if (key->nulls) spk__free(a, key->nulls, rows);
    }
    if (r->bounds) spk__free(a, r->bounds, ((size_t)nworkers + 1) * sizeof *r->bounds);
    if (r->src) spk__free(a, r->src < r->dst ? r->src : r->dst, 2 * rows * (size_t)r->stride * sizeof *r->src);
    if (r->morsels) spk__free(a, r->morsels, (nmorsels ? nmorsels : 1) * sizeof *r->morsels);
    if (r->load) spk__free(a, r->load, (size_t)(r->in->ncols ? r->in->ncols : 1));
}

#define SPK__SORT_GATHER_COLS 64

/* Whether the sort reads through its input, a projection of columns, and
 * gathers the few rows the limit above it keeps. */
static bool spk__sort_gathers(const spk_df *node, const spk_df *limit) {
    const spk_df *p = node->child;
    if (!limit || limit->limit < 0 || limit->limit > SPK__SORT_GATHER_MAX || p->kind != SPK__P_PROJECT ||
        p->nexprs > SPK__SORT_GATHER_COLS)
        return false;
    for (int c = 0; c < p->nexprs; c++)
        if (p->bound[c]->root->kind != SPK__B_COL) return false;
    return true;
}

/* Sorts node's input into out; `limit`, if not NULL, is a limit right above
 * the sort, whose rows alone are output. */
static spk_status spk__run_sort(const spk_df *node, const spk_df *limit, spk_table *out) {
    const spk_allocator *a = &spk__default_allocator;
    spk__sort_run r;
    memset(&r, 0, sizeof r);
    r.node = node;
    r.nkeys = node->nexprs;
    bool owned = false;
    size_t nmorsels = 0, nranges = 0;
    int nworkers = 1, cols[SPK__SORT_GATHER_COLS];
    const spk_df *input = node->child;
    r.ncols = spk_schema_ncols(input->schema);
    if (spk__sort_gathers(node, limit)) { /* read the projection's input; its columns are gathered at the end */
        for (int c = 0; c < r.ncols; c++) cols[c] = input->bound[c]->root->col;
        r.cols = cols;
        input = input->child;
    }
    spk_status st = spk__materialize(input, &r.in, &owned);
    if (st != SPK_OK) return st;
    r.rows = spk_table_nrows(r.in);
    if (r.rows >= UINT32_MAX || r.nkeys > SPK__SORT_MAX_KEYS)
        st = spk__fail(SPK_ERR_LIMIT, "sort: more than 4 billion rows or %d keys", SPK__SORT_MAX_KEYS);
    r.lo = r.hi = 0;
    if (st == SPK_OK) { /* the window of sorted rows to output */
        size_t off = limit && limit->offset > 0 ? (size_t)limit->offset : 0;
        r.lo = off < r.rows ? off : r.rows;
        r.hi = limit && limit->limit >= 0 && (uint64_t)limit->limit < r.rows - r.lo ? r.lo + (size_t)limit->limit : r.rows;
    }
    if (st != SPK_OK || r.lo == r.hi) {
        if (owned) spk_table_free(r.in);
        return st;
    }
    size_t rows = r.rows;
    for (int k = 0; k < r.nkeys; k++) {
        spk__sort_field *key = &r.keys[k];
        key->desc = node->exprs[k]->descending;
        key->nulls_first = node->exprs[k]->nulls_first;
        key->text = node->bound[k]->root->type.id == SPK_TYPE_STRING;
        key->reread = !key->text && node->bound[k]->root->kind == SPK__B_COL; /* the same values when read again */
        if (key->reread) continue;
        key->nulls = (uint8_t *)spk__alloc(a, rows);
        if (key->text) key->s = (spk__str *)spk__alloc(a, rows * sizeof *key->s);
        else key->u = (uint64_t *)spk__alloc(a, rows * sizeof *key->u);
        if (!key->nulls || (!key->s && !key->u)) st = spk__nomem("sort keys", rows * (1 + sizeof *key->s));
    }
    if (st == SPK_OK && !(r.load = (uint8_t *)spk__calloc(a, (size_t)(r.in->ncols ? r.in->ncols : 1))))
        st = spk__nomem("a sort", (size_t)r.in->ncols);
    for (int k = 0; k < r.nkeys && st == SPK_OK; k++)
        for (int c = 0; c < r.ncols; c++)
            if (node->bound[k]->col_slot[c] >= 0) r.load[r.cols ? r.cols[c] : c] = 1;
    if (st == SPK_OK) st = spk__morsels_of(r.in, &r.morsels, &nmorsels);
    if (st == SPK_OK) {
        nworkers = spk__par_workers(node->session, nmorsels);
        r.workers = (spk__sort_worker *)spk__calloc(a, (size_t)nworkers * sizeof *r.workers);
        r.bounds = r.workers ? (size_t *)spk__alloc(a, ((size_t)nworkers + 1) * sizeof *r.bounds) : NULL;
        if (!r.bounds) st = spk__nomem("a sort", (size_t)nworkers * sizeof *r.workers);
    }
    if (st == SPK_OK) st = spk__par_run(node->session, nworkers, nmorsels, spk__sort_keys_task, &r);
    if (st == SPK_OK) {
        spk__sort_layout(&r, nworkers);
        size_t esize = 2 * rows * (size_t)r.stride * sizeof *r.src;
        if (!(r.src = (uint64_t *)spk__alloc(a, esize))) st = spk__nomem("a sort", esize);
        else r.dst = r.src + rows * (size_t)r.stride;
    }
    if (st == SPK_OK) st = spk__par_run(node->session, nworkers, nmorsels, spk__sort_encode_task, &r);
    for (int k = 0; k < r.nkeys; k++) { /* only the strings are read again */
        spk__sort_field *key = &r.keys[k];
        if (key->u) spk__free(a, key->u, rows * sizeof *key->u);
        key->u = NULL;
        if (!key->text && key->nulls) spk__free(a, key->nulls, rows);
        if (!key->text) key->nulls = NULL;
    }
    if (st == SPK_OK && r.hi - r.lo <= rows / 4) { /* a small window: select its rows, sort only them */
        st = spk__sort_window(&r, r.src, r.dst, rows, r.lo, r.hi);
    } else if (st == SPK_OK) { /* one run per worker, then rounds of pairwise merges */
        r.nruns = (size_t)nworkers;
        for (size_t i = 0; i <= r.nruns; i++) r.bounds[i] = rows * i / r.nruns;
        st = spk__par_run(node->session, nworkers, r.nruns, spk__sort_run_task, &r);
        while (st == SPK_OK && r.nruns > 1) {
            size_t pairs = (r.nruns + 1) / 2;
            st = spk__par_run(node->session, spk__par_workers(node->session, pairs), pairs, spk__sort_merge_task, &r);
            for (size_t j = 0; j < pairs; j++) r.bounds[j] = r.bounds[2 * j];
            r.bounds[pairs] = rows;
            r.nruns = pairs;
            uint64_t *t = r.src;
            r.src = r.dst;
            r.dst = t;
        }
    }
    if (st == SPK_OK) {
        nranges = spk__ranges(r.hi - r.lo);
        if (!(r.parts = (spk_table **)spk__calloc(a, (nranges ? nranges : 1) * sizeof *r.parts))) st = spk__nomem("a sort", nranges * sizeof *r.parts);
    }
    if (st == SPK_OK)
        st = spk__par_run(node->session, spk__par_workers(node->session, nranges), nranges, r.cols ? spk__sort_gather_task : spk__sort_copy_task, &r);
    for (size_t i = 0; r.parts && i < nranges && st == SPK_OK; i++)
        if (r.parts[i]) st = spk__table_adopt(out, r.parts[i]);
    spk__sort_free(&r, nworkers, nmorsels, nranges);
    if (owned) spk_table_free(r.in);
    return st;
}

/* ---------------------------------------------------------------- whole inputs as columns
 * Joins, set operations and dropDuplicates read their inputs whole, each
 * column as one array (strings as views into the table, which they keep
 * alive), so that any row can be gathered into a batch by its index. */

#define SPK__NO_ROW UINT32_MAX /* gathers as NULLs: the missing side of an outer join */

typedef struct spk__columns {
    spk_table *table;
    bool owned;
    uint32_t nrows;
    int ncols;
    spk__vec *cols;
    void *block;
    size_t size;
} spk__columns;

static void spk__columns_free(spk__columns *c) {
    if (c->block) spk__free(&spk__default_allocator, c->block, c->size);
    if (c->owned) spk_table_free(c->table);
    memset(c, 0, sizeof *c);
}

/* Chunk `ci` of the table into its rows of the arrays. */
static spk_status spk__columns_load_task(void *ctx, int worker, size_t ci) {
    spk__columns *c = (spk__columns *)ctx;
    const spk__chunk *ch = c->table->chunks[ci];
    (void)worker;
    for (int i = 0; i < c->ncols; i++) {
        spk__vec part = c->cols[i];
        part.v.any = (char *)part.v.any + ch->first_row * spk__phys_size((spk_type_id)part.type.id);
        part.nulls += ch->first_row;
        spk__load_column(c->table, ch, 0, ch->nrows, i, &part);
    }
    return SPK_OK;
}

/* Lays the columns of t out as arrays, a chunk per task; takes t over if
 * `owned` (also on failure). */
static spk_status spk__columns_load(spk_session *s, spk__columns *c, spk_table *t, bool owned) {
    memset(c, 0, sizeof *c);
    c->table = t;
    c->owned = owned;
    size_t rows = spk_table_nrows(t);
    if (rows >= SPK__NO_ROW) return spk__fail(SPK_ERR_LIMIT, "an input of a join or set operation has more than %u rows", SPK__NO_ROW - 1);
    c->nrows = (uint32_t)rows;
    c->ncols = t->ncols;
    size_t size = (size_t)c->ncols * sizeof(spk__vec) + 16;
    for (int i = 0; i < c->ncols; i++)
        size += 16 + rows * (1 + spk__phys_size((spk_type_id)spk_schema_field(t->schema, i)->type.id));
    if (!(c->block = spk__alloc(&spk__default_allocator, size))) return spk__nomem("a join or set operation input", size);
    c->size = size;
    char *at = (char *)c->block;
    c->cols = (spk__vec *)(void *)at;
    at += (size_t)c->ncols * sizeof(spk__vec);
    for (int i = 0; i < c->ncols; i++) {
        spk__vec *v = &c->cols[i];
        v->type = spk_schema_field(t->schema, i)->type;
        at = (char *)(((uintptr_t)at + 15) & ~(uintptr_t)15);
        v->v.any = at;
        at += rows * spk__phys_size((spk_type_id)v->type.id);
        v->nulls = (uint8_t *)at;
        at += rows;
    }
    return spk__par_run(s, spk__par_workers(s, t->nchunks), t->nchunks, spk__columns_load_task, c);
}

/* out[k] = in[idx[k]] for k < n; SPK__NO_ROW gives NULL. */
#define SPK__GATHER(T, field)                                                  \
    do {                                                                       \
        const T *from_ = in->v.field;                                          \
        T *to_ = out->v.field;                                                 \
        for (uint32_t k = 0; k < n; k++) {                                     \
            uint32_t r = idx[k];                                               \
            if (r == SPK__NO_ROW) {                                            \
                memset(&to_[k], 0, sizeof to_[k]);                             \
                out->nulls[k] = 1;                                             \
            } else {                                                           \
                to_[k] = from_[r];                                             \
                out->nulls[k] = in->nulls[r];                                  \
            }                                                                  \
        }                                                                      \
    } while (0)

static void spk__gather(spk__vec *out, const spk__vec *in, const uint32_t *idx, uint32_t n) {
    switch ((spk_type_id)in->type.id) {
    case SPK_TYPE_BOOLEAN:
    case SPK_TYPE_NULL:
    case SPK_TYPE_COUNT: SPK__GATHER(uint8_t, b); break;
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE: SPK__GATHER(int32_t, i32); break;
    case SPK_TYPE_STRING: SPK__GATHER(spk__str, str); break;
    default: SPK__GATHER(int64_t, i64); break;
    }
}

/* Rows of `src` appended to `out` by index, a batch at a time. */
typedef struct spk__emitter {
    spk_table *out;
    const spk__columns *src;
    spk__vecset batch;
    uint32_t idx[SPK__BATCH];
    uint32_t n;
} spk__emitter;

static spk_status spk__emitter_init(spk__emitter *e, spk_table *out, const spk__columns *src) {
    e->out = out;
    e->src = src;
    e->n = 0;
    return spk__vecset_init(&e->batch, spk_table_schema(src->table));
}

static spk_status spk__emit_flush(spk__emitter *e) {
    uint32_t n = e->n;
    e->n = 0;
    if (!n) return SPK_OK;
    for (int c = 0; c < e->src->ncols; c++) spk__gather(&e->batch.vecs[c], &e->src->cols[c], e->idx, n);
    return spk__table_append_vecs(e->out, e->batch.ptrs, NULL, n);
}

static spk_status spk__emit(spk__emitter *e, uint32_t row) {
    e->idx[e->n++] = row;
    return e->n == SPK__BATCH ? spk__emit_flush(e) : SPK_OK;
}

/* ---------------------------------------------------------------- distinct rows
 * Rows compared on some of their columns: NULL equals NULL, NaN equals NaN
 * (spk_value_equal), as Spark's grouping and set operations. */

static uint64_t spk__row_hash(const spk__columns *c, const int *keys, int nkeys, uint32_t row) {
    uint64_t h = 0x9e3779b97f4a7c15ULL;
    for (int k = 0; k < nkeys; k++) {
        spk_value v = spk__vec_get(&c->cols[keys[k]], row);
        h = spk_hash_u64(h ^ spk_value_hash(&v, (uint64_t)k));
    }
    return h;
}

static bool spk__rows_equal(const spk__columns *a, uint32_t ra, const spk__columns *b, uint32_t rb, const int *keys, int nkeys) {
    for (int k = 0; k < nkeys; k++) {
        spk_value x = spk__vec_get(&a->cols[keys[k]], ra), y = spk__vec_get(&b->cols[keys[k]], rb);
        if (!spk_value_equal(&x, &y)) return false;
    }
    return true;
}

/* The distinct keys of the rows of `in`, a group named by its first row.
 * Rows are split by hash into partitions, each with an open-addressing
 * table of its own (sized for every row of it being distinct, so it never
 * grows) that one task fills taking its rows in order: each row's group is
 * the same whatever the number of partitions. */
typedef struct spk__groups {
    const spk__columns *in;
    const int *keys;
    int nkeys;
    int npartitions;
    uint64_t *hash;   /* per row */
    uint32_t *rep;    /* per row: the first row with its key */
    uint32_t *slots;  /* all partitions' tables: first row + 1, 0 = empty */
    size_t *base;     /* per partition: its table's first slot; its size is a power of two */
    size_t *tsize;
    void *block;      /* hash, base, tsize, rep */
    size_t size;
    size_t nslots;    /* slots: a block of its own, sized once the partitions are counted */
} spk__groups;

static int spk__partition_of(uint64_t h, int npartitions) { return (int)((h >> 40) & (uint64_t)(npartitions - 1)); }

static void spk__groups_free(spk__groups *g) {
    if (g->block) spk__free(&spk__default_allocator, g->block, g->size);
    if (g->slots) spk__free(&spk__default_allocator, g->slots, g->nslots * sizeof *g->slots);
    g->block = NULL;
    g->slots = NULL;
}

/* The first row of the group of row `row` of c (hash h), or SPK__NO_ROW;
 * *slot is where it is or would go. */
static uint32_t spk__groups_find(const spk__groups *g, const spk__columns *c, uint32_t row, uint64_t h, size_t *slot) {
    int p = spk__partition_of(h, g->npartitions);
    size_t mask = g->tsize[p] - 1, at = h & mask;
    const uint32_t *t = g->slots + g->base[p];
    while (t[at]) {
        uint32_t k = t[at] - 1;
        if (g->hash[k] == h && spk__rows_equal(g->in, k, c, row, g->keys, g->nkeys)) {
            *slot = g->base[p] + at;
            return k;
        }
        at = (at + 1) & mask;
    }
    *slot = g->base[p] + at;
    return SPK__NO_ROW;
}

static spk_status spk__groups_hash_task(void *ctx, int worker, size_t i) {
    spk__groups *g = (spk__groups *)ctx;
    uint32_t lo, hi;
    (void)worker;
    spk__range(g->in->nrows, i, &lo, &hi);
    for (uint32_t r = lo; r < hi; r++) g->hash[r] = spk__row_hash(g->in, g->keys, g->nkeys, r);
    return SPK_OK;
}

static spk_status spk__groups_build_task(void *ctx, int worker, size_t p) {
    spk__groups *g = (spk__groups *)ctx;
    (void)worker;
    for (uint32_t r = 0; r < g->in->nrows; r++) {
        if (spk__partition_of(g->hash[r], g->npartitions) != (int)p) continue;
        size_t slot;
        uint32_t k = spk__groups_find(g, g->in, r, g->hash[r], &slot);
        if (k == SPK__NO_ROW) g->slots[slot] = (k = r) + 1;
        g->rep[r] = k;
    }
    return SPK_OK;
}

static spk_status spk__groups_build(spk_session *s, spk__groups *g, const spk__columns *in, const int *keys, int nkeys) {
    memset(g, 0, sizeof *g);
    g->in = in;
    g->keys = keys;
    g->nkeys = nkeys;
    int threads = spk__par_workers(s, in->nrows / 1024 + 1); /* small inputs: one table */
    g->npartitions = 1;
    while (g->npartitions < threads && g->npartitions < 64) g->npartitions *= 2;
    size_t rows = in->nrows, np = (size_t)g->npartitions;
    g->size = rows * (sizeof(uint64_t) + sizeof(uint32_t)) + 2 * np * sizeof(size_t);
    if (!(g->block = spk__alloc(&spk__default_allocator, g->size))) return spk__nomem("a hash table", g->size);
    g->hash = (uint64_t *)g->block; /* the 8-byte arrays first, for alignment */
    g->base = (size_t *)(void *)(g->hash + rows);
    g->tsize = g->base + np;
    g->rep = (uint32_t *)(void *)(g->tsize + np);
    spk_status st = spk__par_run(s, spk__par_workers(s, spk__ranges(rows)), spk__ranges(rows), spk__groups_hash_task, g);
    if (st != SPK_OK) return st;
    /* each partition's table: twice its rows, rounded up to a power of two */
    size_t *count = g->tsize;
    for (size_t p = 0; p < np; p++) count[p] = 0;
    for (uint32_t r = 0; r < in->nrows; r++) count[spk__partition_of(g->hash[r], g->npartitions)]++;
    for (size_t p = 0; p < np; p++) {
        size_t cap = 16;
        while (cap < 2 * count[p]) cap *= 2;
        g->base[p] = g->nslots;
        g->tsize[p] = cap;
        g->nslots += cap;
    }
    size_t bytes = g->nslots * sizeof *g->slots;
    if (!(g->slots = (uint32_t *)spk__calloc(&spk__default_allocator, bytes))) return spk__nomem("a hash table", bytes);
    return spk__par_run(s, spk__par_workers(s, np), np, spk__groups_build_task, g);
}

/* Appends the rows of `src` whose keep[] is set, in order: ranges of rows
 * gathered in parallel into pieces, put together in range order. */
typedef struct spk__keep_run {
    const spk__columns *src;
    const uint8_t *keep;
    spk_table *out;
    spk_table **parts;
} spk__keep_run;

static spk_status spk__keep_task(void *ctx, int worker, size_t i) {
    spk__keep_run *k = (spk__keep_run *)ctx;
    uint32_t lo, hi;
    (void)worker;
    spk__range(k->src->nrows, i, &lo, &hi);
    spk__emitter e;
    memset(&e, 0, sizeof e);
    spk_status st = spk_table_new(k->out->alloc, spk_table_schema(k->out), &k->parts[i]);
    if (st == SPK_OK) st = spk__emitter_init(&e, k->parts[i], k->src);
    for (uint32_t r = lo; r < hi && st == SPK_OK; r++)
        if (k->keep[r]) st = spk__emit(&e, r);
    if (st == SPK_OK) st = spk__emit_flush(&e);
    spk__vecset_free(&e.batch);
    return st;
}

static spk_status spk__emit_kept(spk_session *s, const spk__columns *src, const uint8_t *keep, spk_table *out) {
    size_t n = spk__ranges(src->nrows), size = (n ? n : 1) * sizeof(spk_table *);
    spk__keep_run k = {src, keep, out, (spk_table **)spk__calloc(&spk__default_allocator, size)};
    if (!k.parts) return spk__nomem("a query's output", size);
    spk_status st = spk__par_run(s, spk__par_workers(s, n), n, spk__keep_task, &k);
    for (size_t i = 0; i < n; i++) {
        if (k.parts[i] && st == SPK_OK) st = spk__table_adopt(out, k.parts[i]);
        spk_table_free(k.parts[i]);
    }
    spk__free(&spk__default_allocator, k.parts, size);
    return st;
}

/* Runs `child` into a table of `like`'s column types (a set operation's
 * widened types), casting where they differ; every column nullable. */
static spk_status spk__materialize_as(const spk_df *child, const spk_df *like, spk_table **out, bool *owned) {
    int n = spk_schema_ncols(like->schema);
    bool same = true;
    for (int i = 0; i < n; i++)
        same = same && spk_type_equal(spk_schema_field(child->schema, i)->type, spk_schema_field(like->schema, i)->type);
    if (same) return spk__materialize(child, out, owned);
    size_t size = (size_t)(n ? n : 1) * sizeof(spk_field);
    spk_field *fields = (spk_field *)spk__alloc(&spk__default_allocator, size);
    if (!fields) return spk__nomem("a set operation", size);
    for (int i = 0; i < n; i++) {
        fields[i] = *spk_schema_field(like->schema, i);
        fields[i].nullable = true;
    }
    spk_schema *schema = NULL;
    spk_table *t = NULL;
    spk_status st = spk__schema_make(&spk__default_allocator, fields, n, true, &schema);
    spk__free(&spk__default_allocator, fields, size);
    if (st == SPK_OK) st = spk_table_new(like->session->alloc, schema, &t);
    spk_schema_release(schema);
    if (st != SPK_OK) return st;
    if ((st = spk__stream_into(child, t)) != SPK_OK) {
        spk_table_free(t);
        return st;
    }
    *out = t;
    *owned = true;
    return SPK_OK;
}

/* Counts, per group of g, the rows of b with its key: the rows of each
 * partition by one task, so no two tasks touch one count. */
typedef struct spk__count_run {
    const spk__groups *g;
    const spk__columns *b;
    uint64_t *hash;       /* per row of b */
    uint32_t *count;      /* per first row of a group */
} spk__count_run;

static spk_status spk__count_hash_task(void *ctx, int worker, size_t i) {
    spk__count_run *c = (spk__count_run *)ctx;
    uint32_t lo, hi;
    (void)worker;
    spk__range(c->b->nrows, i, &lo, &hi);
    for (uint32_t r = lo; r < hi; r++) c->hash[r] = spk__row_hash(c->b, c->g->keys, c->g->nkeys, r);
    return SPK_OK;
}

static spk_status spk__count_task(void *ctx, int worker, size_t p) {
    spk__count_run *c = (spk__count_run *)ctx;
    (void)worker;
    for (uint32_t r = 0; r < c->b->nrows; r++) {
        if (spk__partition_of(c->hash[r], c->g->npartitions) != (int)p) continue;
        size_t slot;
        uint32_t k = spk__groups_find(c->g, c->b, r, c->hash[r], &slot);
        if (k != SPK__NO_ROW) c->count[k]++; /* fewer than 2^32 - 1 rows: cannot overflow */
    }
    return SPK_OK;
}

/* intersect, intersectAll, subtract, exceptAll: the first input's rows in
 * their order, each kept by how often its row occurs in the second. */
static spk_status spk__run_set_op(const spk_df *df, spk_table *out) {
    spk__columns a, b;
    spk__groups g;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&g, 0, sizeof g);
    int n = spk_schema_ncols(df->schema);
    size_t ksize = (size_t)(n ? n : 1) * sizeof(int);
    int *keys = (int *)spk__alloc(&spk__default_allocator, ksize);
    uint32_t *count = NULL, *used = NULL; /* per first row of a group: rows of b, rows of a seen */
    uint64_t *bhash = NULL;
    uint8_t *keep = NULL;
    size_t csize = 0;
    spk_table *t = NULL;
    bool owned = false;
    spk_status st = keys ? SPK_OK : spk__nomem("a set operation", ksize);
    if (st == SPK_OK && (st = spk__materialize_as(df->child, df, &t, &owned)) == SPK_OK) st = spk__columns_load(df->session, &a, t, owned);
    if (st == SPK_OK && (st = spk__materialize_as(df->right, df, &t, &owned)) == SPK_OK) st = spk__columns_load(df->session, &b, t, owned);
    for (int i = 0; keys && i < n; i++) keys[i] = i;
    if (st == SPK_OK) st = spk__groups_build(df->session, &g, &a, keys, n);
    if (st == SPK_OK) {
        csize = (size_t)(a.nrows ? a.nrows : 1) * (2 * sizeof(uint32_t) + 1) + (size_t)(b.nrows ? b.nrows : 1) * sizeof(uint64_t);
        bhash = (uint64_t *)spk__calloc(&spk__default_allocator, csize);
        if (!bhash) st = spk__nomem("a set operation", csize);
        else {
            count = (uint32_t *)(void *)(bhash + (b.nrows ? b.nrows : 1));
            used = count + (a.nrows ? a.nrows : 1);
            keep = (uint8_t *)(used + (a.nrows ? a.nrows : 1));
        }
    }
    spk__count_run cr = {&g, &b, bhash, count};
    if (st == SPK_OK) st = spk__par_run(df->session, spk__par_workers(df->session, spk__ranges(b.nrows)), spk__ranges(b.nrows), spk__count_hash_task, &cr);
    if (st == SPK_OK) st = spk__par_run(df->session, spk__par_workers(df->session, (size_t)g.npartitions), (size_t)g.npartitions, spk__count_task, &cr);
    bool intersect = df->kind == SPK__P_INTERSECT;
    for (uint32_t r = 0; st == SPK_OK && r < a.nrows; r++) {
        uint32_t k = g.rep[r];
        if (df->all) keep[r] = intersect ? used[k]++ < count[k] : ++used[k] > count[k];
        else keep[r] = k == r && (intersect ? count[k] > 0 : count[k] == 0);
    }
    if (st == SPK_OK) st = spk__emit_kept(df->session, &a, keep, out);
    if (bhash) spk__free(&spk__default_allocator, bhash, csize);
    spk__groups_free(&g);
    spk__columns_free(&a);
    spk__columns_free(&b);
    if (keys) spk__free(&spk__default_allocator, keys, ksize);
    return st;
}

/* distinct and dropDuplicates: the first row of each key, in input order. */
static spk_status spk__run_dedup(const spk_df *df, spk_table *out) {
    spk__columns c;
    spk__groups g;
    memset(&c, 0, sizeof c);
    memset(&g, 0, sizeof g);
    int ncols = spk_schema_ncols(df->child->schema), nkeys = df->nexprs ? df->nexprs : ncols;
    size_t ksize = (size_t)(nkeys ? nkeys : 1) * sizeof(int), rsize = 0;
    int *keys = (int *)spk__alloc(&spk__default_allocator, ksize);
    uint8_t *keep = NULL;
    spk_table *t = NULL;
    bool owned = false;
    spk_status st = keys ? SPK_OK : spk__nomem("dropDuplicates", ksize);
    for (int k = 0; keys && k < nkeys; k++) keys[k] = df->nexprs ? df->bound[k]->root->col : k;
    if (st == SPK_OK && (st = spk__materialize(df->child, &t, &owned)) == SPK_OK) st = spk__columns_load(df->session, &c, t, owned);
    if (st == SPK_OK) st = spk__groups_build(df->session, &g, &c, keys, nkeys);
    if (st == SPK_OK) {
        rsize = c.nrows ? c.nrows : 1;
        if (!(keep = (uint8_t *)spk__alloc(&spk__default_allocator, rsize))) st = spk__nomem("dropDuplicates", rsize);
    }
    for (uint32_t r = 0; st == SPK_OK && r < c.nrows; r++) keep[r] = g.rep[r] == r;
    if (st == SPK_OK) st = spk__emit_kept(df->session, &c, keep, out);
    if (keep) spk__free(&spk__default_allocator, keep, rsize);
    spk__groups_free(&g);
    spk__columns_free(&c);
    if (keys) spk__free(&spk__default_allocator, keys, ksize);
    return st;
}

/* ---------------------------------------------------------------- joins
 * Both inputs are read whole. The condition's conjuncts of the form
 * left-expression = right-expression (or <=>) become hash keys: a chained
 * hash table over the smaller side, probed with the other; the remaining
 * conjuncts (the residual) are evaluated over batches of candidate pairs.
 * With no such conjunct every pair is a candidate (a nested loop). Matches
 * are remembered per row, so outer joins add the rows that found none at
 * the end, and semi and anti joins output the left rows that did (not).
 *
 * In parallel: keys and hashes are computed over row ranges; the table is
 * built by partitions of its buckets, each task linking the rows of its
 * buckets in row order (the same chains as one thread would make); ranges
 * of the probing side are probed at once, each into an output piece of its
 * own, the pieces put together in range order. Match marks are relaxed
 * atomic stores: several tasks may mark one row, and they are read only
 * after the tasks have been joined. */

typedef struct spk__jkey {
    const spk__bnode *expr[2]; /* per side: the key expression */
    bool null_safe;            /* <=>: NULL matches NULL */
    spk__vec vals[2];          /* per side: every row's key (a column of the side, or computed) */
    void *block[2];            /* computed keys' storage */
    size_t size[2];
} spk__jkey;

/* One worker's evaluators and buffers. */
typedef struct spk__join_worker {
    bool ready;
    spk__runner rr;            /* the residual, and computed keys */
    bool rr_ready;
    spk__vecset batch[2];      /* a batch of each side's columns */
    spk__vec **both;           /* left's then right's: the condition's input and the output row */
    spk__vec *views;           /* key evaluation: views of both sides' columns at a row range */
    spk__vec **view_ptrs;
    uint32_t *pair[2];         /* SPK__BATCH candidate pairs (row of each side) */
    uint32_t *sel;
    uint32_t npairs;
    bool check;                /* pairs are candidates (else unmatched rows to output as they are) */
    spk__arena strings;        /* bytes of computed string keys */
    spk_table *out;
} spk__join_worker;

typedef struct spk__join_run {
    const spk_df *node;
    int type;                  /* spk__jtype */
    int nl, total;             /* columns of the left side; of both */
    spk__columns side[2];
    const spk_bound *cond;     /* NULL: none */
    spk__jkey *keys;
    int nkeys;
    const spk__bnode **resid;
    int nresid;
    bool typed;                /* every key has one type on both sides, hashed and compared as stored */
    bool never;                /* a conjunct is constant false or NULL */
    bool existence;            /* semi or anti join without residual: one match decides */
    atomic_uchar *matched[2];  /* per row of a side, where the join type needs it */
    uint64_t *hash[2];
    uint8_t *dead[2];          /* a NULL in a key that is not <=>: matches nothing */
    int build, probe;          /* sides */
    uint32_t *heads, *next;    /* the chained table over the build side: row + 1, 0 = none */
    size_t cap, hsize;
    int npartitions, shift;    /* bucket >> shift: the partition that links it */
    int keyside;               /* the side whose keys are being computed */
    struct spk__join_piece *pieces[2]; /* per side streamed into columns: what holds its strings */
    size_t npieces[2];
    spk_table **parts;         /* per range of the probing side */
    size_t nparts;
    spk__join_worker *workers;
    int nworkers;
    spk_table *out;
} spk__join_run;

/* Which sides a bound expression reads: 1 left, 2 right, 3 both, 0 none. */
static int spk__sides_of(const spk__bnode *b, int nl) {
    if (b->kind == SPK__B_COL) return b->col < nl ? 1 : 2;
    int s = 0;
    for (int i = 0; i < b->nargs; i++) s |= spk__sides_of(b->args[i], nl);
    return s;
}

static int spk__count_conjuncts(const spk__bnode *b) {
    return b->kind == SPK__B_AND ? spk__count_conjuncts(b->args[0]) + spk__count_conjuncts(b->args[1]) : 1;
}

/* Splits the condition into hash keys and the residual. */
static void spk__join_conjuncts(spk__join_run *j, const spk__bnode *b) {
    if (b->kind == SPK__B_AND) {
        spk__join_conjuncts(j, b->args[0]);
        spk__join_conjuncts(j, b->args[1]);
        return;
    }
    if (b->kind == SPK__B_LIT) { /* constant: true drops out, false or NULL matches nothing */
        if (b->lit.is_null || b->lit.type.id != SPK_TYPE_BOOLEAN || !b->lit.as.b) j->never = true;
        return;
    }
    if (b->kind == SPK__B_KERNEL && b->kernel == spk__k_compare && (b->iarg == SPK__OP_EQ || b->iarg == SPK__OP_EQ_NS)) {
        int s0 = spk__sides_of(b->args[0], j->nl), s1 = spk__sides_of(b->args[1], j->nl);
        if ((s0 == 1 && s1 == 2) || (s0 == 2 && s1 == 1)) {
            spk__jkey *k = &j->keys[j->nkeys++];
            k->expr[0] = s0 == 1 ? b->args[0] : b->args[1];
            k->expr[1] = s0 == 1 ? b->args[1] : b->args[0];
            k->null_safe = b->iarg == SPK__OP_EQ_NS;
            return;
        }
    }
    j->resid[j->nresid++] = b;
}

static void spk__join_worker_free(spk__join_run *j, spk__join_worker *w) {
    const spk_allocator *a = &spk__default_allocator;
    if (w->rr_ready) spk__runner_free(&w->rr);
    for (int s = 0; s < 2; s++) spk__vecset_free(&w->batch[s]);
    size_t total = (size_t)j->total + 1;
    if (w->both) spk__free(a, w->both, total * (2 * sizeof(spk__vec *) + sizeof(spk__vec)));
    if (w->pair[0]) spk__free(a, w->pair[0], 3 * SPK__BATCH * sizeof(uint32_t));
    spk__arena_free(&w->strings);
    memset(w, 0, sizeof *w);
}

static spk_status spk__join_worker_init(spk__join_run *j, spk__join_worker *w) {
    const spk_allocator *a = &spk__default_allocator;
    if (w->ready) return SPK_OK;
    w->ready = true;
    w->strings.alloc = a;
    size_t total = (size_t)j->total + 1;
    spk_status st = SPK_OK;
    if (j->cond && (st = spk__runner_init(&w->rr, j->cond->root, j->cond->nslots)) == SPK_OK) w->rr_ready = true;
    for (int s = 0; s < 2 && st == SPK_OK; s++) st = spk__vecset_init(&w->batch[s], spk_table_schema(j->side[s].table));
    if (st == SPK_OK) {
        w->both = (spk__vec **)spk__calloc(a, total * (2 * sizeof(spk__vec *) + sizeof(spk__vec)));
        w->pair[0] = w->both ? (uint32_t *)spk__alloc(a, 3 * SPK__BATCH * sizeof(uint32_t)) : NULL;
        if (!w->pair[0]) return spk__nomem("a join", total * sizeof(spk__vec) + 3 * SPK__BATCH * sizeof(uint32_t));
        w->view_ptrs = w->both + total;
        w->views = (spk__vec *)(void *)(w->view_ptrs + total);
        w->pair[1] = w->pair[0] + SPK__BATCH;
        w->sel = w->pair[1] + SPK__BATCH;
    }
    for (int i = 0; st == SPK_OK && i < j->total; i++) {
        w->both[i] = i < j->nl ? w->batch[0].ptrs[i] : w->batch[1].ptrs[i - j->nl];
        w->views[i].type = w->both[i]->type;
        w->view_ptrs[i] = &w->views[i];
    }
    return st;
}

/* Whether every key has the same type on both sides, one whose stored
 * values are equal exactly when the values are (not DOUBLE: -0.0 and NaN). */
static bool spk__join_keys_typed(const spk__join_run *j) {
    for (int k = 0; k < j->nkeys; k++) {
        spk_type a = j->keys[k].expr[0]->type, b = j->keys[k].expr[1]->type;
        if (!spk_type_equal(a, b)) return false;
        switch ((spk_type_id)a.id) {
        case SPK_TYPE_BOOLEAN:
        case SPK_TYPE_INT32:
        case SPK_TYPE_DATE:
        case SPK_TYPE_INT64:
        case SPK_TYPE_DECIMAL:
        case SPK_TYPE_TIMESTAMP:
        case SPK_TYPE_STRING: break;
        default: return false;
        }
    }
    return true;
}

/* Rows [lo, hi) of side s: hashes and NULL marks straight from the stored
 * keys, a key at a time (both sides hash alike: the types are the same). */
static void spk__join_hash_typed(spk__join_run *j, int s, uint32_t lo, uint32_t hi) {
    uint64_t *hash = j->hash[s];
    uint8_t *dead = j->dead[s];
    for (uint32_t r = lo; r < hi; r++) {
        hash[r] = 0x9e3779b97f4a7c15ULL;
        dead[r] = 0;
    }
    for (int k = 0; k < j->nkeys; k++) {
        const spk__vec *v = &j->keys[k].vals[s];
        uint8_t null_dies = !j->keys[k].null_safe;
        uint64_t salt = spk_hash_u64((uint64_t)k + 1);
#define SPK__JOIN_HASH(BITS)                                                              \
        for (uint32_t r = lo; r < hi; r++) {                                              \
            uint64_t bits_ = v->nulls[r] ? 0x6e756c6cULL : (BITS);                        \
            hash[r] = spk_hash_u64(hash[r] ^ bits_ ^ salt);                               \
            dead[r] |= v->nulls[r] & null_dies;                                           \
        }
        switch ((spk_type_id)v->type.id) {
        case SPK_TYPE_BOOLEAN: SPK__JOIN_HASH((uint64_t)(v->v.b[r] != 0)) break;
        case SPK_TYPE_INT32:
        case SPK_TYPE_DATE: SPK__JOIN_HASH((uint64_t)(int64_t)v->v.i32[r]) break;
        case SPK_TYPE_STRING: SPK__JOIN_HASH(spk_hash_bytes(v->v.str[r].ptr, v->v.str[r].len, 0)) break;
        default: SPK__JOIN_HASH((uint64_t)v->v.i64[r]) break;
        }
#undef SPK__JOIN_HASH
    }
}

/* Range i of side j->keyside: computed keys, then every row's hash and NULL mark. */
static spk_status spk__join_keys_task(void *ctx, int worker, size_t i) {
    spk__join_run *j = (spk__join_run *)ctx;
    spk__join_worker *w = &j->workers[worker];
    int s = j->keyside, offset = s ? j->nl : 0;
    const spk__columns *c = &j->side[s];
    uint32_t lo, hi;
    spk__range(c->nrows, i, &lo, &hi);
    spk_status st = spk__join_worker_init(j, w);
    for (uint32_t start = lo; st == SPK_OK && start < hi; start += SPK__BATCH) {
        uint32_t n = hi - start < SPK__BATCH ? hi - start : SPK__BATCH;
        bool bound = false;
        for (int k = 0; k < j->nkeys && st == SPK_OK; k++) {
            spk__jkey *key = &j->keys[k];
            if (!key->block[s]) continue; /* a column of the side: nothing to compute */
            if (!bound) { /* views of the side's columns at this batch */
                for (int col = 0; col < c->ncols; col++) {
                    spk__vec *v = &w->views[offset + col];
                    v->v.any = (char *)c->cols[col].v.any + (size_t)start * spk__phys_size((spk_type_id)v->type.id);
                    v->nulls = c->cols[col].nulls + start;
                }
                spk__arena_reset(&w->rr.ev.arena);
                spk__runner_bind_inputs(&w->rr, j->cond, w->view_ptrs);
                bound = true;
            }
            spk__eval_node(&w->rr, key->expr[s], NULL, n);
            if ((st = w->rr.ev.status) != SPK_OK) break;
            const spk__vec *r = &w->rr.ev.vecs[key->expr[s]->slot];
            size_t width = spk__phys_size((spk_type_id)r->type.id);
            memcpy((char *)key->vals[s].v.any + (size_t)start * width, r->v.any, (size_t)n * width);
            memcpy(key->vals[s].nulls + start, r->nulls, n);
            if (r->type.id != SPK_TYPE_STRING) continue;
            for (uint32_t x = 0; x < n && st == SPK_OK; x++) { /* the batch's strings die with it: keep copies */
                spk__str *str = &key->vals[s].v.str[start + x];
                if (r->nulls[x] || !str->len) continue;
                char *copy = spk__arena_alloc(&w->strings, str->len);
                if (!copy) st = spk__nomem("join keys", str->len);
                else memcpy(copy, str->ptr, str->len);
                str->ptr = copy;
            }
        }
    }
    if (st == SPK_OK && j->typed) {
        spk__join_hash_typed(j, s, lo, hi);
        return SPK_OK;
    }
    for (uint32_t r = lo; st == SPK_OK && r < hi; r++) {
        uint64_t h = 0x9e3779b97f4a7c15ULL;
        uint8_t dead = 0;
        for (int k = 0; k < j->nkeys; k++) {
            spk_value v = spk__vec_get(&j->keys[k].vals[s], r);
            dead |= v.is_null && !j->keys[k].null_safe;
            h = spk_hash_u64(h ^ spk_value_hash(&v, (uint64_t)k));
        }
        j->hash[s][r] = h;
        j->dead[s][r] = dead;
    }
    return st;
}

/* Runners for `ntasks` tasks, never more than the workers set up. */
static int spk__join_workers(const spk__join_run *j, size_t ntasks) {
    int n = spk__par_workers(j->node->session, ntasks);
    return n < j->nworkers ? n : j->nworkers;
}

/* Every row's keys on side s: a column of the side as it is, or computed. */
static spk_status spk__join_keys(spk__join_run *j, int s) {
    const spk__columns *c = &j->side[s];
    int offset = s ? j->nl : 0;
    for (int k = 0; k < j->nkeys; k++) {
        spk__jkey *key = &j->keys[k];
        const spk__bnode *e = key->expr[s];
        if (e->kind == SPK__B_COL) {
            key->vals[s] = c->cols[e->col - offset];
            continue;
        }
        size_t w = spk__phys_size((spk_type_id)e->type.id), size = (size_t)c->nrows * (w + 1) + 16;
        if (!(key->block[s] = spk__alloc(&spk__default_allocator, size))) return spk__nomem("join keys", size);
        key->size[s] = size;
        key->vals[s].type = e->type;
        key->vals[s].v.any = key->block[s];
        key->vals[s].nulls = (uint8_t *)key->block[s] + (size_t)c->nrows * w;
    }
    j->keyside = s;
    size_t n = spk__ranges(c->nrows);
    return spk__par_run(j->node->session, spk__join_workers(j, n), n, spk__join_keys_task, j);
}

static bool spk__join_keys_equal(const spk__join_run *j, uint32_t l, uint32_t r) {
    for (int k = 0; j->typed && k < j->nkeys; k++) {
        const spk__vec *a = &j->keys[k].vals[0], *b = &j->keys[k].vals[1];
        if (a->nulls[l] || b->nulls[r]) { /* only <=> keys get here with a NULL */
            if (a->nulls[l] != b->nulls[r]) return false;
            continue;
        }
        switch ((spk_type_id)a->type.id) {
        case SPK_TYPE_BOOLEAN:
            if ((a->v.b[l] != 0) != (b->v.b[r] != 0)) return false;
            break;
        case SPK_TYPE_INT32:
        case SPK_TYPE_DATE:
            if (a->v.i32[l] != b->v.i32[r]) return false;
            break;
        case SPK_TYPE_STRING:
            if (a->v.str[l].len != b->v.str[r].len ||
                (a->v.str[l].len && memcmp(a->v.str[l].ptr, b->v.str[r].ptr, a->v.str[l].len) != 0))
                return false;
            break;
        default:
            if (a->v.i64[l] != b->v.i64[r]) return false;
            break;
        }
    }
    for (int k = 0; !j->typed && k < j->nkeys; k++) {
        spk_value x = spk__vec_get(&j->keys[k].vals[0], l), y = spk__vec_get(&j->keys[k].vals[1], r);
        if (!spk_value_equal(&x, &y)) return false;
    }
    return true;
}

static void spk__join_mark(atomic_uchar *m, uint32_t row) { atomic_store_explicit(&m[row], 1, memory_order_relaxed); }
static bool spk__join_marked(atomic_uchar *m, uint32_t row) { return atomic_load_explicit(&m[row], memory_order_relaxed) != 0; }

/* The worker's pairs gathered so far: candidates are checked against the
 * residual, marked as matched and output; unmatched rows are output as they are. */
static spk_status spk__join_flush(spk__join_run *j, spk__join_worker *w) {
    uint32_t n = w->npairs;
    w->npairs = 0;
    if (!n) return SPK_OK;
    bool outputs = j->type != SPK__J_SEMI && j->type != SPK__J_ANTI;
    for (int s = 0; s < 2; s++)
        for (int c = 0; c < j->side[s].ncols; c++) spk__gather(&w->batch[s].vecs[c], &j->side[s].cols[c], w->pair[s], n);
    const uint32_t *sel = NULL;
    uint32_t m = n;
    if (w->check) {
        for (int c = 0; c < j->nresid && m > 0; c++) {
            const spk__bnode *b = j->resid[c];
            spk__arena_reset(&w->rr.ev.arena);
            spk__runner_bind_inputs(&w->rr, j->cond, w->both);
            spk__eval_node(&w->rr, b, sel, m);
            if (w->rr.ev.status != SPK_OK) return w->rr.ev.status;
            const spk__vec *v = &w->rr.ev.vecs[b->slot];
            uint32_t kept = 0;
            SPK__FOR_ROWS(sel, m, {
                w->sel[kept] = i;
                kept += !v->nulls[i] & (v->v.b[i] != 0);
            });
            sel = w->sel;
            m = kept;
        }
        for (int s = 0; s < 2; s++)
            if (j->matched[s]) SPK__FOR_ROWS(sel, m, spk__join_mark(j->matched[s], w->pair[s][i]));
    }
    if (!outputs || m == 0) return SPK_OK;
    return spk__table_append_vecs(w->out, w->both, sel, m);
}

static spk_status spk__join_pair(spk__join_run *j, spk__join_worker *w, uint32_t l, uint32_t r) {
    w->pair[0][w->npairs] = l;
    w->pair[1][w->npairs] = r;
    return ++w->npairs == SPK__BATCH ? spk__join_flush(j, w) : SPK_OK;
}

/* Links the build side's rows of the buckets of one partition, in row order. */
static spk_status spk__join_build_task(void *ctx, int worker, size_t p) {
    spk__join_run *j = (spk__join_run *)ctx;
    (void)worker;
    int b = j->build;
    for (uint32_t r = j->side[b].nrows; r-- > 0;) {
        if (j->dead[b][r]) continue;
        size_t at = j->hash[b][r] & (j->cap - 1);
        if ((at >> j->shift) != p) continue;
        j->next[r] = j->heads[at];
        j->heads[at] = r + 1;
    }
    return SPK_OK;
}

/* The candidate pairs of one range of the probing side (of the left side
 * for a nested loop), into that range's output piece. */
static spk_status spk__join_probe_task(void *ctx, int worker, size_t i) {
    spk__join_run *j = (spk__join_run *)ctx;
    spk__join_worker *w = &j->workers[worker];
    bool semi = j->type == SPK__J_SEMI || j->type == SPK__J_ANTI;
    int p = j->nkeys ? j->probe : 0, b = 1 - p;
    uint32_t lo, hi;
    spk__range(j->side[p].nrows, i, &lo, &hi);
    spk_status st = spk__join_worker_init(j, w);
    if (st == SPK_OK) st = spk_table_new(j->out->alloc, spk_table_schema(j->out), &j->parts[i]);
    if (st != SPK_OK) return st;
    w->out = j->parts[i];
    w->check = true;
    for (uint32_t q = lo; q < hi && st == SPK_OK; q++) {
        if (!j->nkeys) { /* nested loop, left-major */
            if (j->existence) {
                spk__join_mark(j->matched[0], q);
                continue;
            }
            for (uint32_t r = 0; r < j->side[1].nrows && st == SPK_OK; r++) st = spk__join_pair(j, w, q, r);
            continue;
        }
        if (j->dead[p][q]) continue;
        if (p == 0 && semi && spk__join_marked(j->matched[0], q)) continue;
        uint64_t h = j->hash[p][q];
        for (uint32_t e = j->heads[h & (j->cap - 1)]; e && st == SPK_OK; e = j->next[e - 1]) {
            uint32_t r = e - 1, l = p == 0 ? q : r, rr = p == 0 ? r : q;
            if (j->hash[b][r] != h || !spk__join_keys_equal(j, l, rr)) continue;
            if (j->existence) {
                spk__join_mark(j->matched[0], l);
                if (p == 0) break;
                continue;
            }
            st = spk__join_pair(j, w, l, rr);
        }
    }
    if (st == SPK_OK) st = spk__join_flush(j, w);
    return st;
}

/* A side that is a chain of filters and projections (over a table) is
 * streamed straight into its column arrays, rather than into a table of
 * rows that spk__columns_load would take apart again: each morsel's rows go
 * to segments of arrays of their own (strings copied into the piece's
 * arena), put together in morsel order at the end. The pieces' arenas hold
 * the strings until the join is done. */
#define SPK__JOIN_SEGMENT_ROWS 32768 /* the most rows a segment is made for */

typedef struct spk__join_segment {
    struct spk__join_segment *next;
    uint32_t n, cap;
    size_t size;
} spk__join_segment; /* then, per column, cap values and cap NULL marks, each 16-byte aligned */

typedef struct spk__join_piece {
    spk__join_segment *head, *tail;
    spk__arena strings;
} spk__join_piece;

typedef struct spk__join_side_feed {
    spk__feed base;
    const spk_schema *schema;
    int ncols;
    spk__join_piece *pieces; /* per morsel */
    size_t npieces;
    struct spk__join_side_sink *sinks; /* per worker */
    int nworkers;
} spk__join_side_feed;

typedef struct spk__join_side_sink {
    spk__sink base;
    spk__join_side_feed *feed;
    spk__join_piece *piece;
} spk__join_side_sink;

static size_t spk__join_col_width(const spk__join_side_feed *f, int c) {
    return spk__phys_size((spk_type_id)spk_schema_field(f->schema, c)->type.id);
}

/* Column c of a segment: its values, and (*nulls) its NULL marks. */
static char *spk__join_segment_col(const spk__join_side_feed *f, const spk__join_segment *g, int c, uint8_t **nulls) {
    char *at = (char *)(uintptr_t)(g + 1);
    for (int i = 0;; i++) {
        size_t w = spk__join_col_width(f, i);
        at = (char *)(((uintptr_t)at + 15) & ~(uintptr_t)15);
        if (i == c) {
            *nulls = (uint8_t *)at + (size_t)g->cap * w;
            return at;
        }
        at += (size_t)g->cap * (w + 1);
    }
}

/* A segment at the piece's end with room for `more` rows. */
static spk_status spk__join_piece_room(spk__join_side_feed *f, spk__join_piece *p, uint32_t more, spk__join_segment **out) {
    if (p->tail && p->tail->cap - p->tail->n >= more) {
        *out = p->tail;
        return SPK_OK;
    }
    /* a batch first, then twice the last: a piece that a filter thins out stays small */
    uint32_t cap = p->tail ? (p->tail->cap < SPK__JOIN_SEGMENT_ROWS ? 2 * p->tail->cap : SPK__JOIN_SEGMENT_ROWS) : SPK__BATCH;
    if (cap < more) cap = more;
    size_t size = sizeof(spk__join_segment) + 16;
    for (int c = 0; c < f->ncols; c++) size += 16 + (size_t)cap * (1 + spk__join_col_width(f, c));
    spk__join_segment *g = (spk__join_segment *)spk__alloc(&spk__default_allocator, size);
    if (!g) return spk__nomem("a join input", size);
    g->next = NULL;
    g->n = 0;
    g->cap = cap;
    g->size = size;
    if (p->tail) p->tail->next = g;
    else p->head = g;
    p->tail = g;
    *out = g;
    return SPK_OK;
}

/* out[k] = in[sel[k]] (or in[k]) for k < n. */
#define SPK__JOIN_TAKE(field)                                                     \
    do {                                                                          \
        if (!sel) memcpy(to.v.field, in->v.field, (size_t)n * sizeof to.v.field[0]); \
        else                                                                      \
            for (uint32_t k = 0; k < n; k++) to.v.field[k] = in->v.field[sel[k]]; \
    } while (0)

static spk_status spk__join_side_consume(spk__sink *self, spk__vec *const *cols, int ncols, const uint32_t *sel, uint32_t n) {
    spk__join_side_sink *sk = (spk__join_side_sink *)self;
    spk__join_side_feed *f = sk->feed;
    spk__join_piece *p = sk->piece;
    spk__join_segment *g = NULL;
    char text[SPK_VALUE_TEXT_MAX];
    spk_status st = ncols == f->ncols ? spk__join_piece_room(f, p, n, &g) : spk__fail(SPK_ERR_STATE, "a join input's width changed");
    for (int c = 0; c < ncols && st == SPK_OK; c++) {
        const spk__vec *in = cols[c];
        spk__vec to;
        to.type = spk_schema_field(f->schema, c)->type;
        to.v.any = spk__join_segment_col(f, g, c, &to.nulls);
        size_t w = spk__phys_size((spk_type_id)to.type.id);
        to.v.any = (char *)to.v.any + (size_t)g->n * w;
        to.nulls += g->n;
        if (!spk_type_equal(in->type, to.type)) { /* not expected of a chain's output; cast as a table would */
            for (uint32_t k = 0; k < n && st == SPK_OK; k++) {
                spk_value v = spk__vec_get(in, sel ? sel[k] : k), r;
                if (spk_value_cast(&v, to.type, &r, text) != SPK_OK) r = spk_value_null_of(to.type);
                if (!r.is_null && r.type.id == SPK_TYPE_STRING && r.as.str.len) {
                    char *copy = spk__arena_alloc(&p->strings, r.as.str.len);
                    if (!copy) st = spk__nomem("join input strings", r.as.str.len);
                    else memcpy(copy, r.as.str.ptr, r.as.str.len);
                    r.as.str.ptr = copy;
                }
                spk__vec_set(&to, k, &r);
            }
            continue;
        }
        if (!sel) memcpy(to.nulls, in->nulls, n);
        else
            for (uint32_t k = 0; k < n; k++) to.nulls[k] = in->nulls[sel[k]];
        switch (w) {
        case 1: SPK__JOIN_TAKE(b); break;
        case 4: SPK__JOIN_TAKE(i32); break;
        case 8: SPK__JOIN_TAKE(i64); break;
        default: /* strings: the batch's bytes may die with it, so the piece keeps copies */
            SPK__JOIN_TAKE(str);
            for (uint32_t k = 0; k < n && st == SPK_OK; k++) {
                spk__str *x = &to.v.str[k];
                if (to.nulls[k] || !x->len) {
                    x->len = 0;
                    continue;
                }
                char *copy = spk__arena_alloc(&p->strings, x->len);
                if (!copy) st = spk__nomem("join input strings", x->len);
                else memcpy(copy, x->ptr, x->len);
                x->ptr = copy;
            }
            break;
        }
    }
    if (st == SPK_OK) g->n += n;
    return st;
}
#undef SPK__JOIN_TAKE

static spk_status spk__join_side_start(spk__feed *self, int nworkers, size_t nmorsels) {
    spk__join_side_feed *f = (spk__join_side_feed *)self;
    size_t psize = (nmorsels ? nmorsels : 1) * sizeof *f->pieces, ssize = (size_t)nworkers * sizeof *f->sinks;
    f->pieces = (spk__join_piece *)spk__calloc(&spk__default_allocator, psize);
    f->sinks = f->pieces ? (spk__join_side_sink *)spk__calloc(&spk__default_allocator, ssize) : NULL;
    if (!f->sinks) return spk__nomem("a join input", psize + ssize);
    f->npieces = nmorsels;
    f->nworkers = nworkers;
    for (size_t m = 0; m < nmorsels; m++) f->pieces[m].strings.alloc = &spk__default_allocator;
    return SPK_OK;
}

static spk_status spk__join_side_open(spk__feed *self, int worker, size_t morsel, spk__sink **sink) {
    spk__join_side_feed *f = (spk__join_side_feed *)self;
    spk__join_side_sink *sk = &f->sinks[worker];
    sk->base.consume = spk__join_side_consume;
    sk->base.done = false;
    sk->feed = f;
    sk->piece = &f->pieces[morsel];
    *sink = &sk->base;
    return SPK_OK;
}

/* The pieces' segments and arenas (the arenas only with `strings`: the
 * columns made from the pieces point into them). */
static void spk__join_pieces_free(spk__join_piece *pieces, size_t n, bool strings) {
    for (size_t m = 0; pieces && m < n; m++) {
        for (spk__join_segment *g = pieces[m].head, *next; g; g = next) {
            next = g->next;
            spk__free(&spk__default_allocator, g, g->size);
        }
        pieces[m].head = pieces[m].tail = NULL;
        if (strings) spk__arena_free(&pieces[m].strings);
    }
}

/* Streams `df` into c (which then owns an empty table of df's schema); the
 * pieces, whose arenas hold c's strings, are the caller's to free. */
static spk_status spk__join_side_stream(const spk_df *df, spk__columns *c, spk__join_piece **pieces, size_t *npieces) {
    spk__join_side_feed f;
    memset(&f, 0, sizeof f);
    f.base.start = spk__join_side_start;
    f.base.open = spk__join_side_open;
    f.schema = df->schema;
    f.ncols = spk_schema_ncols(df->schema);
    memset(c, 0, sizeof c[0]);
    spk_status st = spk__stream(df, &f.base);
    *pieces = f.pieces;
    *npieces = f.npieces;
    if (f.sinks) spk__free(&spk__default_allocator, f.sinks, (size_t)f.nworkers * sizeof *f.sinks);
    if (st == SPK_OK) st = spk_table_new(df->session->alloc, df->schema, &c->table);
    c->owned = true;
    size_t rows = 0;
    for (size_t m = 0; st == SPK_OK && m < f.npieces; m++)
        for (const spk__join_segment *g = f.pieces[m].head; g; g = g->next) rows += g->n;
    if (st == SPK_OK && rows >= SPK__NO_ROW)
        st = spk__fail(SPK_ERR_LIMIT, "an input of a join or set operation has more than %u rows", SPK__NO_ROW - 1);
    if (st == SPK_OK) {
        c->nrows = (uint32_t)rows;
        c->ncols = f.ncols;
        size_t size = (size_t)c->ncols * sizeof(spk__vec) + 16;
        for (int i = 0; i < c->ncols; i++) size += 16 + rows * (1 + spk__phys_size((spk_type_id)spk_schema_field(df->schema, i)->type.id));
        if (!(c->block = spk__alloc(&spk__default_allocator, size))) st = spk__nomem("a join input", size);
        else c->size = size;
    }
    if (st == SPK_OK) {
        char *at = (char *)c->block;
        c->cols = (spk__vec *)(void *)at;
        at += (size_t)c->ncols * sizeof(spk__vec);
        for (int i = 0; i < c->ncols; i++) {
            spk__vec *v = &c->cols[i];
            size_t w = spk__phys_size((spk_type_id)spk_schema_field(df->schema, i)->type.id);
            v->type = spk_schema_field(df->schema, i)->type;
            at = (char *)(((uintptr_t)at + 15) & ~(uintptr_t)15);
            v->v.any = at;
            at += rows * w;
            v->nulls = (uint8_t *)at;
            at += rows;
            size_t done = 0;
            for (size_t m = 0; m < f.npieces; m++)
                for (const spk__join_segment *g = f.pieces[m].head; g; g = g->next) {
                    uint8_t *nulls;
                    const char *from = spk__join_segment_col(&f, g, i, &nulls);
                    memcpy((char *)v->v.any + done * w, from, (size_t)g->n * w);
                    memcpy(v->nulls + done, nulls, g->n);
                    done += g->n;
                }
        }
    }
    spk__join_pieces_free(f.pieces, f.npieces, false); /* the arrays: copied */
    return st;
}

static bool spk__identity_project(const spk_df *df);

/* Side s of the join as column arrays. */
static spk_status spk__join_side(spk__join_run *j, int s) {
    const spk_df *in = s ? j->node->right : j->node->child;
    while (spk__identity_project(in)) in = in->child;
    if (spk__streams(in)) return spk__join_side_stream(in, &j->side[s], &j->pieces[s], &j->npieces[s]);
    spk_table *t = NULL;
    bool owned = false;
    spk_status st = spk__materialize(in, &t, &owned);
    return st == SPK_OK ? spk__columns_load(j->node->session, &j->side[s], t, owned) : st;
}

static void spk__join_run_free(spk__join_run *j) {
    const spk_allocator *a = &spk__default_allocator;
    for (int k = 0; j->keys && k < j->nkeys; k++)
        for (int s = 0; s < 2; s++)
            if (j->keys[k].block[s]) spk__free(a, j->keys[k].block[s], j->keys[k].size[s]);
    for (int w = 0; j->workers && w < j->nworkers; w++) spk__join_worker_free(j, &j->workers[w]);
    if (j->workers) spk__free(a, j->workers, (size_t)j->nworkers * sizeof *j->workers);
    for (size_t i = 0; j->parts && i < j->nparts; i++) spk_table_free(j->parts[i]);
    if (j->parts) spk__free(a, j->parts, (j->nparts ? j->nparts : 1) * sizeof *j->parts);
    if (j->heads) spk__free(a, j->heads, j->hsize);
    for (int s = 0; s < 2; s++) {
        if (j->matched[s]) spk__free(a, j->matched[s], (j->side[s].nrows ? j->side[s].nrows : 1) * sizeof(atomic_uchar));
        if (j->hash[s]) spk__free(a, j->hash[s], (size_t)(j->side[s].nrows ? j->side[s].nrows : 1) * (sizeof(uint64_t) + 1));
        spk__columns_free(&j->side[s]);
        spk__join_pieces_free(j->pieces[s], j->npieces[s], true);
        if (j->pieces[s]) spk__free(a, j->pieces[s], (j->npieces[s] ? j->npieces[s] : 1) * sizeof *j->pieces[s]);
    }
    int nconj = j->cond ? spk__count_conjuncts(j->cond->root) : 0;
    if (j->keys) spk__free(a, j->keys, (size_t)(nconj ? nconj : 1) * sizeof *j->keys);
    if (j->resid) spk__free(a, j->resid, (size_t)(nconj ? nconj : 1) * sizeof *j->resid);
}

/* The chained table over side j->build, whose hashes are computed. */
static spk_status spk__join_build(spk__join_run *j) {
    spk_session *s = j->node->session;
    uint32_t rows = j->side[j->build].nrows;
    j->cap = 16;
    while (j->cap < 2 * (size_t)rows) j->cap *= 2;
    int threads = spk__par_workers(s, rows / 4096 + 1); /* small tables: one task */
    j->npartitions = 1;
    while (j->npartitions < threads && j->npartitions < 16) j->npartitions *= 2;
    j->shift = 0;
    while (((size_t)j->npartitions << j->shift) < j->cap) j->shift++;
    j->hsize = j->cap * sizeof(uint32_t) + (size_t)rows * sizeof(uint32_t);
    if (!(j->heads = (uint32_t *)spk__calloc(&spk__default_allocator, j->hsize))) return spk__nomem("a hash table", j->hsize);
    j->next = j->heads + j->cap;
    return spk__par_run(s, spk__par_workers(s, (size_t)j->npartitions), (size_t)j->npartitions, spk__join_build_task, j);
}

/* Builds the table (if keyed) and probes it, range by range. */
static spk_status spk__join_match(spk__join_run *j) {
    uint32_t nrows[2] = {j->side[0].nrows, j->side[1].nrows};
    spk_session *s = j->node->session;
    spk_status st = SPK_OK;
    if (j->never || !nrows[0] || !nrows[1]) return SPK_OK;
    if (j->nkeys) {
        j->typed = spk__join_keys_typed(j);
        for (int side = 0; side < 2 && st == SPK_OK; side++) st = spk__join_keys(j, side);
        if (st != SPK_OK) return st;
        /* Build on the smaller side (the right one on a tie, so output follows the left's order). */
        j->build = nrows[1] <= nrows[0] ? 1 : 0;
        j->probe = 1 - j->build;
        st = spk__join_build(j);
    }
    int p = j->nkeys ? j->probe : 0;
    j->nparts = spk__ranges(nrows[p]);
    size_t psize = (j->nparts ? j->nparts : 1) * sizeof *j->parts;
    if (st == SPK_OK && !(j->parts = (spk_table **)spk__calloc(&spk__default_allocator, psize))) st = spk__nomem("a join's output", psize);
    if (st == SPK_OK) st = spk__par_run(s, spk__join_workers(j, j->nparts), j->nparts, spk__join_probe_task, j);
    for (size_t i = 0; st == SPK_OK && i < j->nparts; i++)
        if (j->parts[i]) st = spk__table_adopt(j->out, j->parts[i]);
    return st;
}

/* Streamed probing. An inner join whose probing side is a chain of
 * filters and projections over a table, joined on columns of that side of
 * one type on both sides (spk__join_keys_typed), never holds that side:
 * the other side is read and its table built, then the chain's batches are
 * probed as they come, each worker seeing its batch as the probing side (a
 * copy of the join whose side, keys and hashes are the batch's), each
 * morsel's matches going to an output piece of its own, put together in
 * morsel order. That is the order probing ranges of the read side gives. */

typedef struct spk__join_probe_sink {
    spk__sink base;
    spk__join_run local;   /* the join as this worker sees it */
    spk__jkey *keys;       /* local.keys */
    spk__vec *cols;        /* the batch: the probing side's columns */
    spk__vecset dense;     /* a batch that came with a selection, made dense */
    bool ready;
    uint64_t hash[SPK__BATCH];
    uint8_t dead[SPK__BATCH];
    spk__join_worker w;
} spk__join_probe_sink;

typedef struct spk__join_probe_feed {
    spk__feed base;
    spk__join_run *j;
    spk__pieces pieces; /* into j->out */
    spk__join_probe_sink *sinks; /* per worker */
    int nworkers;
} spk__join_probe_feed;

static spk_status spk__join_probe_consume(spk__sink *self, spk__vec *const *cols, int ncols, const uint32_t *sel, uint32_t n) {
    spk__join_probe_sink *ps = (spk__join_probe_sink *)self;
    spk__join_run *j = &ps->local;
    int p = j->probe, b = j->build, offset = p ? j->nl : 0;
    spk__vec *const *src = cols;
    if (sel) {
        for (int c = 0; c < ncols; c++) spk__gather(&ps->dense.vecs[c], cols[c], sel, n);
        src = ps->dense.ptrs;
    }
    for (int c = 0; c < ncols; c++) ps->cols[c] = *src[c];
    j->side[p].nrows = n;
    for (int k = 0; k < j->nkeys; k++) j->keys[k].vals[p] = ps->cols[j->keys[k].expr[p]->col - offset];
    spk__join_hash_typed(j, p, 0, n);
    spk_status st = SPK_OK;
    if (j->cap > 16384) /* a table past the core's cache: start the batch's misses together */
        for (uint32_t q = 0; q < n; q++) SPK__PREFETCH(&j->heads[ps->hash[q] & (j->cap - 1)]);
    for (uint32_t q = 0; q < n && st == SPK_OK; q++) {
        if (ps->dead[q]) continue;
        uint64_t h = ps->hash[q];
        for (uint32_t e = j->heads[h & (j->cap - 1)]; e && st == SPK_OK; e = j->next[e - 1]) {
            uint32_t r = e - 1, l = p == 0 ? q : r, rr = p == 0 ? r : q;
            if (j->hash[b][r] == h && spk__join_keys_equal(j, l, rr)) st = spk__join_pair(j, &ps->w, l, rr);
        }
    }
    return st == SPK_OK ? spk__join_flush(j, &ps->w) : st; /* the pairs name rows of this batch */
}

static spk_status spk__join_probe_start(spk__feed *self, int nworkers, size_t nmorsels) {
    spk__join_probe_feed *f = (spk__join_probe_feed *)self;
    spk_status st = spk__pieces_start(&f->pieces, nmorsels);
    if (st != SPK_OK) return st;
    size_t ssize = (size_t)nworkers * sizeof *f->sinks;
    if (!(f->sinks = (spk__join_probe_sink *)spk__calloc(&spk__default_allocator, ssize))) return spk__nomem("a join's output", ssize);
    f->nworkers = nworkers;
    return SPK_OK;
}

static spk_status spk__join_probe_open(spk__feed *self, int worker, size_t morsel, spk__sink **sink) {
    spk__join_probe_feed *f = (spk__join_probe_feed *)self;
    spk__join_probe_sink *ps = &f->sinks[worker];
    const spk__join_run *j = f->j;
    spk_status st = SPK_OK;
    if (!ps->ready) {
        const spk_allocator *a = &spk__default_allocator;
        ps->ready = true;
        ps->base.consume = spk__join_probe_consume;
        ps->local = *j;
        ps->local.workers = NULL;
        size_t ksize = (size_t)j->nkeys * sizeof *ps->keys, csize = (size_t)j->side[j->probe].ncols * sizeof *ps->cols + 1;
        ps->keys = (spk__jkey *)spk__alloc(a, ksize);
        ps->cols = ps->keys ? (spk__vec *)spk__calloc(a, csize) : NULL;
        if (!ps->cols) return spk__nomem("a join", ksize + csize);
        memcpy(ps->keys, j->keys, (size_t)j->nkeys * sizeof *ps->keys);
        ps->local.keys = ps->keys;
        ps->local.side[j->probe].cols = ps->cols;
        ps->local.hash[j->probe] = ps->hash;
        ps->local.dead[j->probe] = ps->dead;
        if ((st = spk__vecset_init(&ps->dense, spk_table_schema(j->side[j->probe].table))) != SPK_OK) return st;
        if ((st = spk__join_worker_init(&ps->local, &ps->w)) != SPK_OK) return st;
        ps->w.check = true;
    }
    if ((st = spk__pieces_open(&f->pieces, morsel, &ps->w.out)) != SPK_OK) return st;
    *sink = &ps->base;
    return SPK_OK;
}

static void spk__join_probe_feed_free(spk__join_probe_feed *f) {
    const spk_allocator *a = &spk__default_allocator;
    for (int w = 0; f->sinks && w < f->nworkers; w++) {
        spk__join_probe_sink *ps = &f->sinks[w];
        if (!ps->ready) continue;
        spk__join_worker_free(&ps->local, &ps->w);
        spk__vecset_free(&ps->dense);
        if (ps->cols) spk__free(a, ps->cols, (size_t)f->j->side[f->j->probe].ncols * sizeof *ps->cols + 1);
        if (ps->keys) spk__free(a, ps->keys, (size_t)f->j->nkeys * sizeof *ps->keys);
    }
    if (f->sinks) spk__free(a, f->sinks, (size_t)f->nworkers * sizeof *f->sinks);
}

/* The most rows a chain of filters and projections over a table can give (its table's), or SIZE_MAX. */
static size_t spk__chain_rows_at_most(const spk_df *df) {
    while (spk__streams(df) || spk__identity_project(df)) df = df->child;
    return df->kind == SPK__P_SCAN ? spk_table_nrows(df->table) : SIZE_MAX;
}

/* Whether side s can be probed as it streams (see above): given the join's keys. */
static bool spk__join_probe_streams(const spk__join_run *j, int s, const spk_df *in) {
    if (j->type != SPK__J_INNER || !j->nkeys || j->never || !spk__streams(in) || !spk__join_keys_typed(j) ||
        spk__chain_rows_at_most(in) == SIZE_MAX)
        return false;
    for (int k = 0; k < j->nkeys; k++)
        if (j->keys[k].expr[s]->kind != SPK__B_COL) return false;
    return true;
}

/* The join with side p streamed (spk__join_probe_streams), the other side read. */
static spk_status spk__join_stream_probe(spk__join_run *j, int p, const spk_df *in) {
    spk_status st = SPK_OK;
    j->probe = p;
    j->build = 1 - p;
    j->typed = true;
    if (!j->side[j->build].nrows) return SPK_OK;
    if ((st = spk__join_keys(j, j->build)) != SPK_OK || (st = spk__join_build(j)) != SPK_OK) return st;
    spk__join_probe_feed f;
    memset(&f, 0, sizeof f);
    f.base.start = spk__join_probe_start;
    f.base.open = spk__join_probe_open;
    f.j = j;
    f.pieces.out = j->out;
    st = spk__pieces_finish(&f.pieces, spk__stream(in, &f.base));
    spk__join_probe_feed_free(&f);
    return st;
}

static spk_status spk__run_join(const spk_df *df, spk_table *out) {
    const spk_allocator *a = &spk__default_allocator;
    spk__join_run j;
    memset(&j, 0, sizeof j);
    j.node = df;
    j.type = df->join;
    j.out = out;
    j.cond = df->nexprs ? df->bound[0] : NULL;
    spk_status st = SPK_OK;
    j.nl = spk_schema_ncols(df->child->schema);
    j.total = j.nl + spk_schema_ncols(df->right->schema);
    int nconj = j.cond ? spk__count_conjuncts(j.cond->root) : 0;
    j.nworkers = spk_session_threads(df->session);
    size_t wsize = (size_t)j.nworkers * sizeof *j.workers;
    j.keys = (spk__jkey *)spk__calloc(a, (size_t)(nconj ? nconj : 1) * sizeof *j.keys);
    j.resid = j.keys ? (const spk__bnode **)spk__calloc(a, (size_t)(nconj ? nconj : 1) * sizeof *j.resid) : NULL;
    j.workers = j.resid ? (spk__join_worker *)spk__calloc(a, wsize) : NULL;
    if (!j.workers) {
        j.nworkers = 0;
        st = spk__nomem("a join", wsize);
    }
    if (st == SPK_OK && j.cond) spk__join_conjuncts(&j, j.cond->root);
    j.existence = (j.type == SPK__J_SEMI || j.type == SPK__J_ANTI) && !j.nresid;
    /* Stream a side (the right one first) when its chain can give more rows than the other side has. */
    const spk_df *in[2] = {df->child, df->right};
    int streamed = -1, read = -1;
    for (int s = 0; s < 2; s++)
        while (spk__identity_project(in[s])) in[s] = in[s]->child;
    for (int s = 1; st == SPK_OK && s >= 0 && streamed < 0; s--)
        if (spk__join_probe_streams(&j, s, in[s])) streamed = s;
    if (streamed >= 0) {
        st = spk__join_side(&j, read = 1 - streamed);
        if (st == SPK_OK && j.side[read].nrows >= spk__chain_rows_at_most(in[streamed])) streamed = -1;
    }
    if (streamed >= 0 && st == SPK_OK) { /* the side's schema, for the batches' vectors */
        spk__columns *c = &j.side[streamed];
        st = spk_table_new(df->session->alloc, in[streamed]->schema, &c->table);
        c->owned = true;
        c->ncols = spk_schema_ncols(in[streamed]->schema);
    }
    for (int s = 0; s < 2 && st == SPK_OK && streamed < 0; s++)
        if (s != read) st = spk__join_side(&j, s);
    /* side[] may be partly set up on failure; freeing below copes */
    for (int s = 0; s < 2 && st == SPK_OK; s++) {
        size_t rows = j.side[s].nrows ? j.side[s].nrows : 1;
        bool need = s == 0 ? j.type == SPK__J_LEFT || j.type == SPK__J_FULL || j.type == SPK__J_SEMI || j.type == SPK__J_ANTI
                           : j.type == SPK__J_RIGHT || j.type == SPK__J_FULL;
        if (need && !(j.matched[s] = (atomic_uchar *)spk__alloc(a, rows * sizeof(atomic_uchar)))) st = spk__nomem("a join", rows);
        for (size_t r = 0; need && j.matched[s] && r < rows; r++) atomic_init(&j.matched[s][r], 0);
        if (st == SPK_OK && j.nkeys && !(j.hash[s] = (uint64_t *)spk__alloc(a, rows * (sizeof(uint64_t) + 1))))
            st = spk__nomem("a join", rows * 9);
        if (j.hash[s]) j.dead[s] = (uint8_t *)(j.hash[s] + rows);
    }
    if (st == SPK_OK) st = streamed >= 0 ? spk__join_stream_probe(&j, streamed, in[streamed]) : spk__join_match(&j);
    /* what the join type adds: unmatched rows of an outer side, or the left rows of a semi or anti join */
    spk__join_worker *w = j.workers;
    if (st == SPK_OK) st = spk__join_worker_init(&j, w);
    if (w) {
        w->out = out;
        w->check = false;
    }
    if (st == SPK_OK && (j.type == SPK__J_SEMI || j.type == SPK__J_ANTI)) {
        bool want = j.type == SPK__J_SEMI;
        uint32_t n = 0;
        for (uint32_t r = 0; st == SPK_OK && r <= j.side[0].nrows; r++) {
            if (r < j.side[0].nrows && spk__join_marked(j.matched[0], r) == want) w->pair[0][n++] = r;
            if (n == SPK__BATCH || (r == j.side[0].nrows && n)) {
                for (int c = 0; c < j.nl; c++) spk__gather(&w->batch[0].vecs[c], &j.side[0].cols[c], w->pair[0], n);
                st = spk__table_append_vecs(out, w->batch[0].ptrs, NULL, n);
                n = 0;
            }
        }
    }
    for (int s = 0; s < 2 && st == SPK_OK; s++) {
        if (!j.matched[s] || j.type == SPK__J_SEMI || j.type == SPK__J_ANTI) continue;
        for (uint32_t r = 0; r < j.side[s].nrows && st == SPK_OK; r++)
            if (!spk__join_marked(j.matched[s], r)) st = spk__join_pair(&j, w, s ? SPK__NO_ROW : r, s ? r : SPK__NO_ROW);
        if (st == SPK_OK) st = spk__join_flush(&j, w);
    }
    spk__join_run_free(&j);
    return st;
}

/* A projection that keeps every column of its child as it is (an alias). */
static bool spk__identity_project(const spk_df *df) {
    if (df->kind != SPK__P_PROJECT || df->nexprs != spk_schema_ncols(df->child->schema)) return false;
    for (int i = 0; i < df->nexprs; i++) {
        const spk_field *f = spk_schema_field(df->schema, i), *c = spk_schema_field(df->child->schema, i);
        if (df->bound[i]->root->kind != SPK__B_COL || df->bound[i]->root->col != i || strcmp(f->name, c->name) != 0 ||
            !spk_type_equal(f->type, c->type) || f->nullable != c->nullable)
            return false;
    }
    return true;
}

static spk_status spk__materialize(const spk_df *df, spk_table **out, bool *owned) {
    while (spk__identity_project(df)) df = df->child; /* its child's table serves as it is */
    if (df->kind == SPK__P_SCAN) {
        *out = df->table;
        *owned = false;
        return SPK_OK;
    }
    spk_table *t = NULL;
    spk_status st = spk_table_new(df->session->alloc, df->schema, &t);
    if (st != SPK_OK) return st;
    switch (df->kind) { /* a plain int: some kinds are outside spk__pkind (see plan.c) */
    case SPK__P_AGG: st = spk__run_aggregate(df, t); break;
    case SPK__P_SORT: st = spk__run_sort(df, NULL, t); break;
    case SPK__P_LIMIT: /* not streamed when right above a sort (spk__streams) */
        st = df->child->kind == SPK__P_SORT ? spk__run_sort(df->child, df, t) : spk__stream_into(df, t);
        break;
    case SPK__P_DISTINCT:
    case SPK__P_DEDUP: st = spk__run_dedup(df, t); break;
    case SPK__P_INTERSECT:
    case SPK__P_EXCEPT: st = spk__run_set_op(df, t); break;
    case SPK__P_JOIN: st = spk__run_join(df, t); break;
    case SPK__P_UNION:
        st = spk__stream_into(df->child, t);
        if (st == SPK_OK) st = spk__stream_into(df->right, t);
        break;
    default: st = spk__stream_into(df, t); break;
    }
    if (st != SPK_OK) {
        spk_table_free(t);
        return st;
    }
    *out = t;
    *owned = true;
    return SPK_OK;
}

/* ---------------------------------------------------------------- actions */

static spk_status spk__collect_plan(spk_df *df, spk_table **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_df_collect: NULL output");
    *out = NULL;
    if (!df) return spk__fail(SPK_ERR_ARG, "spk_df_collect: NULL DataFrame (an earlier call failed: see its error)");
    spk_table *t = NULL;
    bool owned = false;
    spk_status st = spk__materialize(df, &t, &owned);
    if (st != SPK_OK) return st;
    if (!owned) { /* a scan: the result must be the caller's own copy */
        spk_table *copy = NULL;
        if ((st = spk_table_new(df->session->alloc, df->schema, &copy)) != SPK_OK) return st;
        if ((st = spk__table_append_table(copy, t)) != SPK_OK) {
            spk_table_free(copy);
            return st;
        }
        t = copy;
    }
    *out = t;
    return SPK_OK;
}

/* Streams the optimised plan of df into a feed. */
static spk_status spk__run_stream(const spk_df *df, spk__feed *feed) {
    spk_df *run = spk__optimize(df);
    if (!run) return spk_last_status();
    spk_status st = spk__stream(run, feed);
    spk_df_release(run);
    return st;
}

SPKDEF spk_status spk_df_collect(spk_df *df, spk_table **out) {
    if (!out || !df) return spk__collect_plan(df, out); /* its argument errors */
    spk_df *plan = spk__optimize(df); /* the same rows from a plan that does less work */
    if (!plan) return spk_last_status();
    spk_status st = spk__collect_plan(plan, out);
    spk_df_release(plan);
    return st;
}

SPKDEF spk_status spk_df_count(spk_df *df, int64_t *out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_df_count: NULL output");
    if (!df) return spk__fail(SPK_ERR_ARG, "spk_df_count: NULL DataFrame (an earlier call failed: see its error)");
    spk__count_feed f = {{spk__count_feed_start, spk__count_feed_open, NULL, spk__count_uses, false, NULL, 0, false, 0}, NULL, 0};
    spk_status st = spk__run_stream(df, &f.base);
    int64_t rows = 0;
    for (int w = 0; f.sinks && w < f.nworkers; w++) rows += f.sinks[w].rows;
    if (f.sinks) spk__free(&spk__default_allocator, f.sinks, (size_t)f.nworkers * sizeof *f.sinks);
    if (st == SPK_OK) *out = rows;
    return st;
}

SPKDEF spk_status spk_df_head(spk_df *df, int64_t n, spk_table **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_df_head: NULL output");
    *out = NULL;
    if (!df) return spk__fail(SPK_ERR_ARG, "head: NULL DataFrame (an earlier call failed: see its error)");
    spk_df *head = spk_df_limit(df, n);
    spk_status st = head ? spk_df_collect(head, out) : spk_last_status();
    spk_df_release(head);
    return st;
}

SPKDEF spk_status spk_df_take(spk_df *df, int64_t n, spk_table **out) { return spk_df_head(df, n, out); }
SPKDEF spk_status spk_df_first(spk_df *df, spk_table **out) { return spk_df_head(df, 1, out); }

typedef struct spk__foreach_sink {
    spk__sink base;
    spk_row_fn fn;
    void *user;
    spk_value *row;
    int ncols;
} spk__foreach_sink;

static spk_status spk__foreach_consume(spk__sink *self, spk__vec *const *cols, int ncols, const uint32_t *sel, uint32_t n) {
    spk__foreach_sink *s = (spk__foreach_sink *)self;
    spk_status st = SPK_OK;
    (void)ncols;
    for (uint32_t k = 0; k < n && st == SPK_OK; k++) {
        uint32_t i = sel ? sel[k] : k;
        for (int c = 0; c < s->ncols; c++) s->row[c] = spk__vec_get(cols[c], i);
        st = s->fn(s->user, s->row, s->ncols);
    }
    return st;
}

SPKDEF spk_status spk_df_foreach(spk_df *df, spk_row_fn fn, void *user) {
    if (!df) return spk__fail(SPK_ERR_ARG, "foreach: NULL DataFrame (an earlier call failed: see its error)");
    if (!fn) return spk__fail(SPK_ERR_ARG, "foreach: NULL function");
    int ncols = spk_schema_ncols(df->schema);
    size_t size = (size_t)(ncols ? ncols : 1) * sizeof(spk_value);
    spk__foreach_sink s = {{spk__foreach_consume, false}, fn, user, NULL, ncols};
    if (!(s.row = (spk_value *)spk__alloc(&spk__default_allocator, size))) return spk__nomem("foreach", size);
    spk__single_feed f = {{spk__single_feed_start, spk__single_feed_open, NULL, NULL, true, NULL, 0, false, 0}, &s.base};
    spk_status st = spk__run_stream(df, &f.base);
    spk__free(&spk__default_allocator, s.row, size);
    return st;
}

/* describe(): one aggregation computing the five statistics of every
 * column, each cast to STRING as Spark's StatFunctions.summary does, then
 * turned into one row per statistic. */
SPKDEF spk_df *spk_df_describe(spk_df *df, const char *const *cols, int n) {
    static const char *const stats[5] = {"count", "mean", "stddev", "min", "max"};
    if (!df) return NULL;
    int ncols = spk_schema_ncols(df->schema), cap = n > 0 ? n : ncols;
    const spk_allocator *a = &spk__default_allocator;
    size_t psize = (size_t)(cap ? cap : 1) * sizeof(int);
    int *pick = (int *)spk__alloc(a, psize), k = 0;
    spk_expr **aggs = pick ? spk__expr_list(5 * cap) : NULL;
    spk_status st = aggs ? SPK_OK : spk__nomem("describe", psize);
    for (int i = 0; st == SPK_OK && i < cap; i++) {
        int c = n > 0 ? spk__resolve_column(df, cols ? cols[i] : NULL) : i;
        if (c < 0) st = spk_last_status();
        spk_type_id t = c >= 0 ? (spk_type_id)spk_schema_field(df->schema, c)->type.id : SPK_TYPE_NULL;
        if (st == SPK_OK && (n > 0 || t == SPK_TYPE_INT32 || t == SPK_TYPE_INT64 || t == SPK_TYPE_DOUBLE ||
                             t == SPK_TYPE_DECIMAL || t == SPK_TYPE_STRING))
            pick[k++] = c;
    }
    int made = 0;
    for (int i = 0; st == SPK_OK && i < k; i++) {
        const spk_field *f = spk_schema_field(df->schema, pick[i]);
        const char *q = df->qualifiers[pick[i]];
        for (int s = 0; s < 5 && st == SPK_OK; s++) {
            spk_expr *x = spk__col_ref(q, f->name);
            if (f->type.id == SPK_TYPE_STRING && (s == 1 || s == 2)) x = spk_cast(x, spk_type_of(SPK_TYPE_DOUBLE)); /* avg("1","2") is 1.5 */
            spk_expr *e = spk_call_array(s == 1 ? "avg" : stats[s], &x, 1);
            if (!(aggs[made++] = spk_cast(e, spk_type_of(SPK_TYPE_STRING)))) st = spk_last_status() ? spk_last_status() : SPK_ERR_NOMEM;
        }
    }
    spk_table *row = NULL, *t = NULL;
    if (st == SPK_OK && k) {
        spk_df *g = spk_df_group_agg(df, NULL, 0, aggs, made);
        made = 0;
        st = g ? spk_df_collect(g, &row) : spk_last_status();
        spk_df_release(g);
    }
    /* summary, then one STRING column per described column (names may repeat, as Spark) */
    spk_field *fields = NULL;
    spk_value *values = NULL;
    size_t fsize = (size_t)(k + 1) * sizeof *fields, vsize = (size_t)(k + 1) * sizeof *values;
    if (st == SPK_OK && !(fields = (spk_field *)spk__alloc(a, fsize))) st = spk__nomem("describe", fsize);
    if (st == SPK_OK && !(values = (spk_value *)spk__alloc(a, vsize))) st = spk__nomem("describe", vsize);
    spk_schema *schema = NULL;
    if (st == SPK_OK) {
        fields[0] = (spk_field){"summary", spk_type_of(SPK_TYPE_STRING), true};
        for (int i = 0; i < k; i++) fields[i + 1] = (spk_field){spk_schema_field(df->schema, pick[i])->name, spk_type_of(SPK_TYPE_STRING), true};
        st = spk__schema_make(df->session->alloc, fields, k + 1, true, &schema);
    }
    if (st == SPK_OK) st = spk_table_new(df->session->alloc, schema, &t);
    spk_schema_release(schema);
    for (int s = 0; s < 5 && st == SPK_OK; s++) {
        values[0] = spk_value_str(stats[s]);
        for (int i = 0; i < k && st == SPK_OK; i++) st = spk_table_get(row, 0, i * 5 + s, &values[i + 1]);
        if (st == SPK_OK) st = spk_table_append_row(t, values, k + 1);
    }
    spk_df *r = st == SPK_OK ? spk_df_from_table(df->session, t) : NULL;
    if (!r) spk_table_free(t);
    spk_table_free(row);
    if (values) spk__free(a, values, vsize);
    if (fields) spk__free(a, fields, fsize);
    if (aggs) spk__expr_list_free(aggs, 5 * cap, made);
    if (pick) spk__free(a, pick, psize);
    return r;
}

SPKDEF const spk_schema *spk_df_schema(const spk_df *df) { return df ? df->schema : NULL; }

SPKDEF int spk_df_columns(const spk_df *df, const char **names, int cap) {
    if (!df) return -1;
    int n = spk_schema_ncols(df->schema);
    for (int i = 0; names && i < n && i < cap; i++) names[i] = spk_schema_field(df->schema, i)->name;
    return n;
}

SPKDEF int spk_df_dtypes(const spk_df *df, spk_dtype *out, int cap) {
    if (!df) return -1;
    int n = spk_schema_ncols(df->schema);
    for (int i = 0; out && i < n && i < cap; i++) {
        const spk_field *f = spk_schema_field(df->schema, i);
        out[i].name = f->name;
        spk_type_format(f->type, SPK_TYPE_SIMPLE, out[i].type, sizeof out[i].type);
    }
    return n;
}

/* As PySpark's printSchema(): the tree, then a blank line. */
SPKDEF void spk_df_print_schema(const spk_df *df, FILE *f) {
    if (!df) return;
    spk_schema_print(df->schema, f);
    fputc('\n', f);
}

SPKDEF void spk_string_free(char *s) { spk__given_free(s); }

/* ---------------------------------------------------------------- show */

/* Spark's cell width (Utils.stringHalfWidth): the UTF-16 length, plus one
 * for each East Asian full-width character. */
static size_t spk__display_width(const char *s, size_t len) {
    size_t w = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        uint32_t cp = c;
        size_t n = 1;
        if (c >= 0xF0 && i + 3 < len + 0) { cp = (uint32_t)(c & 7) << 18 | (uint32_t)(s[i + 1] & 63) << 12 | (uint32_t)(s[i + 2] & 63) << 6 | (uint32_t)(s[i + 3] & 63); n = 4; }
        else if (c >= 0xE0 && i + 2 < len) { cp = (uint32_t)(c & 15) << 12 | (uint32_t)(s[i + 1] & 63) << 6 | (uint32_t)(s[i + 2] & 63); n = 3; }
        else if (c >= 0xC0 && i + 1 < len) { cp = (uint32_t)(c & 31) << 6 | (uint32_t)(s[i + 1] & 63); n = 2; }
        bool wide = (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) || (cp >= 0xAC00 && cp <= 0xD7A3) ||
                    (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFE10 && cp <= 0xFE19) || (cp >= 0xFE30 && cp <= 0xFE6F) ||
                    (cp >= 0xFF00 && cp <= 0xFF60) || (cp >= 0xFFE0 && cp <= 0xFFE6);
        w += (cp >= 0x10000 ? 2 : 1) + (wide ? 1 : 0); /* UTF-16 units, plus one per full-width char */
        i += n;
    }
    return w;
}

/* A cell's text as Spark prints it: control characters escaped, then cut
 * at `truncate` characters ("..." replacing the last three). */
static void spk__show_cell(spk__textbuf *cell, const char *s, size_t len, int truncate) {
    cell->len = 0;
    spk__sb_put(cell, "", 0);
    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
        case '\n': spk__sb_str(cell, "\\n"); break;
        case '\r': spk__sb_str(cell, "\\r"); break;
        case '\t': spk__sb_str(cell, "\\t"); break;
        case '\f': spk__sb_str(cell, "\\f"); break;
        case '\b': spk__sb_str(cell, "\\b"); break;
        case '\v': spk__sb_str(cell, "\\v"); break;
        case '\a': spk__sb_str(cell, "\\a"); break;
        default: spk__sb_put(cell, &s[i], 1);
        }
    }
    if (truncate <= 0 || cell->failed) return;
    size_t chars = spk__utf8_chars(cell->p, cell->len);
    if (chars <= (size_t)truncate) return;
    size_t keep = truncate < 4 ? (size_t)truncate : (size_t)truncate - 3, at = 0;
    for (size_t k = 0; k < keep; k++) at = spk__utf8_step(cell->p, cell->len, at);
    cell->len = at;
    cell->p[at] = '\0';
    if (truncate >= 4) spk__sb_str(cell, "...");
}

SPKDEF spk_status spk_df_show_string(spk_df *df, int n, int truncate, bool vertical, char **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_df_show_string: NULL output");
    *out = NULL;
    if (!df) return spk__fail(SPK_ERR_ARG, "show: NULL DataFrame (an earlier call failed: see its error)");
    if (n < 0) n = 0;
    spk_df *head = spk_df_limit(df, (int64_t)n + 1);
    spk_table *t = NULL;
    spk_status st = head ? spk_df_collect(head, &t) : spk_last_status();
    spk_df_release(head);
    if (st != SPK_OK) return st;
    int ncols = spk_schema_ncols(df->schema);
    size_t rows = spk_table_nrows(t);
    bool more = rows > (size_t)n;
    if (more) rows = (size_t)n;
    /* every cell, header first, as text */
    size_t ncells = (rows + 1) * (size_t)(ncols ? ncols : 1);
    char **cells = (char **)spk__calloc(&spk__default_allocator, ncells * sizeof *cells);
    size_t *widths = cells ? (size_t *)spk__calloc(&spk__default_allocator, (size_t)(ncols ? ncols : 1) * sizeof *widths) : NULL;
    spk__textbuf cell = {NULL, 0, 0, false}, text = {NULL, 0, 0, false};
    if (!widths) st = spk__nomem("show", ncells * sizeof *cells);
    for (size_t r = 0; st == SPK_OK && r <= rows; r++) {
        for (int c = 0; c < ncols && st == SPK_OK; c++) {
            char buf[SPK_VALUE_TEXT_MAX];
            const char *s;
            size_t len;
            if (r == 0) {
                s = spk_schema_field(df->schema, c)->name;
                len = strlen(s);
            } else {
                spk_value v;
                spk_table_get(t, r - 1, c, &v);
                if (!v.is_null && v.type.id == SPK_TYPE_STRING) {
                    s = v.as.str.ptr;
                    len = v.as.str.len;
                } else {
                    len = spk_value_format(&v, buf, sizeof buf);
                    s = buf;
                }
            }
            spk__show_cell(&cell, s, len, r == 0 ? 0 : truncate); /* Spark never cuts the header */
            char *copy = cell.failed ? NULL : spk__given_string(cell.p, cell.len);
            if (!copy) st = spk__nomem("show", cell.len + 1);
            cells[r * (size_t)ncols + (size_t)c] = copy;
        }
    }
    if (st == SPK_OK && !vertical) {
        for (int c = 0; c < ncols; c++) {
            widths[c] = 3;
            for (size_t r = 0; r <= rows; r++) {
                const char *x = cells[r * (size_t)ncols + (size_t)c];
                size_t w = spk__display_width(x, strlen(x));
                if (w > widths[c]) widths[c] = w;
            }
        }
        for (int c = 0; c < ncols; c++) {
            spk__sb_str(&text, "+");
            spk__sb_fill(&text, '-', widths[c]);
        }
        spk__sb_str(&text, "+\n");
        char *sep = text.failed ? NULL : spk__given_string(text.p, text.len);
        if (!sep) text.failed = true;
        for (size_t r = 0; r <= rows; r++) {
            for (int c = 0; c < ncols; c++) {
                const char *x = cells[r * (size_t)ncols + (size_t)c];
                size_t pad = widths[c] - spk__display_width(x, strlen(x));
                spk__sb_str(&text, "|");
                if (truncate > 0) spk__sb_fill(&text, ' ', pad); /* right-aligned when truncating, as Spark */
                spk__sb_str(&text, x);
                if (truncate <= 0) spk__sb_fill(&text, ' ', pad);
            }
            spk__sb_str(&text, ncols ? "|\n" : "||\n");
            if (r == 0 && sep) spk__sb_str(&text, sep);
        }
        if (sep) spk__sb_str(&text, sep);
        spk_string_free(sep);
    } else if (st == SPK_OK) {
        size_t name_w = 3, data_w = 3; /* Spark's minimum widths */
        for (int c = 0; c < ncols; c++) {
            size_t w = spk__display_width(cells[c], strlen(cells[c]));
            if (w > name_w) name_w = w;
        }
        for (size_t r = 1; r <= rows; r++)
            for (int c = 0; c < ncols; c++) {
                const char *x = cells[r * (size_t)ncols + (size_t)c];
                size_t w = spk__display_width(x, strlen(x));
                if (w > data_w) data_w = w;
            }
        for (size_t r = 1; r <= rows; r++) {
            char head_text[64];
            int hn = snprintf(head_text, sizeof head_text, "-RECORD %zu", r - 1);
            spk__sb_str(&text, head_text);
            if ((size_t)hn < name_w + data_w + 5) spk__sb_fill(&text, '-', name_w + data_w + 5 - (size_t)hn);
            spk__sb_str(&text, "\n");
            for (int c = 0; c < ncols; c++) {
                const char *name = cells[c], *x = cells[r * (size_t)ncols + (size_t)c];
                spk__sb_str(&text, " ");
                spk__sb_str(&text, name);
                spk__sb_fill(&text, ' ', name_w - spk__display_width(name, strlen(name)));
                spk__sb_str(&text, " | ");
                spk__sb_str(&text, x);
                spk__sb_fill(&text, ' ', data_w - spk__display_width(x, strlen(x)));
                spk__sb_str(&text, " \n");
            }
        }
    }
    if (st == SPK_OK) {
        if (vertical && rows == 0) spk__sb_str(&text, "(0 rows)\n");
        else if (more) spk__sb_printf(&text, "only showing top %d %s\n", n, n == 1 ? "row" : "rows");
        st = spk__sb_finish(&text, out);
    } else if (text.p) {
        spk__free(&spk__default_allocator, text.p, text.cap);
    }
    if (cell.p) spk__free(&spk__default_allocator, cell.p, cell.cap);
    for (size_t i = 0; cells && i < ncells; i++) spk_string_free(cells[i]);
    if (cells) spk__free(&spk__default_allocator, cells, ncells * sizeof *cells);
    if (widths) spk__free(&spk__default_allocator, widths, (size_t)(ncols ? ncols : 1) * sizeof *widths);
    spk_table_free(t);
    return st;
}

SPKDEF spk_status spk_df_show(spk_df *df, int n, int truncate, bool vertical, FILE *f) {
    char *text = NULL;
    spk_status st = spk_df_show_string(df, n, truncate, vertical, &text);
    if (st != SPK_OK) return st;
    fputs(text, f);
    fputc('\n', f); /* as PySpark's print(showString(...)): a blank line follows */
    spk_string_free(text);
    return SPK_OK;
}

