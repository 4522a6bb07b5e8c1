/* svg.h - the tools' one SVG writer and XML escaper (svg.c).
 *
 * Numbers are printed with a fixed number of decimals so that the same
 * picture gives the same bytes (the golden tests rely on it).  Each chart
 * keeps its own look (map and layout: double-quoted attributes through
 * svg_begin/svg_rect/svg_text; replay's polyline chart: single-quoted);
 * what is escaped, and how, is decided here only.
 */
#ifndef GH_TOOLS_SVG_H
#define GH_TOOLS_SVG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- escaping ------------------------------------------------------- */

/* What svg_escape does besides turning < > & into entities.  A control
 * character (below 0x20) becomes '?' unless SVG_ESC_KEEP_TAB keeps a tab
 * or SVG_ESC_DROP_CTRL drops it. */
#define SVG_ESC_QUOT      0x01u /* " as &quot; */
#define SVG_ESC_APOS      0x02u /* ' as &apos; */
#define SVG_ESC_KEEP_TAB  0x04u /* a tab passes unchanged */
#define SVG_ESC_DROP_CTRL 0x08u /* control characters are left out */
#define SVG_ESC_ASCII     0x10u /* bytes >= 0x7f become '?' */
/* Attribute-safe text, tabs kept: what svg_text and xml_puts write. */
#define SVG_ESC_ATTR (SVG_ESC_QUOT | SVG_ESC_APOS | SVG_ESC_KEEP_TAB)

/* The first `max` bytes of s as XML text on f, then "..." when s was
 * longer (max SIZE_MAX: all of it).  The output always parses. */
void svg_escape(FILE *f, const char *s, size_t max, unsigned how);

/* s as XML character data or attribute text: svg_escape(SVG_ESC_ATTR). */
void xml_puts(FILE *f, const char *s);

/* ---- the writer ------------------------------------------------------- */

#define SVG_FONT "DejaVu Sans, Helvetica, Arial, sans-serif"
#define SVG_MONO "DejaVu Sans Mono, Menlo, Consolas, monospace"

/* Width of a string in a font of `size` px, roughly (for "does it fit"). */
double svg_text_width(const char *s, double size, bool mono);

/* The XML declaration, <svg> of w x h, its <title> and a white page. */
void svg_begin(FILE *f, double w, double h, const char *title);
void svg_end(FILE *f);

/* A rectangle; stroke NULL for none.  `tip`, when not NULL, becomes a
 * <title> child (a tooltip in a browser). */
void svg_rect(FILE *f, double x, double y, double w, double h, const char *fill, const char *stroke,
              const char *tip);

void svg_line(FILE *f, double x1, double y1, double x2, double y2, const char *stroke, double width,
              bool dashed);

/* Text at (x, y) (baseline); anchor "start", "middle", "end" or NULL;
 * printf format, the result (at most 511 bytes) escaped. */
void svg_text(FILE *f, double x, double y, const char *anchor, double size, bool mono, const char *fill,
              const char *fmt, ...) __attribute__((format(printf, 8, 9)));

/* A polyline, single-quoted attributes, points "%.1f,%.1f " each:
 * svg_polyline_begin, one svg_polyline_point per point, svg_polyline_end.
 * width is printed as given ("1.8"); dasharray NULL for a solid line. */
void svg_polyline_begin(FILE *f, const char *stroke, const char *width, const char *dasharray);
void svg_polyline_point(FILE *f, double x, double y);
void svg_polyline_end(FILE *f);

#endif
