/* shard: splitting a table version's rows into shards — cheap ones from the
 * physical layout (chunk ranges), or computed ones: key ranges holding
 * about equal numbers of rows. Scans take a shard (txn.h: spk_scan_df). */

/* One shard. Physical shards are the row range [row_begin, row_end) of the
 * table version they were made from (they apply at that asof only); key
 * shards are the rows whose key columns, compared as a tuple in ascending
 * order with NULLs first, lie in [lower, upper) — an absent bound is
 * unbounded — and apply at any asof. Shards of one set never overlap, and
 * together hold every row exactly once. */
typedef struct spk_shard spk_shard;
/* An ordered set of shards you own. */
typedef struct spk_shards spk_shards;
SPKDEF int spk_shards_count(const spk_shards *set);
SPKDEF const spk_shard *spk_shards_get(const spk_shards *set, int i); /* NULL if out of range; lives with set */
SPKDEF void spk_shards_free(spk_shards *set);                      /* NULL is fine */

/* true for a physical shard (a row range), false for a key range. */
SPKDEF bool spk_shard_is_physical(const spk_shard *sh);
/* A physical shard's rows, and the asof of the version they belong to. */
SPKDEF void spk_shard_rows(const spk_shard *sh, uint64_t *asof, int64_t *row_begin, int64_t *row_end);
/* A key shard's key column count (0 for a physical shard); its key column
 * names; and its bounds: *present is false for an unbounded side, else the
 * values (borrowed: they live with the shard set) are written to lower /
 * upper (each nkeys long). */
SPKDEF int spk_shard_nkeys(const spk_shard *sh);
SPKDEF const char *spk_shard_key_name(const spk_shard *sh, int k);
SPKDEF void spk_shard_bounds(const spk_shard *sh, bool *has_lower, spk_value *lower, bool *has_upper, spk_value *upper);
/* "rows [0, 65536) of asof 7", "keys [10, 20)" (one key column), "keys
 * [(10, 'b'), (20, 'a'))", "keys (-inf, +inf)" (snprintf contract). */
SPKDEF size_t spk_shard_describe(const spk_shard *sh, char *buf, size_t cap);
