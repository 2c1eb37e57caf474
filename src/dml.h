/* dml: DELETE, UPDATE and MERGE INTO a saved table, with Delta Lake's
 * semantics. The statements run inside a transaction (txn.h): spk_txn_delete,
 * spk_txn_update and spk_txn_merge, or spk_merge_execute on its own. */

/* A MERGE INTO statement, built as Delta Lake's
 *   DeltaTable.forName(spark, target).alias(t).merge(source.alias(s), on)
 *     .whenMatchedUpdate(condition, set).whenMatchedDelete(condition)
 *     .whenNotMatchedInsert(condition, values) ...
 * target: "table" or "db.table"; target_alias: how expressions name the
 * target's columns (NULL: the table's name); source_alias likewise for the
 * source (NULL: unqualified names only); on: the join condition (consumed).
 * The source DataFrame is collected when the merge joins a transaction.
 *
 * Semantics (Delta Lake's MERGE):
 * - A target row matched by the ON condition takes the first whenMatched
 *   clause, in the order added, whose condition holds (or that has none):
 *   update (the assigned columns; the others keep their values) or delete.
 *   If no clause applies the row is unchanged.
 * - A source row that matches no target row takes the first whenNotMatched
 *   clause whose condition holds: insert (unassigned columns are NULL).
 * - A target row matched by two or more source rows is an error
 *   (SPK_ERR_STATE, "multiple source rows matched ... the same target row")
 *   when the merge has whenMatched clauses, unless they are all
 *   unconditional deletes; nothing is written.
 * - Assigned values are stored as insertInto stores them: a type that
 *   cannot be stored in the column without loss is SPK_ERR_TYPE naming it.
 * Clause conditions and update values may use target and source columns;
 * insert conditions and values only source columns.
 * NULL with the error in spk_last_error() on a bad argument. */
typedef struct spk_merge spk_merge;
SPKDEF spk_merge *spk_merge_into(const char *target, const char *target_alias, spk_df *source, const char *source_alias,
                                 spk_expr *on);
SPKDEF void spk_merge_free(spk_merge *m); /* NULL is fine */

/* The clauses. condition may be NULL (always); expressions are consumed,
 * also on error. columns[i] (a target column) gets values[i]. */
SPKDEF spk_status spk_merge_when_matched_update(spk_merge *m, spk_expr *condition, int n, const char *const *columns,
                                                spk_expr *const *values);
/* updateAll: every target column from the source column of the same name. */
SPKDEF spk_status spk_merge_when_matched_update_all(spk_merge *m, spk_expr *condition);
SPKDEF spk_status spk_merge_when_matched_delete(spk_merge *m, spk_expr *condition);
SPKDEF spk_status spk_merge_when_not_matched_insert(spk_merge *m, spk_expr *condition, int n, const char *const *columns,
                                                    spk_expr *const *values);
/* insertAll: every target column from the source column of the same name. */
SPKDEF spk_status spk_merge_when_not_matched_insert_all(spk_merge *m, spk_expr *condition);

/* What a DML statement did (Delta Lake's num_*_rows metrics). */
typedef struct spk_dml_metrics {
    int64_t updated;
    int64_t deleted;
    int64_t inserted;
} spk_dml_metrics;
