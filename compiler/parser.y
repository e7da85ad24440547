/* parser.y - the grammar of the .net language (LANGUAGE.md, "Structure").
 *
 * A pure bison parser over the reentrant flex scanner in lexer.l; all state
 * lives in a parse_state on parse()'s stack, nothing is global.  Actions are
 * one-line calls to the builders in ast.c.  Syntax errors are worded by
 * report_syntax_error() below in gcc's style ("expected ';' before 'conv'"),
 * and `stmt: error ";"` skips a broken statement so one run reports the
 * mistakes of several statements.
 *
 * parse.error is `custom` rather than `detailed`: it is the same machinery
 * (bison still computes the expected tokens, with LAC making that list
 * exact), but it hands us the token kinds instead of a finished English
 * sentence, so the wording and the token's source text are ours to choose.
 */

%code requires {
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ast.h"

/* A token's or a rule's place: line and byte column of its first byte
 * (1-based) and its byte range [begin, end) in the source. */
typedef struct cnnc_loc {
    int line, col;
    size_t begin, end;
} cnnc_loc;

/* A rule spans from its first symbol to its last; an empty rule gets no
 * line (line 0) and sits at the end of what precedes it. */
#define YYLLOC_DEFAULT(Cur, Rhs, N)                                   \
    do {                                                              \
        if (N) {                                                      \
            (Cur).line = YYRHSLOC(Rhs, 1).line;                       \
            (Cur).col = YYRHSLOC(Rhs, 1).col;                         \
            (Cur).begin = YYRHSLOC(Rhs, 1).begin;                     \
            (Cur).end = YYRHSLOC(Rhs, N).end;                         \
        } else {                                                      \
            (Cur).line = (Cur).col = 0;                               \
            (Cur).begin = (Cur).end = YYRHSLOC(Rhs, 0).end;           \
        }                                                             \
    } while (0)

#ifndef YY_TYPEDEF_YY_SCANNER_T
#define YY_TYPEDEF_YY_SCANNER_T
typedef void *yyscan_t;
#endif

/* Everything one parse needs, shared by the scanner (as yyextra) and the
 * parser (as its parse-param). */
typedef struct parse_state {
    source *src;
    arena *a;
    ast_network *net;           /* the result, set by the `file` rule */
    int line, col;              /* scanner: where the next byte is */
    size_t off;
    cnnc_loc last;              /* scanner: the last token returned */
    bool have_last;
    cnnc_loc comment_open;      /* scanner: where an open block comment began */
    bool eof_explained;         /* a lexical error already explains the EOF */
} parse_state;

span loc_span(cnnc_loc l);
}

%code {
#include <limits.h>
#include <string.h>

#include "lexer.h"

static void yyerror(const cnnc_loc *loc, yyscan_t scanner, parse_state *ps, const char *msg);
static ast_vec vec_add(parse_state *ps, ast_vec v, void *item);
static span opt_span(const void *present, cnnc_loc l);

#define S(l) loc_span(l)
}

%define api.pure full
%define api.location.type {cnnc_loc}
%define api.token.prefix {TOK_}
%define parse.error custom
%define parse.lac full
%locations
%expect 0
%param {yyscan_t scanner}
%parse-param {parse_state *ps}

%union {
    int64_t i;
    double f;
    const char *id;
    ast_value *val;
    ast_vec vec;
    ast_attr *attr;
    ast_attrs attrs;
    ast_stmt *stmt;
}

/* The order below is the order of alternatives in "expected A, B or C". */
%token NETWORK "network" INPUT "input" LOSS "loss" TRAIN "train"
%token TRUE "true" FALSE "false"
%token <id> IDENT "identifier"
%token <i> INT "integer"
%token <f> FLOAT "decimal"
%token LBRACE "{" LBRACKET "[" LPAREN "(" EQUALS "=" COMMA "," SEMI ";"
%token RPAREN ")" RBRACKET "]" RBRACE "}" MINUS "-"

%type <vec> stmts attr_list values
%type <stmt> stmt
%type <id> opt_ident
%type <attrs> opt_attrs
%type <attr> attr
%type <val> value number

%%

/* file: "network" IDENT "{" stmts "}" -- nothing may follow the "}" */
file
    : "network" IDENT "{" stmts "}"     { ps->net = ast_network_new(ps->a, $2, S(@2), $4, S(@5)); }
    ;

/* stmts: stmt* */
stmts
    : %empty                            { $$ = (ast_vec){0}; }
    | stmts stmt                        { $$ = vec_add(ps, $1, $2); }
    ;

/* stmt: "input" value ";"                  the value is checked to be a list later
 *     | IDENT [IDENT] ["(" attrs ")"] ";"  a layer: kind, optional name
 *     | "loss" IDENT ";"
 *     | "train" ["(" attrs ")"] ";"
 *     | error ";"                          skip a broken statement, go on;
 *                                          yyerrok: the next statement starts
 *                                          afresh, so its errors are shown too */
stmt
    : "input" value ";"                 { $$ = ast_input(ps->a, S(@1), $2); }
    | IDENT opt_ident opt_attrs ";"     { $$ = ast_layer(ps->a, $1, S(@1), $2, opt_span($2, @2), $3); }
    | "loss" IDENT ";"                  { $$ = ast_loss(ps->a, S(@1), $2, S(@2)); }
    | "train" opt_attrs ";"             { $$ = ast_train(ps->a, S(@1), $2); }
    | error ";"                         { yyerrok; $$ = NULL; }
    ;

/* opt_ident: [IDENT] -- a layer's name */
opt_ident
    : %empty                            { $$ = NULL; }
    | IDENT                             { $$ = $1; }
    ;

/* opt_attrs: [ "(" ")" | "(" attr ("," attr)* ")" ] */
opt_attrs
    : %empty                            { $$ = (ast_attrs){0}; }
    | "(" ")"                           { $$ = ast_attrs_make(ps->a, S(@$), (ast_vec){0}); }
    | "(" attr_list ")"                 { $$ = ast_attrs_make(ps->a, S(@$), $2); }
    ;

/* attr_list: attr ("," attr)* */
attr_list
    : attr                              { $$ = vec_add(ps, (ast_vec){0}, $1); }
    | attr_list "," attr                { $$ = vec_add(ps, $1, $3); }
    ;

/* attr: IDENT "=" value */
attr
    : IDENT "=" value                   { $$ = ast_attr_new(ps->a, $1, S(@1), $3); }
    ;

/* value: number | "-" number | "true" | "false" | IDENT
 *      | IDENT "(" value ")" | "[" "]" | "[" value ("," value)* "]"
 * An empty list parses so that lower() and check() can say what is missing
 * ("'connect' row 1 is empty", "'kernel' needs 1 to 3 values, got 0"). */
value
    : number                            { $$ = $1; }
    | "-" number                        { $$ = ast_negate($2, S(@$)); }
    | "true"                            { $$ = ast_bool(ps->a, S(@1), true); }
    | "false"                           { $$ = ast_bool(ps->a, S(@1), false); }
    | IDENT                             { $$ = ast_ident(ps->a, S(@1), $1); }
    | IDENT "(" value ")"               { $$ = ast_call(ps->a, S(@$), $1, S(@1), $3); }
    | "[" "]"                           { $$ = ast_list(ps->a, S(@$), (ast_vec){0}); }
    | "[" values "]"                    { $$ = ast_list(ps->a, S(@$), $2); }
    ;

/* number: INT | FLOAT */
number
    : INT                               { $$ = ast_int(ps->a, S(@1), $1); }
    | FLOAT                             { $$ = ast_float(ps->a, S(@1), $1); }
    ;

/* values: value ("," value)* */
values
    : value                             { $$ = vec_add(ps, (ast_vec){0}, $1); }
    | values "," value                  { $$ = vec_add(ps, $1, $3); }
    ;

%%

span loc_span(cnnc_loc l)
{
    size_t len = l.end - l.begin;
    return (span){ l.line, l.col, len > INT_MAX ? INT_MAX : (int)len };
}

static span opt_span(const void *present, cnnc_loc l)
{
    return present ? loc_span(l) : (span){0, 0, 0};
}

/* A NULL item is a statement skipped by error recovery: already reported. */
static ast_vec vec_add(parse_state *ps, ast_vec v, void *item)
{
    if (item)
        ast_vec_push(ps->a, &v, item);
    return v;
}

/* The only message bison itself produces here is stack exhaustion, which
 * only values nested thousands deep can cause. */
static void yyerror(const cnnc_loc *loc, yyscan_t scanner, parse_state *ps, const char *msg)
{
    (void)scanner;
    if (strcmp(msg, "memory exhausted") == 0)
        msg = "value nested too deeply";
    error_at(ps->src, loc_span(*loc), "%s", msg);
}

/* How a token is named in "expected ...": the word for a token class, the
 * quoted text for a keyword or punctuation ("\";\"" becomes "';'"). */
static void name_token(strbuf *b, yysymbol_kind_t k)
{
    switch (k) {
    case YYSYMBOL_YYEOF: sb_puts(b, "end of file"); return;
    case YYSYMBOL_IDENT: sb_puts(b, "identifier"); return;
    case YYSYMBOL_INT:   sb_puts(b, "integer"); return;
    case YYSYMBOL_FLOAT: sb_puts(b, "decimal"); return;
    default: break;
    }
    const char *s = yysymbol_name(k);
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '"')
        s++, n -= 2;
    sb_printf(b, "'%.*s'", (int)n, s);
}

/* If every token of `group` is expected, they are replaced by one word:
 * "expected value" reads better than a list of seven tokens.  `also` are
 * cleared with them (tokens the word covers but that need not all be there). */
static bool fold(bool *want, const yysymbol_kind_t *group, int ng,
                 const yysymbol_kind_t *also, int na)
{
    for (int i = 0; i < ng; i++)
        if (!want[group[i]])
            return false;
    for (int i = 0; i < ng; i++)
        want[group[i]] = false;
    for (int i = 0; i < na; i++)
        want[also[i]] = false;
    return true;
}

/* One alternative in "expected A, B or C": a word standing for a group of
 * tokens, or a single token. */
typedef struct alternative { const char *word; yysymbol_kind_t tok; } alternative;

/* The expected tokens as alternatives, groups folded first, the rest in
 * the order the %token lines give. */
static int alternatives(const yysymbol_kind_t *exp, int n, alternative *out)
{
    static const yysymbol_kind_t value[] = { YYSYMBOL_INT, YYSYMBOL_FLOAT, YYSYMBOL_LBRACKET };
    static const yysymbol_kind_t value_also[] = { YYSYMBOL_MINUS, YYSYMBOL_TRUE,
                                                  YYSYMBOL_FALSE, YYSYMBOL_IDENT };
    static const yysymbol_kind_t number[] = { YYSYMBOL_INT, YYSYMBOL_FLOAT };
    static const yysymbol_kind_t stmt[] = { YYSYMBOL_INPUT, YYSYMBOL_LOSS, YYSYMBOL_TRAIN };
    static const yysymbol_kind_t stmt_also[] = { YYSYMBOL_IDENT };
    bool want[YYNTOKENS] = { false };
    int na = 0;
    for (int i = 0; i < n; i++)
        want[exp[i]] = true;
    if (fold(want, stmt, 3, stmt_also, 1))
        out[na++] = (alternative){ "statement", YYSYMBOL_YYEMPTY };
    if (fold(want, value, 3, value_also, 4))
        out[na++] = (alternative){ "value", YYSYMBOL_YYEMPTY };
    if (fold(want, number, 2, NULL, 0))
        out[na++] = (alternative){ "number", YYSYMBOL_YYEMPTY };
    for (int k = 0; k < YYNTOKENS; k++)
        if (want[k])
            out[na++] = (alternative){ NULL, (yysymbol_kind_t)k };
    return na;
}

/* "value", "statement or '}'", "',' or ')'", "identifier, '(' or ';'" */
static void describe_expected(strbuf *b, const yysymbol_kind_t *exp, int n)
{
    alternative alts[YYNTOKENS + 3];
    int na = alternatives(exp, n, alts);
    for (int i = 0; i < na; i++) {
        sb_puts(b, i == 0 ? "" : i == na - 1 ? " or " : ", ");
        if (alts[i].word)
            sb_puts(b, alts[i].word);
        else
            name_token(b, alts[i].tok);
    }
}

/* "before 'conv'" or "at end of file".  A token is quoted as written, cut
 * short if long (a 300-digit number is not worth repeating). */
static void describe_unexpected(strbuf *b, const parse_state *ps,
                                yysymbol_kind_t got, const cnnc_loc *l, bool expected)
{
    if (got == YYSYMBOL_YYEOF) {
        sb_puts(b, expected ? " at end of file" : "end of file");
        return;
    }
    size_t len = l->end - l->begin;
    sb_printf(b, "%s'%.*s%s'", expected ? " before " : "",
              len > 40 ? 37 : (int)len, ps->src->text + l->begin, len > 40 ? "..." : "");
}

/* gcc's wording, "expected ';' before 'conv'", "expected '}' at end of
 * file", with the caret on the unexpected token. */
static int yyreport_syntax_error(const yypcontext_t *ctx, yyscan_t scanner, parse_state *ps)
{
    (void)scanner;
    yysymbol_kind_t got = yypcontext_token(ctx);
    const cnnc_loc *loc = yypcontext_location(ctx);
    if (got == YYSYMBOL_YYEOF && ps->eof_explained)
        return 0;                       /* nerrors > 0 already */
    yysymbol_kind_t exp[YYNTOKENS];
    int n = yypcontext_expected_tokens(ctx, exp, YYNTOKENS);
    if (n < 0)
        return n;
    /* At end of file the useful advice is the bracket still open, not
     * "statement or '}'": everything else could go on forever. */
    for (int i = 0; got == YYSYMBOL_YYEOF && i < n; i++)
        if (exp[i] == YYSYMBOL_RBRACE)
            exp[0] = YYSYMBOL_RBRACE, n = 1;
    strbuf msg = {0};
    sb_puts(&msg, n > 0 ? "expected " : "unexpected ");
    describe_expected(&msg, exp, n);
    describe_unexpected(&msg, ps, got, loc, n > 0);
    if (got == YYSYMBOL_NETWORK && n == 1 && exp[0] == YYSYMBOL_YYEOF)
        sb_puts(&msg, " (a file holds one network)");
    error_at(ps->src, loc_span(*loc), "%s", msg.data);
    sb_free(&msg);
    return 0;
}

/* parse(): see ast.h. */
ast_network *parse(source *src, arena *a)
{
    if (src->len > INT_MAX - 2) {       /* flex counts buffer sizes in int */
        error_at(src, (span){0, 0, 0}, "file too large");
        return NULL;
    }
    parse_state ps = { .src = src, .a = a, .line = 1, .col = 1 };
    yyscan_t scanner;
    if (yylex_init_extra(&ps, &scanner) != 0)
        die("cannot create the scanner");
    YY_BUFFER_STATE buf = yy_scan_bytes(src->text, (int)src->len, scanner);
    yyparse(scanner, &ps);
    yy_delete_buffer(buf, scanner);
    yylex_destroy(scanner);
    return src->nerrors > 0 ? NULL : ps.net;
}
