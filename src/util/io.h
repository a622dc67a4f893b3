/* Checked file I/O. Errors name the file and say what to do about it.
 * Writes that must survive an interruption go through lm_afile: the data lands in a
 * temporary file beside the target, is fsync'ed, then renamed over the target, so a
 * reader sees either the old file or the complete new one, never a torn one. */
#ifndef LM_IO_H
#define LM_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/error.h"

/* Reads a whole file into a malloc'ed buffer (NUL-terminated for convenience; *len excludes
 * the NUL). Refuses files larger than max_bytes (0 = no limit). */
loom_status lm_read_file(const char *path, size_t max_bytes, uint8_t **out, size_t *len, lm_error *err);

/* An atomically written file. */
typedef struct lm_afile {
    FILE *f;
    char *path;     /* final name */
    char *tmp;      /* temporary name, renamed to path on commit */
    int failed;     /* a write failed; commit will refuse */
} lm_afile;

loom_status lm_afile_open(lm_afile *af, const char *path, lm_error *err);
/* fwrite that remembers failure; checked once at commit. */
void lm_afile_write(lm_afile *af, const void *p, size_t n);
/* Flushes, fsyncs, renames over the target and fsyncs the directory. */
loom_status lm_afile_commit(lm_afile *af, lm_error *err);
/* Drops the temporary file (after an error). Safe to call after commit. */
void lm_afile_abort(lm_afile *af);

/* Writes buf to path atomically in one call. */
loom_status lm_write_file_atomic(const char *path, const void *buf, size_t len, lm_error *err);

/* mkdir -p for one directory level chain. */
loom_status lm_mkdirs(const char *path, lm_error *err);

/* The names in folder dir, "." and ".." left out, sorted by their bytes (strcmp): the one way
 * every walker lists a folder, so that a corpus or an image set comes out the same on every
 * machine. *names is malloc'ed (free with lm_list_free); fails naming dir when it cannot be read. */
loom_status lm_list_dir(const char *dir, char ***names, size_t *n, lm_error *err);
void lm_list_free(char **names, size_t n);

/* Joins dir and name into a malloc'ed path. */
char *lm_path_join(const char *dir, const char *name);

#endif
