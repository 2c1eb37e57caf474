/* catalog: sessions built from configuration, child sessions, the catalog of
 * databases and tables shared by every session on one backend, temp views,
 * and the backend registry.
 *
 * Every call here may be made from any number of threads at once, on the
 * same session or on different ones, with no locks of yours. */

/* ---------------------------------------------------------------- backend registry
 * Process-wide (BackendFactory): "memory" and "file" are built in. */

/* Registers factory under name (letters, digits, '_', '-'; at most 31
 * bytes); a name taken is SPK_ERR_EXISTS. At most 16 registrations. */
SPKDEF spk_status spk_backend_register(const char *name, spk_backend_factory factory, void *user);
/* create_storage_backend(name): SPK_ERR_NOT_FOUND naming the known ones. */
SPKDEF spk_status spk_backend_create(const char *name, const spk_backend_config *config, spk_backend **out);
/* list_available_backends(): the built-in and registered names. */
SPKDEF spk_status spk_backend_list(spk_names *out);

/* ---------------------------------------------------------------- sessions */

/* SparkSession.builder: collects configuration, then makes a session. */
typedef struct spk_builder spk_builder;
SPKDEF spk_status spk_builder_new(spk_builder **out);
SPKDEF void spk_builder_free(spk_builder *b); /* NULL is fine */
/* .config(key, value): checked here — a bad value of a known key is
 * SPK_ERR_ARG naming the key (see CONFIGURATION in the header's doc). */
SPKDEF spk_status spk_builder_config(spk_builder *b, const char *key, const char *value);
/* The allocator of the session, its catalog and backend (NULL: default). */
SPKDEF spk_status spk_builder_allocator(spk_builder *b, const spk_allocator *alloc);
/* A backend instance to use instead of spark.sparkless.backend (dependency
 * injection, as seed 002's storage_backend=): the session takes it over. */
SPKDEF spk_status spk_builder_backend(spk_builder *b, spk_backend *backend);
/* A new root session with a catalog of its own (a new backend instance). */
SPKDEF spk_status spk_builder_create(spk_builder *b, spk_session **out);
/* getOrCreate(): the process's default session, made from this builder if
 * there is none (thread-safe: racing callers get the same one). If one
 * exists, the builder's runtime keys (not spark.sparkless.backend*, which
 * are fixed when a session is made) are set on it. Each call returns a
 * handle to stop: the default session stops when its last handle does. */
SPKDEF spk_status spk_builder_get_or_create(spk_builder *b, spk_session **out);

/* newSession(): a child with the same catalog and backend, and its own temp
 * views, configuration (starting as a copy of s's) and current database. */
SPKDEF spk_status spk_session_new_session(spk_session *s, spk_session **out);
/* stop(): releases the handle. The session's temp views, configuration and
 * hold on the catalog go with it (a root session's backend closes when no
 * session uses it); DataFrames made from it still collect, but catalog
 * calls through it are not allowed (the handle is gone). spk_session_free is
 * the same call. */
SPKDEF void spk_session_stop(spk_session *s);

/* spark.conf.set / get / unset. Any key may be set and read back; known
 * keys are checked (SPK_ERR_ARG naming the key) and take effect for
 * DataFrames made afterwards; spark.sparkless.backend* keys can only be set
 * on a builder (SPK_ERR_STATE, as Spark's "Cannot modify the value of a
 * static config"). get copies the value into buf (SPK_ERR_NOT_FOUND if unset,
 * SPK_ERR_LIMIT if cap is too small). */
SPKDEF spk_status spk_conf_set(spk_session *s, const char *key, const char *value);
SPKDEF spk_status spk_conf_get(spk_session *s, const char *key, char *buf, size_t cap);
SPKDEF spk_status spk_conf_unset(spk_session *s, const char *key);

/* The session's backend (borrowed; lives while the session does). */
SPKDEF spk_backend *spk_session_backend(spk_session *s);

/* ---------------------------------------------------------------- databases
 * Names are case-insensitive (kept in lower case) and made of letters,
 * digits and '_'; "default" always exists; "global_temp" holds global temp
 * views and is not a database of tables. */
SPKDEF spk_status spk_catalog_create_database(spk_session *s, const char *name, bool if_not_exists);
SPKDEF spk_status spk_catalog_drop_database(spk_session *s, const char *name, bool if_exists, bool cascade);
SPKDEF spk_status spk_catalog_list_databases(spk_session *s, spk_names *out);
SPKDEF bool spk_catalog_database_exists(spk_session *s, const char *name);
/* currentDatabase / setCurrentDatabase (per session). */
SPKDEF spk_status spk_catalog_current_database(spk_session *s, char *buf, size_t cap);
SPKDEF spk_status spk_catalog_set_current_database(spk_session *s, const char *name);

/* ---------------------------------------------------------------- tables
 * A name is "table" (a temp view of the session, else the current database)
 * or "db.table"; "global_temp.v" names a global temp view. */

/* df.write.mode(mode).saveAsTable(name) into the catalog of session s. mode
 * as spk_write_mode_parse takes it (NULL: "error"). A new table gets df's
 * schema with every column nullable (as Spark does for saved tables);
 * "append" matches df's columns to the table's by name, and a missing,
 * extra or incompatible column is SPK_ERR_SCHEMA naming it. The table is
 * visible to every thread and session on this catalog when the call
 * returns; on error the catalog is as it was. */
SPKDEF spk_status spk_catalog_save_as_table(spk_session *s, spk_df *df, const char *name, const char *mode);
/* df.write.insertInto(name, overwrite): into an existing table, columns by
 * position (values widen to the table's types as spk_table_append_row does). */
SPKDEF spk_status spk_catalog_insert_into(spk_session *s, spk_df *df, const char *name, bool overwrite);
/* spark.table(name) / spark.read.table(name): a DataFrame over the table's
 * latest version when called (later writes do not change it), or over a
 * temp view's plan. NULL with the error in spk_last_error(). */
SPKDEF spk_df *spk_session_table(spk_session *s, const char *name);
/* The table's current version number (1 after its first save). */
SPKDEF spk_status spk_catalog_table_version(spk_session *s, const char *name, uint64_t *out);
/* listTables(db): the tables of db (NULL: the current database), then, for
 * NULL or the current database, the session's temp views; for
 * "global_temp", the global temp views. */
SPKDEF spk_status spk_catalog_list_tables(spk_session *s, const char *db, spk_names *out);
/* tableExists: a table or a temp view of that name. */
SPKDEF bool spk_catalog_table_exists(spk_session *s, const char *name);
SPKDEF spk_status spk_catalog_drop_table(spk_session *s, const char *name, bool if_exists);

/* ---------------------------------------------------------------- views
 * A view is a DataFrame's plan, not a copy: reading it gives that plan, so
 * a DataFrame built from a view keeps the definition it saw. The session is
 * named explicitly (Spark's df.createTempView registers in df's session):
 * register in the session your thread owns. */

/* createTempView: SPK_ERR_EXISTS if the session has a view of that name
 * (Spark's TempTableAlreadyExistsException). */
SPKDEF spk_status spk_catalog_create_temp_view(spk_session *s, const char *name, spk_df *df);
/* createOrReplaceTempView: one atomic swap; readers see the old or the new. */
SPKDEF spk_status spk_catalog_create_or_replace_temp_view(spk_session *s, const char *name, spk_df *df);
/* createGlobalTempView / createOrReplaceGlobalTempView: in "global_temp",
 * shared by every session on the catalog; read as "global_temp.name". */
SPKDEF spk_status spk_catalog_create_global_temp_view(spk_session *s, const char *name, spk_df *df);
SPKDEF spk_status spk_catalog_create_or_replace_global_temp_view(spk_session *s, const char *name, spk_df *df);
/* dropTempView / dropGlobalTempView: true if there was such a view. */
SPKDEF bool spk_catalog_drop_temp_view(spk_session *s, const char *name);
SPKDEF bool spk_catalog_drop_global_temp_view(spk_session *s, const char *name);
