/* csv: reading and writing CSV (spark.read.csv, df.write.csv).
 *
 * Reading. A record is a line; with `multiline`, a quoted field may hold
 * line breaks and a record runs to the first line break outside quotes.
 * Lines end in \n, \r\n or \r. A UTF-8 byte-order mark at the start is
 * skipped. Blank lines (empty, or only spaces: ' ', \t, \f, \v other than
 * the delimiter) are skipped -- except where a record has one field (one
 * column to fill): there an empty line is a record, a NULL, so that such
 * rows written out read back. Fields are split at `delimiter`; a field
 * that starts with `quote` runs to the closing quote, inside which the
 * delimiter and line breaks are text, `escape` followed by a character is
 * that character, and (as RFC 4180 writes it) a doubled quote is one
 * quote; spaces after the closing quote are skipped. Outside quotes the
 * quote and escape characters are text. A field equal to `null_value`
 * (compared before unquoting, so "NA" quoted is the string NA) is NULL; an
 * unquoted empty field is NULL too, whatever null_value is (as Spark reads
 * it); a quoted empty field "" is the empty string. Bytes are kept as they
 * are (UTF-8 or not).
 *
 * Columns. With `schema`, fields map to its columns in order; the result's
 * columns are nullable (as Spark reads files) whatever the schema says.
 * Without one the names are the header's (header = true) or _c0, _c1, ...,
 * the number of columns is the first record's, and the types are STRING,
 * or with `infer_schema` inferred from the first `sample_rows` records (0:
 * all) by Spark's rules: each column takes the narrowest type every
 * non-NULL sample parses as, in the order INT, BIGINT, DOUBLE (DECIMAL is
 * not inferred: integers beyond BIGINT are DOUBLE), with BOOLEAN
 * (true/false, any case), DATE (yyyy-mm-dd) and TIMESTAMP (yyyy-mm-dd
 * hh:mm:ss[.ffffff], or another form spk_value_parse reads) taken only
 * when every sample is one (a DATE sample among TIMESTAMPs is one), and
 * STRING otherwise; a column of only NULLs is STRING. A header's empty (or
 * null_value) names become _c<index>, and each of several names equal
 * ignoring case (exactly, in a case-sensitive session) name<index>, as
 * Spark renames them; a renamed column that meets another name is kept
 * twice, as in Spark.
 *
 * Malformed records (a field that does not parse as its type, more or
 * fewer fields than columns, a quote left open at the end of the line --
 * with multiline, of the input -- or text between a closing quote and the
 * delimiter) go by `mode` (io.h). In PERMISSIVE mode, missing fields are
 * NULL, extra fields are dropped, bad fields are NULL, and if
 * `corrupt_column` names a STRING column of the schema, that column holds
 * the malformed record's text (and NULL for good records); the column
 * takes no field of the input. FAILFAST fails with SPK_ERR_PARSE:
 *   "<input>:<line>:<column> (`name`): cannot parse '<text>' as <TYPE>"
 *   "<input>:<line>:<column> (`name`): <n> fields, expected <m>"   (too few: at the end, the first missing column)
 *   "<input>:<line>:<column>: <n> fields, expected <m>"            (too many: at the first extra field)
 *   "<input>:<line>:<column> (`name`): unterminated quote"         (at the opening quote)
 *   "<input>:<line>:<column> (`name`): unexpected 'x' after a closing quote"
 * Lines count every line of the input (those inside quoted fields too).
 *
 * Large inputs are parsed in parallel on the session's threads, in slices
 * cut at line breaks (with `multiline`, at line breaks outside quotes);
 * the rows keep the input's order. Types are checked as spk_value_parse
 * reads them (spk_type_parse names: INT, BIGINT, DOUBLE, DECIMAL(p,s),
 * BOOLEAN, DATE, TIMESTAMP, STRING). */

typedef struct spk_csv_options {
    bool header;           /* the first record holds column names (with a schema: it is skipped) */
    char delimiter;        /* sep; 0: ',' */
    char quote;            /* 0: '"' */
    char escape;           /* 0: '\\' */
    bool multiline;        /* multiLine: quoted fields may hold line breaks */
    const char *null_value;   /* nullValue; NULL: "" */
    const spk_schema *schema; /* borrowed; NULL: names from the header or _cN, types as below */
    bool infer_schema;     /* inferSchema: infer types from the sample (else STRING) */
    size_t sample_rows;    /* records inference reads; 0: all */
    spk_read_mode mode;    /* PERMISSIVE (0), DROPMALFORMED, FAILFAST */
    const char *corrupt_column; /* columnNameOfCorruptRecord: a STRING column of `schema`, or NULL */
    bool ignore_leading_space, ignore_trailing_space; /* trim unquoted fields (ignoreLeading/TrailingWhiteSpace) */
} spk_csv_options;

/* Reads CSV into a DataFrame of session s (opts NULL: the defaults). NULL
 * on error, with the error in spk_last_error(): SPK_ERR_IO for a file that
 * cannot be read, SPK_ERR_PARSE for FAILFAST, SPK_ERR_ARG for bad options
 * (a delimiter equal to the quote, a delimiter, quote or escape that is a
 * line break, an unknown mode, a corrupt_column that is not a STRING
 * column of the schema or comes without a schema); option errors come
 * before the input is read. */
SPKDEF spk_df *spk_read_csv(spk_session *s, const char *path, const spk_csv_options *opts);
SPKDEF spk_df *spk_read_csv_buffer(spk_session *s, const void *data, size_t len, const spk_csv_options *opts);
SPKDEF spk_df *spk_read_csv_file(spk_session *s, FILE *f, const spk_csv_options *opts);

/* Writing. Values print as spk_value_format writes them (doubles as Spark
 * prints them, shortest text that reads back exactly; NaN, Infinity,
 * -Infinity), so that reading the output with the same schema (multiline
 * when strings hold line breaks) gives the same rows. A field is quoted
 * only when it must be: it holds the delimiter, the quote, the escape, a
 * line break, leading or trailing space, starts with a byte-order mark, is
 * empty (the empty string is written "", NULL as null_value), or equals
 * null_value. Inside quotes the quote and escape characters are escaped
 * with `escape`. Lines end in \n. A null_value holding the delimiter, the
 * quote or a line break would not read back: SPK_ERR_ARG. */
typedef struct spk_csv_write_options {
    bool header;        /* write the column names first */
    char delimiter;     /* 0: ',' */
    char quote;         /* 0: '"' */
    char escape;        /* 0: '\\' */
    const char *null_value; /* NULL: "" */
    spk_write_mode mode;    /* to a path (io.h): SPK_WRITE_ERROR (0), APPEND, OVERWRITE, IGNORE */
} spk_csv_write_options;

/* Runs df and writes its rows (opts NULL: the defaults). */
SPKDEF spk_status spk_write_csv(spk_df *df, const char *path, const spk_csv_write_options *opts);
SPKDEF spk_status spk_write_csv_file(spk_df *df, FILE *f, const spk_csv_write_options *opts); /* mode ignored */
/* Into a NUL-terminated string (free with spk_string_free); *len (may be NULL) gets its length. */
SPKDEF spk_status spk_write_csv_string(spk_df *df, const spk_csv_write_options *opts, char **out, size_t *len);
