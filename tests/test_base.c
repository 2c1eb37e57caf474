/* base: status tables, thread-local errors, allocators, failure injection, hashing. */
#include "test.h"

/* ------------------------------------------------------------ status helpers */

static void test_status_names(void) {
    /* Written out by hand (not generated from SPK_STATUS_LIST) so that a change
     * to the list or to the tables is caught. */
    static const struct {
        spk_status s;
        const char *name, *message, *category;
    } expect[] = {
        {SPK_OK, "SPK_OK", "success", ""},
        {SPK_ERR_NOMEM, "SPK_ERR_NOMEM", "out of memory", "OutOfMemoryError"},
        {SPK_ERR_ARG, "SPK_ERR_ARG", "invalid argument", "IllegalArgumentException"},
        {SPK_ERR_PARSE, "SPK_ERR_PARSE", "parse error", "ParseException"},
        {SPK_ERR_NOT_FOUND, "SPK_ERR_NOT_FOUND", "not found", "AnalysisException"},
        {SPK_ERR_AMBIGUOUS, "SPK_ERR_AMBIGUOUS", "ambiguous reference", "AnalysisException"},
        {SPK_ERR_TYPE, "SPK_ERR_TYPE", "type mismatch", "AnalysisException"},
        {SPK_ERR_EXISTS, "SPK_ERR_EXISTS", "already exists", "AnalysisException"},
        {SPK_ERR_SCHEMA, "SPK_ERR_SCHEMA", "schema mismatch", "AnalysisException"},
        {SPK_ERR_NULL, "SPK_ERR_NULL", "null value in non-nullable field", "IllegalArgumentException"},
        {SPK_ERR_RANGE, "SPK_ERR_RANGE", "value out of range", "ArithmeticException"},
        {SPK_ERR_IO, "SPK_ERR_IO", "input/output error", "IOException"},
        {SPK_ERR_CORRUPT, "SPK_ERR_CORRUPT", "corrupt data", "SparkException"},
        {SPK_ERR_VERSION, "SPK_ERR_VERSION", "version mismatch", "SparkException"},
        {SPK_ERR_CONFLICT, "SPK_ERR_CONFLICT", "conflicting concurrent change",
         "ConcurrentModificationException"},
        {SPK_ERR_LIMIT, "SPK_ERR_LIMIT", "limit exceeded", "SparkException"},
        {SPK_ERR_UNSUPPORTED, "SPK_ERR_UNSUPPORTED", "not supported", "UnsupportedOperationException"},
        {SPK_ERR_STATE, "SPK_ERR_STATE", "invalid state", "IllegalStateException"},
        {SPK_ERR_INTERNAL, "SPK_ERR_INTERNAL", "internal error", "SparkException"},
        {SPK_ERR_ANALYSIS, "SPK_ERR_ANALYSIS", "invalid query", "AnalysisException"},
        {SPK_ERR_ASSERTION, "SPK_ERR_ASSERTION", "assertion failed", "PySparkAssertionError"},
    };
    int n = (int)(sizeof expect / sizeof expect[0]);
    CHECK_EQ_INT(n, SPK_STATUS_COUNT);
    for (int i = 0; i < n; i++) {
        CHECK_EQ_INT(expect[i].s, i);
        CHECK_STR(spk_status_name(expect[i].s), expect[i].name);
        CHECK_STR(spk_status_message(expect[i].s), expect[i].message);
        CHECK_STR(spk_status_category(expect[i].s), expect[i].category);
    }
}

static void test_status_out_of_range(void) {
    spk_status bad[] = {SPK_STATUS_COUNT, (spk_status)(SPK_STATUS_COUNT + 1), (spk_status)1000,
                        (spk_status)0x7fffffff};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STR(spk_status_name(bad[i]), "?");
        CHECK_STR(spk_status_message(bad[i]), "?");
        CHECK_STR(spk_status_category(bad[i]), "?");
    }
}

static void test_version(void) {
    CHECK_STR(spk_version(), "0.1.0");
    CHECK_STR(spk_version(), SPARKLESS_VERSION);
    CHECK_EQ_INT(SPARKLESS_VERSION_MAJOR, 0);
    CHECK_EQ_INT(SPARKLESS_VERSION_MINOR, 1);
    CHECK_EQ_INT(SPARKLESS_VERSION_PATCH, 0);
}

/* ------------------------------------------------------------ thread-local errors */

static void test_last_error_lifecycle(void) {
    spk_clear_error();
    CHECK(spk_last_error() != NULL);
    CHECK_STR(spk_last_error(), "");
    CHECK_EQ_INT(spk_last_status(), SPK_OK);

    spk_schema *s = NULL;
    CHECK_STATUS(spk_schema_parse(NULL, "id INT, name strng", &s), SPK_ERR_PARSE);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_PARSE);
    CHECK(strlen(spk_last_error()) > 0);
    CHECK_CONTAINS(spk_last_error(), "strng");
    char saved[SPK_ERROR_MAX];
    snprintf(saved, sizeof saved, "%s", spk_last_error());

    /* A successful call leaves the error alone (like errno). */
    spk_schema *ok = NULL;
    CHECK_OK(spk_schema_parse(NULL, "id INT", &ok));
    CHECK(ok != NULL);
    CHECK_STR(spk_last_error(), saved);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_PARSE);

    /* A later failure replaces it. */
    int idx = 7;
    CHECK_STATUS(spk_schema_lookup(ok, "nosuchcolumn", false, &idx), SPK_ERR_NOT_FOUND);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_NOT_FOUND);
    CHECK_CONTAINS(spk_last_error(), "nosuchcolumn");
    CHECK(strstr(spk_last_error(), "strng") == NULL);
    spk_schema_release(ok);

    spk_clear_error();
    CHECK_STR(spk_last_error(), "");
    CHECK_EQ_INT(spk_last_status(), SPK_OK);
    spk_clear_error(); /* twice is fine */
    CHECK_STR(spk_last_error(), "");
}

static void test_error_truncation(void) {
    /* A 5000-byte column name does not fit in the message. */
    enum { LONG = 5000 };
    char *name = (char *)malloc(LONG + 1);
    CHECK(name != NULL);
    if (!name) return;
    memset(name, 'q', LONG);
    name[LONG] = '\0';

    spk_schema *s = NULL;
    CHECK_OK(spk_schema_parse(NULL, "value INT, name STRING", &s));
    int idx = -5;
    spk_clear_error();
    CHECK_STATUS(spk_schema_lookup(s, name, false, &idx), SPK_ERR_NOT_FOUND);
    const char *msg = spk_last_error();
    size_t len = strlen(msg);
    CHECK(len <= SPK_ERROR_MAX - 1);
    CHECK(len >= SPK_ERROR_MAX - 8); /* cut near the limit, not much earlier */
    CHECK(len >= 3 && strcmp(msg + len - 3, "...") == 0);
    CHECK_CONTAINS(msg, "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq");
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_NOT_FOUND);

    /* A short message afterwards is not marked as cut. */
    CHECK_STATUS(spk_schema_lookup(s, "valeu", false, &idx), SPK_ERR_NOT_FOUND);
    msg = spk_last_error();
    len = strlen(msg);
    CHECK(len < 200);
    CHECK(len >= 3 && strcmp(msg + len - 3, "...") != 0);
    spk_schema_release(s);
    free(name);
}

/* ------------------------------------------------------------ allocators */

static void test_default_allocator(void) {
    const spk_allocator *a = spk_default_allocator();
    CHECK(a != NULL);
    if (!a) return;
    CHECK(a->alloc != NULL && a->realloc != NULL && a->free != NULL);
    CHECK(spk_default_allocator() == a);
    unsigned char *p = (unsigned char *)a->alloc(a->user, 100);
    CHECK(p != NULL);
    if (!p) return;
    for (int i = 0; i < 100; i++) p[i] = (unsigned char)(i * 7);
    unsigned char *q = (unsigned char *)a->realloc(a->user, p, 100, 100000);
    CHECK(q != NULL);
    if (!q) {
        a->free(a->user, p, 100);
        return;
    }
    int same = 1;
    for (int i = 0; i < 100; i++) same &= q[i] == (unsigned char)(i * 7);
    CHECK(same);
    q[99999] = 1;
    q = (unsigned char *)a->realloc(a->user, q, 100000, 10);
    CHECK(q != NULL);
    if (q) {
        CHECK_EQ_INT(q[9], 63);
        a->free(a->user, q, 10);
    }
}

/* Kept blocks: a freed large block is handed to the next request of about its size. */
static void test_kept_blocks_reused(void) {
    const spk_allocator *a = spk_default_allocator();
    size_t old = spk_memory_set_retention((size_t)64 << 20);
    spk_memory_release();
    CHECK_EQ_INT((long long)spk_memory_retained(), 0);
    size_t mib = (size_t)1 << 20;
    unsigned char *p = (unsigned char *)a->alloc(a->user, mib);
    CHECK(p != NULL);
    if (!p) return;
    memset(p, 0xab, mib);
    a->free(a->user, p, mib);
    size_t kept = spk_memory_retained();
    CHECK(kept >= mib && kept <= mib + mib / 8 + 64);
    unsigned char *q = (unsigned char *)a->alloc(a->user, mib);
    CHECK(q == p); /* the same block back */
    CHECK_EQ_INT((long long)spk_memory_retained(), 0);
    if (q) a->free(a->user, q, mib);
    /* a request up to eight classes (about half) smaller takes it too */
    q = (unsigned char *)a->alloc(a->user, mib / 2 + 4096);
    CHECK(q == p);
    if (q) {
        memset(q, 1, mib / 2 + 4096);
        a->free(a->user, q, mib / 2 + 4096);
    }
    /* back in its own class, not the smaller one: a full MiB request still finds it */
    q = (unsigned char *)a->alloc(a->user, mib);
    CHECK(q == p);
    if (q) a->free(a->user, q, mib);
    /* nothing smaller than 256 KiB is kept */
    void *small = a->alloc(a->user, 1000);
    CHECK(small != NULL);
    if (small) a->free(a->user, small, 1000);
    CHECK_EQ_INT((long long)spk_memory_retained(), (long long)kept);
    CHECK_EQ_INT((long long)spk_memory_release(), (long long)kept);
    CHECK_EQ_INT((long long)spk_memory_retained(), 0);
    spk_memory_set_retention(old);
}

/* The limit bounds what is kept; a request that finds nothing frees what is kept first. */
static void test_kept_blocks_bounded(void) {
    const spk_allocator *a = spk_default_allocator();
    size_t mib = (size_t)1 << 20, old = spk_memory_set_retention(2 * mib);
    spk_memory_release();
    void *b[3];
    for (int i = 0; i < 3; i++) CHECK((b[i] = a->alloc(a->user, mib)) != NULL);
    for (int i = 0; i < 3; i++)
        if (b[i]) a->free(a->user, b[i], mib);
    size_t kept = spk_memory_retained();
    CHECK(kept >= mib && kept <= 2 * mib); /* a MiB block takes a class of 1.125 MiB: one fits */
    CHECK_EQ_INT((long long)spk_memory_set_retention(0), (long long)(2 * mib));
    CHECK_EQ_INT((long long)spk_memory_retained(), 0);
    void *p = a->alloc(a->user, mib);
    CHECK(p != NULL);
    if (p) a->free(a->user, p, mib);
    CHECK_EQ_INT((long long)spk_memory_retained(), 0); /* a limit of 0 keeps nothing */
    spk_memory_set_retention(64 * mib);
    p = a->alloc(a->user, mib);
    if (p) a->free(a->user, p, mib);
    CHECK(spk_memory_retained() >= mib);
    p = a->alloc(a->user, 8 * mib); /* no kept block of its size: the kept one is freed first */
    CHECK(p != NULL);
    CHECK_EQ_INT((long long)spk_memory_retained(), 0);
    if (p) a->free(a->user, p, 8 * mib);
    CHECK(spk_memory_retained() >= 8 * mib);
    spk_memory_release();
    spk_memory_set_retention(old);
}

static bool bytes_are(const unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(i * 31 + seed)) return false;
    return true;
}
static void fill_bytes(unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(i * 31 + seed);
}

/* realloc keeps the bytes across every move: small to large, large to larger (into a kept block and
 * not), shrinking in place and by half, large to small. */
static void test_kept_blocks_realloc(void) {
    const spk_allocator *a = spk_default_allocator();
    size_t old = spk_memory_set_retention((size_t)64 << 20);
    spk_memory_release();
    static const size_t sizes[] = {100, 300 * 1024, 310 * 1024, 5000 * 1024, 4000 * 1024, 1000 * 1024, 200 * 1024, 5, 0};
    for (int kept_first = 0; kept_first < 2; kept_first++) {
        if (kept_first) { /* blocks of every size to come, kept */
            for (int i = 1; sizes[i]; i++) {
                void *k = a->alloc(a->user, sizes[i] * 2);
                if (k) a->free(a->user, k, sizes[i] * 2);
            }
        }
        size_t n = sizes[0];
        unsigned char *p = (unsigned char *)a->alloc(a->user, n);
        CHECK(p != NULL);
        if (!p) return;
        fill_bytes(p, n, 7);
        for (int i = 1; sizes[i]; i++) {
            size_t m = sizes[i];
            unsigned char *q = (unsigned char *)a->realloc(a->user, p, n, m);
            CHECK(q != NULL);
            if (!q) {
                a->free(a->user, p, n);
                return;
            }
            CHECK(bytes_are(q, n < m ? n : m, 7));
            fill_bytes(q, m, 7);
            p = q;
            n = m;
        }
        a->free(a->user, p, n);
    }
    spk_memory_release();
    spk_memory_set_retention(old);
}

static void test_failalloc_fail_at(void) {
    spk_failalloc f;
    spk_failalloc_init(&f, NULL, 3);
    CHECK_EQ_INT(f.calls, 0);
    CHECK_EQ_INT(f.failures, 0);
    CHECK_EQ_INT(f.live_blocks, 0);
    CHECK_EQ_INT(f.live_bytes, 0);
    CHECK_EQ_INT(f.fail_at, 3);
    CHECK(!f.fail_after);
    CHECK(f.iface.alloc && f.iface.realloc && f.iface.free);

    void *p[5];
    size_t sz[5] = {10, 20, 30, 40, 50};
    for (int i = 0; i < 5; i++) p[i] = f.iface.alloc(f.iface.user, sz[i]);
    CHECK(p[0] != NULL);
    CHECK(p[1] != NULL);
    CHECK(p[2] == NULL); /* the third allocation fails */
    CHECK(p[3] != NULL);
    CHECK(p[4] != NULL);
    CHECK_EQ_INT(f.calls, 5);
    CHECK_EQ_INT(f.failures, 1);
    CHECK_EQ_INT(f.live_blocks, 4);
    CHECK_EQ_INT(f.live_bytes, 10 + 20 + 40 + 50);

    /* Growing realloc counts as an attempt; shrinking does not. */
    void *g = f.iface.realloc(f.iface.user, p[0], 10, 1000);
    CHECK(g != NULL);
    if (g) p[0] = g;
    CHECK_EQ_INT(f.calls, 6);
    CHECK_EQ_INT(f.live_blocks, 4);
    CHECK_EQ_INT(f.live_bytes, 1000 + 20 + 40 + 50);
    g = f.iface.realloc(f.iface.user, p[0], 1000, 5);
    CHECK(g != NULL);
    if (g) p[0] = g;
    CHECK_EQ_INT(f.calls, 6);
    CHECK_EQ_INT(f.live_bytes, 5 + 20 + 40 + 50);
    sz[0] = 5;

    for (int i = 0; i < 5; i++)
        if (p[i]) f.iface.free(f.iface.user, p[i], sz[i]);
    CHECK_EQ_INT(f.live_blocks, 0);
    CHECK_EQ_INT(f.live_bytes, 0);
    CHECK_EQ_INT(f.failures, 1);
}

static void test_failalloc_fail_after(void) {
    spk_failalloc f;
    spk_failalloc_init(&f, NULL, 2);
    f.fail_after = true;
    void *a = f.iface.alloc(f.iface.user, 8);
    void *b = f.iface.alloc(f.iface.user, 8);
    void *c = f.iface.alloc(f.iface.user, 8);
    CHECK(a != NULL);
    CHECK(b == NULL);
    CHECK(c == NULL);
    /* A growing realloc after the failure point fails too and keeps the block. */
    void *g = f.iface.realloc(f.iface.user, a, 8, 64);
    CHECK(g == NULL);
    CHECK_EQ_INT(f.calls, 4);
    CHECK_EQ_INT(f.failures, 3);
    CHECK_EQ_INT(f.live_blocks, 1);
    CHECK_EQ_INT(f.live_bytes, 8);
    if (a) {
        memset(a, 0x5a, 8); /* still ours */
        f.iface.free(f.iface.user, a, 8);
    }
    CHECK_EQ_INT(f.live_blocks, 0);
    CHECK_EQ_INT(f.live_bytes, 0);

    /* fail_at = 0: nothing ever fails. */
    spk_failalloc z;
    spk_failalloc_init(&z, NULL, 0);
    z.fail_after = true;
    void *ps[50];
    int nulls = 0;
    for (int i = 0; i < 50; i++) nulls += (ps[i] = z.iface.alloc(z.iface.user, (size_t)i + 1)) == NULL;
    CHECK_EQ_INT(nulls, 0);
    CHECK_EQ_INT(z.calls, 50);
    CHECK_EQ_INT(z.failures, 0);
    CHECK_EQ_INT(z.live_blocks, 50);
    CHECK_EQ_INT(z.live_bytes, 50 * 51 / 2);
    for (int i = 0; i < 50; i++)
        if (ps[i]) z.iface.free(z.iface.user, ps[i], (size_t)i + 1);
    CHECK_EQ_INT(z.live_blocks, 0);
    CHECK_EQ_INT(z.live_bytes, 0);
}

/* A base allocator that counts what reaches it, to see failalloc forward. */
static long counting_allocs, counting_frees;
static void *counting_alloc(void *u, size_t n) {
    (void)u;
    counting_allocs++;
    return malloc(n);
}
static void *counting_realloc(void *u, void *p, size_t o, size_t n) {
    (void)u;
    (void)o;
    return realloc(p, n);
}
static void counting_free(void *u, void *p, size_t n) {
    (void)u;
    (void)n;
    counting_frees++;
    free(p);
}

static void test_failalloc_forwards_to_base(void) {
    spk_allocator base = {counting_alloc, counting_realloc, counting_free, NULL};
    spk_failalloc f;
    spk_failalloc_init(&f, &base, 0);
    CHECK(f.base == &base);
    counting_allocs = counting_frees = 0;
    void *p = f.iface.alloc(f.iface.user, 16);
    CHECK(p != NULL);
    CHECK_EQ_INT(counting_allocs, 1);
    if (p) f.iface.free(f.iface.user, p, 16);
    CHECK_EQ_INT(counting_frees, 1);

    /* A refused allocation never reaches the base. */
    spk_failalloc_init(&f, &base, 1);
    counting_allocs = 0;
    CHECK(f.iface.alloc(f.iface.user, 16) == NULL);
    CHECK_EQ_INT(counting_allocs, 0);

    /* NULL base is the default allocator. */
    spk_failalloc_init(&f, NULL, 0);
    CHECK(f.base == spk_default_allocator());
}

static void test_failalloc_with_library(void) {
    spk_failalloc f;
    spk_failalloc_init(&f, NULL, 0);
    spk_schema *s = NULL;
    CHECK_OK(spk_schema_parse(&f.iface, "id BIGINT NOT NULL, name STRING", &s));
    CHECK(f.calls > 0);
    CHECK(f.live_blocks > 0);
    CHECK(f.live_bytes > 0);
    spk_schema_release(s);
    CHECK_EQ_INT(f.live_blocks, 0);
    CHECK_EQ_INT(f.live_bytes, 0);

    /* The first allocation refused: the library reports NOMEM and leaks nothing. */
    spk_failalloc_init(&f, NULL, 1);
    s = NULL;
    CHECK_STATUS(spk_schema_parse(&f.iface, "id BIGINT NOT NULL, name STRING", &s), SPK_ERR_NOMEM);
    CHECK_EQ_INT(spk_last_status(), SPK_ERR_NOMEM);
    CHECK_EQ_INT(f.failures, 1);
    CHECK_EQ_INT(f.live_blocks, 0);
    CHECK_EQ_INT(f.live_bytes, 0);
}

/* ------------------------------------------------------------ hashing */

static int popcount64(uint64_t x) {
    int n = 0;
    while (x) {
        x &= x - 1;
        n++;
    }
    return n;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_hash_bytes_deterministic(void) {
    const char *s = "the quick brown fox jumps over the lazy dog";
    size_t n = strlen(s);
    uint64_t h1 = spk_hash_bytes(s, n, 0), h2 = spk_hash_bytes(s, n, 0);
    CHECK(h1 == h2);
    /* Same bytes at another (unaligned) address. */
    char buf[128];
    memcpy(buf + 3, s, n);
    CHECK(spk_hash_bytes(buf + 3, n, 0) == h1);
    /* Seeds change the output. */
    CHECK(spk_hash_bytes(s, n, 1) != h1);
    CHECK(spk_hash_bytes(s, n, 1) != spk_hash_bytes(s, n, 2));
    CHECK(spk_hash_bytes(s, n, 0x8000000000000000ULL) != h1);
    CHECK(spk_hash_bytes("", 0, 0) != spk_hash_bytes("", 0, 1));
    /* A one-byte change anywhere changes it. */
    for (size_t i = 0; i < n; i++) {
        memcpy(buf, s, n);
        buf[i] ^= 1;
        CHECK(spk_hash_bytes(buf, n, 0) != h1);
    }
}

static void test_hash_bytes_lengths(void) {
    /* Prefixes of a zero buffer and of an 'a' buffer, lengths 0..64: all differ. */
    unsigned char zeros[64] = {0}, as[64];
    memset(as, 'a', sizeof as);
    uint64_t h[129];
    int k = 0;
    for (size_t len = 0; len <= 64; len++) h[k++] = spk_hash_bytes(zeros, len, 0);
    for (size_t len = 1; len <= 64; len++) h[k++] = spk_hash_bytes(as, len, 0); /* "" counted once */
    qsort(h, (size_t)k, sizeof h[0], cmp_u64);
    int dup = 0;
    for (int i = 1; i < k; i++) dup += h[i] == h[i - 1];
    CHECK_EQ_INT(dup, 0);
    CHECK(spk_hash_bytes(zeros, 0, 0) == spk_hash_bytes(as, 0, 0));
}

static void test_hash_bytes_avalanche(void) {
    /* Flipping any one input bit flips about half the output bits. */
    unsigned char key[24];
    long total = 0, samples = 0;
    int worst = 64;
    for (int r = 0; r < 200; r++) {
        for (size_t i = 0; i < sizeof key; i++) key[i] = (unsigned char)(spk_hash_u64((uint64_t)(r * 31 + (int)i)) >> 13);
        for (size_t len = 1; len <= sizeof key; len += 7) {
            uint64_t base = spk_hash_bytes(key, len, 42);
            for (size_t bit = 0; bit < len * 8; bit++) {
                key[bit / 8] ^= (unsigned char)(1u << (bit % 8));
                int d = popcount64(base ^ spk_hash_bytes(key, len, 42));
                key[bit / 8] ^= (unsigned char)(1u << (bit % 8));
                total += d;
                samples++;
                if (d < worst) worst = d;
            }
        }
    }
    double mean = (double)total / (double)samples;
    CHECK(mean > 30.0 && mean < 34.0);
    CHECK(worst >= 8);
}

static void test_hash_bytes_buckets(void) {
    /* 100k small keys into 2^20 buckets, low and high bits. For a random
     * function about 4620 keys land in an already used bucket (sd ~ 65). */
    enum { N = 100000, BITS = 20 };
    unsigned char *lo = (unsigned char *)calloc((size_t)1 << BITS, 1);
    unsigned char *hi = (unsigned char *)calloc((size_t)1 << BITS, 1);
    uint64_t *all = (uint64_t *)malloc(N * sizeof(uint64_t));
    CHECK(lo && hi && all);
    if (lo && hi && all) {
        long clo = 0, chi = 0;
        for (int i = 0; i < N; i++) {
            char key[16];
            int len = snprintf(key, sizeof key, "k%d", i);
            uint64_t h = spk_hash_bytes(key, (size_t)len, 0);
            all[i] = h;
            size_t a = (size_t)(h & (((uint64_t)1 << BITS) - 1)), b = (size_t)(h >> (64 - BITS));
            clo += lo[a]++ != 0;
            chi += hi[b]++ != 0;
        }
        CHECK(clo > 4000 && clo < 5300);
        CHECK(chi > 4000 && chi < 5300);
        qsort(all, N, sizeof all[0], cmp_u64);
        int dup = 0;
        for (int i = 1; i < N; i++) dup += all[i] == all[i - 1];
        CHECK_EQ_INT(dup, 0);

        /* The same with 4-byte binary keys 0..N-1. */
        memset(lo, 0, (size_t)1 << BITS);
        clo = 0;
        for (uint32_t i = 0; i < N; i++) {
            uint64_t h = spk_hash_bytes(&i, sizeof i, 7);
            clo += lo[h & (((uint64_t)1 << BITS) - 1)]++ != 0;
        }
        CHECK(clo > 4000 && clo < 5300);
    }
    free(lo);
    free(hi);
    free(all);
}

static void test_hash_u64(void) {
    CHECK(spk_hash_u64(12345) == spk_hash_u64(12345));
    CHECK(spk_hash_u64(1) != spk_hash_u64(2));
    CHECK(spk_hash_u64(1) != 1);
    CHECK(spk_hash_u64(0x8000000000000000ULL) != spk_hash_u64(0));
    /* Sequential inputs spread over the low and the high bits. */
    enum { N = 100000, BITS = 20 };
    unsigned char *lo = (unsigned char *)calloc((size_t)1 << BITS, 1);
    unsigned char *hi = (unsigned char *)calloc((size_t)1 << BITS, 1);
    CHECK(lo && hi);
    if (lo && hi) {
        long clo = 0, chi = 0;
        for (uint64_t i = 0; i < N; i++) {
            uint64_t h = spk_hash_u64(i << 12); /* low input bits all zero */
            clo += lo[h & (((uint64_t)1 << BITS) - 1)]++ != 0;
            chi += hi[h >> (64 - BITS)]++ != 0;
        }
        CHECK(clo > 4000 && clo < 5300);
        CHECK(chi > 4000 && chi < 5300);
    }
    free(lo);
    free(hi);
    /* Avalanche: one input bit flips about half the output bits. */
    long total = 0, samples = 0;
    for (uint64_t x = 1; x < 2000; x++) {
        uint64_t v = spk_hash_u64(x * 0x9e3779b97f4a7c15ULL);
        for (int b = 0; b < 64; b++) {
            total += popcount64(v ^ spk_hash_u64((x * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)1 << b)));
            samples++;
        }
    }
    double mean = (double)total / (double)samples;
    CHECK(mean > 31.0 && mean < 33.0);
}

int main(void) {
    RUN(test_status_names);
    RUN(test_status_out_of_range);
    RUN(test_version);
    RUN(test_last_error_lifecycle);
    RUN(test_error_truncation);
    RUN(test_default_allocator);
    RUN(test_kept_blocks_reused);
    RUN(test_kept_blocks_bounded);
    RUN(test_kept_blocks_realloc);
    RUN(test_failalloc_fail_at);
    RUN(test_failalloc_fail_after);
    RUN(test_failalloc_forwards_to_base);
    RUN(test_failalloc_with_library);
    RUN(test_hash_bytes_deterministic);
    RUN(test_hash_bytes_lengths);
    RUN(test_hash_bytes_avalanche);
    RUN(test_hash_bytes_buckets);
    RUN(test_hash_u64);
    return TEST_REPORT();
}
