#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "kpl.h"

static int
md5(const void *p, size_t n, unsigned char out[16])
{
	unsigned int len = 0;

	if (EVP_Digest(p, n, out, &len, EVP_md5(), NULL) != 1 || len != 16)
		return -1;
	return 0;
}

static int
varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
	uint64_t r = 0;
	int shift = 0;

	while (*p < end && shift < 64) {
		unsigned char b = *(*p)++;

		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = r;
			return 0;
		}
		shift += 7;
	}
	return -1;
}

/* Reads a length-delimited field body. */
static int
bytes(const unsigned char **p, const unsigned char *end,
    const unsigned char **b, size_t *n)
{
	uint64_t len;

	if (varint(p, end, &len) != 0 || len > (uint64_t)(end - *p))
		return -1;
	*b = *p;
	*n = (size_t)len;
	*p += len;
	return 0;
}

static int
skip(const unsigned char **p, const unsigned char *end, unsigned wt)
{
	const unsigned char *b;
	uint64_t v;
	size_t n;

	switch (wt) {
	case 0:
		return varint(p, end, &v);
	case 1:
		if (end - *p < 8)
			return -1;
		*p += 8;
		return 0;
	case 2:
		return bytes(p, end, &b, &n);
	case 5:
		if (end - *p < 4)
			return -1;
		*p += 4;
		return 0;
	default:
		return -1;
	}
}

struct strtab {
	const unsigned char **s;
	size_t *n;
	size_t count, cap;
};

static int
tab_add(struct strtab *t, const unsigned char *s, size_t n)
{
	if (t->count == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 16;
		const unsigned char **ns = realloc(t->s, nc * sizeof(*ns));
		size_t *nn;

		if (ns == NULL)
			return -1;
		t->s = ns;
		nn = realloc(t->n, nc * sizeof(*nn));
		if (nn == NULL)
			return -1;
		t->n = nn;
		t->cap = nc;
	}
	t->s[t->count] = s;
	t->n[t->count++] = n;
	return 0;
}

int
kpl_decode(const unsigned char *blob, size_t len, struct kpl_agg *out)
{
	struct strtab pks = { 0 }, ehks = { 0 };
	const unsigned char *p, *end;
	unsigned char sum[16];
	size_t cap = 0, i;
	uint64_t *pki = NULL, *ehki = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (len < 4 + 16 || memcmp(blob, KPL_MAGIC, 4) != 0)
		return 0;
	if (md5(blob + 4, len - 20, sum) != 0 ||
	    memcmp(sum, blob + len - 16, 16) != 0)
		return 0;
	p = blob + 4;
	end = blob + len - 16;
	while (p < end) {
		uint64_t key;
		const unsigned char *b;
		size_t n;

		if (varint(&p, end, &key) != 0)
			goto out;
		if ((key & 7) != 2) {
			if (skip(&p, end, key & 7) != 0)
				goto out;
			continue;
		}
		if (bytes(&p, end, &b, &n) != 0)
			goto out;
		if (key >> 3 == 1) {
			if (tab_add(&pks, b, n) != 0)
				goto out;
		} else if (key >> 3 == 2) {
			if (tab_add(&ehks, b, n) != 0)
				goto out;
		} else if (key >> 3 == 3) {
			const unsigned char *q = b, *qend = b + n;
			struct kpl_record r;
			uint64_t pk = UINT64_MAX, ehk = UINT64_MAX;
			int have_data = 0;

			memset(&r, 0, sizeof(r));
			while (q < qend) {
				uint64_t k2, v;

				if (varint(&q, qend, &k2) != 0)
					goto out;
				if (k2 == (1 << 3 | 0)) {
					if (varint(&q, qend, &pk) != 0)
						goto out;
				} else if (k2 == (2 << 3 | 0)) {
					if (varint(&q, qend, &ehk) != 0)
						goto out;
				} else if (k2 == (3 << 3 | 2)) {
					if (bytes(&q, qend, &r.data, &r.len) != 0)
						goto out;
					have_data = 1;
				} else if (skip(&q, qend, k2 & 7) != 0) {
					goto out;
				}
				(void)v;
			}
			if (!have_data || pk == UINT64_MAX)
				goto out;
			if (out->n == cap) {
				size_t nc = cap ? cap * 2 : 16;
				struct kpl_record *nr = realloc(out->recs, nc * sizeof(*nr));
				uint64_t *np = realloc(pki, nc * sizeof(*np)), *ne;

				if (nr != NULL)
					out->recs = nr;
				if (np != NULL)
					pki = np;
				ne = realloc(ehki, nc * sizeof(*ne));
				if (ne != NULL)
					ehki = ne;
				if (nr == NULL || np == NULL || ne == NULL)
					goto out;
				cap = nc;
			}
			pki[out->n] = pk;
			ehki[out->n] = ehk;
			out->recs[out->n++] = r;
		}
		/* Any other length-delimited field: bytes() skipped it. */
	}
	/* Resolve table indexes now that both tables are known. */
	for (i = 0; i < out->n; i++) {
		if (pki[i] >= pks.count)
			goto out;
		out->recs[i].pk = (const char *)pks.s[pki[i]];
		out->recs[i].pklen = pks.n[pki[i]];
		if (ehki[i] != UINT64_MAX) {
			if (ehki[i] >= ehks.count)
				goto out;
			out->recs[i].ehk = (const char *)ehks.s[ehki[i]];
			out->recs[i].ehklen = ehks.n[ehki[i]];
		}
	}
	rc = 1;
out:
	free(pks.s);
	free(pks.n);
	free(ehks.s);
	free(ehks.n);
	free(pki);
	free(ehki);
	if (rc != 1)
		kpl_agg_free(out);
	return rc;
}

void
kpl_agg_free(struct kpl_agg *a)
{
	if (a == NULL)
		return;
	free(a->recs);
	a->recs = NULL;
	a->n = 0;
}

static size_t
put_varint(unsigned char *o, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		o[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	o[n++] = (unsigned char)v;
	return n;
}

unsigned char *
kpl_encode(const char *const *pks, const char *const *datas,
    const size_t *lens, size_t n, size_t *outlen)
{
	size_t cap = 4 + 16, i, o = 4;
	unsigned char *buf;

	for (i = 0; i < n; i++)
		cap += strlen(pks[i]) + lens[i] + 40;
	buf = malloc(cap);
	if (buf == NULL)
		return NULL;
	memcpy(buf, KPL_MAGIC, 4);
	for (i = 0; i < n; i++) {
		size_t pl = strlen(pks[i]);

		buf[o++] = 1 << 3 | 2;
		o += put_varint(buf + o, pl);
		memcpy(buf + o, pks[i], pl);
		o += pl;
	}
	for (i = 0; i < n; i++) {
		unsigned char rec[32];
		size_t rl = 0;

		rec[rl++] = 1 << 3 | 0;
		rl += put_varint(rec + rl, i);
		rec[rl++] = 3 << 3 | 2;
		rl += put_varint(rec + rl, lens[i]);
		buf[o++] = 3 << 3 | 2;
		o += put_varint(buf + o, rl + lens[i]);
		memcpy(buf + o, rec, rl);
		o += rl;
		memcpy(buf + o, datas[i], lens[i]);
		o += lens[i];
	}
	if (md5(buf + 4, o - 4, buf + o) != 0) {
		free(buf);
		return NULL;
	}
	*outlen = o + 16;
	return buf;
}

/* The bytes of v as a protobuf varint. */
static size_t
varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static void
buf_varint(struct buf *b, uint64_t v)
{
	unsigned char o[10];

	buf_add(b, o, put_varint(o, v));
}

/* A length-delimited field: key, length, bytes. */
static void
buf_field(struct buf *b, unsigned field, const void *p, size_t n)
{
	buf_char(b, (char)(field << 3 | 2));
	buf_varint(b, n);
	buf_add(b, p, n);
}

/* The Record message's body: partition_key_index = 0, optionally
 * explicit_hash_key_index = 0, then the data field's key and length. */
static size_t
rec_body_len(size_t len, int has_ehk)
{
	return 2 + (has_ehk ? 2 : 0) + 1 + varint_len(len) + len;
}

size_t
kpl_agg_frame_size(size_t pklen, size_t ehklen)
{
	size_t n = 4 + 1 + varint_len(pklen) + pklen + 16;

	if (ehklen > 0)
		n += 1 + varint_len(ehklen) + ehklen;
	return n;
}

size_t
kpl_agg_rec_size(size_t len, int has_ehk)
{
	size_t body = rec_body_len(len, has_ehk);

	return 1 + varint_len(body) + body;
}

void
kpl_agg_begin(struct buf *b, const char *pk, size_t pklen, const char *ehk,
    size_t ehklen)
{
	buf_add(b, KPL_MAGIC, 4);
	buf_field(b, 1, pk, pklen);
	if (ehk != NULL)
		buf_field(b, 2, ehk, ehklen);
}

void
kpl_agg_add(struct buf *b, const void *data, size_t len, int has_ehk)
{
	buf_char(b, 3 << 3 | 2);
	buf_varint(b, rec_body_len(len, has_ehk));
	buf_char(b, 1 << 3 | 0);
	buf_char(b, 0);
	if (has_ehk) {
		buf_char(b, 2 << 3 | 0);
		buf_char(b, 0);
	}
	buf_field(b, 3, data, len);
}

int
kpl_agg_end(struct buf *b, size_t start)
{
	unsigned char sum[16];

	if (b->failed || b->len < start + 4 ||
	    md5(b->p + start + 4, b->len - start - 4, sum) != 0)
		return -1;
	buf_add(b, sum, sizeof(sum));
	return b->failed ? -1 : 0;
}

int
kpl_dec128(const char *s, size_t n, unsigned char out[16])
{
	size_t i;

	memset(out, 0, 16);
	if (n == 0 || n > 39)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned carry;
		int j;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		carry = (unsigned)(s[i] - '0');
		/* out = out * 10 + digit, big-endian */
		for (j = 15; j >= 0; j--) {
			unsigned v = out[j] * 10u + carry;

			out[j] = (unsigned char)(v & 0xff);
			carry = v >> 8;
		}
		if (carry != 0)
			return -1;
	}
	return 0;
}

int
kpl_hash_key(const struct kpl_record *r, unsigned char out[16])
{
	if (r->ehk != NULL)
		return kpl_dec128(r->ehk, r->ehklen, out);
	return md5(r->pk, r->pklen, out);
}
