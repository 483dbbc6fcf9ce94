// libFuzzer target: the strict safetensors reader on arbitrary bytes. Whatever it returns
// must be consistent: every tensor's element count matches its shape.
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "mlptrain/core/error.hpp"
#include "mlptrain/storage/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string path = fuzz::as_file(data, size);
    try {
        const mlptrain::SafetensorsFile file = mlptrain::read_safetensors(path);
        for (const auto& [name, tensor] : file.tensors) {
            std::uint64_t count = 1;
            for (const std::int64_t d : tensor.shape) count *= static_cast<std::uint64_t>(d);
            if (count != tensor.data.size()) __builtin_trap();
        }
    } catch (const mlptrain::Error&) {
    }
    return 0;
}
