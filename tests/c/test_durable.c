/*
 * test_durable.c - libos's durable write, beyond its failures (those are
 * test_faults.c's):
 *
 * - through a symbolic link (or a chain of them, relative targets taken
 *   from the link's directory), the file at the end is written and the
 *   links stay links; a dangling link's target is created; a loop, or a
 *   chain longer than OS_LINK_DEPTH, fails the write with one line;
 * - the temporary a killed writer left (PATH.tmp-PID-N) is removed by the
 *   next writer of PATH, whatever its PID; a live writer's, in another
 *   process or in this one, never is; nothing but PATH's own temporaries
 *   is touched; a clean-up that fails never fails the write;
 * - a temporary another writer's clean-up took between its creation and
 *   its lock is given up for another name, and the write goes through;
 *   one is held until it is renamed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "fixture.h"
#include "os/durable.h"
#include "os/links.h"
#include "os/syscalls.h"

/* ------------------------------------------------------------- helpers */

static void in_dir(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", fixture_dir(), name);
}

static int write_text(const char *path, const char *text)
{
    char message[OS_DURABLE_MESSAGE_SIZE] = "";
    int status = os_durable_write_file(path, text, strlen(text), 0644, message,
                                       sizeof message);
    if (status != 0)
        fprintf(stderr, "write %s: %s\n", path, message);
    return status;
}

/* Whether path holds exactly text. */
static int holds(const char *path, const char *text)
{
    char buffer[256];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buffer, sizeof buffer);
    close(fd);
    return n == (ssize_t)strlen(text) && memcmp(buffer, text, (size_t)n) == 0;
}

static int is_link_to(const char *path, const char *target)
{
    char buffer[512];
    ssize_t n = readlink(path, buffer, sizeof buffer - 1);
    if (n < 0)
        return 0;
    buffer[n] = 0;
    return strcmp(buffer, target) == 0;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* How many names in directory hold ".tmp-". */
static int temporaries_in(const char *directory)
{
    DIR *d = opendir(directory);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += strstr(e->d_name, ".tmp-") != NULL;
    if (d)
        closedir(d);
    return n;
}

/* A leftover as a dead writer leaves it: the name, no lock. */
static void leave(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
}

/* ---------------------------------------------------------------- links */

static void test_link_to_a_file_writes_the_file(void)
{
    char sub[512], real[512], link[512];
    in_dir(sub, sizeof sub, "links");
    CHECK(mkdir(sub, 0755) == 0);
    in_dir(real, sizeof real, "links/real.img");
    in_dir(link, sizeof link, "app.img");
    CHECK(write_text(real, "old") == 0);
    CHECK(symlink("links/real.img", link) == 0); /* relative to its dir */
    CHECK(write_text(link, "new") == 0);
    CHECK(is_link_to(link, "links/real.img"));
    CHECK(holds(real, "new") && holds(link, "new"));
    CHECK(temporaries_in(fixture_dir()) == 0 && temporaries_in(sub) == 0);

    /* A chain: an absolute link to a link whose relative target is taken
     * from its own directory, not from the first link's. */
    char chain[512], middle[512], other[512];
    in_dir(other, sizeof other, "links/other");
    CHECK(mkdir(other, 0755) == 0);
    in_dir(middle, sizeof middle, "links/other/middle");
    in_dir(chain, sizeof chain, "chain.img");
    CHECK(symlink("../real.img", middle) == 0);
    CHECK(symlink(middle, chain) == 0);
    CHECK(write_text(chain, "chained") == 0);
    CHECK(is_link_to(chain, middle) && is_link_to(middle, "../real.img"));
    CHECK(holds(real, "chained"));
    CHECK(temporaries_in(fixture_dir()) == 0 && temporaries_in(sub) == 0 &&
          temporaries_in(other) == 0);
}

static void test_dangling_link_creates_its_target(void)
{
    char sub[512], target[512], link[512];
    in_dir(sub, sizeof sub, "volume");
    CHECK(mkdir(sub, 0755) == 0);
    in_dir(target, sizeof target, "volume/cache.img");
    in_dir(link, sizeof link, "dangling.img");
    CHECK(symlink(target, link) == 0);
    CHECK(write_text(link, "first") == 0);
    CHECK(is_link_to(link, target));
    CHECK(holds(target, "first"));
    CHECK(temporaries_in(fixture_dir()) == 0 && temporaries_in(sub) == 0);
}

static void test_link_loops_and_long_chains_fail(void)
{
    char a[512], b[512], message[OS_DURABLE_MESSAGE_SIZE] = "";
    in_dir(a, sizeof a, "loop-a");
    in_dir(b, sizeof b, "loop-b");
    CHECK(symlink("loop-b", a) == 0 && symlink("loop-a", b) == 0);
    CHECK(os_durable_write_file(a, "x", 1, 0644, message, sizeof message) ==
          -1);
    CHECK(errno == ELOOP && strstr(message, a) && !strchr(message, '\n'));
    CHECK(is_link_to(a, "loop-b") && is_link_to(b, "loop-a"));

    /* OS_LINK_DEPTH links are followed; one more is refused. */
    char name[512], next[64];
    for (int i = 0; i <= OS_LINK_DEPTH; i++) {
        snprintf(name, sizeof name, "%s/depth-%d", fixture_dir(), i);
        snprintf(next, sizeof next, "depth-%d", i + 1);
        CHECK(symlink(next, name) == 0);
    }
    snprintf(name, sizeof name, "%s/depth-1", fixture_dir());
    CHECK(write_text(name, "deep") == 0);
    snprintf(name, sizeof name, "%s/depth-%d", fixture_dir(),
             OS_LINK_DEPTH + 1);
    CHECK(holds(name, "deep"));
    snprintf(name, sizeof name, "%s/depth-0", fixture_dir());
    CHECK(os_durable_write_file(name, "x", 1, 0644, NULL, 0) == -1 &&
          errno == ELOOP);
    CHECK(temporaries_in(fixture_dir()) == 0);
}

/* ----------------------------------------------------------- leftovers */

/* A child that begins a write of path and says so on `ready`, then waits
 * for a byte on `go` (or to be killed) and commits. */
static pid_t begin_in_child(const char *path, const char *text, int *ready,
                            int *go)
{
    int to_parent[2], to_child[2];
    if (pipe(to_parent) != 0 || pipe(to_child) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(to_parent[0]);
        close(to_child[1]);
        os_durable_file f;
        if (os_durable_begin(&f, path, 0644) != 0 ||
            os_durable_write(&f, text, strlen(text)) != 0)
            _exit(2);
        char byte = 1;
        if (write(to_parent[1], &byte, 1) != 1 ||
            read(to_child[0], &byte, 1) != 1)
            _exit(3);
        _exit(os_durable_commit(&f) == 0 ? 0 : 4);
    }
    close(to_parent[1]);
    close(to_child[0]);
    *ready = to_parent[0];
    *go = to_child[1];
    char byte;
    if (pid < 0 || read(*ready, &byte, 1) != 1)
        return -1;
    return pid;
}

static void test_killed_writers_temporary_is_removed(void)
{
    char path[512];
    in_dir(path, sizeof path, "killed.img");
    CHECK(write_text(path, "old") == 0);
    int ready, go;
    pid_t pid = begin_in_child(path, "never", &ready, &go);
    CHECK(pid > 0);
    if (pid <= 0)
        return;
    CHECK(temporaries_in(fixture_dir()) == 1);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    close(ready);
    close(go);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CHECK(temporaries_in(fixture_dir()) == 1); /* left behind */

    /* Leftovers under other PIDs: init's (alive, yet this is no temporary
     * of its), and this very process's own. */
    char name[600];
    snprintf(name, sizeof name, "%s.tmp-1-0", path);
    leave(name);
    snprintf(name, sizeof name, "%s.tmp-%ld-999999", path, (long)getpid());
    leave(name);
    CHECK(temporaries_in(fixture_dir()) == 3);
    CHECK(write_text(path, "new") == 0);
    CHECK(holds(path, "new"));
    CHECK(temporaries_in(fixture_dir()) == 0);
}

static void test_live_writers_temporary_stays(void)
{
    char path[512];
    in_dir(path, sizeof path, "live.img");
    int ready, go;
    pid_t pid = begin_in_child(path, "child", &ready, &go);
    CHECK(pid > 0);
    if (pid <= 0)
        return;
    CHECK(write_text(path, "parent") == 0);
    CHECK(holds(path, "parent"));
    CHECK(temporaries_in(fixture_dir()) == 1); /* the child's, still */
    char byte = 1;
    CHECK(write(go, &byte, 1) == 1);
    int status;
    waitpid(pid, &status, 0);
    close(ready);
    close(go);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(holds(path, "child"));
    CHECK(temporaries_in(fixture_dir()) == 0);

    /* And one of this process's own (another thread's, say). */
    os_durable_file f;
    CHECK(os_durable_begin(&f, path, 0644) == 0);
    os_durable_write(&f, "first", 5);
    CHECK(write_text(path, "second") == 0);
    CHECK(temporaries_in(fixture_dir()) == 1);
    CHECK(os_durable_commit(&f) == 0);
    CHECK(holds(path, "first"));
    CHECK(temporaries_in(fixture_dir()) == 0);
}

static void test_only_its_own_temporaries_are_removed(void)
{
    char sub[512], path[600], name[700];
    in_dir(sub, sizeof sub, "own");
    CHECK(mkdir(sub, 0755) == 0);
    snprintf(path, sizeof path, "%s/app.img", sub);
    static const char *const others[] = {
        "app.img.tmp-12-3x", "app.img.tmp--3",    "app.img.tmp-12-",
        "app.img.tmp-12",    "app.img.tmpx-1-2",  "app.img.tmp-a-2",
        "other.img.tmp-1-2", "xapp.img.tmp-1-2",  "app.img.tmp-1-2.tmp-3-4",
        "app.img.lock",      "app.img.tmp-1-2-3",
    };
    size_t count = sizeof others / sizeof others[0];
    for (size_t i = 0; i < count; i++) {
        snprintf(name, sizeof name, "%s/%s", sub, others[i]);
        leave(name);
    }
    /* Its pattern, but no file a writer makes: a directory, a FIFO, a
     * symbolic link (not followed). */
    snprintf(name, sizeof name, "%s/app.img.tmp-5-6", sub);
    CHECK(mkdir(name, 0755) == 0);
    snprintf(name, sizeof name, "%s/app.img.tmp-7-8", sub);
    CHECK(mkfifo(name, 0644) == 0);
    char target[700];
    snprintf(target, sizeof target, "%s/other.img.tmp-1-2", sub);
    snprintf(name, sizeof name, "%s/app.img.tmp-9-9", sub);
    CHECK(symlink(target, name) == 0);
    snprintf(name, sizeof name, "%s/app.img.tmp-1-2", sub);
    leave(name);

    CHECK(write_text(path, "x") == 0);
    CHECK(!exists(name)); /* the one leftover of app.img */
    for (size_t i = 0; i < count; i++) {
        snprintf(name, sizeof name, "%s/%s", sub, others[i]);
        CHECK(exists(name));
    }
    int named = 3; /* the directory, the FIFO, the link */
    for (size_t i = 0; i < count; i++)
        named += strstr(others[i], ".tmp-") != NULL;
    CHECK(temporaries_in(sub) == named);
    snprintf(name, sizeof name, "%s/app.img.tmp-9-9", sub);
    CHECK(exists(name) && exists(target));
}

/* --------------------------------------------------- injected failures */

static int opendir_calls;
static DIR *opendir_eacces(const char *path)
{
    (void)path;
    opendir_calls++;
    errno = EACCES;
    return NULL;
}

static int flock_enolck(int fd, int operation)
{
    (void)fd, (void)operation;
    errno = ENOLCK;
    return -1;
}

static int unlink_eperm(const char *path)
{
    (void)path;
    errno = EPERM;
    return -1;
}

static void test_clean_up_failures_are_not_the_writes(void)
{
    char path[512], leftover[600];
    in_dir(path, sizeof path, "failing.img");
    snprintf(leftover, sizeof leftover, "%s.tmp-1-0", path);
    leave(leftover);

    opendir_calls = 0;
    os_sys.opendir = opendir_eacces;
    CHECK(write_text(path, "a") == 0);
    os_syscalls_restore();
    CHECK(opendir_calls == 1 && holds(path, "a") && exists(leftover));

    os_sys.flock = flock_enolck; /* a filesystem without flock */
    CHECK(write_text(path, "b") == 0);
    os_syscalls_restore();
    CHECK(holds(path, "b") && exists(leftover));

    os_sys.unlink = unlink_eperm;
    CHECK(write_text(path, "c") == 0);
    os_syscalls_restore();
    CHECK(holds(path, "c") && exists(leftover));

    CHECK(write_text(path, "d") == 0);
    CHECK(holds(path, "d") && !exists(leftover));
    CHECK(temporaries_in(fixture_dir()) == 0);
}

/* Another writer's clean-up between this writer's creation of its
 * temporary and its lock: it removed the name, or holds the lock. */
static int flock_calls;

static int flock_after_removal(int fd, int operation)
{
    if (flock_calls++ == 0) {
        char link[64], name[OS_DURABLE_PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, name, sizeof name - 1);
        if (n > 0) {
            name[n] = 0;
            unlink(name);
        }
    }
    return flock(fd, operation);
}

static int flock_taken_once(int fd, int operation)
{
    if (flock_calls++ == 0) {
        errno = EWOULDBLOCK;
        return -1;
    }
    return flock(fd, operation);
}

static void test_temporary_taken_before_its_lock(void)
{
    char path[512];
    in_dir(path, sizeof path, "raced.img");
    flock_calls = 0;
    os_sys.flock = flock_after_removal;
    CHECK(write_text(path, "removed") == 0);
    os_syscalls_restore();
    CHECK(flock_calls == 2 && holds(path, "removed"));
    CHECK(temporaries_in(fixture_dir()) == 0);

    flock_calls = 0;
    os_sys.flock = flock_taken_once;
    CHECK(write_text(path, "locked") == 0);
    os_syscalls_restore();
    CHECK(flock_calls == 2 && holds(path, "locked"));
    /* The one given up is its taker's to remove: here no one took it, so
     * the next write does. */
    CHECK(temporaries_in(fixture_dir()) == 1);
    CHECK(write_text(path, "again") == 0);
    CHECK(temporaries_in(fixture_dir()) == 0);
}

/* Another writer of the same path begins (and cleans up) just as this one
 * renames: this one's temporary is still held, and stays. */
static int renames;
static int rename_after_another_write(const char *from, const char *to)
{
    if (renames++ == 0)
        CHECK(write_text(to, "other") == 0);
    return rename(from, to);
}

static void test_temporary_is_held_until_renamed(void)
{
    char path[512];
    in_dir(path, sizeof path, "held.img");
    renames = 0;
    os_sys.rename = rename_after_another_write;
    CHECK(write_text(path, "this") == 0);
    os_syscalls_restore();
    CHECK(renames == 2 && holds(path, "this"));
    CHECK(temporaries_in(fixture_dir()) == 0);
}

static void cleanup(void)
{
    fixture_cleanup();
}

CHECK_MAIN(TEST(test_link_to_a_file_writes_the_file),
           TEST(test_dangling_link_creates_its_target),
           TEST(test_link_loops_and_long_chains_fail),
           TEST(test_killed_writers_temporary_is_removed),
           TEST(test_live_writers_temporary_stays),
           TEST(test_only_its_own_temporaries_are_removed),
           TEST(test_clean_up_failures_are_not_the_writes),
           TEST(test_temporary_taken_before_its_lock),
           TEST(test_temporary_is_held_until_renamed), TEST(cleanup))
