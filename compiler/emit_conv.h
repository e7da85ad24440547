/* emit_conv.h - the flat-grid geometry of a convolution, shared by
 * the fast kernels of emit_fast.c (forward, data gradient) and
 * emit_convwg.c (weight gradient). */
#ifndef CNNC_EMIT_CONV_H
#define CNNC_EMIT_CONV_H

#include "emit.h"

typedef struct fgeom {
    int64_t C, F, K, R;          /* input maps, output maps, taps, C*K */
    int64_t psz, span, M, gplane, osz;
    int64_t *koff;               /* [K] */
    /* Strided layers: p(o) = sum_a stride_a o_a pm_a; sl the last axis's
     * stride; GT then holds the outputs compact, [osz][Fp] (gtn = osz
     * positions, else span). */
    bool strided;
    int64_t sl, gtn;
    /* Per-sample scratch c->cs: G [F][gplane] at 0; with the outer-product
     * weight gradient also GT [span][Fp] at gt_off and, in the first sample
     * of a lane only, dWT [R][Fp] at dwt_off. */
    bool outer;
    bool lanes;                  /* forward with the filters in lanes (emit_convfl.c) */
    int64_t Fp, gt_off, dwt_off, scratch;
    /* The GEMM + col2im data gradient (emit_convdg.c) where dgemm: each
     * input map's K rows in blocks of dg_mb (then K % dg_mb) by dg_nv
     * vectors; dcol [K][gplane] at dc_off in the scratch of the lane's
     * first sample. */
    bool dgemm;
    int dg_mb, dg_nv;
    int64_t dc_off;
    /* Strided layers where dgc: G compact [F][osz] at 0; the GEMM over the
     * outputs only into dcc [K][osz] (after dcol), spread to dcol's flat
     * positions M + p(o), then the same gather. */
    bool dgc;
} fgeom;

fgeom make_fgeom(const emitter *e, const ir_layer *ly);
const char *vname(const char *p, int a, int b);
/* The sweep's tile (emit_fast.c): the cheapest m x n for rows x span,
 * its cost in FMA slots per step returned. */
double sweep_tile(const simd_target *v, int64_t rows, int64_t span, int *mb, int *nv);
void emit_roff_table(emitter *e, const ir_layer *ly, const fgeom *g, const char *suffix);

/* emit_convfl.c */
bool conv_lanes_pays(const simd_target *v, const ir_layer *ly, const fgeom *g, double sweep_cost);
void conv_emit_lanes_forward(emitter *e, const ir_layer *ly, const fgeom *g);

/* emit_convwg.c */
void emit_wgrad_kernels(emitter *e, const ir_layer *ly, const fgeom *g);
void emit_wgrad_begin(emitter *e, const ir_layer *ly, const fgeom *g);
void emit_wgrad_group(emitter *e, const ir_layer *ly, const fgeom *g);
void emit_wgrad_end(emitter *e, const ir_layer *ly, const fgeom *g);

/* emit_convdg.c */
bool conv_has_dx(const emitter *e, const ir_layer *ly);
void dgrad_plan(const emitter *e, const ir_layer *ly, fgeom *g);
void emit_dgrad_kernels(emitter *e, const ir_layer *ly, const fgeom *g);
void emit_dgrad_begin(emitter *e, const ir_layer *ly, const fgeom *g);
void emit_dgrad_sample(emitter *e, const ir_layer *ly, const fgeom *g);

#endif
