# engine/util/: what every part of liblethe may use and that uses no other part: error codes' names.
engine_liblethe_la_SOURCES += %reldir%/error.c
