/* catalog: sessions from configuration, child sessions, the process's
 * default session, the backend registry, databases, tables and views.
 *
 * Sharing: a root session and its children share one spk__catalog (the
 * backend and the global temp views); each session has its own spk__sessx
 * (temp views, configuration, current database). Views and configuration
 * live in copy-on-write maps (backend.c), so lookups never wait; the
 * current database is a short string under a per-session mutex. */
#include "filestore.c"
#include "catalog.h"

/* ---------------------------------------------------------------- names */

#define SPK__NAME_MAX 128

/* A database, table or view name: letters, digits and '_', kept in lower case. */
static spk_status spk__name_norm(const char *name, size_t len, const char *what, char out[SPK__NAME_MAX + 1]) {
    if (len == 0 || len > SPK__NAME_MAX)
        return spk__fail(SPK_ERR_ARG, "%s name '%.*s' must be 1 to %d characters", what, (int)(len > 200 ? 200 : len), name,
                         SPK__NAME_MAX);
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return spk__fail(SPK_ERR_ARG, "%s name '%.*s' has '%c' at position %zu; names are letters, digits and '_'", what,
                             (int)len, name, c, i + 1);
        out[i] = (char)spk__lower(c);
    }
    out[len] = 0;
    return SPK_OK;
}

/* "table" or "db.table": db is "" when not given. */
static spk_status spk__table_name(const char *name, char db[SPK__NAME_MAX + 1], char table[SPK__NAME_MAX + 1]) {
    if (!name) return spk__fail(SPK_ERR_ARG, "NULL table name");
    const char *dot = strchr(name, '.');
    db[0] = 0;
    if (dot && strchr(dot + 1, '.'))
        return spk__fail(SPK_ERR_ARG, "table name '%s' has more than one '.'; write \"table\" or \"database.table\"", name);
    spk_status st = dot ? spk__name_norm(name, (size_t)(dot - name), "database", db) : SPK_OK;
    if (st == SPK_OK) st = spk__name_norm(dot ? dot + 1 : name, strlen(dot ? dot + 1 : name), "table", table);
    return st;
}

/* ---------------------------------------------------------------- the backend registry */

typedef struct spk__registration {
    char name[32];
    spk_backend_factory factory;
    void *user;
} spk__registration;

static spk__once_flag spk__process_once = SPK__ONCE_INIT;
static spk__mutex spk__process_lock; /* the registry and the default session; never held while calling out */
static spk__registration spk__registry[16];
static int spk__registry_n;
static spk_session *spk__default_session;

static void spk__process_init(void) { (void)spk__mutex_init(&spk__process_lock); }
static void spk__process_lock_take(void) {
    spk__call_once(&spk__process_once, spk__process_init);
    spk__mutex_lock(&spk__process_lock);
}

static spk_status spk__file_factory(const spk_backend_config *config, spk_backend **out) { return spk_backend_file(config, out); }
static const spk__registration spk__builtin_backends[] = {{"memory", spk_backend_memory, NULL}, {"file", spk__file_factory, NULL}};
#define SPK__BUILTINS ((int)(sizeof spk__builtin_backends / sizeof spk__builtin_backends[0]))

/* Under the process lock. */
static const spk__registration *spk__registry_find(const char *name) {
    for (int i = 0; i < SPK__BUILTINS; i++)
        if (strcmp(spk__builtin_backends[i].name, name) == 0) return &spk__builtin_backends[i];
    for (int i = 0; i < spk__registry_n; i++)
        if (strcmp(spk__registry[i].name, name) == 0) return &spk__registry[i];
    return NULL;
}

static void spk__registry_names(char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < SPK__BUILTINS + spk__registry_n && used < cap; i++) {
        const char *n = i < SPK__BUILTINS ? spk__builtin_backends[i].name : spk__registry[i - SPK__BUILTINS].name;
        int w = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", n);
        if (w > 0) used += (size_t)w;
    }
}

SPKDEF spk_status spk_backend_register(const char *name, spk_backend_factory factory, void *user) {
    if (!name || !factory) return spk__fail(SPK_ERR_ARG, "spk_backend_register: NULL argument");
    size_t len = strlen(name);
    bool ok = len > 0 && len < sizeof spk__registry[0].name;
    for (size_t i = 0; ok && i < len; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= '0' && name[i] <= '9') ||
             name[i] == '_' || name[i] == '-';
    if (!ok) return spk__fail(SPK_ERR_ARG, "backend name '%s' must be 1 to 31 letters, digits, '_' or '-'", name);
    spk_status st = SPK_OK;
    spk__process_lock_take();
    if (spk__registry_find(name)) st = spk__fail(SPK_ERR_EXISTS, "a backend named '%s' is already registered", name);
    else if (spk__registry_n == (int)(sizeof spk__registry / sizeof spk__registry[0]))
        st = spk__fail(SPK_ERR_LIMIT, "cannot register backend '%s': %d backends are registered already", name, spk__registry_n);
    else {
        spk__registration *r = &spk__registry[spk__registry_n++];
        memcpy(r->name, name, len + 1);
        r->factory = factory;
        r->user = user;
    }
    spk__mutex_unlock(&spk__process_lock);
    return st;
}

SPKDEF spk_status spk_backend_create(const char *name, const spk_backend_config *config, spk_backend **out) {
    if (!name || !out) return spk__fail(SPK_ERR_ARG, "spk_backend_create: NULL argument");
    spk__process_lock_take();
    const spk__registration *r = spk__registry_find(name);
    spk__registration found = r ? *r : (spk__registration){"", NULL, NULL};
    char known[600];
    spk__registry_names(known, sizeof known);
    spk__mutex_unlock(&spk__process_lock);
    if (!found.factory) return spk__fail(SPK_ERR_NOT_FOUND, "no backend named '%s'; available: %s", name, known);
    spk_backend_config c = config ? *config : (spk_backend_config){NULL, NULL, 0, NULL};
    c.user = found.user;
    *out = NULL;
    spk_status st = found.factory(&c, out);
    if (st == SPK_OK && !*out) st = spk__fail(SPK_ERR_INTERNAL, "backend factory '%s' returned no backend", name);
    return st;
}

SPKDEF spk_status spk_backend_list(spk_names *out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_backend_list: NULL output");
    memset(out, 0, sizeof *out);
    spk__process_lock_take();
    spk_status st = SPK_OK;
    for (int i = 0; i < SPK__BUILTINS + spk__registry_n && st == SPK_OK; i++)
        st = spk_names_add(out, i < SPK__BUILTINS ? spk__builtin_backends[i].name : spk__registry[i - SPK__BUILTINS].name);
    spk__mutex_unlock(&spk__process_lock);
    if (st != SPK_OK) spk_names_free(out);
    return st;
}

/* ---------------------------------------------------------------- configuration values */

static bool spk__conf_bool(const char *v, bool *out) {
    if (spk__name_eq(v, "true", false)) *out = true;
    else if (spk__name_eq(v, "false", false)) *out = false;
    else return false;
    return true;
}

/* Spark's byte strings: a number with an optional unit b, k, kb, m, mb, g,
 * gb, t, tb (any case; powers of 1024); a bare number is bytes. */
static bool spk__parse_bytes(const char *v, uint64_t *out) {
    uint64_t n = 0;
    const char *p = v;
    if (*p < '0' || *p > '9') return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (n > (UINT64_MAX - 9) / 10) return false;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    int shift = 0;
    switch (spk__lower(*p)) {
    case 0: break;
    case 'b': shift = 0; p--; break;
    case 'k': shift = 10; break;
    case 'm': shift = 20; break;
    case 'g': shift = 30; break;
    case 't': shift = 40; break;
    default: return false;
    }
    if (*p) {
        p++;
        if (spk__lower(*p) == 'b') p++;
        if (*p) return false;
    }
    if (shift && n > (UINT64_MAX >> shift)) return false;
    *out = n << shift;
    return true;
}

static bool spk__parse_threads(const char *v, int *out) {
    long n = 0;
    if (!*v) return false;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9' || n > SPK_POOL_MAX_THREADS) return false;
        n = n * 10 + (*p - '0');
    }
    if (n > SPK_POOL_MAX_THREADS) return false;
    *out = (int)n;
    return true;
}

#define SPK__KEY_BACKEND "spark.sparkless.backend"
#define SPK__KEY_BASE_PATH "spark.sparkless.backend.basePath"
#define SPK__KEY_MAX_MEMORY "spark.sparkless.backend.maxMemory"
#define SPK__KEY_SPILL "spark.sparkless.backend.allowDiskSpillover"
#define SPK__KEY_THREADS "spark.sparkless.threads"
#define SPK__KEY_CASE "spark.sql.caseSensitive"

static bool spk__key_is_static(const char *key) {
    size_t n = strlen(SPK__KEY_BACKEND);
    return strncmp(key, SPK__KEY_BACKEND, n) == 0 && (key[n] == 0 || key[n] == '.');
}

/* Checks a value for a known key (others are free-form). */
static spk_status spk__conf_check(const char *key, const char *value) {
    if (!key || !value) return spk__fail(SPK_ERR_ARG, "configuration: NULL key or value");
    if (!*key) return spk__fail(SPK_ERR_ARG, "configuration: empty key");
    bool b;
    uint64_t bytes;
    int threads;
    if (strcmp(key, SPK__KEY_BACKEND) == 0) {
        spk__process_lock_take();
        bool known = spk__registry_find(value) != NULL;
        char names[600];
        spk__registry_names(names, sizeof names);
        spk__mutex_unlock(&spk__process_lock);
        if (!known) return spk__fail(SPK_ERR_ARG, "%s: no backend named '%s'; available: %s", key, value, names);
    } else if (strcmp(key, SPK__KEY_BASE_PATH) == 0) {
        if (!*value) return spk__fail(SPK_ERR_ARG, "%s: the path is empty", key);
    } else if (strcmp(key, SPK__KEY_MAX_MEMORY) == 0) {
        if (!spk__parse_bytes(value, &bytes))
            return spk__fail(SPK_ERR_ARG, "%s: '%s' is not a byte size (a number with an optional unit: 512m, 2g, 1024k, 100b)",
                             key, value);
    } else if (strcmp(key, SPK__KEY_SPILL) == 0 || strcmp(key, SPK__KEY_CASE) == 0) {
        if (!spk__conf_bool(value, &b)) return spk__fail(SPK_ERR_ARG, "%s: '%s' is not true or false", key, value);
    } else if (strcmp(key, SPK__KEY_THREADS) == 0) {
        if (!spk__parse_threads(value, &threads))
            return spk__fail(SPK_ERR_ARG, "%s: '%s' is not a thread count (0 = one per core, up to %d)", key, value,
                             SPK_POOL_MAX_THREADS);
    }
    return SPK_OK;
}

static void spk__string_free(void *ctx, void *value) {
    const spk_allocator *a = (const spk_allocator *)ctx;
    spk__free(a, value, strlen((const char *)value) + 1);
}

static void spk__view_free(void *ctx, void *value) {
    (void)ctx;
    spk_df_release((spk_df *)value);
}

/* Sets key in a configuration map. */
static spk_status spk__conf_put(spk__cow *conf, const char *key, const char *value) {
    char *copy = spk__strndup(conf->alloc, value, strlen(value));
    if (!copy) return spk__nomem("a configuration value", strlen(value) + 1);
    spk__cow_lock(conf);
    spk__cow_state *next = spk__cow_with(conf, key, copy);
    if (next) spk__cow_publish(conf, next);
    spk__cow_unlock(conf);
    if (!next) spk__free(conf->alloc, copy, strlen(copy) + 1);
    return next ? SPK_OK : SPK_ERR_NOMEM;
}

/* Copies the value of key into buf (NULL buf: only whether it is set). */
static spk_status spk__conf_read(spk__cow *conf, const char *key, char *buf, size_t cap) {
    spk_status st = SPK_OK;
    const spk__cow_state *cur = spk__cow_enter(conf);
    const char *v = (const char *)spk__cow_find(cur, key);
    if (!v) st = spk__fail(SPK_ERR_NOT_FOUND, "configuration key '%s' is not set", key);
    else if (buf && strlen(v) >= cap)
        st = spk__fail(SPK_ERR_LIMIT, "the value of '%s' needs %zu bytes; the buffer has %zu", key, strlen(v) + 1, cap);
    else if (buf) memcpy(buf, v, strlen(v) + 1);
    spk__cow_leave(conf);
    return st;
}

/* ---------------------------------------------------------------- builders */

typedef struct spk__kv {
    char *key, *value;
} spk__kv;

struct spk_builder {
    const spk_allocator *alloc;
    spk__kv *conf;
    int n;
    spk_backend *backend; /* injected */
};

SPKDEF spk_status spk_builder_new(spk_builder **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_builder_new: NULL output");
    spk_builder *b = (spk_builder *)spk__calloc(&spk__default_allocator, sizeof *b);
    if (!b) return spk__nomem("a builder", sizeof *b);
    b->alloc = &spk__default_allocator;
    *out = b;
    return SPK_OK;
}

SPKDEF void spk_builder_free(spk_builder *b) {
    if (!b) return;
    for (int i = 0; i < b->n; i++) {
        spk__free(&spk__default_allocator, b->conf[i].key, strlen(b->conf[i].key) + 1);
        spk__free(&spk__default_allocator, b->conf[i].value, strlen(b->conf[i].value) + 1);
    }
    if (b->conf) spk__free(&spk__default_allocator, b->conf, (size_t)b->n * sizeof *b->conf);
    spk_backend_close(b->backend);
    spk__free(&spk__default_allocator, b, sizeof *b);
}

static const char *spk__builder_get(const spk_builder *b, const char *key) {
    for (int i = 0; i < b->n; i++)
        if (strcmp(b->conf[i].key, key) == 0) return b->conf[i].value;
    return NULL;
}

SPKDEF spk_status spk_builder_config(spk_builder *b, const char *key, const char *value) {
    if (!b) return spk__fail(SPK_ERR_ARG, "spk_builder_config: NULL builder");
    spk_status st = spk__conf_check(key, value);
    if (st != SPK_OK) return st;
    const spk_allocator *a = &spk__default_allocator;
    char *v = spk__strndup(a, value, strlen(value));
    if (!v) return spk__nomem("a configuration value", strlen(value) + 1);
    for (int i = 0; i < b->n; i++)
        if (strcmp(b->conf[i].key, key) == 0) {
            spk__free(a, b->conf[i].value, strlen(b->conf[i].value) + 1);
            b->conf[i].value = v;
            return SPK_OK;
        }
    char *k = spk__strndup(a, key, strlen(key));
    spk__kv *grown = k ? (spk__kv *)spk__realloc(a, b->conf, (size_t)b->n * sizeof *grown, (size_t)(b->n + 1) * sizeof *grown) : NULL;
    if (!grown) {
        if (k) spk__free(a, k, strlen(k) + 1);
        spk__free(a, v, strlen(v) + 1);
        return spk__nomem("a configuration entry", sizeof *grown);
    }
    grown[b->n++] = (spk__kv){k, v};
    b->conf = grown;
    return SPK_OK;
}

SPKDEF spk_status spk_builder_allocator(spk_builder *b, const spk_allocator *alloc) {
    if (!b) return spk__fail(SPK_ERR_ARG, "spk_builder_allocator: NULL builder");
    b->alloc = spk__allocator_or_default(alloc);
    return SPK_OK;
}

SPKDEF spk_status spk_builder_backend(spk_builder *b, spk_backend *backend) {
    if (!b || !backend) return spk__fail(SPK_ERR_ARG, "spk_builder_backend: NULL argument");
    spk_backend_close(b->backend);
    b->backend = backend;
    return SPK_OK;
}

/* ---------------------------------------------------------------- catalogs and session state */

typedef struct spk__catalog {
    atomic_int refs; /* sessions using it */
    const spk_allocator *alloc;
    spk_backend *backend;
    spk__cow global_views; /* name -> spk_df */
} spk__catalog;

struct spk__sessx {
    spk__catalog *catalog;
    atomic_int handles;       /* spk_builder_get_or_create hands out more than one */
    spk__cow views;           /* name -> spk_df */
    spk__cow conf;            /* key -> string */
    spk__mutex current_lock;
    char current[SPK__NAME_MAX + 1];
};

static void spk__catalog_release(spk__catalog *c) {
    if (!c || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) > 1) return;
    spk__cow_destroy(&c->global_views);
    spk_backend_close(c->backend);
    spk__free(c->alloc, c, sizeof *c);
}

static spk_status spk__catalog_new(const spk_allocator *alloc, spk_backend *backend, spk__catalog **out) {
    spk__catalog *c = (spk__catalog *)spk__calloc(alloc, sizeof *c);
    if (!c) return spk__nomem("a catalog", sizeof *c);
    spk_status st = spk__cow_init(&c->global_views, alloc, spk__view_free, NULL);
    if (st != SPK_OK) {
        spk__free(alloc, c, sizeof *c);
        return st;
    }
    atomic_init(&c->refs, 1);
    c->alloc = alloc;
    c->backend = backend;
    *out = c;
    return SPK_OK;
}

static void spk__sessx_free(const spk_allocator *a, struct spk__sessx *x) {
    if (!x) return;
    spk__cow_destroy(&x->views);
    spk__cow_destroy(&x->conf);
    spk__mutex_destroy(&x->current_lock);
    spk__catalog_release(x->catalog);
    spk__free(a, x, sizeof *x);
}

/* A session on catalog c (a reference is taken), with configuration from
 * keys/values (n pairs) and the given current database. */
static spk_status spk__session_on(spk__catalog *c, const spk_allocator *alloc, const char *const *keys,
                                  const char *const *values, int n, const char *current, spk_session **out) {
    bool case_sensitive = false;
    int threads = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(keys[i], SPK__KEY_CASE) == 0) (void)spk__conf_bool(values[i], &case_sensitive);
        if (strcmp(keys[i], SPK__KEY_THREADS) == 0) (void)spk__parse_threads(values[i], &threads);
    }
    spk_session *s = NULL;
    spk_status st = spk__session_make(alloc, case_sensitive, threads, &s);
    if (st != SPK_OK) return st;
    struct spk__sessx *x = (struct spk__sessx *)spk__calloc(alloc, sizeof *x);
    if (!x) {
        spk__session_release(s);
        return spk__nomem("a session", sizeof *x);
    }
    bool views = false, conf = false, lock = false;
    st = spk__cow_init(&x->views, alloc, spk__view_free, NULL);
    views = st == SPK_OK;
    if (st == SPK_OK) st = spk__cow_init(&x->conf, alloc, spk__string_free, (void *)alloc);
    conf = views && st == SPK_OK;
    if (st == SPK_OK) st = (lock = spk__mutex_init(&x->current_lock)) ? SPK_OK : spk__fail(SPK_ERR_INTERNAL, "mtx_init failed");
    for (int i = 0; st == SPK_OK && i < n; i++) st = spk__conf_put(&x->conf, keys[i], values[i]);
    if (st != SPK_OK) {
        if (views) spk__cow_destroy(&x->views);
        if (conf) spk__cow_destroy(&x->conf);
        if (lock) spk__mutex_destroy(&x->current_lock);
        spk__free(alloc, x, sizeof *x);
        spk__session_release(s);
        return st;
    }
    atomic_init(&x->handles, 1);
    snprintf(x->current, sizeof x->current, "%s", current);
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    x->catalog = c;
    s->ext = x;
    *out = s;
    return SPK_OK;
}

static spk_status spk__builder_session(spk_builder *b, spk_session **out) {
    spk_backend *backend = b->backend;
    spk_status st = SPK_OK;
    if (!backend) {
        const char *name = spk__builder_get(b, SPK__KEY_BACKEND), *mem = spk__builder_get(b, SPK__KEY_MAX_MEMORY);
        spk_backend_config cfg = {b->alloc, spk__builder_get(b, SPK__KEY_BASE_PATH), 0, NULL};
        if (mem) (void)spk__parse_bytes(mem, &cfg.max_memory);
        st = spk_backend_create(name ? name : "memory", &cfg, &backend);
        if (st != SPK_OK) return st;
    }
    spk__catalog *c = NULL;
    if ((st = spk__catalog_new(b->alloc, backend, &c)) != SPK_OK) {
        if (!b->backend) spk_backend_close(backend);
        return st;
    }
    b->backend = NULL; /* the catalog has it now */
    size_t bytes = (size_t)(b->n ? b->n : 1) * 2 * sizeof(const char *);
    const char **kv = (const char **)spk__alloc(&spk__default_allocator, bytes);
    if (!kv) st = spk__nomem("configuration", bytes);
    for (int i = 0; kv && i < b->n; i++) {
        kv[i] = b->conf[i].key;
        kv[b->n + i] = b->conf[i].value;
    }
    if (st == SPK_OK) st = spk__session_on(c, b->alloc, kv, kv + b->n, b->n, "default", out);
    if (kv) spk__free(&spk__default_allocator, kv, bytes);
    spk__catalog_release(c); /* the session holds it */
    return st;
}

SPKDEF spk_status spk_builder_create(spk_builder *b, spk_session **out) {
    if (!b || !out) return spk__fail(SPK_ERR_ARG, "spk_builder_create: NULL argument");
    return spk__builder_session(b, out);
}

SPKDEF spk_status spk_builder_get_or_create(spk_builder *b, spk_session **out) {
    if (!b || !out) return spk__fail(SPK_ERR_ARG, "spk_builder_get_or_create: NULL argument");
    /* Made outside the lock (a backend may do I/O, and the registry takes
     * the lock); if another thread published one meanwhile, ours goes. */
    spk__process_lock_take();
    spk_session *s = spk__default_session;
    if (s) atomic_fetch_add(&s->ext->handles, 1);
    spk__mutex_unlock(&spk__process_lock);
    spk_status st = SPK_OK;
    if (!s) {
        spk_session *made = NULL;
        if ((st = spk__builder_session(b, &made)) != SPK_OK) return st;
        spk__process_lock_take();
        s = spk__default_session;
        if (s) atomic_fetch_add(&s->ext->handles, 1);
        else s = spk__default_session = made;
        spk__mutex_unlock(&spk__process_lock);
        if (s != made) spk_session_stop(made);
    }
    for (int i = 0; st == SPK_OK && s && i < b->n; i++)
        if (!spk__key_is_static(b->conf[i].key)) st = spk_conf_set(s, b->conf[i].key, b->conf[i].value);
    if (st != SPK_OK && s) {
        spk_session_stop(s);
        s = NULL;
    }
    *out = s;
    return st;
}

SPKDEF spk_status spk_session_new(const spk_session_options *opts, spk_session **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_session_new: NULL output");
    if (opts && (opts->threads < 0 || opts->threads > SPK_POOL_MAX_THREADS))
        return spk__fail(SPK_ERR_ARG, "spk_session_new: threads is %d; it must be 0 (one per core) to %d", opts->threads,
                         SPK_POOL_MAX_THREADS);
    const spk_allocator *alloc = spk__allocator_or_default(opts ? opts->alloc : NULL);
    spk_backend *backend = NULL;
    spk_backend_config cfg = {alloc, NULL, 0, NULL};
    spk_status st = spk_backend_memory(&cfg, &backend);
    spk__catalog *c = NULL;
    if (st == SPK_OK && (st = spk__catalog_new(alloc, backend, &c)) != SPK_OK) spk_backend_close(backend);
    if (st != SPK_OK) return st;
    char threads[16];
    snprintf(threads, sizeof threads, "%d", opts ? opts->threads : 0);
    const char *keys[] = {SPK__KEY_BACKEND, SPK__KEY_CASE, SPK__KEY_THREADS};
    const char *values[] = {"memory", opts && opts->case_sensitive ? "true" : "false", threads};
    st = spk__session_on(c, alloc, keys, values, 3, "default", out);
    spk__catalog_release(c);
    return st;
}

SPKDEF spk_status spk_session_new_session(spk_session *s, spk_session **out) {
    if (!s || !s->ext || !out) return spk__fail(SPK_ERR_ARG, "spk_session_new_session: NULL or stopped session");
    struct spk__sessx *x = s->ext;
    /* the parent's configuration, as it is now (its strings stay valid while we read) */
    const spk__cow_state *cur = spk__cow_enter(&x->conf);
    size_t bytes = (cur->n ? cur->n : 1) * 2 * sizeof(const char *);
    const char **kv = (const char **)spk__alloc(s->alloc, bytes);
    spk_status st = kv ? SPK_OK : spk__nomem("configuration", bytes);
    for (size_t i = 0; kv && i < cur->n; i++) {
        kv[i] = cur->e[i].key;
        kv[cur->n + i] = (const char *)cur->e[i].value;
    }
    /* Spark: a new session starts in the "default" database */
    if (st == SPK_OK) st = spk__session_on(x->catalog, s->alloc, kv, kv + cur->n, (int)cur->n, "default", out);
    spk__cow_leave(&x->conf);
    if (kv) spk__free(s->alloc, kv, bytes);
    return st;
}

SPKDEF void spk_session_stop(spk_session *s) {
    if (!s) return;
    struct spk__sessx *x = s->ext;
    if (!x) return;
    spk__process_lock_take();
    int left = atomic_fetch_sub(&x->handles, 1) - 1;
    if (left == 0 && spk__default_session == s) spk__default_session = NULL;
    spk__mutex_unlock(&spk__process_lock);
    if (left > 0) return;
    s->ext = NULL;
    spk__sessx_free(s->alloc, x);
    spk__session_release(s);
}

SPKDEF void spk_session_free(spk_session *s) { spk_session_stop(s); }

static struct spk__sessx *spk__sessx_of(spk_session *s, const char *fn) {
    if (!s || !s->ext) {
        spk__fail(SPK_ERR_ARG, "%s: %s session", fn, s ? "stopped" : "NULL");
        return NULL;
    }
    return s->ext;
}

SPKDEF spk_backend *spk_session_backend(spk_session *s) {
    struct spk__sessx *x = spk__sessx_of(s, "spk_session_backend");
    return x ? x->catalog->backend : NULL;
}

SPKDEF spk_status spk_conf_set(spk_session *s, const char *key, const char *value) {
    struct spk__sessx *x = spk__sessx_of(s, "spk_conf_set");
    if (!x) return SPK_ERR_ARG;
    if (key && spk__key_is_static(key))
        return spk__fail(SPK_ERR_STATE, "cannot modify the value of the static config '%s' on a running session; set it on the "
                                        "builder", key);
    spk_status st = spk__conf_check(key, value);
    if (st != SPK_OK) return st;
    if ((st = spk__conf_put(&x->conf, key, value)) != SPK_OK) return st;
    bool b;
    int threads;
    if (strcmp(key, SPK__KEY_CASE) == 0 && spk__conf_bool(value, &b)) atomic_store(&s->case_sensitive, b);
    if (strcmp(key, SPK__KEY_THREADS) == 0 && spk__parse_threads(value, &threads)) spk__session_set_threads(s, threads);
    return SPK_OK;
}

SPKDEF spk_status spk_conf_get(spk_session *s, const char *key, char *buf, size_t cap) {
    struct spk__sessx *x = spk__sessx_of(s, "spk_conf_get");
    if (!x) return SPK_ERR_ARG;
    if (!key || !buf) return spk__fail(SPK_ERR_ARG, "spk_conf_get: NULL argument");
    return spk__conf_read(&x->conf, key, buf, cap);
}

SPKDEF spk_status spk_conf_unset(spk_session *s, const char *key) {
    struct spk__sessx *x = spk__sessx_of(s, "spk_conf_unset");
    if (!x) return SPK_ERR_ARG;
    if (!key) return spk__fail(SPK_ERR_ARG, "spk_conf_unset: NULL key");
    if (spk__key_is_static(key)) return spk__fail(SPK_ERR_STATE, "cannot unset the static config '%s' on a running session", key);
    spk__cow_lock(&x->conf);
    spk__cow_state *next = spk__cow_find(spk__cow_locked(&x->conf), key) ? spk__cow_without(&x->conf, spk__key_equals, key) : NULL;
    if (next) spk__cow_publish(&x->conf, next);
    spk__cow_unlock(&x->conf);
    if (strcmp(key, SPK__KEY_CASE) == 0) atomic_store(&s->case_sensitive, false);
    if (strcmp(key, SPK__KEY_THREADS) == 0) spk__session_set_threads(s, 0);
    return SPK_OK;
}

/* ---------------------------------------------------------------- calling backends
 * A user backend may fail without a message (it cannot call spk__fail):
 * then the catalog records one, so spk_last_error() always says what failed. */

static spk_status spk__backend_done(const spk_backend *b, unsigned long before, spk_status st, const char *op, const char *db,
                                    const char *table) {
    if (st != SPK_OK && spk__error_count == before)
        spk__fail(st, "backend '%s': %s %s%s%s failed: %s", b->type, op, db ? db : "", table ? "." : "", table ? table : "",
                  spk_status_message(st));
    return st;
}

static _Thread_local unsigned long spk__backend_mark; /* spk__error_count before the call */
#define SPK__BACKEND_CALL(b, op, db, table, call) \
    (spk__backend_mark = spk__error_count, spk__backend_done((b), spk__backend_mark, (b)->ops->call, op, db, table))

/* ---------------------------------------------------------------- databases */

static spk_status spk__db_arg(const char *name, char out[SPK__NAME_MAX + 1]) {
    if (!name) return spk__fail(SPK_ERR_ARG, "NULL database name");
    spk_status st = spk__name_norm(name, strlen(name), "database", out);
    if (st == SPK_OK && strcmp(out, "global_temp") == 0)
        st = spk__fail(SPK_ERR_ARG, "global_temp is the database of global temp views, not of tables");
    return st;
}

static void spk__current_db(struct spk__sessx *x, char out[SPK__NAME_MAX + 1]) {
    spk__mutex_lock(&x->current_lock);
    memcpy(out, x->current, SPK__NAME_MAX + 1);
    spk__mutex_unlock(&x->current_lock);
}

SPKDEF spk_status spk_catalog_create_database(spk_session *s, const char *name, bool if_not_exists) {
    struct spk__sessx *x = spk__sessx_of(s, "spk_catalog_create_database");
    char db[SPK__NAME_MAX + 1];
    if (!x) return SPK_ERR_ARG;
    spk_status st = spk__db_arg(name, db);
    const spk_backend *b = x->catalog->backend;
    return st == SPK_OK ? SPK__BACKEND_CALL(b, "create database", db, NULL, create_schema(b->self, db, if_not_exists)) : st;
}

SPKDEF spk_status spk_catalog_drop_database(spk_session *s, const char *name, bool if_exists, bool cascade) {
    struct spk__sessx *x = spk__sessx_of(s, "spk_catalog_drop_database");
    char db[SPK__NAME_MAX + 1];
    if (!x) return SPK_ERR_ARG;
    spk_status st = spk__db_arg(name, db);
    if (st != SPK_OK) return st;
    if (strcmp(db, "default") == 0) return spk__fail(SPK_ERR_ARG, "cannot drop the default database");
    const spk_backend *b = x->catalog->backend;
    st = SPK__BACKEND_CALL(b, "drop database", db, NULL, drop_schema(b->self, db, cascade));
    if (st == SPK_ERR_NOT_FOUND && if_exists) {
        spk_clear_error();
        st = SPK_OK;
    }
    return st;
}

SPKDEF spk_status spk_catalog_list_databases(spk_session *s, spk_names *out) {
    struct spk__sessx *x = spk__sessx_of(s, "spk_catalog_list_databases");
    if (!x) return SPK_ERR_ARG;
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_catalog_list_databases: NULL output");
    const spk_backend *b = x->catalog->backend;
    memset(out, 0, sizeof *out);
    return SPK__BACKEND_CALL(b, "list databases", NULL, NULL, list_schemas(b->self, out));
}

SPKDEF bool spk_catalog_database_exists(spk_session *s, const char *name) {
    spk_names all = {0, NULL, NULL};
    char db[SPK__NAME_MAX + 1];
    if (name && spk__name_eq(name, "global_temp", false)) return spk__sessx_of(s, "spk_catalog_database_exists") != NULL;
    if (!name || spk__db_arg(name, db) != SPK_OK || spk_catalog_list_databases(s, &all) != SPK_OK) return false;
    bool found = false;
    for (int i = 0; i < all.n && !found; i++) found = strcmp(all.names[i], db) == 0;
    spk_names_free(&all);
    return found;
}

SPKDEF spk_status spk_catalog_current_database(spk_session *s, char *buf, size_t cap) {
    struct spk__sessx *x = spk__sessx_of(s, "spk_catalog_current_database");
    if (!x) return SPK_ERR_ARG;
    char db[SPK__NAME_MAX + 1];
    spk__current_db(x, db);
    if (!buf || strlen(db) >= cap) return spk__fail(SPK_ERR_LIMIT, "spk_catalog_current_database: the buffer needs %zu bytes", strlen(db) + 1);
    memcpy(buf, db, strlen(db) + 1);
    return SPK_OK;
}

SPKDEF spk_status spk_catalog_set_current_database(spk_session *s, const char *name) {
    struct spk__sessx *x = spk__sessx_of(s, "spk_catalog_set_current_database");
    char db[SPK__NAME_MAX + 1];
    if (!x) return SPK_ERR_ARG;
    spk_status st = spk__db_arg(name, db);
    if (st != SPK_OK) return st;
    if (!spk_catalog_database_exists(s, db)) return spk__fail(SPK_ERR_NOT_FOUND, "database `%s` not found", db);
    spk__mutex_lock(&x->current_lock);
    memcpy(x->current, db, sizeof x->current);
    spk__mutex_unlock(&x->current_lock);
    return SPK_OK;
}

/* ---------------------------------------------------------------- tables */

/* Resolves a table name against the session: db is filled in. */
static spk_status spk__resolve(struct spk__sessx *x, const char *name, char db[SPK__NAME_MAX + 1], char table[SPK__NAME_MAX + 1]) {
    spk_status st = spk__table_name(name, db, table);
    if (st == SPK_OK && !db[0]) spk__current_db(x, db);
    return st;
}

/* The latest schema of db.table (a reference), through a scan. */
static spk_status spk__table_schema(const spk_backend *b, const char *db, const char *table, spk_schema **out) {
    spk_table *t = NULL;
    spk_status st = SPK__BACKEND_CALL(b, "scan", db, table, scan(b->self, db, table, 0, &t, NULL));
    if (st != SPK_OK) return st;
    *out = spk_schema_retain(spk_table_schema(t));
    spk_table_free(t);
    return SPK_OK;
}

/* t's rows under `schema` (same column count): a relabelling when the types
 * are the same, else a copy that widens each value as appends do. Takes t. */
static spk_status spk__rows_as(spk_table *t, spk_schema *schema, const char *target, spk_table **out) {
    int n = spk_schema_ncols(schema);
    bool same = spk_schema_ncols(t->schema) == n && !spk__table_shared(t);
    for (int i = 0; same && i < n; i++) {
        const spk_field *f = spk_schema_field(schema, i), *g = spk_schema_field(t->schema, i);
        same = spk_type_equal(f->type, g->type) && (f->nullable || !g->nullable);
    }
    if (same) {
        spk_schema_release(t->schema);
        t->schema = spk_schema_retain(schema);
        *out = t;
        return SPK_OK;
    }
    for (int i = 0; i < n; i++) {
        const spk_field *f = spk_schema_field(schema, i), *g = spk_schema_field(t->schema, i);
        if (!spk__storable(g->type, f->type)) {
            spk_status st = spk__fail(SPK_ERR_SCHEMA, "cannot write incompatible data to table %s: column %d `%s` is %s in the "
                                                      "table, and %s (`%s`) in the data cannot be stored in it without loss",
                                      target, i + 1, f->name, spk__type_sql(f->type).s, spk__type_sql(g->type).s, g->name);
            spk_table_free(t);
            return st;
        }
    }
    spk_table *copy = NULL;
    spk_status st = spk_table_new(t->alloc, schema, &copy);
    spk_value row[256];
    if (st == SPK_OK && n > 256) st = spk__fail(SPK_ERR_LIMIT, "writing %s: more than 256 columns need the same types as the table", target);
    spk_cursor c;
    spk_cursor_open(&c, t);
    while (st == SPK_OK && spk_cursor_next(&c)) {
        for (int i = 0; i < n && st == SPK_OK; i++) st = spk_cursor_get(&c, i, &row[i]);
        if (st == SPK_OK) st = spk_table_append_row(copy, row, n);
        if (st != SPK_OK) spk__fail_prefix("writing %s, row %zu: ", target, c.row + 1);
    }
    spk_table_free(t);
    if (st != SPK_OK) {
        spk_table_free(copy);
        return st;
    }
    *out = copy;
    return SPK_OK;
}

/* A copy of schema with every column nullable (as Spark saves tables). */
static spk_status spk__nullable_schema(const spk_allocator *a, const spk_schema *schema, const char *target, spk_schema **out) {
    int n = spk_schema_ncols(schema);
    spk_field fields[256];
    if (n > 256) return spk__fail(SPK_ERR_LIMIT, "table %s: at most 256 columns", target);
    for (int i = 0; i < n; i++) {
        fields[i] = *spk_schema_field(schema, i);
        fields[i].nullable = true;
    }
    spk_status st = spk_schema_new(a, fields, n, out);
    if (st != SPK_OK) spk__fail_prefix("cannot save table %s: ", target);
    return st;
}

/* `name` quoted for spk_col. */
static spk_expr *spk__col_quoted(const char *name) {
    char q[2 * SPK__NAME_MAX + 8];
    size_t k = 0;
    q[k++] = '`';
    for (const char *p = name; *p && k < sizeof q - 3; p++) {
        if (*p == '`') q[k++] = '`';
        q[k++] = *p;
    }
    q[k++] = '`';
    q[k] = 0;
    return spk_col(q);
}

/* df's columns matched to the table's by name (saveAsTable in append mode). */
static spk_df *spk__by_name(spk_df *df, const spk_schema *schema, const char *target) {
    int n = spk_schema_ncols(schema), m = spk_schema_ncols(df->schema);
    char missing[512] = "", extra[512] = "";
    size_t nm = 0, ne = 0;
    for (int i = 0; i < n; i++) {
        const char *name = spk_schema_field(schema, i)->name;
        if (spk_schema_index(df->schema, name, df->case_sensitive) < 0 && nm < sizeof missing)
            nm += (size_t)snprintf(missing + nm, sizeof missing - nm, "%s`%s`", nm ? ", " : "", name);
    }
    for (int i = 0; i < m; i++) {
        const char *name = spk_schema_field(df->schema, i)->name;
        if (spk_schema_index(schema, name, df->case_sensitive) < 0 && ne < sizeof extra)
            ne += (size_t)snprintf(extra + ne, sizeof extra - ne, "%s`%s`", ne ? ", " : "", name);
    }
    if (nm || ne) {
        spk__fail(SPK_ERR_SCHEMA, "cannot append to table %s: %s%s%s%s%s", target, nm ? "the data lacks " : "", missing,
                  nm && ne ? "; " : "", ne ? "the table has no column " : "", extra);
        return NULL;
    }
    spk_expr *cols[256];
    if (n > 256) {
        spk__fail(SPK_ERR_LIMIT, "table %s: at most 256 columns", target);
        return NULL;
    }
    for (int i = 0; i < n; i++) cols[i] = spk__col_quoted(spk_schema_field(schema, i)->name);
    return spk_df_select_array(df, cols, n);
}

/* Collects df and writes it to db.table with the mode. */
static spk_status spk__write(struct spk__sessx *x, spk_df *df, const char *db, const char *table, spk_write_mode mode) {
    const spk_backend *b = x->catalog->backend;
    char target[2 * SPK__NAME_MAX + 2];
    snprintf(target, sizeof target, "%s.%s", db, table);
    spk_schema *existing = NULL;
    spk_status st = spk__table_schema(b, db, table, &existing);
    if (st == SPK_ERR_NOT_FOUND || st == SPK_ERR_CORRUPT) {
        existing = NULL;
        if (st == SPK_ERR_NOT_FOUND && (mode == SPK_WRITE_INSERT || mode == SPK_WRITE_INSERT_OVERWRITE))
            return spk__fail(SPK_ERR_NOT_FOUND, "insertInto: table %s not found", target);
        spk_clear_error();
        st = SPK_OK;
    }
    if (st != SPK_OK) return st;
    if (existing && mode == SPK_WRITE_ERROR) {
        spk_schema_release(existing);
        return spk__fail(SPK_ERR_EXISTS, "table %s already exists (save mode \"error\"; use \"append\", \"overwrite\" or \"ignore\")",
                         target);
    }
    if (existing && mode == SPK_WRITE_IGNORE) {
        spk_schema_release(existing);
        return SPK_OK;
    }
    bool insert = mode == SPK_WRITE_INSERT || mode == SPK_WRITE_INSERT_OVERWRITE;
    spk_df *source = spk_df_retain(df);
    if (existing && mode == SPK_WRITE_APPEND) {
        spk_df_release(source);
        source = spk__by_name(df, existing, target);
        if (!source) st = spk_last_status();
    }
    if (st == SPK_OK && existing && insert && spk_schema_ncols(df->schema) != spk_schema_ncols(existing))
        st = spk__fail(SPK_ERR_SCHEMA, "insertInto %s: the table has %d columns and the data %d", target,
                       spk_schema_ncols(existing), spk_schema_ncols(df->schema));
    spk_schema *schema = NULL;
    if (st == SPK_OK) {
        bool keep = existing && (mode == SPK_WRITE_APPEND || insert);
        st = keep ? (schema = spk_schema_retain(existing), SPK_OK) : spk__nullable_schema(x->catalog->alloc, df->schema, target, &schema);
    }
    spk_table *rows = NULL;
    if (st == SPK_OK) st = spk_df_collect(source, &rows);
    if (st == SPK_OK) st = spk__rows_as(rows, schema, target, &rows);
    spk_df_release(source);
    spk_schema_release(schema);
    spk_schema_release(existing);
    if (st != SPK_OK) return st;
    return SPK__BACKEND_CALL(b, "write", db, table, write(b->self, db, table, rows, mode, NULL));
}

SPKDEF spk_status spk_catalog_save_as_table(spk_session *s, spk_df *df, const char *name, const char *mode) {
    struct spk__sessx *x = spk__sessx_of(s, "spk_catalog_save_as_table");
    if (!x) return SPK_ERR_ARG;
    if (!df) return spk__fail(SPK_ERR_ARG, "spk_catalog_save_as_table: NULL DataFrame");
    spk_write_mode m = SPK_WRITE_ERROR;
    char db[SPK__NAME_MAX + 1], table[SPK__NAME_MAX + 1];
    spk_status st = spk_write_mode_parse(mode, &m);
    if (st == SPK_OK) st = spk__resolve(x, name, db, table);
    if (st == SPK_OK && strcmp(db, "global_temp") == 0)
        st = spk__fail(SPK_ERR_ARG, "cannot save a table in global_temp (it holds global temp views)");
    return st == SPK_OK ? spk__write(x, df, db, table, m) : st;
}

SPKDEF spk_status spk_catalog_insert_into(spk_session *s, spk_df *df, const char *name, bool overwrite) {
    struct spk__sessx *x = spk__sessx_of(s, "spk_catalog_insert_into");
    if (!x) return SPK_ERR_ARG;
    if (!df) return spk__fail(SPK_ERR_ARG, "spk_catalog_insert_into: NULL DataFrame");
    char db[SPK__NAME_MAX + 1], table[SPK__NAME_MAX + 1];
    spk_status st = spk__resolve(x, name, db, table);
    return st == SPK_OK ? spk__write(x, df, db, table, overwrite ? SPK_WRITE_INSERT_OVERWRITE : SPK_WRITE_INSERT) : st;
}

/* A view's plan (a new reference) if the map has one of that name. */
static spk_df *spk__view_get(spk__cow *views, const char *name) {
    const spk__cow_state *cur = spk__cow_enter(views);
    spk_df *df = spk_df_retain((spk_df *)spk__cow_find(cur, name));
    spk__cow_leave(views);
    return df;
}

SPKDEF spk_df *spk_session_table(spk_session *s, const char *name) {
    struct spk__sessx *x = spk__sessx_of(s, "spk_session_table");
    char db[SPK__NAME_MAX + 1], table[SPK__NAME_MAX + 1];
    if (!x || spk__table_name(name, db, table) != SPK_OK) return NULL;
    if (strcmp(db, "global_temp") == 0) {
        spk_df *v = spk__view_get(&x->catalog->global_views, table);
        if (!v) spk__fail(SPK_ERR_NOT_FOUND, "global temp view `global_temp`.`%s` not found", table);
        spk_df *aliased = spk_df_alias(v, table);
        spk_df_release(v);
        return aliased;
    }
    if (!db[0]) {
        spk_df *v = spk__view_get(&x->views, table);
        if (v) {
            spk_df *aliased = spk_df_alias(v, table); /* "v.col" resolves, as in Spark */
            spk_df_release(v);
            return aliased;
        }
        spk__current_db(x, db);
    }
    const spk_backend *b = x->catalog->backend;
    spk_table *t = NULL;
    spk_status st = SPK__BACKEND_CALL(b, "scan", db, table, scan(b->self, db, table, 0, &t, NULL));
    if (st == SPK_ERR_NOT_FOUND && !spk_catalog_database_exists(s, db)) {
        spk__fail(SPK_ERR_NOT_FOUND, "table or view %s.%s not found: database `%s` does not exist", db, table, db);
        return NULL;
    }
    if (st != SPK_OK) return NULL;
    spk_df *df = spk_df_from_table(s, t);
    if (!df) {
        spk_table_free(t);
        return NULL;
    }
    spk_df *aliased = spk_df_alias(df, table); /* "t.col" resolves, as in Spark */
    spk_df_release(df);
    return aliased;
}

SPKDEF spk_status spk_catalog_table_version(spk_session *s, const char *name, uint64_t *out) {
    struct spk__sessx *x = spk__sessx_of(s, "spk_catalog_table_version");
    char db[SPK__NAME_MAX + 1], table[SPK__NAME_MAX + 1];
    if (!x) return SPK_ERR_ARG;
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_catalog_table_version: NULL output");
    spk_status st = spk__resolve(x, name, db, table);
    spk_table *t = NULL;
    const spk_backend *b = x->catalog->backend;
    if (st == SPK_OK) st = SPK__BACKEND_CALL(b, "scan", db, table, scan(b->self, db, table, 0, &t, out));
    spk_table_free(t);
    return st;
}

static spk_status spk__view_names(spk__cow *views, spk_names *out) {
    spk_status st = SPK_OK;
    const spk__cow_state *cur = spk__cow_enter(views);
    for (size_t i = 0; i < cur->n && st == SPK_OK; i++) st = spk_names_add(out, cur->e[i].key);
    spk__cow_leave(views);
    return st;
}

SPKDEF spk_status spk_catalog_list_tables(spk_session *s, const char *dbname, spk_names *out) {
    struct spk__sessx *x = spk__sessx_of(s, "spk_catalog_list_tables");
    if (!x) return SPK_ERR_ARG;
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_catalog_list_tables: NULL output");
    memset(out, 0, sizeof *out);
    char db[SPK__NAME_MAX + 1], current[SPK__NAME_MAX + 1];
    spk__current_db(x, current);
    spk_status st = dbname ? spk__name_norm(dbname, strlen(dbname), "database", db) : SPK_OK;
    if (!dbname) memcpy(db, current, sizeof db);
    if (st != SPK_OK) return st;
    if (strcmp(db, "global_temp") == 0) return spk__view_names(&x->catalog->global_views, out);
    const spk_backend *b = x->catalog->backend;
    st = SPK__BACKEND_CALL(b, "list tables of", db, NULL, list_tables(b->self, db, out));
    if (st == SPK_OK && strcmp(db, current) == 0) st = spk__view_names(&x->views, out);
    if (st != SPK_OK) spk_names_free(out);
    return st;
}

SPKDEF bool spk_catalog_table_exists(spk_session *s, const char *name) {
    struct spk__sessx *x = spk__sessx_of(s, "spk_catalog_table_exists");
    char db[SPK__NAME_MAX + 1], table[SPK__NAME_MAX + 1];
    if (!x || spk__table_name(name, db, table) != SPK_OK) return false;
    if (strcmp(db, "global_temp") == 0) {
        spk_df *v = spk__view_get(&x->catalog->global_views, table);
        spk_df_release(v);
        return v != NULL;
    }
    if (!db[0]) {
        spk_df *v = spk__view_get(&x->views, table);
        spk_df_release(v);
        if (v) return true;
        spk__current_db(x, db);
    }
    const spk_backend *b = x->catalog->backend;
    spk_table *t = NULL;
    spk_status st = SPK__BACKEND_CALL(b, "scan", db, table, scan(b->self, db, table, 0, &t, NULL));
    spk_table_free(t);
    return st == SPK_OK || st == SPK_ERR_CORRUPT;
}

SPKDEF spk_status spk_catalog_drop_table(spk_session *s, const char *name, bool if_exists) {
    struct spk__sessx *x = spk__sessx_of(s, "spk_catalog_drop_table");
    char db[SPK__NAME_MAX + 1], table[SPK__NAME_MAX + 1];
    if (!x) return SPK_ERR_ARG;
    spk_status st = spk__resolve(x, name, db, table);
    const spk_backend *b = x->catalog->backend;
    if (st == SPK_OK) st = SPK__BACKEND_CALL(b, "drop table", db, table, drop_table(b->self, db, table));
    if (st == SPK_ERR_NOT_FOUND && if_exists) {
        spk_clear_error();
        st = SPK_OK;
    }
    return st;
}

/* ---------------------------------------------------------------- views */

static spk_status spk__view_put(spk__cow *views, const char *name, spk_df *df, bool replace, bool global) {
    char view[SPK__NAME_MAX + 1];
    if (!df) return spk__fail(SPK_ERR_ARG, "create view: NULL DataFrame");
    spk_status st = name ? spk__name_norm(name, strlen(name), "view", view) : spk__fail(SPK_ERR_ARG, "NULL view name");
    if (st != SPK_OK) return st;
    spk__cow_lock(views);
    if (!replace && spk__cow_find(spk__cow_locked(views), view)) {
        st = spk__fail(SPK_ERR_EXISTS, "temporary view %s%s already exists (TempTableAlreadyExistsException); use "
                                       "createOrReplace%sTempView, or a child session (spk_session_new_session) per thread",
                       global ? "global_temp." : "", view, global ? "Global" : "");
    } else {
        spk__cow_state *next = spk__cow_with(views, view, df);
        if (!next) st = SPK_ERR_NOMEM;
        else {
            spk_df_retain(df);
            spk__cow_publish(views, next);
        }
    }
    spk__cow_unlock(views);
    return st;
}

static bool spk__view_drop(spk__cow *views, const char *name) {
    char view[SPK__NAME_MAX + 1];
    if (!name || spk__name_norm(name, strlen(name), "view", view) != SPK_OK) return false;
    spk__cow_lock(views);
    bool found = spk__cow_find(spk__cow_locked(views), view) != NULL;
    spk__cow_state *next = found ? spk__cow_without(views, spk__key_equals, view) : NULL;
    if (next) spk__cow_publish(views, next);
    spk__cow_unlock(views);
    return next != NULL;
}

SPKDEF spk_status spk_catalog_create_temp_view(spk_session *s, const char *name, spk_df *df) {
    struct spk__sessx *x = spk__sessx_of(s, "spk_catalog_create_temp_view");
    return x ? spk__view_put(&x->views, name, df, false, false) : SPK_ERR_ARG;
}

SPKDEF spk_status spk_catalog_create_or_replace_temp_view(spk_session *s, const char *name, spk_df *df) {
    struct spk__sessx *x = spk__sessx_of(s, "spk_catalog_create_or_replace_temp_view");
    return x ? spk__view_put(&x->views, name, df, true, false) : SPK_ERR_ARG;
}

SPKDEF spk_status spk_catalog_create_global_temp_view(spk_session *s, const char *name, spk_df *df) {
    struct spk__sessx *x = spk__sessx_of(s, "spk_catalog_create_global_temp_view");
    return x ? spk__view_put(&x->catalog->global_views, name, df, false, true) : SPK_ERR_ARG;
}

SPKDEF spk_status spk_catalog_create_or_replace_global_temp_view(spk_session *s, const char *name, spk_df *df) {
    struct spk__sessx *x = spk__sessx_of(s, "spk_catalog_create_or_replace_global_temp_view");
    return x ? spk__view_put(&x->catalog->global_views, name, df, true, true) : SPK_ERR_ARG;
}

SPKDEF bool spk_catalog_drop_temp_view(spk_session *s, const char *name) {
    struct spk__sessx *x = spk__sessx_of(s, "spk_catalog_drop_temp_view");
    return x && spk__view_drop(&x->views, name);
}

SPKDEF bool spk_catalog_drop_global_temp_view(spk_session *s, const char *name) {
    struct spk__sessx *x = spk__sessx_of(s, "spk_catalog_drop_global_temp_view");
    return x && spk__view_drop(&x->catalog->global_views, name);
}
