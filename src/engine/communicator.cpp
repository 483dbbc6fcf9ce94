// The one-process communicator (see communicator.hpp): every collective is the identity.
#include "mlptrain/engine/communicator.hpp"

#include <cstdlib>

namespace mlptrain {

namespace {

class LocalCommunicator final : public Communicator {
public:
    int rank() const override { return 0; }
    int size() const override { return 1; }
    void allreduce_sum(float*, std::int64_t, AllreduceKind) override {}
    void allreduce_sum(double*, std::int64_t) override {}
    void broadcast(float*, std::int64_t, int) override {}
    int first_disagreeing_rank(std::uint64_t) override { return -1; }
    int max_over_ranks(int value) override { return value; }
    [[noreturn]] void abort(int status) override { std::exit(status); }
};

}  // namespace

std::unique_ptr<Communicator> make_local_communicator() { return std::make_unique<LocalCommunicator>(); }

}  // namespace mlptrain
