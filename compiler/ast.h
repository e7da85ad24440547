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

#endif
