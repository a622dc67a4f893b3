/* libFuzzer target: the tiktoken readers (plain .tiktoken rank tables and the npm packages'
 * compact JSON), through lm_bpe_load_tiktoken_mem. The first input byte picks the name, which
 * for a plain table selects the encoding's pattern and special tokens. */
#include "common.h"
#include "data/bpe_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const names[] = {"fuzz.json", "tiny.tiktoken", "gpt2.tiktoken", "cl100k_base.tiktoken",
                                        "o200k_base.tiktoken", "p50k_edit.tiktoken"};
    if (size < 1) return 0;
    const char *name = names[data[0] % 6];
    lm_bpe *b = NULL;
    lm_error err = {0};
    loom_status st;
    if (data[0] % 6 == 1) {
        static const char *const sp[] = {"<|endoftext|>", "<|x|>"};
        static const int32_t sp_id[] = {259, 260};
        st = lm_bpe_from_tiktoken_ranks(data + 1, size - 1, name, NULL, 2, sp, sp_id, &b, &err);
    } else {
        st = lm_bpe_load_tiktoken_mem(data + 1, size - 1, name, &b, &err);
    }
    if (st == LOOM_OK) {
        fuzz_exercise(b, data, size);
        lm_bpe_free(b);
    } else if (b || !err.msg[0]) {
        fprintf(stderr, "fuzz: a failed load returned a tokenizer or no message\n");
        abort();
    }
    return 0;
}
