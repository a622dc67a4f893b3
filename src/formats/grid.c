#include "formats/grid.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/png.h"

#define GRID_PAD 4
#define GRID_MAX_SCALE 64
#define GRID_MAX_SIDE 16384 /* the canvas's limit */

/* Sizes of every part of the picture. */
typedef struct layout {
    int cols, rows, scale, ts;
    int cw, ih, cap;  /* image width, image height, caption band (pixels) */
    int label_w;      /* row-label column, pad included; 0 without labels */
    int64_t w, h;
} layout;

static loom_status plan(const lm_grid *g, int one_row, const char *path, layout *L, lm_error *err) {
    const char *p = path ? path : "the grid";
    if (!g) return lm_fail(err, LOOM_ERR_ARG, "cannot draw '%s': no images given", p);
    if (g->n < 1 || g->H < 1 || g->W < 1 || g->H > GRID_MAX_SIDE || g->W > GRID_MAX_SIDE)
        return lm_fail(err, LOOM_ERR_ARG, "cannot draw '%s': %d images of %dx%d (need at least one image of 1x1 or more)",
                       p, g->n, g->W, g->H);
    if (g->C != 1 && g->C != 3)
        return lm_fail(err, LOOM_ERR_ARG, "cannot draw '%s': images of %d channels (use 1 = grey or 3 = RGB)", p, g->C);
    if (!g->f32 && !g->u8) return lm_fail(err, LOOM_ERR_ARG, "cannot draw '%s': no pixels given (set f32 or u8)", p);
    if (g->scale < 0 || g->scale > GRID_MAX_SCALE)
        return lm_fail(err, LOOM_ERR_ARG, "cannot draw '%s': scale %d is outside 1..%d", p, g->scale, GRID_MAX_SCALE);
    memset(L, 0, sizeof *L);
    L->scale = g->scale ? g->scale : 1;
    int cols = one_row ? g->n : g->cols;
    if (cols <= 0) {
        cols = (int)ceil(sqrt((double)g->n));
        if (cols < 1) cols = 1;
    }
    if (cols > g->n) cols = g->n;
    L->cols = cols;
    L->rows = (g->n + cols - 1) / cols;
    L->cw = g->W * L->scale;
    L->ih = g->H * L->scale;
    if ((int64_t)g->W * L->scale > GRID_MAX_SIDE || (int64_t)g->H * L->scale > GRID_MAX_SIDE) L->cw = L->ih = GRID_MAX_SIDE;
    L->ts = L->cw >= 192 ? 2 : 1;
    L->cap = g->captions ? LM_CANVAS_FONT_H * L->ts + 3 : 0;
    if (g->row_labels) {
        int widest = 0;
        for (int r = 0; r < L->rows; r++) {
            int w = lm_canvas_text_width(g->row_labels[r], L->ts);
            if (w > widest) widest = w;
        }
        L->label_w = widest + GRID_PAD;
    }
    L->w = GRID_PAD + (int64_t)L->label_w + (int64_t)L->cols * (L->cw + GRID_PAD);
    L->h = GRID_PAD + (int64_t)L->rows * (L->ih + L->cap + GRID_PAD);
    if (L->w > GRID_MAX_SIDE || L->h > GRID_MAX_SIDE)
        return lm_fail(err, LOOM_ERR_ARG,
                       "cannot draw '%s': the grid would be %lldx%lld pixels, more than %d a side (use fewer columns or "
                       "a smaller scale)",
                       p, (long long)L->w, (long long)L->h, GRID_MAX_SIDE);
    return LOOM_OK;
}

loom_status lm_grid_size(const lm_grid *g, int *width, int *height, lm_error *err) {
    layout L;
    loom_status s = plan(g, 0, NULL, &L, err);
    if (width) *width = s ? 0 : (int)L.w;
    if (height) *height = s ? 0 : (int)L.h;
    return s;
}

static uint8_t to_u8(float v) {
    float x = (v + 1.0f) * 127.5f;
    if (!(x > 0)) return 0; /* also NaN: a broken sample shows as black, not as noise */
    if (x >= 255) return 255;
    return (uint8_t)(x + 0.5f);
}

/* Writes s into out cut short (ending in '.') to fit max_w pixels at text scale ts. */
static void fit_text(const char *s, int max_w, int ts, char *out, size_t cap) {
    size_t n = strlen(s);
    if (n >= cap) n = cap - 1;
    memcpy(out, s, n);
    out[n] = 0;
    if (lm_canvas_text_width(out, ts) <= max_w) return;
    while (n > 0) {
        n--;
        while (n > 0 && ((unsigned char)out[n] & 0xC0) == 0x80) n--; /* keep whole UTF-8 characters */
        out[n] = '.';
        out[n + 1] = 0;
        if (lm_canvas_text_width(out, ts) <= max_w) return;
    }
    out[0] = 0; /* not even one character fits */
}

static loom_status draw(const char *path, const lm_grid *g, int one_row, lm_error *err) {
    if (!path) return lm_fail(err, LOOM_ERR_ARG, "lm_grid_write_png: path must not be NULL");
    layout L;
    loom_status s = plan(g, one_row, path, &L, err);
    if (s) return s;
    uint32_t bg = g->dark ? 0x181818u : 0xFFFFFFu, fg = g->dark ? 0xE0E0E0u : 0x202020u;
    lm_canvas cv;
    s = lm_canvas_init(&cv, (int)L.w, (int)L.h, bg, err);
    if (s) return s;
    size_t plane = (size_t)g->H * (size_t)g->W, per = plane * (size_t)g->C;
    char text[256];
    for (int i = 0; i < g->n; i++) {
        int r = i / L.cols, c = i % L.cols;
        int x0 = GRID_PAD + L.label_w + c * (L.cw + GRID_PAD), y0 = GRID_PAD + r * (L.ih + L.cap + GRID_PAD);
        for (int y = 0; y < g->H; y++)
            for (int x = 0; x < g->W; x++) {
                uint8_t v[3];
                for (int ch = 0; ch < 3; ch++) {
                    size_t at = (size_t)i * per + (size_t)(g->C == 1 ? 0 : ch) * plane + (size_t)y * g->W + (size_t)x;
                    v[ch] = g->f32 ? to_u8(g->f32[at]) : g->u8[at];
                }
                for (int dy = 0; dy < L.scale; dy++) {
                    uint8_t *row = cv.rgb + ((size_t)(y0 + y * L.scale + dy) * (size_t)cv.w + (size_t)(x0 + x * L.scale)) * 3;
                    for (int dx = 0; dx < L.scale; dx++) memcpy(row + 3 * dx, v, 3);
                }
            }
        if (g->captions && g->captions[i]) {
            fit_text(g->captions[i], L.cw, L.ts, text, sizeof text);
            int tw = lm_canvas_text_width(text, L.ts);
            lm_canvas_text(&cv, x0 + (L.cw - tw) / 2, y0 + L.ih + 2, text, fg, L.ts);
        }
    }
    for (int r = 0; g->row_labels && r < L.rows; r++) {
        if (!g->row_labels[r]) continue;
        int y0 = GRID_PAD + r * (L.ih + L.cap + GRID_PAD);
        int ty = y0 + (L.ih - LM_CANVAS_FONT_ASCENT * L.ts) / 2;
        lm_canvas_text(&cv, GRID_PAD, ty, g->row_labels[r], fg, L.ts);
    }
    s = lm_canvas_save(&cv, path, err);
    lm_canvas_free(&cv);
    return s;
}

loom_status lm_grid_write_png(const char *path, const lm_grid *g, lm_error *err) { return draw(path, g, 0, err); }

loom_status lm_strip_write_png(const char *path, const lm_grid *g, lm_error *err) { return draw(path, g, 1, err); }

loom_status lm_grid_write_one_png(const char *path, const lm_grid *g, int i, lm_error *err) {
    int sc = g->scale > 0 ? g->scale : 1;
    if (i < 0 || i >= g->n || (g->C != 1 && g->C != 3) || g->H < 1 || g->W < 1 || sc > 64 || (!g->f32 && !g->u8))
        return lm_fail(err, LOOM_ERR_ARG, "cannot write image %d of '%s': bad image fields", i, path);
    int64_t plane = (int64_t)g->H * g->W, w = (int64_t)g->W * sc, h = (int64_t)g->H * sc;
    if (w > 65535 || h > 65535)
        return lm_fail(err, LOOM_ERR_ARG, "'%s' would be %lldx%lld pixels (use a smaller --scale)", path, (long long)w,
                       (long long)h);
    uint8_t *px = malloc((size_t)(w * h * g->C));
    if (!px) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory writing '%s'", path);
    int64_t base = (int64_t)i * g->C * plane;
    for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x < w; x++)
            for (int c = 0; c < g->C; c++) {
                int64_t at = base + c * plane + (y / sc) * g->W + x / sc;
                px[(y * w + x) * g->C + c] = g->f32 ? to_u8(g->f32[at]) : g->u8[at];
            }
    loom_status s = lm_png_write(path, (int)w, (int)h, g->C, px, err);
    free(px);
    return s;
}
