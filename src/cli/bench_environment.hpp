// The environment record of a benchmark figure: what a reader needs to reproduce it or to
// distrust it. `mlptrain bench --json` carries it as "environment".
#pragma once

#include <nlohmann/json.hpp>

#include "mlptrain/run/blas_selection.hpp"

namespace mlptrain::cli {

// mlptrain version and git commit, compiler and flags, CPU model, CPU counts and ISA flags,
// OpenBLAS and oneTBB versions and the BLAS core (with OpenBLAS's own choice), the
// OPENBLAS_* and OMP_* variables in force, and the date (UTC).
nlohmann::json bench_environment(const BlasSelection& blas);

}  // namespace mlptrain::cli
