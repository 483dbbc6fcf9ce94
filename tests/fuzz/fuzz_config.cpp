// libFuzzer target: an options file (a --config file, or a checkpoint's saved
// configuration) through the library's parser and the settings table: parse_config_text,
// then config_from_text, which applies and validates every entry. Every outcome but a
// RunConfig or an mlptrain::Error is a finding; so is a hang (Boost 1.74's error formatting
// looped on "%value%" when Boost parsed these files: tests/fuzz/corpus/fuzz_config/regression-*).
#include <cstdint>
#include <string>

#include "mlptrain/core/error.hpp"
#include "mlptrain/run/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        (void)mlptrain::parse_config_text(text, "fuzz.cfg");
        (void)mlptrain::config_from_text(text, "fuzz.cfg");
    } catch (const mlptrain::Error&) {
    }
    return 0;
}
