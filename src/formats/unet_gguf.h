/* Image diffusion models (model/unet.h with its model/diffusion.h schedule) as GGUF v3 files.
 *
 * Metadata: general.architecture = "loom-unet", general.name, general.file_type 0 (F32),
 * general.alignment 32, and
 *   loom-unet.channels, .image_size, .levels, .widths (int32 array), .label_count, .groups,
 *   .head_dim (uint32), loom-unet.schedule ("cosine" | "linear"), loom-unet.diffusion_steps,
 *   loom-unet.labels (string array, label_count names).
 * Tensors: one per parameter view, by its name (conv_in.weight, down.0.res.conv1.weight, ...), F32,
 * in GGUF order (innermost first: a (Cout,Cin,3,3) convolution is ne = [3, 3, Cin, Cout]). */
#ifndef LM_UNET_GGUF_H
#define LM_UNET_GGUF_H

#include "model/diffusion.h"
#include "model/unet.h"
#include "formats/gguf.h"
#include "util/error.h"

/* Writes the file atomically. weights: the array to save (the EMA), or NULL for m->params.
 * label_names: cfg.n_labels names, or NULL (the labels are then saved as "0", "1", ...).
 * general.name is "loom-unet". */
loom_status lm_unet_save_gguf(const char *path, const lm_unet *m, const float *weights, const lm_diffusion *d,
                              char *const *label_names, lm_error *err);

/* Creates m (inference only: no gradients) and d from the file and loads the weights. A GGUF of
 * another architecture (a text model, "llama") is a one-line error saying so. *label_names gets
 * cfg.n_labels malloc'ed names plus a NULL after them; free them with lm_unet_labels_free. */
loom_status lm_unet_load_gguf(const char *path, lm_unet *m, lm_diffusion *d, char ***label_names, lm_error *err);

/* The same from a file already open (formats/gguf.h; lm_gguf_open_mem for one held in memory);
 * messages name it by lm_gguf_name. g stays open. */
loom_status lm_unet_from_gguf(const lm_gguf *g, lm_unet *m, lm_diffusion *d, char ***label_names, lm_error *err);
/* Frees a NULL-terminated array of malloc'ed names (NULL is fine). */
void lm_unet_labels_free(char **names);

#endif
