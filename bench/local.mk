# bench/: benchmark programs (see bench/README.md). train_lethe is built with the project so
# that bench/train-throughput can run from a build tree.
noinst_PROGRAMS = %reldir%/train_lethe
%canon_reldir%_train_lethe_SOURCES = %reldir%/train_lethe.c
%canon_reldir%_train_lethe_LDADD = engine/liblethe.la
EXTRA_DIST += %reldir%/README.md %reldir%/metrics_throughput.py %reldir%/train-throughput %reldir%/dist-throughput \
	%reldir%/generate_torch.py
noinst_PROGRAMS += %reldir%/tokenizer_throughput
%canon_reldir%_tokenizer_throughput_SOURCES = %reldir%/tokenizer_throughput.c
%canon_reldir%_tokenizer_throughput_LDADD = engine/liblethe.la
noinst_PROGRAMS += %reldir%/load_lethe
%canon_reldir%_load_lethe_SOURCES = %reldir%/load_lethe.c
%canon_reldir%_load_lethe_LDADD = engine/liblethe.la
EXTRA_DIST += %reldir%/load-checkpoint
