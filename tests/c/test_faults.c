/*
 * test_faults.c - failures of the operating system, injected through
 * libos's table of calls (os_sys), are survived:
 *
 * - an EIO while a module's bytes are read in refuses that module alone:
 *   the archive goes on serving the others, and the same module once the
 *   file reads again (the program falls back for it and runs on);
 * - ENOSPC on a write, a failed fsync or a failed rename, for every writer
 *   (archives, launchers, page lists, the server's failure note, any
 *   other whole file), fails the
 *   write with one line, leaves the old file as it was and no temporary
 *   behind: nothing half-written is ever used.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fixture.h"
#include "os/durable.h"
#include "os/syscalls.h"
#include "pages.h"
#include "run/run.h"
#include "run/server.h"
#include "stand_in_client.h"

/* ------------------------------------------------------------ injection */

static int reads_failed;

static ssize_t pread_eio(int fd, void *buffer, size_t size, off_t offset)
{
    (void)fd, (void)buffer, (void)size, (void)offset;
    reads_failed++;
    errno = EIO;
    return -1;
}

static ssize_t write_enospc(int fd, const void *data, size_t size)
{
    (void)fd, (void)data, (void)size;
    errno = ENOSPC;
    return -1;
}

/* A disk that fills up part-way: the first write takes half of what it is
 * given, the next none. */
static int partial_writes;
static ssize_t write_fills_up(int fd, const void *data, size_t size)
{
    if (partial_writes++ == 0)
        return write(fd, data, size > 1 ? size / 2 : size);
    errno = ENOSPC;
    return -1;
}

static int fsync_eio(int fd)
{
    (void)fd;
    errno = EIO;
    return -1;
}

static int rename_exdev(const char *from, const char *to)
{
    (void)from, (void)to;
    errno = EXDEV;
    return -1;
}

typedef struct fault {
    const char *name;
    void (*inject)(void);
} fault;

static void inject_enospc(void)
{
    os_sys.write = write_enospc;
}

static void inject_fills_up(void)
{
    partial_writes = 0;
    os_sys.write = write_fills_up;
}

static void inject_fsync(void)
{
    os_sys.fsync = fsync_eio;
}

static void inject_rename(void)
{
    os_sys.rename = rename_exdev;
}

static const fault faults[] = {
    {"ENOSPC on write", inject_enospc},
    {"disk full part-way", inject_fills_up},
    {"failed fsync", inject_fsync},
    {"failed rename", inject_rename},
};
#define FAULT_COUNT (sizeof faults / sizeof faults[0])

/* ------------------------------------------------------------- helpers */

static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc(n > 0 ? (size_t)n : 1);
    *size = data && fread(data, 1, (size_t)n, f) == (size_t)n ? (size_t)n : 0;
    fclose(f);
    return data;
}

/* Whether any temporary (NAME.tmp-...) is left in directory. */
static int temporaries_left(const char *directory)
{
    DIR *d = opendir(directory);
    int found = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        found |= strstr(e->d_name, ".tmp") != NULL;
    if (d)
        closedir(d);
    return found;
}

/* Run `write` once well, then under each fault: it must fail, and leave
 * path byte for byte as the good write left it, with no temporary. */
typedef int (*writer_fn)(const char *path, int generation);

static void check_writer(const char *what, writer_fn write_it)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fixture_dir(), what);
    CHECK(write_it(path, 0) == 0);
    size_t good_size = 0;
    unsigned char *good = slurp(path, &good_size);
    CHECK(good && good_size > 0);
    for (size_t i = 0; i < FAULT_COUNT; i++) {
        faults[i].inject();
        int result = write_it(path, 1 + (int)i);
        os_syscalls_restore();
        if (result == 0)
            fprintf(stderr, "%s: %s was not noticed\n", what, faults[i].name);
        CHECK(result != 0);
        size_t size = 0;
        unsigned char *now = slurp(path, &size);
        CHECK(now && size == good_size && memcmp(now, good, size) == 0);
        free(now);
        CHECK(!temporaries_left(fixture_dir()));
    }
    /* And with the calls back, the write goes through again. */
    CHECK(write_it(path, 99) == 0);
    free(good);
}

/* ------------------------------------------------------------- writers */

static int write_archive(const char *path, int generation)
{
    fixture_options o = {.modules = 3 + (uint32_t)generation,
                         .payload = 64u << 10};
    return fixture_write(path, &o) == CDS_OK ? 0 : -1;
}

static int write_launcher(const char *path, int generation)
{
    char client[512];
    snprintf(client, sizeof client, "%s/client", fixture_dir());
    if (access(client, F_OK) != 0 && write_stand_in_client(client) != 0)
        return -1;
    char preload[32];
    snprintf(preload, sizeof preload, "module%d", generation);
    run_diag diag = {0};
    run_status status =
        run_bundle_write(client, path, "/venv/bin/python", preload, "", &diag);
    if (status != RUN_OK && strlen(diag.message) == 0)
        fprintf(stderr, "launcher: no diagnostic\n");
    return status == RUN_OK ? 0 : -1;
}

/* Listing pages scans every writable mapping (slow under ASan, with its
 * shadow memory): listed once, then written under each fault by the
 * writer pycds_pages_learn uses (test_pages tests the listing). */
static os_array page_list = OS_ARRAY_INIT(char);

static int write_pages(const char *path, int generation)
{
    (void)generation;
    if (page_list.count == 0 && pycds_pages_list(&page_list) != 0)
        return -1;
    return pycds_pages_write(path, &page_list);
}

static int write_plain_file(const char *path, int generation)
{
    char text[64];
    int n = snprintf(text, sizeof text, "generation %d\n", generation);
    char message[OS_DURABLE_MESSAGE_SIZE] = "";
    int status = os_durable_write_file(path, text, (size_t)n, 0644, message,
                                       sizeof message);
    if (status != 0 && !strstr(message, path))
        fprintf(stderr, "file: the message does not name the file: %s\n",
                message);
    return status;
}

static void test_archive_writer_survives_faults(void)
{
    check_writer("archive.img", write_archive);
    /* The old archive is still a good archive. */
    char path[512];
    snprintf(path, sizeof path, "%s/archive.img", fixture_dir());
    cds_archive *a = NULL;
    CHECK_STATUS(cds_archive_open(&a, path, FIXTURE_FINGERPRINT,
                                  FIXTURE_FINGERPRINT_SIZE, 0, NULL),
                 CDS_OK);
    cds_archive_close(a);
}

static void test_launcher_writer_survives_faults(void)
{
    check_writer("launcher", write_launcher);
}

static void test_pages_writer_survives_faults(void)
{
    check_writer("program.pages", write_pages);
    os_array_free(&page_list);
}

/* The server's failure note, as librun writes it. */
static int write_failure_note(const char *path, int generation)
{
    char why[64];
    snprintf(why, sizeof why, "generation %d", generation);
    run_diag diag = {0};
    return run_failed_note_write(path, why, &diag) == RUN_OK ? 0 : -1;
}

static void test_file_writer_survives_faults(void)
{
    check_writer("plain.file", write_plain_file);
    check_writer("server.failed", write_failure_note);
}

static void test_write_failure_is_one_line(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/archive.img", fixture_dir());
    fixture_options o = {.modules = 2};
    os_sys.fsync = fsync_eio;
    cds_status status = fixture_write(path, &o);
    os_syscalls_restore();
    CHECK_STATUS(status, CDS_E_IO);
    char message[OS_DURABLE_MESSAGE_SIZE];
    os_sys.rename = rename_exdev;
    CHECK(os_durable_write_file(path, "x", 1, 0644, message, sizeof message) ==
          -1);
    os_syscalls_restore();
    CHECK(errno == EXDEV);
    CHECK(strstr(message, "rename to ") && strstr(message, path) &&
          strstr(message, strerror(EXDEV)) && !strchr(message, '\n'));
}

/* ------------------------------------------------------------- reading */

static void test_read_error_refuses_the_module_only(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/read.img", fixture_dir());
    fixture_options o = {.modules = 4, .payload = 256u << 10};
    cds_archive *a = fixture_open(path, &o, CDS_OPEN_NO_POPULATE);
    CHECK(a != NULL);
    if (!a)
        return;
    fixture_runtime rt;
    fixture_runtime_init(&rt);

    reads_failed = 0;
    os_sys.pread = pread_eio;
    CHECK_STATUS(cds_archive_prepare_module(a, 1, &rt.symbols), CDS_E_IO);
    os_syscalls_restore();
    CHECK(reads_failed > 0);

    /* The others are served, and so is module 1 once the disk reads. */
    for (uint32_t m = 0; m < 4; m++) {
        CHECK_STATUS(cds_archive_prepare_module(a, m, &rt.symbols), CDS_OK);
        fixture_node *node = cds_archive_at(a, cds_archive_module(a, m)->root);
        CHECK(node && node->self == node && node->number == m);
    }
    cds_archive_close(a);
}

static void test_read_error_at_open_refuses_the_archive(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/read.img", fixture_dir());
    os_sys.pread = pread_eio;
    cds_archive *a = NULL;
    cds_diag diag = {0};
    cds_status status = cds_archive_open(&a, path, FIXTURE_FINGERPRINT,
                                         FIXTURE_FINGERPRINT_SIZE, 0, &diag);
    os_syscalls_restore();
    CHECK_STATUS(status, CDS_E_IO);
    CHECK(a == NULL && strlen(diag.message) > 0);
}

static void cleanup(void)
{
    fixture_cleanup();
}

CHECK_MAIN(TEST(test_archive_writer_survives_faults),
           TEST(test_launcher_writer_survives_faults),
           TEST(test_pages_writer_survives_faults),
           TEST(test_file_writer_survives_faults),
           TEST(test_write_failure_is_one_line),
           TEST(test_read_error_refuses_the_module_only),
           TEST(test_read_error_at_open_refuses_the_archive), TEST(cleanup))
