/*
 * scores.c: an ordered set of named metrics with flags (direction, primary, count). It is what
 * plugins fill through the host's metric service; it does not compute anything itself.
 */
#include <stdlib.h>
#include <string.h>

#include <lethe/lethe.h>

struct metric {
	char *name;
	double value;
	unsigned flags;
};

struct lethe_scores {
	struct metric *items;
	size_t n, cap;
};

int lethe_scores_new(lethe_scores **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : LETHE_ENOMEM;
}

void lethe_scores_clear(lethe_scores *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->items[i].name);
	s->n = 0;
}

void lethe_scores_free(lethe_scores *s)
{
	if (!s)
		return;
	lethe_scores_clear(s);
	free(s->items);
	free(s);
}

int lethe_scores_add(lethe_scores *s, const char *name, double value, unsigned flags)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->items[i].name, name) == 0)
			return LETHE_EEXISTS;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct metric *items = realloc(s->items, cap * sizeof(*items));
		if (!items)
			return LETHE_ENOMEM;
		s->items = items;
		s->cap = cap;
	}
	char *copy = strdup(name);
	if (!copy)
		return LETHE_ENOMEM;
	s->items[s->n++] = (struct metric){copy, value, flags};
	return 0;
}

size_t lethe_scores_count(const lethe_scores *s)
{
	return s->n;
}

void lethe_scores_at(const lethe_scores *s, size_t i, const char **name, double *value,
                     unsigned *flags)
{
	if (name)
		*name = s->items[i].name;
	if (value)
		*value = s->items[i].value;
	if (flags)
		*flags = s->items[i].flags;
}

long lethe_scores_primary(const lethe_scores *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->items[i].flags & LETHE_METRIC_PRIMARY)
			return (long)i;
	return -1;
}
