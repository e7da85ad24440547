/* cnnrt_progress.c - the training progress bar.  On a terminal:
 *   epoch 2/5 [#########...........] 45% 3.1k img/s loss 0.4123 eta 0:07
 * on one line, redrawn at most ~10 times a second; elsewhere nothing (the
 * driver prints one line per epoch). */
#include "cnnrt.h"

#include <string.h>
#include <unistd.h>

#define BAR_WIDTH 20

char *cnnrt_format_duration(double seconds, char *buf, size_t len)
{
    long s = seconds > 0 && seconds < 1e9 ? (long)(seconds + 0.5) : 0;
    if (s >= 3600)
        snprintf(buf, len, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, len, "%ld:%02ld", s / 60, s % 60);
    return buf;
}

static char *format_rate(double r, char *buf, size_t len)
{
    if (r >= 1e6)
        snprintf(buf, len, "%.1fM", r / 1e6);
    else if (r >= 1e3)
        snprintf(buf, len, "%.1fk", r / 1e3);
    else
        snprintf(buf, len, "%.0f", r);
    return buf;
}

void cnnrt_progress_begin(cnnrt_progress *p, FILE *out, int epoch, int epochs,
                          int64_t total)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->tty = isatty(fileno(out));
    p->epoch = epoch;
    p->epochs = epochs;
    p->total = total;
    p->t0 = cnnrt_now();
    p->last_draw = -1;
}

static void draw(cnnrt_progress *p, double now)
{
    char bar[BAR_WIDTH + 1], rate[32], eta[32];
    double frac = p->total > 0 ? (double)p->done / (double)p->total : 1;
    double el = now - p->t0, ips = el > 0 ? (double)p->done / el : 0;
    int fill = (int)(frac * BAR_WIDTH);
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    cnnrt_format_duration(ips > 0 ? (double)(p->total - p->done) / ips : 0, eta, sizeof eta);
    fprintf(p->out, "\repoch %d/%d [%s] %3d%% %s img/s loss %.4f eta %s\033[K", p->epoch,
            p->epochs, bar, (int)(frac * 100), format_rate(ips, rate, sizeof rate),
            p->loss_n ? p->loss_sum / (double)p->loss_n : 0.0, eta);
    fflush(p->out);
    p->last_draw = now;
}

void cnnrt_progress_update(cnnrt_progress *p, int64_t n, double loss)
{
    double now;
    p->done += n;
    p->loss_sum += loss * (double)n;
    p->loss_n += n;
    if (!p->tty)
        return;
    now = cnnrt_now();
    if (p->last_draw < 0 || now - p->last_draw >= 0.1 || p->done == p->total)
        draw(p, now);
}

double cnnrt_progress_end(cnnrt_progress *p)
{
    if (p->tty) {
        fputs("\r\033[K", p->out);
        fflush(p->out);
    }
    return p->loss_n ? p->loss_sum / (double)p->loss_n : 0.0;
}
