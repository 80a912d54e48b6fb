# engine/model/: the tokenizer and the transformer: parameters, forward and backward, the one
# layer and its kernels (layer.c; their naive references, layer_ref.c, are compiled into
# tests/check_layer only), AdamW, KV-cache generation, and the thread pool they run on. Uses util/
# only.
engine_liblethe_la_SOURCES += \
	%reldir%/model_internal.h %reldir%/fastmath.h \
	%reldir%/model.c %reldir%/layer.c %reldir%/layer.h \
	%reldir%/parallel.c %reldir%/parallel.h \
	%reldir%/optim.c \
	%reldir%/generate.c \
	%reldir%/tokenizer.c
