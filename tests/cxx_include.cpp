// The header's declarations must be usable from C++17 and link, through
// extern "C", to the implementation compiled as C.
#include "../sparkless.h"
#include <cstring>

int main() {
    spk_schema *s = nullptr;
    if (spk_schema_parse(nullptr, "id INT, name STRING", &s) != SPK_OK) return 1;
    spk_value v = spk_value_i64(42);
    char buf[SPK_VALUE_TEXT_MAX];
    spk_value_format(&v, buf, sizeof buf);
    bool ok = spk_schema_ncols(s) == 2 && std::strcmp(buf, "42") == 0;
    spk_schema_release(s);
    return ok ? 0 : 1;
}
