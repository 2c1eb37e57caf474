/* schema: DDL parsing, errors with a caret, construction, lookup, equality,
 * printSchema's tree, DDL round trips, reference counts. */
#include "test.h"

/* Field i is called `name`, has type `id` (and for decimals p,s), nullability. */
static void check_field_at(const char *file, int line, const spk_schema *s, int i, const char *name,
                           int id, int p, int sc, bool nullable) {
    const spk_field *f = s ? spk_schema_field(s, i) : NULL;
    if (!f) {
        fprintf(stderr, "%s:%d: %s: field %d missing\n", file, line, spk_test_current, i);
        spk_test_current_failed = 1;
        return;
    }
    int bad = !f->name || strcmp(f->name, name) != 0 || f->type.id != id || f->nullable != nullable ||
              (id == SPK_TYPE_DECIMAL && (f->type.precision != p || f->type.scale != sc));
    if (bad) {
        fprintf(stderr,
                "%s:%d: %s: field %d is (%s, id %d, %d,%d, nullable %d), expected (%s, id %d, %d,%d, "
                "nullable %d)\n",
                file, line, spk_test_current, i, f->name ? f->name : "(null)", f->type.id,
                f->type.precision, f->type.scale, f->nullable, name, id, p, sc, nullable);
        spk_test_current_failed = 1;
    }
}
#define CHECK_FIELD(s, i, name, id, p, sc, nullable) \
    check_field_at(__FILE__, __LINE__, (s), (i), (name), (id), (p), (sc), (nullable))

/* Parses `ddl`, which must succeed with `ncols` columns. */
static spk_schema *parse_ok(const char *ddl, int ncols) {
    spk_schema *s = NULL;
    spk_status st = spk_schema_parse(NULL, ddl, &s);
    if (st != SPK_OK || !s) {
        fprintf(stderr, "%s: parse of \"%s\" failed: %s %s\n", spk_test_current, ddl,
                spk_status_name(st), spk_last_error());
        spk_test_current_failed = 1;
        return NULL;
    }
    if (spk_schema_ncols(s) != ncols) {
        fprintf(stderr, "%s: \"%s\" has %d columns, expected %d\n", spk_test_current, ddl,
                spk_schema_ncols(s), ncols);
        spk_test_current_failed = 1;
    }
    return s;
}

/* The message shows the offending line with a caret under a byte in
 * [lo, hi] of `ddl`, and names that position as Spark does ("pos N"). */
static void check_caret_at(const char *file, int line, const char *msg, const char *shown, int lo,
                           int hi) {
    const char *l = NULL, *c = NULL, *p = msg;
    /* the line holding `shown` as a whole line, and the last line holding '^' */
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (!l && n == strlen(shown) && strncmp(p, shown, n) == 0) l = p;
        else if (l && memchr(p, '^', n)) c = p;
        p += n + (e ? 1 : 0);
    }
    if (!l || !c) {
        fprintf(stderr, "%s:%d: %s: no text line \"%s\" followed by a caret line in:\n%s\n", file,
                line, spk_test_current, shown, msg);
        spk_test_current_failed = 1;
        return;
    }
    int at = (int)(strchr(c, '^') - c);
    if (at < lo || at > hi) {
        fprintf(stderr, "%s:%d: %s: caret at %d, expected %d..%d in:\n%s\n", file, line,
                spk_test_current, at, lo, hi, msg);
        spk_test_current_failed = 1;
        return;
    }
    char pos[32];
    snprintf(pos, sizeof pos, "pos %d", at);
    if (!strstr(msg, pos)) {
        fprintf(stderr, "%s:%d: %s: message does not name \"%s\":\n%s\n", file, line,
                spk_test_current, pos, msg);
        spk_test_current_failed = 1;
    }
}
#define CHECK_CARET(msg, shown, lo, hi) check_caret_at(__FILE__, __LINE__, (msg), (shown), (lo), (hi))

/* ------------------------------------------------------------ parsing */

static void test_parse_type_names(void) {
    spk_schema *s = parse_ok("a int, b integer, c bigint, d long, e double, f string, g boolean, "
                             "h bool, i date, j timestamp",
                             10);
    CHECK_FIELD(s, 0, "a", SPK_TYPE_INT32, 0, 0, true);
    CHECK_FIELD(s, 1, "b", SPK_TYPE_INT32, 0, 0, true);
    CHECK_FIELD(s, 2, "c", SPK_TYPE_INT64, 0, 0, true);
    CHECK_FIELD(s, 3, "d", SPK_TYPE_INT64, 0, 0, true);
    CHECK_FIELD(s, 4, "e", SPK_TYPE_DOUBLE, 0, 0, true);
    CHECK_FIELD(s, 5, "f", SPK_TYPE_STRING, 0, 0, true);
    CHECK_FIELD(s, 6, "g", SPK_TYPE_BOOLEAN, 0, 0, true);
    CHECK_FIELD(s, 7, "h", SPK_TYPE_BOOLEAN, 0, 0, true);
    CHECK_FIELD(s, 8, "i", SPK_TYPE_DATE, 0, 0, true);
    CHECK_FIELD(s, 9, "j", SPK_TYPE_TIMESTAMP, 0, 0, true);
    spk_schema_release(s);
}

static void test_parse_case_insensitive(void) {
    spk_schema *s = parse_ok("Id INT, NAME String, Price DeCiMaL(7,3), When TimeStamp, D DATE, "
                             "Ok BOOLEAN, Big BIGINT, X Double",
                             8);
    CHECK_FIELD(s, 0, "Id", SPK_TYPE_INT32, 0, 0, true); /* names keep their case */
    CHECK_FIELD(s, 1, "NAME", SPK_TYPE_STRING, 0, 0, true);
    CHECK_FIELD(s, 2, "Price", SPK_TYPE_DECIMAL, 7, 3, true);
    CHECK_FIELD(s, 3, "When", SPK_TYPE_TIMESTAMP, 0, 0, true);
    CHECK_FIELD(s, 4, "D", SPK_TYPE_DATE, 0, 0, true);
    CHECK_FIELD(s, 5, "Ok", SPK_TYPE_BOOLEAN, 0, 0, true);
    CHECK_FIELD(s, 6, "Big", SPK_TYPE_INT64, 0, 0, true);
    CHECK_FIELD(s, 7, "X", SPK_TYPE_DOUBLE, 0, 0, true);
    spk_schema_release(s);
}

static void test_parse_decimal_forms(void) {
    spk_schema *s = parse_ok("a decimal(15,2), b DECIMAL, c decimal(5), d dec(7,3), e numeric(4), "
                             "f NUMERIC, g decimal(18,18), h decimal( 9 , 4 ), i decimal(1,0)",
                             9);
    CHECK_FIELD(s, 0, "a", SPK_TYPE_DECIMAL, 15, 2, true);
    CHECK_FIELD(s, 1, "b", SPK_TYPE_DECIMAL, 10, 0, true);
    CHECK_FIELD(s, 2, "c", SPK_TYPE_DECIMAL, 5, 0, true);
    CHECK_FIELD(s, 3, "d", SPK_TYPE_DECIMAL, 7, 3, true);
    CHECK_FIELD(s, 4, "e", SPK_TYPE_DECIMAL, 4, 0, true);
    CHECK_FIELD(s, 5, "f", SPK_TYPE_DECIMAL, 10, 0, true);
    CHECK_FIELD(s, 6, "g", SPK_TYPE_DECIMAL, 18, 18, true);
    CHECK_FIELD(s, 7, "h", SPK_TYPE_DECIMAL, 9, 4, true);
    CHECK_FIELD(s, 8, "i", SPK_TYPE_DECIMAL, 1, 0, true);
    spk_schema_release(s);
}

static void test_parse_varchar_char(void) {
    spk_schema *s = parse_ok("a varchar(10), b VARCHAR(255), c char(3)", 3);
    CHECK_FIELD(s, 0, "a", SPK_TYPE_STRING, 0, 0, true);
    CHECK_FIELD(s, 1, "b", SPK_TYPE_STRING, 0, 0, true);
    CHECK_FIELD(s, 2, "c", SPK_TYPE_STRING, 0, 0, true);
    spk_schema_release(s);
}

static void test_parse_not_null(void) {
    spk_schema *s = parse_ok("id BIGINT NOT NULL, name STRING, n int not null, m Int Not   Null, "
                             "p DECIMAL(15,2) NOT NULL",
                             5);
    CHECK_FIELD(s, 0, "id", SPK_TYPE_INT64, 0, 0, false);
    CHECK_FIELD(s, 1, "name", SPK_TYPE_STRING, 0, 0, true);
    CHECK_FIELD(s, 2, "n", SPK_TYPE_INT32, 0, 0, false);
    CHECK_FIELD(s, 3, "m", SPK_TYPE_INT32, 0, 0, false);
    CHECK_FIELD(s, 4, "p", SPK_TYPE_DECIMAL, 15, 2, false);
    spk_schema_release(s);
}

static void test_parse_backticks(void) {
    spk_schema *s = parse_ok("`my col` INT, `a,b` STRING NOT NULL, `select` DATE, `x:y` DOUBLE, "
                             "`  padded ` BIGINT",
                             5);
    CHECK_FIELD(s, 0, "my col", SPK_TYPE_INT32, 0, 0, true);
    CHECK_FIELD(s, 1, "a,b", SPK_TYPE_STRING, 0, 0, false);
    CHECK_FIELD(s, 2, "select", SPK_TYPE_DATE, 0, 0, true);
    CHECK_FIELD(s, 3, "x:y", SPK_TYPE_DOUBLE, 0, 0, true);
    CHECK_FIELD(s, 4, "  padded ", SPK_TYPE_INT64, 0, 0, true);
    if (s) CHECK_EQ_INT(spk_schema_index(s, "a,b", false), 1);
    spk_schema_release(s);
}

static void test_parse_backtick_escape(void) {
    /* Spark's quoted identifiers write a backtick as two. */
    spk_schema *s = parse_ok("`a``b` INT, ```` STRING", 2);
    CHECK_FIELD(s, 0, "a`b", SPK_TYPE_INT32, 0, 0, true);
    CHECK_FIELD(s, 1, "`", SPK_TYPE_STRING, 0, 0, true);
    spk_schema_release(s);
}

static void test_parse_colon_syntax(void) {
    spk_schema *s = parse_ok("id: bigint, name: string, n:int,p :decimal(5,1), q: int NOT NULL", 5);
    CHECK_FIELD(s, 0, "id", SPK_TYPE_INT64, 0, 0, true);
    CHECK_FIELD(s, 1, "name", SPK_TYPE_STRING, 0, 0, true);
    CHECK_FIELD(s, 2, "n", SPK_TYPE_INT32, 0, 0, true);
    CHECK_FIELD(s, 3, "p", SPK_TYPE_DECIMAL, 5, 1, true);
    CHECK_FIELD(s, 4, "q", SPK_TYPE_INT32, 0, 0, false);
    spk_schema_release(s);
}

static void test_parse_whitespace(void) {
    spk_schema *s = parse_ok("  \n\tid   INT ,\n  name\tSTRING\r\n,price  DECIMAL ( 15 , 2 )  NOT\n NULL ,x DATE\n\n", 4);
    CHECK_FIELD(s, 0, "id", SPK_TYPE_INT32, 0, 0, true);
    CHECK_FIELD(s, 1, "name", SPK_TYPE_STRING, 0, 0, true);
    CHECK_FIELD(s, 2, "price", SPK_TYPE_DECIMAL, 15, 2, false);
    CHECK_FIELD(s, 3, "x", SPK_TYPE_DATE, 0, 0, true);
    spk_schema_release(s);
    s = parse_ok("a INT,b STRING", 2);
    CHECK_FIELD(s, 1, "b", SPK_TYPE_STRING, 0, 0, true);
    spk_schema_release(s);
    s = parse_ok("_x1 INT, \xc3\xbfname STRING", 2);
    CHECK_FIELD(s, 0, "_x1", SPK_TYPE_INT32, 0, 0, true);
    CHECK_FIELD(s, 1, "\xc3\xbfname", SPK_TYPE_STRING, 0, 0, true);
    spk_schema_release(s);
}

static void test_parse_uses_allocator(void) {
    spk_failalloc f;
    spk_failalloc_init(&f, NULL, 0);
    spk_schema *s = NULL;
    CHECK_OK(spk_schema_parse(&f.iface, "a INT, b STRING, c DATE", &s));
    CHECK(f.calls > 0);
    CHECK(f.live_blocks > 0);
    spk_schema_release(s);
    CHECK_EQ_INT(f.live_blocks, 0);
    CHECK_EQ_INT(f.live_bytes, 0);
    /* A failing parse leaks nothing either. */
    spk_failalloc_init(&f, NULL, 0);
    s = NULL;
    CHECK_STATUS(spk_schema_parse(&f.iface, "a INT, b STRNG, c DATE", &s), SPK_ERR_PARSE);
    CHECK_EQ_INT(f.live_blocks, 0);
    CHECK_EQ_INT(f.live_bytes, 0);
}

/* ------------------------------------------------------------ parse errors */

static void test_error_unknown_type(void) {
    spk_schema *s = NULL;
    const char *ddl = "id INTT, x INT";
    spk_clear_error();
    CHECK_STATUS(spk_schema_parse(NULL, ddl, &s), SPK_ERR_PARSE);
    CHECK(s == NULL);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_PARSE);
    CHECK_CONTAINS(spk_last_error(), "INTT");
    CHECK_CARET(spk_last_error(), ddl, 3, 3);

    ddl = "a INT, b STRING, c strnig";
    CHECK_STATUS(spk_schema_parse(NULL, ddl, &s), SPK_ERR_PARSE);
    CHECK_CONTAINS(spk_last_error(), "strnig");
    CHECK_CARET(spk_last_error(), ddl, 19, 19);

    ddl = "a decimal(10,2) NOT NULL, b varchar";
    CHECK_STATUS(spk_schema_parse(NULL, ddl, &s), SPK_ERR_PARSE); /* varchar needs a length */
    CHECK_CARET(spk_last_error(), ddl, 28, 35);
}

static void test_error_missing_type(void) {
    spk_schema *s = NULL;
    const char *ddl = "id INT, name";
    CHECK_STATUS(spk_schema_parse(NULL, ddl, &s), SPK_ERR_PARSE);
    CHECK(s == NULL);
    CHECK_CARET(spk_last_error(), ddl, 8, 12);
    ddl = "id";
    CHECK_STATUS(spk_schema_parse(NULL, ddl, &s), SPK_ERR_PARSE);
    CHECK_CARET(spk_last_error(), ddl, 0, 2);
    ddl = "id INT, name NOT NULL";
    CHECK_STATUS(spk_schema_parse(NULL, ddl, &s), SPK_ERR_PARSE);
    CHECK_CARET(spk_last_error(), ddl, 13, 21);
    ddl = "id INT, : STRING";
    CHECK_STATUS(spk_schema_parse(NULL, ddl, &s), SPK_ERR_PARSE);
    CHECK_CARET(spk_last_error(), ddl, 8, 8);
}

static void test_error_trailing_comma(void) {
    spk_schema *s = NULL;
    const char *ddl = "id INT,";
    CHECK_STATUS(spk_schema_parse(NULL, ddl, &s), SPK_ERR_PARSE);
    CHECK(s == NULL);
    CHECK_CARET(spk_last_error(), ddl, 6, 7);
    ddl = "id INT,, name STRING";
    CHECK_STATUS(spk_schema_parse(NULL, ddl, &s), SPK_ERR_PARSE);
    CHECK_CARET(spk_last_error(), ddl, 7, 7);
    ddl = ", id INT";
    CHECK_STATUS(spk_schema_parse(NULL, ddl, &s), SPK_ERR_PARSE);
    CHECK_CARET(spk_last_error(), ddl, 0, 0);
}

static void test_error_junk_after_type(void) {
    spk_schema *s = NULL;
    const char *ddl = "id INT NULL, name STRING";
    CHECK_STATUS(spk_schema_parse(NULL, ddl, &s), SPK_ERR_PARSE);
    CHECK_CARET(spk_last_error(), ddl, 7, 7);
    ddl = "id INT name STRING";
    CHECK_STATUS(spk_schema_parse(NULL, ddl, &s), SPK_ERR_PARSE);
    CHECK_CARET(spk_last_error(), ddl, 7, 7);
    ddl = "id decimal(10,2";
    CHECK_STATUS(spk_schema_parse(NULL, ddl, &s), SPK_ERR_PARSE);
    CHECK_CARET(spk_last_error(), ddl, 3, 15);
    ddl = "`unterminated INT";
    CHECK_STATUS(spk_schema_parse(NULL, ddl, &s), SPK_ERR_PARSE);
    CHECK_CARET(spk_last_error(), ddl, 0, 17);
    ddl = "`` INT";
    CHECK_STATUS(spk_schema_parse(NULL, ddl, &s), SPK_ERR_PARSE); /* empty name */
    CHECK_CARET(spk_last_error(), ddl, 0, 2);
}

static void test_error_duplicate_names(void) {
    spk_schema *s = NULL;
    const char *ddl = "id INT, name STRING, ID BIGINT";
    spk_status st = spk_schema_parse(NULL, ddl, &s);
    CHECK(st == SPK_ERR_PARSE || st == SPK_ERR_EXISTS);
    CHECK(s == NULL);
    CHECK_CONTAINS(spk_last_error(), "ID");
    CHECK_CARET(spk_last_error(), ddl, 21, 23);
    ddl = "`a b` INT, `a b` INT";
    st = spk_schema_parse(NULL, ddl, &s);
    CHECK(st == SPK_ERR_PARSE || st == SPK_ERR_EXISTS);
    CHECK(s == NULL);
    CHECK_CONTAINS(spk_last_error(), "a b");
    CHECK_CARET(spk_last_error(), ddl, 11, 16);
}

static void test_error_decimal_range(void) {
    spk_schema *s = NULL;
    const char *ddl = "x decimal(19,2)";
    spk_status st = spk_schema_parse(NULL, ddl, &s);
    CHECK(st == SPK_ERR_PARSE || st == SPK_ERR_RANGE);
    CHECK(s == NULL);
    CHECK_CONTAINS(spk_last_error(), "19");
    CHECK_CARET(spk_last_error(), ddl, 2, 13);
    ddl = "x decimal(5,6)";
    st = spk_schema_parse(NULL, ddl, &s);
    CHECK(st == SPK_ERR_PARSE || st == SPK_ERR_RANGE);
    CHECK(s == NULL);
    CHECK_CARET(spk_last_error(), ddl, 2, 12);
    ddl = "x decimal(0,0)";
    st = spk_schema_parse(NULL, ddl, &s);
    CHECK(st == SPK_ERR_PARSE || st == SPK_ERR_RANGE);
    CHECK_CARET(spk_last_error(), ddl, 2, 12);
    ddl = "x decimal(99999999999999999999,2)";
    st = spk_schema_parse(NULL, ddl, &s);
    CHECK(st == SPK_ERR_PARSE || st == SPK_ERR_RANGE);
    CHECK(s == NULL);
    ddl = "x decimal(-1,0)";
    st = spk_schema_parse(NULL, ddl, &s);
    CHECK(st == SPK_ERR_PARSE || st == SPK_ERR_RANGE);
    CHECK(s == NULL);
}

static void test_error_empty(void) {
    spk_schema *s = NULL;
    CHECK_STATUS(spk_schema_parse(NULL, "", &s), SPK_ERR_PARSE);
    CHECK(s == NULL);
    CHECK_CONTAINS(spk_last_error(), "^");
    CHECK_CONTAINS(spk_last_error(), "pos 0");
    CHECK_STATUS(spk_schema_parse(NULL, "   \n  ", &s), SPK_ERR_PARSE);
    CHECK(s == NULL);
    CHECK_CONTAINS(spk_last_error(), "^");
}

static void test_error_multiline_position(void) {
    /* The excerpt shows only the line with the error; the caret and "pos"
     * are relative to that line, and the line number is given. */
    spk_schema *s = NULL;
    const char *ddl = "id INT,\n  name STRNG,\n  x DATE";
    CHECK_STATUS(spk_schema_parse(NULL, ddl, &s), SPK_ERR_PARSE);
    CHECK_CONTAINS(spk_last_error(), "STRNG");
    CHECK_CONTAINS(spk_last_error(), "line 2");
    CHECK_CARET(spk_last_error(), "  name STRNG,", 7, 7);
}

static void test_error_far_position(void) {
    /* An error 160 bytes into the text: the caret is still under it. */
    char ddl[512];
    char name[151];
    memset(name, 'n', 150);
    name[150] = '\0';
    snprintf(ddl, sizeof ddl, "%s INT, b BOGUS", name);
    spk_schema *s = NULL;
    CHECK_STATUS(spk_schema_parse(NULL, ddl, &s), SPK_ERR_PARSE);
    CHECK_CARET(spk_last_error(), ddl, 158, 158);
}

/* ------------------------------------------------------------ spk_schema_new */

static void test_new_copies_fields(void) {
    char n1[16], n2[16];
    strcpy(n1, "alpha");
    strcpy(n2, "beta");
    spk_field fields[3] = {
        {n1, spk_type_of(SPK_TYPE_INT64), false},
        {n2, spk_type_decimal(12, 4), true},
        {"gamma", spk_type_of(SPK_TYPE_STRING), true},
    };
    spk_schema *s = NULL;
    CHECK_OK(spk_schema_new(NULL, fields, 3, &s));
    CHECK(s != NULL);
    if (!s) return;
    /* The caller's buffers and array change afterwards: the schema keeps its copies. */
    strcpy(n1, "XXXXX");
    memset(n2, 'Y', sizeof n2 - 1);
    n2[sizeof n2 - 1] = '\0';
    fields[0].type = spk_type_of(SPK_TYPE_BOOLEAN);
    fields[2].name = "zzz";
    CHECK_EQ_INT(spk_schema_ncols(s), 3);
    CHECK_FIELD(s, 0, "alpha", SPK_TYPE_INT64, 0, 0, false);
    CHECK_FIELD(s, 1, "beta", SPK_TYPE_DECIMAL, 12, 4, true);
    CHECK_FIELD(s, 2, "gamma", SPK_TYPE_STRING, 0, 0, true);
    CHECK(spk_schema_field(s, 0)->name != n1);
    CHECK_EQ_INT(spk_schema_index(s, "alpha", true), 0);
    CHECK_EQ_INT(spk_schema_index(s, "XXXXX", false), -1);
    spk_schema_release(s);
}

static void test_new_invalid(void) {
    spk_schema *s = NULL;
    spk_field ok = {"a", spk_type_of(SPK_TYPE_INT32), true};
    spk_field empty_name[1] = {{"", spk_type_of(SPK_TYPE_INT32), true}};
    CHECK_STATUS(spk_schema_new(NULL, empty_name, 1, &s), SPK_ERR_ARG);
    CHECK(s == NULL);
    spk_field bad_dec[2] = {ok, {"d", spk_type_decimal(19, 2), true}};
    CHECK_STATUS(spk_schema_new(NULL, bad_dec, 2, &s), SPK_ERR_ARG);
    CHECK(s == NULL);
    spk_type weird = {SPK_TYPE_COUNT, 0, 0};
    spk_field bad_id[2] = {ok, {"w", weird, true}};
    CHECK_STATUS(spk_schema_new(NULL, bad_id, 2, &s), SPK_ERR_ARG);
    spk_field dup[3] = {ok, {"b", spk_type_of(SPK_TYPE_STRING), true}, {"A", spk_type_of(SPK_TYPE_DATE), true}};
    CHECK_STATUS(spk_schema_new(NULL, dup, 3, &s), SPK_ERR_ARG);
    CHECK(s == NULL);
    CHECK_CONTAINS(spk_last_error(), "A");
    CHECK_STATUS(spk_schema_new(NULL, &ok, -1, &s), SPK_ERR_ARG);

    /* Failing construction leaks nothing. */
    spk_failalloc f;
    spk_failalloc_init(&f, NULL, 0);
    CHECK_STATUS(spk_schema_new(&f.iface, dup, 3, &s), SPK_ERR_ARG);
    CHECK_EQ_INT(f.live_blocks, 0);
}

static void test_new_empty_schema(void) {
    /* Spark's StructType(Nil) is a schema with no columns. */
    spk_schema *s = NULL;
    CHECK_OK(spk_schema_new(NULL, NULL, 0, &s));
    CHECK(s != NULL);
    if (!s) return;
    CHECK_EQ_INT(spk_schema_ncols(s), 0);
    CHECK(spk_schema_field(s, 0) == NULL);
    char buf[64];
    CHECK_EQ_INT(spk_schema_tree_string(s, buf, sizeof buf), 5);
    CHECK_STR(buf, "root\n");
    spk_schema_release(s);
}

/* ------------------------------------------------------------ access and lookup */

static void test_field_ncols_index(void) {
    spk_schema *s = parse_ok("id BIGINT, Name STRING, `Total Amount` DECIMAL(10,2)", 3);
    if (!s) return;
    CHECK(spk_schema_field(s, -1) == NULL);
    CHECK(spk_schema_field(s, 3) == NULL);
    CHECK(spk_schema_field(s, 1000) == NULL);
    CHECK(spk_schema_field(s, 2) != NULL);
    CHECK_EQ_INT(spk_schema_index(s, "id", false), 0);
    CHECK_EQ_INT(spk_schema_index(s, "ID", false), 0);
    CHECK_EQ_INT(spk_schema_index(s, "name", false), 1);
    CHECK_EQ_INT(spk_schema_index(s, "NAME", false), 1);
    CHECK_EQ_INT(spk_schema_index(s, "total amount", false), 2);
    CHECK_EQ_INT(spk_schema_index(s, "Total Amount", true), 2);
    CHECK_EQ_INT(spk_schema_index(s, "total amount", true), -1);
    CHECK_EQ_INT(spk_schema_index(s, "ID", true), -1);
    CHECK_EQ_INT(spk_schema_index(s, "Name", true), 1);
    CHECK_EQ_INT(spk_schema_index(s, "name", true), -1);
    CHECK_EQ_INT(spk_schema_index(s, "nam", false), -1);
    CHECK_EQ_INT(spk_schema_index(s, "names", false), -1);
    CHECK_EQ_INT(spk_schema_index(s, "", false), -1);
    CHECK_EQ_INT(spk_schema_index(s, "TotalAmount", false), -1);
    spk_schema_release(s);
}

static void test_lookup(void) {
    spk_schema *s = parse_ok("id BIGINT, value DOUBLE, name STRING", 3);
    if (!s) return;
    int idx = -1;
    CHECK_OK(spk_schema_lookup(s, "value", false, &idx));
    CHECK_EQ_INT(idx, 1);
    CHECK_OK(spk_schema_lookup(s, "NAME", false, &idx));
    CHECK_EQ_INT(idx, 2);

    spk_clear_error();
    CHECK_STATUS(spk_schema_lookup(s, "valeu", false, &idx), SPK_ERR_NOT_FOUND);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_NOT_FOUND);
    const char *msg = spk_last_error();
    CHECK_CONTAINS(msg, "UNRESOLVED_COLUMN");
    CHECK_CONTAINS(msg, "`valeu`");
    CHECK_CONTAINS(msg, "cannot be resolved");
    CHECK_CONTAINS(msg, "Did you mean one of the following? [`value`");

    /* Case-sensitive: "Value" is not `value`, which is suggested. */
    CHECK_STATUS(spk_schema_lookup(s, "Value", true, &idx), SPK_ERR_NOT_FOUND);
    CHECK_CONTAINS(spk_last_error(), "`Value`");
    CHECK_CONTAINS(spk_last_error(), "[`value`");
    CHECK_OK(spk_schema_lookup(s, "Value", false, &idx));
    CHECK_EQ_INT(idx, 1);

    /* The best suggestion comes first. */
    CHECK_STATUS(spk_schema_lookup(s, "nmae", false, &idx), SPK_ERR_NOT_FOUND);
    CHECK_CONTAINS(spk_last_error(), "[`name`");
    CHECK_STATUS(spk_schema_lookup(s, "idd", false, &idx), SPK_ERR_NOT_FOUND);
    CHECK_CONTAINS(spk_last_error(), "[`id`");
    spk_schema_release(s);

    /* Nothing to suggest: Spark says UNRESOLVED_COLUMN.WITHOUT_SUGGESTION. */
    s = NULL;
    CHECK_OK(spk_schema_new(NULL, NULL, 0, &s));
    if (!s) return;
    CHECK_STATUS(spk_schema_lookup(s, "x", false, &idx), SPK_ERR_NOT_FOUND);
    CHECK_CONTAINS(spk_last_error(), "`x`");
    CHECK(strstr(spk_last_error(), "Did you mean") == NULL);
    CHECK(strstr(spk_last_error(), "WITH_SUGGESTION") == NULL);
    spk_schema_release(s);
}

/* ------------------------------------------------------------ equality */

static void test_equal(void) {
    spk_schema *a = parse_ok("id BIGINT NOT NULL, name STRING, p DECIMAL(15,2)", 3);
    spk_schema *b = parse_ok("id long not null, name: string, p decimal(15, 2)", 3);
    spk_schema *nn = parse_ok("id BIGINT, name STRING, p DECIMAL(15,2)", 3);
    spk_schema *cs = parse_ok("ID BIGINT NOT NULL, name STRING, p DECIMAL(15,2)", 3);
    spk_schema *ty = parse_ok("id INT NOT NULL, name STRING, p DECIMAL(15,2)", 3);
    spk_schema *pr = parse_ok("id BIGINT NOT NULL, name STRING, p DECIMAL(15,3)", 3);
    spk_schema *pp = parse_ok("id BIGINT NOT NULL, name STRING, p DECIMAL(16,2)", 3);
    spk_schema *sh = parse_ok("id BIGINT NOT NULL, name STRING", 2);
    spk_schema *ord = parse_ok("name STRING, id BIGINT NOT NULL, p DECIMAL(15,2)", 3);
    if (a && b && nn && cs && ty && pr && pp && sh && ord) {
        CHECK(spk_schema_equal(a, a, true));
        CHECK(spk_schema_equal(a, b, true));
        CHECK(spk_schema_equal(b, a, false));
        CHECK(!spk_schema_equal(a, nn, true));
        CHECK(spk_schema_equal(a, nn, false));
        CHECK(!spk_schema_equal(a, cs, false)); /* names compare exactly */
        CHECK(!spk_schema_equal(a, ty, false));
        CHECK(!spk_schema_equal(a, pr, false));
        CHECK(!spk_schema_equal(a, pp, false));
        CHECK(!spk_schema_equal(a, sh, false));
        CHECK(!spk_schema_equal(sh, a, false));
        CHECK(!spk_schema_equal(a, ord, false));
    }
    spk_schema_release(a);
    spk_schema_release(b);
    spk_schema_release(nn);
    spk_schema_release(cs);
    spk_schema_release(ty);
    spk_schema_release(pr);
    spk_schema_release(pp);
    spk_schema_release(sh);
    spk_schema_release(ord);
}

/* ------------------------------------------------------------ printSchema */

static const char *TREE_DDL =
    "id BIGINT NOT NULL, name STRING, price DECIMAL(15,2), d DATE, ts TIMESTAMP, ok BOOLEAN, "
    "n INT, x DOUBLE";
static const char *TREE_EXPECTED = "root\n"
                                   " |-- id: long (nullable = false)\n"
                                   " |-- name: string (nullable = true)\n"
                                   " |-- price: decimal(15,2) (nullable = true)\n"
                                   " |-- d: date (nullable = true)\n"
                                   " |-- ts: timestamp (nullable = true)\n"
                                   " |-- ok: boolean (nullable = true)\n"
                                   " |-- n: integer (nullable = true)\n"
                                   " |-- x: double (nullable = true)\n";

static void test_tree_string(void) {
    spk_schema *s = parse_ok(TREE_DDL, 8);
    if (!s) return;
    char buf[1024];
    size_t n = spk_schema_tree_string(s, buf, sizeof buf);
    CHECK_STR(buf, TREE_EXPECTED);
    CHECK_EQ_INT(n, strlen(TREE_EXPECTED));

    /* snprintf contract: the full length whatever the room, cut and terminated. */
    CHECK_EQ_INT(spk_schema_tree_string(s, NULL, 0), strlen(TREE_EXPECTED));
    char small[20];
    memset(small, '#', sizeof small);
    CHECK_EQ_INT(spk_schema_tree_string(s, small, sizeof small), strlen(TREE_EXPECTED));
    CHECK_EQ_INT(small[19], '\0');
    CHECK(strncmp(small, TREE_EXPECTED, 19) == 0);
    char one[1] = {'#'};
    CHECK_EQ_INT(spk_schema_tree_string(s, one, 1), strlen(TREE_EXPECTED));
    CHECK_EQ_INT(one[0], '\0');

    /* printSchema writes the same text. */
    FILE *f = tmpfile();
    CHECK(f != NULL);
    if (f) {
        spk_schema_print(s, f);
        rewind(f);
        char back[1024];
        size_t got = fread(back, 1, sizeof back - 1, f);
        back[got] = '\0';
        CHECK_STR(back, TREE_EXPECTED);
        fclose(f);
    }
    spk_schema_release(s);

    /* Quoted names are printed raw, decimals with their own precision. */
    s = parse_ok("`a b` DECIMAL(5,0) NOT NULL, `c,d` VARCHAR(3)", 2);
    if (s) {
        spk_schema_tree_string(s, buf, sizeof buf);
        CHECK_STR(buf, "root\n |-- a b: decimal(5,0) (nullable = false)\n"
                       " |-- c,d: string (nullable = true)\n");
    }
    spk_schema_release(s);
}

/* ------------------------------------------------------------ DDL output */

static void test_ddl_text(void) {
    spk_schema *s = parse_ok("id bigint not null, name string, price decimal(15,2)", 3);
    if (!s) return;
    char buf[256];
    size_t n = spk_schema_ddl(s, buf, sizeof buf);
    CHECK_STR(buf, "id BIGINT NOT NULL, name STRING, price DECIMAL(15,2)");
    CHECK_EQ_INT(n, strlen("id BIGINT NOT NULL, name STRING, price DECIMAL(15,2)"));
    CHECK_EQ_INT(spk_schema_ddl(s, NULL, 0), n);
    char small[8];
    CHECK_EQ_INT(spk_schema_ddl(s, small, sizeof small), n);
    CHECK_STR(small, "id BIGI");
    spk_schema_release(s);

    s = parse_ok(TREE_DDL, 8);
    if (s) {
        spk_schema_ddl(s, buf, sizeof buf);
        CHECK_STR(buf, "id BIGINT NOT NULL, name STRING, price DECIMAL(15,2), d DATE, "
                       "ts TIMESTAMP, ok BOOLEAN, n INT, x DOUBLE");
    }
    spk_schema_release(s);
}

static void roundtrip(const spk_schema *s) {
    char buf[2048];
    size_t n = spk_schema_ddl(s, buf, sizeof buf);
    CHECK(n < sizeof buf);
    spk_schema *back = NULL;
    spk_status st = spk_schema_parse(NULL, buf, &back);
    if (st != SPK_OK) {
        fprintf(stderr, "%s: DDL \"%s\" does not parse back: %s\n", spk_test_current, buf,
                spk_last_error());
        spk_test_current_failed = 1;
        return;
    }
    CHECK(spk_schema_equal(s, back, true));
    char again[2048];
    spk_schema_ddl(back, again, sizeof again);
    CHECK_STR(again, buf);
    spk_schema_release(back);
}

static void test_ddl_roundtrip(void) {
    spk_schema *s = parse_ok(TREE_DDL, 8);
    if (s) roundtrip(s);
    spk_schema_release(s);
    s = parse_ok("`my col` INT NOT NULL, `a,b` STRING, `x: y` DATE, `select` DOUBLE, "
                 "`not` BOOLEAN, `null` DECIMAL(18,18), `int` BIGINT",
                 7);
    if (s) roundtrip(s);
    spk_schema_release(s);
    /* Names that need quoting, built directly. */
    spk_field f[6] = {
        {"a`b", spk_type_of(SPK_TYPE_INT32), true},
        {"with space", spk_type_of(SPK_TYPE_STRING), false},
        {"1starts_with_digit", spk_type_of(SPK_TYPE_DATE), true},
        {"comma,inside", spk_type_of(SPK_TYPE_TIMESTAMP), true},
        {"NOT", spk_type_decimal(3, 1), true},
        {"tab\there", spk_type_of(SPK_TYPE_INT64), true},
    };
    s = NULL;
    CHECK_OK(spk_schema_new(NULL, f, 6, &s));
    if (s) roundtrip(s);
    spk_schema_release(s);
}

/* ------------------------------------------------------------ reference counts */

static void test_retain_release(void) {
    spk_schema_release(NULL); /* fine */
    spk_failalloc f;
    spk_failalloc_init(&f, NULL, 0);
    spk_schema *s = NULL;
    CHECK_OK(spk_schema_parse(&f.iface, "a INT, b STRING", &s));
    if (!s) return;
    long blocks = f.live_blocks;
    CHECK(blocks > 0);
    CHECK(spk_schema_retain(s) == s);
    CHECK(spk_schema_retain(s) == s);
    CHECK(spk_schema_retain(s) == s);
    CHECK_EQ_INT(f.live_blocks, blocks); /* retain allocates nothing */
    spk_schema_release(s);
    spk_schema_release(s);
    spk_schema_release(s);
    /* one reference left: still alive and usable */
    CHECK_EQ_INT(f.live_blocks, blocks);
    CHECK_EQ_INT(spk_schema_ncols(s), 2);
    CHECK_EQ_INT(spk_schema_index(s, "b", false), 1);
    spk_schema_release(s);
    CHECK_EQ_INT(f.live_blocks, 0);
    CHECK_EQ_INT(f.live_bytes, 0);

    /* A schema made by spk_schema_new works the same way. */
    spk_field fl[1] = {{"x", spk_type_of(SPK_TYPE_DOUBLE), true}};
    spk_failalloc_init(&f, NULL, 0);
    s = NULL;
    CHECK_OK(spk_schema_new(&f.iface, fl, 1, &s));
    if (!s) return;
    spk_schema_retain(s);
    spk_schema_release(s);
    CHECK(f.live_blocks > 0);
    spk_schema_release(s);
    CHECK_EQ_INT(f.live_blocks, 0);
    CHECK_EQ_INT(f.live_bytes, 0);
}

int main(void) {
    RUN(test_parse_type_names);
    RUN(test_parse_case_insensitive);
    RUN(test_parse_decimal_forms);
    RUN(test_parse_varchar_char);
    RUN(test_parse_not_null);
    RUN(test_parse_backticks);
    RUN(test_parse_backtick_escape);
    RUN(test_parse_colon_syntax);
    RUN(test_parse_whitespace);
    RUN(test_parse_uses_allocator);
    RUN(test_error_unknown_type);
    RUN(test_error_missing_type);
    RUN(test_error_trailing_comma);
    RUN(test_error_junk_after_type);
    RUN(test_error_duplicate_names);
    RUN(test_error_decimal_range);
    RUN(test_error_empty);
    RUN(test_error_multiline_position);
    RUN(test_error_far_position);
    RUN(test_new_copies_fields);
    RUN(test_new_invalid);
    RUN(test_new_empty_schema);
    RUN(test_field_ncols_index);
    RUN(test_lookup);
    RUN(test_equal);
    RUN(test_tree_string);
    RUN(test_ddl_text);
    RUN(test_ddl_roundtrip);
    RUN(test_retain_release);
    return TEST_REPORT();
}
