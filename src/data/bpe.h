/* Byte-level BPE: a vocabulary of byte strings, a regular-expression pre-split (PCRE2 with
 * Unicode properties), merges, and special tokens.
 *
 * Two ways to apply merges, because the two families of tokenizers users bring define them
 * differently:
 *  - LM_BPE_RANKS (tiktoken): a token's id is its rank; inside a pre-split chunk, the adjacent
 *    pair whose concatenation has the lowest rank is merged, until no concatenation is a token.
 *  - LM_BPE_MERGES (Hugging Face, llama.cpp, and loom's own trained tokenizers): an explicit
 *    list of pair merges; the adjacent pair with the lowest merge rank is merged.
 * Every single byte is a token, so any input (invalid UTF-8 included) encodes, and decoding is
 * the concatenation of the tokens' bytes: an exact round trip. */
#ifndef LM_BPE_H
#define LM_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* Ids are below this (2^20), for created, trained and loaded vocabularies alike. */
#define LM_BPE_MAX_VOCAB (1 << 20)

/* Pre-split patterns. */
#define LM_BPE_PATTERN_GPT4                                                                                   \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|" \
    "\\s+(?!\\S)|\\s+"
#define LM_BPE_PATTERN_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

typedef enum lm_bpe_mode { LM_BPE_RANKS = 0, LM_BPE_MERGES = 1 } lm_bpe_mode;

typedef struct lm_bpe lm_bpe;

/* A vocabulary as it is given to lm_bpe_create. */
typedef struct lm_bpe_vocab {
    int n_tokens;               /* ordinary tokens, ids 0..n_tokens-1 */
    const uint8_t *const *tok;  /* tok[i]: the bytes of token i; NULL leaves id i free (for a
                                   special token's id, or an unused one) */
    const size_t *len;          /* len[i]: their length (at least 1) */
    lm_bpe_mode mode;
    /* LM_BPE_MERGES only: merge r joins tokens merge_left[r] and merge_right[r] (rank r,
     * lowest first); the result is the token whose bytes are their concatenation. A pair
     * listed twice keeps its first rank. */
    int n_merges;
    const int32_t *merge_left, *merge_right;
    const char *pattern;        /* PCRE2 pre-split regex (UTF mode, Unicode properties) */
    int n_special;              /* special tokens, e.g. <|endoftext|> */
    const char *const *special;
    const int32_t *special_id;  /* their ids (may follow or interleave the ordinary ids) */
} lm_bpe_vocab;

/* Builds a tokenizer. Checks that every byte has a token, ids are unique, merges refer to
 * existing tokens, and the pattern compiles (with PCRE2's JIT where available). \s in the
 * pattern means Unicode's White_Space, as in tiktoken (PCRE2's own \s also takes U+180E).
 * On failure *out is NULL and err names the problem. */
loom_status lm_bpe_create(lm_bpe **out, const lm_bpe_vocab *v, lm_error *err);
/* Releases a tokenizer. NULL is allowed. */
void lm_bpe_free(lm_bpe *b);

/* Largest id + 1 (ordinary and special tokens). */
int lm_bpe_vocab_size(const lm_bpe *b);
/* The bytes of token id (NULL if there is no such token). */
const uint8_t *lm_bpe_token(const lm_bpe *b, int32_t id, size_t *len);
/* 1 if id is a special token. */
int lm_bpe_is_special(const lm_bpe *b, int32_t id);
/* The id of a special token by its text, or -1. */
int32_t lm_bpe_special_id(const lm_bpe *b, const char *text);
/* The pre-split pattern as given. */
const char *lm_bpe_pattern(const lm_bpe *b);
/* LM_BPE_RANKS or LM_BPE_MERGES. */
lm_bpe_mode lm_bpe_get_mode(const lm_bpe *b);
/* The merges (for export): number of merges; fills left/right (each of that many entries) when
 * not NULL. For an LM_BPE_RANKS vocabulary they are derived from the ranks as the Hugging Face
 * converter does (each token's canonical split at its rank; a token that merging below its
 * rank cannot reach as two parts has no merge). -1 on allocation failure. */
int lm_bpe_merges(const lm_bpe *b, int32_t *left, int32_t *right);

/* Encodes n bytes. allow_special: 0 = special-token text is ordinary text; 1 = every special
 * token's text becomes its id (the leftmost occurrence first, the longest text where several
 * start there). Writes the ids to (*ids)[0], (*ids)[1], ... (the buffer is realloc'ed as needed,
 * *cap is its capacity in ids, so one buffer serves many calls) and returns how many were
 * written, or -1 on allocation failure. Thread-safe for a shared b.
 * Each pre-split chunk is merged as a whole; in LM_BPE_RANKS mode a chunk that is itself a token
 * becomes that token directly, as tiktoken does. Invalid UTF-8 bytes are chunks of their own
 * (valid stretches go through the regex), so every input encodes and decodes back exactly. */
int64_t lm_bpe_encode(const lm_bpe *b, const uint8_t *s, size_t n, int allow_special, int32_t **ids, size_t *cap);
/* Encodes using up to `threads` threads (splitting at chunk boundaries; the same ids as one thread).
 * Only the two built-in patterns have cut points known to be safe; other patterns use one thread. */
int64_t lm_bpe_encode_parallel(const lm_bpe *b, const uint8_t *s, size_t n, int allow_special, int32_t **ids,
                               size_t *cap, int threads);

/* The pre-split of n bytes of ordinary text (no special tokens): writes the end offset of each
 * chunk, in order, to (*ends)[0..] (realloc'ed as needed like lm_bpe_encode's ids) and returns
 * the number of chunks, or -1 on allocation failure. Text the pattern does not match becomes a
 * chunk of its own, and so does each invalid UTF-8 byte. */
int64_t lm_bpe_split(const lm_bpe *b, const uint8_t *s, size_t n, size_t **ends, size_t *cap);

/* The next special token's text in s: returns its offset (n if there is none) and sets *len and
 * *id. Leftmost first; the longest one where several start at the same offset. */
size_t lm_bpe_find_special(const lm_bpe *b, const uint8_t *s, size_t n, size_t *len, int32_t *id);

/* Up to parts-1 offsets, increasing, near the multiples of n/parts, where s can be cut so that
 * encoding the pieces one after the other gives exactly the ids of encoding s (a newline
 * between two printable ASCII characters, with no special token's text across it when
 * allow_special). Returns how many were written to cuts: 0 for patterns other than the two
 * built-in ones, for which no such rule is known. */
int lm_bpe_cuts(const lm_bpe *b, const uint8_t *s, size_t n, int allow_special, int parts, size_t *cuts);

/* Training on text: counts unique pre-split chunks, then merges the most frequent pair until
 * vocab_size tokens exist (256 bytes + merges + specials), updating pair counts incrementally.
 * Ids 0..255 are the bytes in byte order, then one token per merge in merge order (a merge whose
 * bytes are already a token reuses that token, as Hugging Face's trainer does, so there can be
 * more merges than learned tokens), then the special tokens. Ties between pairs of equal count go
 * to the lowest (left, right) ids, so the result does not depend on the number of threads.
 * Special-token texts in the training text separate chunks and are not learned from. Stops
 * early when no pair occurs twice. The result is an LM_BPE_MERGES tokenizer. */
typedef struct lm_bpe_train_opts {
    int vocab_size;             /* total, specials included (256 + n_special + merges) */
    const char *pattern;        /* LM_BPE_PATTERN_GPT4 by default */
    int n_special;
    const char *const *special; /* given ids right after the learned tokens */
    int threads;                /* for counting chunks (<= 0: OpenMP's default) */
    int verbose;                /* progress lines on stderr */
} lm_bpe_train_opts;
loom_status lm_bpe_train(lm_bpe **out, const uint8_t *text, size_t n, const lm_bpe_train_opts *o, lm_error *err);

/* loom's tokenizer file: magic "LMTK", version, mode, pattern, tokens, merges, specials, CRC-32;
 * written atomically, and the reader checks every length against the file. All integers are
 * little-endian u32 (ids i32):
 *   "LMTK" version=1 mode | pattern_len pattern | n_tokens {len bytes}*n_tokens (len 0: free id)
 *   | n_merges {left right}*n_merges | n_special {id len bytes}*n_special | crc32 of all before */
loom_status lm_bpe_save(const lm_bpe *b, const char *path, lm_error *err);
loom_status lm_bpe_load(const char *path, lm_bpe **out, lm_error *err);
/* The same from/to memory (the reader is what the fuzz target exercises). */
loom_status lm_bpe_load_mem(const uint8_t *buf, size_t n, const char *name, lm_bpe **out, lm_error *err);

#endif
