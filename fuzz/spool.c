/*
 * spool: s3-put's part manifests (common/spool.c), as a restart reads
 * them.
 */
#include <stdio.h>

#include "spool.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct spool *sp;
	struct spool_meta m;
	char name[SPOOL_NAME_MAX], err[512];
	int cfg;

	if (sp == NULL && (sp = spool_open("fuzz", fz_dir(), "fuzz", err,
	    sizeof(err), &cfg)) == NULL)
		abort();
	spool_name(1, SPOOL_META, name);
	{
		char rel[SPOOL_NAME_MAX + 32];

		snprintf(rel, sizeof(rel), "%s/%s", strrchr(sp->dir, '/') + 1,
		    name);
		fz_file(rel, data, size);
	}
	memset(&m, 0, sizeof(m));
	if (spool_meta_read(sp, 1, &m) == 0)
		spool_meta_clear(&m);
	return 0;
}
