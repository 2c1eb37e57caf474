/* bench/rowstore — memory per row and append throughput of the row store.
 *
 * Builds a 1M-row table of (id BIGINT, price DOUBLE, day DATE, note STRING of
 * 10-40 chars) three times, through spk_table_append_row (one row per call)
 * and through spk_table_append_rows (batches of 1024), and prints the median
 * time of each and the table's bytes per row next to the packed size: the
 * fixed-width fields (8 + 8 + 4 bytes) plus the string bytes. Target: at most
 * 1.2 x packed. Run: make bench (or build/bench/rowstore). */
#define SPARKLESS_IMPLEMENTATION
#include "../sparkless.h"
#include "bench_util.h"
#include <time.h>

#define ROWS 1000000
#define BATCH 1024
#define RUNS 3

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void) { /* xorshift64 */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static char *notes;       /* ROWS strings, back to back */
static size_t *note_at;   /* ROWS + 1 offsets */

static void make_notes(void) {
    note_at = malloc((ROWS + 1) * sizeof *note_at);
    notes = malloc((size_t)ROWS * 40);
    size_t at = 0;
    for (size_t r = 0; r < ROWS; r++) {
        note_at[r] = at;
        size_t len = 10 + rng() % 31;
        for (size_t k = 0; k < len; k++) notes[at++] = (char)('a' + rng() % 26);
    }
    note_at[ROWS] = at;
}

static void row_values(size_t r, spk_value *v) {
    v[0] = spk_value_i64((int64_t)r);
    v[1] = spk_value_f64((double)r * 0.25);
    v[2] = spk_value_date((int32_t)(18000 + r % 3000));
    v[3] = spk_value_strn(notes + note_at[r], note_at[r + 1] - note_at[r]);
}

static spk_table *build(spk_schema *schema, bool batched, double *seconds) {
    spk_table *t = NULL;
    if (spk_table_new(NULL, schema, &t) != SPK_OK) return NULL;
    static spk_value batch[BATCH * 4];
    double t0 = now_s();
    for (size_t r = 0; r < ROWS;) {
        if (batched) {
            size_t n = ROWS - r < BATCH ? ROWS - r : BATCH;
            for (size_t k = 0; k < n; k++) row_values(r + k, batch + k * 4);
            if (spk_table_append_rows(t, batch, n) != SPK_OK) goto fail;
            r += n;
        } else {
            spk_value v[4];
            row_values(r, v);
            if (spk_table_append_row(t, v, 4) != SPK_OK) goto fail;
            r++;
        }
    }
    *seconds = now_s() - t0;
    return t;
fail:
    fprintf(stderr, "append failed: %s\n", spk_last_error());
    spk_table_free(t);
    return NULL;
}

int main(void) {
    make_notes();
    spk_schema *schema = NULL;
    if (spk_schema_parse(NULL, "id BIGINT, price DOUBLE, day DATE, note STRING", &schema) != SPK_OK) {
        fprintf(stderr, "%s\n", spk_last_error());
        return 1;
    }
    double single[RUNS], batched[RUNS];
    size_t bytes = 0, chunks = 0;
    for (int run = 0; run < RUNS; run++) {
        for (int mode = 0; mode < 2; mode++) {
            double s;
            spk_table *t = build(schema, mode == 1, &s);
            if (!t) return 1;
            (mode ? batched : single)[run] = s;
            bytes = spk_table_memory(t);
            chunks = spk_table_nchunks(t);
            /* read everything back once, so a broken store cannot look fast */
            spk_value v;
            if (spk_table_get(t, ROWS - 1, 3, &v) != SPK_OK ||
                v.as.str.len != note_at[ROWS] - note_at[ROWS - 1]) {
                fprintf(stderr, "read-back mismatch\n");
                return 1;
            }
            spk_table_free(t);
        }
    }
    double single_s = median(single, RUNS), batched_s = median(batched, RUNS);
    double string_bytes = (double)note_at[ROWS] / ROWS;
    double packed = 8 + 8 + 4 + string_bytes;
    double per_row = (double)bytes / ROWS;
    printf("rowstore: %d rows of (BIGINT, DOUBLE, DATE, STRING 10-40), %zu chunks\n", ROWS, chunks);
    printf("  bytes/row        %.2f  (packed fixed 20 + strings %.2f = %.2f; ratio %.3f, target <= 1.2)\n",
           per_row, string_bytes, packed, per_row / packed);
    printf("  append_row       median %.3f s  %.2f M rows/s\n", single_s, ROWS / single_s / 1e6);
    printf("  append_rows      median %.3f s  %.2f M rows/s (batches of %d)\n", batched_s, ROWS / batched_s / 1e6, BATCH);
    spk_schema_release(schema);
    free(notes);
    free(note_at);
    return per_row / packed <= 1.2 ? 0 : 2;
}
