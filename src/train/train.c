/* The training loop. */
#include "train/train.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "data/bpe.h"
#include "data/code_corpus.h"
#include "data/corpus.h"
#include "data/fim.h"
#include "data/tokenizer.h"
#include "formats/llama_gguf.h"
#include "kernels/kernels.h"
#include "train/checkpoint.h"
#include "train/optim.h"
#include "util/progress.h"
#include "train/runlog.h"
#include "util/io.h"
#include "util/json.h"

void lm_train_defaults(lm_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->val_frac = 0.1f;
    o->max_file_kb = 1024;
    o->fim_spm_rate = 0.5f;
    o->vocab_size = 4096;
    o->model = (lm_llama_config){.vocab = 0, .dim = 128, .layers = 4, .heads = 4, .kv_heads = 4, .ffn_dim = 344,
                                 .context = 64, .tied = 1, .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    o->batch = 12;
    o->grad_accum = 1;
    o->steps = 2000;
    o->lr = 1e-3f;
    o->min_lr = 1e-4f;
    o->warmup = 100;
    o->weight_decay = 0.1f;
    o->beta1 = 0.9f;
    o->beta2 = 0.99f;
    o->eps = 1e-8f;
    o->clip = 1.0f;
    o->seed = 1337;
    o->threads = 0;
    o->eval_every = 250;
    o->eval_iters = 50;
    o->save_every = 500;
    o->log_every = 10;
    o->progress = -1;
}

float lm_lr_at(const lm_train_opts *o, int64_t step) {
    if (step < o->warmup) return o->lr * (float)(step + 1) / (float)o->warmup;
    if (step >= o->steps) return o->min_lr;
    double span = (double)(o->steps - o->warmup);
    double r = span > 0 ? (double)(step - o->warmup) / span : 1.0;
    double c = 0.5 * (1.0 + cos(3.141592653589793 * r));
    return o->min_lr + (float)c * (o->lr - o->min_lr);
}

/* Sizes the model to the corpus where the user left sizes unset: a small model for a small
 * corpus (it would only memorise a bigger one) and a larger one when there is data for it. */
static void size_to_corpus(lm_train_opts *o, unsigned set, int64_t n_train, int ncpu) {
    lm_llama_config *c = &o->model;
    int layers = 4, dim = 128, heads = 4, ctx = 64, batch = 12;
    if (n_train > 20000000) {
        layers = 8, dim = 384, heads = 6, ctx = 256, batch = 8;
    } else if (n_train > 3000000) {
        layers = 6, dim = 256, heads = 8, ctx = 128, batch = 12;
    }
    if (!(set & LM_SET_LAYERS)) c->layers = layers;
    if (!(set & LM_SET_DIM)) c->dim = dim;
    if (!(set & LM_SET_HEADS)) c->heads = heads;
    if (!(set & LM_SET_KV_HEADS)) c->kv_heads = c->heads;
    if (!(set & LM_SET_FFN)) {
        /* SwiGLU at 8/3 of the width keeps the FFN's parameters those of a 4x GELU MLP;
         * rounded to a multiple of 8 for the vector units. */
        int f = (8 * c->dim / 3 + 7) / 8 * 8;
        c->ffn_dim = f;
    }
    if (!(set & LM_SET_CONTEXT)) c->context = ctx;
    if (!(set & LM_SET_BATCH)) o->batch = batch;
    if (!(set & LM_SET_THREADS)) o->threads = ncpu;
    if (!(set & LM_SET_STEPS)) {
        /* about 3 passes over the training data, within [200, 5000] steps */
        int64_t per_step = (int64_t)o->batch * o->grad_accum * c->context;
        int64_t s = 3 * n_train / (per_step ? per_step : 1);
        o->steps = s < 200 ? 200 : s > 5000 ? 5000 : s;
    }
    if (!(set & LM_SET_WARMUP)) o->warmup = o->steps / 20 < 100 ? o->steps / 20 : 100;
    if (!(set & LM_SET_MIN_LR)) o->min_lr = o->lr / 10;
}

/* Fills a (B,T) batch of windows; starts[b] gives each window's first token. */
static void fill_batch(int32_t *x, int32_t *y, const int32_t *tok, const int64_t *starts, int B, int T) {
    for (int b = 0; b < B; b++) {
        memcpy(x + (int64_t)b * T, tok + starts[b], (size_t)T * sizeof(int32_t));
        memcpy(y + (int64_t)b * T, tok + starts[b] + 1, (size_t)T * sizeof(int32_t));
    }
}

/* Validation loss over W windows spread evenly across the held-out tokens. The same windows
 * every time, so that successive estimates are comparable. */
static float eval_loss(lm_llama_graph *lg, const int32_t *tok, int64_t v0, int64_t v1, int windows) {
    int B = lg->B, T = lg->T;
    int64_t span = v1 - v0 - T - 1;
    int64_t max_w = (v1 - v0 - 1) / T;
    if (windows > max_w) windows = (int)max_w;
    if (windows < 1) windows = 1;
    int32_t *x = lm_idata(lg->g, lg->tokens), *y = lm_idata(lg->g, lg->targets);
    int64_t *starts = malloc((size_t)B * sizeof(int64_t));
    double total = 0;
    int64_t counted = 0;
    for (int w0 = 0; w0 < windows; w0 += B) {
        int nb = windows - w0 < B ? windows - w0 : B;
        for (int b = 0; b < B; b++) {
            int w = w0 + (b < nb ? b : 0);
            starts[b] = v0 + (windows > 1 ? span * w / (windows - 1) : 0);
        }
        fill_batch(x, y, tok, starts, B, T);
        /* rows past the last window repeat the first one but are masked out of the mean */
        for (int b = nb; b < B; b++)
            for (int t = 0; t < T; t++) y[(int64_t)b * T + t] = -1;
        lm_graph_forward(lg->g);
        total += (double)lm_value(lg->g, lg->loss) * nb * T;
        counted += (int64_t)nb * T;
    }
    free(starts);
    return (float)(total / (double)counted);
}

/* The files the run folder may hold; a killed save leaves NAME.tmp.PID of one of them. */
static const char *const RUN_FILES[] = {"checkpoint.bin", "model.gguf", "metrics.jsonl", "summary.json",
                                        "loss.png",       "data.json",  "tokenizer.bin"};

static void warn_stderr(void *ud, const char *msg) { fprintf(stderr, "loom: warning: %s\n", msg); }

/* Whether two files hold the same bytes. */
static int same_file_content(const char *a, const char *b) {
    uint8_t *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    int same = lm_read_file(a, 0, &x, &nx, NULL) == LOOM_OK && lm_read_file(b, 0, &y, &ny, NULL) == LOOM_OK &&
               nx == ny && memcmp(x, y, nx) == 0;
    free(x);
    free(y);
    return same;
}

/* The byte tokenizer, or a BPE one: given (--tokenizer-file), or trained on the training part of
 * the corpus, and saved in the run folder as tokenizer.bin. A resumed run must see the same ids,
 * so it uses that copy, and refuses to go on without it (training a new one would silently give
 * the old weights a new vocabulary). */
static loom_status setup_tokenizer(lm_train_opts *o, const lm_corpus *c, lm_tokenizer *tok, lm_error *err) {
    if (o->tokenizer != LM_TRAIN_TOK_BPE) return lm_tokenizer_byte(tok, err);
    loom_status s;
    lm_bpe *b = NULL;
    char *saved = lm_path_join(o->out, "tokenizer.bin");
    if (!saved) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    if (o->resume) {
        if (access(saved, F_OK) != 0) {
            s = lm_fail(err, LOOM_ERR_DATA, "cannot resume: the run's tokenizer '%s' is missing (put it back, or "
                        "start a new run)", saved);
        } else if ((s = lm_bpe_load(saved, &b, err))) {
            s = lm_fail(err, s, "cannot resume: the run's tokenizer is unusable: %s", err->msg);
        } else if (lm_bpe_vocab_size(b) != o->vocab_size) {
            s = lm_fail(err, LOOM_ERR_DATA, "cannot resume: '%s' has %d tokens but the run was trained with %d (put "
                        "back the run's tokenizer.bin)", saved, lm_bpe_vocab_size(b), o->vocab_size);
        } else if (o->tokenizer_file && !same_file_content(o->tokenizer_file, saved)) {
            s = lm_fail(err, LOOM_ERR_ARG, "--tokenizer-file '%s' is not the tokenizer the run was trained with (%s; "
                        "drop the flag to resume)", o->tokenizer_file, saved);
        } else if (!o->quiet) {
            fprintf(stderr, "loom: the run's tokenizer %s (%d tokens)\n", saved, o->vocab_size);
        }
    } else if (o->tokenizer_file) {
        s = lm_bpe_load(o->tokenizer_file, &b, err);
        /* a copy in the run folder is what --resume will reuse */
        if (!s) s = lm_mkdirs(o->out, err);
        if (!s) s = lm_bpe_save(b, saved, err);
        if (!s) o->vocab_size = lm_bpe_vocab_size(b);
        if (!s && !o->quiet) fprintf(stderr, "loom: tokenizer %s (%d tokens)\n", o->tokenizer_file, o->vocab_size);
    } else {
        static const char *const specials[] = {"<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>"};
        lm_bpe_train_opts bo = {.vocab_size = o->vocab_size,
                                .pattern = o->bpe_gpt2_pattern ? LM_BPE_PATTERN_GPT2 : LM_BPE_PATTERN_GPT4,
                                .n_special = 4, .special = specials,
                                .threads = o->threads > 0 ? o->threads : lm_get_threads(),
                                .verbose = !o->quiet};
        /* learn from the training part only: the held-out text stays unseen */
        size_t n = (size_t)((double)c->n_bytes * (1.0 - o->val_frac));
        double t0 = lm_now();
        if (!o->quiet) fprintf(stderr, "loom: training a %d-token BPE tokenizer on %zu bytes\n", o->vocab_size, n);
        s = lm_bpe_train(&b, c->text, n, &bo, err);
        if (!s) s = lm_mkdirs(o->out, err);
        if (!s) s = lm_bpe_save(b, saved, err);
        /* training may stop short of the size asked for (no pair left to merge): record the
         * real size, which is what a resumed run will look for */
        if (!s) o->vocab_size = lm_bpe_vocab_size(b);
        if (!s && !o->quiet) fprintf(stderr, "loom: tokenizer trained in %.1fs, saved as %s\n", lm_now() - t0, saved);
    }
    free(saved);
    if (s) {
        if (b) lm_bpe_free(b);
        return s;
    }
    return lm_tokenizer_from_bpe(tok, b, err);
}

static loom_status save_all(const char *dir, const lm_train_opts *o, const lm_llama *m, const lm_adamw *opt,
                            const lm_ckpt_state *st, const lm_tokenizer *tok, lm_error *err) {
    char *ck = lm_path_join(dir, "checkpoint.bin"), *mg = lm_path_join(dir, "model.gguf");
    loom_status s = (!ck || !mg) ? lm_fail(err, LOOM_ERR_NOMEM, "out of memory") : LOOM_OK;
    if (!s) s = lm_ckpt_save(ck, o, m, opt->m, opt->v, st, err);
    if (!s) s = lm_llama_save_gguf(mg, m, tok, "loom", err);
    free(ck);
    free(mg);
    return s;
}

/* The checkpoint holds no data settings: every run records them in DIR/data.json, so that --resume
 * reads the same documents and rearranges them the same way (the FIM draws depend only on the seed,
 * which the checkpoint holds), together with the corpus's size and CRC-32, so that a resume on
 * other data is refused instead of silently continuing on it. */
typedef struct data_print {
    int64_t bytes;  /* -1: not recorded (a run from before the record) */
    uint32_t crc;
    int vocab_asked; /* --vocab-size as given (BPE training may stop short of it); 0: not recorded */
} data_print;

static data_print corpus_print(const lm_corpus *c) {
    uLong crc = crc32(0L, Z_NULL, 0);
    for (int64_t off = 0; off < c->n_bytes;) { /* zlib takes 32-bit lengths */
        uInt n = (uInt)(c->n_bytes - off < (1 << 30) ? c->n_bytes - off : (1 << 30));
        crc = crc32(crc, c->text + off, n);
        off += n;
    }
    return (data_print){c->n_bytes, (uint32_t)crc, 0};
}

static loom_status save_data_settings(const lm_train_opts *o, data_print dp, lm_error *err) {
    char *p = lm_path_join(o->out, "data.json");
    if (!p) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    json_object *j = json_object_new_object();
    json_object_object_add(j, "code", json_object_new_boolean(o->code));
    json_object_object_add(j, "extensions", o->extensions ? json_object_new_string(o->extensions) : NULL);
    json_object_object_add(j, "max_file_kb", json_object_new_int(o->max_file_kb));
    json_object_object_add(j, "fim_rate", lm_json_double(o->fim_rate));
    json_object_object_add(j, "fim_spm_rate", lm_json_double(o->fim_spm_rate));
    json_object_object_add(j, "fim_piece_bytes", json_object_new_int(o->fim_piece));
    json_object_object_add(j, "data_bytes", json_object_new_int64(dp.bytes));
    json_object_object_add(j, "data_crc32", json_object_new_int64(dp.crc));
    if (o->tokenizer == LM_TRAIN_TOK_BPE) json_object_object_add(j, "vocab_size_asked", json_object_new_int(dp.vocab_asked));
    const char *txt = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY);
    loom_status s = lm_write_file_atomic(p, txt, strlen(txt), err);
    json_object_put(j);
    free(p);
    return s;
}

/* On resume: the recorded data settings win (none recorded: a plain run); a flag given again
 * with another value is an error, as for the model's sizes. *ext_owned keeps the extensions;
 * *dp receives the recorded corpus print. */
static loom_status resume_data_settings(lm_train_opts *o, const lm_train_opts *given, unsigned set, char **ext_owned,
                                        data_print *dp, lm_error *err) {
    char *p = lm_path_join(o->out, "data.json");
    if (!p) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    o->code = 0;
    o->extensions = NULL;
    o->max_file_kb = 1024;
    o->fim_rate = 0;
    o->fim_spm_rate = 0.5f;
    o->fim_piece = 0; /* a run recorded before pieces existed rearranged whole documents */
    dp->bytes = -1;
    dp->vocab_asked = 0;
    uint8_t *buf = NULL;
    size_t len = 0;
    loom_status s = LOOM_OK;
    if (access(p, F_OK) == 0 && !(s = lm_read_file(p, 1 << 20, &buf, &len, err))) {
        json_object *j = json_tokener_parse((const char *)buf), *v;
        if (!j || !json_object_is_type(j, json_type_object)) {
            s = lm_fail(err, LOOM_ERR_DATA, "'%s' is not the JSON object loom wrote (remove it only if the run used "
                        "neither --code nor --fim-rate)", p);
        } else {
            if (json_object_object_get_ex(j, "code", &v)) o->code = json_object_get_boolean(v);
            if (json_object_object_get_ex(j, "extensions", &v) && json_object_is_type(v, json_type_string)) {
                *ext_owned = strdup(json_object_get_string(v));
                if (!*ext_owned) s = lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
                o->extensions = *ext_owned;
            }
            if (json_object_object_get_ex(j, "max_file_kb", &v)) o->max_file_kb = json_object_get_int(v);
            if (json_object_object_get_ex(j, "fim_rate", &v)) o->fim_rate = (float)json_object_get_double(v);
            if (json_object_object_get_ex(j, "fim_spm_rate", &v)) o->fim_spm_rate = (float)json_object_get_double(v);
            if (json_object_object_get_ex(j, "fim_piece_bytes", &v)) o->fim_piece = json_object_get_int(v);
            if (json_object_object_get_ex(j, "data_bytes", &v)) dp->bytes = json_object_get_int64(v);
            if (json_object_object_get_ex(j, "data_crc32", &v)) dp->crc = (uint32_t)json_object_get_int64(v);
            if (json_object_object_get_ex(j, "vocab_size_asked", &v)) dp->vocab_asked = json_object_get_int(v);
        }
        if (j) json_object_put(j);
    }
    free(buf);
    free(p);
    if (s) return s;
    char msg[200] = "";
    if ((set & LM_SET_CODE) && given->code != o->code)
        snprintf(msg, sizeof msg, "the run was trained %s --code", o->code ? "with" : "without");
    else if ((set & LM_SET_EXTENSIONS) &&
             strcmp(given->extensions ? given->extensions : "", o->extensions ? o->extensions : "") != 0)
        snprintf(msg, sizeof msg, "--extensions differs from the run's (%.100s)",
                 o->extensions ? o->extensions : "default");
    else if ((set & LM_SET_MAX_FILE) && given->max_file_kb != o->max_file_kb)
        snprintf(msg, sizeof msg, "--max-file-kb differs from the run's %d", o->max_file_kb);
    else if ((set & LM_SET_FIM_RATE) && given->fim_rate != o->fim_rate)
        snprintf(msg, sizeof msg, "--fim-rate differs from the run's %g", o->fim_rate);
    else if ((set & LM_SET_FIM_SPM) && given->fim_spm_rate != o->fim_spm_rate)
        snprintf(msg, sizeof msg, "--fim-spm-rate differs from the run's %g", o->fim_spm_rate);
    else if ((set & LM_SET_VOCAB) && given->vocab_size != o->vocab_size && given->vocab_size != dp->vocab_asked)
        snprintf(msg, sizeof msg, "--vocab-size %d differs from the run's %d", given->vocab_size, o->vocab_size);
    if (*msg) return lm_fail(err, LOOM_ERR_ARG, "%s (drop the flag to resume)", msg);
    return LOOM_OK;
}

/* On resume the checkpoint's settings win. A flag that changes the results may be given again
 * only with the checkpoint's value: anything else would be ignored, which is worse than an error.
 * What may change: --steps (to continue further), the schedule of logs, evaluations and saves,
 * --threads, --time-limit and the display. */
static loom_status apply_resume(lm_train_opts *o, unsigned set, const char *ckpt_path, lm_error *err) {
    if (access(ckpt_path, F_OK) != 0)
        return lm_fail(err, LOOM_ERR_ARG, "nothing to resume: '%s' does not exist (run without --resume first)",
                       ckpt_path);
    lm_train_opts saved;
    lm_train_defaults(&saved); /* fields the checkpoint does not hold (paths) start clean */
    lm_llama_config cfg;
    lm_ckpt_state st;
    loom_status s = lm_ckpt_peek(ckpt_path, &saved, &cfg, &st, err);
    if (s) return s;
    const struct { unsigned bit; double given, saved; const char *flag; } chk[] = {
        {LM_SET_LAYERS, o->model.layers, cfg.layers, "--layers"},
        {LM_SET_DIM, o->model.dim, cfg.dim, "--dim"},
        {LM_SET_HEADS, o->model.heads, cfg.heads, "--heads"},
        {LM_SET_KV_HEADS, o->model.kv_heads, cfg.kv_heads, "--kv-heads"},
        {LM_SET_FFN, o->model.ffn_dim, cfg.ffn_dim, "--ffn-dim"},
        {LM_SET_CONTEXT, o->model.context, cfg.context, "--context"},
        {LM_SET_TIED, o->model.tied, cfg.tied, o->model.tied ? "--tied" : "--untied"},
        {LM_SET_BATCH, o->batch, saved.batch, "--batch"},
        {LM_SET_GRAD_ACCUM, o->grad_accum, saved.grad_accum, "--grad-accum"},
        {LM_SET_LR, o->lr, saved.lr, "--lr"},
        {LM_SET_MIN_LR, o->min_lr, saved.min_lr, "--min-lr"},
        {LM_SET_WARMUP, (double)o->warmup, (double)saved.warmup, "--warmup"},
        {LM_SET_WD, o->weight_decay, saved.weight_decay, "--weight-decay"},
        {LM_SET_BETA1, o->beta1, saved.beta1, "--beta1"},
        {LM_SET_BETA2, o->beta2, saved.beta2, "--beta2"},
        {LM_SET_CLIP, o->clip, saved.clip, "--clip"},
        {LM_SET_SEED, (double)o->seed, (double)saved.seed, "--seed"},
        {LM_SET_VAL_SPLIT, o->val_frac, saved.val_frac, "--val-split"},
        {LM_SET_EVAL_ITERS, o->eval_iters, saved.eval_iters, "--eval-iters"},
        {LM_SET_TOKENIZER, o->tokenizer, saved.tokenizer, o->tokenizer ? "--tokenizer bpe" : "--tokenizer byte"},
        {LM_SET_BPE_PATTERN, o->bpe_gpt2_pattern, saved.bpe_gpt2_pattern, "--bpe-pattern"},
    };
    for (size_t i = 0; i < sizeof chk / sizeof *chk; i++)
        if ((set & chk[i].bit) && chk[i].given != chk[i].saved)
            return lm_fail(err, LOOM_ERR_ARG, "%s %g differs from the checkpoint's %g (drop the flag to resume)",
                           chk[i].flag, chk[i].given, chk[i].saved);
    int64_t target = (set & LM_SET_STEPS) ? o->steps : saved.steps;
    if (target < st.step || (target == st.step && lm_runlog_finished(o->out, st.step)))
        return lm_fail(err, LOOM_ERR_ARG, "the run has done %lld steps already: give a larger --steps to continue it",
                       (long long)st.step);
    /* target == step without a summary: killed in its final writes; going on writes them */
    lm_train_opts given = *o;
    *o = saved;
    o->model = cfg;
    o->data = given.data;
    o->out = given.out;
    o->tokenizer_file = given.tokenizer_file; /* checked against the run's own tokenizer */
    o->resume = 1;
    o->progress = given.progress;
    o->quiet = given.quiet;
    o->time_limit_s = given.time_limit_s;
    if (set & LM_SET_STEPS) o->steps = given.steps;
    o->eval_every = given.eval_every;
    o->save_every = given.save_every;
    o->log_every = given.log_every;
    if (set & LM_SET_THREADS) o->threads = given.threads;
    return LOOM_OK;
}

loom_status lm_train(const lm_train_opts *opts_in, unsigned set, lm_train_result *res, lm_error *err) {
    lm_train_opts o = *opts_in;
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
    lm_tokenizer tok = {0};
    lm_corpus corpus = {0};
    lm_llama model = {0};
    lm_adamw opt = {0};
    lm_llama_graph lg = {0};
    lm_curve tr = {0}, va = {0};
    FILE *metrics = NULL;
    int64_t *starts = NULL;
    lm_ckpt_state st = {0};
    char *ext_owned = NULL; /* a resumed run's recorded --extensions */
    data_print recorded = {-1, 0, 0};
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
    if (o.resume && (s = apply_resume(&o, set, ckpt_path, err))) goto done;
    if (o.resume) {
        if ((s = resume_data_settings(&o, opts_in, set, &ext_owned, &recorded, err))) goto done;
    } else {
        /* the BPE settings imply a BPE tokenizer; with --tokenizer byte they would be ignored */
        unsigned bpe_flags = set & (LM_SET_TOKFILE | LM_SET_VOCAB | LM_SET_BPE_PATTERN);
        if (bpe_flags && (set & LM_SET_TOKENIZER) && o.tokenizer != LM_TRAIN_TOK_BPE) {
            s = lm_fail(err, LOOM_ERR_ARG, "--%s applies to BPE tokenizers only (drop it, or use --tokenizer bpe)",
                        (bpe_flags & LM_SET_TOKFILE) ? "tokenizer-file"
                        : (bpe_flags & LM_SET_VOCAB) ? "vocab-size" : "bpe-pattern");
            goto done;
        }
        if (bpe_flags) o.tokenizer = LM_TRAIN_TOK_BPE;
        if (bpe_flags && (set & LM_SET_TOKFILE) && (set & (LM_SET_VOCAB | LM_SET_BPE_PATTERN))) {
            s = lm_fail(err, LOOM_ERR_ARG, "--%s would be ignored: --tokenizer-file gives the tokenizer (drop one)",
                        (set & LM_SET_VOCAB) ? "vocab-size" : "bpe-pattern");
            goto done;
        }
        /* source code: BPE keeps whitespace runs as tokens, and trains the FIM tokens */
        if (o.code && !(set & LM_SET_TOKENIZER)) o.tokenizer = LM_TRAIN_TOK_BPE;
        if (!(set & LM_SET_FIM_RATE)) o.fim_rate = o.code ? 0.5f : 0.0f;
        if (o.fim_rate > 0 && o.tokenizer != LM_TRAIN_TOK_BPE) {
            if (set & LM_SET_FIM_RATE) {
                s = lm_fail(err, LOOM_ERR_ARG,
                            "--fim-rate needs the tokens %s, %s and %s, which the byte tokenizer has not got "
                            "(add --tokenizer bpe, or use --fim-rate 0)", LM_FIM_PREFIX, LM_FIM_SUFFIX, LM_FIM_MIDDLE);
                goto done;
            }
            if (!o.quiet)
                fprintf(stderr,
                        "loom: no fill-in-the-middle: the byte tokenizer has no FIM tokens (use --tokenizer bpe)\n");
            o.fim_rate = 0;
        }
    }
    if (!o.code && (set & (LM_SET_EXTENSIONS | LM_SET_MAX_FILE))) {
        s = lm_fail(err, LOOM_ERR_ARG, "--%s only applies to source trees: add --code",
                    (set & LM_SET_EXTENSIONS) ? "extensions" : "max-file-kb");
        goto done;
    }
    if (!(o.fim_rate >= 0 && o.fim_rate <= 1) || !(o.fim_spm_rate >= 0 && o.fim_spm_rate <= 1) || o.max_file_kb < 1) {
        s = lm_fail(err, LOOM_ERR_ARG, "--fim-rate and --fim-spm-rate must be in [0, 1], --max-file-kb at least 1");
        goto done;
    }

    if (!(o.val_frac >= 0.0f && o.val_frac < 0.9f)) {
        s = lm_fail(err, LOOM_ERR_ARG, "--val-split %g must be in [0, 0.9)", o.val_frac);
        goto done;
    }
    if (o.code) {
        lm_code_opts co = {.extensions = o.extensions, .max_file_bytes = (int64_t)o.max_file_kb * 1024};
        lm_code_stats cst;
        if ((s = lm_code_corpus_read(&corpus, o.data, &co, &cst, err))) goto done;
        if (!o.quiet) {
            char line[400];
            lm_code_stats_format(&cst, line, sizeof line);
            fprintf(stderr, "loom: source tree %s: %s\n", o.data, line);
        }
    } else if ((s = lm_corpus_read(&corpus, o.data, warn_stderr, NULL, err))) {
        goto done;
    }
    data_print now_print = corpus_print(&corpus);
    if (o.resume && recorded.bytes >= 0 && (recorded.bytes != now_print.bytes || recorded.crc != now_print.crc)) {
        s = lm_fail(err, LOOM_ERR_DATA,
                    "--data '%s' is not the data the run was trained on (%lld bytes, CRC-32 %08x; now %lld bytes, "
                    "%08x): give the run's data to resume, or start a new run", o.data, (long long)recorded.bytes,
                    (unsigned)recorded.crc, (long long)now_print.bytes, (unsigned)now_print.crc);
        goto done;
    }
    if (o.tokenizer == LM_TRAIN_TOK_BPE && (o.vocab_size < 260 || o.vocab_size > (1 << 20))) {
        s = lm_fail(err, LOOM_ERR_ARG, "--vocab-size %d is out of range (260..1048576: 256 bytes, 4 special tokens, merges)",
                    o.vocab_size);
        goto done;
    }
    now_print.vocab_asked = o.vocab_size;
    if ((s = setup_tokenizer(&o, &corpus, &tok, err))) goto done;
    if (o.fim_rate > 0 && !o.resume && !(set & LM_SET_FIM_RATE)) {
        /* a --tokenizer-file without the FIM tokens: FIM was only the default, so go without */
        lm_fim_ids ids;
        if (lm_fim_find_ids(&tok, &ids, NULL) != LOOM_OK) {
            if (!o.quiet) fprintf(stderr, "loom: no fill-in-the-middle: the tokenizer has no FIM tokens\n");
            o.fim_rate = 0;
        }
    }
    int64_t n_val, n_train;
    if (o.fim_rate > 0) {
        /* held out by bytes, as the tokenizer was trained: the documents before the boundary may
         * be rearranged, the held-out text stays left to right so that its loss means the same */
        /* pieces of about 3.5 bytes per token of the window: a whole FIM example then fits in a
         * window, which teaches infilling far better than splitting documents of thousands of
         * tokens that windows only ever see a part of (the paper's context-level FIM) */
        if (!o.resume) o.fim_piece = ((set & LM_SET_CONTEXT) ? o.model.context : 128) * 7 / 2; /* recorded */
        lm_corpus_fim f = {.rate = o.fim_rate, .spm_rate = o.fim_spm_rate, .seed = o.seed,
                           .train_bytes = (int64_t)((double)corpus.n_bytes * (1.0 - o.val_frac)),
                           .piece_bytes = (size_t)o.fim_piece};
        int n_fim = 0;
        if ((s = lm_corpus_tokenize_fim(&corpus, &tok, &f, &n_train, &n_fim, err))) goto done;
        n_val = corpus.n_tokens - n_train;
        int n_docs_train = 0;
        while (n_docs_train < corpus.n_docs && corpus.doc_start[n_docs_train + 1] <= f.train_bytes) n_docs_train++;
        if (!o.quiet)
            fprintf(stderr,
                    "loom: fill-in-the-middle: %d training documents cut into pieces of up to %d bytes, %d pieces "
                    "rearranged (--fim-rate %g, %g of them SPM)\n",
                    n_docs_train, o.fim_piece, n_fim, o.fim_rate, o.fim_spm_rate);
    } else {
        if ((s = lm_corpus_tokenize(&corpus, &tok, err))) goto done;
        n_val = (int64_t)((double)corpus.n_tokens * o.val_frac);
        n_train = corpus.n_tokens - n_val;
    }
    if (!o.resume) size_to_corpus(&o, set, n_train, ncpu);
    o.model.vocab = tok.n_vocab;
    int T = o.model.context, B = o.batch;
    if (n_train < (int64_t)T + 2) {
        s = lm_fail(err, LOOM_ERR_DATA,
                    "--context %d is longer than the training text (%lld tokens); use a smaller --context or more data",
                    T, (long long)n_train);
        goto done;
    }
    int have_val = n_val >= (int64_t)T + 2;
    /* bits per byte make tokenizers comparable: nats/token * tokens/byte / ln 2 */
    double val_bytes = 0;
    for (int64_t i = n_train; i < corpus.n_tokens; i++) val_bytes += tok.piece_len[corpus.tokens[i]];
    double bpb_factor = val_bytes > 0 ? (double)n_val / val_bytes / 0.6931471805599453 : 0;
    if (o.val_frac > 0 && !have_val)
        warn_stderr(NULL, "the held-out part is shorter than one --context window: no validation loss");
    if (B < 1 || B > 65536 || o.grad_accum < 1 || o.grad_accum > 65536) {
        s = lm_fail(err, LOOM_ERR_ARG, "--batch and --grad-accum must be in 1..65536");
        goto done;
    }
    if (o.steps < 1 || !(o.lr > 0) || !(o.lr < 10) || o.min_lr < 0 || o.warmup < 0 || o.clip < 0 ||
        !(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1) || !(o.weight_decay >= 0)) {
        s = lm_fail(err, LOOM_ERR_ARG, "invalid optimizer settings (need steps >= 1, 0 < lr < 10, betas in [0,1))");
        goto done;
    }
    if (o.threads < 1) o.threads = ncpu;
    lm_set_threads(o.threads);

    if ((s = lm_llama_check_config(&o.model, err))) goto done; /* before anything is written */
    if ((s = lm_mkdirs(o.out, err))) goto done;
    lm_runlog_remove_stale(o.out, RUN_FILES, sizeof RUN_FILES / sizeof *RUN_FILES);
    if (!o.resume && (s = save_data_settings(&o, now_print, err))) goto done;
    if ((s = lm_llama_create(&model, &o.model, 1, err))) goto done;
    if ((s = lm_adamw_create(&opt, model.n_params, err))) goto done;
    if (o.resume) {
        if ((s = lm_ckpt_load(ckpt_path, &model, opt.m, opt.v, &st, err))) goto done;
        opt.t = st.step;
        if ((s = lm_runlog_reload(metrics_path, st.step, &tr, &va, err))) goto done;
    } else {
        lm_llama_init(&model, o.seed);
        lm_rng_seed(&st.data_rng, o.seed ^ 0x5eed5eedULL);
    }
    if ((s = lm_llama_build(&lg, &model, B, T, 1, err))) goto done;
    int profile = lm_runlog_profile(lg.g);
    if ((s = lm_runlog_open(&metrics, metrics_path, o.resume, err))) goto done;
    starts = malloc((size_t)B * sizeof(int64_t));
    if (!starts) {
        s = lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
        goto done;
    }

    if (!o.quiet) {
        const lm_llama_config *c = &o.model;
        fprintf(log, "loom: %s %s: %lld tokens (%d document%s), %lld train / %lld validation\n",
                o.resume ? "resuming training on" : "training on", o.data, (long long)corpus.n_tokens, corpus.n_docs,
                corpus.n_docs == 1 ? "" : "s", (long long)n_train, (long long)n_val);
        if (o.resume) fprintf(log, "loom: resuming from step %lld of %lld\n", (long long)st.step, (long long)o.steps);
        fprintf(log,
                "loom: model  --layers %d --heads %d --kv-heads %d --dim %d --ffn-dim %d --context %d (vocab %d, %s "
                "embeddings): %.2fM parameters\n",
                c->layers, c->heads, c->kv_heads, c->dim, c->ffn_dim, c->context, c->vocab, c->tied ? "tied" : "untied",
                (double)model.n_params / 1e6);
        fprintf(log,
                "loom: train  --steps %lld --batch %d --grad-accum %d --lr %g --min-lr %g --warmup %lld --weight-decay "
                "%g --clip %g --seed %llu --threads %d\n",
                (long long)o.steps, B, o.grad_accum, o.lr, o.min_lr, (long long)o.warmup, o.weight_decay, o.clip,
                (unsigned long long)o.seed, o.threads);
        fprintf(log, "loom: activations %.1f MiB (planned; %.1f MiB without buffer reuse), writing to %s/\n",
                (double)lm_graph_arena_bytes(lg.g) / 1048576.0, (double)lm_graph_unplanned_bytes(lg.g) / 1048576.0,
                o.out);
    }

    lm_progress pr;
    lm_progress_init(&pr, log, o.quiet ? 0 : o.progress, st.step, o.steps);
    double t_run = lm_now();
    int64_t step0 = st.step;
    int64_t tok_per_step = (int64_t)B * T * o.grad_accum;
    int64_t n_windows = n_train - T - 1; /* window starts in [0, n_windows] */
    float loss = NAN, val = NAN;
    double tps = 0;
    int stopped_early = 0;
    while (st.step < o.steps) {
        float lr = lm_lr_at(&o, st.step);
        memset(model.grads, 0, model.n_params * sizeof(float));
        double lsum = 0;
        for (int a = 0; a < o.grad_accum; a++) {
            for (int b = 0; b < B; b++) starts[b] = (int64_t)lm_rng_below(&st.data_rng, (uint64_t)n_windows + 1);
            fill_batch(lm_idata(lg.g, lg.tokens), lm_idata(lg.g, lg.targets), corpus.tokens, starts, B, T);
            lm_graph_forward(lg.g);
            lsum += lm_value(lg.g, lg.loss);
            lm_graph_backward(lg.g);
        }
        if (o.grad_accum > 1) lm_scale(model.grads, (int64_t)model.n_params, 1.0f / (float)o.grad_accum);
        loss = (float)(lsum / o.grad_accum);
        float gnorm = lm_adamw_step(&opt, &model, lr, o.beta1, o.beta2, o.eps, o.weight_decay, o.clip);
        st.step++;
        st.tokens_seen += tok_per_step;
        if ((s = lm_runlog_check_loss(loss, st.step, &pr, err))) goto done;
        double now = lm_now();
        lm_run_step rs = lm_runlog_step(st.step, o.steps, now - t_run, o.time_limit_s, have_val, o.eval_every,
                                        o.log_every);
        int last = rs.last, do_eval = rs.eval, do_log = rs.log;
        if (do_eval) {
            double te = lm_now();
            val = eval_loss(&lg, corpus.tokens, n_train, corpus.n_tokens, o.eval_iters * B);
            t_run += lm_now() - te; /* evaluation time is not training time */
            now = lm_now();
            lm_curve_push(&va, (double)st.step, val);
        }
        if (do_log) {
            /* rate over this run so far, evaluation excluded */
            tps = now > t_run ? (double)((st.step - step0) * tok_per_step) / (now - t_run) : 0;
            lm_curve_push(&tr, (double)st.step, loss);
            json_object *j = json_object_new_object();
            json_object_object_add(j, "step", json_object_new_int64(st.step));
            json_object_object_add(j, "loss", lm_json_double(loss));
            if (do_eval) {
                json_object_object_add(j, "val_loss", lm_json_double(val));
                json_object_object_add(j, "val_bpb", lm_json_double(val * bpb_factor));
            }
            json_object_object_add(j, "lr", lm_json_double(lr));
            json_object_object_add(j, "grad_norm", lm_json_double(gnorm));
            json_object_object_add(j, "tokens_per_s", lm_json_double(round(tps)));
            json_object_object_add(j, "elapsed_s", lm_json_double(st.elapsed_s + (now - t_run)));
            lm_runlog_append(metrics, j);
            char status[160];
            lm_runlog_status(status, sizeof status, loss, val, tps, 0, "tok/s");
            if (!o.quiet) lm_progress_update(&pr, st.step, status, do_eval || last); /* --quiet: errors only */
        }
        int do_save = last || (o.save_every > 0 && st.step % o.save_every == 0);
        if (do_save) {
            lm_ckpt_state cur = st;
            cur.elapsed_s = st.elapsed_s + (lm_now() - t_run);
            if ((s = save_all(o.out, &o, &model, &opt, &cur, &tok, err))) goto done;
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
        if ((s = save_all(o.out, &o, &model, &opt, &st, &tok, err))) goto done;
    }
    if (profile) lm_graph_profile_print(lg.g, log);
    double secs = lm_now() - t_run;
    res->steps_done = st.step;
    res->final_loss = loss;
    res->final_val_loss = val;
    res->seconds = secs;
    res->tokens_per_s = secs > 0 ? (double)((st.step - step0) * tok_per_step) / secs : 0;
    res->n_params = (int64_t)model.n_params;
    if ((s = lm_runlog_plot(o.out, "loom training", "loss (nats/token)", &tr, &va, err))) goto done;
    {
        /* summary.json: the run's figures for scripts (make bench reads it) */
        json_object *j = json_object_new_object();
        json_object_object_add(j, "steps", json_object_new_int64(res->steps_done));
        json_object_object_add(j, "loss", lm_json_double(loss));
        if (!isnan(val)) {
            json_object_object_add(j, "val_loss", lm_json_double(val));
            json_object_object_add(j, "val_bpb", lm_json_double(val * bpb_factor));
        }
        json_object_object_add(j, "vocab", json_object_new_int(tok.n_vocab));
        json_object_object_add(j, "seconds", lm_json_double(secs));
        json_object_object_add(j, "tokens_per_s", lm_json_double(res->tokens_per_s));
        json_object_object_add(j, "params", json_object_new_int64(res->n_params));
        json_object_object_add(j, "threads", json_object_new_int(o.threads));
        if ((s = lm_runlog_summary(o.out, j, err))) goto done;
    }
    if (!o.quiet) {
        lm_runlog_print_done(log, stopped_early, st.step, secs, loss);
        if (!isnan(val)) fprintf(log, ", validation loss %.4f (%.4f bits per byte)", val, val * bpb_factor);
        fprintf(log, ", %.0f tokens/s\nloom: wrote %s/model.gguf, checkpoint.bin, metrics.jsonl, loss.png\n",
                res->tokens_per_s, o.out);
    }

done:
    lm_set_threads(threads_before);
    if (metrics) fclose(metrics);
    free(starts);
    lm_curve_free(&tr);
    lm_curve_free(&va);
    lm_llama_graph_free(&lg);
    lm_adamw_free(&opt);
    lm_llama_free(&model);
    lm_corpus_free(&corpus);
    lm_tokenizer_free(&tok);
    free(ckpt_path);
    free(metrics_path);
    free(ext_owned);
    return s;
}
