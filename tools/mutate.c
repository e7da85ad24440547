/* mutate.c - the compiler's robustness test: deterministic mutations of
 * .net files, each run through cnnc.
 *
 *   mutate CNNC DIR PER_FILE FILE.net... [PER_FILE FILE.net...]
 *
 * For every FILE, PER_FILE (the last count before it) mutants (tokens deleted, duplicated, swapped or
 * replaced; numbers made small or huge; names swapped for other words of
 * the language; bytes inserted, deleted or flipped; lines repeated; the
 * file truncated; two or three of these at once) are written
 * to DIR/m.net and compiled twice:
 *   cnnc --check DIR/m.net          and         cnnc DIR/m.net -o DIR/m.c
 * Each run must exit normally within 10 s with status 0 or 1 (never a
 * signal, never 2: the file exists), both runs must agree, a status 1 must
 * come with a GNU diagnostic `m.net:LINE:COL: error: ` (or `m.net: error: `)
 * as the first line of stderr whose line and column lie inside the file,
 * status 0 must print nothing, and -o must leave m.c and m.h exactly when it
 * succeeds (and no temporary file either way).  A failing mutant is kept as
 * DIR/fail-N.net.  Exits 1 if any mutant failed.  The mutations depend only
 * on the files and their order, so a failure reproduces.
 */
#define _XOPEN_SOURCE 700        /* realpath */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct buf { char *p; size_t n, cap; } buf;

typedef struct run {
    int status;                  /* exit status, or -1 for a signal or a hang */
    char err[512];               /* the first line of stderr */
    size_t errlen, outlen;
} run;

typedef struct ctx {
    const char *cnnc, *dir;
    char net[4096], c[4096], h[4096], out[4096], errf[4096];
    int failures, accepted, rejected, total;
} ctx;

/* ---- deterministic random numbers (splitmix64) ---- */
static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

/* ---- growable text ---- */
static void put(buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p) {
            perror("mutate");
            exit(2);
        }
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void put_str(buf *b, const char *s) { put(b, s, strlen(s)); }

/* ---- tokens: identifier/number runs, or one other byte ---- */
static int word_byte(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.';
}

/* The token starting at or before a random byte: [*start, *end). */
static void pick_token(const buf *s, size_t *start, size_t *end)
{
    size_t i = below(s->n);
    while (i < s->n && (s->p[i] == ' ' || s->p[i] == '\n'))
        i++;
    if (i >= s->n) {
        *start = *end = s->n;
        return;
    }
    size_t a = i, b = i + 1;
    if (word_byte(s->p[i])) {
        while (a > 0 && word_byte(s->p[a - 1]))
            a--;
        while (b < s->n && word_byte(s->p[b]))
            b++;
    }
    *start = a;
    *end = b;
}

/* s with [a, b) replaced by rep (of n bytes). */
static void splice(buf *s, size_t a, size_t b, const char *rep, size_t n)
{
    buf t = {0};
    put(&t, s->p, a);
    put(&t, rep, n);
    put(&t, s->p + b, s->n - b);
    free(s->p);
    *s = t;
}

/* What a mutation may put in: words of the language, sizes at and past
 * every limit, punctuation and bytes that are no token at all. */
static const char *const vocab[] = {
    "network", "input", "loss", "train", "conv", "local", "maxpool", "avgpool", "dense",
    "flatten", "relu", "sigmoid", "tanh", "filters", "units", "kernel", "size", "stride",
    "dilation", "padding", "activation", "bias", "symmetric", "connect", "same", "valid",
    "zero(1)", "reflect(3)", "circular([1, 2])", "replicate(0)", "true", "false", "mse",
    "softmax_cross_entropy", "batch", "lr", "seed", "0", "1", "-1", "2", "7", "0.5", "1e-3",
    "2147483647", "2147483648", "4294967296", "9223372036854775807",
    "9223372036854775808", "99999999999999999999999", "1e999", "1e-999", "65536", "[]",
    "[1, 2, 3, 4]", "[[0], []]", "(", ")", "[", "]", "{", "}", ",", ";", "=", "-", "/*",
    "//", "#", "\"", "\t", "\r", "\x01", "\xff", "\xc3\xa9", "\xe2\x82", "\0",
};
enum { NVOCAB = sizeof vocab / sizeof *vocab };

static void put_word(buf *b, const char *w)
{
    put(b, w, *w ? strlen(w) : 1);   /* "\0" puts one NUL byte */
}

/* ---- the mutations ---- */
static void delete_token(buf *s)
{
    size_t a, b;
    pick_token(s, &a, &b);
    splice(s, a, b, "", 0);
}

static void duplicate_token(buf *s)
{
    size_t a, b;
    pick_token(s, &a, &b);
    buf t = {0};
    put(&t, s->p + a, b - a);
    put_str(&t, " ");
    splice(s, a, a, t.p ? t.p : "", t.n);
    free(t.p);
}

/* Two tokens trade places (the later one first, so offsets stay valid). */
static void swap_tokens(buf *s)
{
    size_t a1, b1, a2, b2;
    pick_token(s, &a1, &b1);
    pick_token(s, &a2, &b2);
    if (a2 < a1) {
        size_t t = a1; a1 = a2; a2 = t;
        t = b1; b1 = b2; b2 = t;
    }
    if (b1 > a2)
        return;                       /* the same token, or overlapping */
    buf x = {0}, y = {0};
    put(&x, s->p + a1, b1 - a1);
    put(&y, s->p + a2, b2 - a2);
    splice(s, a2, b2, x.p ? x.p : "", x.n);
    splice(s, a1, b1, y.p ? y.p : "", y.n);
    free(x.p);
    free(y.p);
}

static void replace_token(buf *s)
{
    size_t a, b;
    pick_token(s, &a, &b);
    buf w = {0};
    put_word(&w, vocab[below(NVOCAB)]);
    splice(s, a, b, w.p, w.n);
    free(w.p);
}

/* A number of the file becomes one at or past a limit. */
static void huge_number(buf *s)
{
    static const char *const big[] = {"2147483648", "4294967296", "9223372036854775807",
                                      "9223372036854775808", "1000000000000000000000000",
                                      "100000", "46341", "0", "1e308", "1e400"};
    for (int tries = 0; tries < 20; tries++) {
        size_t a, b;
        pick_token(s, &a, &b);
        if (a < s->n && s->p[a] >= '0' && s->p[a] <= '9') {
            const char *w = big[below(sizeof big / sizeof *big)];
            splice(s, a, b, w, strlen(w));
            return;
        }
    }
}

/* A number becomes another small one: mostly still a valid network, so
 * the shape checks and the emitter see new sizes. */
static void small_number(buf *s)
{
    for (int tries = 0; tries < 20; tries++) {
        size_t a, b;
        pick_token(s, &a, &b);
        if (a < s->n && s->p[a] >= '0' && s->p[a] <= '9') {
            char w[8];
            int n = snprintf(w, sizeof w, "%d", (int)below(12));
            splice(s, a, b, w, (size_t)n);
            return;
        }
    }
}

/* A name becomes another word of the language that could stand there. */
static void other_word(buf *s)
{
    static const char *const words[] = {"relu", "tanh", "sigmoid", "none", "same", "valid",
                                        "true", "false", "conv", "local", "maxpool",
                                        "avgpool", "dense", "flatten", "mse"};
    for (int tries = 0; tries < 20; tries++) {
        size_t a, b;
        pick_token(s, &a, &b);
        if (a < s->n && ((s->p[a] >= 'a' && s->p[a] <= 'z') || s->p[a] == '_')) {
            const char *w = words[below(sizeof words / sizeof *words)];
            splice(s, a, b, w, strlen(w));
            return;
        }
    }
}

static void insert_bytes(buf *s)
{
    char r[8];
    size_t n = 1 + below(sizeof r);
    for (size_t i = 0; i < n; i++)
        r[i] = (char)rnd();
    size_t at = below(s->n + 1);
    splice(s, at, at, r, n);
}

static void delete_bytes(buf *s)
{
    size_t a = below(s->n), b = a + 1 + below(16);
    splice(s, a, b < s->n ? b : s->n, "", 0);
}

static void flip_bit(buf *s)
{
    if (s->n)
        s->p[below(s->n)] ^= (char)(1u << below(8));
}

static void truncate_text(buf *s)
{
    s->n = below(s->n);
    s->p[s->n] = 0;
}

static void repeat_line(buf *s)
{
    size_t a = below(s->n);
    while (a > 0 && s->p[a - 1] != '\n')
        a--;
    size_t b = a;
    while (b < s->n && s->p[b] != '\n')
        b++;
    buf t = {0};
    put(&t, s->p + a, b - a);
    put_str(&t, "\n");
    splice(s, a, a, t.p, t.n);
    free(t.p);
}

typedef void (*mutation)(buf *);
static const mutation mutations[] = {
    delete_token, duplicate_token, swap_tokens, replace_token, replace_token, huge_number,
    small_number, small_number, small_number, other_word, other_word, insert_bytes,
    delete_bytes, flip_bit, truncate_text, repeat_line,
};
enum { NMUT = sizeof mutations / sizeof *mutations };

/* One, two or three mutations of src (one half of the time). */
static void mutate(const buf *src, buf *m)
{
    m->n = 0;
    put(m, src->p ? src->p : "", src->n);
    int k = below(2) ? 1 : 2 + (int)below(2);
    for (int i = 0; i < k; i++)
        mutations[below(NMUT)](m);
}

/* ---- running cnnc ---- */
static void slurp_first_line(const char *path, run *r)
{
    FILE *f = fopen(path, "rb");
    r->errlen = 0;
    r->err[0] = 0;
    if (!f)
        return;
    if (fgets(r->err, sizeof r->err, f))
        r->err[strcspn(r->err, "\n")] = 0;
    fseek(f, 0, SEEK_END);
    r->errlen = (size_t)ftell(f);
    fclose(f);
}

static size_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

/* cnnc ARGS with stdout and stderr to files, a 10 s alarm against hangs. */
static run run_cnnc(ctx *c, char **argv)
{
    run r = {0};
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(c->out, "wb", stdout) || !freopen(c->errf, "wb", stderr))
            _exit(120);
        alarm(10);
        if (chdir(c->dir) != 0)
            _exit(122);
        execv(c->cnnc, argv);
        _exit(121);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) < 0) {
        perror("mutate: cannot run cnnc");
        exit(2);
    }
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    slurp_first_line(c->errf, &r);
    r.outlen = file_size(c->out);
    return r;
}

/* Does `NAME:LINE:COL: error: ` (or `NAME: error: `) start the line, with
 * LINE and COL inside text? */
static int good_diagnostic(const char *line, const char *name, const buf *text)
{
    size_t n = strlen(name);
    if (strncmp(line, name, n) != 0 || line[n] != ':')
        return 0;
    if (strncmp(line + n, ": error: ", 9) == 0)
        return 1;
    int l, col, used = 0;
    if (sscanf(line + n, ":%d:%d: error: %n", &l, &col, &used) != 2 || used == 0)
        return 0;
    size_t i = 0;
    for (int k = 1; k < l; k++) {
        const char *nl = memchr(text->p + i, '\n', text->n - i);
        if (!nl)
            return 0;
        i = (size_t)(nl - text->p) + 1;
    }
    const char *nl = memchr(text->p + i, '\n', text->n - i);
    size_t len = nl ? (size_t)(nl - text->p) - i : text->n - i;
    return l >= 1 && col >= 1 && (size_t)col <= len + 1;
}

/* What is wrong with one run's result, or NULL. */
static const char *judge(const run *r, const buf *text)
{
    if (r->status < 0)
        return "killed by a signal (or hung for 10 s)";
    if (r->status != 0 && r->status != 1)
        return "exit status other than 0 or 1";
    if (r->outlen)
        return "printed on stdout";
    if (r->status == 0 && r->errlen)
        return "status 0 but printed on stderr";
    if (r->status == 1 && !good_diagnostic(r->err, "m.net", text))
        return "status 1 without a FILE:LINE:COL diagnostic inside the file";
    return NULL;
}

/* Any file in dir but the mutant, the captured streams, kept failures
 * and (when -o succeeded) m.c and m.h? */
static int stray_file(const ctx *c, int status)
{
    DIR *d = opendir(c->dir);
    struct dirent *e;
    int stray = 0;
    while (d && (e = readdir(d)) && !stray) {
        const char *n = e->d_name;
        stray = strcmp(n, ".") && strcmp(n, "..") && strcmp(n, "m.net") &&
                strcmp(n, "stdout") && strcmp(n, "stderr") && strncmp(n, "fail-", 5) &&
                !(status == 0 && (!strcmp(n, "m.c") || !strcmp(n, "m.h")));
    }
    if (d)
        closedir(d);
    return stray;
}

/* m.c and m.h exist exactly after a successful -o, and nothing else. */
static const char *judge_outputs(ctx *c, int status)
{
    if (stray_file(c, status))
        return status == 0 ? "a temporary file was left behind"
                           : "-o failed but left a file behind";
    if (status == 0 && !(file_size(c->c) > 0 && file_size(c->h) > 0))
        return "-o succeeded but m.c or m.h is missing or empty";
    return NULL;
}

static void report(ctx *c, const buf *m, const char *file, int index, const char *what,
                   const run *r)
{
    char keep[4200];
    snprintf(keep, sizeof keep, "%s/fail-%d.net", c->dir, c->failures);
    FILE *f = fopen(keep, "wb");
    if (f) {
        fwrite(m->p, 1, m->n, f);
        fclose(f);
    }
    printf("FAIL %s mutant %d: %s (status %d: %s); kept as %s\n", file, index, what,
           r->status, r->err, keep);
    c->failures++;
}

/* Runs one mutant through --check and -o. */
static void try_mutant(ctx *c, const buf *m, const char *file, int index)
{
    FILE *f = fopen(c->net, "wb");
    if (!f || fwrite(m->p, 1, m->n, f) != m->n || fclose(f) != 0) {
        perror(c->net);
        exit(2);
    }
    char *check[] = {(char *)c->cnnc, "--check", "m.net", NULL};
    char *emit[] = {(char *)c->cnnc, "m.net", "-o", "m.c", NULL};
    run r1 = run_cnnc(c, check);
    const char *bad = judge(&r1, m);
    run r2 = bad ? r1 : run_cnnc(c, emit);
    if (!bad && !(bad = judge(&r2, m)) && r1.status != r2.status)
        bad = "--check and -o disagree";
    if (!bad)
        bad = judge_outputs(c, r2.status);
    remove(c->c);
    remove(c->h);
    c->total++;
    r1.status == 0 ? c->accepted++ : c->rejected++;
    if (bad)
        report(c, m, file, index, bad, &r2);
}

/* ---- main ---- */
static int read_text(const char *path, buf *b)
{
    FILE *f = fopen(path, "rb");
    char chunk[4096];
    size_t n;
    b->n = 0;
    if (!f)
        return -1;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        put(b, chunk, n);
    fclose(f);
    put(b, "", 0);
    return 0;
}

static void setup(ctx *c, const char *cnnc, const char *dir)
{
    static char exe[4096];
    if (!realpath(cnnc, exe) || access(exe, X_OK) != 0) {
        fprintf(stderr, "mutate: %s is not an executable\n", cnnc);
        exit(2);
    }
    c->cnnc = exe;
    c->dir = dir;
    snprintf(c->net, sizeof c->net, "%s/m.net", dir);
    snprintf(c->c, sizeof c->c, "%s/m.c", dir);
    snprintf(c->h, sizeof c->h, "%s/m.h", dir);
    snprintf(c->out, sizeof c->out, "%s/stdout", dir);
    snprintf(c->errf, sizeof c->errf, "%s/stderr", dir);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: mutate CNNC DIR PER_FILE FILE.net... [PER_FILE FILE.net...]\n");
        return 2;
    }
    ctx c = {0};
    setup(&c, argv[1], argv[2]);
    int per_file = 0, nfiles = 0;
    buf src = {0}, m = {0};
    for (int i = 3; i < argc; i++) {
        if (strspn(argv[i], "0123456789") == strlen(argv[i])) {
            per_file = atoi(argv[i]);       /* the count for the files after it */
            continue;
        }
        nfiles++;
        if (read_text(argv[i], &src) < 0) {
            perror(argv[i]);
            return 2;
        }
        rng_state = (uint64_t)i * 0x100000001b3u;
        for (int k = 0; k < per_file; k++) {
            mutate(&src, &m);
            try_mutant(&c, &m, argv[i], k);
        }
    }
    printf("mutate: %d mutants of %d files: %d accepted, %d rejected, %d failed\n", c.total,
           nfiles, c.accepted, c.rejected, c.failures);
    free(src.p);
    free(m.p);
    return c.failures ? 1 : 0;
}
