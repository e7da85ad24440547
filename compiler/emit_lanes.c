/* emit_lanes.c - the public API of a generated model and its threads.
 *
 * A batch of n samples is cut into T contiguous slices ("lanes"), one per
 * thread: lane t takes samples [n*t/T, n*(t+1)/T).  Each lane runs the
 * forward pass, the loss and the backward pass on its slice, accumulating
 * weight gradients into its own block; the blocks are then summed in lane
 * order (each thread summing one range of parameters).  So for a given T the
 * result is the same bit for bit on every run.  Threads are started once by
 * NAME_set_threads and wait on a condition variable between jobs: nothing is
 * created or allocated inside a step. */
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
    emit(e, "double lane_loss[%d];", MAX_LANES);
    emit(e, "pthread_mutex_t mu;");
    emit(e, "pthread_cond_t go, done;");
    emit(e, "unsigned generation;");
    emit(e, "int pending, quit;");
    emit(e, "void (*job)(struct %s_ctx *, int);", e->prefix);
    emit(e, "const float *job_x, *job_targets;");
    emit(e, "const int32_t *job_labels;");
    emit(e, "int job_n;");
}

static void emit_lane_main(emitter *e)
{
    emit(e, "static void *lane_main(void *arg)");
    emit(e, "{");
    emit(e, "struct %s_lane *lane = arg;", e->prefix);
    emit(e, "%s_ctx *c = lane->c;", e->prefix);
    emit(e, "unsigned seen = lane->seen; /* the generation when it was started */");
    emit(e, "pthread_mutex_lock(&c->mu);");
    emit(e, "for (;;) {");
    emit(e, "while (c->generation == seen && !c->quit)");
    emit(e, "    pthread_cond_wait(&c->go, &c->mu);");
    emit(e, "if (c->quit)");
    emit(e, "    break;");
    emit(e, "seen = c->generation;");
    emit(e, "void (*job)(%s_ctx *, int) = c->job;", e->prefix);
    emit(e, "pthread_mutex_unlock(&c->mu);");
    emit(e, "job(c, lane->t);");
    emit(e, "pthread_mutex_lock(&c->mu);");
    emit(e, "if (--c->pending == 0)");
    emit(e, "    pthread_cond_signal(&c->done);");
    emit(e, "}");
    emit(e, "pthread_mutex_unlock(&c->mu);");
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
    emit(e, "pthread_mutex_lock(&c->mu);");
    emit(e, "c->job = job;");
    emit(e, "c->pending = c->threads - 1;");
    emit(e, "c->generation++;");
    emit(e, "pthread_cond_broadcast(&c->go);");
    emit(e, "pthread_mutex_unlock(&c->mu);");
    emit(e, "job(c, 0);");
    emit(e, "pthread_mutex_lock(&c->mu);");
    emit(e, "while (c->pending > 0)");
    emit(e, "    pthread_cond_wait(&c->done, &c->mu);");
    emit(e, "pthread_mutex_unlock(&c->mu);");
    emit(e, "}");
    emit_blank(e);
}

static void emit_stop_lanes(emitter *e)
{
    emit(e, "static void stop_lanes(%s_ctx *c)", e->prefix);
    emit(e, "{");
    emit(e, "pthread_mutex_lock(&c->mu);");
    emit(e, "c->quit = 1;");
    emit(e, "pthread_cond_broadcast(&c->go);");
    emit(e, "pthread_mutex_unlock(&c->mu);");
    emit(e, "for (int t = 1; t < c->threads; t++)");
    emit(e, "    pthread_join(c->lanes[t].id, NULL);");
    emit(e, "c->quit = 0;");
    emit(e, "c->threads = 1;");
    emit(e, "free(c->lane_grads);");
    emit(e, "c->lane_grads = NULL;");
    emit(e, "}");
    emit_blank(e);
}

/* Starts threads - 1 helper threads (fewer if the system refuses). */
static void emit_set_threads(emitter *e)
{
    const char *p = e->prefix;
    long long pc = (long long)((e->net->param_count + 15) / 16 * 16);
    emit(e, "void %s_set_threads(%s_ctx *c, int threads)", p, p);
    emit(e, "{");
    emit(e, "threads = threads < 1 ? 1 : threads > %d ? %d : threads;", MAX_LANES, MAX_LANES);
    emit(e, "if (threads == c->threads)");
    emit(e, "    return;");
    emit(e, "stop_lanes(c);");
    emit(e, "if (threads == 1)");
    emit(e, "    return;");
    emit(e, "c->lane_grads = aligned_alloc(64, sizeof(float) * %lld * (size_t)(threads - 1));", pc);
    emit(e, "if (!c->lane_grads)");
    emit(e, "    return;");
    emit(e, "for (int t = 1; t < threads; t++) {");
    emit(e, "c->lanes[t].c = c;");
    emit(e, "c->lanes[t].t = t;");
    emit(e, "c->lanes[t].seen = c->generation;");
    emit(e, "if (pthread_create(&c->lanes[t].id, NULL, lane_main, &c->lanes[t]) != 0)");
    emit(e, "    break;");
    emit(e, "c->threads = t + 1;");
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
    emit(e, "char *mem = aligned_alloc(64, bytes);");
    emit(e, "if (!mem)");
    emit(e, "    return NULL;");
    emit(e, "memset(mem, 0, bytes);");
    emit(e, "%s_ctx *c = (%s_ctx *)(void *)mem;", p, p);
    emit(e, "carve(c, (float *)(void *)(mem + head), (size_t)max_batch);");
    emit(e, "c->max_batch = max_batch;");
    emit(e, "c->fast = (%s) && !getenv(\"CNNC_REFERENCE\");", e->simd->cpu_check);
    emit(e, "c->threads = 1;");
    emit(e, "pthread_mutex_init(&c->mu, NULL);");
    emit(e, "pthread_cond_init(&c->go, NULL);");
    emit(e, "pthread_cond_init(&c->done, NULL);");
    emit(e, "return c;");
    emit(e, "}");
    emit_blank(e);
    emit(e, "void %s_destroy(%s_ctx *c)", p, p);
    emit(e, "{");
    emit(e, "if (!c)");
    emit(e, "    return;");
    emit(e, "stop_lanes(c);");
    emit(e, "pthread_mutex_destroy(&c->mu);");
    emit(e, "pthread_cond_destroy(&c->go);");
    emit(e, "pthread_cond_destroy(&c->done);");
    emit(e, "free(c);");
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

/* The jobs a lane runs: its slice of the batch, and its range of the
 * parameters for the reduction. */
static void emit_lane_jobs(emitter *e)
{
    const char *p = e->prefix;
    long long pc = (long long)e->net->param_count;
    long long pc16 = (long long)((e->net->param_count + 15) / 16 * 16);
    emit(e, "#define LANE_FIRST(c, t) ((int)((long long)(c)->job_n * (t) / (c)->threads))");
    emit_blank(e);
    emit(e, "static void lane_forward(%s_ctx *c, int t)", p);
    emit(e, "{");
    emit(e, "forward_all(c, c->job_x, LANE_FIRST(c, t), LANE_FIRST(c, t + 1));");
    emit(e, "}");
    emit_blank(e);
    emit(e, "static void lane_gradients(%s_ctx *c, int t)", p);
    emit(e, "{");
    emit(e, "const int i0 = LANE_FIRST(c, t), i1 = LANE_FIRST(c, t + 1);");
    emit(e, "float *grads = t ? c->lane_grads + (size_t)(t - 1) * %lld : c->grads;", pc16);
    emit(e, "memset(grads, 0, sizeof(float) * %lld);", pc);
    emit(e, "c->lane_loss[t] = 0.0;");
    emit(e, "if (i0 == i1)");
    emit(e, "    return;");
    emit(e, "forward_all(c, c->job_x, i0, i1);");
    emit(e, "c->lane_loss[t] = loss(c->job_n, i0, i1, %s, c->job_labels, c->job_targets,",
         output_expr(e->net));
    emit(e, "                        %s);", lane_slot("c->g0", e->grad_max, out_size(e->net)));
    emit(e, "backward_all(c, grads, c->job_x, i0, i1);");
    emit(e, "}");
    emit_blank(e);
    emit(e, "static void lane_reduce(%s_ctx *c, int t)", p);
    emit(e, "{");
    emit(e, "const size_t p0 = (size_t)%lld * t / c->threads, p1 = (size_t)%lld * (t + 1) / c->threads;",
         pc, pc);
    emit(e, "for (size_t k = p0; k < p1; k++) {");
    emit(e, "float s = c->grads[k];");
    emit(e, "for (int u = 1; u < c->threads; u++)");
    emit(e, "    s += c->lane_grads[(size_t)(u - 1) * %lld + k];", pc16);
    emit(e, "c->grads[k] = s;");
    emit(e, "}");
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
    emit(e, "for (int i = 0; i < n; i += c->max_batch) {");
    emit(e, "c->job_x = x + (size_t)i * %lld;", in);
    emit(e, "c->job_n = n - i < c->max_batch ? n - i : c->max_batch;");
    emit(e, "if (c->job_n < c->threads) /* too few to share: waking lanes costs more */");
    emit(e, "    forward_all(c, c->job_x, 0, c->job_n);");
    emit(e, "else");
    emit(e, "    run_lanes(c, lane_forward);");
    emit(e, "memcpy(out + (size_t)i * %lld, %s, sizeof(float) * (size_t)c->job_n * %lld);", out,
         output_expr(net), out);
    emit(e, "}");
    emit(e, "}");
    emit_blank(e);
    emit(e, "/* Forward and backward on one batch (n <= max_batch): c->grads holds the");
    emit(e, " * gradient of the mean loss, which is returned (NaN on a bad label). */");
    emit(e, "float %s_gradients(%s_ctx *c, const float *x, const int32_t *labels,", p, p);
    emit(e, "                  const float *targets, int n, float *out)");
    emit(e, "{");
    emit(e, "if (n < 1 || n > c->max_batch)");
    emit(e, "    return NAN;");
    emit(e, "c->job_x = x;");
    emit(e, "c->job_labels = labels;");
    emit(e, "c->job_targets = targets;");
    emit(e, "c->job_n = n;");
    emit(e, "run_lanes(c, lane_gradients);");
    emit(e, "if (c->threads > 1)");
    emit(e, "    run_lanes(c, lane_reduce);");
    emit(e, "double total = 0.0;");
    emit(e, "for (int t = 0; t < c->threads; t++)");
    emit(e, "    total += c->lane_loss[t];");
    emit(e, "if (out)");
    emit(e, "    memcpy(out, %s, sizeof(float) * (size_t)n * %lld);", output_expr(net), out);
    emit(e, "return (float)(total / ((double)n * %lld.0));", net->loss == LOSS_MSE ? out : 1LL);
    emit(e, "}");
    emit_blank(e);
    emit(e, "float %s_train_step(%s_ctx *c, const float *x, const int32_t *labels,", p, p);
    emit(e, "                   const float *targets, int n, const cnnrt_hparams *hp)");
    emit(e, "{");
    emit(e, "const float l = %s_gradients(c, x, labels, targets, n, NULL);", p);
    emit(e, "if (l == l)");
    emit(e, "    sgd(c, hp);");
    emit(e, "return l;");
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
