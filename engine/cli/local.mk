# engine/cli/: the `lethe` command: main, one file per subcommand, and report rendering. Uses
# liblethe through its API; nothing in liblethe uses it.
engine_lethe_SOURCES += \
	%reldir%/cli.h \
	%reldir%/main.c \
	%reldir%/cmd_plugins.c \
	%reldir%/cmd_inspect.c \
	%reldir%/cmd_score.c \
	%reldir%/cmd_validate.c \
	%reldir%/cmd_run.c \
	%reldir%/cmd_sweep.c \
	%reldir%/cmd_report.c \
	%reldir%/cmd_tokenize.c \
	%reldir%/cmd_generate.c \
	%reldir%/cmd_export.c \
	%reldir%/follow.c \
	%reldir%/model_source.c \
	%reldir%/output.c \
	%reldir%/report_html.c %reldir%/report_html.h \
	%reldir%/svg.c %reldir%/svg.h \
	%reldir%/compare.c %reldir%/compare.h \
	%reldir%/compare_html.c %reldir%/compare_html.h
