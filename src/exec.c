/* exec: running a plan. Filters, projections and limits stream batches of
 * vectors from their source into a sink; aggregation, sorting, distinct and
 * union consume a stream and produce a table. Actions (collect, count,
 * show, explain) sit on top. Single-threaded for now. */
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

/* Loads rows [start, start + n) of a chunk into one vector per column. */
static void spk__load_batch(const spk_table *t, const spk__chunk *c, uint32_t start, uint32_t n, spk__vec *vecs) {
    for (int col = 0; col < t->ncols; col++) spk__load_column(t, c, start, n, col, &vecs[col]);
}

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

/* ---------------------------------------------------------------- streaming chains */

static bool spk__streams(const spk_df *df) {
    return df->kind == SPK__P_FILTER || df->kind == SPK__P_PROJECT || df->kind == SPK__P_LIMIT || df->kind == SPK__P_SAMPLE;
}

/* One operator of a chain, with its evaluation state. */
typedef struct spk__stage {
    const spk_df *node;
    spk__runner *runners; /* one per expression */
    int nrunners;
    uint32_t *sel;        /* FILTER, LIMIT: the selection they produce */
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
        if (stages[i].runners) spk__free(&spk__default_allocator, stages[i].runners, (size_t)stages[i].nrunners * sizeof(spk__runner));
        if (stages[i].sel) spk__free(&spk__default_allocator, stages[i].sel, SPK__BATCH * sizeof(uint32_t));
        if (stages[i].out) spk__free(&spk__default_allocator, stages[i].out, (size_t)stages[i].node->nexprs * sizeof(spk__vec *));
    }
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
    return SPK_OK;
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
            spk__runner *r = &s->runners[0];
            spk__arena_reset(&r->ev.arena);
            spk__runner_bind_inputs(r, node->bound[0], cur);
            spk__eval_node(r, r->root, sel, n);
            if (r->ev.status != SPK_OK) return r->ev.status;
            const spk__vec *v = &r->ev.vecs[r->root->slot];
            uint32_t m = 0;
            SPK__FOR_ROWS(sel, n, {
                s->sel[m] = i;
                m += !v->nulls[i] & (v->v.b[i] != 0);
            });
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

/* Streams the rows of `df` into `sink`. */
static spk_status spk__stream(const spk_df *df, spk__sink *sink) {
    int nstages = 0;
    const spk_df *base = df;
    while (spk__streams(base)) {
        nstages++;
        base = base->child;
    }
    spk__stage stack[16], *stages = stack;
    size_t ssize = (size_t)(nstages ? nstages : 1) * sizeof *stages;
    if (nstages > 16 && !(stages = (spk__stage *)spk__calloc(&spk__default_allocator, ssize))) return spk__nomem("a plan", ssize);
    int ready = 0;
    spk_status st = SPK_OK;
    const spk_df *node = df;
    for (; ready < nstages && st == SPK_OK; ready++, node = node->child) st = spk__stage_init(&stages[ready], node);
    spk_table *t = NULL;
    bool owned = false;
    if (st == SPK_OK) st = spk__materialize(base, &t, &owned);
    spk__vecset vs;
    memset(&vs, 0, sizeof vs);
    if (st == SPK_OK) st = spk__vecset_init(&vs, spk_table_schema(t));
    for (size_t ci = 0; st == SPK_OK && t && ci < t->nchunks && !sink->done; ci++) {
        const spk__chunk *c = t->chunks[ci];
        for (uint32_t start = 0; st == SPK_OK && start < c->nrows && !sink->done; start += SPK__BATCH) {
            uint32_t n = c->nrows - start < SPK__BATCH ? c->nrows - start : SPK__BATCH;
            spk__load_batch(t, c, start, n, vs.vecs);
            st = spk__push_batch(stages, nstages, vs.ptrs, vs.n, NULL, n, sink);
        }
    }
    spk__vecset_free(&vs);
    if (owned) spk_table_free(t);
    spk__stages_free(stages, ready);
    if (stages != stack) spk__free(&spk__default_allocator, stages, ssize);
    return st;
}

/* ---------------------------------------------------------------- sinks */

typedef struct spk__append_sink {
    spk__sink base;
    spk_table *out;
} spk__append_sink;

static spk_status spk__append_consume(spk__sink *self, spk__vec *const *cols, int ncols, const uint32_t *sel, uint32_t n) {
    spk__append_sink *s = (spk__append_sink *)self;
    (void)ncols;
    return spk__table_append_vecs(s->out, cols, sel, n);
}

typedef struct spk__count_sink {
    spk__sink base;
    int64_t rows;
} spk__count_sink;

static spk_status spk__count_consume(spk__sink *self, spk__vec *const *cols, int ncols, const uint32_t *sel, uint32_t n) {
    (void)cols;
    (void)ncols;
    (void)sel;
    ((spk__count_sink *)self)->rows += n;
    return SPK_OK;
}

/* ---------------------------------------------------------------- aggregation
 * Groups are found through an open-addressing table of hashes of the key
 * values; the keys themselves are kept as values whose strings live in an
 * arena that never moves. Each aggregate keeps one state per group. */

typedef struct spk__agg_slot {
    const spk__bnode *node; /* the aggregate */
    int output;             /* the output expression it belongs to */
    char *states;           /* ngroups * state_size */
    size_t cap;             /* groups the states have room for */
} spk__agg_slot;

typedef struct spk__agg_sink {
    spk__sink base;
    const spk_df *node;
    int nkeys, nout;           /* grouping keys; aggregate outputs (after the keys) */
    spk__runner *runners;      /* one per expression of the node */
    spk__agg_slot *aggs;
    int naggs;
    spk_value *keys;           /* ngroups * nkeys */
    size_t ngroups, keys_cap;
    uint64_t *hashes;          /* per group */
    uint32_t *table;           /* open addressing: group index + 1, 0 = empty */
    size_t table_cap;
    spk__arena strings;
    uint32_t groups_of_row[SPK__BATCH];
} spk__agg_sink;

static void spk__collect_agg_nodes(const spk__bnode *b, int output, spk__agg_slot *into, int *n, int cap) {
    if (b->kind == SPK__B_AGG) {
        if (*n < cap) into[(*n)++] = (spk__agg_slot){b, output, NULL, 0};
        return;
    }
    for (int i = 0; i < b->nargs; i++) spk__collect_agg_nodes(b->args[i], output, into, n, cap);
}

static int spk__count_agg_nodes(const spk__bnode *b) {
    if (b->kind == SPK__B_AGG) return 1;
    int n = 0;
    for (int i = 0; i < b->nargs; i++) n += spk__count_agg_nodes(b->args[i]);
    return n;
}

static spk_status spk__agg_grow_table(spk__agg_sink *s) {
    size_t cap = s->table_cap ? s->table_cap * 2 : 1024;
    uint32_t *t = (uint32_t *)spk__calloc(&spk__default_allocator, cap * sizeof *t);
    if (!t) return spk__nomem("a hash table", cap * sizeof *t);
    for (size_t g = 0; g < s->ngroups; g++) {
        size_t at = s->hashes[g] & (cap - 1);
        while (t[at]) at = (at + 1) & (cap - 1);
        t[at] = (uint32_t)g + 1;
    }
    if (s->table) spk__free(&spk__default_allocator, s->table, s->table_cap * sizeof *s->table);
    s->table = t;
    s->table_cap = cap;
    return SPK_OK;
}

/* Adds a group with the given key values (strings copied); returns its index. */
static spk_status spk__agg_new_group(spk__agg_sink *s, const spk_value *key, uint64_t hash, uint32_t *group) {
    const spk_allocator *a = &spk__default_allocator;
    if (s->ngroups >= UINT32_MAX - 1) return spk__fail(SPK_ERR_LIMIT, "more than 4 billion groups");
    if (s->ngroups == s->keys_cap) {
        size_t cap = s->keys_cap ? s->keys_cap * 2 : 64;
        spk_value *k = (spk_value *)spk__realloc(a, s->keys, s->keys_cap * (size_t)(s->nkeys ? s->nkeys : 1) * sizeof *k,
                                                 cap * (size_t)(s->nkeys ? s->nkeys : 1) * sizeof *k);
        if (!k) return spk__nomem("group keys", cap * sizeof *k);
        s->keys = k;
        uint64_t *h = (uint64_t *)spk__realloc(a, s->hashes, s->keys_cap * sizeof *h, cap * sizeof *h);
        if (!h) return spk__nomem("group hashes", cap * sizeof *h);
        s->hashes = h;
        s->keys_cap = cap;
    }
    for (int i = 0; i < s->naggs; i++) {
        spk__agg_slot *ag = &s->aggs[i];
        size_t size = ag->node->agg->state_size;
        if (s->ngroups == ag->cap) {
            size_t cap = ag->cap ? ag->cap * 2 : 64;
            char *p = (char *)spk__realloc(a, ag->states, ag->cap * size, cap * size);
            if (!p) return spk__nomem("aggregate states", cap * size);
            ag->states = p;
            ag->cap = cap;
        }
        ag->node->agg->init(ag->states + s->ngroups * size);
    }
    spk_value *dst = s->keys + s->ngroups * (size_t)s->nkeys;
    for (int k = 0; k < s->nkeys; k++) {
        dst[k] = key[k];
        if (!key[k].is_null && key[k].type.id == SPK_TYPE_STRING && key[k].as.str.len) {
            char *copy = spk__arena_alloc(&s->strings, key[k].as.str.len);
            if (!copy) return spk__nomem("a group key", key[k].as.str.len);
            memcpy(copy, key[k].as.str.ptr, key[k].as.str.len);
            dst[k].as.str.ptr = copy;
        }
    }
    s->hashes[s->ngroups] = hash;
    *group = (uint32_t)s->ngroups++;
    if ((s->ngroups + 1) * 2 > s->table_cap) return spk__agg_grow_table(s);
    size_t at = hash & (s->table_cap - 1);
    while (s->table[at]) at = (at + 1) & (s->table_cap - 1);
    s->table[at] = *group + 1;
    return SPK_OK;
}

static spk_status spk__agg_consume(spk__sink *self, spk__vec *const *cols, int ncols, const uint32_t *sel, uint32_t n) {
    spk__agg_sink *s = (spk__agg_sink *)self;
    (void)ncols;
    const spk_df *node = s->node;
    /* grouping keys */
    const spk__vec *keyvec[64];
    for (int k = 0; k < s->nkeys; k++) {
        spk__runner *r = &s->runners[k];
        spk__arena_reset(&r->ev.arena);
        spk__runner_bind_inputs(r, node->bound[k], cols);
        spk__eval_node(r, r->root, sel, n);
        if (r->ev.status != SPK_OK) return r->ev.status;
        keyvec[k] = &r->ev.vecs[r->root->slot];
    }
    spk_status st = SPK_OK;
    if (s->table_cap == 0 && (st = spk__agg_grow_table(s)) != SPK_OK) return st;
    SPK__FOR_ROWS(sel, n, if (st == SPK_OK) {
        spk_value key[64];
        uint64_t h = 0x9e3779b97f4a7c15ULL;
        for (int k = 0; k < s->nkeys; k++) {
            key[k] = spk__vec_get(keyvec[k], i);
            h = spk_hash_u64(h ^ spk_value_hash(&key[k], (uint64_t)k));
        }
        size_t at = h & (s->table_cap - 1);
        uint32_t group = UINT32_MAX;
        while (s->table[at]) {
            uint32_t g = s->table[at] - 1;
            if (s->hashes[g] == h) {
                const spk_value *gk = s->keys + (size_t)g * s->nkeys;
                bool same = true;
                for (int k = 0; k < s->nkeys && same; k++) same = spk_value_equal(&gk[k], &key[k]);
                if (same) {
                    group = g;
                    break;
                }
            }
            at = (at + 1) & (s->table_cap - 1);
        }
        if (group == UINT32_MAX) st = spk__agg_new_group(s, key, h, &group);
        s->groups_of_row[i] = group;
    });
    if (st != SPK_OK) return st;
    /* aggregates: evaluate each one's argument over the batch, then update */
    for (int a = 0; a < s->naggs; a++) {
        spk__agg_slot *ag = &s->aggs[a];
        spk__runner *r = &s->runners[s->nkeys + ag->output];
        spk__arena_reset(&r->ev.arena);
        spk__runner_bind_inputs(r, node->bound[s->nkeys + ag->output], cols);
        spk__eval_node(r, ag->node->args[0], sel, n);
        if (r->ev.status != SPK_OK) return r->ev.status;
        st = ag->node->agg->update(ag->node, ag->states, s->groups_of_row, &r->ev.vecs[ag->node->args[0]->slot], sel, n);
        if (st != SPK_OK) return st;
    }
    return SPK_OK;
}

static void spk__agg_sink_free(spk__agg_sink *s) {
    const spk_allocator *a = &spk__default_allocator;
    for (int i = 0; i < s->naggs; i++) {
        spk__agg_slot *ag = &s->aggs[i];
        if (ag->node->agg->destroy)
            for (size_t g = 0; g < s->ngroups; g++) ag->node->agg->destroy(ag->node, ag->states + g * ag->node->agg->state_size);
        if (ag->states) spk__free(a, ag->states, ag->cap * ag->node->agg->state_size);
    }
    if (s->aggs) spk__free(a, s->aggs, (size_t)(s->naggs ? s->naggs : 1) * sizeof *s->aggs);
    for (int i = 0; s->runners && i < s->node->nexprs; i++) spk__runner_free(&s->runners[i]);
    if (s->runners) spk__free(a, s->runners, (size_t)s->node->nexprs * sizeof *s->runners);
    if (s->keys) spk__free(a, s->keys, s->keys_cap * (size_t)(s->nkeys ? s->nkeys : 1) * sizeof *s->keys);
    if (s->hashes) spk__free(a, s->hashes, s->keys_cap * sizeof *s->hashes);
    if (s->table) spk__free(a, s->table, s->table_cap * sizeof *s->table);
    spk__arena_free(&s->strings);
}

/* Which grouping key, if any, is exactly input column `col`. */
static int spk__key_of_column(const spk_df *node, int col) {
    for (int k = 0; k < node->nkeys; k++)
        if (node->bound[k]->root->kind == SPK__B_COL && node->bound[k]->root->col == col) return k;
    return -1;
}

/* Emits one row per group: the keys, then each output evaluated with its
 * aggregates' final values (and grouping columns) in place. */
static spk_status spk__agg_emit(spk__agg_sink *s, spk_table *out) {
    const spk_df *node = s->node;
    int nout = node->nexprs;
    spk__vec **cols = (spk__vec **)spk__calloc(&spk__default_allocator, (size_t)(nout ? nout : 1) * sizeof *cols);
    if (!cols) return spk__nomem("an aggregation's output", (size_t)nout * sizeof *cols);
    spk__vecset keys, outs; /* grouping columns by input position; key outputs */
    memset(&outs, 0, sizeof outs);
    spk_status st = spk__vecset_init(&keys, node->child->schema);
    if (st == SPK_OK) st = spk__vecset_init(&outs, node->schema);
    /* A global aggregate over no rows still yields one row. */
    size_t groups = s->ngroups;
    if (st == SPK_OK && groups == 0 && s->nkeys == 0) {
        uint32_t g;
        st = spk__agg_new_group(s, NULL, 0, &g);
        groups = 1;
    }
    for (size_t first = 0; st == SPK_OK && first < groups; first += SPK__BATCH) {
        uint32_t n = (uint32_t)(groups - first < SPK__BATCH ? groups - first : SPK__BATCH);
        /* grouping columns as input vectors, for outputs that use them */
        for (int k = 0; k < s->nkeys; k++) {
            const spk_bound *kb = node->bound[k];
            if (kb->root->kind != SPK__B_COL) continue;
            spk__vec *v = &keys.vecs[kb->root->col];
            for (uint32_t i = 0; i < n; i++) spk__vec_set(v, i, &s->keys[(first + i) * (size_t)s->nkeys + k]);
        }
        for (int a = 0; a < s->naggs; a++) {
            spk__agg_slot *ag = &s->aggs[a];
            spk__vec *v = &s->runners[s->nkeys + ag->output].ev.vecs[ag->node->slot];
            for (uint32_t i = 0; i < n; i++)
                ag->node->agg->final(ag->node, ag->states + (first + i) * ag->node->agg->state_size, v, i);
        }
        for (int o = 0; o < nout && st == SPK_OK; o++) {
            spk__runner *r = &s->runners[o];
            const spk_bound *b = node->bound[o];
            if (o < s->nkeys) { /* the key values themselves */
                spk__vec *v = &outs.vecs[o];
                for (uint32_t i = 0; i < n; i++) spk__vec_set(v, i, &s->keys[(first + i) * (size_t)s->nkeys + o]);
                cols[o] = v;
                continue;
            }
            /* Columns outside aggregates are grouping keys (checked when the
             * frame was built): give them the groups' key values. */
            int ncols = spk_schema_ncols(b->schema);
            for (int c = 0; c < ncols; c++)
                if (b->col_slot[c] >= 0 && spk__key_of_column(node, c) >= 0) r->ev.vecs[b->col_slot[c]] = keys.vecs[c];
            spk__arena_reset(&r->ev.arena);
            spk__eval_node(r, r->root, NULL, n);
            st = r->ev.status;
            cols[o] = &r->ev.vecs[r->root->slot];
        }
        if (st == SPK_OK) st = spk__table_append_vecs(out, cols, NULL, n);
    }
    spk__vecset_free(&keys);
    spk__vecset_free(&outs);
    spk__free(&spk__default_allocator, cols, (size_t)(nout ? nout : 1) * sizeof *cols);
    return st;
}

static spk_status spk__run_aggregate(const spk_df *node, spk_table *out) {
    spk__agg_sink s;
    memset(&s, 0, sizeof s);
    s.base.consume = spk__agg_consume;
    s.node = node;
    s.nkeys = node->nkeys;
    s.strings.alloc = &spk__default_allocator;
    if (node->nkeys > 64) return spk__fail(SPK_ERR_LIMIT, "at most 64 grouping keys");
    const spk_allocator *a = &spk__default_allocator;
    spk_status st = SPK_OK;
    s.runners = (spk__runner *)spk__calloc(a, (size_t)(node->nexprs ? node->nexprs : 1) * sizeof *s.runners);
    if (!s.runners) return spk__nomem("evaluators", sizeof *s.runners);
    int made = 0;
    for (; made < node->nexprs && st == SPK_OK; made++) st = spk__runner_init(&s.runners[made], node->bound[made]->root, node->bound[made]->nslots);
    int total = 0;
    for (int o = node->nkeys; o < node->nexprs; o++) total += spk__count_agg_nodes(node->bound[o]->root);
    if (st == SPK_OK) {
        s.aggs = (spk__agg_slot *)spk__calloc(a, (size_t)(total ? total : 1) * sizeof *s.aggs);
        if (!s.aggs) st = spk__nomem("aggregates", (size_t)total * sizeof *s.aggs);
        for (int o = node->nkeys; st == SPK_OK && o < node->nexprs; o++)
            spk__collect_agg_nodes(node->bound[o]->root, o - node->nkeys, s.aggs, &s.naggs, total);
    }
    if (st == SPK_OK) st = spk__stream(node->child, &s.base);
    if (st == SPK_OK) st = spk__agg_emit(&s, out);
    if (made < node->nexprs) { /* runners past a failure were never set up */
        for (int i = made; i < node->nexprs; i++) memset(&s.runners[i], 0, sizeof s.runners[i]);
    }
    spk__agg_sink_free(&s);
    return st;
}

/* ---------------------------------------------------------------- sorting */

typedef struct spk__sort_ctx {
    const spk_value *keys; /* nrows * nkeys */
    int nkeys;
    const bool *desc, *nulls_first;
} spk__sort_ctx;

static int spk__sort_cmp(const spk__sort_ctx *c, uint32_t a, uint32_t b) {
    const spk_value *ka = c->keys + (size_t)a * c->nkeys, *kb = c->keys + (size_t)b * c->nkeys;
    for (int k = 0; k < c->nkeys; k++) {
        bool an = ka[k].is_null || ka[k].type.id == SPK_TYPE_NULL, bn = kb[k].is_null || kb[k].type.id == SPK_TYPE_NULL;
        int r;
        if (an || bn) r = an == bn ? 0 : (an ? -1 : 1) * (c->nulls_first[k] ? 1 : -1);
        else r = spk_value_compare(&ka[k], &kb[k], true) * (c->desc[k] ? -1 : 1);
        if (r) return r;
    }
    return (a > b) - (a < b); /* stable */
}

/* Merge sort of row indices: stable and O(n log n) whatever the keys. */
static void spk__merge_sort(const spk__sort_ctx *c, uint32_t *idx, uint32_t *tmp, size_t n) {
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) tmp[k++] = spk__sort_cmp(c, idx[i], idx[j]) <= 0 ? idx[i++] : idx[j++];
            while (i < mid) tmp[k++] = idx[i++];
            while (j < hi) tmp[k++] = idx[j++];
        }
        memcpy(idx, tmp, n * sizeof *idx);
    }
}

static spk_status spk__run_sort(const spk_df *node, spk_table *out) {
    spk_table *in = NULL;
    bool owned = false;
    spk_status st = spk__materialize(node->child, &in, &owned);
    if (st != SPK_OK) return st;
    const spk_allocator *a = &spk__default_allocator;
    size_t rows = spk_table_nrows(in);
    int nkeys = node->nexprs;
    size_t kbytes = (rows ? rows : 1) * (size_t)nkeys * sizeof(spk_value);
    spk_value *keys = (spk_value *)spk__alloc(a, kbytes);
    uint32_t *idx = keys ? (uint32_t *)spk__alloc(a, (rows ? rows : 1) * sizeof *idx) : NULL;
    uint32_t *tmp = idx ? (uint32_t *)spk__alloc(a, (rows ? rows : 1) * sizeof *tmp) : NULL;
    bool desc[64], nulls_first[64];
    spk__arena strings = {a, NULL};
    spk__runner runners[64];
    int made = 0;
    if (!tmp) st = spk__nomem("a sort", kbytes);
    if (st == SPK_OK && (rows > UINT32_MAX || nkeys > 64)) st = spk__fail(SPK_ERR_LIMIT, "sort: too many rows or keys");
    for (; st == SPK_OK && made < nkeys; made++) {
        desc[made] = node->exprs[made]->descending;
        nulls_first[made] = node->exprs[made]->nulls_first;
        st = spk__runner_init(&runners[made], node->bound[made]->root, node->bound[made]->nslots);
    }
    spk__vecset vs;
    memset(&vs, 0, sizeof vs);
    if (st == SPK_OK) st = spk__vecset_init(&vs, spk_table_schema(in));
    size_t row = 0;
    for (size_t ci = 0; st == SPK_OK && ci < in->nchunks; ci++) {
        const spk__chunk *c = in->chunks[ci];
        for (uint32_t start = 0; st == SPK_OK && start < c->nrows; start += SPK__BATCH) {
            uint32_t n = c->nrows - start < SPK__BATCH ? c->nrows - start : SPK__BATCH;
            spk__load_batch(in, c, start, n, vs.vecs);
            for (int k = 0; k < nkeys && st == SPK_OK; k++) {
                spk__runner *r = &runners[k];
                spk__arena_reset(&r->ev.arena);
                spk__runner_bind_inputs(r, node->bound[k], vs.ptrs);
                spk__eval_node(r, r->root, NULL, n);
                st = r->ev.status;
                const spk__vec *v = &r->ev.vecs[r->root->slot];
                for (uint32_t i = 0; i < n && st == SPK_OK; i++) {
                    spk_value x = spk__vec_get(v, i);
                    if (!x.is_null && x.type.id == SPK_TYPE_STRING && x.as.str.len) { /* keep the bytes past this batch */
                        char *copy = spk__arena_alloc(&strings, x.as.str.len);
                        if (!copy) st = spk__nomem("sort keys", x.as.str.len);
                        else memcpy(copy, x.as.str.ptr, x.as.str.len);
                        x.as.str.ptr = copy;
                    }
                    keys[(row + i) * (size_t)nkeys + k] = x;
                }
            }
            row += n;
        }
    }
    if (st == SPK_OK) {
        for (size_t i = 0; i < rows; i++) idx[i] = (uint32_t)i;
        spk__sort_ctx ctx = {keys, nkeys, desc, nulls_first};
        spk__merge_sort(&ctx, idx, tmp, rows);
        /* Copy rows out in order; each chunk holds SPK_CHUNK_ROWS rows except the last. */
        for (size_t i = 0; i < rows && st == SPK_OK; i++) {
            size_t r = idx[i];
            size_t lo = 0, hi = in->nchunks;
            while (hi - lo > 1) {
                size_t mid = lo + (hi - lo) / 2;
                if (in->chunks[mid]->first_row <= r) lo = mid;
                else hi = mid;
            }
            uint32_t within = (uint32_t)(r - in->chunks[lo]->first_row);
            st = spk__table_append_slots(out, in, in->chunks[lo], within, NULL, 1);
        }
    }
    spk__vecset_free(&vs);
    for (int k = 0; k < made; k++) spk__runner_free(&runners[k]);
    spk__arena_free(&strings);
    if (tmp) spk__free(a, tmp, (rows ? rows : 1) * sizeof *tmp);
    if (idx) spk__free(a, idx, (rows ? rows : 1) * sizeof *idx);
    if (keys) spk__free(a, keys, kbytes);
    if (owned) spk_table_free(in);
    return st;
}

/* ---------------------------------------------------------------- materializing */

/* The union's second input may need its columns cast to the union's types. */
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

/* Lays the columns of t out as arrays; takes t over if `owned` (also on failure). */
static spk_status spk__columns_load(spk__columns *c, spk_table *t, bool owned) {
    memset(c, 0, sizeof *c);
    c->table = t;
    c->owned = owned;
    size_t rows = spk_table_nrows(t);
    if (rows >= SPK__NO_ROW) return spk__fail(SPK_ERR_LIMIT, "an input of a join or set operation has more than %u rows", SPK__NO_ROW - 1);
    c->nrows = (uint32_t)rows;
    c->ncols = t->ncols;
    size_t size = 2 * (size_t)c->ncols * sizeof(spk__vec) + 16;
    for (int i = 0; i < c->ncols; i++)
        size += 16 + rows * (1 + spk__phys_size((spk_type_id)spk_schema_field(t->schema, i)->type.id));
    if (!(c->block = spk__alloc(&spk__default_allocator, size))) return spk__nomem("a join or set operation input", size);
    c->size = size;
    char *at = (char *)c->block;
    c->cols = (spk__vec *)(void *)at;
    at += (size_t)c->ncols * sizeof(spk__vec);
    spk__vec *part = (spk__vec *)(void *)at; /* views at each chunk's first row */
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
    size_t row = 0;
    for (size_t ci = 0; ci < t->nchunks; ci++) {
        const spk__chunk *ch = t->chunks[ci];
        for (int i = 0; i < c->ncols; i++) {
            part[i] = c->cols[i];
            part[i].v.any = (char *)c->cols[i].v.any + row * spk__phys_size((spk_type_id)c->cols[i].type.id);
            part[i].nulls = c->cols[i].nulls + row;
        }
        spk__load_batch(t, ch, 0, ch->nrows, part);
        row += ch->nrows;
    }
    return SPK_OK;
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

/* The distinct keys of the rows of `in`: each group's first row, and each
 * row's group. Sized for every row being distinct, so it never grows. */
typedef struct spk__groups {
    const spk__columns *in;
    const int *keys;
    int nkeys;
    uint32_t *slots; /* open addressing: group + 1, 0 = empty */
    size_t mask;
    uint32_t *first, *of_row;
    uint64_t *hash;  /* per group */
    uint32_t n;
    void *block;
    size_t size;
} spk__groups;

static void spk__groups_free(spk__groups *g) {
    if (g->block) spk__free(&spk__default_allocator, g->block, g->size);
    g->block = NULL;
}

static uint32_t spk__groups_find(const spk__groups *g, const spk__columns *c, uint32_t row, uint64_t h, size_t *slot) {
    size_t at = h & g->mask;
    while (g->slots[at]) {
        uint32_t k = g->slots[at] - 1;
        if (g->hash[k] == h && spk__rows_equal(g->in, g->first[k], c, row, g->keys, g->nkeys)) {
            *slot = at;
            return k;
        }
        at = (at + 1) & g->mask;
    }
    *slot = at;
    return SPK__NO_ROW;
}

static spk_status spk__groups_build(spk__groups *g, const spk__columns *in, const int *keys, int nkeys) {
    memset(g, 0, sizeof *g);
    g->in = in;
    g->keys = keys;
    g->nkeys = nkeys;
    size_t cap = 16;
    while (cap < 2 * (size_t)in->nrows) cap *= 2;
    g->mask = cap - 1;
    g->size = cap * sizeof(uint32_t) + (size_t)in->nrows * (2 * sizeof(uint32_t) + sizeof(uint64_t));
    if (!(g->block = spk__calloc(&spk__default_allocator, g->size))) return spk__nomem("a hash table", g->size);
    g->hash = (uint64_t *)g->block; /* the 8-byte array first, for alignment */
    g->slots = (uint32_t *)(void *)(g->hash + in->nrows);
    g->first = g->slots + cap;
    g->of_row = g->first + in->nrows;
    for (uint32_t r = 0; r < in->nrows; r++) {
        uint64_t h = spk__row_hash(in, keys, nkeys, r);
        size_t slot;
        uint32_t k = spk__groups_find(g, in, r, h, &slot);
        if (k == SPK__NO_ROW) {
            k = g->n++;
            g->first[k] = r;
            g->hash[k] = h;
            g->slots[slot] = k + 1;
        }
        g->of_row[r] = k;
    }
    return SPK_OK;
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
    spk__cast_sink s;
    spk__cast_sink_init(&s, t);
    st = spk__vecset_init(&s.cast, spk_table_schema(t));
    if (st == SPK_OK) st = spk__stream(child, &s.base);
    spk__cast_sink_free(&s);
    if (st != SPK_OK) {
        spk_table_free(t);
        return st;
    }
    *out = t;
    *owned = true;
    return SPK_OK;
}

/* intersect, intersectAll, subtract, exceptAll: the first input's rows in
 * their order, each kept by how often its row occurs in the second. */
static spk_status spk__run_set_op(const spk_df *df, spk_table *out) {
    spk__columns a, b;
    spk__groups g;
    spk__emitter e;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&g, 0, sizeof g);
    memset(&e, 0, sizeof e);
    int n = spk_schema_ncols(df->schema);
    size_t ksize = (size_t)(n ? n : 1) * sizeof(int);
    int *keys = (int *)spk__alloc(&spk__default_allocator, ksize);
    uint32_t *count = NULL, *used = NULL; /* per group: rows of b, rows of a seen */
    size_t csize = 0;
    spk_table *t = NULL;
    bool owned = false;
    spk_status st = keys ? SPK_OK : spk__nomem("a set operation", ksize);
    if (st == SPK_OK && (st = spk__materialize_as(df->child, df, &t, &owned)) == SPK_OK) st = spk__columns_load(&a, t, owned);
    if (st == SPK_OK && (st = spk__materialize_as(df->right, df, &t, &owned)) == SPK_OK) st = spk__columns_load(&b, t, owned);
    for (int i = 0; keys && i < n; i++) keys[i] = i;
    if (st == SPK_OK) st = spk__groups_build(&g, &a, keys, n);
    if (st == SPK_OK) {
        csize = (size_t)(g.n ? g.n : 1) * sizeof(uint32_t);
        count = (uint32_t *)spk__calloc(&spk__default_allocator, 2 * csize);
        if (!count) st = spk__nomem("a set operation", 2 * csize);
        else used = count + (g.n ? g.n : 1);
    }
    for (uint32_t r = 0; st == SPK_OK && r < b.nrows; r++) {
        size_t slot;
        uint32_t k = spk__groups_find(&g, &b, r, spk__row_hash(&b, keys, n, r), &slot);
        if (k != SPK__NO_ROW) count[k]++; /* fewer than 2^32 - 1 rows: cannot overflow */
    }
    if (st == SPK_OK) st = spk__emitter_init(&e, out, &a);
    bool intersect = df->kind == SPK__P_INTERSECT;
    for (uint32_t r = 0; st == SPK_OK && r < a.nrows; r++) {
        uint32_t k = g.of_row[r];
        bool keep;
        if (df->all) keep = intersect ? used[k]++ < count[k] : ++used[k] > count[k];
        else keep = g.first[k] == r && (intersect ? count[k] > 0 : count[k] == 0);
        if (keep) st = spk__emit(&e, r);
    }
    if (st == SPK_OK) st = spk__emit_flush(&e);
    spk__vecset_free(&e.batch);
    if (count) spk__free(&spk__default_allocator, count, 2 * csize);
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
    spk__emitter e;
    memset(&c, 0, sizeof c);
    memset(&g, 0, sizeof g);
    memset(&e, 0, sizeof e);
    int ncols = spk_schema_ncols(df->child->schema), nkeys = df->nexprs ? df->nexprs : ncols;
    size_t ksize = (size_t)(nkeys ? nkeys : 1) * sizeof(int);
    int *keys = (int *)spk__alloc(&spk__default_allocator, ksize);
    spk_table *t = NULL;
    bool owned = false;
    spk_status st = keys ? SPK_OK : spk__nomem("dropDuplicates", ksize);
    for (int k = 0; keys && k < nkeys; k++) keys[k] = df->nexprs ? df->bound[k]->root->col : k;
    if (st == SPK_OK && (st = spk__materialize(df->child, &t, &owned)) == SPK_OK) st = spk__columns_load(&c, t, owned);
    if (st == SPK_OK) st = spk__groups_build(&g, &c, keys, nkeys);
    if (st == SPK_OK) st = spk__emitter_init(&e, out, &c);
    for (uint32_t r = 0; st == SPK_OK && r < c.nrows; r++)
        if (g.first[g.of_row[r]] == r) st = spk__emit(&e, r);
    if (st == SPK_OK) st = spk__emit_flush(&e);
    spk__vecset_free(&e.batch);
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
 * the end, and semi and anti joins output the left rows that did (not). */

typedef struct spk__jkey {
    const spk__bnode *expr[2]; /* per side: the key expression */
    bool null_safe;            /* <=>: NULL matches NULL */
    spk__vec vals[2];          /* per side: every row's key (a column of the side, or computed) */
    void *block[2];            /* computed keys' storage */
    size_t size[2];
} spk__jkey;

typedef struct spk__join_run {
    const spk_df *node;
    int type;                  /* spk__jtype */
    int nl;                    /* columns of the left side */
    spk__columns side[2];
    const spk_bound *cond;     /* NULL: none */
    spk__jkey *keys;
    int nkeys;
    const spk__bnode **resid;
    int nresid;
    bool never;                /* a conjunct is constant false or NULL */
    spk__runner rr;            /* evaluates the residual */
    bool rr_ready;
    spk__vecset batch[2];      /* a batch of each side's columns */
    spk__vec **both;           /* left's then right's: the condition's input and the output row */
    uint8_t *matched[2];       /* per row of a side, where the join type needs it */
    uint32_t *pair[2];         /* SPK__BATCH candidate pairs (row of each side) */
    uint32_t *sel;
    uint32_t npairs;
    bool check;                /* pairs are candidates (else unmatched rows to output as they are) */
    uint64_t *hash[2];
    uint8_t *dead[2];          /* a NULL in a key that is not <=>: matches nothing */
    spk__arena strings;        /* bytes of computed string keys */
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

/* Every row's keys on side s, then their hashes and NULL marks. */
static spk_status spk__join_keys(spk__join_run *j, int s) {
    const spk__columns *c = &j->side[s];
    int offset = s ? j->nl : 0, total = j->side[0].ncols + j->side[1].ncols;
    bool computed = false;
    for (int k = 0; k < j->nkeys; k++) {
        spk__jkey *key = &j->keys[k];
        const spk__bnode *e = key->expr[s];
        if (e->kind == SPK__B_COL) { /* the side's own column: no copy */
            key->vals[s] = c->cols[e->col - offset];
            continue;
        }
        computed = true;
        size_t w = spk__phys_size((spk_type_id)e->type.id), size = (size_t)c->nrows * (w + 1) + 16;
        if (!(key->block[s] = spk__alloc(&spk__default_allocator, size))) return spk__nomem("join keys", size);
        key->size[s] = size;
        key->vals[s].type = e->type;
        key->vals[s].v.any = key->block[s];
        key->vals[s].nulls = (uint8_t *)key->block[s] + (size_t)c->nrows * w;
    }
    spk_status st = SPK_OK;
    if (computed) { /* evaluate the key expressions a batch at a time, over views of the columns */
        size_t vsize = (size_t)(total ? total : 1) * (sizeof(spk__vec) + sizeof(spk__vec *));
        spk__vec *views = (spk__vec *)spk__calloc(&spk__default_allocator, vsize);
        spk__vec **ptrs = views ? (spk__vec **)(void *)(views + (total ? total : 1)) : NULL;
        spk__runner kr;
        bool ready = false;
        if (!views) st = spk__nomem("join keys", vsize);
        else if ((st = spk__runner_init(&kr, j->cond->root, j->cond->nslots)) == SPK_OK) ready = true;
        for (int i = 0; ptrs && i < total; i++) {
            views[i].type = j->side[i < j->nl ? 0 : 1].cols[i < j->nl ? i : i - j->nl].type;
            ptrs[i] = &views[i];
        }
        for (uint32_t start = 0; st == SPK_OK && start < c->nrows; start += SPK__BATCH) {
            uint32_t n = c->nrows - start < SPK__BATCH ? c->nrows - start : SPK__BATCH;
            for (int i = 0; i < c->ncols; i++) {
                spk__vec *v = &views[offset + i];
                v->v.any = (char *)c->cols[i].v.any + (size_t)start * spk__phys_size((spk_type_id)v->type.id);
                v->nulls = c->cols[i].nulls + start;
            }
            spk__arena_reset(&kr.ev.arena);
            spk__runner_bind_inputs(&kr, j->cond, ptrs);
            for (int k = 0; k < j->nkeys && st == SPK_OK; k++) {
                spk__jkey *key = &j->keys[k];
                if (!key->block[s]) continue;
                spk__eval_node(&kr, key->expr[s], NULL, n);
                if ((st = kr.ev.status) != SPK_OK) break;
                const spk__vec *r = &kr.ev.vecs[key->expr[s]->slot];
                size_t w = spk__phys_size((spk_type_id)r->type.id);
                memcpy((char *)key->vals[s].v.any + (size_t)start * w, r->v.any, (size_t)n * w);
                memcpy(key->vals[s].nulls + start, r->nulls, n);
                if (r->type.id != SPK_TYPE_STRING) continue;
                for (uint32_t i = 0; i < n && st == SPK_OK; i++) { /* the batch's strings die with it: keep copies */
                    spk__str *x = &key->vals[s].v.str[start + i];
                    if (r->nulls[i] || !x->len) continue;
                    char *copy = spk__arena_alloc(&j->strings, x->len);
                    if (!copy) st = spk__nomem("join keys", x->len);
                    else memcpy(copy, x->ptr, x->len);
                    x->ptr = copy;
                }
            }
        }
        if (ready) spk__runner_free(&kr);
        if (views) spk__free(&spk__default_allocator, views, vsize);
    }
    for (uint32_t r = 0; st == SPK_OK && r < c->nrows; r++) {
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

static bool spk__join_keys_equal(const spk__join_run *j, uint32_t l, uint32_t r) {
    for (int k = 0; k < j->nkeys; k++) {
        spk_value x = spk__vec_get(&j->keys[k].vals[0], l), y = spk__vec_get(&j->keys[k].vals[1], r);
        if (!spk_value_equal(&x, &y)) return false;
    }
    return true;
}

/* The pairs gathered so far: candidates are checked against the residual,
 * marked as matched and output; unmatched rows are output as they are. */
static spk_status spk__join_flush(spk__join_run *j) {
    uint32_t n = j->npairs;
    j->npairs = 0;
    if (!n) return SPK_OK;
    bool outputs = j->type != SPK__J_SEMI && j->type != SPK__J_ANTI;
    for (int s = 0; s < 2; s++)
        for (int c = 0; c < j->side[s].ncols; c++) spk__gather(&j->batch[s].vecs[c], &j->side[s].cols[c], j->pair[s], n);
    const uint32_t *sel = NULL;
    uint32_t m = n;
    if (j->check) {
        for (int c = 0; c < j->nresid && m > 0; c++) {
            const spk__bnode *b = j->resid[c];
            spk__arena_reset(&j->rr.ev.arena);
            spk__runner_bind_inputs(&j->rr, j->cond, j->both);
            spk__eval_node(&j->rr, b, sel, m);
            if (j->rr.ev.status != SPK_OK) return j->rr.ev.status;
            const spk__vec *v = &j->rr.ev.vecs[b->slot];
            uint32_t kept = 0;
            SPK__FOR_ROWS(sel, m, {
                j->sel[kept] = i;
                kept += !v->nulls[i] & (v->v.b[i] != 0);
            });
            sel = j->sel;
            m = kept;
        }
        for (int s = 0; s < 2; s++)
            if (j->matched[s]) SPK__FOR_ROWS(sel, m, j->matched[s][j->pair[s][i]] = 1);
    }
    if (!outputs || m == 0) return SPK_OK;
    return spk__table_append_vecs(j->out, j->both, sel, m);
}

static spk_status spk__join_pair(spk__join_run *j, uint32_t l, uint32_t r) {
    j->pair[0][j->npairs] = l;
    j->pair[1][j->npairs] = r;
    return ++j->npairs == SPK__BATCH ? spk__join_flush(j) : SPK_OK;
}

/* The candidate pairs: through the hash table, or every pair. */
static spk_status spk__join_match(spk__join_run *j) {
    uint32_t nrows[2] = {j->side[0].nrows, j->side[1].nrows};
    bool existence = (j->type == SPK__J_SEMI || j->type == SPK__J_ANTI) && !j->nresid; /* one match decides */
    spk_status st = SPK_OK;
    if (j->never || !nrows[0] || !nrows[1]) return SPK_OK;
    if (!j->nkeys) { /* nested loop, left-major */
        for (uint32_t l = 0; l < nrows[0] && st == SPK_OK; l++) {
            if (existence) {
                j->matched[0][l] = 1;
                continue;
            }
            if (j->matched[0] && (j->type == SPK__J_SEMI || j->type == SPK__J_ANTI) && j->matched[0][l]) continue;
            for (uint32_t r = 0; r < nrows[1] && st == SPK_OK; r++) st = spk__join_pair(j, l, r);
        }
        return st;
    }
    for (int s = 0; s < 2 && st == SPK_OK; s++) st = spk__join_keys(j, s);
    if (st != SPK_OK) return st;
    /* Build on the smaller side (the right one on a tie, so output follows the left's order). */
    int b = nrows[1] <= nrows[0] ? 1 : 0, p = 1 - b;
    size_t cap = 16;
    while (cap < 2 * (size_t)nrows[b]) cap *= 2;
    size_t size = cap * sizeof(uint32_t) + (size_t)nrows[b] * sizeof(uint32_t);
    uint32_t *heads = (uint32_t *)spk__calloc(&spk__default_allocator, size), *next = heads ? heads + cap : NULL;
    if (!heads) return spk__nomem("a hash table", size);
    for (uint32_t r = nrows[b]; r-- > 0;) { /* chains in row order */
        if (j->dead[b][r]) continue;
        size_t at = j->hash[b][r] & (cap - 1);
        next[r] = heads[at];
        heads[at] = r + 1;
    }
    for (uint32_t q = 0; q < nrows[p] && st == SPK_OK; q++) {
        if (j->dead[p][q]) continue;
        if (p == 0 && j->matched[0] && (j->type == SPK__J_SEMI || j->type == SPK__J_ANTI) && j->matched[0][q]) continue;
        uint64_t h = j->hash[p][q];
        for (uint32_t e = heads[h & (cap - 1)]; e && st == SPK_OK; e = next[e - 1]) {
            uint32_t r = e - 1, l = p == 0 ? q : r, rr = p == 0 ? r : q;
            if (j->hash[b][r] != h || !spk__join_keys_equal(j, l, rr)) continue;
            if (existence) {
                j->matched[0][l] = 1;
                if (p == 0) break;
                continue;
            }
            st = spk__join_pair(j, l, rr);
        }
    }
    spk__free(&spk__default_allocator, heads, size);
    return st;
}

static void spk__join_run_free(spk__join_run *j) {
    const spk_allocator *a = &spk__default_allocator;
    for (int k = 0; j->keys && k < j->nkeys; k++)
        for (int s = 0; s < 2; s++)
            if (j->keys[k].block[s]) spk__free(a, j->keys[k].block[s], j->keys[k].size[s]);
    for (int s = 0; s < 2; s++) {
        if (j->matched[s]) spk__free(a, j->matched[s], j->side[s].nrows ? j->side[s].nrows : 1);
        if (j->hash[s]) spk__free(a, j->hash[s], (size_t)(j->side[s].nrows ? j->side[s].nrows : 1) * (sizeof(uint64_t) + 1));
        spk__vecset_free(&j->batch[s]);
        spk__columns_free(&j->side[s]);
    }
    int nconj = j->cond ? spk__count_conjuncts(j->cond->root) : 0;
    if (j->keys) spk__free(a, j->keys, (size_t)(nconj ? nconj : 1) * sizeof *j->keys);
    if (j->resid) spk__free(a, j->resid, (size_t)(nconj ? nconj : 1) * sizeof *j->resid);
    if (j->both) spk__free(a, j->both, (size_t)(j->side[0].ncols + j->side[1].ncols + 1) * sizeof *j->both);
    if (j->pair[0]) spk__free(a, j->pair[0], 3 * SPK__BATCH * sizeof(uint32_t));
    if (j->rr_ready) spk__runner_free(&j->rr);
    spk__arena_free(&j->strings);
}

static spk_status spk__run_join(const spk_df *df, spk_table *out) {
    const spk_allocator *a = &spk__default_allocator;
    spk__join_run j;
    memset(&j, 0, sizeof j);
    j.node = df;
    j.type = df->join;
    j.out = out;
    j.cond = df->nexprs ? df->bound[0] : NULL;
    j.strings.alloc = a;
    spk_status st = SPK_OK;
    for (int s = 0; s < 2 && st == SPK_OK; s++) {
        spk_table *t = NULL;
        bool owned = false;
        if ((st = spk__materialize(s ? df->right : df->child, &t, &owned)) == SPK_OK) st = spk__columns_load(&j.side[s], t, owned);
    }
    /* side[] may be partly set up on failure; freeing below copes */
    int total = j.side[0].ncols + j.side[1].ncols;
    j.nl = j.side[0].ncols;
    int nconj = j.cond ? spk__count_conjuncts(j.cond->root) : 0;
    if (st == SPK_OK) {
        j.keys = (spk__jkey *)spk__calloc(a, (size_t)(nconj ? nconj : 1) * sizeof *j.keys);
        j.resid = j.keys ? (const spk__bnode **)spk__calloc(a, (size_t)(nconj ? nconj : 1) * sizeof *j.resid) : NULL;
        j.both = j.resid ? (spk__vec **)spk__calloc(a, (size_t)(total + 1) * sizeof *j.both) : NULL;
        j.pair[0] = j.both ? (uint32_t *)spk__alloc(a, 3 * SPK__BATCH * sizeof(uint32_t)) : NULL;
        if (!j.pair[0]) st = spk__nomem("a join", 3 * SPK__BATCH * sizeof(uint32_t));
        else {
            j.pair[1] = j.pair[0] + SPK__BATCH;
            j.sel = j.pair[1] + SPK__BATCH;
        }
    }
    if (st == SPK_OK && j.cond) spk__join_conjuncts(&j, j.cond->root);
    if (st == SPK_OK && j.cond && (st = spk__runner_init(&j.rr, j.cond->root, j.cond->nslots)) == SPK_OK) j.rr_ready = true;
    for (int s = 0; s < 2 && st == SPK_OK; s++) st = spk__vecset_init(&j.batch[s], spk_table_schema(j.side[s].table));
    for (int i = 0; st == SPK_OK && i < total; i++) j.both[i] = i < j.nl ? j.batch[0].ptrs[i] : j.batch[1].ptrs[i - j.nl];
    for (int s = 0; s < 2 && st == SPK_OK; s++) {
        size_t rows = j.side[s].nrows ? j.side[s].nrows : 1;
        bool need = s == 0 ? j.type == SPK__J_LEFT || j.type == SPK__J_FULL || j.type == SPK__J_SEMI || j.type == SPK__J_ANTI
                           : j.type == SPK__J_RIGHT || j.type == SPK__J_FULL;
        if (need && !(j.matched[s] = (uint8_t *)spk__calloc(a, rows))) st = spk__nomem("a join", rows);
        if (st == SPK_OK && j.nkeys && !(j.hash[s] = (uint64_t *)spk__alloc(a, rows * (sizeof(uint64_t) + 1))))
            st = spk__nomem("a join", rows * 9);
        if (j.hash[s]) j.dead[s] = (uint8_t *)(j.hash[s] + rows);
    }
    j.check = true;
    if (st == SPK_OK) st = spk__join_match(&j);
    if (st == SPK_OK) st = spk__join_flush(&j);
    /* what the join type adds: unmatched rows of an outer side, or the left rows of a semi or anti join */
    j.check = false;
    if (st == SPK_OK && (j.type == SPK__J_SEMI || j.type == SPK__J_ANTI)) {
        uint8_t want = j.type == SPK__J_SEMI;
        uint32_t n = 0;
        for (uint32_t r = 0; st == SPK_OK && r <= j.side[0].nrows; r++) {
            if (r < j.side[0].nrows && j.matched[0][r] == want) j.pair[0][n++] = r;
            if (n == SPK__BATCH || (r == j.side[0].nrows && n)) {
                for (int c = 0; c < j.nl; c++) spk__gather(&j.batch[0].vecs[c], &j.side[0].cols[c], j.pair[0], n);
                st = spk__table_append_vecs(out, j.batch[0].ptrs, NULL, n);
                n = 0;
            }
        }
    }
    for (int s = 0; s < 2 && st == SPK_OK; s++) {
        if (!j.matched[s] || j.type == SPK__J_SEMI || j.type == SPK__J_ANTI) continue;
        for (uint32_t r = 0; r < j.side[s].nrows && st == SPK_OK; r++)
            if (!j.matched[s][r]) st = spk__join_pair(&j, s ? SPK__NO_ROW : r, s ? r : SPK__NO_ROW);
        if (st == SPK_OK) st = spk__join_flush(&j);
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
    case SPK__P_SORT: st = spk__run_sort(df, t); break;
    case SPK__P_DISTINCT:
    case SPK__P_DEDUP: st = spk__run_dedup(df, t); break;
    case SPK__P_INTERSECT:
    case SPK__P_EXCEPT: st = spk__run_set_op(df, t); break;
    case SPK__P_JOIN: st = spk__run_join(df, t); break;
    case SPK__P_UNION: {
        spk__cast_sink s;
        spk__cast_sink_init(&s, t);
        st = spk__vecset_init(&s.cast, df->schema);
        if (st == SPK_OK) st = spk__stream(df->child, &s.base);
        s.base.done = false; /* a limit that ended the left side says nothing of the right */
        if (st == SPK_OK) st = spk__stream(df->right, &s.base);
        spk__cast_sink_free(&s);
        break;
    }
    default: {
        spk__append_sink s = {{spk__append_consume, false}, t};
        st = spk__stream(df, &s.base);
        break;
    }
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
        for (size_t ci = 0; ci < t->nchunks && st == SPK_OK; ci++)
            st = spk__table_append_slots(copy, t, t->chunks[ci], 0, NULL, t->chunks[ci]->nrows);
        if (st != SPK_OK) {
            spk_table_free(copy);
            return st;
        }
        t = copy;
    }
    *out = t;
    return SPK_OK;
}

/* Streams the optimised plan of df into a sink. */
static spk_status spk__run_stream(const spk_df *df, spk__sink *sink) {
    spk_df *run = spk__optimize(df);
    if (!run) return spk_last_status();
    spk_status st = spk__stream(run, sink);
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
    spk__count_sink s = {{spk__count_consume, false}, 0};
    spk_status st = spk__run_stream(df, &s.base);
    if (st == SPK_OK) *out = s.rows;
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
    spk_status st = spk__run_stream(df, &s.base);
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

SPKDEF void spk_string_free(char *s) {
    if (s) spk__free(&spk__default_allocator, s, strlen(s) + 1);
}

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
            char *copy = cell.failed ? NULL : spk__strndup(&spk__default_allocator, cell.p, cell.len);
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
        char *sep = text.failed ? NULL : spk__strndup(&spk__default_allocator, text.p, text.len);
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

