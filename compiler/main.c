/* main.c - the cnnc driver.  The whole compiler in order:
 *   source_read -> parse -> lower -> check -> plan -> emit_c -> write [-> cc]
 * Exit status: 0 success, 1 an error in the spec, 2 bad usage or I/O. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ir.h"

#ifndef CNNC_VERSION
#define CNNC_VERSION "0.0"
#endif
#ifndef CNNC_PREFIX
#define CNNC_PREFIX "/usr/local"
#endif

typedef struct options {
    const char *input, *output, *target, *dump;
    enum { MODE_BUILD, MODE_CHECK, MODE_SUMMARY, MODE_DOT } mode;
    bool mpi;                  /* --mpi: link the executable as an MPI program */
} options;

static const char usage[] =
    "usage: cnnc [options] FILE.net        (FILE '-' reads standard input)\n"
    "  -o NAME.c           write NAME.c and NAME.h (the model and its API)\n"
    "  -o NAME             the same, then build the executable NAME with $CC\n"
    "                      (default clang) and the cnnc runtime\n"
    "  --mpi               with -o NAME: NAME is an MPI program for data-parallel\n"
    "                      training (mpirun -np P ./NAME train ...), linked by $MPICC\n"
    "                      (default mpicc, driving $CC) with libcnnrt_mpi.a\n"
    "  --check             parse and check shapes only; print nothing on success\n"
    "  --summary           table of layers: shapes, parameters, FLOPs, memory\n"
    "  --emit=dot          Graphviz picture of the network on standard output\n"
    "  --target=T          avx512, avx2, sse2, neon or generic (default: the host's best)\n"
    "  -d LETTERS          debug dumps after stages: p parse, l lower, c check\n"
    "  --version, --help\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "cnnc: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage);
    return 2;
}

static const char *const targets[] = {"avx512", "avx2", "sse2", "neon", "generic"};

/* The best flavour the running CPU supports. */
static const char *host_target(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl"))
        return "avx512";
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? "avx2" : "sse2";
#elif defined(__x86_64__)
    return "sse2";
#elif defined(__aarch64__)
    return "neon";
#else
    return "generic";
#endif
}

static int parse_target(options *o, const char *t)
{
    for (size_t i = 0; i < sizeof targets / sizeof *targets; i++)
        if (strcmp(t, targets[i]) == 0) {
            o->target = targets[i];
            return 0;
        }
    return usage_error("unknown target '%s' (avx512, avx2, sse2, neon, generic)", t);
}

/* -o NAME builds an executable; -o NAME.c (or no -o) writes C only. */
static bool builds_executable(const char *out)
{
    return out && !(strlen(out) > 2 && !strcmp(out + strlen(out) - 2, ".c"));
}

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            printf("cnnc %s\n", CNNC_VERSION);
            return 0;
        } else if (!strcmp(a, "--check")) {
            o->mode = MODE_CHECK;
        } else if (!strcmp(a, "--summary")) {
            o->mode = MODE_SUMMARY;
        } else if (!strcmp(a, "--emit=dot")) {
            o->mode = MODE_DOT;
        } else if (!strcmp(a, "--mpi")) {
            o->mpi = true;
        } else if (!strncmp(a, "--target=", 9)) {
            if (parse_target(o, a + 9))
                return 2;
        } else if (!strcmp(a, "-o") || !strcmp(a, "-d") || !strcmp(a, "--target")) {
            if (i + 1 >= argc)
                return usage_error("%s needs a value", a);
            if (a[1] == 'o')
                o->output = argv[++i];
            else if (a[1] == 'd')
                o->dump = argv[++i];
            else if (parse_target(o, argv[++i]))
                return 2;
        } else if (a[0] == '-' && a[1] != 0) {
            return usage_error("unknown option '%s'", a);
        } else if (o->input) {
            return usage_error("one input file only (got a second: '%s')", a);
        } else {
            o->input = a;
        }
    }
    if (!o->input)
        return usage_error("%s", "no input file");
    if (o->mpi && (o->mode != MODE_BUILD || !builds_executable(o->output)))
        return usage_error("%s", "--mpi needs -o NAME (an executable to link; NAME.c is the same "
                           "with or without --mpi)");
    return -1;
}

/* Writes data to path through a temporary file and rename(), so that no
 * partial output is ever left behind. */
static int write_file(const char *path, const strbuf *data)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f || fwrite(data->data, 1, data->len, f) != data->len || fclose(f) != 0 ||
        rename(tmp, path) != 0) {
        int err = errno;
        remove(tmp);
        fprintf(stderr, "cnnc: cannot write %s: %s\n", path, strerror(err));
        return -1;
    }
    return 0;
}

/* mkdir -p of the directory part of path (as `cnnc x.net -o /tmp/y/x`
 * expects /tmp/y to be made); 0, or -1 after a message. */
static int make_parent_dirs(arena *a, const char *path)
{
    char *dir = arena_strdup(a, path), *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = 0;
    for (char *p = dir + 1; ; p++) {
        if (*p != '/' && *p != 0)
            continue;
        char c = *p;
        *p = 0;
        if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "cnnc: cannot create directory %s: %s\n", dir, strerror(errno));
            return -1;
        }
        *p = c;
        if (c == 0)
            return 0;
    }
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* A runtime library (libcnnrt.a, libcnnrt_mpi.a): $CNNC_RUNTIME, beside
 * cnnc (build tree), the install prefix relative to cnnc, then the
 * configured prefix. */
static char *find_runtime(arena *a, const char *name)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = 0;
    const char *env = getenv("CNNC_RUNTIME");
    const char *cands[] = {
        env ? arena_printf(a, "%s/%s", env, name) : NULL,
        arena_printf(a, "%s/%s", exe, name),
        arena_printf(a, "%s/../lib/%s", exe, name),
        arena_printf(a, "%s/lib/%s", CNNC_PREFIX, name),
    };
    for (size_t i = 0; i < sizeof cands / sizeof *cands; i++)
        if (cands[i] && file_exists(cands[i]))
            return arena_strdup(a, cands[i]);
    return NULL;
}

/* Splits a command like "ccache gcc" into argv words. */
static int split_words(arena *a, const char *s, char **argv, int max)
{
    char *copy = arena_strdup(a, s);
    int n = 0;
    for (char *w = strtok(copy, " \t"); w && n < max; w = strtok(NULL, " \t"))
        argv[n++] = w;
    return n;
}

static int run(char **argv)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execvp(argv[0], argv);
        fprintf(stderr, "cnnc: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The libraries to link: libcnnrt.a, and before it for --mpi libcnnrt_mpi.a. */
static int find_libs(arena *a, bool mpi, char **lib, char **mpilib)
{
    *lib = find_runtime(a, "libcnnrt.a");
    *mpilib = mpi ? find_runtime(a, "libcnnrt_mpi.a") : NULL;
    if (!*lib) {
        fprintf(stderr, "cnnc: cannot find the runtime library libcnnrt.a "
                "(set CNNC_RUNTIME to the directory holding it)\n");
        return -1;
    }
    if (mpi && !*mpilib) {
        fprintf(stderr, "cnnc: --mpi: cannot find the runtime library libcnnrt_mpi.a (make "
                "builds it where mpicc exists, e.g. from Debian's libopenmpi-dev; or set "
                "CNNC_RUNTIME to the directory holding it)\n");
        return -1;
    }
    return 0;
}

/* $CC (default clang); for --mpi $MPICC (default mpicc), told to drive the
 * same $CC through OMPI_CC (Open MPI) or MPICH_CC unless those are set. */
static const char *compiler(bool mpi)
{
    const char *cc = getenv("CC"), *mpicc = getenv("MPICC");
    cc = cc && *cc ? cc : "clang";
    if (!mpi)
        return cc;
    setenv("OMPI_CC", cc, 0);
    setenv("MPICH_CC", cc, 0);
    return mpicc && *mpicc ? mpicc : "mpicc";
}

/* $CC [$CNNC_CFLAGS] -O2 -DCNNC_MAIN NAME.c libcnnrt.a -lz -lm -o NAME; for
 * --mpi $MPICC ... -DCNNC_MPI NAME.c libcnnrt_mpi.a libcnnrt.a ... */
static int build_executable(arena *a, const char *c_path, const char *exe, const char *target,
                            bool native, bool mpi)
{
    char *lib, *mpilib, *argv[64];
    if (find_libs(a, mpi, &lib, &mpilib) < 0)
        return -1;
    int n = split_words(a, compiler(mpi), argv, 8);
    argv[n++] = "-std=c11";
    argv[n++] = "-O2";
    if (native && strcmp(target, "generic") != 0)
        argv[n++] = "-march=native";
    const char *extra = getenv("CNNC_CFLAGS");
    if (extra)
        n += split_words(a, extra, argv + n, 32);
    char *tmp = arena_printf(a, "%s.tmp%ld", exe, (long)getpid());
    argv[n++] = "-DCNNC_MAIN";
    if (mpi)
        argv[n++] = "-DCNNC_MPI";
    argv[n++] = "-pthread";
    argv[n++] = (char *)c_path;
    if (mpi)
        argv[n++] = mpilib;
    char *rest[] = {lib, "-lz", "-lm", "-o", tmp, NULL};
    memcpy(argv + n, rest, sizeof rest);
    int rc = run(argv);
    if (rc != 0 || rename(tmp, exe) != 0) {
        remove(tmp);
        fprintf(stderr, "cnnc: building %s failed (%s exited with %d)\n", exe, argv[0], rc);
        return -1;
    }
    return 0;
}

/* -o NAME.c writes NAME.c and NAME.h; -o NAME also builds NAME; without
 * -o the files are named after the input (lenet.net -> lenet.c). */
static int write_outputs(arena *a, const ir_net *net, const options *o)
{
    const char *out = o->output;
    bool build = builds_executable(out);
    char *base;
    if (out) {
        base = build ? arena_strdup(a, out) : arena_strndup(a, out, strlen(out) - 2);
    } else {
        const char *in = strcmp(o->input, "-") ? base_name(o->input) : net->name;
        const char *dot = strrchr(in, '.');
        base = dot && dot != in ? arena_strndup(a, in, (size_t)(dot - in)) : arena_strdup(a, in);
    }
    char *c_path = arena_printf(a, "%s.c", base), *h_path = arena_printf(a, "%s.h", base);
    strbuf c = {0}, h = {0};
    if (make_parent_dirs(a, c_path) < 0)
        return 2;
    emit_c(net, base_name(c_path), base_name(h_path), o->target, &c, &h);
    int rc = write_file(h_path, &h);
    if (!rc && write_file(c_path, &c)) {
        remove(h_path);         /* a header without its source is no output */
        rc = -1;
    }
    rc = rc || (build && build_executable(a, c_path, base, o->target,
                                          !strcmp(o->target, host_target()), o->mpi));
    sb_free(&c);
    sb_free(&h);
    return rc ? 2 : 0;
}

static bool dumping(const options *o, char stage) { return o->dump && strchr(o->dump, stage); }

static int compile(arena *a, const options *o)
{
    source *src = source_read(a, o->input);
    if (!src)
        return 2;
    ast_network *ast = parse(src, a);
    if (!ast)
        return 1;
    if (dumping(o, 'p'))
        ast_dump(stderr, ast);
    ir_net *net = lower(ast, src, a);
    if (!net)
        return 1;
    if (dumping(o, 'l'))
        ir_dump(stderr, net);
    if (!check(net))
        return 1;
    plan(net);
    if (dumping(o, 'c'))
        ir_dump(stderr, net);
    switch (o->mode) {
    case MODE_CHECK: return 0;
    case MODE_SUMMARY: print_summary(stdout, net); return 0;
    case MODE_DOT: print_dot(stdout, net); return 0;
    case MODE_BUILD: return write_outputs(a, net, o);
    }
    unreachable();
}

int main(int argc, char **argv)
{
    options o = {0};
    o.target = host_target();
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    arena *a = arena_new();
    rc = compile(a, &o);
    arena_free(a);
    return rc;
}
