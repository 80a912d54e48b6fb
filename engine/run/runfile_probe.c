/*
 * runfile_probe.c: reads a run file once in a child process before the reader trusts it.
 *
 * Why: Debian 12's libhdf5 (1.10.8) does not check everything it parses. A run file with a
 * damaged global heap makes H5Aread copy past the end of a heap buffer (found by
 * tests/fuzz/fuzz_runfile.c; docs/reliability.md), and such damage sits inside HDF5's own parsing,
 * before any of the reader's class, rank and shape checks can see a value. lethe cannot fix the
 * library, so it contains it: a forked child walks the file through HDF5 exactly as far as the
 * reader will (every object, every attribute, every string dataset and every small dataset), and
 * only a child that finishes lets the reader go on. A child killed by a signal, stopped by a
 * sanitizer or still busy after a time limit means the file is refused with a message, and no
 * library bug ever runs in the process that holds the caller's results.
 *
 * Large numeric datasets (checkpoints) are opened but not read here: their data is one plain
 * read at an address HDF5 bounds by the end of the file, and reading them twice would double the
 * cost of every report.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>

#include "runfile.h"

/* The child's memory beyond what it inherits: a damaged length makes libhdf5 allocate and fill
 * gigabytes for a string (a 237 KB file took 38 s, found by fuzz_runfile); with this bound the
 * allocation fails at once and the library reports an error instead. */
#define PROBE_EXTRA_BYTES ((rlim_t)1 << 30)
/* Datasets up to this many bytes of storage are read in full by the probe. */
#define PROBE_READ_LIMIT ((hsize_t)4 << 20)
/* The probe of a sound file takes milliseconds; a child busy this long is in a loop. */
#define PROBE_SECONDS 120

/* Under libFuzzer and the sanitizers a child's report would be taken for the parent's crash. */
extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

/* Reads an attribute (is_attr) or a dataset whole into native memory and frees it: attributes
 * and string datasets always (what the reader reads), other datasets up to PROBE_READ_LIMIT of
 * storage. */
static void read_whole(hid_t o, int is_attr)
{
	hid_t ft = is_attr ? H5Aget_type(o) : H5Dget_type(o);
	hid_t sp = is_attr ? H5Aget_space(o) : H5Dget_space(o);
	hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
	hid_t mt = ft >= 0 ? H5Tget_native_type(ft, H5T_DIR_DEFAULT) : -1;
	size_t size = mt >= 0 ? H5Tget_size(mt) : 0;
	int wanted = is_attr || (ft >= 0 && H5Tget_class(ft) == H5T_STRING) ||
	             H5Dget_storage_size(o) <= PROBE_READ_LIMIT;
	hsize_t bytes = n >= 0 ? (hsize_t)n * size : 0;
	if (n >= 0 && size > 0 && wanted && bytes <= 16 * PROBE_READ_LIMIT) {
		void *buf = calloc((size_t)n ? (size_t)n : 1, size);
		herr_t rc = !buf      ? -1
		            : is_attr ? H5Aread(o, mt, buf)
		                      : H5Dread(o, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
		if (rc >= 0)
			H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, buf);
		free(buf);
	}
	if (mt >= 0)
		H5Tclose(mt);
	if (ft >= 0)
		H5Tclose(ft);
	if (sp >= 0)
		H5Sclose(sp);
}

static herr_t visit_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
	(void)info;
	(void)data;
	hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
	if (a >= 0) {
		read_whole(a, 1);
		H5Aclose(a);
	}
	return 0;
}

static herr_t visit_object(hid_t root, const char *name, const H5O_info_t *info, void *data)
{
	(void)data;
	hid_t o = H5Oopen(root, name, H5P_DEFAULT);
	if (o < 0)
		return 0;
	hsize_t idx = 0;
	H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, visit_attr, NULL);
	if (info->type == H5O_TYPE_DATASET)
		read_whole(o, 0);
	H5Oclose(o);
	return 0;
}

/* The child: walk the file; any return is a pass (HDF5's own refusals are the reader's to
 * report); only a crash, a sanitizer's stop or a hang fails. */
static void child(const char *path)
{
	static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	if (__sanitizer_set_death_callback)
		__sanitizer_set_death_callback(NULL);
	/* Not under a sanitizer: its shadow memory is address space of its own, which a limit on
	 * the address space would count. */
	FILE *statm = __sanitizer_set_death_callback ? NULL : fopen("/proc/self/statm", "r");
	unsigned long pages = 0;
	if (statm && fscanf(statm, "%lu", &pages) == 1) {
		struct rlimit lim = {0};
		lim.rlim_cur = lim.rlim_max =
		    (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + PROBE_EXTRA_BYTES;
		setrlimit(RLIMIT_AS, &lim);
	}
	if (statm)
		fclose(statm);
	int null = open("/dev/null", O_WRONLY);
	if (null >= 0) {
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
	}
	hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	if (f >= 0) {
		hsize_t idx = 0;
		H5Aiterate2(f, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, visit_attr, NULL);
		H5Ovisit(f, H5_INDEX_NAME, H5_ITER_NATIVE, visit_object, NULL);
		H5Fclose(f);
	}
	_exit(0);
}

static const char *signal_name(int sig)
{
	switch (sig) {
	case SIGSEGV: return ", SIGSEGV";
	case SIGBUS: return ", SIGBUS";
	case SIGFPE: return ", SIGFPE";
	case SIGILL: return ", SIGILL";
	case SIGABRT: return ", SIGABRT";
	default: return "";
	}
}

int lethe_runfile__probe(const char *path, char *why, size_t why_size)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, why_size, "cannot start the check of the file (fork: %s)",
		         strerror(errno));
		return -1;
	}
	if (pid == 0)
		child(path);
	struct timespec start, now, pause = {0, 2000000};
	clock_gettime(CLOCK_MONOTONIC, &start);
	int status = 0;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			snprintf(why, why_size, "the check of the file was lost (waitpid: %s)",
			         strerror(errno));
			return -1;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= PROBE_SECONDS) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			snprintf(
			    why, why_size,
			    "damaged HDF5 structures: libhdf5 was still reading them after %d s",
			    PROBE_SECONDS);
			return -1;
		}
		/* Back off: a sound file is done in milliseconds, a big one in a second or two. */
		nanosleep(&pause, NULL);
		if (pause.tv_nsec < 100000000)
			pause.tv_nsec *= 2;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status))
		snprintf(why, why_size,
		         "damaged HDF5 structures: reading them crashed libhdf5 (signal %d%s) in a "
		         "separate check process; this file cannot be read safely",
		         WTERMSIG(status), signal_name(WTERMSIG(status)));
	else
		snprintf(
		    why, why_size,
		    "damaged HDF5 structures: libhdf5 stopped with status %d while reading them "
		    "in a separate check process; this file cannot be read safely",
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return -1;
}
