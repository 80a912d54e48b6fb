/*
 * forgetting.c: see forgetting.h and docs/forgetting.md for the formulas and their sources.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/forgetting.h>
#include <lethe/lethe.h>

void lethe_forgetting_free(lethe_forgetting *f)
{
	free(f->learning);
	free(f->forgetting);
	free(f->max_drop);
	free(f->transfer);
	free(f->trained_row);
	free(f->final);
	free(f->relative);
	free(f->normalised);
	free(f->forward);
	free(f->scale);
	free(f->gain);
	f->gain = NULL;
	f->learning = f->forgetting = f->max_drop = f->transfer = NULL;
	f->final = f->relative = f->normalised = f->forward = f->scale = NULL;
	f->trained_row = NULL;
}

/* Mean of the defined (non-NaN) values, NaN when there are none. */
typedef struct mean {
	double sum;
	size_t n;
} mean;

static void add(mean *m, double v)
{
	if (!isnan(v)) {
		m->sum += v;
		m->n++;
	}
}

static double value(const mean *m)
{
	return m->n ? m->sum / (double)m->n : NAN;
}

static int compute(lethe_forgetting *out, const double *R, size_t rows, size_t cols,
                   int has_baseline, const int *trained_row, const int *lower);

int lethe_forgetting_compute(lethe_forgetting *out, const double *R, size_t rows, size_t cols,
                             int has_baseline, const int *trained_row, const int *lower)
{
	return lethe_forgetting_compute_scaled(out, R, rows, cols, has_baseline, trained_row, lower,
	                                       NULL);
}

int lethe_forgetting_compute_scaled(lethe_forgetting *out, const double *R, size_t rows,
                                    size_t cols, int has_baseline, const int *trained_row,
                                    const int *lower, const double *scale)
{
	double *S = malloc((rows * cols + 1) * sizeof(double));
	double *sc = malloc((cols + 1) * sizeof(double));
	if (!S || !sc) {
		free(S);
		free(sc);
		memset(out, 0, sizeof(*out));
		return LETHE_ENOMEM;
	}
	for (size_t j = 0; j < cols; j++)
		sc[j] = scale && scale[j] > 0 ? scale[j] : 1.0;
	for (size_t i = 0; i < rows * cols; i++)
		S[i] = R[i] / sc[i % cols];
	int rc = compute(out, S, rows, cols, has_baseline, trained_row, lower);
	free(S);
	if (rc) {
		free(sc);
		return rc;
	}
	out->scale = sc;
	return 0;
}

static int compute(lethe_forgetting *out, const double *R, size_t rows, size_t cols,
                   int has_baseline, const int *trained_row, const int *lower)
{
	out->scale = NULL;
	out->final = malloc((cols + 1) * sizeof(double));
	out->relative = malloc((cols + 1) * sizeof(double));
	out->normalised = malloc((cols + 1) * sizeof(double));
	out->forward = malloc((cols + 1) * sizeof(double));
	out->gain = malloc((cols + 1) * sizeof(double));
	out->learning = malloc((cols + 1) * sizeof(double));
	out->forgetting = malloc((cols + 1) * sizeof(double));
	out->max_drop = malloc((cols + 1) * sizeof(double));
	out->transfer = malloc((cols + 1) * sizeof(double));
	out->trained_row = malloc((cols + 1) * sizeof(int));
	out->n_tasks = cols;
	if (!out->learning || !out->forgetting || !out->max_drop || !out->transfer ||
	    !out->trained_row || !out->final || !out->relative || !out->normalised ||
	    !out->forward || !out->gain) {
		lethe_forgetting_free(out);
		return LETHE_ENOMEM;
	}
	size_t first = has_baseline ? 1 : 0; /* the first stage's row */
	mean acc = {0}, bwt = {0}, fwt = {0}, chaudhry = {0};
	for (size_t j = 0; j < cols; j++) {
		double s = lower && lower[j] ? -1.0 : 1.0;
		out->learning[j] = out->forgetting[j] = out->max_drop[j] = out->transfer[j] = NAN;
		out->final[j] = out->relative[j] = out->normalised[j] = out->forward[j] = NAN;
		out->gain[j] = NAN;
		out->trained_row[j] = trained_row ? trained_row[j] : -1;
		if (rows <= first)
			continue;
		double final = R[(rows - 1) * cols + j];
		add(&acc, final);
		out->final[j] = final;
		/* Chance-normalised: how far from the baseline towards a perfect 1 (0-1 scores). */
		if (has_baseline && !(lower && lower[j]) && R[j] < 1.0)
			out->normalised[j] = (final - R[j]) / (1.0 - R[j]);
		int t = trained_row ? trained_row[j] : -1;
		if (t >= (int)first && (size_t)t < rows) {
			out->learning[j] = R[(size_t)t * cols + j];
			if (has_baseline)
				out->gain[j] = s * (out->learning[j] - R[j]);
			if ((size_t)t < rows - 1) {
				/* Trained before the last stage: what happened to it since. */
				out->transfer[j] = s * (final - out->learning[j]);
				out->forgetting[j] = -out->transfer[j];
				add(&bwt, out->transfer[j]);
				if (s > 0 && out->learning[j] > 0)
					out->relative[j] = out->forgetting[j] / out->learning[j];
			}
			if (has_baseline && (size_t)t > first) {
				/* the stages before it, against the baseline */
				out->forward[j] = s * (R[(size_t)(t - 1) * cols + j] - R[j]);
				add(&fwt, out->forward[j]);
			}
		}
		/* Chaudhry: max over the stages before the last of the score, minus the final
		 * score, for tasks trained before the last stage. */
		if (t >= (int)first && (size_t)t < rows - 1) {
			double best = NAN;
			for (size_t l = first; l < rows - 1; l++) {
				double v = s * R[l * cols + j];
				if (!isnan(v) && (isnan(best) || v > best))
					best = v;
			}
			out->max_drop[j] = best - s * final;
			add(&chaudhry, out->max_drop[j]);
		}
	}
	out->acc = value(&acc);
	out->bwt = value(&bwt);
	out->fwt = value(&fwt);
	out->chaudhry = value(&chaudhry);
	return 0;
}
