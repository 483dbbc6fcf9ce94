// The one GEMM wrapper. Every matrix product in mlptrain goes through gemm() (OpenBLAS's
// cblas_sgemm) or a GemmContext, which runs the same call on the backend a run chose:
// OpenBLAS, or oneDNN's matmul primitives with fp32 or bf16 inputs. Nothing else includes
// cblas.h (blas.cpp) or dnnl.hpp (onednn/onednn_gemm.cpp). Also reports which BLAS is
// linked, pins it to one thread, and switches OpenBLAS's kernel set ("core") at run time
// (run/blas_selection.cpp decides).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "mlptrain/core/bf16.hpp"
#include "mlptrain/core/matrix.hpp"

namespace mlptrain {

enum class Transpose { no, yes };

// C = alpha · op(A) · op(B) + beta · C, with op(X) = X or Xᵀ. beta = 0 overwrites C,
// beta = 1 accumulates into it. Shapes are asserted: op(A) (m, k), op(B) (k, n), C (m, n).
void gemm(Transpose trans_a, Transpose trans_b, float alpha, ConstMatrix A, ConstMatrix B,
          float beta, Matrix C);

// The library that computes a run's GEMMs, and the type of their inputs. Accumulation and
// outputs are fp32 in every case; bf16 inputs need oneDNN.
enum class GemmBackend { openblas, onednn };
enum class GemmPrecision { fp32, bf16 };

struct GemmSettings {
    GemmBackend backend = GemmBackend::openblas;
    GemmPrecision precision = GemmPrecision::fp32;
    bool operator==(const GemmSettings& o) const { return backend == o.backend && precision == o.precision; }
    bool operator!=(const GemmSettings& o) const { return !(*this == o); }
};

const char* gemm_backend_name(GemmBackend backend);      // "openblas", "onednn"
const char* gemm_precision_name(GemmPrecision precision);  // "fp32", "bf16"
// "OpenBLAS, fp32" or "oneDNN 2.6.3 (OpenMP runtime), ISA avx512_core_bf16, bf16 inputs,
// fp32 accumulation": for run headers.
std::string describe_gemm(const GemmSettings& settings);

// Everything that selects a oneDNN primitive: two calls with equal shapes share one.
struct GemmShape {
    std::int64_t m = 0, n = 0, k = 0;  // op(A) (m, k), op(B) (k, n), C (m, n)
    Transpose trans_a = Transpose::no, trans_b = Transpose::no;
    std::int64_t lda = 0, ldb = 0, ldc = 0;
    float alpha = 1.0f, beta = 0.0f;
    GemmPrecision precision = GemmPrecision::fp32;
    bool bias = false;  // C = op(A)·op(B) + 1·bᵀ (GemmContext::gemm_bias; alpha 1, beta 0)
    bool operator==(const GemmShape& o) const;
};

// The shape of gemm(trans_a, trans_b, alpha, A, B, beta, C) with inputs of `precision`;
// only the views' dimensions are read (data may be null). Asserts that they agree.
GemmShape gemm_shape(Transpose trans_a, Transpose trans_b, float alpha, ConstMatrix A, ConstMatrix B, float beta,
                     Matrix C, GemmPrecision precision = GemmPrecision::fp32);
// The shape of gemm_bias(trans_a, trans_b, A, B, b, C).
GemmShape gemm_bias_shape(Transpose trans_a, Transpose trans_b, ConstMatrix A, ConstMatrix B, Matrix C,
                          GemmPrecision precision = GemmPrecision::fp32);

class OnednnGemm;  // src/core/onednn_gemm.hpp

// One caller's GEMMs on the chosen backend: a shard's workspace owns one. With oneDNN it
// holds a primitive per shape, created by prepare() — outside training steps, because
// creating one allocates and compiles code — and a scratchpad, so that a step's calls create
// nothing. Every call runs single-threaded on the calling thread, on either backend.
class GemmContext {
public:
    // Throws Error when the backend is not in this build (oneDNN without libdnnl-dev).
    explicit GemmContext(GemmSettings settings = {});
    ~GemmContext();
    GemmContext(GemmContext&&) noexcept;
    GemmContext& operator=(GemmContext&&) noexcept;

    const GemmSettings& settings() const { return settings_; }
    bool bf16() const { return settings_.precision == GemmPrecision::bf16; }

    // Makes calls of this shape ready (oneDNN: creates their primitive if this context has
    // none yet). Nothing to do for OpenBLAS.
    void prepare(const GemmShape& shape);
    // C = alpha · op(A) · op(B) + beta · C with fp32 inputs, as gemm() above.
    void gemm(Transpose trans_a, Transpose trans_b, float alpha, ConstMatrix A, ConstMatrix B, float beta, Matrix C);
    // The same with bf16 inputs: exact products of bf16 values summed in fp32 into fp32 C.
    // Only in a bf16 context.
    void gemm(Transpose trans_a, Transpose trans_b, float alpha, ConstMatrixBf16 A, ConstMatrixBf16 B, float beta,
              Matrix C);
    // C = op(A)·op(B) + 1·bᵀ: the vector b (C.cols floats) added to every row, as in a
    // layer's Z = X·Wᵀ + b. Both backends add b to each fp32 dot product once, after it is
    // summed, so the bits are those of copying b into every row and accumulating with
    // beta = 1 (which is what the OpenBLAS backend does); oneDNN takes b as its bias
    // argument and so neither writes the copies nor reads them back.
    void gemm_bias(Transpose trans_a, Transpose trans_b, ConstMatrix A, ConstMatrix B, const float* b, Matrix C);
    void gemm_bias(Transpose trans_a, Transpose trans_b, ConstMatrixBf16 A, ConstMatrixBf16 B, const float* b,
                   Matrix C);  // bf16 inputs, in a bf16 context

    // oneDNN primitives this context holds, and how many of them a call had to create
    // because its shape was not prepared (0 in a correct trainer; tests check it).
    int primitives() const;
    int created_on_demand() const;

    // With timing on, every call adds the wall time of its library call (OpenBLAS's sgemm or
    // oneDNN's primitive; not the bias rows the OpenBLAS backend copies first) to
    // call_seconds(): two clock reads a call, about 50 ns. Off unless asked for (`mlptrain
    // bench` asks where that is a negligible share of a step).
    void time_calls(bool on) { timing_ = on; }
    double call_seconds() const { return call_seconds_; }
    void reset_call_seconds() { call_seconds_ = 0.0; }

private:
    template <class Call>
    void timed(Call&& call);

    GemmSettings settings_;
    std::unique_ptr<OnednnGemm> onednn_;
    bool timing_ = false;
    double call_seconds_ = 0.0;
};

// Whether this build has the oneDNN backend (libdnnl-dev was found at configure time).
bool onednn_built();
// "oneDNN 2.6.3 (OpenMP runtime), ISA avx512_core_bf16"; "" without oneDNN.
std::string onednn_description();
// Whether oneDNN dispatches bf16 matmuls to bf16 dot products here (AVX512_BF16 or AMX;
// a DNNL_MAX_CPU_ISA cap can prevent it). false without oneDNN.
bool onednn_runs_bf16();

// Asks OpenBLAS for one thread per call: the trainer's workers are the parallelism, and
// a BLAS pool working under them would oversubscribe the cores.
void set_blas_single_threaded();

// e.g. "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64,
// core Cooperlake, pthreads build, 1 thread(s) per call".
std::string blas_description();
// Threads one BLAS call may use (1 once set_blas_single_threaded has run).
int blas_threads_per_call();
// How many threads may call the BLAS at once: OpenBLAS keeps per-thread work buffers for
// at most its compile-time MAX_THREADS (read from its configuration string; 64 if absent).
int blas_max_concurrent_callers();
// "0.3.21": the version in OpenBLAS's configuration string ("" if it has none).
std::string blas_version();

// The kernel set OpenBLAS runs now, as openblas_get_corename() spells it ("Haswell").
std::string blas_core_name();
// Whether OpenBLAS can change its core at run time: a DYNAMIC_ARCH build that exports
// gotoblas_dynamic_quit and gotoblas_dynamic_init (Debian's 0.3.x builds do).
bool blas_can_switch_core();
// Makes OpenBLAS run `core` (a name OPENBLAS_CORETYPE accepts; "" = OpenBLAS's own CPUID
// detection, as at load time) and returns the core it runs afterwards, which the caller
// must compare: OpenBLAS falls back to a choice by CPU features for a name it does not take.
// OPENBLAS_CORETYPE is restored as the user set it. Only safe while no thread is inside
// BLAS: call it before any worker pool exists.
std::string switch_blas_core(const std::string& core);

}  // namespace mlptrain
