/* Training a Llama-style model on a text corpus: the loop, its schedule and its outputs.
 *
 * The run's folder receives model.gguf (the model, readable by llama.cpp), checkpoint.bin
 * (everything needed to continue bit-exactly), metrics.jsonl (one JSON object per logged
 * step) and loss.png (the curves). */
#ifndef LM_TRAIN_H
#define LM_TRAIN_H

#include <stdint.h>

#include "model/llama.h"
#include "util/error.h"

typedef struct lm_train_opts {
    /* data */
    const char *data;
    const char *out;
    float val_frac;     /* the last val_frac of the token stream is held out (of the bytes with FIM) */
    /* code corpora and fill-in-the-middle (src/data/code_corpus.h, src/data/fim.h) */
    int code;            /* data is a source tree: source files only, each after a path line */
    const char *extensions; /* code: comma-separated extensions to keep; NULL = common languages */
    int max_file_kb;     /* code: larger files are skipped */
    float fim_rate;      /* share of training documents rearranged for FIM (unset: 0.5 with code, else 0) */
    float fim_spm_rate;  /* share of those in suffix-prefix-middle order */
    int fim_piece;       /* bytes per rearranged piece (0: whole documents); set by lm_train */
    /* tokenizer */
    int tokenizer;       /* LM_TRAIN_TOK_BYTE or LM_TRAIN_TOK_BPE */
    int vocab_size;      /* BPE: tokens to learn, specials included */
    const char *tokenizer_file; /* BPE: use this loom tokenizer file instead of training one */
    int bpe_gpt2_pattern; /* BPE: GPT-2's pre-split pattern instead of GPT-4's */
    /* model (vocab is set from the tokenizer) */
    lm_llama_config model;
    /* optimisation */
    int batch;          /* windows per micro-batch */
    int grad_accum;     /* micro-batches per optimizer step */
    int64_t steps;
    float lr, min_lr;   /* peak and floor of the cosine schedule */
    int64_t warmup;     /* linear warm-up steps */
    float weight_decay, beta1, beta2, eps, clip;
    uint64_t seed;
    /* housekeeping */
    int threads;
    int64_t eval_every; /* 0 = only at the end */
    int eval_iters;     /* batches per validation estimate */
    int64_t save_every; /* 0 = only at the end */
    int64_t log_every;
    double time_limit_s; /* 0 = none: stop (and save) after this much wall time */
    int resume;
    int overwrite;      /* start afresh in a folder that holds a run (else refused without resume) */
    int progress;       /* -1 auto (bar on a terminal), 0 plain lines, 1 bar */
    int quiet;
} lm_train_opts;

enum { LM_TRAIN_TOK_BYTE = 0, LM_TRAIN_TOK_BPE = 1 };

/* Fills opts with the defaults (model sizes are chosen from the corpus by lm_train). */
void lm_train_defaults(lm_train_opts *o);

/* A summary of what a run did. */
typedef struct lm_train_result {
    int64_t steps_done;
    float final_loss, final_val_loss; /* val is NaN when not measured */
    double seconds, tokens_per_s;
    int64_t n_params;
} lm_train_result;

/* Runs (or, with opts->resume, continues) a training run. Which model flags the user set
 * explicitly is given by `set` (a bit per lm_train_flag), so that sizes left unset can be
 * derived from the corpus and a resumed run can check the set ones against its checkpoint. */
enum {
    LM_SET_LAYERS = 1 << 0, LM_SET_HEADS = 1 << 1, LM_SET_KV_HEADS = 1 << 2, LM_SET_DIM = 1 << 3,
    LM_SET_FFN = 1 << 4, LM_SET_CONTEXT = 1 << 5, LM_SET_BATCH = 1 << 6, LM_SET_STEPS = 1 << 7,
    LM_SET_WARMUP = 1 << 8, LM_SET_MIN_LR = 1 << 9, LM_SET_THREADS = 1 << 10, LM_SET_TIED = 1 << 11,
    LM_SET_TOKENIZER = 1 << 12, LM_SET_CODE = 1 << 13, LM_SET_EXTENSIONS = 1 << 14, LM_SET_MAX_FILE = 1 << 15,
    LM_SET_FIM_RATE = 1 << 16, LM_SET_FIM_SPM = 1 << 17, LM_SET_LR = 1 << 18, LM_SET_WD = 1 << 19,
    LM_SET_BETA1 = 1 << 20, LM_SET_BETA2 = 1 << 21, LM_SET_CLIP = 1 << 22, LM_SET_SEED = 1 << 23,
    LM_SET_GRAD_ACCUM = 1 << 24, LM_SET_VAL_SPLIT = 1 << 25, LM_SET_VOCAB = 1 << 26, LM_SET_TOKFILE = 1 << 27,
    LM_SET_BPE_PATTERN = 1 << 28, LM_SET_EVAL_ITERS = 1 << 29,
};
/* The most optimizer steps a run may ask for: far beyond any run on one machine, and a typo such
 * as --steps 2147483648 is refused rather than trained for ever. */
#define LM_MAX_STEPS 100000000
loom_status lm_train(const lm_train_opts *opts, unsigned set, lm_train_result *res, lm_error *err);

/* The learning rate at a 0-based step: linear warm-up, then cosine decay to min_lr. */
float lm_lr_at(const lm_train_opts *o, int64_t step);

#endif
