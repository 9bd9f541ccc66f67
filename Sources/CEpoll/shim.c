// Intentionally small: the header carries the inline accessors; this file makes CEpoll a real target.
#include "CEpoll.h"

#if defined(__x86_64__)
#include <string.h>

__attribute__((target("sse4.2")))
uint32_t cepoll_crc32c_update(uint32_t state, const void *p, size_t n) {
    const unsigned char *b = (const unsigned char *)p;
    uint64_t c = state;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, b, 8);
        c = __builtin_ia32_crc32di(c, v);
        b += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n > 0) {
        c32 = __builtin_ia32_crc32qi(c32, *b);
        b++;
        n--;
    }
    return c32;
}

int cepoll_crc32c_hardware(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") ? 1 : 0;
}
#else
uint32_t cepoll_crc32c_update(uint32_t state, const void *p, size_t n) { (void)p; (void)n; return state; }
int cepoll_crc32c_hardware(void) { return 0; }
#endif
