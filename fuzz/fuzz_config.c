/* libFuzzer target: the --config JSON reader (lm_args_config_mem, what lm_args_parse does with
 * --config FILE) with the option table of `loom train`, the command with the most kinds of
 * options (numbers of four types with ranges, strings, flags, choices, and --tied/--untied, which
 * share one field). The table is static in cmd_train.c, so that file is included here, its
 * command renamed. On success every option must hold its default or a value its table allows.
 * The reader prints its one-line errors to stderr: run.sh passes -close_fd_mask=2. */
#include "files.h"

#include <math.h>

#define lm_cmd_train fuzz_cmd_train_unused
#include "cli/cmd_train.c"
#undef lm_cmd_train

static void check_opt(int ok, const char *opt, const char *what) {
    if (!ok) {
        fprintf(stdout, "fuzz: --%s %s\n", opt, what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1 << 20)) return 0; /* the file reader's limit */
    lm_train_opts o, d;
    lm_train_defaults(&o);
    o.progress = 2; /* as lm_cmd_train starts */
    d = o;
    lm_args a = {.cmd = "train", .opts = OPTS, .n_opts = N_OPTS, .base = &o, .allow_config = 1};
    int rc = lm_args_config_mem(&a, (const char *)data, size, "fuzz.json");
    if (rc != 0 && rc != 2) check_opt(0, "-", "the reader returned neither 0 nor 2");
    if (rc == 0) {
        for (size_t i = 0; i < N_OPTS; i++) {
            const lm_opt *op = &OPTS[i];
            const char *p = (const char *)&o + op->off, *q = (const char *)&d + op->off;
            double v = 0;
            switch (op->type) {
            case OPT_INT: v = *(const int *)p; break;
            case OPT_I64: v = (double)*(const int64_t *)p; break;
            case OPT_F32: v = *(const float *)p; break;
            case OPT_F64: v = *(const double *)p; break;
            case OPT_STR: {
                const char *s = *(const char *const *)p;
                check_opt(s == *(const char *const *)q || (s && strlen(s) > 0), op->name, "is an empty string");
                continue;
            }
            case OPT_FLAG: {
                int f = *(const int *)p;
                check_opt(f == *(const int *)q || f == 0 || f == 1, op->name, "is neither its default nor a flag value");
                continue;
            }
            case OPT_CHOICE: {
                int n = 1;
                for (const char *c = op->choices; *c; c++) n += *c == '|';
                int f = *(const int *)p;
                check_opt(f == *(const int *)q || (f >= 0 && f < n), op->name, "is not one of its choices");
                continue;
            }
            case OPT_LIST: continue;
            }
            if (memcmp(p, q, op->type == OPT_INT ? sizeof(int) : op->type == OPT_F32 ? sizeof(float) : 8) == 0) continue;
            /* a float field holds the range's ends as rounded to float */
            double lo = op->type == OPT_F32 ? (double)(float)op->lo : op->lo;
            double hi = op->type == OPT_F32 ? (double)(float)op->hi : op->hi;
            check_opt(isfinite(v) && v >= lo && v <= hi, op->name, "holds a value outside its range");
        }
    }
    lm_args_free(&a);
    return 0;
}
