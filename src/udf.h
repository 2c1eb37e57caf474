/* udf: user-defined functions — scalar and aggregate functions written in C,
 * and macros written as SQL expressions — and the registries that resolve
 * them by name: one per session, one per worker thread (the worker
 * context), and one for the process. */

/* A UDF is immutable once made and reference-counted, so one definition may
 * sit in several registries and in expressions on many threads at once. */
typedef struct spk_udf spk_udf;

typedef enum spk_udf_kind {
    SPK_UDF_SCALAR = 1,    /* a C function of one row's arguments */
    SPK_UDF_AGGREGATE = 2, /* C functions over a group's values */
    SPK_UDF_MACRO = 3      /* an expression over named parameters: double_it(x) = x * 2 */
} spk_udf_kind;

/* A scalar UDF: called once per row with the row's arguments, already cast
 * to the declared argument types (a NULL argument arrives as a value with
 * is_null set: the function decides what NULL gives). It sets *result to a
 * value of the declared return type or to NULL (is_null). A STRING result
 * may point at the function's own memory: it is copied before the next
 * call. Returning anything but SPK_OK fails the query with that status,
 * and the message names the UDF. Called from any number of threads at once. */
typedef spk_status (*spk_udf_fn)(void *user, const spk_value *args, int nargs, spk_value *result);

/* An aggregate UDF works on per-group states of state_size bytes (aligned
 * for any type): init makes an empty state, update adds one value (NULLs
 * are skipped before update, as Spark's built-in aggregates do), merge adds
 * the state `from` into `into` (partial aggregates from several threads),
 * finish gives the group's result, destroy (optional) frees what a state
 * owns. A STRING result may point into the state: it is copied. States are
 * moved as bytes while the groups grow, so they must not point into
 * themselves (point to memory they own instead). */
typedef struct spk_udaf_fns {
    size_t state_size; /* 1 to 4096 bytes */
    void (*init)(void *user, void *state);
    spk_status (*update)(void *user, void *state, const spk_value *arg);
    spk_status (*merge)(void *user, void *into, const void *from);
    spk_status (*finish)(void *user, const void *state, spk_value *result);
    void (*destroy)(void *user, void *state); /* NULL: nothing to free */
} spk_udaf_fns;

/* spark.udf.register(name, f, returnType): a scalar UDF of nargs (0 to 64)
 * arguments. Names are 1 to 128 characters of [A-Za-z0-9_] not starting
 * with a digit, and match case-insensitively. `user` is passed to fn. */
SPKDEF spk_status spk_udf_scalar(const char *name, const spk_type *arg_types, int nargs, spk_type return_type,
                                 spk_udf_fn fn, void *user, spk_udf **out);
/* An aggregate UDF of one argument. */
SPKDEF spk_status spk_udf_aggregate(const char *name, spk_type arg_type, spk_type return_type,
                                    const spk_udaf_fns *fns, void *user, spk_udf **out);
/* A SQL macro: `params` as DDL ("x INT, y DOUBLE"; "" for none) and the
 * body as a SQL expression over them ("x * 2"): spk_udf_macro("double_it",
 * "x INT", "x * 2", &u). A call is the body with each parameter replaced by
 * its argument cast to the parameter's type; its type is the body's. The
 * body may use only its parameters (no columns), built-in functions and
 * other UDFs by name; SPK_ERR_ARG otherwise. Macros travel inside encoded
 * expressions (wire.h), since they run no C code. */
SPKDEF spk_status spk_udf_macro(const char *name, const char *params, const char *body, spk_udf **out);
/* The same from parts: n parameter names and types, and a body (consumed). */
SPKDEF spk_status spk_udf_macro_expr(const char *name, const char *const *params, const spk_type *types, int n,
                                     spk_expr *body, spk_udf **out);

SPKDEF spk_udf *spk_udf_retain(spk_udf *u);
SPKDEF void spk_udf_release(spk_udf *u); /* NULL is fine */
SPKDEF const char *spk_udf_name(const spk_udf *u);
SPKDEF spk_udf_kind spk_udf_kind_of(const spk_udf *u);
SPKDEF int spk_udf_nargs(const spk_udf *u);
SPKDEF spk_type spk_udf_arg_type(const spk_udf *u, int i);
/* The declared return type; a macro's is NULL-typed (it is the body's, found at bind). */
SPKDEF spk_type spk_udf_return_type(const spk_udf *u);
/* "double_it(x INT) -> INT", as errors print it. snprintf contract. */
SPKDEF size_t spk_udf_signature(const spk_udf *u, char *buf, size_t cap);

/* An expression calling `udf` (retained by the expression) with n
 * arguments (consumed): spk_udf_call(u, 1, spk_col("x")). Its SQL text is
 * the call by name, "double_it(x)". The argument count is checked here,
 * the types when the expression is bound. */
SPKDEF spk_expr *spk_udf_call(spk_udf *udf, int n, ...);
SPKDEF spk_expr *spk_udf_call_array(spk_udf *udf, spk_expr *const *args, int n);

/* ---------------------------------------------------------------- registries
 * A registry maps names to UDFs; it is thread-safe (lookups run while
 * others register) and reference-counted. Binding a call by name
 * (spk_call("double_it", ...), or the name in SQL text) that is not a
 * built-in function looks in the session's registry, then in the calling
 * thread's worker context, then in the global registry. Decoding an
 * expression (wire.h) resolves its UDF references in an explicit registry,
 * then the worker context, then the global registry. */
typedef struct spk_udf_registry spk_udf_registry;

SPKDEF spk_status spk_udf_registry_new(spk_udf_registry **out);
SPKDEF spk_udf_registry *spk_udf_registry_retain(spk_udf_registry *r);
SPKDEF void spk_udf_registry_release(spk_udf_registry *r); /* NULL is fine */
/* Adds udf (retained), replacing any UDF of the same name (as Spark's register). */
SPKDEF spk_status spk_udf_register(spk_udf_registry *r, spk_udf *udf);
/* SPK_ERR_NOT_FOUND if the name is not registered. */
SPKDEF spk_status spk_udf_unregister(spk_udf_registry *r, const char *name);
/* The UDF of that name, retained (release it), or NULL. */
SPKDEF spk_udf *spk_udf_lookup(spk_udf_registry *r, const char *name);
/* Strict mode (seed 003's inlining toggle): decoding refuses expressions
 * that carry a macro's definition inline, so only functions registered
 * here can run. A decode is strict when its explicit registry or the
 * worker context is strict. */
SPKDEF void spk_udf_registry_set_strict(spk_udf_registry *r, bool strict);
SPKDEF bool spk_udf_registry_strict(const spk_udf_registry *r);

/* The process-wide registry (made on first use, never freed; do not
 * release). NULL only if it cannot be made (out of memory). */
SPKDEF spk_udf_registry *spk_udf_global(void);
/* A session's own registry is spk_session_udfs (plan.h). */

/* The calling thread's worker context: a registry (retained until cleared
 * or replaced) consulted by binds and decodes on this thread. */
SPKDEF void spk_set_worker_ctx(spk_udf_registry *r);
SPKDEF void spk_clear_worker_ctx(void);
SPKDEF spk_udf_registry *spk_worker_ctx(void); /* borrowed; NULL if none */
