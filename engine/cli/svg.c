/*
 * svg.c: the chart primitives of svg.h. Every chart is drawn into a fixed viewBox with
 * presentation attributes (fonts, colours, dashes), so that it reads the same inside the HTML
 * report (scaled to the page's width by CSS) and as a standalone .svg file. Colours: viridis for
 * values (sequential, perceptually uniform, readable in grey and by colour-blind readers) and
 * Okabe and Ito's set for series. It does no I/O beyond the FILE it is given and keeps no state.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "svg.h"

#define FONT "DejaVu Sans, Helvetica, Arial, sans-serif"
/* Ticks per axis at most: a range too narrow for its magnitude (1e20 + 0.2 steps) cannot loop. */
#define MAX_TICKS 40

/* The length of the valid UTF-8 sequence at s (1-4), or 0 when it is not one (a stray
 * continuation byte, an overlong form, a surrogate, past U+10FFFF, cut short). */
static size_t utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	size_t n = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
	if (!n || s[0] > 0xF4)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0) ||
	    (s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90) ||
	    (s[0] == 0xEF && s[1] == 0xBF && s[2] >= 0xBE)) /* U+FFFE, U+FFFF: not XML either */
		return 0;
	return n;
}

void lethe_svg_esc_cut(FILE *o, const char *s, size_t max)
{
	size_t chars = 0;
	const unsigned char *p = (const unsigned char *)s;
	while (p && *p) {
		if (chars++ == max) {
			fputs("\xe2\x80\xa6", o); /* … */
			return;
		}
		unsigned char ch = *p;
		size_t len = utf8_len(p);
		if (len == 0) {
			fputs("\xef\xbf\xbd", o); /* not UTF-8: U+FFFD, as transformers' decode */
			p++;
			continue;
		}
		if (len > 1) {
			fwrite(p, 1, len, o);
			p += len;
			continue;
		}
		p++;
		if (ch == '<')
			fputs("&lt;", o);
		else if (ch == '>')
			fputs("&gt;", o);
		else if (ch == '&')
			fputs("&amp;", o);
		else if (ch == '"')
			fputs("&quot;", o);
		else if (ch == '\'')
			fputs("&#39;", o);
		else if ((ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') || ch == 0x7F)
			fputs("\xef\xbf\xbd", o); /* XML 1.0 has no such characters */
		else
			fputc(ch, o);
	}
}

void lethe_svg_esc(FILE *o, const char *s)
{
	lethe_svg_esc_cut(o, s, (size_t)-1);
}

/* matplotlib's viridis at t = 0, 1/16, ..., 1 (its 256-entry table sampled at i/16). */
static const unsigned char viridis[17][3] = {
    {0x44, 0x01, 0x54}, {0x48, 0x18, 0x6a}, {0x47, 0x2d, 0x7b}, {0x42, 0x40, 0x86},
    {0x3b, 0x52, 0x8b}, {0x33, 0x63, 0x8d}, {0x2c, 0x72, 0x8e}, {0x26, 0x82, 0x8e},
    {0x21, 0x91, 0x8c}, {0x1f, 0xa0, 0x88}, {0x28, 0xae, 0x80}, {0x3f, 0xbc, 0x73},
    {0x5e, 0xc9, 0x62}, {0x84, 0xd4, 0x4b}, {0xad, 0xdc, 0x30}, {0xd8, 0xe2, 0x19},
    {0xfd, 0xe7, 0x25}};

int lethe_svg_viridis(double t, char out[8])
{
	if (!(t >= 0))
		t = 0;
	if (t > 1)
		t = 1;
	double u = t * 16;
	int i = (int)u;
	if (i >= 16)
		i = 15;
	double f = u - i;
	int rgb[3];
	for (int k = 0; k < 3; k++)
		rgb[k] = (int)lround(viridis[i][k] * (1 - f) + viridis[i + 1][k] * f);
	snprintf(out, 8, "#%02x%02x%02x", rgb[0] & 0xFF, rgb[1] & 0xFF, rgb[2] & 0xFF);
	return t < 0.62; /* dark purple to teal: white text reads better */
}

const char *lethe_svg_colour(size_t i)
{
	/* Okabe and Ito (2008), without the yellow that vanishes on white. */
	static const char *const set[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
	                                  "#E69F00", "#56B4E9", "#000000"};
	return set[i % (sizeof(set) / sizeof(set[0]))];
}

static int real(double v)
{
	return !isnan(v) && !isinf(v);
}

/* Up to about want ticks over [lo, hi] at 1, 2 or 5 times a power of ten; returns the step and
 * the first tick in *first. */
static double nice_step(double lo, double hi, int want, double *first)
{
	double span = hi - lo, raw = span / (want > 0 ? want : 5);
	double p = pow(10, floor(log10(raw))), step = p;
	if (raw / p > 5)
		step = 10 * p;
	else if (raw / p > 2)
		step = 5 * p;
	else if (raw / p > 1)
		step = 2 * p;
	*first = ceil(lo / step - 1e-9) * step;
	return step;
}

/* A tick label: as few digits as the step needs. */
static void tick_label(char *buf, size_t size, double v, double step)
{
	int digits = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
	if (fabs(v) < step * 1e-6)
		v = 0;
	if (fabs(v) >= 1e5 || (v != 0 && fabs(v) < 1e-4))
		snprintf(buf, size, "%.3g", v);
	else
		snprintf(buf, size, "%.*f", digits > 6 ? 6 : digits, v);
}

static size_t chars(const char *s)
{
	size_t n = 0;
	for (; s && *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

static void svg_open(FILE *o, int W, int H, int standalone, const char *title)
{
	if (standalone)
		fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", o);
	/* In a page, CSS widens a chart to its column, but not past 1.5 times its own size. */
	char style[48] = "";
	if (!standalone)
		snprintf(style, sizeof(style), "style=\"max-width:%dpx\" ", W * 3 / 2);
	fprintf(o,
	        "<svg %s%sclass=\"chart\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
	        "font-family=\"%s\" font-size=\"12\" role=\"img\">\n",
	        standalone ? "xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" " : "", style, W,
	        H, W, H, FONT);
	if (title) {
		fputs("<title>", o);
		lethe_svg_esc(o, title);
		fputs("</title>\n", o);
	}
	fprintf(o, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", W, H);
	if (title) {
		fputs("<text x=\"8\" y=\"20\" font-size=\"14\" font-weight=\"bold\" "
		      "class=\"title\">",
		      o);
		lethe_svg_esc(o, title);
		fputs("</text>\n", o);
	}
}

static void svg_note(FILE *o, const char *note, int y)
{
	if (!note)
		return;
	fprintf(o, "<text x=\"8\" y=\"%d\" font-size=\"11\" fill=\"#555555\" class=\"note\">", y);
	lethe_svg_esc(o, note);
	fputs("</text>\n", o);
}

/* A text element with the given attributes, its content escaped. */
static void text_at(FILE *o, double x, double y, const char *anchor, const char *attrs,
                    const char *s)
{
	fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"%s%s>", x, y, anchor,
	        attrs ? " " : "", attrs ? attrs : "");
	lethe_svg_esc(o, s);
	fputs("</text>\n", o);
}

/* The y axis of a plot area [L, L+pw] x [T, T+ph] over [lo, hi]: grid lines, tick labels and
 * the rotated label. */
static void y_axis(FILE *o, int L, int T, double pw, double ph, double lo, double hi,
                   const char *label)
{
	double first, step = nice_step(lo, hi, 5, &first);
	for (double v = first, i = 0; v <= hi + step * 1e-6 && i < MAX_TICKS;
	     v = first + step * ++i) {
		double y = T + ph - ph * (v - lo) / (hi - lo);
		char buf[32];
		tick_label(buf, sizeof(buf), v, step);
		fprintf(
		    o, "<line x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e3e3e3\"/>\n",
		    L, L + pw, y, y);
		text_at(o, L - 6, y + 4, "end", "font-size=\"11\" fill=\"#333333\"", buf);
	}
	fprintf(o,
	        "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%.1f\" stroke=\"#555555\"/>\n"
	        "<line x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#555555\"/>\n",
	        L, L, T, T + ph, L, L + pw, T + ph, T + ph);
	if (label) {
		double cy = T + ph / 2;
		fprintf(o,
		        "<text x=\"14\" y=\"%.1f\" transform=\"rotate(-90 14 %.1f)\" "
		        "text-anchor=\"middle\" font-size=\"12\" class=\"axis-label\">",
		        cy, cy);
		lethe_svg_esc(o, label);
		fputs("</text>\n", o);
	}
}

/* Categorical x tick labels at X(i); rotated when they would overlap. */
static void x_categories(FILE *o, const char *const *names, size_t n, double x0, double dx,
                         double y)
{
	size_t longest = 1;
	for (size_t i = 0; i < n; i++)
		longest = chars(names[i]) > longest ? chars(names[i]) : longest;
	int rotate = n > 1 && dx < 6.5 * (double)longest + 8;
	for (size_t i = 0; i < n; i++) {
		double x = x0 + dx * (double)i;
		if (rotate) {
			fprintf(o,
			        "<text x=\"%.1f\" y=\"%.1f\" transform=\"rotate(-30 %.1f %.1f)\" "
			        "text-anchor=\"end\" font-size=\"11\" class=\"x-tick\">",
			        x, y, x, y);
			lethe_svg_esc_cut(o, names[i], 28);
			fputs("</text>\n", o);
		} else {
			fprintf(
			    o,
			    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"11\" "
			    "class=\"x-tick\">",
			    x, y);
			lethe_svg_esc(o, names[i]);
			fputs("</text>\n", o);
		}
	}
}

static size_t longest_name(const char *const *names, size_t n)
{
	size_t m = 0;
	for (size_t i = 0; names && i < n; i++)
		m = chars(names[i]) > m ? chars(names[i]) : m;
	return m;
}

void lethe_svg_line_chart(FILE *o, const lethe_line_chart *c, const lethe_chart_series *s,
                          size_t n_series, int standalone)
{
	int W = c->width ? c->width : 720, H = c->height ? c->height : 320;
	size_t legend_chars = 0;
	for (size_t i = 0; i < n_series; i++)
		legend_chars = chars(s[i].name) > legend_chars ? chars(s[i].name) : legend_chars;
	if (legend_chars > 28)
		legend_chars = 28;
	int legend_w =
	    n_series > 1 || (n_series == 1 && s[0].name) ? 40 + 7 * (int)legend_chars : 10;
	size_t tick_chars = longest_name(c->x_ticks, c->n_x_ticks);
	int L = 64, T = (c->title ? 34 : 12) + (c->mark_labels ? 14 : 0);
	int B = 44 + (c->note ? 18 : 0);
	double cat_pw = W - L - legend_w;
	int rotated = c->x_ticks && c->n_x_ticks > 1 &&
	              cat_pw / (double)c->n_x_ticks < 6.5 * (double)tick_chars + 8;
	if (rotated) {
		int extra = (int)(3.3 * (double)(tick_chars > 28 ? 28 : tick_chars));
		B += extra;
		H += extra;
	}
	double pw = W - L - legend_w, ph = H - T - B;

	/* Ranges. */
	double xlo = c->x_lo, xhi = c->x_hi, ylo = c->y_lo, yhi = c->y_hi;
	if (c->x_ticks) {
		xlo = c->n_x_ticks > 1 ? -0.25 : -1;
		xhi = c->n_x_ticks > 1 ? (double)c->n_x_ticks - 0.75 : 1;
	} else if (!real(xlo) || !real(xhi)) {
		double a = INFINITY, b = -INFINITY;
		for (size_t k = 0; k < n_series; k++)
			for (size_t i = 0; i < s[k].n; i++) {
				double x = s[k].x ? s[k].x[i] : (double)i;
				if (real(x)) {
					a = fmin(a, x);
					b = fmax(b, x);
				}
			}
		if (!real(xlo))
			xlo = real(a) ? a : 0;
		if (!real(xhi))
			xhi = real(b) ? b : 1;
	}
	if (!(xhi > xlo))
		xhi = xlo + 1;
	if (!real(ylo) || !real(yhi)) {
		double a = INFINITY, b = -INFINITY;
		for (size_t k = 0; k < n_series; k++) {
			for (size_t i = 0; i < s[k].n; i++) {
				double v[3] = {s[k].y[i], s[k].ci ? s[k].ci[2 * i] : NAN,
				               s[k].ci ? s[k].ci[2 * i + 1] : NAN};
				for (int j = 0; j < 3; j++)
					if (real(v[j])) {
						a = fmin(a, v[j]);
						b = fmax(b, v[j]);
					}
			}
			if (real(s[k].reference)) {
				a = fmin(a, s[k].reference);
				b = fmax(b, s[k].reference);
			}
		}
		if (!real(a)) {
			a = 0;
			b = 1;
		} else if (!(b > a)) {
			a -= 1;
			b += 1;
		} else {
			double pad = (b - a) * 0.05;
			a -= pad;
			b += pad;
		}
		if (!real(ylo))
			ylo = a;
		if (!real(yhi))
			yhi = b;
	}
	if (!(yhi > ylo))
		yhi = ylo + 1;
#define X(v) (L + pw * ((v)-xlo) / (xhi - xlo))
#define Y(v) (T + ph - ph * (fmin(fmax((v), ylo), yhi) - ylo) / (yhi - ylo))

	svg_open(o, W, H, standalone, c->title);
	y_axis(o, L, T, pw, ph, ylo, yhi, c->y_label);
	if (c->x_ticks)
		x_categories(o, c->x_ticks, c->n_x_ticks, X(0), X(1) - X(0), T + ph + 16);
	else {
		double first, step = nice_step(xlo, xhi, (int)(pw / 80), &first);
		for (double v = first, i = 0; v <= xhi + step * 1e-6 && i < MAX_TICKS;
		     v = first + step * ++i) {
			char buf[32];
			tick_label(buf, sizeof(buf), v, step);
			fprintf(o,
			        "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
			        "stroke=\"#555555\"/>\n",
			        X(v), X(v), T + ph, T + ph + 4);
			text_at(o, X(v), T + ph + 16, "middle", "font-size=\"11\" class=\"x-tick\"",
			        buf);
		}
	}
	if (c->x_label)
		text_at(o, L + pw / 2, H - (c->note ? 24 : 6), "middle",
		        "font-size=\"12\" class=\"axis-label\"", c->x_label);
	/* Vertical marks (stage boundaries) and their labels. */
	for (size_t i = 0; i < c->n_marks; i++) {
		if (!real(c->marks[i]) || c->marks[i] < xlo || c->marks[i] > xhi)
			continue;
		fprintf(o,
		        "<line class=\"mark\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%.1f\" "
		        "stroke=\"#777777\" stroke-dasharray=\"4 3\"/>\n",
		        X(c->marks[i]), X(c->marks[i]), T - (c->mark_labels ? 12 : 0), T + ph);
		if (c->mark_labels && c->mark_labels[i]) {
			fprintf(o,
			        "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" fill=\"#444444\" "
			        "class=\"mark-label\">",
			        X(c->marks[i]) + 3, T - 3);
			lethe_svg_esc_cut(o, c->mark_labels[i], 20);
			fputs("</text>\n", o);
		}
	}
	/* Reference lines first, so that data draws over them. */
	for (size_t k = 0; k < n_series; k++)
		if (real(s[k].reference))
			fprintf(o,
			        "<line class=\"reference\" x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" "
			        "y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1.2\" "
			        "stroke-dasharray=\"6 4\" opacity=\"0.75\"/>\n",
			        L, L + pw, Y(s[k].reference), Y(s[k].reference),
			        lethe_svg_colour(k));
	for (size_t k = 0; k < n_series; k++) {
		const char *col = lethe_svg_colour(k);
		const lethe_chart_series *e = &s[k];
#define SX(i) X(e->x ? e->x[i] : (double)(i))
		/* Bands: one polygon per run of defined intervals. */
		for (size_t i = 0; c->bands && e->ci && i < e->n;) {
			size_t j = i;
			while (j < e->n && real(e->ci[2 * j]) && real(e->ci[2 * j + 1]))
				j++;
			if (j > i) {
				fprintf(
				    o,
				    "<path class=\"band\" fill=\"%s\" fill-opacity=\"0.18\" d=\"",
				    col);
				for (size_t q = i; q < j; q++)
					fprintf(o, "%s%.1f,%.1f", q == i ? "M" : " L", SX(q),
					        Y(e->ci[2 * q + 1]));
				for (size_t q = j; q-- > i;)
					fprintf(o, " L%.1f,%.1f", SX(q), Y(e->ci[2 * q]));
				fputs(" Z\"/>\n", o);
			}
			i = j + 1;
		}
		fprintf(o,
		        "<path class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
		        "stroke-linejoin=\"round\" d=\"",
		        col);
		int pen = 0;
		for (size_t i = 0; i < e->n; i++) {
			double x = e->x ? e->x[i] : (double)i;
			if (!real(e->y[i]) || !real(x)) {
				pen = 0;
				continue;
			}
			fprintf(o, "%s%.1f,%.1f", pen ? " L" : " M", SX(i), Y(e->y[i]));
			pen = 1;
		}
		fputs("\"><title>", o);
		lethe_svg_esc(o, e->name);
		fputs("</title></path>\n", o);
		for (size_t i = 0; !c->bands && e->ci && i < e->n; i++) {
			if (!real(e->ci[2 * i]) || !real(e->ci[2 * i + 1]))
				continue;
			double x =
			    SX(i) + (n_series > 1 ? 3.0 * ((double)k - (n_series - 1) / 2.0) : 0);
			double y0 = Y(e->ci[2 * i]), y1 = Y(e->ci[2 * i + 1]);
			fprintf(o,
			        "<path class=\"whisker\" stroke=\"%s\" stroke-width=\"1.3\" "
			        "fill=\"none\" d=\"M%.1f,%.1f L%.1f,%.1f M%.1f,%.1f L%.1f,%.1f "
			        "M%.1f,%.1f L%.1f,%.1f\"/>\n",
			        col, x, y0, x, y1, x - 4, y0, x + 4, y0, x - 4, y1, x + 4, y1);
		}
		for (size_t i = 0; c->markers && i < e->n; i++)
			if (real(e->y[i]))
				fprintf(o,
				        "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.2\" fill=\"%s\" "
				        "stroke=\"#ffffff\" stroke-width=\"0.8\"/>\n",
				        SX(i), Y(e->y[i]), col);
#undef SX
	}
	/* Legend. */
	if (legend_w > 10) {
		fprintf(o, "<g class=\"legend\">\n");
		for (size_t k = 0; k < n_series; k++) {
			double y = T + 8 + 18 * (double)k;
			fprintf(
			    o,
			    "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
			    "stroke-width=\"2.5\"/>\n",
			    L + pw + 12, L + pw + 30, y, y, lethe_svg_colour(k));
			fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\">", L + pw + 35,
			        y + 4);
			lethe_svg_esc_cut(o, s[k].name, 28);
			fputs("</text>\n", o);
		}
		fputs("</g>\n", o);
	}
	svg_note(o, c->note, H - 6);
	fputs("</svg>\n", o);
#undef X
#undef Y
}

void lethe_svg_bar_chart(FILE *o, const lethe_bar_chart *c, int standalone)
{
	int W = c->width ? c->width : 720, H = c->height ? c->height : 300;
	int L = 64, T = c->title ? 40 : 16, B = 44 + (c->note ? 18 : 0), R = 16;
	size_t tick_chars = longest_name(c->names, c->n);
	double pw0 = W - L - R;
	if (c->n > 1 && pw0 / (double)c->n < 6.5 * (double)tick_chars + 8) {
		int extra = (int)(3.3 * (double)(tick_chars > 28 ? 28 : tick_chars));
		B += extra;
		H += extra;
	}
	double pw = W - L - R, ph = H - T - B;
	double lo = 0, hi = 0;
	for (size_t i = 0; i < c->n; i++) {
		double v[3] = {c->v[i], c->ci ? c->ci[2 * i] : NAN, c->ci ? c->ci[2 * i + 1] : NAN};
		for (int j = 0; j < 3; j++)
			if (real(v[j])) {
				lo = fmin(lo, v[j]);
				hi = fmax(hi, v[j]);
			}
	}
	if (!(hi > lo))
		hi = lo + 1;
	double first, step = nice_step(lo, hi, 5, &first);
	lo = floor(lo / step + 1e-9) * step;
	hi = ceil(hi / step - 1e-9) * step;
	if (!(hi > lo))
		hi = lo + step;
#define Y(v) (T + ph - ph * ((v)-lo) / (hi - lo))
	svg_open(o, W, H, standalone, c->title);
	y_axis(o, L, T, pw, ph, lo, hi, c->y_label);
	double dx = c->n ? pw / (double)c->n : pw, bw = dx * 0.55;
	fprintf(o, "<line x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#555555\"/>\n", L,
	        L + pw, Y(0), Y(0));
	for (size_t i = 0; i < c->n; i++) {
		double x = L + dx * ((double)i + 0.5);
		const char *col = lethe_svg_colour(i);
		double v = c->v[i];
		const char *label = c->text ? c->text[i] : NULL;
		if (real(v) && !label) {
			double y0 = Y(0), y1 = Y(v);
			fprintf(o,
			        "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			        "height=\"%.1f\" fill=\"%s\" fill-opacity=\"0.85\"/>\n",
			        x - bw / 2, fmin(y0, y1), bw, fabs(y1 - y0), col);
		}
		const double *ci = c->ci ? c->ci + 2 * i : NULL;
		if (ci && real(ci[0]) && real(ci[1]) && !label)
			fprintf(o,
			        "<path class=\"whisker\" stroke=\"#222222\" stroke-width=\"1.3\" "
			        "fill=\"none\" d=\"M%.1f,%.1f L%.1f,%.1f M%.1f,%.1f L%.1f,%.1f "
			        "M%.1f,%.1f L%.1f,%.1f\"/>\n",
			        x, Y(ci[0]), x, Y(ci[1]), x - 5, Y(ci[0]), x + 5, Y(ci[0]), x - 5,
			        Y(ci[1]), x + 5, Y(ci[1]));
		char buf[48];
		if (label)
			snprintf(buf, sizeof(buf), "%s", label);
		else if (real(v))
			snprintf(buf, sizeof(buf), "%.3g", v);
		else
			snprintf(buf, sizeof(buf), "\xe2\x80\x93"); /* – */
		double ty = label || !real(v) ? Y(0) - 6
		            : v >= 0          ? fmin(Y(v), ci && real(ci[1]) ? Y(ci[1]) : Y(v)) - 5
		                              : Y(0) - 5;
		text_at(o, x, ty, "middle", "font-size=\"11\" class=\"value\"", buf);
	}
	x_categories(o, c->names, c->n, L + dx / 2, dx, T + ph + 16);
	svg_note(o, c->note, H - 6);
	fputs("</svg>\n", o);
#undef Y
}

void lethe_svg_heatmap(FILE *o, const lethe_heatmap *h, int standalone)
{
	size_t R = h->rows, C = h->cols;
	int cw = 7 * (int)longest_name(h->col_names, C) + 20;
	int sub = (int)(6.5 * (double)longest_name(h->col_sub, C)) + 16;
	cw = sub > cw ? sub : cw;
	cw = cw < 124 ? 124 : cw > 220 ? 220 : cw; /* room for "[0.000, 0.000]" */
	int rh = h->ci ? 40 : 28;
	int left = 7 * (int)longest_name(h->row_names, R) + 20;
	left = left < 70 ? 70 : left > 280 ? 280 : left;
	int top = (h->title ? 34 : 8) + 18 + (h->col_sub ? 16 : 0) + 4;
	int bar_h = (int)R * rh < 120 ? 120 : (int)R * rh;
	int W = left + (int)C * cw + 100, H = top + bar_h + 12 + (h->note ? 20 : 0);
	int wt = h->title ? 8 * (int)chars(h->title) + 16 : 0,
	    wn = 13 * (int)chars(h->note) / 2 + 16;
	W = wt > W ? wt : W; /* room for the title and the note */
	W = wn > W ? wn : W;
	svg_open(o, W, H, standalone, h->title);
	double lo = h->lo, hi = h->hi > h->lo ? h->hi : h->lo + 1;
	for (size_t c = 0; c < C; c++) {
		double x = left + (double)c * cw + cw / 2.0;
		fprintf(o,
		        "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-weight=\"bold\" "
		        "class=\"col-name\">",
		        x, top - (h->col_sub ? 22 : 6));
		lethe_svg_esc_cut(o, h->col_names[c], 30);
		fputs("</text>\n", o);
		if (h->col_sub)
			text_at(o, x, top - 6, "middle", "font-size=\"11\" fill=\"#555555\"",
			        h->col_sub[c]);
	}
	for (size_t r = 0; r < R; r++) {
		fprintf(o,
		        "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" font-weight=\"bold\" "
		        "class=\"row-name\">",
		        left - 8, top + (double)r * rh + rh / 2.0 + 4);
		lethe_svg_esc_cut(o, h->row_names[r], 38);
		fputs("</text>\n", o);
	}
	int digits = h->digits > 0 ? h->digits : 3;
	for (size_t r = 0; r < R; r++)
		for (size_t c = 0; c < C; c++) {
			double v = h->v[r * C + c];
			int X = left + (int)c * cw, Y = top + (int)r * rh;
			if (!real(v)) {
				fprintf(o,
				        "<rect class=\"cell\" x=\"%d\" y=\"%d\" width=\"%d\" "
				        "height=\"%d\" fill=\"#eeeeee\"/><text x=\"%d\" y=\"%d\" "
				        "text-anchor=\"middle\" fill=\"#555555\">&#8211;</text>\n",
				        X, Y, cw - 2, rh - 2, X + cw / 2, Y + rh / 2 + 3);
				continue;
			}
			double t = (v - lo) / (hi - lo);
			char fill[8];
			int white = lethe_svg_viridis(h->reverse ? 1 - t : t, fill);
			const char *ink = white ? "#ffffff" : "#111111";
			if (h->plain && h->plain[c]) {
				snprintf(fill, sizeof(fill), "#f2f2f2");
				ink = "#111111";
			}
			fprintf(o,
			        "<rect class=\"cell\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
			        "fill=\"%s\"/>",
			        X, Y, cw - 2, rh - 2, fill);
			const double *ci = h->ci ? h->ci + 2 * (r * C + c) : NULL;
			int has_ci = ci && real(ci[0]) && real(ci[1]);
			fprintf(o,
			        "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"13\" "
			        "font-weight=\"bold\" fill=\"%s\">%.*f</text>",
			        X + cw / 2 - 1, Y + (has_ci ? 17 : rh / 2 + 4), ink, digits, v);
			if (has_ci)
				fprintf(o,
				        "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
				        "font-size=\"10.5\" fill=\"%s\" class=\"ci\">[%.*f, "
				        "%.*f]</text>",
				        X + cw / 2 - 1, Y + 32, ink, digits, ci[0], digits, ci[1]);
			fputc('\n', o);
		}
	/* The colour bar: lo at the bottom, hi at the top (or reversed), with ticks. */
	int bx = left + (int)C * cw + 18, by = top;
	fputs("<g class=\"colour-bar\">\n", o);
	int steps = 32;
	for (int i = 0; i < steps; i++) {
		char fill[8];
		double t = (i + 0.5) / steps;
		lethe_svg_viridis(h->reverse ? 1 - t : t, fill);
		double y0 = by + bar_h - (double)(i + 1) * bar_h / steps;
		fprintf(o, "<rect x=\"%d\" y=\"%.2f\" width=\"14\" height=\"%.2f\" fill=\"%s\"/>\n",
		        bx, y0, (double)bar_h / steps + 0.6, fill);
	}
	fprintf(o,
	        "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"%d\" fill=\"none\" "
	        "stroke=\"#555555\"/>\n",
	        bx, by, bar_h);
	double first, step = nice_step(lo, hi, 5, &first);
	for (double v = first, i = 0; v <= hi + step * 1e-6 && i < MAX_TICKS;
	     v = first + step * ++i) {
		double y = by + bar_h - bar_h * (v - lo) / (hi - lo);
		char buf[32];
		tick_label(buf, sizeof(buf), v, step);
		fprintf(o,
		        "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#555555\"/>\n",
		        bx + 14, bx + 18, y, y);
		text_at(o, bx + 21, y + 4, "start", "font-size=\"11\"", buf);
	}
	if (h->legend) {
		double cx = bx + 66, cy = by + bar_h / 2.0;
		fprintf(o,
		        "<text x=\"%.1f\" y=\"%.1f\" transform=\"rotate(-90 %.1f %.1f)\" "
		        "text-anchor=\"middle\" font-size=\"11\" class=\"legend\">",
		        cx, cy, cx, cy);
		lethe_svg_esc_cut(o, h->legend, (size_t)bar_h / 6); /* no longer than the bar */
		fputs("</text>\n", o);
	}
	fputs("</g>\n", o);
	svg_note(o, h->note, H - 6);
	fputs("</svg>\n", o);
}
