/*
 * errbuf.c: see errbuf.h. It formats one line; it decides nothing about codes.
 */
#include <stdio.h>

#include "errbuf.h"

int lethe_errbuf__setv(lethe_errbuf *e, int code, const char *fmt, va_list ap)
{
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	return code;
}

int lethe_errbuf__set(lethe_errbuf *e, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	lethe_errbuf__setv(e, code, fmt, ap);
	va_end(ap);
	return code;
}

int lethe_errbuf__set_at(lethe_errbuf *e, int code, const char *where, const char *fmt, ...)
{
	int k = snprintf(e->msg, sizeof(e->msg), "%s: ", where);
	if (k < 0 || (size_t)k >= sizeof(e->msg))
		k = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg + k, sizeof(e->msg) - (size_t)k, fmt, ap);
	va_end(ap);
	return code;
}

void lethe_errbuf__clear(lethe_errbuf *e)
{
	e->msg[0] = '\0';
}
