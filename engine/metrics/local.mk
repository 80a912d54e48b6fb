# engine/metrics/: the metrics library of lethe/metrics.h (sacrebleu's BLEU and chrF, rouge-score,
# seqeval, scikit-learn's classification report) and the Unicode and n-gram helpers they share.
# Uses util/ only.
engine_liblethe_la_SOURCES += \
	%reldir%/unicode.c %reldir%/unicode.h \
	%reldir%/ngram.c %reldir%/ngram.h \
	%reldir%/bleu.c \
	%reldir%/chrf.c \
	%reldir%/porter.c \
	%reldir%/rouge.c \
	%reldir%/seqeval.c \
	%reldir%/classify.c \
	%reldir%/stats.c
