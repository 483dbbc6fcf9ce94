// From a run's gemm and precision settings to the GEMM settings it uses (see
// gemm_selection.hpp).
#include "mlptrain/run/gemm_selection.hpp"

#include <cstdlib>
#include <cstring>

#include "mlptrain/core/bf16.hpp"
#include "mlptrain/core/cpu_features.hpp"
#include "mlptrain/core/error.hpp"
#include "mlptrain/core/text.hpp"

namespace mlptrain {
namespace {

// Mean FLOPs per GEMM call of one shard's step below which bf16 loses to fp32 OpenBLAS.
// oneDNN costs about 0.4 µs more per call than OpenBLAS, and bf16 adds a rounding pass over
// each GEMM input; a step of small GEMMs pays these and gains nothing. Measured with
// `mlptrain bench --precision bf16 --no-fallback` against fp32 on h-h-h-h networks (README).
constexpr double bf16_min_flops_per_call = 2.0 * 32 * 64 * 64;

struct StepGemms {
    double flops = 0.0;
    int calls = 0;
};

// The GEMMs of a training step of one shard (forward, dW, and dX except for layer 0).
StepGemms step_gemms(const ModelSpec& spec, std::int64_t rows) {
    StepGemms s;
    for (std::size_t l = 0; l + 1 < spec.sizes.size(); ++l) {
        const int calls = l > 0 ? 3 : 2;
        s.flops += calls * 2.0 * static_cast<double>(rows) * static_cast<double>(spec.sizes[l]) *
                   static_cast<double>(spec.sizes[l + 1]);
        s.calls += calls;
    }
    return s;
}

void require_bf16_cpu(const std::string& field) {
    const CpuFeatures cpu = detect_cpu_features();
    const char* seam = std::getenv("MLPTRAIN_TEST_NO_BF16");
    const bool simulated = seam && std::strcmp(seam, "1") == 0;
    if (simulated || !has_bf16_dot_products(cpu))
        throw ConfigError(field, "a CPU with bf16 dot products (AVX512_BF16 or AMX-BF16)",
                          (cpu.brand.empty() ? std::string("this CPU") : cpu.brand) + ": " +
                              (simulated ? "none (MLPTRAIN_TEST_NO_BF16=1)" : describe_bf16_support(cpu)),
                          "use " + field_ref("precision") + " fp32 here (Intel Cooper Lake or Sapphire Rapids, AMD "
                          "Zen 4 or later have them)");
    if (!onednn_runs_bf16())
        throw ConfigError(field, "oneDNN running bf16 matmuls on AVX512_BF16 or AMX", onednn_description(),
                          "is ONEDNN_MAX_CPU_ISA or DNNL_MAX_CPU_ISA set below avx512_core_bf16?");
}

}  // namespace

bool bf16_gains(const ModelSpec& spec, std::int64_t shard_rows) {
    const StepGemms s = step_gemms(spec, shard_rows);
    return s.calls > 0 && s.flops / s.calls >= bf16_min_flops_per_call;
}

GemmSettings select_gemm(const GemmRequest& request, const ModelSpec& spec, std::int64_t shard_rows,
                         std::vector<std::string>& notes) {
    const bool bf16 = request.precision == GemmPrecision::bf16;
    if (bf16 && request.backend == GemmBackend::openblas)
        throw ConfigError("gemm", "onednn (or no " + field_ref("gemm") + ") with " + field_ref("precision") + " bf16",
                          "openblas", "Debian's OpenBLAS has no bf16 GEMM; bf16 runs on oneDNN");
    GemmSettings s{request.backend.value_or(bf16 ? GemmBackend::onednn : GemmBackend::openblas), request.precision};
    if (bf16 && request.fallback && !bf16_gains(spec, shard_rows)) {
        const StepGemms g = step_gemms(spec, shard_rows);
        notes.push_back("note: " + field_ref("precision") + " bf16 would be slower than fp32 for " + spec.describe() +
                        " with " + std::to_string(shard_rows) + " rows per shard (its GEMMs average " +
                        format_fixed(g.flops / g.calls / 1e3, 0) + " kFLOP per call, below " +
                        format_fixed(bf16_min_flops_per_call / 1e3, 0) + "); running fp32");
        s = GemmSettings{request.backend.value_or(GemmBackend::openblas), GemmPrecision::fp32};
    }
    const std::string field = request.backend ? "gemm" : "precision";
    if (s.backend == GemmBackend::onednn && !onednn_built())
        throw ConfigError(field, "a build with oneDNN" + std::string(bf16 ? " (bf16 GEMMs run on oneDNN)" : ""),
                          "a build without it",
                          "apt-get install libdnnl-dev ocl-icd-opencl-dev (scripts/setup.sh does), then rebuild");
    if (s.precision == GemmPrecision::bf16) require_bf16_cpu("precision");
    return s;
}

}  // namespace mlptrain
