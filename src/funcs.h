/* funcs: internal only (the function registry); functions are called from expressions by name. */
