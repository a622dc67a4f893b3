/* The pieces both checkpoint formats (checkpoint.c, magic LMCK; ckpt_image.c, magic LMCI) are
 * made of: a header that is a fixed list of 4- and 8-byte fields, which the writer and the reader
 * walk alike so that the two can never disagree on the layout; a writer that feeds every byte it
 * writes to a CRC-32 and ends the file with it; and the reader's check of that CRC. */
#ifndef LM_CKPT_IO_H
#define LM_CKPT_IO_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"
#include "util/io.h"

/* One header field: where its value lives, and its size in bytes (4 or 8). */
typedef struct lm_ckpt_field {
    void *p;
    int size;
} lm_ckpt_field;

/* The bytes the k fields take in the file. */
size_t lm_ckpt_fields_size(const lm_ckpt_field *f, int k);

/* Copies the k fields' values out of buf, where they stand one after another. */
void lm_ckpt_fields_read(const lm_ckpt_field *f, int k, const uint8_t *buf);

/* A checkpoint being written atomically (util/io.h lm_afile), with the running CRC-32. */
typedef struct lm_ckpt_writer {
    lm_afile af;
    unsigned long crc;
} lm_ckpt_writer;

/* Opens path and writes the 4-byte magic and the u32 version. */
loom_status lm_ckpt_write_open(lm_ckpt_writer *w, const char *path, const char *magic, uint32_t version,
                               lm_error *err);
/* Writes n bytes (a failure is remembered and reported by lm_ckpt_write_commit). */
void lm_ckpt_write(lm_ckpt_writer *w, const void *p, size_t n);
/* Writes the k fields' values. */
void lm_ckpt_write_fields(lm_ckpt_writer *w, const lm_ckpt_field *f, int k);
/* Ends the file with the CRC-32 of everything written, and renames it into place. */
loom_status lm_ckpt_write_commit(lm_ckpt_writer *w, lm_error *err);

/* Whether the last 4 bytes of buf (len >= 4) are the CRC-32 of the bytes before them. */
int lm_ckpt_crc_ok(const uint8_t *buf, size_t len);

#endif
