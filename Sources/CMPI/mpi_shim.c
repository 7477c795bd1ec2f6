// See include/CMPI.h. Function pointers are declared with each flavour's own handle type (pointers in Open MPI, int in
// MPICH), so every call through them has the callee's exact signature.
#include "CMPI.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void *ompi_handle;
typedef int mpich_handle;

static lk_mpi_flavour flavour = LK_MPI_NONE;

static int (*mpi_initialized)(int *);
static int (*mpi_init)(int *, char ***);
static int (*mpi_finalize)(void);

static struct {
    int (*comm_rank)(ompi_handle, int *);
    int (*comm_size)(ompi_handle, int *);
    int (*allreduce)(const void *, void *, int, ompi_handle, ompi_handle, ompi_handle);
    int (*bcast)(void *, int, ompi_handle, int, ompi_handle);
    int (*barrier)(ompi_handle);
    int (*abort)(ompi_handle, int);
    int (*iallreduce)(const void *, void *, int, ompi_handle, ompi_handle, ompi_handle, ompi_handle *);
    int (*test)(ompi_handle *, int *, void *);
    int (*wait)(ompi_handle *, void *);
    ompi_handle world, types[3], operations[2];
} ompi;

static struct {
    int (*comm_rank)(mpich_handle, int *);
    int (*comm_size)(mpich_handle, int *);
    int (*allreduce)(const void *, void *, int, mpich_handle, mpich_handle, mpich_handle);
    int (*bcast)(void *, int, mpich_handle, int, mpich_handle);
    int (*barrier)(mpich_handle);
    int (*abort)(mpich_handle, int);
    int (*iallreduce)(const void *, void *, int, mpich_handle, mpich_handle, mpich_handle, mpich_handle *);
    int (*test)(mpich_handle *, int *, void *);
    int (*wait)(mpich_handle *, void *);
} mpich;

// MPI_STATUS_IGNORE: ((MPI_Status *) 0) in Open MPI's mpi.h, ((MPI_Status *) 1) in MPICH's.
#define OMPI_STATUS_IGNORE ((void *)0)
#define MPICH_STATUS_IGNORE ((void *)1)

struct lk_mpi_request {
    void *send;
    ompi_handle ompi;
    mpich_handle mpich;
};

// The MPICH ABI's predefined handles (mpi.h of MPICH 3 and 4: MPI_COMM_WORLD, MPI_FLOAT, MPI_DOUBLE, MPI_BYTE, MPI_SUM,
// MPI_MAX).
static const mpich_handle mpich_world = 0x44000000;
static const mpich_handle mpich_types[3] = {0x4c00040a, 0x4c00080b, 0x4c00010d};
static const mpich_handle mpich_operations[2] = {0x58000003, 0x58000001};

static void *symbol(void *library, const char *name, char *error, size_t error_size, int *missing) {
    void *address = dlsym(library, name);
    if (!address && !*missing) {
        snprintf(error, error_size, "the MPI library has no symbol %s", name);
        *missing = 1;
    }
    return address;
}

#define RESOLVE(target, name) (*(void **)&(target) = symbol(library, name, error, error_size, &missing))

lk_mpi_flavour lk_mpi_load(const char *path, int prefer_mpich, char *error, size_t error_size) {
    if (flavour != LK_MPI_NONE) return flavour;
    static const char *open_mpi_first[] = {"libmpi.so.40", "libmpich.so.12", "libmpi.so.12", "libmpi.so"};
    static const char *mpich_first[] = {"libmpich.so.12", "libmpi.so.12", "libmpi.so.40", "libmpi.so"};
    const char **candidates = prefer_mpich ? mpich_first : open_mpi_first;
    void *library = NULL;
    if (path) {
        library = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
        if (!library) { snprintf(error, error_size, "cannot load the MPI library %s: %s", path, dlerror()); return LK_MPI_NONE; }
    } else {
        // RTLD_GLOBAL: Open MPI's own plugins, which it dlopens, resolve their symbols against libmpi.
        for (size_t i = 0; i < 4 && !library; i++)
            library = dlopen(candidates[i], RTLD_NOW | RTLD_GLOBAL);
        if (!library) {
            snprintf(error, error_size, "no MPI library found (tried libmpi.so.40, libmpich.so.12, libmpi.so.12, libmpi.so; "
                                        "LATENTKIT_MPI_LIBRARY names another)");
            return LK_MPI_NONE;
        }
    }
    int missing = 0;
    RESOLVE(mpi_initialized, "MPI_Initialized");
    RESOLVE(mpi_init, "MPI_Init");
    RESOLVE(mpi_finalize, "MPI_Finalize");
    if (dlsym(library, "ompi_mpi_comm_world")) {
        RESOLVE(ompi.comm_rank, "MPI_Comm_rank");
        RESOLVE(ompi.comm_size, "MPI_Comm_size");
        RESOLVE(ompi.allreduce, "MPI_Allreduce");
        RESOLVE(ompi.bcast, "MPI_Bcast");
        RESOLVE(ompi.barrier, "MPI_Barrier");
        RESOLVE(ompi.abort, "MPI_Abort");
        RESOLVE(ompi.iallreduce, "MPI_Iallreduce");
        RESOLVE(ompi.test, "MPI_Test");
        RESOLVE(ompi.wait, "MPI_Wait");
        RESOLVE(ompi.world, "ompi_mpi_comm_world");
        RESOLVE(ompi.types[LK_MPI_FLOAT32], "ompi_mpi_float");
        RESOLVE(ompi.types[LK_MPI_FLOAT64], "ompi_mpi_double");
        RESOLVE(ompi.types[LK_MPI_BYTES], "ompi_mpi_byte");
        RESOLVE(ompi.operations[LK_MPI_SUM], "ompi_mpi_op_sum");
        RESOLVE(ompi.operations[LK_MPI_MAX], "ompi_mpi_op_max");
        if (missing) return LK_MPI_NONE;
        flavour = LK_MPI_OPEN_MPI;
    } else {
        RESOLVE(mpich.comm_rank, "MPI_Comm_rank");
        RESOLVE(mpich.comm_size, "MPI_Comm_size");
        RESOLVE(mpich.allreduce, "MPI_Allreduce");
        RESOLVE(mpich.bcast, "MPI_Bcast");
        RESOLVE(mpich.barrier, "MPI_Barrier");
        RESOLVE(mpich.abort, "MPI_Abort");
        RESOLVE(mpich.iallreduce, "MPI_Iallreduce");
        RESOLVE(mpich.test, "MPI_Test");
        RESOLVE(mpich.wait, "MPI_Wait");
        if (missing) return LK_MPI_NONE;
        flavour = LK_MPI_MPICH;
    }
    return flavour;
}

int lk_mpi_initialize(int *rank, int *size) {
    int initialized = 0, status = mpi_initialized(&initialized);
    if (status == 0 && !initialized) status = mpi_init(NULL, NULL);
    if (status != 0) return status;
    if (flavour == LK_MPI_OPEN_MPI) {
        status = ompi.comm_rank(ompi.world, rank);
        return status ? status : ompi.comm_size(ompi.world, size);
    }
    status = mpich.comm_rank(mpich_world, rank);
    return status ? status : mpich.comm_size(mpich_world, size);
}

static size_t type_size(lk_mpi_type type) { return type == LK_MPI_FLOAT64 ? 8 : type == LK_MPI_FLOAT32 ? 4 : 1; }

int lk_mpi_allreduce(void *values, int count, lk_mpi_type type, lk_mpi_operation operation) {
    if (count <= 0) return 0;
    size_t bytes = (size_t)count * type_size(type);
    void *send = malloc(bytes);
    if (!send) return -1;
    memcpy(send, values, bytes);
    int status = flavour == LK_MPI_OPEN_MPI
        ? ompi.allreduce(send, values, count, ompi.types[type], ompi.operations[operation], ompi.world)
        : mpich.allreduce(send, values, count, mpich_types[type], mpich_operations[operation], mpich_world);
    free(send);
    return status;
}

int lk_mpi_iallreduce(void *values, int count, lk_mpi_type type, lk_mpi_operation operation, lk_mpi_request **request) {
    *request = NULL;
    size_t bytes = (size_t)(count > 0 ? count : 0) * type_size(type);
    lk_mpi_request *r = calloc(1, sizeof *r);
    if (!r) return -1;
    r->send = malloc(bytes ? bytes : 1);
    if (!r->send) { free(r); return -1; }
    memcpy(r->send, values, bytes);
    int status = flavour == LK_MPI_OPEN_MPI
        ? ompi.iallreduce(r->send, values, count, ompi.types[type], ompi.operations[operation], ompi.world, &r->ompi)
        : mpich.iallreduce(r->send, values, count, mpich_types[type], mpich_operations[operation], mpich_world, &r->mpich);
    if (status != 0) { free(r->send); free(r); return status; }
    *request = r;
    return 0;
}

static void release(lk_mpi_request *r) {
    free(r->send);
    free(r);
}

int lk_mpi_test(lk_mpi_request *request, int *done) {
    *done = 0;
    int status = flavour == LK_MPI_OPEN_MPI ? ompi.test(&request->ompi, done, OMPI_STATUS_IGNORE)
                                            : mpich.test(&request->mpich, done, MPICH_STATUS_IGNORE);
    if (status == 0 && *done) release(request);
    return status;
}

int lk_mpi_wait(lk_mpi_request *request) {
    int status = flavour == LK_MPI_OPEN_MPI ? ompi.wait(&request->ompi, OMPI_STATUS_IGNORE)
                                            : mpich.wait(&request->mpich, MPICH_STATUS_IGNORE);
    if (status == 0) release(request);
    return status;
}

int lk_mpi_broadcast(void *values, int count, lk_mpi_type type, int root) {
    return flavour == LK_MPI_OPEN_MPI ? ompi.bcast(values, count, ompi.types[type], root, ompi.world)
                                      : mpich.bcast(values, count, mpich_types[type], root, mpich_world);
}

int lk_mpi_barrier(void) { return flavour == LK_MPI_OPEN_MPI ? ompi.barrier(ompi.world) : mpich.barrier(mpich_world); }

int lk_mpi_abort(int code) { return flavour == LK_MPI_OPEN_MPI ? ompi.abort(ompi.world, code) : mpich.abort(mpich_world, code); }

int lk_mpi_finalize(void) { return mpi_finalize(); }
