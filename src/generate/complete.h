/* Code completion: which language a file is in, where a completion naturally ends, the
 * fill-in-the-middle prompt, and K sampled candidates ranked by the model's mean
 * log-probability. Shared by `loom complete` and `loom fix` (src/generate/repair.h).
 *
 * The generation loop talks to the model through lm_complete_model, one function that
 * appends tokens after a kept part of the context, so that K candidates share one pass over
 * the prompt and so that tests can drive the loop with a scripted model. */
#ifndef LM_COMPLETE_H
#define LM_COMPLETE_H

#include <stddef.h>
#include <stdint.h>

#include "data/fim.h"
#include "data/tokenizer.h"
#include "generate/infer.h"
#include "generate/sampler.h"
#include "util/error.h"

/* ---- languages ---- */

typedef enum lm_lang {
    LM_LANG_TEXT,   /* unknown: only the end token or the token limit ends a completion */
    LM_LANG_PYTHON, /* blocks by indentation */
    LM_LANG_C,      /* C proper (gcc -fsyntax-only can check it) */
    LM_LANG_CPP,
    LM_LANG_JAVA,
    LM_LANG_JS,     /* JavaScript and TypeScript: `template strings` span lines */
    LM_LANG_GO,     /* `raw strings` span lines */
    LM_LANG_RUST,
    LM_LANG_CSHARP,
    LM_LANG_BRACES, /* other languages with C-like braces, strings and comments */
} lm_lang;

/* The language of a file from its extension (case-insensitive); LM_LANG_TEXT if unknown. */
lm_lang lm_lang_from_path(const char *path);
/* A --lang value: a name (python, c, cpp, java, js, ts, go, rust, cs, text) or an extension
 * (py, h, rs, ...). Returns 0 and sets *out, or -1 if the name is unknown. */
int lm_lang_from_name(const char *name, lm_lang *out);
const char *lm_lang_name(lm_lang l);
/* The usual extension of a language ("py"), NULL for text and unnamed brace languages. */
const char *lm_lang_ext(lm_lang l);
/* 1 for the languages whose blocks are delimited by braces. */
int lm_lang_braces(lm_lang l);

/* Reads a source file (at most 64 MiB) into a malloc'ed, NUL-terminated buffer; refuses
 * files that look binary, with a message naming the file. */
loom_status lm_read_source(const char *path, char **text, size_t *len, lm_error *err);

/* ---- boundaries ----
 *
 * Python: the completion is one unit: the statement at the cursor (with its body, if it
 * opens a block), or, from the start of a line, the rest of the enclosing block (the body of
 * the block header just above, or of the block the cursor is in; at top level, the next
 * statement or definition). A completion that only ends the line of a statement that was
 * already whole (a cursor after a docstring, say) goes on as from the start of the next line. It ends at the first logical line that starts at or below the
 * unit's starting indentation, after at least one line of the unit. Lines inside brackets,
 * strings or after a backslash are not logical line starts; blank and comment-only lines
 * never end a unit; a line after a decorator does not either. What is kept ends with the
 * last line of code (comment lines indented deeper than the start are kept too).
 *
 * Brace languages: the completion ends at the end of the line on which the braces it opened
 * are all closed again (a line whose last brace closes: `} else {` does not end it), or on
 * which it closes a brace opened before the cursor (the end of the enclosing function when
 * completing inside one). With fill-in-the-middle such an enclosing `}` belongs to the
 * suffix, so the completion ends just before it. A completion that starts in the middle of a
 * statement (code before the cursor on its line, not ending with `;`, `{` or `}`) and opens
 * no brace ends with the line on which that statement ends (`;` outside parentheses). Braces, parentheses and `;` in strings, character literals, comments and
 * (for C and C++) preprocessor lines are ignored.
 *
 * Every language: an end token. Without a boundary, a left-to-right completion's trailing
 * blank lines are dropped. A filled-in middle that the model did not end itself loses any
 * tail (from a line start, or a newline when the suffix starts with one) that repeats the
 * start of the suffix. */
/* Lexer states, kept between the prefix and the completion (fields are internal). */
typedef struct lm_py_lex {
    int depth;       /* open brackets */
    char quote;      /* the open string's quote character, 0 in code */
    int triple;      /* the open string is triple-quoted */
    int qrun;        /* quotes in a row (opening or closing a triple-quoted string) */
    int opening;     /* the quotes seen so far may still open a triple-quoted string */
    int esc;         /* a backslash just before, in a string */
    int bslash;      /* a backslash just before, in code (a line continuation if a newline follows) */
    int comment;     /* in a comment */
    int line_start;  /* before the first non-blank character of a physical line */
    int indent;      /* its indentation so far (tabs to multiples of 8, as Python counts) */
    int logical;     /* this physical line starts a logical line */
    int kind;        /* the current logical line: 0 blank so far, 1 comment only, 2 code */
    int line_indent; /* the indentation of the current logical line */
    char first;      /* its first character */
    char last_sig;   /* its last character outside comments (':' ends a block header) */
} lm_py_lex;

typedef struct lm_c_lex {
    int state;     /* 0 code, 1 line comment, 2 block comment, 3 quoted literal, 4 multi-line string */
    char quote;
    int esc, star, slash; /* escape pending; '*' before, in a block comment; '/' before, in code */
    int lit_len;   /* bytes into a character literal (given up on past 8: a Rust lifetime) */
    int paren;     /* open parentheses (reset at braces, so broken code cannot skew it for long) */
    int line_start;/* no non-blank byte yet on this line */
    int line_code; /* code (not a comment) on this line */
    char last;     /* the last byte of code on this line */
} lm_c_lex;

typedef struct lm_boundary {
    lm_lang lang;
    int fim;
    lm_py_lex py;    /* Python: the lexer at the cursor */
    int py_base;     /* lines at or below this indentation end the unit */
    int py_started;  /* the cursor is inside the unit's first statement */
    int py_next_base;/* the base once that statement ends with nothing added to its line (-1: stays) */
    int py_decorated;/* the last logical line was a decorator */
    lm_c_lex c;      /* brace languages: the lexer at the cursor */
    int c_midline;   /* the cursor's line has code before it, not ending with ';', '{' or '}' */
} lm_boundary;

/* Sets b up for a completion that follows prefix[0..n). fim: code follows the cursor. */
void lm_boundary_init(lm_boundary *b, lm_lang lang, const char *prefix, size_t n, int fim);
/* Scans the completion so far, text[0..n): returns the number of bytes to keep when a
 * boundary has been reached, or -1 while the completion may go on. */
int64_t lm_boundary_find(const lm_boundary *b, const char *text, size_t n);
/* The number of bytes to keep when generation ended without a boundary (end token, token
 * limit, full context): all of it, less trailing blank lines when left to right. */
size_t lm_boundary_final(const lm_boundary *b, const char *text, size_t n);
/* The number of bytes to keep when generation was cut short (token limit, full context):
 * for Python left to right, up to the end of the last whole logical line, less trailing block
 * headers whose bodies never came (`if x:` as the last line) and decorators, so that what is kept is whole
 * statements; other languages and fill in the middle as lm_boundary_final. */
size_t lm_boundary_whole(const lm_boundary *b, const char *text, size_t n);

/* The path line `loom train --code` puts in front of each file (src/data/code_corpus.h), for
 * the file at path: a relative path as given (less "./"), an absolute one or one that climbs
 * out ("..") by its base name, since training saw paths inside a tree. */
void lm_path_header(const char *path, char *out, size_t cap);

/* ---- fill in the middle ---- */

/* Finds the fill-in-the-middle tokens (<|fim_prefix|>, <|fim_suffix|>, <|fim_middle|>, or
 * StarCoder's <fim_prefix>, ...) among the special tokens, -1 for those missing (the ids are
 * src/data/fim.h's, whose lm_fim_find_ids knows only loom's names). Returns 1 when all three
 * exist. */
int lm_fim_find(const lm_tokenizer *tok, lm_fim_ids *f);

/* The prompt, in PSM order, as `loom train --code` lays out a file (src/data/fim.h):
 *   [<|endoftext|>] [header] <|fim_prefix|> prefix <|fim_suffix|> suffix <|fim_middle|>   (f given)
 *   [<|endoftext|>] [header] prefix                                                     (f NULL)
 * The leading <|endoftext|> (when the vocabulary has one and the whole prefix fits) marks the
 * start of a file, as the training stream does between files; header (NULL for none) is the
 * code corpus's path line ("# path: src/x.py\n"), which tells the model the language; it is
 * left out when it would take more than a quarter of the budget. At most budget tokens: the
 * prefix loses its start and the suffix its end (the suffix keeps at most half of what is
 * left when both are long). *dropped_prefix and *dropped_suffix receive the bytes left out. */
loom_status lm_complete_prompt(const lm_tokenizer *tok, const lm_fim_ids *f, const char *header, const char *prefix,
                               size_t npre, const char *suffix, size_t nsuf, int budget, int32_t **ids, int *n,
                               size_t *dropped_prefix, size_t *dropped_suffix, lm_error *err);

/* ---- candidates ---- */

/* The model, as the generation loop sees it: keep the first n_keep positions of the context,
 * append ids[0..n), and write the vocabulary's logits after the last of them. */
typedef struct lm_complete_model {
    void *ud;
    int n_vocab, n_ctx;
    loom_status (*eval)(void *ud, int n_keep, const int32_t *ids, int n, float *logits, lm_error *err);
} lm_complete_model;

/* Wraps an lm_infer: n_keep <= the positions filled, and positions past n_keep are simply
 * overwritten (attention reads only positions already written for the current sequence). */
void lm_complete_model_infer(lm_complete_model *m, lm_infer *s);

typedef enum lm_complete_stop {
    LM_CSTOP_BOUNDARY, /* the end of the block or statement */
    LM_CSTOP_END,      /* an end token (<|endoftext|>, a FIM token, any control token) */
    LM_CSTOP_LINES,    /* max_lines reached */
    LM_CSTOP_LENGTH,   /* max_tokens reached */
    LM_CSTOP_CONTEXT,  /* the context is full */
} lm_complete_stop;

const char *lm_complete_stop_name(lm_complete_stop s);

typedef struct lm_candidate {
    char *text;          /* the completion (NUL-terminated; len bytes) */
    size_t len;
    double mean_logprob; /* mean natural-log probability of every token sampled for it, the
                            one that ended it included (softmax at temperature 1) */
    int n_tokens;
    lm_complete_stop stop;
    int index;           /* the order it was sampled in (0 = first) */
} lm_candidate;

/* The repetition penalty of code completion unless told otherwise (over the last 64 tokens): small
 * greedy models loop, and on an outside set of Python functions a 1,800-step model's bodies parsed
 * 60% of the time at 1.15 against 47% at 1.0. loom complete and eval-code both default to it, so
 * that the figure eval-code reports is what complete gives. */
#define LM_CODE_REPEAT_PENALTY 1.15f

typedef struct lm_complete_opts {
    lm_lang lang;
    int n_candidates;            /* K >= 1 */
    int max_tokens;              /* per candidate */
    int max_lines;               /* stop after this many lines; 0 = no limit */
    int greedy_first;            /* the first candidate is greedy, the others sampled */
    int use_fim;                 /* fill in the middle when the suffix holds more than whitespace */
    const char *header;          /* the file's path line in front of the prompt, or NULL */
    lm_sampler_params sampling;  /* candidate k uses seed + k */
} lm_complete_opts;

typedef struct lm_complete_result {
    lm_candidate *cand; /* n of them, best first */
    int n;
    int fim;            /* the prompt was fill-in-the-middle */
    int fim_missing;    /* code followed the cursor but the vocabulary lacks the FIM tokens */
    int n_prompt;
    size_t dropped_prefix, dropped_suffix; /* bytes left out to fit the context */
} lm_complete_result;

/* Samples o->n_candidates completions of prefix (with suffix after the cursor) and ranks them. */
loom_status lm_complete(const lm_complete_model *m, const lm_tokenizer *tok, const char *prefix, size_t npre,
                        const char *suffix, size_t nsuf, const lm_complete_opts *o, lm_complete_result *r,
                        lm_error *err);
void lm_complete_result_free(lm_complete_result *r);

/* Sorts by mean log-probability, highest first; ties keep the sampling order. */
void lm_candidates_rank(lm_candidate *c, int n);

#endif
