/*
 * durable.h - the one way a file is written: whole or not at all, and
 * still there after a crash.
 *
 * The bytes go to a temporary name beside the file (PATH.tmp-PID-N, made
 * with O_EXCL), are fsync'd, and the temporary is renamed over PATH, then
 * the directory is fsync'd so that the rename itself survives a crash
 * (best effort: a filesystem that cannot sync a directory is not an
 * error; the file is complete either way).  Readers see the old file or
 * the new one, never a part.  On any failure the temporary is removed and
 * PATH is left as it was.
 *
 * A PATH that is a symbolic link (or a chain of them, os/links.h) is
 * written where it points: the temporary is made beside the file at the
 * end of the chain and renamed over it, and the links stay links.
 *
 * A writer killed before its rename (SIGKILL, the OOM killer, a power cut)
 * leaves its temporary behind, never read as PATH; the next writer of PATH
 * removes it.  A writer holds an exclusive flock on its temporary from
 * creating it until it is renamed or removed, and each begin removes the
 * temporaries of the file it writes (exactly NAME.tmp-PID-N beside it,
 * nothing else) that it can lock at once: those no live process holds,
 * whatever their PIDs (reused, or of another PID namespace sharing the
 * directory).  That clean-up is best effort: its failures are not the
 * write's.  Where flock is emulated with fcntl locks (NFS), a lock needs a
 * descriptor open for writing and the clean-up's read-only one gets none:
 * dead temporaries stay there.  A writer of an older pycds takes no lock,
 * so a newer one may remove its temporary: that write fails at its rename,
 * PATH untouched.
 *
 *     os_durable_file f;
 *     if (os_durable_begin(&f, path, 0644) == 0) {
 *         os_durable_write(&f, header, sizeof header);
 *         os_durable_write(&f, body, body_size);   // errors are kept
 *     }
 *     if (os_durable_commit(&f) != 0)               // reports the first
 *         fail("%s", f.message);
 */
#ifndef OS_DURABLE_H
#define OS_DURABLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define OS_DURABLE_PATH_MAX 4096
#define OS_DURABLE_MESSAGE_SIZE 256

typedef struct os_durable_file {
    int fd;           /* the temporary, open for writing; -1 when none */
    const char *path; /* as given */
    char target[OS_DURABLE_PATH_MAX];    /* path, its links followed */
    char temporary[OS_DURABLE_PATH_MAX]; /* target.tmp-PID-N */
    int error; /* errno of the first failure; 0 while all went well */
    char message[OS_DURABLE_MESSAGE_SIZE]; /* e.g. "fsync PATH.tmp-1-0: ..." */
} os_durable_file;

/* Follow path's links, remove dead writers' temporaries, and create (and
 * lock) the temporary for the target with mode (less the umask).  0, or -1
 * with f->error and f->message set; either way f is ready for the calls
 * below. */
int os_durable_begin(os_durable_file *f, const char *path, mode_t mode);

/* Append bytes; 0, or -1 once anything has failed (later calls do nothing,
 * and commit reports the first failure). */
int os_durable_write(os_durable_file *f, const void *data, size_t size);

/* Append `size` zero bytes. */
int os_durable_write_zeros(os_durable_file *f, uint64_t size);

/* fsync, rename over the target, close, fsync the directory.  0 when path
 * now holds what was written; -1 (with f->error, f->message) when it holds
 * what it held before, and errno == f->error.  The temporary is gone
 * either way. */
int os_durable_commit(os_durable_file *f);

/* Give up: close and remove the temporary; path is untouched. */
void os_durable_abort(os_durable_file *f);

/* The whole file from one buffer: begin, write, commit.  0, or -1 with
 * errno and one line in message (when given). */
int os_durable_write_file(const char *path, const void *data, size_t size,
                          mode_t mode, char *message, size_t message_size);

#endif /* OS_DURABLE_H */
