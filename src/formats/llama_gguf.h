/* Saving a Llama model with its tokenizer as GGUF, in the layout llama.cpp loads:
 * architecture "llama", its metadata keys, its tensor names, and the vocabulary as a
 * byte-level "gpt2" tokenizer. */
#ifndef LM_LLAMA_GGUF_H
#define LM_LLAMA_GGUF_H

#include "data/tokenizer.h"
#include "model/llama.h"
#include "util/error.h"

/* Writes m (F32 tensors) and tok to path atomically; name goes to general.name. */
loom_status lm_llama_save_gguf(const char *path, const lm_llama *m, const lm_tokenizer *tok, const char *name,
                               lm_error *err);

#endif
