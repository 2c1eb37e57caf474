/* views_per_thread.c — one idea: temp views belong to a session, so threads
 * that each register "temp_view" need a session each. Four threads take a
 * child session of the same root (spk_session_new_session: same catalog and
 * tables, their own views), filter a shared source for their region,
 * register the result as "temp_view", and append the view into their own
 * table. Every table ends up with exactly its region's rows. */
#define SPARKLESS_IMPLEMENTATION
#include "../sparkless.h"

#include <threads.h>

typedef struct job {
    spk_session *root;
    spk_df *sales;
    const char *region;
    spk_status status;
} job;

static int run_job(void *p) {
    job *j = (job *)p;
    spk_session *mine = NULL;
    if ((j->status = spk_session_new_session(j->root, &mine)) != SPK_OK) return 0;
    char cond[64], table[64];
    snprintf(cond, sizeof cond, "region = '%s'", j->region);
    snprintf(table, sizeof table, "sales_%s", j->region);
    spk_df *filtered = spk_df_where(j->sales, cond);
    /* the same view name in every thread: each child session has its own */
    j->status = spk_catalog_create_or_replace_temp_view(mine, "temp_view", filtered);
    spk_df *view = spk_session_table(mine, "temp_view");
    if (j->status == SPK_OK) j->status = view ? spk_catalog_save_as_table(mine, view, table, "append") : spk_last_status();
    spk_df_release(view);
    spk_df_release(filtered);
    spk_session_stop(mine);
    return 0;
}

int main(void) {
    spk_session *root = NULL;
    if (spk_session_new(NULL, &root) != SPK_OK) return 1;
    spk_df *sales = spk_df_from_fixture(root, "region STRING, amount INT\n"
                                              "north,10\nsouth,20\neast,30\nwest,40\nnorth,11\nsouth,21\neast,31\n");
    static const char *regions[] = {"north", "south", "east", "west"};
    job jobs[4];
    thrd_t threads[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (job){root, sales, regions[i], SPK_OK};
        if (thrd_create(&threads[i], run_job, &jobs[i]) != thrd_success) return 1;
    }
    for (int i = 0; i < 4; i++) thrd_join(threads[i], NULL);
    int bad = 0;
    for (int i = 0; i < 4; i++) {
        char table[64];
        snprintf(table, sizeof table, "sales_%s", regions[i]);
        if (jobs[i].status != SPK_OK) {
            fprintf(stderr, "%s: %s\n", table, spk_status_name(jobs[i].status));
            bad = 1;
            continue;
        }
        printf("%s:\n", table);
        spk_df *t = spk_session_table(root, table);
        if (!t || spk_df_show(t, 20, 20, false, stdout) != SPK_OK) bad = 1;
        spk_df_release(t);
    }
    spk_df_release(sales);
    spk_session_stop(root);
    return bad;
}
