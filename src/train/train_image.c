/* The training loop of the image diffusion model. */
#include "train/train_image.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/images.h"
#include "formats/grid.h"
#include "formats/unet_gguf.h"
#include "kernels/kernels.h"
#include "model/diffusion.h"
#include "train/ckpt_image.h"
#include "train/optim.h"
#include "util/progress.h"
#include "train/runlog.h"
#include "util/clock.h"
#include "util/io.h"
#include "util/json.h"

/* Sample grids: one row per label (at most this many), this many images a row. */
#define GRID_ROWS 10
#define GRID_COLS 8
/* Validation: about this many fixed test images (a whole number of batches). */
#define VAL_IMAGES 512

void lm_train_image_defaults(lm_train_image_opts *o) {
    memset(o, 0, sizeof *o);
    o->data = LM_TRAIN_IMAGE_DEFAULT_DATA;
    o->levels = 3;
    o->widths[0] = 32;
    o->widths[1] = 64;
    o->widths[2] = 128;
    o->schedule = 0; /* cosine */
    o->diffusion_steps = 1000;
    o->batch = 64;
    o->steps = 5000;
    o->lr = 5e-4f; /* the 58-minute Fashion-MNIST run (98.8% conditional accuracy) used it */
    o->warmup = -1;
    o->weight_decay = 0.0f;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;
    o->clip = 1.0f;
    o->ema = 0.999f;
    o->label_drop = 0.1f;
    o->seed = 1337;
    o->sample_every = 500;
    o->save_every = 500;
    o->eval_every = 250;
    o->log_every = 10;
    o->progress = -1;
}

loom_status lm_parse_widths(const char *s, int *widths, int *levels, lm_error *err) {
    const char *hint = "give 1 to 6 comma-separated channel counts, e.g. --widths 32,64,128";
    int n = 0;
    const char *p = s;
    if (!s || !*s) return lm_fail(err, LOOM_ERR_ARG, "--widths is empty (%s)", hint);
    for (;;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || (*end && *end != ',') || !isdigit((unsigned char)*p))
            return lm_fail(err, LOOM_ERR_ARG, "--widths '%s' is not a list of numbers (%s)", s, hint);
        if (v < 1 || v > 4096)
            return lm_fail(err, LOOM_ERR_ARG, "--widths: %ld channels is out of range (1..4096)", v);
        if (n == LM_UNET_MAX_LEVELS)
            return lm_fail(err, LOOM_ERR_ARG, "--widths '%s' has more than %d levels (%s)", s, LM_UNET_MAX_LEVELS, hint);
        widths[n++] = (int)v;
        if (!*end) break;
        p = end + 1;
    }
    for (int i = n; i < LM_UNET_MAX_LEVELS; i++) widths[i] = 0;
    *levels = n;
    return LOOM_OK;
}

float lm_image_lr_at(const lm_train_image_opts *o, int64_t step) {
    if (o->warmup > 0 && step < o->warmup) return o->lr * (float)(step + 1) / (float)o->warmup;
    return o->lr;
}

/* ---- warnings ---- */

/* Warnings from the data loader are held back until the load has succeeded: a failed load is
 * reported by its one error line alone. */
typedef struct warn_buf {
    char *text;
    size_t n;
} warn_buf;

static void warn_collect(void *ud, const char *msg) {
    warn_buf *w = ud;
    size_t l = strlen(msg);
    char *t = realloc(w->text, w->n + l + 2);
    if (!t) return;
    memcpy(t + w->n, msg, l);
    t[w->n + l] = '\n';
    t[w->n + l + 1] = 0;
    w->text = t;
    w->n += l + 1;
}

static void warn_flush(warn_buf *w, FILE *log, int quiet) {
    if (w->text && !quiet) {
        for (char *line = w->text, *nl; *line; line = nl + 1) {
            nl = strchr(line, '\n');
            fprintf(log, "loom: warning: %.*s\n", (int)(nl - line), line);
        }
    }
    free(w->text);
    w->text = NULL;
    w->n = 0;
}

/* ---- the average of the weights ---- */

/* ema = d * ema + (1 - d) * params with d = min(decay, (1 + step) / (10 + step)): the warm-up
 * keeps the average from remembering the random initialisation for thousands of steps. */
static void ema_update(float *ema, const float *p, size_t n, float decay, int64_t step) {
    double w = (1.0 + (double)step) / (10.0 + (double)step);
    float d = (float)(w < decay ? w : decay);
    float e = 1.0f - d;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < (int64_t)n; i++) ema[i] = d * ema[i] + e * p[i];
}

/* ---- one batch ---- */

typedef struct batch_buf {
    int64_t *idx;
    int32_t *t;
    float *x0;
} batch_buf;

/* Noised images, timestep embeddings, labels and targets for the graph's inputs. The draws
 * come from r in a fixed order (indices, label drops, timesteps, then the noise), so a resumed
 * run that restores r draws the same batches. */
static void fill_batch(lm_unet_graph *ug, const lm_unet *m, const lm_diffusion *d, const lm_images *im,
                       batch_buf *bb, lm_rng *r, float label_drop, const int64_t *fixed_idx) {
    int B = ug->B, w0 = m->cfg.widths[0];
    int64_t per = (int64_t)im->C * im->H * im->W;
    int32_t *labels = lm_idata(ug->g, ug->labels);
    for (int b = 0; b < B; b++) bb->idx[b] = fixed_idx ? fixed_idx[b] : (int64_t)lm_rng_below(r, (uint64_t)im->n);
    lm_images_batch(im, bb->idx, B, bb->x0, labels, NULL); /* indices are in range: cannot fail */
    for (int b = 0; b < B; b++) {
        /* drawn for every image, dropped or not, so that the stream does not depend on the rate */
        double u = lm_rng_uniform(r);
        if (u < (double)label_drop) labels[b] = m->cfg.n_labels;
    }
    for (int b = 0; b < B; b++) bb->t[b] = (int32_t)lm_rng_below(r, (uint64_t)d->steps);
    float *eps = lm_data(ug->g, ug->target); /* the noise is the target */
    for (int64_t i = 0; i < (int64_t)B * per; i++) eps[i] = (float)lm_rng_normal(r);
    lm_diffusion_noise(d, lm_data(ug->g, ug->x), bb->x0, eps, bb->t, B, per);
    float *temb = lm_data(ug->g, ug->temb);
    for (int b = 0; b < B; b++) lm_unet_time_embed(temb + (int64_t)b * w0, (double)bb->t[b], w0);
}

/* The training pass's loss, its backward, and nothing else. */
static float forward_backward(lm_unet_graph *ug) {
    lm_graph_forward(ug->g);
    float loss = lm_value(ug->g, ug->loss);
    lm_graph_backward(ug->g);
    return loss;
}

/* Validation MSE: n_batches batches of test images spread evenly over the test set, with
 * timesteps and noise from a generator seeded the same way every time, so that successive
 * estimates differ only by the weights. Uses the training weights (comparable with the
 * training loss). */
static float eval_loss(lm_unet_graph *ug, const lm_unet *m, const lm_diffusion *d, const lm_images *test,
                       batch_buf *bb, uint64_t seed, int n_batches) {
    int B = ug->B;
    lm_rng r;
    lm_rng_seed(&r, seed ^ 0x7e57da7aULL);
    int64_t total = (int64_t)n_batches * B;
    int64_t *idx = malloc((size_t)B * sizeof(int64_t));
    if (!idx) return NAN;
    double sum = 0;
    for (int k = 0; k < n_batches; k++) {
        for (int b = 0; b < B; b++) idx[b] = ((int64_t)k * B + b) * test->n / total;
        fill_batch(ug, m, d, test, bb, &r, 0.0f, idx);
        lm_graph_forward(ug->g);
        sum += lm_value(ug->g, ug->loss);
    }
    free(idx);
    return (float)(sum / n_batches);
}

/* ---- outputs ---- */

static const char *const SCHEDULES[] = {"cosine", "linear"};

/* A grid of samples from the EMA weights: one row per label (the first GRID_ROWS), GRID_COLS
 * columns, DDIM in 25 steps with guidance 3 from a fixed seed, so that the rows of successive
 * grids are comparable. Written as samples/step-NNNNNN.png and copied to samples.png. */
static loom_status write_samples(const lm_train_image_opts *o, int64_t step, lm_unet *ema_model,
                                 const lm_diffusion *d, const lm_images *im, int batch, lm_error *err) {
    const char *dir = o->out;
    int rows = ema_model->cfg.n_labels < GRID_ROWS ? ema_model->cfg.n_labels : GRID_ROWS;
    int n = rows * GRID_COLS;
    int64_t per = (int64_t)im->C * im->H * im->W;
    int32_t *labels = malloc((size_t)n * sizeof(int32_t));
    float *img = malloc((size_t)(n * per) * sizeof(float));
    char **captions = malloc((size_t)rows * sizeof(char *));
    char *sdir = lm_path_join(dir, "samples"), *latest = lm_path_join(dir, "samples.png"), *path = NULL;
    char name[64];
    snprintf(name, sizeof name, "step-%06lld.png", (long long)step);
    if (sdir) path = lm_path_join(sdir, name);
    loom_status s = (!labels || !img || !captions || !sdir || !latest || !path)
                        ? lm_fail(err, LOOM_ERR_NOMEM, "out of memory drawing samples")
                        : LOOM_OK;
    if (!s) {
        for (int i = 0; i < n; i++) labels[i] = i / GRID_COLS;
        for (int r = 0; r < rows; r++) captions[r] = im->label_names[r];
        /* the training batch fits in memory, so a forward pass of that many images does */
        s = o->sample(o->sample_ud, ema_model, d, labels, n, d->steps < 25 ? d->steps : 25, o->seed ^ 0x5a3d1e5eedULL,
                      batch < n ? batch : n, img, err);
    }
    if (!s) s = lm_mkdirs(sdir, err);
    if (!s) {
        /* about 96 pixels an image on screen: 28 px images drawn 3x, 64 px ones 1x */
        int scale = im->H >= 96 ? 1 : 96 / im->H > 4 ? 4 : 96 / im->H;
        lm_grid g = {.n = n, .C = im->C, .H = im->H, .W = im->W, .f32 = img, .cols = GRID_COLS, .scale = scale,
                     .row_labels = captions};
        s = lm_grid_write_png(path, &g, err);
    }
    if (!s) {
        uint8_t *buf;
        size_t len;
        s = lm_read_file(path, 0, &buf, &len, err);
        if (!s) {
            s = lm_write_file_atomic(latest, buf, len, err);
            free(buf);
        }
    }
    free(labels);
    free(img);
    free(captions);
    free(sdir);
    free(latest);
    free(path);
    return s;
}

static loom_status save_all(const char *dir, const lm_train_image_opts *o, const char *data_path, const lm_unet *m,
                            const float *am, const float *av, const lm_unet *ema_model, const lm_diffusion *d,
                            const lm_images *im, const lm_ckpt_image_state *st, lm_error *err) {
    char *ck = lm_path_join(dir, "checkpoint.bin"), *mg = lm_path_join(dir, "model.gguf");
    loom_status s = (!ck || !mg) ? lm_fail(err, LOOM_ERR_NOMEM, "out of memory") : LOOM_OK;
    if (!s) s = lm_ckpt_image_save(ck, o, data_path, m, am, av, ema_model->params, st, err);
    if (!s) s = lm_unet_save_gguf(mg, m, ema_model->params, d, im->label_names, err);
    free(ck);
    free(mg);
    return s;
}

static void format_widths(char *buf, size_t n, const int *w, int levels) {
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < levels && k < n; i++) k += (size_t)snprintf(buf + k, n - k, "%s%d", i ? "," : "", w[i]);
}

/* ---- the run ---- */

/* The U-Net's constraints, in the flags' terms (lm_unet_check_config has the rest). */
static loom_status check_model_flags(const lm_unet_config *c, int size_given, lm_error *err) {
    if (c->levels < 1 || c->levels > LM_UNET_MAX_LEVELS || c->groups < 1 || c->head_dim < 1)
        return lm_unet_check_config(c, err);
    int down = 1 << (c->levels - 1);
    if (c->size % down) {
        int up = (c->size + down - 1) / down * down;
        if (size_given)
            return lm_fail(err, LOOM_ERR_ARG,
                           "--size %d must be a multiple of %d for the %d levels of --widths (use --size %d, or fewer "
                           "--widths)", c->size, down, c->levels, up);
        return lm_fail(err, LOOM_ERR_ARG,
                       "the images are %dx%d, and %d levels of --widths need a multiple of %d: give --size %d (or "
                       "fewer --widths)", c->size, c->size, c->levels, down, up);
    }
    for (int l = 0; l < c->levels; l++)
        if (c->widths[l] % c->groups)
            return lm_fail(err, LOOM_ERR_ARG, "--widths: %d is not a multiple of %d, the GroupNorm groups (use %d)",
                           c->widths[l], c->groups, (c->widths[l] + c->groups - 1) / c->groups * c->groups);
    int wl = c->widths[c->levels - 1];
    if (wl % c->head_dim)
        return lm_fail(err, LOOM_ERR_ARG,
                       "--widths: the last width %d must be a multiple of %d, the attention head size (use %d)", wl,
                       c->head_dim, (wl + c->head_dim - 1) / c->head_dim * c->head_dim);
    return lm_unet_check_config(c, err);
}

/* Activations grow with the batch: a graph over one image tells how much a batch of B needs,
 * so that an absurd --batch or --size is an error now rather than the machine swapping or the
 * process being killed once the pages are touched. */
static loom_status check_memory(lm_unet *m, int B, lm_error *err) {
    const lm_unet_config *c = &m->cfg;
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    double have = pages > 0 && psize > 0 ? (double)pages * (double)psize : 0;
    /* a lower bound first, so that the probe itself is never absurd: the attention
     * probabilities of the last level and one activation of the first */
    double side = (double)(c->size >> (c->levels - 1)), tokens = side * side;
    double need = (double)B * (tokens * tokens * (c->widths[c->levels - 1] / c->head_dim) +
                               (double)c->size * c->size * c->widths[0]) * sizeof(float);
    if (have > 0 && need <= 0.9 * have) {
        lm_unet_graph probe = {0};
        loom_status s = lm_unet_build(&probe, m, 1, 1, err);
        if (s) return s;
        need = (double)lm_graph_arena_bytes(probe.g) * B + (double)m->n_params * 6 * sizeof(float);
        lm_unet_graph_free(&probe);
    }
    if (have > 0 && need > 0.9 * have)
        return lm_fail(err, LOOM_ERR_ARG,
                       "--batch %d at %dx%d needs about %.1f GiB of memory, more than this machine's %.1f GiB (use a "
                       "smaller --batch, --size or --widths)",
                       B, m->cfg.size, m->cfg.size, need / 1073741824.0, have / 1073741824.0);
    return LOOM_OK;
}

/* On resume the checkpoint's settings win; a flag that changes the results given again with
 * another value is an error. */
static loom_status apply_resume(lm_train_image_opts *o, unsigned set, const char *ckpt_path, lm_unet_config *cfg,
                                char **data_owned, lm_error *err) {
    if (access(ckpt_path, F_OK) != 0)
        return lm_fail(err, LOOM_ERR_ARG, "nothing to resume: '%s' does not exist (run without --resume first)",
                       ckpt_path);
    lm_train_image_opts saved;
    lm_train_image_defaults(&saved);
    lm_ckpt_image_state st;
    char *data = NULL;
    loom_status s = lm_ckpt_image_peek(ckpt_path, &saved, cfg, &st, &data, err);
    if (s) return s;
    char msg[200] = "";
    char gw[64], sw[64];
    format_widths(gw, sizeof gw, o->widths, o->levels);
    format_widths(sw, sizeof sw, cfg->widths, cfg->levels);
    if ((set & LM_ISET_SIZE) && o->size != cfg->size)
        snprintf(msg, sizeof msg, "--size %d differs from the checkpoint's %d", o->size, cfg->size);
    else if ((set & LM_ISET_CHANNELS) && o->channels != cfg->channels)
        snprintf(msg, sizeof msg, "--channels %d differs from the checkpoint's %d", o->channels, cfg->channels);
    else if ((set & LM_ISET_WIDTHS) && strcmp(gw, sw) != 0)
        snprintf(msg, sizeof msg, "--widths %s differs from the checkpoint's %s", gw, sw);
    else if ((set & LM_ISET_SCHEDULE) && o->schedule != saved.schedule)
        snprintf(msg, sizeof msg, "--schedule %s differs from the checkpoint's %s", SCHEDULES[o->schedule & 1],
                 SCHEDULES[saved.schedule & 1]);
    else if ((set & LM_ISET_DSTEPS) && o->diffusion_steps != saved.diffusion_steps)
        snprintf(msg, sizeof msg, "--diffusion-steps %d differs from the checkpoint's %d", o->diffusion_steps,
                 saved.diffusion_steps);
    else if ((set & LM_ISET_BATCH) && o->batch != saved.batch)
        snprintf(msg, sizeof msg, "--batch %d differs from the checkpoint's %d", o->batch, saved.batch);
    else if ((set & LM_ISET_LR) && o->lr != saved.lr)
        snprintf(msg, sizeof msg, "--lr %g differs from the checkpoint's %g", o->lr, saved.lr);
    else if ((set & LM_ISET_WARMUP) && o->warmup != saved.warmup)
        snprintf(msg, sizeof msg, "--warmup %lld differs from the checkpoint's %lld", (long long)o->warmup,
                 (long long)saved.warmup);
    else if ((set & LM_ISET_WD) && o->weight_decay != saved.weight_decay)
        snprintf(msg, sizeof msg, "--weight-decay %g differs from the checkpoint's %g", o->weight_decay,
                 saved.weight_decay);
    else if ((set & LM_ISET_CLIP) && o->clip != saved.clip)
        snprintf(msg, sizeof msg, "--clip %g differs from the checkpoint's %g", o->clip, saved.clip);
    else if ((set & LM_ISET_EMA) && o->ema != saved.ema)
        snprintf(msg, sizeof msg, "--ema %g differs from the checkpoint's %g", o->ema, saved.ema);
    else if ((set & LM_ISET_LABEL_DROP) && o->label_drop != saved.label_drop)
        snprintf(msg, sizeof msg, "--label-drop %g differs from the checkpoint's %g", o->label_drop, saved.label_drop);
    else if ((set & LM_ISET_SEED) && o->seed != saved.seed)
        snprintf(msg, sizeof msg, "--seed %llu differs from the checkpoint's %llu", (unsigned long long)o->seed,
                 (unsigned long long)saved.seed);
    if (*msg) {
        free(data);
        return lm_fail(err, LOOM_ERR_ARG, "%s (drop the flag to resume)", msg);
    }
    int64_t target = (set & LM_ISET_STEPS) ? o->steps : saved.steps;
    /* target == step without a summary: killed in its final writes; going on writes them */
    if (target < st.step || (target == st.step && lm_runlog_finished(o->out, st.step))) {
        free(data);
        return lm_fail(err, LOOM_ERR_ARG, "the run has done %lld steps already: give a larger --steps to continue it",
                       (long long)st.step);
    }
    lm_train_image_opts given = *o;
    *o = saved;
    o->out = given.out;
    o->size = cfg->size;
    o->channels = cfg->channels;
    o->levels = cfg->levels;
    memcpy(o->widths, cfg->widths, sizeof o->widths);
    /* the data the run was trained on, unless given again */
    if ((set & LM_ISET_DATA) || !data) {
        o->data = given.data;
        free(data);
    } else {
        o->data = *data_owned = data;
    }
    if (set & LM_ISET_STEPS) o->steps = given.steps;
    if (set & LM_ISET_THREADS) o->threads = given.threads;
    if (set & LM_ISET_SAMPLE_EVERY) o->sample_every = given.sample_every;
    if (set & LM_ISET_SAVE_EVERY) o->save_every = given.save_every;
    if (set & LM_ISET_EVAL_EVERY) o->eval_every = given.eval_every;
    if (set & LM_ISET_LOG_EVERY) o->log_every = given.log_every;
    o->time_limit_s = given.time_limit_s;
    o->sample = given.sample;
    o->sample_ud = given.sample_ud;
    o->progress = given.progress;
    o->quiet = given.quiet;
    o->resume = 1;
    return LOOM_OK;
}

loom_status lm_train_image(const lm_train_image_opts *opts_in, unsigned set, lm_train_image_result *res,
                           lm_error *err) {
    lm_train_image_opts o = *opts_in;
    loom_status s = LOOM_OK;
    memset(res, 0, sizeof *res);
    res->final_val_loss = NAN;
    FILE *log = stderr;
    /* without a thread count, the process's: what the caller set (loom_set_threads), else
     * OMP_NUM_THREADS or the CPUs this process may use; restored at the end */
    const int threads_before = lm_get_threads();
    int ncpu = threads_before;

    char *ckpt_path = lm_path_join(o.out, "checkpoint.bin");
    char *metrics_path = lm_path_join(o.out, "metrics.jsonl");
    char *data_owned = NULL;
    lm_images train = {0}, test = {0};
    lm_unet model = {0}, ema_model = {0};
    lm_unet_graph ug = {0};
    lm_diffusion diff = {0};
    float *am = NULL, *av = NULL;
    batch_buf bb = {0};
    lm_curve tr = {0}, va = {0};
    FILE *metrics = NULL;
    warn_buf wb = {0};
    lm_ckpt_image_state st = {0};
    lm_unet_config cfg;
    lm_unet_defaults(&cfg);
    if (!ckpt_path || !metrics_path) {
        s = lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
        goto done;
    }

    if (!o.resume && !o.overwrite && access(ckpt_path, F_OK) == 0) {
        s = lm_fail(err, LOOM_ERR_ARG,
                    "'%s' holds a training run already: add --resume to continue it, --overwrite to replace it, or "
                    "choose another --out", o.out);
        goto done;
    }
    if (o.resume) {
        if ((s = apply_resume(&o, set, ckpt_path, &cfg, &data_owned, err))) goto done;
    } else {
        cfg.levels = o.levels;
        memcpy(cfg.widths, o.widths, sizeof cfg.widths);
        /* settings that need no data are checked before any is read */
        cfg.size = o.size > 0 ? o.size : 1 << (cfg.levels > 0 ? cfg.levels - 1 : 0); /* unset: checked later */
        if (o.channels > 0) cfg.channels = o.channels;
        if ((s = check_model_flags(&cfg, 1, err))) goto done;
    }
    if (!(o.label_drop >= 0 && o.label_drop <= 1) || !(o.ema >= 0 && o.ema < 1)) {
        s = lm_fail(err, LOOM_ERR_ARG, "--label-drop must be in [0, 1] and --ema in [0, 1)");
        goto done;
    }
    if (o.batch < 1 || o.batch > 65536) {
        s = lm_fail(err, LOOM_ERR_ARG, "--batch %d is out of range (1..65536)", o.batch);
        goto done;
    }
    if (o.steps < 1 || !(o.lr > 0) || !(o.lr < 10) || o.clip < 0 || !(o.weight_decay >= 0) ||
        !(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1)) {
        s = lm_fail(err, LOOM_ERR_ARG, "invalid optimizer settings (need --steps >= 1, 0 < --lr < 10, --clip >= 0)");
        goto done;
    }
    if (o.diffusion_steps < 2 || o.diffusion_steps > 100000) {
        s = lm_fail(err, LOOM_ERR_ARG, "--diffusion-steps %d is out of range (2..100000)", o.diffusion_steps);
        goto done;
    }

    /* the data: the train split at the model's size (the data's own when unset), then the test
     * split at the same size */
    if ((s = lm_images_load(&train, o.data, "train", o.resume ? cfg.channels : o.channels,
                            o.resume ? cfg.size : o.size, o.resume ? cfg.size : o.size, warn_collect, &wb, err))) {
        free(wb.text);
        wb.text = NULL;
        goto done;
    }
    warn_flush(&wb, log, o.quiet);
    if (train.H != train.W) {
        s = lm_fail(err, LOOM_ERR_ARG, "the images are %dx%d; the model needs squares: give --size N to resize them",
                    train.W, train.H);
        goto done;
    }
    if (train.n_labels < 1 || train.n < 1) {
        s = lm_fail(err, LOOM_ERR_DATA, "'%s' holds no labelled training images", o.data);
        goto done;
    }
    {
        lm_error terr = {0};
        if (lm_images_load(&test, o.data, "test", train.C, train.H, train.W, warn_collect, &wb, &terr) != LOOM_OK) {
            free(wb.text);
            wb.text = NULL;
            if (!o.quiet) fprintf(log, "loom: warning: no validation loss: %s\n", terr.msg);
            lm_images_free(&test);
        } else if (test.n_labels != train.n_labels) {
            if (!o.quiet) fprintf(log, "loom: warning: no validation loss: the test split has other labels\n");
            lm_images_free(&test);
        }
        warn_flush(&wb, log, o.quiet);
    }
    cfg.channels = train.C;
    cfg.size = train.H;
    if (o.resume && train.n_labels != cfg.n_labels) {
        s = lm_fail(err, LOOM_ERR_DATA, "'%s' has %d labels but the run was trained on %d (give the --data it used)",
                    o.data, train.n_labels, cfg.n_labels);
        goto done;
    }
    cfg.n_labels = train.n_labels;
    if ((s = check_model_flags(&cfg, o.size > 0, err))) goto done;
    o.size = cfg.size;
    o.channels = cfg.channels;
    if (o.warmup < 0) o.warmup = o.steps / 20 < 100 ? o.steps / 20 : 100;
    if (o.threads < 1) o.threads = ncpu;
    lm_set_threads(o.threads);

    if ((s = lm_diffusion_create(&diff, (lm_noise_schedule)o.schedule, o.diffusion_steps, err))) goto done;
    if ((s = lm_unet_create(&model, &cfg, 1, err))) goto done;
    if ((s = lm_unet_create(&ema_model, &cfg, 0, err))) goto done; /* its params are the EMA */
    am = calloc(model.n_params, sizeof(float));
    av = calloc(model.n_params, sizeof(float));
    int B = o.batch;
    int64_t per = (int64_t)cfg.channels * cfg.size * cfg.size;
    bb.idx = malloc((size_t)B * sizeof(int64_t));
    bb.t = malloc((size_t)B * sizeof(int32_t));
    bb.x0 = malloc((size_t)(B * per) * sizeof(float));
    if (!am || !av || !bb.idx || !bb.t || !bb.x0) {
        s = lm_fail(err, LOOM_ERR_NOMEM, "out of memory (%.0f MiB of weights and optimizer state; try smaller --widths)",
                    (double)model.n_params * 16 / 1048576.0);
        goto done;
    }
    if (o.resume) {
        if ((s = lm_ckpt_image_load(ckpt_path, &model, am, av, ema_model.params, &st, err))) goto done;
        if (train.n != st.n_train) {
            s = lm_fail(err, LOOM_ERR_DATA,
                        "'%s' has %lld training images but the run was trained on %lld (give the --data it used)",
                        o.data, (long long)train.n, (long long)st.n_train);
            goto done;
        }
    } else {
        lm_unet_init(&model, o.seed);
        memcpy(ema_model.params, model.params, model.n_params * sizeof(float));
        lm_rng_seed(&st.data_rng, o.seed ^ 0x5eed5eedULL);
        st.n_train = train.n;
    }
    if ((s = check_memory(&model, B, err))) goto done;
    if ((s = lm_unet_build(&ug, &model, B, 1, err))) goto done;
    int profile = lm_runlog_profile(ug.g); /* LOOM_PROFILE=1: time per op type, printed at the end */
    if ((s = lm_mkdirs(o.out, err))) goto done;
    lm_runlog_remove_stale(o.out, NULL, 0);
    {
        char *sdir = lm_path_join(o.out, "samples"); /* a grid's save can be killed too */
        if (sdir) lm_runlog_remove_stale(sdir, NULL, 0);
        free(sdir);
    }
    if (o.resume && (s = lm_runlog_reload(metrics_path, st.step, &tr, &va, err))) goto done;
    if ((s = lm_runlog_open(&metrics, metrics_path, o.resume, err))) goto done;
    int have_val = test.n > 0;
    /* about VAL_IMAGES test images, no more batches than the test set fills, at most 16 */
    int64_t val_batches = VAL_IMAGES / B;
    if (val_batches > 16) val_batches = 16;
    if (val_batches > (test.n + B - 1) / B) val_batches = (test.n + B - 1) / B;
    if (val_batches < 1) val_batches = 1;

    char wtxt[64];
    format_widths(wtxt, sizeof wtxt, cfg.widths, cfg.levels);
    if (!o.quiet) {
        fprintf(log, "loom: %s %s: %lld training images, %lld test, %d labels (", o.resume ? "resuming on" : "training on",
                o.data, (long long)train.n, (long long)test.n, train.n_labels);
        for (int i = 0; i < train.n_labels && i < 10; i++) fprintf(log, "%s%s", i ? ", " : "", train.label_names[i]);
        fprintf(log, "%s), %dx%d %s\n", train.n_labels > 10 ? ", ..." : "", train.W, train.H,
                train.C == 1 ? "grey" : "RGB");
        if (o.resume) fprintf(log, "loom: resuming from step %lld of %lld\n", (long long)st.step, (long long)o.steps);
        fprintf(log, "loom: model  --size %d --channels %d --widths %s (%d labels + no label): %.2fM parameters\n",
                cfg.size, cfg.channels, wtxt, cfg.n_labels, (double)model.n_params / 1e6);
        fprintf(log,
                "loom: train  --steps %lld --batch %d --lr %g --warmup %lld --weight-decay %g --clip %g --ema %g "
                "--label-drop %g --schedule %s --diffusion-steps %d --seed %llu --threads %d\n",
                (long long)o.steps, B, o.lr, (long long)o.warmup, o.weight_decay, o.clip, o.ema, o.label_drop,
                SCHEDULES[o.schedule & 1], o.diffusion_steps, (unsigned long long)o.seed, o.threads);
        char tl[32] = "none";
        if (o.time_limit_s > 0) snprintf(tl, sizeof tl, "%g", o.time_limit_s / 60.0);
        fprintf(log,
                "loom: output --log-every %lld --eval-every %lld --save-every %lld --sample-every %lld --time-limit "
                "%s; activations %.1f MiB; writing to %s/\n",
                (long long)o.log_every, (long long)o.eval_every, (long long)o.save_every, (long long)o.sample_every, tl,
                (double)lm_graph_arena_bytes(ug.g) / 1048576.0, o.out);
    }

    lm_progress pr;
    lm_progress_init(&pr, log, o.quiet ? 0 : o.progress, st.step, o.steps);
    double t_run = lm_now();
    int64_t step0 = st.step;
    float loss = NAN, val = NAN;
    double ips = 0;
    int stopped_early = 0;
    while (st.step < o.steps) {
        float lr = lm_image_lr_at(&o, st.step);
        memset(model.grads, 0, model.n_params * sizeof(float));
        fill_batch(&ug, &model, &diff, &train, &bb, &st.data_rng, o.label_drop, NULL);
        loss = forward_backward(&ug);
        float gnorm = lm_adamw_views(model.params, model.grads, model.n_params, model.views, model.n_views, am, av,
                                     st.step + 1, lr, o.beta1, o.beta2, o.eps, o.weight_decay, o.clip);
        ema_update(ema_model.params, model.params, model.n_params, o.ema, st.step);
        st.step++;
        st.images_seen += B;
        if ((s = lm_runlog_check_loss(loss, st.step, &pr, err))) goto done;
        double now = lm_now();
        lm_run_step rs = lm_runlog_step(st.step, o.steps, now - t_run, o.time_limit_s, have_val, o.eval_every,
                                        o.log_every);
        int last = rs.last, do_eval = rs.eval, do_log = rs.log;
        if (do_eval) {
            double te = lm_now();
            val = eval_loss(&ug, &model, &diff, &test, &bb, o.seed, (int)val_batches);
            t_run += lm_now() - te; /* evaluation time is not training time */
            now = lm_now();
            lm_curve_push(&va, (double)st.step, val);
        }
        if (do_log) {
            /* rate over this run so far, evaluation and sampling excluded */
            ips = now > t_run ? (double)((st.step - step0) * B) / (now - t_run) : 0;
            lm_curve_push(&tr, (double)st.step, loss);
            json_object *j = json_object_new_object();
            json_object_object_add(j, "step", json_object_new_int64(st.step));
            json_object_object_add(j, "loss", lm_json_double(loss));
            if (do_eval) json_object_object_add(j, "val_loss", lm_json_double(val));
            json_object_object_add(j, "lr", lm_json_double(lr));
            json_object_object_add(j, "grad_norm", lm_json_double(gnorm));
            json_object_object_add(j, "images_per_s", lm_json_double(round(ips * 10) / 10));
            json_object_object_add(j, "elapsed_s", lm_json_double(st.elapsed_s + (now - t_run)));
            lm_runlog_append(metrics, j);
            char status[160];
            lm_runlog_status(status, sizeof status, loss, val, ips, 1, "img/s");
            if (!o.quiet) lm_progress_update(&pr, st.step, status, do_eval || last);
        }
        if (o.sample && o.sample_every > 0 && (last || st.step % o.sample_every == 0)) {
            double ts = lm_now();
            if ((s = write_samples(&o, st.step, &ema_model, &diff, &train, B, err))) goto done;
            t_run += lm_now() - ts; /* nor is drawing samples */
            if (!o.quiet && !pr.bar) {
                char msg[600];
                snprintf(msg, sizeof msg, "loom: samples of step %lld in %s/samples.png", (long long)st.step, o.out);
                lm_progress_note(&pr, msg);
            }
        }
        if (last || (o.save_every > 0 && st.step % o.save_every == 0)) {
            lm_ckpt_image_state cur = st;
            cur.elapsed_s = st.elapsed_s + (lm_now() - t_run);
            if ((s = save_all(o.out, &o, o.data, &model, am, av, &ema_model, &diff, &train, &cur, err))) goto done;
        }
        if (last && st.step < o.steps) {
            stopped_early = 1;
            break;
        }
    }
    lm_progress_done(&pr);
    if (st.step == step0) { /* a resume that only writes the final files (see apply_resume) */
        loss = (float)lm_curve_last(&tr);
        val = (float)lm_curve_last(&va);
        if (o.sample && o.sample_every > 0 && (s = write_samples(&o, st.step, &ema_model, &diff, &train, B, err)))
            goto done;
        if ((s = save_all(o.out, &o, o.data, &model, am, av, &ema_model, &diff, &train, &st, err))) goto done;
    }
    double secs = lm_now() - t_run;
    res->steps_done = st.step;
    res->final_loss = loss;
    res->final_val_loss = val;
    res->seconds = secs;
    res->images_per_s = secs > 0 ? (double)((st.step - step0) * B) / secs : 0;
    res->n_params = (int64_t)model.n_params;
    if ((s = lm_runlog_plot(o.out, "loom diffusion training", "noise prediction MSE", &tr, &va, err)))
        goto done;
    {
        /* summary.json: the run's figures for scripts */
        json_object *j = json_object_new_object();
        json_object_object_add(j, "steps", json_object_new_int64(res->steps_done));
        json_object_object_add(j, "loss", lm_json_double(loss));
        if (!isnan(val)) json_object_object_add(j, "val_loss", lm_json_double(val));
        json_object_object_add(j, "seconds", lm_json_double(secs));
        json_object_object_add(j, "images_per_s", lm_json_double(res->images_per_s));
        json_object_object_add(j, "params", json_object_new_int64(res->n_params));
        json_object_object_add(j, "threads", json_object_new_int(o.threads));
        json_object_object_add(j, "images", json_object_new_int64(train.n));
        json_object_object_add(j, "labels", json_object_new_int(cfg.n_labels));
        json_object_object_add(j, "size", json_object_new_int(cfg.size));
        json_object_object_add(j, "channels", json_object_new_int(cfg.channels));
        json_object_object_add(j, "widths", json_object_new_string(wtxt));
        if ((s = lm_runlog_summary(o.out, j, err))) goto done;
    }
    if (profile) lm_graph_profile_print(ug.g, log);
    if (!o.quiet) {
        lm_runlog_print_done(log, stopped_early, st.step, secs, loss);
        if (!isnan(val)) fprintf(log, ", validation loss %.4f", val);
        fprintf(log, ", %.1f images/s\nloom: wrote %s/model.gguf (EMA weights), checkpoint.bin, metrics.jsonl, loss.png%s\n",
                res->images_per_s, o.out, o.sample && o.sample_every > 0 ? ", samples.png" : "");
    }

done:
    lm_set_threads(threads_before);
    if (metrics) fclose(metrics);
    lm_curve_free(&tr);
    lm_curve_free(&va);
    free(bb.idx);
    free(bb.t);
    free(bb.x0);
    free(am);
    free(av);
    lm_unet_graph_free(&ug);
    lm_unet_free(&ema_model);
    lm_unet_free(&model);
    lm_diffusion_free(&diff);
    lm_images_free(&train);
    lm_images_free(&test);
    free(ckpt_path);
    free(metrics_path);
    free(data_owned);
    return s;
}
