/* optimize: rewrites of logical plans (filter merging, predicate pushdown,
 * projection pruning, limit pushdown) and their text for explain(). */
#include "plan.c"
#include "optimize.h"

/* A growable string for show() and explain(). */
typedef struct spk__textbuf {
    char *p;
    size_t len, cap;
    bool failed;
} spk__textbuf;

static void spk__sb_put(spk__textbuf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *q = (char *)spk__realloc(&spk__default_allocator, b->p, b->cap, cap);
        if (!q) {
            b->failed = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}
static void spk__sb_str(spk__textbuf *b, const char *s) { spk__sb_put(b, s, strlen(s)); }
static void spk__sb_fill(spk__textbuf *b, char c, size_t n) {
    for (size_t i = 0; i < n; i++) spk__sb_put(b, &c, 1);
}
static void spk__sb_printf(spk__textbuf *b, const char *fmt, ...) SPK__PRINTF(2, 3);
static void spk__sb_printf(spk__textbuf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) spk__sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}
/* Hands the text over as a string the caller frees with spk_string_free
 * (whose size is strlen + 1, so shrink to exactly that). */
static spk_status spk__sb_finish(spk__textbuf *b, char **out) {
    if (!b->failed && !b->p) spk__sb_put(b, "", 0);
    if (b->failed) {
        if (b->p) spk__free(&spk__default_allocator, b->p, b->cap);
        return spk__nomem("text", b->cap * 2);
    }
    char *q = (char *)spk__realloc(&spk__default_allocator, b->p, b->cap, b->len + 1);
    if (!q) {
        spk__free(&spk__default_allocator, b->p, b->cap);
        return spk__nomem("text", b->len + 1);
    }
    *out = q;
    return SPK_OK;
}

/* ---------------------------------------------------------------- explain */

static void spk__explain_exprs(spk__textbuf *b, const spk_df *df, int from, int to, bool with_names) {
    spk__sb_str(b, "[");
    for (int i = from; i < to; i++) {
        char text[512];
        if (i > from) spk__sb_str(b, ", ");
        spk_bound_explain(df->bound[i], text, sizeof text);
        spk__sb_str(b, text);
        if (df->kind == SPK__P_SORT)
            spk__sb_printf(b, " %s NULLS %s", df->exprs[i]->descending ? "DESC" : "ASC", df->exprs[i]->nulls_first ? "FIRST" : "LAST");
        if (with_names && df->bound[i]->root->kind != SPK__B_COL)
            spk__sb_printf(b, " AS %s", spk_schema_field(df->schema, i)->name);
    }
    spk__sb_str(b, "]");
}

static void spk__explain_plan(spk__textbuf *b, const spk_df *df, int depth, const char *prefix) {
    if (depth > 200) return;
    spk__sb_str(b, prefix);
    switch ((spk__pkind)df->kind) {
    case SPK__P_SCAN: {
        spk__sb_str(b, "LocalRelation [");
        for (int i = 0; i < spk_schema_ncols(df->schema); i++)
            spk__sb_printf(b, "%s%s#%d", i ? ", " : "", spk_schema_field(df->schema, i)->name, i);
        spk__sb_printf(b, "], %zu rows", spk_table_nrows(df->table));
        break;
    }
    case SPK__P_PROJECT:
        spk__sb_str(b, "Project ");
        spk__explain_exprs(b, df, 0, df->nexprs, true);
        if (df->alias) spk__sb_printf(b, " (SubqueryAlias %s)", df->alias);
        break;
    case SPK__P_FILTER:
        spk__sb_str(b, "Filter ");
        spk__explain_exprs(b, df, 0, 1, false);
        break;
    case SPK__P_AGG:
        spk__sb_str(b, "Aggregate ");
        spk__explain_exprs(b, df, 0, df->nkeys, false);
        spk__sb_str(b, ", ");
        spk__explain_exprs(b, df, 0, df->nexprs, true);
        break;
    case SPK__P_SORT:
        spk__sb_str(b, "Sort ");
        spk__explain_exprs(b, df, 0, df->nexprs, false);
        spk__sb_str(b, ", true");
        break;
    case SPK__P_LIMIT:
        if (df->limit >= 0) spk__sb_printf(b, "GlobalLimit %lld", (long long)df->limit);
        if (df->offset) spk__sb_printf(b, "%sOffset %lld", df->limit >= 0 ? ", " : "", (long long)df->offset);
        break;
    case SPK__P_DISTINCT: spk__sb_str(b, "Distinct"); break;
    case SPK__P_UNION: spk__sb_str(b, "Union false, false"); break;
    }
    spk__sb_str(b, "\n");
    /* children indent three under their parent, each line led by "+- " */
    const spk_df *kids[2] = {df->child, df->right};
    char pre[640];
    size_t indent = (size_t)depth * 3 < sizeof pre - 4 ? (size_t)depth * 3 : sizeof pre - 4;
    memset(pre, ' ', indent);
    memcpy(pre + indent, "+- ", 4);
    for (int k = 0; k < 2; k++)
        if (kids[k]) spk__explain_plan(b, kids[k], depth + 1, pre);
}

SPKDEF spk_status spk_df_explain(spk_df *df, bool extended, FILE *f) {
    if (!df) return spk__fail(SPK_ERR_ARG, "explain: NULL DataFrame (an earlier call failed: see its error)");
    spk__textbuf b = {NULL, 0, 0, false};
    if (extended) {
        spk__sb_str(&b, "== Analyzed Logical Plan ==\n");
        for (int i = 0; i < spk_schema_ncols(df->schema); i++) {
            char type[32];
            spk_type_format(spk_schema_field(df->schema, i)->type, SPK_TYPE_SIMPLE, type, sizeof type);
            spk__sb_printf(&b, "%s%s: %s", i ? ", " : "", spk_schema_field(df->schema, i)->name, type);
        }
        spk__sb_str(&b, "\n");
    }
    spk__sb_str(&b, extended ? "" : "== Logical Plan ==\n");
    spk__explain_plan(&b, df, 0, "");
    char *text = NULL;
    spk_status st = spk__sb_finish(&b, &text);
    if (st != SPK_OK) return st;
    fputs(text, f);
    spk_string_free(text);
    return SPK_OK;
}
