/*
 * load_lethe.c: lethe's side of bench/load-checkpoint: opens a pretrained checkpoint with
 * lethe_model_open() and prints the wall time of the load and the process's peak resident memory
 * (ru_maxrss) as one line "seconds S peak_mb M params P".
 */
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

#include <lethe/lethe.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: load_lethe CHECKPOINT\n");
		return 2;
	}
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	lethe_model *m;
	if (lethe_model_open(&m, argv[1], 2048)) {
		fprintf(stderr, "%s\n", m ? lethe_model_errmsg(m) : "out of memory");
		lethe_model_free(m);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("seconds %.3f peak_mb %.1f params %zu\n",
	       (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec),
	       (double)ru.ru_maxrss / 1024.0, lethe_model_num_params(m));
	lethe_model_free(m);
	return 0;
}
