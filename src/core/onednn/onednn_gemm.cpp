// oneDNN matmul primitives behind GemmContext (see onednn_gemm.hpp); the only includer of
// dnnl.hpp. Row-major operands and their transposes are described by strides, so nothing
// is copied or reordered on our side; oneDNN packs what it needs into the scratchpad.
//
// Threads. Debian builds oneDNN 2.6.3 with OpenMP (libgomp). Its brgemm matmul records the
// creating thread's OpenMP thread count at creation and later runs with the smaller of that
// and the running thread's. So every primitive is created with the creating thread's count
// set to 1 for the moment: it then runs single-threaded on whatever TBB worker calls it,
// starts no OpenMP team, and its blocking (hence its summation order) never follows the
// machine's core count. Other implementations (gemm:jit, chosen on CPUs without AVX-512
// or for strided operands) take their threads from the caller at run time instead: for
// those the calling thread's own count is set to 1 before the call.
#include "../onednn_gemm.hpp"

#include <omp.h>

#include <cstdlib>
#include <new>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "mlptrain/core/error.hpp"

namespace mlptrain {
namespace {

// One CPU engine for the process: every context's primitives share oneDNN's primitive
// cache (a second shard's prepare() of a known shape is a cache hit, ~0.05 ms).
dnnl::engine& cpu_engine() {
    static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    return engine;
}

class OneOpenmpThread {
public:
    OneOpenmpThread() : saved_(omp_get_max_threads()) { omp_set_num_threads(1); }
    ~OneOpenmpThread() { omp_set_num_threads(saved_); }
    OneOpenmpThread(const OneOpenmpThread&) = delete;
    OneOpenmpThread& operator=(const OneOpenmpThread&) = delete;

private:
    int saved_;
};

// op(X) (rows, cols). Stored untransposed: element (r, c) at r·ld + c. Stored transposed
// (X itself is (cols, rows)): element (r, c) at c·ld + r, i.e. strides {1, ld}.
dnnl::memory::desc matrix_desc(std::int64_t rows, std::int64_t cols, Transpose trans, std::int64_t ld,
                               dnnl::memory::data_type type) {
    const dnnl::memory::dims strides = trans == Transpose::no ? dnnl::memory::dims{ld, 1} : dnnl::memory::dims{1, ld};
    return dnnl::memory::desc({rows, cols}, type, strides);
}

dnnl::cpu_isa effective_isa() {
    static const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
    return isa;
}

const char* isa_name(dnnl::cpu_isa isa) {
    switch (isa) {
        case dnnl::cpu_isa::sse41: return "sse41";
        case dnnl::cpu_isa::avx: return "avx";
        case dnnl::cpu_isa::avx2: return "avx2";
        case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
        case dnnl::cpu_isa::avx512_mic: return "avx512_mic";
        case dnnl::cpu_isa::avx512_mic_4ops: return "avx512_mic_4ops";
        case dnnl::cpu_isa::avx512_core: return "avx512_core";
        case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
        case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
        case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
        default: return "other";
    }
}

}  // namespace

struct OnednnEntry {
    GemmShape shape;
    dnnl::matmul primitive;
    dnnl::memory a, b, c, bias, scratchpad;  // bound to each call's pointers by set_data_handle
    bool brgemm = false;               // the implementation fixes its threads at creation
};

struct OnednnGemm::Impl {
    dnnl::stream stream{cpu_engine()};
    std::vector<OnednnEntry> entries;
    void* scratchpad = nullptr;  // 64-byte aligned, the largest any entry asks for
    std::size_t scratchpad_bytes = 0;
    int on_demand = 0;
    ~Impl() { std::free(scratchpad); }

    const OnednnEntry* find(const GemmShape& shape) const {
        for (const OnednnEntry& e : entries)
            if (e.shape == shape) return &e;
        return nullptr;
    }
    void grow_scratchpad(std::size_t bytes);
};

void OnednnGemm::Impl::grow_scratchpad(std::size_t bytes) {
    if (bytes <= scratchpad_bytes) return;
    void* p = nullptr;
    if (posix_memalign(&p, 64, bytes) != 0) throw std::bad_alloc();
    std::free(scratchpad);
    scratchpad = p;
    scratchpad_bytes = bytes;
    for (OnednnEntry& e : entries) e.scratchpad.set_data_handle(scratchpad);
}

OnednnGemm::OnednnGemm() : impl_(std::make_unique<Impl>()) {}
OnednnGemm::~OnednnGemm() = default;

void OnednnGemm::prepare(const GemmShape& s) {
    if (impl_->find(s)) return;
    using dt = dnnl::memory::data_type;
    const dt in = s.precision == GemmPrecision::bf16 ? dt::bf16 : dt::f32;
    const auto a_md = matrix_desc(s.m, s.k, s.trans_a, s.lda, in);  // op(A) (m, k)
    const auto b_md = matrix_desc(s.k, s.n, s.trans_b, s.ldb, in);  // op(B) (k, n)
    const auto c_md = matrix_desc(s.m, s.n, Transpose::no, s.ldc, dt::f32);
    // A bias is a (1, n) row broadcast over C's rows, fp32 in either precision, added to the
    // accumulator before the post-ops (there are none with a bias: beta is 0).
    const auto bias_md = s.bias ? matrix_desc(1, s.n, Transpose::no, s.n, dt::f32) : dnnl::memory::desc();
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // ours, allocated here: none per call
    if (s.alpha != 1.0f) attr.set_output_scales(0, {s.alpha});
    if (s.beta != 0.0f) {  // C = acc + beta·C: the BLAS beta as a sum post-op
        dnnl::post_ops ops;
        ops.append_sum(s.beta);
        attr.set_post_ops(ops);
    }
    OnednnEntry e;
    e.shape = s;
    std::size_t scratch = 0;
    {
        OneOpenmpThread one;
        const dnnl::matmul::desc desc = s.bias ? dnnl::matmul::desc(a_md, b_md, bias_md, c_md)
                                               : dnnl::matmul::desc(a_md, b_md, c_md);
        const dnnl::matmul::primitive_desc pd(desc, attr, cpu_engine());
        e.primitive = dnnl::matmul(pd);
        e.brgemm = std::string(pd.impl_info_str()).rfind("brg:", 0) == 0;
        scratch = pd.scratchpad_desc().get_size();
        e.scratchpad = dnnl::memory(pd.scratchpad_desc(), cpu_engine(), DNNL_MEMORY_NONE);
    }
    e.a = dnnl::memory(a_md, cpu_engine(), DNNL_MEMORY_NONE);
    e.b = dnnl::memory(b_md, cpu_engine(), DNNL_MEMORY_NONE);
    e.c = dnnl::memory(c_md, cpu_engine(), DNNL_MEMORY_NONE);
    if (s.bias) e.bias = dnnl::memory(bias_md, cpu_engine(), DNNL_MEMORY_NONE);
    impl_->grow_scratchpad(scratch);
    e.scratchpad.set_data_handle(impl_->scratchpad);
    impl_->entries.push_back(std::move(e));
}

void OnednnGemm::run(const GemmShape& s, const void* A, const void* B, float* C, const float* bias) {
    const OnednnEntry* e = impl_->find(s);
    if (!e) {
        ++impl_->on_demand;
        prepare(s);
        e = impl_->find(s);
    }
    if (!e->brgemm && omp_get_max_threads() != 1) omp_set_num_threads(1);
    // The C API with a stack array of arguments: the C++ execute() takes an unordered_map
    // (allocations on our side). dnnl_primitive_execute still builds its own map inside.
    MLPTRAIN_ASSERT(dnnl_memory_set_data_handle_v2(e->a.get(), const_cast<void*>(A), nullptr) == dnnl_success &&
                        dnnl_memory_set_data_handle_v2(e->b.get(), const_cast<void*>(B), nullptr) == dnnl_success &&
                        dnnl_memory_set_data_handle_v2(e->c.get(), C, nullptr) == dnnl_success,
                    "oneDNN set_data_handle");
    MLPTRAIN_ASSERT(s.bias == (bias != nullptr), "oneDNN bias argument");
    if (s.bias)
        MLPTRAIN_ASSERT(dnnl_memory_set_data_handle_v2(e->bias.get(), const_cast<float*>(bias), nullptr) == dnnl_success,
                        "oneDNN set_data_handle");
    const dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, e->a.get()},
                                    {DNNL_ARG_WEIGHTS, e->b.get()},
                                    {DNNL_ARG_DST, e->c.get()},
                                    {DNNL_ARG_SCRATCHPAD, e->scratchpad.get()},
                                    {DNNL_ARG_BIAS, s.bias ? e->bias.get() : nullptr}};
    MLPTRAIN_ASSERT(dnnl_primitive_execute(e->primitive.get(), impl_->stream.get(), s.bias ? 5 : 4, args) ==
                        dnnl_success,
                    "oneDNN matmul execute");
}

int OnednnGemm::primitives() const { return static_cast<int>(impl_->entries.size()); }
int OnednnGemm::created_on_demand() const { return impl_->on_demand; }

bool onednn_built() { return true; }

std::string onednn_description() {
    const dnnl_version_t* v = dnnl_version();
    const char* runtime = v->cpu_runtime == DNNL_RUNTIME_OMP   ? "OpenMP"
                          : v->cpu_runtime == DNNL_RUNTIME_TBB ? "TBB"
                          : v->cpu_runtime == DNNL_RUNTIME_SEQ ? "sequential"
                                                               : "other";
    return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) +
           " (" + runtime + " runtime), ISA " + isa_name(effective_isa());
}

bool onednn_runs_bf16() {
    const auto bf16 = static_cast<unsigned>(dnnl_cpu_isa_avx512_core_bf16);
    return (static_cast<unsigned>(effective_isa()) & bf16) == bf16;
}

}  // namespace mlptrain
