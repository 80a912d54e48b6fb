/*
 * yaml.c: builds the tree of yaml.h from libyaml's event stream. libyaml does the YAML (block and
 * flow styles, quoting, escapes); this file only keeps positions and refuses what a curriculum
 * has no use for (aliases, several documents).
 */
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include <lethe/lethe.h>

#include "yaml.h"

void lethe_yaml_free(lethe_ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++) {
		if (n->keys)
			lethe_yaml_free(n->keys[i]);
		lethe_yaml_free(n->items[i]);
	}
	free(n->keys);
	free(n->items);
	free(n->value);
	free(n);
}

const lethe_ynode *lethe_yaml_get(const lethe_ynode *map, const char *key)
{
	if (!map || map->type != LETHE_YMAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (map->keys[i]->type == LETHE_YSCALAR && strcmp(map->keys[i]->value, key) == 0)
			return map->items[i];
	return NULL;
}

static lethe_ynode *new_node(lethe_ynode_type type, const yaml_mark_t *mark)
{
	lethe_ynode *n = calloc(1, sizeof(*n));
	if (n) {
		n->type = type;
		n->line = (int)mark->line + 1;
		n->col = (int)mark->column + 1;
	}
	return n;
}

/* Appends child (and key, for maps) to parent. */
static int append(lethe_ynode *parent, lethe_ynode *key, lethe_ynode *child)
{
	lethe_ynode **items = realloc(parent->items, (parent->n + 1) * sizeof(*items));
	if (!items)
		return LETHE_ENOMEM;
	parent->items = items;
	if (parent->type == LETHE_YMAP) {
		lethe_ynode **keys = realloc(parent->keys, (parent->n + 1) * sizeof(*keys));
		if (!keys)
			return LETHE_ENOMEM;
		parent->keys = keys;
		keys[parent->n] = key;
	}
	items[parent->n++] = child;
	return 0;
}

#define MAX_DEPTH 64

void lethe_yaml_clear(lethe_yaml *y)
{
	lethe_yaml_free(y->root);
	y->root = NULL;
}

/* Records a failure at a 1-based position and returns LETHE_EPARSE. */
static int fail_at(lethe_yaml *y, size_t line, size_t col, const char *msg)
{
	y->line = (int)line;
	y->col = (int)col;
	return lethe_errbuf__set(&y->err, LETHE_EPARSE, "%s", msg);
}

/* A YAML tag (`!!str 2`, `!!binary ...`, `!foo`) would change what a value means, and lethe
 * reads every value by the key it sits under, so a tag anywhere is refused rather than ignored
 * (`steps: !!str 2` used to read as the number 2). Quote a value to make it a string. */
static int refuse_tag(lethe_yaml *y, const yaml_event_t *ev)
{
	const yaml_char_t *tag = NULL;
	if (ev->type == YAML_SCALAR_EVENT)
		tag = ev->data.scalar.tag;
	else if (ev->type == YAML_SEQUENCE_START_EVENT)
		tag = ev->data.sequence_start.tag;
	else if (ev->type == YAML_MAPPING_START_EVENT)
		tag = ev->data.mapping_start.tag;
	if (!tag)
		return 0;
	const char *core = "tag:yaml.org,2002:", *shown = (const char *)tag;
	int bang = strncmp(shown, core, strlen(core)) == 0;
	if (bang)
		shown += strlen(core);
	y->line = (int)ev->start_mark.line + 1;
	y->col = (int)ev->start_mark.column + 1;
	return lethe_errbuf__set(&y->err, LETHE_EPARSE,
	                         "YAML tags ('%s%.40s') are not supported; write the value without "
	                         "a tag (quote it to make it a string)",
	                         bang ? "!!" : "", shown);
}

int lethe_yaml_parse(lethe_yaml *y, const char *text, size_t len)
{
	y->root = NULL;
	y->line = y->col = 0;
	lethe_errbuf__clear(&y->err);
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		return lethe_errbuf__set(&y->err, LETHE_ENOMEM, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	lethe_ynode *stack[MAX_DEPTH], *pending_key[MAX_DEPTH], *doc = NULL;
	int depth = 0, rc = 0, documents = 0;
	for (int done = 0; !done && rc == 0;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev)) {
			y->line = (int)parser.problem_mark.line + 1;
			y->col = (int)parser.problem_mark.column + 1;
			rc = lethe_errbuf__set(&y->err, LETHE_EPARSE, "%s%s%s",
			                       parser.problem ? parser.problem : "syntax error",
			                       parser.context ? " " : "",
			                       parser.context ? parser.context : "");
			break;
		}
		lethe_ynode *node = NULL;
		if (rc == 0 && (rc = refuse_tag(y, &ev)) != 0) {
			yaml_event_delete(&ev);
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT: done = 1; break;
		case YAML_DOCUMENT_START_EVENT:
			if (++documents > 1) {
				rc = fail_at(y, ev.start_mark.line + 1, ev.start_mark.column + 1,
				             "a curriculum is one YAML document");
			}
			break;
		case YAML_ALIAS_EVENT:
			rc = fail_at(y, ev.start_mark.line + 1, ev.start_mark.column + 1,
			             "aliases (*name) are not supported; write the value out");
			break;
		case YAML_SCALAR_EVENT:
			if (!(node = new_node(LETHE_YSCALAR, &ev.start_mark)) ||
			    !(node->value = malloc(ev.data.scalar.length + 1))) {
				rc = LETHE_ENOMEM;
				break;
			}
			memcpy(node->value, ev.data.scalar.value, ev.data.scalar.length);
			node->value[ev.data.scalar.length] = '\0';
			node->quoted = ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (depth == MAX_DEPTH) {
				rc = fail_at(y, ev.start_mark.line + 1, ev.start_mark.column + 1,
				             "nested too deeply");
				break;
			}
			if (!(node = new_node(ev.type == YAML_MAPPING_START_EVENT ? LETHE_YMAP
			                                                          : LETHE_YSEQ,
			                      &ev.start_mark)))
				rc = LETHE_ENOMEM;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT: node = stack[--depth]; break;
		default: break;
		}
		if (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_SEQUENCE_START_EVENT ||
		    ev.type == YAML_MAPPING_START_EVENT || ev.type == YAML_SEQUENCE_END_EVENT ||
		    ev.type == YAML_MAPPING_END_EVENT) {
			int starts = ev.type == YAML_SEQUENCE_START_EVENT ||
			             ev.type == YAML_MAPPING_START_EVENT;
			if (rc == 0 && starts) {
				pending_key[depth] = NULL;
				stack[depth++] = node;
			} else if (rc == 0 && node) {
				/* A finished node: attach it to its parent, or it is the document.
				 */
				if (depth == 0)
					doc = node;
				else {
					lethe_ynode *parent = stack[depth - 1];
					if (parent->type == LETHE_YMAP && !pending_key[depth - 1]) {
						if (node->type != LETHE_YSCALAR) {
							rc = fail_at(y, (size_t)node->line,
							             (size_t)node->col,
							             "a key must be a plain value");
							lethe_yaml_free(node);
						} else {
							pending_key[depth - 1] = node;
						}
					} else {
						rc = append(parent, pending_key[depth - 1], node);
						pending_key[depth - 1] = NULL;
						if (rc)
							lethe_yaml_free(node);
					}
				}
			} else if (node && !starts) {
				lethe_yaml_free(node);
			}
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	if (rc) {
		/* Free what was built: the open containers own their children. */
		for (int i = depth - 1; i >= 0; i--) {
			lethe_yaml_free(pending_key[i]);
			lethe_yaml_free(stack[i]);
		}
		lethe_yaml_free(doc);
		if (rc == LETHE_ENOMEM) {
			y->line = y->col = 0;
			lethe_errbuf__set(&y->err, rc, "out of memory");
		}
		return rc;
	}
	y->root = doc;
	return 0;
}
