#include "codec/png.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/io.h"

/* Bounds that keep every size computation far from overflow and refuse absurd headers
 * in corrupt files before any allocation happens. */
#define LM_PNG_MAX_DIM 32768
#define LM_PNG_MAX_BYTES ((size_t)1 << 30)
#define LM_PNG_MAX_FILE ((size_t)1 << 30)
#define LM_PNG_MAX_ALLOC ((png_alloc_size_t)16 << 20) /* the most libpng may allocate at once */
#define LM_CANVAS_MAX_DIM 16384

/* ------------------------------------------------------------------------ */
/* libpng glue                                                               */
/* ------------------------------------------------------------------------ */

/* State shared with the libpng callbacks. libpng reports errors by longjmp, so anything
 * a callback learns (the message, why it stopped) has to live here, outside the frame
 * that calls setjmp. */
typedef struct png_io {
    char msg[200];
    int nomem;          /* the error was an allocation failure */
    int write_failed;   /* the error came from the file, not from libpng */
    lm_afile *af;       /* writing */
    const uint8_t *data;/* reading: the whole file */
    size_t len, pos;
} png_io;

static void on_png_error(png_structp png, png_const_charp msg) {
    png_io *io = png_get_error_ptr(png);
    snprintf(io->msg, sizeof io->msg, "%s", msg ? msg : "unknown libpng error");
    png_longjmp(png, 1);
}

/* Warnings (bad ancillary chunks, odd gamma) do not stop a usable image from loading,
 * and libpng's default would print them to stderr. */
static void on_png_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static void on_png_write(png_structp png, png_bytep data, size_t n) {
    png_io *io = png_get_io_ptr(png);
    lm_afile_write(io->af, data, n);
    /* Stop compressing as soon as the disk refuses data; commit would refuse anyway. */
    if (io->af->failed) {
        io->write_failed = errno ? errno : EIO;
        png_error(png, "write failed");
    }
}

/* Nothing to flush early: lm_afile_commit flushes and fsyncs once at the end. */
static void on_png_flush(png_structp png) {
    (void)png;
}

static void on_png_read(png_structp png, png_bytep out, size_t n) {
    png_io *io = png_get_io_ptr(png);
    if (n > io->len - io->pos) png_error(png, "unexpected end of file");
    memcpy(out, io->data + io->pos, n);
    io->pos += n;
}

/* Runs the libpng write calls under setjmp. It modifies no local after setjmp, so
 * nothing here is indeterminate when libpng jumps back. */
static int png_encode(png_structp png, png_infop info, int w, int h, int channels, const uint8_t *px) {
    if (setjmp(png_jmpbuf(png))) return -1;
    int ctype = channels == 1 ? PNG_COLOR_TYPE_GRAY : channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_RGBA;
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, ctype, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t stride = (size_t)w * (size_t)channels;
    for (int y = 0; y < h; y++) png_write_row(png, px + (size_t)y * stride);
    png_write_end(png, NULL);
    return 0;
}

loom_status lm_png_write(const char *path, int width, int height, int channels, const uint8_t *pixels,
                         lm_error *err) {
    if (!path || !pixels)
        return lm_fail(err, LOOM_ERR_ARG, "lm_png_write: path and pixels must not be NULL");
    if (width < 1 || height < 1 || width > LM_PNG_MAX_DIM || height > LM_PNG_MAX_DIM)
        return lm_fail(err, LOOM_ERR_ARG, "cannot write '%s': image size %dx%d is outside 1..%d", path, width,
                       height, LM_PNG_MAX_DIM);
    if (channels != 1 && channels != 3 && channels != 4)
        return lm_fail(err, LOOM_ERR_ARG, "cannot write '%s': %d channels (use 1 = grey, 3 = RGB or 4 = RGBA)",
                       path, channels);

    lm_afile af;
    loom_status s = lm_afile_open(&af, path, err);
    if (s) return s;
    png_io io = {.af = &af};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &io, on_png_error, on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        lm_afile_abort(&af);
        return lm_fail(err, LOOM_ERR_NOMEM, "out of memory writing '%s'", path);
    }
    png_set_write_fn(png, &io, on_png_write, on_png_flush);
    int bad = png_encode(png, info, width, height, channels, pixels);
    png_destroy_write_struct(&png, &info);
    if (bad) {
        lm_afile_abort(&af);
        if (io.write_failed)
            return lm_fail(err, LOOM_ERR_IO, "writing '%s' failed: %s (is the disk full?)", path,
                           strerror(io.write_failed));
        return lm_fail(err, LOOM_ERR_IO, "cannot encode '%s': %s", path, io.msg);
    }
    return lm_afile_commit(&af, err);
}

/* What png_decode hands back; it lives in the caller so that it survives a longjmp. */
typedef struct png_out {
    uint8_t *px;
    png_bytep *rows;
    png_uint_32 w, h;
} png_out;

/* Sets up conversions to 8-bit `want` channels and decodes into out. Like png_encode,
 * it writes only through pointers after setjmp. */
static int png_decode(png_structp png, png_infop info, int want, png_io *io, png_out *out) {
    if (setjmp(png_jmpbuf(png))) return -1;
    png_set_sig_bytes(png, 8);
    png_set_user_limits(png, LM_PNG_MAX_DIM, LM_PNG_MAX_DIM);
    png_read_info(png, info);

    png_uint_32 w, h;
    int depth, ctype, interlace;
    png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    int has_color = (ctype & PNG_COLOR_MASK_COLOR) != 0;
    int has_alpha = (ctype & PNG_COLOR_MASK_ALPHA) != 0;
    /* png_set_palette_to_rgb turns a palette's tRNS chunk into an alpha channel whatever is
     * asked: that alpha is stripped below like a stored one unless 4 channels were asked for */
    int strip = (ctype & PNG_COLOR_MASK_ALPHA) ||
                (ctype == PNG_COLOR_TYPE_PALETTE && png_get_valid(png, info, PNG_INFO_tRNS));

    if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (!has_color && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    /* Transparency given as a tRNS chunk only matters when alpha was asked for. */
    if (want == 4 && png_get_valid(png, info, PNG_INFO_tRNS)) {
        png_set_tRNS_to_alpha(png);
        has_alpha = 1;
    }
#ifdef PNG_READ_SCALE_16_TO_8_SUPPORTED
    if (depth == 16) png_set_scale_16(png);
#else
    if (depth == 16) png_set_strip_16(png);
#endif
    if (want == 1) {
        if (has_color) png_set_rgb_to_gray_fixed(png, PNG_ERROR_ACTION_NONE, -1, -1);
        if (strip) png_set_strip_alpha(png);
    } else {
        if (!has_color) png_set_gray_to_rgb(png);
        if (want == 3 && strip) png_set_strip_alpha(png);
        if (want == 4 && !has_alpha) png_set_add_alpha(png, 0xff, PNG_FILLER_AFTER);
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    /* Trust the layout only after libpng confirms the conversions produced it. */
    size_t stride = (size_t)w * (size_t)want;
    if (png_get_bit_depth(png, info) != 8 || png_get_channels(png, info) != want ||
        png_get_rowbytes(png, info) != stride)
        png_error(png, "unsupported pixel layout");
    if (w == 0 || h == 0 || stride > LM_PNG_MAX_BYTES / h) png_error(png, "image too large");
    out->px = malloc(stride * h);
    out->rows = malloc(sizeof *out->rows * h);
    if (!out->px || !out->rows) {
        io->nomem = 1;
        png_error(png, "out of memory");
    }
    for (png_uint_32 y = 0; y < h; y++) out->rows[y] = out->px + (size_t)y * stride;
    png_read_image(png, out->rows);
    png_read_end(png, NULL);
    out->w = w;
    out->h = h;
    return 0;
}

loom_status lm_png_read(const char *path, int want_channels, uint8_t **pixels, int *width, int *height,
                        lm_error *err) {
    if (pixels) *pixels = NULL;
    if (width) *width = 0;
    if (height) *height = 0;
    if (!path || !pixels || !width || !height)
        return lm_fail(err, LOOM_ERR_ARG, "lm_png_read: path and outputs must not be NULL");
    if (want_channels != 1 && want_channels != 3 && want_channels != 4)
        return lm_fail(err, LOOM_ERR_ARG, "cannot read '%s' as %d channels (use 1, 3 or 4)", path, want_channels);

    uint8_t *buf;
    size_t len;
    loom_status s = lm_read_file(path, LM_PNG_MAX_FILE, &buf, &len, err);
    if (s) return s;
    s = lm_png_read_mem(buf, len, path, want_channels, pixels, width, height, err);
    free(buf);
    return s;
}

/* libpng allocates an ancillary chunk (text, ICC profile) at the size its header claims before
 * reading it (png_set_chunk_malloc_max only warns about a larger one in libpng 1.6), so a 100-byte
 * file claiming a 1.3 GB tEXt chunk got 1.3 GB. Refusing large allocations makes libpng give up
 * on such a chunk instead; its other allocations (a row, zlib's window) stay far below the cap,
 * and the pixels are allocated by png_decode, not by libpng. */
static png_voidp png_alloc(png_structp png, png_alloc_size_t n) {
    (void)png;
    return n > LM_PNG_MAX_ALLOC ? NULL : malloc(n);
}

static void png_dealloc(png_structp png, png_voidp p) {
    (void)png;
    free(p);
}

loom_status lm_png_read_mem(const uint8_t *buf, size_t len, const char *path, int want_channels, uint8_t **pixels,
                            int *width, int *height, lm_error *err) {
    if (pixels) *pixels = NULL;
    if (width) *width = 0;
    if (height) *height = 0;
    if (!buf || !path || !pixels || !width || !height)
        return lm_fail(err, LOOM_ERR_ARG, "lm_png_read_mem: buf, name and outputs must not be NULL");
    if (want_channels != 1 && want_channels != 3 && want_channels != 4)
        return lm_fail(err, LOOM_ERR_ARG, "cannot read '%s' as %d channels (use 1, 3 or 4)", path, want_channels);
    if (len < 8 || png_sig_cmp(buf, 0, 8) != 0)
        return lm_fail(err, LOOM_ERR_FORMAT, "'%s' is not a PNG file (it lacks the PNG signature)", path);

    png_io io = {.data = buf, .len = len, .pos = 8};
    png_structp png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &io, on_png_error, on_png_warning, NULL,
                                               png_alloc, png_dealloc);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return lm_fail(err, LOOM_ERR_NOMEM, "out of memory reading '%s'", path);
    }
    png_set_read_fn(png, &io, on_png_read);
    png_out out = {0};
    int bad = png_decode(png, info, want_channels, &io, &out);
    png_destroy_read_struct(&png, &info, NULL);
    free(out.rows);
    if (bad) {
        free(out.px);
        if (io.nomem) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory reading '%s'", path);
        return lm_fail(err, LOOM_ERR_FORMAT, "cannot read PNG '%s': %s (the file is corrupt or truncated)", path,
                       io.msg);
    }
    *pixels = out.px;
    *width = (int)out.w;
    *height = (int)out.h;
    return LOOM_OK;
}

/* ------------------------------------------------------------------------ */
/* Canvas                                                                    */
/* ------------------------------------------------------------------------ */

/* 5 x 9 cells: rows 0..6 hold capitals and digits (baseline under row 6), rows 7..8
 * the descenders of g j p q y , _. Each byte is one row, bit 4 the leftmost column.
 * Index is the character code minus 32. */
static const uint8_t font5x9[95][9] = {
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* space */
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04, 0x00, 0x00}, /* ! */
    {0x0a, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* " */
    {0x0a, 0x0a, 0x1f, 0x0a, 0x1f, 0x0a, 0x0a, 0x00, 0x00}, /* # */
    {0x04, 0x0f, 0x14, 0x0e, 0x05, 0x1e, 0x04, 0x00, 0x00}, /* $ */
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03, 0x00, 0x00}, /* % */
    {0x0c, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0d, 0x00, 0x00}, /* & */
    {0x04, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* quote */
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02, 0x00, 0x00}, /* ( */
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08, 0x00, 0x00}, /* ) */
    {0x00, 0x04, 0x15, 0x0e, 0x15, 0x04, 0x00, 0x00, 0x00}, /* * */
    {0x00, 0x04, 0x04, 0x1f, 0x04, 0x04, 0x00, 0x00, 0x00}, /* + */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x04, 0x08, 0x00}, /* , */
    {0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x00, 0x00}, /* - */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c, 0x00, 0x00}, /* . */
    {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00, 0x00, 0x00}, /* / */
    {0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e, 0x00, 0x00}, /* 0 */
    {0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00}, /* 1 */
    {0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f, 0x00, 0x00}, /* 2 */
    {0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e, 0x00, 0x00}, /* 3 */
    {0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02, 0x00, 0x00}, /* 4 */
    {0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e, 0x00, 0x00}, /* 5 */
    {0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e, 0x00, 0x00}, /* 6 */
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08, 0x00, 0x00}, /* 7 */
    {0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e, 0x00, 0x00}, /* 8 */
    {0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c, 0x00, 0x00}, /* 9 */
    {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00, 0x00, 0x00}, /* : */
    {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x04, 0x08, 0x00, 0x00}, /* ; */
    {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02, 0x00, 0x00}, /* < */
    {0x00, 0x00, 0x1f, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x00}, /* = */
    {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08, 0x00, 0x00}, /* > */
    {0x0e, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04, 0x00, 0x00}, /* ? */
    {0x0e, 0x11, 0x01, 0x0d, 0x15, 0x15, 0x0e, 0x00, 0x00}, /* @ */
    {0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11, 0x00, 0x00}, /* A */
    {0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e, 0x00, 0x00}, /* B */
    {0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e, 0x00, 0x00}, /* C */
    {0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c, 0x00, 0x00}, /* D */
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f, 0x00, 0x00}, /* E */
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10, 0x00, 0x00}, /* F */
    {0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f, 0x00, 0x00}, /* G */
    {0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11, 0x00, 0x00}, /* H */
    {0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00}, /* I */
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c, 0x00, 0x00}, /* J */
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11, 0x00, 0x00}, /* K */
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f, 0x00, 0x00}, /* L */
    {0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11, 0x00, 0x00}, /* M */
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0x00, 0x00}, /* N */
    {0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e, 0x00, 0x00}, /* O */
    {0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10, 0x00, 0x00}, /* P */
    {0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d, 0x00, 0x00}, /* Q */
    {0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11, 0x00, 0x00}, /* R */
    {0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e, 0x00, 0x00}, /* S */
    {0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x00}, /* T */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e, 0x00, 0x00}, /* U */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04, 0x00, 0x00}, /* V */
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a, 0x00, 0x00}, /* W */
    {0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11, 0x00, 0x00}, /* X */
    {0x11, 0x11, 0x0a, 0x04, 0x04, 0x04, 0x04, 0x00, 0x00}, /* Y */
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f, 0x00, 0x00}, /* Z */
    {0x0e, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0e, 0x00, 0x00}, /* [ */
    {0x00, 0x10, 0x08, 0x04, 0x02, 0x01, 0x00, 0x00, 0x00}, /* backslash */
    {0x0e, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0e, 0x00, 0x00}, /* ] */
    {0x04, 0x0a, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* ^ */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f, 0x00}, /* _ */
    {0x08, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* ` */
    {0x00, 0x00, 0x0e, 0x01, 0x0f, 0x11, 0x0f, 0x00, 0x00}, /* a */
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1e, 0x00, 0x00}, /* b */
    {0x00, 0x00, 0x0e, 0x10, 0x10, 0x11, 0x0e, 0x00, 0x00}, /* c */
    {0x01, 0x01, 0x0d, 0x13, 0x11, 0x11, 0x0f, 0x00, 0x00}, /* d */
    {0x00, 0x00, 0x0e, 0x11, 0x1f, 0x10, 0x0e, 0x00, 0x00}, /* e */
    {0x06, 0x09, 0x08, 0x1c, 0x08, 0x08, 0x08, 0x00, 0x00}, /* f */
    {0x00, 0x00, 0x0f, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x0e}, /* g */
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00, 0x00}, /* h */
    {0x04, 0x00, 0x0c, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00}, /* i */
    {0x02, 0x00, 0x06, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c}, /* j */
    {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12, 0x00, 0x00}, /* k */
    {0x0c, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e, 0x00, 0x00}, /* l */
    {0x00, 0x00, 0x1a, 0x15, 0x15, 0x15, 0x15, 0x00, 0x00}, /* m */
    {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00, 0x00}, /* n */
    {0x00, 0x00, 0x0e, 0x11, 0x11, 0x11, 0x0e, 0x00, 0x00}, /* o */
    {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x1e, 0x10, 0x10}, /* p */
    {0x00, 0x00, 0x0d, 0x13, 0x11, 0x11, 0x0f, 0x01, 0x01}, /* q */
    {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10, 0x00, 0x00}, /* r */
    {0x00, 0x00, 0x0f, 0x10, 0x0e, 0x01, 0x1e, 0x00, 0x00}, /* s */
    {0x08, 0x08, 0x1c, 0x08, 0x08, 0x09, 0x06, 0x00, 0x00}, /* t */
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0d, 0x00, 0x00}, /* u */
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x0a, 0x04, 0x00, 0x00}, /* v */
    {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0a, 0x00, 0x00}, /* w */
    {0x00, 0x00, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x00, 0x00}, /* x */
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x0e}, /* y */
    {0x00, 0x00, 0x1f, 0x02, 0x04, 0x08, 0x1f, 0x00, 0x00}, /* z */
    {0x02, 0x04, 0x04, 0x08, 0x04, 0x04, 0x02, 0x00, 0x00}, /* { */
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x00}, /* | */
    {0x08, 0x04, 0x04, 0x02, 0x04, 0x04, 0x08, 0x00, 0x00}, /* } */
    {0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00, 0x00, 0x00}, /* ~ */
};

loom_status lm_canvas_init(lm_canvas *c, int w, int h, uint32_t bg_rgb, lm_error *err) {
    if (!c) return lm_fail(err, LOOM_ERR_ARG, "lm_canvas_init: canvas must not be NULL");
    c->w = c->h = 0;
    c->rgb = NULL;
    if (w < 1 || h < 1 || w > LM_CANVAS_MAX_DIM || h > LM_CANVAS_MAX_DIM)
        return lm_fail(err, LOOM_ERR_ARG, "canvas size %dx%d is outside 1..%d", w, h, LM_CANVAS_MAX_DIM);
    size_t n = (size_t)w * (size_t)h;
    uint8_t *p = malloc(n * 3);
    if (!p) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory for a %dx%d canvas", w, h);
    uint8_t r = (uint8_t)(bg_rgb >> 16), g = (uint8_t)(bg_rgb >> 8), b = (uint8_t)bg_rgb;
    for (size_t i = 0; i < n; i++) {
        p[3 * i] = r;
        p[3 * i + 1] = g;
        p[3 * i + 2] = b;
    }
    c->w = w;
    c->h = h;
    c->rgb = p;
    return LOOM_OK;
}

void lm_canvas_free(lm_canvas *c) {
    if (!c) return;
    free(c->rgb);
    c->rgb = NULL;
    c->w = c->h = 0;
}

/* Mixes rgb into pixel (x, y) by coverage a in (0, 1]; the caller has clipped. */
static void blend(lm_canvas *c, int x, int y, uint32_t rgb, double a) {
    uint8_t *p = c->rgb + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    const int col[3] = {(int)(rgb >> 16) & 255, (int)(rgb >> 8) & 255, (int)rgb & 255};
    for (int k = 0; k < 3; k++) p[k] = (uint8_t)lround(p[k] + (col[k] - p[k]) * a);
}

/* Moves the end (*px, *py) onto the boundary, computing from the other end (qx, qy).
 * Anchoring at the other end keeps the result accurate when *px is huge (an outlier
 * mapped far off the canvas) and (qx, qy) is near the visible area. */
static void clip_to_x(double *px, double *py, double qx, double qy, double bx) {
    *py = qy + (bx - qx) * ((*py - qy) / (*px - qx));
    *px = bx;
}

static void clip_to_y(double *px, double *py, double qx, double qy, double by) {
    *px = qx + (by - qy) * ((*px - qx) / (*py - qy));
    *py = by;
}

static int outcode(double x, double y, double x0, double y0, double x1, double y1) {
    return (x < x0) | (x > x1) << 1 | (y < y0) << 2 | (y > y1) << 3;
}

/* Cohen-Sutherland: clips the segment to [x0, x1] x [y0, y1]; 0 when nothing is left. */
static int clip_segment(double *ax, double *ay, double *bx, double *by, double x0, double y0, double x1,
                        double y1) {
    for (int iter = 0; iter < 8; iter++) {
        int ca = outcode(*ax, *ay, x0, y0, x1, y1), cb = outcode(*bx, *by, x0, y0, x1, y1);
        if (!(ca | cb)) return 1;
        if (ca & cb) return 0;
        double *px = ca ? ax : bx, *py = ca ? ay : by;
        double qx = ca ? *bx : *ax, qy = ca ? *by : *ay;
        int code = ca ? ca : cb;
        if (code & 1) clip_to_x(px, py, qx, qy, x0);
        else if (code & 2) clip_to_x(px, py, qx, qy, x1);
        else if (code & 4) clip_to_y(px, py, qx, qy, y0);
        else clip_to_y(px, py, qx, qy, y1);
        if (!isfinite(*px) || !isfinite(*py)) return 0;
    }
    return 0;
}

void lm_canvas_line(lm_canvas *c, double x0, double y0, double x1, double y1, uint32_t rgb, int thickness) {
    if (!c || !c->rgb) return;
    if (!isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1)) return;
    double r = (thickness < 1 ? 1 : thickness) / 2.0;
    double m = r + 2;
    if (!clip_segment(&x0, &y0, &x1, &y1, -m, -m, c->w + m, c->h + m)) return;
    double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
    int xa = (int)floor(fmin(x0, x1) - r - 1), xb = (int)ceil(fmax(x0, x1) + r + 1);
    int ya = (int)floor(fmin(y0, y1) - r - 1), yb = (int)ceil(fmax(y0, y1) + r + 1);
    if (xa < 0) xa = 0;
    if (ya < 0) ya = 0;
    if (xb > c->w - 1) xb = c->w - 1;
    if (yb > c->h - 1) yb = c->h - 1;
    for (int y = ya; y <= yb; y++) {
        double py = y + 0.5;
        for (int x = xa; x <= xb; x++) {
            double px = x + 0.5;
            double t = len2 > 0 ? ((px - x0) * dx + (py - y0) * dy) / len2 : 0;
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            double ex = px - (x0 + t * dx), ey = py - (y0 + t * dy);
            /* Coverage falls off over one pixel at the edge: cheap antialiasing that
             * keeps the core of the stroke exactly the requested colour. */
            double cov = r + 0.5 - sqrt(ex * ex + ey * ey);
            if (cov <= 0) continue;
            blend(c, x, y, rgb, cov > 1 ? 1 : cov);
        }
    }
}

void lm_canvas_rect(lm_canvas *c, int x, int y, int w, int h, uint32_t rgb) {
    if (!c || !c->rgb || w <= 0 || h <= 0) return;
    long long xa = x, ya = y, xb = (long long)x + w, yb = (long long)y + h;
    if (xa < 0) xa = 0;
    if (ya < 0) ya = 0;
    if (xb > c->w) xb = c->w;
    if (yb > c->h) yb = c->h;
    uint8_t r = (uint8_t)(rgb >> 16), g = (uint8_t)(rgb >> 8), b = (uint8_t)rgb;
    for (long long j = ya; j < yb; j++) {
        uint8_t *p = c->rgb + ((size_t)j * (size_t)c->w + (size_t)xa) * 3;
        for (long long i = xa; i < xb; i++, p += 3) {
            p[0] = r;
            p[1] = g;
            p[2] = b;
        }
    }
}

/* UTF-8 continuation bytes belong to the character before them; skipping them draws one
 * box per non-ASCII character rather than one per byte. */
static int is_continuation(unsigned char ch) {
    return (ch & 0xC0) == 0x80;
}

void lm_canvas_text(lm_canvas *c, int x, int y, const char *s, uint32_t rgb, int scale) {
    if (!c || !c->rgb || !s) return;
    if (scale < 1) scale = 1;
    long long cx = x;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (is_continuation(*p)) continue;
        if (cx > c->w) break;
        if (cx + 5LL * scale >= 0 && cx <= INT_MAX) {
            int gx = (int)cx;
            if (*p >= 32 && *p <= 126) {
                const uint8_t *g = font5x9[*p - 32];
                for (int row = 0; row < 9; row++)
                    for (int col = 0; col < 5; col++)
                        if (g[row] >> (4 - col) & 1)
                            lm_canvas_rect(c, gx + col * scale, y + row * scale, scale, scale, rgb);
            } else {
                lm_canvas_rect(c, gx, y, 5 * scale, scale, rgb);
                lm_canvas_rect(c, gx, y + 6 * scale, 5 * scale, scale, rgb);
                lm_canvas_rect(c, gx, y, scale, 7 * scale, rgb);
                lm_canvas_rect(c, gx + 4 * scale, y, scale, 7 * scale, rgb);
            }
        }
        cx += 6LL * scale;
    }
}

int lm_canvas_text_width(const char *s, int scale) {
    if (!s) return 0;
    if (scale < 1) scale = 1;
    long long n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!is_continuation(*p)) n++;
    if (n == 0) return 0;
    long long w = n * 6 * scale - scale; /* no gap after the last character */
    return w > INT_MAX ? INT_MAX : (int)w;
}

loom_status lm_canvas_save(const lm_canvas *c, const char *path, lm_error *err) {
    if (!c || !c->rgb) return lm_fail(err, LOOM_ERR_ARG, "cannot save '%s': the canvas is empty", path ? path : "");
    return lm_png_write(path, c->w, c->h, 3, c->rgb, err);
}
