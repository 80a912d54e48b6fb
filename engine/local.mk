# engine/: liblethe (the engine library), built from the parts below, and the `lethe` command.
# Each part's local.mk adds its sources to liblethe (or, for cli/, to the command). A part
# includes its own headers by plain name and another part's as "part/file.h"; the public API is
# include/lethe/.
lib_LTLIBRARIES += %reldir%/liblethe.la
%canon_reldir%_liblethe_la_SOURCES =
%canon_reldir%_liblethe_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/%reldir% -I$(top_srcdir) $(BLAS_CFLAGS) $(YAML_CFLAGS) $(CJSON_CFLAGS) $(PCRE2_CFLAGS) $(SENTENCEPIECE_CFLAGS) $(HDF5_CFLAGS) $(MPI_CFLAGS) -DLETHE_PLUGINDIR='"$(pluginsdir)"'
# Vectorise the model's loops even at -O2; sqrtf without errno lets AdamW vectorise too.
# -fno-trapping-math lets it if-convert float comparisons (the engine never traps on them).
# None changes a result: no reassociation (so no reordered sums) is allowed. -ffp-contract=off
# keeps a*b+c two roundings in the AVX2 and AVX-512 clones (fastmath.h LETHE_CLONES), so that all
# clones give the same bits: GCC's C11 mode does this already, clang's does not.
%canon_reldir%_liblethe_la_CFLAGS = $(AM_CFLAGS) -ftree-vectorize -fvect-cost-model=dynamic -fno-math-errno -fno-trapping-math -ffp-contract=off
%canon_reldir%_liblethe_la_LDFLAGS = -version-info $(LETHE_LT_VERSION) -no-undefined
# cJSON serves the checkpoint and tokenizer readers (config.json, tokenizer.json, safetensors
# headers) and the plugin kit's JSON lines (plugin/kit_json.c): plugins never link it.
%canon_reldir%_liblethe_la_LIBADD = $(PTHREAD_LIBS) $(HDF5_LIBS) $(YAML_LIBS) $(CJSON_LIBS) $(PCRE2_LIBS) $(SENTENCEPIECE_LIBS) $(BLAS_LIBS) $(DL_LIBS) $(MPI_LIBS) $(DNNL_LIBS) $(LIBM)

bin_PROGRAMS += %reldir%/lethe
%canon_reldir%_lethe_SOURCES =
%canon_reldir%_lethe_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/%reldir% -I$(top_srcdir)
%canon_reldir%_lethe_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS)
%canon_reldir%_lethe_LDADD = %reldir%/liblethe.la $(CJSON_LIBS) $(LIBM)

include %reldir%/util/local.mk
include %reldir%/metrics/local.mk
include %reldir%/plugin/local.mk
include %reldir%/model/local.mk
include %reldir%/curriculum/local.mk
include %reldir%/run/local.mk
include %reldir%/cli/local.mk
