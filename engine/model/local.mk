# engine/model/: the tokenizer and the transformer: parameters, forward and backward, the one
# layer and its kernels (layer.c; their naive references, layer_ref.c, are compiled into
# tests/check_layer only), AdamW, KV-cache generation, and the thread pool they run on. Uses util/
# only.
engine_liblethe_la_SOURCES += \
	%reldir%/model_internal.h %reldir%/fastmath.h %reldir%/loss_count.h \
	%reldir%/grad_hook.h \
	%reldir%/model.c %reldir%/layer.c %reldir%/layer.h %reldir%/matmul_bf16.c \
	%reldir%/matmul_skinny.c \
	%reldir%/parallel.c %reldir%/parallel.h \
	%reldir%/optim.c \
	%reldir%/lora.c \
	%reldir%/generate.c \
	%reldir%/tokenizer.c \
	%reldir%/safetensors.c %reldir%/safetensors.h \
	%reldir%/hf_tokenizer.c %reldir%/hf_tokenizer.h \
	%reldir%/sp_tokenizer.cc %reldir%/sp_tokenizer.h \
	%reldir%/checkpoint.c %reldir%/checkpoint.h \
	%reldir%/export.c \
	%reldir%/l2c_tokenizer.c %reldir%/l2c_tokenizer.h \
	%reldir%/tokenizer_pretrained.c %reldir%/tokenizer_pretrained.h \
	%reldir%/model_load.c
