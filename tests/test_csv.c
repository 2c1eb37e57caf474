/* test_csv: the CSV reader and writer (csv.h). A corpus of tricky files in
 * tests/data/csv (each <case>.expected names its input, the options, and
 * the schema and rows, or the error, expected), read at every thread count
 * with slices of a few bytes so that every cut path is taken; round trips
 * of every type through the writer in several dialects; malformed records
 * in the three modes; inference; header renaming; option errors; a large
 * input read in parallel at 1, 2 and 4 threads; paths, FILE* and the write
 * modes. Runs from the repository root. */
#define _POSIX_C_SOURCE 200809L
#include "test.h"
#include <math.h>
#include <float.h>

static spk_session *new_session(int threads) {
    spk_session_options o;
    memset(&o, 0, sizeof o);
    o.threads = threads;
    spk_session *s = NULL;
    if (spk_session_new(&o, &s) != SPK_OK) {
        fprintf(stderr, "no session: %s\n", spk_last_error());
        abort();
    }
    return s;
}

/* ---------------------------------------------------------------- rendering */

/* A value as the .expected files write it: NULL, strings quoted with C
 * escapes (bytes outside printable ASCII as \xhh), the rest as formatted. */
static void render_value(sbuf *b, const spk_value *v) {
    if (v->is_null) {
        sb_str(b, "NULL");
        return;
    }
    if (v->type.id != SPK_TYPE_STRING) {
        char buf[SPK_VALUE_TEXT_MAX];
        spk_value_format(v, buf, sizeof buf);
        sb_str(b, buf);
        return;
    }
    sb_str(b, "\"");
    for (size_t i = 0; i < v->as.str.len; i++) {
        unsigned char c = (unsigned char)v->as.str.ptr[i];
        char e[8];
        if (c == '\\') sb_str(b, "\\\\");
        else if (c == '"') sb_str(b, "\\\"");
        else if (c == '\n') sb_str(b, "\\n");
        else if (c == '\r') sb_str(b, "\\r");
        else if (c == '\t') sb_str(b, "\\t");
        else if (c < 0x20 || c >= 0x7f) {
            snprintf(e, sizeof e, "\\x%02x", c);
            sb_str(b, e);
        } else {
            e[0] = (char)c;
            sb_put(b, e, 1);
        }
    }
    sb_str(b, "\"");
}

/* One line per row: "v, v, v\n". Free the result. */
static char *render_table(const spk_table *t) {
    sbuf b = {NULL, 0, 0};
    sb_str(&b, "");
    int ncols = spk_schema_ncols(spk_table_schema(t));
    spk_cursor c;
    spk_cursor_open(&c, t);
    while (spk_cursor_next(&c)) {
        for (int i = 0; i < ncols; i++) {
            spk_value v;
            if (i) sb_str(&b, ", ");
            if (spk_cursor_get(&c, i, &v) != SPK_OK) sb_str(&b, "<get failed>");
            else render_value(&b, &v);
        }
        sb_str(&b, "\n");
    }
    return b.p;
}

/* The rows of df rendered, or NULL (the error shown) when it does not collect. */
static char *render_df(spk_df *df) {
    spk_table *t = NULL;
    if (!df || spk_df_collect(df, &t) != SPK_OK) {
        fprintf(stderr, "collect failed: %s\n", spk_last_error());
        return NULL;
    }
    char *text = render_table(t);
    spk_table_free(t);
    return text;
}

static char *ddl_of(spk_df *df) {
    static char buf[4096];
    buf[0] = '\0';
    if (df) spk_schema_ddl(spk_df_schema(df), buf, sizeof buf);
    return buf;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    sbuf b = {NULL, 0, 0};
    sb_str(&b, "");
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) sb_put(&b, chunk, n);
    fclose(f);
    if (len) *len = b.len;
    return b.p;
}

static bool write_file(const char *path, const char *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    bool ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

/* ---------------------------------------------------------------- the corpus */

#define CORPUS "tests/data/csv/"

static const char *const corpus_cases[] = {
    "quoting", "multiline", "multiline_off", "multiline_failfast", "bom_crlf", "lone_cr", "blank_lines",
    "trailing_delim", "malformed_permissive", "malformed_permissive_plain", "malformed_drop", "malformed_failfast",
    "failfast_count", "failfast_extra", "failfast_quote", "failfast_junk", "failfast_utf8", "non_utf8", "empty",
    "empty_header", "empty_schema", "header_only", "null_values", "single_quote", "tabs_spaces", "tabs_untrimmed",
    "header_dupes", "infer_types", "infer_sample", "infer_sample3", "infer_sample_all", "single_column",
    "unterminated_multiline", "escape_is_quote", "untrimmed",
};

/* A character option value: one character, or \t. */
static char option_char(const char *v) { return strcmp(v, "\\t") == 0 ? '\t' : v[0]; }

/* Reads <case>.expected and checks the read it describes. */
static void run_corpus_case(spk_session *s, const char *name) {
    char path[512], input[512], nulls[64] = "", corrupt[64] = "", *schema_ddl = NULL;
    snprintf(path, sizeof path, CORPUS "%s.expected", name);
    char *spec = read_file(path, NULL);
    if (!spec) {
        failf(__FILE__, __LINE__, "%s: cannot read", path);
        return;
    }
    snprintf(input, sizeof input, CORPUS "%s.csv", name);
    spk_csv_options o;
    memset(&o, 0, sizeof o);
    const char *result = NULL, *error = NULL;
    sbuf rows = {NULL, 0, 0};
    sb_str(&rows, "");
    bool in_rows = false;
    for (char *line = spec, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        if (in_rows) {
            sb_str(&rows, line);
            sb_str(&rows, "\n");
        } else if (line[0] == '#' || !line[0]) {
            continue;
        } else if (strncmp(line, "input: ", 7) == 0) {
            snprintf(input, sizeof input, CORPUS "%s", line + 7);
        } else if (strncmp(line, "schema: ", 8) == 0) {
            schema_ddl = line + 8;
        } else if (strncmp(line, "result:", 7) == 0) {
            result = line[7] ? line + 8 : "";
        } else if (strncmp(line, "error: ", 7) == 0) {
            error = line + 7;
        } else if (strcmp(line, "rows:") == 0) {
            in_rows = true;
        } else if (strncmp(line, "options:", 8) == 0) {
            for (char *tok = strtok(line + 8, " "); tok; tok = strtok(NULL, " ")) {
                char *eq = strchr(tok, '=');
                const char *v = eq ? eq + 1 : "";
                if (eq) *eq = '\0';
                if (strcmp(tok, "header") == 0) o.header = true;
                else if (strcmp(tok, "multiline") == 0) o.multiline = true;
                else if (strcmp(tok, "infer") == 0) o.infer_schema = true;
                else if (strcmp(tok, "trim_leading") == 0) o.ignore_leading_space = true;
                else if (strcmp(tok, "trim_trailing") == 0) o.ignore_trailing_space = true;
                else if (strcmp(tok, "sample") == 0) o.sample_rows = (size_t)atol(v);
                else if (strcmp(tok, "delimiter") == 0) o.delimiter = option_char(v);
                else if (strcmp(tok, "quote") == 0) o.quote = option_char(v);
                else if (strcmp(tok, "escape") == 0) o.escape = option_char(v);
                else if (strcmp(tok, "null") == 0) o.null_value = strcpy(nulls, v);
                else if (strcmp(tok, "corrupt") == 0) o.corrupt_column = strcpy(corrupt, v);
                else if (strcmp(tok, "mode") == 0) CHECK_OK(spk_read_mode_parse(v, &o.mode));
                else failf(__FILE__, __LINE__, "%s: unknown option '%s'", path, tok);
            }
        } else {
            failf(__FILE__, __LINE__, "%s: unexpected line '%s'", path, line);
        }
    }
    spk_schema *schema = NULL;
    if (schema_ddl) CHECK_OK(spk_schema_parse(NULL, schema_ddl, &schema));
    o.schema = schema;
    spk_df *df = spk_read_csv(s, input, &o);
    if (error) {
        if (df) failf(__FILE__, __LINE__, "%s: read, expected the error %s", name, error);
        char got[SPK_ERROR_MAX + 64];
        snprintf(got, sizeof got, "%s %s", spk_status_name(spk_last_status()), spk_last_error());
        if (strcmp(got, error) != 0) failf(__FILE__, __LINE__, "%s:\n  got:      %s\n  expected: %s", name, got, error);
    } else if (!df) {
        failf(__FILE__, __LINE__, "%s: %s", name, spk_last_error());
    } else {
        if (!result || strcmp(ddl_of(df), result) != 0)
            failf(__FILE__, __LINE__, "%s: schema\n  got:      %s\n  expected: %s", name, ddl_of(df),
                  result ? result : "?");
        char *got = render_df(df);
        if (!got || strcmp(got, rows.p) != 0)
            failf(__FILE__, __LINE__, "%s: rows\n--- got:\n%s--- expected:\n%s", name, got ? got : "(none)\n", rows.p);
        free(got);
    }
    spk_df_release(df);
    spk_schema_release(schema);
    free(rows.p);
    free(spec);
}

static void test_corpus(void) {
    /* Every thread count, every run but the first with slices of a few bytes. */
    FOR_EACH_THREAD_COUNT(i) {
        spk_session *s = new_session(0);
        for (size_t k = 0; k < sizeof corpus_cases / sizeof corpus_cases[0]; k++) run_corpus_case(s, corpus_cases[k]);
        spk_session_free(s);
    }
}

/* ---------------------------------------------------------------- helpers for inline cases */

/* Reads text with options o (schema from DDL when not NULL) and returns
 * "<ddl>\n<rows>" or "ERROR <status> <message>"; free it. */
static char *read_text(spk_session *s, const char *text, size_t len, spk_csv_options o, const char *ddl) {
    spk_schema *schema = NULL;
    if (ddl && spk_schema_parse(NULL, ddl, &schema) != SPK_OK) return NULL;
    if (ddl) o.schema = schema;
    spk_df *df = spk_read_csv_buffer(s, text, len == (size_t)-1 ? strlen(text) : len, &o);
    sbuf b = {NULL, 0, 0};
    sb_str(&b, "");
    if (!df) {
        sb_str(&b, "ERROR ");
        sb_str(&b, spk_status_name(spk_last_status()));
        sb_str(&b, " ");
        sb_str(&b, spk_last_error());
    } else {
        char *rows = render_df(df);
        sb_str(&b, ddl_of(df));
        sb_str(&b, "\n");
        sb_str(&b, rows ? rows : "<collect failed>");
        free(rows);
    }
    spk_df_release(df);
    spk_schema_release(schema);
    return b.p;
}

#define CHECK_READ(s, text, opts, ddl, expected)                                           \
    do {                                                                                   \
        char *got_ = read_text((s), (text), (size_t)-1, (opts), (ddl));                    \
        CHECK_STR(got_, (expected));                                                       \
        free(got_);                                                                        \
    } while (0)

static spk_csv_options opts_none(void) {
    spk_csv_options o;
    memset(&o, 0, sizeof o);
    return o;
}

/* ---------------------------------------------------------------- round trips */

/* Every type, with the extremes and the strings that need quoting. */
static spk_df *all_types_df(spk_session *s, spk_schema **schema_out) {
    spk_schema *schema = NULL;
    if (spk_schema_parse(NULL,
                         "b BOOLEAN, i INT, l BIGINT, d DOUBLE, m DECIMAL(18,4), z DECIMAL(5,0), dt DATE, "
                         "ts TIMESTAMP, s STRING",
                         &schema) != SPK_OK)
        return NULL;
    static const char *const strings[] = {
        "", "plain", "a,b", "q\"uote", "back\\slash", "new\nline", "cr\rx", "crlf\r\n", " lead", "trail ", "\ttab",
        "unicode \xe6\x97\xa5\xe6\x9c\xac \xc3\xa9", "NULL", "NA", "\\N", ("\xef\xbb\xbf" "bom"), "x|y", "it's", "'",
        "\"", "\"\"", ",", "\n", " ", "tab\tin", "semi;colon", "\xff\xfe raw bytes"};
    int32_t dates[6];
    int64_t stamps[6] = {0, 0, 0, 0, INT64_MIN, INT64_MAX};
    spk_date_from_ymd(1, 1, 1, &dates[0]);
    spk_date_from_ymd(9999, 12, 31, &dates[1]);
    spk_date_from_ymd(-44, 3, 15, &dates[2]);
    spk_date_from_ymd(12345, 6, 7, &dates[3]);
    spk_date_from_ymd(294247, 12, 31, &dates[4]); /* the range spk_value_parse reads */
    spk_date_from_ymd(-290308, 1, 1, &dates[5]);
    spk_timestamp_from_parts(2020, 2, 29, 23, 59, 59, 999999, &stamps[0]);
    spk_timestamp_from_parts(1969, 12, 31, 23, 59, 59, 500000, &stamps[1]);
    spk_timestamp_from_parts(1, 1, 1, 0, 0, 0, 1, &stamps[2]);
    spk_timestamp_from_parts(9999, 12, 31, 12, 0, 0, 0, &stamps[3]);
    const double doubles[] = {NAN,  INFINITY, -INFINITY,      -0.0, 0.0, 4.9e-324,
                              DBL_MAX, 0.1, 1e22, -123456789.123, 1e-4, 1e7};
    const int64_t longs[] = {INT64_MIN, INT64_MAX, 0, -1};
    const int32_t ints[] = {INT32_MIN, INT32_MAX, 0, -7};
    const int64_t decs[] = {999999999999999999LL, -999999999999999999LL, 1, 0};
    enum { ROWS = sizeof strings / sizeof strings[0] + 2 };
    spk_value *v = (spk_value *)calloc((size_t)ROWS * 9, sizeof *v);
    for (int r = 0; r < ROWS; r++) {
        spk_value *row = v + r * 9;
        bool nulls = r == ROWS - 1; /* the last row: every value NULL */
        row[0] = nulls ? spk_value_null() : spk_value_bool(r % 2);
        row[1] = nulls ? spk_value_null() : spk_value_i32(ints[r % 4]);
        row[2] = nulls ? spk_value_null() : spk_value_i64(longs[r % 4]);
        row[3] = nulls ? spk_value_null() : spk_value_f64(doubles[r % 12]);
        row[4] = nulls ? spk_value_null() : spk_value_decimal(decs[r % 4], 18, 4);
        row[5] = nulls ? spk_value_null() : spk_value_decimal(r % 2 ? 99999 : -99999, 5, 0);
        row[6] = nulls ? spk_value_null() : spk_value_date(dates[r % 6]);
        row[7] = nulls ? spk_value_null() : spk_value_timestamp(stamps[r % 6]);
        row[8] = nulls || r == ROWS - 2 ? spk_value_null() : spk_value_str(strings[r]);
    }
    spk_df *df = spk_df_from_rows(s, schema, v, ROWS);
    free(v);
    *schema_out = schema;
    return df;
}

/* Writes df in a dialect, reads it back with its schema, and compares. */
static void round_trip(spk_session *s, spk_df *df, spk_schema *schema, spk_csv_write_options w, bool header) {
    w.header = header;
    char *csv = NULL;
    size_t len = 0;
    CHECK_OK(spk_write_csv_string(df, &w, &csv, &len));
    if (!csv) return;
    spk_csv_options o = opts_none();
    o.header = header;
    o.multiline = true;
    o.delimiter = w.delimiter;
    o.quote = w.quote;
    o.escape = w.escape;
    o.null_value = w.null_value;
    o.schema = schema;
    o.mode = SPK_READ_FAILFAST;
    spk_df *back = spk_read_csv_buffer(s, csv, len, &o);
    if (!back) failf(__FILE__, __LINE__, "does not read back: %s\n%s", spk_last_error(), csv);
    char *a = render_df(df), *b = back ? render_df(back) : NULL;
    if (!a || !b || strcmp(a, b) != 0)
        failf(__FILE__, __LINE__,
              "round trip (delimiter '%c', null '%s', header %d) changed the rows:\n%s---\n%s---\n%s",
              w.delimiter ? w.delimiter : ',', w.null_value ? w.null_value : "", header, a ? a : "", b ? b : "", csv);
    free(a);
    free(b);
    spk_df_release(back);
    spk_string_free(csv);
}

static void test_round_trip_types(void) {
    spk_session *s = new_session(1);
    spk_schema *schema = NULL;
    spk_df *df = all_types_df(s, &schema);
    CHECK(df != NULL);
    if (df) {
        struct {
            char delimiter, quote, escape;
            const char *null_value;
        } dialects[] = {{0, 0, 0, NULL}, {'|', '\'', '\'', "NA"}, {'\t', 0, 0, "\\N"}, {';', '\'', '\\', "null"},
                        {',', '"', '"', NULL}};
        for (size_t i = 0; i < sizeof dialects / sizeof dialects[0]; i++)
            for (int header = 0; header < 2; header++) {
                spk_csv_write_options w;
                memset(&w, 0, sizeof w);
                w.delimiter = dialects[i].delimiter;
                w.quote = dialects[i].quote;
                w.escape = dialects[i].escape;
                w.null_value = dialects[i].null_value;
                round_trip(s, df, schema, w, header);
            }
    }
    spk_df_release(df);
    spk_schema_release(schema);
    spk_session_free(s);
}

/* A one-column NULL row is an empty line, which reads back as NULL. */
static void test_round_trip_one_column(void) {
    spk_session *s = new_session(1);
    spk_df *df = spk_df_from_fixture(s, "v INT\n1\nNULL\n2\nNULL");
    spk_csv_write_options w;
    memset(&w, 0, sizeof w);
    char *csv = NULL;
    CHECK_OK(spk_write_csv_string(df, &w, &csv, NULL));
    CHECK_STR(csv, "1\n\n2\n\n");
    spk_schema *schema = NULL;
    spk_schema_parse(NULL, "v INT", &schema);
    round_trip(s, df, schema, w, false);
    round_trip(s, df, schema, w, true);
    spk_string_free(csv);
    spk_df_release(df);
    spk_schema_release(schema);
    spk_session_free(s);
}

/* The writer quotes only what needs it; NULL is null_value, "" is quoted. */
/* Text handed to the caller may hold a NUL, or be cut short by the caller:
 * spk_string_free must still give back the block it was (under ASan the
 * default allocator checks the size of every free). */
static void test_written_text_with_nul(void) {
    spk_session *s = new_session(1);
    spk_schema *schema = NULL;
    CHECK_OK(spk_schema_parse(NULL, "s STRING", &schema));
    spk_value v[2] = {spk_value_strn("a\0b", 3), spk_value_str("tail")};
    spk_df *df = spk_df_from_rows(s, schema, v, 2);
    CHECK(df != NULL);
    char *csv = NULL;
    size_t len = 0;
    spk_csv_write_options w;
    memset(&w, 0, sizeof w);
    CHECK_OK(spk_write_csv_string(df, &w, &csv, &len));
    CHECK_EQ_INT(len, 9);
    CHECK(csv && memcmp(csv, "a\0b\ntail\n", 10) == 0);
    spk_string_free(csv);
    char *shown = NULL;
    CHECK_OK(spk_df_show_string(df, 5, 20, false, &shown));
    if (shown) shown[1] = '\0'; /* the caller's to change */
    spk_string_free(shown);
    /* a large text, past the size from which the default allocator keeps blocks */
    spk_df *range = spk_df_range(s, 0, 50000, 1);
    spk_df *big = range ? spk_df_select_expr(range, 1, "rpad('x', 20, 'x') AS s") : NULL;
    CHECK(big != NULL);
    CHECK_OK(spk_write_csv_string(big, &w, &csv, &len));
    CHECK_EQ_INT(len, 50000 * 21);
    if (csv) csv[3] = '\0';
    spk_string_free(csv);
    spk_df_release(big);
    spk_df_release(range);
    spk_df_release(df);
    spk_schema_release(schema);
    spk_session_free(s);
}

static void test_writer_text(void) {
    spk_session *s = new_session(1);
    spk_df *df = spk_df_from_fixture(s, "n INT, s STRING, d DOUBLE, dt DATE\n"
                                        "1,plain,1.5,2020-01-02\n"
                                        "NULL,\"\",NULL,NULL\n"
                                        "3,\"a,b\",1e300,NULL\n"
                                        "4,\"say \"\"hi\"\"\",-0.0,NULL\n"
                                        "5,\" lead\",NULL,NULL");
    CHECK(df != NULL);
    char *csv = NULL;
    size_t len = 0;
    spk_csv_write_options w;
    memset(&w, 0, sizeof w);
    w.header = true;
    CHECK_OK(spk_write_csv_string(df, &w, &csv, &len));
    CHECK_STR(csv, "n,s,d,dt\n1,plain,1.5,2020-01-02\n,\"\",,\n3,\"a,b\",1.0E300,\n4,\"say \\\"hi\\\"\",-0.0,\n"
                   "5,\" lead\",,\n");
    CHECK_EQ_INT(len, csv ? strlen(csv) : 0);
    spk_string_free(csv);
    /* another dialect: the quote and escape doubled, null_value NA, a field equal to it quoted */
    spk_df *df2 = spk_df_from_fixture(s, "a STRING, b STRING\nNA,NULL\nit's,x;y\n");
    w.header = false;
    w.delimiter = ';';
    w.quote = '\'';
    w.escape = '\'';
    w.null_value = "NA";
    CHECK_OK(spk_write_csv_string(df2, &w, &csv, NULL));
    CHECK_STR(csv, "'NA';NA\n'it''s';'x;y'\n");
    spk_string_free(csv);
    /* a delimiter that appears in formatted values: dates with '-' are quoted */
    w.delimiter = '-';
    w.quote = 0;
    w.escape = 0;
    w.null_value = NULL;
    CHECK_OK(spk_write_csv_string(df, &w, &csv, NULL));
    CHECK_STR(csv, "1-plain-1.5-\"2020-01-02\"\n-\"\"--\n3-a,b-1.0E300-\n"
                   "4-\"say \\\"hi\\\"\"-\"-0.0\"-\n5-\" lead\"--\n");
    spk_string_free(csv);
    /* options that cannot read back */
    w.delimiter = ',';
    w.null_value = "a,b";
    CHECK_STATUS(spk_write_csv_string(df, &w, &csv, NULL), SPK_ERR_ARG);
    CHECK_CONTAINS(spk_last_error(), "null_value");
    w.null_value = NULL;
    w.quote = ',';
    CHECK_STATUS(spk_write_csv_string(df, &w, &csv, NULL), SPK_ERR_ARG);
    CHECK_STATUS(spk_write_csv_string(NULL, NULL, &csv, NULL), SPK_ERR_ARG);
    CHECK_STATUS(spk_write_csv_string(df, NULL, NULL, NULL), SPK_ERR_ARG);
    CHECK_STATUS(spk_write_csv(NULL, "/tmp/x.csv", NULL), SPK_ERR_ARG);
    CHECK_STATUS(spk_write_csv_file(df, NULL, NULL), SPK_ERR_ARG);
    spk_df_release(df);
    spk_df_release(df2);
    spk_session_free(s);
}

/* ---------------------------------------------------------------- reading, inline cases */

static void test_modes(void) {
    spk_session *s = new_session(1);
    const char *text = "a,b\n1,x\n2\n3,y,z\n4,\"w\"\nfive,v\n";
    spk_csv_options o = opts_none();
    o.header = true;
    CHECK_READ(s, text, o, "a INT, b STRING", "a INT, b STRING\n1, \"x\"\n2, NULL\n3, \"y\"\n4, \"w\"\nNULL, \"v\"\n");
    o.mode = SPK_READ_DROPMALFORMED;
    CHECK_READ(s, text, o, "a INT, b STRING", "a INT, b STRING\n1, \"x\"\n4, \"w\"\n");
    o.mode = SPK_READ_FAILFAST;
    CHECK_READ(s, text, o, "a INT, b STRING", "ERROR SPK_ERR_PARSE <buffer>:3:2 (`b`): 1 fields, expected 2");
    CHECK_READ(s, "a,b\n1,x\nfive,v\n", o, "a INT, b STRING",
               "ERROR SPK_ERR_PARSE <buffer>:3:1 (`a`): cannot parse 'five' as INT");
    /* out of range, and a long text cut in the message */
    CHECK_READ(s, "a\n2147483648\n", o, "a INT",
               "ERROR SPK_ERR_PARSE <buffer>:2:1 (`a`): cannot parse '2147483648' as INT");
    char long_text[200];
    memset(long_text, 'z', sizeof long_text);
    long_text[0] = 'a', long_text[1] = '\n';
    long_text[sizeof long_text - 1] = '\0';
    char *got = read_text(s, long_text, (size_t)-1, o, "a INT");
    CHECK_CONTAINS(got, "cannot parse 'zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz...' as INT");
    free(got);
    /* DROPMALFORMED and FAILFAST with inference: records after the sample */
    o = opts_none();
    o.header = true;
    o.infer_schema = true;
    o.sample_rows = 1;
    o.mode = SPK_READ_DROPMALFORMED;
    CHECK_READ(s, "n\n1\nx\n3\n", o, NULL, "n INT\n1\n3\n");
    /* the corrupt column can be anywhere in the schema and takes no field */
    o = opts_none();
    o.corrupt_column = "bad";
    CHECK_READ(s, "1,2\n3,x\n", o, "bad STRING, a INT, b INT",
               "bad STRING, a INT, b INT\nNULL, 1, 2\n\"3,x\", 3, NULL\n");
    /* a NOT NULL column of the given schema reads NULLs: the result is nullable, as Spark reads files */
    o = opts_none();
    CHECK_READ(s, "1,\n,2\n", o, "a INT NOT NULL, b INT", "a INT, b INT\n1, NULL\nNULL, 2\n");
    spk_session_free(s);
}

static void test_multiline_lines(void) {
    spk_session *s = new_session(1);
    spk_csv_options o = opts_none();
    o.multiline = true;
    o.mode = SPK_READ_FAILFAST;
    /* the record after a three-line record is on line 4; a \r\n inside quotes is one line */
    CHECK_READ(s, "1,\"a\nb\r\nc\"\n2,x\n", o, "a INT, b INT",
               "ERROR SPK_ERR_PARSE <buffer>:1:3 (`b`): cannot parse 'a\nb\r\nc' as INT");
    CHECK_READ(s, "1,\"a\nb\r\nc\"\nx,2\n", o, "a INT, b STRING",
               "ERROR SPK_ERR_PARSE <buffer>:4:1 (`a`): cannot parse 'x' as INT");
    /* text after a quote that closes on a later line is blamed on that line */
    CHECK_READ(s, "1,\"a\nb\"c\n", o, "a INT, b STRING",
               "ERROR SPK_ERR_PARSE <buffer>:2:3 (`b`): unexpected 'c' after a closing quote");
    /* a quote left open runs to the end of the input */
    CHECK_READ(s, "1,ok\n\n2,\"open\n3,x\n", o, "a INT, b STRING",
               "ERROR SPK_ERR_PARSE <buffer>:3:3 (`b`): unterminated quote");
    /* an escaped line break inside quotes */
    o.mode = SPK_READ_PERMISSIVE;
    CHECK_READ(s, "1,\"a\\\nb\"\n2,c\n", o, "a INT, b STRING", "a INT, b STRING\n1, \"a\\nb\"\n2, \"c\"\n");
    /* blank lines inside quotes are text, outside they are skipped */
    CHECK_READ(s, "1,\"\n\n\"\n\n2,c\n", o, "a INT, b STRING", "a INT, b STRING\n1, \"\\n\\n\"\n2, \"c\"\n");
    spk_session_free(s);
}

static void test_inference(void) {
    spk_session *s = new_session(1);
    spk_csv_options o = opts_none();
    o.infer_schema = true;
    CHECK_READ(s, "1,1,1,1\n2,3000000000,3000000000,x\n3,4,1.5,2\n", o, NULL,
               "_c0 INT, _c1 BIGINT, _c2 DOUBLE, _c3 STRING\n1, 1, 1.0, \"1\"\n2, 3000000000, 3.0E9, \"x\"\n"
               "3, 4, 1.5, \"2\"\n");
    /* beyond BIGINT: DOUBLE (DECIMAL is not inferred) */
    CHECK_READ(s, "9223372036854775808\n1\n", o, NULL, "_c0 DOUBLE\n9.223372036854776E18\n1.0\n");
    /* booleans, dates and timestamps only when every sample is one */
    CHECK_READ(s, "true,2020-01-01,2020-01-01 00:00:00\nFalse,x,1\n", o, NULL,
               "_c0 BOOLEAN, _c1 STRING, _c2 STRING\ntrue, \"2020-01-01\", \"2020-01-01 00:00:00\"\n"
               "false, \"x\", \"1\"\n");
    CHECK_READ(s, "true,1\n1,true\n", o, NULL, "_c0 STRING, _c1 STRING\n\"true\", \"1\"\n\"1\", \"true\"\n");
    /* NULLs are not samples; a column of only NULLs is STRING; "" is a (string) sample */
    CHECK_READ(s, ",1,\n,,\"\"\n", o, NULL, "_c0 STRING, _c1 INT, _c2 STRING\nNULL, 1, NULL\nNULL, NULL, \"\"\n");
    o.null_value = "NA";
    CHECK_READ(s, "NA,1\n2,NA\n", o, NULL, "_c0 INT, _c1 INT\nNULL, 1\n2, NULL\n");
    o.null_value = NULL;
    /* sample_rows: only the first records are seen (the header is not one) */
    o.header = true;
    o.sample_rows = 2;
    CHECK_READ(s, "a,b\n1,x\n2,y\n3000000000,z\n", o, NULL, "a INT, b STRING\n1, \"x\"\n2, \"y\"\nNULL, \"z\"\n");
    o.sample_rows = 3;
    CHECK_READ(s, "a,b\n1,x\n2,y\n3000000000,z\n", o, NULL,
               "a BIGINT, b STRING\n1, \"x\"\n2, \"y\"\n3000000000, \"z\"\n");
    /* fields beyond the first record's count are not columns */
    o = opts_none();
    o.infer_schema = true;
    CHECK_READ(s, "1\n2,x\n", o, NULL, "_c0 INT\n1\n2\n");
    /* without infer_schema every column is STRING */
    o.infer_schema = false;
    CHECK_READ(s, "1,2020-01-01\n", o, NULL, "_c0 STRING, _c1 STRING\n\"1\", \"2020-01-01\"\n");
    spk_session_free(s);
}

static void test_header_names(void) {
    spk_session *s = new_session(1);
    spk_csv_options o = opts_none();
    o.header = true;
    CHECK_READ(s, "x,,x,y,X\n1,2,3,4,5\n", o, NULL,
               "x0 STRING, _c1 STRING, x2 STRING, y STRING, X4 STRING\n\"1\", \"2\", \"3\", \"4\", \"5\"\n");
    /* a renamed name may meet an existing one: both are kept, as Spark keeps them */
    CHECK_READ(s, "a,a,a0\n1,2,3\n", o, NULL, "a0 STRING, a1 STRING, a0 STRING\n\"1\", \"2\", \"3\"\n");
    /* quoted names, a quoted empty name */
    CHECK_READ(s, "\"first name\",\"\"\nx,y\n", o, NULL, "`first name` STRING, _c1 STRING\n\"x\", \"y\"\n");
    /* a case-sensitive session: only exact repeats are renamed */
    spk_session_options so;
    memset(&so, 0, sizeof so);
    so.threads = 1;
    so.case_sensitive = true;
    spk_session *cs = NULL;
    CHECK_OK(spk_session_new(&so, &cs));
    CHECK_READ(cs, "a,A,a\n1,2,3\n", o, NULL, "a0 STRING, A STRING, a2 STRING\n\"1\", \"2\", \"3\"\n");
    spk_session_free(cs);
    /* with a schema, the header is skipped and its names ignored */
    CHECK_READ(s, "\n\nwhatever,names\n1,2\n", o, "p INT, q INT", "p INT, q INT\n1, 2\n");
    spk_session_free(s);
}

static void test_dialects(void) {
    spk_session *s = new_session(1);
    spk_csv_options o = opts_none();
    o.delimiter = '|';
    CHECK_READ(s, "1|a,b|\"c|d\"\n", o, NULL, "_c0 STRING, _c1 STRING, _c2 STRING\n\"1\", \"a,b\", \"c|d\"\n");
    o.delimiter = '\t';
    o.ignore_leading_space = true;
    CHECK_READ(s, " 1\t  \"q\"\t x \n", o, NULL, "_c0 STRING, _c1 STRING, _c2 STRING\n\"1\", \"q\", \"x \"\n");
    o.ignore_leading_space = false;
    o.ignore_trailing_space = true;
    CHECK_READ(s, " 1\t  \"q\"\t x \n", o, NULL,
               "_c0 STRING, _c1 STRING, _c2 STRING\n\" 1\", \"  \\\"q\\\"\", \" x\"\n");
    /* a tab delimiter is not a space: a line of tabs is a record of empty fields */
    o = opts_none();
    o.delimiter = '\t';
    CHECK_READ(s, "a\tb\n\t\n", o, NULL, "_c0 STRING, _c1 STRING\n\"a\", \"b\"\nNULL, NULL\n");
    o = opts_none();
    o.quote = '\'';
    o.escape = '#';
    CHECK_READ(s, "'a#'b','c##d','e\"f'\n", o, NULL,
               "_c0 STRING, _c1 STRING, _c2 STRING\n\"a'b\", \"c#d\", \"e\\\"f\"\n");
    /* an escape outside quotes is text; escaping any character gives that character */
    o = opts_none();
    CHECK_READ(s, "a\\b,\"c\\d\"\n", o, NULL, "_c0 STRING, _c1 STRING\n\"a\\\\b\", \"cd\"\n");
    /* null_value variants */
    o.null_value = "\\N";
    CHECK_READ(s, "\\N,\"\\N\",x\n", o, "a STRING, b STRING, c STRING",
               "a STRING, b STRING, c STRING\nNULL, \"N\", \"x\"\n");
    o.null_value = "null";
    CHECK_READ(s, "null,NULL,\"null\"\n", o, NULL, "_c0 STRING, _c1 STRING, _c2 STRING\nNULL, \"NULL\", \"null\"\n");
    spk_session_free(s);
}

static void test_option_errors(void) {
    spk_session *s = new_session(1);
    spk_schema *schema = NULL;
    CHECK_OK(spk_schema_parse(NULL, "a INT, bad STRING, n INT", &schema));
    spk_csv_options o = opts_none();
    o.delimiter = '"';
    CHECK(spk_read_csv_buffer(s, "1", 1, &o) == NULL);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_ARG);
    CHECK_CONTAINS(spk_last_error(), "delimiter and the quote");
    o = opts_none();
    o.quote = '\n';
    CHECK(spk_read_csv_buffer(s, "1", 1, &o) == NULL);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_ARG);
    o = opts_none();
    o.corrupt_column = "bad";
    CHECK(spk_read_csv_buffer(s, "1", 1, &o) == NULL);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_ARG);
    CHECK_CONTAINS(spk_last_error(), "needs a schema");
    o.schema = schema;
    o.corrupt_column = "missing";
    CHECK(spk_read_csv_buffer(s, "1", 1, &o) == NULL);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_ARG);
    CHECK_CONTAINS(spk_last_error(), "`missing` is not a column");
    o.corrupt_column = "n";
    CHECK(spk_read_csv_buffer(s, "1", 1, &o) == NULL);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_ARG);
    CHECK_CONTAINS(spk_last_error(), "must be a STRING column");
    /* option errors come before the file is opened */
    CHECK(spk_read_csv(s, "/nonexistent/dir/x.csv", &o) == NULL);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_ARG);
    o = opts_none();
    o.mode = (spk_read_mode)7;
    CHECK(spk_read_csv_buffer(s, "1", 1, &o) == NULL);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_ARG);
    CHECK(spk_read_csv_buffer(NULL, "1", 1, NULL) == NULL);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_ARG);
    CHECK(spk_read_csv_file(s, NULL, NULL) == NULL);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_ARG);
    /* a NULL buffer is an empty input */
    spk_df *df = spk_read_csv_buffer(s, NULL, 0, NULL);
    CHECK(df != NULL);
    CHECK_STR(ddl_of(df), "");
    spk_df_release(df);
    spk_schema_release(schema);
    spk_session_free(s);
}

/* The reader's own number and date parsers against spk_value_parse: random
 * texts near the valid forms, each type; every cell must be what
 * spk_value_parse makes of its text (NULL where it refuses it). */
static void test_parsers_match_value_parse(void) {
    spk_session *s = new_session(1);
    static const char *const ddl = "i INT, l BIGINT, d DOUBLE, m DECIMAL(15,2), z DECIMAL(18,0), t DATE, ts TIMESTAMP, "
                                   "b BOOLEAN, x DECIMAL(3,3)";
    spk_schema *schema = NULL;
    CHECK_OK(spk_schema_parse(NULL, ddl, &schema));
    const int ncols = spk_schema_ncols(schema), nrows = 4000;
    static const char pieces[] = "0123456789000999-+.eE :T";
    static const char *const words[] = {"2020-02-29", "2021-02-29", "1999-12-31 23:59:59",
                                        "2020-01-01T00:00:00.1234567", "0000-01-01", "9999-12-31", "10000-01-01",
                                        "true", "FALSE", "NaN", "-Infinity",
                                        "1e5", "2147483647", "2147483648", "-2147483648", "9223372036854775807",
                                        "-9223372036854775808", "9223372036854775808", "0.005", "-0.0", "1.", ".5",
                                        "123456789012345678", "1234567890123456789", "0.1234567890123456789",
                                        "2020-1-1", "2020-01-01 10:00", "2020-13-01", "2020-00-10", " 12 "};
    sbuf text = {NULL, 0, 0};
    char **fields = (char **)calloc((size_t)nrows * (size_t)ncols, sizeof *fields);
    uint64_t seed = 42;
    for (int r = 0; r < nrows; r++) {
        for (int c = 0; c < ncols; c++) {
            char f[48];
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            unsigned pick = (unsigned)(seed >> 33);
            if (pick % 3 == 0) {
                snprintf(f, sizeof f, "%s", words[(pick / 3) % (sizeof words / sizeof words[0])]);
            } else {
                int len = 1 + (int)((pick / 3) % 21);
                for (int k = 0; k < len; k++) {
                    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                    f[k] = pieces[(seed >> 40) % (sizeof pieces - 1)];
                }
                f[len] = '\0';
            }
            fields[r * ncols + c] = strdup(f);
            if (c) sb_str(&text, "|");
            sb_str(&text, "\"");
            sb_str(&text, f);
            sb_str(&text, "\"");
        }
        sb_str(&text, "\n");
    }
    spk_csv_options o = opts_none();
    o.delimiter = '|';
    o.schema = schema;
    spk_df *df = spk_read_csv_buffer(s, text.p, text.len, &o);
    spk_table *t = NULL;
    CHECK_OK(spk_df_collect(df, &t));
    int mismatches = 0;
    for (int r = 0; t && r < nrows && mismatches < 5; r++)
        for (int c = 0; c < ncols; c++) {
            const char *f = fields[r * ncols + c];
            spk_value got, want;
            spk_table_get(t, (size_t)r, c, &got);
            if (spk_value_parse(spk_schema_field(schema, c)->type, f, strlen(f), &want) != SPK_OK) want.is_null = true;
            bool same = got.is_null == want.is_null &&
                        (got.is_null || spk_value_compare(&got, &want, true) == 0 ||
                         (got.type.id == SPK_TYPE_DOUBLE && isnan(got.as.f64) && isnan(want.as.f64)));
            if (got.type.id == SPK_TYPE_DOUBLE && !got.is_null && same)
                same = signbit(got.as.f64) == signbit(want.as.f64);
            if (!same && mismatches++ < 5)
                failf(__FILE__, __LINE__, "column %s, text '%s': the reader and spk_value_parse differ",
                      spk_schema_field(schema, c)->name, f);
        }
    for (int k = 0; k < nrows * ncols; k++) free(fields[k]);
    free(fields);
    free(text.p);
    spk_table_free(t);
    spk_df_release(df);
    spk_schema_release(schema);
    spk_session_free(s);
}

/* Reads text (one field a line) as a column of `type` and compares each
 * row with what spk_value_parse makes of its line (NULL where it refuses
 * it): the rows that differ, the first five reported. As a batch of
 * records (csv.c spk__csv_batch_records) with a field that does not parse
 * goes whole to the record-at-a-time parsers, the batch parsers see the
 * lines again without those: each line spk_value_parse refuses with 63
 * that it accepts after it, so that a batch of 64 has at most one. And
 * as a group of 8 fields that parse 8 at a time goes whole to the batch's
 * column loop when one does not, each accepted line 8 times in a row. */
static int mismatches_in(spk_session *s, const spk_schema *schema, const sbuf *text);
static int mismatches_with_value_parse(spk_session *s, const spk_schema *schema, const sbuf *text) {
    int mismatches = mismatches_in(s, schema, text);
    sbuf good = {NULL, 0, 0}, spaced = {NULL, 0, 0}, eightfold = {NULL, 0, 0};
    spk_type type = spk_schema_field(schema, 0)->type;
    size_t ngood = 0;
    for (size_t at = 0, end; at < text->len; at = end + 1) {
        spk_value v;
        for (end = at; text->p[end] != '\n';) end++;
        if (end > at && spk_value_parse(type, text->p + at, end - at, &v) == SPK_OK) {
            sb_put(&good, text->p + at, end + 1 - at);
            for (int k = 0; k < 8; k++) sb_put(&eightfold, text->p + at, end + 1 - at);
            ngood++;
        }
    }
    for (size_t at = 0, end, g = 0; ngood && at < text->len; at = end + 1) {
        spk_value v;
        for (end = at; text->p[end] != '\n';) end++;
        if (end > at && spk_value_parse(type, text->p + at, end - at, &v) == SPK_OK) continue;
        sb_put(&spaced, text->p + at, end + 1 - at);
        for (int k = 0; k < 63; k++) { /* the next good line, round and round */
            size_t e = g;
            while (good.p[e] != '\n') e++;
            sb_put(&spaced, good.p + g, e + 1 - g);
            g = e + 1 < good.len ? e + 1 : 0;
        }
    }
    if (good.len) mismatches += mismatches_in(s, schema, &good);
    if (spaced.len) mismatches += mismatches_in(s, schema, &spaced);
    if (eightfold.len) mismatches += mismatches_in(s, schema, &eightfold);
    free(good.p);
    free(spaced.p);
    free(eightfold.p);
    return mismatches;
}

static int mismatches_in(spk_session *s, const spk_schema *schema, const sbuf *text) {
    spk_csv_options o = opts_none();
    o.schema = schema;
    spk_df *df = spk_read_csv_buffer(s, text->p, text->len, &o);
    spk_table *t = NULL;
    CHECK_OK(spk_df_collect(df, &t));
    spk_df_release(df);
    spk_type type = spk_schema_field(schema, 0)->type;
    int mismatches = 0;
    size_t at = 0, r = 0;
    for (; t && at < text->len && r < spk_table_nrows(t); r++) {
        size_t end = at;
        while (text->p[end] != '\n') end++;
        spk_value got, want;
        spk_table_get(t, r, 0, &got);
        if (spk_value_parse(type, text->p + at, end - at, &want) != SPK_OK) want.is_null = true;
        if (got.is_null != want.is_null || (!got.is_null && spk_value_compare(&got, &want, true) != 0)) {
            char g[64], w[64];
            spk_value_format(&got, g, sizeof g);
            spk_value_format(&want, w, sizeof w);
            if (mismatches++ < 5)
                failf(__FILE__, __LINE__, "'%.*s': the reader gives %s, spk_value_parse %s", (int)(end - at), text->p + at, g, w);
        }
        at = end + 1;
    }
    CHECK(t && r == spk_table_nrows(t) && at == text->len); /* a row a line */
    spk_table_free(t);
    return mismatches;
}

/* The reader's date parser checks and converts a date's first eight bytes
 * as one word: every day of 1599-2401, the first and last days of every
 * year and each February 29th, and near misses (a byte off by one from a
 * digit or a dash, out-of-range days and months) read as spk_value_parse
 * reads them. */
static void test_dates_match_value_parse(void) {
    spk_session *s = new_session(1);
    spk_schema *schema = NULL;
    CHECK_OK(spk_schema_parse(NULL, "t DATE", &schema));
    sbuf text = {NULL, 0, 0};
    char line[64];
    size_t rows = 0;
    for (int y = 1599; y <= 2401; y++)
        for (int m = 1; m <= 12; m++)
            for (int d = 1; d <= 31; d++, rows++) {
                snprintf(line, sizeof line, "%04d-%02d-%02d\n", y, m, d);
                sb_str(&text, line);
            }
    for (int y = 0; y <= 9999; y++) {
        static const char *const days[] = {"01-01", "12-31", "02-29", "02-30", "00-10", "13-01", "04-31", "06-00"};
        for (int k = 0; k < 8; k++, rows++) {
            snprintf(line, sizeof line, "%04d-%s\n", y, days[k]);
            sb_str(&text, line);
        }
    }
    static const char *const bases[] = {"1999-09-19", "2000-10-10"}; /* digits next to ':' and '/' */
    for (int k = 0; k < 2; k++)
        for (int at = 0; at < 10; at++) /* each byte a little below and above what belongs there */
            for (int delta = -2; delta <= 2; delta++, rows++) {
                char f[11];
                memcpy(f, bases[k], 11);
                f[at] = (char)(f[at] + delta);
                snprintf(line, sizeof line, "%s\n", f);
                sb_str(&text, f[at] == '\n' || f[at] == ',' || f[at] == '"' ? "2020-06-15\n" : line);
            }
    CHECK_EQ_INT(mismatches_with_value_parse(s, schema, &text), 0);
    CHECK(rows > 300000);
    free(text.p);
    spk_schema_release(schema);
    spk_session_free(s);
}

/* Integers and decimals of every length up to 21 digits, signed or not,
 * with leading zeros, with or without a fraction, and near misses byte by
 * byte, one column at a time in each of BIGINT, INT and three DECIMALs:
 * each value must be what spk_value_parse makes of its field (NULL where
 * it refuses one). Records are short, so most fields have the bytes after
 * them that the word-at-a-time parsers read past their end, and the last
 * ones do not. */
static void test_numbers_match_value_parse(void) {
    static const char *const types[] = {"BIGINT", "INT", "DECIMAL(15,2)", "DECIMAL(18,0)", "DECIMAL(10,4)"};
    static const char *const bases[] = {"12345678", "-9876543210123", "65390.02", "0.08", "123456789012345678",
                                        "-2147483648", "2147483648", "99999999.9999", "-0.0001", "00000000000000000007",
                                        "1000000", "10000000000000", "999999.9999", "-1000000.0000"}; /* 10^precision */
    static const char swaps[] = {'/', ':', '.', '-', '+', ' ', 'e', 'x', '0', '9', '\t'};
    spk_session *s = new_session(1);
    uint64_t seed = 42;
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        char ddl[64];
        snprintf(ddl, sizeof ddl, "v %s", types[ti]);
        spk_schema *schema = NULL;
        CHECK_OK(spk_schema_parse(NULL, ddl, &schema));
        sbuf text = {NULL, 0, 0};
        char f[64];
        for (int whole = 0; whole <= 21; whole++)
            for (int frac = -1; frac <= 6; frac++) /* -1: no point */
                for (int variant = 0; variant < 6; variant++) {
                    size_t n = 0;
                    if (variant & 1) f[n++] = '-';
                    for (int i = 0; i < whole; i++) {
                        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                        f[n++] = (char)('0' + (variant >= 4 && i < 2 ? 0 : (int)((seed >> 33) % 10)));
                    }
                    if (frac >= 0) f[n++] = '.';
                    for (int i = 0; i < frac; i++) {
                        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                        f[n++] = (char)('0' + (int)((seed >> 33) % 10));
                    }
                    if (n == 0) continue;
                    f[n++] = '\n';
                    sb_put(&text, f, n);
                }
        for (size_t b = 0; b < sizeof bases / sizeof bases[0]; b++) {
            size_t len = strlen(bases[b]);
            sb_put(&text, bases[b], len);
            sb_put(&text, "\n", 1);
            for (size_t at = 0; at < len; at++)
                for (size_t k = 0; k < sizeof swaps; k++) {
                    memcpy(f, bases[b], len);
                    f[at] = swaps[k];
                    f[len] = '\n';
                    sb_put(&text, f, len + 1);
                    memcpy(f, bases[b], at); /* the byte left out */
                    memcpy(f + at, bases[b] + at + 1, len - at - 1);
                    f[len - 1] = '\n';
                    if (len > 1) sb_put(&text, f, len);
                }
        }
        int mismatches = mismatches_with_value_parse(s, schema, &text);
        if (mismatches) failf(__FILE__, __LINE__, "%d mismatches as %s", mismatches, types[ti]);
        free(text.p);
        spk_schema_release(schema);
    }
    spk_session_free(s);
}

/* 3,000 records of BIGINT, DECIMAL, DATE, STRING, INT and BOOLEAN fields,
 * a bad or empty field now and then (never in the first record), read in
 * the three modes: every value as spk_value_parse reads its field (NULL
 * when it refuses it, in PERMISSIVE), every record with such a field
 * dropped (DROPMALFORMED), the first one's line reported (FAILFAST); and
 * the columns' NULLs noted in their chunks, which a scan trusts (`x < 1`
 * on the stored values would count a NULL's 0) although the first row has
 * none. */
static void test_modes_many_records(void) {
    enum { ROWS = 3000, COLS = 6 };
    static const char *const bad[COLS] = {"12x", "1.2.3", "2021-02-29", NULL, "99999999999", "maybe"};
    spk_schema *schema = NULL;
    CHECK_OK(spk_schema_parse(NULL, "i BIGINT, d DECIMAL(10,2), t DATE, s STRING, x INT, b BOOLEAN", &schema));
    sbuf text = {NULL, 0, 0};
    static char fields[ROWS][COLS][24];
    static bool is_bad[ROWS];
    int first_bad = -1, nbad = 0, null_x = 0;
    uint64_t seed = 7;
    for (int r = 0; r < ROWS; r++) {
        is_bad[r] = false;
        for (int c = 0; c < COLS; c++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            unsigned pick = (unsigned)(seed >> 33) % 97;
            char *f = fields[r][c];
            switch (c) {
            case 0: snprintf(f, 24, "%d", r * 7 - 1000); break;
            case 1: snprintf(f, 24, "%d.%02d", r % 500, r % 100); break;
            case 2: snprintf(f, 24, "199%d-%02d-%02d", r % 10, 1 + r % 12, 1 + r % 28); break;
            case 3: snprintf(f, 24, "s%d", r); break;
            case 4: snprintf(f, 24, "%d", 1 + r % 50); break;
            default: snprintf(f, 24, "%s", r % 3 ? "true" : "false"); break;
            }
            if (r == 0) continue;
            if (pick == 0 && bad[c]) snprintf(f, 24, "%s", bad[c]);
            else if (pick == 1 || (c == 4 && pick < 6)) f[0] = '\0'; /* NULL */
        }
        for (int c = 0; c < COLS; c++) { /* malformed: a field that spk_value_parse refuses */
            spk_value v;
            const char *f = fields[r][c];
            if (f[0] && spk_value_parse(spk_schema_field(schema, c)->type, f, strlen(f), &v) != SPK_OK) is_bad[r] = true;
        }
        if (!fields[r][4][0]) null_x++;
        if (is_bad[r] && first_bad < 0) first_bad = r;
        nbad += is_bad[r];
        for (int c = 0; c < COLS; c++) {
            if (c) sb_str(&text, ",");
            sb_str(&text, fields[r][c]);
        }
        sb_str(&text, "\n");
    }
    CHECK(first_bad > 0 && nbad > 20 && null_x > 50);
    spk_session *s = new_session(1);
    for (int mode = 0; mode < 3; mode++) {
        spk_csv_options o = opts_none();
        o.schema = schema;
        o.mode = mode == 0 ? SPK_READ_PERMISSIVE : mode == 1 ? SPK_READ_DROPMALFORMED : SPK_READ_FAILFAST;
        spk_df *df = spk_read_csv_buffer(s, text.p, text.len, &o);
        if (mode == 2) {
            char expected[96];
            snprintf(expected, sizeof expected, "<buffer>:%d:", first_bad + 1);
            CHECK(df == NULL);
            CHECK_CONTAINS(spk_last_error(), expected);
            spk_df_release(df);
            continue;
        }
        spk_table *t = NULL;
        CHECK_OK(spk_df_collect(df, &t));
        CHECK_EQ_INT(spk_table_nrows(t), mode == 0 ? ROWS : ROWS - nbad);
        int mismatches = 0;
        size_t row = 0;
        for (int r = 0; t && r < ROWS && mismatches < 5; r++) {
            if (mode == 1 && is_bad[r]) continue;
            for (int c = 0; c < COLS; c++) {
                spk_value got, want;
                spk_table_get(t, row, c, &got);
                const char *f = fields[r][c];
                if (!f[0] || spk_value_parse(spk_schema_field(schema, c)->type, f, strlen(f), &want) != SPK_OK) want.is_null = true;
                if (got.is_null != want.is_null || (!got.is_null && spk_value_compare(&got, &want, true) != 0))
                    if (mismatches++ < 5)
                        failf(__FILE__, __LINE__, "mode %d, record %d, column %d ('%s'): not as spk_value_parse reads it",
                              mode, r + 1, c, f);
            }
            row++;
        }
        CHECK_EQ_INT(mismatches, 0);
        spk_table_free(t);
        /* NULLs noted: a NULL's stored 0 is never read as a value */
        int64_t below = -1, want_below = 0;
        spk_df *low = spk_df_filter(df, spk_lt(spk_col("x"), spk_lit_i64(1)));
        CHECK_OK(spk_df_count(low, &below));
        CHECK_EQ_INT(below, want_below);
        spk_df_release(low);
        spk_df_release(df);
    }
    free(text.p);
    spk_schema_release(schema);
    spk_session_free(s);
}

/* Plain records are parsed in batches, a column at a time (csv.c
 * spk__csv_batch_records), and every other shape of record one at a time:
 * 6,000 records with, now and then, a quoted field, a blank line or a line
 * of spaces before them, a CRLF, a field too few or too many, an empty
 * string, the null_value, a string longer than the 32 bytes a batch copies
 * at once, or a field that does not parse. Read in the three modes at 1 and 3 threads,
 * every row must hold what its record was written from, and FAILFAST
 * must blame the first malformed record's line. */
static void test_batches_around_odd_records(void) {
    enum { RECORDS = 6000, COLS = 6 };
    enum { PLAIN, QUOTED, BLANK_BEFORE, SPACES_BEFORE, CRLF, SHORT, LONG, EMPTY, NA, LONG_STRING, BAD_DECIMAL, SHAPES };
    spk_schema *schema = NULL;
    CHECK_OK(spk_schema_parse(NULL, "i BIGINT, d DECIMAL(12,2), t DATE, s STRING, x INT, u STRING", &schema));
    static char fields[RECORDS][COLS][80];
    static unsigned char shape[RECORDS];
    static size_t line_of[RECORDS];
    sbuf text = {NULL, 0, 0};
    size_t line = 1, nbad = 0, first_bad_line = 0;
    uint64_t seed = 11;
    for (int r = 0; r < RECORDS; r++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        unsigned pick = (unsigned)(seed >> 33) % 200;
        shape[r] = (unsigned char)(r == 0 || pick >= SHAPES * 3 ? PLAIN : pick / 3);
        snprintf(fields[r][0], 80, "%d", r * 13 - 7000);
        snprintf(fields[r][1], 80, "%d.%02d", (r * 7919) % 100000, r % 100);
        snprintf(fields[r][2], 80, "19%02d-%02d-%02d", 70 + r % 30, 1 + r % 12, 1 + r % 28);
        size_t slen = 1 + (size_t)(seed >> 40) % 30;
        if (shape[r] == LONG_STRING) slen = 33 + (size_t)(seed >> 40) % 45;
        for (size_t k = 0; k < slen; k++) fields[r][3][k] = (char)('a' + (r + (int)k) % 26);
        fields[r][3][slen] = '\0';
        if (shape[r] == EMPTY) fields[r][3][0] = '\0';
        snprintf(fields[r][4], 80, "%d", r % 1000);
        snprintf(fields[r][5], 80, "%s", shape[r] == NA ? "NA" : "u");
        if (shape[r] == BAD_DECIMAL) snprintf(fields[r][1], 80, "1.2.3");
        if (shape[r] == BLANK_BEFORE) sb_str(&text, "\n"), line++;
        if (shape[r] == SPACES_BEFORE) sb_str(&text, "   \n"), line++;
        line_of[r] = line++;
        bool bad = shape[r] == SHORT || shape[r] == LONG || shape[r] == BAD_DECIMAL;
        if (bad && !first_bad_line) first_bad_line = line_of[r];
        nbad += bad;
        for (int c = 0; c < COLS; c++) {
            if (c == COLS - 1 && shape[r] == SHORT) break;
            if (c) sb_str(&text, ",");
            if (c == 3 && shape[r] == QUOTED) sb_str(&text, "\"");
            sb_str(&text, fields[r][c]);
            if (c == 3 && shape[r] == QUOTED) sb_str(&text, "\"");
        }
        if (shape[r] == SHORT || shape[r] == NA) fields[r][5][0] = '\0'; /* read as NULL */
        if (shape[r] == LONG) sb_str(&text, ",extra");
        sb_str(&text, shape[r] == CRLF ? "\r\n" : "\n");
    }
    CHECK(nbad > 50 && first_bad_line > 1);
    for (int threads = 1; threads <= 3; threads += 2) {
        spk_session *s = new_session(threads);
        for (int mode = 0; mode < 3; mode++) {
            spk_csv_options o = opts_none();
            o.schema = schema;
            o.null_value = "NA";
            o.mode = mode == 0 ? SPK_READ_PERMISSIVE : mode == 1 ? SPK_READ_DROPMALFORMED : SPK_READ_FAILFAST;
            spk_df *df = spk_read_csv_buffer(s, text.p, text.len, &o);
            if (mode == 2) {
                char expected[96];
                snprintf(expected, sizeof expected, "<buffer>:%zu:", first_bad_line);
                CHECK(df == NULL);
                CHECK_CONTAINS(spk_last_error(), expected);
                continue;
            }
            spk_table *t = NULL;
            CHECK_OK(spk_df_collect(df, &t));
            spk_df_release(df);
            CHECK_EQ_INT(spk_table_nrows(t), mode == 0 ? RECORDS : RECORDS - nbad);
            int mismatches = 0;
            size_t row = 0;
            for (int r = 0; t && r < RECORDS && row < spk_table_nrows(t) && mismatches < 5; r++) {
                bool bad = shape[r] == SHORT || shape[r] == LONG || shape[r] == BAD_DECIMAL;
                if (mode == 1 && bad) continue;
                for (int c = 0; c < COLS; c++) {
                    spk_value got, want;
                    spk_table_get(t, row, c, &got);
                    const char *f = fields[r][c];
                    if (!f[0] || spk_value_parse(spk_schema_field(schema, c)->type, f, strlen(f), &want) != SPK_OK)
                        want.is_null = true;
                    if (got.is_null != want.is_null || (!got.is_null && spk_value_compare(&got, &want, true) != 0))
                        if (mismatches++ < 5)
                            failf(__FILE__, __LINE__, "%d threads, mode %d, line %zu (shape %d), column %d ('%s')",
                                  threads, mode, line_of[r], shape[r], c, f);
                }
                row++;
            }
            CHECK_EQ_INT(mismatches, 0);
            spk_table_free(t);
        }
        spk_session_free(s);
    }
    free(text.p);
    spk_schema_release(schema);
}

/* ---------------------------------------------------------------- a large input in parallel */

/* Rows i = 0..n-1: "i,<string>,<double>,<date>" with quoted fields (and,
 * when multiline, line breaks inside quotes) every few rows. *bad_line gets
 * the line of the record of row `bad` (where an x replaces its number; bad
 * < 0: none). */
static char *large_text(int n, bool multiline, int bad, size_t *bad_line, size_t *len) {
    sbuf b = {NULL, 0, 0};
    sb_str(&b, "id,name,score,day\n");
    size_t line = 2;
    for (int i = 0; i < n; i++) {
        char buf[160];
        if (i == bad) *bad_line = line;
        const char *id_fmt = i == bad ? "x%d" : "%d";
        snprintf(buf, sizeof buf, id_fmt, i);
        sb_str(&b, buf);
        if (i % 7 == 3) snprintf(buf, sizeof buf, ",\"n,%d \"\"q\"\"\"", i);
        else if (multiline && i % 11 == 5) snprintf(buf, sizeof buf, ",\"two\nlines %d\"", i), line++;
        else if (i % 13 == 0) snprintf(buf, sizeof buf, ",");
        else snprintf(buf, sizeof buf, ",name%d", i);
        sb_str(&b, buf);
        snprintf(buf, sizeof buf, ",%d.%d,2020-%02d-%02d%s", i % 1000, i % 10, i % 12 + 1, i % 28 + 1,
                 i % 5 ? "\n" : "\r\n");
        sb_str(&b, buf);
        line++;
    }
    *len = b.len;
    return b.p;
}

/* An order-sensitive fingerprint of every cell. */
static uint64_t table_fingerprint(const spk_table *t) {
    uint64_t h = 0;
    int ncols = spk_schema_ncols(spk_table_schema(t));
    spk_cursor c;
    spk_cursor_open(&c, t);
    while (spk_cursor_next(&c))
        for (int i = 0; i < ncols; i++) {
            spk_value v;
            spk_cursor_get(&c, i, &v);
            h = spk_hash_u64(h ^ spk_value_hash(&v, (uint64_t)i) ^ (v.is_null ? 0x9e3779b97f4a7c15ull : 0));
        }
    return h;
}

static void test_large_parallel(void) {
    const int n = 300000;
    size_t len = 0, bad_len = 0, bad_line = 0, unused = 0;
    spk_schema *schema = NULL;
    spk_schema_parse(NULL, "id INT, name STRING, score DOUBLE, day DATE", &schema);
    for (int multiline = 0; multiline < 2; multiline++) {
        char *text = large_text(n, multiline, -1, &unused, &len);
        char *bad = large_text(n, multiline, n - 1000, &bad_line, &bad_len);
        uint64_t first = 0;
        for (int threads = 1; threads <= 4; threads *= 2) {
            spk_session *s = new_session(threads);
            spk_csv_options o = opts_none();
            o.header = true;
            o.multiline = multiline;
            o.infer_schema = threads == 2; /* inference over every record, in parallel */
            if (!o.infer_schema) o.schema = schema;
            spk_df *df = spk_read_csv_buffer(s, text, len, &o);
            CHECK(df != NULL);
            if (df) {
                CHECK_STR(ddl_of(df), "id INT, name STRING, score DOUBLE, day DATE");
                spk_table *t = NULL;
                CHECK_OK(spk_df_collect(df, &t));
                CHECK_EQ_INT(spk_table_nrows(t), n);
                bool ordered = true;
                for (size_t r = 0; t && r < spk_table_nrows(t) && ordered; r += 997) {
                    spk_value v;
                    ordered = spk_table_get(t, r, 0, &v) == SPK_OK && !v.is_null && v.as.i32 == (int32_t)r;
                }
                CHECK(ordered);
                if (t && threads == 1) {
                    first = table_fingerprint(t);
                    spk_value v[4];
                    for (int c = 0; c < 4; c++) spk_table_get(t, 1, c, &v[c]);
                    CHECK(v[1].as.str.len == 5 && memcmp(v[1].as.str.ptr, "name1", 5) == 0 && v[2].as.f64 == 1.1);
                    for (int c = 0; c < 4; c++) spk_table_get(t, 3, c, &v[c]);
                    CHECK(v[1].as.str.len == 7 && memcmp(v[1].as.str.ptr, "n,3 \"q\"", 7) == 0);
                    for (int c = 0; c < 4; c++) spk_table_get(t, 0, c, &v[c]);
                    CHECK(v[1].is_null && v[2].as.f64 == 0.0);
                } else if (t) {
                    CHECK(table_fingerprint(t) == first);
                }
                spk_table_free(t);
            }
            spk_df_release(df);
            /* FAILFAST names the right line whichever slice holds it */
            o.schema = schema;
            o.infer_schema = false;
            o.mode = SPK_READ_FAILFAST;
            char expected[128];
            snprintf(expected, sizeof expected, "<buffer>:%zu:1 (`id`): cannot parse 'x%d' as INT", bad_line, n - 1000);
            CHECK(spk_read_csv_buffer(s, bad, bad_len, &o) == NULL);
            CHECK_STR(spk_last_error(), expected);
            /* DROPMALFORMED drops just that row */
            o.mode = SPK_READ_DROPMALFORMED;
            df = spk_read_csv_buffer(s, bad, bad_len, &o);
            int64_t count = 0;
            CHECK_OK(spk_df_count(df, &count));
            CHECK_EQ_INT(count, n - 1);
            spk_df_release(df);
            spk_session_free(s);
        }
        free(text);
        free(bad);
    }
    spk_schema_release(schema);
}

/* ---------------------------------------------------------------- files */

/* Files are read a window at a time (tiny windows while the thread counts
 * below set a morsel size): the rows, line numbers and header handling must
 * not depend on where the windows end. */
static void test_streamed_windows(void) {
    const int n = 20000;
    size_t len = 0, bad_len = 0, bad_line = 0, unused = 0;
    char *text = large_text(n, false, -1, &unused, &len);
    char *bad = large_text(n, false, n - 7, &bad_line, &bad_len);
    /* 300 blank lines before the header, a field longer than any window, lone CRs */
    sbuf odd = {NULL, 0, 0};
    for (int i = 0; i < 300; i++) sb_str(&odd, i % 2 ? "  \n" : "\r\n");
    sb_str(&odd, "id,name\r1,");
    for (int i = 0; i < 5000; i++) sb_str(&odd, i % 10 ? "y" : "z");
    sb_str(&odd, "\r2,b\r\r3,c\r");
    char dir[512], path[600];
    CHECK(make_temp_dir(dir, sizeof dir, "spk_csvs"));
    snprintf(path, sizeof path, "%s/large.csv", dir);
    spk_schema *schema = NULL;
    spk_schema_parse(NULL, "id INT, name STRING, score DOUBLE, day DATE", &schema);
    spk_csv_options o = opts_none();
    o.header = true;
    o.schema = schema;
    uint64_t expected_fp = 0;
    spk_session *s = new_session(1);
    spk_df *df = spk_read_csv_buffer(s, text, len, &o);
    spk_table *t = NULL;
    CHECK_OK(spk_df_collect(df, &t));
    if (t) expected_fp = table_fingerprint(t);
    spk_table_free(t);
    spk_df_release(df);
    spk_session_free(s);
    FOR_EACH_THREAD_COUNT(i) {
        s = new_session(spk_test_threads);
        for (int via_file = 0; via_file < 2; via_file++) {
            CHECK(write_file(path, text, len));
            FILE *f = via_file ? fopen(path, "rb") : NULL;
            o.schema = schema;
            o.mode = SPK_READ_PERMISSIVE;
            df = via_file ? spk_read_csv_file(s, f, &o) : spk_read_csv(s, path, &o);
            if (f) fclose(f);
            t = NULL;
            CHECK_OK(spk_df_collect(df, &t));
            CHECK(t && spk_table_nrows(t) == (size_t)n && table_fingerprint(t) == expected_fp);
            spk_table_free(t);
            spk_df_release(df);
            /* FAILFAST near the end of the file names its line */
            CHECK(write_file(path, bad, bad_len));
            f = via_file ? fopen(path, "rb") : NULL;
            o.mode = SPK_READ_FAILFAST;
            CHECK((via_file ? spk_read_csv_file(s, f, &o) : spk_read_csv(s, path, &o)) == NULL);
            if (f) fclose(f);
            char expected[800];
            snprintf(expected, sizeof expected, "%s:%zu:1 (`id`): cannot parse 'x%d' as INT", via_file ? "<FILE*>" : path,
                     bad_line, n - 7);
            CHECK_STR(spk_last_error(), expected);
            /* blank lines before the header, a long field, lone CRs: with the header or inferred columns */
            CHECK(write_file(path, odd.p, odd.len));
            o.mode = SPK_READ_FAILFAST;
            for (int given = 0; given < 2; given++) {
                spk_schema *two = NULL;
                spk_schema_parse(NULL, "id INT, name STRING", &two);
                o.schema = given ? two : NULL;
                f = via_file ? fopen(path, "rb") : NULL;
                df = via_file ? spk_read_csv_file(s, f, &o) : spk_read_csv(s, path, &o);
                if (f) fclose(f);
                CHECK(df != NULL);
                t = NULL;
                CHECK_OK(spk_df_collect(df, &t));
                CHECK(t && spk_table_nrows(t) == 3);
                spk_value v;
                CHECK(t && spk_table_get(t, 0, 1, &v) == SPK_OK && v.as.str.len == 5000 && v.as.str.ptr[0] == 'z');
                CHECK(t && spk_table_get(t, 2, 1, &v) == SPK_OK && v.as.str.len == 1 && v.as.str.ptr[0] == 'c');
                spk_table_free(t);
                spk_df_release(df);
                spk_schema_release(two);
            }
            /* no header and no schema: the first record, after the blank lines, sets the columns */
            o.header = false;
            o.schema = NULL;
            df = spk_read_csv(s, path, &o);
            CHECK_STR(df ? ddl_of(df) : "(failed)", "_c0 STRING, _c1 STRING");
            int64_t count = 0;
            CHECK_OK(spk_df_count(df, &count));
            CHECK_EQ_INT(count, 4);
            spk_df_release(df);
            o.header = true;
        }
        spk_session_free(s);
    }
    rm_tree(dir);
    free(odd.p);
    free(text);
    free(bad);
    spk_schema_release(schema);
}


static void test_paths_and_files(void) {
    spk_session *s = new_session(1);
    char dir[512], path[600];
    CHECK(make_temp_dir(dir, sizeof dir, "spk_csv"));
    snprintf(path, sizeof path, "%s/in.csv", dir);
    CHECK(write_file(path, "a,b\n1,x\n", 8));
    spk_csv_options o = opts_none();
    o.header = true;
    o.infer_schema = true;
    spk_df *df = spk_read_csv(s, path, &o);
    char *rows = render_df(df);
    CHECK_STR(rows, "1, \"x\"\n");
    free(rows);
    spk_df_release(df);
    FILE *f = fopen(path, "rb");
    df = spk_read_csv_file(s, f, &o);
    fclose(f);
    rows = render_df(df);
    CHECK_STR(rows, "1, \"x\"\n");
    CHECK_STR(ddl_of(df), "a INT, b STRING");
    free(rows);
    spk_df_release(df);
    /* FAILFAST messages name the path, or <FILE*> */
    o.mode = SPK_READ_FAILFAST;
    spk_schema *schema = NULL;
    spk_schema_parse(NULL, "a INT, b INT", &schema);
    o.schema = schema;
    CHECK(spk_read_csv(s, path, &o) == NULL);
    char expected[700];
    snprintf(expected, sizeof expected, "%s:2:3 (`b`): cannot parse 'x' as INT", path);
    CHECK_STR(spk_last_error(), expected);
    f = fopen(path, "rb");
    CHECK(spk_read_csv_file(s, f, &o) == NULL);
    fclose(f);
    CHECK_STR(spk_last_error(), "<FILE*>:2:3 (`b`): cannot parse 'x' as INT");
    spk_schema_release(schema);
    /* a missing file */
    snprintf(path, sizeof path, "%s/missing.csv", dir);
    CHECK(spk_read_csv(s, path, NULL) == NULL);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_IO);
    CHECK_CONTAINS(spk_last_error(), path);
    rm_tree(dir);
    spk_session_free(s);
}

static void test_write_modes(void) {
    spk_session *s = new_session(1);
    char dir[512], path[600];
    CHECK(make_temp_dir(dir, sizeof dir, "spk_csvw"));
    snprintf(path, sizeof path, "%s/out.csv", dir);
    spk_df *one = spk_df_from_fixture(s, "a INT, b STRING\n1,x");
    spk_df *two = spk_df_from_fixture(s, "a INT, b STRING\n2,y\n3,z");
    spk_csv_write_options w;
    memset(&w, 0, sizeof w);
    w.header = true;
    CHECK_OK(spk_write_csv(one, path, &w));
    char *text = read_file(path, NULL);
    CHECK_STR(text, "a,b\n1,x\n");
    free(text);
    CHECK_STATUS(spk_write_csv(two, path, &w), SPK_ERR_EXISTS);
    w.mode = SPK_WRITE_IGNORE;
    CHECK_OK(spk_write_csv(two, path, &w));
    text = read_file(path, NULL);
    CHECK_STR(text, "a,b\n1,x\n");
    free(text);
    w.mode = SPK_WRITE_APPEND;
    CHECK_OK(spk_write_csv(two, path, &w));
    text = read_file(path, NULL);
    CHECK_STR(text, "a,b\n1,x\n2,y\n3,z\n");
    free(text);
    /* what was appended reads back as one table */
    spk_csv_options o = opts_none();
    o.header = true;
    o.infer_schema = true;
    spk_df *back = spk_read_csv(s, path, &o);
    char *rows = render_df(back);
    CHECK_STR(rows, "1, \"x\"\n2, \"y\"\n3, \"z\"\n");
    free(rows);
    spk_df_release(back);
    w.mode = SPK_WRITE_OVERWRITE;
    CHECK_OK(spk_write_csv(two, path, &w));
    text = read_file(path, NULL);
    CHECK_STR(text, "a,b\n2,y\n3,z\n");
    free(text);
    /* append to a missing file and to an empty one: with the header */
    snprintf(path, sizeof path, "%s/new.csv", dir);
    w.mode = SPK_WRITE_APPEND;
    CHECK_OK(spk_write_csv(one, path, &w));
    text = read_file(path, NULL);
    CHECK_STR(text, "a,b\n1,x\n");
    free(text);
    snprintf(path, sizeof path, "%s/empty.csv", dir);
    CHECK(write_file(path, "", 0));
    CHECK_OK(spk_write_csv(one, path, &w));
    text = read_file(path, NULL);
    CHECK_STR(text, "a,b\n1,x\n");
    free(text);
    w.mode = SPK_WRITE_INSERT;
    CHECK_STATUS(spk_write_csv(one, path, &w), SPK_ERR_ARG);
    /* a directory that does not exist */
    snprintf(path, sizeof path, "%s/no/such/dir/out.csv", dir);
    w.mode = SPK_WRITE_ERROR;
    CHECK_STATUS(spk_write_csv(one, path, &w), SPK_ERR_IO);
    /* FILE*: the mode is ignored, the header written as asked */
    snprintf(path, sizeof path, "%s/file.csv", dir);
    FILE *f = fopen(path, "wb");
    w.mode = SPK_WRITE_ERROR;
    CHECK_OK(spk_write_csv_file(two, f, &w));
    w.header = false;
    CHECK_OK(spk_write_csv_file(one, f, &w));
    fclose(f);
    text = read_file(path, NULL);
    CHECK_STR(text, "a,b\n2,y\n3,z\n1,x\n");
    free(text);
    /* a failed DataFrame writes nothing */
    snprintf(path, sizeof path, "%s/failed.csv", dir);
    spk_df *broken = spk_df_select_expr(one, 1, "nope + 1");
    CHECK(broken == NULL);
    CHECK_STATUS(spk_write_csv(broken, path, &w), SPK_ERR_ARG);
    CHECK(read_file(path, NULL) == NULL);
    spk_df_release(one);
    spk_df_release(two);
    rm_tree(dir);
    spk_session_free(s);
}

int main(void) {
    RUN(test_corpus);
    RUN(test_round_trip_types);
    RUN(test_round_trip_one_column);
    RUN(test_writer_text);
    RUN(test_written_text_with_nul);
    RUN(test_modes);
    RUN(test_multiline_lines);
    RUN(test_inference);
    RUN(test_header_names);
    RUN(test_dialects);
    RUN(test_option_errors);
    RUN(test_parsers_match_value_parse);
    RUN(test_dates_match_value_parse);
    RUN(test_numbers_match_value_parse);
    RUN(test_modes_many_records);
    RUN(test_batches_around_odd_records);
    RUN(test_large_parallel);
    RUN(test_paths_and_files);
    RUN(test_streamed_windows);
    RUN(test_write_modes);
    return TEST_REPORT();
}
