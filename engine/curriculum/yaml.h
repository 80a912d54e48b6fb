/*
 * yaml.h: a YAML document as a small tree with the position of every node, read with libyaml.
 * Positions are what make curriculum errors useful ("quickstart.yaml:14:7: ..."). Anchors and
 * aliases are refused: a curriculum is meant to be read by people. Private to liblethe.
 */
#ifndef LETHE_YAML_H
#define LETHE_YAML_H

#include <stddef.h>

#include "util/errbuf.h"

typedef enum lethe_ynode_type { LETHE_YSCALAR, LETHE_YMAP, LETHE_YSEQ } lethe_ynode_type;

typedef struct lethe_ynode lethe_ynode;
struct lethe_ynode {
	lethe_ynode_type type;
	int line, col;               /* 1-based */
	char *value;                 /* scalars */
	int quoted;                  /* a quoted scalar is always a string */
	size_t n;                    /* map pairs or sequence items */
	lethe_ynode **keys, **items; /* maps: keys[i] -> items[i]; sequences: items[i] */
};

/* A parse: the tree, or where and why it failed. The caller owns it (usually on the stack) and
 * releases it with lethe_yaml_clear(). */
typedef struct lethe_yaml {
	lethe_ynode *root; /* NULL for an empty document or after a failure */
	int line, col;     /* 1-based position of the failure; 0 when it has none (memory) */
	lethe_errbuf err;  /* why, without the position: "did not find expected key ..." */
} lethe_yaml;

/* Parses text (len bytes) into y->root. Returns 0, LETHE_EPARSE (y->line, y->col and y->err say
 * where and why) or LETHE_ENOMEM. */
int lethe_yaml_parse(lethe_yaml *y, const char *text, size_t len);
/* Frees y->root; y may be parsed into again. */
void lethe_yaml_clear(lethe_yaml *y);
void lethe_yaml_free(lethe_ynode *node);
/* The value of key in a map, or NULL. */
const lethe_ynode *lethe_yaml_get(const lethe_ynode *map, const char *key);

#endif
