#include "util/io.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

loom_status lm_read_file(const char *path, size_t max_bytes, uint8_t **out, size_t *len, lm_error *err) {
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return lm_fail(err, LOOM_ERR_IO, "cannot open '%s': %s (check the path)", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return lm_fail(err, LOOM_ERR_IO, "'%s' is not a regular file (give a file path)", path);
    }
    size_t n = (size_t)st.st_size;
    if (max_bytes && n > max_bytes) {
        fclose(f);
        return lm_fail(err, LOOM_ERR_IO, "'%s' is %zu bytes, more than the limit of %zu", path, n, max_bytes);
    }
    uint8_t *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return lm_fail(err, LOOM_ERR_NOMEM, "out of memory reading '%s' (%zu bytes)", path, n);
    }
    size_t got = fread(buf, 1, n, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != n) {
        free(buf);
        return lm_fail(err, LOOM_ERR_IO, "short read on '%s' (%zu of %zu bytes)", path, got, n);
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return LOOM_OK;
}

static char *dupstr(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

loom_status lm_afile_open(lm_afile *af, const char *path, lm_error *err) {
    memset(af, 0, sizeof *af);
    af->path = dupstr(path);
    size_t n = strlen(path) + 32;
    af->tmp = malloc(n);
    if (!af->path || !af->tmp) {
        lm_afile_abort(af);
        return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    }
    snprintf(af->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    af->f = fopen(af->tmp, "wb");
    if (!af->f) {
        loom_status s = lm_fail(err, LOOM_ERR_IO, "cannot create '%s': %s (is the folder writable?)", af->tmp,
                                strerror(errno));
        lm_afile_abort(af);
        return s;
    }
    return LOOM_OK;
}

void lm_afile_write(lm_afile *af, const void *p, size_t n) {
    if (af->failed || n == 0) return;
    if (fwrite(p, 1, n, af->f) != n) af->failed = 1;
}

loom_status lm_afile_commit(lm_afile *af, lm_error *err) {
    int ok = !af->failed && fflush(af->f) == 0 && fsync(fileno(af->f)) == 0;
    int e = errno;
    if (fclose(af->f) != 0) ok = 0;
    af->f = NULL;
    if (!ok) {
        loom_status s = lm_fail(err, LOOM_ERR_IO, "writing '%s' failed: %s (is the disk full?)", af->path,
                                strerror(e));
        lm_afile_abort(af);
        return s;
    }
    if (rename(af->tmp, af->path) != 0) {
        loom_status s = lm_fail(err, LOOM_ERR_IO, "cannot rename '%s' to '%s': %s", af->tmp, af->path,
                                strerror(errno));
        lm_afile_abort(af);
        return s;
    }
    /* The rename itself must reach the disk, or a crash could bring back the old name. */
    char *d = dupstr(af->path);
    if (d) {
        int fd = open(dirname(d), O_RDONLY | O_DIRECTORY);
        if (fd >= 0) {
            fsync(fd);
            close(fd);
        }
        free(d);
    }
    free(af->tmp);
    free(af->path);
    af->tmp = af->path = NULL;
    return LOOM_OK;
}

void lm_afile_abort(lm_afile *af) {
    if (af->f) fclose(af->f);
    if (af->tmp) unlink(af->tmp);
    free(af->tmp);
    free(af->path);
    memset(af, 0, sizeof *af);
}

loom_status lm_write_file_atomic(const char *path, const void *buf, size_t len, lm_error *err) {
    lm_afile af;
    loom_status s = lm_afile_open(&af, path, err);
    if (s) return s;
    lm_afile_write(&af, buf, len);
    return lm_afile_commit(&af, err);
}

loom_status lm_mkdirs(const char *path, lm_error *err) {
    char *p = dupstr(path);
    if (!p) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == 0) {
            char c = *s;
            *s = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                loom_status st = lm_fail(err, LOOM_ERR_IO, "cannot create folder '%s': %s", p, strerror(errno));
                free(p);
                return st;
            }
            *s = c;
            if (!c) break;
        }
    }
    free(p);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return lm_fail(err, LOOM_ERR_IO, "'%s' exists and is not a folder (choose another --out)", path);
    return LOOM_OK;
}

char *lm_path_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}
