// CPUID/XGETBV feature detection (see cpu_features.hpp). GCC/Clang <cpuid.h> intrinsics;
// XGETBV is emitted as bytes so no -mxsave target flag is needed on the translation unit.
#include "mlptrain/core/cpu_features.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define MLPTRAIN_X86 1
#endif

#include <cstring>
#include <utility>

namespace mlptrain {
namespace {

// __get_cpuid_count returns 0 when the leaf is above the maximum the CPU supports; the
// registers then stay zero, which reads as "feature absent".
CpuidRegs cpuid([[maybe_unused]] unsigned leaf, [[maybe_unused]] unsigned subleaf = 0) {
    CpuidRegs r;
#ifdef MLPTRAIN_X86
    __get_cpuid_count(leaf, subleaf, &r.eax, &r.ebx, &r.ecx, &r.edx);
#endif
    return r;
}

bool bit(unsigned value, int n) { return ((value >> n) & 1u) != 0; }

// Only valid when CPUID.1:ECX.OSXSAVE[27] is set (the OS enabled XSAVE and XGETBV).
unsigned long long read_xcr0() {
    unsigned eax = 0, edx = 0;
#ifdef MLPTRAIN_X86
    __asm__ __volatile__(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
#endif
    return (static_cast<unsigned long long>(edx) << 32) | eax;
}

}  // namespace

CpuidDump read_cpuid_dump() {
    CpuidDump d;
    d.leaf0 = cpuid(0);
    if (d.leaf0.eax >= 1) d.leaf1 = cpuid(1);
    if (d.leaf0.eax >= 7) {
        d.leaf7_0 = cpuid(7, 0);
        // Subleaf 1 exists only when CPUID.7.0:EAX (the highest subleaf) >= 1.
        if (d.leaf7_0.eax >= 1) d.leaf7_1 = cpuid(7, 1);
    }
    d.ext0 = cpuid(0x80000000u);
    if (d.ext0.eax >= 0x80000001u) d.ext1 = cpuid(0x80000001u);
    if (d.ext0.eax >= 0x80000004u)
        for (unsigned i = 0; i < 3; ++i) d.brand[i] = cpuid(0x80000002u + i);
    if (bit(d.leaf1.ecx, 27)) d.xcr0 = read_xcr0();
    return d;
}

CpuFeatures decode_cpu_features(const CpuidDump& d) {
    CpuFeatures cpu;
    char vendor[13] = {};
    std::memcpy(vendor + 0, &d.leaf0.ebx, 4);
    std::memcpy(vendor + 4, &d.leaf0.edx, 4);
    std::memcpy(vendor + 8, &d.leaf0.ecx, 4);
    cpu.vendor = vendor;

    const unsigned eax1 = d.leaf1.eax;
    const int base_family = static_cast<int>((eax1 >> 8) & 0xF);
    const int base_model = static_cast<int>((eax1 >> 4) & 0xF);
    const int ext_family = static_cast<int>((eax1 >> 20) & 0xFF);
    const int ext_model = static_cast<int>((eax1 >> 16) & 0xF);
    cpu.family = base_family == 0xF ? base_family + ext_family : base_family;
    cpu.model = (base_family == 0x6 || base_family == 0xF) ? (ext_model << 4) | base_model : base_model;
    cpu.stepping = static_cast<int>(eax1 & 0xF);

    const unsigned ecx1 = d.leaf1.ecx;
    cpu.sse3 = bit(ecx1, 0);
    cpu.ssse3 = bit(ecx1, 9);
    cpu.sse4_1 = bit(ecx1, 19);
    cpu.sse4_2 = bit(ecx1, 20);

    // The OS must save XMM and YMM state (XCR0 bits 1 and 2) before any VEX instruction is
    // usable, and also opmask, ZMM_Hi256 and Hi16_ZMM (bits 5, 6, 7) for AVX-512. CPUID
    // alone says what the silicon has, not what the kernel/hypervisor enabled.
    cpu.xcr0 = bit(ecx1, 27) ? d.xcr0 : 0;
    const bool os_ymm = (cpu.xcr0 & 0x6) == 0x6;
    const bool os_zmm = os_ymm && (cpu.xcr0 & 0xE0) == 0xE0;

    cpu.avx = bit(ecx1, 28) && os_ymm;
    cpu.fma = bit(ecx1, 12) && os_ymm;
    cpu.f16c = bit(ecx1, 29) && os_ymm;
    const CpuidRegs& l7 = d.leaf7_0;
    cpu.avx2 = bit(l7.ebx, 5) && os_ymm;
    cpu.avx512f = bit(l7.ebx, 16) && os_zmm;
    cpu.avx512dq = bit(l7.ebx, 17) && os_zmm;
    cpu.avx512cd = bit(l7.ebx, 28) && os_zmm;
    cpu.avx512bw = bit(l7.ebx, 30) && os_zmm;
    cpu.avx512vl = bit(l7.ebx, 31) && os_zmm;
    cpu.avx512_vnni = bit(l7.ecx, 11) && os_zmm;
    cpu.avx512_fp16 = bit(l7.edx, 23) && os_zmm;
    cpu.avx512_bf16 = bit(d.leaf7_1.eax, 5) && os_zmm;
    const bool os_tiles = ((cpu.xcr0 >> 17) & 3u) == 3u;
    cpu.amx_bf16 = bit(l7.edx, 22) && os_tiles;
    cpu.amx_tile = bit(l7.edx, 24) && os_tiles;
    cpu.prefetchw = bit(d.ext1.ecx, 8);
    cpu.fma4 = bit(d.ext1.ecx, 16) && os_ymm;
    cpu.amd3dnow = bit(d.ext1.edx, 31);

    char brand[49] = {};
    for (int i = 0; i < 3; ++i) {
        std::memcpy(brand + 16 * i + 0, &d.brand[i].eax, 4);
        std::memcpy(brand + 16 * i + 4, &d.brand[i].ebx, 4);
        std::memcpy(brand + 16 * i + 8, &d.brand[i].ecx, 4);
        std::memcpy(brand + 16 * i + 12, &d.brand[i].edx, 4);
    }
    cpu.brand = brand;
    const auto first = cpu.brand.find_first_not_of(' ');
    const auto last = cpu.brand.find_last_not_of(' ');
    cpu.brand = first == std::string::npos ? "" : cpu.brand.substr(first, last - first + 1);
    return cpu;
}

CpuFeatures detect_cpu_features() { return decode_cpu_features(read_cpuid_dump()); }

VectorIsa widest_vector_isa(const CpuFeatures& cpu) {
    if (cpu.avx512f && cpu.avx512cd && cpu.avx512bw && cpu.avx512dq && cpu.avx512vl &&
        cpu.avx2 && cpu.fma)
        return VectorIsa::avx512;
    if (cpu.avx2 && cpu.fma) return VectorIsa::avx2;
    if (cpu.avx) return VectorIsa::avx;
    return VectorIsa::sse;
}

const char* to_string(VectorIsa isa) {
    switch (isa) {
        case VectorIsa::avx512: return "AVX-512";
        case VectorIsa::avx2: return "AVX2+FMA";
        case VectorIsa::avx: return "AVX";
        case VectorIsa::sse: return "SSE";
    }
    return "?";
}

std::string describe_isa_flags(const CpuFeatures& cpu) {
    const std::pair<const char*, bool> flags[] = {
        {"sse3", cpu.sse3},           {"ssse3", cpu.ssse3},
        {"sse4_1", cpu.sse4_1},       {"sse4_2", cpu.sse4_2},
        {"3dnow", cpu.amd3dnow},      {"avx", cpu.avx},
        {"fma", cpu.fma},             {"fma4", cpu.fma4},
        {"f16c", cpu.f16c},           {"avx2", cpu.avx2},
        {"avx512f", cpu.avx512f},     {"avx512cd", cpu.avx512cd},
        {"avx512bw", cpu.avx512bw},   {"avx512dq", cpu.avx512dq},
        {"avx512vl", cpu.avx512vl},   {"avx512_vnni", cpu.avx512_vnni},
        {"avx512_bf16", cpu.avx512_bf16}, {"avx512_fp16", cpu.avx512_fp16},
        {"amx_bf16", cpu.amx_bf16},   {"amx_tile", cpu.amx_tile}};
    std::string out;
    for (const auto& [name, on] : flags)
        if (on) out += (out.empty() ? "" : " ") + std::string(name);
    return out;
}

}  // namespace mlptrain
