# engine/util/: what every part of liblethe may use and that uses no other part: error codes'
# names, the per-handle message buffer, and small text helpers (suggestions, a growable string,
# reading a file).
engine_liblethe_la_SOURCES += \
	%reldir%/error.c \
	%reldir%/errbuf.c %reldir%/errbuf.h \
	%reldir%/text.c %reldir%/text.h
