/* backend: the storage vtable, a copy-on-write name map that readers use
 * without locks, and the versioned table store behind the memory backend
 * (and, with persistence hooks, the file backend).
 *
 * The name map (spk__cow) is an immutable sorted array published through
 * an atomic pointer. Writers serialize on a mutex, build a new array and
 * publish it; readers announce themselves in a counter, load the pointer
 * and read. A replaced array (and the entries it alone held) is retired
 * and freed once the counter is seen at zero after the swap: a reader that
 * could still hold it had incremented the counter before loading the
 * pointer, so it is counted (every access is seq_cst). Readers never wait. */
#include "exec.c"
#include "backend.h"
#include <time.h> /* timespec_get: backend instance ids */

/* ---------------------------------------------------------------- names */

SPKDEF spk_status spk_names_add(spk_names *list, const char *name) {
    if (!list || !name) return spk__fail(SPK_ERR_ARG, "spk_names_add: NULL argument");
    const spk_allocator *a = list->alloc = spk__allocator_or_default(list->alloc);
    char *copy = spk__strndup(a, name, strlen(name));
    if (!copy) return spk__nomem("a name", strlen(name) + 1);
    char **grown = (char **)spk__realloc(a, list->names, (size_t)list->n * sizeof *grown, (size_t)(list->n + 1) * sizeof *grown);
    if (!grown) {
        spk__free(a, copy, strlen(copy) + 1);
        return spk__nomem("a name list", (size_t)(list->n + 1) * sizeof *grown);
    }
    int at = list->n;
    while (at > 0 && strcmp(grown[at - 1], copy) > 0) {
        grown[at] = grown[at - 1];
        at--;
    }
    grown[at] = copy;
    list->names = grown;
    list->n++;
    return SPK_OK;
}

SPKDEF void spk_names_free(spk_names *list) {
    if (!list) return;
    for (int i = 0; i < list->n; i++) spk__free(list->alloc, list->names[i], strlen(list->names[i]) + 1);
    if (list->names) spk__free(list->alloc, list->names, (size_t)list->n * sizeof *list->names);
    list->names = NULL;
    list->n = 0;
}

SPKDEF spk_status spk_write_mode_parse(const char *text, spk_write_mode *out) {
    static const struct { const char *name; spk_write_mode mode; } modes[] = {
        {"error", SPK_WRITE_ERROR}, {"errorifexists", SPK_WRITE_ERROR}, {"default", SPK_WRITE_ERROR},
        {"append", SPK_WRITE_APPEND}, {"overwrite", SPK_WRITE_OVERWRITE}, {"ignore", SPK_WRITE_IGNORE}};
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_write_mode_parse: NULL output");
    if (!text) {
        *out = SPK_WRITE_ERROR;
        return SPK_OK;
    }
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (spk__name_eq(text, modes[i].name, false)) {
            *out = modes[i].mode;
            return SPK_OK;
        }
    return spk__fail(SPK_ERR_ARG, "unknown save mode '%s'; accepted save modes are 'overwrite', 'append', 'ignore', "
                                  "'error', 'errorifexists', 'default'", text);
}

SPKDEF spk_status spk_schema_append_check(const spk_schema *existing, const spk_schema *incoming, const char *table) {
    if (!existing || !incoming) return spk__fail(SPK_ERR_ARG, "spk_schema_append_check: NULL schema");
    int n = spk_schema_ncols(existing), m = spk_schema_ncols(incoming);
    char bad[512] = "";
    size_t used = 0;
    for (int i = 0; i < (n > m ? n : m) && used < sizeof bad - 1; i++) {
        const spk_field *e = i < n ? spk_schema_field(existing, i) : NULL, *g = i < m ? spk_schema_field(incoming, i) : NULL;
        int w = 0;
        if (!g) w = snprintf(bad + used, sizeof bad - used, "%s`%s` %s missing", used ? "; " : "", e->name, spk__type_sql(e->type).s);
        else if (!e) w = snprintf(bad + used, sizeof bad - used, "%sextra column `%s`", used ? "; " : "", g->name);
        else if (!spk__name_eq(e->name, g->name, false) || !spk_type_equal(e->type, g->type))
            w = snprintf(bad + used, sizeof bad - used, "%scolumn %d is `%s` %s in the table but `%s` %s in the data", used ? "; " : "",
                         i + 1, e->name, spk__type_sql(e->type).s, g->name, spk__type_sql(g->type).s);
        if (w > 0) used += (size_t)w < sizeof bad - used ? (size_t)w : sizeof bad - used - 1;
    }
    if (!used) return SPK_OK;
    return spk__fail(SPK_ERR_SCHEMA, "cannot append to table %s: %s", table ? table : "?", bad);
}

/* ---------------------------------------------------------------- the backend wrapper */

struct spk_backend {
    const spk_allocator *alloc;
    char type[32];
    const spk_backend_ops *ops;
    void *self;
    uint64_t instance; /* names this backend to scan tasks (wire.c): same instance, same asofs */
};

/* A backend's instance id: a process-wide counter mixed with the time and an
 * address, so a fork()ed child keeps the ids of the backends it inherited
 * while a backend made anywhere else (another process, or later here) gets
 * another. */
static uint64_t spk__backend_instance_new(const spk_backend *b) {
    static atomic_ullong counter;
    unsigned long long n = atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
    struct timespec ts;
    memset(&ts, 0, sizeof ts);
    (void)timespec_get(&ts, TIME_UTC);
    uint64_t x = spk_hash_u64((uint64_t)n ^ spk_hash_u64((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec));
    x = spk_hash_u64(x ^ (uint64_t)(uintptr_t)&counter ^ spk_hash_u64((uint64_t)(uintptr_t)b));
    return x ? x : 1;
}

static uint64_t spk__backend_instance(const spk_backend *b) { return b ? b->instance : 0; }

SPKDEF spk_status spk_backend_new(const spk_allocator *alloc, const char *type, const spk_backend_ops *ops, void *self,
                                  spk_backend **out) {
    if (!out || !ops || !type) return spk__fail(SPK_ERR_ARG, "spk_backend_new: NULL argument");
    if (!ops->create_schema || !ops->drop_schema || !ops->list_schemas || !ops->write || !ops->scan || !ops->drop_table ||
        !ops->list_tables || !ops->close)
        return spk__fail(SPK_ERR_ARG, "spk_backend_new: backend '%s' leaves an operation NULL (the first eight are required)", type);
    bool any = ops->last_asof || ops->scan_asof || ops->unpin || ops->commit;
    if (any && !(ops->last_asof && ops->scan_asof && ops->unpin && ops->commit))
        return spk__fail(SPK_ERR_ARG, "spk_backend_new: backend '%s' sets some of last_asof, scan_asof, unpin and commit "
                                      "(set all four for snapshots and transactions, or none)", type);
    alloc = spk__allocator_or_default(alloc);
    spk_backend *b = (spk_backend *)spk__calloc(alloc, sizeof *b);
    if (!b) return spk__nomem("a backend", sizeof *b);
    b->alloc = alloc;
    snprintf(b->type, sizeof b->type, "%s", type);
    b->ops = ops;
    b->self = self;
    b->instance = spk__backend_instance_new(b);
    spk_status st = ops->create_schema(self, "default", true);
    if (st != SPK_OK) {
        spk__free(alloc, b, sizeof *b);
        return st;
    }
    *out = b;
    return SPK_OK;
}

SPKDEF void spk_backend_close(spk_backend *b) {
    if (!b) return;
    b->ops->close(b->self);
    spk__free(b->alloc, b, sizeof *b);
}

SPKDEF const char *spk_backend_type(const spk_backend *b) { return b ? b->type : ""; }

/* ---------------------------------------------------------------- copy-on-write name maps */

typedef struct spk__cow_entry {
    char *key;
    void *value;
} spk__cow_entry;

typedef struct spk__cow_state spk__cow_state;
struct spk__cow_state {
    size_t n;
    spk__cow_entry *e;          /* sorted by key (strcmp) */
    spk__cow_entry *dropped;    /* entries this state held that its successor does not */
    size_t ndropped;
    spk__cow_state *next;       /* retired list */
};

typedef struct spk__cow {
    const spk_allocator *alloc;
    void (*free_value)(void *ctx, void *value);
    void *ctx;
    spk__mutex lock;                   /* writers, and the retired list */
    _Atomic(spk__cow_state *) current;
    atomic_long readers;
    atomic_bool pending;               /* the retired list is not empty */
    spk__cow_state *retired;
} spk__cow;

static void spk__cow_state_free(spk__cow *m, spk__cow_state *s, bool with_entries) {
    if (!s) return;
    for (size_t i = 0; i < s->ndropped; i++) {
        spk__free(m->alloc, s->dropped[i].key, strlen(s->dropped[i].key) + 1);
        if (m->free_value) m->free_value(m->ctx, s->dropped[i].value);
    }
    if (with_entries)
        for (size_t i = 0; i < s->n; i++) {
            spk__free(m->alloc, s->e[i].key, strlen(s->e[i].key) + 1);
            if (m->free_value) m->free_value(m->ctx, s->e[i].value);
        }
    if (s->dropped) spk__free(m->alloc, s->dropped, s->ndropped * sizeof *s->dropped);
    if (s->e) spk__free(m->alloc, s->e, s->n * sizeof *s->e);
    spk__free(m->alloc, s, sizeof *s);
}

static spk_status spk__cow_init(spk__cow *m, const spk_allocator *alloc, void (*free_value)(void *, void *), void *ctx) {
    memset(m, 0, sizeof *m);
    m->alloc = spk__allocator_or_default(alloc);
    m->free_value = free_value;
    m->ctx = ctx;
    spk__cow_state *s = (spk__cow_state *)spk__calloc(m->alloc, sizeof *s);
    if (!s) return spk__nomem("a name map", sizeof *s);
    if (!spk__mutex_init(&m->lock)) {
        spk__free(m->alloc, s, sizeof *s);
        return spk__fail(SPK_ERR_INTERNAL, "mtx_init failed");
    }
    atomic_init(&m->current, s);
    atomic_init(&m->readers, 0);
    atomic_init(&m->pending, false);
    return SPK_OK;
}

/* Frees every retired state. Call with the lock held. */
static void spk__cow_reclaim(spk__cow *m) {
    if (atomic_load(&m->readers) != 0) return;
    while (m->retired) {
        spk__cow_state *s = m->retired;
        m->retired = s->next;
        spk__cow_state_free(m, s, false);
    }
    atomic_store(&m->pending, false);
}

/* No reader or writer may be running. */
static void spk__cow_destroy(spk__cow *m) {
    if (!m->alloc) return;
    spk__cow_reclaim(m);
    spk__cow_state_free(m, atomic_load(&m->current), true);
    spk__mutex_destroy(&m->lock);
    m->alloc = NULL;
}

/* A reader's view: valid until spk__cow_leave. */
static const spk__cow_state *spk__cow_enter(spk__cow *m) {
    atomic_fetch_add(&m->readers, 1);
    return atomic_load(&m->current);
}

static void spk__cow_leave(spk__cow *m) {
    if (atomic_fetch_sub(&m->readers, 1) == 1 && atomic_load(&m->pending) && spk__mutex_trylock(&m->lock)) {
        spk__cow_reclaim(m);
        spk__mutex_unlock(&m->lock);
    }
}

/* The first index whose key is >= key. */
static size_t spk__cow_lower(const spk__cow_state *s, const char *key) {
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(s->e[mid].key, key) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static void *spk__cow_find(const spk__cow_state *s, const char *key) {
    size_t i = spk__cow_lower(s, key);
    return i < s->n && strcmp(s->e[i].key, key) == 0 ? s->e[i].value : NULL;
}

/* Writers: lock, read spk__cow_locked, build a successor with
 * spk__cow_with / spk__cow_without, then publish or discard it. */
static void spk__cow_lock(spk__cow *m) { spk__mutex_lock(&m->lock); }
static void spk__cow_unlock(spk__cow *m) { spk__mutex_unlock(&m->lock); }
static const spk__cow_state *spk__cow_locked(spk__cow *m) { return atomic_load(&m->current); }

static spk__cow_state *spk__cow_state_new(spk__cow *m, size_t n, size_t ndropped) {
    spk__cow_state *s = (spk__cow_state *)spk__calloc(m->alloc, sizeof *s);
    if (s && n) s->e = (spk__cow_entry *)spk__alloc(m->alloc, n * sizeof *s->e);
    if (s && ndropped) s->dropped = (spk__cow_entry *)spk__alloc(m->alloc, ndropped * sizeof *s->dropped);
    if (!s || (n && !s->e) || (ndropped && !s->dropped)) {
        if (s && s->e) spk__free(m->alloc, s->e, n * sizeof *s->e);
        if (s && s->dropped) spk__free(m->alloc, s->dropped, ndropped * sizeof *s->dropped);
        if (s) spk__free(m->alloc, s, sizeof *s);
        spk__nomem("a name map", n * sizeof(spk__cow_entry));
        return NULL;
    }
    s->n = n;
    s->ndropped = ndropped;
    return s;
}

/* The current state with key set to value (added or replaced). NULL on
 * out of memory; the value is not taken until the successor is published. */
static spk__cow_state *spk__cow_with(spk__cow *m, const char *key, void *value) {
    const spk__cow_state *cur = spk__cow_locked(m);
    size_t at = spk__cow_lower(cur, key);
    bool replace = at < cur->n && strcmp(cur->e[at].key, key) == 0;
    char *k = spk__strndup(m->alloc, key, strlen(key));
    if (!k) {
        spk__nomem("a name", strlen(key) + 1);
        return NULL;
    }
    spk__cow_state *s = spk__cow_state_new(m, cur->n + !replace, replace);
    if (!s) {
        spk__free(m->alloc, k, strlen(k) + 1);
        return NULL;
    }
    if (at) memcpy(s->e, cur->e, at * sizeof *s->e);
    s->e[at].key = k;
    s->e[at].value = value;
    size_t rest = cur->n - at - replace;
    if (rest) memcpy(s->e + at + 1, cur->e + at + replace, rest * sizeof *s->e);
    if (replace) s->dropped[0] = cur->e[at];
    return s;
}

/* The current state without the keys for which drop(key, ctx) is true. */
static spk__cow_state *spk__cow_without(spk__cow *m, bool (*drop)(const char *key, const void *ctx), const void *ctx) {
    const spk__cow_state *cur = spk__cow_locked(m);
    size_t gone = 0;
    for (size_t i = 0; i < cur->n; i++) gone += drop(cur->e[i].key, ctx);
    spk__cow_state *s = spk__cow_state_new(m, cur->n - gone, gone);
    if (!s) return NULL;
    size_t kept = 0, dropped = 0;
    for (size_t i = 0; i < cur->n; i++) {
        if (drop(cur->e[i].key, ctx)) s->dropped[dropped++] = cur->e[i];
        else s->e[kept++] = cur->e[i];
    }
    return s;
}

/* Makes next current. The entries it dropped are freed with the old state,
 * once no reader can hold them. */
static void spk__cow_publish(spk__cow *m, spk__cow_state *next) {
    spk__cow_state *old = atomic_load(&m->current);
    old->dropped = next->dropped; /* they belong to the last state that held them */
    old->ndropped = next->ndropped;
    next->dropped = NULL;
    next->ndropped = 0;
    atomic_store(&m->current, next);
    old->next = m->retired;
    m->retired = old;
    atomic_store(&m->pending, true);
    spk__cow_reclaim(m);
}

/* A successor not published: its new key is freed, and nothing else (the
 * rest still belongs to the current state). */
static void spk__cow_discard(spk__cow *m, spk__cow_state *next, const char *new_key) {
    if (!next) return;
    for (size_t i = 0; new_key && i < next->n; i++)
        if (strcmp(next->e[i].key, new_key) == 0) {
            spk__free(m->alloc, next->e[i].key, strlen(new_key) + 1);
            break;
        }
    if (next->dropped) spk__free(m->alloc, next->dropped, next->ndropped * sizeof *next->dropped);
    next->dropped = NULL;
    next->ndropped = 0;
    spk__cow_state_free(m, next, false);
}

static bool spk__key_has_prefix(const char *key, const void *prefix) {
    return strncmp(key, (const char *)prefix, strlen((const char *)prefix)) == 0;
}

static bool spk__key_equals(const char *key, const void *other) { return strcmp(key, (const char *)other) == 0; }

/* A database's entry ("db") and its tables' ("db.table"). */
static bool spk__key_in_db(const char *key, const void *db) {
    size_t n = strlen((const char *)db);
    return strncmp(key, (const char *)db, n) == 0 && (key[n] == 0 || key[n] == '.');
}

/* ---------------------------------------------------------------- the versioned store
 * One map holds databases (key "db", value the marker) and tables (key
 * "db.table", value a spk__tver). A table version is immutable; a write
 * builds the next one outside the lock, then under it checks that the
 * version it started from is still current (else starts over), and
 * publishes. Persistence hooks (the file backend) write the version to a
 * temporary file before the lock and rename it into place under it, so the
 * file commit and the in-memory publish happen in the same order. */

#define SPK__KEY_MAX 260 /* "db.table": two names of at most 128 bytes */

typedef struct spk__tver {
    spk_table *rows;  /* NULL when the version could not be loaded */
    char *error;      /* then: why, naming the file */
    uint64_t version; /* 1, 2, ... per table */
    uint64_t stamp;   /* unique in the store: what writers compare */
    size_t bytes;     /* spk_table_memory(rows) */
} spk__tver;

typedef struct spk__persist {
    /* Writes `rows` as version `version` of db.table to a temporary file,
     * durably (fsync), and returns a token for commit/abort. */
    spk_status (*prepare)(void *ctx, const char *db, const char *table, uint64_t version, const spk_table *rows, void **token);
    /* The commit point: the prepared file becomes the table's version
     * (rename). On failure the token is still to be aborted. */
    spk_status (*commit)(void *ctx, void *token);
    /* Removes a prepared file that was not committed, frees the token
     * (also after a commit: then only the token). */
    void (*release)(void *ctx, void *token, bool committed);
    /* After `version` is published: removes the table's older files (best effort). */
    void (*retire)(void *ctx, const char *db, const char *table, uint64_t version);
    spk_status (*create_schema)(void *ctx, const char *db);
    spk_status (*drop_schema)(void *ctx, const char *db);
    spk_status (*drop_table)(void *ctx, const char *db, const char *table);
    void (*close)(void *ctx);
    /* The commit point of a transaction: n prepared files (of distinct
     * tables) become their tables' versions together — after a crash at any
     * moment the next open finds all of them or none. On failure none is
     * committed, and the tokens are still to be released. */
    spk_status (*commit_all)(void *ctx, void *const *tokens, int n);
} spk__persist;

/* A replaced version kept for readers at its asof: snapshots and scans pin
 * it. `until` is the asof of the commit that replaced or dropped it (0: it
 * is still the latest). */
typedef struct spk__pin {
    char key[SPK__KEY_MAX];
    uint64_t stamp, until;
    spk_table *rows;
    long pins;
    struct spk__pin *next;
} spk__pin;

typedef struct spk__store {
    const spk_allocator *alloc;
    spk__cow map;
    uint64_t max_memory; /* 0: no limit */
    size_t held;         /* bytes of the latest versions (under map.lock) */
    _Atomic uint64_t stamps; /* the asof of the latest commit; written under map.lock */
    const spk__persist *persist;
    void *pctx;
    spk__mutex pin_lock; /* pins; taken after map.lock when both are held */
    spk__pin *pins;
} spk__store;

static char spk__db_marker; /* the value of a database's entry */

static void spk__tver_free(void *ctx, void *value) {
    spk__store *s = (spk__store *)ctx;
    if (value == &spk__db_marker || !value) return;
    spk__tver *v = (spk__tver *)value;
    spk_table_free(v->rows);
    if (v->error) spk__free(s->alloc, v->error, strlen(v->error) + 1);
    spk__free(s->alloc, v, sizeof *v);
}

static spk__tver *spk__tver_new(spk__store *s, spk_table *rows, uint64_t version, const char *error) {
    spk__tver *v = (spk__tver *)spk__calloc(s->alloc, sizeof *v);
    if (v && error && !(v->error = spk__strndup(s->alloc, error, strlen(error)))) {
        spk__free(s->alloc, v, sizeof *v);
        v = NULL;
    }
    if (!v) {
        spk__nomem("a table version", sizeof *v);
        return NULL;
    }
    v->rows = rows;
    v->version = version;
    v->bytes = rows ? spk_table_memory(rows) : 0;
    return v;
}

static void spk__store_key(char *key, size_t cap, const char *db, const char *table) {
    snprintf(key, cap, "%s%s%s", db, table ? "." : "", table ? table : "");
}

/* The asof of a new commit (map.lock held). */
static uint64_t spk__store_next_stamp(spk__store *s) {
    uint64_t next = atomic_load(&s->stamps) + 1;
    atomic_store(&s->stamps, next);
    return next;
}

/* A commit at `stamp` replaced or dropped the tables `match` selects: their
 * pinned latest versions end there (map.lock held). */
static void spk__store_superseded(spk__store *s, bool (*match)(const char *key, const void *ctx), const void *ctx,
                                  uint64_t stamp) {
    spk__mutex_lock(&s->pin_lock);
    for (spk__pin *p = s->pins; p; p = p->next)
        if (!p->until && p->stamp < stamp && match(p->key, ctx)) p->until = stamp; /* not a pin of the new version */
    spk__mutex_unlock(&s->pin_lock);
}

static spk_status spk__store_new(const spk_allocator *alloc, uint64_t max_memory, const spk__persist *persist, void *pctx,
                                 spk__store **out) {
    alloc = spk__allocator_or_default(alloc);
    spk__store *s = (spk__store *)spk__calloc(alloc, sizeof *s);
    if (!s) return spk__nomem("a table store", sizeof *s);
    s->alloc = alloc;
    s->max_memory = max_memory;
    s->persist = persist;
    s->pctx = pctx;
    spk_status st = spk__cow_init(&s->map, alloc, spk__tver_free, s);
    if (st != SPK_OK) {
        spk__free(alloc, s, sizeof *s);
        return st;
    }
    if (!spk__mutex_init(&s->pin_lock)) {
        spk__cow_destroy(&s->map);
        spk__free(alloc, s, sizeof *s);
        return spk__fail(SPK_ERR_INTERNAL, "mtx_init failed");
    }
    atomic_init(&s->stamps, 0);
    *out = s;
    return SPK_OK;
}

static void spk__store_close(void *self) {
    spk__store *s = (spk__store *)self;
    if (!s) return;
    spk__cow_destroy(&s->map);
    while (s->pins) {
        spk__pin *p = s->pins;
        s->pins = p->next;
        spk_table_free(p->rows);
        spk__free(s->alloc, p, sizeof *p);
    }
    spk__mutex_destroy(&s->pin_lock);
    if (s->persist && s->persist->close) s->persist->close(s->pctx);
    spk__free(s->alloc, s, sizeof *s);
}

/* Loading (the file backend's open, single-threaded): a database, and a
 * table version (rows taken over) or, if it could not be read, the error
 * that scans of it will report. */
static spk_status spk__store_load(spk__store *s, const char *db, const char *table, uint64_t version, spk_table *rows,
                                  const char *error) {
    char key[SPK__KEY_MAX];
    spk__store_key(key, sizeof key, db, table);
    void *value = &spk__db_marker;
    if (table && !(value = spk__tver_new(s, rows, version, error))) {
        spk_table_free(rows);
        return SPK_ERR_NOMEM;
    }
    spk__cow_lock(&s->map);
    spk__cow_state *next = spk__cow_with(&s->map, key, value);
    if (next) {
        if (table) {
            ((spk__tver *)value)->stamp = spk__store_next_stamp(s);
            s->held += ((spk__tver *)value)->bytes;
        }
        spk__cow_publish(&s->map, next);
    }
    spk__cow_unlock(&s->map);
    if (!next) spk__tver_free(s, value);
    return next ? SPK_OK : SPK_ERR_NOMEM;
}

static spk_status spk__store_create_schema(void *self, const char *db, bool if_not_exists) {
    spk__store *s = (spk__store *)self;
    spk_status st = SPK_OK;
    spk__cow_lock(&s->map);
    if (spk__cow_find(spk__cow_locked(&s->map), db)) {
        if (!if_not_exists) st = spk__fail(SPK_ERR_EXISTS, "database `%s` already exists", db);
    } else {
        spk__cow_state *next = spk__cow_with(&s->map, db, &spk__db_marker);
        if (!next) st = SPK_ERR_NOMEM;
        else if (s->persist && (st = s->persist->create_schema(s->pctx, db)) != SPK_OK) spk__cow_discard(&s->map, next, db);
        else spk__cow_publish(&s->map, next);
    }
    spk__cow_unlock(&s->map);
    return st;
}

static spk_status spk__store_drop_schema(void *self, const char *db, bool cascade) {
    spk__store *s = (spk__store *)self;
    char prefix[SPK__KEY_MAX];
    spk__store_key(prefix, sizeof prefix, db, "");
    spk_status st = SPK_OK;
    spk__cow_lock(&s->map);
    const spk__cow_state *cur = spk__cow_locked(&s->map);
    size_t first = spk__cow_lower(cur, prefix), ntables = 0;
    while (first + ntables < cur->n && spk__key_has_prefix(cur->e[first + ntables].key, prefix)) ntables++;
    if (!spk__cow_find(cur, db)) st = spk__fail(SPK_ERR_NOT_FOUND, "database `%s` not found", db);
    else if (ntables && !cascade)
        st = spk__fail(SPK_ERR_STATE, "database `%s` is not empty (%zu table%s); drop it with cascade", db, ntables,
                       ntables == 1 ? "" : "s");
    for (size_t i = 0; st == SPK_OK && s->persist && i < ntables; i++)
        st = s->persist->drop_table(s->pctx, db, cur->e[first + i].key + strlen(prefix));
    if (st == SPK_OK && s->persist) st = s->persist->drop_schema(s->pctx, db);
    if (st == SPK_OK) {
        spk__cow_state *next = spk__cow_without(&s->map, spk__key_in_db, db);
        if (!next) st = SPK_ERR_NOMEM;
        for (size_t i = 0; next && i < ntables; i++) s->held -= ((spk__tver *)cur->e[first + i].value)->bytes;
        if (next) spk__cow_publish(&s->map, next);
        if (next && ntables) spk__store_superseded(s, spk__key_in_db, db, spk__store_next_stamp(s));
    }
    spk__cow_unlock(&s->map);
    return st;
}

static spk_status spk__store_list(spk__store *s, const char *db, spk_names *out) {
    memset(out, 0, sizeof *out);
    out->alloc = s->alloc;
    char prefix[SPK__KEY_MAX];
    if (db) spk__store_key(prefix, sizeof prefix, db, "");
    spk_status st = SPK_OK;
    const spk__cow_state *cur = spk__cow_enter(&s->map);
    if (db && !spk__cow_find(cur, db)) st = spk__fail(SPK_ERR_NOT_FOUND, "database `%s` not found", db);
    for (size_t i = db ? spk__cow_lower(cur, prefix) : 0; st == SPK_OK && i < cur->n; i++) {
        const char *key = cur->e[i].key;
        if (db && !spk__key_has_prefix(key, prefix)) break;
        if (!db && cur->e[i].value != &spk__db_marker) continue;
        st = spk_names_add(out, db ? key + strlen(prefix) : key);
    }
    spk__cow_leave(&s->map);
    if (st != SPK_OK) spk_names_free(out);
    return st;
}

static spk_status spk__store_list_schemas(void *self, spk_names *out) { return spk__store_list((spk__store *)self, NULL, out); }
static spk_status spk__store_list_tables(void *self, const char *db, spk_names *out) {
    return spk__store_list((spk__store *)self, db, out);
}

static spk_status spk__store_scan(void *self, const char *db, const char *table, uint64_t version, spk_table **out,
                                  uint64_t *version_out) {
    spk__store *s = (spk__store *)self;
    char key[SPK__KEY_MAX];
    spk__store_key(key, sizeof key, db, table);
    spk_status st = SPK_OK;
    const spk__cow_state *cur = spk__cow_enter(&s->map);
    const spk__tver *v = (const spk__tver *)spk__cow_find(cur, key);
    if (!v) st = spk__fail(SPK_ERR_NOT_FOUND, "table %s not found", key);
    else if (!v->rows) st = spk__fail(SPK_ERR_CORRUPT, "%s", v->error);
    else if (version && version != v->version)
        st = spk__fail(SPK_ERR_NOT_FOUND, "version %llu of table %s is not kept (it is at version %llu)",
                       (unsigned long long)version, key, (unsigned long long)v->version);
    else {
        *out = spk_table_retain(v->rows);
        if (version_out) *version_out = v->version;
    }
    spk__cow_leave(&s->map);
    return st;
}

/* The rows of base followed by those of add, as a new table sharing
 * base's chunks. Takes add over. */
static spk_status spk__store_appended(spk_table *base, spk_table *add, spk_table **out) {
    spk_table *t = NULL;
    spk_status st = spk__table_share(base, &t);
    if (st == SPK_OK) {
        if (add->alloc == t->alloc && !spk__table_shared(add)) st = spk__table_adopt(t, add);
        else st = spk__table_append_table(t, add);
    }
    spk_table_free(add);
    if (st != SPK_OK) {
        spk_table_free(t);
        return st;
    }
    *out = t;
    return SPK_OK;
}

/* rows in the store's allocator (a write may come from a session with another). */
static spk_status spk__store_own(spk__store *s, spk_table *rows, spk_table **out) {
    if (rows->alloc == s->alloc) {
        *out = rows;
        return SPK_OK;
    }
    spk_table *t = NULL;
    spk_status st = spk_table_new(s->alloc, rows->schema, &t);
    if (st == SPK_OK) st = spk__table_append_table(t, rows);
    spk_table_free(rows);
    if (st != SPK_OK) {
        spk_table_free(t);
        return st;
    }
    *out = t;
    return SPK_OK;
}

static void spk__size_text(uint64_t bytes, char *out, size_t cap) {
    if (bytes >= (1ull << 30)) snprintf(out, cap, "%.1f GiB", (double)bytes / (double)(1ull << 30));
    else if (bytes >= (1ull << 20)) snprintf(out, cap, "%.1f MiB", (double)bytes / (double)(1ull << 20));
    else if (bytes >= 1024) snprintf(out, cap, "%.1f KiB", (double)bytes / 1024.0);
    else snprintf(out, cap, "%llu bytes", (unsigned long long)bytes);
}

static spk_status spk__store_write(void *self, const char *db, const char *table, spk_table *rows, spk_write_mode mode,
                                   uint64_t *version) {
    spk__store *s = (spk__store *)self;
    char key[SPK__KEY_MAX];
    spk__store_key(key, sizeof key, db, table);
    spk_status st = spk__store_own(s, rows, &rows);
    if (st != SPK_OK) return st;
    for (;;) {
        /* What the table is now, to build on. */
        uint64_t base_stamp = 0, base_version = 0;
        spk_table *base = NULL;
        bool exists = false;
        const spk__cow_state *cur = spk__cow_enter(&s->map);
        const spk__tver *v = (const spk__tver *)spk__cow_find(cur, key);
        if (v) {
            exists = true;
            base_stamp = v->stamp;
            base_version = v->version;
            base = spk_table_retain(v->rows);
            if (!v->rows && mode != SPK_WRITE_OVERWRITE && mode != SPK_WRITE_INSERT_OVERWRITE)
                st = spk__fail(SPK_ERR_CORRUPT, "%s", v->error);
        }
        spk__cow_leave(&s->map);
        if (st == SPK_OK && !exists && (mode == SPK_WRITE_INSERT || mode == SPK_WRITE_INSERT_OVERWRITE))
            st = spk__fail(SPK_ERR_NOT_FOUND, "table %s not found", key);
        if (st == SPK_OK && exists && mode == SPK_WRITE_ERROR)
            st = spk__fail(SPK_ERR_EXISTS, "table %s already exists (save mode \"error\"; use \"append\", \"overwrite\" or "
                                           "\"ignore\")", key);
        if (st == SPK_OK && exists && mode == SPK_WRITE_IGNORE) {
            spk_table_free(base);
            spk_table_free(rows);
            if (version) *version = base_version;
            return SPK_OK;
        }
        bool appending = exists && (mode == SPK_WRITE_APPEND || mode == SPK_WRITE_INSERT);
        if (st == SPK_OK && base && (appending || mode == SPK_WRITE_INSERT_OVERWRITE))
            st = spk_schema_append_check(base->schema, rows->schema, key);
        /* The next version. */
        spk_table *next_rows = NULL;
        if (st == SPK_OK && appending) {
            spk_table *copy = spk_table_retain(rows); /* appended builds may be retried */
            st = spk__store_appended(base, copy, &next_rows);
        } else if (st == SPK_OK) {
            next_rows = spk_table_retain(rows);
        }
        spk_table_free(base);
        spk__tver *next = st == SPK_OK ? spk__tver_new(s, next_rows, base_version + 1, NULL) : NULL;
        if (st == SPK_OK && !next) st = SPK_ERR_NOMEM;
        if (!next) spk_table_free(next_rows);
        void *token = NULL;
        if (st == SPK_OK && s->persist) st = s->persist->prepare(s->pctx, db, table, next->version, next->rows, &token);
        if (st != SPK_OK) {
            spk__tver_free(s, next);
            spk_table_free(rows);
            return st;
        }
        /* Publish, if nobody wrote the table meanwhile. */
        bool committed = false, retry = false;
        spk__cow_lock(&s->map);
        cur = spk__cow_locked(&s->map);
        v = (const spk__tver *)spk__cow_find(cur, key);
        spk__cow_state *succ = NULL;
        if ((v ? v->stamp : 0) != base_stamp) {
            retry = true;
        } else if (!spk__cow_find(cur, db)) {
            st = spk__fail(SPK_ERR_NOT_FOUND, "database `%s` not found", db);
        } else {
            size_t held = s->held - (v ? v->bytes : 0) + next->bytes;
            if (s->max_memory && held > s->max_memory) {
                char limit[32], need[32], now[32];
                spk__size_text(s->max_memory, limit, sizeof limit);
                spk__size_text(next->bytes, need, sizeof need);
                spk__size_text(s->held, now, sizeof now);
                st = spk__fail(SPK_ERR_LIMIT, "writing table %s needs %s, and the backend holds %s of %s allowed "
                                              "(spark.sparkless.backend.maxMemory); nothing was written", key, need, now, limit);
            }
        }
        if (st == SPK_OK && !retry) {
            succ = spk__cow_with(&s->map, key, next);
            if (!succ) st = SPK_ERR_NOMEM;
        }
        if (st == SPK_OK && !retry && s->persist && (st = s->persist->commit(s->pctx, token)) != SPK_OK) {
            spk__cow_discard(&s->map, succ, key);
            succ = NULL;
        }
        if (st == SPK_OK && !retry) {
            committed = true;
            next->stamp = spk__store_next_stamp(s);
            s->held = s->held - (v ? v->bytes : 0) + next->bytes;
            spk__cow_publish(&s->map, succ);
            spk__store_superseded(s, spk__key_equals, key, next->stamp);
            if (s->persist) s->persist->retire(s->pctx, db, table, next->version);
        }
        spk__cow_unlock(&s->map);
        if (s->persist) s->persist->release(s->pctx, token, committed);
        if (committed) {
            if (version) *version = next->version;
            spk_table_free(rows);
            return SPK_OK;
        }
        spk__tver_free(s, next);
        if (!retry) {
            spk_table_free(rows);
            return st;
        }
    }
}

static spk_status spk__store_drop_table(void *self, const char *db, const char *table) {
    spk__store *s = (spk__store *)self;
    char key[SPK__KEY_MAX];
    spk__store_key(key, sizeof key, db, table);
    spk_status st = SPK_OK;
    spk__cow_lock(&s->map);
    const spk__tver *v = (const spk__tver *)spk__cow_find(spk__cow_locked(&s->map), key);
    if (!v) st = spk__fail(SPK_ERR_NOT_FOUND, "table %s not found", key);
    spk__cow_state *next = st == SPK_OK ? spk__cow_without(&s->map, spk__key_equals, key) : NULL;
    if (st == SPK_OK && !next) st = SPK_ERR_NOMEM;
    if (st == SPK_OK && s->persist && (st = s->persist->drop_table(s->pctx, db, table)) != SPK_OK) spk__cow_discard(&s->map, next, NULL);
    if (st == SPK_OK) {
        s->held -= v->bytes;
        spk__cow_publish(&s->map, next);
        spk__store_superseded(s, spk__key_equals, key, spk__store_next_stamp(s));
    }
    spk__cow_unlock(&s->map);
    return st;
}

/* ---------------------------------------------------------------- asof reads and transactions */

static spk_status spk__store_last_asof(void *self, uint64_t *asof) {
    *asof = atomic_load(&((spk__store *)self)->stamps);
    return SPK_OK;
}

static spk__pin *spk__pin_find(spk__store *s, const char *key, uint64_t stamp) {
    for (spk__pin *p = s->pins; p; p = p->next)
        if (p->stamp == stamp && strcmp(p->key, key) == 0) return p;
    return NULL;
}

static spk_status spk__store_scan_asof(void *self, const char *db, const char *table, uint64_t asof, bool pin,
                                       spk_table **out, uint64_t *asof_out) {
    spk__store *s = (spk__store *)self;
    char key[SPK__KEY_MAX];
    spk__store_key(key, sizeof key, db, table);
    spk_status st = SPK_OK;
    spk_table *rows = NULL;
    uint64_t found = 0;
    /* Under pin_lock a replaced version's `until` is already set, or its
     * replacement is not yet visible (writers publish, then mark). */
    spk__mutex_lock(&s->pin_lock);
    uint64_t last = atomic_load(&s->stamps);
    const spk__cow_state *cur = spk__cow_enter(&s->map);
    const spk__tver *v = (const spk__tver *)spk__cow_find(cur, key);
    if (asof > last) {
        st = spk__fail(SPK_ERR_ARG, "asof %llu of table %s is after the latest commit (asof %llu)", (unsigned long long)asof,
                       key, (unsigned long long)last);
    } else if (v && (asof == 0 || v->stamp <= asof)) {
        if (!v->rows) st = spk__fail(SPK_ERR_CORRUPT, "%s", v->error);
        rows = v->rows;
        found = v->stamp;
    } else {
        for (spk__pin *p = s->pins; p && !rows; p = p->next)
            if (p->stamp <= asof && (!p->until || asof < p->until) && strcmp(p->key, key) == 0) {
                rows = p->rows;
                found = p->stamp;
            }
        if (!rows && !v && asof == 0) st = spk__fail(SPK_ERR_NOT_FOUND, "table %s not found", key);
        else if (!rows)
            st = spk__fail(SPK_ERR_NOT_FOUND, "table %s has no version kept as of asof %llu (a version stays readable at its "
                                              "asof while a snapshot or scan holds it)", key, (unsigned long long)asof);
    }
    if (st == SPK_OK && pin) {
        spk__pin *p = spk__pin_find(s, key, found);
        if (!p && (p = (spk__pin *)spk__calloc(s->alloc, sizeof *p)) != NULL) {
            memcpy(p->key, key, sizeof key);
            p->stamp = found;
            p->rows = spk_table_retain(rows);
            p->next = s->pins;
            s->pins = p;
        }
        if (!p) st = spk__nomem("a snapshot", sizeof *p);
        else p->pins++;
    }
    if (st == SPK_OK) {
        *out = spk_table_retain(rows);
        if (asof_out) *asof_out = found;
    }
    spk__cow_leave(&s->map);
    spk__mutex_unlock(&s->pin_lock);
    return st;
}

static void spk__store_unpin(void *self, const char *db, const char *table, uint64_t asof) {
    spk__store *s = (spk__store *)self;
    char key[SPK__KEY_MAX];
    spk__store_key(key, sizeof key, db, table);
    spk__pin *gone = NULL;
    spk__mutex_lock(&s->pin_lock);
    for (spk__pin **at = &s->pins; *at; at = &(*at)->next)
        if ((*at)->stamp == asof && strcmp((*at)->key, key) == 0) {
            if (--(*at)->pins == 0) {
                gone = *at;
                *at = gone->next;
            }
            break;
        }
    spk__mutex_unlock(&s->pin_lock);
    if (gone) {
        spk_table_free(gone->rows);
        spk__free(s->alloc, gone, sizeof *gone);
    }
}

/* The current state with each keys[i] set to values[i] (distinct keys). */
static spk__cow_state *spk__cow_with_all(spk__cow *m, int n, char *const *keys, void *const *values) {
    const spk__cow_state *cur = spk__cow_locked(m);
    size_t fresh = 0;
    for (int i = 0; i < n; i++) fresh += spk__cow_find(cur, keys[i]) == NULL;
    spk__cow_state *s = spk__cow_state_new(m, cur->n + fresh, (size_t)n - fresh);
    if (!s) return NULL;
    if (cur->n) memcpy(s->e, cur->e, cur->n * sizeof *s->e);
    size_t len = cur->n, dropped = 0;
    int i = 0;
    for (; i < n; i++) {
        size_t lo = 0, hi = len;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (strcmp(s->e[mid].key, keys[i]) < 0) lo = mid + 1;
            else hi = mid;
        }
        if (lo < len && strcmp(s->e[lo].key, keys[i]) == 0) {
            s->dropped[dropped++] = s->e[lo];
        } else {
            memmove(s->e + lo + 1, s->e + lo, (len - lo) * sizeof *s->e);
            len++;
        }
        s->e[lo].key = spk__strndup(m->alloc, keys[i], strlen(keys[i]));
        s->e[lo].value = values[i];
        if (!s->e[lo].key) break;
    }
    if (i == n) return s;
    /* Out of memory: free the keys copied so far, keep everything else. */
    spk__nomem("a name", strlen(keys[i]) + 1);
    for (size_t k = 0; k < len; k++) {
        bool copied = true;
        for (size_t j = 0; j < cur->n && copied; j++) copied = s->e[k].key != cur->e[j].key;
        if (copied && s->e[k].key) spk__free(m->alloc, s->e[k].key, strlen(s->e[k].key) + 1);
    }
    if (s->dropped) spk__free(m->alloc, s->dropped, s->ndropped * sizeof *s->dropped);
    s->dropped = NULL;
    s->ndropped = 0;
    spk__cow_state_free(m, s, false);
    return NULL;
}

/* A successor from spk__cow_with_all not published. */
static void spk__cow_discard_all(spk__cow *m, spk__cow_state *next, int n, char *const *keys) {
    for (int i = 0; i < n; i++) {
        size_t at = spk__cow_lower(next, keys[i]);
        if (at < next->n && next->e[at].key != keys[i] && strcmp(next->e[at].key, keys[i]) == 0) {
            char *copy = next->e[at].key;
            next->e[at].key = keys[i]; /* equal text, so later searches still work */
            spk__free(m->alloc, copy, strlen(copy) + 1);
        }
    }
    if (next->dropped) spk__free(m->alloc, next->dropped, next->ndropped * sizeof *next->dropped);
    next->dropped = NULL;
    next->ndropped = 0;
    spk__cow_state_free(m, next, false);
}

static spk_status spk__store_commit(void *self, spk_backend_commit *w, int n, uint64_t *asof) {
    spk__store *s = (spk__store *)self;
    spk_status st = SPK_OK;
    if (n < 0 || n > 4096) st = spk__fail(SPK_ERR_ARG, "a commit of %d tables (1 to 4096)", n);
    char (*keys)[SPK__KEY_MAX] = NULL;
    char **key_list = NULL; /* keys[i], as spk__cow_with_all takes them */
    spk__tver **next = NULL;
    void **tokens = NULL;
    if (st == SPK_OK && n > 0) {
        keys = (char (*)[SPK__KEY_MAX])spk__calloc(s->alloc, (size_t)n * sizeof *keys);
        key_list = (char **)spk__calloc(s->alloc, (size_t)n * sizeof *key_list);
        next = (spk__tver **)spk__calloc(s->alloc, (size_t)n * sizeof *next);
        tokens = (void **)spk__calloc(s->alloc, (size_t)n * sizeof *tokens);
        if (!keys || !key_list || !next || !tokens) st = spk__nomem("a commit", (size_t)n * (sizeof *keys + 3 * sizeof(void *)));
        for (int i = 0; st == SPK_OK && i < n; i++) key_list[i] = keys[i];
    }
    for (int i = 0; i < n; i++) {
        if (st == SPK_OK) {
            spk__store_key(keys[i], sizeof keys[i], w[i].schema, w[i].table);
            for (int j = 0; j < i && st == SPK_OK; j++)
                if (strcmp(keys[i], keys[j]) == 0) st = spk__fail(SPK_ERR_ARG, "a commit names table %s twice", keys[i]);
        }
        spk_table *rows = w[i].rows;
        w[i].rows = NULL;
        if (st == SPK_OK && !rows) st = spk__fail(SPK_ERR_ARG, "a commit of table %s without rows", keys[i]);
        if (st == SPK_OK) st = spk__store_own(s, rows, &rows);
        else spk_table_free(rows);
        if (st != SPK_OK) continue;
        /* The version number follows the base's (checked again under the lock). */
        uint64_t base_version = 0;
        const spk__cow_state *cur = spk__cow_enter(&s->map);
        const spk__tver *v = (const spk__tver *)spk__cow_find(cur, keys[i]);
        if ((v ? v->stamp : 0) != w[i].base_asof)
            st = spk__fail(SPK_ERR_CONFLICT, "table %s was changed by another commit (asof %llu) after this one read it "
                                             "(asof %llu); nothing was written", keys[i],
                           (unsigned long long)(v ? v->stamp : 0), (unsigned long long)w[i].base_asof);
        else if (v) base_version = v->version;
        spk__cow_leave(&s->map);
        if (st == SPK_OK && !(next[i] = spk__tver_new(s, rows, base_version + 1, NULL))) st = SPK_ERR_NOMEM;
        if (!next[i]) spk_table_free(rows);
        if (st == SPK_OK && s->persist)
            st = s->persist->prepare(s->pctx, w[i].schema, w[i].table, next[i]->version, next[i]->rows, &tokens[i]);
    }
    bool committed = false;
    if (st == SPK_OK && n == 0) {
        if (asof) *asof = atomic_load(&s->stamps);
    } else if (st == SPK_OK) {
        spk__cow_lock(&s->map);
        const spk__cow_state *cur = spk__cow_locked(&s->map);
        size_t held = s->held;
        for (int i = 0; i < n && st == SPK_OK; i++) {
            const spk__tver *v = (const spk__tver *)spk__cow_find(cur, keys[i]);
            if ((v ? v->stamp : 0) != w[i].base_asof)
                st = spk__fail(SPK_ERR_CONFLICT, "table %s was changed by another commit (asof %llu) after this one read it "
                                                 "(asof %llu); nothing was written", keys[i],
                               (unsigned long long)(v ? v->stamp : 0), (unsigned long long)w[i].base_asof);
            else if (!spk__cow_find(cur, w[i].schema))
                st = spk__fail(SPK_ERR_NOT_FOUND, "database `%s` not found", w[i].schema);
            else held = held - (v ? v->bytes : 0) + next[i]->bytes;
        }
        if (st == SPK_OK && s->max_memory && held > s->max_memory) {
            char limit[32], need[32], now[32];
            spk__size_text(s->max_memory, limit, sizeof limit);
            spk__size_text(held, need, sizeof need);
            spk__size_text(s->held, now, sizeof now);
            st = spk__fail(SPK_ERR_LIMIT, "a commit of %d table%s would make the backend hold %s (it holds %s) of %s allowed "
                                          "(spark.sparkless.backend.maxMemory); nothing was written", n, n == 1 ? "" : "s",
                           need, now, limit);
        }
        spk__cow_state *succ = NULL;
        if (st == SPK_OK && !(succ = spk__cow_with_all(&s->map, n, key_list, (void *const *)next))) st = SPK_ERR_NOMEM;
        if (st == SPK_OK && s->persist) {
            if (n == 1) st = s->persist->commit(s->pctx, tokens[0]);
            else if (!s->persist->commit_all) st = spk__fail(SPK_ERR_UNSUPPORTED, "this backend cannot commit several tables at once");
            else st = s->persist->commit_all(s->pctx, tokens, n);
            if (st != SPK_OK) spk__cow_discard_all(&s->map, succ, n, key_list);
        }
        if (st == SPK_OK) {
            uint64_t stamp = spk__store_next_stamp(s);
            for (int i = 0; i < n; i++) next[i]->stamp = stamp;
            s->held = held;
            spk__cow_publish(&s->map, succ);
            for (int i = 0; i < n; i++) {
                spk__store_superseded(s, spk__key_equals, keys[i], stamp);
                if (s->persist) s->persist->retire(s->pctx, w[i].schema, w[i].table, next[i]->version);
            }
            committed = true;
            if (asof) *asof = stamp;
        }
        spk__cow_unlock(&s->map);
    }
    for (int i = 0; i < n; i++) {
        if (tokens && tokens[i]) s->persist->release(s->pctx, tokens[i], committed);
        if (!committed && next && next[i]) spk__tver_free(s, next[i]);
    }
    if (keys) spk__free(s->alloc, keys, (size_t)n * sizeof *keys);
    if (key_list) spk__free(s->alloc, key_list, (size_t)n * sizeof *key_list);
    if (next) spk__free(s->alloc, next, (size_t)n * sizeof *next);
    if (tokens) spk__free(s->alloc, tokens, (size_t)n * sizeof *tokens);
    return st;
}

static const spk_backend_ops spk__store_ops = {spk__store_create_schema, spk__store_drop_schema, spk__store_list_schemas,
                                               spk__store_write,         spk__store_scan,        spk__store_drop_table,
                                               spk__store_list_tables,   spk__store_close,       spk__store_last_asof,
                                               spk__store_scan_asof,     spk__store_unpin,       spk__store_commit};

/* Wraps a store as a backend of the given type; on failure the store is closed. */
static spk_status spk__store_backend(spk__store *s, const char *type, spk_backend **out) {
    spk_status st = spk_backend_new(s->alloc, type, &spk__store_ops, s, out);
    if (st != SPK_OK) spk__store_close(s);
    return st;
}

SPKDEF spk_status spk_backend_memory(const spk_backend_config *config, spk_backend **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_backend_memory: NULL output");
    spk__store *s = NULL;
    spk_status st = spk__store_new(config ? config->alloc : NULL, config ? config->max_memory : 0, NULL, NULL, &s);
    return st == SPK_OK ? spk__store_backend(s, "memory", out) : st;
}
