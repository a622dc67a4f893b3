#include "train/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/png.h"

#define PLOT_W 800
#define PLOT_H 500

#define COL_BG 0xFFFFFFu
#define COL_GRID 0xE6E6E6u
#define COL_FRAME 0x555555u
#define COL_TEXT 0x222222u
#define COL_LEGEND_EDGE 0xCCCCCCu

/* Values beyond this are treated like non-finite ones: they would overflow the range
 * arithmetic and no real loss is that large. */
#define PLOT_MAX_ABS 1e300

/* Pixel coordinates are clamped to this before drawing so that an outlier maps to a
 * finite point; far off the canvas the slope change is invisible. */
#define PLOT_MAX_PX 1e6

/* Series with at most this many points get a dot on every point: sparse curves
 * (validation loss) are easier to read with their samples marked. */
#define PLOT_MARKER_MAX 40

typedef struct axis {
    double lo, hi, step;
} axis;

static double series_x(const lm_series *s, size_t i) {
    return s->x ? s->x[i] : (double)i;
}

static int usable(double v) {
    return isfinite(v) && fabs(v) <= PLOT_MAX_ABS;
}

static int point_ok(const lm_series *s, size_t i) {
    return usable(series_x(s, i)) && usable(s->y[i]);
}

/* A round step (1, 2 or 5 times a power of ten) giving about four intervals. */
static double nice_step(double span) {
    double raw = span / 4;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    double nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
    return nf * mag;
}

/* Widens [lo, hi] to whole steps so that the frame starts and ends on a labelled tick. */
static axis make_axis(double lo, double hi) {
    if (!(hi > lo)) {
        double pad = fabs(lo) > 0 ? fabs(lo) * 0.1 : 1;
        lo -= pad;
        hi += pad;
    }
    /* Ranges too narrow for double arithmetic get a minimal width around their centre. */
    double mid = 0.5 * (lo + hi);
    if (hi - lo < fabs(mid) * 1e-9) {
        lo = mid - fabs(mid) * 1e-6;
        hi = mid + fabs(mid) * 1e-6;
    }
    axis a;
    a.step = nice_step(hi - lo);
    a.lo = floor(lo / a.step) * a.step;
    a.hi = ceil(hi / a.step) * a.step;
    if (!(a.hi > a.lo)) a.hi = a.lo + a.step;
    return a;
}

static int axis_ticks(const axis *a) {
    return (int)lround((a->hi - a->lo) / a->step) + 1;
}

static double axis_tick(const axis *a, int i) {
    double v = (floor(a->lo / a->step + 0.5) + i) * a->step;
    return fabs(v) < a->step * 1e-9 ? 0 : v; /* no "-0" labels */
}

/* Formats a tick value with just enough digits to tell neighbouring ticks apart. */
static void format_tick(char *buf, size_t n, double v, double step) {
    double amax = fmax(fabs(v), step);
    if (amax < 1e6 && step >= 1e-4) {
        int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
        snprintf(buf, n, "%.*f", dec, v);
        return;
    }
    int prec = (int)ceil(log10(amax / step)) + 1;
    prec = prec < 1 ? 1 : prec > 15 ? 15 : prec;
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.*g", prec, v);
    /* "1e+06" -> "1e6": shorter, and just as clear on an axis. */
    size_t o = 0;
    for (const char *p = tmp; *p && o + 1 < n; p++) {
        buf[o++] = *p;
        if (*p == 'e') {
            if (p[1] == '+') p++;
            else if (p[1] == '-') buf[o++] = *++p;
            while (p[1] == '0' && p[2]) p++;
        }
    }
    buf[o] = 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Finds the data ranges. The y top ignores early outliers as described in plot.h: each
 * series contributes the 99th percentile of its points after its first tenth, so one
 * spike mid-run or a short series does not decide the range for the others. */
static loom_status data_ranges(const lm_series *series, size_t nseries, double *xlo, double *xhi, double *ylo,
                               double *yhi, lm_error *err) {
    size_t most = 1;
    for (size_t k = 0; k < nseries; k++)
        if (series[k].n > most) most = series[k].n;
    double *later = malloc(most * sizeof *later);
    if (!later) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory plotting %zu points", most);
    *xlo = *ylo = INFINITY;
    *xhi = *yhi = -INFINITY;
    double top = -INFINITY;
    for (size_t k = 0; k < nseries; k++) {
        const lm_series *s = &series[k];
        size_t skip = s->n / 10, nlater = 0;
        for (size_t i = 0; i < s->n; i++) {
            if (!point_ok(s, i)) continue;
            double x = series_x(s, i), y = s->y[i];
            *xlo = fmin(*xlo, x);
            *xhi = fmax(*xhi, x);
            *ylo = fmin(*ylo, y);
            *yhi = fmax(*yhi, y);
            if (i >= skip) later[nlater++] = y;
        }
        if (nlater > 0) {
            qsort(later, nlater, sizeof *later, cmp_double);
            top = fmax(top, later[(size_t)(0.99 * (double)(nlater - 1))]);
        }
    }
    free(later);
    if (!(*xlo <= *xhi)) *xlo = 0, *xhi = 1;
    if (!(*ylo <= *yhi)) *ylo = 0, *yhi = 1;
    double cap = top + 0.1 * (top - *ylo);
    /* Cap only for real outliers, where the full range would be much taller; a smooth
     * early descent stays in view. */
    if (isfinite(cap) && cap > *ylo && *yhi - *ylo > 2.5 * (cap - *ylo)) *yhi = cap;
    return LOOM_OK;
}

/* Draws text turned a quarter left (reading bottom to top), centred on (cx, cy), by
 * rendering it upright on a scratch canvas and copying the inked pixels rotated. */
static void text_vertical(lm_canvas *c, int cx, int cy, const char *s, uint32_t rgb, int scale) {
    int tw = lm_canvas_text_width(s, scale), th = LM_CANVAS_FONT_H * scale;
    if (tw <= 0) return;
    lm_canvas t;
    if (lm_canvas_init(&t, tw, th, 0xFFFFFFu, NULL)) return;
    lm_canvas_text(&t, 0, 0, s, 0x000000u, scale);
    int x0 = cx - th / 2, y0 = cy - tw / 2;
    for (int j = 0; j < th; j++)
        for (int i = 0; i < tw; i++)
            if (t.rgb[((size_t)j * (size_t)tw + (size_t)i) * 3] == 0)
                lm_canvas_rect(c, x0 + j, y0 + (tw - 1 - i), 1, 1, rgb);
    lm_canvas_free(&t);
}

static double clamp_px(double v) {
    return v < -PLOT_MAX_PX ? -PLOT_MAX_PX : v > PLOT_MAX_PX ? PLOT_MAX_PX : v;
}

/* Data-to-pixel mapping for the plot area canvas; pixel centres span the whole area. */
typedef struct mapping {
    axis ax, ay;
    int pw, ph;
} mapping;

static double map_x(const mapping *m, double x) {
    return clamp_px((x - m->ax.lo) / (m->ax.hi - m->ax.lo) * (m->pw - 1) + 0.5);
}

static double map_y(const mapping *m, double y) {
    return clamp_px((m->ay.hi - y) / (m->ay.hi - m->ay.lo) * (m->ph - 1) + 0.5);
}

static void draw_series(lm_canvas *area, const mapping *m, const lm_series *s) {
    size_t finite = 0;
    for (size_t i = 0; i < s->n; i++) finite += point_ok(s, i);
    int markers = finite <= PLOT_MARKER_MAX;
    int have_prev = 0;
    double px = 0, py = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (!point_ok(s, i)) {
            have_prev = 0;
            continue;
        }
        double x = map_x(m, series_x(s, i)), y = map_y(m, s->y[i]);
        int isolated = !have_prev && (i + 1 >= s->n || !point_ok(s, i + 1));
        if (have_prev) lm_canvas_line(area, px, py, x, y, s->rgb, 2);
        if (markers || isolated) lm_canvas_line(area, x, y, x, y, s->rgb, 5);
        px = x;
        py = y;
        have_prev = 1;
    }
}

static void draw_legend(lm_canvas *c, int right, int top, const lm_series *series, size_t nseries) {
    if (nseries == 0) return;
    const int row_h = 16, swatch = 22, pad = 8;
    char fallback[32];
    int text_w = 0;
    for (size_t k = 0; k < nseries; k++) {
        const char *name = series[k].name;
        if (!name) {
            snprintf(fallback, sizeof fallback, "series %zu", k + 1);
            name = fallback;
        }
        int w = lm_canvas_text_width(name, 1);
        if (w > text_w) text_w = w;
    }
    int box_w = pad + swatch + 6 + text_w + pad;
    int box_h = pad + (int)nseries * row_h - (row_h - LM_CANVAS_FONT_H) + pad - 2;
    int x = right - 10 - box_w, y = top + 10;
    lm_canvas_rect(c, x - 1, y - 1, box_w + 2, box_h + 2, COL_LEGEND_EDGE);
    lm_canvas_rect(c, x, y, box_w, box_h, COL_BG);
    for (size_t k = 0; k < nseries; k++) {
        const char *name = series[k].name;
        if (!name) {
            snprintf(fallback, sizeof fallback, "series %zu", k + 1);
            name = fallback;
        }
        int ty = y + pad + (int)k * row_h;
        double ly = ty + 3.5; /* middle of the x-height */
        lm_canvas_line(c, x + pad, ly, x + pad + swatch, ly, series[k].rgb, 2);
        lm_canvas_text(c, x + pad + swatch + 6, ty, name, COL_TEXT, 1);
    }
}

loom_status lm_plot_lines(const char *path, const char *title, const char *xlabel, const char *ylabel,
                          const lm_series *series, size_t nseries, lm_error *err) {
    if (!path) return lm_fail(err, LOOM_ERR_ARG, "lm_plot_lines: path must not be NULL");
    if (nseries > 0 && !series)
        return lm_fail(err, LOOM_ERR_ARG, "cannot plot '%s': series is NULL but nseries is %zu", path, nseries);
    for (size_t k = 0; k < nseries; k++)
        if (series[k].n > 0 && !series[k].y)
            return lm_fail(err, LOOM_ERR_ARG, "cannot plot '%s': series %zu has %zu points but no y values", path,
                           k + 1, series[k].n);

    double xlo = 0, xhi = 1, ylo = 0, yhi = 1;
    loom_status st = data_ranges(series, nseries, &xlo, &xhi, &ylo, &yhi, err);
    if (st) return st;
    mapping m = {.ax = make_axis(xlo, xhi), .ay = make_axis(ylo, yhi)};

    /* The left margin has to fit the widest y tick label and the turned y label. */
    char buf[64];
    int ny = axis_ticks(&m.ay), nx = axis_ticks(&m.ax);
    int ytick_w = 0;
    for (int i = 0; i < ny; i++) {
        format_tick(buf, sizeof buf, axis_tick(&m.ay, i), m.ay.step);
        int w = lm_canvas_text_width(buf, 1);
        if (w > ytick_w) ytick_w = w;
    }
    const int left = 12 + 2 * LM_CANVAS_FONT_H + 10 + ytick_w + 10;
    const int right = PLOT_W - 24, top = 48, bottom = PLOT_H - 52;
    m.pw = right - left;
    m.ph = bottom - top;

    lm_canvas c, area;
    st = lm_canvas_init(&c, PLOT_W, PLOT_H, COL_BG, err);
    if (st) return st;
    st = lm_canvas_init(&area, m.pw, m.ph, COL_BG, err);
    if (st) {
        lm_canvas_free(&c);
        return st;
    }

    /* Grid and curves go on a canvas the size of the plot area, which clips them to it. */
    for (int i = 0; i < ny; i++) lm_canvas_rect(&area, 0, (int)map_y(&m, axis_tick(&m.ay, i)), m.pw, 1, COL_GRID);
    for (int i = 0; i < nx; i++) lm_canvas_rect(&area, (int)map_x(&m, axis_tick(&m.ax, i)), 0, 1, m.ph, COL_GRID);
    for (size_t k = 0; k < nseries; k++) draw_series(&area, &m, &series[k]);
    for (int j = 0; j < m.ph; j++)
        memcpy(c.rgb + ((size_t)(top + j) * PLOT_W + (size_t)left) * 3, area.rgb + (size_t)j * (size_t)m.pw * 3,
               (size_t)m.pw * 3);
    lm_canvas_free(&area);

    /* Frame, tick marks and tick labels. */
    lm_canvas_rect(&c, left - 1, top - 1, m.pw + 2, 1, COL_FRAME);
    lm_canvas_rect(&c, left - 1, bottom, m.pw + 2, 1, COL_FRAME);
    lm_canvas_rect(&c, left - 1, top - 1, 1, m.ph + 2, COL_FRAME);
    lm_canvas_rect(&c, right, top - 1, 1, m.ph + 2, COL_FRAME);
    for (int i = 0; i < ny; i++) {
        double v = axis_tick(&m.ay, i);
        int py = top + (int)map_y(&m, v);
        lm_canvas_rect(&c, left - 6, py, 5, 1, COL_FRAME);
        format_tick(buf, sizeof buf, v, m.ay.step);
        lm_canvas_text(&c, left - 10 - lm_canvas_text_width(buf, 1), py - 3, buf, COL_TEXT, 1);
    }
    for (int i = 0; i < nx; i++) {
        double v = axis_tick(&m.ax, i);
        int px = left + (int)map_x(&m, v);
        lm_canvas_rect(&c, px, bottom + 1, 1, 5, COL_FRAME);
        format_tick(buf, sizeof buf, v, m.ax.step);
        lm_canvas_text(&c, px - lm_canvas_text_width(buf, 1) / 2, bottom + 10, buf, COL_TEXT, 1);
    }

    if (title) lm_canvas_text(&c, (PLOT_W - lm_canvas_text_width(title, 2)) / 2, 14, title, COL_TEXT, 2);
    if (xlabel)
        lm_canvas_text(&c, left + (m.pw - lm_canvas_text_width(xlabel, 2)) / 2, bottom + 24, xlabel, COL_TEXT, 2);
    if (ylabel) text_vertical(&c, 12 + LM_CANVAS_FONT_H, top + m.ph / 2, ylabel, COL_TEXT, 2);
    draw_legend(&c, right, top, series, nseries);

    st = lm_canvas_save(&c, path, err);
    lm_canvas_free(&c);
    return st;
}
