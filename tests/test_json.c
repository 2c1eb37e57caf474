/* json: the internal JSON reader and writer — round trips, RFC 8259
 * documents, every rejection with its position, truncated and mutated
 * input, nesting limits and an allocation-failure sweep. */
#define SPARKLESS_STATIC         /* every SPKDEF static in this TU */
#define SPARKLESS_IMPLEMENTATION /* this test compiles its own copy to reach the internal JSON functions */
#include "../sparkless.h"
#include "test.h"

#define WHAT "test doc"

/* Parses len bytes from an exact-size heap copy (no NUL after it), so that
 * AddressSanitizer reports any read past the end. */
static spk_status parse_alloc(const spk_allocator *a, const char *text, size_t len, spk__json_doc **out) {
    char *copy = (char *)malloc(len ? len : 1);
    if (!copy) abort();
    memcpy(copy, text, len);
    spk_status st = spk__json_parse(a, copy, len, WHAT, out);
    free(copy);
    return st;
}
static spk_status parse_n(const char *text, size_t len, spk__json_doc **out) {
    return parse_alloc(NULL, text, len, out);
}
static spk_status parse(const char *text, spk__json_doc **out) { return parse_n(text, strlen(text), out); }

/* Writes a parsed value back as JSON (members in document order). */
static void write_value(spk__jbuf *b, const spk__json *v) {
    switch (v->kind) {
    case SPK__JSON_NULL: spk__jbuf_raw(b, "null", 4); break;
    case SPK__JSON_FALSE: spk__jbuf_raw(b, "false", 5); break;
    case SPK__JSON_TRUE: spk__jbuf_raw(b, "true", 4); break;
    case SPK__JSON_NUMBER: spk__jbuf_raw(b, v->str, v->len); break;
    case SPK__JSON_STRING: spk__jbuf_str(b, v->str, v->len); break;
    case SPK__JSON_ARRAY:
        spk__jbuf_raw(b, "[", 1);
        for (size_t i = 0; i < v->n; i++) {
            if (i) spk__jbuf_raw(b, ",", 1);
            write_value(b, &v->items[i]);
        }
        spk__jbuf_raw(b, "]", 1);
        break;
    case SPK__JSON_OBJECT:
        spk__jbuf_raw(b, "{", 1);
        for (size_t i = 0; i < v->n; i++) {
            if (i) spk__jbuf_raw(b, ",", 1);
            spk__jbuf_str(b, v->keys[i], v->key_lens[i]);
            spk__jbuf_raw(b, ":", 1);
            write_value(b, &v->items[i]);
        }
        spk__jbuf_raw(b, "}", 1);
        break;
    }
}

static bool same_bytes(const char *a, size_t alen, const char *b, size_t blen) {
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* Same kinds, texts, keys and items, in the same order (offsets aside). */
static bool json_equal(const spk__json *a, const spk__json *b) {
    if (a->kind != b->kind) return false;
    switch (a->kind) {
    case SPK__JSON_NUMBER:
    case SPK__JSON_STRING: return same_bytes(a->str, a->len, b->str, b->len) && a->str[a->len] == '\0';
    case SPK__JSON_ARRAY:
    case SPK__JSON_OBJECT:
        if (a->n != b->n) return false;
        for (size_t i = 0; i < a->n; i++) {
            if (a->kind == SPK__JSON_OBJECT &&
                !same_bytes(a->keys[i], a->key_lens[i], b->keys[i], b->key_lens[i]))
                return false;
            if (!json_equal(&a->items[i], &b->items[i])) return false;
        }
        return true;
    default: return true;
    }
}

/* The value written out and parsed again is equal to itself, and writing
 * that again gives the same text. */
static void check_round_trip(const spk__json *v, const char *file, int line) {
    spk__jbuf b;
    spk__jbuf_init(&b, NULL);
    write_value(&b, v);
    char *text;
    size_t len;
    if (spk__jbuf_finish(&b, &text, &len) != SPK_OK) {
        failf(file, line, "finish failed: %s", spk_last_error());
        return;
    }
    spk__json_doc *d = NULL;
    if (parse_n(text, len, &d) != SPK_OK) failf(file, line, "written text does not parse: %s", spk_last_error());
    else if (!json_equal(v, spk__json_root(d))) failf(file, line, "round trip differs: %s", text);
    else {
        spk__jbuf_init(&b, NULL);
        write_value(&b, spk__json_root(d));
        char *again;
        size_t again_len;
        if (spk__jbuf_finish(&b, &again, &again_len) != SPK_OK) failf(file, line, "second finish failed");
        else {
            if (!same_bytes(text, len, again, again_len)) failf(file, line, "second write differs");
            spk__free(&spk__default_allocator, again, again_len + 1);
        }
    }
    spk__json_free(d);
    spk__free(&spk__default_allocator, text, len + 1);
}
#define CHECK_ROUND_TRIP(v) check_round_trip((v), __FILE__, __LINE__)

/* The string s written by the writer is `expected`, and parses back to s. */
static void check_string(const char *s, size_t n, const char *expected, const char *file, int line) {
    spk__jbuf b;
    spk__jbuf_init(&b, NULL);
    spk__jbuf_str(&b, s, n);
    char *text;
    size_t len;
    if (spk__jbuf_finish(&b, &text, &len) != SPK_OK) {
        failf(file, line, "finish failed");
        return;
    }
    if (expected && strcmp(text, expected) != 0) failf(file, line, "wrote %s, expected %s", text, expected);
    if (strlen(text) != len) failf(file, line, "length %zu for a text of %zu bytes", len, strlen(text));
    spk__json_doc *d = NULL;
    if (parse_n(text, len, &d) != SPK_OK) {
        failf(file, line, "%s does not parse: %s", text, spk_last_error());
    } else {
        const spk__json *v = spk__json_root(d);
        if (v->kind != SPK__JSON_STRING || !same_bytes(v->str, v->len, s, n) || v->str[v->len] != '\0')
            failf(file, line, "%s parsed to a different string", text);
    }
    spk__json_free(d);
    spk__free(&spk__default_allocator, text, len + 1);
}
#define CHECK_STRING(s, n, expected) check_string((s), (n), (expected), __FILE__, __LINE__)

/* ------------------------------------------------------------ round trips */

static void test_string_round_trips(void) {
    CHECK_STRING("", 0, "\"\"");
    CHECK_STRING("plain", 5, "\"plain\"");
    CHECK_STRING("q\"b\\s/", 6, "\"q\\\"b\\\\s/\"");
    CHECK_STRING("\n\t\r\b\f", 5, "\"\\n\\t\\r\\b\\f\"");
    CHECK_STRING("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\"");
    CHECK_STRING("a\0b", 3, "\"a\\u0000b\"");
    CHECK_STRING("\xC3\xA9 \xE2\x82\xAC \xF0\x9D\x84\x9E", 11, "\"\xC3\xA9 \xE2\x82\xAC \xF0\x9D\x84\x9E\"");
    /* every control character, alone and all together */
    char all[32];
    for (int c = 0; c < 32; c++) {
        char one = (char)c;
        all[c] = one;
        CHECK_STRING(&one, 1, NULL);
    }
    CHECK_STRING(all, 32, NULL);
    /* a long string of every kind of byte run, crossing the writer's growth steps */
    size_t n = 20000;
    char *big = (char *)malloc(n);
    if (!big) abort();
    static const char *const pieces[] = {"abc", "\"", "\\", "\n", "\x01", "\xC3\xA9", "\xF0\x9D\x84\x9E", "/"};
    size_t used = 0;
    for (unsigned i = 0; used < n - 8; i = (i * 7 + 3) % 8) {
        size_t l = strlen(pieces[i]);
        memcpy(big + used, pieces[i], l);
        used += l;
    }
    CHECK_STRING(big, used, NULL);
    free(big);
}

static void test_parse_escapes(void) {
    spk__json_doc *d = NULL;
    CHECK_OK(parse("\"\\u0000\"", &d));
    const spk__json *v = spk__json_root(d);
    CHECK_EQ_INT(v->kind, SPK__JSON_STRING);
    CHECK_EQ_INT(v->len, 1);
    CHECK(v->str[0] == '\0' && v->str[1] == '\0');
    spk__json_free(d);

    CHECK_OK(parse("\"\\\"\\\\\\/\\b\\f\\n\\r\\t \\u00e9\\u20AC\\uD834\\uDD1E\\u0041\"", &d));
    v = spk__json_root(d);
    const char expect[] = "\"\\/\b\f\n\r\t \xC3\xA9\xE2\x82\xAC\xF0\x9D\x84\x9E" "A";
    CHECK(same_bytes(v->str, v->len, expect, sizeof expect - 1));
    CHECK(v->str[v->len] == '\0');
    spk__json_free(d);

    /* keys are decoded too, and spk__json_get finds them by their decoded text */
    CHECK_OK(parse("{\"\\u0061b\": 1, \"x\\ny\": 2, \"\": 3}", &d));
    v = spk__json_root(d);
    CHECK_EQ_INT(v->n, 3);
    CHECK_STR(v->keys[0], "ab");
    CHECK_EQ_INT(v->key_lens[1], 3);
    int64_t i = 0;
    CHECK(spk__json_is_int(spk__json_get(v, "ab"), &i) && i == 1);
    CHECK(spk__json_is_int(spk__json_get(v, "x\ny"), &i) && i == 2);
    CHECK(spk__json_is_int(spk__json_get(v, ""), &i) && i == 3);
    CHECK(spk__json_get(v, "a") == NULL);
    CHECK(spk__json_get(v, NULL) == NULL);
    CHECK(spk__json_get(&v->items[0], "ab") == NULL); /* not an object */
    CHECK(spk__json_get(NULL, "ab") == NULL);
    spk__json_free(d);
}

static void test_document_round_trip(void) {
    const char *doc = "{\"name\\n\": \"a\\u0000b\", \"list\": [1, -0, 2.5e-3, true, false, null, [], {}, [[\"\\\"\"]]],"
                      " \"nested\": {\"k\": {\"\\u00e9\": \"\\uD83D\\uDE00\"}}, \"n\": 12345678901234567890}";
    spk__json_doc *d = NULL;
    CHECK_OK(parse(doc, &d));
    if (d) CHECK_ROUND_TRIP(spk__json_root(d));
    spk__json_free(d);
}

static void test_writer_buffer(void) {
    spk_failalloc f;
    spk_failalloc_init(&f, NULL, 0);
    spk__jbuf b;
    spk__jbuf_init(&b, &f.iface);
    spk__jbuf_fmt(&b, "{\"n\":%d,\"s\":", 42);
    spk__jbuf_str(&b, "x", 1);
    spk__jbuf_fmt(&b, "%s", ""); /* nothing */
    spk__jbuf_raw(&b, "}", 1);
    char *text;
    size_t len;
    CHECK_OK(spk__jbuf_finish(&b, &text, &len));
    CHECK_STR(text, "{\"n\":42,\"s\":\"x\"}");
    CHECK_EQ_INT(len, strlen("{\"n\":42,\"s\":\"x\"}"));
    /* exactly len + 1 bytes, and the buffer is empty afterwards */
    CHECK_EQ_INT(f.live_blocks, 1);
    CHECK_EQ_INT(f.live_bytes, len + 1);
    CHECK(b.p == NULL && b.len == 0 && b.cap == 0 && !b.failed);
    spk__free(&f.iface, text, len + 1);

    /* the buffer is reusable after finish; an empty text is "" */
    CHECK_OK(spk__jbuf_finish(&b, &text, &len));
    CHECK_STR(text, "");
    CHECK_EQ_INT(len, 0);
    CHECK_EQ_INT(f.live_bytes, 1);
    spk__free(&f.iface, text, 1);

    /* a long formatted text */
    for (int i = 0; i < 2000; i++) spk__jbuf_fmt(&b, "%s%d", i ? "," : "[", i);
    spk__jbuf_raw(&b, "]", 1);
    CHECK_OK(spk__jbuf_finish(&b, &text, NULL));
    spk__json_doc *d = NULL;
    CHECK_OK(parse(text, &d));
    if (d) {
        const spk__json *v = spk__json_root(d);
        int64_t last = 0;
        CHECK_EQ_INT(v->n, 2000);
        CHECK(v->n == 2000 && spk__json_is_int(&v->items[1999], &last) && last == 1999);
    }
    spk__json_free(d);
    CHECK_EQ_INT(f.live_bytes, strlen(text) + 1);
    spk__free(&f.iface, text, strlen(text) + 1);

    /* spk__jbuf_free of a buffer in use, and of an empty one */
    spk__jbuf_raw(&b, "abc", 3);
    spk__jbuf_free(&b);
    spk__jbuf_free(&b);
    CHECK_EQ_INT(f.live_blocks, 0);
    CHECK_EQ_INT(f.live_bytes, 0);

    /* after a refused allocation every append is ignored and finish reports it once */
    spk_failalloc g;
    spk_failalloc_init(&g, NULL, 2);
    spk__jbuf_init(&b, &g.iface);
    spk__jbuf_raw(&b, "x", 1); /* allocation 1 */
    char chunk[300];
    memset(chunk, 'y', sizeof chunk);
    spk__jbuf_raw(&b, chunk, sizeof chunk); /* allocation 2, refused */
    CHECK(b.failed);
    spk__jbuf_raw(&b, "z", 1);
    spk__jbuf_fmt(&b, "%d", 7);
    spk__jbuf_str(&b, "s", 1);
    CHECK_EQ_INT(g.calls, 2);
    CHECK_EQ_INT(g.live_blocks, 0);
    CHECK_STATUS(spk__jbuf_finish(&b, &text, &len), SPK_ERR_NOMEM);
    CHECK(text == NULL);
    CHECK_EQ_INT(g.live_bytes, 0);
}

/* An allocator that refuses to shrink a block (allowed: realloc may fail
 * whatever the sizes) and counts live bytes. */
static size_t no_shrink_live;
static void *no_shrink_alloc(void *user, size_t n) {
    (void)user;
    void *p = malloc(n);
    if (p) no_shrink_live += n;
    return p;
}
static void *no_shrink_realloc(void *user, void *p, size_t old_size, size_t new_size) {
    (void)user;
    if (new_size < old_size) return NULL;
    void *q = realloc(p, new_size);
    if (q) no_shrink_live += new_size - old_size;
    return q;
}
static void no_shrink_free(void *user, void *p, size_t n) {
    (void)user;
    no_shrink_live -= n;
    free(p);
}

static void test_writer_shrink_refused(void) {
    spk_allocator a = {no_shrink_alloc, no_shrink_realloc, no_shrink_free, NULL};
    spk__jbuf b;
    spk__jbuf_init(&b, &a);
    spk__jbuf_raw(&b, "[1,2,3]", 7);
    char *text = (char *)&b;
    size_t len = 99;
    CHECK_STATUS(spk__jbuf_finish(&b, &text, &len), SPK_ERR_NOMEM);
    CHECK(text == NULL && len == 0);
    CHECK(b.p == NULL && b.len == 0 && b.cap == 0);
    CHECK_EQ_INT(no_shrink_live, 0);
}

/* ------------------------------------------------------------ valid documents */

static void test_rfc8259_examples(void) {
    /* RFC 8259, section 13 */
    const char *image = "{\n"
                        "  \"Image\": {\n"
                        "    \"Width\":  800,\n"
                        "    \"Height\": 600,\n"
                        "    \"Title\":  \"View from 15th Floor\",\n"
                        "    \"Thumbnail\": {\n"
                        "      \"Url\":    \"http://www.example.com/image/481989943\",\n"
                        "      \"Height\": 125,\n"
                        "      \"Width\":  100\n"
                        "    },\n"
                        "    \"Animated\" : false,\n"
                        "    \"IDs\": [116, 943, 234, 38793]\n"
                        "  }\n"
                        "}\n";
    spk__json_doc *d = NULL;
    CHECK_OK(parse(image, &d));
    if (d) {
        const spk__json *img = spk__json_get(spk__json_root(d), "Image");
        int64_t i;
        CHECK(img && img->kind == SPK__JSON_OBJECT && img->n == 6);
        CHECK(spk__json_is_int(spk__json_get(img, "Width"), &i) && i == 800);
        const spk__json *title = spk__json_get(img, "Title");
        CHECK(title && title->kind == SPK__JSON_STRING);
        if (title) CHECK_STR(title->str, "View from 15th Floor");
        const spk__json *thumb = spk__json_get(img, "Thumbnail");
        CHECK(spk__json_is_int(spk__json_get(thumb, "Height"), &i) && i == 125);
        const spk__json *animated = spk__json_get(img, "Animated");
        CHECK(animated && animated->kind == SPK__JSON_FALSE);
        const spk__json *ids = spk__json_get(img, "IDs");
        CHECK(ids && ids->kind == SPK__JSON_ARRAY && ids->n == 4);
        if (ids && ids->n == 4) CHECK(spk__json_is_int(&ids->items[3], &i) && i == 38793);
        /* offsets point at the values */
        if (title) CHECK_EQ_INT(title->offset, (size_t)(strstr(image, "\"View") - image));
        CHECK_ROUND_TRIP(spk__json_root(d));
    }
    spk__json_free(d);

    const char *places = "[\n"
                         "  {\n"
                         "     \"precision\": \"zip\",\n"
                         "     \"Latitude\":  37.7668,\n"
                         "     \"Longitude\": -122.3959,\n"
                         "     \"Address\":   \"\",\n"
                         "     \"City\":      \"SAN FRANCISCO\",\n"
                         "     \"State\":     \"CA\",\n"
                         "     \"Zip\":       \"94107\",\n"
                         "     \"Country\":   \"US\"\n"
                         "  },\n"
                         "  {\n"
                         "     \"precision\": \"zip\",\n"
                         "     \"Latitude\":  37.371991,\n"
                         "     \"Longitude\": -122.026020,\n"
                         "     \"Address\":   \"\",\n"
                         "     \"City\":      \"SUNNYVALE\",\n"
                         "     \"State\":     \"CA\",\n"
                         "     \"Zip\":       \"94085\",\n"
                         "     \"Country\":   \"US\"\n"
                         "  }\n"
                         "]";
    CHECK_OK(parse(places, &d));
    if (d) {
        const spk__json *arr = spk__json_root(d);
        CHECK(arr->kind == SPK__JSON_ARRAY && arr->n == 2);
        if (arr->n == 2) {
            double x = 0;
            int64_t i;
            const spk__json *lon = spk__json_get(&arr->items[1], "Longitude");
            CHECK(spk__json_is_number(lon, &x) && x == -122.026020);
            CHECK(!spk__json_is_int(lon, &i));
            CHECK(lon && lon->len == 11);
            if (lon) CHECK_STR(lon->str, "-122.026020"); /* as written */
            const spk__json *addr = spk__json_get(&arr->items[0], "Address");
            CHECK(addr && addr->kind == SPK__JSON_STRING && addr->len == 0 && addr->str[0] == '\0');
        }
        CHECK_ROUND_TRIP(spk__json_root(d));
    }
    spk__json_free(d);

    /* scalars are documents too (RFC 8259 section 13), with surrounding whitespace */
    static const struct {
        const char *text;
        spk__json_kind kind;
    } scalars[] = {{"\"Hello world!\"", SPK__JSON_STRING}, {"42", SPK__JSON_NUMBER}, {" true ", SPK__JSON_TRUE},
                   {"\t\r\nnull\n", SPK__JSON_NULL},     {"false", SPK__JSON_FALSE}, {" [ ] ", SPK__JSON_ARRAY},
                   {"{ }", SPK__JSON_OBJECT}};
    for (size_t k = 0; k < sizeof scalars / sizeof scalars[0]; k++) {
        CHECK_OK(parse(scalars[k].text, &d));
        if (d) {
            CHECK_EQ_INT(spk__json_root(d)->kind, scalars[k].kind);
            CHECK_EQ_INT(spk__json_root(d)->n, 0);
        }
        spk__json_free(d);
    }
}

static void test_numbers(void) {
    static const struct {
        const char *text;
        bool is_int;
        int64_t i;
        bool is_number;
        double x;
    } cases[] = {
        {"0", true, 0, true, 0.0},
        {"-0", true, 0, true, -0.0},
        {"1e-7", false, 0, true, 1e-7},
        {"1E+2", false, 0, true, 100.0},
        {"1e2", false, 0, true, 100.0},
        {"-0.0", false, 0, true, -0.0},
        {"0.5", false, 0, true, 0.5},
        {"123.456e-2", false, 0, true, 1.23456},
        {"9223372036854775807", true, INT64_MAX, true, 9223372036854775807.0},
        {"9223372036854775808", false, 0, true, 9223372036854775808.0},
        {"-9223372036854775808", true, INT64_MIN, true, -9223372036854775808.0},
        {"-9223372036854775809", false, 0, true, -9223372036854775808.0},
        {"18446744073709551616", false, 0, true, 18446744073709551616.0},
        {"12345678901234567890123", false, 0, true, 12345678901234567890123.0},
        {"1e400", false, 0, false, 0},
        {"-1e400", false, 0, false, 0},
        {"1e-400", false, 0, true, 0.0},
        {"0.1", false, 0, true, 0.1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        spk__json_doc *d = NULL;
        CHECK_OK(parse(cases[k].text, &d));
        if (!d) continue;
        const spk__json *v = spk__json_root(d);
        CHECK_EQ_INT(v->kind, SPK__JSON_NUMBER);
        CHECK_STR(v->str, cases[k].text);
        CHECK_EQ_INT(v->len, strlen(cases[k].text));
        int64_t i = 12345;
        bool is_int = spk__json_is_int(v, &i);
        if (is_int != cases[k].is_int || (is_int && i != cases[k].i))
            failf(__FILE__, __LINE__, "is_int(%s): %d %lld", cases[k].text, is_int, (long long)i);
        double x = 12345;
        bool is_number = spk__json_is_number(v, &x);
        if (is_number != cases[k].is_number ||
            (is_number && (x != cases[k].x || signbit(x) != signbit(cases[k].x))))
            failf(__FILE__, __LINE__, "is_number(%s): %d %.17g", cases[k].text, is_number, x);
        spk__json_free(d);
    }
    /* numbers inside containers, and non-numbers */
    spk__json_doc *d = NULL;
    CHECK_OK(parse("[-1,\"2\",true]", &d));
    if (d) {
        const spk__json *v = spk__json_root(d);
        int64_t i = 0;
        double x = 0;
        CHECK(spk__json_is_int(&v->items[0], &i) && i == -1);
        CHECK(!spk__json_is_int(&v->items[1], &i) && !spk__json_is_number(&v->items[1], &x));
        CHECK(!spk__json_is_int(&v->items[2], &i) && !spk__json_is_number(&v->items[2], &x));
        CHECK(!spk__json_is_int(v, &i) && !spk__json_is_int(NULL, &i) && !spk__json_is_number(NULL, &x));
    }
    spk__json_free(d);
}

static void test_shapes_and_offsets(void) {
    spk__json_doc *d = NULL;
    CHECK_OK(parse("{\"a\": [1, \"x\", {}], \"b\": {\"c\": null}}", &d));
    if (d) {
        const spk__json *root = spk__json_root(d), *a = spk__json_get(root, "a");
        CHECK_EQ_INT(root->offset, 0);
        CHECK(a && a->kind == SPK__JSON_ARRAY && a->n == 3);
        if (a && a->n == 3) {
            CHECK_EQ_INT(a->offset, 6);
            CHECK_EQ_INT(a->items[1].offset, 10);
            CHECK_EQ_INT(a->items[2].kind, SPK__JSON_OBJECT);
            CHECK_EQ_INT(a->items[2].n, 0);
        }
        const spk__json *c = spk__json_get(spk__json_get(root, "b"), "c");
        CHECK(c && c->kind == SPK__JSON_NULL && c->offset == 31);
    }
    spk__json_free(d);
    spk__json_free(NULL);
    CHECK(spk__json_root(NULL) == NULL);
    /* a NULL `what` still gives a message */
    CHECK_STATUS(spk__json_parse(NULL, "[", 1, NULL, &d), SPK_ERR_PARSE);
    CHECK_CONTAINS(spk_last_error(), "invalid JSON at byte 1");
    CHECK(d == NULL);
    spk__json_free(d);
}

static void test_nesting_limit(void) {
    char text[512];
    for (int depth = 60; depth <= 100; depth++) {
        for (int i = 0; i < depth; i++) {
            text[i] = '[';
            text[depth + i] = ']';
        }
        spk__json_doc *d = (spk__json_doc *)&d; /* must come back NULL on failure */
        spk_status st = parse_n(text, (size_t)depth * 2, &d);
        if (depth <= 64) {
            CHECK_OK(st);
            if (st == SPK_OK) {
                const spk__json *v = spk__json_root(d);
                int levels = 1;
                while (v->n == 1) v = &v->items[0], levels++;
                CHECK_EQ_INT(levels, depth);
            }
            spk__json_free(d);
        } else {
            CHECK_STATUS(st, SPK_ERR_LIMIT);
            if (st == SPK_OK) spk__json_free(d);
            else CHECK(d == NULL);
            CHECK_CONTAINS(spk_last_error(), WHAT ": JSON nested deeper than 64 levels at byte 64 (line 1, column 65)");
        }
    }
    /* objects count the same; an unterminated deep document hits the limit first */
    size_t n = 0;
    for (int i = 0; i < 100; i++) n += (size_t)snprintf(text + n, sizeof text - n, "{\"a\":");
    spk__json_doc *d = NULL;
    CHECK_STATUS(parse_n(text, n, &d), SPK_ERR_LIMIT);
    CHECK_CONTAINS(spk_last_error(), "at byte 320");
    spk__json_free(d);
    n = 0;
    for (int i = 0; i < 64; i++) n += (size_t)snprintf(text + n, sizeof text - n, "{\"a\":");
    text[n++] = '1';
    for (int i = 0; i < 64; i++) text[n++] = '}';
    CHECK_OK(parse_n(text, n, &d));
    spk__json_free(d);
}

static void test_size_limit(void) {
    /* refused before a byte is read, so the short buffer is never touched beyond */
    static const char one[1] = {'1'};
    spk__json_doc *d = NULL;
    CHECK_STATUS(spk__json_parse(NULL, one, ((size_t)1 << 30) + 1, WHAT, &d), SPK_ERR_LIMIT);
    CHECK_CONTAINS(spk_last_error(), WHAT ": JSON document of 1073741825 bytes is over the limit");
    CHECK(d == NULL);
    CHECK_STATUS(spk__json_parse(NULL, NULL, 5, WHAT, &d), SPK_ERR_ARG);
    CHECK_STATUS(spk__json_parse(NULL, NULL, 0, WHAT, &d), SPK_ERR_PARSE);
}

/* ------------------------------------------------------------ rejections */

static void test_rejections(void) {
    static const struct {
        const char *text;
        size_t len; /* 0: strlen(text) */
        size_t at;
        const char *detail; /* in the message after the position */
    } cases[] = {
        /* structure */
        {"", 0, 0, "expected a value, found end of input"},
        {"   ", 0, 3, "expected a value, found end of input"},
        {"[1,2,]", 0, 5, "expected a value, found ']'"},
        {"{\"a\":1,}", 0, 7, "expected a string key after ',', found '}'"},
        {"{,}", 0, 1, "expected a string key or '}', found ','"},
        {"[1 2]", 0, 3, "expected ',' or ']' after an array item, found '2'"},
        {"[1,2", 0, 4, "expected ',' or ']' after an array item, found end of input"},
        {"{\"a\" 1}", 0, 5, "expected ':' after the key, found '1'"},
        {"{\"a\":1 \"b\":2}", 0, 7, "expected ',' or '}' after an object member, found '\"'"},
        {"{1:2}", 0, 1, "expected a string key or '}', found '1'"},
        {"{'a':1}", 0, 1, "found '''"},
        {"1 2", 0, 2, "expected end of input after the value, found '2'"},
        {"[1]x", 0, 3, "expected end of input after the value, found 'x'"},
        {"[1]]", 0, 3, "found ']'"},
        {"\x00", 1, 0, "expected a value, found byte 0x00"},
        {"[1,\n  2,\n  x]", 0, 11, "(line 3, column 3): expected a value, found 'x'"},
        {"\xEF\xBB\xBF" "1", 0, 0, "expected a value, found byte 0xEF"},
        {"[1]\f", 0, 3, "found byte 0x0C"},
        /* comments and non-JSON literals */
        {"// c\n1", 0, 0, "found '/'"},
        {"/* c */ 1", 0, 0, "found '/'"},
        {"1 // c", 0, 2, "expected end of input after the value, found '/'"},
        {"[1, /* c */ 2]", 0, 4, "found '/'"},
        {"NaN", 0, 0, "expected a value, found 'N'"},
        {"Infinity", 0, 0, "found 'I'"},
        {"-Infinity", 0, 1, "expected a digit after '-', found 'I'"},
        {"[nul]", 0, 4, "expected 'null', found ']'"},
        {"tru", 0, 3, "expected 'true', found end of input"},
        {"trUe", 0, 2, "expected 'true', found 'U'"},
        {"fals e", 0, 4, "expected 'false', found ' '"},
        {"undefined", 0, 0, "found 'u'"},
        /* numbers */
        {"01", 0, 0, "number with a leading zero"},
        {"[-012]", 0, 1, "number with a leading zero"},
        {"-", 0, 1, "expected a digit after '-', found end of input"},
        {"- 1", 0, 1, "expected a digit after '-', found ' '"},
        {"1.", 0, 2, "expected a digit after the decimal point, found end of input"},
        {"1.e5", 0, 2, "expected a digit after the decimal point, found 'e'"},
        {".5", 0, 0, "expected a value, found '.'"},
        {"1e", 0, 2, "expected a digit in the exponent, found end of input"},
        {"1e+", 0, 3, "expected a digit in the exponent, found end of input"},
        {"1E-x", 0, 3, "expected a digit in the exponent, found 'x'"},
        {"+1", 0, 0, "expected a value, found '+'"},
        {"0x10", 0, 1, "expected end of input after the value, found 'x'"},
        {"1.5.2", 0, 3, "found '.'"},
        /* strings */
        {"\"abc", 0, 0, "unterminated string"},
        {"[\"abc\\\"]", 0, 1, "unterminated string"},
        {"\"abc\\", 0, 0, "unterminated string"},
        {"\"a\tb\"", 0, 2, "control character 0x09 in a string (it must be escaped)"},
        {"\"a\nb\"", 0, 2, "control character 0x0A"},
        {"\"a\0b\"", 5, 2, "control character 0x00"},
        {"\"\\x\"", 0, 1, "invalid escape '\\x' in a string"},
        {"\"\\'\"", 0, 1, "invalid escape '\\''"},
        {"\"\\\x01\"", 0, 1, "invalid escape (backslash followed by byte 0x01)"},
        {"\"\\u12G4\"", 0, 1, "\\u must be followed by four hex digits"},
        {"\"\\u12\"", 0, 1, "\\u must be followed by four hex digits"},
        {"\"\\u123\"", 0, 1, "\\u must be followed by four hex digits"},
        {"\"\\uD800\"", 0, 1, "lone high surrogate \\uD800"},
        {"\"ab\\uDBFF\\u0041\"", 0, 3, "lone high surrogate \\uDBFF"},
        {"\"\\uD800\\uD800\"", 0, 1, "lone high surrogate"},
        {"\"\\uD800\\n\"", 0, 1, "lone high surrogate"},
        {"\"\\uD800\\uDC0\"", 0, 1, "lone high surrogate"},
        {"\"\\uDC00\"", 0, 1, "lone low surrogate \\uDC00"},
        {"\"\\uDFFF\\uD800\"", 0, 1, "lone low surrogate \\uDFFF"},
        /* UTF-8 */
        {"\"\x80\"", 0, 1, "invalid UTF-8: a UTF-8 continuation byte without a lead byte (byte 0x80)"},
        {"\"\xC0\xAF\"", 0, 1, "an overlong UTF-8 encoding (byte 0xC0)"},
        {"\"\xC1\xBF\"", 0, 1, "an overlong UTF-8 encoding"},
        {"\"\xE0\x80\xAF\"", 0, 1, "an overlong UTF-8 encoding (byte 0xE0)"},
        {"\"\xF0\x8F\xBF\xBF\"", 0, 1, "an overlong UTF-8 encoding (byte 0xF0)"},
        {"\"ok \xED\xA0\x80\"", 0, 4, "a UTF-8 encoded surrogate"},
        {"\"\xED\xBF\xBF\"", 0, 1, "a UTF-8 encoded surrogate"},
        {"\"\xF4\x90\x80\x80\"", 0, 1, "a UTF-8 sequence beyond U+10FFFF"},
        {"\"\xF5\x80\x80\x80\"", 0, 1, "a byte that never occurs in UTF-8 (byte 0xF5)"},
        {"\"\xFF\"", 0, 1, "a byte that never occurs in UTF-8"},
        {"\"\xE2\x82\"", 0, 1, "a truncated UTF-8 sequence"},
        {"\"\xF0\x9D\x84 \"", 0, 1, "a truncated UTF-8 sequence"},
        {"{\"\xC3\"", 0, 2, "a truncated UTF-8 sequence"},
        {"\xC3\xA9", 0, 0, "expected a value, found byte 0xC3"},
        /* duplicate keys, compared decoded */
        {"{\"a\":1,\"b\":2,\"a\":3}", 0, 13, "duplicate key \"a\" in an object"},
        {"{\"a\":1,\"\\u0061\":2}", 0, 7, "duplicate key \"a\""},
        {"[{\"x\":{\"k\":1,\"k\":1}}]", 0, 13, "duplicate key \"k\""},
        {"{\"\\u0000\":1,\"\\u0000\":2}", 0, 12, "duplicate key \"?\""},
        {"{\"a\":1,\"a\":2,\"b\":3,\"b\":4}", 0, 7, "duplicate key \"a\""},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t len = cases[k].len ? cases[k].len : strlen(cases[k].text);
        spk__json_doc *d = (spk__json_doc *)&d;
        spk_status st = parse_n(cases[k].text, len, &d);
        char want[64];
        snprintf(want, sizeof want, WHAT ": invalid JSON at byte %zu (line ", cases[k].at);
        const char *msg = spk_last_error();
        if (st != SPK_ERR_PARSE || d != NULL || !strstr(msg, want) || !strstr(msg, cases[k].detail))
            failf(__FILE__, __LINE__, "case %zu: %s, message \"%s\"; expected \"%s...%s\"", k, spk_status_name(st),
                  msg, want, cases[k].detail);
        if (st == SPK_OK) spk__json_free(d);
    }
    /* the whole form of one message */
    spk__json_doc *d = NULL;
    CHECK_STATUS(parse("{\n  \"a\": tru\n}", &d), SPK_ERR_PARSE);
    CHECK_STR(spk_last_error(), WHAT ": invalid JSON at byte 12 (line 2, column 11): expected 'true', found byte 0x0A");
    spk__json_free(d);
}

/* Duplicates in objects too large to compare pairwise: the first key (in
 * document order) that repeats an earlier one is reported. */
static void test_duplicate_keys_large(void) {
    char text[4096];
    for (int dup_at = 17; dup_at < 120; dup_at += 17) {
        size_t n = 0;
        size_t expect_at = 0;
        text[n++] = '{';
        for (int i = 0; i < 120; i++) {
            if (i) text[n++] = ',';
            /* key i repeats key i - 5 at dup_at, and key 3 again at the end */
            int name = i == dup_at ? i - 5 : i == 119 ? 3 : i;
            if (i == dup_at) expect_at = n;
            n += (size_t)snprintf(text + n, sizeof text - n, "\"k%d\":%d", name, i);
        }
        text[n++] = '}';
        spk__json_doc *d = NULL;
        char want[96];
        snprintf(want, sizeof want, "at byte %zu (line 1, column %zu): duplicate key \"k%d\"", expect_at,
                 expect_at + 1, dup_at - 5);
        CHECK_STATUS(parse_n(text, n, &d), SPK_ERR_PARSE);
        CHECK_CONTAINS(spk_last_error(), want);
        spk__json_free(d);
    }
    /* and 200 distinct keys are fine */
    size_t n = 0;
    text[n++] = '{';
    for (int i = 0; i < 200; i++) n += (size_t)snprintf(text + n, sizeof text - n, "%s\"k%d\":%d", i ? "," : "", i, i);
    text[n++] = '}';
    spk__json_doc *d = NULL;
    CHECK_OK(parse_n(text, n, &d));
    if (d) {
        int64_t v = 0;
        CHECK_EQ_INT(spk__json_root(d)->n, 200);
        CHECK(spk__json_is_int(spk__json_get(spk__json_root(d), "k199"), &v) && v == 199);
    }
    spk__json_free(d);
}

/* ------------------------------------------------------------ hostile input */

/* About 300 bytes using every construct: nesting, escapes, surrogate pairs,
 * multi-byte UTF-8, every kind of number, literals and whitespace. */
static const char hostile_doc[] =
    "{\"op\": \"insert\", \"v\": 1, \"rows\": [[1, -2.5e+3, \"a\\\"b\\\\c\\n\", null], "
    "[0, 1E-7, \"\xC3\xA9\xE2\x82\xAC\", true],"
    " [-0, 12345678901234567890, \"\\ud83d\\ude00\\u0000x\", false]], \"meta\": {\"t\\u00e9\": {\"deep\": [[[{}]]], "
    "\"e\": []}, \"\xF0\x9F\x98\x80\": \"\\/\\b\\f\\r\\t\"},\r\n \"n\": -9223372036854775808, \"z\": 0.000,"
    "\t\"list\": [\"x\", 3.25E2, {\"k\": \"\\u20AC\"}]}";

static int check_outcome(const char *text, size_t len, const char *file, int line) {
    spk__json_doc *d = (spk__json_doc *)&d;
    spk_status st = parse_n(text, len, &d);
    if (st == SPK_OK) {
        check_round_trip(spk__json_root(d), file, line);
        spk__json_free(d);
        return 1;
    }
    if ((st != SPK_ERR_PARSE && st != SPK_ERR_LIMIT) || d != NULL || !strstr(spk_last_error(), "at byte "))
        failf(file, line, "%s with \"%s\"", spk_status_name(st), spk_last_error());
    return 0;
}

static void test_truncations(void) {
    size_t len = sizeof hostile_doc - 1;
    CHECK(len >= 280);
    for (size_t n = 0; n < len; n++) {
        spk__json_doc *d = (spk__json_doc *)&d;
        spk_status st = parse_n(hostile_doc, n, &d);
        if (st != SPK_ERR_PARSE || d != NULL || !strstr(spk_last_error(), "at byte "))
            failf(__FILE__, __LINE__, "prefix of %zu bytes: %s (%s)", n, spk_status_name(st), spk_last_error());
        if (st == SPK_OK) spk__json_free(d);
    }
    spk__json_doc *d = NULL;
    CHECK_OK(parse_n(hostile_doc, len, &d));
    if (d) {
        const spk__json *root = spk__json_root(d);
        int64_t i = 0;
        CHECK(spk__json_is_int(spk__json_get(root, "n"), &i) && i == INT64_MIN);
        const spk__json *rows = spk__json_get(root, "rows");
        CHECK(rows && rows->n == 3);
        if (rows && rows->n == 3) {
            const spk__json *s = &rows->items[2].items[2];
            CHECK(same_bytes(s->str, s->len, "\xF0\x9F\x98\x80\0x", 6));
        }
        CHECK_ROUND_TRIP(root);
    }
    spk__json_free(d);
}

static void test_byte_mutations(void) {
    size_t len = sizeof hostile_doc - 1;
    char *text = (char *)malloc(len);
    if (!text) abort();
    static const unsigned char masks[] = {0xFF, 0x01, 0x02, 0x20, 0x40, 0x80};
    static const char replacements[] = {'"', '\\', '[', ']', '{', '}', ',', ':', '\0', '0', 'e', '-', ' '};
    int parsed = 0, failed = 0;
    for (size_t pos = 0; pos < len; pos++) {
        for (size_t m = 0; m < sizeof masks + sizeof replacements; m++) {
            memcpy(text, hostile_doc, len);
            if (m < sizeof masks) text[pos] = (char)(text[pos] ^ masks[m]);
            else text[pos] = replacements[m - sizeof masks];
            if (check_outcome(text, len, __FILE__, __LINE__)) parsed++;
            else failed++;
        }
        /* and the byte removed */
        memcpy(text, hostile_doc, pos);
        memcpy(text + pos, hostile_doc + pos + 1, len - pos - 1);
        if (check_outcome(text, len - 1, __FILE__, __LINE__)) parsed++;
        else failed++;
    }
    free(text);
    /* both outcomes happen (a mutation inside a string usually still parses) */
    CHECK(parsed > 100);
    CHECK(failed > 1000);
}

/* ------------------------------------------------------------ allocation failures */

/* Parses the document and writes it back with allocator a. */
static spk_status parse_and_write(const spk_allocator *a, const char *text, size_t len, char **out, size_t *out_len) {
    spk__json_doc *d = NULL;
    *out = NULL;
    spk_status st = parse_alloc(a, text, len, &d);
    if (st != SPK_OK) return st;
    spk__jbuf b;
    spk__jbuf_init(&b, a);
    write_value(&b, spk__json_root(d));
    spk__jbuf_fmt(&b, "\n%zu values\n", spk__json_root(d)->n);
    spk__json_free(d);
    return spk__jbuf_finish(&b, out, out_len);
}

static void test_allocation_failure_sweep(void) {
    /* the hostile document, a long array (the item stack and arena grow) and
     * an object large enough for the sorted duplicate check */
    sbuf doc = {NULL, 0, 0};
    sb_str(&doc, "[");
    sb_str(&doc, hostile_doc);
    sb_str(&doc, ", [");
    char num[256];
    for (int i = 0; i < 600; i++) {
        snprintf(num, sizeof num, "%s%d", i ? "," : "", i * 7919);
        sb_str(&doc, num);
    }
    sb_str(&doc, "], {");
    for (int i = 0; i < 40; i++) {
        snprintf(num, sizeof num, "%s\"key%d\":\"%*s\"", i ? "," : "", i, i * 3, "");
        sb_str(&doc, num);
    }
    sb_str(&doc, "}]");

    char *want = NULL;
    size_t want_len = 0;
    CHECK_OK(parse_and_write(NULL, doc.p, doc.len, &want, &want_len));

    long k;
    int nomem = 0;
    for (k = 1; k < 100000; k++) {
        spk_failalloc f;
        spk_failalloc_init(&f, NULL, k);
        char *got = NULL;
        size_t got_len = 0;
        spk_status st = parse_and_write(&f.iface, doc.p, doc.len, &got, &got_len);
        if (st == SPK_OK) {
            if (!want || !same_bytes(got, got_len, want, want_len)) failf(__FILE__, __LINE__, "k=%ld: other text", k);
            spk__free(&f.iface, got, got_len + 1);
        } else if (st == SPK_ERR_NOMEM) {
            nomem++;
            if (!strstr(spk_last_error(), "out of memory")) failf(__FILE__, __LINE__, "k=%ld: %s", k, spk_last_error());
            if (got) failf(__FILE__, __LINE__, "k=%ld: a text after a failure", k);
        } else {
            failf(__FILE__, __LINE__, "k=%ld: %s (%s)", k, spk_status_name(st), spk_last_error());
        }
        if (f.live_blocks != 0 || f.live_bytes != 0)
            failf(__FILE__, __LINE__, "k=%ld: %ld blocks, %zu bytes leaked", k, f.live_blocks, f.live_bytes);
        if (f.failures == 0) break; /* the allocation numbered k was never made: every one has been refused once */
    }
    CHECK(k < 100000);
    CHECK(nomem >= 5); /* document, arena blocks, stacks, sort scratch, writer */
    /* every allocation after the first refusal refused too */
    for (k = 1; k < 100000; k++) {
        spk_failalloc f;
        spk_failalloc_init(&f, NULL, k);
        f.fail_after = true;
        char *got = NULL;
        size_t got_len = 0;
        spk_status st = parse_and_write(&f.iface, doc.p, doc.len, &got, &got_len);
        if (st == SPK_OK) spk__free(&f.iface, got, got_len + 1);
        else if (st != SPK_ERR_NOMEM) failf(__FILE__, __LINE__, "k=%ld: %s", k, spk_status_name(st));
        if (f.live_blocks != 0 || f.live_bytes != 0) failf(__FILE__, __LINE__, "k=%ld (fail after): leak", k);
        if (f.failures == 0) break;
    }
    spk__free(&spk__default_allocator, want, want_len + 1);
    free(doc.p);
}

int main(void) {
    RUN(test_string_round_trips);
    RUN(test_parse_escapes);
    RUN(test_document_round_trip);
    RUN(test_writer_buffer);
    RUN(test_writer_shrink_refused);
    RUN(test_rfc8259_examples);
    RUN(test_numbers);
    RUN(test_shapes_and_offsets);
    RUN(test_nesting_limit);
    RUN(test_size_limit);
    RUN(test_rejections);
    RUN(test_duplicate_keys_large);
    RUN(test_truncations);
    RUN(test_byte_mutations);
    RUN(test_allocation_failure_sweep);
    return TEST_REPORT();
}
