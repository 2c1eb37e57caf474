/* schema: fields, DDL parsing, printSchema, lookup by name. */

typedef struct spk_field {
    const char *name; /* NUL-terminated UTF-8 */
    spk_type type;
    bool nullable;
} spk_field;

/* Immutable and reference-counted: safe to share between threads. */
typedef struct spk_schema spk_schema;

/* Copies `n` fields (names included) into a new schema with one reference.
 * Empty names, invalid types and duplicate names (case-insensitive, as
 * Spark's default) are SPK_ERR_ARG. */
SPKDEF spk_status spk_schema_new(const spk_allocator *alloc, const spk_field *fields, int n,
                                 spk_schema **out);

/* Parses a DDL list such as "id BIGINT NOT NULL, name STRING, price
 * DECIMAL(15,2)". Names may be `backtick quoted`; "name: type" is accepted as
 * in PySpark. Errors name the position and show the text with a caret. */
SPKDEF spk_status spk_schema_parse(const spk_allocator *alloc, const char *ddl, spk_schema **out);

SPKDEF spk_schema *spk_schema_retain(spk_schema *s);
SPKDEF void spk_schema_release(spk_schema *s); /* NULL is fine */

SPKDEF int spk_schema_ncols(const spk_schema *s);
SPKDEF const spk_field *spk_schema_field(const spk_schema *s, int i); /* NULL if out of range */

/* Index of the column called `name`, or -1. Case-insensitive unless
 * case_sensitive (Spark's spark.sql.caseSensitive). */
SPKDEF int spk_schema_index(const spk_schema *s, const char *name, bool case_sensitive);

/* As spk_schema_index but a miss is SPK_ERR_NOT_FOUND in Spark's words:
 * "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column or function parameter with
 * name `valeu` cannot be resolved. Did you mean one of the following?
 * [`value`, `name`]"; a name matching several columns is SPK_ERR_AMBIGUOUS. */
SPKDEF spk_status spk_schema_lookup(const spk_schema *s, const char *name, bool case_sensitive,
                                    int *index);

/* Same names (exactly), types and, if check_nullable, nullability, in order. */
SPKDEF bool spk_schema_equal(const spk_schema *a, const spk_schema *b, bool check_nullable);

/* printSchema's tree: "root\n |-- id: long (nullable = false)\n...". snprintf contract. */
SPKDEF size_t spk_schema_tree_string(const spk_schema *s, char *buf, size_t cap);
SPKDEF void spk_schema_print(const spk_schema *s, FILE *f);

/* DDL text that spk_schema_parse reads back: "id BIGINT NOT NULL, name STRING". */
SPKDEF size_t spk_schema_ddl(const spk_schema *s, char *buf, size_t cap);
