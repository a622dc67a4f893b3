/* The image classifier of `loom eval-image` (model/classifier.h) as a GGUF v3 file.
 *
 * Metadata: general.architecture = "loom-classifier", general.name, general.file_type 0 (F32),
 * general.alignment 32, and
 *   loom-classifier.channels, .image_size, .widths (int32 array, 3), .hidden, .groups,
 *   .label_count (uint32), loom-classifier.labels (string array, label_count names),
 *   and what the training recorded: .data (string), .epochs (uint32), .test_accuracy (float64),
 *   .train_seconds (float64), each only when known.
 * Tensors: one per parameter view (conv0.weight, ..., fc2.bias), F32, in GGUF order (innermost
 * first: a (Cout,Cin,3,3) convolution is ne = [3, 3, Cin, Cout]). */
#ifndef LM_CLASSIFIER_GGUF_H
#define LM_CLASSIFIER_GGUF_H

#include "model/classifier.h"
#include "formats/gguf.h"
#include "util/error.h"

typedef struct lm_classifier_info {
    char *data;           /* the images it was trained on, or NULL (load: malloc'ed, free it) */
    int epochs;           /* 0: not recorded */
    double test_accuracy; /* < 0: not measured */
    double train_seconds; /* < 0: not recorded */
} lm_classifier_info;

/* Writes the file atomically. label_names: cfg.n_labels names. info may be NULL. */
loom_status lm_classifier_save_gguf(const char *path, const lm_classifier *m, char *const *label_names,
                                    const lm_classifier_info *info, lm_error *err);

/* Creates m (inference only: no gradients) from the file and loads the weights. A GGUF of another
 * architecture is a one-line error saying what it is. *label_names gets cfg.n_labels malloc'ed
 * names plus a NULL after them (free with lm_classifier_labels_free). info may be NULL; its data
 * string is malloc'ed (free it). */
loom_status lm_classifier_load_gguf(const char *path, lm_classifier *m, char ***label_names, lm_classifier_info *info,
                                    lm_error *err);

/* The same from a file already open (formats/gguf.h; lm_gguf_open_mem for one held in memory);
 * messages name it by lm_gguf_name. g stays open. */
loom_status lm_classifier_from_gguf(const lm_gguf *g, lm_classifier *m, char ***label_names, lm_classifier_info *info,
                                    lm_error *err);
/* Frees a NULL-terminated array of malloc'ed names (NULL is fine). */
void lm_classifier_labels_free(char **names);

#endif
