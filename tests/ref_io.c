/* Reader for LMRF reference files; see ref_io.h. */
#include "ref_io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_MAX_COUNT 100000
#define REF_MAX_ELEMS ((int64_t)1 << 31)

static int rd(FILE *fp, void *p, size_t n) { return fread(p, 1, n, fp) == n ? 0 : -1; }

static uint32_t le32(const unsigned char *b) {
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static int rd_u32(FILE *fp, uint32_t *v) {
    unsigned char b[4];
    if (rd(fp, b, 4)) return -1;
    *v = le32(b);
    return 0;
}

static int rd_i64(FILE *fp, int64_t *v) {
    unsigned char b[8];
    if (rd(fp, b, 8)) return -1;
    *v = (int64_t)((uint64_t)le32(b) | (uint64_t)le32(b + 4) << 32);
    return 0;
}

static int host_is_le(void) {
    const uint32_t one = 1;
    unsigned char c;
    memcpy(&c, &one, 1);
    return c == 1;
}

int ref_load(const char *path, ref_file *out) {
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "ref_load: cannot open %s (regenerate with: /usr/bin/python3 tests/ref/make_ref.py)\n", path);
        return -1;
    }
    char magic[4];
    uint32_t version, count;
    if (rd(fp, magic, 4) || memcmp(magic, "LMRF", 4)) {
        fprintf(stderr, "ref_load: %s is not an LMRF file (bad magic)\n", path);
        goto fail;
    }
    if (rd_u32(fp, &version) || version != 1) {
        fprintf(stderr, "ref_load: %s: unsupported version %u (want 1)\n", path, (unsigned)version);
        goto fail;
    }
    if (rd_u32(fp, &count) || count > REF_MAX_COUNT) {
        fprintf(stderr, "ref_load: %s: bad record count\n", path);
        goto fail;
    }
    out->t = calloc(count ? count : 1, sizeof *out->t);
    if (!out->t) {
        fprintf(stderr, "ref_load: out of memory\n");
        goto fail;
    }
    for (uint32_t i = 0; i < count; i++) {
        ref_tensor *t = &out->t[i];
        uint32_t name_len, dtype, ndim;
        if (rd_u32(fp, &name_len) || name_len == 0 || name_len >= sizeof t->name ||
            rd(fp, t->name, name_len)) {
            fprintf(stderr, "ref_load: %s: record %u: bad or truncated name\n", path, (unsigned)i);
            goto fail;
        }
        t->name[name_len] = '\0';
        if (rd_u32(fp, &dtype) || dtype > 1 || rd_u32(fp, &ndim) || ndim > 4) {
            fprintf(stderr, "ref_load: %s: %s: bad dtype or ndim\n", path, t->name);
            goto fail;
        }
        t->dtype = (int)dtype;
        t->ndim = (int)ndim;
        t->n = 1;
        for (uint32_t d = 0; d < ndim; d++) {
            if (rd_i64(fp, &t->dims[d]) || t->dims[d] < 0 ||
                (t->dims[d] > 0 && t->n > REF_MAX_ELEMS / t->dims[d])) {
                fprintf(stderr, "ref_load: %s: %s: bad dimension\n", path, t->name);
                goto fail;
            }
            t->n *= t->dims[d];
        }
        out->count = (int)i + 1;   /* so ref_free releases this record too */
        size_t bytes = (size_t)t->n * 4;
        t->data = malloc(bytes ? bytes : 4);
        if (!t->data) {
            fprintf(stderr, "ref_load: %s: %s: out of memory\n", path, t->name);
            goto fail;
        }
        if (rd(fp, t->data, bytes)) {
            fprintf(stderr, "ref_load: %s: %s: truncated data (%lld elements expected)\n", path,
                    t->name, (long long)t->n);
            goto fail;
        }
        if (!host_is_le()) {
            unsigned char *b = t->data;
            for (size_t k = 0; k < bytes; k += 4) {
                unsigned char x0 = b[k], x1 = b[k + 1];
                b[k] = b[k + 3]; b[k + 1] = b[k + 2]; b[k + 2] = x1; b[k + 3] = x0;
            }
        }
    }
    out->count = (int)count;
    if (fgetc(fp) != EOF) {
        fprintf(stderr, "ref_load: %s: trailing bytes after %u records\n", path, (unsigned)count);
        goto fail;
    }
    fclose(fp);
    return 0;
fail:
    fclose(fp);
    ref_free(out);
    return -1;
}

const ref_tensor *ref_find(const ref_file *f, const char *name) {
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->t[i].name, name) == 0) return &f->t[i];
    return NULL;
}

void ref_free(ref_file *f) {
    if (f->t)
        for (int i = 0; i < f->count; i++) free(f->t[i].data);
    free(f->t);
    f->t = NULL;
    f->count = 0;
}

double ref_rel_maxdiff(const float *a, const float *b, int64_t n) {
    double maxdiff = 0.0, maxb = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d != d) return INFINITY;   /* NaN */
        if (d > maxdiff) maxdiff = d;
        double m = fabs((double)b[i]);
        if (m > maxb) maxb = m;
    }
    return maxdiff / (maxb > 1e-12 ? maxb : 1e-12);
}
