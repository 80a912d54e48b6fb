/*
 * cmd_run.c: `lethe run`, which validates a curriculum (never training on an invalid one), then
 * trains and evaluates it stage by stage into its run file.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/lethe.h>

#include "cli.h"

static void help(FILE *f)
{
	fprintf(f,
	        "Usage: lethe run [OPTIONS] CURRICULUM\n\n"
	        "Validates CURRICULUM, then trains its stages in order, evaluating every task "
	        "before the\n"
	        "first stage and after each one, and writes everything to the run file (its "
	        "'output').\n"
	        "The run file is replaced atomically after each stage: a killed run keeps every\n"
	        "completed stage, and --resume continues it.\n\n"
	        "  -t, --threads N         threads for training and evaluation (default 1)\n"
	        "  -o, --output FILE       write this run file instead of the curriculum's output\n"
	        "  -f, --force             overwrite an existing run file\n"
	        "  -r, --resume            continue an existing run file after its last completed "
	        "stage\n"
	        "  -q, --quiet             no progress on stderr\n"
	        "  -p, --plugin-path PATH  search PATH for plugins first (repeatable)\n"
	        "  -s, --seed N            the curriculum's seed (initial model and data order) "
	        "replaced by N\n"
	        "      --log FILE          the live log (one record per step and metric, flushed "
	        "as it\n"
	        "                          goes) in FILE instead of OUTPUT.log.jsonl; '' for none\n"
	        "      --log-format F      jsonl (default) or csv\n"
	        "      --deterministic-reduce  under mpirun or srun, sum gradients in rank order\n"
	        "                          (bit-identical repeated runs; docs/distributed.md)\n"
	        "  -h, --help              show this help\n\n"
	        "Exit status: 0 success, 1 the run failed (its file keeps the completed stages),\n"
	        "2 an invalid curriculum or bad usage.\n");
}

int lethe_cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"threads", required_argument, NULL, 't'},
	    {"output", required_argument, NULL, 'o'},
	    {"force", no_argument, NULL, 'f'},
	    {"resume", no_argument, NULL, 'r'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"plugin-path", required_argument, NULL, 'p'},
	    {"seed", required_argument, NULL, 's'},
	    {"log", required_argument, NULL, 'L'},
	    {"log-format", required_argument, NULL, 'F'},
	    {"deterministic-reduce", no_argument, NULL, 'D'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	lethe_cli_paths paths = {0};
	lethe_run_options opt = LETHE_RUN_OPTIONS_INIT;
	const char *output = NULL;
	int c, status = LETHE_EXIT_USAGE, have_seed = 0;
	unsigned long long seed = 0;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":t:o:frqp:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 't': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || !*optarg || v < 1 || v > 64) {
				lethe_cli_error("run: --threads: expected 1 to 64, got '%s'",
				                optarg);
				goto done;
			}
			opt.threads = (int)v;
			break;
		}
		case 'o': output = optarg; break;
		case 's': {
			char *end;
			errno = 0;
			seed = strtoull(optarg, &end, 10);
			if (*end || !*optarg || optarg[0] == '-' || errno) {
				lethe_cli_error(
				    "run: --seed: expected a non-negative integer, got '%s'",
				    optarg);
				goto done;
			}
			have_seed = 1;
			break;
		}
		case 'L': opt.log = optarg; break;
		case 'F':
			if (strcmp(optarg, "jsonl") && strcmp(optarg, "csv")) {
				lethe_cli_error(
				    "run: --log-format: expected jsonl or csv, got '%s'", optarg);
				goto done;
			}
			opt.log_csv = strcmp(optarg, "csv") == 0;
			break;
		case 'D': opt.deterministic_reduce = 1; break;
		case 'f': opt.force = 1; break;
		case 'r': opt.resume = 1; break;
		case 'q': opt.quiet = 1; break;
		case 'p':
			if (lethe_cli_paths_add(&paths, optarg))
				goto done;
			break;
		case 'h':
			help(stdout);
			status = LETHE_EXIT_OK;
			goto done;
		case ':':
			lethe_cli_error("run: option '%s' needs a value", argv[optind - 1]);
			goto done;
		default:
			lethe_cli_error("run: unknown option '%s' (try 'lethe run --help')",
			                argv[optind - 1]);
			goto done;
		}
	}
	if (argc - optind != 1) {
		lethe_cli_error("run: expected one CURRICULUM file");
		goto done;
	}
	if (opt.force && opt.resume) {
		lethe_cli_error("run: --force and --resume exclude each other");
		goto done;
	}
	lethe_registry *reg;
	if (lethe_cli_registry(&reg, &paths, 0)) {
		status = LETHE_EXIT_FAILED;
		goto done;
	}
	lethe_curriculum *cur;
	int rc = lethe_curriculum_load(&cur, argv[optind], reg, 1);
	if (rc == LETHE_ENOMEM) {
		lethe_cli_error("out of memory");
		status = LETHE_EXIT_FAILED;
	} else if (lethe_curriculum_error_count(cur)) {
		size_t n = lethe_curriculum_error_count(cur);
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, "%s\n", lethe_curriculum_error(cur, i));
		lethe_cli_error("%s: %zu error%s: nothing was trained", argv[optind], n,
		                n == 1 ? "" : "s");
		status = LETHE_EXIT_USAGE;
	} else {
		if (have_seed) /* both the initial model's and the data order's */
			lethe_curriculum_set_seed(cur, (uint64_t)seed);
		rc = output ? lethe_curriculum_set_output(cur, output) : 0;
		if (rc == 0)
			rc = lethe_run_curriculum(cur, &opt);
		if (rc) {
			const char *msg = lethe_curriculum_errmsg(cur);
			lethe_cli_error("%s", msg[0] ? msg : lethe_strerror(rc));
			/* Bad input: an existing output, nothing to resume, a run file that
			 * cannot be resumed (malformed, another curriculum, another version). */
			status = rc == LETHE_EEXISTS || rc == LETHE_ENOTFOUND ||
			                 rc == LETHE_EINVAL || rc == LETHE_EPARSE ||
			                 rc == LETHE_EVERSION
			             ? LETHE_EXIT_USAGE
			             : LETHE_EXIT_FAILED;
		} else {
			status = LETHE_EXIT_OK;
		}
	}
	lethe_curriculum_free(cur);
	lethe_registry_free(reg);
done:
	lethe_cli_paths_free(&paths);
	return status;
}
