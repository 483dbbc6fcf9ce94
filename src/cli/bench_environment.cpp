// The benchmark's environment record (see bench_environment.hpp).
#include "bench_environment.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

#include "mlptrain/core/blas.hpp"
#include "mlptrain/core/build_info.hpp"
#include "mlptrain/core/cpu_features.hpp"
#include "mlptrain/engine/parallel.hpp"

extern char** environ;

namespace mlptrain::cli {
namespace {

// The variables that change what OpenBLAS or an OpenMP runtime does, as set now.
nlohmann::json threading_variables() {
    nlohmann::json vars = nlohmann::json::object();
    for (char** entry = environ; entry && *entry; ++entry) {
        const std::string text = *entry;
        const std::size_t eq = text.find('=');
        if (eq == std::string::npos) continue;
        const std::string name = text.substr(0, eq);
        if (name.rfind("OPENBLAS_", 0) == 0 || name.rfind("OMP_", 0) == 0) vars[name] = text.substr(eq + 1);
    }
    return vars;
}

std::string utc_now() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

std::string hex(int value) {
    char text[16];
    std::snprintf(text, sizeof text, "0x%X", value);
    return text;
}

}  // namespace

nlohmann::json bench_environment(const BlasSelection& blas) {
    const BuildInfo& build = build_info();
    const CpuFeatures cpu = detect_cpu_features();
    return {{"mlptrain_version", build.version},
            {"git_commit", build.git_commit},
            {"build_type", build.build_type},
            {"compiler", build.compiler},
            {"compiler_flags", build.flags},
            {"cpu_model", cpu.brand},
            {"cpu_vendor", cpu.vendor},
            {"cpu_family", hex(cpu.family)},
            {"cpu_model_number", hex(cpu.model)},
            {"logical_cpus", sysconf(_SC_NPROCESSORS_ONLN)},
            {"affinity_cpus", default_threads()},
            {"vector_isa", to_string(widest_vector_isa(cpu))},
            {"isa_flags", describe_isa_flags(cpu)},
            {"openblas_version", blas_version()},
            {"openblas_config", blas_description()},
            {"blas_core", blas.core},
            {"blas_openblas_choice", blas.openblas_choice},
            {"tbb_version", tbb_version()},
            {"onednn", onednn_built() ? onednn_description() : "not built"},
            {"env", threading_variables()},
            {"date", utc_now()}};
}

}  // namespace mlptrain::cli
