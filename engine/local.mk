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
	%reldir%/model_internal.h %reldir%/fastmath.h \
	%reldir%/model.c \
	%reldir%/parallel.c %reldir%/parallel.h \
	%reldir%/optim.c \
	%reldir%/generate.c \
	%reldir%/tokenizer.c \
	%reldir%/yaml.c %reldir%/yaml.h \
	%reldir%/curriculum.c \
	%reldir%/runfile.c %reldir%/runfile.h \
	%reldir%/runner.c %reldir%/runner.h \
	%reldir%/forgetting.c %reldir%/forgetting.h
%canon_reldir%_liblethe_la_CPPFLAGS = $(AM_CPPFLAGS) $(BLAS_CFLAGS) $(YAML_CFLAGS) $(CJSON_CFLAGS) $(HDF5_CFLAGS) -DLETHE_PLUGINDIR='"$(pluginsdir)"'
# Vectorise the model's loops even at -O2; sqrtf without errno lets AdamW vectorise too.
# -fno-trapping-math lets it if-convert float comparisons (the engine never traps on them).
# None changes a result: no reassociation (so no reordered sums) is allowed.
%canon_reldir%_liblethe_la_CFLAGS = $(AM_CFLAGS) -ftree-vectorize -fvect-cost-model=dynamic -fno-math-errno -fno-trapping-math
%canon_reldir%_liblethe_la_LDFLAGS = -version-info $(LETHE_LT_VERSION) -no-undefined
%canon_reldir%_liblethe_la_LIBADD = plugins/common/libplugin_util.la $(PTHREAD_LIBS) $(HDF5_LIBS) $(YAML_LIBS) $(CJSON_LIBS) $(BLAS_LIBS) $(DL_LIBS) $(LIBM)

bin_PROGRAMS += %reldir%/lethe
%canon_reldir%_lethe_SOURCES = \
	%reldir%/cli.h \
	%reldir%/main.c \
	%reldir%/cmd_plugins.c \
	%reldir%/cmd_inspect.c \
	%reldir%/cmd_score.c \
	%reldir%/cmd_validate.c \
	%reldir%/cmd_run.c \
	%reldir%/cmd_report.c \
	%reldir%/report_html.c %reldir%/report_html.h
%canon_reldir%_lethe_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(HDF5_CFLAGS)
%canon_reldir%_lethe_LDADD = %reldir%/liblethe.la plugins/common/libplugin_util.la $(CJSON_LIBS) $(HDF5_LIBS) $(LIBM)
