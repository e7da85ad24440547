/* ast.h - the syntax tree the parser builds: exactly what was written,
 * with a source span on every node.  Nothing is resolved or defaulted here;
 * lower() in ir.c gives meaning to names, attributes and values. */
#ifndef CNNC_AST_H
#define CNNC_AST_H

#include <stdbool.h>
#include <stdint.h>
#include "util.h"

typedef enum {
    VAL_INT,    /* 5, -3 */
    VAL_FLOAT,  /* 0.01, 1e-3 */
    VAL_BOOL,   /* true, false */
    VAL_IDENT,  /* relu, valid, sgd */
    VAL_LIST,   /* [a, b, c] */
    VAL_CALL    /* zero(2), replicate([1, 2]) */
} ast_value_kind;

typedef struct ast_value ast_value;
struct ast_value {
    ast_value_kind kind;
    span loc;                  /* the whole value, e.g. `zero(2)` or `[1, 2]` */
    union {
        int64_t i;             /* VAL_INT */
        double f;              /* VAL_FLOAT */
        bool b;                /* VAL_BOOL */
        const char *id;        /* VAL_IDENT */
        struct { ast_value **items; int n; } list;          /* VAL_LIST */
        struct { const char *fn; span fn_loc; ast_value *arg; } call; /* VAL_CALL */
    } u;
};

typedef struct ast_attr {
    const char *key;
    span key_loc;
    ast_value *val;
} ast_attr;

typedef struct ast_attrs {
    ast_attr *items;
    int n;
    span loc;                  /* the parenthesised list; zero span if absent */
} ast_attrs;

typedef enum {
    STMT_INPUT,   /* input [1, 28, 28]; */
    STMT_LAYER,   /* conv c1 (filters = 6, ...); */
    STMT_LOSS,    /* loss softmax_cross_entropy; */
    STMT_TRAIN    /* train (lr = 0.01, ...); */
} ast_stmt_kind;

typedef struct ast_stmt {
    ast_stmt_kind kind;
    span loc;                  /* the first token of the statement */
    union {
        struct { ast_value *dims; } input;                 /* a VAL_LIST */
        struct {
            const char *kind; span kind_loc;               /* as written */
            const char *name; span name_loc;               /* NULL if omitted */
            ast_attrs attrs;
        } layer;
        struct { const char *name; span name_loc; } loss;
        struct { ast_attrs attrs; } train;
    } u;
} ast_stmt;

typedef struct ast_network {
    const char *name;
    span name_loc;
    ast_stmt **stmts;
    int nstmts;
    span close_loc;            /* the closing `}` */
} ast_network;

/* parse(): reads one `network NAME { ... }` from src->text.
 * Needs: a source registered with the diagnostics (util.h).
 * Guarantees: on success returns a tree whose every node has a span inside
 * the source; on any lexical or syntax error reports it (GNU style) and
 * returns NULL.  Memory comes from the arena. */
ast_network *parse(source *src, arena *a);

/* ast_dump(): the tree as written, one node per line with its line:col,
 * for `cnnc -d p`.  Values print in source syntax, e.g.
 *   network lenet <2:9>
 *     input [1, 28, 28] <3:5>
 *     layer conv c1 <5:5>
 *       filters = 6 <5:17>
 *       padding = zero(2) <5:38>
 *     layer flatten <9:5>
 *     loss softmax_cross_entropy <14:5>
 *     train <15:5>
 *       lr = 0.01 <15:33> */
void ast_dump(FILE *out, const ast_network *net);
void ast_dump_value(FILE *out, const ast_value *v);

/* ---- builders (ast.c), used by the parser's actions ----
 * Each copies nothing but the node itself: strings and children must
 * already live in the arena.  ast_vec is a growable array of pointers in
 * the arena, used while a list is being parsed. */
typedef struct ast_vec { void **items; int n, cap; } ast_vec;
void ast_vec_push(arena *a, ast_vec *v, void *item);

ast_value *ast_int(arena *a, span loc, int64_t i);
ast_value *ast_float(arena *a, span loc, double f);
ast_value *ast_bool(arena *a, span loc, bool b);
ast_value *ast_ident(arena *a, span loc, const char *id);
ast_value *ast_call(arena *a, span loc, const char *fn, span fn_loc, ast_value *arg);
ast_value *ast_list(arena *a, span loc, ast_vec items);
ast_value *ast_negate(ast_value *v, span loc);   /* -INT / -FLOAT, widens loc */

ast_attr *ast_attr_new(arena *a, const char *key, span key_loc, ast_value *val);
ast_attrs ast_attrs_make(arena *a, span loc, ast_vec attrs);  /* of ast_attr* */

ast_stmt *ast_input(arena *a, span loc, ast_value *dims);
ast_stmt *ast_layer(arena *a, const char *kind, span kind_loc,
                    const char *name, span name_loc, ast_attrs attrs);
ast_stmt *ast_loss(arena *a, span loc, const char *name, span name_loc);
ast_stmt *ast_train(arena *a, span loc, ast_attrs attrs);
ast_network *ast_network_new(arena *a, const char *name, span name_loc,
                             ast_vec stmts, span close_loc);

#endif
