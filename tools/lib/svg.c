/* svg.c - the SVG writer and the XML escaper (svg.h).  Writes to the FILE it is given and nothing else. */
#include "svg.h"

#include <stdarg.h>
#include <string.h>

#define TEXT_MAX 512 /* bytes of one formatted svg_text, NUL included */

void svg_escape(FILE *f, const char *s, size_t max, unsigned how)
{
    size_t i = 0;
    for (; s[i] && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '<': fputs("&lt;", f); continue;
        case '>': fputs("&gt;", f); continue;
        case '&': fputs("&amp;", f); continue;
        case '"':
            if (how & SVG_ESC_QUOT) {
                fputs("&quot;", f);
                continue;
            }
            break;
        case '\'':
            if (how & SVG_ESC_APOS) {
                fputs("&apos;", f);
                continue;
            }
            break;
        default:
            break;
        }
        if (c < 0x20 && !(c == '\t' && (how & SVG_ESC_KEEP_TAB))) {
            if (!(how & SVG_ESC_DROP_CTRL))
                fputc('?', f);
        } else if (c >= 0x7f && (how & SVG_ESC_ASCII)) {
            fputc('?', f);
        } else {
            fputc(c, f);
        }
    }
    if (s[i])
        fputs("...", f);
}

void xml_puts(FILE *f, const char *s)
{
    svg_escape(f, s, SIZE_MAX, SVG_ESC_ATTR);
}

double svg_text_width(const char *s, double size, bool mono)
{
    return (double)strlen(s) * size * (mono ? 0.61 : 0.58);
}

void svg_begin(FILE *f, double w, double h, const char *title)
{
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
               "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n",
            w, h, w, h);
    fputs("<title>", f);
    xml_puts(f, title);
    fputs("</title>\n", f);
    fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n", w, h);
}

void svg_end(FILE *f)
{
    fputs("</svg>\n", f);
}

void svg_rect(FILE *f, double x, double y, double w, double h, const char *fill, const char *stroke,
              const char *tip)
{
    fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"", x, y, w, h, fill);
    if (stroke)
        fprintf(f, " stroke=\"%s\" stroke-width=\"0.6\"", stroke);
    if (tip) {
        fputs("><title>", f);
        xml_puts(f, tip);
        fputs("</title></rect>\n", f);
    } else {
        fputs("/>\n", f);
    }
}

void svg_line(FILE *f, double x1, double y1, double x2, double y2, const char *stroke, double width,
              bool dashed)
{
    fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" stroke-width=\"%.1f\"%s/>\n",
            x1, y1, x2, y2, stroke, width, dashed ? " stroke-dasharray=\"4 3\"" : "");
}

void svg_text(FILE *f, double x, double y, const char *anchor, double size, bool mono, const char *fill,
              const char *fmt, ...)
{
    char buf[TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" font-family=\"%s\" font-size=\"%.1f\" fill=\"%s\"%s%s%s>", x, y,
            mono ? SVG_MONO : SVG_FONT, size, fill, anchor ? " text-anchor=\"" : "", anchor ? anchor : "",
            anchor ? "\"" : "");
    xml_puts(f, buf);
    fputs("</text>\n", f);
}

void svg_polyline_begin(FILE *f, const char *stroke, const char *width, const char *dasharray)
{
    fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='%s'", stroke, width);
    if (dasharray)
        fprintf(f, " stroke-dasharray='%s'", dasharray);
    fputs(" points='", f);
}

void svg_polyline_point(FILE *f, double x, double y)
{
    fprintf(f, "%.1f,%.1f ", x, y);
}

void svg_polyline_end(FILE *f)
{
    fputs("'/>\n", f);
}
