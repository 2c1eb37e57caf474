/* libFuzzer harness: the CSV reader (spk_read_csv_buffer, and
 * spk_read_csv_file over the same bytes in tiny windows) and writer.
 * The first two bytes choose the options (header, multiline, inference,
 * mode, delimiter, quote, null value, a schema or none); the rest is the
 * CSV text. Any input must be read or refused cleanly, the same way from
 * the buffer and from a FILE* read in windows of 64 bytes; what is read must
 * write out (spk_write_csv_string, same dialect) and read back, with the
 * schema it was read with, to the same rows. Built and run by `make test`
 * (tools/runtests) and `make fuzz FUZZER=csv`. */
#define _POSIX_C_SOURCE 200809L /* fmemopen */
#define SPARKLESS_IMPLEMENTATION
#include "../../sparkless.h"
#include "fuzz_reader_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static spk_session *session;
static spk_schema *schemas[3];
static const char *const schema_ddl[3] = {
    "a INT, b STRING",
    "a BIGINT, b DOUBLE, c DATE, d TIMESTAMP, e BOOLEAN, f DECIMAL(10,2), g STRING",
    "a INT, b DATE, _corrupt_record STRING",
};

static void setup(void) {
    if (session) return;
    spk_session_options o = {NULL, false, 1};
    if (spk_session_new(&o, &session) != SPK_OK) fuzz_fail("fuzz_csv", "no session", NULL, NULL);
    for (int i = 0; i < 3; i++)
        if (spk_schema_parse(NULL, schema_ddl[i], &schemas[i]) != SPK_OK) fuzz_fail("fuzz_csv", "no schema", NULL, NULL);
}

/* The bytes read again as a FILE*, in windows of 64 bytes (the morsel of
 * one row set by spk_exec_override): the rows the buffer gave, or the same
 * refusal (messages differ only in naming the input). */
static void compare_streamed(const spk_csv_options *o, const uint8_t *bytes, size_t n, spk_df *buffered) {
    if (n == 0) return; /* fmemopen may refuse an empty buffer */
    char *want = NULL;
    if (buffered) {
        spk_table *t = NULL;
        if (spk_df_collect(buffered, &t) != SPK_OK) fuzz_fail("fuzz_csv", "a read DataFrame does not collect", NULL, NULL);
        want = fuzz_table_text(t);
        spk_table_free(t);
    } else {
        const char *e = spk_last_error();
        want = (char *)malloc(strlen(e) + 1);
        if (!want) abort();
        strcpy(want, e);
    }
    FILE *f = fmemopen((void *)(uintptr_t)bytes, n, "rb");
    if (!f) {
        free(want);
        return;
    }
    spk_exec_override(1, 1);
    spk_df *df = spk_read_csv_file(session, f, o);
    spk_exec_override(0, 0);
    fclose(f);
    if ((df != NULL) != (buffered != NULL))
        fuzz_fail("fuzz_csv", df ? "the FILE* read succeeds where the buffer read failed"
                                 : "the FILE* read fails where the buffer read succeeded", want, NULL);
    char *got = NULL;
    if (df) {
        spk_table *t = NULL;
        if (spk_df_collect(df, &t) != SPK_OK) fuzz_fail("fuzz_csv", "a read DataFrame does not collect", want, NULL);
        got = fuzz_table_text(t);
        spk_table_free(t);
    } else {
        const char *e = spk_last_error(), *name = strstr(e, "<FILE*>");
        size_t before = name ? (size_t)(name - e) : strlen(e);
        got = (char *)malloc(strlen(e) + 8);
        if (!got) abort();
        memcpy(got, e, before);
        strcpy(got + before, name ? "<buffer>" : "");
        if (name) strcat(got, name + strlen("<FILE*>"));
    }
    if (strcmp(want, got) != 0) fuzz_fail("fuzz_csv", "the buffer and the FILE* read differ", want, got);
    free(want);
    free(got);
    spk_df_release(df);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    if (size < 2) return 0;
    unsigned flags = data[0], dialect = data[1];
    static const char delimiters[4] = {',', '|', '\t', ';'};
    static const char *const nulls[4] = {NULL, "NA", "null", "\\N"};
    spk_csv_options o;
    memset(&o, 0, sizeof o);
    o.header = flags & 1;
    o.multiline = (flags >> 1) & 1;
    o.infer_schema = (flags >> 2) & 1;
    o.mode = (spk_read_mode)(((flags >> 3) & 3) % 3);
    unsigned pick = (flags >> 5) & 3; /* 0: no schema, else schemas[pick - 1] */
    o.schema = pick ? schemas[pick - 1] : NULL;
    if (pick == 3 && o.mode == SPK_READ_PERMISSIVE) o.corrupt_column = "_corrupt_record";
    o.ignore_leading_space = (flags >> 7) & 1;
    o.delimiter = delimiters[dialect & 3];
    o.quote = (dialect >> 2) & 1 ? '\'' : '"';
    o.escape = (dialect >> 3) & 1 ? '\\' : o.quote;
    o.null_value = nulls[(dialect >> 4) & 3];
    o.sample_rows = (dialect >> 6) & 1 ? 2 : 0;

    /* The text is exactly size - 2 bytes, not NUL-terminated: ASan sees any read past it. */
    spk_df *df = spk_read_csv_buffer(session, data + 2, size - 2, &o);
    compare_streamed(&o, data + 2, size - 2, df);
    if (!df) {
        if (spk_last_status() == SPK_OK) fuzz_fail("fuzz_csv", "NULL without an error", NULL, NULL);
        return 0;
    }
    spk_table *first = NULL;
    if (spk_df_collect(df, &first) != SPK_OK) fuzz_fail("fuzz_csv", "a read DataFrame does not collect", NULL, NULL);
    char *text = fuzz_table_text(first);

    /* Write it in the same dialect, read it back with its own schema. */
    spk_csv_write_options w;
    memset(&w, 0, sizeof w);
    w.header = o.header;
    w.delimiter = o.delimiter;
    w.quote = o.quote;
    w.escape = o.escape;
    w.null_value = o.null_value;
    char *csv = NULL;
    size_t len = 0;
    if (spk_write_csv_string(df, &w, &csv, &len) != SPK_OK) fuzz_fail("fuzz_csv", "rows read do not write", text, NULL);
    spk_csv_options back_opts;
    memset(&back_opts, 0, sizeof back_opts);
    back_opts.header = o.header;
    back_opts.multiline = true; /* written fields may hold line breaks */
    back_opts.delimiter = o.delimiter;
    back_opts.quote = o.quote;
    back_opts.escape = o.escape;
    back_opts.null_value = o.null_value;
    back_opts.schema = spk_df_schema(df);
    back_opts.mode = SPK_READ_FAILFAST;
    spk_df *again = spk_read_csv_buffer(session, csv, len, &back_opts);
    if (!again) fuzz_fail("fuzz_csv", "written CSV does not read back", text, csv);
    spk_table *second = NULL;
    if (spk_df_collect(again, &second) != SPK_OK) fuzz_fail("fuzz_csv", "the re-read does not collect", text, csv);
    char *text2 = fuzz_table_text(second);
    if (strcmp(text, text2) != 0) fuzz_fail("fuzz_csv", "the round trip changed the rows", text, text2);
    free(text);
    free(text2);
    spk_string_free(csv);
    spk_table_free(first);
    spk_table_free(second);
    spk_df_release(again);
    spk_df_release(df);
    return 0;
}
