// The sgemm self-test (see blas_self_test.hpp).
#include "mlptrain/core/blas_self_test.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <limits>
#include <vector>

#include "mlptrain/core/blas.hpp"

namespace mlptrain {
namespace {

// The engine's three products, row-major with alpha = 1 (nn/backprop.cpp), for logical
// A (m, k) and B (k, n):
//   forward  Z  = X·Wᵀ (+ Z)   no × yes    X (m, k), W stored (n, k)
//   weights  dW = dZᵀ·X        yes × no    dZ stored (k, m), X (k, n)
//   inputs   dX = dZ·W         no × no     dZ (m, k), W (k, n)
struct Form {
    const char* name;
    Transpose trans_a, trans_b;
};
constexpr Form forms[] = {{"Z = X·Wᵀ", Transpose::no, Transpose::yes},
                          {"dW = dZᵀ·X", Transpose::yes, Transpose::no},
                          {"dX = dZ·W", Transpose::no, Transpose::no}};

struct Shape {
    std::int64_t m, n, k;
};
// m, n and k take 1, 7, 17, 67 and 130 in every position (remainders of the 16/8/4-wide
// register tiles); m·n·k ≤ 1e6 reaches the SkylakeX/Cooperlake small-matrix kernels, larger
// products the packed path; k = 470 exceeds the k-block (SGEMM_DEFAULT_Q) of every core
// mlptrain switches to (320 Haswell/Zen/Cooperlake, 384 Sandybridge, 448 SkylakeX), so C is
// updated across k-panels. Σ m·n·k ≈ 3.6 M: the double reference costs more than the sgemms.
constexpr Shape shapes[] = {{1, 1, 1},    {1, 7, 17},    {7, 1, 67},   {17, 67, 1},   {7, 17, 130},
                            {17, 130, 7}, {130, 7, 17},  {67, 7, 130}, {1, 130, 67},  {130, 1, 130},
                            {67, 67, 67}, {130, 67, 130}, {67, 33, 470}, {130, 17, 470}};

constexpr std::int64_t pad = 3;       // extra columns per row of every operand and of C
constexpr float sentinel = 12345.0f;  // the padding's value: C's must survive, A's and B's must not leak

// Deterministic values in [-1, 1): a failure reproduces.
struct Lcg {
    std::uint64_t state = 0x9E3779B97F4A7C15ull;
    float next() {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<float>(static_cast<std::int32_t>(state >> 32)) * (1.0f / 2147483648.0f);
    }
};

// Buffers sized once for the largest shape and reused: fresh allocations of this size are
// mmapped by malloc and page-faulted on every use (that doubled the test's cold cost).
struct Buffers {
    std::vector<float> a, b;                 // logical A (m, k), B (k, n), dense
    std::vector<float> sa, sb, c, c0;        // stored operands and C with ld = cols + pad
    std::vector<double> ref, row_l1, col_max;  // A·B in double; ‖a_i‖₁; max_p |b_pj|
    Buffers() {
        std::size_t mk = 0, kn = 0, mn = 0, m = 0, n = 0;
        for (const Shape& s : shapes) {
            mk = std::max(mk, static_cast<std::size_t>(std::max(s.m * (s.k + pad), s.k * (s.m + pad))));
            kn = std::max(kn, static_cast<std::size_t>(std::max(s.k * (s.n + pad), s.n * (s.k + pad))));
            mn = std::max(mn, static_cast<std::size_t>(s.m * (s.n + pad)));
            m = std::max(m, static_cast<std::size_t>(s.m));
            n = std::max(n, static_cast<std::size_t>(s.n));
        }
        a.resize(mk), b.resize(kn), sa.resize(mk), sb.resize(kn), c.resize(mn), c0.resize(mn);
        ref.resize(mn), row_l1.resize(m), col_max.resize(n);
    }
};

// New logical A and B, and ref = A·B accumulated in double in i-p-j order (vectorizes along
// j without reassociation, so -ffp-contract=off and no -ffast-math keep it exact to double).
void make_problem(const Shape& s, Lcg& rng, Buffers& b) {
    for (std::int64_t i = 0; i < s.m * s.k; ++i) b.a[static_cast<std::size_t>(i)] = rng.next();
    for (std::int64_t i = 0; i < s.k * s.n; ++i) b.b[static_cast<std::size_t>(i)] = rng.next();
    std::fill(b.ref.begin(), b.ref.begin() + s.m * s.n, 0.0);
    std::fill(b.row_l1.begin(), b.row_l1.begin() + s.m, 0.0);
    std::fill(b.col_max.begin(), b.col_max.begin() + s.n, 0.0);
    for (std::int64_t i = 0; i < s.m; ++i)
        for (std::int64_t p = 0; p < s.k; ++p) {
            const double aip = b.a[static_cast<std::size_t>(i * s.k + p)];
            b.row_l1[static_cast<std::size_t>(i)] += std::fabs(aip);
            for (std::int64_t j = 0; j < s.n; ++j)
                b.ref[static_cast<std::size_t>(i * s.n + j)] += aip * b.b[static_cast<std::size_t>(p * s.n + j)];
        }
    for (std::int64_t p = 0; p < s.k; ++p)
        for (std::int64_t j = 0; j < s.n; ++j)
            b.col_max[static_cast<std::size_t>(j)] =
                std::fmax(b.col_max[static_cast<std::size_t>(j)], std::fabs(b.b[static_cast<std::size_t>(p * s.n + j)]));
}

// A and B stored as the form reads them, with padding columns of sentinels.
void store_operands(const Shape& s, const Form& f, Buffers& b, Matrix& A, Matrix& B) {
    const bool ta = f.trans_a == Transpose::yes, tb = f.trans_b == Transpose::yes;
    A = {b.sa.data(), ta ? s.k : s.m, ta ? s.m : s.k, (ta ? s.m : s.k) + pad};
    B = {b.sb.data(), tb ? s.n : s.k, tb ? s.k : s.n, (tb ? s.k : s.n) + pad};
    std::fill(b.sa.begin(), b.sa.begin() + A.rows * A.ld, sentinel);
    std::fill(b.sb.begin(), b.sb.begin() + B.rows * B.ld, sentinel);
    for (std::int64_t i = 0; i < s.m; ++i)
        for (std::int64_t p = 0; p < s.k; ++p) (ta ? A(p, i) : A(i, p)) = b.a[static_cast<std::size_t>(i * s.k + p)];
    for (std::int64_t p = 0; p < s.k; ++p)
        for (std::int64_t j = 0; j < s.n; ++j) (tb ? B(j, p) : B(p, j)) = b.b[static_cast<std::size_t>(p * s.n + j)];
}

// C before the call: NaN for β = 0 (BLAS must overwrite it; the engine's dW and dX are
// never cleared), a known C0 for β = 1; sentinels in the padding.
Matrix prepare_c(const Shape& s, float beta, Lcg& rng, Buffers& b) {
    const Matrix C{b.c.data(), s.m, s.n, s.n + pad};
    std::fill(b.c.begin(), b.c.begin() + C.rows * C.ld, sentinel);
    for (std::int64_t i = 0; i < s.m; ++i)
        for (std::int64_t j = 0; j < s.n; ++j) {
            float& c0 = b.c0[static_cast<std::size_t>(i * s.n + j)];
            c0 = beta == 0.0f ? 0.0f : rng.next();
            C(i, j) = beta == 0.0f ? std::numeric_limits<float>::quiet_NaN() : c0;
        }
    return C;
}

// Checks C against the reference. fl(Σ a·b + β·c0) lies within γ_{k+1}·(Σ|a||b| + |β·c0|)
// of the exact value, γ_n ≈ n·2⁻²⁴; FLT_EPSILON = 2⁻²³ gives a factor-2 margin, and
// ‖a_i‖₁·max_p|b_pj| bounds Σ_p |a_ip||b_pj|. `!(ratio <= 1)` also catches NaN. Returns
// the failure, or "".
std::string check_c(const Shape& s, const Form& f, float beta, const Buffers& b, const Matrix& C,
                    double& worst_ratio) {
    const double eps = std::numeric_limits<float>::epsilon(), tiny = std::numeric_limits<float>::min();
    auto where = [&](std::int64_t i, std::int64_t j) {
        return std::string(f.name) + " m=" + std::to_string(s.m) + " n=" + std::to_string(s.n) + " k=" +
               std::to_string(s.k) + " beta=" + (beta == 0.0f ? "0" : "1") + ": C(" + std::to_string(i) + ", " +
               std::to_string(j) + ")";
    };
    for (std::int64_t i = 0; i < s.m; ++i)
        for (std::int64_t j = 0; j < s.n + pad; ++j) {
            const float got = C.data[i * C.ld + j];
            if (j >= s.n) {
                if (got != sentinel) return where(i, j) + " is outside C and was written";
                continue;
            }
            const double c0 = beta * b.c0[static_cast<std::size_t>(i * s.n + j)];
            const double want = b.ref[static_cast<std::size_t>(i * s.n + j)] + c0;
            const double bound = static_cast<double>(s.k + 1) * eps *
                                     (b.row_l1[static_cast<std::size_t>(i)] * b.col_max[static_cast<std::size_t>(j)] +
                                      std::fabs(c0)) + tiny;
            const double ratio = std::fabs(got - want) / bound;
            if (!(ratio <= 1.0))
                return where(i, j) + " = " + std::to_string(got) + ", expected " + std::to_string(want) + " ± " +
                       std::to_string(bound);
            worst_ratio = std::max(worst_ratio, ratio);
        }
    return "";
}

double thread_cpu_ms() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) * 1e-6;
}

}  // namespace

BlasSelfTestResult run_blas_self_test(bool corrupt_for_test) {
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = thread_cpu_ms();
    set_blas_single_threaded();
    BlasSelfTestResult result;
    Buffers buffers;
    Lcg rng;
    for (const Shape& s : shapes) {
        make_problem(s, rng, buffers);
        for (const Form& f : forms) {
            Matrix A, B;
            store_operands(s, f, buffers, A, B);
            for (const float beta : {0.0f, 1.0f}) {
                const Matrix C = prepare_c(s, beta, rng, buffers);
                gemm(f.trans_a, f.trans_b, 1.0f, A, B, beta, C);
                ++result.calls;
                if (corrupt_for_test && s.m * s.n > 1) {
                    C(s.m / 2, s.n / 2) += 1e-3f;
                    corrupt_for_test = false;
                }
                result.failure = check_c(s, f, beta, buffers, C, result.worst_ratio);
                if (!result.failure.empty()) break;
            }
            if (!result.failure.empty()) break;
        }
        if (!result.failure.empty()) break;
    }
    result.passed = result.failure.empty();
    result.milliseconds = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    result.cpu_milliseconds = thread_cpu_ms() - cpu_start;
    return result;
}

}  // namespace mlptrain
