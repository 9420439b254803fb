/*
 * test_durable.c - libos's durable write, beyond its failures (those are
 * test_faults.c's):
 *
 * - through a symbolic link (or a chain of them, relative targets taken
 *   from the link's directory), the file at the end is written and the
 *   links stay links; a dangling link's target is created; a loop, or a
 *   chain longer than OS_LINK_DEPTH, fails the write with one line.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fixture.h"
#include "os/durable.h"
#include "os/links.h"

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

static void cleanup(void)
{
    fixture_cleanup();
}

CHECK_MAIN(TEST(test_link_to_a_file_writes_the_file),
           TEST(test_dangling_link_creates_its_target),
           TEST(test_link_loops_and_long_chains_fail), TEST(cleanup))
