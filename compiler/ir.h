/* ir.h - the network as the back end sees it: a chain of layers with every
 * attribute resolved to numbers (per axis), every shape computed, and the
 * parameter and workspace layout planned.
 *
 * Stages, in the order main() calls them:
 *   lower(ast)   -> ir_net: kinds looked up, attributes typed and defaulted
 *   check(net)   -> every layer has in/out shapes; all spec rules enforced
 *   plan(net)    -> parameter offsets and per-sample workspace offsets
 *   emit_*(net)  -> C source and header text
 */
#ifndef CNNC_IR_H
#define CNNC_IR_H

#include <stdbool.h>
#include <stdint.h>
#include "ast.h"

#define MAX_SPATIAL 3              /* 1-D, 2-D and 3-D layers */
#define MAX_DIMS (MAX_SPATIAL + 1) /* channels + spatial axes */
#define TENSOR_LIMIT (INT64_C(1) << 31) /* elements in any tensor, batch included */

typedef enum {
#define LAYER(id, name, allowed, required, minr, maxr) LK_##id,
#include "layers.def"
#undef LAYER
    LK_COUNT
} layer_kind;

typedef enum {
#define ATTR(id, name, type) ATTR_##id,
#include "attrs.def"
#undef ATTR
    ATTR_COUNT
} attr_id;

typedef enum { AT_INT, AT_INTS, AT_BOOL, AT_PADDING, AT_ACTIVATION, AT_TABLE } attr_type;
typedef enum { ACT_NONE, ACT_RELU, ACT_SIGMOID, ACT_TANH } act_kind;
typedef enum { PAD_VALID, PAD_SAME, PAD_ZERO, PAD_REPLICATE, PAD_REFLECT, PAD_CIRCULAR } pad_kind;
typedef enum { LOSS_SOFTMAX_CE, LOSS_MSE } loss_kind;

/* A per-sample tensor shape: [C, spatial...] or a vector [N]. */
typedef struct shape { int rank; int64_t d[MAX_DIMS]; } shape;

typedef struct layer_info {
    const char *name;
    unsigned allowed, required;  /* bit sets of attr_id */
    int min_rank, max_rank;
} layer_info;
extern const layer_info layer_table[LK_COUNT];

typedef struct attr_info { const char *name; attr_type type; } attr_info;
extern const attr_info attr_table[ATTR_COUNT];

typedef struct ir_layer {
    layer_kind kind;
    const char *name;
    span loc, name_loc;          /* the kind token; the name (or the kind) */
    bool default_name;           /* no name written: kind plus index */
    bool has[ATTR_COUNT];        /* written in the spec */
    span attr_loc[ATTR_COUNT];   /* key spans, for diagnostics */
    const ast_value *attr_val[ATTR_COUNT];

    /* resolved attributes (per spatial axis where it applies) */
    int64_t filters, units;
    int nkernel, nstride, ndilation; /* values listed: 0 = a scalar (every axis) */
    int64_t kernel[MAX_SPATIAL], stride[MAX_SPATIAL], dilation[MAX_SPATIAL];
    pad_kind pad;
    int npad;                    /* values in zero(N)/...: 0 = scalar or none */
    int64_t pad_lo[MAX_SPATIAL], pad_hi[MAX_SPATIAL];
    act_kind act;
    bool bias, symmetric;
    int nconnect;                /* rows of connect, 0 = fully connected */
    int64_t **connect;           /* connect[o] = input maps, -1 terminated */
    int *nconnect_row;

    /* after check() */
    shape in, out;
    shape padded;                /* input after padding (conv/local/pool) */
    int nsp;                     /* spatial axes of the input (0 for vectors) */
    int64_t wcount, bcount;      /* parameters */
    int64_t flops;               /* forward, per sample */

    /* after plan(): offsets in floats */
    int64_t woff, boff;          /* into the parameter block */
} ir_layer;

typedef struct ir_net {
    const char *name;
    source *src;
    span close_loc;
    shape input;
    span input_loc;
    ir_layer *layers;
    int nlayers;
    loss_kind loss;
    span loss_loc;
    /* train (...) */
    double lr, momentum, weight_decay;
    int64_t batch, epochs, seed;
    int64_t param_count;
} ir_net;

/* lower(): needs a parsed tree.  Guarantees: every layer kind and attribute
 * key is known, values have the right types, defaults are filled in.
 * Returns NULL after reporting errors. */
ir_net *lower(const ast_network *ast, source *src, arena *a);

/* check(): needs a lowered net.  Guarantees: every layer has in/out shapes,
 * parameter counts and FLOPs; every rule of LANGUAGE.md's "Shapes checked at
 * compile time" holds.  Returns false after reporting errors. */
bool check(ir_net *net);

/* plan(): needs a checked net.  Guarantees: parameter offsets assigned in
 * file order (weight then bias per layer), param_count set. */
void plan(ir_net *net);

void ir_dump(FILE *out, const ir_net *net);
void shape_str(char *buf, size_t len, const shape *s);
int64_t shape_count(const shape *s);
const char *act_name(act_kind a);
const char *pad_name(pad_kind p);

/* --summary and --emit=dot */
void print_summary(FILE *out, const ir_net *net);
void print_dot(FILE *out, const ir_net *net);

/* emit_c(): needs a planned net.  Appends the generated C source and
 * header text (c_name and header_name are the files' names: the source
 * #includes header_name). */
void emit_c(const ir_net *net, const char *c_name, const char *header_name,
            const char *target, strbuf *c_out, strbuf *h_out);

#endif
