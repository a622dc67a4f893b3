/* Sampling images from a trained U-Net (model/unet.h) by reversing the diffusion process
 * (model/diffusion.h), with classifier-free guidance (Ho & Salimans 2022).
 *
 * Samplers:
 *   DDPM       ancestral sampling through all T steps (Ho et al. 2020): x_{t-1} drawn from the
 *              posterior q(x_{t-1} | x_t, x0_pred), variance beta_tilde_t = beta_t (1-ab_{t-1})/(1-ab_t).
 *   DDIM       deterministic (eta = 0) over `steps` timesteps (Song et al. 2021).
 *   DPM++(2M)  DPM-Solver++ 2M (Lu et al. 2022): a second-order multistep solver of the
 *              probability-flow ODE in the data prediction, stepping in log-SNR
 *              lambda = log(alpha/sigma), as diffusers' DPMSolverMultistepScheduler
 *              (dpmsolver++, order 2, midpoint) and k-diffusion's sample_dpmpp_2m. Its last step
 *              (to the clean image, sigma = 0) is first order, which returns the x0 prediction.
 * DDIM and DPM++ use "trailing" timesteps: t_k = round(T - k T/S) - 1, k = 0..S-1, so the first
 * step starts from t = T-1 (pure noise) whatever S is (leading spacing never reaches it and is
 * worse at few steps; Lin et al. 2024). Every sampler ends with a step to the clean image.
 * DDPM and DDIM clip each x0 prediction to [-1,1] (and DDIM re-derives eps from the clipped x0,
 * as guided-diffusion does); DPM++ does not clip along the way. The returned images are clamped
 * to [-1,1]. */
#ifndef LM_IMAGINE_H
#define LM_IMAGINE_H

#include <stdint.h>

#include "model/diffusion.h"
#include "model/unet.h"
#include "util/error.h"

typedef enum lm_image_sampler { LM_IMG_DDPM = 0, LM_IMG_DDIM = 1, LM_IMG_DPMPP_2M = 2 } lm_image_sampler;

typedef struct lm_imagine_opts {
    lm_image_sampler sampler;
    int steps;      /* DDIM/DPM++ steps (1..T); DDPM always uses all T */
    float guidance; /* classifier-free guidance scale w: eps = eps_u + w (eps_c - eps_u);
                       1 = no guidance (one pass), 0 = unconditional (one pass) */
    uint64_t seed;
    int batch;      /* images per forward pass (0 = all); with guidance each image is two rows */
    /* called after every step (step = 1..n_steps) with the current x0 prediction of all n images
     * (n, C, H, W), unclipped for DPM++; may be NULL */
    void (*on_step)(void *ud, int step, int n_steps, const float *x0_pred, int n_images);
    void *ud;
} lm_imagine_opts;

/* ddim, 50 steps, guidance 3, seed 0, batch 0, no callback. */
void lm_imagine_defaults(lm_imagine_opts *o);

/* labels (n) (a label or n_labels for unconditional) -> out (n,C,H,W) in [-1,1]. Deterministic for a
 * seed: image i's noise comes from its own RNG stream (seed, i), so it does not depend on batch
 * size (the arithmetic may: BLAS can round a row differently in a batch of another size, which
 * changes the images by float rounding only). */
loom_status lm_imagine(lm_unet *m, const lm_diffusion *d, const int32_t *labels, int n, const lm_imagine_opts *o,
                       float *out, lm_error *err);

/* The sampler loop alone, over any noise predictor: fn writes into eps (n, per_image) the predicted
 * noise of the n images x (n, per_image) at timestep index t (0..T-1, the same for all). Starts
 * from the noise of streams (o->seed, i) and leaves the images in out (n, per_image), clamped to
 * [-1,1]. lm_imagine is this with the U-Net and guidance as fn; tests use an exact predictor. */
typedef loom_status (*lm_eps_fn)(void *ud, const float *x, int t, float *eps, lm_error *err);
loom_status lm_diffusion_sample(const lm_diffusion *d, const lm_imagine_opts *o, int n, int64_t per_image,
                                lm_eps_fn fn, void *ud, float *out, lm_error *err);

/* The timesteps a sampler visits (n_steps of them, from noisiest); ts holds T entries. */
int lm_sampler_timesteps(const lm_diffusion *d, lm_image_sampler s, int steps, int *ts);

/* "ddpm", "ddim", "dpm++2m"; and back: 0 and *out set, or -1 for an unknown name. */
const char *lm_image_sampler_name(lm_image_sampler s);
int lm_image_sampler_parse(const char *name, lm_image_sampler *out);

#endif
