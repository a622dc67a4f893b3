/* libFuzzer target: loom's tokenizer file reader (lm_bpe_load_mem, magic "LMTK").
 * Each input is read twice: as it is, and with its trailing CRC-32 recomputed, so that mutated
 * files also get past the checksum into the checks of the contents and lm_bpe_create. */
#include <zlib.h>

#include "common.h"

static void one(const uint8_t *data, size_t size) {
    lm_bpe *b = NULL;
    lm_error err = {0};
    if (lm_bpe_load_mem(data, size, "fuzz.lmtk", &b, &err) == LOOM_OK) {
        fuzz_exercise(b, data, size);
        lm_bpe_free(b);
    } else if (b || !err.msg[0]) {
        fprintf(stderr, "fuzz: a failed load returned a tokenizer or no message\n");
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    one(data, size);
    if (size >= 16) {
        uint8_t *c = malloc(size);
        if (!c) return 0;
        memcpy(c, data, size);
        uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), c, (uInt)(size - 4));
        c[size - 4] = (uint8_t)crc, c[size - 3] = (uint8_t)(crc >> 8), c[size - 2] = (uint8_t)(crc >> 16),
        c[size - 1] = (uint8_t)(crc >> 24);
        one(c, size);
        free(c);
    }
    return 0;
}
