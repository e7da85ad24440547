/* test_util.c - util.c: the arena, strbuf, reading sources, the exact
 * layout of diagnostics (carets, tabs, clamping, control bytes, the error
 * limit) and edit_distance. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

/* ---- stderr capture: diagnostics go to fd 2, so swap fd 2 for a file ---- */
typedef struct { int saved; FILE *tmp; } capture;

static void capture_begin(capture *c)
{
    fflush(stderr);
    c->tmp = tmpfile();
    ck_assert_ptr_nonnull(c->tmp);
    c->saved = dup(2);
    dup2(fileno(c->tmp), 2);
}

static char *capture_end(capture *c)
{
    fflush(stderr);
    dup2(c->saved, 2);
    close(c->saved);
    off_t n = lseek(fileno(c->tmp), 0, SEEK_END);   /* fd 2 wrote here */
    ck_assert_int_ge(n, 0);
    char *s = calloc(1, (size_t)n + 1);
    rewind(c->tmp);
    ck_assert_int_eq(fread(s, 1, (size_t)n, c->tmp), (size_t)n);
    fclose(c->tmp);
    return s;
}

static arena *a;
static char *errs;

static void setup(void)
{
    a = arena_new();
}

static void teardown(void)
{
    arena_free(a);
    free(errs);
    errs = NULL;
}

/* Reports one error at `at` in a source holding `text`; returns stderr. */
static const char *report(const char *text, span at, const char *msg)
{
    source *src = source_from_string(a, "f.net", text);
    capture c;
    capture_begin(&c);
    error_at(src, at, "%s", msg);
    free(errs);
    errs = capture_end(&c);
    ck_assert_int_eq(src->nerrors, 1);
    return errs;
}

/* ---- diagnostics ---- */

START_TEST(the_documented_example)
{
    ck_assert_str_eq(report("network n {\n\n\n\n    conv c1 (filter = 6, kernel = 5);\n}\n",
                            (span){5, 14, 6}, "unknown attribute 'filter' for conv"),
        "f.net:5:14: error: unknown attribute 'filter' for conv\n"
        "    5 |     conv c1 (filter = 6, kernel = 5);\n"
        "      |              ^~~~~~\n");
}
END_TEST

/* Tabs before the caret stay tabs, so it lines up at any tab width. */
START_TEST(tabs_are_kept)
{
    ck_assert_str_eq(report("\tconv\tc1;", (span){1, 7, 2}, "m"),
        "f.net:1:7: error: m\n"
        "    1 | \tconv\tc1;\n"
        "      | \t    \t^~\n");
}
END_TEST

/* A span running past the end of its line (a list over two lines) is
 * underlined to the line's end only; a CRLF's '\r' is not shown. */
START_TEST(underline_stops_at_line_end)
{
    ck_assert_str_eq(report("a = [1,\r\n 2];", (span){1, 5, 11}, "m"),
        "f.net:1:5: error: m\n"
        "    1 | a = [1,\n"
        "      |     ^~~\n");
}
END_TEST

/* End of file: the caret may sit one past the last byte of the line. */
START_TEST(caret_after_the_line)
{
    ck_assert_str_eq(report("x {", (span){1, 4, 1}, "m"),
        "f.net:1:4: error: m\n"
        "    1 | x {\n"
        "      |    ^\n");
}
END_TEST

START_TEST(control_bytes_shown_as_question_marks)
{
    ck_assert_str_eq(report("a\001b\033[2Jc\177", (span){1, 2, 1}, "m"),
        "f.net:1:2: error: m\n"
        "    1 | a?b?[2Jc?\n"
        "      |  ^\n");
}
END_TEST

/* UTF-8 continuation bytes take no column, so carets after an `é` line up. */
START_TEST(utf8_before_the_caret)
{
    ck_assert_str_eq(report("\xc3\xa9 = x\xc3\xa9y;", (span){1, 6, 4}, "m"),
        "f.net:1:6: error: m\n"
        "    1 | \xc3\xa9 = x\xc3\xa9y;\n"
        "      |     ^~~\n");
}
END_TEST

START_TEST(no_line_no_excerpt)
{
    ck_assert_str_eq(report("x", (span){0, 0, 0}, "no network in file"),
        "f.net: error: no network in file\n");
    ck_assert_str_eq(report("x", (span){7, 1, 1}, "past the end"),
        "f.net:7:1: error: past the end\n");
}
END_TEST

START_TEST(wide_line_numbers)
{
    char *text = calloc(1, 200001);
    memset(text, '\n', 123456);
    strcpy(text + 123456, "bad");
    ck_assert_str_eq(report(text, (span){123457, 1, 3}, "m"),
        "f.net:123457:1: error: m\n"
        "123457 | bad\n"
        "       | ^~~\n");
    free(text);
}
END_TEST

START_TEST(notes_do_not_count)
{
    source *src = source_from_string(a, "f.net", "conv c1;\nconv c1;\n");
    capture c;
    capture_begin(&c);
    error_at(src, (span){2, 6, 2}, "layer name '%s' is used twice", "c1");
    note_at(src, (span){1, 6, 2}, "first used here");
    errs = capture_end(&c);
    ck_assert_int_eq(src->nerrors, 1);
    ck_assert_str_eq(errs,
        "f.net:2:6: error: layer name 'c1' is used twice\n"
        "    2 | conv c1;\n"
        "      |      ^~\n"
        "f.net:1:6: note: first used here\n"
        "    1 | conv c1;\n"
        "      |      ^~\n");
}
END_TEST

START_TEST(no_source)
{
    capture c;
    capture_begin(&c);
    error_at(NULL, (span){3, 4, 5}, "no file at all");
    errs = capture_end(&c);
    ck_assert_str_eq(errs, "cnnc: error: no file at all\n");
}
END_TEST

/* Twenty errors print; the 21st prints the stop line; after it errors and
 * notes are dropped, and nothing exits. */
START_TEST(error_limit)
{
    source *src = source_from_string(a, "f.net", "x");
    capture c;
    capture_begin(&c);
    for (int i = 1; i <= 30; i++) {
        ck_assert(!too_many_errors(src) == (i <= 21));
        error_at(src, (span){0, 0, 0}, "e%d", i);
        note_at(src, (span){0, 0, 0}, "n%d", i);
    }
    errs = capture_end(&c);
    ck_assert_int_eq(src->nerrors, 21);
    ck_assert(too_many_errors(src));
    ck_assert_ptr_nonnull(strstr(errs, "f.net: error: e20\nf.net: note: n20\n"));
    ck_assert_ptr_null(strstr(errs, "e21"));
    ck_assert_ptr_null(strstr(errs, "n21"));
    const char *tail = "f.net: note: n20\nf.net: error: too many errors, stopping\n";
    ck_assert_uint_ge(strlen(errs), strlen(tail));
    ck_assert_str_eq(errs + strlen(errs) - strlen(tail), tail);
}
END_TEST

/* ---- sources ---- */

START_TEST(read_a_file)
{
    char path[] = "/tmp/cnnc_test_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "ab\0cd", 5), 5);
    close(fd);
    source *src = source_read(a, path);
    unlink(path);
    ck_assert_ptr_nonnull(src);
    ck_assert_str_eq(src->name, path);
    ck_assert_uint_eq(src->len, 5);
    ck_assert_int_eq(memcmp(src->text, "ab\0cd", 6), 0);   /* NUL-terminated */
    ck_assert_int_eq(src->nerrors, 0);
}
END_TEST

START_TEST(read_failures)
{
    capture c;
    capture_begin(&c);
    source *missing = source_read(a, "/nonexistent/x.net");
    source *dir = source_read(a, "/");
    errs = capture_end(&c);
    ck_assert_ptr_null(missing);
    ck_assert_ptr_null(dir);
    ck_assert_str_eq(errs,
        "cnnc: cannot read /nonexistent/x.net: No such file or directory\n"
        "cnnc: cannot read /: Is a directory\n");
}
END_TEST

START_TEST(read_stdin)
{
    FILE *in = tmpfile();
    fputs("network n {}\n", in);
    rewind(in);
    dup2(fileno(in), 0);
    source *src = source_read(a, "-");
    ck_assert_ptr_nonnull(src);
    ck_assert_str_eq(src->name, "<stdin>");
    ck_assert_str_eq(src->text, "network n {}\n");
    fclose(in);
}
END_TEST

/* ---- arena and strbuf ---- */

START_TEST(arena_zeroed_and_aligned)
{
    for (size_t n = 1; n < 3000; n += 7) {
        unsigned char *p = arena_alloc(a, n);
        unsigned char any = 0;  /* one assertion per block: fast under ASan too */
        ck_assert_uint_eq((uintptr_t)p % 16, 0);
        for (size_t i = 0; i < n; i++)
            any |= p[i];
        ck_assert_uint_eq(any, 0);
        memset(p, 0xab, n);
    }
    unsigned char *big = arena_alloc(a, 1 << 20);     /* its own block */
    ck_assert_uint_eq(big[(1 << 20) - 1], 0);
    unsigned char *after = arena_alloc(a, 8);         /* still zeroed */
    ck_assert_uint_eq(after[7], 0);
}
END_TEST

START_TEST(arena_strings)
{
    ck_assert_str_eq(arena_strndup(a, "convolution", 4), "conv");
    ck_assert_str_eq(arena_strdup(a, "relu"), "relu");
    ck_assert_str_eq(arena_printf(a, "%s.%s[%d]", "c1", "weight", 6), "c1.weight[6]");
}
END_TEST

START_TEST(strbuf_grows)
{
    strbuf b = {0};
    for (int i = 0; i < 1000; i++)
        sb_printf(&b, "%d,", i % 10);
    ck_assert_uint_eq(b.len, 2000);
    ck_assert_int_eq(b.data[b.len], '\0');
    sb_puts(&b, "end");
    sb_putn(&b, "xyz", 1);
    ck_assert_str_eq(b.data + 1996, "8,9,endx");
    sb_free(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len, 0);
}
END_TEST

/* ---- edit distance ---- */

START_TEST(edit_distances)
{
    ck_assert_int_eq(edit_distance("", ""), 0);
    ck_assert_int_eq(edit_distance("relu", "relu"), 0);
    ck_assert_int_eq(edit_distance("filter", "filters"), 1);
    ck_assert_int_eq(edit_distance("kernle", "kernel"), 1);    /* a swap */
    ck_assert_int_eq(edit_distance("sigmoid", "sigmiod"), 1);
    ck_assert_int_eq(edit_distance("tahn", "tanh"), 1);
    ck_assert_int_eq(edit_distance("tanh", "than"), 2);     /* a move, not a swap */
    ck_assert_int_eq(edit_distance("stride", "size"), 3);
    ck_assert_int_eq(edit_distance("", "conv"), 4);
    ck_assert_int_eq(edit_distance("maxpool", "avgpool"), 3);
}
END_TEST

static Suite *util_suite(void)
{
    Suite *s = suite_create("util");
    TCase *diag = tcase_create("diagnostics");
    tcase_add_checked_fixture(diag, setup, teardown);
    tcase_add_test(diag, the_documented_example);
    tcase_add_test(diag, tabs_are_kept);
    tcase_add_test(diag, underline_stops_at_line_end);
    tcase_add_test(diag, caret_after_the_line);
    tcase_add_test(diag, control_bytes_shown_as_question_marks);
    tcase_add_test(diag, utf8_before_the_caret);
    tcase_add_test(diag, no_line_no_excerpt);
    tcase_add_test(diag, wide_line_numbers);
    tcase_add_test(diag, notes_do_not_count);
    tcase_add_test(diag, no_source);
    tcase_add_test(diag, error_limit);
    suite_add_tcase(s, diag);
    TCase *io = tcase_create("sources");
    tcase_add_checked_fixture(io, setup, teardown);
    tcase_add_test(io, read_a_file);
    tcase_add_test(io, read_failures);
    tcase_add_test(io, read_stdin);
    suite_add_tcase(s, io);
    TCase *mem = tcase_create("memory");
    tcase_add_checked_fixture(mem, setup, teardown);
    tcase_add_test(mem, arena_zeroed_and_aligned);
    tcase_add_test(mem, arena_strings);
    tcase_add_test(mem, strbuf_grows);
    tcase_add_test(mem, edit_distances);
    suite_add_tcase(s, mem);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(util_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
