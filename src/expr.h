/* expr: expression trees, built in C or parsed from Spark SQL text. */

/* An expression: immutable and reference-counted, so one tree may be shared
 * by many DataFrames and threads. Builders CONSUME their spk_expr arguments
 * (so `spk_gt(spk_col("value"), spk_lit_i64(10))` needs no temporaries) and
 * return a new reference; keep a tree for reuse with spk_expr_retain. A
 * builder that fails (out of memory, a NULL argument) returns NULL after
 * releasing its arguments, and every builder given a NULL returns NULL, so a
 * chain fails as a whole: the consumer of the final NULL reports the first
 * failure's status and message. Expressions use the default allocator. */
typedef struct spk_expr spk_expr;

SPKDEF spk_expr *spk_expr_retain(spk_expr *e);
SPKDEF void spk_expr_release(spk_expr *e); /* NULL is fine */

/* Column reference: "name", "t.name" (qualified), or "`odd.name`" (quoted). */
SPKDEF spk_expr *spk_col(const char *name);
SPKDEF spk_expr *spk_star(void); /* `*`, as in count(*) or select("*") */

/* Literals; strings are copied. */
SPKDEF spk_expr *spk_lit(spk_value v);
SPKDEF spk_expr *spk_lit_null(void);
SPKDEF spk_expr *spk_lit_bool(bool x);
SPKDEF spk_expr *spk_lit_i32(int32_t x);
SPKDEF spk_expr *spk_lit_i64(int64_t x);
SPKDEF spk_expr *spk_lit_f64(double x);
SPKDEF spk_expr *spk_lit_str(const char *s);
SPKDEF spk_expr *spk_lit_decimal(int64_t unscaled, int precision, int scale);
SPKDEF spk_expr *spk_lit_date(int year, int month, int day); /* NULL if invalid */

/* Arithmetic: + - * / % div, unary minus. `/` always divides as DOUBLE (or
 * DECIMAL for decimals), `div` is integral division; x/0 and x%0 are NULL. */
SPKDEF spk_expr *spk_add(spk_expr *a, spk_expr *b);
SPKDEF spk_expr *spk_sub(spk_expr *a, spk_expr *b);
SPKDEF spk_expr *spk_mul(spk_expr *a, spk_expr *b);
SPKDEF spk_expr *spk_div(spk_expr *a, spk_expr *b);
SPKDEF spk_expr *spk_mod(spk_expr *a, spk_expr *b);
SPKDEF spk_expr *spk_intdiv(spk_expr *a, spk_expr *b);
SPKDEF spk_expr *spk_neg(spk_expr *a);

/* Comparison; spk_eq_null_safe is SQL's <=> (NULL <=> NULL is true). */
SPKDEF spk_expr *spk_eq(spk_expr *a, spk_expr *b);
SPKDEF spk_expr *spk_ne(spk_expr *a, spk_expr *b);
SPKDEF spk_expr *spk_lt(spk_expr *a, spk_expr *b);
SPKDEF spk_expr *spk_le(spk_expr *a, spk_expr *b);
SPKDEF spk_expr *spk_gt(spk_expr *a, spk_expr *b);
SPKDEF spk_expr *spk_ge(spk_expr *a, spk_expr *b);
SPKDEF spk_expr *spk_eq_null_safe(spk_expr *a, spk_expr *b);

/* Three-valued logic and null tests. */
SPKDEF spk_expr *spk_and(spk_expr *a, spk_expr *b);
SPKDEF spk_expr *spk_or(spk_expr *a, spk_expr *b);
SPKDEF spk_expr *spk_not(spk_expr *a);
SPKDEF spk_expr *spk_is_null(spk_expr *a);
SPKDEF spk_expr *spk_is_not_null(spk_expr *a);

/* x IN (n listed expressions), x BETWEEN lo AND hi. */
SPKDEF spk_expr *spk_in(spk_expr *x, int n, ...);
SPKDEF spk_expr *spk_in_array(spk_expr *x, spk_expr *const *list, int n);
SPKDEF spk_expr *spk_between(spk_expr *x, spk_expr *lo, spk_expr *hi);

/* x LIKE pattern (% any run, _ one character, \ escapes), x RLIKE regex
 * (POSIX extended, matching anywhere, as Java's find()). */
SPKDEF spk_expr *spk_like(spk_expr *x, const char *pattern);
SPKDEF spk_expr *spk_rlike(spk_expr *x, const char *regex);

/* CASE WHEN c1 THEN v1 WHEN c2 THEN v2 ELSE e END is written
 *   spk_otherwise(spk_when(spk_when(NULL, c1, v1), c2, v2), e)
 * (prev NULL starts a CASE; without spk_otherwise the ELSE is NULL). */
SPKDEF spk_expr *spk_when(spk_expr *prev, spk_expr *cond, spk_expr *value);
SPKDEF spk_expr *spk_otherwise(spk_expr *case_expr, spk_expr *value);

SPKDEF spk_expr *spk_cast(spk_expr *x, spk_type to);
SPKDEF spk_expr *spk_alias(spk_expr *x, const char *name);

/* A function or aggregate call by Spark name with n spk_expr arguments:
 * spk_call("upper", 1, spk_col("name")), spk_call("sum", 1, spk_col("x")). */
SPKDEF spk_expr *spk_call(const char *function, int n, ...);
SPKDEF spk_expr *spk_call_array(const char *function, spk_expr *const *args, int n);
SPKDEF spk_expr *spk_count_distinct(spk_expr *x); /* count(DISTINCT x) */

/* Parses Spark SQL expression text: "value > 10 AND name LIKE 'A%'",
 * "price * (1 - disc) AS net", "CASE WHEN x IS NULL THEN 0 ELSE x END",
 * "d <= DATE '1998-12-01' - INTERVAL 90 DAY". Errors are SPK_ERR_PARSE with
 * the position and the text under a caret. */
SPKDEF spk_status spk_expr_parse(const char *sql, spk_expr **out);

/* Spark's text for an expression, as used for column names: "(value > 10)",
 * "upper(name)", "CAST(x AS INT)". snprintf contract. */
SPKDEF size_t spk_expr_to_sql(const spk_expr *e, char *buf, size_t cap);
