// rank_link when the loadgen is built without MPI (PERFLAB_MPI=OFF): every run is a single
// process. `mpirun -np N` would start N independent runs, so the loadgen refuses to run under it.
#include <cstdio>
#include <cstdlib>

#include "../distributed.hpp"
#include "perflab/core/exit_codes.hpp"

namespace perflab::loadgen::detail {

std::unique_ptr<rank_link> join_ranks() {
  if (launched_ranks() > 1) {
    if (launched_rank() == 0)
      std::fprintf(stderr, "loadgen: started by mpirun with %d processes, but built without MPI (PERFLAB_MPI=OFF): "
                           "each would run the whole load; rebuild with libopenmpi-dev installed\n", launched_ranks());
    std::exit(exit_code::usage);
  }
  return nullptr;
}

}  // namespace perflab::loadgen::detail
