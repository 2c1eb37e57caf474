/* io: what the file readers and writers share — how a reader meets a
 * malformed record (Spark's parse modes) and where bytes come from and go.
 * The formats are in csv.h and jsonl.h.
 *
 * Readers load eagerly: they return a DataFrame over a table that holds
 * every row read (spk_df_from_table), so the input may go away afterwards.
 * They read a path, a memory buffer or a FILE* open for reading. Errors
 * name the input ("path" or "<buffer>" / "<FILE*>"), the line (1-based,
 * counting every line of the input) and, where one is to blame, the column
 * (1-based, as a person counts characters: bytes of UTF-8 sequences count once)
 * and its name:
 *   "data.csv:3:7 (`amount`): cannot parse 'x1' as DECIMAL(10,2)". */

/* mode: what a reader does with a malformed record (a field that does not
 * parse as its column's type, too many or too few fields, a broken quote or
 * JSON text). */
typedef enum spk_read_mode {
    SPK_READ_PERMISSIVE,    /* "PERMISSIVE" (default): bad fields become NULL and the row is kept;
                             * with a corrupt-record column in the schema, the record's text goes there */
    SPK_READ_DROPMALFORMED, /* "DROPMALFORMED": the record is dropped */
    SPK_READ_FAILFAST       /* "FAILFAST": the read fails with SPK_ERR_PARSE naming input, line and column */
} spk_read_mode;

/* "PERMISSIVE", "DROPMALFORMED", "FAILFAST" (any case) -> the mode; NULL is
 * PERMISSIVE; anything else is SPK_ERR_ARG naming the three. */
SPKDEF spk_status spk_read_mode_parse(const char *text, spk_read_mode *out);

/* Writers take spk_write_mode (backend.h): to a path, SPK_WRITE_ERROR fails
 * with SPK_ERR_EXISTS when the file exists, SPK_WRITE_IGNORE then writes
 * nothing, SPK_WRITE_APPEND adds rows at its end (a CSV header only when the
 * file was empty or missing), SPK_WRITE_OVERWRITE replaces it whole — the
 * new content goes to a temporary file in the same directory that is
 * renamed over the old one, so a reader sees the old file or the new, never
 * half of one. Spark writes a directory of part files; sparkless writes one
 * file. The insert modes are SPK_ERR_ARG. Whether the file exists is
 * checked when the write starts (a file created meanwhile by someone else
 * is replaced by the rename). */
