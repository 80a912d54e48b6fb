/*
 * error.c: names of the error codes. Detailed messages live on the handles that failed
 * (registry, instance, ...); this file only maps a code to a short phrase.
 */
#include <lethe/lethe.h>

const char *lethe_strerror(int code)
{
	switch (code) {
	case LETHE_OK: return "success";
	case LETHE_ENOMEM: return "out of memory";
	case LETHE_EINVAL: return "invalid argument";
	case LETHE_EPARSE: return "malformed input";
	case LETHE_EIO: return "input/output error";
	case LETHE_EVERSION: return "incompatible version";
	case LETHE_ENOTFOUND: return "not found";
	case LETHE_ELOAD: return "plugin could not be loaded";
	case LETHE_EEXISTS: return "name already taken";
	case LETHE_ENUMERIC: return "non-finite value";
	case LETHE_EUNSUPPORTED: return "operation not supported";
	default: return "unknown error";
	}
}
