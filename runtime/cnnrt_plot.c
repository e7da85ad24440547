/* cnnrt_plot.c - train --plot FILE.svg: the training curves as an SVG
 * picture, written in plain C.
 *
 * Two panels share the x axis (optimizer steps): training loss above,
 * training and test accuracy (%) below.  Thin lines join the rows taken
 * every few steps, thick lines with dots the epoch rows; dotted verticals
 * mark the ends of epochs.  Axes have "nice" ticks (1, 2 or 5 times a
 * power of ten) with labels; each panel has a legend.
 */
#include "cnnrt.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

enum { WIDTH = 760, HEIGHT = 580, LEFT = 72, RIGHT = 24 };

typedef struct panel {
    double top, height;       /* pixels */
    double ymax;              /* data value at the top; 0 at the bottom */
    double ystep;             /* tick spacing */
} panel;

typedef struct plot {
    FILE *f;
    const cnnrt_log_row *rows;
    int n;
    double xmax, xstep;       /* steps at the right edge; tick spacing */
    int every;                /* steps between the thin curves' points */
    const char *title, *subtitle;
} plot;

static const char *const BLUE = "#1f77b4", *const ORANGE = "#ff7f0e", *const GREY = "#888888";

/* 1, 2 or 5 times a power of ten, near range / 5. */
static double nice_step(double range)
{
    double raw = range > 0 ? range / 5 : 1, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static double px_x(const plot *pl, double step)
{
    return LEFT + (WIDTH - LEFT - RIGHT) * step / pl->xmax;
}

static double px_y(const panel *pn, double v)
{
    return pn->top + pn->height * (1 - v / pn->ymax);
}

static double get(const cnnrt_log_row *r, size_t off)
{
    double v;
    memcpy(&v, (const char *)r + off, sizeof v);
    return v;
}

/* Writes s with &, <, > escaped. */
static void text(FILE *f, const char *s)
{
    for (; *s; s++)
        if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else
            fputc(*s, f);
}

/* Frame, horizontal grid and y ticks of one panel, its y label. */
static void y_axis(const plot *pl, const panel *pn, const char *label, int percent)
{
    FILE *f = pl->f;
    double right = WIDTH - RIGHT;
    fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"none\" "
               "stroke=\"#444\"/>\n", LEFT, pn->top, WIDTH - LEFT - RIGHT, pn->height);
    for (int i = 0; i * pn->ystep <= pn->ymax * (1 + 1e-9); i++) {
        double v = i * pn->ystep, y = px_y(pn, v);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>\n",
                LEFT, y, right, y);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#444\"/>\n",
                LEFT - 5, y, LEFT, y);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g%s</text>\n", LEFT - 8,
                y + 4, percent ? 100 * v : v, percent ? "%" : "");
    }
    fprintf(f, "<text transform=\"translate(18,%.1f) rotate(-90)\" text-anchor=\"middle\">"
               "%s</text>\n", pn->top + pn->height / 2, label);
}

static void vline(const plot *pl, const panel *pn, double x)
{
    fprintf(pl->f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                   "stroke-dasharray=\"2,3\"/>\n", x, pn->top, x, pn->top + pn->height, GREY);
}

/* Dotted verticals at epoch ends (numbered above the first panel when few). */
static void epoch_marks(const plot *pl, const panel *top, const panel *bottom)
{
    int epochs = 0;
    for (int i = 0; i < pl->n; i++)
        epochs += pl->rows[i].end_of_epoch;
    for (int i = 0; i < pl->n; i++) {
        const cnnrt_log_row *r = &pl->rows[i];
        double x = px_x(pl, (double)r->step);
        if (!r->end_of_epoch)
            continue;
        vline(pl, top, x);
        vline(pl, bottom, x);
        if (epochs <= 25)
            fprintf(pl->f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"10\" "
                           "fill=\"%s\">%d</text>\n", x, top->top - 4, GREY, r->epoch);
    }
}

/* x ticks and labels under the lower panel. */
static void x_axis(const plot *pl, const panel *pn)
{
    double base = pn->top + pn->height;
    for (int i = 0; i * pl->xstep <= pl->xmax * (1 + 1e-9); i++) {
        double x = px_x(pl, i * pl->xstep);
        fprintf(pl->f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>\n",
                x, base, x, base + 5);
        fprintf(pl->f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n", x,
                base + 19, i * pl->xstep);
    }
    fprintf(pl->f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">optimizer steps "
                   "(dotted: end of an epoch, numbered above)</text>\n",
            (LEFT + WIDTH - RIGHT) / 2.0, base + 40);
}

/* The values at offset off of the rows with end_of_epoch == epochs, as a
 * polyline (broken where a value is missing), dots for epoch rows. */
static void series(const plot *pl, const panel *pn, size_t off, int epochs, const char *colour)
{
    int open = 0;
    for (int i = 0; i < pl->n; i++) {
        const cnnrt_log_row *r = &pl->rows[i];
        double v = get(r, off);
        if (r->end_of_epoch != epochs)
            continue;
        if (isnan(v) || isinf(v)) {
            fputs(open ? "\"/>\n" : "", pl->f);
            open = 0;
            continue;
        }
        if (!open)
            fprintf(pl->f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" points=\"",
                    colour, epochs ? "2.2" : "1");
        fprintf(pl->f, "%s%.1f,%.1f", open ? " " : "", px_x(pl, (double)r->step),
                px_y(pn, v > pn->ymax ? pn->ymax : v));
        open = 1;
    }
    fputs(open ? "\"/>\n" : "", pl->f);
    for (int i = 0; epochs && i < pl->n; i++) {
        double v = get(&pl->rows[i], off);
        if (pl->rows[i].end_of_epoch && !isnan(v) && !isinf(v))
            fprintf(pl->f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.2\" fill=\"%s\"/>\n",
                    px_x(pl, (double)pl->rows[i].step), px_y(pn, v > pn->ymax ? pn->ymax : v),
                    colour);
    }
}

typedef struct entry {
    const char *colour;
    int epochs;               /* 1: thick line with dots (epoch rows); 0: thin */
    const char *label;
} entry;

/* A legend box, its top right corner at (right, top): one line per entry. */
static void legend(const plot *pl, double right, double top, int n, const entry *e)
{
    double w = 290, x = right - w - 8;
    fprintf(pl->f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"white\" "
                   "fill-opacity=\"0.9\" stroke=\"#bbb\"/>\n", x, top, w, 8 + 18 * n);
    for (int i = 0; i < n; i++) {
        char label[160];
        double y = top + 16 + 18 * i;
        fprintf(pl->f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                       "stroke-width=\"%s\"/>\n", x + 8, y - 4, x + 34, y - 4, e[i].colour,
                e[i].epochs ? "2.2" : "1");
        if (e[i].epochs)
            fprintf(pl->f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.2\" fill=\"%s\"/>\n", x + 21,
                    y - 4, e[i].colour);
        snprintf(label, sizeof label, e[i].label, pl->every);
        fprintf(pl->f, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", x + 42, y, label);
    }
}

/* Entries of e whose curves have points: step rows exist, or it is an epoch curve. */
static int present(const plot *pl, int n, const entry *e, entry *out)
{
    int k = 0, steps = 0;
    for (int i = 0; i < pl->n; i++)
        steps |= !pl->rows[i].end_of_epoch;
    for (int i = 0; i < n; i++)
        if (e[i].epochs || steps)
            out[k++] = e[i];
    return k;
}

/* The largest finite value at offset off (0 if none). */
static double largest(const plot *pl, size_t off)
{
    double m = 0;
    for (int i = 0; i < pl->n; i++) {
        double v = get(&pl->rows[i], off);
        if (!isnan(v) && !isinf(v) && v > m)
            m = v;
    }
    return m;
}

static void draw_loss(const plot *pl, panel *pn)
{
    static const entry e[] = {{BLUE, 0, "training loss, every %d steps"},
                              {BLUE, 1, "training loss, mean of the epoch"}};
    entry shown[2];
    double m = largest(pl, offsetof(cnnrt_log_row, loss));
    pn->ystep = nice_step(m > 0 ? m : 1);
    pn->ymax = pn->ystep * ceil((m > 0 ? m : 1) / pn->ystep);
    y_axis(pl, pn, "loss", 0);
    series(pl, pn, offsetof(cnnrt_log_row, loss), 0, BLUE);
    series(pl, pn, offsetof(cnnrt_log_row, loss), 1, BLUE);
    legend(pl, WIDTH - RIGHT, pn->top + 8, present(pl, 2, e, shown), shown);
}

/* Accuracy climbs towards the top right: the legend goes bottom right. */
static void draw_accuracy(const plot *pl, panel *pn)
{
    static const entry e[] = {{BLUE, 0, "training accuracy, every %d steps"},
                              {BLUE, 1, "training accuracy, whole epoch"},
                              {ORANGE, 1, "test accuracy, after each epoch"}};
    entry shown[3];
    int n = present(pl, 3, e, shown);
    pn->ymax = 1;
    pn->ystep = 0.2;
    y_axis(pl, pn, "accuracy", 1);
    series(pl, pn, offsetof(cnnrt_log_row, train_acc), 0, BLUE);
    series(pl, pn, offsetof(cnnrt_log_row, train_acc), 1, BLUE);
    series(pl, pn, offsetof(cnnrt_log_row, test_acc), 1, ORANGE);
    legend(pl, WIDTH - RIGHT, pn->top + pn->height - 16 - 18 * n, n, shown);
}

static int write_svg(FILE *f, void *arg, char *err, size_t errlen)
{
    plot *pl = arg;
    panel loss = {62, 210, 1, 1}, acc = {330, 180, 1, 0.2};
    int64_t last = pl->n ? pl->rows[pl->n - 1].step : 0;
    pl->f = f;
    pl->xstep = nice_step(last > 0 ? (double)last : 1);
    pl->xmax = pl->xstep * ceil((last > 0 ? (double)last : 1) / pl->xstep);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"Helvetica, Arial, sans-serif\" "
               "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
               WIDTH, HEIGHT, WIDTH, HEIGHT);
    fprintf(f, "<text x=\"%d\" y=\"22\" font-size=\"15\" font-weight=\"bold\">", LEFT);
    text(f, pl->title);
    fprintf(f, "</text>\n<text x=\"%d\" y=\"40\" fill=\"#555\">", LEFT);
    text(f, pl->subtitle);
    fputs("</text>\n", f);
    draw_loss(pl, &loss);
    draw_accuracy(pl, &acc);
    epoch_marks(pl, &loss, &acc);
    x_axis(pl, &acc);
    fputs("</svg>\n", f);
    return ferror(f) ? cnnrt_errorf(err, errlen, "write error") : 0;
}

int cnnrt_plot_write(const char *path, const cnnrt_log_row *rows, int n, int every,
                     const char *title, const char *subtitle, char *err, size_t errlen)
{
    plot pl;
    memset(&pl, 0, sizeof pl);
    pl.every = every;
    pl.rows = rows;
    pl.n = n;
    pl.title = title ? title : "";
    pl.subtitle = subtitle ? subtitle : "";
    return cnnrt_atomic_write(path, write_svg, &pl, err, errlen);
}
