# plugins/: the bundled task plugins, one folder each, built as libtool modules that link
# nothing of lethe's (everything comes through the host table of lethe/plugin.h).
# plugins/common/ holds helpers compiled into each of them and into the command.
PLUGIN_LDFLAGS = -module -avoid-version -no-undefined -export-symbols-regex '^lethe_plugin_entry$$'

noinst_LTLIBRARIES += %reldir%/common/libplugin_util.la
%canon_reldir%_common_libplugin_util_la_SOURCES = %reldir%/common/plugin_util.c %reldir%/common/plugin_util.h
%canon_reldir%_common_libplugin_util_la_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS)

plugins_LTLIBRARIES += %reldir%/text/text.la
%canon_reldir%_text_text_la_SOURCES = %reldir%/text/text.c
%canon_reldir%_text_text_la_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS)
%canon_reldir%_text_text_la_LDFLAGS = $(PLUGIN_LDFLAGS)
%canon_reldir%_text_text_la_LIBADD = %reldir%/common/libplugin_util.la $(CJSON_LIBS) $(LIBM)

plugins_LTLIBRARIES += %reldir%/sentiment/sentiment.la
%canon_reldir%_sentiment_sentiment_la_SOURCES = %reldir%/sentiment/sentiment.c
%canon_reldir%_sentiment_sentiment_la_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS)
%canon_reldir%_sentiment_sentiment_la_LDFLAGS = $(PLUGIN_LDFLAGS)
%canon_reldir%_sentiment_sentiment_la_LIBADD = %reldir%/common/libplugin_util.la $(CJSON_LIBS) $(LIBM)

plugins_LTLIBRARIES += %reldir%/ner/ner.la
%canon_reldir%_ner_ner_la_SOURCES = %reldir%/ner/ner.c
%canon_reldir%_ner_ner_la_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS)
%canon_reldir%_ner_ner_la_LDFLAGS = $(PLUGIN_LDFLAGS)
%canon_reldir%_ner_ner_la_LIBADD = %reldir%/common/libplugin_util.la $(CJSON_LIBS) $(LIBM)

plugins_LTLIBRARIES += %reldir%/summarize/summarize.la
%canon_reldir%_summarize_summarize_la_SOURCES = %reldir%/summarize/summarize.c
%canon_reldir%_summarize_summarize_la_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS)
%canon_reldir%_summarize_summarize_la_LDFLAGS = $(PLUGIN_LDFLAGS)
%canon_reldir%_summarize_summarize_la_LIBADD = %reldir%/common/libplugin_util.la $(CJSON_LIBS) $(LIBM)

plugins_LTLIBRARIES += %reldir%/translation/translation.la
%canon_reldir%_translation_translation_la_SOURCES = %reldir%/translation/translation.c
%canon_reldir%_translation_translation_la_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS)
%canon_reldir%_translation_translation_la_LDFLAGS = $(PLUGIN_LDFLAGS)
%canon_reldir%_translation_translation_la_LIBADD = %reldir%/common/libplugin_util.la $(CJSON_LIBS) $(LIBM)

plugins_LTLIBRARIES += %reldir%/instruct/instruct.la
%canon_reldir%_instruct_instruct_la_SOURCES = %reldir%/instruct/instruct.c
%canon_reldir%_instruct_instruct_la_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS)
%canon_reldir%_instruct_instruct_la_LDFLAGS = $(PLUGIN_LDFLAGS)
%canon_reldir%_instruct_instruct_la_LIBADD = %reldir%/common/libplugin_util.la $(CJSON_LIBS) $(LIBM)
