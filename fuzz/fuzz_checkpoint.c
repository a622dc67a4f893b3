/* libFuzzer target: the training checkpoint readers, text (lm_ckpt_peek_mem, lm_ckpt_load_mem,
 * magic LMCK) and image (lm_ckpt_image_peek_mem, lm_ckpt_image_load_mem, magic LMCI), used as a
 * resumed run uses them: peek, create the model the header describes, load the arrays into it.
 * Each input is read as it is and with its trailing CRC-32 recomputed, so that mutated files
 * also get past the checksum into the checks of the header. */
#include "files.h"

#include "train/checkpoint.h"
#include "train/ckpt_image.h"

static void text(const uint8_t *data, size_t size) {
    lm_train_opts o;
    lm_train_defaults(&o);
    lm_llama_config cfg;
    lm_ckpt_state st;
    lm_error err = {0};
    if (lm_ckpt_peek_mem(data, size, "fuzz.ckpt", &o, &cfg, &st, &err) != LOOM_OK) {
        check_err(&err);
        return;
    }
    lm_llama m;
    if (lm_llama_create(&m, &cfg, 0, &err) != LOOM_OK) {
        check_err(&err);
        return;
    }
    float *am = malloc(m.n_params * sizeof(float)), *av = malloc(m.n_params * sizeof(float));
    lm_ckpt_state st2;
    if (am && av) {
        if (lm_ckpt_load_mem(data, size, "fuzz.ckpt", &m, am, av, &st2, &err) == LOOM_OK)
            check(st2.step == st.step && st2.tokens_seen == st.tokens_seen, "peek and load disagree on the state");
        else
            check_err(&err);
    }
    free(am);
    free(av);
    lm_llama_free(&m);
}

static void image(const uint8_t *data, size_t size) {
    lm_train_image_opts o;
    lm_train_image_defaults(&o);
    lm_unet_config cfg;
    lm_ckpt_image_state st;
    char *data_path = NULL;
    lm_error err = {0};
    if (lm_ckpt_image_peek_mem(data, size, "fuzz.ckpt", &o, &cfg, &st, &data_path, &err) != LOOM_OK) {
        check_err(&err);
        check(data_path == NULL, "a failed peek handed out a data path");
        return;
    }
    free(data_path);
    lm_unet m;
    if (lm_unet_create(&m, &cfg, 0, &err) != LOOM_OK) {
        check_err(&err);
        return;
    }
    size_t n = m.n_params;
    float *am = malloc(n * sizeof(float)), *av = malloc(n * sizeof(float)), *ema = malloc(n * sizeof(float));
    lm_ckpt_image_state st2;
    if (am && av && ema) {
        if (lm_ckpt_image_load_mem(data, size, "fuzz.ckpt", &m, am, av, ema, &st2, &err) == LOOM_OK)
            check(st2.step == st.step && st2.n_train == st.n_train, "peek and load disagree on the state");
        else
            check_err(&err);
    }
    free(am);
    free(av);
    free(ema);
    lm_unet_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    text(data, size);
    image(data, size);
    uint8_t *c = fuzz_fix_crc(data, size);
    if (c) {
        text(c, size);
        image(c, size);
        free(c);
    }
    return 0;
}
