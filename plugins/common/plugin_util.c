/*
 * plugin_util.c: see plugin_util.h. Nothing task-specific lives here.
 */
#include "plugin_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reading stops at the first NUL byte, so that /dev/zero or a binary file is refused at once
 * instead of filling memory; every reader here takes text, where a NUL would silently cut a
 * field short (C strings). */
#define READ_MAX ((size_t)2 << 30)

int lethe_pu_read_file(const lethe_host *host, const char *path, char **data, size_t *len)
{
	*data = NULL;
	*len = 0;
	FILE *f = fopen(path, "rb");
	if (!f) {
		host->error(host->ctx, "%s: cannot open: %s", path, strerror(errno));
		return errno == ENOENT ? LETHE_ENOTFOUND : LETHE_EIO;
	}
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	if (!buf)
		goto nomem;
	for (;;) {
		if (n + 1 >= cap) {
			if (cap >= READ_MAX) {
				host->error(host->ctx,
				            "%s: larger than 2 GiB: not a data file lethe reads",
				            path);
				free(buf);
				fclose(f);
				return LETHE_EPARSE;
			}
			char *p = realloc(buf, cap *= 2);
			if (!p)
				goto nomem;
			buf = p;
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		const char *nul = got ? memchr(buf + n, '\0', got) : NULL;
		n += got;
		if (nul) {
			size_t at = (size_t)(nul - buf), line = 1, col = 1;
			for (size_t i = 0; i < at; i++, col++)
				if (buf[i] == '\n')
					line++, col = 0;
			host->error(
			    host->ctx,
			    "%s:%zu:%zu: a NUL byte: a text file cannot hold one (is this a binary "
			    "file?)",
			    path, line, col);
			free(buf);
			fclose(f);
			return LETHE_EPARSE;
		}
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		host->error(host->ctx, "%s: read error: %s", path, strerror(errno));
		free(buf);
		fclose(f);
		return LETHE_EIO;
	}
	fclose(f);
	/* A UTF-8 byte-order mark is not text: drop it, as the YAML and JSON readers do. */
	if (n >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
		memmove(buf, buf + 3, n - 3);
		n -= 3;
	}
	if (n == 0) {
		host->error(host->ctx, "%s: file is empty", path);
		free(buf);
		return LETHE_EPARSE;
	}
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
nomem:
	free(buf);
	fclose(f);
	host->error(host->ctx, "%s: out of memory", path);
	return LETHE_ENOMEM;
}

void lethe_pu_lines_init(lethe_pu_lines *it, const char *data, size_t len)
{
	*it = (lethe_pu_lines){.data = data, .len = len};
}

int lethe_pu_lines_next(lethe_pu_lines *it, const char **line, size_t *line_len)
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

size_t lethe_pu_utf8_invalid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t k;
		unsigned min, cp;
		if (c >= 0xC2 && c <= 0xDF)
			k = 1, min = 0x80, cp = c & 0x1F;
		else if (c >= 0xE0 && c <= 0xEF)
			k = 2, min = 0x800, cp = c & 0x0F;
		else if (c >= 0xF0 && c <= 0xF4)
			k = 3, min = 0x10000, cp = c & 0x07;
		else
			return i;
		for (size_t j = 1; j <= k; j++) {
			if (i + j >= n || (s[i + j] & 0xC0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + j] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return i;
		i += k + 1;
	}
	return (size_t)-1;
}

int lethe_pu_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr(" \t\r\v\f", s[i]) || s[i] == '\0')
			return 0;
	return 1;
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return (size_t)-1;
	size_t row[65];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			if (up + 1 < best)
				best = up + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const char *lethe_pu_suggest(const char *word, const char *const *candidates)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1;
	for (size_t i = 0; candidates[i]; i++) {
		size_t d = edit_distance(word, candidates[i]);
		if (d < best_d) {
			best_d = d;
			best = candidates[i];
		}
	}
	size_t limit = strlen(word) / 3 + 1;
	return best_d <= limit ? best : NULL;
}

int lethe_pu_check_options(const lethe_host *host, const char *plugin, const lethe_option *options,
                           size_t n_options, const char *const *known)
{
	for (size_t i = 0; i < n_options; i++) {
		char head[128];
		size_t n = strcspn(options[i].key, ".");
		if (n >= sizeof(head))
			n = sizeof(head) - 1;
		memcpy(head, options[i].key, n);
		head[n] = '\0';
		int found = 0;
		for (size_t k = 0; known[k] && !found; k++)
			found = strcmp(head, known[k]) == 0;
		if (found)
			continue;
		const char *near = lethe_pu_suggest(head, known);
		if (near)
			host->error(host->ctx,
			            "%s: plugin '%s' has no option '%s' (did you mean '%s'?)",
			            options[i].where, plugin, head, near);
		else
			host->error(host->ctx, "%s: plugin '%s' has no option '%s'",
			            options[i].where, plugin, head);
		return LETHE_EINVAL;
	}
	return 0;
}

int lethe_pu_option_uint(const lethe_host *host, const lethe_option *option, unsigned long min,
                         unsigned long max, unsigned long *out)
{
	const char *s = option->value;
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || *s == '-' || *s == '+' || errno || v < min || v > max) {
		host->error(host->ctx,
		            "%s: option '%s': expected an integer from %lu to %lu, got '%s'",
		            option->where, option->key, min, max, s);
		return LETHE_EINVAL;
	}
	*out = v;
	return 0;
}

void lethe_pu_quote_list(const char *const *names, char *buf, size_t size)
{
	buf[0] = '\0';
	for (int i = 0; names[i]; i++) {
		size_t used = strlen(buf);
		snprintf(buf + used, size - used, "%s'%s'", i ? ", " : "", names[i]);
	}
}

int lethe_pu_option_enum(const lethe_host *host, const lethe_option *option,
                         const char *const *values, int *out)
{
	for (int i = 0; values[i]; i++)
		if (strcmp(option->value, values[i]) == 0) {
			*out = i;
			return 0;
		}
	char list[256];
	lethe_pu_quote_list(values, list, sizeof(list));
	const char *near = lethe_pu_suggest(option->value, values);
	if (near)
		host->error(host->ctx,
		            "%s: option '%s': expected one of %s, got '%s' (did you mean '%s'?)",
		            option->where, option->key, list, option->value, near);
	else
		host->error(host->ctx, "%s: option '%s': expected one of %s, got '%s'",
		            option->where, option->key, list, option->value);
	return LETHE_EINVAL;
}

int lethe_pu_option_bool(const lethe_host *host, const lethe_option *option, int *out)
{
	static const char *const values[] = {"false", "true", NULL};
	return lethe_pu_option_enum(host, option, values, out);
}

int lethe_pu_pool_add(lethe_pu_pool *pool, const char *s, size_t n, size_t *offset)
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

void lethe_pu_pool_free(lethe_pu_pool *pool)
{
	free(pool->buf);
	*pool = (lethe_pu_pool){0};
}

int lethe_pu_json_parse(const lethe_host *host, const char *path, size_t lineno, const char *line,
                        size_t len, cJSON **out)
{
	const char *end = NULL;
	*out = cJSON_ParseWithLengthOpts(line, len, &end, 0);
	if (*out) {
		/* cJSON stops after the first value; anything but whitespace after it is an error.
		 */
		size_t at = (size_t)(end - line);
		while (at < len && strchr(" \t\r", line[at]) && line[at])
			at++;
		if (at == len)
			return 0;
		cJSON_Delete(*out);
		*out = NULL;
		host->error(host->ctx, "%s:%zu:%zu: invalid JSON: unexpected text after the value",
		            path, lineno, at + 1);
		return LETHE_EPARSE;
	}
	size_t col = end && end >= line && end <= line + len ? (size_t)(end - line) + 1 : 1;
	host->error(host->ctx, "%s:%zu:%zu: invalid JSON", path, lineno, col);
	return LETHE_EPARSE;
}

int lethe_pu_buf_add(lethe_pu_buf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *p = realloc(b->s, cap);
		if (!p)
			return LETHE_ENOMEM;
		b->s = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
	return 0;
}

int lethe_pu_buf_str(lethe_pu_buf *b, const char *s)
{
	return lethe_pu_buf_add(b, s, strlen(s));
}

void lethe_pu_buf_free(lethe_pu_buf *b)
{
	free(b->s);
	*b = (lethe_pu_buf){0};
}

/* Walks tmpl; for each "{name}" calls on_name (when not NULL). Returns 0, or -1 with *bad set
 * to the offending offset (an unmatched brace). */
static int scan_template(const char *tmpl, const char *const *names, const char *const *values,
                         lethe_pu_buf *out, size_t *bad, const char **unknown, size_t *unknown_len)
{
	for (const char *p = tmpl; *p;) {
		if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
			if (out && lethe_pu_buf_add(out, p, 1))
				return LETHE_ENOMEM;
			p += 2;
		} else if (*p == '{') {
			const char *end = strchr(p, '}');
			if (!end) {
				*bad = (size_t)(p - tmpl);
				return -1;
			}
			size_t len = (size_t)(end - p - 1);
			int found = -1;
			for (int i = 0; names[i] && found < 0; i++)
				if (strlen(names[i]) == len && memcmp(names[i], p + 1, len) == 0)
					found = i;
			if (found < 0) {
				*unknown = p + 1;
				*unknown_len = len;
				*bad = (size_t)(p - tmpl);
				return -1;
			}
			if (out && lethe_pu_buf_str(out, values[found]))
				return LETHE_ENOMEM;
			p = end + 1;
		} else if (*p == '}') {
			*bad = (size_t)(p - tmpl);
			return -1;
		} else {
			size_t k = strcspn(p, "{}");
			if (out && lethe_pu_buf_add(out, p, k))
				return LETHE_ENOMEM;
			p += k;
		}
	}
	return 0;
}

int lethe_pu_template_check(const lethe_host *host, const lethe_option *option,
                            const char *const *names)
{
	size_t bad = 0, unknown_len = 0;
	const char *unknown = NULL;
	if (scan_template(option->value, names, NULL, NULL, &bad, &unknown, &unknown_len) == 0)
		return 0;
	char list[256] = "";
	for (int i = 0; names[i]; i++) {
		size_t used = strlen(list);
		snprintf(list + used, sizeof(list) - used, "%s{%s}", i ? ", " : "", names[i]);
	}
	if (unknown)
		host->error(host->ctx,
		            "%s: option '%s': unknown placeholder '{%.*s}' (expected %s)",
		            option->where, option->key, (int)unknown_len, unknown, list);
	else
		host->error(host->ctx,
		            "%s: option '%s': unmatched brace at character %zu (write '{{' or '}}' "
		            "for a brace)",
		            option->where, option->key, bad + 1);
	return LETHE_EINVAL;
}

int lethe_pu_template_render(lethe_pu_buf *out, const char *tmpl, const char *const *names,
                             const char *const *values)
{
	size_t bad;
	const char *unknown = NULL;
	size_t unknown_len;
	int rc = scan_template(tmpl, names, values, out, &bad, &unknown, &unknown_len);
	return rc < 0 && rc != LETHE_ENOMEM ? LETHE_EINVAL : rc;
}

size_t lethe_pu_split_tabs(const char *line, size_t n, const char **fields, size_t *lens,
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

const char *lethe_pu_trim(const char *s, size_t *n)
{
	while (*n > 0 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\r'))
		s++, (*n)--;
	while (*n > 0 && (s[*n - 1] == ' ' || s[*n - 1] == '\t' || s[*n - 1] == '\r'))
		(*n)--;
	return s;
}

int lethe_pu_json_text(const cJSON *v, const char *sep, lethe_pu_buf *out)
{
	out->n = 0;
	if (cJSON_IsString(v))
		return lethe_pu_buf_str(out, v->valuestring);
	if (!cJSON_IsArray(v))
		return LETHE_EPARSE;
	const cJSON *item;
	int first = 1, rc = lethe_pu_buf_add(out, "", 0);
	cJSON_ArrayForEach(item, v)
	{
		if (!cJSON_IsString(item))
			return LETHE_EPARSE;
		if ((!first && (rc = lethe_pu_buf_str(out, sep))) ||
		    (rc = lethe_pu_buf_str(out, item->valuestring)))
			return rc;
		first = 0;
	}
	return rc;
}

int lethe_pu_load_status(const lethe_host *host, const char *path, int rc, size_t n,
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

int lethe_pu_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

int lethe_pu_select(void *array, size_t elem_size, const size_t *idx, size_t n)
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
