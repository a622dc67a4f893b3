/* Fill-in-the-middle (FIM) training documents (Bavarian et al. 2022, "Efficient Training of
 * Language Models to Fill in the Middle", arXiv:2207.14255).
 *
 * A document is cut at two character positions drawn uniformly from [0, characters] (the
 * paper's character-level random spans; StarCoder draws them the same way), giving prefix,
 * middle and suffix, which are encoded separately and laid out as
 *
 *   PSM  <|fim_prefix|> prefix <|fim_suffix|> suffix <|fim_middle|> middle
 *   SPM  <|fim_prefix|> <|fim_suffix|> suffix <|fim_middle|> prefix middle
 *
 * PSM is the paper's layout (section 3). SPM is the paper's second SPM variant (appendix D):
 * the sentinels in PSM's order, the suffix first, and prefix and middle joined after
 * <|fim_middle|>, so that a prefix the user keeps typing never moves the suffix's tokens;
 * bigcode's Megatron-LM, which trained SantaCoder and StarCoder, writes it exactly so ("SPM
 * variant 2 from FIM paper"), as does NVIDIA's. The <|endoftext|> that follows every document
 * in the token stream ends the middle, as <EOT> does in the paper. Encoding the three parts
 * separately makes the middle start on a token boundary, as it will when a model fills a gap.
 *
 * A document may start with `keep` bytes that stay in front, left to right (a code corpus's
 * path line: the model should know the language before it reads either part). */
#ifndef LM_FIM_H
#define LM_FIM_H

#include <stddef.h>
#include <stdint.h>

#include "data/tokenizer.h"
#include "util/error.h"
#include "util/rng.h"

#define LM_FIM_PREFIX "<|fim_prefix|>"
#define LM_FIM_MIDDLE "<|fim_middle|>"
#define LM_FIM_SUFFIX "<|fim_suffix|>"

typedef struct lm_fim_ids {
    int32_t prefix, suffix, middle;
} lm_fim_ids;

/* Finds the three sentinel tokens (control tokens with those texts) in tok; fails with a
 * message saying what to do when tok has not got them (the byte tokenizer never has). */
loom_status lm_fim_find_ids(const lm_tokenizer *tok, lm_fim_ids *ids, lm_error *err);

typedef enum lm_fim_mode { LM_FIM_NONE = 0, LM_FIM_PSM = 1, LM_FIM_SPM = 2 } lm_fim_mode;

/* What was drawn for one document: the mode and the middle's byte range [begin, end) in the
 * part of the document after its `keep` bytes. */
typedef struct lm_fim_split {
    lm_fim_mode mode;
    size_t begin, end;
} lm_fim_split;

/* Draws a split of the n bytes s: FIM with probability rate, then SPM with probability
 * spm_rate; cuts fall only between characters (a byte that is not part of a valid UTF-8
 * sequence counts as one character). Uses only rng, so the same state gives the same split. */
void lm_fim_draw(const uint8_t *s, size_t n, double rate, double spm_rate, lm_rng *rng, lm_fim_split *sp);

/* Upper bound on the ids lm_fim_layout / lm_fim_encode write for an n-byte document. */
size_t lm_fim_max_tokens(const lm_tokenizer *tok, size_t n);

/* Writes the ids of doc (n bytes, the first keep of them kept in front) laid out as sp says
 * (LM_FIM_NONE: plain left-to-right encoding) into out; returns how many. */
size_t lm_fim_layout(const lm_tokenizer *tok, const lm_fim_ids *ids, const uint8_t *doc, size_t n, size_t keep,
                     const lm_fim_split *sp, int32_t *out);

/* lm_fim_draw on the bytes after keep, then lm_fim_layout. */
size_t lm_fim_encode(const lm_tokenizer *tok, const lm_fim_ids *ids, const uint8_t *doc, size_t n, size_t keep,
                     double rate, double spm_rate, lm_rng *rng, int32_t *out);

/* The RNG of document d of a run seeded with seed: one stream per document, so a document's
 * split does not depend on how many draws the others took (nor on the order of encoding). */
void lm_fim_doc_rng(lm_rng *r, uint64_t seed, int64_t d);

#endif
