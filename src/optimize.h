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
