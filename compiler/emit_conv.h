/* emit_conv.h - the flat-grid geometry of a convolution, shared by
 * the fast kernels of emit_fast.c (forward, data gradient) and
 * emit_convwg.c (weight gradient). */
#ifndef CNNC_EMIT_CONV_H
#define CNNC_EMIT_CONV_H

#include "emit.h"

/* A Winograd F(m x m, 3x3) convolution, m = 2 or 4 (emit_wino.c):
 * out[o] = bias + sum_i w[o][i] (3x3 correlation) in[i], every input map
 * a plane of in_rows rows of in_pitch floats (zeros beyond), the output
 * out_rows x out_cols at pitch out_pitch; flip: the weights are w[i][o]
 * flipped (the data gradient).  Tiles of m x m outputs, th x tw, in
 * chunks of nr tile rows; with n = (m + 2)^2 transformed positions the
 * lane's first-sample scratch holds U [n][fout][cin] at u_off, the staged
 * rows [cin][m*nr + 2][pitch] at s_off (none where NAME_w4i reads its
 * source: wi4_direct), V [n][cin][vp] at v_off and M
 * [n][fout][vp] at m_off, up to end. */
typedef struct wconv {
    const char *name;
    int64_t cin, fout, in_plane, in_pitch, in_rows;
    int64_t out_rows, out_cols, out_plane, out_pitch;
    int64_t in_off, in_cols, out_off; /* origin of the input and output grids; floats a row has from it */
    bool bias, flip;
    act_kind act;
    int64_t th, tw, nr, nvec, pitch, vp;
    bool pair;                   /* tw is half a vector: two tile rows a vector */
    int64_t u_off, s_off, v_off, m_off, end;
    int m;                       /* outputs a tile side: 2 or 4 */
    /* xh > 0: the staging reads the layer's unpadded x (xh rows of xw
     * floats a map) and writes the zero padding itself (xt rows above,
     * xl columns left), so the forward pass makes no padded copy. */
    int64_t xt, xl, xh, xw;
} wconv;

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
    /* Winograd F(2x2, 3x3) or F(4x4, 3x3) (emit_wino.c) where wino: the
     * forward pass wf and, where wino_dx, the data gradient wd (the same
     * algorithm on G with the kernel flipped and transposed; its own m). */
    bool wino, wino_dx;
    /* wd_direct: wd writes dx itself (zero or same padding: only the
     * interior is computed), no dxp and no unpad. */
    bool wd_direct;
    wconv wf, wd;
    /* Its weight gradient (wf's tiles, n = (wf.m + 2)^2 positions): per
     * lane dUT [n][C][Fp] at wg_dut, staged input rows at wg_s and V
     * [n][C][wf.vp] (wf's chunks), the chunk's transformed gradients GtT
     * [n][wf.nr * wf.tw][Fp] at wg_gtt; GT (the outer form's) has a row of
     * zeros after span. */
    int64_t wg_dut, wg_s, wg_v, wg_gtt;
    /* Strided layers where dgc: G compact [F][osz] at 0; the GEMM over the
     * outputs only into dcc [K][osz] (after dcol), spread to dcol's flat
     * positions M + p(o), then the same gather. */
    bool dgc;
    /* Stride-1 2-D layers whose padded rows fit a vector where dgr (with
     * dgc): no dcol; each row of dxp sums dcc's output rows, every tap's
     * row loaded into the lanes it lands on (loadm). */
    bool dgr;
    /* Where dgz (with dgr): the output feeds a max pool whose windows do
     * not overlap, so at most one output in a window has a nonzero G.
     * Per output o, dz[o][0..R) = sum over the filters f with GT[p(o)][f]
     * != 0 of GT[p(o)][f] * w[f][0..R) (dz_nv vectors, rows dz_rp floats
     * apart, at the first 64-byte boundary after dc_off, then the weights
     * in rows of dz_rp), then each row of dxp gathers dz's runs of K1 taps
     * by masked loads (emit_convdg.c). */
    bool dgz;
    int dz_nv;
    int64_t dz_rp;
    /* Where dz_grp: dz per group of dz_s outputs of a row instead, each
     * kernel row's K1 taps in a run of DZ_GW lanes, the output s of the
     * group adding its filter's weights shifted up by s lanes; dz_blk
     * floats a group (and a filter's weights), dz_ng groups a row. */
    bool dz_grp;
    int dz_s;
    int64_t dz_blk, dz_ng;
    /* Where wgz: the sparse weight gradient (emit_convwg.c) replaces the
     * outer or dot form.  Per filter, the outputs with G != 0 are listed
     * (nzmask, cmpi/cmpf) and each adds G times its input patch, wz_nr
     * rows of K1 = wz_k1 taps, into rvec accumulators; they live in dWz
     * [F][wz_nr][wz_rw] at wz_off in the lane's first-sample scratch
     * (wz_rw = rwidth).  Where wz_cl (channels last), a row is one
     * outer tap's K1 taps of every input map, K1*C adjacent floats of the
     * sample's x transposed to [psz][C] (at wz_xt, after dWz): wz_nr =
     * K/K1 rows of wz_rw = whole vectors. */
    bool wgz, wz_cl;
    int wz_nr, wz_k1, wz_rw;
    int64_t wz_off, wz_xt;
} fgeom;

/* out[m][p..p+T) = bias[m] + sum_{ch, t} w[m*wr + ch*wc + woff[t]] *
 * in[ch*ip + xoff[t] + p ..], T = nv vectors, for a block of mb rows. */
typedef struct sweep {
    const char *name;            /* function name prefix */
    int64_t rows, chans, ip, op, span, wr, wc;
    int ntaps;
    const int64_t *xoff, *woff;
    bool bias;
    int mb, nv;                  /* the main tile */
    int kl;                      /* taps of one kernel row (the last axis) */
} sweep;

/* A forward sweep's tile that stores one output row straight into y
 * (NAME_dMB, emit_fast.c): filter m's outputs at out + m*osz, the row's
 * ow (<= the tile's T) with the activation (relu or none). */
typedef struct fw_direct {
    int64_t osz, ow;
    act_kind act;
} fw_direct;

/* The sweep's tile functions NAME_mb (emit_fast.c), and their calls over
 * every row block and tile of the span (the last shifted back). */
void emit_sweep(emitter *e, sweep *s);
void emit_sweep_calls(emitter *e, const sweep *s, const char *in, const char *out);

fgeom make_fgeom(const emitter *e, const ir_layer *ly);
/* One output vector s (n of W valid; n == W whole) at at, with a relu or
 * no activation applied in vectors, any other in scalars. */
void emit_out_store(emitter *e, act_kind act, const char *s, const char *at, int n);
const char *vname(const char *p, int a, int b);
/* { xb = splat(src); a<row>_j = fma(xb, <held>j, a<row>_j), j < n }: one
 * broadcast input times n vectors held in registers, the outer-product
 * step of the lanes forward, the outer weight gradient and Winograd's. */
void emit_bcast_fma(emitter *e, const char *src, int row, int n, const char *held);
/* The sweep's tile (emit_fast.c): the cheapest m x n for rows x span,
 * its cost in FMA slots per step returned. */
double sweep_tile(const simd_target *v, int64_t rows, int64_t span, int *mb, int *nv);
void emit_roff_table(emitter *e, const ir_layer *ly, const fgeom *g, const char *suffix);

/* emit_convfl.c */
bool conv_lanes_pays(const simd_target *v, const ir_layer *ly, const fgeom *g, double sweep_cost);
void conv_emit_lanes_forward(emitter *e, const ir_layer *ly, const fgeom *g);

/* emit_convwg.c */
void wgrad_plan(const emitter *e, const ir_layer *ly, fgeom *g);
void emit_wz_list_kernel(emitter *e, const ir_layer *ly, const fgeom *g);
void emit_wgrad_kernels(emitter *e, const ir_layer *ly, const fgeom *g);
void emit_wgrad_begin(emitter *e, const ir_layer *ly, const fgeom *g);
void emit_wgrad_group(emitter *e, const ir_layer *ly, const fgeom *g);
void emit_wgrad_end(emitter *e, const ir_layer *ly, const fgeom *g);

/* emit_convdg.c */
int64_t conv_pool_window(const emitter *e, const ir_layer *ly);
bool conv_has_dx(const emitter *e, const ir_layer *ly);
void dgrad_plan(const emitter *e, const ir_layer *ly, fgeom *g);
void emit_dgrad_kernels(emitter *e, const ir_layer *ly, const fgeom *g);
void emit_dgrad_begin(emitter *e, const ir_layer *ly, const fgeom *g);
void emit_dgrad_sample(emitter *e, const ir_layer *ly, const fgeom *g);

/* emit_wino.c */
bool wino_applies(const emitter *e, const ir_layer *ly, const fgeom *g);
void wino_plan(const emitter *e, const ir_layer *ly, fgeom *g);
void emit_wino_wgrad_kernels(emitter *e, const ir_layer *ly, const fgeom *g);
void emit_wino_wgrad_begin(emitter *e, const ir_layer *ly, const fgeom *g);
void emit_wino_wgrad_group(emitter *e, const ir_layer *ly, const fgeom *g);
void emit_wino_wgrad_end(emitter *e, const ir_layer *ly, const fgeom *g);
void conv_emit_wino_forward(emitter *e, const ir_layer *ly, const fgeom *g);
int64_t wino_u_floats(const fgeom *g);
void conv_emit_wino_prepare(emitter *e, const ir_layer *ly);
void emit_wino_dgrad_kernels(emitter *e, const ir_layer *ly, const fgeom *g);
void emit_wino_dgrad_begin(emitter *e, const ir_layer *ly, const fgeom *g);
void emit_wino_dgrad_sample(emitter *e, const ir_layer *ly, const fgeom *g);

#endif
