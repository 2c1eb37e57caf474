/* A differential test against SQLite: random tables (seeded, deterministic)
 * are loaded into sparkless and into an in-memory SQLite database, and many
 * generated expressions whose semantics agree between Spark and SQLite are
 * evaluated by both and compared value by value (doubles to 1e-9 relative).
 * Where the dialects differ only in spelling, the generator writes each
 * side's own (Spark 1.5D is SQLite 1.5, <=> is IS, LIKE is a GLOB so that
 * case matters). Built only with SPK_HAVE_SQLITE (the Makefile defines it
 * when <sqlite3.h> exists). */
#include "test.h"

#ifndef SPK_HAVE_SQLITE
int main(void) {
    printf("note: SQLite is not available (no <sqlite3.h>); the differential test is skipped\n");
    return TEST_REPORT();
}
#else
#include <math.h>
#include <sqlite3.h>

/* ------------------------------------------------------------ deterministic randomness */

static uint64_t rng_state;
static uint64_t rng_next(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static int rnd(int n) { return (int)(rng_next() % (uint64_t)n); } /* 0..n-1 */
static bool chance(int percent) { return rnd(100) < percent; }

/* ------------------------------------------------------------ the tables */

#define NROWS 2100 /* more than one evaluation batch (2048 rows) */
#define DDL "id INT, a INT, b INT, l BIGINT, x DOUBLE, y DOUBLE, s STRING, t STRING"

static const char ALPHABET[] = "abAB _x";

static void random_text(char *buf, int maxlen) {
    int n = rnd(maxlen + 1);
    for (int i = 0; i < n; i++) buf[i] = ALPHABET[rnd((int)sizeof ALPHABET - 1)];
    buf[n] = '\0';
}

/* A double with an exact short decimal form: k / 4 in [-40, 40]. */
static double random_double(void) { return (rnd(321) - 160) / 4.0; }

static bool build_tables(spk_table **out, sqlite3 **db_out) {
    spk_schema *schema = NULL;
    spk_table *t = NULL;
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL;
    *out = NULL;
    *db_out = NULL;
    if (spk_schema_parse(NULL, DDL, &schema) != SPK_OK || spk_table_new(NULL, schema, &t) != SPK_OK) {
        fprintf(stderr, "cannot make the table: %s\n", spk_last_error());
        spk_schema_release(schema);
        return false;
    }
    spk_schema_release(schema);
    if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
        sqlite3_exec(db,
                     "CREATE TABLE t(id INTEGER, a INTEGER, b INTEGER, l INTEGER, x REAL, y REAL, s TEXT, t TEXT);"
                     "BEGIN;",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?,?,?,?,?,?,?,?)", -1, &ins, NULL) != SQLITE_OK) {
        fprintf(stderr, "sqlite setup failed: %s\n", db ? sqlite3_errmsg(db) : "?");
        sqlite3_close(db);
        spk_table_free(t);
        return false;
    }
    bool ok = true;
    for (int r = 0; r < NROWS && ok; r++) {
        spk_value v[8];
        char s[8], tt[8];
        v[0] = spk_value_i32(r);
        v[1] = chance(10) ? spk_value_null() : spk_value_i32(rnd(41) - 20);
        v[2] = chance(10) ? spk_value_null() : spk_value_i32(rnd(41) - 20);
        v[3] = chance(10) ? spk_value_null() : spk_value_i64(((int64_t)rnd(2000001) - 1000000) * 1000003);
        v[4] = chance(10) ? spk_value_null() : spk_value_f64(random_double());
        v[5] = chance(10) ? spk_value_null() : spk_value_f64(chance(10) ? 0.0 : random_double());
        random_text(s, 5);
        random_text(tt, 4);
        v[6] = chance(10) ? spk_value_null() : spk_value_str(s);
        v[7] = chance(10) ? spk_value_null() : spk_value_str(tt);
        if (spk_table_append_row(t, v, 8) != SPK_OK) {
            fprintf(stderr, "append failed: %s\n", spk_last_error());
            ok = false;
            break;
        }
        sqlite3_reset(ins);
        for (int c = 0; c < 8; c++) {
            int col = c + 1;
            if (v[c].is_null || v[c].type.id == SPK_TYPE_NULL) sqlite3_bind_null(ins, col);
            else if (v[c].type.id == SPK_TYPE_INT32) sqlite3_bind_int(ins, col, v[c].as.i32);
            else if (v[c].type.id == SPK_TYPE_INT64) sqlite3_bind_int64(ins, col, v[c].as.i64);
            else if (v[c].type.id == SPK_TYPE_DOUBLE) sqlite3_bind_double(ins, col, v[c].as.f64);
            else sqlite3_bind_text(ins, col, v[c].as.str.ptr, (int)v[c].as.str.len, SQLITE_TRANSIENT);
        }
        if (sqlite3_step(ins) != SQLITE_DONE) {
            fprintf(stderr, "sqlite insert failed: %s\n", sqlite3_errmsg(db));
            ok = false;
        }
    }
    sqlite3_finalize(ins);
    if (ok && sqlite3_exec(db, "COMMIT;", NULL, NULL, NULL) != SQLITE_OK) ok = false;
    if (!ok) {
        sqlite3_close(db);
        spk_table_free(t);
        return false;
    }
    *out = t;
    *db_out = db;
    return true;
}

/* ------------------------------------------------------------ expression generator */

/* One expression in both dialects. */
typedef struct ex {
    char spk[4096];
    char sql[4096];
    bool too_long;
} ex;

/* Writes tmpl with $1 $2 $3 replaced by a b c. */
static bool subst(char *out, size_t cap, const char *tmpl, const char *a, const char *b, const char *c) {
    size_t k = 0;
    for (const char *p = tmpl; *p; p++) {
        const char *ins = NULL;
        if (p[0] == '$' && p[1] >= '1' && p[1] <= '3') {
            ins = p[1] == '1' ? a : p[1] == '2' ? b : c;
            p++;
        }
        if (ins) {
            size_t n = strlen(ins);
            if (k + n + 1 > cap) return false;
            memcpy(out + k, ins, n);
            k += n;
        } else {
            if (k + 2 > cap) return false;
            out[k++] = *p;
        }
    }
    out[k] = '\0';
    return true;
}

/* o = template over x, y, z; sql_tmpl NULL means the same text in SQLite. */
static void emit(ex *o, const char *spk_tmpl, const char *sql_tmpl, const ex *x, const ex *y, const ex *z) {
    const char *e = "";
    o->too_long = (x && x->too_long) || (y && y->too_long) || (z && z->too_long);
    if (!subst(o->spk, sizeof o->spk, spk_tmpl, x ? x->spk : e, y ? y->spk : e, z ? z->spk : e)) o->too_long = true;
    if (!subst(o->sql, sizeof o->sql, sql_tmpl ? sql_tmpl : spk_tmpl, x ? x->sql : e, y ? y->sql : e, z ? z->sql : e))
        o->too_long = true;
}

static void leaf(ex *o, const char *spk, const char *sql) {
    snprintf(o->spk, sizeof o->spk, "%s", spk);
    snprintf(o->sql, sizeof o->sql, "%s", sql ? sql : spk);
    o->too_long = false;
}

/* Functions the library may not have yet: probed once, then avoided. */
static bool have_substr = true, have_replace = true, have_trim = true;

static void gen_int(ex *o, int d);
static void gen_dbl(ex *o, int d);
static void gen_str(ex *o, int d);
static void gen_bool(ex *o, int d);

static void int_leaf(ex *o) {
    char lit[32];
    switch (rnd(5)) {
    case 0: leaf(o, "a", NULL); break;
    case 1: leaf(o, "b", NULL); break;
    case 2: leaf(o, "(id % 13)", NULL); break;
    default:
        snprintf(lit, sizeof lit, rnd(3) == 0 ? "(-%d)" : "%d", rnd(10));
        leaf(o, lit, NULL);
        break;
    }
}

static void gen_int(ex *o, int d) {
    if (d <= 0 || chance(25)) {
        int_leaf(o);
        return;
    }
    ex x, y, z;
    switch (rnd(11)) {
    case 0: gen_int(&x, d - 1); gen_int(&y, d - 1); emit(o, "($1 + $2)", NULL, &x, &y, NULL); break;
    case 1: gen_int(&x, d - 1); gen_int(&y, d - 1); emit(o, "($1 - $2)", NULL, &x, &y, NULL); break;
    case 2: int_leaf(&x); gen_int(&y, d - 1); emit(o, "($1 * $2)", NULL, &x, &y, NULL); break;
    case 3: gen_int(&x, d - 1); gen_int(&y, d - 1); emit(o, "($1 % $2)", NULL, &x, &y, NULL); break;
    case 4: gen_int(&x, d - 1); emit(o, "(- $1)", NULL, &x, NULL, NULL); break;
    case 5: gen_int(&x, d - 1); emit(o, "abs($1)", NULL, &x, NULL, NULL); break;
    case 6: gen_bool(&x, d - 1); gen_int(&y, d - 1); gen_int(&z, d - 1);
        emit(o, "(CASE WHEN $1 THEN $2 ELSE $3 END)", NULL, &x, &y, &z); break;
    case 7: gen_bool(&x, d - 1); gen_int(&y, d - 1); emit(o, "(CASE WHEN $1 THEN $2 END)", NULL, &x, &y, NULL); break;
    case 8: gen_int(&x, d - 1); gen_int(&y, d - 1); gen_int(&z, d - 1); emit(o, "coalesce($1, $2, $3)", NULL, &x, &y, &z); break;
    case 9: gen_str(&x, d - 1); emit(o, "length($1)", NULL, &x, NULL, NULL); break;
    default: gen_int(&x, d - 1); emit(o, "(CASE $1 WHEN 1 THEN 10 WHEN 2 THEN 20 ELSE 0 END)", NULL, &x, NULL, NULL); break;
    }
}

static void gen_long(ex *o, int d) {
    ex x, y;
    gen_int(&y, d - 1);
    leaf(&x, "l", NULL);
    switch (rnd(3)) {
    case 0: emit(o, "($1 + $2)", NULL, &x, &y, NULL); break;
    case 1: emit(o, "($1 - $2 * 1000)", NULL, &x, &y, NULL); break;
    default: emit(o, "coalesce($1, $2)", NULL, &x, &y, NULL); break;
    }
}

static void dbl_leaf(ex *o) {
    char s1[48], s2[48];
    double v = random_double();
    switch (rnd(5)) {
    case 0: leaf(o, "x", NULL); break;
    case 1: leaf(o, "y", NULL); break;
    case 2: {
        ex a;
        int_leaf(&a);
        emit(o, "CAST($1 AS DOUBLE)", "CAST($1 AS REAL)", &a, NULL, NULL);
        break;
    }
    default:
        snprintf(s2, sizeof s2, v < 0 ? "(%.2f)" : "%.2f", v);
        snprintf(s1, sizeof s1, v < 0 ? "(%.2fD)" : "%.2fD", v);
        leaf(o, s1, s2);
        break;
    }
}

static void gen_dbl(ex *o, int d) {
    if (d <= 0 || chance(25)) {
        dbl_leaf(o);
        return;
    }
    ex x, y, z;
    switch (rnd(9)) {
    case 0: gen_dbl(&x, d - 1); gen_dbl(&y, d - 1); emit(o, "($1 + $2)", NULL, &x, &y, NULL); break;
    case 1: gen_dbl(&x, d - 1); gen_int(&y, d - 1); emit(o, "($1 - $2)", NULL, &x, &y, NULL); break;
    case 2: dbl_leaf(&x); gen_dbl(&y, d - 1); emit(o, "($1 * $2)", NULL, &x, &y, NULL); break;
    case 3: gen_dbl(&x, d - 1); dbl_leaf(&y); emit(o, "($1 / $2)", NULL, &x, &y, NULL); break;
    case 4: gen_dbl(&x, d - 1); emit(o, "(- $1)", NULL, &x, NULL, NULL); break;
    case 5: gen_dbl(&x, d - 1); emit(o, "abs($1)", NULL, &x, NULL, NULL); break;
    case 6: gen_bool(&x, d - 1); gen_dbl(&y, d - 1); gen_dbl(&z, d - 1);
        emit(o, "(CASE WHEN $1 THEN $2 ELSE $3 END)", NULL, &x, &y, &z); break;
    case 7: gen_dbl(&x, d - 1); gen_dbl(&y, d - 1); emit(o, "coalesce($1, $2)", NULL, &x, &y, NULL); break;
    default: gen_int(&x, d - 1); gen_dbl(&y, d - 1); emit(o, "($1 * 1.0D + $2)", "($1 * 1.0 + $2)", &x, &y, NULL); break;
    }
}

static void str_leaf(ex *o) {
    char lit[16], q[24];
    switch (rnd(4)) {
    case 0: leaf(o, "s", NULL); break;
    case 1: leaf(o, "t", NULL); break;
    default:
        random_text(lit, 3);
        snprintf(q, sizeof q, "'%s'", lit);
        leaf(o, q, NULL);
        break;
    }
}

static void gen_str(ex *o, int d) {
    if (d <= 0 || chance(25)) {
        str_leaf(o);
        return;
    }
    ex x, y, z;
    char tmpl[64];
    switch (rnd(10)) {
    case 0: gen_str(&x, d - 1); emit(o, "upper($1)", NULL, &x, NULL, NULL); break;
    case 1: gen_str(&x, d - 1); emit(o, "lower($1)", NULL, &x, NULL, NULL); break;
    case 2:
        if (!have_substr) { str_leaf(o); break; }
        gen_str(&x, d - 1);
        snprintf(tmpl, sizeof tmpl, "substr($1, %d, %d)", 1 + rnd(4), rnd(4));
        emit(o, tmpl, NULL, &x, NULL, NULL);
        break;
    case 3:
        if (!have_substr) { str_leaf(o); break; }
        gen_str(&x, d - 1);
        snprintf(tmpl, sizeof tmpl, "substr($1, %d)", 1 + rnd(5));
        emit(o, tmpl, NULL, &x, NULL, NULL);
        break;
    case 4:
        if (!have_replace) { str_leaf(o); break; }
        gen_str(&x, d - 1);
        emit(o, rnd(2) ? "replace($1, 'a', 'xy')" : "replace($1, ' ', '')", NULL, &x, NULL, NULL);
        break;
    case 5:
        if (!have_trim) { str_leaf(o); break; }
        gen_str(&x, d - 1);
        emit(o, "trim($1)", NULL, &x, NULL, NULL);
        break;
    case 6: gen_str(&x, d - 1); gen_str(&y, d - 1); emit(o, "($1 || $2)", NULL, &x, &y, NULL); break;
    case 7: gen_str(&x, d - 1); gen_str(&y, d - 1); emit(o, "coalesce($1, $2)", NULL, &x, &y, NULL); break;
    default: gen_bool(&x, d - 1); gen_str(&y, d - 1); gen_str(&z, d - 1);
        emit(o, "(CASE WHEN $1 THEN $2 ELSE $3 END)", NULL, &x, &y, &z); break;
    }
}

static const char *const CMP[] = {"=", "<>", "<", "<=", ">", ">="};

static void gen_bool(ex *o, int d) {
    ex x, y, z;
    char tmpl[128];
    int kind = d <= 0 ? rnd(4) : rnd(14);
    switch (kind) {
    case 0: /* int comparison */
        gen_int(&x, d - 1);
        gen_int(&y, d - 1);
        snprintf(tmpl, sizeof tmpl, "($1 %s $2)", CMP[rnd(6)]);
        emit(o, tmpl, NULL, &x, &y, NULL);
        break;
    case 1: /* double (and int against double) comparison */
        gen_dbl(&x, d - 1);
        if (rnd(2)) gen_dbl(&y, d - 1);
        else gen_int(&y, d - 1);
        snprintf(tmpl, sizeof tmpl, "($1 %s $2)", CMP[rnd(6)]);
        emit(o, tmpl, NULL, &x, &y, NULL);
        break;
    case 2: /* string comparison: bytes in both */
        gen_str(&x, d - 1);
        gen_str(&y, d - 1);
        snprintf(tmpl, sizeof tmpl, "($1 %s $2)", CMP[rnd(6)]);
        emit(o, tmpl, NULL, &x, &y, NULL);
        break;
    case 3:
        switch (rnd(3)) {
        case 0: gen_int(&x, d - 1); break;
        case 1: gen_str(&x, d - 1); break;
        default: gen_dbl(&x, d - 1); break;
        }
        emit(o, rnd(2) ? "($1 IS NULL)" : "($1 IS NOT NULL)", NULL, &x, NULL, NULL);
        break;
    case 4: gen_bool(&x, d - 1); gen_bool(&y, d - 1); emit(o, "($1 AND $2)", NULL, &x, &y, NULL); break;
    case 5: gen_bool(&x, d - 1); gen_bool(&y, d - 1); emit(o, "($1 OR $2)", NULL, &x, &y, NULL); break;
    case 6: gen_bool(&x, d - 1); emit(o, "(NOT $1)", NULL, &x, NULL, NULL); break;
    case 7: { /* IN, with a NULL in the list now and then */
        gen_int(&x, d - 1);
        char list[96];
        int n = 1 + rnd(4), k = 0;
        for (int i = 0; i < n; i++) k += snprintf(list + k, sizeof list - (size_t)k, "%s%d", i ? ", " : "", rnd(21) - 10);
        if (chance(30)) snprintf(list + k, sizeof list - (size_t)k, ", NULL");
        snprintf(tmpl, sizeof tmpl, rnd(4) ? "($1 IN (%s))" : "($1 NOT IN (%s))", list);
        emit(o, tmpl, NULL, &x, NULL, NULL);
        break;
    }
    case 8: { /* IN over strings */
        gen_str(&x, d - 1);
        char a1[8], a2[8];
        random_text(a1, 2);
        random_text(a2, 2);
        snprintf(tmpl, sizeof tmpl, chance(20) ? "($1 IN ('%s', NULL, '%s'))" : "($1 IN ('%s', '%s'))", a1, a2);
        emit(o, tmpl, NULL, &x, NULL, NULL);
        break;
    }
    case 9:
        gen_int(&x, d - 1);
        gen_int(&y, d - 1);
        gen_int(&z, d - 1);
        emit(o, rnd(3) ? "($1 BETWEEN $2 AND $3)" : "($1 NOT BETWEEN $2 AND $3)", NULL, &x, &y, &z);
        break;
    case 10: { /* LIKE is case-sensitive in Spark: compare with SQLite's GLOB */
        gen_str(&x, d - 1);
        char pat[16], glob[16];
        int n = rnd(5);
        for (int i = 0; i < n; i++) {
            int c = rnd(10);
            pat[i] = c < 2 ? '%' : c < 4 ? '_' : ALPHABET[rnd((int)sizeof ALPHABET - 1)];
            glob[i] = pat[i] == '%' ? '*' : pat[i] == '_' ? '?' : pat[i];
        }
        pat[n] = glob[n] = '\0';
        bool neg = chance(20);
        char t2[128];
        snprintf(tmpl, sizeof tmpl, neg ? "($1 NOT LIKE '%s')" : "($1 LIKE '%s')", pat);
        snprintf(t2, sizeof t2, neg ? "($1 NOT GLOB '%s')" : "($1 GLOB '%s')", glob);
        emit(o, tmpl, t2, &x, NULL, NULL);
        break;
    }
    case 11: /* null-safe equality is SQLite's IS */
        if (rnd(2)) {
            gen_int(&x, d - 1);
            gen_int(&y, d - 1);
        } else {
            gen_str(&x, d - 1);
            gen_str(&y, d - 1);
        }
        emit(o, "($1 <=> $2)", "($1 IS $2)", &x, &y, NULL);
        break;
    case 12:
        gen_bool(&x, d - 1);
        gen_bool(&y, d - 1);
        gen_bool(&z, d - 1);
        emit(o, "(CASE WHEN $1 THEN $2 ELSE $3 END)", NULL, &x, &y, &z);
        break;
    default: /* a long comparison */
        gen_long(&x, d);
        gen_long(&y, d);
        snprintf(tmpl, sizeof tmpl, "($1 %s $2)", CMP[rnd(6)]);
        emit(o, tmpl, NULL, &x, &y, NULL);
        break;
    }
}

/* ------------------------------------------------------------ comparison */

static long compared_values, compared_exprs;
static int mismatched_exprs;

static bool doubles_agree(double p, double q) {
    if (isnan(p) || isnan(q)) return isnan(p) && isnan(q);
    if (p == q) return true;
    return fabs(p - q) <= 1e-9 * fmax(fabs(p), fabs(q));
}

/* Whether a sparkless value equals SQLite's column `col` of `st`; `why` describes both. */
static bool values_agree(const spk_value *v, sqlite3_stmt *st, int col, char *why, size_t cap) {
    int qt = sqlite3_column_type(st, col);
    char mine[128] = "NULL", theirs[128] = "NULL";
    if (!v->is_null) spk_value_format(v, mine, sizeof mine);
    if (qt == SQLITE_INTEGER) snprintf(theirs, sizeof theirs, "%lld (integer)", (long long)sqlite3_column_int64(st, col));
    else if (qt == SQLITE_FLOAT) snprintf(theirs, sizeof theirs, "%.17g (real)", sqlite3_column_double(st, col));
    else if (qt == SQLITE_TEXT) snprintf(theirs, sizeof theirs, "'%.100s' (text)", (const char *)sqlite3_column_text(st, col));
    snprintf(why, cap, "sparkless %s, SQLite %s", mine, theirs);
    if (v->is_null || v->type.id == SPK_TYPE_NULL) return qt == SQLITE_NULL;
    if (qt == SQLITE_NULL) return false;
    switch (v->type.id) {
    case SPK_TYPE_BOOLEAN: return qt == SQLITE_INTEGER && sqlite3_column_int64(st, col) == (v->as.b ? 1 : 0);
    case SPK_TYPE_INT32:
        if (qt == SQLITE_INTEGER) return sqlite3_column_int64(st, col) == v->as.i32;
        return qt == SQLITE_FLOAT && sqlite3_column_double(st, col) == v->as.i32;
    case SPK_TYPE_INT64:
        if (qt == SQLITE_INTEGER) return sqlite3_column_int64(st, col) == v->as.i64;
        return qt == SQLITE_FLOAT && sqlite3_column_double(st, col) == (double)v->as.i64;
    case SPK_TYPE_DOUBLE:
        if (qt != SQLITE_INTEGER && qt != SQLITE_FLOAT) return false;
        return doubles_agree(v->as.f64, sqlite3_column_double(st, col));
    case SPK_TYPE_STRING: {
        if (qt != SQLITE_TEXT) return false;
        int n = sqlite3_column_bytes(st, col);
        const unsigned char *p = sqlite3_column_text(st, col);
        return (size_t)n == v->as.str.len && memcmp(p, v->as.str.ptr, (size_t)n) == 0;
    }
    default: return false;
    }
}

static void report_once(const char *spk, const char *sql, const char *what) {
    mismatched_exprs++;
    if (mismatched_exprs <= 25) {
        fprintf(stderr, "%s: MISMATCH for\n  sparkless: %s\n  SQLite:    %s\n  %s\n", spk_test_current, spk, sql, what);
    } else if (mismatched_exprs == 26) {
        fprintf(stderr, "%s: (further mismatches not shown)\n", spk_test_current);
    }
    spk_test_current_failed = 1;
}

/* Evaluates `spk` with sparkless over t (one row per row, or one row for an
 * aggregate) and `sql` with SQLite, and compares every value. */
static void compare_select(spk_table *t, sqlite3 *db, const char *spk, const char *sql, bool aggregate) {
    spk_expr *e = NULL;
    spk_bound *b = NULL;
    spk_table *out = NULL;
    char what[512];
    spk_status st = spk_expr_parse(spk, &e);
    if (st == SPK_OK) st = spk_expr_bind(e, spk_table_schema(t), false, &b);
    if (st == SPK_OK) st = spk_bound_eval(b, t, &out);
    spk_expr_release(e);
    spk_bound_free(b);
    if (st != SPK_OK) {
        snprintf(what, sizeof what, "sparkless failed: %s %.400s", spk_status_name(st), spk_last_error());
        report_once(spk, sql, what);
        return;
    }
    char query[9000];
    snprintf(query, sizeof query, aggregate ? "SELECT %s FROM t" : "SELECT %s FROM t ORDER BY id", sql);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db, query, -1, &q, NULL) != SQLITE_OK) {
        snprintf(what, sizeof what, "SQLite rejected it: %s", sqlite3_errmsg(db));
        report_once(spk, sql, what);
        spk_table_free(out);
        return;
    }
    size_t row = 0, nrows = spk_table_nrows(out);
    int rc;
    bool bad = false;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW && !bad) {
        spk_value v;
        if (row >= nrows) {
            snprintf(what, sizeof what, "SQLite has more rows than sparkless (%zu)", nrows);
            report_once(spk, sql, what);
            bad = true;
            break;
        }
        if (spk_table_get(out, row, 0, &v) != SPK_OK) {
            report_once(spk, sql, "spk_table_get failed");
            bad = true;
            break;
        }
        char why[400];
        if (!values_agree(&v, q, 0, why, sizeof why)) {
            snprintf(what, sizeof what, "first difference at row %zu (id %zu): %s", row, row, why);
            report_once(spk, sql, what);
            bad = true;
        }
        compared_values++;
        row++;
    }
    if (!bad && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        snprintf(what, sizeof what, "SQLite failed: %s", sqlite3_errmsg(db));
        report_once(spk, sql, what);
    } else if (!bad && row != nrows) {
        snprintf(what, sizeof what, "row counts differ: sparkless %zu, SQLite %zu", nrows, row);
        report_once(spk, sql, what);
    }
    compared_exprs++;
    sqlite3_finalize(q);
    spk_table_free(out);
}

/* spk_bound_filter keeps exactly the rows SQLite's WHERE keeps. */
static void compare_filter(spk_table *t, sqlite3 *db, const char *spk, const char *sql) {
    spk_expr *e = NULL;
    spk_bound *b = NULL;
    spk_table *out = NULL;
    char what[512];
    spk_status st = spk_expr_parse(spk, &e);
    if (st == SPK_OK) st = spk_expr_bind(e, spk_table_schema(t), false, &b);
    if (st == SPK_OK) st = spk_bound_filter(b, t, &out);
    spk_expr_release(e);
    spk_bound_free(b);
    if (st != SPK_OK) {
        snprintf(what, sizeof what, "sparkless filter failed: %s %.400s", spk_status_name(st), spk_last_error());
        report_once(spk, sql, what);
        return;
    }
    char query[9000];
    snprintf(query, sizeof query, "SELECT id FROM t WHERE %s ORDER BY id", sql);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db, query, -1, &q, NULL) != SQLITE_OK) {
        snprintf(what, sizeof what, "SQLite rejected the filter: %s", sqlite3_errmsg(db));
        report_once(spk, sql, what);
        spk_table_free(out);
        return;
    }
    size_t row = 0, nrows = spk_table_nrows(out);
    bool bad = false;
    while (sqlite3_step(q) == SQLITE_ROW) {
        spk_value v;
        long long want = sqlite3_column_int64(q, 0);
        if (row >= nrows || spk_table_get(out, row, 0, &v) != SPK_OK || v.is_null || v.as.i32 != want) {
            snprintf(what, sizeof what, "filter: SQLite keeps id %lld as its row %zu; sparkless kept %zu rows, row %zu is %d",
                     want, row, nrows, row, row < nrows && spk_table_get(out, row, 0, &v) == SPK_OK ? v.as.i32 : -1);
            report_once(spk, sql, what);
            bad = true;
            break;
        }
        row++;
        compared_values++;
    }
    if (!bad && row != nrows) {
        snprintf(what, sizeof what, "filter: sparkless keeps %zu rows, SQLite %zu", nrows, row);
        report_once(spk, sql, what);
    }
    compared_exprs++;
    sqlite3_finalize(q);
    spk_table_free(out);
}

/* ------------------------------------------------------------ tests */

static spk_table *table;
static sqlite3 *database;

static void probe_function(const char *name, const char *sql, bool *have) {
    spk_expr *e = NULL;
    spk_bound *b = NULL;
    spk_status st = spk_expr_parse(sql, &e);
    if (st == SPK_OK) st = spk_expr_bind(e, spk_table_schema(table), false, &b);
    spk_expr_release(e);
    spk_bound_free(b);
    if (st != SPK_OK) {
        fprintf(stderr, "%s: function %s is not available (%s): its expressions are left out\n", spk_test_current,
                name, spk_last_error());
        spk_test_current_failed = 1;
        *have = false;
    }
}

static void test_setup(void) {
    rng_state = 20240601;
    CHECK(build_tables(&table, &database));
    if (!table) return;
    CHECK_EQ_INT(spk_table_nrows(table), NROWS);
    /* Spark LIKE is case-sensitive; the generator uses GLOB on the SQLite side,
     * but the pragma also keeps any plain LIKE honest. */
    sqlite3_exec(database, "PRAGMA case_sensitive_like = ON;", NULL, NULL, NULL);
    probe_function("substr", "substr(s, 1, 2)", &have_substr);
    probe_function("replace", "replace(s, 'a', 'b')", &have_replace);
    probe_function("trim", "trim(s)", &have_trim);
}

/* Fixed expressions covering each construct at least once. */
static void test_fixed_expressions(void) {
    if (!table) return;
    static const struct { const char *spk, *sql; } fixed[] = {
        {"a + b", NULL}, {"a - b", NULL}, {"a * b", NULL}, {"-a", NULL}, {"a % b", NULL}, {"a % 0", NULL},
        {"l + a", NULL}, {"l - b * 100000", NULL}, {"l * 3", NULL},
        {"x + y", NULL}, {"x - y", NULL}, {"x * y", NULL}, {"x / y", NULL}, {"x / 0.0D", "x / 0.0"},
        {"a + x", NULL}, {"x * 2", NULL}, {"abs(a)", NULL}, {"abs(x)", NULL}, {"-x", NULL},
        {"a = b", NULL}, {"a <> b", NULL}, {"a != b", NULL}, {"a < b", NULL}, {"a <= b", NULL}, {"a > b", NULL}, {"a >= b", NULL},
        {"x = y", NULL}, {"x < y", NULL}, {"x >= a", NULL}, {"l > 0", NULL},
        {"s = t", NULL}, {"s < t", NULL}, {"s <= t", NULL}, {"s > t", NULL}, {"s >= t", NULL}, {"s <> t", NULL},
        {"s = 'ab'", NULL}, {"s > 'B'", NULL},
        {"a > 0 AND b > 0", NULL}, {"a > 0 OR b > 0", NULL}, {"NOT (a > 0)", NULL},
        {"(a > 0 AND s > 'a') OR (b < 0 AND x > 1)", NULL},
        {"a IS NULL", NULL}, {"s IS NOT NULL", NULL}, {"x IS NULL OR y IS NULL", NULL},
        {"a IN (1, 2, 3)", NULL}, {"a IN (1, NULL)", NULL}, {"a NOT IN (1, 2)", NULL}, {"a NOT IN (1, NULL)", NULL},
        {"s IN ('a', 'ab', 'B')", NULL}, {"a BETWEEN -5 AND 5", NULL}, {"a NOT BETWEEN b AND 10", NULL},
        {"x BETWEEN y AND 10.0D", "x BETWEEN y AND 10.0"},
        {"a <=> b", "a IS b"}, {"s <=> t", "s IS t"},
        {"CASE WHEN a > 0 THEN 'pos' WHEN a < 0 THEN 'neg' ELSE 'zero' END", NULL},
        {"CASE WHEN a > b THEN a ELSE b END", NULL}, {"CASE WHEN s IS NULL THEN t END", NULL},
        {"CASE a WHEN 1 THEN 'one' WHEN 2 THEN 'two' END", NULL},
        {"coalesce(a, b, 0)", NULL}, {"coalesce(s, t, '?')", NULL}, {"coalesce(x, y)", NULL},
        {"length(s)", NULL}, {"upper(s)", NULL}, {"lower(s)", NULL}, {"s || t", NULL}, {"s || '-' || t", NULL},
        {"s LIKE 'a%'", "s GLOB 'a*'"}, {"s LIKE '%b_'", "s GLOB '*b?'"}, {"s NOT LIKE '%A%'", "s NOT GLOB '*A*'"},
        {"s LIKE '_'", "s GLOB '?'"}, {"s LIKE ''", "s GLOB ''"}, {"s LIKE '% %'", "s GLOB '* *'"},
        {"substr(s, 2, 2)", NULL}, {"substr(s, 1)", NULL}, {"substr(s, 3)", NULL}, {"substr(s, 1, 0)", NULL},
        {"replace(s, 'a', 'xy')", NULL}, {"replace(s, ' ', '')", NULL}, {"trim(s)", NULL},
        {"upper(trim(s)) || lower(t)", NULL}, {"length(trim(s))", NULL},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        const char *spk = fixed[i].spk;
        if ((!have_substr && strstr(spk, "substr")) || (!have_replace && strstr(spk, "replace")) ||
            (!have_trim && strstr(spk, "trim")))
            continue;
        compare_select(table, database, spk, fixed[i].sql ? fixed[i].sql : spk, false);
    }
}

static void test_fixed_aggregates(void) {
    if (!table) return;
    static const char *const aggs[] = {
        "count(*)", "count(a)", "count(s)", "count(x)", "sum(a)", "sum(b)", "sum(l)", "sum(x)", "sum(a * b)",
        "min(a)", "max(a)", "min(l)", "max(l)", "min(x)", "max(y)", "min(s)", "max(s)", "min(t)", "max(t)",
        "avg(a)", "avg(x)", "avg(l)", "count(DISTINCT a)", "count(DISTINCT s)", "count(DISTINCT x)",
        "sum(CASE WHEN a > 0 THEN a END)", "count(CASE WHEN s LIKE 'a%' THEN 1 END)", "max(length(s))",
        "sum(a) + sum(b)", "max(a) - min(a)", "count(*) - count(a)",
    };
    for (size_t i = 0; i < sizeof aggs / sizeof aggs[0]; i++) {
        const char *sql = aggs[i];
        char buf[128];
        if (strstr(sql, "LIKE 'a%'")) { /* GLOB on the SQLite side */
            snprintf(buf, sizeof buf, "count(CASE WHEN s GLOB 'a*' THEN 1 END)");
            sql = buf;
        }
        compare_select(table, database, aggs[i], sql, true);
    }
}

static void test_random_expressions(void) {
    if (!table) return;
    rng_state = 7;
    for (int i = 0; i < 360; i++) {
        ex *e = (ex *)malloc(sizeof *e);
        if (!e) return;
        int depth = 1 + rnd(3);
        do { /* an operator or call at the top, not a bare column or literal */
            switch (i % 4) {
            case 0: gen_int(e, depth); break;
            case 1: gen_dbl(e, depth); break;
            case 2: gen_str(e, depth); break;
            default: gen_bool(e, depth); break;
            }
        } while (strlen(e->spk) < 12);
        /* a bare literal tells nothing (and '' is covered by test_eval) */
        bool literal = e->spk[0] == '\'' && strchr(e->spk + 1, '\'') == e->spk + strlen(e->spk) - 1;
        if (getenv("SPK_ORACLE_SHOW")) printf("%s\n", e->spk);
        if (!e->too_long && !literal) compare_select(table, database, e->spk, e->sql, false);
        free(e);
    }
}

static void test_random_filters(void) {
    if (!table) return;
    rng_state = 99;
    for (int i = 0; i < 150; i++) {
        ex *e = (ex *)malloc(sizeof *e);
        if (!e) return;
        gen_bool(e, 1 + rnd(3));
        if (!e->too_long) compare_filter(table, database, e->spk, e->sql);
        free(e);
    }
}

static void test_random_aggregates(void) {
    if (!table) return;
    rng_state = 12345;
    for (int i = 0; i < 120; i++) {
        ex *e = (ex *)malloc(sizeof *e), *a = (ex *)malloc(sizeof *a);
        if (!e || !a) {
            free(e);
            free(a);
            return;
        }
        switch (i % 8) {
        case 0: gen_int(a, 2); emit(e, "sum($1)", NULL, a, NULL, NULL); break;
        case 1: gen_int(a, 2); emit(e, "min($1)", NULL, a, NULL, NULL); break;
        case 2: gen_dbl(a, 2); emit(e, "max($1)", NULL, a, NULL, NULL); break;
        case 3: gen_int(a, 2); emit(e, "avg($1)", NULL, a, NULL, NULL); break;
        case 4: gen_str(a, 2); emit(e, "max($1)", NULL, a, NULL, NULL); break;
        case 5: gen_str(a, 2); emit(e, "count($1)", NULL, a, NULL, NULL); break;
        case 6: gen_int(a, 2); emit(e, "count(DISTINCT $1)", NULL, a, NULL, NULL); break;
        default: gen_bool(a, 2); emit(e, "count(CASE WHEN $1 THEN 1 END)", NULL, a, NULL, NULL); break;
        }
        if (!e->too_long) compare_select(table, database, e->spk, e->sql, true);
        free(e);
        free(a);
    }
}

static void test_summary(void) {
    printf("compared %ld values of %ld expressions with SQLite %s; %d expressions differed\n", compared_values,
           compared_exprs, sqlite3_libversion(), mismatched_exprs);
    CHECK(compared_exprs >= 600);
    CHECK(compared_values >= 100000);
    spk_table_free(table);
    sqlite3_close(database);
    table = NULL;
    database = NULL;
}

int main(void) {
    RUN(test_setup);
    RUN(test_fixed_expressions);
    RUN(test_fixed_aggregates);
    RUN(test_random_expressions);
    RUN(test_random_filters);
    RUN(test_random_aggregates);
    RUN(test_summary);
    return TEST_REPORT();
}
#endif
