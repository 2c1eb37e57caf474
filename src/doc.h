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
