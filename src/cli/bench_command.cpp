// `mlptrain bench`: throughput on synthetic data against the GEMM ceiling (issue 3).
#include "commands.hpp"
#include "mlptrain/error.hpp"

namespace mlptrain::cli {

int run_bench(const std::vector<std::string>&) {
    throw Error("bench: not built yet");
}

}  // namespace mlptrain::cli
