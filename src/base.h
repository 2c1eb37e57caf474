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
    X(SPK_ERR_ANALYSIS,     "AnalysisException",        "invalid query")            \
    X(SPK_ERR_ASSERTION,    "PySparkAssertionError",    "assertion failed")

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

/* Memory the default allocator keeps. It keeps the blocks of 256 KiB or
 * more that are freed (a dropped table's chunks, a query's hash tables and
 * sort buffers), up to a limit, and hands them to the next requests of
 * about their size, so that their pages are not faulted in again (a fresh
 * page costs the kernel about a microsecond). A request that finds none
 * frees kept blocks of its size first, so kept and used blocks together
 * stay within the most the process had in use. Process-wide and
 * thread-safe.
 *   spk_memory_retained: the bytes kept now.
 *   spk_memory_release: frees them all (sqlite3_release_memory, malloc_trim);
 *     returns the bytes freed.
 *   spk_memory_set_retention: the limit (default SPK_RETAIN_BYTES, 2 GiB;
 *     0 keeps nothing); frees what is kept past it; returns the old one.
 * What is kept never exceeds what the process had in use at once. */
SPKDEF size_t spk_memory_retained(void);
SPKDEF size_t spk_memory_release(void);
SPKDEF size_t spk_memory_set_retention(size_t max_bytes);

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
