/* vector: internal only (column vectors, bound expression nodes, kernels); no public declarations. */
