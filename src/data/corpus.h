/* A training corpus: one text file, or every text file under a folder, tokenized into one
 * stream with <|endoftext|> between documents. */
#ifndef LM_CORPUS_H
#define LM_CORPUS_H

#include <stdint.h>

#include "data/tokenizer.h"
#include "util/error.h"

typedef struct lm_corpus {
    uint8_t *text;       /* every document's bytes, one after another */
    int64_t *doc_start;  /* n_docs + 1 offsets into text */
    int32_t *doc_head;   /* code corpora: bytes of each document's path line, which stays in front
                            when the document is rearranged for fill-in-the-middle; else NULL */
    int32_t *tokens;
    int64_t n_tokens;
    int64_t n_bytes;
    int n_docs;
    int n_skipped; /* binary files passed over in a folder */
} lm_corpus;

/* Receives one warning line (no newline). */
typedef void (*lm_warn_fn)(void *ud, const char *msg);

/* Reads path (see lm_corpus_load) into c->text without tokenizing it. */
loom_status lm_corpus_read(lm_corpus *c, const char *path, lm_warn_fn warn, void *ud, lm_error *err);
/* Tokenizes c->text into c->tokens, documents separated by the tokenizer's <|endoftext|>. */
loom_status lm_corpus_tokenize(lm_corpus *c, const lm_tokenizer *tok, lm_error *err);

/* Fill-in-the-middle while tokenizing (src/data/fim.h). */
typedef struct lm_corpus_fim {
    double rate, spm_rate; /* share of documents rearranged, and of those in SPM order */
    uint64_t seed;         /* with a document's index, seeds its own RNG */
    int64_t train_bytes;   /* only documents that end within the first train_bytes bytes of text */
    size_t piece_bytes;    /* > 0: rearrange pieces of about this size (cut at line ends), each
                              after the document's head line and followed by <|endoftext|>, so
                              that a whole prefix-suffix-middle example fits in a training window */
} lm_corpus_fim;

/* Like lm_corpus_tokenize, but each document that ends within fim->train_bytes is rearranged
 * for fill-in-the-middle with probability fim->rate; the others stay left to right.
 * *n_train receives the number of tokens that encode bytes before fim->train_bytes (all of
 * them when it is n_bytes): the held-out part starts there and holds no rearranged text.
 * *n_fim (may be NULL) receives the number of documents (or pieces) rearranged. Fails when the tokenizer
 * has no FIM tokens. */
loom_status lm_corpus_tokenize_fim(lm_corpus *c, const lm_tokenizer *tok, const lm_corpus_fim *fim, int64_t *n_train,
                                   int *n_fim, lm_error *err);

/* Loads path (a file, or a folder walked recursively in name order; hidden entries and
 * duplicate links skipped; files that look binary skipped with a warning naming them). */
loom_status lm_corpus_load(lm_corpus *c, const char *path, const lm_tokenizer *tok, lm_warn_fn warn, void *ud,
                           lm_error *err);
void lm_corpus_free(lm_corpus *c);

/* Whether a buffer looks like binary data rather than text: NUL bytes, or many control bytes. */
int lm_looks_binary(const uint8_t *s, size_t n);

#endif
