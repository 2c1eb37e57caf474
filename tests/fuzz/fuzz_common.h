/* What the fuzzers and tests/fuzz/gen_corpus.c share: the UDFs they
 * register in the global registry (so that UDF references in the seed
 * corpus resolve when decoded) and the table `t` that scan tasks read.
 * Include after sparkless.h, in a file that defines _POSIX_C_SOURCE
 * 200809L before any include (mkdtemp, directory walks). */
#ifndef SPK_FUZZ_COMMON_H
#define SPK_FUZZ_COMMON_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* fz_scale(DOUBLE) -> DOUBLE: x * 2. */
static spk_status fuzz_scale_fn(void *user, const spk_value *args, int nargs, spk_value *result) {
    (void)user;
    (void)nargs;
    *result = args[0].is_null ? spk_value_null_of(spk_type_of(SPK_TYPE_DOUBLE)) : spk_value_f64(args[0].as.f64 * 2);
    return SPK_OK;
}

/* fz_total(BIGINT) -> BIGINT: a sum that wraps instead of overflowing. */
static void fuzz_total_init(void *user, void *state) {
    (void)user;
    *(uint64_t *)state = 0;
}
static spk_status fuzz_total_update(void *user, void *state, const spk_value *arg) {
    (void)user;
    *(uint64_t *)state += (uint64_t)arg->as.i64;
    return SPK_OK;
}
static spk_status fuzz_total_merge(void *user, void *into, const void *from) {
    (void)user;
    *(uint64_t *)into += *(const uint64_t *)from;
    return SPK_OK;
}
static spk_status fuzz_total_finish(void *user, const void *state, spk_value *result) {
    (void)user;
    *result = spk_value_i64((int64_t)*(const uint64_t *)state);
    return SPK_OK;
}

/* Registers fz_scale and fz_total in spk_udf_global(); 0 on success. */
static inline int fuzz_register_udfs(void) {
    spk_type dbl = spk_type_of(SPK_TYPE_DOUBLE);
    spk_udaf_fns fns;
    memset(&fns, 0, sizeof fns);
    fns.state_size = sizeof(uint64_t);
    fns.init = fuzz_total_init;
    fns.update = fuzz_total_update;
    fns.merge = fuzz_total_merge;
    fns.finish = fuzz_total_finish;
    spk_udf *scale = NULL, *total = NULL;
    spk_status st = spk_udf_scalar("fz_scale", &dbl, 1, dbl, fuzz_scale_fn, NULL, &scale);
    if (st == SPK_OK) st = spk_udf_register(spk_udf_global(), scale);
    if (st == SPK_OK) st = spk_udf_aggregate("fz_total", spk_type_of(SPK_TYPE_INT64), spk_type_of(SPK_TYPE_INT64), &fns, NULL, &total);
    if (st == SPK_OK) st = spk_udf_register(spk_udf_global(), total);
    spk_udf_release(scale);
    spk_udf_release(total);
    return st == SPK_OK ? 0 : -1;
}

/* The table `t` (default database) of the scan-task corpus and fuzzer. */
#define FUZZ_TABLE_T                                                                   \
    "id BIGINT, g INT, s STRING, d DOUBLE, dt DATE, x DECIMAL(10,2)\n"                 \
    "1,1,a,1.5,2024-01-01,1.25\n2,2,b,-0.5,2024-02-29,-3.50\n3,1,NULL,NaN,NULL,0.00\n" \
    "4,3,dd,NULL,1970-01-01,NULL\n5,NULL,e,2.0,1999-12-31,99.99\n6,2,a,1e10,2000-01-01,1.00\n"

/* A single-threaded session (deterministic) holding `t`: on a memory
 * backend (base NULL) or a file backend at base. NULL on failure. Scan
 * tasks made on a file backend run in another process whose table has the
 * same version number, so the corpus's file tasks run in the fuzzer. */
static inline spk_session *fuzz_session_with_t(const char *base) {
    spk_builder *b = NULL;
    spk_session *s = NULL;
    if (spk_builder_new(&b) != SPK_OK) return NULL;
    spk_status st = spk_builder_config(b, "spark.sparkless.threads", "1");
    if (st == SPK_OK && base) st = spk_builder_config(b, "spark.sparkless.backend", "file");
    if (st == SPK_OK && base) st = spk_builder_config(b, "spark.sparkless.backend.basePath", base);
    if (st == SPK_OK) st = spk_builder_create(b, &s);
    spk_builder_free(b);
    spk_df *df = st == SPK_OK ? spk_df_from_fixture(s, FUZZ_TABLE_T) : NULL;
    if (st == SPK_OK) st = df ? spk_catalog_save_as_table(s, df, "t", NULL) : SPK_ERR_ARG;
    spk_df_release(df);
    if (st != SPK_OK) {
        fprintf(stderr, "fuzz: a session with table t: %s\n", spk_last_error());
        spk_session_stop(s);
        return NULL;
    }
    return s;
}

/* A new empty directory under $TMPDIR (or /tmp) in buf; 0 on success. */
static inline int fuzz_tempdir(char *buf, size_t cap) {
    const char *tmp = getenv("TMPDIR");
    snprintf(buf, cap, "%s/sparkless-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    return mkdtemp(buf) ? 0 : -1;
}

/* Removes dir and everything under it (what a file backend wrote). */
static inline void fuzz_rmtree(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *ent;
        char path[4096];
        while ((ent = readdir(d)) != NULL) {
            if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0) continue;
            int n = snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
            if (n < 0 || (size_t)n >= sizeof path) continue;
            struct stat st;
            if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) fuzz_rmtree(path);
            else remove(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* Wire messages carry their body's length and CRC-32 in the header
 * (bytes 12-15 and 16-19, little-endian; wire.h), so almost every mutated
 * message is refused at the checksum. The harnesses decode each input as
 * given (exercising those checks) and, when the header does not match the
 * body, a copy whose header is made to match: this returns that copy
 * (free it), or NULL when the input is too short or already matches. */
static inline uint8_t *fuzz_wire_fixup(const uint8_t *data, size_t size) {
    if (size < 20 || size - 20 > UINT32_MAX) return NULL;
    uint32_t crc = 0xFFFFFFFFu, body = (uint32_t)(size - 20);
    for (size_t i = 20; i < size; i++) {
        crc ^= data[i];
        for (int k = 0; k < 8; k++) crc = (crc & 1) ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
    }
    crc = ~crc;
    uint8_t head[8];
    for (int i = 0; i < 4; i++) {
        head[i] = (uint8_t)(body >> (8 * i));
        head[4 + i] = (uint8_t)(crc >> (8 * i));
    }
    if (memcmp(data + 12, head, 8) == 0) return NULL;
    uint8_t *copy = (uint8_t *)malloc(size);
    if (!copy) return NULL;
    memcpy(copy, data, size);
    memcpy(copy + 12, head, 8);
    return copy;
}

#endif
