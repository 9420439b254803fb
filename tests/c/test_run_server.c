/*
 * test_run_server.c - librun's server contract (run/server.h) and pycds's
 * variable table (run/variables.h): the status report written and read
 * back, a key's files, the failure note and its back-off, the log lines'
 * prefix, the server's command line, the pool bound, and variables read with
 * their defaults.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "check.h"
#include "run/server.h"
#include "run/variables.h"

static void test_report_round_trip(void)
{
    run_report report = {0};
    for (int i = 0; i < RUN_REPORT_FIELD_COUNT; i++)
        report.value[i] = run_report_field_name((run_report_field)i);
    report.value[RUN_REPORT_STATE] = "stale: a\nb";
    report.value[RUN_REPORT_ARCHIVE] = NULL; /* absent: no line */
    char text[2048];
    size_t n = run_report_format(&report, text, sizeof text);
    CHECK_EQ_INT(n, strlen(text));
    CHECK(strncmp(text, "pid: pid\nuptime: uptime\n", 24) == 0);
    CHECK(strstr(text, "state: stale: a b\n") != NULL);
    CHECK(strstr(text, "archive") == NULL);
    run_report read;
    run_report_parse(text, &read);
    for (int i = 0; i < RUN_REPORT_FIELD_COUNT; i++) {
        if (i == RUN_REPORT_ARCHIVE)
            CHECK(read.value[i] == NULL);
        else if (i == RUN_REPORT_STATE)
            CHECK(strcmp(read.value[i], "stale: a b") == 0);
        else
            CHECK(read.value[i] &&
                  strcmp(read.value[i], run_report_field_name(i)) == 0);
    }
    /* Cut to the buffer, NUL-terminated; the length says what it needed. */
    char small[10];
    CHECK_EQ_INT(run_report_format(&report, small, sizeof small), n);
    CHECK(strcmp(small, "pid: pid\n") == 0);
    /* A newer server's fields and stray lines are skipped; the first of
     * two values stays. */
    char newer[] = "pid: 1\nfuture field: x\nno separator\npid: 2\nlog: /l";
    run_report_parse(newer, &read);
    CHECK(strcmp(read.value[RUN_REPORT_PID], "1") == 0);
    CHECK(strcmp(read.value[RUN_REPORT_LOG], "/l") == 0);
    CHECK(read.value[RUN_REPORT_STATE] == NULL);
    CHECK_EQ_INT(run_report_field_by_name("programs run"),
                 RUN_REPORT_PROGRAMS_RUN);
    CHECK_EQ_INT(run_report_field_by_name("nothing"), -1);
    CHECK(run_report_field_name(RUN_REPORT_FIELD_COUNT) == NULL);
}

static void test_server_files(void)
{
    char path[256], beside[256];
    for (int i = 0; i < RUN_FILE_COUNT; i++) {
        CHECK(run_server_file_path(path, sizeof path, "/run/d", "key",
                                   (run_server_file)i, NULL) == RUN_OK);
        char expected[64];
        snprintf(expected, sizeof expected, "/run/d/key%s",
                 run_server_file_suffix((run_server_file)i));
        CHECK(strcmp(path, expected) == 0);
        CHECK(run_server_file_beside(beside, sizeof beside, "/run/d/key.sock",
                                     (run_server_file)i, NULL) == RUN_OK);
        CHECK(strcmp(beside, expected) == 0);
        CHECK_EQ_INT(
            run_server_file_by_name(run_server_file_name((run_server_file)i)),
            i);
    }
    CHECK(run_server_file_beside(beside, sizeof beside, "/tmp/mine",
                                 RUN_FILE_LOCK, NULL) == RUN_OK);
    CHECK(strcmp(beside, "/tmp/mine.lock") == 0);
    /* Only the socket is bound by sun_path's 108 bytes. */
    char dir[120];
    memset(dir, 'd', sizeof dir - 1);
    dir[0] = '/';
    dir[sizeof dir - 1] = 0;
    run_diag diag;
    CHECK(run_server_file_path(path, sizeof path, dir, "k", RUN_FILE_SOCKET,
                               &diag) == RUN_E_TOO_LARGE);
    CHECK(strstr(diag.message, "socket path") != NULL);
    CHECK(run_server_file_path(path, sizeof path, dir, "k", RUN_FILE_LOG,
                               NULL) == RUN_OK);
    CHECK(run_server_file_path(path, 16, "/run/d", "key", RUN_FILE_FAILED,
                               NULL) == RUN_E_TOO_LARGE);
    CHECK(run_server_file_path(path, sizeof path, "/run/d", "key",
                               RUN_FILE_COUNT, NULL) == RUN_E_INVALID);
    CHECK_EQ_INT(run_server_file_by_name("sock"), -1);
}

static void test_failure_note(void)
{
    char dir[] = "/tmp/pycds-test-note-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/k.failed", dir);
    char why[64] = "untouched";
    CHECK(run_failed_note_read(path, why, sizeof why) == 0); /* none */
    CHECK(run_failed_note_write(path, "import failed\nsecond line", NULL) ==
          RUN_OK);
    CHECK(run_failed_note_read(path, why, sizeof why) == 1);
    CHECK(strcmp(why, "import failed") == 0);
    char cut[7];
    CHECK(run_failed_note_read(path, cut, sizeof cut) == 1);
    CHECK(strcmp(cut, "import") == 0);
    /* An old note no longer holds clients back. */
    struct utimbuf old = {time(NULL) - RUN_FAILED_BACKOFF_SECONDS,
                          time(NULL) - RUN_FAILED_BACKOFF_SECONDS};
    CHECK(utime(path, &old) == 0);
    CHECK(run_failed_note_read(path, why, sizeof why) == 0);
    /* A note dated a little ahead (clocks a second apart) holds clients
     * back; one dated far ahead (a clock stepped back) does not. */
    struct utimbuf ahead = {time(NULL) + 5, time(NULL) + 5};
    CHECK(utime(path, &ahead) == 0);
    CHECK(run_failed_note_read(path, why, sizeof why) == 1);
    struct utimbuf far = {time(NULL) + 24 * 3600, time(NULL) + 24 * 3600};
    CHECK(utime(path, &far) == 0);
    CHECK(run_failed_note_read(path, why, sizeof why) == 0);
    /* Not a regular file: no note. */
    char link[160];
    snprintf(link, sizeof link, "%s/l.failed", dir);
    CHECK(symlink(path, link) == 0);
    CHECK(run_failed_note_write(path, "again", NULL) == RUN_OK);
    CHECK(run_failed_note_read(link, why, sizeof why) == 0);
    run_diag diag;
    char missing[160];
    snprintf(missing, sizeof missing, "%s/none/k.failed", dir);
    CHECK(run_failed_note_write(missing, "x", &diag) == RUN_E_IO);
    unlink(link);
    unlink(path);
    CHECK(rmdir(dir) == 0); /* nothing else was left, no .tmp */
}

static void test_log_prefix(void)
{
    char prefix[128];
    size_t n = run_log_prefix(prefix, sizeof prefix);
    CHECK_EQ_INT(n, strlen(prefix));
    int year, month, day, hour, minute, second, end = 0;
    long pid;
    CHECK(sscanf(prefix, "%4d-%2d-%2d %2d:%2d:%2d pycds serve[%ld]: %n", &year,
                 &month, &day, &hour, &minute, &second, &pid, &end) == 7);
    CHECK((size_t)end == n && prefix[n - 2] == ':' && prefix[n - 1] == ' ');
    CHECK(pid == (long)getpid() && year >= 2024 && month >= 1 && day >= 1);
    /* Cut to the buffer, NUL-terminated. */
    char small[11];
    CHECK_EQ_INT(run_log_prefix(small, sizeof small), 10);
    CHECK(strncmp(small, prefix, 10) == 0 && small[10] == 0);
    CHECK_EQ_INT(run_log_prefix(small, 0), 0);
}

static void test_server_command(void)
{
    const char *options[] = {"-B", "-X", "utf8"};
    const char *argv[RUN_SERVE_MAX_ARGS];
    int n = run_server_command("/py", options, 3, "json", "/a.img", argv);
    const char *expected[] = {
        "/py",    "-B",          "-X",           "utf8", "-m",
        "pycds",  "serve",       "--preload",    "json", "--archive",
        "/a.img", "--lock-fd=3", "--key-python", "/py"};
    CHECK_EQ_INT(n, sizeof expected / sizeof expected[0]);
    for (int i = 0; i < n && i < (int)(sizeof expected / sizeof *expected); i++)
        CHECK(strcmp(argv[i], expected[i]) == 0);
    CHECK(argv[n] == NULL);
    n = run_server_command("/py", NULL, 0, "", "", argv);
    CHECK_EQ_INT(n, 9);
    CHECK(strcmp(argv[6], "--lock-fd=3") == 0);
    static const char *many[RUN_MAX_OPTIONS + 1];
    for (int i = 0; i <= RUN_MAX_OPTIONS; i++)
        many[i] = "-B";
    CHECK_EQ_INT(
        run_server_command("/py", many, RUN_MAX_OPTIONS, "", "/a", argv),
        RUN_MAX_OPTIONS + 11);
    CHECK(run_server_command("/py", many, RUN_MAX_OPTIONS + 1, "", "", argv) ==
          -1);
}

static void test_pool_bound(void)
{
    run_diag diag;
    CHECK(run_pool_check(0, NULL) == RUN_OK);
    CHECK(run_pool_check(RUN_POOL_MAX, NULL) == RUN_OK);
    CHECK(run_pool_check(-1, &diag) == RUN_E_INVALID);
    CHECK(run_pool_check(RUN_POOL_MAX + 1, &diag) == RUN_E_INVALID);
    CHECK(strstr(diag.message, "0 to 64") != NULL);
}

static void test_variables(void)
{
    for (int i = 0; i < RUN_VAR_COUNT; i++) {
        const run_variable_info *info = run_variable_describe(i);
        CHECK(info && strncmp(info->name, "PYCDS", 5) == 0 && info->meaning);
        CHECK_EQ_INT(run_variable_by_name(info->name, strlen(info->name)), i);
    }
    CHECK(run_variable_describe(RUN_VAR_COUNT) == NULL);
    CHECK_EQ_INT(run_variable_by_name("PYCDSVERBOSEX", 12), RUN_VAR_VERBOSE);
    CHECK_EQ_INT(run_variable_by_name("PYCDSVERBOSE", 11), -1);
    unsetenv("PYCDSVALIDATE");
    CHECK(strcmp(run_variable_get(RUN_VAR_VALIDATE), "mtime") == 0);
    setenv("PYCDSVALIDATE", "", 1);
    CHECK(strcmp(run_variable_get(RUN_VAR_VALIDATE), "mtime") == 0);
    setenv("PYCDSVALIDATE", "hash", 1);
    CHECK(strcmp(run_variable_get(RUN_VAR_VALIDATE), "hash") == 0);
    unsetenv("PYCDSVALIDATE");
    unsetenv("PYCDSSOCKET");
    CHECK(run_variable_get(RUN_VAR_SOCKET) == NULL);
    /* The table says which select a server; PYCDSMODE by its value. */
    CHECK(run_env_role_of("PYCDSARCHIVE=/a") == RUN_ENV_KEY);
    CHECK(run_env_role_of("PYCDSVERBOSE=1") == RUN_ENV_RUNTIME);
    CHECK(run_env_role_of("PYCDSMODE=SHARE") == RUN_ENV_KEY);
    CHECK(run_env_role_of("PYCDSMODE=TRACE") == RUN_ENV_PLAIN);
    CHECK(run_env_role_of("PYCDSOTHER=1") == RUN_ENV_RUNTIME);
}

CHECK_MAIN(TEST(test_report_round_trip), TEST(test_server_files),
           TEST(test_failure_note), TEST(test_log_prefix),
           TEST(test_server_command), TEST(test_pool_bound),
           TEST(test_variables))
