/*
 * registry.c: finds, loads and validates task plugins (shared objects exporting
 * lethe_plugin_entry). It does not create task instances (instance.c) nor know any task.
 *
 * The search order is documented once, in lethe.h above lethe_registry_discover(). Every refusal
 * is one line that starts with the file's path, so a user can act on it without a debugger.
 */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stddef.h>

#include <lethe/lethe.h>

#include "util/errbuf.h"

#ifndef LETHE_PLUGINDIR
#error "LETHE_PLUGINDIR must be defined by the build"
#endif

/* The descriptor size of ABI version 1. When lethe_plugin grows, this stays the old size so that
 * plugins built against the older header (same ABI version) keep loading. */
#define DESCRIPTOR_V1_SIZE offsetof(lethe_plugin, primary_stats)

struct entry {
	lethe_plugin_info info;
	lethe_plugin desc; /* copy, zero-filled past the plugin's struct_size */
	void *handle;
	char *path;
	int level;
};

struct lethe_registry {
	struct entry *entries;
	size_t n, cap;
	char **problems;
	size_t n_problems, cap_problems;
	char *searched;   /* where discovery looked, "a, b, c" (lethe_registry_searched()) */
	lethe_errbuf err; /* lethe_registry_errmsg() */
};

/* Appends a place to reg->searched; memory running out only shortens the list. */
static void searched(lethe_registry *reg, const char *place)
{
	size_t old = reg->searched ? strlen(reg->searched) : 0;
	char *v = realloc(reg->searched, old + strlen(place) + 3);
	if (!v)
		return;
	if (old)
		memcpy(v + old, ", ", 3);
	else
		v[0] = '\0';
	strcat(v, place);
	reg->searched = v;
}

const char *lethe_registry_searched(const lethe_registry *reg)
{
	return reg->searched ? reg->searched : "";
}

static int fail(lethe_registry *reg, int code, const char *fmt, ...) LETHE_PRINTF(3, 4);
static int fail(lethe_registry *reg, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	lethe_errbuf__setv(&reg->err, code, fmt, ap);
	va_end(ap);
	return code;
}

int lethe_registry_new(lethe_registry **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : LETHE_ENOMEM;
}

void lethe_registry_free(lethe_registry *reg)
{
	if (!reg)
		return;
	for (size_t i = 0; i < reg->n; i++) {
		dlclose(reg->entries[i].handle);
		free(reg->entries[i].path);
	}
	for (size_t i = 0; i < reg->n_problems; i++)
		free(reg->problems[i]);
	free(reg->problems);
	free(reg->entries);
	free(reg->searched);
	free(reg);
}

const char *lethe_registry_errmsg(const lethe_registry *reg)
{
	return reg->err.msg;
}
size_t lethe_registry_count(const lethe_registry *reg)
{
	return reg->n;
}
size_t lethe_registry_problem_count(const lethe_registry *reg)
{
	return reg->n_problems;
}
const char *lethe_registry_default_dir(void)
{
	return LETHE_PLUGINDIR;
}

const lethe_plugin_info *lethe_registry_at(const lethe_registry *reg, size_t i)
{
	return i < reg->n ? &reg->entries[i].info : NULL;
}

const char *lethe_registry_problem(const lethe_registry *reg, size_t i)
{
	return i < reg->n_problems ? reg->problems[i] : NULL;
}

static struct entry *find_entry(const lethe_registry *reg, const char *name)
{
	for (size_t i = 0; i < reg->n; i++)
		if (strcmp(reg->entries[i].info.name, name) == 0)
			return &reg->entries[i];
	return NULL;
}

/* Other names of bundled plugins, used only when no plugin has the name itself: `sentiment` is a
 * general label classifier (label_field, labels.*), and `classify` says so. */
static const char *const aliases[][2] = {{"classify", "sentiment"}};

const lethe_plugin_info *lethe_registry_find(const lethe_registry *reg, const char *name)
{
	struct entry *e = find_entry(reg, name);
	for (size_t i = 0; !e && name && i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcmp(name, aliases[i][0]) == 0)
			e = find_entry(reg, aliases[i][1]);
	return e ? &e->info : NULL;
}

static int valid_name(const char *name)
{
	if (!name || !*name)
		return 0;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
		      *p == '-'))
			return 0;
	return 1;
}

/* Names the first required operation that is missing, or NULL. */
static const char *missing_op(const lethe_plugin_ops *ops)
{
	if (!ops->create)
		return "create";
	if (!ops->destroy)
		return "destroy";
	if (!ops->load)
		return "load";
	if (!ops->example)
		return "example";
	if (!ops->predict)
		return "predict";
	if (!ops->score)
		return "score";
	return NULL;
}

/* Loads path at a search level; 1 when an earlier level already has the name (shadowed). */
static int load_at(lethe_registry *reg, const char *path, int level)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return fail(reg, errno == ENOENT ? LETHE_ENOTFOUND : LETHE_EIO, "%s: %s", path,
		            strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(reg, LETHE_ELOAD, "%s: not a regular file", path);

	/* dlopen() searches the library path for a name without a slash; a plugin path never means
	 * that. */
	char local[PATH_MAX];
	const char *open_path = path;
	if (!strchr(path, '/')) {
		if ((size_t)snprintf(local, sizeof(local), "./%s", path) >= sizeof(local))
			return fail(reg, LETHE_EINVAL, "%s: path too long", path);
		open_path = local;
	}
	dlerror();
	void *handle = dlopen(open_path, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		const char *why = dlerror();
		return fail(reg, LETHE_ELOAD, "%s: cannot load plugin: %s", path,
		            why ? why : "unknown dlopen error");
	}

	int rc;
	dlerror();
	void *sym = dlsym(handle, LETHE_PLUGIN_ENTRY_SYMBOL);
	if (!sym || dlerror()) {
		rc = fail(reg, LETHE_ELOAD, "%s: not a lethe plugin: no symbol '%s'", path,
		          LETHE_PLUGIN_ENTRY_SYMBOL);
		goto close_handle;
	}
	lethe_plugin_entry_fn entry;
	memcpy(&entry, &sym, sizeof(entry)); /* ISO C forbids casting object to function pointers */
	const lethe_plugin *desc = entry();
	if (!desc) {
		rc = fail(reg, LETHE_ELOAD, "%s: %s() returned NULL", path,
		          LETHE_PLUGIN_ENTRY_SYMBOL);
		goto close_handle;
	}
	if (desc->abi_version != LETHE_PLUGIN_ABI_VERSION) {
		rc = fail(
		    reg, LETHE_EVERSION,
		    "%s: plugin built for ABI version %u, but this lethe supports ABI version %u",
		    path, (unsigned)desc->abi_version, (unsigned)LETHE_PLUGIN_ABI_VERSION);
		goto close_handle;
	}
	if (desc->struct_size < DESCRIPTOR_V1_SIZE) {
		rc = fail(reg, LETHE_EVERSION,
		          "%s: plugin descriptor is %u bytes, smaller than the %zu bytes of ABI "
		          "version %u",
		          path, (unsigned)desc->struct_size, DESCRIPTOR_V1_SIZE,
		          (unsigned)LETHE_PLUGIN_ABI_VERSION);
		goto close_handle;
	}
	if (!valid_name(desc->name)) {
		rc = fail(reg, LETHE_ELOAD, "%s: plugin name '%s' is invalid: expected [a-z0-9_-]+",
		          path, desc->name ? desc->name : "(null)");
		goto close_handle;
	}
	const char *missing = missing_op(&desc->ops);
	if (missing) {
		rc = fail(reg, LETHE_ELOAD, "%s: plugin '%s' lacks the required operation '%s'",
		          path, desc->name, missing);
		goto close_handle;
	}
	struct entry *twin = find_entry(reg, desc->name);
	if (twin && twin->level == level) {
		rc = fail(reg, LETHE_EEXISTS, "%s: plugin name '%s' is already taken by %s", path,
		          desc->name, twin->path);
		goto close_handle;
	}
	if (twin) {
		rc = 1;
		goto close_handle;
	}

	if (reg->n == reg->cap) {
		size_t cap = reg->cap ? 2 * reg->cap : 8;
		struct entry *entries = realloc(reg->entries, cap * sizeof(*entries));
		if (!entries) {
			rc = fail(reg, LETHE_ENOMEM, "out of memory");
			goto close_handle;
		}
		/* info.plugin points into the entry itself: re-aim after the move. */
		for (size_t i = 0; i < reg->n; i++)
			entries[i].info.plugin = &entries[i].desc;
		reg->entries = entries;
		reg->cap = cap;
	}
	struct entry *e = &reg->entries[reg->n];
	memset(e, 0, sizeof(*e));
	memcpy(&e->desc, desc,
	       desc->struct_size < sizeof(e->desc) ? desc->struct_size : sizeof(e->desc));
	e->path = strdup(path);
	if (!e->path) {
		rc = fail(reg, LETHE_ENOMEM, "out of memory");
		goto close_handle;
	}
	e->handle = handle;
	e->level = level;
	e->info = (lethe_plugin_info){
	    .name = e->desc.name,
	    .version = e->desc.version ? e->desc.version : "",
	    .description = e->desc.description ? e->desc.description : "",
	    .path = e->path,
	    .plugin = &e->desc,
	};
	reg->n++;
	return 0;

close_handle:
	dlclose(handle);
	return rc;
}

int lethe_registry_load(lethe_registry *reg, const char *path)
{
	int rc = load_at(reg, path, 0);
	return rc > 0 ? 0 : rc;
}

static int add_problem(lethe_registry *reg, const char *msg)
{
	if (reg->n_problems == reg->cap_problems) {
		size_t cap = reg->cap_problems ? 2 * reg->cap_problems : 8;
		char **p = realloc(reg->problems, cap * sizeof(*p));
		if (!p)
			return LETHE_ENOMEM;
		reg->problems = p;
		reg->cap_problems = cap;
	}
	if (!(reg->problems[reg->n_problems] = strdup(msg)))
		return LETHE_ENOMEM;
	reg->n_problems++;
	return 0;
}

/* Loads path at level; a refusal becomes a problem. Only running out of memory is an error. */
static int try_load(lethe_registry *reg, const char *path, int level)
{
	int rc = load_at(reg, path, level);
	if (rc == LETHE_ENOMEM)
		return rc;
	return rc < 0 ? add_problem(reg, reg->err.msg) : 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n > k && strcmp(s + n - k, suffix) == 0;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int is_plugin_file(const char *name)
{
	return ends_with(name, ".so");
}
static int is_visible(const char *name)
{
	return name[0] != '.';
}

/* The names in dir that keep() accepts, sorted so that loading (and its refusals) is
 * deterministic. An absent directory yields no names: on a search path that is normal. */
static int list_dir(const char *dir, int (*keep)(const char *), char ***out, size_t *n_out)
{
	*out = NULL;
	*n_out = 0;
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!keep(de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			char **p = realloc(names, cap * sizeof(*p));
			if (!p)
				goto nomem;
			names = p;
		}
		if (!(names[n] = strdup(de->d_name)))
			goto nomem;
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), by_name);
	*out = names;
	*n_out = n;
	return 0;
nomem:
	closedir(d);
	free_names(names, n);
	return LETHE_ENOMEM;
}

static int scan_dir(lethe_registry *reg, const char *dir, int level)
{
	char **names;
	size_t n;
	int rc = list_dir(dir, is_plugin_file, &names, &n);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char path[PATH_MAX];
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) < sizeof(path))
			rc = try_load(reg, path, level);
	}
	free_names(names, n);
	return rc;
}

/* A plugin file, a directory to scan, or a problem when the path does not exist. */
static int add_path(lethe_registry *reg, const char *path, int level, int must_exist)
{
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return scan_dir(reg, path, level);
	if (!must_exist && stat(path, &st) != 0)
		return 0;
	return try_load(reg, path, level);
}

/* The root of the build tree the running lethe lives in, or 0 when it is an installed copy.
 * In a build tree the program is engine/lethe or, behind libtool's wrapper, engine/.libs/lethe
 * (and tests/... likewise); configure leaves config.status at the root. */
static int build_tree_root(char *root, size_t size)
{
	char exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len <= 0)
		return 0;
	exe[len] = '\0';
	for (int up = 0; up < 3; up++) {
		char *slash = strrchr(exe, '/');
		if (!slash)
			return 0;
		*slash = '\0';
		if (up == 0)
			continue;
		char probe[PATH_MAX];
		if ((size_t)snprintf(probe, sizeof(probe), "%s/config.status", exe) >=
		    sizeof(probe))
			return 0;
		if (access(probe, F_OK) == 0) {
			if ((size_t)snprintf(root, size, "%s", exe) >= size)
				return 0;
			return 1;
		}
	}
	return 0;
}

/* The bundled plugins of a build tree: plugins/<name>/.libs/<name>.so, all one search level. */
static int scan_build_tree(lethe_registry *reg, const char *root, int level)
{
	char plugins[PATH_MAX];
	if ((size_t)snprintf(plugins, sizeof(plugins), "%s/plugins", root) >= sizeof(plugins))
		return 0;
	char **names;
	size_t n;
	int rc = list_dir(plugins, is_visible, &names, &n);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char dir[PATH_MAX];
		if ((size_t)snprintf(dir, sizeof(dir), "%s/%s/.libs", plugins, names[i]) <
		    sizeof(dir))
			rc = scan_dir(reg, dir, level);
	}
	free_names(names, n);
	return rc;
}

int lethe_registry_discover(lethe_registry *reg, const char *const *paths, size_t n_paths)
{
	int rc, level = 0;
	for (size_t i = 0; i < n_paths; i++) {
		searched(reg, paths[i]);
		if ((rc = add_path(reg, paths[i], level, 1)) != 0)
			return rc;
	}

	const char *env = getenv("LETHE_PLUGIN_PATH");
	if (env && *env) {
		char *copy = strdup(env);
		if (!copy)
			return LETHE_ENOMEM;
		char *save = NULL;
		for (char *dir = strtok_r(copy, ":", &save); dir;
		     dir = strtok_r(NULL, ":", &save)) {
			searched(reg, dir);
			if ((rc = add_path(reg, dir, ++level, 0)) != 0) {
				free(copy);
				return rc;
			}
		}
		free(copy);
	}

	char root[PATH_MAX];
	if (build_tree_root(root, sizeof(root))) {
		char place[PATH_MAX + 32];
		snprintf(place, sizeof(place), "%s/plugins/*/.libs", root);
		searched(reg, place);
		return scan_build_tree(reg, root, ++level);
	}
	searched(reg, LETHE_PLUGINDIR);
	return scan_dir(reg, LETHE_PLUGINDIR, ++level);
}
