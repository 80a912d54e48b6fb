# engine/run/: running a curriculum (runner), the run-file module that owns the HDF5 format
# (runfile_format.h: its names; runfile_write.c: the writer; runfile_read.c: the reader of
# include/lethe/runfile.h, used by report, compare and --resume alike), and the forgetting
# measures computed from its matrices. Uses every part above; nothing uses it but cli/. Only the
# run-file module includes <hdf5.h>.
engine_liblethe_la_SOURCES += \
	%reldir%/runfile.h %reldir%/runfile_format.h \
	%reldir%/runfile_write.c %reldir%/runfile_read.c %reldir%/runfile_probe.c \
	%reldir%/runner.c %reldir%/runner.h \
	%reldir%/sample.c %reldir%/sample.h \
	%reldir%/runlog.c %reldir%/runlog.h \
	%reldir%/forgetting.c %reldir%/intervals.c \
	%reldir%/methods.c %reldir%/methods.h %reldir%/replay.c %reldir%/replay.h \
	%reldir%/dist.c %reldir%/dist.h
