/*
 * methods.h: the methods against forgetting that change a stage's training (docs/methods.md):
 * regularisers toward earlier weights (L2 to the stage's start, online EWC with a diagonal
 * Fisher) and the optimizer reset and layer freezing applied at a stage's start. The runner
 * calls them through a few hooks; the replay memory is replay.c. Private to liblethe.
 */
#ifndef LETHE_METHODS_H
#define LETHE_METHODS_H

#include <stddef.h>

#include <lethe/curriculum.h>
#include <lethe/model.h>

typedef struct lethe_methods {
	size_t n;           /* parameters */
	float *anchor;      /* theta*: the parameters at the start of the current stage */
	float *fisher;      /* EWC's online diagonal Fisher, NULL until a stage finished */
	double *fisher_acc; /* the Fisher being accumulated (one stage's examples) */
	size_t fisher_n;    /* examples accumulated */
	/* LwF: the model at the stage's start, its logits on the current micro-batch, and the
	 * distillation term's gradient at the current model's logits (NT x V each). */
	lethe_model *teacher;
	float *t_logits, *dlogits;
	size_t logits_cap;
	int t_rows; /* NT of the teacher's last forward */
} lethe_methods;

void lethe_methods__clear(lethe_methods *ms);

/* At a stage's start: freezing (groups, then whole layers), reset_optimizer (AdamW's moments
 * zeroed, its step counter 0) and the anchor of the regularisers (the current parameters). */
int lethe_methods__stage_begin(lethe_methods *ms, lethe_model *m, const lethe_train_settings *ts);

/* Whether the settings add a penalty (a regulariser with lambda > 0). */
int lethe_methods__has_penalty(const lethe_train_settings *ts);

/* The penalty of the L2 or EWC regulariser at the current parameters; with grad_scale > 0 its
 * gradient times grad_scale is added to the model's gradients over trainable tensors (the runner
 * passes grad_accum, since the optimizer step scales the gradient block by 1/grad_accum). Sums
 * in double, in parameter order. Only over trainable tensors: a frozen tensor does not move. */
double lethe_methods__penalty(const lethe_methods *ms, lethe_model *m,
                              const lethe_train_settings *ts, float grad_scale);

/* O-LoRA (adapter: {per_stage: true, orthogonal: LAMBDA}): whether the settings ask for its
 * penalty (lambda > 0), and its value at the attached adapter, lambda sum_i sum_t
 * sum_jk |(A_i A^T)_jk| over the frozen adapters i and the adapted projections t
 * (lethe_model_lora_orthogonal()); with grad_scale > 0 its gradient times grad_scale is added to
 * the adapter's gradients, as lethe_methods__penalty() does for the base's. */
int lethe_methods__has_olora(const lethe_train_settings *ts);
double lethe_methods__olora_penalty(lethe_model *m, const lethe_train_settings *ts,
                                    float grad_scale);

/* Whether the settings distil from the stage's starting model (LwF with lambda > 0). */
int lethe_methods__has_lwf(const lethe_train_settings *ts);

/* LwF, per micro-batch: the teacher's forward on batch (before the current model's training
 * forward on the same batch), then, after that forward, the penalty
 * lambda T^2 mean_k KL(softmax(u_k/T) || softmax(z_k/T)) over the targeted positions k, with
 * teacher logits u and the model's z; its gradient with respect to z is left in ms->dlogits for
 * lethe_model_backward_with(). */
int lethe_methods__lwf_teacher(lethe_methods *ms, const lethe_batch *batch);
int lethe_methods__lwf_penalty(lethe_methods *ms, const lethe_model *m,
                               const lethe_train_settings *ts, double *value);

/* EWC's Fisher of a finished stage: begin, then one call per example (a batch of one sequence:
 * forward and backward of its mean target NLL; the squared gradient is accumulated), then end,
 * which folds the mean into F = gamma F_old + F_new. Every tensor is made trainable meanwhile;
 * the next stage's start sets the flags again. */
int lethe_methods__fisher_begin(lethe_methods *ms, lethe_model *m);
int lethe_methods__fisher_add(lethe_methods *ms, lethe_model *m, const lethe_batch *one);
void lethe_methods__fisher_end(lethe_methods *ms, double gamma);

/* A one-line summary of a stage's methods for the run file's stage attribute and the report
 * ("reset_optimizer; freeze layers 0-1; ewc lambda=100 ..."), "" when it uses none. */
void lethe_methods__summary(const lethe_train_settings *ts, char *buf, size_t size);

#endif
