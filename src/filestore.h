/* filestore: the file backend — saved tables kept as files in a directory. */

/* The file backend ("file"). config->base_path (spark.sparkless.backend.basePath)
 * names a directory, created if missing (one level); NULL or empty is
 * SPK_ERR_ARG. Under it:
 *   <basePath>/<db>/                        one directory per database
 *   <basePath>/<db>/<table>.<version>.spkt  the table's latest version
 *   <basePath>/<db>/.<table>.<version>.<unique>.tmp   a write in progress
 * A write goes to a temporary file, is flushed to disk (fsync) and renamed
 * over the table's name, so after a crash at any moment every table is at a
 * complete version: the last one whose write returned, or a later one.
 * Opening reads every table into memory (the backend serves reads from
 * there, as the memory backend does; max_memory bounds later writes the
 * same way), removes left-over temporary files and superseded versions,
 * and skips names that are not its own. A file that cannot be read does
 * not stop the others: scanning that table fails with SPK_ERR_CORRUPT
 * naming the file and what is wrong; overwriting or dropping it is allowed.
 * Dropping a database removes its directory and every file in it.
 * Errors of the file system are SPK_ERR_IO naming the path. One process at
 * a time may use a base path. Needs POSIX (elsewhere: SPK_ERR_UNSUPPORTED).
 * The .spkt file format is specified at the top of the implementation
 * (src/filestore.c; in sparkless.h, the "filestore" implementation part). */
SPKDEF spk_status spk_backend_file(const spk_backend_config *config, spk_backend **out);
