/*
 * kit_options.c: the plugin kit's option checking, "expected one of" messages, prompt templates
 * and label maps (lethe/kit.h). Messages are worded as the curriculum reader words its own, and
 * name the option's file:line:column.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kit.h"
#include "util/text.h"

int lethe_kit__expected_one_of(const lethe_host *host, const char *where, const char *what,
                               const char *got, const char *const *values)
{
	char list[512];
	lethe_text__quote_list(values, list, sizeof(list));
	const char *near = lethe_text__suggest(got, values);
	char hint[160] = "";
	if (near)
		snprintf(hint, sizeof(hint), " (did you mean '%s'?)", near);
	host->error(host->ctx, "%s: %s%sexpected one of %s, got '%s'%s", where, what ? what : "",
	            what ? ": " : "", list, got, hint);
	return LETHE_EINVAL;
}

int lethe_kit__check_options(const lethe_host *host, const char *plugin,
                             const lethe_option *options, size_t n_options,
                             const char *const *known)
{
	for (size_t i = 0; i < n_options; i++) {
		char head[128];
		size_t n = strcspn(options[i].key, ".");
		if (n >= sizeof(head))
			n = sizeof(head) - 1;
		memcpy(head, options[i].key, n);
		head[n] = '\0';
		int found = 0;
		for (size_t k = 0; known[k] && !found; k++)
			found = strcmp(head, known[k]) == 0;
		if (found)
			continue;
		const char *near = lethe_text__suggest(head, known);
		if (near)
			host->error(host->ctx,
			            "%s: plugin '%s' has no option '%s' (did you mean '%s'?)",
			            options[i].where, plugin, head, near);
		else
			host->error(host->ctx, "%s: plugin '%s' has no option '%s'",
			            options[i].where, plugin, head);
		return LETHE_EINVAL;
	}
	return 0;
}

int lethe_kit__option_uint(const lethe_host *host, const lethe_option *option, unsigned long min,
                           unsigned long max, unsigned long *out)
{
	const char *s = option->value;
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || *s == '-' || *s == '+' || errno || v < min || v > max) {
		host->error(host->ctx,
		            "%s: option '%s': expected an integer from %lu to %lu, got '%s'",
		            option->where, option->key, min, max, s);
		return LETHE_EINVAL;
	}
	*out = v;
	return 0;
}

int lethe_kit__option_enum(const lethe_host *host, const lethe_option *option,
                           const char *const *values, int *out)
{
	for (int i = 0; values[i]; i++)
		if (strcmp(option->value, values[i]) == 0) {
			*out = i;
			return 0;
		}
	char what[160];
	snprintf(what, sizeof(what), "option '%s'", option->key);
	return lethe_kit__expected_one_of(host, option->where, what, option->value, values);
}

int lethe_kit__option_bool(const lethe_host *host, const lethe_option *option, int *out)
{
	static const char *const values[] = {"false", "true", NULL};
	return lethe_kit__option_enum(host, option, values, out);
}

/* Walks tmpl, appending to out (when not NULL) the text with each "{name}" replaced by its value.
 * Returns 0, LETHE_ENOMEM, or -1 with *bad set to the offending offset (an unmatched brace, or
 * an unknown name, then also *unknown). */
static int scan_template(const char *tmpl, const char *const *names, const char *const *values,
                         lethe_buf *out, size_t *bad, const char **unknown, size_t *unknown_len)
{
	for (const char *p = tmpl; *p;) {
		if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
			if (out && lethe_buf__add(out, p, 1))
				return LETHE_ENOMEM;
			p += 2;
		} else if (*p == '{') {
			const char *end = strchr(p, '}');
			if (!end) {
				*bad = (size_t)(p - tmpl);
				return -1;
			}
			size_t len = (size_t)(end - p - 1);
			int found = -1;
			for (int i = 0; names[i] && found < 0; i++)
				if (strlen(names[i]) == len && memcmp(names[i], p + 1, len) == 0)
					found = i;
			if (found < 0) {
				*unknown = p + 1;
				*unknown_len = len;
				*bad = (size_t)(p - tmpl);
				return -1;
			}
			if (out && lethe_buf__str(out, values[found]))
				return LETHE_ENOMEM;
			p = end + 1;
		} else if (*p == '}') {
			*bad = (size_t)(p - tmpl);
			return -1;
		} else {
			size_t k = strcspn(p, "{}");
			if (out && lethe_buf__add(out, p, k))
				return LETHE_ENOMEM;
			p += k;
		}
	}
	return 0;
}

int lethe_kit__template_check(const lethe_host *host, const lethe_option *option,
                              const char *const *names)
{
	size_t bad = 0, unknown_len = 0;
	const char *unknown = NULL;
	if (scan_template(option->value, names, NULL, NULL, &bad, &unknown, &unknown_len) == 0)
		return 0;
	char list[256] = "";
	for (int i = 0; names[i]; i++) {
		size_t used = strlen(list);
		snprintf(list + used, sizeof(list) - used, "%s{%s}", i ? ", " : "", names[i]);
	}
	if (unknown)
		host->error(host->ctx,
		            "%s: option '%s': unknown placeholder '{%.*s}' (expected %s)",
		            option->where, option->key, (int)unknown_len, unknown, list);
	else
		host->error(host->ctx,
		            "%s: option '%s': unmatched brace at character %zu (write '{{' or '}}' "
		            "for a brace)",
		            option->where, option->key, bad + 1);
	return LETHE_EINVAL;
}

int lethe_kit__template_render(lethe_buf *out, const char *tmpl, const char *const *names,
                               const char *const *values)
{
	size_t bad;
	const char *unknown = NULL;
	size_t unknown_len;
	int rc = scan_template(tmpl, names, values, out, &bad, &unknown, &unknown_len);
	return rc < 0 && rc != LETHE_ENOMEM ? LETHE_EINVAL : rc;
}

/* ---- label maps ------------------------------------------------------------------------------ */

struct lethe_labels {
	size_t n, cap;
	char **keys, **words; /* n entries and a NULL */
};

void lethe_kit__labels_free(lethe_labels *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->keys[i]);
		free(m->words[i]);
	}
	free(m->keys);
	free(m->words);
	free(m);
}

static int labels_add(const lethe_host *host, lethe_labels *m, const char *name, const char *where,
                      const char *key, const char *word)
{
	if (!*key || !*word) {
		host->error(host->ctx,
		            "%s: option '%s': expected a map from labels to non-empty words", where,
		            name);
		return LETHE_EINVAL;
	}
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->words[i], word) == 0 || strcmp(m->keys[i], key) == 0) {
			host->error(host->ctx, "%s: option '%s': '%s' appears twice", where, name,
			            strcmp(m->keys[i], key) == 0 ? key : word);
			return LETHE_EINVAL;
		}
	if (m->n + 2 > m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 8;
		char **k = realloc(m->keys, cap * sizeof(*k));
		if (!k)
			return LETHE_ENOMEM;
		m->keys = k;
		char **w = realloc(m->words, cap * sizeof(*w));
		if (!w)
			return LETHE_ENOMEM;
		m->words = w;
		m->cap = cap;
	}
	m->keys[m->n] = strdup(key);
	m->words[m->n] = strdup(word);
	m->n++;
	m->keys[m->n] = m->words[m->n] = NULL;
	return m->keys[m->n - 1] && m->words[m->n - 1] ? 0 : LETHE_ENOMEM;
}

int lethe_kit__labels_from_options(const lethe_host *host, lethe_labels **out, const char *name,
                                   const lethe_option *options, size_t n_options,
                                   const char *const *defaults)
{
	*out = NULL;
	lethe_labels *m = calloc(1, sizeof(*m));
	if (!m)
		return LETHE_ENOMEM;
	size_t len = strlen(name);
	const char *where = n_options ? options[0].where : "default";
	int rc = 0;
	for (size_t i = 0; i < n_options && rc == 0; i++) {
		const lethe_option *o = &options[i];
		if (strncmp(o->key, name, len) != 0)
			continue;
		if (o->key[len] == '.') {
			rc = labels_add(host, m, name, o->where, o->key + len + 1, o->value);
			where = o->where;
		} else if (o->key[len] == '\0') {
			host->error(host->ctx,
			            "%s: option '%s': expected a map such as {0: negative, 1: "
			            "positive}",
			            o->where, name);
			rc = LETHE_EINVAL;
		}
	}
	int given = m->n > 0;
	for (size_t i = 0; rc == 0 && !given && defaults && defaults[i] && defaults[i + 1]; i += 2)
		rc = labels_add(host, m, name, "default", defaults[i], defaults[i + 1]);
	if (rc == 0 && m->n < 2) {
		host->error(host->ctx,
		            "%s: option '%s': a classification needs at least two labels", where,
		            name);
		rc = LETHE_EINVAL;
	}
	if (rc) {
		if (rc == LETHE_ENOMEM)
			host->error(host->ctx, "%s: option '%s': out of memory", where, name);
		lethe_kit__labels_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

size_t lethe_kit__labels_count(const lethe_labels *m)
{
	return m ? m->n : 0;
}

const char *const *lethe_kit__labels_keys(const lethe_labels *m)
{
	return (const char *const *)m->keys;
}

const char *const *lethe_kit__labels_words(const lethe_labels *m)
{
	return (const char *const *)m->words;
}

long lethe_kit__labels_find(const lethe_labels *m, const char *s, size_t n)
{
	for (size_t i = 0; i < m->n; i++)
		if (strlen(m->keys[i]) == n && memcmp(m->keys[i], s, n) == 0)
			return (long)i;
	return -1;
}

int lethe_kit__labels_unknown(const lethe_host *host, const lethe_labels *m, const char *path,
                              size_t lineno, const char *s, size_t n)
{
	char list[512];
	lethe_text__quote_list((const char *const *)m->keys, list, sizeof(list));
	host->error(host->ctx, "%s:%zu: unknown label '%.*s' (expected one of %s)", path, lineno,
	            (int)(n > 64 ? 64 : n), s, list);
	return LETHE_EPARSE;
}
