/* plan: sessions and DataFrames — lazy, immutable logical plans, analysed
 * when built, with Spark's transformations and an optimizer. */

/* A session creates DataFrames and owns what they share (the allocator for
 * results, settings). Free it after every DataFrame made from it. */
typedef struct spk_session spk_session;

typedef struct spk_session_options {
    const spk_allocator *alloc; /* NULL: the default allocator */
    bool case_sensitive;        /* spark.sql.caseSensitive; default false */
} spk_session_options;

SPKDEF spk_status spk_session_new(const spk_session_options *opts, spk_session **out); /* opts NULL: defaults */
SPKDEF void spk_session_free(spk_session *s);

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
SPKDEF spk_df *spk_df_with_column_renamed(spk_df *df, const char *existing, const char *new_name);
SPKDEF spk_df *spk_df_drop(spk_df *df, int n, ...); /* column names; unknown names are ignored, as Spark */
SPKDEF spk_df *spk_df_alias(spk_df *df, const char *alias);
SPKDEF spk_df *spk_df_limit(spk_df *df, int64_t n);
SPKDEF spk_df *spk_df_offset(spk_df *df, int64_t n);
SPKDEF spk_df *spk_df_distinct(spk_df *df);

/* groupBy(keys...).agg(aggregates...); with no keys, agg over the whole frame. */
SPKDEF spk_df *spk_df_group_agg(spk_df *df, spk_expr *const *keys, int nkeys, spk_expr *const *aggs, int naggs);
SPKDEF spk_df *spk_df_agg(spk_df *df, int n, ...);

/* orderBy(sort keys...): spk_asc(e), spk_desc(e), spk_asc_nulls_last(e), ...
 * A plain expression sorts ascending with NULLs first, as Spark. */
SPKDEF spk_expr *spk_asc(spk_expr *e);
SPKDEF spk_expr *spk_desc(spk_expr *e);
SPKDEF spk_expr *spk_asc_nulls_last(spk_expr *e);
SPKDEF spk_expr *spk_desc_nulls_first(spk_expr *e);
SPKDEF spk_df *spk_df_order_by(spk_df *df, int n, ...);
SPKDEF spk_df *spk_df_order_by_array(spk_df *df, spk_expr *const *keys, int n);

/* Spark's union/unionAll: by position, keeping duplicates. */
SPKDEF spk_df *spk_df_union(spk_df *a, spk_df *b);

