// The processes of a data-parallel job: rank, size, and the collectives the trainer needs.
// A local implementation (one process) and an MPI one (src/mpi/, chosen at build time)
// stand behind this one interface, so callers have no #ifdef.
#pragma once

#include <cstdint>
#include <memory>

namespace mlptrain {

enum class AllreduceKind {
    tree,  // recursive halving then doubling over point-to-point messages, in the same
           // pairwise order as the in-process shard tree: bitwise equal to one process
    mpi,   // MPI_Allreduce: faster on some networks, equal only within rounding
};

class Communicator {
public:
    virtual ~Communicator() = default;
    virtual int rank() const = 0;
    virtual int size() const = 0;

    // data[i] = Σ_ranks data[i], on every rank. With AllreduceKind::tree and a power-of-two
    // size, rank r's value is combined with rank r^1 first, then pairs with pairs (r^2), …:
    // the upper levels of the shard tree when each rank holds a contiguous block of shards.
    virtual void allreduce_sum(float* data, std::int64_t n, AllreduceKind kind) = 0;
    virtual void allreduce_sum(double* data, std::int64_t n) = 0;  // tree order as above
    virtual void broadcast(float* data, std::int64_t n, int root) = 0;
    // The lowest rank whose `value` differs from rank 0's, or −1 when all agree.
    virtual int first_disagreeing_rank(std::uint64_t value) = 0;
    // The largest `value` of all ranks, on every rank.
    virtual int max_over_ranks(int value) = 0;
    // Ends the whole job at once with `status` (after an error on this rank alone).
    [[noreturn]] virtual void abort(int status) = 0;
};

// One process: rank 0 of 1; every collective is the identity.
std::unique_ptr<Communicator> make_local_communicator();

// MPI when mlptrain was built with MPI and runs under mpirun/srun with more than one rank
// (initializing MPI), else the local communicator. Call once, early in main.
std::unique_ptr<Communicator> make_communicator(int* argc, char*** argv);

// Whether this build has the MPI communicator (for check_launch's advice).
bool built_with_mpi();

}  // namespace mlptrain
