/* cnnrt_mpi.c - cnnrt_mpi_main(): the generated program as an MPI program.
 *
 * `cnnc --mpi NET.net -o NET` compiles NET.c with -DCNNC_MPI, whose main()
 * then calls cnnrt_mpi_main, and links build/libcnnrt_mpi.a (this file,
 * built with mpicc) before libcnnrt.a.  Without --mpi nothing links MPI.
 *
 * The collective operations of cnnrt_dist.h, over MPI point-to-point
 * messages on a duplicate of MPI_COMM_WORLD:
 *
 *   allreduce  the vector is cut into P near-equal chunks; chunk c belongs
 *              to rank c.  Every rank sends chunk c (with its weight and
 *              sums) to rank c, which adds the P contributions in rank
 *              order in double and rounds once; then every owner sends its
 *              finished chunk to all.  So the result is the same bits on
 *              every rank, whatever algorithm MPI would pick, and each rank
 *              sends 2 (P-1)/P of the vector per call, as a ring would.
 *   bcast      rank 0 sends to each rank.
 *   agree      each rank sends rank 0 a failure flag and its message; rank
 *              0 answers with the verdict.
 *
 * Every wait polls with a deadline, CNNRT_MPI_TIMEOUT seconds (default
 * 600): a rank that stops answering makes the waiting rank print what it
 * was doing and whom it waited for, then MPI_Abort the job, rather than
 * hang.  A rank that dies is noticed by mpirun, which stops the others
 * with SIGTERM; rank 0 then says so, and what it was doing, before it
 * goes.  Errors MPI reports (a peer's connection lost) end the same way.
 *
 * Built with -DCNNRT_MPI_MUTANT=N only for tests/mpi.sh, which checks that
 * its tests catch these broken exchanges: 1 drops rank 1's gradient,
 * 2 averages without the slice weights, 3 exchanges nothing.
 */
#include <mpi.h>

#include "cnnrt_dist.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef CNNRT_MPI_MUTANT
#define CNNRT_MPI_MUTANT 0
#endif

enum { TAG_HEADER = 7101, TAG_SCATTER, TAG_GATHER, TAG_BCAST, TAG_AGREE };

typedef struct mpi_state {
    MPI_Comm comm;
    double timeout;              /* seconds one rank waits for another */
    unsigned char *buf;          /* scratch for packed messages */
    size_t cap;
    MPI_Request *req;            /* 4 * size */
    int *peer;                   /* the rank each request talks to */
    char *mark;                  /* size flags, for pending_ranks */
} mpi_state;

/* Read by the signal handler: plain bytes, written only outside it. */
static char g_prog[64], g_who[160], g_doing[160], g_waiting[160];
static int g_rank;

/* --------------------------------------------------------------- failing */
/* "PROG: rank R: MESSAGE" on stderr, then the whole job ends. */
static void die(cnnrt_dist *d, const char *msg)
{
    mpi_state *s = d->impl;
    fflush(stdout);
    (void)d;
    fprintf(stderr, "%s: %s\n", g_who, msg);
    fflush(stderr);
    MPI_Abort(s->comm, 1);
    _exit(1);
}

/* The ranks of the requests still pending, as "1, 3". */
static void pending_ranks(mpi_state *s, int size, int n, char *out, size_t len)
{
    size_t used = 0;
    memset(s->mark, 0, (size_t)size);
    for (int i = 0; i < n; i++) {
        int done = 1;
        if (s->req[i] != MPI_REQUEST_NULL)
            MPI_Request_get_status(s->req[i], &done, MPI_STATUS_IGNORE);
        s->mark[s->peer[i]] |= !done;
    }
    out[0] = '\0';
    for (int q = 0; q < size && used < len; q++)
        if (s->mark[q])
            used += (size_t)snprintf(out + used, len - used, "%s%d", used ? ", " : "", q);
}

/* After the timeout: ends the job naming the ranks not heard from, unless
 * none is pending (this rank itself was stopped and has just resumed). */
static void timed_out(cnnrt_dist *d, int n, const char *what)
{
    mpi_state *s = d->impl;
    char who[96], msg[512];
    pending_ranks(s, d->size, n, who, sizeof who);
    if (!who[0])
        return;
    snprintf(msg, sizeof msg, "no message from rank %s for %.0f s during %s (%s): it died, hangs "
             "or is far slower; stopping the job (CNNRT_MPI_TIMEOUT sets the limit)",
             who, s->timeout, g_doing[0] ? g_doing : "start-up", what);
    die(d, msg);
}

static void comm_failed(cnnrt_dist *d, int code, const char *what)
{
    char mpi[MPI_MAX_ERROR_STRING], msg[MPI_MAX_ERROR_STRING + 256];
    int len = 0;
    MPI_Error_string(code, mpi, &len);
    snprintf(msg, sizeof msg, "MPI failed during %s (%s): %s; another rank has probably died",
             g_doing[0] ? g_doing : "start-up", what, mpi);
    die(d, msg);
}

/* Completes the first n requests, or ends the job: after the timeout or
 * when MPI reports an error.  Spins for the first millisecond (an
 * exchange between balanced ranks is short), then naps 20 us between
 * polls so that a long wait (an unbalanced step, rank 0 saving) does not
 * burn a core that another process could use. */
static void wait_all(cnnrt_dist *d, int n, const char *what)
{
    mpi_state *s = d->impl;
    double t0 = MPI_Wtime(), now = t0;
    int told = 0;
    for (;;) {
        int done = 0, rc = MPI_Testall(n, s->req, &done, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS)
            comm_failed(d, rc, what);
        if (done)
            break;
        now = MPI_Wtime();
        if (now - t0 < 1e-3)
            continue;
        if (!told) {        /* for the message should mpirun stop the job now */
            char who[96];
            pending_ranks(s, d->size, n, who, sizeof who);
            snprintf(g_waiting, sizeof g_waiting, "waiting for rank %s (%s)", who, what);
            told = 1;
        }
        if (now - t0 > s->timeout)
            timed_out(d, n, what);
        nanosleep(&(struct timespec){0, 20000}, NULL);
    }
    g_waiting[0] = '\0';
}

static void check(cnnrt_dist *d, int rc, const char *what)
{
    if (rc != MPI_SUCCESS)
        comm_failed(d, rc, what);
}

/* ------------------------------------------------------------- allreduce */
/* Chunk c of a vector of n floats: [*lo, *lo + *cnt). */
static void chunk(size_t n, int p, int c, size_t *lo, size_t *cnt)
{
    int64_t first, count;
    cnnrt_dist_slice((int64_t)n, p, c, &first, &count);
    *lo = (size_t)first;
    *cnt = (size_t)count;
}

static unsigned char *scratch(cnnrt_dist *d, size_t bytes)
{
    mpi_state *s = d->impl;
    if (bytes > s->cap) {
        free(s->buf);
        s->buf = malloc(bytes);
        s->cap = s->buf ? bytes : 0;
        if (!s->buf)
            die(d, "out of memory for the gradient exchange");
    }
    return s->buf;
}

/* One exchange's buffers in the scratch block: every rank's header
 * (weight, sums) and every rank's part of this rank's chunk, in rank order
 * (this rank's own part slot unused). */
typedef struct exchange {
    double *hdr;
    float *part;
    size_t n, lo, cnt;
    int nh;                      /* doubles per header */
} exchange;

static void post(cnnrt_dist *d, int rc, int peer, int *k, const char *what)
{
    mpi_state *s = d->impl;
    check(d, rc, what);
    s->peer[(*k)++] = peer;
}

/* Phase 1: rank q gets this rank's header and its part of chunk q. */
static void scatter(cnnrt_dist *d, const float *v, exchange *x)
{
    mpi_state *s = d->impl;
    const double *mine = x->hdr + (size_t)d->rank * (size_t)x->nh;
    int k = 0;
    for (int q = 0; q < d->size; q++) {
        if (q == d->rank)
            continue;
        post(d, MPI_Irecv(x->hdr + (size_t)q * (size_t)x->nh, x->nh, MPI_DOUBLE, q, TAG_HEADER,
                          s->comm, &s->req[k]), q, &k, "posting a receive");
        if (x->cnt)
            post(d, MPI_Irecv(x->part + (size_t)q * x->cnt, (int)x->cnt, MPI_FLOAT, q,
                              TAG_SCATTER, s->comm, &s->req[k]), q, &k, "posting a receive");
    }
    for (int q = 0; q < d->size; q++) {
        size_t lo, cnt;
        if (q == d->rank)
            continue;
        chunk(x->n, d->size, q, &lo, &cnt);
        post(d, MPI_Isend(mine, x->nh, MPI_DOUBLE, q, TAG_HEADER, s->comm, &s->req[k]), q, &k,
             "sending gradients");
        if (cnt)
            post(d, MPI_Isend(v + lo, (int)cnt, MPI_FLOAT, q, TAG_SCATTER, s->comm, &s->req[k]),
                 q, &k, "sending gradients");
        d->comm_bytes += (double)((size_t)x->nh * sizeof(double) + cnt * sizeof(float));
    }
    wait_all(d, k, "the gradient exchange");
}

/* Weight of rank q's contribution (as sent), mutated for the tests. */
static double weight_of(const cnnrt_dist *d, int q, double w)
{
    if (CNNRT_MPI_MUTANT == 1 && q == 1)
        return 0;
    if (CNNRT_MPI_MUTANT == 2 && w != 0)
        return 1.0 / d->size;
    return w;
}

/* This rank's chunk: the contributions added in rank order, in double,
 * rounded once; the sums likewise (every rank has every header).  Blocks
 * of ACC elements keep the double sums in L1 and the loops vectorised. */
enum { ACC = 512 };
static void reduce(cnnrt_dist *d, float *v, exchange *x, double *sums, int nsums)
{
    double acc[ACC];
    for (size_t at = 0; at < x->cnt; at += ACC) {
        size_t len = x->cnt - at < ACC ? x->cnt - at : ACC;
        memset(acc, 0, sizeof acc);
        for (int q = 0; q < d->size; q++) {
            double w = weight_of(d, q, x->hdr[(size_t)q * (size_t)x->nh]);
            const float *part = (q == d->rank ? v + x->lo : x->part + (size_t)q * x->cnt) + at;
            if (w != 0)
                for (size_t i = 0; i < len; i++)
                    acc[i] += w * (double)part[i];
        }
        for (size_t i = 0; i < len; i++)
            v[x->lo + at + i] = (float)acc[i];
    }
    for (int j = 0; j < nsums; j++) {
        double total = 0;
        for (int q = 0; q < d->size; q++)
            total += x->hdr[(size_t)q * (size_t)x->nh + 1 + (size_t)j];
        sums[j] = total;
    }
}

/* Phase 2: every owner sends its finished chunk to every rank. */
static void gather(cnnrt_dist *d, float *v, const exchange *x)
{
    mpi_state *s = d->impl;
    size_t qlo, qcnt;
    int k = 0;
    for (int q = 0; q < d->size; q++) {
        chunk(x->n, d->size, q, &qlo, &qcnt);
        if (q != d->rank && qcnt)
            post(d, MPI_Irecv(v + qlo, (int)qcnt, MPI_FLOAT, q, TAG_GATHER, s->comm, &s->req[k]),
                 q, &k, "posting a receive");
    }
    for (int q = 0; q < d->size && x->cnt; q++) {
        if (q == d->rank)
            continue;
        post(d, MPI_Isend(v + x->lo, (int)x->cnt, MPI_FLOAT, q, TAG_GATHER, s->comm, &s->req[k]),
             q, &k, "sending summed gradients");
        d->comm_bytes += (double)(x->cnt * sizeof(float));
    }
    wait_all(d, k, "the gradient exchange");
}

static void mpi_allreduce(cnnrt_dist *d, float *v, size_t n, double w, double *sums, int nsums)
{
    double t0 = MPI_Wtime();
    exchange x;
    unsigned char *buf;
    if (d->size == 1 || CNNRT_MPI_MUTANT == 3) {
        for (size_t i = 0; i < n; i++)
            v[i] = (float)(w * (double)v[i]);
        return;
    }
    x.n = n;
    x.nh = 1 + nsums;
    chunk(n, d->size, d->rank, &x.lo, &x.cnt);
    buf = scratch(d, (size_t)d->size * (size_t)x.nh * sizeof(double) +
                         (size_t)d->size * x.cnt * sizeof(float));
    x.hdr = (double *)(void *)buf;
    x.part = (float *)(void *)(x.hdr + (size_t)d->size * (size_t)x.nh);
    x.hdr[(size_t)d->rank * (size_t)x.nh] = w;
    if (nsums)
        memcpy(x.hdr + (size_t)d->rank * (size_t)x.nh + 1, sums, (size_t)nsums * sizeof *sums);
    scatter(d, v, &x);
    reduce(d, v, &x, sums, nsums);
    gather(d, v, &x);
    d->comm_calls++;
    d->comm_seconds += MPI_Wtime() - t0;
}

/* ------------------------------------------------------- bcast and agree */
static void mpi_bcast(cnnrt_dist *d, void *buf, size_t bytes)
{
    mpi_state *s = d->impl;
    const size_t piece = (size_t)1 << 30;   /* MPI counts are int */
    size_t off = 0;
    do {
        int len = (int)(bytes - off < piece ? bytes - off : piece), k = 0;
        for (int q = 1; q < d->size && d->rank == 0; q++) {
            check(d, MPI_Isend((char *)buf + off, len, MPI_BYTE, q, TAG_BCAST, s->comm,
                               &s->req[k]), "sending to every rank");
            s->peer[k++] = q;
        }
        if (d->rank != 0) {
            check(d, MPI_Irecv((char *)buf + off, len, MPI_BYTE, 0, TAG_BCAST, s->comm,
                               &s->req[k]), "posting a receive");
            s->peer[k++] = 0;
        }
        wait_all(d, k, d->rank == 0 ? "sending to every rank" : "receiving from rank 0");
        off += (size_t)len;
    } while (off < bytes);
}

typedef struct verdict_msg {
    int failed;
    char host[64];
    char msg[CNNRT_ERR_MAX];
} verdict_msg;

/* Rank 0's message from every rank's: the message alone if every rank
 * failed alike, else each failing rank named with its machine. */
static void combine(const cnnrt_dist *d, const verdict_msg *all, char *err, size_t errlen)
{
    int nfailed = 0, alike = 1, first = -1;
    size_t used = 0;
    for (int q = 0; q < d->size; q++)
        if (all[q].failed) {
            nfailed++;
            if (first < 0)
                first = q;
            else if (strcmp(all[q].msg, all[first].msg) != 0)
                alike = 0;
        }
    if (nfailed == d->size && alike) {
        snprintf(err, errlen, "%s", all[first].msg);
        return;
    }
    err[0] = '\0';
    for (int q = 0; q < d->size && used < errlen; q++)
        if (all[q].failed)
            used += (size_t)snprintf(err + used, errlen - used, "%srank %d of %d (on %s): %s",
                                     used ? "; " : "", q, d->size, all[q].host, all[q].msg);
}

static int mpi_agree(cnnrt_dist *d, int failed, char *err, size_t errlen)
{
    mpi_state *s = d->impl;
    verdict_msg *all = (verdict_msg *)(void *)scratch(d, (size_t)d->size * sizeof *all);
    int verdict = failed, k = 0;
    memset(&all[d->rank], 0, sizeof all[d->rank]);
    all[d->rank].failed = failed;
    snprintf(all[d->rank].host, sizeof all[d->rank].host, "%s", d->host);
    snprintf(all[d->rank].msg, sizeof all[d->rank].msg, "%s", failed ? err : "");
    for (int q = 1; q < d->size; q++) {
        if (d->rank == 0)
            check(d, MPI_Irecv(&all[q], (int)sizeof *all, MPI_BYTE, q, TAG_AGREE, s->comm,
                               &s->req[k]), "posting a receive");
        else if (q == d->rank)
            check(d, MPI_Isend(&all[q], (int)sizeof *all, MPI_BYTE, 0, TAG_AGREE, s->comm,
                               &s->req[k]), "reporting to rank 0");
        else
            continue;
        s->peer[k++] = d->rank == 0 ? q : 0;
    }
    wait_all(d, k, d->rank == 0 ? "hearing from every rank" : "reporting to rank 0");
    for (int q = 0; q < d->size && d->rank == 0; q++)
        verdict |= all[q].failed;
    if (verdict && d->rank == 0)
        combine(d, all, err, errlen);
    mpi_bcast(d, &verdict, sizeof verdict);
    return verdict ? -1 : 0;
}

static void mpi_doing(cnnrt_dist *d, const char *what)
{
    (void)d;
    snprintf(g_doing, sizeof g_doing, "%s", what);
}

/* ------------------------------------------------------------- the start */
/* Writes the pieces to stderr with write() alone (async-signal-safe). */
static void say(const char *const *pieces, int n)
{
    for (int i = 0; i < n; i++)
        if (write(2, pieces[i], strlen(pieces[i])) < 0)
            return;
}

/* mpirun stops the job with SIGTERM when a rank dies: rank 0 says what it
 * was doing, then goes as the signal says. */
static void on_signal(int sig)
{
    if (g_rank == 0) {
        const char *p[] = {g_who, ": stopped by ", sig == SIGINT ? "SIGINT" : "SIGTERM",
                           " during ", g_doing[0] ? g_doing : "start-up",
                           g_waiting[0] ? ", " : "", g_waiting,
                           ": mpirun ends the job when a rank dies or fails (its message says "
                           "which)\n"};
        say(p, (int)(sizeof p / sizeof *p));
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static int read_timeout(double *t)
{
    const char *e = getenv("CNNRT_MPI_TIMEOUT");
    char *end;
    *t = 600;
    if (!e || !*e)
        return 0;
    errno = 0;
    *t = strtod(e, &end);
    return *end || errno || !(*t > 0) ? -1 : 0;
}

static int setup(cnnrt_dist *d, mpi_state *s, const char *argv0)
{
    MPI_Comm local;
    int len = 0;
    char host[MPI_MAX_PROCESSOR_NAME];
    const char *slash = strrchr(argv0, '/');
    d->impl = s;
    d->allreduce = mpi_allreduce;
    d->bcast = mpi_bcast;
    d->agree = mpi_agree;
    d->doing = mpi_doing;
    snprintf(g_prog, sizeof g_prog, "%s", slash ? slash + 1 : argv0);
    if (MPI_Comm_dup(MPI_COMM_WORLD, &s->comm) != MPI_SUCCESS)
        return -1;
    MPI_Comm_set_errhandler(s->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(s->comm, &d->rank);
    MPI_Comm_size(s->comm, &d->size);
    MPI_Comm_split_type(s->comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local);
    MPI_Comm_size(local, &d->local_size);
    MPI_Comm_free(&local);
    MPI_Get_processor_name(host, &len);
    snprintf(d->host, sizeof d->host, "%.63s", host);
    snprintf(g_who, sizeof g_who, "%s: rank %d of %d (on %s)", g_prog, d->rank, d->size,
             d->host);
    g_rank = d->rank;
    s->req = calloc(4 * (size_t)d->size, sizeof *s->req);
    s->peer = calloc(4 * (size_t)d->size, sizeof *s->peer);
    s->mark = calloc((size_t)d->size, 1);
    return s->req && s->peer && s->mark ? 0 : -1;
}

static void teardown(mpi_state *s)
{
    free(s->buf);
    free(s->req);
    free(s->peer);
    free(s->mark);
    MPI_Comm_free(&s->comm);
    MPI_Finalize();
}

int cnnrt_mpi_main(int argc, char **argv, const cnnrt_model *m)
{
    cnnrt_dist d;
    mpi_state s;
    int provided, rc;
    memset(&d, 0, sizeof d);
    memset(&s, 0, sizeof s);
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS ||
        setup(&d, &s, argc > 0 ? argv[0] : m->name) < 0) {
        fprintf(stderr, "%s: cannot start MPI\n", argc > 0 ? argv[0] : m->name);
        return 1;
    }
    if (read_timeout(&s.timeout) < 0) {
        if (d.rank == 0)
            fprintf(stderr, "%s: CNNRT_MPI_TIMEOUT='%s': expected a number of seconds > 0\n",
                    g_prog, getenv("CNNRT_MPI_TIMEOUT"));
        teardown(&s);
        return 2;
    }
    if (d.rank != 0 && !freopen("/dev/null", "w", stdout))
        die(&d, "cannot silence standard output");
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    rc = cnnrt_main_dist(argc, argv, m, &d);
    fflush(stdout);
    teardown(&s);
    return rc;
}
