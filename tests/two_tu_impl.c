/* Two-translation-unit check, part 1: the implementation lives here. */
#define SPARKLESS_IMPLEMENTATION
#include "../sparkless.h"
