/* jsonl: reading and writing JSON Lines (spark.read.json, df.write.json).
 *
 * Reading. Each non-blank line is one JSON object (RFC 8259, strictly:
 * UTF-8 validated, escapes decoded, no duplicate keys). Lines end in \n or
 * \r\n; lines of only spaces, tabs and \r are blank and skipped; a UTF-8
 * byte-order mark at the start is skipped. Keys map to columns by name (as
 * spark.sql.caseSensitive is false: ignoring case, so two keys of one line
 * that differ only in case are a duplicate); a missing key or a JSON null
 * is NULL; keys the schema does not name are ignored. Without `schema` the
 * columns are every key seen in the first `sample_rows` non-blank lines (0:
 * all), sorted by name as Spark sorts them (by code point), named by the
 * first spelling seen, typed by Spark's JSON inference: whole numbers
 * BIGINT (DOUBLE when one does not fit, or any sample has a fraction or
 * exponent), true/false BOOLEAN, strings STRING, and a key with mixed kinds
 * STRING; a key seen only with null is STRING. Keys that cannot name a
 * column (empty, or holding a NUL) are left out. Nested objects and arrays
 * have no column type here: they are read as STRING columns holding the
 * value's compact JSON text (Spark would make a struct or an array). With a
 * schema (its columns read as nullable, as Spark reads files), a JSON value
 * converts to its column's type as Spark converts it: numbers to any
 * numeric column (INT and BIGINT take only numbers written without
 * fraction or exponent, DECIMAL rounds half-up to its scale, exactly; a
 * number that does not fit is malformed), strings to DATE, TIMESTAMP or
 * DECIMAL when they parse, "NaN", "Infinity" and "-Infinity" (also "+NaN",
 * "-NaN", "+Infinity", "+INF", "-INF") to DOUBLE, true/false to BOOLEAN,
 * and anything to STRING: a string as itself, any other value as its JSON
 * text (a number as written, true, an object's compact text), as Spark
 * does, so that a column inferred STRING from mixed kinds reads every line;
 * other pairs are malformed.
 *
 * A malformed line (not an object, broken JSON, a value that does not
 * convert) goes by `mode` as in csv.h; in PERMISSIVE mode with
 * `corrupt_column` the line's text (without its line break; ill-formed
 * UTF-8 replaced by U+FFFD, as Spark decodes it) lands there
 * and the column takes no key of the input; a line that is not an object
 * at all gives a row of NULLs, a value that does not convert only a NULL
 * for that value. Without a schema, a corrupt_column is added to the
 * inferred columns (as a STRING, sorted in) when PERMISSIVE mode meets a
 * malformed line in the sample, as Spark adds _corrupt_record. FAILFAST
 * fails with SPK_ERR_PARSE "<input>:<line>:<column>: <what>", where
 * <column> counts characters and, for a value that does not convert,
 * "(`<column name>`)" follows it: "<buffer>:3:7 (`age`): value 3000000000
 * is out of range for INT"; the first malformed line of the input is the
 * one reported. Bad options (an unknown mode, a corrupt_column that is not
 * a STRING column of `schema`) are SPK_ERR_ARG; a path that cannot be
 * read is SPK_ERR_IO. Large inputs parse in parallel on the session's
 * threads, in slices cut at line breaks, keeping the input's order. */

typedef struct spk_json_options {
    const spk_schema *schema;   /* borrowed; NULL: inferred */
    size_t sample_rows;         /* lines inference reads; 0: all */
    spk_read_mode mode;         /* PERMISSIVE (0), DROPMALFORMED, FAILFAST */
    const char *corrupt_column; /* columnNameOfCorruptRecord: a STRING column of `schema` (without a
                                 * schema: added when the sample has a malformed line), or NULL */
} spk_json_options;

SPKDEF spk_df *spk_read_json(spk_session *s, const char *path, const spk_json_options *opts);
SPKDEF spk_df *spk_read_json_buffer(spk_session *s, const void *data, size_t len, const spk_json_options *opts);
SPKDEF spk_df *spk_read_json_file(spk_session *s, FILE *f, const spk_json_options *opts);

/* Writing: one object per row, keys in column order, strings escaped
 * (", \\ and control characters: \b \f \n \r \t, the others as
 * \u00XX; other UTF-8 passed through), BIGINT and INT as
 * integers, DOUBLE as Spark prints it (NaN and the infinities, which JSON
 * has no number for, as the strings "NaN", "Infinity", "-Infinity"),
 * DECIMAL as a number with its scale, DATE and TIMESTAMP as strings
 * ("2024-02-29", "2024-01-02 03:04:05.123456", as spk_value_format writes them),
 * BOOLEAN as true/false. NULL fields are left out, as Spark's
 * ignoreNullFields does, unless `write_nulls`. Reading the output with the
 * same schema gives the same rows. A string that is not UTF-8 cannot be
 * JSON text: SPK_ERR_ARG naming its row and column; two columns of one name
 * (ignoring case) would be a duplicate key: SPK_ERR_ANALYSIS. Lines end in
 * \n. The string form is NUL-terminated (free with spk_string_free); *len
 * (may be NULL) gets its length. */
typedef struct spk_json_write_options {
    bool write_nulls;    /* write "key":null for NULL fields */
    spk_write_mode mode; /* to a path (io.h): SPK_WRITE_ERROR (0), APPEND, OVERWRITE, IGNORE */
} spk_json_write_options;

SPKDEF spk_status spk_write_json(spk_df *df, const char *path, const spk_json_write_options *opts);
SPKDEF spk_status spk_write_json_file(spk_df *df, FILE *f, const spk_json_write_options *opts); /* mode ignored */
SPKDEF spk_status spk_write_json_string(spk_df *df, const spk_json_write_options *opts, char **out, size_t *len);
