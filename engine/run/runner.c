/*
 * runner.c: runs a validated curriculum: trains (or, resuming, reads back) the tokenizer, builds
 * the model, evaluates every task before the first stage and after each one, trains each stage
 * on its sample stream, and writes the run file after every row (runfile.c). It does not parse
 * YAML (curriculum.c) or know any task (the plugins do).
 *
 * Sequences are [BOS] prompt [SEP] target [EOS]; the loss covers the target and the end token.
 * A sequence longer than the context loses prompt tokens from the front first, then target
 * tokens from the end. A stage's sample stream is deterministic from the curriculum seed and the
 * stage's index: each task is read in a shuffled order, reshuffled when exhausted, and each
 * example of a mixed stage picks its task with probability proportional to the task's weight. An
 * epoch of a stage is as many examples as its tasks' training sets hold together.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lethe/curriculum.h>
#include <lethe/lethe.h>

#include "curriculum/errsink.h"
#include "dist.h"
#include "methods.h"
#include "model/grad_hook.h"
#include "model/loss_count.h"
#include "replay.h"
#include "runfile.h"
#include "runlog.h"
#include "runner.h"
#include "sample.h"
#include "util/errbuf.h"

typedef struct encoded {
	int32_t *ids; /* prompt tokens, then target tokens */
	int n_prompt, n_target;
	size_t target_bytes;
} encoded;

typedef struct task_data {
	encoded *split[LETHE_SPLIT_COUNT];
	size_t n[LETHE_SPLIT_COUNT];
	size_t train_cap;  /* train_limit when the plugin cannot select: its first examples */
	int32_t **choices; /* CHOICE: encoded candidates */
	int *choice_len;
	lethe_predict_spec spec;
} task_data;

typedef struct run {
	float *initial, *previous; /* parameter blocks, for drift */
	lethe_curriculum *c;
	const lethe_run_options *o;
	lethe_tokenizer *tok;
	lethe_model *m;
	task_data *data;
	lethe_stage_record *rec;
	size_t n_rec;
	int context;
	size_t truncated;
	lethe_errbuf *err; /* the curriculum's: lethe_curriculum_errmsg() */
	lethe_runlog *log; /* the live log, or NULL */
	/* The tokens that frame an example: lethe's own LETHE_TOKEN_* or the pretrained model's
	 * (docs/models.md: its BOS, EOS and padding; as separator its last token of "\n"). */
	int32_t bos, sep, eos, pad;
	/* Methods against forgetting (docs/methods.md): the regularisers' state and the replay
	 * memory (cap 0: no stage replays, nothing is recorded). */
	lethe_methods ms;
	lethe_replay_mem rm;
	/* Data-parallel runs (dist.h, docs/distributed.md): this process's rank of ranks; only
	 * rank 0 writes the run file and the live log and prints progress. */
	int rank, ranks;
	int det_reduce;    /* --deterministic-reduce */
	int dist_bucketed; /* this step's gradients go in buckets (dist_buckets_begin) */
} run;

/* The output's lock, <output>.lock, held for the whole run (a POSIX record lock): a second run
 * on the same output stops at once, naming the first one's process. -1 on failure (the message
 * set); the descriptor otherwise. */
static int lock_output(run *r, const char *output, int *fd_out);
static void unlock_output(int fd, const char *output);

static int fail(run *r, int code, const char *fmt, ...) LETHE_PRINTF(3, 4);
static int fail(run *r, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	lethe_errbuf__setv(r->err, code, fmt, ap);
	va_end(ap);
	return code;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* xorshift64*: the sample streams. */
static uint64_t next_u64(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static double next_unit(uint64_t *s)
{
	return (double)(next_u64(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- encoding ----------------------------------------------------------------------------------
 */

static int encode_split(run *r, size_t t, lethe_split split)
{
	const lethe_cur_task *task = lethe_curriculum_task(r->c, t);
	size_t n = lethe_instance_size(task->instance, split);
	if (split == LETHE_SPLIT_TRAIN && r->data[t].train_cap && r->data[t].train_cap < n)
		n = r->data[t].train_cap;
	encoded *e = calloc(n ? n : 1, sizeof(*e));
	if (!e)
		return LETHE_ENOMEM;
	r->data[t].split[split] = e;
	r->data[t].n[split] = n;
	for (size_t i = 0; i < n; i++) {
		lethe_example ex;
		if (lethe_instance_example(task->instance, split, i, &ex))
			return fail(r, LETHE_EINVAL, "task '%s': %s", task->name,
			            lethe_instance_errmsg(task->instance));
		int32_t *p, *g;
		size_t np, ng;
		if (lethe_tokenizer_encode(r->tok, ex.prompt, ex.prompt_len, &p, &np))
			return LETHE_ENOMEM;
		if (lethe_tokenizer_encode(r->tok, ex.target, ex.target_len, &g, &ng)) {
			free(p);
			return LETHE_ENOMEM;
		}
		e[i].ids = malloc((np + ng + 1) * sizeof(int32_t));
		if (!e[i].ids) {
			free(p);
			free(g);
			return LETHE_ENOMEM;
		}
		memcpy(e[i].ids, p, np * sizeof(int32_t));
		memcpy(e[i].ids + np, g, ng * sizeof(int32_t));
		e[i].n_prompt = (int)np;
		e[i].n_target = (int)ng;
		e[i].target_bytes = ex.target_len;
		free(p);
		free(g);
	}
	return 0;
}

/* ---- sequences ----------------------------------------------------------------------------------
 */

/* One example as the model reads it: [BOS] prompt [SEP] target [EOS]. */
typedef struct seq_src {
	const int32_t *prompt, *target;
	int np, nt;
} seq_src;

/* How an example fits the context: a sequence of ctx + 1 tokens gives ctx inputs. When it is
 * longer, prompt tokens go from the front first, then the end token, then target tokens from the
 * end. The last token (the end token, or the last target token kept) is only ever predicted. */
typedef struct seq_fit {
	int drop;   /* prompt tokens dropped from the front */
	int np, nt; /* prompt and target tokens kept */
	int eos;    /* the end token is kept */
	int inputs; /* positions the sequence fills: its length minus one */
	int cut;    /* the example was longer than the context */
} seq_fit;

static seq_fit fit_sequence(int ctx, int np, int nt)
{
	seq_fit f = {0, np, nt, 1, 0, 0};
	int over = 3 + np + nt - (ctx + 1);
	if (over > 0) {
		f.cut = 1;
		f.drop = over < np ? over : np;
		f.np -= f.drop;
		over -= f.drop;
		if (over > 0) {
			f.eos = 0;
			f.nt -= over - 1;
		}
	}
	f.inputs = 2 + f.np + f.nt + f.eos - 1;
	return f;
}

/* Token i of the fitted sequence, 0 <= i <= f->inputs. */
static int32_t sequence_token(const run *r, const seq_src *s, const seq_fit *f, int i)
{
	if (i == 0)
		return r->bos;
	if (i <= f->np)
		return s->prompt[f->drop + i - 1];
	if (i == f->np + 1)
		return r->sep;
	if (i < f->np + 2 + f->nt)
		return s->target[i - f->np - 2];
	return r->eos;
}

/* A batch of sequences, rows as wide as the longest: tokens and targets (B, T), a row's inputs
 * and, from the separator on, each position's next token (the loss covers the target and the end
 * token); padding and prompt positions have target -1. Sized and filled here only. */
typedef struct seq_batch {
	int B, T;
	int32_t *tokens, *targets; /* (B, T) */
	size_t cap;                /* elements allocated in each */
	uint64_t inputs;           /* positions filled, padding excluded */
} seq_batch;

static void seq_batch_free(seq_batch *sb)
{
	free(sb->tokens);
	free(sb->targets);
	*sb = (seq_batch){0};
}

static int seq_batch_build(run *r, seq_batch *sb, const seq_src *src, int B)
{
	int T = 2; /* every sequence has BOS and SEP as inputs */
	for (int b = 0; b < B; b++) {
		int n = fit_sequence(r->context, src[b].np, src[b].nt).inputs;
		T = n > T ? n : T;
	}
	size_t need = (size_t)B * (size_t)T;
	if (need > sb->cap) {
		int32_t *a = realloc(sb->tokens, need * sizeof(int32_t));
		if (a)
			sb->tokens = a;
		int32_t *t = a ? realloc(sb->targets, need * sizeof(int32_t)) : NULL;
		if (!t)
			return LETHE_ENOMEM;
		sb->targets = t;
		sb->cap = need;
	}
	sb->B = B;
	sb->T = T;
	sb->inputs = 0;
	for (int b = 0; b < B; b++) {
		const seq_src *s = &src[b];
		seq_fit f = fit_sequence(r->context, s->np, s->nt);
		int32_t *tok = sb->tokens + (size_t)b * T, *tgt = sb->targets + (size_t)b * T;
		r->truncated += (size_t)f.cut;
		int sep = 1 + f.np;
		for (int i = 0; i < f.inputs; i++) {
			tok[i] = sequence_token(r, s, &f, i);
			tgt[i] = i >= sep ? sequence_token(r, s, &f, i + 1) : -1;
		}
		for (int i = f.inputs; i < T; i++) {
			tok[i] = r->pad;
			tgt[i] = -1;
		}
		sb->inputs += (uint64_t)f.inputs;
	}
	return 0;
}

/* ---- evaluation --------------------------------------------------------------------------------
 */

#define EVAL_BATCH 16

/* ---- data-parallel evaluation (dist.h) ---------------------------------------------------------
 * Each rank evaluates every ranks-th group of examples (the groups a single process forms, so
 * each example's result is computed exactly as it would be alone) and the results are summed
 * across ranks: every element is non-zero on one rank at most, so the sums are exact. Then every
 * rank scores the whole task, as a single process would. */

static int dist_owns(const run *r, size_t group)
{
	return r->ranks <= 1 || group % (size_t)r->ranks == (size_t)r->rank;
}

static void dist_gather_nll(const run *r, double *nll, int32_t *counts, size_t n)
{
	if (r->ranks <= 1)
		return;
	lethe_dist__sum_doubles(nll, n);
	lethe_dist__sum_i32(counts, n);
}

#define GEN_GROUP 16 /* generate.c's GROUP: the prompts it decodes together */

/* lethe_model_generate() on this rank's groups of GEN_GROUP prompts; then every rank receives
 * every output (out[i] malloc'd on each). */
static int dist_generate(run *r, int32_t *const *prompts, const int *lens, int n, int max_new,
                         int32_t **out, int *out_lens)
{
	if (r->ranks <= 1)
		return lethe_model_generate(r->m, (const int32_t *const *)prompts, lens, n, max_new,
		                            r->eos, out, out_lens);
	int rc = 0;
	for (int i = 0; i < n; i++) {
		out[i] = NULL;
		out_lens[i] = 0;
	}
	for (int i = 0; rc == 0 && i < n; i += GEN_GROUP) {
		int k = n - i < GEN_GROUP ? n - i : GEN_GROUP;
		if (dist_owns(r, (size_t)i / GEN_GROUP))
			rc = lethe_model_generate(r->m, (const int32_t *const *)prompts + i,
			                          lens + i, k, max_new, r->eos, out + i,
			                          out_lens + i);
	}
	/* Every rank joins the sums, even one that failed (which then ends the job). */
	size_t w = (size_t)(max_new > 0 ? max_new : 1);
	int32_t *all = calloc((size_t)n * w + 1, sizeof(int32_t));
	int32_t *lens_all = calloc((size_t)n + 1, sizeof(int32_t));
	if (!all || !lens_all)
		lethe_dist__abort(1, "out of memory gathering generated texts");
	for (int i = 0; i < n; i++)
		if (out[i]) {
			lens_all[i] = out_lens[i];
			memcpy(all + (size_t)i * w, out[i], (size_t)out_lens[i] * sizeof(int32_t));
		}
	lethe_dist__sum_i32(lens_all, (size_t)n);
	lethe_dist__sum_i32(all, (size_t)n * w);
	for (int i = 0; rc == 0 && i < n; i++) {
		free(out[i]);
		out_lens[i] = lens_all[i];
		if (!(out[i] = malloc((size_t)(lens_all[i] + 1) * sizeof(int32_t))))
			rc = LETHE_ENOMEM;
		else
			memcpy(out[i], all + (size_t)i * w, (size_t)lens_all[i] * sizeof(int32_t));
	}
	free(all);
	free(lens_all);
	return rc;
}

/* Summed NLL and token counts of n (prompt, target) pairs. */
static int batch_nll(run *r, const int32_t *const *prompts, const int *np,
                     const int32_t *const *tgts, const int *nt, size_t n, double *nll,
                     int32_t *counts)
{
	seq_batch sb = {0};
	seq_src src[EVAL_BATCH];
	double bn[EVAL_BATCH];
	int bc[EVAL_BATCH];
	for (size_t i0 = 0; i0 < n; i0 += EVAL_BATCH) {
		size_t k = n - i0 < EVAL_BATCH ? n - i0 : EVAL_BATCH;
		if (!dist_owns(r, i0 / EVAL_BATCH)) {
			for (size_t i = 0; i < k; i++) {
				nll[i0 + i] = 0;
				counts[i0 + i] = 0;
			}
			continue;
		}
		for (size_t i = 0; i < k; i++)
			src[i] = (seq_src){prompts[i0 + i], tgts[i0 + i], np[i0 + i], nt[i0 + i]};
		if (seq_batch_build(r, &sb, src, (int)k)) {
			seq_batch_free(&sb);
			return LETHE_ENOMEM;
		}
		lethe_batch batch = {sb.B, sb.T, sb.tokens, sb.targets};
		int rc = lethe_model_forward(r->m, &batch, 0, NULL, bn, bc);
		if (rc) {
			seq_batch_free(&sb);
			return fail(r, rc, "evaluation: %s", lethe_model_errmsg(r->m));
		}
		for (size_t i = 0; i < k; i++) {
			nll[i0 + i] = bn[i];
			counts[i0 + i] = bc[i];
		}
	}
	seq_batch_free(&sb);
	dist_gather_nll(r, nll, counts, n);
	return 0;
}

static int evaluate_task(run *r, size_t t, lethe_task_eval *ev)
{
	const lethe_cur_task *task = lethe_curriculum_task(r->c, t);
	task_data *d = &r->data[t];
	size_t n = d->n[LETHE_SPLIT_EVAL];
	if (task->eval_limit > 0 && (size_t)task->eval_limit < n)
		n = (size_t)task->eval_limit;
	memset(ev, 0, sizeof(*ev));
	ev->task = t;
	ev->n = n;
	ev->nll = calloc(n + 1, sizeof(double));
	ev->n_tokens = calloc(n + 1, sizeof(int32_t));
	ev->score = calloc(n + 1, sizeof(double));
	const int32_t **pp = calloc(n + 1, sizeof(*pp)), **gp = calloc(n + 1, sizeof(*gp));
	int *np = calloc(n + 1, sizeof(int)), *nt = calloc(n + 1, sizeof(int));
	lethe_prediction *preds = calloc(n + 1, sizeof(*preds));
	int rc = ev->nll && ev->n_tokens && ev->score && pp && gp && np && nt && preds
	             ? 0
	             : LETHE_ENOMEM;
	const encoded *e = d->split[LETHE_SPLIT_EVAL];
	for (size_t i = 0; rc == 0 && i < n; i++) {
		pp[i] = e[i].ids;
		np[i] = e[i].n_prompt;
		gp[i] = e[i].ids + e[i].n_prompt;
		nt[i] = e[i].n_target;
	}
	if (rc == 0)
		rc = batch_nll(r, pp, np, gp, nt, n, ev->nll, ev->n_tokens);
	for (size_t i = 0; rc == 0 && i < n; i++)
		preds[i] = (lethe_prediction){.nll = ev->nll[i],
		                              .n_tokens = (size_t)ev->n_tokens[i],
		                              .n_bytes = e[i].target_bytes};

	const lethe_predict_spec *spec = &d->spec;
	if (rc == 0 && spec->mode == LETHE_PREDICT_CHOICE) {
		size_t nc = spec->n_choices, total = n * nc;
		const int32_t **cp = calloc(total + 1, sizeof(*cp)),
		              **cg = calloc(total + 1, sizeof(*cg));
		int *cnp = calloc(total + 1, sizeof(int)), *cnt = calloc(total + 1, sizeof(int));
		double *cn = calloc(total + 1, sizeof(double));
		int32_t *cc = calloc(total + 1, sizeof(int32_t));
		rc = cp && cg && cnp && cnt && cn && cc ? 0 : LETHE_ENOMEM;
		for (size_t i = 0; rc == 0 && i < n; i++)
			for (size_t k = 0; k < nc; k++) {
				cp[i * nc + k] = pp[i];
				cnp[i * nc + k] = np[i];
				cg[i * nc + k] = d->choices[k];
				cnt[i * nc + k] = d->choice_len[k];
			}
		if (rc == 0)
			rc = batch_nll(r, cp, cnp, cg, cnt, total, cn, cc);
		ev->predictions = calloc(n + 1, sizeof(char *));
		for (size_t i = 0; rc == 0 && ev->predictions && i < n; i++) {
			size_t best = 0;
			double best_v = 0;
			for (size_t k = 0; k < nc; k++) {
				double v =
				    cn[i * nc + k] /
				    (spec->length_normalise && cc[i * nc + k] ? cc[i * nc + k] : 1);
				if (k == 0 || v < best_v) {
					best_v = v;
					best = k;
				}
			}
			preds[i].choice = best;
			preds[i].text = spec->choices[best];
			preds[i].text_len = strlen(spec->choices[best]);
			ev->predictions[i] = strdup(spec->choices[best]);
		}
		free(cp);
		free(cg);
		free(cnp);
		free(cnt);
		free(cn);
		free(cc);
	} else if (rc == 0 && spec->mode == LETHE_PREDICT_GENERATE) {
		int room = (int)spec->max_new_tokens < r->context / 2 ? (int)spec->max_new_tokens
		                                                      : r->context / 2;
		int32_t **prompts = calloc(n + 1, sizeof(*prompts)),
		        **out = calloc(n + 1, sizeof(*out));
		int *lens = calloc(n + 1, sizeof(int)), *out_lens = calloc(n + 1, sizeof(int));
		ev->predictions = calloc(n + 1, sizeof(char *));
		rc = prompts && out && lens && out_lens && ev->predictions ? 0 : LETHE_ENOMEM;
		for (size_t i = 0; rc == 0 && i < n; i++) {
			/* [BOS] prompt [SEP], the prompt cut from the front to leave room to
			 * generate. */
			int keep = np[i] < r->context - room - 2 ? np[i] : r->context - room - 2;
			if (keep < 0)
				keep = 0;
			prompts[i] = malloc((size_t)(keep + 2) * sizeof(int32_t));
			if (!prompts[i]) {
				rc = LETHE_ENOMEM;
				break;
			}
			prompts[i][0] = r->bos;
			memcpy(prompts[i] + 1, pp[i] + (np[i] - keep),
			       (size_t)keep * sizeof(int32_t));
			prompts[i][keep + 1] = r->sep;
			lens[i] = keep + 2;
		}
		if (rc == 0 && (rc = dist_generate(r, prompts, lens, (int)n,
		                                   (int)spec->max_new_tokens, out, out_lens)))
			rc = fail(r, rc, "generation: %s", lethe_model_errmsg(r->m));
		for (size_t i = 0; rc == 0 && i < n; i++) {
			size_t len;
			if (lethe_tokenizer_decode(r->tok, out[i], (size_t)out_lens[i],
			                           &ev->predictions[i], &len)) {
				rc = LETHE_ENOMEM;
				break;
			}
			preds[i].text = ev->predictions[i];
			preds[i].text_len = len;
		}
		for (size_t i = 0; i < n; i++) {
			if (prompts)
				free(prompts[i]);
			if (out)
				free(out[i]);
		}
		free(prompts);
		free(out);
		free(lens);
		free(out_lens);
	}
	lethe_scores *scores = NULL;
	if (rc == 0 && (rc = lethe_scores_new(&scores)) == 0 && n > 0 &&
	    (rc = lethe_instance_score(task->instance, LETHE_SPLIT_EVAL, preds, n, scores,
	                               ev->score)))
		rc = fail(r, LETHE_EINVAL, "task '%s': %s", task->name,
		          lethe_instance_errmsg(task->instance));
	/* Intervals (issue #12): the primary metric's sufficient statistics per example, when the
	 * plugin gives them. */
	if (rc == 0 && n > 0) {
		double *st = calloc(n * LETHE_STATS_MAX, sizeof(double));
		size_t k = 0;
		lethe_aggregate agg = LETHE_AGGREGATE_MEAN;
		int src = st ? lethe_instance_primary_stats(task->instance, LETHE_SPLIT_EVAL, preds,
		                                            n, st, &k, &agg)
		             : LETHE_ENOMEM;
		if (src == 0) {
			/* Compact rows of k values. */
			for (size_t i = 0; i < n; i++)
				for (size_t j = 0; j < k; j++)
					st[i * k + j] = st[i * LETHE_STATS_MAX + j];
			ev->stats = st;
			ev->n_stats = k;
			ev->aggregate = (int)agg;
		} else {
			free(st);
			if (src != LETHE_EUNSUPPORTED)
				rc = src == LETHE_ENOMEM
				         ? LETHE_ENOMEM
				         : fail(r, LETHE_EINVAL, "task '%s': %s", task->name,
				                lethe_instance_errmsg(task->instance));
		}
	}
	/* The engine's own measure for every task: mean target NLL per token, for loss-based
	 * forgetting. */
	if (rc == 0 && n > 0) {
		double sum = 0, tokens = 0;
		for (size_t i = 0; i < n; i++) {
			sum += ev->nll[i];
			tokens += ev->n_tokens[i];
		}
		if (lethe_scores_add(scores, "target_nll", tokens > 0 ? sum / tokens : NAN,
		                     LETHE_METRIC_LOWER) == LETHE_ENOMEM)
			rc = LETHE_ENOMEM;
	}
	if (rc == 0) {
		size_t k = lethe_scores_count(scores);
		ev->metric_names = calloc(k + 1, sizeof(char *));
		ev->metric_values = calloc(k + 1, sizeof(double));
		ev->metric_flags = calloc(k + 1, sizeof(unsigned));
		if (!ev->metric_names || !ev->metric_values || !ev->metric_flags)
			rc = LETHE_ENOMEM;
		for (size_t i = 0; rc == 0 && i < k; i++) {
			const char *name;
			lethe_scores_at(scores, i, &name, &ev->metric_values[i],
			                &ev->metric_flags[i]);
			ev->metric_names[i] = strdup(name);
			ev->n_metrics++;
		}
	}
	lethe_scores_free(scores);
	free(pp);
	free(gp);
	free(np);
	free(nt);
	free(preds);
	return rc;
}

static void progress(run *r, const char *fmt, ...) LETHE_PRINTF(2, 3);
static void progress(run *r, const char *fmt, ...)
{
	if (r->o->quiet || r->rank != 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

static int evaluate_all(run *r, lethe_stage_record *rec)
{
	rec->evals = calloc(lethe_curriculum_eval_count(r->c) + 1, sizeof(*rec->evals));
	if (!rec->evals)
		return LETHE_ENOMEM;
	for (size_t k = 0; k < lethe_curriculum_eval_count(r->c); k++) {
		size_t t = lethe_curriculum_eval_task(r->c, k);
		int rc = evaluate_task(r, t, &rec->evals[rec->n_evals]);
		rec->n_evals++;
		if (rc)
			return rc;
		const lethe_task_eval *ev = &rec->evals[rec->n_evals - 1];
		for (size_t i = 0; i < ev->n_metrics; i++)
			lethe_runlog__eval(r->log, r->n_rec - 1, rec->name,
			                   lethe_curriculum_task(r->c, t)->name,
			                   ev->metric_names[i], ev->metric_values[i],
			                   (ev->metric_flags[i] & LETHE_METRIC_PRIMARY) != 0);
		for (size_t i = 0; i < ev->n_metrics; i++)
			if (ev->metric_flags[i] & LETHE_METRIC_PRIMARY)
				progress(r, "lethe: %s: %s %s = %.4f\n", rec->name,
				         lethe_curriculum_task(r->c, t)->name, ev->metric_names[i],
				         ev->metric_values[i]);
	}
	return 0;
}

/* ---- training ----------------------------------------------------------------------------------
 */

typedef struct sampler {
	uint64_t state;
	size_t **order; /* per stage task: a permutation of its examples */
	size_t *pos;
} sampler;

static void shuffle(sampler *s, size_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		v[i] = i;
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)(next_u64(&s->state) % i);
		size_t t = v[i - 1];
		v[i - 1] = v[j];
		v[j] = t;
	}
}

/* ---- methods against forgetting (docs/methods.md): the runner's hooks -------------------- */

/* Examples of the next micro-batch drawn from the replay memory (0 without replay, or while no
 * finished task has anything in it). */
static long replay_count(run *r, const lethe_train_settings *ts, uint64_t micro)
{
	if (!r->rm.cap || ts->replay.ratio <= 0 || lethe_replay__available(&r->rm) == 0)
		return 0;
	return lethe_replay__count(ts->replay.ratio, ts->batch, micro);
}

static seq_src replay_draw(run *r)
{
	size_t t;
	uint64_t i;
	lethe_replay__draw(&r->rm, &t, &i);
	const encoded *e = &r->data[t].split[LETHE_SPLIT_TRAIN][i];
	return (seq_src){e->ids, e->ids + e->n_prompt, e->n_prompt, e->n_target};
}

/* The EWC settings of the first stage after si that uses EWC (lambda > 0), or NULL. */
static const lethe_regularizer *next_ewc(const lethe_curriculum *c, size_t si)
{
	for (size_t k = si + 1; k < lethe_curriculum_stage_count(c); k++) {
		const lethe_regularizer *g = &lethe_curriculum_stage(c, k)->train.regularize;
		if (g->kind == LETHE_REG_EWC && g->lambda > 0)
			return g;
	}
	return NULL;
}

/* After stage si trained: its tasks join the replay memory's finished tasks, and, when a later
 * stage uses EWC, the Fisher of this stage's data is folded into the online Fisher. The Fisher's
 * examples: fisher_examples of them, the stage's tasks in turn, each example drawn uniformly
 * (with replacement) by a generator seeded from the data seed and the stage. With several ranks
 * every rank draws every example and computes example j when j % ranks is its rank; the sums
 * are then added across ranks (fisher_gather). */
/* The Fisher sums (doubles) and example counts of the ranks' examples, added across ranks so
 * that every rank holds every example's. */
static void fisher_gather(run *r)
{
	double count = (double)r->ms.fisher_n;
	lethe_dist__sum_doubles(r->ms.fisher_acc, r->ms.n);
	lethe_dist__sum_doubles(&count, 1);
	r->ms.fisher_n = (size_t)count;
}

static int stage_end_methods(run *r, size_t si, lethe_stage_record *rec)
{
	const lethe_cur_stage *st = lethe_curriculum_stage(r->c, si);
	for (size_t k = 0; r->rm.cap && k < st->n_tasks; k++)
		lethe_replay__finish(&r->rm, st->tasks[k]);
	const lethe_regularizer *ewc = next_ewc(r->c, si);
	int rc = 0;
	if (ewc) {
		uint64_t state = (lethe_curriculum_data_seed(r->c) + 1) * 0xA0761D6478BD642Full +
		                 (si + 1) * 0xE7037ED1A0B428DBull;
		seq_batch sb = {0};
		rc = lethe_methods__fisher_begin(&r->ms, r->m);
		for (long j = 0, k = 0; rc == 0 && j < ewc->fisher_examples; k++) {
			size_t t = st->tasks[(size_t)k % st->n_tasks];
			size_t n = r->data[t].n[LETHE_SPLIT_TRAIN];
			if (n == 0)
				continue;
			const encoded *e =
			    &r->data[t].split[LETHE_SPLIT_TRAIN][next_u64(&state) % n];
			if (j % r->ranks != r->rank) { /* another rank's example */
				j++;
				continue;
			}
			seq_src src = {e->ids, e->ids + e->n_prompt, e->n_prompt, e->n_target};
			size_t truncated = r->truncated;
			if ((rc = seq_batch_build(r, &sb, &src, 1)))
				break;
			r->truncated = truncated; /* counted once, when trained on */
			lethe_batch one = {sb.B, sb.T, sb.tokens, sb.targets};
			if ((rc = lethe_methods__fisher_add(&r->ms, r->m, &one)))
				rc = fail(r, rc, "stage '%s': EWC's Fisher: %s", st->name,
				          lethe_model_errmsg(r->m));
			j++;
		}
		seq_batch_free(&sb);
		if (rc == 0 && r->ranks > 1)
			fisher_gather(r);
		if (rc == 0) {
			lethe_methods__fisher_end(&r->ms, ewc->online_gamma);
			if (!r->ms.fisher)
				rc = LETHE_ENOMEM;
		}
	}
	rec->resume_fisher = r->ms.fisher;
	return rc;
}

/* The replay memory's state for the run file, after the row rec (a new array, kept by the
 * caller until the row is written). */
static int save_replay(run *r, lethe_stage_record *rec, uint64_t **buf)
{
	if (!r->rm.cap)
		return 0;
	size_t n = lethe_replay__state_size(&r->rm);
	uint64_t *b = realloc(*buf, n * sizeof(uint64_t));
	if (!b)
		return LETHE_ENOMEM;
	*buf = b;
	lethe_replay__save(&r->rm, b);
	rec->resume_replay = b;
	rec->n_resume_replay = n;
	return 0;
}

/* The replay memory, sized by the largest per_task of a stage that replays (0: none does). */
static int methods_init(run *r)
{
	long cap = 0;
	for (size_t k = 0; k < lethe_curriculum_stage_count(r->c); k++) {
		const lethe_replay *p = &lethe_curriculum_stage(r->c, k)->train.replay;
		if (p->ratio > 0 && p->per_task > cap)
			cap = p->per_task;
	}
	if (!cap)
		return 0;
	size_t nt = lethe_curriculum_task_count(r->c);
	size_t *sizes = calloc(nt + 1, sizeof(size_t));
	if (!sizes)
		return LETHE_ENOMEM;
	for (size_t t = 0; t < nt; t++)
		sizes[t] = r->data[t].n[LETHE_SPLIT_TRAIN];
	int rc =
	    lethe_replay__init(&r->rm, nt, sizes, (size_t)cap, lethe_curriculum_data_seed(r->c));
	free(sizes);
	return rc;
}

/* --resume: the methods' state from the run file (EWC's Fisher, the replay memory). */
static int methods_resume(run *r, lethe_runfile *rf)
{
	size_t np = lethe_model_num_params(r->m), n_replay = 0;
	float *fisher = malloc((np + 1) * sizeof(float));
	uint64_t *replay = NULL;
	int has_fisher = 0;
	if (!fisher)
		return LETHE_ENOMEM;
	int rc = lethe_runfile__resume_methods(rf, np, fisher, &has_fisher, &replay, &n_replay);
	if (rc) {
		free(fisher);
		return fail(r, rc == LETHE_ENOMEM ? rc : LETHE_EPARSE, "%s",
		            lethe_runfile_errmsg(rf));
	}
	if (has_fisher) {
		free(r->ms.fisher);
		r->ms.fisher = fisher;
		r->ms.n = np;
	} else
		free(fisher);
	/* A file with only the baseline row has trained nothing: the memory starts empty. */
	int trained = r->n_rec > (lethe_curriculum_baseline(r->c) ? 1u : 0u);
	if (r->rm.cap && !replay && trained)
		rc = fail(r, LETHE_EPARSE, "%s: missing dataset 'resume/replay_memory'",
		          lethe_curriculum_output(r->c));
	else if (r->rm.cap && replay && lethe_replay__load(&r->rm, replay, n_replay))
		rc =
		    fail(r, LETHE_EPARSE,
		         "%s: dataset 'resume/replay_memory' does not fit this curriculum's replay "
		         "memory (its shape, counts or example indices)",
		         lethe_curriculum_output(r->c));
	free(replay);
	return rc;
}

/* ---- data-parallel training (dist.h, docs/distributed.md) -------------------------------------
 * Every rank draws every micro-batch (so the sample streams, the replay memory and every counter
 * stay the same on all ranks) and runs forward and backward on its contiguous share of the
 * batch's rows, its gradient divided by the whole batch's targeted positions. After a step's
 * micro-batches the gradients and the loss sums are summed across ranks, so every rank holds the
 * single process's gradient (up to the order of float sums) and takes the same clip and step. On
 * one process the share is the whole batch and nothing here changes a number. */

typedef struct dist_share {
	size_t b0;      /* first row of this rank's share */
	seq_batch part; /* the share: sb's arrays from row b0, B its rows */
	int nt, nt_all; /* targeted positions in the share and in the whole batch */
	int skip;       /* no targets here (other ranks have them): no forward or backward */
} dist_share;

static int count_targets(const int32_t *targets, size_t n)
{
	int k = 0;
	for (size_t i = 0; i < n; i++)
		k += targets[i] >= 0;
	return k;
}

static dist_share dist_share_of(run *r, const seq_batch *sb)
{
	dist_share d = {0, *sb, 0, 0, 0};
	if (r->ranks <= 1)
		return d;
	size_t b0, b1, T = (size_t)sb->T;
	lethe_dist__share((size_t)sb->B, &b0, &b1);
	d.b0 = b0;
	d.part.B = (int)(b1 - b0);
	d.part.tokens = sb->tokens + b0 * T;
	d.part.targets = sb->targets + b0 * T;
	d.nt = count_targets(d.part.targets, (size_t)d.part.B * T);
	d.nt_all = count_targets(sb->targets, (size_t)sb->B * T);
	d.skip = d.nt == 0 && d.nt_all > 0;
	lethe_model__set_loss_count(r->m, d.nt_all);
	return d;
}

/* A share's loss (the mean over its targets) as its part of the whole batch's mean. */
static double dist_loss(const dist_share *d, double loss)
{
	return d->nt_all > 0 && d->nt != d->nt_all ? loss * d->nt / d->nt_all : loss;
}

/* LwF's distillation gradient, computed over the share's targets, rescaled to the batch's. */
static void dist_scale_lwf(run *r, const dist_share *d, double *pen)
{
	if (r->ranks <= 1 || d->nt_all == 0 || d->nt == d->nt_all)
		return;
	size_t n = (size_t)d->nt * (size_t)lethe_model_config_of(r->m)->vocab;
	float f = (float)d->nt / (float)d->nt_all;
	for (size_t i = 0; i < n; i++)
		r->ms.dlogits[i] *= f;
	*pen = dist_loss(d, *pen);
}

/* ---- gradient buckets overlapping the last backward (dist.h, model/grad_hook.h) ----------------
 * Before a step's last micro-batch, the trainable gradients (base tensors, then the adapter's) are
 * listed with the backward stage that makes each final, and the model's hook starts each bucket's
 * sum as soon as its stage ends; dist_step_sums waits for them. Earlier micro-batches only
 * accumulate. Off with one rank and with --deterministic-reduce (its rank-order sums stay
 * blocking, after the backward). */

static void dist_hook(void *ctx, int stage)
{
	(void)ctx;
	lethe_dist__buckets_ready(stage);
}

static void dist_buckets_begin(run *r)
{
	if (r->ranks <= 1 || r->det_reduce)
		return;
	lethe_model *m = r->m;
	size_t nt = lethe_model_num_tensors(m);
	size_t nl = lethe_model_lora(m) ? lethe_model_lora_num_tensors(m) : 0;
	lethe_dist_range *rg = malloc((nt + nl + 1) * sizeof(*rg));
	if (!rg)
		lethe_dist__abort(1, "out of memory for the gradient buckets");
	size_t k = 0;
	float *g = NULL;
	for (size_t t = nt; t-- > 0;) { /* from the top: backward's order */
		if (!lethe_model_tensor_trainable(m, t))
			continue;
		if (!g && !(g = lethe_model_grads(m)))
			lethe_dist__abort(1, "out of memory for the gradient block");
		const lethe_tensor_info *ti = lethe_model_tensor(m, t);
		rg[k++] =
		    (lethe_dist_range){g + ti->offset, ti->size, lethe_model__grad_stage(m, ti), 0};
	}
	float *lg = nl ? lethe_model_lora_grads(m) : NULL;
	for (size_t t = nl; t-- > 0;) {
		const lethe_tensor_info *ti = lethe_model_lora_tensor(m, t);
		rg[k++] = (lethe_dist_range){lg + ti->offset, ti->size,
		                             lethe_model__grad_stage(m, ti), 1};
	}
	if (lethe_dist__buckets_plan(rg, k))
		lethe_dist__abort(1, "out of memory for the gradient buckets");
	free(rg);
	lethe_model__set_grad_hook(m, dist_hook, NULL);
	r->dist_bucketed = 1;
}

/* 1 when this step's gradients were summed in buckets (now all complete), 0 otherwise. */
static int dist_buckets_end(run *r)
{
	if (!r->dist_bucketed)
		return 0;
	lethe_model__set_grad_hook(r->m, NULL, NULL);
	lethe_dist__buckets_finish();
	r->dist_bucketed = 0;
	return 1;
}

/* The step's sums across ranks: the gradient blocks (runs of consecutive trainable tensors, one
 * sum each: frozen tensors have nothing to send; the adapter's block when one is attached), then
 * the loss, penalty and per-task sums in one call. When the gradients went in buckets
 * (dist_buckets_begin), only the waiting for them is left. */
static void dist_step_sums(run *r, double *loss_sum, double *penalty_sum, double *task_nll,
                           double *task_n, size_t n_tasks)
{
	if (r->ranks <= 1)
		return;
	lethe_model *m = r->m;
	lethe_model__set_loss_count(m, 0);
	int bucketed = dist_buckets_end(r);
	size_t nt = bucketed ? 0 : lethe_model_num_tensors(m);
	float *g = NULL;
	for (size_t t = 0; t < nt; t++)
		if (lethe_model_tensor_trainable(m, t) && !g && !(g = lethe_model_grads(m)))
			lethe_dist__abort(1, "out of memory for the gradient block");
	for (size_t t = 0; g && t < nt;) {
		if (!lethe_model_tensor_trainable(m, t)) {
			t++;
			continue;
		}
		size_t begin = lethe_model_tensor(m, t)->offset, end = begin;
		for (; t < nt && lethe_model_tensor_trainable(m, t) &&
		       lethe_model_tensor(m, t)->offset == end;
		     t++)
			end += lethe_model_tensor(m, t)->size;
		lethe_dist__sum_floats(g + begin, end - begin, r->det_reduce);
	}
	if (!bucketed && lethe_model_lora(m))
		lethe_dist__sum_floats(lethe_model_lora_grads(m), lethe_model_lora_num_params(m),
		                       r->det_reduce);
	double *v = malloc((2 + 2 * n_tasks) * sizeof(double));
	if (!v)
		lethe_dist__abort(1, "out of memory");
	v[0] = *loss_sum;
	v[1] = *penalty_sum;
	memcpy(v + 2, task_nll, n_tasks * sizeof(double));
	memcpy(v + 2 + n_tasks, task_n, n_tasks * sizeof(double));
	lethe_dist__sum_doubles(v, 2 + 2 * n_tasks);
	*loss_sum = v[0];
	*penalty_sum = v[1];
	memcpy(task_nll, v + 2, n_tasks * sizeof(double));
	memcpy(task_n, v + 2 + n_tasks, n_tasks * sizeof(double));
	free(v);
}

/* FNV-1a over the parameter blocks (the adapter's too): equal on every rank unless they
 * diverged, which would be a bug; checked after each stage and before the first row. */
static int dist_check_same(run *r, const char *when)
{
	if (r->ranks <= 1)
		return 0;
	uint64_t h = 0xcbf29ce484222325ull;
	const unsigned char *p = (const unsigned char *)lethe_model_params(r->m);
	for (size_t i = 0, n = lethe_model_num_params(r->m) * sizeof(float); i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	p = (const unsigned char *)lethe_model_lora_params(r->m);
	for (size_t i = 0, n = lethe_model_lora_num_params(r->m) * sizeof(float); p && i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	if (lethe_dist__same_u64(h))
		return 0;
	return fail(r, LETHE_EINVAL, "the %d ranks' parameters differ %s (a bug: please report it)",
	            r->ranks, when);
}

/* The live log's per-task losses: each batch sequence's target NLL to its stage task (replayed
 * sequences, marked SIZE_MAX, belong to none). */
static void log_task_losses(const run *r, const seq_batch *sb, const size_t *picked_k,
                            const double *seq_nll, const int *seq_n, double *task_nll,
                            double *task_n)
{
	for (int b = 0; (r->log || r->ranks > 1) && b < sb->B; b++)
		if (picked_k[b] != SIZE_MAX) {
			task_nll[picked_k[b]] += seq_nll[b];
			task_n[picked_k[b]] += seq_n[b];
		}
}

/* ---- LoRA (adapter:) -------------------------------------------------------------------------
 * A stage with an adapter attaches one when the model has none (a fresh adapter: A from a
 * generator seeded by the curriculum's seed and the stage's index, B zero) or trains on the one
 * the previous stage left unmerged (validation made sure it is the same); the base stays frozen
 * whatever 'freeze' says. At the stage's end the adapter is copied into the row's record (the
 * run file keeps it) and, with merge: true, merged into the base and dropped. With per_stage,
 * the adapter the previous stage left is frozen first (kept, its delta added to the working
 * parameters, tagged with the previous row, whose record stored it) and a fresh one attached. */

static int adapter_begin(run *r, size_t si)
{
	const lethe_cur_stage *st = lethe_curriculum_stage(r->c, si);
	const lethe_train_settings *ts = &st->train;
	if (!ts->adapter_rank) {
		if (lethe_model_lora(r->m))
			return fail(r, LETHE_EINVAL,
			            "stage '%s': an unmerged adapter is still attached", st->name);
		return 0;
	}
	if (ts->adapter_per_stage && lethe_model_lora(r->m)) {
		int rc = r->n_rec >= 2 ? lethe_model_lora_freeze(r->m, (int64_t)r->n_rec - 2)
		                       : LETHE_EINVAL;
		if (rc)
			return fail(r, rc, "stage '%s': freezing the previous stage's adapter: %s",
			            st->name, lethe_model_errmsg(r->m));
	}
	if (lethe_model_lora(r->m) && ts->reset_optimizer) {
		/* reset_optimizer covers the adapter the previous stage left: its moments and
		 * its step count start again, as the base's do (methods.c). */
		float *mo = lethe_model_lora_adam_m(r->m), *ve = lethe_model_lora_adam_v(r->m);
		size_t n = lethe_model_lora_num_params(r->m);
		if (mo && ve) {
			memset(mo, 0, n * sizeof(float));
			memset(ve, 0, n * sizeof(float));
		}
		lethe_model_lora_set_steps_taken(r->m, 0);
	}
	if (!lethe_model_lora(r->m)) {
		lethe_lora_options o = {ts->adapter_rank, (float)ts->adapter_alpha,
		                        (float)ts->adapter_dropout, ts->adapter_targets};
		uint64_t seed = (lethe_curriculum_seed(r->c) + 1) * 0xD6E8FEB86659FD93ull ^
		                (si + 1) * 0x9E3779B97F4A7C15ull;
		int rc = lethe_model_lora_attach(r->m, &o, seed);
		if (rc)
			return fail(r, rc, "stage '%s': %s", st->name, lethe_model_errmsg(r->m));
	}
	for (int g = 0; g < LETHE_GROUP_COUNT; g++)
		lethe_model_set_trainable(r->m, (lethe_param_group)g, -1, 0);
	return 0;
}

static int adapter_end(run *r, size_t si, lethe_stage_record *rec)
{
	const lethe_train_settings *ts = &lethe_curriculum_stage(r->c, si)->train;
	const lethe_lora_options *o = lethe_model_lora(r->m);
	if (!o)
		return 0;
	size_t n = lethe_model_lora_num_params(r->m);
	if (!(rec->adapter = malloc(n * sizeof(float))))
		return LETHE_ENOMEM;
	memcpy(rec->adapter, lethe_model_lora_params(r->m), n * sizeof(float));
	rec->n_adapter = n;
	rec->adapter_opt = *o;
	rec->adapter_merged = ts->adapter_merge;
	return ts->adapter_merge ? lethe_model_lora_merge(r->m) : 0;
}

/* ---- within-stage curves (evaluate: {every: N, curve_limit: M}) -----------------------------
 * Every N optimizer steps inside a stage (not at its end: that is the stage's row), every
 * evaluated task's primary metric on the first M examples of its (sampled) evaluation set,
 * through evaluate_task() as a row's evaluation. Nothing here changes the training: the model
 * is only read, and the sample streams are untouched, so the rows are those of a run without
 * curves. A resumed run retrains a stage from its start and so recomputes its points. */
static int curve_point(run *r, size_t si, lethe_stage_record *rec, size_t step)
{
	const lethe_train_settings *ts = &lethe_curriculum_stage(r->c, si)->train;
	size_t ne = lethe_curriculum_eval_count(r->c), p = rec->n_curve;
	int32_t *steps = realloc(rec->curve_steps, (p + 1) * sizeof(int32_t));
	if (steps)
		rec->curve_steps = steps;
	double *values = realloc(rec->curve_values, (p + 1) * (ne + 1) * sizeof(double));
	if (values)
		rec->curve_values = values;
	if (!rec->curve_examples)
		rec->curve_examples = calloc(ne + 1, sizeof(int32_t));
	if (!steps || !values || !rec->curve_examples)
		return LETHE_ENOMEM;
	rec->n_curve_tasks = ne;
	size_t truncated = r->truncated; /* counted when trained on, not here */
	int rc = 0;
	for (size_t k = 0; rc == 0 && k < ne; k++) {
		size_t t = lethe_curriculum_eval_task(r->c, k);
		task_data *d = &r->data[t];
		size_t all = d->n[LETHE_SPLIT_EVAL];
		if (ts->curve_limit > 0 && (size_t)ts->curve_limit < all)
			d->n[LETHE_SPLIT_EVAL] = (size_t)ts->curve_limit; /* the first M */
		lethe_stage_record one = {0}; /* for lethe_stage_record_clear() */
		if (!(one.evals = calloc(1, sizeof(*one.evals)))) {
			d->n[LETHE_SPLIT_EVAL] = all;
			return LETHE_ENOMEM;
		}
		one.n_evals = 1;
		rc = evaluate_task(r, t, &one.evals[0]);
		d->n[LETHE_SPLIT_EVAL] = all;
		const lethe_task_eval *ev = &one.evals[0];
		double v = NAN;
		const char *metric = "";
		for (size_t i = 0; rc == 0 && i < ev->n_metrics; i++)
			if (ev->metric_flags[i] & LETHE_METRIC_PRIMARY) {
				v = ev->metric_values[i];
				metric = ev->metric_names[i];
			}
		if (rc == 0) {
			rec->curve_values[p * ne + k] = v;
			rec->curve_examples[k] = (int32_t)ev->n;
			lethe_runlog__curve(r->log, r->n_rec - 1, rec->name, step,
			                    lethe_curriculum_task(r->c, t)->name, metric, v, ev->n);
		}
		lethe_stage_record_clear(&one);
	}
	r->truncated = truncated;
	if (rc == 0) {
		rec->curve_steps[p] = (int32_t)step;
		rec->n_curve = p + 1;
	}
	return rc;
}

static int train_stage(run *r, size_t si, lethe_stage_record *rec)
{
	lethe_curriculum *c = r->c;
	const lethe_cur_stage *st = lethe_curriculum_stage(c, si);
	const lethe_train_settings *ts = &st->train;
	size_t total = 0;
	for (size_t k = 0; k < st->n_tasks; k++)
		total += r->data[st->tasks[k]].n[LETHE_SPLIT_TRAIN];
	if (total == 0)
		return fail(r, LETHE_EINVAL, "stage '%s': its tasks have no training examples",
		            st->name);
	size_t per_step = (size_t)ts->batch * (size_t)ts->grad_accum;
	size_t steps = ts->steps ? (size_t)ts->steps
	                         : (size_t)ceil(ts->epochs * (double)total / (double)per_step);
	if (steps == 0)
		steps = 1;
	rec->loss = calloc(steps, sizeof(float));
	rec->lr = calloc(steps, sizeof(float));
	rec->grad_norm = calloc(steps, sizeof(float));
	sampler s = {.state = (lethe_curriculum_data_seed(c) + 1) * 0x9E3779B97F4A7C15ull +
	                      (si + 1) * 0xD1B54A32D192ED03ull};
	s.order = calloc(st->n_tasks, sizeof(*s.order));
	s.pos = calloc(st->n_tasks, sizeof(*s.pos));
	seq_batch sb = {0};
	seq_src *picked = calloc((size_t)ts->batch, sizeof(*picked));
	/* For the live log: each batch sequence's task and target NLL, summed per task. */
	size_t *picked_k = calloc((size_t)ts->batch, sizeof(*picked_k));
	double *seq_nll = calloc((size_t)ts->batch, sizeof(*seq_nll));
	int *seq_n = calloc((size_t)ts->batch, sizeof(*seq_n));
	double *task_nll = calloc(st->n_tasks, sizeof(*task_nll)),
	       *task_n = calloc(st->n_tasks, sizeof(*task_n)),
	       *task_loss = calloc(st->n_tasks, sizeof(*task_loss));
	const char **task_names = calloc(st->n_tasks, sizeof(*task_names));
	int rc = rec->loss && rec->lr && rec->grad_norm && s.order && s.pos && picked && picked_k &&
	                 seq_nll && seq_n && task_nll && task_n && task_loss && task_names
	             ? 0
	             : LETHE_ENOMEM;
	for (size_t k = 0; rc == 0 && k < st->n_tasks; k++)
		task_names[k] = lethe_curriculum_task(c, st->tasks[k])->name;
	double wsum = 0;
	for (size_t k = 0; rc == 0 && k < st->n_tasks; k++) {
		size_t n = r->data[st->tasks[k]].n[LETHE_SPLIT_TRAIN];
		if (!(s.order[k] = malloc((n ? n : 1) * sizeof(size_t))))
			rc = LETHE_ENOMEM;
		else
			shuffle(&s, s.order[k], n);
		wsum += r->data[st->tasks[k]].n[LETHE_SPLIT_TRAIN] ? st->weights[k] : 0;
	}
	/* Freezing, reset_optimizer and the regularisers' anchor (methods.c). */
	if (rc == 0 && (rc = lethe_methods__stage_begin(&r->ms, r->m, ts)))
		rc = fail(r, rc, "stage '%s': out of memory for its methods", st->name);
	int lwf = lethe_methods__has_lwf(ts);
	if (rc == 0 && (lethe_methods__has_penalty(ts) || lwf || lethe_methods__has_olora(ts)) &&
	    !(rec->penalty = calloc(steps, sizeof(float))))
		rc = LETHE_ENOMEM;
	if (rc == 0)
		rc = adapter_begin(r, si);
	/* loss_weighting (docs/curriculum.md): this stage's training forwards, and the row's. */
	lethe_model_set_loss_weighting(r->m, ts->loss_weighting);
	rec->loss_weighting = (int)ts->loss_weighting;
	rec->precision = (int)ts->precision;
	/* precision (docs/performance.md#bf16): this stage's training products; evaluation stays
	 * fp32. Validation refused what this build or CPU cannot do. */
	if (rc == 0 && lethe_model_set_precision(r->m, ts->precision))
		rc = fail(r, LETHE_EUNSUPPORTED, "stage '%s': %s", st->name,
		          lethe_model_errmsg(r->m));
	uint64_t micro_total = 0;
	lethe_adamw opt = {(float)ts->beta1, (float)ts->beta2, (float)ts->eps,
	                   (float)ts->weight_decay, ts->decay_embeddings};
	double t0 = now(), last_print = 0;
	uint64_t tokens_seen = 0;
	int tty = isatty(2);
	for (size_t step = 0; rc == 0 && step < steps; step++) {
		float lr = lethe_schedule_lr(ts->schedule, (float)ts->lr, step,
		                             (uint64_t)ts->warmup, steps);
		double loss_sum = 0, penalty_sum = 0;
		if (rc == 0)
			for (size_t k = 0; k < st->n_tasks; k++)
				task_nll[k] = task_n[k] = 0;
		lethe_model_zero_grad(r->m);
		for (long micro = 0; rc == 0 && micro < ts->grad_accum; micro++) {
			if (micro == ts->grad_accum - 1) /* its backward ends the gradients */
				dist_buckets_begin(r);
			long from_memory = replay_count(r, ts, micro_total++);
			for (long b = 0; b < ts->batch; b++) {
				if (b >= ts->batch - from_memory) {
					picked[b] = replay_draw(r);
					picked_k[b] =
					    SIZE_MAX; /* an earlier task's, not in the log */
					continue;
				}
				/* Pick the task by weight, then its next example. */
				double u = next_unit(&s.state) * wsum, acc = 0;
				size_t k = 0;
				for (; k + 1 < st->n_tasks; k++) {
					if (!r->data[st->tasks[k]].n[LETHE_SPLIT_TRAIN])
						continue;
					acc += st->weights[k];
					if (u < acc)
						break;
				}
				size_t n = r->data[st->tasks[k]].n[LETHE_SPLIT_TRAIN];
				if (s.pos[k] == n) {
					shuffle(&s, s.order[k], n);
					s.pos[k] = 0;
				}
				size_t idx = s.order[k][s.pos[k]++];
				const encoded *e =
				    &r->data[st->tasks[k]].split[LETHE_SPLIT_TRAIN][idx];
				if (r->rm.cap)
					lethe_replay__offer(&r->rm, st->tasks[k], idx);
				picked[b] = (seq_src){e->ids, e->ids + e->n_prompt, e->n_prompt,
				                      e->n_target};
				picked_k[b] = k;
			}
			if ((rc = seq_batch_build(r, &sb, picked, (int)ts->batch)))
				break;
			tokens_seen += sb.inputs;
			dist_share dsh = dist_share_of(r, &sb); /* the whole batch on one process */
			if (dsh.skip)
				continue;
			lethe_batch batch = {dsh.part.B, sb.T, dsh.part.tokens, dsh.part.targets};
			float loss;
			if (lwf) { /* LwF: the teacher's logits, then the distillation term's */
				double pen = 0;
				if ((rc = lethe_methods__lwf_teacher(&r->ms, &batch)) == 0 &&
				    (rc = lethe_model_forward(
				         r->m, &batch, 1, &loss,
				         r->log || r->ranks > 1 ? seq_nll : NULL, seq_n)) == 0 &&
				    (rc = lethe_methods__lwf_penalty(&r->ms, r->m, ts, &pen)) ==
				        0) {
					dist_scale_lwf(r, &dsh, &pen);
					rc = lethe_model_backward_with(r->m, r->ms.dlogits);
				}
				if (rc) {
					rc = fail(r, rc, "stage '%s' step %zu: LwF: %s", st->name,
					          step + 1,
					          rc == LETHE_ENOMEM ? "out of memory"
					                             : lethe_model_errmsg(r->m));
					break;
				}
				loss_sum += dist_loss(&dsh, loss);
				penalty_sum += pen;
				log_task_losses(r, &dsh.part, picked_k + dsh.b0, seq_nll, seq_n,
				                task_nll, task_n);
				continue;
			}
			if ((rc = lethe_model_forward(r->m, &batch, 1, &loss,
			                              r->log || r->ranks > 1 ? seq_nll : NULL,
			                              seq_n)) ||
			    (rc = lethe_model_backward(r->m))) {
				rc = fail(r, rc, "stage '%s' step %zu: %s", st->name, step + 1,
				          lethe_model_errmsg(r->m));
				break;
			}
			loss_sum += dist_loss(&dsh, loss);
			log_task_losses(r, &dsh.part, picked_k + dsh.b0, seq_nll, seq_n, task_nll,
			                task_n);
		}
		if (rc)
			break;
		dist_step_sums(r, &loss_sum, &penalty_sum, task_nll, task_n, st->n_tasks);
		if (rec->penalty && lwf) /* the mean over micro-batches, as the loss */
			rec->penalty[step] = (float)(penalty_sum / (double)ts->grad_accum);
		else if (rec->penalty) /* the gradient block is scaled by 1/grad_accum in the step
		                        */
			rec->penalty[step] =
			    (float)(lethe_methods__penalty(&r->ms, r->m, ts,
			                                   (float)ts->grad_accum) +
			            lethe_methods__olora_penalty(r->m, ts, (float)ts->grad_accum));
		float norm;
		if ((rc = lethe_model_step(r->m, &opt, lr, (float)ts->clip,
		                           1.0f / (float)ts->grad_accum, &norm))) {
			rc = fail(r, rc, "stage '%s' step %zu: %s", st->name, step + 1,
			          lethe_model_errmsg(r->m));
			break;
		}
		rec->loss[step] = (float)(loss_sum / (double)ts->grad_accum);
		rec->lr[step] = lr;
		rec->grad_norm[step] = norm;
		rec->steps = step + 1;
		double t = now() - t0;
		if (r->log) {
			for (size_t k = 0; k < st->n_tasks; k++)
				task_loss[k] = task_n[k] > 0 ? task_nll[k] / task_n[k] : NAN;
			lethe_runlog__step(
			    r->log, r->n_rec - 1, st->name, step + 1, steps, rec->loss[step], lr,
			    norm, (double)tokens_seen / (t > 0 ? t : 1), t, task_names, task_loss,
			    st->n_tasks, rec->penalty ? rec->penalty[step] : NAN);
		}
		if (!r->o->quiet && r->rank == 0 &&
		    (tty || t - last_print >= 10.0 || step + 1 == steps)) {
			double eta = t / (double)(step + 1) * (double)(steps - step - 1);
			fprintf(stderr,
			        "%slethe: stage %zu/%zu %s: step %zu/%zu loss %.4f lr %.3g %.0f "
			        "tok/s ETA %.0fs%s",
			        tty ? "\r\033[K" : "", si + 1, lethe_curriculum_stage_count(c),
			        st->name, step + 1, steps, rec->loss[step], lr,
			        (double)tokens_seen / (t > 0 ? t : 1), eta, tty ? "" : "\n");
			last_print = t;
		}
		if (ts->eval_every && (step + 1) % (size_t)ts->eval_every == 0 && step + 1 < steps)
			rc = curve_point(r, si, rec, step + 1);
	}
	lethe_model_set_loss_weighting(r->m, LETHE_LOSS_WEIGHTING_TOKEN);
	lethe_model_set_precision(r->m, LETHE_PRECISION_FP32);
	if (rc == 0)
		rc = adapter_end(r, si, rec);
	if (tty && !r->o->quiet && r->rank == 0)
		fputc('\n', stderr);
	rec->seconds = now() - t0;
	rec->tokens = tokens_seen;
	for (size_t k = 0; s.order && k < st->n_tasks; k++)
		free(s.order[k]);
	free(s.order);
	free(s.pos);
	seq_batch_free(&sb);
	free(picked);
	free(picked_k);
	free(seq_nll);
	free(seq_n);
	free(task_nll);
	free(task_n);
	free(task_loss);
	free(task_names);
	return rc;
}

/* Parameter drift of the stage just trained: L2 distance and relative change (distance over the
 * reference's norm) per group and overall, against the previous row and the initial model. */
static void drift(run *r, lethe_stage_record *rec)
{
	/* The parameters as the row stores them: per-stage adapters' deltas are not in the base. */
	const float *p = lethe_model_lora_base(r->m);
	double d[2][LETHE_GROUP_COUNT + 1] = {{0}}, ref[2][LETHE_GROUP_COUNT + 1] = {{0}};
	const float *base[2] = {r->previous, r->initial};
	for (size_t t = 0; t < lethe_model_num_tensors(r->m); t++) {
		const lethe_tensor_info *ti = lethe_model_tensor(r->m, t);
		for (int k = 0; k < 2; k++)
			for (size_t i = ti->offset; i < ti->offset + ti->size; i++) {
				double diff = (double)p[i] - base[k][i], b = base[k][i];
				d[k][ti->group] += diff * diff;
				ref[k][ti->group] += b * b;
			}
	}
	for (int k = 0; k < 2; k++) {
		for (int g = 0; g < LETHE_GROUP_COUNT; g++) {
			d[k][LETHE_GROUP_COUNT] += d[k][g];
			ref[k][LETHE_GROUP_COUNT] += ref[k][g];
		}
		for (int g = 0; g <= LETHE_GROUP_COUNT; g++) {
			rec->drift[2 * k][g] = sqrt(d[k][g]);
			rec->drift[2 * k + 1][g] =
			    ref[k][g] > 0 ? sqrt(d[k][g]) / sqrt(ref[k][g]) : NAN;
		}
	}
	rec->has_drift = 1;
	memcpy(r->previous, p, lethe_model_num_params(r->m) * sizeof(float));
}

/* ---- the run ----------------------------------------------------------------------------------
 */

static int make_parent_dirs(const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0777) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}

static int prepare_tasks(run *r)
{
	lethe_curriculum *c = r->c;
	for (size_t t = 0; t < lethe_curriculum_task_count(c); t++) {
		task_data *d = &r->data[t];
		int rc;
		if ((rc = encode_split(r, t, LETHE_SPLIT_TRAIN)) ||
		    (rc = encode_split(r, t, LETHE_SPLIT_EVAL)))
			return rc;
		if (lethe_instance_predict_spec(lethe_curriculum_task(c, t)->instance, &d->spec))
			return fail(r, LETHE_EINVAL, "task '%s': %s",
			            lethe_curriculum_task(c, t)->name,
			            lethe_instance_errmsg(lethe_curriculum_task(c, t)->instance));
		if (d->spec.mode == LETHE_PREDICT_CHOICE) {
			d->choices = calloc(d->spec.n_choices, sizeof(*d->choices));
			d->choice_len = calloc(d->spec.n_choices, sizeof(int));
			if (!d->choices || !d->choice_len)
				return LETHE_ENOMEM;
			for (size_t k = 0; k < d->spec.n_choices; k++) {
				size_t n;
				if (lethe_tokenizer_encode(r->tok, d->spec.choices[k],
				                           strlen(d->spec.choices[k]),
				                           &d->choices[k], &n))
					return LETHE_ENOMEM;
				d->choice_len[k] = (int)n;
			}
		}
	}
	return 0;
}

/* train_limit and eval_limit's random sample (sample.c): each task's instance keeps only the
 * chosen examples, and the curriculum the indices, for the run file. Deterministic from the data
 * seed, so a resumed run chooses the same. A plugin without a select operation keeps its first
 * examples instead, said in the log and recorded as "first". */
static int select_samples(run *r)
{
	lethe_curriculum *c = r->c;
	for (size_t t = 0; t < lethe_curriculum_task_count(c); t++) {
		const lethe_cur_task *task = lethe_curriculum_task(c, t);
		for (int split = 0; split < LETHE_SPLIT_COUNT; split++) {
			size_t n = lethe_instance_size(task->instance, (lethe_split)split);
			long limit =
			    split == LETHE_SPLIT_TRAIN ? task->train_limit : task->eval_limit;
			const char *kind;
			size_t done;
			if (limit <= 0 || (size_t)limit >= n ||
			    lethe_curriculum__sample(c, t, (lethe_split)split, &kind, &done))
				continue; /* whole, or chosen by an earlier run of this handle */
			size_t k = (size_t)limit, *idx = NULL;
			if (split == LETHE_SPLIT_EVAL && task->eval_first) {
				/* eval_sample: first: evaluate_task cuts; only recorded here. */
				if (!(idx = malloc(k * sizeof(*idx))))
					return LETHE_ENOMEM;
				for (size_t i = 0; i < k; i++)
					idx[i] = i;
				int rc = lethe_curriculum__set_sample(c, t, LETHE_SPLIT_EVAL,
				                                      "first", idx, k);
				free(idx);
				if (rc)
					return rc;
				continue;
			}
			lethe_predict_spec spec;
			int stratify = split == LETHE_SPLIT_EVAL &&
			               lethe_instance_predict_spec(task->instance, &spec) == 0 &&
			               spec.mode == LETHE_PREDICT_CHOICE;
			int rc = lethe_sample__choose(
			    task->instance, (lethe_split)split, k, stratify,
			    lethe_sample__seed(lethe_curriculum_data_seed(c), t, split), &idx);
			if (rc) {
				free(idx);
				return rc == LETHE_ENOMEM
				           ? rc
				           : fail(r, rc, "task '%s': %s", task->name,
				                  lethe_instance_errmsg(task->instance));
			}
			kind = stratify ? "stratified" : "random";
			rc = lethe_instance_select(task->instance, (lethe_split)split, idx, k);
			if (rc == LETHE_EUNSUPPORTED) {
				progress(r,
				         "lethe: task '%s': %s; using its first %zu %s examples\n",
				         task->name, lethe_instance_errmsg(task->instance), k,
				         split == LETHE_SPLIT_TRAIN ? "training" : "evaluation");
				for (size_t i = 0; i < k; i++)
					idx[i] = i;
				kind = "first";
				if (split == LETHE_SPLIT_TRAIN)
					r->data[t].train_cap = k;
				rc = 0;
			} else if (rc)
				rc = fail(r, rc, "task '%s': %s", task->name,
				          lethe_instance_errmsg(task->instance));
			if (rc == 0)
				rc = lethe_curriculum__set_sample(c, t, (lethe_split)split, kind,
				                                  idx, k);
			free(idx);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static int train_tokenizer(run *r)
{
	lethe_curriculum *c = r->c;
	size_t n = 0, cap = 0;
	const char **texts = NULL;
	size_t *lens = NULL;
	for (size_t t = 0; t < lethe_curriculum_task_count(c); t++) {
		size_t k =
		    lethe_instance_size(lethe_curriculum_task(c, t)->instance, LETHE_SPLIT_TRAIN);
		if (r->data[t].train_cap && r->data[t].train_cap < k)
			k = r->data[t].train_cap;
		for (size_t i = 0; i < k; i++) {
			lethe_example ex;
			if (lethe_instance_example(lethe_curriculum_task(c, t)->instance,
			                           LETHE_SPLIT_TRAIN, i, &ex))
				continue;
			if (n + 2 > cap) {
				cap = cap ? 2 * cap : 1024;
				const char **a = realloc(texts, cap * sizeof(*a));
				size_t *b = a ? realloc(lens, cap * sizeof(*b)) : NULL;
				if (a)
					texts = a;
				if (!b) {
					free(texts);
					free(lens);
					return LETHE_ENOMEM;
				}
				lens = b;
			}
			texts[n] = ex.prompt;
			lens[n++] = ex.prompt_len;
			texts[n] = ex.target;
			lens[n++] = ex.target_len;
		}
	}
	int rc = lethe_tokenizer_train(&r->tok, texts, lens, n, (size_t)lethe_curriculum_vocab(c));
	free(texts);
	free(lens);
	return rc;
}

/* The temporary files of writers that died (kill -9, a power cut) beside output: OUTPUT.PID.tmp
 * whose process no longer exists. Called with the run's lock held, so no live run writes one;
 * the process test also spares a report's temporary file (engine/cli/output.c) being written. */
static void remove_stale_temps(const char *output)
{
	const char *slash = strrchr(output, '/');
	char dir[4096];
	const char *base = slash ? slash + 1 : output;
	size_t dlen = slash ? (size_t)(slash - output) : 1;
	if (dlen >= sizeof(dir))
		return;
	memcpy(dir, slash ? output : ".", dlen);
	dir[dlen ? dlen : 1] = '\0';
	if (slash && dlen == 0)
		dir[0] = '/';
	DIR *d = opendir(dir);
	if (!d)
		return;
	size_t blen = strlen(base);
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *name = de->d_name, *num = name + blen + 1;
		char *end;
		if (strncmp(name, base, blen) != 0 || name[blen] != '.' || *num < '1' || *num > '9')
			continue;
		long pid = strtol(num, &end, 10);
		if (strcmp(end, ".tmp") != 0 || pid <= 0 || (pid_t)pid == getpid())
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue; /* alive, or not ours to judge */
		char path[8192];
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) < sizeof(path))
			unlink(path);
	}
	closedir(d);
}

static int lock_output(run *r, const char *output, int *fd_out)
{
	*fd_out = -1;
	char path[4096];
	if ((size_t)snprintf(path, sizeof(path), "%s.lock", output) >= sizeof(path))
		return fail(r, LETHE_EINVAL, "%s: path too long", output);
	for (int attempt = 0; attempt < 8; attempt++) {
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return fail(r, LETHE_EIO, "%s: cannot create the run's lock: %s", path,
			            strerror(errno));
		struct flock fl = {
		    .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
		if (fcntl(fd, F_SETLK, &fl) != 0) {
			char pid[32] = "";
			ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
			pid[n > 0 ? n : 0] = '\0';
			pid[strcspn(pid, "\n")] = '\0';
			close(fd);
			return fail(
			    r, LETHE_EEXISTS,
			    "%s is being written by another lethe run (process %s): wait for it, "
			    "or give another --output",
			    output, pid[0] ? pid : "unknown");
		}
		/* The lock file may have been removed by the run that held it between our open and
		 * our lock: then we hold a lock on a file nobody else will look at, so try again.
		 */
		struct stat a, b;
		if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev) {
			char pid[32];
			int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
			/* Without the number the lock still holds; a waiting run then says
			 * 'unknown'. */
			if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)n, 0) == n)
				fsync(fd);
			*fd_out = fd;
			return 0;
		}
		close(fd);
	}
	return fail(r, LETHE_EIO, "%s: the run's lock keeps changing under us", path);
}

static void unlock_output(int fd, const char *output)
{
	if (fd < 0)
		return;
	char path[4096];
	/* Removed while still held, so a run that opened it meanwhile sees the change and retries.
	 */
	if ((size_t)snprintf(path, sizeof(path), "%s.lock", output) < sizeof(path))
		unlink(path);
	close(fd);
}

/* The tokens that frame each example. lethe's own tokenizer has all four; a pretrained one has
 * its BOS (or, like GPT-2's, uses its end token to begin too), its EOS and padding, and no
 * separator: the last token of "\n" serves, a newline between prompt and answer. */
static int framing_tokens(run *r)
{
	r->eos = lethe_tokenizer_special(r->tok, LETHE_SPECIAL_EOS);
	r->bos = lethe_tokenizer_special(r->tok, LETHE_SPECIAL_BOS);
	r->pad = lethe_tokenizer_special(r->tok, LETHE_SPECIAL_PAD);
	r->sep = lethe_tokenizer_special(r->tok, LETHE_SPECIAL_SEP);
	if (r->eos < 0)
		return fail(
		    r, LETHE_EINVAL,
		    "the tokenizer has no end-of-sequence token (eos_token_id in config.json "
		    "or eos_token in tokenizer_config.json)");
	if (r->bos < 0)
		r->bos = r->eos;
	if (r->pad < 0)
		r->pad = r->eos;
	if (r->sep < 0) {
		int32_t *ids;
		size_t n;
		int rc = lethe_tokenizer_encode(r->tok, "\n", 1, &ids, &n);
		if (rc)
			return fail(r, rc, "the tokenizer cannot encode a newline: %s",
			            lethe_tokenizer_errmsg(r->tok));
		r->sep = n ? ids[n - 1] : r->eos;
		free(ids);
	}
	return 0;
}

/* model: {from: RUN.h5, stage: NAME}: that run's tokenizer (tokenizer set), or the model after
 * stage NAME (a model of context tokens at most). Read again on resume, like a checkpoint. */
static int from_run_file(run *r, const char *path, const char *stage, int context, int tokenizer)
{
	lethe_runfile *rf;
	size_t row = 0;
	int rc = lethe_runfile_open(&rf, path);
	if (!rc && (rc = lethe_runfile_find_stage(rf, stage, &row))) {
		fail(r, rc, "%s (changed since validation?)", lethe_runfile_errmsg(rf));
		lethe_runfile_free(rf);
		return rc;
	}
	if (!rc && tokenizer)
		rc = lethe_runfile_tokenizer(rf, &r->tok);
	else if (!rc) {
		lethe_model_config cfg = *lethe_runfile_model_config(rf);
		if (context > 0 && context < cfg.context)
			cfg.context = context;
		if ((rc = lethe_model_new(&r->m, &cfg, 0))) {
			lethe_runfile_free(rf);
			return fail(r, rc, "%s: %s", path,
			            r->m ? lethe_model_errmsg(r->m) : "out of memory");
		}
		/* A LoRA adapter the row left unmerged is part of its model: merged in here, so
		 * the new run starts from what that row evaluated. */
		if ((rc = lethe_runfile_row_model(rf, row, r->m)) == 0 && lethe_model_lora(r->m) &&
		    (rc = lethe_model_lora_merge(r->m))) {
			lethe_runfile_free(rf);
			return fail(r, rc, "%s: stage '%s': merging its adapter: %s", path, stage,
			            lethe_model_errmsg(r->m));
		}
	}
	if (rc) {
		rc = rc == LETHE_ENOMEM ? rc : LETHE_EPARSE;
		fail(r, rc, "%s", lethe_runfile_errmsg(rf));
	}
	lethe_runfile_free(rf);
	return rc;
}

/* The live log: --log FILE, or <output>.log.jsonl (.log.csv); none with an empty name. A
 * resumed run appends to it. */
static int open_log(run *r)
{
	const lethe_run_options *o = r->o;
	const char *name = o->version >= 2 ? o->log : NULL;
	int csv = o->version >= 2 && o->log_csv;
	if (name && !*name)
		return 0;
	char path[4096], why[4200];
	if (!name) {
		if ((size_t)snprintf(path, sizeof(path), "%s.log.%s", lethe_curriculum_output(r->c),
		                     csv ? "csv" : "jsonl") >= sizeof(path))
			return fail(r, LETHE_EINVAL, "%s: path too long",
			            lethe_curriculum_output(r->c));
		name = path;
	}
	if (lethe_runlog__open(&r->log, name, csv, o->resume, why, sizeof(why)))
		return fail(r, LETHE_EIO, "the live log: %s", why);
	lethe_runlog__start(r->log, lethe_curriculum_name(r->c), lethe_curriculum_path(r->c),
	                    lethe_curriculum_output(r->c), o->resume);
	return 0;
}

/* A rank that fails ends the whole job (the others would wait for it in the next sum), with its
 * message and the exit status `lethe run` would give; a no-op on one process. */
static int dist_fail(run *r, int rc)
{
	if (rc && r->ranks > 1)
		lethe_dist__abort(rc == LETHE_EEXISTS || rc == LETHE_ENOTFOUND ||
		                          rc == LETHE_EPARSE || rc == LETHE_EVERSION
		                      ? 2
		                      : 1,
		                  r->err->msg[0] ? r->err->msg : lethe_strerror(rc));
	return rc;
}

int lethe_run_curriculum(lethe_curriculum *c, const lethe_run_options *o)
{
	run r = {.c = c, .o = o, .err = lethe_curriculum__err(c)};
	lethe_errbuf__clear(r.err);
	/* The runfile calls below still take a caller's buffer: the curriculum's. */
	char *err = r.err->msg;
	size_t err_size = sizeof(r.err->msg);
	/* Version 1 options end before the log fields: read as "the default log". */
	if (o->version < 1 || o->version > LETHE_RUN_OPTIONS_VERSION)
		return fail(&r, LETHE_EVERSION,
		            "run options of version %u: this liblethe knows versions 1 to %u",
		            o->version, LETHE_RUN_OPTIONS_VERSION);
	struct stat sb;
	/* Under mpirun or srun: this process's rank (dist.h); one rank otherwise. */
	char why[256];
	if (lethe_dist__start(why, sizeof(why)))
		return fail(&r, LETHE_EIO, "MPI: %s", why);
	r.rank = lethe_dist__rank();
	r.ranks = lethe_dist__size();
	r.det_reduce = o->version >= 3 && o->deterministic_reduce;
	/* Example weighting divides by the sequences of the forward pass (model.c), which under
	 * MPI is one rank's share, not the step's: refused until the count is summed across ranks.
	 */
	for (size_t i = 0; r.ranks > 1 && i < lethe_curriculum_stage_count(c); i++)
		if (lethe_curriculum_stage(c, i)->train.loss_weighting ==
		    LETHE_LOSS_WEIGHTING_EXAMPLE)
			return dist_fail(
			    &r, fail(&r, LETHE_EINVAL,
			             "stage '%s': loss_weighting: example is not supported "
			             "on more than one MPI rank yet (use token)",
			             lethe_curriculum_stage(c, i)->name));
	int exists = stat(lethe_curriculum_output(c), &sb) == 0;
	/* --output can name what validation did not see; --force must never replace a device. */
	if (exists && !S_ISREG(sb.st_mode))
		return dist_fail(
		    &r, fail(&r, LETHE_EINVAL,
		             "%s is %s: a run file is a regular file, replaced by rename",
		             lethe_curriculum_output(c),
		             S_ISDIR(sb.st_mode) ? "a directory" : "a device or special file"));
	if (exists && !o->force && !o->resume)
		return dist_fail(
		    &r, fail(&r, LETHE_EEXISTS,
		             "%s exists: give --force to overwrite it or --resume to continue it",
		             lethe_curriculum_output(c)));
	if (o->resume && !exists)
		return dist_fail(&r, fail(&r, LETHE_ENOTFOUND, "%s: nothing to resume",
		                          lethe_curriculum_output(c)));
	if (make_parent_dirs(lethe_curriculum_output(c)))
		return dist_fail(&r, fail(&r, LETHE_EIO, "%s: cannot create its directory: %s",
		                          lethe_curriculum_output(c), strerror(errno)));
	int lock = -1, rc = r.rank == 0 ? lock_output(&r, lethe_curriculum_output(c), &lock) : 0;
	if (rc)
		return dist_fail(&r, rc);
	if (r.rank == 0)
		remove_stale_temps(lethe_curriculum_output(c));
	lethe_set_threads(o->threads > 0 ? o->threads : 1);
	r.data = calloc(lethe_curriculum_task_count(c), sizeof(*r.data));
	size_t room = lethe_curriculum_stage_count(c) +
	              (lethe_curriculum_baseline(c) ? 1 : 0); /* rows this curriculum makes */
	r.rec = calloc(room + 1, sizeof(*r.rec));
	if (!r.data || !r.rec) {
		free(r.data);
		free(r.rec);
		unlock_output(lock, lethe_curriculum_output(c));
		return LETHE_ENOMEM;
	}
	lethe_model_config cfg = (*lethe_curriculum_model(c));
	uint64_t *replay_state = NULL; /* the replay memory as the run file stores it */
	const char *from = lethe_curriculum_model_from(c);
	const char *from_stage = lethe_curriculum_model_from_stage(c);
	lethe_runfile *rf = NULL;
	if ((rc = select_samples(&r)))
		goto done;
	if (o->resume) {
		/* Everything is read and checked before anything is written: a refused file is
		 * left as it was. */
		if ((rc = lethe_runfile_open(&rf, lethe_curriculum_output(c))) ||
		    (rc = lethe_runfile__check_curriculum(rf, c)) ||
		    (rc = lethe_runfile__records(rf, c, r.rec, room, &r.n_rec)) ||
		    (rc = lethe_runfile_tokenizer(rf, &r.tok))) {
			/* A file that cannot be resumed is bad input (LETHE_EPARSE), whatever the
			 * reader's reason, unless memory ran out or its format is another version.
			 */
			if (rc != LETHE_ENOMEM && rc != LETHE_EVERSION)
				rc = LETHE_EPARSE;
			fail(&r, rc, "%s", lethe_runfile_errmsg(rf));
			goto done;
		}
		cfg = *lethe_runfile_model_config(rf);
		progress(&r, "lethe: resuming %s after %zu completed row%s\n",
		         lethe_curriculum_output(c), r.n_rec, r.n_rec == 1 ? "" : "s");
	} else if (from && from_stage) {
		progress(&r, "lethe: the tokenizer of %s\n", from);
		if ((rc = from_run_file(&r, from, from_stage, cfg.context, 1)))
			goto done;
	} else if (from) {
		progress(&r, "lethe: the tokenizer of %s\n", from);
		if ((rc = lethe_tokenizer_open(&r.tok, from))) {
			fail(&r, rc, "%s", lethe_tokenizer_errmsg(r.tok));
			goto done;
		}
	} else {
		progress(&r, "lethe: training the tokenizer (vocabulary %ld)\n",
		         lethe_curriculum_vocab(c));
		if ((rc = train_tokenizer(&r)))
			goto done;
		cfg.vocab = (int)lethe_tokenizer_vocab_size(r.tok);
	}
	if ((rc = framing_tokens(&r)))
		goto done;
	r.context = cfg.context;
	if (from && from_stage) {
		progress(&r, "lethe: loading the model after stage '%s' of %s\n", from_stage, from);
		if ((rc = from_run_file(&r, from, from_stage, cfg.context, 0)))
			goto done;
	} else if (from) {
		progress(&r, "lethe: loading %s\n", from);
		if ((rc = lethe_model_open(&r.m, from, cfg.context))) {
			fail(&r, rc, "%s", r.m ? lethe_model_errmsg(r.m) : "out of memory");
			goto done;
		}
	} else if ((rc = lethe_model_new(&r.m, &cfg, lethe_curriculum_seed(c))))
		goto done;
	if ((rc = prepare_tasks(&r)))
		goto done;
	size_t np = lethe_model_num_params(r.m);
	r.initial = malloc(np * sizeof(float));
	r.previous = malloc(np * sizeof(float));
	if (!r.initial || !r.previous) {
		rc = LETHE_ENOMEM;
		goto done;
	}
	memcpy(r.initial, lethe_model_params(r.m),
	       np * sizeof(float)); /* the seed (or the checkpoint) makes it again on resume */
	if (rf && r.n_rec > 0 && (rc = lethe_runfile_resume_state(rf, r.m))) {
		rc = rc == LETHE_ENOMEM ? rc : LETHE_EPARSE;
		fail(&r, rc, "%s", lethe_runfile_errmsg(rf));
		goto done;
	}
	if (rc == 0 && (rc = methods_init(&r)) == 0 && rf && r.n_rec > 0)
		rc = methods_resume(&r, rf);
	if (rc)
		goto done;
	if (rf && r.n_rec > 0 && (rc = lethe_runfile__resume_adapter(rf, r.m))) {
		rc = rc == LETHE_ENOMEM ? rc : LETHE_EPARSE;
		fail(&r, rc, "%s", lethe_runfile_errmsg(rf));
		goto done;
	}
	lethe_runfile_free(rf); /* closed before the file is rewritten */
	rf = NULL;
	if ((rc = r.rank == 0 ? open_log(&r) : 0) || (rc = dist_check_same(&r, "at the start")))
		goto done;
	memcpy(r.previous, lethe_model_lora_base(r.m), np * sizeof(float));
	if (lethe_curriculum_baseline(c) && r.n_rec == 0) {
		lethe_stage_record *b = &r.rec[r.n_rec++];
		b->name = strdup("baseline");
		double t0 = now();
		if ((rc = evaluate_all(&r, b)))
			goto done;
		b->seconds = now() - t0;
		if (r.rank == 0 &&
		    (rc = lethe_runfile__write(lethe_curriculum_output(c), c, r.tok, r.m, r.rec,
		                               r.n_rec, lethe_set_threads(0), err, err_size)))
			goto done;
	}
	for (size_t s = r.n_rec - (lethe_curriculum_baseline(c) ? 1 : 0);
	     s < lethe_curriculum_stage_count(c); s++) {
		lethe_stage_record *rec = &r.rec[r.n_rec++];
		rec->name = strdup(lethe_curriculum_stage(c, s)->name);
		rec->trained = 1;
		if ((rc = train_stage(&r, s, rec)) || (rc = stage_end_methods(&r, s, rec)) ||
		    (rc = dist_check_same(&r, "after training a stage")) ||
		    (rc = save_replay(&r, rec, &replay_state)) || (rc = evaluate_all(&r, rec)))
			goto done;
		drift(&r, rec);
		if (r.rank == 0 &&
		    (rc = lethe_runfile__write(lethe_curriculum_output(c), c, r.tok, r.m, r.rec,
		                               r.n_rec, lethe_set_threads(0), err, err_size)))
			goto done;
	}
	if (r.truncated)
		progress(&r,
		         "lethe: %zu sequences were longer than the context (%d tokens) and were "
		         "shortened\n",
		         r.truncated, r.context);
	if (r.ranks > 1)
		progress(&r,
		         "lethe: %d ranks: %.3f s in the gradient all-reduce (rank 0), %.3f s "
		         "waiting for the slowest rank before it\n",
		         r.ranks, lethe_dist__reduce_seconds(), lethe_dist__wait_seconds());
	if (r.ranks > 1 && !r.det_reduce) { /* dist_buckets_begin: how much could overlap */
		uint64_t started, early;
		lethe_dist__buckets_counts(&started, &early);
		progress(&r,
		         "lethe: %d ranks: %" PRIu64 " gradient buckets summed, %" PRIu64
		         " of them started during the backward\n",
		         r.ranks, started, early);
	}
	progress(&r, "lethe: wrote %s\n", lethe_curriculum_output(c));
done:
	lethe_runfile_free(rf);
	if (rc == LETHE_ENOMEM && !err[0])
		fail(&r, rc, "out of memory");
	lethe_runlog__close(r.log, rc ? (err[0] ? err : lethe_strerror(rc)) : "ok");
	for (size_t i = 0; i < r.n_rec; i++)
		lethe_stage_record_clear(&r.rec[i]);
	free(r.rec);
	for (size_t t = 0; r.data && t < lethe_curriculum_task_count(c); t++) {
		for (int s = 0; s < LETHE_SPLIT_COUNT; s++) {
			for (size_t i = 0; i < r.data[t].n[s]; i++)
				free(r.data[t].split[s][i].ids);
			free(r.data[t].split[s]);
		}
		for (size_t k = 0; r.data[t].choices && k < r.data[t].spec.n_choices; k++)
			free(r.data[t].choices[k]);
		free(r.data[t].choices);
		free(r.data[t].choice_len);
	}
	free(r.data);
	free(r.initial);
	free(r.previous);
	free(replay_state);
	lethe_methods__clear(&r.ms);
	lethe_replay__clear(&r.rm);
	lethe_model_free(r.m);
	lethe_tokenizer_free(r.tok);
	unlock_output(lock, lethe_curriculum_output(c));
	return dist_fail(&r, rc);
}
