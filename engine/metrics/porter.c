/*
 * porter.c: the Porter stemmer as nltk's PorterStemmer() computes it in its default
 * NLTK_EXTENSIONS mode, which rouge-score uses for ROUGE with stemming: Porter (1980) with
 * Martin Porter's later changes and nltk's own (the irregular-forms table, 'ies'/'ied' on
 * four-letter words, 'alli' before the rest of step 2, 'fulli', 'logi', the two-letter *o
 * condition). Input is a lower-case ASCII word, as rouge-score's tokenizer produces.
 *
 * Each step mirrors nltk's _apply_rule_list(): the first rule whose suffix matches decides,
 * whether or not its condition then holds.
 */
#include <string.h>

#include <lethe/metrics.h>

typedef struct word {
	char *s;
	size_t n;
} word;

static int is_consonant(const char *s, size_t i)
{
	switch (s[i]) {
	case 'a':
	case 'e':
	case 'i':
	case 'o':
	case 'u': return 0;
	case 'y': return i == 0 ? 1 : !is_consonant(s, i - 1);
	default: return 1;
	}
}

/* m: the number of vowel-consonant transitions in s[0..n). */
static int measure(const char *s, size_t n)
{
	int m = 0;
	for (size_t i = 1; i < n; i++)
		m += !is_consonant(s, i - 1) && is_consonant(s, i);
	return m;
}

static int contains_vowel(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_consonant(s, i))
			return 1;
	return 0;
}

static int ends_double_consonant(const char *s, size_t n)
{
	return n >= 2 && s[n - 1] == s[n - 2] && is_consonant(s, n - 1);
}

/* *o: ends consonant-vowel-consonant, the last not w, x or y; or (nltk) is vowel-consonant. */
static int ends_cvc(const char *s, size_t n)
{
	if (n >= 3 && is_consonant(s, n - 3) && !is_consonant(s, n - 2) && is_consonant(s, n - 1) &&
	    s[n - 1] != 'w' && s[n - 1] != 'x' && s[n - 1] != 'y')
		return 1;
	return n == 2 && !is_consonant(s, 0) && is_consonant(s, 1);
}

static int ends_with(const word *w, const char *suffix)
{
	size_t k = strlen(suffix);
	return w->n >= k && memcmp(w->s + w->n - k, suffix, k) == 0;
}

/* Replaces the last k characters with repl (never longer than what it replaces plus one: the
 * buffer always has room, since stems only shrink overall and 'e' is added after removals). */
static void set_suffix(word *w, size_t k, const char *repl)
{
	size_t r = strlen(repl);
	memcpy(w->s + w->n - k, repl, r);
	w->n = w->n - k + r;
}

enum cond { ALWAYS, M_GT_0, M_GT_1 };

struct rule {
	const char *suffix, *repl;
	enum cond cond;
};

static int holds(enum cond c, const char *s, size_t n)
{
	switch (c) {
	case M_GT_0: return measure(s, n) > 0;
	case M_GT_1: return measure(s, n) > 1;
	default: return 1;
	}
}

/* 1 when a rule's suffix matched (applied or not), 0 when none did. */
static int apply_rules(word *w, const struct rule *rules, size_t n_rules)
{
	for (size_t i = 0; i < n_rules; i++) {
		if (!ends_with(w, rules[i].suffix))
			continue;
		size_t k = strlen(rules[i].suffix);
		if (holds(rules[i].cond, w->s, w->n - k))
			set_suffix(w, k, rules[i].repl);
		return 1;
	}
	return 0;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void step1a(word *w)
{
	if (ends_with(w, "ies") && w->n == 4) {
		set_suffix(w, 3, "ie");
		return;
	}
	static const struct rule rules[] = {
	    {"sses", "ss", ALWAYS}, {"ies", "i", ALWAYS}, {"ss", "ss", ALWAYS}, {"s", "", ALWAYS}};
	apply_rules(w, rules, N(rules));
}

static void step1b(word *w)
{
	if (ends_with(w, "ied")) {
		set_suffix(w, 3, w->n == 4 ? "ie" : "i");
		return;
	}
	if (ends_with(w, "eed")) {
		if (measure(w->s, w->n - 3) > 0)
			set_suffix(w, 3, "ee");
		return;
	}
	size_t k = 0;
	if (ends_with(w, "ed") && contains_vowel(w->s, w->n - 2))
		k = 2;
	else if (ends_with(w, "ing") && contains_vowel(w->s, w->n - 3))
		k = 3;
	if (!k)
		return;
	w->n -= k;
	if (ends_with(w, "at"))
		set_suffix(w, 2, "ate");
	else if (ends_with(w, "bl"))
		set_suffix(w, 2, "ble");
	else if (ends_with(w, "iz"))
		set_suffix(w, 2, "ize");
	else if (ends_double_consonant(w->s, w->n)) {
		char last = w->s[w->n - 1];
		if (last != 'l' && last != 's' && last != 'z')
			w->n--;
	} else if (measure(w->s, w->n) == 1 && ends_cvc(w->s, w->n)) {
		w->s[w->n++] = 'e';
	}
}

static void step1c(word *w)
{
	/* nltk: y -> i when preceded by a consonant that is not the first letter. */
	if (ends_with(w, "y") && w->n - 1 > 1 && is_consonant(w->s, w->n - 2))
		w->s[w->n - 1] = 'i';
}

static void step2(word *w)
{
	if (ends_with(w, "alli") && measure(w->s, w->n - 4) > 0) {
		set_suffix(w, 4, "al");
		step2(w);
		return;
	}
	static const struct rule rules[] = {
	    {"ational", "ate", M_GT_0}, {"tional", "tion", M_GT_0}, {"enci", "ence", M_GT_0},
	    {"anci", "ance", M_GT_0},   {"izer", "ize", M_GT_0},    {"bli", "ble", M_GT_0},
	    {"alli", "al", M_GT_0},     {"entli", "ent", M_GT_0},   {"eli", "e", M_GT_0},
	    {"ousli", "ous", M_GT_0},   {"ization", "ize", M_GT_0}, {"ation", "ate", M_GT_0},
	    {"ator", "ate", M_GT_0},    {"alism", "al", M_GT_0},    {"iveness", "ive", M_GT_0},
	    {"fulness", "ful", M_GT_0}, {"ousness", "ous", M_GT_0}, {"aliti", "al", M_GT_0},
	    {"iviti", "ive", M_GT_0},   {"biliti", "ble", M_GT_0},  {"fulli", "ful", M_GT_0},
	};
	if (apply_rules(w, rules, N(rules)))
		return;
	/* 'logi' -> 'log' with the 'l' counted in the stem (nltk, after Barry Wilkins). */
	if (ends_with(w, "logi") && measure(w->s, w->n - 3) > 0)
		set_suffix(w, 4, "log");
}

static void step3(word *w)
{
	static const struct rule rules[] = {
	    {"icate", "ic", M_GT_0}, {"ative", "", M_GT_0},  {"alize", "al", M_GT_0},
	    {"iciti", "ic", M_GT_0}, {"ical", "ic", M_GT_0}, {"ful", "", M_GT_0},
	    {"ness", "", M_GT_0},
	};
	apply_rules(w, rules, N(rules));
}

static void step4(word *w)
{
	static const struct rule rules[] = {
	    {"al", "", M_GT_1},    {"ance", "", M_GT_1}, {"ence", "", M_GT_1}, {"er", "", M_GT_1},
	    {"ic", "", M_GT_1},    {"able", "", M_GT_1}, {"ible", "", M_GT_1}, {"ant", "", M_GT_1},
	    {"ement", "", M_GT_1}, {"ment", "", M_GT_1}, {"ent", "", M_GT_1},
	};
	if (apply_rules(w, rules, N(rules)))
		return;
	if (ends_with(w, "ion")) {
		size_t n = w->n - 3;
		if (measure(w->s, n) > 1 && n > 0 && (w->s[n - 1] == 's' || w->s[n - 1] == 't'))
			w->n = n;
		return;
	}
	static const struct rule rest[] = {
	    {"ou", "", M_GT_1},  {"ism", "", M_GT_1}, {"ate", "", M_GT_1}, {"iti", "", M_GT_1},
	    {"ous", "", M_GT_1}, {"ive", "", M_GT_1}, {"ize", "", M_GT_1},
	};
	apply_rules(w, rest, N(rest));
}

static void step5a(word *w)
{
	if (!ends_with(w, "e"))
		return;
	size_t n = w->n - 1;
	int m = measure(w->s, n);
	if (m > 1 || (m == 1 && !ends_cvc(w->s, n)))
		w->n = n;
}

static void step5b(word *w)
{
	if (ends_with(w, "ll") && measure(w->s, w->n - 1) > 1)
		w->n--;
}

size_t lethe_porter_stem(char *s, size_t n)
{
	static const struct {
		const char *form, *stem;
	} irregular[] = {
	    {"sky", "sky"},         {"skies", "sky"},        {"dying", "die"},
	    {"lying", "lie"},       {"tying", "tie"},        {"news", "news"},
	    {"innings", "inning"},  {"inning", "inning"},    {"outings", "outing"},
	    {"outing", "outing"},   {"cannings", "canning"}, {"canning", "canning"},
	    {"howe", "howe"},       {"proceed", "proceed"},  {"exceed", "exceed"},
	    {"succeed", "succeed"},
	};
	for (size_t i = 0; i < N(irregular); i++)
		if (strlen(irregular[i].form) == n && memcmp(s, irregular[i].form, n) == 0) {
			size_t k = strlen(irregular[i].stem);
			memcpy(s, irregular[i].stem, k);
			return k;
		}
	if (n <= 2)
		return n;
	word w = {s, n};
	step1a(&w);
	step1b(&w);
	step1c(&w);
	step2(&w);
	step3(&w);
	step4(&w);
	step5a(&w);
	step5b(&w);
	return w.n;
}
