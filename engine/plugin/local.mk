# engine/plugin/: task plugins seen from the engine: discovery and loading (registry), a configured
# task with its data (instance), the metric container (scores) and the metrics table handed to
# plugins. Uses util/ and metrics/.
engine_liblethe_la_SOURCES += \
	%reldir%/registry.c \
	%reldir%/instance.c \
	%reldir%/scores.c \
	%reldir%/metrics_table.c
