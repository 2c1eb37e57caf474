/* jsonl: the JSON Lines reader and writer — schema inference (types,
 * widening, mixed and nested values, sorted columns, sample_rows), reading
 * with a schema (keys ignoring case, missing and extra keys, every
 * conversion), malformed lines under each mode with their exact rows and
 * error texts, blank lines and CRLF, large inputs through the parallel
 * path on 1, 2 and 4 threads, FILE* and path inputs, the writer's text
 * for every type, write/read round trips, and the write modes on files. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include "test.h"
#include <math.h>
#include <stdint.h>

/* ------------------------------------------------------------ helpers */

static spk_session *session(int threads) {
    spk_session_options o;
    memset(&o, 0, sizeof o);
    o.threads = threads;
    spk_session *s = NULL;
    if (spk_session_new(&o, &s) != SPK_OK) fprintf(stderr, "session: %s\n", spk_last_error());
    return s;
}

static char *dup_text(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = (char *)malloc(n);
    if (!p) abort();
    memcpy(p, s, n);
    return p;
}

/* "DDL\nrows" (rows as table_text writes them) of a DataFrame, or
 * "ERROR <status>: <message>" when df is NULL; releases df. */
static char *df_result(spk_df *df) {
    if (!df) {
        sbuf b = {NULL, 0, 0};
        sb_str(&b, "ERROR ");
        sb_str(&b, spk_status_name(spk_last_status()));
        sb_str(&b, ": ");
        sb_str(&b, spk_last_error());
        return b.p;
    }
    spk_table *t = NULL;
    if (spk_df_collect(df, &t) != SPK_OK) {
        spk_df_release(df);
        return dup_text("<collect failed>");
    }
    char ddl[1024];
    spk_schema_ddl(spk_df_schema(df), ddl, sizeof ddl);
    char *rows = table_text(t);
    sbuf b = {NULL, 0, 0};
    sb_str(&b, ddl);
    sb_str(&b, "\n");
    sb_str(&b, rows);
    free(rows);
    spk_table_free(t);
    spk_df_release(df);
    return b.p;
}

typedef struct read_opts {
    const char *ddl; /* NULL: inferred */
    spk_read_mode mode;
    const char *corrupt;
    size_t sample_rows;
} read_opts;

static char *read_with(const char *text, size_t len, read_opts ro) {
    spk_session *s = session(1);
    spk_schema *schema = NULL;
    if (ro.ddl && spk_schema_parse(NULL, ro.ddl, &schema) != SPK_OK) {
        spk_session_free(s);
        return dup_text("<bad test schema>");
    }
    spk_json_options o;
    memset(&o, 0, sizeof o);
    o.schema = schema;
    o.mode = ro.mode;
    o.corrupt_column = ro.corrupt;
    o.sample_rows = ro.sample_rows;
    char *r = df_result(spk_read_json_buffer(s, text, len, &o));
    spk_schema_release(schema);
    spk_session_free(s);
    return r;
}

/* Reads text (NUL-terminated) and checks the result at the caller's line. */
#define CHECK_READ(text, ro, expected)                                                     \
    do {                                                                                   \
        char *got_ = read_with((text), strlen(text), (ro));                                \
        CHECK_STR(got_, (expected));                                                       \
        free(got_);                                                                        \
    } while (0)

static const read_opts INFER = {NULL, SPK_READ_PERMISSIVE, NULL, 0};

static read_opts with_schema(const char *ddl, spk_read_mode mode) {
    read_opts r = {ddl, mode, NULL, 0};
    return r;
}

/* The whole of a file, or NULL. */
static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    sbuf b = {NULL, 0, 0};
    sb_str(&b, "");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) sb_put(&b, buf, n);
    fclose(f);
    return b.p;
}

static bool spit(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    bool ok = fwrite(text, 1, strlen(text), f) == strlen(text);
    return fclose(f) == 0 && ok;
}

/* got starts with prefix. */
#define CHECK_PREFIX(got, prefix)                                                          \
    do {                                                                                   \
        const char *g_ = (got), *p_ = (prefix);                                            \
        if (!g_ || strncmp(g_, p_, strlen(p_)) != 0)                                       \
            failf(__FILE__, __LINE__, "expected a prefix \"%s\" of \"%.200s\"", p_, g_ ? g_ : "(null)"); \
    } while (0)

/* ------------------------------------------------------------ inference */

static void test_infer_types(void) {
    CHECK_READ("{\"b\": 1, \"a\": \"x\"}\n{\"a\": \"y\", \"c\": true}\n", INFER,
               "a STRING, b BIGINT, c BOOLEAN\nx,1,NULL|y,NULL,true");
    /* extreme BIGINTs stay BIGINT */
    CHECK_READ("{\"n\": 9223372036854775807}\n{\"n\": -9223372036854775808}\n", INFER,
               "n BIGINT\n9223372036854775807|-9223372036854775808");
    /* a fraction or exponent anywhere widens to DOUBLE */
    CHECK_READ("{\"n\": 1}\n{\"n\": 2.5}\n", INFER, "n DOUBLE\n1.0|2.5");
    CHECK_READ("{\"n\": 3}\n{\"n\": 1e2}\n{\"n\": -0.0}\n", INFER, "n DOUBLE\n3.0|100.0|-0.0");
    /* an integer too big for BIGINT is DOUBLE */
    CHECK_READ("{\"n\": 1}\n{\"n\": 9223372036854775808}\n", INFER, "n DOUBLE\n1.0|9.223372036854776E18");
    CHECK_READ("{\"n\": -99999999999999999999}\n", INFER, "n DOUBLE\n-1.0E20");
    CHECK_READ("{\"f\": false}\n{\"f\": true}\n{\"f\": null}\n", INFER, "f BOOLEAN\nfalse|true|NULL");
}

static void test_infer_mixed_nested_null(void) {
    /* mixed kinds are STRING, and every value reads as its text */
    CHECK_READ("{\"m\": 1}\n{\"m\": \"x\"}\n{\"m\": true}\n{\"m\": 2.50}\n", INFER, "m STRING\n1|x|true|2.50");
    /* nested values are STRING holding compact JSON text */
    CHECK_READ("{\"o\": { \"k\" : [ 1 , \"a\\\"b\\u00e9\\n\", null, {} ] }, \"l\": [ ]}\n", INFER,
               "l STRING, o STRING\n[],{\"k\":[1,\"a\\\"b\xC3\xA9\\n\",null,{}]}");
    CHECK_READ("{\"o\": {\"a\": 1}}\n{\"o\": \"text\"}\n", INFER, "o STRING\n{\"a\":1}|text");
    /* only null: STRING */
    CHECK_READ("{\"z\": null, \"a\": 1}\n{\"a\": 2}\n", INFER, "a BIGINT, z STRING\n1,NULL|2,NULL");
}

static void test_infer_sorted_and_case(void) {
    /* columns sorted by name as Spark sorts them (by code point: upper case first) */
    CHECK_READ("{\"b\": 1, \"B2\": 2, \"a\": 3, \"_x\": 4, \"Z\": 5}\n", INFER,
               "B2 BIGINT, Z BIGINT, _x BIGINT, a BIGINT, b BIGINT\n2,5,4,3,1");
    /* keys that differ only in case are one column, named by the first spelling */
    CHECK_READ("{\"Name\": \"a\"}\n{\"NAME\": \"b\", \"x\": 1}\n", INFER, "Name STRING, x BIGINT\na,NULL|b,1");
    /* keys that cannot name a column (empty) are left out */
    CHECK_READ("{\"\": 1, \"a\": 2}\n", INFER, "a BIGINT\n2");
}

static void test_infer_sample_rows(void) {
    read_opts ro = INFER;
    ro.sample_rows = 1;
    /* only the first line is sampled: b is not a column, a is BIGINT and 2.5 does not convert */
    CHECK_READ("{\"a\": 1}\n{\"a\": 2.5, \"b\": 1}\n{\"a\": 3}\n", ro, "a BIGINT\n1|NULL|3");
    ro.sample_rows = 2;
    CHECK_READ("{\"a\": 1}\n{\"a\": 2.5, \"b\": 1}\n{\"a\": 3}\n", ro, "a DOUBLE, b BIGINT\n1.0,NULL|2.5,1|3.0,NULL");
    /* blank lines are not samples */
    ro.sample_rows = 1;
    CHECK_READ("\n  \n{\"a\": true}\n{\"a\": 1}\n", ro, "a BOOLEAN\ntrue|NULL");
}

static void test_infer_corrupt_column(void) {
    read_opts ro = INFER;
    ro.corrupt = "_corrupt_record";
    /* a malformed sample adds the corrupt-record column (sorted in), as Spark does */
    CHECK_READ("{\"b\": 1}\n{\"b\": \n{\"a\": \"x\"}\n", ro,
               "_corrupt_record STRING, a STRING, b BIGINT\nNULL,NULL,1|{\"b\": ,NULL,NULL|NULL,x,NULL");
    /* none malformed: no such column */
    CHECK_READ("{\"b\": 1}\n", ro, "b BIGINT\n1");
    /* DROPMALFORMED: the column is not added and the line is gone */
    ro.mode = SPK_READ_DROPMALFORMED;
    CHECK_READ("{\"b\": 1}\n{\"b\": \n{\"b\": 2}\n", ro, "b BIGINT\n1|2");
    /* FAILFAST: inference reports the line */
    ro.mode = SPK_READ_FAILFAST;
    CHECK_READ("{\"b\": 1}\n[1]\n", ro, "ERROR SPK_ERR_PARSE: <buffer>:2:1: expected a JSON object, found an array");
}

static void test_empty_inputs(void) {
    CHECK_READ("", INFER, "\n");
    CHECK_READ("\n\r\n  \n", INFER, "\n");
    CHECK_READ("", with_schema("a INT", SPK_READ_FAILFAST), "a INT\n");
    /* a UTF-8 byte-order mark is skipped */
    CHECK_READ("\xEF\xBB\xBF{\"a\": 1}\n", INFER, "a BIGINT\n1");
}

/* ------------------------------------------------------------ with a schema */

static void test_schema_matching(void) {
    /* keys match ignoring case; missing keys and null are NULL; extra keys ignored */
    CHECK_READ("{\"name\": \"x\", \"age\": 3, \"extra\": [1]}\n{\"NAME\": \"y\"}\n{\"Age\": null, \"zzz\": 1}\n",
               with_schema("Name STRING, AGE INT", SPK_READ_FAILFAST), "Name STRING, AGE INT\nx,3|y,NULL|NULL,NULL");
    /* two keys for one column (differing in case) are a duplicate */
    CHECK_READ("{\"a\": 1, \"A\": 2}\n", with_schema("a INT", SPK_READ_FAILFAST),
               "ERROR SPK_ERR_PARSE: <buffer>:1:15 (`a`): duplicate key \"A\" (keys match columns ignoring case)");
    CHECK_READ("{\"a\": 1, \"A\": 2, \"b\": 3}\n", with_schema("a INT, b INT", SPK_READ_PERMISSIVE),
               "a INT, b INT\nNULL,3");
    /* NOT NULL columns read as nullable, as Spark reads files */
    CHECK_READ("{\"b\": 1}\n", with_schema("a INT NOT NULL, b INT", SPK_READ_FAILFAST), "a INT, b INT\nNULL,1");
}

static void test_schema_conversions(void) {
    const char *ddl = "i INT, l BIGINT, d DOUBLE, m DECIMAL(5,2), s STRING, b BOOLEAN, dt DATE, ts TIMESTAMP";
    read_opts ff = with_schema(ddl, SPK_READ_FAILFAST);
    CHECK_READ("{\"i\": -2147483648, \"l\": 5, \"d\": 7, \"m\": 1.005, \"s\": 12.50, \"b\": false,"
               " \"dt\": \"2024-02-29\", \"ts\": \"2024-01-02 03:04:05.123456\"}\n"
               "{\"i\": 2147483647, \"d\": \"NaN\", \"m\": \"-12.5\", \"s\": {\"x\": [true]}, \"ts\": \"2024-01-02T03:04:05Z\"}\n"
               "{\"d\": \"Infinity\", \"m\": 1e-3, \"s\": true, \"dt\": \" 2024-01-01 \"}\n"
               "{\"d\": \"-Infinity\", \"m\": 999.994, \"s\": \"\\u0001\\\\\"}\n"
               "{\"d\": 1e400, \"l\": -9223372036854775808}\n",
               ff,
               "i INT, l BIGINT, d DOUBLE, m DECIMAL(5,2), s STRING, b BOOLEAN, dt DATE, ts TIMESTAMP\n"
               "-2147483648,5,7.0,1.01,12.50,false,2024-02-29,2024-01-02 03:04:05.123456|"
               "2147483647,NULL,NaN,-12.50,{\"x\":[true]},NULL,NULL,2024-01-02 03:04:05|"
               "NULL,NULL,Infinity,0.00,true,NULL,2024-01-01,NULL|"
               "NULL,NULL,-Infinity,999.99,\x01\\,NULL,NULL,NULL|"
               "NULL,-9223372036854775808,Infinity,NULL,NULL,NULL,NULL,NULL");
    /* each value that does not convert, under FAILFAST: the column of the value and the column's name */
    CHECK_READ("{\"i\": 2147483648}", ff, "ERROR SPK_ERR_PARSE: <buffer>:1:7 (`i`): value 2147483648 is out of range for INT");
    CHECK_READ("{\"l\": 9223372036854775808}", ff,
               "ERROR SPK_ERR_PARSE: <buffer>:1:7 (`l`): value 9223372036854775808 is out of range for BIGINT");
    CHECK_READ("{\"i\": 1.5}", ff, "ERROR SPK_ERR_PARSE: <buffer>:1:7 (`i`): cannot parse 1.5 as INT");
    CHECK_READ("{\"i\": 1e2}", ff, "ERROR SPK_ERR_PARSE: <buffer>:1:7 (`i`): cannot parse 1e2 as INT");
    CHECK_READ("{\"i\": \"1\"}", ff, "ERROR SPK_ERR_PARSE: <buffer>:1:7 (`i`): cannot read a string as INT");
    CHECK_READ("{\"d\": \"abc\"}", ff, "ERROR SPK_ERR_PARSE: <buffer>:1:7 (`d`): cannot parse \"abc\" as DOUBLE");
    CHECK_READ("{\"d\": [1]}", ff, "ERROR SPK_ERR_PARSE: <buffer>:1:7 (`d`): cannot read an array as DOUBLE");
    CHECK_READ("{\"m\": 1000}", ff, "ERROR SPK_ERR_PARSE: <buffer>:1:7 (`m`): value 1000 is out of range for DECIMAL(5,2)");
    CHECK_READ("{\"m\": \"x1\"}", ff, "ERROR SPK_ERR_PARSE: <buffer>:1:7 (`m`): cannot parse \"x1\" as DECIMAL(5,2)");
    CHECK_READ("{\"b\": 1}", ff, "ERROR SPK_ERR_PARSE: <buffer>:1:7 (`b`): cannot read a number as BOOLEAN");
    CHECK_READ("{\"b\": \"true\"}", ff, "ERROR SPK_ERR_PARSE: <buffer>:1:7 (`b`): cannot read a string as BOOLEAN");
    CHECK_READ("{\"dt\": \"2024-02-30\"}", ff, "ERROR SPK_ERR_PARSE: <buffer>:1:8 (`dt`): cannot parse \"2024-02-30\" as DATE");
    CHECK_READ("{\"dt\": 20240101}", ff, "ERROR SPK_ERR_PARSE: <buffer>:1:8 (`dt`): cannot read a number as DATE");
    CHECK_READ("{\"ts\": \"2024-01-02 25:00:00\"}", ff,
               "ERROR SPK_ERR_PARSE: <buffer>:1:8 (`ts`): cannot parse \"2024-01-02 25:00:00\" as TIMESTAMP");
    CHECK_READ("{\"ts\": {}}", ff, "ERROR SPK_ERR_PARSE: <buffer>:1:8 (`ts`): cannot read an object as TIMESTAMP");
    /* columns count characters, not bytes */
    CHECK_READ("{\"s\": \"\xC3\xA9\xE2\x82\xAC\", \"i\": true}", ff,
               "ERROR SPK_ERR_PARSE: <buffer>:1:18 (`i`): cannot read true as INT");
    /* PERMISSIVE keeps the row: only the bad value is NULL */
    CHECK_READ("{\"i\": 2147483648, \"l\": 1, \"s\": \"ok\"}", with_schema(ddl, SPK_READ_PERMISSIVE),
               "i INT, l BIGINT, d DOUBLE, m DECIMAL(5,2), s STRING, b BOOLEAN, dt DATE, ts TIMESTAMP\n"
               "NULL,1,NULL,NULL,ok,NULL,NULL,NULL");
}

/* ------------------------------------------------------------ malformed lines */

static const char MIXED[] = "{\"a\":1,\"b\":\"x\"}\n"     /* 1 good */
                            "{\"a\":2,\"b\":\n"           /* 2 broken JSON */
                            "[1,2]\n"                     /* 3 not an object */
                            "{\"a\":3,\"a\":4}\n"         /* 4 duplicate key */
                            "{\"a\":\"q\",\"b\":\"y\"}\n" /* 5 a value that does not convert */
                            "{\"a\":5,\"b\":\"\xC3(\"}\n" /* 6 invalid UTF-8 */
                            "{\"a\":2147483648}\n"        /* 7 INT overflow */
                            "{\"a\":6,\"b\":\"z\"}\n";    /* 8 good */

static void test_malformed_permissive(void) {
    read_opts ro = with_schema("a INT, b STRING, _corrupt_record STRING", SPK_READ_PERMISSIVE);
    ro.corrupt = "_corrupt_record";
    CHECK_READ(MIXED, ro,
               "a INT, b STRING, _corrupt_record STRING\n"
               "1,x,NULL|"
               "NULL,NULL,{\"a\":2,\"b\":|"
               "NULL,NULL,[1,2]|"
               "NULL,NULL,{\"a\":3,\"a\":4}|"
               "NULL,y,{\"a\":\"q\",\"b\":\"y\"}|"
               "NULL,NULL,{\"a\":5,\"b\":\"\xEF\xBF\xBD(\"}|" /* ill-formed UTF-8 replaced, as Spark decodes it */
               "NULL,NULL,{\"a\":2147483648}|"
               "6,z,NULL");
    /* one U+FFFD per maximal subpart of an ill-formed sequence */
    CHECK_READ("{\"b\":\"\xE2\x82x\xF0\x9F\x98\xED\xA0\x80\xC0\xAF\xF4\x90\"}", ro,
               "a INT, b STRING, _corrupt_record STRING\n"
               "NULL,NULL,{\"b\":\"\xEF\xBF\xBDx\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
               "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"}");
    /* the corrupt column may be anywhere and takes no key of the input */
    read_opts ro2 = with_schema("_bad STRING, a INT", SPK_READ_PERMISSIVE);
    ro2.corrupt = "_BAD";
    CHECK_READ("{\"a\":1,\"_bad\":\"key\"}\n{\"a\":\"no\"}\n", ro2, "_bad STRING, a INT\nNULL,1|{\"a\":\"no\"},NULL");
    /* without a corrupt column the rows are kept with NULLs */
    CHECK_READ(MIXED, with_schema("a INT, b STRING", SPK_READ_PERMISSIVE),
               "a INT, b STRING\n1,x|NULL,NULL|NULL,NULL|NULL,NULL|NULL,y|NULL,NULL|NULL,NULL|6,z");
}

/* What PERMISSIVE reads (corrupt text included) writes out and reads back the same. */
static void test_corrupt_round_trip(void) {
    spk_session *s = session(1);
    spk_schema *schema = NULL;
    CHECK_OK(spk_schema_parse(NULL, "a INT, b STRING, _corrupt_record STRING", &schema));
    spk_json_options o;
    memset(&o, 0, sizeof o);
    o.schema = schema;
    o.corrupt_column = "_corrupt_record";
    spk_df *df = spk_read_json_buffer(s, MIXED, strlen(MIXED), &o);
    CHECK(df != NULL);
    char *json = NULL;
    size_t len = 0;
    CHECK_OK(spk_write_json_string(df, NULL, &json, &len));
    CHECK_CONTAINS(json, "{\"_corrupt_record\":\"{\\\"a\\\":5,\\\"b\\\":\\\"\xEF\xBF\xBD(\\\"}\"}\n");
    o.corrupt_column = NULL;
    o.mode = SPK_READ_FAILFAST;
    char *again = df_result(spk_read_json_buffer(s, json, len, &o));
    char *first = df_result(df);
    CHECK_STR(again, first);
    free(again);
    free(first);
    spk_string_free(json);
    spk_schema_release(schema);
    spk_session_free(s);
}

static void test_malformed_drop(void) {
    read_opts ro = with_schema("a INT, b STRING, _corrupt_record STRING", SPK_READ_DROPMALFORMED);
    ro.corrupt = "_corrupt_record";
    CHECK_READ(MIXED, ro, "a INT, b STRING, _corrupt_record STRING\n1,x,NULL|6,z,NULL");
    CHECK_READ(MIXED, with_schema("a INT, b STRING", SPK_READ_DROPMALFORMED), "a INT, b STRING\n1,x|6,z");
}

static void test_malformed_failfast(void) {
    read_opts ff = with_schema("a INT, b STRING", SPK_READ_FAILFAST);
    CHECK_READ(MIXED, ff, "ERROR SPK_ERR_PARSE: <buffer>:2:12: invalid JSON: expected a value, found end of input");
    CHECK_READ("{\"a\":1}\n[1,2]\n", ff, "ERROR SPK_ERR_PARSE: <buffer>:2:1: expected a JSON object, found an array");
    CHECK_READ("  \"s\"\n", ff, "ERROR SPK_ERR_PARSE: <buffer>:1:3: expected a JSON object, found a string");
    CHECK_READ("null\n", ff, "ERROR SPK_ERR_PARSE: <buffer>:1:1: expected a JSON object, found null");
    CHECK_READ("{\"a\":3,\"a\":4}\n", ff,
               "ERROR SPK_ERR_PARSE: <buffer>:1:8: invalid JSON: duplicate key \"a\" in an object");
    CHECK_READ("{\"a\":\"q\"}\n", ff, "ERROR SPK_ERR_PARSE: <buffer>:1:6 (`a`): cannot read a string as INT");
    CHECK_READ("{\"b\":\"\xC3(\"}\n", ff,
               "ERROR SPK_ERR_PARSE: <buffer>:1:7: invalid JSON: invalid UTF-8: a truncated UTF-8 sequence (byte 0xC3)");
    CHECK_READ("{\"b\":\"\xED\xA0\x80\"}\n", ff,
               "ERROR SPK_ERR_PARSE: <buffer>:1:7: invalid JSON: invalid UTF-8: a UTF-8 encoded surrogate "
               "(U+D800..U+DFFF) (byte 0xED)");
    CHECK_READ("{\"a\":2147483648}\n", ff,
               "ERROR SPK_ERR_PARSE: <buffer>:1:6 (`a`): value 2147483648 is out of range for INT");
    CHECK_READ("{\"a\":1} x\n", ff,
               "ERROR SPK_ERR_PARSE: <buffer>:1:9: invalid JSON: expected end of input after the value, found 'x'");
    CHECK_READ("{'a':1}\n", ff, "ERROR SPK_ERR_PARSE: <buffer>:1:2: invalid JSON: expected a string key or '}', found '''");
    CHECK_READ("{\"b\":\"\xC3\xA9\" , \"a\": tru}\n", ff,
               "ERROR SPK_ERR_PARSE: <buffer>:1:20: invalid JSON: expected 'true', found '}'");
    /* nesting beyond the parser's limit is a malformed line too */
    sbuf deep = {NULL, 0, 0};
    sb_str(&deep, "{\"a\":1,\"b\":");
    for (int i = 0; i < 70; i++) sb_str(&deep, "[");
    for (int i = 0; i < 70; i++) sb_str(&deep, "]");
    sb_str(&deep, "}\n");
    CHECK_READ(deep.p, ff, "ERROR SPK_ERR_PARSE: <buffer>:1:75: JSON nested deeper than 64 levels");
    CHECK_READ(deep.p, with_schema("a INT, b STRING", SPK_READ_PERMISSIVE), "a INT, b STRING\nNULL,NULL");
    free(deep.p);
}

static void test_blank_lines_and_crlf(void) {
    const char *text = "{\"a\":1}\r\n\r\n   \n\t\n{\"a\":2,\"s\":\"x\"}\r\n{\"a\":\r\n{\"a\":3}";
    read_opts ro = with_schema("a INT, s STRING, c STRING", SPK_READ_PERMISSIVE);
    ro.corrupt = "c";
    /* the corrupt text is the line without its \r\n; the last line needs no line break */
    CHECK_READ(text, ro, "a INT, s STRING, c STRING\n1,NULL,NULL|2,x,NULL|NULL,NULL,{\"a\":|3,NULL,NULL");
    /* line numbers count every line, blank ones included */
    CHECK_READ(text, with_schema("a INT", SPK_READ_FAILFAST),
               "ERROR SPK_ERR_PARSE: <buffer>:6:6: invalid JSON: expected a value, found end of input");
    /* a \r inside a line is whitespace to JSON */
    CHECK_READ("{\"a\":\r1}\n", INFER, "a BIGINT\n1");
}

static void test_bad_options(void) {
    spk_session *s = session(1);
    spk_schema *schema = NULL;
    CHECK_OK(spk_schema_parse(NULL, "a INT, c STRING", &schema));
    spk_json_options o;
    memset(&o, 0, sizeof o);
    o.schema = schema;
    o.corrupt_column = "missing";
    CHECK(spk_read_json_buffer(s, "{}", 2, &o) == NULL);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_ARG);
    CHECK_CONTAINS(spk_last_error(), "corrupt_column `missing` is not a STRING column of the schema");
    o.corrupt_column = "a"; /* not a STRING */
    CHECK(spk_read_json_buffer(s, "{}", 2, &o) == NULL);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_ARG);
    o.corrupt_column = "";
    CHECK(spk_read_json_buffer(s, "{}", 2, &o) == NULL);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_ARG);
    o.corrupt_column = "C"; /* matches ignoring case */
    spk_df *df = spk_read_json_buffer(s, "{}", 2, &o);
    CHECK(df != NULL);
    spk_df_release(df);
    o.corrupt_column = NULL;
    o.mode = (spk_read_mode)7;
    CHECK(spk_read_json_buffer(s, "{}", 2, &o) == NULL);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_ARG);
    CHECK(spk_read_json_buffer(NULL, "{}", 2, NULL) == NULL);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_ARG);
    CHECK(spk_read_json_file(s, NULL, NULL) == NULL);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_ARG);
    CHECK(spk_read_json(s, "/nonexistent/dir/x.json", NULL) == NULL);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_IO);
    CHECK_CONTAINS(spk_last_error(), "/nonexistent/dir/x.json");
    spk_schema_release(schema);
    spk_session_free(s);
}

/* ------------------------------------------------------------ parallel reading */

/* n lines; every 9973rd (from line 5000) does not convert, every 30011th
 * is broken JSON, every 1000th is blank. `clean`: instead, only lines
 * 150000 (not an object) and 190000 (broken) are malformed. */
static char *big_input(int n, bool clean, size_t *len) {
    sbuf b = {NULL, 0, 0};
    char line[256];
    for (int i = 1; i <= n; i++) {
        if (clean ? i == 190000 : i % 30011 == 0) snprintf(line, sizeof line, "{\"id\": %d, \"name\": \"broken\n", i);
        else if (clean && i == 150000) snprintf(line, sizeof line, "[%d]\n", i);
        else if (!clean && i % 9973 == 5000) snprintf(line, sizeof line, "{\"id\": %d, \"v\": \"bad\"}\r\n", i);
        else if (i % 1000 == 0) snprintf(line, sizeof line, "\n");
        else
            snprintf(line, sizeof line, "{\"id\": %d, \"name\": \"n\\u00e9%d \\\"q\\\"\", \"v\": %d.5, \"flag\": %s, \"o\": {\"k\": [%d]}}\n",
                     i, i * 7, i - 100000, i % 3 ? "true" : "false", i % 5);
        sb_str(&b, line);
    }
    *len = b.len;
    return b.p;
}

static char *read_big(int threads, const char *text, size_t len, spk_read_mode mode, const char *ddl,
                      const char *corrupt, size_t sample_rows) {
    spk_session *s = session(threads);
    spk_schema *schema = NULL;
    if (ddl) spk_schema_parse(NULL, ddl, &schema);
    spk_json_options o;
    memset(&o, 0, sizeof o);
    o.schema = schema;
    o.mode = mode;
    o.corrupt_column = corrupt;
    o.sample_rows = sample_rows;
    char *r = df_result(spk_read_json_buffer(s, text, len, &o));
    spk_schema_release(schema);
    spk_session_free(s);
    return r;
}

static void test_parallel_large(void) {
    size_t len;
    char *text = big_input(200000, false, &len);
    CHECK(len > 8u << 20); /* several slices */
    const char *ddl = "id INT, name STRING, v DOUBLE, flag BOOLEAN, o STRING, bad STRING";
    char *expect = read_big(1, text, len, SPK_READ_PERMISSIVE, ddl, "bad", 0);
    /* the expected rows, built here independently */
    sbuf want = {NULL, 0, 0};
    sb_str(&want, "id INT, name STRING, v DOUBLE, flag BOOLEAN, o STRING, bad STRING\n");
    char row[256];
    bool first = true;
    for (int i = 1; i <= 200000; i++) {
        if (i % 30011 == 0) snprintf(row, sizeof row, "NULL,NULL,NULL,NULL,NULL,{\"id\": %d, \"name\": \"broken", i);
        else if (i % 9973 == 5000) snprintf(row, sizeof row, "%d,NULL,NULL,NULL,NULL,{\"id\": %d, \"v\": \"bad\"}", i, i);
        else if (i % 1000 == 0) continue;
        else
            snprintf(row, sizeof row, "%d,n\xC3\xA9%d \"q\",%d.5,%s,{\"k\":[%d]},NULL", i, i * 7, i - 100000,
                     i % 3 ? "true" : "false", i % 5);
        if (!first) sb_str(&want, "|");
        first = false;
        sb_str(&want, row);
    }
    CHECK(expect && strcmp(expect, want.p) == 0);
    if (expect && strcmp(expect, want.p) != 0) {
        size_t k = 0;
        while (expect[k] && expect[k] == want.p[k]) k++;
        failf(__FILE__, __LINE__, "differs at byte %zu: got \"%.80s\" want \"%.80s\"", k, expect + k, want.p + k);
    }
    free(want.p);
    const int counts[] = {2, 4};
    for (int k = 0; k < 2; k++) {
        char *got = read_big(counts[k], text, len, SPK_READ_PERMISSIVE, ddl, "bad", 0);
        CHECK(got && expect && strcmp(got, expect) == 0);
        free(got);
    }
    free(expect);

    /* inferred (from the whole input, and from a sample) */
    char *inferred = read_big(1, text, len, SPK_READ_DROPMALFORMED, NULL, NULL, 0);
    CHECK_PREFIX(inferred, "flag BOOLEAN, id BIGINT, name STRING, o STRING, v STRING\n"
                           "true,1,n\xC3\xA9" "7 \"q\",{\"k\":[1]},-99999.5|true,2,");
    char *got = read_big(4, text, len, SPK_READ_DROPMALFORMED, NULL, NULL, 0);
    CHECK(got && strcmp(got, inferred) == 0);
    free(got);
    free(inferred);
    char *sampled = read_big(1, text, len, SPK_READ_DROPMALFORMED, NULL, NULL, 100);
    CHECK_PREFIX(sampled, "flag BOOLEAN, id BIGINT, name STRING, o STRING, v DOUBLE\n"
                          "true,1,n\xC3\xA9" "7 \"q\",{\"k\":[1]},-99999.5|true,2,");
    CHECK(strstr(sampled, ",4999,") && !strstr(sampled, ",5000,") && strstr(sampled, ",5001,"));
    got = read_big(4, text, len, SPK_READ_DROPMALFORMED, NULL, NULL, 100);
    CHECK(got && strcmp(got, sampled) == 0);
    free(got);
    free(sampled);

    /* FAILFAST names the first malformed line, whichever slice fails first */
    for (int threads = 1; threads <= 4; threads *= 4) {
        got = read_big(threads, text, len, SPK_READ_FAILFAST, ddl, NULL, 0);
        CHECK_STR(got, "ERROR SPK_ERR_PARSE: <buffer>:5000:19 (`v`): cannot parse \"bad\" as DOUBLE");
        free(got);
    }
    free(text);
    /* malformed lines far into the input, in later slices: the first is reported */
    text = big_input(200000, true, &len);
    for (int threads = 1; threads <= 4; threads *= 2) {
        got = read_big(threads, text, len, SPK_READ_FAILFAST, ddl, NULL, 0);
        CHECK_STR(got, "ERROR SPK_ERR_PARSE: <buffer>:150000:1: expected a JSON object, found an array");
        free(got);
        if (threads < 4) continue;
        spk_session *s = session(threads);
        spk_json_options o;
        memset(&o, 0, sizeof o);
        o.mode = SPK_READ_DROPMALFORMED;
        spk_df *df = spk_read_json_buffer(s, text, len, &o);
        int64_t n = -1;
        CHECK_OK(spk_df_count(df, &n));
        CHECK_EQ_INT(n, 200000 - 198 - 2); /* 198 blank lines (150000 and 190000 are not), 2 dropped */
        spk_df_release(df);
        spk_session_free(s);
    }
    free(text);
}

/* Lines longer than a slice: a slice runs to the end of the line it cuts into. */
static void test_parallel_long_lines(void) {
    sbuf b = {NULL, 0, 0};
    size_t big = (size_t)1300 << 10;
    char *xs = (char *)malloc(big + 1);
    if (!xs) abort();
    memset(xs, 'x', big);
    xs[big] = '\0';
    for (int i = 0; i < 4; i++) {
        char line[64];
        snprintf(line, sizeof line, "{\"a\": %d}\n{\"s\": \"", i);
        sb_str(&b, line);
        sb_put(&b, xs, big - (size_t)i);
        sb_str(&b, i == 3 ? "\"}" : "\"}\r\n");
    }
    free(xs);
    for (int threads = 1; threads <= 4; threads *= 4) {
        spk_session *s = session(threads);
        spk_df *df = spk_read_json_buffer(s, b.p, b.len, NULL);
        spk_table *t = NULL;
        CHECK(df != NULL);
        if (df) CHECK_OK(spk_df_collect(df, &t));
        CHECK_EQ_INT(t ? spk_table_nrows(t) : 0, 8);
        for (size_t r = 0; t && r < spk_table_nrows(t) && r < 8; r++) {
            spk_value a, str;
            CHECK_OK(spk_table_get(t, r, 0, &a));
            CHECK_OK(spk_table_get(t, r, 1, &str));
            if (r % 2 == 0) CHECK(!a.is_null && a.as.i64 == (int64_t)(r / 2) && str.is_null);
            else CHECK(a.is_null && !str.is_null && str.as.str.len == big - r / 2);
        }
        spk_table_free(t);
        spk_df_release(df);
        spk_session_free(s);
    }
    free(b.p);
}

/* ------------------------------------------------------------ files */

static void test_file_and_path(void) {
    char dir[512], path[600];
    CHECK(make_temp_dir(dir, sizeof dir, "spk_jsonl"));
    snprintf(path, sizeof path, "%s/in.json", dir);
    CHECK(spit(path, "{\"a\": 1, \"b\": \"x\"}\n{\"a\": 2}\n{\"a\": \n"));
    spk_session *s = session(1);
    char *got = df_result(spk_read_json(s, path, NULL));
    CHECK_STR(got, "a BIGINT, b STRING\n1,x|2,NULL|NULL,NULL");
    free(got);
    spk_json_options o;
    memset(&o, 0, sizeof o);
    o.mode = SPK_READ_FAILFAST;
    got = df_result(spk_read_json(s, path, &o));
    sbuf want = {NULL, 0, 0};
    sb_str(&want, "ERROR SPK_ERR_PARSE: ");
    sb_str(&want, path);
    sb_str(&want, ":3:7: invalid JSON: expected a value, found end of input");
    CHECK_STR(got, want.p);
    free(want.p);
    free(got);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (f) {
        got = df_result(spk_read_json_file(s, f, NULL));
        CHECK_STR(got, "a BIGINT, b STRING\n1,x|2,NULL|NULL,NULL");
        free(got);
        rewind(f);
        got = df_result(spk_read_json_file(s, f, &o));
        CHECK_STR(got, "ERROR SPK_ERR_PARSE: <FILE*>:3:7: invalid JSON: expected a value, found end of input");
        free(got);
        fclose(f);
    }
    spk_session_free(s);
    rm_tree(dir);
}

/* ------------------------------------------------------------ writing */

static spk_df *all_types_df(spk_session *s) {
    spk_schema *schema = NULL;
    if (spk_schema_parse(NULL, "b BOOLEAN, i INT, l BIGINT, d DOUBLE, m DECIMAL(18,4), s STRING, dt DATE, ts TIMESTAMP",
                         &schema) != SPK_OK)
        return NULL;
    spk_table *t = NULL;
    spk_table_new(NULL, schema, &t);
    spk_schema_release(schema);
    int32_t d1, d2;
    int64_t ts1, ts2;
    spk_date_from_ymd(2024, 2, 29, &d1);
    spk_date_from_ymd(1, 1, 1, &d2);
    spk_timestamp_from_parts(2024, 1, 2, 3, 4, 5, 123456, &ts1);
    spk_timestamp_from_parts(1969, 12, 31, 23, 59, 59, 0, &ts2);
    static const char nasty[] = "q\"b\\s/\n\r\t\b\f\x01\x1f\x7f \xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\0end";
    /* (INT64_MIN itself is not used: spk_value_parse overflows reading its text back; see types.c) */
    spk_value rows[][8] = {
        {spk_value_bool(true), spk_value_i32(INT32_MIN), spk_value_i64(INT64_MIN), spk_value_f64(0.1),
         spk_value_decimal(-999999999999999999LL, 18, 4), spk_value_strn(nasty, sizeof nasty - 1), spk_value_date(d1),
         spk_value_timestamp(ts1)},
        {spk_value_bool(false), spk_value_i32(INT32_MAX), spk_value_i64(INT64_MAX), spk_value_f64(-0.0),
         spk_value_decimal(5, 18, 4), spk_value_str(""), spk_value_date(d2), spk_value_timestamp(ts2)},
        {spk_value_null(), spk_value_null(), spk_value_null(), spk_value_f64(NAN), spk_value_null(), spk_value_null(),
         spk_value_date(2932897), spk_value_timestamp(INT64_MIN + 86400000000LL)},
        {spk_value_null(), spk_value_i32(0), spk_value_i64(0), spk_value_f64(INFINITY), spk_value_decimal(0, 18, 4),
         spk_value_str("null"), spk_value_null(), spk_value_null()},
        {spk_value_null(), spk_value_null(), spk_value_null(), spk_value_f64(-INFINITY), spk_value_null(),
         spk_value_null(), spk_value_date(-719529), spk_value_timestamp(INT64_MAX)},
        {spk_value_null(), spk_value_null(), spk_value_null(), spk_value_f64(1e7), spk_value_null(), spk_value_null(),
         spk_value_null(), spk_value_null()},
        {spk_value_null(), spk_value_null(), spk_value_null(), spk_value_f64(4.9e-324), spk_value_null(),
         spk_value_null(), spk_value_null(), spk_value_null()},
        {spk_value_null(), spk_value_null(), spk_value_null(), spk_value_f64(1.7976931348623157e308), spk_value_null(),
         spk_value_null(), spk_value_null(), spk_value_null()},
        {spk_value_null(), spk_value_null(), spk_value_null(), spk_value_f64(-1.5e-5), spk_value_null(),
         spk_value_null(), spk_value_null(), spk_value_null()},
        {spk_value_null(), spk_value_null(), spk_value_null(), spk_value_null(), spk_value_null(), spk_value_null(),
         spk_value_null(), spk_value_null()},
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++)
        if (spk_table_append_row(t, rows[r], 8) != SPK_OK) fprintf(stderr, "append: %s\n", spk_last_error());
    spk_df *df = spk_df_from_table(s, t);
    if (!df) spk_table_free(t);
    return df;
}

static const char ALL_TYPES_JSON[] =
    "{\"b\":true,\"i\":-2147483648,\"l\":-9223372036854775808,\"d\":0.1,\"m\":-99999999999999.9999,"
    "\"s\":\"q\\\"b\\\\s/\\n\\r\\t\\b\\f\\u0001\\u001f\x7f \xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\\u0000end\","
    "\"dt\":\"2024-02-29\",\"ts\":\"2024-01-02 03:04:05.123456\"}\n"
    "{\"b\":false,\"i\":2147483647,\"l\":9223372036854775807,\"d\":-0.0,\"m\":0.0005,\"s\":\"\","
    "\"dt\":\"0001-01-01\",\"ts\":\"1969-12-31 23:59:59\"}\n"
    "{\"d\":\"NaN\",\"dt\":\"+10000-01-01\",\"ts\":\"-290308-12-22 19:59:05.224192\"}\n"
    "{\"i\":0,\"l\":0,\"d\":\"Infinity\",\"m\":0.0000,\"s\":\"null\"}\n"
    "{\"d\":\"-Infinity\",\"dt\":\"-0001-12-31\",\"ts\":\"+294247-01-10 04:00:54.775807\"}\n"
    "{\"d\":1.0E7}\n"
    "{\"d\":4.9E-324}\n"
    "{\"d\":1.7976931348623157E308}\n"
    "{\"d\":-1.5E-5}\n"
    "{}\n";

static void test_write_text(void) {
    spk_session *s = session(1);
    spk_df *df = all_types_df(s);
    CHECK(df != NULL);
    char *out = NULL;
    size_t len = 0;
    CHECK_OK(spk_write_json_string(df, NULL, &out, &len));
    CHECK_STR(out, ALL_TYPES_JSON);
    CHECK_EQ_INT(len, sizeof ALL_TYPES_JSON - 1);
    spk_string_free(out);
    /* write_nulls: every key, NULL as null */
    spk_json_write_options w;
    memset(&w, 0, sizeof w);
    w.write_nulls = true;
    CHECK_OK(spk_write_json_string(df, &w, &out, &len));
    const char *last = out ? strstr(out, "{\"b\":null,\"i\":null,\"l\":null,\"d\":null") : NULL;
    CHECK_STR(last, "{\"b\":null,\"i\":null,\"l\":null,\"d\":null,\"m\":null,\"s\":null,\"dt\":null,\"ts\":null}\n");
    CHECK_CONTAINS(out, "{\"b\":null,\"i\":null,\"l\":null,\"d\":\"NaN\",\"m\":null,");
    spk_string_free(out);
    spk_df_release(df);
    spk_session_free(s);
}

/* Every value of a and b equal, doubles bit for bit (NaN to NaN, -0.0 to -0.0). */
static void check_same_rows(const spk_table *a, const spk_table *b) {
    CHECK_EQ_INT(spk_table_nrows(a), spk_table_nrows(b));
    int ncols = spk_schema_ncols(spk_table_schema(a));
    CHECK_EQ_INT(ncols, spk_schema_ncols(spk_table_schema(b)));
    for (size_t r = 0; r < spk_table_nrows(a) && r < spk_table_nrows(b); r++)
        for (int c = 0; c < ncols; c++) {
            spk_value x, y;
            if (spk_table_get(a, r, c, &x) != SPK_OK || spk_table_get(b, r, c, &y) != SPK_OK) {
                failf(__FILE__, __LINE__, "get failed at row %zu col %d", r, c);
                continue;
            }
            bool same = x.is_null == y.is_null && spk_type_equal(x.type, y.type);
            if (same && !x.is_null) {
                if (x.type.id == SPK_TYPE_DOUBLE) same = memcmp(&x.as.f64, &y.as.f64, sizeof(double)) == 0 ||
                                                         (isnan(x.as.f64) && isnan(y.as.f64));
                else if (x.type.id == SPK_TYPE_STRING)
                    same = x.as.str.len == y.as.str.len && memcmp(x.as.str.ptr, y.as.str.ptr, x.as.str.len) == 0;
                else same = spk_value_equal(&x, &y);
            }
            if (!same) failf(__FILE__, __LINE__, "row %zu column %d differs after the round trip", r, c);
        }
}

static void test_round_trip(void) {
    spk_session *s = session(1);
    spk_df *df = all_types_df(s);
    spk_table *orig = NULL;
    CHECK_OK(spk_df_collect(df, &orig));
    for (int nulls = 0; nulls < 2; nulls++) {
        spk_json_write_options w;
        memset(&w, 0, sizeof w);
        w.write_nulls = nulls;
        char *out = NULL;
        size_t len = 0;
        CHECK_OK(spk_write_json_string(df, &w, &out, &len));
        spk_json_options o;
        memset(&o, 0, sizeof o);
        o.schema = spk_df_schema(df);
        o.mode = SPK_READ_FAILFAST;
        spk_df *back = spk_read_json_buffer(s, out, len, &o);
        CHECK(back != NULL);
        spk_table *t = NULL;
        if (back) CHECK_OK(spk_df_collect(back, &t));
        if (t && orig) check_same_rows(orig, t);
        /* and written again, the same text */
        char *again = NULL;
        if (back) CHECK_OK(spk_write_json_string(back, &w, &again, NULL));
        CHECK_STR(again, out);
        spk_string_free(again);
        spk_table_free(t);
        spk_df_release(back);
        spk_string_free(out);
    }
    spk_table_free(orig);
    spk_df_release(df);
    spk_session_free(s);
}

/* Two rows, the second's string not UTF-8. */
static spk_df *bad_utf8_df(spk_session *s) {
    spk_schema *schema = NULL;
    spk_schema_parse(NULL, "k INT, s STRING", &schema);
    spk_table *t = NULL;
    spk_table_new(NULL, schema, &t);
    spk_schema_release(schema);
    spk_table_append(t, spk_value_i32(1), spk_value_str("ok"));
    spk_table_append(t, spk_value_i32(2), spk_value_str("bad \xFF"));
    return spk_df_from_table(s, t);
}

static void test_write_errors(void) {
    spk_session *s = session(1);
    /* a string that is not UTF-8 cannot be JSON text */
    spk_df *df = bad_utf8_df(s);
    char *out = NULL;
    CHECK_STATUS(spk_write_json_string(df, NULL, &out, NULL), SPK_ERR_ARG);
    CHECK(out == NULL);
    CHECK_CONTAINS(spk_last_error(), "row 2, column `s`: the string is not UTF-8 (byte 0xFF at offset 4)");
    spk_df_release(df);
    /* two columns of one name would be a duplicate key */
    spk_df *fx = spk_df_from_fixture(s, "a INT, b INT\n1,2");
    spk_df *dup = fx ? spk_df_select_expr(fx, 2, "a", "b AS A") : NULL;
    if (dup) {
        CHECK_STATUS(spk_write_json_string(dup, NULL, &out, NULL), SPK_ERR_ANALYSIS);
        CHECK_CONTAINS(spk_last_error(), "[COLUMN_ALREADY_EXISTS]");
    }
    spk_df_release(dup);
    spk_df_release(fx);
    CHECK_STATUS(spk_write_json_string(NULL, NULL, &out, NULL), SPK_ERR_ARG);
    spk_session_free(s);
}

static void test_write_modes(void) {
    char dir[512], path[600];
    CHECK(make_temp_dir(dir, sizeof dir, "spk_jsonl_w"));
    snprintf(path, sizeof path, "%s/out.json", dir);
    spk_session *s = session(1);
    spk_df *one = spk_df_from_fixture(s, "a INT, b STRING\n1,x\nNULL,y");
    spk_df *two = spk_df_from_fixture(s, "a INT, b STRING\n2,z");
    spk_json_write_options w;
    memset(&w, 0, sizeof w);
    CHECK_OK(spk_write_json(one, path, &w)); /* error mode, no file yet */
    char *text = slurp(path);
    CHECK_STR(text, "{\"a\":1,\"b\":\"x\"}\n{\"b\":\"y\"}\n");
    free(text);
    CHECK_STATUS(spk_write_json(two, path, &w), SPK_ERR_EXISTS);
    w.mode = SPK_WRITE_IGNORE;
    CHECK_OK(spk_write_json(two, path, &w));
    text = slurp(path);
    CHECK_STR(text, "{\"a\":1,\"b\":\"x\"}\n{\"b\":\"y\"}\n");
    free(text);
    w.mode = SPK_WRITE_APPEND;
    CHECK_OK(spk_write_json(two, path, &w));
    text = slurp(path);
    CHECK_STR(text, "{\"a\":1,\"b\":\"x\"}\n{\"b\":\"y\"}\n{\"a\":2,\"b\":\"z\"}\n");
    free(text);
    char *got = df_result(spk_read_json(s, path, NULL));
    CHECK_STR(got, "a BIGINT, b STRING\n1,x|NULL,y|2,z");
    free(got);
    w.mode = SPK_WRITE_OVERWRITE;
    CHECK_OK(spk_write_json(two, path, &w));
    text = slurp(path);
    CHECK_STR(text, "{\"a\":2,\"b\":\"z\"}\n");
    free(text);
    w.mode = SPK_WRITE_INSERT;
    CHECK_STATUS(spk_write_json(two, path, &w), SPK_ERR_ARG);
    /* a write that fails (a string that is not UTF-8, in its last row) leaves the file as it was */
    spk_df *bad = bad_utf8_df(s);
    CHECK(bad != NULL);
    w.mode = SPK_WRITE_APPEND;
    CHECK_STATUS(spk_write_json(bad, path, &w), SPK_ERR_ARG);
    w.mode = SPK_WRITE_OVERWRITE;
    CHECK_STATUS(spk_write_json(bad, path, &w), SPK_ERR_ARG);
    text = slurp(path);
    CHECK_STR(text, "{\"a\":2,\"b\":\"z\"}\n");
    free(text);
    spk_df_release(bad);
    /* a FILE* */
    char fpath[600];
    snprintf(fpath, sizeof fpath, "%s/f.json", dir);
    FILE *f = fopen(fpath, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK_OK(spk_write_json_file(one, f, NULL));
        CHECK_OK(spk_write_json_file(two, f, NULL));
        fclose(f);
        text = slurp(fpath);
        CHECK_STR(text, "{\"a\":1,\"b\":\"x\"}\n{\"b\":\"y\"}\n{\"a\":2,\"b\":\"z\"}\n");
        free(text);
    }
    /* only the files written: no temporary file left behind */
    int entries = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) entries += e->d_name[0] != '.';
    if (d) closedir(d);
    CHECK_EQ_INT(entries, 2);
    spk_df_release(one);
    spk_df_release(two);
    spk_session_free(s);
    rm_tree(dir);
}

int main(void) {
    RUN(test_infer_types);
    RUN(test_infer_mixed_nested_null);
    RUN(test_infer_sorted_and_case);
    RUN(test_infer_sample_rows);
    RUN(test_infer_corrupt_column);
    RUN(test_empty_inputs);
    RUN(test_schema_matching);
    RUN(test_schema_conversions);
    RUN(test_malformed_permissive);
    RUN(test_corrupt_round_trip);
    RUN(test_malformed_drop);
    RUN(test_malformed_failfast);
    RUN(test_blank_lines_and_crlf);
    RUN(test_bad_options);
    RUN(test_parallel_large);
    RUN(test_parallel_long_lines);
    RUN(test_file_and_path);
    RUN(test_write_text);
    RUN(test_round_trip);
    RUN(test_write_errors);
    RUN(test_write_modes);
    return TEST_REPORT();
}
