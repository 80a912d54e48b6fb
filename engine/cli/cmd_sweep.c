/*
 * cmd_sweep.c: `lethe sweep CURRICULUM --seeds 1-5`, one run of a curriculum per seed, each an
 * ordinary run file DIR/seed-N.h5, for `lethe compare DIR` to treat as a group. Each seed is a
 * child `lethe run --seed N --output DIR/seed-N.h5` (this very binary), up to --jobs at once, so
 * every run has its own process, lock and crash safety. Resumable: a complete seed is skipped,
 * an unfinished one continued with --resume. It is not a scheduler: the seeds' threads add up.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lethe/lethe.h>

#include "cli.h"

static void help(FILE *f)
{
	fprintf(
	    f, "Usage: lethe sweep [OPTIONS] --seeds LIST CURRICULUM\n\n"
	       "Runs CURRICULUM once per seed into DIR/seed-N.h5, each an ordinary run file\n"
	       "(lethe run --seed N). A seed whose file is complete is skipped; an unfinished one\n"
	       "is resumed. 'lethe compare DIR' then reads DIR as a group of seeds.\n\n"
	       "  -S, --seeds LIST        seeds: 1-5, 1,3,7 or 1-3,10 (at most 1000)\n"
	       "  -j, --jobs J            runs at the same time (default 1)\n"
	       "  -O, --out DIR           where the run files go (default: the curriculum's "
	       "output\n"
	       "                          without .h5)\n"
	       "  -t, --threads N         threads of each run (default 1)\n"
	       "  -p, --plugin-path PATH  search PATH for plugins first (repeatable)\n"
	       "  -h, --help              show this help\n\n"
	       "Exit status: 0 every seed complete, 1 a run failed, 2 bad usage or an invalid\n"
	       "curriculum.\n");
}

/* "1-5,9" into seeds; 0 or -1 with a message. */
static int parse_seeds(const char *s, unsigned long long **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	const char *p = s;
	while (*p) {
		char *end;
		errno = 0;
		unsigned long long a = strtoull(p, &end, 10), b = a;
		if (end == p || errno || *p == '-')
			goto bad;
		p = end;
		if (*p == '-') {
			b = strtoull(++p, &end, 10);
			if (end == p || errno || b < a)
				goto bad;
			p = end;
		}
		if (*p == ',')
			p++;
		else if (*p)
			goto bad;
		if (b - a >= 1000 || *n + (b - a + 1) > 1000) {
			lethe_cli_error("sweep: --seeds: more than 1000 seeds in '%s'", s);
			free(*out);
			return -1;
		}
		unsigned long long *g = realloc(*out, (*n + (size_t)(b - a) + 1) * sizeof(*g));
		if (!g) {
			lethe_cli_error("out of memory");
			free(*out);
			return -1;
		}
		*out = g;
		for (unsigned long long x = a; x <= b; x++)
			(*out)[(*n)++] = x;
	}
	if (*n)
		return 0;
bad:
	lethe_cli_error("sweep: --seeds: expected a list such as 1-5 or 1,3,7, got '%s'", s);
	free(*out);
	*out = NULL;
	return -1;
}

/* 1: path holds a complete run (every stage trained), 0: an unfinished one, -1: none. */
static int run_state(const char *path)
{
	if (access(path, F_OK) != 0)
		return -1;
	lethe_runfile *rf = NULL;
	int state = 0;
	if (lethe_runfile_open(&rf, path) == 0) {
		size_t trained = 0;
		for (size_t r = 0; r < lethe_runfile_n_rows(rf); r++)
			trained += lethe_runfile_row_trained(rf, r) != 0;
		state = trained >= lethe_runfile_n_stages(rf);
	}
	lethe_runfile_free(rf); /* unreadable: `lethe run --resume` says why */
	return state;
}

static int make_dir(const char *dir)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf))
		return -1;
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(buf, 0777) != 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	return mkdir(buf, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

int lethe_cmd_sweep(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"seeds", required_argument, NULL, 'S'},
	    {"jobs", required_argument, NULL, 'j'},
	    {"out", required_argument, NULL, 'O'},
	    {"threads", required_argument, NULL, 't'},
	    {"plugin-path", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *seeds_arg = NULL, *dir_arg = NULL, *threads = NULL;
	lethe_cli_paths paths = {0};
	long jobs = 1;
	int c, status = LETHE_EXIT_USAGE;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":S:j:O:t:p:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'S': seeds_arg = optarg; break;
		case 'O': dir_arg = optarg; break;
		case 't': threads = optarg; break;
		case 'j': {
			char *end;
			jobs = strtol(optarg, &end, 10);
			if (*end || end == optarg || jobs < 1 || jobs > 64) {
				lethe_cli_error("sweep: --jobs: expected 1 to 64, got '%s'",
				                optarg);
				goto done;
			}
			break;
		}
		case 'p':
			if (lethe_cli_paths_add(&paths, optarg)) {
				lethe_cli_error("out of memory");
				goto done;
			}
			break;
		case 'h':
			help(stdout);
			status = LETHE_EXIT_OK;
			goto done;
		case ':':
			lethe_cli_error("sweep: option '%s' needs a value", argv[optind - 1]);
			goto done;
		default:
			lethe_cli_error("sweep: unknown option '%s' (try 'lethe sweep --help')",
			                argv[optind - 1]);
			goto done;
		}
	}
	if (optind != argc - 1 || !seeds_arg) {
		lethe_cli_error(!seeds_arg ? "sweep: --seeds is required (e.g. --seeds 1-5)"
		                           : "sweep: expected one curriculum");
		goto done;
	}
	const char *file = argv[optind];
	unsigned long long *seeds = NULL;
	size_t n_seeds = 0;
	if (parse_seeds(seeds_arg, &seeds, &n_seeds))
		goto done;
	/* The curriculum is validated once here, so that a bad one fails before any run. */
	char dir[PATH_MAX];
	lethe_registry *reg = NULL;
	lethe_curriculum *cur = NULL;
	if (lethe_cli_registry(&reg, &paths, 0)) {
		status = LETHE_EXIT_FAILED;
		goto free_seeds;
	}
	int rc = lethe_curriculum_load(&cur, file, reg, 1);
	if (rc == LETHE_ENOMEM || lethe_curriculum_error_count(cur)) {
		for (size_t i = 0; cur && i < lethe_curriculum_error_count(cur); i++)
			fprintf(stderr, "%s\n", lethe_curriculum_error(cur, i));
		lethe_cli_error("%s: invalid curriculum: nothing was run", file);
		goto free_cur;
	}
	if (dir_arg)
		snprintf(dir, sizeof(dir), "%s", dir_arg);
	else {
		/* The output path without .h5: runs/quickstart.h5 -> runs/quickstart/ */
		snprintf(dir, sizeof(dir), "%s", lethe_curriculum_output(cur));
		size_t len = strlen(dir);
		if (len > 3 && strcmp(dir + len - 3, ".h5") == 0)
			dir[len - 3] = '\0';
		else if (len + 6 < sizeof(dir))
			strcat(dir, ".seeds");
	}
	if (make_dir(dir)) {
		lethe_cli_error("sweep: %s: cannot create the directory: %s", dir, strerror(errno));
		goto free_cur;
	}
	status = LETHE_EXIT_OK;
	size_t next = 0, running = 0, failed = 0;
	pid_t *pids = calloc(n_seeds, sizeof(pid_t));
	if (!pids) {
		lethe_cli_error("out of memory");
		status = LETHE_EXIT_FAILED;
		goto free_cur;
	}
	while (next < n_seeds || running > 0) {
		if (next < n_seeds && running < (size_t)jobs) {
			size_t i = next++;
			char out[PATH_MAX + 32], seed[32];
			snprintf(out, sizeof(out), "%s/seed-%llu.h5", dir, seeds[i]);
			snprintf(seed, sizeof(seed), "%llu", seeds[i]);
			int state = run_state(out);
			if (state == 1) {
				printf("seed %s: %s is complete, skipped\n", seed, out);
				continue;
			}
			printf("seed %s: %s %s\n", seed, state == 0 ? "resuming" : "running", out);
			fflush(stdout);
			const char *args[32];
			int k = 0;
			args[k++] = "lethe";
			args[k++] = "run";
			args[k++] = "--quiet";
			args[k++] = "--seed";
			args[k++] = seed;
			args[k++] = "--output";
			args[k++] = out;
			if (state == 0)
				args[k++] = "--resume";
			if (threads) {
				args[k++] = "--threads";
				args[k++] = threads;
			}
			for (size_t p = 0; p < paths.n && k < 28; p++) {
				args[k++] = "--plugin-path";
				args[k++] = paths.items[p];
			}
			args[k++] = file;
			args[k] = NULL;
			pid_t pid = fork();
			if (pid == 0) {
				execv("/proc/self/exe", (char *const *)args);
				fprintf(stderr, "lethe: sweep: cannot run /proc/self/exe: %s\n",
				        strerror(errno));
				_exit(LETHE_EXIT_FAILED);
			}
			if (pid < 0) {
				lethe_cli_error("sweep: fork: %s", strerror(errno));
				failed++;
				continue;
			}
			pids[i] = pid;
			running++;
			continue;
		}
		int ws;
		pid_t pid = wait(&ws);
		if (pid < 0)
			break;
		for (size_t i = 0; i < n_seeds; i++)
			if (pids[i] == pid) {
				int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
				if (code)
					failed++;
				printf("seed %llu: %s (exit %d)\n", seeds[i],
				       code ? "failed" : "done", code);
				fflush(stdout);
				pids[i] = 0;
				running--;
			}
	}
	free(pids);
	if (failed) {
		lethe_cli_error(
		    "sweep: %zu of %zu seeds failed; run the sweep again to resume them", failed,
		    n_seeds);
		status = LETHE_EXIT_FAILED;
	} else
		printf("sweep: %zu seeds in %s (lethe compare %s)\n", n_seeds, dir, dir);
free_cur:
	lethe_curriculum_free(cur);
	lethe_registry_free(reg);
free_seeds:
	free(seeds);
done:
	lethe_cli_paths_free(&paths);
	return status;
}
