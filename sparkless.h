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

   CONFIGURATION MACROS (define them before including the implementation)

     SPARKLESS_IMPLEMENTATION  compile the implementation into this file.
     SPARKLESS_STATIC          make every function static to this file (then
                               define SPARKLESS_IMPLEMENTATION here too).
     SPKDEF                    decoration of every API function; defaults to
                               extern, or static with SPARKLESS_STATIC.
     SPK_ASSERT(cond)          checks internal invariants only (a failure is a
                               bug in the library, never bad input); defaults to
                               assert() from <assert.h>.
     SPK_MALLOC(size), SPK_REALLOC(ptr, size), SPK_FREE(ptr)
                               the default allocator's functions; define all
                               three or none (default malloc/realloc/free).
     At run time, every function that creates a root object (a schema, a
     table) takes a `const spk_allocator *` (NULL = the default above); the
     object and everything it owns use it until freed, and sizes are passed
     back on free, so arena and pool allocators need no headers.

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
     its matching spk_*_free or spk_*_release, every argument you pass is only
     borrowed, and anything pointing into an object (field names, the bytes of
     a string value) lives exactly as long as that object.

   THREAD SAFETY

     - Error state is thread-local: spk_last_error() reports this thread's
       last failure only; no locks, no interference between threads.
     - spk_schema is immutable once created and reference-counted with atomic
       counts: share it between threads; retain and release from any thread.
     - spk_table has one writer at a time. Reading calls (spk_table_get,
       spk_table_nrows, cursors) may run in many threads at once, but not
       while another thread appends. (Versioned tables that readers can scan
       while writers commit come with the catalog.)
     - spk_value and spk_cursor are plain data owned by the caller.
     - Type, value, hash and formatting functions are pure and reentrant.
       Parsing and formatting doubles use the C library (strtod, snprintf)
       and adapt to the current locale's decimal point: do not call
       setlocale() while other threads use the library.
     - A run-time allocator must be thread-safe if the objects using it are
       shared between threads. spk_failalloc is single-threaded.

   LIMITS

     - DECIMAL precision 1..18 (stored as a scaled int64).
     - A chunk holds at most SPK_CHUNK_ROWS (65536) rows and 4 GiB of string
       bytes; a single row's strings must total under 4 GiB.
     - Dates are int32 days (years -290308..294247 as Spark); parsed years
       have 4 to 6 digits. Timestamps are int64 microseconds, always UTC.
     - Detailed error messages are cut at SPK_ERROR_MAX - 1 bytes.

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
    X(SPK_ERR_INTERNAL,     "SparkException",           "internal error")

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

/* Builds a schema; duplicates are allowed only for internal results (a
 * join's output may hold two `id` columns, as in Spark). */
static spk_status spk__schema_make(const spk_allocator *alloc, const spk_field *fields, int n,
                                   bool allow_duplicates, spk_schema **out) {
    alloc = spk__allocator_or_default(alloc);
    if (n < 0 || (n > 0 && !fields)) return spk__fail(SPK_ERR_ARG, "schema: invalid field list");
    size_t names = 0;
    for (int i = 0; i < n; i++) {
        if (!fields[i].name || !fields[i].name[0])
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
    size_t first_row; /* table row number of this chunk's row 0 */
    uint32_t nrows, cap_rows;
    uint32_t heap_len, heap_cap;
    unsigned char *rows; /* cap_rows * width bytes */
    char *heap;
} spk__chunk;

struct spk_table {
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

static void spk__chunk_free(spk_table *t, spk__chunk *c) {
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

SPKDEF void spk_table_free(spk_table *t) {
    if (!t) return;
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

/* Makes room for one more row with `string_bytes` of strings; returns the chunk. */
static spk_status spk__reserve_row(spk_table *t, size_t string_bytes, spk__chunk **chunk) {
    spk__chunk *c = t->nchunks ? t->chunks[t->nchunks - 1] : NULL;
    if (string_bytes > UINT32_MAX - 1)
        return spk__fail(SPK_ERR_LIMIT, "a row holds %zu bytes of strings; the limit is 4 GiB", string_bytes);
    if (!c || c->nrows == SPK_CHUNK_ROWS || string_bytes > (size_t)(UINT32_MAX - c->heap_len)) {
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
        fresh->first_row = t->nrows;
        if (c) spk__chunk_seal(t, c);
        t->chunks[t->nchunks++] = fresh;
        c = fresh;
    }
    if (c->nrows == c->cap_rows) {
        uint32_t cap = c->cap_rows ? c->cap_rows * 2 : 16;
        if (cap > SPK_CHUNK_ROWS) cap = SPK_CHUNK_ROWS;
        void *p = spk__table_realloc(t, c->rows, (size_t)c->cap_rows * t->width, (size_t)cap * t->width);
        if (!p) return spk__nomem("table rows", (size_t)cap * t->width);
        c->rows = (unsigned char *)p;
        c->cap_rows = cap;
    }
    if (string_bytes > (size_t)(c->heap_cap - c->heap_len)) {
        uint64_t need = (uint64_t)c->heap_len + string_bytes, cap = c->heap_cap ? c->heap_cap : 256;
        while (cap < need) cap *= 2;
        if (cap > UINT32_MAX) cap = UINT32_MAX;
        void *p = spk__table_realloc(t, c->heap, c->heap_cap, (size_t)cap);
        if (!p) return spk__nomem("table strings", (size_t)cap);
        c->heap = (char *)p;
        c->heap_cap = (uint32_t)cap;
    }
    *chunk = c;
    return SPK_OK;
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

static void spk__table_rollback(spk_table *t, spk__table_mark m) {
    while (t->nchunks > m.nchunks) spk__chunk_free(t, t->chunks[--t->nchunks]);
    if (m.nchunks) {
        t->chunks[m.nchunks - 1]->nrows = m.tail_rows;
        t->chunks[m.nchunks - 1]->heap_len = m.tail_heap;
    }
    t->nrows = m.nrows;
}

SPKDEF spk_status spk_table_append_row(spk_table *t, const spk_value *values, int n) {
    if (!t || (!values && n)) return spk__fail(SPK_ERR_ARG, "spk_table_append_row: NULL argument");
    if (n != t->ncols)
        return spk__fail(SPK_ERR_ARG, "spk_table_append_row: got %d values for %d columns", n, t->ncols);
    return spk__append_one(t, values);
}

SPKDEF spk_status spk_table_append_rows(spk_table *t, const spk_value *values, size_t nrows) {
    if (!t || (!values && nrows && t->ncols)) return spk__fail(SPK_ERR_ARG, "spk_table_append_rows: NULL argument");
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
