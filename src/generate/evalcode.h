/* Evaluating a code model on held-out source files (`loom eval-code`): four figures, each
 * computed the same way for any model, so that a trained model can be shown next to an
 * untrained one of the same shape and tokenizer.
 *
 *   (a) function bodies: for Python functions (a `def` at any level), the file's text up to the
 *       end of the signature (or of the docstring, when there is one) is the prompt; a body is
 *       completed left to right, greedily with a repetition penalty (1.15 by default: small models
 *       loop without one), to the end of the block (src/generate/complete.h) or whole statements,
 *       and put in place of the real body; the figure is the share of files that then parse (an
 *       empty body, which a docstring alone would make parse, counts as a failure);
 *   (b) single-line fill in the middle: random non-blank lines are masked and filled in with the
 *       rest of the file as prefix and suffix (greedy); the figure is the share of exact matches
 *       (trailing whitespace ignored);
 *   (c) bits per byte over the files (windows of the context, as `loom score` counts them);
 *   (d) repairs: files that parse get one random line deleted or damaged (drawn again until the
 *       file no longer parses), `fix`'s logic (src/generate/repair.h) runs, and the figure is the
 *       share that parse again.
 * Every choice is drawn from the seed, so two models see the same functions, lines and damage. */
#ifndef LM_EVALCODE_H
#define LM_EVALCODE_H

#include <stddef.h>
#include <stdint.h>

#include "data/tokenizer.h"
#include "generate/complete.h"
#include "model/llama.h"
#include "util/error.h"

typedef struct lm_evalcode_file {
    char *path;    /* as found on disk (for "quoted" C includes) */
    char *header;  /* the code corpus's path line, "# path: REL\n" */
    char *text;    /* the file's bytes, NUL-terminated */
    size_t len;
    lm_lang lang;  /* LM_LANG_PYTHON or LM_LANG_C */
} lm_evalcode_file;

typedef struct lm_evalcode_set {
    lm_evalcode_file *f;
    int n;
    int n_python, n_c;
} lm_evalcode_set;

/* Reads the Python and C files (.py, .c, .h) under dir, as `loom train --code` walks a tree
 * (.gitignore, binary, generated and huge files skipped); at most max_files (<= 0: all), in
 * the walk's order. Fails with one line when none is found. */
loom_status lm_evalcode_load(const char *dir, int max_files, lm_evalcode_set *s, lm_error *err);
void lm_evalcode_set_free(lm_evalcode_set *s);

typedef struct lm_evalcode_opts {
    int max_functions;    /* (a) */
    int max_lines;        /* (b) */
    int max_fix;          /* (d) */
    int body_tokens;      /* tokens per generated body at most */
    int body_candidates;  /* bodies sampled per function (the first greedy), the likeliest kept */
    float temperature;    /* for the sampled ones */
    float repeat_penalty; /* for bodies (1: off), over the last 64 tokens */
    int line_tokens;      /* tokens per filled-in line at most */
    int fix_samples;      /* infills per region for the repairs */
    int fix_tokens;       /* tokens per repair infill */
    uint64_t seed;
    int ctx_size;         /* <= 0: the model's context */
    /* called for each case when set: kind "body", "line" or "repair", the file, what was
     * generated, what the file had there (NULL for repairs), and whether the case counts */
    void (*on_case)(void *ud, const char *kind, const char *path, const char *generated, size_t n_generated,
                    const char *original, size_t n_original, int ok);
    void *ud;
} lm_evalcode_opts;

void lm_evalcode_defaults(lm_evalcode_opts *o);

typedef struct lm_evalcode_result {
    int fn_total, fn_parse;     /* (a) */
    int line_total, line_exact; /* (b) */
    double nats;                /* (c): summed over every predicted token */
    int64_t bytes, tokens;
    int fix_total, fix_ok;      /* (d) */
    int fim_missing;            /* the vocabulary lacks the FIM tokens: (b) and (d) saw only prefixes */
    double seconds;
} lm_evalcode_result;

/* Checks that the parsers the set needs can be run (python3 for Python, gcc for C), so that a
 * missing one is reported before any model runs. */
loom_status lm_evalcode_check_parsers(const lm_evalcode_set *s, lm_error *err);

/* Runs the four evaluations with model m and tokenizer tok. progress (may be NULL) receives a
 * short line now and then. */
loom_status lm_evalcode_run(lm_llama *m, const lm_tokenizer *tok, const lm_evalcode_set *s,
                            const lm_evalcode_opts *o, lm_evalcode_result *r, void (*progress)(const char *msg),
                            lm_error *err);

#endif
