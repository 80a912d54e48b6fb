/*
 * lethe/common.h: what the engine and plugins share: error codes, data splits and the export macro.
 * It declares no functions; plugin.h and lethe.h include it.
 */
#ifndef LETHE_COMMON_H
#define LETHE_COMMON_H

#if defined(__GNUC__) && __GNUC__ >= 4
#define LETHE_EXPORT __attribute__((visibility("default")))
#else
#define LETHE_EXPORT
#endif

#if defined(__GNUC__)
#define LETHE_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define LETHE_PRINTF(fmt, args)
#endif

/* Fallible calls return 0 on success or one of these; the detail is on the handle that failed
 * (or, inside a plugin, was handed to the host's error service). Values never change. */
enum lethe_error {
	LETHE_OK = 0,
	LETHE_ENOMEM = -1,       /* out of memory */
	LETHE_EINVAL = -2,       /* invalid argument or option */
	LETHE_EPARSE = -3,       /* malformed input (file, line, column in the message) */
	LETHE_EIO = -4,          /* reading or writing a file failed */
	LETHE_EVERSION = -5,     /* incompatible ABI or format version */
	LETHE_ENOTFOUND = -6,    /* no such plugin, file, task or key */
	LETHE_ELOAD = -7,        /* a plugin could not be loaded */
	LETHE_EEXISTS = -8,      /* a name is already taken */
	LETHE_ENUMERIC = -9,     /* a non-finite value where a finite one was required */
	LETHE_EUNSUPPORTED = -10 /* the operation is not supported (a NULL plugin slot) */
};

/* The data splits a task can load. */
typedef enum lethe_split {
	LETHE_SPLIT_TRAIN = 0,
	LETHE_SPLIT_EVAL = 1,
	LETHE_SPLIT_COUNT = 2
} lethe_split;

#endif
