// libFuzzer target: the IDX reader on arbitrary bytes (raw, or gzip when the seeds are), read
// from memory through an Input as a file or a pipe would be: is_idx_input, the images on
// their own, and the bytes as the labels for a fixed 3-image file.
#include <cstdint>
#include <string>
#include <string_view>

#include "mlptrain/core/error.hpp"
#include "mlptrain/data/idx.hpp"
#include "mlptrain/data/input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // 3 images of 2 x 2 pixels.
    static const char images[] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2,
                                  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    try {
        mlptrain::Input in = mlptrain::Input::memory(bytes, "fuzz.idx");
        (void)mlptrain::is_idx_input(in);  // peeks only: the load below sees every byte
        const mlptrain::Dataset d = mlptrain::load_idx_images(in);
        if (static_cast<std::int64_t>(d.x_u8.size()) != d.rows * d.features) __builtin_trap();
    } catch (const mlptrain::Error&) {
    }
    try {
        mlptrain::Input images_in = mlptrain::Input::memory({images, sizeof images}, "images.idx");
        mlptrain::Input labels_in = mlptrain::Input::memory(bytes, "fuzz.idx");
        const mlptrain::Dataset d = mlptrain::load_idx(images_in, labels_in);
        for (const std::int32_t label : d.labels)
            if (label < 0 || label >= d.num_classes()) __builtin_trap();
    } catch (const mlptrain::Error&) {
    }
    return 0;
}
