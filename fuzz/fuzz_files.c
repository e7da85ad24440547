/* fuzz_files.c - see fuzz_files.h. */
#define _GNU_SOURCE
#include "fuzz_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

void memfile_open(memfile *m, const char *name)
{
    m->fd = memfd_create(name, 0);
    if (m->fd < 0) {
        perror("memfd_create");
        abort();
    }
    snprintf(m->path, sizeof m->path, "/proc/self/fd/%d", m->fd);
}

void memfile_set(memfile *m, const void *data, size_t len)
{
    const char *p = data;
    if (ftruncate(m->fd, 0) != 0)
        abort();
    for (size_t done = 0; done < len;) {
        ssize_t k = pwrite(m->fd, p + done, len - done, (off_t)done);
        if (k <= 0)
            abort();
        done += (size_t)k;
    }
}
