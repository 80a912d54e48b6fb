/*
 * yaml.h: a YAML document as a small tree with the position of every node, read with libyaml.
 * Positions are what make curriculum errors useful ("quickstart.yaml:14:7: ..."). Anchors and
 * aliases are refused: a curriculum is meant to be read by people. Private to liblethe.
 */
#ifndef LETHE_YAML_H
#define LETHE_YAML_H

#include <stddef.h>

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

/* Parses text (len bytes) into *root (NULL for an empty document). On a syntax error returns
 * LETHE_EPARSE and writes "line:col: message" into err. */
int lethe_yaml_parse(const char *text, size_t len, lethe_ynode **root, char *err, size_t err_size);
void lethe_yaml_free(lethe_ynode *node);
/* The value of key in a map, or NULL. */
const lethe_ynode *lethe_yaml_get(const lethe_ynode *map, const char *key);

#endif
