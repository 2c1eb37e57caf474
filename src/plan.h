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
/* The session's own UDF registry (spark.udf, udf.h): borrowed, lives with
 * the session. A session from spk_session_new_session starts with an empty one. */
SPKDEF spk_udf_registry *spk_session_udfs(spk_session *s);

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

