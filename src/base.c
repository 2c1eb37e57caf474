/* base: implementation prelude, status tables, thread-local errors,
 * allocators, hashing, and the small string helpers every module uses. */
#include "base.h"

#if !defined(__STDC_VERSION__) || __STDC_VERSION__ < 201112L
#error "sparkless.h: the implementation needs a C11 compiler (-std=c11 or later)"
#endif
#if defined(__STDC_NO_THREADS__)
#error "sparkless.h: the implementation needs C11 <threads.h>, which this compiler/libc lacks (glibc >= 2.28, musl, or MSVC 17.8+ provide it)"
#endif
#if defined(__STDC_NO_ATOMICS__)
#error "sparkless.h: the implementation needs C11 <stdatomic.h>, which this compiler lacks"
#endif

#include <threads.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <math.h>

#if defined(SPK_MALLOC) && defined(SPK_REALLOC) && defined(SPK_FREE)
/* user-supplied */
#elif !defined(SPK_MALLOC) && !defined(SPK_REALLOC) && !defined(SPK_FREE)
#define SPK_MALLOC(size) malloc(size)
#define SPK_REALLOC(ptr, size) realloc((ptr), (size))
#define SPK_FREE(ptr) free(ptr)
#else
#error "sparkless.h: define all of SPK_MALLOC, SPK_REALLOC and SPK_FREE, or none"
#endif

#ifndef SPK_ASSERT
#include <assert.h>
#define SPK_ASSERT(cond) assert(cond)
#endif

/* ---------------------------------------------------------------- status */

static const struct {
    const char *name, *category, *message;
} spk__status_info[] = {
#define SPK__STATUS_INFO(code, category, message) {#code, category, message},
    SPK_STATUS_LIST(SPK__STATUS_INFO)
#undef SPK__STATUS_INFO
};

SPKDEF const char *spk_status_name(spk_status s) {
    return (unsigned)s < SPK_STATUS_COUNT ? spk__status_info[s].name : "?";
}
SPKDEF const char *spk_status_message(spk_status s) {
    return (unsigned)s < SPK_STATUS_COUNT ? spk__status_info[s].message : "?";
}
SPKDEF const char *spk_status_category(spk_status s) {
    return (unsigned)s < SPK_STATUS_COUNT ? spk__status_info[s].category : "?";
}

SPKDEF const char *spk_version(void) { return SPARKLESS_VERSION; }

/* ---------------------------------------------------------------- errors
 * The detailed message lives in thread-local storage, so concurrent callers
 * never see each other's errors and no lock is needed. */

static _Thread_local char spk__error_text[SPK_ERROR_MAX];
static _Thread_local spk_status spk__error_status;
static _Thread_local unsigned long spk__error_count; /* failures recorded on this thread */

SPKDEF const char *spk_last_error(void) { return spk__error_text; }
SPKDEF spk_status spk_last_status(void) { return spk__error_status; }
SPKDEF void spk_clear_error(void) {
    spk__error_text[0] = '\0';
    spk__error_status = SPK_OK;
}

static void spk__mark_truncated(char *buf, size_t cap, int written) {
    if (written >= 0 && (size_t)written >= cap && cap >= 4) memcpy(buf + cap - 4, "...", 4);
}

#if defined(__GNUC__) || defined(__clang__)
#define SPK__PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#define SPK__PREFETCH(addr) __builtin_prefetch(addr)
/* for a small function in a hot loop of a function so large that the compiler stops inlining in it */
#define SPK__ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define SPK__PRINTF(fmt_index, first_arg)
#define SPK__PREFETCH(addr) ((void)(addr))
#define SPK__ALWAYS_INLINE inline
#endif

/* Records `status` with a formatted message for this thread and returns it,
 * so that failures read `return spk__fail(SPK_ERR_X, "...", ...);`. */
static spk_status spk__fail(spk_status status, const char *fmt, ...) SPK__PRINTF(2, 3);
static spk_status spk__fail(spk_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(spk__error_text, sizeof spk__error_text, fmt, ap);
    va_end(ap);
    spk__mark_truncated(spk__error_text, sizeof spk__error_text, n);
    spk__error_status = status;
    spk__error_count++;
    return status;
}

/* Appends to this thread's message (after spk__fail), e.g. a location. */
static void spk__fail_append(const char *fmt, ...) SPK__PRINTF(1, 2);
static void spk__fail_append(const char *fmt, ...) {
    size_t used = strlen(spk__error_text);
    if (used + 1 >= sizeof spk__error_text) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(spk__error_text + used, sizeof spk__error_text - used, fmt, ap);
    va_end(ap);
    spk__mark_truncated(spk__error_text, sizeof spk__error_text, n < 0 ? n : (int)used + n);
}

/* Prefixes this thread's message, e.g. "line 3, column 2: " before a value error. */
static void spk__fail_prefix(const char *fmt, ...) SPK__PRINTF(1, 2);
static void spk__fail_prefix(const char *fmt, ...) {
    char prefix[256], rest[SPK_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(rest, spk__error_text, sizeof rest);
    int n = snprintf(spk__error_text, sizeof spk__error_text, "%s%s", prefix, rest);
    spk__mark_truncated(spk__error_text, sizeof spk__error_text, n);
}

/* Appends Spark's "== SQL ==" excerpt of `text` with a caret under byte
 * offset `pos` (only the line holding pos), and the line and column. Very
 * long lines are shown as a window around the position, marked with "...". */
static void spk__fail_caret(const char *text, size_t pos) {
    size_t len = strlen(text), line_start = 0, line_no = 1;
    if (pos > len) pos = len;
    for (size_t i = 0; i < pos; i++)
        if (text[i] == '\n') { line_start = i + 1; line_no++; }
    size_t line_end = line_start;
    while (line_end < len && text[line_end] != '\n') line_end++;
    size_t col = pos - line_start;
    size_t from = line_start, to = line_end;
    if (col > 300) from = pos - 200;
    if (to - pos > 300) to = pos + 200;
    const char *head = from > line_start ? "..." : "", *tail = to < line_end ? "..." : "";
    spk__fail_append(" (line %zu, pos %zu)\n\n== SQL ==\n%s%.*s%s\n", line_no, col, head,
                     (int)(to - from), text + from, tail);
    size_t dashes = strlen(head) + (pos - from);
    for (size_t i = 0; i < dashes; i += 64) {
        static const char run[] = "----------------------------------------------------------------";
        size_t n = dashes - i < 64 ? dashes - i : 64;
        spk__fail_append("%.*s", (int)n, run);
    }
    spk__fail_append("^");
}

/* ---------------------------------------------------------------- allocators */

/* The default allocator keeps large blocks for reuse. Fresh pages cost the
 * kernel a fault each when first written: a load of TPC-H lineitem faults
 * in about 900 MB, which took as much CPU as a third of its parsing, and
 * glibc gives a block larger than its mmap threshold back to the system
 * when it is freed, so the next load faulted all of it in again. So a block
 * of SPK__KEEP_MIN bytes or more carries a header naming its size class
 * (eight a doubling, 2^(k-1) < bytes <= 2^k rounded up to 2^(k-4)); freed,
 * it is kept, up to the retention limit, and a later request of its class
 * or of up to eight classes below takes it. A request that finds nothing
 * kept first frees kept blocks of at least its size, so that blocks kept
 * and blocks in use never hold more than the most the process had in use
 * (what a fault-free reuse needs). Smaller blocks go straight to
 * SPK_MALLOC. A growing realloc of a large block takes a kept block and
 * copies when there is one (a copy costs less than faulting the pages in);
 * otherwise, and when shrinking below half, it is SPK_REALLOC's.
 *
 * Sizes are passed back exactly (the allocator contract), which is what
 * tells a large block from a small one. Builds with AddressSanitizer, or
 * with SPK_CHECK_ALLOC_SIZES defined, give every block the header and check
 * the size on free and realloc; kept blocks are poisoned there. */
#define SPK__KEEP_MIN ((size_t)256 << 10)
#define SPK__KEEP_LOG_MIN 19 /* the class of a block of just over 2^18 bytes (SPK__KEEP_MIN plus the header) */
#define SPK__KEEP_CLASSES 240
#define SPK__BLOCK_MAGIC 0x73706b626c6f636bull
#ifndef SPK_RETAIN_BYTES
#define SPK_RETAIN_BYTES ((size_t)2 << 30)
#endif

#if defined(__SANITIZE_ADDRESS__)
#define SPK__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SPK__ASAN 1
#endif
#endif
#ifdef SPK__ASAN
void __asan_poison_memory_region(void const volatile *addr, size_t size);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#define SPK__POISON(p, n) __asan_poison_memory_region((p), (n))
#define SPK__UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
#else
#define SPK__POISON(p, n) ((void)0)
#define SPK__UNPOISON(p, n) ((void)0)
#endif
#if defined(SPK__ASAN) || defined(SPK_CHECK_ALLOC_SIZES)
#define SPK__CHECK_SIZES 1
#else
#define SPK__CHECK_SIZES 0
#endif

/* In front of a large block (of every block when sizes are checked); its
 * size keeps the block's bytes aligned as malloc's are. */
typedef union spk__block_head {
    struct {
        size_t size;                  /* bytes asked for */
        size_t class_bytes;           /* the whole block's bytes, header included; 0: a small block */
        union spk__block_head *next;  /* while kept */
        uint64_t magic;
    } h;
    max_align_t align;
    char bytes[32];
} spk__block_head;

static struct {
    atomic_flag lock; /* held for a few instructions only: never around a call out */
    size_t kept, limit;
    spk__block_head *bins[SPK__KEEP_CLASSES];
} spk__keep = {ATOMIC_FLAG_INIT, 0, SPK_RETAIN_BYTES, {NULL}};

static void spk__keep_lock(void) {
    while (atomic_flag_test_and_set_explicit(&spk__keep.lock, memory_order_acquire)) {
    }
}
static void spk__keep_unlock(void) { atomic_flag_clear_explicit(&spk__keep.lock, memory_order_release); }

/* The class of a block of `bytes` (header included, more than 2^18) and
 * its rounded size; a class >= SPK__KEEP_CLASSES is never kept. */
static int spk__keep_class(size_t bytes, size_t *class_bytes) {
    int k = 0;
    for (size_t b = bytes - 1; b; b >>= 1) k++; /* 2^(k-1) < bytes <= 2^k */
    size_t step = (size_t)1 << (k - 4), rounded = (bytes + step - 1) & ~(step - 1);
    *class_bytes = rounded;
    return (k - SPK__KEEP_LOG_MIN) * 8 + (int)(rounded >> (k - 4)) - 9;
}

static void spk__free_blocks(spk__block_head *list) {
    while (list) {
        spk__block_head *next = list->h.next;
        SPK__UNPOISON(list + 1, list->h.class_bytes - sizeof *list);
        SPK_FREE(list);
        list = next;
    }
}

/* A kept block of class c or up to eight above; with none, kept blocks of
 * at least `room` bytes are freed (so that what is asked for next fits in
 * what the process held), smallest first and none of more than about four
 * times `room` (a large block is worth more kept than a small request
 * costs), and NULL returned. */
static spk__block_head *spk__keep_take(int c, size_t room) {
    spk__block_head *h = NULL, *evicted = NULL;
    spk__keep_lock();
    for (int i = c; i < c + 9 && i < SPK__KEEP_CLASSES && !h; i++)
        if ((h = spk__keep.bins[i]) != NULL) {
            spk__keep.bins[i] = h->h.next;
            spk__keep.kept -= h->h.class_bytes;
        }
    for (int i = 0; !h && room && spk__keep.kept && i < c + 16 && i < SPK__KEEP_CLASSES; i++)
        while (room && spk__keep.bins[i]) {
            spk__block_head *e = spk__keep.bins[i];
            spk__keep.bins[i] = e->h.next;
            spk__keep.kept -= e->h.class_bytes;
            room = room > e->h.class_bytes ? room - e->h.class_bytes : 0;
            e->h.next = evicted;
            evicted = e;
        }
    spk__keep_unlock();
    spk__free_blocks(evicted);
    if (h) SPK__UNPOISON(h + 1, h->h.class_bytes - sizeof *h);
    return h;
}

/* Keeps a large block, or frees it past the limit. */
static void spk__keep_put(spk__block_head *h) {
    size_t ignored;
    int c = spk__keep_class(h->h.class_bytes, &ignored);
    bool kept = false;
    SPK__POISON(h + 1, h->h.class_bytes - sizeof *h); /* before another thread can take it */
    spk__keep_lock();
    if (c < SPK__KEEP_CLASSES && spk__keep.kept <= spk__keep.limit &&
        spk__keep.limit - spk__keep.kept >= h->h.class_bytes) {
        h->h.next = spk__keep.bins[c];
        spk__keep.bins[c] = h;
        spk__keep.kept += h->h.class_bytes;
        kept = true;
    }
    spk__keep_unlock();
    if (!kept) {
        SPK__UNPOISON(h + 1, h->h.class_bytes - sizeof *h);
        SPK_FREE(h);
    }
}

/* A block of `size` bytes (SPK__KEEP_MIN or more): kept, or new. */
static void *spk__large_alloc(size_t size) {
    if (size > SIZE_MAX / 2) return NULL;
    size_t bytes;
    int c = spk__keep_class(size + sizeof(spk__block_head), &bytes);
    spk__block_head *h = spk__keep_take(c, bytes);
    if (!h) {
        if (!(h = (spk__block_head *)SPK_MALLOC(bytes))) return NULL;
        h->h.class_bytes = bytes;
        h->h.magic = SPK__BLOCK_MAGIC;
    }
    h->h.size = size;
    return h + 1;
}

/* The header of a block being freed or reallocated, checked; NULL for a
 * small block without one. */
static spk__block_head *spk__block_of(void *ptr, size_t size) {
    if (!SPK__CHECK_SIZES && size < SPK__KEEP_MIN) return NULL;
    spk__block_head *h = (spk__block_head *)ptr - 1;
    SPK_ASSERT(h->h.magic == SPK__BLOCK_MAGIC);
    SPK_ASSERT(h->h.size == size);
    return h;
}

static void *spk__small_alloc(size_t size) {
    if (!SPK__CHECK_SIZES) return SPK_MALLOC(size);
    if (size > SIZE_MAX / 2) return NULL;
    spk__block_head *h = (spk__block_head *)SPK_MALLOC(size + sizeof *h);
    if (!h) return NULL;
    h->h.size = size;
    h->h.class_bytes = 0;
    h->h.magic = SPK__BLOCK_MAGIC;
    return h + 1;
}

static void *spk__default_alloc(void *user, size_t size) {
    (void)user;
    return size < SPK__KEEP_MIN ? spk__small_alloc(size) : spk__large_alloc(size);
}

static void spk__default_free(void *user, void *ptr, size_t size) {
    (void)user;
    spk__block_head *h = spk__block_of(ptr, size);
    if (!h) SPK_FREE(ptr);
    else if (!h->h.class_bytes) SPK_FREE(h);
    else spk__keep_put(h);
}

static void *spk__default_realloc(void *user, void *ptr, size_t old_size, size_t new_size) {
    (void)user;
    spk__block_head *h = spk__block_of(ptr, old_size);
    if (!h && new_size < SPK__KEEP_MIN) return SPK_REALLOC(ptr, new_size);
    if (h && !h->h.class_bytes && new_size < SPK__KEEP_MIN) { /* small and checked */
        if (new_size > SIZE_MAX / 2 || !(h = (spk__block_head *)SPK_REALLOC(h, new_size + sizeof *h))) return NULL;
        h->h.size = new_size;
        return h + 1;
    }
    if (h && h->h.class_bytes && new_size >= SPK__KEEP_MIN) {
        if (new_size > SIZE_MAX / 2) return NULL;
        size_t bytes;
        int c = spk__keep_class(new_size + sizeof *h, &bytes);
        if (bytes <= h->h.class_bytes) {
            spk__block_head *g = bytes * 2 <= h->h.class_bytes ? (spk__block_head *)SPK_REALLOC(h, bytes) : NULL;
            if (g) (h = g)->h.class_bytes = bytes; /* a failed shrink keeps the block as it was */
            h->h.size = new_size;
            return h + 1;
        }
        spk__block_head *g = spk__keep_take(c, bytes - h->h.class_bytes);
        if (g) {
            memcpy(g + 1, ptr, old_size);
            g->h.size = new_size;
            spk__keep_put(h);
            return g + 1;
        }
        if (!(g = (spk__block_head *)SPK_REALLOC(h, bytes))) return NULL;
        g->h.class_bytes = bytes;
        g->h.size = new_size;
        return g + 1;
    }
    /* between small and large: a new block and a copy (of less than SPK__KEEP_MIN bytes) */
    void *p = spk__default_alloc(NULL, new_size);
    if (!p) return NULL;
    memcpy(p, ptr, old_size < new_size ? old_size : new_size);
    spk__default_free(NULL, ptr, old_size);
    return p;
}

static const spk_allocator spk__default_allocator = {spk__default_alloc, spk__default_realloc,
                                                     spk__default_free, NULL};

SPKDEF const spk_allocator *spk_default_allocator(void) { return &spk__default_allocator; }

SPKDEF size_t spk_memory_retained(void) {
    spk__keep_lock();
    size_t kept = spk__keep.kept;
    spk__keep_unlock();
    return kept;
}

/* Frees kept blocks until at most `keep` bytes are kept; returns the bytes freed. */
static size_t spk__keep_trim(size_t keep) {
    spk__block_head *evicted = NULL;
    size_t freed = 0;
    spk__keep_lock();
    for (int i = SPK__KEEP_CLASSES - 1; i >= 0 && spk__keep.kept > keep; i--)
        while (spk__keep.kept > keep && spk__keep.bins[i]) {
            spk__block_head *e = spk__keep.bins[i];
            spk__keep.bins[i] = e->h.next;
            spk__keep.kept -= e->h.class_bytes;
            freed += e->h.class_bytes;
            e->h.next = evicted;
            evicted = e;
        }
    spk__keep_unlock();
    spk__free_blocks(evicted);
    return freed;
}

SPKDEF size_t spk_memory_release(void) { return spk__keep_trim(0); }

SPKDEF size_t spk_memory_set_retention(size_t max_bytes) {
    spk__keep_lock();
    size_t old = spk__keep.limit;
    spk__keep.limit = max_bytes;
    spk__keep_unlock();
    spk__keep_trim(max_bytes);
    return old;
}

static const spk_allocator *spk__allocator_or_default(const spk_allocator *a) {
    return a ? a : &spk__default_allocator;
}

/* Every allocation of the library goes through these three. A zero-size
 * request is made as one byte so that NULL always means failure. */
static void *spk__alloc(const spk_allocator *a, size_t size) {
    return a->alloc(a->user, size ? size : 1);
}
static void *spk__calloc(const spk_allocator *a, size_t size) {
    void *p = spk__alloc(a, size);
    if (p) memset(p, 0, size ? size : 1);
    return p;
}
static void *spk__realloc(const spk_allocator *a, void *ptr, size_t old_size, size_t new_size) {
    if (!ptr) return spk__alloc(a, new_size);
    return a->realloc(a->user, ptr, old_size ? old_size : 1, new_size ? new_size : 1);
}
static void spk__free(const spk_allocator *a, void *ptr, size_t size) {
    if (ptr) a->free(a->user, ptr, size ? size : 1);
}

static spk_status spk__nomem(const char *what, size_t bytes) {
    return spk__fail(SPK_ERR_NOMEM, "out of memory allocating %zu bytes for %s", bytes, what);
}

/* size_t multiplication that reports overflow instead of wrapping. */
static bool spk__mul_overflows(size_t a, size_t b, size_t *out) {
    if (b && a > SIZE_MAX / b) return true;
    *out = a * b;
    return false;
}

/* A NUL-terminated copy of `len` bytes; its allocation size is len + 1. */
static char *spk__strndup(const spk_allocator *a, const char *s, size_t len) {
    char *p = (char *)spk__alloc(a, len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

/* A string handed to the caller, who frees it with spk_string_free. The
 * size of its block is kept in front of it: the text may hold a NUL, or be
 * cut short by the caller, so strlen cannot give the size back. */
static char *spk__given_string(const char *text, size_t len) {
    if (len > SIZE_MAX - 2 * sizeof(size_t)) return NULL;
    size_t size = sizeof(size_t) + len + 1;
    char *block = (char *)spk__alloc(&spk__default_allocator, size);
    if (!block) return NULL;
    memcpy(block, &size, sizeof size);
    if (len) memcpy(block + sizeof size, text, len);
    block[sizeof size + len] = '\0';
    return block + sizeof size;
}
static void spk__given_free(char *s) {
    if (!s) return;
    size_t size;
    memcpy(&size, s - sizeof size, sizeof size);
    spk__free(&spk__default_allocator, s - sizeof size, size);
}

/* -- allocation-failure injection */

static bool spk__failalloc_refuse(spk_failalloc *f) {
    f->calls++;
    bool refuse = f->fail_at > 0 && (f->calls == f->fail_at || (f->fail_after && f->calls > f->fail_at));
    if (refuse) f->failures++;
    return refuse;
}
static void *spk__failalloc_alloc(void *user, size_t size) {
    spk_failalloc *f = (spk_failalloc *)user;
    if (spk__failalloc_refuse(f)) return NULL;
    void *p = f->base->alloc(f->base->user, size);
    if (p) {
        f->live_blocks++;
        f->live_bytes += size;
    }
    return p;
}
static void *spk__failalloc_realloc(void *user, void *ptr, size_t old_size, size_t new_size) {
    spk_failalloc *f = (spk_failalloc *)user;
    if (new_size > old_size && spk__failalloc_refuse(f)) return NULL;
    void *p = f->base->realloc(f->base->user, ptr, old_size, new_size);
    if (p) f->live_bytes = f->live_bytes - old_size + new_size;
    return p;
}
static void spk__failalloc_free(void *user, void *ptr, size_t size) {
    spk_failalloc *f = (spk_failalloc *)user;
    f->live_blocks--;
    f->live_bytes -= size;
    f->base->free(f->base->user, ptr, size);
}

SPKDEF void spk_failalloc_init(spk_failalloc *f, const spk_allocator *base, long fail_at) {
    memset(f, 0, sizeof *f);
    f->base = spk__allocator_or_default(base);
    f->fail_at = fail_at;
    f->iface.alloc = spk__failalloc_alloc;
    f->iface.realloc = spk__failalloc_realloc;
    f->iface.free = spk__failalloc_free;
    f->iface.user = f;
}

/* ---------------------------------------------------------------- hashing */

#define SPK__K1 0x9e3779b97f4a7c15ULL
#define SPK__K2 0xc2b2ae3d27d4eb4fULL
#define SPK__K3 0x165667b19e3779f9ULL

static uint64_t spk__rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

/* A bijective finaliser: every input bit affects every output bit. */
SPKDEF uint64_t spk_hash_u64(uint64_t x) {
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 29;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 32;
    return x;
}

SPKDEF uint64_t spk_hash_bytes(const void *data, size_t len, uint64_t seed) {
    const unsigned char *p = (const unsigned char *)data;
    uint64_t a = seed ^ SPK__K1, b = (uint64_t)len * SPK__K2;
    while (len >= 16) {
        uint64_t w0, w1;
        memcpy(&w0, p, 8);
        memcpy(&w1, p + 8, 8);
        a = spk__rotl64(a ^ (w0 * SPK__K2), 31) * SPK__K1;
        b = spk__rotl64(b ^ (w1 * SPK__K3), 29) * SPK__K2;
        p += 16;
        len -= 16;
    }
    if (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        a = spk__rotl64(a ^ (w * SPK__K2), 31) * SPK__K1;
        p += 8;
        len -= 8;
    }
    uint64_t tail = 0;
    memcpy(&tail, p, len); /* len < 8 */
    b = spk__rotl64(b ^ (tail * SPK__K3), 27) * SPK__K2;
    return spk_hash_u64(a ^ spk__rotl64(b, 32));
}

/* ---------------------------------------------------------------- text helpers */

static int spk__lower(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }
static bool spk__is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
static bool spk__is_digit(int c) { return c >= '0' && c <= '9'; }
static bool spk__is_ident_start(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80; }
static bool spk__is_ident_char(int c) { return spk__is_ident_start(c) || spk__is_digit(c); }

/* ASCII case-insensitive equality of two NUL-terminated names (Spark folds
 * only ASCII for identifier matching in practice). */
static bool spk__name_eq(const char *a, const char *b, bool case_sensitive) {
    if (case_sensitive) return strcmp(a, b) == 0;
    for (; *a && *b; a++, b++)
        if (spk__lower((unsigned char)*a) != spk__lower((unsigned char)*b)) return false;
    return *a == *b;
}

/* Same, for a word of `len` bytes against a NUL-terminated keyword. */
static bool spk__word_is(const char *word, size_t len, const char *keyword) {
    size_t i = 0;
    for (; i < len && keyword[i]; i++)
        if (spk__lower((unsigned char)word[i]) != spk__lower((unsigned char)keyword[i])) return false;
    return i == len && keyword[i] == '\0';
}

/* Case-insensitive Levenshtein distance, capped: names longer than 63 bytes
 * compare as far apart, which only affects did-you-mean suggestions. */
static int spk__edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 1000;
    int row[64];
    for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int cost = spk__lower((unsigned char)a[i - 1]) != spk__lower((unsigned char)b[j - 1]);
            int best = diag + cost;
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Appends Spark's suggestion list to this thread's message: the (at most 5)
 * candidates closest to `name`, best first, as "[`value`, `name`]". */
static void spk__fail_suggest(const char *name, const char *const *candidates, int n) {
    int order[5], dist[5], kept = 0;
    for (int i = 0; i < n; i++) {
        int d = spk__edit_distance(name, candidates[i]);
        if (kept == 5 && d >= dist[4]) continue;
        int at = kept < 5 ? kept++ : 4;
        while (at > 0 && dist[at - 1] > d) {
            order[at] = order[at - 1];
            dist[at] = dist[at - 1];
            at--;
        }
        order[at] = i;
        dist[at] = d;
    }
    if (kept == 0) return;
    spk__fail_append(" Did you mean one of the following? [");
    for (int k = 0; k < kept; k++)
        spk__fail_append("%s`%s`", k ? ", " : "", candidates[order[k]]);
    spk__fail_append("]");
}
