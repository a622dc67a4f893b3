/* Prompt -> label for class-conditional image models: `loom imagine "ankle boots"` has to find
 * the label "Ankle boot" among the model's labels, and say clearly when it finds none.
 *
 * A prompt and every label are reduced to a key the same way:
 *  - split into words at anything that is not an ASCII letter or digit (so "T-shirt/top" is
 *    "t shirt top"; bytes of UTF-8 characters count as letters), lower-cased;
 *  - filler words dropped: "a", "an", "the", "some", and "pair of", "photo of", "picture of",
 *    "image of", "drawing of" (a label made only of fillers keeps them);
 *  - each word in a canonical singular form ("boots" -> "boot", "dresses" -> "dress",
 *    "trousers" -> "trouser", "hoodies" -> "hoody"): the same rule on both sides, so only
 *    agreement matters, not English;
 *  - the words joined without spaces, so "t shirt", "t-shirt" and "tshirt" are one key.
 * A label with '/' also answers to each part ("T-shirt/top": "t-shirt", "top").
 * A small synonym table (sneakers/trainers/running shoes -> Sneaker, tee -> T-shirt/top,
 * boots -> Ankle boot, flip flops -> Sandal, jeans/pants -> Trouser, sweater/jumper/hoodie ->
 * Pullover, jacket -> Coat, handbag/purse -> Bag, gown/frock -> Dress, blouse -> Shirt, ...)
 * applies only where the model has a label with the target's name. */
#ifndef LM_PROMPT_MATCH_H
#define LM_PROMPT_MATCH_H

#include "util/error.h"

/* Finds the label that prompt names among labels[0..n-1], in this order:
 *  1. a label spelled exactly (ignoring ASCII case and surrounding spaces);
 *  2. a label index written as a number ("3");
 *  3. a label, or a '/' part of one, with the prompt's key;
 *  4. a synonym with the prompt's key;
 *  5. labels and synonyms found inside the prompt as whole words ("red running shoes"), a
 *     longer one hiding those inside it ("t shirt" hides "shirt"); they must all be one label.
 * Sets *out_label and returns LOOM_OK, or fails with LOOM_ERR_ARG and one line: "no label
 * matches 'PROMPT'; the model knows: a, b, c", an index out of range, or a prompt that names two
 * labels. */
loom_status lm_label_match(const char *prompt, char *const *labels, int n, int *out_label, lm_error *err);

#endif
