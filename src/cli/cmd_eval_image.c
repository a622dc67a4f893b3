/* loom eval-image: how good an image diffusion model's pictures are, measured with a classifier
 * that loom trains itself (once per data set, then cached): its accuracy on the test images, the
 * share of generated images it puts in the label they were made for (per label, overall, and as
 * a confusion matrix), and the Fréchet distance between generated and test images in its
 * penultimate features, next to the same distance between two sets of real images (the floor:
 * what sampling alone costs at this number of images). */
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "data/images.h"
#include "formats/classifier_gguf.h"
#include "formats/gguf.h"
#include "formats/grid.h"
#include "formats/unet_gguf.h"
#include "generate/frechet.h"
#include "generate/imagine.h"
#include "kernels/kernels.h"
#include "train/train_classifier.h"
#include "train/train_image.h" /* LM_TRAIN_IMAGE_DEFAULT_DATA */
#include "util/clock.h"
#include "util/io.h"
#include "util/rng.h"
#include "util/json.h"

typedef struct evali_opts {
    const char *model, *data, *classifier, *grid;
    int per_label, sampler, steps, batch, threads, format, quiet, retrain, epochs;
    float guidance;
    int64_t seed;
} evali_opts;

#define O(f) offsetof(evali_opts, f)
static const lm_opt OPTS[] = {
    {"model", 'm', OPT_STR, O(model), 0, 0, 0, 0, NULL, "FILE   an image model written by loom train-image (required)"},
    {"data", 'd', OPT_STR, O(data), 0, 0, 0, 0, NULL, "PATH   the images the model was trained on: an IDX folder, or a folder with a sub-folder of images per label [" LM_TRAIN_IMAGE_DEFAULT_DATA "]"},
    {"per-label", 'n', OPT_INT, O(per_label), 0, 1, 100000, 0, NULL, "N      images generated for each label [100]"},
    {"sampler", 0, OPT_CHOICE, O(sampler), 0, 0, 0, 0, "ddpm|ddim|dpm++2m", "S      ddpm (all T steps), ddim or dpm++2m [ddim]"},
    {"steps", 0, OPT_INT, O(steps), 0, 1, 100000, 0, NULL, "N      sampling steps of ddim and dpm++2m [50]"},
    {"guidance", 0, OPT_F32, O(guidance), 0, 0, 100, 0, NULL, "F      classifier-free guidance scale; 1 = none [3]"},
    {"seed", 's', OPT_I64, O(seed), 0, 0, 9.2e18, 0, NULL, "N      the generated images' noise, and the real images drawn for the distances [1]"},
    {"batch", 0, OPT_INT, O(batch), 0, 1, 65536, 0, NULL, "N      images generated at a time (with guidance each is two rows of a pass) [50]"},
    {"classifier", 0, OPT_STR, O(classifier), 0, 0, 0, 0, NULL, "FILE   the classifier that judges; trained on the data's training images and saved there when missing [a file in $XDG_CACHE_HOME/loom or ~/.cache/loom, named after the data, image size, channels, labels and epochs]"},
    {"retrain-classifier", 0, OPT_FLAG, O(retrain), 0, 0, 0, 1, NULL, " train the classifier again even if its file exists, and replace it"},
    {"classifier-epochs", 0, OPT_INT, O(epochs), 0, 1, 1000, 0, NULL, "N      passes over the training images when the classifier is trained [3]"},
    {"grid", 0, OPT_STR, O(grid), 0, 0, 0, 0, NULL, "FILE   a PNG of the first 10 generated images of each label, one labelled row per label [none]"},
    {"format", 0, OPT_CHOICE, O(format), 0, 0, 0, 0, "text|json", "FMT    tables, or one JSON object [text]"},
    {"threads", 't', OPT_INT, O(threads), 0, 1, 1024, 0, NULL, "N      threads [all cores]"},
    {"quiet", 'q', OPT_FLAG, O(quiet), 0, 0, 0, 1, NULL, "       no progress lines on standard error"},
};
#undef O
#define N_OPTS (sizeof OPTS / sizeof *OPTS)

#define GRID_COLS 10
#define EVAL_BATCH 250

static void usage(FILE *f) {
    fprintf(f, "usage: loom eval-image --model FILE [--data PATH] [flags]\n\n"
               "Measures an image model with a classifier that loom trains on the data's training images\n"
               "(once: it is cached, keyed by the data, image size, channels and labels; a few minutes on\n"
               "two cores for Fashion-MNIST) and reports:\n"
               "  classifier accuracy    on the test images: how far the judge can be trusted\n"
               "  conditional accuracy   of N images generated for each label, the share the classifier\n"
               "                         puts in that label; per label, overall, and a confusion matrix\n"
               "                         (rows: the label asked for, columns: the label predicted)\n"
               "  Fréchet distance       between the generated images and as many test images, in the\n"
               "                         classifier's penultimate features (FID's formula, not Inception's\n"
               "                         features: compare it only with itself), next to its floor: the\n"
               "                         distance between as many training images and the same test images\n\n");
    lm_args a = {.opts = OPTS, .n_opts = N_OPTS};
    lm_args_print(&a, f);
    fprintf(f, "\nexamples:\n"
               "  loom eval-image --model runs/fashion/model.gguf\n"
               "  loom eval-image --model runs/fashion/model.gguf -n 20 --steps 25 --grid samples.png --format json\n");
}

/* ---- progress ---- */

typedef struct say_ctx {
    int quiet;
} say_ctx;

static void say_line(void *ud, const char *line) {
    const say_ctx *c = ud;
    if (!c->quiet) fprintf(stderr, "loom eval-image: %s\n", line);
}

static void say_warn(void *ud, const char *line) {
    const say_ctx *c = ud;
    if (!c->quiet) fprintf(stderr, "loom eval-image: warning: %s\n", line);
}

/* ---- the classifier's file ---- */

/* FNV-1a, 64 bits */
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

/* The cached classifier for this data, size, channels, labels and epochs (malloc'ed), or NULL
 * with err set when there is no cache folder. Keyed by the data's absolute path so that the same
 * folder named two ways shares one file. */
static char *cache_path(const char *data, const lm_images *im, int epochs, lm_error *err) {
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[PATH_MAX];
    if (xdg && xdg[0] == '/')
        snprintf(dir, sizeof dir, "%s/loom", xdg);
    else if (home && home[0])
        snprintf(dir, sizeof dir, "%s/.cache/loom", home);
    else {
        lm_fail(err, LOOM_ERR_ARG, "no cache folder for the classifier: set HOME or XDG_CACHE_HOME, or give --classifier FILE");
        return NULL;
    }
    char abs[PATH_MAX];
    const char *key = realpath(data, abs) ? abs : data;
    char desc[64];
    /* "v2": the classifier's design; a different design must not pick up an old file */
    snprintf(desc, sizeof desc, "|v2|%dx%dx%d|%d", im->C, im->H, im->W, epochs);
    uint64_t h = 0xcbf29ce484222325ULL;
    h = fnv(h, key, strlen(key));
    h = fnv(h, desc, strlen(desc));
    for (int i = 0; i < im->n_labels; i++) h = fnv(h, im->label_names[i], strlen(im->label_names[i]) + 1);
    char name[96];
    snprintf(name, sizeof name, "classifier-%dpx-%dch-%016llx.gguf", im->H, im->C, (unsigned long long)h);
    return lm_path_join(dir, name);
}

/* Checks that a loaded classifier judges images like these, with these labels. */
static loom_status check_classifier(const char *path, const lm_classifier *c, char **names, const lm_images *im,
                                    lm_error *err) {
    if (c->cfg.channels != im->C || c->cfg.size != im->H || c->cfg.n_labels != im->n_labels)
        return lm_fail(err, LOOM_ERR_ARG,
                       "the classifier '%s' judges %dx%d images of %d channel(s) with %d labels, but the model makes "
                       "%dx%d of %d with %d (use --retrain-classifier, or another --classifier FILE)",
                       path, c->cfg.size, c->cfg.size, c->cfg.channels, c->cfg.n_labels, im->H, im->W, im->C,
                       im->n_labels);
    for (int i = 0; i < im->n_labels; i++)
        if (strcmp(names[i], im->label_names[i]))
            return lm_fail(err, LOOM_ERR_ARG,
                           "the classifier '%s' calls label %d '%s', the data '%s' (use --retrain-classifier, or "
                           "another --classifier FILE)",
                           path, i, names[i], im->label_names[i]);
    return LOOM_OK;
}

/* ---- the model ---- */

/* Loads the image model; a file of another kind is one line saying what it is. */
static loom_status load_model(const char *path, lm_unet *m, lm_diffusion *d, char ***names, lm_error *err) {
    lm_gguf *g = NULL;
    loom_status s = lm_gguf_open(path, &g, err);
    if (s) return s;
    const char *arch = lm_gguf_get_str(g, "general.architecture");
    if (!arch || strcmp(arch, "loom-unet")) {
        int text = arch && lm_gguf_find_key(g, "tokenizer.ggml.model") >= 0;
        s = lm_fail(err, LOOM_ERR_FORMAT,
                    "'%s' is %s model (architecture '%s'), not an image model; eval-image needs a model written by "
                    "`loom train-image`",
                    path, text ? "a text" : "another kind of", arch ? arch : "none");
    }
    lm_gguf_close(g);
    return s ? s : lm_unet_load_gguf(path, m, d, names, err);
}

/* ---- a random subset ---- */

/* k distinct indices of 0..n-1 (k <= n), in increasing order: a partial Fisher-Yates shuffle,
 * sorted so that the images are read in file order. */
static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int64_t *subset(int64_t n, int64_t k, uint64_t seed) {
    int64_t *all = malloc((size_t)(n ? n : 1) * sizeof(int64_t));
    if (!all) return NULL;
    for (int64_t i = 0; i < n; i++) all[i] = i;
    lm_rng r;
    lm_rng_seed(&r, seed);
    for (int64_t i = 0; i < k; i++) {
        int64_t j = i + (int64_t)lm_rng_below(&r, (uint64_t)(n - i)), t = all[i];
        all[i] = all[j];
        all[j] = t;
    }
    qsort(all, (size_t)k, sizeof(int64_t), cmp_i64);
    return all;
}

/* ---- output ---- */

static void fmt_secs(char *out, size_t cap, double s) {
    if (!(s >= 0) || s > 1e7) s = 0;
    int t = (int)(s + 0.5);
    if (t >= 60) snprintf(out, cap, "%dm%02ds", t / 60, t % 60);
    else snprintf(out, cap, "%ds", t);
}

typedef struct report {
    const char *model, *data, *classifier;
    int trained_now, classifier_epochs;
    double train_seconds;
    int64_t test_n, test_right;
    int nl, per_label;
    char **names;
    int64_t *confusion; /* (nl, nl): [asked][predicted] */
    int sampler, steps;
    float guidance;
    int64_t seed;
    int features;
    double fid, floor;
    int64_t fid_gen, fid_test, fid_train;
    double t_classifier, t_generate, t_total;
} report;

static int64_t row_right(const report *r, int c) { return r->confusion[(int64_t)c * r->nl + c]; }

static void print_json(const report *r) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "model", json_object_new_string(r->model));
    json_object_object_add(o, "data", json_object_new_string(r->data));
    json_object *c = json_object_new_object();
    json_object_object_add(c, "file", json_object_new_string(r->classifier));
    json_object_object_add(c, "trained_now", json_object_new_boolean(r->trained_now));
    if (r->trained_now) json_object_object_add(c, "train_seconds", lm_json_double(r->train_seconds));
    json_object_object_add(c, "epochs", json_object_new_int(r->classifier_epochs));
    json_object_object_add(c, "test_images", json_object_new_int64(r->test_n));
    json_object_object_add(c, "test_correct", json_object_new_int64(r->test_right));
    json_object_object_add(c, "test_accuracy", lm_json_double(r->test_n ? (double)r->test_right / r->test_n : 0));
    json_object_object_add(o, "classifier", c);
    json_object *g = json_object_new_object();
    json_object_object_add(g, "sampler", json_object_new_string(lm_image_sampler_name((lm_image_sampler)r->sampler)));
    json_object_object_add(g, "steps", json_object_new_int(r->steps));
    json_object_object_add(g, "guidance", lm_json_double(r->guidance));
    json_object_object_add(g, "seed", json_object_new_int64(r->seed));
    json_object_object_add(g, "per_label", json_object_new_int(r->per_label));
    json_object_object_add(g, "images", json_object_new_int64((int64_t)r->per_label * r->nl));
    json_object_object_add(o, "generation", g);
    json_object *labels = json_object_new_array(), *per = json_object_new_array(), *conf = json_object_new_array();
    int64_t right = 0;
    for (int i = 0; i < r->nl; i++) {
        json_object_array_add(labels, json_object_new_string(r->names[i]));
        json_object *e = json_object_new_object();
        json_object_object_add(e, "label", json_object_new_string(r->names[i]));
        json_object_object_add(e, "images", json_object_new_int(r->per_label));
        json_object_object_add(e, "correct", json_object_new_int64(row_right(r, i)));
        json_object_object_add(e, "accuracy", lm_json_double((double)row_right(r, i) / r->per_label));
        json_object_array_add(per, e);
        json_object *row = json_object_new_array();
        for (int j = 0; j < r->nl; j++) json_object_array_add(row, json_object_new_int64(r->confusion[(int64_t)i * r->nl + j]));
        json_object_array_add(conf, row);
        right += row_right(r, i);
    }
    json_object_object_add(o, "labels", labels);
    json_object *ca = json_object_new_object();
    json_object_object_add(ca, "overall", lm_json_double((double)right / ((double)r->per_label * r->nl)));
    json_object_object_add(ca, "correct", json_object_new_int64(right));
    json_object_object_add(ca, "images", json_object_new_int64((int64_t)r->per_label * r->nl));
    json_object_object_add(ca, "per_label", per);
    json_object_object_add(o, "conditional_accuracy", ca);
    json_object_object_add(o, "confusion", conf);
    json_object *f = json_object_new_object();
    json_object_object_add(f, "generated_vs_test", lm_json_double(r->fid));
    json_object_object_add(f, "train_vs_test", lm_json_double(r->floor));
    json_object_object_add(f, "generated_images", json_object_new_int64(r->fid_gen));
    json_object_object_add(f, "test_images", json_object_new_int64(r->fid_test));
    json_object_object_add(f, "train_images", json_object_new_int64(r->fid_train));
    json_object_object_add(f, "features", json_object_new_int(r->features));
    json_object_object_add(o, "frechet", f);
    json_object *s = json_object_new_object();
    json_object_object_add(s, "classifier", lm_json_double(r->t_classifier));
    json_object_object_add(s, "generation", lm_json_double(r->t_generate));
    json_object_object_add(s, "total", lm_json_double(r->t_total));
    json_object_object_add(o, "seconds", s);
    printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
}

static void print_text(const report *r) {
    char t[32];
    printf("model       %s\n", r->model);
    printf("data        %s\n", r->data);
    if (r->trained_now) fmt_secs(t, sizeof t, r->train_seconds);
    printf("classifier  %s (%s)\n", r->classifier, r->trained_now ? "trained now" : "cached");
    if (r->trained_now) printf("            trained in %s, %d epochs\n", t, r->classifier_epochs);
    printf("classifier test accuracy  %.2f%% (%lld/%lld)\n\n", r->test_n ? 100.0 * (double)r->test_right / r->test_n : 0.0,
           (long long)r->test_right, (long long)r->test_n);
    printf("generated   %lld images (%d per label): %s, %d steps, guidance %g, seed %lld\n\n",
           (long long)r->per_label * r->nl, r->per_label, lm_image_sampler_name((lm_image_sampler)r->sampler),
           r->steps, r->guidance, (long long)r->seed);
    int w = 7;
    for (int i = 0; i < r->nl; i++) {
        int l = (int)strlen(r->names[i]);
        if (l > w) w = l;
    }
    if (w > 24) w = 24;
    printf("conditional accuracy (the share of the images made for a label that the classifier puts in it)\n");
    int64_t right = 0;
    for (int i = 0; i < r->nl; i++) {
        printf("  %2d %-*.*s  %6.1f%% (%lld/%d)\n", i, w, w, r->names[i], 100.0 * (double)row_right(r, i) / r->per_label,
               (long long)row_right(r, i), r->per_label);
        right += row_right(r, i);
    }
    int64_t total = (int64_t)r->per_label * r->nl;
    printf("     %-*s  %6.1f%% (%lld/%lld)\n\n", w, "overall", 100.0 * (double)right / (double)total, (long long)right,
           (long long)total);
    if (r->nl <= 20) {
        printf("confusion matrix (rows: the label asked for, columns: the label predicted)\n");
        printf("  %*s", w + 3, "");
        for (int j = 0; j < r->nl; j++) printf(" %5d", j);
        printf("\n");
        for (int i = 0; i < r->nl; i++) {
            printf("  %2d %-*.*s", i, w, w, r->names[i]);
            for (int j = 0; j < r->nl; j++) printf(" %5lld", (long long)r->confusion[(int64_t)i * r->nl + j]);
            printf("\n");
        }
        printf("\n");
    } else {
        printf("confusion matrix: %d labels are too many to show here; --format json has it\n\n", r->nl);
    }
    printf("Fréchet distance in the classifier's %d penultimate features\n", r->features);
    printf("  generated vs test        %10.4f   (%lld vs %lld images)\n", r->fid, (long long)r->fid_gen,
           (long long)r->fid_test);
    printf("  train vs test (floor)    %10.4f   (%lld vs %lld images)\n\n", r->floor, (long long)r->fid_train,
           (long long)r->fid_test);
    printf("seconds     classifier %.1f, generation %.1f, total %.1f\n", r->t_classifier, r->t_generate, r->t_total);
}

/* ---- the command ---- */

int lm_cmd_eval_image(int argc, char **argv) {
    evali_opts g = {.per_label = 100, .sampler = LM_IMG_DDIM, .steps = 50, .guidance = 3.0f, .seed = 1, .batch = 50,
                    .epochs = 3};
    lm_args a = {.cmd = "eval-image", .opts = OPTS, .n_opts = N_OPTS, .base = &g, .max_positional = 0};
    int rc = lm_args_parse(&a, argc, argv, usage);
    if (rc) return rc < 0 ? 0 : rc;
    if (!g.model) {
        fprintf(stderr, "loom eval-image: --model FILE is required (example: loom eval-image --model runs/fashion/model.gguf)\n");
        lm_args_free(&a);
        return 2;
    }
    if (!g.data) g.data = LM_TRAIN_IMAGE_DEFAULT_DATA;
    say_ctx sc = {.quiet = g.quiet};
    lm_set_threads(g.threads);
    double t_start = lm_now();

    lm_error err = {0};
    lm_unet m = {0};
    lm_diffusion d = {0};
    char **mnames = NULL, **cnames = NULL, *cpath = NULL;
    lm_images train = {0}, test = {0};
    lm_classifier clf = {0};
    lm_classifier_info info = {0};
    int have_model = 0, have_clf = 0;
    int32_t *pred = NULL, *labels = NULL;
    float *test_feat = NULL, *real_feat = NULL, *gen = NULL, *gen_feat = NULL, *sub_feat = NULL;
    int64_t *tidx = NULL, *ridx = NULL, *confusion = NULL;
    lm_gauss ga = {0}, gt = {0}, gr = {0};
    report r = {.model = g.model, .data = g.data, .sampler = g.sampler, .steps = g.steps, .guidance = g.guidance,
                .seed = g.seed, .per_label = g.per_label, .classifier_epochs = g.epochs};
    rc = 1;

    if (load_model(g.model, &m, &d, &mnames, &err)) goto fail;
    have_model = 1;
    const lm_unet_config *mc = &m.cfg;
    if (mc->n_labels < 2) {
        lm_fail(&err, LOOM_ERR_ARG, "'%s' has %d labels; eval-image measures class-conditional models (2 labels or more)",
                g.model, mc->n_labels);
        goto fail;
    }
    /* checked now rather than after minutes of training the classifier */
    if (g.sampler != LM_IMG_DDPM && g.steps > d.steps) {
        lm_fail(&err, LOOM_ERR_ARG, "--steps %d is out of range for this model (1..%d, its diffusion steps)", g.steps,
                d.steps);
        goto fail;
    }
    if (lm_images_load(&train, g.data, "train", mc->channels, mc->size, mc->size, say_warn, &sc, &err)) goto fail;
    if (lm_images_load(&test, g.data, "test", mc->channels, mc->size, mc->size, say_warn, &sc, &err)) goto fail;
    if (test.n < 1) {
        lm_fail(&err, LOOM_ERR_ARG, "'%s' has no test images (give a folder with at least 10 images per label, or a test/ sub-folder)",
                g.data);
        goto fail;
    }
    if (train.n_labels != mc->n_labels || test.n_labels != mc->n_labels) {
        lm_fail(&err, LOOM_ERR_ARG, "the model knows %d labels but '%s' has %d; give --data the images the model was trained on",
                mc->n_labels, g.data, train.n_labels);
        goto fail;
    }
    if (!g.quiet)
        fprintf(stderr, "loom eval-image: model %s: %dx%d, %d channel(s), %d labels; data %s: %lld training and %lld test images\n",
                g.model, mc->size, mc->size, mc->channels, mc->n_labels, g.data, (long long)train.n, (long long)test.n);
    for (int i = 0; i < mc->n_labels; i++)
        if (strcmp(mnames[i], train.label_names[i])) {
            char msg[256];
            snprintf(msg, sizeof msg, "the model calls label %d '%s' and the data '%s'; are these its training images?", i,
                     mnames[i], train.label_names[i]);
            say_warn(&sc, msg);
            break;
        }

    /* ---- the classifier ---- */
    double t0 = lm_now();
    if (g.classifier) {
        if (!(cpath = strdup(g.classifier))) {
            lm_fail(&err, LOOM_ERR_NOMEM, "out of memory");
            goto fail;
        }
    } else if (!(cpath = cache_path(g.data, &train, g.epochs, &err))) {
        if (!err.msg[0]) lm_fail(&err, LOOM_ERR_NOMEM, "out of memory");
        goto fail;
    }
    r.classifier = cpath;
    struct stat st;
    if (!g.retrain && stat(cpath, &st) == 0) {
        if (lm_classifier_load_gguf(cpath, &clf, &cnames, &info, &err)) goto fail;
        have_clf = 1;
        if (check_classifier(cpath, &clf, cnames, &train, &err)) goto fail;
        if (info.epochs > 0) r.classifier_epochs = info.epochs;
        if (!g.quiet) fprintf(stderr, "loom eval-image: classifier %s (cached)\n", cpath);
    } else {
        if (!g.quiet)
            fprintf(stderr, "loom eval-image: training the classifier on %lld images for %d epochs (once; saved as %s)\n",
                    (long long)train.n, g.epochs, cpath);
        lm_classifier_train_opts to;
        lm_classifier_train_defaults(&to);
        to.epochs = g.epochs;
        to.val = &test;
        to.log = say_line;
        to.ud = &sc;
        lm_classifier_train_result tr;
        if (lm_classifier_train(&clf, &train, &to, &tr, &err)) goto fail;
        have_clf = 1;
        r.trained_now = 1;
        r.train_seconds = tr.seconds;
        lm_classifier_info si = {.data = (char *)g.data, .epochs = g.epochs, .test_accuracy = tr.val_accuracy,
                                 .train_seconds = tr.seconds};
        char *dir = strdup(cpath), *slash = dir ? strrchr(dir, '/') : NULL;
        if (slash && slash != dir) *slash = 0;
        loom_status s = (slash && slash != dir) ? lm_mkdirs(dir, &err) : LOOM_OK;
        free(dir);
        if (!s) s = lm_classifier_save_gguf(cpath, &clf, train.label_names, &si, &err);
        /* the evaluation goes on without the file: minutes of training are not thrown away */
        char msg[sizeof err.msg + 80];
        snprintf(msg, sizeof msg, "%s (the classifier is not saved and will be trained again next time)", err.msg);
        if (s) say_warn(&sc, msg);
        memset(&err, 0, sizeof err);
        if (!g.quiet)
            fprintf(stderr, "loom eval-image: classifier trained in %.1f s (%.0f images/s)%s%s\n", tr.seconds,
                    tr.images_per_s, s ? "" : ", saved as ", s ? "" : cpath);
    }
    int hid = clf.cfg.hidden, nl = mc->n_labels;
    r.features = hid;
    r.nl = nl;
    r.names = mnames;

    /* test accuracy, and the features of every test image */
    r.test_n = test.n;
    pred = malloc((size_t)test.n * sizeof(int32_t));
    test_feat = malloc((size_t)(test.n * hid) * sizeof(float));
    if (!pred || !test_feat) {
        lm_fail(&err, LOOM_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (lm_classifier_predict_images(&clf, &test, NULL, test.n, EVAL_BATCH, pred, test_feat, &err)) goto fail;
    for (int64_t i = 0; i < test.n; i++) r.test_right += pred[i] == test.labels[i];
    if (!g.quiet)
        fprintf(stderr, "loom eval-image: classifier test accuracy %.2f%% (%lld/%lld)\n",
                100.0 * (double)r.test_right / (double)test.n, (long long)r.test_right, (long long)test.n);
    r.t_classifier = lm_now() - t0;

    /* ---- generation: label-major, per_label images of each label, `batch` at a time; each batch
     * has its own seed so that no two share noise (lm_imagine's streams restart at every call) ---- */
    int64_t N = (int64_t)g.per_label * nl, per = (int64_t)mc->channels * mc->size * mc->size;
    if (N > INT_MAX / 2) {
        lm_fail(&err, LOOM_ERR_ARG, "%lld images is too many (lower -n)", (long long)N);
        goto fail;
    }
    labels = malloc((size_t)N * sizeof(int32_t));
    gen = malloc((size_t)(N * per) * sizeof(float));
    gen_feat = malloc((size_t)(N * hid) * sizeof(float));
    free(pred);
    pred = malloc((size_t)N * sizeof(int32_t));
    confusion = calloc((size_t)nl * nl, sizeof(int64_t));
    if (!labels || !gen || !gen_feat || !pred || !confusion) {
        lm_fail(&err, LOOM_ERR_NOMEM, "out of memory for %lld generated images (lower -n)", (long long)N);
        goto fail;
    }
    for (int64_t i = 0; i < N; i++) labels[i] = (int32_t)(i / g.per_label);
    if (!g.quiet)
        fprintf(stderr, "loom eval-image: generating %lld images (%d per label): %s, %d steps, guidance %g\n",
                (long long)N, g.per_label, lm_image_sampler_name((lm_image_sampler)g.sampler), g.steps, g.guidance);
    double tg = lm_now();
    for (int64_t i0 = 0; i0 < N; i0 += g.batch) {
        int cnt = (int)(N - i0 < g.batch ? N - i0 : g.batch);
        lm_imagine_opts io;
        lm_imagine_defaults(&io);
        io.sampler = (lm_image_sampler)g.sampler;
        io.steps = g.steps;
        io.guidance = g.guidance;
        uint64_t sx = (uint64_t)g.seed ^ ((uint64_t)(i0 / g.batch) * 0x9e3779b97f4a7c15ULL);
        io.seed = lm_splitmix64(&sx);
        io.batch = cnt;
        if (lm_imagine(&m, &d, labels + i0, cnt, &io, gen + i0 * per, &err)) goto fail;
        if (!g.quiet) {
            double el = lm_now() - tg, eta = el / (double)(i0 + cnt) * (double)(N - i0 - cnt);
            char a1[16], a2[16];
            fmt_secs(a1, sizeof a1, el);
            fmt_secs(a2, sizeof a2, eta);
            fprintf(stderr, "loom eval-image: generated %lld/%lld images, %s, ETA %s\n", (long long)(i0 + cnt),
                    (long long)N, a1, a2);
        }
    }
    r.t_generate = lm_now() - tg;
    if (lm_classifier_predict(&clf, gen, N, EVAL_BATCH, pred, gen_feat, &err)) goto fail;
    r.confusion = confusion;
    for (int64_t i = 0; i < N; i++) confusion[(int64_t)labels[i] * nl + pred[i]]++;

    /* ---- Fréchet distances: generated and (the floor) training images, each against the same
     * random test images, as many of each as were generated (fewer if the data has fewer) ---- */
    r.fid_gen = N;
    r.fid_test = N < test.n ? N : test.n;
    r.fid_train = N < train.n ? N : train.n;
    tidx = subset(test.n, r.fid_test, (uint64_t)g.seed ^ 0x7e57ULL);
    ridx = subset(train.n, r.fid_train, (uint64_t)g.seed ^ 0x7a1bULL);
    real_feat = malloc((size_t)(r.fid_train * hid) * sizeof(float));
    sub_feat = malloc((size_t)(r.fid_test * hid) * sizeof(float));
    if (!tidx || !ridx || !real_feat || !sub_feat) {
        lm_fail(&err, LOOM_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int64_t i = 0; i < r.fid_test; i++) memcpy(sub_feat + i * hid, test_feat + tidx[i] * hid, (size_t)hid * sizeof(float));
    if (lm_classifier_predict_images(&clf, &train, ridx, r.fid_train, EVAL_BATCH, NULL, real_feat, &err)) goto fail;
    if (lm_gauss_fit(&ga, gen_feat, N, hid, &err) || lm_gauss_fit(&gt, sub_feat, r.fid_test, hid, &err) ||
        lm_gauss_fit(&gr, real_feat, r.fid_train, hid, &err))
        goto fail;
    if (lm_frechet_gauss(&ga, &gt, &r.fid, &err) || lm_frechet_gauss(&gr, &gt, &r.floor, &err)) goto fail;

    /* ---- the grid: the first GRID_COLS images of every label ---- */
    if (g.grid) {
        int cols = g.per_label < GRID_COLS ? g.per_label : GRID_COLS;
        float *img = malloc((size_t)((int64_t)nl * cols * per) * sizeof(float));
        if (!img) {
            lm_fail(&err, LOOM_ERR_NOMEM, "out of memory drawing the grid");
            goto fail;
        }
        for (int c = 0; c < nl; c++)
            memcpy(img + (int64_t)c * cols * per, gen + (int64_t)c * g.per_label * per, (size_t)(cols * per) * sizeof(float));
        /* pixels tripled: a 28 px image is too small to judge by eye */
        lm_grid grid = {.n = nl * cols, .C = mc->channels, .H = mc->size, .W = mc->size, .f32 = img, .cols = cols,
                        .scale = mc->size <= 32 ? 3 : mc->size <= 64 ? 2 : 1, .row_labels = mnames};
        loom_status s = lm_grid_write_png(g.grid, &grid, &err);
        free(img);
        if (s) goto fail;
        if (!g.quiet) fprintf(stderr, "loom eval-image: wrote %s\n", g.grid);
    }

    r.t_total = lm_now() - t_start;
    if (g.format == 1)
        print_json(&r);
    else
        print_text(&r);
    rc = 0;
    goto done;
fail:
    rc = lm_cli_report("eval-image", &err);
done:
    lm_gauss_free(&ga);
    lm_gauss_free(&gt);
    lm_gauss_free(&gr);
    free(pred);
    free(labels);
    free(test_feat);
    free(real_feat);
    free(sub_feat);
    free(gen);
    free(gen_feat);
    free(tidx);
    free(ridx);
    free(confusion);
    free(info.data);
    lm_classifier_labels_free(cnames);
    if (have_clf) lm_classifier_free(&clf);
    free(cpath);
    lm_images_free(&train);
    lm_images_free(&test);
    if (have_model) {
        lm_unet_free(&m);
        lm_diffusion_free(&d);
        lm_unet_labels_free(mnames);
    }
    lm_args_free(&a);
    return rc;
}
