/*
 * enospc.c: a full disk for the fault tests (faults.py), injected with LD_PRELOAD rather than a
 * small tmpfs (CI may not allow mounts). Only writes to files whose name ends in ".tmp" are
 * counted: once LETHE_ENOSPC_BYTES bytes have gone to them, write() and pwrite() fail with
 * ENOSPC, as a full disk does; with LETHE_ENOSPC_FSYNC set, fsync() of such a file fails with
 * ENOSPC too (where stdio's buffered writes, which do not pass through the PLT, meet the disk).
 * Everything else is passed to the C library unchanged. A test helper, never installed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

static long long budget = -2; /* -2: not read yet; -1: no limit */
static long long used;

static int counted(int fd)
{
	char link[64], path[4096];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	if (n <= 4)
		return 0;
	path[n] = '\0';
	return strcmp(path + n - 4, ".tmp") == 0;
}

/* Whether a write of n bytes to fd must fail; counts it otherwise. */
static int full(int fd, size_t n)
{
	if (budget == -2) {
		const char *v = getenv("LETHE_ENOSPC_BYTES");
		budget = v && *v ? atoll(v) : -1;
	}
	if (budget < 0 || !counted(fd))
		return 0;
	if (used + (long long)n > budget) {
		errno = ENOSPC;
		return 1;
	}
	used += (long long)n;
	return 0;
}

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	static ssize_t (*real)(int, const void *, size_t);
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "write");
	return full(fd, n) ? -1 : real(fd, buf, n);
}

EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "pwrite");
	return full(fd, n) ? -1 : real(fd, buf, n, off);
}

EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "pwrite64");
	return full(fd, n) ? -1 : real(fd, buf, n, off);
}

EXPORT int fsync(int fd)
{
	static int (*real)(int);
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "fsync");
	const char *v = getenv("LETHE_ENOSPC_FSYNC");
	if (v && *v && counted(fd)) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd);
}
