/* unit_test_fixture.c — how a C project unit-tests its own data code with
 * sparkless: the input and the expected output are fixtures (a schema line,
 * then CSV rows, in one string literal), and SPK_ASSERT_DF_EQUAL compares
 * the result with the expectation in any row order, as PySpark's
 * assertDataFrameEqual does. The second half shows the report a failing
 * comparison gives. Exits 0 when every check passes.
 * Build and run: cc -std=c11 unit_test_fixture.c -lm -pthread && ./a.out */
#define SPARKLESS_IMPLEMENTATION
#include "../sparkless.h"

#include <string.h>

/* The code under test: per customer, the number of orders and their total,
 * leaving cancelled orders out. */
static spk_df *customer_totals(spk_df *orders) {
    spk_df *live = spk_df_where(orders, "status <> 'cancelled'");
    spk_expr *keys[] = {spk_col("customer")};
    spk_expr *aggs[] = {spk_alias(spk_call("count", 1, spk_star()), "orders"),
                        spk_alias(spk_call("sum", 1, spk_col("amount")), "total")};
    spk_df *totals = spk_df_group_agg(live, keys, 1, aggs, 2);
    spk_df_release(live);
    return totals;
}

static const char *orders_fixture = "order_id INT, customer STRING, amount DECIMAL(10,2), status STRING\n"
                                    "1, ann, 10.00, shipped\n"
                                    "2, bob,  5.50, shipped\n"
                                    "3, ann,  2.25, pending\n"
                                    "4, cid, 99.00, cancelled\n"
                                    "5, bob,  0.50, shipped\n"
                                    "6, dee,  7.00, pending\n";

int main(void) {
    spk_session *spark = NULL;
    if (spk_session_new(NULL, &spark) != SPK_OK) return 1;
    int failures = 0;

    spk_df *orders = spk_df_from_fixture(spark, orders_fixture);
    spk_df *actual = customer_totals(orders);

    /* The test: rows may come in any order; a mismatch prints file:line and
     * the report to stderr, and the macro gives false. */
    spk_df *expected = spk_df_from_fixture(spark, "customer STRING, orders BIGINT, total DECIMAL(18,2)\n"
                                                  "ann, 2, 12.25\n"
                                                  "bob, 2,  6.00\n"
                                                  "dee, 1,  7.00\n");
    if (!SPK_ASSERT_DF_EQUAL(actual, expected, NULL)) failures++;

    /* What a failure looks like: an expectation with a wrong total for bob
     * and cid's cancelled order counted. The report shows only the rows
     * that differ, actual's on the left and expected's on the right. */
    spk_df *wrong = spk_df_from_fixture(spark, "customer STRING, orders BIGINT, total DECIMAL(18,2)\n"
                                               "ann, 2, 12.25\n"
                                               "bob, 2,  6.50\n"
                                               "cid, 1, 99.00\n"
                                               "dee, 1,  7.00\n");
    char *report = NULL;
    if (spk_assert_df_equal(actual, wrong, NULL, &report) == SPK_ERR_ASSERTION) {
        printf("A deliberately wrong expectation is reported as:\n\n%s\n", report);
        const char *first_line = "[DIFFERENT_ROWS] 1 row only in actual, 2 rows only in expected (2 rows match)\n";
        if (strncmp(report, first_line, strlen(first_line)) != 0 ||
            !strstr(report, "|     bob|     2| 6.00|    |     bob|     2| 6.50|") ||
            !strstr(report, "|     cid|     1|99.00|") || strstr(report, "ann"))
            failures++;
    } else {
        failures++;
    }
    spk_string_free(report);

    spk_df_release(wrong);
    spk_df_release(expected);
    spk_df_release(actual);
    spk_df_release(orders);
    spk_session_free(spark);
    printf("\n%s\n", failures ? "FAILED" : "all checks passed");
    return failures ? 1 : 0;
}
