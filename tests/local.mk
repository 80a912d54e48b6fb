# tests/: Check unit tests (check_*.c, one per concept), deliberately broken plugins for the
# loader's refusals (plugins/), fixtures (data/), and end-to-end tests of the `lethe` binary (*.test).
TEST_EXTENSIONS = .test .py
TEST_LOG_COMPILER = $(SHELL)
PY_LOG_COMPILER = $(PYTHON3)
# Tests see only the build tree's plugins, never installed ones, and the shared data sets when
# they are beside the source tree (CI exports LETHE_DATA explicitly).
AM_TESTS_ENVIRONMENT = \
	unset LETHE_PLUGIN_PATH; \
	LETHE_TEST_PLUGINS='$(abs_top_builddir)/%reldir%/plugins/.libs'; \
	LETHE_TEST_SRCDIR='$(abs_top_srcdir)/%reldir%'; \
	LETHE_BUILDDIR='$(abs_top_builddir)'; \
	LETHE_SRCDIR='$(abs_top_srcdir)'; \
	LETHE_CC='$(CC)'; \
	if test -z "$${LETHE_DATA-}" && test -d '$(abs_top_srcdir)/../shared/data'; then \
	  LETHE_DATA='$(abs_top_srcdir)/../shared/data'; fi; \
	TMPDIR='$(abs_top_builddir)/%reldir%/tmp'; mkdir -p "$$TMPDIR"; \
	export LETHE_TEST_PLUGINS LETHE_TEST_SRCDIR LETHE_BUILDDIR LETHE_SRCDIR LETHE_CC LETHE_DATA TMPDIR;

clean-local: clean-local-tests
clean-local-tests:
	-rm -rf $(top_builddir)/%reldir%/tmp

# Plugins that break the ABI one way each. -rpath makes libtool build shared objects.
TEST_PLUGIN_LDFLAGS = -module -avoid-version -rpath /nowhere
check_LTLIBRARIES += \
	%reldir%/plugins/good.la %reldir%/plugins/dup_a.la %reldir%/plugins/dup_b.la \
	%reldir%/plugins/bad_abi.la %reldir%/plugins/bad_size.la %reldir%/plugins/bad_noscore.la \
	%reldir%/plugins/bad_name.la %reldir%/plugins/bad_noentry.la %reldir%/plugins/bad_undefined.la \
	%reldir%/plugins/bad_primaries.la
%canon_reldir%_plugins_good_la_SOURCES = %reldir%/plugins/good.c %reldir%/plugins/fake.h
%canon_reldir%_plugins_good_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
%canon_reldir%_plugins_dup_a_la_SOURCES = %reldir%/plugins/dup_a.c
%canon_reldir%_plugins_dup_a_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
%canon_reldir%_plugins_dup_b_la_SOURCES = %reldir%/plugins/dup_b.c
%canon_reldir%_plugins_dup_b_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
%canon_reldir%_plugins_bad_abi_la_SOURCES = %reldir%/plugins/bad_abi.c
%canon_reldir%_plugins_bad_abi_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
%canon_reldir%_plugins_bad_size_la_SOURCES = %reldir%/plugins/bad_size.c
%canon_reldir%_plugins_bad_size_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
%canon_reldir%_plugins_bad_noscore_la_SOURCES = %reldir%/plugins/bad_noscore.c
%canon_reldir%_plugins_bad_noscore_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
%canon_reldir%_plugins_bad_name_la_SOURCES = %reldir%/plugins/bad_name.c
%canon_reldir%_plugins_bad_name_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
%canon_reldir%_plugins_bad_noentry_la_SOURCES = %reldir%/plugins/bad_noentry.c
%canon_reldir%_plugins_bad_noentry_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
%canon_reldir%_plugins_bad_undefined_la_SOURCES = %reldir%/plugins/bad_undefined.c
%canon_reldir%_plugins_bad_undefined_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
%canon_reldir%_plugins_bad_primaries_la_SOURCES = %reldir%/plugins/bad_primaries.c
%canon_reldir%_plugins_bad_primaries_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)

check_PROGRAMS += %reldir%/check_registry %reldir%/check_text %reldir%/check_kit %reldir%/stem_words
TESTS += %reldir%/check_registry %reldir%/check_text %reldir%/check_kit %reldir%/cli.test \
	%reldir%/metrics.py %reldir%/datasets.test %reldir%/validate.test %reldir%/longtarget.test %reldir%/exports.test


%canon_reldir%_stem_words_SOURCES = %reldir%/stem_words.c
%canon_reldir%_stem_words_LDADD = engine/liblethe.la

%canon_reldir%_check_registry_SOURCES = %reldir%/check_registry.c
%canon_reldir%_check_registry_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
%canon_reldir%_check_registry_LDADD = engine/liblethe.la $(CHECK_LIBS)

# Plugin tests compile the plugin into the test program and drive it through the mock host,
# whose metrics table and plugin kit are liblethe's.
PLUGIN_TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
PLUGIN_TEST_LDADD = engine/liblethe.la $(CHECK_LIBS) $(LIBM)
check_PROGRAMS += %reldir%/check_forgetting
TESTS += %reldir%/check_forgetting
%canon_reldir%_check_forgetting_SOURCES = %reldir%/check_forgetting.c
%canon_reldir%_check_forgetting_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
%canon_reldir%_check_forgetting_LDADD = engine/liblethe.la $(CHECK_LIBS) $(LIBM)

check_PROGRAMS += %reldir%/check_model %reldir%/check_tokenizer %reldir%/model_dump %reldir%/check_curriculum
TESTS += %reldir%/check_model %reldir%/check_tokenizer %reldir%/parity.py %reldir%/check_curriculum %reldir%/runfile.py \
	%reldir%/hostile_runfiles.py
# The YAML reader is private to liblethe: its test compiles it in.
%canon_reldir%_check_curriculum_SOURCES = %reldir%/check_curriculum.c engine/curriculum/yaml.c engine/util/errbuf.c
%canon_reldir%_check_curriculum_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/engine
%canon_reldir%_check_curriculum_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(YAML_CFLAGS)
%canon_reldir%_check_curriculum_LDADD = engine/liblethe.la $(YAML_LIBS) $(CHECK_LIBS)
%canon_reldir%_model_dump_SOURCES = %reldir%/model_dump.c
%canon_reldir%_model_dump_LDADD = engine/liblethe.la
# What the public run-file reader returns, as JSON, for hostile_runfiles.py.
check_PROGRAMS += %reldir%/runfile_dump
%canon_reldir%_runfile_dump_SOURCES = %reldir%/runfile_dump.c
%canon_reldir%_runfile_dump_LDADD = engine/liblethe.la $(LIBM)
%canon_reldir%_check_model_SOURCES = %reldir%/check_model.c
%canon_reldir%_check_model_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
%canon_reldir%_check_model_LDADD = engine/liblethe.la $(CHECK_LIBS) $(LIBM)
%canon_reldir%_check_tokenizer_SOURCES = %reldir%/check_tokenizer.c
%canon_reldir%_check_tokenizer_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
%canon_reldir%_check_tokenizer_LDADD = engine/liblethe.la $(CHECK_LIBS)

check_PROGRAMS += %reldir%/check_sentiment %reldir%/check_ner %reldir%/check_summarize %reldir%/check_translation %reldir%/check_instruct
TESTS += %reldir%/check_sentiment %reldir%/check_ner %reldir%/check_summarize %reldir%/check_translation %reldir%/check_instruct

%canon_reldir%_check_text_SOURCES = %reldir%/check_text.c %reldir%/mock_host.c %reldir%/mock_host.h plugins/text/text.c
%canon_reldir%_check_text_CFLAGS = $(PLUGIN_TEST_CFLAGS)
%canon_reldir%_check_text_LDADD = $(PLUGIN_TEST_LDADD)
%canon_reldir%_check_sentiment_SOURCES = %reldir%/check_sentiment.c %reldir%/mock_host.c plugins/sentiment/sentiment.c
%canon_reldir%_check_sentiment_CFLAGS = $(PLUGIN_TEST_CFLAGS)
%canon_reldir%_check_sentiment_LDADD = $(PLUGIN_TEST_LDADD)
%canon_reldir%_check_ner_SOURCES = %reldir%/check_ner.c %reldir%/mock_host.c plugins/ner/ner.c
%canon_reldir%_check_ner_CFLAGS = $(PLUGIN_TEST_CFLAGS)
%canon_reldir%_check_ner_LDADD = $(PLUGIN_TEST_LDADD)
%canon_reldir%_check_summarize_SOURCES = %reldir%/check_summarize.c %reldir%/mock_host.c plugins/summarize/summarize.c
%canon_reldir%_check_summarize_CFLAGS = $(PLUGIN_TEST_CFLAGS)
%canon_reldir%_check_summarize_LDADD = $(PLUGIN_TEST_LDADD)
%canon_reldir%_check_instruct_SOURCES = %reldir%/check_instruct.c %reldir%/mock_host.c plugins/instruct/instruct.c
%canon_reldir%_check_instruct_CFLAGS = $(PLUGIN_TEST_CFLAGS)
%canon_reldir%_check_instruct_LDADD = $(PLUGIN_TEST_LDADD)
%canon_reldir%_check_translation_SOURCES = %reldir%/check_translation.c %reldir%/mock_host.c plugins/translation/translation.c
%canon_reldir%_check_translation_CFLAGS = $(PLUGIN_TEST_CFLAGS)
%canon_reldir%_check_translation_LDADD = $(PLUGIN_TEST_LDADD)

%canon_reldir%_check_kit_SOURCES = %reldir%/check_kit.c
%canon_reldir%_check_kit_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
%canon_reldir%_check_kit_LDADD = engine/liblethe.la $(CHECK_LIBS)

# The guide's classification plugin, extracted from docs/plugin-guide.md, built and run; the man
# pages against every command's --help and the curriculum reference's keys; every YAML and shell
# example of the docs, and every shipped curriculum, validated or run.
TESTS += %reldir%/plugin_guide.test %reldir%/manpage.py %reldir%/docs.py
EXTRA_DIST += %reldir%/plugin_guide.test %reldir%/manpage.py %reldir%/docs.py %reldir%/cli.test %reldir%/validate.test %reldir%/longtarget.test %reldir%/exports.test %reldir%/runfile.py %reldir%/hostile_runfiles.py %reldir%/datasets.test %reldir%/metrics.py %reldir%/parity.py %reldir%/installcheck.sh %reldir%/rundigest.py %reldir%/testlib.py %reldir%/data

installcheck-local:
	$(SHELL) $(srcdir)/%reldir%/installcheck.sh '$(DESTDIR)$(bindir)' '$(DESTDIR)$(libdir)' '$(srcdir)'

# The safetensors reader is private to liblethe: its test compiles it in.
check_PROGRAMS += %reldir%/check_safetensors
TESTS += %reldir%/check_safetensors
%canon_reldir%_check_safetensors_SOURCES = %reldir%/check_safetensors.c engine/model/safetensors.c engine/util/errbuf.c
%canon_reldir%_check_safetensors_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/engine
%canon_reldir%_check_safetensors_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(CJSON_CFLAGS)
%canon_reldir%_check_safetensors_LDADD = $(CJSON_LIBS) $(CHECK_LIBS) $(LIBM)

# The Hugging Face tokenizer reader, through a driver that tests/hf_tokenizer.py compares with
# a Python reference of byte-level BPE.
check_PROGRAMS += %reldir%/hf_tokenize
TESTS += %reldir%/hf_tokenizer.py
%canon_reldir%_hf_tokenize_SOURCES = %reldir%/hf_tokenize.c engine/model/hf_tokenizer.c engine/util/errbuf.c
%canon_reldir%_hf_tokenize_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/engine
%canon_reldir%_hf_tokenize_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(PCRE2_CFLAGS)
%canon_reldir%_hf_tokenize_LDADD = $(CJSON_LIBS) $(PCRE2_LIBS)
EXTRA_DIST += %reldir%/hf_tokenizer.py %reldir%/bpe_reference.py

# The SentencePiece shim against python3-sentencepiece (tests/sp_tokenizer.py).
check_PROGRAMS += %reldir%/sp_tokenize
TESTS += %reldir%/sp_tokenizer.py
%canon_reldir%_sp_tokenize_SOURCES = %reldir%/sp_tokenize.c engine/model/sp_tokenizer.cc
%canon_reldir%_sp_tokenize_CPPFLAGS = $(AM_CPPFLAGS) $(SENTENCEPIECE_CFLAGS)
%canon_reldir%_sp_tokenize_LDADD = $(SENTENCEPIECE_LIBS)
EXTRA_DIST += %reldir%/sp_tokenizer.py

# The checkpoint reader (Hugging Face directories, llama2.c files) against weights that
# tests/checkpoint.py writes with python3-torch.
check_PROGRAMS += %reldir%/ckpt_dump
TESTS += %reldir%/checkpoint.py
%canon_reldir%_ckpt_dump_SOURCES = %reldir%/ckpt_dump.c engine/model/checkpoint.c engine/model/safetensors.c engine/util/errbuf.c
%canon_reldir%_ckpt_dump_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/engine
%canon_reldir%_ckpt_dump_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS)
%canon_reldir%_ckpt_dump_LDADD = $(CJSON_LIBS) $(LIBM)
EXTRA_DIST += %reldir%/checkpoint.py

# llama2.c's tokenizer.bin against a Python port of its run.c (tests/l2c_tokenizer.py).
check_PROGRAMS += %reldir%/l2c_tokenize
TESTS += %reldir%/l2c_tokenizer.py
%canon_reldir%_l2c_tokenize_SOURCES = %reldir%/l2c_tokenize.c engine/model/l2c_tokenizer.c engine/util/errbuf.c
%canon_reldir%_l2c_tokenize_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/engine
EXTRA_DIST += %reldir%/l2c_tokenizer.py

# Bootstrap resampling, percentiles, Welch's t-test and BLEU from statistics (tests/stats.py).
check_PROGRAMS += %reldir%/stats_tool
TESTS += %reldir%/stats.py
# The paired bootstrap of the run file against a Python reimplementation (issue #12).
TESTS += %reldir%/intervals.py
EXTRA_DIST += %reldir%/intervals.py
# lethe sweep and compare on groups of seeds, end to end (issue #12).
TESTS += %reldir%/sweep.py
EXTRA_DIST += %reldir%/sweep.py
%canon_reldir%_stats_tool_SOURCES = %reldir%/stats_tool.c
%canon_reldir%_stats_tool_LDADD = engine/liblethe.la $(LIBM)
EXTRA_DIST += %reldir%/stats.py

# The layer's kernels against their naive references: private to liblethe, so the test compiles
# the layer, the references and the thread pool in, with liblethe's flags for the model.
# LoRA adapters: finite differences, merge, frozen base (check_lora); PyTorch parity (lora.py,
# through the lora_dump helper).
check_PROGRAMS += %reldir%/check_lora %reldir%/lora_dump
TESTS += %reldir%/check_lora %reldir%/lora.py %reldir%/lora_run.py %reldir%/lora_per_stage.py
%canon_reldir%_check_lora_SOURCES = %reldir%/check_lora.c
%canon_reldir%_check_lora_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
%canon_reldir%_check_lora_LDADD = engine/liblethe.la $(CHECK_LIBS) $(LIBM)
%canon_reldir%_lora_dump_SOURCES = %reldir%/lora_dump.c
%canon_reldir%_lora_dump_LDADD = engine/liblethe.la

check_PROGRAMS += %reldir%/check_layer
TESTS += %reldir%/check_layer
%canon_reldir%_check_layer_SOURCES = %reldir%/check_layer.c engine/model/layer.c engine/model/layer_ref.c engine/model/parallel.c engine/model/matmul_bf16.c engine/model/matmul_skinny.c
%canon_reldir%_check_layer_CPPFLAGS = $(AM_CPPFLAGS) $(BLAS_CFLAGS)
%canon_reldir%_check_layer_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) -ftree-vectorize -fvect-cost-model=dynamic -fno-math-errno -fno-trapping-math -ffp-contract=off
%canon_reldir%_check_layer_LDADD = $(BLAS_LIBS) $(DNNL_LIBS) $(CHECK_LIBS) $(PTHREAD_LIBS) $(LIBM)

# Pretrained checkpoints in the model: logits and greedy generations against a PyTorch
# implementation of Hugging Face's Llama (tests/pretrained.py, tests/hf_llama.py).
check_PROGRAMS += %reldir%/pretrained_run
TESTS += %reldir%/pretrained.py
%canon_reldir%_pretrained_run_SOURCES = %reldir%/pretrained_run.c
%canon_reldir%_pretrained_run_LDADD = engine/liblethe.la
EXTRA_DIST += %reldir%/pretrained.py %reldir%/hf_llama.py %reldir%/lora.py %reldir%/lora_run.py %reldir%/lora_per_stage.py

# lethe export and model: {from: ...}: the export against the run (tensors, logits bit for bit),
# against transformers' forward (tests/hf_llama.py) and the reference BPE (tests/bpe_reference.py),
# and training on from the export and from the run file alike.
TESTS += %reldir%/export.py
EXTRA_DIST += %reldir%/export.py

# The instruct plugin end to end on the project's own instruction data (curricula/instruct/).
TESTS += %reldir%/instruct.py
EXTRA_DIST += %reldir%/instruct.py

# eval_limit's stratified random sample and train_limit (engine/run/sample.c).
TESTS += %reldir%/sample.py
EXTRA_DIST += %reldir%/sample.py

# The live log of lethe run and lethe report --follow.
TESTS += %reldir%/runlog.py
EXTRA_DIST += %reldir%/runlog.py

# The methods against forgetting (docs/methods.md): private to liblethe, so their test compiles
# them in; the model comes from liblethe.
check_PROGRAMS += %reldir%/check_methods
TESTS += %reldir%/check_methods %reldir%/methods.py
%canon_reldir%_check_methods_SOURCES = %reldir%/check_methods.c engine/run/methods.c engine/run/replay.c
%canon_reldir%_check_methods_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/engine
%canon_reldir%_check_methods_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
%canon_reldir%_check_methods_LDADD = engine/liblethe.la $(CHECK_LIBS) $(LIBM)
EXTRA_DIST += %reldir%/methods.py

# Data-parallel runs over Open MPI on two ranks (docs/distributed.md); skipped without MPI.
TESTS += %reldir%/mpi.py
EXTRA_DIST += %reldir%/mpi.py

# Reports of awkward task names: CSV quoting, UTF-8 columns, shortest decimals.
TESTS += %reldir%/report_names.py %reldir%/report_html.py
EXTRA_DIST += %reldir%/report_names.py %reldir%/report_html.py

# Within-stage curves and loss weighting (issue #12 items 5-6): curve points, resume, report,
# and loss_weighting: token bit-identical to no key.
TESTS += %reldir%/curves.py
EXTRA_DIST += %reldir%/curves.py

# bf16 products (issue #15, docs/performance.md#bf16): refusals at file:line:col, precision: fp32
# bit-identical to no key, bf16's final loss within 2% of fp32's on the quick start's first stage.
TESTS += %reldir%/bf16.py
EXTRA_DIST += %reldir%/bf16.py

# Hostile inputs and faults (docs/reliability.md): the catalogue of bad inputs (hostile/), kill -9
# and full-disk tests (faults.py, with the ENOSPC shim enospc.la loaded by LD_PRELOAD).
# `make check-long` runs the kill -9 test with 20 moments instead of 5.
check_LTLIBRARIES += %reldir%/enospc.la
%canon_reldir%_enospc_la_SOURCES = %reldir%/enospc.c
%canon_reldir%_enospc_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
%canon_reldir%_enospc_la_LIBADD = $(DL_LIBS)
TESTS += %reldir%/hostile/catalogue.py %reldir%/faults.py
EXTRA_DIST += %reldir%/hostile/catalogue.py %reldir%/hostile/cases.py %reldir%/hostile/cases_kit.py %reldir%/faults.py
check-long:
	LETHE_KILLS=20 $(MAKE) $(AM_MAKEFLAGS) check TESTS='%reldir%/faults.py'
.PHONY: check-long
