/* libFuzzer harness: transaction operations as JSON (spk_txn_ops_from_json).
 * Any input must decode or be refused cleanly; what decodes must re-encode
 * to a document that decodes again and encodes to the same bytes (the
 * encoding is a fixed point after one round). Built and run by `make test`
 * (tools/runtests) and `make fuzz FUZZER=txn_json`. */
#define SPARKLESS_IMPLEMENTATION
#include "../../sparkless.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *a, const char *b) {
    fprintf(stderr, "fuzz_txn_json: %s\n", what);
    if (a) fprintf(stderr, "first:  %s\n", a);
    if (b) fprintf(stderr, "second: %s\n", b);
    fprintf(stderr, "last error: %s\n", spk_last_error());
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    spk_txn_ops *ops = NULL;
    /* data is exactly size bytes, not NUL-terminated: ASan sees any read past it. */
    if (spk_txn_ops_from_json((const char *)data, size, &ops) != SPK_OK) {
        if (ops) fail("a refused document left *out set", NULL, NULL);
        return 0;
    }
    if (!ops || spk_txn_ops_count(ops) < 0) fail("decoded to no operations", NULL, NULL);
    char *first = NULL, *second = NULL;
    spk_txn_ops *back = NULL;
    if (spk_txn_ops_to_json(ops, &first) != SPK_OK) fail("decoded operations do not encode", NULL, NULL);
    if (spk_txn_ops_from_json(first, strlen(first), &back) != SPK_OK) fail("an encoding does not decode", first, NULL);
    if (spk_txn_ops_count(back) != spk_txn_ops_count(ops)) fail("operation count changed", first, NULL);
    if (spk_txn_ops_to_json(back, &second) != SPK_OK) fail("re-decoded operations do not encode", first, NULL);
    if (strcmp(first, second) != 0) fail("encoding is not a fixed point", first, second);
    spk_string_free(first);
    spk_string_free(second);
    spk_txn_ops_free(back);
    spk_txn_ops_free(ops);
    return 0;
}
