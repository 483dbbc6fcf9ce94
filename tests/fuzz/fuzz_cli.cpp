// libFuzzer target: `train`'s command line on arbitrary arguments (the input split at NUL or
// newline bytes): parse_train_args, then build_run_config with the flags alone. Inputs that
// would open files (--config, --resume, which Boost also accepts abbreviated) are skipped:
// fuzz_config covers the file's text.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "../../src/cli/options.hpp"
#include "mlptrain/core/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::vector<std::string> args(1);
    for (std::size_t i = 0; i < size; ++i) {
        const char c = static_cast<char>(data[i]);
        if (c == '\0' || c == '\n') args.emplace_back();
        else args.back() += c;
    }
    if (args.size() > 64) return 0;
    for (const std::string& a : args)
        if (a.rfind("--co", 0) == 0 || a.rfind("--r", 0) == 0) return 0;
    try {
        const mlptrain::cli::TrainArgs parsed = mlptrain::cli::parse_train_args(args);
        if (!parsed.config_file.empty()) return 0;
        for (const mlptrain::ConfigEntry& e : parsed.flags)
            if (e.key == "resume") return 0;
        std::optional<mlptrain::LoadedCheckpoint> resume;
        mlptrain::cli::ConfigSources sources;
        (void)mlptrain::cli::build_run_config(parsed, resume, sources);
    } catch (const mlptrain::Error&) {
    }
    return 0;
}
