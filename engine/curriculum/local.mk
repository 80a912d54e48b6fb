# engine/curriculum/: reading a curriculum (libyaml into a tree with positions) and validating it
# into stages and tasks (curriculum.c; errsink.h is what run/ may use beyond the public API).
# Uses util/, plugin/ and model/, and the public run-file reader (include/lethe/runfile.h) for
# model: {from: RUN.h5}.
engine_liblethe_la_SOURCES += \
	%reldir%/yaml.c %reldir%/yaml.h \
	%reldir%/curriculum.c %reldir%/errsink.h
