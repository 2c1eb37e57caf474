/* udf: UDF constructors, registries (session, worker context, global). */
#include "expr.c"
#include "udf.h"

#define SPK__UDF_MAX_ARGS 64
#define SPK__UDF_MAX_NAME 128
/* Macros nest (a body holding a UDF, a call expanding to another call) at
 * most this deep: releases and expansions recurse once per level. */
#define SPK__UDF_MAX_NESTING 64

/* ---------------------------------------------------------------- definitions */

static spk_status spk__udf_check_name(const char *name, const char *what) {
    if (!name) return spk__fail(SPK_ERR_ARG, "%s: NULL name", what);
    size_t len = strlen(name);
    bool ok = len >= 1 && len <= SPK__UDF_MAX_NAME && !spk__is_digit((unsigned char)name[0]);
    for (size_t i = 0; ok && i < len; i++) {
        int c = (unsigned char)name[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || spk__is_digit(c) || c == '_';
    }
    if (ok) return SPK_OK;
    return spk__fail(SPK_ERR_ARG,
                     "%s: the name \"%.*s%s\" is not 1 to %d characters of [A-Za-z0-9_] not starting with a digit",
                     what, 200, name, len > 200 ? "..." : "", SPK__UDF_MAX_NAME);
}

/* One block: the struct, then params[nparams] (char *), then arg_types[nargs]. */
static spk_udf *spk__udf_new(const char *name, spk_udf_kind kind, int nargs, int nparams) {
    size_t size = sizeof(spk_udf) + (size_t)nparams * sizeof(char *) + (size_t)nargs * sizeof(spk_type);
    spk_udf *u = (spk_udf *)spk__calloc(&spk__default_allocator, size);
    if (!u) {
        spk__nomem("a UDF", size);
        return NULL;
    }
    atomic_init(&u->refs, 1);
    u->size = size;
    u->kind = (uint8_t)kind;
    u->nargs = nargs;
    u->depth = 1;
    u->params = nparams ? (char **)(void *)(u + 1) : NULL;
    u->arg_types = (spk_type *)(void *)((char *)(u + 1) + (size_t)nparams * sizeof(char *));
    u->return_type = spk_type_of(SPK_TYPE_NULL);
    u->name = spk__strndup(&spk__default_allocator, name, strlen(name));
    if (!u->name) {
        spk__nomem("a UDF's name", strlen(name) + 1);
        spk__free(&spk__default_allocator, u, size);
        return NULL;
    }
    return u;
}

static spk_status spk__udf_check_type(const char *name, spk_type t, const char *what) {
    if (spk_type_valid(t)) return SPK_OK;
    return spk__fail(SPK_ERR_ARG, "UDF `%s`: invalid %s type", name, what);
}

SPKDEF spk_status spk_udf_scalar(const char *name, const spk_type *arg_types, int nargs, spk_type return_type,
                                 spk_udf_fn fn, void *user, spk_udf **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_udf_scalar: NULL output");
    *out = NULL;
    spk_status st = spk__udf_check_name(name, "spk_udf_scalar");
    if (st != SPK_OK) return st;
    if (nargs < 0 || nargs > SPK__UDF_MAX_ARGS || (nargs && !arg_types))
        return spk__fail(SPK_ERR_ARG, "UDF `%s`: %d arguments (0 to %d, with their types)", name, nargs, SPK__UDF_MAX_ARGS);
    if (!fn) return spk__fail(SPK_ERR_ARG, "UDF `%s`: NULL function", name);
    for (int i = 0; i < nargs; i++)
        if ((st = spk__udf_check_type(name, arg_types[i], "argument")) != SPK_OK) return st;
    if ((st = spk__udf_check_type(name, return_type, "return")) != SPK_OK) return st;
    spk_udf *u = spk__udf_new(name, SPK_UDF_SCALAR, nargs, 0);
    if (!u) return SPK_ERR_NOMEM;
    for (int i = 0; i < nargs; i++) u->arg_types[i] = arg_types[i];
    u->return_type = return_type;
    u->fn = fn;
    u->user = user;
    *out = u;
    return SPK_OK;
}

SPKDEF spk_status spk_udf_aggregate(const char *name, spk_type arg_type, spk_type return_type,
                                    const spk_udaf_fns *fns, void *user, spk_udf **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_udf_aggregate: NULL output");
    *out = NULL;
    spk_status st = spk__udf_check_name(name, "spk_udf_aggregate");
    if (st != SPK_OK) return st;
    if (!fns || !fns->init || !fns->update || !fns->merge || !fns->finish)
        return spk__fail(SPK_ERR_ARG, "UDF `%s`: an aggregate needs init, update, merge and finish functions", name);
    if (fns->state_size < 1 || fns->state_size > 4096)
        return spk__fail(SPK_ERR_ARG, "UDF `%s`: state_size is %zu bytes; it must be 1 to 4096", name, fns->state_size);
    if ((st = spk__udf_check_type(name, arg_type, "argument")) != SPK_OK ||
        (st = spk__udf_check_type(name, return_type, "return")) != SPK_OK)
        return st;
    spk_udf *u = spk__udf_new(name, SPK_UDF_AGGREGATE, 1, 0);
    if (!u) return SPK_ERR_NOMEM;
    u->arg_types[0] = arg_type;
    u->return_type = return_type;
    u->agg = *fns;
    u->user = user;
    *out = u;
    return SPK_OK;
}

/* A macro body may read only its parameters; *depth gets 1 + the deepest
 * UDF it holds by reference. */
static spk_status spk__macro_check(const spk_udf *m, const spk_expr *e, int *depth) {
    if (!e) return spk__fail(SPK_ERR_ARG, "macro `%s`: NULL expression in the body", m->name);
    if (e->op == SPK__OP_STAR)
        return spk__fail(SPK_ERR_ARG, "macro `%s`: the body may not use `*`; it may use only its parameters", m->name);
    if (e->op == SPK__OP_COL) {
        bool found = false;
        for (int i = 0; !found && i < m->nargs; i++) found = spk__name_eq(e->name, m->params[i], false);
        if (!found || e->qualifier)
            return spk__fail(SPK_ERR_ARG,
                             "macro `%s`: the body references the column `%s%s%s`, which is not one of its parameters",
                             m->name, e->qualifier ? e->qualifier : "", e->qualifier ? "." : "", e->name);
    }
    if (e->udf && e->udf->depth + 1 > *depth) *depth = e->udf->depth + 1;
    for (int i = 0; i < e->nargs; i++) {
        spk_status st = spk__macro_check(m, e->args[i], depth);
        if (st != SPK_OK) return st;
    }
    return SPK_OK;
}

SPKDEF spk_status spk_udf_macro_expr(const char *name, const char *const *params, const spk_type *types, int n,
                                     spk_expr *body, spk_udf **out) {
    if (!out) {
        spk_expr_release(body);
        return spk__fail(SPK_ERR_ARG, "spk_udf_macro_expr: NULL output");
    }
    *out = NULL;
    spk_status st = spk__udf_check_name(name, "spk_udf_macro");
    if (st == SPK_OK && (n < 0 || n > SPK__UDF_MAX_ARGS || (n && (!params || !types))))
        st = spk__fail(SPK_ERR_ARG, "macro `%s`: %d parameters (0 to %d, with names and types)", name, n, SPK__UDF_MAX_ARGS);
    if (st == SPK_OK && !body)
        st = spk__fail(SPK_ERR_ARG, "macro `%s`: NULL body (an expression builder failed earlier?)", name);
    for (int i = 0; st == SPK_OK && i < n; i++) {
        if (!params[i] || !params[i][0]) st = spk__fail(SPK_ERR_ARG, "macro `%s`: parameter %d has no name", name, i + 1);
        else if (!spk_type_valid(types[i]))
            st = spk__fail(SPK_ERR_ARG, "macro `%s`: parameter `%s` has an invalid type", name, params[i]);
        for (int k = 0; st == SPK_OK && k < i; k++)
            if (spk__name_eq(params[k], params[i], false))
                st = spk__fail(SPK_ERR_ARG, "macro `%s`: the parameter `%s` is named twice", name, params[i]);
    }
    spk_udf *u = NULL;
    if (st == SPK_OK && !(u = spk__udf_new(name, SPK_UDF_MACRO, n, n))) st = SPK_ERR_NOMEM;
    if (st != SPK_OK) {
        spk_expr_release(body);
        return st;
    }
    u->body = body;
    for (int i = 0; i < n && st == SPK_OK; i++) {
        u->arg_types[i] = types[i];
        if (!(u->params[i] = spk__strndup(&spk__default_allocator, params[i], strlen(params[i]))))
            st = spk__nomem("a macro parameter", strlen(params[i]) + 1);
    }
    int depth = 1;
    if (st == SPK_OK) st = spk__macro_check(u, body, &depth);
    if (st == SPK_OK && depth > SPK__UDF_MAX_NESTING)
        st = spk__fail(SPK_ERR_LIMIT, "macro `%s`: its body nests UDFs more than %d levels deep", name, SPK__UDF_MAX_NESTING);
    if (st != SPK_OK) {
        spk_udf_release(u);
        return st;
    }
    u->depth = depth;
    *out = u;
    return SPK_OK;
}

SPKDEF spk_status spk_udf_macro(const char *name, const char *params, const char *body, spk_udf **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_udf_macro: NULL output");
    *out = NULL;
    spk_status st = spk__udf_check_name(name, "spk_udf_macro");
    if (st != SPK_OK) return st;
    if (!params || !body) return spk__fail(SPK_ERR_ARG, "macro `%s`: NULL parameters or body", name);
    bool none = true;
    for (const char *p = params; *p && none; p++) none = spk__is_space((unsigned char)*p);
    spk_schema *s = NULL;
    if (!none && (st = spk_schema_parse(NULL, params, &s)) != SPK_OK) {
        spk__fail_prefix("macro `%s`: parameters: ", name);
        return st;
    }
    int n = s ? spk_schema_ncols(s) : 0;
    const char *names[SPK__UDF_MAX_ARGS];
    spk_type types[SPK__UDF_MAX_ARGS];
    if (n > SPK__UDF_MAX_ARGS) {
        spk_schema_release(s);
        return spk__fail(SPK_ERR_ARG, "macro `%s`: %d parameters (0 to %d)", name, n, SPK__UDF_MAX_ARGS);
    }
    for (int i = 0; i < n; i++) {
        names[i] = spk_schema_field(s, i)->name;
        types[i] = spk_schema_field(s, i)->type;
    }
    spk_expr *e = NULL;
    if ((st = spk_expr_parse(body, &e)) != SPK_OK) {
        spk__fail_prefix("macro `%s`: body: ", name);
    } else {
        st = spk_udf_macro_expr(name, names, types, n, e, out);
    }
    spk_schema_release(s);
    return st;
}

/* ---------------------------------------------------------------- accessors */

SPKDEF const char *spk_udf_name(const spk_udf *u) { return u ? u->name : ""; }
SPKDEF spk_udf_kind spk_udf_kind_of(const spk_udf *u) { return u ? (spk_udf_kind)u->kind : (spk_udf_kind)0; }
SPKDEF int spk_udf_nargs(const spk_udf *u) { return u ? u->nargs : 0; }
SPKDEF spk_type spk_udf_arg_type(const spk_udf *u, int i) {
    return u && i >= 0 && i < u->nargs ? u->arg_types[i] : spk_type_of(SPK_TYPE_NULL);
}
SPKDEF spk_type spk_udf_return_type(const spk_udf *u) { return u ? u->return_type : spk_type_of(SPK_TYPE_NULL); }

SPKDEF size_t spk_udf_signature(const spk_udf *u, char *buf, size_t cap) {
    spk__textout o = spk__textout_make(buf, cap);
    if (!u) {
        spk__out(&o, "NULL-udf");
        return o.len;
    }
    char t[32];
    spk__out(&o, "%s(", u->name);
    for (int i = 0; i < u->nargs; i++) {
        spk_type_format(u->arg_types[i], SPK_TYPE_SQL, t, sizeof t);
        if (u->kind == SPK_UDF_MACRO) spk__out(&o, "%s%s %s", i ? ", " : "", u->params[i], t);
        else spk__out(&o, "%s%s", i ? ", " : "", t);
    }
    if (u->kind == SPK_UDF_MACRO) {
        spk__out(&o, ") -> ?");
    } else {
        spk_type_format(u->return_type, SPK_TYPE_SQL, t, sizeof t);
        spk__out(&o, ") -> %s", t);
    }
    return o.len;
}

/* ---------------------------------------------------------------- calls */

SPKDEF spk_expr *spk_udf_call_array(spk_udf *udf, spk_expr *const *args, int n) {
    if (!udf || n < 0 || (n && !args) || n != udf->nargs) {
        if (args && n > 0) spk__release_all(args, n);
        if (!udf) spk__fail(SPK_ERR_ARG, "spk_udf_call: NULL UDF");
        else
            spk__fail(SPK_ERR_ARG, "[WRONG_NUM_ARGS] The `%s` requires %d parameters but the actual number is %d.",
                      udf->name, udf->nargs, n);
        return NULL;
    }
    spk_expr *e = spk__with_name(spk__node(SPK__OP_CALL, args, n), udf->name, strlen(udf->name));
    if (e) e->udf = spk_udf_retain(udf);
    return e;
}

SPKDEF spk_expr *spk_udf_call(spk_udf *udf, int n, ...) {
    spk_expr *args[SPK__UDF_MAX_ARGS];
    bool fits = n >= 0 && n <= SPK__UDF_MAX_ARGS;
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        spk_expr *a = va_arg(ap, spk_expr *);
        if (fits) args[i] = a;
        else spk_expr_release(a);
    }
    va_end(ap);
    if (!fits) {
        spk__fail(SPK_ERR_ARG, "spk_udf_call: %d arguments (0 to %d)", n, SPK__UDF_MAX_ARGS);
        return NULL;
    }
    return spk_udf_call_array(udf, args, n);
}

/* The body of macro m with every parameter replaced by its argument cast to
 * the parameter's type (each use holds its own reference to the argument).
 * Subtrees without parameters are shared, not copied. */
static spk_expr *spk__macro_subst(const spk_udf *m, const spk_expr *e, spk_expr *const *args) {
    if (e->op == SPK__OP_COL) {
        for (int i = 0; i < m->nargs; i++)
            if (spk__name_eq(e->name, m->params[i], false)) return spk_cast(spk_expr_retain(args[i]), m->arg_types[i]);
        spk__fail(SPK_ERR_INTERNAL, "macro `%s`: `%s` is not a parameter", m->name, e->name);
        return NULL;
    }
    if (e->nargs == 0) return spk_expr_retain((spk_expr *)(uintptr_t)e);
    spk_expr *stack[8], **kids = stack;
    size_t size = (size_t)e->nargs * sizeof *kids;
    if (e->nargs > 8 && !(kids = (spk_expr **)spk__alloc(spk__expr_alloc(), size))) {
        spk__nomem("a macro expansion", size);
        return NULL;
    }
    bool changed = false, failed = false;
    int made = 0;
    for (; made < e->nargs; made++) {
        if (!(kids[made] = spk__macro_subst(m, e->args[made], args))) {
            failed = true;
            break;
        }
        changed |= kids[made] != e->args[made];
    }
    spk_expr *out = NULL;
    if (failed || !changed) {
        spk__release_all(kids, made);
        if (!failed) out = spk_expr_retain((spk_expr *)(uintptr_t)e);
    } else {
        out = spk__expr_copy_with(e, kids);
    }
    if (kids != stack) spk__free(spk__expr_alloc(), kids, size);
    return out;
}

/* ---------------------------------------------------------------- registries */

struct spk_udf_registry {
    atomic_int refs;
    atomic_bool strict;
    spk__mutex lock; /* guards items and n; held only to read or swap pointers */
    spk_udf **items;
    int n, cap;
};

SPKDEF spk_status spk_udf_registry_new(spk_udf_registry **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_udf_registry_new: NULL output");
    *out = NULL;
    spk_udf_registry *r = (spk_udf_registry *)spk__calloc(&spk__default_allocator, sizeof *r);
    if (!r) return spk__nomem("a UDF registry", sizeof *r);
    if (!spk__mutex_init(&r->lock)) {
        spk__free(&spk__default_allocator, r, sizeof *r);
        return spk__fail(SPK_ERR_INTERNAL, "a UDF registry: mtx_init failed");
    }
    atomic_init(&r->refs, 1);
    atomic_init(&r->strict, false);
    *out = r;
    return SPK_OK;
}

SPKDEF spk_udf_registry *spk_udf_registry_retain(spk_udf_registry *r) {
    if (r) atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
    return r;
}

SPKDEF void spk_udf_registry_release(spk_udf_registry *r) {
    if (!r || atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1) return;
    for (int i = 0; i < r->n; i++) spk_udf_release(r->items[i]);
    if (r->items) spk__free(&spk__default_allocator, r->items, (size_t)r->cap * sizeof *r->items);
    spk__mutex_destroy(&r->lock);
    spk__free(&spk__default_allocator, r, sizeof *r);
}

static int spk__udf_registry_find(const spk_udf_registry *r, const char *name) {
    for (int i = 0; i < r->n; i++)
        if (spk__name_eq(r->items[i]->name, name, false)) return i;
    return -1;
}

SPKDEF spk_status spk_udf_register(spk_udf_registry *r, spk_udf *udf) {
    if (!r || !udf) return spk__fail(SPK_ERR_ARG, "spk_udf_register: NULL %s", r ? "UDF" : "registry");
    spk_udf *old = NULL;
    spk_status st = SPK_OK;
    spk__mutex_lock(&r->lock);
    int at = spk__udf_registry_find(r, udf->name);
    if (at >= 0) {
        old = r->items[at];
        r->items[at] = spk_udf_retain(udf);
    } else {
        if (r->n == r->cap) {
            int cap = r->cap ? r->cap * 2 : 8;
            spk_udf **p = (spk_udf **)spk__realloc(&spk__default_allocator, r->items, (size_t)r->cap * sizeof *p,
                                                   (size_t)cap * sizeof *p);
            if (!p) st = spk__nomem("a UDF registry", (size_t)cap * sizeof *p);
            else {
                r->items = p;
                r->cap = cap;
            }
        }
        if (st == SPK_OK) r->items[r->n++] = spk_udf_retain(udf);
    }
    spk__mutex_unlock(&r->lock);
    spk_udf_release(old); /* outside the lock: it may release a macro's whole body */
    return st;
}

SPKDEF spk_status spk_udf_unregister(spk_udf_registry *r, const char *name) {
    if (!r || !name) return spk__fail(SPK_ERR_ARG, "spk_udf_unregister: NULL argument");
    spk_udf *old = NULL;
    spk__mutex_lock(&r->lock);
    int at = spk__udf_registry_find(r, name);
    if (at >= 0) {
        old = r->items[at];
        memmove(r->items + at, r->items + at + 1, (size_t)(r->n - at - 1) * sizeof *r->items);
        r->n--;
    }
    spk__mutex_unlock(&r->lock);
    if (!old) return spk__fail(SPK_ERR_NOT_FOUND, "no UDF named `%s` is registered", name);
    spk_udf_release(old);
    return SPK_OK;
}

SPKDEF spk_udf *spk_udf_lookup(spk_udf_registry *r, const char *name) {
    if (!r || !name) return NULL;
    spk__mutex_lock(&r->lock);
    int at = spk__udf_registry_find(r, name);
    spk_udf *u = at >= 0 ? spk_udf_retain(r->items[at]) : NULL;
    spk__mutex_unlock(&r->lock);
    return u;
}

SPKDEF void spk_udf_registry_set_strict(spk_udf_registry *r, bool strict) {
    if (r) atomic_store_explicit(&r->strict, strict, memory_order_relaxed);
}
SPKDEF bool spk_udf_registry_strict(const spk_udf_registry *r) {
    return r && atomic_load_explicit(&((spk_udf_registry *)(uintptr_t)r)->strict, memory_order_relaxed);
}

/* The process-wide registry: racing first uses each make one, one is
 * published by a CAS and the others are released again. */
static _Atomic(spk_udf_registry *) spk__global_udfs;

/* The global registry if it was ever made (binding need not make it). */
static spk_udf_registry *spk__udf_global_peek(void) {
    return atomic_load_explicit(&spk__global_udfs, memory_order_acquire); /* pairs with the CAS */
}

SPKDEF spk_udf_registry *spk_udf_global(void) {
    spk_udf_registry *r = spk__udf_global_peek();
    if (r) return r;
    if (spk_udf_registry_new(&r) != SPK_OK) return NULL;
    spk_udf_registry *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(&spk__global_udfs, &expected, r, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        spk_udf_registry_release(r);
        r = expected;
    }
    return r;
}

static _Thread_local spk_udf_registry *spk__worker_udfs;

SPKDEF void spk_set_worker_ctx(spk_udf_registry *r) {
    spk_udf_registry *old = spk__worker_udfs;
    spk__worker_udfs = spk_udf_registry_retain(r);
    spk_udf_registry_release(old);
}
SPKDEF void spk_clear_worker_ctx(void) { spk_set_worker_ctx(NULL); }
SPKDEF spk_udf_registry *spk_worker_ctx(void) { return spk__worker_udfs; }

/* A UDF by name as binding resolves it: `session` (may be NULL), then the
 * worker context, then the global registry. Retained, or NULL. */
static spk_udf *spk__udf_resolve(spk_udf_registry *session, const char *name) {
    spk_udf *u = spk_udf_lookup(session, name);
    if (!u) u = spk_udf_lookup(spk__worker_udfs, name);
    if (!u) u = spk_udf_lookup(spk__udf_global_peek(), name);
    return u;
}
