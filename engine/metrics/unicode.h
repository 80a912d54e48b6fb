/*
 * unicode.h: the little Unicode the metrics need to behave as the Python reference tools do:
 * UTF-8 decoding to code points, Python's str.isspace(), and Python's str.lower(). Private to
 * liblethe.
 */
#ifndef LETHE_UNICODE_H
#define LETHE_UNICODE_H

#include <stddef.h>
#include <stdint.h>

/* Decodes UTF-8 into code points; an invalid byte becomes U+FFFD. *out is malloc'd, *n its
 * length. Returns 0 or LETHE_ENOMEM. */
int lethe_utf8_decode(const char *s, size_t len, uint32_t **out, size_t *n);
/* Appends the UTF-8 encoding of cp to buf (at least 4 bytes free); returns the bytes written. */
size_t lethe_utf8_encode(uint32_t cp, char *buf);
/* Python's str.isspace() for one code point. */
int lethe_unicode_isspace(uint32_t cp);
/* Python's str.lower() of cp[0..n) into a new array (full case mapping: U+0130 becomes two code
 * points). Final-sigma context is not applied: 'Σ' always becomes 'σ'. */
int lethe_unicode_lower(const uint32_t *cp, size_t n, uint32_t **out, size_t *n_out);

#endif
