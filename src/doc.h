/* sparkless.h 0.1.0 — a Spark-style DataFrame engine for C11 in one header — MIT licence (see the end)

   GENERATED FILE: tools/amalgamate writes it from the module sources in src/.
   Do not edit it here; edit src/ and run `make` (or tools/amalgamate).

   HOW TO INCLUDE IT

     In exactly one C file of your program:
         #define SPARKLESS_IMPLEMENTATION
         #include "sparkless.h"
     Everywhere else (C, or C++ for the declarations):
         #include "sparkless.h"
     Link with -lm and, on older glibc, -pthread. The implementation needs a
     C11 compiler with <threads.h> and <stdatomic.h>; the declarations alone
     are plain C99/C++ and need neither. The CSV reader picks its vector
     code when it is compiled: SSE2 on x86-64, AVX2 or AVX-512 (F, BW, DQ,
     CD and VBMI2) where the compiler targets them (-march=native, say),
     portable C elsewhere; all give the same tables.

   CONTENTS (in the order the modules appear below)

     base     status codes, spk_last_error, allocators (spk_allocator,
              spk_failalloc for allocation-failure tests; the default one
              keeps large freed blocks for reuse: spk_memory_retained,
              spk_memory_release), hashing
     types    spk_type, spk_value: constructors, spk_value_parse,
              spk_value_format (as Spark's show), spk_value_cast (Spark's
              non-ANSI CAST), spk_value_compare/equal/hash, calendar helpers
     schema   spk_schema: spk_schema_parse (DDL), lookup with did-you-mean,
              spk_schema_print (printSchema), spk_schema_ddl
     rowstore spk_table: append rows from C values, batches or CSV text,
              spk_table_from_fixture, spk_table_get, spk_cursor
     taskq    spk_taskq (bounded MPMC ring queue of pointers), spk_pool
              (worker threads, wait groups), spk_cpu_count
     expr     spk_expr: builders (spk_col, spk_lit_*, spk_add, spk_gt,
              spk_and, spk_in, spk_like, spk_when, spk_cast, spk_call, ...),
              spk_expr_parse (Spark SQL expression text), spk_expr_to_sql
     udf      user-defined functions: scalar and aggregate C functions
              (spk_udf_scalar, spk_udf_aggregate), SQL macros
              (spk_udf_macro), spk_udf_call; registries per session
              (spk_session_udfs), per thread (spk_set_worker_ctx) and
              global (spk_udf_global), strict mode
     vector, funcs
              internal: column vectors, kernels, the function library
              (Spark's math, string, regexp, conditional, date/time and
              aggregate functions, called by name from expressions)
     eval     spk_bound: spk_expr_bind (resolution, coercion, folding),
              spk_bound_eval, spk_bound_filter, spk_bound_explain
     plan     spk_session, spk_df: sources (fixture, table, rows, range) and
              transformations (select, filter/where, withColumn(s), drop,
              alias, groupBy/agg and count/sum/avg/min/max, orderBy,
              limit/offset, distinct, union,
              unionByName, join, intersect, subtract, exceptAll,
              dropDuplicates, fillna, dropna, sample)
     optimize the optimizer (constant filters, filter merging, predicate
              pushdown through projections and into join sides, limit
              pushdown, projection merging and pruning);
              spk_df_explain, spk_df_explain_string
     exec     morsel-driven parallel execution on the session's threads;
              actions: spk_df_collect, spk_df_count, spk_df_show,
              spk_df_head/take/first, spk_df_foreach, spk_df_describe,
              spk_df_print_schema, spk_df_columns, spk_df_dtypes
     backend  spk_backend: the storage vtable (spk_backend_ops), save modes,
              spk_names, the memory backend (spk_backend_memory)
     filestore the file backend (spk_backend_file): crash-safe versioned
              table files under a base path, checksummed
     catalog  sessions from configuration (spk_builder: config, create,
              getOrCreate), child sessions (spk_session_new_session),
              spk_conf_set/get, databases, saveAsTable/insertInto/table,
              listTables, temp and global temp views, the backend registry
     shard    spk_shards: physical shards (chunk runs) and computed shards
              (key ranges of about equal row counts)
     json     internal: the JSON reader and writer
     dml      MERGE INTO (spk_merge_into and its when-clauses), DELETE and
              UPDATE as Delta Lake runs them; spk_dml_metrics
     txn      snapshots (spk_snapshot_new, spk_session_table_asof), scans
              (spk_scan: asof, where, select, shards, compute_shards),
              transactions (spk_txn: write, delete, update, merge, take,
              include, commit, rollback, spk_txn_run retries) and their
              operations as JSON
     wire     the versioned binary wire format (docs/wire-format.md):
              spk_expr_encode/decode, spk_expr_equal, scan tasks
              (spk_scan_task_encode/decode/run) for workers
     io       what the readers and writers share: parse modes
              (spk_read_mode: PERMISSIVE, DROPMALFORMED, FAILFAST), write
              modes for files
     csv      spk_read_csv (path, buffer, FILE*; header, delimiter, quotes,
              multiline, null value, schema or inference, corrupt-record
              column; parallel), spk_write_csv (path, FILE*, string)
     jsonl    JSON Lines: spk_read_json, spk_write_json (same shapes)
     testing  spk_assert_df_equal / spk_assert_schema_equal (PySpark's
              assertDataFrameEqual: row order, column order, nullability,
              float tolerance; a diff a person can read), SPK_ASSERT_ macros

   CONFIGURATION MACROS (define them before including the implementation)

     SPARKLESS_IMPLEMENTATION  compile the implementation into this file.
     SPARKLESS_STATIC          make every function static to this file (then
                               define SPARKLESS_IMPLEMENTATION here too).
     SPKDEF                    decoration of every API function; defaults to
                               extern, or static with SPARKLESS_STATIC.
     SPK_ASSERT(cond)          checks internal invariants only (a failure is a
                               bug in the library, never bad input); defaults to
                               assert() from <assert.h>.
     SPK_DEFAULT_THREADS       worker threads when the core count cannot be
                               read (spk_cpu_count); default 2.
     SPK_MALLOC(size), SPK_REALLOC(ptr, size), SPK_FREE(ptr)
                               the default allocator's functions; define all
                               three or none (default malloc/realloc/free).
     SPK_RETAIN_BYTES          the most the default allocator keeps of freed
                               blocks of 256 KiB or more, for reuse (see
                               spk_memory_retained in base); default 2 GiB,
                               and never more than the process had in use.
     SPK_CHECK_ALLOC_SIZES     the default allocator checks that every block
                               is freed with the size it was asked for (on
                               by itself under AddressSanitizer).
     At run time, every function that creates a root object (a schema, a
     table) takes a `const spk_allocator *` (NULL = the default above); the
     object and everything it owns use it until freed, and sizes are passed
     back on free, so arena and pool allocators need no headers.

   CONFIGURATION (spk_builder_config before a session exists; spk_conf_set after)

     spark.sparkless.backend       "memory" (default), "file", or a name given to
                                   spk_backend_register. Fixed when the session
                                   is made, like the other backend keys.
     spark.sparkless.backend.basePath
                                   the file backend's directory (made if missing).
     spark.sparkless.backend.maxMemory
                                   a byte size ("512m", "2g", "64k", "100b"; a bare
                                   number is bytes): the most the backend may hold
                                   in the latest versions of its tables. A write
                                   that would pass it fails with SPK_ERR_LIMIT and
                                   changes nothing.
     spark.sparkless.backend.allowDiskSpillover
                                   "true"/"false": accepted and stored; nothing
                                   spills to disk yet.
     spark.sparkless.threads       threads per query: 0 = one per core.
     spark.sql.caseSensitive       "true"/"false" (default false): column name
                                   resolution of DataFrames built afterwards.
     Any other key is stored and read back as given, as in Spark. A bad value
     of a key above is SPK_ERR_ARG naming the key.

   TRANSACTION OPERATIONS (spk_txn_ops_to_json / spk_txn_ops_from_json)

     One JSON object (RFC 8259, UTF-8):
       {"format": "sparkless-txn-ops", "version": 1, "operations": [OP, ...]}
     OP is one of (tables always "database.table"):
       {"op": "write",  "table": T, "rows": ROWS}
       {"op": "delete", "table": T, "where": SQL or null}
       {"op": "update", "table": T, "set": [[COLUMN, SQL], ...], "where": SQL or null}
       {"op": "merge",  "table": T, "target_alias": NAME or null,
        "source_alias": NAME or null, "on": SQL, "source": ROWS,
        "clauses": [{"when": "matched" | "not_matched",
                     "action": "update" | "update_all" | "delete" | "insert" | "insert_all",
                     "condition": SQL or null, "set": [[COLUMN, SQL], ...]}, ...]}
       ROWS = {"schema": DDL, "rows": [[VALUE, ...], ...]}
     DDL as spk_schema_ddl writes it. SQL is an expression in the syntax of
     spk_expr_parse, written so that it parses back to the same tree
     (columns quoted, literals typed: 5 INT, 5L BIGINT, CAST('1.5' AS
     DOUBLE), DATE '...'), nested at most 60 levels deep (deeper ones are
     SPK_ERR_LIMIT, writing and reading) and without `*`. A VALUE is null, or by column type: true/false;
     an integer; a number or "NaN", "Infinity", "-Infinity"; a string (for
     STRING, and DECIMAL/DATE/TIMESTAMP as Spark prints them). Members not
     named here are ignored; another "version" is SPK_ERR_VERSION.

   ERROR MODEL

     Every function that can fail returns spk_status: SPK_OK (0) or an SPK_ERR_*
     code, each mapped to Spark's exception class (spk_status_category: a
     misspelt column is SPK_ERR_NOT_FOUND, an "AnalysisException"). The
     detailed message of the most recent failure on the calling thread is
     spk_last_error(): it says what and where — the column with a did-you-mean,
     the line and column of a bad fixture row, a caret under a DDL position.
     A failed call changes nothing: multi-row appends are all or nothing, and
     out of memory (SPK_ERR_NOMEM) leaves every object as it was. The library
     never calls abort(), exit() or longjmp(), whatever the input.

   OWNERSHIP

     Every object a function hands you is yours to release exactly once with
     its matching spk_*_free or spk_*_release; every argument you pass is only
     borrowed, except spk_expr arguments, which the call consumes (so
     spk_df_filter(df, spk_gt(spk_col("v"), spk_lit_i64(10))) needs no
     temporaries), and the table given to spk_df_from_table, which the
     DataFrame takes over, and the backend given to spk_builder_backend,
     which the session takes over; and anything pointing into an object (field names,
     the bytes of a string value) lives exactly as long as that object.

   THREAD SAFETY

     - Error state is thread-local: spk_last_error() reports this thread's
       last failure only; no locks, no interference between threads.
     - The default allocator's kept blocks are process-wide, behind a spin
       lock held for a few instructions; spk_memory_* may be called from any
       thread.
     - spk_schema is immutable once created and reference-counted with atomic
       counts: share it between threads; retain and release from any thread.
     - spk_table has one writer at a time. Reading calls (spk_table_get,
       spk_table_nrows, cursors) may run in many threads at once, but not
       while another thread appends. A table with more than one reference
       (spk_table_retain; every saved table version) is read-only, so any
       number of threads may read it.
     - spk_expr and spk_bound are immutable once built (expressions are
       reference-counted atomically): share them; bind, explain and
       evaluate from any number of threads at once. Each evaluation has its
       own working memory.
     - spk_df is immutable and reference-counted atomically: any number of
       threads may build new DataFrames from one, and collect, count, show
       or explain it, at the same time (tests/test_mt_df.c runs 8 under
       TSan).
     - Sessions, the catalog and views (catalog.h). Every catalog call may
       run in any number of threads at once, on one session or many, with no
       locks of yours: save, insert, read, list, drop, create views, set
       configuration. A saved table is visible to every thread and every
       session on the catalog as soon as the save returns. Readers never
       wait: names (tables, databases, views, configuration) live in
       immutable sorted arrays published through an atomic pointer; a writer
       takes a mutex, builds the next array and publishes it, and the old one
       is freed once no reader is inside (a reader counter, seq_cst). Each
       saved table version is an immutable table, so a DataFrame from
       spk_session_table reads the version it was built on while writers
       publish newer ones (appends share the old version's chunks). Two
       writes to one table are serialized: each builds on the version it
       saw and starts again if another got in first; the save mode is
       decided at that moment ("error": exactly one of two racing saves
       wins). The only other lock is a per-session one held to copy the
       current database name.
     - Temp views belong to a session, as in Spark: threads sharing one
       session share its views, so two threads registering "temp_view" on it
       collide — spk_catalog_create_temp_view reports SPK_ERR_EXISTS to the
       second, and createOrReplace lets the last writer win. To give each
       thread its own views, give it a child session
       (spk_session_new_session): same catalog and tables, its own views and
       configuration. A view is a DataFrame's plan, so a DataFrame read from
       a view keeps the definition it saw even if the view is replaced.
       Global temp views ("global_temp.name") are shared by every session on
       the catalog.
     - Snapshots, scans and transactions (txn.h). Snapshots and scans may be
       made, read and freed from any threads; a scan or snapshot is read by
       any number of threads at once (a shard set too), and freed once. A
       version is pinned in a short list under its own mutex, taken only by
       snapshot, scan and commit bookkeeping, never while reading rows. A
       transaction (spk_txn) belongs to one thread at a time, like a table
       being appended to; give each worker its own and combine them with
       take/include. Commits from any threads are atomic and serialized per
       catalog: every table of one commit becomes visible at the same asof,
       and a reader sees all of a commit or none of it.
     - UDFs (udf.h) are immutable and reference-counted: register one in
       any number of registries and call it from any number of threads at
       once — so a UDF's C functions must be thread-safe. Registries take
       registrations and lookups from any threads (a mutex held only for the
       map, never while a UDF runs). The worker context is per thread
       (_Thread_local): spk_set_worker_ctx on a worker thread affects binds
       and decodes on that thread only.
     - Encoding and decoding (wire.h) share nothing: any number of threads
       may encode and decode at once. A decoded scan task is immutable; run
       it from any thread.
     - Readers and writers (csv.h, jsonl.h) may run from any number of
       threads at once, on one session or several; a FILE* must not be
       used by another thread during the call (nor locked with flockfile:
       a CSV reader reads it from one of the session's threads while it
       parses what came before). Two writes to one path race
       as files do: with OVERWRITE the last rename wins (each file seen is
       whole); the ERROR and IGNORE checks are made when a write starts.
       The assertions (testing.h) only read their DataFrames.
     - spk_builder_get_or_create may race from many threads: one default
       session is made and every caller gets a handle to it (each handle is
       stopped once). spk_session_stop must not run while another call on the
       same handle runs; DataFrames made from a stopped session still
       collect.
     - Queries run in parallel. A session's queries use spk_session_options
       .threads threads (0: spk_cpu_count()): the calling thread plus a pool
       of workers that the session starts at its first parallel query and
       stops when the session is stopped and its last DataFrame released;
       queries from several threads share it. Inputs are
       cut into morsels of SPK_MORSEL_ROWS rows that the threads take one
       at a time; each operator keeps every morsel's (or partition's)
       results apart and puts them together in order, so a query gives the
       same rows, in the same order, at any thread count. That includes
       floating-point sums and averages: each morsel sums in row order and
       the morsels' partial sums are added in morsel order, so they depend
       on the morsel size but never on the number of threads. (They may
       differ in the last bits from a strict row-by-row sum, as in Spark.)
       A chain holding limit() or sample() and spk_df_foreach run on the
       calling thread, in order. With threads > 1 the session's allocator
       (spk_session_options.alloc) is called from the workers: it must be
       thread-safe; give spk_failalloc a session of one thread.
     - spk_value and spk_cursor are plain data owned by the caller.
     - Type, value, hash and formatting functions are pure and reentrant.
       Parsing and formatting doubles use the C library (strtod, snprintf)
       and adapt to the current locale's decimal point: do not call
       setlocale() while other threads use the library.
     - A run-time allocator must be thread-safe if the objects using it are
       shared between threads, or given to a session of more than one
       thread. spk_failalloc is single-threaded.
     - spk_taskq: every call but spk_taskq_new/_new_at and spk_taskq_free may
       run in any number of threads at once, pushers and poppers alike. It is
       bounded: it never allocates after spk_taskq_new and never holds more
       than its capacity.
     - spk_taskq progress. No call takes a lock or sleeps. spk_taskq_try_push and
       spk_taskq_try_pop finish in a bounded number of their own steps, with
       one exception: a push (pop) whose cell is still being worked on by a
       pop (push) that has claimed its position but not yet stored the cell's
       new sequence number (a window of a few instructions) waits for that
       thread, yielding, rather than answer "full" ("empty") when that would
       not be true. So they are not lock-free in the strict sense: a thread
       suspended inside that window holds up the others that reach its cell.
       (Every ring of sequence-numbered cells has this window, Vyukov's
       included; there the others return a wrong "empty" or "full" instead.)
       The try calls never wait for the queue to gain space or items;
       spk_taskq_push and spk_taskq_pop do, yielding between tries.
     - spk_taskq order. The queue is linearizable as a bounded FIFO queue: every call
       takes effect at one instant between its call and its return (the
       compare-and-swap that claims the position, or for "full" and "empty" a
       consistent snapshot of both positions), and the items come out in the
       order those instants put them in. In particular items of one producer
       come out in the order it pushed them, and false from try_push/try_pop
       means the queue really was full/empty at some instant during the call.
       Items of different producers whose pushes overlap in time come out in
       either order. (tests/test_mt_taskq.c checks histories against this
       specification by brute force.) spk_taskq_close is not part of this
       order: a push concurrent with close may or may not get in.
     - spk_taskq memory: everything a thread did before pushing an item happens before
       everything the thread that pops it does after the pop.
     - spk_pool: spk_pool_submit, spk_pool_wait and the spk_waitgroup calls may
       run in any threads, tasks included; spk_pool_new and spk_pool_free in
       one thread, outside the pool's tasks. Idle workers sleep on a condition
       variable; every submit wakes one if any sleeps, and no wake-up is
       lost (a submit racing with a worker going to sleep either sees it
       asleep and signals it, or the worker sees the task). A wait-group's wait
       returns after its tasks have finished and everything they did happens
       before the return. spk_pool_free runs every queued task before it
       returns. Tasks are taken in FIFO order but run on several threads at
       once, so they may finish in any order.
     - The pool uses C11 <threads.h> threads, mutexes and condition
       variables; under ThreadSanitizer it uses pthreads instead, because the
       TSan runtimes of gcc 12 and clang 14 do not intercept glibc's C11
       thread functions (thrd_create'd threads crash under TSan, and mtx_t
       locking is invisible to it).

   LIMITS

     - DECIMAL precision 1..18 (stored as a scaled int64).
     - A chunk holds at most SPK_CHUNK_ROWS (65536) rows and 4 GiB of string
       bytes; a single row's strings must total under 4 GiB.
     - Dates are int32 days (years -290308..294247 as Spark); parsed years
       have 4 to 6 digits. Timestamps are int64 microseconds, always UTC.
     - Detailed error messages are cut at SPK_ERROR_MAX - 1 bytes.
     - Expressions nest at most 200 levels deep when parsed; identifiers
       are at most 255 bytes.
     - Database, table and view names: letters, digits and '_', at most 128
       bytes, case-insensitive (kept in lower case). Saved tables have at
       most 256 columns. At most 16 registered backends.
     - The memory and file backends keep the latest version of each table,
       and older ones only while a snapshot or scan holds them (reading an
       asof no longer held is SPK_ERR_NOT_FOUND); a DataFrame built on an
       older version keeps reading it. Asof numbers count commits since the
       backend was opened: the file backend starts them again at each open.
       The file backend keeps every table in memory too, writes a whole new
       file for each version (an append rewrites the table), and needs POSIX
       (elsewhere spk_backend_file is SPK_ERR_UNSUPPORTED). One process at a
       time may write a base path.
     - A transaction commits at most 4096 tables; an update or merge clause
       assigns at most 256 columns.
     - UDFs: names of 1 to 128 characters, at most 64 arguments; aggregate
       UDFs take one argument and states of 1 to 4096 bytes; macro calls
       expand at most 64 levels deep.
     - Wire messages (wire.h): at most SPK_WIRE_MAX_BYTES (64 MiB), 2^20
       nodes, and SPK_EXPR_MAX_DEPTH (1000) levels, the bodies of the macros
       they carry counted at their call sites. A decoded expression's nodes
       are carved from 4 KiB blocks, so a part of it kept after the rest is
       released keeps its block. A scan task runs in another process only
       on the file backend, and only while its version is the table's
       latest (asof numbers are per process).

   DIFFERENCES FROM SPARK (the reference is Spark 3.5, default non-ANSI mode)

     - Timestamps are UTC; there is no session time zone. Zone offsets in
       parsed text (Z, +hh:mm) are applied and dropped.
     - Types not yet supported: TINYINT, SMALLINT, FLOAT, BINARY, arrays,
       maps, structs, intervals; DECIMAL above precision 18. DDL that names
       them fails with SPK_ERR_UNSUPPORTED; VARCHAR(n)/CHAR(n) read as STRING.
     - CAST: BOOLEAN to TIMESTAMP and DATE to numeric types are rejected
       (SPK_ERR_TYPE) instead of giving Spark's odd results.
     - Fixtures and spk_table_append_text are strict: an unparsable value is
       an error naming line and column, never a silent NULL (Spark's CSV
       reader in PERMISSIVE mode would give NULL).
     - DECIMAL arithmetic follows Spark's precision and scale rules with 18
       in place of 38 (and the same minimum scale of 6 on precision loss);
       a BIGINT in decimal arithmetic counts as DECIMAL(18,0), not (20,0).
       Results that do not fit are NULL, as in Spark. Integer literals
       beyond BIGINT and decimal literals beyond 18 digits become DOUBLE.
     - DATE - DATE gives the INT number of days (Spark 3 gives an interval);
       INTERVAL literals exist only to be added to or subtracted from a
       DATE or TIMESTAMP.
     - upper() and lower() change ASCII letters only.
     - DISTINCT is supported inside count() only.
     - Functions: round/bround of DECIMAL(p,s) give Spark 3.4+'s type with
       precision capped at 18 (NULL if the value overflows it); round of a
       DOUBLE rounds its shortest decimal text half-up (round(2.675D, 2) is
       2.68). Maths use C's libm, not Java's StrictMath (last-bit
       differences). initcap, upper and lower change ASCII letters only.
       trim/ltrim/rtrim and ceil/floor take one argument; concat_ws and
       reverse work on strings, not arrays.
     - Regular expressions (RLIKE, regexp_extract, regexp_replace) run on
       POSIX extended syntax after translating Java's \d \w \s (and \D \W
       \S outside brackets), \t \n \r \f and a leading (?i). POSIX takes
       the leftmost-longest match where Java takes the first alternative,
       and '.' also matches a newline. Refused with SPK_ERR_ARG: other (?...)
       groups and lookaround, lazy and possessive quantifiers, \Q \p \x \u
       \A \z \Z \G, nested or intersected classes, ${name} references.
       Replacements use Java's syntax ($n a group, \c a literal c). A bad
       constant pattern or group index is an error at bind time; from a
       column it gives NULL for that row.
     - Datetime patterns (date_format, to_date, to_timestamp) support
       y M L d D H h K k m s S a, 'text' and [optional], and E Q q for
       formatting only; eras (G), zone letters (z Z X x O V) and F are
       refused. An unparsable string gives NULL (Spark 3.5's default policy
       may raise an error where Spark 2's parser would have accepted it).
     - if() and nvl2() compute both branches for every row (never visible:
       no function fails per row).
     - Vectors mark NULLs with a byte per row rather than a bit; rows keep
       bitmaps. Not visible, but it is how the evaluator is built.
     - DataFrames: a join with no condition is allowed only as "cross"
       (Spark 3 also makes an inner join without a condition a cartesian
       product). After a USING join the key column keeps the alias of the
       side it came from (left; right for a right join; none for a full
       join), where Spark keeps both sides' keys resolvable. sample() is
       deterministic for a seed but picks different rows than Spark, and
       only samples without replacement. describe() computes its statistics
       when called. Columns named in fillna, dropna, describe and
       dropDuplicates are resolved by name, so two columns with the same name
       and alias are ambiguous there.
     - Catalog: saved tables make every column nullable, as Spark does.
       Catalog calls name their session (spk_catalog_create_temp_view(s,
       name, df) for df.createTempView(name)): Spark registers a view in the
       DataFrame's own session, which is how the seed 001 pipeline sent
       rows to the wrong table. A child session starts with a copy of its
       parent's configuration (Spark's newSession starts from the shared
       startup configuration). Stopping a root session does not stop its
       children: they keep the catalog open. insertInto widens values as
       appends do (INT to BIGINT, integers to DOUBLE or DECIMAL) and refuses
       narrowing, where Spark would cast. Dropping a table does not drop a
       temp view of the same name. spk_session_table binds the table's
       latest version when it is called: that DataFrame, and a view built
       on it, keep reading that version (Spark re-reads a table at each
       action). Read the table again to see later writes.
     - Snapshots, transactions and MERGE follow Spiral (asof, shards,
       take/include) and Delta Lake (MERGE's clauses and its
       multiple-match error; delete/update/merge conflict with any commit to
       their table after the transaction began, where Delta checks which
       files were read). Appends never conflict. A merge whose matched
       clauses are all unconditional deletes allows several source rows per
       target row, as Delta does.
     - UDFs are C functions (Spark's are JVM or Python functions), and
       macros stand for SQL functions (CREATE FUNCTION f(x INT) RETURN ...).
       Like Spark's UDFs, scalar C UDFs are called for NULL arguments too and
       are never constant-folded; aggregate UDFs skip NULL inputs as Spark's
       built-in aggregates do. A UDF named like a built-in function is
       reached only through spk_udf_call: a name in SQL text or spk_call
       means the built-in. The wire format is sparkless's own, not Spark
       Connect's.
     - Files: readers load eagerly into a table (Spark reads lazily, at
       each action); writers write one file, not a directory of part files.
       JSON nested objects and arrays are read as STRING columns holding
       their JSON text (there are no struct or array types yet), and
       JSON's NaN and infinities are written as strings, as Spark writes
       them. The assertions compare DECIMAL values exactly and apply the
       float tolerance to DOUBLE columns only.
     - Doubles print with the shortest digits that read back exactly, as
       JDK 19+'s Double.toString does; the older JDKs Spark often runs on
       occasionally print one digit more than needed.
*/
