/* wire: encoding and decoding of expressions and scan tasks.
 *
 * docs/wire-format.md is the format's specification; this file follows it.
 * A message is a 20-byte header and a body. The body is a tree of nodes in
 * prefix order, each a tag byte and its fields; integers are LEB128 varints
 * (signed ones zigzag-encoded), doubles their 8 IEEE bytes little-endian,
 * strings a varint length and the bytes. Tags are this file's own stable
 * numbers (spk__wire_tags), never the internal enum's order.
 *
 * The decoder treats the bytes as hostile: every read is checked against
 * the end, every count against the bytes left before anything is allocated,
 * nesting (macro bodies counted with their call sites) and node counts are
 * capped, and a decoded tree is one the builders could have made. */
#include "txn.c"
#include "wire.h"

#define SPK__WIRE_HEADER 20
#define SPK__WIRE_KIND_EXPR 1
#define SPK__WIRE_KIND_SCAN 2
#define SPK__WIRE_MAX_NODES (1L << 20) /* nodes in one message, macro bodies included */
#define SPK__WIRE_UDF_MAX_ARGS 64
#define SPK__WIRE_UDF_NAME_MAX 128

/* Node tags: part of the format, so never renumbered. */
enum {
    SPK__W_COL = 1, SPK__W_STAR = 2, SPK__W_LIT = 3, SPK__W_INTERVAL = 4,
    SPK__W_NEG = 5, SPK__W_NOT = 6, SPK__W_IS_NULL = 7, SPK__W_IS_NOT_NULL = 8,
    SPK__W_ADD = 9, SPK__W_SUB = 10, SPK__W_MUL = 11, SPK__W_DIV = 12, SPK__W_MOD = 13, SPK__W_INTDIV = 14,
    SPK__W_EQ = 15, SPK__W_NE = 16, SPK__W_LT = 17, SPK__W_LE = 18, SPK__W_GT = 19, SPK__W_GE = 20,
    SPK__W_EQ_NS = 21, SPK__W_AND = 22, SPK__W_OR = 23,
    SPK__W_IN = 24, SPK__W_LIKE = 25, SPK__W_RLIKE = 26,
    SPK__W_CASE = 27, SPK__W_CAST = 28, SPK__W_ALIAS = 29, SPK__W_CALL = 30, SPK__W_SORT = 31,
    SPK__W_UDF_REF = 32,   /* a call of a C UDF: name and signature, resolved by the reader */
    SPK__W_UDF_MACRO = 33, /* a call of a macro, its definition inline */
    SPK__W_MACRO_REF = 34, /* a call of a macro defined earlier in the message */
    SPK__W_TAG_COUNT
};

static const uint8_t spk__wire_tags[SPK__OP_COUNT] = {
    [SPK__OP_COL] = SPK__W_COL, [SPK__OP_STAR] = SPK__W_STAR, [SPK__OP_LIT] = SPK__W_LIT,
    [SPK__OP_INTERVAL] = SPK__W_INTERVAL, [SPK__OP_NEG] = SPK__W_NEG, [SPK__OP_NOT] = SPK__W_NOT,
    [SPK__OP_IS_NULL] = SPK__W_IS_NULL, [SPK__OP_IS_NOT_NULL] = SPK__W_IS_NOT_NULL, [SPK__OP_ADD] = SPK__W_ADD,
    [SPK__OP_SUB] = SPK__W_SUB, [SPK__OP_MUL] = SPK__W_MUL, [SPK__OP_DIV] = SPK__W_DIV, [SPK__OP_MOD] = SPK__W_MOD,
    [SPK__OP_INTDIV] = SPK__W_INTDIV, [SPK__OP_EQ] = SPK__W_EQ, [SPK__OP_NE] = SPK__W_NE, [SPK__OP_LT] = SPK__W_LT,
    [SPK__OP_LE] = SPK__W_LE, [SPK__OP_GT] = SPK__W_GT, [SPK__OP_GE] = SPK__W_GE, [SPK__OP_EQ_NS] = SPK__W_EQ_NS,
    [SPK__OP_AND] = SPK__W_AND, [SPK__OP_OR] = SPK__W_OR, [SPK__OP_IN] = SPK__W_IN, [SPK__OP_LIKE] = SPK__W_LIKE,
    [SPK__OP_RLIKE] = SPK__W_RLIKE, [SPK__OP_CASE] = SPK__W_CASE, [SPK__OP_CAST] = SPK__W_CAST,
    [SPK__OP_ALIAS] = SPK__W_ALIAS, [SPK__OP_CALL] = SPK__W_CALL, [SPK__OP_SORT] = SPK__W_SORT,
};

/* The inverse, as op + 1 (0: a tag that is no plain node). */
static const uint8_t spk__wire_ops[SPK__W_TAG_COUNT] = {
    [SPK__W_COL] = SPK__OP_COL + 1, [SPK__W_STAR] = SPK__OP_STAR + 1, [SPK__W_LIT] = SPK__OP_LIT + 1,
    [SPK__W_INTERVAL] = SPK__OP_INTERVAL + 1, [SPK__W_NEG] = SPK__OP_NEG + 1, [SPK__W_NOT] = SPK__OP_NOT + 1,
    [SPK__W_IS_NULL] = SPK__OP_IS_NULL + 1, [SPK__W_IS_NOT_NULL] = SPK__OP_IS_NOT_NULL + 1,
    [SPK__W_ADD] = SPK__OP_ADD + 1, [SPK__W_SUB] = SPK__OP_SUB + 1, [SPK__W_MUL] = SPK__OP_MUL + 1,
    [SPK__W_DIV] = SPK__OP_DIV + 1, [SPK__W_MOD] = SPK__OP_MOD + 1, [SPK__W_INTDIV] = SPK__OP_INTDIV + 1,
    [SPK__W_EQ] = SPK__OP_EQ + 1, [SPK__W_NE] = SPK__OP_NE + 1, [SPK__W_LT] = SPK__OP_LT + 1,
    [SPK__W_LE] = SPK__OP_LE + 1, [SPK__W_GT] = SPK__OP_GT + 1, [SPK__W_GE] = SPK__OP_GE + 1,
    [SPK__W_EQ_NS] = SPK__OP_EQ_NS + 1, [SPK__W_AND] = SPK__OP_AND + 1, [SPK__W_OR] = SPK__OP_OR + 1,
    [SPK__W_IN] = SPK__OP_IN + 1, [SPK__W_LIKE] = SPK__OP_LIKE + 1, [SPK__W_RLIKE] = SPK__OP_RLIKE + 1,
    [SPK__W_CASE] = SPK__OP_CASE + 1, [SPK__W_CAST] = SPK__OP_CAST + 1, [SPK__W_ALIAS] = SPK__OP_ALIAS + 1,
    [SPK__W_CALL] = SPK__OP_CALL + 1, [SPK__W_SORT] = SPK__OP_SORT + 1, [SPK__W_UDF_REF] = SPK__OP_CALL + 1,
    [SPK__W_UDF_MACRO] = SPK__OP_CALL + 1, [SPK__W_MACRO_REF] = SPK__OP_CALL + 1,
};

/* Flag bits per field; a set bit this reader does not know is refused. */
#define SPK__WF_QUALIFIER 0x01u   /* COL, STAR */
#define SPK__WF_NULL 0x01u        /* literal values */
#define SPK__WF_DISTINCT 0x01u    /* CALL, UDF calls */
#define SPK__WF_ELSE 0x01u        /* CASE */
#define SPK__WF_DESC 0x01u        /* SORT */
#define SPK__WF_NULLS_FIRST 0x02u /* SORT */
#define SPK__WF_LOWER 0x01u       /* key shard */
#define SPK__WF_UPPER 0x02u       /* key shard */
#define SPK__WF_PREDICATE 0x01u   /* scan task */

/* CRC-32 as the file backend computes it (spk__crc32), eight bytes at a
 * time ("slicing by 8": table k gives a byte's effect k bytes further on);
 * messages are small and sent often, so this is several times faster. The
 * tables are filled once per process. */
static uint32_t spk__wire_crc_tables[8][256];
static spk__once_flag spk__wire_crc_once = SPK__ONCE_INIT;

static void spk__wire_crc_fill(void) {
    spk__crc_init(spk__wire_crc_tables[0]);
    for (int k = 1; k < 8; k++)
        for (int i = 0; i < 256; i++) {
            uint32_t prev = spk__wire_crc_tables[k - 1][i];
            spk__wire_crc_tables[k][i] = (prev >> 8) ^ spk__wire_crc_tables[0][prev & 0xff];
        }
}

static uint32_t spk__wire_crc(const unsigned char *p, size_t len) {
    spk__call_once(&spk__wire_crc_once, spk__wire_crc_fill);
    const uint32_t(*t)[256] = (const uint32_t(*)[256])spk__wire_crc_tables;
    uint32_t c = 0xffffffffu;
    for (; len >= 8; p += 8, len -= 8) {
        uint32_t a = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        c = t[7][a & 0xff] ^ t[6][(a >> 8) & 0xff] ^ t[5][(a >> 16) & 0xff] ^ t[4][a >> 24] ^ t[3][p[4]] ^ t[2][p[5]] ^
            t[1][p[6]] ^ t[0][p[7]];
    }
    return spk__crc32(t[0], ~c, p, len); /* the last bytes one at a time */
}

SPKDEF void spk_bytes_free(spk_bytes *b) {
    if (!b) return;
    if (b->data) spk__free(&spk__default_allocator, b->data, b->len);
    b->data = NULL;
    b->len = 0;
}

/* ================================================================ encoding */

typedef struct spk__wout {
    unsigned char *p;
    size_t len, cap;
    bool heap; /* p is ours (else the caller's stack buffer) */
    long nodes;
    const spk_udf **macros; /* macros defined so far, in order: MACRO_REF indexes them */
    int nmacros, mcap;
} spk__wout;

static bool spk__wgrow(spk__wout *o, size_t n) {
    if (n > SPK_WIRE_MAX_BYTES - o->len) {
        spk__fail(SPK_ERR_LIMIT, "wire: the encoding passes SPK_WIRE_MAX_BYTES (%lu bytes)", (unsigned long)SPK_WIRE_MAX_BYTES);
        return false;
    }
    size_t cap = o->cap * 2;
    while (cap - o->len < n) cap *= 2;
    if (cap > SPK_WIRE_MAX_BYTES) cap = SPK_WIRE_MAX_BYTES;
    unsigned char *p = o->heap ? (unsigned char *)spk__realloc(&spk__default_allocator, o->p, o->cap, cap)
                               : (unsigned char *)spk__alloc(&spk__default_allocator, cap);
    if (!p) {
        spk__nomem("a wire message", cap);
        return false;
    }
    if (!o->heap) memcpy(p, o->p, o->len);
    o->p = p;
    o->cap = cap;
    o->heap = true;
    return true;
}

#define SPK__WROOM(o, n) ((o)->cap - (o)->len >= (n) || spk__wgrow((o), (n)))

static inline bool spk__wbyte(spk__wout *o, unsigned b) {
    if (!SPK__WROOM(o, 1)) return false;
    o->p[o->len++] = (unsigned char)b;
    return true;
}

static inline bool spk__wvar(spk__wout *o, uint64_t x) {
    if (!SPK__WROOM(o, 10)) return false;
    unsigned char *p = o->p + o->len;
    while (x >= 0x80) {
        *p++ = (unsigned char)(x | 0x80);
        x >>= 7;
    }
    *p++ = (unsigned char)x;
    o->len = (size_t)(p - o->p);
    return true;
}

static uint64_t spk__zigzag(int64_t x) { return ((uint64_t)x << 1) ^ (x < 0 ? UINT64_MAX : 0); }
static int64_t spk__unzigzag(uint64_t x) { return (int64_t)(x >> 1) ^ -(int64_t)(x & 1); }

static inline bool spk__wsvar(spk__wout *o, int64_t x) { return spk__wvar(o, spk__zigzag(x)); }

static inline bool spk__wbytes(spk__wout *o, const void *data, size_t n) {
    if (!SPK__WROOM(o, n)) return false;
    if (n) memcpy(o->p + o->len, data, n);
    o->len += n;
    return true;
}

static inline bool spk__wstr(spk__wout *o, const char *s, size_t n) { return spk__wvar(o, n) && spk__wbytes(o, s, n); }
static inline bool spk__wname(spk__wout *o, const char *s) { return spk__wstr(o, s, strlen(s)); }

static inline bool spk__wtype(spk__wout *o, spk_type t) {
    if (!spk__wbyte(o, t.id)) return false;
    return t.id != SPK_TYPE_DECIMAL || (spk__wbyte(o, t.precision) && spk__wbyte(o, t.scale));
}

static void spk__wle(unsigned char *p, uint64_t x, int n) {
    for (int i = 0; i < n; i++) p[i] = (unsigned char)(x >> (8 * i));
}

/* A value: its type, a flags byte (NULL), and the payload of a non-NULL. */
static inline bool spk__wvalue(spk__wout *o, const spk_value *v) {
    bool null = v->is_null || v->type.id == SPK_TYPE_NULL;
    if (!spk__wtype(o, v->type) || !spk__wbyte(o, null ? SPK__WF_NULL : 0)) return false;
    if (null) return true;
    switch ((spk_type_id)v->type.id) {
    case SPK_TYPE_BOOLEAN: return spk__wbyte(o, v->as.b ? 1 : 0);
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE: return spk__wsvar(o, v->as.i32);
    case SPK_TYPE_INT64:
    case SPK_TYPE_DECIMAL:
    case SPK_TYPE_TIMESTAMP: return spk__wsvar(o, v->as.i64);
    case SPK_TYPE_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, &v->as.f64, 8);
        if (!SPK__WROOM(o, 8)) return false;
        spk__wle(o->p + o->len, bits, 8);
        o->len += 8;
        return true;
    }
    case SPK_TYPE_STRING: return spk__wstr(o, v->as.str.ptr ? v->as.str.ptr : "", v->as.str.len);
    case SPK_TYPE_NULL:
    case SPK_TYPE_COUNT: break;
    }
    return true;
}

static bool spk__wnode(spk__wout *o, const spk_expr *e, int depth);

static bool spk__wargs(spk__wout *o, const spk_expr *e, int depth) {
    for (int i = 0; i < e->nargs; i++)
        if (!spk__wnode(o, e->args[i], depth + 1)) return false;
    return true;
}

/* A UDF call: a C UDF by name and signature; a macro inline the first
 * time, by index afterwards. */
static bool spk__wudf(spk__wout *o, const spk_expr *e, int depth) {
    const spk_udf *u = e->udf;
    if (e->nargs != u->nargs) {
        spk__fail(SPK_ERR_ARG, "wire: a call of UDF `%s` with %d arguments (it takes %d)", u->name, e->nargs, u->nargs);
        return false;
    }
    unsigned flags = e->distinct ? SPK__WF_DISTINCT : 0;
    if (u->kind != SPK_UDF_MACRO) {
        if (!spk__wbyte(o, SPK__W_UDF_REF) || !spk__wbyte(o, flags) || !spk__wname(o, u->name) || !spk__wbyte(o, u->kind) ||
            !spk__wvar(o, (uint64_t)u->nargs))
            return false;
        for (int i = 0; i < u->nargs; i++)
            if (!spk__wtype(o, u->arg_types[i])) return false;
        return spk__wtype(o, u->return_type) && spk__wargs(o, e, depth);
    }
    for (int i = 0; i < o->nmacros; i++)
        if (o->macros[i] == u)
            return spk__wbyte(o, SPK__W_MACRO_REF) && spk__wbyte(o, flags) && spk__wvar(o, (uint64_t)i) &&
                   spk__wargs(o, e, depth);
    if (!spk__wbyte(o, SPK__W_UDF_MACRO) || !spk__wbyte(o, flags) || !spk__wname(o, u->name) ||
        !spk__wvar(o, (uint64_t)u->nargs))
        return false;
    for (int i = 0; i < u->nargs; i++)
        if (!spk__wname(o, u->params[i]) || !spk__wtype(o, u->arg_types[i])) return false;
    /* The body counts as nested in its call, as the reader counts it. */
    if (!spk__wnode(o, u->body, depth + 1)) return false;
    if (o->nmacros == o->mcap) {
        int cap = o->mcap ? o->mcap * 2 : 8;
        const spk_udf **grown = (const spk_udf **)spk__realloc(&spk__default_allocator, (void *)o->macros,
                                                              (size_t)o->mcap * sizeof *grown, (size_t)cap * sizeof *grown);
        if (!grown) {
            spk__nomem("the wire encoder's macro list", (size_t)cap * sizeof *grown);
            return false;
        }
        o->macros = grown;
        o->mcap = cap;
    }
    o->macros[o->nmacros++] = u;
    return spk__wargs(o, e, depth);
}

static bool spk__wnode(spk__wout *o, const spk_expr *e, int depth) {
    if (!e || e->op >= SPK__OP_COUNT) {
        spk__fail(SPK_ERR_ARG, "wire: %s expression node", e ? "a corrupt" : "a NULL");
        return false;
    }
    if (depth > SPK_EXPR_MAX_DEPTH) {
        spk__fail(SPK_ERR_LIMIT, "wire: the expression (with the bodies of the macros it calls) is nested more than %d "
                                 "levels deep", SPK_EXPR_MAX_DEPTH);
        return false;
    }
    if (++o->nodes > SPK__WIRE_MAX_NODES) {
        spk__fail(SPK_ERR_LIMIT, "wire: the expression has more than %ld nodes", SPK__WIRE_MAX_NODES);
        return false;
    }
    if (e->op == SPK__OP_CALL && e->udf) return spk__wudf(o, e, depth);
    if (!spk__wbyte(o, spk__wire_tags[e->op])) return false;
    switch ((spk__op)e->op) {
    case SPK__OP_COL:
        return spk__wbyte(o, e->qualifier ? SPK__WF_QUALIFIER : 0) && spk__wname(o, e->name) &&
               (!e->qualifier || spk__wname(o, e->qualifier));
    case SPK__OP_STAR:
        return spk__wbyte(o, e->qualifier ? SPK__WF_QUALIFIER : 0) && (!e->qualifier || spk__wname(o, e->qualifier));
    case SPK__OP_LIT: return spk__wvalue(o, &e->lit);
    case SPK__OP_INTERVAL: return spk__wsvar(o, e->months) && spk__wsvar(o, e->days) && spk__wsvar(o, e->micros);
    case SPK__OP_LIKE:
    case SPK__OP_RLIKE:
    case SPK__OP_ALIAS:
        if (e->op == SPK__OP_ALIAS && !e->name[0]) {
            spk__fail(SPK_ERR_ARG, "wire: an alias with an empty name");
            return false;
        }
        return spk__wname(o, e->name) && spk__wargs(o, e, depth);
    case SPK__OP_CAST: return spk__wtype(o, e->type) && spk__wargs(o, e, depth);
    case SPK__OP_SORT:
        return spk__wbyte(o, (e->descending ? SPK__WF_DESC : 0) | (e->nulls_first ? SPK__WF_NULLS_FIRST : 0)) &&
               spk__wargs(o, e, depth);
    case SPK__OP_CASE:
        return spk__wbyte(o, e->has_else ? SPK__WF_ELSE : 0) && spk__wvar(o, (uint64_t)e->nargs) && spk__wargs(o, e, depth);
    case SPK__OP_IN: return spk__wvar(o, (uint64_t)e->nargs) && spk__wargs(o, e, depth);
    case SPK__OP_CALL:
        if (!e->name[0]) {
            spk__fail(SPK_ERR_ARG, "wire: a function call with an empty name");
            return false;
        }
        return spk__wbyte(o, e->distinct ? SPK__WF_DISTINCT : 0) && spk__wname(o, e->name) &&
               spk__wvar(o, (uint64_t)e->nargs) && spk__wargs(o, e, depth);
    default: return spk__wargs(o, e, depth); /* unary and binary operators: their operands */
    }
}

/* Starts a message: room for the header, which spk__wfinish fills. */
static void spk__wstart(spk__wout *o, unsigned char *stack, size_t cap) {
    memset(o, 0, sizeof *o);
    o->p = stack;
    o->cap = cap;
    o->len = SPK__WIRE_HEADER;
}

static void spk__wdone(spk__wout *o) {
    if (o->heap) spk__free(&spk__default_allocator, o->p, o->cap);
    if (o->macros) spk__free(&spk__default_allocator, (void *)o->macros, (size_t)o->mcap * sizeof *o->macros);
    o->p = NULL;
    o->heap = false;
    o->macros = NULL;
}

/* Writes the header and hands the exact bytes to *out. */
static spk_status spk__wfinish(spk__wout *o, unsigned kind, spk_bytes *out) {
    unsigned char *h = o->p;
    size_t body = o->len - SPK__WIRE_HEADER;
    memcpy(h, "SPKW", 4);
    spk__wle(h + 4, SPK_WIRE_MAJOR, 2);
    spk__wle(h + 6, SPK_WIRE_MINOR, 2);
    h[8] = SPARKLESS_VERSION_MAJOR;
    h[9] = SPARKLESS_VERSION_MINOR;
    h[10] = SPARKLESS_VERSION_PATCH;
    h[11] = (unsigned char)kind;
    spk__wle(h + 12, body, 4);
    spk__wle(h + 16, spk__wire_crc(h + SPK__WIRE_HEADER, body), 4);
    unsigned char *data;
    if (o->heap && o->cap == o->len) {
        data = o->p;
        o->heap = false; /* handed over */
    } else if (o->heap) {
        data = (unsigned char *)spk__realloc(&spk__default_allocator, o->p, o->cap, o->len);
        if (data) o->heap = false;
    } else {
        data = (unsigned char *)spk__alloc(&spk__default_allocator, o->len);
        if (data) memcpy(data, o->p, o->len);
    }
    if (!data) {
        spk__wdone(o);
        return spk__nomem("a wire message", o->len);
    }
    out->data = data;
    out->len = o->len;
    spk__wdone(o);
    return SPK_OK;
}

SPKDEF spk_status spk_expr_encode(const spk_expr *e, spk_bytes *out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_expr_encode: NULL output");
    out->data = NULL;
    out->len = 0;
    if (!e) return spk__fail(SPK_ERR_ARG, "spk_expr_encode: NULL expression");
    unsigned char stack[512];
    spk__wout o;
    spk__wstart(&o, stack, sizeof stack);
    if (!spk__wnode(&o, e, 1)) {
        spk__wdone(&o);
        return spk_last_status() != SPK_OK ? spk_last_status() : SPK_ERR_NOMEM;
    }
    return spk__wfinish(&o, SPK__WIRE_KIND_EXPR, out);
}

/* ================================================================ decoding */

typedef struct spk__win {
    const unsigned char *p; /* the whole message */
    size_t pos, end;        /* offsets in it: errors name byte offsets of the message */
    unsigned major, minor;
    long nodes;
    spk_udf_registry *udfs;
    spk_udf **macros; /* macros defined so far in the message (references) */
    int nmacros, mcap;
    spk__expr_block *block; /* where nodes are carved (counted with a bias while the decoder holds it) */
    size_t block_used;
    int block_nodes;        /* carved from it so far */
} spk__win;

static spk_status spk__wbad(const spk__win *in, size_t at, const char *fmt, ...) SPK__PRINTF(3, 4);
static spk_status spk__wbad(const spk__win *in, size_t at, const char *fmt, ...) {
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    (void)in;
    return spk__fail(SPK_ERR_CORRUPT, "wire: %s at byte %zu", msg, at);
}

/* A value this reader does not know: newer bytes may use it (a version
 * mismatch, said as such), bytes of this reader's version may not. */
static spk_status spk__wunknown(const spk__win *in, size_t at, const char *what, unsigned value) {
    if (in->minor > SPK_WIRE_MINOR)
        return spk__fail(SPK_ERR_VERSION, "wire: %s %u at byte %zu is not known to wire format %d.%d (the bytes are %u.%u)",
                         what, value, at, SPK_WIRE_MAJOR, SPK_WIRE_MINOR, in->major, in->minor);
    return spk__wbad(in, at, "unknown %s %u", what, value);
}

static spk_status spk__wtruncated(const spk__win *in) { return spk__wbad(in, in->end, "the body ends early"); }

static inline spk_status spk__wu8(spk__win *in, unsigned *out) {
    *out = 0;
    if (in->pos >= in->end) return spk__wtruncated(in);
    *out = in->p[in->pos++];
    return SPK_OK;
}

/* A flags byte: bits outside `known` are refused. */
static inline spk_status spk__wflags(spk__win *in, unsigned known, const char *what, unsigned *out) {
    size_t at = in->pos;
    spk_status st = spk__wu8(in, out);
    if (st == SPK_OK && (*out & ~known)) return spk__wunknown(in, at, what, *out);
    return st;
}

static inline spk_status spk__wvarint(spk__win *in, uint64_t *out) {
    if (in->pos < in->end && in->p[in->pos] < 0x80) { /* one byte: nearly every count, length and tag */
        *out = in->p[in->pos++];
        return SPK_OK;
    }
    *out = 0; /* on every path: the readers are inlined, and compilers check what they leave unset */
    size_t at = in->pos;
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (in->pos >= in->end) return spk__wtruncated(in);
        unsigned b = in->p[in->pos++];
        if (i == 9 && b > 1) return spk__wbad(in, at, "a varint overflows 64 bits");
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (b == 0 && i > 0) return spk__wbad(in, at, "an overlong varint");
            *out = x;
            return SPK_OK;
        }
    }
    return spk__wbad(in, at, "a varint longer than 10 bytes");
}

static inline spk_status spk__wsvarint(spk__win *in, int64_t *out) {
    uint64_t x;
    spk_status st = spk__wvarint(in, &x);
    if (st == SPK_OK) *out = spk__unzigzag(x);
    return st;
}

static inline spk_status spk__wi32(spk__win *in, const char *what, int32_t *out) {
    *out = 0;
    size_t at = in->pos;
    int64_t x;
    spk_status st = spk__wsvarint(in, &x);
    if (st != SPK_OK) return st;
    if (x < INT32_MIN || x > INT32_MAX) return spk__wbad(in, at, "%s %lld does not fit 32 bits", what, (long long)x);
    *out = (int32_t)x;
    return SPK_OK;
}

/* A count of items that each take at least `min_bytes`: checked against the
 * bytes left (and `most`) before anything is allocated for them. */
static inline spk_status spk__wcount(spk__win *in, size_t min_bytes, uint64_t most, const char *what, int *out) {
    *out = 0;
    size_t at = in->pos;
    uint64_t n;
    spk_status st = spk__wvarint(in, &n);
    if (st != SPK_OK) return st;
    if (n > most) return spk__wbad(in, at, "%llu %s (at most %llu)", (unsigned long long)n, what, (unsigned long long)most);
    if (n > (in->end - in->pos) / (min_bytes ? min_bytes : 1))
        return spk__wbad(in, at, "%llu %s in the %zu bytes left", (unsigned long long)n, what, in->end - in->pos);
    *out = (int)n;
    return SPK_OK;
}

/* A string: a view into the message. */
static inline spk_status spk__wstring(spk__win *in, const char **s, size_t *len) {
    *s = NULL;
    *len = 0;
    size_t at = in->pos;
    uint64_t n;
    spk_status st = spk__wvarint(in, &n);
    if (st != SPK_OK) return st;
    if (n > in->end - in->pos)
        return spk__wbad(in, at, "a string of %llu bytes with %zu bytes left", (unsigned long long)n, in->end - in->pos);
    *s = (const char *)in->p + in->pos;
    *len = (size_t)n;
    in->pos += (size_t)n;
    return SPK_OK;
}

/* A name (column, alias, function, qualifier, parameter, pattern): no NUL
 * bytes, and unless `empty_ok` at least one byte. */
static inline spk_status spk__wident(spk__win *in, const char *what, bool empty_ok, const char **s, size_t *len) {
    size_t at = in->pos;
    spk_status st = spk__wstring(in, s, len);
    if (st != SPK_OK) return st;
    if (!*len && !empty_ok) return spk__wbad(in, at, "an empty %s", what);
    if (*len && memchr(*s, 0, *len)) return spk__wbad(in, at, "a %s with a NUL byte", what);
    return SPK_OK;
}

static inline spk_status spk__wtype_read(spk__win *in, spk_type *out) {
    *out = spk_type_of(SPK_TYPE_NULL);
    size_t at = in->pos;
    unsigned id, p = 0, s = 0;
    spk_status st = spk__wu8(in, &id);
    if (st != SPK_OK) return st;
    if (id >= SPK_TYPE_COUNT) return spk__wunknown(in, at, "type id", id);
    if (id == SPK_TYPE_DECIMAL && ((st = spk__wu8(in, &p)) != SPK_OK || (st = spk__wu8(in, &s)) != SPK_OK)) return st;
    spk_type t = id == SPK_TYPE_DECIMAL ? spk_type_decimal((int)p, (int)s) : spk_type_of((spk_type_id)id);
    if (!spk_type_valid(t)) return spk__wbad(in, at, "DECIMAL(%u, %u) is not a valid type", p, s);
    *out = t;
    return SPK_OK;
}

/* A value; a STRING's bytes are a view into the message. */
static spk_status spk__wvalue_read(spk__win *in, spk_value *out) {
    spk_type t;
    unsigned flags;
    spk_status st = spk__wtype_read(in, &t);
    size_t at = in->pos;
    if (st != SPK_OK || (st = spk__wflags(in, SPK__WF_NULL, "value flags", &flags)) != SPK_OK) return st;
    spk_value v = spk_value_null_of(t);
    if (flags & SPK__WF_NULL) {
        *out = v;
        return SPK_OK;
    }
    if (t.id == SPK_TYPE_NULL) return spk__wbad(in, at, "a NULL-typed value that is not NULL");
    v.is_null = false;
    switch ((spk_type_id)t.id) {
    case SPK_TYPE_BOOLEAN: {
        unsigned b;
        at = in->pos;
        if ((st = spk__wu8(in, &b)) != SPK_OK) return st;
        if (b > 1) return spk__wbad(in, at, "a BOOLEAN of %u", b);
        v.as.b = b != 0;
        break;
    }
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE: st = spk__wi32(in, t.id == SPK_TYPE_DATE ? "a DATE" : "an INT", &v.as.i32); break;
    case SPK_TYPE_INT64:
    case SPK_TYPE_DECIMAL:
    case SPK_TYPE_TIMESTAMP: st = spk__wsvarint(in, &v.as.i64); break;
    case SPK_TYPE_DOUBLE: {
        if (in->end - in->pos < 8) return spk__wtruncated(in);
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++) bits |= (uint64_t)in->p[in->pos + (size_t)i] << (8 * i);
        in->pos += 8;
        memcpy(&v.as.f64, &bits, 8);
        break;
    }
    case SPK_TYPE_STRING: st = spk__wstring(in, &v.as.str.ptr, &v.as.str.len); break;
    case SPK_TYPE_NULL:
    case SPK_TYPE_COUNT: break;
    }
    if (st == SPK_OK) *out = v;
    return st;
}

static spk_status spk__wnode_read(spk__win *in, int depth, spk_expr **out);

#define SPK__WIRE_BLOCK 4096 /* bytes of nodes per block: a typical expression fits in one */
/* A block's count starts at this bias rather than being raised per node
 * (atomic operations cost more than the rest of carving a node): nodes
 * released while the decoder still carves cannot bring it to zero, and
 * retiring the block takes away the bias less the nodes carved from it. */
#define SPK__WIRE_BLOCK_BIAS (1 << 30)

static void spk__wblock_retire(spk__win *in) {
    spk__expr_block *b = in->block;
    if (!b) return;
    int keep = SPK__WIRE_BLOCK_BIAS - in->block_nodes; /* nodes per block are far fewer than the bias */
    if (atomic_fetch_sub_explicit(&b->refs, keep, memory_order_acq_rel) == keep)
        spk__free(spk__expr_alloc(), b, b->size);
    in->block = NULL;
    in->block_nodes = 0;
}

/* A node as the builders make it, but with room for `text` bytes of
 * strings after its arguments (its name, qualifier or string literal), and
 * carved from the decoder's current block unless it is large. */
static spk_expr *spk__wexpr_new(spk__win *in, spk__op op, int nargs, size_t text) {
    size_t align = _Alignof(max_align_t);
    size_t size = sizeof(spk_expr) + (size_t)nargs * sizeof(spk_expr *) + text;
    size_t carved = (size + align - 1) / align * align;
    size_t head = (sizeof(spk__expr_block) + align - 1) / align * align;
    spk_expr *e = NULL;
    if (carved <= SPK__WIRE_BLOCK / 4) {
        if (!in->block || in->block_used + carved > in->block->size) {
            spk__expr_block *b = (spk__expr_block *)spk__alloc(spk__expr_alloc(), head + SPK__WIRE_BLOCK);
            if (!b) {
                spk__nomem("expression nodes", head + SPK__WIRE_BLOCK);
                return NULL;
            }
            atomic_init(&b->refs, SPK__WIRE_BLOCK_BIAS);
            b->size = head + SPK__WIRE_BLOCK;
            spk__wblock_retire(in);
            in->block = b;
            in->block_used = head;
        }
        e = (spk_expr *)(void *)((char *)in->block + in->block_used);
        in->block_used += carved;
        in->block_nodes++;
        /* A constant size is zeroed inline; the text room needs none. */
        memset(e, 0, sizeof *e);
        if (nargs) memset(e + 1, 0, (size_t)nargs * sizeof(spk_expr *));
        e->block = in->block;
    } else if (!(e = (spk_expr *)spk__calloc(spk__expr_alloc(), size))) {
        spk__nomem("an expression", size);
        return NULL;
    }
    atomic_init(&e->refs, 1);
    e->op = (uint8_t)op;
    e->nargs = nargs;
    e->args = nargs ? (spk_expr **)(void *)(e + 1) : NULL;
    e->size = size;
    e->height = 1;
    e->inline_text = true;
    return e;
}

/* Copies len bytes (and a NUL) into e's text room at *at. */
static char *spk__wtext(spk_expr *e, size_t *at, const char *s, size_t len) {
    char *p = (char *)(void *)(e + 1) + (size_t)e->nargs * sizeof(spk_expr *) + *at;
    if (len) memcpy(p, s, len);
    p[len] = '\0';
    *at += len + 1;
    return p;
}

/* A node of n children read in place (no temporary array): the node is
 * made first, its children filled in; `name` (len bytes) becomes e->name. */
static spk_status spk__wchildren(spk__win *in, spk__op op, int n, int depth, const char *name, size_t len,
                                 spk_expr **out) {
    spk_expr *e = spk__wexpr_new(in, op, n, name ? len + 1 : 0);
    if (!e) return SPK_ERR_NOMEM;
    size_t at = 0;
    if (name) e->name = spk__wtext(e, &at, name, len);
    int tallest = 0;
    for (int i = 0; i < n; i++) {
        spk_status st = spk__wnode_read(in, depth + 1, &e->args[i]);
        if (st != SPK_OK) {
            spk_expr_release(e);
            return st;
        }
        if (e->args[i]->height > tallest) tallest = e->args[i]->height;
    }
    /* The depth check before each node bounds the height too. */
    e->height = tallest + 1;
    *out = e;
    return SPK_OK;
}

/* A literal node, as spk_lit makes it (a STRING's bytes in the node's block). */
static spk_expr *spk__wlit(spk__win *in, spk_value v) {
    bool str = !v.is_null && v.type.id == SPK_TYPE_STRING;
    spk_expr *e = spk__wexpr_new(in, SPK__OP_LIT, 0, str ? v.as.str.len + 1 : 0);
    if (!e) return NULL;
    e->lit = v;
    if (str) {
        size_t at = 0;
        e->text = spk__wtext(e, &at, v.as.str.ptr, v.as.str.len);
        e->lit.as.str.ptr = e->text;
    }
    return e;
}

/* "f(INT, BIGINT) -> DOUBLE" for the signature a message carries. */
static void spk__wsig_text(const char *name, size_t name_len, const spk_type *types, int n, spk_type ret, char *buf, size_t cap) {
    spk__textout o = spk__textout_make(buf, cap);
    spk__out(&o, "%.*s(", (int)name_len, name);
    for (int i = 0; i < n; i++) spk__out(&o, "%s%s", i ? ", " : "", spk__type_sql(types[i]).s);
    spk__out(&o, ") -> %s", spk__type_sql(ret).s);
}

static const char *spk__wkind_name(unsigned kind) {
    return kind == SPK_UDF_SCALAR ? "scalar" : kind == SPK_UDF_AGGREGATE ? "aggregate" : "macro";
}

/* The error of a UDF_REF that did not resolve: u NULL (not found), or
 * found in `where` with another signature (u is released). */
static spk_status spk__wresolve_fail(const spk__win *in, size_t at, const char *key, unsigned kind, const spk_type *types,
                                     int n, spk_type ret, spk_udf *u, const char *where) {
    /* The texts live on the heap: this may be inlined into the recursive
     * reader, whose frame must stay small. */
    char *want = (char *)spk__alloc(&spk__default_allocator, 1024), *have = want ? want + 512 : NULL;
    if (!want) {
        spk_udf_release(u);
        return spk__nomem("an error message", 1024);
    }
    spk__wsig_text(key, strlen(key), types, n, ret, want, 512);
    spk_status st;
    if (!u)
        st = spk__fail(SPK_ERR_NOT_FOUND, "wire: UDF `%s` (%s %s, at byte %zu) is not registered: looked in %s, %s and "
                                          "the global registry",
                       key, spk__wkind_name(kind), want, at,
                       in->udfs ? "the registry given to the decoder" : "no registry given to the decoder (none)",
                       spk_worker_ctx() ? "this thread's worker context" : "no worker context (none set)");
    else {
        spk_udf_signature(u, have, 512);
        st = spk__fail(SPK_ERR_TYPE, "wire: UDF `%s` (at byte %zu) is %s %s in the message but %s %s in %s", key, at,
                       spk__wkind_name(kind), want, spk__wkind_name(u->kind), have, where);
        spk_udf_release(u);
    }
    spk__free(&spk__default_allocator, want, 1024);
    return st;
}

/* The C UDF a UDF_REF names: the explicit registry, the worker context,
 * then the global registry; the first found must match the signature. */
static spk_status spk__wresolve(spk__win *in, size_t at, const char *name, size_t name_len, unsigned kind,
                                const spk_type *types, int n, spk_type ret, spk_udf **out) {
    char key[SPK__WIRE_UDF_NAME_MAX + 1];
    memcpy(key, name, name_len);
    key[name_len] = '\0';
    spk_udf_registry *ctx = spk_worker_ctx();
    spk_udf *u = NULL;
    const char *where = NULL;
    if (in->udfs && (u = spk_udf_lookup(in->udfs, key))) where = "the registry given to the decoder";
    else if (ctx && (u = spk_udf_lookup(ctx, key))) where = "this thread's worker context";
    else if ((u = spk_udf_lookup(spk__udf_global_peek(), key))) where = "the global registry";
    bool same = u && u->kind == kind && u->nargs == n && spk_type_equal(u->return_type, ret);
    for (int i = 0; same && i < n; i++) same = spk_type_equal(u->arg_types[i], types[i]);
    if (!same) return spk__wresolve_fail(in, at, key, kind, types, n, ret, u, where);
    *out = u;
    return SPK_OK;
}

/* A call node of u with its arguments (u is consumed). */
static spk_status spk__wudf_call(spk__win *in, spk_udf *u, unsigned flags, int depth, spk_expr **out) {
    spk_expr *e = NULL;
    spk_status st = spk__wchildren(in, SPK__OP_CALL, u->nargs, depth, u->name, strlen(u->name), &e);
    if (st != SPK_OK) {
        spk_udf_release(u);
        return st;
    }
    e->udf = u;
    e->distinct = (flags & SPK__WF_DISTINCT) != 0;
    *out = e;
    return SPK_OK;
}

static spk_status spk__wudf_ref(spk__win *in, size_t at, int depth, spk_expr **out) {
    unsigned flags, kind;
    const char *name;
    size_t name_len;
    int n;
    spk_type types[SPK__WIRE_UDF_MAX_ARGS], ret;
    spk_status st = spk__wflags(in, SPK__WF_DISTINCT, "call flags", &flags);
    size_t name_at = in->pos;
    if (st == SPK_OK) st = spk__wident(in, "UDF name", false, &name, &name_len);
    if (st == SPK_OK && name_len > SPK__WIRE_UDF_NAME_MAX)
        st = spk__wbad(in, name_at, "a UDF name of %zu bytes (at most %d)", name_len, SPK__WIRE_UDF_NAME_MAX);
    size_t kind_at = in->pos;
    if (st == SPK_OK && (st = spk__wu8(in, &kind)) == SPK_OK && kind != SPK_UDF_SCALAR && kind != SPK_UDF_AGGREGATE)
        st = kind == SPK_UDF_MACRO ? spk__wbad(in, kind_at, "a macro referenced by name") : spk__wunknown(in, kind_at, "UDF kind", kind);
    if (st == SPK_OK) st = spk__wcount(in, 1, SPK__WIRE_UDF_MAX_ARGS, "UDF arguments", &n);
    for (int i = 0; st == SPK_OK && i < n; i++) st = spk__wtype_read(in, &types[i]);
    if (st == SPK_OK) st = spk__wtype_read(in, &ret);
    spk_udf *u = NULL;
    if (st == SPK_OK) st = spk__wresolve(in, at, name, name_len, kind, types, n, ret, &u);
    if (st != SPK_OK) return st;
    return spk__wudf_call(in, u, flags, depth, out);
}

/* Whether decoding may create macros from the bytes. */
static const char *spk__wstrict(const spk__win *in) {
    if (in->udfs && spk_udf_registry_strict(in->udfs)) return "the registry given to the decoder is strict";
    spk_udf_registry *ctx = spk_worker_ctx();
    if (ctx && spk_udf_registry_strict(ctx)) return "this thread's worker context is strict";
    return NULL;
}

/* A macro's parameters while its definition is read; on the heap, as the
 * reader recurses (the body) while holding them. */
typedef struct spk__wparams {
    const char *name[SPK__WIRE_UDF_MAX_ARGS]; /* views into the message, then the copies */
    size_t len[SPK__WIRE_UDF_MAX_ARGS];
    spk_type type[SPK__WIRE_UDF_MAX_ARGS];
} spk__wparams;

static spk_status spk__wmacro(spk__win *in, size_t at, int depth, spk_expr **out) {
    unsigned flags;
    const char *name;
    size_t name_len;
    int n = 0;
    spk_status st = spk__wflags(in, SPK__WF_DISTINCT, "call flags", &flags);
    if (st == SPK_OK) st = spk__wident(in, "macro name", false, &name, &name_len);
    const char *strict = st == SPK_OK ? spk__wstrict(in) : NULL;
    if (strict)
        return spk__fail(SPK_ERR_UNSUPPORTED, "wire: the message carries the definition of macro `%.*s` inline (at byte %zu), "
                                              "and %s: only UDFs registered there may run",
                         (int)(name_len > 200 ? 200 : name_len), name, at, strict);
    if (st == SPK_OK) st = spk__wcount(in, 2, SPK__WIRE_UDF_MAX_ARGS, "macro parameters", &n);
    if (st != SPK_OK) return st;
    spk__wparams *ps = (spk__wparams *)spk__alloc(&spk__default_allocator, sizeof *ps);
    if (!ps) return spk__nomem("a macro's parameters", sizeof *ps);
    size_t bytes = name_len + 1;
    for (int i = 0; st == SPK_OK && i < n; i++) {
        if ((st = spk__wident(in, "macro parameter", false, &ps->name[i], &ps->len[i])) == SPK_OK)
            st = spk__wtype_read(in, &ps->type[i]);
        if (st == SPK_OK) bytes += ps->len[i] + 1;
    }
    spk_expr *body = NULL;
    if (st == SPK_OK) st = spk__wnode_read(in, depth + 1, &body);
    /* The names, NUL-terminated for spk_udf_macro_expr, in one block. */
    char *block = st == SPK_OK ? (char *)spk__alloc(&spk__default_allocator, bytes) : NULL;
    if (st == SPK_OK && !block) st = spk__nomem("a macro's names", bytes);
    spk_udf *u = NULL;
    if (st == SPK_OK) {
        char *text = block;
        memcpy(text, name, name_len);
        text[name_len] = '\0';
        text += name_len + 1;
        for (int i = 0; i < n; i++) {
            memcpy(text, ps->name[i], ps->len[i]);
            text[ps->len[i]] = '\0';
            ps->name[i] = text;
            text += ps->len[i] + 1;
        }
        st = spk_udf_macro_expr(block, ps->name, ps->type, n, body, &u); /* consumes body */
        body = NULL;
        if (st != SPK_OK && st != SPK_ERR_NOMEM) {
            char why[256];
            snprintf(why, sizeof why, "%.200s", spk_last_error());
            st = spk__wbad(in, at, "macro `%s` is not valid (%s)", block, why);
        }
    }
    spk_expr_release(body);
    if (block) spk__free(&spk__default_allocator, block, bytes);
    spk__free(&spk__default_allocator, ps, sizeof *ps);
    if (st != SPK_OK) return st;
    if (in->nmacros == in->mcap) {
        int cap = in->mcap ? in->mcap * 2 : 8;
        spk_udf **grown = (spk_udf **)spk__realloc(&spk__default_allocator, in->macros, (size_t)in->mcap * sizeof *grown,
                                                   (size_t)cap * sizeof *grown);
        if (!grown) {
            spk_udf_release(u);
            return spk__nomem("the wire decoder's macro list", (size_t)cap * sizeof *grown);
        }
        in->macros = grown;
        in->mcap = cap;
    }
    in->macros[in->nmacros++] = spk_udf_retain(u);
    return spk__wudf_call(in, u, flags, depth, out);
}

static spk_status spk__wmacro_ref(spk__win *in, int depth, spk_expr **out) {
    unsigned flags;
    uint64_t index;
    spk_status st = spk__wflags(in, SPK__WF_DISTINCT, "call flags", &flags);
    size_t at = in->pos;
    if (st == SPK_OK) st = spk__wvarint(in, &index);
    if (st != SPK_OK) return st;
    if (index >= (uint64_t)in->nmacros)
        return spk__wbad(in, at, "a reference to macro %llu of the %d defined before it", (unsigned long long)index, in->nmacros);
    return spk__wudf_call(in, spk_udf_retain(in->macros[index]), flags, depth, out);
}

static spk_status spk__wnode_read(spk__win *in, int depth, spk_expr **out) {
    *out = NULL;
    size_t at = in->pos;
    if (depth > SPK_EXPR_MAX_DEPTH)
        return spk__fail(SPK_ERR_LIMIT, "wire: the expression is nested more than %d levels deep (at byte %zu; macro bodies "
                                        "count with their call sites)", SPK_EXPR_MAX_DEPTH, at);
    if (++in->nodes > SPK__WIRE_MAX_NODES)
        return spk__fail(SPK_ERR_LIMIT, "wire: the message has more than %ld expression nodes (at byte %zu)",
                         SPK__WIRE_MAX_NODES, at);
    unsigned tag, flags = 0;
    spk_status st = spk__wu8(in, &tag);
    if (st != SPK_OK) return st;
    if (tag >= SPK__W_TAG_COUNT || !spk__wire_ops[tag]) return spk__wunknown(in, at, "node kind", tag);
    spk__op op = (spk__op)(spk__wire_ops[tag] - 1);
    spk_expr *e = NULL;
    const char *s = NULL, *q = NULL;
    size_t len = 0, qlen = 0, used = 0;
    int n = 0;
    switch (tag) {
    case SPK__W_COL:
    case SPK__W_STAR:
        if ((st = spk__wflags(in, SPK__WF_QUALIFIER, "name flags", &flags)) != SPK_OK) return st;
        if (tag == SPK__W_COL && (st = spk__wident(in, "column name", true, &s, &len)) != SPK_OK) return st;
        if ((flags & SPK__WF_QUALIFIER) && (st = spk__wident(in, "qualifier", false, &q, &qlen)) != SPK_OK) return st;
        if (!(e = spk__wexpr_new(in, op, 0, (s ? len + 1 : 0) + (q ? qlen + 1 : 0)))) return SPK_ERR_NOMEM;
        if (s) e->name = spk__wtext(e, &used, s, len);
        if (q) e->qualifier = spk__wtext(e, &used, q, qlen);
        break;
    case SPK__W_LIT: {
        spk_value v;
        if ((st = spk__wvalue_read(in, &v)) != SPK_OK) return st;
        if (!(e = spk__wlit(in, v))) return SPK_ERR_NOMEM;
        break;
    }
    case SPK__W_INTERVAL: {
        int32_t months, days;
        int64_t micros;
        if ((st = spk__wi32(in, "an interval's months", &months)) != SPK_OK ||
            (st = spk__wi32(in, "an interval's days", &days)) != SPK_OK || (st = spk__wsvarint(in, &micros)) != SPK_OK)
            return st;
        if (!(e = spk__wexpr_new(in, op, 0, 0))) return SPK_ERR_NOMEM;
        e->months = months;
        e->days = days;
        e->micros = micros;
        break;
    }
    case SPK__W_LIKE:
    case SPK__W_RLIKE:
    case SPK__W_ALIAS:
        if ((st = spk__wident(in, tag == SPK__W_ALIAS ? "alias" : "pattern", tag != SPK__W_ALIAS, &s, &len)) != SPK_OK ||
            (st = spk__wchildren(in, op, 1, depth, s, len, &e)) != SPK_OK)
            return st;
        break;
    case SPK__W_CAST: {
        spk_type t;
        if ((st = spk__wtype_read(in, &t)) != SPK_OK || (st = spk__wchildren(in, op, 1, depth, NULL, 0, &e)) != SPK_OK) return st;
        e->type = t;
        break;
    }
    case SPK__W_SORT:
        if ((st = spk__wflags(in, SPK__WF_DESC | SPK__WF_NULLS_FIRST, "sort flags", &flags)) != SPK_OK ||
            (st = spk__wchildren(in, op, 1, depth, NULL, 0, &e)) != SPK_OK)
            return st;
        e->descending = (flags & SPK__WF_DESC) != 0;
        e->nulls_first = (flags & SPK__WF_NULLS_FIRST) != 0;
        break;
    case SPK__W_CASE: {
        if ((st = spk__wflags(in, SPK__WF_ELSE, "CASE flags", &flags)) != SPK_OK) return st;
        size_t count_at = in->pos;
        if ((st = spk__wcount(in, 1, INT_MAX, "CASE arguments", &n)) != SPK_OK) return st;
        int has_else = (flags & SPK__WF_ELSE) ? 1 : 0;
        if (n < 2 + has_else || (n - has_else) % 2)
            return spk__wbad(in, count_at, "a CASE of %d arguments %s ELSE", n, has_else ? "with" : "without");
        if ((st = spk__wchildren(in, op, n, depth, NULL, 0, &e)) != SPK_OK) return st;
        e->has_else = has_else != 0;
        break;
    }
    case SPK__W_IN: {
        size_t count_at = in->pos;
        if ((st = spk__wcount(in, 1, INT_MAX, "IN arguments", &n)) != SPK_OK) return st;
        if (n < 2) return spk__wbad(in, count_at, "an IN with %d values (at least 1)", n - 1);
        if ((st = spk__wchildren(in, op, n, depth, NULL, 0, &e)) != SPK_OK) return st;
        break;
    }
    case SPK__W_CALL:
        if ((st = spk__wflags(in, SPK__WF_DISTINCT, "call flags", &flags)) != SPK_OK ||
            (st = spk__wident(in, "function name", false, &s, &len)) != SPK_OK ||
            (st = spk__wcount(in, 1, INT_MAX, "function arguments", &n)) != SPK_OK ||
            (st = spk__wchildren(in, op, n, depth, s, len, &e)) != SPK_OK)
            return st;
        e->distinct = (flags & SPK__WF_DISTINCT) != 0;
        break;
    case SPK__W_UDF_REF: return spk__wudf_ref(in, at, depth, out);
    case SPK__W_UDF_MACRO: return spk__wmacro(in, at, depth, out);
    case SPK__W_MACRO_REF: return spk__wmacro_ref(in, depth, out);
    default: {
        /* The unary and binary operators: their operands only. */
        bool unary = op == SPK__OP_NEG || op == SPK__OP_NOT || op == SPK__OP_IS_NULL || op == SPK__OP_IS_NOT_NULL;
        if ((st = spk__wchildren(in, op, unary ? 1 : 2, depth, NULL, 0, &e)) != SPK_OK) return st;
        break;
    }
    }
    *out = e;
    return SPK_OK;
}

static void spk__win_done(spk__win *in) {
    spk__wblock_retire(in);
    for (int i = 0; i < in->nmacros; i++) spk_udf_release(in->macros[i]);
    if (in->macros) spk__free(&spk__default_allocator, in->macros, (size_t)in->mcap * sizeof *in->macros);
    in->macros = NULL;
    in->nmacros = in->mcap = 0;
}

static const char *spk__wkind_text(unsigned kind) {
    return kind == SPK__WIRE_KIND_EXPR ? "an expression" : kind == SPK__WIRE_KIND_SCAN ? "a scan task" : "?";
}

/* Checks the header (in the documented order) and sets in up to read the body. */
static spk_status spk__wopen(const void *data, size_t len, unsigned kind, spk_udf_registry *udfs, spk__win *in) {
    memset(in, 0, sizeof *in);
    const unsigned char *p = (const unsigned char *)data;
    if (!p || len < SPK__WIRE_HEADER || memcmp(p, "SPKW", 4) != 0)
        return spk__fail(SPK_ERR_CORRUPT, "not a sparkless wire message (%s)",
                         !p ? "NULL bytes" : len < SPK__WIRE_HEADER ? "shorter than the 20-byte header" : "no SPKW magic");
    unsigned major = p[4] | (unsigned)p[5] << 8, minor = p[6] | (unsigned)p[7] << 8;
    if (major != SPK_WIRE_MAJOR)
        return spk__fail(SPK_ERR_VERSION, "the bytes are wire format %u.%u (sparkless %u.%u.%u); this reader, sparkless %s, "
                                          "reads wire format %d.x",
                         major, minor, p[8], p[9], p[10], SPARKLESS_VERSION, SPK_WIRE_MAJOR);
    in->p = p;
    in->major = major;
    in->minor = minor;
    in->udfs = udfs;
    if (p[11] != SPK__WIRE_KIND_EXPR && p[11] != SPK__WIRE_KIND_SCAN) return spk__wunknown(in, 11, "message kind", p[11]);
    if (p[11] != kind)
        return spk__fail(SPK_ERR_ARG, "wire: the bytes are %s (message kind %u), not %s", spk__wkind_text(p[11]), p[11],
                         spk__wkind_text(kind));
    uint32_t body = (uint32_t)p[12] | (uint32_t)p[13] << 8 | (uint32_t)p[14] << 16 | (uint32_t)p[15] << 24;
    uint32_t crc = (uint32_t)p[16] | (uint32_t)p[17] << 8 | (uint32_t)p[18] << 16 | (uint32_t)p[19] << 24;
    if (body > SPK_WIRE_MAX_BYTES - SPK__WIRE_HEADER || len > SPK_WIRE_MAX_BYTES)
        return spk__fail(SPK_ERR_LIMIT, "wire: a message of %llu bytes is larger than SPK_WIRE_MAX_BYTES (%lu)",
                         (unsigned long long)(len > SPK_WIRE_MAX_BYTES ? len : (size_t)body + SPK__WIRE_HEADER),
                         (unsigned long)SPK_WIRE_MAX_BYTES);
    if (len != (size_t)body + SPK__WIRE_HEADER)
        return spk__fail(SPK_ERR_CORRUPT, "wire: the message is %zu bytes but its header says %lu (20 + a body of %lu)", len,
                         (unsigned long)body + SPK__WIRE_HEADER, (unsigned long)body);
    uint32_t got = spk__wire_crc(p + SPK__WIRE_HEADER, body);
    if (got != crc)
        return spk__fail(SPK_ERR_CORRUPT, "wire: checksum mismatch: the body's CRC-32 is %08lx but the header says %08lx",
                         (unsigned long)got, (unsigned long)crc);
    in->pos = SPK__WIRE_HEADER;
    in->end = len;
    return SPK_OK;
}

static spk_status spk__wclose(spk__win *in) {
    if (in->pos != in->end) return spk__wbad(in, in->pos, "%zu bytes after the end of the body's content", in->end - in->pos);
    return SPK_OK;
}

SPKDEF spk_status spk_expr_decode(const void *data, size_t len, spk_udf_registry *udfs, spk_expr **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_expr_decode: NULL output");
    *out = NULL;
    spk__win in;
    spk_status st = spk__wopen(data, len, SPK__WIRE_KIND_EXPR, udfs, &in);
    spk_expr *e = NULL;
    if (st == SPK_OK) st = spk__wnode_read(&in, 1, &e);
    if (st == SPK_OK) st = spk__wclose(&in);
    spk__win_done(&in);
    if (st != SPK_OK) {
        spk_expr_release(e);
        return st;
    }
    *out = e;
    return SPK_OK;
}

/* ================================================================ equality */

static bool spk__wire_value_equal(const spk_value *a, const spk_value *b) {
    if (!spk_type_equal(a->type, b->type) || a->is_null != b->is_null) return false;
    if (a->is_null) return true;
    switch ((spk_type_id)a->type.id) {
    case SPK_TYPE_BOOLEAN: return a->as.b == b->as.b;
    case SPK_TYPE_INT32:
    case SPK_TYPE_DATE: return a->as.i32 == b->as.i32;
    case SPK_TYPE_INT64:
    case SPK_TYPE_DECIMAL:
    case SPK_TYPE_TIMESTAMP: return a->as.i64 == b->as.i64;
    case SPK_TYPE_DOUBLE: return memcmp(&a->as.f64, &b->as.f64, 8) == 0; /* bit for bit: NaN, -0.0 */
    case SPK_TYPE_STRING:
        return a->as.str.len == b->as.str.len && (!a->as.str.len || memcmp(a->as.str.ptr, b->as.str.ptr, a->as.str.len) == 0);
    case SPK_TYPE_NULL:
    case SPK_TYPE_COUNT: break;
    }
    return true;
}

static bool spk__wire_str_equal(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

static bool spk__wire_udf_equal(const spk_udf *a, const spk_udf *b) {
    if (a == b) return true;
    if (!a || !b || a->kind != b->kind || a->nargs != b->nargs || !spk__wire_str_equal(a->name, b->name) ||
        !spk_type_equal(a->return_type, b->return_type))
        return false;
    for (int i = 0; i < a->nargs; i++)
        if (!spk_type_equal(a->arg_types[i], b->arg_types[i])) return false;
    if (a->kind != SPK_UDF_MACRO)
        return a->fn == b->fn && a->user == b->user && a->agg.state_size == b->agg.state_size && a->agg.init == b->agg.init &&
               a->agg.update == b->agg.update && a->agg.merge == b->agg.merge && a->agg.finish == b->agg.finish &&
               a->agg.destroy == b->agg.destroy;
    for (int i = 0; i < a->nargs; i++)
        if (!spk__wire_str_equal(a->params[i], b->params[i])) return false;
    return spk_expr_equal(a->body, b->body);
}

SPKDEF bool spk_expr_equal(const spk_expr *a, const spk_expr *b) {
    if (a == b) return true;
    if (!a || !b) return false;
    if (a->op != b->op || a->nargs != b->nargs || a->distinct != b->distinct || a->has_else != b->has_else ||
        a->descending != b->descending || a->nulls_first != b->nulls_first || a->months != b->months ||
        a->days != b->days || a->micros != b->micros || !spk_type_equal(a->type, b->type) ||
        !spk__wire_str_equal(a->name, b->name) || !spk__wire_str_equal(a->qualifier, b->qualifier) ||
        !spk__wire_udf_equal(a->udf, b->udf))
        return false;
    if (a->op == SPK__OP_LIT && !spk__wire_value_equal(&a->lit, &b->lit)) return false;
    for (int i = 0; i < a->nargs; i++)
        if (!spk_expr_equal(a->args[i], b->args[i])) return false;
    return true;
}

/* ================================================================ scan tasks */

struct spk_scan_task {
    char *table; /* "db.table" */
    uint64_t asof, version, instance;
    char backend_type[32];
    spk_shards *shard; /* one shard, or NULL: the whole scan */
    spk_expr *predicate;
    int ncolumns;
    char **columns;
};

/* The version number of the scan's rows: known when they are the table's
 * latest (the backend's scan gives the same rows), else 0. */
static uint64_t spk__scan_version(const spk_scan *sc) {
    const spk_backend *b = sc->catalog->backend;
    spk_table *rows = NULL;
    uint64_t version = 0;
    if (b->ops->scan(b->self, sc->db, sc->table, 0, &rows, &version) != SPK_OK || rows != sc->rows) version = 0;
    spk_table_free(rows);
    return version;
}

SPKDEF spk_status spk_scan_task_encode(const spk_scan *sc, const spk_shard *sh, spk_bytes *out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_scan_task_encode: NULL output");
    out->data = NULL;
    out->len = 0;
    if (!sc) return spk__fail(SPK_ERR_ARG, "spk_scan_task_encode: NULL scan");
    if (sh && sh->physical && sh->asof != sc->asof)
        return spk__fail(SPK_ERR_ARG, "spk_scan_task_encode: a physical shard of asof %llu with a scan at asof %llu (a "
                                      "physical shard applies only to the version it was made from)",
                         (unsigned long long)sh->asof, (unsigned long long)sc->asof);
    if (sh && !sh->physical && (sh->nkeys < 1 || sh->nkeys > SPK__SHARD_MAX_KEYS || !sh->key_names))
        return spk__fail(SPK_ERR_ARG, "spk_scan_task_encode: a key shard with %d keys", sh->nkeys);
    const spk_backend *b = sc->catalog->backend;
    unsigned char stack[512];
    spk__wout o;
    spk__wstart(&o, stack, sizeof stack);
    size_t dl = strlen(sc->db), tl = strlen(sc->table);
    bool ok = spk__wvar(&o, dl + 1 + tl) && spk__wbytes(&o, sc->db, dl) && spk__wbyte(&o, '.') &&
              spk__wbytes(&o, sc->table, tl) && spk__wvar(&o, sc->asof) && spk__wvar(&o, spk__scan_version(sc)) &&
              SPK__WROOM(&o, 8);
    if (ok) {
        spk__wle(o.p + o.len, spk__backend_instance(b), 8);
        o.len += 8;
        ok = spk__wname(&o, spk_backend_type(b));
    }
    if (ok && !sh) {
        ok = spk__wbyte(&o, 0);
    } else if (ok && sh->physical) {
        ok = spk__wbyte(&o, 1) && spk__wvar(&o, sh->asof) && spk__wvar(&o, (uint64_t)sh->row_begin) &&
             spk__wvar(&o, (uint64_t)sh->row_end);
    } else if (ok) {
        ok = spk__wbyte(&o, 2) && spk__wvar(&o, (uint64_t)sh->nkeys);
        for (int k = 0; ok && k < sh->nkeys; k++) ok = spk__wname(&o, sh->key_names[k]);
        ok = ok && spk__wbyte(&o, (sh->lower ? SPK__WF_LOWER : 0) | (sh->upper ? SPK__WF_UPPER : 0));
        for (int k = 0; ok && sh->lower && k < sh->nkeys; k++) ok = spk__wvalue(&o, &sh->lower[k]);
        for (int k = 0; ok && sh->upper && k < sh->nkeys; k++) ok = spk__wvalue(&o, &sh->upper[k]);
    }
    ok = ok && spk__wbyte(&o, sc->where_expr ? SPK__WF_PREDICATE : 0) && (!sc->where_expr || spk__wnode(&o, sc->where_expr, 1));
    ok = ok && spk__wvar(&o, (uint64_t)sc->ncolumns);
    for (int i = 0; ok && i < sc->ncolumns; i++) ok = spk__wname(&o, sc->columns[i]);
    if (!ok) {
        spk__wdone(&o);
        return spk_last_status() != SPK_OK ? spk_last_status() : SPK_ERR_NOMEM;
    }
    return spk__wfinish(&o, SPK__WIRE_KIND_SCAN, out);
}

SPKDEF void spk_scan_task_free(spk_scan_task *t) {
    if (!t) return;
    if (t->table) spk__free(&spk__default_allocator, t->table, strlen(t->table) + 1);
    spk_shards_free(t->shard);
    spk_expr_release(t->predicate);
    for (int i = 0; i < t->ncolumns; i++)
        if (t->columns[i]) spk__free(&spk__default_allocator, t->columns[i], strlen(t->columns[i]) + 1);
    if (t->columns) spk__free(&spk__default_allocator, t->columns, (size_t)t->ncolumns * sizeof *t->columns);
    spk__free(&spk__default_allocator, t, sizeof *t);
}

/* A shard as a one-shard set owned by the task. */
static spk_status spk__wshard_read(spk__win *in, uint64_t asof, spk_shards **out) {
    size_t at = in->pos;
    unsigned kind;
    spk_status st = spk__wu8(in, &kind);
    if (st != SPK_OK) return st;
    if (kind > 2) return spk__wunknown(in, at, "shard kind", kind);
    if (kind == 0) return SPK_OK;
    spk_shards *set = NULL;
    spk_value *bounds = NULL;
    const char **names = NULL;
    char *text = NULL;
    if (kind == 1) {
        uint64_t shard_asof, begin, end;
        if ((st = spk__wvarint(in, &shard_asof)) != SPK_OK || (st = spk__wvarint(in, &begin)) != SPK_OK ||
            (st = spk__wvarint(in, &end)) != SPK_OK)
            return st;
        if (shard_asof != asof)
            return spk__wbad(in, at, "a physical shard of asof %llu in a task at asof %llu", (unsigned long long)shard_asof,
                             (unsigned long long)asof);
        if (begin > end || end > (uint64_t)INT64_MAX)
            return spk__wbad(in, at, "a physical shard of rows [%llu, %llu)", (unsigned long long)begin,
                             (unsigned long long)end);
        if ((st = spk__shards_alloc(1, 0, 0, 0, &set, &bounds, &names, &text)) != SPK_OK) return st;
        set->shards[0].physical = true;
        set->shards[0].asof = shard_asof;
        set->shards[0].row_begin = (int64_t)begin;
        set->shards[0].row_end = (int64_t)end;
        *out = set;
        return SPK_OK;
    }
    /* Key shard: read into views first, then size one block for it all. */
    int nkeys;
    const char *key[SPK__SHARD_MAX_KEYS];
    size_t key_len[SPK__SHARD_MAX_KEYS];
    spk_value vals[2 * SPK__SHARD_MAX_KEYS];
    unsigned flags;
    size_t count_at = in->pos;
    if ((st = spk__wcount(in, 1, SPK__SHARD_MAX_KEYS, "shard keys", &nkeys)) != SPK_OK) return st;
    if (nkeys < 1) return spk__wbad(in, count_at, "a key shard without keys");
    size_t text_bytes = 0;
    for (int k = 0; k < nkeys; k++) {
        if ((st = spk__wident(in, "shard key", false, &key[k], &key_len[k])) != SPK_OK) return st;
        text_bytes += key_len[k] + 1;
    }
    if ((st = spk__wflags(in, SPK__WF_LOWER | SPK__WF_UPPER, "shard bound flags", &flags)) != SPK_OK) return st;
    bool has[2] = {(flags & SPK__WF_LOWER) != 0, (flags & SPK__WF_UPPER) != 0};
    for (int side = 0; side < 2; side++)
        for (int k = 0; has[side] && k < nkeys; k++) {
            spk_value *v = &vals[side * nkeys + k];
            if ((st = spk__wvalue_read(in, v)) != SPK_OK) return st;
            if (v->type.id == SPK_TYPE_STRING && !v->is_null) text_bytes += v->as.str.len;
        }
    if ((st = spk__shards_alloc(1, 2 * (size_t)nkeys, nkeys, text_bytes, &set, &bounds, &names, &text)) != SPK_OK) return st;
    for (int k = 0; k < nkeys; k++) {
        memcpy(text, key[k], key_len[k]);
        text[key_len[k]] = '\0';
        names[k] = text;
        text += key_len[k] + 1;
    }
    for (int i = 0; i < 2 * nkeys; i++) {
        if (!has[i / nkeys]) continue;
        spk_value v = vals[i];
        if (v.type.id == SPK_TYPE_STRING && !v.is_null) {
            if (v.as.str.len) memcpy(text, v.as.str.ptr, v.as.str.len);
            v.as.str.ptr = text;
            text += v.as.str.len;
        }
        bounds[i] = v;
    }
    spk_shard *sh = &set->shards[0];
    sh->nkeys = nkeys;
    sh->key_names = names;
    sh->lower = has[0] ? bounds : NULL;
    sh->upper = has[1] ? bounds + nkeys : NULL;
    *out = set;
    return SPK_OK;
}

static spk_status spk__wtask_read(spk__win *in, spk_scan_task *t) {
    const char *s;
    size_t len;
    size_t at = in->pos;
    spk_status st = spk__wident(in, "table name", false, &s, &len);
    if (st != SPK_OK) return st;
    const char *dot = memchr(s, '.', len);
    if (!dot || dot == s || dot == s + len - 1 || len > 2 * SPK__NAME_MAX + 1)
        return spk__wbad(in, at, "table name '%.*s' is not \"db.table\"", (int)(len > 300 ? 300 : len), s);
    if (!(t->table = spk__strndup(&spk__default_allocator, s, len))) return spk__nomem("a table name", len + 1);
    if ((st = spk__wvarint(in, &t->asof)) != SPK_OK || (st = spk__wvarint(in, &t->version)) != SPK_OK) return st;
    if (in->end - in->pos < 8) return spk__wtruncated(in);
    for (int i = 0; i < 8; i++) t->instance |= (uint64_t)in->p[in->pos + (size_t)i] << (8 * i);
    in->pos += 8;
    at = in->pos;
    if ((st = spk__wident(in, "backend type", false, &s, &len)) != SPK_OK) return st;
    if (len >= sizeof t->backend_type) return spk__wbad(in, at, "a backend type of %zu bytes", len);
    memcpy(t->backend_type, s, len);
    t->backend_type[len] = '\0';
    if ((st = spk__wshard_read(in, t->asof, &t->shard)) != SPK_OK) return st;
    unsigned flags;
    if ((st = spk__wflags(in, SPK__WF_PREDICATE, "scan task flags", &flags)) != SPK_OK) return st;
    if ((flags & SPK__WF_PREDICATE) && (st = spk__wnode_read(in, 1, &t->predicate)) != SPK_OK) return st;
    int n;
    if ((st = spk__wcount(in, 1, INT_MAX, "columns", &n)) != SPK_OK) return st;
    if (n && !(t->columns = (char **)spk__calloc(&spk__default_allocator, (size_t)n * sizeof *t->columns)))
        return spk__nomem("a scan task's columns", (size_t)n * sizeof *t->columns);
    t->ncolumns = n; /* entries not yet read stay NULL */
    for (int i = 0; i < n; i++) {
        if ((st = spk__wident(in, "column name", false, &s, &len)) != SPK_OK) return st;
        if (!(t->columns[i] = spk__strndup(&spk__default_allocator, s, len))) return spk__nomem("a column name", len + 1);
    }
    return SPK_OK;
}

SPKDEF spk_status spk_scan_task_decode(const void *data, size_t len, spk_udf_registry *udfs, spk_scan_task **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_scan_task_decode: NULL output");
    *out = NULL;
    spk__win in;
    spk_status st = spk__wopen(data, len, SPK__WIRE_KIND_SCAN, udfs, &in);
    if (st != SPK_OK) return st;
    spk_scan_task *t = (spk_scan_task *)spk__calloc(&spk__default_allocator, sizeof *t);
    if (!t) {
        spk__win_done(&in);
        return spk__nomem("a scan task", sizeof *t);
    }
    st = spk__wtask_read(&in, t);
    if (st == SPK_OK) st = spk__wclose(&in);
    spk__win_done(&in);
    if (st != SPK_OK) {
        spk_scan_task_free(t);
        return st;
    }
    *out = t;
    return SPK_OK;
}

/* The scan a task reads in session s: its asof on the backend that made it
 * (this process or a fork of it); elsewhere on a file backend, the table's
 * latest version when its number is the task's. */
static spk_status spk__task_scan(const spk_scan_task *t, spk_session *s, spk_scan **out) {
    spk_backend *b = spk_session_backend(s);
    if (!b) return spk_last_status();
    if (spk__backend_instance(b) == t->instance) return spk_scan_new(s, t->table, t->asof, out);
    if (strcmp(t->backend_type, "file") != 0)
        return spk__fail(SPK_ERR_NOT_FOUND, "scan task of %s: it was made on a %s backend of another session or process "
                                            "(instance %016llx; this session's is %016llx), and its rows live only there",
                         t->table, t->backend_type, (unsigned long long)t->instance,
                         (unsigned long long)spk__backend_instance(b));
    if (strcmp(spk_backend_type(b), "file") != 0)
        return spk__fail(SPK_ERR_NOT_FOUND, "scan task of %s: it was made on a file backend, and this session's backend is "
                                            "'%s'", t->table, spk_backend_type(b));
    if (!t->version)
        return spk__fail(SPK_ERR_NOT_FOUND, "scan task of %s: it reads asof %llu, which was not the table's latest version "
                                            "when the task was made; only the process that made it (or a fork of it) can "
                                            "read that version", t->table, (unsigned long long)t->asof);
    for (int attempt = 0;; attempt++) {
        spk_scan *sc = NULL;
        spk_status st = spk_scan_new(s, t->table, 0, &sc);
        if (st != SPK_OK) return st;
        uint64_t version = spk__scan_version(sc);
        if (version == t->version) {
            *out = sc;
            return SPK_OK;
        }
        spk_scan_free(sc);
        if (version || attempt == 2) /* 0: a commit landed between the two reads; look again */
            return spk__fail(SPK_ERR_NOT_FOUND, "scan task of %s: it reads version %llu of the table, but the table is at "
                                                "version %llu here (it moved on; in another process a task reads only the "
                                                "table's latest version)", t->table, (unsigned long long)t->version,
                             (unsigned long long)version);
    }
}

SPKDEF spk_df *spk_scan_task_run(const spk_scan_task *t, spk_session *s) {
    if (!t || !s) {
        spk__fail(SPK_ERR_ARG, "spk_scan_task_run: NULL %s", t ? "session" : "task");
        return NULL;
    }
    spk_scan *sc = NULL;
    spk_status st = spk__task_scan(t, s, &sc);
    if (st == SPK_OK && t->predicate) st = spk_scan_where(sc, spk_expr_retain(t->predicate));
    if (st == SPK_OK && t->ncolumns) st = spk_scan_select(sc, (const char *const *)t->columns, t->ncolumns);
    spk_df *df = NULL;
    if (st == SPK_OK) {
        const spk_shard *sh = spk_shards_get(t->shard, 0);
        spk_shard local;
        if (sh && sh->physical && sh->asof != sc->asof) { /* the same version read by number under another asof */
            local = *sh;
            local.asof = sc->asof;
            sh = &local;
        }
        df = spk_scan_df(sc, s, sh);
    }
    spk_scan_free(sc);
    return df;
}

SPKDEF const char *spk_scan_task_table(const spk_scan_task *t) { return t ? t->table : NULL; }
SPKDEF uint64_t spk_scan_task_asof(const spk_scan_task *t) { return t ? t->asof : 0; }
SPKDEF const spk_shard *spk_scan_task_shard(const spk_scan_task *t) { return t ? spk_shards_get(t->shard, 0) : NULL; }
SPKDEF const spk_expr *spk_scan_task_predicate(const spk_scan_task *t) { return t ? t->predicate : NULL; }
SPKDEF int spk_scan_task_ncolumns(const spk_scan_task *t) { return t ? t->ncolumns : 0; }
SPKDEF const char *spk_scan_task_column(const spk_scan_task *t, int i) {
    return t && i >= 0 && i < t->ncolumns ? t->columns[i] : NULL;
}
