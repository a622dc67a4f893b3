#include "train/ckpt_io.h"

#include <string.h>
#include <zlib.h>

size_t lm_ckpt_fields_size(const lm_ckpt_field *f, int k) {
    size_t s = 0;
    for (int i = 0; i < k; i++) s += (size_t)f[i].size;
    return s;
}

void lm_ckpt_fields_read(const lm_ckpt_field *f, int k, const uint8_t *buf) {
    size_t off = 0;
    for (int i = 0; i < k; i++) {
        memcpy(f[i].p, buf + off, (size_t)f[i].size);
        off += (size_t)f[i].size;
    }
}

/* zlib's crc32 takes a uInt length: large arrays go in slices */
static unsigned long crc_update(unsigned long crc, const void *p, size_t n) {
    const Bytef *b = p;
    while (n) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, b, chunk);
        b += chunk;
        n -= chunk;
    }
    return crc;
}

loom_status lm_ckpt_write_open(lm_ckpt_writer *w, const char *path, const char *magic, uint32_t version,
                               lm_error *err) {
    loom_status s = lm_afile_open(&w->af, path, err);
    if (s) return s;
    w->crc = crc32(0L, Z_NULL, 0);
    lm_ckpt_write(w, magic, 4);
    lm_ckpt_write(w, &version, 4);
    return LOOM_OK;
}

void lm_ckpt_write(lm_ckpt_writer *w, const void *p, size_t n) {
    lm_afile_write(&w->af, p, n);
    w->crc = crc_update(w->crc, p, n);
}

void lm_ckpt_write_fields(lm_ckpt_writer *w, const lm_ckpt_field *f, int k) {
    for (int i = 0; i < k; i++) lm_ckpt_write(w, f[i].p, (size_t)f[i].size);
}

loom_status lm_ckpt_write_commit(lm_ckpt_writer *w, lm_error *err) {
    uint32_t c32 = (uint32_t)w->crc;
    lm_afile_write(&w->af, &c32, 4);
    return lm_afile_commit(&w->af, err);
}

int lm_ckpt_crc_ok(const uint8_t *buf, size_t len) {
    uint32_t stored;
    memcpy(&stored, buf + len - 4, 4);
    return stored == (uint32_t)crc_update(crc32(0L, Z_NULL, 0), buf, len - 4);
}
