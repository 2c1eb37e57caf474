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
     are plain C99/C++ and need neither.

   CONTENTS (in the order the modules appear below)

     base     status codes, spk_last_error, allocators (spk_allocator,
              spk_failalloc for allocation-failure tests), hashing
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
     - The memory and file backends keep only the latest version of each
       table (a scan of an older one is SPK_ERR_NOT_FOUND), though a
       DataFrame built on an older version keeps reading it. The file
       backend keeps every table in memory too, writes a whole new file for
       each version (an append rewrites the table), and needs POSIX
       (elsewhere spk_backend_file is SPK_ERR_UNSUPPORTED). One process at a
       time may write a base path.

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
     - Doubles print with the shortest digits that read back exactly, as
       JDK 19+'s Double.toString does; the older JDKs Spark often runs on
       occasionally print one digit more than needed.
*/

#ifndef SPARKLESS_H
#define SPARKLESS_H

/* ---- src/base.h ---- */
/* base: configuration, version, status codes and errors, allocators, hashing.
 * Every other module builds on this one. */

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>

#define SPARKLESS_VERSION_MAJOR 0
#define SPARKLESS_VERSION_MINOR 1
#define SPARKLESS_VERSION_PATCH 0
#define SPARKLESS_VERSION "0.1.0"

#ifndef SPKDEF
#  ifdef SPARKLESS_STATIC
#    if defined(__GNUC__) || defined(__clang__)
#      define SPKDEF static __attribute__((unused))
#    else
#      define SPKDEF static
#    endif
#  else
#    define SPKDEF extern
#  endif
#endif

#ifdef __cplusplus
extern "C" { /* closed by tools/amalgamate after the last module's declarations */
#endif

/* ---------------------------------------------------------------- status codes
 * One list generates the enum, the names, the messages and the Spark exception
 * class each status corresponds to: X(code, spark_category, message). */
#define SPK_STATUS_LIST(X)                                                          \
    X(SPK_OK,               "",                         "success")                  \
    X(SPK_ERR_NOMEM,        "OutOfMemoryError",         "out of memory")            \
    X(SPK_ERR_ARG,          "IllegalArgumentException", "invalid argument")         \
    X(SPK_ERR_PARSE,        "ParseException",           "parse error")              \
    X(SPK_ERR_NOT_FOUND,    "AnalysisException",        "not found")                \
    X(SPK_ERR_AMBIGUOUS,    "AnalysisException",        "ambiguous reference")      \
    X(SPK_ERR_TYPE,         "AnalysisException",        "type mismatch")            \
    X(SPK_ERR_EXISTS,       "AnalysisException",        "already exists")           \
    X(SPK_ERR_SCHEMA,       "AnalysisException",        "schema mismatch")          \
    X(SPK_ERR_NULL,         "IllegalArgumentException", "null value in non-nullable field") \
    X(SPK_ERR_RANGE,        "ArithmeticException",      "value out of range")       \
    X(SPK_ERR_IO,           "IOException",              "input/output error")       \
    X(SPK_ERR_CORRUPT,      "SparkException",           "corrupt data")             \
    X(SPK_ERR_VERSION,      "SparkException",           "version mismatch")         \
    X(SPK_ERR_CONFLICT,     "ConcurrentModificationException", "conflicting concurrent change") \
    X(SPK_ERR_LIMIT,        "SparkException",           "limit exceeded")           \
    X(SPK_ERR_UNSUPPORTED,  "UnsupportedOperationException", "not supported")      \
    X(SPK_ERR_STATE,        "IllegalStateException",    "invalid state")            \
    X(SPK_ERR_INTERNAL,     "SparkException",           "internal error")          \
    X(SPK_ERR_ANALYSIS,     "AnalysisException",        "invalid query")

typedef enum spk_status {
#define SPK__STATUS_ENUM(code, category, message) code,
    SPK_STATUS_LIST(SPK__STATUS_ENUM)
#undef SPK__STATUS_ENUM
    SPK_STATUS_COUNT
} spk_status;

/* "SPK_ERR_PARSE", "parse error", "ParseException"; "?" for unknown codes. */
SPKDEF const char *spk_status_name(spk_status s);
SPKDEF const char *spk_status_message(spk_status s);
SPKDEF const char *spk_status_category(spk_status s);

/* The detailed message and status of the most recent failed call made by the
 * calling thread (thread-local, like errno: successful calls leave it alone).
 * Never NULL; "" when this thread has seen no failure since spk_clear_error(). */
SPKDEF const char *spk_last_error(void);
SPKDEF spk_status spk_last_status(void);
SPKDEF void spk_clear_error(void);

/* Longest detailed message kept; longer ones are cut and end in "...". */
#define SPK_ERROR_MAX 2048

/* ---------------------------------------------------------------- allocators
 * Run-time allocator: every object that owns memory is created with one
 * (NULL means the default, which uses SPK_MALLOC/SPK_REALLOC/SPK_FREE) and
 * frees through the same one. Sizes are always passed back exactly, so arena
 * and pool allocators need no headers. Functions must be thread-safe if the
 * objects using them are shared between threads. */
typedef struct spk_allocator {
    void *(*alloc)(void *user, size_t size);
    void *(*realloc)(void *user, void *ptr, size_t old_size, size_t new_size);
    void (*free)(void *user, void *ptr, size_t size);
    void *user;
} spk_allocator;

/* The allocator used when NULL is passed. */
SPKDEF const spk_allocator *spk_default_allocator(void);

/* Allocation-failure injection, for tests (ours and yours): an allocator that
 * forwards to `base` (NULL = default) and fails the allocation numbered
 * `fail_at` (1-based; 0 = never) and, if `fail_after` is set, every one after
 * it. It counts calls and live blocks, so a test can also see leaks. Not
 * thread-safe: use it from one thread. */
typedef struct spk_failalloc {
    const spk_allocator *base;
    long fail_at;        /* which allocation fails; 0 = none */
    bool fail_after;     /* also fail every later allocation */
    long calls;          /* allocation attempts so far (alloc + growing realloc) */
    long failures;       /* attempts that were refused */
    long live_blocks;    /* allocated and not yet freed */
    size_t live_bytes;
    spk_allocator iface; /* pass &f->iface to the library */
} spk_failalloc;

SPKDEF void spk_failalloc_init(spk_failalloc *f, const spk_allocator *base, long fail_at);

/* ---------------------------------------------------------------- hashing
 * Fast, seedable, well-mixed 64-bit hashes; stable across runs and platforms
 * of the same endianness. Not cryptographic. */
SPKDEF uint64_t spk_hash_bytes(const void *data, size_t len, uint64_t seed);
SPKDEF uint64_t spk_hash_u64(uint64_t x);

/* Library version string, equal to SPARKLESS_VERSION of the implementation. */
SPKDEF const char *spk_version(void);

/* ---- src/types.h ---- */
/* types: data types, values, parsing and formatting, casts, ordering, hashing. */

typedef enum spk_type_id {
    SPK_TYPE_NULL = 0, /* the type of an untyped NULL literal (Spark's NullType, "void") */
    SPK_TYPE_BOOLEAN,
    SPK_TYPE_INT32,     /* Spark IntegerType: int, integer */
    SPK_TYPE_INT64,     /* Spark LongType: bigint, long */
    SPK_TYPE_DOUBLE,
    SPK_TYPE_DECIMAL,   /* DECIMAL(p <= 18, s <= p), stored as a scaled int64 */
    SPK_TYPE_STRING,    /* UTF-8, any length */
    SPK_TYPE_DATE,      /* days since 1970-01-01 */
    SPK_TYPE_TIMESTAMP, /* microseconds since 1970-01-01 00:00:00 UTC */
    SPK_TYPE_COUNT
} spk_type_id;

typedef struct spk_type {
    uint8_t id;        /* spk_type_id */
    uint8_t precision; /* DECIMAL only: 1..18 */
    uint8_t scale;     /* DECIMAL only: 0..precision */
} spk_type;

#define SPK_DECIMAL_MAX_PRECISION 18

SPKDEF spk_type spk_type_of(spk_type_id id);            /* non-decimal types */
SPKDEF spk_type spk_type_decimal(int precision, int scale); /* check with spk_type_valid */
SPKDEF bool spk_type_valid(spk_type t);
SPKDEF bool spk_type_equal(spk_type a, spk_type b);

/* Type names in Spark's three spellings:
 *   TREE   printSchema's typeName:  boolean integer long double decimal(15,2) string date timestamp
 *   SIMPLE dtypes' simpleString:    boolean int bigint double decimal(15,2) string date timestamp
 *   SQL    DDL:                     BOOLEAN INT BIGINT DOUBLE DECIMAL(15,2) STRING DATE TIMESTAMP
 * Writes at most `cap` bytes (NUL included) and returns the full length, as snprintf. */
typedef enum spk_type_style { SPK_TYPE_TREE, SPK_TYPE_SIMPLE, SPK_TYPE_SQL } spk_type_style;
SPKDEF size_t spk_type_format(spk_type t, spk_type_style style, char *buf, size_t cap);

/* Parses a Spark type name, case-insensitive: boolean/bool, int/integer,
 * bigint/long, double, decimal/dec/numeric[(p[,s])] (default (10,0)), string,
 * varchar(n)/char(n) (as STRING), date, timestamp, void. */
SPKDEF spk_status spk_type_parse(const char *text, spk_type *out);

/* A value: a type, a null flag and a payload. Strings are borrowed views
 * (pointer + length, not NUL-terminated): the bytes belong to whoever produced
 * the value (a table, a parsed text, the caller) and stay valid as long as it. */
typedef struct spk_value {
    spk_type type;
    bool is_null;
    union {
        bool b;       /* BOOLEAN */
        int32_t i32;  /* INT32, DATE */
        int64_t i64;  /* INT64, DECIMAL (unscaled), TIMESTAMP */
        double f64;   /* DOUBLE */
        struct { const char *ptr; size_t len; } str; /* STRING */
    } as;
} spk_value;

SPKDEF spk_value spk_value_null(void);                 /* untyped NULL: fits any nullable column */
SPKDEF spk_value spk_value_null_of(spk_type t);        /* typed NULL */
SPKDEF spk_value spk_value_bool(bool x);
SPKDEF spk_value spk_value_i32(int32_t x);
SPKDEF spk_value spk_value_i64(int64_t x);
SPKDEF spk_value spk_value_f64(double x);
SPKDEF spk_value spk_value_decimal(int64_t unscaled, int precision, int scale);
SPKDEF spk_value spk_value_str(const char *s);          /* NUL-terminated; NULL gives a NULL string */
SPKDEF spk_value spk_value_strn(const char *s, size_t len);
SPKDEF spk_value spk_value_date(int32_t days);
SPKDEF spk_value spk_value_timestamp(int64_t micros);

/* Calendar helpers (proleptic Gregorian, as Spark 3). */
SPKDEF bool spk_date_from_ymd(int year, int month, int day, int32_t *days); /* false if invalid */
SPKDEF void spk_date_to_ymd(int32_t days, int *year, int *month, int *day);
SPKDEF bool spk_timestamp_from_parts(int year, int month, int day, int hour, int minute,
                                     int second, int micros, int64_t *out);

/* Strict parse of `len` bytes of text as type `t` (surrounding spaces are
 * trimmed): integers in range, decimals that fit the precision after rounding
 * half-up to the scale, doubles (also NaN, Infinity, inf), booleans
 * (true/false, case-insensitive), ISO dates "yyyy-mm-dd", timestamps
 * "yyyy-mm-dd[ T]hh:mm[:ss[.ffffff]][Z|+hh:mm]". A STRING result is a view
 * into `text`, untrimmed. Failure: SPK_ERR_PARSE (not a valid literal) or
 * SPK_ERR_RANGE (valid but out of range), with a message naming the text. */
SPKDEF spk_status spk_value_parse(spk_type t, const char *text, size_t len, spk_value *out);

/* Formats as Spark's show() does: NULL, true/false, integers, doubles as
 * Java's Double.toString (1.0, 1.0E7, 1.0E-4, NaN, Infinity), decimals with
 * exactly `scale` digits, dates yyyy-mm-dd, timestamps yyyy-mm-dd hh:mm:ss with
 * the fraction trimmed of trailing zeros. Strings are copied raw. snprintf
 * contract: returns the full length, writes at most cap bytes incl. NUL. */
SPKDEF size_t spk_value_format(const spk_value *v, char *buf, size_t cap);

/* Room that spk_value_format needs for any non-string value, NUL included. */
#define SPK_VALUE_TEXT_MAX 48

/* Casts with Spark's default (non-ANSI) semantics: an unparsable string gives
 * NULL, double to integer truncates toward zero and saturates (NaN gives 0),
 * integer narrowing wraps, a decimal that does not fit its precision gives
 * NULL, string to boolean accepts t/true/y/yes/1 and f/false/n/no/0.
 * Casting to STRING writes non-string text into `textbuf`, which must hold
 * SPK_VALUE_TEXT_MAX bytes and outlive the result. SPK_ERR_TYPE for casts
 * Spark rejects (e.g. DATE to INT, BOOLEAN to DATE). */
SPKDEF spk_status spk_value_cast(const spk_value *in, spk_type to, spk_value *out, char *textbuf);

/* Total order for sorting. NULLs sort first when nulls_first, else last;
 * doubles: -0.0 == 0.0, NaN above +Infinity and equal to itself; strings by
 * bytes (UTF-8 code point order); numeric types of different kinds compare by
 * value. Values of incomparable types order by type id. Returns <0, 0, >0. */
SPKDEF int spk_value_compare(const spk_value *a, const spk_value *b, bool nulls_first);

/* Grouping equality: NULL equals NULL, NaN equals NaN, -0.0 equals 0.0. */
SPKDEF bool spk_value_equal(const spk_value *a, const spk_value *b);

/* A 64-bit hash consistent with spk_value_equal for values of the same type. */
SPKDEF uint64_t spk_value_hash(const spk_value *v, uint64_t seed);

/* ---- src/schema.h ---- */
/* schema: fields, DDL parsing, printSchema, lookup by name. */

typedef struct spk_field {
    const char *name; /* NUL-terminated UTF-8 */
    spk_type type;
    bool nullable;
} spk_field;

/* Immutable and reference-counted: safe to share between threads. */
typedef struct spk_schema spk_schema;

/* Copies `n` fields (names included) into a new schema with one reference.
 * Empty names, invalid types and duplicate names (case-insensitive, as
 * Spark's default) are SPK_ERR_ARG. */
SPKDEF spk_status spk_schema_new(const spk_allocator *alloc, const spk_field *fields, int n,
                                 spk_schema **out);

/* Parses a DDL list such as "id BIGINT NOT NULL, name STRING, price
 * DECIMAL(15,2)". Names may be `backtick quoted`; "name: type" is accepted as
 * in PySpark. Errors name the position and show the text with a caret. */
SPKDEF spk_status spk_schema_parse(const spk_allocator *alloc, const char *ddl, spk_schema **out);

SPKDEF spk_schema *spk_schema_retain(spk_schema *s);
SPKDEF void spk_schema_release(spk_schema *s); /* NULL is fine */

SPKDEF int spk_schema_ncols(const spk_schema *s);
SPKDEF const spk_field *spk_schema_field(const spk_schema *s, int i); /* NULL if out of range */

/* Index of the column called `name`, or -1. Case-insensitive unless
 * case_sensitive (Spark's spark.sql.caseSensitive). */
SPKDEF int spk_schema_index(const spk_schema *s, const char *name, bool case_sensitive);

/* As spk_schema_index but a miss is SPK_ERR_NOT_FOUND in Spark's words:
 * "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column or function parameter with
 * name `valeu` cannot be resolved. Did you mean one of the following?
 * [`value`, `name`]"; a name matching several columns is SPK_ERR_AMBIGUOUS. */
SPKDEF spk_status spk_schema_lookup(const spk_schema *s, const char *name, bool case_sensitive,
                                    int *index);

/* Same names (exactly), types and, if check_nullable, nullability, in order. */
SPKDEF bool spk_schema_equal(const spk_schema *a, const spk_schema *b, bool check_nullable);

/* printSchema's tree: "root\n |-- id: long (nullable = false)\n...". snprintf contract. */
SPKDEF size_t spk_schema_tree_string(const spk_schema *s, char *buf, size_t cap);
SPKDEF void spk_schema_print(const spk_schema *s, FILE *f);

/* DDL text that spk_schema_parse reads back: "id BIGINT NOT NULL, name STRING". */
SPKDEF size_t spk_schema_ddl(const spk_schema *s, char *buf, size_t cap);

/* ---- src/rowstore.h ---- */
/* rowstore: in-memory tables of fixed-width row slots in chunks. */

/* A table: a schema and a sequence of chunks of at most SPK_CHUNK_ROWS rows.
 * A row slot holds a null bitmap and each field at a fixed offset; strings
 * live in the chunk's heap. One writer at a time; readers may run alongside
 * each other but not alongside a writer (versions come with the catalog). */
typedef struct spk_table spk_table;

#define SPK_CHUNK_ROWS 65536

/* Creates an empty table; takes its own reference to `schema`. */
SPKDEF spk_status spk_table_new(const spk_allocator *alloc, spk_schema *schema, spk_table **out);
/* Tables are reference-counted: spk_table_free releases one reference and
 * the last frees the table. spk_table_retain adds one (the catalog and
 * DataFrames over saved tables hold them); while a table has more than one
 * reference it is read-only, and the append calls fail with SPK_ERR_STATE. */
SPKDEF spk_table *spk_table_retain(spk_table *t);
SPKDEF void spk_table_free(spk_table *t); /* NULL is fine */

SPKDEF spk_schema *spk_table_schema(const spk_table *t);
SPKDEF size_t spk_table_nrows(const spk_table *t);
SPKDEF size_t spk_table_nchunks(const spk_table *t);
/* Bytes the table holds from its allocator right now (slots, heaps, bookkeeping). */
SPKDEF size_t spk_table_memory(const spk_table *t);

/* Appends one row of `n` values (n must equal the column count). A value's
 * type must be the column's, or widen to it without loss (INT32 to INT64,
 * integers to DOUBLE or to a DECIMAL they fit, a DECIMAL to one with at least
 * its scale and integer digits; else SPK_ERR_TYPE or SPK_ERR_RANGE). A typed
 * NULL follows the rules of its type; the untyped spk_value_null() fits any
 * nullable column. Strings are copied. On error nothing is appended and the
 * message names the column. */
SPKDEF spk_status spk_table_append_row(spk_table *t, const spk_value *values, int n);

/* spk_table_append(t, spk_value_i64(1), spk_value_str("Alice")) — C only. */
#define spk_table_append(t, ...)                                                            \
    spk_table_append_row((t), (const spk_value[]){__VA_ARGS__},                             \
                         (int)(sizeof((const spk_value[]){__VA_ARGS__}) / sizeof(spk_value)))

/* Appends `nrows` rows given row-major (nrows * ncols values). All or
 * nothing: on error no row of this call is kept and the message names the
 * row (1-based) and column. */
SPKDEF spk_status spk_table_append_rows(spk_table *t, const spk_value *values, size_t nrows);

/* Appends rows from CSV text, one row per line, values as spk_value_parse
 * reads them: fields separated by ',', "double quoted" fields may hold ',',
 * newlines and "" for a quote; an unquoted NULL or null (exactly), or an
 * empty unquoted field, is NULL; "" is the empty string (and a quoted "NULL"
 * the four-letter string); spaces around unquoted fields are
 * trimmed; blank lines are skipped. len (size_t)-1 means NUL-terminated. All
 * or nothing; errors name the line and column:
 * "line 3, column 2 (`amount`): cannot parse 'x1' as DECIMAL(10,2)". */
SPKDEF spk_status spk_table_append_text(spk_table *t, const char *text, size_t len);

/* A table from a fixture literal: the first line is a DDL schema, the rest are
 * rows as spk_table_append_text reads them (line numbers count the schema line).
 *   "id INT, name STRING\n1,Alice\n2,NULL" */
SPKDEF spk_status spk_table_from_fixture(const spk_allocator *alloc, const char *text,
                                         spk_table **out);

/* Reads one value; a string is a view into the table, valid until the table
 * is next appended to or freed. */
SPKDEF spk_status spk_table_get(const spk_table *t, size_t row, int col, spk_value *out);

/* Sequential reading: open, then next() until it returns false. Plain data:
 * put it on the stack; valid while the table is not written. */
typedef struct spk_cursor {
    const spk_table *table;
    size_t chunk; /* current chunk */
    size_t index; /* row within the chunk */
    size_t row;   /* row within the table */
    bool started;
} spk_cursor;

SPKDEF void spk_cursor_open(spk_cursor *c, const spk_table *t);
SPKDEF bool spk_cursor_next(spk_cursor *c);
SPKDEF spk_status spk_cursor_get(const spk_cursor *c, int col, spk_value *out);

/* ---- src/taskq.h ---- */
/* taskq: the lock-free bounded MPMC task queue and the thread pool (spk_taskq, spk_pool). */

/* ---------------------------------------------------------------- spk_taskq
 * A bounded multi-producer multi-consumer queue of `void *` items (any value,
 * NULL included; the queue never looks at them), in one ring of cells, each
 * with its own sequence number. No locks: a push or a pop claims a position
 * with one compare-and-swap and then hands the cell over with one store.
 *
 * The capacity is rounded up to a power of two (1 stays 1). Pushing into a
 * full queue fails (try_push) or waits (push); popping from an empty one
 * fails (try_pop) or waits (pop) until an item arrives or the queue is closed
 * and drained. Waiting retries a few times at once and then yields the
 * processor (thrd_yield) before every further try: no call busy-spins. */
typedef struct spk_taskq spk_taskq;

/* The largest capacity spk_taskq_new accepts: 2^60 on 64-bit systems,
 * 2^28 on 32-bit ones (the cells must fit in memory long before that). */
#define SPK_TASKQ_MAX_CAPACITY (SIZE_MAX / 16 + 1)

/* Creates an empty queue holding up to `capacity` items, rounded up to a
 * power of two. SPK_ERR_ARG for capacity 0, SPK_ERR_LIMIT above
 * SPK_TASKQ_MAX_CAPACITY, SPK_ERR_NOMEM; *out is set only on success. */
SPKDEF spk_status spk_taskq_new(const spk_allocator *alloc, size_t capacity, spk_taskq **out);

/* TEST HOOK: spk_taskq_new with the internal positions starting at
 * `start_pos` instead of 0. Positions count every push and pop and wrap
 * around at SIZE_MAX; start near SIZE_MAX (or near SIZE_MAX / 2, where the
 * cells' sequence numbers, which run at twice the speed, wrap) to test what
 * years of traffic would reach. Behaves exactly like a fresh queue. */
SPKDEF spk_status spk_taskq_new_at(const spk_allocator *alloc, size_t capacity, size_t start_pos,
                                   spk_taskq **out);

/* Frees the queue (NULL is fine); items still in it are dropped: they are
 * only pointers, the caller owns what they point to. No call on the queue
 * may run or start in another thread. */
SPKDEF void spk_taskq_free(spk_taskq *q);

/* The capacity after rounding. */
SPKDEF size_t spk_taskq_capacity(const spk_taskq *q);

/* The number of items (pushes claimed minus pops claimed), 0..capacity. A
 * snapshot: exact when no push or pop runs at the same time. */
SPKDEF size_t spk_taskq_size(spk_taskq *q);

/* Appends `item`. false, with nothing changed, when the queue is full or
 * closed. Never waits for space; see THREAD SAFETY for the one case where it
 * waits, briefly, for another thread. */
SPKDEF bool spk_taskq_try_push(spk_taskq *q, void *item);

/* Removes the oldest item into *item. false, with *item unchanged, when the
 * queue is empty (closed or not). */
SPKDEF bool spk_taskq_try_pop(spk_taskq *q, void **item);

/* Blocking forms: retry until they succeed, yielding the processor between
 * tries. push returns false only if the queue is (or becomes) closed, with
 * the item not added; pop returns false only once the queue is closed and
 * empty. */
SPKDEF bool spk_taskq_push(spk_taskq *q, void *item);
SPKDEF bool spk_taskq_pop(spk_taskq *q, void **item);

/* Closes the queue for pushing: every push that starts after this returns
 * false; pops go on until the items already in it are gone, then pop (the
 * blocking one) returns false instead of waiting. A push running at the same
 * time as close may still succeed, so close after the producers are done
 * when no item may be left behind. Closing twice is harmless; there is no
 * reopening. */
SPKDEF void spk_taskq_close(spk_taskq *q);
SPKDEF bool spk_taskq_is_closed(spk_taskq *q);

/* ---------------------------------------------------------------- spk_pool
 * A fixed set of worker threads running tasks (a function and its argument)
 * taken from a spk_taskq. Idle workers sleep on a condition variable and are
 * woken by the next submit. Tasks are counted in wait-groups: each pool has
 * one for spk_pool_submit / spk_pool_wait, and spk_waitgroup_new makes more,
 * so that several batches (several queries) can share one pool and be
 * joined separately.
 *
 * A thread waiting for a group, or submitting into a full queue, runs queued
 * tasks itself (of any group) until it can go on: a task may therefore
 * submit tasks and wait for them, even on a one-worker pool, without
 * deadlock — but it must wait on a group it is not itself counted in. */
typedef struct spk_pool spk_pool;
typedef struct spk_waitgroup spk_waitgroup;

/* A task. It runs exactly once, on a worker or on a thread that helps in
 * spk_pool_submit / spk_waitgroup_wait; it must not call thrd_exit. */
typedef void (*spk_task_fn)(void *arg);

/* The most worker threads a pool may have; 0 (the default) asks for one per
 * online core, which is capped at this. */
#define SPK_POOL_MAX_THREADS 1024
/* The task queue capacity a pool gets when spk_pool_new is given 0. */
#define SPK_POOL_DEFAULT_QUEUE 4096

/* Online processor cores: on Linux the count in
 * /sys/devices/system/cpu/online (affinity masks and cgroup quotas are not
 * taken into account); elsewhere, or if that cannot be read, the
 * implementation's SPK_DEFAULT_THREADS (2 unless defined before the
 * implementation is included). Always >= 1. */
SPKDEF int spk_cpu_count(void);

/* The number of CPUs in a Linux CPU list such as "0-3,8,10-11\n" (the format
 * of /sys/devices/system/cpu/online): 7 here; -1 if the text is not such a
 * list. Used by spk_cpu_count, exposed for its tests. */
SPKDEF int spk_cpu_list_count(const char *list);

/* Starts a pool of `nthreads` workers (0 = spk_cpu_count()) taking tasks from
 * a queue of `queue_capacity` (0 = SPK_POOL_DEFAULT_QUEUE; rounded up to a
 * power of two). SPK_ERR_ARG for a negative count or one above
 * SPK_POOL_MAX_THREADS; SPK_ERR_NOMEM; SPK_ERR_LIMIT when the system refuses a
 * thread. On failure, workers already started are stopped and joined and
 * nothing is leaked. */
SPKDEF spk_status spk_pool_new(const spk_allocator *alloc, int nthreads, size_t queue_capacity,
                               spk_pool **out);

/* Stops the pool (NULL is fine): every task already queued, and every task
 * those submit, runs first; then the workers are joined and everything is
 * freed. Call it from outside the pool's tasks, after the last submit from
 * any thread other than the pool's own tasks. Wait-groups made for the pool
 * must be freed before it. */
SPKDEF void spk_pool_free(spk_pool *pool);

SPKDEF int spk_pool_nthreads(const spk_pool *pool);

/* Queues fn(arg) in the pool's own wait-group. If the queue is full, the
 * calling thread runs queued tasks until there is room, so this never waits
 * for a worker. SPK_ERR_ARG for a NULL function. Any thread may submit,
 * tasks included. */
SPKDEF spk_status spk_pool_submit(spk_pool *pool, spk_task_fn fn, void *arg);

/* Returns once every task submitted with spk_pool_submit before this call
 * (and every task submitted that way while it waits) has finished, running
 * queued tasks on the calling thread meanwhile. Everything those tasks did
 * happens before the return. Must not be called from a task submitted with
 * spk_pool_submit (that task would wait for itself). */
SPKDEF void spk_pool_wait(spk_pool *pool);

/* A wait-group: a count of unfinished tasks submitted through it, to join
 * one batch of the pool's tasks. Any number may be in use at once. */
SPKDEF spk_status spk_waitgroup_new(spk_pool *pool, spk_waitgroup **out);
/* Frees the group (NULL is fine); its tasks must have finished (wait first). */
SPKDEF void spk_waitgroup_free(spk_waitgroup *group);
/* As spk_pool_submit, counted in `group` instead of the pool's own group. */
SPKDEF spk_status spk_waitgroup_submit(spk_waitgroup *group, spk_task_fn fn, void *arg);
/* As spk_pool_wait, for the tasks of `group`; the group can be reused after. */
SPKDEF void spk_waitgroup_wait(spk_waitgroup *group);

/* TEST HOOK: the next spk_pool_new called on this thread fails to start its
 * worker number `worker` (1-based) as if the system had refused the thread;
 * 0 disarms. Fires once. */
SPKDEF void spk_pool_fail_thread_start(int worker);

/* Thread-safety guarantees of spk_taskq and spk_pool: see THREAD SAFETY in
 * the doc block at the top of sparkless.h. */

/* ---- src/expr.h ---- */
/* expr: expression trees, built in C or parsed from Spark SQL text. */

/* An expression: immutable and reference-counted, so one tree may be shared
 * by many DataFrames and threads. Builders CONSUME their spk_expr arguments
 * (so `spk_gt(spk_col("value"), spk_lit_i64(10))` needs no temporaries) and
 * return a new reference; keep a tree for reuse with spk_expr_retain. A
 * builder that fails (out of memory, a NULL argument) returns NULL after
 * releasing its arguments, and every builder given a NULL returns NULL, so a
 * chain fails as a whole: the consumer of the final NULL reports the first
 * failure's status and message. Expressions use the default allocator. */
typedef struct spk_expr spk_expr;

SPKDEF spk_expr *spk_expr_retain(spk_expr *e);
SPKDEF void spk_expr_release(spk_expr *e); /* NULL is fine */

/* Column reference: "name", "t.name" (qualified), or "`odd.name`" (quoted). */
SPKDEF spk_expr *spk_col(const char *name);
SPKDEF spk_expr *spk_star(void); /* `*`, as in count(*) or select("*") */

/* Literals; strings are copied. */
SPKDEF spk_expr *spk_lit(spk_value v);
SPKDEF spk_expr *spk_lit_null(void);
SPKDEF spk_expr *spk_lit_bool(bool x);
SPKDEF spk_expr *spk_lit_i32(int32_t x);
SPKDEF spk_expr *spk_lit_i64(int64_t x);
SPKDEF spk_expr *spk_lit_f64(double x);
SPKDEF spk_expr *spk_lit_str(const char *s);
SPKDEF spk_expr *spk_lit_decimal(int64_t unscaled, int precision, int scale);
SPKDEF spk_expr *spk_lit_date(int year, int month, int day); /* NULL if invalid */

/* Arithmetic: + - * / % div, unary minus. `/` always divides as DOUBLE (or
 * DECIMAL for decimals), `div` is integral division; x/0 and x%0 are NULL. */
SPKDEF spk_expr *spk_add(spk_expr *a, spk_expr *b);
SPKDEF spk_expr *spk_sub(spk_expr *a, spk_expr *b);
SPKDEF spk_expr *spk_mul(spk_expr *a, spk_expr *b);
SPKDEF spk_expr *spk_div(spk_expr *a, spk_expr *b);
SPKDEF spk_expr *spk_mod(spk_expr *a, spk_expr *b);
SPKDEF spk_expr *spk_intdiv(spk_expr *a, spk_expr *b);
SPKDEF spk_expr *spk_neg(spk_expr *a);

/* Comparison; spk_eq_null_safe is SQL's <=> (NULL <=> NULL is true). */
SPKDEF spk_expr *spk_eq(spk_expr *a, spk_expr *b);
SPKDEF spk_expr *spk_ne(spk_expr *a, spk_expr *b);
SPKDEF spk_expr *spk_lt(spk_expr *a, spk_expr *b);
SPKDEF spk_expr *spk_le(spk_expr *a, spk_expr *b);
SPKDEF spk_expr *spk_gt(spk_expr *a, spk_expr *b);
SPKDEF spk_expr *spk_ge(spk_expr *a, spk_expr *b);
SPKDEF spk_expr *spk_eq_null_safe(spk_expr *a, spk_expr *b);

/* Three-valued logic and null tests. */
SPKDEF spk_expr *spk_and(spk_expr *a, spk_expr *b);
SPKDEF spk_expr *spk_or(spk_expr *a, spk_expr *b);
SPKDEF spk_expr *spk_not(spk_expr *a);
SPKDEF spk_expr *spk_is_null(spk_expr *a);
SPKDEF spk_expr *spk_is_not_null(spk_expr *a);

/* x IN (n listed expressions), x BETWEEN lo AND hi. */
SPKDEF spk_expr *spk_in(spk_expr *x, int n, ...);
SPKDEF spk_expr *spk_in_array(spk_expr *x, spk_expr *const *list, int n);
SPKDEF spk_expr *spk_between(spk_expr *x, spk_expr *lo, spk_expr *hi);

/* x LIKE pattern (% any run, _ one character, \ escapes), x RLIKE regex
 * (POSIX extended, matching anywhere, as Java's find()). */
SPKDEF spk_expr *spk_like(spk_expr *x, const char *pattern);
SPKDEF spk_expr *spk_rlike(spk_expr *x, const char *regex);

/* CASE WHEN c1 THEN v1 WHEN c2 THEN v2 ELSE e END is written
 *   spk_otherwise(spk_when(spk_when(NULL, c1, v1), c2, v2), e)
 * (prev NULL starts a CASE; without spk_otherwise the ELSE is NULL). */
SPKDEF spk_expr *spk_when(spk_expr *prev, spk_expr *cond, spk_expr *value);
SPKDEF spk_expr *spk_otherwise(spk_expr *case_expr, spk_expr *value);

SPKDEF spk_expr *spk_cast(spk_expr *x, spk_type to);
SPKDEF spk_expr *spk_alias(spk_expr *x, const char *name);

/* A function or aggregate call by Spark name with n spk_expr arguments:
 * spk_call("upper", 1, spk_col("name")), spk_call("sum", 1, spk_col("x")). */
SPKDEF spk_expr *spk_call(const char *function, int n, ...);
SPKDEF spk_expr *spk_call_array(const char *function, spk_expr *const *args, int n);
SPKDEF spk_expr *spk_count_distinct(spk_expr *x); /* count(DISTINCT x) */

/* Parses Spark SQL expression text: "value > 10 AND name LIKE 'A%'",
 * "price * (1 - disc) AS net", "CASE WHEN x IS NULL THEN 0 ELSE x END",
 * "d <= DATE '1998-12-01' - INTERVAL 90 DAY". Errors are SPK_ERR_PARSE with
 * the position and the text under a caret. */
SPKDEF spk_status spk_expr_parse(const char *sql, spk_expr **out);

/* Spark's text for an expression, as used for column names: "(value > 10)",
 * "upper(name)", "CAST(x AS INT)". snprintf contract. */
SPKDEF size_t spk_expr_to_sql(const spk_expr *e, char *buf, size_t cap);

/* ---- src/vector.h ---- */
/* vector: internal only (column vectors, bound expression nodes, kernels); no public declarations. */

/* ---- src/funcs.h ---- */
/* funcs: internal only (the function registry); functions are called from expressions by name. */

/* ---- src/eval.h ---- */
/* eval: binding expressions to a schema (resolution, Spark's type coercion,
 * constant folding) and evaluating them, vectorised, over a table. */

/* A bound expression: resolved against one schema, typed, with implicit
 * casts inserted and constants folded. Immutable: evaluate it from any
 * number of threads at once. */
typedef struct spk_bound spk_bound;

/* Resolves `e` (borrowed) against `schema` (case-insensitive unless
 * case_sensitive). Errors: an unknown column (SPK_ERR_NOT_FOUND, with
 * Spark's did-you-mean and, for parsed text, a caret), an ambiguous one
 * (SPK_ERR_AMBIGUOUS), types that do not fit (SPK_ERR_TYPE), an unknown
 * function (SPK_ERR_NOT_FOUND with suggestions). */
SPKDEF spk_status spk_expr_bind(const spk_expr *e, const spk_schema *schema, bool case_sensitive, spk_bound **out);
SPKDEF void spk_bound_free(spk_bound *b); /* NULL is fine */

SPKDEF spk_type spk_bound_type(const spk_bound *b);
SPKDEF bool spk_bound_nullable(const spk_bound *b);
/* The result's column name, as Spark would name it: "(value > 10)", or the alias. */
SPKDEF const char *spk_bound_name(const spk_bound *b);
/* True if the expression aggregates (sum(x) * 2): it yields one row per group. */
SPKDEF bool spk_bound_is_aggregate(const spk_bound *b);

/* The bound tree as text, with resolved columns as name#index and every
 * implicit cast shown: "(CAST(qty#1 AS BIGINT) + 1L)". snprintf contract. */
SPKDEF size_t spk_bound_explain(const spk_bound *b, char *buf, size_t cap);

/* If the expression folded to a constant (it reads no column), its value;
 * a string stays valid as long as `b`. SPK_ERR_STATE if it is not constant. */
SPKDEF spk_status spk_bound_constant(const spk_bound *b, spk_value *out);

/* Evaluates over every row of `in` (whose schema must equal the bound one):
 * a one-column table named spk_bound_name, one row per input row, or a
 * single row for an aggregate. */
SPKDEF spk_status spk_bound_eval(const spk_bound *b, const spk_table *in, spk_table **out);

/* The rows of `in` for which the BOOLEAN expression is true (not false, not NULL). */
SPKDEF spk_status spk_bound_filter(const spk_bound *b, const spk_table *in, spk_table **out);

/* ---- src/plan.h ---- */
/* plan: sessions and DataFrames — lazy, immutable logical plans, analysed
 * when built, with Spark's transformations and an optimizer. */

/* A session creates DataFrames and holds what they share: the allocator,
 * settings, and (catalog.h) its catalog, temp views and configuration.
 * Stop it with spk_session_stop (spk_session_free is the same call) once
 * no call on it is running; DataFrames made from it stay valid and still
 * collect (they keep the part they need alive). */
typedef struct spk_session spk_session;

/* Queries split their input into morsels of this many rows (a chunk), which
 * the session's threads take one at a time. */
#define SPK_MORSEL_ROWS 65536

typedef struct spk_session_options {
    const spk_allocator *alloc; /* NULL: the default allocator */
    bool case_sensitive;        /* spark.sql.caseSensitive; default false */
    int threads;                /* threads a query runs on: 0 = spk_cpu_count(), 1 = the calling
                                 * thread only; at most SPK_POOL_MAX_THREADS. The workers start at
                                 * the first query that uses them and stop once the session is
                                 * stopped and its last DataFrame released. */
} spk_session_options;

/* A root session on a new memory backend (catalog.h's builder sets any
 * configuration); opts NULL: defaults. */
SPKDEF spk_status spk_session_new(const spk_session_options *opts, spk_session **out);
SPKDEF void spk_session_free(spk_session *s);
/* The threads the session's queries run on (the option, or what 0 resolved to). */
SPKDEF int spk_session_threads(const spk_session *s);

/* TEST HOOK: while `threads` > 0, the queries of every session whose
 * options left `threads` at 0 run on that many threads, and `morsel_rows` > 0 replaces the
 * morsel size (SPK_MORSEL_ROWS rows) so that tiny inputs still split into
 * many morsels. 0, 0 restores the defaults. Process-wide; set it while no
 * query runs. */
SPKDEF void spk_exec_override(int threads, uint32_t morsel_rows);

/* A DataFrame: an immutable, reference-counted logical plan, analysed when
 * it is built (so a misspelt column fails at the call that names it). Safe
 * to share between threads. Every function returning spk_df * returns a
 * new reference, or NULL with the error in spk_last_error(); a NULL input
 * DataFrame makes any of them return NULL, so a failure shows once, at the
 * end of a chain. DataFrame arguments are borrowed; expression arguments
 * are consumed, as everywhere. */
typedef struct spk_df spk_df;

SPKDEF spk_df *spk_df_retain(spk_df *df);
SPKDEF void spk_df_release(spk_df *df); /* NULL is fine */

/* ---------------------------------------------------------------- sources */

/* A DataFrame over a table; the DataFrame takes the table over (it must not
 * be written or freed by the caller afterwards). */
SPKDEF spk_df *spk_df_from_table(spk_session *s, spk_table *table);
/* From a fixture literal: "id INT, name STRING\n1,Alice\n2,NULL". */
SPKDEF spk_df *spk_df_from_fixture(spk_session *s, const char *text);
/* createDataFrame(rows, schema): nrows rows given row-major (nrows * ncols
 * values, as spk_table_append_rows takes them); the schema is retained. */
SPKDEF spk_df *spk_df_from_rows(spk_session *s, spk_schema *schema, const spk_value *values, size_t nrows);
/* spark.range(start, end, step): one BIGINT column `id`. */
SPKDEF spk_df *spk_df_range(spk_session *s, int64_t start, int64_t end, int64_t step);

/* ---------------------------------------------------------------- transformations */

/* select(exprs...): column expressions (spk_col("*") and spk_col("t.*") expand). */
SPKDEF spk_df *spk_df_select(spk_df *df, int n, ...);
SPKDEF spk_df *spk_df_select_array(spk_df *df, spk_expr *const *exprs, int n);
/* selectExpr("a + 1 AS b", "upper(name)") */
SPKDEF spk_df *spk_df_select_expr(spk_df *df, int n, ...);
SPKDEF spk_df *spk_df_filter(spk_df *df, spk_expr *condition);
SPKDEF spk_df *spk_df_where(spk_df *df, const char *condition_sql);
SPKDEF spk_df *spk_df_with_column(spk_df *df, const char *name, spk_expr *value);
/* withColumns: every value computed from df's columns; each replaces the
 * column of its name in place or is added at the end, in the order given. */
SPKDEF spk_df *spk_df_with_columns(spk_df *df, const char *const *names, spk_expr *const *values, int n);
SPKDEF spk_df *spk_df_with_column_renamed(spk_df *df, const char *existing, const char *new_name);
SPKDEF spk_df *spk_df_drop(spk_df *df, int n, ...); /* column names; unknown names are ignored, as Spark */
SPKDEF spk_df *spk_df_alias(spk_df *df, const char *alias);
SPKDEF spk_df *spk_df_limit(spk_df *df, int64_t n);
SPKDEF spk_df *spk_df_offset(spk_df *df, int64_t n);
SPKDEF spk_df *spk_df_distinct(spk_df *df);

/* groupBy(keys...).agg(aggregates...); with no keys, agg over the whole frame. */
SPKDEF spk_df *spk_df_group_agg(spk_df *df, spk_expr *const *keys, int nkeys, spk_expr *const *aggs, int naggs);
SPKDEF spk_df *spk_df_agg(spk_df *df, int n, ...);
/* groupBy(keys).count(), .sum(cols), .avg(cols), .min(cols), .max(cols): with
 * no columns named (ncols 0), every numeric column that is not a key, as
 * Spark; count's column is named "count". Keys are consumed. */
SPKDEF spk_df *spk_df_group_count(spk_df *df, spk_expr *const *keys, int nkeys);
SPKDEF spk_df *spk_df_group_sum(spk_df *df, spk_expr *const *keys, int nkeys, const char *const *cols, int ncols);
SPKDEF spk_df *spk_df_group_avg(spk_df *df, spk_expr *const *keys, int nkeys, const char *const *cols, int ncols);
SPKDEF spk_df *spk_df_group_min(spk_df *df, spk_expr *const *keys, int nkeys, const char *const *cols, int ncols);
SPKDEF spk_df *spk_df_group_max(spk_df *df, spk_expr *const *keys, int nkeys, const char *const *cols, int ncols);

/* orderBy(sort keys...): spk_asc(e), spk_desc(e), spk_asc_nulls_last(e), ...
 * A plain expression sorts ascending with NULLs first, as Spark. */
SPKDEF spk_expr *spk_asc(spk_expr *e);
SPKDEF spk_expr *spk_desc(spk_expr *e);
SPKDEF spk_expr *spk_asc_nulls_last(spk_expr *e);
SPKDEF spk_expr *spk_desc_nulls_first(spk_expr *e);
SPKDEF spk_df *spk_df_order_by(spk_df *df, int n, ...);
SPKDEF spk_df *spk_df_order_by_array(spk_df *df, spk_expr *const *keys, int n);
SPKDEF spk_df *spk_df_sort_array(spk_df *df, spk_expr *const *keys, int n); /* sort = orderBy */

/* ---------------------------------------------------------------- joins */

/* join(other, on, how). `on` (consumed) is any BOOLEAN expression over both
 * sides' columns, resolved against the left columns followed by the right
 * ones with each side's DataFrame alias: after spk_df_alias(l, "a") and
 * spk_df_alias(r, "b"), "a.id = b.id" resolves, and a bare `id` that both
 * sides have is SPK_ERR_AMBIGUOUS. `how` (NULL: "inner"; case and '_'
 * ignored, as Spark): inner, cross, left/leftouter, right/rightouter,
 * full/outer/fullouter, semi/leftsemi, anti/leftanti; anything else is
 * SPK_ERR_ARG naming them. A NULL `on` is a cartesian product and needs
 * how "cross" (with a condition, "cross" is an inner join).
 * Output: the left columns then the right ones, keeping their aliases (an
 * outer join makes the other side's columns nullable); semi and anti joins
 * output only the left columns. Equalities between an expression of one
 * side and one of the other are hash-joined (NULL keys never match, as
 * Spark; `<=>` keys match NULL to NULL), the rest of the condition is
 * checked per candidate pair; with no such equality it is a nested loop.
 * Row order is unspecified, as in Spark. */
SPKDEF spk_df *spk_df_join(spk_df *left, spk_df *right, spk_expr *on, const char *how);
/* join(other, [names], how): equality of the named columns, which both sides
 * must have (SPK_ERR_NOT_FOUND otherwise). The output has each key column
 * once, first — the left one (the right one for a right join,
 * coalesce(left, right) named as the left one for a full join) — then the
 * other left columns, then the other right ones (none for semi and anti),
 * as Spark. n = 0 joins without a condition. */
SPKDEF spk_df *spk_df_join_using(spk_df *left, spk_df *right, const char *const *names, int n, const char *how);
/* crossJoin(other): spk_df_join(left, right, NULL, "cross"). */
SPKDEF spk_df *spk_df_cross_join(spk_df *left, spk_df *right);

/* ---------------------------------------------------------------- set operations
 * By position, with union's type widening and column names from the first
 * input; NULLs equal NULLs (and NaN equals NaN) when rows are compared. */

/* Spark's union/unionAll: by position, keeping duplicates. */
SPKDEF spk_df *spk_df_union(spk_df *a, spk_df *b);
SPKDEF spk_df *spk_df_union_all(spk_df *a, spk_df *b);
/* unionByName(other, allowMissingColumns): b's columns matched to a's by
 * name. A column of a that b lacks is SPK_ERR_SCHEMA naming it, unless
 * allow_missing_columns, which fills it with NULL (and adds b's extra
 * columns at the end, NULL for a's rows). */
SPKDEF spk_df *spk_df_union_by_name(spk_df *a, spk_df *b, bool allow_missing_columns);
/* intersect: the distinct rows found in both. */
SPKDEF spk_df *spk_df_intersect(spk_df *a, spk_df *b);
/* intersectAll: as multisets — a row present m times in a and n in b appears min(m, n) times. */
SPKDEF spk_df *spk_df_intersect_all(spk_df *a, spk_df *b);
/* subtract (EXCEPT DISTINCT): the distinct rows of a not found in b. */
SPKDEF spk_df *spk_df_subtract(spk_df *a, spk_df *b);
/* exceptAll: as multisets — m times in a and n in b leaves max(m - n, 0). */
SPKDEF spk_df *spk_df_except_all(spk_df *a, spk_df *b);

/* ---------------------------------------------------------------- rows */

/* dropDuplicates(subset): the first row (in input order) of each distinct
 * combination of the named columns; subset NULL or n = 0: every column
 * (distinct, keeping the first occurrence). Unknown names are SPK_ERR_NOT_FOUND. */
SPKDEF spk_df *spk_df_drop_duplicates(spk_df *df, const char *const *subset, int n);

/* fillna(value, subset) / na.fill: replaces NULL (and NaN, in DOUBLE
 * columns) in the columns whose type matches the value — a number (INT,
 * BIGINT, DOUBLE, DECIMAL) fills every numeric column, cast to its type (2.5
 * fills an INT column with 2), a string fills STRING columns, a boolean
 * BOOLEAN columns; other columns are left alone. subset NULL or n = 0: every
 * column; names not found are SPK_ERR_NOT_FOUND. Filled columns become
 * non-nullable, as Spark. */
SPKDEF spk_df *spk_df_fillna(spk_df *df, spk_value value, const char *const *subset, int n);

/* dropna(how, thresh, subset) / na.drop: drops rows with fewer than
 * `thresh` non-NULL, non-NaN values among the columns of subset (NULL or
 * n = 0: every column). thresh < 0 means "not given": then how "any" (or
 * NULL) keeps rows with no NULL there, "all" rows with at least one value. */
SPKDEF spk_df *spk_df_dropna(spk_df *df, const char *how, int thresh, const char *const *subset, int n);

/* sample(fraction, seed), without replacement: each row is kept with
 * probability `fraction` (0 to 1). Deterministic for a seed and the input's
 * order: the row with index i (0-based, in the sample's input) is kept when
 * the i-th output of SplitMix64 seeded with `seed`, as a double in [0, 1)
 * (top 53 bits), is below fraction. Not Spark's rows, only its distribution. */
SPKDEF spk_df *spk_df_sample(spk_df *df, double fraction, uint64_t seed);


/* ---- src/optimize.h ---- */
/* optimize: the optimizer's rewrites of logical plans and explain(). */

/* explain(extended): Spark-like text. Without `extended`, "== Physical Plan =="
 * and the plan that runs; with it, "== Analyzed Logical Plan ==" (the
 * schema, then the plan as built), "== Optimized Logical Plan ==" (after the
 * optimizer's rewrites) and "== Physical Plan ==". */
SPKDEF spk_status spk_df_explain(spk_df *df, bool extended, FILE *f);
SPKDEF spk_status spk_df_explain_string(spk_df *df, bool extended, char **out); /* free with spk_string_free */

/* Internal, for exec and tests. spk__optimize returns a new reference to a
 * plan that gives exactly the same rows, in the same order, with the same
 * schema: `df` itself (retained) when no rewrite applies, or NULL with the
 * error set (only out of memory). spk__optimizer_enable(false) makes it
 * return `df` unchanged on the calling thread (so tests can run a plan both
 * ways); it returns the previous setting. */
SPKDEF spk_df *spk__optimize(const spk_df *df);
SPKDEF bool spk__optimizer_enable(bool on);

/* ---- src/exec.h ---- */
/* exec: running plans — Spark's actions (collect, count, show, explain). */

/* Runs the plan; the result is a table you own (read it with spk_table_get
 * or a cursor, free it with spk_table_free). */
SPKDEF spk_status spk_df_collect(spk_df *df, spk_table **out);
SPKDEF spk_status spk_df_count(spk_df *df, int64_t *out);
/* head(n) / take(n): at most n rows (n >= 0), as a table you own. */
SPKDEF spk_status spk_df_head(spk_df *df, int64_t n, spk_table **out);
SPKDEF spk_status spk_df_take(spk_df *df, int64_t n, spk_table **out);
/* first(): head(1) — a table of one row, or none if the frame is empty. */
SPKDEF spk_status spk_df_first(spk_df *df, spk_table **out);

/* foreach(f): calls fn once per row, in order, with the row's values (strings
 * are views valid only during the call). A status other than SPK_OK from fn
 * stops the run and is returned. */
typedef spk_status (*spk_row_fn)(void *user, const spk_value *row, int ncols);
SPKDEF spk_status spk_df_foreach(spk_df *df, spk_row_fn fn, void *user);

/* describe(cols...): Spark's summary table — a STRING column `summary`
 * (count, mean, stddev, min, max) and one STRING column per described
 * column, the values as Spark casts them to text (stddev is the sample
 * standard deviation, NULL below two values). n = 0 describes every numeric
 * and STRING column. The statistics are computed when it is called (one
 * pass); the result is a DataFrame over the five rows. */
SPKDEF spk_df *spk_df_describe(spk_df *df, const char *const *cols, int n);

SPKDEF const spk_schema *spk_df_schema(const spk_df *df);
SPKDEF void spk_df_print_schema(const spk_df *df, FILE *f);
/* columns: writes up to cap column names (borrowed from the DataFrame, valid
 * while it lives) and returns the number of columns (-1 for NULL df). */
SPKDEF int spk_df_columns(const spk_df *df, const char **names, int cap);
/* dtypes: (name, simpleString type) pairs: ("id", "bigint"), ("p", "decimal(10,2)"). */
typedef struct spk_dtype {
    const char *name; /* borrowed, as spk_df_columns */
    char type[32];
} spk_dtype;
SPKDEF int spk_df_dtypes(const spk_df *df, spk_dtype *out, int cap);

/* show(n, truncate, vertical) in Spark's exact format; truncate 0 = off,
 * else the width at which cells are cut (Spark's default 20). spk_df_show
 * prints the text and a blank line, as PySpark's show() does;
 * spk_df_show_string gives the text alone (Spark's showString). */
SPKDEF spk_status spk_df_show(spk_df *df, int n, int truncate, bool vertical, FILE *f);
SPKDEF spk_status spk_df_show_string(spk_df *df, int n, int truncate, bool vertical, char **out); /* free with spk_string_free */
SPKDEF void spk_string_free(char *s);

/* ---- src/backend.h ---- */
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
 *   close: frees everything (no call is running). */
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
} spk_backend_ops;

typedef struct spk_backend spk_backend;
/* Wraps an engine: ops must outlive the backend; type is its registered name
 * (copied). The "default" schema is created here if the engine lacks it. */
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
 * immutable in-memory table; appends share the previous version's chunks.
 * max_memory bounds the bytes held by the latest versions of all tables: a
 * write that would pass it fails with SPK_ERR_LIMIT and changes nothing. */
SPKDEF spk_status spk_backend_memory(const spk_backend_config *config, spk_backend **out);

/* ---- src/filestore.h ---- */
/* filestore: the file backend — saved tables kept as files in a directory. */

/* The file backend ("file"). config->base_path (spark.sparkless.backend.basePath)
 * names a directory, created if missing (one level); NULL or empty is
 * SPK_ERR_ARG. Under it:
 *   <basePath>/<db>/                        one directory per database
 *   <basePath>/<db>/<table>.<version>.spkt  the table's latest version
 *   <basePath>/<db>/.<table>.<version>.<unique>.tmp   a write in progress
 * A write goes to a temporary file, is flushed to disk (fsync) and renamed
 * over the table's name, so after a crash at any moment every table is at a
 * complete version: the last one whose write returned, or a later one.
 * Opening reads every table into memory (the backend serves reads from
 * there, as the memory backend does; max_memory bounds later writes the
 * same way), removes left-over temporary files and superseded versions,
 * and skips names that are not its own. A file that cannot be read does
 * not stop the others: scanning that table fails with SPK_ERR_CORRUPT
 * naming the file and what is wrong; overwriting or dropping it is allowed.
 * Dropping a database removes its directory and every file in it.
 * Errors of the file system are SPK_ERR_IO naming the path. One process at
 * a time may use a base path. Needs POSIX (elsewhere: SPK_ERR_UNSUPPORTED).
 * The .spkt file format is specified at the top of the implementation
 * (src/filestore.c; in sparkless.h, the "filestore" implementation part). */
SPKDEF spk_status spk_backend_file(const spk_backend_config *config, spk_backend **out);

/* ---- src/catalog.h ---- */
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

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SPARKLESS_H */

#if defined(SPARKLESS_IMPLEMENTATION) && !defined(SPARKLESS_IMPLEMENTATION_DONE)
#define SPARKLESS_IMPLEMENTATION_DONE

/* ---- src/base.c ---- */
/* base: implementation prelude, status tables, thread-local errors,
 * allocators, hashing, and the small string helpers every module uses. */

#if !defined(__STDC_VERSION__) || __STDC_VERSION__ < 201112L
#error "sparkless.h: the implementation needs a C11 compiler (-std=c11 or later)"
#endif
#if defined(__STDC_NO_THREADS__)
#error "sparkless.h: the implementation needs C11 <threads.h>, which this compiler/libc lacks (glibc >= 2.28, musl, or MSVC 17.8+ provide it)"
#endif
#if defined(__STDC_NO_ATOMICS__)
#error "sparkless.h: the implementation needs C11 <stdatomic.h>, which this compiler lacks"
#endif

#include <threads.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <math.h>

#if defined(SPK_MALLOC) && defined(SPK_REALLOC) && defined(SPK_FREE)
/* user-supplied */
#elif !defined(SPK_MALLOC) && !defined(SPK_REALLOC) && !defined(SPK_FREE)
#define SPK_MALLOC(size) malloc(size)
#define SPK_REALLOC(ptr, size) realloc((ptr), (size))
#define SPK_FREE(ptr) free(ptr)
#else
#error "sparkless.h: define all of SPK_MALLOC, SPK_REALLOC and SPK_FREE, or none"
#endif

#ifndef SPK_ASSERT
#include <assert.h>
#define SPK_ASSERT(cond) assert(cond)
#endif

/* ---------------------------------------------------------------- status */

static const struct {
    const char *name, *category, *message;
} spk__status_info[] = {
#define SPK__STATUS_INFO(code, category, message) {#code, category, message},
    SPK_STATUS_LIST(SPK__STATUS_INFO)
#undef SPK__STATUS_INFO
};

SPKDEF const char *spk_status_name(spk_status s) {
    return (unsigned)s < SPK_STATUS_COUNT ? spk__status_info[s].name : "?";
}
SPKDEF const char *spk_status_message(spk_status s) {
    return (unsigned)s < SPK_STATUS_COUNT ? spk__status_info[s].message : "?";
}
SPKDEF const char *spk_status_category(spk_status s) {
    return (unsigned)s < SPK_STATUS_COUNT ? spk__status_info[s].category : "?";
}

SPKDEF const char *spk_version(void) { return SPARKLESS_VERSION; }

/* ---------------------------------------------------------------- errors
 * The detailed message lives in thread-local storage, so concurrent callers
 * never see each other's errors and no lock is needed. */

static _Thread_local char spk__error_text[SPK_ERROR_MAX];
static _Thread_local spk_status spk__error_status;
static _Thread_local unsigned long spk__error_count; /* failures recorded on this thread */

SPKDEF const char *spk_last_error(void) { return spk__error_text; }
SPKDEF spk_status spk_last_status(void) { return spk__error_status; }
SPKDEF void spk_clear_error(void) {
    spk__error_text[0] = '\0';
    spk__error_status = SPK_OK;
}

static void spk__mark_truncated(char *buf, size_t cap, int written) {
    if (written >= 0 && (size_t)written >= cap && cap >= 4) memcpy(buf + cap - 4, "...", 4);
}

#if defined(__GNUC__) || defined(__clang__)
#define SPK__PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define SPK__PRINTF(fmt_index, first_arg)
#endif

/* Records `status` with a formatted message for this thread and returns it,
 * so that failures read `return spk__fail(SPK_ERR_X, "...", ...);`. */
static spk_status spk__fail(spk_status status, const char *fmt, ...) SPK__PRINTF(2, 3);
static spk_status spk__fail(spk_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(spk__error_text, sizeof spk__error_text, fmt, ap);
    va_end(ap);
    spk__mark_truncated(spk__error_text, sizeof spk__error_text, n);
    spk__error_status = status;
    spk__error_count++;
    return status;
}

/* Appends to this thread's message (after spk__fail), e.g. a location. */
static void spk__fail_append(const char *fmt, ...) SPK__PRINTF(1, 2);
static void spk__fail_append(const char *fmt, ...) {
    size_t used = strlen(spk__error_text);
    if (used + 1 >= sizeof spk__error_text) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(spk__error_text + used, sizeof spk__error_text - used, fmt, ap);
    va_end(ap);
    spk__mark_truncated(spk__error_text, sizeof spk__error_text, n < 0 ? n : (int)used + n);
}

/* Prefixes this thread's message, e.g. "line 3, column 2: " before a value error. */
static void spk__fail_prefix(const char *fmt, ...) SPK__PRINTF(1, 2);
static void spk__fail_prefix(const char *fmt, ...) {
    char prefix[256], rest[SPK_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(rest, spk__error_text, sizeof rest);
    int n = snprintf(spk__error_text, sizeof spk__error_text, "%s%s", prefix, rest);
    spk__mark_truncated(spk__error_text, sizeof spk__error_text, n);
}

/* Appends Spark's "== SQL ==" excerpt of `text` with a caret under byte
 * offset `pos` (only the line holding pos), and the line and column. Very
 * long lines are shown as a window around the position, marked with "...". */
static void spk__fail_caret(const char *text, size_t pos) {
    size_t len = strlen(text), line_start = 0, line_no = 1;
    if (pos > len) pos = len;
    for (size_t i = 0; i < pos; i++)
        if (text[i] == '\n') { line_start = i + 1; line_no++; }
    size_t line_end = line_start;
    while (line_end < len && text[line_end] != '\n') line_end++;
    size_t col = pos - line_start;
    size_t from = line_start, to = line_end;
    if (col > 300) from = pos - 200;
    if (to - pos > 300) to = pos + 200;
    const char *head = from > line_start ? "..." : "", *tail = to < line_end ? "..." : "";
    spk__fail_append(" (line %zu, pos %zu)\n\n== SQL ==\n%s%.*s%s\n", line_no, col, head,
                     (int)(to - from), text + from, tail);
    size_t dashes = strlen(head) + (pos - from);
    for (size_t i = 0; i < dashes; i += 64) {
        static const char run[] = "----------------------------------------------------------------";
        size_t n = dashes - i < 64 ? dashes - i : 64;
        spk__fail_append("%.*s", (int)n, run);
    }
    spk__fail_append("^");
}

/* ---------------------------------------------------------------- allocators */

static void *spk__default_alloc(void *user, size_t size) {
    (void)user;
    return SPK_MALLOC(size);
}
static void *spk__default_realloc(void *user, void *ptr, size_t old_size, size_t new_size) {
    (void)user;
    (void)old_size;
    return SPK_REALLOC(ptr, new_size);
}
static void spk__default_free(void *user, void *ptr, size_t size) {
    (void)user;
    (void)size;
    SPK_FREE(ptr);
}

static const spk_allocator spk__default_allocator = {spk__default_alloc, spk__default_realloc,
                                                     spk__default_free, NULL};

SPKDEF const spk_allocator *spk_default_allocator(void) { return &spk__default_allocator; }

static const spk_allocator *spk__allocator_or_default(const spk_allocator *a) {
    return a ? a : &spk__default_allocator;
}

/* Every allocation of the library goes through these three. A zero-size
 * request is made as one byte so that NULL always means failure. */
static void *spk__alloc(const spk_allocator *a, size_t size) {
    return a->alloc(a->user, size ? size : 1);
}
static void *spk__calloc(const spk_allocator *a, size_t size) {
    void *p = spk__alloc(a, size);
    if (p) memset(p, 0, size ? size : 1);
    return p;
}
static void *spk__realloc(const spk_allocator *a, void *ptr, size_t old_size, size_t new_size) {
    if (!ptr) return spk__alloc(a, new_size);
    return a->realloc(a->user, ptr, old_size ? old_size : 1, new_size ? new_size : 1);
}
static void spk__free(const spk_allocator *a, void *ptr, size_t size) {
    if (ptr) a->free(a->user, ptr, size ? size : 1);
}

static spk_status spk__nomem(const char *what, size_t bytes) {
    return spk__fail(SPK_ERR_NOMEM, "out of memory allocating %zu bytes for %s", bytes, what);
}

/* size_t multiplication that reports overflow instead of wrapping. */
static bool spk__mul_overflows(size_t a, size_t b, size_t *out) {
    if (b && a > SIZE_MAX / b) return true;
    *out = a * b;
    return false;
}

/* A NUL-terminated copy of `len` bytes; its allocation size is len + 1. */
static char *spk__strndup(const spk_allocator *a, const char *s, size_t len) {
    char *p = (char *)spk__alloc(a, len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

/* -- allocation-failure injection */

static bool spk__failalloc_refuse(spk_failalloc *f) {
    f->calls++;
    bool refuse = f->fail_at > 0 && (f->calls == f->fail_at || (f->fail_after && f->calls > f->fail_at));
    if (refuse) f->failures++;
    return refuse;
}
static void *spk__failalloc_alloc(void *user, size_t size) {
    spk_failalloc *f = (spk_failalloc *)user;
    if (spk__failalloc_refuse(f)) return NULL;
    void *p = f->base->alloc(f->base->user, size);
    if (p) {
        f->live_blocks++;
        f->live_bytes += size;
    }
    return p;
}
static void *spk__failalloc_realloc(void *user, void *ptr, size_t old_size, size_t new_size) {
    spk_failalloc *f = (spk_failalloc *)user;
    if (new_size > old_size && spk__failalloc_refuse(f)) return NULL;
    void *p = f->base->realloc(f->base->user, ptr, old_size, new_size);
    if (p) f->live_bytes = f->live_bytes - old_size + new_size;
    return p;
}
static void spk__failalloc_free(void *user, void *ptr, size_t size) {
    spk_failalloc *f = (spk_failalloc *)user;
    f->live_blocks--;
    f->live_bytes -= size;
    f->base->free(f->base->user, ptr, size);
}

SPKDEF void spk_failalloc_init(spk_failalloc *f, const spk_allocator *base, long fail_at) {
    memset(f, 0, sizeof *f);
    f->base = spk__allocator_or_default(base);
    f->fail_at = fail_at;
    f->iface.alloc = spk__failalloc_alloc;
    f->iface.realloc = spk__failalloc_realloc;
    f->iface.free = spk__failalloc_free;
    f->iface.user = f;
}

/* ---------------------------------------------------------------- hashing */

#define SPK__K1 0x9e3779b97f4a7c15ULL
#define SPK__K2 0xc2b2ae3d27d4eb4fULL
#define SPK__K3 0x165667b19e3779f9ULL

static uint64_t spk__rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

/* A bijective finaliser: every input bit affects every output bit. */
SPKDEF uint64_t spk_hash_u64(uint64_t x) {
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 29;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 32;
    return x;
}

SPKDEF uint64_t spk_hash_bytes(const void *data, size_t len, uint64_t seed) {
    const unsigned char *p = (const unsigned char *)data;
    uint64_t a = seed ^ SPK__K1, b = (uint64_t)len * SPK__K2;
    while (len >= 16) {
        uint64_t w0, w1;
        memcpy(&w0, p, 8);
        memcpy(&w1, p + 8, 8);
        a = spk__rotl64(a ^ (w0 * SPK__K2), 31) * SPK__K1;
        b = spk__rotl64(b ^ (w1 * SPK__K3), 29) * SPK__K2;
        p += 16;
        len -= 16;
    }
    if (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        a = spk__rotl64(a ^ (w * SPK__K2), 31) * SPK__K1;
        p += 8;
        len -= 8;
    }
    uint64_t tail = 0;
    memcpy(&tail, p, len); /* len < 8 */
    b = spk__rotl64(b ^ (tail * SPK__K3), 27) * SPK__K2;
    return spk_hash_u64(a ^ spk__rotl64(b, 32));
}

/* ---------------------------------------------------------------- text helpers */

static int spk__lower(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }
static bool spk__is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
static bool spk__is_digit(int c) { return c >= '0' && c <= '9'; }
static bool spk__is_ident_start(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80; }
static bool spk__is_ident_char(int c) { return spk__is_ident_start(c) || spk__is_digit(c); }

/* ASCII case-insensitive equality of two NUL-terminated names (Spark folds
 * only ASCII for identifier matching in practice). */
static bool spk__name_eq(const char *a, const char *b, bool case_sensitive) {
    if (case_sensitive) return strcmp(a, b) == 0;
    for (; *a && *b; a++, b++)
        if (spk__lower((unsigned char)*a) != spk__lower((unsigned char)*b)) return false;
    return *a == *b;
}

/* Same, for a word of `len` bytes against a NUL-terminated keyword. */
static bool spk__word_is(const char *word, size_t len, const char *keyword) {
    size_t i = 0;
    for (; i < len && keyword[i]; i++)
        if (spk__lower((unsigned char)word[i]) != spk__lower((unsigned char)keyword[i])) return false;
    return i == len && keyword[i] == '\0';
}

/* Case-insensitive Levenshtein distance, capped: names longer than 63 bytes
 * compare as far apart, which only affects did-you-mean suggestions. */
static int spk__edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 1000;
    int row[64];
    for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int cost = spk__lower((unsigned char)a[i - 1]) != spk__lower((unsigned char)b[j - 1]);
            int best = diag + cost;
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Appends Spark's suggestion list to this thread's message: the (at most 5)
 * candidates closest to `name`, best first, as "[`value`, `name`]". */
static void spk__fail_suggest(const char *name, const char *const *candidates, int n) {
    int order[5], dist[5], kept = 0;
    for (int i = 0; i < n; i++) {
        int d = spk__edit_distance(name, candidates[i]);
        if (kept == 5 && d >= dist[4]) continue;
        int at = kept < 5 ? kept++ : 4;
        while (at > 0 && dist[at - 1] > d) {
            order[at] = order[at - 1];
            dist[at] = dist[at - 1];
            at--;
        }
        order[at] = i;
        dist[at] = d;
    }
    if (kept == 0) return;
    spk__fail_append(" Did you mean one of the following? [");
    for (int k = 0; k < kept; k++)
        spk__fail_append("%s`%s`", k ? ", " : "", candidates[order[k]]);
    spk__fail_append("]");
}

/* ---- src/types.c ---- */
/* types: type names, values, calendar arithmetic, parsing, formatting,
 * casts, ordering and hashing. */

/* ---------------------------------------------------------------- types */

SPKDEF spk_type spk_type_of(spk_type_id id) {
    spk_type t = {(uint8_t)id, 0, 0};
    if (id == SPK_TYPE_DECIMAL) t.precision = 10; /* Spark's default DECIMAL(10,0) */
    return t;
}

SPKDEF spk_type spk_type_decimal(int precision, int scale) {
    spk_type t = {SPK_TYPE_DECIMAL, 0, 0};
    /* Out-of-range arguments give a type that spk_type_valid rejects. */
    t.precision = (uint8_t)(precision < 0 || precision > 255 ? 255 : precision);
    t.scale = (uint8_t)(scale < 0 || scale > 255 ? 255 : scale);
    return t;
}

SPKDEF bool spk_type_valid(spk_type t) {
    if (t.id >= SPK_TYPE_COUNT) return false;
    if (t.id == SPK_TYPE_DECIMAL)
        return t.precision >= 1 && t.precision <= SPK_DECIMAL_MAX_PRECISION && t.scale <= t.precision;
    return t.precision == 0 && t.scale == 0;
}

SPKDEF bool spk_type_equal(spk_type a, spk_type b) {
    return a.id == b.id && a.precision == b.precision && a.scale == b.scale;
}

static const char *const spk__type_names[SPK_TYPE_COUNT][3] = {
    /*               TREE         SIMPLE       SQL */
    [SPK_TYPE_NULL] = {"void", "void", "VOID"},
    [SPK_TYPE_BOOLEAN] = {"boolean", "boolean", "BOOLEAN"},
    [SPK_TYPE_INT32] = {"integer", "int", "INT"},
    [SPK_TYPE_INT64] = {"long", "bigint", "BIGINT"},
    [SPK_TYPE_DOUBLE] = {"double", "double", "DOUBLE"},
    [SPK_TYPE_DECIMAL] = {"decimal", "decimal", "DECIMAL"},
    [SPK_TYPE_STRING] = {"string", "string", "STRING"},
    [SPK_TYPE_DATE] = {"date", "date", "DATE"},
    [SPK_TYPE_TIMESTAMP] = {"timestamp", "timestamp", "TIMESTAMP"},
};

SPKDEF size_t spk_type_format(spk_type t, spk_type_style style, char *buf, size_t cap) {
    int n;
    if (t.id >= SPK_TYPE_COUNT || (unsigned)style > SPK_TYPE_SQL)
        n = snprintf(buf, cap, "?");
    else if (t.id == SPK_TYPE_DECIMAL)
        n = snprintf(buf, cap, "%s(%d,%d)", spk__type_names[t.id][style], t.precision, t.scale);
    else
        n = snprintf(buf, cap, "%s", spk__type_names[t.id][style]);
    return n < 0 ? 0 : (size_t)n;
}

/* "DECIMAL(10,2)", for messages. */
typedef struct spk__type_text { char s[24]; } spk__type_text;
static spk__type_text spk__type_sql(spk_type t) {
    spk__type_text r;
    spk_type_format(t, SPK_TYPE_SQL, r.s, sizeof r.s);
    return r;
}

static void spk__skip_space(const char *s, size_t len, size_t *pos) {
    while (*pos < len && spk__is_space((unsigned char)s[*pos])) (*pos)++;
}

/* Reads an unsigned integer of at most 9 digits at *pos. */
static bool spk__read_small_uint(const char *s, size_t len, size_t *pos, int *out) {
    size_t start = *pos;
    long v = 0;
    while (*pos < len && spk__is_digit((unsigned char)s[*pos]) && *pos - start < 9)
        v = v * 10 + (s[(*pos)++] - '0');
    if (*pos == start) return false;
    *out = (int)v;
    return true;
}

/* Parses a type name at *pos of s[0..len). On failure records a message and
 * leaves *pos at the offending byte, so callers can point a caret at it. */
static spk_status spk__type_parse_at(const char *s, size_t len, size_t *pos, spk_type *out) {
    spk__skip_space(s, len, pos);
    size_t start = *pos;
    while (*pos < len && spk__is_ident_char((unsigned char)s[*pos])) (*pos)++;
    const char *w = s + start;
    size_t wl = *pos - start;
    if (wl == 0) {
        return spk__fail(SPK_ERR_PARSE, "expected a data type");
    }
    static const struct { const char *name; spk_type_id id; } plain[] = {
        {"boolean", SPK_TYPE_BOOLEAN}, {"bool", SPK_TYPE_BOOLEAN},   {"int", SPK_TYPE_INT32},
        {"integer", SPK_TYPE_INT32},   {"bigint", SPK_TYPE_INT64},   {"long", SPK_TYPE_INT64},
        {"double", SPK_TYPE_DOUBLE},   {"string", SPK_TYPE_STRING},  {"date", SPK_TYPE_DATE},
        {"timestamp", SPK_TYPE_TIMESTAMP}, {"void", SPK_TYPE_NULL},
    };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        if (spk__word_is(w, wl, plain[i].name)) {
            *out = spk_type_of(plain[i].id);
            return SPK_OK;
        }
    }
    bool is_decimal = spk__word_is(w, wl, "decimal") || spk__word_is(w, wl, "dec") ||
                      spk__word_is(w, wl, "numeric");
    bool is_char = spk__word_is(w, wl, "varchar") || spk__word_is(w, wl, "char");
    if (is_decimal || is_char) {
        int p = 10, sc = 0;
        size_t after = *pos;
        spk__skip_space(s, len, &after);
        if (after < len && s[after] == '(') {
            *pos = after + 1;
            spk__skip_space(s, len, pos);
            if (!spk__read_small_uint(s, len, pos, &p))
                return spk__fail(SPK_ERR_PARSE, "expected a number in %.*s(...)", (int)wl, w);
            spk__skip_space(s, len, pos);
            if (is_decimal && *pos < len && s[*pos] == ',') {
                (*pos)++;
                spk__skip_space(s, len, pos);
                if (!spk__read_small_uint(s, len, pos, &sc))
                    return spk__fail(SPK_ERR_PARSE, "expected a scale in %.*s(p, s)", (int)wl, w);
                spk__skip_space(s, len, pos);
            }
            if (*pos >= len || s[*pos] != ')')
                return spk__fail(SPK_ERR_PARSE, "expected ')' to close %.*s(", (int)wl, w);
            (*pos)++;
        } else if (is_char) {
            return spk__fail(SPK_ERR_PARSE, "%.*s needs a length, as in %.*s(10)", (int)wl, w,
                             (int)wl, w);
        }
        if (is_char) {
            *out = spk_type_of(SPK_TYPE_STRING); /* Spark reads VARCHAR(n)/CHAR(n) as STRING */
            return SPK_OK;
        }
        if (p < 1 || p > SPK_DECIMAL_MAX_PRECISION || sc > p) {
            *pos = start;
            return spk__fail(SPK_ERR_PARSE,
                             "DECIMAL(%d,%d) is not supported: precision must be 1..%d and scale 0..precision",
                             p, sc, SPK_DECIMAL_MAX_PRECISION);
        }
        *out = spk_type_decimal(p, sc);
        return SPK_OK;
    }
    static const char *const unsupported[] = {"tinyint", "byte", "smallint", "short", "float",
                                              "real", "binary", "array", "map", "struct",
                                              "interval", "timestamp_ntz"};
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
        if (spk__word_is(w, wl, unsupported[i])) {
            *pos = start;
            return spk__fail(SPK_ERR_UNSUPPORTED,
                             "data type %.*s is not supported yet (use BOOLEAN, INT, BIGINT, DOUBLE, "
                             "DECIMAL(p,s), STRING, DATE or TIMESTAMP)",
                             (int)wl, w);
        }
    }
    *pos = start;
    return spk__fail(SPK_ERR_PARSE, "[UNSUPPORTED_DATATYPE] unknown data type \"%.*s\"", (int)wl, w);
}

SPKDEF spk_status spk_type_parse(const char *text, spk_type *out) {
    if (!text || !out) return spk__fail(SPK_ERR_ARG, "spk_type_parse: NULL argument");
    size_t len = strlen(text), pos = 0;
    spk_status st = spk__type_parse_at(text, len, &pos, out);
    if (st == SPK_OK) {
        spk__skip_space(text, len, &pos);
        if (pos == len) return SPK_OK;
        st = spk__fail(SPK_ERR_PARSE, "unexpected text after the data type");
    }
    spk__fail_caret(text, pos);
    return st;
}

/* ---------------------------------------------------------------- values */

SPKDEF spk_value spk_value_null_of(spk_type t) {
    spk_value v;
    memset(&v, 0, sizeof v);
    v.type = t;
    v.is_null = true;
    return v;
}
SPKDEF spk_value spk_value_null(void) { return spk_value_null_of(spk_type_of(SPK_TYPE_NULL)); }

static spk_value spk__value_of(spk_type_id id) {
    spk_value v;
    memset(&v, 0, sizeof v);
    v.type = spk_type_of(id);
    return v;
}
SPKDEF spk_value spk_value_bool(bool x) { spk_value v = spk__value_of(SPK_TYPE_BOOLEAN); v.as.b = x; return v; }
SPKDEF spk_value spk_value_i32(int32_t x) { spk_value v = spk__value_of(SPK_TYPE_INT32); v.as.i32 = x; return v; }
SPKDEF spk_value spk_value_i64(int64_t x) { spk_value v = spk__value_of(SPK_TYPE_INT64); v.as.i64 = x; return v; }
SPKDEF spk_value spk_value_f64(double x) { spk_value v = spk__value_of(SPK_TYPE_DOUBLE); v.as.f64 = x; return v; }
SPKDEF spk_value spk_value_date(int32_t d) { spk_value v = spk__value_of(SPK_TYPE_DATE); v.as.i32 = d; return v; }
SPKDEF spk_value spk_value_timestamp(int64_t us) { spk_value v = spk__value_of(SPK_TYPE_TIMESTAMP); v.as.i64 = us; return v; }
SPKDEF spk_value spk_value_decimal(int64_t unscaled, int precision, int scale) {
    spk_value v = spk__value_of(SPK_TYPE_DECIMAL);
    v.type = spk_type_decimal(precision, scale);
    v.as.i64 = unscaled;
    return v;
}
SPKDEF spk_value spk_value_strn(const char *s, size_t len) {
    spk_value v = spk__value_of(SPK_TYPE_STRING);
    if (!s) return spk_value_null_of(v.type);
    v.as.str.ptr = s;
    v.as.str.len = len;
    return v;
}
SPKDEF spk_value spk_value_str(const char *s) { return spk_value_strn(s, s ? strlen(s) : 0); }

static bool spk__value_is_null(const spk_value *v) { return v->is_null || v->type.id == SPK_TYPE_NULL; }

/* ---------------------------------------------------------------- calendar
 * Days since 1970-01-01 from a proleptic Gregorian date and back, by counting
 * whole 400-year eras (146097 days each) from 0000-03-01, so that the leap
 * day falls at the end of each counted year. */

#define SPK__MICROS_PER_SECOND 1000000LL
#define SPK__MICROS_PER_DAY 86400000000LL

static int64_t spk__floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
static int64_t spk__floor_mod(int64_t a, int64_t b) {
    int64_t r = a % b;
    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}

static int64_t spk__days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = spk__floor_div(y, 400);
    int64_t year_of_era = y - era * 400;                              /* 0..399 */
    int64_t day_of_year = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* from March 1 */
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

static void spk__civil_from_days(int64_t days, int64_t *y, int *m, int *d) {
    days += 719468;
    int64_t era = spk__floor_div(days, 146097);
    int64_t day_of_era = days - era * 146097;
    int64_t year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int64_t mp = (5 * day_of_year + 2) / 153;
    *d = (int)(day_of_year - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = year_of_era + era * 400 + (*m <= 2);
}

static bool spk__is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
static int spk__days_in_month(int64_t y, int m) {
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && spk__is_leap(y) ? 29 : days[m - 1];
}

/* Dates must fit in int32 days; Spark's own range (years -290308..294247) is narrower. */
#define SPK__MAX_YEAR 294247
#define SPK__MIN_YEAR -290308

SPKDEF bool spk_date_from_ymd(int year, int month, int day, int32_t *days) {
    if (year < SPK__MIN_YEAR || year > SPK__MAX_YEAR || month < 1 || month > 12 || day < 1 ||
        day > spk__days_in_month(year, month))
        return false;
    *days = (int32_t)spk__days_from_civil(year, month, day);
    return true;
}

SPKDEF void spk_date_to_ymd(int32_t days, int *year, int *month, int *day) {
    int64_t y;
    spk__civil_from_days(days, &y, month, day);
    *year = (int)y;
}

SPKDEF bool spk_timestamp_from_parts(int year, int month, int day, int hour, int minute,
                                     int second, int micros, int64_t *out) {
    int32_t days;
    if (!spk_date_from_ymd(year, month, day, &days) || hour < 0 || hour > 23 || minute < 0 ||
        minute > 59 || second < 0 || second > 59 || micros < 0 || micros > 999999)
        return false;
    *out = (int64_t)days * SPK__MICROS_PER_DAY +
           ((int64_t)hour * 3600 + minute * 60 + second) * SPK__MICROS_PER_SECOND + micros;
    return true;
}

/* ---------------------------------------------------------------- parsing
 * The spk__parse_* helpers read a whole trimmed span and return one of these;
 * `lenient` selects the forms Spark's CAST accepts on top of the strict ones. */
typedef enum { SPK__PARSED, SPK__MALFORMED, SPK__OVERFLOW } spk__parse_result;

static void spk__trim(const char **s, size_t *len) {
    while (*len && ((unsigned char)**s <= ' ')) (*s)++, (*len)--;
    while (*len && ((unsigned char)(*s)[*len - 1] <= ' ')) (*len)--;
}

/* [+-]digits; lenient also accepts a fraction, which is dropped (Spark's
 * cast of "1.9" to INT is 1). */
static spk__parse_result spk__parse_int64(const char *s, size_t len, bool lenient, int64_t *out) {
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    if (i == len) return SPK__MALFORMED;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    bool overflow = false, digits = false;
    for (; i < len && spk__is_digit((unsigned char)s[i]); i++) {
        unsigned dgt = (unsigned)(s[i] - '0');
        if (v > (limit - dgt) / 10) overflow = true;
        else v = v * 10 + dgt;
        digits = true;
    }
    if (lenient && i < len && s[i] == '.') {
        i++;
        bool frac = false;
        while (i < len && spk__is_digit((unsigned char)s[i])) i++, frac = true;
        if (!digits && !frac) return SPK__MALFORMED;
        digits = true;
    }
    if (!digits || i != len) return SPK__MALFORMED;
    if (overflow) return SPK__OVERFLOW;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return SPK__PARSED;
}

static const int64_t spk__pow10[19] = {1LL, 10LL, 100LL, 1000LL, 10000LL, 100000LL, 1000000LL,
    10000000LL, 100000000LL, 1000000000LL, 10000000000LL, 100000000000LL, 1000000000000LL,
    10000000000000LL, 100000000000000LL, 1000000000000000LL, 10000000000000000LL,
    100000000000000000LL, 1000000000000000000LL};

/* [+-]digits[.digits][e[+-]digits] rounded half-up to `scale` digits, then
 * checked against `precision`. Exact: no floating point involved. */
static spk__parse_result spk__parse_decimal(const char *s, size_t len, int precision, int scale,
                                            int64_t *out) {
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    size_t mant_start = i, int_digits = 0, frac_digits = 0;
    while (i < len && spk__is_digit((unsigned char)s[i])) i++, int_digits++;
    size_t dot = i;
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && spk__is_digit((unsigned char)s[i])) i++, frac_digits++;
    }
    if (int_digits + frac_digits == 0) return SPK__MALFORMED;
    size_t mant_end = i;
    long exp10 = 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < len && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
        size_t es = i;
        while (i < len && spk__is_digit((unsigned char)s[i])) {
            if (exp10 < 100000) exp10 = exp10 * 10 + (s[i] - '0');
            i++;
        }
        if (i == es) return SPK__MALFORMED;
        if (eneg) exp10 = -exp10;
    }
    if (i != len) return SPK__MALFORMED;
    /* Digit k (0-based over all mantissa digits) has weight 10^(int_digits-1-k+exp10);
     * the unscaled result keeps weights >= 10^-scale. */
    uint64_t v = 0;
    bool overflow = false;
    int round_digit = 0;
    long k = 0;
    for (size_t j = mant_start; j < mant_end; j++) {
        if (j == dot) continue;
        long weight = (long)int_digits - 1 - k + exp10;
        int dgt = s[j] - '0';
        k++;
        if (weight >= -scale) {
            if (v > (UINT64_MAX - 9) / 10) overflow = true;
            else v = v * 10 + (uint64_t)dgt;
        } else if (weight == -scale - 1) {
            round_digit = dgt;
            break;
        } else {
            break;
        }
    }
    /* Digits of weight above the last mantissa digit are implied zeros. */
    long last_weight = (long)int_digits - (long)(int_digits + frac_digits) + exp10;
    for (long w = last_weight; w > -scale && !overflow && v != 0; w--) {
        if (v > UINT64_MAX / 10) overflow = true;
        else v *= 10;
    }
    if (round_digit >= 5) v++;
    if (overflow || v >= (uint64_t)spk__pow10[precision]) return SPK__OVERFLOW;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return SPK__PARSED;
}

/* Java/Spark double syntax: [+-]digits[.digits][e[+-]digits][dDfF], NaN,
 * [+-]Infinity and [+-]inf (case-insensitive). strtod does the correctly
 * rounded conversion, on a canonical copy "0.<digits>e<exp>" in the C
 * locale's decimal point. Correct rounding never needs more than 767
 * significant digits, so longer mantissas keep 800 digits plus a sticky 1
 * standing for whatever nonzero digits were dropped. */
#define SPK__DOUBLE_DIGITS 800
static spk__parse_result spk__parse_double(const char *s, size_t len, double *out) {
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    const char *w = s + i;
    size_t wl = len - i;
    if (spk__word_is(w, wl, "nan")) {
        *out = NAN;
        return SPK__PARSED;
    }
    if (spk__word_is(w, wl, "infinity") || spk__word_is(w, wl, "inf")) {
        *out = neg ? -INFINITY : INFINITY;
        return SPK__PARSED;
    }
    char buf[SPK__DOUBLE_DIGITS + 48];
    size_t nd = 0, int_digits = 0, leading_zeros = 0;
    bool any_digit = false, in_fraction = false, seen_nonzero = false, dropped = false;
    for (; i < len; i++) {
        char ch = s[i];
        if (ch == '.' && !in_fraction) {
            in_fraction = true;
            continue;
        }
        if (!spk__is_digit((unsigned char)ch)) break;
        any_digit = true;
        if (!in_fraction) int_digits++;
        if (!seen_nonzero && ch == '0') {
            leading_zeros++;
            continue;
        }
        seen_nonzero = true;
        if (nd < SPK__DOUBLE_DIGITS) buf[3 + nd++] = ch; /* after "-0." */
        else if (ch != '0') dropped = true;
    }
    if (!any_digit) return SPK__MALFORMED;
    long exp10 = 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < len && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
        size_t es = i;
        for (; i < len && spk__is_digit((unsigned char)s[i]); i++)
            if (exp10 < 1000000) exp10 = exp10 * 10 + (s[i] - '0');
        if (i == es) return SPK__MALFORMED;
        if (eneg) exp10 = -exp10;
    }
    if (i < len && (s[i] == 'd' || s[i] == 'D' || s[i] == 'f' || s[i] == 'F')) i++;
    if (i != len) return SPK__MALFORMED;
    if (nd == 0) {
        *out = neg ? -0.0 : 0.0;
        return SPK__PARSED;
    }
    if (dropped) buf[3 + nd++] = '1';
    /* value = 0.<digits> x 10^(int_digits - leading_zeros + exp10) */
    char probe[8];
    snprintf(probe, sizeof probe, "%.1f", 0.5);
    buf[0] = neg ? '-' : '+';
    buf[1] = '0';
    buf[2] = probe[1]; /* the locale's decimal point */
    snprintf(buf + 3 + nd, sizeof buf - 3 - nd, "e%ld", (long)int_digits - (long)leading_zeros + exp10);
    *out = strtod(buf, NULL);
    return SPK__PARSED;
}

static spk__parse_result spk__parse_bool(const char *s, size_t len, bool lenient, bool *out) {
    if (spk__word_is(s, len, "true") || (lenient && (spk__word_is(s, len, "t") || spk__word_is(s, len, "y") ||
                                                     spk__word_is(s, len, "yes") || spk__word_is(s, len, "1")))) {
        *out = true;
        return SPK__PARSED;
    }
    if (spk__word_is(s, len, "false") || (lenient && (spk__word_is(s, len, "f") || spk__word_is(s, len, "n") ||
                                                      spk__word_is(s, len, "no") || spk__word_is(s, len, "0")))) {
        *out = false;
        return SPK__PARSED;
    }
    return SPK__MALFORMED;
}

/* Reads 1..max digits at *i as an int. */
static bool spk__read_digits(const char *s, size_t len, size_t *i, int min, int max, int *out) {
    int n = 0, v = 0;
    while (*i < len && n < max && spk__is_digit((unsigned char)s[*i])) v = v * 10 + (s[(*i)++] - '0'), n++;
    if (n < min) return false;
    *out = v;
    return true;
}

/* yyyy-[m]m-[d]d (years of 4 to 6 digits, optionally signed). Lenient also
 * accepts yyyy and yyyy-[m]m, and ignores anything after a ' ' or 'T' that
 * follows the day, as Spark's cast does. On success *i is past the day. */
static spk__parse_result spk__parse_date_prefix(const char *s, size_t len, bool lenient, size_t *i,
                                                int32_t *out) {
    bool neg = false;
    if (*i < len && (s[*i] == '-' || s[*i] == '+')) neg = s[(*i)++] == '-';
    int year, month = 1, day = 1;
    if (!spk__read_digits(s, len, i, 4, 6, &year)) return SPK__MALFORMED;
    if (neg) year = -year;
    if (*i < len && s[*i] == '-') {
        (*i)++;
        if (!spk__read_digits(s, len, i, 1, 2, &month)) return SPK__MALFORMED;
        if (*i < len && s[*i] == '-') {
            (*i)++;
            if (!spk__read_digits(s, len, i, 1, 2, &day)) return SPK__MALFORMED;
        } else if (!lenient) {
            return SPK__MALFORMED;
        }
    } else if (!lenient) {
        return SPK__MALFORMED;
    }
    if (!spk_date_from_ymd(year, month, day, out)) return SPK__MALFORMED;
    return SPK__PARSED;
}

static spk__parse_result spk__parse_date(const char *s, size_t len, bool lenient, int32_t *out) {
    size_t i = 0;
    spk__parse_result r = spk__parse_date_prefix(s, len, lenient, &i, out);
    if (r != SPK__PARSED) return r;
    if (i == len) return SPK__PARSED;
    if (lenient && (s[i] == ' ' || s[i] == 'T')) return SPK__PARSED;
    return SPK__MALFORMED;
}

/* date[( |T)hh:mm[:ss[.fraction]]][zone], zone = Z | UTC | [+-]hh[:mm] | [+-]hhmm.
 * Fractions beyond microseconds are truncated, as Spark does. */
static spk__parse_result spk__parse_timestamp(const char *s, size_t len, int64_t *out) {
    size_t i = 0;
    int32_t days;
    if (spk__parse_date_prefix(s, len, false, &i, &days) != SPK__PARSED) return SPK__MALFORMED;
    int hour = 0, minute = 0, second = 0, micros = 0;
    if (i < len && (s[i] == ' ' || s[i] == 'T')) {
        i++;
        if (!spk__read_digits(s, len, &i, 1, 2, &hour) || i >= len || s[i] != ':') return SPK__MALFORMED;
        i++;
        if (!spk__read_digits(s, len, &i, 2, 2, &minute)) return SPK__MALFORMED;
        if (i < len && s[i] == ':') {
            i++;
            if (!spk__read_digits(s, len, &i, 2, 2, &second)) return SPK__MALFORMED;
            if (i < len && s[i] == '.') {
                i++;
                int n = 0;
                while (i < len && spk__is_digit((unsigned char)s[i])) {
                    if (n < 6) micros = micros * 10 + (s[i] - '0');
                    n++, i++;
                }
                if (n == 0) return SPK__MALFORMED;
                for (; n < 6; n++) micros *= 10;
            }
        }
        if (hour > 23 || minute > 59 || second > 59) return SPK__MALFORMED;
    }
    int64_t offset_seconds = 0;
    if (i < len) {
        if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len) {
            i++;
        } else if (len - i == 3 && spk__word_is(s + i, 3, "utc")) {
            i = len;
        } else if (s[i] == '+' || s[i] == '-') {
            bool neg = s[i++] == '-';
            int oh, om = 0;
            if (!spk__read_digits(s, len, &i, 2, 2, &oh)) return SPK__MALFORMED;
            if (i < len && s[i] == ':') i++;
            if (i < len && !spk__read_digits(s, len, &i, 2, 2, &om)) return SPK__MALFORMED;
            if (oh > 18 || om > 59) return SPK__MALFORMED;
            offset_seconds = (oh * 3600 + om * 60) * (neg ? -1 : 1);
        }
        if (i != len) return SPK__MALFORMED;
    }
    *out = (int64_t)days * SPK__MICROS_PER_DAY +
           ((int64_t)hour * 3600 + minute * 60 + second - offset_seconds) * SPK__MICROS_PER_SECOND + micros;
    return SPK__PARSED;
}

/* Parses text as type t; lenient selects CAST's forms. A STRING result views `text`. */
static spk__parse_result spk__parse_value(spk_type t, const char *text, size_t len, bool lenient,
                                          spk_value *out) {
    if (t.id == SPK_TYPE_STRING) {
        *out = spk_value_strn(text, len);
        return SPK__PARSED;
    }
    const char *s = text;
    spk__trim(&s, &len);
    *out = spk_value_null_of(t);
    out->is_null = false;
    spk__parse_result r = SPK__MALFORMED;
    int64_t i64;
    switch ((spk_type_id)t.id) {
    case SPK_TYPE_BOOLEAN: r = spk__parse_bool(s, len, lenient, &out->as.b); break;
    case SPK_TYPE_INT32:
        r = spk__parse_int64(s, len, lenient, &i64);
        if (r == SPK__PARSED && (i64 < INT32_MIN || i64 > INT32_MAX)) r = SPK__OVERFLOW;
        out->as.i32 = (int32_t)(r == SPK__PARSED ? i64 : 0);
        break;
    case SPK_TYPE_INT64: r = spk__parse_int64(s, len, lenient, &out->as.i64); break;
    case SPK_TYPE_DOUBLE: r = spk__parse_double(s, len, &out->as.f64); break;
    case SPK_TYPE_DECIMAL: r = spk__parse_decimal(s, len, t.precision, t.scale, &out->as.i64); break;
    case SPK_TYPE_DATE: r = spk__parse_date(s, len, lenient, &out->as.i32); break;
    case SPK_TYPE_TIMESTAMP:
        r = spk__parse_timestamp(s, len, &out->as.i64);
        if (r == SPK__MALFORMED && lenient) { /* a bare date (or CAST's date forms) is midnight */
            int32_t d;
            if (spk__parse_date(s, len, true, &d) == SPK__PARSED) {
                out->as.i64 = (int64_t)d * SPK__MICROS_PER_DAY;
                r = SPK__PARSED;
            }
        }
        break;
    case SPK_TYPE_NULL:
    case SPK_TYPE_STRING:
    case SPK_TYPE_COUNT: break;
    }
    return r;
}

SPKDEF spk_status spk_value_parse(spk_type t, const char *text, size_t len, spk_value *out) {
    if (!out || (!text && len)) return spk__fail(SPK_ERR_ARG, "spk_value_parse: NULL argument");
    if (!spk_type_valid(t) || t.id == SPK_TYPE_NULL)
        return spk__fail(SPK_ERR_ARG, "spk_value_parse: cannot parse into type %s", spk__type_sql(t).s);
    if (!text) text = "";
    spk__parse_result r = spk__parse_value(t, text, len, false, out);
    if (r == SPK__PARSED) return SPK_OK;
    int shown = len > 64 ? 64 : (int)len;
    const char *more = len > 64 ? "..." : "";
    if (r == SPK__OVERFLOW)
        return spk__fail(SPK_ERR_RANGE, "value '%.*s%s' is out of range for %s", shown, text, more,
                         spk__type_sql(t).s);
    return spk__fail(SPK_ERR_PARSE, "cannot parse '%.*s%s' as %s", shown, text, more, spk__type_sql(t).s);
}

/* ---------------------------------------------------------------- formatting */

static size_t spk__copy_out(const char *src, size_t n, char *buf, size_t cap) {
    if (cap) {
        size_t k = n < cap - 1 ? n : cap - 1;
        memcpy(buf, src, k);
        buf[k] = '\0';
    }
    return n;
}

/* Java's Double.toString: the shortest digits that read back as the same
 * double; plain notation for 1e-3 <= |d| < 1e7, else d.dddE[-]n. */
static size_t spk__format_double(double d, char *out /* >= 32 bytes */) {
    if (isnan(d)) return (size_t)sprintf(out, "NaN");
    if (isinf(d)) return (size_t)sprintf(out, d < 0 ? "-Infinity" : "Infinity");
    if (d == 0) return (size_t)sprintf(out, signbit(d) ? "-0.0" : "0.0");
    char sci[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(sci, sizeof sci, "%.*e", prec - 1, d);
        if (strtod(sci, NULL) == d) break;
    }
    /* Java prints at least two significant digits in scientific notation and
     * picks the closest such pair (4.9E-324, not 5.0E-324). */
    double mag = fabs(d);
    bool scientific = mag < 1e-3 || mag >= 1e7;
    if (scientific && !strchr(sci, '.') && !strchr(sci, ','))
        snprintf(sci, sizeof sci, "%.1e", d);
    /* sci is "[-]d[<point>ddd]e[+-]xx": collect the digits and the exponent. */
    char digits[24];
    int nd = 0, exp10 = 0;
    const char *p = sci;
    bool neg = *p == '-';
    if (neg) p++;
    for (; *p && *p != 'e'; p++)
        if (spk__is_digit((unsigned char)*p) && nd < 20) digits[nd++] = *p;
    if (*p == 'e') exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    char *o = out;
    if (neg) *o++ = '-';
    if (!scientific) {
        if (exp10 >= 0) {
            for (int k = 0; k <= exp10; k++) *o++ = k < nd ? digits[k] : '0';
            *o++ = '.';
            if (nd > exp10 + 1)
                for (int k = exp10 + 1; k < nd; k++) *o++ = digits[k];
            else
                *o++ = '0';
        } else {
            *o++ = '0';
            *o++ = '.';
            for (int k = 0; k < -exp10 - 1; k++) *o++ = '0';
            for (int k = 0; k < nd; k++) *o++ = digits[k];
        }
    } else {
        *o++ = digits[0];
        *o++ = '.';
        if (nd > 1)
            for (int k = 1; k < nd; k++) *o++ = digits[k];
        else
            *o++ = '0';
        o += sprintf(o, "E%d", exp10);
    }
    *o = '\0';
    return (size_t)(o - out);
}

static size_t spk__format_decimal(int64_t unscaled, int scale, char *out /* >= 24 */) {
    uint64_t mag = unscaled < 0 ? 0 - (uint64_t)unscaled : (uint64_t)unscaled;
    char digits[24];
    int nd = 0;
    do {
        digits[nd++] = (char)('0' + mag % 10);
        mag /= 10;
    } while (mag);
    while (nd <= scale) digits[nd++] = '0'; /* at least one integer digit */
    char *o = out;
    if (unscaled < 0) *o++ = '-';
    for (int k = nd - 1; k >= 0; k--) {
        *o++ = digits[k];
        if (k == scale && scale > 0) *o++ = '.';
    }
    *o = '\0';
    return (size_t)(o - out);
}

static size_t spk__format_date(int32_t days, char *out) {
    int64_t y;
    int m, d;
    spk__civil_from_days(days, &y, &m, &d);
    if (y > 9999) return (size_t)sprintf(out, "+%lld-%02d-%02d", (long long)y, m, d);
    if (y < 0) return (size_t)sprintf(out, "-%04lld-%02d-%02d", (long long)-y, m, d);
    return (size_t)sprintf(out, "%04lld-%02d-%02d", (long long)y, m, d);
}

static size_t spk__format_timestamp(int64_t micros, char *out) {
    int64_t days = spk__floor_div(micros, SPK__MICROS_PER_DAY);
    int64_t rest = spk__floor_mod(micros, SPK__MICROS_PER_DAY);
    size_t n = spk__format_date((int32_t)days, out);
    int64_t secs = rest / SPK__MICROS_PER_SECOND, frac = rest % SPK__MICROS_PER_SECOND;
    n += (size_t)sprintf(out + n, " %02d:%02d:%02d", (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
    if (frac) {
        int width = 6;
        while (frac % 10 == 0) frac /= 10, width--;
        n += (size_t)sprintf(out + n, ".%0*lld", width, (long long)frac);
    }
    return n;
}

SPKDEF size_t spk_value_format(const spk_value *v, char *buf, size_t cap) {
    char tmp[SPK_VALUE_TEXT_MAX];
    size_t n = 0;
    if (!v || spk__value_is_null(v)) return spk__copy_out("NULL", 4, buf, cap);
    switch ((spk_type_id)v->type.id) {
    case SPK_TYPE_BOOLEAN: return spk__copy_out(v->as.b ? "true" : "false", v->as.b ? 4 : 5, buf, cap);
    case SPK_TYPE_INT32: n = (size_t)sprintf(tmp, "%ld", (long)v->as.i32); break;
    case SPK_TYPE_INT64: n = (size_t)sprintf(tmp, "%lld", (long long)v->as.i64); break;
    case SPK_TYPE_DOUBLE: n = spk__format_double(v->as.f64, tmp); break;
    case SPK_TYPE_DECIMAL:
        n = spk__format_decimal(v->as.i64, v->type.scale <= 18 ? v->type.scale : 18, tmp);
        break;
    case SPK_TYPE_STRING: return spk__copy_out(v->as.str.ptr, v->as.str.len, buf, cap);
    case SPK_TYPE_DATE: n = spk__format_date(v->as.i32, tmp); break;
    case SPK_TYPE_TIMESTAMP: n = spk__format_timestamp(v->as.i64, tmp); break;
    case SPK_TYPE_NULL:
    case SPK_TYPE_COUNT: return spk__copy_out("?", 1, buf, cap);
    }
    return spk__copy_out(tmp, n, buf, cap);
}

/* ---------------------------------------------------------------- casts */

static bool spk__is_integral(spk_type_id id) { return id == SPK_TYPE_INT32 || id == SPK_TYPE_INT64; }
static bool spk__is_numeric(spk_type_id id) {
    return spk__is_integral(id) || id == SPK_TYPE_DOUBLE || id == SPK_TYPE_DECIMAL;
}

/* Integral value of an INT32/INT64/BOOLEAN value. */
static int64_t spk__as_int64(const spk_value *v) {
    switch (v->type.id) {
    case SPK_TYPE_BOOLEAN: return v->as.b;
    case SPK_TYPE_INT32: return v->as.i32;
    default: return v->as.i64;
    }
}

/* Scala's Double.toLong: truncation toward zero, saturating, NaN to 0. */
static int64_t spk__double_to_int64(double d) {
    if (isnan(d)) return 0;
    if (d >= 9223372036854775807.0) return INT64_MAX;
    if (d <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)d;
}
static int32_t spk__double_to_int32(double d) {
    if (isnan(d)) return 0;
    if (d >= 2147483647.0) return INT32_MAX;
    if (d <= -2147483648.0) return INT32_MIN;
    return (int32_t)d;
}

/* Rescales an unscaled decimal from scale `from` to `to`, rounding half-up;
 * false if it no longer fits `precision`. */
static bool spk__decimal_rescale(int64_t v, int from, int to, int precision, int64_t *out) {
    if (to < from) {
        int64_t div = spk__pow10[from - to];
        int64_t q = v / div, r = v % div;
        if (r < 0 ? -r * 2 >= div : r * 2 >= div) q += v < 0 ? -1 : 1;
        v = q;
    } else if (to > from) {
        int64_t mul = spk__pow10[to - from];
        if (v > INT64_MAX / mul || v < -INT64_MAX / mul) return false;
        v *= mul;
    }
    if (v >= spk__pow10[precision] || v <= -spk__pow10[precision]) return false;
    *out = v;
    return true;
}

/* Exact double value of a decimal: through its text, which strtod rounds correctly. */
static double spk__decimal_to_double(int64_t unscaled, int scale) {
    char text[32];
    spk__format_decimal(unscaled, scale, text);
    double d = 0;
    spk__parse_double(text, strlen(text), &d);
    return d;
}

static spk_status spk__cast_error(const spk_value *in, spk_type to) {
    return spk__fail(SPK_ERR_TYPE, "[DATATYPE_MISMATCH.CAST_WITHOUT_SUGGESTION] cannot cast %s to %s",
                     spk__type_sql(in->type).s, spk__type_sql(to).s);
}

SPKDEF spk_status spk_value_cast(const spk_value *in, spk_type to, spk_value *out, char *textbuf) {
    if (!in || !out) return spk__fail(SPK_ERR_ARG, "spk_value_cast: NULL argument");
    if (!spk_type_valid(to)) return spk__fail(SPK_ERR_ARG, "spk_value_cast: invalid target type");
    spk_type_id from = (spk_type_id)in->type.id;
    spk_value r = spk_value_null_of(to);
    if (spk__value_is_null(in)) {
        *out = r;
        return SPK_OK;
    }
    r.is_null = false;
    switch ((spk_type_id)to.id) {
    case SPK_TYPE_NULL: return spk__cast_error(in, to);
    case SPK_TYPE_STRING:
        if (from == SPK_TYPE_STRING) {
            r = *in;
        } else {
            if (!textbuf) return spk__fail(SPK_ERR_ARG, "spk_value_cast: casting to STRING needs a text buffer");
            size_t n = spk_value_format(in, textbuf, SPK_VALUE_TEXT_MAX);
            r = spk_value_strn(textbuf, n);
        }
        break;
    case SPK_TYPE_BOOLEAN:
        if (from == SPK_TYPE_STRING) {
            if (spk__parse_value(to, in->as.str.ptr, in->as.str.len, true, &r) != SPK__PARSED) r = spk_value_null_of(to);
        } else if (from == SPK_TYPE_BOOLEAN) {
            r.as.b = in->as.b;
        } else if (from == SPK_TYPE_DOUBLE) {
            r.as.b = in->as.f64 != 0;
        } else if (spk__is_integral(from)) {
            r.as.b = spk__as_int64(in) != 0;
        } else if (from == SPK_TYPE_DECIMAL) {
            r.as.b = in->as.i64 != 0;
        } else if (from == SPK_TYPE_TIMESTAMP) {
            r.as.b = in->as.i64 != 0;
        } else {
            return spk__cast_error(in, to);
        }
        break;
    case SPK_TYPE_INT32:
    case SPK_TYPE_INT64: {
        int64_t x;
        if (from == SPK_TYPE_STRING) {
            spk_value tmp;
            if (spk__parse_value(to, in->as.str.ptr, in->as.str.len, true, &tmp) != SPK__PARSED) {
                r = spk_value_null_of(to);
                break;
            }
            x = to.id == SPK_TYPE_INT32 ? tmp.as.i32 : tmp.as.i64;
        } else if (from == SPK_TYPE_BOOLEAN || spk__is_integral(from)) {
            x = spk__as_int64(in);
        } else if (from == SPK_TYPE_DOUBLE) {
            if (to.id == SPK_TYPE_INT32) { r.as.i32 = spk__double_to_int32(in->as.f64); break; }
            x = spk__double_to_int64(in->as.f64);
        } else if (from == SPK_TYPE_DECIMAL) {
            x = in->as.i64 / spk__pow10[in->type.scale]; /* truncates toward zero */
        } else if (from == SPK_TYPE_TIMESTAMP) {
            x = spk__floor_div(in->as.i64, SPK__MICROS_PER_SECOND);
        } else {
            return spk__cast_error(in, to);
        }
        if (to.id == SPK_TYPE_INT32) r.as.i32 = (int32_t)(uint32_t)(uint64_t)x; /* wraps, as Spark */
        else r.as.i64 = x;
        break;
    }
    case SPK_TYPE_DOUBLE:
        if (from == SPK_TYPE_STRING) {
            if (spk__parse_value(to, in->as.str.ptr, in->as.str.len, true, &r) != SPK__PARSED) r = spk_value_null_of(to);
        } else if (from == SPK_TYPE_BOOLEAN || spk__is_integral(from)) {
            r.as.f64 = (double)spk__as_int64(in);
        } else if (from == SPK_TYPE_DOUBLE) {
            r.as.f64 = in->as.f64;
        } else if (from == SPK_TYPE_DECIMAL) {
            r.as.f64 = spk__decimal_to_double(in->as.i64, in->type.scale);
        } else if (from == SPK_TYPE_TIMESTAMP) {
            r.as.f64 = (double)in->as.i64 / 1e6;
        } else {
            return spk__cast_error(in, to);
        }
        break;
    case SPK_TYPE_DECIMAL: {
        int64_t x;
        bool ok;
        if (from == SPK_TYPE_STRING) {
            spk_value tmp;
            ok = spk__parse_value(to, in->as.str.ptr, in->as.str.len, true, &tmp) == SPK__PARSED;
            x = tmp.as.i64;
        } else if (from == SPK_TYPE_BOOLEAN || spk__is_integral(from)) {
            ok = spk__decimal_rescale(spk__as_int64(in), 0, to.scale, to.precision, &x);
        } else if (from == SPK_TYPE_DECIMAL) {
            ok = spk__decimal_rescale(in->as.i64, in->type.scale, to.scale, to.precision, &x);
        } else if (from == SPK_TYPE_DOUBLE || from == SPK_TYPE_TIMESTAMP) {
            /* Spark goes through the double's shortest decimal text. */
            double d = from == SPK_TYPE_DOUBLE ? in->as.f64 : (double)in->as.i64 / 1e6;
            char text[40];
            ok = !isnan(d) && !isinf(d);
            if (ok) {
                size_t n = spk__format_double(d, text);
                ok = spk__parse_decimal(text, n, to.precision, to.scale, &x) == SPK__PARSED;
            }
        } else {
            return spk__cast_error(in, to);
        }
        if (ok) r.as.i64 = x;
        else r = spk_value_null_of(to);
        break;
    }
    case SPK_TYPE_DATE:
        if (from == SPK_TYPE_STRING) {
            if (spk__parse_value(to, in->as.str.ptr, in->as.str.len, true, &r) != SPK__PARSED) r = spk_value_null_of(to);
        } else if (from == SPK_TYPE_DATE) {
            r.as.i32 = in->as.i32;
        } else if (from == SPK_TYPE_TIMESTAMP) {
            r.as.i32 = (int32_t)spk__floor_div(in->as.i64, SPK__MICROS_PER_DAY);
        } else {
            return spk__cast_error(in, to);
        }
        break;
    case SPK_TYPE_TIMESTAMP:
        if (from == SPK_TYPE_STRING) {
            if (spk__parse_value(to, in->as.str.ptr, in->as.str.len, true, &r) != SPK__PARSED) r = spk_value_null_of(to);
        } else if (from == SPK_TYPE_TIMESTAMP) {
            r.as.i64 = in->as.i64;
        } else if (from == SPK_TYPE_DATE) {
            /* Spark raises an ArithmeticException here even in non-ANSI mode. */
            if (in->as.i32 > INT64_MAX / SPK__MICROS_PER_DAY || in->as.i32 < INT64_MIN / SPK__MICROS_PER_DAY) {
                char text[SPK_VALUE_TEXT_MAX];
                spk_value_format(in, text, sizeof text);
                return spk__fail(SPK_ERR_RANGE, "DATE %s is out of the TIMESTAMP range", text);
            }
            r.as.i64 = (int64_t)in->as.i32 * SPK__MICROS_PER_DAY;
        } else if (spk__is_integral(from)) {
            int64_t secs = spk__as_int64(in); /* seconds since the epoch, saturating */
            r.as.i64 = secs > INT64_MAX / SPK__MICROS_PER_SECOND ? INT64_MAX
                     : secs < INT64_MIN / SPK__MICROS_PER_SECOND ? INT64_MIN
                     : secs * SPK__MICROS_PER_SECOND;
        } else if (from == SPK_TYPE_DOUBLE || from == SPK_TYPE_DECIMAL) {
            double d = from == SPK_TYPE_DOUBLE ? in->as.f64 : spk__decimal_to_double(in->as.i64, in->type.scale);
            if (isnan(d) || isinf(d)) r = spk_value_null_of(to);
            else r.as.i64 = spk__double_to_int64(d * 1e6);
        } else {
            return spk__cast_error(in, to);
        }
        break;
    case SPK_TYPE_COUNT: return spk__cast_error(in, to);
    }
    *out = r;
    return SPK_OK;
}

/* ---------------------------------------------------------------- ordering */

static int spk__cmp_i64(int64_t a, int64_t b) { return (a > b) - (a < b); }

/* Spark's double order: NaN above everything and equal to itself; -0.0 == 0.0. */
static int spk__cmp_f64(double a, double b) {
    bool na = isnan(a), nb = isnan(b);
    if (na || nb) return na - nb;
    return (a > b) - (a < b);
}

static int spk__cmp_bytes(const char *a, size_t la, const char *b, size_t lb) {
    size_t n = la < lb ? la : lb;
    int c = n ? memcmp(a, b, n) : 0;
    if (c) return c < 0 ? -1 : 1;
    return (la > lb) - (la < lb);
}

/* Exact comparison of two scaled integers: integer parts, then fractions
 * brought to the larger scale (< 10^18, so no overflow). */
static int spk__cmp_scaled(int64_t a, int sa, int64_t b, int sb) {
    int64_t ia = spk__floor_div(a, spk__pow10[sa]), ib = spk__floor_div(b, spk__pow10[sb]);
    if (ia != ib) return spk__cmp_i64(ia, ib);
    int s = sa > sb ? sa : sb;
    int64_t fa = spk__floor_mod(a, spk__pow10[sa]) * spk__pow10[s - sa];
    int64_t fb = spk__floor_mod(b, spk__pow10[sb]) * spk__pow10[s - sb];
    return spk__cmp_i64(fa, fb);
}

/* Numeric value as (unscaled, scale) for exact comparison. */
static void spk__as_scaled(const spk_value *v, int64_t *x, int *scale) {
    if (v->type.id == SPK_TYPE_DECIMAL) {
        *x = v->as.i64;
        *scale = v->type.scale <= 18 ? v->type.scale : 18;
    } else {
        *x = spk__as_int64(v);
        *scale = 0;
    }
}

static double spk__as_double(const spk_value *v) {
    if (v->type.id == SPK_TYPE_DOUBLE) return v->as.f64;
    if (v->type.id == SPK_TYPE_DECIMAL) return spk__decimal_to_double(v->as.i64, v->type.scale);
    return (double)spk__as_int64(v);
}

SPKDEF int spk_value_compare(const spk_value *a, const spk_value *b, bool nulls_first) {
    bool an = spk__value_is_null(a), bn = spk__value_is_null(b);
    if (an || bn) {
        if (an && bn) return 0;
        return (an ? -1 : 1) * (nulls_first ? 1 : -1);
    }
    spk_type_id ta = (spk_type_id)a->type.id, tb = (spk_type_id)b->type.id;
    if (spk__is_numeric(ta) && spk__is_numeric(tb)) {
        if (ta == SPK_TYPE_DOUBLE || tb == SPK_TYPE_DOUBLE) {
            if (ta == tb) return spk__cmp_f64(a->as.f64, b->as.f64);
            /* A double against an exact number: compare as doubles, and break
             * ties exactly when both are integral (avoids 2^53+1 == 2^53). */
            int c = spk__cmp_f64(spk__as_double(a), spk__as_double(b));
            if (c == 0 && ta != SPK_TYPE_DECIMAL && tb != SPK_TYPE_DECIMAL) {
                double d = ta == SPK_TYPE_DOUBLE ? a->as.f64 : b->as.f64;
                int64_t i = ta == SPK_TYPE_DOUBLE ? spk__as_int64(b) : spk__as_int64(a);
                if (d >= -9.2e18 && d <= 9.2e18) {
                    int c2 = spk__cmp_i64((int64_t)d, i);
                    return ta == SPK_TYPE_DOUBLE ? c2 : -c2;
                }
            }
            return c;
        }
        int64_t xa, xb;
        int sa, sb;
        spk__as_scaled(a, &xa, &sa);
        spk__as_scaled(b, &xb, &sb);
        return sa == sb ? spk__cmp_i64(xa, xb) : spk__cmp_scaled(xa, sa, xb, sb);
    }
    if ((ta == SPK_TYPE_DATE || ta == SPK_TYPE_TIMESTAMP) && (tb == SPK_TYPE_DATE || tb == SPK_TYPE_TIMESTAMP)) {
        if (ta == tb) return ta == SPK_TYPE_DATE ? spk__cmp_i64(a->as.i32, b->as.i32) : spk__cmp_i64(a->as.i64, b->as.i64);
        /* A date is midnight of its day: compare days, then time of day,
         * without multiplying (which could overflow for far dates). */
        const spk_value *date = ta == SPK_TYPE_DATE ? a : b, *ts = ta == SPK_TYPE_DATE ? b : a;
        int64_t ts_day = spk__floor_div(ts->as.i64, SPK__MICROS_PER_DAY);
        int c = date->as.i32 != ts_day ? spk__cmp_i64(date->as.i32, ts_day)
                                       : spk__cmp_i64(0, spk__floor_mod(ts->as.i64, SPK__MICROS_PER_DAY));
        return ta == SPK_TYPE_DATE ? c : -c;
    }
    if (ta != tb) return ta < tb ? -1 : 1;
    switch (ta) {
    case SPK_TYPE_BOOLEAN: return (int)a->as.b - (int)b->as.b;
    case SPK_TYPE_STRING: return spk__cmp_bytes(a->as.str.ptr, a->as.str.len, b->as.str.ptr, b->as.str.len);
    default: return 0;
    }
}

SPKDEF bool spk_value_equal(const spk_value *a, const spk_value *b) {
    return spk_value_compare(a, b, true) == 0;
}

SPKDEF uint64_t spk_value_hash(const spk_value *v, uint64_t seed) {
    if (spk__value_is_null(v)) return spk_hash_u64(seed ^ 0x6e756c6cULL);
    uint64_t bits;
    switch ((spk_type_id)v->type.id) {
    case SPK_TYPE_BOOLEAN: bits = v->as.b; break;
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE: bits = (uint64_t)(int64_t)v->as.i32; break;
    case SPK_TYPE_DOUBLE: {
        double d = v->as.f64;
        if (d == 0) d = 0.0; /* -0.0 hashes as 0.0 */
        if (isnan(d)) bits = 0x7ff8000000000000ULL;
        else memcpy(&bits, &d, sizeof bits);
        break;
    }
    case SPK_TYPE_STRING: return spk_hash_bytes(v->as.str.ptr, v->as.str.len, seed);
    default: bits = (uint64_t)v->as.i64; break;
    }
    return spk_hash_u64(bits ^ spk_hash_u64(seed + v->type.id));
}

/* ---- src/schema.c ---- */
/* schema: one allocation holding the header, the fields and their names. */

struct spk_schema {
    atomic_int refs;
    const spk_allocator *alloc;
    size_t alloc_size; /* of this whole block */
    int n;
    spk_field *fields; /* points into this block; names too */
};

/* Builds a schema; duplicate and empty names are allowed only for internal
 * results (a join's output may hold two `id` columns, as in Spark). */
static spk_status spk__schema_make(const spk_allocator *alloc, const spk_field *fields, int n,
                                   bool allow_duplicates, spk_schema **out) {
    alloc = spk__allocator_or_default(alloc);
    if (n < 0 || (n > 0 && !fields)) return spk__fail(SPK_ERR_ARG, "schema: invalid field list");
    size_t names = 0;
    for (int i = 0; i < n; i++) {
        /* Results may have an empty name (Spark names the column of '' so). */
        if (!fields[i].name || (!fields[i].name[0] && !allow_duplicates))
            return spk__fail(SPK_ERR_ARG, "schema: field %d has an empty name", i + 1);
        if (!spk_type_valid(fields[i].type))
            return spk__fail(SPK_ERR_ARG, "schema: field `%s` has an invalid type", fields[i].name);
        for (int j = 0; j < i && !allow_duplicates; j++)
            if (spk__name_eq(fields[i].name, fields[j].name, false))
                return spk__fail(SPK_ERR_ARG, "[COLUMN_ALREADY_EXISTS] the column `%s` appears twice in the schema",
                                 fields[i].name);
        names += strlen(fields[i].name) + 1;
    }
    size_t size = sizeof(spk_schema) + (size_t)n * sizeof(spk_field) + names;
    spk_schema *s = (spk_schema *)spk__alloc(alloc, size);
    if (!s) return spk__nomem("a schema", size);
    atomic_init(&s->refs, 1);
    s->alloc = alloc;
    s->alloc_size = size;
    s->n = n;
    s->fields = (spk_field *)(void *)(s + 1);
    char *name_at = (char *)(s->fields + n);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(fields[i].name) + 1;
        memcpy(name_at, fields[i].name, len);
        s->fields[i] = fields[i];
        s->fields[i].name = name_at;
        name_at += len;
    }
    *out = s;
    return SPK_OK;
}

SPKDEF spk_status spk_schema_new(const spk_allocator *alloc, const spk_field *fields, int n,
                                 spk_schema **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_schema_new: NULL output");
    *out = NULL;
    return spk__schema_make(alloc, fields, n, false, out);
}

SPKDEF spk_schema *spk_schema_retain(spk_schema *s) {
    /* Relaxed is enough: the caller already holds a reference, so the schema
     * cannot be freed concurrently, and its fields were published before. */
    if (s) atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

SPKDEF void spk_schema_release(spk_schema *s) {
    /* acq_rel: the last releaser must see every other holder's reads done. */
    if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
        spk__free(s->alloc, s, s->alloc_size);
}

SPKDEF int spk_schema_ncols(const spk_schema *s) { return s ? s->n : 0; }

SPKDEF const spk_field *spk_schema_field(const spk_schema *s, int i) {
    return s && i >= 0 && i < s->n ? &s->fields[i] : NULL;
}

SPKDEF int spk_schema_index(const spk_schema *s, const char *name, bool case_sensitive) {
    if (!s || !name) return -1;
    for (int i = 0; i < s->n; i++)
        if (spk__name_eq(s->fields[i].name, name, case_sensitive)) return i;
    return -1;
}

SPKDEF spk_status spk_schema_lookup(const spk_schema *s, const char *name, bool case_sensitive,
                                    int *index) {
    if (!s || !name || !index) return spk__fail(SPK_ERR_ARG, "spk_schema_lookup: NULL argument");
    int found = -1, matches = 0;
    for (int i = 0; i < s->n; i++) {
        if (spk__name_eq(s->fields[i].name, name, case_sensitive)) {
            if (found < 0) found = i;
            matches++;
        }
    }
    if (matches == 1) {
        *index = found;
        return SPK_OK;
    }
    if (matches > 1) {
        spk__fail(SPK_ERR_AMBIGUOUS, "[AMBIGUOUS_REFERENCE] Reference `%s` is ambiguous, could be: [", name);
        for (int i = 0, k = 0; i < s->n; i++)
            if (spk__name_eq(s->fields[i].name, name, case_sensitive))
                spk__fail_append("%s`%s`", k++ ? ", " : "", s->fields[i].name);
        spk__fail_append("].");
        return SPK_ERR_AMBIGUOUS;
    }
    spk__fail(SPK_ERR_NOT_FOUND,
              "[UNRESOLVED_COLUMN.%s] A column or function parameter with name `%s` cannot be resolved.",
              s->n ? "WITH_SUGGESTION" : "WITHOUT_SUGGESTION", name);
    const char *candidates[64];
    int nc = s->n < 64 ? s->n : 64;
    for (int i = 0; i < nc; i++) candidates[i] = s->fields[i].name;
    spk__fail_suggest(name, candidates, nc);
    return SPK_ERR_NOT_FOUND;
}

SPKDEF bool spk_schema_equal(const spk_schema *a, const spk_schema *b, bool check_nullable) {
    if (a == b) return true;
    if (!a || !b || a->n != b->n) return false;
    for (int i = 0; i < a->n; i++) {
        const spk_field *fa = &a->fields[i], *fb = &b->fields[i];
        if (strcmp(fa->name, fb->name) != 0 || !spk_type_equal(fa->type, fb->type)) return false;
        if (check_nullable && fa->nullable != fb->nullable) return false;
    }
    return true;
}

/* snprintf-style appender: keeps counting past the buffer's end. */
typedef struct spk__textout {
    char *buf;
    size_t cap, len;
} spk__textout;

static void spk__out(spk__textout *o, const char *fmt, ...) SPK__PRINTF(2, 3);
static void spk__out(spk__textout *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *at = o->len < o->cap ? o->buf + o->len : NULL;
    int n = vsnprintf(at, at ? o->cap - o->len : 0, fmt, ap);
    va_end(ap);
    if (n > 0) o->len += (size_t)n;
}

static spk__textout spk__textout_make(char *buf, size_t cap) {
    spk__textout o = {buf, buf ? cap : 0, 0};
    if (o.cap) buf[0] = '\0';
    return o;
}

SPKDEF size_t spk_schema_tree_string(const spk_schema *s, char *buf, size_t cap) {
    spk__textout o = spk__textout_make(buf, cap);
    spk__out(&o, "root\n");
    for (int i = 0; s && i < s->n; i++) {
        char type[32];
        spk_type_format(s->fields[i].type, SPK_TYPE_TREE, type, sizeof type);
        spk__out(&o, " |-- %s: %s (nullable = %s)\n", s->fields[i].name, type,
                 s->fields[i].nullable ? "true" : "false");
    }
    return o.len;
}

SPKDEF void spk_schema_print(const spk_schema *s, FILE *f) {
    fputs("root\n", f);
    for (int i = 0; s && i < s->n; i++) {
        char type[32];
        spk_type_format(s->fields[i].type, SPK_TYPE_TREE, type, sizeof type);
        fprintf(f, " |-- %s: %s (nullable = %s)\n", s->fields[i].name, type,
                s->fields[i].nullable ? "true" : "false");
    }
}

static bool spk__is_plain_identifier(const char *name) {
    if (!spk__is_ident_start((unsigned char)name[0])) return false;
    for (const char *p = name; *p; p++)
        if (!spk__is_ident_char((unsigned char)*p)) return false;
    return true;
}

SPKDEF size_t spk_schema_ddl(const spk_schema *s, char *buf, size_t cap) {
    spk__textout o = spk__textout_make(buf, cap);
    for (int i = 0; s && i < s->n; i++) {
        const char *name = s->fields[i].name;
        if (i) spk__out(&o, ", ");
        if (spk__is_plain_identifier(name)) {
            spk__out(&o, "%s", name);
        } else { /* backtick-quoted, with ` doubled */
            spk__out(&o, "`");
            for (const char *p = name; *p; p++) spk__out(&o, *p == '`' ? "``" : "%c", *p);
            spk__out(&o, "`");
        }
        char type[32];
        spk_type_format(s->fields[i].type, SPK_TYPE_SQL, type, sizeof type);
        spk__out(&o, " %s%s", type, s->fields[i].nullable ? "" : " NOT NULL");
    }
    return o.len;
}

/* ---------------------------------------------------------------- DDL parser */

/* Reads a column name at *pos: an identifier or a `quoted` name with ``
 * standing for a backtick. The name is written to `name` (NUL-terminated). */
static spk_status spk__parse_name(const spk_allocator *a, const char *s, size_t len, size_t *pos,
                                  char **name, size_t *name_size) {
    size_t start = *pos;
    if (*pos < len && s[*pos] == '`') {
        size_t i = *pos + 1, n = 0;
        for (;; i++) {
            if (i >= len) {
                *pos = start;
                return spk__fail(SPK_ERR_PARSE, "unterminated `quoted` column name");
            }
            if (s[i] == '`') {
                if (i + 1 < len && s[i + 1] == '`') i++;
                else break;
            }
            n++;
        }
        if (n == 0) {
            *pos = start;
            return spk__fail(SPK_ERR_PARSE, "empty column name");
        }
        char *out = (char *)spk__alloc(a, n + 1);
        if (!out) return spk__nomem("a column name", n + 1);
        size_t k = 0;
        for (size_t j = start + 1; j < i; j++) {
            out[k++] = s[j];
            if (s[j] == '`') j++;
        }
        out[k] = '\0';
        *name = out;
        *name_size = n + 1;
        *pos = i + 1;
        return SPK_OK;
    }
    while (*pos < len && spk__is_ident_char((unsigned char)s[*pos])) (*pos)++;
    if (*pos == start) return spk__fail(SPK_ERR_PARSE, "expected a column name");
    *name = spk__strndup(a, s + start, *pos - start);
    *name_size = *pos - start + 1;
    if (!*name) return spk__nomem("a column name", *name_size);
    return SPK_OK;
}

/* True (and *pos advanced) if the next word is `keyword`. */
static bool spk__accept_word(const char *s, size_t len, size_t *pos, const char *keyword) {
    size_t i = *pos;
    spk__skip_space(s, len, &i);
    size_t start = i;
    while (i < len && spk__is_ident_char((unsigned char)s[i])) i++;
    if (i == start || !spk__word_is(s + start, i - start, keyword)) return false;
    *pos = i;
    return true;
}

/* Parses `len` bytes of DDL; positions in errors are relative to `full`,
 * the text shown under the caret (a fixture shows its schema line). */
static spk_status spk__schema_parse_span(const spk_allocator *alloc, const char *ddl, size_t len,
                                         spk_schema **out) {
    alloc = spk__allocator_or_default(alloc);
    spk_field stack_fields[16];
    spk_field *fields = stack_fields;
    size_t name_sizes_stack[16];
    size_t *name_sizes = name_sizes_stack;
    int n = 0, cap = 16;
    size_t pos = 0;
    spk_status st = SPK_OK;
    for (;;) {
        spk__skip_space(ddl, len, &pos);
        if (n == cap) {
            size_t new_cap = (size_t)cap * 2;
            spk_field *nf = (spk_field *)spk__alloc(alloc, new_cap * sizeof *nf);
            size_t *ns = nf ? (size_t *)spk__alloc(alloc, new_cap * sizeof *ns) : NULL;
            if (!nf || !ns) {
                spk__free(alloc, nf, new_cap * sizeof *nf);
                st = spk__nomem("a schema", new_cap * sizeof *nf);
                break;
            }
            memcpy(nf, fields, (size_t)n * sizeof *nf);
            memcpy(ns, name_sizes, (size_t)n * sizeof *ns);
            if (fields != stack_fields) {
                spk__free(alloc, fields, (size_t)cap * sizeof *fields);
                spk__free(alloc, name_sizes, (size_t)cap * sizeof *name_sizes);
            }
            fields = nf;
            name_sizes = ns;
            cap = (int)new_cap;
        }
        size_t name_pos = pos;
        char *name = NULL;
        st = spk__parse_name(alloc, ddl, len, &pos, &name, &name_sizes[n]);
        if (st != SPK_OK) break;
        fields[n].name = name;
        fields[n].nullable = true;
        n++;
        for (int j = 0; j < n - 1; j++) {
            if (spk__name_eq(fields[j].name, name, false)) {
                pos = name_pos;
                st = spk__fail(SPK_ERR_PARSE, "[COLUMN_ALREADY_EXISTS] the column `%s` appears twice", name);
                break;
            }
        }
        if (st != SPK_OK) break;
        spk__skip_space(ddl, len, &pos);
        if (pos < len && ddl[pos] == ':') pos++;
        st = spk__type_parse_at(ddl, len, &pos, &fields[n - 1].type);
        if (st != SPK_OK) break;
        if (spk__accept_word(ddl, len, &pos, "not")) {
            if (!spk__accept_word(ddl, len, &pos, "null")) {
                spk__skip_space(ddl, len, &pos);
                st = spk__fail(SPK_ERR_PARSE, "expected NULL after NOT");
                break;
            }
            fields[n - 1].nullable = false;
        }
        spk__skip_space(ddl, len, &pos);
        if (pos >= len) break;
        if (ddl[pos] != ',') {
            st = spk__fail(SPK_ERR_PARSE, "expected ',' or the end of the schema after column `%s`", name);
            break;
        }
        pos++;
    }
    if (st == SPK_OK) {
        st = spk__schema_make(alloc, fields, n, false, out);
    } else if (st != SPK_ERR_NOMEM) {
        spk__fail_caret(ddl, pos); /* ddl is NUL-terminated or the caller shows its own excerpt */
    }
    for (int i = 0; i < n; i++) spk__free(alloc, (void *)fields[i].name, name_sizes[i]);
    if (fields != stack_fields) {
        spk__free(alloc, fields, (size_t)cap * sizeof *fields);
        spk__free(alloc, name_sizes, (size_t)cap * sizeof *name_sizes);
    }
    return st;
}

SPKDEF spk_status spk_schema_parse(const spk_allocator *alloc, const char *ddl, spk_schema **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_schema_parse: NULL output");
    *out = NULL;
    if (!ddl) return spk__fail(SPK_ERR_ARG, "spk_schema_parse: NULL text");
    return spk__schema_parse_span(alloc, ddl, strlen(ddl), out);
}

/* ---- src/rowstore.c ---- */
/* rowstore: chunks of fixed-width row slots.
 *
 * Slot layout, for a schema's columns in order, with no padding (fields are
 * read with memcpy, so alignment does not matter):
 *   [null bitmap: ceil(ncols/8) bytes, bit set = NULL][field 0][field 1]...
 * Field widths: BOOLEAN 1, INT32/DATE 4, INT64/DOUBLE/DECIMAL/TIMESTAMP 8,
 * STRING 4, void 0. A STRING field holds the end offset of its bytes in the
 * chunk's heap; the bytes start where the previous string of the chunk, in
 * row-major order, ended. That makes a string cost 4 bytes of slot plus its
 * bytes, and keeps a chunk's strings in scan order. */

typedef struct spk__chunk {
    atomic_int refs;  /* tables holding it; a chunk held by more than one is never written */
    size_t first_row; /* table row number of this chunk's row 0 (the same in every table holding it) */
    uint32_t nrows, cap_rows;
    uint32_t heap_len, heap_cap;
    unsigned char *rows; /* cap_rows * width bytes */
    char *heap;
} spk__chunk;

struct spk_table {
    atomic_int refs;     /* spk_table_retain; a table with more than one reference is read-only */
    const spk_allocator *alloc;
    spk_schema *schema;
    int ncols;
    uint32_t width;      /* bytes per slot */
    uint32_t *offset;    /* per column: byte offset in the slot */
    int *prev_string;    /* per column: the previous STRING column, or -1 */
    int last_string;     /* the last STRING column, or -1 */
    spk__chunk **chunks;
    size_t nchunks, cap_chunks;
    size_t nrows;
    size_t bytes;        /* held from the allocator */
};

static uint32_t spk__field_width(spk_type_id id) {
    switch (id) {
    case SPK_TYPE_BOOLEAN: return 1;
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE:
    case SPK_TYPE_STRING: return 4;
    case SPK_TYPE_INT64:
    case SPK_TYPE_DOUBLE:
    case SPK_TYPE_DECIMAL:
    case SPK_TYPE_TIMESTAMP: return 8;
    default: return 0;
    }
}

/* Allocation wrappers that keep t->bytes exact. */
static void *spk__table_alloc(spk_table *t, size_t size) {
    void *p = spk__alloc(t->alloc, size);
    if (p) t->bytes += size ? size : 1;
    return p;
}
static void *spk__table_realloc(spk_table *t, void *p, size_t old_size, size_t new_size) {
    void *q = spk__realloc(t->alloc, p, old_size, new_size);
    if (q) t->bytes = t->bytes - (p ? (old_size ? old_size : 1) : 0) + (new_size ? new_size : 1);
    return q;
}
static void spk__table_free_block(spk_table *t, void *p, size_t size) {
    if (!p) return;
    spk__free(t->alloc, p, size);
    t->bytes -= size ? size : 1;
}

/* Bytes a chunk holds from its table's allocator (as the spk__table_*
 * wrappers count them). */
static size_t spk__chunk_bytes(const spk_table *t, const spk__chunk *c) {
    size_t rows = (size_t)c->cap_rows * t->width, bytes = sizeof *c;
    if (c->rows) bytes += rows ? rows : 1;
    if (c->heap) bytes += c->heap_cap ? c->heap_cap : 1;
    return bytes;
}


static bool spk__chunk_shared(spk__chunk *c) { return atomic_load_explicit(&c->refs, memory_order_acquire) > 1; }

/* Drops t's hold on c; the last holder frees it. */
static void spk__chunk_free(spk_table *t, spk__chunk *c) {
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) > 1) { /* acq_rel: as spk_table_free */
        t->bytes -= spk__chunk_bytes(t, c);
        return;
    }
    spk__table_free_block(t, c->rows, (size_t)c->cap_rows * t->width);
    spk__table_free_block(t, c->heap, c->heap_cap);
    spk__table_free_block(t, c, sizeof *c);
}

SPKDEF spk_status spk_table_new(const spk_allocator *alloc, spk_schema *schema, spk_table **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_table_new: NULL output");
    *out = NULL;
    if (!schema) return spk__fail(SPK_ERR_ARG, "spk_table_new: NULL schema");
    alloc = spk__allocator_or_default(alloc);
    spk_table *t = (spk_table *)spk__calloc(alloc, sizeof *t);
    if (!t) return spk__nomem("a table", sizeof *t);
    atomic_init(&t->refs, 1);
    t->alloc = alloc;
    t->bytes = sizeof *t;
    t->ncols = spk_schema_ncols(schema);
    size_t n = (size_t)t->ncols;
    t->offset = (uint32_t *)spk__table_alloc(t, n * sizeof *t->offset);
    t->prev_string = t->offset ? (int *)spk__table_alloc(t, n * sizeof *t->prev_string) : NULL;
    if (!t->offset || !t->prev_string) {
        spk__table_free_block(t, t->offset, n * sizeof *t->offset);
        spk__free(alloc, t, sizeof *t);
        return spk__nomem("a table layout", n * (sizeof *t->offset + sizeof *t->prev_string));
    }
    uint32_t at = (uint32_t)((n + 7) / 8);
    t->last_string = -1;
    for (int i = 0; i < t->ncols; i++) {
        spk_type_id id = (spk_type_id)spk_schema_field(schema, i)->type.id;
        t->offset[i] = at;
        at += spk__field_width(id);
        t->prev_string[i] = t->last_string;
        if (id == SPK_TYPE_STRING) t->last_string = i;
    }
    t->width = at;
    t->schema = spk_schema_retain(schema);
    *out = t;
    return SPK_OK;
}

SPKDEF spk_table *spk_table_retain(spk_table *t) {
    if (t) atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed); /* the caller already holds one */
    return t;
}

static bool spk__table_shared(const spk_table *t) {
    return atomic_load_explicit(&((spk_table *)t)->refs, memory_order_acquire) > 1;
}

SPKDEF void spk_table_free(spk_table *t) {
    /* acq_rel: every holder's reads happen before the last one frees */
    if (!t || atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) > 1) return;
    for (size_t i = 0; i < t->nchunks; i++) spk__chunk_free(t, t->chunks[i]);
    spk__table_free_block(t, t->chunks, t->cap_chunks * sizeof *t->chunks);
    spk__table_free_block(t, t->offset, (size_t)t->ncols * sizeof *t->offset);
    spk__table_free_block(t, t->prev_string, (size_t)t->ncols * sizeof *t->prev_string);
    spk_schema_release(t->schema);
    spk__free(t->alloc, t, sizeof *t);
}

SPKDEF spk_schema *spk_table_schema(const spk_table *t) { return t ? t->schema : NULL; }
SPKDEF size_t spk_table_nrows(const spk_table *t) { return t ? t->nrows : 0; }
SPKDEF size_t spk_table_nchunks(const spk_table *t) { return t ? t->nchunks : 0; }
SPKDEF size_t spk_table_memory(const spk_table *t) { return t ? t->bytes : 0; }

/* ---------------------------------------------------------------- reading */

static uint32_t spk__load_u32(const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static bool spk__slot_is_null(const unsigned char *slot, int col) {
    return (slot[col >> 3] >> (col & 7)) & 1;
}

/* Where the string of `col` in row `index` starts: the end of the string
 * before it in row-major order. */
static uint32_t spk__string_start(const spk_table *t, const spk__chunk *c, size_t index, int col) {
    const unsigned char *slot = c->rows + index * t->width;
    if (t->prev_string[col] >= 0) return spk__load_u32(slot + t->offset[t->prev_string[col]]);
    if (index == 0) return 0;
    return spk__load_u32(slot - t->width + t->offset[t->last_string]);
}

static void spk__read_cell(const spk_table *t, const spk__chunk *c, size_t index, int col, spk_value *out) {
    const unsigned char *slot = c->rows + index * t->width;
    spk_type type = spk_schema_field(t->schema, col)->type;
    *out = spk_value_null_of(type);
    if (spk__slot_is_null(slot, col)) return;
    out->is_null = false;
    const unsigned char *p = slot + t->offset[col];
    switch ((spk_type_id)type.id) {
    case SPK_TYPE_BOOLEAN: out->as.b = *p != 0; break;
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE: memcpy(&out->as.i32, p, 4); break;
    case SPK_TYPE_INT64:
    case SPK_TYPE_DECIMAL:
    case SPK_TYPE_TIMESTAMP: memcpy(&out->as.i64, p, 8); break;
    case SPK_TYPE_DOUBLE: memcpy(&out->as.f64, p, 8); break;
    case SPK_TYPE_STRING: {
        uint32_t start = spk__string_start(t, c, index, col), end = spk__load_u32(p);
        out->as.str.ptr = c->heap ? c->heap + start : "";
        out->as.str.len = end - start;
        break;
    }
    case SPK_TYPE_NULL:
    case SPK_TYPE_COUNT: out->is_null = true; break;
    }
}

SPKDEF spk_status spk_table_get(const spk_table *t, size_t row, int col, spk_value *out) {
    if (!t || !out) return spk__fail(SPK_ERR_ARG, "spk_table_get: NULL argument");
    if (col < 0 || col >= t->ncols)
        return spk__fail(SPK_ERR_ARG, "spk_table_get: column %d out of range (table has %d columns)", col, t->ncols);
    if (row >= t->nrows)
        return spk__fail(SPK_ERR_ARG, "spk_table_get: row %zu out of range (table has %zu rows)", row, t->nrows);
    size_t lo = 0, hi = t->nchunks; /* last chunk whose first_row <= row */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->chunks[mid]->first_row <= row) lo = mid;
        else hi = mid;
    }
    spk__read_cell(t, t->chunks[lo], row - t->chunks[lo]->first_row, col, out);
    return SPK_OK;
}

SPKDEF void spk_cursor_open(spk_cursor *c, const spk_table *t) {
    memset(c, 0, sizeof *c);
    c->table = t;
}

SPKDEF bool spk_cursor_next(spk_cursor *c) {
    const spk_table *t = c->table;
    if (!t) return false;
    if (c->started) {
        c->index++;
        c->row++;
    }
    c->started = true;
    while (c->chunk < t->nchunks && c->index >= t->chunks[c->chunk]->nrows) {
        c->chunk++;
        c->index = 0;
    }
    return c->chunk < t->nchunks;
}

SPKDEF spk_status spk_cursor_get(const spk_cursor *c, int col, spk_value *out) {
    const spk_table *t = c ? c->table : NULL;
    if (!t || !out) return spk__fail(SPK_ERR_ARG, "spk_cursor_get: NULL argument");
    if (!c->started || c->chunk >= t->nchunks)
        return spk__fail(SPK_ERR_STATE, "spk_cursor_get: the cursor is not on a row (call spk_cursor_next first)");
    if (col < 0 || col >= t->ncols)
        return spk__fail(SPK_ERR_ARG, "spk_cursor_get: column %d out of range (table has %d columns)", col, t->ncols);
    spk__read_cell(t, t->chunks[c->chunk], c->index, col, out);
    return SPK_OK;
}

/* ---------------------------------------------------------------- writing */

/* Whether values of type `from` may be stored in a column of type `to`:
 * the same type, or a widening that loses nothing for any value (integers to
 * a DECIMAL or DOUBLE are checked per value by spk__coerce_cell). */
static bool spk__storable(spk_type from, spk_type to) {
    spk_type_id f = (spk_type_id)from.id, t = (spk_type_id)to.id;
    if (f == SPK_TYPE_NULL) return true;
    if (t == SPK_TYPE_DECIMAL && f == SPK_TYPE_DECIMAL)
        return from.scale <= to.scale && from.precision - from.scale <= to.precision - to.scale;
    if (f == t) return true;
    if (t == SPK_TYPE_INT64) return f == SPK_TYPE_INT32;
    if (t == SPK_TYPE_DOUBLE || t == SPK_TYPE_DECIMAL) return spk__is_integral(f);
    return false;
}

/* Converts `v` to what column `f` stores. Errors change nothing. */
static spk_status spk__coerce_cell(const spk_field *f, const spk_value *v, spk_value *out) {
    if (!spk_type_valid(v->type))
        return spk__fail(SPK_ERR_ARG, "value has an invalid type (%s)", spk__type_sql(v->type).s);
    if (!spk__storable(v->type, f->type))
        return spk__fail(SPK_ERR_TYPE, "cannot store a %s%s value in a column of type %s",
                         v->is_null ? "NULL " : "", spk__type_sql(v->type).s, spk__type_sql(f->type).s);
    if (spk__value_is_null(v)) {
        if (!f->nullable) return spk__fail(SPK_ERR_NULL, "NULL in non-nullable column");
        *out = spk_value_null_of(f->type);
        return SPK_OK;
    }
    spk_type_id from = (spk_type_id)v->type.id, to = (spk_type_id)f->type.id;
    *out = *v;
    out->type = f->type;
    if (to == SPK_TYPE_INT64 && from == SPK_TYPE_INT32) {
        out->as.i64 = v->as.i32;
    } else if (to == SPK_TYPE_DOUBLE && from != SPK_TYPE_DOUBLE) {
        int64_t x = spk__as_int64(v);
        out->as.f64 = (double)x;
        if (x > (1LL << 53) || x < -(1LL << 53))
            return spk__fail(SPK_ERR_RANGE, "%lld cannot be stored as DOUBLE without loss", (long long)x);
    } else if (to == SPK_TYPE_DECIMAL) {
        int64_t x;
        int scale = 0;
        spk__as_scaled(v, &x, &scale);
        if (!spk__decimal_rescale(x, scale, f->type.scale, f->type.precision, &out->as.i64)) {
            char text[SPK_VALUE_TEXT_MAX];
            spk_value_format(v, text, sizeof text);
            return spk__fail(SPK_ERR_RANGE, "%s does not fit %s", text, spk__type_sql(f->type).s);
        }
    }
    return SPK_OK;
}

/* Seals a full chunk: its buffers shrink to fit (a failed shrink keeps them). */
static void spk__chunk_seal(spk_table *t, spk__chunk *c) {
    if (spk__chunk_shared(c)) return;
    if (c->nrows && c->nrows < c->cap_rows) {
        void *p = spk__table_realloc(t, c->rows, (size_t)c->cap_rows * t->width, (size_t)c->nrows * t->width);
        if (p) {
            c->rows = (unsigned char *)p;
            c->cap_rows = c->nrows;
        }
    }
    if (c->heap && c->heap_len < c->heap_cap) {
        void *p = spk__table_realloc(t, c->heap, c->heap_cap, c->heap_len ? c->heap_len : 1);
        if (p) {
            c->heap = (char *)p;
            c->heap_cap = c->heap_len ? c->heap_len : 1;
        }
    }
}

/* Grows chunk c to take `rows` more rows (within SPK_CHUNK_ROWS) and
 * `string_bytes` more heap (the caller checked the 4 GiB limit). Capacity
 * doubles; a bulk writer into a table that has filled a chunk takes the
 * whole chunk at once, and a fresh heap starts at the previous chunk's size. */
static spk_status spk__chunk_reserve(spk_table *t, spk__chunk *c, uint32_t rows, size_t string_bytes, bool bulk) {
    if (c->cap_rows - c->nrows < rows) {
        uint32_t cap = c->cap_rows ? c->cap_rows : 16;
        while (cap - c->nrows < rows && cap < SPK_CHUNK_ROWS) cap *= 2;
        if ((bulk && t->nchunks > 1) || cap > SPK_CHUNK_ROWS) cap = SPK_CHUNK_ROWS;
        void *p = spk__table_realloc(t, c->rows, (size_t)c->cap_rows * t->width, (size_t)cap * t->width);
        if (!p) return spk__nomem("table rows", (size_t)cap * t->width);
        c->rows = (unsigned char *)p;
        c->cap_rows = cap;
    }
    if (string_bytes > (size_t)(c->heap_cap - c->heap_len)) {
        uint64_t need = (uint64_t)c->heap_len + string_bytes, cap = c->heap_cap ? c->heap_cap : 256;
        if (bulk && t->nchunks > 1 && c->heap_cap == 0) cap = t->chunks[t->nchunks - 2]->heap_len + 1;
        while (cap < need) cap *= 2;
        if (cap > UINT32_MAX) cap = UINT32_MAX;
        void *p = spk__table_realloc(t, c->heap, c->heap_cap, (size_t)cap);
        if (!p) return spk__nomem("table strings", (size_t)cap);
        c->heap = (char *)p;
        c->heap_cap = (uint32_t)cap;
    }
    return SPK_OK;
}

/* Makes room for one more row with `string_bytes` of strings; returns the chunk. */
static spk_status spk__reserve_row(spk_table *t, size_t string_bytes, spk__chunk **chunk) {
    spk__chunk *c = t->nchunks ? t->chunks[t->nchunks - 1] : NULL;
    if (string_bytes > UINT32_MAX - 1)
        return spk__fail(SPK_ERR_LIMIT, "a row holds %zu bytes of strings; the limit is 4 GiB", string_bytes);
    if (!c || c->nrows == SPK_CHUNK_ROWS || string_bytes > (size_t)(UINT32_MAX - c->heap_len) || spk__chunk_shared(c)) {
        if (t->nchunks == t->cap_chunks) {
            size_t cap = t->cap_chunks ? t->cap_chunks * 2 : 4;
            void *p = spk__table_realloc(t, t->chunks, t->cap_chunks * sizeof *t->chunks, cap * sizeof *t->chunks);
            if (!p) return spk__nomem("the chunk list", cap * sizeof *t->chunks);
            t->chunks = (spk__chunk **)p;
            t->cap_chunks = cap;
        }
        spk__chunk *fresh = (spk__chunk *)spk__table_alloc(t, sizeof *fresh);
        if (!fresh) return spk__nomem("a chunk", sizeof *fresh);
        memset(fresh, 0, sizeof *fresh);
        atomic_init(&fresh->refs, 1);
        fresh->first_row = t->nrows;
        if (c) spk__chunk_seal(t, c);
        t->chunks[t->nchunks++] = fresh;
        c = fresh;
    }
    spk_status st = spk__chunk_reserve(t, c, 1, string_bytes, false);
    if (st == SPK_OK) *chunk = c;
    return st;
}

/* Appends one row. Errors carry "column N (`name`): " and change nothing. */
static spk_status spk__append_one(spk_table *t, const spk_value *values) {
    spk_value cells_stack[32];
    spk_value *cells = cells_stack;
    size_t ncols = (size_t)t->ncols, cells_size = ncols * sizeof *cells;
    if (ncols > 32) {
        cells = (spk_value *)spk__alloc(t->alloc, cells_size);
        if (!cells) return spk__nomem("a row", cells_size);
    }
    spk_status st = SPK_OK;
    size_t string_bytes = 0;
    for (int i = 0; i < t->ncols && st == SPK_OK; i++) {
        const spk_field *f = spk_schema_field(t->schema, i);
        st = spk__coerce_cell(f, &values[i], &cells[i]);
        if (st != SPK_OK) {
            spk__fail_prefix("column %d (`%s`): ", i + 1, f->name);
        } else if (f->type.id == SPK_TYPE_STRING && !cells[i].is_null) {
            if (!cells[i].as.str.ptr && cells[i].as.str.len)
                st = spk__fail(SPK_ERR_ARG, "column %d (`%s`): string value with NULL pointer", i + 1, f->name);
            string_bytes += cells[i].as.str.len;
        }
    }
    spk__chunk *c = NULL;
    if (st == SPK_OK) st = spk__reserve_row(t, string_bytes, &c);
    if (st == SPK_OK) {
        unsigned char *slot = c->rows + (size_t)c->nrows * t->width;
        uint32_t heap_at = c->heap_len;
        memset(slot, 0, t->width);
        for (int i = 0; i < t->ncols; i++) {
            unsigned char *p = slot + t->offset[i];
            const spk_value *v = &cells[i];
            if (v->is_null) slot[i >> 3] |= (unsigned char)(1u << (i & 7));
            switch ((spk_type_id)v->type.id) {
            case SPK_TYPE_BOOLEAN: *p = v->is_null ? 0 : v->as.b; break;
            case SPK_TYPE_INT32:
            case SPK_TYPE_DATE: memcpy(p, &v->as.i32, 4); break;
            case SPK_TYPE_INT64:
            case SPK_TYPE_DECIMAL:
            case SPK_TYPE_TIMESTAMP: memcpy(p, &v->as.i64, 8); break;
            case SPK_TYPE_DOUBLE: memcpy(p, &v->as.f64, 8); break;
            case SPK_TYPE_STRING:
                if (!v->is_null && v->as.str.len) {
                    memcpy(c->heap + heap_at, v->as.str.ptr, v->as.str.len);
                    heap_at += (uint32_t)v->as.str.len;
                }
                memcpy(p, &heap_at, 4);
                break;
            case SPK_TYPE_NULL:
            case SPK_TYPE_COUNT: break;
            }
        }
        c->heap_len = heap_at;
        c->nrows++;
        t->nrows++;
    }
    if (cells != cells_stack) spk__free(t->alloc, cells, cells_size);
    return st;
}

/* The table's extent, to undo a failed multi-row append. */
typedef struct spk__table_mark {
    size_t nchunks, nrows;
    uint32_t tail_rows, tail_heap;
} spk__table_mark;

static spk__table_mark spk__table_mark_get(const spk_table *t) {
    spk__table_mark m = {t->nchunks, t->nrows, 0, 0};
    if (t->nchunks) {
        m.tail_rows = t->chunks[t->nchunks - 1]->nrows;
        m.tail_heap = t->chunks[t->nchunks - 1]->heap_len;
    }
    return m;
}

static spk_status spk__fail_shared(const char *fn) {
    return spk__fail(SPK_ERR_STATE, "%s: the table has more than one reference (it was retained or saved), so it is read-only", fn);
}

static void spk__table_rollback(spk_table *t, spk__table_mark m) {
    while (t->nchunks > m.nchunks) spk__chunk_free(t, t->chunks[--t->nchunks]);
    if (m.nchunks && t->chunks[m.nchunks - 1]->nrows != m.tail_rows) { /* never a shared chunk: those are not written */
        t->chunks[m.nchunks - 1]->nrows = m.tail_rows;
        t->chunks[m.nchunks - 1]->heap_len = m.tail_heap;
    }
    t->nrows = m.nrows;
}

SPKDEF spk_status spk_table_append_row(spk_table *t, const spk_value *values, int n) {
    if (!t || (!values && n)) return spk__fail(SPK_ERR_ARG, "spk_table_append_row: NULL argument");
    if (spk__table_shared(t)) return spk__fail_shared("spk_table_append_row");
    if (n != t->ncols)
        return spk__fail(SPK_ERR_ARG, "spk_table_append_row: got %d values for %d columns", n, t->ncols);
    return spk__append_one(t, values);
}

SPKDEF spk_status spk_table_append_rows(spk_table *t, const spk_value *values, size_t nrows) {
    if (!t || (!values && nrows && t->ncols)) return spk__fail(SPK_ERR_ARG, "spk_table_append_rows: NULL argument");
    if (spk__table_shared(t)) return spk__fail_shared("spk_table_append_rows");
    spk__table_mark mark = spk__table_mark_get(t);
    for (size_t r = 0; r < nrows; r++) {
        spk_status st = spk__append_one(t, values + r * (size_t)t->ncols);
        if (st != SPK_OK) {
            spk__table_rollback(t, mark);
            spk__fail_prefix("row %zu, ", r + 1);
            return st;
        }
    }
    return SPK_OK;
}

/* ---------------------------------------------------------------- CSV text */

typedef struct spk__csv_field {
    size_t start, len; /* in the text, or in the scratch buffer when quoted */
    bool quoted;
} spk__csv_field;

/* Growable scratch owned by one append_text call. */
typedef struct spk__scratch {
    const spk_allocator *alloc;
    char *text;
    size_t text_len, text_cap;
    spk__csv_field *fields;
    size_t nfields, fields_cap;
    spk_value *values;
    size_t values_cap;
} spk__scratch;

static void spk__scratch_free(spk__scratch *s) {
    spk__free(s->alloc, s->text, s->text_cap);
    spk__free(s->alloc, s->fields, s->fields_cap * sizeof *s->fields);
    spk__free(s->alloc, s->values, s->values_cap * sizeof *s->values);
}

static spk_status spk__grow(const spk_allocator *a, void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return SPK_OK;
    size_t new_cap = *cap ? *cap : 16, bytes;
    while (new_cap < need) new_cap *= 2;
    if (spk__mul_overflows(new_cap, elem, &bytes)) return spk__nomem("a text buffer", SIZE_MAX);
    void *q = spk__realloc(a, *p, *cap * elem, bytes);
    if (!q) return spk__nomem("a text buffer", bytes);
    *p = q;
    *cap = new_cap;
    return SPK_OK;
}

/* Splits the record starting at *pos into fields; *line counts newlines. */
static spk_status spk__csv_record(spk__scratch *s, const char *text, size_t len, size_t *pos, size_t *line) {
    size_t i = *pos, record_line = *line;
    s->nfields = 0;
    s->text_len = 0;
    for (;;) {
        spk_status st = spk__grow(s->alloc, (void **)&s->fields, &s->fields_cap, s->nfields + 1, sizeof *s->fields);
        if (st != SPK_OK) return st;
        spk__csv_field *f = &s->fields[s->nfields++];
        while (i < len && (text[i] == ' ' || text[i] == '\t')) i++;
        if (i < len && text[i] == '"') {
            f->quoted = true;
            f->start = s->text_len;
            size_t open = i++;
            for (;;) {
                if (i >= len)
                    return spk__fail(SPK_ERR_PARSE, "line %zu, column %zu: unterminated quoted field (opened at byte %zu)",
                                     record_line, s->nfields, open + 1);
                char ch = text[i++];
                if (ch == '"') {
                    if (i < len && text[i] == '"') i++;
                    else break;
                }
                if (ch == '\n') (*line)++;
                st = spk__grow(s->alloc, (void **)&s->text, &s->text_cap, s->text_len + 1, 1);
                if (st != SPK_OK) return st;
                s->text[s->text_len++] = ch;
            }
            f->len = s->text_len - f->start;
            while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r')) i++;
            if (i < len && text[i] != ',' && text[i] != '\n')
                return spk__fail(SPK_ERR_PARSE, "line %zu, column %zu: unexpected '%c' after a closing quote",
                                 *line, s->nfields, text[i]);
        } else {
            f->quoted = false;
            f->start = i;
            while (i < len && text[i] != ',' && text[i] != '\n') i++;
            size_t end = i;
            while (end > f->start && (text[end - 1] == ' ' || text[end - 1] == '\t' || text[end - 1] == '\r')) end--;
            f->len = end - f->start;
        }
        if (i < len && text[i] == ',') {
            i++;
            continue;
        }
        if (i < len) { /* '\n' */
            i++;
            (*line)++;
        }
        break;
    }
    *pos = i;
    return SPK_OK;
}

static bool spk__blank_line(const char *text, size_t len, size_t pos, size_t *next) {
    size_t i = pos;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r')) i++;
    if (i < len && text[i] != '\n') return false;
    *next = i < len ? i + 1 : i;
    return true;
}

/* Appends CSV rows; `line` is the number of the text's first line. */
static spk_status spk__append_text_lines(spk_table *t, const char *text, size_t len, size_t line) {
    spk__scratch s;
    memset(&s, 0, sizeof s);
    s.alloc = t->alloc;
    spk__table_mark mark = spk__table_mark_get(t);
    spk_status st = spk__grow(s.alloc, (void **)&s.values, &s.values_cap, (size_t)t->ncols + 1, sizeof *s.values);
    size_t pos = 0;
    while (st == SPK_OK && pos < len) {
        size_t next;
        if (spk__blank_line(text, len, pos, &next)) {
            pos = next;
            line++;
            continue;
        }
        size_t record_line = line;
        st = spk__csv_record(&s, text, len, &pos, &line);
        if (st != SPK_OK) break;
        if (s.nfields != (size_t)t->ncols) {
            st = spk__fail(SPK_ERR_PARSE, "line %zu: expected %d fields, found %zu", record_line, t->ncols, s.nfields);
            break;
        }
        for (int c = 0; c < t->ncols && st == SPK_OK; c++) {
            const spk__csv_field *f = &s.fields[c];
            const char *p = !f->quoted ? text + f->start : s.text ? s.text + f->start : "";
            const spk_field *field = spk_schema_field(t->schema, c);
            if (!f->quoted && (f->len == 0 || (f->len == 4 && (memcmp(p, "NULL", 4) == 0 || memcmp(p, "null", 4) == 0)))) {
                s.values[c] = spk_value_null();
                continue;
            }
            st = spk_value_parse(field->type, p, f->len, &s.values[c]);
            if (st != SPK_OK) spk__fail_prefix("line %zu, column %d (`%s`): ", record_line, c + 1, field->name);
        }
        if (st != SPK_OK) break;
        st = spk__append_one(t, s.values);
        if (st != SPK_OK) spk__fail_prefix("line %zu, ", record_line);
    }
    if (st != SPK_OK) spk__table_rollback(t, mark);
    spk__scratch_free(&s);
    return st;
}

SPKDEF spk_status spk_table_append_text(spk_table *t, const char *text, size_t len) {
    if (!t || !text) return spk__fail(SPK_ERR_ARG, "spk_table_append_text: NULL argument");
    if (spk__table_shared(t)) return spk__fail_shared("spk_table_append_text");
    if (len == (size_t)-1) len = strlen(text);
    return spk__append_text_lines(t, text, len, 1);
}

SPKDEF spk_status spk_table_from_fixture(const spk_allocator *alloc, const char *text, spk_table **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_table_from_fixture: NULL output");
    *out = NULL;
    if (!text) return spk__fail(SPK_ERR_ARG, "spk_table_from_fixture: NULL text");
    size_t len = strlen(text), pos = 0, line = 1, next;
    while (pos < len && spk__blank_line(text, len, pos, &next)) pos = next, line++;
    size_t eol = pos;
    while (eol < len && text[eol] != '\n') eol++;
    spk_schema *schema = NULL;
    spk_status st = spk__schema_parse_span(alloc, text + pos, eol - pos, &schema);
    if (st != SPK_OK) {
        spk__fail_prefix("fixture line %zu (the schema): ", line);
        return st;
    }
    spk_table *t = NULL;
    st = spk_table_new(alloc, schema, &t);
    spk_schema_release(schema);
    if (st != SPK_OK) return st;
    if (eol < len) st = spk__append_text_lines(t, text + eol + 1, len - eol - 1, line + 1);
    if (st != SPK_OK) {
        spk_table_free(t);
        return st;
    }
    *out = t;
    return SPK_OK;
}

/* ---- src/taskq.c ---- */
/* taskq implementation */

/* ---------------------------------------------------------------- threads
 * Workers are C11 <threads.h> threads with mtx_t and cnd_t, except under
 * ThreadSanitizer. The TSan runtimes of gcc 12 and clang 14 do not intercept
 * glibc's C11 thread functions (since glibc 2.34 they call the pthreads
 * implementation internally, not through the symbols TSan replaces): a
 * thread started with thrd_create has no TSan state and crashes on its first
 * instrumented access, and mtx_lock/cnd_wait still work but are invisible to
 * TSan, which then reports the data they guard as races. So under TSan the
 * same code runs on pthreads, which TSan does intercept. The wrappers below
 * are the only place that knows. */
#if defined(__SANITIZE_THREAD__)
#define SPK__PTHREADS 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SPK__PTHREADS 1
#endif
#endif

#ifdef SPK__PTHREADS
#include <pthread.h>
typedef struct spk__thread {
    pthread_t handle;
    int (*fn)(void *);
    void *arg;
} spk__thread;
static void *spk__thread_trampoline(void *p) {
    spk__thread *t = (spk__thread *)p;
    t->fn(t->arg);
    return NULL;
}
/* `t` must stay where it is until joined: the new thread reads fn and arg from it. */
static int spk__thread_start(spk__thread *t, int (*fn)(void *), void *arg) {
    t->fn = fn;
    t->arg = arg;
    return pthread_create(&t->handle, NULL, spk__thread_trampoline, t) == 0 ? thrd_success : thrd_error;
}
static void spk__thread_join(spk__thread *t) { pthread_join(t->handle, NULL); }

typedef pthread_mutex_t spk__mutex;
typedef pthread_cond_t spk__cond;
static bool spk__mutex_init(spk__mutex *m) { return pthread_mutex_init(m, NULL) == 0; }
static void spk__mutex_destroy(spk__mutex *m) { pthread_mutex_destroy(m); }
static void spk__mutex_lock(spk__mutex *m) { pthread_mutex_lock(m); }
static void spk__mutex_unlock(spk__mutex *m) { pthread_mutex_unlock(m); }
static bool spk__mutex_trylock(spk__mutex *m) { return pthread_mutex_trylock(m) == 0; }
typedef pthread_once_t spk__once_flag;
#define SPK__ONCE_INIT PTHREAD_ONCE_INIT
static void spk__call_once(spk__once_flag *flag, void (*fn)(void)) { pthread_once(flag, fn); }
static bool spk__cond_init(spk__cond *c) { return pthread_cond_init(c, NULL) == 0; }
static void spk__cond_destroy(spk__cond *c) { pthread_cond_destroy(c); }
static void spk__cond_wait(spk__cond *c, spk__mutex *m) { pthread_cond_wait(c, m); }
static void spk__cond_signal(spk__cond *c) { pthread_cond_signal(c); }
static void spk__cond_broadcast(spk__cond *c) { pthread_cond_broadcast(c); }
#else
typedef struct spk__thread {
    thrd_t handle;
} spk__thread;
/* Returns thrd_success, thrd_nomem or thrd_error, as thrd_create. */
static int spk__thread_start(spk__thread *t, int (*fn)(void *), void *arg) {
    return thrd_create(&t->handle, fn, arg);
}
static void spk__thread_join(spk__thread *t) { thrd_join(t->handle, NULL); }

typedef mtx_t spk__mutex;
typedef cnd_t spk__cond;
static bool spk__mutex_init(spk__mutex *m) { return mtx_init(m, mtx_plain) == thrd_success; }
static void spk__mutex_destroy(spk__mutex *m) { mtx_destroy(m); }
static void spk__mutex_lock(spk__mutex *m) { mtx_lock(m); }
static void spk__mutex_unlock(spk__mutex *m) { mtx_unlock(m); }
static bool spk__mutex_trylock(spk__mutex *m) { return mtx_trylock(m) == thrd_success; }
typedef once_flag spk__once_flag;
#define SPK__ONCE_INIT ONCE_FLAG_INIT
static void spk__call_once(spk__once_flag *flag, void (*fn)(void)) { call_once(flag, fn); }
static bool spk__cond_init(spk__cond *c) { return cnd_init(c) == thrd_success; }
static void spk__cond_destroy(spk__cond *c) { cnd_destroy(c); }
static void spk__cond_wait(spk__cond *c, spk__mutex *m) { cnd_wait(c, m); }
static void spk__cond_signal(spk__cond *c) { cnd_signal(c); }
static void spk__cond_broadcast(spk__cond *c) { cnd_broadcast(c); }
#endif

#ifndef SPK_DEFAULT_THREADS
#define SPK_DEFAULT_THREADS 2
#endif

/* Distance that keeps two hot variables off each other's cache lines: two
 * 64-byte lines, because Intel cores prefetch lines in adjacent pairs and
 * Apple's cores have 128-byte lines. */
#define SPK__CACHE_LINE 128

/* Waiting: the first few retries re-read at once (what is awaited is usually
 * a few instructions away in another thread), every later one yields. */
#define SPK__SPIN_TRIES 8

static void spk__backoff(int *tries) {
    if (*tries < SPK__SPIN_TRIES)
        (*tries)++;
    else
        thrd_yield();
}

/* ---------------------------------------------------------------- the ring
 * Positions. push_pos is the position the next push claims, pop_pos the one
 * the next pop claims; both only grow (modulo 2^N, N the width of size_t),
 * and position p lives in cell p & mask. push_pos - pop_pos, modulo 2^N, is
 * the number of items, counting pushes that have claimed a position but not
 * yet stored their item (a pop waits for those).
 *
 * Turns. Each cell's `turn` says which operation may use it next, for the
 * position p it currently serves:
 *     2p      empty, awaiting the push of position p;
 *     2p + 1  holds the item of position p, awaiting its pop.
 * The pop of p hands the cell to position p + capacity: turn 2(p + capacity).
 * Doubling keeps "holds p" (2p + 1) apart from "empty, awaiting p + 1"
 * (2p + 2), which would otherwise be the same number when capacity is 1.
 *
 * Wraparound. All of this is unsigned arithmetic modulo 2^N, which C defines
 * (no signed overflow anywhere); the capacity divides 2^N, so p & mask stays
 * right across the wrap, and turns, at twice the speed, wrap consistently
 * with their positions. Two turns that are compared differ by at most about
 * 2 * capacity, plus twice the operations other threads complete while one
 * thread holds a stale position between two loads; with capacity <=
 * SPK_TASKQ_MAX_CAPACITY = 2^(N-4) that stays far below SIZE_MAX / 2, so
 * "a comes before b" is "b - a, modulo 2^N, is in 1..SIZE_MAX/2"
 * (spk__wraps_before), exact across the wrap. spk_taskq_new_at starts the
 * positions anywhere, to test that. */

typedef struct spk__task {
    spk_task_fn fn;       /* NULL for a plain spk_taskq item */
    void *arg;            /* the task's argument, or the item */
    spk_waitgroup *group; /* the pool's wait-group that counts the task */
} spk__task;

typedef struct spk__taskq_cell {
    atomic_size_t turn;
    spk__task task; /* written by the push that owns the turn, read by the pop */
} spk__taskq_cell;

/* The hot positions are separated by padding, not alignas: objects come from
 * run-time allocators that promise only malloc's alignment, and an
 * over-aligned member in a block that is not aligned to match would be
 * undefined behaviour (UBSan reports it). Padding of a full SPK__CACHE_LINE
 * between them keeps them apart wherever the block starts. */
struct spk_taskq {
    /* Read-mostly: set at creation (closed: once), read by every call. */
    spk__taskq_cell *cells; /* inside the same block, aligned to 64 bytes */
    size_t mask;            /* capacity - 1 */
    const spk_allocator *alloc;
    size_t block_size;
    atomic_bool closed;
    char pad_shared[SPK__CACHE_LINE];
    atomic_size_t push_pos; /* producers' line */
    char pad_push[SPK__CACHE_LINE];
    atomic_size_t pop_pos; /* consumers' line */
    char pad_pop[SPK__CACHE_LINE];
};

static size_t spk__turn_empty(size_t pos) { return pos * 2; }
static size_t spk__turn_full(size_t pos) { return pos * 2 + 1; }
static bool spk__wraps_before(size_t a, size_t b) {
    size_t d = b - a;
    return d != 0 && d <= SIZE_MAX / 2;
}

/* Memory orders, once for all the operations below.
 *
 * - turn: a push stores its cell's new turn with release after writing the
 *   task, and a pop loads it with acquire before reading the task, so the
 *   task (and everything the pusher did before) is visible to the popper.
 *   The pop's release store after reading, with the next push's acquire
 *   load, orders that read before the next lap's write into the same cell.
 *   This pair is what makes the cell's plain `task` field race-free.
 * - push_pos / pop_pos claiming CAS: seq_cst. Claiming needs no ordering of
 *   its own (the turn does the handing over), but the exact "full" and
 *   "empty" answers need every thread to agree on one order of all position
 *   changes, S: such an answer is a snapshot of both positions at one point
 *   of S (spk__taskq_snapshot). With acquire/release, two threads could see
 *   a push and a pop happen in opposite orders (the IRIW shape) and report
 *   "full" and "empty" about the same state. The pool's no-lost-wake-up
 *   argument relies on the same order. On x86 a CAS is a locked instruction
 *   whatever its order, so this costs nothing there. The CAS's failure order
 *   is relaxed: a failed CAS only refreshes the position, and the next turn
 *   load (acquire) or the snapshot re-establishes anything that matters.
 * - The first position load of an operation is relaxed: it is a guess that
 *   the turn check and the CAS validate.
 * - Snapshot loads (only when the queue looks full or empty): seq_cst, so
 *   that they take their place in S.
 * - closed: close stores with release and the blocking pop loads with
 *   acquire, so the pushes that happened before close are visible to its
 *   final try. A push reads it relaxed: it only decides whether to start,
 *   and a close that happened before the push is seen anyway (coherence). */

/* Reads a pair of positions that were both current at one point of S:
 * `first` is read twice around `other` and must be unchanged (it only
 * grows, so unchanged means it held that value throughout). False if it
 * moved, with *first_now set to its newer value. */
static bool spk__taskq_snapshot(atomic_size_t *first, atomic_size_t *other, size_t *first_now,
                                size_t *other_now) {
    size_t before = atomic_load_explicit(first, memory_order_seq_cst);
    *other_now = atomic_load_explicit(other, memory_order_seq_cst);
    *first_now = atomic_load_explicit(first, memory_order_seq_cst);
    return before == *first_now;
}

static bool spk__taskq_try_push_task(spk_taskq *q, const spk__task *task) {
    if (atomic_load_explicit(&q->closed, memory_order_relaxed)) return false;
    size_t pos = atomic_load_explicit(&q->push_pos, memory_order_relaxed);
    int tries = 0;
    for (;;) {
        spk__taskq_cell *cell = &q->cells[pos & q->mask];
        size_t turn = atomic_load_explicit(&cell->turn, memory_order_acquire);
        if (turn == spk__turn_empty(pos)) {
            if (atomic_compare_exchange_weak_explicit(&q->push_pos, &pos, pos + 1, memory_order_seq_cst,
                                                      memory_order_relaxed)) {
                cell->task = *task;
                atomic_store_explicit(&cell->turn, spk__turn_full(pos), memory_order_release);
                return true;
            }
            continue; /* another push took pos (pos now holds the newer value) or a spurious failure */
        }
        if (!spk__wraps_before(turn, spk__turn_empty(pos))) {
            /* The cell is past pos: other pushes took it; catch up. */
            pos = atomic_load_explicit(&q->push_pos, memory_order_relaxed);
            continue;
        }
        /* The cell still serves position pos - capacity: its item is not
         * popped yet, or its pop has claimed it but not handed it back. Full
         * only in the first case, i.e. if pos - pop_pos == capacity at one
         * instant while push_pos == pos. */
        size_t push_now, pop_now;
        if (spk__taskq_snapshot(&q->push_pos, &q->pop_pos, &push_now, &pop_now) && push_now == pos) {
            if (pos - pop_now > q->mask) return false; /* full */
            spk__backoff(&tries); /* a pop is handing the cell back: wait for it */
        }
        pos = push_now;
    }
}

static bool spk__taskq_try_pop_task(spk_taskq *q, spk__task *out) {
    size_t pos = atomic_load_explicit(&q->pop_pos, memory_order_relaxed);
    int tries = 0;
    for (;;) {
        spk__taskq_cell *cell = &q->cells[pos & q->mask];
        size_t turn = atomic_load_explicit(&cell->turn, memory_order_acquire);
        if (turn == spk__turn_full(pos)) {
            if (atomic_compare_exchange_weak_explicit(&q->pop_pos, &pos, pos + 1, memory_order_seq_cst,
                                                      memory_order_relaxed)) {
                *out = cell->task;
                atomic_store_explicit(&cell->turn, spk__turn_empty(pos + q->mask + 1), memory_order_release);
                return true;
            }
            continue;
        }
        if (!spk__wraps_before(turn, spk__turn_full(pos))) {
            /* The cell is past pos: other pops took it; catch up. */
            pos = atomic_load_explicit(&q->pop_pos, memory_order_relaxed);
            continue;
        }
        /* The item of position pos is not in the cell yet. Empty only if no
         * push has claimed pos, i.e. push_pos == pos == pop_pos at one
         * instant; otherwise a push is between its claim and its store. */
        size_t pop_now, push_now;
        if (spk__taskq_snapshot(&q->pop_pos, &q->push_pos, &pop_now, &push_now) && pop_now == pos) {
            if (push_now == pos) return false; /* empty */
            spk__backoff(&tries);              /* a push is storing its item: wait for it */
        }
        pos = pop_now;
    }
}

static spk_status spk__taskq_create(const spk_allocator *alloc, size_t capacity, size_t start_pos,
                                    const char *caller, spk_taskq **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "%s: NULL output", caller);
    if (capacity == 0) return spk__fail(SPK_ERR_ARG, "%s: capacity must be at least 1", caller);
    if (capacity > SPK_TASKQ_MAX_CAPACITY)
        return spk__fail(SPK_ERR_LIMIT, "%s: capacity %zu is above the maximum %zu", caller, capacity,
                         (size_t)SPK_TASKQ_MAX_CAPACITY);
    size_t rounded = 1;
    while (rounded < capacity) rounded *= 2; /* cannot overflow: capacity <= 2^(N-4) */
    alloc = spk__allocator_or_default(alloc);

    /* One block: the header, up to 63 bytes to align the cells to 64, the cells. */
    size_t cells_bytes, block;
    if (spk__mul_overflows(rounded, sizeof(spk__taskq_cell), &cells_bytes) ||
        cells_bytes > SIZE_MAX - sizeof(spk_taskq) - 63)
        return spk__fail(SPK_ERR_LIMIT, "%s: %zu cells do not fit in memory", caller, rounded);
    block = sizeof(spk_taskq) + 63 + cells_bytes;
    char *raw = (char *)spk__alloc(alloc, block);
    if (!raw) return spk__nomem("a task queue", block);

    spk_taskq *q = (spk_taskq *)raw;
    memset(q, 0, sizeof *q);
    char *after = raw + sizeof *q;
    size_t misalign = (size_t)((uintptr_t)after % 64);
    q->cells = (spk__taskq_cell *)(after + (64 - misalign) % 64);
    q->mask = rounded - 1;
    q->alloc = alloc;
    q->block_size = block;
    atomic_init(&q->closed, false);
    atomic_init(&q->push_pos, start_pos);
    atomic_init(&q->pop_pos, start_pos);
    /* Position start_pos + k (k < capacity) is served first by cell
     * (start_pos + k) & mask, which awaits its push. */
    for (size_t k = 0; k < rounded; k++) {
        spk__taskq_cell *cell = &q->cells[(start_pos + k) & q->mask];
        atomic_init(&cell->turn, spk__turn_empty(start_pos + k));
        cell->task.fn = NULL;
        cell->task.arg = NULL;
        cell->task.group = NULL;
    }
    *out = q;
    return SPK_OK;
}

SPKDEF spk_status spk_taskq_new(const spk_allocator *alloc, size_t capacity, spk_taskq **out) {
    return spk__taskq_create(alloc, capacity, 0, "spk_taskq_new", out);
}

SPKDEF spk_status spk_taskq_new_at(const spk_allocator *alloc, size_t capacity, size_t start_pos,
                                   spk_taskq **out) {
    return spk__taskq_create(alloc, capacity, start_pos, "spk_taskq_new_at", out);
}

SPKDEF void spk_taskq_free(spk_taskq *q) {
    if (q) spk__free(q->alloc, q, q->block_size);
}

SPKDEF size_t spk_taskq_capacity(const spk_taskq *q) { return q->mask + 1; }

SPKDEF size_t spk_taskq_size(spk_taskq *q) {
    /* pop_pos first: push_pos read later is at least what it was then, and
     * that was at least pop_pos, so the difference cannot go below zero. It
     * can exceed the capacity if pops and pushes ran in between: clamp. */
    size_t pop = atomic_load_explicit(&q->pop_pos, memory_order_seq_cst);
    size_t push = atomic_load_explicit(&q->push_pos, memory_order_seq_cst);
    size_t n = push - pop;
    return n > q->mask + 1 ? q->mask + 1 : n;
}

SPKDEF bool spk_taskq_try_push(spk_taskq *q, void *item) {
    spk__task task = {NULL, item, NULL};
    return spk__taskq_try_push_task(q, &task);
}

SPKDEF bool spk_taskq_try_pop(spk_taskq *q, void **item) {
    spk__task task;
    if (!spk__taskq_try_pop_task(q, &task)) return false;
    *item = task.arg;
    return true;
}

SPKDEF bool spk_taskq_push(spk_taskq *q, void *item) {
    spk__task task = {NULL, item, NULL};
    int tries = 0;
    while (!spk__taskq_try_push_task(q, &task)) {
        if (atomic_load_explicit(&q->closed, memory_order_relaxed)) return false;
        spk__backoff(&tries);
    }
    return true;
}

SPKDEF bool spk_taskq_pop(spk_taskq *q, void **item) {
    int tries = 0;
    for (;;) {
        if (spk_taskq_try_pop(q, item)) return true;
        /* Closed and we just saw it empty: one more try, after the acquire
         * load, catches every push that happened before the close. */
        if (atomic_load_explicit(&q->closed, memory_order_acquire)) return spk_taskq_try_pop(q, item);
        spk__backoff(&tries);
    }
}

SPKDEF void spk_taskq_close(spk_taskq *q) { atomic_store_explicit(&q->closed, true, memory_order_release); }

SPKDEF bool spk_taskq_is_closed(spk_taskq *q) {
    return atomic_load_explicit(&q->closed, memory_order_acquire);
}

/* ---------------------------------------------------------------- cores */

SPKDEF int spk_cpu_list_count(const char *list) {
    if (!list) return -1;
    const char *p = list;
    long count = 0;
    for (;;) {
        long first = 0, last;
        if (!spk__is_digit((unsigned char)*p)) return -1;
        for (; spk__is_digit((unsigned char)*p); p++) {
            first = first * 10 + (*p - '0');
            if (first > (1L << 22)) return -1; /* no CPU number is that large */
        }
        last = first;
        if (*p == '-') {
            p++;
            if (!spk__is_digit((unsigned char)*p)) return -1;
            for (last = 0; spk__is_digit((unsigned char)*p); p++) {
                last = last * 10 + (*p - '0');
                if (last > (1L << 22)) return -1;
            }
            if (last < first) return -1;
        }
        count += last - first + 1;
        if (count > INT_MAX) return -1;
        if (*p == ',') {
            p++;
            continue;
        }
        while (spk__is_space((unsigned char)*p)) p++;
        return *p == '\0' ? (int)count : -1;
    }
}

SPKDEF int spk_cpu_count(void) {
#if defined(__linux__)
    /* Not sysconf(_SC_NPROCESSORS_ONLN): under -std=c11 <unistd.h> hides it
     * unless feature macros come before the first system header, which a
     * header library cannot arrange. */
    FILE *f = fopen("/sys/devices/system/cpu/online", "r");
    if (f) {
        char text[4096];
        size_t n = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[n] = '\0';
        int count = spk_cpu_list_count(text);
        if (count >= 1) return count;
    }
#endif
    return SPK_DEFAULT_THREADS >= 1 ? SPK_DEFAULT_THREADS : 1;
}

/* ---------------------------------------------------------------- the pool
 * Wake-ups. An idle worker announces itself in `sleepers` (under the lock)
 * before its last look at the queue, then waits on `work_ready` without
 * letting go of the lock in between. A submit pushes its task and then reads
 * `sleepers`; if it is not zero, it signals under the lock. No wake-up is
 * lost: the worker's increment and its look at the queue, and the submit's
 * push (its claiming CAS) and its read of sleepers, are all seq_cst, so in
 * their single order S either
 *   - the submit's read comes after the increment: it sees a sleeper and
 *     signals; it can take the lock only once the worker is inside cnd_wait
 *     (which releases the lock atomically) or has left with a task, so the
 *     signal is not sent into the gap between the look and the wait; or
 *   - the read comes before the increment: then the push came before it too,
 *     and the worker's look (a try_pop whose "empty" answer is a seq_cst
 *     snapshot of both positions) sees push_pos past pop_pos, so it does not
 *     answer empty: it takes the task (waiting for the push to store it if
 *     need be) instead of sleeping.
 * The worker stays counted in `sleepers` while it re-checks after each wake,
 * so the same holds for every wait of its loop.
 *
 * Wait-groups. `pending` counts a group's unfinished tasks. Every decrement
 * is a release and the waiter's load an acquire, and decrements are
 * read-modify-writes (one release sequence), so a waiter that sees zero sees
 * everything every task of the group did. A decrement that may be the last
 * one is done under the pool's lock, and the waiter looks at the count under
 * the lock before it returns; so once a waiter has seen zero, no finishing
 * task will touch the group again, and it may be freed. The same lock and
 * `group_done` condition make that last decrement's wake-up impossible to
 * lose (the usual monitor argument). */

struct spk_waitgroup {
    atomic_size_t pending; /* tasks submitted through the group and not finished */
    spk_pool *pool;
};

struct spk_pool {
    const spk_allocator *alloc;
    spk_taskq *queue;
    spk__thread *threads;
    int nthreads;
    int started;            /* threads running (to join) */
    spk__mutex lock;             /* guards stopping, and the waits on the two conditions */
    spk__cond work_ready;       /* idle workers wait here for tasks or for stopping */
    spk__cond group_done;       /* wait-group waiters wait here */
    bool lock_made, work_ready_made, group_done_made; /* what to destroy */
    bool stopping;          /* under lock */
    atomic_int sleepers;    /* idle workers in (or about to enter) cnd_wait */
    spk_waitgroup own;      /* the group of spk_pool_submit / spk_pool_wait */
};

static _Thread_local int spk__pool_failing_thread;

SPKDEF void spk_pool_fail_thread_start(int worker) { spk__pool_failing_thread = worker; }

static void spk__group_finish(spk_waitgroup *g) {
    size_t n = atomic_load_explicit(&g->pending, memory_order_relaxed);
    while (n > 1)
        if (atomic_compare_exchange_weak_explicit(&g->pending, &n, n - 1, memory_order_release,
                                                  memory_order_relaxed))
            return; /* not the last: the group still has work, nobody can free it */
    /* Maybe the last one: see "Wait-groups" above for why under the lock. */
    spk_pool *pool = g->pool;
    spk__mutex_lock(&pool->lock);
    if (atomic_fetch_sub_explicit(&g->pending, 1, memory_order_release) == 1)
        spk__cond_broadcast(&pool->group_done);
    spk__mutex_unlock(&pool->lock);
}

static void spk__pool_run(const spk__task *task) {
    task->fn(task->arg);
    spk__group_finish(task->group);
}

static int spk__pool_worker(void *arg) {
    spk_pool *pool = (spk_pool *)arg;
    spk__task task;
    for (;;) {
        /* Busy: take the next task. A couple of yields before sleeping spare
         * the lock and condition variable when tasks come in bursts. */
        bool got = false;
        for (int look = 0; look < 3 && !(got = spk__taskq_try_pop_task(pool->queue, &task)); look++)
            thrd_yield();
        if (!got) {
            spk__mutex_lock(&pool->lock);
            atomic_fetch_add_explicit(&pool->sleepers, 1, memory_order_seq_cst);
            while (!(got = spk__taskq_try_pop_task(pool->queue, &task)) && !pool->stopping)
                spk__cond_wait(&pool->work_ready, &pool->lock);
            /* relaxed: a submit that still sees this worker counted merely
             * signals once more than needed */
            atomic_fetch_sub_explicit(&pool->sleepers, 1, memory_order_relaxed);
            spk__mutex_unlock(&pool->lock);
            if (!got) return 0; /* stopping, and the queue is drained */
        }
        spk__pool_run(&task);
    }
}

/* Stops and joins the started workers, then frees everything. */
static void spk__pool_destroy(spk_pool *pool) {
    if (pool->started > 0) {
        spk__mutex_lock(&pool->lock);
        pool->stopping = true;
        spk__cond_broadcast(&pool->work_ready);
        spk__mutex_unlock(&pool->lock);
        for (int i = 0; i < pool->started; i++) spk__thread_join(&pool->threads[i]);
    }
    if (pool->group_done_made) spk__cond_destroy(&pool->group_done);
    if (pool->work_ready_made) spk__cond_destroy(&pool->work_ready);
    if (pool->lock_made) spk__mutex_destroy(&pool->lock);
    spk_taskq_free(pool->queue);
    spk__free(pool->alloc, pool->threads, (size_t)pool->nthreads * sizeof *pool->threads);
    spk__free(pool->alloc, pool, sizeof *pool);
}

SPKDEF spk_status spk_pool_new(const spk_allocator *alloc, int nthreads, size_t queue_capacity,
                               spk_pool **out) {
    int failing_thread = spk__pool_failing_thread;
    spk__pool_failing_thread = 0;
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_pool_new: NULL output");
    if (nthreads < 0 || nthreads > SPK_POOL_MAX_THREADS)
        return spk__fail(SPK_ERR_ARG, "spk_pool_new: %d worker threads (expected 0 to %d; 0 = one per core)",
                         nthreads, SPK_POOL_MAX_THREADS);
    if (nthreads == 0) {
        nthreads = spk_cpu_count();
        if (nthreads > SPK_POOL_MAX_THREADS) nthreads = SPK_POOL_MAX_THREADS;
    }
    if (queue_capacity == 0) queue_capacity = SPK_POOL_DEFAULT_QUEUE;
    alloc = spk__allocator_or_default(alloc);

    spk_pool *pool = (spk_pool *)spk__calloc(alloc, sizeof *pool);
    if (!pool) return spk__nomem("a thread pool", sizeof *pool);
    pool->alloc = alloc;
    pool->nthreads = nthreads;
    atomic_init(&pool->sleepers, 0);
    atomic_init(&pool->own.pending, 0);
    pool->own.pool = pool;

    spk_status st = SPK_OK;
    size_t threads_bytes = (size_t)nthreads * sizeof *pool->threads;
    pool->threads = (spk__thread *)spk__calloc(alloc, threads_bytes);
    if (!pool->threads) {
        st = spk__nomem("the pool's threads", threads_bytes);
        goto fail;
    }
    st = spk_taskq_new(alloc, queue_capacity, &pool->queue);
    if (st != SPK_OK) {
        spk__fail_prefix("spk_pool_new: ");
        goto fail;
    }
    if (!spk__mutex_init(&pool->lock)) goto fail_sync;
    pool->lock_made = true;
    if (!spk__cond_init(&pool->work_ready)) goto fail_sync;
    pool->work_ready_made = true;
    if (!spk__cond_init(&pool->group_done)) goto fail_sync;
    pool->group_done_made = true;

    for (int i = 0; i < nthreads; i++) {
        int rc = i + 1 == failing_thread ? thrd_error
                                         : spk__thread_start(&pool->threads[i], spk__pool_worker, pool);
        if (rc != thrd_success) {
            st = spk__fail(rc == thrd_nomem ? SPK_ERR_NOMEM : SPK_ERR_LIMIT,
                           "spk_pool_new: cannot start worker thread %d of %d (%s)", i + 1, nthreads,
                           rc == thrd_nomem ? "out of memory" : "the system refused a new thread");
            goto fail;
        }
        pool->started++;
    }
    *out = pool;
    return SPK_OK;

fail_sync:
    st = spk__fail(SPK_ERR_NOMEM, "spk_pool_new: cannot create the pool's mutex or condition variables");
fail:
    spk__pool_destroy(pool);
    return st;
}

SPKDEF void spk_pool_free(spk_pool *pool) {
    if (pool) spk__pool_destroy(pool);
}

SPKDEF int spk_pool_nthreads(const spk_pool *pool) { return pool->nthreads; }

static spk_status spk__pool_submit(spk_pool *pool, spk_waitgroup *group, spk_task_fn fn, void *arg,
                                   const char *caller) {
    if (!fn) return spk__fail(SPK_ERR_ARG, "%s: NULL task function", caller);
    spk__task task = {fn, arg, group};
    /* relaxed: the task's own finish can only follow this through the
     * queue's release/acquire hand-over, and a wait in this thread follows
     * it in program order; either way it is seen. */
    atomic_fetch_add_explicit(&group->pending, 1, memory_order_relaxed);
    while (!spk__taskq_try_push_task(pool->queue, &task)) {
        /* Full: make room by running a queued task here instead of waiting
         * for a worker, so that tasks submitting tasks cannot deadlock. */
        spk__task other;
        if (spk__taskq_try_pop_task(pool->queue, &other))
            spk__pool_run(&other);
        else
            thrd_yield(); /* emptied meanwhile: the next push will get in */
    }
    /* seq_cst: pairs with the worker's increment; see "Wake-ups" above. */
    if (atomic_load_explicit(&pool->sleepers, memory_order_seq_cst) > 0) {
        spk__mutex_lock(&pool->lock);
        spk__cond_signal(&pool->work_ready);
        spk__mutex_unlock(&pool->lock);
    }
    return SPK_OK;
}

static void spk__group_wait(spk_waitgroup *g) {
    spk_pool *pool = g->pool;
    spk__task task;
    /* Help while the group has work left and the queue has tasks. */
    while (atomic_load_explicit(&g->pending, memory_order_acquire) != 0 &&
           spk__taskq_try_pop_task(pool->queue, &task))
        spk__pool_run(&task);
    /* The rest is running on workers: sleep until a group finishes. Always
     * through the lock, even if pending is already zero, so that the last
     * finisher has let go of the group before this returns. */
    spk__mutex_lock(&pool->lock);
    while (atomic_load_explicit(&g->pending, memory_order_acquire) != 0)
        spk__cond_wait(&pool->group_done, &pool->lock);
    spk__mutex_unlock(&pool->lock);
}

SPKDEF spk_status spk_pool_submit(spk_pool *pool, spk_task_fn fn, void *arg) {
    return spk__pool_submit(pool, &pool->own, fn, arg, "spk_pool_submit");
}

SPKDEF void spk_pool_wait(spk_pool *pool) { spk__group_wait(&pool->own); }

SPKDEF spk_status spk_waitgroup_new(spk_pool *pool, spk_waitgroup **out) {
    if (!pool || !out) return spk__fail(SPK_ERR_ARG, "spk_waitgroup_new: NULL argument");
    spk_waitgroup *g = (spk_waitgroup *)spk__alloc(pool->alloc, sizeof *g);
    if (!g) return spk__nomem("a wait-group", sizeof *g);
    atomic_init(&g->pending, 0);
    g->pool = pool;
    *out = g;
    return SPK_OK;
}

SPKDEF void spk_waitgroup_free(spk_waitgroup *group) {
    if (!group) return;
    SPK_ASSERT(atomic_load_explicit(&group->pending, memory_order_relaxed) == 0);
    spk__free(group->pool->alloc, group, sizeof *group);
}

SPKDEF spk_status spk_waitgroup_submit(spk_waitgroup *group, spk_task_fn fn, void *arg) {
    return spk__pool_submit(group->pool, group, fn, arg, "spk_waitgroup_submit");
}

SPKDEF void spk_waitgroup_wait(spk_waitgroup *group) { spk__group_wait(group); }

/* ---- src/expr.c ---- */
/* expr: expression nodes, builders, the SQL expression parser, and Spark's
 * text form of an expression. Typing and evaluation live in eval. */

typedef enum spk__op {
    SPK__OP_COL, SPK__OP_STAR, SPK__OP_LIT, SPK__OP_INTERVAL,
    SPK__OP_NEG, SPK__OP_NOT, SPK__OP_IS_NULL, SPK__OP_IS_NOT_NULL,
    SPK__OP_ADD, SPK__OP_SUB, SPK__OP_MUL, SPK__OP_DIV, SPK__OP_MOD, SPK__OP_INTDIV,
    SPK__OP_EQ, SPK__OP_NE, SPK__OP_LT, SPK__OP_LE, SPK__OP_GT, SPK__OP_GE, SPK__OP_EQ_NS,
    SPK__OP_AND, SPK__OP_OR,
    SPK__OP_IN, SPK__OP_LIKE, SPK__OP_RLIKE,
    SPK__OP_CASE, SPK__OP_CAST, SPK__OP_ALIAS, SPK__OP_CALL,
    SPK__OP_SORT, /* a sort key: args[0], with direction and NULL order; only in orderBy */
    SPK__OP_COUNT
} spk__op;

/* The SQL text a parsed expression came from, shared by its column and call
 * nodes so that errors found later (an unknown column at bind time) can
 * point a caret at the right place. */
typedef struct spk__source {
    atomic_int refs;
    size_t len;
    char text[]; /* len + 1 bytes */
} spk__source;

struct spk_expr {
    atomic_int refs;
    uint8_t op;        /* spk__op */
    bool distinct;     /* CALL: aggregate over distinct values */
    bool has_else;     /* CASE: the last argument is the ELSE value */
    bool descending;   /* SORT */
    bool nulls_first;  /* SORT */
    int nargs;
    spk_expr **args;   /* CASE: cond, value, cond, value, ..., [else] */
    char *name;        /* COL: column; ALIAS: alias; CALL: function; LIKE/RLIKE: pattern */
    char *qualifier;   /* COL: table or alias qualifier, or NULL */
    char *text;        /* LIT: the bytes of a string literal */
    spk_value lit;     /* LIT */
    spk_type type;     /* CAST: target type */
    int32_t months, days; /* INTERVAL */
    int64_t micros;       /* INTERVAL */
    int height;           /* 1 + the tallest child: bounded, so recursion is */
    spk__source *source;  /* COL, CALL from the parser: the text, and ... */
    size_t pos;           /* ... the node's byte offset in it */
    size_t size;       /* of this node's block (struct + args) */
};

static spk__source *spk__source_new(const char *text, size_t len) {
    spk__source *s = (spk__source *)spk__alloc(&spk__default_allocator, sizeof *s + len + 1);
    if (!s) {
        spk__nomem("the expression text", sizeof *s + len + 1);
        return NULL;
    }
    atomic_init(&s->refs, 1);
    s->len = len;
    memcpy(s->text, text, len);
    s->text[len] = '\0';
    return s;
}
static spk__source *spk__source_retain(spk__source *s) {
    if (s) atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}
static void spk__source_release(spk__source *s) {
    if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
        spk__free(&spk__default_allocator, s, sizeof *s + s->len + 1);
}

static const spk_allocator *spk__expr_alloc(void) { return &spk__default_allocator; }

/* Every recursive walk of a tree (binding, evaluation, release) is bounded
 * by this height, so no input can exhaust the stack. */
#define SPK_EXPR_MAX_DEPTH 1000

static void spk__free_string(char *s) {
    if (s) spk__free(spk__expr_alloc(), s, strlen(s) + 1);
}

static spk_expr *spk__expr_new(spk__op op, int nargs) {
    size_t size = sizeof(spk_expr) + (size_t)nargs * sizeof(spk_expr *);
    spk_expr *e = (spk_expr *)spk__calloc(spk__expr_alloc(), size);
    if (!e) {
        spk__nomem("an expression", size);
        return NULL;
    }
    atomic_init(&e->refs, 1);
    e->op = (uint8_t)op;
    e->nargs = nargs;
    e->args = nargs ? (spk_expr **)(void *)(e + 1) : NULL;
    e->size = size;
    e->height = 1;
    return e;
}

SPKDEF spk_expr *spk_expr_retain(spk_expr *e) {
    if (e) atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed); /* as spk_schema_retain */
    return e;
}

SPKDEF void spk_expr_release(spk_expr *e) {
    while (e && atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1) {
        /* Release children; the last one iteratively, so long chains such as
         * a + b + c + ... cannot exhaust the stack. */
        spk_expr *tail = NULL;
        for (int i = 0; i < e->nargs; i++) {
            if (i == e->nargs - 1) tail = e->args[i];
            else spk_expr_release(e->args[i]);
        }
        spk__free_string(e->name);
        spk__free_string(e->qualifier);
        spk__source_release(e->source);
        if (e->text) spk__free(spk__expr_alloc(), e->text, e->lit.as.str.len + 1);
        spk__free(spk__expr_alloc(), e, e->size);
        e = tail;
    }
}

static void spk__release_all(spk_expr *const *list, int n) {
    for (int i = 0; i < n; i++) spk_expr_release(list[i]);
}

/* A node with the given children; consumes them, also on failure. */
/* Sets e's height from its children; false (and an error) if too tall. */
static bool spk__set_height(spk_expr *e) {
    int h = 0;
    for (int i = 0; i < e->nargs; i++)
        if (e->args[i] && e->args[i]->height > h) h = e->args[i]->height;
    e->height = h + 1;
    if (e->height <= SPK_EXPR_MAX_DEPTH) return true;
    spk__fail(SPK_ERR_LIMIT, "expression nested more than %d levels deep", SPK_EXPR_MAX_DEPTH);
    return false;
}

static spk_expr *spk__node(spk__op op, spk_expr *const *args, int n) {
    int tallest = 0;
    for (int i = 0; i < n; i++) {
        if (!args[i]) {
            spk__release_all(args, n);
            return NULL;
        }
        if (args[i]->height > tallest) tallest = args[i]->height;
    }
    if (tallest >= SPK_EXPR_MAX_DEPTH) {
        spk__release_all(args, n);
        spk__fail(SPK_ERR_LIMIT, "expression nested more than %d levels deep", SPK_EXPR_MAX_DEPTH);
        return NULL;
    }
    spk_expr *e = spk__expr_new(op, n);
    if (!e) {
        spk__release_all(args, n);
        return NULL;
    }
    for (int i = 0; i < n; i++) e->args[i] = args[i];
    e->height = tallest + 1;
    return e;
}

static spk_expr *spk__unary(spk__op op, spk_expr *a) { return spk__node(op, &a, 1); }
static spk_expr *spk__binary(spk__op op, spk_expr *a, spk_expr *b) {
    spk_expr *args[2] = {a, b};
    return spk__node(op, args, 2);
}

/* Sets e->name to a copy of `name`; releases e and returns NULL on failure. */
static spk_expr *spk__with_name(spk_expr *e, const char *name, size_t len) {
    if (!e) return NULL;
    e->name = spk__strndup(spk__expr_alloc(), name, len);
    if (!e->name) {
        spk__nomem("a name", len + 1);
        spk_expr_release(e);
        return NULL;
    }
    return e;
}

/* ---------------------------------------------------------------- builders */

SPKDEF spk_expr *spk_col(const char *name) {
    if (!name) {
        spk__fail(SPK_ERR_ARG, "spk_col: NULL name");
        return NULL;
    }
    /* "t.col" is qualified; "`a.b`" is one quoted name (`` for a backtick);
     * "*" and "t.*" are stars, as in PySpark's col("*"). */
    size_t len = strlen(name);
    if (strcmp(name, "*") == 0) return spk_star();
    if (len > 2 && strcmp(name + len - 2, ".*") == 0 && name[0] != '`') {
        spk_expr *star = spk_star();
        if (star && !(star->qualifier = spk__strndup(spk__expr_alloc(), name, len - 2))) {
            spk__nomem("a qualifier", len - 1);
            spk_expr_release(star);
            star = NULL;
        }
        return star;
    }
    const char *qual = NULL, *col = name;
    size_t qual_len = 0, col_len = len;
    char unquoted[256];
    if (len >= 2 && name[0] == '`' && name[len - 1] == '`') {
        size_t k = 0;
        for (size_t i = 1; i + 1 < len && k < sizeof unquoted - 1; i++) {
            unquoted[k++] = name[i];
            if (name[i] == '`' && name[i + 1] == '`') i++;
        }
        col = unquoted;
        col_len = k;
    } else {
        const char *dot = strchr(name, '.');
        if (dot && dot != name && dot[1]) {
            qual = name;
            qual_len = (size_t)(dot - name);
            col = dot + 1;
            col_len = len - qual_len - 1;
        }
    }
    spk_expr *e = spk__with_name(spk__expr_new(SPK__OP_COL, 0), col, col_len);
    if (e && qual) {
        e->qualifier = spk__strndup(spk__expr_alloc(), qual, qual_len);
        if (!e->qualifier) {
            spk__nomem("a column qualifier", qual_len + 1);
            spk_expr_release(e);
            return NULL;
        }
    }
    return e;
}

SPKDEF spk_expr *spk_star(void) { return spk__expr_new(SPK__OP_STAR, 0); }

SPKDEF spk_expr *spk_lit(spk_value v) {
    if (!spk_type_valid(v.type)) {
        spk__fail(SPK_ERR_ARG, "spk_lit: invalid type");
        return NULL;
    }
    spk_expr *e = spk__expr_new(SPK__OP_LIT, 0);
    if (!e) return NULL;
    e->lit = v;
    if (v.is_null || v.type.id == SPK_TYPE_NULL) {
        e->lit = spk_value_null_of(v.type);
    } else if (v.type.id == SPK_TYPE_STRING) {
        e->text = spk__strndup(spk__expr_alloc(), v.as.str.ptr ? v.as.str.ptr : "", v.as.str.len);
        if (!e->text) {
            spk__nomem("a string literal", v.as.str.len + 1);
            spk__free(spk__expr_alloc(), e, e->size);
            return NULL;
        }
        e->lit.as.str.ptr = e->text;
    }
    return e;
}

SPKDEF spk_expr *spk_lit_null(void) { return spk_lit(spk_value_null()); }
SPKDEF spk_expr *spk_lit_bool(bool x) { return spk_lit(spk_value_bool(x)); }
SPKDEF spk_expr *spk_lit_i32(int32_t x) { return spk_lit(spk_value_i32(x)); }
SPKDEF spk_expr *spk_lit_i64(int64_t x) { return spk_lit(spk_value_i64(x)); }
SPKDEF spk_expr *spk_lit_f64(double x) { return spk_lit(spk_value_f64(x)); }
SPKDEF spk_expr *spk_lit_str(const char *s) { return spk_lit(s ? spk_value_str(s) : spk_value_null_of(spk_type_of(SPK_TYPE_STRING))); }
SPKDEF spk_expr *spk_lit_decimal(int64_t unscaled, int precision, int scale) {
    return spk_lit(spk_value_decimal(unscaled, precision, scale));
}
SPKDEF spk_expr *spk_lit_date(int year, int month, int day) {
    int32_t d;
    if (!spk_date_from_ymd(year, month, day, &d)) {
        spk__fail(SPK_ERR_ARG, "spk_lit_date: %04d-%02d-%02d is not a valid date", year, month, day);
        return NULL;
    }
    return spk_lit(spk_value_date(d));
}

SPKDEF spk_expr *spk_add(spk_expr *a, spk_expr *b) { return spk__binary(SPK__OP_ADD, a, b); }
SPKDEF spk_expr *spk_sub(spk_expr *a, spk_expr *b) { return spk__binary(SPK__OP_SUB, a, b); }
SPKDEF spk_expr *spk_mul(spk_expr *a, spk_expr *b) { return spk__binary(SPK__OP_MUL, a, b); }
SPKDEF spk_expr *spk_div(spk_expr *a, spk_expr *b) { return spk__binary(SPK__OP_DIV, a, b); }
SPKDEF spk_expr *spk_mod(spk_expr *a, spk_expr *b) { return spk__binary(SPK__OP_MOD, a, b); }
SPKDEF spk_expr *spk_intdiv(spk_expr *a, spk_expr *b) { return spk__binary(SPK__OP_INTDIV, a, b); }
SPKDEF spk_expr *spk_neg(spk_expr *a) { return spk__unary(SPK__OP_NEG, a); }
SPKDEF spk_expr *spk_eq(spk_expr *a, spk_expr *b) { return spk__binary(SPK__OP_EQ, a, b); }
/* Spark reads a != b as NOT (a = b), and names it so. */
SPKDEF spk_expr *spk_ne(spk_expr *a, spk_expr *b) { return spk_not(spk_eq(a, b)); }
SPKDEF spk_expr *spk_lt(spk_expr *a, spk_expr *b) { return spk__binary(SPK__OP_LT, a, b); }
SPKDEF spk_expr *spk_le(spk_expr *a, spk_expr *b) { return spk__binary(SPK__OP_LE, a, b); }
SPKDEF spk_expr *spk_gt(spk_expr *a, spk_expr *b) { return spk__binary(SPK__OP_GT, a, b); }
SPKDEF spk_expr *spk_ge(spk_expr *a, spk_expr *b) { return spk__binary(SPK__OP_GE, a, b); }
SPKDEF spk_expr *spk_eq_null_safe(spk_expr *a, spk_expr *b) { return spk__binary(SPK__OP_EQ_NS, a, b); }
SPKDEF spk_expr *spk_and(spk_expr *a, spk_expr *b) { return spk__binary(SPK__OP_AND, a, b); }
SPKDEF spk_expr *spk_or(spk_expr *a, spk_expr *b) { return spk__binary(SPK__OP_OR, a, b); }
SPKDEF spk_expr *spk_not(spk_expr *a) { return spk__unary(SPK__OP_NOT, a); }
SPKDEF spk_expr *spk_is_null(spk_expr *a) { return spk__unary(SPK__OP_IS_NULL, a); }
SPKDEF spk_expr *spk_is_not_null(spk_expr *a) { return spk__unary(SPK__OP_IS_NOT_NULL, a); }

SPKDEF spk_expr *spk_in_array(spk_expr *x, spk_expr *const *list, int n) {
    if (n < 1 || !list) {
        spk_expr_release(x);
        if (list) spk__release_all(list, n);
        spk__fail(SPK_ERR_ARG, "IN needs at least one value");
        return NULL;
    }
    spk_expr *stack[17] = {NULL}, **args = stack;
    size_t size = ((size_t)n + 1) * sizeof *args;
    if (n + 1 > 17 && !(args = (spk_expr **)spk__alloc(spk__expr_alloc(), size))) {
        spk__nomem("an IN list", size);
        spk_expr_release(x);
        spk__release_all(list, n);
        return NULL;
    }
    args[0] = x;
    for (int i = 0; i < n; i++) args[i + 1] = list[i];
    spk_expr *e = spk__node(SPK__OP_IN, args, n + 1);
    if (args != stack) spk__free(spk__expr_alloc(), args, size);
    return e;
}

SPKDEF spk_expr *spk_in(spk_expr *x, int n, ...) {
    spk_expr *stack[16] = {NULL}, **list = stack;
    size_t size = (size_t)(n > 0 ? n : 0) * sizeof *list;
    bool heap = n > 16;
    if (heap && !(list = (spk_expr **)spk__alloc(spk__expr_alloc(), size))) list = NULL;
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        spk_expr *item = va_arg(ap, spk_expr *);
        if (list) list[i] = item;
        else spk_expr_release(item);
    }
    va_end(ap);
    if (!list) {
        spk_expr_release(x);
        spk__nomem("an IN list", size);
        return NULL;
    }
    spk_expr *e = spk_in_array(x, list, n);
    if (heap) spk__free(spk__expr_alloc(), list, size);
    return e;
}

SPKDEF spk_expr *spk_between(spk_expr *x, spk_expr *lo, spk_expr *hi) {
    /* Spark rewrites BETWEEN to (x >= lo) AND (x <= hi); x is shared. */
    if (!x || !lo || !hi) {
        spk_expr_release(x);
        spk_expr_release(lo);
        spk_expr_release(hi);
        return NULL;
    }
    return spk_and(spk_ge(spk_expr_retain(x), lo), spk_le(x, hi));
}

static spk_expr *spk__pattern_node(spk__op op, spk_expr *x, const char *pattern) {
    if (!pattern) {
        spk_expr_release(x);
        spk__fail(SPK_ERR_ARG, "LIKE/RLIKE: NULL pattern");
        return NULL;
    }
    return spk__with_name(spk__unary(op, x), pattern, strlen(pattern));
}
SPKDEF spk_expr *spk_like(spk_expr *x, const char *pattern) { return spk__pattern_node(SPK__OP_LIKE, x, pattern); }
SPKDEF spk_expr *spk_rlike(spk_expr *x, const char *regex) { return spk__pattern_node(SPK__OP_RLIKE, x, regex); }

SPKDEF spk_expr *spk_when(spk_expr *prev, spk_expr *cond, spk_expr *value) {
    if ((prev && (prev->op != SPK__OP_CASE || prev->has_else)) || !cond || !value) {
        if (prev && (prev->op != SPK__OP_CASE || prev->has_else))
            spk__fail(SPK_ERR_ARG, "spk_when: the first argument must be NULL or a CASE without ELSE");
        spk_expr_release(prev);
        spk_expr_release(cond);
        spk_expr_release(value);
        return NULL;
    }
    int old = prev ? prev->nargs : 0;
    spk_expr *e = spk__expr_new(SPK__OP_CASE, old + 2);
    if (!e) {
        spk_expr_release(prev);
        spk_expr_release(cond);
        spk_expr_release(value);
        return NULL;
    }
    for (int i = 0; i < old; i++) e->args[i] = spk_expr_retain(prev->args[i]);
    e->args[old] = cond;
    e->args[old + 1] = value;
    spk_expr_release(prev);
    if (!spk__set_height(e)) {
        spk_expr_release(e);
        return NULL;
    }
    return e;
}

SPKDEF spk_expr *spk_otherwise(spk_expr *case_expr, spk_expr *value) {
    if (!case_expr || !value || case_expr->op != SPK__OP_CASE || case_expr->has_else) {
        if (case_expr && (case_expr->op != SPK__OP_CASE || case_expr->has_else))
            spk__fail(SPK_ERR_ARG, "spk_otherwise: the first argument must be a CASE without ELSE");
        spk_expr_release(case_expr);
        spk_expr_release(value);
        return NULL;
    }
    spk_expr *e = spk__expr_new(SPK__OP_CASE, case_expr->nargs + 1);
    if (!e) {
        spk_expr_release(case_expr);
        spk_expr_release(value);
        return NULL;
    }
    for (int i = 0; i < case_expr->nargs; i++) e->args[i] = spk_expr_retain(case_expr->args[i]);
    e->args[case_expr->nargs] = value;
    e->has_else = true;
    spk_expr_release(case_expr);
    if (!spk__set_height(e)) {
        spk_expr_release(e);
        return NULL;
    }
    return e;
}

SPKDEF spk_expr *spk_cast(spk_expr *x, spk_type to) {
    if (!spk_type_valid(to)) {
        spk_expr_release(x);
        spk__fail(SPK_ERR_ARG, "spk_cast: invalid target type");
        return NULL;
    }
    spk_expr *e = spk__unary(SPK__OP_CAST, x);
    if (e) e->type = to;
    return e;
}

SPKDEF spk_expr *spk_alias(spk_expr *x, const char *name) {
    if (!name || !name[0]) {
        spk_expr_release(x);
        spk__fail(SPK_ERR_ARG, "spk_alias: empty name");
        return NULL;
    }
    return spk__with_name(spk__unary(SPK__OP_ALIAS, x), name, strlen(name));
}

SPKDEF spk_expr *spk_call_array(const char *function, spk_expr *const *args, int n) {
    if (!function || n < 0 || (n && !args)) {
        if (args) spk__release_all(args, n);
        spk__fail(SPK_ERR_ARG, "spk_call: bad arguments");
        return NULL;
    }
    return spk__with_name(spk__node(SPK__OP_CALL, args, n), function, strlen(function));
}

SPKDEF spk_expr *spk_call(const char *function, int n, ...) {
    spk_expr *stack[16] = {NULL}, **args = stack;
    size_t size = (size_t)(n > 0 ? n : 0) * sizeof *args;
    bool heap = n > 16;
    if (heap && !(args = (spk_expr **)spk__alloc(spk__expr_alloc(), size))) args = NULL;
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        spk_expr *a = va_arg(ap, spk_expr *);
        if (args) args[i] = a;
        else spk_expr_release(a);
    }
    va_end(ap);
    if (!args) {
        spk__nomem("function arguments", size);
        return NULL;
    }
    spk_expr *e = spk_call_array(function, args, n);
    if (heap) spk__free(spk__expr_alloc(), args, size);
    return e;
}

SPKDEF spk_expr *spk_count_distinct(spk_expr *x) {
    spk_expr *e = spk_call("count", 1, x);
    if (e) e->distinct = true;
    return e;
}

/* ---------------------------------------------------------------- lexer */

typedef enum spk__tok_kind {
    SPK__TOK_END, SPK__TOK_IDENT, SPK__TOK_QUOTED_IDENT, SPK__TOK_STRING, SPK__TOK_NUMBER,
    SPK__TOK_SYMBOL
} spk__tok_kind;

typedef struct spk__tok {
    spk__tok_kind kind;
    size_t pos, len; /* in the source text */
    char sym[4];     /* SYMBOL: "(", "<=", "<=>", ... */
} spk__tok;

typedef struct spk__parser {
    spk__source *source; /* shared with the nodes that may need a caret later */
    const char *src;
    size_t len, pos;
    spk__tok tok; /* current token */
    int depth;
} spk__parser;

#define SPK__MAX_PARSE_DEPTH 200

static spk_status spk__parse_error(spk__parser *p, size_t pos, const char *fmt, ...) SPK__PRINTF(3, 4);
static spk_status spk__parse_error(spk__parser *p, size_t pos, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    spk__fail(SPK_ERR_PARSE, "[PARSE_SYNTAX_ERROR] %s", msg);
    spk__fail_caret(p->src, pos);
    return SPK_ERR_PARSE;
}

static spk_status spk__next(spk__parser *p) {
    const char *s = p->src;
    size_t i = p->pos;
    while (i < p->len && spk__is_space((unsigned char)s[i])) i++;
    spk__tok t;
    memset(&t, 0, sizeof t);
    t.pos = i;
    if (i >= p->len) {
        t.kind = SPK__TOK_END;
    } else if (spk__is_ident_start((unsigned char)s[i])) {
        while (i < p->len && spk__is_ident_char((unsigned char)s[i])) i++;
        t.kind = SPK__TOK_IDENT;
    } else if (spk__is_digit((unsigned char)s[i]) || (s[i] == '.' && i + 1 < p->len && spk__is_digit((unsigned char)s[i + 1]))) {
        while (i < p->len && spk__is_digit((unsigned char)s[i])) i++;
        if (i < p->len && s[i] == '.') {
            i++;
            while (i < p->len && spk__is_digit((unsigned char)s[i])) i++;
        }
        if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
            size_t j = i + 1;
            if (j < p->len && (s[j] == '+' || s[j] == '-')) j++;
            if (j < p->len && spk__is_digit((unsigned char)s[j])) {
                i = j;
                while (i < p->len && spk__is_digit((unsigned char)s[i])) i++;
            }
        }
        while (i < p->len && spk__is_ident_char((unsigned char)s[i])) i++; /* suffix: L, D, BD, ... */
        t.kind = SPK__TOK_NUMBER;
    } else if (s[i] == '\'' || s[i] == '"') {
        char q = s[i++];
        while (i < p->len && s[i] != q) {
            if (s[i] == '\\' && i + 1 < p->len) i++;
            i++;
        }
        if (i >= p->len) return spk__parse_error(p, t.pos, "unterminated string literal");
        i++;
        t.kind = SPK__TOK_STRING;
    } else if (s[i] == '`') {
        i++;
        for (;;) {
            if (i >= p->len) return spk__parse_error(p, t.pos, "unterminated `quoted` identifier");
            if (s[i] == '`') {
                if (i + 1 < p->len && s[i + 1] == '`') i += 2;
                else break;
            } else {
                i++;
            }
        }
        i++;
        t.kind = SPK__TOK_QUOTED_IDENT;
    } else {
        static const char *const symbols[] = {"<=>", "<=", ">=", "<>", "!=", "==", "||", "(", ")", ",",
                                              ".", "+", "-", "*", "/", "%", "=", "<", ">", "!"};
        t.kind = SPK__TOK_SYMBOL;
        for (size_t k = 0; k < sizeof symbols / sizeof symbols[0]; k++) {
            size_t n = strlen(symbols[k]);
            if (p->len - i >= n && memcmp(s + i, symbols[k], n) == 0) {
                memcpy(t.sym, symbols[k], n);
                i += n;
                break;
            }
        }
        if (!t.sym[0]) return spk__parse_error(p, t.pos, "unexpected character '%c'", s[i]);
    }
    t.len = i - t.pos;
    p->tok = t;
    p->pos = i;
    return SPK_OK;
}

static bool spk__tok_is_kw(const spk__parser *p, const char *kw) {
    return p->tok.kind == SPK__TOK_IDENT && spk__word_is(p->src + p->tok.pos, p->tok.len, kw);
}
static bool spk__tok_is_sym(const spk__parser *p, const char *sym) {
    return p->tok.kind == SPK__TOK_SYMBOL && strcmp(p->tok.sym, sym) == 0;
}

/* Words that end an expression or have a role, so they are never column names. */
static bool spk__is_reserved(const char *w, size_t n) {
    static const char *const words[] = {"and", "or", "not", "in", "is", "null", "true", "false", "between",
                                        "like", "rlike", "regexp", "case", "when", "then", "else", "end",
                                        "cast", "as", "div", "distinct", "interval"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (spk__word_is(w, n, words[i])) return true;
    return false;
}

static spk_status spk__expect_sym(spk__parser *p, const char *sym) {
    if (!spk__tok_is_sym(p, sym))
        return spk__parse_error(p, p->tok.pos, "expected '%s' but found %s", sym,
                                p->tok.kind == SPK__TOK_END ? "the end of the text" : "something else");
    return spk__next(p);
}
static spk_status spk__expect_kw(spk__parser *p, const char *kw) {
    if (!spk__tok_is_kw(p, kw))
        return spk__parse_error(p, p->tok.pos, "expected %s", kw);
    return spk__next(p);
}

/* Decodes a quoted string token (Spark's backslash escapes) into a fresh string. */
static spk_status spk__string_token(spk__parser *p, char **out, size_t *out_len) {
    const char *s = p->src + p->tok.pos + 1;
    size_t n = p->tok.len - 2, k = 0;
    char *buf = (char *)spk__alloc(spk__expr_alloc(), n + 1);
    if (!buf) return spk__nomem("a string literal", n + 1);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            char e = s[++i];
            switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case '0': c = '\0'; break;
            case 'Z': c = 26; break;
            case '%': /* kept escaped: LIKE patterns need the backslash */
            case '_': buf[k++] = '\\'; c = e; break;
            default: c = e; break; /* \\ \' \" and any other character stand for themselves */
            }
        }
        buf[k++] = c;
    }
    buf[k] = '\0';
    *out = buf;
    *out_len = k;
    return SPK_OK;
}

/* ---------------------------------------------------------------- parser */

static spk_status spk__parse_or(spk__parser *p, spk_expr **out);

/* Releases `e` and returns st: the error path of every parse step. */
static spk_status spk__drop(spk_expr *e, spk_status st) {
    spk_expr_release(e);
    return st;
}
/* The status a builder left when it returned NULL. */
static spk_status spk__builder_failed(void) {
    return spk_last_status() != SPK_OK ? spk_last_status() : SPK_ERR_NOMEM;
}

static spk_status spk__built(spk_expr *e, spk_expr **out) {
    if (!e) return spk__builder_failed();
    *out = e;
    return SPK_OK;
}

static spk_status spk__parse_number(spk__parser *p, spk_expr **out) {
    const char *s = p->src + p->tok.pos;
    size_t n = p->tok.len, body = 0;
    bool dot = false, exp = false;
    while (body < n && (spk__is_digit((unsigned char)s[body]) || s[body] == '.' ||
                        ((s[body] == 'e' || s[body] == 'E') && body + 1 < n &&
                         (spk__is_digit((unsigned char)s[body + 1]) || s[body + 1] == '+' || s[body + 1] == '-')) ||
                        ((s[body] == '+' || s[body] == '-') && body > 0 && (s[body - 1] == 'e' || s[body - 1] == 'E')))) {
        if (s[body] == '.') dot = true;
        if (s[body] == 'e' || s[body] == 'E') exp = true;
        body++;
    }
    const char *suffix = s + body;
    size_t slen = n - body;
    spk_value v;
    spk_expr *e = NULL;
    if (slen == 0 && !dot && !exp) {
        int64_t x;
        spk__parse_result r = spk__parse_int64(s, body, false, &x);
        if (r == SPK__PARSED) e = x >= INT32_MIN && x <= INT32_MAX ? spk_lit_i32((int32_t)x) : spk_lit_i64(x);
        else if (spk__parse_double(s, body, &v.as.f64) == SPK__PARSED) e = spk_lit_f64(v.as.f64); /* beyond BIGINT */
    } else if (spk__word_is(suffix, slen, "l") && !dot && !exp) {
        int64_t x;
        if (spk__parse_int64(s, body, false, &x) != SPK__PARSED)
            return spk__parse_error(p, p->tok.pos, "%.*s is out of range for BIGINT", (int)n, s);
        e = spk_lit_i64(x);
    } else if (spk__word_is(suffix, slen, "d") || spk__word_is(suffix, slen, "f") || (slen == 0 && exp)) {
        double d;
        if (spk__parse_double(s, body, &d) != SPK__PARSED) return spk__parse_error(p, p->tok.pos, "bad number");
        e = spk_lit_f64(d);
    } else if (slen == 0 || spk__word_is(suffix, slen, "bd")) {
        /* A decimal literal: DECIMAL(digits, fraction digits); beyond 18 digits a DOUBLE. */
        size_t int_digits = 0, frac = 0, i = 0;
        while (i < body && s[i] == '0') i++;
        for (; i < body && s[i] != '.'; i++) int_digits++;
        if (i < body) frac = body - i - 1;
        int scale = (int)frac, precision = (int)(int_digits + frac);
        if (precision < 1) precision = 1;
        if (precision < scale) precision = scale;
        int64_t x;
        if (!exp && precision <= SPK_DECIMAL_MAX_PRECISION &&
            spk__parse_decimal(s, body, precision, scale, &x) == SPK__PARSED) {
            e = spk_lit_decimal(x, precision, scale);
        } else {
            double d;
            if (spk__parse_double(s, body, &d) != SPK__PARSED) return spk__parse_error(p, p->tok.pos, "bad number");
            e = spk_lit_f64(d);
        }
    } else {
        return spk__parse_error(p, p->tok.pos + body, "unknown number suffix '%.*s'", (int)slen, suffix);
    }
    if (!e) return spk__parse_error(p, p->tok.pos, "bad number '%.*s'", (int)n, s);
    *out = e;
    return spk__next(p);
}

/* INTERVAL n unit: DAY(S), WEEK(S), MONTH(S), YEAR(S), HOUR(S), MINUTE(S), SECOND(S). */
static spk_status spk__parse_interval(spk__parser *p, spk_expr **out) {
    spk_status st = spk__next(p);
    if (st != SPK_OK) return st;
    bool neg = false;
    if (spk__tok_is_sym(p, "-")) {
        neg = true;
        if ((st = spk__next(p)) != SPK_OK) return st;
    }
    int64_t n;
    size_t num_pos = p->tok.pos;
    if (p->tok.kind == SPK__TOK_STRING) { /* INTERVAL '3' DAY */
        if (spk__parse_int64(p->src + p->tok.pos + 1, p->tok.len - 2, false, &n) != SPK__PARSED)
            return spk__parse_error(p, num_pos, "expected a whole number of units in the interval");
    } else if (p->tok.kind != SPK__TOK_NUMBER || spk__parse_int64(p->src + p->tok.pos, p->tok.len, false, &n) != SPK__PARSED) {
        return spk__parse_error(p, num_pos, "expected a whole number after INTERVAL");
    }
    if (neg) n = -n;
    if ((st = spk__next(p)) != SPK_OK) return st;
    if (p->tok.kind != SPK__TOK_IDENT) return spk__parse_error(p, p->tok.pos, "expected an interval unit such as DAY");
    const char *u = p->src + p->tok.pos;
    size_t ul = p->tok.len;
    if (ul > 1 && (u[ul - 1] == 's' || u[ul - 1] == 'S')) ul--;
    spk_expr *e = spk__expr_new(SPK__OP_INTERVAL, 0);
    if (!e) return SPK_ERR_NOMEM;
    if (n > INT32_MAX / 12 || n < INT32_MIN / 12 || n > INT64_MAX / SPK__MICROS_PER_DAY || n < -INT64_MAX / SPK__MICROS_PER_DAY) {
        spk_expr_release(e);
        return spk__parse_error(p, num_pos, "interval out of range");
    }
    if (spk__word_is(u, ul, "day")) e->days = (int32_t)n;
    else if (spk__word_is(u, ul, "week")) e->days = (int32_t)(n * 7);
    else if (spk__word_is(u, ul, "month")) e->months = (int32_t)n;
    else if (spk__word_is(u, ul, "year")) e->months = (int32_t)(n * 12);
    else if (spk__word_is(u, ul, "hour")) e->micros = n * 3600 * SPK__MICROS_PER_SECOND;
    else if (spk__word_is(u, ul, "minute")) e->micros = n * 60 * SPK__MICROS_PER_SECOND;
    else if (spk__word_is(u, ul, "second")) e->micros = n * SPK__MICROS_PER_SECOND;
    else {
        spk_expr_release(e);
        return spk__parse_error(p, p->tok.pos, "unknown interval unit '%.*s'", (int)p->tok.len, u);
    }
    *out = e;
    return spk__next(p);
}

static spk_status spk__parse_case(spk__parser *p, spk_expr **out) {
    spk_status st = spk__next(p);
    if (st != SPK_OK) return st;
    spk_expr *operand = NULL, *c = NULL;
    if (!spk__tok_is_kw(p, "when")) {
        if ((st = spk__parse_or(p, &operand)) != SPK_OK) return st;
    }
    if (!spk__tok_is_kw(p, "when")) {
        spk_expr_release(operand);
        return spk__parse_error(p, p->tok.pos, "expected WHEN in CASE");
    }
    while (spk__tok_is_kw(p, "when")) {
        spk_expr *cond = NULL, *value = NULL;
        if ((st = spk__next(p)) != SPK_OK || (st = spk__parse_or(p, &cond)) != SPK_OK) break;
        if ((st = spk__expect_kw(p, "then")) != SPK_OK || (st = spk__parse_or(p, &value)) != SPK_OK) {
            spk_expr_release(cond);
            break;
        }
        if (operand) cond = spk_eq(spk_expr_retain(operand), cond); /* CASE x WHEN v: x = v */
        c = spk_when(c, cond, value);
        if (!c) {
            st = spk__builder_failed();
            break;
        }
    }
    spk_expr_release(operand);
    if (st == SPK_OK && spk__tok_is_kw(p, "else")) {
        spk_expr *other = NULL;
        if ((st = spk__next(p)) == SPK_OK && (st = spk__parse_or(p, &other)) == SPK_OK) {
            c = spk_otherwise(c, other);
            if (!c) st = spk__builder_failed();
        }
    }
    if (st == SPK_OK) st = spk__expect_kw(p, "end");
    if (st != SPK_OK) return spk__drop(c, st);
    *out = c;
    return SPK_OK;
}

/* Records where a node came from, for carets in later errors. */
static spk_expr *spk__mark(spk__parser *p, spk_expr *e, size_t pos) {
    if (e) {
        e->source = spk__source_retain(p->source);
        e->pos = pos;
    }
    return e;
}

static spk_status spk__parse_call(spk__parser *p, const char *name, size_t name_len, size_t name_pos, spk_expr **out) {
    spk_status st = spk__next(p); /* past '(' */
    if (st != SPK_OK) return st;
    bool distinct = false;
    spk_expr *stack[16], **args = stack;
    int n = 0, cap = 16;
    if (spk__tok_is_kw(p, "distinct")) {
        distinct = true;
        if ((st = spk__next(p)) != SPK_OK) return st;
    }
    if (spk__tok_is_sym(p, "*")) { /* count(*) */
        args[n++] = spk_star();
        if (!args[0]) return SPK_ERR_NOMEM;
        st = spk__next(p);
    } else if (!spk__tok_is_sym(p, ")")) {
        for (;;) {
            if (n == cap) {
                size_t bytes = (size_t)cap * 2 * sizeof *args;
                spk_expr **grown = (spk_expr **)spk__alloc(spk__expr_alloc(), bytes);
                if (!grown) {
                    st = spk__nomem("function arguments", bytes);
                    break;
                }
                memcpy(grown, args, (size_t)n * sizeof *args);
                if (args != stack) spk__free(spk__expr_alloc(), args, (size_t)cap * sizeof *args);
                args = grown;
                cap *= 2;
            }
            if ((st = spk__parse_or(p, &args[n])) != SPK_OK) break;
            n++;
            if (!spk__tok_is_sym(p, ",")) break;
            if ((st = spk__next(p)) != SPK_OK) break;
        }
    }
    if (st == SPK_OK) st = spk__expect_sym(p, ")");
    spk_expr *e = NULL;
    if (st == SPK_OK) {
        e = spk__with_name(spk__node(SPK__OP_CALL, args, n), name, name_len);
        n = 0; /* consumed */
        if (!e) st = spk__builder_failed();
        else spk__mark(p, e, name_pos)->distinct = distinct;
    }
    spk__release_all(args, n);
    if (args != stack) spk__free(spk__expr_alloc(), args, (size_t)cap * sizeof *args);
    if (st != SPK_OK) return st;
    *out = e;
    return SPK_OK;
}

/* An identifier token's text: plain, or `quoted` with `` unescaped. */
static size_t spk__ident_text(const spk__parser *p, char *buf, size_t cap) {
    const char *s = p->src + p->tok.pos;
    size_t n = p->tok.len, k = 0;
    if (p->tok.kind == SPK__TOK_QUOTED_IDENT) {
        for (size_t i = 1; i + 1 < n && k + 1 < cap; i++) {
            buf[k++] = s[i];
            if (s[i] == '`') i++;
        }
    } else {
        for (size_t i = 0; i < n && k + 1 < cap; i++) buf[k++] = s[i];
    }
    buf[k] = '\0';
    return k;
}

static spk_status spk__parse_primary(spk__parser *p, spk_expr **out) {
    spk_status st;
    size_t at = p->tok.pos;
    switch (p->tok.kind) {
    case SPK__TOK_END: return spk__parse_error(p, at, "unexpected end of the expression");
    case SPK__TOK_NUMBER: return spk__parse_number(p, out);
    case SPK__TOK_STRING: {
        /* Adjacent literals concatenate: 'It' 's' is "Its", as in Spark. */
        char *text = NULL;
        size_t len = 0;
        st = SPK_OK;
        while (st == SPK_OK && p->tok.kind == SPK__TOK_STRING) {
            char *piece;
            size_t plen;
            if ((st = spk__string_token(p, &piece, &plen)) != SPK_OK) break;
            if (!text) {
                text = piece;
                len = plen;
            } else {
                char *joined = (char *)spk__realloc(spk__expr_alloc(), text, len + 1, len + plen + 1);
                if (joined) {
                    memcpy(joined + len, piece, plen + 1);
                    text = joined;
                    len += plen;
                } else {
                    st = spk__nomem("a string literal", len + plen + 1);
                }
                spk__free(spk__expr_alloc(), piece, plen + 1);
            }
            if (st == SPK_OK) st = spk__next(p);
        }
        spk_expr *e = st == SPK_OK ? spk_lit(spk_value_strn(text, len)) : NULL;
        if (text) spk__free(spk__expr_alloc(), text, len + 1);
        if (st != SPK_OK) return st;
        return spk__built(e, out);
    }
    case SPK__TOK_SYMBOL:
        if (spk__tok_is_sym(p, "(")) {
            if ((st = spk__next(p)) != SPK_OK || (st = spk__parse_or(p, out)) != SPK_OK) return st;
            if ((st = spk__expect_sym(p, ")")) != SPK_OK) {
                spk_expr_release(*out);
                *out = NULL;
            }
            return st;
        }
        if (spk__tok_is_sym(p, "*")) {
            if ((st = spk__next(p)) != SPK_OK) return st;
            return spk__built(spk_star(), out);
        }
        return spk__parse_error(p, at, "unexpected '%s'", p->tok.sym);
    case SPK__TOK_IDENT:
    case SPK__TOK_QUOTED_IDENT:
        break;
    }
    const char *w = p->src + at;
    size_t wl = p->tok.len;
    if (p->tok.kind == SPK__TOK_IDENT) {
        if (spk__word_is(w, wl, "null")) return (st = spk__next(p)) != SPK_OK ? st : spk__built(spk_lit_null(), out);
        if (spk__word_is(w, wl, "true")) return (st = spk__next(p)) != SPK_OK ? st : spk__built(spk_lit_bool(true), out);
        if (spk__word_is(w, wl, "false")) return (st = spk__next(p)) != SPK_OK ? st : spk__built(spk_lit_bool(false), out);
        if (spk__word_is(w, wl, "case")) return spk__parse_case(p, out);
        if (spk__word_is(w, wl, "interval")) return spk__parse_interval(p, out);
        if (spk__word_is(w, wl, "cast")) {
            spk_expr *x = NULL;
            spk_type t;
            if ((st = spk__next(p)) != SPK_OK || (st = spk__expect_sym(p, "(")) != SPK_OK ||
                (st = spk__parse_or(p, &x)) != SPK_OK)
                return st;
            if ((st = spk__expect_kw(p, "as")) != SPK_OK) return spk__drop(x, st);
            size_t pos = p->tok.pos;
            if ((st = spk__type_parse_at(p->src, p->len, &pos, &t)) != SPK_OK) {
                spk__fail_caret(p->src, pos);
                return spk__drop(x, st);
            }
            p->pos = pos;
            if ((st = spk__next(p)) != SPK_OK || (st = spk__expect_sym(p, ")")) != SPK_OK) return spk__drop(x, st);
            return spk__built(spk_cast(x, t), out);
        }
        if ((spk__word_is(w, wl, "date") || spk__word_is(w, wl, "timestamp")) ) {
            bool is_date = spk__word_is(w, wl, "date");
            spk__parser save = *p;
            if ((st = spk__next(p)) != SPK_OK) return st;
            if (p->tok.kind == SPK__TOK_STRING) { /* DATE '2020-01-01' */
                size_t lit_pos = p->tok.pos;
                spk_value v;
                const char *body = p->src + p->tok.pos + 1;
                size_t blen = p->tok.len - 2;
                spk_type t = spk_type_of(is_date ? SPK_TYPE_DATE : SPK_TYPE_TIMESTAMP);
                spk__parse_result r = spk__parse_value(t, body, blen, true, &v);
                if (r != SPK__PARSED)
                    return spk__parse_error(p, lit_pos, "cannot parse %.*s as a %s", (int)p->tok.len,
                                            p->src + p->tok.pos, is_date ? "DATE" : "TIMESTAMP");
                if ((st = spk__next(p)) != SPK_OK) return st;
                return spk__built(spk_lit(v), out);
            }
            *p = save; /* a column or function called date */
        }
        if (spk__is_reserved(w, wl))
            return spk__parse_error(p, at, "unexpected keyword '%.*s'", (int)wl, w);
    }
    /* A column, t.column, or a function call. */
    char name[256], qual[256];
    size_t name_len = spk__ident_text(p, name, sizeof name);
    bool quoted = p->tok.kind == SPK__TOK_QUOTED_IDENT;
    if ((st = spk__next(p)) != SPK_OK) return st;
    if (!quoted && spk__tok_is_sym(p, "(")) return spk__parse_call(p, name, name_len, at, out);
    if (spk__tok_is_sym(p, ".")) {
        memcpy(qual, name, name_len + 1);
        if ((st = spk__next(p)) != SPK_OK) return st;
        if (spk__tok_is_sym(p, "*")) { /* t.* */
            if ((st = spk__next(p)) != SPK_OK) return st;
            spk_expr *e = spk_star();
            if (e && !(e->qualifier = spk__strndup(spk__expr_alloc(), qual, strlen(qual)))) {
                spk_expr_release(e);
                e = NULL;
            }
            return spk__built(e, out);
        }
        if (p->tok.kind != SPK__TOK_IDENT && p->tok.kind != SPK__TOK_QUOTED_IDENT)
            return spk__parse_error(p, p->tok.pos, "expected a column name after '%s.'", qual);
        name_len = spk__ident_text(p, name, sizeof name);
        if ((st = spk__next(p)) != SPK_OK) return st;
        spk_expr *e = spk__mark(p, spk__with_name(spk__expr_new(SPK__OP_COL, 0), name, name_len), at);
        if (e && !(e->qualifier = spk__strndup(spk__expr_alloc(), qual, strlen(qual)))) {
            spk_expr_release(e);
            e = NULL;
        }
        return spk__built(e, out);
    }
    return spk__built(spk__mark(p, spk__with_name(spk__expr_new(SPK__OP_COL, 0), name, name_len), at), out);
}

static spk_status spk__parse_unary(spk__parser *p, spk_expr **out) {
    if (++p->depth > SPK__MAX_PARSE_DEPTH) return spk__parse_error(p, p->tok.pos, "expression nested too deeply");
    spk_status st;
    if (spk__tok_is_sym(p, "-") || spk__tok_is_sym(p, "+")) {
        bool minus = spk__tok_is_sym(p, "-");
        spk_expr *x = NULL;
        if ((st = spk__next(p)) != SPK_OK) return st;
        if (minus && p->tok.kind == SPK__TOK_NUMBER) { /* -9223372036854775808[L]: only negated does it fit */
            static const char min_digits[] = "9223372036854775808";
            size_t nd = sizeof min_digits - 1;
            const char *t = p->src + p->tok.pos;
            if ((p->tok.len == nd || (p->tok.len == nd + 1 && (t[nd] == 'L' || t[nd] == 'l'))) &&
                memcmp(t, min_digits, nd) == 0) {
                if ((st = spk__next(p)) != SPK_OK) return st;
                p->depth--;
                return spk__built(spk_lit_i64(INT64_MIN), out);
            }
        }
        if ((st = spk__parse_unary(p, &x)) != SPK_OK) return st;
        p->depth--;
        if (!minus) {
            *out = x;
            return SPK_OK;
        }
        /* Fold -literal so that -2147483648 is an INT and -5 prints as -5. */
        if (x->op == SPK__OP_LIT && !x->lit.is_null) {
            spk_value v = x->lit;
            bool folded = true;
            switch (v.type.id) {
            case SPK_TYPE_INT32:
                if (v.as.i32 == INT32_MIN) v = spk_value_i64(-(int64_t)INT32_MIN);
                else v.as.i32 = -v.as.i32;
                break;
            case SPK_TYPE_INT64:
                if (v.as.i64 == -(int64_t)INT32_MIN) v = spk_value_i32(INT32_MIN);
                else v.as.i64 = (int64_t)(0 - (uint64_t)v.as.i64);
                break;
            case SPK_TYPE_DOUBLE: v.as.f64 = -v.as.f64; break;
            case SPK_TYPE_DECIMAL: v.as.i64 = -v.as.i64; break;
            default: folded = false;
            }
            if (folded) {
                spk_expr_release(x);
                return spk__built(spk_lit(v), out);
            }
        }
        return spk__built(spk_neg(x), out);
    }
    st = spk__parse_primary(p, out);
    p->depth--;
    return st;
}

static spk_status spk__parse_mul(spk__parser *p, spk_expr **out) {
    spk_expr *a = NULL, *b = NULL;
    spk_status st = spk__parse_unary(p, &a);
    while (st == SPK_OK) {
        spk__op op;
        if (spk__tok_is_sym(p, "*")) op = SPK__OP_MUL;
        else if (spk__tok_is_sym(p, "/")) op = SPK__OP_DIV;
        else if (spk__tok_is_sym(p, "%")) op = SPK__OP_MOD;
        else if (spk__tok_is_kw(p, "div")) op = SPK__OP_INTDIV;
        else break;
        if ((st = spk__next(p)) != SPK_OK || (st = spk__parse_unary(p, &b)) != SPK_OK) break;
        if (!(a = spk__binary(op, a, b))) st = spk__builder_failed();
    }
    if (st != SPK_OK) return spk__drop(a, st);
    *out = a;
    return SPK_OK;
}

static spk_status spk__parse_add(spk__parser *p, spk_expr **out) {
    spk_expr *a = NULL, *b = NULL;
    spk_status st = spk__parse_mul(p, &a);
    while (st == SPK_OK) {
        spk_expr *e;
        if (spk__tok_is_sym(p, "+") || spk__tok_is_sym(p, "-")) {
            bool plus = spk__tok_is_sym(p, "+");
            if ((st = spk__next(p)) != SPK_OK || (st = spk__parse_mul(p, &b)) != SPK_OK) break;
            e = plus ? spk_add(a, b) : spk_sub(a, b);
        } else if (spk__tok_is_sym(p, "||")) {
            if ((st = spk__next(p)) != SPK_OK || (st = spk__parse_mul(p, &b)) != SPK_OK) break;
            e = spk_call("concat", 2, a, b);
        } else {
            break;
        }
        a = e;
        if (!a) st = spk__builder_failed();
    }
    if (st != SPK_OK) return spk__drop(a, st);
    *out = a;
    return SPK_OK;
}

/* Comparisons, then at most one predicate: [NOT] BETWEEN / IN / LIKE / RLIKE, IS [NOT] NULL. */
static spk_status spk__parse_predicate(spk__parser *p, spk_expr **out) {
    spk_expr *a = NULL, *b = NULL;
    spk_status st = spk__parse_add(p, &a);
    while (st == SPK_OK && p->tok.kind == SPK__TOK_SYMBOL) {
        static const struct { const char *sym; spk__op op; } cmp[] = {
            {"=", SPK__OP_EQ}, {"==", SPK__OP_EQ}, {"<>", SPK__OP_NE}, {"!=", SPK__OP_NE}, {"<", SPK__OP_LT},
            {"<=", SPK__OP_LE}, {">", SPK__OP_GT}, {">=", SPK__OP_GE}, {"<=>", SPK__OP_EQ_NS}};
        int found = -1;
        for (int i = 0; i < (int)(sizeof cmp / sizeof cmp[0]); i++)
            if (strcmp(p->tok.sym, cmp[i].sym) == 0) found = i;
        if (found < 0) break;
        if ((st = spk__next(p)) != SPK_OK || (st = spk__parse_add(p, &b)) != SPK_OK) break;
        a = cmp[found].op == SPK__OP_NE ? spk_ne(a, b) : spk__binary(cmp[found].op, a, b);
        if (!a) st = spk__builder_failed();
    }
    if (st != SPK_OK) return spk__drop(a, st);
    if (spk__tok_is_kw(p, "is")) {
        bool negate = false;
        if ((st = spk__next(p)) != SPK_OK) return spk__drop(a, st);
        if (spk__tok_is_kw(p, "not")) {
            negate = true;
            if ((st = spk__next(p)) != SPK_OK) return spk__drop(a, st);
        }
        if ((st = spk__expect_kw(p, "null")) != SPK_OK) return spk__drop(a, st);
        return spk__built(negate ? spk_is_not_null(a) : spk_is_null(a), out);
    }
    bool negate = false;
    if (spk__tok_is_kw(p, "not")) {
        negate = true;
        if ((st = spk__next(p)) != SPK_OK) return spk__drop(a, st);
        if (!spk__tok_is_kw(p, "between") && !spk__tok_is_kw(p, "in") && !spk__tok_is_kw(p, "like") &&
            !spk__tok_is_kw(p, "rlike") && !spk__tok_is_kw(p, "regexp"))
            return spk__drop(a, spk__parse_error(p, p->tok.pos, "expected BETWEEN, IN, LIKE or RLIKE after NOT"));
    }
    spk_expr *e = a;
    if (spk__tok_is_kw(p, "between")) {
        spk_expr *lo = NULL, *hi = NULL;
        if ((st = spk__next(p)) != SPK_OK || (st = spk__parse_add(p, &lo)) != SPK_OK) return spk__drop(a, st);
        if ((st = spk__expect_kw(p, "and")) != SPK_OK || (st = spk__parse_add(p, &hi)) != SPK_OK) {
            spk_expr_release(lo);
            return spk__drop(a, st);
        }
        e = spk_between(a, lo, hi);
    } else if (spk__tok_is_kw(p, "in")) {
        if ((st = spk__next(p)) != SPK_OK || (st = spk__expect_sym(p, "(")) != SPK_OK) return spk__drop(a, st);
        spk_expr *stack[16], **list = stack;
        int n = 0, cap = 16;
        for (;;) {
            if (n == cap) {
                size_t bytes = (size_t)cap * 2 * sizeof *list;
                spk_expr **grown = (spk_expr **)spk__alloc(spk__expr_alloc(), bytes);
                if (!grown) {
                    st = spk__nomem("an IN list", bytes);
                    break;
                }
                memcpy(grown, list, (size_t)n * sizeof *list);
                if (list != stack) spk__free(spk__expr_alloc(), list, (size_t)cap * sizeof *list);
                list = grown;
                cap *= 2;
            }
            if ((st = spk__parse_or(p, &list[n])) != SPK_OK) break;
            n++;
            if (!spk__tok_is_sym(p, ",")) break;
            if ((st = spk__next(p)) != SPK_OK) break;
        }
        if (st == SPK_OK) st = spk__expect_sym(p, ")");
        if (st == SPK_OK) {
            e = spk_in_array(a, list, n);
        } else {
            spk__release_all(list, n);
            spk_expr_release(a);
        }
        if (list != stack) spk__free(spk__expr_alloc(), list, (size_t)cap * sizeof *list);
        if (st != SPK_OK) return st;
    } else if (spk__tok_is_kw(p, "like") || spk__tok_is_kw(p, "rlike") || spk__tok_is_kw(p, "regexp")) {
        bool like = spk__tok_is_kw(p, "like");
        if ((st = spk__next(p)) != SPK_OK) return spk__drop(a, st);
        if (p->tok.kind != SPK__TOK_STRING)
            return spk__drop(a, spk__parse_error(p, p->tok.pos, "expected a string pattern after %s", like ? "LIKE" : "RLIKE"));
        char *pattern;
        size_t plen;
        if ((st = spk__string_token(p, &pattern, &plen)) != SPK_OK) return spk__drop(a, st);
        e = like ? spk_like(a, pattern) : spk_rlike(a, pattern);
        spk__free(spk__expr_alloc(), pattern, plen + 1);
        if ((st = spk__next(p)) != SPK_OK) return spk__drop(e, st);
    }
    if (negate && e) e = spk_not(e);
    return spk__built(e, out);
}

static spk_status spk__parse_not(spk__parser *p, spk_expr **out) {
    if (spk__tok_is_kw(p, "not") || spk__tok_is_sym(p, "!")) {
        if (++p->depth > SPK__MAX_PARSE_DEPTH) return spk__parse_error(p, p->tok.pos, "expression nested too deeply");
        spk_expr *x = NULL;
        spk_status st = spk__next(p);
        if (st == SPK_OK) st = spk__parse_not(p, &x);
        p->depth--;
        if (st != SPK_OK) return st;
        return spk__built(spk_not(x), out);
    }
    return spk__parse_predicate(p, out);
}

static spk_status spk__parse_and(spk__parser *p, spk_expr **out) {
    spk_expr *a = NULL, *b = NULL;
    spk_status st = spk__parse_not(p, &a);
    while (st == SPK_OK && spk__tok_is_kw(p, "and")) {
        if ((st = spk__next(p)) != SPK_OK || (st = spk__parse_not(p, &b)) != SPK_OK) break;
        if (!(a = spk_and(a, b))) st = spk__builder_failed();
    }
    if (st != SPK_OK) return spk__drop(a, st);
    *out = a;
    return SPK_OK;
}

static spk_status spk__parse_or(spk__parser *p, spk_expr **out) {
    if (++p->depth > SPK__MAX_PARSE_DEPTH) return spk__parse_error(p, p->tok.pos, "expression nested too deeply");
    spk_expr *a = NULL, *b = NULL;
    spk_status st = spk__parse_and(p, &a);
    while (st == SPK_OK && spk__tok_is_kw(p, "or")) {
        if ((st = spk__next(p)) != SPK_OK || (st = spk__parse_and(p, &b)) != SPK_OK) break;
        if (!(a = spk_or(a, b))) st = spk__builder_failed();
    }
    p->depth--;
    if (st != SPK_OK) return spk__drop(a, st);
    *out = a;
    return SPK_OK;
}

SPKDEF spk_status spk_expr_parse(const char *sql, spk_expr **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_expr_parse: NULL output");
    *out = NULL;
    if (!sql) return spk__fail(SPK_ERR_ARG, "spk_expr_parse: NULL text");
    spk__parser p;
    memset(&p, 0, sizeof p);
    p.src = sql;
    p.len = strlen(sql);
    p.source = spk__source_new(sql, p.len);
    if (!p.source) return SPK_ERR_NOMEM;
    spk_expr *e = NULL;
    spk_status st = spk__next(&p);
    if (st == SPK_OK) st = spk__parse_or(&p, &e);
    if (st == SPK_OK && (spk__tok_is_kw(&p, "as") || p.tok.kind == SPK__TOK_IDENT || p.tok.kind == SPK__TOK_QUOTED_IDENT)) {
        /* expr [AS] alias */
        if (spk__tok_is_kw(&p, "as")) st = spk__next(&p);
        if (st == SPK_OK && p.tok.kind != SPK__TOK_IDENT && p.tok.kind != SPK__TOK_QUOTED_IDENT)
            st = spk__parse_error(&p, p.tok.pos, "expected an alias name after AS");
        if (st == SPK_OK && p.tok.kind == SPK__TOK_IDENT && spk__is_reserved(p.src + p.tok.pos, p.tok.len))
            st = spk__parse_error(&p, p.tok.pos, "unexpected keyword '%.*s'", (int)p.tok.len, p.src + p.tok.pos);
        if (st == SPK_OK) {
            char name[256];
            spk__ident_text(&p, name, sizeof name);
            e = spk_alias(e, name);
            if (!e) st = spk__builder_failed();
            else st = spk__next(&p);
        }
    }
    if (st == SPK_OK && p.tok.kind != SPK__TOK_END)
        st = spk__parse_error(&p, p.tok.pos, "unexpected '%.*s' after the end of the expression", (int)p.tok.len,
                              p.src + p.tok.pos);
    spk__source_release(p.source);
    if (st != SPK_OK) return spk__drop(e, st);
    *out = e;
    return SPK_OK;
}

/* ---------------------------------------------------------------- SQL text */

static const char *spk__op_symbol(spk__op op) {
    switch (op) {
    case SPK__OP_ADD: return "+";
    case SPK__OP_SUB: return "-";
    case SPK__OP_MUL: return "*";
    case SPK__OP_DIV: return "/";
    case SPK__OP_MOD: return "%";
    case SPK__OP_INTDIV: return "div";
    case SPK__OP_EQ: return "=";
    case SPK__OP_NE: return "!=";
    case SPK__OP_LT: return "<";
    case SPK__OP_LE: return "<=";
    case SPK__OP_GT: return ">";
    case SPK__OP_GE: return ">=";
    case SPK__OP_EQ_NS: return "<=>";
    case SPK__OP_AND: return "AND";
    case SPK__OP_OR: return "OR";
    default: return "?";
    }
}

static void spk__expr_sql(spk__textout *o, const spk_expr *e, int depth) {
    if (depth > 256) {
        spk__out(o, "...");
        return;
    }
    switch ((spk__op)e->op) {
    case SPK__OP_COL: spk__out(o, "%s", e->name); break;
    case SPK__OP_STAR: spk__out(o, e->qualifier ? "%s.*" : "*", e->qualifier); break;
    case SPK__OP_LIT: {
        char text[SPK_VALUE_TEXT_MAX];
        spk_type_id id = (spk_type_id)e->lit.type.id;
        if (e->lit.is_null) {
            spk__out(o, "NULL");
        } else if (id == SPK_TYPE_STRING) {
            spk__out(o, "%.*s", (int)e->lit.as.str.len, e->lit.as.str.ptr);
        } else {
            spk_value_format(&e->lit, text, sizeof text);
            if (id == SPK_TYPE_DATE) spk__out(o, "DATE '%s'", text);
            else if (id == SPK_TYPE_TIMESTAMP) spk__out(o, "TIMESTAMP '%s'", text);
            else spk__out(o, "%s", text); /* Spark names numeric literals by value: no L */
        }
        break;
    }
    case SPK__OP_INTERVAL:
        spk__out(o, "INTERVAL '");
        if (e->months) spk__out(o, "%d months", (int)e->months);
        if (e->days) spk__out(o, "%s%d days", e->months ? " " : "", (int)e->days);
        if (e->micros || (!e->months && !e->days)) spk__out(o, "%s%lld microseconds", e->months || e->days ? " " : "", (long long)e->micros);
        spk__out(o, "'");
        break;
    case SPK__OP_NEG: spk__out(o, "(- "); spk__expr_sql(o, e->args[0], depth + 1); spk__out(o, ")"); break;
    case SPK__OP_NOT: spk__out(o, "(NOT "); spk__expr_sql(o, e->args[0], depth + 1); spk__out(o, ")"); break;
    case SPK__OP_IS_NULL:
    case SPK__OP_IS_NOT_NULL:
        spk__out(o, "(");
        spk__expr_sql(o, e->args[0], depth + 1);
        spk__out(o, e->op == SPK__OP_IS_NULL ? " IS NULL)" : " IS NOT NULL)");
        break;
    case SPK__OP_ADD: case SPK__OP_SUB: case SPK__OP_MUL: case SPK__OP_DIV: case SPK__OP_MOD:
    case SPK__OP_INTDIV: case SPK__OP_EQ: case SPK__OP_NE: case SPK__OP_LT: case SPK__OP_LE:
    case SPK__OP_GT: case SPK__OP_GE: case SPK__OP_EQ_NS: case SPK__OP_AND: case SPK__OP_OR:
        spk__out(o, "(");
        spk__expr_sql(o, e->args[0], depth + 1);
        spk__out(o, " %s ", spk__op_symbol((spk__op)e->op));
        spk__expr_sql(o, e->args[1], depth + 1);
        spk__out(o, ")");
        break;
    case SPK__OP_IN:
        spk__out(o, "(");
        spk__expr_sql(o, e->args[0], depth + 1);
        spk__out(o, " IN (");
        for (int i = 1; i < e->nargs; i++) {
            if (i > 1) spk__out(o, ", ");
            spk__expr_sql(o, e->args[i], depth + 1);
        }
        spk__out(o, "))");
        break;
    case SPK__OP_LIKE:
    case SPK__OP_RLIKE:
        spk__expr_sql(o, e->args[0], depth + 1);
        spk__out(o, e->op == SPK__OP_LIKE ? " LIKE %s" : " RLIKE %s", e->name);
        break;
    case SPK__OP_CASE: {
        int pairs = (e->nargs - (e->has_else ? 1 : 0)) / 2;
        spk__out(o, "CASE");
        for (int i = 0; i < pairs; i++) {
            spk__out(o, " WHEN ");
            spk__expr_sql(o, e->args[2 * i], depth + 1);
            spk__out(o, " THEN ");
            spk__expr_sql(o, e->args[2 * i + 1], depth + 1);
        }
        if (e->has_else) {
            spk__out(o, " ELSE ");
            spk__expr_sql(o, e->args[e->nargs - 1], depth + 1);
        }
        spk__out(o, " END");
        break;
    }
    case SPK__OP_CAST: {
        char type[32];
        spk_type_format(e->type, SPK_TYPE_SQL, type, sizeof type);
        spk__out(o, "CAST(");
        spk__expr_sql(o, e->args[0], depth + 1);
        spk__out(o, " AS %s)", type);
        break;
    }
    case SPK__OP_ALIAS: spk__out(o, "%s", e->name); break;
    case SPK__OP_CALL: {
        /* Spark names count(*) "count(1)". */
        bool star = e->nargs == 1 && e->args[0]->op == SPK__OP_STAR && !e->args[0]->qualifier;
        for (const char *c = e->name; *c; c++) spk__out(o, "%c", (char)spk__lower((unsigned char)*c));
        spk__out(o, "(%s", e->distinct ? "DISTINCT " : "");
        for (int i = 0; i < e->nargs; i++) {
            if (i) spk__out(o, ", ");
            if (star) spk__out(o, "1");
            else spk__expr_sql(o, e->args[i], depth + 1);
        }
        spk__out(o, ")");
        break;
    }
    case SPK__OP_SORT:
        spk__expr_sql(o, e->args[0], depth + 1);
        spk__out(o, "%s NULLS %s", e->descending ? " DESC" : " ASC", e->nulls_first ? "FIRST" : "LAST");
        break;
    case SPK__OP_COUNT: break;
    }
}

SPKDEF size_t spk_expr_to_sql(const spk_expr *e, char *buf, size_t cap) {
    spk__textout o = spk__textout_make(buf, cap);
    if (e) spk__expr_sql(&o, e, 0);
    else spk__out(&o, "NULL-expression");
    return o.len;
}

/* ---- src/vector.c ---- */
/* vector: the internal vocabulary of evaluation — column vectors over a
 * batch of rows, bound (typed) expression nodes, kernel signatures, and the
 * per-batch string arena. Nothing here is public. */

#define SPK__BATCH 2048 /* rows per batch: fits the vectors of a typical expression in L1/L2 */

typedef struct spk__str {
    const char *ptr;
    size_t len;
} spk__str;

/* A vector: SPK__BATCH values of one type and one null byte each (1 = NULL).
 * Physical layout by type: BOOLEAN uint8_t; INT32, DATE int32_t; INT64,
 * DECIMAL (unscaled), TIMESTAMP int64_t; DOUBLE double; STRING spk__str.
 * Kernels compute every selected row, NULL or not, from whatever bytes the
 * inputs hold, then set the null bytes; so the values of NULL rows are
 * arbitrary but always initialised (vectors start zeroed). */
typedef struct spk__vec {
    spk_type type;
    uint8_t *nulls;
    union {
        void *any;
        uint8_t *b;
        int32_t *i32;
        int64_t *i64;
        double *f64;
        spk__str *str;
    } v;
} spk__vec;

/* Growable arena for strings made during one batch (upper(), concat, casts
 * to string); reset at the start of every batch, so no per-row allocation. */
typedef struct spk__arena_block {
    struct spk__arena_block *next;
    size_t cap, used;
    /* bytes follow */
} spk__arena_block;

typedef struct spk__arena {
    const spk_allocator *alloc;
    spk__arena_block *head;
} spk__arena;

static char *spk__arena_alloc(spk__arena *a, size_t n) {
    spk__arena_block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = b ? b->cap * 2 : 16384;
        while (cap < n) cap *= 2;
        spk__arena_block *fresh = (spk__arena_block *)spk__alloc(a->alloc, sizeof *fresh + cap);
        if (!fresh) return NULL;
        fresh->next = b;
        fresh->cap = cap;
        fresh->used = 0;
        a->head = b = fresh;
    }
    char *p = (char *)(b + 1) + b->used;
    b->used += n;
    return p;
}

/* Keeps only the newest (largest) block, emptied. */
static void spk__arena_reset(spk__arena *a) {
    spk__arena_block *b = a->head;
    if (!b) return;
    spk__arena_block *rest = b->next;
    while (rest) {
        spk__arena_block *next = rest->next;
        spk__free(a->alloc, rest, sizeof *rest + rest->cap);
        rest = next;
    }
    b->next = NULL;
    b->used = 0;
}

static void spk__arena_free(spk__arena *a) {
    spk__arena_reset(a);
    if (a->head) spk__free(a->alloc, a->head, sizeof *a->head + a->head->cap);
    a->head = NULL;
}

/* Bytes per value of a physical type. */
static size_t spk__phys_size(spk_type_id id) {
    switch (id) {
    case SPK_TYPE_BOOLEAN: return 1;
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE: return 4;
    case SPK_TYPE_STRING: return sizeof(spk__str);
    case SPK_TYPE_NULL: return 1;
    default: return 8;
    }
}

/* ---------------------------------------------------------------- bound nodes */

typedef enum spk__bkind {
    SPK__B_COL,    /* a column of the input */
    SPK__B_LIT,    /* a constant, filled into its vector once */
    SPK__B_KERNEL, /* a kernel over the argument vectors */
    SPK__B_AND, SPK__B_OR, SPK__B_CASE, /* evaluated lazily over narrowed selections */
    SPK__B_AGG     /* an aggregate: evaluated by aggregation, not by kernels */
} spk__bkind;

struct spk__eval;
struct spk__bnode;
typedef void (*spk__kernel)(struct spk__eval *ev, const struct spk__bnode *node, spk__vec *out,
                            spk__vec *const *args, const uint32_t *sel, uint32_t n);

/* Aggregate functions work on per-group states of state_size bytes; update
 * adds the selected rows, each to the state of its group. */
typedef struct spk__agg_ops {
    size_t state_size;
    void (*init)(void *state);
    spk_status (*update)(const struct spk__bnode *node, char *states, const uint32_t *group_of_row,
                         const spk__vec *arg, const uint32_t *sel, uint32_t n);
    spk_status (*merge)(const struct spk__bnode *node, void *into, const void *from); /* adds `from` into `into` */
    void (*final)(const struct spk__bnode *node, const void *state, spk__vec *out, uint32_t row);
    void (*destroy)(const struct spk__bnode *node, void *state); /* optional */
} spk__agg_ops;

typedef struct spk__bnode {
    uint8_t kind;       /* spk__bkind */
    spk_type type;      /* result type */
    bool nullable;
    int col;            /* COL: input column index */
    spk_value lit;      /* LIT: the value (string bytes in `text`) */
    char *text;
    size_t text_size;
    int nargs;
    struct spk__bnode **args;
    spk__kernel kernel; /* KERNEL */
    const spk__agg_ops *agg; /* AGG */
    bool distinct;      /* AGG */
    void *aux;          /* kernel data (compiled pattern, ...), freed by aux_free */
    void (*aux_free)(void *aux);
    int64_t iarg;       /* small integer parameter for kernels (a scale, a unit, ...) */
    int slot;           /* index of the node's vector in the evaluator */
    char *name;         /* the Spark column name of this expression */
    char *label;        /* what explain() shows for a kernel: "+", "upper", "CAST" */
} spk__bnode;

/* The evaluator state kernels may touch: the string arena and the first
 * failure (kernels never fail per row in Spark semantics, but can run out
 * of memory while making strings). */
typedef struct spk__eval {
    const spk_allocator *alloc;
    spk__arena arena;
    spk_status status;
    spk__vec *vecs; /* one per bound node slot */
    int nvecs;
} spk__eval;

/* Runs the statement(s) given for every selected row index i (sel NULL:
 * rows 0..n-1); variadic so that bodies may contain commas. Two
 * loops so that the dense case stays a plain, vectorisable loop. */
#define SPK__FOR_ROWS(sel, n, ...)                                                                \
    do {                                                                                          \
        if (sel) {                                                                                \
            for (uint32_t k_ = 0; k_ < (n); k_++) {                                               \
                uint32_t i = (sel)[k_];                                                           \
                __VA_ARGS__;                                                                      \
            }                                                                                     \
        } else {                                                                                  \
            for (uint32_t i = 0; i < (n); i++) {                                                  \
                __VA_ARGS__;                                                                      \
            }                                                                                     \
        }                                                                                         \
    } while (0)

/* Strings made by kernels: from the arena; on failure the evaluator records
 * SPK_ERR_NOMEM and the kernel writes an empty string. */
static char *spk__eval_strbuf(spk__eval *ev, size_t n) {
    char *p = spk__arena_alloc(&ev->arena, n ? n : 1);
    if (!p && ev->status == SPK_OK) ev->status = spk__nomem("strings of a batch", n);
    return p;
}

/* A vector element as an spk_value (strings as views). */
static spk_value spk__vec_get(const spk__vec *v, uint32_t i) {
    spk_value x = spk_value_null_of(v->type);
    if (v->nulls[i]) return x;
    x.is_null = false;
    switch ((spk_type_id)v->type.id) {
    case SPK_TYPE_BOOLEAN: x.as.b = v->v.b[i] != 0; break;
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE: x.as.i32 = v->v.i32[i]; break;
    case SPK_TYPE_DOUBLE: x.as.f64 = v->v.f64[i]; break;
    case SPK_TYPE_STRING: x.as.str.ptr = v->v.str[i].ptr; x.as.str.len = v->v.str[i].len; break;
    case SPK_TYPE_NULL:
    case SPK_TYPE_COUNT: x.is_null = true; break;
    default: x.as.i64 = v->v.i64[i]; break;
    }
    return x;
}

/* Stores an spk_value (of the vector's type, or NULL) at row i; strings are
 * referenced, not copied. */
static void spk__vec_set(spk__vec *v, uint32_t i, const spk_value *x) {
    if (x->is_null || x->type.id == SPK_TYPE_NULL) {
        v->nulls[i] = 1;
        return;
    }
    v->nulls[i] = 0;
    switch ((spk_type_id)v->type.id) {
    case SPK_TYPE_BOOLEAN: v->v.b[i] = x->as.b; break;
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE: v->v.i32[i] = x->as.i32; break;
    case SPK_TYPE_DOUBLE: v->v.f64[i] = x->as.f64; break;
    case SPK_TYPE_STRING: v->v.str[i].ptr = x->as.str.ptr; v->v.str[i].len = x->as.str.len; break;
    case SPK_TYPE_NULL:
    case SPK_TYPE_COUNT: v->nulls[i] = 1; break;
    default: v->v.i64[i] = x->as.i64; break;
    }
}

/* out.nulls = a.nulls | b.nulls over the selection; dense batches go eight
 * null bytes at a time. */
static void spk__nulls_or(spk__vec *out, const spk__vec *a, const spk__vec *b, const uint32_t *sel, uint32_t n) {
    uint8_t *restrict o = out->nulls;
    const uint8_t *restrict x = a->nulls, *restrict y = b->nulls;
    if (sel) {
        for (uint32_t k = 0; k < n; k++) o[sel[k]] = x[sel[k]] | y[sel[k]];
        return;
    }
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t u, v;
        memcpy(&u, x + i, 8);
        memcpy(&v, y + i, 8);
        u |= v;
        memcpy(o + i, &u, 8);
    }
    for (; i < n; i++) o[i] = x[i] | y[i];
}
static void spk__nulls_copy(spk__vec *out, const spk__vec *a, const uint32_t *sel, uint32_t n) {
    uint8_t *restrict o = out->nulls;
    const uint8_t *restrict x = a->nulls;
    if (sel) {
        for (uint32_t k = 0; k < n; k++) o[sel[k]] = x[sel[k]];
        return;
    }
    memcpy(o, x, n);
}

/* ---------------------------------------------------------------- bound node lifetime */

static const spk_allocator *spk__bind_alloc(void) { return &spk__default_allocator; }

static spk__bnode *spk__bnode_new(spk__bkind kind, spk_type type, int nargs) {
    size_t size = sizeof(spk__bnode) + (size_t)nargs * sizeof(spk__bnode *);
    spk__bnode *b = (spk__bnode *)spk__calloc(spk__bind_alloc(), size);
    if (!b) {
        spk__nomem("a bound expression", size);
        return NULL;
    }
    b->kind = (uint8_t)kind;
    b->type = type;
    b->nullable = true;
    b->nargs = nargs;
    b->args = nargs ? (spk__bnode **)(void *)(b + 1) : NULL;
    b->col = -1;
    b->slot = -1;
    return b;
}

static void spk__bnode_free(spk__bnode *b) {
    if (!b) return;
    for (int i = 0; i < b->nargs; i++) spk__bnode_free(b->args[i]);
    if (b->aux_free) b->aux_free(b->aux);
    if (b->text) spk__free(spk__bind_alloc(), b->text, b->text_size);
    spk__free_string(b->name);
    spk__free_string(b->label);
    spk__free(spk__bind_alloc(), b, sizeof(spk__bnode) + (size_t)b->nargs * sizeof(spk__bnode *));
}

static spk_status spk__bnode_set_label(spk__bnode *b, const char *label) {
    b->label = spk__strndup(spk__bind_alloc(), label, strlen(label));
    return b->label ? SPK_OK : spk__nomem("a label", strlen(label) + 1);
}

/* A literal node; string bytes are copied into the node. */
static spk__bnode *spk__bnode_lit(spk_value v) {
    spk__bnode *b = spk__bnode_new(SPK__B_LIT, v.type, 0);
    if (!b) return NULL;
    b->lit = v;
    b->nullable = v.is_null || v.type.id == SPK_TYPE_NULL;
    if (!b->nullable && v.type.id == SPK_TYPE_STRING) {
        b->text_size = v.as.str.len + 1;
        b->text = spk__strndup(spk__bind_alloc(), v.as.str.ptr ? v.as.str.ptr : "", v.as.str.len);
        if (!b->text) {
            spk__nomem("a string literal", b->text_size);
            spk__free(spk__bind_alloc(), b, sizeof(spk__bnode));
            return NULL;
        }
        b->lit.as.str.ptr = b->text;
    }
    return b;
}

/* ---------------------------------------------------------------- casts */

/* Whether CAST(from AS to) is allowed: exactly when spk_value_cast accepts a
 * non-NULL value of type `from`, so explicit casts and spk_value_cast agree. */
static bool spk__can_cast(spk_type from, spk_type to) {
    if (from.id == SPK_TYPE_NULL) return true;
    if (to.id == SPK_TYPE_NULL) return false;
    spk_value probe = spk_value_null_of(from), out;
    probe.is_null = false;
    if (from.id == SPK_TYPE_STRING) probe.as.str.ptr = "";
    char text[SPK_VALUE_TEXT_MAX];
    spk_status saved_status = spk_last_status();
    char saved[SPK_ERROR_MAX];
    memcpy(saved, spk_last_error(), sizeof saved);
    bool ok = spk_value_cast(&probe, to, &out, text) != SPK_ERR_TYPE;
    spk__fail(saved_status, "%s", saved); /* leave this thread's error as it was */
    return ok;
}

/* Whether Spark casts `from` to `to` on its own (function arguments,
 * operands): numbers among themselves, anything to and from STRING, DATE
 * and TIMESTAMP between each other; never BOOLEAN to or from numbers or
 * dates. Explicit CAST allows more (spk__can_cast). */
static bool spk__can_implicit_cast(spk_type from, spk_type to) {
    spk_type_id f = (spk_type_id)from.id, t = (spk_type_id)to.id;
    if (f == SPK_TYPE_NULL || f == t) return true;
    if (f == SPK_TYPE_STRING || t == SPK_TYPE_STRING) return spk__can_cast(from, to);
    if (spk__is_numeric(f) && spk__is_numeric(t)) return true;
    return (f == SPK_TYPE_DATE || f == SPK_TYPE_TIMESTAMP) && (t == SPK_TYPE_DATE || t == SPK_TYPE_TIMESTAMP);
}

/* CAST kernel: fast paths for the common numeric widenings, then a general
 * per-row path through spk_value_cast (strings made in the batch arena). */
static void spk__kernel_cast(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                             const uint32_t *sel, uint32_t n) {
    const spk__vec *a = args[0];
    spk_type_id from = (spk_type_id)a->type.id, to = (spk_type_id)out->type.id;
    (void)node;
    if (from == SPK_TYPE_INT32 && to == SPK_TYPE_INT64) {
        const int32_t *x = a->v.i32;
        int64_t *o = out->v.i64;
        SPK__FOR_ROWS(sel, n, o[i] = x[i]);
        spk__nulls_copy(out, a, sel, n);
        return;
    }
    if ((from == SPK_TYPE_INT32 || from == SPK_TYPE_INT64) && to == SPK_TYPE_DOUBLE) {
        double *o = out->v.f64;
        if (from == SPK_TYPE_INT32) {
            const int32_t *x = a->v.i32;
            SPK__FOR_ROWS(sel, n, o[i] = (double)x[i]);
        } else {
            const int64_t *x = a->v.i64;
            SPK__FOR_ROWS(sel, n, o[i] = (double)x[i]);
        }
        spk__nulls_copy(out, a, sel, n);
        return;
    }
    if (from == SPK_TYPE_DATE && to == SPK_TYPE_TIMESTAMP) {
        const int32_t *x = a->v.i32;
        int64_t *o = out->v.i64;
        SPK__FOR_ROWS(sel, n, o[i] = (int64_t)x[i] * SPK__MICROS_PER_DAY);
        spk__nulls_copy(out, a, sel, n);
        return;
    }
    if (to == SPK_TYPE_DECIMAL && (from == SPK_TYPE_DECIMAL || from == SPK_TYPE_INT32 || from == SPK_TYPE_INT64)) {
        int from_scale = from == SPK_TYPE_DECIMAL ? a->type.scale : 0;
        int to_scale = out->type.scale, precision = out->type.precision;
        int64_t *o = out->v.i64;
        uint8_t *on = out->nulls;
        const uint8_t *an = a->nulls;
        if (from == SPK_TYPE_INT32) {
            const int32_t *x = a->v.i32;
            SPK__FOR_ROWS(sel, n, on[i] = an[i] | !spk__decimal_rescale(x[i], 0, to_scale, precision, &o[i]));
        } else {
            const int64_t *x = a->v.i64;
            SPK__FOR_ROWS(sel, n, on[i] = an[i] | !spk__decimal_rescale(x[i], from_scale, to_scale, precision, &o[i]));
        }
        return;
    }
    if (to == SPK_TYPE_STRING && from == SPK_TYPE_STRING) {
        spk__str *o = out->v.str;
        const spk__str *x = a->v.str;
        SPK__FOR_ROWS(sel, n, o[i] = x[i]);
        spk__nulls_copy(out, a, sel, n);
        return;
    }
    SPK__FOR_ROWS(sel, n, {
        spk_value in = spk__vec_get(a, i), r;
        char text[SPK_VALUE_TEXT_MAX];
        if (spk_value_cast(&in, out->type, &r, text) != SPK_OK) {
            r = spk_value_null_of(out->type); /* rejected at bind time; DATE out of TIMESTAMP range */
        } else if (to == SPK_TYPE_STRING && !r.is_null && r.as.str.ptr == text) {
            char *copy = spk__eval_strbuf(ev, r.as.str.len);
            if (copy) memcpy(copy, text, r.as.str.len);
            r.as.str.ptr = copy ? copy : "";
            if (!copy) r.as.str.len = 0;
        }
        spk__vec_set(out, i, &r);
    });
}

/* Wraps *slot in a CAST to `to` (no-op if it already has that type). */
static spk_status spk__coerce(spk__bnode **slot, spk_type to) {
    spk__bnode *x = *slot;
    if (spk_type_equal(x->type, to)) return SPK_OK;
    if (x->kind == SPK__B_LIT) { /* fold: cast the constant now */
        spk_value r;
        char text[SPK_VALUE_TEXT_MAX];
        spk_status st = spk_value_cast(&x->lit, to, &r, text);
        if (st != SPK_OK) return st;
        spk__bnode *lit = spk__bnode_lit(r);
        if (!lit) return SPK_ERR_NOMEM;
        lit->name = x->name;
        x->name = NULL;
        spk__bnode_free(x);
        *slot = lit;
        return SPK_OK;
    }
    spk__bnode *c = spk__bnode_new(SPK__B_KERNEL, to, 1);
    if (!c) return SPK_ERR_NOMEM;
    c->args[0] = x;
    c->nullable = true;
    c->kernel = spk__kernel_cast;
    if (spk__bnode_set_label(c, "CAST") != SPK_OK) {
        c->args[0] = NULL;
        c->nargs = 0;
        spk__bnode_free(c);
        return SPK_ERR_NOMEM;
    }
    *slot = c;
    return SPK_OK;
}

/* ---------------------------------------------------------------- implicit typing
 * Spark's default (non-ANSI) coercion, with DECIMAL capped at 18 digits. */

static bool spk__is_numeric_type(spk_type t) { return spk__is_numeric((spk_type_id)t.id); }

/* The decimal type an integer operand behaves as (Spark: INT as DECIMAL(10,0);
 * BIGINT as DECIMAL(20,0), which we cap at 18 digits). */
static spk_type spk__decimal_of(spk_type t) {
    if (t.id == SPK_TYPE_DECIMAL) return t;
    return spk_type_decimal(t.id == SPK_TYPE_INT32 ? 10 : 18, 0);
}

/* Spark's precision-loss rule: keep the integer digits, keep at least
 * min(scale, 6) fraction digits, within 18 digits. */
static spk_type spk__decimal_bounded(int precision, int scale) {
    if (precision <= SPK_DECIMAL_MAX_PRECISION) return spk_type_decimal(precision, scale);
    int int_digits = precision - scale;
    int min_scale = scale < 6 ? scale : 6;
    int adjusted = SPK_DECIMAL_MAX_PRECISION - int_digits;
    if (adjusted < min_scale) adjusted = min_scale;
    return spk_type_decimal(SPK_DECIMAL_MAX_PRECISION, adjusted);
}

/* The wider of two decimals (for comparison, CASE, IN, coalesce). */
static spk_type spk__decimal_wider(spk_type a, spk_type b) {
    int scale = a.scale > b.scale ? a.scale : b.scale;
    int ia = a.precision - a.scale, ib = b.precision - b.scale;
    return spk__decimal_bounded((ia > ib ? ia : ib) + scale, scale);
}

/* The type two operands meet at; false if there is none (BOOLEAN and DATE).
 * For a comparison (and IN) a string meets another type at that type, as
 * Spark casts the string; for CASE and coalesce values it meets at STRING. */
static bool spk__common_type(spk_type a, spk_type b, bool comparison, spk_type *out) {
    spk_type_id x = (spk_type_id)a.id, y = (spk_type_id)b.id;
    if (spk_type_equal(a, b)) { *out = a; return true; }
    if (x == SPK_TYPE_NULL) { *out = b; return true; }
    if (y == SPK_TYPE_NULL) { *out = a; return true; }
    if (spk__is_numeric_type(a) && spk__is_numeric_type(b)) {
        if (x == SPK_TYPE_DOUBLE || y == SPK_TYPE_DOUBLE) *out = spk_type_of(SPK_TYPE_DOUBLE);
        else if (x == SPK_TYPE_DECIMAL || y == SPK_TYPE_DECIMAL) *out = spk__decimal_wider(spk__decimal_of(a), spk__decimal_of(b));
        else *out = spk_type_of(SPK_TYPE_INT64);
        return true;
    }
    if ((x == SPK_TYPE_DATE || x == SPK_TYPE_TIMESTAMP) && (y == SPK_TYPE_DATE || y == SPK_TYPE_TIMESTAMP)) {
        *out = spk_type_of(SPK_TYPE_TIMESTAMP);
        return true;
    }
    if (x == SPK_TYPE_STRING || y == SPK_TYPE_STRING) {
        spk_type other = x == SPK_TYPE_STRING ? b : a;
        /* Spark compares a string with a DECIMAL as DOUBLEs (SPARK-22469). */
        if (comparison && other.id == SPK_TYPE_DECIMAL) other = spk_type_of(SPK_TYPE_DOUBLE);
        *out = comparison ? other : spk_type_of(SPK_TYPE_STRING);
        return true;
    }
    return false;
}

/* ---------------------------------------------------------------- exact decimal arithmetic
 * Unscaled int64 operands with their scales; results rounded half-up to the
 * result scale and checked against its precision (false: overflow, which
 * Spark's default mode turns into NULL). Intermediates are 128-bit where the
 * compiler has them (gcc, clang); elsewhere long double, exact to 18 digits
 * only when the intermediate fits its mantissa. */

static bool spk__add_overflow_i64(int64_t a, int64_t b, int64_t *out) {
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_add_overflow(a, b, out);
#else
    if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b)) {
        *out = (int64_t)((uint64_t)a + (uint64_t)b);
        return true;
    }
    *out = a + b;
    return false;
#endif
}

#if defined(__SIZEOF_INT128__)
__extension__ typedef __int128 spk__wide;
#else
typedef long double spk__wide;
#endif

static spk__wide spk__wide_pow10(int k) {
    spk__wide p = 1;
    while (k-- > 0) p *= 10;
    return p;
}

/* v / 10^k rounded half away from zero (Spark's HALF_UP). */
static spk__wide spk__wide_div_round(spk__wide v, spk__wide d) {
#if defined(__SIZEOF_INT128__)
    spk__wide q = v / d, r = v % d;
    if ((r < 0 ? -r : r) * 2 >= d) q += v < 0 ? -1 : 1;
    return q;
#else
    spk__wide q = v / d;
    return q < 0 ? -floorl(-q + 0.5L) : floorl(q + 0.5L);
#endif
}

static bool spk__wide_fits(spk__wide v, int precision, int64_t *out) {
    spk__wide limit = (spk__wide)spk__pow10[precision];
    if (v >= limit || v <= -limit) return false;
    *out = (int64_t)v;
    return true;
}

/* Brings v from scale `from` to scale `to` (both <= 36). */
static spk__wide spk__wide_rescale(spk__wide v, int from, int to) {
    if (to >= from) return v * spk__wide_pow10(to - from);
    return spk__wide_div_round(v, spk__wide_pow10(from - to));
}

static bool spk__mul_overflow_i64(int64_t a, int64_t b, int64_t *out) {
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_mul_overflow(a, b, out);
#else
    if (a != 0 && ((b > 0 ? b : -b) > INT64_MAX / (a > 0 ? a : -a) || a == INT64_MIN || b == INT64_MIN)) return true;
    *out = a * b;
    return false;
#endif
}

static bool spk__decimal_add_sub(int64_t a, int sa, int64_t b, int sb, bool subtract, int scale, int precision, int64_t *out) {
    int s = sa > sb ? sa : sb;
    spk__wide x = spk__wide_rescale(a, sa, s), y = spk__wide_rescale(b, sb, s);
    return spk__wide_fits(spk__wide_rescale(subtract ? x - y : x + y, s, scale), precision, out);
}

static bool spk__decimal_mul(int64_t a, int sa, int64_t b, int sb, int scale, int precision, int64_t *out) {
    return spk__wide_fits(spk__wide_rescale((spk__wide)a * b, sa + sb, scale), precision, out);
}

/* (a / 10^sa) / (b / 10^sb) at `scale`; false on overflow or b == 0. */
static bool spk__decimal_div_round(int64_t a, int sa, int64_t b, int sb, int scale, int precision, int64_t *out) {
    if (b == 0) return false;
    int k = scale - sa + sb; /* a * 10^k / b */
    spk__wide num = a, den = b;
    if (k >= 0) {
        if (k > 36) return false;
        spk__wide f = spk__wide_pow10(k);
        spk__wide limit = (spk__wide)spk__pow10[18] * (spk__wide)spk__pow10[18] * 100; /* 1e38 */
        if ((num < 0 ? -num : num) > limit / f) return false;
        num *= f;
    } else {
        den *= spk__wide_pow10(-k);
    }
    if (den < 0) {
        num = -num;
        den = -den;
    }
    return spk__wide_fits(spk__wide_div_round(num, den), precision, out);
}

static bool spk__decimal_mod(int64_t a, int sa, int64_t b, int sb, int scale, int precision, int64_t *out) {
    int s = sa > sb ? sa : sb;
    spk__wide x = spk__wide_rescale(a, sa, s), y = spk__wide_rescale(b, sb, s);
    if (y == 0) return false;
#if defined(__SIZEOF_INT128__)
    spk__wide r = x % y;
#else
    spk__wide r = fmodl(x, y);
#endif
    return spk__wide_fits(spk__wide_rescale(r, s, scale), precision, out);
}

/* ---------------------------------------------------------------- vectors into tables
 * The bulk path from evaluation back to the row store: rows are written
 * straight into chunk slots, a chunk's worth of room reserved at a time. */

/* Room for `rows` more rows holding `string_bytes` in the tail chunk, which
 * may be a fresh one; *fit is how many rows the tail can take now (>= 1). */
static spk_status spk__reserve_rows(spk_table *t, uint32_t rows, size_t string_bytes, spk__chunk **chunk, uint32_t *fit) {
    spk__chunk *c = NULL;
    spk_status st = spk__reserve_row(t, 0, &c); /* a tail chunk with room for one row */
    if (st != SPK_OK) return st;
    uint32_t room = SPK_CHUNK_ROWS - c->nrows;
    uint32_t want = rows < room ? rows : room;
    if (string_bytes > (size_t)(UINT32_MAX - c->heap_len)) return spk__fail(SPK_ERR_LIMIT, "a chunk's strings exceed 4 GiB");
    if ((st = spk__chunk_reserve(t, c, want, string_bytes, true)) != SPK_OK) return st;
    *chunk = c;
    *fit = want;
    return SPK_OK;
}

/* Appends rows from column vectors (one per table column, of the column's
 * type) for the selected rows. Values are trusted to fit their columns;
 * a NULL in a non-nullable column is SPK_ERR_NULL. All or nothing. */
static spk_status spk__table_append_vecs(spk_table *t, spk__vec *const *cols, const uint32_t *sel, uint32_t n) {
    spk__table_mark mark = spk__table_mark_get(t);
    uint32_t done = 0;
    while (done < n) {
        /* Strings first decide how many rows fit this chunk's heap. */
        spk__chunk *c;
        uint32_t fit;
        spk_status st = spk__reserve_rows(t, n - done, 0, &c, &fit);
        size_t bytes = 0;
        for (int col = 0; st == SPK_OK && col < t->ncols; col++) {
            if (cols[col]->type.id != SPK_TYPE_STRING) continue;
            for (uint32_t k = done; k < done + fit; k++) {
                uint32_t i = sel ? sel[k] : k;
                if (!cols[col]->nulls[i]) bytes += cols[col]->v.str[i].len;
            }
        }
        if (st == SPK_OK && bytes) st = spk__reserve_rows(t, fit, bytes, &c, &fit);
        if (st != SPK_OK) {
            spk__table_rollback(t, mark);
            return st;
        }
        /* Column at a time: one type switch per column, then a tight loop. */
        unsigned char *base = c->rows + (size_t)c->nrows * t->width;
        size_t w = t->width;
        for (uint32_t k = 0; k < fit; k++)
            for (int b = 0; b < (t->ncols + 7) / 8; b++) base[(size_t)k * w + b] = 0;
        uint32_t heap_at = c->heap_len;
        for (int col = 0; col < t->ncols; col++) {
            const spk__vec *v = cols[col];
            unsigned char *p = base + t->offset[col], bit = (unsigned char)(1u << (col & 7));
            int byte = col >> 3;
            bool nullable = spk_schema_field(t->schema, col)->nullable;
            for (uint32_t k = 0; k < fit; k++) {
                uint32_t i = sel ? sel[done + k] : done + k;
                if (v->nulls[i]) {
                    if (!nullable) {
                        spk__table_rollback(t, mark);
                        return spk__fail(SPK_ERR_NULL, "column %d (`%s`): NULL in non-nullable column", col + 1,
                                         spk_schema_field(t->schema, col)->name);
                    }
                    base[(size_t)k * w + byte] |= bit;
                }
            }
            switch ((spk_type_id)v->type.id) {
            case SPK_TYPE_BOOLEAN:
                for (uint32_t k = 0; k < fit; k++) {
                    uint32_t i = sel ? sel[done + k] : done + k;
                    p[(size_t)k * w] = v->nulls[i] ? 0 : v->v.b[i];
                }
                break;
            case SPK_TYPE_INT32:
            case SPK_TYPE_DATE:
                for (uint32_t k = 0; k < fit; k++) memcpy(p + (size_t)k * w, &v->v.i32[sel ? sel[done + k] : done + k], 4);
                break;
            case SPK_TYPE_STRING:
                break; /* below, in row order, so the heap stays row-major */
            case SPK_TYPE_NULL:
            case SPK_TYPE_COUNT: break;
            default:
                for (uint32_t k = 0; k < fit; k++) memcpy(p + (size_t)k * w, &v->v.i64[sel ? sel[done + k] : done + k], 8);
                break;
            }
        }
        if (t->last_string >= 0) {
            for (uint32_t k = 0; k < fit; k++) {
                uint32_t i = sel ? sel[done + k] : done + k;
                for (int col = 0; col < t->ncols; col++) {
                    const spk__vec *v = cols[col];
                    if (v->type.id != SPK_TYPE_STRING) continue;
                    if (!v->nulls[i] && v->v.str[i].len) {
                        memcpy(c->heap + heap_at, v->v.str[i].ptr, v->v.str[i].len);
                        heap_at += (uint32_t)v->v.str[i].len;
                    }
                    memcpy(base + (size_t)k * w + t->offset[col], &heap_at, 4);
                }
            }
        }
        c->nrows += fit;
        t->nrows += fit;
        c->heap_len = heap_at;
        done += fit;
    }
    return SPK_OK;
}

/* Appends copies of rows [start + sel[k]] of chunk `c` of table `in` to `t`
 * (same layout: equal schemas). Fixed fields move as whole slots; strings
 * are copied and their end offsets rewritten. All or nothing. */
static spk_status spk__table_append_slots(spk_table *t, const spk_table *in, const spk__chunk *c, uint32_t start,
                                          const uint32_t *sel, uint32_t n) {
    spk__table_mark mark = spk__table_mark_get(t);
    uint32_t done = 0;
    while (done < n) {
        spk__chunk *dst;
        uint32_t fit;
        spk_status st = spk__reserve_rows(t, n - done, 0, &dst, &fit);
        size_t bytes = 0;
        if (st == SPK_OK && t->last_string >= 0) {
            for (uint32_t k = done; k < done + fit; k++) {
                uint32_t row = start + (sel ? sel[k] : k);
                const unsigned char *slot = c->rows + (size_t)row * in->width;
                uint32_t first = row ? spk__load_u32(slot - in->width + in->offset[in->last_string]) : 0;
                bytes += spk__load_u32(slot + in->offset[in->last_string]) - first;
            }
            if (bytes) st = spk__reserve_rows(t, fit, bytes, &dst, &fit);
        }
        if (st != SPK_OK) {
            spk__table_rollback(t, mark);
            return st;
        }
        if (t->last_string < 0) { /* fixed-width rows: copy runs of consecutive rows at once */
            uint32_t k = done;
            while (k < done + fit) {
                uint32_t row = start + (sel ? sel[k] : k), run = 1;
                while (k + run < done + fit && start + (sel ? sel[k + run] : k + run) == row + run) run++;
                memcpy(dst->rows + (size_t)dst->nrows * t->width, c->rows + (size_t)row * in->width, (size_t)run * t->width);
                dst->nrows += run;
                t->nrows += run;
                k += run;
            }
            done += fit;
            continue;
        }
        uint32_t heap_at = dst->heap_len;
        for (uint32_t k = done; k < done + fit; k++) {
            uint32_t row = start + (sel ? sel[k] : k);
            const unsigned char *src = c->rows + (size_t)row * in->width;
            unsigned char *slot = dst->rows + (size_t)dst->nrows * t->width;
            memcpy(slot, src, t->width);
            if (t->last_string >= 0) {
                uint32_t from = row ? spk__load_u32(src - in->width + in->offset[in->last_string]) : 0;
                uint32_t to = spk__load_u32(src + in->offset[in->last_string]);
                if (to > from) memcpy(dst->heap + heap_at, c->heap + from, to - from);
                for (int col = 0; col < t->ncols; col++) { /* ends shift by the same amount */
                    if (spk_schema_field(t->schema, col)->type.id != SPK_TYPE_STRING) continue;
                    uint32_t end = spk__load_u32(src + in->offset[col]) - from + heap_at;
                    memcpy(slot + t->offset[col], &end, 4);
                }
                heap_at += to - from;
            }
            dst->nrows++;
            t->nrows++;
        }
        dst->heap_len = heap_at;
        done += fit;
    }
    return SPK_OK;
}

/* Appends copies of every row of src (same layout) to t. All or nothing. */
static spk_status spk__table_append_table(spk_table *t, const spk_table *src) {
    spk__table_mark mark = spk__table_mark_get(t);
    spk_status st = SPK_OK;
    for (size_t i = 0; st == SPK_OK && i < src->nchunks; i++)
        st = spk__table_append_slots(t, src, src->chunks[i], 0, NULL, src->chunks[i]->nrows);
    if (st != SPK_OK) spk__table_rollback(t, mark);
    return st;
}

/* Appends every row of `src` (same schema, same allocator) to t, moving
 * big chunks over as they are and copying small ones, so that a result
 * put together from many small per-morsel pieces is not many small chunks.
 * src is left to be freed; on failure t may hold some of its rows. */
static spk_status spk__table_adopt(spk_table *t, spk_table *src) {
    size_t kept = 0;
    spk_status st = SPK_OK;
    for (size_t i = 0; i < src->nchunks; i++) {
        spk__chunk *c = src->chunks[i];
        spk__chunk *last = t->nchunks ? t->chunks[t->nchunks - 1] : NULL;
        if (st != SPK_OK || c->nrows < SPK_CHUNK_ROWS / 4) {
            if (st == SPK_OK && c->nrows) st = spk__table_append_slots(t, src, c, 0, NULL, c->nrows);
            src->chunks[kept++] = c; /* freed with src */
            continue;
        }
        if (t->nchunks == t->cap_chunks) {
            size_t cap = t->cap_chunks ? t->cap_chunks * 2 : 4;
            void *p = spk__table_realloc(t, t->chunks, t->cap_chunks * sizeof *t->chunks, cap * sizeof *t->chunks);
            if (!p) {
                st = spk__nomem("the chunk list", cap * sizeof *t->chunks);
                src->chunks[kept++] = c;
                continue;
            }
            t->chunks = (spk__chunk **)p;
            t->cap_chunks = cap;
        }
        if (last) spk__chunk_seal(t, last);
        size_t bytes = spk__chunk_bytes(src, c);
        src->bytes -= bytes;
        t->bytes += bytes;
        c->first_row = t->nrows;
        t->chunks[t->nchunks++] = c;
        t->nrows += c->nrows;
    }
    src->nchunks = kept;
    return st;
}

/* A new table with the rows of src, sharing its chunks (which neither
 * writes again: appends to either start a chunk of their own). A small
 * tail chunk is copied instead, so that a table grown by many small
 * appends does not become many small chunks. Same allocator as src. */
static spk_status spk__table_share(const spk_table *src, spk_table **out) {
    spk_table *t = NULL;
    spk_status st = spk_table_new(src->alloc, src->schema, &t);
    size_t shared = src->nchunks;
    if (shared && src->chunks[shared - 1]->nrows < SPK_CHUNK_ROWS / 4) shared--;
    if (st == SPK_OK && shared) {
        t->chunks = (spk__chunk **)spk__table_alloc(t, shared * sizeof *t->chunks);
        if (!t->chunks) st = spk__nomem("the chunk list", shared * sizeof *t->chunks);
        else t->cap_chunks = shared;
    }
    for (size_t i = 0; st == SPK_OK && i < shared; i++) {
        spk__chunk *c = src->chunks[i];
        atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed); /* src holds one */
        t->chunks[t->nchunks++] = c;
        t->nrows += c->nrows;
        t->bytes += spk__chunk_bytes(t, c);
    }
    if (st == SPK_OK && shared < src->nchunks) {
        const spk__chunk *c = src->chunks[shared];
        st = spk__table_append_slots(t, src, c, 0, NULL, c->nrows);
    }
    if (st != SPK_OK) {
        spk_table_free(t);
        return st;
    }
    *out = t;
    return SPK_OK;
}

/* ---- src/funcs.c ---- */
/* funcs: Spark's function library — scalar functions (a bind hook that types
 * the call and picks a kernel) and aggregate functions (per-group states).
 * The binder in eval finds them by name with spk__func_find. */

typedef struct spk__func {
    const char *name;     /* lower case, as Spark names it */
    int min_args, max_args; /* max_args -1: any number */
    /* Called with the arguments bound: checks and coerces them (spk__coerce),
     * sets node->type, node->nullable and node->kernel (scalar) or node->agg. */
    spk_status (*bind)(spk__bnode *node);
    bool aggregate;
} spk__func;

/* ---------------------------------------------------------------- bind helpers */

static const char *spk__ordinal(int i) {
    static const char *const words[] = {"first", "second", "third", "fourth", "fifth"};
    return i < 5 ? words[i] : "next";
}

/* Coerces argument i to `to`, or fails in Spark's words. */
static spk_status spk__fn_arg(spk__bnode *node, int i, spk_type to) {
    spk_type from = node->args[i]->type;
    if (spk_type_equal(from, to)) return SPK_OK;
    if (!spk__can_implicit_cast(from, to)) {
        char want[32], got[32];
        spk_type_format(to, SPK_TYPE_SQL, want, sizeof want);
        spk_type_format(from, SPK_TYPE_SQL, got, sizeof got);
        return spk__fail(SPK_ERR_TYPE,
                         "[DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE] Cannot resolve \"%s\" due to data type mismatch: "
                         "the %s parameter requires the \"%s\" type, however it has the type \"%s\".",
                         node->label ? node->label : "?", spk__ordinal(i), want, got);
    }
    return spk__coerce(&node->args[i], to);
}

static spk_status spk__fn_args(spk__bnode *node, spk_type to) {
    for (int i = 0; i < node->nargs; i++) {
        spk_status st = spk__fn_arg(node, i, to);
        if (st != SPK_OK) return st;
    }
    return SPK_OK;
}

static spk_status spk__fn_numeric_arg(spk__bnode *node, int i) {
    if (spk__is_numeric_type(node->args[i]->type)) return SPK_OK;
    return spk__fn_arg(node, i, spk_type_of(SPK_TYPE_DOUBLE));
}

static bool spk__any_nullable(const spk__bnode *node) {
    for (int i = 0; i < node->nargs; i++)
        if (node->args[i]->nullable) return true;
    return false;
}

/* The common type of all arguments (for coalesce, greatest, ...). */
static spk_status spk__fn_common(spk__bnode *node, int first, spk_type *out) {
    spk_type t = node->args[first]->type;
    for (int i = first + 1; i < node->nargs; i++) {
        spk_type next;
        if (!spk__common_type(t, node->args[i]->type, false, &next)) {
            char a[32], b[32];
            spk_type_format(t, SPK_TYPE_SQL, a, sizeof a);
            spk_type_format(node->args[i]->type, SPK_TYPE_SQL, b, sizeof b);
            return spk__fail(SPK_ERR_TYPE,
                             "[DATATYPE_MISMATCH.DATA_DIFF_TYPES] Cannot resolve \"%s\" due to data type mismatch: "
                             "input to function %s should all be the same type, but it's [%s, %s].",
                             node->label, node->label, a, b);
        }
        t = next;
    }
    for (int i = first; i < node->nargs; i++) {
        spk_status st = spk__coerce(&node->args[i], t);
        if (st != SPK_OK) return st;
    }
    *out = t;
    return SPK_OK;
}

/* Whether argument i folded to a constant; *v gets its value. */
static bool spk__arg_const(const spk__bnode *node, int i, spk_value *v) {
    if (node->args[i]->kind != SPK__B_LIT) return false;
    *v = node->args[i]->lit;
    if (v->type.id == SPK_TYPE_NULL) v->is_null = true;
    return true;
}

/* Spark requires some arguments (round's scale, regexp_replace's position)
 * to be constants. */
static spk_status spk__fn_need_const(spk__bnode *node, int i, const char *what) {
    if (node->args[i]->kind == SPK__B_LIT) return SPK_OK;
    return spk__fail(SPK_ERR_TYPE,
                     "[DATATYPE_MISMATCH.NON_FOLDABLE_INPUT] Cannot resolve \"%s\" due to data type mismatch: "
                     "the input `%s` should be a foldable expression.",
                     node->label ? node->label : "?", what);
}

/* ---------------------------------------------------------------- kernel helpers */

static const spk__str spk__empty_str = {"", 0};

/* out.nulls = the OR of every argument's nulls. */
static void spk__nulls_any(spk__vec *out, spk__vec *const *args, int nargs, const uint32_t *sel, uint32_t n) {
    uint8_t *o = out->nulls;
    SPK__FOR_ROWS(sel, n, {
        uint8_t null = 0;
        for (int a = 0; a < nargs; a++) null |= args[a]->nulls[i];
        o[i] = null;
    });
}

/* spk__vec_set that leaves a NULL string row a valid empty view: kernels
 * read the bytes of NULL rows, which must not point into a freed batch. */
static void spk__vec_put(spk__vec *v, uint32_t i, const spk_value *x) {
    spk__vec_set(v, i, x);
    if (v->nulls[i] && v->type.id == SPK_TYPE_STRING) v->v.str[i] = spk__empty_str;
}

/* Row i of src (of out's type) into out. */
static void spk__vec_copy_row(spk__vec *out, const spk__vec *src, uint32_t i) {
    size_t w = spk__phys_size((spk_type_id)out->type.id);
    out->nulls[i] = src->nulls[i];
    memcpy((char *)out->v.any + i * w, (const char *)src->v.any + i * w, w);
}

/* The answer NULL for every row: round(x, NULL), date_trunc('fortnight', ts). */
static void spk__k_null(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                        const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    (void)args;
    bool str = out->type.id == SPK_TYPE_STRING;
    SPK__FOR_ROWS(sel, n, {
        out->nulls[i] = 1;
        if (str) out->v.str[i] = spk__empty_str;
    });
}

/* The first argument unchanged (after the bind hook's cast): to_date(x). */
static void spk__k_first(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                         const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    SPK__FOR_ROWS(sel, n, spk__vec_copy_row(out, args[0], i));
}

/* ---------------------------------------------------------------- UTF-8 text helpers */

static bool spk__utf8_cont(char c) { return ((unsigned char)c & 0xC0) == 0x80; }

/* The byte offset k code points after byte offset `at` (len if the text ends first). */
static size_t spk__utf8_skip(const char *s, size_t len, size_t at, int64_t k) {
    while (k > 0 && at < len) {
        at++;
        while (at < len && spk__utf8_cont(s[at])) at++;
        k--;
    }
    return at;
}

/* The first occurrence of needle in hay at or after byte `from`; SIZE_MAX if none. */
static size_t spk__find_bytes(const char *hay, size_t hl, size_t from, const char *needle, size_t nl) {
    if (from > hl) return SIZE_MAX;
    if (nl == 0) return from;
    if (hl - from < nl) return SIZE_MAX;
    const char *p = hay + from, *last = hay + (hl - nl);
    while (p <= last) {
        p = (const char *)memchr(p, needle[0], (size_t)(last - p) + 1);
        if (!p) return SIZE_MAX;
        if (memcmp(p, needle, nl) == 0) return (size_t)(p - hay);
        p++;
    }
    return SIZE_MAX;
}

static bool spk__ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* ---------------------------------------------------------------- strings */

/* Characters (code points) in UTF-8 text: bytes that do not continue one. */
static size_t spk__utf8_chars(const char *s, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

static void spk__k_length(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                          const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    const spk__str *x = args[0]->v.str;
    int32_t *o = out->v.i32;
    SPK__FOR_ROWS(sel, n, o[i] = (int32_t)spk__utf8_chars(x[i].ptr, x[i].len));
    spk__nulls_copy(out, args[0], sel, n);
}

/* upper/lower change ASCII letters only (Spark: Unicode case mapping). */
static void spk__k_case(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                        const uint32_t *sel, uint32_t n) {
    bool upper = node->iarg != 0;
    const spk__str *x = args[0]->v.str;
    const uint8_t *xn = args[0]->nulls;
    spk__str *o = out->v.str;
    SPK__FOR_ROWS(sel, n, {
        o[i].len = 0;
        o[i].ptr = "";
        if (!xn[i] && x[i].len) {
            char *buf = spk__eval_strbuf(ev, x[i].len);
            if (buf) {
                for (size_t k = 0; k < x[i].len; k++) {
                    char c = x[i].ptr[k];
                    if (upper && c >= 'a' && c <= 'z') c = (char)(c - 32);
                    else if (!upper && c >= 'A' && c <= 'Z') c = (char)(c + 32);
                    buf[k] = c;
                }
                o[i].ptr = buf;
                o[i].len = x[i].len;
            }
        }
    });
    spk__nulls_copy(out, args[0], sel, n);
}

static spk_status spk__bind_length(spk__bnode *node) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_STRING));
    node->type = spk_type_of(SPK_TYPE_INT32);
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_length;
    return st;
}

static spk_status spk__bind_upper(spk__bnode *node) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_STRING));
    node->type = spk_type_of(SPK_TYPE_STRING);
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_case;
    node->iarg = 1;
    return st;
}

static spk_status spk__bind_lower(spk__bnode *node) {
    spk_status st = spk__bind_upper(node);
    node->iarg = 0;
    return st;
}

/* concat(a, b, ...): NULL if any argument is NULL. */
static void spk__k_concat(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                          const uint32_t *sel, uint32_t n) {
    int na = node->nargs;
    spk__str *o = out->v.str;
    SPK__FOR_ROWS(sel, n, {
        size_t total = 0;
        uint8_t null = 0;
        for (int a = 0; a < na; a++) {
            null |= args[a]->nulls[i];
            total += args[a]->v.str[i].len;
        }
        out->nulls[i] = null;
        o[i].ptr = "";
        o[i].len = 0;
        if (!null && total) {
            char *buf = spk__eval_strbuf(ev, total);
            if (buf) {
                size_t at = 0;
                for (int a = 0; a < na; a++) {
                    memcpy(buf + at, args[a]->v.str[i].ptr, args[a]->v.str[i].len);
                    at += args[a]->v.str[i].len;
                }
                o[i].ptr = buf;
                o[i].len = total;
            }
        }
    });
}

static spk_status spk__bind_concat(spk__bnode *node) {
    spk_status st = spk__fn_args(node, spk_type_of(SPK_TYPE_STRING));
    node->type = spk_type_of(SPK_TYPE_STRING);
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_concat;
    return st;
}

/* trim, ltrim, rtrim: spaces (U+0020) only, as Spark's one-argument forms.
 * The result views the input's bytes. iarg: 1 leading, 2 trailing, 3 both. */
static void spk__k_trim(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                        const uint32_t *sel, uint32_t n) {
    (void)ev;
    int64_t sides = node->iarg;
    const spk__str *x = args[0]->v.str;
    const uint8_t *xn = args[0]->nulls;
    spk__str *o = out->v.str;
    SPK__FOR_ROWS(sel, n, {
        size_t a = 0, b = xn[i] ? 0 : x[i].len;
        if (sides & 1) while (a < b && x[i].ptr[a] == ' ') a++;
        if (sides & 2) while (b > a && x[i].ptr[b - 1] == ' ') b--;
        o[i] = xn[i] ? spk__empty_str : x[i];
        o[i].ptr += a;
        o[i].len = b - a;
    });
    spk__nulls_copy(out, args[0], sel, n);
}

static spk_status spk__bind_trim_sides(spk__bnode *node, int sides) {
    spk_status st = spk__bind_upper(node); /* STRING -> STRING */
    node->kernel = spk__k_trim;
    node->iarg = sides;
    return st;
}
static spk_status spk__bind_trim(spk__bnode *node) { return spk__bind_trim_sides(node, 3); }
static spk_status spk__bind_ltrim(spk__bnode *node) { return spk__bind_trim_sides(node, 1); }
static spk_status spk__bind_rtrim(spk__bnode *node) { return spk__bind_trim_sides(node, 2); }

/* substring(str, pos[, len]) in code points, as Spark's UTF8String.substringSQL:
 * pos 1 is the first character, 0 acts as 1, a negative pos counts from the
 * end; the window [start, start + len) is cut to the text. A view, no copy. */
static void spk__k_substring(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                             const uint32_t *sel, uint32_t n) {
    (void)ev;
    const spk__str *x = args[0]->v.str;
    const int32_t *pos = args[1]->v.i32, *len = node->nargs > 2 ? args[2]->v.i32 : NULL;
    spk__str *o = out->v.str;
    spk__nulls_any(out, args, node->nargs, sel, n);
    SPK__FOR_ROWS(sel, n, {
        o[i] = spk__empty_str;
        if (out->nulls[i]) continue;
        int64_t p = pos[i], start = p > 0 ? p - 1 : 0;
        if (p < 0) start = (int64_t)spk__utf8_chars(x[i].ptr, x[i].len) + p;
        int64_t end = start + (len ? len[i] : INT32_MAX); /* Spark's default length is Integer.MAX_VALUE */
        if (start < 0) start = 0;
        if (start >= end) continue;
        size_t a = spk__utf8_skip(x[i].ptr, x[i].len, 0, start);
        size_t b = spk__utf8_skip(x[i].ptr, x[i].len, a, end - start);
        o[i].ptr = x[i].ptr + a;
        o[i].len = b - a;
    });
}

static spk_status spk__bind_substring(spk__bnode *node) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_STRING));
    for (int i = 1; i < node->nargs && st == SPK_OK; i++) st = spk__fn_arg(node, i, spk_type_of(SPK_TYPE_INT32));
    node->type = spk_type_of(SPK_TYPE_STRING);
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_substring;
    return st;
}

/* concat_ws(sep, s1, s2, ...): NULL arguments are skipped; NULL only if sep is. */
static void spk__k_concat_ws(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                             const uint32_t *sel, uint32_t n) {
    int na = node->nargs;
    spk__str *o = out->v.str;
    const spk__str *sep = args[0]->v.str;
    SPK__FOR_ROWS(sel, n, {
        o[i] = spk__empty_str;
        out->nulls[i] = args[0]->nulls[i];
        if (out->nulls[i]) continue;
        size_t total = 0, parts = 0;
        for (int a = 1; a < na; a++) {
            if (args[a]->nulls[i]) continue;
            total += args[a]->v.str[i].len;
            parts++;
        }
        if (parts > 1) total += (parts - 1) * sep[i].len;
        if (total == 0) continue;
        char *buf = spk__eval_strbuf(ev, total);
        if (!buf) continue;
        size_t at = 0;
        parts = 0;
        for (int a = 1; a < na; a++) {
            if (args[a]->nulls[i]) continue;
            if (parts++) {
                memcpy(buf + at, sep[i].ptr, sep[i].len);
                at += sep[i].len;
            }
            if (args[a]->v.str[i].len) memcpy(buf + at, args[a]->v.str[i].ptr, args[a]->v.str[i].len);
            at += args[a]->v.str[i].len;
        }
        o[i].ptr = buf;
        o[i].len = total;
    });
}

static spk_status spk__bind_concat_ws(spk__bnode *node) {
    spk_status st = spk__fn_args(node, spk_type_of(SPK_TYPE_STRING));
    node->type = spk_type_of(SPK_TYPE_STRING);
    node->nullable = node->args[0]->nullable;
    node->kernel = spk__k_concat_ws;
    return st;
}

/* replace(str, search[, replacement]): every non-overlapping occurrence, left
 * to right; an empty search leaves str as it is. */
static void spk__k_replace(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                           const uint32_t *sel, uint32_t n) {
    const spk__str *x = args[0]->v.str, *s = args[1]->v.str;
    const spk__str *r = node->nargs > 2 ? args[2]->v.str : NULL;
    spk__str *o = out->v.str;
    spk__nulls_any(out, args, node->nargs, sel, n);
    SPK__FOR_ROWS(sel, n, {
        o[i] = spk__empty_str;
        if (out->nulls[i]) continue;
        o[i] = x[i];
        if (x[i].len == 0 || s[i].len == 0) continue;
        size_t rl = r ? r[i].len : 0, count = 0;
        for (size_t at = 0; (at = spk__find_bytes(x[i].ptr, x[i].len, at, s[i].ptr, s[i].len)) != SIZE_MAX; at += s[i].len)
            count++;
        if (count == 0) continue;
        size_t total = x[i].len - count * s[i].len + count * rl;
        char *buf = spk__eval_strbuf(ev, total);
        o[i] = spk__empty_str;
        if (!buf) continue;
        size_t from = 0, w = 0, at;
        while ((at = spk__find_bytes(x[i].ptr, x[i].len, from, s[i].ptr, s[i].len)) != SIZE_MAX) {
            memcpy(buf + w, x[i].ptr + from, at - from);
            w += at - from;
            if (rl) memcpy(buf + w, r[i].ptr, rl);
            w += rl;
            from = at + s[i].len;
        }
        memcpy(buf + w, x[i].ptr + from, x[i].len - from);
        o[i].ptr = buf;
        o[i].len = total;
    });
}

static spk_status spk__bind_replace(spk__bnode *node) {
    spk_status st = spk__bind_concat(node); /* every argument STRING, NULL in NULL out */
    node->kernel = spk__k_replace;
    return st;
}

/* instr(str, substr): the 1-based character position of the first
 * occurrence, 0 if none (an empty substr is found at 1). */
static void spk__k_instr(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                         const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    const spk__str *x = args[0]->v.str, *s = args[1]->v.str;
    int32_t *o = out->v.i32;
    spk__nulls_any(out, args, 2, sel, n);
    SPK__FOR_ROWS(sel, n, {
        o[i] = 0;
        if (out->nulls[i]) continue;
        size_t at = spk__find_bytes(x[i].ptr, x[i].len, 0, s[i].ptr, s[i].len);
        if (at != SIZE_MAX) o[i] = (int32_t)spk__utf8_chars(x[i].ptr, at) + 1;
    });
}

static spk_status spk__bind_instr(spk__bnode *node) {
    spk_status st = spk__fn_args(node, spk_type_of(SPK_TYPE_STRING));
    node->type = spk_type_of(SPK_TYPE_INT32);
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_instr;
    return st;
}

/* locate(substr, str[, pos]): the position of substr in str searching from
 * character pos (1-based). As Spark: a NULL pos gives 0, not NULL; pos < 1
 * gives 0; an empty substr is found at 1. */
static void spk__k_locate(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                          const uint32_t *sel, uint32_t n) {
    (void)ev;
    const spk__str *s = args[0]->v.str, *x = args[1]->v.str;
    const spk__vec *pv = node->nargs > 2 ? args[2] : NULL;
    int32_t *o = out->v.i32;
    SPK__FOR_ROWS(sel, n, {
        o[i] = 0;
        out->nulls[i] = 0;
        if (pv && pv->nulls[i]) continue;
        out->nulls[i] = args[0]->nulls[i] | args[1]->nulls[i];
        int64_t pos = pv ? pv->v.i32[i] : 1;
        if (out->nulls[i] || pos < 1) continue;
        if (s[i].len == 0) {
            o[i] = 1;
            continue;
        }
        size_t from = spk__utf8_skip(x[i].ptr, x[i].len, 0, pos - 1);
        size_t at = spk__find_bytes(x[i].ptr, x[i].len, from, s[i].ptr, s[i].len);
        if (at != SIZE_MAX) o[i] = (int32_t)(pos + (int64_t)spk__utf8_chars(x[i].ptr + from, at - from));
    });
}

static spk_status spk__bind_locate(spk__bnode *node) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_STRING));
    if (st == SPK_OK) st = spk__fn_arg(node, 1, spk_type_of(SPK_TYPE_STRING));
    if (st == SPK_OK && node->nargs > 2) st = spk__fn_arg(node, 2, spk_type_of(SPK_TYPE_INT32));
    node->type = spk_type_of(SPK_TYPE_INT32);
    node->nullable = node->args[0]->nullable || node->args[1]->nullable;
    node->kernel = spk__k_locate;
    return st;
}

/* lpad/rpad(str, len[, pad]): pad with repeats of pad (default ' ') to len
 * characters, or cut str to its first len characters; an empty pad only
 * cuts. iarg: 1 pads on the left. */
static void spk__k_pad(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                       const uint32_t *sel, uint32_t n) {
    bool left = node->iarg != 0;
    const spk__str *x = args[0]->v.str, *pad = node->nargs > 2 ? args[2]->v.str : NULL;
    const int32_t *len = args[1]->v.i32;
    spk__str *o = out->v.str;
    spk__nulls_any(out, args, node->nargs, sel, n);
    SPK__FOR_ROWS(sel, n, {
        o[i] = spk__empty_str;
        if (out->nulls[i] || len[i] <= 0) continue;
        spk__str p = pad ? pad[i] : (spk__str){" ", 1};
        size_t chars = spk__utf8_chars(x[i].ptr, x[i].len), want = (size_t)len[i];
        if (want <= chars || p.len == 0) {
            o[i].ptr = x[i].ptr;
            o[i].len = spk__utf8_skip(x[i].ptr, x[i].len, 0, (int64_t)want);
            continue;
        }
        size_t fill = want - chars, pchars = spk__utf8_chars(p.ptr, p.len);
        size_t whole = fill / pchars, part = spk__utf8_skip(p.ptr, p.len, 0, (int64_t)(fill % pchars));
        size_t total = whole * p.len + part + x[i].len;
        char *buf = spk__eval_strbuf(ev, total);
        if (!buf) continue;
        char *w = buf;
        if (!left) {
            memcpy(w, x[i].ptr, x[i].len);
            w += x[i].len;
        }
        for (size_t k = 0; k < whole; k++, w += p.len) memcpy(w, p.ptr, p.len);
        memcpy(w, p.ptr, part);
        w += part;
        if (left) memcpy(w, x[i].ptr, x[i].len);
        o[i].ptr = buf;
        o[i].len = total;
    });
}

static spk_status spk__bind_pad(spk__bnode *node, int left) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_STRING));
    if (st == SPK_OK) st = spk__fn_arg(node, 1, spk_type_of(SPK_TYPE_INT32));
    if (st == SPK_OK && node->nargs > 2) st = spk__fn_arg(node, 2, spk_type_of(SPK_TYPE_STRING));
    node->type = spk_type_of(SPK_TYPE_STRING);
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_pad;
    node->iarg = left;
    return st;
}
static spk_status spk__bind_lpad(spk__bnode *node) { return spk__bind_pad(node, 1); }
static spk_status spk__bind_rpad(spk__bnode *node) { return spk__bind_pad(node, 0); }

/* startswith / endswith / contains (iarg 0, 1, 2), byte-wise; "" is in every string. */
static void spk__k_affix(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                         const uint32_t *sel, uint32_t n) {
    (void)ev;
    int64_t which = node->iarg;
    const spk__str *x = args[0]->v.str, *s = args[1]->v.str;
    uint8_t *o = out->v.b;
    spk__nulls_any(out, args, 2, sel, n);
    SPK__FOR_ROWS(sel, n, {
        o[i] = 0;
        if (out->nulls[i] || s[i].len > x[i].len) continue;
        if (s[i].len == 0) o[i] = 1;
        else if (which == 0) o[i] = memcmp(x[i].ptr, s[i].ptr, s[i].len) == 0;
        else if (which == 1) o[i] = memcmp(x[i].ptr + x[i].len - s[i].len, s[i].ptr, s[i].len) == 0;
        else o[i] = spk__find_bytes(x[i].ptr, x[i].len, 0, s[i].ptr, s[i].len) != SIZE_MAX;
    });
}

static spk_status spk__bind_affix(spk__bnode *node, int which) {
    spk_status st = spk__fn_args(node, spk_type_of(SPK_TYPE_STRING));
    node->type = spk_type_of(SPK_TYPE_BOOLEAN);
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_affix;
    node->iarg = which;
    return st;
}
static spk_status spk__bind_startswith(spk__bnode *node) { return spk__bind_affix(node, 0); }
static spk_status spk__bind_endswith(spk__bnode *node) { return spk__bind_affix(node, 1); }
static spk_status spk__bind_contains(spk__bnode *node) { return spk__bind_affix(node, 2); }

/* reverse(str): by code point, so multi-byte characters stay whole. */
static void spk__k_reverse(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                           const uint32_t *sel, uint32_t n) {
    (void)node;
    const spk__str *x = args[0]->v.str;
    spk__str *o = out->v.str;
    spk__nulls_copy(out, args[0], sel, n);
    SPK__FOR_ROWS(sel, n, {
        o[i] = spk__empty_str;
        if (out->nulls[i] || x[i].len == 0) continue;
        char *buf = spk__eval_strbuf(ev, x[i].len);
        if (!buf) continue;
        size_t len = x[i].len;
        for (size_t a = 0, b; a < len; a = b) {
            b = spk__utf8_skip(x[i].ptr, len, a, 1);
            memcpy(buf + len - b, x[i].ptr + a, b - a);
        }
        o[i].ptr = buf;
        o[i].len = len;
    });
}

static spk_status spk__bind_reverse(spk__bnode *node) {
    spk_status st = spk__bind_upper(node);
    node->kernel = spk__k_reverse;
    return st;
}

/* initcap(str): lower case, then upper case for the first letter of the
 * text and after every space (Spark's toLowerCase().toTitleCase(); ASCII
 * letters only, like upper and lower). */
static void spk__k_initcap(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                           const uint32_t *sel, uint32_t n) {
    (void)node;
    const spk__str *x = args[0]->v.str;
    spk__str *o = out->v.str;
    spk__nulls_copy(out, args[0], sel, n);
    SPK__FOR_ROWS(sel, n, {
        o[i] = spk__empty_str;
        if (out->nulls[i] || x[i].len == 0) continue;
        char *buf = spk__eval_strbuf(ev, x[i].len);
        if (!buf) continue;
        for (size_t k = 0; k < x[i].len; k++) {
            char c = x[i].ptr[k];
            bool word_start = k == 0 || x[i].ptr[k - 1] == ' ';
            if (word_start && c >= 'a' && c <= 'z') c = (char)(c - 32);
            else if (!word_start && c >= 'A' && c <= 'Z') c = (char)(c + 32);
            buf[k] = c;
        }
        o[i].ptr = buf;
        o[i].len = x[i].len;
    });
}

static spk_status spk__bind_initcap(spk__bnode *node) {
    spk_status st = spk__bind_upper(node);
    node->kernel = spk__k_initcap;
    return st;
}

/* ---------------------------------------------------------------- regular expressions
 * Spark's patterns are Java regexes; we run them on POSIX extended regular
 * expressions from <regex.h> after translating the Java shorthands people
 * write (\d \w \s and their negations, \t \n \r) and a leading (?i).
 * Java constructs POSIX has no form for (lookaround, (?:...), lazy and
 * possessive quantifiers) are refused with a message rather than silently
 * matching differently. POSIX picks the leftmost-longest match where Java
 * picks the leftmost-first alternative, and `.` also matches a newline.
 * A constant pattern compiles once, at bind time; patterns from a column
 * compile whenever the text changes from one row to the next. */

#if defined(__unix__) || defined(__APPLE__)
#include <regex.h>
#define SPK__FN_REGEX 1

/* Writes the POSIX form of Java pattern p into out (room for 12 * len + 1
 * bytes); false with *why set if the pattern uses what POSIX lacks. */
static bool spk__regex_translate(const char *p, size_t len, char *out, const char **why) {
    static const struct { char c; const char *outside, *inside; } classes[] = {
        {'d', "[0-9]", "0-9"},           {'D', "[^0-9]", NULL},
        {'w', "[[:alnum:]_]", "[:alnum:]_"}, {'W', "[^[:alnum:]_]", NULL},
        {'s', "[[:space:]]", "[:space:]"},   {'S', "[^[:space:]]", NULL},
    };
    size_t o = 0;
    bool in_bracket = false;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (c == '\\' && i + 1 < len) {
            char e = p[++i];
            const char *put = NULL;
            for (size_t k = 0; k < sizeof classes / sizeof classes[0]; k++)
                if (classes[k].c == e) {
                    put = in_bracket ? classes[k].inside : classes[k].outside;
                    if (!put) {
                        *why = "a negated class (\\D, \\W, \\S) inside [...] is not supported";
                        return false;
                    }
                }
            if (put) {
                size_t n = strlen(put);
                memcpy(out + o, put, n);
                o += n;
                continue;
            }
            char lit = e == 't' ? '\t' : e == 'n' ? '\n' : e == 'r' ? '\r' : e == 'f' ? '\f' : 0;
            if (e == 'Q' || e == 'p' || e == 'P' || e == 'x' || e == 'u' || e == 'z' || e == 'Z' || e == 'A' || e == 'G') {
                *why = "this backslash escape is not supported by POSIX regular expressions";
                return false;
            }
            if (lit) {
                out[o++] = lit;
            } else if (in_bracket) {
                out[o++] = e; /* POSIX brackets take every character literally */
            } else {
                out[o++] = '\\';
                out[o++] = e;
            }
            continue;
        }
        if (in_bracket) {
            if (c == '[' && i + 1 < len && p[i + 1] != ':') {
                *why = "nested character classes are not supported";
                return false;
            }
            if (c == '&' && i + 1 < len && p[i + 1] == '&') {
                *why = "character class intersection (&&) is not supported";
                return false;
            }
            if (c == ']') in_bracket = false;
            out[o++] = c;
            continue;
        }
        if (c == '[') {
            in_bracket = true;
            out[o++] = c;
            if (i + 1 < len && p[i + 1] == '^') out[o++] = p[++i];
            if (i + 1 < len && p[i + 1] == ']') out[o++] = p[++i]; /* a leading ] is literal */
            continue;
        }
        if (c == '(' && i + 1 < len && p[i + 1] == '?') {
            *why = "groups starting with (? (non-capturing, lookaround, flags) are not supported";
            return false;
        }
        if ((c == '*' || c == '+' || c == '?' || c == '}') && i + 1 < len && (p[i + 1] == '?' || p[i + 1] == '+')) {
            *why = "lazy and possessive quantifiers (*? +? ?? *+ ...) are not supported";
            return false;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return true;
}

/* Checks Java's replacement syntax against a pattern with `groups` groups:
 * $n names a group (n takes as many digits as still name a group), \c is
 * the character c. NULL if valid, else why not. */
static const char *spk__regex_rep_check(const char *rep, size_t len, size_t groups) {
    for (size_t i = 0; i < len; i++) {
        if (rep[i] == '\\') {
            if (++i == len) return "character to be escaped is missing";
        } else if (rep[i] == '$') {
            if (++i == len) return "illegal group reference: group index is missing";
            if (rep[i] == '{') return "named groups (${name}) are not supported";
            if (!spk__is_digit((unsigned char)rep[i])) return "illegal group reference";
            size_t g = (size_t)(rep[i] - '0');
            if (g > groups) return "no such group";
            while (i + 1 < len && spk__is_digit((unsigned char)rep[i + 1]) && g * 10 + (size_t)(rep[i + 1] - '0') <= groups)
                g = g * 10 + (size_t)(rep[++i] - '0');
        }
    }
    return NULL;
}

/* A string being built in the batch arena, for results whose length is not
 * known up front (regexp_replace); it moves to a block twice as large when
 * full, and the arena reclaims the old one with the batch. */
typedef struct spk__sbuf {
    char *p;
    size_t len, cap;
    bool failed; /* out of memory: the row becomes "" and ev->status says why */
} spk__sbuf;

static bool spk__sbuf_reserve(spk__eval *ev, spk__sbuf *b, size_t more) {
    if (b->failed) return false;
    if (b->cap - b->len >= more) return true;
    size_t cap = b->cap ? b->cap * 2 : 64;
    while (cap - b->len < more) cap *= 2;
    char *p = spk__eval_strbuf(ev, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    if (b->len) memcpy(p, b->p, b->len);
    b->p = p;
    b->cap = cap;
    return true;
}

static void spk__sbuf_put(spk__eval *ev, spk__sbuf *b, const char *s, size_t n) {
    if (n && spk__sbuf_reserve(ev, b, n)) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
    }
}

static spk__str spk__sbuf_str(const spk__sbuf *b) {
    spk__str s = {b->p, b->len};
    if (b->failed || !b->p) s = spk__empty_str;
    return s;
}

enum { SPK__RE_GROUPS = 64 }; /* groups beyond these read as not matched */

/* A pattern compiled at bind time (the pattern is a constant). */
typedef struct spk__fn_regex {
    regex_t re;
} spk__fn_regex;

static void spk__fn_regex_free(void *aux) {
    regfree(&((spk__fn_regex *)aux)->re);
    spk__free(spk__bind_alloc(), aux, sizeof(spk__fn_regex));
}

/* Translates and compiles; false with a message in why (cap bytes). A
 * leading (?i), Java's case-insensitive flag, becomes REG_ICASE. */
static bool spk__regex_compile(const char *p, size_t len, regex_t *re, char *scratch, char *why, size_t cap) {
    const char *reason = NULL;
    int flags = REG_EXTENDED;
    if (len >= 4 && memcmp(p, "(?i)", 4) == 0) {
        flags |= REG_ICASE;
        p += 4;
        len -= 4;
    }
    if (memchr(p, '\0', len)) {
        snprintf(why, cap, "the pattern contains a NUL character");
        return false;
    }
    if (!spk__regex_translate(p, len, scratch, &reason)) {
        snprintf(why, cap, "%s", reason);
        return false;
    }
    int rc = regcomp(re, scratch, flags);
    if (rc != 0) {
        regerror(rc, re, why, cap);
        return false;
    }
    return true;
}

/* The pattern for row i: the bind-time one, or row i's own compiled into
 * *cur (kept while the next rows bring the same pattern text). NULL if it
 * does not compile. */
typedef struct spk__regex_cache {
    regex_t re;
    bool have;
    char *text; /* the pattern text *re was compiled from (arena) */
    size_t len;
} spk__regex_cache;

static const regex_t *spk__regex_for_row(spk__eval *ev, const spk__bnode *node, spk__regex_cache *c, spk__str pat) {
    if (node->aux) return &((const spk__fn_regex *)node->aux)->re;
    if (c->have && c->len == pat.len && memcmp(c->text, pat.ptr, pat.len) == 0) return &c->re;
    if (c->have) regfree(&c->re);
    c->have = false;
    char *scratch = spk__eval_strbuf(ev, 12 * pat.len + 1), *text = spk__eval_strbuf(ev, pat.len);
    char why[128];
    if (!scratch || !text || !spk__regex_compile(pat.ptr, pat.len, &c->re, scratch, why, sizeof why)) return NULL;
    memcpy(text, pat.ptr, pat.len);
    c->text = text;
    c->len = pat.len;
    c->have = true;
    return &c->re;
}

static void spk__regex_cache_free(spk__regex_cache *c) {
    if (c->have) regfree(&c->re);
}

/* A NUL-terminated copy of s in the batch arena (regexec wants C strings). */
static char *spk__cstr(spk__eval *ev, spk__str s) {
    char *p = spk__eval_strbuf(ev, s.len + 1);
    if (p) {
        if (s.len) memcpy(p, s.ptr, s.len);
        p[s.len] = '\0';
    }
    return p;
}

/* regexp_extract(str, regex[, idx = 1]): group idx of the first match; "" if
 * no match or the group did not take part. A group index the pattern lacks
 * fails Spark's query when a row matches; here that row is NULL. */
static void spk__k_regexp_extract(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                                  const uint32_t *sel, uint32_t n) {
    const spk__str *x = args[0]->v.str, *pat = args[1]->v.str;
    const int32_t *idx = node->nargs > 2 ? args[2]->v.i32 : NULL;
    spk__str *o = out->v.str;
    spk__regex_cache cache = {0};
    regmatch_t m[SPK__RE_GROUPS];
    spk__nulls_any(out, args, node->nargs, sel, n);
    SPK__FOR_ROWS(sel, n, {
        o[i] = spk__empty_str;
        if (out->nulls[i]) continue;
        const regex_t *re = spk__regex_for_row(ev, node, &cache, pat[i]);
        int64_t g = idx ? idx[i] : 1;
        char *text = re ? spk__cstr(ev, x[i]) : NULL;
        if (!re) { /* a pattern that does not compile: Spark fails the query */
            out->nulls[i] = 1;
            continue;
        }
        if (!text || regexec(re, text, SPK__RE_GROUPS, m, 0) != 0) continue;
        if (g < 0 || (size_t)g > re->re_nsub) {
            out->nulls[i] = 1;
            continue;
        }
        if (g >= SPK__RE_GROUPS || m[g].rm_so < 0) continue;
        o[i].ptr = x[i].ptr + m[g].rm_so;
        o[i].len = (size_t)(m[g].rm_eo - m[g].rm_so);
    });
    spk__regex_cache_free(&cache);
}

/* Appends the replacement for one match (checked by spk__regex_rep_check,
 * so every $n names a group). */
static void spk__regex_put_rep(spk__eval *ev, spk__sbuf *b, spk__str rep, const char *text, const regmatch_t *m,
                               size_t groups) {
    const char *r = rep.ptr;
    for (size_t i = 0; i < rep.len; i++) {
        if (r[i] == '\\' && i + 1 < rep.len) {
            spk__sbuf_put(ev, b, &r[++i], 1);
        } else if (r[i] == '$' && i + 1 < rep.len && spk__is_digit((unsigned char)r[i + 1])) {
            size_t g = (size_t)(r[++i] - '0');
            while (i + 1 < rep.len && spk__is_digit((unsigned char)r[i + 1]) && g * 10 + (size_t)(r[i + 1] - '0') <= groups)
                g = g * 10 + (size_t)(r[++i] - '0');
            if (g < SPK__RE_GROUPS && m[g].rm_so >= 0) spk__sbuf_put(ev, b, text + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
        } else {
            spk__sbuf_put(ev, b, &r[i], 1);
        }
    }
}

/* regexp_replace(str, regex, rep[, pos]): every match from character pos on
 * replaced, as Java's Matcher.replaceAll (an empty match also matches
 * between characters and at the end); as Spark, a str with fewer than pos
 * characters (an empty str too) comes back unchanged. */
static void spk__k_regexp_replace(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                                  const uint32_t *sel, uint32_t n) {
    const spk__str *x = args[0]->v.str, *pat = args[1]->v.str, *rep = args[2]->v.str;
    int64_t pos = node->iarg;
    spk__str *o = out->v.str;
    spk__regex_cache cache = {0};
    regmatch_t m[SPK__RE_GROUPS];
    spk__nulls_any(out, args, 3, sel, n);
    SPK__FOR_ROWS(sel, n, {
        o[i] = spk__empty_str;
        if (out->nulls[i]) continue;
        const regex_t *re = spk__regex_for_row(ev, node, &cache, pat[i]);
        if (!re || spk__regex_rep_check(rep[i].ptr, rep[i].len, re->re_nsub)) {
            out->nulls[i] = 1; /* Spark fails the query; we answer NULL */
            continue;
        }
        size_t len = x[i].len, start = spk__utf8_skip(x[i].ptr, len, 0, pos - 1);
        char *text = start < len ? spk__cstr(ev, x[i]) : NULL;
        if (start >= len) o[i] = x[i];
        if (!text) continue;
        spk__sbuf b = {NULL, 0, 0, false};
        spk__sbuf_put(ev, &b, text, start);
        size_t from = start, done = start; /* search from `from`; text before `done` is written */
        while (from <= len) {
            int flags = from > start ? REG_NOTBOL : 0;
            if (regexec(re, text + from, SPK__RE_GROUPS, m, flags) != 0) break;
            size_t ms = from + (size_t)m[0].rm_so, me = from + (size_t)m[0].rm_eo;
            for (int g = 0; g < SPK__RE_GROUPS; g++) /* offsets relative to text */
                if (m[g].rm_so >= 0) {
                    m[g].rm_so += (regoff_t)from;
                    m[g].rm_eo += (regoff_t)from;
                }
            spk__sbuf_put(ev, &b, text + done, ms - done);
            spk__regex_put_rep(ev, &b, rep[i], text, m, re->re_nsub);
            done = me;
            if (me > ms) from = me;
            else if (me < len) from = spk__utf8_skip(text, len, me, 1);
            else break;
        }
        spk__sbuf_put(ev, &b, text + done, len - done);
        o[i] = spk__sbuf_str(&b);
    });
    spk__regex_cache_free(&cache);
}

/* Compiles a constant pattern at bind time into node->aux (a bad pattern
 * is then an error at once, as in Spark's analysis). */
static spk_status spk__bind_regex_pattern(spk__bnode *node) {
    spk_value pat;
    if (!spk__arg_const(node, 1, &pat) || pat.is_null) return SPK_OK;
    spk__fn_regex *r = (spk__fn_regex *)spk__alloc(spk__bind_alloc(), sizeof *r);
    size_t scratch_size = 12 * pat.as.str.len + 1;
    char *scratch = r ? (char *)spk__alloc(spk__bind_alloc(), scratch_size) : NULL;
    if (!scratch) {
        spk__free(spk__bind_alloc(), r, sizeof *r);
        return spk__nomem("a regular expression", sizeof *r + scratch_size);
    }
    char why[160];
    bool ok = spk__regex_compile(pat.as.str.ptr, pat.as.str.len, &r->re, scratch, why, sizeof why);
    spk__free(spk__bind_alloc(), scratch, scratch_size);
    if (!ok) {
        spk__free(spk__bind_alloc(), r, sizeof *r);
        return spk__fail(SPK_ERR_ARG, "[INVALID_PARAMETER_VALUE.PATTERN] The value of parameter(s) `regexp` in `%s` is "
                         "invalid: '%.*s': %s", node->label ? node->label : "?", (int)pat.as.str.len, pat.as.str.ptr, why);
    }
    node->aux = r;
    node->aux_free = spk__fn_regex_free;
    return SPK_OK;
}
#endif

static spk_status spk__bind_regexp_extract(spk__bnode *node) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_STRING));
    if (st == SPK_OK) st = spk__fn_arg(node, 1, spk_type_of(SPK_TYPE_STRING));
    if (st == SPK_OK && node->nargs > 2) st = spk__fn_arg(node, 2, spk_type_of(SPK_TYPE_INT32));
    node->type = spk_type_of(SPK_TYPE_STRING);
    node->nullable = true;
    if (st != SPK_OK) return st;
#ifdef SPK__FN_REGEX
    if ((st = spk__bind_regex_pattern(node)) != SPK_OK) return st;
    spk_value idx;
    if (node->aux && (node->nargs < 3 || spk__arg_const(node, 2, &idx))) {
        int64_t g = node->nargs < 3 ? 1 : idx.is_null ? 0 : idx.as.i32;
        size_t groups = ((spk__fn_regex *)node->aux)->re.re_nsub;
        if (g < 0 || (size_t)g > groups)
            return spk__fail(SPK_ERR_ARG, "[INVALID_PARAMETER_VALUE.REGEX_GROUP_INDEX] The value of parameter(s) `idx` "
                             "in `%s` is invalid: Expects group index between 0 and %zu, but got %lld.",
                             node->label ? node->label : "?", groups, (long long)g);
    }
    node->kernel = spk__k_regexp_extract;
    return SPK_OK;
#else
    return spk__fail(SPK_ERR_UNSUPPORTED, "regexp_extract needs POSIX <regex.h>, which this platform lacks");
#endif
}

static spk_status spk__bind_regexp_replace(spk__bnode *node) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_STRING));
    if (st == SPK_OK) st = spk__fn_arg(node, 1, spk_type_of(SPK_TYPE_STRING));
    if (st == SPK_OK) st = spk__fn_arg(node, 2, spk_type_of(SPK_TYPE_STRING));
    node->type = spk_type_of(SPK_TYPE_STRING);
    node->nullable = true;
    node->iarg = 1;
    if (st == SPK_OK && node->nargs > 3) {
        spk_value pos = spk_value_i32(1);
        st = spk__fn_arg(node, 3, spk_type_of(SPK_TYPE_INT32));
        if (st == SPK_OK) st = spk__fn_need_const(node, 3, "position");
        if (st == SPK_OK && spk__arg_const(node, 3, &pos) && (pos.is_null || pos.as.i32 < 1))
            st = spk__fail(SPK_ERR_ARG, "[DATATYPE_MISMATCH.VALUE_OUT_OF_RANGE] Cannot resolve \"%s\" due to data type "
                           "mismatch: The `position` must be between 1 and 2147483647 (current value = %lld).",
                           node->label ? node->label : "?", pos.is_null ? 0LL : (long long)pos.as.i32);
        if (st == SPK_OK) node->iarg = pos.as.i32;
    }
    if (st != SPK_OK) return st;
#ifdef SPK__FN_REGEX
    if ((st = spk__bind_regex_pattern(node)) != SPK_OK) return st;
    spk_value rep;
    if (node->aux && spk__arg_const(node, 2, &rep) && !rep.is_null) {
        const char *why = spk__regex_rep_check(rep.as.str.ptr, rep.as.str.len, ((spk__fn_regex *)node->aux)->re.re_nsub);
        if (why)
            return spk__fail(SPK_ERR_ARG, "[INVALID_PARAMETER_VALUE] The value of parameter(s) `rep` in `%s` is invalid: "
                             "'%.*s': %s", node->label ? node->label : "?", (int)rep.as.str.len, rep.as.str.ptr, why);
    }
    node->kernel = spk__k_regexp_replace;
    return SPK_OK;
#else
    return spk__fail(SPK_ERR_UNSUPPORTED, "regexp_replace needs POSIX <regex.h>, which this platform lacks");
#endif
}

/* ---------------------------------------------------------------- null and conditional */

/* coalesce(a, b, ...): the first non-NULL argument. */
static void spk__k_coalesce(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                            const uint32_t *sel, uint32_t n) {
    (void)ev;
    int na = node->nargs;
    SPK__FOR_ROWS(sel, n, {
        spk_value v = spk_value_null_of(out->type);
        for (int a = 0; a < na; a++) {
            if (!args[a]->nulls[i]) {
                v = spk__vec_get(args[a], i);
                break;
            }
        }
        spk__vec_put(out, i, &v);
    });
}

static spk_status spk__bind_coalesce(spk__bnode *node) {
    spk_type t;
    spk_status st = spk__fn_common(node, 0, &t);
    node->type = t;
    node->nullable = true;
    for (int i = 0; i < node->nargs; i++)
        if (!node->args[i]->nullable) node->nullable = false;
    node->kernel = spk__k_coalesce;
    return st;
}

/* nvl(a, b) / ifnull(a, b): Spark rewrites them to coalesce(a, b). */
static spk_status spk__bind_nvl(spk__bnode *node) { return spk__bind_coalesce(node); }

/* if(cond, a, b) and nvl2(x, a, b): row by row, the chosen branch's value.
 * Both branches are computed for every row; that is safe because kernels
 * never fail per row. iarg: 0 if, 1 nvl2. */
static void spk__k_if(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                      const uint32_t *sel, uint32_t n) {
    (void)ev;
    const spk__vec *c = args[0];
    bool nvl2 = node->iarg != 0;
    SPK__FOR_ROWS(sel, n, {
        bool first = nvl2 ? !c->nulls[i] : (!c->nulls[i] && c->v.b[i]);
        spk__vec_copy_row(out, args[first ? 1 : 2], i);
    });
}

static spk_status spk__bind_if_like(spk__bnode *node, int nvl2) {
    spk_type t = spk_type_of(SPK_TYPE_NULL);
    spk_status st = SPK_OK;
    if (!nvl2) {
        spk_type_id id = (spk_type_id)node->args[0]->type.id;
        if (id == SPK_TYPE_NULL) st = spk__coerce(&node->args[0], spk_type_of(SPK_TYPE_BOOLEAN));
        else if (id != SPK_TYPE_BOOLEAN) {
            char got[32];
            spk_type_format(node->args[0]->type, SPK_TYPE_SQL, got, sizeof got);
            st = spk__fail(SPK_ERR_TYPE, "[DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE] Cannot resolve \"%s\" due to data "
                           "type mismatch: the first parameter requires the \"BOOLEAN\" type, however it has the type "
                           "\"%s\".", node->label ? node->label : "?", got);
        }
    }
    if (st == SPK_OK) st = spk__fn_common(node, 1, &t);
    node->type = t;
    node->nullable = node->args[1]->nullable || node->args[2]->nullable;
    node->kernel = spk__k_if;
    node->iarg = nvl2;
    return st;
}
static spk_status spk__bind_if(spk__bnode *node) { return spk__bind_if_like(node, 0); }
static spk_status spk__bind_nvl2(spk__bnode *node) { return spk__bind_if_like(node, 1); }

/* A type packed into iarg for kernels that need a second one. */
static int64_t spk__type_pack(spk_type t) { return (int64_t)t.id | (int64_t)t.precision << 8 | (int64_t)t.scale << 16; }
static spk_type spk__type_unpack(int64_t x) {
    spk_type t;
    t.id = (uint8_t)(x & 0xFF);
    t.precision = (uint8_t)(x >> 8 & 0xFF);
    t.scale = (uint8_t)(x >> 16 & 0xFF);
    return t;
}

/* nullif(a, b): NULL if a = b (compared as Spark's `=` would, at their
 * common type), else a, keeping a's own type. */
static void spk__k_nullif(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                          const uint32_t *sel, uint32_t n) {
    (void)ev;
    spk_type common = spk__type_unpack(node->iarg);
    SPK__FOR_ROWS(sel, n, {
        spk__vec_copy_row(out, args[0], i);
        if (out->nulls[i] || args[1]->nulls[i]) continue;
        spk_value a = spk__vec_get(args[0], i), b = spk__vec_get(args[1], i), ca, cb;
        char ta[SPK_VALUE_TEXT_MAX], tb[SPK_VALUE_TEXT_MAX];
        if (!spk_type_equal(a.type, common) && spk_value_cast(&a, common, &ca, ta) == SPK_OK) a = ca;
        if (!spk_type_equal(b.type, common) && spk_value_cast(&b, common, &cb, tb) == SPK_OK) b = cb;
        if (!a.is_null && !b.is_null && spk_value_compare(&a, &b, true) == 0) {
            out->nulls[i] = 1;
            if (out->type.id == SPK_TYPE_STRING) out->v.str[i] = spk__empty_str;
        }
    });
}

static spk_status spk__bind_nullif(spk__bnode *node) {
    spk_type common;
    node->type = node->args[0]->type;
    node->nullable = true;
    node->kernel = spk__k_nullif;
    if (!spk__common_type(node->args[0]->type, node->args[1]->type, true, &common)) {
        char a[32], b[32];
        spk_type_format(node->args[0]->type, SPK_TYPE_SQL, a, sizeof a);
        spk_type_format(node->args[1]->type, SPK_TYPE_SQL, b, sizeof b);
        return spk__fail(SPK_ERR_TYPE, "[DATATYPE_MISMATCH.BINARY_OP_DIFF_TYPES] Cannot resolve \"%s\" due to data type "
                         "mismatch: \"%s\" and \"%s\" cannot be compared.", node->label ? node->label : "?", a, b);
    }
    node->iarg = spk__type_pack(common);
    return SPK_OK;
}

/* isnull(x), isnotnull(x) (iarg 1, 0): never NULL themselves. */
static void spk__k_isnull(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                          const uint32_t *sel, uint32_t n) {
    (void)ev;
    uint8_t want = node->iarg ? 1 : 0;
    const uint8_t *x = args[0]->nulls;
    SPK__FOR_ROWS(sel, n, {
        out->v.b[i] = x[i] == want;
        out->nulls[i] = 0;
    });
}

static spk_status spk__bind_isnull(spk__bnode *node) {
    node->type = spk_type_of(SPK_TYPE_BOOLEAN);
    node->nullable = false;
    node->kernel = spk__k_isnull;
    node->iarg = 1;
    return SPK_OK;
}
static spk_status spk__bind_isnotnull(spk__bnode *node) {
    spk_status st = spk__bind_isnull(node);
    node->iarg = 0;
    return st;
}

/* nanvl(a, b): a unless a is NaN, then b (NULL a stays NULL). */
static void spk__k_nanvl(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                         const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    const double *a = args[0]->v.f64;
    SPK__FOR_ROWS(sel, n, spk__vec_copy_row(out, args[!args[0]->nulls[i] && isnan(a[i]) ? 1 : 0], i));
}

static spk_status spk__bind_nanvl(spk__bnode *node) {
    spk_status st = spk__fn_args(node, spk_type_of(SPK_TYPE_DOUBLE));
    node->type = spk_type_of(SPK_TYPE_DOUBLE);
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_nanvl;
    return st;
}

/* ---------------------------------------------------------------- math */

static void spk__k_abs(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                       const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    const spk__vec *a = args[0];
    switch (out->type.id) {
    case SPK_TYPE_INT32: { /* wraps at INT_MIN, as Java's Math.abs */
        const int32_t *x = a->v.i32;
        int32_t *o = out->v.i32;
        SPK__FOR_ROWS(sel, n, o[i] = x[i] < 0 ? (int32_t)(0u - (uint32_t)x[i]) : x[i]);
        break;
    }
    case SPK_TYPE_DOUBLE: {
        const double *x = a->v.f64;
        double *o = out->v.f64;
        SPK__FOR_ROWS(sel, n, o[i] = fabs(x[i]));
        break;
    }
    default: { /* INT64, DECIMAL */
        const int64_t *x = a->v.i64;
        int64_t *o = out->v.i64;
        SPK__FOR_ROWS(sel, n, o[i] = x[i] < 0 ? (int64_t)(0 - (uint64_t)x[i]) : x[i]);
        break;
    }
    }
    spk__nulls_copy(out, a, sel, n);
}

static spk_status spk__bind_abs(spk__bnode *node) {
    spk_status st = spk__fn_numeric_arg(node, 0);
    node->type = node->args[0]->type;
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_abs;
    return st;
}

/* Unary DOUBLE -> DOUBLE functions picked by iarg; NaN results of a domain
 * error (sqrt(-1)) stay NaN, as Java's Math; ln/log of <= 0 is NULL, as Spark. */
enum { SPK__M_SQRT, SPK__M_CBRT, SPK__M_EXP, SPK__M_LN, SPK__M_LOG10, SPK__M_LOG2 };

static void spk__k_math1(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                         const uint32_t *sel, uint32_t n) {
    (void)ev;
    const double *x = args[0]->v.f64;
    const uint8_t *xn = args[0]->nulls;
    double *o = out->v.f64;
    uint8_t *on = out->nulls;
    int64_t which = node->iarg;
    SPK__FOR_ROWS(sel, n, {
        double v = x[i];
        uint8_t null = xn[i];
        switch (which) {
        case SPK__M_SQRT: v = sqrt(v); break;
        case SPK__M_CBRT: v = cbrt(v); break;
        case SPK__M_EXP: v = exp(v); break;
        case SPK__M_LN: null |= v <= 0; v = log(v); break;
        case SPK__M_LOG10: null |= v <= 0; v = log10(v); break;
        default: null |= v <= 0; v = log2(v); break;
        }
        o[i] = v;
        on[i] = null;
    });
}

static spk_status spk__bind_math1(spk__bnode *node, int which) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_DOUBLE));
    node->type = spk_type_of(SPK_TYPE_DOUBLE);
    node->nullable = true;
    node->kernel = spk__k_math1;
    node->iarg = which;
    return st;
}
static spk_status spk__bind_sqrt(spk__bnode *node) { return spk__bind_math1(node, SPK__M_SQRT); }
static spk_status spk__bind_cbrt(spk__bnode *node) { return spk__bind_math1(node, SPK__M_CBRT); }
static spk_status spk__bind_exp(spk__bnode *node) { return spk__bind_math1(node, SPK__M_EXP); }
static spk_status spk__bind_ln(spk__bnode *node) { return spk__bind_math1(node, SPK__M_LN); }
static spk_status spk__bind_log10(spk__bnode *node) { return spk__bind_math1(node, SPK__M_LOG10); }
static spk_status spk__bind_log2(spk__bnode *node) { return spk__bind_math1(node, SPK__M_LOG2); }

/* |v| / 10^k rounded half-up (away from zero) or half-even, with v's sign;
 * exact in 64 bits for every k (10^19 and up round everything to 0 or 1). */
static int64_t spk__div_pow10_round(int64_t v, int64_t k, bool half_even) {
    if (k <= 0) return v;
    if (k > 19) return 0;
    uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    uint64_t p = k == 19 ? 10000000000000000000ULL : (uint64_t)spk__pow10[k];
    uint64_t q = mag / p, r = mag % p, rest = p - r;
    if (r > rest || (r == rest && (!half_even || (q & 1)))) q++;
    return v < 0 ? -(int64_t)q : (int64_t)q;
}

/* round/bround of an integer to 10^k (k >= 1), wrapping to 64 bits as
 * Java's BigDecimal.longValue does. */
static int64_t spk__round_int(int64_t v, int64_t k, bool half_even) {
    if (k > 19) return 0;
    uint64_t p = k == 19 ? 10000000000000000000ULL : (uint64_t)spk__pow10[k];
    return (int64_t)((uint64_t)spk__div_pow10_round(v, k, half_even) * p);
}

static const double spk__pow10_f64[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                          1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* round/bround of a double to d decimal places as Spark does it: on the
 * shortest decimal that prints the double (Java's BigDecimal.valueOf), so
 * round(2.675, 2) is 2.68 although the double is below 2.675. */
static double spk__round_double(double x, int64_t d, bool half_even) {
    if (isnan(x) || isinf(x)) return x;
    if (x == 0) return 0.0; /* BigDecimal has no -0 */
    /* Fast path: when x * 10^d is far enough from a .5 tie that neither the
     * product's rounding error nor the gap between x and its shortest
     * decimal (each below |y| * 2^-53) can change the side, the nearest
     * integer over 10^d is the answer, correctly rounded by the division. */
    if (d >= 0 && d <= 22) {
        double p = spk__pow10_f64[d], y = x * p, fy = floor(y), frac = y - fy;
        if (fabs(y) < 1099511627776.0 /* 2^40 */ && fabs(frac - 0.5) > 1.0 / 4096) {
            double r = (frac > 0.5 ? fy + 1 : fy) / p;
            return r == 0 ? 0.0 : r;
        }
    }
    /* The shortest digits that read back as x: if some k <= 15 digits do,
     * the 15-digit rounding is those digits and zeros (15-digit steps are
     * wider than a double's ulp), so 15, 16 and 17 are the only tries. */
    char text[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(text, sizeof text, "%.*e", prec - 1, x);
        if (prec == 17 || strtod(text, NULL) == x) break;
    }
    /* text is [-]d[.ddd]e[+-]xx: the digits D and the exponent E of the first one */
    char digits[24];
    int nd = 0;
    const char *p = text;
    bool neg = *p == '-';
    for (; *p && *p != 'e'; p++)
        if (spk__is_digit((unsigned char)*p) && nd < 20) digits[nd++] = *p;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    int64_t e_first = *p == 'e' ? atoi(p + 1) : 0, e_last = e_first - nd + 1;
    if (-d <= e_last) return x; /* already has at most d decimals */
    int64_t drop = -d - e_last; /* digits to drop from the end */
    if (drop > nd) return 0.0;  /* even the first digit is below half a unit */
    uint64_t kept = 0;
    for (int k = 0; k < nd - drop; k++) kept = kept * 10 + (uint64_t)(digits[k] - '0');
    int first = digits[nd - drop] - '0';
    bool rest = false;
    for (int k = (int)(nd - drop) + 1; k < nd; k++) rest |= digits[k] != '0';
    if (first > 5 || (first == 5 && (rest || !half_even || (kept & 1)))) kept++;
    if (kept == 0) return 0.0;
    char out[64];
    snprintf(out, sizeof out, "%s%llue%lld", neg ? "-" : "", (unsigned long long)kept, (long long)-d);
    return strtod(out, NULL);
}

/* round/bround(x, d); iarg = d * 4 + (1 for HALF_EVEN). */
static void spk__k_round(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                         const uint32_t *sel, uint32_t n) {
    (void)ev;
    int64_t d = spk__floor_div(node->iarg, 4);
    bool even = spk__floor_mod(node->iarg, 4) == 1;
    const spk__vec *a = args[0];
    spk__nulls_copy(out, a, sel, n);
    switch (out->type.id) {
    case SPK_TYPE_INT32: {
        const int32_t *x = a->v.i32;
        int32_t *o = out->v.i32;
        SPK__FOR_ROWS(sel, n, o[i] = d >= 0 ? x[i] : (int32_t)(uint32_t)(uint64_t)spk__round_int(x[i], -d, even));
        break;
    }
    case SPK_TYPE_INT64: {
        const int64_t *x = a->v.i64;
        int64_t *o = out->v.i64;
        SPK__FOR_ROWS(sel, n, o[i] = d >= 0 ? x[i] : spk__round_int(x[i], -d, even));
        break;
    }
    case SPK_TYPE_DOUBLE: {
        const double *x = a->v.f64;
        double *o = out->v.f64;
        SPK__FOR_ROWS(sel, n, o[i] = spk__round_double(x[i], d, even));
        break;
    }
    case SPK_TYPE_DECIMAL: {
        /* to scale d (or to 10^-d, stored at scale 0), NULL if it overflows
         * the result's precision (only possible where it was capped at 18) */
        const int64_t *x = a->v.i64;
        int64_t *o = out->v.i64, limit = spk__pow10[out->type.precision];
        int s = a->type.scale;
        uint8_t *on = out->nulls;
        SPK__FOR_ROWS(sel, n, {
            int64_t v = spk__div_pow10_round(x[i], d >= s ? 0 : s - d, even);
            if (d < 0) {
                if (v != 0 && -d > 18) on[i] = 1;
                else if (v != 0) {
                    int64_t p = spk__pow10[-d];
                    if (v > INT64_MAX / p || v < -INT64_MAX / p) on[i] = 1;
                    else v *= p;
                }
            }
            on[i] |= v >= limit || v <= -limit;
            o[i] = on[i] ? 0 : v;
        });
        break;
    }
    default: break;
    }
}

static spk_status spk__bind_round_mode(spk__bnode *node, bool half_even) {
    spk_status st = spk__fn_numeric_arg(node, 0);
    spk_value scale = spk_value_i32(0);
    if (st == SPK_OK && node->nargs > 1) {
        st = spk__fn_arg(node, 1, spk_type_of(SPK_TYPE_INT32));
        if (st == SPK_OK) st = spk__fn_need_const(node, 1, "scale");
        if (st == SPK_OK) spk__arg_const(node, 1, &scale);
    }
    if (st != SPK_OK) return st;
    int64_t d = scale.is_null ? 0 : scale.as.i32;
    spk_type t = node->args[0]->type;
    if (t.id == SPK_TYPE_DECIMAL) { /* Spark: room for one more integer digit, at most s decimals */
        int64_t p = t.precision, s = t.scale, int_digits = p - s + 1, prec, sc;
        if (d < 0) {
            prec = int_digits > -d + 1 ? int_digits : -d + 1;
            sc = 0;
        } else {
            sc = s < d ? s : d;
            prec = int_digits + sc;
        }
        if (prec > SPK_DECIMAL_MAX_PRECISION) prec = SPK_DECIMAL_MAX_PRECISION;
        t = spk_type_decimal((int)prec, (int)sc);
    }
    node->type = t;
    node->nullable = scale.is_null || t.id == SPK_TYPE_DECIMAL || node->args[0]->nullable;
    node->kernel = scale.is_null ? spk__k_null : spk__k_round;
    node->iarg = d * 4 + (half_even ? 1 : 0);
    return SPK_OK;
}
static spk_status spk__bind_round(spk__bnode *node) { return spk__bind_round_mode(node, false); }
static spk_status spk__bind_bround(spk__bnode *node) { return spk__bind_round_mode(node, true); }

/* floor/ceil (iarg 0, 1): DOUBLE and integers to BIGINT, DECIMAL(p, s) to
 * DECIMAL(p - s + 1, 0). */
static void spk__k_floor_ceil(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                              const uint32_t *sel, uint32_t n) {
    (void)ev;
    bool ceiling = node->iarg != 0;
    const spk__vec *a = args[0];
    int64_t *o = out->v.i64;
    spk__nulls_copy(out, a, sel, n);
    if (a->type.id == SPK_TYPE_DOUBLE) {
        const double *x = a->v.f64;
        SPK__FOR_ROWS(sel, n, o[i] = spk__double_to_int64(ceiling ? ceil(x[i]) : floor(x[i])));
    } else if (a->type.id == SPK_TYPE_DECIMAL && a->type.scale > 0) {
        const int64_t *x = a->v.i64;
        int64_t p = spk__pow10[a->type.scale];
        SPK__FOR_ROWS(sel, n, o[i] = ceiling ? -spk__floor_div(-x[i], p) : spk__floor_div(x[i], p));
    } else {
        const int64_t *x = a->v.i64;
        SPK__FOR_ROWS(sel, n, o[i] = x[i]);
    }
}

static spk_status spk__bind_floor_ceil(spk__bnode *node, int ceiling) {
    spk_status st = spk__fn_numeric_arg(node, 0);
    spk_type t = node->args[0]->type;
    if (st == SPK_OK && t.id == SPK_TYPE_INT32) st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_INT64));
    node->type = spk_type_of(SPK_TYPE_INT64);
    if (t.id == SPK_TYPE_DECIMAL && t.scale > 0) {
        int p = t.precision - t.scale + 1;
        node->type = spk_type_decimal(p > SPK_DECIMAL_MAX_PRECISION ? SPK_DECIMAL_MAX_PRECISION : p, 0);
    } else if (t.id == SPK_TYPE_DECIMAL) {
        node->type = t;
    }
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_floor_ceil;
    node->iarg = ceiling;
    return st;
}
static spk_status spk__bind_floor(spk__bnode *node) { return spk__bind_floor_ceil(node, 0); }
static spk_status spk__bind_ceil(spk__bnode *node) { return spk__bind_floor_ceil(node, 1); }

/* Java's StrictMath.pow where C's pow differs: a NaN exponent gives NaN
 * even for base 1, and (+-1)^(+-Infinity) is NaN. */
static double spk__java_pow(double x, double y) {
    if (isnan(y) || (isinf(y) && fabs(x) == 1)) return NAN;
    return pow(x, y);
}

/* Binary DOUBLE functions: iarg 0 log(base, x) (NULL if either is <= 0), 1 pow. */
static void spk__k_math2(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                         const uint32_t *sel, uint32_t n) {
    (void)ev;
    const double *a = args[0]->v.f64, *b = args[1]->v.f64;
    double *o = out->v.f64;
    uint8_t *on = out->nulls;
    spk__nulls_or(out, args[0], args[1], sel, n);
    if (node->iarg == 0)
        SPK__FOR_ROWS(sel, n, {
            on[i] |= a[i] <= 0 || b[i] <= 0;
            o[i] = on[i] ? 0 : log(b[i]) / log(a[i]);
        });
    else
        SPK__FOR_ROWS(sel, n, o[i] = spk__java_pow(a[i], b[i]));
}

static spk_status spk__bind_math2(spk__bnode *node, int which) {
    spk_status st = spk__fn_args(node, spk_type_of(SPK_TYPE_DOUBLE));
    node->type = spk_type_of(SPK_TYPE_DOUBLE);
    node->nullable = which == 0 || spk__any_nullable(node);
    node->kernel = spk__k_math2;
    node->iarg = which;
    return st;
}
static spk_status spk__bind_log(spk__bnode *node) {
    return node->nargs == 1 ? spk__bind_ln(node) : spk__bind_math2(node, 0);
}
static spk_status spk__bind_pow(spk__bnode *node) { return spk__bind_math2(node, 1); }

/* signum: -1.0, 0.0 (keeping -0.0), 1.0, or NaN, always DOUBLE as Spark. */
static void spk__k_signum(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                          const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    const double *x = args[0]->v.f64;
    double *o = out->v.f64;
    SPK__FOR_ROWS(sel, n, o[i] = x[i] > 0 ? 1.0 : x[i] < 0 ? -1.0 : x[i]);
    spk__nulls_copy(out, args[0], sel, n);
}

static spk_status spk__bind_signum(spk__bnode *node) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_DOUBLE));
    node->type = spk_type_of(SPK_TYPE_DOUBLE);
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_signum;
    return st;
}

/* greatest/least (iarg 1, -1): skips NULLs; NULL only if all are. Ties keep
 * the first; doubles order NaN above everything, as Spark. */
static void spk__k_greatest(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                            const uint32_t *sel, uint32_t n) {
    (void)ev;
    int na = node->nargs;
    int64_t dir = node->iarg;
    SPK__FOR_ROWS(sel, n, {
        int best = -1;
        spk_value bv = spk_value_null_of(out->type);
        for (int a = 0; a < na; a++) {
            if (args[a]->nulls[i]) continue;
            spk_value v = spk__vec_get(args[a], i);
            if (best < 0 || spk_value_compare(&v, &bv, true) * dir > 0) {
                best = a;
                bv = v;
            }
        }
        if (best < 0) {
            spk__vec_put(out, i, &bv);
        } else {
            spk__vec_copy_row(out, args[best], i);
        }
    });
}

static spk_status spk__bind_greatest_dir(spk__bnode *node, int dir) {
    spk_type t = node->args[0]->type;
    spk_status st = SPK_OK;
    for (int i = 1; i < node->nargs && st == SPK_OK; i++) {
        spk_type u = node->args[i]->type, next = t;
        /* Spark widens without promoting to STRING: greatest(1, '2') is an error */
        bool one_string = (t.id == SPK_TYPE_STRING) != (u.id == SPK_TYPE_STRING) && t.id != SPK_TYPE_NULL &&
                          u.id != SPK_TYPE_NULL;
        if (one_string || !spk__common_type(t, u, false, &next)) {
            char x[32], y[32];
            spk_type_format(t, SPK_TYPE_SQL, x, sizeof x);
            spk_type_format(u, SPK_TYPE_SQL, y, sizeof y);
            st = spk__fail(SPK_ERR_TYPE, "[DATATYPE_MISMATCH.DATA_DIFF_TYPES] Cannot resolve \"%s\" due to data type "
                           "mismatch: input to function %s should all be the same type, but it's [%s, %s].",
                           node->label ? node->label : "?", dir > 0 ? "`greatest`" : "`least`", x, y);
        }
        t = next;
    }
    for (int i = 0; i < node->nargs && st == SPK_OK; i++) st = spk__coerce(&node->args[i], t);
    node->type = t;
    node->nullable = true;
    for (int i = 0; i < node->nargs; i++)
        if (!node->args[i]->nullable) node->nullable = false;
    node->kernel = spk__k_greatest;
    node->iarg = dir;
    return st;
}
static spk_status spk__bind_greatest(spk__bnode *node) { return spk__bind_greatest_dir(node, 1); }
static spk_status spk__bind_least(spk__bnode *node) { return spk__bind_greatest_dir(node, -1); }

static spk__wide spk__wide_mod(spk__wide x, spk__wide y) {
#if defined(__SIZEOF_INT128__)
    return x % y;
#else
    return fmodl(x, y);
#endif
}

/* pmod(a, n): a mod n made non-negative for positive n, as Spark:
 * r = a % n; r < 0 ? (r + n) % n : r. NULL when n is 0. Integers wrap. */
static void spk__k_pmod(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                        const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    const spk__vec *va = args[0], *vb = args[1];
    uint8_t *on = out->nulls;
    spk__nulls_or(out, va, vb, sel, n);
    switch (out->type.id) {
    case SPK_TYPE_INT32: {
        const int32_t *a = va->v.i32, *b = vb->v.i32;
        int32_t *o = out->v.i32;
        SPK__FOR_ROWS(sel, n, {
            on[i] |= b[i] == 0;
            int32_t m = b[i], r = (m == 0 || m == -1) ? 0 : a[i] % m;
            if (r < 0) {
                int32_t s = (int32_t)((uint32_t)r + (uint32_t)m);
                r = m == -1 ? 0 : s % m;
            }
            o[i] = r;
        });
        break;
    }
    case SPK_TYPE_INT64: {
        const int64_t *a = va->v.i64, *b = vb->v.i64;
        int64_t *o = out->v.i64;
        SPK__FOR_ROWS(sel, n, {
            on[i] |= b[i] == 0;
            int64_t m = b[i], r = (m == 0 || m == -1) ? 0 : a[i] % m;
            if (r < 0) {
                int64_t s = (int64_t)((uint64_t)r + (uint64_t)m);
                r = m == -1 ? 0 : s % m;
            }
            o[i] = r;
        });
        break;
    }
    case SPK_TYPE_DOUBLE: {
        const double *a = va->v.f64, *b = vb->v.f64;
        double *o = out->v.f64;
        SPK__FOR_ROWS(sel, n, {
            on[i] |= b[i] == 0;
            double r = b[i] == 0 ? 0 : fmod(a[i], b[i]);
            o[i] = r < 0 ? fmod(r + b[i], b[i]) : r;
        });
        break;
    }
    case SPK_TYPE_DECIMAL: {
        const int64_t *a = va->v.i64, *b = vb->v.i64;
        int64_t *o = out->v.i64;
        int sa = va->type.scale, sb = vb->type.scale, s = sa > sb ? sa : sb;
        int prec = out->type.precision, os = out->type.scale;
        SPK__FOR_ROWS(sel, n, {
            spk__wide x = spk__wide_rescale(a[i], sa, s), y = spk__wide_rescale(b[i], sb, s), r = 0;
            on[i] |= y == 0;
            if (y != 0) {
                r = spk__wide_mod(x, y);
                if (r < 0) r = spk__wide_mod(r + y, y);
            }
            if (!on[i] && !spk__wide_fits(spk__wide_rescale(r, s, os), prec, &o[i])) on[i] = 1;
        });
        break;
    }
    default: break;
    }
}

static spk_status spk__bind_pmod(spk__bnode *node) {
    spk_status st = SPK_OK;
    for (int i = 0; i < 2 && st == SPK_OK; i++) /* strings read as DOUBLE, as in arithmetic */
        if (node->args[i]->type.id == SPK_TYPE_STRING) st = spk__coerce(&node->args[i], spk_type_of(SPK_TYPE_DOUBLE));
    if (st == SPK_OK && node->args[0]->type.id == SPK_TYPE_NULL && node->args[1]->type.id == SPK_TYPE_NULL)
        st = spk__coerce(&node->args[0], spk_type_of(SPK_TYPE_DOUBLE));
    for (int i = 0; i < 2 && st == SPK_OK; i++)
        if (node->args[i]->type.id == SPK_TYPE_NULL) st = spk__coerce(&node->args[i], node->args[1 - i]->type);
    if (st != SPK_OK) return st;
    spk_type ta = node->args[0]->type, tb = node->args[1]->type, t;
    if (!spk__is_numeric_type(ta) || !spk__is_numeric_type(tb)) {
        char x[32], y[32];
        spk_type_format(ta, SPK_TYPE_SQL, x, sizeof x);
        spk_type_format(tb, SPK_TYPE_SQL, y, sizeof y);
        return spk__fail(SPK_ERR_TYPE, "[DATATYPE_MISMATCH.BINARY_OP_DIFF_TYPES] Cannot resolve \"%s\" due to data type "
                         "mismatch: pmod requires numeric operands, not \"%s\" and \"%s\".",
                         node->label ? node->label : "?", x, y);
    }
    if (ta.id == SPK_TYPE_DOUBLE || tb.id == SPK_TYPE_DOUBLE) {
        t = spk_type_of(SPK_TYPE_DOUBLE);
        st = spk__fn_args(node, t);
    } else if (ta.id == SPK_TYPE_DECIMAL || tb.id == SPK_TYPE_DECIMAL) {
        spk_type da = spk__decimal_of(ta), db = spk__decimal_of(tb);
        int s = da.scale > db.scale ? da.scale : db.scale, ia = da.precision - da.scale, ib = db.precision - db.scale;
        t = spk__decimal_bounded((ia < ib ? ia : ib) + s, s);
        st = spk__fn_arg(node, 0, da);
        if (st == SPK_OK) st = spk__fn_arg(node, 1, db);
    } else {
        t = spk_type_of(ta.id == SPK_TYPE_INT64 || tb.id == SPK_TYPE_INT64 ? SPK_TYPE_INT64 : SPK_TYPE_INT32);
        st = spk__fn_args(node, t);
    }
    node->type = t;
    node->nullable = true;
    node->kernel = spk__k_pmod;
    return st;
}

/* ---------------------------------------------------------------- dates */

/* Adds months to a day number, clamping to the month's last day (Spark's add_months). */
static int32_t spk__add_months(int32_t days, int64_t months) {
    int64_t y;
    int m, d;
    spk__civil_from_days(days, &y, &m, &d);
    int64_t total = y * 12 + (m - 1) + months;
    int64_t ny = spk__floor_div(total, 12);
    int nm = (int)(total - ny * 12) + 1;
    int last = spk__days_in_month(ny, nm);
    return (int32_t)spk__days_from_civil(ny, nm, d > last ? last : d);
}

/* Day of the week of a day number, 0 = Monday .. 6 = Sunday (1970-01-01 was a Thursday). */
static int spk__weekday(int64_t days) { return (int)spk__floor_mod(days + 3, 7); }

/* ISO 8601 week of the year: weeks start on Monday and week 1 holds the
 * year's first Thursday, so the week's Thursday decides its year. */
static int spk__iso_week(int64_t days) {
    int64_t thursday = days - spk__weekday(days) + 3, y;
    int m, d;
    spk__civil_from_days(thursday, &y, &m, &d);
    return (int)((thursday - spk__days_from_civil(y, 1, 1)) / 7 + 1);
}

enum { SPK__D_YEAR, SPK__D_MONTH, SPK__D_DAY, SPK__D_DAYOFWEEK, SPK__D_WEEKDAY, SPK__D_DAYOFYEAR, SPK__D_QUARTER,
       SPK__D_WEEKOFYEAR };

static void spk__k_date_part(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                             const uint32_t *sel, uint32_t n) {
    (void)ev;
    const int32_t *x = args[0]->v.i32;
    int32_t *o = out->v.i32;
    int64_t part = node->iarg;
    SPK__FOR_ROWS(sel, n, {
        int64_t y;
        int m, d;
        spk__civil_from_days(x[i], &y, &m, &d);
        switch (part) {
        case SPK__D_YEAR: o[i] = (int32_t)y; break;
        case SPK__D_MONTH: o[i] = m; break;
        case SPK__D_DAY: o[i] = d; break;
        case SPK__D_DAYOFWEEK: o[i] = (spk__weekday(x[i]) + 1) % 7 + 1; break; /* 1 = Sunday */
        case SPK__D_WEEKDAY: o[i] = spk__weekday(x[i]); break;                 /* 0 = Monday */
        case SPK__D_DAYOFYEAR: o[i] = (int32_t)(x[i] - spk__days_from_civil(y, 1, 1) + 1); break;
        case SPK__D_QUARTER: o[i] = (m - 1) / 3 + 1; break;
        default: o[i] = spk__iso_week(x[i]); break;
        }
    });
    spk__nulls_copy(out, args[0], sel, n);
}

static spk_status spk__bind_date_part(spk__bnode *node, int part) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_DATE));
    node->type = spk_type_of(SPK_TYPE_INT32);
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_date_part;
    node->iarg = part;
    return st;
}
static spk_status spk__bind_year(spk__bnode *node) { return spk__bind_date_part(node, SPK__D_YEAR); }
static spk_status spk__bind_month(spk__bnode *node) { return spk__bind_date_part(node, SPK__D_MONTH); }
static spk_status spk__bind_dayofmonth(spk__bnode *node) { return spk__bind_date_part(node, SPK__D_DAY); }
static spk_status spk__bind_dayofweek(spk__bnode *node) { return spk__bind_date_part(node, SPK__D_DAYOFWEEK); }
static spk_status spk__bind_weekday(spk__bnode *node) { return spk__bind_date_part(node, SPK__D_WEEKDAY); }
static spk_status spk__bind_dayofyear(spk__bnode *node) { return spk__bind_date_part(node, SPK__D_DAYOFYEAR); }
static spk_status spk__bind_quarter(spk__bnode *node) { return spk__bind_date_part(node, SPK__D_QUARTER); }
static spk_status spk__bind_weekofyear(spk__bnode *node) { return spk__bind_date_part(node, SPK__D_WEEKOFYEAR); }

/* hour/minute/second of a TIMESTAMP (iarg: seconds per unit, units per next). */
static void spk__k_time_part(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                             const uint32_t *sel, uint32_t n) {
    (void)ev;
    const int64_t *x = args[0]->v.i64;
    int32_t *o = out->v.i32;
    int64_t unit = node->iarg * SPK__MICROS_PER_SECOND, per = node->iarg == 3600 ? 24 : 60;
    SPK__FOR_ROWS(sel, n, o[i] = (int32_t)(spk__floor_mod(x[i], SPK__MICROS_PER_DAY) / unit % per));
    spk__nulls_copy(out, args[0], sel, n);
}

static spk_status spk__bind_time_part(spk__bnode *node, int seconds) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_TIMESTAMP));
    node->type = spk_type_of(SPK_TYPE_INT32);
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_time_part;
    node->iarg = seconds;
    return st;
}
static spk_status spk__bind_hour(spk__bnode *node) { return spk__bind_time_part(node, 3600); }
static spk_status spk__bind_minute(spk__bnode *node) { return spk__bind_time_part(node, 60); }
static spk_status spk__bind_second(spk__bnode *node) { return spk__bind_time_part(node, 1); }

/* date_add(d, n) / date_sub(d, n) (iarg = sign). */
static void spk__k_date_add(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                            const uint32_t *sel, uint32_t n) {
    (void)ev;
    const int32_t *d = args[0]->v.i32, *k = args[1]->v.i32;
    int32_t *o = out->v.i32;
    int64_t sign = node->iarg;
    SPK__FOR_ROWS(sel, n, o[i] = (int32_t)(uint32_t)((int64_t)d[i] + sign * k[i]));
    spk__nulls_or(out, args[0], args[1], sel, n);
}

static spk_status spk__bind_date_add(spk__bnode *node) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_DATE));
    if (st == SPK_OK) st = spk__fn_arg(node, 1, spk_type_of(SPK_TYPE_INT32));
    node->type = spk_type_of(SPK_TYPE_DATE);
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_date_add;
    node->iarg = 1;
    return st;
}
static spk_status spk__bind_date_sub(spk__bnode *node) {
    spk_status st = spk__bind_date_add(node);
    node->iarg = -1;
    return st;
}

static void spk__k_add_months(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                              const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    const int32_t *d = args[0]->v.i32, *k = args[1]->v.i32;
    int32_t *o = out->v.i32;
    SPK__FOR_ROWS(sel, n, o[i] = spk__add_months(d[i], k[i]));
    spk__nulls_or(out, args[0], args[1], sel, n);
}

static spk_status spk__bind_add_months(spk__bnode *node) {
    spk_status st = spk__bind_date_add(node);
    node->kernel = spk__k_add_months;
    return st;
}

/* datediff(end, start): days from start to end. */
static void spk__k_datediff(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                            const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    const int32_t *a = args[0]->v.i32, *b = args[1]->v.i32;
    int32_t *o = out->v.i32;
    SPK__FOR_ROWS(sel, n, o[i] = (int32_t)(uint32_t)((int64_t)a[i] - b[i]));
    spk__nulls_or(out, args[0], args[1], sel, n);
}

static spk_status spk__bind_datediff(spk__bnode *node) {
    spk_status st = spk__fn_args(node, spk_type_of(SPK_TYPE_DATE));
    node->type = spk_type_of(SPK_TYPE_INT32);
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_datediff;
    return st;
}

/* last_day(d): the last day of d's month. */
static void spk__k_last_day(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                            const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    const int32_t *x = args[0]->v.i32;
    int32_t *o = out->v.i32;
    SPK__FOR_ROWS(sel, n, {
        int64_t y;
        int m, d;
        spk__civil_from_days(x[i], &y, &m, &d);
        o[i] = (int32_t)(x[i] + (spk__days_in_month(y, m) - d));
    });
    spk__nulls_copy(out, args[0], sel, n);
}

static spk_status spk__bind_last_day(spk__bnode *node) {
    spk_status st = spk__bind_date_part(node, 0);
    node->type = spk_type_of(SPK_TYPE_DATE);
    node->kernel = spk__k_last_day;
    return st;
}

/* months_between(end, start[, roundOff = true]) as Spark's DateTimeUtils:
 * whole months when the days of month agree or both are month ends; else
 * the month difference plus the rest in seconds over 31-day months,
 * rounded half-up to 8 decimals when roundOff. */
static double spk__months_between(int64_t t1, int64_t t2, bool round_off) {
    int64_t d1 = spk__floor_div(t1, SPK__MICROS_PER_DAY), d2 = spk__floor_div(t2, SPK__MICROS_PER_DAY), y1, y2;
    int m1, m2, day1, day2;
    spk__civil_from_days(d1, &y1, &m1, &day1);
    spk__civil_from_days(d2, &y2, &m2, &day2);
    double months = (double)((y1 * 12 + m1) - (y2 * 12 + m2));
    bool end1 = day1 == spk__days_in_month(y1, m1), end2 = day2 == spk__days_in_month(y2, m2);
    if (day1 == day2 || (end1 && end2)) return months;
    int64_t secs1 = spk__floor_mod(t1, SPK__MICROS_PER_DAY) / SPK__MICROS_PER_SECOND;
    int64_t secs2 = spk__floor_mod(t2, SPK__MICROS_PER_DAY) / SPK__MICROS_PER_SECOND;
    double diff = months + (double)((int64_t)(day1 - day2) * 86400 + secs1 - secs2) / (31.0 * 86400);
    if (!round_off) return diff;
    double scaled = diff * 1e8, r = floor(scaled); /* Java's Math.round: half-up */
    if (scaled - r >= 0.5) r += 1;
    return r / 1e8;
}

static void spk__k_months_between(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                                  const uint32_t *sel, uint32_t n) {
    (void)ev;
    const int64_t *a = args[0]->v.i64, *b = args[1]->v.i64;
    const uint8_t *r = node->nargs > 2 ? args[2]->v.b : NULL;
    double *o = out->v.f64;
    spk__nulls_any(out, args, node->nargs, sel, n);
    SPK__FOR_ROWS(sel, n, o[i] = spk__months_between(a[i], b[i], r ? r[i] != 0 : true));
}

static spk_status spk__bind_months_between(spk__bnode *node) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_TIMESTAMP));
    if (st == SPK_OK) st = spk__fn_arg(node, 1, spk_type_of(SPK_TYPE_TIMESTAMP));
    if (st == SPK_OK && node->nargs > 2) st = spk__fn_arg(node, 2, spk_type_of(SPK_TYPE_BOOLEAN));
    node->type = spk_type_of(SPK_TYPE_DOUBLE);
    node->nullable = spk__any_nullable(node);
    node->kernel = spk__k_months_between;
    return st;
}

/* -- truncation units (Spark's DateTimeUtils.parseTruncLevel) */
enum { SPK__TRUNC_INVALID = -1, SPK__TRUNC_MICROSECOND, SPK__TRUNC_MILLISECOND, SPK__TRUNC_SECOND, SPK__TRUNC_MINUTE,
       SPK__TRUNC_HOUR, SPK__TRUNC_DAY, SPK__TRUNC_WEEK, SPK__TRUNC_MONTH, SPK__TRUNC_QUARTER, SPK__TRUNC_YEAR,
       SPK__TRUNC_PER_ROW /* the unit is not a constant */ };

static int spk__trunc_level(const char *s, size_t len) {
    static const struct { const char *name; int level; } units[] = {
        {"microsecond", SPK__TRUNC_MICROSECOND}, {"millisecond", SPK__TRUNC_MILLISECOND}, {"second", SPK__TRUNC_SECOND},
        {"minute", SPK__TRUNC_MINUTE}, {"hour", SPK__TRUNC_HOUR}, {"day", SPK__TRUNC_DAY}, {"dd", SPK__TRUNC_DAY},
        {"week", SPK__TRUNC_WEEK}, {"mon", SPK__TRUNC_MONTH}, {"month", SPK__TRUNC_MONTH}, {"mm", SPK__TRUNC_MONTH},
        {"quarter", SPK__TRUNC_QUARTER}, {"year", SPK__TRUNC_YEAR}, {"yyyy", SPK__TRUNC_YEAR}, {"yy", SPK__TRUNC_YEAR},
    };
    for (size_t k = 0; k < sizeof units / sizeof units[0]; k++)
        if (spk__word_is(s, len, units[k].name)) return units[k].level;
    return SPK__TRUNC_INVALID;
}

/* The first day of the week (Monday), month, quarter or year holding `days`. */
static int64_t spk__trunc_days(int64_t days, int level) {
    int64_t y;
    int m, d;
    if (level == SPK__TRUNC_WEEK) return days - spk__weekday(days);
    spk__civil_from_days(days, &y, &m, &d);
    if (level == SPK__TRUNC_MONTH) return spk__days_from_civil(y, m, 1);
    if (level == SPK__TRUNC_QUARTER) return spk__days_from_civil(y, (m - 1) / 3 * 3 + 1, 1);
    return spk__days_from_civil(y, 1, 1);
}

static int64_t spk__trunc_micros(int64_t t, int level) {
    static const int64_t unit[] = {1, 1000, SPK__MICROS_PER_SECOND, 60 * SPK__MICROS_PER_SECOND,
                                   3600 * SPK__MICROS_PER_SECOND, SPK__MICROS_PER_DAY};
    if (level <= SPK__TRUNC_DAY) return t - spk__floor_mod(t, unit[level]);
    int64_t days = spk__trunc_days(spk__floor_div(t, SPK__MICROS_PER_DAY), level);
    return (int64_t)((uint64_t)days * (uint64_t)SPK__MICROS_PER_DAY); /* wraps only at the range's ends */
}

/* date_trunc(unit, ts) -> TIMESTAMP; trunc(date, unit) -> DATE (units from
 * WEEK up only). An unknown unit gives NULL, as Spark. iarg: the level, or
 * SPK__TRUNC_PER_ROW. */
static void spk__k_date_trunc(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                              const uint32_t *sel, uint32_t n) {
    (void)ev;
    bool is_date = out->type.id == SPK_TYPE_DATE;
    const spk__vec *unit = args[is_date ? 1 : 0], *x = args[is_date ? 0 : 1];
    spk__nulls_or(out, unit, x, sel, n);
    SPK__FOR_ROWS(sel, n, {
        int level = (int)node->iarg;
        if (level == SPK__TRUNC_PER_ROW)
            level = out->nulls[i] ? SPK__TRUNC_INVALID : spk__trunc_level(unit->v.str[i].ptr, unit->v.str[i].len);
        if (level == SPK__TRUNC_INVALID || (is_date && level < SPK__TRUNC_WEEK)) out->nulls[i] = 1;
        else if (is_date) out->v.i32[i] = (int32_t)spk__trunc_days(x->v.i32[i], level);
        else out->v.i64[i] = spk__trunc_micros(x->v.i64[i], level);
    });
}

static spk_status spk__bind_trunc_common(spk__bnode *node, int unit_arg, spk_type t) {
    spk_status st = spk__fn_arg(node, unit_arg, spk_type_of(SPK_TYPE_STRING));
    if (st == SPK_OK) st = spk__fn_arg(node, 1 - unit_arg, t);
    node->type = t;
    node->nullable = true;
    node->kernel = spk__k_date_trunc;
    node->iarg = SPK__TRUNC_PER_ROW;
    spk_value unit;
    if (st == SPK_OK && spk__arg_const(node, unit_arg, &unit)) {
        int level = unit.is_null ? SPK__TRUNC_INVALID : spk__trunc_level(unit.as.str.ptr, unit.as.str.len);
        if (level == SPK__TRUNC_INVALID || (t.id == SPK_TYPE_DATE && level < SPK__TRUNC_WEEK)) node->kernel = spk__k_null;
        node->iarg = level;
    }
    return st;
}
static spk_status spk__bind_date_trunc(spk__bnode *node) {
    return spk__bind_trunc_common(node, 0, spk_type_of(SPK_TYPE_TIMESTAMP));
}
static spk_status spk__bind_trunc(spk__bnode *node) { return spk__bind_trunc_common(node, 1, spk_type_of(SPK_TYPE_DATE)); }

/* ---------------------------------------------------------------- datetime patterns
 * Spark 3's datetime patterns (java.time DateTimeFormatter letters), in UTC:
 * parsing for to_date/to_timestamp, formatting for date_format. Supported:
 * y M L d D H h K k m s S a, 'quoted text', [optional sections], and for
 * formatting also E and Q/q; other letters (eras, zones, week-based
 * fields) are refused. y is the proleptic year (Spark turns y into
 * java.time's u), so year 0 and negative years work. Parsing is
 * case-insensitive, as Spark's formatters are. */

enum { SPK__DT_MAX_TOKENS = 64, SPK__DT_MAX_PATTERN = 4096 };

typedef struct spk__dt_token {
    char letter;      /* a pattern letter; 0 literal text; '[' ']' an optional section */
    uint8_t count;    /* times the letter repeats */
    uint16_t at, len; /* literal text: bytes of the pattern */
} spk__dt_token;

typedef struct spk__dt_pattern {
    int n;
    spk__dt_token tok[SPK__DT_MAX_TOKENS];
} spk__dt_pattern;

static const char *const spk__month_names[12] = {"January", "February", "March",     "April",   "May",      "June",
                                                 "July",    "August",   "September", "October", "November", "December"};
static const char *const spk__day_names[7] = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};

/* The most times a letter may repeat; 0 if we do not support it. As in
 * Spark: narrow (5-letter) text forms and years of 7 or more letters are
 * refused, and E and Q/q only format. */
static int spk__dt_max_count(char c, bool parsing) {
    switch (c) {
    case 'y': return 6;
    case 'S': return 9;
    case 'M': case 'L': return 4;
    case 'd': case 'H': case 'h': case 'K': case 'k': case 'm': case 's': return 2;
    case 'D': return 3;
    case 'a': return 1;
    case 'E': case 'Q': case 'q': return parsing ? 0 : 4;
    default: return 0;
    }
}

static bool spk__dt_special(char c) { return c == '\'' || c == '[' || c == ']' || c == '{' || c == '}' || c == '#'; }

static bool spk__dt_add(spk__dt_pattern *p, char letter, size_t count, size_t at, size_t len) {
    if (p->n == SPK__DT_MAX_TOKENS) return false;
    spk__dt_token *t = &p->tok[p->n++];
    t->letter = letter;
    t->count = (uint8_t)count;
    t->at = (uint16_t)at;
    t->len = (uint16_t)len;
    return true;
}

/* Splits a pattern into tokens; false with the reason in why. */
static bool spk__dt_compile(const char *f, size_t len, bool parsing, spk__dt_pattern *p, char *why, size_t cap) {
    p->n = 0;
    if (len > SPK__DT_MAX_PATTERN) {
        snprintf(why, cap, "the pattern is longer than %d bytes", SPK__DT_MAX_PATTERN);
        return false;
    }
    int depth = 0;
    size_t i = 0;
    bool room = true;
    while (i < len && room) {
        char c = f[i];
        if (c == '\'') { /* 'text', with '' for a quote inside or outside */
            size_t j = i + 1, start = j;
            if (j < len && f[j] == '\'') {
                room = spk__dt_add(p, 0, 0, i, 1);
                i += 2;
                continue;
            }
            for (;;) {
                if (j >= len) {
                    snprintf(why, cap, "the pattern ends inside a quoted literal");
                    return false;
                }
                if (f[j] != '\'') {
                    j++;
                } else if (j + 1 < len && f[j + 1] == '\'') {
                    room = room && spk__dt_add(p, 0, 0, start, j + 1 - start);
                    j += 2;
                    start = j;
                } else {
                    if (j > start) room = room && spk__dt_add(p, 0, 0, start, j - start);
                    i = j + 1;
                    break;
                }
            }
        } else if (spk__ascii_alpha(c)) {
            size_t j = i;
            while (j < len && f[j] == c) j++;
            int max = spk__dt_max_count(c, parsing);
            if (max == 0) {
                snprintf(why, cap, "the pattern letter '%c' is not supported%s", c,
                         parsing && (c == 'E' || c == 'Q' || c == 'q') ? " for parsing" : "");
                return false;
            }
            if (j - i > (size_t)max) {
                snprintf(why, cap, "too many pattern letters: %c", c);
                return false;
            }
            room = spk__dt_add(p, c, j - i, i, 0);
            i = j;
        } else if (c == '[' || c == ']') {
            if (c == ']' && depth == 0) {
                snprintf(why, cap, "']' without a matching '['");
                return false;
            }
            depth += c == '[' ? 1 : -1;
            room = spk__dt_add(p, c, 0, i, 0);
            i++;
        } else if (c == '{' || c == '}' || c == '#') {
            snprintf(why, cap, "the character '%c' is reserved", c);
            return false;
        } else {
            size_t j = i;
            while (j < len && !spk__ascii_alpha(f[j]) && !spk__dt_special(f[j])) j++;
            room = spk__dt_add(p, 0, 0, i, j - i);
            i = j;
        }
    }
    if (!room) {
        snprintf(why, cap, "the pattern has more than %d parts", SPK__DT_MAX_TOKENS);
        return false;
    }
    return true; /* an unclosed [ ends at the pattern's end, as in java.time */
}

/* -- formatting */

static char *spk__put_uint(char *o, int64_t v, int width) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    for (int k = n; k < width; k++) *o++ = '0';
    while (n) *o++ = tmp[--n];
    return o;
}

/* Bytes that formatting with p can take at most. */
static size_t spk__dt_bound(const spk__dt_pattern *p) {
    size_t n = 0;
    for (int k = 0; k < p->n; k++) n += p->tok[k].letter ? (size_t)p->tok[k].count + 16 : p->tok[k].len;
    return n;
}

static char *spk__put_name(char *o, const char *name, int count) {
    size_t n = count <= 3 ? 3 : strlen(name);
    memcpy(o, name, n);
    return o + n;
}

static size_t spk__dt_format(const spk__dt_pattern *p, const char *f, int64_t ts, char *out) {
    int64_t days = spk__floor_div(ts, SPK__MICROS_PER_DAY), tod = spk__floor_mod(ts, SPK__MICROS_PER_DAY), y;
    int m, d;
    spk__civil_from_days(days, &y, &m, &d);
    int hour = (int)(tod / (3600 * SPK__MICROS_PER_SECOND)), micros = (int)(tod % SPK__MICROS_PER_SECOND);
    int minute = (int)(tod / (60 * SPK__MICROS_PER_SECOND) % 60), second = (int)(tod / SPK__MICROS_PER_SECOND % 60);
    char *o = out;
    for (int k = 0; k < p->n; k++) {
        const spk__dt_token *t = &p->tok[k];
        int c = t->count;
        switch (t->letter) {
        case 0: memcpy(o, f + t->at, t->len); o += t->len; break;
        case 'y': { /* Spark reads y as java.time's u, the proleptic year */
            if (c == 2) {
                o = spk__put_uint(o, spk__floor_mod(y, 100), 2);
                break;
            }
            if (y < 0) *o++ = '-';
            else if (c >= 4 && y >= spk__pow10[c]) *o++ = '+'; /* java.time's EXCEEDS_PAD */
            o = spk__put_uint(o, y < 0 ? -y : y, c);
            break;
        }
        case 'M':
        case 'L': o = c <= 2 ? spk__put_uint(o, m, c) : spk__put_name(o, spk__month_names[m - 1], c); break;
        case 'd': o = spk__put_uint(o, d, c); break;
        case 'D': o = spk__put_uint(o, days - spk__days_from_civil(y, 1, 1) + 1, c); break;
        case 'H': o = spk__put_uint(o, hour, c); break;
        case 'k': o = spk__put_uint(o, hour == 0 ? 24 : hour, c); break;
        case 'K': o = spk__put_uint(o, hour % 12, c); break;
        case 'h': o = spk__put_uint(o, hour % 12 == 0 ? 12 : hour % 12, c); break;
        case 'm': o = spk__put_uint(o, minute, c); break;
        case 's': o = spk__put_uint(o, second, c); break;
        case 'S': { /* the fraction, cut (not rounded) to c digits */
            char frac[8];
            spk__put_uint(frac, micros, 6);
            for (int j = 0; j < c; j++) *o++ = j < 6 ? frac[j] : '0';
            break;
        }
        case 'a': memcpy(o, hour < 12 ? "AM" : "PM", 2); o += 2; break;
        case 'E': o = spk__put_name(o, spk__day_names[spk__weekday(days)], c); break;
        case 'Q':
        case 'q': {
            int q = (m - 1) / 3 + 1;
            static const char *const ordinal[4] = {"1st", "2nd", "3rd", "4th"};
            if (c <= 2) o = spk__put_uint(o, q, c);
            else if (c == 3) o += sprintf(o, "Q%d", q);
            else o += sprintf(o, "%s quarter", ordinal[q - 1]);
            break;
        }
        default: break; /* '[' and ']': every field is present, so sections print */
        }
    }
    return (size_t)(o - out);
}

/* -- parsing */

typedef struct spk__dt_fields {
    int64_t year, month, day, doy, hour, minute, second, micros;
    int ampm;         /* -1 none, 0 AM, 1 PM */
    char hour_letter; /* H, k, h or K; 0 if no hour */
    bool has_year, has_month, has_day, has_doy;
} spk__dt_fields;

/* Whether the token reads digits (for java.time's adjacent value parsing). */
static bool spk__dt_numeric(const spk__dt_token *t) {
    if (t->letter == 'M' || t->letter == 'L') return t->count <= 2;
    return t->letter != 0 && strchr("ydDHhKkmsS", t->letter) != NULL;
}

static bool spk__ascii_ieq(const char *a, const char *b, size_t n) {
    for (size_t k = 0; k < n; k++)
        if (spk__lower((unsigned char)a[k]) != spk__lower((unsigned char)b[k])) return false;
    return true;
}

/* Index of the name (its first 3 letters unless full) at s + *pos, or -1. */
static int spk__dt_name(const char *s, size_t len, size_t *pos, const char *const *names, int count, bool full) {
    for (int k = 0; k < count; k++) {
        size_t n = full ? strlen(names[k]) : 3;
        if (len - *pos >= n && spk__ascii_ieq(s + *pos, names[k], n)) {
            *pos += n;
            return k;
        }
    }
    return -1;
}

/* Matches tokens [from, to) at s + *pos into fl. */
static bool spk__dt_match(const spk__dt_pattern *p, int from, int to, const char *f, const char *s, size_t len,
                          size_t *pos, spk__dt_fields *fl) {
    for (int k = from; k < to; k++) {
        const spk__dt_token *t = &p->tok[k];
        int c = t->count;
        switch (t->letter) {
        case 0:
            if (len - *pos < t->len || !spk__ascii_ieq(s + *pos, f + t->at, t->len)) return false;
            *pos += t->len;
            continue;
        case '[': { /* an optional section: taken if it matches, else skipped */
            int end = k + 1, depth = 1;
            for (; end < to; end++) {
                depth += p->tok[end].letter == '[' ? 1 : p->tok[end].letter == ']' ? -1 : 0;
                if (depth == 0) break;
            }
            size_t saved_pos = *pos;
            spk__dt_fields saved = *fl;
            if (!spk__dt_match(p, k + 1, end, f, s, len, pos, fl)) {
                *pos = saved_pos;
                *fl = saved;
            }
            k = end;
            continue;
        }
        case ']': continue;
        case 'a':
            if (len - *pos < 2) return false;
            if (spk__ascii_ieq(s + *pos, "AM", 2)) fl->ampm = 0;
            else if (spk__ascii_ieq(s + *pos, "PM", 2)) fl->ampm = 1;
            else return false;
            *pos += 2;
            continue;
        case 'M':
        case 'L':
            if (c >= 3) {
                int month = spk__dt_name(s, len, pos, spk__month_names, 12, c == 4);
                if (month < 0) return false;
                fl->month = month + 1;
                fl->has_month = true;
                continue;
            }
            break;
        default: break;
        }
        /* a number: widths as java.time reads them; a field followed directly
         * by another number takes no more digits than its pattern shows */
        bool adjacent = k + 1 < to && spk__dt_numeric(&p->tok[k + 1]), negative = false;
        int min = c, max = c;
        if (t->letter == 'y' && c != 2 && *pos < len && (s[*pos] == '-' || s[*pos] == '+'))
            negative = s[(*pos)++] == '-';
        if (t->letter == 'y' && c != 2) max = adjacent ? (c > 4 ? c : 4) : 9;
        else if (t->letter == 'D') max = c == 1 && !adjacent ? 9 : 3;
        else if (t->letter == 'S') min = 1;
        else if (c == 1) max = adjacent ? 2 : 9; /* one letter alone reads every digit there is */
        int64_t v = 0;
        int nd = 0;
        while (*pos < len && nd < max && spk__is_digit((unsigned char)s[*pos])) v = v * 10 + (s[(*pos)++] - '0'), nd++;
        if (nd < min) return false;
        switch (t->letter) {
        case 'y': fl->year = c == 2 ? 2000 + v : negative ? -v : v; fl->has_year = true; break;
        case 'M':
        case 'L': fl->month = v; fl->has_month = true; break;
        case 'd': fl->day = v; fl->has_day = true; break;
        case 'D': fl->doy = v; fl->has_doy = true; break;
        case 'm': fl->minute = v; break;
        case 's': fl->second = v; break;
        case 'S':
            while (nd < 6) v *= 10, nd++;
            while (nd > 6) v /= 10, nd--;
            fl->micros = v;
            break;
        default: fl->hour = v; fl->hour_letter = t->letter; break; /* H h K k */
        }
    }
    return true;
}

/* The timestamp the fields name: missing date fields default to 1970-01-01,
 * missing time fields to 0; invalid dates and times fail, as java.time's
 * STRICT resolution. */
static bool spk__dt_resolve(const spk__dt_fields *fl, int64_t *out) {
    int64_t year = fl->has_year ? fl->year : 1970, hour = fl->hour;
    if (year < SPK__MIN_YEAR || year > SPK__MAX_YEAR) return false;
    int32_t jan1, days;
    if (!spk_date_from_ymd((int)year, 1, 1, &jan1)) return false;
    if (fl->has_doy && !fl->has_month && !fl->has_day) {
        if (fl->doy < 1 || fl->doy > (spk__is_leap(year) ? 366 : 365)) return false;
        days = jan1 + (int32_t)fl->doy - 1;
    } else {
        int64_t month = fl->has_month ? fl->month : 1, day = fl->has_day ? fl->day : 1;
        if (month < 1 || month > 12 || day < 1 || day > 31 || !spk_date_from_ymd((int)year, (int)month, (int)day, &days))
            return false;
        if (fl->has_doy && days - jan1 + 1 != fl->doy) return false;
    }
    switch (fl->hour_letter) {
    case 'H': if (hour > 23) return false; break;
    case 'k': if (hour < 1 || hour > 24) return false; hour %= 24; break;
    case 'h': if (hour < 1 || hour > 12) return false; hour = hour % 12 + (fl->ampm == 1 ? 12 : 0); break;
    case 'K': if (hour > 11) return false; hour += fl->ampm == 1 ? 12 : 0; break;
    default: hour = 0; break;
    }
    if (fl->minute > 59 || fl->second > 59) return false;
    if (days > INT64_MAX / SPK__MICROS_PER_DAY - 1 || days < INT64_MIN / SPK__MICROS_PER_DAY + 1) return false;
    *out = (int64_t)days * SPK__MICROS_PER_DAY + ((hour * 60 + fl->minute) * 60 + fl->second) * SPK__MICROS_PER_SECOND +
           fl->micros;
    return true;
}

static bool spk__dt_parse(const spk__dt_pattern *p, const char *f, const char *s, size_t len, int64_t *out) {
    spk__dt_fields fl;
    memset(&fl, 0, sizeof fl);
    fl.ampm = -1;
    size_t pos = 0;
    return spk__dt_match(p, 0, p->n, f, s, len, &pos, &fl) && pos == len && spk__dt_resolve(&fl, out);
}

/* The pattern of row i, compiled again only when its text changes (a
 * constant pattern compiles once per batch). */
typedef struct spk__dt_cache {
    spk__dt_pattern p;
    const char *text;
    size_t len;
    bool ok;
} spk__dt_cache;

static const spk__dt_pattern *spk__dt_for_row(spk__dt_cache *c, spk__str f, bool parsing) {
    if (!c->text || c->len != f.len || (c->text != f.ptr && memcmp(c->text, f.ptr, f.len) != 0)) {
        char why[8];
        c->ok = spk__dt_compile(f.ptr, f.len, parsing, &c->p, why, sizeof why);
        c->text = f.ptr;
        c->len = f.len;
    }
    return c->ok ? &c->p : NULL;
}

/* to_timestamp(str, fmt) and to_date(str, fmt) (the output type decides):
 * NULL where str does not match the pattern. */
static void spk__k_parse_datetime(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                                  const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    const spk__str *x = args[0]->v.str, *f = args[1]->v.str;
    bool is_date = out->type.id == SPK_TYPE_DATE;
    spk__dt_cache cache;
    cache.text = NULL;
    spk__nulls_or(out, args[0], args[1], sel, n);
    SPK__FOR_ROWS(sel, n, {
        if (out->nulls[i]) continue;
        const spk__dt_pattern *p = spk__dt_for_row(&cache, f[i], true);
        int64_t ts;
        if (!p || !spk__dt_parse(p, cache.text, x[i].ptr, x[i].len, &ts)) out->nulls[i] = 1;
        else if (is_date) out->v.i32[i] = (int32_t)spk__floor_div(ts, SPK__MICROS_PER_DAY);
        else out->v.i64[i] = ts;
    });
}

/* date_format(ts, fmt): NULL if fmt is not a pattern we support. */
static void spk__k_date_format(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                               const uint32_t *sel, uint32_t n) {
    (void)node;
    const int64_t *x = args[0]->v.i64;
    const spk__str *f = args[1]->v.str;
    spk__str *o = out->v.str;
    spk__dt_cache cache;
    cache.text = NULL;
    spk__nulls_or(out, args[0], args[1], sel, n);
    SPK__FOR_ROWS(sel, n, {
        o[i] = spk__empty_str;
        if (out->nulls[i]) continue;
        const spk__dt_pattern *p = spk__dt_for_row(&cache, f[i], false);
        char *buf = p ? spk__eval_strbuf(ev, spk__dt_bound(p)) : NULL;
        if (!p) out->nulls[i] = 1;
        if (!buf) continue;
        o[i].ptr = buf;
        o[i].len = spk__dt_format(p, cache.text, x[i], buf);
    });
}

/* A constant pattern is checked at bind time, so a bad one is an error at
 * once (Spark fails the query too); patterns from columns give NULL. */
static spk_status spk__bind_dt_pattern(spk__bnode *node, int arg, bool parsing) {
    spk_value f;
    spk__dt_pattern p;
    char why[96];
    if (!spk__arg_const(node, arg, &f) || f.is_null || spk__dt_compile(f.as.str.ptr, f.as.str.len, parsing, &p, why, sizeof why))
        return SPK_OK;
    return spk__fail(SPK_ERR_ARG, "[INVALID_DATETIME_PATTERN] Unrecognized datetime pattern '%.*s' in `%s`: %s",
                     (int)f.as.str.len, f.as.str.ptr, node->label ? node->label : "?", why);
}

/* to_date(x[, fmt]) / to_timestamp(x[, fmt]): without a pattern (or for a
 * DATE or TIMESTAMP x, which ignores it) a CAST; else parsed by the pattern. */
static spk_status spk__bind_to_datetime(spk__bnode *node, spk_type_id to) {
    spk_type_id from = (spk_type_id)node->args[0]->type.id;
    spk_status st = SPK_OK;
    node->type = spk_type_of(to);
    node->nullable = true;
    if (node->nargs > 1) st = spk__fn_arg(node, 1, spk_type_of(SPK_TYPE_STRING));
    if (node->nargs == 1 || from == SPK_TYPE_DATE || from == SPK_TYPE_TIMESTAMP) {
        node->kernel = spk__k_first;
        return st == SPK_OK ? spk__fn_arg(node, 0, node->type) : st;
    }
    node->kernel = spk__k_parse_datetime;
    if (st == SPK_OK) st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_STRING));
    return st == SPK_OK ? spk__bind_dt_pattern(node, 1, true) : st;
}
static spk_status spk__bind_to_date(spk__bnode *node) { return spk__bind_to_datetime(node, SPK_TYPE_DATE); }
static spk_status spk__bind_to_timestamp(spk__bnode *node) { return spk__bind_to_datetime(node, SPK_TYPE_TIMESTAMP); }

static spk_status spk__bind_date_format(spk__bnode *node) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_TIMESTAMP));
    if (st == SPK_OK) st = spk__fn_arg(node, 1, spk_type_of(SPK_TYPE_STRING));
    node->type = spk_type_of(SPK_TYPE_STRING);
    node->nullable = true;
    node->kernel = spk__k_date_format;
    return st == SPK_OK ? spk__bind_dt_pattern(node, 1, false) : st;
}

/* ---------------------------------------------------------------- hash
 * hash(a, b, ...): Spark's Murmur3Hash, MurmurHash3 x86 32-bit with seed 42,
 * each argument's hash the seed of the next, NULLs skipped. Values are hashed
 * in Spark's binary forms: INT, DATE, BOOLEAN as a 4-byte int; BIGINT,
 * TIMESTAMP, DECIMAL (unscaled) and DOUBLE (its bits, -0.0 as 0.0) as an
 * 8-byte long; strings by their UTF-8 bytes with Spark's own handling of
 * the last 1-3 bytes (each mixed in as a sign-extended block), which
 * differs from the reference algorithm. */

static uint32_t spk__rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

static uint32_t spk__mm3_k(uint32_t k) {
    k *= 0xcc9e2d51u;
    k = spk__rotl32(k, 15);
    return k * 0x1b873593u;
}

static uint32_t spk__mm3_h(uint32_t h, uint32_t k) {
    h ^= k;
    h = spk__rotl32(h, 13);
    return h * 5u + 0xe6546b64u;
}

static uint32_t spk__mm3_final(uint32_t h, uint32_t len) {
    h ^= len;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    return h ^ (h >> 16);
}

static uint32_t spk__mm3_int(uint32_t v, uint32_t seed) { return spk__mm3_final(spk__mm3_h(seed, spk__mm3_k(v)), 4); }

static uint32_t spk__mm3_long(uint64_t v, uint32_t seed) {
    uint32_t h = spk__mm3_h(seed, spk__mm3_k((uint32_t)v));
    return spk__mm3_final(spk__mm3_h(h, spk__mm3_k((uint32_t)(v >> 32))), 8);
}

static uint32_t spk__mm3_bytes(const char *s, size_t len, uint32_t seed) {
    const unsigned char *b = (const unsigned char *)s;
    size_t aligned = len - len % 4;
    uint32_t h = seed;
    for (size_t i = 0; i < aligned; i += 4) /* little-endian blocks, as Spark on x86 and ARM */
        h = spk__mm3_h(h, spk__mm3_k((uint32_t)b[i] | (uint32_t)b[i + 1] << 8 | (uint32_t)b[i + 2] << 16 |
                                     (uint32_t)b[i + 3] << 24));
    for (size_t i = aligned; i < len; i++) /* Spark: one sign-extended byte per block */
        h = spk__mm3_h(h, spk__mm3_k(b[i] < 0x80 ? b[i] : (uint32_t)b[i] | 0xFFFFFF00u));
    return spk__mm3_final(h, (uint32_t)len);
}

static void spk__k_hash(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                        const uint32_t *sel, uint32_t n) {
    (void)ev;
    int na = node->nargs;
    SPK__FOR_ROWS(sel, n, {
        uint32_t h = 42;
        for (int a = 0; a < na; a++) {
            const spk__vec *v = args[a];
            if (v->nulls[i]) continue;
            switch (v->type.id) {
            case SPK_TYPE_BOOLEAN: h = spk__mm3_int(v->v.b[i] ? 1 : 0, h); break;
            case SPK_TYPE_INT32:
            case SPK_TYPE_DATE: h = spk__mm3_int((uint32_t)v->v.i32[i], h); break;
            case SPK_TYPE_DOUBLE: {
                double d = v->v.f64[i];
                uint64_t bits = 0x7ff8000000000000ULL; /* Java's canonical NaN */
                if (d == 0) bits = 0;
                else if (!isnan(d)) memcpy(&bits, &d, sizeof bits);
                h = spk__mm3_long(bits, h);
                break;
            }
            case SPK_TYPE_STRING: h = spk__mm3_bytes(v->v.str[i].ptr, v->v.str[i].len, h); break;
            case SPK_TYPE_NULL:
            case SPK_TYPE_COUNT: break;
            default: h = spk__mm3_long((uint64_t)v->v.i64[i], h); break; /* INT64, DECIMAL, TIMESTAMP */
            }
        }
        out->v.i32[i] = (int32_t)h;
        out->nulls[i] = 0;
    });
}

static spk_status spk__bind_hash(spk__bnode *node) {
    node->type = spk_type_of(SPK_TYPE_INT32);
    node->nullable = false;
    node->kernel = spk__k_hash;
    return SPK_OK;
}

/* ---------------------------------------------------------------- aggregates
 * States are plain bytes; strings a state keeps (min, max, first, last) are
 * copied into memory the state owns, released by destroy. */

typedef struct spk__held_value { /* an spk_value whose string bytes the state owns */
    spk_value v;
    char *bytes;
    size_t cap;
} spk__held_value;

static spk_status spk__hold(spk__held_value *h, const spk_value *v) {
    h->v = *v;
    if (v->is_null || v->type.id != SPK_TYPE_STRING) return SPK_OK;
    if (h->cap < v->as.str.len) {
        size_t cap = v->as.str.len < 16 ? 16 : v->as.str.len;
        char *p = (char *)spk__realloc(&spk__default_allocator, h->bytes, h->cap, cap);
        if (!p) return spk__nomem("an aggregate's string", cap);
        h->bytes = p;
        h->cap = cap;
    }
    if (v->as.str.len) memcpy(h->bytes, v->as.str.ptr, v->as.str.len);
    h->v.as.str.ptr = h->bytes;
    return SPK_OK;
}

static void spk__held_free(spk__held_value *h) {
    if (h->bytes) spk__free(&spk__default_allocator, h->bytes, h->cap);
    h->bytes = NULL;
    h->cap = 0;
}

#define SPK__STATE(states, stride, groups, i) ((states) + (size_t)((groups) ? (groups)[i] : 0) * (stride))

/* -- count */
static void spk__count_init(void *s) { *(int64_t *)s = 0; }
static spk_status spk__count_update(const spk__bnode *node, char *states, const uint32_t *groups, const spk__vec *arg,
                                    const uint32_t *sel, uint32_t n) {
    size_t stride = node->agg->state_size;
    const uint8_t *nulls = arg->nulls;
    SPK__FOR_ROWS(sel, n, *(int64_t *)(void *)SPK__STATE(states, stride, groups, i) += !nulls[i]);
    return SPK_OK;
}
static spk_status spk__count_merge(const spk__bnode *node, void *into, const void *from) {
    (void)node;
    *(int64_t *)into += *(const int64_t *)from;
    return SPK_OK;
}
static void spk__count_final(const spk__bnode *node, const void *s, spk__vec *out, uint32_t row) {
    (void)node;
    out->nulls[row] = 0;
    out->v.i64[row] = *(const int64_t *)s;
}
static const spk__agg_ops spk__agg_count = {sizeof(int64_t), spk__count_init, spk__count_update,
                                            spk__count_merge, spk__count_final, NULL};

/* -- count(DISTINCT x): a set of value hashes with the values themselves */
typedef struct spk__distinct_set {
    spk__held_value *slots; /* open addressing; v.type.id SPK_TYPE_COUNT marks empty */
    uint64_t *hashes;
    size_t cap, count;
} spk__distinct_set;

static void spk__distinct_init(void *s) { memset(s, 0, sizeof(spk__distinct_set *)); }

static void spk__distinct_destroy(const spk__bnode *node, void *s) {
    (void)node;
    spk__distinct_set *set = *(spk__distinct_set **)s;
    if (!set) return;
    for (size_t i = 0; i < set->cap; i++) spk__held_free(&set->slots[i]);
    spk__free(&spk__default_allocator, set->slots, set->cap * sizeof *set->slots);
    spk__free(&spk__default_allocator, set->hashes, set->cap * sizeof *set->hashes);
    spk__free(&spk__default_allocator, set, sizeof *set);
    *(spk__distinct_set **)s = NULL;
}

static spk_status spk__distinct_grow(spk__distinct_set *set) {
    size_t cap = set->cap ? set->cap * 2 : 16;
    spk__held_value *slots = (spk__held_value *)spk__calloc(&spk__default_allocator, cap * sizeof *slots);
    uint64_t *hashes = slots ? (uint64_t *)spk__alloc(&spk__default_allocator, cap * sizeof *hashes) : NULL;
    if (!hashes) {
        spk__free(&spk__default_allocator, slots, cap * sizeof *slots);
        return spk__nomem("a distinct set", cap * (sizeof *slots + sizeof *hashes));
    }
    for (size_t i = 0; i < cap; i++) slots[i].v.type.id = SPK_TYPE_COUNT;
    for (size_t i = 0; i < set->cap; i++) {
        if (set->slots[i].v.type.id == SPK_TYPE_COUNT) continue;
        size_t at = set->hashes[i] & (cap - 1);
        while (slots[at].v.type.id != SPK_TYPE_COUNT) at = (at + 1) & (cap - 1);
        slots[at] = set->slots[i];
        hashes[at] = set->hashes[i];
    }
    spk__free(&spk__default_allocator, set->slots, set->cap * sizeof *set->slots);
    spk__free(&spk__default_allocator, set->hashes, set->cap * sizeof *set->hashes);
    set->slots = slots;
    set->hashes = hashes;
    set->cap = cap;
    return SPK_OK;
}

static spk_status spk__distinct_add(void *s, const spk_value *v) {
    spk__distinct_set *set = *(spk__distinct_set **)s;
    if (!set) {
        set = (spk__distinct_set *)spk__calloc(&spk__default_allocator, sizeof *set);
        if (!set) return spk__nomem("a distinct set", sizeof *set);
        *(spk__distinct_set **)s = set;
    }
    if ((set->count + 1) * 4 > set->cap * 3) {
        spk_status st = spk__distinct_grow(set);
        if (st != SPK_OK) return st;
    }
    uint64_t h = spk_value_hash(v, 0);
    size_t at = h & (set->cap - 1);
    while (set->slots[at].v.type.id != SPK_TYPE_COUNT) {
        if (set->hashes[at] == h && spk_value_equal(&set->slots[at].v, v)) return SPK_OK;
        at = (at + 1) & (set->cap - 1);
    }
    spk__held_value held = {spk_value_null(), NULL, 0};
    spk_status st = spk__hold(&held, v);
    if (st != SPK_OK) return st;
    set->slots[at] = held;
    set->hashes[at] = h;
    set->count++;
    return SPK_OK;
}

static spk_status spk__distinct_update(const spk__bnode *node, char *states, const uint32_t *groups, const spk__vec *arg,
                                       const uint32_t *sel, uint32_t n) {
    size_t stride = node->agg->state_size;
    spk_status st = SPK_OK;
    SPK__FOR_ROWS(sel, n, {
        if (!arg->nulls[i] && st == SPK_OK) {
            spk_value v = spk__vec_get(arg, i);
            st = spk__distinct_add(SPK__STATE(states, stride, groups, i), &v);
        }
    });
    return st;
}

static spk_status spk__distinct_merge(const spk__bnode *node, void *into, const void *from) {
    (void)node;
    const spk__distinct_set *src = *(spk__distinct_set *const *)from;
    spk_status st = SPK_OK;
    for (size_t i = 0; src && i < src->cap && st == SPK_OK; i++)
        if (src->slots[i].v.type.id != SPK_TYPE_COUNT) st = spk__distinct_add(into, &src->slots[i].v);
    return st;
}

static void spk__distinct_final(const spk__bnode *node, const void *s, spk__vec *out, uint32_t row) {
    (void)node;
    const spk__distinct_set *set = *(spk__distinct_set *const *)s;
    out->nulls[row] = 0;
    out->v.i64[row] = set ? (int64_t)set->count : 0;
}

static const spk__agg_ops spk__agg_count_distinct = {sizeof(spk__distinct_set *), spk__distinct_init,
                                                     spk__distinct_update, spk__distinct_merge,
                                                     spk__distinct_final, spk__distinct_destroy};

static spk_status spk__bind_count(spk__bnode *node) {
    node->type = spk_type_of(SPK_TYPE_INT64);
    node->nullable = false;
    node->agg = node->distinct ? &spk__agg_count_distinct : &spk__agg_count;
    return SPK_OK;
}

/* -- sum and avg: integers wrap (Spark's long arithmetic), doubles add in
 * row order within a morsel and then morsel by morsel (exec.c), decimals
 * add exactly and give NULL when the result overflows. */
typedef struct spk__sum_state {
    int64_t count;  /* non-NULL inputs */
    int64_t i;      /* INT64 and DECIMAL sums (DECIMAL: at the input's scale) */
    double d;
    bool overflow;  /* DECIMAL sum left the int64 range */
} spk__sum_state;

static void spk__sum_init(void *s) { memset(s, 0, sizeof(spk__sum_state)); }

static spk_status spk__sum_update(const spk__bnode *node, char *states, const uint32_t *groups, const spk__vec *arg,
                                  const uint32_t *sel, uint32_t n) {
    size_t stride = node->agg->state_size;
    const uint8_t *nulls = arg->nulls;
    switch (arg->type.id) {
    case SPK_TYPE_INT32: {
        const int32_t *x = arg->v.i32;
        SPK__FOR_ROWS(sel, n, if (!nulls[i]) {
            spk__sum_state *s = (spk__sum_state *)(void *)SPK__STATE(states, stride, groups, i);
            s->i = (int64_t)((uint64_t)s->i + (uint64_t)(int64_t)x[i]);
            s->count++;
        });
        break;
    }
    case SPK_TYPE_DOUBLE: {
        const double *x = arg->v.f64;
        SPK__FOR_ROWS(sel, n, if (!nulls[i]) {
            spk__sum_state *s = (spk__sum_state *)(void *)SPK__STATE(states, stride, groups, i);
            s->d += x[i];
            s->count++;
        });
        break;
    }
    case SPK_TYPE_DECIMAL: {
        const int64_t *x = arg->v.i64;
        SPK__FOR_ROWS(sel, n, if (!nulls[i]) {
            spk__sum_state *s = (spk__sum_state *)(void *)SPK__STATE(states, stride, groups, i);
            int64_t r;
            if (spk__add_overflow_i64(s->i, x[i], &r)) s->overflow = true;
            s->i = r;
            s->count++;
        });
        break;
    }
    default: { /* INT64 */
        const int64_t *x = arg->v.i64;
        SPK__FOR_ROWS(sel, n, if (!nulls[i]) {
            spk__sum_state *s = (spk__sum_state *)(void *)SPK__STATE(states, stride, groups, i);
            s->i = (int64_t)((uint64_t)s->i + (uint64_t)x[i]);
            s->count++;
        });
        break;
    }
    }
    return SPK_OK;
}

static spk_status spk__sum_merge(const spk__bnode *node, void *into, const void *from) {
    spk__sum_state *a = (spk__sum_state *)into;
    const spk__sum_state *b = (const spk__sum_state *)from;
    a->count += b->count;
    a->d += b->d;
    if (node->args[0]->type.id == SPK_TYPE_DECIMAL) {
        int64_t r;
        if (spk__add_overflow_i64(a->i, b->i, &r)) a->overflow = true;
        a->i = r;
        a->overflow |= b->overflow;
    } else {
        a->i = (int64_t)((uint64_t)a->i + (uint64_t)b->i);
    }
    return SPK_OK;
}

static void spk__sum_final(const spk__bnode *node, const void *st, spk__vec *out, uint32_t row) {
    const spk__sum_state *s = (const spk__sum_state *)st;
    out->nulls[row] = s->count == 0;
    if (out->type.id == SPK_TYPE_DOUBLE) out->v.f64[row] = s->d;
    else if (out->type.id == SPK_TYPE_DECIMAL)
        out->nulls[row] |= s->overflow || s->i >= spk__pow10[out->type.precision] ||
                           s->i <= -spk__pow10[out->type.precision];
    if (out->type.id != SPK_TYPE_DOUBLE) out->v.i64[row] = s->i;
    (void)node;
}

static const spk__agg_ops spk__agg_sum = {sizeof(spk__sum_state), spk__sum_init, spk__sum_update,
                                          spk__sum_merge, spk__sum_final, NULL};

static spk_status spk__bind_sum(spk__bnode *node) {
    spk_status st = spk__fn_numeric_arg(node, 0);
    spk_type t = node->args[0]->type;
    if (t.id == SPK_TYPE_INT32 || t.id == SPK_TYPE_INT64) node->type = spk_type_of(SPK_TYPE_INT64);
    else if (t.id == SPK_TYPE_DECIMAL) node->type = spk__decimal_bounded(t.precision + 10, t.scale);
    else node->type = spk_type_of(SPK_TYPE_DOUBLE);
    node->agg = &spk__agg_sum;
    return st;
}

/* avg: DOUBLE, or for DECIMAL(p,s) Spark's DECIMAL(p+4, s+4), rounded half-up. */
static void spk__avg_final(const spk__bnode *node, const void *st, spk__vec *out, uint32_t row) {
    const spk__sum_state *s = (const spk__sum_state *)st;
    out->nulls[row] = s->count == 0;
    if (s->count == 0) return;
    spk_type in = node->args[0]->type;
    if (out->type.id == SPK_TYPE_DOUBLE) {
        double sum = in.id == SPK_TYPE_DOUBLE ? s->d : (double)s->i;
        out->v.f64[row] = sum / (double)s->count;
        return;
    }
    int64_t q;
    if (s->overflow || !spk__decimal_div_round(s->i, in.scale, s->count, 0, out->type.scale, out->type.precision, &q))
        out->nulls[row] = 1;
    else
        out->v.i64[row] = q;
}

static const spk__agg_ops spk__agg_avg = {sizeof(spk__sum_state), spk__sum_init, spk__sum_update,
                                          spk__sum_merge, spk__avg_final, NULL};

static spk_status spk__bind_avg(spk__bnode *node) {
    spk_status st = spk__fn_numeric_arg(node, 0);
    spk_type t = node->args[0]->type;
    node->type = t.id == SPK_TYPE_DECIMAL ? spk__decimal_bounded(t.precision + 4, t.scale + 4)
                                          : spk_type_of(SPK_TYPE_DOUBLE);
    node->agg = &spk__agg_avg;
    return st;
}

/* -- min, max, first, last: a held value */
typedef struct spk__pick_state {
    bool set;
    spk__held_value held;
} spk__pick_state;

static void spk__pick_init(void *s) { memset(s, 0, sizeof(spk__pick_state)); }
static void spk__pick_destroy(const spk__bnode *node, void *s) {
    (void)node;
    spk__held_free(&((spk__pick_state *)s)->held);
}

/* iarg: 1 min, 2 max, 3 first, 4 last. */
static spk_status spk__pick_offer(const spk__bnode *node, spk__pick_state *s, const spk_value *v) {
    int64_t kind = node->iarg;
    bool take;
    if (kind == 3) take = !s->set;
    else if (kind == 4) take = true;
    else if (v->is_null) take = false; /* min/max ignore NULLs */
    else if (!s->set) take = true;
    else {
        int c = spk_value_compare(v, &s->held.v, true);
        take = kind == 1 ? c < 0 : c > 0;
    }
    if (!take) return SPK_OK;
    s->set = true;
    return spk__hold(&s->held, v);
}

static spk_status spk__pick_update(const spk__bnode *node, char *states, const uint32_t *groups, const spk__vec *arg,
                                   const uint32_t *sel, uint32_t n) {
    size_t stride = node->agg->state_size;
    spk_status st = SPK_OK;
    SPK__FOR_ROWS(sel, n, if (st == SPK_OK) {
        spk_value v = spk__vec_get(arg, i);
        st = spk__pick_offer(node, (spk__pick_state *)(void *)SPK__STATE(states, stride, groups, i), &v);
    });
    return st;
}

static spk_status spk__pick_merge(const spk__bnode *node, void *into, const void *from) {
    const spk__pick_state *b = (const spk__pick_state *)from;
    return b->set ? spk__pick_offer(node, (spk__pick_state *)into, &b->held.v) : SPK_OK;
}

static void spk__pick_final(const spk__bnode *node, const void *st, spk__vec *out, uint32_t row) {
    (void)node;
    const spk__pick_state *s = (const spk__pick_state *)st;
    spk_value v = s->set ? s->held.v : spk_value_null_of(out->type);
    spk__vec_set(out, row, &v); /* the string stays owned by the state until destroy */
}

static const spk__agg_ops spk__agg_pick = {sizeof(spk__pick_state), spk__pick_init, spk__pick_update,
                                           spk__pick_merge, spk__pick_final, spk__pick_destroy};

static spk_status spk__bind_pick(spk__bnode *node, int kind) {
    node->type = node->args[0]->type;
    node->agg = &spk__agg_pick;
    node->iarg = kind;
    return SPK_OK;
}
static spk_status spk__bind_min(spk__bnode *node) { return spk__bind_pick(node, 1); }
static spk_status spk__bind_max(spk__bnode *node) { return spk__bind_pick(node, 2); }
static spk_status spk__bind_first(spk__bnode *node) { return spk__bind_pick(node, 3); }
static spk_status spk__bind_last(spk__bnode *node) { return spk__bind_pick(node, 4); }

/* -- variance family: Welford's running mean and squared deviations, merged
 * with Chan's formula. iarg: 1 var_samp, 2 var_pop, 3 stddev_samp, 4 stddev_pop.
 * A sample statistic of one row is NULL (Spark 3 default); of none, NULL. */
typedef struct spk__moments {
    double n, mean, m2;
} spk__moments;

static void spk__moments_init(void *s) { memset(s, 0, sizeof(spk__moments)); }

static spk_status spk__moments_update(const spk__bnode *node, char *states, const uint32_t *groups, const spk__vec *arg,
                                      const uint32_t *sel, uint32_t n) {
    size_t stride = node->agg->state_size;
    const double *x = arg->v.f64;
    const uint8_t *nulls = arg->nulls;
    SPK__FOR_ROWS(sel, n, if (!nulls[i]) {
        spk__moments *m = (spk__moments *)(void *)SPK__STATE(states, stride, groups, i);
        m->n += 1;
        double delta = x[i] - m->mean;
        m->mean += delta / m->n;
        m->m2 += delta * (x[i] - m->mean);
    });
    return SPK_OK;
}

static spk_status spk__moments_merge(const spk__bnode *node, void *into, const void *from) {
    (void)node;
    spk__moments *a = (spk__moments *)into;
    const spk__moments *b = (const spk__moments *)from;
    if (b->n == 0) return SPK_OK;
    if (a->n == 0) {
        *a = *b;
        return SPK_OK;
    }
    double n = a->n + b->n, delta = b->mean - a->mean;
    a->m2 += b->m2 + delta * delta * a->n * b->n / n;
    a->mean += delta * b->n / n;
    a->n = n;
    return SPK_OK;
}

static void spk__moments_final(const spk__bnode *node, const void *st, spk__vec *out, uint32_t row) {
    const spk__moments *m = (const spk__moments *)st;
    int64_t kind = node->iarg;
    bool sample = kind == 1 || kind == 3;
    double denom = sample ? m->n - 1 : m->n;
    out->nulls[row] = denom <= 0;
    double var = denom > 0 ? m->m2 / denom : 0;
    out->v.f64[row] = kind >= 3 ? sqrt(var) : var;
}

static const spk__agg_ops spk__agg_moments = {sizeof(spk__moments), spk__moments_init, spk__moments_update,
                                              spk__moments_merge, spk__moments_final, NULL};

static spk_status spk__bind_moments(spk__bnode *node, int kind) {
    spk_status st = spk__fn_arg(node, 0, spk_type_of(SPK_TYPE_DOUBLE));
    node->type = spk_type_of(SPK_TYPE_DOUBLE);
    node->agg = &spk__agg_moments;
    node->iarg = kind;
    return st;
}
static spk_status spk__bind_var_samp(spk__bnode *node) { return spk__bind_moments(node, 1); }
static spk_status spk__bind_var_pop(spk__bnode *node) { return spk__bind_moments(node, 2); }
static spk_status spk__bind_stddev_samp(spk__bnode *node) { return spk__bind_moments(node, 3); }
static spk_status spk__bind_stddev_pop(spk__bnode *node) { return spk__bind_moments(node, 4); }

/* ---------------------------------------------------------------- the registry */

static const spk__func spk__functions[] = {
    /* aggregates */
    {"count", 1, 1, spk__bind_count, true},
    {"sum", 1, 1, spk__bind_sum, true},
    {"avg", 1, 1, spk__bind_avg, true},
    {"mean", 1, 1, spk__bind_avg, true},
    {"min", 1, 1, spk__bind_min, true},
    {"max", 1, 1, spk__bind_max, true},
    {"first", 1, 1, spk__bind_first, true},
    {"last", 1, 1, spk__bind_last, true},
    {"stddev", 1, 1, spk__bind_stddev_samp, true},
    {"stddev_samp", 1, 1, spk__bind_stddev_samp, true},
    {"stddev_pop", 1, 1, spk__bind_stddev_pop, true},
    {"variance", 1, 1, spk__bind_var_samp, true},
    {"var_samp", 1, 1, spk__bind_var_samp, true},
    {"var_pop", 1, 1, spk__bind_var_pop, true},
    /* strings */
    {"length", 1, 1, spk__bind_length, false},
    {"char_length", 1, 1, spk__bind_length, false},
    {"character_length", 1, 1, spk__bind_length, false},
    {"len", 1, 1, spk__bind_length, false},
    {"upper", 1, 1, spk__bind_upper, false},
    {"ucase", 1, 1, spk__bind_upper, false},
    {"lower", 1, 1, spk__bind_lower, false},
    {"lcase", 1, 1, spk__bind_lower, false},
    {"concat", 1, -1, spk__bind_concat, false},
    {"concat_ws", 1, -1, spk__bind_concat_ws, false},
    {"trim", 1, 1, spk__bind_trim, false},
    {"ltrim", 1, 1, spk__bind_ltrim, false},
    {"rtrim", 1, 1, spk__bind_rtrim, false},
    {"substring", 2, 3, spk__bind_substring, false},
    {"substr", 2, 3, spk__bind_substring, false},
    {"replace", 2, 3, spk__bind_replace, false},
    {"instr", 2, 2, spk__bind_instr, false},
    {"locate", 2, 3, spk__bind_locate, false},
    {"position", 2, 3, spk__bind_locate, false},
    {"lpad", 2, 3, spk__bind_lpad, false},
    {"rpad", 2, 3, spk__bind_rpad, false},
    {"startswith", 2, 2, spk__bind_startswith, false},
    {"endswith", 2, 2, spk__bind_endswith, false},
    {"contains", 2, 2, spk__bind_contains, false},
    {"reverse", 1, 1, spk__bind_reverse, false},
    {"initcap", 1, 1, spk__bind_initcap, false},
    {"regexp_extract", 2, 3, spk__bind_regexp_extract, false},
    {"regexp_replace", 3, 4, spk__bind_regexp_replace, false},
    /* null handling and conditionals */
    {"coalesce", 1, -1, spk__bind_coalesce, false},
    {"nvl", 2, 2, spk__bind_nvl, false},
    {"ifnull", 2, 2, spk__bind_nvl, false},
    {"nvl2", 3, 3, spk__bind_nvl2, false},
    {"nullif", 2, 2, spk__bind_nullif, false},
    {"if", 3, 3, spk__bind_if, false},
    {"isnull", 1, 1, spk__bind_isnull, false},
    {"isnotnull", 1, 1, spk__bind_isnotnull, false},
    {"nanvl", 2, 2, spk__bind_nanvl, false},
    /* math */
    {"abs", 1, 1, spk__bind_abs, false},
    {"sqrt", 1, 1, spk__bind_sqrt, false},
    {"cbrt", 1, 1, spk__bind_cbrt, false},
    {"exp", 1, 1, spk__bind_exp, false},
    {"ln", 1, 1, spk__bind_ln, false},
    {"log", 1, 2, spk__bind_log, false},
    {"log10", 1, 1, spk__bind_log10, false},
    {"log2", 1, 1, spk__bind_log2, false},
    {"pow", 2, 2, spk__bind_pow, false},
    {"power", 2, 2, spk__bind_pow, false},
    {"round", 1, 2, spk__bind_round, false},
    {"bround", 1, 2, spk__bind_bround, false},
    {"floor", 1, 1, spk__bind_floor, false},
    {"ceil", 1, 1, spk__bind_ceil, false},
    {"ceiling", 1, 1, spk__bind_ceil, false},
    {"signum", 1, 1, spk__bind_signum, false},
    {"sign", 1, 1, spk__bind_signum, false},
    {"greatest", 2, -1, spk__bind_greatest, false},
    {"least", 2, -1, spk__bind_least, false},
    {"pmod", 2, 2, spk__bind_pmod, false},
    {"hash", 1, -1, spk__bind_hash, false},
    /* dates and times */
    {"year", 1, 1, spk__bind_year, false},
    {"month", 1, 1, spk__bind_month, false},
    {"dayofmonth", 1, 1, spk__bind_dayofmonth, false},
    {"day", 1, 1, spk__bind_dayofmonth, false},
    {"dayofweek", 1, 1, spk__bind_dayofweek, false},
    {"weekday", 1, 1, spk__bind_weekday, false},
    {"dayofyear", 1, 1, spk__bind_dayofyear, false},
    {"quarter", 1, 1, spk__bind_quarter, false},
    {"weekofyear", 1, 1, spk__bind_weekofyear, false},
    {"hour", 1, 1, spk__bind_hour, false},
    {"minute", 1, 1, spk__bind_minute, false},
    {"second", 1, 1, spk__bind_second, false},
    {"last_day", 1, 1, spk__bind_last_day, false},
    {"date_add", 2, 2, spk__bind_date_add, false},
    {"date_sub", 2, 2, spk__bind_date_sub, false},
    {"add_months", 2, 2, spk__bind_add_months, false},
    {"datediff", 2, 2, spk__bind_datediff, false},
    {"months_between", 2, 3, spk__bind_months_between, false},
    {"to_date", 1, 2, spk__bind_to_date, false},
    {"to_timestamp", 1, 2, spk__bind_to_timestamp, false},
    {"date_format", 2, 2, spk__bind_date_format, false},
    {"date_trunc", 2, 2, spk__bind_date_trunc, false},
    {"trunc", 2, 2, spk__bind_trunc, false},
};
static const spk__func *spk__func_find(const char *name) {
    for (size_t i = 0; i < sizeof spk__functions / sizeof spk__functions[0]; i++)
        if (spk__name_eq(spk__functions[i].name, name, false)) return &spk__functions[i];
    return NULL;
}

/* "[UNRESOLVED_ROUTINE] ..." with the closest known names. */
static spk_status spk__unknown_function(const char *name) {
    enum { N = sizeof spk__functions / sizeof spk__functions[0] };
    const char *names[N];
    for (int i = 0; i < N; i++) names[i] = spk__functions[i].name;
    spk__fail(SPK_ERR_NOT_FOUND, "[UNRESOLVED_ROUTINE] Cannot resolve function `%s`.", name);
    spk__fail_suggest(name, names, N);
    return SPK_ERR_NOT_FOUND;
}

/* ---- src/eval.c ---- */
/* eval: the binder (names to columns, Spark's coercion rules, constant
 * folding), the operator kernels, and the vectorised evaluator. */

struct spk_bound {
    spk__bnode *root;
    spk_schema *schema;
    int nslots;     /* vectors an evaluation needs */
    int *col_slot;  /* per input column: its slot, or -1 if unused */
    bool aggregate;
    char *name;
};

/* ---------------------------------------------------------------- operator kernels */

static void spk__k_arith(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                         const uint32_t *sel, uint32_t n) {
    (void)ev;
    const spk__vec *va = args[0], *vb = args[1];
    spk__op op = (spk__op)node->iarg;
    spk__nulls_or(out, va, vb, sel, n);
    uint8_t *on = out->nulls;
    switch (out->type.id) {
    case SPK_TYPE_INT32: {
        const int32_t *a = va->v.i32, *b = vb->v.i32;
        int32_t *o = out->v.i32;
        /* Wrapping arithmetic through unsigned, as Java's int. */
        if (op == SPK__OP_ADD) SPK__FOR_ROWS(sel, n, o[i] = (int32_t)((uint32_t)a[i] + (uint32_t)b[i]));
        else if (op == SPK__OP_SUB) SPK__FOR_ROWS(sel, n, o[i] = (int32_t)((uint32_t)a[i] - (uint32_t)b[i]));
        else if (op == SPK__OP_MUL) SPK__FOR_ROWS(sel, n, o[i] = (int32_t)((uint32_t)a[i] * (uint32_t)b[i]));
        else SPK__FOR_ROWS(sel, n, { /* MOD: x % 0 is NULL; x % -1 is 0 (avoids INT_MIN % -1) */
            on[i] |= b[i] == 0;
            o[i] = (b[i] == 0 || b[i] == -1) ? 0 : a[i] % b[i];
        });
        break;
    }
    case SPK_TYPE_INT64: {
        const int64_t *a = va->v.i64, *b = vb->v.i64;
        int64_t *o = out->v.i64;
        if (op == SPK__OP_ADD) SPK__FOR_ROWS(sel, n, o[i] = (int64_t)((uint64_t)a[i] + (uint64_t)b[i]));
        else if (op == SPK__OP_SUB) SPK__FOR_ROWS(sel, n, o[i] = (int64_t)((uint64_t)a[i] - (uint64_t)b[i]));
        else if (op == SPK__OP_MUL) SPK__FOR_ROWS(sel, n, o[i] = (int64_t)((uint64_t)a[i] * (uint64_t)b[i]));
        else if (op == SPK__OP_INTDIV) SPK__FOR_ROWS(sel, n, {
            on[i] |= b[i] == 0;
            o[i] = b[i] == 0 ? 0 : b[i] == -1 ? (int64_t)(0 - (uint64_t)a[i]) : a[i] / b[i];
        });
        else SPK__FOR_ROWS(sel, n, {
            on[i] |= b[i] == 0;
            o[i] = (b[i] == 0 || b[i] == -1) ? 0 : a[i] % b[i];
        });
        break;
    }
    case SPK_TYPE_DOUBLE: {
        const double *a = va->v.f64, *b = vb->v.f64;
        double *o = out->v.f64;
        if (op == SPK__OP_ADD) SPK__FOR_ROWS(sel, n, o[i] = a[i] + b[i]);
        else if (op == SPK__OP_SUB) SPK__FOR_ROWS(sel, n, o[i] = a[i] - b[i]);
        else if (op == SPK__OP_MUL) SPK__FOR_ROWS(sel, n, o[i] = a[i] * b[i]);
        else if (op == SPK__OP_DIV) SPK__FOR_ROWS(sel, n, { /* x / 0 is NULL in Spark */
            on[i] |= b[i] == 0;
            o[i] = b[i] == 0 ? 0 : a[i] / b[i];
        });
        else SPK__FOR_ROWS(sel, n, {
            on[i] |= b[i] == 0;
            o[i] = b[i] == 0 ? 0 : fmod(a[i], b[i]);
        });
        break;
    }
    case SPK_TYPE_DECIMAL: {
        const int64_t *a = va->v.i64, *b = vb->v.i64;
        int64_t *o = out->v.i64;
        int sa = va->type.scale, sb = vb->type.scale, s = out->type.scale, p = out->type.precision;
        int64_t limit = spk__pow10[p];
        /* Fast paths in int64 when no rounding is needed; a row that would
         * overflow int64 takes the exact 128-bit path. */
        int ia = va->type.precision - sa, ib = vb->type.precision - sb;
        if ((op == SPK__OP_ADD || op == SPK__OP_SUB) && s == (sa > sb ? sa : sb) && (ia > ib ? ia : ib) + s + 1 <= p) {
            /* The operands' types prove the result fits: plain arithmetic. */
            int64_t fa = spk__pow10[s - sa], fb = spk__pow10[s - sb] * (op == SPK__OP_SUB ? -1 : 1);
            /* unsigned: a NULL row may hold any bits, and must not overflow signed */
            SPK__FOR_ROWS(sel, n, o[i] = (int64_t)((uint64_t)a[i] * (uint64_t)fa + (uint64_t)b[i] * (uint64_t)fb));
            break;
        }
        if (op == SPK__OP_MUL && s == sa + sb && va->type.precision + vb->type.precision <= p) {
            SPK__FOR_ROWS(sel, n, o[i] = (int64_t)((uint64_t)a[i] * (uint64_t)b[i]));
            break;
        }
        if ((op == SPK__OP_ADD || op == SPK__OP_SUB) && s == (sa > sb ? sa : sb)) {
            int64_t fa = spk__pow10[s - sa], fb = spk__pow10[s - sb], sign = op == SPK__OP_SUB ? -1 : 1;
            SPK__FOR_ROWS(sel, n, {
                int64_t x, y, r;
                if (spk__mul_overflow_i64(a[i], fa, &x) || spk__mul_overflow_i64(b[i], fb * sign, &y) ||
                    spk__add_overflow_i64(x, y, &r))
                    on[i] |= !spk__decimal_add_sub(a[i], sa, b[i], sb, op == SPK__OP_SUB, s, p, &r);
                else
                    on[i] |= r >= limit || r <= -limit;
                o[i] = r;
            });
            break;
        }
        if (op == SPK__OP_MUL && s == sa + sb) {
            SPK__FOR_ROWS(sel, n, {
                int64_t r;
                bool overflow = spk__mul_overflow_i64(a[i], b[i], &r);
                on[i] |= (uint8_t)(overflow | (r >= limit) | (r <= -limit));
                o[i] = r;
            });
            break;
        }
        switch (op) {
        case SPK__OP_ADD: SPK__FOR_ROWS(sel, n, on[i] |= !spk__decimal_add_sub(a[i], sa, b[i], sb, false, s, p, &o[i])); break;
        case SPK__OP_SUB: SPK__FOR_ROWS(sel, n, on[i] |= !spk__decimal_add_sub(a[i], sa, b[i], sb, true, s, p, &o[i])); break;
        case SPK__OP_MUL: SPK__FOR_ROWS(sel, n, on[i] |= !spk__decimal_mul(a[i], sa, b[i], sb, s, p, &o[i])); break;
        case SPK__OP_DIV: SPK__FOR_ROWS(sel, n, on[i] |= !spk__decimal_div_round(a[i], sa, b[i], sb, s, p, &o[i])); break;
        default: SPK__FOR_ROWS(sel, n, on[i] |= !spk__decimal_mod(a[i], sa, b[i], sb, s, p, &o[i])); break;
        }
        break;
    }
    default: break;
    }
}

/* a div b for DOUBLE inputs: the truncated quotient as BIGINT. */
static void spk__k_intdiv_double(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                                 const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    const double *a = args[0]->v.f64, *b = args[1]->v.f64;
    int64_t *o = out->v.i64;
    uint8_t *on = out->nulls;
    spk__nulls_or(out, args[0], args[1], sel, n);
    SPK__FOR_ROWS(sel, n, {
        on[i] |= b[i] == 0;
        o[i] = b[i] == 0 ? 0 : spk__double_to_int64(trunc(a[i] / b[i]));
    });
}

static void spk__k_neg(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                       const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    const spk__vec *a = args[0];
    if (out->type.id == SPK_TYPE_INT32) {
        const int32_t *x = a->v.i32;
        int32_t *o = out->v.i32;
        SPK__FOR_ROWS(sel, n, o[i] = (int32_t)(0u - (uint32_t)x[i]));
    } else if (out->type.id == SPK_TYPE_DOUBLE) {
        const double *x = a->v.f64;
        double *o = out->v.f64;
        SPK__FOR_ROWS(sel, n, o[i] = -x[i]);
    } else {
        const int64_t *x = a->v.i64;
        int64_t *o = out->v.i64;
        SPK__FOR_ROWS(sel, n, o[i] = (int64_t)(0 - (uint64_t)x[i]));
    }
    spk__nulls_copy(out, a, sel, n);
}

/* Comparison result from c = sign(a - b). */
static uint8_t spk__cmp_result(spk__op op, int c) {
    switch (op) {
    case SPK__OP_EQ:
    case SPK__OP_EQ_NS: return c == 0;
    case SPK__OP_NE: return c != 0;
    case SPK__OP_LT: return c < 0;
    case SPK__OP_LE: return c <= 0;
    case SPK__OP_GT: return c > 0;
    default: return c >= 0;
    }
}

/* Direct comparisons for the integer layouts, so the common filters compile
 * to plain vector code; doubles follow Spark's NaN order; strings compare
 * their bytes without copying. */
#define SPK__CMP_LOOP(T, field)                                                                        \
    do {                                                                                               \
        const T *a = va->v.field, *b = vb->v.field;                                                    \
        switch (op) {                                                                                  \
        case SPK__OP_EQ: case SPK__OP_EQ_NS: SPK__FOR_ROWS(sel, n, o[i] = a[i] == b[i]); break;        \
        case SPK__OP_NE: SPK__FOR_ROWS(sel, n, o[i] = a[i] != b[i]); break;                            \
        case SPK__OP_LT: SPK__FOR_ROWS(sel, n, o[i] = a[i] < b[i]); break;                             \
        case SPK__OP_LE: SPK__FOR_ROWS(sel, n, o[i] = a[i] <= b[i]); break;                            \
        case SPK__OP_GT: SPK__FOR_ROWS(sel, n, o[i] = a[i] > b[i]); break;                             \
        default: SPK__FOR_ROWS(sel, n, o[i] = a[i] >= b[i]); break;                                    \
        }                                                                                              \
    } while (0)

static void spk__k_compare(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                           const uint32_t *sel, uint32_t n) {
    (void)ev;
    const spk__vec *va = args[0], *vb = args[1];
    spk__op op = (spk__op)node->iarg;
    uint8_t *o = out->v.b;
    switch (va->type.id) {
    case SPK_TYPE_BOOLEAN: SPK__CMP_LOOP(uint8_t, b); break;
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE: SPK__CMP_LOOP(int32_t, i32); break;
    case SPK_TYPE_DOUBLE: {
        const double *a = va->v.f64, *b = vb->v.f64;
        SPK__FOR_ROWS(sel, n, o[i] = spk__cmp_result(op, spk__cmp_f64(a[i], b[i])));
        break;
    }
    case SPK_TYPE_STRING: {
        const spk__str *a = va->v.str, *b = vb->v.str;
        SPK__FOR_ROWS(sel, n, o[i] = spk__cmp_result(op, spk__cmp_bytes(a[i].ptr, a[i].len, b[i].ptr, b[i].len)));
        break;
    }
    case SPK_TYPE_NULL: SPK__FOR_ROWS(sel, n, o[i] = 0); break;
    default: SPK__CMP_LOOP(int64_t, i64); break; /* INT64, DECIMAL at one scale, TIMESTAMP */
    }
    if (op == SPK__OP_EQ_NS) { /* never NULL: NULL <=> NULL is true, NULL <=> x false */
        const uint8_t *an = va->nulls, *bn = vb->nulls;
        uint8_t *on = out->nulls;
        SPK__FOR_ROWS(sel, n, {
            o[i] = (an[i] | bn[i]) ? (an[i] & bn[i]) : o[i];
            on[i] = 0;
        });
    } else {
        spk__nulls_or(out, va, vb, sel, n);
    }
}

static void spk__k_not(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                       const uint32_t *sel, uint32_t n) {
    (void)ev;
    (void)node;
    const uint8_t *x = args[0]->v.b;
    uint8_t *o = out->v.b;
    SPK__FOR_ROWS(sel, n, o[i] = !x[i]);
    spk__nulls_copy(out, args[0], sel, n);
}

static void spk__k_is_null(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                           const uint32_t *sel, uint32_t n) {
    (void)ev;
    const uint8_t *x = args[0]->nulls;
    uint8_t *o = out->v.b, *on = out->nulls;
    uint8_t want = node->iarg ? 1 : 0; /* iarg 1: IS NULL, 0: IS NOT NULL */
    SPK__FOR_ROWS(sel, n, {
        o[i] = x[i] == want;
        on[i] = 0;
    });
}

/* x IN (list): true if equal to an item; else NULL if x or an item is NULL; else false. */
static void spk__k_in(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                      const uint32_t *sel, uint32_t n) {
    (void)ev;
    int items = node->nargs - 1;
    const spk__vec *x = args[0];
    SPK__FOR_ROWS(sel, n, {
        uint8_t found = 0, unknown = x->nulls[i];
        if (!unknown) {
            spk_value xv = spk__vec_get(x, i);
            for (int k = 1; k <= items && !found; k++) {
                if (args[k]->nulls[i]) {
                    unknown = 1;
                    continue;
                }
                spk_value item = spk__vec_get(args[k], i);
                found = spk_value_compare(&xv, &item, true) == 0;
            }
        }
        out->v.b[i] = found;
        out->nulls[i] = !found && unknown;
    });
}

/* -- LIKE: % matches any run, _ one character, \ escapes the next one. */
typedef struct spk__like {
    char *pattern;
    size_t len;
} spk__like;

static size_t spk__utf8_step(const char *s, size_t len, size_t i) {
    size_t j = i + 1;
    while (j < len && ((unsigned char)s[j] & 0xC0) == 0x80) j++;
    return j;
}

static bool spk__like_match(const char *p, size_t pl, const char *s, size_t sl) {
    size_t pi = 0, si = 0, star_p = (size_t)-1, star_s = 0;
    while (si < sl) {
        if (pi < pl && p[pi] == '%') {
            star_p = ++pi;
            star_s = si;
            continue;
        }
        if (pi < pl) {
            if (p[pi] == '_') {
                pi++;
                si = spk__utf8_step(s, sl, si);
                continue;
            }
            char c = p[pi];
            size_t step = 1;
            if (c == '\\' && pi + 1 < pl) {
                c = p[pi + 1];
                step = 2;
            }
            if (c == s[si]) {
                pi += step;
                si++;
                continue;
            }
        }
        if (star_p == (size_t)-1) return false;
        pi = star_p; /* let the last % swallow one more character */
        si = star_s = spk__utf8_step(s, sl, star_s);
    }
    while (pi < pl && p[pi] == '%') pi++;
    return pi == pl;
}

static void spk__like_free(void *aux) {
    spk__like *l = (spk__like *)aux;
    spk__free(spk__bind_alloc(), l->pattern, l->len + 1);
    spk__free(spk__bind_alloc(), l, sizeof *l);
}

static void spk__k_like(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                        const uint32_t *sel, uint32_t n) {
    (void)ev;
    const spk__like *l = (const spk__like *)node->aux;
    const spk__str *x = args[0]->v.str;
    uint8_t *o = out->v.b;
    SPK__FOR_ROWS(sel, n, o[i] = spk__like_match(l->pattern, l->len, x[i].ptr, x[i].len));
    spk__nulls_copy(out, args[0], sel, n);
}

/* -- RLIKE: POSIX extended regular expressions from the C library. */
#if defined(__unix__) || defined(__APPLE__)
#define SPK__HAVE_REGEX 1 /* <regex.h> came with funcs */

static void spk__regex_free(void *aux) {
    regfree((regex_t *)aux);
    spk__free(spk__bind_alloc(), aux, sizeof(regex_t));
}

static void spk__k_rlike(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                         const uint32_t *sel, uint32_t n) {
    const regex_t *re = (const regex_t *)node->aux;
    const spk__str *x = args[0]->v.str;
    uint8_t *o = out->v.b;
    SPK__FOR_ROWS(sel, n, {
        char *text = spk__eval_strbuf(ev, x[i].len + 1); /* regexec wants a C string */
        o[i] = 0;
        if (text) {
            memcpy(text, x[i].ptr, x[i].len);
            text[x[i].len] = '\0';
            o[i] = regexec(re, text, 0, NULL, 0) == 0;
        }
    });
    spk__nulls_copy(out, args[0], sel, n);
}
#endif

/* -- date and timestamp plus an interval (aux: months, days, micros) */
typedef struct spk__interval {
    int32_t months, days;
    int64_t micros;
} spk__interval;

static void spk__interval_free(void *aux) { spk__free(spk__bind_alloc(), aux, sizeof(spk__interval)); }

static void spk__k_add_interval(spk__eval *ev, const spk__bnode *node, spk__vec *out, spk__vec *const *args,
                                const uint32_t *sel, uint32_t n) {
    (void)ev;
    const spk__interval *iv = (const spk__interval *)node->aux;
    if (out->type.id == SPK_TYPE_DATE) {
        const int32_t *d = args[0]->v.i32;
        int32_t *o = out->v.i32;
        SPK__FOR_ROWS(sel, n, o[i] = (int32_t)(uint32_t)((int64_t)spk__add_months(d[i], iv->months) + iv->days));
    } else {
        const int64_t *t = args[0]->v.i64;
        int64_t *o = out->v.i64;
        SPK__FOR_ROWS(sel, n, {
            int64_t day = spk__floor_div(t[i], SPK__MICROS_PER_DAY), tod = spk__floor_mod(t[i], SPK__MICROS_PER_DAY);
            day = (int64_t)spk__add_months((int32_t)day, iv->months) + iv->days;
            o[i] = (int64_t)((uint64_t)day * (uint64_t)SPK__MICROS_PER_DAY + (uint64_t)tod + (uint64_t)iv->micros);
        });
    }
    spk__nulls_copy(out, args[0], sel, n);
}

/* ---------------------------------------------------------------- the binder */

typedef struct spk__scope {
    const spk_schema *schema;
    const char *const *qualifiers; /* per column: the DataFrame alias it comes from, or NULL */
    bool case_sensitive;
    int agg_depth; /* > 0 inside an aggregate's argument */
} spk__scope;

static spk_status spk__bind_node(const spk__scope *sc, const spk_expr *e, spk__bnode **out);

/* The SQL text of an expression, for messages and names (cut to fit). */
typedef struct spk__sql_text { char s[256]; } spk__sql_text;
static spk__sql_text spk__sql_of(const spk_expr *e) {
    spk__sql_text t;
    size_t n = spk_expr_to_sql(e, t.s, sizeof t.s);
    if (n >= sizeof t.s) memcpy(t.s + sizeof t.s - 4, "...", 4);
    return t;
}

static spk_status spk__type_mismatch(const spk_expr *e, const char *why) {
    return spk__fail(SPK_ERR_TYPE, "[DATATYPE_MISMATCH] Cannot resolve \"%s\" due to data type mismatch: %s",
                     spk__sql_of(e).s, why);
}

/* A kernel node over already-bound arguments (consumed, also on failure). */
static spk__bnode *spk__kernel_node(spk_type type, spk__kernel kernel, const char *label, spk__bnode **args, int n) {
    spk__bnode *b = spk__bnode_new(SPK__B_KERNEL, type, n);
    if (!b || spk__bnode_set_label(b, label) != SPK_OK) {
        for (int i = 0; i < n; i++) spk__bnode_free(args[i]);
        spk__bnode_free(b);
        return NULL;
    }
    b->kernel = kernel;
    for (int i = 0; i < n; i++) b->args[i] = args[i];
    b->nullable = false;
    for (int i = 0; i < n; i++) b->nullable |= args[i]->nullable;
    return b;
}

static const char *spk__type_sql_name(spk_type t, char *buf, size_t cap) {
    spk_type_format(t, SPK_TYPE_SQL, buf, cap);
    return buf;
}

/* Resolution with DataFrame aliases: `a.id` picks the `id` that came from
 * the frame aliased `a`; a bare `id` present on both sides of a join is
 * ambiguous, and the message names both. */
static spk_status spk__lookup_qualified(const spk__scope *sc, const spk_expr *e, int *index) {
    int ncols = spk_schema_ncols(sc->schema), found = -1, matches = 0;
    for (int i = 0; i < ncols; i++) {
        const char *q = sc->qualifiers[i];
        if (!spk__name_eq(spk_schema_field(sc->schema, i)->name, e->name, sc->case_sensitive)) continue;
        if (e->qualifier && (!q || !spk__name_eq(q, e->qualifier, false))) continue;
        if (found < 0) found = i;
        matches++;
    }
    if (matches == 1) {
        *index = found;
        return SPK_OK;
    }
    if (matches > 1) {
        spk__fail(SPK_ERR_AMBIGUOUS, "[AMBIGUOUS_REFERENCE] Reference `%s` is ambiguous, could be: [", e->name);
        for (int i = 0, k = 0; i < ncols; i++) {
            if (!spk__name_eq(spk_schema_field(sc->schema, i)->name, e->name, sc->case_sensitive)) continue;
            if (e->qualifier && (!sc->qualifiers[i] || !spk__name_eq(sc->qualifiers[i], e->qualifier, false))) continue;
            spk__fail_append("%s`%s%s%s`", k++ ? ", " : "", sc->qualifiers[i] ? sc->qualifiers[i] : "",
                             sc->qualifiers[i] ? "`.`" : "", spk_schema_field(sc->schema, i)->name);
        }
        spk__fail_append("].");
        return SPK_ERR_AMBIGUOUS;
    }
    if (!e->qualifier) return spk_schema_lookup(sc->schema, e->name, sc->case_sensitive, index);
    spk__fail(SPK_ERR_NOT_FOUND,
              "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column or function parameter with name `%s`.`%s` cannot be resolved.",
              e->qualifier, e->name);
    const char *names[64];
    int n = ncols < 64 ? ncols : 64;
    for (int i = 0; i < n; i++) names[i] = spk_schema_field(sc->schema, i)->name;
    spk__fail_suggest(e->name, names, n);
    return SPK_ERR_NOT_FOUND;
}

static spk_status spk__bind_column(const spk__scope *sc, const spk_expr *e, spk__bnode **out) {
    int index;
    spk_status st = sc->qualifiers ? spk__lookup_qualified(sc, e, &index)
                                   : spk_schema_lookup(sc->schema, e->name, sc->case_sensitive, &index);
    if (st != SPK_OK) {
        if (e->source) spk__fail_caret(e->source->text, e->pos);
        return st;
    }
    /* Without qualifiers (a plain table) a `t.` prefix has nothing to check. */
    const spk_field *f = spk_schema_field(sc->schema, index);
    spk__bnode *b = spk__bnode_new(SPK__B_COL, f->type, 0);
    if (!b) return SPK_ERR_NOMEM;
    b->col = index;
    b->nullable = f->nullable;
    b->name = spk__strndup(spk__bind_alloc(), f->name, strlen(f->name));
    if (!b->name) {
        spk__bnode_free(b);
        return spk__nomem("a name", strlen(f->name) + 1);
    }
    *out = b;
    return SPK_OK;
}

/* Arithmetic: Spark's result types (integers wrap, `/` is DOUBLE unless
 * decimal, decimals follow the precision rules capped at 18 digits). */
static spk_status spk__bind_arith(const spk_expr *e, spk__bnode *a, spk__bnode *b, spk__bnode **out) {
    spk__op op = (spk__op)e->op;
    spk__bnode *args[2] = {a, b};
    spk_type ta = a->type, tb = b->type, result;
    spk_status st = SPK_OK;
    /* Strings in arithmetic are read as DOUBLE; an untyped NULL as the other side. */
    for (int i = 0; i < 2; i++) {
        if (args[i]->type.id == SPK_TYPE_STRING && st == SPK_OK) st = spk__coerce(&args[i], spk_type_of(SPK_TYPE_DOUBLE));
    }
    if (st == SPK_OK && args[0]->type.id == SPK_TYPE_NULL && args[1]->type.id == SPK_TYPE_NULL)
        st = spk__coerce(&args[0], spk_type_of(SPK_TYPE_DOUBLE));
    for (int i = 0; i < 2 && st == SPK_OK; i++) {
        spk__bnode *other = args[1 - i];
        if (args[i]->type.id == SPK_TYPE_NULL) st = spk__coerce(&args[i], other->type);
    }
    if (st != SPK_OK) goto fail;
    ta = args[0]->type;
    tb = args[1]->type;
    if (!spk__is_numeric_type(ta) || !spk__is_numeric_type(tb)) {
        char x[32], y[32], why[128];
        snprintf(why, sizeof why, "the operator requires numeric operands, not \"%s\" and \"%s\".",
                 spk__type_sql_name(ta, x, sizeof x), spk__type_sql_name(tb, y, sizeof y));
        st = spk__type_mismatch(e, why);
        goto fail;
    }
    bool any_double = ta.id == SPK_TYPE_DOUBLE || tb.id == SPK_TYPE_DOUBLE;
    bool any_decimal = ta.id == SPK_TYPE_DECIMAL || tb.id == SPK_TYPE_DECIMAL;
    spk__kernel kernel = spk__k_arith;
    if (op == SPK__OP_INTDIV) {
        /* Spark casts DOUBLE operands of div to BIGINT first; decimals divide
         * exactly and truncate, which the DOUBLE quotient matches to 15 digits. */
        if (any_decimal && !any_double) {
            result = spk_type_of(SPK_TYPE_DOUBLE);
            kernel = spk__k_intdiv_double;
        } else {
            result = spk_type_of(SPK_TYPE_INT64);
        }
        if ((st = spk__coerce(&args[0], result)) != SPK_OK || (st = spk__coerce(&args[1], result)) != SPK_OK) goto fail;
        result = spk_type_of(SPK_TYPE_INT64);
    } else if (any_double || (op == SPK__OP_DIV && !any_decimal)) {
        result = spk_type_of(SPK_TYPE_DOUBLE);
        if ((st = spk__coerce(&args[0], result)) != SPK_OK || (st = spk__coerce(&args[1], result)) != SPK_OK) goto fail;
    } else if (any_decimal) {
        spk_type da = spk__decimal_of(ta), db = spk__decimal_of(tb);
        int p1 = da.precision, s1 = da.scale, p2 = db.precision, s2 = db.scale;
        switch (op) {
        case SPK__OP_ADD:
        case SPK__OP_SUB: {
            int s = s1 > s2 ? s1 : s2, i1 = p1 - s1, i2 = p2 - s2;
            result = spk__decimal_bounded((i1 > i2 ? i1 : i2) + s + 1, s);
            break;
        }
        case SPK__OP_MUL: result = spk__decimal_bounded(p1 + p2 + 1, s1 + s2); break;
        case SPK__OP_DIV: {
            int s = 6 > s1 + p2 + 1 ? 6 : s1 + p2 + 1;
            result = spk__decimal_bounded(p1 - s1 + s2 + s, s);
            break;
        }
        default: { /* MOD */
            int s = s1 > s2 ? s1 : s2, i1 = p1 - s1, i2 = p2 - s2;
            result = spk__decimal_bounded((i1 < i2 ? i1 : i2) + s, s);
            break;
        }
        }
        if ((st = spk__coerce(&args[0], da)) != SPK_OK || (st = spk__coerce(&args[1], db)) != SPK_OK) goto fail;
    } else {
        result = ta.id == SPK_TYPE_INT64 || tb.id == SPK_TYPE_INT64 ? spk_type_of(SPK_TYPE_INT64)
                                                                     : spk_type_of(SPK_TYPE_INT32);
        if ((st = spk__coerce(&args[0], result)) != SPK_OK || (st = spk__coerce(&args[1], result)) != SPK_OK) goto fail;
    }
    *out = spk__kernel_node(result, kernel, spk__op_symbol(op), args, 2);
    if (!*out) return SPK_ERR_NOMEM;
    (*out)->iarg = op;
    if (op == SPK__OP_DIV || op == SPK__OP_MOD || op == SPK__OP_INTDIV || any_decimal) (*out)->nullable = true;
    return SPK_OK;
fail:
    spk__bnode_free(args[0]);
    spk__bnode_free(args[1]);
    return st;
}

/* DATE/TIMESTAMP +/- INTERVAL; DATE +/- INT days; DATE - DATE days. */
static bool spk__is_datetime(spk_type t) { return t.id == SPK_TYPE_DATE || t.id == SPK_TYPE_TIMESTAMP; }

static spk_status spk__bind_datetime_arith(const spk_expr *e, spk__bnode *a, spk__bnode *b, spk__bnode **out) {
    bool sub = e->op == SPK__OP_SUB;
    const spk_expr *iv_expr = e->args[1]->op == SPK__OP_INTERVAL ? e->args[1] : NULL;
    if (iv_expr) {
        spk__interval *iv = (spk__interval *)spk__alloc(spk__bind_alloc(), sizeof *iv);
        if (!iv) {
            spk__bnode_free(a);
            spk__bnode_free(b);
            return spk__nomem("an interval", sizeof *iv);
        }
        iv->months = sub ? -iv_expr->months : iv_expr->months;
        iv->days = sub ? -iv_expr->days : iv_expr->days;
        iv->micros = sub ? -iv_expr->micros : iv_expr->micros;
        spk__bnode_free(b);
        spk_status st = SPK_OK;
        if (a->type.id == SPK_TYPE_DATE && iv->micros) st = spk__coerce(&a, spk_type_of(SPK_TYPE_TIMESTAMP));
        spk__bnode *args[1] = {a};
        spk__bnode *node = st == SPK_OK ? spk__kernel_node(a->type, spk__k_add_interval, sub ? "-" : "+", args, 1) : NULL;
        if (!node) {
            if (st != SPK_OK) spk__bnode_free(a);
            spk__interval_free(iv);
            return st != SPK_OK ? st : SPK_ERR_NOMEM;
        }
        node->aux = iv;
        node->aux_free = spk__interval_free;
        *out = node;
        return SPK_OK;
    }
    /* DATE - DATE: days between (Spark 3 gives an interval; we give INT days). */
    bool date_minus_date = sub && a->type.id == SPK_TYPE_DATE && b->type.id == SPK_TYPE_DATE;
    spk__bnode *args[2] = {a, b};
    if (!sub && a->type.id != SPK_TYPE_DATE) { /* INT + DATE */
        args[0] = b;
        args[1] = a;
    }
    spk__bnode *node = spk__kernel_node(spk_type_of(date_minus_date ? SPK_TYPE_INT32 : SPK_TYPE_DATE),
                                        date_minus_date ? spk__k_datediff : spk__k_date_add,
                                        date_minus_date ? "datediff" : sub ? "date_sub" : "date_add", args, 2);
    if (!node) return SPK_ERR_NOMEM;
    node->iarg = sub ? -1 : 1;
    spk_status st = date_minus_date ? SPK_OK : spk__fn_arg(node, 1, spk_type_of(SPK_TYPE_INT32));
    if (st != SPK_OK) {
        spk__bnode_free(node);
        return st;
    }
    *out = node;
    return SPK_OK;
}

static spk_status spk__bind_compare(const spk_expr *e, spk__bnode *a, spk__bnode *b, spk__bnode **out) {
    spk_type common;
    spk__bnode *args[2] = {a, b};
    spk_status st;
    if (!spk__common_type(a->type, b->type, true, &common)) {
        char x[32], y[32], why[160];
        snprintf(why, sizeof why, "\"%s\" and \"%s\" cannot be compared.", spk__type_sql_name(a->type, x, sizeof x),
                 spk__type_sql_name(b->type, y, sizeof y));
        st = spk__type_mismatch(e, why);
        goto fail;
    }
    if (common.id == SPK_TYPE_NULL) common = spk_type_of(SPK_TYPE_BOOLEAN);
    if ((st = spk__coerce(&args[0], common)) != SPK_OK || (st = spk__coerce(&args[1], common)) != SPK_OK) goto fail;
    *out = spk__kernel_node(spk_type_of(SPK_TYPE_BOOLEAN), spk__k_compare, spk__op_symbol((spk__op)e->op), args, 2);
    if (!*out) return SPK_ERR_NOMEM;
    (*out)->iarg = e->op;
    if (e->op == SPK__OP_EQ_NS) (*out)->nullable = false;
    return SPK_OK;
fail:
    spk__bnode_free(args[0]);
    spk__bnode_free(args[1]);
    return st;
}

/* Coerces a bound node to BOOLEAN for AND/OR/NOT/WHEN (strings and NULL cast). */
static spk_status spk__want_boolean(const spk_expr *e, spk__bnode **slot) {
    spk_type_id id = (spk_type_id)(*slot)->type.id;
    if (id == SPK_TYPE_BOOLEAN) return SPK_OK;
    if (id == SPK_TYPE_NULL || id == SPK_TYPE_STRING) return spk__coerce(slot, spk_type_of(SPK_TYPE_BOOLEAN));
    char t[32], why[160];
    snprintf(why, sizeof why, "a BOOLEAN is required, not \"%s\".", spk__type_sql_name((*slot)->type, t, sizeof t));
    return spk__type_mismatch(e, why);
}

/* Binds the children of e into a fresh array (freed by the caller with spk__free_args). */
static spk_status spk__bind_children(const spk__scope *sc, const spk_expr *e, int from, spk__bnode **args) {
    for (int i = from; i < e->nargs; i++) {
        spk_status st = spk__bind_node(sc, e->args[i], &args[i - from]);
        if (st != SPK_OK) {
            for (int k = from; k < i; k++) spk__bnode_free(args[k - from]);
            return st;
        }
    }
    return SPK_OK;
}

static spk_status spk__bind_call(const spk__scope *sc, const spk_expr *e, spk__bnode **out) {
    const spk__func *f = spk__func_find(e->name);
    if (!f) {
        spk_status st = spk__unknown_function(e->name);
        if (e->source) spk__fail_caret(e->source->text, e->pos);
        return st;
    }
    if (e->nargs < f->min_args || (f->max_args >= 0 && e->nargs > f->max_args)) {
        char expected[48];
        if (f->max_args < 0) snprintf(expected, sizeof expected, "at least %d", f->min_args);
        else if (f->min_args == f->max_args) snprintf(expected, sizeof expected, "%d", f->min_args);
        else snprintf(expected, sizeof expected, "%d to %d", f->min_args, f->max_args);
        return spk__fail(SPK_ERR_ARG,
                         "[WRONG_NUM_ARGS] The `%s` requires %s parameters but the actual number is %d.",
                         f->name, expected, e->nargs);
    }
    if (f->aggregate && sc->agg_depth > 0)
        return spk__fail(SPK_ERR_ANALYSIS,
                         "[NESTED_AGGREGATE_FUNCTION] It is not allowed to use an aggregate function in the argument "
                         "of another aggregate function: \"%s\".", spk__sql_of(e).s);
    if (e->distinct && (!f->aggregate || strcmp(f->name, "count") != 0))
        return spk__fail(SPK_ERR_UNSUPPORTED, "DISTINCT is supported in count(DISTINCT x) only: \"%s\"", spk__sql_of(e).s);
    spk__bnode *b = spk__bnode_new(f->aggregate ? SPK__B_AGG : SPK__B_KERNEL, spk_type_of(SPK_TYPE_NULL), e->nargs);
    if (!b) return SPK_ERR_NOMEM;
    spk__sql_text label = spk__sql_of(e);
    spk_status st = spk__bnode_set_label(b, f->aggregate ? f->name : label.s);
    spk__scope inner = *sc;
    if (f->aggregate) inner.agg_depth++;
    int bound = 0;
    for (int i = 0; i < e->nargs && st == SPK_OK; i++, bound++) {
        if (e->args[i]->op == SPK__OP_STAR) { /* count(*) counts rows: count(1) */
            if (!(f->aggregate && strcmp(f->name, "count") == 0) || e->args[i]->qualifier) {
                st = spk__fail(SPK_ERR_ARG, "`*` is allowed only in count(*): \"%s\"", label.s);
                break;
            }
            b->args[i] = spk__bnode_lit(spk_value_i32(1));
            if (!b->args[i]) st = SPK_ERR_NOMEM;
        } else {
            st = spk__bind_node(&inner, e->args[i], &b->args[i]);
        }
    }
    if (st != SPK_OK) {
        b->nargs = bound;
        spk__bnode_free(b);
        return st;
    }
    b->distinct = e->distinct;
    if (f->aggregate) {
        /* The bind hook's messages should name the call, not the function. */
        spk__free_string(b->label);
        b->label = NULL;
        if ((st = spk__bnode_set_label(b, label.s)) == SPK_OK) st = f->bind(b);
        if (b->label) {
            spk__free_string(b->label);
            b->label = NULL;
            if (st == SPK_OK) st = spk__bnode_set_label(b, f->name);
        }
        b->nullable = b->agg != &spk__agg_count && b->agg != &spk__agg_count_distinct;
    } else {
        st = f->bind(b);
    }
    if (st != SPK_OK) {
        spk__bnode_free(b);
        return st;
    }
    *out = b;
    return SPK_OK;
}

static spk_status spk__bind_case(const spk__scope *sc, const spk_expr *e, spk__bnode **out) {
    spk__bnode *b = spk__bnode_new(SPK__B_CASE, spk_type_of(SPK_TYPE_NULL), e->nargs + (e->has_else ? 0 : 1));
    if (!b) return SPK_ERR_NOMEM;
    int pairs = (e->nargs - (e->has_else ? 1 : 0)) / 2;
    spk_status st = spk__bind_children(sc, e, 0, b->args);
    if (st != SPK_OK) {
        b->nargs = 0;
        spk__bnode_free(b);
        return st;
    }
    if (!e->has_else) { /* ELSE NULL */
        b->args[e->nargs] = spk__bnode_lit(spk_value_null());
        if (!b->args[e->nargs]) {
            spk__bnode_free(b);
            return SPK_ERR_NOMEM;
        }
    }
    int nvalues = pairs + 1;
    spk_type t = b->args[1]->type;
    for (int k = 0; k < nvalues && st == SPK_OK; k++) {
        int vi = k < pairs ? 2 * k + 1 : b->nargs - 1;
        spk_type next;
        if (!spk__common_type(t, b->args[vi]->type, false, &next)) {
            char x[32], y[32], why[160];
            snprintf(why, sizeof why, "THEN and ELSE expressions should all be the same type, not \"%s\" and \"%s\".",
                     spk__type_sql_name(t, x, sizeof x), spk__type_sql_name(b->args[vi]->type, y, sizeof y));
            st = spk__type_mismatch(e, why);
        }
        t = next;
    }
    for (int k = 0; k < pairs && st == SPK_OK; k++) st = spk__want_boolean(e, &b->args[2 * k]);
    for (int k = 0; k < nvalues && st == SPK_OK; k++) st = spk__coerce(&b->args[k < pairs ? 2 * k + 1 : b->nargs - 1], t);
    if (st != SPK_OK) {
        spk__bnode_free(b);
        return st;
    }
    b->type = t;
    b->nullable = false;
    for (int k = 0; k < nvalues; k++) b->nullable |= b->args[k < pairs ? 2 * k + 1 : b->nargs - 1]->nullable;
    *out = b;
    return SPK_OK;
}

static spk_status spk__bind_pattern(const spk_expr *e, spk__bnode *x, spk__bnode **out) {
    spk_status st = spk__coerce(&x, spk_type_of(SPK_TYPE_STRING));
    if (st != SPK_OK) {
        spk__bnode_free(x);
        return st;
    }
    spk__bnode *args[1] = {x};
    if (e->op == SPK__OP_LIKE) {
        spk__like *l = (spk__like *)spk__alloc(spk__bind_alloc(), sizeof *l);
        if (l) {
            l->len = strlen(e->name);
            l->pattern = spk__strndup(spk__bind_alloc(), e->name, l->len);
            if (!l->pattern) {
                spk__free(spk__bind_alloc(), l, sizeof *l);
                l = NULL;
            }
        }
        spk__bnode *b = l ? spk__kernel_node(spk_type_of(SPK_TYPE_BOOLEAN), spk__k_like, "LIKE", args, 1) : NULL;
        if (!b) {
            if (l) spk__like_free(l);
            else spk__bnode_free(x);
            return SPK_ERR_NOMEM;
        }
        b->aux = l;
        b->aux_free = spk__like_free;
        *out = b;
        return SPK_OK;
    }
#ifdef SPK__HAVE_REGEX
    regex_t *re = (regex_t *)spk__alloc(spk__bind_alloc(), sizeof *re);
    if (!re) {
        spk__bnode_free(x);
        return spk__nomem("a regular expression", sizeof *re);
    }
    /* The same translation of Java's syntax as the regexp_* functions. */
    size_t plen = strlen(e->name), scratch_size = 12 * plen + 1;
    char *scratch = (char *)spk__alloc(spk__bind_alloc(), scratch_size), why[160];
    if (!scratch) {
        spk__free(spk__bind_alloc(), re, sizeof *re);
        spk__bnode_free(x);
        return spk__nomem("a regular expression", scratch_size);
    }
    bool compiled = spk__regex_compile(e->name, plen, re, scratch, why, sizeof why);
    spk__free(spk__bind_alloc(), scratch, scratch_size);
    if (!compiled) {
        spk__free(spk__bind_alloc(), re, sizeof *re);
        spk__bnode_free(x);
        return spk__fail(SPK_ERR_ARG, "[INVALID_PARAMETER_VALUE.PATTERN] the regular expression '%s' is invalid: %s",
                         e->name, why);
    }
    spk__bnode *b = spk__kernel_node(spk_type_of(SPK_TYPE_BOOLEAN), spk__k_rlike, "RLIKE", args, 1);
    if (!b) {
        spk__regex_free(re);
        return SPK_ERR_NOMEM;
    }
    b->aux = re;
    b->aux_free = spk__regex_free;
    *out = b;
    return SPK_OK;
#else
    spk__bnode_free(x);
    return spk__fail(SPK_ERR_UNSUPPORTED, "RLIKE needs POSIX <regex.h>, which this platform lacks");
#endif
}

static spk_status spk__fold(spk__bnode **slot);

static spk_status spk__bind_node(const spk__scope *sc, const spk_expr *e, spk__bnode **out) {
    if (!e) {
        char earlier[SPK_ERROR_MAX];
        memcpy(earlier, spk_last_error(), sizeof earlier); /* the message is about to be replaced */
        return spk__fail(SPK_ERR_ARG, "NULL expression (an expression builder failed earlier: %s)", earlier);
    }
    spk_status st = SPK_OK;
    spk__bnode *a = NULL, *b = NULL;
    *out = NULL;
    switch ((spk__op)e->op) {
    case SPK__OP_COL: return spk__bind_column(sc, e, out);
    case SPK__OP_STAR:
        return spk__fail(SPK_ERR_ARG, "`*` cannot be used as a value here (only in count(*) and select)");
    case SPK__OP_LIT:
        *out = spk__bnode_lit(e->lit);
        return *out ? SPK_OK : SPK_ERR_NOMEM;
    case SPK__OP_INTERVAL:
        return spk__type_mismatch(e, "an INTERVAL can only be added to or subtracted from a DATE or TIMESTAMP.");
    case SPK__OP_ALIAS: return spk__bind_node(sc, e->args[0], out);
    case SPK__OP_CALL: st = spk__bind_call(sc, e, out); break;
    case SPK__OP_CASE: st = spk__bind_case(sc, e, out); break;
    case SPK__OP_CAST:
        if ((st = spk__bind_node(sc, e->args[0], &a)) != SPK_OK) return st;
        if (!spk__can_cast(a->type, e->type)) {
            char x[32], y[32], why[160];
            snprintf(why, sizeof why, "cannot cast \"%s\" to \"%s\".", spk__type_sql_name(a->type, x, sizeof x),
                     spk__type_sql_name(e->type, y, sizeof y));
            spk__bnode_free(a);
            return spk__type_mismatch(e, why);
        }
        if (spk_type_equal(a->type, e->type)) {
            *out = a;
            return SPK_OK;
        }
        *out = spk__kernel_node(e->type, spk__kernel_cast, "CAST", &a, 1);
        if (!*out) return SPK_ERR_NOMEM;
        (*out)->nullable = true;
        break;
    case SPK__OP_NEG:
        if ((st = spk__bind_node(sc, e->args[0], &a)) != SPK_OK) return st;
        if (a->type.id == SPK_TYPE_STRING || a->type.id == SPK_TYPE_NULL) st = spk__coerce(&a, spk_type_of(SPK_TYPE_DOUBLE));
        if (st == SPK_OK && !spk__is_numeric_type(a->type)) st = spk__type_mismatch(e, "unary minus needs a number.");
        if (st != SPK_OK) {
            spk__bnode_free(a);
            return st;
        }
        *out = spk__kernel_node(a->type, spk__k_neg, "-", &a, 1);
        if (!*out) return SPK_ERR_NOMEM;
        break;
    case SPK__OP_NOT:
        if ((st = spk__bind_node(sc, e->args[0], &a)) != SPK_OK) return st;
        if ((st = spk__want_boolean(e, &a)) != SPK_OK) {
            spk__bnode_free(a);
            return st;
        }
        *out = spk__kernel_node(spk_type_of(SPK_TYPE_BOOLEAN), spk__k_not, "NOT", &a, 1);
        if (!*out) return SPK_ERR_NOMEM;
        break;
    case SPK__OP_IS_NULL:
    case SPK__OP_IS_NOT_NULL:
        if ((st = spk__bind_node(sc, e->args[0], &a)) != SPK_OK) return st;
        *out = spk__kernel_node(spk_type_of(SPK_TYPE_BOOLEAN), spk__k_is_null,
                                e->op == SPK__OP_IS_NULL ? "IS NULL" : "IS NOT NULL", &a, 1);
        if (!*out) return SPK_ERR_NOMEM;
        (*out)->iarg = e->op == SPK__OP_IS_NULL;
        (*out)->nullable = false;
        break;
    case SPK__OP_AND:
    case SPK__OP_OR: {
        spk__bnode *node = spk__bnode_new(e->op == SPK__OP_AND ? SPK__B_AND : SPK__B_OR, spk_type_of(SPK_TYPE_BOOLEAN), 2);
        if (!node) return SPK_ERR_NOMEM;
        if ((st = spk__bind_children(sc, e, 0, node->args)) != SPK_OK) {
            node->nargs = 0;
            spk__bnode_free(node);
            return st;
        }
        if ((st = spk__want_boolean(e, &node->args[0])) != SPK_OK || (st = spk__want_boolean(e, &node->args[1])) != SPK_OK) {
            spk__bnode_free(node);
            return st;
        }
        node->nullable = node->args[0]->nullable || node->args[1]->nullable;
        *out = node;
        break;
    }
    case SPK__OP_IN: {
        spk__bnode *node = spk__bnode_new(SPK__B_KERNEL, spk_type_of(SPK_TYPE_BOOLEAN), e->nargs);
        if (!node) return SPK_ERR_NOMEM;
        if ((st = spk__bind_children(sc, e, 0, node->args)) != SPK_OK) {
            node->nargs = 0;
            spk__bnode_free(node);
            return st;
        }
        spk_type t = node->args[0]->type;
        for (int i = 1; i < node->nargs && st == SPK_OK; i++) {
            spk_type next;
            if (!spk__common_type(t, node->args[i]->type, true, &next)) {
                char x[32], y[32], why[160];
                snprintf(why, sizeof why, "\"%s\" and \"%s\" cannot be compared in IN.", spk__type_sql_name(t, x, sizeof x),
                         spk__type_sql_name(node->args[i]->type, y, sizeof y));
                st = spk__type_mismatch(e, why);
            }
            t = next;
        }
        for (int i = 0; i < node->nargs && st == SPK_OK; i++) st = spk__coerce(&node->args[i], t);
        if (st == SPK_OK) st = spk__bnode_set_label(node, "IN");
        if (st != SPK_OK) {
            spk__bnode_free(node);
            return st;
        }
        node->kernel = spk__k_in;
        node->nullable = false;
        for (int i = 0; i < node->nargs; i++) node->nullable |= node->args[i]->nullable;
        *out = node;
        break;
    }
    case SPK__OP_LIKE:
    case SPK__OP_RLIKE:
        if ((st = spk__bind_node(sc, e->args[0], &a)) != SPK_OK) return st;
        st = spk__bind_pattern(e, a, out);
        break;
    case SPK__OP_ADD: case SPK__OP_SUB: case SPK__OP_MUL: case SPK__OP_DIV: case SPK__OP_MOD: case SPK__OP_INTDIV:
        if ((st = spk__bind_node(sc, e->args[0], &a)) != SPK_OK) return st;
        if (e->args[1]->op == SPK__OP_INTERVAL && (e->op == SPK__OP_ADD || e->op == SPK__OP_SUB)) {
            if (a->type.id == SPK_TYPE_STRING) st = spk__coerce(&a, spk_type_of(SPK_TYPE_TIMESTAMP));
            if (st == SPK_OK && !spk__is_datetime(a->type))
                st = spk__type_mismatch(e, "an INTERVAL can only be added to or subtracted from a DATE or TIMESTAMP.");
            if (st != SPK_OK) {
                spk__bnode_free(a);
                return st;
            }
            st = spk__bind_datetime_arith(e, a, NULL, out);
            break;
        }
        if ((st = spk__bind_node(sc, e->args[1], &b)) != SPK_OK) {
            spk__bnode_free(a);
            return st;
        }
        if ((e->op == SPK__OP_ADD || e->op == SPK__OP_SUB) &&
            (a->type.id == SPK_TYPE_DATE || (e->op == SPK__OP_ADD && b->type.id == SPK_TYPE_DATE)) &&
            !(e->op == SPK__OP_SUB && b->type.id != SPK_TYPE_DATE && !spk__is_numeric_type(b->type) && b->type.id != SPK_TYPE_STRING)) {
            st = spk__bind_datetime_arith(e, a, b, out);
            break;
        }
        st = spk__bind_arith(e, a, b, out);
        break;
    case SPK__OP_EQ: case SPK__OP_NE: case SPK__OP_LT: case SPK__OP_LE: case SPK__OP_GT: case SPK__OP_GE: case SPK__OP_EQ_NS:
        if ((st = spk__bind_node(sc, e->args[0], &a)) != SPK_OK) return st;
        if ((st = spk__bind_node(sc, e->args[1], &b)) != SPK_OK) {
            spk__bnode_free(a);
            return st;
        }
        st = spk__bind_compare(e, a, b, out);
        break;
    case SPK__OP_SORT:
        return spk__fail(SPK_ERR_ARG, "a sort order (\"%s\") can only be used in orderBy", spk__sql_of(e).s);
    case SPK__OP_COUNT: return spk__fail(SPK_ERR_INTERNAL, "corrupt expression node");
    }
    if (st != SPK_OK) return st;
    if ((st = spk__fold(out)) != SPK_OK) { /* out of memory while folding: the node is still ours */
        spk__bnode_free(*out);
        *out = NULL;
    }
    return st;
}

/* ---------------------------------------------------------------- evaluation */

/* Numbers every node's vector; all references to one column share a slot. */
static void spk__number_slots(spk__bnode *b, int *next, int *col_slot) {
    for (int i = 0; i < b->nargs; i++) spk__number_slots(b->args[i], next, col_slot);
    if (b->kind == SPK__B_COL && col_slot) {
        if (col_slot[b->col] < 0) col_slot[b->col] = (*next)++;
        b->slot = col_slot[b->col];
    } else {
        b->slot = (*next)++;
    }
}

/* One evaluation's working memory; a bound expression may have many at once. */
typedef struct spk__runner {
    spk__eval ev;
    const spk__bnode *root;
    uint32_t *scratch;  /* per slot: two selection vectors of SPK__BATCH entries */
    void *block;
    size_t block_size;
} spk__runner;

static void spk__slot_types(const spk__bnode *b, spk_type *types) {
    types[b->slot] = b->type;
    for (int i = 0; i < b->nargs; i++) spk__slot_types(b->args[i], types);
}

static void spk__fill_literals(spk__runner *r, const spk__bnode *b) {
    if (b->kind == SPK__B_LIT) {
        spk__vec *v = &r->ev.vecs[b->slot];
        for (uint32_t i = 0; i < SPK__BATCH; i++) spk__vec_set(v, i, &b->lit);
    }
    for (int i = 0; i < b->nargs; i++) spk__fill_literals(r, b->args[i]);
}

static spk_status spk__runner_init(spk__runner *r, const spk__bnode *root, int nslots) {
    memset(r, 0, sizeof *r);
    r->root = root;
    r->ev.alloc = spk__bind_alloc();
    r->ev.arena.alloc = spk__bind_alloc();
    r->ev.nvecs = nslots;
    spk_type stack_types[64], *types = stack_types;
    size_t types_size = (size_t)nslots * sizeof *types;
    if (nslots > 64 && !(types = (spk_type *)spk__alloc(spk__bind_alloc(), types_size))) return spk__nomem("an evaluator", types_size);
    for (int i = 0; i < nslots; i++) types[i] = spk_type_of(SPK_TYPE_NULL);
    spk__slot_types(root, types);
    size_t size = (size_t)nslots * (sizeof(spk__vec) + 2 * SPK__BATCH * sizeof(uint32_t));
    for (int i = 0; i < nslots; i++) size += SPK__BATCH * (1 + spk__phys_size((spk_type_id)types[i].id)) + 16;
    r->block = spk__calloc(spk__bind_alloc(), size);
    if (!r->block) {
        if (types != stack_types) spk__free(spk__bind_alloc(), types, types_size);
        return spk__nomem("an evaluator", size);
    }
    r->block_size = size;
    char *at = (char *)r->block;
    r->ev.vecs = (spk__vec *)(void *)at;
    at += (size_t)nslots * sizeof(spk__vec);
    r->scratch = (uint32_t *)(void *)at;
    at += (size_t)nslots * 2 * SPK__BATCH * sizeof(uint32_t);
    for (int i = 0; i < nslots; i++) {
        spk__vec *v = &r->ev.vecs[i];
        v->type = types[i];
        at = (char *)(((uintptr_t)at + 15) & ~(uintptr_t)15); /* data 16-byte aligned */
        v->v.any = at;
        at += SPK__BATCH * spk__phys_size((spk_type_id)types[i].id);
        v->nulls = (uint8_t *)at;
        at += SPK__BATCH;
    }
    if (types != stack_types) spk__free(spk__bind_alloc(), types, types_size);
    spk__fill_literals(r, root);
    return SPK_OK;
}

static void spk__runner_free(spk__runner *r) {
    spk__arena_free(&r->ev.arena);
    spk__free(spk__bind_alloc(), r->block, r->block_size);
    r->block = NULL;
}

/* Evaluates b for the rows in sel (NULL: 0..n-1) into its slot's vector. */
static void spk__eval_node(spk__runner *r, const spk__bnode *b, const uint32_t *sel, uint32_t n) {
    spk__vec *out = &r->ev.vecs[b->slot];
    switch ((spk__bkind)b->kind) {
    case SPK__B_COL:
    case SPK__B_LIT:
    case SPK__B_AGG: return; /* loaded per batch / filled once / computed by aggregation */
    case SPK__B_KERNEL: {
        spk__vec *args[16] = {NULL}, **argv = args;
        spk__vec **heap = NULL;
        if (b->nargs > 16) {
            heap = (spk__vec **)spk__alloc(spk__bind_alloc(), (size_t)b->nargs * sizeof *heap);
            if (!heap) {
                if (r->ev.status == SPK_OK) r->ev.status = spk__nomem("kernel arguments", (size_t)b->nargs * sizeof *heap);
                return;
            }
            argv = heap;
        }
        for (int i = 0; i < b->nargs; i++) {
            spk__eval_node(r, b->args[i], sel, n);
            argv[i] = &r->ev.vecs[b->args[i]->slot];
        }
        b->kernel(&r->ev, b, out, argv, sel, n);
        if (heap) spk__free(spk__bind_alloc(), heap, (size_t)b->nargs * sizeof *heap);
        return;
    }
    case SPK__B_AND:
    case SPK__B_OR: {
        /* Three-valued logic, evaluating the right side only where the left
         * does not decide: AND where left is not false, OR where not true. */
        bool is_and = b->kind == SPK__B_AND;
        const spk__bnode *l = b->args[0], *rt = b->args[1];
        spk__eval_node(r, l, sel, n);
        const spk__vec *lv = &r->ev.vecs[l->slot];
        uint32_t *rest = r->scratch + (size_t)b->slot * 2 * SPK__BATCH, m = 0;
        SPK__FOR_ROWS(sel, n, {
            bool decided = !lv->nulls[i] && (lv->v.b[i] != 0) != is_and;
            out->v.b[i] = lv->v.b[i];
            out->nulls[i] = lv->nulls[i];
            if (!decided) rest[m++] = i;
        });
        if (m == 0) return;
        spk__eval_node(r, rt, rest, m);
        const spk__vec *rv = &r->ev.vecs[rt->slot];
        for (uint32_t k = 0; k < m; k++) {
            uint32_t i = rest[k];
            bool r_decides = !rv->nulls[i] && (rv->v.b[i] != 0) != is_and;
            if (r_decides) {
                out->v.b[i] = rv->v.b[i];
                out->nulls[i] = 0;
            } else if (rv->nulls[i] || lv->nulls[i]) {
                out->nulls[i] = 1; /* NULL AND true, NULL AND NULL: unknown */
            } else {
                out->v.b[i] = rv->v.b[i];
                out->nulls[i] = 0;
            }
        }
        return;
    }
    case SPK__B_CASE: {
        int pairs = (b->nargs - 1) / 2;
        uint32_t *remaining = r->scratch + (size_t)b->slot * 2 * SPK__BATCH, *matched = remaining + SPK__BATCH;
        uint32_t nrem = 0;
        SPK__FOR_ROWS(sel, n, remaining[nrem++] = i);
        size_t width = spk__phys_size((spk_type_id)out->type.id);
        for (int k = 0; k <= pairs && nrem > 0; k++) {
            const spk__bnode *value = b->args[k < pairs ? 2 * k + 1 : b->nargs - 1];
            uint32_t nmatch = 0, nkeep = 0;
            if (k < pairs) {
                const spk__bnode *cond = b->args[2 * k];
                spk__eval_node(r, cond, remaining, nrem);
                const spk__vec *cv = &r->ev.vecs[cond->slot];
                for (uint32_t j = 0; j < nrem; j++) {
                    uint32_t i = remaining[j];
                    if (!cv->nulls[i] && cv->v.b[i]) matched[nmatch++] = i;
                    else remaining[nkeep++] = i;
                }
            } else {
                memcpy(matched, remaining, nrem * sizeof *matched);
                nmatch = nrem;
                nkeep = 0;
            }
            if (nmatch) {
                spk__eval_node(r, value, matched, nmatch);
                const spk__vec *vv = &r->ev.vecs[value->slot];
                for (uint32_t j = 0; j < nmatch; j++) {
                    uint32_t i = matched[j];
                    memcpy((char *)out->v.any + i * width, (const char *)vv->v.any + i * width, width);
                    out->nulls[i] = vv->nulls[i];
                }
            }
            nrem = nkeep;
        }
        return;
    }
    }
}

/* Replaces a node whose inputs are all constants by its value, computed by
 * the same kernels that would compute it per row. */
static spk_status spk__fold(spk__bnode **slot) {
    spk__bnode *b = *slot;
    if (b->kind == SPK__B_COL || b->kind == SPK__B_LIT || b->kind == SPK__B_AGG) return SPK_OK;
    for (int i = 0; i < b->nargs; i++)
        if (b->args[i]->kind != SPK__B_LIT) return SPK_OK;
    int nslots = 0;
    spk__number_slots(b, &nslots, NULL);
    spk__runner r;
    spk_status st = spk__runner_init(&r, b, nslots);
    if (st != SPK_OK) return st;
    spk__eval_node(&r, b, NULL, 1);
    st = r.ev.status;
    spk__bnode *lit = NULL;
    if (st == SPK_OK) {
        spk_value v = spk__vec_get(&r.ev.vecs[b->slot], 0);
        lit = spk__bnode_lit(v);
        if (!lit) st = SPK_ERR_NOMEM;
    }
    spk__runner_free(&r);
    if (st != SPK_OK) return st;
    lit->type = b->type;
    lit->lit.type = b->type;
    spk__bnode_free(b);
    *slot = lit;
    return SPK_OK;
}

/* Loads column `col` of rows [start, start + n) of chunk c into v: one
 * strided pass reads the null bit and the value together. */
static void spk__load_column(const spk_table *t, const spk__chunk *c, uint32_t start, uint32_t n, int col, spk__vec *v) {
    uint32_t off = t->offset[col], w = t->width;
    const unsigned char *rows = c->rows + (size_t)start * w;
    uint8_t bit = (uint8_t)(1u << (col & 7));
    int byte = col >> 3;
    switch ((spk_type_id)v->type.id) {
    case SPK_TYPE_BOOLEAN:
        for (uint32_t i = 0; i < n; i++) {
            const unsigned char *slot = rows + (size_t)i * w;
            v->nulls[i] = (slot[byte] & bit) != 0;
            v->v.b[i] = slot[off];
        }
        break;
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE:
        for (uint32_t i = 0; i < n; i++) {
            const unsigned char *slot = rows + (size_t)i * w;
            v->nulls[i] = (slot[byte] & bit) != 0;
            memcpy(&v->v.i32[i], slot + off, 4);
        }
        break;
    case SPK_TYPE_STRING:
        for (uint32_t i = 0; i < n; i++) {
            const unsigned char *slot = rows + (size_t)i * w;
            uint32_t from = spk__string_start(t, c, start + i, col), to = spk__load_u32(slot + off);
            v->nulls[i] = (slot[byte] & bit) != 0;
            v->v.str[i].ptr = c->heap ? c->heap + from : "";
            v->v.str[i].len = to - from;
        }
        break;
    case SPK_TYPE_NULL:
    case SPK_TYPE_COUNT:
        memset(v->nulls, 1, n);
        break;
    default:
        for (uint32_t i = 0; i < n; i++) {
            const unsigned char *slot = rows + (size_t)i * w;
            v->nulls[i] = (slot[byte] & bit) != 0;
            memcpy(&v->v.i64[i], slot + off, 8);
        }
        break;
    }
}

/* Loads rows [start, start + n) of chunk c into the column slots. */
static void spk__load_columns(spk__runner *r, const spk_bound *bd, const spk_table *t, const spk__chunk *c,
                              uint32_t start, uint32_t n) {
    for (int col = 0; col < t->ncols; col++)
        if (bd->col_slot[col] >= 0) spk__load_column(t, c, start, n, col, &r->ev.vecs[bd->col_slot[col]]);
}

/* Calls fn for every batch of the table after loading its columns. */
typedef spk_status (*spk__batch_fn)(spk__runner *r, const spk__chunk *c, uint32_t start, uint32_t n, void *user);

static spk_status spk__for_batches(spk__runner *r, const spk_bound *bd, const spk_table *t, spk__batch_fn fn, void *user) {
    for (size_t ci = 0; ci < t->nchunks; ci++) {
        const spk__chunk *c = t->chunks[ci];
        for (uint32_t start = 0; start < c->nrows; start += SPK__BATCH) {
            uint32_t n = c->nrows - start < SPK__BATCH ? c->nrows - start : SPK__BATCH;
            spk__arena_reset(&r->ev.arena);
            spk__load_columns(r, bd, t, c, start, n);
            spk_status st = fn(r, c, start, n, user);
            if (st == SPK_OK) st = r->ev.status;
            if (st != SPK_OK) return st;
        }
    }
    return SPK_OK;
}

/* ---------------------------------------------------------------- public API */

static bool spk__contains_agg(const spk__bnode *b) {
    if (b->kind == SPK__B_AGG) return true;
    for (int i = 0; i < b->nargs; i++)
        if (spk__contains_agg(b->args[i])) return true;
    return false;
}

/* A column used outside any aggregate of an aggregating expression. */
static const spk__bnode *spk__bare_column(const spk__bnode *b) {
    if (b->kind == SPK__B_AGG) return NULL;
    if (b->kind == SPK__B_COL) return b;
    for (int i = 0; i < b->nargs; i++) {
        const spk__bnode *c = spk__bare_column(b->args[i]);
        if (c) return c;
    }
    return NULL;
}

static spk_status spk__bind_scoped(const spk_expr *e, const spk_schema *schema, const char *const *qualifiers,
                                   bool case_sensitive, spk_bound **out);

SPKDEF spk_status spk_expr_bind(const spk_expr *e, const spk_schema *schema, bool case_sensitive, spk_bound **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_expr_bind: NULL output");
    *out = NULL;
    if (!schema) return spk__fail(SPK_ERR_ARG, "spk_expr_bind: NULL schema");
    return spk__bind_scoped(e, schema, NULL, case_sensitive, out);
}

static spk_status spk__bind_scoped(const spk_expr *e, const spk_schema *schema, const char *const *qualifiers,
                                   bool case_sensitive, spk_bound **out) {
    spk__scope sc = {schema, qualifiers, case_sensitive, 0};
    spk__bnode *root = NULL;
    spk_status st = spk__bind_node(&sc, e, &root);
    if (st != SPK_OK) return st;
    spk_bound *b = (spk_bound *)spk__calloc(spk__bind_alloc(), sizeof *b);
    int ncols = spk_schema_ncols(schema);
    if (b) b->col_slot = (int *)spk__alloc(spk__bind_alloc(), (size_t)(ncols ? ncols : 1) * sizeof(int));
    char name[256];
    size_t name_len = spk_expr_to_sql(e, name, sizeof name);
    if (name_len >= sizeof name) name_len = sizeof name - 1;
    if (b && b->col_slot) b->name = spk__strndup(spk__bind_alloc(), name, name_len);
    if (!b || !b->col_slot || !b->name) {
        if (b) {
            spk__free(spk__bind_alloc(), b->col_slot, (size_t)(ncols ? ncols : 1) * sizeof(int));
            spk__free(spk__bind_alloc(), b, sizeof *b);
        }
        spk__bnode_free(root);
        return spk__nomem("a bound expression", sizeof *b);
    }
    for (int i = 0; i < ncols; i++) b->col_slot[i] = -1;
    spk__number_slots(root, &b->nslots, b->col_slot);
    b->root = root;
    b->schema = spk_schema_retain((spk_schema *)(uintptr_t)schema);
    b->aggregate = spk__contains_agg(root);
    *out = b;
    return SPK_OK;
}

SPKDEF void spk_bound_free(spk_bound *b) {
    if (!b) return;
    int ncols = spk_schema_ncols(b->schema);
    spk__bnode_free(b->root);
    spk__free(spk__bind_alloc(), b->col_slot, (size_t)(ncols ? ncols : 1) * sizeof(int));
    spk__free_string(b->name);
    spk_schema_release(b->schema);
    spk__free(spk__bind_alloc(), b, sizeof *b);
}

SPKDEF spk_type spk_bound_type(const spk_bound *b) { return b ? b->root->type : spk_type_of(SPK_TYPE_NULL); }
SPKDEF bool spk_bound_nullable(const spk_bound *b) { return b ? b->root->nullable : true; }
SPKDEF const char *spk_bound_name(const spk_bound *b) { return b ? b->name : ""; }
SPKDEF bool spk_bound_is_aggregate(const spk_bound *b) { return b && b->aggregate; }

SPKDEF spk_status spk_bound_constant(const spk_bound *b, spk_value *out) {
    if (!b || !out) return spk__fail(SPK_ERR_ARG, "spk_bound_constant: NULL argument");
    if (b->root->kind != SPK__B_LIT) return spk__fail(SPK_ERR_STATE, "\"%s\" is not a constant", b->name);
    *out = b->root->lit;
    return SPK_OK;
}

static void spk__explain_node(spk__textout *o, const spk__bnode *b, const spk_schema *s, int depth) {
    if (depth > 200) {
        spk__out(o, "...");
        return;
    }
    char t[32];
    switch ((spk__bkind)b->kind) {
    case SPK__B_COL: spk__out(o, "%s#%d", spk_schema_field(s, b->col)->name, b->col); return;
    case SPK__B_LIT: {
        char text[SPK_VALUE_TEXT_MAX];
        if (b->lit.is_null || b->lit.type.id == SPK_TYPE_NULL) spk__out(o, "NULL");
        else if (b->lit.type.id == SPK_TYPE_STRING) spk__out(o, "'%.*s'", (int)b->lit.as.str.len, b->lit.as.str.ptr);
        else {
            spk_value_format(&b->lit, text, sizeof text);
            spk_type_id id = (spk_type_id)b->lit.type.id;
            if (id == SPK_TYPE_DATE) spk__out(o, "DATE '%s'", text);
            else if (id == SPK_TYPE_TIMESTAMP) spk__out(o, "TIMESTAMP '%s'", text);
            else spk__out(o, "%s%s", text, id == SPK_TYPE_INT64 ? "L" : "");
        }
        return;
    }
    case SPK__B_AND:
    case SPK__B_OR:
        spk__out(o, "(");
        spk__explain_node(o, b->args[0], s, depth + 1);
        spk__out(o, b->kind == SPK__B_AND ? " AND " : " OR ");
        spk__explain_node(o, b->args[1], s, depth + 1);
        spk__out(o, ")");
        return;
    case SPK__B_CASE: {
        int pairs = (b->nargs - 1) / 2;
        spk__out(o, "CASE");
        for (int k = 0; k < pairs; k++) {
            spk__out(o, " WHEN ");
            spk__explain_node(o, b->args[2 * k], s, depth + 1);
            spk__out(o, " THEN ");
            spk__explain_node(o, b->args[2 * k + 1], s, depth + 1);
        }
        spk__out(o, " ELSE ");
        spk__explain_node(o, b->args[b->nargs - 1], s, depth + 1);
        spk__out(o, " END");
        return;
    }
    case SPK__B_KERNEL:
    case SPK__B_AGG:
        break;
    }
    const char *label = b->label ? b->label : "?";
    if (b->kernel == spk__kernel_cast) {
        spk_type_format(b->type, SPK_TYPE_SQL, t, sizeof t);
        spk__out(o, "CAST(");
        spk__explain_node(o, b->args[0], s, depth + 1);
        spk__out(o, " AS %s)", t);
    } else if (b->kind == SPK__B_KERNEL && b->nargs == 2 && (b->kernel == spk__k_arith || b->kernel == spk__k_compare ||
                                                            b->kernel == spk__k_intdiv_double)) {
        spk__out(o, "(");
        spk__explain_node(o, b->args[0], s, depth + 1);
        spk__out(o, " %s ", label);
        spk__explain_node(o, b->args[1], s, depth + 1);
        spk__out(o, ")");
    } else if (b->kernel == spk__k_like) {
        spk__explain_node(o, b->args[0], s, depth + 1);
        spk__out(o, " LIKE '%s'", ((const spk__like *)b->aux)->pattern);
    } else if (b->kernel == spk__k_add_interval) {
        const spk__interval *iv = (const spk__interval *)b->aux;
        spk__out(o, "(");
        spk__explain_node(o, b->args[0], s, depth + 1);
        spk__out(o, " + INTERVAL '%d months %d days %lld microseconds')", (int)iv->months, (int)iv->days,
                 (long long)iv->micros);
    } else if (b->kernel == spk__k_is_null) {
        spk__out(o, "(");
        spk__explain_node(o, b->args[0], s, depth + 1);
        spk__out(o, " %s)", label);
    } else {
        /* Function calls keep their Spark name; operators such as NOT print prefix. */
        const char *paren = strchr(label, '(');
        spk__out(o, "%.*s(%s", paren ? (int)(paren - label) : (int)strlen(label), label, b->distinct ? "DISTINCT " : "");
        for (int i = 0; i < b->nargs; i++) {
            if (i) spk__out(o, ", ");
            spk__explain_node(o, b->args[i], s, depth + 1);
        }
        spk__out(o, ")");
    }
}

SPKDEF size_t spk_bound_explain(const spk_bound *b, char *buf, size_t cap) {
    spk__textout o = spk__textout_make(buf, cap);
    if (b) spk__explain_node(&o, b->root, b->schema, 0);
    return o.len;
}

static spk_status spk__check_input(const spk_bound *b, const spk_table *in) {
    if (!spk_schema_equal(b->schema, spk_table_schema(in), false))
        return spk__fail(SPK_ERR_SCHEMA, "the table's schema differs from the one \"%s\" was bound to", b->name);
    return SPK_OK;
}

/* One output column named after the expression. */
static spk_status spk__result_table(const spk_bound *b, spk_table **out) {
    spk_field f = {b->name, b->root->type, b->root->nullable};
    if (f.type.id == SPK_TYPE_NULL) f.nullable = true;
    spk_schema *s = NULL;
    spk_status st = spk__schema_make(NULL, &f, 1, true, &s);
    if (st != SPK_OK) return st;
    st = spk_table_new(NULL, s, out);
    spk_schema_release(s);
    return st;
}

typedef struct spk__collect {
    const spk__bnode *root;
    spk_table *out;
} spk__collect;

static spk_status spk__collect_batch(spk__runner *r, const spk__chunk *c, uint32_t start, uint32_t n, void *user) {
    (void)c;
    (void)start;
    spk__collect *k = (spk__collect *)user;
    spk__eval_node(r, k->root, NULL, n);
    if (r->ev.status != SPK_OK) return r->ev.status;
    spk__vec *v = &r->ev.vecs[k->root->slot];
    return spk__table_append_vecs(k->out, &v, NULL, n);
}

/* Aggregation over the whole table: every aggregate node gets one state. */
typedef struct spk__agg_run {
    const spk__bnode *nodes[64];
    char *states[64];
    int n;
} spk__agg_run;

static void spk__collect_aggs(const spk__bnode *b, spk__agg_run *a) {
    if (b->kind == SPK__B_AGG) {
        if (a->n < 64) a->nodes[a->n++] = b;
        return;
    }
    for (int i = 0; i < b->nargs; i++) spk__collect_aggs(b->args[i], a);
}

static spk_status spk__agg_batch(spk__runner *r, const spk__chunk *c, uint32_t start, uint32_t n, void *user) {
    (void)c;
    (void)start;
    spk__agg_run *a = (spk__agg_run *)user;
    for (int k = 0; k < a->n; k++) {
        const spk__bnode *node = a->nodes[k];
        spk__eval_node(r, node->args[0], NULL, n);
        spk_status st = node->agg->update(node, a->states[k], NULL, &r->ev.vecs[node->args[0]->slot], NULL, n);
        if (st != SPK_OK) return st;
    }
    return SPK_OK;
}

static spk_status spk__eval_aggregate(const spk_bound *b, spk__runner *r, const spk_table *in, spk_table *out) {
    spk__agg_run a;
    memset(&a, 0, sizeof a);
    spk__collect_aggs(b->root, &a);
    if (a.n >= 64) return spk__fail(SPK_ERR_LIMIT, "more than 63 aggregates in one expression");
    spk_status st = SPK_OK;
    int made = 0;
    for (; made < a.n; made++) {
        a.states[made] = (char *)spk__alloc(spk__bind_alloc(), a.nodes[made]->agg->state_size);
        if (!a.states[made]) {
            st = spk__nomem("an aggregate state", a.nodes[made]->agg->state_size);
            break;
        }
        a.nodes[made]->agg->init(a.states[made]);
    }
    if (st == SPK_OK) st = spk__for_batches(r, b, in, spk__agg_batch, &a);
    if (st == SPK_OK) {
        for (int k = 0; k < a.n; k++) a.nodes[k]->agg->final(a.nodes[k], a.states[k], &r->ev.vecs[a.nodes[k]->slot], 0);
        spk__arena_reset(&r->ev.arena);
        spk__eval_node(r, b->root, NULL, 1);
        st = r->ev.status;
        if (st == SPK_OK) {
            spk_value x = spk__vec_get(&r->ev.vecs[b->root->slot], 0);
            st = spk_table_append_row(out, &x, 1);
        }
    }
    for (int k = 0; k < made; k++) {
        if (a.nodes[k]->agg->destroy) a.nodes[k]->agg->destroy(a.nodes[k], a.states[k]);
        spk__free(spk__bind_alloc(), a.states[k], a.nodes[k]->agg->state_size);
    }
    return st;
}

SPKDEF spk_status spk_bound_eval(const spk_bound *b, const spk_table *in, spk_table **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_bound_eval: NULL output");
    *out = NULL;
    if (!b || !in) return spk__fail(SPK_ERR_ARG, "spk_bound_eval: NULL argument");
    spk_status st = spk__check_input(b, in);
    if (st != SPK_OK) return st;
    if (b->aggregate) {
        const spk__bnode *bare = spk__bare_column(b->root);
        if (bare)
            return spk__fail(SPK_ERR_ANALYSIS,
                             "[MISSING_AGGREGATION] The non-aggregating expression `%s` is based on columns which are "
                             "not participating in the GROUP BY clause.", bare->name);
    }
    spk_table *result = NULL;
    if ((st = spk__result_table(b, &result)) != SPK_OK) return st;
    spk__runner r;
    if ((st = spk__runner_init(&r, b->root, b->nslots)) != SPK_OK) {
        spk_table_free(result);
        return st;
    }
    if (b->aggregate) {
        st = spk__eval_aggregate(b, &r, in, result);
    } else {
        spk__collect k = {b->root, result};
        st = spk__for_batches(&r, b, in, spk__collect_batch, &k);
    }
    spk__runner_free(&r);
    if (st != SPK_OK) {
        spk_table_free(result);
        return st;
    }
    *out = result;
    return SPK_OK;
}

typedef struct spk__filter {
    const spk__bnode *root;
    const spk_table *in;
    spk_table *out;
} spk__filter;

static spk_status spk__filter_batch(spk__runner *r, const spk__chunk *c, uint32_t start, uint32_t n, void *user) {
    spk__filter *f = (spk__filter *)user;
    spk__eval_node(r, f->root, NULL, n);
    if (r->ev.status != SPK_OK) return r->ev.status;
    const spk__vec *v = &r->ev.vecs[f->root->slot];
    uint32_t *sel = r->scratch + (size_t)f->root->slot * 2 * SPK__BATCH, m = 0;
    for (uint32_t i = 0; i < n; i++) {
        sel[m] = i;
        m += !v->nulls[i] & (v->v.b[i] != 0);
    }
    return spk__table_append_slots(f->out, f->in, c, start, sel, m);
}

SPKDEF spk_status spk_bound_filter(const spk_bound *b, const spk_table *in, spk_table **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_bound_filter: NULL output");
    *out = NULL;
    if (!b || !in) return spk__fail(SPK_ERR_ARG, "spk_bound_filter: NULL argument");
    spk_status st = spk__check_input(b, in);
    if (st != SPK_OK) return st;
    if (b->root->type.id != SPK_TYPE_BOOLEAN && b->root->type.id != SPK_TYPE_NULL) {
        char t[32];
        return spk__fail(SPK_ERR_TYPE, "[DATATYPE_MISMATCH.FILTER_NOT_BOOLEAN] the filter \"%s\" is of type \"%s\", not BOOLEAN",
                         b->name, spk__type_sql_name(b->root->type, t, sizeof t));
    }
    if (b->aggregate) return spk__fail(SPK_ERR_ARG, "an aggregate cannot be used as a row filter: \"%s\"", b->name);
    spk_table *result = NULL;
    if ((st = spk_table_new(NULL, spk_table_schema(in), &result)) != SPK_OK) return st;
    spk__runner r;
    if ((st = spk__runner_init(&r, b->root, b->nslots)) != SPK_OK) {
        spk_table_free(result);
        return st;
    }
    spk__filter f = {b->root, in, result};
    st = spk__for_batches(&r, b, in, spk__filter_batch, &f);
    spk__runner_free(&r);
    if (st != SPK_OK) {
        spk_table_free(result);
        return st;
    }
    *out = result;
    return SPK_OK;
}

/* ---- src/plan.c ---- */
/* plan: sessions, DataFrames as immutable logical plan nodes, their
 * analysis (every expression is bound when the node is built), the
 * optimizer's rewrites and the plan's text for explain(). */

struct spk_session {
    atomic_int refs;             /* one for the session's handles, one per DataFrame node made from it */
    const spk_allocator *alloc;
    atomic_bool case_sensitive;  /* spark.sql.caseSensitive, copied into each DataFrame node */
    atomic_int threads;          /* resolved: >= 1 */
    atomic_bool threads_set;     /* a thread count was configured (spk_exec_override does not apply) */
    _Atomic(spk_pool *) pool;    /* threads - 1 workers (the caller is the last), made at first use */
    struct spk__sessx *ext;      /* the catalog's part (catalog.c): views, configuration; NULL once stopped */
};

/* spk_exec_override: 0 when unset. */
static atomic_int spk__override_threads;
static atomic_uint spk__override_morsel;

SPKDEF void spk_exec_override(int threads, uint32_t morsel_rows) {
    atomic_store_explicit(&spk__override_threads, threads > 0 ? threads : 0, memory_order_relaxed);
    atomic_store_explicit(&spk__override_morsel, morsel_rows, memory_order_relaxed);
}

SPKDEF int spk_session_threads(const spk_session *s) {
    int forced = atomic_load_explicit(&spk__override_threads, memory_order_relaxed);
    if (!s) return 1;
    return forced > 0 && !atomic_load_explicit(&s->threads_set, memory_order_relaxed)
               ? forced
               : atomic_load_explicit(&s->threads, memory_order_relaxed);
}

static uint32_t spk__morsel_rows(void) {
    uint32_t forced = atomic_load_explicit(&spk__override_morsel, memory_order_relaxed);
    return forced ? forced : SPK_MORSEL_ROWS;
}

/* The session's worker pool, started by the first query that needs one.
 * Racing first queries each start a pool; one is published with a CAS and
 * the others are stopped again, so no lock is held while threads start. */
static spk_status spk__session_pool(spk_session *s, spk_pool **out) {
    spk_pool *p = atomic_load_explicit(&s->pool, memory_order_acquire); /* pairs with the CAS below */
    if (p) {
        *out = p;
        return SPK_OK;
    }
    int workers = spk_session_threads(s) - 1;
    spk_status st = spk_pool_new(&spk__default_allocator, workers > 0 ? workers : 1, 0, &p);
    if (st != SPK_OK) return st;
    spk_pool *expected = NULL;
    /* acq_rel: publishes the pool's setup to later loads, and on failure
     * acquires the winner's */
    if (!atomic_compare_exchange_strong_explicit(&s->pool, &expected, p, memory_order_acq_rel, memory_order_acquire)) {
        spk_pool_free(p);
        p = expected;
    }
    *out = p;
    return SPK_OK;
}

typedef enum spk__pkind {
    SPK__P_SCAN,    /* a table */
    SPK__P_PROJECT, /* exprs: the output columns */
    SPK__P_FILTER,  /* exprs[0]: the condition */
    SPK__P_AGG,     /* exprs: nkeys grouping keys, then the aggregate outputs */
    SPK__P_SORT,    /* exprs: sort keys (SPK__OP_SORT nodes) */
    SPK__P_LIMIT,   /* limit, offset */
    SPK__P_DISTINCT,
    SPK__P_UNION    /* child and right, by position */
} spk__pkind;

/* Kinds added with joins and the other set operations. They stay outside
 * spk__pkind only while explain's switch (optimize.c) has no case for them
 * (-Wswitch): move them into it when it does. Code switching on them
 * switches on the plain int. */
enum {
    SPK__P_JOIN = SPK__P_UNION + 1, /* child (left) and right; exprs[0], if nexprs: the condition, bound
                                     * against left ++ right (their schemas and qualifiers); join: spk__jtype */
    SPK__P_INTERSECT,               /* child and right, by position; all: as multisets */
    SPK__P_EXCEPT,                  /* child minus right, by position; all: as multisets */
    SPK__P_DEDUP,                   /* exprs: key columns (none: every column); the first row of each key */
    SPK__P_SAMPLE                   /* streams: each row kept with probability fraction (seed) */
};

typedef enum spk__jtype {
    SPK__J_INNER, SPK__J_CROSS, SPK__J_LEFT, SPK__J_RIGHT, SPK__J_FULL, SPK__J_SEMI, SPK__J_ANTI
} spk__jtype;

struct spk_df {
    atomic_int refs;
    uint8_t kind;           /* spk__pkind */
    spk_session *session;
    spk_schema *schema;     /* the output columns */
    char **qualifiers;      /* per output column: the alias of the frame it came from, or NULL */
    spk_df *child, *right;
    spk_table *table;       /* SCAN: owned; freed with the node */
    int nexprs, nkeys;
    spk_expr **exprs;
    spk_bound **bound;      /* exprs bound against the child's output */
    int64_t limit, offset;  /* LIMIT: limit < 0 means none */
    char *alias;            /* set by spk_df_alias (a PROJECT of every column) */
    uint8_t join;           /* JOIN: spk__jtype */
    bool all;               /* INTERSECT, EXCEPT: ALL (multisets) */
    double fraction;        /* SAMPLE */
    uint64_t seed;          /* SAMPLE */
    bool case_sensitive;    /* the session's spark.sql.caseSensitive when the node was made */
};

static const spk_allocator *spk__df_alloc(const spk_df *df) { return df->session->alloc; }

/* A session with one reference (its handles'); catalog.c adds the rest. */
static spk_status spk__session_make(const spk_allocator *alloc, bool case_sensitive, int threads, spk_session **out) {
    if (threads < 0 || threads > SPK_POOL_MAX_THREADS)
        return spk__fail(SPK_ERR_ARG, "threads is %d; it must be 0 (one per core) to %d", threads, SPK_POOL_MAX_THREADS);
    alloc = spk__allocator_or_default(alloc);
    spk_session *s = (spk_session *)spk__calloc(alloc, sizeof *s);
    if (!s) return spk__nomem("a session", sizeof *s);
    s->alloc = alloc;
    atomic_init(&s->refs, 1);
    atomic_init(&s->case_sensitive, case_sensitive);
    atomic_init(&s->threads_set, threads != 0);
    int resolved = threads ? threads : spk_cpu_count();
    atomic_init(&s->threads, resolved > SPK_POOL_MAX_THREADS ? SPK_POOL_MAX_THREADS : resolved);
    atomic_init(&s->pool, NULL);
    *out = s;
    return SPK_OK;
}

/* spark.sparkless.threads set on a live session: later queries use it (the
 * pool keeps its size; runners beyond it queue and still finish). */
static void spk__session_set_threads(spk_session *s, int threads) {
    int resolved = threads ? threads : spk_cpu_count();
    atomic_store(&s->threads, resolved > SPK_POOL_MAX_THREADS ? SPK_POOL_MAX_THREADS : resolved);
    atomic_store(&s->threads_set, threads != 0);
}

static void spk__session_release(spk_session *s) {
    /* acq_rel: every use happens before the last release frees */
    if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) > 1) return;
    spk_pool_free(atomic_load_explicit(&s->pool, memory_order_acquire));
    spk__free(s->alloc, s, sizeof *s);
}

SPKDEF spk_df *spk_df_retain(spk_df *df) {
    if (df) atomic_fetch_add_explicit(&df->refs, 1, memory_order_relaxed); /* as spk_schema_retain */
    return df;
}

static void spk__free_qualifiers(const spk_allocator *a, char **q, int n) {
    if (!q) return;
    for (int i = 0; i < n; i++)
        if (q[i]) spk__free(a, q[i], strlen(q[i]) + 1);
    spk__free(a, q, (size_t)(n ? n : 1) * sizeof *q);
}

SPKDEF void spk_df_release(spk_df *df) {
    while (df && atomic_fetch_sub_explicit(&df->refs, 1, memory_order_acq_rel) == 1) {
        const spk_allocator *a = spk__df_alloc(df);
        for (int i = 0; i < df->nexprs; i++) {
            spk_expr_release(df->exprs[i]);
            if (df->bound) spk_bound_free(df->bound[i]);
        }
        if (df->exprs) spk__free(a, df->exprs, (size_t)df->nexprs * sizeof *df->exprs);
        if (df->bound) spk__free(a, df->bound, (size_t)df->nexprs * sizeof *df->bound);
        spk__free_qualifiers(a, df->qualifiers, spk_schema_ncols(df->schema));
        spk_schema_release(df->schema);
        spk_table_free(df->table);
        if (df->alias) spk__free(a, df->alias, strlen(df->alias) + 1);
        spk_df_release(df->right);
        spk_df *child = df->child; /* iterate down the chain: plans can be long */
        spk_session *s = df->session;
        spk__free(a, df, sizeof *df);
        spk__session_release(s);
        df = child;
    }
}

/* ---------------------------------------------------------------- building nodes */

static spk_df *spk__df_new(spk_session *s, spk__pkind kind, spk_df *child) {
    spk_df *df = (spk_df *)spk__calloc(s->alloc, sizeof *df);
    if (!df) {
        spk__nomem("a DataFrame", sizeof *df);
        return NULL;
    }
    atomic_init(&df->refs, 1);
    df->kind = (uint8_t)kind;
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed); /* the caller holds one */
    df->session = s;
    df->case_sensitive = child ? child->case_sensitive : atomic_load_explicit(&s->case_sensitive, memory_order_relaxed);
    df->child = spk_df_retain(child);
    df->limit = -1;
    return df;
}

/* Takes over `exprs` (consumed even on failure). */
static bool spk__df_set_exprs(spk_df *df, spk_expr *const *exprs, int n) {
    const spk_allocator *a = spk__df_alloc(df);
    df->exprs = (spk_expr **)spk__calloc(a, (size_t)(n ? n : 1) * sizeof *df->exprs);
    df->bound = df->exprs ? (spk_bound **)spk__calloc(a, (size_t)(n ? n : 1) * sizeof *df->bound) : NULL;
    if (!df->bound) {
        if (df->exprs) spk__free(a, df->exprs, (size_t)(n ? n : 1) * sizeof *df->exprs);
        df->exprs = NULL;
        for (int i = 0; i < n; i++) spk_expr_release(exprs[i]);
        spk__nomem("expressions", (size_t)n * sizeof *df->exprs);
        return false;
    }
    df->nexprs = n;
    for (int i = 0; i < n; i++) df->exprs[i] = exprs[i];
    return true;
}

static char *spk__dup(const spk_allocator *a, const char *s) {
    char *p = s ? spk__strndup(a, s, strlen(s)) : NULL;
    if (s && !p) spk__nomem("a name", strlen(s) + 1);
    return p;
}

/* Output columns of a node: a schema (duplicates allowed, as Spark) and qualifiers. */
static bool spk__df_set_output(spk_df *df, const spk_field *fields, int n, char *const *qualifiers) {
    spk_schema *s = NULL;
    if (spk__schema_make(spk__df_alloc(df), fields, n, true, &s) != SPK_OK) return false;
    df->schema = s;
    const spk_allocator *a = spk__df_alloc(df);
    df->qualifiers = (char **)spk__calloc(a, (size_t)(n ? n : 1) * sizeof *df->qualifiers);
    if (!df->qualifiers) {
        spk__nomem("column qualifiers", (size_t)n * sizeof(char *));
        return false;
    }
    for (int i = 0; qualifiers && i < n; i++) {
        if (qualifiers[i] && !(df->qualifiers[i] = spk__dup(a, qualifiers[i]))) return false;
    }
    return true;
}

/* Binds every expression of df against its child's columns. */
static spk_status spk__df_bind(spk_df *df, spk_df *input) {
    for (int i = 0; i < df->nexprs; i++) {
        const spk_expr *e = df->exprs[i];
        if (e && e->op == SPK__OP_SORT) e = e->args[0];
        spk_status st = spk__bind_scoped(e, input->schema, (const char *const *)input->qualifiers,
                                         df->case_sensitive, &df->bound[i]);
        if (st != SPK_OK) return st;
    }
    return SPK_OK;
}

/* The shared failure path of every transformation. */
static spk_df *spk__df_fail(spk_df *df) {
    spk_df_release(df);
    return NULL;
}

SPKDEF spk_df *spk_df_from_table(spk_session *s, spk_table *table) {
    if (!s || !table) {
        spk__fail(SPK_ERR_ARG, "spk_df_from_table: NULL argument");
        return NULL;
    }
    spk_df *df = spk__df_new(s, SPK__P_SCAN, NULL);
    if (!df) return NULL;
    df->table = table;
    df->schema = spk_schema_retain(spk_table_schema(table));
    df->qualifiers = (char **)spk__calloc(s->alloc, (size_t)(spk_schema_ncols(df->schema) ? spk_schema_ncols(df->schema) : 1) * sizeof(char *));
    if (!df->qualifiers) {
        df->table = NULL; /* the caller keeps it on failure */
        spk__nomem("column qualifiers", sizeof(char *));
        return spk__df_fail(df);
    }
    return df;
}

SPKDEF spk_df *spk_df_from_fixture(spk_session *s, const char *text) {
    if (!s) {
        spk__fail(SPK_ERR_ARG, "spk_df_from_fixture: NULL session");
        return NULL;
    }
    spk_table *t = NULL;
    if (spk_table_from_fixture(s->alloc, text, &t) != SPK_OK) return NULL;
    spk_df *df = spk_df_from_table(s, t);
    if (!df) spk_table_free(t);
    return df;
}

SPKDEF spk_df *spk_df_from_rows(spk_session *s, spk_schema *schema, const spk_value *values, size_t nrows) {
    if (!s || !schema) {
        spk__fail(SPK_ERR_ARG, "spk_df_from_rows: NULL argument");
        return NULL;
    }
    spk_table *t = NULL;
    if (spk_table_new(s->alloc, schema, &t) != SPK_OK) return NULL;
    if (spk_table_append_rows(t, values, nrows) != SPK_OK) {
        spk_table_free(t);
        return NULL;
    }
    spk_df *df = spk_df_from_table(s, t);
    if (!df) spk_table_free(t);
    return df;
}

SPKDEF spk_df *spk_df_range(spk_session *s, int64_t start, int64_t end, int64_t step) {
    if (!s || step == 0) {
        spk__fail(SPK_ERR_ARG, "spk_df_range: %s", s ? "step must not be 0" : "NULL session");
        return NULL;
    }
    spk_field f = {"id", spk_type_of(SPK_TYPE_INT64), false};
    spk_schema *schema = NULL;
    spk_table *t = NULL;
    if (spk_schema_new(s->alloc, &f, 1, &schema) != SPK_OK) return NULL;
    spk_status st = spk_table_new(s->alloc, schema, &t);
    spk_schema_release(schema);
    if (st != SPK_OK) return NULL;
    /* Rows are produced in batches straight into the table. */
    spk__vec v;
    int64_t values[SPK__BATCH];
    uint8_t nulls[SPK__BATCH] = {0};
    v.type = f.type;
    v.nulls = nulls;
    v.v.i64 = values;
    spk__vec *cols[1] = {&v};
    int64_t x = start;
    while (st == SPK_OK && (step > 0 ? x < end : x > end)) {
        uint32_t n = 0;
        while (n < SPK__BATCH && (step > 0 ? x < end : x > end)) {
            values[n++] = x;
            if ((step > 0 && x > INT64_MAX - step) || (step < 0 && x < INT64_MIN - step)) {
                x = end; /* the next value would pass the end anyway */
                break;
            }
            x += step;
        }
        st = spk__table_append_vecs(t, cols, NULL, n);
    }
    if (st != SPK_OK) {
        spk_table_free(t);
        return NULL;
    }
    spk_df *df = spk_df_from_table(s, t);
    if (!df) spk_table_free(t);
    return df;
}

/* ---------------------------------------------------------------- projections */

/* Appends the expressions `*` or `q.*` expand to, as column references. */
static int spk__expand_star(const spk_df *input, const spk_expr *star, spk_expr **out, int cap) {
    int n = 0, ncols = spk_schema_ncols(input->schema);
    for (int i = 0; i < ncols; i++) {
        const char *q = input->qualifiers[i];
        if (star->qualifier && (!q || !spk__name_eq(q, star->qualifier, false))) continue;
        if (n >= cap) return -1;
        spk_expr *c = spk__with_name(spk__expr_new(SPK__OP_COL, 0), spk_schema_field(input->schema, i)->name,
                                     strlen(spk_schema_field(input->schema, i)->name));
        if (c && q && !(c->qualifier = spk__strndup(spk__expr_alloc(), q, strlen(q)))) {
            spk_expr_release(c);
            c = NULL;
        }
        if (!c) {
            for (int k = 0; k < n; k++) spk_expr_release(out[k]);
            return -2;
        }
        out[n++] = c;
    }
    return n;
}

/* A column used outside every aggregate of b that is not a grouping key of g. */
static const spk__bnode *spk__bare_column_except(const spk__bnode *b, const spk_df *g) {
    if (b->kind == SPK__B_AGG) return NULL;
    if (b->kind == SPK__B_COL) {
        for (int k = 0; k < g->nkeys; k++)
            if (g->bound[k]->root->kind == SPK__B_COL && g->bound[k]->root->col == b->col) return NULL;
        return b;
    }
    for (int i = 0; i < b->nargs; i++) {
        const spk__bnode *c = spk__bare_column_except(b->args[i], g);
        if (c) return c;
    }
    return NULL;
}

/* A PROJECT of `exprs` (consumed) over df. The output name of each column is
 * the alias or Spark's text of the expression; a column reference keeps its
 * qualifier. */
static spk_df *spk__project(spk_df *df, spk_expr *const *exprs, int n) {
    if (!df) {
        for (int i = 0; i < n; i++) spk_expr_release(exprs[i]);
        return NULL;
    }
    /* expand stars first */
    int ncols = spk_schema_ncols(df->schema), cap = n + ncols * n + 1, total = 0;
    const spk_allocator *a = spk__df_alloc(df);
    spk_expr **all = (spk_expr **)spk__calloc(a, (size_t)cap * sizeof *all);
    if (!all) {
        for (int i = 0; i < n; i++) spk_expr_release(exprs[i]);
        spk__nomem("a projection", (size_t)cap * sizeof *all);
        return NULL;
    }
    bool ok = true;
    for (int i = 0; i < n; i++) {
        if (!exprs[i]) {
            ok = false;
            continue;
        }
        if (ok && exprs[i]->op == SPK__OP_STAR) {
            int k = spk__expand_star(df, exprs[i], all + total, cap - total);
            if (k < 0) ok = false;
            else if (k == 0 && exprs[i]->qualifier) {
                spk__fail(SPK_ERR_NOT_FOUND, "[CANNOT_RESOLVE_STAR_EXPAND] Cannot resolve `%s`.* given input columns",
                          exprs[i]->qualifier);
                ok = false;
            } else {
                total += k;
            }
            spk_expr_release(exprs[i]);
        } else if (ok) {
            all[total++] = exprs[i];
        } else {
            spk_expr_release(exprs[i]);
        }
    }
    spk_df *p = ok ? spk__df_new(df->session, SPK__P_PROJECT, df) : NULL;
    if (!p) {
        for (int i = 0; i < total; i++) spk_expr_release(all[i]);
        spk__free(a, all, (size_t)cap * sizeof *all);
        return NULL;
    }
    bool set = spk__df_set_exprs(p, all, total);
    spk__free(a, all, (size_t)cap * sizeof *all);
    if (!set || spk__df_bind(p, df) != SPK_OK) return spk__df_fail(p);
    spk_field stack_fields[32], *fields = stack_fields;
    char *stack_q[32], **quals = stack_q;
    size_t fsize = (size_t)total * sizeof *fields, qsize = (size_t)total * sizeof *quals;
    if (total > 32) {
        fields = (spk_field *)spk__alloc(a, fsize);
        quals = fields ? (char **)spk__alloc(a, qsize) : NULL;
        if (!quals) {
            if (fields) spk__free(a, fields, fsize);
            spk__nomem("a projection", fsize + qsize);
            return spk__df_fail(p);
        }
    }
    for (int i = 0; i < total; i++) {
        const spk_expr *e = p->exprs[i];
        const spk_bound *b = p->bound[i];
        fields[i].name = e->op == SPK__OP_COL ? e->name : spk_bound_name(b);
        fields[i].type = spk_bound_type(b);
        fields[i].nullable = spk_bound_nullable(b) || fields[i].type.id == SPK_TYPE_NULL;
        quals[i] = NULL;
        if (e->op == SPK__OP_COL && b->root->kind == SPK__B_COL) quals[i] = df->qualifiers[b->root->col];
    }
    ok = spk__df_set_output(p, fields, total, quals);
    if (fields != stack_fields) {
        spk__free(a, fields, fsize);
        spk__free(a, quals, qsize);
    }
    if (!ok) return spk__df_fail(p);
    /* select(sum(x), ...) aggregates the whole frame, as Spark's analyzer
     * turns such a projection into an aggregation without keys. */
    for (int i = 0; i < total; i++)
        if (p->bound[i]->aggregate) p->kind = SPK__P_AGG;
    for (int i = 0; p->kind == SPK__P_AGG && i < total; i++) {
        const spk__bnode *bare = spk__bare_column_except(p->bound[i]->root, p);
        if (bare) {
            spk__fail(SPK_ERR_ANALYSIS,
                      "[MISSING_AGGREGATION] The non-aggregating expression \"%s\" is based on columns which are not "
                      "participating in the GROUP BY clause: `%s`.", spk_bound_name(p->bound[i]), bare->name);
            return spk__df_fail(p);
        }
    }
    return p;
}

SPKDEF spk_df *spk_df_select_array(spk_df *df, spk_expr *const *exprs, int n) {
    if (n < 0 || (n && !exprs)) {
        spk__fail(SPK_ERR_ARG, "spk_df_select: bad arguments");
        return NULL;
    }
    return spk__project(df, exprs, n);
}

#define SPK__VA_EXPRS(n, last, body)                                                                   \
    spk_expr *stack_[32] = {NULL}, **list_ = stack_;                                                   \
    size_t size_ = (size_t)((n) > 0 ? (n) : 0) * sizeof *list_;                                        \
    bool heap_ = (n) > 32;                                                                             \
    if (heap_ && !(list_ = (spk_expr **)spk__alloc(&spk__default_allocator, size_))) list_ = NULL;     \
    va_list ap_;                                                                                       \
    va_start(ap_, last);                                                                               \
    for (int i_ = 0; i_ < (n); i_++) {                                                                 \
        spk_expr *x_ = va_arg(ap_, spk_expr *);                                                        \
        if (list_) list_[i_] = x_;                                                                     \
        else spk_expr_release(x_);                                                                     \
    }                                                                                                  \
    va_end(ap_);                                                                                       \
    spk_df *result_ = NULL;                                                                            \
    if (!list_) spk__nomem("arguments", size_);                                                        \
    else { body; }                                                                                     \
    if (heap_ && list_) spk__free(&spk__default_allocator, list_, size_);                              \
    return result_

SPKDEF spk_df *spk_df_select(spk_df *df, int n, ...) {
    SPK__VA_EXPRS(n, n, result_ = spk_df_select_array(df, list_, n));
}

SPKDEF spk_df *spk_df_select_expr(spk_df *df, int n, ...) {
    spk_expr *stack[32] = {NULL}, **list = stack;
    size_t size = (size_t)(n > 0 ? n : 0) * sizeof *list;
    if (n > 32 && !(list = (spk_expr **)spk__calloc(&spk__default_allocator, size))) {
        spk__nomem("arguments", size);
        return NULL;
    }
    va_list ap;
    va_start(ap, n);
    spk_status st = SPK_OK;
    int parsed = 0;
    for (int i = 0; i < n; i++) {
        const char *sql = va_arg(ap, const char *);
        if (st == SPK_OK && (st = spk_expr_parse(sql, &list[i])) == SPK_OK) parsed++;
    }
    va_end(ap);
    spk_df *r = NULL;
    if (st == SPK_OK) r = df ? spk__project(df, list, n) : NULL;
    else for (int i = 0; i < parsed; i++) spk_expr_release(list[i]);
    if (st == SPK_OK && !df) for (int i = 0; i < n; i++) spk_expr_release(list[i]);
    if (list != stack) spk__free(&spk__default_allocator, list, size);
    return r;
}

/* A projection of every column of df, by reference. */
static int spk__all_columns(const spk_df *df, spk_expr **out, int skip_col) {
    int n = 0, ncols = spk_schema_ncols(df->schema);
    for (int i = 0; i < ncols; i++) {
        if (i == skip_col) continue;
        const spk_field *f = spk_schema_field(df->schema, i);
        /* Reference by position-safe name: quote it so dots and case survive. */
        spk_expr *c = spk__with_name(spk__expr_new(SPK__OP_COL, 0), f->name, strlen(f->name));
        if (c && df->qualifiers[i] && !(c->qualifier = spk__strndup(spk__expr_alloc(), df->qualifiers[i], strlen(df->qualifiers[i])))) {
            spk_expr_release(c);
            c = NULL;
        }
        if (!c) {
            for (int k = 0; k < n; k++) spk_expr_release(out[k]);
            return -1;
        }
        out[n++] = c;
    }
    return n;
}

/* withColumns: every value is computed from df's columns (not from another
 * new column), each replacing the column of its name in place or, if there
 * is none, added at the end in the order given, as Spark does. */
SPKDEF spk_df *spk_df_with_columns(spk_df *df, const char *const *names, spk_expr *const *values, int n) {
    bool ok = df && n >= 0 && (n == 0 || (names && values));
    for (int k = 0; ok && k < n; k++) ok = names[k] && values[k];
    int ncols = df ? spk_schema_ncols(df->schema) : 0;
    size_t size = (size_t)(ncols + (n > 0 ? n : 0) + 1) * sizeof(spk_expr *);
    spk_expr **list = ok ? (spk_expr **)spk__alloc(&spk__default_allocator, size) : NULL;
    int total = list ? spk__all_columns(df, list, -1) : -1;
    if (total < 0) {
        if (ok && !list) spk__nomem("withColumns", size);
        else if (df && !ok) spk__fail(SPK_ERR_ARG, "withColumns: NULL name or value");
        for (int k = 0; values && k < n; k++) spk_expr_release(values[k]);
        if (list) spk__free(&spk__default_allocator, list, size);
        return NULL;
    }
    for (int k = 0; k < n; k++) {
        spk_expr *named = spk_alias(values[k], names[k]);
        if (!named) { /* consume the rest and fail */
            for (int m = k + 1; m < n; m++) spk_expr_release(values[m]);
            for (int i = 0; i < total; i++) spk_expr_release(list[i]);
            spk__free(&spk__default_allocator, list, size);
            return NULL;
        }
        int existing = -1;
        for (int i = 0; i < total && existing < 0; i++) /* the input's column, or one added just now */
            if (spk__name_eq(i < ncols ? spk_schema_field(df->schema, i)->name : list[i]->name, names[k],
                             df->case_sensitive))
                existing = i;
        if (existing >= 0) {
            spk_expr_release(list[existing]);
            list[existing] = named;
        } else {
            list[total++] = named;
        }
    }
    spk_df *r = spk__project(df, list, total);
    spk__free(&spk__default_allocator, list, size);
    return r;
}

SPKDEF spk_df *spk_df_with_column(spk_df *df, const char *name, spk_expr *value) {
    if (!name) {
        spk_expr_release(value);
        if (df) spk__fail(SPK_ERR_ARG, "spk_df_with_column: NULL name");
        return NULL;
    }
    return spk_df_with_columns(df, &name, &value, 1);
}

SPKDEF spk_df *spk_df_with_column_renamed(spk_df *df, const char *existing, const char *new_name) {
    if (!df) return NULL;
    if (!existing || !new_name || !new_name[0]) {
        spk__fail(SPK_ERR_ARG, "spk_df_with_column_renamed: bad names");
        return NULL;
    }
    int ncols = spk_schema_ncols(df->schema);
    size_t size = (size_t)(ncols ? ncols : 1) * sizeof(spk_expr *);
    spk_expr **list = (spk_expr **)spk__alloc(&spk__default_allocator, size);
    if (!list) {
        spk__nomem("withColumnRenamed", size);
        return NULL;
    }
    int n = spk__all_columns(df, list, -1);
    if (n < 0) {
        spk__free(&spk__default_allocator, list, size);
        return NULL;
    }
    bool ok = true;
    for (int i = 0; i < n; i++) /* renaming a missing column is a no-op in Spark */
        if (spk__name_eq(spk_schema_field(df->schema, i)->name, existing, df->case_sensitive))
            ok = ok && (list[i] = spk_alias(list[i], new_name)) != NULL;
    spk_df *r = NULL;
    if (ok) r = spk__project(df, list, n);
    else for (int i = 0; i < n; i++) spk_expr_release(list[i]);
    spk__free(&spk__default_allocator, list, size);
    return r;
}

SPKDEF spk_df *spk_df_drop(spk_df *df, int n, ...) {
    if (!df) return NULL;
    int ncols = spk_schema_ncols(df->schema);
    size_t size = (size_t)(ncols ? ncols : 1) * sizeof(spk_expr *);
    spk_expr **list = (spk_expr **)spk__alloc(&spk__default_allocator, size);
    bool *gone = list ? (bool *)spk__calloc(&spk__default_allocator, (size_t)(ncols ? ncols : 1)) : NULL;
    if (!gone) {
        if (list) spk__free(&spk__default_allocator, list, size);
        spk__nomem("drop", size);
        return NULL;
    }
    va_list ap;
    va_start(ap, n);
    for (int k = 0; k < n; k++) {
        const char *name = va_arg(ap, const char *);
        for (int i = 0; name && i < ncols; i++)
            if (spk__name_eq(spk_schema_field(df->schema, i)->name, name, df->case_sensitive)) gone[i] = true;
    }
    va_end(ap);
    int total = 0;
    spk_df *r = NULL;
    int all = spk__all_columns(df, list, -1);
    if (all >= 0) {
        for (int i = 0; i < all; i++) {
            if (gone[i]) spk_expr_release(list[i]);
            else list[total++] = list[i];
        }
        r = spk__project(df, list, total);
    }
    spk__free(&spk__default_allocator, gone, (size_t)(ncols ? ncols : 1));
    spk__free(&spk__default_allocator, list, size);
    return r;
}

SPKDEF spk_df *spk_df_alias(spk_df *df, const char *alias) {
    if (!df) return NULL;
    if (!alias || !alias[0]) {
        spk__fail(SPK_ERR_ARG, "spk_df_alias: empty alias");
        return NULL;
    }
    int ncols = spk_schema_ncols(df->schema);
    size_t size = (size_t)(ncols ? ncols : 1) * sizeof(spk_expr *);
    spk_expr **list = (spk_expr **)spk__alloc(&spk__default_allocator, size);
    if (!list) {
        spk__nomem("alias", size);
        return NULL;
    }
    int n = spk__all_columns(df, list, -1);
    spk_df *r = n >= 0 ? spk__project(df, list, n) : NULL;
    spk__free(&spk__default_allocator, list, size);
    if (!r) return NULL;
    const spk_allocator *a = spk__df_alloc(r);
    for (int i = 0; i < ncols; i++) { /* every column now answers to the alias */
        if (r->qualifiers[i]) spk__free(a, r->qualifiers[i], strlen(r->qualifiers[i]) + 1);
        if (!(r->qualifiers[i] = spk__dup(a, alias))) return spk__df_fail(r);
    }
    if (!(r->alias = spk__dup(a, alias))) return spk__df_fail(r);
    return r;
}

/* ---------------------------------------------------------------- filter, limit, sort, ... */

SPKDEF spk_df *spk_df_filter(spk_df *df, spk_expr *condition) {
    if (!df || !condition) {
        spk_expr_release(condition);
        return NULL;
    }
    spk_df *f = spk__df_new(df->session, SPK__P_FILTER, df);
    if (!f || !spk__df_set_exprs(f, &condition, 1)) {
        if (!f) spk_expr_release(condition);
        return spk__df_fail(f);
    }
    if (spk__df_bind(f, df) != SPK_OK) return spk__df_fail(f);
    spk_type t = spk_bound_type(f->bound[0]);
    if (t.id != SPK_TYPE_BOOLEAN && t.id != SPK_TYPE_NULL) {
        char ty[32];
        spk_type_format(t, SPK_TYPE_SQL, ty, sizeof ty);
        spk__fail(SPK_ERR_TYPE, "[DATATYPE_MISMATCH.FILTER_NOT_BOOLEAN] Cannot resolve \"%s\": the filter has type \"%s\", not \"BOOLEAN\".",
                  spk_bound_name(f->bound[0]), ty);
        return spk__df_fail(f);
    }
    if (spk_bound_is_aggregate(f->bound[0])) {
        spk__fail(SPK_ERR_ANALYSIS, "[INVALID_WHERE_CONDITION] the WHERE condition \"%s\" contains an aggregate",
                  spk_bound_name(f->bound[0]));
        return spk__df_fail(f);
    }
    f->schema = spk_schema_retain(df->schema);
    int ncols = spk_schema_ncols(df->schema);
    f->qualifiers = (char **)spk__calloc(spk__df_alloc(f), (size_t)(ncols ? ncols : 1) * sizeof(char *));
    if (!f->qualifiers) return spk__df_fail(f);
    for (int i = 0; i < ncols; i++)
        if (df->qualifiers[i] && !(f->qualifiers[i] = spk__dup(spk__df_alloc(f), df->qualifiers[i]))) return spk__df_fail(f);
    return f;
}

SPKDEF spk_df *spk_df_where(spk_df *df, const char *condition_sql) {
    if (!df) return NULL;
    spk_expr *e = NULL;
    if (spk_expr_parse(condition_sql, &e) != SPK_OK) return NULL;
    return spk_df_filter(df, e);
}

/* A node with the same columns as its child (filter-like shape). */
static spk_df *spk__same_columns(spk_df *df, spk__pkind kind) {
    spk_df *n = spk__df_new(df->session, kind, df);
    if (!n) return NULL;
    n->schema = spk_schema_retain(df->schema);
    int ncols = spk_schema_ncols(df->schema);
    n->qualifiers = (char **)spk__calloc(spk__df_alloc(n), (size_t)(ncols ? ncols : 1) * sizeof(char *));
    if (!n->qualifiers) return spk__df_fail(n);
    for (int i = 0; i < ncols; i++)
        if (df->qualifiers[i] && !(n->qualifiers[i] = spk__dup(spk__df_alloc(n), df->qualifiers[i]))) return spk__df_fail(n);
    return n;
}

SPKDEF spk_df *spk_df_limit(spk_df *df, int64_t n) {
    if (!df) return NULL;
    if (n < 0) {
        spk__fail(SPK_ERR_ARG, "[INVALID_LIMIT_LIKE_EXPRESSION.IS_NEGATIVE] The limit must be >= 0, got %lld", (long long)n);
        return NULL;
    }
    spk_df *l = spk__same_columns(df, SPK__P_LIMIT);
    if (l) l->limit = n;
    return l;
}

SPKDEF spk_df *spk_df_offset(spk_df *df, int64_t n) {
    if (!df) return NULL;
    if (n < 0) {
        spk__fail(SPK_ERR_ARG, "[INVALID_LIMIT_LIKE_EXPRESSION.IS_NEGATIVE] The offset must be >= 0, got %lld", (long long)n);
        return NULL;
    }
    spk_df *l = spk__same_columns(df, SPK__P_LIMIT);
    if (l) l->offset = n;
    return l;
}

SPKDEF spk_df *spk_df_distinct(spk_df *df) {
    if (!df) return NULL;
    return spk__same_columns(df, SPK__P_DISTINCT);
}

static spk_expr *spk__sort_key(spk_expr *e, bool desc, bool nulls_first) {
    spk_expr *s = spk__unary(SPK__OP_SORT, e);
    if (s) {
        s->descending = desc;
        s->nulls_first = nulls_first;
    }
    return s;
}
/* Spark's defaults: ascending puts NULLs first, descending puts them last. */
SPKDEF spk_expr *spk_asc(spk_expr *e) { return spk__sort_key(e, false, true); }
SPKDEF spk_expr *spk_desc(spk_expr *e) { return spk__sort_key(e, true, false); }
SPKDEF spk_expr *spk_asc_nulls_last(spk_expr *e) { return spk__sort_key(e, false, false); }
SPKDEF spk_expr *spk_desc_nulls_first(spk_expr *e) { return spk__sort_key(e, true, true); }

SPKDEF spk_df *spk_df_order_by_array(spk_df *df, spk_expr *const *keys, int n) {
    if (!df || n < 1) {
        for (int i = 0; i < n; i++) spk_expr_release(keys[i]);
        if (df) spk__fail(SPK_ERR_ARG, "orderBy needs at least one key");
        return NULL;
    }
    spk_expr *stack[32], **list = stack;
    size_t size = (size_t)n * sizeof *list;
    if (n > 32 && !(list = (spk_expr **)spk__alloc(&spk__default_allocator, size))) {
        for (int i = 0; i < n; i++) spk_expr_release(keys[i]);
        spk__nomem("sort keys", size);
        return NULL;
    }
    bool ok = true;
    for (int i = 0; i < n; i++) {
        spk_expr *k = keys[i];
        if (k && k->op != SPK__OP_SORT) k = spk_asc(k);
        list[i] = k;
        ok = ok && k;
    }
    spk_df *s = ok ? spk__same_columns(df, SPK__P_SORT) : NULL;
    if (!s) {
        for (int i = 0; i < n; i++) spk_expr_release(list[i]);
    } else if (!spk__df_set_exprs(s, list, n) || spk__df_bind(s, df) != SPK_OK) {
        s = spk__df_fail(s);
    }
    if (list != stack) spk__free(&spk__default_allocator, list, size);
    return s;
}

SPKDEF spk_df *spk_df_sort_array(spk_df *df, spk_expr *const *keys, int n) { return spk_df_order_by_array(df, keys, n); }

SPKDEF spk_df *spk_df_order_by(spk_df *df, int n, ...) {
    SPK__VA_EXPRS(n, n, result_ = spk_df_order_by_array(df, list_, n));
}

/* The output of a set operation: a's names (and aliases, as Spark keeps the
 * first input's attributes), each type the two inputs' common type. `op`
 * names it in errors. Nullability: either side's for UNION, both sides' for
 * INTERSECT, the first's for EXCEPT. */
static spk_df *spk__set_op(spk_df *a, spk_df *b, int kind, bool all, const char *op) {
    if (!a || !b) return NULL;
    if (a->session->alloc != b->session->alloc) { /* a session and its children share one */
        spk__fail(SPK_ERR_ARG, "%s: the DataFrames come from sessions with different allocators", op);
        return NULL;
    }
    int na = spk_schema_ncols(a->schema), nb = spk_schema_ncols(b->schema);
    if (na != nb) {
        spk__fail(SPK_ERR_SCHEMA, "[NUM_COLUMNS_MISMATCH] %s can only be performed on inputs with the same number of "
                                  "columns, but the first input has %d columns and the second input has %d columns.",
                  op, na, nb);
        return NULL;
    }
    spk_field stack[32], *fields = stack;
    size_t size = (size_t)(na ? na : 1) * sizeof *fields;
    if (na > 32 && !(fields = (spk_field *)spk__alloc(&spk__default_allocator, size))) {
        spk__nomem("a set operation", size);
        return NULL;
    }
    bool ok = true;
    for (int i = 0; i < na && ok; i++) {
        const spk_field *fa = spk_schema_field(a->schema, i), *fb = spk_schema_field(b->schema, i);
        fields[i] = *fa;
        fields[i].nullable = kind == SPK__P_UNION ? fa->nullable || fb->nullable
                           : kind == SPK__P_INTERSECT ? fa->nullable && fb->nullable : fa->nullable;
        /* Spark widens to STRING, but not from BOOLEAN (TypeCoercion.stringPromotion) */
        bool boolean_string = (fa->type.id == SPK_TYPE_BOOLEAN && fb->type.id == SPK_TYPE_STRING) ||
                              (fa->type.id == SPK_TYPE_STRING && fb->type.id == SPK_TYPE_BOOLEAN);
        if (boolean_string || !spk__common_type(fa->type, fb->type, false, &fields[i].type)) {
            char x[32], y[32];
            spk_type_format(fa->type, SPK_TYPE_SQL, x, sizeof x);
            spk_type_format(fb->type, SPK_TYPE_SQL, y, sizeof y);
            spk__fail(SPK_ERR_SCHEMA, "[INCOMPATIBLE_COLUMN_TYPE] %s can only be performed on inputs with compatible "
                                      "column types: column %d (`%s`) is \"%s\" in the first input and \"%s\" in the second.",
                      op, i + 1, fa->name, x, y);
            ok = false;
        }
    }
    spk_df *u = ok ? spk__df_new(a->session, (spk__pkind)kind, a) : NULL;
    if (u) {
        u->right = spk_df_retain(b);
        u->all = all;
        if (!spk__df_set_output(u, fields, na, a->qualifiers)) u = spk__df_fail(u);
    }
    if (fields != stack) spk__free(&spk__default_allocator, fields, size);
    return u;
}

SPKDEF spk_df *spk_df_union_all(spk_df *a, spk_df *b) { return spk_df_union(a, b); }

SPKDEF spk_df *spk_df_union(spk_df *a, spk_df *b) { return spk__set_op(a, b, SPK__P_UNION, true, "UNION"); }
SPKDEF spk_df *spk_df_intersect(spk_df *a, spk_df *b) { return spk__set_op(a, b, SPK__P_INTERSECT, false, "INTERSECT"); }
SPKDEF spk_df *spk_df_intersect_all(spk_df *a, spk_df *b) { return spk__set_op(a, b, SPK__P_INTERSECT, true, "INTERSECT"); }
SPKDEF spk_df *spk_df_subtract(spk_df *a, spk_df *b) { return spk__set_op(a, b, SPK__P_EXCEPT, false, "EXCEPT"); }
SPKDEF spk_df *spk_df_except_all(spk_df *a, spk_df *b) { return spk__set_op(a, b, SPK__P_EXCEPT, true, "EXCEPT"); }

/* A reference to column `name` of a frame whose alias is `qualifier` (or none). */
static spk_expr *spk__col_ref(const char *qualifier, const char *name) {
    spk_expr *c = spk__with_name(spk__expr_new(SPK__OP_COL, 0), name, strlen(name));
    if (c && qualifier && !(c->qualifier = spk__strndup(spk__expr_alloc(), qualifier, strlen(qualifier)))) {
        spk_expr_release(c);
        spk__nomem("a column qualifier", strlen(qualifier) + 1);
        return NULL;
    }
    return c;
}

/* A NULL of type t named `name`, for a column one input of a union lacks. */
static spk_expr *spk__null_column(spk_type t, const char *name) {
    return spk_alias(spk_cast(spk_lit_null(), t), name);
}

/* A list of n expressions on the heap; releases them all if any is NULL. */
static spk_expr **spk__expr_list(int n) {
    size_t size = (size_t)(n > 0 ? n : 1) * sizeof(spk_expr *);
    spk_expr **l = (spk_expr **)spk__calloc(&spk__default_allocator, size);
    if (!l) spk__nomem("expressions", size);
    return l;
}
static void spk__expr_list_free(spk_expr **l, int n, int made) {
    for (int i = 0; i < made; i++) spk_expr_release(l[i]);
    spk__free(&spk__default_allocator, l, (size_t)(n > 0 ? n : 1) * sizeof(spk_expr *));
}

SPKDEF spk_df *spk_df_union_by_name(spk_df *a, spk_df *b, bool allow_missing_columns) {
    if (!a || !b) return NULL;
    bool cs = a->case_sensitive;
    int na = spk_schema_ncols(a->schema), nb = spk_schema_ncols(b->schema), extra = 0;
    bool *used = (bool *)spk__calloc(&spk__default_allocator, (size_t)(nb ? nb : 1));
    spk_expr **lb = used ? spk__expr_list(na + nb) : NULL, **la = lb ? spk__expr_list(na + nb) : NULL;
    int mb = 0, ma = 0;
    bool ok = la != NULL;
    if (!used) spk__nomem("unionByName", (size_t)nb);
    /* b reordered by a's names (Spark's ResolveUnion) */
    for (int i = 0; ok && i < na; i++) {
        const spk_field *fa = spk_schema_field(a->schema, i);
        int j = 0;
        while (j < nb && !spk__name_eq(spk_schema_field(b->schema, j)->name, fa->name, cs)) j++;
        if (j < nb) {
            used[j] = true;
            ok = (lb[mb++] = spk__col_ref(b->qualifiers[j], spk_schema_field(b->schema, j)->name)) != NULL;
        } else if (allow_missing_columns) {
            ok = (lb[mb++] = spk__null_column(fa->type, fa->name)) != NULL;
        } else {
            spk__fail(SPK_ERR_SCHEMA, "[UNRESOLVED_COLUMN_AMONG_FIELD_NAMES] Cannot resolve column name `%s` among (", fa->name);
            for (int k = 0; k < nb; k++) spk__fail_append("%s%s", k ? ", " : "", spk_schema_field(b->schema, k)->name);
            spk__fail_append(").");
            ok = false;
        }
    }
    /* b's other columns go last; a gets NULLs for them if allowed, else the
     * union fails on the column count, as Spark's */
    for (int j = 0; ok && j < nb; j++) {
        if (used[j]) continue;
        extra++;
        ok = (lb[mb++] = spk__col_ref(b->qualifiers[j], spk_schema_field(b->schema, j)->name)) != NULL;
    }
    spk_df *r = NULL;
    if (ok && allow_missing_columns && extra) {
        for (int i = 0; ok && i < na; i++)
            ok = (la[ma++] = spk__col_ref(a->qualifiers[i], spk_schema_field(a->schema, i)->name)) != NULL;
        for (int j = 0; ok && j < nb; j++)
            if (!used[j]) ok = (la[ma++] = spk__null_column(spk_schema_field(b->schema, j)->type, spk_schema_field(b->schema, j)->name)) != NULL;
    }
    if (ok) {
        spk_df *pa = ma ? spk__project(a, la, ma) : spk_df_retain(a);
        spk_df *pb = spk__project(b, lb, mb);
        ma = mb = 0; /* consumed */
        r = pa && pb ? spk_df_union(pa, pb) : NULL;
        spk_df_release(pa);
        spk_df_release(pb);
    }
    if (la) spk__expr_list_free(la, na + nb, ma);
    if (lb) spk__expr_list_free(lb, na + nb, mb);
    if (used) spk__free(&spk__default_allocator, used, (size_t)(nb ? nb : 1));
    return r;
}

/* ---------------------------------------------------------------- joins */

/* Spark's JoinType names: case-insensitive, underscores ignored. */
static bool spk__join_type(const char *how, spk__jtype *out) {
    static const struct { const char *name; spk__jtype type; } names[] = {
        {"inner", SPK__J_INNER},     {"cross", SPK__J_CROSS},     {"outer", SPK__J_FULL},
        {"full", SPK__J_FULL},       {"fullouter", SPK__J_FULL},  {"left", SPK__J_LEFT},
        {"leftouter", SPK__J_LEFT},  {"right", SPK__J_RIGHT},     {"rightouter", SPK__J_RIGHT},
        {"semi", SPK__J_SEMI},       {"leftsemi", SPK__J_SEMI},   {"anti", SPK__J_ANTI},
        {"leftanti", SPK__J_ANTI},
    };
    if (!how) {
        *out = SPK__J_INNER;
        return true;
    }
    char norm[16];
    size_t n = 0;
    for (const char *p = how; *p; p++) {
        if (*p == '_') continue;
        if (n + 1 >= sizeof norm) break;
        norm[n++] = (char)spk__lower((unsigned char)*p);
    }
    norm[n] = '\0';
    for (size_t i = 0; n + 1 < sizeof norm && i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(norm, names[i].name) == 0) {
            *out = names[i].type;
            return true;
        }
    }
    spk__fail(SPK_ERR_ARG, "[UNSUPPORTED_JOIN_TYPE] Unsupported join type '%s'. Supported join types include: 'inner', "
                           "'outer', 'full', 'fullouter', 'full_outer', 'leftouter', 'left', 'left_outer', 'rightouter', "
                           "'right', 'right_outer', 'leftsemi', 'left_semi', 'semi', 'leftanti', 'left_anti', 'anti', 'cross'.",
              how);
    return false;
}

/* A JOIN node; `on` (consumed) may be NULL: every pair of rows qualifies. */
static spk_df *spk__join(spk_df *left, spk_df *right, spk_expr *on, spk__jtype type) {
    if (left->session->alloc != right->session->alloc) {
        spk_expr_release(on);
        spk__fail(SPK_ERR_ARG, "join: the DataFrames come from sessions with different allocators");
        return NULL;
    }
    int nl = spk_schema_ncols(left->schema), nr = spk_schema_ncols(right->schema), n = nl + nr;
    const spk_allocator *a = &spk__default_allocator;
    size_t fsize = (size_t)(n ? n : 1) * sizeof(spk_field), qsize = (size_t)(n ? n : 1) * sizeof(char *);
    spk_field *fields = (spk_field *)spk__alloc(a, fsize);
    char **quals = fields ? (char **)spk__alloc(a, qsize) : NULL;
    spk_df *j = quals ? spk__df_new(left->session, (spk__pkind)SPK__P_JOIN, left) : NULL;
    spk_schema *input = NULL;
    bool ok = j != NULL;
    if (!quals) spk__nomem("a join", fsize + qsize);
    if (ok) {
        j->right = spk_df_retain(right);
        j->join = (uint8_t)type;
        for (int i = 0; i < n; i++) {
            const spk_df *side = i < nl ? left : right;
            fields[i] = *spk_schema_field(side->schema, i < nl ? i : i - nl);
            quals[i] = side->qualifiers[i < nl ? i : i - nl];
        }
        /* The condition sees both sides' columns, as they are. */
        ok = spk__schema_make(a, fields, n, true, &input) == SPK_OK;
    }
    if (on) { /* consumed either way */
        if (ok) ok = spk__df_set_exprs(j, &on, 1);
        else spk_expr_release(on);
        on = NULL;
    }
    if (ok && j->nexprs) {
        ok = spk__bind_scoped(j->exprs[0], input, (const char *const *)quals, j->case_sensitive, &j->bound[0]) == SPK_OK;
        spk_type t = ok ? spk_bound_type(j->bound[0]) : spk_type_of(SPK_TYPE_BOOLEAN);
        if (t.id != SPK_TYPE_BOOLEAN && t.id != SPK_TYPE_NULL) {
            char ty[32];
            spk_type_format(t, SPK_TYPE_SQL, ty, sizeof ty);
            spk__fail(SPK_ERR_TYPE, "[JOIN_CONDITION_IS_NOT_BOOLEAN_TYPE] The join condition \"%s\" has the invalid type "
                                    "\"%s\", expected \"BOOLEAN\".", spk_bound_name(j->bound[0]), ty);
            ok = false;
        } else if (ok && spk_bound_is_aggregate(j->bound[0])) {
            spk__fail(SPK_ERR_ANALYSIS, "[UNSUPPORTED_EXPR_FOR_OPERATOR] A query operator contains one or more unsupported "
                                   "expressions. Consider to rewrite it to avoid window functions, aggregate functions, "
                                   "and generator functions in the WHERE clause. Invalid expressions: [%s]",
                      spk_bound_name(j->bound[0]));
            ok = false;
        }
    }
    if (ok) {
        /* Outer joins make the side that may be missing nullable; semi and
         * anti joins keep only the left columns. */
        for (int i = 0; i < n; i++)
            if ((i < nl && (type == SPK__J_RIGHT || type == SPK__J_FULL)) || (i >= nl && (type == SPK__J_LEFT || type == SPK__J_FULL)))
                fields[i].nullable = true;
        ok = spk__df_set_output(j, fields, type == SPK__J_SEMI || type == SPK__J_ANTI ? nl : n, quals);
    }
    spk_expr_release(on);
    spk_schema_release(input);
    if (quals) spk__free(a, quals, qsize);
    if (fields) spk__free(a, fields, fsize);
    return ok ? j : spk__df_fail(j);
}

SPKDEF spk_df *spk_df_join(spk_df *left, spk_df *right, spk_expr *on, const char *how) {
    spk__jtype type;
    if (!left || !right || !spk__join_type(how, &type)) {
        spk_expr_release(on);
        return NULL;
    }
    if (!on && type != SPK__J_CROSS) {
        spk__fail(SPK_ERR_ARG, "join: no join condition for a %s join; a cartesian product needs how \"cross\" "
                               "(or spk_df_cross_join)", how ? how : "inner");
        return NULL;
    }
    return spk__join(left, right, on, type == SPK__J_CROSS && on ? SPK__J_INNER : type);
}

SPKDEF spk_df *spk_df_cross_join(spk_df *left, spk_df *right) { return spk_df_join(left, right, NULL, "cross"); }

/* Where a USING column is on one side, or -1 with Spark's error. */
static int spk__using_column(const spk_df *side, const char *name, const char *which) {
    int ncols = spk_schema_ncols(side->schema), found = -1, matches = 0;
    for (int i = 0; i < ncols; i++) {
        if (!spk__name_eq(spk_schema_field(side->schema, i)->name, name, side->case_sensitive)) continue;
        if (found < 0) found = i;
        matches++;
    }
    if (matches == 1) return found;
    if (matches > 1) {
        spk__fail(SPK_ERR_AMBIGUOUS, "[AMBIGUOUS_REFERENCE] Reference `%s` is ambiguous on the %s side of the join.", name, which);
        return -1;
    }
    spk__fail(SPK_ERR_NOT_FOUND, "[UNRESOLVED_USING_COLUMN_FOR_JOIN] USING column `%s` cannot be resolved on the %s side "
                                 "of the join. The %s-side columns: [", name, which, which);
    for (int i = 0; i < ncols; i++) spk__fail_append("%s`%s`", i ? ", " : "", spk_schema_field(side->schema, i)->name);
    spk__fail_append("].");
    return -1;
}

/* The sides of a USING join are aliased apart, so the condition and the
 * output can name each side's column even when both sides have the same
 * names and aliases; the output then gets the sides' own aliases back. */
#define SPK__USING_LEFT "__spk_using_left"
#define SPK__USING_RIGHT "__spk_using_right"

SPKDEF spk_df *spk_df_join_using(spk_df *left, spk_df *right, const char *const *names, int n, const char *how) {
    spk__jtype type;
    if (!left || !right || !spk__join_type(how, &type)) return NULL;
    if (n < 0 || (n && !names)) {
        spk__fail(SPK_ERR_ARG, "spk_df_join_using: bad column list");
        return NULL;
    }
    int nl = spk_schema_ncols(left->schema), nr = spk_schema_ncols(right->schema), nout = nl + nr;
    const spk_allocator *a = &spk__default_allocator;
    size_t isize = (size_t)(nl + nr + 2) * sizeof(int);
    int *lkey = (int *)spk__alloc(a, isize), *rkey = lkey ? lkey + nl + 1 : NULL; /* per column: its key number, or -1 */
    spk_expr **list = lkey ? spk__expr_list(nout) : NULL;
    if (!lkey) spk__nomem("a join", isize);
    bool ok = list != NULL;
    int *lk = NULL, *rk = NULL; /* per key: its column on each side */
    size_t ksize = (size_t)(n ? n : 1) * 2 * sizeof(int);
    if (ok && !(lk = (int *)spk__alloc(a, ksize))) {
        spk__nomem("a join", ksize);
        ok = false;
    }
    if (ok) {
        rk = lk + n;
        for (int i = 0; i < nl; i++) lkey[i] = -1;
        for (int i = 0; i < nr; i++) rkey[i] = -1;
    }
    spk_expr *cond = NULL;
    int nkeys = 0;
    for (int k = 0; ok && k < n; k++) {
        if (!names[k]) {
            spk__fail(SPK_ERR_ARG, "spk_df_join_using: NULL column name");
            ok = false;
            break;
        }
        int l = spk__using_column(left, names[k], "left"), r = l >= 0 ? spk__using_column(right, names[k], "right") : -1;
        if (r < 0) {
            ok = false;
            break;
        }
        if (lkey[l] >= 0) continue; /* a name given twice */
        lkey[l] = nkeys;
        rkey[r] = nkeys;
        lk[nkeys] = l;
        rk[nkeys++] = r;
        spk_expr *eq = spk_eq(spk__col_ref(SPK__USING_LEFT, spk_schema_field(left->schema, l)->name),
                              spk__col_ref(SPK__USING_RIGHT, spk_schema_field(right->schema, r)->name));
        cond = cond ? spk_and(cond, eq) : eq;
        ok = cond != NULL;
    }
    spk_df *la = ok ? spk_df_alias(left, SPK__USING_LEFT) : NULL, *ra = la ? spk_df_alias(right, SPK__USING_RIGHT) : NULL;
    spk_df *j = ra ? spk__join(la, ra, cond, type) : NULL;
    if (!ra) spk_expr_release(cond);
    spk_df_release(la);
    spk_df_release(ra);
    /* keys, then the other left columns, then the other right ones */
    const char *quals_stack[32], **quals = quals_stack;
    size_t qsize = (size_t)(nout ? nout : 1) * sizeof *quals;
    if (j && nout > 32 && !(quals = (const char **)spk__alloc(a, qsize))) {
        spk__nomem("a join", qsize);
        j = spk__df_fail(j);
    }
    int m = 0;
    ok = j != NULL;
    for (int k = 0; ok && k < nkeys; k++) {
        const char *lname = spk_schema_field(left->schema, lk[k])->name, *rname = spk_schema_field(right->schema, rk[k])->name;
        if (type == SPK__J_FULL) {
            spk_expr *args[2] = {spk__col_ref(SPK__USING_LEFT, lname), spk__col_ref(SPK__USING_RIGHT, rname)};
            list[m] = spk_alias(spk_call_array("coalesce", args, 2), lname);
            quals[m] = NULL;
        } else if (type == SPK__J_RIGHT) {
            list[m] = spk__col_ref(SPK__USING_RIGHT, rname);
            quals[m] = right->qualifiers[rk[k]];
        } else {
            list[m] = spk__col_ref(SPK__USING_LEFT, lname);
            quals[m] = left->qualifiers[lk[k]];
        }
        ok = list[m++] != NULL;
    }
    for (int i = 0; ok && i < nl; i++) {
        if (lkey[i] >= 0) continue;
        quals[m] = left->qualifiers[i];
        ok = (list[m++] = spk__col_ref(SPK__USING_LEFT, spk_schema_field(left->schema, i)->name)) != NULL;
    }
    for (int i = 0; ok && type != SPK__J_SEMI && type != SPK__J_ANTI && i < nr; i++) {
        if (rkey[i] >= 0) continue;
        quals[m] = right->qualifiers[i];
        ok = (list[m++] = spk__col_ref(SPK__USING_RIGHT, spk_schema_field(right->schema, i)->name)) != NULL;
    }
    spk_df *r = NULL;
    if (ok) {
        r = spk__project(j, list, m);
        for (int i = 0; r && i < m; i++) { /* the sides' own aliases again */
            const spk_allocator *da = spk__df_alloc(r);
            if (r->qualifiers[i]) spk__free(da, r->qualifiers[i], strlen(r->qualifiers[i]) + 1);
            r->qualifiers[i] = NULL;
            if (quals[i] && !(r->qualifiers[i] = spk__dup(da, quals[i]))) r = spk__df_fail(r);
        }
        m = 0;
    }
    spk_df_release(j);
    if (quals != quals_stack) spk__free(a, quals, qsize);
    if (list) spk__expr_list_free(list, nout, m);
    if (lk) spk__free(a, lk, ksize);
    if (lkey) spk__free(a, lkey, isize);
    return r;
}

/* ---------------------------------------------------------------- rows */

/* The column a name (possibly `alias.name`) resolves to, with the binder's errors. */
static int spk__resolve_column(const spk_df *df, const char *name) {
    if (!name) {
        spk__fail(SPK_ERR_ARG, "NULL column name");
        return -1;
    }
    spk_expr *e = spk_col(name);
    spk_bound *b = NULL;
    int col = -1;
    if (e && spk__bind_scoped(e, df->schema, (const char *const *)df->qualifiers, df->case_sensitive, &b) == SPK_OK) {
        if (b->root->kind == SPK__B_COL) col = b->root->col;
        else spk__fail(SPK_ERR_ARG, "`%s` is not a column", name);
    }
    spk_bound_free(b);
    spk_expr_release(e);
    return col;
}

/* Marks the columns of a subset list (NULL or n = 0: every column). */
static bool spk__subset_columns(const spk_df *df, const char *const *subset, int n, bool *mask) {
    int ncols = spk_schema_ncols(df->schema);
    for (int i = 0; i < ncols; i++) mask[i] = !subset || n <= 0;
    for (int k = 0; subset && k < n; k++) {
        int c = spk__resolve_column(df, subset[k]);
        if (c < 0) return false;
        mask[c] = true;
    }
    return true;
}

SPKDEF spk_df *spk_df_drop_duplicates(spk_df *df, const char *const *subset, int n) {
    if (!df) return NULL;
    int ncols = spk_schema_ncols(df->schema);
    bool *mask = (bool *)spk__calloc(&spk__default_allocator, (size_t)(ncols ? ncols : 1));
    spk_expr **list = mask ? spk__expr_list(ncols) : NULL;
    if (!mask) spk__nomem("dropDuplicates", (size_t)ncols);
    bool ok = list != NULL;
    /* Spark keys on every column with a listed name; unknown names fail. */
    for (int k = 0; ok && subset && k < n; k++) {
        bool found = false;
        for (int i = 0; subset[k] && i < ncols; i++)
            if (spk__name_eq(spk_schema_field(df->schema, i)->name, subset[k], df->case_sensitive)) mask[i] = found = true;
        if (!found) {
            spk__fail(SPK_ERR_NOT_FOUND, "[UNRESOLVED_COLUMN_AMONG_FIELD_NAMES] Cannot resolve column name `%s` among (",
                      subset[k] ? subset[k] : "NULL");
            for (int i = 0; i < ncols; i++) spk__fail_append("%s%s", i ? ", " : "", spk_schema_field(df->schema, i)->name);
            spk__fail_append(").");
            ok = false;
        }
    }
    int m = 0;
    bool every = true;
    for (int i = 0; ok && i < ncols; i++) every = every && mask[i];
    spk_df *d = ok ? spk__same_columns(df, (spk__pkind)SPK__P_DEDUP) : NULL;
    /* Keys as column references; every column (no list) needs none. */
    for (int i = 0; d && subset && n > 0 && !every && i < ncols; i++)
        if (mask[i] && !(list[m++] = spk__col_ref(df->qualifiers[i], spk_schema_field(df->schema, i)->name))) d = spk__df_fail(d);
    if (d && m) {
        bool set = spk__df_set_exprs(d, list, m);
        m = 0;
        if (!set || spk__df_bind(d, df) != SPK_OK) d = spk__df_fail(d);
        else d->nkeys = d->nexprs;
    }
    if (list) spk__expr_list_free(list, ncols, m);
    if (mask) spk__free(&spk__default_allocator, mask, (size_t)(ncols ? ncols : 1));
    return d;
}

SPKDEF spk_df *spk_df_fillna(spk_df *df, spk_value value, const char *const *subset, int n) {
    if (!df) return NULL;
    spk_type_id vt = (spk_type_id)value.type.id;
    bool numeric = vt == SPK_TYPE_INT32 || vt == SPK_TYPE_INT64 || vt == SPK_TYPE_DOUBLE || vt == SPK_TYPE_DECIMAL;
    if (value.is_null || !(numeric || vt == SPK_TYPE_STRING || vt == SPK_TYPE_BOOLEAN)) {
        char ty[32];
        spk_type_format(value.type, SPK_TYPE_SIMPLE, ty, sizeof ty);
        spk__fail(SPK_ERR_ARG, "fillna: value should be a number, a string or a boolean, not %s", value.is_null ? "NULL" : ty);
        return NULL;
    }
    int ncols = spk_schema_ncols(df->schema);
    bool *mask = (bool *)spk__calloc(&spk__default_allocator, (size_t)(ncols ? ncols : 1));
    spk_expr **list = mask ? spk__expr_list(ncols) : NULL;
    if (!mask) spk__nomem("fillna", (size_t)ncols);
    int m = list ? spk__all_columns(df, list, -1) : -1;
    bool ok = m >= 0 && spk__subset_columns(df, subset, n, mask);
    for (int i = 0; ok && i < ncols; i++) {
        const spk_field *f = spk_schema_field(df->schema, i);
        spk_type_id ct = (spk_type_id)f->type.id;
        bool fits = numeric ? (ct == SPK_TYPE_INT32 || ct == SPK_TYPE_INT64 || ct == SPK_TYPE_DOUBLE || ct == SPK_TYPE_DECIMAL)
                            : ct == vt;
        if (!mask[i] || !fits) continue;
        /* Spark's fillCol: coalesce(col, CAST(value AS type)), NaN counting as NULL in DOUBLE columns */
        spk_expr *col = list[i];
        list[i] = NULL;
        if (ct == SPK_TYPE_DOUBLE) {
            spk_expr *args[2] = {col, spk_cast(spk_lit_null(), f->type)};
            col = spk_call_array("nanvl", args, 2);
        }
        spk_expr *args[2] = {col, spk_cast(spk_lit(value), f->type)};
        ok = (list[i] = spk_alias(spk_call_array("coalesce", args, 2), f->name)) != NULL;
    }
    spk_df *r = NULL;
    if (ok) {
        r = spk__project(df, list, m);
        m = 0;
    }
    if (list) spk__expr_list_free(list, ncols, m < 0 ? 0 : m);
    if (mask) spk__free(&spk__default_allocator, mask, (size_t)(ncols ? ncols : 1));
    return r;
}

/* terms[0..n) combined pairwise into a balanced tree (so its height is log n). */
static spk_expr *spk__balanced(spk_expr **terms, int n, spk_expr *(*op)(spk_expr *, spk_expr *)) {
    if (n == 1) return terms[0];
    int half = n / 2;
    spk_expr *l = spk__balanced(terms, half, op);
    spk_expr *r = spk__balanced(terms + half, n - half, op);
    return op(l, r);
}

SPKDEF spk_df *spk_df_dropna(spk_df *df, const char *how, int thresh, const char *const *subset, int n) {
    if (!df) return NULL;
    if (how && strcmp(how, "any") != 0 && strcmp(how, "all") != 0) {
        spk__fail(SPK_ERR_ARG, "how ('%s') should be 'any' or 'all'", how);
        return NULL;
    }
    int ncols = spk_schema_ncols(df->schema);
    bool *mask = (bool *)spk__calloc(&spk__default_allocator, (size_t)(ncols ? ncols : 1));
    spk_expr **terms = mask ? spk__expr_list(ncols) : NULL;
    if (!mask) spk__nomem("dropna", (size_t)ncols);
    bool ok = terms && spk__subset_columns(df, subset, n, mask);
    int m = 0;
    /* a value counts when it is neither NULL nor NaN (Spark's AtLeastNNonNulls) */
    for (int i = 0; ok && i < ncols; i++) {
        if (!mask[i]) continue;
        const spk_field *f = spk_schema_field(df->schema, i);
        spk_expr *c = spk__col_ref(df->qualifiers[i], f->name);
        if (f->type.id == SPK_TYPE_DOUBLE) {
            spk_expr *args[2] = {c, spk_cast(spk_lit_null(), f->type)};
            c = spk_call_array("nanvl", args, 2);
        }
        ok = (terms[m++] = spk_is_not_null(c)) != NULL;
    }
    int need = thresh >= 0 ? thresh : how && strcmp(how, "all") == 0 ? 1 : m;
    spk_df *r = NULL;
    if (ok && (need <= 0 || m == 0)) { /* every row qualifies, or (need > 0, no columns) none */
        r = spk_df_filter(df, spk_lit_bool(need <= 0));
    } else if (ok) {
        spk_expr *cond;
        if (need == m) {
            cond = spk__balanced(terms, m, spk_and);
        } else if (need == 1) {
            cond = spk__balanced(terms, m, spk_or);
        } else {
            for (int i = 0; i < m; i++) terms[i] = spk_otherwise(spk_when(NULL, terms[i], spk_lit_i32(1)), spk_lit_i32(0));
            cond = spk_ge(spk__balanced(terms, m, spk_add), spk_lit_i32(need));
        }
        m = 0;
        r = spk_df_filter(df, cond);
    }
    if (terms) spk__expr_list_free(terms, ncols, m);
    if (mask) spk__free(&spk__default_allocator, mask, (size_t)(ncols ? ncols : 1));
    return r;
}

SPKDEF spk_df *spk_df_sample(spk_df *df, double fraction, uint64_t seed) {
    if (!df) return NULL;
    if (!(fraction >= 0 && fraction <= 1)) {
        char text[SPK_VALUE_TEXT_MAX];
        spk_value v = spk_value_f64(fraction);
        spk_value_format(&v, text, sizeof text);
        spk__fail(SPK_ERR_ARG, "requirement failed: Sampling fraction (%s) must be on interval [0, 1] without replacement", text);
        return NULL;
    }
    spk_df *s = spk__same_columns(df, (spk__pkind)SPK__P_SAMPLE);
    if (s) {
        s->fraction = fraction;
        s->seed = seed;
    }
    return s;
}

/* ---------------------------------------------------------------- aggregation */

SPKDEF spk_df *spk_df_group_agg(spk_df *df, spk_expr *const *keys, int nkeys, spk_expr *const *aggs, int naggs) {
    int n = nkeys + naggs;
    if (!df || nkeys < 0 || naggs < 0) {
        for (int i = 0; i < nkeys; i++) spk_expr_release(keys[i]);
        for (int i = 0; i < naggs; i++) spk_expr_release(aggs[i]);
        return NULL;
    }
    spk_expr *stack[32], **list = stack;
    size_t size = (size_t)(n ? n : 1) * sizeof *list;
    if (n > 32 && !(list = (spk_expr **)spk__alloc(&spk__default_allocator, size))) {
        for (int i = 0; i < nkeys; i++) spk_expr_release(keys[i]);
        for (int i = 0; i < naggs; i++) spk_expr_release(aggs[i]);
        spk__nomem("an aggregation", size);
        return NULL;
    }
    bool ok = true;
    for (int i = 0; i < nkeys; i++) ok = ok && (list[i] = keys[i]) != NULL;
    for (int i = 0; i < naggs; i++) ok = ok && (list[nkeys + i] = aggs[i]) != NULL;
    spk_df *g = ok ? spk__df_new(df->session, SPK__P_AGG, df) : NULL;
    if (!g) {
        for (int i = 0; i < n; i++) spk_expr_release(list[i]);
        if (list != stack) spk__free(&spk__default_allocator, list, size);
        return NULL;
    }
    g->nkeys = nkeys;
    bool set = spk__df_set_exprs(g, list, n);
    if (list != stack) spk__free(&spk__default_allocator, list, size);
    if (!set || spk__df_bind(g, df) != SPK_OK) return spk__df_fail(g);
    for (int i = nkeys; i < n; i++) { /* a column outside any aggregate must be a grouping key */
        const spk__bnode *bare = spk__bare_column_except(g->bound[i]->root, g);
        if (bare) {
            spk__fail(SPK_ERR_ANALYSIS,
                      "[MISSING_AGGREGATION] The non-aggregating expression \"%s\" is based on columns which are not "
                      "participating in the GROUP BY clause: `%s`.",
                      spk_bound_name(g->bound[i]), bare->name);
            return spk__df_fail(g);
        }
    }
    for (int i = 0; i < nkeys; i++) {
        if (spk_bound_is_aggregate(g->bound[i])) {
            spk__fail(SPK_ERR_ANALYSIS, "[GROUP_BY_AGGREGATE] Aggregate functions are not allowed in GROUP BY, but found %s.",
                      spk_bound_name(g->bound[i]));
            return spk__df_fail(g);
        }
    }
    /* An output may use grouping columns outside its aggregates only where
     * they are grouping keys themselves (checked when it runs each group). */
    spk_field stack_f[32], *fields = stack_f;
    char *stack_q[32], **quals = stack_q;
    size_t fsize = (size_t)(n ? n : 1) * sizeof *fields, qsize = (size_t)(n ? n : 1) * sizeof *quals;
    if (n > 32) {
        fields = (spk_field *)spk__alloc(spk__df_alloc(g), fsize);
        quals = fields ? (char **)spk__alloc(spk__df_alloc(g), qsize) : NULL;
        if (!quals) {
            if (fields) spk__free(spk__df_alloc(g), fields, fsize);
            spk__nomem("an aggregation", fsize);
            return spk__df_fail(g);
        }
    }
    for (int i = 0; i < n; i++) {
        const spk_expr *e = g->exprs[i];
        fields[i].name = e->op == SPK__OP_COL ? e->name : spk_bound_name(g->bound[i]);
        fields[i].type = spk_bound_type(g->bound[i]);
        fields[i].nullable = spk_bound_nullable(g->bound[i]) || fields[i].type.id == SPK_TYPE_NULL;
        quals[i] = e->op == SPK__OP_COL && g->bound[i]->root->kind == SPK__B_COL ? df->qualifiers[g->bound[i]->root->col] : NULL;
    }
    ok = spk__df_set_output(g, fields, n, quals);
    if (fields != stack_f) {
        spk__free(spk__df_alloc(g), fields, fsize);
        spk__free(spk__df_alloc(g), quals, qsize);
    }
    return ok ? g : spk__df_fail(g);
}

SPKDEF spk_df *spk_df_agg(spk_df *df, int n, ...) {
    SPK__VA_EXPRS(n, n, result_ = spk_df_group_agg(df, NULL, 0, list_, n));
}

/* groupBy(keys).count() / .sum(cols) / .avg / .min / .max: `function` over
 * each named column, or over every numeric column that is not a key when
 * none are named (count takes none and names its column "count"). Keys are
 * consumed. */
static spk_df *spk__group_shortcut(spk_df *df, spk_expr *const *keys, int nkeys, const char *function,
                                   const char *const *cols, int ncols) {
    int nc = df ? spk_schema_ncols(df->schema) : 0, naggs = 0;
    bool count = strcmp(function, "count") == 0;
    size_t size = (size_t)(count ? 1 : (ncols > 0 ? ncols : nc) + 1) * sizeof(spk_expr *);
    spk_expr **aggs = df ? (spk_expr **)spk__alloc(&spk__default_allocator, size) : NULL;
    if (!aggs) {
        if (df) spk__nomem("an aggregation", size);
        for (int k = 0; k < nkeys; k++) spk_expr_release(keys[k]);
        return NULL;
    }
    if (count) {
        aggs[naggs++] = spk_alias(spk_call("count", 1, spk_star()), "count");
    } else if (ncols > 0) {
        for (int i = 0; i < ncols; i++) aggs[naggs++] = spk_call(function, 1, spk_col(cols[i]));
    } else {
        for (int i = 0; i < nc; i++) {
            const spk_field *f = spk_schema_field(df->schema, i);
            bool is_key = false;
            for (int k = 0; k < nkeys && !is_key; k++)
                is_key = keys[k] && keys[k]->op == SPK__OP_COL && spk__name_eq(keys[k]->name, f->name, df->case_sensitive);
            if (!is_key && spk__is_numeric((spk_type_id)f->type.id)) {
                spk_expr *c = spk__with_name(spk__expr_new(SPK__OP_COL, 0), f->name, strlen(f->name));
                aggs[naggs++] = spk_call(function, 1, c);
            }
        }
    }
    spk_df *g = spk_df_group_agg(df, keys, nkeys, aggs, naggs);
    spk__free(&spk__default_allocator, aggs, size);
    return g;
}

SPKDEF spk_df *spk_df_group_count(spk_df *df, spk_expr *const *keys, int nkeys) {
    return spk__group_shortcut(df, keys, nkeys, "count", NULL, 0);
}
SPKDEF spk_df *spk_df_group_sum(spk_df *df, spk_expr *const *keys, int nkeys, const char *const *cols, int ncols) {
    return spk__group_shortcut(df, keys, nkeys, "sum", cols, ncols);
}
SPKDEF spk_df *spk_df_group_avg(spk_df *df, spk_expr *const *keys, int nkeys, const char *const *cols, int ncols) {
    return spk__group_shortcut(df, keys, nkeys, "avg", cols, ncols);
}
SPKDEF spk_df *spk_df_group_min(spk_df *df, spk_expr *const *keys, int nkeys, const char *const *cols, int ncols) {
    return spk__group_shortcut(df, keys, nkeys, "min", cols, ncols);
}
SPKDEF spk_df *spk_df_group_max(spk_df *df, spk_expr *const *keys, int nkeys, const char *const *cols, int ncols) {
    return spk__group_shortcut(df, keys, nkeys, "max", cols, ncols);
}

/* ---- src/optimize.c ---- */
/* optimize: rewrites of logical plans (filter merging, predicate pushdown,
 * projection pruning, limit pushdown) and their text for explain(). */

/* A growable string for show() and explain(). */
typedef struct spk__textbuf {
    char *p;
    size_t len, cap;
    bool failed;
} spk__textbuf;

static void spk__sb_put(spk__textbuf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *q = (char *)spk__realloc(&spk__default_allocator, b->p, b->cap, cap);
        if (!q) {
            b->failed = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}
static void spk__sb_str(spk__textbuf *b, const char *s) { spk__sb_put(b, s, strlen(s)); }
static void spk__sb_fill(spk__textbuf *b, char c, size_t n) {
    for (size_t i = 0; i < n; i++) spk__sb_put(b, &c, 1);
}
static void spk__sb_printf(spk__textbuf *b, const char *fmt, ...) SPK__PRINTF(2, 3);
static void spk__sb_printf(spk__textbuf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) spk__sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}
/* Hands the text over as a string the caller frees with spk_string_free
 * (whose size is strlen + 1, so shrink to exactly that). */
static spk_status spk__sb_finish(spk__textbuf *b, char **out) {
    if (!b->failed && !b->p) spk__sb_put(b, "", 0);
    if (b->failed) {
        if (b->p) spk__free(&spk__default_allocator, b->p, b->cap);
        return spk__nomem("text", b->cap * 2);
    }
    char *q = (char *)spk__realloc(&spk__default_allocator, b->p, b->cap, b->len + 1);
    if (!q) {
        spk__free(&spk__default_allocator, b->p, b->cap);
        return spk__nomem("text", b->len + 1);
    }
    *out = q;
    return SPK_OK;
}

/* ================================================================ the optimizer
 *
 * Rewrites build new nodes and never touch existing ones: a DataFrame may be
 * shared between threads, and the plan as built must stay as it was (it is
 * explain()'s analysed plan). New nodes come from plan's own constructors,
 * which bind every expression again against the new child, by name and
 * qualifier. An expression moved to another input reads it through fresh
 * column references (one column's name and qualifier), so binding either
 * finds exactly that column or fails as ambiguous; it never silently picks
 * another. A rewrite whose rebinding fails is abandoned and the node stays
 * as it was; only running out of memory stops the optimizer.
 *
 * Every expression is deterministic and evaluation fails only for want of
 * memory, so moving a predicate or a limit changes how much work is done,
 * never which rows come out (rows a filter drops earlier may no longer be
 * computed at all). */

#define SPK__OPT_MAX_DEPTH 200     /* plan levels rewritten; deeper subtrees run as built */
#define SPK__OPT_MAX_PASSES 16     /* whole-plan passes until nothing changes */
#define SPK__OPT_MAX_CONJUNCTS 128 /* a longer AND chain keeps its tail as one conjunct */
#define SPK__OPT_MAX_CHAIN 16      /* filters/sorts/limits looked through when pruning */

static _Thread_local bool spk__opt_disabled;

SPKDEF bool spk__optimizer_enable(bool on) {
    bool was = !spk__opt_disabled;
    spk__opt_disabled = !on;
    return was;
}

/* Plan constructors take (and retain) non-const nodes; nothing is mutated
 * but the atomic reference count. */
static spk_df *spk__opt_mut(const spk_df *df) { return (spk_df *)(uintptr_t)df; }
static spk_df *spk__opt_keep(const spk_df *df) { return spk_df_retain(spk__opt_mut(df)); }
static int spk__opt_ncols(const spk_df *df) { return spk_schema_ncols(df->schema); }

/* After a constructor returned NULL: out of memory stops the optimizer
 * (NULL); anything else only means that this rewrite does not apply. */
static spk_df *spk__opt_skip(const spk_df *df) {
    if (spk_last_status() == SPK_ERR_NOMEM) return NULL;
    spk_clear_error();
    return spk__opt_keep(df);
}

static bool spk__opt_is_empty(const spk_df *df) { return df->kind == SPK__P_SCAN && spk_table_nrows(df->table) == 0; }

/* Replaces n's qualifiers by copies of q[0..ncols) (q NULL: none). */
static bool spk__opt_set_qualifiers(spk_df *n, char *const *q) {
    const spk_allocator *a = spk__df_alloc(n);
    int ncols = spk__opt_ncols(n);
    char **fresh = (char **)spk__calloc(a, (size_t)(ncols ? ncols : 1) * sizeof *fresh);
    if (!fresh) {
        spk__nomem("column qualifiers", (size_t)ncols * sizeof *fresh);
        return false;
    }
    for (int i = 0; q && i < ncols; i++) {
        if (q[i] && !(fresh[i] = spk__dup(a, q[i]))) {
            spk__free_qualifiers(a, fresh, ncols);
            return false;
        }
    }
    spk__free_qualifiers(a, n->qualifiers, ncols);
    n->qualifiers = fresh;
    return true;
}

/* Gives `fresh` (consumed) the output of `orig`, the node it replaces: the
 * same schema (names, nullability), qualifiers and alias. The types must
 * already agree; if they do not, the rewrite changed the meaning and is
 * abandoned. */
static spk_df *spk__opt_adopt(spk_df *fresh, const spk_df *orig) {
    if (!fresh) return NULL;
    int n = spk__opt_ncols(orig);
    bool same = spk__opt_ncols(fresh) == n;
    for (int i = 0; same && i < n; i++)
        same = spk_type_equal(spk_schema_field(fresh->schema, i)->type, spk_schema_field(orig->schema, i)->type);
    if (!same) {
        spk_df_release(fresh);
        spk__fail(SPK_ERR_STATE, "optimizer: a rewritten node's column types differ");
        return NULL;
    }
    const spk_allocator *a = spk__df_alloc(fresh);
    char *alias = orig->alias ? spk__dup(a, orig->alias) : NULL;
    if ((orig->alias && !alias) || !spk__opt_set_qualifiers(fresh, orig->qualifiers)) {
        if (alias) spk__free(a, alias, strlen(alias) + 1);
        return spk__df_fail(fresh);
    }
    spk_schema_release(fresh->schema);
    fresh->schema = spk_schema_retain(orig->schema);
    if (fresh->alias) spk__free(a, fresh->alias, strlen(fresh->alias) + 1);
    fresh->alias = alias;
    return fresh;
}

/* An empty relation with df's columns: what a filter that is never true,
 * a limit of 0, or an operator over nothing produces. */
static spk_df *spk__opt_empty(const spk_df *df) {
    spk_table *t = NULL;
    if (spk_table_new(df->session->alloc, df->schema, &t) != SPK_OK) return NULL;
    spk_df *e = spk__df_new(df->session, SPK__P_SCAN, NULL);
    if (!e) {
        spk_table_free(t);
        return NULL;
    }
    e->table = t;
    e->schema = spk_schema_retain(df->schema);
    if (!spk__opt_set_qualifiers(e, df->qualifiers)) return spk__df_fail(e);
    return e;
}

/* ---------------------------------------------------------------- expressions */

static const spk_expr *spk__opt_unalias(const spk_expr *e) {
    while (e->op == SPK__OP_ALIAS) e = e->args[0];
    return e;
}

/* A reference to column i of df and nothing else: its name and qualifier. */
static spk_expr *spk__opt_colref(const spk_df *df, int i) {
    const char *name = spk_schema_field(df->schema, i)->name, *q = df->qualifiers[i];
    spk_expr *c = spk__with_name(spk__expr_new(SPK__OP_COL, 0), name, strlen(name));
    if (c && q && !(c->qualifier = spk__strndup(spk__expr_alloc(), q, strlen(q)))) {
        spk__nomem("a column qualifier", strlen(q) + 1);
        spk_expr_release(c);
        return NULL;
    }
    return c;
}

/* A copy of node e with other arguments (consumed, also on failure). */
static spk_expr *spk__opt_clone(const spk_expr *e, spk_expr **args) {
    spk_expr *c = spk__expr_new((spk__op)e->op, e->nargs);
    if (!c) {
        spk__release_all(args, e->nargs);
        return NULL;
    }
    for (int i = 0; i < e->nargs; i++) c->args[i] = args[i];
    c->distinct = e->distinct;
    c->has_else = e->has_else;
    c->descending = e->descending;
    c->nulls_first = e->nulls_first;
    c->lit = e->lit;
    c->type = e->type;
    c->months = e->months;
    c->days = e->days;
    c->micros = e->micros;
    c->source = spk__source_retain(e->source);
    c->pos = e->pos;
    if (!spk__set_height(c)) { /* too tall once substituted: the rewrite is abandoned */
        spk_expr_release(c);
        return NULL;
    }
    bool ok = true;
    if (e->name) ok = (c->name = spk__strndup(spk__expr_alloc(), e->name, strlen(e->name))) != NULL;
    if (ok && e->qualifier) ok = (c->qualifier = spk__strndup(spk__expr_alloc(), e->qualifier, strlen(e->qualifier))) != NULL;
    if (ok && e->text) {
        ok = (c->text = spk__strndup(spk__expr_alloc(), e->text, e->lit.as.str.len)) != NULL;
        if (ok) c->lit.as.str.ptr = c->text;
    }
    if (!ok) {
        spk__nomem("an expression's text", sizeof *c);
        spk_expr_release(c);
        return NULL;
    }
    return c;
}

/* Which column of `scope` the column reference `col` means, as the binder
 * resolves it; -1 (with the error set) if none or several. */
static int spk__opt_resolve(const spk_df *scope, const spk_expr *col) {
    spk__scope sc = {scope->schema, (const char *const *)scope->qualifiers, scope->case_sensitive, 0};
    int index = -1;
    return spk__lookup_qualified(&sc, col, &index) == SPK_OK ? index : -1;
}

/* Replacements for the columns of `scope` (an expression's input) by
 * expressions over another input; NULL where a column has none. */
typedef struct spk__opt_map {
    const spk_df *scope;
    spk_expr **with;
    int n;
} spk__opt_map;

static bool spk__opt_map_init(spk__opt_map *m, const spk_df *scope) {
    m->scope = scope;
    m->n = spk__opt_ncols(scope);
    m->with = (spk_expr **)spk__calloc(spk__expr_alloc(), (size_t)(m->n ? m->n : 1) * sizeof *m->with);
    if (!m->with) spk__nomem("a column map", (size_t)m->n * sizeof *m->with);
    return m->with != NULL;
}

static void spk__opt_map_free(spk__opt_map *m) {
    if (!m->with) return;
    spk__release_all(m->with, m->n);
    spk__free(spk__expr_alloc(), m->with, (size_t)(m->n ? m->n : 1) * sizeof *m->with);
    m->with = NULL;
}

/* e with every column reference replaced through m; NULL (error set) if a
 * column has no replacement or memory runs out. Subtrees without columns
 * are shared, not copied. */
static spk_expr *spk__opt_subst(const spk_expr *e, const spk__opt_map *m) {
    if (e->op == SPK__OP_COL) {
        int i = spk__opt_resolve(m->scope, e);
        if (i < 0) return NULL;
        if (!m->with[i]) {
            spk__fail(SPK_ERR_STATE, "optimizer: column `%s` cannot move", e->name);
            return NULL;
        }
        return spk_expr_retain(m->with[i]);
    }
    if (e->nargs == 0) return spk_expr_retain((spk_expr *)(uintptr_t)e);
    spk_expr *stack[8], **args = stack;
    size_t size = (size_t)e->nargs * sizeof *args;
    if (e->nargs > 8 && !(args = (spk_expr **)spk__alloc(spk__expr_alloc(), size))) {
        spk__nomem("an expression", size);
        return NULL;
    }
    bool same = true;
    int made = 0;
    for (; made < e->nargs; made++) {
        if (!(args[made] = spk__opt_subst(e->args[made], m))) break;
        same = same && args[made] == e->args[made];
    }
    spk_expr *r = NULL;
    if (made < e->nargs) spk__release_all(args, made);
    else if (same) {
        spk__release_all(args, made);
        r = spk_expr_retain((spk_expr *)(uintptr_t)e);
    } else {
        r = spk__opt_clone(e, args);
    }
    if (args != stack) spk__free(spk__expr_alloc(), args, size);
    return r;
}

/* Marks the input columns a bound expression reads. */
static void spk__opt_mark_cols(const spk_bound *b, bool *used) {
    int n = spk_schema_ncols(b->schema);
    for (int c = 0; c < n; c++)
        if (b->col_slot[c] >= 0) used[c] = true;
}

/* How often each input column is referenced in a bound tree. */
static void spk__opt_count_refs(const spk__bnode *b, int *uses) {
    if (b->kind == SPK__B_COL) uses[b->col]++;
    for (int i = 0; i < b->nargs; i++) spk__opt_count_refs(b->args[i], uses);
}

/* Retained copies of list[0..n) in a fresh array, for constructors that
 * consume their expressions (free the array with spk__opt_free_list). */
static spk_expr **spk__opt_retained(spk_expr *const *list, int n) {
    spk_expr **out = (spk_expr **)spk__alloc(spk__expr_alloc(), (size_t)(n ? n : 1) * sizeof *out);
    if (!out) {
        spk__nomem("expressions", (size_t)n * sizeof *out);
        return NULL;
    }
    for (int i = 0; i < n; i++) out[i] = spk_expr_retain(list[i]);
    return out;
}
static void spk__opt_free_list(spk_expr **list, int n) {
    if (list) spk__free(spk__expr_alloc(), list, (size_t)(n ? n : 1) * sizeof *list);
}

/* ---------------------------------------------------------------- building nodes */

static spk_df *spk__opt_project(const spk_df *child, spk_expr *const *exprs, int n) {
    spk_expr **list = spk__opt_retained(exprs, n);
    if (!list) return NULL;
    spk_df *p = spk__project(spk__opt_mut(child), list, n);
    spk__opt_free_list(list, n);
    if (p && p->kind != SPK__P_PROJECT) {
        spk__fail(SPK_ERR_STATE, "optimizer: a projection turned into an aggregation");
        return spk__df_fail(p);
    }
    return p;
}

static spk_df *spk__opt_group(const spk_df *child, spk_expr *const *keys, int nkeys, spk_expr *const *aggs, int naggs) {
    spk_expr **k = spk__opt_retained(keys, nkeys);
    spk_expr **g = k ? spk__opt_retained(aggs, naggs) : NULL;
    spk_df *r = NULL;
    if (g) r = spk_df_group_agg(spk__opt_mut(child), k, nkeys, g, naggs);
    else if (k) spk__release_all(k, nkeys);
    spk__opt_free_list(k, nkeys);
    spk__opt_free_list(g, naggs);
    return r;
}

static spk_df *spk__opt_limit(const spk_df *child, int64_t limit, int64_t offset) {
    spk_df *l = spk__same_columns(spk__opt_mut(child), SPK__P_LIMIT);
    if (l) {
        l->limit = limit;
        l->offset = offset;
    }
    return l;
}

/* Node n again, over other children: its expressions bound afresh by name.
 * Projections, aggregations and unions keep n's exact output. */
static spk_df *spk__opt_rebuild(const spk_df *n, const spk_df *child, const spk_df *right) {
    switch ((spk__pkind)n->kind) {
    case SPK__P_SCAN: return spk__opt_keep(n);
    case SPK__P_PROJECT: return spk__opt_adopt(spk__opt_project(child, n->exprs, n->nexprs), n);
    case SPK__P_FILTER: return spk_df_filter(spk__opt_mut(child), spk_expr_retain(n->exprs[0]));
    case SPK__P_AGG:
        return spk__opt_adopt(spk__opt_group(child, n->exprs, n->nkeys, n->exprs + n->nkeys, n->nexprs - n->nkeys), n);
    case SPK__P_SORT: {
        spk_expr **keys = spk__opt_retained(n->exprs, n->nexprs);
        if (!keys) return NULL;
        spk_df *s = spk_df_order_by_array(spk__opt_mut(child), keys, n->nexprs);
        spk__opt_free_list(keys, n->nexprs);
        return s;
    }
    case SPK__P_LIMIT: return spk__opt_limit(child, n->limit, n->offset);
    case SPK__P_DISTINCT: return spk_df_distinct(spk__opt_mut(child));
    case SPK__P_UNION: return spk__opt_adopt(spk_df_union(spk__opt_mut(child), spk__opt_mut(right)), n);
    }
    if (n->kind == SPK__P_JOIN) /* the same join over the new sides; the condition is bound afresh */
        return spk__opt_adopt(spk__join(spk__opt_mut(child), spk__opt_mut(right),
                                        n->nexprs ? spk_expr_retain(n->exprs[0]) : NULL, (spk__jtype)n->join), n);
    /* Any kind added later stays as built. */
    spk__fail(SPK_ERR_STATE, "optimizer: cannot rebuild a plan node of kind %d", (int)n->kind);
    return NULL;
}

/* The most rows df can produce, or -1 if not known. */
static int64_t spk__opt_max_rows(const spk_df *df, int depth) {
    if (depth > SPK__OPT_MAX_DEPTH) return -1;
    switch ((spk__pkind)df->kind) {
    case SPK__P_SCAN: return spk_table_nrows(df->table) > (size_t)INT64_MAX ? -1 : (int64_t)spk_table_nrows(df->table);
    case SPK__P_PROJECT:
    case SPK__P_FILTER:
    case SPK__P_SORT:
    case SPK__P_DISTINCT: return spk__opt_max_rows(df->child, depth + 1);
    case SPK__P_AGG: return df->nkeys == 0 ? 1 : spk__opt_max_rows(df->child, depth + 1);
    case SPK__P_LIMIT: {
        int64_t m = spk__opt_max_rows(df->child, depth + 1);
        if (m >= 0) m = m > df->offset ? m - df->offset : 0;
        if (df->limit >= 0 && (m < 0 || m > df->limit)) m = df->limit;
        return m;
    }
    case SPK__P_UNION: {
        int64_t a = spk__opt_max_rows(df->child, depth + 1), b = spk__opt_max_rows(df->right, depth + 1);
        return a < 0 || b < 0 || a > INT64_MAX - b ? -1 : a + b;
    }
    }
    return -1;
}

/* ---------------------------------------------------------------- the rules */

static spk_df *spk__opt_rules(const spk_df *n, int depth);

/* The conjuncts of a filter's condition, each bound alone against the
 * filter's input (for the columns it reads and whether it is constant). */
typedef struct spk__opt_conj {
    const spk_expr *e; /* borrowed from the condition */
    spk_bound *b;
} spk__opt_conj;

typedef struct spk__opt_conjs {
    spk__opt_conj *c;
    int n;
} spk__opt_conjs;

/* Appends the conjuncts of e, leaving at least one free slot in out[0..cap)
 * for each pending right side. */
static void spk__opt_split(const spk_expr *e, const spk_expr **out, int *n, int cap) {
    e = spk__opt_unalias(e);
    if (e->op == SPK__OP_AND && cap - *n >= 2) {
        spk__opt_split(e->args[0], out, n, cap - 1);
        spk__opt_split(e->args[1], out, n, cap);
        return;
    }
    out[(*n)++] = e;
}

static void spk__opt_conjs_free(spk__opt_conjs *cs) {
    if (!cs->c) return;
    for (int i = 0; i < cs->n; i++) spk_bound_free(cs->c[i].b);
    spk__free(spk__expr_alloc(), cs->c, SPK__OPT_MAX_CONJUNCTS * sizeof *cs->c);
    cs->c = NULL;
}

static bool spk__opt_conjs_init(spk__opt_conjs *cs, const spk_expr *cond, const spk_df *input) {
    cs->n = 0;
    cs->c = (spk__opt_conj *)spk__calloc(spk__expr_alloc(), SPK__OPT_MAX_CONJUNCTS * sizeof *cs->c);
    const spk_expr *list[SPK__OPT_MAX_CONJUNCTS];
    int n = 0;
    if (!cs->c) {
        spk__nomem("conjuncts", SPK__OPT_MAX_CONJUNCTS * sizeof *cs->c);
        return false;
    }
    spk__opt_split(cond, list, &n, SPK__OPT_MAX_CONJUNCTS);
    for (; cs->n < n; cs->n++) {
        cs->c[cs->n].e = list[cs->n];
        if (spk__bind_scoped(list[cs->n], input->schema, (const char *const *)input->qualifiers,
                             input->case_sensitive, &cs->c[cs->n].b) != SPK_OK)
            return false;
    }
    return true;
}

/* 1 if the bound conjunct is the constant TRUE, 0 if it is FALSE or NULL
 * (no row passes), -1 if it depends on the row. */
static int spk__opt_const_truth(const spk_bound *b) {
    const spk__bnode *r = b->root;
    if (r->kind != SPK__B_LIT) return -1;
    if (r->type.id == SPK_TYPE_NULL || r->lit.is_null) return 0;
    spk_value v = r->lit;
    if (r->type.id == SPK_TYPE_STRING) { /* 'true' AND x: the AND cast it, so do the same */
        char text[SPK_VALUE_TEXT_MAX];
        if (spk_value_cast(&r->lit, spk_type_of(SPK_TYPE_BOOLEAN), &v, text) != SPK_OK) return -1;
        if (v.is_null) return 0;
    } else if (r->type.id != SPK_TYPE_BOOLEAN) {
        return -1;
    }
    return v.as.b ? 1 : 0;
}

/* A conjunct ready to stand alone or in a new AND: a STRING one gets the
 * cast to BOOLEAN that its AND gave it (a filter takes no string). */
static spk_expr *spk__opt_conj_expr(spk_expr *e, const spk_bound *b) {
    if (e && spk_bound_type(b).id == SPK_TYPE_STRING) return spk_cast(e, spk_type_of(SPK_TYPE_BOOLEAN));
    return e;
}

/* Filter(c[0] AND c[1] AND ..., input); the conjuncts are consumed. */
static spk_df *spk__opt_filter_of(const spk_df *input, spk_expr **c, int n) {
    spk_expr *cond = c[0];
    for (int i = 1; i < n; i++) cond = spk_and(cond, c[i]);
    return spk_df_filter(spk__opt_mut(input), cond);
}

/* Where a filter over `in` can go: one or two inputs of `in`, with, for
 * each, the expression over that input that every column of `in` it can
 * give stands for. A conjunct moves into a side when all its columns map;
 * with all_sides (a union) it must move into every side or stay. */
typedef struct spk__opt_sides {
    int n;
    const spk_df *side[2];
    spk__opt_map map[2];
    bool all_sides;
} spk__opt_sides;

static void spk__opt_sides_free(spk__opt_sides *s) {
    for (int k = 0; k < s->n; k++) spk__opt_map_free(&s->map[k]);
}

/* The column of an aggregation's output that is a plain grouping column
 * (not DOUBLE: -0.0 and 0.0, or NaNs, group together but differ to a
 * predicate), as the input column it copies; -1 otherwise. */
static int spk__opt_agg_key_col(const spk_df *a, int i) {
    const spk__bnode *r = a->bound[i]->root;
    if (r->kind != SPK__B_COL || r->type.id == SPK_TYPE_DOUBLE) return -1;
    for (int k = 0; k < a->nkeys; k++)
        if (a->bound[k]->root->kind == SPK__B_COL && a->bound[k]->root->col == r->col) return r->col;
    return -1;
}

/* false: out of memory or a failed reference (s->n is then 0 or valid). */
static bool spk__opt_sides_of(const spk_df *in, spk__opt_sides *s) {
    memset(s, 0, sizeof *s);
    int ncols = spk__opt_ncols(in);
    switch ((spk__pkind)in->kind) {
    case SPK__P_PROJECT:
    case SPK__P_SORT:
    case SPK__P_DISTINCT:
    case SPK__P_AGG:
        if (in->kind == SPK__P_AGG && in->nkeys == 0) return true; /* one row even over nothing */
        s->side[0] = in->child;
        break;
    case SPK__P_UNION:
        s->side[0] = in->child;
        s->side[1] = in->right;
        s->all_sides = true;
        break;
    /* JOIN (child = left, right = right, output = the left columns then the
     * right ones; handled in default below). A WHERE conjunct may move
     *   INNER, CROSS:         into the one side that has all its columns;
     *   LEFT OUTER:           into the left side only: over the right side it
     *                         would also have to judge the NULL-extended rows
     *                         (it stays above, unless it rejects NULLs and the
     *                         join is made INNER first);
     *   RIGHT OUTER:          into the right side only;
     *   FULL OUTER:           nowhere;
     *   LEFT SEMI, LEFT ANTI: into the left side (the output is the left).
     * Here: side[0] = left, side[1] = right, all_sides = false; below, map[0]
     * gives colref(left, i) for i < nleft and map[1] colref(right, i - nleft)
     * for the rest, each only where the join type allows that side. (The ON
     * condition's conjuncts are not moved yet: for outer joins they go the
     * other way — a LEFT join's ON conjunct on the right side alone could move
     * into the right side, one on the left side alone could not.) */
    default:
        if (in->kind != SPK__P_JOIN) return true;
        s->side[0] = in->child;
        s->side[1] = in->right;
        break;
    }
    s->n = s->side[1] ? 2 : 1;
    /* Which sides of a join a WHERE conjunct may move into (see above). */
    bool join_side[2] = {false, false};
    if (in->kind == SPK__P_JOIN) {
        spk__jtype t = (spk__jtype)in->join;
        join_side[0] = t == SPK__J_INNER || t == SPK__J_CROSS || t == SPK__J_LEFT || t == SPK__J_SEMI || t == SPK__J_ANTI;
        join_side[1] = t == SPK__J_INNER || t == SPK__J_CROSS || t == SPK__J_RIGHT;
    }
    int nleft = spk__opt_ncols(in->child);
    for (int k = 0; k < s->n; k++)
        if (!spk__opt_map_init(&s->map[k], in)) return false;
    for (int i = 0; i < ncols; i++) {
        spk_expr *w[2] = {NULL, NULL};
        switch ((spk__pkind)in->kind) {
        case SPK__P_PROJECT: {
            const spk__bnode *r = in->bound[i]->root;
            if (r->kind == SPK__B_COL) w[0] = spk__opt_colref(in->child, r->col);
            else if (r->kind == SPK__B_LIT) w[0] = spk_expr_retain((spk_expr *)(uintptr_t)spk__opt_unalias(in->exprs[i]));
            else continue; /* computed: moving it would compute it twice */
            break;
        }
        case SPK__P_SORT: w[0] = spk__opt_colref(in->child, i); break;
        case SPK__P_DISTINCT:
            if (spk_schema_field(in->schema, i)->type.id == SPK_TYPE_DOUBLE) continue; /* as spk__opt_agg_key_col */
            w[0] = spk__opt_colref(in->child, i);
            break;
        case SPK__P_AGG: {
            int col = spk__opt_agg_key_col(in, i);
            if (col < 0) continue;
            w[0] = spk__opt_colref(in->child, col);
            break;
        }
        case SPK__P_UNION:
            /* A side whose column has another type reads it before the
             * union's cast: the predicate would compare other values. */
            for (int k = 0; k < 2; k++) {
                if (!spk_type_equal(spk_schema_field(s->side[k]->schema, i)->type, spk_schema_field(in->schema, i)->type)) continue;
                if (!(w[k] = spk__opt_colref(s->side[k], i))) break;
            }
            break;
        default:
            if (in->kind == SPK__P_JOIN) { /* output: the left columns, then the right ones */
                int k = i < nleft ? 0 : 1;
                if (join_side[k] && !(w[k] = spk__opt_colref(s->side[k], k ? i - nleft : i))) break;
            }
            break;
        }
        for (int k = 0; k < s->n; k++) s->map[k].with[i] = w[k];
        if (spk_last_status() == SPK_ERR_NOMEM) return false;
    }
    return true;
}

/* The conjuncts that stay above, and those that move into each side. */
typedef struct spk__opt_moves {
    spk_expr *stay[SPK__OPT_MAX_CONJUNCTS], *move[2][SPK__OPT_MAX_CONJUNCTS];
    int nstay, nmove[2];
} spk__opt_moves;

/* Filter over a filter, a projection, a sort, an aggregation, a distinct or
 * a union: drop conjuncts that are always true, empty the relation when one
 * is never true, merge with a filter below, and move every conjunct that
 * can go into the input's inputs (the rest stays above, in its order). */
static spk_df *spk__opt_filter_rule(const spk_df *f, int depth) {
    const spk_df *in = f->child;
    if (spk__opt_is_empty(in)) return spk__opt_empty(f);
    spk__opt_conjs cs = {NULL, 0};
    spk__opt_sides sides;
    memset(&sides, 0, sizeof sides);
    /* kept off the stack: rules recurse once per plan level */
    spk__opt_moves *mv = (spk__opt_moves *)spk__calloc(spk__expr_alloc(), sizeof *mv);
    spk_expr **stay = mv ? mv->stay : NULL;
    spk_df *below[2] = {NULL, NULL}, *mid = NULL, *r = NULL;
    bool changed = false, never = false, ok = mv && spk__opt_conjs_init(&cs, f->exprs[0], in);
    if (!mv) spk__nomem("a filter's conjuncts", sizeof *mv);
    for (int i = 0; ok && i < cs.n && !never; i++) {
        int truth = spk__opt_const_truth(cs.c[i].b);
        never = truth == 0;
        if (truth == 1) { /* TRUE AND x is x */
            spk_bound_free(cs.c[i].b);
            memmove(&cs.c[i], &cs.c[i + 1], (size_t)(cs.n - i - 1) * sizeof *cs.c);
            cs.n--;
            i--;
            changed = true;
        }
    }
    if (!ok) goto done;
    if (never) {
        r = spk__opt_empty(f);
        goto done;
    }
    if (cs.n == 0) {
        r = spk__opt_keep(in);
        goto done;
    }
    if (in->kind == SPK__P_FILTER) { /* Filter(b, Filter(a, x)) = Filter(a AND b, x): a still runs first */
        spk_expr *both = spk_expr_retain(in->exprs[0]);
        for (int i = 0; i < cs.n; i++) both = spk_and(both, spk__opt_conj_expr(spk_expr_retain((spk_expr *)(uintptr_t)cs.c[i].e), cs.c[i].b));
        mid = spk_df_filter(spk__opt_mut(in->child), both);
        if (mid) r = spk__opt_rules(mid, depth + 1);
        goto done;
    }
    if (!(ok = spk__opt_sides_of(in, &sides))) goto done;
    for (int i = 0; i < cs.n; i++) {
        spk_expr *m[2] = {NULL, NULL};
        bool fits[2] = {false, false}, any = false, all = true;
        int ncols = spk_schema_ncols(cs.c[i].b->schema);
        for (int k = 0; k < sides.n; k++) {
            fits[k] = true;
            for (int c = 0; c < ncols && fits[k]; c++)
                if (cs.c[i].b->col_slot[c] >= 0 && !sides.map[k].with[c]) fits[k] = false;
            any = any || fits[k];
            all = all && fits[k];
        }
        bool go = sides.n > 0 && (sides.all_sides ? all : any);
        for (int k = 0; go && k < sides.n; k++) {
            if (!fits[k] || (!sides.all_sides && k > 0 && fits[0])) continue; /* one side is enough */
            m[k] = spk__opt_conj_expr(spk__opt_subst(cs.c[i].e, &sides.map[k]), cs.c[i].b);
            if (!m[k]) go = false;
        }
        if (!go) {
            for (int k = 0; k < 2; k++) spk_expr_release(m[k]);
            if (spk_last_status() == SPK_ERR_NOMEM) {
                ok = false;
                goto done;
            }
            spk_clear_error();
            stay[mv->nstay++] = spk__opt_conj_expr(spk_expr_retain((spk_expr *)(uintptr_t)cs.c[i].e), cs.c[i].b);
            if (!stay[mv->nstay - 1]) {
                mv->nstay--;
                ok = false;
                goto done;
            }
            continue;
        }
        for (int k = 0; k < 2; k++)
            if (m[k]) mv->move[k][mv->nmove[k]++] = m[k];
    }
    if (mv->nmove[0] + mv->nmove[1] == 0) {
        if (changed) {
            r = spk__opt_filter_of(in, stay, mv->nstay);
            mv->nstay = 0; /* consumed */
        } else {
            r = spk__opt_keep(f);
        }
        goto done;
    }
    for (int k = 0; k < sides.n; k++) {
        if (mv->nmove[k] == 0) {
            below[k] = spk__opt_keep(sides.side[k]);
            continue;
        }
        spk_df *fk = spk__opt_filter_of(sides.side[k], mv->move[k], mv->nmove[k]);
        mv->nmove[k] = 0;
        if (!fk) goto done;
        below[k] = spk__opt_rules(fk, depth + 1);
        spk_df_release(fk);
        if (!below[k]) goto done;
    }
    mid = spk__opt_rebuild(in, below[0], sides.n > 1 ? below[1] : in->right);
    if (!mid) goto done;
    if (mv->nstay == 0) r = spk_df_retain(mid);
    else r = spk__opt_filter_of(mid, stay, mv->nstay);
    mv->nstay = 0;
done:
    if (mv) {
        spk__release_all(mv->stay, mv->nstay);
        spk__release_all(mv->move[0], mv->nmove[0]);
        spk__release_all(mv->move[1], mv->nmove[1]);
        spk__free(spk__expr_alloc(), mv, sizeof *mv);
    }
    spk_df_release(below[0]);
    spk_df_release(below[1]);
    spk_df_release(mid);
    spk__opt_sides_free(&sides);
    spk__opt_conjs_free(&cs);
    return r ? r : spk__opt_skip(f);
}

/* Project over a project: one projection of the lower one's expressions,
 * unless that would compute a non-trivial expression more than once. */
static spk_df *spk__opt_merge_projects(const spk_df *p, int depth) {
    const spk_df *q = p->child;
    int nq = spk__opt_ncols(q), np = p->nexprs;
    int *uses = (int *)spk__calloc(spk__expr_alloc(), (size_t)(nq ? nq : 1) * sizeof *uses);
    spk__opt_map map = {q, NULL, 0};
    spk_expr **list = NULL;
    spk_df *merged = NULL, *r = NULL;
    int made = 0;
    if (!uses) {
        spk__nomem("a projection", (size_t)nq * sizeof *uses);
        goto done;
    }
    for (int k = 0; k < np; k++) spk__opt_count_refs(p->bound[k]->root, uses);
    for (int i = 0; i < nq; i++) {
        spk__bkind kind = (spk__bkind)q->bound[i]->root->kind;
        if (uses[i] > 1 && kind != SPK__B_COL && kind != SPK__B_LIT) {
            r = spk__opt_keep(p);
            goto done;
        }
    }
    if (!spk__opt_map_init(&map, q)) goto done;
    for (int i = 0; i < nq; i++) map.with[i] = spk_expr_retain((spk_expr *)(uintptr_t)spk__opt_unalias(q->exprs[i]));
    list = (spk_expr **)spk__alloc(spk__expr_alloc(), (size_t)(np ? np : 1) * sizeof *list);
    if (!list) {
        spk__nomem("a projection", (size_t)np * sizeof *list);
        goto done;
    }
    for (; made < np; made++)
        if (!(list[made] = spk__opt_subst(p->exprs[made], &map))) goto done;
    /* The names come from p (adopted): the substituted expressions would
     * be named after what they compute now. */
    merged = spk__opt_adopt(spk__opt_project(q->child, list, np), p);
    if (merged) r = spk__opt_rules(merged, depth + 1);
done:
    if (list) {
        spk__release_all(list, made);
        spk__free(spk__expr_alloc(), list, (size_t)(np ? np : 1) * sizeof *list);
    }
    spk__opt_map_free(&map);
    if (uses) spk__free(spk__expr_alloc(), uses, (size_t)(nq ? nq : 1) * sizeof *uses);
    spk_df_release(merged);
    return r ? r : spk__opt_skip(p);
}

/* A projection that gives its input unchanged: every column, in order,
 * under the same name, type, nullability and qualifier. */
static bool spk__opt_is_identity(const spk_df *p) {
    const spk_df *in = p->child;
    int n = spk__opt_ncols(in);
    if (p->nexprs != n || !spk_schema_equal(p->schema, in->schema, true)) return false;
    for (int i = 0; i < n; i++) {
        const spk__bnode *r = p->bound[i]->root;
        const char *a = p->qualifiers[i], *b = in->qualifiers[i];
        if (r->kind != SPK__B_COL || r->col != i) return false;
        if ((a || b) && (!a || !b || strcmp(a, b) != 0)) return false;
    }
    return true;
}

/* Projection pruning. Below a projection or an aggregation P, through any
 * filters, sorts and limits, the input needs only the columns that P and
 * those nodes read: a projection there drops the expressions nobody reads,
 * an aggregation drops aggregates nobody reads, and a table read by a sort
 * gets a projection of the needed columns (the sort copies whole rows). */
static spk_df *spk__opt_prune(const spk_df *p) {
    const spk_df *chain[SPK__OPT_MAX_CHAIN], *base = p->child;
    int nchain = 0;
    bool sorts = false;
    while ((base->kind == SPK__P_FILTER || base->kind == SPK__P_SORT || base->kind == SPK__P_LIMIT) && nchain < SPK__OPT_MAX_CHAIN) {
        sorts = sorts || base->kind == SPK__P_SORT;
        chain[nchain++] = base;
        base = base->child;
    }
    int nb = spk__opt_ncols(base), nneed = 0, first_cheap = -1;
    if (nb == 0 || (base->kind != SPK__P_PROJECT && base->kind != SPK__P_AGG && !(base->kind == SPK__P_SCAN && sorts)))
        return spk__opt_keep(p);
    bool *need = (bool *)spk__calloc(spk__expr_alloc(), (size_t)nb);
    spk_expr **list = need ? (spk_expr **)spk__calloc(spk__expr_alloc(), (size_t)nb * sizeof *list) : NULL;
    char **quals = list ? (char **)spk__calloc(spk__expr_alloc(), (size_t)nb * sizeof *quals) : NULL;
    spk_df *cur = NULL, *r = NULL;
    int nlist = 0;
    if (!quals) {
        spk__nomem("projection pruning", (size_t)nb * (1 + sizeof *list + sizeof *quals));
        goto done;
    }
    for (int k = 0; k < p->nexprs; k++) spk__opt_mark_cols(p->bound[k], need);
    for (int c = 0; c < nchain; c++)
        for (int k = 0; k < chain[c]->nexprs; k++) spk__opt_mark_cols(chain[c]->bound[k], need);
    if (base->kind == SPK__P_AGG)
        for (int i = 0; i < base->nkeys; i++) need[i] = true; /* the keys define the groups */
    for (int i = 0; i < nb; i++) {
        nneed += need[i];
        if (first_cheap < 0 && base->kind == SPK__P_PROJECT &&
            (base->bound[i]->root->kind == SPK__B_COL || base->bound[i]->root->kind == SPK__B_LIT))
            first_cheap = i;
    }
    if (nneed == nb) {
        r = spk__opt_keep(p);
        goto done;
    }
    if (nneed == 0) { /* keep one column, the cheapest, so that rows keep their count */
        need[base->kind == SPK__P_PROJECT && first_cheap >= 0 ? first_cheap : base->kind == SPK__P_AGG ? base->nkeys : 0] = true;
        if (++nneed == nb) {
            r = spk__opt_keep(p);
            goto done;
        }
    }
    for (int i = 0; i < nb; i++) {
        if (!need[i]) continue;
        quals[nlist] = base->qualifiers[i];
        if (base->kind == SPK__P_SCAN) {
            if (!(list[nlist] = spk__opt_colref(base, i))) goto done;
        } else {
            list[nlist] = spk_expr_retain(base->exprs[i]);
        }
        nlist++;
    }
    switch ((spk__pkind)base->kind) {
    case SPK__P_PROJECT:
    case SPK__P_SCAN:
        cur = spk__project(spk__opt_mut(base->kind == SPK__P_SCAN ? base : base->child), list, nlist);
        break;
    default: /* AGG: the keys come first, and all are kept */
        cur = spk_df_group_agg(spk__opt_mut(base->child), list, base->nkeys, list + base->nkeys, nlist - base->nkeys);
        break;
    }
    nlist = 0; /* consumed */
    if (!cur) goto done;
    if (cur->kind != base->kind && base->kind != SPK__P_SCAN) {
        spk__fail(SPK_ERR_STATE, "optimizer: a pruned node changed kind");
        goto done;
    }
    if (base->kind != SPK__P_SCAN) {
        const spk_allocator *a = spk__df_alloc(cur);
        if (!spk__opt_set_qualifiers(cur, quals)) goto done;
        if (base->alias && !(cur->alias = spk__dup(a, base->alias))) goto done;
    }
    for (int c = nchain - 1; c >= 0; c--) {
        spk_df *next = spk__opt_rebuild(chain[c], cur, NULL);
        spk_df_release(cur);
        if (!(cur = next)) goto done;
    }
    r = spk__opt_rebuild(p, cur, NULL);
done:
    spk__release_all(list, nlist);
    if (quals) spk__free(spk__expr_alloc(), quals, (size_t)nb * sizeof *quals);
    if (list) spk__free(spk__expr_alloc(), list, (size_t)nb * sizeof *list);
    if (need) spk__free(spk__expr_alloc(), need, (size_t)nb);
    spk_df_release(cur);
    return r ? r : spk__opt_skip(p);
}

static spk_df *spk__opt_project_rule(const spk_df *p, int depth) {
    const spk_df *in = p->child;
    if (spk__opt_is_empty(in)) return spk__opt_empty(p);
    if (spk__opt_is_identity(p)) return spk__opt_keep(in);
    if (in->kind == SPK__P_PROJECT) {
        spk_df *m = spk__opt_merge_projects(p, depth);
        if (m != p) return m;
        spk_df_release(m);
    }
    return spk__opt_prune(p);
}

static spk_df *spk__opt_limit_rule(const spk_df *l, int depth) {
    const spk_df *in = l->child;
    if (l->limit == 0 || spk__opt_is_empty(in)) return spk__opt_empty(l);
    if (l->offset == 0) { /* a limit the input never reaches does nothing */
        int64_t most = spk__opt_max_rows(in, depth);
        if (l->limit < 0 || (most >= 0 && most <= l->limit)) return spk__opt_keep(in);
    }
    spk_df *mid = NULL, *r = NULL;
    if (in->kind == SPK__P_LIMIT) {
        /* The inner one passes rows [o1, o1 + l1) of x; the outer one skips
         * o2 of those and takes l2: rows [o1 + o2, ...), at most
         * min(l2, l1 - o2) of them. */
        int64_t o1 = in->offset, l1 = in->limit, o2 = l->offset, l2 = l->limit;
        if (o1 > INT64_MAX - o2) return spk__opt_keep(l);
        int64_t rest = l1 < 0 ? -1 : l1 > o2 ? l1 - o2 : 0;
        int64_t limit = rest < 0 ? l2 : l2 < 0 ? rest : (l2 < rest ? l2 : rest);
        if (limit == 0) return spk__opt_empty(l);
        mid = spk__opt_limit(in->child, limit, o1 + o2);
        if (mid) r = spk__opt_rules(mid, depth + 1);
    } else if (in->kind == SPK__P_PROJECT) {
        /* The projection then computes only the rows that are kept. */
        spk_df *lower = spk__opt_limit(in->child, l->limit, l->offset);
        if (lower) mid = spk__opt_rules(lower, depth + 1);
        spk_df_release(lower);
        if (mid) r = spk__opt_rebuild(in, mid, NULL);
    } else if (in->kind == SPK__P_UNION && l->offset == 0 && l->limit > 0) {
        /* Each side needs to give at most `limit` rows; the limit stays on top. */
        spk_df *side[2] = {NULL, NULL};
        const spk_df *old[2] = {in->child, in->right};
        bool moved = false, ok = true;
        for (int k = 0; k < 2 && ok; k++) {
            int64_t most = spk__opt_max_rows(old[k], depth + 1);
            if (most >= 0 && most <= l->limit) {
                side[k] = spk__opt_keep(old[k]);
                continue;
            }
            spk_df *lk = spk__opt_limit(old[k], l->limit, 0);
            side[k] = lk ? spk__opt_rules(lk, depth + 1) : NULL;
            spk_df_release(lk);
            ok = side[k] != NULL;
            moved = true;
        }
        if (ok && !moved) r = spk__opt_keep(l);
        else if (ok && (mid = spk__opt_rebuild(in, side[0], side[1]))) r = spk__opt_limit(mid, l->limit, 0);
        spk_df_release(side[0]);
        spk_df_release(side[1]);
    } else {
        return spk__opt_keep(l);
    }
    spk_df_release(mid);
    return r ? r : spk__opt_skip(l);
}

/* The rules for one node whose children are already optimized. Each
 * returns a new reference: n itself when nothing applies. */
static spk_df *spk__opt_rules(const spk_df *n, int depth) {
    if (depth > SPK__OPT_MAX_DEPTH) return spk__opt_keep(n);
    switch ((spk__pkind)n->kind) {
    case SPK__P_SCAN: break;
    case SPK__P_FILTER: return spk__opt_filter_rule(n, depth);
    case SPK__P_PROJECT: return spk__opt_project_rule(n, depth);
    case SPK__P_LIMIT: return spk__opt_limit_rule(n, depth);
    case SPK__P_AGG:
        /* With no keys an aggregation yields its one row even over nothing. */
        if (n->nkeys > 0 && spk__opt_is_empty(n->child)) return spk__opt_empty(n);
        return spk__opt_prune(n);
    case SPK__P_SORT:
        if (spk__opt_is_empty(n->child)) return spk__opt_empty(n);
        break;
    case SPK__P_DISTINCT:
        if (spk__opt_is_empty(n->child)) return spk__opt_empty(n);
        if (n->child->kind == SPK__P_DISTINCT) return spk__opt_keep(n->child);
        break;
    case SPK__P_UNION:
        if (spk__opt_is_empty(n->child) && spk__opt_is_empty(n->right)) return spk__opt_empty(n);
        break;
    }
    return spk__opt_keep(n);
}

/* One bottom-up pass: the children first, then n over them. */
static spk_df *spk__opt_pass(const spk_df *df, int depth) {
    if (depth > SPK__OPT_MAX_DEPTH) return spk__opt_keep(df);
    spk_df *child = NULL, *right = NULL, *cur;
    if (df->child && !(child = spk__opt_pass(df->child, depth + 1))) return NULL;
    if (df->right && !(right = spk__opt_pass(df->right, depth + 1))) {
        spk_df_release(child);
        return NULL;
    }
    if (child == df->child && right == df->right) {
        cur = spk__opt_keep(df);
    } else if (!(cur = spk__opt_rebuild(df, child, right))) {
        cur = spk__opt_skip(df); /* keep the node as built, over its old children */
    }
    spk_df_release(child);
    spk_df_release(right);
    if (!cur) return NULL;
    spk_df *next = spk__opt_rules(cur, depth);
    spk_df_release(cur);
    return next;
}

SPKDEF spk_df *spk__optimize(const spk_df *df) {
    if (!df) {
        spk__fail(SPK_ERR_ARG, "optimize: NULL DataFrame (an earlier call failed: see its error)");
        return NULL;
    }
    if (spk__opt_disabled) return spk__opt_keep(df);
    /* Rewrites that do not apply fail quietly: keep the caller's last error. */
    char saved[SPK_ERROR_MAX];
    spk_status saved_status = spk_last_status();
    memcpy(saved, spk_last_error(), sizeof saved);
    spk_clear_error();
    spk_df *cur = spk__opt_keep(df);
    for (int pass = 0; pass < SPK__OPT_MAX_PASSES; pass++) {
        spk_df *next = spk__opt_pass(cur, 0);
        bool same = next == cur;
        spk_df_release(cur);
        if (!next) return NULL; /* out of memory: that error stays */
        cur = next;
        if (same) break;
    }
    /* Every rewrite keeps the output; should one not have, run the plan as built. */
    if (!spk_schema_equal(cur->schema, df->schema, true)) {
        spk_df_release(cur);
        cur = spk__opt_keep(df);
    }
    spk__fail(saved_status, "%s", saved);
    return cur;
}

/* ---------------------------------------------------------------- explain */

/* The columns of each table that a plan reads, for its LocalRelation lines
 * (the optimized plan shows only those: projection pruning's result). */
typedef struct spk__scan_use {
    const spk_df *scan;
    bool *used;
    int n;
} spk__scan_use;

typedef struct spk__scan_uses {
    spk__scan_use *v;
    int n, cap;
    bool failed;
} spk__scan_uses;

static void spk__uses_free(spk__scan_uses *u) {
    for (int i = 0; i < u->n; i++) spk__free(&spk__default_allocator, u->v[i].used, (size_t)(u->v[i].n ? u->v[i].n : 1));
    if (u->v) spk__free(&spk__default_allocator, u->v, (size_t)u->cap * sizeof *u->v);
}

static const spk__scan_use *spk__uses_find(const spk__scan_uses *u, const spk_df *scan) {
    for (int i = 0; u && i < u->n; i++)
        if (u->v[i].scan == scan) return &u->v[i];
    return NULL;
}

/* need: which of df's output columns are read (NULL: all). */
static void spk__uses_walk(spk__scan_uses *u, const spk_df *df, const bool *need, int depth) {
    if (u->failed || depth > SPK__OPT_MAX_DEPTH) return;
    int n = spk__opt_ncols(df);
    if (df->kind == SPK__P_SCAN) {
        spk__scan_use *e = (spk__scan_use *)(uintptr_t)spk__uses_find(u, df);
        if (!e) {
            if (u->n == u->cap) {
                int cap = u->cap ? u->cap * 2 : 8;
                spk__scan_use *v = (spk__scan_use *)spk__realloc(&spk__default_allocator, u->v, (size_t)u->cap * sizeof *v, (size_t)cap * sizeof *v);
                if (!v) {
                    u->failed = true;
                    return;
                }
                u->v = v;
                u->cap = cap;
            }
            bool *used = (bool *)spk__calloc(&spk__default_allocator, (size_t)(n ? n : 1));
            if (!used) {
                u->failed = true;
                return;
            }
            e = &u->v[u->n++];
            e->scan = df;
            e->used = used;
            e->n = n;
        }
        for (int i = 0; i < n; i++) e->used[i] = e->used[i] || !need || need[i];
        return;
    }
    const spk_df *kids[2] = {df->child, df->right};
    for (int k = 0; k < 2; k++) {
        const spk_df *c = kids[k];
        if (!c) continue;
        int nc = spk__opt_ncols(c);
        bool *cn = (bool *)spk__calloc(&spk__default_allocator, (size_t)(nc ? nc : 1));
        if (!cn) {
            u->failed = true;
            return;
        }
        bool all = false;
        switch ((spk__pkind)df->kind) {
        case SPK__P_PROJECT:
        case SPK__P_AGG:
            for (int i = 0; i < df->nexprs; i++)
                if (!need || need[i] || (df->kind == SPK__P_AGG && i < df->nkeys)) spk__opt_mark_cols(df->bound[i], cn);
            break;
        case SPK__P_FILTER:
        case SPK__P_SORT:
        case SPK__P_LIMIT:
        case SPK__P_UNION: /* the same columns: what is read above, and what the node reads */
            for (int i = 0; i < df->nexprs; i++) spk__opt_mark_cols(df->bound[i], cn);
            for (int i = 0; i < nc && i < n; i++) cn[i] = cn[i] || !need || need[i];
            break;
        default: all = true; break; /* distinct compares whole rows; unknown kinds read everything */
        }
        spk__uses_walk(u, c, all ? NULL : cn, depth + 1);
        spk__free(&spk__default_allocator, cn, (size_t)(nc ? nc : 1));
    }
}

static void spk__explain_bound(spk__textbuf *b, const spk_bound *bd) {
    char text[512];
    size_t n = spk_bound_explain(bd, text, sizeof text);
    if (n < sizeof text) {
        spk__sb_put(b, text, n);
        return;
    }
    char *big = (char *)spk__alloc(&spk__default_allocator, n + 1);
    if (!big) {
        b->failed = true;
        return;
    }
    spk_bound_explain(bd, big, n + 1);
    spk__sb_put(b, big, n);
    spk__free(&spk__default_allocator, big, n + 1);
}

/* [e1, e2, ...]; with names, an output whose name is not the column it
 * copies shows "AS name", as Spark's aliases. */
static void spk__explain_exprs(spk__textbuf *b, const spk_df *df, int from, int to, bool with_names) {
    spk__sb_str(b, "[");
    for (int i = from; i < to; i++) {
        const spk_bound *bd = df->bound[i];
        if (i > from) spk__sb_str(b, ", ");
        spk__explain_bound(b, bd);
        if (df->kind == SPK__P_SORT)
            spk__sb_printf(b, " %s NULLS %s", df->exprs[i]->descending ? "DESC" : "ASC", df->exprs[i]->nulls_first ? "FIRST" : "LAST");
        const char *name = spk_schema_field(df->schema, i)->name;
        if (with_names && (bd->root->kind != SPK__B_COL || strcmp(spk_schema_field(bd->schema, bd->root->col)->name, name) != 0)) {
            spk__sb_str(b, " AS ");
            spk__sb_str(b, name);
        }
    }
    spk__sb_str(b, "]");
}

/* spk_df_alias's node: every column, in order, under a new qualifier. */
static bool spk__explain_is_alias(const spk_df *df) {
    if (!df->alias || df->nexprs != spk__opt_ncols(df->child)) return false;
    for (int i = 0; i < df->nexprs; i++) {
        const spk__bnode *r = df->bound[i]->root;
        if (r->kind != SPK__B_COL || r->col != i ||
            strcmp(spk_schema_field(df->schema, i)->name, spk_schema_field(df->child->schema, i)->name) != 0)
            return false;
    }
    return true;
}

static void spk__explain_line(spk__textbuf *b, const spk_df *df, const spk__scan_uses *uses) {
    switch ((spk__pkind)df->kind) {
    case SPK__P_SCAN: {
        const spk__scan_use *u = spk__uses_find(uses, df);
        size_t rows = spk_table_nrows(df->table);
        spk__sb_str(b, rows ? "LocalRelation [" : "LocalRelation <empty>, [");
        for (int i = 0, k = 0; i < spk__opt_ncols(df); i++) {
            if (u && !u->used[i]) continue; /* pruned: nothing above reads it */
            spk__sb_str(b, k++ ? ", " : "");
            spk__sb_str(b, spk_schema_field(df->schema, i)->name);
            spk__sb_printf(b, "#%d", i);
        }
        spk__sb_str(b, "]");
        if (rows) spk__sb_printf(b, ", %zu rows", rows);
        break;
    }
    case SPK__P_PROJECT:
        if (spk__explain_is_alias(df)) {
            spk__sb_str(b, "SubqueryAlias ");
            spk__sb_str(b, df->alias);
            break;
        }
        spk__sb_str(b, "Project ");
        spk__explain_exprs(b, df, 0, df->nexprs, true);
        break;
    case SPK__P_FILTER:
        spk__sb_str(b, "Filter ");
        spk__explain_bound(b, df->bound[0]);
        break;
    case SPK__P_AGG:
        spk__sb_str(b, "Aggregate ");
        spk__explain_exprs(b, df, 0, df->nkeys, false);
        spk__sb_str(b, ", ");
        spk__explain_exprs(b, df, 0, df->nexprs, true);
        break;
    case SPK__P_SORT:
        spk__sb_str(b, "Sort ");
        spk__explain_exprs(b, df, 0, df->nexprs, false);
        spk__sb_str(b, ", true");
        break;
    case SPK__P_LIMIT:
        if (df->limit >= 0) spk__sb_printf(b, "GlobalLimit %lld", (long long)df->limit);
        if (df->offset) spk__sb_printf(b, "%sOffset %lld", df->limit >= 0 ? ", " : "", (long long)df->offset);
        break;
    case SPK__P_DISTINCT: spk__sb_str(b, "Distinct"); break;
    case SPK__P_UNION: spk__sb_str(b, "Union false, false"); break;
    default: /* the kinds kept outside spk__pkind (see plan.c) */
        if (df->kind == SPK__P_JOIN) {
            static const char *const types[] = {"Inner", "Cross", "LeftOuter", "RightOuter", "FullOuter", "LeftSemi", "LeftAnti"};
            spk__sb_printf(b, "Join %s", df->join < sizeof types / sizeof types[0] ? types[df->join] : "?");
            if (df->nexprs) {
                spk__sb_str(b, ", ");
                spk__explain_bound(b, df->bound[0]);
            }
        } else if (df->kind == SPK__P_INTERSECT || df->kind == SPK__P_EXCEPT) {
            spk__sb_printf(b, "%s %s", df->kind == SPK__P_INTERSECT ? "Intersect" : "Except", df->all ? "true" : "false");
        } else if (df->kind == SPK__P_DEDUP) {
            spk__sb_str(b, "Deduplicate ");
            spk__explain_exprs(b, df, 0, df->nexprs, false);
        } else if (df->kind == SPK__P_SAMPLE) {
            spk__sb_printf(b, "Sample 0.0, %.17g, false, %llu", df->fraction, (unsigned long long)df->seed);
        } else {
            spk__sb_printf(b, "Plan node %d", (int)df->kind);
        }
        break;
    }
    spk__sb_str(b, "\n");
}

/* Spark's tree: a child line starts "+- " (the last child) or ":- " (the
 * others, e.g. a union's or a join's left side), under each ancestor "   "
 * or ":  " depending on whether that ancestor was a last child. */
static void spk__explain_tree(spk__textbuf *b, const spk_df *df, const spk__scan_uses *uses, bool *last, int depth) {
    for (int i = 1; i < depth; i++) spk__sb_str(b, last[i] ? "   " : ":  ");
    if (depth > 0) spk__sb_str(b, last[depth] ? "+- " : ":- ");
    if (depth > SPK__OPT_MAX_DEPTH) {
        spk__sb_str(b, "...\n");
        return;
    }
    spk__explain_line(b, df, uses);
    const spk_df *kids[2] = {df->child, df->right};
    int nkids = (kids[0] != NULL) + (kids[1] != NULL);
    for (int k = 0, seen = 0; k < 2; k++) {
        if (!kids[k]) continue;
        last[depth + 1] = ++seen == nkids;
        spk__explain_tree(b, kids[k], uses, last, depth + 1);
    }
}

static void spk__explain_plan(spk__textbuf *b, const spk_df *df, bool prune) {
    bool last[SPK__OPT_MAX_DEPTH + 2] = {false};
    spk__scan_uses uses = {NULL, 0, 0, false};
    if (prune) spk__uses_walk(&uses, df, NULL, 0);
    if (uses.failed) b->failed = true;
    else spk__explain_tree(b, df, prune ? &uses : NULL, last, 0);
    spk__uses_free(&uses);
}

SPKDEF spk_status spk_df_explain_string(spk_df *df, bool extended, char **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_df_explain_string: NULL output");
    *out = NULL;
    if (!df) return spk__fail(SPK_ERR_ARG, "explain: NULL DataFrame (an earlier call failed: see its error)");
    spk_df *opt = spk__optimize(df);
    if (!opt) return spk_last_status();
    spk__textbuf b = {NULL, 0, 0, false};
    if (extended) {
        spk__sb_str(&b, "== Analyzed Logical Plan ==\n");
        for (int i = 0; i < spk__opt_ncols(df); i++) {
            char type[64];
            spk_type_format(spk_schema_field(df->schema, i)->type, SPK_TYPE_SIMPLE, type, sizeof type);
            spk__sb_str(&b, i ? ", " : "");
            spk__sb_str(&b, spk_schema_field(df->schema, i)->name);
            spk__sb_str(&b, ": ");
            spk__sb_str(&b, type);
        }
        spk__sb_str(&b, "\n");
        spk__explain_plan(&b, df, false);
        spk__sb_str(&b, "\n== Optimized Logical Plan ==\n");
        spk__explain_plan(&b, opt, true);
        spk__sb_str(&b, "\n");
    }
    /* There is no separate physical planning: exec runs the optimized plan
     * node for node, so that is the physical plan Spark users look for. */
    spk__sb_str(&b, "== Physical Plan ==\n");
    spk__explain_plan(&b, opt, true);
    spk_df_release(opt);
    return spk__sb_finish(&b, out);
}

SPKDEF spk_status spk_df_explain(spk_df *df, bool extended, FILE *f) {
    char *text = NULL;
    spk_status st = spk_df_explain_string(df, extended, &text);
    if (st != SPK_OK) return st;
    fputs(text, f);
    spk_string_free(text);
    return SPK_OK;
}

/* ---- src/exec.c ---- */
/* exec: running a plan, morsel-driven on the session's threads. Filters,
 * projections and limits stream batches of vectors from their source into
 * sinks, a morsel at a time; aggregation, sorting, distinct, set operations
 * and joins consume whole inputs and produce tables. Every operator keeps
 * each task's results apart and combines them in task order, so results
 * are the same at any thread count. Actions (collect, count, show,
 * foreach) sit on top. */

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

/* Where a stream's rows go. start() learns how the work is split; open()
 * gives the sink for one morsel's rows on one worker, close() follows the
 * morsel's last batch. An ordered feed gets every morsel in order on the
 * calling thread (a user's callback). */
typedef struct spk__feed spk__feed;
struct spk__feed {
    spk_status (*start)(spk__feed *self, int nworkers, size_t nmorsels);
    spk_status (*open)(spk__feed *self, int worker, size_t morsel, spk__sink **sink);
    spk_status (*close)(spk__feed *self, int worker, size_t morsel); /* may be NULL */
    bool ordered;
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
    spk__feed *feed;
    spk__stream_worker *workers;
    int nworkers;
    bool done; /* a limit is satisfied (only ever with one worker) */
} spk__stream_run;

static spk_status spk__stream_task(void *ctx, int worker, size_t m) {
    spk__stream_run *r = (spk__stream_run *)ctx;
    if (r->done) return SPK_OK;
    spk__stream_worker *w = &r->workers[worker];
    spk_status st = SPK_OK;
    if (!w->vs.block) {
        const spk_df *node = r->top;
        for (; w->ready < r->nstages && st == SPK_OK; w->ready++, node = node->child) st = spk__stage_init(&w->stages[w->ready], node);
        if (st == SPK_OK) st = spk__vecset_init(&w->vs, spk_table_schema(r->table));
        if (st != SPK_OK) return st;
    }
    spk__sink *sink = NULL;
    if ((st = r->feed->open(r->feed, worker, m, &sink)) != SPK_OK) return st;
    const spk__morsel *mo = &r->morsels[m];
    for (uint32_t at = 0; st == SPK_OK && at < mo->n && !sink->done; at += SPK__BATCH) {
        uint32_t n = mo->n - at < SPK__BATCH ? mo->n - at : SPK__BATCH;
        spk__load_batch(r->table, mo->chunk, mo->start + at, n, w->vs.vecs);
        st = spk__push_batch(w->stages, r->nstages, w->vs.ptrs, w->vs.n, NULL, n, sink);
    }
    if (sink->done && r->nworkers == 1) r->done = true;
    if (st == SPK_OK && r->feed->close) st = r->feed->close(r->feed, worker, m);
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
    if (st == SPK_OK) {
        r.nworkers = ordered ? 1 : spk__par_workers(df->session, nmorsels);
        wsize = (size_t)r.nworkers * (sizeof(spk__stream_worker) + (size_t)(r.nstages ? r.nstages : 1) * sizeof(spk__stage));
        if (!(r.workers = (spk__stream_worker *)spk__calloc(&spk__default_allocator, wsize))) st = spk__nomem("a query's workers", wsize);
        for (int w = 0; st == SPK_OK && w < r.nworkers; w++)
            r.workers[w].stages = (spk__stage *)(void *)((char *)(r.workers + r.nworkers) + (size_t)w * (size_t)(r.nstages ? r.nstages : 1) * sizeof(spk__stage));
    }
    if (st == SPK_OK) st = feed->start(feed, r.nworkers, nmorsels);
    if (st == SPK_OK) st = spk__par_run(df->session, r.nworkers, nmorsels, spk__stream_task, &r);
    for (int w = 0; r.workers && w < r.nworkers; w++) {
        spk__stages_free(r.workers[w].stages, r.workers[w].ready);
        spk__vecset_free(&r.workers[w].vs);
    }
    if (r.workers) spk__free(&spk__default_allocator, r.workers, wsize);
    if (r.morsels) spk__free(&spk__default_allocator, r.morsels, (nmorsels ? nmorsels : 1) * sizeof *r.morsels);
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

/* Collects a stream into a table: each morsel's rows into a table of its
 * own, put together in morsel order at the end. */
typedef struct spk__table_feed {
    spk__feed base;
    spk_table *out;
    spk_table **parts; /* per morsel */
    size_t nparts;
    spk__cast_sink *sinks; /* per worker */
    int nworkers;
} spk__table_feed;

static spk_status spk__table_feed_start(spk__feed *self, int nworkers, size_t nmorsels) {
    spk__table_feed *f = (spk__table_feed *)self;
    f->nparts = nmorsels;
    f->nworkers = nworkers;
    size_t psize = (nmorsels ? nmorsels : 1) * sizeof *f->parts, ssize = (size_t)nworkers * sizeof *f->sinks;
    f->parts = (spk_table **)spk__calloc(&spk__default_allocator, psize);
    f->sinks = f->parts ? (spk__cast_sink *)spk__calloc(&spk__default_allocator, ssize) : NULL;
    if (!f->sinks) return spk__nomem("a query's output", psize + ssize);
    for (int w = 0; w < nworkers; w++) spk__cast_sink_init(&f->sinks[w], NULL);
    return SPK_OK;
}

static spk_status spk__table_feed_open(spk__feed *self, int worker, size_t morsel, spk__sink **sink) {
    spk__table_feed *f = (spk__table_feed *)self;
    spk__cast_sink *s = &f->sinks[worker];
    spk_status st = SPK_OK;
    if (!s->cast.block && (st = spk__vecset_init(&s->cast, spk_table_schema(f->out))) != SPK_OK) return st;
    if ((st = spk_table_new(f->out->alloc, spk_table_schema(f->out), &f->parts[morsel])) != SPK_OK) return st;
    s->out = f->parts[morsel];
    s->base.done = false;
    *sink = &s->base;
    return SPK_OK;
}

static void spk__table_feed_init(spk__table_feed *f, spk_table *out) {
    memset(f, 0, sizeof *f);
    f->base.start = spk__table_feed_start;
    f->base.open = spk__table_feed_open;
    f->out = out;
}

/* Moves the pieces into the output, in order (if `ok`), and frees them. */
static spk_status spk__table_feed_finish(spk__table_feed *f, spk_status st) {
    for (size_t m = 0; f->parts && m < f->nparts; m++) {
        if (!f->parts[m]) continue;
        if (st == SPK_OK) st = spk__table_adopt(f->out, f->parts[m]);
        spk_table_free(f->parts[m]);
    }
    if (f->parts) spk__free(&spk__default_allocator, f->parts, (f->nparts ? f->nparts : 1) * sizeof *f->parts);
    for (int w = 0; f->sinks && w < f->nworkers; w++) spk__cast_sink_free(&f->sinks[w]);
    if (f->sinks) spk__free(&spk__default_allocator, f->sinks, (size_t)f->nworkers * sizeof *f->sinks);
    f->parts = NULL;
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
 * through an open-addressing table of hashes of the key values, keys kept as
 * values whose strings live in the part's arena, one state per group and
 * aggregate. Then the parts are merged, split by hash into partitions that
 * workers merge at once, each partition taking the parts in morsel order.
 * So every group's states combine in the same order whatever the thread
 * count — floating-point sums included — and groups come out in the order
 * of their first row, as a single pass over the input would give them. */

typedef struct spk__agg_slot {
    const spk__bnode *node; /* the aggregate */
    int output;             /* the output expression it belongs to */
} spk__agg_slot;

/* Groups and their states: one morsel's, or (merged) one partition's. */
typedef struct spk__agg_part {
    spk_value *keys;   /* ngroups * nkeys */
    uint64_t *hashes;  /* per group */
    uint64_t *origin;  /* per group: (morsel << 32) | its group there, where it first showed */
    char **states;     /* per aggregate: cap * state_size */
    size_t ngroups, cap;
    uint32_t *table;   /* open addressing: group index + 1, 0 = empty */
    size_t table_cap;
    spk__arena strings;
    uint32_t morsel;   /* a morsel's part: which */
} spk__agg_part;

typedef struct spk__agg_worker spk__agg_worker;

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
    spk__agg_worker *workers;
    int nworkers;
} spk__agg_exec;

struct spk__agg_worker {
    spk__sink base;
    spk__agg_exec *run;
    spk__agg_part *part;  /* the morsel's */
    spk__runner *runners; /* one per expression of the node */
    int made;
    uint32_t groups_of_row[SPK__BATCH];
};

static void spk__collect_agg_nodes(const spk__bnode *b, int output, spk__agg_slot *into, int *n, int cap) {
    if (b->kind == SPK__B_AGG) {
        if (*n < cap) into[(*n)++] = (spk__agg_slot){b, output};
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

static spk_status spk__agg_part_new(const spk__agg_exec *run, spk__agg_part **out) {
    const spk_allocator *a = &spk__default_allocator;
    size_t ssize = (size_t)(run->naggs ? run->naggs : 1) * sizeof(char *);
    spk__agg_part *p = (spk__agg_part *)spk__calloc(a, sizeof *p);
    if (p && !(p->states = (char **)spk__calloc(a, ssize))) {
        spk__free(a, p, sizeof *p);
        p = NULL;
    }
    if (!p) return spk__nomem("an aggregation", sizeof *p + ssize);
    p->strings.alloc = a;
    *out = p;
    return SPK_OK;
}

static void spk__agg_part_free(const spk__agg_exec *run, spk__agg_part *p) {
    const spk_allocator *a = &spk__default_allocator;
    if (!p) return;
    for (int i = 0; i < run->naggs; i++) {
        const spk__bnode *node = run->aggs[i].node;
        if (!p->states[i]) continue;
        if (node->agg->destroy)
            for (size_t g = 0; g < p->ngroups; g++) node->agg->destroy(node, p->states[i] + g * node->agg->state_size);
        spk__free(a, p->states[i], p->cap * node->agg->state_size);
    }
    spk__free(a, p->states, (size_t)(run->naggs ? run->naggs : 1) * sizeof(char *));
    size_t nk = (size_t)(run->nkeys ? run->nkeys : 1);
    if (p->keys) spk__free(a, p->keys, p->cap * nk * sizeof *p->keys);
    if (p->hashes) spk__free(a, p->hashes, p->cap * 2 * sizeof *p->hashes);
    if (p->table) spk__free(a, p->table, p->table_cap * sizeof *p->table);
    spk__arena_free(&p->strings);
    spk__free(a, p, sizeof *p);
}

static spk_status spk__agg_grow_table(spk__agg_part *p) {
    size_t cap = p->table_cap ? p->table_cap * 2 : 64;
    uint32_t *t = (uint32_t *)spk__calloc(&spk__default_allocator, cap * sizeof *t);
    if (!t) return spk__nomem("a hash table", cap * sizeof *t);
    for (size_t g = 0; g < p->ngroups; g++) {
        size_t at = p->hashes[g] & (cap - 1);
        while (t[at]) at = (at + 1) & (cap - 1);
        t[at] = (uint32_t)g + 1;
    }
    if (p->table) spk__free(&spk__default_allocator, p->table, p->table_cap * sizeof *p->table);
    p->table = t;
    p->table_cap = cap;
    return SPK_OK;
}

/* The group with these key values, or UINT32_MAX. */
static uint32_t spk__agg_find(const spk__agg_part *p, int nkeys, const spk_value *key, uint64_t h) {
    if (!p->table_cap) return UINT32_MAX;
    size_t at = h & (p->table_cap - 1);
    while (p->table[at]) {
        uint32_t g = p->table[at] - 1;
        if (p->hashes[g] == h) {
            const spk_value *gk = p->keys + (size_t)g * nkeys;
            bool same = true;
            for (int k = 0; k < nkeys && same; k++) same = spk_value_equal(&gk[k], &key[k]);
            if (same) return g;
        }
        at = (at + 1) & (p->table_cap - 1);
    }
    return UINT32_MAX;
}

/* Adds a group with the given key values (strings copied); returns its index. */
static spk_status spk__agg_new_group(const spk__agg_exec *run, spk__agg_part *p, const spk_value *key, uint64_t hash,
                                     uint64_t origin, uint32_t *group) {
    const spk_allocator *a = &spk__default_allocator;
    size_t nk = (size_t)(run->nkeys ? run->nkeys : 1);
    if (p->ngroups >= UINT32_MAX - 1) return spk__fail(SPK_ERR_LIMIT, "more than 4 billion groups");
    if (p->ngroups == p->cap) { /* grow into fresh arrays, so that a failure leaves the part as it was */
        size_t cap = p->cap ? p->cap * 2 : 16, na = (size_t)(run->naggs ? run->naggs : 1);
        spk_value *k = (spk_value *)spk__alloc(a, cap * nk * sizeof *k);
        uint64_t *h = k ? (uint64_t *)spk__alloc(a, cap * 2 * sizeof *h) : NULL;
        char **s = h ? (char **)spk__calloc(a, na * sizeof *s) : NULL;
        bool ok = s != NULL;
        for (int i = 0; ok && i < run->naggs; i++)
            ok = (s[i] = (char *)spk__alloc(a, cap * run->aggs[i].node->agg->state_size)) != NULL;
        if (!ok) {
            for (int i = 0; s && i < run->naggs; i++)
                if (s[i]) spk__free(a, s[i], cap * run->aggs[i].node->agg->state_size);
            if (s) spk__free(a, s, na * sizeof *s);
            if (h) spk__free(a, h, cap * 2 * sizeof *h);
            if (k) spk__free(a, k, cap * nk * sizeof *k);
            return spk__nomem("aggregation groups", cap * (nk * sizeof *k + 2 * sizeof *h));
        }
        if (p->cap) {
            memcpy(k, p->keys, p->ngroups * nk * sizeof *k);
            memcpy(h, p->hashes, p->ngroups * sizeof *h);
            memcpy(h + cap, p->origin, p->ngroups * sizeof *h);
            spk__free(a, p->keys, p->cap * nk * sizeof *k);
            spk__free(a, p->hashes, p->cap * 2 * sizeof *h);
        }
        for (int i = 0; i < run->naggs; i++) {
            size_t size = run->aggs[i].node->agg->state_size;
            if (p->states[i]) {
                memcpy(s[i], p->states[i], p->ngroups * size);
                spk__free(a, p->states[i], p->cap * size);
            }
            p->states[i] = s[i];
        }
        spk__free(a, s, na * sizeof *s);
        p->keys = k;
        p->hashes = h;
        p->origin = h + cap;
        p->cap = cap;
    }
    for (int i = 0; i < run->naggs; i++)
        run->aggs[i].node->agg->init(p->states[i] + p->ngroups * run->aggs[i].node->agg->state_size);
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
    p->hashes[p->ngroups] = hash;
    p->origin[p->ngroups] = origin;
    *group = (uint32_t)p->ngroups++;
    if ((p->ngroups + 1) * 2 > p->table_cap) return spk__agg_grow_table(p);
    size_t at = hash & (p->table_cap - 1);
    while (p->table[at]) at = (at + 1) & (p->table_cap - 1);
    p->table[at] = *group + 1;
    return SPK_OK;
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
    SPK__FOR_ROWS(sel, n, if (st == SPK_OK) {
        spk_value key[64];
        uint64_t h = 0x9e3779b97f4a7c15ULL;
        for (int k = 0; k < run->nkeys; k++) {
            key[k] = spk__vec_get(keyvec[k], i);
            h = spk_hash_u64(h ^ spk_value_hash(&key[k], (uint64_t)k));
        }
        uint32_t group = spk__agg_find(p, run->nkeys, key, h);
        if (group == UINT32_MAX) st = spk__agg_new_group(run, p, key, h, (uint64_t)p->morsel << 32 | p->ngroups, &group);
        w->groups_of_row[i] = group;
    });
    if (st != SPK_OK) return st;
    /* aggregates: evaluate each one's argument over the batch, then update */
    for (int a = 0; a < run->naggs; a++) {
        const spk__agg_slot *ag = &run->aggs[a];
        spk__runner *r = &w->runners[run->nkeys + ag->output];
        spk__arena_reset(&r->ev.arena);
        spk__runner_bind_inputs(r, node->bound[run->nkeys + ag->output], cols);
        spk__eval_node(r, ag->node->args[0], sel, n);
        if (r->ev.status != SPK_OK) return r->ev.status;
        st = ag->node->agg->update(ag->node, p->states[a], w->groups_of_row, &r->ev.vecs[ag->node->args[0]->slot], sel, n);
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

static spk_status spk__agg_start(spk__feed *self, int nworkers, size_t nmorsels) {
    spk__agg_exec *run = (spk__agg_exec *)self;
    size_t psize = (nmorsels ? nmorsels : 1) * sizeof *run->parts, wsize = (size_t)nworkers * sizeof *run->workers;
    run->parts = (spk__agg_part **)spk__calloc(&spk__default_allocator, psize);
    run->workers = run->parts ? (spk__agg_worker *)spk__calloc(&spk__default_allocator, wsize) : NULL;
    if (!run->workers) return spk__nomem("an aggregation", psize + wsize);
    run->nparts = nmorsels;
    run->nworkers = nworkers;
    for (int w = 0; w < nworkers; w++) {
        run->workers[w].base.consume = spk__agg_consume;
        run->workers[w].run = run;
    }
    return SPK_OK;
}

static spk_status spk__agg_open(spk__feed *self, int worker, size_t morsel, spk__sink **sink) {
    spk__agg_exec *run = (spk__agg_exec *)self;
    spk__agg_worker *w = &run->workers[worker];
    spk_status st = SPK_OK;
    if (!w->runners && (st = spk__agg_runners(run->node, &w->runners, &w->made)) != SPK_OK) return st;
    if ((uint64_t)morsel >= UINT32_MAX) return spk__fail(SPK_ERR_LIMIT, "an aggregation over more than 4 billion morsels");
    if ((st = spk__agg_part_new(run, &run->parts[morsel])) != SPK_OK) return st;
    w->part = run->parts[morsel];
    w->part->morsel = (uint32_t)morsel;
    *sink = &w->base;
    return SPK_OK;
}

/* Merges every part's groups of one hash partition, parts in morsel order. */
static spk_status spk__agg_merge_task(void *ctx, int worker, size_t partition) {
    spk__agg_exec *run = (spk__agg_exec *)ctx;
    (void)worker;
    spk_status st = spk__agg_part_new(run, &run->merged[partition]);
    spk__agg_part *into = run->merged[partition];
    uint64_t mask = (uint64_t)run->npartitions - 1;
    size_t nk = (size_t)(run->nkeys ? run->nkeys : 1);
    for (size_t m = 0; st == SPK_OK && m < run->nparts; m++) {
        const spk__agg_part *from = run->parts[m];
        for (size_t g = 0; from && g < from->ngroups && st == SPK_OK; g++) {
            uint64_t h = from->hashes[g];
            if (((h >> 40) & mask) != partition) continue; /* table slots use the low bits */
            const spk_value *key = from->keys + g * nk;
            uint32_t t = spk__agg_find(into, run->nkeys, key, h);
            if (t == UINT32_MAX) st = spk__agg_new_group(run, into, key, h, from->origin[g], &t);
            for (int a = 0; a < run->naggs && st == SPK_OK; a++) {
                const spk__bnode *node = run->aggs[a].node;
                size_t size = node->agg->state_size;
                st = node->agg->merge(node, into->states[a] + t * size, from->states[a] + g * size);
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

static int spk__agg_ref_cmp(const void *a, const void *b) {
    uint64_t x = ((const spk__agg_ref *)a)->origin, y = ((const spk__agg_ref *)b)->origin;
    return (x > y) - (x < y);
}

/* Which grouping key, if any, is exactly input column `col`. */
static int spk__key_of_column(const spk_df *node, int col) {
    for (int k = 0; k < node->nkeys; k++)
        if (node->bound[k]->root->kind == SPK__B_COL && node->bound[k]->root->col == col) return k;
    return -1;
}

/* Emits one row per group: the keys, then each output evaluated with its
 * aggregates' final values (and grouping columns) in place. */
static spk_status spk__agg_emit(const spk__agg_exec *run, const spk__agg_ref *refs, size_t groups, spk_table *out) {
    const spk_df *node = run->node;
    int nout = node->nexprs, made = 0;
    size_t nk = (size_t)(run->nkeys ? run->nkeys : 1);
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
        const spk__agg_ref *r = refs + first;
        /* grouping columns as input vectors, for outputs that use them */
        for (int k = 0; k < run->nkeys; k++) {
            const spk_bound *kb = node->bound[k];
            if (kb->root->kind != SPK__B_COL) continue;
            spk__vec *v = &keys.vecs[kb->root->col];
            for (uint32_t i = 0; i < n; i++) spk__vec_set(v, i, &r[i].part->keys[r[i].group * nk + (size_t)k]);
        }
        for (int a = 0; a < run->naggs; a++) {
            const spk__agg_slot *ag = &run->aggs[a];
            spk__vec *v = &runners[run->nkeys + ag->output].ev.vecs[ag->node->slot];
            size_t size = ag->node->agg->state_size;
            for (uint32_t i = 0; i < n; i++) ag->node->agg->final(ag->node, r[i].part->states[a] + r[i].group * size, v, i);
        }
        for (int o = 0; o < nout && st == SPK_OK; o++) {
            spk__runner *rn = &runners[o];
            const spk_bound *b = node->bound[o];
            if (o < run->nkeys) { /* the key values themselves */
                spk__vec *v = &outs.vecs[o];
                for (uint32_t i = 0; i < n; i++) spk__vec_set(v, i, &r[i].part->keys[r[i].group * nk + (size_t)o]);
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
    run.base.open = spk__agg_open;
    run.node = node;
    run.nkeys = node->nkeys;
    spk_status st = SPK_OK;
    int total = 0;
    for (int o = node->nkeys; o < node->nexprs; o++) total += spk__count_agg_nodes(node->bound[o]->root);
    run.aggs = (spk__agg_slot *)spk__calloc(a, (size_t)(total ? total : 1) * sizeof *run.aggs);
    if (!run.aggs) return spk__nomem("aggregates", (size_t)total * sizeof *run.aggs);
    for (int o = node->nkeys; o < node->nexprs; o++) spk__collect_agg_nodes(node->bound[o]->root, o - node->nkeys, run.aggs, &run.naggs, total);
    st = spk__stream(node->child, &run.base);
    /* Merge: by hash partition when several threads can share the work. */
    size_t nparts = 0, groups = 0, rsize = 0, msize = 0;
    for (size_t m = 0; m < run.nparts; m++) nparts += run.parts[m] != NULL;
    int threads = spk_session_threads(node->session);
    run.npartitions = 1;
    while (run.npartitions < threads && run.npartitions < 64) run.npartitions *= 2;
    if (st == SPK_OK && nparts > 1) {
        msize = (size_t)run.npartitions * sizeof *run.merged;
        if (!(run.merged = (spk__agg_part **)spk__calloc(a, msize))) st = spk__nomem("an aggregation", msize);
        if (st == SPK_OK)
            st = spk__par_run(node->session, spk__par_workers(node->session, (size_t)run.npartitions), (size_t)run.npartitions,
                              spk__agg_merge_task, &run);
    }
    /* The groups in order of first appearance; a global aggregate over no rows still yields one row. */
    spk__agg_part *empty = NULL;
    spk__agg_part *const *sources = run.merged ? run.merged : run.parts;
    size_t nsources = run.merged ? (size_t)run.npartitions : run.nparts;
    for (size_t i = 0; st == SPK_OK && i < nsources; i++) groups += sources[i] ? sources[i]->ngroups : 0;
    if (st == SPK_OK && groups == 0 && run.nkeys == 0) {
        uint32_t g;
        if ((st = spk__agg_part_new(&run, &empty)) == SPK_OK) st = spk__agg_new_group(&run, empty, NULL, 0, 0, &g);
        sources = &empty;
        nsources = 1;
        groups = 1;
    }
    spk__agg_ref *refs = NULL;
    rsize = (groups ? groups : 1) * sizeof *refs;
    if (st == SPK_OK && !(refs = (spk__agg_ref *)spk__alloc(a, rsize))) st = spk__nomem("an aggregation's groups", rsize);
    size_t k = 0;
    for (size_t i = 0; refs && i < nsources; i++)
        for (uint32_t g = 0; sources[i] && g < sources[i]->ngroups; g++) refs[k++] = (spk__agg_ref){sources[i]->origin[g], sources[i], g};
    if (refs && nsources > 1) qsort(refs, groups, sizeof *refs, spk__agg_ref_cmp); /* origins are unique */
    if (st == SPK_OK) st = spk__agg_emit(&run, refs, groups, out);
    if (refs) spk__free(a, refs, rsize);
    spk__agg_part_free(&run, empty);
    for (int i = 0; run.merged && i < run.npartitions; i++) spk__agg_part_free(&run, run.merged[i]);
    if (run.merged) spk__free(a, run.merged, msize);
    for (size_t m = 0; run.parts && m < run.nparts; m++) spk__agg_part_free(&run, run.parts[m]);
    if (run.parts) spk__free(a, run.parts, (run.nparts ? run.nparts : 1) * sizeof *run.parts);
    for (int w = 0; run.workers && w < run.nworkers; w++) spk__agg_runners_free(node, run.workers[w].runners, run.workers[w].made);
    if (run.workers) spk__free(a, run.workers, (size_t)run.nworkers * sizeof *run.workers);
    spk__free(a, run.aggs, (size_t)(total ? total : 1) * sizeof *run.aggs);
    return st;
}

/* ---------------------------------------------------------------- sorting
 * Workers evaluate the sort keys morsel by morsel into one array, sort
 * runs of row numbers, merge the runs pairwise in rounds and copy the rows
 * out in ranges. Ties are broken by row number, so the order is one total
 * order and the same whatever the number of runs: the sort is stable and
 * its result independent of the thread count. */

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

/* Merges sorted src[lo, mid) and src[mid, hi) into dst[lo, hi). */
static void spk__merge_runs(const spk__sort_ctx *c, const uint32_t *src, uint32_t *dst, size_t lo, size_t mid, size_t hi) {
    size_t i = lo, j = mid, k = lo;
    while (i < mid && j < hi) dst[k++] = spk__sort_cmp(c, src[i], src[j]) <= 0 ? src[i++] : src[j++];
    while (i < mid) dst[k++] = src[i++];
    while (j < hi) dst[k++] = src[j++];
}

/* Bottom-up merge sort of row numbers: O(n log n) whatever the keys. */
static void spk__merge_sort(const spk__sort_ctx *c, uint32_t *idx, uint32_t *tmp, size_t n) {
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            spk__merge_runs(c, idx, tmp, lo, mid, hi);
        }
        memcpy(idx, tmp, n * sizeof *idx);
    }
}

typedef struct spk__sort_worker {
    spk__runner runners[64];
    int made;
    spk__vecset vs;
    spk__arena strings; /* the bytes of string keys */
} spk__sort_worker;

typedef struct spk__sort_run {
    const spk_df *node;
    spk_table *in;
    spk__morsel *morsels;
    spk_value *keys;
    int nkeys;
    bool desc[64], nulls_first[64];
    spk__sort_worker *workers;
    uint32_t *src, *dst;  /* row numbers: the runs, and where the next round goes */
    size_t rows;
    size_t *bounds;       /* runs: run r is [bounds[r], bounds[r + 1]) */
    size_t nruns;
    spk_table **parts;    /* per output range */
} spk__sort_run;

static spk_status spk__sort_keys_task(void *ctx, int worker, size_t m) {
    spk__sort_run *r = (spk__sort_run *)ctx;
    const spk_df *node = r->node;
    spk__sort_worker *w = &r->workers[worker];
    spk_status st = SPK_OK;
    if (!w->vs.block) {
        w->strings.alloc = &spk__default_allocator;
        for (; w->made < r->nkeys && st == SPK_OK; w->made++) st = spk__runner_init(&w->runners[w->made], node->bound[w->made]->root, node->bound[w->made]->nslots);
        if (st == SPK_OK) st = spk__vecset_init(&w->vs, spk_table_schema(r->in));
        if (st != SPK_OK) return st;
    }
    const spk__morsel *mo = &r->morsels[m];
    for (uint32_t at = 0; st == SPK_OK && at < mo->n; at += SPK__BATCH) {
        uint32_t n = mo->n - at < SPK__BATCH ? mo->n - at : SPK__BATCH;
        size_t row = mo->chunk->first_row + mo->start + at;
        spk__load_batch(r->in, mo->chunk, mo->start + at, n, w->vs.vecs);
        for (int k = 0; k < r->nkeys && st == SPK_OK; k++) {
            spk__runner *rn = &w->runners[k];
            spk__arena_reset(&rn->ev.arena);
            spk__runner_bind_inputs(rn, node->bound[k], w->vs.ptrs);
            spk__eval_node(rn, rn->root, NULL, n);
            st = rn->ev.status;
            const spk__vec *v = &rn->ev.vecs[rn->root->slot];
            for (uint32_t i = 0; i < n && st == SPK_OK; i++) {
                spk_value x = spk__vec_get(v, i);
                if (!x.is_null && x.type.id == SPK_TYPE_STRING && x.as.str.len) { /* keep the bytes past this batch */
                    char *copy = spk__arena_alloc(&w->strings, x.as.str.len);
                    if (!copy) st = spk__nomem("sort keys", x.as.str.len);
                    else memcpy(copy, x.as.str.ptr, x.as.str.len);
                    x.as.str.ptr = copy;
                }
                r->keys[(row + i) * (size_t)r->nkeys + k] = x;
            }
        }
    }
    return st;
}

static spk_status spk__sort_run_task(void *ctx, int worker, size_t run) {
    spk__sort_run *r = (spk__sort_run *)ctx;
    (void)worker;
    spk__sort_ctx c = {r->keys, r->nkeys, r->desc, r->nulls_first};
    size_t lo = r->bounds[run], hi = r->bounds[run + 1];
    for (size_t i = lo; i < hi; i++) r->src[i] = (uint32_t)i;
    spk__merge_sort(&c, r->src + lo, r->dst + lo, hi - lo);
    return SPK_OK;
}

/* Merges runs 2j and 2j + 1 of src into dst (a last odd run is copied). */
static spk_status spk__sort_merge_task(void *ctx, int worker, size_t j) {
    spk__sort_run *r = (spk__sort_run *)ctx;
    (void)worker;
    spk__sort_ctx c = {r->keys, r->nkeys, r->desc, r->nulls_first};
    size_t lo = r->bounds[2 * j], mid = r->bounds[2 * j + 1], hi = 2 * j + 2 <= r->nruns ? r->bounds[2 * j + 2] : mid;
    spk__merge_runs(&c, r->src, r->dst, lo, mid, hi);
    return SPK_OK;
}

/* Copies the rows of output range i, in sorted order, into a piece of its own. */
static spk_status spk__sort_copy_task(void *ctx, int worker, size_t i) {
    spk__sort_run *r = (spk__sort_run *)ctx;
    spk_table *in = r->in;
    (void)worker;
    uint32_t lo, hi;
    spk__range(r->rows, i, &lo, &hi);
    spk_status st = spk_table_new(in->alloc, spk_table_schema(in), &r->parts[i]);
    for (uint32_t k = lo; k < hi && st == SPK_OK; k++) {
        size_t row = r->src[k], a = 0, b = in->nchunks; /* the last chunk whose first row <= row */
        while (b - a > 1) {
            size_t mid = a + (b - a) / 2;
            if (in->chunks[mid]->first_row <= row) a = mid;
            else b = mid;
        }
        st = spk__table_append_slots(r->parts[i], in, in->chunks[a], (uint32_t)(row - in->chunks[a]->first_row), NULL, 1);
    }
    return st;
}

static spk_status spk__run_sort(const spk_df *node, spk_table *out) {
    const spk_allocator *a = &spk__default_allocator;
    spk__sort_run r;
    memset(&r, 0, sizeof r);
    r.node = node;
    r.nkeys = node->nexprs;
    bool owned = false;
    size_t nmorsels = 0, nranges = 0, kbytes = 0, wsize = 0, bsize = 0;
    int nworkers = 1;
    spk_status st = spk__materialize(node->child, &r.in, &owned);
    if (st != SPK_OK) return st;
    r.rows = spk_table_nrows(r.in);
    if (r.rows > UINT32_MAX || r.nkeys > 64) st = spk__fail(SPK_ERR_LIMIT, "sort: more than 4 billion rows or 64 keys");
    for (int k = 0; k < r.nkeys && k < 64; k++) {
        r.desc[k] = node->exprs[k]->descending;
        r.nulls_first[k] = node->exprs[k]->nulls_first;
    }
    if (st == SPK_OK) st = spk__morsels_of(r.in, &r.morsels, &nmorsels);
    if (st == SPK_OK) {
        nworkers = spk__par_workers(node->session, nmorsels);
        nranges = spk__ranges(r.rows);
        kbytes = (r.rows ? r.rows : 1) * (size_t)(r.nkeys ? r.nkeys : 1) * sizeof(spk_value);
        wsize = (size_t)nworkers * sizeof *r.workers;
        bsize = ((size_t)nworkers + 1) * sizeof *r.bounds;
        r.keys = (spk_value *)spk__alloc(a, kbytes);
        r.src = r.keys ? (uint32_t *)spk__alloc(a, 2 * (r.rows ? r.rows : 1) * sizeof *r.src) : NULL;
        r.workers = r.src ? (spk__sort_worker *)spk__calloc(a, wsize) : NULL;
        r.bounds = r.workers ? (size_t *)spk__alloc(a, bsize) : NULL;
        r.parts = r.bounds ? (spk_table **)spk__calloc(a, (nranges ? nranges : 1) * sizeof *r.parts) : NULL;
        if (!r.parts) st = spk__nomem("a sort", kbytes + 2 * r.rows * sizeof *r.src);
        else r.dst = r.src + (r.rows ? r.rows : 1);
    }
    if (st == SPK_OK) st = spk__par_run(node->session, nworkers, nmorsels, spk__sort_keys_task, &r);
    if (st == SPK_OK) { /* one run per worker, then rounds of pairwise merges */
        r.nruns = (size_t)nworkers;
        for (size_t i = 0; i <= r.nruns; i++) r.bounds[i] = r.rows * i / r.nruns;
        st = spk__par_run(node->session, nworkers, r.nruns, spk__sort_run_task, &r);
    }
    while (st == SPK_OK && r.nruns > 1) {
        size_t pairs = (r.nruns + 1) / 2;
        st = spk__par_run(node->session, spk__par_workers(node->session, pairs), pairs, spk__sort_merge_task, &r);
        for (size_t j = 0; j < pairs; j++) r.bounds[j] = r.bounds[2 * j];
        r.bounds[pairs] = r.rows;
        r.nruns = pairs;
        uint32_t *t = r.src;
        r.src = r.dst;
        r.dst = t;
    }
    if (st == SPK_OK) st = spk__par_run(node->session, spk__par_workers(node->session, nranges), nranges, spk__sort_copy_task, &r);
    for (size_t i = 0; r.parts && i < nranges; i++) {
        if (r.parts[i] && st == SPK_OK) st = spk__table_adopt(out, r.parts[i]);
        spk_table_free(r.parts[i]);
    }
    if (r.parts) spk__free(a, r.parts, (nranges ? nranges : 1) * sizeof *r.parts);
    for (int w = 0; r.workers && w < nworkers; w++) {
        for (int k = 0; k < r.workers[w].made; k++) spk__runner_free(&r.workers[w].runners[k]);
        spk__vecset_free(&r.workers[w].vs);
        spk__arena_free(&r.workers[w].strings);
    }
    if (r.workers) spk__free(a, r.workers, wsize);
    if (r.bounds) spk__free(a, r.bounds, bsize);
    if (r.src) spk__free(a, r.src < r.dst ? r.src : r.dst, 2 * (r.rows ? r.rows : 1) * sizeof *r.src);
    if (r.keys) spk__free(a, r.keys, kbytes);
    if (r.morsels) spk__free(a, r.morsels, (nmorsels ? nmorsels : 1) * sizeof *r.morsels);
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
    for (int k = 0; k < j->nkeys; k++) {
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
    }
    int nconj = j->cond ? spk__count_conjuncts(j->cond->root) : 0;
    if (j->keys) spk__free(a, j->keys, (size_t)(nconj ? nconj : 1) * sizeof *j->keys);
    if (j->resid) spk__free(a, j->resid, (size_t)(nconj ? nconj : 1) * sizeof *j->resid);
}

/* Builds the table (if keyed) and probes it, range by range. */
static spk_status spk__join_match(spk__join_run *j) {
    uint32_t nrows[2] = {j->side[0].nrows, j->side[1].nrows};
    spk_session *s = j->node->session;
    spk_status st = SPK_OK;
    if (j->never || !nrows[0] || !nrows[1]) return SPK_OK;
    if (j->nkeys) {
        for (int side = 0; side < 2 && st == SPK_OK; side++) st = spk__join_keys(j, side);
        if (st != SPK_OK) return st;
        /* Build on the smaller side (the right one on a tie, so output follows the left's order). */
        j->build = nrows[1] <= nrows[0] ? 1 : 0;
        j->probe = 1 - j->build;
        j->cap = 16;
        while (j->cap < 2 * (size_t)nrows[j->build]) j->cap *= 2;
        int threads = spk__par_workers(s, nrows[j->build] / 4096 + 1); /* small tables: one task */
        j->npartitions = 1;
        while (j->npartitions < threads && j->npartitions < 16) j->npartitions *= 2;
        j->shift = 0;
        while (((size_t)j->npartitions << j->shift) < j->cap) j->shift++;
        j->hsize = j->cap * sizeof(uint32_t) + (size_t)nrows[j->build] * sizeof(uint32_t);
        if (!(j->heads = (uint32_t *)spk__calloc(&spk__default_allocator, j->hsize))) return spk__nomem("a hash table", j->hsize);
        j->next = j->heads + j->cap;
        st = spk__par_run(s, spk__par_workers(s, (size_t)j->npartitions), (size_t)j->npartitions, spk__join_build_task, j);
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

static spk_status spk__run_join(const spk_df *df, spk_table *out) {
    const spk_allocator *a = &spk__default_allocator;
    spk__join_run j;
    memset(&j, 0, sizeof j);
    j.node = df;
    j.type = df->join;
    j.out = out;
    j.cond = df->nexprs ? df->bound[0] : NULL;
    spk_status st = SPK_OK;
    for (int s = 0; s < 2 && st == SPK_OK; s++) {
        spk_table *t = NULL;
        bool owned = false;
        if ((st = spk__materialize(s ? df->right : df->child, &t, &owned)) == SPK_OK) st = spk__columns_load(df->session, &j.side[s], t, owned);
    }
    /* side[] may be partly set up on failure; freeing below copes */
    j.nl = j.side[0].ncols;
    j.total = j.side[0].ncols + j.side[1].ncols;
    int nconj = j.cond ? spk__count_conjuncts(j.cond->root) : 0;
    j.nworkers = spk_session_threads(df->session);
    size_t wsize = (size_t)j.nworkers * sizeof *j.workers;
    if (st == SPK_OK) {
        j.keys = (spk__jkey *)spk__calloc(a, (size_t)(nconj ? nconj : 1) * sizeof *j.keys);
        j.resid = j.keys ? (const spk__bnode **)spk__calloc(a, (size_t)(nconj ? nconj : 1) * sizeof *j.resid) : NULL;
        j.workers = j.resid ? (spk__join_worker *)spk__calloc(a, wsize) : NULL;
        if (!j.workers) st = spk__nomem("a join", wsize);
    }
    if (!j.workers) j.nworkers = 0;
    if (st == SPK_OK && j.cond) spk__join_conjuncts(&j, j.cond->root);
    j.existence = (j.type == SPK__J_SEMI || j.type == SPK__J_ANTI) && !j.nresid;
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
    if (st == SPK_OK) st = spk__join_match(&j);
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
    case SPK__P_SORT: st = spk__run_sort(df, t); break;
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
    spk__count_feed f = {{spk__count_feed_start, spk__count_feed_open, NULL, false}, NULL, 0};
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
    spk__single_feed f = {{spk__single_feed_start, spk__single_feed_open, NULL, true}, &s.base};
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


/* ---- src/backend.c ---- */
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
};

SPKDEF spk_status spk_backend_new(const spk_allocator *alloc, const char *type, const spk_backend_ops *ops, void *self,
                                  spk_backend **out) {
    if (!out || !ops || !type) return spk__fail(SPK_ERR_ARG, "spk_backend_new: NULL argument");
    if (!ops->create_schema || !ops->drop_schema || !ops->list_schemas || !ops->write || !ops->scan || !ops->drop_table ||
        !ops->list_tables || !ops->close)
        return spk__fail(SPK_ERR_ARG, "spk_backend_new: backend '%s' leaves an operation NULL (all eight are required)", type);
    alloc = spk__allocator_or_default(alloc);
    spk_backend *b = (spk_backend *)spk__calloc(alloc, sizeof *b);
    if (!b) return spk__nomem("a backend", sizeof *b);
    b->alloc = alloc;
    snprintf(b->type, sizeof b->type, "%s", type);
    b->ops = ops;
    b->self = self;
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
} spk__persist;

typedef struct spk__store {
    const spk_allocator *alloc;
    spk__cow map;
    uint64_t max_memory; /* 0: no limit */
    size_t held;         /* bytes of the latest versions (under map.lock) */
    uint64_t stamps;     /* under map.lock */
    const spk__persist *persist;
    void *pctx;
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

#define SPK__KEY_MAX 260 /* "db.table": two names of at most 128 bytes */

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
    *out = s;
    return SPK_OK;
}

static void spk__store_close(void *self) {
    spk__store *s = (spk__store *)self;
    if (!s) return;
    spk__cow_destroy(&s->map);
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
            ((spk__tver *)value)->stamp = ++s->stamps;
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
            next->stamp = ++s->stamps;
            s->held = s->held - (v ? v->bytes : 0) + next->bytes;
            spk__cow_publish(&s->map, succ);
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
    }
    spk__cow_unlock(&s->map);
    return st;
}

static const spk_backend_ops spk__store_ops = {spk__store_create_schema, spk__store_drop_schema, spk__store_list_schemas,
                                               spk__store_write,         spk__store_scan,        spk__store_drop_table,
                                               spk__store_list_tables,   spk__store_close};

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

/* ---- src/filestore.c ---- */
/* filestore: the file backend — the versioned store of backend.c with
 * persistence hooks that keep every table's latest version in a file.
 *
 * LAYOUT under the base path (spark.sparkless.backend.basePath):
 *   <db>/                                    a database (names: 1 to 128 of
 *                                            [a-z0-9_]; anything else is skipped)
 *   <db>/<table>.<version>.spkt              a committed table version
 *                                            (version in decimal, no leading 0)
 *   <db>/.<table>.<version>.<pid>_<n>.tmp    a version being written
 * A write: the version is written to its temporary file and fsync'ed
 * (prepare), renamed to its .spkt name and the directory fsync'ed (commit,
 * in the store's lock, so files and memory change in the same order), then
 * the table's older .spkt files are removed (retire). Opening removes
 * temporary files, keeps each table's highest version and removes its
 * lower ones (a crash between commit and retire leaves two); when the
 * highest cannot be read it is loaded as an error (scans of the table fail
 * with SPK_ERR_CORRUPT and its message) and the lower ones are left alone.
 * Dropping a table removes its files oldest first, so a failure or a crash
 * midway leaves the table as it was.
 *
 * FILE FORMAT of a .spkt file, format version 1. Integers are unsigned and
 * little-endian unless said otherwise; offsets are in bytes.
 *
 *   header and schema section
 *     0     4      magic "SPKT"
 *     4     4      format version = 1 (a reader refuses any other)
 *     8     4      flags = 0 (a reader refuses any flag set)
 *     12    4      L: length of the schema text
 *     16    L      the schema as DDL text (spk_schema_ddl, read back with
 *                  spk_schema_parse): "id BIGINT NOT NULL, name STRING";
 *                  UTF-8, no NUL byte; L = 0 for a table without columns
 *     16+L  4      W: bytes per row slot
 *     20+L  4      C: column count
 *     24+L  8      R: row count
 *     32+L  4      K: chunk count (the section ends at 36+L)
 *   K chunks, each:
 *           4      N: rows in the chunk, 1 to 65536 (SPK_CHUNK_ROWS)
 *           4      H: bytes of the chunk's string heap
 *           N*W    the row slots, row after row
 *           H      the string heap
 *           4      CRC-32 of this chunk's bytes, from N to the end of the heap
 *   trailer
 *           4      CRC-32 of the header and schema section (its 36+L bytes)
 *           4      end magic "TKPS"; the file ends here
 *
 * A row slot is the null bitmap, ceil(C / 8) bytes (bit i % 8 of byte i / 8
 * set: column i is NULL; bits past C are ignored), followed by each column's
 * field in schema order with no padding:
 *   BOOLEAN              1 byte, 0 or 1 (a reader takes any other as 1)
 *   INT, DATE            4 bytes, two's complement (DATE: days since 1970-01-01)
 *   BIGINT, TIMESTAMP    8 bytes, two's complement (TIMESTAMP: microseconds
 *                        since 1970-01-01 00:00:00 UTC)
 *   DECIMAL(p,s)         8 bytes, the two's complement unscaled value
 *   DOUBLE               8 bytes, the IEEE-754 binary64 bits (NaN payloads
 *                        and -0.0 kept)
 *   STRING               4 bytes: the end offset of the value's bytes in the
 *                        chunk's heap; it starts at the previous STRING
 *                        field's end in row-major order (0 for the first)
 *   VOID                 0 bytes
 * The field of a NULL value holds any bytes, except a STRING's, which is an
 * end offset like any other (a NULL string's bytes are empty). So W is
 * ceil(C / 8) plus the field widths.
 *
 * The checksum is CRC-32/ISO-HDLC (zlib's crc32, IEEE 802.3): reflected
 * polynomial 0xEDB88320, initial value and final XOR 0xFFFFFFFF; the CRC of
 * the ASCII bytes "123456789" is 0xCBF43926.
 *
 * A reader treats the bytes as hostile: it checks the magics, the version,
 * the flags and the header's checksum before using the header; every length
 * against what is left of the file before it allocates or reads; a chunk's
 * checksum before using its bytes; then that W and C are what the schema
 * gives, each N is 1 to 65536, the Ns add up to R, the file ends right after
 * the trailer, and in each chunk: the STRING end offsets never decrease in
 * row-major order, none passes H and the last equals H (H = 0 without STRING
 * columns), and no NOT NULL column has its null bit set. A writer checks the
 * same of what it writes, and that the schema's DDL reads back as the same
 * schema. Any failure makes the file unreadable as a whole, with a message
 * naming the file and what is wrong. */

#if defined(__unix__) || defined(__APPLE__)

#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <dirent.h>
#include <errno.h>

#ifdef O_CLOEXEC
#define SPK__FS_CLOEXEC O_CLOEXEC
#else
#define SPK__FS_CLOEXEC 0
#endif

#define SPK__FS_FORMAT 1
#define SPK__FS_NAME_MAX 128
#define SPK__FS_MIN_FILE 44 /* 36 bytes of header with L = 0, and the trailer */

/* ---------------------------------------------------------------- CRC-32 */

/* The byte-at-a-time table, filled once per backend when it opens (a
 * global filled lazily would need a once-flag that sanitizers cannot see). */
static void spk__crc_init(uint32_t table[256]) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        table[i] = c;
    }
}

/* zlib's convention: start from 0; crc(a + b) = spk__crc32(t, spk__crc32(t, 0, a), b). */
static uint32_t spk__crc32(const uint32_t table[256], uint32_t crc, const void *data, size_t len) {
    const unsigned char *p = (const unsigned char *)data;
    crc = ~crc;
    for (size_t i = 0; i < len; i++) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

/* The backend's context: read-only once opened, so shared by every thread. */
typedef struct spk__fs {
    const spk_allocator *alloc;
    char *base; /* without a trailing '/' (unless it is "/") */
    size_t base_size;
    uint32_t crc[256];
} spk__fs;

/* ---------------------------------------------------------------- small helpers */

static void spk__le32_put(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void spk__le64_put(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t spk__le32_get(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint64_t spk__le64_get(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static bool spk__fs_host_le(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Slot fields between host order and the file's little-endian order (the
 * same swap both ways; only big-endian hosts need it). */
static void spk__fs_swap_slots(const spk_table *t, unsigned char *rows, uint32_t nrows) {
    for (uint32_t r = 0; r < nrows; r++) {
        unsigned char *slot = rows + (size_t)r * t->width;
        for (int col = 0; col < t->ncols; col++) {
            uint32_t w = spk__field_width((spk_type_id)spk_schema_field(t->schema, col)->type.id);
            unsigned char *p = slot + t->offset[col];
            for (uint32_t i = 0; i < w / 2; i++) {
                unsigned char x = p[i];
                p[i] = p[w - 1 - i];
                p[w - 1 - i] = x;
            }
        }
    }
}

/* A database or table name as the catalog makes them: 1 to 128 of [a-z0-9_]. */
static bool spk__fs_name_ok(const char *s, size_t len) {
    if (len == 0 || len > SPK__FS_NAME_MAX) return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_')) return false;
    return true;
}

/* "<table>.<version>.spkt" -> table (129 bytes) and version >= 1. */
static bool spk__fs_parse_version_name(const char *name, char *table, uint64_t *version) {
    size_t len = strlen(name);
    if (len < 7 || memcmp(name + len - 5, ".spkt", 5) != 0) return false;
    const char *dot = (const char *)memchr(name, '.', len);
    size_t tlen = (size_t)(dot - name);
    if (tlen + 1 >= len - 5) return false; /* no digits between the dots */
    size_t dlen = len - 5 - tlen - 1;
    if (!spk__fs_name_ok(name, tlen) || dlen > 20 || dot[1] == '0') return false;
    uint64_t v = 0;
    for (size_t i = 0; i < dlen; i++) {
        char c = dot[1 + i];
        if (c < '0' || c > '9' || v > (UINT64_MAX - (uint64_t)(c - '0')) / 10) return false;
        v = v * 10 + (uint64_t)(c - '0');
    }
    memcpy(table, name, tlen);
    table[tlen] = 0;
    *version = v;
    return true;
}

static bool spk__fs_is_tmp_name(const char *name) {
    size_t len = strlen(name);
    return len > 5 && name[0] == '.' && memcmp(name + len - 4, ".tmp", 4) == 0;
}

/* A path formatted into a new allocation of *size bytes; NULL when out of memory. */
static char *spk__fs_path(const spk_allocator *a, size_t *size, const char *fmt, ...) SPK__PRINTF(3, 4);
static char *spk__fs_path(const spk_allocator *a, size_t *size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    char *p = (char *)spk__alloc(a, (size_t)n + 1);
    if (!p) {
        spk__nomem("a path", (size_t)n + 1);
        return NULL;
    }
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *size = (size_t)n + 1;
    return p;
}

static spk_status spk__fs_io(const char *what, const char *path, int err) {
    return spk__fail(SPK_ERR_IO, "cannot %s %s: %s", what, path, strerror(err));
}

/* Writes everything, through EINTR and short writes; 0 or an errno. */
static int spk__fs_write_all(int fd, const unsigned char *p, size_t n) {
    while (n) {
        size_t step = n > ((size_t)1 << 30) ? (size_t)1 << 30 : n;
        ssize_t w = write(fd, p, step);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (w == 0) return EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads exactly n bytes; 0, an errno, or -1 at the end of the file. */
static int spk__fs_read_all(int fd, unsigned char *p, size_t n) {
    while (n) {
        size_t step = n > ((size_t)1 << 30) ? (size_t)1 << 30 : n;
        ssize_t r = read(fd, p, step);
        if (r < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (r == 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int spk__fs_fsync(int fd) {
    while (fsync(fd) != 0)
        if (errno != EINTR) return errno;
    return 0;
}

/* fsync of a directory, so that a rename or an entry in it is durable;
 * file systems that cannot sync directories (EINVAL) are let be. */
static int spk__fs_sync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | SPK__FS_CLOEXEC);
    if (fd < 0) return errno;
    int err = spk__fs_fsync(fd);
    close(fd);
    return err == EINVAL ? 0 : err;
}

static bool spk__fs_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---------------------------------------------------------------- chunk checks */

/* Checks what reads of a chunk's rows rely on (see the format): NULL bits
 * of NOT NULL columns are 0; STRING end offsets never decrease in row-major
 * order, stay within heap_len, and the last one is heap_len. On failure
 * writes why into `why`. */
static bool spk__fs_chunk_ok(const spk_table *t, const unsigned char *rows, uint32_t nrows, uint32_t heap_len, char *why,
                             size_t cap) {
    uint32_t prev = 0;
    for (uint32_t r = 0; r < nrows; r++) {
        const unsigned char *slot = rows + (size_t)r * t->width;
        for (int col = 0; col < t->ncols; col++) {
            const spk_field *f = spk_schema_field(t->schema, col);
            if (!f->nullable && spk__slot_is_null(slot, col)) {
                snprintf(why, cap, "row %u has a NULL in NOT NULL column `%s`", r + 1, f->name);
                return false;
            }
            if (f->type.id != SPK_TYPE_STRING) continue;
            uint32_t end = spk__load_u32(slot + t->offset[col]);
            if (end < prev || end > heap_len) {
                snprintf(why, cap, "row %u, column `%s`: string end offset %u is %s", r + 1, f->name, end,
                         end < prev ? "before the previous string's end" : "past the end of the string heap");
                return false;
            }
            prev = end;
        }
    }
    if (t->last_string >= 0 && nrows && prev != heap_len) {
        snprintf(why, cap, "the strings end at offset %u but the string heap holds %u bytes", prev, heap_len);
        return false;
    }
    if ((t->last_string < 0 || !nrows) && heap_len) {
        snprintf(why, cap, "%u bytes of string heap without strings", heap_len);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- writing a file */

typedef struct spk__fs_out {
    const uint32_t *crc_table;
    int fd;
    int err;            /* the first errno; 0 = none */
    unsigned char *buf; /* SPK__FS_BUF bytes */
    size_t used;
    uint32_t crc;       /* of the current section */
} spk__fs_out;

#define SPK__FS_BUF 65536

static void spk__fs_flush(spk__fs_out *o) {
    if (!o->err && o->used) o->err = spk__fs_write_all(o->fd, o->buf, o->used);
    o->used = 0;
}

static void spk__fs_put(spk__fs_out *o, const void *data, size_t n) {
    o->crc = spk__crc32(o->crc_table, o->crc, data, n);
    if (n > SPK__FS_BUF - o->used) spk__fs_flush(o);
    if (n >= SPK__FS_BUF) {
        if (!o->err) o->err = spk__fs_write_all(o->fd, (const unsigned char *)data, n);
        return;
    }
    if (n) memcpy(o->buf + o->used, data, n);
    o->used += n;
}

static void spk__fs_put_u32(spk__fs_out *o, uint32_t v) {
    unsigned char b[4];
    spk__le32_put(b, v);
    spk__fs_put(o, b, 4);
}

/* The heap bytes a chunk's rows use: where its last string ends. */
static uint32_t spk__fs_heap_used(const spk_table *t, const spk__chunk *c) {
    if (t->last_string < 0 || !c->nrows) return 0;
    return spk__load_u32(c->rows + (size_t)(c->nrows - 1) * t->width + t->offset[t->last_string]);
}

/* The schema as DDL text that reads back as the same schema (*ddl allocated, *size bytes). */
static spk_status spk__fs_schema_text(const spk_allocator *a, const spk_schema *schema, const char *key, char **ddl,
                                      size_t *size) {
    size_t n = spk_schema_ddl(schema, NULL, 0);
    if (n > UINT32_MAX - 64) return spk__fail(SPK_ERR_LIMIT, "table %s: its schema is too long to store", key);
    char *text = (char *)spk__alloc(a, n + 1);
    if (!text) return spk__nomem("a schema text", n + 1);
    spk_schema_ddl(schema, text, n + 1);
    spk_status st = SPK_OK;
    if (spk_schema_ncols(schema) > 0) {
        spk_schema *back = NULL;
        st = spk_schema_parse(a, text, &back);
        if (st == SPK_ERR_NOMEM) {
            /* as it is */
        } else if (st != SPK_OK || !spk_schema_equal(schema, back, true)) {
            st = spk__fail(SPK_ERR_UNSUPPORTED, "table %s: its schema (%s) cannot be stored: it does not read back the same",
                           key, text);
        }
        spk_schema_release(back);
    }
    if (st != SPK_OK) {
        spk__free(a, text, n + 1);
        return st;
    }
    *ddl = text;
    *size = n + 1;
    return SPK_OK;
}

/* Writes rows to a new file at `path` (which must not exist) and fsyncs it.
 * On failure the file is removed. */
static spk_status spk__fs_write_file(const spk__fs *fs, const char *path, const char *key, const spk_table *t) {
    const spk_allocator *a = fs->alloc;
    char *ddl = NULL;
    size_t ddl_size = 0;
    spk_status st = spk__fs_schema_text(a, t->schema, key, &ddl, &ddl_size);
    if (st != SPK_OK) return st;
    /* Check every chunk first: never write a file that would not read back. */
    uint32_t nchunks = 0;
    for (size_t i = 0; st == SPK_OK && i < t->nchunks; i++) {
        const spk__chunk *c = t->chunks[i];
        if (!c->nrows) continue;
        char why[256];
        uint32_t heap = spk__fs_heap_used(t, c);
        bool ok = heap <= c->heap_len && (!heap || c->heap);
        if (!ok) snprintf(why, sizeof why, "its strings end past its heap");
        else ok = spk__fs_chunk_ok(t, c->rows, c->nrows, heap, why, sizeof why);
        if (!ok) st = spk__fail(SPK_ERR_INTERNAL, "table %s: chunk %zu is inconsistent (%s); nothing was written", key, i + 1, why);
        if (nchunks == UINT32_MAX) st = spk__fail(SPK_ERR_LIMIT, "table %s has too many chunks to store", key);
        nchunks++;
    }
    bool swap = !spk__fs_host_le();
    size_t scratch_size = swap ? (size_t)SPK_CHUNK_ROWS * t->width : 0;
    unsigned char *scratch = NULL;
    spk__fs_out o = {fs->crc, -1, 0, NULL, 0, 0};
    if (st == SPK_OK && !(o.buf = (unsigned char *)spk__alloc(a, SPK__FS_BUF))) st = spk__nomem("a write buffer", SPK__FS_BUF);
    if (st == SPK_OK && swap && !(scratch = (unsigned char *)spk__alloc(a, scratch_size)))
        st = spk__nomem("a write buffer", scratch_size);
    if (st == SPK_OK) {
        o.fd = open(path, O_WRONLY | O_CREAT | O_EXCL | SPK__FS_CLOEXEC, 0666);
        if (o.fd < 0) st = spk__fs_io("create", path, errno);
    }
    if (st == SPK_OK) {
        unsigned char head[36];
        uint32_t ddl_len = (uint32_t)(ddl_size - 1);
        memcpy(head, "SPKT", 4);
        spk__le32_put(head + 4, SPK__FS_FORMAT);
        spk__le32_put(head + 8, 0);
        spk__le32_put(head + 12, ddl_len);
        spk__fs_put(&o, head, 16);
        spk__fs_put(&o, ddl, ddl_len);
        spk__le32_put(head, t->width);
        spk__le32_put(head + 4, (uint32_t)t->ncols);
        spk__le64_put(head + 8, (uint64_t)t->nrows);
        spk__le32_put(head + 16, nchunks);
        spk__fs_put(&o, head, 20);
        uint32_t header_crc = o.crc;
        for (size_t i = 0; i < t->nchunks && !o.err; i++) {
            const spk__chunk *c = t->chunks[i];
            if (!c->nrows) continue;
            uint32_t heap = spk__fs_heap_used(t, c);
            size_t slots = (size_t)c->nrows * t->width;
            o.crc = 0;
            spk__fs_put_u32(&o, c->nrows);
            spk__fs_put_u32(&o, heap);
            if (swap && slots) {
                memcpy(scratch, c->rows, slots);
                spk__fs_swap_slots(t, scratch, c->nrows);
                spk__fs_put(&o, scratch, slots);
            } else if (slots) {
                spk__fs_put(&o, c->rows, slots);
            }
            if (heap) spk__fs_put(&o, c->heap, heap);
            spk__fs_put_u32(&o, o.crc);
        }
        spk__fs_put_u32(&o, header_crc);
        spk__fs_put(&o, "TKPS", 4);
        spk__fs_flush(&o);
        if (!o.err) o.err = spk__fs_fsync(o.fd);
        if (close(o.fd) != 0 && !o.err && errno != EINTR) o.err = errno;
        o.fd = -1;
        if (o.err) {
            st = spk__fs_io("write", path, o.err);
            unlink(path);
        }
    }
    spk__free(a, o.buf, SPK__FS_BUF);
    spk__free(a, scratch, scratch_size);
    spk__free(a, ddl, ddl_size);
    return st;
}

/* ---------------------------------------------------------------- reading a file */

typedef struct spk__fs_in {
    const uint32_t *crc_table;
    int fd;
    const char *path;
    uint64_t size, pos;
} spk__fs_in;

static spk_status spk__fs_corrupt(const char *path, const char *fmt, ...) SPK__PRINTF(2, 3);
static spk_status spk__fs_corrupt(const char *path, const char *fmt, ...) {
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return spk__fail(SPK_ERR_CORRUPT, "%s: %s (the file is corrupt)", path, why);
}

/* Reads n bytes at the current position; they must lie before the trailer
 * when `body` (else anywhere in the file). */
static spk_status spk__fs_take(spk__fs_in *in, void *buf, size_t n, bool body, const char *what) {
    uint64_t end = body ? in->size - 8 : in->size;
    if (in->pos > end || n > end - in->pos)
        return spk__fs_corrupt(in->path, "%s extends past the end of the file (truncated?)", what);
    int err = spk__fs_read_all(in->fd, (unsigned char *)buf, n);
    if (err == -1) return spk__fs_corrupt(in->path, "the file ended while reading %s (truncated?)", what);
    if (err) return spk__fs_io("read", in->path, err);
    in->pos += n;
    return SPK_OK;
}

/* One chunk into `c` (fresh, already in t's chunk list). `number` is 1-based. */
static spk_status spk__fs_read_chunk(spk__fs_in *in, spk_table *t, spk__chunk *c, uint32_t number, bool swap) {
    unsigned char head[8], sum[4];
    spk_status st = spk__fs_take(in, head, 8, true, "a chunk header");
    if (st != SPK_OK) return st;
    uint32_t nrows = spk__le32_get(head), heap = spk__le32_get(head + 4);
    if (nrows == 0 || nrows > SPK_CHUNK_ROWS)
        return spk__fs_corrupt(in->path, "chunk %u holds %u rows (1 to %u allowed)", number, nrows, (unsigned)SPK_CHUNK_ROWS);
    uint64_t slots = (uint64_t)nrows * t->width, left = in->size - 8 - in->pos;
    if (slots > left || heap > left - slots || 4 > left - slots - heap)
        return spk__fs_corrupt(in->path, "chunk %u (%u rows, %u bytes of strings) extends past the end of the file (truncated?)",
                               number, nrows, heap);
    c->rows = (unsigned char *)spk__table_alloc(t, (size_t)slots);
    if (!c->rows) return spk__nomem("table rows", (size_t)slots);
    c->cap_rows = nrows;
    if (heap) {
        c->heap = (char *)spk__table_alloc(t, heap);
        if (!c->heap) return spk__nomem("table strings", heap);
        c->heap_cap = heap;
    }
    st = spk__fs_take(in, c->rows, (size_t)slots, true, "a chunk's rows");
    if (st == SPK_OK && heap) st = spk__fs_take(in, c->heap, heap, true, "a chunk's strings");
    if (st == SPK_OK) st = spk__fs_take(in, sum, 4, true, "a chunk checksum");
    if (st != SPK_OK) return st;
    const uint32_t *table = in->crc_table;
    uint32_t crc = spk__crc32(table, spk__crc32(table, 0, head, 8), c->rows, (size_t)slots);
    if (heap) crc = spk__crc32(table, crc, c->heap, heap);
    if (crc != spk__le32_get(sum)) return spk__fs_corrupt(in->path, "checksum mismatch in chunk %u", number);
    if (swap) spk__fs_swap_slots(t, c->rows, nrows);
    char why[256];
    if (!spk__fs_chunk_ok(t, c->rows, nrows, heap, why, sizeof why))
        return spk__fs_corrupt(in->path, "chunk %u: %s", number, why);
    c->nrows = nrows;
    c->heap_len = heap;
    return SPK_OK;
}

/* Reads a table file. SPK_ERR_CORRUPT when the content is wrong,
 * SPK_ERR_IO when it cannot be read, SPK_ERR_NOMEM; messages name the file. */
static spk_status spk__fs_read_file(const spk__fs *fs, const char *path, spk_table **out) {
    const spk_allocator *a = fs->alloc;
    spk__fs_in in = {fs->crc, -1, path, 0, 0};
    in.fd = open(path, O_RDONLY | SPK__FS_CLOEXEC);
    if (in.fd < 0) return spk__fs_io("open", path, errno);
    struct stat sb;
    spk_status st = SPK_OK;
    if (fstat(in.fd, &sb) != 0) st = spk__fs_io("read", path, errno);
    else if (!S_ISREG(sb.st_mode)) st = spk__fs_corrupt(path, "not a regular file");
    in.size = st == SPK_OK ? (uint64_t)sb.st_size : 0;
    unsigned char head[16] = {0}, tail[8] = {0}, rest[20] = {0};
    char *ddl = NULL;
    uint32_t ddl_len = 0;
    spk_table *t = NULL;
    if (st == SPK_OK && in.size < 4) st = spk__fs_corrupt(path, "%llu bytes is too short for a table file (truncated?)",
                                                          (unsigned long long)in.size);
    if (st == SPK_OK) st = spk__fs_take(&in, head, 4, false, "the magic");
    if (st == SPK_OK && memcmp(head, "SPKT", 4) != 0)
        st = spk__fs_corrupt(path, "bad magic: not a sparkless table file");
    if (st == SPK_OK && in.size < 12) st = spk__fs_corrupt(path, "%llu bytes is too short for a table file (truncated?)",
                                                           (unsigned long long)in.size);
    if (st == SPK_OK) st = spk__fs_take(&in, head + 4, 12, false, "the header");
    if (st == SPK_OK && spk__le32_get(head + 4) != SPK__FS_FORMAT)
        st = spk__fail(SPK_ERR_CORRUPT, "%s: format version %u is not supported (this build reads version %d)", path,
                       spk__le32_get(head + 4), SPK__FS_FORMAT);
    if (st == SPK_OK && spk__le32_get(head + 8) != 0)
        st = spk__fail(SPK_ERR_CORRUPT, "%s: unsupported flags 0x%x in the header (this build knows none)", path,
                       spk__le32_get(head + 8));
    if (st == SPK_OK && in.size < SPK__FS_MIN_FILE)
        st = spk__fs_corrupt(path, "%llu bytes is too short for a table file (truncated?)", (unsigned long long)in.size);
    /* The trailer first: the header's checksum is there. */
    if (st == SPK_OK) {
        if (lseek(in.fd, (off_t)(in.size - 8), SEEK_SET) < 0) st = spk__fs_io("read", path, errno);
        else {
            in.pos = in.size - 8;
            st = spk__fs_take(&in, tail, 8, false, "the trailer");
        }
        if (st == SPK_OK && memcmp(tail + 4, "TKPS", 4) != 0)
            st = spk__fs_corrupt(path, "no end marker: the file is truncated or was not completely written");
        if (st == SPK_OK && lseek(in.fd, 16, SEEK_SET) < 0) st = spk__fs_io("read", path, errno);
        in.pos = 16;
    }
    if (st == SPK_OK) {
        ddl_len = spk__le32_get(head + 12);
        if ((uint64_t)ddl_len > in.size - SPK__FS_MIN_FILE)
            st = spk__fs_corrupt(path, "the schema length %u exceeds the file", ddl_len);
        else if (!(ddl = (char *)spk__alloc(a, (size_t)ddl_len + 1)))
            st = spk__nomem("a schema text", (size_t)ddl_len + 1);
    }
    if (st == SPK_OK) st = spk__fs_take(&in, ddl, ddl_len, true, "the schema");
    if (st == SPK_OK) st = spk__fs_take(&in, rest, 20, true, "the header");
    if (st == SPK_OK) {
        uint32_t crc = spk__crc32(fs->crc, spk__crc32(fs->crc, spk__crc32(fs->crc, 0, head, 16), ddl, ddl_len), rest, 20);
        if (crc != spk__le32_get(tail)) st = spk__fs_corrupt(path, "checksum mismatch in the header");
    }
    /* The schema and the layout it gives. */
    spk_schema *schema = NULL;
    if (st == SPK_OK) {
        ddl[ddl_len] = 0;
        if (memchr(ddl, 0, ddl_len)) st = spk__fs_corrupt(path, "the schema text holds a NUL byte");
        else if (ddl_len == 0) st = spk_schema_new(a, NULL, 0, &schema);
        else if ((st = spk_schema_parse(a, ddl, &schema)) != SPK_OK && st != SPK_ERR_NOMEM) {
            char why[SPK_ERROR_MAX];
            snprintf(why, sizeof why, "%s", spk_last_error());
            st = spk__fail(SPK_ERR_CORRUPT, "%s: the schema does not parse (the file is corrupt): %s", path, why);
        }
    }
    if (st == SPK_OK) {
        st = spk_table_new(a, schema, &t);
        spk_schema_release(schema);
    }
    uint32_t width = spk__le32_get(rest), ncols = spk__le32_get(rest + 4), nchunks = spk__le32_get(rest + 16);
    uint64_t nrows = spk__le64_get(rest + 8);
    if (st == SPK_OK && (width != t->width || ncols != (uint32_t)t->ncols))
        st = spk__fs_corrupt(path, "the header gives %u columns in %u bytes a row, the schema %d columns in %u bytes", ncols,
                             width, t->ncols, t->width);
    if (st == SPK_OK && (uint64_t)nchunks * 12 > in.size - 8 - in.pos)
        st = spk__fs_corrupt(path, "%u chunks cannot fit in the file (truncated?)", nchunks);
    if (st == SPK_OK && nrows > (uint64_t)nchunks * SPK_CHUNK_ROWS)
        st = spk__fs_corrupt(path, "%llu rows cannot fit in %u chunks", (unsigned long long)nrows, nchunks);
    if (st == SPK_OK && nchunks) {
        t->chunks = (spk__chunk **)spk__table_alloc(t, (size_t)nchunks * sizeof *t->chunks);
        if (!t->chunks) st = spk__nomem("the chunk list", (size_t)nchunks * sizeof *t->chunks);
        else t->cap_chunks = nchunks;
    }
    bool swap = !spk__fs_host_le();
    for (uint32_t i = 0; st == SPK_OK && i < nchunks; i++) {
        spk__chunk *c = (spk__chunk *)spk__table_alloc(t, sizeof *c);
        if (!c) {
            st = spk__nomem("a chunk", sizeof *c);
            break;
        }
        memset(c, 0, sizeof *c);
        atomic_init(&c->refs, 1);
        c->first_row = t->nrows;
        t->chunks[t->nchunks++] = c; /* freed with t from here on */
        st = spk__fs_read_chunk(&in, t, c, i + 1, swap);
        if (st == SPK_OK && c->nrows > nrows - t->nrows)
            st = spk__fs_corrupt(path, "the chunks hold more than the header's %llu rows", (unsigned long long)nrows);
        if (st == SPK_OK) t->nrows += c->nrows;
    }
    if (st == SPK_OK && t->nrows != nrows)
        st = spk__fs_corrupt(path, "the chunks hold %zu rows, the header says %llu", t->nrows, (unsigned long long)nrows);
    if (st == SPK_OK && in.pos != in.size - 8)
        st = spk__fs_corrupt(path, "%llu unexpected bytes after the last chunk", (unsigned long long)(in.size - 8 - in.pos));
    close(in.fd);
    if (ddl) spk__free(a, ddl, (size_t)ddl_len + 1);
    if (st != SPK_OK) {
        spk_table_free(t);
        return st;
    }
    *out = t;
    return SPK_OK;
}

/* ---------------------------------------------------------------- directory listings */

/* A table's version files in a database directory. */
typedef struct spk__fs_entry {
    char table[SPK__FS_NAME_MAX + 1];
    uint64_t version;
} spk__fs_entry;

typedef struct spk__fs_list {
    const spk_allocator *alloc;
    spk__fs_entry *e;
    size_t n, cap;
} spk__fs_list;

static void spk__fs_list_free(spk__fs_list *l) {
    if (l->e) spk__free(l->alloc, l->e, l->cap * sizeof *l->e);
    l->e = NULL;
    l->n = l->cap = 0;
}

static int spk__fs_entry_cmp(const void *x, const void *y) {
    const spk__fs_entry *a = (const spk__fs_entry *)x, *b = (const spk__fs_entry *)y;
    int c = strcmp(a->table, b->table);
    if (c) return c;
    return a->version < b->version ? -1 : a->version > b->version;
}

/* Lists dir's version files (of `table` only, unless NULL), sorted by table
 * then version; with remove_tmp, removes temporary files as it goes.
 * A missing directory is an empty list. */
static spk_status spk__fs_scan(spk__fs_list *l, const char *dir, const char *table, bool remove_tmp) {
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? SPK_OK : spk__fs_io("read directory", dir, errno);
    spk_status st = SPK_OK;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno) st = spk__fs_io("read directory", dir, errno);
            break;
        }
        spk__fs_entry entry;
        if (remove_tmp && spk__fs_is_tmp_name(e->d_name)) {
            size_t size = 0;
            char *path = spk__fs_path(l->alloc, &size, "%s/%s", dir, e->d_name);
            if (!path) {
                st = SPK_ERR_NOMEM;
                break;
            }
            unlink(path); /* best effort */
            spk__free(l->alloc, path, size);
            continue;
        }
        if (!spk__fs_parse_version_name(e->d_name, entry.table, &entry.version)) continue;
        if (table && strcmp(entry.table, table) != 0) continue;
        if (l->n == l->cap) {
            size_t cap = l->cap ? l->cap * 2 : 16;
            void *p = spk__realloc(l->alloc, l->e, l->cap * sizeof *l->e, cap * sizeof *l->e);
            if (!p) {
                st = spk__nomem("a directory listing", cap * sizeof *l->e);
                break;
            }
            l->e = (spk__fs_entry *)p;
            l->cap = cap;
        }
        l->e[l->n++] = entry;
    }
    closedir(d);
    if (st == SPK_OK && l->n > 1) qsort(l->e, l->n, sizeof *l->e, spk__fs_entry_cmp);
    return st;
}

/* ---------------------------------------------------------------- persistence hooks */

typedef struct spk__fs_token {
    char *dir, *tmp, *final;
    size_t dir_size, tmp_size, final_size;
} spk__fs_token;

static atomic_ulong spk__fs_tmp_counter;

static void spk__fs_token_free(const spk_allocator *a, spk__fs_token *k) {
    if (!k) return;
    spk__free(a, k->dir, k->dir_size);
    spk__free(a, k->tmp, k->tmp_size);
    spk__free(a, k->final, k->final_size);
    spk__free(a, k, sizeof *k);
}

static const char *spk__fs_sep(const spk__fs *fs) { return strcmp(fs->base, "/") == 0 ? "" : "/"; }

static char *spk__fs_dir(const spk__fs *fs, const char *db, size_t *size) {
    return spk__fs_path(fs->alloc, size, "%s%s%s", fs->base, spk__fs_sep(fs), db);
}

static char *spk__fs_version_path(const spk__fs *fs, const char *dir, const char *table, uint64_t version, size_t *size) {
    return spk__fs_path(fs->alloc, size, "%s/%s.%llu.spkt", dir, table, (unsigned long long)version);
}

static spk_status spk__fs_check_names(const char *db, const char *table) {
    if (!db || !spk__fs_name_ok(db, strlen(db)))
        return spk__fail(SPK_ERR_ARG, "the file backend cannot store database name '%s' (1 to %d of a-z, 0-9, _)",
                         db ? db : "(null)", SPK__FS_NAME_MAX);
    if (table && !spk__fs_name_ok(table, strlen(table)))
        return spk__fail(SPK_ERR_ARG, "the file backend cannot store table name '%s' (1 to %d of a-z, 0-9, _)", table,
                         SPK__FS_NAME_MAX);
    return SPK_OK;
}

static spk_status spk__fs_prepare(void *ctx, const char *db, const char *table, uint64_t version, const spk_table *rows,
                                  void **token) {
    spk__fs *fs = (spk__fs *)ctx;
    spk_status st = spk__fs_check_names(db, table);
    if (st != SPK_OK) return st;
    spk__fs_token *k = (spk__fs_token *)spk__calloc(fs->alloc, sizeof *k);
    if (!k) return spk__nomem("a file write", sizeof *k);
    unsigned long unique = atomic_fetch_add(&spk__fs_tmp_counter, 1);
    k->dir = spk__fs_dir(fs, db, &k->dir_size);
    if (k->dir) k->final = spk__fs_version_path(fs, k->dir, table, version, &k->final_size);
    if (k->final)
        k->tmp = spk__fs_path(fs->alloc, &k->tmp_size, "%s/.%s.%llu.%ld_%lu.tmp", k->dir, table, (unsigned long long)version,
                              (long)getpid(), unique);
    if (!k->tmp) {
        spk__fs_token_free(fs->alloc, k);
        return SPK_ERR_NOMEM;
    }
    char key[SPK__KEY_MAX];
    spk__store_key(key, sizeof key, db, table);
    st = spk__fs_write_file(fs, k->tmp, key, rows);
    if (st == SPK_ERR_IO && !spk__fs_is_dir(k->dir) && errno == ENOENT)
        st = spk__fail(SPK_ERR_NOT_FOUND, "database `%s` not found", db);
    if (st != SPK_OK) {
        spk__fs_token_free(fs->alloc, k);
        return st;
    }
    *token = k;
    return SPK_OK;
}

static spk_status spk__fs_commit(void *ctx, void *token) {
    (void)ctx;
    spk__fs_token *k = (spk__fs_token *)token;
    if (rename(k->tmp, k->final) != 0) {
        int err = errno;
        return spk__fail(SPK_ERR_IO, "cannot rename %s to %s: %s", k->tmp, k->final, strerror(err));
    }
    int err = spk__fs_sync_dir(k->dir);
    if (err) {
        unlink(k->final); /* not durable: the write fails, so take it back */
        return spk__fs_io("sync directory", k->dir, err);
    }
    return SPK_OK;
}

static void spk__fs_release(void *ctx, void *token, bool committed) {
    spk__fs *fs = (spk__fs *)ctx;
    spk__fs_token *k = (spk__fs_token *)token;
    if (!k) return;
    if (!committed) unlink(k->tmp);
    spk__fs_token_free(fs->alloc, k);
}

static void spk__fs_retire(void *ctx, const char *db, const char *table, uint64_t version) {
    spk__fs *fs = (spk__fs *)ctx;
    size_t dir_size = 0;
    char *dir = spk__fs_dir(fs, db, &dir_size);
    if (!dir) return;
    spk__fs_list l = {fs->alloc, NULL, 0, 0};
    if (spk__fs_scan(&l, dir, table, false) == SPK_OK)
        for (size_t i = 0; i < l.n && l.e[i].version < version; i++) {
            size_t size = 0;
            char *path = spk__fs_version_path(fs, dir, table, l.e[i].version, &size);
            if (!path) break;
            unlink(path);
            spk__free(fs->alloc, path, size);
        }
    spk__fs_list_free(&l);
    spk__free(fs->alloc, dir, dir_size);
}

static spk_status spk__fs_create_schema(void *ctx, const char *db) {
    spk__fs *fs = (spk__fs *)ctx;
    spk_status st = spk__fs_check_names(db, NULL);
    if (st != SPK_OK) return st;
    size_t size = 0;
    char *dir = spk__fs_dir(fs, db, &size);
    if (!dir) return SPK_ERR_NOMEM;
    if (mkdir(dir, 0777) != 0) {
        int err = errno;
        if (err != EEXIST) st = spk__fs_io("create directory", dir, err);
        else if (!spk__fs_is_dir(dir)) st = spk__fail(SPK_ERR_IO, "cannot create directory %s: a file of that name exists", dir);
    }
    int err = st == SPK_OK ? spk__fs_sync_dir(fs->base) : 0;
    if (err) st = spk__fs_io("sync directory", fs->base, err);
    spk__free(fs->alloc, dir, size);
    return st;
}

static spk_status spk__fs_drop_table(void *ctx, const char *db, const char *table) {
    spk__fs *fs = (spk__fs *)ctx;
    spk_status st = spk__fs_check_names(db, table);
    if (st != SPK_OK) return st;
    size_t dir_size = 0;
    char *dir = spk__fs_dir(fs, db, &dir_size);
    if (!dir) return SPK_ERR_NOMEM;
    spk__fs_list l = {fs->alloc, NULL, 0, 0};
    st = spk__fs_scan(&l, dir, table, false);
    /* Oldest first: if one cannot go, the newest is still there. */
    for (size_t i = 0; st == SPK_OK && i < l.n; i++) {
        size_t size = 0;
        char *path = spk__fs_version_path(fs, dir, table, l.e[i].version, &size);
        if (!path) st = SPK_ERR_NOMEM;
        else if (unlink(path) != 0 && errno != ENOENT) st = spk__fs_io("remove", path, errno);
        spk__free(fs->alloc, path, size);
    }
    if (st == SPK_OK && l.n) (void)spk__fs_sync_dir(dir);
    spk__fs_list_free(&l);
    spk__free(fs->alloc, dir, dir_size);
    return st;
}

static spk_status spk__fs_drop_schema(void *ctx, const char *db) {
    spk__fs *fs = (spk__fs *)ctx;
    spk_status st = spk__fs_check_names(db, NULL);
    if (st != SPK_OK) return st;
    size_t dir_size = 0;
    char *dir = spk__fs_dir(fs, db, &dir_size);
    if (!dir) return SPK_ERR_NOMEM;
    /* What is left (temporary files of writes that will fail, foreign files),
     * then the directory; again if a write put a file there meanwhile. */
    for (int attempt = 0; st == SPK_OK; attempt++) {
        DIR *d = opendir(dir);
        if (!d) {
            if (errno != ENOENT) st = spk__fs_io("read directory", dir, errno);
            break;
        }
        for (;;) {
            errno = 0;
            struct dirent *e = readdir(d);
            if (!e) {
                if (errno) st = spk__fs_io("read directory", dir, errno);
                break;
            }
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            size_t size = 0;
            char *path = spk__fs_path(fs->alloc, &size, "%s/%s", dir, e->d_name);
            if (!path) st = SPK_ERR_NOMEM;
            else if (unlink(path) != 0 && errno != ENOENT) st = spk__fs_io("remove", path, errno);
            spk__free(fs->alloc, path, size);
            if (st != SPK_OK) break;
        }
        closedir(d);
        if (st != SPK_OK) break;
        if (rmdir(dir) == 0 || errno == ENOENT) break;
        if ((errno != ENOTEMPTY && errno != EEXIST) || attempt == 8) st = spk__fs_io("remove directory", dir, errno);
    }
    if (st == SPK_OK) (void)spk__fs_sync_dir(fs->base);
    spk__free(fs->alloc, dir, dir_size);
    return st;
}

static void spk__fs_close(void *ctx) {
    spk__fs *fs = (spk__fs *)ctx;
    if (!fs) return;
    spk__free(fs->alloc, fs->base, fs->base_size);
    spk__free(fs->alloc, fs, sizeof *fs);
}

static const spk__persist spk__fs_persist = {spk__fs_prepare,       spk__fs_commit,      spk__fs_release,
                                             spk__fs_retire,        spk__fs_create_schema, spk__fs_drop_schema,
                                             spk__fs_drop_table,    spk__fs_close};

/* ---------------------------------------------------------------- opening */

/* Loads one database directory's tables into the store. */
static spk_status spk__fs_load_db(spk__fs *fs, spk__store *s, const char *db) {
    size_t dir_size = 0;
    char *dir = spk__fs_dir(fs, db, &dir_size);
    if (!dir) return SPK_ERR_NOMEM;
    spk__fs_list l = {fs->alloc, NULL, 0, 0};
    spk_status st = spk__fs_scan(&l, dir, NULL, true);
    for (size_t i = 0; st == SPK_OK && i < l.n; i++) {
        if (i + 1 < l.n && strcmp(l.e[i + 1].table, l.e[i].table) == 0) continue; /* not the highest */
        size_t first = i; /* the table's lowest version */
        while (first > 0 && strcmp(l.e[first - 1].table, l.e[i].table) == 0) first--;
        size_t size = 0;
        char *path = spk__fs_version_path(fs, dir, l.e[i].table, l.e[i].version, &size);
        if (!path) {
            st = SPK_ERR_NOMEM;
            break;
        }
        spk_table *rows = NULL;
        st = spk__fs_read_file(fs, path, &rows);
        spk__free(fs->alloc, path, size);
        if (st == SPK_OK) {
            st = spk__store_load(s, db, l.e[i].table, l.e[i].version, rows, NULL);
            for (size_t j = first; st == SPK_OK && j < i; j++) { /* superseded (a crash before retire) */
                char *old = spk__fs_version_path(fs, dir, l.e[j].table, l.e[j].version, &size);
                if (!old) st = SPK_ERR_NOMEM;
                else unlink(old);
                spk__free(fs->alloc, old, size);
            }
        } else if (st != SPK_ERR_NOMEM) {
            char why[SPK_ERROR_MAX];
            snprintf(why, sizeof why, "%s", spk_last_error());
            st = spk__store_load(s, db, l.e[i].table, l.e[i].version, NULL, why);
        }
    }
    spk__fs_list_free(&l);
    spk__free(fs->alloc, dir, dir_size);
    return st;
}

/* Loads every database under the base path. */
static spk_status spk__fs_load(spk__fs *fs, spk__store *s) {
    spk_names dbs;
    memset(&dbs, 0, sizeof dbs);
    dbs.alloc = fs->alloc;
    DIR *d = opendir(fs->base);
    if (!d) return spk__fs_io("read directory", fs->base, errno);
    spk_status st = SPK_OK;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno) st = spk__fs_io("read directory", fs->base, errno);
            break;
        }
        if (!spk__fs_name_ok(e->d_name, strlen(e->d_name))) continue;
        size_t size = 0;
        char *path = spk__fs_dir(fs, e->d_name, &size);
        if (!path) {
            st = SPK_ERR_NOMEM;
            break;
        }
        bool is_dir = spk__fs_is_dir(path);
        spk__free(fs->alloc, path, size);
        if (is_dir && (st = spk_names_add(&dbs, e->d_name)) != SPK_OK) break;
    }
    closedir(d);
    for (int i = 0; st == SPK_OK && i < dbs.n; i++) {
        st = spk__store_load(s, dbs.names[i], NULL, 0, NULL, NULL);
        if (st == SPK_OK) st = spk__fs_load_db(fs, s, dbs.names[i]);
    }
    spk_names_free(&dbs);
    return st;
}

SPKDEF spk_status spk_backend_file(const spk_backend_config *config, spk_backend **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_backend_file: NULL output");
    *out = NULL;
    if (!config || !config->base_path || !config->base_path[0])
        return spk__fail(SPK_ERR_ARG, "the file backend needs spark.sparkless.backend.basePath (the directory to keep "
                                      "its databases in)");
    const spk_allocator *a = spk__allocator_or_default(config->alloc);
    size_t len = strlen(config->base_path);
    while (len > 1 && config->base_path[len - 1] == '/') len--;
    spk__fs *fs = (spk__fs *)spk__calloc(a, sizeof *fs);
    if (!fs) return spk__nomem("a file backend", sizeof *fs);
    fs->alloc = a;
    spk__crc_init(fs->crc);
    fs->base = spk__strndup(a, config->base_path, len);
    fs->base_size = len + 1;
    if (!fs->base) {
        spk__free(a, fs, sizeof *fs);
        return spk__nomem("a path", len + 1);
    }
    spk_status st = SPK_OK;
    if (mkdir(fs->base, 0777) != 0 && errno != EEXIST) st = spk__fs_io("create directory", fs->base, errno);
    else if (!spk__fs_is_dir(fs->base))
        st = spk__fail(SPK_ERR_IO, "spark.sparkless.backend.basePath %s is not a directory", fs->base);
    spk__store *s = NULL;
    if (st == SPK_OK) st = spk__store_new(a, config->max_memory, &spk__fs_persist, fs, &s);
    if (st != SPK_OK) {
        spk__fs_close(fs);
        return st;
    }
    st = spk__fs_load(fs, s);
    if (st != SPK_OK) {
        spk__store_close(s); /* closes fs too */
        return st;
    }
    return spk__store_backend(s, "file", out);
}

#else /* not POSIX */

SPKDEF spk_status spk_backend_file(const spk_backend_config *config, spk_backend **out) {
    (void)config;
    (void)spk__store_load; /* only the POSIX implementation loads */
    if (out) *out = NULL;
    return spk__fail(SPK_ERR_UNSUPPORTED, "the file backend needs POSIX");
}

#endif

/* ---- src/catalog.c ---- */
/* catalog: sessions from configuration, child sessions, the process's
 * default session, the backend registry, databases, tables and views.
 *
 * Sharing: a root session and its children share one spk__catalog (the
 * backend and the global temp views); each session has its own spk__sessx
 * (temp views, configuration, current database). Views and configuration
 * live in copy-on-write maps (backend.c), so lookups never wait; the
 * current database is a short string under a per-session mutex. */

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
    spk_write_mode m;
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

#endif /* SPARKLESS_IMPLEMENTATION */

/*
   VERSION HISTORY

     0.1.0 (2026-11-21)  Foundation: status codes and thread-local errors,
                         run-time and compile-time allocators with failure
                         injection, hashing, the eight types with Spark's
                         parsing, formatting and casts, schemas with DDL and
                         printSchema, and the chunked row store with fixtures.

   LICENCE

   MIT License

   Copyright (c) 2026 the sparkless.h authors

   Permission is hereby granted, free of charge, to any person obtaining a copy
   of this software and associated documentation files (the "Software"), to deal
   in the Software without restriction, including without limitation the rights
   to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
   copies of the Software, and to permit persons to whom the Software is
   furnished to do so, subject to the following conditions:

   The above copyright notice and this permission notice shall be included in all
   copies or substantial portions of the Software.

   THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
   IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
   FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
   AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
   LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
   OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
   SOFTWARE.
*/
