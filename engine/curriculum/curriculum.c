/*
 * curriculum.c: reads a curriculum (YAML, see docs/curriculum.md) into lethe_curriculum and
 * validates it: unknown keys (with a did-you-mean), wrong types, values out of range, duplicate
 * names, stages naming undefined tasks, mix weights, environment variables, and, through the
 * plugins, task options and data files. Every error is kept as a record (its line and column,
 * and its text "file:line:column: message"), so that a person fixes them all in one pass, in file
 * order. It trains nothing. The struct is private: users go through lethe/curriculum.h.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lethe/curriculum.h>
#include <lethe/lethe.h>

#include "errsink.h"
#include "util/errbuf.h"
#include "util/text.h"
#include "yaml.h"

/* One validation error: where it is (0, 0: nowhere in particular) and its whole line. */
typedef struct cur_error {
	int line, col;
	char *text;
} cur_error;

struct lethe_curriculum {
	char *path, *text; /* the file and its contents */
	char *name;
	uint64_t seed;      /* the model's initialisation */
	uint64_t data_seed; /* the order examples are drawn in (seed unless seed: {data: M}) */
	lethe_model_config model; /* vocab filled from the tokenizer at run time */
	long vocab;               /* tokenizer vocabulary size */
	char *model_from;         /* a pretrained checkpoint (model: {from: PATH}), or NULL */
	char *model_from_stage;   /* with a run file as PATH: the stage whose model it is */
	lethe_cur_task *tasks;
	size_t n_tasks;
	lethe_cur_stage *stages;
	size_t n_stages;
	size_t *eval_tasks; /* tasks evaluated after every stage */
	size_t n_eval_tasks;
	int baseline;
	char *output;
	cur_error *errors; /* sorted by position once loading ends */
	size_t n_errors;
	lethe_errbuf err; /* the last failed call's message */
	/* The examples a run kept of each task's splits (run/sample.c), for the run-file writer:
	 * [task * LETHE_SPLIT_COUNT + split]; NULL until a run sets them. */
	struct cur_sample {
		char *kind;
		size_t *idx, n;
	} * samples;
};

typedef struct ctx {
	lethe_curriculum *c;
	const char *file; /* as the user named it, for messages */
	char *dir;        /* the curriculum's directory, for relative paths */
	int oom;
	/* The current task's option positions, parallel to its options: a plugin's message that
	 * starts with an option's place is filed under that place. */
	int (*opt_pos)[2];
} ctx;

static void error_at(ctx *x, const lethe_ynode *n, const char *fmt, ...) LETHE_PRINTF(3, 4);
/* Adds one finished error line found at line:col (0, 0: no position). */
static void add_error(ctx *x, int line, int col, const char *text)
{
	cur_error *e = realloc(x->c->errors, (x->c->n_errors + 1) * sizeof(*e));
	if (!e) {
		x->oom = 1;
		return;
	}
	x->c->errors = e;
	e[x->c->n_errors] = (cur_error){line, col, strdup(text)};
	if (!e[x->c->n_errors].text) {
		x->oom = 1;
		return;
	}
	x->c->n_errors++;
}

static void error_at(ctx *x, const lethe_ynode *n, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	char line[1400];
	if (n)
		snprintf(line, sizeof(line), "%s:%d:%d: %s", x->file, n->line, n->col, msg);
	else
		snprintf(line, sizeof(line), "%s: %s", x->file, msg);
	add_error(x, n ? n->line : 0, n ? n->col : 0, line);
}

static const char *type_name(const lethe_ynode *n)
{
	return n->type == LETHE_YMAP ? "a map" : n->type == LETHE_YSEQ ? "a list" : "a value";
}

typedef struct key_ref {
	const char *key;
	size_t i;
} key_ref;

static int key_ref_cmp(const void *a, const void *b)
{
	const key_ref *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Reports keys of map that are not in known, with a suggestion, and duplicate keys. Duplicates
 * are found by sorting (a map of 80,000 tasks took minutes pairwise). */
static void check_keys(ctx *x, const lethe_ynode *map, const char *where, const char *const *known)
{
	key_ref *refs = map->n ? malloc(map->n * sizeof(*refs)) : NULL;
	if (map->n && !refs) {
		x->oom = 1;
		return;
	}
	for (size_t i = 0; i < map->n; i++)
		refs[i] = (key_ref){map->keys[i]->value, i};
	if (map->n > 1) /* qsort(NULL, 0, ...) is undefined (an empty map: fuzz_curriculum) */
		qsort(refs, map->n, sizeof(*refs), key_ref_cmp);
	for (size_t i = 1, first = 0; i < map->n; i++) {
		if (strcmp(refs[i].key, refs[first].key) != 0) {
			first = i;
			continue;
		}
		const lethe_ynode *k = map->keys[refs[i].i];
		error_at(x, k, "%s: key '%s' appears twice (first at line %d)", where, k->value,
		         map->keys[refs[first].i]->line);
	}
	free(refs);
	for (size_t i = 0; i < map->n; i++) {
		const lethe_ynode *k = map->keys[i];
		if (!known)
			continue;
		int found = 0;
		for (size_t j = 0; known[j] && !found; j++)
			found = strcmp(known[j], k->value) == 0;
		if (found)
			continue;
		const char *near = lethe_text__suggest(k->value, known);
		if (near)
			error_at(x, k, "%s: unknown key '%s' (did you mean '%s'?)", where, k->value,
			         near);
		else
			error_at(x, k, "%s: unknown key '%s'", where, k->value);
	}
}

/* Task and stage names become HDF5 group names in the run file (docs/run-file.md): refused
 * here, before anything trains, if HDF5 cannot take them. */
static void check_name(ctx *x, const lethe_ynode *n, const char *what)
{
	const char *v = n->value ? n->value : "";
	if (!*v || strcmp(v, ".") == 0 || strchr(v, '/') || strlen(v) > 200)
		error_at(x, n,
		         "%s '%s': a name must be 1 to 200 characters, not '.', without '/' "
		         "(it names a group in the run file)",
		         what, v);
}

static int want(ctx *x, const lethe_ynode *n, lethe_ynode_type type, const char *what)
{
	if (n->type == type)
		return 1;
	error_at(x, n, "%s: expected %s, got %s", what,
	         type == LETHE_YMAP   ? "a map"
	         : type == LETHE_YSEQ ? "a list"
	                              : "a value",
	         type_name(n));
	return 0;
}

/* Expands ${VAR} and ${VAR:-default} in a scalar; NULL (with an error) when a variable is unset. */
static char *expand(ctx *x, const lethe_ynode *n)
{
	const char *s = n->value;
	lethe_buf out = {0};
	if (lethe_buf__add(&out, "", 0))
		goto nomem;
	while (*s) {
		const char *d = strstr(s, "${");
		if (!d) {
			if (lethe_buf__str(&out, s))
				goto nomem;
			break;
		}
		if (lethe_buf__add(&out, s, (size_t)(d - s)))
			goto nomem;
		const char *end = strchr(d, '}');
		if (!end) {
			error_at(x, n, "unterminated '${' in '%s'", n->value);
			lethe_buf__free(&out);
			return NULL;
		}
		char name[256];
		size_t len = (size_t)(end - d - 2);
		if (len >= sizeof(name))
			len = sizeof(name) - 1;
		memcpy(name, d + 2, len);
		name[len] = '\0';
		char *def = strstr(name, ":-");
		if (def) {
			*def = '\0';
			def += 2;
		}
		const char *v = getenv(name);
		if (!v || (!*v && def))
			v = def;
		if (!v) {
			error_at(x, n,
			         "environment variable '%s' is not set (write ${%s:-default} to "
			         "give a default)",
			         name, name);
			lethe_buf__free(&out);
			return NULL;
		}
		if (lethe_buf__str(&out, v))
			goto nomem;
		s = end + 1;
	}
	return out.s;
nomem:
	x->oom = 1;
	lethe_buf__free(&out);
	return NULL;
}

static int get_long(ctx *x, const lethe_ynode *n, const char *what, long min, long max, long *out)
{
	if (!want(x, n, LETHE_YSCALAR, what))
		return 0;
	char *end;
	errno = 0;
	long v = strtol(n->value, &end, 10);
	if (n->quoted || !*n->value || *end || errno || v < min || v > max) {
		error_at(x, n, "%s: expected an integer from %ld to %ld, got '%s'", what, min, max,
		         n->value);
		return 0;
	}
	*out = v;
	return 1;
}

/* lo_open: the lower bound itself is excluded. */
static int get_double(ctx *x, const lethe_ynode *n, const char *what, double min, int lo_open,
                      double max, double *out)
{
	if (!want(x, n, LETHE_YSCALAR, what))
		return 0;
	char *end;
	double v = strtod(n->value, &end);
	if (n->quoted || !*n->value || *end || !isfinite(v) || v < min || (lo_open && v == min) ||
	    v > max) {
		char upper[48] = "";
		if (max < 1e300) /* every bound is said: "lr: expected a number > 0 and <= 10" */
			snprintf(upper, sizeof(upper), " and <= %g", max);
		error_at(x, n, "%s: expected a number %s %g%s, got '%s'", what,
		         lo_open ? ">" : ">=", min, upper, n->value);
		return 0;
	}
	*out = v;
	return 1;
}

static int get_bool(ctx *x, const lethe_ynode *n, const char *what, int *out)
{
	if (!want(x, n, LETHE_YSCALAR, what))
		return 0;
	if (!n->quoted && (strcmp(n->value, "true") == 0 || strcmp(n->value, "yes") == 0)) {
		*out = 1;
		return 1;
	}
	if (!n->quoted && (strcmp(n->value, "false") == 0 || strcmp(n->value, "no") == 0)) {
		*out = 0;
		return 1;
	}
	error_at(x, n, "%s: expected true or false, got '%s'", what, n->value);
	return 0;
}

static int get_choice(ctx *x, const lethe_ynode *n, const char *what, const char *const *names,
                      int *out)
{
	if (!want(x, n, LETHE_YSCALAR, what))
		return 0;
	for (int i = 0; names[i]; i++)
		if (strcmp(n->value, names[i]) == 0) {
			*out = i;
			return 1;
		}
	char list[256];
	lethe_text__quote_list(names, list, sizeof(list));
	const char *near = lethe_text__suggest(n->value, names);
	if (near)
		error_at(x, n, "%s: expected one of %s, got '%s' (did you mean '%s'?)", what, list,
		         n->value, near);
	else
		error_at(x, n, "%s: expected one of %s, got '%s'", what, list, n->value);
	return 0;
}

/* A path relative to the curriculum's directory, after ${VAR} expansion. */
static char *get_path(ctx *x, const lethe_ynode *n, const char *what)
{
	if (!want(x, n, LETHE_YSCALAR, what))
		return NULL;
	char *v = expand(x, n);
	if (!v)
		return NULL;
	if (v[0] == '/' || !x->dir[0])
		return v;
	char *p = malloc(strlen(x->dir) + strlen(v) + 2);
	if (p)
		sprintf(p, "%s/%s", x->dir, v);
	else
		x->oom = 1;
	free(v);
	return p;
}

/* ---- training settings ------------------------------------------------------------------------
 */

static const char *const train_keys[] = {
    "optimizer", "lr",       "schedule",       "batch",           "grad_accum", "epochs",
    "steps",     "clip",     "freeze",         "reset_optimizer", "regularize", "replay",
    "adapter",   "evaluate", "loss_weighting", "precision",       NULL};
static const char *const group_names[] = {"embeddings", "attention", "mlp", "norms", NULL};

/* ---- methods against forgetting (docs/methods.md) ----------------------------------------- */

/* freeze: {layers: "0-5,7", groups: [embeddings]}: the listed layers whole, the groups everywhere.
 * Layers are checked against the model's layer count (known once 'model' is read). */
static void read_freeze_map(ctx *x, const lethe_ynode *v, const char *where,
                            lethe_train_settings *s)
{
	static const char *const keys[] = {"layers", "groups", NULL};
	char what[300];
	snprintf(what, sizeof(what), "%s freeze", where);
	check_keys(x, v, what, keys);
	s->freeze = 0;
	memset(s->freeze_layers, 0, sizeof(s->freeze_layers));
	const lethe_ynode *o;
	if ((o = lethe_yaml_get(v, "groups")) && want(x, o, LETHE_YSEQ, "freeze groups"))
		for (size_t i = 0; i < o->n; i++) {
			int g;
			if (get_choice(x, o->items[i], "freeze groups", group_names, &g))
				s->freeze |= 1u << g;
		}
	if (!(o = lethe_yaml_get(v, "layers")) || !want(x, o, LETHE_YSCALAR, "freeze layers"))
		return;
	int n_layers = x->c->model.layers; /* 0 when the model could not be read */
	const char *p = o->value;
	while (*p) {
		char *end;
		errno = 0;
		long lo = strtol(p, &end, 10), hi = lo;
		int ok = end != p && !errno && isdigit((unsigned char)*p);
		if (ok && *end == '-') {
			const char *q = end + 1;
			hi = strtol(q, &end, 10);
			ok = end != q && !errno && isdigit((unsigned char)*q);
		}
		ok = ok && (*end == ',' || *end == '\0');
		if (!ok || lo > hi || lo < 0 || hi > 255) {
			error_at(x, o,
			         "freeze layers: expected layer numbers and ranges such as \"0-5\" "
			         "or \"0,2,4-6\", got '%s'",
			         o->value);
			return;
		}
		if (n_layers > 0 && hi >= n_layers) {
			error_at(x, o, "freeze layers: layer %ld, but the model has %d (0 to %d)",
			         hi, n_layers, n_layers - 1);
			return;
		}
		for (long l = lo; l <= hi; l++)
			s->freeze_layers[l / 64] |= 1ull << (l % 64);
		p = *end ? end + 1 : end;
	}
}

/* The key node (for its position) of key in map, or NULL. */
static const lethe_ynode *key_node(const lethe_ynode *map, const char *key)
{
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->keys[i]->value, key) == 0)
			return map->keys[i];
	return NULL;
}

/* reset_optimizer, regularize and replay. */
static void read_methods(ctx *x, const lethe_ynode *map, const char *where, lethe_train_settings *s)
{
	char what[300];
	const lethe_ynode *v, *o;
	if ((v = lethe_yaml_get(map, "reset_optimizer")))
		get_bool(x, v, "reset_optimizer", &s->reset_optimizer);
	if ((v = lethe_yaml_get(map, "regularize")) && want(x, v, LETHE_YMAP, "regularize")) {
		static const char *const keys[] = {"kind",         "lambda",      "fisher_examples",
		                                   "online_gamma", "temperature", NULL};
		static const char *const kinds[] = {"none", "l2", "ewc", "lwf", NULL};
		snprintf(what, sizeof(what), "%s regularize", where);
		check_keys(x, v, what, keys);
		lethe_regularizer r = {LETHE_REG_NONE, 0, 64, 1.0, 2.0};
		int kind = 0, known = 0;
		if (!(o = lethe_yaml_get(v, "kind")))
			error_at(x, v, "%s: missing key 'kind' (l2, ewc, lwf or none)", what);
		else if ((known = get_choice(x, o, "regularize kind", kinds, &kind)))
			r.kind = (lethe_reg_kind)kind;
		if ((o = lethe_yaml_get(v, "lambda")))
			get_double(x, o, "regularize lambda", 0, 0, 1e12, &r.lambda);
		else if (r.kind != LETHE_REG_NONE)
			error_at(x, v, "%s: missing key 'lambda' (the penalty's weight)", what);
		/* Each option belongs to one kind: another kind's is a mistake, not ignored. */
		static const struct {
			const char *key;
			lethe_reg_kind kind;
		} own[] = {{"fisher_examples", LETHE_REG_EWC},
		           {"online_gamma", LETHE_REG_EWC},
		           {"temperature", LETHE_REG_LWF}};
		for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
			if ((o = key_node(v, own[i].key)) && known && r.kind != own[i].kind)
				error_at(x, o, "%s: '%s' is an option of kind %s only", what,
				         own[i].key, kinds[own[i].kind]);
		if ((o = lethe_yaml_get(v, "fisher_examples")))
			get_long(x, o, "regularize fisher_examples", 1, 1000000,
			         &r.fisher_examples);
		if ((o = lethe_yaml_get(v, "online_gamma")))
			get_double(x, o, "regularize online_gamma", 0, 0, 1, &r.online_gamma);
		if ((o = lethe_yaml_get(v, "temperature")))
			get_double(x, o, "regularize temperature", 0, 1, 1000, &r.temperature);
		s->regularize = r;
	}
	if ((v = lethe_yaml_get(map, "replay")) && want(x, v, LETHE_YMAP, "replay")) {
		static const char *const keys[] = {"per_task", "ratio", "policy", NULL};
		static const char *const policies[] = {"reservoir", NULL};
		snprintf(what, sizeof(what), "%s replay", where);
		check_keys(x, v, what, keys);
		lethe_replay r = {0, 0};
		int which;
		if (!(o = lethe_yaml_get(v, "per_task")))
			error_at(x, v,
			         "%s: missing key 'per_task' (examples kept per finished task)",
			         what);
		else
			get_long(x, o, "replay per_task", 1, 100000000L, &r.per_task);
		if (!(o = lethe_yaml_get(v, "ratio")))
			error_at(x, v, "%s: missing key 'ratio' (the fraction of a batch replayed)",
			         what);
		else
			get_double(x, o, "replay ratio", 0, 0, 1, &r.ratio);
		if ((o = lethe_yaml_get(v, "policy")))
			get_choice(x, o, "replay policy", policies, &which);
		s->replay = r;
	}
}

/* ---- adapter (LoRA) ---------------------------------------------------------------------------
 * adapter: {kind: lora, rank, alpha, dropout, targets, merge, per_stage, orthogonal} or
 * {kind: none}. A map stands alone: keys it does not give take their defaults, not the train
 * section's. orthogonal (O-LoRA's lambda) needs per_stage; per_stage refuses merge: true. */

static const char *const lora_target_names[] = {"q", "k", "v", "o", "gate", "up", "down", NULL};

static void read_adapter(ctx *x, const lethe_ynode *v, const char *where, lethe_train_settings *s)
{
	static const char *const keys[] = {"kind",  "rank",      "alpha",      "dropout", "targets",
	                                   "merge", "per_stage", "orthogonal", NULL};
	static const char *const kinds[] = {"lora", "none", NULL};
	char what[300];
	if (!want(x, v, LETHE_YMAP, "adapter"))
		return;
	snprintf(what, sizeof(what), "%s adapter", where);
	check_keys(x, v, what, keys);
	const lethe_ynode *o = lethe_yaml_get(v, "kind");
	int kind = 0;
	if (!o) {
		error_at(x, v, "%s: missing key 'kind' (lora or none)", what);
		return;
	}
	if (!get_choice(x, o, "adapter kind", kinds, &kind))
		return;
	s->adapter_rank = 0;
	s->adapter_alpha = s->adapter_dropout = 0;
	s->adapter_targets = 0;
	s->adapter_merge = 0;
	s->adapter_per_stage = 0;
	s->adapter_orthogonal = 0;
	if (kind == 1) {
		for (int k = 1; keys[k]; k++)
			if ((o = lethe_yaml_get(v, keys[k])))
				error_at(x, o, "%s: '%s' needs kind: lora", what, keys[k]);
		return;
	}
	long rank = 8;
	double alpha = 16, dropout = 0;
	unsigned targets = LETHE_LORA_Q | LETHE_LORA_V; /* PEFT's default for Llama */
	int merge = 0, flag;
	if ((o = lethe_yaml_get(v, "rank")))
		get_long(x, o, "adapter rank", 1, 4096, &rank);
	if ((o = lethe_yaml_get(v, "alpha")))
		get_double(x, o, "adapter alpha", 0, 1, 1e6, &alpha);
	if ((o = lethe_yaml_get(v, "dropout")) &&
	    get_double(x, o, "adapter dropout", 0, 0, 1, &dropout) && dropout >= 1) {
		error_at(x, o, "adapter dropout: expected a number >= 0 and < 1, got '%s'",
		         o->value);
		dropout = 0;
	}
	if ((o = lethe_yaml_get(v, "targets")) && want(x, o, LETHE_YSEQ, "adapter targets")) {
		targets = 0;
		if (o->n == 0)
			error_at(x, o,
			         "adapter targets: expected at least one of q, k, v, o, gate, "
			         "up, down");
		for (size_t i = 0; i < o->n; i++) {
			int t;
			if (!get_choice(x, o->items[i], "adapter target", lora_target_names, &t))
				continue;
			if (targets & (1u << t))
				error_at(x, o->items[i], "adapter targets: '%s' is named twice",
				         lora_target_names[t]);
			targets |= 1u << t;
		}
	}
	if ((o = lethe_yaml_get(v, "merge")))
		get_bool(x, o, "adapter merge", &merge);
	int per_stage = 0;
	double orthogonal = 0;
	if ((o = lethe_yaml_get(v, "per_stage")) && get_bool(x, o, "adapter per_stage", &flag))
		per_stage = flag;
	if (per_stage && merge)
		error_at(x, lethe_yaml_get(v, "merge"),
		         "adapter merge: per_stage keeps each stage's adapter apart, so it cannot "
		         "be merged into the base; drop merge: true or per_stage: true");
	if ((o = lethe_yaml_get(v, "orthogonal")) &&
	    get_double(x, o, "adapter orthogonal", 0, 0, 1e12, &orthogonal) && !per_stage)
		error_at(x, o,
		         "adapter orthogonal: O-LoRA's penalty acts between per-stage adapters; "
		         "give per_stage: true");
	s->adapter_rank = (int)rank;
	s->adapter_alpha = alpha;
	s->adapter_dropout = dropout;
	s->adapter_targets = targets ? targets : LETHE_LORA_Q | LETHE_LORA_V;
	s->adapter_merge = merge;
	s->adapter_per_stage = per_stage;
	s->adapter_orthogonal = orthogonal;
}

/* ---- within-stage curves and loss weighting (issue #12) ----------------------------------- */

/* evaluate: {every: N, curve_limit: M} and loss_weighting: token | example, in train: or a
 * stage. A stage's evaluate map replaces the defaults' as a whole (every: 0 turns it off). */
static void read_curve_settings(ctx *x, const lethe_ynode *map, const char *where,
                                lethe_train_settings *s)
{
	const lethe_ynode *v, *o;
	if ((v = lethe_yaml_get(map, "evaluate")) && want(x, v, LETHE_YMAP, "evaluate")) {
		static const char *const keys[] = {"every", "curve_limit", NULL};
		char what[300];
		snprintf(what, sizeof(what), "%s evaluate", where);
		check_keys(x, v, what, keys);
		long every = 0, limit = 0;
		if (!(o = lethe_yaml_get(v, "every")))
			error_at(x, v,
			         "%s: missing key 'every' (evaluate every N optimizer steps inside "
			         "the stage; 0: only at its end)",
			         what);
		else
			get_long(x, o, "evaluate every", 0, 1000000000L, &every);
		if ((o = lethe_yaml_get(v, "curve_limit")))
			get_long(x, o, "evaluate curve_limit", 1, 1000000000L, &limit);
		s->eval_every = every;
		s->curve_limit = limit;
	}
	if ((v = lethe_yaml_get(map, "loss_weighting"))) {
		static const char *const names[] = {"token", "example", NULL};
		int w;
		if (get_choice(x, v, "loss_weighting", names, &w))
			s->loss_weighting = (lethe_loss_weighting)w;
	}
}

/* ---- precision (issue #15) ---------------------------------------------------------------- */

/* precision: fp32 | bf16, in train: or a stage. bf16 is refused here, at its line, when this
 * build or this CPU cannot compute in it (lethe_precision_check says why). */
static void read_precision(ctx *x, const lethe_ynode *map, lethe_train_settings *s)
{
	static const char *const names[] = {"fp32", "bf16", NULL};
	const lethe_ynode *v = lethe_yaml_get(map, "precision");
	int p;
	if (!v || !get_choice(x, v, "precision", names, &p))
		return;
	char why[256];
	if (lethe_precision_check((lethe_precision)p, why, sizeof(why)))
		error_at(x, v, "precision: %s: %s", names[p], why);
	else
		s->precision = (lethe_precision)p;
}

/* Reads the training keys present in map into s (others untouched). */
static void read_train(ctx *x, const lethe_ynode *map, const char *where, lethe_train_settings *s)
{
	char what[256];
	const lethe_ynode *v;
	if ((v = lethe_yaml_get(map, "optimizer")) && want(x, v, LETHE_YMAP, "optimizer")) {
		static const char *const keys[] = {"name",  "lr",  "weight_decay",     "beta1",
		                                   "beta2", "eps", "decay_embeddings", NULL};
		snprintf(what, sizeof(what), "%s optimizer", where);
		check_keys(x, v, what, keys);
		const lethe_ynode *o;
		static const char *const optimizers[] = {"adamw", NULL};
		int which;
		if ((o = lethe_yaml_get(v, "name")))
			get_choice(x, o, "optimizer name", optimizers, &which);
		if ((o = lethe_yaml_get(v, "lr")))
			get_double(x, o, "lr", 0, 1, 10, &s->lr);
		if ((o = lethe_yaml_get(v, "weight_decay")))
			get_double(x, o, "weight_decay", 0, 0, 10, &s->weight_decay);
		if ((o = lethe_yaml_get(v, "beta1")))
			get_double(x, o, "beta1", 0, 0, 0.999999, &s->beta1);
		if ((o = lethe_yaml_get(v, "beta2")))
			get_double(x, o, "beta2", 0, 0, 0.999999, &s->beta2);
		if ((o = lethe_yaml_get(v, "eps")))
			get_double(x, o, "eps", 0, 1, 1, &s->eps);
		if ((o = lethe_yaml_get(v, "decay_embeddings")))
			get_bool(x, o, "decay_embeddings", &s->decay_embeddings);
	}
	if ((v = lethe_yaml_get(map, "lr")))
		get_double(x, v, "lr", 0, 1, 10, &s->lr);
	if ((v = lethe_yaml_get(map, "schedule")) && want(x, v, LETHE_YMAP, "schedule")) {
		static const char *const keys[] = {"name", "warmup", NULL};
		static const char *const schedules[] = {"constant", "linear", "cosine", NULL};
		snprintf(what, sizeof(what), "%s schedule", where);
		check_keys(x, v, what, keys);
		const lethe_ynode *o;
		int which;
		if ((o = lethe_yaml_get(v, "name")) &&
		    get_choice(x, o, "schedule name", schedules, &which))
			s->schedule = (lethe_schedule)which;
		if ((o = lethe_yaml_get(v, "warmup")))
			get_long(x, o, "warmup", 0, 1000000000L, &s->warmup);
	}
	if ((v = lethe_yaml_get(map, "batch")))
		get_long(x, v, "batch", 1, 4096, &s->batch);
	if ((v = lethe_yaml_get(map, "grad_accum")))
		get_long(x, v, "grad_accum", 1, 4096, &s->grad_accum);
	const lethe_ynode *ep = lethe_yaml_get(map, "epochs"), *st = lethe_yaml_get(map, "steps");
	if (ep && st)
		error_at(x, st, "%s: give epochs or steps, not both", where);
	if (ep && get_double(x, ep, "epochs", 0, 1, 1e6, &s->epochs))
		s->steps = 0;
	if (st && get_long(x, st, "steps", 1, 1000000000L, &s->steps))
		s->epochs = 0;
	if ((v = lethe_yaml_get(map, "clip")))
		get_double(x, v, "clip", 0, 0, 1e9, &s->clip);
	read_methods(x, map, where, s);
	if ((v = lethe_yaml_get(map, "adapter")))
		read_adapter(x, v, where, s);
	read_curve_settings(x, map, where, s);
	read_precision(x, map, s);
	if ((v = lethe_yaml_get(map, "freeze")) && v->type == LETHE_YMAP)
		read_freeze_map(x, v, where, s);
	else if ((v = lethe_yaml_get(map, "freeze")) && want(x, v, LETHE_YSEQ, "freeze")) {
		s->freeze = 0;
		memset(s->freeze_layers, 0, sizeof(s->freeze_layers));
		for (size_t i = 0; i < v->n; i++) {
			int g;
			if (get_choice(x, v->items[i], "freeze", group_names, &g))
				s->freeze |= 1u << g;
		}
	}
}

/* ---- tasks ------------------------------------------------------------------------------------
 */

static const char *const engine_task_keys[] = {"plugin",      "train",       "eval", "eval_limit",
                                               "eval_sample", "train_limit", NULL};
static const char *const sample_names[] = {"random", "first", NULL};

static int is_engine_key(const char *k)
{
	for (int i = 0; engine_task_keys[i]; i++)
		if (strcmp(k, engine_task_keys[i]) == 0)
			return 1;
	return 0;
}

/* Flattens a task entry's plugin options: nested maps become dotted keys, list items indices. */
static void flatten(ctx *x, lethe_cur_task *t, const char *prefix, const lethe_ynode *v)
{
	if (v->type == LETHE_YSCALAR) {
		lethe_option *o = realloc(t->options, (t->n_options + 1) * sizeof(*o));
		if (o)
			t->options = o;
		int(*pos)[2] = o ? realloc(x->opt_pos, (t->n_options + 1) * sizeof(*pos)) : NULL;
		if (!pos) {
			x->oom = 1;
			return;
		}
		x->opt_pos = pos;
		pos[t->n_options][0] = v->line;
		pos[t->n_options][1] = v->col;
		char where[1024];
		snprintf(where, sizeof(where), "%s:%d:%d", x->file, v->line, v->col);
		char *val = expand(x, v);
		o[t->n_options] = (lethe_option){strdup(prefix), val, strdup(where)};
		if (!val || !o[t->n_options].key || !o[t->n_options].where) {
			free((char *)o[t->n_options].key);
			free((char *)o[t->n_options].where);
			free(val);
			return;
		}
		t->n_options++;
		return;
	}
	for (size_t i = 0; i < v->n; i++) {
		char key[512];
		if (v->type == LETHE_YMAP)
			snprintf(key, sizeof(key), "%s.%s", prefix, v->keys[i]->value);
		else
			snprintf(key, sizeof(key), "%s.%zu", prefix, i);
		flatten(x, t, key, v->items[i]);
	}
}

static void read_tasks(ctx *x, const lethe_ynode *tasks, lethe_registry *reg, int load_data)
{
	lethe_curriculum *c = x->c;
	check_keys(x, tasks, "tasks", NULL);
	c->tasks = calloc(tasks->n ? tasks->n : 1, sizeof(*c->tasks));
	if (!c->tasks) {
		x->oom = 1;
		return;
	}
	for (size_t i = 0; i < tasks->n; i++) {
		const lethe_ynode *k = tasks->keys[i], *v = tasks->items[i];
		lethe_cur_task *t = &c->tasks[c->n_tasks++];
		t->name = strdup(k->value);
		check_name(x, k, "task");
		char where[300];
		snprintf(where, sizeof(where), "task '%s'", k->value);
		if (!want(x, v, LETHE_YMAP, where))
			continue;
		check_keys(x, v, where, NULL);
		const lethe_ynode *p = lethe_yaml_get(v, "plugin"), *o;
		if (!p)
			error_at(x, v, "%s: missing key 'plugin' (the task plugin, e.g. sentiment)",
			         where);
		else if (want(x, p, LETHE_YSCALAR, "plugin"))
			t->plugin = strdup(p->value);
		if ((o = lethe_yaml_get(v, "train")))
			t->train = get_path(x, o, "train");
		if ((o = lethe_yaml_get(v, "eval")))
			t->eval = get_path(x, o, "eval");
		if ((o = lethe_yaml_get(v, "eval_limit")))
			get_long(x, o, "eval_limit", 1, LONG_MAX, &t->eval_limit);
		if ((o = lethe_yaml_get(v, "train_limit")))
			get_long(x, o, "train_limit", 1, LONG_MAX, &t->train_limit);
		if ((o = lethe_yaml_get(v, "eval_sample")))
			get_choice(x, o, "eval_sample", sample_names, &t->eval_first);
		if (!lethe_yaml_get(v, "train") && !lethe_yaml_get(v, "eval"))
			error_at(x, v, "%s: needs 'train' or 'eval' data (or both)", where);
		for (size_t j = 0; j < v->n; j++)
			if (!is_engine_key(v->keys[j]->value))
				flatten(x, t, v->keys[j]->value, v->items[j]);
		if (!reg || !t->plugin)
			continue;
		/* A name with a slash, or a file name ending in .so, is a path. */
		size_t pl = strlen(t->plugin);
		int is_path =
		    strchr(t->plugin, '/') || (pl > 3 && !strcmp(t->plugin + pl - 3, ".so"));
		const lethe_plugin_info *info =
		    is_path ? NULL : lethe_registry_find(reg, t->plugin);
		if (is_path) {
			char *path = get_path(x, p, "plugin");
			if (path && lethe_registry_load(reg, path) == 0)
				info = lethe_registry_at(reg, lethe_registry_count(reg) - 1);
			else if (path)
				error_at(x, p, "%s: %s", where, lethe_registry_errmsg(reg));
			free(path);
			if (!info)
				continue;
		}
		if (!info) {
			const char *names[64];
			size_t n = lethe_registry_count(reg) < 63 ? lethe_registry_count(reg) : 63;
			for (size_t j = 0; j < n; j++)
				names[j] = lethe_registry_at(reg, j)->name;
			names[n] = NULL;
			const char *near = lethe_text__suggest(t->plugin, names);
			if (near)
				error_at(x, p, "%s: no plugin named '%s' (did you mean '%s'?)",
				         where, t->plugin, near);
			else
				error_at(
				    x, p,
				    "%s: no plugin named '%s' (looked in %s; a plugin elsewhere: "
				    "its folder with --plugin-path DIR or LETHE_PLUGIN_PATH, or "
				    "its file as plugin: ./%s.so)",
				    where, t->plugin, lethe_registry_searched(reg), t->plugin);
			continue;
		}
		if (lethe_instance_open(&t->instance, info, t->options, t->n_options)) {
			if (t->instance) {
				/* Plugin messages start with the option's place; keep them as they
				 * are, filed under that option's position. */
				const char *msg = lethe_instance_errmsg(t->instance);
				size_t j = 0;
				while (j < t->n_options &&
				       !(strncmp(msg, t->options[j].where,
				                 strlen(t->options[j].where)) == 0 &&
				         msg[strlen(t->options[j].where)] == ':'))
					j++;
				if (j < t->n_options)
					add_error(x, x->opt_pos[j][0], x->opt_pos[j][1], msg);
				else
					error_at(x, v, "%s: %s", where, msg);
			}
			lethe_instance_free(t->instance);
			t->instance = NULL;
			continue;
		}
		if (!load_data)
			continue;
		const lethe_ynode *tn = lethe_yaml_get(v, "train"), *en = lethe_yaml_get(v, "eval");
		if (t->train &&
		    lethe_instance_load(t->instance, LETHE_SPLIT_TRAIN, t->train, &t->n_train))
			error_at(x, tn, "%s: %s", where, lethe_instance_errmsg(t->instance));
		if (t->eval &&
		    lethe_instance_load(t->instance, LETHE_SPLIT_EVAL, t->eval, &t->n_eval))
			error_at(x, en, "%s: %s", where, lethe_instance_errmsg(t->instance));
	}
}

static long find_task(const lethe_curriculum *c, const char *name)
{
	for (size_t i = 0; i < c->n_tasks; i++)
		if (c->tasks[i].name && strcmp(c->tasks[i].name, name) == 0)
			return (long)i;
	return -1;
}

/* A task name used by a stage or by evaluate; -1 with an error when undefined. */
static long task_ref(ctx *x, const lethe_ynode *n, const char *where)
{
	if (!want(x, n, LETHE_YSCALAR, where))
		return -1;
	long i = find_task(x->c, n->value);
	if (i >= 0)
		return i;
	const char *names[256];
	size_t k = x->c->n_tasks < 255 ? x->c->n_tasks : 255;
	for (size_t j = 0; j < k; j++)
		names[j] = x->c->tasks[j].name ? x->c->tasks[j].name : "";
	names[k] = NULL;
	const char *near = lethe_text__suggest(n->value, names);
	if (near)
		error_at(x, n, "%s: no task named '%s' (did you mean '%s'?)", where, n->value,
		         near);
	else
		error_at(x, n, "%s: no task named '%s' in 'tasks'", where, n->value);
	return -1;
}

static void read_stages(ctx *x, const lethe_ynode *stages, const lethe_train_settings *defaults)
{
	lethe_curriculum *c = x->c;
	static const char *const keys[] = {"name",
	                                   "tasks",
	                                   "mix",
	                                   "optimizer",
	                                   "lr",
	                                   "schedule",
	                                   "batch",
	                                   "grad_accum",
	                                   "epochs",
	                                   "steps",
	                                   "clip",
	                                   "freeze",
	                                   "reset_optimizer",
	                                   "regularize",
	                                   "replay",
	                                   "adapter",
	                                   "evaluate",
	                                   "loss_weighting",
	                                   "precision",
	                                   NULL};
	c->stages = calloc(stages->n ? stages->n : 1, sizeof(*c->stages));
	if (!c->stages) {
		x->oom = 1;
		return;
	}
	for (size_t i = 0; i < stages->n; i++) {
		const lethe_ynode *s = stages->items[i];
		lethe_cur_stage *st = &c->stages[c->n_stages++];
		st->train = *defaults;
		char where[300];
		snprintf(where, sizeof(where), "stage %zu", i + 1);
		if (!want(x, s, LETHE_YMAP, where))
			continue;
		const lethe_ynode *name = lethe_yaml_get(s, "name");
		if (name && want(x, name, LETHE_YSCALAR, "stage name")) {
			st->name = strdup(name->value);
			check_name(x, name, "stage");
			snprintf(where, sizeof(where), "stage '%s'", name->value);
			for (size_t j = 0; j + 1 < c->n_stages; j++)
				if (c->stages[j].name &&
				    strcmp(c->stages[j].name, name->value) == 0)
					error_at(x, name, "%s: another stage has this name", where);
		} else if (!name) {
			error_at(x, s, "%s: missing key 'name'", where);
		}
		check_keys(x, s, where, keys);
		read_train(x, s, where, &st->train);
		const lethe_ynode *tasks = lethe_yaml_get(s, "tasks"),
		                  *mix = lethe_yaml_get(s, "mix");
		if (tasks && mix) {
			error_at(x, mix, "%s: give 'tasks' or 'mix', not both", where);
			continue;
		}
		if (!tasks && !mix) {
			error_at(x, s, "%s: needs 'tasks' (a list) or 'mix' (task: weight)", where);
			continue;
		}
		const lethe_ynode *list = tasks ? tasks : mix;
		if (!want(x, list, tasks ? LETHE_YSEQ : LETHE_YMAP, tasks ? "tasks" : "mix"))
			continue;
		if (list->n == 0) {
			error_at(x, list, "%s: '%s' is empty", where, tasks ? "tasks" : "mix");
			continue;
		}
		st->tasks = calloc(list->n, sizeof(*st->tasks));
		st->weights = calloc(list->n, sizeof(*st->weights));
		if (!st->tasks || !st->weights) {
			x->oom = 1;
			return;
		}
		if (mix)
			check_keys(x, mix, where, NULL);
		for (size_t j = 0; j < list->n; j++) {
			long t = task_ref(x, tasks ? list->items[j] : list->keys[j], where);
			double w = 1.0;
			if (mix && !get_double(x, list->items[j], "mix weight", 0, 1, 1e9, &w))
				continue;
			if (t < 0)
				continue;
			for (size_t k = 0; k < st->n_tasks; k++)
				if (st->tasks[k] == (size_t)t)
					error_at(x, tasks ? list->items[j] : list->keys[j],
					         "%s: task '%s' is named twice", where,
					         c->tasks[t].name);
			if (!c->tasks[t].train && (c->tasks[t].name))
				error_at(x, tasks ? list->items[j] : list->keys[j],
				         "%s: task '%s' has no 'train' data", where,
				         c->tasks[t].name);
			st->tasks[st->n_tasks] = (size_t)t;
			st->weights[st->n_tasks++] = w;
		}
	}
}

/* One adapter at a time: an adapter that is not merged stays attached and trains on in the next
 * stage, which must therefore ask for the same adapter. */
static void check_adapter_sequence(ctx *x, const lethe_ynode *stages)
{
	const lethe_curriculum *c = x->c;
	/* The regularisers act on the base parameters, which an adapter freezes (and LwF's
	 * teacher would be built without the adapter): refused rather than silently doing
	 * nothing. */
	static const char *const reg_names[] = {"none", "l2", "ewc", "lwf"};
	for (size_t i = 0; i < c->n_stages && i < stages->n; i++) {
		const lethe_train_settings *t = &c->stages[i].train;
		if (!t->adapter_rank || t->regularize.kind == LETHE_REG_NONE ||
		    t->regularize.lambda <= 0)
			continue;
		const lethe_ynode *n = lethe_yaml_get(stages->items[i], "regularize");
		error_at(
		    x, n ? n : stages->items[i],
		    "stage '%s': regularize (%s) does not cover LoRA adapters yet: its penalty "
		    "acts on the base weights, which the adapter freezes; use one or the other",
		    c->stages[i].name ? c->stages[i].name : "?", reg_names[t->regularize.kind]);
	}
	for (size_t i = 1; i < c->n_stages && i < stages->n; i++) {
		const lethe_train_settings *a = &c->stages[i - 1].train, *b = &c->stages[i].train;
		if (!a->adapter_rank || a->adapter_merge)
			continue;
		if (b->adapter_rank == a->adapter_rank && b->adapter_alpha == a->adapter_alpha &&
		    b->adapter_dropout == a->adapter_dropout &&
		    b->adapter_targets == a->adapter_targets &&
		    b->adapter_per_stage == a->adapter_per_stage)
			continue;
		const lethe_ynode *n = lethe_yaml_get(stages->items[i], "adapter");
		error_at(x, n ? n : stages->items[i],
		         "stage '%s': stage '%s' leaves its adapter unmerged, so this stage must "
		         "train the same adapter (same kind, rank, alpha, dropout, targets and "
		         "per_stage); give merge: true there to start afresh",
		         c->stages[i].name ? c->stages[i].name : "?",
		         c->stages[i - 1].name ? c->stages[i - 1].name : "?");
	}
}

/* The run file's directory must be one lethe can create files in (the temporary file, the lock),
 * found here rather than after training: the nearest existing ancestor of output (the run
 * creates the missing ones) must be a directory that is writable. */
static void check_output_dir(ctx *x, const lethe_ynode *v, const char *output)
{
	char dir[PATH_MAX];
	if ((size_t)snprintf(dir, sizeof(dir), "%s", output) >= sizeof(dir))
		return;
	for (;;) {
		char *slash = strrchr(dir, '/');
		if (!slash) {
			snprintf(dir, sizeof(dir), ".");
		} else if (slash == dir) {
			dir[1] = '\0';
		} else {
			*slash = '\0';
		}
		struct stat sb;
		if (stat(dir, &sb) == 0) {
			if (!S_ISDIR(sb.st_mode))
				error_at(x, v, "output: %s is not a directory", dir);
			else if (access(dir, W_OK | X_OK) != 0)
				error_at(x, v, "output: cannot write in %s: %s", dir,
				         strerror(errno));
			return;
		}
		if (!slash || slash == dir)
			return;
	}
}

static void read_evaluate(ctx *x, const lethe_ynode *ev)
{
	lethe_curriculum *c = x->c;
	c->baseline = 1;
	const lethe_ynode *tasks = NULL;
	if (ev && want(x, ev, LETHE_YMAP, "evaluate")) {
		static const char *const keys[] = {"tasks", "baseline", "every", "curve_limit",
		                                   NULL};
		check_keys(x, ev, "evaluate", keys);
		/* Within-stage curves are a training setting, per stage (read_curve_settings). */
		for (const char *const *k = keys + 2; *k; k++)
			if (lethe_yaml_get(ev, *k))
				error_at(
				    x, key_node(ev, *k),
				    "evaluate: '%s' belongs in train: (evaluate: {every: N, "
				    "curve_limit: M}) or in a stage, not in the top-level evaluate",
				    *k);
		const lethe_ynode *b = lethe_yaml_get(ev, "baseline");
		if (b)
			get_bool(x, b, "baseline", &c->baseline);
		tasks = lethe_yaml_get(ev, "tasks");
	}
	c->eval_tasks = calloc(c->n_tasks ? c->n_tasks : 1, sizeof(*c->eval_tasks));
	if (!c->eval_tasks) {
		x->oom = 1;
		return;
	}
	if (!tasks || (tasks->type == LETHE_YSCALAR && strcmp(tasks->value, "all") == 0)) {
		for (size_t i = 0; i < c->n_tasks; i++)
			if (c->tasks[i].eval)
				c->eval_tasks[c->n_eval_tasks++] = i;
		return;
	}
	if (!want(x, tasks, LETHE_YSEQ, "evaluate tasks (all, or a list)"))
		return;
	for (size_t i = 0; i < tasks->n; i++) {
		long t = task_ref(x, tasks->items[i], "evaluate");
		if (t < 0)
			continue;
		if (!c->tasks[t].eval)
			error_at(x, tasks->items[i], "evaluate: task '%s' has no 'eval' data",
			         c->tasks[t].name);
		else
			c->eval_tasks[c->n_eval_tasks++] = (size_t)t;
	}
}

/* model: {from: RUN.h5, stage: NAME}: the model after stage NAME of an earlier run (its last
 * trained stage without NAME) and that run's tokenizer, read through the run-file reader. */
static void from_run_file(ctx *x, const lethe_ynode *from, const lethe_ynode *stage)
{
	lethe_curriculum *c = x->c;
	const char *name = NULL;
	if (stage && want(x, stage, LETHE_YSCALAR, "model stage"))
		name = stage->value;
	lethe_runfile *rf;
	if (lethe_runfile_open(&rf, c->model_from)) {
		error_at(x, from, "model from: %s",
		         rf ? lethe_runfile_errmsg(rf) : "out of memory");
		lethe_runfile_free(rf);
		return;
	}
	size_t row = 0;
	lethe_tokenizer *tok = NULL;
	if (lethe_runfile_find_stage(rf, name, &row))
		error_at(x, name ? stage : from, "model %s: %s", name ? "stage" : "from",
		         lethe_runfile_errmsg(rf));
	else if (!(c->model_from_stage = strdup(lethe_runfile_row_names(rf)[row])))
		x->oom = 1;
	else if (lethe_runfile_tokenizer(rf, &tok))
		error_at(x, from, "model from: %s", lethe_runfile_errmsg(rf));
	else {
		c->model = *lethe_runfile_model_config(rf);
		c->vocab = (long)lethe_tokenizer_vocab_size(tok);
	}
	lethe_tokenizer_free(tok);
	lethe_runfile_free(rf);
}

static void read_model(ctx *x, const lethe_ynode *m)
{
	lethe_curriculum *c = x->c;
	const char *preset = "tiny";
	const lethe_ynode *p = NULL;
	if (m && want(x, m, LETHE_YMAP, "model")) {
		static const char *const keys[] = {"preset", "context", "dim",  "layers", "heads",
		                                   "ff",     "tied",    "from", "stage",  NULL};
		check_keys(x, m, "model", keys);
		const lethe_ynode *from = lethe_yaml_get(m, "from");
		const lethe_ynode *stage = lethe_yaml_get(m, "stage");
		if (stage && !from)
			error_at(x, stage,
			         "model: 'stage' names a stage of the run file given by 'from'");
		if (from) {
			/* A pretrained checkpoint brings its own shapes: only the context may be
			 * cut. */
			static const char *const shaped[] = {"preset", "dim",  "layers", "heads",
			                                     "ff",     "tied", NULL};
			for (int i = 0; shaped[i]; i++) {
				const lethe_ynode *o = lethe_yaml_get(m, shaped[i]);
				if (o)
					error_at(
					    x, o,
					    "model: '%s' conflicts with 'from': a pretrained model "
					    "has its own shape (only 'context' may limit it)",
					    shaped[i]);
			}
			c->model_from = get_path(x, from, "model from");
			char why[700];
			if (c->model_from && lethe_text__is_hdf5(c->model_from))
				from_run_file(x, from, stage);
			else if (stage)
				error_at(x, stage,
				         "model: 'stage' names a stage of a run file; %s is a "
				         "checkpoint",
				         c->model_from ? c->model_from : "'from'");
			else if (c->model_from && lethe_model_config_from(&c->model, c->model_from,
			                                                  why, sizeof(why)))
				error_at(x, from, "model from: %s", why);
			else if (c->model_from) {
				/* Its tokenizer too: a run needs both. */
				lethe_tokenizer *tok;
				if (lethe_tokenizer_open(&tok, c->model_from))
					error_at(x, from, "model from: %s",
					         tok ? lethe_tokenizer_errmsg(tok)
					             : "out of memory");
				else if ((c->vocab = (long)lethe_tokenizer_vocab_size(tok)) >
				         c->model.vocab)
					/* Ids past the embedding table would be read out of bounds.
					 */
					error_at(x, from,
					         "model from: %s: the tokenizer has %ld tokens, "
					         "the model's "
					         "embeddings %d",
					         c->model_from, c->vocab, c->model.vocab);
				lethe_tokenizer_free(tok);
			}
			const lethe_ynode *o = lethe_yaml_get(m, "context");
			long v;
			if (o && get_long(x, o, "context", 2, 1 << 20, &v) && v < c->model.context)
				c->model.context = (int)v;
			return;
		}
		if ((p = lethe_yaml_get(m, "preset"))) {
			static const char *const presets[] = {"tiny", "small", "base", NULL};
			int which;
			if (get_choice(x, p, "model preset", presets, &which))
				preset = presets[which];
		}
	}
	lethe_model_preset(&c->model, preset, 4096);
	if (!m || m->type != LETHE_YMAP)
		return;
	long v;
	const lethe_ynode *o;
	int custom = 0;
	if ((o = lethe_yaml_get(m, "context")) && get_long(x, o, "context", 2, 65536, &v))
		c->model.context = (int)v;
	if ((o = lethe_yaml_get(m, "dim")) && get_long(x, o, "dim", 2, 16384, &v))
		c->model.dim = (int)v, custom = 1;
	if ((o = lethe_yaml_get(m, "layers")) && get_long(x, o, "layers", 1, 256, &v))
		c->model.layers = (int)v;
	if ((o = lethe_yaml_get(m, "heads")) && get_long(x, o, "heads", 1, 1024, &v))
		c->model.heads = (int)v;
	if ((o = lethe_yaml_get(m, "ff")) && get_long(x, o, "ff", 1, 1 << 20, &v))
		c->model.ff = (int)v;
	else if (custom)
		c->model.ff = 0; /* derived from the new dim */
	int tied;
	if ((o = lethe_yaml_get(m, "tied")) && get_bool(x, o, "tied", &tied))
		c->model.tied = tied;
	/* Curricula set lethe's own shapes: the head size and key/value heads follow dim and heads
	 * (the preset's were filled in for its own dim). */
	c->model.head_dim = 0;
	c->model.kv_heads = 0;
	char why[256];
	if (lethe_model_config_check(&c->model, why, sizeof(why)))
		error_at(x, m, "model: %s", why);
}

void lethe_curriculum_free(lethe_curriculum *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_tasks; i++) {
		lethe_cur_task *t = &c->tasks[i];
		lethe_instance_free(t->instance);
		for (size_t j = 0; j < t->n_options; j++) {
			free((char *)t->options[j].key);
			free((char *)t->options[j].value);
			free((char *)t->options[j].where);
		}
		free(t->options);
		free(t->name);
		free(t->plugin);
		free(t->train);
		free(t->eval);
	}
	for (size_t i = 0; i < c->n_stages; i++) {
		free(c->stages[i].name);
		free(c->stages[i].tasks);
		free(c->stages[i].weights);
	}
	for (size_t i = 0; i < c->n_errors; i++)
		free(c->errors[i].text);
	free(c->errors);
	for (size_t i = 0; c->samples && i < c->n_tasks * LETHE_SPLIT_COUNT; i++) {
		free(c->samples[i].kind);
		free(c->samples[i].idx);
	}
	free(c->samples);
	free(c->tasks);
	free(c->stages);
	free(c->eval_tasks);
	free(c->path);
	free(c->text);
	free(c->name);
	free(c->output);
	free(c->model_from);
	free(c->model_from_stage);
	free(c);
}

/* Whether a comes before b in the file; errors without a position (0, 0) come first. */
static int before(const cur_error *a, const cur_error *b)
{
	return a->line != b->line ? a->line < b->line : a->col < b->col;
}

int lethe_curriculum_load(lethe_curriculum **out, const char *path, lethe_registry *reg,
                          int load_data)
{
	lethe_curriculum *c = calloc(1, sizeof(*c));
	*out = c;
	if (!c)
		return LETHE_ENOMEM;
	ctx x = {c, path, NULL, 0, NULL};
	size_t len;
	c->path = strdup(path);
	const char *slash = strrchr(path, '/');
	x.dir = slash ? strndup(path, (size_t)(slash - path)) : strdup("");
	if (!c->path || !x.dir) {
		free(x.dir);
		return lethe_errbuf__set(&c->err, LETHE_ENOMEM, "out of memory");
	}
	int rc = lethe_text__read_file(&c->err, path, &c->text, &len);
	if (rc) {
		/* The message already starts with the path. */
		add_error(&x, 0, 0, c->err.msg);
		free(x.dir);
		return rc == LETHE_ENOMEM || x.oom ? LETHE_ENOMEM : LETHE_EPARSE;
	}
	lethe_yaml y;
	if ((rc = lethe_yaml_parse(&y, c->text, len))) {
		if (rc == LETHE_ENOMEM) {
			free(x.dir);
			return lethe_errbuf__set(&c->err, rc, "out of memory");
		}
		char line[2400];
		/* The commonest cause: ${VAR} unquoted inside {...} or [...], where braces end the
		 * value. */
		long bad_line = y.line;
		const char *ls = c->text;
		for (long k = 1; k < bad_line && ls; k++)
			if ((ls = strchr(ls, '\n')))
				ls++;
		const char *le = ls ? strchr(ls, '\n') : NULL;
		int hint = 0;
		if (ls) {
			size_t ll = le ? (size_t)(le - ls) : strlen(ls);
			char *copy = strndup(ls, ll);
			hint = copy && strstr(copy, "${") &&
			       (strchr(copy, '{') != strstr(copy, "${") + 1 || strchr(copy, '['));
			free(copy);
		}
		snprintf(line, sizeof(line), "%s:%d:%d: %s%s", path, y.line, y.col, y.err.msg,
		         hint ? " (inside {...} or [...], quote values that contain ${...}: "
		                "\"${VAR}/file\")"
		              : "");
		add_error(&x, y.line, y.col, line);
		lethe_errbuf__set(&c->err, LETHE_EPARSE, "%s", line);
		free(x.dir);
		return x.oom ? LETHE_ENOMEM : LETHE_EPARSE;
	}
	const lethe_ynode *root = y.root;
	if (!root || root->type != LETHE_YMAP) {
		error_at(&x, root, "expected a map of curriculum keys (lethe, tasks, stages, ...)");
		lethe_yaml_clear(&y);
		free(x.dir);
		if (x.oom)
			return lethe_errbuf__set(&c->err, LETHE_ENOMEM, "out of memory");
		return lethe_errbuf__set(&c->err, LETHE_EPARSE, "%s", c->errors[0].text);
	}
	static const char *const top[] = {"lethe",     "name",   "seed",  "model",
	                                  "tokenizer", "train",  "tasks", "stages",
	                                  "evaluate",  "output", NULL};
	check_keys(&x, root, "curriculum", top);
	const lethe_ynode *v;
	long n;
	if (!(v = lethe_yaml_get(root, "lethe")))
		error_at(&x, root, "missing key 'lethe' (the format version: lethe: 1)");
	else if (get_long(&x, v, "lethe (format version)", 0, LONG_MAX, &n) && n != 1)
		error_at(&x, v, "format version %ld: this lethe reads version 1", n);
	if ((v = lethe_yaml_get(root, "name")) && want(&x, v, LETHE_YSCALAR, "name"))
		c->name = strdup(v->value);
	else {
		const char *base = slash ? slash + 1 : path;
		const char *dot = strrchr(base, '.');
		c->name = dot ? strndup(base, (size_t)(dot - base)) : strdup(base);
	}
	c->seed = 1234;
	v = lethe_yaml_get(root, "seed");
	if (v && v->type == LETHE_YMAP) {
		/* seed: {init: N, data: M}: the initial model and the data order apart, so that one
		 * can vary while the other stays. */
		static const char *const keys[] = {"init", "data", NULL};
		check_keys(&x, v, "seed", keys);
		const lethe_ynode *o;
		if ((o = lethe_yaml_get(v, "init")) &&
		    get_long(&x, o, "seed init", 0, LONG_MAX, &n))
			c->seed = (uint64_t)n;
		c->data_seed = c->seed;
		if ((o = lethe_yaml_get(v, "data")) &&
		    get_long(&x, o, "seed data", 0, LONG_MAX, &n))
			c->data_seed = (uint64_t)n;
	} else {
		if (v && get_long(&x, v, "seed", 0, LONG_MAX, &n))
			c->seed = (uint64_t)n;
		c->data_seed = c->seed;
	}
	c->vocab = 4096;
	read_model(&x, lethe_yaml_get(root, "model")); /* a pretrained model sets its own */
	if ((v = lethe_yaml_get(root, "tokenizer")) && c->model_from)
		error_at(&x, v,
		         "tokenizer: a pretrained model (model: {from: ...}) brings its own");
	else if ((v = lethe_yaml_get(root, "tokenizer")) && want(&x, v, LETHE_YMAP, "tokenizer")) {
		static const char *const keys[] = {"vocab", NULL};
		check_keys(&x, v, "tokenizer", keys);
		const lethe_ynode *o = lethe_yaml_get(v, "vocab");
		if (o)
			get_long(&x, o, "tokenizer vocab", LETHE_TOKEN_FIRST_MERGE, 65536,
			         &c->vocab);
	}
	lethe_train_settings defaults = {.lr = 3e-4,
	                                 .weight_decay = 0.01,
	                                 .beta1 = 0.9,
	                                 .beta2 = 0.95,
	                                 .eps = 1e-8,
	                                 .schedule = LETHE_SCHEDULE_COSINE,
	                                 .warmup = 0,
	                                 .batch = 16,
	                                 .grad_accum = 1,
	                                 .epochs = 1,
	                                 .clip = 1.0};
	if ((v = lethe_yaml_get(root, "train")) && want(&x, v, LETHE_YMAP, "train")) {
		check_keys(&x, v, "train", train_keys);
		read_train(&x, v, "train", &defaults);
	}
	const lethe_ynode *tasks = lethe_yaml_get(root, "tasks"),
	                  *stages = lethe_yaml_get(root, "stages");
	if (!tasks)
		error_at(&x, root,
		         "missing key 'tasks' (the task instances: name: {plugin, train, eval})");
	else if (want(&x, tasks, LETHE_YMAP, "tasks")) {
		if (tasks->n == 0)
			error_at(&x, tasks, "tasks: no task defined");
		read_tasks(&x, tasks, reg, load_data);
	}
	if (!stages)
		error_at(&x, root, "missing key 'stages' (the list of training stages)");
	else if (want(&x, stages, LETHE_YSEQ, "stages")) {
		if (stages->n == 0)
			error_at(&x, stages, "stages: no stage defined");
		read_stages(&x, stages, &defaults);
		check_adapter_sequence(&x, stages);
	}
	read_evaluate(&x, lethe_yaml_get(root, "evaluate"));
	if ((v = lethe_yaml_get(root, "output"))) {
		c->output = v->type == LETHE_YSCALAR && v->value && !v->value[0]
		                ? NULL
		                : get_path(&x, v, "output");
		if (v->type == LETHE_YSCALAR && v->value && !v->value[0])
			error_at(&x, v,
			         "output: expected the run file's path, got an empty string");
		struct stat sb;
		if (c->output)
			check_output_dir(&x, v, c->output);
		/* The run file is replaced by rename(): it must be a regular file or not exist. */
		if (c->output && stat(c->output, &sb) == 0 && !S_ISREG(sb.st_mode))
			error_at(
			    &x, v,
			    "output: %s is %s: a run file is a regular file, replaced by rename",
			    c->output,
			    S_ISDIR(sb.st_mode) ? "a directory" : "a device or special file");
	} else {
		char rel[600];
		snprintf(rel, sizeof(rel), "%s%sruns/%s.h5", x.dir, x.dir[0] ? "/" : "",
		         c->name ? c->name : "run");
		c->output = strdup(rel);
	}
	lethe_yaml_clear(&y);
	free(x.dir);
	free(x.opt_pos);
	if (x.oom)
		return lethe_errbuf__set(&c->err, LETHE_ENOMEM, "out of memory");
	/* In file order, as a person reads them; stable (an insertion sort), so the errors of one
	 * place keep the order they were found in. */
	for (size_t i = 1; i < c->n_errors; i++)
		for (size_t j = i; j > 0 && before(&c->errors[j], &c->errors[j - 1]); j--) {
			cur_error t = c->errors[j];
			c->errors[j] = c->errors[j - 1];
			c->errors[j - 1] = t;
		}
	if (c->n_errors)
		return lethe_errbuf__set(&c->err, LETHE_EPARSE, "%s", c->errors[0].text);
	return 0;
}

/* ---- accessors --------------------------------------------------------------------------------
 */

const char *lethe_curriculum_errmsg(const lethe_curriculum *c)
{
	return c->err.msg;
}
size_t lethe_curriculum_error_count(const lethe_curriculum *c)
{
	return c->n_errors;
}
const char *lethe_curriculum_error(const lethe_curriculum *c, size_t i)
{
	return i < c->n_errors ? c->errors[i].text : NULL;
}
int lethe_curriculum_error_line(const lethe_curriculum *c, size_t i)
{
	return i < c->n_errors ? c->errors[i].line : 0;
}
int lethe_curriculum_error_column(const lethe_curriculum *c, size_t i)
{
	return i < c->n_errors ? c->errors[i].col : 0;
}
const char *lethe_curriculum_path(const lethe_curriculum *c)
{
	return c->path;
}
const char *lethe_curriculum_text(const lethe_curriculum *c)
{
	return c->text;
}
const char *lethe_curriculum_name(const lethe_curriculum *c)
{
	return c->name;
}
uint64_t lethe_curriculum_seed(const lethe_curriculum *c)
{
	return c->seed;
}

uint64_t lethe_curriculum_data_seed(const lethe_curriculum *c)
{
	return c->data_seed;
}

void lethe_curriculum_set_seed(lethe_curriculum *c, uint64_t seed)
{
	c->seed = c->data_seed = seed;
}
const lethe_model_config *lethe_curriculum_model(const lethe_curriculum *c)
{
	return &c->model;
}
const char *lethe_curriculum_model_from(const lethe_curriculum *c)
{
	return c->model_from;
}

const char *lethe_curriculum_model_from_stage(const lethe_curriculum *c)
{
	return c->model_from_stage;
}

long lethe_curriculum_vocab(const lethe_curriculum *c)
{
	return c->vocab;
}
size_t lethe_curriculum_task_count(const lethe_curriculum *c)
{
	return c->n_tasks;
}
const lethe_cur_task *lethe_curriculum_task(const lethe_curriculum *c, size_t i)
{
	return i < c->n_tasks ? &c->tasks[i] : NULL;
}
size_t lethe_curriculum_stage_count(const lethe_curriculum *c)
{
	return c->n_stages;
}
const lethe_cur_stage *lethe_curriculum_stage(const lethe_curriculum *c, size_t i)
{
	return i < c->n_stages ? &c->stages[i] : NULL;
}
size_t lethe_curriculum_eval_count(const lethe_curriculum *c)
{
	return c->n_eval_tasks;
}
size_t lethe_curriculum_eval_task(const lethe_curriculum *c, size_t i)
{
	assert(i < c->n_eval_tasks);
	return c->eval_tasks[i];
}
int lethe_curriculum_baseline(const lethe_curriculum *c)
{
	return c->baseline;
}
const char *lethe_curriculum_output(const lethe_curriculum *c)
{
	return c->output;
}
int lethe_curriculum_set_output(lethe_curriculum *c, const char *path)
{
	char *p = strdup(path);
	if (!p)
		return lethe_errbuf__set(&c->err, LETHE_ENOMEM, "out of memory");
	free(c->output);
	c->output = p;
	return 0;
}

lethe_errbuf *lethe_curriculum__err(lethe_curriculum *c)
{
	return &c->err;
}

int lethe_curriculum__set_sample(lethe_curriculum *c, size_t t, lethe_split split, const char *kind,
                                 const size_t *idx, size_t n)
{
	if (!c->samples &&
	    !(c->samples = calloc(c->n_tasks * LETHE_SPLIT_COUNT + 1, sizeof(*c->samples))))
		return LETHE_ENOMEM;
	struct cur_sample *s = &c->samples[t * LETHE_SPLIT_COUNT + split];
	char *k = strdup(kind);
	size_t *v = malloc((n ? n : 1) * sizeof(*v));
	if (!k || !v) {
		free(k);
		free(v);
		return LETHE_ENOMEM;
	}
	memcpy(v, idx, n * sizeof(*v));
	free(s->kind);
	free(s->idx);
	*s = (struct cur_sample){k, v, n};
	return 0;
}

const size_t *lethe_curriculum__sample(const lethe_curriculum *c, size_t t, lethe_split split,
                                       const char **kind, size_t *n)
{
	const struct cur_sample *s = c->samples ? &c->samples[t * LETHE_SPLIT_COUNT + split] : NULL;
	*kind = s ? s->kind : NULL;
	*n = s ? s->n : 0;
	return s ? s->idx : NULL;
}
