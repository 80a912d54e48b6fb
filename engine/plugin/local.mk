# engine/plugin/: task plugins seen from the engine: discovery and loading (registry), a configured
# task with its data (instance), the metric container (scores), and the metrics table and the plugin
# kit (kit*.c: files, lines, JSON, options, label maps) handed to plugins. Uses util/ and metrics/.
engine_liblethe_la_SOURCES += \
	%reldir%/registry.c \
	%reldir%/instance.c \
	%reldir%/scores.c \
	%reldir%/metrics_table.c \
	%reldir%/kit.c %reldir%/kit.h \
	%reldir%/kit_options.c \
	%reldir%/kit_json.c
