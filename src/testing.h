/* testing: fixtures and DataFrame assertions for C unit tests, usable from
 * any test framework (PySpark's assertDataFrameEqual and
 * assertSchemaEqual). A fixture is one string literal:
 *   spk_df_from_fixture(s, "id INT, name STRING, amount DECIMAL(10,2)\n"
 *                          "1,Alice,10.50\n"
 *                          "2,NULL,3.00")
 * (plan.h; rows as spk_table_append_text reads them, errors naming line and
 * column). The assertions are plain functions returning a status and a
 * message; the SPK_ASSERT_ macros print that message with file and line. */

typedef struct spk_df_equal_options {
    bool check_row_order;     /* rows must come in the same order (default: any order, as PySpark's checkRowOrder=False) */
    bool ignore_column_order; /* match columns by name, not position */
    bool check_nullable;      /* the schemas must agree on nullability too (default: ignored, as PySpark's ignoreNullable=True) */
    double rtol, atol;        /* DOUBLE values a, e are equal when |a - e| <= atol + rtol * |e|
                               * (NaN equals NaN); both 0: PySpark's 1e-5 and 1e-8 */
    bool exact;               /* DOUBLE values compared exactly (rtol and atol ignored) */
    int max_rows;             /* rows of each side a message shows; 0: 20 */
} spk_df_equal_options;

/* Runs both DataFrames and compares schemas (names, types, and nullability
 * if asked) and rows. SPK_OK when equal. SPK_ERR_ASSERTION when not, and
 * *message (if not NULL) gets the report, to free with spk_string_free:
 * the two schemas when they differ; otherwise the rows found only in actual
 * and only in expected, side by side in show() style (with their row
 * numbers, from 0, when order is checked), at most max_rows of each, and how
 * many were left out. Its first line ("[DIFFERENT_ROWS] 1 row only in
 * actual, 1 row only in expected (999 rows match)") is also spk_last_error().
 * In any order, rows compare as multisets: [1,1,2] and [1,2,2] differ. The
 * tolerance applies to DOUBLE columns only; other values (DECIMAL included)
 * compare exactly, by value. Any other status is a failure to run a
 * DataFrame, or SPK_ERR_ARG for a NULL one, a negative or non-finite rtol
 * or atol, or a negative max_rows (the error is in spk_last_error(),
 * *message is NULL). opts NULL: defaults. */
SPKDEF spk_status spk_assert_df_equal(spk_df *actual, spk_df *expected, const spk_df_equal_options *opts, char **message);
SPKDEF spk_status spk_assert_schema_equal(const spk_schema *actual, const spk_schema *expected,
                                          const spk_df_equal_options *opts, char **message);

/* For test code: true when equal; otherwise prints "file:line: " and the
 * report (or the error) to stderr and returns false. */
SPKDEF bool spk_assert_df_equal_at(spk_df *actual, spk_df *expected, const spk_df_equal_options *opts, const char *file,
                                   int line);
SPKDEF bool spk_assert_schema_equal_at(const spk_schema *actual, const spk_schema *expected,
                                       const spk_df_equal_options *opts, const char *file, int line);
#define SPK_ASSERT_DF_EQUAL(actual, expected, opts) spk_assert_df_equal_at((actual), (expected), (opts), __FILE__, __LINE__)
#define SPK_ASSERT_SCHEMA_EQUAL(actual, expected, opts)                                                               \
    spk_assert_schema_equal_at((actual), (expected), (opts), __FILE__, __LINE__)
