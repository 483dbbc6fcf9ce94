// The core table and the pure core decision (see blas_core.hpp).
#include "mlptrain/core/blas_core.hpp"

#include <strings.h>

#include "mlptrain/core/error.hpp"
#include "mlptrain/core/text.hpp"

namespace mlptrain {
namespace {

bool same_name(std::string_view a, std::string_view b) {
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string core_list() {
    std::string out;
    for (const BlasCore& core : blas_cores()) out += (out.empty() ? "" : ", ") + std::string(core.name);
    return out;
}

// "Haswell (AVX2+FMA)"
std::string with_isa(const BlasCore& core) { return std::string(core.name) + " (" + to_string(core.isa) + ")"; }

// The facts every rule of the decision looks at.
struct Judge {
    const CpuFeatures& cpu;
    const BlasLibraryState& library;
    const BlasCore& best;
    std::string cpu_isa;

    // A core of a narrower class than the CPU's widest computes correctly, only slowly: one note.
    std::string narrower_note(const BlasCore& core, const std::string& how_to_widen) const {
        if (core.isa >= best.isa) return "";
        return "running OpenBLAS " + with_isa(core) + " kernels on a CPU with " + cpu_isa + "; " +
               with_isa(best) + " would be faster (" + how_to_widen + ")";
    }
    // Refuses a core whose instructions this CPU lacks, before it dies of SIGILL.
    void require_runs(const BlasCore& core, const std::string& source) const {
        if (cpu_runs_core(cpu, core)) return;
        const std::string found = with_isa(core) + " kernels, which this CPU cannot execute (it has " + cpu_isa +
                                  ": " + describe_isa_flags(cpu) + ")";
        const std::string use = field_ref("blas_core") + " " + best.name;
        if (source.empty()) throw ConfigError("blas_core", "a core this CPU can run", found, use + " or auto");
        throw Error(describe(source, "a core this CPU can run", found, "unset OPENBLAS_CORETYPE, or pass " + use));
    }
};

BlasCoreDecision decide_named(const Judge& j, const BlasCoreOption& option) {
    const BlasCore& named = *find_blas_core(option.name);
    j.require_runs(named, "");
    const bool same = same_name(j.library.chosen_core, named.name);
    if (!j.library.can_switch && !same)
        throw ConfigError("blas_core", "a core this OpenBLAS has",
                          named.name + std::string(" from a build that is not DYNAMIC_ARCH and only has ") +
                              j.library.chosen_core,
                          "install a DYNAMIC_ARCH build such as Debian's libopenblas0-pthread");
    BlasCoreDecision d;
    d.core = named.name;
    d.switch_needed = !same;
    d.reason = field_ref("blas_core") + " " + named.name;
    d.note = j.narrower_note(named, field_ref("blas_core") + " " + j.best.name);
    return d;
}

// OPENBLAS_CORETYPE is the user's: respected, with a note when it is narrower than the CPU
// allows or when OpenBLAS did not take it.
BlasCoreDecision decide_from_environment(const Judge& j, const BlasCore& chosen) {
    const std::string& env = *j.library.env_coretype;
    BlasCoreDecision d;
    d.core = chosen.name;
    d.reason = "OPENBLAS_CORETYPE=" + env + ", set in the environment";
    const BlasCore* asked = find_blas_core(env);
    if (asked == nullptr)
        d.note = "OPENBLAS_CORETYPE=" + env + " is not an OpenBLAS core name; OpenBLAS ignored it and chose " +
                 with_isa(chosen);
    else if (!same_name(asked->name, chosen.name))
        d.note = "OPENBLAS_CORETYPE=" + env + ": OpenBLAS runs " + with_isa(chosen) + " instead";
    else
        d.note = j.narrower_note(chosen, "unset OPENBLAS_CORETYPE or pass " + field_ref("blas_core") + " " +
                                             j.best.name);
    return d;
}

BlasCoreDecision decide_own_choice(const Judge& j, const BlasCore& chosen) {
    BlasCoreDecision d;
    d.core = chosen.name;
    if (chosen.isa >= j.best.isa) {
        d.reason = "OpenBLAS's own choice, of the widest class this CPU supports (" + j.cpu_isa + ")";
        return d;
    }
    if (!j.library.can_switch) {
        d.reason = "OpenBLAS's own choice (not a DYNAMIC_ARCH build: it cannot switch)";
        d.note = j.narrower_note(chosen, "this OpenBLAS has no wider kernels; install a DYNAMIC_ARCH build such "
                                         "as Debian's libopenblas0-pthread");
        return d;
    }
    d.core = j.best.name;
    d.switch_needed = true;
    d.reason = "OpenBLAS chose " + with_isa(chosen) + " on a CPU with " + j.cpu_isa + " (family " +
               std::to_string(j.cpu.family) + " model " + std::to_string(j.cpu.model) +
               ", unknown to it); switched to " + j.best.name;
    return d;
}

}  // namespace

const std::vector<BlasCore>& blas_cores() {
    static const std::vector<BlasCore> cores = {
        {"Prescott", VectorIsa::sse},     {"Core2", VectorIsa::sse},        {"Penryn", VectorIsa::sse},
        {"Dunnington", VectorIsa::sse},   {"Nehalem", VectorIsa::sse},      {"Atom", VectorIsa::sse},
        {"Nano", VectorIsa::sse},         {"Opteron", VectorIsa::sse},      {"Opteron_SSE3", VectorIsa::sse},
        {"Barcelona", VectorIsa::sse},    {"Bobcat", VectorIsa::sse},       {"Sandybridge", VectorIsa::avx},
        {"Bulldozer", VectorIsa::avx},    {"Piledriver", VectorIsa::avx},   {"Steamroller", VectorIsa::avx},
        {"Excavator", VectorIsa::avx},    {"Haswell", VectorIsa::avx2},     {"Zen", VectorIsa::avx2},
        {"SkylakeX", VectorIsa::avx512},  {"Cooperlake", VectorIsa::avx512}, {"SapphireRapids", VectorIsa::avx512}};
    return cores;
}

const BlasCore* find_blas_core(std::string_view name) {
    for (const BlasCore& core : blas_cores())
        if (same_name(name, core.name)) return &core;
    return nullptr;
}

bool cpu_runs_core(const CpuFeatures& cpu, const BlasCore& core) {
    const std::string_view name = core.name;
    const bool skylakex = widest_vector_isa(cpu) == VectorIsa::avx512;
    if (name == "SapphireRapids") return skylakex && cpu.avx512_bf16 && cpu.avx512_vnni && cpu.avx512_fp16;
    if (name == "Cooperlake") return skylakex && cpu.avx512_bf16 && cpu.avx512_vnni;
    if (name == "SkylakeX") return skylakex;
    if (name == "Haswell" || name == "Zen") return cpu.avx2 && cpu.fma;
    // The Bulldozer family's kernels use 4-operand FMA4 (vfmaddps), which no Intel CPU and
    // no Zen has.
    if (name == "Bulldozer" || name == "Piledriver" || name == "Steamroller" || name == "Excavator")
        return cpu.avx && cpu.fma4;
    if (name == "Sandybridge") return cpu.avx;
    if (name == "Barcelona") return cpu.sse3 && cpu.prefetchw;
    // Opteron's kernels end with femms (3DNow!): SIGILL on Zen and on every Intel CPU.
    if (name == "Opteron" || name == "Opteron_SSE3") return cpu.amd3dnow;
    return cpu.sse3;  // the other SSE cores use SSE3 (movddup, movsldup) at most
}

const BlasCore& best_blas_core(const CpuFeatures& cpu) {
    const bool amd = cpu.vendor == "AuthenticAMD" || cpu.vendor == "HygonGenuine";
    const char* name = "Prescott";
    switch (widest_vector_isa(cpu)) {
        // Cooperlake's sgemm is SkylakeX's source built with -march=cooperlake, with other
        // blocking (so other bits); it is preferred because OpenBLAS itself picks it there.
        case VectorIsa::avx512: name = cpu.avx512_bf16 && cpu.avx512_vnni ? "Cooperlake" : "SkylakeX"; break;
        case VectorIsa::avx2: name = amd ? "Zen" : "Haswell"; break;
        case VectorIsa::avx: name = "Sandybridge"; break;
        case VectorIsa::sse: name = "Prescott"; break;
    }
    return *find_blas_core(name);
}

BlasCoreOption parse_blas_core_option(std::string_view text, const std::string& field) {
    BlasCoreOption option;
    if (same_name(text, "auto")) return option;
    if (same_name(text, "keep")) {
        option.mode = BlasCoreOption::Mode::keep;
        return option;
    }
    const BlasCore* core = find_blas_core(text);
    if (core == nullptr)
        throw ConfigError(field, "auto, keep or an OpenBLAS core name (" + core_list() + ")", quote(text));
    option.mode = BlasCoreOption::Mode::named;
    option.name = core->name;
    return option;
}

std::string blas_core_option_name(const BlasCoreOption& option) {
    switch (option.mode) {
        case BlasCoreOption::Mode::automatic: return "auto";
        case BlasCoreOption::Mode::keep: return "keep";
        case BlasCoreOption::Mode::named: return option.name;
    }
    return "auto";
}

BlasCoreDecision decide_blas_core(const CpuFeatures& cpu, const BlasLibraryState& library,
                                  const BlasCoreOption& option) {
    const Judge j{cpu, library, best_blas_core(cpu), to_string(widest_vector_isa(cpu))};
    if (option.mode == BlasCoreOption::Mode::named) return decide_named(j, option);

    const BlasCore* chosen = find_blas_core(library.chosen_core);
    if (chosen == nullptr) {
        // A name this table does not know (a newer OpenBLAS) cannot be judged: it is kept
        // rather than replaced by something older.
        BlasCoreDecision d;
        d.core = library.chosen_core;
        d.reason = "OpenBLAS's own choice (a core unknown to mlptrain, kept)";
        d.note = "OpenBLAS chose core " + quote(library.chosen_core) + ", which mlptrain does not know; kept as it is";
        return d;
    }
    j.require_runs(*chosen, library.env_coretype ? "OPENBLAS_CORETYPE=" + *library.env_coretype
                                                 : std::string("OpenBLAS's own choice"));
    if (option.mode == BlasCoreOption::Mode::keep) {
        BlasCoreDecision d;
        d.core = chosen->name;
        d.reason = (library.env_coretype ? "OPENBLAS_CORETYPE=" + *library.env_coretype : "OpenBLAS's own choice") +
                   ", kept (" + field_ref("blas_core") + " keep)";
        d.note = j.narrower_note(*chosen, field_ref("blas_core") + " auto or " + j.best.name);
        return d;
    }
    if (library.env_coretype) return decide_from_environment(j, *chosen);
    return decide_own_choice(j, *chosen);
}

}  // namespace mlptrain
