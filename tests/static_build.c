/* SPARKLESS_STATIC: the whole library becomes static to this file and must
 * still compile warning-free although most of it is unused here. */
#define SPARKLESS_STATIC
#define SPARKLESS_IMPLEMENTATION
#include "../sparkless.h"

int main(void) {
    spk_table *t = NULL;
    if (spk_table_from_fixture(NULL, "id INT, name STRING\n1,Alice\n2,NULL", &t) != SPK_OK) return 1;
    int ok = spk_table_nrows(t) == 2;
    spk_table_free(t);
    return ok ? 0 : 1;
}
