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
    for (int col = 0; col < t->ncols; col++) {
        spk__vec *v = &vecs[col];
        uint32_t off = t->offset[col], w = t->width;
        const unsigned char *rows = c->rows + (size_t)start * w;
        unsigned char bit = (unsigned char)(1u << (col & 7));
        int byte = col >> 3;
        switch ((spk_type_id)v->type.id) {
        case SPK_TYPE_BOOLEAN:
            for (uint32_t i = 0; i < n; i++) {
                v->nulls[i] = (rows[(size_t)i * w + byte] & bit) != 0;
                v->v.b[i] = rows[(size_t)i * w + off];
            }
            break;
        case SPK_TYPE_INT32:
        case SPK_TYPE_DATE:
            for (uint32_t i = 0; i < n; i++) {
                v->nulls[i] = (rows[(size_t)i * w + byte] & bit) != 0;
                memcpy(&v->v.i32[i], rows + (size_t)i * w + off, 4);
            }
            break;
        case SPK_TYPE_STRING:
            for (uint32_t i = 0; i < n; i++) {
                uint32_t from = spk__string_start(t, c, start + i, col), to = spk__load_u32(rows + (size_t)i * w + off);
                v->nulls[i] = (rows[(size_t)i * w + byte] & bit) != 0;
                v->v.str[i].ptr = c->heap ? c->heap + from : "";
                v->v.str[i].len = to - from;
            }
            break;
        case SPK_TYPE_NULL:
        case SPK_TYPE_COUNT: memset(v->nulls, 1, n); break;
        default:
            for (uint32_t i = 0; i < n; i++) {
                v->nulls[i] = (rows[(size_t)i * w + byte] & bit) != 0;
                memcpy(&v->v.i64[i], rows + (size_t)i * w + off, 8);
            }
            break;
        }
    }
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
    return df->kind == SPK__P_FILTER || df->kind == SPK__P_PROJECT || df->kind == SPK__P_LIMIT;
}

/* One operator of a chain, with its evaluation state. */
typedef struct spk__stage {
    const spk_df *node;
    spk__runner *runners; /* one per expression */
    int nrunners;
    uint32_t *sel;        /* FILTER, LIMIT: the selection they produce */
    spk__vec **out;       /* PROJECT: the output vectors (pointers into runners) */
    int64_t skipped, taken; /* LIMIT */
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

/* Pushes one batch through the stages and into the sink. */
static spk_status spk__push_batch(spk__stage *stages, int nstages, spk__vec *const *cols, int ncols, const uint32_t *sel,
                                  uint32_t n, spk__sink *sink) {
    spk__vec *const *cur = cols;
    int curn = ncols;
    for (int i = nstages - 1; i >= 0 && n > 0; i--) { /* stages are top-down; run bottom-up */
        spk__stage *s = &stages[i];
        const spk_df *node = s->node;
        switch ((spk__pkind)node->kind) {
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
} spk__cast_sink;

static spk_status spk__cast_consume(spk__sink *self, spk__vec *const *cols, int ncols, const uint32_t *sel, uint32_t n) {
    spk__cast_sink *s = (spk__cast_sink *)self;
    spk__vec *use[256];
    if (ncols > 256) return spk__fail(SPK_ERR_LIMIT, "union: more than 256 columns");
    char text[SPK_VALUE_TEXT_MAX];
    for (int c = 0; c < ncols; c++) {
        spk__vec *target = &s->cast.vecs[c];
        if (spk_type_equal(cols[c]->type, target->type)) {
            use[c] = cols[c];
            continue;
        }
        SPK__FOR_ROWS(sel, n, {
            spk_value v = spk__vec_get(cols[c], i), r;
            if (spk_value_cast(&v, target->type, &r, text) != SPK_OK) r = spk_value_null_of(target->type);
            spk__vec_set(target, i, &r);
        });
        use[c] = target;
    }
    return spk__table_append_vecs(s->out, use, sel, n);
}

static spk_status spk__materialize(const spk_df *df, spk_table **out, bool *owned) {
    if (df->kind == SPK__P_SCAN) {
        *out = df->table;
        *owned = false;
        return SPK_OK;
    }
    spk_table *t = NULL;
    spk_status st = spk_table_new(df->session->alloc, df->schema, &t);
    if (st != SPK_OK) return st;
    switch ((spk__pkind)df->kind) {
    case SPK__P_AGG: st = spk__run_aggregate(df, t); break;
    case SPK__P_SORT: st = spk__run_sort(df, t); break;
    case SPK__P_DISTINCT: {
        /* distinct = group by every column, no aggregates */
        int n = spk_schema_ncols(df->schema);
        spk_expr *stack[64], **keys = stack;
        size_t size = (size_t)(n ? n : 1) * sizeof *keys;
        if (n > 64 && !(keys = (spk_expr **)spk__alloc(&spk__default_allocator, size))) {
            st = spk__nomem("distinct", size);
            break;
        }
        int made = spk__all_columns(df->child, keys, -1);
        spk_df *g = made >= 0 ? spk_df_group_agg(df->child, keys, made, NULL, 0) : NULL;
        if (keys != stack) spk__free(&spk__default_allocator, keys, size);
        if (!g) {
            st = spk_last_status() != SPK_OK ? spk_last_status() : SPK_ERR_NOMEM;
            break;
        }
        st = spk__run_aggregate(g, t);
        spk_df_release(g);
        break;
    }
    case SPK__P_UNION: {
        spk__cast_sink s;
        memset(&s, 0, sizeof s);
        s.base.consume = spk__cast_consume;
        s.out = t;
        st = spk__vecset_init(&s.cast, df->schema);
        if (st == SPK_OK) st = spk__stream(df->child, &s.base);
        s.base.done = false; /* a limit that ended the left side says nothing of the right */
        if (st == SPK_OK) st = spk__stream(df->right, &s.base);
        spk__vecset_free(&s.cast);
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

SPKDEF spk_status spk_df_collect(spk_df *df, spk_table **out) {
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

SPKDEF spk_status spk_df_count(spk_df *df, int64_t *out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_df_count: NULL output");
    if (!df) return spk__fail(SPK_ERR_ARG, "spk_df_count: NULL DataFrame (an earlier call failed: see its error)");
    spk__count_sink s = {{spk__count_consume, false}, 0};
    spk_status st = spk__stream(df, &s.base);
    if (st == SPK_OK) *out = s.rows;
    return st;
}

SPKDEF const spk_schema *spk_df_schema(const spk_df *df) { return df ? df->schema : NULL; }

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
    spk_string_free(text);
    return SPK_OK;
}

