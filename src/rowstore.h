/* rowstore: in-memory tables of rows in chunks, each chunk column by column. */

/* A table: a schema and a sequence of chunks of at most SPK_CHUNK_ROWS rows.
 * A chunk holds its rows' null bitmaps, then each column's fixed-width
 * fields, column after column; strings live in the chunk's heap. One writer at a time; readers may run alongside
 * each other but not alongside a writer (versions come with the catalog). */
typedef struct spk_table spk_table;

#define SPK_CHUNK_ROWS 65536

/* Creates an empty table; takes its own reference to `schema`. */
SPKDEF spk_status spk_table_new(const spk_allocator *alloc, spk_schema *schema, spk_table **out);
/* Tables are reference-counted: spk_table_free releases one reference and
 * the last frees the table. spk_table_retain adds one (the catalog and
 * DataFrames over saved tables hold them); while a table has more than one
 * reference it is read-only, and the append calls fail with SPK_ERR_STATE. */
SPKDEF spk_table *spk_table_retain(spk_table *t);
SPKDEF void spk_table_free(spk_table *t); /* NULL is fine */

SPKDEF spk_schema *spk_table_schema(const spk_table *t);
SPKDEF size_t spk_table_nrows(const spk_table *t);
SPKDEF size_t spk_table_nchunks(const spk_table *t);
/* Bytes the table holds from its allocator right now (rows, heaps, bookkeeping). */
SPKDEF size_t spk_table_memory(const spk_table *t);

/* Appends one row of `n` values (n must equal the column count). A value's
 * type must be the column's, or widen to it without loss (INT32 to INT64,
 * integers to DOUBLE or to a DECIMAL they fit, a DECIMAL to one with at least
 * its scale and integer digits; else SPK_ERR_TYPE or SPK_ERR_RANGE). A typed
 * NULL follows the rules of its type; the untyped spk_value_null() fits any
 * nullable column. Strings are copied. On error nothing is appended and the
 * message names the column. */
SPKDEF spk_status spk_table_append_row(spk_table *t, const spk_value *values, int n);

/* spk_table_append(t, spk_value_i64(1), spk_value_str("Alice")) — C only. */
#define spk_table_append(t, ...)                                                            \
    spk_table_append_row((t), (const spk_value[]){__VA_ARGS__},                             \
                         (int)(sizeof((const spk_value[]){__VA_ARGS__}) / sizeof(spk_value)))

/* Appends `nrows` rows given row-major (nrows * ncols values). All or
 * nothing: on error no row of this call is kept and the message names the
 * row (1-based) and column. */
SPKDEF spk_status spk_table_append_rows(spk_table *t, const spk_value *values, size_t nrows);

/* Appends rows from CSV text, one row per line, values as spk_value_parse
 * reads them: fields separated by ',', "double quoted" fields may hold ',',
 * newlines and "" for a quote; an unquoted NULL or null (exactly), or an
 * empty unquoted field, is NULL; "" is the empty string (and a quoted "NULL"
 * the four-letter string); spaces around unquoted fields are
 * trimmed; blank lines are skipped. len (size_t)-1 means NUL-terminated. All
 * or nothing; errors name the line and column:
 * "line 3, column 2 (`amount`): cannot parse 'x1' as DECIMAL(10,2)". */
SPKDEF spk_status spk_table_append_text(spk_table *t, const char *text, size_t len);

/* A table from a fixture literal: the first line is a DDL schema, the rest are
 * rows as spk_table_append_text reads them (line numbers count the schema line).
 *   "id INT, name STRING\n1,Alice\n2,NULL" */
SPKDEF spk_status spk_table_from_fixture(const spk_allocator *alloc, const char *text,
                                         spk_table **out);

/* Reads one value; a string is a view into the table, valid until the table
 * is next appended to or freed. */
SPKDEF spk_status spk_table_get(const spk_table *t, size_t row, int col, spk_value *out);

/* Sequential reading: open, then next() until it returns false. Plain data:
 * put it on the stack; valid while the table is not written. */
typedef struct spk_cursor {
    const spk_table *table;
    size_t chunk; /* current chunk */
    size_t index; /* row within the chunk */
    size_t row;   /* row within the table */
    bool started;
} spk_cursor;

SPKDEF void spk_cursor_open(spk_cursor *c, const spk_table *t);
SPKDEF bool spk_cursor_next(spk_cursor *c);
SPKDEF spk_status spk_cursor_get(const spk_cursor *c, int col, spk_value *out);
