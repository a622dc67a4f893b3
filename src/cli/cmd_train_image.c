/* loom train-image: flags (or a JSON --config file with the same names) into lm_train_image_opts. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "generate/imagine.h"
#include "train/train.h"
#include "train/train_image.h"

/* The flags' destination: the options, plus what arrives as text and is parsed afterwards. */
typedef struct cli_opts {
    lm_train_image_opts o;
    const char *widths;
} cli_opts;

#define O(f) offsetof(cli_opts, o.f)
static const lm_opt OPTS[] = {
    {"data", 0, OPT_STR, O(data), LM_ISET_DATA, 0, 0, 0, NULL, "PATH  Fashion-MNIST/MNIST IDX folder, or a folder with one sub-folder of PNG/JPEG images per label [" LM_TRAIN_IMAGE_DEFAULT_DATA "]"},
    {"out", 0, OPT_STR, O(out), 0, 0, 0, 0, NULL, "DIR   where model.gguf, checkpoint.bin, metrics.jsonl, loss.png, samples/ go (required)"},
    {"steps", 0, OPT_I64, O(steps), LM_ISET_STEPS, 1, LM_MAX_STEPS, 0, NULL, "N     optimizer steps [5000]"},
    {"time-limit", 0, OPT_F64, O(time_limit_s), 0, 0, 1e9, 0, NULL, "MIN   stop (and save) after MIN minutes of training, or at --steps, whichever comes first [none]"},
    {"batch", 0, OPT_INT, O(batch), LM_ISET_BATCH, 1, 65536, 0, NULL, "N     images per step [64]"},
    {"lr", 0, OPT_F32, O(lr), LM_ISET_LR, 1e-9, 10, 0, NULL, "F     AdamW learning rate, constant after the warm-up [5e-4]"},
    {"warmup", 0, OPT_I64, O(warmup), LM_ISET_WARMUP, 0, 1e12, 0, NULL, "N     linear warm-up steps [min(100, steps/20)]"},
    {"weight-decay", 0, OPT_F32, O(weight_decay), LM_ISET_WD, 0, 10, 0, NULL, "F     AdamW decoupled weight decay [0]"},
    {"clip", 0, OPT_F32, O(clip), LM_ISET_CLIP, 0, 1e9, 0, NULL, "F     clip the global gradient norm to F; 0 = off [1]"},
    {"ema", 0, OPT_F32, O(ema), LM_ISET_EMA, 0, 0.999999, 0, NULL, "F     decay of the weights' moving average that model.gguf and samples use [0.999]"},
    {"label-drop", 0, OPT_F32, O(label_drop), LM_ISET_LABEL_DROP, 0, 1, 0, NULL, "F     share of labels replaced by \"no label\", for classifier-free guidance [0.1]"},
    {"schedule", 0, OPT_CHOICE, O(schedule), LM_ISET_SCHEDULE, 0, 0, 0, "cosine|linear", "S     noise schedule: cosine (Nichol & Dhariwal) or linear (Ho et al.) [cosine]"},
    {"diffusion-steps", 0, OPT_INT, O(diffusion_steps), LM_ISET_DSTEPS, 2, 100000, 0, NULL, "N     diffusion timesteps T [1000]"},
    {"size", 0, OPT_INT, O(size), LM_ISET_SIZE, 1, 1024, 0, NULL, "N     image height = width in pixels, images resized to it [the data's: 28 for Fashion-MNIST]"},
    {"channels", 0, OPT_INT, O(channels), LM_ISET_CHANNELS, 1, 3, 0, NULL, "N     1 grey or 3 RGB, images converted [the data's]"},
    {"widths", 0, OPT_STR, offsetof(cli_opts, widths), LM_ISET_WIDTHS, 0, 0, 0, NULL, "LIST  U-Net channels per level, comma-separated; --size must divide by 2^(levels-1) [32,64,128]"},
    {"sample-every", 0, OPT_I64, O(sample_every), LM_ISET_SAMPLE_EVERY, 0, 1e12, 0, NULL, "N     a grid of samples (a row per label) every N steps and at the end; 0 = none [500]"},
    {"save-every", 0, OPT_I64, O(save_every), LM_ISET_SAVE_EVERY, 0, 1e12, 0, NULL, "N     checkpoint and model.gguf every N steps; 0 = at the end only [500]"},
    {"eval-every", 0, OPT_I64, O(eval_every), LM_ISET_EVAL_EVERY, 0, 1e12, 0, NULL, "N     validation loss on fixed test images every N steps; 0 = at the end only [250]"},
    {"log-every", 0, OPT_I64, O(log_every), LM_ISET_LOG_EVERY, 0, 1e12, 0, NULL, "N     a metrics line every N steps [10]"},
    {"seed", 0, OPT_I64, O(seed), LM_ISET_SEED, 0, 9.2e18, 0, NULL, "N     random seed for weights, batches and noise [1337]"},
    {"threads", 0, OPT_INT, O(threads), LM_ISET_THREADS, 1, 1024, 0, NULL, "N     threads [all cores]"},
    {"resume", 0, OPT_FLAG, O(resume), 0, 0, 0, 1, NULL, "      continue from DIR/checkpoint.bin where it stopped, with its settings; flags given again override the steps, intervals and threads (same losses with the same --threads)"},
    {"overwrite", 0, OPT_FLAG, O(overwrite), 0, 0, 0, 1, NULL, "      start afresh in a DIR that holds a run (it is replaced)"},
    {"progress", 0, OPT_CHOICE, O(progress), 0, 0, 0, 0, "plain|bar|auto", "MODE  auto, bar or plain [auto: a bar on a terminal]"},
    {"quiet", 0, OPT_FLAG, O(quiet), 0, 0, 0, 1, NULL, "      print errors only"},
};
#undef O
#define N_OPTS (sizeof OPTS / sizeof *OPTS)

static void usage(FILE *f) {
    fprintf(f,
            "usage: loom train-image [--data PATH] --out DIR [flags] [--config FILE]\n"
            "\n"
            "Trains a class-conditional diffusion model (a U-Net predicting the noise, DDPM) on labelled\n"
            "images, with classifier-free guidance. --config reads a JSON object whose keys are these\n"
            "flag names (\"batch\": 32, \"widths\": \"32,64\"); flags on the command line win.\n"
            "\n");
    lm_args a = {.opts = OPTS, .n_opts = N_OPTS, .allow_config = 1};
    lm_args_print(&a, f);
    fprintf(f,
            "\n"
            "DIR receives model.gguf (the moving average of the weights; loom imagine reads it),\n"
            "checkpoint.bin, metrics.jsonl (step, loss, val_loss, lr, images_per_s, elapsed_s), loss.png,\n"
            "summary.json, and with --sample-every samples/step-NNNNNN.png and samples.png (the latest):\n"
            "one row per label (the first 10), 8 images each, DDIM in 25 steps with guidance 3 from a\n"
            "fixed seed, so that the rows of successive grids can be compared.\n"
            "\n"
            "A folder of images needs one sub-folder per label (the sub-folder names are the labels);\n"
            "its train/ and test/ sub-folders are the splits when present, otherwise every 10th image\n"
            "of each label is held out for the validation loss.\n"
            "\n"
            "examples:\n"
            "  loom train-image --out runs/fashion --time-limit 30\n"
            "  loom train-image --data ~/pictures/pets --size 32 --channels 3 --widths 64,128,256 --out runs/pets\n"
            "  loom train-image --out runs/fashion --resume --steps 20000\n");
}

/* The trainer's sample grids, drawn by the image sampler (a layer above training). */
static loom_status draw_samples(void *ud, lm_unet *m, const lm_diffusion *d, const int32_t *labels, int n,
                                int steps, uint64_t seed, int batch, float *out, lm_error *err) {
    (void)ud;
    lm_imagine_opts io;
    lm_imagine_defaults(&io);
    io.sampler = LM_IMG_DDIM;
    io.steps = steps;
    io.guidance = 3.0f;
    io.seed = seed;
    io.batch = batch;
    return lm_imagine(m, d, labels, n, &io, out, err);
}

int lm_cmd_train_image(int argc, char **argv) {
    cli_opts c = {0};
    lm_train_image_defaults(&c.o);
    c.o.progress = 2; /* "auto", as an index into "plain|bar|auto" */
    lm_args a = {.cmd = "train-image", .opts = OPTS, .n_opts = N_OPTS, .base = &c, .allow_config = 1};
    int rc = lm_args_parse(&a, argc, argv, usage);
    if (rc) {
        lm_args_free(&a);
        return rc < 0 ? 0 : rc;
    }
    lm_train_image_opts *o = &c.o;
    if (o->progress == 2) o->progress = -1;
    o->time_limit_s *= 60.0; /* the flag is in minutes */
    lm_error err = {0};
    if (!o->out) {
        fprintf(stderr, "loom train-image: --out DIR is required (example: loom train-image --out runs/fashion)\n");
        rc = 2;
    } else if (c.widths && lm_parse_widths(c.widths, o->widths, &o->levels, &err) != LOOM_OK) {
        rc = lm_cli_report("train-image", &err);
    } else if (o->channels == 2) {
        fprintf(stderr, "loom train-image: --channels must be 1 (grey) or 3 (RGB), not 2\n");
        rc = 2;
    }
    if (rc) {
        lm_args_free(&a);
        return rc;
    }
    o->sample = draw_samples;
    lm_train_image_result res;
    if (lm_train_image(o, a.set, &res, &err) != LOOM_OK) {
        rc = lm_cli_report("train-image", &err);
    }
    lm_args_free(&a);
    return rc;
}
