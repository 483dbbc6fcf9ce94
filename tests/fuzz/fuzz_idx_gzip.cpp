// libFuzzer target: IDX content behind gzip. The input is gzip-compressed here before the
// reader sees it, so mutations reach the header and payload checks through the decompressor
// (fuzz_idx fuzzes the gzip stream itself from its gzip seeds).
#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

#include "mlptrain/core/error.hpp"
#include "mlptrain/data/idx.hpp"
#include "mlptrain/data/input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    z_stream z{};
    if (deflateInit2(&z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
    std::vector<std::uint8_t> gz(deflateBound(&z, size) + 32);
    z.next_in = const_cast<std::uint8_t*>(data);
    z.avail_in = static_cast<uInt>(size);
    z.next_out = gz.data();
    z.avail_out = static_cast<uInt>(gz.size());
    const int status = deflate(&z, Z_FINISH);
    gz.resize(gz.size() - z.avail_out);
    deflateEnd(&z);
    if (status != Z_STREAM_END) return 0;
    try {
        mlptrain::Input in = mlptrain::Input::memory(
            {reinterpret_cast<const char*>(gz.data()), gz.size()}, "fuzz.idx.gz");
        const mlptrain::Dataset d = mlptrain::load_idx_images(in);
        if (static_cast<std::int64_t>(d.x_u8.size()) != d.rows * d.features) __builtin_trap();
    } catch (const mlptrain::Error&) {
    }
    return 0;
}
