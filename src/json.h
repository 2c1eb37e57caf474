/* json: the library's JSON reader and writer (internal; see json.c). The
 * documents it serves are described where they are made: transaction
 * operations in txn.h. */
