/* loom train: flags (or a JSON --config file with the same names) into lm_train_opts. */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "train/train.h"
#include "util/io.h"

typedef enum { OPT_INT, OPT_I64, OPT_F32, OPT_F64, OPT_STR, OPT_FLAG, OPT_PROGRESS } opt_type;

typedef struct opt_def {
    const char *name; /* without the leading -- */
    opt_type type;
    size_t off;       /* into lm_train_opts */
    unsigned set_bit;
    double lo, hi;    /* accepted range for numbers */
    int flag_value;   /* for OPT_FLAG */
    const char *help;
} opt_def;

#define O(f) offsetof(lm_train_opts, f)
static const opt_def OPTS[] = {
    {"data", OPT_STR, O(data), 0, 0, 0, 0, "PATH   text file or folder of text files (required)"},
    {"out", OPT_STR, O(out), 0, 0, 0, 0, "DIR     where model.gguf, checkpoint.bin, metrics.jsonl, loss.png go (required)"},
    {"layers", OPT_INT, O(model.layers), LM_SET_LAYERS, 1, 1024, 0, "N    transformer blocks (default: sized to the corpus, 4 for < 3M tokens)"},
    {"heads", OPT_INT, O(model.heads), LM_SET_HEADS, 1, 4096, 0, "N     attention heads (default 4)"},
    {"kv-heads", OPT_INT, O(model.kv_heads), LM_SET_KV_HEADS, 1, 4096, 0, "N  key/value heads; fewer than --heads is grouped-query attention (default: = heads)"},
    {"dim", OPT_INT, O(model.dim), LM_SET_DIM, 2, 65536, 0, "N       model width (default 128)"},
    {"ffn-dim", OPT_INT, O(model.ffn_dim), LM_SET_FFN, 1, 1 << 20, 0, "N   SwiGLU hidden width (default 8/3 * dim, rounded up to 8)"},
    {"context", OPT_INT, O(model.context), LM_SET_CONTEXT, 1, 1 << 20, 0, "N   tokens per training window (default 64)"},
    {"tied", OPT_FLAG, O(model.tied), LM_SET_TIED, 0, 0, 1, "        output head shares the token embedding (default)"},
    {"untied", OPT_FLAG, O(model.tied), LM_SET_TIED, 0, 0, 0, "      separate output head"},
    {"batch", OPT_INT, O(batch), LM_SET_BATCH, 1, 65536, 0, "N     windows per micro-batch (default 12)"},
    {"grad-accum", OPT_INT, O(grad_accum), 0, 1, 65536, 0, "N micro-batches per optimizer step (default 1)"},
    {"steps", OPT_I64, O(steps), LM_SET_STEPS, 1, 1e12, 0, "N     optimizer steps (default: ~3 passes over the data, 200..5000)"},
    {"lr", OPT_F32, O(lr), 0, 1e-9, 10, 0, "F        peak learning rate (default 1e-3)"},
    {"min-lr", OPT_F32, O(min_lr), LM_SET_MIN_LR, 0, 10, 0, "F    learning rate at the end of the cosine decay (default lr/10)"},
    {"warmup", OPT_I64, O(warmup), LM_SET_WARMUP, 0, 1e12, 0, "N    linear warm-up steps (default min(100, steps/20))"},
    {"weight-decay", OPT_F32, O(weight_decay), 0, 0, 10, 0, "F AdamW decoupled weight decay, not on norms (default 0.1)"},
    {"beta1", OPT_F32, O(beta1), 0, 0, 0.999999, 0, "F     AdamW beta1 (default 0.9)"},
    {"beta2", OPT_F32, O(beta2), 0, 0, 0.999999, 0, "F     AdamW beta2 (default 0.99)"},
    {"clip", OPT_F32, O(clip), 0, 0, 1e9, 0, "F      clip the global gradient norm to F; 0 = off (default 1.0)"},
    {"seed", OPT_I64, O(seed), 0, 0, 9.2e18, 0, "N      random seed for weights and batches (default 1337)"},
    {"threads", OPT_INT, O(threads), LM_SET_THREADS, 1, 1024, 0, "N   threads (default: all cores)"},
    {"val-split", OPT_F32, O(val_frac), 0, 0, 0.9, 0, "F share of the data (its end) held out for validation (default 0.1)"},
    {"eval-every", OPT_I64, O(eval_every), 0, 0, 1e12, 0, "N validation loss every N steps; 0 = at the end only (default 250)"},
    {"eval-iters", OPT_INT, O(eval_iters), 0, 1, 1e6, 0, "N batches per validation estimate (default 50)"},
    {"save-every", OPT_I64, O(save_every), 0, 0, 1e12, 0, "N checkpoint and model.gguf every N steps; 0 = at the end (default 500)"},
    {"log-every", OPT_I64, O(log_every), 0, 0, 1e12, 0, "N  a metrics line every N steps (default 10)"},
    {"time-limit", OPT_F64, O(time_limit_s), 0, 0, 1e9, 0, "MIN stop (and save) after MIN minutes of training (default: none)"},
    {"resume", OPT_FLAG, O(resume), 0, 0, 0, 1, "      continue from DIR/checkpoint.bin exactly where it stopped"},
    {"progress", OPT_PROGRESS, O(progress), 0, 0, 0, 0, "MODE auto, bar or plain (default auto: a bar on a terminal)"},
    {"quiet", OPT_FLAG, O(quiet), 0, 0, 0, 1, "       print errors only"},
};
#undef O
#define N_OPTS (sizeof OPTS / sizeof *OPTS)

static void usage(FILE *f) {
    fprintf(f,
            "usage: loom train --data PATH --out DIR [flags] [--config FILE]\n"
            "\n"
            "Trains a Llama-style transformer on bytes of text. Sizes left unset are chosen from the\n"
            "corpus and the machine, and printed at the start. --config reads a JSON object whose keys\n"
            "are these flag names (\"layers\": 4, \"tied\": true); flags on the command line win.\n"
            "\n");
    for (size_t i = 0; i < N_OPTS; i++) fprintf(f, "  --%s %s\n", OPTS[i].name, OPTS[i].help);
    fprintf(f,
            "  --config FILE  read flags from a JSON file\n"
            "\n"
            "example:\n"
            "  loom train --data /usr/share/games/fortunes --out runs/fortunes --steps 1000\n");
}

static const opt_def *find_opt(const char *name) {
    for (size_t i = 0; i < N_OPTS; i++)
        if (!strcmp(OPTS[i].name, name)) return &OPTS[i];
    return NULL;
}

/* Stores one value; returns 0, or prints the error and returns 2. */
static int set_opt(lm_train_opts *o, unsigned *set, const opt_def *d, const char *val, const char *where) {
    char *base = (char *)o;
    char *end = NULL;
    errno = 0;
    switch (d->type) {
    case OPT_FLAG:
        *(int *)(base + d->off) = d->flag_value;
        break;
    case OPT_STR:
        if (!val[0]) {
            fprintf(stderr, "loom train: --%s needs a non-empty value%s\n", d->name, where);
            return 2;
        }
        *(const char **)(base + d->off) = val;
        break;
    case OPT_PROGRESS:
        if (!strcmp(val, "auto"))
            *(int *)(base + d->off) = -1;
        else if (!strcmp(val, "bar"))
            *(int *)(base + d->off) = 1;
        else if (!strcmp(val, "plain"))
            *(int *)(base + d->off) = 0;
        else {
            fprintf(stderr, "loom train: --progress must be auto, bar or plain, not '%s'%s\n", val, where);
            return 2;
        }
        break;
    case OPT_INT:
    case OPT_I64: {
        long long v = strtoll(val, &end, 10);
        if (!val[0] || *end || errno) {
            fprintf(stderr, "loom train: --%s expects a whole number, got '%s'%s\n", d->name, val, where);
            return 2;
        }
        if ((double)v < d->lo || (double)v > d->hi) {
            fprintf(stderr, "loom train: --%s %lld is out of range (%.0f..%.0f)%s\n", d->name, v, d->lo, d->hi, where);
            return 2;
        }
        if (d->type == OPT_INT)
            *(int *)(base + d->off) = (int)v;
        else
            *(int64_t *)(base + d->off) = (int64_t)v;
        break;
    }
    case OPT_F32:
    case OPT_F64: {
        double v = strtod(val, &end);
        if (!val[0] || *end || errno || !isfinite(v)) {
            fprintf(stderr, "loom train: --%s expects a number, got '%s'%s\n", d->name, val, where);
            return 2;
        }
        if (v < d->lo || v > d->hi) {
            fprintf(stderr, "loom train: --%s %g is out of range (%g..%g)%s\n", d->name, v, d->lo, d->hi, where);
            return 2;
        }
        if (d->type == OPT_F32)
            *(float *)(base + d->off) = (float)v;
        else
            *(double *)(base + d->off) = v;
        break;
    }
    }
    *set |= d->set_bit;
    return 0;
}

/* Applies a JSON config file. Its strings are kept alive in *keep (freed by the caller). */
static int apply_config(lm_train_opts *o, unsigned *set, const char *path, json_object **keep) {
    lm_error err;
    uint8_t *buf;
    size_t len;
    if (lm_read_file(path, 1 << 20, &buf, &len, &err)) {
        fprintf(stderr, "loom train: --config: %s\n", err.msg);
        return 2;
    }
    json_tokener *tk = json_tokener_new();
    json_object *root = json_tokener_parse_ex(tk, (const char *)buf, (int)len);
    int bad = json_tokener_get_error(tk) != json_tokener_success;
    /* one object and nothing after it but white space */
    for (size_t i = bad ? len : json_tokener_get_parse_end(tk); i < len; i++)
        if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\r' && buf[i] != '\n') bad = 1;
    json_tokener_free(tk);
    free(buf);
    if (bad || !root || !json_object_is_type(root, json_type_object)) {
        fprintf(stderr, "loom train: --config '%s' is not a JSON object (write {\"layers\": 4, ...})\n", path);
        json_object_put(root);
        return 2;
    }
    *keep = root;
    char where[600];
    snprintf(where, sizeof where, " (in %s)", path);
    json_object_object_foreach(root, key, val) {
        char name[64];
        snprintf(name, sizeof name, "%s", key);
        for (char *p = name; *p; p++)
            if (*p == '_') *p = '-';
        const opt_def *d = find_opt(name);
        if (!d) {
            fprintf(stderr, "loom train: unknown setting '%s' in %s (see loom train --help)\n", key, path);
            return 2;
        }
        if (d->type == OPT_FLAG || !strcmp(name, "tied")) {
            if (!json_object_is_type(val, json_type_boolean)) {
                fprintf(stderr, "loom train: '%s' must be true or false%s\n", key, where);
                return 2;
            }
            int on = json_object_get_boolean(val);
            const opt_def *use = d;
            if (!strcmp(name, "tied") || !strcmp(name, "untied")) {
                int tied = !strcmp(name, "tied") ? on : !on;
                use = find_opt(tied ? "tied" : "untied");
            } else if (!on) {
                continue;
            }
            if (set_opt(o, set, use, "", where)) return 2;
            continue;
        }
        if (json_object_is_type(val, json_type_object) || json_object_is_type(val, json_type_array) ||
            json_object_is_type(val, json_type_null)) {
            fprintf(stderr, "loom train: '%s' must be a number or a string%s\n", key, where);
            return 2;
        }
        if (set_opt(o, set, d, json_object_get_string(val), where)) return 2;
    }
    return 0;
}

int lm_cmd_train(int argc, char **argv) {
    lm_train_opts o;
    lm_train_defaults(&o);
    unsigned set = 0;
    json_object *cfg = NULL;
    int rc = 0;
    /* --config first, so that flags given beside it override it */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--config")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "loom train: --config needs a file name\n");
                return 2;
            }
            if (cfg) {
                fprintf(stderr, "loom train: --config given twice\n");
                json_object_put(cfg);
                return 2;
            }
            if ((rc = apply_config(&o, &set, argv[i + 1], &cfg))) goto out;
            i++;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--config")) {
            i++;
            continue;
        }
        const char *eq = strchr(a, '=');
        char name[64];
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "loom train: unexpected argument '%s' (flags start with --; see loom train --help)\n", a);
            rc = 2;
            goto out;
        }
        size_t nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (nl >= sizeof name) nl = sizeof name - 1;
        memcpy(name, a + 2, nl);
        name[nl] = 0;
        const opt_def *d = find_opt(name);
        if (!d) {
            fprintf(stderr, "loom train: unknown flag '--%s' (see loom train --help)\n", name);
            rc = 2;
            goto out;
        }
        const char *val = "";
        if (d->type != OPT_FLAG) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else {
                fprintf(stderr, "loom train: --%s needs a value (see loom train --help)\n", name);
                rc = 2;
                goto out;
            }
        } else if (eq) {
            fprintf(stderr, "loom train: --%s takes no value\n", name);
            rc = 2;
            goto out;
        }
        if ((rc = set_opt(&o, &set, d, val, ""))) goto out;
    }
    if (!o.data || !o.out) {
        fprintf(stderr, "loom train: %s is required (example: loom train --data corpus.txt --out runs/first)\n",
                !o.data ? "--data PATH" : "--out DIR");
        rc = 2;
        goto out;
    }
    if ((set & LM_SET_HEADS) && !(set & LM_SET_KV_HEADS)) o.model.kv_heads = o.model.heads;
    lm_train_result res;
    lm_error err = {0};
    if (lm_train(&o, set, &res, &err) != LOOM_OK) {
        fprintf(stderr, "loom train: %s\n", err.msg);
        rc = 1;
    }
out:
    json_object_put(cfg);
    return rc;
}
