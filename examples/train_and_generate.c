/* The C API in a few lines: train a small model on a text file, load it, generate.
 *
 *   train_and_generate CORPUS OUT_DIR
 */
#include <stdio.h>

#include "loom.h"

static int print_token(const loom_token *t, void *user) {
    fwrite(t->text, 1, t->len, stdout); /* whole UTF-8 characters only */
    (*(int *)user)++;
    return 0; /* non-zero would stop */
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s CORPUS OUT_DIR\n", argv[0]);
        return 2;
    }
    loom_error err;

    loom_train_params tp;
    loom_train_params_default(&tp);
    tp.data = argv[1];
    tp.out_dir = argv[2];
    tp.layers = 2, tp.heads = 2, tp.dim = 32, tp.context = 32, tp.batch = 4, tp.steps = 60;
    tp.overwrite = 1; /* a second run of the example starts afresh */
    tp.quiet = 1;
    if (loom_train(&tp, &err) != LOOM_OK) {
        fprintf(stderr, "train: %s\n", err.msg);
        return 1;
    }

    char path[4096];
    snprintf(path, sizeof path, "%s/model.gguf", argv[2]);
    loom_model *model;
    if (loom_model_load(path, &model, &err) != LOOM_OK) {
        fprintf(stderr, "load: %s\n", err.msg);
        return 1;
    }
    loom_generate_params gp;
    loom_generate_params_default(&gp);
    gp.prompt = "The ";
    gp.n_predict = 40;
    gp.sampling.temperature = 0; /* greedy: the same text every time */
    int n = 0;
    printf("%s", gp.prompt);
    loom_status s = loom_generate(model, &gp, print_token, &n, &err);
    printf("\n");
    loom_model_free(model);
    if (s != LOOM_OK) {
        fprintf(stderr, "generate: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr, "%d tokens generated\n", n);
    return n == 40 ? 0 : 1;
}
