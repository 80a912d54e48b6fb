/*
 * loss_count.h: the count a training forward's mean loss is divided by, for data-parallel runs
 * (engine/run/dist.h). A rank that computes a share of a batch's rows must scale its gradient
 * by the whole batch's targeted positions, not its own, so that the ranks' gradients sum to the
 * one-process gradient. Not for anything else: the loss lethe_model_forward() reports stays the
 * mean over the rows it was given.
 */
#ifndef LETHE_MODEL_LOSS_COUNT_H
#define LETHE_MODEL_LOSS_COUNT_H

#include <lethe/model.h>

/* Backward scales d(loss)/d(logits) by 1 / n instead of 1 / (the last forward's targeted
 * positions); n <= 0 restores that. Kept until changed. */
void lethe_model__set_loss_count(lethe_model *m, int n);

#endif
