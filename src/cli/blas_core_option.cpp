// --blas-core on bench, evaluate and predict, and the run header's BLAS core lines (see
// blas_core_option.hpp).
#include "blas_core_option.hpp"

#include "mlptrain/core/text.hpp"
#include "mlptrain/run/settings.hpp"
#include "options.hpp"

namespace po = boost::program_options;

namespace mlptrain::cli {

void add_blas_core_option(po::options_description& desc) {
    static const std::string help = help_text(*find_setting("blas-core"));
    desc.add_options()("blas-core", po::value<std::string>(), help.c_str());
}

BlasCoreOption blas_core_option(const po::variables_map& vm) {
    if (!vm.count("blas-core")) return {};
    RunConfig config;
    apply_setting(config, "blas-core", vm["blas-core"].as<std::string>());
    return config.blas_core;
}

std::string blas_core_text(const std::string& marked) { return cli_message(Error(marked)); }

std::string blas_core_lines(const BlasSelection& s) {
    std::string text = "blas core: " + s.core + ": " + blas_core_text(s.reason) + "; sgemm self-test passed (" +
                       std::to_string(s.self_test_calls) + " calls in " + format_fixed(s.self_test_ms, 1) + " ms, " +
                       format_fixed(s.self_test_cpu_ms, 1) + " ms CPU)\n";
    if (!s.note.empty()) text += "note: " + blas_core_text(s.note) + "\n";
    return text;
}

}  // namespace mlptrain::cli
