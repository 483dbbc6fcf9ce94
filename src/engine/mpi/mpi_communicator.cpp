// The MPI communicator (see communicator.hpp); the only file that includes mpi.h.
// The tree allreduce is recursive halving (a reduce-scatter whose partner distance
// doubles: r^1, r^2, r^4, …) followed by recursive doubling (an allgather in the reverse
// order). Each element is summed pairwise exactly as the in-process shard tree sums it,
// so the result is bitwise that of one process with the same shards.
#include <mpi.h>

#include <cstdlib>
#include <vector>

#include "mlptrain/engine/communicator.hpp"
#include "mlptrain/core/error.hpp"

namespace mlptrain {

namespace {

// MPI takes int counts; gradient buffers stay far below 2^31 elements.
int count(std::int64_t n) {
    MLPTRAIN_ASSERT(n >= 0 && n < (1ll << 31), "MPI message too large");
    return static_cast<int>(n);
}

template <typename T> MPI_Datatype mpi_type();
template <> MPI_Datatype mpi_type<float>() { return MPI_FLOAT; }
template <> MPI_Datatype mpi_type<double>() { return MPI_DOUBLE; }

class MpiCommunicator final : public Communicator {
public:
    MpiCommunicator() {
        MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
        MPI_Comm_size(MPI_COMM_WORLD, &size_);
    }
    ~MpiCommunicator() override { MPI_Finalize(); }

    int rank() const override { return rank_; }
    int size() const override { return size_; }
    void allreduce_sum(float* data, std::int64_t n, AllreduceKind kind) override {
        if (size_ == 1) return;
        if (kind == AllreduceKind::mpi) {
            MPI_Allreduce(MPI_IN_PLACE, data, count(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            return;
        }
        tree_allreduce(data, n);
    }
    void allreduce_sum(double* data, std::int64_t n) override {
        if (size_ > 1) tree_allreduce(data, n);
    }
    void broadcast(float* data, std::int64_t n, int root) override {
        MPI_Bcast(data, count(n), MPI_FLOAT, root, MPI_COMM_WORLD);
    }
    int first_disagreeing_rank(std::uint64_t value) override {
        std::vector<unsigned long long> all(static_cast<std::size_t>(size_));
        unsigned long long mine = value;
        MPI_Allgather(&mine, 1, MPI_UNSIGNED_LONG_LONG, all.data(), 1, MPI_UNSIGNED_LONG_LONG, MPI_COMM_WORLD);
        for (int r = 1; r < size_; ++r)
            if (all[static_cast<std::size_t>(r)] != all[0]) return r;
        return -1;
    }
    int max_over_ranks(int value) override {
        int result = value;
        MPI_Allreduce(&value, &result, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        return result;
    }
    [[noreturn]] void abort(int status) override {
        MPI_Abort(MPI_COMM_WORLD, status);
        std::exit(status);
    }

private:
    // Recursive halving, then doubling. Requires a power-of-two size (checked by the trainer).
    template <typename T>
    void tree_allreduce(T* data, std::int64_t n) {
        MLPTRAIN_ASSERT((size_ & (size_ - 1)) == 0, "tree allreduce needs a power-of-two rank count");
        const MPI_Datatype type = mpi_type<T>();
        std::vector<T> incoming(static_cast<std::size_t>(n / 2 + 1));
        // Reduce-scatter: at distance m, keep one half of the current segment and add the
        // partner's copy of it; the partner keeps the other half.
        std::int64_t lo = 0, hi = n;
        std::vector<std::pair<std::int64_t, std::int64_t>> segments;  // before each halving
        for (int m = 1; m < size_; m <<= 1) {
            const int partner = rank_ ^ m;
            const std::int64_t mid = lo + (hi - lo) / 2;
            const bool lower = (rank_ & m) == 0;
            const std::int64_t keep_lo = lower ? lo : mid, keep_hi = lower ? mid : hi;
            const std::int64_t send_lo = lower ? mid : lo, send_hi = lower ? hi : mid;
            MPI_Sendrecv(data + send_lo, count(send_hi - send_lo), type, partner, m,
                         incoming.data(), count(keep_hi - keep_lo), type, partner, m,
                         MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            for (std::int64_t i = keep_lo; i < keep_hi; ++i) data[i] += incoming[static_cast<std::size_t>(i - keep_lo)];
            segments.push_back({lo, hi});
            lo = keep_lo;
            hi = keep_hi;
        }
        // Allgather: undo the halvings in reverse, exchanging the fully reduced halves.
        for (int m = size_ >> 1; m >= 1; m >>= 1) {
            const int partner = rank_ ^ m;
            const auto [seg_lo, seg_hi] = segments.back();
            segments.pop_back();
            const std::int64_t mid = seg_lo + (seg_hi - seg_lo) / 2;
            const bool lower = (rank_ & m) == 0;
            const std::int64_t other_lo = lower ? mid : seg_lo, other_hi = lower ? seg_hi : mid;
            MPI_Sendrecv(data + lo, count(hi - lo), type, partner, 1000 + m,
                         data + other_lo, count(other_hi - other_lo), type, partner, 1000 + m,
                         MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            lo = seg_lo;
            hi = seg_hi;
        }
    }

    int rank_ = 0;
    int size_ = 1;
};

// Launched by mpirun/mpiexec (Open MPI, MPICH) or srun (PMI/PMIx)?
bool launched_by_mpi() {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
        if (std::getenv(name)) return true;
    return false;
}

}  // namespace

std::unique_ptr<Communicator> make_communicator(int* argc, char*** argv) {
    if (!launched_by_mpi()) return make_local_communicator();
    MPI_Init(argc, argv);
    return std::make_unique<MpiCommunicator>();
}

bool built_with_mpi() { return true; }

}  // namespace mlptrain
