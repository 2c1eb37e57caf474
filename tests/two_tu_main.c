/* Two-translation-unit check, part 2: this file sees declarations only, and
 * including the header twice must be harmless. */
#include "../sparkless.h"
#include "../sparkless.h"
#include <string.h>

int main(void) {
    spk_schema *s = NULL;
    if (spk_schema_parse(NULL, "id BIGINT NOT NULL, name STRING", &s) != SPK_OK) return 1;
    int ok = spk_schema_ncols(s) == 2 && strcmp(spk_version(), SPARKLESS_VERSION) == 0;
    spk_schema_release(s);
    return ok ? 0 : 1;
}
