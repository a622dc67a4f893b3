/* Helpers shared by the CLI's model-running commands. */
#ifndef LM_CLI_COMMON_H
#define LM_CLI_COMMON_H

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>

#include "data/tokenizer.h"
#include "kernels/kernels.h"
#include "util/error.h"

/* Prints "loom CMD: MESSAGE" to standard error and returns the exit status: 2 when the command
 * line is at fault (LOOM_ERR_ARG: a flag's value, a missing or conflicting flag, a flag that
 * disagrees with the run being resumed), 1 for everything else (files, data, the machine). */
int lm_cli_report(const char *cmd, const lm_error *err);
/* The prompt from -p TEXT, -f FILE, or standard input when it is not a terminal. */
loom_status lm_read_prompt(const char *prompt, const char *file, char **text, size_t *len, lm_error *err);
/* The seed a command samples with: the --seed value, or one from the clock and process id for -1. */
uint64_t lm_cli_seed(int64_t flag);
/* Adds key: the bytes as a JSON string; bytes that are not valid UTF-8 become U+FFFD in the
 * string and the exact bytes are added as "bytes": [..]. */
void lm_json_add_piece(json_object *o, const char *key, const char *bytes, size_t n);
/* Prints text marked by probability p: a colour on a terminal, else [text|p] when p < 0.2. */
void lm_print_confident(FILE *f, const char *text, size_t n, float p, int color);
void lm_print_confidence_legend(FILE *f, int color);

#endif
