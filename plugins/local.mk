# plugins/: the bundled task plugins, one folder each, built as libtool modules that link
# nothing (everything, the plugin kit of lethe/kit.h included, comes through the host table of
# lethe/plugin.h), exactly as an outside plugin is built.
PLUGIN_LDFLAGS = -module -avoid-version -no-undefined -export-symbols-regex '^lethe_plugin_entry$$'

plugins_LTLIBRARIES += %reldir%/text/text.la
%canon_reldir%_text_text_la_SOURCES = %reldir%/text/text.c
%canon_reldir%_text_text_la_LDFLAGS = $(PLUGIN_LDFLAGS)
%canon_reldir%_text_text_la_LIBADD = $(LIBM)

plugins_LTLIBRARIES += %reldir%/sentiment/sentiment.la
%canon_reldir%_sentiment_sentiment_la_SOURCES = %reldir%/sentiment/sentiment.c
%canon_reldir%_sentiment_sentiment_la_LDFLAGS = $(PLUGIN_LDFLAGS)
%canon_reldir%_sentiment_sentiment_la_LIBADD = $(LIBM)

plugins_LTLIBRARIES += %reldir%/ner/ner.la
%canon_reldir%_ner_ner_la_SOURCES = %reldir%/ner/ner.c
%canon_reldir%_ner_ner_la_LDFLAGS = $(PLUGIN_LDFLAGS)
%canon_reldir%_ner_ner_la_LIBADD = $(LIBM)

plugins_LTLIBRARIES += %reldir%/summarize/summarize.la
%canon_reldir%_summarize_summarize_la_SOURCES = %reldir%/summarize/summarize.c
%canon_reldir%_summarize_summarize_la_LDFLAGS = $(PLUGIN_LDFLAGS)
%canon_reldir%_summarize_summarize_la_LIBADD = $(LIBM)

plugins_LTLIBRARIES += %reldir%/translation/translation.la
%canon_reldir%_translation_translation_la_SOURCES = %reldir%/translation/translation.c
%canon_reldir%_translation_translation_la_LDFLAGS = $(PLUGIN_LDFLAGS)
%canon_reldir%_translation_translation_la_LIBADD = $(LIBM)

plugins_LTLIBRARIES += %reldir%/instruct/instruct.la
%canon_reldir%_instruct_instruct_la_SOURCES = %reldir%/instruct/instruct.c
%canon_reldir%_instruct_instruct_la_LDFLAGS = $(PLUGIN_LDFLAGS)
%canon_reldir%_instruct_instruct_la_LIBADD = $(LIBM)
