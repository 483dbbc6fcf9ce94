// Hand-built CPUID dumps of CPUs this machine is not, for the BLAS core decision tests.
#pragma once

#include <cstring>
#include <initializer_list>
#include <stdexcept>
#include <string>

#include "mlptrain/core/cpu_features.hpp"

namespace mlptrain::test {

// Sets the CPUID bits of the named features; family/model are display values (Zen 5 is
// family 0x1A model 0x02, Emerald Rapids family 6 model 0xCF). xcr0 0xE7 = x87|SSE|AVX|
// opmask|ZMM_Hi256|Hi16_ZMM enabled by the OS, 0x07 = no AVX-512 state.
inline CpuidDump make_dump(const char* vendor, int family, int model,
                           std::initializer_list<const char*> features,
                           unsigned long long xcr0 = 0xE7, bool osxsave = true) {
    CpuidDump d;
    d.leaf0.eax = 0x10;
    std::memcpy(&d.leaf0.ebx, vendor + 0, 4);
    std::memcpy(&d.leaf0.edx, vendor + 4, 4);
    std::memcpy(&d.leaf0.ecx, vendor + 8, 4);
    const unsigned base_family = family >= 0xF ? 0xF : static_cast<unsigned>(family);
    const unsigned ext_family = family >= 0xF ? static_cast<unsigned>(family - 0xF) : 0;
    d.leaf1.eax = (ext_family << 20) | ((static_cast<unsigned>(model) >> 4) << 16) |
                  (base_family << 8) | ((static_cast<unsigned>(model) & 0xF) << 4) | 1;
    d.leaf7_0.eax = 1;
    d.ext0.eax = 0x80000008u;
    if (osxsave) d.leaf1.ecx |= 1u << 27;
    d.xcr0 = xcr0;
    for (const char* f : features) {
        const std::string s = f;
        if (s == "sse3") d.leaf1.ecx |= 1u << 0;
        else if (s == "ssse3") d.leaf1.ecx |= 1u << 9;
        else if (s == "fma") d.leaf1.ecx |= 1u << 12;
        else if (s == "sse4_1") d.leaf1.ecx |= 1u << 19;
        else if (s == "sse4_2") d.leaf1.ecx |= 1u << 20;
        else if (s == "avx") d.leaf1.ecx |= 1u << 28;
        else if (s == "avx2") d.leaf7_0.ebx |= 1u << 5;
        else if (s == "avx512f") d.leaf7_0.ebx |= 1u << 16;
        else if (s == "avx512dq") d.leaf7_0.ebx |= 1u << 17;
        else if (s == "avx512cd") d.leaf7_0.ebx |= 1u << 28;
        else if (s == "avx512bw") d.leaf7_0.ebx |= 1u << 30;
        else if (s == "avx512vl") d.leaf7_0.ebx |= 1u << 31;
        else if (s == "avx512_vnni") d.leaf7_0.ecx |= 1u << 11;
        else if (s == "avx512_fp16") d.leaf7_0.edx |= 1u << 23;
        else if (s == "avx512_bf16") d.leaf7_1.eax |= 1u << 5;
        else if (s == "prefetchw") d.ext1.ecx |= 1u << 8;
        else if (s == "fma4") d.ext1.ecx |= 1u << 16;
        else if (s == "3dnow") d.ext1.edx |= 1u << 31;
        else throw std::invalid_argument("unknown feature " + s);
    }
    return d;
}

#define MLPTRAIN_SSE4 "sse3", "ssse3", "sse4_1", "sse4_2"
#define MLPTRAIN_AVX2 MLPTRAIN_SSE4, "avx", "fma", "avx2"
#define MLPTRAIN_AVX512 MLPTRAIN_AVX2, "avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl"

inline CpuFeatures zen5(unsigned long long xcr0 = 0xE7) {
    return decode_cpu_features(make_dump("AuthenticAMD", 0x1A, 0x02,
        {MLPTRAIN_AVX512, "avx512_vnni", "avx512_bf16", "prefetchw"}, xcr0));
}
inline CpuFeatures emerald_rapids() {
    return decode_cpu_features(make_dump("GenuineIntel", 6, 0xCF,
        {MLPTRAIN_AVX512, "avx512_vnni", "avx512_bf16", "avx512_fp16", "prefetchw"}));
}
inline CpuFeatures skylake_sp() {
    return decode_cpu_features(make_dump("GenuineIntel", 6, 0x55, {MLPTRAIN_AVX512, "prefetchw"}));
}
inline CpuFeatures knights_landing() {  // AVX-512F/CD only: not the SkylakeX set
    return decode_cpu_features(make_dump("GenuineIntel", 6, 0x57, {MLPTRAIN_AVX2, "avx512f", "avx512cd"}));
}
inline CpuFeatures haswell() {
    return decode_cpu_features(make_dump("GenuineIntel", 6, 0x3F, {MLPTRAIN_AVX2}));
}
inline CpuFeatures zen2() {
    return decode_cpu_features(make_dump("AuthenticAMD", 0x17, 0x31, {MLPTRAIN_AVX2, "prefetchw"}));
}
inline CpuFeatures sandy_bridge() {
    return decode_cpu_features(make_dump("GenuineIntel", 6, 0x2D, {MLPTRAIN_SSE4, "avx"}));
}
inline CpuFeatures nehalem() {
    return decode_cpu_features(make_dump("GenuineIntel", 6, 0x1A, {MLPTRAIN_SSE4}));
}

}  // namespace mlptrain::test
