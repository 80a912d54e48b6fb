/*
 * grad_hook.h: a call from inside the backward pass each time a part of the model's gradients is
 * final, for data-parallel runs (engine/run/dist.h) that start summing those gradients across
 * ranks while the backward computes the rest. Not a general callback API: one hook per model,
 * NULL (the default) costs nothing, and a plain run never sets one.
 */
#ifndef LETHE_MODEL_GRAD_HOOK_H
#define LETHE_MODEL_GRAD_HOOK_H

#include <lethe/model.h>

/* Backward stages, in the order backward finishes them: stage 0, the head and the final norm;
 * stage s in 1..L, layer L - s (its base tensors and its adapter's); stage L + 1, the token
 * embeddings (and the head when it is tied to them). */
typedef void (*lethe_grad_hook)(void *ctx, int stage);

/* Until changed, lethe_model_backward() and lethe_model_backward_with() call hook(ctx, s) for
 * s = 0 .. L + 1, on the calling thread, as soon as stage s's gradients (base and adapter) are
 * final for this backward; fn NULL removes it. The hook must not change the gradients. */
void lethe_model__set_grad_hook(lethe_model *m, lethe_grad_hook fn, void *ctx);
/* The stage whose end makes tensor t's gradient final (t a base or adapter tensor of m). */
int lethe_model__grad_stage(const lethe_model *m, const lethe_tensor_info *t);

#endif
