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

/* Loads path (a file, or a folder walked recursively in name order; hidden entries and
 * duplicate links skipped; files that look binary skipped with a warning naming them). */
loom_status lm_corpus_load(lm_corpus *c, const char *path, const lm_tokenizer *tok, lm_warn_fn warn, void *ud,
                           lm_error *err);
void lm_corpus_free(lm_corpus *c);

/* Whether a buffer looks like binary data rather than text: NUL bytes, or many control bytes. */
int lm_looks_binary(const uint8_t *s, size_t n);

#endif
