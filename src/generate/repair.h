/* Repairing code that does not parse (`loom fix`): the language's own parser finds the first
 * syntax error, the model fills in the lines around it (fill in the middle: the text before
 * them is the prefix, the text after them the suffix), and only infills with which the whole
 * file parses are kept. Generated code is parsed, never run: Python goes through python3's
 * ast.parse (isolated mode: no site packages, no current folder on the import path), C through
 * gcc -fsyntax-only. Both are looked up on PATH.
 *
 * The regions tried around the error line L (1-based), each with K infills (the first
 * greedy, the others sampled):
 *   - line L replaced;
 *   - lines inserted before line L (a deleted line often shows up as an error on the next);
 *   - lines L-1 and L replaced (a missing ':', ')' or ';' is often reported a line late);
 *   - lines L and L+1 replaced;
 *   - when L is the last line: lines added at the end (a missing closing brace);
 *   - Python's "'(' was never closed", reported where the bracket opens: lines inserted before
 *     the next line that starts at or below line L's indentation.
 * An infill may have at most two lines more than its region. An infill that only deletes
 * (empty, or blank lines in place of more than one line) is not a repair and is dropped.
 * Every distinct repaired file is parsed; the best is the parsing one whose infill has the
 * highest mean log-probability. */
#ifndef LM_REPAIR_H
#define LM_REPAIR_H

#include <stddef.h>

#include "generate/complete.h"

typedef struct lm_parse_result {
    int ok;        /* the file parses */
    int line;      /* the first error's line (1-based), 0 if the parser did not say */
    int fatal;     /* gcc stopped before parsing (a missing #include): not a syntax error */
    char msg[240]; /* the parser's message for it */
} lm_parse_result;

/* 1 for the languages fix can check: Python and C. */
int lm_repair_supported(lm_lang lang);
/* The parser, in words, for messages. */
const char *lm_parser_name(lm_lang lang);

/* Parses text with the language's parser (through a temporary file). include_dir (C; may be
 * NULL): where "quoted" #includes are looked up, normally the source file's folder. Fails
 * with LOOM_ERR_IO and a message saying what to install when the parser cannot be run. */
loom_status lm_parse_text(lm_lang lang, const char *text, size_t n, const char *include_dir, lm_parse_result *res,
                          lm_error *err);

typedef struct lm_repair_opts {
    lm_lang lang;
    int n_samples;              /* infills per region */
    int max_tokens;             /* per infill */
    lm_sampler_params sampling; /* for all but each region's first (greedy) infill */
    const char *include_dir;    /* as for lm_parse_text */
    const char *header;         /* the file's path line for the prompts (lm_complete_opts), or NULL */
} lm_repair_opts;

/* One distinct repaired file, for a verbose listing. */
typedef struct lm_repair_cand {
    int first_line, n_lines; /* its region, as in lm_repair_result */
    double mean_logprob;
    int parses;
    char *infill;            /* the lines written in place of the region */
    size_t infill_len;
} lm_repair_cand;

typedef struct lm_repair_result {
    int fixed;          /* some infill made the file parse */
    char *text;         /* the repaired file (len bytes), when fixed */
    size_t len;
    int first_line;     /* the region replaced: its first line (1-based) ... */
    int n_lines;        /* ... and how many lines (0: lines inserted before first_line) */
    double mean_logprob;
    int n_tried;        /* infills sampled */
    int n_distinct;     /* distinct repaired files parsed */
    int n_parsed;       /* of which parse */
    int fim;            /* the infills were filled in the middle (else left to right) */
    int fim_missing;    /* the vocabulary lacks the FIM tokens */
    lm_repair_cand *cands; /* every distinct repaired file, most likely first */
    int n_cands;
} lm_repair_result;

/* Repairs src (n bytes), whose parser verdict is pr (its first error's line and message). */
loom_status lm_repair(const lm_complete_model *m, const lm_tokenizer *tok, const char *src, size_t n,
                      const lm_parse_result *pr, const lm_repair_opts *o, lm_repair_result *r, lm_error *err);
void lm_repair_result_free(lm_repair_result *r);

/* A unified diff turning a into b (one hunk spanning the lines that differ, with context
 * lines around it), malloc'ed and NUL-terminated; "" when they are equal; NULL when out of
 * memory. Lines without a final newline are marked as diff(1) marks them. */
char *lm_unified_diff(const char *a, size_t na, const char *b, size_t nb, const char *name_a, const char *name_b,
                      int context);

#endif
