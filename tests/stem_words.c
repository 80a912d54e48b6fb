/*
 * stem_words.c: a test helper, not a test: stems each line of standard input with
 * lethe_porter_stem() so that tests/metrics.py can compare it with nltk's PorterStemmer.
 */
#include <stdio.h>
#include <string.h>

#include <lethe/metrics.h>

int main(void)
{
	char buf[1024];
	while (fgets(buf, sizeof(buf), stdin)) {
		size_t n = strcspn(buf, "\n");
		n = lethe_porter_stem(buf, n);
		buf[n] = '\0';
		puts(buf);
	}
	return 0;
}
