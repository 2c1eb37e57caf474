/* schema: one allocation holding the header, the fields and their names. */
#include "types.c"
#include "schema.h"

struct spk_schema {
    atomic_int refs;
    const spk_allocator *alloc;
    size_t alloc_size; /* of this whole block */
    int n;
    spk_field *fields; /* points into this block; names too */
};

/* Builds a schema; duplicate and empty names are allowed only for internal
 * results (a join's output may hold two `id` columns, as in Spark). */
static spk_status spk__schema_make(const spk_allocator *alloc, const spk_field *fields, int n,
                                   bool allow_duplicates, spk_schema **out) {
    alloc = spk__allocator_or_default(alloc);
    if (n < 0 || (n > 0 && !fields)) return spk__fail(SPK_ERR_ARG, "schema: invalid field list");
    size_t names = 0;
    for (int i = 0; i < n; i++) {
        /* Results may have an empty name (Spark names the column of '' so). */
        if (!fields[i].name || (!fields[i].name[0] && !allow_duplicates))
            return spk__fail(SPK_ERR_ARG, "schema: field %d has an empty name", i + 1);
        if (!spk_type_valid(fields[i].type))
            return spk__fail(SPK_ERR_ARG, "schema: field `%s` has an invalid type", fields[i].name);
        for (int j = 0; j < i && !allow_duplicates; j++)
            if (spk__name_eq(fields[i].name, fields[j].name, false))
                return spk__fail(SPK_ERR_ARG, "[COLUMN_ALREADY_EXISTS] the column `%s` appears twice in the schema",
                                 fields[i].name);
        names += strlen(fields[i].name) + 1;
    }
    size_t size = sizeof(spk_schema) + (size_t)n * sizeof(spk_field) + names;
    spk_schema *s = (spk_schema *)spk__alloc(alloc, size);
    if (!s) return spk__nomem("a schema", size);
    atomic_init(&s->refs, 1);
    s->alloc = alloc;
    s->alloc_size = size;
    s->n = n;
    s->fields = (spk_field *)(void *)(s + 1);
    char *name_at = (char *)(s->fields + n);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(fields[i].name) + 1;
        memcpy(name_at, fields[i].name, len);
        s->fields[i] = fields[i];
        s->fields[i].name = name_at;
        name_at += len;
    }
    *out = s;
    return SPK_OK;
}

SPKDEF spk_status spk_schema_new(const spk_allocator *alloc, const spk_field *fields, int n,
                                 spk_schema **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_schema_new: NULL output");
    *out = NULL;
    return spk__schema_make(alloc, fields, n, false, out);
}

SPKDEF spk_schema *spk_schema_retain(spk_schema *s) {
    /* Relaxed is enough: the caller already holds a reference, so the schema
     * cannot be freed concurrently, and its fields were published before. */
    if (s) atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

SPKDEF void spk_schema_release(spk_schema *s) {
    /* acq_rel: the last releaser must see every other holder's reads done. */
    if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
        spk__free(s->alloc, s, s->alloc_size);
}

SPKDEF int spk_schema_ncols(const spk_schema *s) { return s ? s->n : 0; }

SPKDEF const spk_field *spk_schema_field(const spk_schema *s, int i) {
    return s && i >= 0 && i < s->n ? &s->fields[i] : NULL;
}

SPKDEF int spk_schema_index(const spk_schema *s, const char *name, bool case_sensitive) {
    if (!s || !name) return -1;
    for (int i = 0; i < s->n; i++)
        if (spk__name_eq(s->fields[i].name, name, case_sensitive)) return i;
    return -1;
}

SPKDEF spk_status spk_schema_lookup(const spk_schema *s, const char *name, bool case_sensitive,
                                    int *index) {
    if (!s || !name || !index) return spk__fail(SPK_ERR_ARG, "spk_schema_lookup: NULL argument");
    int found = -1, matches = 0;
    for (int i = 0; i < s->n; i++) {
        if (spk__name_eq(s->fields[i].name, name, case_sensitive)) {
            if (found < 0) found = i;
            matches++;
        }
    }
    if (matches == 1) {
        *index = found;
        return SPK_OK;
    }
    if (matches > 1) {
        spk__fail(SPK_ERR_AMBIGUOUS, "[AMBIGUOUS_REFERENCE] Reference `%s` is ambiguous, could be: [", name);
        for (int i = 0, k = 0; i < s->n; i++)
            if (spk__name_eq(s->fields[i].name, name, case_sensitive))
                spk__fail_append("%s`%s`", k++ ? ", " : "", s->fields[i].name);
        spk__fail_append("].");
        return SPK_ERR_AMBIGUOUS;
    }
    spk__fail(SPK_ERR_NOT_FOUND,
              "[UNRESOLVED_COLUMN.%s] A column or function parameter with name `%s` cannot be resolved.",
              s->n ? "WITH_SUGGESTION" : "WITHOUT_SUGGESTION", name);
    const char *candidates[64];
    int nc = s->n < 64 ? s->n : 64;
    for (int i = 0; i < nc; i++) candidates[i] = s->fields[i].name;
    spk__fail_suggest(name, candidates, nc);
    return SPK_ERR_NOT_FOUND;
}

SPKDEF bool spk_schema_equal(const spk_schema *a, const spk_schema *b, bool check_nullable) {
    if (a == b) return true;
    if (!a || !b || a->n != b->n) return false;
    for (int i = 0; i < a->n; i++) {
        const spk_field *fa = &a->fields[i], *fb = &b->fields[i];
        if (strcmp(fa->name, fb->name) != 0 || !spk_type_equal(fa->type, fb->type)) return false;
        if (check_nullable && fa->nullable != fb->nullable) return false;
    }
    return true;
}

/* snprintf-style appender: keeps counting past the buffer's end. */
typedef struct spk__textout {
    char *buf;
    size_t cap, len;
} spk__textout;

static void spk__out(spk__textout *o, const char *fmt, ...) SPK__PRINTF(2, 3);
static void spk__out(spk__textout *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *at = o->len < o->cap ? o->buf + o->len : NULL;
    int n = vsnprintf(at, at ? o->cap - o->len : 0, fmt, ap);
    va_end(ap);
    if (n > 0) o->len += (size_t)n;
}

static spk__textout spk__textout_make(char *buf, size_t cap) {
    spk__textout o = {buf, buf ? cap : 0, 0};
    if (o.cap) buf[0] = '\0';
    return o;
}

SPKDEF size_t spk_schema_tree_string(const spk_schema *s, char *buf, size_t cap) {
    spk__textout o = spk__textout_make(buf, cap);
    spk__out(&o, "root\n");
    for (int i = 0; s && i < s->n; i++) {
        char type[32];
        spk_type_format(s->fields[i].type, SPK_TYPE_TREE, type, sizeof type);
        spk__out(&o, " |-- %s: %s (nullable = %s)\n", s->fields[i].name, type,
                 s->fields[i].nullable ? "true" : "false");
    }
    return o.len;
}

SPKDEF void spk_schema_print(const spk_schema *s, FILE *f) {
    fputs("root\n", f);
    for (int i = 0; s && i < s->n; i++) {
        char type[32];
        spk_type_format(s->fields[i].type, SPK_TYPE_TREE, type, sizeof type);
        fprintf(f, " |-- %s: %s (nullable = %s)\n", s->fields[i].name, type,
                s->fields[i].nullable ? "true" : "false");
    }
}

static bool spk__is_plain_identifier(const char *name) {
    if (!spk__is_ident_start((unsigned char)name[0])) return false;
    for (const char *p = name; *p; p++)
        if (!spk__is_ident_char((unsigned char)*p)) return false;
    return true;
}

SPKDEF size_t spk_schema_ddl(const spk_schema *s, char *buf, size_t cap) {
    spk__textout o = spk__textout_make(buf, cap);
    for (int i = 0; s && i < s->n; i++) {
        const char *name = s->fields[i].name;
        if (i) spk__out(&o, ", ");
        if (spk__is_plain_identifier(name)) {
            spk__out(&o, "%s", name);
        } else { /* backtick-quoted, with ` doubled */
            spk__out(&o, "`");
            for (const char *p = name; *p; p++) spk__out(&o, *p == '`' ? "``" : "%c", *p);
            spk__out(&o, "`");
        }
        char type[32];
        spk_type_format(s->fields[i].type, SPK_TYPE_SQL, type, sizeof type);
        spk__out(&o, " %s%s", type, s->fields[i].nullable ? "" : " NOT NULL");
    }
    return o.len;
}

/* ---------------------------------------------------------------- DDL parser */

/* Reads a column name at *pos: an identifier or a `quoted` name with ``
 * standing for a backtick. The name is written to `name` (NUL-terminated). */
static spk_status spk__parse_name(const spk_allocator *a, const char *s, size_t len, size_t *pos,
                                  char **name, size_t *name_size) {
    size_t start = *pos;
    if (*pos < len && s[*pos] == '`') {
        size_t i = *pos + 1, n = 0;
        for (;; i++) {
            if (i >= len) {
                *pos = start;
                return spk__fail(SPK_ERR_PARSE, "unterminated `quoted` column name");
            }
            if (s[i] == '`') {
                if (i + 1 < len && s[i + 1] == '`') i++;
                else break;
            }
            n++;
        }
        if (n == 0) {
            *pos = start;
            return spk__fail(SPK_ERR_PARSE, "empty column name");
        }
        char *out = (char *)spk__alloc(a, n + 1);
        if (!out) return spk__nomem("a column name", n + 1);
        size_t k = 0;
        for (size_t j = start + 1; j < i; j++) {
            out[k++] = s[j];
            if (s[j] == '`') j++;
        }
        out[k] = '\0';
        *name = out;
        *name_size = n + 1;
        *pos = i + 1;
        return SPK_OK;
    }
    while (*pos < len && spk__is_ident_char((unsigned char)s[*pos])) (*pos)++;
    if (*pos == start) return spk__fail(SPK_ERR_PARSE, "expected a column name");
    *name = spk__strndup(a, s + start, *pos - start);
    *name_size = *pos - start + 1;
    if (!*name) return spk__nomem("a column name", *name_size);
    return SPK_OK;
}

/* True (and *pos advanced) if the next word is `keyword`. */
static bool spk__accept_word(const char *s, size_t len, size_t *pos, const char *keyword) {
    size_t i = *pos;
    spk__skip_space(s, len, &i);
    size_t start = i;
    while (i < len && spk__is_ident_char((unsigned char)s[i])) i++;
    if (i == start || !spk__word_is(s + start, i - start, keyword)) return false;
    *pos = i;
    return true;
}

/* Parses `len` bytes of DDL; positions in errors are relative to `full`,
 * the text shown under the caret (a fixture shows its schema line). */
static spk_status spk__schema_parse_span(const spk_allocator *alloc, const char *ddl, size_t len,
                                         spk_schema **out) {
    alloc = spk__allocator_or_default(alloc);
    spk_field stack_fields[16];
    spk_field *fields = stack_fields;
    size_t name_sizes_stack[16];
    size_t *name_sizes = name_sizes_stack;
    int n = 0, cap = 16;
    size_t pos = 0;
    spk_status st = SPK_OK;
    for (;;) {
        spk__skip_space(ddl, len, &pos);
        if (n == cap) {
            size_t new_cap = (size_t)cap * 2;
            spk_field *nf = (spk_field *)spk__alloc(alloc, new_cap * sizeof *nf);
            size_t *ns = nf ? (size_t *)spk__alloc(alloc, new_cap * sizeof *ns) : NULL;
            if (!nf || !ns) {
                spk__free(alloc, nf, new_cap * sizeof *nf);
                st = spk__nomem("a schema", new_cap * sizeof *nf);
                break;
            }
            memcpy(nf, fields, (size_t)n * sizeof *nf);
            memcpy(ns, name_sizes, (size_t)n * sizeof *ns);
            if (fields != stack_fields) {
                spk__free(alloc, fields, (size_t)cap * sizeof *fields);
                spk__free(alloc, name_sizes, (size_t)cap * sizeof *name_sizes);
            }
            fields = nf;
            name_sizes = ns;
            cap = (int)new_cap;
        }
        size_t name_pos = pos;
        char *name = NULL;
        st = spk__parse_name(alloc, ddl, len, &pos, &name, &name_sizes[n]);
        if (st != SPK_OK) break;
        fields[n].name = name;
        fields[n].nullable = true;
        n++;
        for (int j = 0; j < n - 1; j++) {
            if (spk__name_eq(fields[j].name, name, false)) {
                pos = name_pos;
                st = spk__fail(SPK_ERR_PARSE, "[COLUMN_ALREADY_EXISTS] the column `%s` appears twice", name);
                break;
            }
        }
        if (st != SPK_OK) break;
        spk__skip_space(ddl, len, &pos);
        if (pos < len && ddl[pos] == ':') pos++;
        st = spk__type_parse_at(ddl, len, &pos, &fields[n - 1].type);
        if (st != SPK_OK) break;
        if (spk__accept_word(ddl, len, &pos, "not")) {
            if (!spk__accept_word(ddl, len, &pos, "null")) {
                spk__skip_space(ddl, len, &pos);
                st = spk__fail(SPK_ERR_PARSE, "expected NULL after NOT");
                break;
            }
            fields[n - 1].nullable = false;
        }
        spk__skip_space(ddl, len, &pos);
        if (pos >= len) break;
        if (ddl[pos] != ',') {
            st = spk__fail(SPK_ERR_PARSE, "expected ',' or the end of the schema after column `%s`", name);
            break;
        }
        pos++;
    }
    if (st == SPK_OK) {
        st = spk__schema_make(alloc, fields, n, false, out);
    } else if (st != SPK_ERR_NOMEM) {
        spk__fail_caret(ddl, pos); /* ddl is NUL-terminated or the caller shows its own excerpt */
    }
    for (int i = 0; i < n; i++) spk__free(alloc, (void *)fields[i].name, name_sizes[i]);
    if (fields != stack_fields) {
        spk__free(alloc, fields, (size_t)cap * sizeof *fields);
        spk__free(alloc, name_sizes, (size_t)cap * sizeof *name_sizes);
    }
    return st;
}

SPKDEF spk_status spk_schema_parse(const spk_allocator *alloc, const char *ddl, spk_schema **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_schema_parse: NULL output");
    *out = NULL;
    if (!ddl) return spk__fail(SPK_ERR_ARG, "spk_schema_parse: NULL text");
    return spk__schema_parse_span(alloc, ddl, strlen(ddl), out);
}
