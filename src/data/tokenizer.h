/* The tokenizer interface: text bytes <-> token ids.
 *
 * Every tokenizer has a piece table (id -> bytes, with a type per token as GGUF records it)
 * and an encoder. The byte-level tokenizer maps each byte to its own id (0..255), so any
 * input, invalid UTF-8 included, encodes; special tokens follow the bytes. A BPE tokenizer
 * (a later piece of work) fills the same table and supplies its own encoder. */
#ifndef LM_TOKENIZER_H
#define LM_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

typedef enum lm_tok_kind {
    LM_TOK_BYTE = 1,   /* ids 0..255 are the bytes themselves */
    LM_TOK_OTHER = 2,  /* a vocabulary loom can decode but not encode (SentencePiece) */
    LM_TOK_BPE = 3,    /* byte-level BPE (src/data/bpe.h) */
} lm_tok_kind;

struct lm_bpe;

/* GGUF token types (llama.cpp's llama_token_type). */
enum { LM_TOKTYPE_NORMAL = 1, LM_TOKTYPE_CONTROL = 3, LM_TOKTYPE_BYTE = 6 };

typedef struct lm_tokenizer {
    lm_tok_kind kind;
    int n_vocab;
    int eot;             /* <|endoftext|>: separates documents and ends generation; -1 if none */
    char **piece;        /* id -> bytes (NUL-terminated copy; piece_len holds the real length) */
    int *piece_len;
    int *type;           /* LM_TOKTYPE_* */
    struct lm_bpe *bpe;  /* LM_TOK_BPE: the encoder (owned) */
} lm_tokenizer;

/* The byte-level tokenizer: ids 0..255 are bytes, 256 is <|endoftext|>. */
loom_status lm_tokenizer_byte(lm_tokenizer *t, lm_error *err);
void lm_tokenizer_free(lm_tokenizer *t);

/* Wraps a BPE tokenizer (taking ownership of bpe): pieces and types from its vocabulary,
 * <|endoftext|> as eot when it has one. */
loom_status lm_tokenizer_from_bpe(lm_tokenizer *t, struct lm_bpe *bpe, lm_error *err);

/* Encodes text into a malloc'ed array (*ids, *n); fails with a clear message for vocabularies
 * loom cannot encode yet. */
loom_status lm_encode_text(const lm_tokenizer *tok, const char *text, size_t len, int32_t **ids, int *n, lm_error *err);

/* Builds a tokenizer from a vocabulary as GGUF stores it (tokenizer.ggml.*): model "gpt2" spells
 * byte-level tokens through GPT-2's byte-to-unicode table, model "llama" (SentencePiece) uses
 * U+2581 for spaces and <0xXX> byte tokens. A vocabulary whose first 256 tokens are the 256
 * bytes in order, with only special tokens after them, becomes LM_TOK_BYTE; any other one
 * LM_TOK_OTHER (decoding works; encoding comes with the BPE tokenizer). */
loom_status lm_tokenizer_from_vocab(lm_tokenizer *t, const char *model, const char *const *text,
                                    const size_t *len, const int32_t *types, int n, int eot, lm_error *err);


/* Upper bound on the ids lm_tokenizer_encode can write for n bytes. */
size_t lm_tokenizer_max_tokens(const lm_tokenizer *t, size_t n);
/* Encodes n bytes of plain text (special tokens are not recognised in it) into out, which has
 * room for lm_tokenizer_max_tokens(t, n) ids. Returns the number written. */
size_t lm_tokenizer_encode(const lm_tokenizer *t, const uint8_t *s, size_t n, int32_t *out);

#endif
