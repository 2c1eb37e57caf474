/* libFuzzer harness: the JSON Lines reader (spk_read_json_buffer) and
 * writer. The first byte chooses the options (mode, a schema or none,
 * sampling, writing NULLs); the rest is the text. Any input must be read or
 * refused cleanly; what is read must write out (spk_write_json_string) and
 * read back, with the schema it was read with, to the same rows. Built and
 * run by `make test` (tools/runtests) and `make fuzz FUZZER=jsonl`. */
#define SPARKLESS_IMPLEMENTATION
#include "../../sparkless.h"
#include "fuzz_reader_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static spk_session *session;
static spk_schema *schemas[3];
static const char *const schema_ddl[3] = {
    "a BIGINT, b STRING",
    "a INT, b DOUBLE, c DATE, d TIMESTAMP, e BOOLEAN, f DECIMAL(10,2), g STRING",
    "a BIGINT, b STRING, _corrupt_record STRING",
};

static void setup(void) {
    if (session) return;
    spk_session_options o = {NULL, false, 1};
    if (spk_session_new(&o, &session) != SPK_OK) fuzz_fail("fuzz_jsonl", "no session", NULL, NULL);
    for (int i = 0; i < 3; i++)
        if (spk_schema_parse(NULL, schema_ddl[i], &schemas[i]) != SPK_OK) fuzz_fail("fuzz_jsonl", "no schema", NULL, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    if (size < 1) return 0;
    unsigned flags = data[0];
    spk_json_options o;
    memset(&o, 0, sizeof o);
    o.mode = (spk_read_mode)((flags & 3) % 3);
    unsigned pick = (flags >> 2) & 3;
    o.schema = pick ? schemas[pick - 1] : NULL;
    if (pick == 3 && o.mode == SPK_READ_PERMISSIVE) o.corrupt_column = "_corrupt_record";
    o.sample_rows = (flags >> 4) & 1 ? 2 : 0;

    /* The text is exactly size - 1 bytes, not NUL-terminated: ASan sees any read past it. */
    spk_df *df = spk_read_json_buffer(session, data + 1, size - 1, &o);
    if (!df) {
        if (spk_last_status() == SPK_OK) fuzz_fail("fuzz_jsonl", "NULL without an error", NULL, NULL);
        return 0;
    }
    spk_table *first = NULL;
    if (spk_df_collect(df, &first) != SPK_OK) fuzz_fail("fuzz_jsonl", "a read DataFrame does not collect", NULL, NULL);
    char *text = fuzz_table_text(first);

    spk_json_write_options w;
    memset(&w, 0, sizeof w);
    w.write_nulls = (flags >> 5) & 1;
    char *json = NULL;
    size_t len = 0;
    if (spk_write_json_string(df, &w, &json, &len) != SPK_OK) fuzz_fail("fuzz_jsonl", "rows read do not write", text, NULL);
    spk_json_options back_opts;
    memset(&back_opts, 0, sizeof back_opts);
    back_opts.schema = spk_df_schema(df);
    back_opts.mode = SPK_READ_FAILFAST;
    spk_df *again = spk_read_json_buffer(session, json, len, &back_opts);
    if (!again) fuzz_fail("fuzz_jsonl", "written JSON does not read back", text, json);
    spk_table *second = NULL;
    if (spk_df_collect(again, &second) != SPK_OK) fuzz_fail("fuzz_jsonl", "the re-read does not collect", text, json);
    char *text2 = fuzz_table_text(second);
    if (strcmp(text, text2) != 0) fuzz_fail("fuzz_jsonl", "the round trip changed the rows", text, text2);
    free(text);
    free(text2);
    spk_string_free(json);
    spk_table_free(first);
    spk_table_free(second);
    spk_df_release(again);
    spk_df_release(df);
    return 0;
}
