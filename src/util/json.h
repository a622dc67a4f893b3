/* JSON numbers that stay JSON. json-c writes a non-finite double as NaN or Infinity, which no
 * JSON parser accepts; a figure that was not measured (or went non-finite) is written as null. */
#ifndef LM_JSON_H
#define LM_JSON_H

#include <json-c/json.h>
#include <math.h>

static inline json_object *lm_json_double(double v) { return isfinite(v) ? json_object_new_double(v) : NULL; }

#endif
