/* wire: the versioned binary format that ships expressions and scan tasks
 * to workers (threads, processes, machines). docs/wire-format.md describes
 * it field by field.
 *
 * Decoding treats its input as hostile: it reads only inside the given
 * bytes, bounds nesting (SPK_EXPR_MAX_DEPTH levels) and size (SPK_WIRE_MAX_BYTES),
 * checks a CRC-32 of the body, and never takes code from the bytes —
 * built-in functions travel by name and are checked when the expression is
 * bound; C UDFs travel as a name and signature resolved in registries the
 * receiver set up (udf.h); only macros, which run no C code, may travel
 * inline, and a strict registry refuses even those. */

/* The wire format's version. A reader accepts bytes of its own major
 * version and any minor version; bytes of a newer minor version that use a
 * node kind or field this reader does not know are refused (SPK_ERR_VERSION),
 * never misread. */
#define SPK_WIRE_MAJOR 1
#define SPK_WIRE_MINOR 0

#ifndef SPK_WIRE_MAX_BYTES
#define SPK_WIRE_MAX_BYTES (64u << 20) /* the largest message a decoder accepts */
#endif

/* Bytes owned by the caller: free with spk_bytes_free. */
typedef struct spk_bytes {
    unsigned char *data;
    size_t len;
} spk_bytes;
SPKDEF void spk_bytes_free(spk_bytes *b); /* frees data, zeroes *b; NULL is fine */

/* Encodes e (borrowed): every node kind, literal type and aggregate; a call
 * of a C UDF as its name and signature; a call of a macro with the macro's
 * definition inline. Parser positions (carets for errors) do not travel. */
SPKDEF spk_status spk_expr_encode(const spk_expr *e, spk_bytes *out);
/* Decodes an expression. UDF references resolve in `udfs` (NULL: none),
 * then the worker context, then the global registry; a missing UDF is
 * SPK_ERR_NOT_FOUND and a signature mismatch SPK_ERR_TYPE, both naming it.
 * Other version mismatch, SPK_ERR_VERSION naming both versions; damage,
 * SPK_ERR_CORRUPT with the byte offset; limits, SPK_ERR_LIMIT. */
SPKDEF spk_status spk_expr_decode(const void *data, size_t len, spk_udf_registry *udfs, spk_expr **out);

/* Structural equality: same node kinds, names, literal types and values
 * (doubles bit for bit), same UDFs (the same definition, or macros with
 * equal definitions). Parser positions are ignored. */
SPKDEF bool spk_expr_equal(const spk_expr *a, const spk_expr *b);

/* ---------------------------------------------------------------- scan tasks
 * A scan task is a scan (txn.h: a table at an asof, a predicate, a
 * projection) and one of its shards, as bytes: the unit of work a driver
 * ships. A worker decodes it and runs it on a session of the same catalog
 * and gets exactly the rows that shard of that version holds. In the
 * process that made it (or a fork() of it) the task reads its asof. In
 * another process on the file backend's base path it reads the table's
 * version by number, which works while that version is still the table's
 * latest, and otherwise is SPK_ERR_NOT_FOUND saying so; a task made on a
 * memory backend cannot run in an unrelated process (SPK_ERR_NOT_FOUND). */
typedef struct spk_scan_task spk_scan_task;

/* Encodes scan sc with shard sh (NULL: the whole scan). The shard must be
 * one of sc's (same asof) when it is physical. */
SPKDEF spk_status spk_scan_task_encode(const spk_scan *sc, const spk_shard *sh, spk_bytes *out);
SPKDEF spk_status spk_scan_task_decode(const void *data, size_t len, spk_udf_registry *udfs, spk_scan_task **out);
SPKDEF void spk_scan_task_free(spk_scan_task *t); /* NULL is fine */
/* The task's rows as a DataFrame of session s. */
SPKDEF spk_df *spk_scan_task_run(const spk_scan_task *t, spk_session *s);

SPKDEF const char *spk_scan_task_table(const spk_scan_task *t);     /* "db.table" */
SPKDEF uint64_t spk_scan_task_asof(const spk_scan_task *t);
SPKDEF const spk_shard *spk_scan_task_shard(const spk_scan_task *t); /* NULL: the whole scan */
SPKDEF const spk_expr *spk_scan_task_predicate(const spk_scan_task *t); /* NULL: none */
SPKDEF int spk_scan_task_ncolumns(const spk_scan_task *t);           /* 0: all */
SPKDEF const char *spk_scan_task_column(const spk_scan_task *t, int i);
