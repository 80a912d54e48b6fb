/*
 * errbuf.h: the one-line message a handle keeps about its last failure (sqlite3_errmsg()'s
 * model). A handle embeds one lethe_errbuf; a failing call sets it and returns its negative
 * LETHE_E* code in one statement: `return lethe_errbuf__set(&h->err, LETHE_EIO, "%s: ...", p);`.
 * The handle's lethe_<object>_errmsg() returns msg. Private to liblethe (hidden symbols).
 */
#ifndef LETHE_UTIL_ERRBUF_H
#define LETHE_UTIL_ERRBUF_H

#include <stdarg.h>

#include <lethe/common.h>

/* Long enough for a path, a dataset or key name and what was expected; longer is cut. */
#define LETHE_ERRBUF_SIZE 2048

typedef struct lethe_errbuf {
	char msg[LETHE_ERRBUF_SIZE]; /* "" until a failure */
} lethe_errbuf;

/* Sets the message (printf-style) and returns code, so that failing is one statement. */
int lethe_errbuf__set(lethe_errbuf *e, int code, const char *fmt, ...) LETHE_PRINTF(3, 4);
int lethe_errbuf__setv(lethe_errbuf *e, int code, const char *fmt, va_list ap);
/* The same with "where: " first (a file's path, a tensor's name), as readers of files report. */
int lethe_errbuf__set_at(lethe_errbuf *e, int code, const char *where, const char *fmt, ...)
    LETHE_PRINTF(4, 5);
/* Back to "" at the start of a call that may fail. */
void lethe_errbuf__clear(lethe_errbuf *e);

#endif
