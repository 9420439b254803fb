/*
 * watch.h - staleness of a server's preloaded code: inotify watches on the
 * directories its modules, the interpreter, its libraries and the archive
 * came from, so that a change is known the moment it happens, at no cost
 * per program.
 *
 * A directory is watched for the names that matter in it:
 *   "stem"    a module named so: stem.py, stem.pyc, stem.*.so, stem/ ...
 *             (anything whose name up to its first dot is stem)
 *   "=name"   exactly that file (the interpreter, a shared library)
 *   "*suffix" any name ending so ("*.pth": a new path configuration file)
 * Everything else in the directory (other files, __pycache__) is ignored.
 * The directory itself removed or moved counts as a change.
 */
#ifndef PYCDS_WATCH_H
#define PYCDS_WATCH_H

#include <stddef.h>

typedef struct pycds_watch pycds_watch;

/* 0, or -1 with one line in error. */
int pycds_watch_open(pycds_watch **out, char *error, size_t size);
int pycds_watch_add(pycds_watch *watch, const char *directory,
                    const char *const *names, size_t n_names, char *error,
                    size_t size);
/* The descriptor to poll: readable when events are pending. */
int pycds_watch_fd(const pycds_watch *watch);
/* Consume pending events: 1 and a line in reason when something that
 * matters changed (then for ever after), else 0. */
int pycds_watch_changed(pycds_watch *watch, char *reason, size_t size);
/* Number of directories watched. */
size_t pycds_watch_count(const pycds_watch *watch);
void pycds_watch_close(pycds_watch *watch);

#endif /* PYCDS_WATCH_H */
