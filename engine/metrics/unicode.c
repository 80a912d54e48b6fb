/*
 * unicode.c: see unicode.h. Case mapping comes from the C library's C.UTF-8 locale, whose
 * tables follow the same Unicode data as Python's simple case mappings; the one full mapping
 * that matters (U+0130) is added here.
 */
#include "config.h"

#define _GNU_SOURCE 1 /* newlocale(), towlower_l() */
#include <locale.h>
#include <stdlib.h>
#include <wctype.h>

#include <lethe/lethe.h>

#include "unicode.h"

int lethe_utf8_decode(const char *str, size_t len, uint32_t **out, size_t *n_out)
{
	const unsigned char *s = (const unsigned char *)str;
	uint32_t *cp = malloc((len + 1) * sizeof(*cp));
	if (!cp)
		return LETHE_ENOMEM;
	size_t n = 0, i = 0;
	while (i < len) {
		unsigned c = s[i];
		if (c < 0x80) {
			cp[n++] = c;
			i++;
			continue;
		}
		size_t k;
		uint32_t v, min;
		if (c >= 0xC2 && c <= 0xDF)
			k = 1, v = c & 0x1F, min = 0x80;
		else if (c >= 0xE0 && c <= 0xEF)
			k = 2, v = c & 0x0F, min = 0x800;
		else if (c >= 0xF0 && c <= 0xF4)
			k = 3, v = c & 0x07, min = 0x10000;
		else
			goto invalid;
		{
			size_t j;
			for (j = 1; j <= k; j++) {
				if (i + j >= len || (s[i + j] & 0xC0) != 0x80)
					break;
				v = (v << 6) | (s[i + j] & 0x3F);
			}
			if (j <= k || v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
				goto invalid;
		}
		cp[n++] = v;
		i += k + 1;
		continue;
	invalid:
		cp[n++] = 0xFFFD;
		i++;
	}
	*out = cp;
	*n_out = n;
	return 0;
}

size_t lethe_utf8_encode(uint32_t cp, char *buf)
{
	unsigned char *b = (unsigned char *)buf;
	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		b[0] = (unsigned char)(0xC0 | (cp >> 6));
		b[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		b[0] = (unsigned char)(0xE0 | (cp >> 12));
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	b[0] = (unsigned char)(0xF0 | (cp >> 18));
	b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
	b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
	b[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

int lethe_unicode_isspace(uint32_t c)
{
	return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
	       c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
	       c == 0x202F || c == 0x205F || c == 0x3000;
}

static locale_t utf8_locale(void)
{
	/* Created once and never freed: a locale object is immutable and thread-safe to share. */
	static locale_t loc;
	if (!loc)
		loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	return loc;
}

int lethe_unicode_lower(const uint32_t *cp, size_t n, uint32_t **out, size_t *n_out)
{
	uint32_t *low = malloc((2 * n + 1) * sizeof(*low));
	if (!low)
		return LETHE_ENOMEM;
	locale_t loc = utf8_locale();
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t c = cp[i];
		if (c < 0x80)
			low[k++] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
		else if (c == 0x130) {
			low[k++] = 'i';
			low[k++] = 0x307;
		} else
			low[k++] = loc ? (uint32_t)towlower_l((wint_t)c, loc) : c;
	}
	*out = low;
	*n_out = k;
	return 0;
}
