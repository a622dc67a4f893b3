/* loom against PyTorch: the same tiny models with the same weights (the files in tests/ref/, written
 * by tests/ref/make_ref.py) must give the same loss, logits, every parameter's gradient, and
 * the same weights after 3 AdamW steps with clipping. Tolerance: per tensor, the largest
 * difference at most 1e-4 of that tensor's largest value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "model/llama.h"
#include "ref_check.h"
#include "train/optim.h"

static void run_case(const char *file) {
    ref_file rf;
    ref_load_case(file, &rf);
    const int32_t *cfg = ref_need(&rf, "config")->data;
    const float *hp = ref_need(&rf, "hparams")->data;
    lm_llama_config c = {.vocab = cfg[0], .dim = cfg[1], .layers = cfg[2], .heads = cfg[3], .kv_heads = cfg[4],
                         .ffn_dim = cfg[5], .context = cfg[6], .tied = cfg[8], .norm_eps = 1e-5f,
                         .rope_theta = 10000.0f};
    int T = cfg[6], B = cfg[7];
    lm_llama m;
    lm_error err;
    assert_int_equal(lm_llama_create(&m, &c, 1, &err), 0);
    for (int i = 0; i < m.n_views; i++) {
        const ref_tensor *w = ref_need(&rf, m.views[i].name);
        assert_int_equal(w->n, (int64_t)m.views[i].n);
        memcpy(m.params + m.views[i].offset, w->data, m.views[i].n * sizeof(float));
    }
    lm_llama_graph lg;
    assert_int_equal(lm_llama_build(&lg, &m, B, T, 1, &err), 0);
    const int32_t *tok = ref_need(&rf, "tokens")->data;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            lm_idata(lg.g, lg.tokens)[b * T + t] = tok[b * (T + 1) + t];
            lm_idata(lg.g, lg.targets)[b * T + t] = tok[b * (T + 1) + t + 1];
        }
    double worst = 0;
    lm_adamw opt;
    assert_int_equal(lm_adamw_create(&opt, m.n_params, &err), 0);
    for (int step = 1; step <= 3; step++) {
        memset(m.grads, 0, m.n_params * sizeof(float));
        lm_graph_forward(lg.g);
        float loss = lm_value(lg.g, lg.loss);
        char name[96];
        snprintf(name, sizeof name, "loss.step%d", step);
        ref_check(name, &loss, ref_need(&rf, name), &worst);
        if (step == 1) {
            ref_check("loss", &loss, ref_need(&rf, "loss"), &worst);
            /* logits are read before backward: their buffer is free for reuse after it */
            ref_check("logits", lm_data(lg.g, lg.logits), ref_need(&rf, "logits"), &worst);
        }
        lm_graph_backward(lg.g);
        if (step == 1)
            for (int i = 0; i < m.n_views; i++) {
                snprintf(name, sizeof name, "grad.%s", m.views[i].name);
                ref_check(name, m.grads + m.views[i].offset, ref_need(&rf, name), &worst);
            }
        lm_adamw_step(&opt, &m, hp[0], hp[1], hp[2], hp[3], hp[4], hp[5]);
    }
    for (int i = 0; i < m.n_views; i++) {
        char name[96];
        snprintf(name, sizeof name, "step3.%s", m.views[i].name);
        ref_check(name, m.params + m.views[i].offset, ref_need(&rf, name), &worst);
    }
    printf("  %s: %d tensors, worst relative difference %.2e (limit %.0e)\n", file, m.n_views * 2 + 5, worst, REF_TOL);
    lm_adamw_free(&opt);
    lm_llama_graph_free(&lg);
    lm_llama_free(&m);
    ref_free(&rf);
}

static void test_gqa_untied(void **state) { run_case("case_gqa.bin"); }
static void test_tied(void **state) { run_case("case_tied.bin"); }

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_gqa_untied), cmocka_unit_test(test_tied)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
