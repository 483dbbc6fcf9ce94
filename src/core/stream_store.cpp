// Streaming stores (see stream_store.hpp).
#include "mlptrain/core/stream_store.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <emmintrin.h>
#endif

namespace mlptrain {

void stream_copy(void* to, const void* from, std::size_t bytes) {
#if defined(__x86_64__)
    auto* dst = static_cast<unsigned char*>(to);
    const auto* src = static_cast<const unsigned char*>(from);
    const std::size_t head = std::min<std::size_t>((16 - reinterpret_cast<std::uintptr_t>(dst) % 16) % 16, bytes);
    std::memcpy(dst, src, head);
    std::size_t i = head;
    for (; i + 16 <= bytes; i += 16)
        _mm_stream_si128(reinterpret_cast<__m128i*>(dst + i), _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
    std::memcpy(dst + i, src + i, bytes - i);
#else
    std::memcpy(to, from, bytes);
#endif
}

void stream_fence() {
#if defined(__x86_64__)
    _mm_sfence();
#endif
}

}  // namespace mlptrain
