/*
 * seqeval.c: entity-level precision, recall and F1 as seqeval computes them in its default mode,
 * which is conlleval's: entities are read from IOB tags by seqeval's get_entities() rules
 * (an I- tag after O or after another type starts an entity; E- and S- are understood too),
 * sentences are joined with an O between them, and an entity counts as correct only when its
 * type, start and end all match. Zero divisions give 0, as seqeval's default does.
 */
#include <stdlib.h>
#include <string.h>

#include <lethe/lethe.h>
#include <lethe/metrics.h>

typedef struct entity {
	size_t type; /* index into the type list */
	size_t start, end;
} entity;

typedef struct entities {
	entity *v;
	size_t n, cap;
} entities;

typedef struct types {
	char **names;
	size_t n, cap;
} types;

static long type_index(types *t, const char *name, size_t len)
{
	for (size_t i = 0; i < t->n; i++)
		if (strlen(t->names[i]) == len && memcmp(t->names[i], name, len) == 0)
			return (long)i;
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 8;
		char **names = realloc(t->names, cap * sizeof(*names));
		if (!names)
			return -1;
		t->names = names;
		t->cap = cap;
	}
	char *copy = malloc(len + 1);
	if (!copy)
		return -1;
	memcpy(copy, name, len);
	copy[len] = '\0';
	t->names[t->n] = copy;
	return (long)t->n++;
}

static int push(entities *e, size_t type, size_t start, size_t end)
{
	if (e->n == e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 64;
		entity *v = realloc(e->v, cap * sizeof(*v));
		if (!v)
			return LETHE_ENOMEM;
		e->v = v;
		e->cap = cap;
	}
	e->v[e->n++] = (entity){type, start, end};
	return 0;
}

/* The tag letter and the type of a tag, as seqeval splits them (tag[0], tag[1:] after '-'). */
static void split_tag(const char *tag, char *letter, const char **type, size_t *len)
{
	*letter = tag[0];
	const char *rest = tag[0] ? tag + 1 : tag;
	/* chunk[1:].split('-', maxsplit=1)[-1] or '_' */
	const char *dash = strchr(rest, '-');
	*type = dash ? dash + 1 : rest;
	*len = strlen(*type);
	if (*len == 0) {
		*type = "_";
		*len = 1;
	}
}

static int end_of_chunk(char prev, char tag, long prev_type, long type)
{
	if (prev == 'E' || prev == 'S')
		return 1;
	if ((prev == 'B' || prev == 'I') && (tag == 'B' || tag == 'S' || tag == 'O'))
		return 1;
	return prev != 'O' && prev != '.' && prev_type != type;
}

static int start_of_chunk(char prev, char tag, long prev_type, long type)
{
	if (tag == 'B' || tag == 'S')
		return 1;
	if ((prev == 'E' || prev == 'S' || prev == 'O') && (tag == 'E' || tag == 'I'))
		return 1;
	return tag != 'O' && tag != '.' && prev_type != type;
}

/* get_entities() over all sentences joined with "O", plus the final "O". */
static int get_entities(entities *out, types *t, const char *const *const *seqs, const size_t *lens,
                        size_t n)
{
	char prev = 'O';
	long prev_type = -2; /* '' in seqeval: distinct from every real type */
	size_t begin = 0, pos = 0;
	for (size_t s = 0; s <= n; s++) {
		size_t len = s < n ? lens[s] + 1 : 1; /* each sentence, then its joining "O" */
		for (size_t k = 0; k < len; k++, pos++) {
			const char *tag = (s < n && k < lens[s]) ? seqs[s][k] : "O";
			char letter;
			const char *type_name;
			size_t type_len;
			split_tag(tag, &letter, &type_name, &type_len);
			long type = type_index(t, type_name, type_len);
			if (type < 0)
				return LETHE_ENOMEM;
			if (end_of_chunk(prev, letter, prev_type, type) &&
			    push(out, (size_t)prev_type, begin, pos - 1))
				return LETHE_ENOMEM;
			if (start_of_chunk(prev, letter, prev_type, type))
				begin = pos;
			prev = letter;
			prev_type = type;
		}
		if (s == n)
			break;
	}
	return 0;
}

static int by_entity(const void *a, const void *b)
{
	const entity *x = a, *y = b;
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return 0;
}

/* Removes duplicates from a sorted list: seqeval compares sets of entities. */
static void unique(entities *e)
{
	size_t k = 0;
	for (size_t i = 0; i < e->n; i++)
		if (k == 0 || by_entity(&e->v[k - 1], &e->v[i]) != 0)
			e->v[k++] = e->v[i];
	e->n = k;
}

static void finish(lethe_entity_score *s)
{
	s->precision = s->n_pred ? (double)s->tp / (double)s->n_pred : 0.0;
	s->recall = s->n_true ? (double)s->tp / (double)s->n_true : 0.0;
	double denom = s->precision + s->recall;
	s->f1 = denom > 0 ? 2 * s->precision * s->recall / denom : 0.0;
}

static int by_type_name(const void *a, const void *b)
{
	const lethe_entity_score *x = a, *y = b;
	return strcmp(x->type, y->type);
}

void lethe_seqeval_free(lethe_seqeval_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_types; i++)
		free((char *)r->types[i].type);
	free(r->types);
	free(r);
}

int lethe_seqeval(lethe_seqeval_result **out, const char *const *const *gold,
                  const char *const *const *pred, const size_t *lens, size_t n)
{
	*out = NULL;
	types t = {0};
	entities g = {0}, p = {0};
	lethe_seqeval_result *r = calloc(1, sizeof(*r));
	int rc = LETHE_ENOMEM;
	if (!r || get_entities(&g, &t, gold, lens, n) || get_entities(&p, &t, pred, lens, n))
		goto fail;
	if (g.n) /* qsort(NULL, 0, ...) is undefined */
		qsort(g.v, g.n, sizeof(*g.v), by_entity);
	if (p.n)
		qsort(p.v, p.n, sizeof(*p.v), by_entity);
	unique(&g);
	unique(&p);

	/* Per type: only types that occur in some entity (gold or predicted). */
	uint64_t *tp = calloc(t.n + 1, sizeof(*tp)), *np = calloc(t.n + 1, sizeof(*np)),
	         *nt = calloc(t.n + 1, sizeof(*nt));
	if (!tp || !np || !nt) {
		free(tp), free(np), free(nt);
		goto fail;
	}
	for (size_t i = 0; i < g.n; i++)
		nt[g.v[i].type]++;
	for (size_t i = 0; i < p.n; i++)
		np[p.v[i].type]++;
	for (size_t i = 0, j = 0; i < g.n && j < p.n;) {
		int c = by_entity(&g.v[i], &p.v[j]);
		if (c == 0) {
			tp[g.v[i].type]++;
			i++, j++;
		} else if (c < 0)
			i++;
		else
			j++;
	}
	size_t used = 0;
	for (size_t i = 0; i < t.n; i++)
		used += nt[i] || np[i];
	r->types = calloc(used ? used : 1, sizeof(*r->types));
	if (!r->types) {
		free(tp), free(np), free(nt);
		goto fail;
	}
	for (size_t i = 0; i < t.n; i++) {
		if (!nt[i] && !np[i])
			continue;
		lethe_entity_score *s = &r->types[r->n_types++];
		s->type = t.names[i];
		t.names[i] = NULL; /* now owned by the result */
		s->tp = tp[i];
		s->n_pred = np[i];
		s->n_true = nt[i];
		finish(s);
		r->micro.tp += tp[i];
		r->micro.n_pred += np[i];
		r->micro.n_true += nt[i];
	}
	finish(&r->micro);
	if (r->n_types)
		qsort(r->types, r->n_types, sizeof(*r->types), by_type_name);
	free(tp), free(np), free(nt);
	*out = r;
	r = NULL;
	rc = 0;
fail:
	lethe_seqeval_free(r);
	for (size_t i = 0; i < t.n; i++)
		free(t.names[i]);
	free(t.names);
	free(g.v);
	free(p.v);
	return rc;
}
