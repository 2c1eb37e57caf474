/* bench/tpch_gen — TPC-H lineitem, orders and customer, as dbgen writes them.
 *
 *   tpch_gen -s SF -o DIR [-t lineitem,orders,customer]
 *
 * writes DIR/<table>.tbl (DIR is created): pipe-delimited lines, each
 * ending in '|', decimals with two decimals (l_quantity as an integer, as
 * dbgen prints it), dates yyyy-mm-dd. The columns and their value
 * distributions follow the TPC-H specification (v3, clause 4.2.3), so the
 * queries have the specification's selectivities:
 *   customer  SF*150,000 rows: c_custkey 1.., c_name Customer#%09d, c_address
 *             10..40 random characters, c_nationkey 0..24, c_phone
 *             CC-NNN-NNN-NNNN (CC = nationkey + 10), c_acctbal -999.99..9999.99,
 *             c_mktsegment one of 5, c_comment text of 29..116 bytes.
 *   orders    SF*1,500,000 rows: o_orderkey sparse as dbgen's (1-7, 32-39,
 *             64-71, ...: the first 8 of every 32 keys), o_custkey 1..SF*150,000
 *             and not a multiple of 3, o_orderstatus F / O / P from its lines'
 *             l_linestatus, o_totalprice the sum over its lines of
 *             extendedprice * (1 + tax) * (1 - discount) rounded to cents,
 *             o_orderdate 1992-01-01 .. 1998-12-31 minus 151 days, o_orderpriority
 *             one of 5, o_clerk Clerk#%09d in 1..SF*1000, o_shippriority 0,
 *             o_comment text of 19..78 bytes.
 *   lineitem  1..7 lines per order (about SF*6,000,000 rows): l_partkey
 *             1..SF*200,000, l_suppkey from partkey by the spec's formula,
 *             l_quantity 1..50, l_extendedprice quantity * retailprice(partkey),
 *             l_discount 0.00..0.10, l_tax 0.00..0.08, l_shipdate orderdate +
 *             1..121, l_commitdate orderdate + 30..90, l_receiptdate shipdate +
 *             1..30, l_returnflag R/A if received by 1995-06-17 else N,
 *             l_linestatus O if shipped after 1995-06-17 else F, l_shipinstruct
 *             one of 4, l_shipmode one of 7, l_comment text of 10..43 bytes.
 * Text columns are cut from a fixed pool of words (not the spec's grammar),
 * never holding '|' or a line break, and never starting or ending in a space.
 *
 * Output is the same byte for byte on every run and machine: every random
 * value comes from a splitmix64 stream seeded by the table and the row (an
 * order and its lines share one stream), so a table's bytes do not depend
 * on which other tables are written. Formatting is by hand into a 1 MiB
 * buffer written with fwrite.
 *
 * Without arguments (as `make bench` runs it) it generates the three tables
 * at SF 0.1 into no file and prints the rate: BENCH tpch_gen ...
 *
 * bench/load.c includes this file with TPCH_GEN_NO_MAIN defined and calls
 * tpch_scale_init, tpch_generate and tpch_mkdirs. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

/* Bumped whenever the bytes written change (bench/load keys its cached file on it). */
#define TPCH_GEN_VERSION 1

/* ---- scale ---------------------------------------------------------------- */

typedef struct tpch_scale {
    double sf;
    int64_t customers, orders, parts, suppliers, clerks;
} tpch_scale;

static int64_t tpch_count(double sf, double per_unit) {
    double n = sf * per_unit + 0.5;
    return n < 1 ? 1 : (int64_t)n;
}

/* false when sf is out of range (0 < sf <= 1000). */
static bool tpch_scale_init(double sf, tpch_scale *out) {
    if (!(sf > 0 && sf <= 1000)) return false;
    out->sf = sf;
    out->customers = tpch_count(sf, 150000);
    out->orders = tpch_count(sf, 1500000);
    out->parts = tpch_count(sf, 200000);
    out->suppliers = tpch_count(sf, 10000);
    out->clerks = tpch_count(sf, 1000);
    return true;
}

/* ---- random numbers --------------------------------------------------------- */

typedef struct tpch_rng {
    uint64_t state;
} tpch_rng;

static uint64_t tpch_mix(uint64_t z) { /* splitmix64's finalizer */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static uint64_t tpch_next(tpch_rng *r) {
    r->state += 0x9e3779b97f4a7c15ULL;
    return tpch_mix(r->state);
}
/* Streams: one per table, then one per row within it. */
enum { TPCH_STREAM_CUSTOMER = 1, TPCH_STREAM_ORDER = 2, TPCH_STREAM_POOL = 3 };
static void tpch_seed(tpch_rng *r, uint64_t stream, uint64_t row) {
    r->state = tpch_mix(stream * 0xd1342543de82ef95ULL ^ tpch_mix(row + 0x632be59bd9b4e019ULL));
}
/* Uniform in [lo, hi] (hi - lo < 2^32): the high 32 bits scaled, no division. */
static int64_t tpch_uniform(tpch_rng *r, int64_t lo, int64_t hi) {
    uint64_t n = (uint64_t)(hi - lo) + 1;
    return lo + (int64_t)(((tpch_next(r) >> 32) * n) >> 32);
}
/* Uniform in [lo, hi] for any range (keys at large scale factors). */
static int64_t tpch_uniform_wide(tpch_rng *r, int64_t lo, int64_t hi) {
    uint64_t n = (uint64_t)(hi - lo) + 1;
    return n <= UINT32_MAX ? tpch_uniform(r, lo, hi) : lo + (int64_t)(tpch_next(r) % n);
}

/* ---- dates: days since 1992-01-01 ---------------------------------------- */

#define TPCH_FIRST_YEAR 1992
#define TPCH_DATE_DAYS 2560 /* 1992-01-01 .. 1999-01-03: the last receipt date is 1998-12-31 */

static char tpch_date_text[TPCH_DATE_DAYS][10];

static bool tpch_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
static int tpch_month_days(int y, int m) {
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && tpch_leap(y) ? 29 : days[m - 1];
}
/* y-m-d (from 1992 on) as days since 1992-01-01. */
static int32_t tpch_day(int y, int m, int d) {
    int32_t n = d - 1;
    for (int yy = TPCH_FIRST_YEAR; yy < y; yy++) n += tpch_leap(yy) ? 366 : 365;
    for (int mm = 1; mm < m; mm++) n += tpch_month_days(y, mm);
    return n;
}
static void tpch_put_digits(char *p, int v, int width) {
    for (int i = width - 1; i >= 0; i--, v /= 10) p[i] = (char)('0' + v % 10);
}
static void tpch_dates_init(void) {
    int y = TPCH_FIRST_YEAR, m = 1, d = 1;
    for (int i = 0; i < TPCH_DATE_DAYS; i++) {
        char *p = tpch_date_text[i];
        tpch_put_digits(p, y, 4);
        p[4] = '-';
        tpch_put_digits(p + 5, m, 2);
        p[7] = '-';
        tpch_put_digits(p + 8, d, 2);
        if (++d > tpch_month_days(y, m)) {
            d = 1;
            if (++m > 12) m = 1, y++;
        }
    }
}

/* ---- text ------------------------------------------------------------------ */

/* Comments are cut from this pool at random offsets, as dbgen cuts them from
 * its text pool; the words are the spec's grammar's vocabulary. */
#define TPCH_POOL_SIZE (1 << 20)
static char tpch_pool[TPCH_POOL_SIZE];

static void tpch_pool_init(void) {
    static const char *const words[] = {
        "furiously", "slyly", "carefully", "blithely", "quickly", "fluffily", "slowly", "quietly",
        "ruthlessly", "thinly", "closely", "doggedly", "daringly", "bravely", "stealthily", "permanently",
        "enticingly", "idly", "busily", "regularly", "finally", "ironically", "evenly", "boldly",
        "silently", "special", "pending", "unusual", "express", "furious", "sly", "careful",
        "blithe", "quick", "fluffy", "slow", "quiet", "ruthless", "thin", "close",
        "dogged", "daring", "brave", "stealthy", "permanent", "enticing", "idle", "busy",
        "regular", "final", "ironic", "even", "bold", "silent", "foxes", "ideas",
        "theodolites", "pinto", "beans", "instructions", "dependencies", "excuses", "platelets", "asymptotes",
        "courts", "dolphins", "multipliers", "sauternes", "warthogs", "frets", "dinos", "attainments",
        "somas", "Tiresias", "patterns", "forges", "braids", "hockey", "players", "frays",
        "warhorses", "dugouts", "notornis", "epitaphs", "pearls", "tithes", "waters", "orbits",
        "gifts", "sheaves", "depths", "sentiments", "decoys", "realms", "pains", "grouches",
        "escapades", "packages", "requests", "accounts", "deposits", "sleep", "wake", "are",
        "cajole", "haggle", "nag", "use", "boost", "affix", "detect", "integrate",
        "maintain", "nod", "was", "lose", "sublate", "solve", "thrash", "promise",
        "engage", "hinder", "print", "x-ray", "breach", "eat", "grow", "impress",
        "mold", "poach", "serve", "run", "dazzle", "snooze", "doze", "unwind",
        "kindle", "play", "hang", "believe", "doubt", "about", "above", "according",
        "to", "across", "after", "against", "along", "among", "around", "at",
        "atop", "before", "behind", "beneath", "beside", "between", "beyond", "by",
        "despite", "during", "except", "for", "from", "inside", "into", "near",
        "of", "on", "outside", "over", "past", "since", "through", "toward",
        "under", "until", "upon", "without", "with", "within", "the", "may",
        "might", "shall", "will", "would", "can", "could", "should", "must",
    };
    enum { NWORDS = sizeof words / sizeof words[0] };
    tpch_rng r;
    tpch_seed(&r, TPCH_STREAM_POOL, 0);
    size_t len = 0;
    while (len < TPCH_POOL_SIZE) {
        uint64_t x = tpch_next(&r);
        const char *w = words[(x >> 32) % NWORDS];
        for (; *w && len < TPCH_POOL_SIZE; w++) tpch_pool[len++] = *w;
        if (len < TPCH_POOL_SIZE) {
            /* the odd comma or full stop, as in dbgen's sentences */
            unsigned punct = (unsigned)(x & 31);
            if (punct == 0 && len + 1 < TPCH_POOL_SIZE) tpch_pool[len++] = ',';
            if (punct == 1 && len + 1 < TPCH_POOL_SIZE) tpch_pool[len++] = '.';
            tpch_pool[len++] = ' ';
        }
    }
}

/* ---- output ---------------------------------------------------------------- */

#define TPCH_BUF_SIZE (1 << 20)
#define TPCH_LINE_MAX 1024 /* more than any line can take */

/* Where one table's lines go. f NULL: the bytes are counted and dropped. */
typedef struct tpch_out {
    FILE *f;
    char *buf;
    size_t len;
    uint64_t rows, bytes;
    bool failed; /* a write failed (errno kept in err) */
    int err;
} tpch_out;

static bool tpch_out_open(tpch_out *o, FILE *f) {
    memset(o, 0, sizeof *o);
    o->f = f;
    o->buf = malloc(TPCH_BUF_SIZE);
    if (!o->buf) {
        o->failed = true;
        o->err = ENOMEM;
    }
    return o->buf != NULL;
}
static void tpch_out_flush(tpch_out *o) {
    if (o->len && o->f && !o->failed && fwrite(o->buf, 1, o->len, o->f) != o->len) {
        o->failed = true;
        o->err = errno;
    }
    o->bytes += o->len;
    o->len = 0;
}
/* Room for one more line. */
static char *tpch_out_line(tpch_out *o) {
    if (o->len > TPCH_BUF_SIZE - TPCH_LINE_MAX) tpch_out_flush(o);
    return o->buf + o->len;
}
static void tpch_out_end_line(tpch_out *o, char *end) {
    *end++ = '\n';
    o->len = (size_t)(end - o->buf);
    o->rows++;
}
/* Flushes and frees the buffer (the FILE stays the caller's); false if a write failed. */
static bool tpch_out_close(tpch_out *o) {
    if (o->buf) tpch_out_flush(o);
    free(o->buf);
    o->buf = NULL;
    return !o->failed;
}

/* Field writers: each writes the field and its '|' and returns the end. */
static char *tpch_put_int(char *p, int64_t v) {
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (v < 0) *p++ = '-';
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (n) *p++ = tmp[--n];
    *p++ = '|';
    return p;
}
static char *tpch_put_cents(char *p, int64_t cents) { /* 2 decimals */
    uint64_t u = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    if (cents < 0) *p++ = '-';
    p = tpch_put_int(p, (int64_t)(u / 100)) - 1; /* over its '|' */
    *p++ = '.';
    *p++ = (char)('0' + u % 100 / 10);
    *p++ = (char)('0' + u % 10);
    *p++ = '|';
    return p;
}
static char *tpch_put_bytes(char *p, const char *s, size_t n) {
    memcpy(p, s, n);
    p[n] = '|';
    return p + n + 1;
}
static char *tpch_put_str(char *p, const char *s) { return tpch_put_bytes(p, s, strlen(s)); }
static char *tpch_put_date(char *p, int32_t day) { return tpch_put_bytes(p, tpch_date_text[day], 10); }
static char *tpch_put_padded9(char *p, const char *prefix, int64_t v) { /* prefix%09d */
    size_t n = strlen(prefix);
    memcpy(p, prefix, n);
    p += n;
    for (int i = 8; i >= 0; i--, v /= 10) p[i] = (char)('0' + v % 10);
    p[9] = '|';
    return p + 10;
}
/* Where a comment of lo..hi bytes (hi < 128) is cut from the pool: a cut
 * that would start at a space starts one later, one that would end at a
 * space is a byte shorter (or longer, at lo); the pool has no two spaces in
 * a row, so neither end is a space. */
static void tpch_text_cut(tpch_rng *r, int lo, int hi, int32_t *at, int32_t *len) {
    int32_t n = (int32_t)tpch_uniform(r, lo, hi);
    int32_t a = (int32_t)tpch_uniform(r, 0, TPCH_POOL_SIZE - 128);
    if (tpch_pool[a] == ' ') a++;
    if (tpch_pool[a + n - 1] == ' ') n += n > lo ? -1 : 1;
    *at = a;
    *len = n;
}
static char *tpch_put_comment(char *p, int32_t at, int32_t len) {
    memcpy(p, tpch_pool + at, (size_t)len);
    p[len] = '|';
    return p + len + 1;
}

/* ---- customer -------------------------------------------------------------- */

static const char *const tpch_segments[5] = {"AUTOMOBILE", "BUILDING", "FURNITURE", "MACHINERY", "HOUSEHOLD"};

static void tpch_customer_row(tpch_out *o, int64_t key) {
    /* v-string characters: 64 of them, so each draws 6 bits */
    static const char alphabet[65] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ ,";
    tpch_rng r;
    tpch_seed(&r, TPCH_STREAM_CUSTOMER, (uint64_t)key);
    char *p = tpch_out_line(o);
    p = tpch_put_int(p, key);
    p = tpch_put_padded9(p, "Customer#", key);

    int n = (int)tpch_uniform(&r, 10, 40);
    uint64_t bits = 0;
    for (int i = 0; i < n; i++, bits >>= 6) {
        if (i % 10 == 0) bits = tpch_next(&r);
        p[i] = alphabet[bits & 63];
    }
    if (p[0] == ' ') p[0] = 'x';
    if (p[n - 1] == ' ') p[n - 1] = 'x';
    p[n] = '|';
    p += n + 1;

    int nation = (int)tpch_uniform(&r, 0, 24);
    p = tpch_put_int(p, nation);
    tpch_put_digits(p, nation + 10, 2);
    p[2] = '-';
    tpch_put_digits(p + 3, (int)tpch_uniform(&r, 100, 999), 3);
    p[6] = '-';
    tpch_put_digits(p + 7, (int)tpch_uniform(&r, 100, 999), 3);
    p[10] = '-';
    tpch_put_digits(p + 11, (int)tpch_uniform(&r, 1000, 9999), 4);
    p[15] = '|';
    p += 16;
    p = tpch_put_cents(p, tpch_uniform(&r, -99999, 999999));
    p = tpch_put_str(p, tpch_segments[tpch_uniform(&r, 0, 4)]);
    int32_t at, len;
    tpch_text_cut(&r, 29, 116, &at, &len);
    p = tpch_put_comment(p, at, len);
    tpch_out_end_line(o, p);
}

/* ---- orders and lineitem --------------------------------------------------- */

static const char *const tpch_priorities[5] = {"1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"};
static const char *const tpch_instructs[4] = {"DELIVER IN PERSON", "COLLECT COD", "NONE", "TAKE BACK RETURN"};
static const char *const tpch_modes[7] = {"REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB"};

typedef struct tpch_line {
    int64_t partkey, suppkey, price_cents;
    int quantity, discount, tax; /* discount and tax in hundredths */
    int32_t ship, commit, receipt;
    char returnflag, linestatus;
    uint8_t instruct, mode;
    int32_t comment_len, comment_at;
} tpch_line;

typedef struct tpch_order {
    int64_t key, custkey, total_cents, clerk;
    int32_t date;
    int priority, nlines;
    char status;
    int32_t comment_len, comment_at;
    tpch_line lines[7];
} tpch_order;

/* The n-th order (1-based) and its lines, every value drawn from the order's own stream. */
static void tpch_make_order(const tpch_scale *sc, int64_t n, int32_t current, int32_t last_order_day,
                            tpch_order *ord) {
    tpch_rng r;
    tpch_seed(&r, TPCH_STREAM_ORDER, (uint64_t)n);
    ord->key = ((n >> 3) << 5) | (n & 7); /* dbgen's sparse keys */
    do ord->custkey = tpch_uniform_wide(&r, 1, sc->customers);
    while (ord->custkey % 3 == 0 && sc->customers > 2);
    ord->date = (int32_t)tpch_uniform(&r, 0, last_order_day);
    ord->priority = (int)tpch_uniform(&r, 0, 4);
    ord->clerk = tpch_uniform_wide(&r, 1, sc->clerks);
    tpch_text_cut(&r, 19, 78, &ord->comment_at, &ord->comment_len);
    ord->nlines = (int)tpch_uniform(&r, 1, 7);
    int64_t total = 0; /* in 1/10000 cents */
    int shipped = 0;
    for (int i = 0; i < ord->nlines; i++) {
        tpch_line *l = &ord->lines[i];
        int64_t pk = tpch_uniform_wide(&r, 1, sc->parts), s = sc->suppliers;
        l->partkey = pk;
        l->suppkey = (pk + tpch_uniform(&r, 0, 3) * (s / 4 + (pk - 1) / s)) % s + 1;
        l->quantity = (int)tpch_uniform(&r, 1, 50);
        l->price_cents = l->quantity * (90000 + (pk / 10) % 20001 + 100 * (pk % 1000));
        l->discount = (int)tpch_uniform(&r, 0, 10);
        l->tax = (int)tpch_uniform(&r, 0, 8);
        l->ship = ord->date + (int32_t)tpch_uniform(&r, 1, 121);
        l->commit = ord->date + (int32_t)tpch_uniform(&r, 30, 90);
        l->receipt = l->ship + (int32_t)tpch_uniform(&r, 1, 30);
        bool returnable = tpch_uniform(&r, 0, 1) != 0;
        l->returnflag = l->receipt <= current ? (returnable ? 'R' : 'A') : 'N';
        l->linestatus = l->ship > current ? 'O' : 'F';
        shipped += l->linestatus == 'F';
        l->instruct = (uint8_t)tpch_uniform(&r, 0, 3);
        l->mode = (uint8_t)tpch_uniform(&r, 0, 6);
        tpch_text_cut(&r, 10, 43, &l->comment_at, &l->comment_len);
        total += l->price_cents * (100 - l->discount) * (100 + l->tax);
    }
    ord->total_cents = (total + 5000) / 10000;
    ord->status = shipped == ord->nlines ? 'F' : shipped == 0 ? 'O' : 'P';
}

static void tpch_order_row(tpch_out *o, const tpch_order *ord) {
    char *p = tpch_out_line(o);
    p = tpch_put_int(p, ord->key);
    p = tpch_put_int(p, ord->custkey);
    *p++ = ord->status;
    *p++ = '|';
    p = tpch_put_cents(p, ord->total_cents);
    p = tpch_put_date(p, ord->date);
    p = tpch_put_str(p, tpch_priorities[ord->priority]);
    p = tpch_put_padded9(p, "Clerk#", ord->clerk);
    p = tpch_put_int(p, 0);
    p = tpch_put_comment(p, ord->comment_at, ord->comment_len);
    tpch_out_end_line(o, p);
}

static void tpch_lineitem_rows(tpch_out *o, const tpch_order *ord) {
    for (int i = 0; i < ord->nlines; i++) {
        const tpch_line *l = &ord->lines[i];
        char *p = tpch_out_line(o);
        p = tpch_put_int(p, ord->key);
        p = tpch_put_int(p, l->partkey);
        p = tpch_put_int(p, l->suppkey);
        p = tpch_put_int(p, i + 1);
        p = tpch_put_int(p, l->quantity);
        p = tpch_put_cents(p, l->price_cents);
        p = tpch_put_cents(p, l->discount);
        p = tpch_put_cents(p, l->tax);
        *p++ = l->returnflag;
        *p++ = '|';
        *p++ = l->linestatus;
        *p++ = '|';
        p = tpch_put_date(p, l->ship);
        p = tpch_put_date(p, l->commit);
        p = tpch_put_date(p, l->receipt);
        p = tpch_put_str(p, tpch_instructs[l->instruct]);
        p = tpch_put_str(p, tpch_modes[l->mode]);
        p = tpch_put_comment(p, l->comment_at, l->comment_len);
        tpch_out_end_line(o, p);
    }
}

/* Writes the tables whose outputs are not NULL (lineitem and orders come
 * from one pass over the orders). */
static void tpch_generate(const tpch_scale *sc, tpch_out *lineitem, tpch_out *orders, tpch_out *customer) {
    static bool ready = false;
    if (!ready) {
        tpch_dates_init();
        tpch_pool_init();
        ready = true;
    }
    if (customer)
        for (int64_t k = 1; k <= sc->customers; k++) tpch_customer_row(customer, k);
    if (lineitem || orders) {
        int32_t current = tpch_day(1995, 6, 17), last_order_day = tpch_day(1998, 12, 31) - 151;
        tpch_order ord;
        for (int64_t n = 1; n <= sc->orders; n++) {
            tpch_make_order(sc, n, current, last_order_day, &ord);
            if (orders) tpch_order_row(orders, &ord);
            if (lineitem) tpch_lineitem_rows(lineitem, &ord);
        }
    }
}

/* mkdir -p; false (errno set) on failure. */
static bool tpch_mkdirs(const char *path) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return false;
    }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return false;
        buf[i] = c;
    }
    struct stat st;
    if (stat(path, &st) != 0) return false;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return false;
    }
    return true;
}

#ifndef TPCH_GEN_NO_MAIN

static double tpch_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int usage(const char *argv0) {
    fprintf(stderr,
            "usage: %s -s SF -o DIR [-t lineitem,orders,customer]\n"
            "  SF: scale factor, 0 < SF <= 1000 (SF 1: 6M lineitem rows, about 1 GB in all)\n"
            "  without arguments: generate all three tables at SF 0.1 into no file and print the rate\n",
            argv0);
    return 2;
}

/* make bench: the generator's own speed, nothing written. */
static int bench_mode(void) {
    tpch_scale sc = {0, 0, 0, 0, 0, 0};
    if (!tpch_scale_init(0.1, &sc)) return 1;
    tpch_out outs[3];
    for (int i = 0; i < 3; i++)
        if (!tpch_out_open(&outs[i], NULL)) return fprintf(stderr, "tpch_gen: out of memory\n"), 1;
    double t0 = tpch_now();
    tpch_generate(&sc, &outs[0], &outs[1], &outs[2]);
    uint64_t rows = 0, bytes = 0;
    for (int i = 0; i < 3; i++) {
        tpch_out_close(&outs[i]);
        rows += outs[i].rows;
        bytes += outs[i].bytes;
    }
    double sec = tpch_now() - t0;
    printf("BENCH tpch_gen sf=0.1 rows=%llu bytes=%llu seconds=%.3f mb_per_s=%.0f\n", (unsigned long long)rows,
           (unsigned long long)bytes, sec, (double)bytes / 1e6 / sec);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 1) return bench_mode();
    double sf = 0;
    const char *dir = NULL, *tables = "lineitem,orders,customer";
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "-s") == 0) {
            char *end;
            sf = strtod(argv[++i], &end);
            if (*end || end == argv[i]) return usage(argv[0]);
        } else if (i + 1 < argc && strcmp(argv[i], "-o") == 0) {
            dir = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "-t") == 0) {
            tables = argv[++i];
        } else {
            return usage(argv[0]);
        }
    }
    tpch_scale sc = {0, 0, 0, 0, 0, 0};
    if (!dir || !tpch_scale_init(sf, &sc)) return usage(argv[0]);

    static const char *const names[3] = {"lineitem", "orders", "customer"};
    bool want[3] = {false, false, false};
    for (const char *t = tables; *t;) {
        size_t n = strcspn(t, ",");
        int k = 0;
        while (k < 3 && !(strlen(names[k]) == n && strncmp(t, names[k], n) == 0)) k++;
        if (k == 3) {
            fprintf(stderr, "tpch_gen: unknown table '%.*s' (lineitem, orders, customer)\n", (int)n, t);
            return 2;
        }
        want[k] = true;
        t += n + (t[n] == ',');
    }
    if (!tpch_mkdirs(dir)) {
        fprintf(stderr, "tpch_gen: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }

    FILE *files[3] = {NULL, NULL, NULL};
    tpch_out outs[3];
    char paths[3][4200];
    int rc = 0;
    for (int k = 0; k < 3; k++) {
        if (!want[k]) continue;
        snprintf(paths[k], sizeof paths[k], "%s/%s.tbl", dir, names[k]);
        if (!(files[k] = fopen(paths[k], "wb"))) {
            fprintf(stderr, "tpch_gen: cannot write %s: %s\n", paths[k], strerror(errno));
            rc = 1;
        }
    }
    for (int k = 0; k < 3 && rc == 0; k++)
        if (want[k] && !tpch_out_open(&outs[k], files[k])) {
            fprintf(stderr, "tpch_gen: out of memory\n");
            rc = 1;
        }
    double t0 = tpch_now();
    if (rc == 0) tpch_generate(&sc, want[0] ? &outs[0] : NULL, want[1] ? &outs[1] : NULL, want[2] ? &outs[2] : NULL);
    for (int k = 0; k < 3; k++) {
        if (!want[k] || rc != 0) {
            if (files[k]) fclose(files[k]);
            continue;
        }
        bool ok = tpch_out_close(&outs[k]);
        int err = outs[k].err;
        if (fclose(files[k]) != 0 && ok) ok = false, err = errno;
        if (!ok) {
            fprintf(stderr, "tpch_gen: writing %s: %s\n", paths[k], strerror(err));
            rc = 1;
            continue;
        }
        printf("tpch_gen: %s rows=%llu bytes=%llu\n", paths[k], (unsigned long long)outs[k].rows,
               (unsigned long long)outs[k].bytes);
    }
    if (rc == 0) printf("tpch_gen: sf=%g in %.2fs\n", sf, tpch_now() - t0);
    return rc;
}

#endif /* TPCH_GEN_NO_MAIN */
