#include "util/io.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/str.h"

/* Whatever no limit is given for, a stream (a pipe, a FIFO, a terminal) is read to at most this. */
#define STREAM_MAX ((size_t)1 << 30)
/* How long a FIFO may go without a writer before it is refused: a writer started on the same shell
 * line may take a moment to open its end, and one that never comes must not hang loom. */
#define FIFO_WAIT_MS 2000

/* Reads a FIFO, pipe, socket or terminal to its end into a malloc'ed, NUL-terminated buffer,
 * refusing more than cap bytes. fd is non-blocking for a FIFO: until a writer shows itself (data,
 * or EAGAIN: attached but silent), a read of 0 means "no writer yet", not the end. */
static loom_status read_stream(int fd, const char *path, int fifo, size_t cap, uint8_t **out, size_t *len,
                               lm_error *err) {
    size_t n = 0, sz = 1 << 16;
    uint8_t *buf = malloc(sz);
    int writer_seen = !fifo, waited_ms = 0;
    loom_status s = LOOM_OK;
    while (buf) {
        if (n + 1 == sz) {
            uint8_t *nb = realloc(buf, sz * 2);
            if (!nb) free(buf);
            buf = nb;
            sz *= 2;
            continue;
        }
        ssize_t got = read(fd, buf + n, sz - n - 1);
        if (got > 0) {
            writer_seen = 1;
            if ((n += (size_t)got) > cap) {
                s = lm_fail(err, LOOM_ERR_IO, "'%s' gives more than the limit of %zu bytes (give a smaller input)",
                            path, cap);
                break;
            }
        } else if (got == 0 && writer_seen) {
            break;
        } else if (got == 0) {
            if (waited_ms >= FIFO_WAIT_MS) {
                s = lm_fail(err, LOOM_ERR_IO,
                            "'%s' is a FIFO that nothing writes to (start its writer first, or give a regular file)",
                            path);
                break;
            }
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
            waited_ms += 20;
        } else if (errno == EAGAIN) { /* a writer is attached: wait for it as long as it lives */
            writer_seen = 1;
            struct pollfd p = {.fd = fd, .events = POLLIN};
            poll(&p, 1, -1);
        } else if (errno != EINTR) {
            s = lm_fail(err, LOOM_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
            break;
        }
    }
    if (!buf) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory reading '%s'", path);
    if (s) {
        free(buf);
        return s;
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return LOOM_OK;
}

loom_status lm_read_file(const char *path, size_t max_bytes, uint8_t **out, size_t *len, lm_error *err) {
    *out = NULL;
    *len = 0;
    /* O_NONBLOCK: opening a FIFO that has no writer would otherwise block for ever */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == EISDIR) return lm_fail(err, LOOM_ERR_IO, "'%s' is a folder (give a file)", path);
        return lm_fail(err, LOOM_ERR_IO, "cannot open '%s': %s (check the path)", path, strerror(errno));
    }
    struct stat st;
    loom_status s = LOOM_OK;
    if (fstat(fd, &st) != 0) {
        s = lm_fail(err, LOOM_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
        s = lm_fail(err, LOOM_ERR_IO, "'%s' is a folder (give a file)", path);
    } else if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || (S_ISCHR(st.st_mode) && isatty(fd))) {
        /* standard input, `<(command)` and terminals are read as streams; only FIFOs stay non-blocking */
        if (!S_ISFIFO(st.st_mode)) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        s = read_stream(fd, path, S_ISFIFO(st.st_mode), max_bytes ? max_bytes : STREAM_MAX, out, len, err);
    } else if (!S_ISREG(st.st_mode)) {
        s = lm_fail(err, LOOM_ERR_IO, "'%s' is a device, not a file (give a file path)", path);
    } else if (max_bytes && (uint64_t)st.st_size > max_bytes) {
        s = lm_fail(err, LOOM_ERR_IO, "'%s' is %lld bytes, more than the limit of %zu", path, (long long)st.st_size,
                    max_bytes);
    } else {
        size_t n = (size_t)st.st_size, got = 0;
        uint8_t *buf = malloc(n + 1);
        if (!buf) s = lm_fail(err, LOOM_ERR_NOMEM, "out of memory reading '%s' (%zu bytes)", path, n);
        while (buf && got < n) {
            ssize_t r = read(fd, buf + got, n - got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            got += (size_t)r;
        }
        if (buf && got != n) {
            s = lm_fail(err, LOOM_ERR_IO, "short read on '%s' (%zu of %zu bytes; did it change while loom read it?)",
                        path, got, n);
            free(buf);
        } else if (buf) {
            buf[n] = 0;
            *out = buf;
            *len = n;
        }
    }
    close(fd);
    return s;
}

loom_status lm_afile_open(lm_afile *af, const char *path, lm_error *err) {
    memset(af, 0, sizeof *af);
    af->path = lm_strdup(path);
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
    char *d = lm_strdup(af->path);
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
    char *p = lm_strdup(path);
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
        return lm_fail(err, LOOM_ERR_IO, "'%s' exists and is not a folder (give a folder's path)", path);
    return LOOM_OK;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

loom_status lm_list_dir(const char *dir, char ***names, size_t *n, lm_error *err) {
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return lm_fail(err, LOOM_ERR_IO, "cannot read folder '%s': %s (check its permissions)", dir, strerror(errno));
    char **v = NULL;
    size_t k = 0, cap = 0;
    int oom = 0;
    struct dirent *e;
    while (!oom && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (k == cap) {
            cap = cap ? cap * 2 : 64;
            char **nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                oom = 1;
                break;
            }
            v = nv;
        }
        if (!(v[k] = lm_strdup(e->d_name))) oom = 1;
        else k++;
    }
    closedir(d);
    if (oom) {
        lm_list_free(v, k);
        return lm_fail(err, LOOM_ERR_NOMEM, "out of memory listing '%s'", dir);
    }
    if (k) qsort(v, k, sizeof *v, cmp_name);
    *names = v;
    *n = k;
    return LOOM_OK;
}

void lm_list_free(char **names, size_t n) {
    for (size_t i = 0; names && i < n; i++) free(names[i]);
    free(names);
}

char *lm_path_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}
