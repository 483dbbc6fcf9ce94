// The oneDNN backend in a build without oneDNN (libdnnl-dev was not found when CMake
// configured): a context cannot be made, and --gemm onednn says what to install.
#include "../onednn_gemm.hpp"

#include "mlptrain/core/error.hpp"

namespace mlptrain {

struct OnednnGemm::Impl {};

OnednnGemm::OnednnGemm() {
    throw Error(describe(field_ref("gemm") + " onednn", "a build with oneDNN", "a build without it",
                         "apt-get install libdnnl-dev ocl-icd-opencl-dev (scripts/setup.sh does), then rebuild"));
}
OnednnGemm::~OnednnGemm() = default;
void OnednnGemm::prepare(const GemmShape&) {}
void OnednnGemm::run(const GemmShape&, const void*, const void*, float*, const float*) {}
int OnednnGemm::primitives() const { return 0; }
int OnednnGemm::created_on_demand() const { return 0; }

bool onednn_built() { return false; }
std::string onednn_description() { return ""; }
bool onednn_runs_bf16() { return false; }

}  // namespace mlptrain
