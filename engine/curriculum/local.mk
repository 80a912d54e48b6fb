# engine/curriculum/: reading a curriculum (libyaml into a tree with positions) and validating it
# into stages and tasks. Uses util/ and plugin/.
engine_liblethe_la_SOURCES += \
	%reldir%/yaml.c %reldir%/yaml.h \
	%reldir%/curriculum.c
