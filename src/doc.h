/* sparkless.h - doc block (to be written) */
