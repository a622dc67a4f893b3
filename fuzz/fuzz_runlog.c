/* libFuzzer target: the metrics.jsonl reader of a resumed run (lm_runlog_reload_mem, what
 * lm_runlog_reload does before it rewrites the file): it keeps the lines of steps up to the
 * checkpoint's and rebuilds the loss curves from them. The first input byte is that step (255:
 * the largest int64). Checked: what is kept is no longer than the input (but for a newline added
 * to its last line) and ends each line with '\n', every curve point lies in 0..step, and reading
 * what was kept keeps all of it again. */
#include "files.h"

#include "train/runlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int64_t upto = data[0] == 255 ? INT64_MAX : data[0];
    lm_curve tr = {0}, va = {0};
    char *kept = NULL;
    size_t n = 0;
    lm_error err = {0};
    if (lm_runlog_reload_mem((const char *)data + 1, size - 1, upto, &tr, &va, &kept, &n, &err) != LOOM_OK) {
        check(err.msg[0] && kept == NULL, "a failure without a message, or with lines");
        return 0;
    }
    check(n <= size, "more kept than was read"); /* the last line may gain its newline */
    check(n == 0 || kept[n - 1] == '\n', "a kept line without its newline");
    for (size_t i = 0; i < tr.n; i++) check(tr.x[i] >= 0 && tr.x[i] <= (double)upto, "a training point past the step");
    for (size_t i = 0; i < va.n; i++) check(va.x[i] >= 0 && va.x[i] <= (double)upto, "a validation point past the step");
    lm_curve tr2 = {0}, va2 = {0};
    char *again = NULL;
    size_t n2 = 0;
    check(lm_runlog_reload_mem(kept, n, upto, &tr2, &va2, &again, &n2, &err) == LOOM_OK, "the kept lines do not read");
    check(n2 == n && memcmp(again, kept, n) == 0, "reading the kept lines does not keep them all");
    check(tr2.n == tr.n && va2.n == va.n, "the kept lines give other curves");
    free(again);
    free(kept);
    lm_curve_free(&tr);
    lm_curve_free(&va);
    lm_curve_free(&tr2);
    lm_curve_free(&va2);
    return 0;
}
