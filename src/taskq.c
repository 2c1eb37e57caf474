/* taskq implementation */
#include "rowstore.c"
#include "taskq.h"
