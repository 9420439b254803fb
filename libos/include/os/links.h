/*
 * links.h - where a chain of symbolic links ends.
 *
 * A file written through a symbolic link (PYCDSARCHIVE=/var/cache/app.img,
 * a link to a volume) is written where the link points, and the link
 * stays: the durable write replaces the file at the end of the chain, in
 * that file's own directory (a rename replaces a name, and renaming over
 * the link would replace the link).  The trust rule looks at the
 * directory of every name in the chain, since whoever may rename entries
 * in any of them decides which file is read.
 */
#ifndef OS_LINKS_H
#define OS_LINKS_H

#include <stddef.h>

/* At most this many links are followed, as Linux itself (ELOOP beyond). */
#define OS_LINK_DEPTH 40

/* One step: 1 when path is a symbolic link, with its target in next (a
 * relative target made relative to the link's directory); 0 when path is
 * no link (or cannot be looked at: what uses it then reports why); -1
 * with errno (ENAMETOOLONG) when the target does not fit in size. */
int os_link_follow(const char *path, char *next, size_t size);

/* The whole chain: where following path's links ends, in target (path
 * itself when it is no link; a dangling link's target, which the write
 * then creates).  0, or -1 with errno: ELOOP after OS_LINK_DEPTH links,
 * ENAMETOOLONG when a name does not fit in size. */
int os_link_resolve(const char *path, char *target, size_t size);

#endif /* OS_LINKS_H */
