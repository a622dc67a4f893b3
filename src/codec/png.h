/* PNG files and a small raster canvas.
 * Pictures written by loom (loss curves, sample grids) are PNG so that any viewer opens
 * them; the canvas is just enough drawing (lines, boxes, a built-in bitmap font) to
 * make such pictures without a graphics library. */
#ifndef LM_PNG_H
#define LM_PNG_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* Writes an 8-bit image (channels 1 = grey, 3 = RGB, 4 = RGBA), rows top to bottom,
 * tightly packed (width * channels bytes a row), atomically: a reader sees the old file
 * or the complete new one. */
loom_status lm_png_write(const char *path, int width, int height, int channels, const uint8_t *pixels,
                         lm_error *err);

/* Reads a PNG into 8-bit pixels (malloc'ed, rows top to bottom, tightly packed),
 * converting palette / 16-bit / grey(+alpha) / RGB(A) to the channel count requested
 * (1, 3 or 4; alpha is dropped when not asked for, and opaque when added). On error
 * *pixels is NULL and the message names the file. Never crashes on corrupt input. */
loom_status lm_png_read(const char *path, int want_channels, uint8_t **pixels, int *width, int *height,
                        lm_error *err);
/* The same for a PNG file held in memory (len bytes at buf, not kept); name stands for its
 * path in messages. */
loom_status lm_png_read_mem(const uint8_t *buf, size_t len, const char *name, int want_channels, uint8_t **pixels,
                            int *width, int *height, lm_error *err);

/* An RGB raster (3 bytes a pixel, rows top to bottom). Colours are 0xRRGGBB.
 * Coordinates are in pixels; pixel (x, y) covers [x, x+1) x [y, y+1). */
typedef struct lm_canvas {
    int w, h;
    uint8_t *rgb;
} lm_canvas;

/* Height of one line of text at scale 1, descenders included (glyphs are 5 x 7 with
 * two rows below the baseline); text advances 6 * scale pixels a character. */
#define LM_CANVAS_FONT_H 9
#define LM_CANVAS_FONT_ASCENT 7

/* Allocates a w x h canvas filled with bg_rgb. */
loom_status lm_canvas_init(lm_canvas *c, int w, int h, uint32_t bg_rgb, lm_error *err);

/* Frees the pixels; safe on a zeroed or already freed canvas. */
void lm_canvas_free(lm_canvas *c);

/* Draws an antialiased line with round ends, thickness pixels wide (at least 1),
 * clipped to the canvas. A zero-length line draws a dot; non-finite ends draw nothing. */
void lm_canvas_line(lm_canvas *c, double x0, double y0, double x1, double y1, uint32_t rgb, int thickness);

/* Fills the rectangle with top-left (x, y) and size w x h, clipped to the canvas. */
void lm_canvas_rect(lm_canvas *c, int x, int y, int w, int h, uint32_t rgb);

/* Draws s with its top-left at (x, y), each font pixel a scale x scale block (scale >= 1),
 * clipped. Printable ASCII 32..126 is drawn from the built-in font; anything else (one
 * box per UTF-8 character) as a hollow box. No line breaks. */
void lm_canvas_text(lm_canvas *c, int x, int y, const char *s, uint32_t rgb, int scale);

/* Width in pixels that lm_canvas_text would cover for s (0 for an empty string). */
int lm_canvas_text_width(const char *s, int scale);

/* Writes the canvas as an RGB PNG, atomically. */
loom_status lm_canvas_save(const lm_canvas *c, const char *path, lm_error *err);

#endif
