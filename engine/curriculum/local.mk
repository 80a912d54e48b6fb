# engine/curriculum/: reading a curriculum (libyaml into a tree with positions) and validating it
# into stages and tasks (curriculum.c; errsink.h is what run/ may use beyond the public API).
# Uses util/ and plugin/.
engine_liblethe_la_SOURCES += \
	%reldir%/yaml.c %reldir%/yaml.h \
	%reldir%/curriculum.c %reldir%/errsink.h
