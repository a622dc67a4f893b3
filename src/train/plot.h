/* Loss curves as PNG pictures, so a training run can be judged at a glance without
 * any plotting software. */
#ifndef LM_PLOT_H
#define LM_PLOT_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* One curve: n points (x[i], y[i]) in colour rgb (0xRRGGBB). x may be NULL, meaning
 * 0, 1, 2, ...; name may be NULL ("series N" is shown). Non-finite points are skipped
 * and break the line there. */
typedef struct lm_series {
    const char *name;
    const double *x;
    const double *y;
    size_t n;
    uint32_t rgb;
} lm_series;

/* Draws the series as lines on shared axes (x = step, y = loss) with a title, axis
 * labels (any of the three may be NULL), about five round-numbered ticks on each axis,
 * light grid lines and a legend; writes an 800x500 RGB PNG atomically.
 * The y range comes from the finite data. When the first points of a series are far
 * above the rest (the usual start of a loss curve), the top of the range is capped
 * just above the 99th percentile of the later points, so the part that matters stays
 * readable; the early points still show as lines leaving the top of the plot.
 * Empty series, single points and series of different lengths are all fine. */
loom_status lm_plot_lines(const char *path, const char *title, const char *xlabel, const char *ylabel,
                          const lm_series *series, size_t nseries, lm_error *err);

#endif
