/* What a training loop keeps in its run folder besides the checkpoint and the model, shared by
 * the text loop (train.c) and the image loop (train_image.c): metrics.jsonl (one JSON object per
 * logged step, cut back to the checkpoint's step on resume), the loss curves and their picture
 * loss.png, summary.json, and the clean-up of temporary files that a killed run left behind. */
#ifndef LM_RUNLOG_H
#define LM_RUNLOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tensor/graph.h"
#include "util/progress.h"
#include "util/error.h"

struct json_object;

/* A growing series of (step, loss) points. Zero-initialised is empty. */
typedef struct lm_curve {
    double *x, *y;
    size_t n, cap;
} lm_curve;

/* Appends a point; a point that finds no memory is dropped (the curve is only a picture). */
void lm_curve_push(lm_curve *c, double x, double y);
void lm_curve_free(lm_curve *c);

/* On resume: keeps the lines of metrics file `path` up to step `upto` (the later steps will be
 * done again), rewriting it atomically, and rebuilds the curves from their "loss" and
 * "val_loss". No file yet is no error. */
loom_status lm_runlog_reload(const char *path, int64_t upto, lm_curve *train, lm_curve *val, lm_error *err);

/* The same for a metrics file held in memory (len bytes at text, not kept): the lines kept go to
 * *kept (malloc'ed, *kept_len bytes, each line ended by '\n'), nothing is written. */
loom_status lm_runlog_reload_mem(const char *text, size_t len, int64_t upto, lm_curve *train, lm_curve *val,
                                 char **kept, size_t *kept_len, lm_error *err);
/* Opens the metrics file: appended to when resuming, else started afresh. */
loom_status lm_runlog_open(FILE **f, const char *path, int resume, lm_error *err);

/* What a training loop does after a step; the same rules for every loop. */
typedef struct lm_run_step {
    int last; /* the final step, or the time limit reached (time_limit_s > 0) */
    int eval; /* measure the validation loss (have_val): at the last step and every eval_every steps */
    int log;  /* a metrics line and a progress update: when evaluating, at the last step, every log_every */
} lm_run_step;

/* The plan after step `step` of `steps`, run_s seconds of training into this run. */
lm_run_step lm_runlog_step(int64_t step, int64_t steps, double run_s, double time_limit_s, int have_val,
                           int64_t eval_every, int64_t log_every);

/* A loss that is not finite ends the run: closes the progress display and fails, naming the step
 * and the remedy. LOOM_OK for a finite loss. */
loom_status lm_runlog_check_loss(float loss, int64_t step, lm_progress *pr, lm_error *err);

/* Writes j as one line of the metrics file, flushed (a crash loses no logged step); releases j. */
void lm_runlog_append(FILE *f, struct json_object *j);

/* The status text of a progress update: "loss L[ val V] | R UNIT", the rate with `decimals`
 * decimals; val is left out when NaN. */
void lm_runlog_status(char *buf, size_t cap, float loss, float val, double rate, int decimals, const char *unit);

/* The closing line's start: "loom: done after N steps in 1m05s: loss L" ("stopped (time limit)"
 * when stopped early); the loop adds the rest. */
void lm_runlog_print_done(FILE *log, int stopped_early, int64_t steps, double secs, float loss);

/* DIR/loss.png: the training curve, and the validation curve when it has points. */
loom_status lm_runlog_plot(const char *dir, const char *title, const char *ylabel, const lm_curve *train,
                           const lm_curve *val, lm_error *err);

/* Whether the run in dir finished at `step`: its summary.json (written last of all) says so. A
 * run whose checkpoint reached its last step without that was killed while writing its final
 * files; resuming it writes them, where a finished run refuses to "resume" past its end. */
int lm_runlog_finished(const char *dir, int64_t step);

/* The last point of a curve reloaded on resume (NaN when it has none): the figures a run that
 * only writes its final files reports. */
double lm_curve_last(const lm_curve *c);

/* DIR/summary.json: j, pretty-printed, written atomically; releases j. */
loom_status lm_runlog_summary(const char *dir, struct json_object *j, lm_error *err);

/* LOOM_PROFILE set (and not "0"): switches on per-op timing of the training graph g, for
 * lm_graph_profile_print at the end of the run. Returns whether it did. */
int lm_runlog_profile(lm_graph *g);

/* A run killed while saving leaves NAME.tmp.PID behind (written, never renamed into place).
 * Removes those in dir whose writer is gone, so that a resumed run leaves a clean folder: NAME
 * one of names[0..n_names-1], or any NAME when names is NULL. */
void lm_runlog_remove_stale(const char *dir, const char *const *names, size_t n_names);

#endif
