/*
 * pages.h - the pages a program's process writes, learnt and written ahead.
 *
 * A forked process pays a copy-on-write fault for every page it writes
 * (here 2-6 us each; a served boto3 script writes about a thousand).  A
 * finished program's process lists the pages it made its own (pagemap:
 * present and exclusively mapped); each pool child forked later makes the
 * same pages its own while it waits (MADV_POPULATE_WRITE), so that the
 * next program finds them copied already.  Contents never change: this
 * only moves the faults off the program's critical path.
 *
 * The list is a text file written once, whole (os_durable_write_file):
 * a first line "pycds pages 1", then one "START COUNT" line (hexadecimal
 * address, decimal pages) per run of pages.
 */
#ifndef PYCDS_PAGES_H
#define PYCDS_PAGES_H

#include <stddef.h>

#include "os/array.h"

/* Write this process's own pages to path (list, then write); 0, or -1
 * with errno. */
int pycds_pages_learn(const char *path);

/* The list of this process's own pages, appended to text (chars); 0, or
 * -1 with errno. */
int pycds_pages_list(os_array *text);

/* Write a list to path, whole or not at all (libos's durable write); 0, or
 * -1 with errno. */
int pycds_pages_write(const char *path, const os_array *text);

/* Make the listed pages this process's own; the number of pages made so,
 * or -1 with errno (no list, or an unusable one: nothing is done). */
long pycds_pages_prefault(const char *path);

#endif /* PYCDS_PAGES_H */
