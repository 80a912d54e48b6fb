/*
 * output.c: the files the command writes besides run files (reports, comparisons): written to a
 * temporary file in the same directory, flushed to disk and renamed over the target only when
 * complete, so a failed write never leaves half a report, and never over one of the inputs or
 * over something that is not a regular file (`lethe report -o r.h5 r.h5` used to replace the run
 * file with its own report).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int lethe_cli_out_open(lethe_cli_out *o, const char *path, const char *const *inputs, int n_inputs)
{
	*o = (lethe_cli_out){stdout, NULL, NULL};
	if (!path)
		return 0;
	*o = (lethe_cli_out){NULL, NULL, NULL}; /* a refused output gets nothing, not stdout */
	struct stat out, in;
	if (stat(path, &out) == 0) {
		if (!S_ISREG(out.st_mode)) {
			lethe_cli_error(
			    "%s: not a regular file: the output must be a file or not exist", path);
			return -1;
		}
		for (int i = 0; i < n_inputs; i++)
			if (stat(inputs[i], &in) == 0 && in.st_dev == out.st_dev &&
			    in.st_ino == out.st_ino) {
				lethe_cli_error("%s: is also an input: the output would destroy it",
				                path);
				return -1;
			}
	}
	size_t n = strlen(path) + 32;
	o->path = strdup(path);
	o->tmp = malloc(n);
	if (!o->path || !o->tmp) {
		lethe_cli_error("out of memory");
		goto fail;
	}
	snprintf(o->tmp, n, "%s.%ld.tmp", path, (long)getpid()); /* unique per process */
	int fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || !(o->f = fdopen(fd, "w"))) {
		lethe_cli_error("%s: cannot write: %s", o->tmp, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(o->tmp);
		}
		goto fail;
	}
	return 0;
fail:
	free(o->path);
	free(o->tmp);
	*o = (lethe_cli_out){NULL, NULL, NULL};
	return -1;
}

int lethe_cli_out_close(lethe_cli_out *o, int ok)
{
	if (!o->f)
		return -1;
	if (!o->tmp) /* standard output */
		return fflush(o->f) == 0 && ok ? 0 : -1;
	int rc = ok && fflush(o->f) == 0 && fsync(fileno(o->f)) == 0 ? 0 : -1;
	if (fclose(o->f) != 0)
		rc = -1;
	if (rc == 0 && rename(o->tmp, o->path) != 0) {
		lethe_cli_error("%s: cannot replace: %s", o->path, strerror(errno));
		rc = -1;
	} else if (rc != 0 && ok)
		lethe_cli_error("%s: writing failed: %s", o->path, strerror(errno));
	if (rc != 0)
		unlink(o->tmp);
	free(o->tmp);
	free(o->path);
	*o = (lethe_cli_out){NULL, NULL, NULL};
	return rc;
}
