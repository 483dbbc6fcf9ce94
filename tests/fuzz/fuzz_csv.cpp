// libFuzzer target: the CSV loader on arbitrary bytes, with each of its three modes
// (classification on the last column, regression, no label column) and a label chosen by
// name or index. Any exception but mlptrain::Error, any sanitizer report, leak or hang is
// a finding.
#include <cstdint>
#include <string>
#include <string_view>

#include "mlptrain/data/csv.hpp"
#include "mlptrain/core/error.hpp"
#include "mlptrain/data/input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // The bytes in memory (Input::memory): no file system call per input.
    mlptrain::Input in = mlptrain::Input::memory(
        std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.csv");
    // The last byte picks the options, so that every mode meets the same text.
    const unsigned mode = size > 0 ? data[size - 1] % 6 : 0;
    mlptrain::CsvOptions options;
    options.regression = mode == 1 || mode == 4;
    options.no_label = mode == 2;
    if (mode == 3) options.label = "0";
    if (mode == 4) options.label = "b";
    if (mode == 5) options.label = "label";
    try {
        const mlptrain::Dataset d = mlptrain::load_csv(in, options);
        // What a loaded dataset promises its users.
        if (static_cast<std::int64_t>(d.x.size()) != d.rows * d.features) __builtin_trap();
        if (d.is_classification())
            for (const std::int32_t label : d.labels)
                if (label < 0 || label >= d.num_classes()) __builtin_trap();
    } catch (const mlptrain::Error&) {
    }
    return 0;
}
