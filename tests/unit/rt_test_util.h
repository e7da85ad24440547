/* rt_test_util.h - small helpers shared by the runtime's Check suites:
 * fixture paths, temporary directories, whole-file reads and writes, and
 * the runner every suite's main() ends with. */
#ifndef RT_TEST_UTIL_H
#define RT_TEST_UTIL_H

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cnnrt.h"

/* tests/unit/data/NAME; the suites run from the repository root (make),
 * or from anywhere with RT_TEST_DATA pointing at the fixtures. */
static inline const char *fixture(const char *name)
{
    static char buf[4][1024];
    static int k;
    const char *dir = getenv("RT_TEST_DATA");
    char *p = buf[k++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", dir ? dir : "tests/unit/data", name);
    return p;
}

/* A fresh directory under /tmp (left for the OS to clean: tests fork). */
static inline const char *temp_dir(void)
{
    static char dir[64];
    snprintf(dir, sizeof dir, "/tmp/cnnrt_test_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    return dir;
}

static inline const char *path_in(const char *dir, const char *name)
{
    static char buf[8][1024];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

static inline unsigned char *slurp(const char *path, size_t *len)
{
    unsigned char *data;
    char err[CNNRT_ERR_MAX];
    ck_assert_msg(cnnrt_read_file(path, &data, len, err, sizeof err) == 0, "%s", err);
    return data;
}

static inline void spit(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static inline int file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* Number of entries of dir other than . and .. */
static inline int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

#define ck_assert_err_has(err, needle) \
    ck_assert_msg(strstr((err), (needle)) != NULL, "message '%s' lacks '%s'", (err), (needle))

/* Runs every test of s; the exit status of main(). */
static inline int run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif /* RT_TEST_UTIL_H */
