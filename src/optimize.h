/* optimize: the optimizer's rewrites and explain(). */

/* The analysed and optimised plans as indented text, Spark-like. */
SPKDEF spk_status spk_df_explain(spk_df *df, bool extended, FILE *f);
