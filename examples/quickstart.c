/* quickstart.c — a table from a fixture, rows from C, reading back, errors.
 * Build and run: make demo */
#define SPARKLESS_IMPLEMENTATION
#include "../sparkless.h"

static int fail(const char *what) {
    fprintf(stderr, "%s failed: %s\n", what, spk_last_error());
    return 1;
}

int main(void) {
    /* 1. A table from a fixture literal: schema line, then CSV rows. */
    spk_table *people = NULL;
    if (spk_table_from_fixture(NULL,
                               "id BIGINT NOT NULL, name STRING, balance DECIMAL(10,2), joined DATE\n"
                               "1, Alice, 120.50, 2020-02-29\n"
                               "2, Bob,   NULL,   2021-07-01\n"
                               "3, \"Chen, Li\", -3.25, 2019-12-31\n",
                               &people) != SPK_OK)
        return fail("spk_table_from_fixture");

    /* 2. More rows from C values; strings are copied into the table. */
    if (spk_table_append(people, spk_value_i64(4), spk_value_str("Dana"),
                         spk_value_decimal(99900, 10, 2), spk_value_null()) != SPK_OK)
        return fail("spk_table_append");

    /* 3. The schema the way Spark's printSchema shows it. */
    spk_schema_print(spk_table_schema(people), stdout);

    /* 4. Read every row with a cursor; values format as Spark's show() does. */
    spk_cursor c;
    spk_cursor_open(&c, people);
    while (spk_cursor_next(&c)) {
        for (int col = 0; col < spk_schema_ncols(spk_table_schema(people)); col++) {
            spk_value v;
            char text[SPK_VALUE_TEXT_MAX];
            spk_cursor_get(&c, col, &v);
            if (v.type.id == SPK_TYPE_STRING && !v.is_null)
                printf("%s%.*s", col ? " | " : "", (int)v.as.str.len, v.as.str.ptr);
            else
                printf("%s%s", col ? " | " : "", (spk_value_format(&v, text, sizeof text), text));
        }
        printf("\n");
    }
    printf("%zu rows\n", spk_table_nrows(people));

    /* 5. Bad input is an error that says what and where, and loses nothing. */
    if (spk_table_append_text(people, "5, Eve, 1.00, 2024-01-01\n6, Finn, lots, 2024-01-02\n", (size_t)-1) != SPK_OK)
        printf("\nrejected: %s\n", spk_last_error());
    printf("still %zu rows\n", spk_table_nrows(people));

    int idx;
    if (spk_schema_lookup(spk_table_schema(people), "nmae", false, &idx) != SPK_OK)
        printf("%s: %s\n", spk_status_category(spk_last_status()), spk_last_error());

    spk_table_free(people);
    return 0;
}
