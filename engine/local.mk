# engine/: liblethe (the engine library) and the `lethe` command.
lib_LTLIBRARIES += %reldir%/liblethe.la
%canon_reldir%_liblethe_la_SOURCES = \
	%reldir%/error.c \
	%reldir%/scores.c \
	%reldir%/registry.c \
	%reldir%/instance.c \
	%reldir%/unicode.c %reldir%/unicode.h \
	%reldir%/ngram.c %reldir%/ngram.h \
	%reldir%/bleu.c \
	%reldir%/chrf.c \
	%reldir%/porter.c \
	%reldir%/rouge.c \
	%reldir%/seqeval.c \
	%reldir%/classify.c \
	%reldir%/metrics.c \
	%reldir%/model_internal.h \
	%reldir%/model.c \
	%reldir%/optim.c \
	%reldir%/generate.c \
	%reldir%/tokenizer.c
%canon_reldir%_liblethe_la_CPPFLAGS = $(AM_CPPFLAGS) $(BLAS_CFLAGS) -DLETHE_PLUGINDIR='"$(pluginsdir)"'
%canon_reldir%_liblethe_la_LDFLAGS = -version-info $(LETHE_LT_VERSION) -no-undefined
%canon_reldir%_liblethe_la_LIBADD = $(BLAS_LIBS) $(DL_LIBS) $(LIBM)

bin_PROGRAMS += %reldir%/lethe
%canon_reldir%_lethe_SOURCES = \
	%reldir%/cli.h \
	%reldir%/main.c \
	%reldir%/cmd_plugins.c \
	%reldir%/cmd_inspect.c \
	%reldir%/cmd_score.c
%canon_reldir%_lethe_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS)
%canon_reldir%_lethe_LDADD = %reldir%/liblethe.la plugins/common/libplugin_util.la $(CJSON_LIBS)
