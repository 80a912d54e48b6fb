/*
 * kit.c: the plugin kit's table (lethe/kit.h) and its file, line and string helpers. Option
 * checking and label maps live in kit_options.c, JSON in kit_json.c; the text primitives they
 * share with the engine (suggestions, quoted lists, growable strings, reading a file, UTF-8) are
 * util/text.c's, so the process holds one copy of each.
 */
#include <stdlib.h>
#include <string.h>

#include <lethe/kit.h>
#include <lethe/plugin.h>

#include "kit.h"
#include "util/text.h"

static int kit_read_file(const lethe_host *host, const char *path, char **data, size_t *len)
{
	lethe_errbuf err = {{0}};
	int rc = lethe_text__read_text(&err, path, data, len);
	if (rc)
		host->error(host->ctx, "%s", err.msg);
	return rc;
}

static void kit_free_data(char *data)
{
	free(data);
}

static void kit_lines_init(lethe_lines *it, const char *data, size_t len)
{
	*it = (lethe_lines){.data = data, .len = len};
}

static int kit_lines_next(lethe_lines *it, const char **line, size_t *line_len)
{
	if (it->pos >= it->len)
		return 0;
	const char *start = it->data + it->pos;
	const char *nl = memchr(start, '\n', it->len - it->pos);
	size_t n = nl ? (size_t)(nl - start) : it->len - it->pos;
	it->pos += n + (nl != NULL);
	it->lineno++;
	if (n > 0 && start[n - 1] == '\r')
		n--;
	*line = start;
	*line_len = n;
	return 1;
}

static size_t kit_split_tabs(const char *line, size_t n, const char **fields, size_t *lens,
                             size_t max)
{
	size_t count = 0, start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || line[i] == '\t') {
			if (count < max) {
				fields[count] = line + start;
				lens[count] = i - start;
			}
			count++;
			start = i + 1;
		}
	}
	return count;
}

static int kit_load_status(const lethe_host *host, const char *path, int rc, size_t n,
                           const char *empty)
{
	if (rc == 0 && n == 0) {
		host->error(host->ctx, "%s: %s", path, empty);
		return LETHE_EPARSE;
	}
	if (rc == LETHE_ENOMEM)
		host->error(host->ctx, "%s: out of memory", path);
	return rc;
}

static int kit_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr(" \t\r\v\f", s[i]) || s[i] == '\0')
			return 0;
	return 1;
}

static const char *kit_trim(const char *s, size_t *n)
{
	while (*n > 0 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\r'))
		s++, (*n)--;
	while (*n > 0 && (s[*n - 1] == ' ' || s[*n - 1] == '\t' || s[*n - 1] == '\r'))
		(*n)--;
	return s;
}

static int kit_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int kit_pool_add(lethe_pool *pool, const char *s, size_t n, size_t *offset)
{
	if (pool->len + n + 1 > pool->cap) {
		size_t cap = pool->cap ? pool->cap : 4096;
		while (cap < pool->len + n + 1)
			cap *= 2;
		char *buf = realloc(pool->buf, cap);
		if (!buf)
			return LETHE_ENOMEM;
		pool->buf = buf;
		pool->cap = cap;
	}
	if (n)
		memcpy(pool->buf + pool->len, s, n);
	pool->buf[pool->len + n] = '\0';
	*offset = pool->len;
	pool->len += n + 1;
	return 0;
}

static void kit_pool_free(lethe_pool *pool)
{
	free(pool->buf);
	*pool = (lethe_pool){0};
}

static int kit_select(void *array, size_t elem_size, const size_t *idx, size_t n)
{
	if (n == 0 || !array)
		return 0;
	unsigned char *copy = malloc(n * elem_size), *a = array;
	if (!copy)
		return LETHE_ENOMEM;
	for (size_t i = 0; i < n; i++)
		memcpy(copy + i * elem_size, a + idx[i] * elem_size, elem_size);
	memcpy(a, copy, n * elem_size);
	free(copy);
	return 0;
}

static const lethe_kit_api kit = {
    .struct_size = sizeof(lethe_kit_api),
    .read_file = kit_read_file,
    .free_data = kit_free_data,
    .lines_init = kit_lines_init,
    .lines_next = kit_lines_next,
    .split_tabs = kit_split_tabs,
    .load_status = kit_load_status,
    .utf8_invalid = lethe_text__utf8_invalid,
    .blank = kit_blank,
    .trim = kit_trim,
    .ends_with = kit_ends_with,
    .buf_add = lethe_buf__add,
    .buf_str = lethe_buf__str,
    .buf_free = lethe_buf__free,
    .pool_add = kit_pool_add,
    .pool_free = kit_pool_free,
    .suggest = lethe_text__suggest,
    .quote_list = lethe_text__quote_list,
    .expected_one_of = lethe_kit__expected_one_of,
    .check_options = lethe_kit__check_options,
    .option_uint = lethe_kit__option_uint,
    .option_enum = lethe_kit__option_enum,
    .option_bool = lethe_kit__option_bool,
    .template_check = lethe_kit__template_check,
    .template_render = lethe_kit__template_render,
    .labels_from_options = lethe_kit__labels_from_options,
    .labels_free = lethe_kit__labels_free,
    .labels_count = lethe_kit__labels_count,
    .labels_keys = lethe_kit__labels_keys,
    .labels_words = lethe_kit__labels_words,
    .labels_find = lethe_kit__labels_find,
    .labels_unknown = lethe_kit__labels_unknown,
    .json_parse = lethe_kit__json_parse,
    .json_free = lethe_kit__json_free,
    .json_type = lethe_kit__json_type,
    .json_get = lethe_kit__json_get,
    .json_first = lethe_kit__json_first,
    .json_next = lethe_kit__json_next,
    .json_size = lethe_kit__json_size,
    .json_key = lethe_kit__json_key,
    .json_string = lethe_kit__json_string,
    .json_number = lethe_kit__json_number,
    .json_bool = lethe_kit__json_bool,
    .json_text = lethe_kit__json_text,
    .select = kit_select,
};

const lethe_kit_api *lethe_kit(void)
{
	return &kit;
}
