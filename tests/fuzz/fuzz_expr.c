/* libFuzzer harness: encoded expressions (spk_expr_decode). Any bytes must
 * decode or be refused cleanly. What decodes must encode, decode again to a
 * tree spk_expr_equal to it, and encode to the same bytes; its SQL text must
 * respect the snprintf contract. UDF references resolve against a scalar
 * and an aggregate UDF registered at start (fuzz_common.h), and a strict
 * registry must refuse exactly the messages that carry a macro inline.
 * Built and run by `make test` (tools/runtests) and `make fuzz FUZZER=expr`. */
#define _POSIX_C_SOURCE 200809L
#define SPARKLESS_IMPLEMENTATION
#include "../../sparkless.h"
#include "fuzz_common.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static spk_udf_registry *strict; /* empty and strict: refuses inline macros */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    if (fuzz_register_udfs() != 0 || spk_udf_registry_new(&strict) != SPK_OK) {
        fprintf(stderr, "fuzz_expr: setup failed: %s\n", spk_last_error());
        abort();
    }
    spk_udf_registry_set_strict(strict, true);
    return 0;
}

static void fail(const char *what) {
    fprintf(stderr, "fuzz_expr: %s (last error: %s)\n", what, spk_last_error());
    abort();
}

/* e's SQL text, whole (malloc'd), after checking the snprintf contract on a small buffer. */
static char *sql_of(const spk_expr *e) {
    char small[16];
    memset(small, 'x', sizeof small);
    size_t n = spk_expr_to_sql(e, small, sizeof small);
    if (strlen(small) != (n < sizeof small ? n : sizeof small - 1)) fail("spk_expr_to_sql broke the snprintf contract");
    char *all = (char *)malloc(n + 1);
    if (!all) fail("out of memory");
    if (spk_expr_to_sql(e, all, n + 1) != n || strlen(all) != n) fail("spk_expr_to_sql gave two lengths");
    if (memcmp(all, small, sizeof small - 1 < n ? sizeof small - 1 : n) != 0) fail("spk_expr_to_sql truncated differently");
    return all;
}

/* Whether e calls a macro (which strict decoding refuses); this file
 * compiles the implementation, so it may walk the tree's fields. */
static bool has_macro(const spk_expr *e) {
    if (e->udf && spk_udf_kind_of(e->udf) == SPK_UDF_MACRO) return true;
    for (int i = 0; i < e->nargs; i++)
        if (has_macro(e->args[i])) return true;
    return false;
}

static void one(const uint8_t *data, size_t size) {
    spk_expr *e = NULL;
    if (spk_expr_decode(data, size, NULL, &e) != SPK_OK) {
        if (e) fail("a refused message left *out set");
        return;
    }
    if (!e) fail("decoded to NULL");
    spk_bytes first, second;
    memset(&first, 0, sizeof first);
    memset(&second, 0, sizeof second);
    spk_expr *back = NULL;
    if (spk_expr_encode(e, &first) != SPK_OK) fail("a decoded expression does not encode");
    if (spk_expr_decode(first.data, first.len, NULL, &back) != SPK_OK) fail("an encoding does not decode");
    if (!spk_expr_equal(e, back) || !spk_expr_equal(back, e)) fail("decode(encode(e)) is not equal to e");
    if (!spk_expr_equal(e, e)) fail("e is not equal to itself");
    if (spk_expr_encode(back, &second) != SPK_OK) fail("a re-decoded expression does not encode");
    if (first.len != second.len || memcmp(first.data, second.data, first.len) != 0) fail("encoding is not a fixed point");
    char *a = sql_of(e), *b = sql_of(back);
    if (strcmp(a, b) != 0) fail("equal trees print differently");
    /* Strict decoding: the same tree, unless a macro travels inline. */
    spk_expr *s = NULL;
    spk_status st = spk_expr_decode(data, size, strict, &s);
    if (st == SPK_OK && !spk_expr_equal(e, s)) fail("strict decoding gave another tree");
    if (st != SPK_OK && s) fail("a strictly refused message left *out set");
    if ((st == SPK_OK) == has_macro(e)) fail(st == SPK_OK ? "strict decoding took an inline macro" : "strict decoding refused a message without macros");
    spk_expr_release(s);
    free(a);
    free(b);
    spk_bytes_free(&first);
    spk_bytes_free(&second);
    spk_expr_release(back);
    spk_expr_release(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    one(data, size);
    uint8_t *fixed = fuzz_wire_fixup(data, size); /* the same bytes under a matching header */
    if (fixed) {
        one(fixed, size);
        free(fixed);
    }
    return 0;
}
