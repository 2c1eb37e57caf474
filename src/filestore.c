/* filestore: the file backend — the versioned store of backend.c with
 * persistence hooks that keep every table's latest version in a file.
 *
 * LAYOUT under the base path (spark.sparkless.backend.basePath):
 *   <db>/                                    a database (names: 1 to 128 of
 *                                            [a-z0-9_]; anything else is skipped)
 *   <db>/<table>.<version>.spkt              a committed table version
 *                                            (version in decimal, no leading 0)
 *   <db>/.<table>.<version>.<pid>_<n>.tmp    a version being written
 *   commit.<pid>_<n>.spkc                    a transaction's commit record
 *   .commit.<pid>_<n>.tmp                    a commit record being written
 * (<pid>_<n>: the writing process and a counter, so no two names collide.)
 * One process at a time may open a base path: each process numbers the
 * versions it writes from what it loaded, and an open removes temporary
 * files, another process's in-flight writes included. Nothing enforces this.
 *
 * A write: the version is written to its temporary file and fsync'ed
 * (prepare), renamed to its .spkt name and the directory fsync'ed (commit,
 * in the store's lock, so files and memory change in the same order), then
 * the table's older .spkt files are removed (retire). Opening removes
 * temporary files, keeps each table's highest version and removes its
 * lower ones (a crash between commit and retire leaves two); when the
 * highest cannot be read it is loaded as an error (scans of the table fail
 * with SPK_ERR_CORRUPT and its message) and the lower ones are left alone.
 * Dropping a table removes its files oldest first, so a failure or a crash
 * midway leaves the table as it was.
 *
 * A TRANSACTION (commit_all) of several tables is made atomic by a redo
 * record. Each table's version is prepared as above; then, in the store's
 * lock: the directories of the temporary files are fsync'ed (their entries
 * must outlive a crash once a record names them), the record listing every
 * (final, temporary) pair is written to .commit.<pid>_<n>.tmp, fsync'ed,
 * renamed to commit.<pid>_<n>.spkc and the base directory fsync'ed: that
 * rename is the commit point. Then each temporary file is renamed to its
 * final name, each directory fsync'ed, and the record removed. A crash
 * before the rename leaves a .tmp record, which an open removes like any
 * temporary file (and the tables' temporaries with it): none of the tables
 * changed. After it, an open redoes the record before loading anything:
 * every temporary file it names that still exists is renamed to its final
 * name (one that is gone was renamed already), the directories are
 * fsync'ed, and the record is removed; so all of the tables changed. A
 * transaction of one table commits as a single write does.
 * A failure before the commit point fails the commit with nothing changed.
 * After it, renames that fail are tried again; if one still fails (or a
 * directory cannot be fsync'ed), the commit returns SPK_ERR_IO saying so,
 * the record and the temporary files stay for the next open to complete
 * the transaction, and this backend refuses every later write
 * (SPK_ERR_IO): its memory would no longer match its files, and a later
 * version of one of the tables would take a name the record will reuse.
 * Reopening the base path finishes the transaction.
 *
 * COMMIT RECORD FORMAT, version 1: ASCII text, lines ending in "\n".
 *   SPKC 1 <n>                      magic, format version, n = 1 to 65536
 *                                   entries (decimal, no leading 0)
 *   <db>/<final> <db>/<temporary>   n lines: a table's final name and its
 *                                   temporary file, relative to the base
 *                                   path, in the same database directory
 *   <crc>                           8 lowercase hex digits: the CRC-32 of
 *                                   every byte before this line
 * and the file ends there (at most 64 MiB). <final> is a version name as
 * above, <temporary> is "." + <final> without ".spkt" + "." + 1 to 41 of
 * [0-9_] + ".tmp". A committed record (.spkc) that does not read exactly
 * like this — bad checksum, truncated, an absolute path, "..", a name that
 * is not a table file of the backend's — fails the open with SPK_ERR_CORRUPT
 * naming the record, and no table file is touched: it can only come from
 * damage or a foreign file, and redoing part of it could break the tables.
 * Only names commit.<[0-9_]+>.spkc are records; other names are let be.
 *
 * FILE FORMAT of a .spkt file, format version 1. Integers are unsigned and
 * little-endian unless said otherwise; offsets are in bytes.
 *
 *   header and schema section
 *     0     4      magic "SPKT"
 *     4     4      format version = 1 (a reader refuses any other)
 *     8     4      flags = 0 (a reader refuses any flag set)
 *     12    4      L: length of the schema text
 *     16    L      the schema as DDL text (spk_schema_ddl, read back with
 *                  spk_schema_parse): "id BIGINT NOT NULL, name STRING";
 *                  UTF-8, no NUL byte; L = 0 for a table without columns
 *     16+L  4      W: bytes per row slot
 *     20+L  4      C: column count
 *     24+L  8      R: row count
 *     32+L  4      K: chunk count (the section ends at 36+L)
 *   K chunks, each:
 *           4      N: rows in the chunk, 1 to 65536 (SPK_CHUNK_ROWS)
 *           4      H: bytes of the chunk's string heap
 *           N*W    the row slots, row after row
 *           H      the string heap
 *           4      CRC-32 of this chunk's bytes, from N to the end of the heap
 *   trailer
 *           4      CRC-32 of the header and schema section (its 36+L bytes)
 *           4      end magic "TKPS"; the file ends here
 *
 * A row slot is the null bitmap, ceil(C / 8) bytes (bit i % 8 of byte i / 8
 * set: column i is NULL; bits past C are ignored), followed by each column's
 * field in schema order with no padding:
 *   BOOLEAN              1 byte, 0 or 1 (a reader takes any other as 1)
 *   INT, DATE            4 bytes, two's complement (DATE: days since 1970-01-01)
 *   BIGINT, TIMESTAMP    8 bytes, two's complement (TIMESTAMP: microseconds
 *                        since 1970-01-01 00:00:00 UTC)
 *   DECIMAL(p,s)         8 bytes, the two's complement unscaled value
 *   DOUBLE               8 bytes, the IEEE-754 binary64 bits (NaN payloads
 *                        and -0.0 kept)
 *   STRING               4 bytes: the end offset of the value's bytes in the
 *                        chunk's heap; it starts at the previous STRING
 *                        field's end in row-major order (0 for the first)
 *   VOID                 0 bytes
 * The field of a NULL value holds any bytes, except a STRING's, which is an
 * end offset like any other (a NULL string's bytes are empty). So W is
 * ceil(C / 8) plus the field widths.
 *
 * The checksum is CRC-32/ISO-HDLC (zlib's crc32, IEEE 802.3): reflected
 * polynomial 0xEDB88320, initial value and final XOR 0xFFFFFFFF; the CRC of
 * the ASCII bytes "123456789" is 0xCBF43926.
 *
 * A reader treats the bytes as hostile: it checks the magics, the version,
 * the flags and the header's checksum before using the header; every length
 * against what is left of the file before it allocates or reads; a chunk's
 * checksum before using its bytes; then that W and C are what the schema
 * gives, each N is 1 to 65536, the Ns add up to R, the file ends right after
 * the trailer, and in each chunk: the STRING end offsets never decrease in
 * row-major order, none passes H and the last equals H (H = 0 without STRING
 * columns), and no NOT NULL column has its null bit set. A writer checks the
 * same of what it writes, and that the schema's DDL reads back as the same
 * schema. Any failure makes the file unreadable as a whole, with a message
 * naming the file and what is wrong. */
#include "backend.c"
#include "filestore.h"

/* ---------------------------------------------------------------- CRC-32 */

/* The byte-at-a-time table, filled once per backend when it opens (a
 * global filled lazily would need a once-flag that sanitizers cannot see).
 * Portable C, outside the POSIX part: the wire format (wire.c) uses it too. */
static void spk__crc_init(uint32_t table[256]) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        table[i] = c;
    }
}

/* zlib's convention: start from 0; crc(a + b) = spk__crc32(t, spk__crc32(t, 0, a), b). */
static uint32_t spk__crc32(const uint32_t table[256], uint32_t crc, const void *data, size_t len) {
    const unsigned char *p = (const unsigned char *)data;
    crc = ~crc;
    for (size_t i = 0; i < len; i++) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

#if defined(__unix__) || defined(__APPLE__)

#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <dirent.h>
#include <errno.h>

#ifdef O_CLOEXEC
#define SPK__FS_CLOEXEC O_CLOEXEC
#else
#define SPK__FS_CLOEXEC 0
#endif

#define SPK__FS_FORMAT 1
#define SPK__FS_NAME_MAX 128
#define SPK__FS_MIN_FILE 44 /* 36 bytes of header with L = 0, and the trailer */

/* The backend's context: read-only once opened (but for `broken`), so
 * shared by every thread. */
typedef struct spk__fs {
    const spk_allocator *alloc;
    char *base; /* without a trailing '/' (unless it is "/") */
    size_t base_size;
    uint32_t crc[256];
    atomic_bool broken; /* a transaction's commit is left to the next open: no more writes */
} spk__fs;

/* ---------------------------------------------------------------- small helpers */

static void spk__le32_put(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void spk__le64_put(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t spk__le32_get(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint64_t spk__le64_get(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static bool spk__fs_host_le(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Slot fields between host order and the file's little-endian order (the
 * same swap both ways; only big-endian hosts need it). */
static void spk__fs_swap_slots(const spk_table *t, unsigned char *rows, uint32_t nrows) {
    for (uint32_t r = 0; r < nrows; r++) {
        unsigned char *slot = rows + (size_t)r * t->width;
        for (int col = 0; col < t->ncols; col++) {
            uint32_t w = spk__field_width((spk_type_id)spk_schema_field(t->schema, col)->type.id);
            unsigned char *p = slot + t->offset[col];
            for (uint32_t i = 0; i < w / 2; i++) {
                unsigned char x = p[i];
                p[i] = p[w - 1 - i];
                p[w - 1 - i] = x;
            }
        }
    }
}

/* A database or table name as the catalog makes them: 1 to 128 of [a-z0-9_]. */
static bool spk__fs_name_ok(const char *s, size_t len) {
    if (len == 0 || len > SPK__FS_NAME_MAX) return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_')) return false;
    return true;
}

/* "<table>.<version>.spkt" -> table (129 bytes) and version >= 1. */
static bool spk__fs_parse_version_name(const char *name, char *table, uint64_t *version) {
    size_t len = strlen(name);
    if (len < 7 || memcmp(name + len - 5, ".spkt", 5) != 0) return false;
    const char *dot = (const char *)memchr(name, '.', len);
    size_t tlen = (size_t)(dot - name);
    if (tlen + 1 >= len - 5) return false; /* no digits between the dots */
    size_t dlen = len - 5 - tlen - 1;
    if (!spk__fs_name_ok(name, tlen) || dlen > 20 || dot[1] == '0') return false;
    uint64_t v = 0;
    for (size_t i = 0; i < dlen; i++) {
        char c = dot[1 + i];
        if (c < '0' || c > '9' || v > (UINT64_MAX - (uint64_t)(c - '0')) / 10) return false;
        v = v * 10 + (uint64_t)(c - '0');
    }
    memcpy(table, name, tlen);
    table[tlen] = 0;
    *version = v;
    return true;
}

static bool spk__fs_is_tmp_name(const char *name) {
    size_t len = strlen(name);
    return len > 5 && name[0] == '.' && memcmp(name + len - 4, ".tmp", 4) == 0;
}

/* A path formatted into a new allocation of *size bytes; NULL when out of memory. */
static char *spk__fs_path(const spk_allocator *a, size_t *size, const char *fmt, ...) SPK__PRINTF(3, 4);
static char *spk__fs_path(const spk_allocator *a, size_t *size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    char *p = (char *)spk__alloc(a, (size_t)n + 1);
    if (!p) {
        spk__nomem("a path", (size_t)n + 1);
        return NULL;
    }
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *size = (size_t)n + 1;
    return p;
}

static spk_status spk__fs_io(const char *what, const char *path, int err) {
    return spk__fail(SPK_ERR_IO, "cannot %s %s: %s", what, path, strerror(err));
}

/* Writes everything, through EINTR and short writes; 0 or an errno. */
static int spk__fs_write_all(int fd, const unsigned char *p, size_t n) {
    while (n) {
        size_t step = n > ((size_t)1 << 30) ? (size_t)1 << 30 : n;
        ssize_t w = write(fd, p, step);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (w == 0) return EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads exactly n bytes; 0, an errno, or -1 at the end of the file. */
static int spk__fs_read_all(int fd, unsigned char *p, size_t n) {
    while (n) {
        size_t step = n > ((size_t)1 << 30) ? (size_t)1 << 30 : n;
        ssize_t r = read(fd, p, step);
        if (r < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (r == 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int spk__fs_fsync(int fd) {
    while (fsync(fd) != 0)
        if (errno != EINTR) return errno;
    return 0;
}

/* fsync of a directory, so that a rename or an entry in it is durable;
 * file systems that cannot sync directories (EINVAL) are let be. */
static int spk__fs_sync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | SPK__FS_CLOEXEC);
    if (fd < 0) return errno;
    int err = spk__fs_fsync(fd);
    close(fd);
    return err == EINVAL ? 0 : err;
}

static bool spk__fs_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---------------------------------------------------------------- chunk checks */

/* Checks what reads of a chunk's first nrows rows rely on (see the
 * format): NULL bits of NOT NULL columns are 0; STRING end offsets never
 * decrease in row-major order, stay within heap_len, and the last one is
 * heap_len. On failure writes why into `why`. */
static bool spk__fs_chunk_ok(const spk_table *t, const spk__chunk *c, uint32_t nrows, uint32_t heap_len, char *why,
                             size_t cap) {
    uint32_t prev = 0;
    for (uint32_t r = 0; r < nrows; r++) {
        const unsigned char *nulls = spk__nulls_at(t, c, r);
        for (int col = 0; col < t->ncols; col++) {
            const spk_field *f = spk_schema_field(t->schema, col);
            if (!f->nullable && spk__slot_is_null(nulls, col)) {
                snprintf(why, cap, "row %u has a NULL in NOT NULL column `%s`", r + 1, f->name);
                return false;
            }
            if (f->type.id != SPK_TYPE_STRING) continue;
            uint32_t end = spk__load_u32(spk__field_at(t, c, r, col));
            if (end < prev || end > heap_len) {
                snprintf(why, cap, "row %u, column `%s`: string end offset %u is %s", r + 1, f->name, end,
                         end < prev ? "before the previous string's end" : "past the end of the string heap");
                return false;
            }
            prev = end;
        }
    }
    if (t->last_string >= 0 && nrows && prev != heap_len) {
        snprintf(why, cap, "the strings end at offset %u but the string heap holds %u bytes", prev, heap_len);
        return false;
    }
    if ((t->last_string < 0 || !nrows) && heap_len) {
        snprintf(why, cap, "%u bytes of string heap without strings", heap_len);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- writing a file */

typedef struct spk__fs_out {
    const uint32_t *crc_table;
    int fd;
    int err;            /* the first errno; 0 = none */
    unsigned char *buf; /* SPK__FS_BUF bytes */
    size_t used;
    uint32_t crc;       /* of the current section */
} spk__fs_out;

#define SPK__FS_BUF 65536

static void spk__fs_flush(spk__fs_out *o) {
    if (!o->err && o->used) o->err = spk__fs_write_all(o->fd, o->buf, o->used);
    o->used = 0;
}

static void spk__fs_put(spk__fs_out *o, const void *data, size_t n) {
    o->crc = spk__crc32(o->crc_table, o->crc, data, n);
    if (n > SPK__FS_BUF - o->used) spk__fs_flush(o);
    if (n >= SPK__FS_BUF) {
        if (!o->err) o->err = spk__fs_write_all(o->fd, (const unsigned char *)data, n);
        return;
    }
    if (n) memcpy(o->buf + o->used, data, n);
    o->used += n;
}

static void spk__fs_put_u32(spk__fs_out *o, uint32_t v) {
    unsigned char b[4];
    spk__le32_put(b, v);
    spk__fs_put(o, b, 4);
}

/* The heap bytes a chunk's rows use: where its last string ends. */
static uint32_t spk__fs_heap_used(const spk_table *t, const spk__chunk *c) {
    if (t->last_string < 0 || !c->nrows) return 0;
    return spk__load_u32(spk__field_at(t, c, c->nrows - 1, t->last_string));
}

/* The schema as DDL text that reads back as the same schema (*ddl allocated, *size bytes). */
static spk_status spk__fs_schema_text(const spk_allocator *a, const spk_schema *schema, const char *key, char **ddl,
                                      size_t *size) {
    size_t n = spk_schema_ddl(schema, NULL, 0);
    if (n > UINT32_MAX - 64) return spk__fail(SPK_ERR_LIMIT, "table %s: its schema is too long to store", key);
    char *text = (char *)spk__alloc(a, n + 1);
    if (!text) return spk__nomem("a schema text", n + 1);
    spk_schema_ddl(schema, text, n + 1);
    spk_status st = SPK_OK;
    if (spk_schema_ncols(schema) > 0) {
        spk_schema *back = NULL;
        st = spk_schema_parse(a, text, &back);
        if (st == SPK_ERR_NOMEM) {
            /* as it is */
        } else if (st != SPK_OK || !spk_schema_equal(schema, back, true)) {
            st = spk__fail(SPK_ERR_UNSUPPORTED, "table %s: its schema (%s) cannot be stored: it does not read back the same",
                           key, text);
        }
        spk_schema_release(back);
    }
    if (st != SPK_OK) {
        spk__free(a, text, n + 1);
        return st;
    }
    *ddl = text;
    *size = n + 1;
    return SPK_OK;
}

/* Writes rows to a new file at `path` (which must not exist) and fsyncs it.
 * On failure the file is removed. */
static spk_status spk__fs_write_file(const spk__fs *fs, const char *path, const char *key, const spk_table *t) {
    const spk_allocator *a = fs->alloc;
    char *ddl = NULL;
    size_t ddl_size = 0;
    spk_status st = spk__fs_schema_text(a, t->schema, key, &ddl, &ddl_size);
    if (st != SPK_OK) return st;
    /* Check every chunk first: never write a file that would not read back. */
    uint32_t nchunks = 0;
    size_t scratch_size = 0; /* the largest chunk's rows as the file's slots */
    for (size_t i = 0; st == SPK_OK && i < t->nchunks; i++) {
        const spk__chunk *c = t->chunks[i];
        if (!c->nrows) continue;
        if ((size_t)c->nrows * t->width > scratch_size) scratch_size = (size_t)c->nrows * t->width;
        char why[256];
        uint32_t heap = spk__fs_heap_used(t, c);
        bool ok = heap <= c->heap_len && (!heap || c->heap);
        if (!ok) snprintf(why, sizeof why, "its strings end past its heap");
        else ok = spk__fs_chunk_ok(t, c, c->nrows, heap, why, sizeof why);
        if (!ok) st = spk__fail(SPK_ERR_INTERNAL, "table %s: chunk %zu is inconsistent (%s); nothing was written", key, i + 1, why);
        if (nchunks == UINT32_MAX) st = spk__fail(SPK_ERR_LIMIT, "table %s has too many chunks to store", key);
        nchunks++;
    }
    bool swap = !spk__fs_host_le();
    unsigned char *scratch = NULL;
    spk__fs_out o = {fs->crc, -1, 0, NULL, 0, 0};
    if (st == SPK_OK && !(o.buf = (unsigned char *)spk__alloc(a, SPK__FS_BUF))) st = spk__nomem("a write buffer", SPK__FS_BUF);
    if (st == SPK_OK && scratch_size && !(scratch = (unsigned char *)spk__alloc(a, scratch_size)))
        st = spk__nomem("a write buffer", scratch_size);
    if (st == SPK_OK) {
        o.fd = open(path, O_WRONLY | O_CREAT | O_EXCL | SPK__FS_CLOEXEC, 0666);
        if (o.fd < 0) st = spk__fs_io("create", path, errno);
    }
    if (st == SPK_OK) {
        unsigned char head[36];
        uint32_t ddl_len = (uint32_t)(ddl_size - 1);
        memcpy(head, "SPKT", 4);
        spk__le32_put(head + 4, SPK__FS_FORMAT);
        spk__le32_put(head + 8, 0);
        spk__le32_put(head + 12, ddl_len);
        spk__fs_put(&o, head, 16);
        spk__fs_put(&o, ddl, ddl_len);
        spk__le32_put(head, t->width);
        spk__le32_put(head + 4, (uint32_t)t->ncols);
        spk__le64_put(head + 8, (uint64_t)t->nrows);
        spk__le32_put(head + 16, nchunks);
        spk__fs_put(&o, head, 20);
        uint32_t header_crc = o.crc;
        for (size_t i = 0; i < t->nchunks && !o.err; i++) {
            const spk__chunk *c = t->chunks[i];
            if (!c->nrows) continue;
            uint32_t heap = spk__fs_heap_used(t, c);
            size_t slots = (size_t)c->nrows * t->width;
            o.crc = 0;
            spk__fs_put_u32(&o, c->nrows);
            spk__fs_put_u32(&o, heap);
            if (slots) {
                spk__chunk_get_slots(t, c, 0, c->nrows, scratch);
                if (swap) spk__fs_swap_slots(t, scratch, c->nrows);
                spk__fs_put(&o, scratch, slots);
            }
            if (heap) spk__fs_put(&o, c->heap, heap);
            spk__fs_put_u32(&o, o.crc);
        }
        spk__fs_put_u32(&o, header_crc);
        spk__fs_put(&o, "TKPS", 4);
        spk__fs_flush(&o);
        if (!o.err) o.err = spk__fs_fsync(o.fd);
        if (close(o.fd) != 0 && !o.err && errno != EINTR) o.err = errno;
        o.fd = -1;
        if (o.err) {
            st = spk__fs_io("write", path, o.err);
            unlink(path);
        }
    }
    spk__free(a, o.buf, SPK__FS_BUF);
    spk__free(a, scratch, scratch_size);
    spk__free(a, ddl, ddl_size);
    return st;
}

/* ---------------------------------------------------------------- reading a file */

typedef struct spk__fs_in {
    const uint32_t *crc_table;
    int fd;
    const char *path;
    uint64_t size, pos;
} spk__fs_in;

static spk_status spk__fs_corrupt(const char *path, const char *fmt, ...) SPK__PRINTF(2, 3);
static spk_status spk__fs_corrupt(const char *path, const char *fmt, ...) {
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return spk__fail(SPK_ERR_CORRUPT, "%s: %s (the file is corrupt)", path, why);
}

/* Reads n bytes at the current position; they must lie before the trailer
 * when `body` (else anywhere in the file). */
static spk_status spk__fs_take(spk__fs_in *in, void *buf, size_t n, bool body, const char *what) {
    uint64_t end = body ? in->size - 8 : in->size;
    if (in->pos > end || n > end - in->pos)
        return spk__fs_corrupt(in->path, "%s extends past the end of the file (truncated?)", what);
    int err = spk__fs_read_all(in->fd, (unsigned char *)buf, n);
    if (err == -1) return spk__fs_corrupt(in->path, "the file ended while reading %s (truncated?)", what);
    if (err) return spk__fs_io("read", in->path, err);
    in->pos += n;
    return SPK_OK;
}

/* One chunk into `c` (fresh, already in t's chunk list). `number` is 1-based. */
static spk_status spk__fs_read_chunk(spk__fs_in *in, spk_table *t, spk__chunk *c, uint32_t number, bool swap) {
    unsigned char head[8], sum[4];
    spk_status st = spk__fs_take(in, head, 8, true, "a chunk header");
    if (st != SPK_OK) return st;
    uint32_t nrows = spk__le32_get(head), heap = spk__le32_get(head + 4);
    if (nrows == 0 || nrows > SPK_CHUNK_ROWS)
        return spk__fs_corrupt(in->path, "chunk %u holds %u rows (1 to %u allowed)", number, nrows, (unsigned)SPK_CHUNK_ROWS);
    uint64_t slots = (uint64_t)nrows * t->width, left = in->size - 8 - in->pos;
    if (slots > left || heap > left - slots || 4 > left - slots - heap)
        return spk__fs_corrupt(in->path, "chunk %u (%u rows, %u bytes of strings) extends past the end of the file (truncated?)",
                               number, nrows, heap);
    c->rows = (unsigned char *)spk__table_alloc(t, (size_t)slots);
    if (!c->rows) return spk__nomem("table rows", (size_t)slots);
    c->cap_rows = nrows;
    if (heap) {
        c->heap = (char *)spk__table_alloc(t, heap);
        if (!c->heap) return spk__nomem("table strings", heap);
        c->heap_cap = heap;
    }
    st = spk__fs_take(in, c->rows, (size_t)slots, true, "a chunk's rows");
    if (st == SPK_OK && heap) st = spk__fs_take(in, c->heap, heap, true, "a chunk's strings");
    if (st == SPK_OK) st = spk__fs_take(in, sum, 4, true, "a chunk checksum");
    if (st != SPK_OK) return st;
    const uint32_t *table = in->crc_table;
    uint32_t crc = spk__crc32(table, spk__crc32(table, 0, head, 8), c->rows, (size_t)slots);
    if (heap) crc = spk__crc32(table, crc, c->heap, heap);
    if (crc != spk__le32_get(sum)) return spk__fs_corrupt(in->path, "checksum mismatch in chunk %u", number);
    if (swap) spk__fs_swap_slots(t, c->rows, nrows);
    unsigned char *as_read = c->rows, *by_column = (unsigned char *)spk__table_alloc(t, (size_t)slots);
    if (!by_column) return spk__nomem("table rows", (size_t)slots); /* the chunk frees what was read */
    c->rows = by_column;
    spk__chunk_put_slots(t, c, 0, as_read, nrows);
    spk__table_free_block(t, as_read, (size_t)slots);
    char why[256];
    if (!spk__fs_chunk_ok(t, c, nrows, heap, why, sizeof why))
        return spk__fs_corrupt(in->path, "chunk %u: %s", number, why);
    c->nrows = nrows;
    c->heap_len = heap;
    return SPK_OK;
}

/* Reads a table file. SPK_ERR_CORRUPT when the content is wrong,
 * SPK_ERR_IO when it cannot be read, SPK_ERR_NOMEM; messages name the file. */
static spk_status spk__fs_read_file(const spk__fs *fs, const char *path, spk_table **out) {
    const spk_allocator *a = fs->alloc;
    spk__fs_in in = {fs->crc, -1, path, 0, 0};
    in.fd = open(path, O_RDONLY | SPK__FS_CLOEXEC);
    if (in.fd < 0) return spk__fs_io("open", path, errno);
    struct stat sb;
    spk_status st = SPK_OK;
    if (fstat(in.fd, &sb) != 0) st = spk__fs_io("read", path, errno);
    else if (!S_ISREG(sb.st_mode)) st = spk__fs_corrupt(path, "not a regular file");
    in.size = st == SPK_OK ? (uint64_t)sb.st_size : 0;
    unsigned char head[16] = {0}, tail[8] = {0}, rest[20] = {0};
    char *ddl = NULL;
    uint32_t ddl_len = 0;
    spk_table *t = NULL;
    if (st == SPK_OK && in.size < 4) st = spk__fs_corrupt(path, "%llu bytes is too short for a table file (truncated?)",
                                                          (unsigned long long)in.size);
    if (st == SPK_OK) st = spk__fs_take(&in, head, 4, false, "the magic");
    if (st == SPK_OK && memcmp(head, "SPKT", 4) != 0)
        st = spk__fs_corrupt(path, "bad magic: not a sparkless table file");
    if (st == SPK_OK && in.size < 12) st = spk__fs_corrupt(path, "%llu bytes is too short for a table file (truncated?)",
                                                           (unsigned long long)in.size);
    if (st == SPK_OK) st = spk__fs_take(&in, head + 4, 12, false, "the header");
    if (st == SPK_OK && spk__le32_get(head + 4) != SPK__FS_FORMAT)
        st = spk__fail(SPK_ERR_CORRUPT, "%s: format version %u is not supported (this build reads version %d)", path,
                       spk__le32_get(head + 4), SPK__FS_FORMAT);
    if (st == SPK_OK && spk__le32_get(head + 8) != 0)
        st = spk__fail(SPK_ERR_CORRUPT, "%s: unsupported flags 0x%x in the header (this build knows none)", path,
                       spk__le32_get(head + 8));
    if (st == SPK_OK && in.size < SPK__FS_MIN_FILE)
        st = spk__fs_corrupt(path, "%llu bytes is too short for a table file (truncated?)", (unsigned long long)in.size);
    /* The trailer first: the header's checksum is there. */
    if (st == SPK_OK) {
        if (lseek(in.fd, (off_t)(in.size - 8), SEEK_SET) < 0) st = spk__fs_io("read", path, errno);
        else {
            in.pos = in.size - 8;
            st = spk__fs_take(&in, tail, 8, false, "the trailer");
        }
        if (st == SPK_OK && memcmp(tail + 4, "TKPS", 4) != 0)
            st = spk__fs_corrupt(path, "no end marker: the file is truncated or was not completely written");
        if (st == SPK_OK && lseek(in.fd, 16, SEEK_SET) < 0) st = spk__fs_io("read", path, errno);
        in.pos = 16;
    }
    if (st == SPK_OK) {
        ddl_len = spk__le32_get(head + 12);
        if ((uint64_t)ddl_len > in.size - SPK__FS_MIN_FILE)
            st = spk__fs_corrupt(path, "the schema length %u exceeds the file", ddl_len);
        else if (!(ddl = (char *)spk__alloc(a, (size_t)ddl_len + 1)))
            st = spk__nomem("a schema text", (size_t)ddl_len + 1);
    }
    if (st == SPK_OK) st = spk__fs_take(&in, ddl, ddl_len, true, "the schema");
    if (st == SPK_OK) st = spk__fs_take(&in, rest, 20, true, "the header");
    if (st == SPK_OK) {
        uint32_t crc = spk__crc32(fs->crc, spk__crc32(fs->crc, spk__crc32(fs->crc, 0, head, 16), ddl, ddl_len), rest, 20);
        if (crc != spk__le32_get(tail)) st = spk__fs_corrupt(path, "checksum mismatch in the header");
    }
    /* The schema and the layout it gives. */
    spk_schema *schema = NULL;
    if (st == SPK_OK) {
        ddl[ddl_len] = 0;
        if (memchr(ddl, 0, ddl_len)) st = spk__fs_corrupt(path, "the schema text holds a NUL byte");
        else if (ddl_len == 0) st = spk_schema_new(a, NULL, 0, &schema);
        else if ((st = spk_schema_parse(a, ddl, &schema)) != SPK_OK && st != SPK_ERR_NOMEM) {
            char why[SPK_ERROR_MAX];
            snprintf(why, sizeof why, "%s", spk_last_error());
            st = spk__fail(SPK_ERR_CORRUPT, "%s: the schema does not parse (the file is corrupt): %s", path, why);
        }
    }
    if (st == SPK_OK) {
        st = spk_table_new(a, schema, &t);
        spk_schema_release(schema);
    }
    uint32_t width = spk__le32_get(rest), ncols = spk__le32_get(rest + 4), nchunks = spk__le32_get(rest + 16);
    uint64_t nrows = spk__le64_get(rest + 8);
    if (st == SPK_OK && (width != t->width || ncols != (uint32_t)t->ncols))
        st = spk__fs_corrupt(path, "the header gives %u columns in %u bytes a row, the schema %d columns in %u bytes", ncols,
                             width, t->ncols, t->width);
    if (st == SPK_OK && (uint64_t)nchunks * 12 > in.size - 8 - in.pos)
        st = spk__fs_corrupt(path, "%u chunks cannot fit in the file (truncated?)", nchunks);
    if (st == SPK_OK && nrows > (uint64_t)nchunks * SPK_CHUNK_ROWS)
        st = spk__fs_corrupt(path, "%llu rows cannot fit in %u chunks", (unsigned long long)nrows, nchunks);
    if (st == SPK_OK && nchunks) {
        t->chunks = (spk__chunk **)spk__table_alloc(t, (size_t)nchunks * sizeof *t->chunks);
        if (!t->chunks) st = spk__nomem("the chunk list", (size_t)nchunks * sizeof *t->chunks);
        else t->cap_chunks = nchunks;
    }
    bool swap = !spk__fs_host_le();
    for (uint32_t i = 0; st == SPK_OK && i < nchunks; i++) {
        spk__chunk *c = (spk__chunk *)spk__table_alloc(t, sizeof *c);
        if (!c) {
            st = spk__nomem("a chunk", sizeof *c);
            break;
        }
        memset(c, 0, sizeof *c);
        atomic_init(&c->refs, 1);
        c->first_row = t->nrows;
        t->chunks[t->nchunks++] = c; /* freed with t from here on */
        st = spk__fs_read_chunk(&in, t, c, i + 1, swap);
        if (st == SPK_OK && c->nrows > nrows - t->nrows)
            st = spk__fs_corrupt(path, "the chunks hold more than the header's %llu rows", (unsigned long long)nrows);
        if (st == SPK_OK) t->nrows += c->nrows;
    }
    if (st == SPK_OK && t->nrows != nrows)
        st = spk__fs_corrupt(path, "the chunks hold %zu rows, the header says %llu", t->nrows, (unsigned long long)nrows);
    if (st == SPK_OK && in.pos != in.size - 8)
        st = spk__fs_corrupt(path, "%llu unexpected bytes after the last chunk", (unsigned long long)(in.size - 8 - in.pos));
    close(in.fd);
    if (ddl) spk__free(a, ddl, (size_t)ddl_len + 1);
    if (st != SPK_OK) {
        spk_table_free(t);
        return st;
    }
    *out = t;
    return SPK_OK;
}

/* ---------------------------------------------------------------- directory listings */

/* A table's version files in a database directory. */
typedef struct spk__fs_entry {
    char table[SPK__FS_NAME_MAX + 1];
    uint64_t version;
} spk__fs_entry;

typedef struct spk__fs_list {
    const spk_allocator *alloc;
    spk__fs_entry *e;
    size_t n, cap;
} spk__fs_list;

static void spk__fs_list_free(spk__fs_list *l) {
    if (l->e) spk__free(l->alloc, l->e, l->cap * sizeof *l->e);
    l->e = NULL;
    l->n = l->cap = 0;
}

static int spk__fs_entry_cmp(const void *x, const void *y) {
    const spk__fs_entry *a = (const spk__fs_entry *)x, *b = (const spk__fs_entry *)y;
    int c = strcmp(a->table, b->table);
    if (c) return c;
    return a->version < b->version ? -1 : a->version > b->version;
}

/* Lists dir's version files (of `table` only, unless NULL), sorted by table
 * then version; with remove_tmp, removes temporary files as it goes.
 * A missing directory is an empty list. */
static spk_status spk__fs_scan(spk__fs_list *l, const char *dir, const char *table, bool remove_tmp) {
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? SPK_OK : spk__fs_io("read directory", dir, errno);
    spk_status st = SPK_OK;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno) st = spk__fs_io("read directory", dir, errno);
            break;
        }
        spk__fs_entry entry;
        if (remove_tmp && spk__fs_is_tmp_name(e->d_name)) {
            size_t size = 0;
            char *path = spk__fs_path(l->alloc, &size, "%s/%s", dir, e->d_name);
            if (!path) {
                st = SPK_ERR_NOMEM;
                break;
            }
            unlink(path); /* best effort */
            spk__free(l->alloc, path, size);
            continue;
        }
        if (!spk__fs_parse_version_name(e->d_name, entry.table, &entry.version)) continue;
        if (table && strcmp(entry.table, table) != 0) continue;
        if (l->n == l->cap) {
            size_t cap = l->cap ? l->cap * 2 : 16;
            void *p = spk__realloc(l->alloc, l->e, l->cap * sizeof *l->e, cap * sizeof *l->e);
            if (!p) {
                st = spk__nomem("a directory listing", cap * sizeof *l->e);
                break;
            }
            l->e = (spk__fs_entry *)p;
            l->cap = cap;
        }
        l->e[l->n++] = entry;
    }
    closedir(d);
    if (st == SPK_OK && l->n > 1) qsort(l->e, l->n, sizeof *l->e, spk__fs_entry_cmp);
    return st;
}

/* ---------------------------------------------------------------- persistence hooks */

typedef struct spk__fs_token {
    char *dir, *tmp, *final;
    size_t dir_size, tmp_size, final_size;
    bool kept; /* named by a commit record: its temporary file is the next open's to rename */
} spk__fs_token;

static atomic_ulong spk__fs_tmp_counter;

static void spk__fs_token_free(const spk_allocator *a, spk__fs_token *k) {
    if (!k) return;
    spk__free(a, k->dir, k->dir_size);
    spk__free(a, k->tmp, k->tmp_size);
    spk__free(a, k->final, k->final_size);
    spk__free(a, k, sizeof *k);
}

static const char *spk__fs_sep(const spk__fs *fs) { return strcmp(fs->base, "/") == 0 ? "" : "/"; }

static char *spk__fs_dir(const spk__fs *fs, const char *db, size_t *size) {
    return spk__fs_path(fs->alloc, size, "%s%s%s", fs->base, spk__fs_sep(fs), db);
}

static char *spk__fs_version_path(const spk__fs *fs, const char *dir, const char *table, uint64_t version, size_t *size) {
    return spk__fs_path(fs->alloc, size, "%s/%s.%llu.spkt", dir, table, (unsigned long long)version);
}

static spk_status spk__fs_check_names(const char *db, const char *table) {
    if (!db || !spk__fs_name_ok(db, strlen(db)))
        return spk__fail(SPK_ERR_ARG, "the file backend cannot store database name '%s' (1 to %d of a-z, 0-9, _)",
                         db ? db : "(null)", SPK__FS_NAME_MAX);
    if (table && !spk__fs_name_ok(table, strlen(table)))
        return spk__fail(SPK_ERR_ARG, "the file backend cannot store table name '%s' (1 to %d of a-z, 0-9, _)", table,
                         SPK__FS_NAME_MAX);
    return SPK_OK;
}

/* After a transaction's commit was left to the next open (see the header
 * comment), this backend's memory and files disagree: no more changes. */
static spk_status spk__fs_check_writable(spk__fs *fs) {
    if (!atomic_load(&fs->broken)) return SPK_OK;
    return spk__fail(SPK_ERR_IO, "the file backend at %s refuses changes: a transaction's commit could not be finished "
                                 "there (the next open of the base path finishes it); reopen the backend", fs->base);
}

static spk_status spk__fs_prepare(void *ctx, const char *db, const char *table, uint64_t version, const spk_table *rows,
                                  void **token) {
    spk__fs *fs = (spk__fs *)ctx;
    spk_status st = spk__fs_check_writable(fs);
    if (st != SPK_OK) return st;
    st = spk__fs_check_names(db, table);
    if (st != SPK_OK) return st;
    spk__fs_token *k = (spk__fs_token *)spk__calloc(fs->alloc, sizeof *k);
    if (!k) return spk__nomem("a file write", sizeof *k);
    unsigned long unique = atomic_fetch_add(&spk__fs_tmp_counter, 1);
    k->dir = spk__fs_dir(fs, db, &k->dir_size);
    if (k->dir) k->final = spk__fs_version_path(fs, k->dir, table, version, &k->final_size);
    if (k->final)
        k->tmp = spk__fs_path(fs->alloc, &k->tmp_size, "%s/.%s.%llu.%ld_%lu.tmp", k->dir, table, (unsigned long long)version,
                              (long)getpid(), unique);
    if (!k->tmp) {
        spk__fs_token_free(fs->alloc, k);
        return SPK_ERR_NOMEM;
    }
    char key[SPK__KEY_MAX];
    spk__store_key(key, sizeof key, db, table);
    st = spk__fs_write_file(fs, k->tmp, key, rows);
    if (st == SPK_ERR_IO && !spk__fs_is_dir(k->dir) && errno == ENOENT)
        st = spk__fail(SPK_ERR_NOT_FOUND, "database `%s` not found", db);
    if (st != SPK_OK) {
        spk__fs_token_free(fs->alloc, k);
        return st;
    }
    *token = k;
    return SPK_OK;
}

static spk_status spk__fs_commit(void *ctx, void *token) {
    spk_status st = spk__fs_check_writable((spk__fs *)ctx);
    if (st != SPK_OK) return st;
    spk__fs_token *k = (spk__fs_token *)token;
    if (rename(k->tmp, k->final) != 0) {
        int err = errno;
        return spk__fail(SPK_ERR_IO, "cannot rename %s to %s: %s", k->tmp, k->final, strerror(err));
    }
    int err = spk__fs_sync_dir(k->dir);
    if (err) {
        unlink(k->final); /* not durable: the write fails, so take it back */
        return spk__fs_io("sync directory", k->dir, err);
    }
    return SPK_OK;
}

static void spk__fs_release(void *ctx, void *token, bool committed) {
    spk__fs *fs = (spk__fs *)ctx;
    spk__fs_token *k = (spk__fs_token *)token;
    if (!k) return;
    if (!committed && !k->kept) unlink(k->tmp);
    spk__fs_token_free(fs->alloc, k);
}

static void spk__fs_retire(void *ctx, const char *db, const char *table, uint64_t version) {
    spk__fs *fs = (spk__fs *)ctx;
    size_t dir_size = 0;
    char *dir = spk__fs_dir(fs, db, &dir_size);
    if (!dir) return;
    spk__fs_list l = {fs->alloc, NULL, 0, 0};
    if (spk__fs_scan(&l, dir, table, false) == SPK_OK)
        for (size_t i = 0; i < l.n && l.e[i].version < version; i++) {
            size_t size = 0;
            char *path = spk__fs_version_path(fs, dir, table, l.e[i].version, &size);
            if (!path) break;
            unlink(path);
            spk__free(fs->alloc, path, size);
        }
    spk__fs_list_free(&l);
    spk__free(fs->alloc, dir, dir_size);
}

static spk_status spk__fs_create_schema(void *ctx, const char *db) {
    spk__fs *fs = (spk__fs *)ctx;
    spk_status st = spk__fs_check_writable(fs);
    if (st == SPK_OK) st = spk__fs_check_names(db, NULL);
    if (st != SPK_OK) return st;
    size_t size = 0;
    char *dir = spk__fs_dir(fs, db, &size);
    if (!dir) return SPK_ERR_NOMEM;
    if (mkdir(dir, 0777) != 0) {
        int err = errno;
        if (err != EEXIST) st = spk__fs_io("create directory", dir, err);
        else if (!spk__fs_is_dir(dir)) st = spk__fail(SPK_ERR_IO, "cannot create directory %s: a file of that name exists", dir);
    }
    int err = st == SPK_OK ? spk__fs_sync_dir(fs->base) : 0;
    if (err) st = spk__fs_io("sync directory", fs->base, err);
    spk__free(fs->alloc, dir, size);
    return st;
}

static spk_status spk__fs_drop_table(void *ctx, const char *db, const char *table) {
    spk__fs *fs = (spk__fs *)ctx;
    spk_status st = spk__fs_check_writable(fs);
    if (st == SPK_OK) st = spk__fs_check_names(db, table);
    if (st != SPK_OK) return st;
    size_t dir_size = 0;
    char *dir = spk__fs_dir(fs, db, &dir_size);
    if (!dir) return SPK_ERR_NOMEM;
    spk__fs_list l = {fs->alloc, NULL, 0, 0};
    st = spk__fs_scan(&l, dir, table, false);
    /* Oldest first: if one cannot go, the newest is still there. */
    for (size_t i = 0; st == SPK_OK && i < l.n; i++) {
        size_t size = 0;
        char *path = spk__fs_version_path(fs, dir, table, l.e[i].version, &size);
        if (!path) st = SPK_ERR_NOMEM;
        else if (unlink(path) != 0 && errno != ENOENT) st = spk__fs_io("remove", path, errno);
        spk__free(fs->alloc, path, size);
    }
    if (st == SPK_OK && l.n) (void)spk__fs_sync_dir(dir);
    spk__fs_list_free(&l);
    spk__free(fs->alloc, dir, dir_size);
    return st;
}

static spk_status spk__fs_drop_schema(void *ctx, const char *db) {
    spk__fs *fs = (spk__fs *)ctx;
    spk_status st = spk__fs_check_writable(fs);
    if (st == SPK_OK) st = spk__fs_check_names(db, NULL);
    if (st != SPK_OK) return st;
    size_t dir_size = 0;
    char *dir = spk__fs_dir(fs, db, &dir_size);
    if (!dir) return SPK_ERR_NOMEM;
    /* What is left (temporary files of writes that will fail, foreign files),
     * then the directory; again if a write put a file there meanwhile. */
    for (int attempt = 0; st == SPK_OK; attempt++) {
        DIR *d = opendir(dir);
        if (!d) {
            if (errno != ENOENT) st = spk__fs_io("read directory", dir, errno);
            break;
        }
        for (;;) {
            errno = 0;
            struct dirent *e = readdir(d);
            if (!e) {
                if (errno) st = spk__fs_io("read directory", dir, errno);
                break;
            }
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            size_t size = 0;
            char *path = spk__fs_path(fs->alloc, &size, "%s/%s", dir, e->d_name);
            if (!path) st = SPK_ERR_NOMEM;
            else if (unlink(path) != 0 && errno != ENOENT) st = spk__fs_io("remove", path, errno);
            spk__free(fs->alloc, path, size);
            if (st != SPK_OK) break;
        }
        closedir(d);
        if (st != SPK_OK) break;
        if (rmdir(dir) == 0 || errno == ENOENT) break;
        if ((errno != ENOTEMPTY && errno != EEXIST) || attempt == 8) st = spk__fs_io("remove directory", dir, errno);
    }
    if (st == SPK_OK) (void)spk__fs_sync_dir(fs->base);
    spk__free(fs->alloc, dir, dir_size);
    return st;
}

static void spk__fs_close(void *ctx) {
    spk__fs *fs = (spk__fs *)ctx;
    if (!fs) return;
    spk__free(fs->alloc, fs->base, fs->base_size);
    spk__free(fs->alloc, fs, sizeof *fs);
}

/* ---------------------------------------------------------------- transactions */

#define SPK__FS_RECORD_TABLES 65536             /* entries of one commit record */
#define SPK__FS_RECORD_BYTES ((size_t)64 << 20) /* the largest record a reader takes */
#define SPK__FS_UNIQUE_MAX 41                   /* "<pid>_<n>" of a temporary file's name */

/* A path below the base path as a record names it: "db/file". */
static const char *spk__fs_relative(const spk__fs *fs, const char *path) {
    return path + strlen(fs->base) + strlen(spk__fs_sep(fs));
}

/* By directory, so that each directory is fsync'ed once. */
static int spk__fs_token_cmp(const void *x, const void *y) {
    const spk__fs_token *a = *(spk__fs_token *const *)x, *b = *(spk__fs_token *const *)y;
    int c = strcmp(a->dir, b->dir);
    return c ? c : strcmp(a->final, b->final);
}

/* A rename after the commit point cannot be taken back, so a failure gets
 * more tries (a missing source will not come back). 0 or an errno. */
static int spk__fs_rename_retried(const char *from, const char *to) {
    int err = 0;
    for (int attempt = 0; attempt < 3; attempt++) {
        if (rename(from, to) == 0) return 0;
        err = errno;
        if (err == ENOENT) break;
    }
    return err;
}

/* A new file holding `len` bytes of text, fsync'ed; 0 or an errno (then the file is removed). */
static int spk__fs_write_new(const char *path, const char *text, size_t len) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | SPK__FS_CLOEXEC, 0666);
    if (fd < 0) return errno;
    int err = spk__fs_write_all(fd, (const unsigned char *)text, len);
    if (!err) err = spk__fs_fsync(fd);
    if (close(fd) != 0 && !err && errno != EINTR) err = errno;
    if (err) unlink(path);
    return err;
}

/* After the commit point: every temporary file to its final name, then the
 * directories fsync'ed. What fails is left to the next open (the record
 * stays), and the backend refuses changes until then. */
static spk_status spk__fs_finish(spk__fs *fs, spk__fs_token *const *order, int n, const char *record) {
    const char *what = "sync directory", *path = fs->base, *to = NULL;
    int err = spk__fs_sync_dir(fs->base);
    for (int i = 0; !err && i < n; i++)
        if ((err = spk__fs_rename_retried(order[i]->tmp, order[i]->final)) != 0) {
            what = "rename";
            path = order[i]->tmp;
            to = order[i]->final;
        }
    for (int i = 0; !err && i < n; i++)
        if ((i == 0 || strcmp(order[i]->dir, order[i - 1]->dir) != 0) && (err = spk__fs_sync_dir(order[i]->dir)) != 0)
            path = order[i]->dir;
    if (!err) return SPK_OK;
    atomic_store(&fs->broken, true);
    return spk__fail(SPK_ERR_IO, "cannot %s %s%s%s: %s, after the transaction was committed to the record %s: the next "
                                 "open of the base path finishes the transaction from that record; until then this "
                                 "backend refuses changes", what, path, to ? " to " : "", to ? to : "", strerror(err),
                     record);
}

static spk_status spk__fs_commit_all(void *ctx, void *const *tokens, int n) {
    spk__fs *fs = (spk__fs *)ctx;
    if (n == 1) return spk__fs_commit(ctx, tokens[0]); /* one rename is atomic */
    spk_status st = spk__fs_check_writable(fs);
    if (st != SPK_OK || n <= 0) return st;
    if (n > SPK__FS_RECORD_TABLES)
        return spk__fail(SPK_ERR_LIMIT, "a transaction of the file backend writes at most %d tables; this one writes %d, "
                                        "and nothing was written", SPK__FS_RECORD_TABLES, n);
    const spk_allocator *a = fs->alloc;
    size_t order_size = (size_t)n * sizeof(spk__fs_token *);
    spk__fs_token **order = (spk__fs_token **)spk__alloc(a, order_size);
    if (!order) return spk__nomem("a commit record", order_size);
    for (int i = 0; i < n; i++) order[i] = (spk__fs_token *)tokens[i];
    qsort(order, (size_t)n, sizeof *order, spk__fs_token_cmp);
    /* The record's text (see COMMIT RECORD FORMAT) and names. */
    char head[32];
    size_t len = (size_t)snprintf(head, sizeof head, "SPKC 1 %d\n", n);
    for (int i = 0; i < n; i++)
        len += strlen(spk__fs_relative(fs, order[i]->final)) + strlen(spk__fs_relative(fs, order[i]->tmp)) + 2;
    len += 9; /* the checksum line */
    unsigned long unique = atomic_fetch_add(&spk__fs_tmp_counter, 1);
    size_t text_size = len + 1, tmp_size = 0, record_size = 0;
    char *text = (char *)spk__alloc(a, text_size), *tmp = NULL, *record = NULL;
    if (!text) st = spk__nomem("a commit record", text_size);
    if (text) tmp = spk__fs_path(a, &tmp_size, "%s%s.commit.%ld_%lu.tmp", fs->base, spk__fs_sep(fs), (long)getpid(), unique);
    if (tmp) record = spk__fs_path(a, &record_size, "%s%scommit.%ld_%lu.spkc", fs->base, spk__fs_sep(fs), (long)getpid(), unique);
    if (text && !record) st = SPK_ERR_NOMEM;
    if (st == SPK_OK) {
        size_t used = (size_t)snprintf(text, text_size, "%s", head);
        for (int i = 0; i < n; i++)
            used += (size_t)snprintf(text + used, text_size - used, "%s %s\n", spk__fs_relative(fs, order[i]->final),
                                     spk__fs_relative(fs, order[i]->tmp));
        snprintf(text + used, text_size - used, "%08lx\n", (unsigned long)spk__crc32(fs->crc, 0, text, used));
        /* The temporary files' directory entries must outlive a crash once a record names them. */
        for (int i = 0; st == SPK_OK && i < n; i++) {
            int err = i == 0 || strcmp(order[i]->dir, order[i - 1]->dir) != 0 ? spk__fs_sync_dir(order[i]->dir) : 0;
            if (err) st = spk__fs_io("sync directory", order[i]->dir, err);
        }
    }
    if (st == SPK_OK) {
        int err = spk__fs_write_new(tmp, text, len);
        if (err) st = spk__fs_io("write the commit record", tmp, err);
        else if (rename(tmp, record) != 0) {
            err = errno;
            unlink(tmp);
            st = spk__fail(SPK_ERR_IO, "cannot rename %s to %s: %s", tmp, record, strerror(err));
        }
    }
    if (st == SPK_OK) {
        /* Committed: the record now speaks for the transaction. */
        for (int i = 0; i < n; i++) order[i]->kept = true;
        st = spk__fs_finish(fs, order, n, record);
        /* Its temporary files are gone for good, so a record that comes
         * back after a crash changes nothing: no directory fsync. */
        if (st == SPK_OK) unlink(record);
    }
    spk__free(a, record, record_size);
    spk__free(a, tmp, tmp_size);
    spk__free(a, text, text_size);
    spk__free(a, order, order_size);
    return st;
}

static const spk__persist spk__fs_persist = {spk__fs_prepare,       spk__fs_commit,      spk__fs_release,
                                             spk__fs_retire,        spk__fs_create_schema, spk__fs_drop_schema,
                                             spk__fs_drop_table,    spk__fs_close,       spk__fs_commit_all};

/* ---------------------------------------------------------------- opening */

/* Loads one database directory's tables into the store. */
static spk_status spk__fs_load_db(spk__fs *fs, spk__store *s, const char *db) {
    size_t dir_size = 0;
    char *dir = spk__fs_dir(fs, db, &dir_size);
    if (!dir) return SPK_ERR_NOMEM;
    spk__fs_list l = {fs->alloc, NULL, 0, 0};
    spk_status st = spk__fs_scan(&l, dir, NULL, true);
    for (size_t i = 0; st == SPK_OK && i < l.n; i++) {
        if (i + 1 < l.n && strcmp(l.e[i + 1].table, l.e[i].table) == 0) continue; /* not the highest */
        size_t first = i; /* the table's lowest version */
        while (first > 0 && strcmp(l.e[first - 1].table, l.e[i].table) == 0) first--;
        size_t size = 0;
        char *path = spk__fs_version_path(fs, dir, l.e[i].table, l.e[i].version, &size);
        if (!path) {
            st = SPK_ERR_NOMEM;
            break;
        }
        spk_table *rows = NULL;
        st = spk__fs_read_file(fs, path, &rows);
        spk__free(fs->alloc, path, size);
        if (st == SPK_OK) {
            st = spk__store_load(s, db, l.e[i].table, l.e[i].version, rows, NULL);
            for (size_t j = first; st == SPK_OK && j < i; j++) { /* superseded (a crash before retire) */
                char *old = spk__fs_version_path(fs, dir, l.e[j].table, l.e[j].version, &size);
                if (!old) st = SPK_ERR_NOMEM;
                else unlink(old);
                spk__free(fs->alloc, old, size);
            }
        } else if (st != SPK_ERR_NOMEM) {
            char why[SPK_ERROR_MAX];
            snprintf(why, sizeof why, "%s", spk_last_error());
            st = spk__store_load(s, db, l.e[i].table, l.e[i].version, NULL, why);
        }
    }
    spk__fs_list_free(&l);
    spk__free(fs->alloc, dir, dir_size);
    return st;
}

/* ---------------------------------------------------------------- commit records at open */

/* One entry of a commit record, pointing into its text. */
typedef struct spk__fs_redo {
    const char *db, *final, *tmp; /* final and tmp: file names in the database directory */
    int db_len, final_len, tmp_len;
} spk__fs_redo;

typedef struct spk__fs_record {
    char *path, *text;
    size_t path_size, text_size, len;
    spk__fs_redo *redo;
    int n;
} spk__fs_record;

static bool spk__fs_unique_ok(const char *s, size_t len) {
    if (len == 0 || len > SPK__FS_UNIQUE_MAX) return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '_')) return false;
    return true;
}

/* commit.<[0-9_]+>.spkc, or with `tmp` .commit.<[0-9_]+>.tmp */
static bool spk__fs_is_record_name(const char *name, bool tmp) {
    const char *prefix = tmp ? ".commit." : "commit.", *suffix = tmp ? ".tmp" : ".spkc";
    size_t len = strlen(name), pl = strlen(prefix), sl = strlen(suffix);
    return len > pl + sl && memcmp(name, prefix, pl) == 0 && memcmp(name + len - sl, suffix, sl) == 0 &&
           spk__fs_unique_ok(name + pl, len - pl - sl);
}

static spk_status spk__fs_record_corrupt(const char *path, const char *fmt, ...) SPK__PRINTF(2, 3);
static spk_status spk__fs_record_corrupt(const char *path, const char *fmt, ...) {
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return spk__fail(SPK_ERR_CORRUPT, "%s: %s (the transaction commit record is corrupt; no table file was changed)", path,
                     why);
}

/* Hostile text for a message: at most ~80 bytes, unprintable ones as '?'. */
static void spk__fs_printable(const char *s, size_t len, char *out, size_t cap) {
    size_t n = 0;
    for (; n < len && n + 4 < cap && n < 80; n++) out[n] = s[n] >= 0x20 && s[n] < 0x7f ? s[n] : '?';
    if (n < len) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = 0;
}

/* "<db>/<file>": db a database name; *file what follows the slash. */
static bool spk__fs_record_split(const char *s, size_t len, size_t *db_len, const char **file, size_t *file_len) {
    const char *slash = (const char *)memchr(s, '/', len);
    if (!slash || !spk__fs_name_ok(s, (size_t)(slash - s))) return false;
    *db_len = (size_t)(slash - s);
    *file = slash + 1;
    *file_len = len - *db_len - 1;
    return true;
}

/* One entry line (without its newline): "<db>/<final> <db>/<temporary>". */
static bool spk__fs_record_entry(const char *line, size_t len, spk__fs_redo *e) {
    const char *space = (const char *)memchr(line, ' ', len);
    if (!space) return false;
    size_t db_len = 0, db2_len = 0, final_len = 0, tmp_len = 0;
    const char *final = NULL, *tmp = NULL, *second = space + 1;
    if (!spk__fs_record_split(line, (size_t)(space - line), &db_len, &final, &final_len) ||
        !spk__fs_record_split(second, len - (size_t)(second - line), &db2_len, &tmp, &tmp_len) || db_len != db2_len ||
        memcmp(line, second, db_len) != 0)
        return false;
    char name[SPK__FS_NAME_MAX + 32], table[SPK__FS_NAME_MAX + 1];
    uint64_t version = 0;
    if (final_len >= sizeof name) return false;
    memcpy(name, final, final_len);
    name[final_len] = 0;
    if (!spk__fs_parse_version_name(name, table, &version)) return false;
    /* "." + the final name without ".spkt" + "." + <pid>_<n> + ".tmp" */
    size_t stem = final_len - 5;
    if (tmp_len < stem + 7 || tmp[0] != '.' || memcmp(tmp + 1, final, stem) != 0 || tmp[1 + stem] != '.' ||
        memcmp(tmp + tmp_len - 4, ".tmp", 4) != 0 || !spk__fs_unique_ok(tmp + stem + 2, tmp_len - stem - 6))
        return false;
    e->db = line;
    e->db_len = (int)db_len;
    e->final = final;
    e->final_len = (int)final_len;
    e->tmp = tmp;
    e->tmp_len = (int)tmp_len;
    return true;
}

/* A decimal number of 1 to 9 digits without a leading 0, followed by `end`. */
static bool spk__fs_record_number(const char **p, const char *limit, char end, long *out) {
    const char *s = *p;
    long v = 0;
    int digits = 0;
    for (; s < limit && *s >= '0' && *s <= '9' && digits < 9; s++, digits++) v = v * 10 + (*s - '0');
    if (digits == 0 || (digits > 1 && **p == '0') || s == limit || *s != end) return false;
    *p = s + 1;
    *out = v;
    return true;
}

/* Checks a record read whole (see COMMIT RECORD FORMAT) and lists its entries. */
static spk_status spk__fs_record_parse(const spk__fs *fs, spk__fs_record *r) {
    const char *t = r->text, *path = r->path;
    size_t len = r->len;
    if (len < 4 || memcmp(t, "SPKC", 4) != 0) return spk__fs_record_corrupt(path, "bad magic: not a commit record");
    if (memchr(t, 0, len)) return spk__fs_record_corrupt(path, "it holds a NUL byte");
    /* The checksum line first: it covers all the rest. */
    bool ok = len >= 14 && t[len - 1] == '\n' && t[len - 10] == '\n';
    const char *sum = ok ? t + len - 9 : t; /* the checksum line */
    uint32_t want = 0;
    for (int i = 0; ok && i < 8; i++) {
        char c = sum[i];
        ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        want = want << 4 | (uint32_t)(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    if (!ok) return spk__fs_record_corrupt(path, "it does not end with its checksum line (truncated?)");
    if (spk__crc32(fs->crc, 0, t, len - 9) != want) return spk__fs_record_corrupt(path, "checksum mismatch");
    const char *p = t + 4;
    long version = 0, n = 0;
    if (p == sum || *p++ != ' ' || !spk__fs_record_number(&p, sum, ' ', &version))
        return spk__fs_record_corrupt(path, "the first line is not \"SPKC <version> <entries>\"");
    if (version != 1)
        return spk__fs_record_corrupt(path, "format version %ld is not supported (this build reads version 1)", version);
    if (!spk__fs_record_number(&p, sum, '\n', &n) || n < 1 || n > SPK__FS_RECORD_TABLES)
        return spk__fs_record_corrupt(path, "the entry count is not a number from 1 to %d", SPK__FS_RECORD_TABLES);
    size_t redo_size = (size_t)n * sizeof *r->redo;
    r->redo = (spk__fs_redo *)spk__alloc(fs->alloc, redo_size);
    if (!r->redo) return spk__nomem("a commit record's entries", redo_size);
    r->n = (int)n;
    for (int i = 0; i < r->n; i++) {
        if (p == sum) return spk__fs_record_corrupt(path, "it ends after %d of its %d entries", i, r->n);
        const char *nl = (const char *)memchr(p, '\n', (size_t)(sum - p)); /* sum[-1] is one */
        if (!spk__fs_record_entry(p, (size_t)(nl - p), &r->redo[i])) {
            char shown[96];
            spk__fs_printable(p, (size_t)(nl - p), shown, sizeof shown);
            return spk__fs_record_corrupt(path, "entry %d (\"%s\") is not a table file and its temporary file in one "
                                                "database directory under the base path", i + 1, shown);
        }
        p = nl + 1;
    }
    if (p != sum) return spk__fs_record_corrupt(path, "unexpected text after its %d entries", r->n);
    return SPK_OK;
}

static spk_status spk__fs_record_read(const spk__fs *fs, spk__fs_record *r) {
    int fd = open(r->path, O_RDONLY | SPK__FS_CLOEXEC);
    if (fd < 0) return spk__fs_io("open", r->path, errno);
    struct stat sb;
    spk_status st = SPK_OK;
    if (fstat(fd, &sb) != 0) st = spk__fs_io("read", r->path, errno);
    else if (!S_ISREG(sb.st_mode)) st = spk__fs_record_corrupt(r->path, "not a regular file");
    else if ((uint64_t)sb.st_size > SPK__FS_RECORD_BYTES)
        st = spk__fs_record_corrupt(r->path, "%llu bytes is more than a commit record holds",
                                    (unsigned long long)sb.st_size);
    if (st == SPK_OK) {
        r->len = (size_t)sb.st_size;
        r->text_size = r->len + 1;
        r->text = (char *)spk__alloc(fs->alloc, r->text_size);
        if (!r->text) st = spk__nomem("a commit record", r->text_size);
    }
    int err = st == SPK_OK ? spk__fs_read_all(fd, (unsigned char *)r->text, r->len) : 0;
    if (err == -1) st = spk__fs_record_corrupt(r->path, "the file ended early (truncated?)");
    else if (err) st = spk__fs_io("read", r->path, err);
    close(fd);
    return st;
}

/* Renames each temporary file a record names that still exists, then
 * fsyncs the directories it renamed in. */
static spk_status spk__fs_record_redo(const spk__fs *fs, const spk__fs_record *r) {
    const spk_allocator *a = fs->alloc;
    spk_status st = SPK_OK;
    bool renamed = false; /* in the current directory */
    for (int i = 0; st == SPK_OK && i < r->n; i++) {
        const spk__fs_redo *e = &r->redo[i];
        size_t dir_size = 0, final_size = 0, tmp_size = 0;
        char *dir = spk__fs_path(a, &dir_size, "%s%s%.*s", fs->base, spk__fs_sep(fs), e->db_len, e->db);
        char *final = dir ? spk__fs_path(a, &final_size, "%s/%.*s", dir, e->final_len, e->final) : NULL;
        char *tmp = final ? spk__fs_path(a, &tmp_size, "%s/%.*s", dir, e->tmp_len, e->tmp) : NULL;
        int err = !tmp ? 0 : rename(tmp, final) == 0 ? 0 : errno;
        if (!tmp) st = SPK_ERR_NOMEM;
        else if (!err) renamed = true;
        else if (err != ENOENT) /* ENOENT: renamed before the crash */
            st = spk__fail(SPK_ERR_IO, "cannot finish the transaction of commit record %s: cannot rename %s to %s: %s",
                           r->path, tmp, final, strerror(err));
        const spk__fs_redo *next = i + 1 < r->n ? &r->redo[i + 1] : NULL;
        if (!next || next->db_len != e->db_len || memcmp(next->db, e->db, (size_t)e->db_len) != 0) {
            err = st == SPK_OK && renamed ? spk__fs_sync_dir(dir) : 0;
            if (err) st = spk__fs_io("sync directory", dir, err);
            renamed = false;
        }
        spk__free(a, tmp, tmp_size);
        spk__free(a, final, final_size);
        spk__free(a, dir, dir_size);
    }
    return st;
}

/* Before anything is loaded: removes commit records cut short (.tmp) and
 * redoes the committed ones, all checked before any is redone. */
static spk_status spk__fs_recover(spk__fs *fs) {
    const spk_allocator *a = fs->alloc;
    spk_names names;
    memset(&names, 0, sizeof names);
    names.alloc = a;
    DIR *d = opendir(fs->base);
    if (!d) return spk__fs_io("read directory", fs->base, errno);
    spk_status st = SPK_OK;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno) st = spk__fs_io("read directory", fs->base, errno);
            break;
        }
        if (spk__fs_is_record_name(e->d_name, true)) {
            size_t size = 0;
            char *path = spk__fs_path(a, &size, "%s%s%s", fs->base, spk__fs_sep(fs), e->d_name);
            if (!path) {
                st = SPK_ERR_NOMEM;
                break;
            }
            unlink(path); /* best effort, like other temporary files */
            spk__free(a, path, size);
        } else if (spk__fs_is_record_name(e->d_name, false) && (st = spk_names_add(&names, e->d_name)) != SPK_OK) {
            break;
        }
    }
    closedir(d);
    size_t records_size = (size_t)names.n * sizeof(spk__fs_record);
    spk__fs_record *records = NULL;
    if (st == SPK_OK && names.n && !(records = (spk__fs_record *)spk__calloc(a, records_size)))
        st = spk__nomem("commit records", records_size);
    for (int i = 0; st == SPK_OK && i < names.n; i++) {
        spk__fs_record *r = &records[i];
        r->path = spk__fs_path(a, &r->path_size, "%s%s%s", fs->base, spk__fs_sep(fs), names.names[i]);
        st = r->path ? spk__fs_record_read(fs, r) : SPK_ERR_NOMEM;
        if (st == SPK_OK) st = spk__fs_record_parse(fs, r);
    }
    for (int i = 0; st == SPK_OK && i < names.n; i++) st = spk__fs_record_redo(fs, &records[i]);
    for (int i = 0; st == SPK_OK && i < names.n; i++)
        if (unlink(records[i].path) != 0 && errno != ENOENT) st = spk__fs_io("remove", records[i].path, errno);
    /* Gone for good before anything new is written (a later process could reuse a temporary file's name). */
    int err = st == SPK_OK && names.n ? spk__fs_sync_dir(fs->base) : 0;
    if (err) st = spk__fs_io("sync directory", fs->base, err);
    for (int i = 0; records && i < names.n; i++) {
        spk__free(a, records[i].path, records[i].path_size);
        spk__free(a, records[i].text, records[i].text_size);
        if (records[i].redo) spk__free(a, records[i].redo, (size_t)records[i].n * sizeof *records[i].redo);
    }
    spk__free(a, records, records_size);
    spk_names_free(&names);
    return st;
}

/* Loads every database under the base path. */
static spk_status spk__fs_load(spk__fs *fs, spk__store *s) {
    spk_status st = spk__fs_recover(fs);
    if (st != SPK_OK) return st;
    spk_names dbs;
    memset(&dbs, 0, sizeof dbs);
    dbs.alloc = fs->alloc;
    DIR *d = opendir(fs->base);
    if (!d) return spk__fs_io("read directory", fs->base, errno);
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno) st = spk__fs_io("read directory", fs->base, errno);
            break;
        }
        if (!spk__fs_name_ok(e->d_name, strlen(e->d_name))) continue;
        size_t size = 0;
        char *path = spk__fs_dir(fs, e->d_name, &size);
        if (!path) {
            st = SPK_ERR_NOMEM;
            break;
        }
        bool is_dir = spk__fs_is_dir(path);
        spk__free(fs->alloc, path, size);
        if (is_dir && (st = spk_names_add(&dbs, e->d_name)) != SPK_OK) break;
    }
    closedir(d);
    for (int i = 0; st == SPK_OK && i < dbs.n; i++) {
        st = spk__store_load(s, dbs.names[i], NULL, 0, NULL, NULL);
        if (st == SPK_OK) st = spk__fs_load_db(fs, s, dbs.names[i]);
    }
    spk_names_free(&dbs);
    return st;
}

SPKDEF spk_status spk_backend_file(const spk_backend_config *config, spk_backend **out) {
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_backend_file: NULL output");
    *out = NULL;
    if (!config || !config->base_path || !config->base_path[0])
        return spk__fail(SPK_ERR_ARG, "the file backend needs spark.sparkless.backend.basePath (the directory to keep "
                                      "its databases in)");
    const spk_allocator *a = spk__allocator_or_default(config->alloc);
    size_t len = strlen(config->base_path);
    while (len > 1 && config->base_path[len - 1] == '/') len--;
    spk__fs *fs = (spk__fs *)spk__calloc(a, sizeof *fs);
    if (!fs) return spk__nomem("a file backend", sizeof *fs);
    fs->alloc = a;
    atomic_init(&fs->broken, false);
    spk__crc_init(fs->crc);
    fs->base = spk__strndup(a, config->base_path, len);
    fs->base_size = len + 1;
    if (!fs->base) {
        spk__free(a, fs, sizeof *fs);
        return spk__nomem("a path", len + 1);
    }
    spk_status st = SPK_OK;
    if (mkdir(fs->base, 0777) != 0 && errno != EEXIST) st = spk__fs_io("create directory", fs->base, errno);
    else if (!spk__fs_is_dir(fs->base))
        st = spk__fail(SPK_ERR_IO, "spark.sparkless.backend.basePath %s is not a directory", fs->base);
    spk__store *s = NULL;
    if (st == SPK_OK) st = spk__store_new(a, config->max_memory, &spk__fs_persist, fs, &s);
    if (st != SPK_OK) {
        spk__fs_close(fs);
        return st;
    }
    st = spk__fs_load(fs, s);
    if (st != SPK_OK) {
        spk__store_close(s); /* closes fs too */
        return st;
    }
    return spk__store_backend(s, "file", out);
}

#else /* not POSIX */

SPKDEF spk_status spk_backend_file(const spk_backend_config *config, spk_backend **out) {
    (void)config;
    (void)spk__store_load; /* only the POSIX implementation loads */
    if (out) *out = NULL;
    return spk__fail(SPK_ERR_UNSUPPORTED, "the file backend needs POSIX");
}

#endif
