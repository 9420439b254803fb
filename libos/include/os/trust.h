/*
 * trust.h - the one parent-directory rule.
 *
 * A file that will be run (an archive) or a directory that will hold the
 * sockets of a user's servers can be swapped for another between a check
 * and a use by whoever may rename entries in the directory that holds it.
 * That directory must be owned by this user or root, and writable by no
 * one else unless sticky (like /tmp), as OpenSSH requires of the
 * directories above a key.
 */
#ifndef OS_TRUST_H
#define OS_TRUST_H

#include <stddef.h>
#include <sys/types.h>

/* Whether uid is this process's effective user or root. */
int os_trusted_owner(uid_t owner);

/* 0 when the directory that holds path follows the rule; -1 otherwise,
 * with one line in reason ("directory D is owned by uid N, not by this
 * user or root", "directory D is writable by others without the sticky
 * bit", or why D could not be looked at). */
int os_check_parent(const char *path, char *reason, size_t size);

#endif /* OS_TRUST_H */
