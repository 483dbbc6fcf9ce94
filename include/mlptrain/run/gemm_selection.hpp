// The GEMM backend and input precision a run computes with, from what its configuration
// asks (gemm, precision): bf16 needs oneDNN and bf16 dot products in the CPU, and pays only
// on GEMMs large enough to hide oneDNN's fixed cost per call, so a network too small to gain
// runs fp32 with a note. The trainer, bench and inference use the result (core/blas.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mlptrain/core/blas.hpp"
#include "mlptrain/nn/model.hpp"

namespace mlptrain {

struct GemmRequest {
    std::optional<GemmBackend> backend;  // unset: openblas, or onednn for bf16
    GemmPrecision precision = GemmPrecision::fp32;
    bool fallback = true;  // bf16 that would be slower than fp32 runs fp32 (with a note)
};

// The settings a run uses for `spec` with shards of up to `shard_rows` rows. A fallback
// adds a note to `notes` (field references marked). Throws ConfigError naming gemm or
// precision when the request cannot run here: bf16 with openblas, a build without oneDNN,
// a CPU without AVX512_BF16 or AMX-BF16, or oneDNN kept from its bf16 ISA.
//
// Test seam, read from the environment (for tests only): MLPTRAIN_TEST_NO_BF16=1 treats the
// CPU as one without bf16 dot products.
GemmSettings select_gemm(const GemmRequest& request, const ModelSpec& spec, std::int64_t shard_rows,
                         std::vector<std::string>& notes);

// Whether bf16 oneDNN GEMMs beat fp32 OpenBLAS on this network's step at `shard_rows`
// rows per shard: the step's mean FLOPs per GEMM call against a threshold measured on the
// project's machine type (README, Speed).
bool bf16_gains(const ModelSpec& spec, std::int64_t shard_rows);

}  // namespace mlptrain
