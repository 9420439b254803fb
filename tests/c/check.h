/*
 * check.h - the smallest test harness that does the job: CHECK macros that
 * report file:line and keep going, and a runner that counts.
 */
#ifndef CDS_TEST_CHECK_H
#define CDS_TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int check_failures;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
            check_failures++;                                                  \
        }                                                                      \
    } while (0)

#define CHECK_EQ_INT(actual, expected)                                         \
    do {                                                                       \
        long long a_ = (long long)(actual), e_ = (long long)(expected);        \
        if (a_ != e_) {                                                        \
            fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n",        \
                    __FILE__, __LINE__, #actual, a_, #expected, e_);           \
            check_failures++;                                                  \
        }                                                                      \
    } while (0)

/* A status check that names both statuses on failure. */
#define CHECK_STATUS(actual, expected)                                         \
    do {                                                                       \
        cds_status a_ = (actual), e_ = (expected);                             \
        if (a_ != e_) {                                                        \
            fprintf(stderr, "%s:%d: %s gave \"%s\", expected \"%s\"\n",        \
                    __FILE__, __LINE__, #actual, cds_strerror(a_),             \
                    cds_strerror(e_));                                         \
            check_failures++;                                                  \
        }                                                                      \
    } while (0)

typedef struct check_test {
    const char *name;
    void (*run)(void);
} check_test;

/* Run each test, print one line per test and a closing summary. */
static inline int check_run(const check_test *tests, size_t count)
{
    int failed = 0;
    for (size_t i = 0; i < count; i++) {
        int before = check_failures;
        tests[i].run();
        int ok = check_failures == before;
        printf("%s %s\n", ok ? "PASS" : "FAIL", tests[i].name);
        failed += !ok;
    }
    printf("%zu passed, %d failed\n", count - (size_t)failed, failed);
    return failed ? 1 : 0;
}

#define CHECK_MAIN(...)                                                        \
    int check_failures;                                                        \
    int main(void)                                                             \
    {                                                                          \
        static const check_test tests_[] = {__VA_ARGS__};                      \
        return check_run(tests_, sizeof tests_ / sizeof tests_[0]);            \
    }

#define TEST(fn)                                                               \
    {                                                                          \
#fn, fn                                                                \
    }

#endif /* CDS_TEST_CHECK_H */
