// MPI loaded at run time. LatentKit has no link-time dependency on libmpi: one `latentkit` binary runs on a GPU node
// without MPI and, started by `mpirun`, loads the MPI library with dlopen and its functions with dlsym. The handles
// that mpi.h defines as macros (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM) are addresses of global symbols in Open MPI and
// integer constants in MPICH (and the MPICH-ABI family: Intel MPI, MVAPICH); this shim resolves them, so Swift sees
// only the few collectives training needs, on MPI_COMM_WORLD.
#ifndef LATENTKIT_CMPI_H
#define LATENTKIT_CMPI_H

#include <stddef.h>
#include <stdint.h>

/// Which implementation `lk_mpi_load` found.
typedef enum { LK_MPI_NONE = 0, LK_MPI_OPEN_MPI = 1, LK_MPI_MPICH = 2 } lk_mpi_flavour;

/// Element types of the collectives.
typedef enum { LK_MPI_FLOAT32 = 0, LK_MPI_FLOAT64 = 1, LK_MPI_BYTES = 2 } lk_mpi_type;

/// Reductions.
typedef enum { LK_MPI_SUM = 0, LK_MPI_MAX = 1 } lk_mpi_operation;

/// Opens `library` (or, when NULL, the first of libmpi.so.40, libmpich.so.12, libmpi.so.12, libmpi.so that loads; the
/// MPICH names first when `prefer_mpich`, for a process that a PMI launcher such as MPICH's Hydra started) and resolves
/// every function and handle. Returns the flavour, or LK_MPI_NONE with a one-line reason in `error`.
lk_mpi_flavour lk_mpi_load(const char *library, int prefer_mpich, char *error, size_t error_size);

/// MPI_Init (unless MPI is already initialised), then this process's rank and the world's size. 0 on success, else
/// the MPI error code.
int lk_mpi_initialize(int *rank, int *size);

/// In-place MPI_Allreduce over MPI_COMM_WORLD of `count` elements (the shim copies `values` to a send buffer, since
/// MPI_IN_PLACE too differs between implementations).
int lk_mpi_allreduce(void *values, int count, lk_mpi_type type, lk_mpi_operation operation);

/// A non-blocking allreduce in flight (MPI_Iallreduce): its request and the copy of the values it sends.
typedef struct lk_mpi_request lk_mpi_request;

/// Starts an in-place MPI_Iallreduce over MPI_COMM_WORLD of `count` elements of `values`, which must stay put until
/// lk_mpi_wait returns. On success (0) `*request` is the reduction in flight; else the MPI error code (or -1 when the
/// shim cannot allocate) and `*request` is NULL.
int lk_mpi_iallreduce(void *values, int count, lk_mpi_type type, lk_mpi_operation operation, lk_mpi_request **request);

/// MPI_Test: lets MPI progress the reduction and sets `*done` when it has completed (then `request` is freed and must
/// not be used again). 0 on success, else the MPI error code.
int lk_mpi_test(lk_mpi_request *request, int *done);

/// MPI_Wait: blocks until the reduction completes, then frees `request`. 0 on success, else the MPI error code.
int lk_mpi_wait(lk_mpi_request *request);

/// MPI_Bcast over MPI_COMM_WORLD.
int lk_mpi_broadcast(void *values, int count, lk_mpi_type type, int root);

/// MPI_Barrier over MPI_COMM_WORLD.
int lk_mpi_barrier(void);

/// MPI_Abort(MPI_COMM_WORLD, code): ends every rank of the job.
int lk_mpi_abort(int code);

/// MPI_Finalize.
int lk_mpi_finalize(void);

#endif
