/* S3 (seed 003, distributing work): expressions with a C UDF shipped as
 * bytes to workers that resolve the UDF themselves (runs under TSan in make test).
 *   a  N worker threads (1, 2, 3, 8: FOR_EACH_THREAD_COUNT), each with its
 *      own registry as its worker context, decode the driver's bytes,
 *      evaluate them on their own batch and hand back the rows; they must be
 *      exactly the rows the driver gets from the original expressions, and
 *      the UDF that ran must be the worker's (its call counter), not the
 *      driver's. Nothing is registered globally.
 *   b  the same in a fork()ed process, the bytes and the rows going through pipes.
 *   c  a thread, and a forked process, with no UDF anywhere: decoding is
 *      SPK_ERR_NOT_FOUND naming the UDF.
 *   d  a strict worker context refuses bytes that carry a macro inline,
 *      naming it; a lenient one evaluates them.
 *   e  with no worker context, the global registry resolves the UDF. */
#include "test.h"
#include "test_threads.h"
#include <errno.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#define BATCH_ROWS 240
#define NEXPRS 3 /* a job: filter predicate, label, s */

/* ------------------------------------------------------------ the UDF */

/* score(x BIGINT, y DOUBLE) -> DOUBLE, deterministic, NULL when an argument
 * is. user (may be NULL) is an atomic_long counting calls, so a test can
 * tell whose definition ran. */
static spk_status score_fn(void *user, const spk_value *args, int nargs, spk_value *result) {
    (void)nargs;
    if (user) atomic_fetch_add_explicit((atomic_long *)user, 1, memory_order_relaxed);
    if (args[0].is_null || args[1].is_null) *result = spk_value_null_of(spk_type_of(SPK_TYPE_DOUBLE));
    else *result = spk_value_f64((double)(args[0].as.i64 % 23) + args[1].as.f64 * 0.5);
    return SPK_OK;
}

static spk_udf *make_score(atomic_long *calls) {
    spk_type types[2] = {spk_type_of(SPK_TYPE_INT64), spk_type_of(SPK_TYPE_DOUBLE)};
    spk_udf *u = NULL;
    if (spk_udf_scalar("score", types, 2, spk_type_of(SPK_TYPE_DOUBLE), score_fn, calls, &u) != SPK_OK)
        fprintf(stderr, "score: %s\n", spk_last_error());
    return u;
}

/* A registry holding a score of its own (NULL on failure). */
static spk_udf_registry *score_registry(atomic_long *calls, bool strict) {
    spk_udf_registry *r = NULL;
    spk_udf *u = make_score(calls);
    if (!u || spk_udf_registry_new(&r) != SPK_OK || spk_udf_register(r, u) != SPK_OK) {
        spk_udf_registry_release(r);
        r = NULL;
    }
    spk_udf_release(u);
    if (r) spk_udf_registry_set_strict(r, strict);
    return r;
}

/* ------------------------------------------------------------ jobs: expressions as bytes */

/* The driver's job, over (a BIGINT, b DOUBLE, name STRING):
 *   where: score(a, b) BETWEEN 2 AND 25 OR name LIKE 'n1%'
 *   label: CASE WHEN score(a, b) > 10 THEN upper(name) ELSE concat(name, '!') END
 *   s:     score(a, b) * 2.0 + CAST(a AS DOUBLE)
 * `extra` (consumed, may be NULL) is added to s. */
static void build_job(spk_udf *score, spk_expr *extra, spk_expr *job[NEXPRS]) {
#define SCORE() spk_udf_call(score, 2, spk_col("a"), spk_col("b"))
    job[0] = spk_or(spk_between(SCORE(), spk_lit_i32(2), spk_lit_i32(25)), spk_like(spk_col("name"), "n1%"));
    job[1] = spk_alias(spk_otherwise(spk_when(NULL, spk_gt(SCORE(), spk_lit_i32(10)), spk_call("upper", 1, spk_col("name"))),
                                     spk_call("concat", 2, spk_col("name"), spk_lit_str("!"))),
                       "label");
    spk_expr *s = spk_add(spk_mul(SCORE(), spk_lit_f64(2.0)), spk_cast(spk_col("a"), spk_type_of(SPK_TYPE_DOUBLE)));
    if (extra) s = spk_add(s, extra);
    job[2] = spk_alias(s, "s");
#undef SCORE
}

static void release_job(spk_expr *job[NEXPRS]) {
    for (int i = 0; i < NEXPRS; i++) {
        spk_expr_release(job[i]);
        job[i] = NULL;
    }
}

static void put_u32(unsigned char *p, uint32_t x) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(x >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The job as one message: each expression's encoding after its length. */
static bool encode_job(spk_expr *const job[NEXPRS], spk_bytes *out) {
    spk_bytes part[NEXPRS];
    memset(part, 0, sizeof part);
    size_t total = 0;
    bool ok = true;
    for (int i = 0; i < NEXPRS && ok; i++) {
        ok = job[i] && spk_expr_encode(job[i], &part[i]) == SPK_OK;
        if (!ok) fprintf(stderr, "encode: %s\n", spk_last_error());
        else total += 4 + part[i].len;
    }
    out->data = ok ? (unsigned char *)malloc(total) : NULL;
    out->len = 0;
    for (int i = 0; i < NEXPRS && out->data; i++) {
        put_u32(out->data + out->len, (uint32_t)part[i].len);
        memcpy(out->data + out->len + 4, part[i].data, part[i].len);
        out->len += 4 + part[i].len;
    }
    for (int i = 0; i < NEXPRS; i++) spk_bytes_free(&part[i]);
    return out->data != NULL;
}
static void free_job_bytes(spk_bytes *b) {
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

/* Decodes a message from encode_job; on failure the job is empty and the
 * thread's last error says why. */
static spk_status decode_job(const unsigned char *data, size_t len, spk_udf_registry *udfs, spk_expr *job[NEXPRS]) {
    spk_status st = SPK_OK;
    size_t at = 0;
    memset(job, 0, NEXPRS * sizeof *job);
    for (int i = 0; i < NEXPRS && st == SPK_OK; i++) {
        if (len - at < 4 || get_u32(data + at) > len - at - 4) { /* our framing, not the library's */
            release_job(job);
            return SPK_ERR_CORRUPT;
        }
        uint32_t n = get_u32(data + at);
        st = spk_expr_decode(data + at + 4, n, udfs, &job[i]);
        at += 4 + (size_t)n;
    }
    if (st != SPK_OK) release_job(job);
    return st;
}

/* ------------------------------------------------------------ batches and evaluation */

/* Batch k: rows i in [k * BATCH_ROWS, (k + 1) * BATCH_ROWS) of
 * (a = i, b = (i % 17) * 0.75 or NULL, name = "n<i>" or NULL). */
static spk_df *make_batch(spk_session *s, int k) {
    static const char ddl[] = "a BIGINT, b DOUBLE, name STRING";
    spk_schema *schema = NULL;
    if (spk_schema_parse(NULL, ddl, &schema) != SPK_OK) return NULL;
    spk_value *v = (spk_value *)malloc(BATCH_ROWS * 3 * sizeof *v);
    char(*names)[24] = malloc(BATCH_ROWS * sizeof *names);
    spk_df *df = NULL;
    if (v && names) {
        for (int r = 0; r < BATCH_ROWS; r++) {
            int64_t i = (int64_t)k * BATCH_ROWS + r;
            snprintf(names[r], sizeof names[r], "n%lld", (long long)i);
            v[r * 3 + 0] = spk_value_i64(i);
            v[r * 3 + 1] = i % 13 == 5 ? spk_value_null_of(spk_type_of(SPK_TYPE_DOUBLE)) : spk_value_f64((double)(i % 17) * 0.75);
            v[r * 3 + 2] = i % 11 == 3 ? spk_value_null_of(spk_type_of(SPK_TYPE_STRING)) : spk_value_str(names[r]);
        }
        df = spk_df_from_rows(s, schema, v, BATCH_ROWS);
    }
    free(names);
    free(v);
    spk_schema_release(schema);
    return df;
}

/* select(a, label, s).where(predicate) of batch k, collected; NULL on failure. */
static spk_table *run_job(spk_session *s, spk_expr *const job[NEXPRS], int k) {
    spk_df *batch = make_batch(s, k);
    spk_df *kept = batch ? spk_df_filter(batch, spk_expr_retain(job[0])) : NULL;
    spk_df *out = kept ? spk_df_select(kept, 3, spk_col("a"), spk_expr_retain(job[1]), spk_expr_retain(job[2])) : NULL;
    spk_table *t = NULL;
    if (out && spk_df_collect(out, &t) != SPK_OK) t = NULL;
    spk_df_release(out);
    spk_df_release(kept);
    spk_df_release(batch);
    return t;
}

/* A digest of every value's type, null flag and exact bits (doubles bit for bit). */
static uint64_t table_digest(const spk_table *t) {
    uint64_t h = 1469598103934665603ull;
#define MIX(p, n)                                                                                          \
    for (size_t m_ = 0; m_ < (size_t)(n); m_++) h = (h ^ ((const unsigned char *)(p))[m_]) * 1099511628211ull
    int ncols = spk_schema_ncols(spk_table_schema(t));
    for (size_t r = 0; r < spk_table_nrows(t); r++)
        for (int c = 0; c < ncols; c++) {
            spk_value v;
            if (spk_table_get(t, r, c, &v) != SPK_OK) return 0;
            MIX(&v.type.id, 1);
            MIX(&v.is_null, sizeof v.is_null);
            if (v.is_null) continue;
            if (v.type.id == SPK_TYPE_STRING) MIX(v.as.str.ptr, v.as.str.len);
            else if (v.type.id == SPK_TYPE_DOUBLE) MIX(&v.as.f64, sizeof v.as.f64);
            else MIX(&v.as.i64, sizeof v.as.i64);
        }
#undef MIX
    return h;
}

/* A session of its own: threads 0 follows FOR_EACH_THREAD_COUNT, 1 runs on
 * the calling thread alone (no pool, as a forked child needs). */
static spk_session *own_session(int threads) {
    spk_session_options o;
    memset(&o, 0, sizeof o);
    o.threads = threads;
    spk_session *s = NULL;
    if (spk_session_new(&o, &s) != SPK_OK) return NULL;
    return s;
}

/* The driver's rows for batch k, as text and digest; false on failure. */
static bool expected_rows(spk_expr *const job[NEXPRS], int k, int threads, char **text, uint64_t *digest) {
    spk_session *s = own_session(threads);
    spk_table *t = s ? run_job(s, job, k) : NULL;
    if (!t) fprintf(stderr, "driver batch %d: %s\n", k, spk_last_error());
    *text = t ? table_text(t) : NULL;
    *digest = t ? table_digest(t) : 0;
    spk_table_free(t);
    spk_session_stop(s);
    return *text != NULL;
}

/* ------------------------------------------------------------ worker threads */

typedef struct wire_worker {
    const spk_bytes *job;
    int batch;
    bool with_udf, strict;
    atomic_long calls; /* of the worker's own score */
    spk_status status; /* of the decode, then of the run */
    char error[512];
    char *text; /* the rows (malloc'd) */
    uint64_t digest;
    int64_t nrows;
} wire_worker;

/* A worker: its own registry as its worker context (unless !with_udf), the
 * job decoded with no explicit registry, its own session and batch. */
static int wire_work(void *p) {
    wire_worker *w = (wire_worker *)p;
    spk_udf_registry *reg = w->with_udf ? score_registry(&w->calls, w->strict) : NULL;
    if (reg) {
        spk_set_worker_ctx(reg);
        spk_udf_registry_release(reg); /* the context holds it */
    }
    spk_expr *job[NEXPRS];
    w->status = w->with_udf && (!reg || spk_worker_ctx() != reg) ? SPK_ERR_INTERNAL : SPK_OK;
    if (w->status == SPK_OK) w->status = decode_job(w->job->data, w->job->len, NULL, job);
    if (w->status == SPK_OK) {
        spk_session *s = own_session(0);
        spk_table *t = s ? run_job(s, job, w->batch) : NULL;
        if (!t) w->status = spk_last_status() != SPK_OK ? spk_last_status() : SPK_ERR_INTERNAL;
        else {
            w->text = table_text(t);
            w->digest = table_digest(t);
            w->nrows = (int64_t)spk_table_nrows(t);
        }
        spk_table_free(t);
        spk_session_stop(s);
        release_job(job);
    }
    if (w->status != SPK_OK) snprintf(w->error, sizeof w->error, "%s", spk_last_error());
    spk_clear_worker_ctx();
    return 0;
}

static void init_worker(wire_worker *w, const spk_bytes *job, int batch, bool with_udf, bool strict) {
    w->job = job;
    w->batch = batch;
    w->with_udf = with_udf;
    w->strict = strict;
    atomic_init(&w->calls, 0);
    w->status = SPK_ERR_INTERNAL;
    w->error[0] = 0;
    w->text = NULL;
    w->digest = 0;
    w->nrows = 0;
}

static bool global_has_score(void) {
    spk_udf *u = spk_udf_lookup(spk_udf_global(), "score");
    spk_udf_release(u);
    return u != NULL;
}

/* a: a pool of worker threads, each resolving score in its own context. */
static void test_threads_resolve_in_worker_ctx(void) {
    CHECK(!global_has_score());
    atomic_long driver_calls;
    atomic_init(&driver_calls, 0);
    spk_udf *score = make_score(&driver_calls);
    CHECK(score != NULL);
    if (!score) return;
    spk_expr *job[NEXPRS];
    build_job(score, NULL, job);
    spk_bytes bytes = {NULL, 0};
    CHECK(encode_job(job, &bytes));

    /* The bytes decode to the same trees where the same definition resolves. */
    spk_udf_registry *same = NULL;
    CHECK_OK(spk_udf_registry_new(&same));
    CHECK_OK(spk_udf_register(same, score));
    spk_expr *back[NEXPRS];
    CHECK_OK(decode_job(bytes.data, bytes.len, same, back));
    for (int i = 0; i < NEXPRS; i++) CHECK(back[i] && spk_expr_equal(job[i], back[i]));
    release_job(back);
    spk_udf_registry_release(same);

    FOR_EACH_THREAD_COUNT(ti) {
        int n = spk_test_threads;
        wire_worker *w = (wire_worker *)calloc((size_t)n, sizeof *w);
        mt_thread *th = (mt_thread *)calloc((size_t)n, sizeof *th);
        CHECK(w && th);
        if (!w || !th) break;
        long driver_before = atomic_load(&driver_calls);
        for (int i = 0; i < n; i++) init_worker(&w[i], &bytes, i, true, false);
        for (int i = 0; i < n; i++) CHECK(mt_start(&th[i], wire_work, &w[i]));
        for (int i = 0; i < n; i++) mt_join(&th[i]);
        /* The workers ran their own score, never the driver's. */
        CHECK_EQ_INT(atomic_load(&driver_calls), driver_before);
        for (int i = 0; i < n; i++) {
            CHECK_OK(w[i].status);
            if (w[i].status != SPK_OK) fprintf(stderr, "worker %d of %d: %s\n", i, n, w[i].error);
            CHECK(atomic_load(&w[i].calls) >= BATCH_ROWS);
            CHECK(w[i].nrows > 0 && w[i].nrows < BATCH_ROWS); /* the filter kept some rows, not all */
            char *want = NULL;
            uint64_t want_digest = 0;
            CHECK(expected_rows(job, i, 0, &want, &want_digest));
            CHECK_STR(w[i].text, want);
            CHECK(w[i].digest == want_digest);
            free(want);
            free(w[i].text);
        }
        CHECK(atomic_load(&driver_calls) > driver_before); /* the local runs used the driver's */
        free(w);
        free(th);
    }
    CHECK(!global_has_score());
    free_job_bytes(&bytes);
    release_job(job);
    spk_udf_release(score);
}

/* c (thread): no worker context and nothing global: the decode names the UDF. */
static void test_thread_without_udf(void) {
    CHECK(!global_has_score());
    spk_udf *score = make_score(NULL);
    CHECK(score != NULL);
    if (!score) return;
    spk_expr *job[NEXPRS];
    build_job(score, NULL, job);
    spk_bytes bytes = {NULL, 0};
    CHECK(encode_job(job, &bytes));
    wire_worker w;
    mt_thread th;
    init_worker(&w, &bytes, 0, false, false);
    CHECK(mt_start(&th, wire_work, &w));
    mt_join(&th);
    CHECK_EQ_INT(w.status, SPK_ERR_NOT_FOUND);
    CHECK_CONTAINS(w.error, "score");
    CHECK(w.text == NULL);
    free(w.text);
    free_job_bytes(&bytes);
    release_job(job);
    spk_udf_release(score);
}

/* d: a strict context refuses a macro that travels inline; a lenient one runs it. */
static void test_strict_refuses_inline_macro(void) {
    spk_udf *score = make_score(NULL), *bump = NULL;
    CHECK(score != NULL);
    CHECK_OK(spk_udf_macro("bump", "x BIGINT", "x + 1", &bump));
    if (!score || !bump) {
        spk_udf_release(score);
        spk_udf_release(bump);
        return;
    }
    spk_expr *job[NEXPRS];
    build_job(score, spk_cast(spk_udf_call(bump, 1, spk_col("a")), spk_type_of(SPK_TYPE_DOUBLE)), job);
    spk_bytes bytes = {NULL, 0};
    CHECK(encode_job(job, &bytes));

    wire_worker w[2];
    mt_thread th[2];
    init_worker(&w[0], &bytes, 3, true, true);
    init_worker(&w[1], &bytes, 3, true, false);
    for (int i = 0; i < 2; i++) CHECK(mt_start(&th[i], wire_work, &w[i]));
    for (int i = 0; i < 2; i++) mt_join(&th[i]);
    CHECK_EQ_INT(w[0].status, SPK_ERR_UNSUPPORTED);
    CHECK_CONTAINS(w[0].error, "bump");
    CHECK(w[0].text == NULL);
    CHECK_OK(w[1].status);
    if (w[1].status != SPK_OK) fprintf(stderr, "lenient worker: %s\n", w[1].error);
    char *want = NULL;
    uint64_t want_digest = 0;
    CHECK(expected_rows(job, 3, 0, &want, &want_digest));
    CHECK_STR(w[1].text, want);
    CHECK(w[1].digest == want_digest);
    /* row 721: score 10.625, so s = 21.25 + 721 + bump(721) */
    CHECK_CONTAINS(want, "721,N721,1464.25");

    /* A strict explicit registry refuses it on the calling thread too. */
    spk_udf_registry *strict = score_registry(NULL, true);
    spk_expr *back[NEXPRS];
    CHECK(strict != NULL);
    spk_status st = strict ? decode_job(bytes.data, bytes.len, strict, back) : SPK_OK;
    CHECK_EQ_INT(st, SPK_ERR_UNSUPPORTED);
    CHECK_CONTAINS(spk_last_error(), "bump");
    if (st == SPK_OK) release_job(back);
    spk_udf_registry_release(strict);

    free(want);
    for (int i = 0; i < 2; i++) free(w[i].text);
    free_job_bytes(&bytes);
    release_job(job);
    spk_udf_release(bump);
    spk_udf_release(score);
}

/* ------------------------------------------------------------ a forked worker process */

static bool write_all(int fd, const void *p, size_t n) {
    const char *c = (const char *)p;
    while (n > 0) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        c += k;
        n -= (size_t)k;
    }
    return true;
}
static bool read_all(int fd, void *p, size_t n) {
    char *c = (char *)p;
    while (n > 0) {
        ssize_t k = read(fd, c, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        c += k;
        n -= (size_t)k;
    }
    return true;
}

/* Reply: status (4 bytes), digest (8), text length (4), text (rows, or the error). */
static void child_reply(int fd, spk_status st, uint64_t digest, const char *text) {
    unsigned char head[16];
    put_u32(head, (uint32_t)st);
    put_u32(head + 4, (uint32_t)digest);
    put_u32(head + 8, (uint32_t)(digest >> 32));
    put_u32(head + 12, (uint32_t)strlen(text));
    if (!write_all(fd, head, sizeof head) || !write_all(fd, text, strlen(text))) _exit(3);
}

/* The child: a fresh single-threaded session, its own worker context
 * (unless !with_udf); reads a length-prefixed job, runs it on batch k. */
static void child_main(int in, int out, bool with_udf, int k) {
    spk_udf_registry *reg = with_udf ? score_registry(NULL, false) : NULL;
    if (with_udf && !reg) _exit(4);
    if (reg) {
        spk_set_worker_ctx(reg);
        spk_udf_registry_release(reg);
    }
    unsigned char lenbuf[4];
    if (!read_all(in, lenbuf, 4)) _exit(5);
    size_t len = get_u32(lenbuf);
    unsigned char *data = (unsigned char *)malloc(len ? len : 1);
    if (!data || !read_all(in, data, len)) _exit(6);
    spk_expr *job[NEXPRS];
    spk_status st = decode_job(data, len, NULL, job);
    free(data);
    if (st != SPK_OK) child_reply(out, st, 0, spk_last_error());
    else {
        spk_session *s = own_session(1);
        spk_table *t = s ? run_job(s, job, k) : NULL;
        if (!t) child_reply(out, spk_last_status() != SPK_OK ? spk_last_status() : SPK_ERR_INTERNAL, 0, spk_last_error());
        else {
            char *text = table_text(t);
            child_reply(out, SPK_OK, table_digest(t), text);
            free(text);
        }
        spk_table_free(t);
        spk_session_stop(s);
        release_job(job);
    }
    spk_clear_worker_ctx();
    _exit(0);
}

/* Forks a worker for batch k, sends it the job, reads its reply; false if
 * the process or the pipes failed. *text is the rows or the child's error. */
static bool fork_worker(const spk_bytes *job, bool with_udf, int k, spk_status *st, uint64_t *digest, char **text) {
    int to_child[2], from_child[2];
    *text = NULL;
    if (pipe(to_child) != 0) return false;
    if (pipe(from_child) != 0) {
        close(to_child[0]);
        close(to_child[1]);
        return false;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(to_child[1]);
        close(from_child[0]);
        child_main(to_child[0], from_child[1], with_udf, k);
    }
    close(to_child[0]);
    close(from_child[1]);
    bool ok = pid > 0;
    unsigned char lenbuf[4];
    put_u32(lenbuf, (uint32_t)job->len);
    ok = ok && write_all(to_child[1], lenbuf, 4) && write_all(to_child[1], job->data, job->len);
    close(to_child[1]);
    unsigned char head[16];
    ok = ok && read_all(from_child[0], head, sizeof head);
    if (ok) {
        size_t n = get_u32(head + 12);
        *st = (spk_status)get_u32(head);
        *digest = (uint64_t)get_u32(head + 4) | (uint64_t)get_u32(head + 8) << 32;
        *text = (char *)malloc(n + 1);
        ok = *text && read_all(from_child[0], *text, n);
        if (*text) (*text)[ok ? n : 0] = 0;
    }
    close(from_child[0]);
    int wst = 0;
    if (pid > 0) {
        while (waitpid(pid, &wst, 0) < 0 && errno == EINTR) {
        }
        if (!WIFEXITED(wst) || WEXITSTATUS(wst) != 0) {
            fprintf(stderr, "forked worker: exit status %d\n", WIFEXITED(wst) ? WEXITSTATUS(wst) : -1);
            ok = false;
        }
    }
    return ok;
}

/* b and c (process): no thread but this one may exist at fork, so every
 * session here runs single-threaded and the previous tests' pools are gone. */
static void test_forked_worker(void) {
    spk_udf *score = make_score(NULL);
    CHECK(score != NULL);
    if (!score) return;
    spk_expr *job[NEXPRS];
    build_job(score, NULL, job);
    spk_bytes bytes = {NULL, 0};
    CHECK(encode_job(job, &bytes));

    spk_status st = SPK_ERR_INTERNAL;
    uint64_t digest = 0;
    char *text = NULL;
    CHECK(fork_worker(&bytes, true, 5, &st, &digest, &text));
    CHECK_OK(st);
    if (st != SPK_OK) fprintf(stderr, "forked worker: %s\n", text ? text : "(no reply)");
    char *want = NULL;
    uint64_t want_digest = 0;
    CHECK(expected_rows(job, 5, 1, &want, &want_digest));
    CHECK_STR(text, want);
    CHECK(digest == want_digest);
    free(want);
    free(text);

    /* c: a child with no UDF anywhere reports the decode's error. */
    text = NULL;
    st = SPK_OK;
    CHECK(fork_worker(&bytes, false, 5, &st, &digest, &text));
    CHECK_EQ_INT(st, SPK_ERR_NOT_FOUND);
    CHECK_CONTAINS(text, "score");
    free(text);

    free_job_bytes(&bytes);
    release_job(job);
    spk_udf_release(score);
}

/* e: with no worker context, decoding falls back to the global registry. */
static void test_global_fallback(void) {
    atomic_long calls;
    atomic_init(&calls, 0);
    spk_udf *score = make_score(&calls);
    CHECK(score != NULL);
    if (!score) return;
    spk_expr *job[NEXPRS];
    build_job(score, NULL, job);
    spk_bytes bytes = {NULL, 0};
    CHECK(encode_job(job, &bytes));
    CHECK_OK(spk_udf_register(spk_udf_global(), score));
    wire_worker w;
    mt_thread th;
    init_worker(&w, &bytes, 2, false, false);
    CHECK(mt_start(&th, wire_work, &w));
    mt_join(&th);
    CHECK_OK(w.status);
    CHECK(atomic_load(&calls) >= BATCH_ROWS); /* the global definition ran */
    char *want = NULL;
    uint64_t want_digest = 0;
    CHECK(expected_rows(job, 2, 1, &want, &want_digest));
    CHECK_STR(w.text, want);
    CHECK_OK(spk_udf_unregister(spk_udf_global(), "score"));
    CHECK(!global_has_score());
    free(want);
    free(w.text);
    free_job_bytes(&bytes);
    release_job(job);
    spk_udf_release(score);
}

int main(void) {
    RUN(test_threads_resolve_in_worker_ctx);
    RUN(test_thread_without_udf);
    RUN(test_strict_refuses_inline_macro);
    RUN(test_forked_worker);
    RUN(test_global_fallback);
    return TEST_REPORT();
}
