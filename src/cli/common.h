/* Helpers shared by the CLI's model-running commands. */
#ifndef LM_CLI_COMMON_H
#define LM_CLI_COMMON_H

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>

#include "data/tokenizer.h"
#include "util/error.h"

/* Sets OpenMP and OpenBLAS threads (n <= 0: all cores). */
void lm_set_threads(int n);
/* The prompt from -p TEXT, -f FILE, or standard input when it is not a terminal. */
loom_status lm_read_prompt(const char *prompt, const char *file, char **text, size_t *len, lm_error *err);
/* Encodes text for the model; fails with a clear message for vocabularies loom cannot encode yet. */
loom_status lm_encode_text(const lm_tokenizer *tok, const char *text, size_t len, int32_t **ids, int *n, lm_error *err);
/* Adds key: the bytes as a JSON string; bytes that are not valid UTF-8 become U+FFFD in the
 * string and the exact bytes are added as "bytes": [..]. */
void lm_json_add_piece(json_object *o, const char *key, const char *bytes, size_t n);
/* Prints text marked by probability p: a colour on a terminal, else [text|p] when p < 0.5. */
void lm_print_confident(FILE *f, const char *text, size_t n, float p, int color);
void lm_print_confidence_legend(FILE *f, int color);

#endif
