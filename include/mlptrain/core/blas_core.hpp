// Which OpenBLAS kernel set ("core") mlptrain runs, and why: the table of the x86-64 cores
// of OpenBLAS's DYNAMIC_ARCH builds, and the pure decision over (CPU features, the core
// OpenBLAS chose, OPENBLAS_CORETYPE, the blas_core setting). No OpenBLAS call here:
// run/blas_selection.cpp applies the decision; tests/test_blas_core.cpp checks it over a table.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mlptrain/core/cpu_features.hpp"

namespace mlptrain {

// One x86-64 core as openblas_get_corename() spells it. OPENBLAS_CORETYPE matches names
// case-insensitively (strncasecmp in OpenBLAS's driver/others/dynamic.c).
struct BlasCore {
    const char* name;  // "Prescott" ... "SkylakeX", "Cooperlake"
    VectorIsa isa;     // widest vector ISA its sgemm kernels use: orders cores by speed class
};

// The cores of Debian 12's OpenBLAS 0.3.21 DYNAMIC_ARCH (DYNAMIC_OLDER) build, plus
// SapphireRapids (0.3.24 on). Katmai, Coppermine, Northwood, Banias and Athlon are absent:
// OpenBLAS maps them to Prescott on x86-64.
const std::vector<BlasCore>& blas_cores();

// Case-insensitive lookup; nullptr when the name is not a core of the table.
const BlasCore* find_blas_core(std::string_view name);

// Whether every instruction the core's kernels were compiled for can run here
// (OpenBLAS's kernel/Makefile: SkylakeX -march=skylake-avx512, Cooperlake -march=cooperlake,
// Haswell/Zen AVX2+FMA3, Bulldozer..Excavator FMA4, Barcelona PREFETCHW, Opteron 3DNow!,
// the other SSE cores SSE3). A core that cannot run dies of SIGILL at the first GEMM.
bool cpu_runs_core(const CpuFeatures& cpu, const BlasCore& core);

// The core OpenBLAS picks for this CPU when it knows the model: the widest the CPU runs
// (Cooperlake with AVX512_BF16, else SkylakeX; Zen on AMD and Hygon, Haswell elsewhere for
// AVX2; Sandybridge for AVX; Prescott otherwise). So a switched run gets the same bits as a
// run on a CPU that OpenBLAS recognises.
const BlasCore& best_blas_core(const CpuFeatures& cpu);

// The blas_core setting: auto, keep or a core name (any case).
struct BlasCoreOption {
    enum class Mode { automatic, keep, named };
    Mode mode = Mode::automatic;
    std::string name;  // the table's spelling, when mode == named

    bool operator==(const BlasCoreOption& other) const { return mode == other.mode && name == other.name; }
    bool operator!=(const BlasCoreOption& other) const { return !(*this == other); }
};

// Throws ConfigError for `field` on a text that is none of these, listing the core names.
BlasCoreOption parse_blas_core_option(std::string_view text, const std::string& field = "blas_core");
// "auto", "keep" or the core's name: what parse_blas_core_option reads back.
std::string blas_core_option_name(const BlasCoreOption& option);

// What OpenBLAS reported at start-up, before mlptrain changed anything.
struct BlasLibraryState {
    std::string chosen_core;                  // openblas_get_corename()
    bool can_switch = true;                   // a DYNAMIC_ARCH build with the switch entry points
    std::optional<std::string> env_coretype;  // OPENBLAS_CORETYPE as the user set it (non-empty)
};

struct BlasCoreDecision {
    std::string core;             // the table's name of the core to run
    std::string reason;           // one line for the run header and bench's blas_core_reason
    bool switch_needed = false;   // core differs from the chosen one: switch before any GEMM
    std::string note;             // "" or one line for the user ("note: " is the caller's)
};

// The decision. Throws Error (ConfigError for blas_core) when the requested or kept core
// cannot run on this CPU, or cannot be switched to.
//   NAME: that core, whatever the environment says.
//   keep: OpenBLAS's choice (a note when it is narrower than the CPU allows).
//   auto, OPENBLAS_CORETYPE set: the user's choice is respected, with a note when narrower.
//   auto, unset: OpenBLAS's choice when it is of the CPU's widest class, else best_blas_core().
BlasCoreDecision decide_blas_core(const CpuFeatures& cpu, const BlasLibraryState& library,
                                  const BlasCoreOption& option);

}  // namespace mlptrain
