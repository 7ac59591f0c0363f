/*
 * rutil: output helpers (see rutil.h).
 */
#include "rutil.h"

#include <string.h>

size_t ru_utf8_cut(const char *s, size_t len, size_t max)
{
	size_t n;

	if (len <= max)
		return len;
	n = max;
	/* back up over continuation bytes to the start of the sequence that crosses the cut */
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

void ru_utf8_fix(char *buf)
{
	size_t len = strlen(buf), i = len, need;
	unsigned char c;

	while (i > 0 && ((unsigned char)buf[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0)
		return;
	c = (unsigned char)buf[i - 1];
	need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	if (len - (i - 1) < need)
		buf[i - 1] = '\0';
}

size_t ru_width(const char *s, size_t len)
{
	size_t w = 0;

	for (size_t i = 0; i < len; i++)
		w += ((unsigned char)s[i] & 0xc0) != 0x80;
	return w;
}

void ru_text(FILE *out, const char *s, size_t len, size_t max)
{
	if (max)
		len = ru_utf8_cut(s, len, max);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		fputc(c < 0x20 || c == 0x7f ? '.' : c, out);
	}
}

void ru_html(FILE *out, const char *s, size_t len, size_t max)
{
	size_t n = max ? ru_utf8_cut(s, len, max) : len;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default:
			/* controls are not allowed characters in HTML text (except white space) */
			if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
				fputs("&#xfffd;", out);
			else
				fputc(c, out);
		}
	}
	if (n < len)
		fputs("\xe2\x80\xa6", out);
}

double ru_pct(uint64_t n, uint64_t d)
{
	return d ? 100.0 * (double)n / (double)d : 0.0;
}
