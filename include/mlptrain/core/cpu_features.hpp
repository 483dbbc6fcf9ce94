// What the x86-64 CPU and the OS let a process execute: CPUID feature bits gated by the
// register state the OS saves (XGETBV/XCR0). Feeds the BLAS core decision (blas_core.hpp),
// the FMA peak's vector width (fma_peak.hpp) and the benchmark's environment record. Pure
// data plus one detector; no dependency on OpenBLAS. On a CPU that is not x86 every flag
// reads false.
#pragma once

#include <string>

namespace mlptrain {

// Each flag is "the CPU reports it AND the OS saves the registers it needs", so a flag that
// is true can be executed without #UD. (A CPU may report AVX-512 while the OS or hypervisor
// does not enable ZMM state in XCR0; then the avx512* flags here are false.)
struct CpuFeatures {
    std::string vendor;  // CPUID.0 vendor string: "GenuineIntel", "AuthenticAMD", ...
    std::string brand;   // CPUID.80000002-4 brand string, trimmed ("" if absent)
    int family = 0;      // display family: base + extended when base == 0xF (Zen 5: 0x1A)
    int model = 0;       // display model: (extended << 4) | base for family 6 and 0xF+
    int stepping = 0;

    bool sse3 = false, ssse3 = false, sse4_1 = false, sse4_2 = false;
    bool prefetchw = false;  // CPUID.80000001:ECX[8] (OpenBLAS's Barcelona kernels use it)
    bool fma4 = false;       // CPUID.80000001:ECX[16], AMD Bulldozer..Excavator only
    bool amd3dnow = false;   // CPUID.80000001:EDX[31], AMD K7..K10 (Zen has none: femms faults)
    bool avx = false, fma = false, f16c = false, avx2 = false;
    bool avx512f = false, avx512cd = false, avx512bw = false, avx512dq = false,
         avx512vl = false, avx512_vnni = false, avx512_bf16 = false, avx512_fp16 = false;
    // AMX: CPUID.7.0:EDX[22] (bf16 tiles) and [24] (tile architecture), usable only when the
    // OS enables the tile state (XCR0 bits 17-18, XTILECFG and XTILEDATA).
    bool amx_bf16 = false, amx_tile = false;

    // XCR0 as read, for the record: bits 1|2 = XMM|YMM, bits 5|6|7 = opmask|ZMM_Hi256|Hi16_ZMM,
    // bits 17|18 = AMX tile configuration|data.
    unsigned long long xcr0 = 0;
};

// The vector ISA levels that matter for GEMM kernels, narrowest first; comparable with <.
enum class VectorIsa { sse = 0, avx = 1, avx2 = 2, avx512 = 3 };

// The raw CPUID leaves and XCR0 the features are decoded from; tests build these by hand
// to cover CPUs and OS states this machine does not have.
struct CpuidRegs {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
};
struct CpuidDump {
    CpuidRegs leaf0, leaf1, leaf7_0, leaf7_1, ext0, ext1;  // ext = 0x80000000, 0x80000001
    CpuidRegs brand[3];                                     // 0x80000002..4
    unsigned long long xcr0 = 0;                            // valid when leaf1.ecx OSXSAVE
};

// Pure decoding of a dump; detect_cpu_features() = decode_cpu_features(read_cpuid_dump()).
CpuFeatures decode_cpu_features(const CpuidDump& dump);
CpuidDump read_cpuid_dump();
// Runs CPUID/XGETBV on the calling CPU. Cheap (microseconds).
CpuFeatures detect_cpu_features();

// The widest level whose whole instruction set is usable:
//   avx512: F+CD+BW+DQ+VL (what -march=skylake-avx512 may emit) and ZMM state enabled;
//   avx2:   AVX2+FMA3 and YMM state; avx: AVX and YMM state; sse: anything else.
VectorIsa widest_vector_isa(const CpuFeatures& cpu);

const char* to_string(VectorIsa isa);

// "avx512f avx512bw ... fma avx2" — the flags that are true, for run headers and bench JSON.
std::string describe_isa_flags(const CpuFeatures& cpu);

}  // namespace mlptrain
