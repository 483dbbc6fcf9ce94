// make_communicator for builds without MPI: always the local communicator.
#include "mlptrain/engine/communicator.hpp"

namespace mlptrain {

std::unique_ptr<Communicator> make_communicator(int*, char***) { return make_local_communicator(); }

bool built_with_mpi() { return false; }

}  // namespace mlptrain
