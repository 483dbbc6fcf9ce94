// Whether this CPU and build can run an OpenBLAS core, and running a test body on it: the
// environment forces Haswell kernels, and some tests need the AVX-512 ones. The process gets
// its core back afterwards, also when the body throws.
#pragma once

#include <functional>
#include <string>

#include <doctest/doctest.h>

#include "mlptrain/core/blas.hpp"
#include "mlptrain/core/blas_core.hpp"
#include "mlptrain/core/cpu_features.hpp"

namespace mlptrain::test {

inline bool blas_core_runs_here(const char* core) {
    const BlasCore* c = find_blas_core(core);
    return c && blas_can_switch_core() && cpu_runs_core(detect_cpu_features(), *c);
}

inline void with_blas_core(const std::string& core, const std::function<void()>& body) {
    const std::string before = blas_core_name();
    REQUIRE(switch_blas_core(core) == core);
    try {
        body();
    } catch (...) {
        switch_blas_core(before);
        throw;
    }
    switch_blas_core(before);
}

}  // namespace mlptrain::test
