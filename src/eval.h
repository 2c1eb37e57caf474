/* eval: binding expressions to a schema (resolution, Spark's type coercion,
 * constant folding) and evaluating them, vectorised, over a table. */

/* A bound expression: resolved against one schema, typed, with implicit
 * casts inserted and constants folded. Immutable: evaluate it from any
 * number of threads at once. */
typedef struct spk_bound spk_bound;

/* Resolves `e` (borrowed) against `schema` (case-insensitive unless
 * case_sensitive). Errors: an unknown column (SPK_ERR_NOT_FOUND, with
 * Spark's did-you-mean and, for parsed text, a caret), an ambiguous one
 * (SPK_ERR_AMBIGUOUS), types that do not fit (SPK_ERR_TYPE), an unknown
 * function (SPK_ERR_NOT_FOUND with suggestions). */
SPKDEF spk_status spk_expr_bind(const spk_expr *e, const spk_schema *schema, bool case_sensitive, spk_bound **out);
SPKDEF void spk_bound_free(spk_bound *b); /* NULL is fine */

SPKDEF spk_type spk_bound_type(const spk_bound *b);
SPKDEF bool spk_bound_nullable(const spk_bound *b);
/* The result's column name, as Spark would name it: "(value > 10)", or the alias. */
SPKDEF const char *spk_bound_name(const spk_bound *b);
/* True if the expression aggregates (sum(x) * 2): it yields one row per group. */
SPKDEF bool spk_bound_is_aggregate(const spk_bound *b);

/* The bound tree as text, with resolved columns as name#index and every
 * implicit cast shown: "(CAST(qty#1 AS BIGINT) + 1L)". snprintf contract. */
SPKDEF size_t spk_bound_explain(const spk_bound *b, char *buf, size_t cap);

/* If the expression folded to a constant (it reads no column), its value;
 * a string stays valid as long as `b`. SPK_ERR_STATE if it is not constant. */
SPKDEF spk_status spk_bound_constant(const spk_bound *b, spk_value *out);

/* Evaluates over every row of `in` (whose schema must equal the bound one):
 * a one-column table named spk_bound_name, one row per input row, or a
 * single row for an aggregate. */
SPKDEF spk_status spk_bound_eval(const spk_bound *b, const spk_table *in, spk_table **out);

/* The rows of `in` for which the BOOLEAN expression is true (not false, not NULL). */
SPKDEF spk_status spk_bound_filter(const spk_bound *b, const spk_table *in, spk_table **out);
