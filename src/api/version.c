#include "loom.h"

const char *loom_version(void) { return "0.1.0"; }

const char *loom_status_string(loom_status s) {
    switch (s) {
    case LOOM_OK: return "ok";
    case LOOM_ERR_IO: return "I/O error";
    case LOOM_ERR_FORMAT: return "bad file format";
    case LOOM_ERR_ARG: return "invalid argument";
    case LOOM_ERR_NOMEM: return "out of memory";
    case LOOM_ERR_DATA: return "unusable data";
    }
    return "unknown error";
}
