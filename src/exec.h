/* exec: running plans — Spark's actions (collect, count, show, explain). */

/* Runs the plan; the result is a table you own (read it with spk_table_get
 * or a cursor, free it with spk_table_free). */
SPKDEF spk_status spk_df_collect(spk_df *df, spk_table **out);
SPKDEF spk_status spk_df_count(spk_df *df, int64_t *out);
SPKDEF const spk_schema *spk_df_schema(const spk_df *df);
SPKDEF void spk_df_print_schema(const spk_df *df, FILE *f);

/* show(n, truncate, vertical) in Spark's exact format; truncate 0 = off,
 * else the width at which cells are cut (Spark's default 20). */
SPKDEF spk_status spk_df_show(spk_df *df, int n, int truncate, bool vertical, FILE *f);
SPKDEF spk_status spk_df_show_string(spk_df *df, int n, int truncate, bool vertical, char **out); /* free with spk_string_free */
SPKDEF void spk_string_free(char *s);
