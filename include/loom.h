/*
 * loom: train and run your own generative models, in C.
 *
 * The public API. Every type is an opaque handle created by a loom_*_create or
 * loom_*_load function and released by the matching loom_*_free; every fallible
 * function returns a loom_status and, where it takes a loom_error*, fills it with
 * a one-line message that names the problem and the fix.
 */
#ifndef LOOM_H
#define LOOM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Status codes                                                              */
/* ------------------------------------------------------------------------ */

typedef enum loom_status {
    LOOM_OK = 0,
    LOOM_ERR_IO = -1,      /* a file could not be read or written */
    LOOM_ERR_FORMAT = -2,  /* a file is corrupted, truncated or of another kind/version */
    LOOM_ERR_ARG = -3,     /* an argument or configuration value is out of range */
    LOOM_ERR_NOMEM = -4,   /* an allocation failed */
    LOOM_ERR_DATA = -5,    /* the training data is missing, empty or unusable */
} loom_status;

/* What went wrong: the status and one line that names the problem and the fix. Every function
 * that can fail takes a loom_error* (NULL is allowed when the caller does not want the text). */
typedef struct loom_error {
    loom_status code;
    char msg[512];
} loom_error;

/* A short English name for a status code ("I/O error", ...). Never NULL. */
const char *loom_status_string(loom_status s);

/* The library version as "MAJOR.MINOR.PATCH". */
const char *loom_version(void);

/* Threads used by training and generation in this process (n <= 0: OMP_NUM_THREADS when set,
 * else the CPUs this process may use, its affinity mask and container limits included). */
void loom_set_threads(int n);

/* ------------------------------------------------------------------------ */
/* Models                                                                    */
/* ------------------------------------------------------------------------ */

/* A loaded model with its tokenizer and a KV cache, ready to generate. */
typedef struct loom_model loom_model;

/* Loads a GGUF model of the llama architecture (F32, F16 or BF16 tensors), such as the
 * model.gguf that loom_train writes. On failure *out is NULL and err says why. */
loom_status loom_model_load(const char *path, loom_model **out, loom_error *err);
/* Releases a model. NULL is allowed. */
void loom_model_free(loom_model *m);
/* The model's vocabulary size and training context length. */
int loom_model_vocab_size(const loom_model *m);
int loom_model_context(const loom_model *m);

/* ------------------------------------------------------------------------ */
/* Generation                                                                */
/* ------------------------------------------------------------------------ */

/* How the next token is chosen; the meanings and defaults are llama.cpp's. */
typedef struct loom_sampling {
    float temperature;    /* 0 = greedy (always the most likely token) [0.8] */
    int top_k;            /* keep the k most likely tokens; 0 = off [40] */
    float top_p;          /* keep the smallest set whose probability reaches top_p; 1 = off [0.95] */
    float min_p;          /* drop tokens below min_p times the top probability; 0 = off [0.05] */
    float repeat_penalty; /* divide the logits of recently seen tokens; 1 = off [1.0] */
    int repeat_last_n;    /* how many recent tokens the penalty sees; -1 = all [64] */
    uint64_t seed;        /* the same seed gives the same text [0] */
} loom_sampling;

/* Fills s with the defaults above. */
void loom_sampling_default(loom_sampling *s);

/* One generated token, as the callback sees it. */
typedef struct loom_token {
    int32_t id;       /* the token's id in the vocabulary */
    const char *text; /* bytes that are now safe to show: whole UTF-8 characters, stop strings held
                         back; may be empty when a character is still incomplete. Not NUL-terminated. */
    size_t len;       /* length of text */
    float prob;       /* the model's probability for this token (its confidence), 0..1 */
} loom_token;

/* Called once per generated token; return non-zero to stop generating. */
typedef int (*loom_token_fn)(const loom_token *tok, void *user);

typedef struct loom_generate_params {
    const char *prompt;      /* the text to continue (required, non-empty) */
    int n_predict;           /* tokens to generate at most [200] */
    loom_sampling sampling;
    const char *const *stop; /* stop strings (generation ends when one appears; it is not shown) */
    int n_stop;
} loom_generate_params;

/* Fills p with the defaults (no prompt, 200 tokens, default sampling, no stop strings). */
void loom_generate_params_default(loom_generate_params *p);

/* Continues p->prompt, calling fn for every token. Ends at n_predict tokens, the model's
 * end-of-text token, a stop string, or when fn returns non-zero. */
loom_status loom_generate(loom_model *m, const loom_generate_params *p, loom_token_fn fn, void *user, loom_error *err);

/* ------------------------------------------------------------------------ */
/* Training                                                                  */
/* ------------------------------------------------------------------------ */

/* What loom_train needs. Zero in a size field means "choose from the corpus", as the
 * command line does; the chosen values are printed unless quiet. */
typedef struct loom_train_params {
    const char *data;     /* a text file or a folder of text files (required) */
    const char *out_dir;  /* receives model.gguf, checkpoint.bin, metrics.jsonl, loss.png (required) */
    int layers, heads, kv_heads, dim, ffn_dim, context; /* model shape [0: sized to the corpus] */
    int batch;            /* windows per step [0: sized to the corpus] */
    int64_t steps;        /* optimizer steps [0: about 3 passes over the data] */
    float lr;             /* peak learning rate [1e-3] */
    uint64_t seed;        /* [1337] */
    int threads;          /* [0: the process's: loom_set_threads's, else OMP_NUM_THREADS or the CPUs it may use];
                             training leaves the process's setting as it found it */
    int resume;           /* continue from out_dir/checkpoint.bin */
    int overwrite;        /* replace a run that out_dir holds (without it or resume, that is an error) */
    int quiet;            /* print nothing */
} loom_train_params;

/* Fills p with the defaults. */
void loom_train_params_default(loom_train_params *p);

/* Trains a model; on success out_dir/model.gguf can be given to loom_model_load. */
loom_status loom_train(const loom_train_params *p, loom_error *err);

#ifdef __cplusplus
}
#endif

#endif /* LOOM_H */
