/*
 * proctitle.c - a process's command line as /proc/PID/cmdline shows it.
 *
 * The kernel reads /proc/PID/cmdline from the process's memory, between
 * the addresses mm->arg_start and mm->arg_end (set by exec to the argument
 * strings on the stack).  setproctitle(3) overwrites those strings in
 * place, and so can never show more than the room exec left; and once it
 * writes over the area's last NUL the kernel shows one string up to the
 * first NUL, not the arguments.  Instead, the new command line is written
 * to memory of its own and the kernel is told where it lies, with
 * prctl(PR_SET_MM, PR_SET_MM_MAP): the one form of PR_SET_MM an
 * unprivileged process may use (it needs CONFIG_CHECKPOINT_RESTORE, on in
 * the common distributions' kernels).  PR_SET_MM_MAP replaces the whole
 * memory map description, so every other field is passed back as it is,
 * read from /proc/self/stat and brk(0).  The server's command line needs
 * no room kept for its programs'.
 */
#define _GNU_SOURCE
#include "proctitle.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/prctl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Fields of /proc/self/stat (proc(5), counting from 1). */
enum {
    STAT_START_CODE = 26,
    STAT_END_CODE = 27,
    STAT_START_STACK = 28,
    STAT_START_DATA = 45,
    STAT_END_DATA = 46,
    STAT_START_BRK = 47,
    STAT_ENV_START = 50,
    STAT_ENV_END = 51,
    STAT_FIELDS = 52,
};

/* The numeric fields of /proc/self/stat: field[n] for n in 3..51.  Read
 * into the stack, with no allocation: brk must not move between here and
 * the prctl. */
static int read_stat(uint64_t field[STAT_FIELDS])
{
    char text[2048];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t got = read(fd, text, sizeof text - 1);
    close(fd);
    if (got <= 0)
        return -1;
    text[got] = 0;
    /* The name (field 2) is in parentheses and may hold anything. */
    char *at = strrchr(text, ')');
    if (!at)
        return -1;
    at++;
    memset(field, 0, STAT_FIELDS * sizeof *field);
    for (int n = 3; n < STAT_FIELDS; n++) {
        while (*at == ' ')
            at++;
        if (!*at)
            return -1;
        if (n == 3) { /* the state, a letter */
            at++;
            continue;
        }
        char *end; /* signed fields (nice, ...) are unused here */
        field[n] = strtoull(at, &end, 10);
        if (end == at)
            return -1;
        at = end;
    }
    return 0;
}

int pycds_show_command_line(const char *const *argv, size_t argc)
{
    size_t size = 0;
    for (size_t i = 0; i < argc; i++)
        size += strlen(argv[i]) + 1;
    if (size == 0) {
        errno = EINVAL;
        return -1;
    }
    /* Its own pages, for the life of the process. */
    char *area = mmap(NULL, size, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED)
        return -1;
    char *at = area;
    for (size_t i = 0; i < argc; i++) {
        size_t length = strlen(argv[i]) + 1;
        memcpy(at, argv[i], length);
        at += length;
    }
    uint64_t field[STAT_FIELDS];
    if (read_stat(field) != 0) {
        munmap(area, size);
        errno = ENOSYS;
        return -1;
    }
    struct prctl_mm_map map;
    memset(&map, 0, sizeof map);
    map.start_code = field[STAT_START_CODE];
    map.end_code = field[STAT_END_CODE];
    map.start_data = field[STAT_START_DATA];
    map.end_data = field[STAT_END_DATA];
    map.start_brk = field[STAT_START_BRK];
    map.brk = (uint64_t)syscall(SYS_brk, 0);
    map.start_stack = field[STAT_START_STACK];
    map.arg_start = (uint64_t)(uintptr_t)area;
    map.arg_end = (uint64_t)(uintptr_t)(area + size);
    map.env_start = field[STAT_ENV_START];
    map.env_end = field[STAT_ENV_END];
    map.exe_fd = (uint32_t)-1; /* the executable stays */
    if (prctl(PR_SET_MM, PR_SET_MM_MAP, (unsigned long)&map, sizeof map, 0) !=
        0) {
        int saved = errno;
        munmap(area, size);
        errno = saved;
        return -1;
    }
    return 0;
}
