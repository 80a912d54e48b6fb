/*
 * compare_html.h: the HTML form of `lethe compare` (compare_html.c).
 */
#ifndef LETHE_COMPARE_HTML_H
#define LETHE_COMPARE_HTML_H

#include <stddef.h>

/* Reads args[0..n) (run files; with groups, each a directory of run files or one run file) and
 * writes the comparison page to output (NULL: standard output) through lethe_cli_out. Errors
 * are printed; returns an exit status (LETHE_EXIT_*). */
int lethe_compare_html(const char *output, const char *const *args, size_t n, int groups);

#endif
