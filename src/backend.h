/* backend: where saved tables live — one vtable for storage engines, the
 * built-in memory engine, and the name lists the catalog calls return. */

/* A list of names you own (free with spk_names_free). */
typedef struct spk_names {
    int n;
    char **names;                /* n NUL-terminated strings, sorted */
    const spk_allocator *alloc;  /* what they were allocated with */
} spk_names;
/* Adds a copy of name (for backends building a listing); keeps the list sorted. */
SPKDEF spk_status spk_names_add(spk_names *list, const char *name);
SPKDEF void spk_names_free(spk_names *list); /* leaves it empty; NULL is fine */

/* How a write meets an existing table (Spark's SaveMode, plus insertInto). */
typedef enum spk_write_mode {
    SPK_WRITE_ERROR,     /* "error"/"errorifexists" (default): SPK_ERR_EXISTS if the table exists */
    SPK_WRITE_APPEND,    /* "append": add the rows; create the table if missing */
    SPK_WRITE_OVERWRITE, /* "overwrite": replace rows and schema; create if missing */
    SPK_WRITE_IGNORE,    /* "ignore": do nothing if the table exists */
    SPK_WRITE_INSERT,    /* insertInto: add the rows; SPK_ERR_NOT_FOUND if the table is missing */
    SPK_WRITE_INSERT_OVERWRITE /* insertInto(overwrite=True): replace the rows, keep the table */
} spk_write_mode;
/* "error", "errorifexists", "append", "overwrite", "ignore" (any case) ->
 * the mode; NULL is "error"; anything else is SPK_ERR_ARG naming them. */
SPKDEF spk_status spk_write_mode_parse(const char *text, spk_write_mode *out);

/* A storage engine. The catalog calls it from any thread at once, so every
 * function must be thread-safe; names arrive already normalised (lower
 * case, no dots). `self` is the pointer given to spk_backend_new.
 *   write: rows is a table the backend takes over (it may keep it as the new
 *     version: it is never written again by anyone); the mode is applied
 *     atomically (two racing SPK_WRITE_ERROR writes: one wins, the other gets
 *     SPK_ERR_EXISTS). Appends need a schema equal to the table's
 *     (spk_schema_append_check); the schema's database must exist
 *     (SPK_ERR_NOT_FOUND). On success *version is the new version (1 for a new
 *     table), or the existing one when IGNORE did nothing.
 *   scan: a reference to the rows at `version` (0 = the latest), and that
 *     version's number; a version no longer kept is SPK_ERR_NOT_FOUND.
 *   drop_schema with cascade drops its tables; without, a schema holding
 *     tables is SPK_ERR_STATE.
 *   close: frees everything (no call is running).
 * Optional, for snapshots and transactions (txn.h; NULL: those calls are
 * SPK_ERR_UNSUPPORTED). Every commit (write, commit, drop) gets an asof
 * from one counter that only grows; a version is current from its asof
 * until the asof of the commit that replaced or dropped it.
 *   last_asof: the asof of the latest commit (0 before any).
 *   scan_asof: the version current at `asof` (0: the latest) and its own
 *     asof. With pin, the version stays readable at that asof until unpin
 *     (pins count); unpinned replaced versions may be freed at once. An
 *     asof after the latest commit is SPK_ERR_ARG; a version no longer
 *     kept, SPK_ERR_NOT_FOUND.
 *   commit: the next versions of n distinct tables, published atomically
 *     with one new asof. Each must be built on the version whose asof is
 *     base_asof (0: the table must not exist); if any table moved on,
 *     SPK_ERR_CONFLICT naming it and nothing is written. */
typedef struct spk_backend_commit {
    const char *schema, *table;
    spk_table *rows;    /* the whole next version; taken over, also on failure */
    uint64_t base_asof;
} spk_backend_commit;
typedef struct spk_backend_ops {
    spk_status (*create_schema)(void *self, const char *schema, bool if_not_exists);
    spk_status (*drop_schema)(void *self, const char *schema, bool cascade);
    spk_status (*list_schemas)(void *self, spk_names *out);
    spk_status (*write)(void *self, const char *schema, const char *table, spk_table *rows, spk_write_mode mode,
                        uint64_t *version);
    spk_status (*scan)(void *self, const char *schema, const char *table, uint64_t version, spk_table **out,
                       uint64_t *version_out);
    spk_status (*drop_table)(void *self, const char *schema, const char *table);
    spk_status (*list_tables)(void *self, const char *schema, spk_names *out);
    void (*close)(void *self);
    spk_status (*last_asof)(void *self, uint64_t *asof);
    spk_status (*scan_asof)(void *self, const char *schema, const char *table, uint64_t asof, bool pin, spk_table **out,
                            uint64_t *asof_out);
    void (*unpin)(void *self, const char *schema, const char *table, uint64_t asof);
    spk_status (*commit)(void *self, spk_backend_commit *writes, int n, uint64_t *asof);
} spk_backend_ops;

typedef struct spk_backend spk_backend;
/* Wraps an engine: ops must outlive the backend; type is its registered name
 * (copied); the optional operations are all set or all NULL. The "default" schema is created here if the engine lacks it. */
SPKDEF spk_status spk_backend_new(const spk_allocator *alloc, const char *type, const spk_backend_ops *ops, void *self,
                                  spk_backend **out);
SPKDEF void spk_backend_close(spk_backend *b); /* calls ops->close; NULL is fine */
/* BackendFactory.get_backend_type: "memory", "file", or the registered name. */
SPKDEF const char *spk_backend_type(const spk_backend *b);

/* An appended table's schema must equal the existing one, column for
 * column (names ignoring case, types exactly); otherwise SPK_ERR_SCHEMA
 * naming the mismatched columns and the table. */
SPKDEF spk_status spk_schema_append_check(const spk_schema *existing, const spk_schema *incoming, const char *table);

/* What a backend factory gets (spark.sparkless.backend.* keys, parsed). */
typedef struct spk_backend_config {
    const spk_allocator *alloc;
    const char *base_path; /* spark.sparkless.backend.basePath, or NULL */
    uint64_t max_memory;   /* spark.sparkless.backend.maxMemory in bytes; 0 = no limit */
    void *user;            /* the pointer given to spk_backend_register */
} spk_backend_config;
typedef spk_status (*spk_backend_factory)(const spk_backend_config *config, spk_backend **out);

/* The memory backend ("memory", the default): every table version is an
 * immutable in-memory table; appends share the previous version's chunks;
 * snapshots and transactions are supported.
 * max_memory bounds the bytes held by the latest versions of all tables: a
 * write that would pass it fails with SPK_ERR_LIMIT and changes nothing. */
SPKDEF spk_status spk_backend_memory(const spk_backend_config *config, spk_backend **out);
