/*
 * map.h - fixed-address mappings that never replace an existing one.
 */
#ifndef CDS_MAP_H
#define CDS_MAP_H

#include <stddef.h>
#include <stdint.h>

/*
 * mmap at exactly `address` with MAP_FIXED_NOREPLACE.  Returns the mapping,
 * or MAP_FAILED with errno EEXIST when something is mapped there (also on old
 * kernels that treat the flag as a hint and return another address: that
 * mapping is undone).  Plain MAP_FIXED is never used: it would silently
 * replace whatever the process has at that address.
 */
void *cds_map_fixed(uint64_t address, size_t size, int prot, int flags, int fd);

#endif /* CDS_MAP_H */
