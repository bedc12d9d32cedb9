// The door to Open MPI, opened at run time: RNNKit never links libmpi, so the `rnnkit` binary
// runs where no MPI is installed. Imported only by Training/ProcessGroup.swift.
//
// Swift cannot import MPI_COMM_WORLD, MPI_FLOAT or MPI_SUM: in Open MPI they are macros over the
// addresses of global objects (`&ompi_mpi_comm_world`, ...). This shim looks those objects and the
// functions up with dlsym in libmpi.so.40 (loaded RTLD_GLOBAL, which Open MPI's plugins need) and
// exposes plain C functions. It follows Open MPI's ABI, where every handle is such an address, so
// the build needs no MPI headers; MPICH's integer handles are not supported.
#ifndef RNNKIT_CMPI_H
#define RNNKIT_CMPI_H

#include <stddef.h>

/// Loads libmpi.so.40 (or the library named by RNNKIT_MPI_LIBRARY) and looks up what RNNKit uses.
/// Returns 0, or -1 with a message in `error`.
int rnnkit_mpi_load(char *error, size_t capacity);

/// MPI_Init_thread (funneled: only the calling thread talks to MPI), then the world's rank and size.
/// Returns MPI's status (0 is success).
int rnnkit_mpi_init(int *rank, int *size);

/// In-place sum over every rank (MPI_Allreduce with MPI_IN_PLACE); `count` may exceed INT_MAX.
int rnnkit_mpi_allreduce_sum_float(float *buffer, size_t count);
int rnnkit_mpi_allreduce_sum_double(double *buffer, size_t count);

/// MPI_Bcast of `bytes` bytes from `root`.
int rnnkit_mpi_broadcast(void *buffer, size_t bytes, int root);

/// MPI_Allgather of `bytes` bytes from each rank into `gathered` (size × bytes, rank order).
int rnnkit_mpi_allgather(const void *send, size_t bytes, void *gathered);

int rnnkit_mpi_barrier(void);

/// MPI_Abort on the world: mpirun ends every rank.
void rnnkit_mpi_abort(int code);

int rnnkit_mpi_finalize(void);

#endif
