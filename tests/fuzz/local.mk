# tests/fuzz/: libFuzzer harnesses for every reader of untrusted input (docs/reliability.md).
# Not part of `make` or `make check`: `make fuzz` builds them with clang (skipped with a message
# when configure found none), `make fuzz-run FUZZ_SECONDS=30` runs each from its seed corpus in
# corpus/NAME/, `make fuzz-clean` removes the instrumented objects.
FUZZ_SECONDS = 30
# FUZZ_HARNESSES='curriculum score ...' runs a subset.
FUZZ_HARNESSES =
FUZZ_ENV = FUZZ_CC='$(FUZZ_CC)' FUZZ_CXX='$(FUZZ_CXX)' PLUGINDIR='$(pluginsdir)' \
	FUZZ_CPPFLAGS='$(BLAS_CFLAGS) $(YAML_CFLAGS) $(CJSON_CFLAGS) $(PCRE2_CFLAGS) $(SENTENCEPIECE_CFLAGS) $(HDF5_CFLAGS) $(MPI_CFLAGS)' \
	FUZZ_LIBS='$(PTHREAD_LIBS) $(HDF5_LIBS) $(YAML_LIBS) $(CJSON_LIBS) $(PCRE2_LIBS) $(SENTENCEPIECE_LIBS) $(BLAS_LIBS) $(DL_LIBS) $(MPI_LIBS) $(DNNL_LIBS) $(LIBM)' \
	ENGINE_SOURCES='$(engine_liblethe_la_SOURCES)'
fuzz:
	@$(FUZZ_ENV) $(SHELL) $(abs_top_srcdir)/%reldir%/build.sh build '$(abs_top_srcdir)' '$(abs_top_builddir)'
fuzz-run: fuzz
	@$(SHELL) $(abs_top_srcdir)/%reldir%/build.sh run '$(abs_top_srcdir)' '$(abs_top_builddir)' '$(FUZZ_SECONDS)' '$(FUZZ_HARNESSES)'
fuzz-clean:
	-rm -rf $(top_builddir)/%reldir%/obj $(top_builddir)/%reldir%/fuzz_* $(top_builddir)/%reldir%/*.log
.PHONY: fuzz fuzz-run fuzz-clean
EXTRA_DIST += %reldir%/build.sh %reldir%/lsan.supp %reldir%/fuzz.h %reldir%/fuzz_curriculum.c %reldir%/fuzz_score.c \
	%reldir%/fuzz_runfile.c %reldir%/fuzz_safetensors.c %reldir%/fuzz_tokenizer.c \
	%reldir%/fuzz_plugin.c %reldir%/corpus
