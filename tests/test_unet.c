/* The image diffusion model: the U-Net against its PyTorch twin (tests/ref/unet_tiny.bin, written
 * by tests/ref/make_unet_ref.py: the predicted noise, the loss and every parameter's gradient
 * within 1e-4 of each tensor's largest value), its parameter count, GGUF round trips, the noise
 * schedules against their formulas, and the samplers: determinism, independence from the batch
 * size, and, with the exact noise predictor of Gaussian data, the trajectories that theory gives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/gguf.h"
#include "formats/unet_gguf.h"
#include "generate/imagine.h"
#include "model/diffusion.h"
#include "model/unet.h"
#include "ref_check.h"
#include "util/rng.h"

static double max_abs_diff(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d != d) return INFINITY;
        if (d > m) m = d;
    }
    return m;
}

static void tmp_path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "/tmp/loom_test_unet_%d_%s", (int)getpid(), name);
}

/* A tiny model (8x8 grey, widths 8/16/16, 3 labels) with every tensor random, the zero-initialised
 * ones included, so that its predictions depend on everything. */
static void tiny_model(lm_unet *m, int with_grads, uint64_t seed) {
    lm_unet_config c;
    lm_unet_defaults(&c);
    c.size = 8;
    c.widths[0] = 8, c.widths[1] = 16, c.widths[2] = 16;
    c.n_labels = 3;
    c.groups = 4;
    c.head_dim = 8;
    lm_error err;
    assert_int_equal(lm_unet_create(m, &c, with_grads, &err), LOOM_OK);
    lm_unet_init(m, seed);
    lm_rng r;
    lm_rng_seed(&r, seed + 1);
    for (int i = 0; i < m->n_views; i++) {
        const lm_param_view *v = &m->views[i];
        float *p = m->params + v->offset;
        int zero = 1;
        for (size_t k = 0; k < v->n; k++) zero &= p[k] == 0.0f;
        if (zero)
            for (size_t k = 0; k < v->n; k++) p[k] = 0.1f * (float)lm_rng_normal(&r);
    }
}

/* ---- the model ---- */

static void test_param_count(void **state) {
    lm_unet_config c;
    lm_unet_defaults(&c);
    lm_unet m;
    lm_error err;
    assert_int_equal(lm_unet_create(&m, &c, 0, &err), LOOM_OK);
    size_t sum = 0;
    for (int i = 0; i < m.n_views; i++) {
        assert_int_equal(m.views[i].offset, sum); /* contiguous, in layout order */
        sum += m.views[i].n;
    }
    assert_int_equal(sum, m.n_params);
    assert_int_equal(lm_unet_n_params(&c), m.n_params); /* counted without allocating */
    printf("  default U-Net (28x28 grey, widths 32/64/128, 10 labels): %zu parameters in %d tensors\n", m.n_params,
           m.n_views);
    /* the same count as bench/unet_torch.py's UNet() */
    assert_int_equal(m.n_params, 2065281);
    /* init: zero-initialised branch ends, unit GroupNorm weights, bounded conv weights */
    lm_unet_init(&m, 1);
    const lm_param_view *v = lm_unet_find(&m, "up.0.res.conv2.weight");
    assert_non_null(v);
    for (size_t k = 0; k < v->n; k++) assert_true(m.params[v->offset + k] == 0.0f);
    v = lm_unet_find(&m, "mid.attn.norm.weight");
    assert_non_null(v);
    assert_true(m.params[v->offset] == 1.0f);
    v = lm_unet_find(&m, "down.1.res.conv1.weight");
    assert_non_null(v);
    assert_int_equal(v->ndim, 4);
    assert_int_equal(v->shape[0], 64);
    assert_int_equal(v->shape[1], 32);
    double bound = 1.0 / sqrt(32.0 * 9.0), mx = 0;
    for (size_t k = 0; k < v->n; k++) mx = fmax(mx, fabs(m.params[v->offset + k]));
    assert_true(mx <= bound && mx > 0.9 * bound);
    lm_unet_free(&m);
}

static void test_config_errors(void **state) {
    lm_unet_config c;
    lm_unet m;
    lm_error err;
    lm_unet_defaults(&c);
    c.size = 30; /* not a multiple of 4 */
    assert_int_equal(lm_unet_create(&m, &c, 0, &err), LOOM_ERR_ARG);
    assert_non_null(strstr(err.msg, "image size 30"));
    lm_unet_defaults(&c);
    c.widths[1] = 60; /* not a multiple of 8 groups */
    assert_int_equal(lm_unet_check_config(&c, &err), LOOM_ERR_ARG);
    assert_non_null(strstr(err.msg, "GroupNorm"));
    lm_unet_defaults(&c);
    c.widths[2] = 136; /* not a multiple of head size 32 */
    assert_int_equal(lm_unet_check_config(&c, &err), LOOM_ERR_ARG);
    assert_non_null(strstr(err.msg, "head size"));
}

static void fill_inputs(lm_unet_graph *ug, const ref_file *rf, int with_target) {
    const ref_tensor *x = ref_need(rf, "x"), *te = ref_need(rf, "temb"), *lb = ref_need(rf, "labels");
    memcpy(lm_data(ug->g, ug->x), x->data, (size_t)x->n * sizeof(float));
    memcpy(lm_data(ug->g, ug->temb), te->data, (size_t)te->n * sizeof(float));
    memcpy(lm_idata(ug->g, ug->labels), lb->data, (size_t)lb->n * sizeof(int32_t));
    if (with_target) {
        const ref_tensor *y = ref_need(rf, "target");
        memcpy(lm_data(ug->g, ug->target), y->data, (size_t)y->n * sizeof(float));
    }
}

static void test_torch_reference(void **state) {
    ref_file rf;
    ref_load_case("unet_tiny.bin", &rf);
    const int32_t *cfg = ref_need(&rf, "config")->data;
    lm_unet_config c;
    memset(&c, 0, sizeof c);
    c.channels = cfg[0], c.size = cfg[1], c.levels = cfg[2];
    for (int l = 0; l < c.levels; l++) c.widths[l] = cfg[3 + l];
    c.n_labels = cfg[3 + c.levels], c.groups = cfg[4 + c.levels], c.head_dim = cfg[5 + c.levels];
    int B = cfg[6 + c.levels];
    lm_unet m;
    lm_error err;
    assert_int_equal(lm_unet_create(&m, &c, 1, &err), LOOM_OK);
    for (int i = 0; i < m.n_views; i++) {
        const lm_param_view *v = &m.views[i];
        const ref_tensor *w = ref_need(&rf, v->name);
        assert_int_equal(w->ndim, v->ndim);
        for (int d = 0; d < v->ndim; d++) assert_int_equal(w->dims[d], v->shape[d]);
        memcpy(m.params + v->offset, w->data, v->n * sizeof(float));
    }
    double worst = 0;
    /* the time embedding the reference fed in is lm_unet_time_embed's */
    const int32_t *t = ref_need(&rf, "t")->data;
    const ref_tensor *te = ref_need(&rf, "temb");
    float *emb = malloc((size_t)te->n * sizeof(float));
    assert_non_null(emb);
    for (int b = 0; b < B; b++) lm_unet_time_embed(emb + b * c.widths[0], (double)t[b], c.widths[0]);
    ref_check("temb", emb, te, &worst);
    free(emb);

    lm_unet_graph ug;
    assert_int_equal(lm_unet_build(&ug, &m, B, 1, &err), LOOM_OK);
    fill_inputs(&ug, &rf, 1);
    /* twice: the second pass must not see anything the first left behind */
    for (int pass = 0; pass < 2; pass++) {
        memset(m.grads, 0, m.n_params * sizeof(float));
        lm_graph_forward(ug.g);
        float loss = lm_value(ug.g, ug.loss);
        ref_check("loss", &loss, ref_need(&rf, "loss"), &worst);
        ref_check("eps", lm_data(ug.g, ug.eps), ref_need(&rf, "eps"), &worst);
        lm_graph_backward(ug.g);
        for (int i = 0; i < m.n_views; i++) {
            char name[96];
            snprintf(name, sizeof name, "grad.%s", m.views[i].name);
            ref_check(name, m.grads + m.views[i].offset, ref_need(&rf, name), &worst);
        }
    }
    lm_unet_graph_free(&ug);

    /* the inference graph computes the same noise */
    assert_int_equal(lm_unet_build(&ug, &m, B, 0, &err), LOOM_OK);
    fill_inputs(&ug, &rf, 0);
    lm_graph_forward(ug.g);
    ref_check("eps (inference graph)", lm_data(ug.g, ug.eps), ref_need(&rf, "eps"), &worst);
    lm_unet_graph_free(&ug);
    printf("  unet_tiny.bin: %zu parameters, eps, loss and %d gradients, worst relative difference %.2e (limit "
           "%.0e)\n",
           m.n_params, m.n_views, worst, REF_TOL);
    lm_unet_free(&m);
    ref_free(&rf);
}

/* ---- files ---- */

static void test_gguf_roundtrip(void **state) {
    lm_unet m;
    tiny_model(&m, 0, 11);
    lm_diffusion d;
    lm_error err;
    assert_int_equal(lm_diffusion_create(&d, LM_SCHEDULE_LINEAR, 250, &err), LOOM_OK);
    char path[256];
    tmp_path(path, sizeof path, "rt.gguf");
    char *names[3] = {"T-shirt/top", "Trouser", "Ankle boot"};
    /* an EMA array distinct from the parameters: it is what gets saved */
    float *ema = malloc(m.n_params * sizeof(float));
    assert_non_null(ema);
    for (size_t i = 0; i < m.n_params; i++) ema[i] = m.params[i] * 0.5f + 0.25f;
    assert_int_equal(lm_unet_save_gguf(path, &m, ema, &d, names, &err), LOOM_OK);

    lm_unet m2;
    lm_diffusion d2;
    char **labels;
    assert_int_equal(lm_unet_load_gguf(path, &m2, &d2, &labels, &err), LOOM_OK);
    assert_memory_equal(&m2.cfg, &m.cfg, sizeof m.cfg);
    assert_null(m2.grads);
    assert_int_equal(m2.n_params, m.n_params);
    assert_memory_equal(m2.params, ema, m.n_params * sizeof(float));
    assert_int_equal(d2.steps, 250);
    assert_int_equal(d2.schedule, LM_SCHEDULE_LINEAR);
    assert_memory_equal(d2.alpha_bar, d.alpha_bar, 250 * sizeof(double));
    for (int i = 0; i < 3; i++) assert_string_equal(labels[i], names[i]);
    assert_null(labels[3]);
    lm_unet_labels_free(labels);
    lm_unet_free(&m2);
    lm_diffusion_free(&d2);

    /* GGUF tensor shapes: innermost first */
    lm_gguf *g;
    assert_int_equal(lm_gguf_open(path, &g, &err), LOOM_OK);
    assert_string_equal(lm_gguf_get_str(g, "general.architecture"), "loom-unet");
    const lm_gguf_tensor *t = lm_gguf_find_tensor(g, "down.1.res.conv1.weight");
    assert_non_null(t);
    assert_int_equal(t->n_dims, 4);
    assert_int_equal(t->ne[0], 3);
    assert_int_equal(t->ne[2], 8);
    assert_int_equal(t->ne[3], 16);
    lm_gguf_close(g);

    /* NULL weights: the parameters; NULL names: numbers */
    assert_int_equal(lm_unet_save_gguf(path, &m, NULL, &d, NULL, &err), LOOM_OK);
    assert_int_equal(lm_unet_load_gguf(path, &m2, &d2, &labels, &err), LOOM_OK);
    assert_memory_equal(m2.params, m.params, m.n_params * sizeof(float));
    assert_string_equal(labels[2], "2");
    lm_unet_labels_free(labels);
    lm_unet_free(&m2);
    lm_diffusion_free(&d2);

    /* a text model is refused in one line that says what to use instead */
    lm_gguf_writer *w = lm_gguf_writer_create();
    lm_gguf_set_str(w, "general.architecture", "llama");
    lm_gguf_set_str(w, "tokenizer.ggml.model", "gpt2");
    float one = 1;
    int64_t ne[1] = {1};
    lm_gguf_add_tensor(w, "output_norm.weight", 1, ne, LM_GGUF_F32, &one);
    assert_int_equal(lm_gguf_write(w, path, &err), LOOM_OK);
    lm_gguf_writer_free(w);
    assert_int_equal(lm_unet_load_gguf(path, &m2, &d2, &labels, &err), LOOM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "text model"));
    assert_non_null(strstr(err.msg, "train-image"));
    assert_null(strchr(err.msg, '\n'));
    assert_null(labels);
    unlink(path);
    /* a missing file */
    assert_int_not_equal(lm_unet_load_gguf(path, &m2, &d2, &labels, &err), LOOM_OK);
    free(ema);
    lm_diffusion_free(&d);
    lm_unet_free(&m);
}

/* ---- schedules ---- */

static double cosine_f(double u) {
    double c = cos((u + 0.008) / 1.008 * M_PI / 2);
    return c * c;
}

static void test_schedules(void **state) {
    lm_diffusion d;
    lm_error err;
    assert_int_equal(lm_diffusion_create(&d, LM_SCHEDULE_COSINE, 1000, &err), LOOM_OK);
    for (int t = 0; t < 1000; t++) {
        assert_true(d.alpha_bar[t] > 0 && d.alpha_bar[t] < 1);
        assert_true(d.beta[t] > 0 && d.beta[t] <= 0.999);
        if (t) assert_true(d.alpha_bar[t] < d.alpha_bar[t - 1]);
    }
    int probe[4] = {0, 1, 500, 990};
    for (int i = 0; i < 4; i++) {
        int t = probe[i];
        double want = cosine_f((t + 1) / 1000.0) / cosine_f(0);
        assert_true(fabs(d.alpha_bar[t] - want) <= 1e-9 * want);
    }
    assert_true(d.beta[999] == 0.999); /* f(1) = 0: the last beta is clipped */
    lm_diffusion_free(&d);

    assert_int_equal(lm_diffusion_create(&d, LM_SCHEDULE_LINEAR, 1000, &err), LOOM_OK);
    assert_true(fabs(d.beta[0] - 1e-4) < 1e-15 && fabs(d.beta[999] - 0.02) < 1e-15);
    double ab = 1;
    for (int t = 0; t < 1000; t++) {
        double b = 1e-4 + (0.02 - 1e-4) * t / 999.0;
        assert_true(fabs(d.beta[t] - b) < 1e-15);
        ab *= 1 - b;
        assert_true(fabs(d.alpha_bar[t] - ab) <= 1e-12 * ab);
        if (t) assert_true(d.alpha_bar[t] < d.alpha_bar[t - 1]);
    }
    lm_diffusion_free(&d);
    /* fewer steps: scaled so that the chain still ends near pure noise */
    assert_int_equal(lm_diffusion_create(&d, LM_SCHEDULE_LINEAR, 100, &err), LOOM_OK);
    assert_true(fabs(d.beta[0] - 1e-3) < 1e-15 && fabs(d.beta[99] - 0.2) < 1e-15);
    assert_true(d.alpha_bar[99] < 1e-3);

    /* x_t = sqrt(ab_t) x0 + sqrt(1-ab_t) eps, per image */
    float x0[6] = {1, -1, 0.5f, 0.25f, 0, -0.5f}, eps[6] = {0.1f, 0.2f, -0.3f, 1, -1, 2}, xt[6];
    int32_t ts[2] = {3, 77};
    lm_diffusion_noise(&d, xt, x0, eps, ts, 2, 3);
    for (int i = 0; i < 6; i++) {
        double a = d.alpha_bar[ts[i / 3]];
        assert_true(fabs(xt[i] - (sqrt(a) * x0[i] + sqrt(1 - a) * eps[i])) < 1e-6);
    }
    lm_diffusion_free(&d);
    assert_int_equal(lm_diffusion_create(&d, LM_SCHEDULE_COSINE, 1, &err), LOOM_ERR_ARG);

    /* trailing timesteps: from T-1 down, evenly spaced, distinct */
    assert_int_equal(lm_diffusion_create(&d, LM_SCHEDULE_COSINE, 1000, &err), LOOM_OK);
    int ts2[1000];
    assert_int_equal(lm_sampler_timesteps(&d, LM_IMG_DDIM, 50, ts2), 50);
    assert_int_equal(ts2[0], 999);
    assert_int_equal(ts2[1], 979);
    assert_int_equal(ts2[49], 19);
    assert_int_equal(lm_sampler_timesteps(&d, LM_IMG_DPMPP_2M, 3, ts2), 3);
    assert_int_equal(ts2[0], 999);
    assert_int_equal(ts2[1], 666);
    assert_int_equal(ts2[2], 332);
    assert_int_equal(lm_sampler_timesteps(&d, LM_IMG_DDPM, 50, ts2), 1000);
    assert_int_equal(ts2[999], 0);
    lm_diffusion_free(&d);
}

/* ---- samplers ---- */

/* The exact noise predictor for data x0 ~ N(0, s^2) per pixel: E[eps | x_t] = sqrt(1-ab) x_t /
 * (ab s^2 + 1 - ab). It records the starting noise (its first call's x). */
typedef struct gauss {
    const lm_diffusion *d;
    double s2;
    float *first;
    int64_t n;
    int calls;
} gauss;

static loom_status gauss_eps(void *ud, const float *x, int t, float *eps, lm_error *err) {
    gauss *g = ud;
    if (!g->calls++) memcpy(g->first, x, (size_t)g->n * sizeof(float));
    double ab = g->d->alpha_bar[t], k = sqrt(1 - ab) / (ab * g->s2 + 1 - ab);
    for (int64_t i = 0; i < g->n; i++) eps[i] = (float)(k * x[i]);
    return LOOM_OK;
}

/* The probability-flow ODE maps x_T to x_T s / sqrt(ab_T s^2 + 1 - ab_T) for Gaussian data; returns
 * the largest error of a deterministic sampler against it (pixels whose answer is well inside
 * [-1,1], as clipping is not part of the ODE). */
static double ode_error(lm_image_sampler smp, int steps, int n, int64_t P, double s, int *calls) {
    lm_diffusion d;
    lm_error err;
    assert_int_equal(lm_diffusion_create(&d, LM_SCHEDULE_COSINE, 1000, &err), LOOM_OK);
    gauss g = {.d = &d, .s2 = s * s, .n = n * P};
    g.first = malloc((size_t)(n * P) * sizeof(float));
    float *out = malloc((size_t)(n * P) * sizeof(float));
    assert_true(g.first && out);
    lm_imagine_opts o;
    lm_imagine_defaults(&o);
    o.sampler = smp;
    o.steps = steps;
    o.seed = 42;
    assert_int_equal(lm_diffusion_sample(&d, &o, n, P, gauss_eps, &g, out, &err), LOOM_OK);
    double abT = d.alpha_bar[999], k = s / sqrt(abT * s * s + 1 - abT), worst = 0;
    for (int64_t i = 0; i < n * P; i++) {
        double want = k * g.first[i];
        if (fabs(want) < 0.9) worst = fmax(worst, fabs(out[i] - want));
    }
    *calls = g.calls;
    free(g.first);
    free(out);
    lm_diffusion_free(&d);
    return worst;
}

static void test_sampler_ode(void **state) {
    int calls;
    /* DDIM is first order: 1000 steps land near the ODE's answer, 50 steps about 20 times further */
    double e1000 = ode_error(LM_IMG_DDIM, 1000, 2, 256, 0.3, &calls);
    printf("  Gaussian data, exact noise: DDIM 1000 steps ends %.2e from the ODE's answer\n", e1000);
    assert_int_equal(calls, 1000);
    assert_true(e1000 < 3e-3);
    double e50 = ode_error(LM_IMG_DDIM, 50, 2, 256, 0.3, &calls);
    printf("  DDIM 50 steps: %.2e\n", e50);
    assert_int_equal(calls, 50);
    assert_true(e50 < 5e-2 && e50 > 8 * e1000);
    /* DPM-Solver++(2M) is second order: 50 steps do better than DDIM's 1000 */
    double e = ode_error(LM_IMG_DPMPP_2M, 50, 2, 256, 0.3, &calls);
    printf("  DPM++(2M) 50 steps: %.2e\n", e);
    assert_int_equal(calls, 50);
    assert_true(e < 1e-3 && e < e1000);

    /* DDPM draws from the data distribution: its samples have the data's spread */
    lm_diffusion d;
    lm_error err;
    assert_int_equal(lm_diffusion_create(&d, LM_SCHEDULE_COSINE, 1000, &err), LOOM_OK);
    int n = 4;
    int64_t P = 1024;
    gauss g = {.d = &d, .s2 = 0.09, .n = n * P};
    g.first = malloc((size_t)(n * P) * sizeof(float));
    float *out = malloc((size_t)(n * P) * sizeof(float));
    assert_true(g.first && out);
    lm_imagine_opts o;
    lm_imagine_defaults(&o);
    o.sampler = LM_IMG_DDPM;
    assert_int_equal(lm_diffusion_sample(&d, &o, n, P, gauss_eps, &g, out, &err), LOOM_OK);
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < n * P; i++) sum += out[i], sq += (double)out[i] * out[i];
    double mean = sum / (n * P), sd = sqrt(sq / (n * P) - mean * mean);
    printf("  DDPM 1000 steps on N(0, 0.3^2) data: mean %.4f, sd %.4f\n", mean, sd);
    assert_true(fabs(mean) < 0.03 && fabs(sd - 0.3) < 0.03);
    free(g.first);
    free(out);
    lm_diffusion_free(&d);
}

static void test_sampler_determinism(void **state) {
    lm_unet m;
    tiny_model(&m, 0, 5);
    lm_diffusion d;
    lm_error err;
    assert_int_equal(lm_diffusion_create(&d, LM_SCHEDULE_COSINE, 20, &err), LOOM_OK);
    int n = 5;
    int32_t labels[5] = {0, 1, 2, 3, 1}; /* 3 = unconditional */
    int64_t P = 64, N = n * P;
    float *a = malloc((size_t)N * sizeof(float)), *b = malloc((size_t)N * sizeof(float));
    assert_true(a && b);
    lm_image_sampler smp[3] = {LM_IMG_DDIM, LM_IMG_DPMPP_2M, LM_IMG_DDPM};
    for (int k = 0; k < 3; k++) {
        lm_imagine_opts o;
        lm_imagine_defaults(&o);
        o.sampler = smp[k];
        o.steps = 8;
        o.seed = 1234;
        assert_int_equal(lm_imagine(&m, &d, labels, n, &o, a, &err), LOOM_OK);
        for (int64_t i = 0; i < N; i++) assert_true(a[i] >= -1.0f && a[i] <= 1.0f && a[i] == a[i]);
        assert_int_equal(lm_imagine(&m, &d, labels, n, &o, b, &err), LOOM_OK);
        assert_memory_equal(a, b, (size_t)N * sizeof(float)); /* same seed, same images */
        o.batch = 2;                                          /* 2 + 2 + 1 */
        assert_int_equal(lm_imagine(&m, &d, labels, n, &o, b, &err), LOOM_OK);
        double diff = max_abs_diff(a, b, N);
        printf("  %s: batch 2 vs all 5 in one pass: max difference %.2e\n", lm_image_sampler_name(smp[k]), diff);
        /* Not bit for bit: the Winograd convolution puts several images' tiles in one sgemm,
         * and OpenBLAS rounds a column differently depending on where it lands (measured: 1e-6
         * on one convolution); the noisiest steps divide eps by sqrt(alpha_bar) and amplify
         * that (6.6e-4 for DDIM here). The bound that matters is the written picture: under
         * one 8-bit grey level, 2/255 of the [-1,1] range. */
        assert_true(diff < 2.0 / 255);
        /* image 3 alone (n = 1) is not image 0 of another run: streams are per index */
        o.batch = 0;
        o.seed = 1235;
        assert_int_equal(lm_imagine(&m, &d, labels, n, &o, b, &err), LOOM_OK);
        assert_true(max_abs_diff(a, b, N) > 1e-2);
    }
    /* guidance changes the images; errors are reported, not crashed on */
    lm_imagine_opts o;
    lm_imagine_defaults(&o);
    o.steps = 8;
    assert_int_equal(lm_imagine(&m, &d, labels, n, &o, a, &err), LOOM_OK);
    o.guidance = 1;
    assert_int_equal(lm_imagine(&m, &d, labels, n, &o, b, &err), LOOM_OK);
    assert_true(max_abs_diff(a, b, N) > 1e-3);
    o.steps = 21;
    assert_int_equal(lm_imagine(&m, &d, labels, n, &o, b, &err), LOOM_ERR_ARG);
    assert_non_null(strstr(err.msg, "--steps"));
    o.steps = 8;
    labels[0] = 4;
    assert_int_equal(lm_imagine(&m, &d, labels, n, &o, b, &err), LOOM_ERR_ARG);
    free(a);
    free(b);
    lm_diffusion_free(&d);
    lm_unet_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_param_count),      cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_torch_reference),  cmocka_unit_test(test_gguf_roundtrip),
        cmocka_unit_test(test_schedules),        cmocka_unit_test(test_sampler_ode),
        cmocka_unit_test(test_sampler_determinism),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
