/*
 * model_load.c: a lethe_model from a pretrained checkpoint (checkpoint.c): the configuration
 * from the checkpoint's, the weights copied tensor by tensor into lethe's layout (q, k and v
 * stacked into the fused wqkv, in that order; everything else one to one), converted to float32.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lethe/lethe.h>
#include <lethe/model.h>

#include "checkpoint.h"
#include "model_internal.h"

/* A handle that holds only the reason it could not be made. */
static int refuse(lethe_model **out, int rc, const char *msg)
{
	lethe_model *m = calloc(1, sizeof(*m));
	if (!m)
		return LETHE_ENOMEM;
	snprintf(m->errmsg, sizeof(m->errmsg), "%s", msg);
	*out = m;
	return rc;
}

/* Where Hugging Face tensor name of layer l lands: lethe tensor index and first row. */
static int destination(const lethe_model *m, const char *name, size_t *tensor, size_t *row)
{
	const lethe_model_config *c = &m->cfg;
	size_t Q = (size_t)c->heads * c->head_dim, KV = (size_t)c->kv_heads * c->head_dim;
	*row = 0;
	if (strcmp(name, "model.embed_tokens.weight") == 0)
		return *tensor = m->t_wte, 0;
	if (strcmp(name, "model.norm.weight") == 0)
		return *tensor = m->t_nf, 0;
	if (strcmp(name, "lm_head.weight") == 0)
		return *tensor = m->t_head, 0;
	int l, k;
	char rest[64];
	if (sscanf(name, "model.layers.%d.%63s", &l, rest) != 2 || l < 0 || l >= c->layers)
		return LETHE_ENOTFOUND;
	static const struct {
		const char *name;
		int t;
	} map[] = {{"input_layernorm.weight", T_N1},    {"self_attn.q_proj.weight", T_WQKV},
	           {"self_attn.k_proj.weight", T_WQKV}, {"self_attn.v_proj.weight", T_WQKV},
	           {"self_attn.o_proj.weight", T_WO},   {"post_attention_layernorm.weight", T_N2},
	           {"mlp.gate_proj.weight", T_W1},      {"mlp.up_proj.weight", T_W3},
	           {"mlp.down_proj.weight", T_W2}};
	for (k = 0; k < (int)(sizeof(map) / sizeof(map[0])); k++)
		if (strcmp(rest, map[k].name) == 0)
			break;
	if (k == (int)(sizeof(map) / sizeof(map[0])))
		return LETHE_ENOTFOUND;
	*tensor = 1 + (size_t)l * T_PER_LAYER + (size_t)map[k].t;
	*row = k == 2 ? Q : k == 3 ? Q + KV : 0;
	return 0;
}

static lethe_model_config config_of(const lethe_ckpt_config *g, int context)
{
	return (lethe_model_config){.vocab = g->vocab,
	                            .context =
	                                context > 0 && context < g->context ? context : g->context,
	                            .dim = g->dim,
	                            .layers = g->layers,
	                            .heads = g->heads,
	                            .ff = g->ff,
	                            .tied = g->tied,
	                            .norm_eps = g->norm_eps,
	                            .rope_theta = g->rope_theta,
	                            .kv_heads = g->kv_heads,
	                            .head_dim = g->head_dim,
	                            .rope_llama3 = g->rope_llama3,
	                            .rope_factor = g->rope_factor,
	                            .rope_low_freq_factor = g->rope_low_freq_factor,
	                            .rope_high_freq_factor = g->rope_high_freq_factor,
	                            .rope_original_context = g->rope_original_context};
}

int lethe_model_config_from(lethe_model_config *cfg, const char *path, char *why, size_t why_size)
{
	lethe_checkpoint *ck;
	int rc = lethe_checkpoint_open(&ck, path);
	if (rc) {
		snprintf(why, why_size, "%s", ck ? lethe_checkpoint_errmsg(ck) : "out of memory");
		lethe_checkpoint_free(ck);
		return rc;
	}
	*cfg = config_of(lethe_checkpoint_config(ck), 0);
	lethe_checkpoint_free(ck);
	char msg[300];
	if ((rc = lethe_model_config_check(cfg, msg, sizeof(msg))))
		snprintf(why, why_size, "%s: %s", path, msg);
	return rc;
}

int lethe_model_open(lethe_model **out, const char *path, int context)
{
	*out = NULL;
	lethe_checkpoint *ck;
	int rc = lethe_checkpoint_open(&ck, path);
	if (rc) {
		rc = refuse(out, rc, lethe_checkpoint_errmsg(ck));
		lethe_checkpoint_free(ck);
		return rc;
	}
	lethe_model_config cfg = config_of(lethe_checkpoint_config(ck), context);
	char why[300], msg[400];
	if (lethe_model_config_check(&cfg, why, sizeof(why))) {
		snprintf(msg, sizeof(msg), "%s: %s", path, why);
		rc = refuse(out, LETHE_EINVAL, msg);
		lethe_checkpoint_free(ck);
		return rc;
	}
	lethe_model *m;
	if ((rc = lethe_model__create(&m, &cfg, 0, 0))) {
		lethe_checkpoint_free(ck);
		return rc == LETHE_ENOMEM ? rc : refuse(out, rc, "the model could not be made");
	}
	/* Every parameter comes from the checkpoint (the model was made without initialising
	 * them): the floats written are counted, and must cover the whole block. */
	size_t written = 0;
	for (size_t i = 0; i < lethe_checkpoint_n_tensors(ck) && !rc; i++) {
		size_t rows, cols, t, row;
		const char *name = lethe_checkpoint_tensor_name(ck, i, &rows, &cols);
		if (destination(m, name, &t, &row) || t >= m->n_tensors ||
		    (size_t)m->tensors[t].cols != cols || row + rows > (size_t)m->tensors[t].rows) {
			snprintf(m->errmsg, sizeof(m->errmsg),
			         "%s: tensor '%s' has no place in the model", path, name);
			rc = LETHE_EPARSE;
			break;
		}
		if ((rc = lethe_checkpoint_read(ck, i,
		                                m->params + m->tensors[t].offset + row * cols)))
			snprintf(m->errmsg, sizeof(m->errmsg), "%s", lethe_checkpoint_errmsg(ck));
		written += rows * cols;
	}
	if (!rc && written != m->n_params) {
		snprintf(m->errmsg, sizeof(m->errmsg),
		         "%s: the checkpoint fills %zu of the model's %zu parameters", path,
		         written, m->n_params);
		rc = LETHE_EPARSE;
	}
	lethe_checkpoint_free(ck);
	*out = m;
	return rc;
}
