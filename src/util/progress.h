/* Progress of long work: a redrawn bar on a terminal, plain lines otherwise (logs, CI). */
#ifndef LM_PROGRESS_H
#define LM_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#include "util/clock.h"

typedef struct lm_progress {
    FILE *out;
    int bar;          /* 1: redraw one line with \r; 0: print a line per update */
    int64_t total;
    double t0;        /* monotonic start time */
    int64_t start;    /* first step of this run (resume starts later) */
    int drawn;        /* a bar line is on screen */
    double last_line; /* when the last plain line was printed */
} lm_progress;


/* mode: -1 auto (bar when `out` is a terminal), 0 lines, 1 bar. */
void lm_progress_init(lm_progress *p, FILE *out, int mode, int64_t start, int64_t total);
/* Shows step (1-based, of total) with a free-form status text after it. Plain lines are
 * printed at most every 10 seconds unless force is set (evaluations, the last step). */
void lm_progress_update(lm_progress *p, int64_t step, const char *status, int force);
/* Prints a message on its own line without breaking the bar. */
void lm_progress_note(lm_progress *p, const char *msg);
/* Ends the bar line. */
void lm_progress_done(lm_progress *p);

/* Formats seconds as "1h02m", "3m05s" or "12.3s". */
void lm_format_duration(char *buf, size_t n, double s);

#endif
