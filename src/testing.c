/* testing: DataFrame and schema assertions (testing.h). */
#include "jsonl.c"
#include "testing.h"

/* Cells in a report are cut as show()'s default does. */
#define SPK__ASSERT_TRUNCATE 20
/* Spaces between the two sides of a report. */
#define SPK__ASSERT_GAP 4
/* Tolerant comparisons spent pairing leftover rows that no sorted walk paired:
 * beyond it, such rows are reported as differing (only pathological inputs
 * get there: rows whose doubles are within tolerance yet sort apart). */
#define SPK__ASSERT_PAIR_BUDGET 20000000u

/* ------------------------------------------------------------ small helpers */

static size_t spk__assert_bytes(size_t n, size_t each) { return (n ? n : 1) * each; }

static void *spk__assert_array(size_t n, size_t each) {
    size_t bytes;
    if (spk__mul_overflows(n ? n : 1, each, &bytes)) return NULL;
    return spk__calloc(&spk__default_allocator, bytes);
}

static void spk__assert_array_free(void *p, size_t n, size_t each) {
    if (p) spk__free(&spk__default_allocator, p, spk__assert_bytes(n, each));
}

/* "1 row", "2 rows". */
static void spk__assert_count(spk__textbuf *b, size_t n, const char *one, const char *many) {
    spk__sb_printf(b, "%zu %s", n, n == 1 ? one : many);
}

/* The options with defaults filled in; nonsense values are SPK_ERR_ARG. */
static spk_status spk__assert_options(const char *fn, const spk_df_equal_options *in, spk_df_equal_options *out) {
    memset(out, 0, sizeof *out);
    if (in) *out = *in;
    if (!(out->rtol >= 0 && isfinite(out->rtol)) || !(out->atol >= 0 && isfinite(out->atol)))
        return spk__fail(SPK_ERR_ARG, "%s: rtol and atol must be finite and not negative (got %g and %g)", fn,
                         out->rtol, out->atol);
    if (out->max_rows < 0) return spk__fail(SPK_ERR_ARG, "%s: max_rows is %d (0 means 20)", fn, out->max_rows);
    if (out->rtol == 0 && out->atol == 0) {
        out->rtol = 1e-5;
        out->atol = 1e-8;
    }
    if (out->max_rows == 0) out->max_rows = 20;
    return SPK_OK;
}

/* Writes `left` and `right` (lines ending in '\n') next to each other, the
 * right side starting SPK__ASSERT_GAP columns after the widest left line. */
static void spk__assert_side_by_side(spk__textbuf *out, const char *left, const char *right) {
    size_t width = 0;
    for (const char *p = left; *p;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        size_t w = spk__display_width(p, n);
        if (w > width) width = w;
        p += n + (e ? 1 : 0);
    }
    const char *l = left, *r = right;
    while (*l || *r) {
        const char *le = strchr(l, '\n'), *re = strchr(r, '\n');
        size_t ln = le ? (size_t)(le - l) : strlen(l), rn = re ? (size_t)(re - r) : strlen(r);
        spk__sb_put(out, l, ln);
        if (*r) {
            spk__sb_fill(out, ' ', width - spk__display_width(l, ln) + SPK__ASSERT_GAP);
            spk__sb_put(out, r, rn);
        }
        spk__sb_str(out, "\n");
        l += ln + (le ? 1 : 0);
        r += rn + (re ? 1 : 0);
    }
}

/* The report as the caller's string, without its last newline. */
static spk_status spk__assert_finish(spk__textbuf *msg, char **message) {
    if (!msg->failed && msg->len && msg->p[msg->len - 1] == '\n') msg->p[--msg->len] = '\0';
    char *text = NULL;
    spk_status st = spk__sb_finish(msg, &text);
    if (st != SPK_OK) return st;
    /* the first line also goes to spk_last_error(), as any failure's message */
    const char *nl = strchr(text, '\n');
    spk__fail(SPK_ERR_ASSERTION, "%.*s", (int)(nl ? (size_t)(nl - text) : strlen(text)), text);
    if (message) *message = text;
    else spk_string_free(text);
    return SPK_ERR_ASSERTION;
}

/* ------------------------------------------------------------ schemas */

/* How two schemas line up: which columns differ, and for each actual column
 * the expected column compared with it (-1: none). */
typedef struct spk__assert_schema_diff {
    int na, ne;
    bool *bad_a, *bad_e;
    int *ecol;
    int differing; /* columns that differ, as the report counts them */
} spk__assert_schema_diff;

static void spk__assert_schema_diff_free(spk__assert_schema_diff *d) {
    spk__assert_array_free(d->bad_a, (size_t)d->na, sizeof *d->bad_a);
    spk__assert_array_free(d->bad_e, (size_t)d->ne, sizeof *d->bad_e);
    spk__assert_array_free(d->ecol, (size_t)d->na, sizeof *d->ecol);
    memset(d, 0, sizeof *d);
}

static bool spk__assert_field_same(const spk_field *a, const spk_field *e, bool check_nullable) {
    return strcmp(a->name, e->name) == 0 && spk_type_equal(a->type, e->type) &&
           (!check_nullable || a->nullable == e->nullable);
}

static spk_status spk__assert_schema_diff_make(const spk_schema *a, const spk_schema *e, const spk_df_equal_options *o,
                                               spk__assert_schema_diff *d) {
    memset(d, 0, sizeof *d);
    d->na = spk_schema_ncols(a);
    d->ne = spk_schema_ncols(e);
    d->bad_a = (bool *)spk__assert_array((size_t)d->na, sizeof *d->bad_a);
    d->bad_e = (bool *)spk__assert_array((size_t)d->ne, sizeof *d->bad_e);
    d->ecol = (int *)spk__assert_array((size_t)d->na, sizeof *d->ecol);
    bool *used = (bool *)spk__assert_array((size_t)d->ne, sizeof *used);
    if (!d->bad_a || !d->bad_e || !d->ecol || !used) {
        spk__assert_array_free(used, (size_t)d->ne, sizeof *used);
        spk__assert_schema_diff_free(d);
        return spk__nomem("schema comparison", spk__assert_bytes((size_t)spk_schema_ncols(a), sizeof(int)));
    }
    if (!o->ignore_column_order) {
        int n = d->na > d->ne ? d->na : d->ne;
        for (int i = 0; i < n; i++) {
            const spk_field *fa = spk_schema_field(a, i), *fe = spk_schema_field(e, i);
            if (i < d->na) d->ecol[i] = i < d->ne ? i : -1;
            if (fa && fe && spk__assert_field_same(fa, fe, o->check_nullable)) continue;
            if (fa) d->bad_a[i] = true;
            if (fe) d->bad_e[i] = true;
            d->differing++;
        }
    } else {
        /* each actual column pairs with the first expected one of that exact name not paired yet */
        for (int i = 0; i < d->na; i++) {
            const spk_field *fa = spk_schema_field(a, i);
            d->ecol[i] = -1;
            for (int j = 0; j < d->ne && d->ecol[i] < 0; j++)
                if (!used[j] && strcmp(fa->name, spk_schema_field(e, j)->name) == 0) {
                    used[j] = true;
                    d->ecol[i] = j;
                }
            const spk_field *fe = d->ecol[i] >= 0 ? spk_schema_field(e, d->ecol[i]) : NULL;
            if (fe && spk__assert_field_same(fa, fe, o->check_nullable)) continue;
            d->bad_a[i] = true;
            if (d->ecol[i] >= 0) d->bad_e[d->ecol[i]] = true;
            d->differing++;
        }
        for (int j = 0; j < d->ne; j++)
            if (!used[j]) {
                d->bad_e[j] = true;
                d->differing++;
            }
    }
    spk__assert_array_free(used, (size_t)d->ne, sizeof *used);
    return SPK_OK;
}

/* One side of a schema report: its label, then printSchema's tree with a '*'
 * before each differing column. */
static void spk__assert_schema_side(spk__textbuf *b, const char *label, const spk_schema *s, const bool *bad) {
    spk__sb_printf(b, "  %s\n  root\n", label);
    for (int i = 0; i < spk_schema_ncols(s); i++) {
        const spk_field *f = spk_schema_field(s, i);
        char type[32];
        spk_type_format(f->type, SPK_TYPE_TREE, type, sizeof type);
        spk__sb_str(b, bad[i] ? "*  |-- " : "   |-- ");
        spk__sb_str(b, f->name);
        spk__sb_printf(b, ": %s (nullable = %s)\n", type, f->nullable ? "true" : "false");
    }
}

static spk_status spk__assert_schema_report(const spk_schema *a, const spk_schema *e, const spk_df_equal_options *o,
                                            const spk__assert_schema_diff *d, char **message) {
    spk__textbuf msg = {NULL, 0, 0, false}, left = {NULL, 0, 0, false}, right = {NULL, 0, 0, false};
    spk__sb_str(&msg, "[DIFFERENT_SCHEMA] Schemas do not match (");
    spk__assert_count(&msg, (size_t)d->differing, "column differs", "columns differ");
    spk__sb_str(&msg, o->ignore_column_order ? ", marked *; column order ignored)\n" : ", marked *)\n");
    spk__assert_schema_side(&left, "actual", a, d->bad_a);
    spk__assert_schema_side(&right, "expected", e, d->bad_e);
    if (!left.failed && !right.failed) spk__assert_side_by_side(&msg, left.p, right.p);
    else msg.failed = true;
    if (left.p) spk__free(&spk__default_allocator, left.p, left.cap);
    if (right.p) spk__free(&spk__default_allocator, right.p, right.cap);
    return spk__assert_finish(&msg, message);
}

/* Compares two schemas: SPK_OK, SPK_ERR_ASSERTION with a report, or a failure.
 * On SPK_OK, *diff (if not NULL) keeps the column pairing for the rows. */
static spk_status spk__assert_schema_check(const spk_schema *a, const spk_schema *e, const spk_df_equal_options *o,
                                           char **message, spk__assert_schema_diff *diff) {
    spk__assert_schema_diff d;
    spk_status st = spk__assert_schema_diff_make(a, e, o, &d);
    if (st != SPK_OK) return st;
    if (d.differing) st = spk__assert_schema_report(a, e, o, &d, message);
    if (st == SPK_OK && diff) *diff = d;
    else spk__assert_schema_diff_free(&d);
    return st;
}

SPKDEF spk_status spk_assert_schema_equal(const spk_schema *actual, const spk_schema *expected,
                                          const spk_df_equal_options *opts, char **message) {
    if (message) *message = NULL;
    if (!actual || !expected)
        return spk__fail(SPK_ERR_ARG, "spk_assert_schema_equal: NULL %s schema", actual ? "expected" : "actual");
    spk_df_equal_options o;
    spk_status st = spk__assert_options("spk_assert_schema_equal", opts, &o);
    if (st != SPK_OK) return st;
    return spk__assert_schema_check(actual, expected, &o, message, NULL);
}

/* ------------------------------------------------------------ rows */

/* Both collected sides, and how to read and order their rows. Columns are
 * numbered as actual's; cols[1] gives expected's column for each. */
typedef struct spk__assert_rows {
    const spk_table *t[2]; /* actual, expected */
    int *cols[2];
    int ncols;
    int *keys;  /* sort order: the columns that are not DOUBLE, then the DOUBLE ones */
    int nplain; /* keys before the first DOUBLE one */
    const spk_df_equal_options *o;
} spk__assert_rows;

static spk_value spk__assert_rows_cell(const spk__assert_rows *r, int side, size_t row, int col) {
    spk_value v;
    if (spk_table_get(r->t[side], row, r->cols[side][col], &v) != SPK_OK) v = spk_value_null();
    return v;
}

/* The total order both sides are sorted by, over the first `nkeys` keys. */
static int spk__assert_rows_cmp(const spk__assert_rows *r, int sa, size_t ra, int sb, size_t rb, int nkeys) {
    for (int k = 0; k < nkeys; k++) {
        spk_value x = spk__assert_rows_cell(r, sa, ra, r->keys[k]), y = spk__assert_rows_cell(r, sb, rb, r->keys[k]);
        int c = spk_value_compare(&x, &y, true);
        if (c) return c;
    }
    return 0;
}

static bool spk__assert_close(double a, double e, const spk_df_equal_options *o) {
    if (isnan(a) || isnan(e)) return isnan(a) && isnan(e);
    if (a == e) return true; /* infinities */
    return fabs(a - e) <= o->atol + o->rtol * fabs(e);
}

/* Actual row ra equals expected row re: DOUBLEs within tolerance unless
 * exact, everything else as spk_value_equal. */
static bool spk__assert_rows_equal(const spk__assert_rows *r, size_t ra, size_t re) {
    for (int c = 0; c < r->ncols; c++) {
        spk_value x = spk__assert_rows_cell(r, 0, ra, c), y = spk__assert_rows_cell(r, 1, re, c);
        bool doubles = x.type.id == SPK_TYPE_DOUBLE && y.type.id == SPK_TYPE_DOUBLE && !x.is_null && !y.is_null;
        bool same = doubles && !r->o->exact ? spk__assert_close(x.as.f64, y.as.f64, r->o) : spk_value_equal(&x, &y);
        if (!same) return false;
    }
    return true;
}

/* Stable bottom-up merge sort of one side's row numbers. */
static void spk__assert_rows_sort(const spk__assert_rows *r, int side, size_t *idx, size_t *tmp, size_t n) {
    size_t *src = idx, *dst = tmp;
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n, hi = mid + width < n ? mid + width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                dst[k++] = spk__assert_rows_cmp(r, side, src[j], side, src[i], r->ncols) < 0 ? src[j++] : src[i++];
            while (i < mid) dst[k++] = src[i++];
            while (j < hi) dst[k++] = src[j++];
        }
        size_t *swap = src;
        src = dst;
        dst = swap;
    }
    if (src != idx) memcpy(idx, src, n * sizeof *idx);
}

/* Which rows differ: row numbers of actual (diff[0]) and expected (diff[1])
 * to report, in the order to show them, and how many rows matched. */
typedef struct spk__assert_rows_diff {
    size_t *rows[2];
    size_t n[2], cap[2];
    size_t matched;
} spk__assert_rows_diff;

static void spk__assert_rows_diff_free(spk__assert_rows_diff *d) {
    for (int s = 0; s < 2; s++) spk__assert_array_free(d->rows[s], d->cap[s], sizeof *d->rows[s]);
    memset(d, 0, sizeof *d);
}

/* Row order checked: row i against row i, then the rows past the shorter side. */
static spk_status spk__assert_rows_diff_ordered(const spk__assert_rows *r, spk__assert_rows_diff *d) {
    size_t na = spk_table_nrows(r->t[0]), ne = spk_table_nrows(r->t[1]), common = na < ne ? na : ne;
    d->cap[0] = na;
    d->cap[1] = ne;
    for (int s = 0; s < 2; s++) {
        d->rows[s] = (size_t *)spk__assert_array(d->cap[s], sizeof *d->rows[s]);
        if (!d->rows[s]) return spk__nomem("row comparison", spk__assert_bytes(d->cap[s], sizeof(size_t)));
    }
    for (size_t i = 0; i < common; i++) {
        if (spk__assert_rows_equal(r, i, i)) {
            d->matched++;
        } else {
            d->rows[0][d->n[0]++] = i;
            d->rows[1][d->n[1]++] = i;
        }
    }
    for (size_t i = common; i < na; i++) d->rows[0][d->n[0]++] = i;
    for (size_t i = common; i < ne; i++) d->rows[1][d->n[1]++] = i;
    return SPK_OK;
}

/* Rows of one group (same non-DOUBLE values) left unpaired by the exact walk,
 * paired when within tolerance: first by walking both in sorted order (rows
 * that differ by noise sort alike), then any pair left, within a budget. */
static void spk__assert_rows_pair_group(const spk__assert_rows *r, const size_t *la, const size_t *le, size_t n_a,
                                        size_t n_e, bool *ma, bool *me, size_t *matched, size_t *budget) {
    size_t p = 0, q = 0;
    while (p < n_a && q < n_e) {
        if (spk__assert_rows_equal(r, la[p], le[q])) {
            ma[p++] = me[q++] = true;
            ++*matched;
        } else if (spk__assert_rows_cmp(r, 0, la[p], 1, le[q], r->ncols) < 0) {
            p++;
        } else {
            q++;
        }
    }
    for (p = 0; p < n_a; p++) {
        for (q = 0; !ma[p] && q < n_e && *budget; q++) {
            if (me[q]) continue;
            --*budget;
            if (spk__assert_rows_equal(r, la[p], le[q])) {
                ma[p] = me[q] = true;
                ++*matched;
            }
        }
    }
}

/* Any order: both sides sorted, equal rows paired by a merge walk, then rows
 * equal within tolerance paired among those left. */
static spk_status spk__assert_rows_diff_unordered(const spk__assert_rows *r, spk__assert_rows_diff *d) {
    size_t n[2] = {spk_table_nrows(r->t[0]), spk_table_nrows(r->t[1])};
    size_t *idx[2] = {NULL, NULL}, *tmp = NULL;
    bool *paired[2] = {NULL, NULL};
    size_t most = n[0] > n[1] ? n[0] : n[1];
    spk_status st = SPK_OK;
    tmp = (size_t *)spk__assert_array(most, sizeof *tmp);
    for (int s = 0; s < 2; s++) {
        idx[s] = (size_t *)spk__assert_array(n[s], sizeof *idx[s]);
        paired[s] = (bool *)spk__assert_array(n[s], sizeof *paired[s]);
    }
    if (!tmp || !idx[0] || !idx[1] || !paired[0] || !paired[1]) {
        st = spk__nomem("row comparison", spk__assert_bytes(most, sizeof(size_t)));
        goto done;
    }
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < n[s]; i++) idx[s][i] = i;
        spk__assert_rows_sort(r, s, idx[s], tmp, n[s]);
    }
    for (size_t i = 0, j = 0; i < n[0] && j < n[1];) {
        int c = spk__assert_rows_cmp(r, 0, idx[0][i], 1, idx[1][j], r->ncols);
        if (c == 0) {
            paired[0][i++] = paired[1][j++] = true;
            d->matched++;
        } else if (c < 0) {
            i++;
        } else {
            j++;
        }
    }
    /* the rows left, still sorted, compacted to the front of idx */
    size_t left[2] = {0, 0};
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < n[s]; i++)
            if (!paired[s][i]) idx[s][left[s]++] = idx[s][i];
        memset(paired[s], 0, spk__assert_bytes(n[s], sizeof *paired[s]));
    }
    if (!r->o->exact && r->nplain < r->ncols) {
        size_t budget = SPK__ASSERT_PAIR_BUDGET;
        for (size_t i = 0, j = 0; i < left[0] && j < left[1];) {
            int c = spk__assert_rows_cmp(r, 0, idx[0][i], 1, idx[1][j], r->nplain);
            if (c < 0) {
                i++;
            } else if (c > 0) {
                j++;
            } else {
                size_t i2 = i + 1, j2 = j + 1;
                while (i2 < left[0] && spk__assert_rows_cmp(r, 0, idx[0][i], 0, idx[0][i2], r->nplain) == 0) i2++;
                while (j2 < left[1] && spk__assert_rows_cmp(r, 1, idx[1][j], 1, idx[1][j2], r->nplain) == 0) j2++;
                spk__assert_rows_pair_group(r, idx[0] + i, idx[1] + j, i2 - i, j2 - j, paired[0] + i, paired[1] + j,
                                            &d->matched, &budget);
                i = i2;
                j = j2;
            }
        }
    }
    for (int s = 0; s < 2; s++) {
        size_t k = 0;
        for (size_t i = 0; i < left[s]; i++)
            if (!paired[s][i]) idx[s][k++] = idx[s][i];
        d->rows[s] = idx[s]; /* handed over: the unpaired rows in sorted order */
        d->n[s] = k;
        d->cap[s] = n[s];
        idx[s] = NULL;
    }
done:
    spk__assert_array_free(tmp, most, sizeof *tmp);
    for (int s = 0; s < 2; s++) {
        spk__assert_array_free(idx[s], n[s], sizeof *idx[s]);
        spk__assert_array_free(paired[s], n[s], sizeof *paired[s]);
    }
    return st;
}

/* One cell as show() prints it: escaped and cut at 20 characters. */
static void spk__assert_cell(spk__textbuf *cell, const spk_value *v) {
    char buf[SPK_VALUE_TEXT_MAX];
    if (!v->is_null && v->type.id == SPK_TYPE_STRING) {
        spk__show_cell(cell, v->as.str.ptr, v->as.str.len, SPK__ASSERT_TRUNCATE);
    } else {
        size_t len = spk_value_format(v, buf, sizeof buf);
        spk__show_cell(cell, buf, len < sizeof buf ? len : sizeof buf - 1, SPK__ASSERT_TRUNCATE);
    }
}

/* The text of one cell of a side's table: line 0 is the header, line k the
 * row rows[k - 1]; column -1 is the row number. */
static void spk__assert_table_cell(spk__textbuf *cell, const spk__assert_rows *r, const spk_schema *names, int side,
                                   const size_t *rows, size_t line, int c) {
    if (line == 0) {
        const char *name = c < 0 ? "row" : spk_schema_field(names, c)->name;
        spk__show_cell(cell, name, strlen(name), 0); /* show() never cuts the header */
    } else if (c < 0) {
        cell->len = 0;
        spk__sb_printf(cell, "%zu", rows[line - 1]);
    } else {
        spk_value v = spk__assert_rows_cell(r, side, rows[line - 1], c);
        spk__assert_cell(cell, &v);
    }
}

/* One side of a rows report: its label, then the first `shown` of `rows` as
 * show() draws a table (with the row numbers first when numbered), then how
 * many were left out. */
static void spk__assert_rows_side(spk__textbuf *b, const char *label, const spk__assert_rows *r,
                                  const spk_schema *names, int side, const size_t *rows, size_t nrows, size_t shown,
                                  bool numbered) {
    spk__textbuf cell = {NULL, 0, 0, false}, sep = {NULL, 0, 0, false};
    int first = numbered ? -1 : 0, ncols = r->ncols;
    size_t *widths = (size_t *)spk__assert_array((size_t)(ncols + 1), sizeof *widths); /* [c + 1] for column c */
    if (!widths) {
        b->failed = true;
        return;
    }
    for (int c = first; c < ncols; c++) {
        size_t *w = &widths[c + 1];
        *w = 3; /* Spark's minimum width */
        for (size_t line = 0; line <= shown && !cell.failed; line++) {
            spk__assert_table_cell(&cell, r, names, side, rows, line, c);
            size_t cw = cell.failed ? 0 : spk__display_width(cell.p, cell.len);
            if (cw > *w) *w = cw;
        }
    }
    for (int c = first; c < ncols; c++) {
        spk__sb_str(&sep, "+");
        spk__sb_fill(&sep, '-', widths[c + 1]);
    }
    spk__sb_str(&sep, ncols > first ? "+\n" : "++\n");
    spk__sb_printf(b, "%s\n", label);
    if (!sep.failed) spk__sb_str(b, sep.p);
    for (size_t line = 0; line <= shown && !cell.failed && !sep.failed; line++) {
        for (int c = first; c < ncols && !cell.failed; c++) {
            spk__assert_table_cell(&cell, r, names, side, rows, line, c);
            if (cell.failed) break;
            spk__sb_str(b, "|");
            spk__sb_fill(b, ' ', widths[c + 1] - spk__display_width(cell.p, cell.len)); /* right-aligned, as show() */
            spk__sb_put(b, cell.p, cell.len);
        }
        spk__sb_str(b, ncols > first ? "|\n" : "||\n");
        if (line == 0) spk__sb_str(b, sep.p);
    }
    if (!sep.failed) spk__sb_str(b, sep.p);
    if (nrows > shown) {
        spk__assert_count(b, nrows - shown, "more row", "more rows");
        spk__sb_str(b, " not shown\n");
    }
    if (cell.failed || sep.failed) b->failed = true;
    if (cell.p) spk__free(&spk__default_allocator, cell.p, cell.cap);
    if (sep.p) spk__free(&spk__default_allocator, sep.p, sep.cap);
    spk__assert_array_free(widths, (size_t)(ncols + 1), sizeof *widths);
}

static spk_status spk__assert_rows_report(const spk__assert_rows *r, const spk_schema *names,
                                          const spk__assert_rows_diff *d, char **message) {
    const spk_df_equal_options *o = r->o;
    spk__textbuf msg = {NULL, 0, 0, false}, left = {NULL, 0, 0, false}, right = {NULL, 0, 0, false};
    spk__sb_str(&msg, "[DIFFERENT_ROWS] ");
    if (o->check_row_order) {
        size_t na = spk_table_nrows(r->t[0]), ne = spk_table_nrows(r->t[1]);
        size_t common = na < ne ? na : ne, differ = common - d->matched;
        const char *sep = "";
        if (differ) {
            spk__assert_count(&msg, differ, "row differs", "rows differ");
            sep = ", ";
        }
        if (na > ne) {
            spk__sb_str(&msg, sep);
            spk__assert_count(&msg, na - ne, "row only in actual", "rows only in actual");
        } else if (ne > na) {
            spk__sb_str(&msg, sep);
            spk__assert_count(&msg, ne - na, "row only in expected", "rows only in expected");
        }
        spk__sb_str(&msg, " (");
        spk__assert_count(&msg, d->matched, "row matches", "rows match");
        spk__sb_str(&msg, " in order)\n");
    } else {
        spk__assert_count(&msg, d->n[0], "row only in actual", "rows only in actual");
        spk__sb_str(&msg, ", ");
        spk__assert_count(&msg, d->n[1], "row only in expected", "rows only in expected");
        spk__sb_str(&msg, " (");
        spk__assert_count(&msg, d->matched, "row matches", "rows match");
        spk__sb_str(&msg, ")\n");
    }
    size_t cap = (size_t)o->max_rows;
    bool numbered = o->check_row_order;
    spk__assert_rows_side(&left, numbered ? "actual" : "only in actual", r, names, 0, d->rows[0], d->n[0],
                          d->n[0] < cap ? d->n[0] : cap, numbered);
    spk__assert_rows_side(&right, numbered ? "expected" : "only in expected", r, names, 1, d->rows[1], d->n[1],
                          d->n[1] < cap ? d->n[1] : cap, numbered);
    if (!left.failed && !right.failed) spk__assert_side_by_side(&msg, left.p, right.p);
    else msg.failed = true;
    if (left.p) spk__free(&spk__default_allocator, left.p, left.cap);
    if (right.p) spk__free(&spk__default_allocator, right.p, right.cap);
    return spk__assert_finish(&msg, message);
}

static spk_status spk__assert_rows_check(spk__assert_rows *r, const spk_schema *names, char **message) {
    spk__assert_rows_diff d;
    memset(&d, 0, sizeof d);
    spk_status st =
        r->o->check_row_order ? spk__assert_rows_diff_ordered(r, &d) : spk__assert_rows_diff_unordered(r, &d);
    if (st == SPK_OK && (d.n[0] || d.n[1])) st = spk__assert_rows_report(r, names, &d, message);
    spk__assert_rows_diff_free(&d);
    return st;
}

SPKDEF spk_status spk_assert_df_equal(spk_df *actual, spk_df *expected, const spk_df_equal_options *opts,
                                      char **message) {
    if (message) *message = NULL;
    if (!actual || !expected)
        return spk__fail(SPK_ERR_ARG, "spk_assert_df_equal: NULL %s DataFrame (an earlier call failed: see its error)",
                         actual ? "expected" : "actual");
    spk_df_equal_options o;
    spk_status st = spk__assert_options("spk_assert_df_equal", opts, &o);
    if (st != SPK_OK) return st;
    spk_table *tables[2] = {NULL, NULL};
    st = spk_df_collect(actual, &tables[0]);
    if (st == SPK_OK) st = spk_df_collect(expected, &tables[1]);
    if (st != SPK_OK) {
        spk_table_free(tables[0]);
        return st;
    }
    const spk_schema *sa = spk_table_schema(tables[0]), *se = spk_table_schema(tables[1]);
    spk__assert_schema_diff sd;
    memset(&sd, 0, sizeof sd);
    st = spk__assert_schema_check(sa, se, &o, message, &sd);
    spk__assert_rows r;
    memset(&r, 0, sizeof r);
    r.ncols = sd.na;
    r.o = &o;
    r.t[0] = tables[0];
    r.t[1] = tables[1];
    if (st == SPK_OK) {
        r.cols[0] = (int *)spk__assert_array((size_t)r.ncols, sizeof(int));
        r.keys = (int *)spk__assert_array((size_t)r.ncols, sizeof(int));
        if (!r.cols[0] || !r.keys) st = spk__nomem("row comparison", spk__assert_bytes((size_t)r.ncols, sizeof(int)));
    }
    if (st == SPK_OK) {
        r.cols[1] = sd.ecol;
        for (int c = 0; c < r.ncols; c++) {
            r.cols[0][c] = c;
            if (spk_schema_field(sa, c)->type.id != SPK_TYPE_DOUBLE) r.keys[r.nplain++] = c;
        }
        int k = r.nplain;
        for (int c = 0; c < r.ncols; c++)
            if (spk_schema_field(sa, c)->type.id == SPK_TYPE_DOUBLE) r.keys[k++] = c;
        st = spk__assert_rows_check(&r, sa, message);
    }
    spk__assert_array_free(r.cols[0], (size_t)r.ncols, sizeof(int));
    spk__assert_array_free(r.keys, (size_t)r.ncols, sizeof(int));
    spk__assert_schema_diff_free(&sd);
    spk_table_free(tables[0]);
    spk_table_free(tables[1]);
    return st;
}

/* ------------------------------------------------------------ the _at forms */

static bool spk__assert_print(spk_status st, char *message, const char *file, int line) {
    if (st == SPK_OK) return true;
    if (!file) file = "?";
    if (st == SPK_ERR_ASSERTION && message) fprintf(stderr, "%s:%d: %s\n", file, line, message);
    else fprintf(stderr, "%s:%d: %s: %s\n", file, line, spk_status_name(st), spk_last_error());
    spk_string_free(message);
    return false;
}

SPKDEF bool spk_assert_df_equal_at(spk_df *actual, spk_df *expected, const spk_df_equal_options *opts, const char *file,
                                   int line) {
    char *message = NULL;
    spk_status st = spk_assert_df_equal(actual, expected, opts, &message);
    return spk__assert_print(st, message, file, line);
}

SPKDEF bool spk_assert_schema_equal_at(const spk_schema *actual, const spk_schema *expected,
                                       const spk_df_equal_options *opts, const char *file, int line) {
    char *message = NULL;
    spk_status st = spk_assert_schema_equal(actual, expected, opts, &message);
    return spk__assert_print(st, message, file, line);
}
