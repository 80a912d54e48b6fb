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
