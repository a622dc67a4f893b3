/* libFuzzer target: loom's tokenizer file reader (lm_bpe_load_mem, magic "LMTK"). */
#include "common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lm_bpe *b = NULL;
    lm_error err = {0};
    if (lm_bpe_load_mem(data, size, "fuzz.lmtk", &b, &err) == LOOM_OK) {
        fuzz_exercise(b, data, size);
        lm_bpe_free(b);
    } else if (b || !err.msg[0]) {
        fprintf(stderr, "fuzz: a failed load returned a tokenizer or no message\n");
        abort();
    }
    return 0;
}
