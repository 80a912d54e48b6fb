/*
 * kit_json.c: JSON lines for plugins (lethe/kit.h). cJSON stays inside liblethe: a lethe_json
 * handle is a cJSON node, read only through these accessors, so that a plugin links nothing and
 * the parser can change without a plugin noticing.
 */
#include <math.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "kit.h"
#include "util/text.h"

#define NODE(v) ((const cJSON *)(const void *)(v))
#define HANDLE(c) ((const lethe_json *)(const void *)(c))

/* The column of a "\u0000" escape in line[0..len) (1-based), or 0. An escape is a backslash
 * preceded by an even number of backslashes; outside strings JSON has none, so any such escape
 * is inside a string or key, where a C string would end at it. */
static size_t nul_escape(const char *line, size_t len)
{
	for (size_t i = 0; i + 6 <= len; i++) {
		if (line[i] != '\\')
			continue;
		if (memcmp(line + i + 1, "u0000", 5) == 0)
			return i + 1;
		i++; /* skip the escaped character, so "\\u0000" is not an escape */
	}
	return 0;
}

/* The line and column of offset at in text that starts at line lineno (a record may span lines
 * when a whole file is one JSON value). */
static void position(const char *text, size_t at, size_t lineno, size_t *line, size_t *col)
{
	size_t start = 0;
	*line = lineno;
	for (size_t i = 0; i < at; i++)
		if (text[i] == '\n')
			(*line)++, start = i + 1;
	*col = at - start + 1;
}

int lethe_kit__json_parse(const lethe_host *host, const char *path, size_t lineno, const char *text,
                          size_t len, lethe_json **out)
{
	const char *end = NULL;
	size_t line, col;
	*out = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!root) {
		size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
		position(text, at, lineno, &line, &col);
		host->error(host->ctx, "%s:%zu:%zu: invalid JSON", path, line, col);
		return LETHE_EPARSE;
	}
	/* cJSON stops after the first value; anything but whitespace after it is an error. */
	size_t at = (size_t)(end - text);
	while (at < len && text[at] && strchr(" \t\r\n", text[at]))
		at++;
	if (at != len) {
		cJSON_Delete(root);
		position(text, at, lineno, &line, &col);
		host->error(host->ctx, "%s:%zu:%zu: invalid JSON: unexpected text after the value",
		            path, line, col);
		return LETHE_EPARSE;
	}
	if ((at = nul_escape(text, len)) != 0) {
		cJSON_Delete(root);
		position(text, at - 1, lineno, &line, &col);
		host->error(host->ctx,
		            "%s:%zu:%zu: a \\u0000 escape: text cannot hold a NUL character", path,
		            line, col);
		return LETHE_EPARSE;
	}
	*out = (lethe_json *)(void *)root;
	return 0;
}

void lethe_kit__json_free(lethe_json *root)
{
	cJSON_Delete((cJSON *)(void *)root);
}

lethe_json_type lethe_kit__json_type(const lethe_json *v)
{
	const cJSON *c = NODE(v);
	if (!c)
		return LETHE_JSON_NONE;
	if (cJSON_IsNull(c))
		return LETHE_JSON_NULL;
	if (cJSON_IsBool(c))
		return LETHE_JSON_BOOL;
	if (cJSON_IsNumber(c))
		return LETHE_JSON_NUMBER;
	if (cJSON_IsString(c))
		return LETHE_JSON_STRING;
	if (cJSON_IsArray(c))
		return LETHE_JSON_ARRAY;
	if (cJSON_IsObject(c))
		return LETHE_JSON_OBJECT;
	return LETHE_JSON_NONE; /* cJSON_Raw and invalid nodes: never produced by parsing */
}

const lethe_json *lethe_kit__json_get(const lethe_json *object, const char *key)
{
	const cJSON *c = NODE(object);
	return cJSON_IsObject(c) ? HANDLE(cJSON_GetObjectItemCaseSensitive(c, key)) : NULL;
}

const lethe_json *lethe_kit__json_first(const lethe_json *v)
{
	const cJSON *c = NODE(v);
	return cJSON_IsArray(c) || cJSON_IsObject(c) ? HANDLE(c->child) : NULL;
}

const lethe_json *lethe_kit__json_next(const lethe_json *item)
{
	const cJSON *c = NODE(item);
	return c ? HANDLE(c->next) : NULL;
}

size_t lethe_kit__json_size(const lethe_json *v)
{
	const cJSON *c = NODE(v);
	size_t n = 0;
	if (cJSON_IsArray(c) || cJSON_IsObject(c))
		for (const cJSON *i = c->child; i; i = i->next)
			n++;
	return n;
}

const char *lethe_kit__json_key(const lethe_json *member)
{
	const cJSON *c = NODE(member);
	return c ? c->string : NULL;
}

const char *lethe_kit__json_string(const lethe_json *v)
{
	const cJSON *c = NODE(v);
	return cJSON_IsString(c) ? c->valuestring : NULL;
}

int lethe_kit__json_number(const lethe_json *v, double *out)
{
	const cJSON *c = NODE(v);
	if (!cJSON_IsNumber(c))
		return LETHE_EINVAL;
	*out = c->valuedouble;
	return 0;
}

int lethe_kit__json_bool(const lethe_json *v)
{
	const cJSON *c = NODE(v);
	return cJSON_IsBool(c) ? cJSON_IsTrue(c) != 0 : -1;
}

int lethe_kit__json_text(const lethe_json *v, const char *sep, lethe_buf *out)
{
	const cJSON *c = NODE(v);
	out->n = 0;
	if (cJSON_IsString(c))
		return lethe_buf__str(out, c->valuestring);
	if (!cJSON_IsArray(c))
		return LETHE_EPARSE;
	int rc = lethe_buf__add(out, "", 0);
	for (const cJSON *item = c->child; item && rc == 0; item = item->next) {
		if (!cJSON_IsString(item))
			return LETHE_EPARSE;
		if (item != c->child)
			rc = lethe_buf__str(out, sep);
		if (rc == 0)
			rc = lethe_buf__str(out, item->valuestring);
	}
	return rc;
}
