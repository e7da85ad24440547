/* emit_lanes.c - the public API of a generated model and its threads.
 *
 * A batch of n samples is cut into T contiguous slices ("lanes"), one per
 * thread: lane t takes samples [n*t/T, n*(t+1)/T).  Most layers run on a
 * lane's slice, accumulating weight gradients into the lane's own block;
 * after the backward pass the blocks are summed in lane order, each lane
 * summing an equal share of those parameters and then applying SGD to it.
 * Dense layers with many weights instead split their units across the
 * lanes, over the whole batch (emit_fastdense.c, dense_splits_units): each
 * weight gradient is then computed by one lane, straight into c->grads,
 * in the same order whatever T is, and nothing is summed.  Lanes meet at
 * barriers around such layers (lane_sync).
 *
 * On a shared machine one core is often slowed down for a while, and the
 * other then waits for it at the next barrier.  So the work that no
 * gradient sum depends on is handed out as the lanes come free: the
 * forward pass below a unit-split layer in chunks of samples (lane_chunk),
 * and the weight gradient of a unit-split layer too big to stay in cache
 * anyway in chunks of units (lane_grab), after the lane's fixed share of
 * the backward pass of the layers below, where it evens out the time the
 * lanes took.  A sample or unit is computed the same whichever lane takes
 * it.  So for a given T the result is the same bit for bit on every run;
 * different T differ only in the order the lane-split layers' gradients
 * are summed.
 *
 * Threads are started once by NAME_set_threads.  Waiting (for the next job,
 * or at a barrier) spins for up to LANE_SPIN_NS, then sleeps on a condition
 * variable: a sleeping core, on a virtual machine especially, takes far
 * longer to wake than a step's barriers are apart.  Nothing is created or
 * allocated inside a step. */
#include <string.h>
#include "emit.h"

#define MAX_LANES 64

void emit_lane_fields(emitter *e)
{
    emit(e, "/* threads: lane 0 is the caller; lanes 1.. wait for jobs */");
    emit(e, "int threads;");
    emit(e, "struct %s_lane { struct %s_ctx *c; int t; unsigned seen; pthread_t id; } lanes[%d];",
         e->prefix, e->prefix, MAX_LANES);
    emit(e, "float *lane_grads;        /* [threads - 1][params], lanes 1.. */");
    emit(e, "float *lane_slab;         /* [threads][max_batch][%lld]: unit-split dense scratch */",
         (long long)dense_lane_slab(e));
    emit(e, "double lane_loss[%d];", MAX_LANES);
    emit(e, "pthread_mutex_t mu;");
    emit(e, "pthread_cond_t wake;");
    emit(e, "atomic_uint generation;   /* bumped for every job */");
    emit(e, "atomic_uint bar_count, bar_gen; /* the barrier */");
    emit(e, "/* per unit-split dense layer j: [2j] the next unit of its deferred weight");
    emit(e, " * gradient, [2j + 1] the next chunk of samples of the layers below it */");
    emit(e, "atomic_int grab[%d];", 2 * dense_split_count(e) + 1);
    emit(e, "atomic_int sleepers;");
    emit(e, "int quit;");
    emit(e, "void (*job)(struct %s_ctx *, int);", e->prefix);
    emit(e, "const float *job_x, *job_targets;");
    emit(e, "const int32_t *job_labels;");
    emit(e, "int job_n;");
    emit(e, "const cnnrt_hparams *job_hp; /* train_step: SGD after the gradients */");
}

/* Waiting for a counter to move on from `old`: spin, then sleep. */
static void emit_lane_wait(emitter *e)
{
    const char *p = e->prefix;
    emit(e, "#define LANE_SPIN_NS 500000L");
    emit(e, "#if defined(__x86_64__) || defined(__i386__)");
    emit(e, "#define LANE_RELAX() __builtin_ia32_pause()");
    emit(e, "#else");
    emit(e, "#define LANE_RELAX() ((void)0)");
    emit(e, "#endif");
    emit(e, "#define LANE_FIRST(n, t, T) ((int)((long long)(n) * (t) / (T)))");
    emit_blank(e);
    emit(e, "static int lane_spin(atomic_uint *word, unsigned old)");
    emit(e, "{");
    emit(e, "struct timespec t0, t1;");
    emit(e, "clock_gettime(CLOCK_MONOTONIC, &t0);");
    emit(e, "for (unsigned i = 1;; i++) {");
    emit(e, "if (atomic_load_explicit(word, memory_order_acquire) != old)");
    emit(e, "    return 1;");
    emit(e, "LANE_RELAX();");
    emit(e, "if (i %% 64 == 0) {");
    emit(e, "clock_gettime(CLOCK_MONOTONIC, &t1);");
    emit(e, "if ((t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec) > LANE_SPIN_NS)");
    emit(e, "    return 0;");
    emit(e, "}");
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
    emit(e, "/* sleepers and the counters are seq_cst, so a bump either sees the");
    emit(e, " * sleeper or the sleeper sees the bump: no wake-up is lost. */");
    emit(e, "static void lane_wait(%s_ctx *c, atomic_uint *word, unsigned old)", p);
    emit(e, "{");
    emit(e, "if (lane_spin(word, old))");
    emit(e, "    return;");
    emit(e, "pthread_mutex_lock(&c->mu);");
    emit(e, "atomic_fetch_add(&c->sleepers, 1);");
    emit(e, "while (atomic_load(word) == old)");
    emit(e, "    pthread_cond_wait(&c->wake, &c->mu);");
    emit(e, "atomic_fetch_sub(&c->sleepers, 1);");
    emit(e, "pthread_mutex_unlock(&c->mu);");
    emit(e, "}");
    emit_blank(e);
    emit(e, "static void lane_bump(%s_ctx *c, atomic_uint *word)", p);
    emit(e, "{");
    emit(e, "atomic_fetch_add(word, 1);");
    emit(e, "if (atomic_load(&c->sleepers) > 0) {");
    emit(e, "pthread_mutex_lock(&c->mu);");
    emit(e, "pthread_cond_broadcast(&c->wake);");
    emit(e, "pthread_mutex_unlock(&c->mu);");
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
}

/* The barrier of T lanes; the last to arrive resets it and lets all go. */
void emit_lane_sync(emitter *e)
{
    const char *p = e->prefix;
    emit_lane_wait(e);
    emit(e, "static void lane_sync(%s_ctx *c, int T)", p);
    emit(e, "{");
    emit(e, "if (T == 1)");
    emit(e, "    return;");
    emit(e, "const unsigned gen = atomic_load_explicit(&c->bar_gen, memory_order_acquire);");
    emit(e, "if (atomic_fetch_add_explicit(&c->bar_count, 1, memory_order_acq_rel) + 1 == (unsigned)T) {");
    emit(e, "atomic_store_explicit(&c->bar_count, 0, memory_order_relaxed);");
    emit(e, "lane_bump(c, &c->bar_gen);");
    emit(e, "} else {");
    emit(e, "lane_wait(c, &c->bar_gen, gen);");
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
    if (!dense_split_count(e))
        return;
    emit(e, "/* The first of lane t's units when U units are split in blocks of B. */");
    emit(e, "static int lane_units(int U, int B, int t, int T)");
    emit(e, "{");
    emit(e, "const int u = (U + B - 1) / B * t / T * B;");
    emit(e, "return u < U ? u : U;");
    emit(e, "}");
    emit_blank(e);
    if (dense_defer_count(e)) {
        emit(e, "/* The first unit of the next chunk of C units of U that counter k hands");
        emit(e, " * out, or U when none are left. */");
        emit(e, "static int lane_grab(%s_ctx *c, int k, int U, int C)", p);
        emit(e, "{");
        emit(e, "const int u = atomic_fetch_add_explicit(&c->grab[k], C, memory_order_relaxed);");
        emit(e, "return u < U ? u : U;");
        emit(e, "}");
        emit_blank(e);
    }
    bool runs = false;
    for (int i = 0; i < e->net->nlayers; i++)
        runs |= forward_run_below(e, i);
    if (!runs)
        return;
    emit(e, "/* The next chunk [*j0, *j1) of samples [0, n) that counter g hands out,");
    emit(e, " * 0 when none are left.  Chunks shrink from n / 2T samples to 2, so the");
    emit(e, " * lanes take few of them and still run out of work together. */");
    emit(e, "static int lane_chunk(%s_ctx *c, int g, int n, int T, int *j0, int *j1)", p);
    emit(e, "{");
    emit(e, "const int k = atomic_fetch_add_explicit(&c->grab[g], 1, memory_order_relaxed);");
    emit(e, "int a = 0, b = 0;");
    emit(e, "for (int i = 0; i <= k; i++) {");
    emit(e, "if (b >= n)");
    emit(e, "    return 0;");
    emit(e, "a = b;");
    emit(e, "const int m = (n - a) / (2 * T);");
    emit(e, "b = m > 2 ? a + m : a + 2;");
    emit(e, "b = b < n ? b : n;");
    emit(e, "}");
    emit(e, "*j0 = a;");
    emit(e, "*j1 = b;");
    emit(e, "return 1;");
    emit(e, "}");
    emit_blank(e);
}

static void emit_lane_main(emitter *e)
{
    emit(e, "static void *lane_main(void *arg)");
    emit(e, "{");
    emit(e, "struct %s_lane *lane = arg;", e->prefix);
    emit(e, "%s_ctx *c = lane->c;", e->prefix);
    emit(e, "unsigned seen = lane->seen; /* the generation when it was started */");
    if (e->simd->fpenv_on)
        emit(e, "%s /* as the caller's run_step */", e->simd->fpenv_on);
    emit(e, "for (;;) {");
    emit(e, "lane_wait(c, &c->generation, seen);");
    emit(e, "seen++;");
    emit(e, "if (c->quit)");
    emit(e, "    break;");
    emit(e, "c->job(c, lane->t);");
    emit(e, "lane_sync(c, c->threads);");
    emit(e, "}");
    if (e->simd->fpenv_off)
        emit(e, "%s", e->simd->fpenv_off);
    emit(e, "return NULL;");
    emit(e, "}");
    emit_blank(e);
}

/* Runs job(c, t) for every lane t and returns when all are done. */
static void emit_run_lanes(emitter *e)
{
    emit(e, "static void run_lanes(%s_ctx *c, void (*job)(%s_ctx *, int))", e->prefix, e->prefix);
    emit(e, "{");
    emit(e, "if (c->threads == 1) {");
    emit(e, "job(c, 0);");
    emit(e, "return;");
    emit(e, "}");
    emit(e, "c->job = job;");
    if (dense_split_count(e)) { /* the lanes see this after the bump */
        emit(e, "for (int k = 0; k < %d; k++)", 2 * dense_split_count(e));
        emit(e, "    atomic_store_explicit(&c->grab[k], 0, memory_order_relaxed);");
    }
    emit(e, "lane_bump(c, &c->generation);");
    emit(e, "job(c, 0);");
    emit(e, "lane_sync(c, c->threads);");
    emit(e, "}");
    emit_blank(e);
}

static void emit_stop_lanes(emitter *e)
{
    emit(e, "static void stop_lanes(%s_ctx *c)", e->prefix);
    emit(e, "{");
    emit(e, "if (c->threads > 1) {");
    emit(e, "c->quit = 1;");
    emit(e, "lane_bump(c, &c->generation);");
    emit(e, "for (int t = 1; t < c->threads; t++)");
    emit(e, "    pthread_join(c->lanes[t].id, NULL);");
    emit(e, "}");
    emit(e, "c->quit = 0;");
    emit(e, "c->threads = 1;");
    emit(e, "free(c->lane_grads);");
    emit(e, "c->lane_grads = NULL;");
    emit(e, "c->lane_slab = NULL;");
    emit(e, "}");
    emit_blank(e);
}

/* Starts threads - 1 helper threads (fewer if the system refuses). */
static void emit_set_threads(emitter *e)
{
    const char *p = e->prefix;
    long long pc = (long long)((e->net->param_count + 15) / 16 * 16);
    long long slab = (long long)dense_lane_slab(e);
    emit(e, "void %s_set_threads(%s_ctx *c, int threads)", p, p);
    emit(e, "{");
    emit(e, "threads = threads < 1 ? 1 : threads > %d ? %d : threads;", MAX_LANES, MAX_LANES);
    emit(e, "if (threads == c->threads)");
    emit(e, "    return;");
    emit(e, "stop_lanes(c);");
    emit(e, "if (threads == 1)");
    emit(e, "    return;");
    emit(e, "const size_t grads = (size_t)%lld * (size_t)(threads - 1);", pc);
    emit(e, "const size_t slab = (size_t)%lld * (size_t)c->max_batch * (size_t)threads;", slab);
    emit(e, "c->lane_grads = aligned_alloc(64, sizeof(float) * (grads + slab + 16));");
    emit(e, "if (!c->lane_grads)");
    emit(e, "    return;");
    emit(e, "c->lane_slab = c->lane_grads + grads;");
    emit(e, "for (int t = 1; t < threads; t++) {");
    emit(e, "c->lanes[t].c = c;");
    emit(e, "c->lanes[t].t = t;");
    emit(e, "c->lanes[t].seen = atomic_load(&c->generation);");
    emit(e, "c->threads = t + 1; /* before the thread reads it */");
    emit(e, "if (pthread_create(&c->lanes[t].id, NULL, lane_main, &c->lanes[t]) != 0) {");
    emit(e, "c->threads = t;");
    emit(e, "break;");
    emit(e, "}");
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
}

static void emit_lifecycle(emitter *e)
{
    const char *p = e->prefix;
    emit(e, "size_t %s_workspace_bytes(int max_batch)", p);
    emit(e, "{");
    emit(e, "%s_ctx probe;", p);
    emit(e, "const size_t head = (sizeof(%s_ctx) + 63) / 64 * 64;", p);
    emit(e, "const size_t nb = (size_t)(max_batch > 0 ? max_batch : 1);");
    emit(e, "return head + carve(&probe, NULL, nb) * sizeof(float);");
    emit(e, "}");
    emit_blank(e);
    emit(e, "%s_ctx *%s_create(int max_batch)", p, p);
    emit(e, "{");
    emit(e, "if (max_batch < 1)");
    emit(e, "    return NULL;");
    emit(e, "const size_t head = (sizeof(%s_ctx) + 63) / 64 * 64;", p);
    emit(e, "const size_t bytes = %s_workspace_bytes(max_batch);", p);
    /* calloc, not aligned_alloc and memset: a large block comes zeroed
     * from mmap, so pages no call touches (the scratch of samples that do
     * not start a lane) are never resident: 207 -> 103 MB for
     * cifar10_wide at batch 64 */
    emit(e, "void *block = calloc(1, bytes + 63);");
    emit(e, "if (!block)");
    emit(e, "    return NULL;");
    emit(e, "char *mem = (char *)block + (64 - (uintptr_t)block %% 64) %% 64;");
    emit(e, "%s_ctx *c = (%s_ctx *)(void *)mem;", p, p);
    emit(e, "c->block = block;");
    emit(e, "carve(c, (float *)(void *)(mem + head), (size_t)max_batch);");
    emit(e, "c->max_batch = max_batch;");
    emit(e, "c->fast = (%s) && !getenv(\"CNNC_REFERENCE\");", e->simd->cpu_check);
    emit(e, "c->threads = 1;");
    emit(e, "pthread_mutex_init(&c->mu, NULL);");
    emit(e, "pthread_cond_init(&c->wake, NULL);");
    emit(e, "atomic_init(&c->generation, 0u);");
    emit(e, "atomic_init(&c->bar_count, 0u);");
    emit(e, "atomic_init(&c->bar_gen, 0u);");
    emit(e, "atomic_init(&c->sleepers, 0);");
    emit(e, "return c;");
    emit(e, "}");
    emit_blank(e);
    emit(e, "void %s_destroy(%s_ctx *c)", p, p);
    emit(e, "{");
    emit(e, "if (!c)");
    emit(e, "    return;");
    emit(e, "stop_lanes(c);");
    emit(e, "pthread_mutex_destroy(&c->mu);");
    emit(e, "pthread_cond_destroy(&c->wake);");
    emit(e, "free(c->block);");
    emit(e, "}");
    emit_blank(e);
    emit(e, "float *%s_params(%s_ctx *c) { return c->params; }", p, p);
    emit(e, "float *%s_grads(%s_ctx *c) { return c->grads; }", p, p);
    emit(e, "float *%s_momentum(%s_ctx *c) { return c->momentum; }", p, p);
    emit_blank(e);
}

/* The last layer's output buffer; the input itself if every layer is a view. */
static const char *output_expr(const ir_net *net)
{
    const char *y = out_buffer(net, net->nlayers - 1);
    return strcmp(y, "x") ? y : "c->job_x";
}

/* The parameter ranges whose gradients lanes accumulate separately (all
 * but the unit-split dense layers'), adjacent ranges merged; returns how
 * many.  r has room for two per layer. */
static int summed_ranges(const emitter *e, int64_t (*r)[2])
{
    int nr = 0;
    for (int i = 0; i < e->net->nlayers; i++) {
        const ir_layer *ly = &e->net->layers[i];
        int64_t span[2][2] = {{ly->woff, ly->woff + ly->wcount}, {ly->boff, ly->boff + ly->bcount}};
        if (dense_splits_units(e, ly))
            continue;
        for (int k = 0; k < 2; k++) {
            if (span[k][1] == span[k][0])
                continue;
            if (nr && r[nr - 1][1] == span[k][0])
                r[nr - 1][1] = span[k][1];
            else {
                r[nr][0] = span[k][0];
                r[nr][1] = span[k][1];
                nr++;
            }
        }
    }
    return nr;
}

static void emit_summed_table(emitter *e)
{
    int64_t (*r)[2] = arena_alloc(emit_arena, sizeof *r * (size_t)(2 * e->net->nlayers + 1));
    int nr = summed_ranges(e, r);
    emit(e, "/* parameters whose gradients each lane accumulates, summed after a step */");
    emit(e, "#define LANE_NSUMMED %d", nr);
    emit(e, "static const size_t lane_summed[%d][2] = {", nr ? nr : 1);
    for (int k = 0; k < nr; k++)
        emit(e, "{%lld, %lld},", (long long)r[k][0], (long long)r[k][1]);
    if (!nr)
        emit(e, "{0, 0},");
    emit(e, "};");
    emit_blank(e);
}

/* Who sums and steps which parameters after the backward pass.  On the
 * fast path the unit-split dense layers have done their own, so the lanes
 * share only the summed ranges, evenly by count (lane_cut); the reference
 * path shares all parameters (its sgd covers the unit-split layers too).
 * Cuts fall on multiples of 16 floats of c->grads, so no two lanes write
 * one cache line.  Each gradient is summed over the lanes in lane order,
 * whoever sums it: the split changes no result. */
static void emit_lane_update(emitter *e)
{
    const char *p = e->prefix;
    long long pc = (long long)e->net->param_count;
    long long pc16 = (long long)((e->net->param_count + 15) / 16 * 16);
    int64_t (*r)[2] = arena_alloc(emit_arena, sizeof *r * (size_t)(2 * e->net->nlayers + 1));
    long long total = 0;
    for (int k = 0, nr = summed_ranges(e, r); k < nr; k++)
        total += (long long)(r[k][1] - r[k][0]);
    emit(e, "/* Cut t of T through the summed ranges laid end to end: a position");
    emit(e, " * there, on a multiple of 16 in c->grads. */");
    emit(e, "static size_t lane_cut(int t, int T)");
    emit(e, "{");
    emit(e, "const size_t pos = (size_t)%lld * (size_t)t / (size_t)T;", total);
    emit(e, "size_t base = 0;");
    emit(e, "for (int r = 0; r < LANE_NSUMMED; r++) {");
    emit(e, "const size_t len = lane_summed[r][1] - lane_summed[r][0];");
    emit(e, "if (pos < base + len) {");
    emit(e, "const size_t k = (lane_summed[r][0] + pos - base) / 16 * 16;");
    emit(e, "return base + (k > lane_summed[r][0] ? k - lane_summed[r][0] : 0);");
    emit(e, "}");
    emit(e, "base += len;");
    emit(e, "}");
    emit(e, "return %lld;", total);
    emit(e, "}");
    emit_blank(e);
    emit(e, "/* c->grads[k] for k in [k0, k1) plus the other lanes' copies, in lane order */");
    emit(e, "static void lane_sum(%s_ctx *c, size_t k0, size_t k1, int T)", p);
    emit(e, "{");
    emit(e, "for (int u = 1; u < T; u++) {");
    emit(e, "const float *restrict g = c->lane_grads + (size_t)(u - 1) * %lld;", pc16);
    emit(e, "for (size_t k = k0; k < k1; k++)");
    emit(e, "    c->grads[k] += g[k];");
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
    emit(e, "static void lane_update(%s_ctx *c, int t, int T)", p);
    emit(e, "{");
    emit(e, "double total = 0.0;");
    emit(e, "for (int u = 0; u < T; u++)");
    emit(e, "    total += c->lane_loss[u];");
    emit(e, "const cnnrt_hparams *hp = total == total ? c->job_hp : NULL; /* no step on a bad label */");
    emit(e, "if (!c->fast) {");
    emit(e, "const size_t p0 = t == 0 ? 0 : (size_t)%lld * t / T / 16 * 16;", pc);
    emit(e, "const size_t p1 = t == T - 1 ? %lld : (size_t)%lld * (t + 1) / T / 16 * 16;", pc, pc);
    emit(e, "for (int r = 0; r < LANE_NSUMMED; r++) {");
    emit(e, "const size_t k0 = lane_summed[r][0] > p0 ? lane_summed[r][0] : p0;");
    emit(e, "const size_t k1 = lane_summed[r][1] < p1 ? lane_summed[r][1] : p1;");
    emit(e, "if (k0 < k1)");
    emit(e, "    lane_sum(c, k0, k1, T);");
    emit(e, "}");
    emit(e, "if (hp)");
    emit(e, "    sgd(c, hp, p0, p1);");
    emit(e, "return;");
    emit(e, "}");
    emit(e, "const size_t q0 = lane_cut(t, T), q1 = lane_cut(t + 1, T);");
    emit(e, "size_t base = 0;");
    emit(e, "for (int r = 0; r < LANE_NSUMMED; r++) {");
    emit(e, "const size_t len = lane_summed[r][1] - lane_summed[r][0];");
    emit(e, "const size_t lo = q0 > base ? q0 - base : 0, hi0 = q1 > base ? q1 - base : 0;");
    emit(e, "const size_t hi = hi0 < len ? hi0 : len;");
    emit(e, "if (lo < hi) {");
    emit(e, "lane_sum(c, lane_summed[r][0] + lo, lane_summed[r][0] + hi, T);");
    emit(e, "if (hp)");
    emit(e, "    sgd_fast(c, hp, lane_summed[r][0] + lo, lane_summed[r][0] + hi);");
    emit(e, "}");
    emit(e, "base += len;");
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
}

/* The jobs a lane runs: its share of the forward pass (inference), or of
 * forward, loss, backward, the sum of the gradients and the SGD step. */
static void emit_lane_jobs(emitter *e)
{
    const char *p = e->prefix;
    long long pc16 = (long long)((e->net->param_count + 15) / 16 * 16);
    emit_summed_table(e);
    emit_lane_update(e);
    emit(e, "static void lane_forward(%s_ctx *c, int t)", p);
    emit(e, "{");
    emit(e, "forward_lane(c, c->job_x, c->job_n, t, c->threads);");
    emit(e, "}");
    emit_blank(e);
    emit(e, "static void lane_gradients(%s_ctx *c, int t)", p);
    emit(e, "{");
    emit(e, "const int T = c->threads, n = c->job_n;");
    emit(e, "const int i0 = LANE_FIRST(n, t, T), i1 = LANE_FIRST(n, t + 1, T);");
    emit(e, "float *grads = t ? c->lane_grads + (size_t)(t - 1) * %lld : c->grads;", pc16);
    emit(e, "for (int r = 0; r < LANE_NSUMMED; r++)");
    emit(e, "    memset(grads + lane_summed[r][0], 0, sizeof(float) * (lane_summed[r][1] - lane_summed[r][0]));");
    emit(e, "forward_lane(c, c->job_x, n, t, T);");
    emit(e, "c->lane_loss[t] = loss(n, i0, i1, %s, c->job_labels, c->job_targets,",
         output_expr(e->net));
    emit(e, "                        %s);", lane_slot("c->g0", e->grad_max, out_size(e->net)));
    emit(e, "backward_lane(c, grads, c->job_x, n, t, T);");
    emit(e, "lane_sync(c, T);");
    emit(e, "lane_update(c, t, T);");
    emit(e, "}");
    emit_blank(e);
}

static void emit_compute_api(emitter *e)
{
    const char *p = e->prefix;
    const ir_net *net = e->net;
    long long out = (long long)out_size(net), in = (long long)in_size(net);
    emit(e, "/* Inference on n samples, in chunks of at most max_batch. */");
    emit(e, "void %s_forward(%s_ctx *c, const float *x, int n, float *out)", p, p);
    emit(e, "{");
    if (e->simd->fpenv_on)
        emit(e, "%s", e->simd->fpenv_on);
    emit(e, "for (int i = 0; i < n; i += c->max_batch) {");
    emit(e, "c->job_x = x + (size_t)i * %lld;", in);
    emit(e, "c->job_n = n - i < c->max_batch ? n - i : c->max_batch;");
    emit(e, "if (c->job_n < c->threads) /* too few to share: waking lanes costs more */");
    emit(e, "    forward_lane(c, c->job_x, c->job_n, 0, 1);");
    emit(e, "else");
    emit(e, "    run_lanes(c, lane_forward);");
    emit(e, "memcpy(out + (size_t)i * %lld, %s, sizeof(float) * (size_t)c->job_n * %lld);", out,
         output_expr(net), out);
    emit(e, "}");
    if (e->simd->fpenv_off)
        emit(e, "%s", e->simd->fpenv_off);
    emit(e, "}");
    emit_blank(e);
    emit(e, "/* Forward and backward on one batch (n <= max_batch), then SGD with hp");
    emit(e, " * unless it is NULL: c->grads holds the gradient of the mean loss, which");
    emit(e, " * is returned (NaN on a bad label, and then no step). */");
    emit(e, "static float run_step(%s_ctx *c, const float *x, const int32_t *labels,", p);
    emit(e, "                      const float *targets, int n, const cnnrt_hparams *hp)");
    emit(e, "{");
    emit(e, "if (n < 1 || n > c->max_batch)");
    emit(e, "    return NAN;");
    emit(e, "c->job_x = x;");
    emit(e, "c->job_labels = labels;");
    emit(e, "c->job_targets = targets;");
    emit(e, "c->job_n = n;");
    emit(e, "c->job_hp = hp;");
    if (e->simd->fpenv_on) /* denormal momenta and gradients: microcode assists, 10 % of long runs */
        emit(e, "%s", e->simd->fpenv_on);
    emit(e, "run_lanes(c, lane_gradients);");
    if (e->simd->fpenv_off)
        emit(e, "%s", e->simd->fpenv_off);
    emit(e, "c->job_hp = NULL;");
    emit(e, "double total = 0.0;");
    emit(e, "for (int t = 0; t < c->threads; t++)");
    emit(e, "    total += c->lane_loss[t];");
    emit(e, "return (float)(total / ((double)n * %lld.0));", net->loss == LOSS_MSE ? out : 1LL);
    emit(e, "}");
    emit_blank(e);
    emit(e, "float %s_gradients(%s_ctx *c, const float *x, const int32_t *labels,", p, p);
    emit(e, "                  const float *targets, int n, float *out)");
    emit(e, "{");
    emit(e, "const float l = run_step(c, x, labels, targets, n, NULL);");
    emit(e, "if (out && n >= 1 && n <= c->max_batch)");
    emit(e, "    memcpy(out, %s, sizeof(float) * (size_t)n * %lld);", output_expr(net), out);
    emit(e, "return l;");
    emit(e, "}");
    emit_blank(e);
    emit(e, "float %s_train_step(%s_ctx *c, const float *x, const int32_t *labels,", p, p);
    emit(e, "                   const float *targets, int n, const cnnrt_hparams *hp)");
    emit(e, "{");
    emit(e, "return run_step(c, x, labels, targets, n, hp);");
    emit(e, "}");
    emit_blank(e);
}

void emit_lanes(emitter *e)
{
    emit_lane_main(e);
    emit_run_lanes(e);
    emit_stop_lanes(e);
    emit_set_threads(e);
    emit_lifecycle(e);
    emit_lane_jobs(e);
    emit_compute_api(e);
}
