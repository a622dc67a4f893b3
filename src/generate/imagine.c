#include "generate/imagine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/rng.h"

void lm_imagine_defaults(lm_imagine_opts *o) {
    memset(o, 0, sizeof *o);
    o->sampler = LM_IMG_DDIM;
    o->steps = 50;
    o->guidance = 3.0f;
}

const char *lm_image_sampler_name(lm_image_sampler s) {
    return s == LM_IMG_DDPM ? "ddpm" : s == LM_IMG_DPMPP_2M ? "dpm++2m" : "ddim";
}

int lm_image_sampler_parse(const char *name, lm_image_sampler *out) {
    if (!strcmp(name, "ddpm")) return *out = LM_IMG_DDPM, 0;
    if (!strcmp(name, "ddim")) return *out = LM_IMG_DDIM, 0;
    if (!strcmp(name, "dpm++2m") || !strcmp(name, "dpmpp2m") || !strcmp(name, "dpm++")) return *out = LM_IMG_DPMPP_2M, 0;
    return -1;
}

int lm_sampler_timesteps(const lm_diffusion *d, lm_image_sampler s, int steps, int *ts) {
    int T = d->steps;
    if (s == LM_IMG_DDPM || steps >= T) {
        for (int k = 0; k < T; k++) ts[k] = T - 1 - k;
        return T;
    }
    if (steps < 1) steps = 1;
    /* trailing: T/S >= 1 apart, so the rounded values are distinct and decreasing */
    for (int k = 0; k < steps; k++) ts[k] = (int)floor(T - (double)k * T / steps + 0.5) - 1;
    return steps;
}

/* Image i's own stream: a function of (seed, i) only. */
static void image_rng(lm_rng *r, uint64_t seed, int64_t i) {
    uint64_t x = seed, h = lm_splitmix64(&x) + (uint64_t)i;
    lm_rng_seed(r, lm_splitmix64(&h));
}

static float clampf(float v) { return v < -1.0f ? -1.0f : v > 1.0f ? 1.0f : v; }

loom_status lm_diffusion_sample(const lm_diffusion *d, const lm_imagine_opts *o, int n, int64_t per_image,
                                lm_eps_fn fn, void *ud, float *out, lm_error *err) {
    int T = d->steps;
    if (n < 1) return lm_fail(err, LOOM_ERR_ARG, "asked for %d images (ask for at least 1)", n);
    if (o->sampler != LM_IMG_DDPM && (o->steps < 1 || o->steps > T))
        return lm_fail(err, LOOM_ERR_ARG, "--steps %d is out of range for this model (1..%d, its diffusion steps)",
                       o->steps, T);
    int64_t N = (int64_t)n * per_image;
    int *ts = malloc((size_t)T * sizeof(int));
    lm_rng *rng = malloc((size_t)n * sizeof *rng);
    float *eps = malloc((size_t)N * sizeof(float)), *x0 = malloc((size_t)N * sizeof(float));
    float *x0_prev = o->sampler == LM_IMG_DPMPP_2M ? malloc((size_t)N * sizeof(float)) : NULL;
    loom_status s = LOOM_OK;
    if (!ts || !rng || !eps || !x0 || (o->sampler == LM_IMG_DPMPP_2M && !x0_prev)) {
        s = lm_fail(err, LOOM_ERR_NOMEM, "out of memory for %d images (ask for fewer)", n);
        goto done;
    }
    float *x = out;
    for (int i = 0; i < n; i++) {
        image_rng(&rng[i], o->seed, i);
        for (int64_t k = 0; k < per_image; k++) x[i * per_image + k] = (float)lm_rng_normal(&rng[i]);
    }
    int S = lm_sampler_timesteps(d, o->sampler, o->steps, ts);
    double h_prev = 0;
    for (int k = 0; k < S; k++) {
        int t = ts[k], tn = k + 1 < S ? ts[k + 1] : -1;
        if ((s = fn(ud, x, t, eps, err))) goto done;
        double ab = d->alpha_bar[t], abn = tn >= 0 ? d->alpha_bar[tn] : 1.0;
        double a = sqrt(ab), sg = sqrt(1.0 - ab), an = sqrt(abn), sgn = sqrt(1.0 - abn);
        int clip = o->sampler != LM_IMG_DPMPP_2M;
        for (int64_t j = 0; j < N; j++) {
            float v = (float)((x[j] - sg * eps[j]) / a);
            x0[j] = clip ? clampf(v) : v;
        }
        if (o->sampler == LM_IMG_DDPM) {
            /* posterior q(x_{t-1} | x_t, x0): mean c0 x0 + c1 x_t, variance beta_tilde */
            double beta = 1.0 - ab / abn;
            double c0 = beta * an / (1.0 - ab), c1 = (1.0 - abn) * sqrt(1.0 - beta) / (1.0 - ab);
            double sd = tn >= 0 ? sqrt(beta * (1.0 - abn) / (1.0 - ab)) : 0.0;
            for (int i = 0; i < n; i++)
                for (int64_t q = 0; q < per_image; q++) {
                    int64_t j = i * per_image + q;
                    double mean = c0 * x0[j] + c1 * x[j];
                    x[j] = (float)(sd > 0 ? mean + sd * lm_rng_normal(&rng[i]) : mean);
                }
        } else if (o->sampler == LM_IMG_DDIM) {
            for (int64_t j = 0; j < N; j++) {
                double e = sg > 0 ? (x[j] - a * x0[j]) / sg : eps[j];
                x[j] = (float)(an * x0[j] + sgn * e);
            }
        } else if (tn < 0) {
            memcpy(x, x0, (size_t)N * sizeof(float)); /* sigma_next = 0: the data prediction itself */
        } else {
            double h = log(an / sgn) - log(a / sg), ratio = sgn / sg, em = an * expm1(-h);
            if (k == 0) {
                for (int64_t j = 0; j < N; j++) x[j] = (float)(ratio * x[j] - em * x0[j]);
            } else {
                double r = h_prev / h, c = 1.0 / (2.0 * r);
                for (int64_t j = 0; j < N; j++) {
                    double D = (1.0 + c) * x0[j] - c * x0_prev[j];
                    x[j] = (float)(ratio * x[j] - em * D);
                }
            }
            memcpy(x0_prev, x0, (size_t)N * sizeof(float));
            h_prev = h;
        }
        if (o->on_step) o->on_step(o->ud, k + 1, S, x0, n);
    }
    for (int64_t j = 0; j < N; j++) x[j] = clampf(x[j]);
done:
    free(ts);
    free(rng);
    free(eps);
    free(x0);
    free(x0_prev);
    return s;
}

/* ---- the U-Net with classifier-free guidance as the noise predictor ---- */

typedef struct unet_eps {
    lm_unet *m;
    lm_unet_graph ug;
    const int32_t *labels;
    int n, chunk, passes; /* images, images per forward pass, rows per image (2 with guidance) */
    int uncond_only;      /* guidance 0: the one pass is unconditional */
    float w;
    int64_t per_image;
    float *temb;          /* (w0) */
} unet_eps;

static loom_status unet_eps_fn(void *ud, const float *x, int t, float *eps, lm_error *err) {
    unet_eps *u = ud;
    lm_graph *g = u->ug.g;
    int B = u->ug.B, w0 = u->m->cfg.widths[0], nl = u->m->cfg.n_labels;
    int64_t P = u->per_image;
    float *gx = lm_data(g, u->ug.x), *gt = lm_data(g, u->ug.temb);
    int32_t *gl = lm_idata(g, u->ug.labels);
    lm_unet_time_embed(u->temb, (double)t, w0);
    for (int r = 0; r < B; r++) memcpy(gt + (int64_t)r * w0, u->temb, (size_t)w0 * sizeof(float));
    for (int i0 = 0; i0 < u->n; i0 += u->chunk) {
        int cnt = u->n - i0 < u->chunk ? u->n - i0 : u->chunk;
        /* rows: [conditional chunk | unconditional chunk]; rows past cnt are padding */
        for (int p = 0; p < u->passes; p++)
            for (int j = 0; j < u->chunk; j++) {
                int r = p * u->chunk + j;
                if (j < cnt) {
                    memcpy(gx + r * P, x + (int64_t)(i0 + j) * P, (size_t)P * sizeof(float));
                    gl[r] = p == 0 && !u->uncond_only ? u->labels[i0 + j] : nl;
                } else {
                    memset(gx + r * P, 0, (size_t)P * sizeof(float));
                    gl[r] = nl;
                }
            }
        lm_graph_forward(g);
        const float *ge = lm_data(g, u->ug.eps);
        for (int j = 0; j < cnt; j++) {
            float *e = eps + (int64_t)(i0 + j) * P;
            const float *ec = ge + (int64_t)j * P;
            if (u->passes == 1) {
                memcpy(e, ec, (size_t)P * sizeof(float));
            } else {
                const float *eu = ge + (int64_t)(u->chunk + j) * P;
                for (int64_t q = 0; q < P; q++) e[q] = eu[q] + u->w * (ec[q] - eu[q]);
            }
        }
    }
    (void)err;
    return LOOM_OK;
}

loom_status lm_imagine(lm_unet *m, const lm_diffusion *d, const int32_t *labels, int n, const lm_imagine_opts *o,
                       float *out, lm_error *err) {
    const lm_unet_config *c = &m->cfg;
    if (n < 1) return lm_fail(err, LOOM_ERR_ARG, "asked for %d images (ask for at least 1)", n);
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] > c->n_labels)
            return lm_fail(err, LOOM_ERR_ARG, "label %d of image %d is out of range (0..%d; %d = unconditional)",
                           (int)labels[i], i, c->n_labels, c->n_labels);
    if (!(o->guidance >= 0.0f) || o->guidance > 100.0f)
        return lm_fail(err, LOOM_ERR_ARG, "guidance %g is out of range (0..100; 1 = none, 3 is usual)", o->guidance);
    unet_eps u = {.m = m, .labels = labels, .n = n, .w = o->guidance};
    u.chunk = o->batch > 0 && o->batch < n ? o->batch : n;
    u.passes = o->guidance == 1.0f || o->guidance == 0.0f || c->n_labels == 0 ? 1 : 2;
    u.uncond_only = o->guidance == 0.0f || c->n_labels == 0;
    u.per_image = (int64_t)c->channels * c->size * c->size;
    u.temb = malloc((size_t)c->widths[0] * sizeof(float));
    if (!u.temb) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    /* one graph for the whole run: building and planning it costs more than a small forward pass */
    loom_status s = lm_unet_build(&u.ug, m, u.chunk * u.passes, 0, err);
    if (!s) s = lm_diffusion_sample(d, o, n, u.per_image, unet_eps_fn, &u, out, err);
    lm_unet_graph_free(&u.ug);
    free(u.temb);
    return s;
}
