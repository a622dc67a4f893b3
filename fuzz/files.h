/* Shared by the fuzz targets of file readers: a copy of an input with its trailing CRC-32
 * recomputed (so that mutations get past a checksum into the checks behind it), and a scratch
 * folder for readers that only take a path (in /dev/shm when there is one: memory, not disk). */
#ifndef LM_FUZZ_FILES_H
#define LM_FUZZ_FILES_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw; include this header first */
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "loom.h"

/* A malloc'ed copy of data whose last 4 bytes are the CRC-32 (little-endian) of those before
 * them, as loom's checkpoint and tokenizer files end; NULL when size < 8 or out of memory. */
static uint8_t *fuzz_fix_crc(const uint8_t *data, size_t size) {
    if (size < 8) return NULL;
    uint8_t *c = malloc(size);
    if (!c) return NULL;
    memcpy(c, data, size);
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), c, (uInt)(size - 4));
    c[size - 4] = (uint8_t)crc, c[size - 3] = (uint8_t)(crc >> 8), c[size - 2] = (uint8_t)(crc >> 16),
    c[size - 1] = (uint8_t)(crc >> 24);
    return c;
}

static char fuzz_scratch_dir[256];

static int fuzz_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void fuzz_scratch_remove(void) { nftw(fuzz_scratch_dir, fuzz_rm, 16, FTW_DEPTH | FTW_PHYS); }

/* This process's scratch folder, made on first use and removed at exit (a crash leaves it:
 * /dev/shm/loom-fuzz.PID). The targets rewrite their files in it for every input. */
static const char *fuzz_scratch(void) {
    char *dir = fuzz_scratch_dir;
    if (!dir[0]) {
        struct stat st;
        const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0
                               ? "/dev/shm"
                               : "/tmp";
        snprintf(dir, sizeof fuzz_scratch_dir, "%s/loom-fuzz.%ld", base, (long)getpid());
        mkdir(dir, 0700);
        atexit(fuzz_scratch_remove);
    }
    return dir;
}

/* Writes n bytes to path (replacing it); aborts when it cannot, which is no finding of loom's. */
static void fuzz_write(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
        fprintf(stderr, "fuzz: cannot write %s (scratch folder full?)\n", path);
        exit(1);
    }
}

/* A finding: print what broke and abort, so that libFuzzer keeps the input. */
__attribute__((unused)) static void check(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "fuzz: %s\n", what);
        abort();
    }
}

/* A failed call leaves a one-line message. */
__attribute__((unused)) static void check_err(const loom_error *e) {
    check(e->msg[0] != 0, "a failure without a message");
    check(strchr(e->msg, '\n') == NULL, "a message of more than one line");
}

#endif
