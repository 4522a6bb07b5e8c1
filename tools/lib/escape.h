/* escape.h - how the tools show a string they did not write: a command
 * line, policy or name read from a segment, a trace, an exit summary or
 * /proc.  One rule, two spellings.
 *
 * The rule (gh_esc_span): printable ASCII passes, and so does a well-formed
 * UTF-8 character that is not a control - not C1 (U+0080..U+009F), not a
 * bidirectional override or isolate (U+202A..U+202E, U+2066..U+2069), not a
 * line or paragraph separator (U+2028, U+2029).  Every other byte - C0
 * controls (ESC, BEL, newline ...), DEL, bytes of malformed or overlong
 * UTF-8 - is escaped, so nothing a program puts in its command line can
 * move the cursor, retitle a terminal or break a line of output.
 *
 * Text (a terminal, a table, a text file): "\xHH" per escaped byte, and a
 * backslash doubled so that the output is unambiguous.
 * JSON (RFC 8259): the string in quotes; '"' and '\' escaped; every byte
 * the rule escapes as "\u00XX" (a C1 character: its code point; a byte of
 * malformed UTF-8: read as Latin-1), so the output is valid UTF-8 JSON.
 */
#ifndef GH_TOOLS_ESCAPE_H
#define GH_TOOLS_ESCAPE_H

#include <stddef.h>
#include <stdio.h>

/* Bytes of the character at p (NUL-terminated) that pass as they are; 0
 * when its first byte must be escaped (or p is at the NUL). */
size_t gh_esc_span(const char *p);

/* s (NUL-terminated) text-escaped into buf (cap >= 1): always
 * NUL-terminated, cut only between whole characters and escapes; returns
 * buf. */
char *gh_esc_text(const char *s, char *buf, size_t cap);

/* s text-escaped to f. */
void gh_esc_fputs(FILE *f, const char *s);

/* s as a JSON string literal (quotes included) to f. */
void gh_esc_json(FILE *f, const char *s);

/* The size of a buffer that holds any n-byte string text-escaped. */
#define GH_ESC_BUF(n) (4 * (n) + 1)

#endif
