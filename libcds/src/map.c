/*
 * map.c - fixed-address mappings that never replace an existing one.
 */
#include <errno.h>
#include <sys/mman.h>

#include "map.h"
#include "os/syscalls.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000 /* Linux 4.17; older headers lack it */
#endif

void *cds_map_fixed(uint64_t address, size_t size, int prot, int flags, int fd)
{
    void *want = (void *)(uintptr_t)address;
    void *got =
        os_sys.mmap(want, size, prot, flags | MAP_FIXED_NOREPLACE, fd, 0);
    if (got == MAP_FAILED)
        return MAP_FAILED;
    if (got != want) {
        /* A kernel before 4.17 took the address as a hint. */
        os_sys.munmap(got, size);
        errno = EEXIST;
        return MAP_FAILED;
    }
    return got;
}
