/* loom imagine: images of a label from a class-conditional diffusion model (loom train-image). */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "data/prompt_match.h"
#include "formats/grid.h"
#include "formats/unet_gguf.h"
#include "generate/imagine.h"
#include "util/clock.h"
#include "util/io.h"

#define MAX_SNAPSHOTS 10 /* columns of --show-steps */
#define MAX_SNAP_ROWS 8  /* images shown by --show-steps */

typedef struct img_opts {
    const char *model, *out, *out_dir;
    int n, sampler, steps, cols, scale, show_steps, threads, batch, quiet;
    float guidance;
    int64_t seed;
} img_opts;

#define O(f) offsetof(img_opts, f)
static const lm_opt OPTS[] = {
    {"model", 'm', OPT_STR, O(model), 0, 0, 0, 0, NULL, "FILE  an image model from loom train-image (model.gguf) (required)"},
    {"number", 'n', OPT_INT, O(n), 0, 1, 4096, 0, NULL, "N     images to draw [16]"},
    {"sampler", 0, OPT_CHOICE, O(sampler), 0, 0, 0, 0, "ddpm|ddim|dpm++2m", "S     ddpm (ancestral, all the model's steps), ddim (deterministic) or dpm++2m (2nd order) [ddim]"},
    {"steps", 0, OPT_INT, O(steps), 0, 1, 100000, 0, NULL, "N     denoising steps for ddim and dpm++2m, at most the model's diffusion steps [50]"},
    {"guidance", 0, OPT_F32, O(guidance), 0, 0, 100, 0, NULL, "W     classifier-free guidance: 1 = none, 0 = ignore the prompt, more = closer to the label [3]"},
    {"seed", 's', OPT_I64, O(seed), 0, -1, 9.2e18, 0, NULL, "N     random seed; the same seed gives the same images; -1 = from the clock [-1]"},
    {"output", 'o', OPT_STR, O(out), 0, 0, 0, 0, NULL, "FILE  a grid of all the images as PNG [imagine.png unless --out-dir is given]"},
    {"out-dir", 0, OPT_STR, O(out_dir), 0, 0, 0, 0, NULL, "DIR   also each image as a PNG of its own size: DIR/LABEL-0001.png, ... (--scale N enlarges them)"},
    {"cols", 0, OPT_INT, O(cols), 0, 0, 4096, 0, NULL, "N     images per grid row; 0 = a square grid [0]"},
    {"scale", 0, OPT_INT, O(scale), 0, 0, 64, 0, NULL, "N     each pixel as an N x N block; 0 = about 112 pixels an image in the grid, 1 in --out-dir [0]"},
    {"show-steps", 0, OPT_FLAG, O(show_steps), 0, 0, 0, 1, NULL, "      also OUT-steps.png: the predicted image at ~10 steps from noise to the end (first 8 images)"},
    {"threads", 't', OPT_INT, O(threads), 0, 1, 1024, 0, NULL, "N     threads [all cores]"},
    {"batch", 0, OPT_INT, O(batch), 0, 0, 65536, 0, NULL, "N     images per forward pass (memory); 0 = all at once [64]"},
    {"quiet", 'q', OPT_FLAG, O(quiet), 0, 0, 0, 1, NULL, "      print errors only"},
};
#undef O
#define N_OPTS (sizeof OPTS / sizeof *OPTS)

static void usage(FILE *f) {
    fprintf(f, "usage: loom imagine --model FILE PROMPT [flags]\n\n"
               "Draws images of the label PROMPT names (\"ankle boots\", \"a t-shirt\", \"3\": a label's number)\n"
               "with a diffusion model from loom train-image, and writes them as a PNG grid.\n\n");
    lm_args a = {.opts = OPTS, .n_opts = N_OPTS};
    lm_args_print(&a, f);
    fprintf(f, "\nexamples:\n"
               "  loom imagine --model runs/fashion/model.gguf \"ankle boot\" -n 16 -o boots.png\n"
               "  loom imagine -m model.gguf sneakers --sampler dpm++2m --steps 20 --seed 7 --show-steps\n"
               "  loom imagine -m model.gguf \"a dress\" -n 64 --out-dir dresses --guidance 5\n");
}

/* A label as a file name: lower case letters and digits, '-' between words. */
static void file_stem(const char *label, char *out, size_t cap) {
    size_t k = 0;
    int dash = 0;
    for (const unsigned char *p = (const unsigned char *)label; *p && k + 2 < cap; p++) {
        if (isalnum(*p)) {
            if (dash && k) out[k++] = '-';
            out[k++] = (char)tolower(*p);
            dash = 0;
        } else {
            dash = 1;
        }
    }
    if (!k) out[k++] = 'x';
    out[k] = 0;
}

/* "dir/out.png" -> "dir/out-steps.png" */
static char *steps_path(const char *out) {
    size_t n = strlen(out), stem = n;
    if (n > 4 && !strcmp(out + n - 4, ".png")) stem = n - 4;
    char *p = malloc(stem + 16);
    if (p) snprintf(p, stem + 16, "%.*s-steps.png", (int)stem, out);
    return p;
}

typedef struct progress {
    int tty, quiet;
    double t0;
    /* --show-steps: snapshots of the x0 prediction of the first `rows` images */
    int want[MAX_SNAPSHOTS], n_want, taken, rows;
    int64_t per_image;
    float *snaps; /* (rows, n_want, per_image) */
    int snap_step[MAX_SNAPSHOTS];
} progress;

static void on_step(void *ud, int step, int n_steps, const float *x0, int n_images) {
    progress *p = ud;
    if (p->snaps && p->taken < p->n_want && step == p->want[p->taken]) {
        for (int r = 0; r < p->rows; r++) {
            float *dst = p->snaps + ((int64_t)r * p->n_want + p->taken) * p->per_image;
            memcpy(dst, x0 + (int64_t)r * p->per_image, (size_t)p->per_image * sizeof(float));
        }
        p->snap_step[p->taken++] = step;
    }
    if (p->tty && !p->quiet) {
        double el = lm_now() - p->t0;
        fprintf(stderr, "\r\033[Kimagine: step %d/%d, %.1fs", step, n_steps, el);
        if (step == n_steps) fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
    (void)n_images;
}

int lm_cmd_imagine(int argc, char **argv) {
    img_opts io = {.n = 16, .sampler = LM_IMG_DDIM, .steps = 50, .guidance = 3.0f, .seed = -1, .batch = 64};
    lm_args a = {.cmd = "imagine", .opts = OPTS, .n_opts = N_OPTS, .base = &io, .max_positional = 1};
    int rc = lm_args_parse(&a, argc, argv, usage);
    if (rc) return rc < 0 ? 0 : rc;
    if (!io.model) {
        fprintf(stderr, "loom imagine: --model FILE is required (example: loom imagine -m runs/fashion/model.gguf \"ankle boot\")\n");
        return 2;
    }
    lm_error err = {0};
    lm_unet m = {0};
    lm_diffusion d = {0};
    char **labels = NULL;
    int32_t *ids = NULL;
    float *img = NULL;
    char *spath = NULL, **caps = NULL;
    progress pr = {0};
    rc = 1;
    lm_set_threads(io.threads);
    if (lm_unet_load_gguf(io.model, &m, &d, &labels, &err)) {
        rc = lm_cli_report("imagine", &err);
        lm_args_free(&a);
        return rc;
    }
    const lm_unet_config *c = &m.cfg;
    if (a.n_positional < 1) {
        fprintf(stderr, "loom imagine: no prompt; name one of the model's labels, e.g. loom imagine -m %s \"%s\"\n",
                io.model, c->n_labels ? labels[0] : "x");
        rc = 2;
        goto done;
    }
    int label;
    if (lm_label_match(a.positional[0], labels, c->n_labels, &label, &err)) {
        rc = lm_cli_report("imagine", &err);
        goto done;
    }
    lm_imagine_opts o;
    lm_imagine_defaults(&o);
    o.sampler = (lm_image_sampler)io.sampler;
    o.steps = io.steps;
    o.guidance = io.guidance;
    o.seed = lm_cli_seed(io.seed);
    o.batch = io.batch;
    if (o.sampler != LM_IMG_DDPM && o.steps > d.steps) {
        fprintf(stderr, "loom imagine: --steps %d is more than the model's %d diffusion steps (use at most %d)\n",
                o.steps, d.steps, d.steps);
        rc = 2;
        goto done;
    }
    int64_t P = (int64_t)c->channels * c->size * c->size;
    ids = malloc((size_t)io.n * sizeof(int32_t));
    img = malloc((size_t)io.n * (size_t)P * sizeof(float));
    if (!ids || !img) {
        fprintf(stderr, "loom imagine: out of memory for %d images (ask for fewer with -n)\n", io.n);
        goto done;
    }
    for (int i = 0; i < io.n; i++) ids[i] = label;

    pr.tty = isatty(fileno(stderr));
    pr.quiet = io.quiet;
    pr.per_image = P;
    if (io.show_steps) {
        int S = o.sampler == LM_IMG_DDPM ? d.steps : o.steps;
        /* ~10 steps from the first to the last, evenly spaced, distinct */
        for (int j = 0; j < MAX_SNAPSHOTS; j++) {
            int s = 1 + (int)((double)j * (S - 1) / (MAX_SNAPSHOTS - 1) + 0.5);
            if (!pr.n_want || s > pr.want[pr.n_want - 1]) pr.want[pr.n_want++] = s;
        }
        pr.rows = io.n < MAX_SNAP_ROWS ? io.n : MAX_SNAP_ROWS;
        pr.snaps = malloc((size_t)pr.rows * (size_t)pr.n_want * (size_t)P * sizeof(float));
        if (!pr.snaps) {
            fprintf(stderr, "loom imagine: out of memory for --show-steps\n");
            goto done;
        }
    }
    o.on_step = on_step;
    o.ud = &pr;
    if (!io.quiet)
        fprintf(stderr, "loom imagine: %d image%s of '%s' (label %d) with %s, %d steps, guidance %g, seed %llu\n", io.n,
                io.n == 1 ? "" : "s", labels[label], label, lm_image_sampler_name(o.sampler),
                o.sampler == LM_IMG_DDPM ? d.steps : o.steps, (double)o.guidance, (unsigned long long)o.seed);
    pr.t0 = lm_now();
    if (lm_imagine(&m, &d, ids, io.n, &o, img, &err)) {
        if (pr.tty && !io.quiet) fprintf(stderr, "\r\033[K");
        rc = lm_cli_report("imagine", &err);
        goto done;
    }
    double secs = lm_now() - pr.t0;

    int scale = io.scale ? io.scale : (112 + c->size / 2) / c->size;
    if (scale < 1) scale = 1;
    const char *grid_path = io.out ? io.out : io.out_dir ? NULL : "imagine.png";
    lm_grid g = {.n = io.n, .C = c->channels, .H = c->size, .W = c->size, .f32 = img, .cols = io.cols, .scale = scale};
    /* the folder first: -o may point into it */
    if (io.out_dir && lm_mkdirs(io.out_dir, &err)) {
        rc = lm_cli_report("imagine", &err);
        goto done;
    }
    if (grid_path && lm_grid_write_png(grid_path, &g, &err)) {
        rc = lm_cli_report("imagine", &err);
        goto done;
    }
    if (io.out_dir) {
        char stem[64];
        file_stem(labels[label], stem, sizeof stem);
        /* the images themselves: their own size and channels, enlarged only when --scale asks */
        lm_grid one = g;
        one.scale = io.scale;
        for (int i = 0; i < io.n; i++) {
            char name[96];
            snprintf(name, sizeof name, "%s-%04d.png", stem, i + 1);
            char *path = lm_path_join(io.out_dir, name);
            loom_status s = path ? lm_grid_write_one_png(path, &one, i, &err)
                                 : lm_fail(&err, LOOM_ERR_NOMEM, "out of memory");
            free(path);
            if (s) {
                rc = lm_cli_report("imagine", &err);
                goto done;
            }
        }
    }
    if (pr.snaps) {
        /* rows: images; columns: the prediction after each shown step, captioned with that step */
        int n_cells = pr.rows * pr.taken;
        caps = calloc((size_t)n_cells, sizeof(char *));
        char *capbuf = calloc((size_t)pr.taken, 16);
        spath = grid_path ? steps_path(grid_path) : lm_path_join(io.out_dir, "steps.png");
        if (!caps || !capbuf || !spath) {
            free(capbuf);
            fprintf(stderr, "loom imagine: out of memory for --show-steps\n");
            goto done;
        }
        for (int k = 0; k < pr.taken; k++) snprintf(capbuf + 16 * k, 16, "%d/%d", pr.snap_step[k], pr.want[pr.n_want - 1]);
        for (int i = 0; i < n_cells; i++) caps[i] = capbuf + 16 * (i % pr.taken);
        /* snaps are laid out (rows, n_want, P); only the first `taken` of each row were filled */
        if (pr.taken < pr.n_want)
            for (int r = 1; r < pr.rows; r++)
                memmove(pr.snaps + (int64_t)r * pr.taken * P, pr.snaps + (int64_t)r * pr.n_want * P,
                        (size_t)pr.taken * (size_t)P * sizeof(float));
        lm_grid sg = {.n = n_cells, .C = c->channels, .H = c->size, .W = c->size, .f32 = pr.snaps, .cols = pr.taken,
                      .scale = scale, .captions = caps};
        loom_status s = lm_grid_write_png(spath, &sg, &err);
        free(capbuf);
        if (s) {
            rc = lm_cli_report("imagine", &err);
            goto done;
        }
    }
    if (!io.quiet) {
        printf("%d image%s in %.2fs (%.2f images/s)", io.n, io.n == 1 ? "" : "s", secs, secs > 0 ? io.n / secs : 0.0);
        if (grid_path) printf(" -> %s", grid_path);
        if (io.out_dir) printf("%s%s/", grid_path ? " and " : " -> ", io.out_dir);
        if (spath) printf(", steps in %s", spath);
        printf("\n");
    }
    rc = 0;
done:
    free(caps);
    free(spath);
    free(pr.snaps);
    free(img);
    free(ids);
    lm_unet_labels_free(labels);
    lm_unet_free(&m);
    lm_diffusion_free(&d);
    lm_args_free(&a);
    return rc;
}
