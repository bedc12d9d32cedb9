#include "CMPI.h"
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Open MPI's handles are pointers to its global objects; its MPI_IN_PLACE is ((void *) 1).
typedef void *Handle;
#define IN_PLACE ((void *)1)
#define THREAD_FUNNELED 1

static int (*init_thread)(int *, char ***, int, int *);
static int (*comm_rank)(Handle, int *);
static int (*comm_size)(Handle, int *);
static int (*allreduce)(const void *, void *, int, Handle, Handle, Handle);
static int (*bcast)(void *, int, Handle, int, Handle);
static int (*allgather)(const void *, int, Handle, void *, int, Handle, Handle);
static int (*barrier)(Handle);
static int (*abort_)(Handle, int);
static int (*finalize)(void);
static Handle world, mpi_float, mpi_double, mpi_byte, op_sum;

static void *find(void *library, const char *name, int *missing, char *error, size_t capacity) {
    void *symbol = dlsym(library, name);
    if (!symbol && !*missing) {
        *missing = 1;
        snprintf(error, capacity, "the MPI library has no symbol %s (RNNKit needs Open MPI 3 or later)", name);
    }
    return symbol;
}

int rnnkit_mpi_load(char *error, size_t capacity) {
    const char *name = getenv("RNNKIT_MPI_LIBRARY");
    if (!name || !*name) name = "libmpi.so.40";
    void *library = dlopen(name, RTLD_NOW | RTLD_GLOBAL);
    if (!library) {
        snprintf(error, capacity, "cannot load %s: %s", name, dlerror());
        return -1;
    }
    int missing = 0;
    init_thread = find(library, "MPI_Init_thread", &missing, error, capacity);
    comm_rank = find(library, "MPI_Comm_rank", &missing, error, capacity);
    comm_size = find(library, "MPI_Comm_size", &missing, error, capacity);
    allreduce = find(library, "MPI_Allreduce", &missing, error, capacity);
    bcast = find(library, "MPI_Bcast", &missing, error, capacity);
    allgather = find(library, "MPI_Allgather", &missing, error, capacity);
    barrier = find(library, "MPI_Barrier", &missing, error, capacity);
    abort_ = find(library, "MPI_Abort", &missing, error, capacity);
    finalize = find(library, "MPI_Finalize", &missing, error, capacity);
    world = find(library, "ompi_mpi_comm_world", &missing, error, capacity);
    mpi_float = find(library, "ompi_mpi_float", &missing, error, capacity);
    mpi_double = find(library, "ompi_mpi_double", &missing, error, capacity);
    mpi_byte = find(library, "ompi_mpi_byte", &missing, error, capacity);
    op_sum = find(library, "ompi_mpi_op_sum", &missing, error, capacity);
    return missing ? -1 : 0;
}

int rnnkit_mpi_init(int *rank, int *size) {
    int provided = 0;
    int status = init_thread(NULL, NULL, THREAD_FUNNELED, &provided);
    if (status != 0) return status;
    status = comm_rank(world, rank);
    if (status != 0) return status;
    return comm_size(world, size);
}

// MPI counts are ints: larger buffers go in chunks.
#define CHUNK (INT_MAX / 8)

static int allreduce_sum(char *buffer, size_t count, size_t size, Handle type) {
    for (size_t start = 0; start < count; start += CHUNK) {
        size_t n = count - start < CHUNK ? count - start : CHUNK;
        int status = allreduce(IN_PLACE, buffer + start * size, (int)n, type, op_sum, world);
        if (status != 0) return status;
    }
    return 0;
}

int rnnkit_mpi_allreduce_sum_float(float *buffer, size_t count) {
    return allreduce_sum((char *)buffer, count, sizeof(float), mpi_float);
}

int rnnkit_mpi_allreduce_sum_double(double *buffer, size_t count) {
    return allreduce_sum((char *)buffer, count, sizeof(double), mpi_double);
}

int rnnkit_mpi_broadcast(void *buffer, size_t bytes, int root) {
    for (size_t start = 0; start < bytes; start += CHUNK) {
        size_t n = bytes - start < CHUNK ? bytes - start : CHUNK;
        int status = bcast((char *)buffer + start, (int)n, mpi_byte, root, world);
        if (status != 0) return status;
    }
    return 0;
}

int rnnkit_mpi_allgather(const void *send, size_t bytes, void *gathered) {
    if (bytes > INT_MAX) return -1;
    return allgather(send, (int)bytes, mpi_byte, gathered, (int)bytes, mpi_byte, world);
}

int rnnkit_mpi_barrier(void) { return barrier(world); }

void rnnkit_mpi_abort(int code) { abort_(world, code); }

int rnnkit_mpi_finalize(void) { return finalize(); }
