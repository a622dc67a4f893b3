/* loom: train and run your own generative models. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "loom.h"

static void usage(FILE *f) {
    fprintf(f,
            "loom %s: train and run your own generative models\n"
            "\n"
            "usage: loom COMMAND [flags]\n"
            "\n"
            "commands:\n"
            "  train      train a transformer on a text file or a folder of text files\n"
            "  generate   continue a prompt with a model, token by token\n"
            "  score      a model's loss, perplexity and bits per byte on a text, and its surprises\n"
            "  tokenizer  train, inspect and use BPE tokenizers (train, encode, decode, stats)\n"
            "  complete   complete code at a point in a file, to the end of the block (-n K: ranked candidates)\n"
            "  fix        repair the first syntax error in a Python or C file; prints a unified diff\n"
            "  eval-code  a code model's figures on held-out files (bodies, FIM, bits/byte, repairs) beside an untrained one\n"
            "  train-image train a class-conditional diffusion model on labelled images (Fashion-MNIST by default)\n"
            "  imagine    draw images of a label (\"ankle boot\") with a model from train-image; writes a PNG grid\n"
            "  eval-image an image model's figures: a classifier's accuracy on what it draws, per label, and a Frechet distance\n"
            "  version    print the version\n"
            "\n"
            "Run 'loom COMMAND --help' for the flags of a command.\n",
            loom_version());
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "train")) return lm_cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "generate")) return lm_cmd_generate(argc - 1, argv + 1);
    if (!strcmp(cmd, "score")) return lm_cmd_score(argc - 1, argv + 1);
    if (!strcmp(cmd, "tokenizer")) return lm_cmd_tokenizer(argc - 1, argv + 1);
    if (!strcmp(cmd, "complete")) return lm_cmd_complete(argc - 1, argv + 1);
    if (!strcmp(cmd, "fix")) return lm_cmd_fix(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval-code")) return lm_cmd_eval_code(argc - 1, argv + 1);
    if (!strcmp(cmd, "train-image")) return lm_cmd_train_image(argc - 1, argv + 1);
    if (!strcmp(cmd, "imagine")) return lm_cmd_imagine(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval-image")) return lm_cmd_eval_image(argc - 1, argv + 1);
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
