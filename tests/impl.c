/* The one translation unit that compiles the implementation for the tests. */
#define SPARKLESS_IMPLEMENTATION
#include "../sparkless.h"
