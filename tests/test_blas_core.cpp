// The BLAS core decision as a pure function: CPUID decoding, which cores a CPU runs, the
// best core per CPU, the --blas-core option, and the table of (CPU features, OpenBLAS's
// choice, OPENBLAS_CORETYPE, option) against the expected core, switch, reason and note.
#include <doctest/doctest.h>

#include "cpu_fixtures.hpp"
#include "mlptrain/core/blas_core.hpp"
#include "mlptrain/core/error.hpp"

using namespace mlptrain;
using namespace mlptrain::test;

namespace {

BlasLibraryState library(const char* chosen, const char* env = nullptr, bool can_switch = true) {
    BlasLibraryState s;
    s.chosen_core = chosen;
    s.can_switch = can_switch;
    if (env) s.env_coretype = env;
    return s;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

const BlasCoreOption automatic;
const BlasCoreOption keep = parse_blas_core_option("keep");
BlasCoreOption named(const char* name) { return parse_blas_core_option(name); }

}  // namespace

// Display family/model and the OS gate on YMM/ZMM state.
TEST_CASE("decode_cpu_features reads family, model and the XCR0 gate") {
    const CpuFeatures z = zen5();
    CHECK(z.vendor == "AuthenticAMD");
    CHECK(z.family == 0x1A);
    CHECK(z.model == 0x02);
    CHECK(widest_vector_isa(z) == VectorIsa::avx512);
    CHECK(z.avx512_bf16);
    CHECK(emerald_rapids().model == 0xCF);
    // The silicon has AVX-512 but the OS does not save ZMM state: AVX2 is the widest.
    const CpuFeatures no_zmm = zen5(0x07);
    CHECK_FALSE(no_zmm.avx512f);
    CHECK_FALSE(no_zmm.avx512_bf16);
    CHECK(widest_vector_isa(no_zmm) == VectorIsa::avx2);
    // No YMM state either (or no OSXSAVE): only SSE.
    CHECK(widest_vector_isa(zen5(0x03)) == VectorIsa::sse);
    CHECK(widest_vector_isa(decode_cpu_features(make_dump("AuthenticAMD", 0x1A, 2, {MLPTRAIN_AVX512}, 0xE7, false))) ==
          VectorIsa::sse);
    // AVX-512F without BW/DQ/VL (Knights Landing) is not enough for -march=skylake-avx512.
    CHECK(widest_vector_isa(knights_landing()) == VectorIsa::avx2);
    CHECK(describe_isa_flags(haswell()) == "sse3 ssse3 sse4_1 sse4_2 avx fma avx2");
}

// The best core per CPU is the one OpenBLAS picks when it knows the model.
TEST_CASE("best_blas_core per CPU class and vendor") {
    CHECK(std::string(best_blas_core(zen5()).name) == "Cooperlake");
    CHECK(std::string(best_blas_core(emerald_rapids()).name) == "Cooperlake");
    CHECK(std::string(best_blas_core(skylake_sp()).name) == "SkylakeX");
    CHECK(std::string(best_blas_core(knights_landing()).name) == "Haswell");
    CHECK(std::string(best_blas_core(haswell()).name) == "Haswell");
    CHECK(std::string(best_blas_core(zen2()).name) == "Zen");
    CHECK(std::string(best_blas_core(sandy_bridge()).name) == "Sandybridge");
    CHECK(std::string(best_blas_core(nehalem()).name) == "Prescott");
    CHECK(std::string(best_blas_core(zen5(0x07)).name) == "Zen");
}

// Each core runs only where the instructions its kernels were compiled for exist.
TEST_CASE("cpu_runs_core follows the kernels' instruction sets") {
    CHECK(cpu_runs_core(zen5(), *find_blas_core("Cooperlake")));
    CHECK_FALSE(cpu_runs_core(skylake_sp(), *find_blas_core("Cooperlake")));
    CHECK_FALSE(cpu_runs_core(zen5(), *find_blas_core("SapphireRapids")));  // no AVX512_FP16
    CHECK(cpu_runs_core(emerald_rapids(), *find_blas_core("SapphireRapids")));
    CHECK_FALSE(cpu_runs_core(haswell(), *find_blas_core("SkylakeX")));
    CHECK_FALSE(cpu_runs_core(zen5(), *find_blas_core("Bulldozer")));  // FMA4
    CHECK_FALSE(cpu_runs_core(sandy_bridge(), *find_blas_core("Haswell")));
    CHECK(cpu_runs_core(nehalem(), *find_blas_core("Nehalem")));
    CHECK_FALSE(cpu_runs_core(haswell(), *find_blas_core("Barcelona")));  // no PREFETCHW
    CHECK_FALSE(cpu_runs_core(zen5(), *find_blas_core("Opteron")));       // no 3DNow! (femms)
    CHECK(cpu_runs_core(decode_cpu_features(make_dump("AuthenticAMD", 0xF, 0x41, {"sse3", "3dnow", "prefetchw"})),
                        *find_blas_core("Opteron_SSE3")));
}

// auto, keep, names in any case; anything else is a ConfigError naming the field and listing names.
TEST_CASE("parse_blas_core_option") {
    CHECK(parse_blas_core_option("auto").mode == BlasCoreOption::Mode::automatic);
    CHECK(parse_blas_core_option("KEEP").mode == BlasCoreOption::Mode::keep);
    CHECK(named("skylakex").mode == BlasCoreOption::Mode::named);
    CHECK(named("skylakex").name == "SkylakeX");
    CHECK(blas_core_option_name(named("skylakex")) == "SkylakeX");
    CHECK(blas_core_option_name(keep) == "keep");
    CHECK_THROWS_WITH_AS(parse_blas_core_option("Zen4"),
                         doctest::Contains("blas_core: expected auto, keep or an OpenBLAS core name"), ConfigError);
    CHECK_THROWS_AS(parse_blas_core_option(""), ConfigError);
}

TEST_CASE("decide_blas_core: OPENBLAS_CORETYPE set by the user") {
    SUBCASE("Zen 5, Haswell (this workplace's setting): respected, one note that it is narrower") {
        const auto d = decide_blas_core(zen5(), library("Haswell", "Haswell"), automatic);
        CHECK(d.core == "Haswell");
        CHECK_FALSE(d.switch_needed);
        CHECK(d.reason == "OPENBLAS_CORETYPE=Haswell, set in the environment");
        CHECK(contains(d.note, "Haswell (AVX2+FMA) kernels on a CPU with AVX-512"));
        CHECK(contains(d.note, "Cooperlake (AVX-512) would be faster"));
    }
    SUBCASE("Zen 5, Cooperlake: respected, no note") {
        const auto d = decide_blas_core(zen5(), library("Cooperlake", "cooperlake"), automatic);
        CHECK(d.core == "Cooperlake");
        CHECK_FALSE(d.switch_needed);
        CHECK(d.note.empty());
    }
    SUBCASE("a core the CPU cannot run: an error, not SIGILL at the first GEMM") {
        CHECK_THROWS_WITH_AS(decide_blas_core(haswell(), library("SkylakeX", "SkylakeX"), automatic),
                             doctest::Contains("OPENBLAS_CORETYPE=SkylakeX: expected a core this CPU can run"), Error);
        CHECK_THROWS_AS(decide_blas_core(zen5(), library("Opteron", "Opteron"), automatic), Error);
    }
    SUBCASE("not a core name: OpenBLAS ignored it; say so") {
        const auto d = decide_blas_core(zen5(), library("Cooperlake", "Zen4"), automatic);
        CHECK(d.core == "Cooperlake");
        CHECK_FALSE(d.switch_needed);
        CHECK(contains(d.note, "OPENBLAS_CORETYPE=Zen4 is not an OpenBLAS core name"));
    }
    SUBCASE("a name OpenBLAS did not take: say what runs instead") {
        const auto d = decide_blas_core(skylake_sp(), library("SkylakeX", "SapphireRapids"), automatic);
        CHECK(d.core == "SkylakeX");
        CHECK(contains(d.note, "OpenBLAS runs SkylakeX (AVX-512) instead"));
    }
}

TEST_CASE("decide_blas_core: OPENBLAS_CORETYPE unset") {
    SUBCASE("OpenBLAS chose Prescott on an AVX-512 CPU it does not know: switch to the best") {
        const auto d = decide_blas_core(emerald_rapids(), library("Prescott"), automatic);
        CHECK(d.core == "Cooperlake");
        CHECK(d.switch_needed);
        CHECK(contains(d.reason, "OpenBLAS chose Prescott (SSE) on a CPU with AVX-512"));
        CHECK(contains(d.reason, "model 207"));
        CHECK(d.note.empty());
        CHECK(decide_blas_core(skylake_sp(), library("Prescott"), automatic).core == "SkylakeX");
    }
    SUBCASE("Prescott on AVX2 CPUs: Zen on AMD, Haswell on Intel; Sandybridge on AVX") {
        CHECK(decide_blas_core(zen2(), library("Prescott"), automatic).core == "Zen");
        CHECK(decide_blas_core(haswell(), library("Prescott"), automatic).core == "Haswell");
        CHECK(decide_blas_core(sandy_bridge(), library("Prescott"), automatic).core == "Sandybridge");
    }
    SUBCASE("OpenBLAS already chose the widest class: kept, whichever of the class it is") {
        for (const char* chosen : {"Cooperlake", "SkylakeX"}) {
            const auto d = decide_blas_core(zen5(), library(chosen), automatic);
            CHECK(d.core == chosen);
            CHECK_FALSE(d.switch_needed);
            CHECK(contains(d.reason, "widest class this CPU supports (AVX-512)"));
            CHECK(d.note.empty());
        }
        CHECK_FALSE(decide_blas_core(zen2(), library("Haswell"), automatic).switch_needed);
        CHECK_FALSE(decide_blas_core(knights_landing(), library("Haswell"), automatic).switch_needed);
        CHECK_FALSE(decide_blas_core(zen5(0x07), library("Zen"), automatic).switch_needed);
    }
    SUBCASE("a CPU without AVX: the SSE cores are right, no switch, no note") {
        for (const char* chosen : {"Prescott", "Nehalem", "Core2"}) {
            const auto d = decide_blas_core(nehalem(), library(chosen), automatic);
            CHECK(d.core == chosen);
            CHECK_FALSE(d.switch_needed);
            CHECK(d.note.empty());
        }
    }
    SUBCASE("not a DYNAMIC_ARCH build: kept with a note; a named core is an error") {
        const auto d = decide_blas_core(emerald_rapids(), library("Prescott", nullptr, false), automatic);
        CHECK(d.core == "Prescott");
        CHECK_FALSE(d.switch_needed);
        CHECK(contains(d.note, "no wider kernels"));
        CHECK_THROWS_AS(decide_blas_core(emerald_rapids(), library("Prescott", nullptr, false), named("SkylakeX")),
                        ConfigError);
    }
    SUBCASE("a core name mlptrain does not know (a newer OpenBLAS): kept with a note") {
        const auto d = decide_blas_core(zen5(), library("Zen5"), automatic);
        CHECK(d.core == "Zen5");
        CHECK_FALSE(d.switch_needed);
        CHECK(contains(d.note, "does not know"));
    }
}

TEST_CASE("decide_blas_core: --blas-core keep and NAME") {
    SUBCASE("keep never switches and notes a narrow core") {
        const auto d = decide_blas_core(emerald_rapids(), library("Prescott"), keep);
        CHECK(d.core == "Prescott");
        CHECK_FALSE(d.switch_needed);
        CHECK(contains(d.reason, "OpenBLAS's own choice, kept"));
        CHECK(contains(d.note, "Prescott (SSE) kernels on a CPU with AVX-512"));
        CHECK(contains(decide_blas_core(zen5(), library("Haswell", "Haswell"), keep).reason,
                       "OPENBLAS_CORETYPE=Haswell, kept"));
    }
    SUBCASE("NAME overrides the environment and OpenBLAS's choice") {
        const auto d = decide_blas_core(zen5(), library("Haswell", "Haswell"), named("skylakex"));
        CHECK(d.core == "SkylakeX");
        CHECK(d.switch_needed);
        CHECK(contains(d.reason, "SkylakeX"));
        CHECK(d.note.empty());
        CHECK_FALSE(decide_blas_core(zen5(), library("Cooperlake"), named("Cooperlake")).switch_needed);
        const auto narrow = decide_blas_core(zen5(), library("Cooperlake"), named("Haswell"));
        CHECK(narrow.switch_needed);
        CHECK(contains(narrow.note, "Cooperlake (AVX-512) would be faster"));
    }
    SUBCASE("a NAME the CPU cannot run is a ConfigError for blas_core") {
        CHECK_THROWS_WITH_AS(decide_blas_core(haswell(), library("Haswell"), named("SkylakeX")),
                             doctest::Contains("blas_core: expected a core this CPU can run"), ConfigError);
        CHECK_THROWS_AS(decide_blas_core(zen5(), library("Cooperlake"), named("Bulldozer")), ConfigError);
        CHECK_THROWS_AS(decide_blas_core(zen5(), library("Cooperlake"), named("Opteron")), ConfigError);
    }
}
