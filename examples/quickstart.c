/* quickstart.c — a walkthrough: a DataFrame from a fixture, filters in SQL
 * text, grouping, sorting, a join, show(), explain(), and what bad input
 * looks like. Build and run: make demo */
#define SPARKLESS_IMPLEMENTATION
#include "../sparkless.h"

static int fail(const char *what) {
    fprintf(stderr, "%s failed: %s\n", what, spk_last_error());
    return 1;
}

int main(void) {
    spk_session *spark = NULL;
    if (spk_session_new(NULL, &spark) != SPK_OK) return fail("spk_session_new");

    /* 1. A DataFrame from a fixture literal: a schema line, then CSV rows. */
    spk_df *people = spk_df_from_fixture(spark,
                                         "id BIGINT NOT NULL, name STRING, dept STRING, salary DECIMAL(10,2), joined DATE\n"
                                         "1, Alice, eng,   120.50, 2020-02-29\n"
                                         "2, Bob,   eng,   NULL,   2021-07-01\n"
                                         "3, \"Chen, Li\", ops, 98.25, 2019-12-31\n"
                                         "4, Dana,  ops,   101.00, 2022-03-15\n"
                                         "5, Eve,   NULL,  87.75,  2023-01-09\n");
    if (!people) return fail("spk_df_from_fixture");
    spk_df_print_schema(people, stdout);
    spk_df_show(people, 20, 20, false, stdout);

    /* 2. Transformations are lazy and immutable; each returns a new DataFrame.
     *    Filters can be C expressions or SQL text, as in PySpark. */
    spk_df *earners = spk_df_where(people, "salary > 90 AND name NOT LIKE 'D%'");
    spk_df *shaped = spk_df_select_expr(earners, 3, "upper(name) AS name", "dept",
                                        "salary * 1.1 AS raised");
    spk_df_show(shaped, 20, 20, false, stdout);

    /* 3. Group and aggregate, then sort: expressions built in C. */
    spk_expr *keys[] = {spk_col("dept")};
    spk_expr *aggs[] = {spk_alias(spk_call("count", 1, spk_star()), "people"),
                        spk_alias(spk_call("avg", 1, spk_col("salary")), "avg_salary")};
    spk_df *by_dept = spk_df_group_agg(people, keys, 1, aggs, 2);
    spk_df *sorted = spk_df_order_by(by_dept, 1, spk_desc(spk_col("people")));
    if (!sorted) return fail("groupBy/orderBy");
    spk_df_show(sorted, 20, 20, false, stdout);

    /* 4. Join with another frame; aliases tell the two sides' columns apart. */
    spk_df *depts = spk_df_from_fixture(spark, "dept STRING, floor INT\neng, 3\nops, 1\n");
    spk_df *p = spk_df_alias(people, "p"), *d = spk_df_alias(depts, "d");
    spk_df *joined = spk_df_join(p, d, spk_eq(spk_col("p.dept"), spk_col("d.dept")), "left");
    spk_df *where = spk_df_select_expr(joined, 3, "p.name", "p.dept", "d.floor");
    if (!where) return fail("join");
    spk_df_show(where, 20, 20, false, stdout);

    /* 5. explain() shows the plan: casts the analyser inserted included, and
     *    what the optimizer did (filters moved down, columns pruned). */
    spk_df_explain(shaped, true, stdout);

    /* 6. Actions run the plan: count, or collect into a table you read from C. */
    int64_t n = 0;
    spk_df_count(earners, &n);
    printf("\n%lld people earn more than 90\n", (long long)n);

    /* 7. Bad input is an error that says what and where. */
    if (!spk_df_where(people, "salry > 90"))
        printf("\n%s: %s\n", spk_status_category(spk_last_status()), spk_last_error());

    spk_df_release(where);
    spk_df_release(joined);
    spk_df_release(d);
    spk_df_release(p);
    spk_df_release(depts);
    spk_df_release(sorted);
    spk_df_release(by_dept);
    spk_df_release(shaped);
    spk_df_release(earners);
    spk_df_release(people);
    spk_session_free(spark);
    return 0;
}
