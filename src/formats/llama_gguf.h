/* Saving a Llama model with its tokenizer as GGUF, in the layout llama.cpp loads:
 * architecture "llama", its metadata keys, its tensor names, and the vocabulary as a
 * byte-level "gpt2" tokenizer. */
#ifndef LM_LLAMA_GGUF_H
#define LM_LLAMA_GGUF_H

#include "data/tokenizer.h"
#include "formats/gguf.h"
#include "model/llama.h"
#include "util/error.h"

/* Writes m (F32 tensors) and tok to path atomically; name goes to general.name. */
loom_status lm_llama_save_gguf(const char *path, const lm_llama *m, const lm_tokenizer *tok, const char *name,
                               lm_error *err);

/* Loads a GGUF model of the "llama" architecture, written by loom or not: hyperparameters from
 * its llama.* keys, tensors looked up by name (F32, F16 and BF16 are read; F16/BF16 are widened
 * to F32), the output head tied to token_embd when output.weight is absent, and the vocabulary
 * into tok (see lm_tokenizer_from_vocab). The model is created without gradients. */
loom_status lm_llama_load_gguf(const char *path, lm_llama *m, lm_tokenizer *tok, lm_error *err);

/* Only the vocabulary of a GGUF model (no weights are read), as lm_llama_load_gguf builds it. */
loom_status lm_gguf_load_tokenizer(const char *path, lm_tokenizer *tok, lm_error *err);

/* The same two from a file already open (formats/gguf.h; lm_gguf_open_mem for one held in
 * memory); messages name it by lm_gguf_name. g stays open. */
loom_status lm_llama_from_gguf(const lm_gguf *g, lm_llama *m, lm_tokenizer *tok, lm_error *err);
loom_status lm_tokenizer_from_gguf(const lm_gguf *g, lm_tokenizer *tok, lm_error *err);

#endif
