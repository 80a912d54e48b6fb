/*
 * kit.h: the plugin kit's functions that live outside kit.c (options and label maps in
 * kit_options.c, JSON in kit_json.c), for kit.c's table. Private to liblethe; plugins reach them
 * through lethe_host.kit (lethe/kit.h, which documents each).
 */
#ifndef LETHE_PLUGIN_KIT_H
#define LETHE_PLUGIN_KIT_H

#include <lethe/kit.h>
#include <lethe/plugin.h>

int lethe_kit__expected_one_of(const lethe_host *host, const char *where, const char *what,
                               const char *got, const char *const *values);
int lethe_kit__check_options(const lethe_host *host, const char *plugin,
                             const lethe_option *options, size_t n_options,
                             const char *const *known);
int lethe_kit__option_uint(const lethe_host *host, const lethe_option *option, unsigned long min,
                           unsigned long max, unsigned long *out);
int lethe_kit__option_enum(const lethe_host *host, const lethe_option *option,
                           const char *const *values, int *out);
int lethe_kit__option_bool(const lethe_host *host, const lethe_option *option, int *out);
int lethe_kit__template_check(const lethe_host *host, const lethe_option *option,
                              const char *const *names);
int lethe_kit__template_render(lethe_buf *out, const char *tmpl, const char *const *names,
                               const char *const *values);

int lethe_kit__labels_from_options(const lethe_host *host, lethe_labels **out, const char *name,
                                   const lethe_option *options, size_t n_options,
                                   const char *const *defaults);
void lethe_kit__labels_free(lethe_labels *labels);
size_t lethe_kit__labels_count(const lethe_labels *labels);
const char *const *lethe_kit__labels_keys(const lethe_labels *labels);
const char *const *lethe_kit__labels_words(const lethe_labels *labels);
long lethe_kit__labels_find(const lethe_labels *labels, const char *s, size_t n);
int lethe_kit__labels_unknown(const lethe_host *host, const lethe_labels *labels, const char *path,
                              size_t lineno, const char *s, size_t n);

int lethe_kit__json_parse(const lethe_host *host, const char *path, size_t lineno, const char *line,
                          size_t len, lethe_json **out);
void lethe_kit__json_free(lethe_json *root);
lethe_json_type lethe_kit__json_type(const lethe_json *v);
const lethe_json *lethe_kit__json_get(const lethe_json *object, const char *key);
const lethe_json *lethe_kit__json_first(const lethe_json *v);
const lethe_json *lethe_kit__json_next(const lethe_json *item);
size_t lethe_kit__json_size(const lethe_json *v);
const char *lethe_kit__json_key(const lethe_json *member);
const char *lethe_kit__json_string(const lethe_json *v);
int lethe_kit__json_number(const lethe_json *v, double *out);
int lethe_kit__json_bool(const lethe_json *v);
int lethe_kit__json_text(const lethe_json *v, const char *sep, lethe_buf *out);

#endif
