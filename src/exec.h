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
