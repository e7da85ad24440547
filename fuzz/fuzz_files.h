/* fuzz_files.h - for harnesses of readers that take a path: an in-memory
 * file (memfd) that each input is written into, named /proc/self/fd/N. */
#ifndef FUZZ_FILES_H
#define FUZZ_FILES_H

#include <stddef.h>

typedef struct memfile {
    int fd;
    char path[64];
} memfile;

/* Creates the file; aborts if the system cannot. */
void memfile_open(memfile *m, const char *name);
/* Replaces the file's contents with len bytes of data. */
void memfile_set(memfile *m, const void *data, size_t len);

#endif
