/* Writes a random-weight llama model as GGUF, for speed comparisons at a given shape
 * (llama2.c's stories15M: dim 288, 6 layers, 6 heads, vocab 32000; or ~110M: dim 768, 12).
 * The vocabulary is the 256 bytes followed by control tokens, so that loom and llama.cpp can
 * both take byte prompts.
 *
 *   bench_random_model OUT.gguf DIM LAYERS HEADS FFN VOCAB CONTEXT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/bpe_import.h"
#include "data/tokenizer.h"
#include "formats/llama_gguf.h"
#include "model/llama.h"

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: %s OUT.gguf DIM LAYERS HEADS FFN VOCAB CONTEXT\n", argv[0]);
        return 2;
    }
    lm_llama_config c = {.dim = atoi(argv[2]), .layers = atoi(argv[3]), .heads = atoi(argv[4]),
                         .ffn_dim = atoi(argv[5]), .vocab = atoi(argv[6]), .context = atoi(argv[7]), .tied = 0,
                         .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    c.kv_heads = c.heads;
    lm_error err;
    lm_llama m;
    if (c.vocab < 257 || lm_llama_create(&m, &c, 0, &err)) {
        fprintf(stderr, "bench_random_model: %s\n", c.vocab < 257 ? "vocab must be at least 257" : err.msg);
        return 1;
    }
    lm_llama_init(&m, 1);
    lm_tokenizer bt, tok;
    if (lm_tokenizer_byte(&bt, &err)) return 1;
    const char **text = calloc((size_t)c.vocab, sizeof(char *));
    size_t *len = calloc((size_t)c.vocab, sizeof(size_t));
    int32_t *type = calloc((size_t)c.vocab, sizeof(int32_t));
    char (*names)[24] = calloc((size_t)c.vocab, 24);
    for (int i = 0; i < c.vocab; i++) {
        if (i < 256) {
            /* spelled as GGUF stores a byte token of a "gpt2" vocabulary */
            int cp = lm_bpe_byte_to_cp(i), k = 0;
            if (cp < 0x80) names[i][k++] = (char)cp;
            else {
                names[i][k++] = (char)(0xC0 | (cp >> 6));
                names[i][k++] = (char)(0x80 | (cp & 0x3F));
            }
            type[i] = LM_TOKTYPE_NORMAL;
        } else {
            snprintf(names[i], 24, i == 256 ? "<|endoftext|>" : "<|extra_%d|>", i);
            type[i] = LM_TOKTYPE_CONTROL;
        }
        text[i] = names[i];
        len[i] = strlen(names[i]);
    }
    if (lm_tokenizer_from_vocab(&tok, "gpt2", text, len, type, c.vocab, 256, &err) ||
        lm_llama_save_gguf(argv[1], &m, &tok, "random", &err)) {
        fprintf(stderr, "bench_random_model: %s\n", err.msg);
        return 1;
    }
    printf("%s: %.1fM parameters\n", argv[1], (double)m.n_params / 1e6);
    lm_tokenizer_free(&tok);
    lm_tokenizer_free(&bt);
    lm_llama_free(&m);
    free(text);
    free(len);
    free(type);
    free(names);
    return 0;
}
