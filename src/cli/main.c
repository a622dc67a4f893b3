/* loom: train and run your own generative models. One table of commands gives both the usage
 * text and the dispatch, so a new command is one row. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "loom.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} command;

static const command COMMANDS[] = {
    {"train", lm_cmd_train, "train a transformer on a text file or a folder of text files"},
    {"generate", lm_cmd_generate, "continue a prompt with a model, token by token"},
    {"score", lm_cmd_score, "a model's loss, perplexity and bits per byte on a text, and its surprises"},
    {"tokenizer", lm_cmd_tokenizer, "train, inspect and use BPE tokenizers (train, encode, decode, stats)"},
    {"complete", lm_cmd_complete, "complete code at a point in a file, to the end of the block (-n K: ranked candidates)"},
    {"fix", lm_cmd_fix, "repair the first syntax error in a Python or C file; prints a unified diff"},
    {"eval-code", lm_cmd_eval_code, "a code model's figures on held-out files (bodies, FIM, bits/byte, repairs) beside an untrained one"},
    {"train-image", lm_cmd_train_image, "train a class-conditional diffusion model on labelled images (Fashion-MNIST by default)"},
    {"imagine", lm_cmd_imagine, "draw images of a label (\"ankle boot\") with a model from train-image; writes a PNG grid"},
    {"eval-image", lm_cmd_eval_image, "an image model's figures: a classifier's accuracy on what it draws, per label, and a Frechet distance"},
};
#define N_COMMANDS (sizeof COMMANDS / sizeof *COMMANDS)

static void usage(FILE *f) {
    fprintf(f, "loom %s: train and run your own generative models\n\nusage: loom COMMAND [flags]\n\ncommands:\n",
            loom_version());
    for (size_t i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-11s %s\n", COMMANDS[i].name, COMMANDS[i].help);
    fprintf(f, "  %-11s %s\n\nRun 'loom COMMAND --help' for the flags of a command.\n", "version", "print the version");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(cmd, COMMANDS[i].name)) return COMMANDS[i].run(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("loom %s\n", loom_version());
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "loom: unknown command '%s' (run 'loom --help' for the list)\n", cmd);
    return 2;
}
