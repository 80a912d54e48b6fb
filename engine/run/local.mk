# engine/run/: running a curriculum (runner), the HDF5 run file that owns the format (runfile), and
# the forgetting measures computed from its matrices. Uses every part above; nothing uses it but cli/.
engine_liblethe_la_SOURCES += \
	%reldir%/runfile.c %reldir%/runfile.h \
	%reldir%/runner.c %reldir%/runner.h \
	%reldir%/forgetting.c %reldir%/forgetting.h
