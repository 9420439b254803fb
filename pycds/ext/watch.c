/*
 * watch.c - inotify watches for a server's staleness (see watch.h).
 */
#define _GNU_SOURCE
#include "watch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "os/array.h"

#define EVENTS                                                                 \
    (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY |         \
     IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

typedef struct watched {
    int wd;
    char *directory;
    os_array names; /* char *: the rules of pycds_watch_add */
} watched;

struct pycds_watch {
    int fd;
    os_array dirs; /* watched */
    int changed;
    char reason[512];
};

int pycds_watch_open(pycds_watch **out, char *error, size_t size)
{
    pycds_watch *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(error, size, "out of memory");
        return -1;
    }
    w->dirs = (os_array)OS_ARRAY_INIT(watched);
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0) {
        snprintf(error, size, "inotify: %s", strerror(errno));
        free(w);
        return -1;
    }
    *out = w;
    return 0;
}

static watched *find(pycds_watch *w, int wd)
{
    for (size_t i = 0; i < w->dirs.count; i++)
        if (OS_ARRAY_AT(&w->dirs, watched, i).wd == wd)
            return &OS_ARRAY_AT(&w->dirs, watched, i);
    return NULL;
}

int pycds_watch_add(pycds_watch *w, const char *directory,
                    const char *const *names, size_t n_names, char *error,
                    size_t size)
{
    int wd = inotify_add_watch(w->fd, directory, EVENTS);
    if (wd < 0) {
        snprintf(error, size, "cannot watch %s: %s%s", directory,
                 strerror(errno),
                 errno == ENOSPC ? " (raise fs.inotify.max_user_watches)" : "");
        return -1;
    }
    watched *d = find(w, wd);
    if (!d) {
        char *copy = strdup(directory);
        d = copy ? os_array_push(&w->dirs) : NULL;
        if (!d) {
            free(copy);
            goto nomem;
        }
        d->wd = wd;
        d->directory = copy;
        d->names = (os_array)OS_ARRAY_INIT(char *);
    }
    for (size_t i = 0; i < n_names; i++) {
        char *rule = strdup(names[i]);
        if (!rule || !os_array_append(&d->names, &rule, 1)) {
            free(rule);
            goto nomem;
        }
    }
    return 0;
nomem:
    snprintf(error, size, "out of memory");
    return -1;
}

int pycds_watch_fd(const pycds_watch *w)
{
    return w->fd;
}

size_t pycds_watch_count(const pycds_watch *w)
{
    return w->dirs.count;
}

static int matters(const watched *d, const char *name)
{
    size_t stem = strcspn(name, ".");
    size_t length = strlen(name);
    for (size_t i = 0; i < d->names.count; i++) {
        const char *rule = OS_ARRAY_AT(&d->names, char *, i);
        if (rule[0] == '=') {
            if (strcmp(rule + 1, name) == 0)
                return 1;
        } else if (rule[0] == '*') {
            size_t n = strlen(rule + 1);
            if (length >= n && strcmp(name + length - n, rule + 1) == 0)
                return 1;
        } else if (strlen(rule) == stem && strncmp(rule, name, stem) == 0) {
            return 1;
        }
    }
    return 0;
}

static const char *what(uint32_t mask)
{
    if (mask & (IN_CREATE | IN_MOVED_TO))
        return "created";
    if (mask & (IN_DELETE | IN_MOVED_FROM))
        return "removed";
    if (mask & (IN_MODIFY | IN_CLOSE_WRITE))
        return "modified";
    if (mask & IN_ATTRIB)
        return "touched";
    return "changed";
}

int pycds_watch_changed(pycds_watch *w, char *reason, size_t size)
{
    char buffer[16384]
        __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(w->fd, buffer, sizeof buffer);
        if (n <= 0)
            break;
        for (char *at = buffer; at < buffer + n;) {
            struct inotify_event *e = (struct inotify_event *)at;
            at += sizeof *e + e->len;
            if (w->changed)
                continue;
            if (e->mask & IN_Q_OVERFLOW) {
                w->changed = 1;
                snprintf(w->reason, sizeof w->reason,
                         "too many file changes to tell which");
                continue;
            }
            const watched *d = find(w, e->wd);
            if (!d)
                continue;
            if (e->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
                w->changed = 1;
                snprintf(w->reason, sizeof w->reason, "%s was removed",
                         d->directory);
            } else if (e->len && matters(d, e->name)) {
                w->changed = 1;
                snprintf(w->reason, sizeof w->reason, "%s/%s was %s",
                         d->directory, e->name, what(e->mask));
            }
        }
    }
    if (w->changed)
        snprintf(reason, size, "%s", w->reason);
    return w->changed;
}

void pycds_watch_close(pycds_watch *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    for (size_t i = 0; i < w->dirs.count; i++) {
        watched *d = &OS_ARRAY_AT(&w->dirs, watched, i);
        for (size_t j = 0; j < d->names.count; j++)
            free(OS_ARRAY_AT(&d->names, char *, j));
        os_array_free(&d->names);
        free(d->directory);
    }
    os_array_free(&w->dirs);
    free(w);
}
