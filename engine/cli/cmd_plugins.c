/*
 * cmd_plugins.c: `lethe plugins`, the list of task plugins found on the search path, and the
 * refusals met on the way.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

static void help(FILE *f)
{
	fprintf(f,
	        "Usage: lethe plugins [--plugin-path PATH]... [--json]\n\n"
	        "Lists every task plugin found, in search order: each --plugin-path (a plugin file "
	        "or a\n"
	        "directory), then the directories of LETHE_PLUGIN_PATH, then %s\n"
	        "(or the bundled plugins when run from a build tree). Plugin files that cannot be "
	        "loaded\n"
	        "are reported on stderr, and the exit status is then 2.\n\n"
	        "  -p, --plugin-path PATH  search PATH first (repeatable)\n"
	        "      --json              one JSON object per plugin, one per line\n"
	        "  -h, --help              show this help\n",
	        lethe_registry_default_dir());
}

int lethe_cmd_plugins(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"plugin-path", required_argument, NULL, 'p'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	lethe_cli_paths paths = {0};
	int json = 0, c, status = LETHE_EXIT_USAGE;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":p:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (lethe_cli_paths_add(&paths, optarg)) {
				lethe_cli_error("out of memory");
				goto done;
			}
			break;
		case 'j': json = 1; break;
		case 'h':
			help(stdout);
			status = LETHE_EXIT_OK;
			goto done;
		case ':':
			lethe_cli_error("plugins: option '%s' needs a value", argv[optind - 1]);
			goto done;
		default:
			lethe_cli_error("plugins: unknown option '%s' (try 'lethe plugins --help')",
			                argv[optind - 1]);
			goto done;
		}
	}
	if (optind < argc) {
		lethe_cli_error("plugins: unexpected argument '%s'", argv[optind]);
		goto done;
	}

	lethe_registry *reg;
	if (lethe_cli_registry(&reg, &paths, 1)) {
		status = LETHE_EXIT_FAILED;
		goto done;
	}
	for (size_t i = 0; i < lethe_registry_count(reg); i++) {
		const lethe_plugin_info *p = lethe_registry_at(reg, i);
		if (json) {
			cJSON *o = cJSON_CreateObject();
			char *text = NULL;
			if (o && cJSON_AddStringToObject(o, "name", p->name) &&
			    cJSON_AddStringToObject(o, "version", p->version) &&
			    cJSON_AddStringToObject(o, "path", p->path) &&
			    cJSON_AddStringToObject(o, "description", p->description))
				text = cJSON_PrintUnformatted(o);
			if (text)
				puts(text);
			free(text);
			cJSON_Delete(o);
		} else {
			printf("%-12s %-8s %s\n%12s %s\n", p->name, p->version, p->path, "",
			       p->description);
		}
	}
	status = lethe_registry_problem_count(reg) ? LETHE_EXIT_USAGE : LETHE_EXIT_OK;
	if (!json && lethe_registry_count(reg) == 0)
		lethe_cli_error("no plugins found");
	lethe_registry_free(reg);
done:
	lethe_cli_paths_free(&paths);
	return status;
}
