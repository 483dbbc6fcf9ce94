// cblas_sgemm wrapper, OpenBLAS introspection and the run-time core switch (see blas.hpp).
// The only includer of cblas.h.
//
// The switch: OpenBLAS 0.3.x DYNAMIC_ARCH builds export gotoblas_dynamic_quit() (drops the
// active kernel table) and gotoblas_dynamic_init() (reads OPENBLAS_CORETYPE, picks the table
// and runs its init(), which sets the blocking parameters). The library's constructor ran
// the latter once before main; running the pair again before any BLAS call leaves the
// library as the constructor would have with the variable set: every kernel pointer and
// blocking parameter is read from the table at call time, and nothing else set up at load
// (thread pool, buffer pool of compile-time size) depends on the core. They are looked up
// with dlsym, so a build without them still links and simply cannot switch.
#include "mlptrain/core/blas.hpp"

#include "onednn_gemm.hpp"

#include <cblas.h>
#include <dlfcn.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>

namespace mlptrain {

void gemm(Transpose trans_a, Transpose trans_b, float alpha, ConstMatrix A, ConstMatrix B,
          float beta, Matrix C) {
    const bool ta = trans_a == Transpose::yes, tb = trans_b == Transpose::yes;
    const std::int64_t m = ta ? A.cols : A.rows, k = ta ? A.rows : A.cols;
    const std::int64_t kb = tb ? B.cols : B.rows, n = tb ? B.rows : B.cols;
    MLPTRAIN_ASSERT(k == kb && C.rows == m && C.cols == n, "gemm shape mismatch");
    MLPTRAIN_ASSERT(A.ld >= A.cols && B.ld >= B.cols && C.ld >= C.cols, "gemm leading dimension");
    if (m == 0 || n == 0) return;
    if (k == 0) {  // BLAS would leave C untouched for alpha·0; define it as beta·C.
        for (std::int64_t r = 0; r < m; ++r)
            for (std::int64_t c = 0; c < n; ++c) C(r, c) = beta == 0.0f ? 0.0f : beta * C(r, c);
        return;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha,
                A.data, static_cast<blasint>(A.ld), B.data, static_cast<blasint>(B.ld), beta,
                C.data, static_cast<blasint>(C.ld));
}

const char* gemm_backend_name(GemmBackend backend) { return backend == GemmBackend::onednn ? "onednn" : "openblas"; }

const char* gemm_precision_name(GemmPrecision precision) { return precision == GemmPrecision::bf16 ? "bf16" : "fp32"; }

std::string describe_gemm(const GemmSettings& s) {
    if (s.backend == GemmBackend::openblas) return "OpenBLAS, fp32";
    return onednn_description() +
           (s.precision == GemmPrecision::bf16 ? ", bf16 inputs, fp32 accumulation" : ", fp32");
}

bool GemmShape::operator==(const GemmShape& o) const {
    return m == o.m && n == o.n && k == o.k && trans_a == o.trans_a && trans_b == o.trans_b && lda == o.lda &&
           ldb == o.ldb && ldc == o.ldc && alpha == o.alpha && beta == o.beta && precision == o.precision &&
           bias == o.bias;
}

GemmShape gemm_shape(Transpose trans_a, Transpose trans_b, float alpha, ConstMatrix A, ConstMatrix B, float beta,
                     Matrix C, GemmPrecision precision) {
    const bool ta = trans_a == Transpose::yes, tb = trans_b == Transpose::yes;
    GemmShape s;
    s.m = ta ? A.cols : A.rows;
    s.k = ta ? A.rows : A.cols;
    s.n = tb ? B.rows : B.cols;
    const std::int64_t kb = tb ? B.cols : B.rows;
    MLPTRAIN_ASSERT(s.k == kb && C.rows == s.m && C.cols == s.n, "gemm shape mismatch");
    MLPTRAIN_ASSERT(A.ld >= A.cols && B.ld >= B.cols && C.ld >= C.cols, "gemm leading dimension");
    s.trans_a = trans_a;
    s.trans_b = trans_b;
    s.lda = A.ld;
    s.ldb = B.ld;
    s.ldc = C.ld;
    s.alpha = alpha;
    s.beta = beta;
    s.precision = precision;
    return s;
}

GemmShape gemm_bias_shape(Transpose trans_a, Transpose trans_b, ConstMatrix A, ConstMatrix B, Matrix C,
                          GemmPrecision precision) {
    GemmShape s = gemm_shape(trans_a, trans_b, 1.0f, A, B, 0.0f, C, precision);
    s.bias = true;
    return s;
}

GemmContext::GemmContext(GemmSettings settings) : settings_(settings) {
    MLPTRAIN_ASSERT(settings.backend == GemmBackend::onednn || settings.precision == GemmPrecision::fp32,
                    "bf16 GEMM inputs need the oneDNN backend");
    if (settings.backend == GemmBackend::onednn) onednn_ = std::make_unique<OnednnGemm>();
}
GemmContext::~GemmContext() = default;
GemmContext::GemmContext(GemmContext&&) noexcept = default;
GemmContext& GemmContext::operator=(GemmContext&&) noexcept = default;

void GemmContext::prepare(const GemmShape& shape) {
    MLPTRAIN_ASSERT(shape.precision == settings_.precision, "gemm shape of another precision");
    if (onednn_ && shape.m > 0 && shape.n > 0 && shape.k > 0) onednn_->prepare(shape);
}

template <class Call>
void GemmContext::timed(Call&& call) {
    if (!timing_) return call();
    const auto start = std::chrono::steady_clock::now();
    call();
    call_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// C = beta·C, what a product with k = 0 leaves (BLAS would leave C untouched for alpha·0).
static void scale_output(float beta, Matrix C) {
    for (std::int64_t r = 0; r < C.rows; ++r)
        for (std::int64_t c = 0; c < C.cols; ++c) C(r, c) = beta == 0.0f ? 0.0f : beta * C(r, c);
}

void GemmContext::gemm(Transpose trans_a, Transpose trans_b, float alpha, ConstMatrix A, ConstMatrix B, float beta,
                       Matrix C) {
    MLPTRAIN_ASSERT(!bf16(), "fp32 GEMM inputs in a bf16 context");
    if (!onednn_) return timed([&] { mlptrain::gemm(trans_a, trans_b, alpha, A, B, beta, C); });
    const GemmShape s = gemm_shape(trans_a, trans_b, alpha, A, B, beta, C);
    if (s.m == 0 || s.n == 0) return;
    if (s.k == 0) return scale_output(beta, C);
    timed([&] { onednn_->run(s, A.data, B.data, C.data); });
}

void GemmContext::gemm(Transpose trans_a, Transpose trans_b, float alpha, ConstMatrixBf16 A, ConstMatrixBf16 B,
                       float beta, Matrix C) {
    MLPTRAIN_ASSERT(bf16() && onednn_, "bf16 GEMM inputs in an fp32 context");
    const GemmShape s = gemm_shape(trans_a, trans_b, alpha, ConstMatrix{nullptr, A.rows, A.cols, A.ld},
                                   ConstMatrix{nullptr, B.rows, B.cols, B.ld}, beta, C, GemmPrecision::bf16);
    if (s.m == 0 || s.n == 0) return;
    if (s.k == 0) return scale_output(beta, C);
    timed([&] { onednn_->run(s, A.data, B.data, C.data); });
}

// b in every row of C: the whole result of a product with k = 0, and the OpenBLAS backend's
// starting point for beta = 1.
static void copy_bias_rows(const float* b, Matrix C) {
    for (std::int64_t r = 0; r < C.rows; ++r) std::memcpy(C.row(r), b, sizeof(float) * static_cast<std::size_t>(C.cols));
}

void GemmContext::gemm_bias(Transpose trans_a, Transpose trans_b, ConstMatrix A, ConstMatrix B, const float* b,
                            Matrix C) {
    MLPTRAIN_ASSERT(!bf16(), "fp32 GEMM inputs in a bf16 context");
    const GemmShape s = gemm_bias_shape(trans_a, trans_b, A, B, C);
    if (!onednn_ || s.k == 0) {
        copy_bias_rows(b, C);
        if (s.k > 0) timed([&] { mlptrain::gemm(trans_a, trans_b, 1.0f, A, B, 1.0f, C); });
        return;
    }
    if (s.m == 0 || s.n == 0) return;
    timed([&] { onednn_->run(s, A.data, B.data, C.data, b); });
}

void GemmContext::gemm_bias(Transpose trans_a, Transpose trans_b, ConstMatrixBf16 A, ConstMatrixBf16 B,
                            const float* b, Matrix C) {
    MLPTRAIN_ASSERT(bf16() && onednn_, "bf16 GEMM inputs in an fp32 context");
    const GemmShape s = gemm_bias_shape(trans_a, trans_b, ConstMatrix{nullptr, A.rows, A.cols, A.ld},
                                        ConstMatrix{nullptr, B.rows, B.cols, B.ld}, C, GemmPrecision::bf16);
    if (s.m == 0 || s.n == 0) return;
    if (s.k == 0) return copy_bias_rows(b, C);
    timed([&] { onednn_->run(s, A.data, B.data, C.data, b); });
}

int GemmContext::primitives() const { return onednn_ ? onednn_->primitives() : 0; }
int GemmContext::created_on_demand() const { return onednn_ ? onednn_->created_on_demand() : 0; }

void set_blas_single_threaded() { openblas_set_num_threads(1); }

int blas_max_concurrent_callers() {
    const std::string config = openblas_get_config();
    const std::size_t at = config.find("MAX_THREADS=");
    if (at == std::string::npos) return 64;
    const int value = std::atoi(config.c_str() + at + 12);
    return value > 0 ? value : 64;
}

int blas_threads_per_call() { return openblas_get_parallel() == 0 ? 1 : openblas_get_num_threads(); }

std::string blas_description() {
    std::string mode;
    switch (openblas_get_parallel()) {
        case 0: mode = "serial (no BLAS threads)"; break;
        case 1: mode = "pthreads build, " + std::to_string(openblas_get_num_threads()) + " thread(s) per call"; break;
        default: mode = "OpenMP build, " + std::to_string(openblas_get_num_threads()) + " thread(s) per call"; break;
    }
    return std::string(openblas_get_config()) + ", core " + openblas_get_corename() + ", " + mode;
}

namespace {

using VoidFn = void (*)();

VoidFn find_function(const char* name) { return reinterpret_cast<VoidFn>(dlsym(RTLD_DEFAULT, name)); }

}  // namespace

std::string blas_version() {
    const std::string config = openblas_get_config();
    const std::string prefix = "OpenBLAS ";
    if (config.rfind(prefix, 0) != 0) return "";
    return config.substr(prefix.size(), config.find(' ', prefix.size()) - prefix.size());
}

std::string blas_core_name() { return openblas_get_corename(); }

bool blas_can_switch_core() {
    return std::strstr(openblas_get_config(), "DYNAMIC_ARCH") != nullptr &&
           find_function("gotoblas_dynamic_quit") != nullptr && find_function("gotoblas_dynamic_init") != nullptr;
}

std::string switch_blas_core(const std::string& core) {
    const VoidFn quit = find_function("gotoblas_dynamic_quit");
    const VoidFn init = find_function("gotoblas_dynamic_init");
    if (quit == nullptr || init == nullptr) return blas_core_name();
    const char* user = std::getenv("OPENBLAS_CORETYPE");
    const std::optional<std::string> saved = user ? std::optional<std::string>(user) : std::nullopt;
    // "" must unset the variable: OpenBLAS takes any set value, even "", as a request, and
    // for a name it does not know picks by CPU features instead of its CPUID model table.
    if (core.empty()) unsetenv("OPENBLAS_CORETYPE");
    else setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
    quit();
    init();
    // The environment stays the user's: child processes and the benchmark's record of
    // OPENBLAS_* variables show what the user set; blas_core_name() shows what runs.
    if (saved) setenv("OPENBLAS_CORETYPE", saved->c_str(), 1);
    else unsetenv("OPENBLAS_CORETYPE");
    return blas_core_name();
}

}  // namespace mlptrain
