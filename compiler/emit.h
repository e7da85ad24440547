/* emit.h - shared by the C emitter's files: the line printer, naming of
 * buffers, and the per-kind emitters listed in layers.def. */
#ifndef CNNC_EMIT_H
#define CNNC_EMIT_H

#include "ir.h"

/* A SIMD flavour (emit_simd.c): C templates with $1..$3 for operands. */
typedef struct simd_target {
    const char *name;
    int width;                /* floats per vector */
    int regs;                 /* vector registers */
    const char *prelude;      /* includes, CNNC_KERNEL (kernel attribute), helpers */
    const char *cpu_check;    /* C expression: the running CPU has the flavour */
    const char *vec, *zero, *load, *store, *splat, *fma, *add, *sub, *hsum;
    const char *loadn;        /* masked load of $2 floats, or NULL */
    /* loadm: the lanes of $1 set in the constant bit mask $2 (the floats
     * at $1 + lane, never touching the others), zeros elsewhere; NULL
     * where lanes cannot be chosen at no cost (only avx512 has it). */
    const char *loadm;
    /* storem: $2's lanes set in the constant bit mask $3 to $1 + lane. */
    const char *storem;
    /* nzmask: an unsigned int whose bit l is set where lane l of $1 is not
     * 0.0f (NaN counts as nonzero); NULL where no flavour kernel needs it
     * (only avx512, with loadm, has the sparse data gradient). */
    const char *nzmask;
    const char *pos;          /* $2 where $1 > 0, else 0 (relu and its derivative) */
    /* Pooling (emit_fastpool.c).  storen/iloadn/istoren: masked store of
     * $3 / load of $2 lanes, NULL with loadn.  pick2: x[0], x[2], .. of the
     * 2W-1 floats x at p from $1 = load(p) and $2 = load(p + W - 1).
     * zip_lo/zip_hi: the first / last W floats of $1, $2 interleaved.
     * mask: the type of gt ($1 > $2, false on NaN) and ieq; blend and
     * iblend: $1 ? $2 : $3 per lane.  ivec: W int32; iset: a list of W. */
    const char *storen, *pick2, *zip_lo, *zip_hi, *div;
    /* pin: the vector variable $1 must be in a register here (an empty
     * asm); NULL for generic.  Without it gcc folds a loaded vector that
     * several FMAs share into each FMA as a memory operand, loading it
     * again for every use. */
    const char *pin;
    /* cat_lo: the lower halves of $1 and $2, in that order (NULL for generic). */
    const char *cat_lo;
    const char *mask, *gt, *blend;
    const char *ivec, *isplat, *iset, *iadd, *ieq, *iblend, *iload, *istore, *iloadn, *istoren;
    /* The sparse weight gradient (emit_convwg.c); NULL where lanes cannot
     * be packed cheaply (only avx512 has them).  cmpi / cmpf: the lanes of
     * the ivec / vec $2 whose bit is set in the mask $1, packed into the
     * low lanes (zeros after).  rvec: a vector of rwidth floats for the
     * taps of one kernel row (__m256 in avx512), with rzero, rsplat, rfma, radd,
     * rload, rstore and rloadm (the lanes of $1 set in the constant mask
     * $2, never touching the others; zeros elsewhere). */
    const char *cmpi, *cmpf;
    const char *igt;          /* the mask type: int32 lanes $1 > $2 */
    int rwidth;
    const char *rvec, *rzero, *rsplat, *rfma, *radd, *rload, *rstore, *rloadm;
    /* perm: lane $1[l] of $2 in lane l (ivec indices); NULL where none. */
    const char *perm;
    /* perm2: lane l of the 32 lanes of $1 then $3 at index $2[l] (ivec);
     * NULL where none. */
    const char *perm2;
    /* fpenv_on: a statement that saves the calling thread's floating-point
     * control in `fpenv` and makes results and operands below FLT_MIN zero
     * (flush to zero / denormals are zero, where `c->fast` says the CPU
     * has the flavour); fpenv_off restores it.  NULL where not set. */
    const char *fpenv_on, *fpenv_off;
} simd_target;

const simd_target *simd_find(const char *name);
const char *simd(const char *tpl, const char *a, const char *b, const char *c);
const char *simd_ramp(int n, int64_t step);

typedef struct emitter {
    strbuf *out;
    int indent;
    const ir_net *net;
    const char *prefix;       /* the network's name: prefix of the public API */
    int64_t grad_max, pad_max; /* per-sample floats of the shared g0/g1 and gpad */
    const simd_target *simd;  /* the flavour of the fast kernels */
    int64_t cs_max;           /* per-sample floats of the fast kernels' scratch c->cs */
    const char *sfx;          /* "_ref" while emitting a reference twin, else "" */
    bool rolled;              /* emit() marks every loop CNNC_ROLLED (emit.c) */
} emitter;

/* One line at the current indentation; `{` at the end of a line indents
 * the lines after it, a leading `}` dedents. */
void emit(emitter *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void emit_blank(emitter *e);
/* Sets e->rolled, returns what it was. */
bool emit_rolled(emitter *e, bool on);
/* static const TYPE NAME[n] = {...}; a few values a line. */
void emit_table(emitter *e, const char *type, const char *name, const int64_t *v, int64_t n);

/* Per-kind emitters.  A forward function has the signature
 *   static void NAME_forward(CTX *c, int i0, int i1, const float *restrict x,
 *                            float *restrict y)
 * and a backward one
 *   static void NAME_backward(CTX *c, float *restrict grads, int i0, int i1,
 *                             const float *restrict x, const float *restrict y,
 *                             float *restrict dy, float *restrict dx)
 * Buffers hold the whole batch; a call touches samples [i0, i1) only, so
 * threads can share them.  dy (the gradient of the layer's output) may be
 * overwritten; dx is NULL for the first layer (no gradient for the data).
 * Parameters are read at c->params + woff; gradients accumulate into
 * grads + woff (one block per thread). */
#define LAYER(id, name, allowed, required, minr, maxr)            \
    void name##_emit_forward(emitter *e, const ir_layer *ly);      \
    void name##_emit_backward(emitter *e, const ir_layer *ly);
#include "layers.def"
#undef LAYER

/* Layers whose output is a view of their input (flatten): no functions,
 * no buffer. */
bool layer_is_view(const ir_layer *ly);
/* Layers that keep a padded copy of their input, and pooling's argmax. */
bool layer_has_pad(const ir_layer *ly);
bool layer_has_argmax(const ir_layer *ly);
int64_t padded_count(const ir_layer *ly);

/* The part of a shared scratch buffer (g0, g1, gpad) that samples
 * [i0, i1) use when a layer indexes it at sample * size: shifted by
 * i0 * (max - size), every lane stays inside [i0 * max, i1 * max), so lanes
 * never overlap whatever the layer. */
const char *lane_slot(const char *buf, int64_t max, int64_t size);

/* Shared pieces of kernels (emit_kernels.c). */
/* act(s) as a C expression: libm's expf/tanhf in a reference twin
 * (e->sfx set), else cnnrt_act.h's vectorisable cnnrt_sigmoidf/tanhf. */
const char *act_expr(const emitter *e, act_kind act, const char *s);
void emit_act_forward(emitter *e, act_kind act, const char *buf, int64_t per_sample);
void emit_act_backward(emitter *e, act_kind act, const char *y, const char *dy,
                       int64_t per_sample);
void emit_zero_samples(emitter *e, const char *buf, int64_t per_sample);
void emit_dot(emitter *e, const char *dst, const char *a, const char *b, int64_t n);
void emit_pad_functions(emitter *e, const ir_layer *ly, const char *fill);
/* Loop nest over the spatial axes of `dims` with variables PREFIX0.. and
 * the flat index expression (with per-axis multipliers mul) in *index. */
/* The layer after / before ly in the network, or NULL. */
const ir_layer *layer_next(const ir_net *net, const ir_layer *ly);
const ir_layer *layer_prev(const ir_net *net, const ir_layer *ly);
int emit_loops(emitter *e, const char *var, int rank, const int64_t *dims);
/* { d = ld; the lanes of d that are not 0.0f (and, unless also is NULL,
 * whose bit is set in the mask expression also) appended to the lists li
 * (their positions, from the ivec pos) and lv, nz += their count }: the
 * list of the sparse kernels (flavours with cmpi only). */
void emit_nz_append(emitter *e, const char *ld, const char *pos, const char *also);
/* The ivec j, j + 1, .. j + W - 1: the positions of a vector loaded at j. */
const char *lanes_from(const emitter *e, const char *j);
/* const float bad = the sum of x - x over the cnt floats at p: 0, or NaN
 * where one is inf or NaN.  The sparse kernels skip the products of a zero
 * gradient, which a dense sum turns into NaN where x is not finite
 * (0 * inf); they make the result NaN then, as the dense form and the
 * reference twin do, so that an overflow is still reported. */
void emit_nonfinite(emitter *e, const char *p, const char *cnt);
void emit_close(emitter *e, int loops);
char *index_expr(arena *a, const char *var, int rank, const int64_t *mul);

extern arena *emit_arena;

/* emit_fast.c: SIMD kernels for convolutions.  A layer for which
 * conv_is_fast() holds gets NAME_forward/NAME_backward from here and its
 * reference twins NAME_forward_ref/NAME_backward_ref from emit_window.c. */
bool conv_is_fast(const emitter *e, const ir_layer *ly);
/* Floats of what a fast conv's forward pass computes from its weights
 * once a pass (Winograd's U, in c->wu_NAME), 0 if nothing; and the call
 * that computes it, which forward_lane makes before the layers. */
int64_t conv_prepared_floats(const emitter *e, const ir_layer *ly);
void conv_emit_prepare(emitter *e, const ir_layer *ly);
int64_t conv_scratch(const emitter *e, const ir_layer *ly);
void conv_emit_fast_forward(emitter *e, const ir_layer *ly);
void conv_emit_fast_backward(emitter *e, const ir_layer *ly);
/* emit_fastdense.c: the same for dense layers.  A layer for which
 * dense_splits_units() holds is shared between threads by units, over the
 * whole batch, instead of by samples: it gets NAME_forward_pack(c, n, i0,
 * i1, x) (samples [i0, i1) of x transposed into c->xT_NAME) and, once
 * every lane has run that, NAME_forward_units(c, n, u0, u1, x, y),
 * NAME_backward_rows(c, n, i0, i1, y, dy, dx) (samples [i0, i1):
 * activation, dy transposed into c->dyT_NAME, dx) and, once every lane has
 * run that, NAME_backward_pack(n, x, slab) (x into the lane's slab of
 * dense_lane_slab() floats per sample) and NAME_backward_units(c, n, u0,
 * u1, x, slab) (units [u0, u1) of the weight and bias gradients, stored
 * into c->grads, and in train_step the SGD step on those units'
 * parameters).  Lanes' fixed unit ranges start at multiples of
 * dense_unit_block(); with threads, the weight gradient of a layer for
 * which dense_defers_units() holds is taken in chunks of dense_bwd_chunk()
 * units instead (lane_grab), each unit's result the same whichever lane
 * computes it.  dense_split_index() numbers the unit-split layers
 * 0 .. dense_split_count() - 1. */
bool dense_is_fast(const emitter *e, const ir_layer *ly);
/* A conv whose kernel covers its whole (unpadded) input is a dense layer
 * with the same weights in the same order: it takes the dense kernels. */
bool conv_is_dense(const ir_layer *ly);
int64_t dense_in(const ir_layer *ly);      /* inputs per sample */
int64_t dense_units(const ir_layer *ly);   /* outputs per sample */
bool dense_splits_units(const emitter *e, const ir_layer *ly);
int dense_unit_block(const emitter *e, const ir_layer *ly);
int dense_bwd_chunk(const emitter *e, const ir_layer *ly);
int dense_split_count(const emitter *e);
bool dense_defers_units(const emitter *e, const ir_layer *ly);
int dense_defer_count(const emitter *e);
int dense_split_index(const emitter *e, const ir_layer *ly);
int64_t dense_lane_slab(const emitter *e);
int64_t dense_scratch(const emitter *e, const ir_layer *ly);
void dense_emit_fast_forward(emitter *e, const ir_layer *ly);
void dense_emit_fast_backward(emitter *e, const ir_layer *ly);
/* emit_gemv.c: NAME_gemv, the dense forward one sample at a time, which
 * NAME_forward calls for batches smaller than its tiles. */
void dense_emit_gemv(emitter *e, const ir_layer *ly);
/* emit_fastpool.c: the same for maxpool and avgpool (forward, and backward
 * where the windows tile the input; else NAME_backward is the reference
 * loop compiled a second time). */
bool pool_is_fast(const emitter *e, const ir_layer *ly);
bool pool_backward_is_fast(const emitter *e, const ir_layer *ly);
/* Whether conv layer ly's max pool hands its gradient over as lists
 * (emit_convwg.c), and their layout in each map's plane of the conv's dy:
 * the count (an int) at 0, the positions (ints) from 1, the values from
 * 1 + pool_list_stride() (the windows of a map and a vector's slack). */
bool conv_pool_lists(const emitter *e, const ir_layer *ly);
int64_t pool_list_stride(const emitter *e, const ir_layer *pool);
void pool_emit_fast_forward(emitter *e, const ir_layer *ly);
void pool_emit_fast_backward(emitter *e, const ir_layer *ly);
/* "CNNC_COLD " while emitting a reference twin: compiled for size, since
 * it only runs on CPUs without the flavour and in tests. */
const char *twin_attr(const emitter *e);
void emit_forward_head(emitter *e, const ir_layer *ly, const char *attr, const char *sfx);
void emit_backward_head(emitter *e, const ir_layer *ly, const char *attr, const char *sfx);
/* Whether a layer has a fast variant (and so a _ref twin). */
bool layer_is_fast(const emitter *e, const ir_layer *ly);

/* emit.c: the buffer holding layer i's output ("x" before the first real
 * layer), and the per-sample sizes of the input and the output. */
const char *out_buffer(const ir_net *net, int i);
int64_t in_size(const ir_net *net);
int64_t out_size(const ir_net *net);
/* emit.c: whether layer l is a unit-split dense layer with layers to
 * compute (not views) between it and the previous one: the lanes share
 * those out in chunks of samples (lane_chunk). */
bool forward_run_below(const emitter *e, int l);

/* emit_lanes.c: threads ("lanes") sharing a batch, and the public API.
 * emit_lane_sync: LANE_FIRST(n, t, T) (lane t's first sample), the
 * barrier lane_sync(c, T) and lane_grab(c, k, U, C). */
void emit_lane_fields(emitter *e);
void emit_lane_sync(emitter *e);
void emit_lanes(emitter *e);

#endif
