/* Loading tokenizers that other tools made into loom's BPE (data/bpe.h).
 *
 *  - tiktoken (OpenAI): a rank table, the encoding's pre-split pattern and its special tokens.
 *    Two file formats are read:
 *      * the plain `.tiktoken` file: one "BASE64TOKEN RANK" per line. It holds no pattern or
 *        special tokens, so those come from a built-in table keyed by the file's base name
 *        (r50k_base, p50k_base, p50k_edit, cl100k_base, o200k_base; gpt2 = r50k_base);
 *      * the JSON the npm packages ship (tiktoken: `tiktoken/encoders/NAME.json`, js-tiktoken:
 *        `js-tiktoken/dist/ranks/NAME.js`, also read): {"pat_str", "special_tokens",
 *        "bpe_ranks", "explicit_n_vocab"?}, where bpe_ranks is lines of
 *        "! FIRST_RANK TOKEN TOKEN ..." (base64 tokens with consecutive ranks from FIRST_RANK).
 *    Mode LM_BPE_RANKS: a token's id is its rank.
 *  - Hugging Face tokenizer.json: model "BPE", byte-level (ByteLevel pre-tokenizer or
 *    decoder): vocab (token text spelled through GPT-2's bytes-to-unicode table), merges
 *    ("a b" strings or ["a", "b"] pairs), added tokens (special tokens), and the pre-split regex
 *    of a Split pre-tokenizer (GPT-2's pattern for a ByteLevel pre-tokenizer with use_regex).
 *    Mode LM_BPE_MERGES. Settings that loom cannot reproduce exactly (a normalizer,
 *    add_prefix_space, dropout, byte_fallback, word prefixes/suffixes, several Split steps,
 *    Split behaviours other than "Isolated") are refused with an error naming them.
 *
 * Every loader checks every field: a malformed file gives one error message, never a crash. */
#ifndef LM_BPE_IMPORT_H
#define LM_BPE_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "data/bpe.h"
#include "util/error.h"

/* The pre-split pattern of o200k_base (GPT-4o). */
#define LM_BPE_PATTERN_O200K                                                                                   \
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|" \
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|" \
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

/* Environment variable naming a directory to look for tiktoken encodings in (see below). */
#define LM_TIKTOKEN_DIR_ENV "LOOM_TIKTOKEN_DIR"

/* Loads a tiktoken encoding. name_or_path is either
 *  - a file: a `.tiktoken` file or the npm packages' JSON/JS file (the format is detected from
 *    the content), or
 *  - an encoding name: gpt2, r50k_base, p50k_base, p50k_edit, cl100k_base, o200k_base, looked up
 *    (as NAME.tiktoken, NAME.json, encoders/NAME.json, tiktoken/encoders/NAME.json,
 *    node_modules/tiktoken/encoders/NAME.json, node_modules/js-tiktoken/dist/ranks/NAME.js)
 *    in $LOOM_TIKTOKEN_DIR, then in ./tests/tiktoken (the repository's test harness, after
 *    `npm ci` there). */
loom_status lm_bpe_load_tiktoken(const char *name_or_path, lm_bpe **out, lm_error *err);
/* The same from memory. name: the file's name (for messages, and for a plain `.tiktoken` file
 * the encoding whose pattern and special tokens apply: its base name without extension). */
loom_status lm_bpe_load_tiktoken_mem(const uint8_t *buf, size_t n, const char *name, lm_bpe **out, lm_error *err);
/* A plain `.tiktoken` rank table with the pattern and special tokens given by the caller
 * (pattern NULL: GPT-2's). */
loom_status lm_bpe_from_tiktoken_ranks(const uint8_t *buf, size_t n, const char *name, const char *pattern,
                                       int n_special, const char *const *special, const int32_t *special_id,
                                       lm_bpe **out, lm_error *err);
/* Where lm_bpe_load_tiktoken finds an encoding name: a malloc'ed path, or NULL (err says where
 * it looked and how to install the files). */
char *lm_bpe_tiktoken_find(const char *name, lm_error *err);

/* Loads a Hugging Face tokenizer.json (byte-level BPE). */
loom_status lm_bpe_load_hf_json(const char *path, lm_bpe **out, lm_error *err);
loom_status lm_bpe_load_hf_json_mem(const uint8_t *buf, size_t n, const char *name, lm_bpe **out, lm_error *err);

/* Any tokenizer loom reads, by its content: loom's own file (magic "LMTK"), a Hugging Face
 * tokenizer.json, a tiktoken file (JSON or plain), or a tiktoken encoding name. */
loom_status lm_bpe_load_any(const char *name_or_path, lm_bpe **out, lm_error *err);

/* GPT-2's bytes-to-unicode table (the spelling of byte-level vocabularies): the code point
 * that spells byte b, and the byte a code point spells (-1 if none). */
int lm_bpe_byte_to_cp(int b);
int lm_bpe_cp_to_byte(uint32_t cp);

#endif
