/* escape.c - the one rule for showing untrusted strings (escape.h). */
#include "escape.h"

#include <stdint.h>
#include <string.h>

/* Length of the well-formed UTF-8 character at p (lead byte >= 0x80), or 0;
 * its code point in *cp.  (RFC 3629: no overlong forms, no surrogates,
 * nothing past U+10FFFF.) */
static size_t utf8_char(const unsigned char *p, uint32_t *cp)
{
    unsigned char c = p[0];
    size_t n;
    uint32_t v, min;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2, v = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3, v = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) /* also stops at the NUL */
            return 0;
        v = v << 6 | (p[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

static int control_point(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x2028 && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

size_t gh_esc_span(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    if (*p >= 0x20 && *p < 0x7f)
        return 1;
    uint32_t cp;
    size_t n = *p >= 0x80 ? utf8_char(p, &cp) : 0;
    return n && !control_point(cp) ? n : 0;
}

/* The text spelling of the next piece of s into out (<= 4 bytes + NUL);
 * returns the bytes of s it covers. */
static size_t text_piece(const char *s, char out[8])
{
    static const char hex[] = "0123456789abcdef";
    size_t n = gh_esc_span(s);
    if (n == 1 && *s == '\\') {
        memcpy(out, "\\\\", 3);
    } else if (n) {
        memcpy(out, s, n);
        out[n] = '\0';
    } else {
        unsigned char c = (unsigned char)*s;
        out[0] = '\\', out[1] = 'x', out[2] = hex[c >> 4], out[3] = hex[c & 15], out[4] = '\0';
        n = 1;
    }
    return n;
}

char *gh_esc_text(const char *s, char *buf, size_t cap)
{
    size_t len = 0;
    char piece[8];
    while (*s) {
        size_t used = text_piece(s, piece), l = strlen(piece);
        if (len + l + 1 > cap)
            break;
        memcpy(buf + len, piece, l);
        len += l;
        s += used;
    }
    buf[len] = '\0';
    return buf;
}

void gh_esc_fputs(FILE *f, const char *s)
{
    char piece[8];
    while (*s) {
        s += text_piece(s, piece);
        fputs(piece, f);
    }
}

void gh_esc_json(FILE *f, const char *s)
{
    fputc('"', f);
    while (*s) {
        size_t n = gh_esc_span(s);
        if (n == 1 && (*s == '"' || *s == '\\')) {
            fputc('\\', f);
            fputc(*s, f);
        } else if (n) {
            fwrite(s, 1, n, f);
        } else {
            const unsigned char *p = (const unsigned char *)s;
            uint32_t cp;
            size_t m = *p >= 0x80 ? utf8_char(p, &cp) : 0;
            if (m && cp <= 0xffff) { /* a control character, well formed */
                fprintf(f, "\\u%04x", (unsigned)cp);
                n = m;
            } else {
                switch (*p) {
                case '\n': fputs("\\n", f); break;
                case '\t': fputs("\\t", f); break;
                case '\r': fputs("\\r", f); break;
                default:   fprintf(f, "\\u%04x", *p); break;
                }
                n = 1;
            }
        }
        s += n;
    }
    fputc('"', f);
}
