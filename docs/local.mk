# docs/: the guides (Markdown, shipped in the tarball) and the man pages (installed).
# lethe.1 names the installed paths: made from lethe.1.in at build time, when they are known.
dist_man_MANS += %reldir%/lethe-curriculum.5
man_MANS = %reldir%/lethe.1
CLEANFILES += %reldir%/lethe.1
EXTRA_DIST += %reldir%/lethe.1.in
%reldir%/lethe.1: %reldir%/lethe.1.in Makefile
	$(AM_V_GEN)$(MKDIR_P) %reldir% && \
	sed -e 's|@pluginsdir[@]|$(pluginsdir)|g' -e 's|@docdir[@]|$(docdir)|g' \
	  $(srcdir)/%reldir%/lethe.1.in >$@.tmp && mv $@.tmp $@
# The guides, installed in $(docdir) (the man pages point there).
dist_doc_DATA = README.md %reldir%/curriculum.md %reldir%/plugin-guide.md %reldir%/plugin-abi.md \
	%reldir%/metrics.md %reldir%/performance.md %reldir%/api.md %reldir%/model.md \
	%reldir%/data.md %reldir%/run-file.md %reldir%/forgetting.md %reldir%/methods.md \
	%reldir%/models.md %reldir%/distributed.md %reldir%/reliability.md
plugindocdir = $(docdir)/plugins
dist_plugindoc_DATA = %reldir%/plugins/instruct.md %reldir%/plugins/ner.md \
	%reldir%/plugins/sentiment.md %reldir%/plugins/summarize.md %reldir%/plugins/text.md \
	%reldir%/plugins/translation.md
EXTRA_DIST += %reldir%/report-quickstart.png
