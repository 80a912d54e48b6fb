/*
 * sp_tokenizer.cc: the C shim over libsentencepiece (see sp_tokenizer.h). No C++ exception and
 * no C++ type crosses the boundary: every call catches, and messages land on the handle.
 */
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include <sentencepiece_processor.h>

#include <lethe/common.h>

#include "sp_tokenizer.h"

struct lethe_sp_tokenizer {
	sentencepiece::SentencePieceProcessor sp;
	std::string path;
	char errmsg[512];
};

static int fail(lethe_sp_tokenizer *t, int code, const std::string &what)
{
	std::snprintf(t->errmsg, sizeof t->errmsg, "%s: %s", t->path.c_str(), what.c_str());
	return code;
}

extern "C" int lethe_sp_tokenizer_load(lethe_sp_tokenizer **out, const char *path)
{
	*out = nullptr;
	try {
		lethe_sp_tokenizer *t = new lethe_sp_tokenizer();
		*out = t;
		t->path = path;
		t->errmsg[0] = 0;
		auto st = t->sp.Load(path);
		if (!st.ok())
			return fail(t, LETHE_EPARSE,
			            std::string("not a SentencePiece model: ") + st.ToString());
		return 0;
	} catch (const std::bad_alloc &) {
		return *out ? fail(*out, LETHE_ENOMEM, "out of memory") : LETHE_ENOMEM;
	} catch (const std::exception &e) {
		return *out ? fail(*out, LETHE_EPARSE, e.what()) : LETHE_ENOMEM;
	}
}

extern "C" void lethe_sp_tokenizer_free(lethe_sp_tokenizer *t)
{
	delete t;
}

extern "C" const char *lethe_sp_tokenizer_errmsg(const lethe_sp_tokenizer *t)
{
	return t ? t->errmsg : "out of memory";
}

extern "C" int lethe_sp_tokenizer_encode(lethe_sp_tokenizer *t, const char *text, size_t len,
                                         int32_t **ids, size_t *n)
{
	*ids = nullptr;
	*n = 0;
	try {
		std::vector<int> v;
		auto st = t->sp.Encode(std::string(text, len), &v);
		if (!st.ok())
			return fail(t, LETHE_EINVAL, st.ToString());
		*ids = static_cast<int32_t *>(
		    std::malloc((v.size() ? v.size() : 1) * sizeof(int32_t)));
		if (!*ids)
			return fail(t, LETHE_ENOMEM, "out of memory");
		for (size_t i = 0; i < v.size(); i++)
			(*ids)[i] = v[i];
		*n = v.size();
		return 0;
	} catch (const std::bad_alloc &) {
		return fail(t, LETHE_ENOMEM, "out of memory");
	} catch (const std::exception &e) {
		return fail(t, LETHE_EINVAL, e.what());
	}
}

extern "C" int lethe_sp_tokenizer_decode(lethe_sp_tokenizer *t, const int32_t *ids, size_t n,
                                         char **out, size_t *len)
{
	*out = nullptr;
	*len = 0;
	try {
		int size = t->sp.GetPieceSize();
		std::vector<int> v(ids, ids + n);
		for (size_t i = 0; i < n; i++)
			if (ids[i] < 0 || ids[i] >= size) {
				char what[64];
				std::snprintf(what, sizeof what, "id %d is not in the vocabulary",
				              (int)ids[i]);
				return fail(t, LETHE_EINVAL, what);
			}
		std::string s;
		auto st = t->sp.Decode(v, &s);
		if (!st.ok())
			return fail(t, LETHE_EINVAL, st.ToString());
		*out = static_cast<char *>(std::malloc(s.size() + 1));
		if (!*out)
			return fail(t, LETHE_ENOMEM, "out of memory");
		std::memcpy(*out, s.data(), s.size());
		(*out)[s.size()] = 0;
		*len = s.size();
		return 0;
	} catch (const std::bad_alloc &) {
		return fail(t, LETHE_ENOMEM, "out of memory");
	} catch (const std::exception &e) {
		return fail(t, LETHE_EINVAL, e.what());
	}
}

extern "C" size_t lethe_sp_tokenizer_vocab_size(const lethe_sp_tokenizer *t)
{
	return static_cast<size_t>(t->sp.GetPieceSize());
}

extern "C" int32_t lethe_sp_tokenizer_bos(const lethe_sp_tokenizer *t)
{
	return t->sp.bos_id();
}
extern "C" int32_t lethe_sp_tokenizer_eos(const lethe_sp_tokenizer *t)
{
	return t->sp.eos_id();
}
