/* io: what the readers (csv.c, jsonl.c) and writers share: read modes,
 * inputs held in memory, positions for messages, outputs that honour the
 * write modes (a replaced file is renamed into place whole). Parallel
 * readers fill one table per slice and join them with spk__table_adopt
 * (vector.c). */
#include "wire.c"
#include "io.h"
#include <errno.h>
#include <time.h>

SPKDEF spk_status spk_read_mode_parse(const char *text, spk_read_mode *out) {
    static const struct {
        const char *name;
        spk_read_mode mode;
    } modes[] = {{"permissive", SPK_READ_PERMISSIVE}, {"dropmalformed", SPK_READ_DROPMALFORMED}, {"failfast", SPK_READ_FAILFAST}};
    if (!out) return spk__fail(SPK_ERR_ARG, "spk_read_mode_parse: NULL output");
    *out = SPK_READ_PERMISSIVE;
    if (!text) return SPK_OK;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (spk__name_eq(text, modes[i].name, false)) {
            *out = modes[i].mode;
            return SPK_OK;
        }
    return spk__fail(SPK_ERR_ARG, "unknown parse mode '%s'; accepted modes are 'PERMISSIVE', 'DROPMALFORMED', 'FAILFAST'",
                     text);
}

/* ---------------------------------------------------------------- inputs */

/* An input: a caller's buffer borrowed whole, or a file read into a buffer
 * of ours, either whole (spk__io_input_read_all) or a window at a time
 * (spk__io_input_fill; the CSV reader reads on with spk__io_read_into into
 * buffers of its own), so that a reader need not hold a large file next to
 * the table it makes. data[0, len) are the bytes held; `eof` says that
 * nothing more is to come. `name` is what messages call it. */
typedef struct spk__io_input {
    const char *data;
    size_t len;
    bool eof;
    FILE *f;         /* the file still being read, or NULL */
    bool own_file;   /* f was opened here */
    long size_hint;  /* the file's size when known, else -1 */
    char *owned;     /* our buffer (owned_cap bytes from the default allocator) */
    size_t owned_cap;
    char name[256];
} spk__io_input;

static void spk__io_input_free(spk__io_input *in) {
    if (in->owned) spk__free(&spk__default_allocator, in->owned, in->owned_cap);
    if (in->f && in->own_file) fclose(in->f);
    memset(in, 0, sizeof *in);
}

static void spk__io_input_buffer(const void *data, size_t len, spk__io_input *in) {
    memset(in, 0, sizeof *in);
    in->data = data ? (const char *)data : "";
    in->len = data ? len : 0;
    in->eof = true;
    snprintf(in->name, sizeof in->name, "<buffer>");
}

static spk_status spk__io_input_file(FILE *f, spk__io_input *in) {
    memset(in, 0, sizeof *in);
    snprintf(in->name, sizeof in->name, "<FILE*>");
    in->data = "";
    in->size_hint = -1;
    if (!f) return spk__fail(SPK_ERR_ARG, "NULL FILE*");
    in->f = f;
    return SPK_OK;
}

static spk_status spk__io_input_path(const char *path, spk__io_input *in) {
    memset(in, 0, sizeof *in);
    in->data = "";
    in->size_hint = -1;
    if (!path) return spk__fail(SPK_ERR_ARG, "NULL path");
    snprintf(in->name, sizeof in->name, "%s", path);
    FILE *f = fopen(path, "rb");
    if (!f) return spk__fail(SPK_ERR_IO, "%s: cannot open for reading (%s)", path, strerror(errno));
    in->f = f;
    in->own_file = true;
    if (fseek(f, 0, SEEK_END) == 0) in->size_hint = ftell(f);
    if (in->size_hint < 0 || fseek(f, 0, SEEK_SET) != 0) {
        clearerr(f);
        rewind(f);
        in->size_hint = -1;
    }
    return SPK_OK;
}

/* Reads from in->f into buf until *len bytes reach `want` or the file
 * ends (*eof set, and the file closed if ours). False on a read error. */
static bool spk__io_read_into(spk__io_input *in, char *buf, size_t *len, size_t want, bool *eof) {
    while (*len < want) {
        size_t got = fread(buf + *len, 1, want - *len, in->f);
        *len += got;
        if (got) continue;
        if (ferror(in->f)) return false;
        *eof = true;
        if (in->own_file) fclose(in->f);
        in->f = NULL;
        break;
    }
    return true;
}

/* Reads on until `want` bytes are held or the input ends. */
static spk_status spk__io_input_fill(spk__io_input *in, size_t want) {
    if (!in->f) return SPK_OK;
    if (want > in->owned_cap) {
        char *p = (char *)spk__realloc(&spk__default_allocator, in->owned, in->owned_cap, want);
        if (!p) return spk__nomem("an input file's bytes", want);
        in->owned = p;
        in->owned_cap = want;
    }
    if (in->owned) in->data = in->owned;
    if (!spk__io_read_into(in, in->owned, &in->len, want, &in->eof))
        return spk__fail(SPK_ERR_IO, "%s: read error", in->name);
    return SPK_OK;
}

/* Reads the rest of the input: one allocation when the size is known (+1:
 * the read that sees the end), doubling otherwise. */
static spk_status spk__io_input_read_all(spk__io_input *in) {
    size_t want = in->size_hint >= 0 ? (size_t)in->size_hint + 1 : (size_t)1 << 16;
    if (want <= in->len) want = in->len + 1;
    spk_status st = SPK_OK;
    while (st == SPK_OK && in->f) {
        st = spk__io_input_fill(in, want);
        if (want > SIZE_MAX / 2) break;
        want *= 2;
    }
    if (st == SPK_OK && in->f) st = spk__nomem("an input file's bytes", SIZE_MAX);
    return st;
}

/* The 1-based column of byte `at` in a line that starts at byte
 * `line_start`: UTF-8 continuation bytes do not count. */
static size_t spk__io_column(const char *data, size_t line_start, size_t at) {
    size_t col = 1;
    for (size_t i = line_start; i < at; i++)
        if (((unsigned char)data[i] & 0xc0) != 0x80) col++;
    return col;
}

/* ---------------------------------------------------------------- outputs */

/* Where a writer's bytes go: a path (through a temporary file when it
 * replaces one), a caller's FILE*, or a string. Bytes are buffered. */
typedef struct spk__io_output {
    FILE *f;            /* the file written (the temporary one when replacing) */
    bool own_file;      /* f is ours to close */
    char *path;         /* the destination, when renaming into place */
    char *temp;         /* the temporary file's name, or NULL */
    bool to_string;
    char *buf;          /* pending bytes (to_string: all of them) */
    size_t len, cap;
    bool append_to_nonempty; /* APPEND onto a file that already has bytes (a CSV writes no header then) */
    spk_status failed;  /* the first error, kept until close */
} spk__io_output;

static char *spk__io_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = (char *)spk__alloc(&spk__default_allocator, n);
    if (p) memcpy(p, s, n);
    return p;
}

static void spk__io_output_string(spk__io_output *out) {
    memset(out, 0, sizeof *out);
    out->to_string = true;
}

static void spk__io_output_file(FILE *f, spk__io_output *out) {
    memset(out, 0, sizeof *out);
    out->f = f;
}

/* Opens a path for a write in `mode`. *skip is set when IGNORE meets an
 * existing file (nothing is to be written; close the output). */
static spk_status spk__io_output_path(const char *path, spk_write_mode mode, spk__io_output *out, bool *skip) {
    memset(out, 0, sizeof *out);
    *skip = false;
    if (!path) return spk__fail(SPK_ERR_ARG, "NULL path");
    if (mode == SPK_WRITE_INSERT || mode == SPK_WRITE_INSERT_OVERWRITE)
        return spk__fail(SPK_ERR_ARG, "%s: insertInto modes do not apply to files (use error, append, overwrite or ignore)",
                         path);
    FILE *existing = fopen(path, "rb");
    bool exists = existing != NULL;
    long size = 0;
    if (existing) {
        if (fseek(existing, 0, SEEK_END) == 0) size = ftell(existing);
        fclose(existing);
    }
    if (exists && mode == SPK_WRITE_ERROR)
        return spk__fail(SPK_ERR_EXISTS, "%s already exists (save mode 'error'; use 'overwrite', 'append' or 'ignore')", path);
    if (exists && mode == SPK_WRITE_IGNORE) {
        *skip = true;
        return SPK_OK;
    }
    if (mode == SPK_WRITE_APPEND) {
        out->f = fopen(path, "ab");
        if (!out->f) return spk__fail(SPK_ERR_IO, "%s: cannot open for appending (%s)", path, strerror(errno));
        out->own_file = true;
        out->append_to_nonempty = exists && size > 0;
        return SPK_OK;
    }
    /* A new file or a replacement: written beside it, renamed into place at close. */
    static atomic_uint spk__io_temp_counter;
    size_t n = strlen(path) + 64;
    out->temp = (char *)spk__alloc(&spk__default_allocator, n);
    out->path = spk__io_strdup(path);
    if (!out->temp || !out->path) {
        if (out->temp) spk__free(&spk__default_allocator, out->temp, n);
        if (out->path) spk__free(&spk__default_allocator, out->path, strlen(path) + 1);
        out->temp = out->path = NULL;
        return spk__nomem("a file name", n);
    }
    for (int attempt = 0; attempt < 100 && !out->f; attempt++) {
        unsigned k = atomic_fetch_add(&spk__io_temp_counter, 1);
        snprintf(out->temp, n, "%s.spk-tmp-%lx-%u", path, (unsigned long)time(NULL), k);
        out->f = fopen(out->temp, "wbx"); /* C11: exclusive create */
    }
    if (!out->f) {
        spk_status st = spk__fail(SPK_ERR_IO, "%s: cannot create a temporary file beside it (%s)", path, strerror(errno));
        spk__free(&spk__default_allocator, out->temp, n);
        spk__free(&spk__default_allocator, out->path, strlen(path) + 1);
        out->temp = out->path = NULL;
        return st;
    }
    out->own_file = true;
    return SPK_OK;
}

static bool spk__io_flush(spk__io_output *out) {
    if (out->to_string || !out->len || out->failed) return !out->failed;
    if (fwrite(out->buf, 1, out->len, out->f) != out->len)
        out->failed = spk__fail(SPK_ERR_IO, "%s: write error (%s)", out->temp ? out->path : "output", strerror(errno));
    out->len = 0;
    return !out->failed;
}

/* Adds bytes; errors are kept and reported by close. */
static void spk__io_write(spk__io_output *out, const void *data, size_t n) {
    if (out->failed || !n) return;
    if (out->cap - out->len < n) {
        if (!out->to_string && out->len && !spk__io_flush(out)) return;
        if (out->cap - out->len < n) {
            size_t cap = out->cap ? out->cap : (out->to_string ? 256 : (size_t)1 << 16);
            while (cap - out->len < n) cap *= 2;
            char *p = (char *)spk__realloc(&spk__default_allocator, out->buf, out->cap, cap);
            if (!p) {
                out->failed = spk__nomem("an output buffer", cap);
                return;
            }
            out->buf = p;
            out->cap = cap;
        }
    }
    memcpy(out->buf + out->len, data, n);
    out->len += n;
}

static void spk__io_puts(spk__io_output *out, const char *s) { spk__io_write(out, s, strlen(s)); }

static void spk__io_output_release(spk__io_output *out) {
    if (out->buf) spk__free(&spk__default_allocator, out->buf, out->cap);
    if (out->temp) spk__free(&spk__default_allocator, out->temp, strlen(out->path) + 64);
    if (out->path) spk__free(&spk__default_allocator, out->path, strlen(out->path) + 1);
    memset(out, 0, sizeof *out);
}

/* Abandons the output: a temporary file is removed, the destination untouched. */
static void spk__io_output_abort(spk__io_output *out) {
    if (out->f && out->own_file) fclose(out->f);
    if (out->temp) remove(out->temp);
    spk__io_output_release(out);
}

/* Finishes: flushes, closes and renames a temporary file into place. For
 * a string output, *str (NUL-terminated, free with spk_string_free) and
 * *len (may be NULL) get the bytes. On any error nothing is renamed. */
static spk_status spk__io_output_close(spk__io_output *out, char **str, size_t *len) {
    if (out->to_string) {
        spk__io_write(out, "", 1); /* the NUL */
        if (out->failed) {
            spk_status st = out->failed;
            spk__io_output_release(out);
            return st;
        }
        size_t n = out->len - 1;
        char *s = spk__given_string(out->buf, n);
        spk__io_output_release(out);
        if (!s) return spk__nomem("the written text", n + 1);
        if (len) *len = n;
        *str = s;
        return SPK_OK;
    }
    spk__io_flush(out);
    if (!out->failed && !out->own_file && fflush(out->f) != 0)
        out->failed = spk__fail(SPK_ERR_IO, "output: write error (%s)", strerror(errno));
    if (out->own_file) {
        if (fclose(out->f) != 0 && !out->failed)
            out->failed = spk__fail(SPK_ERR_IO, "%s: write error on close (%s)", out->path ? out->path : "output",
                                    strerror(errno));
        out->f = NULL;
    }
    if (!out->failed && out->temp && rename(out->temp, out->path) != 0)
        out->failed = spk__fail(SPK_ERR_IO, "%s: cannot rename the written file into place (%s)", out->path, strerror(errno));
    spk_status st = out->failed;
    if (st != SPK_OK && out->temp) remove(out->temp);
    spk__io_output_release(out);
    return st;
}
