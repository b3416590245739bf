/*
 * fuzz.h - what the libFuzzer targets share: a NUL-terminated copy of an
 * input, its split in two at the first newline, and a private directory
 * for the targets whose parser reads a file.
 */
#ifndef KP_FUZZ_H
#define KP_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* data[0..size) as a new NUL-terminated string (free it). */
static inline char *
fz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Splits data at its first '\n': head[0..*hn), the rest after it (the
 * whole input is the head when there is none). */
static inline const uint8_t *
fz_split(const uint8_t *data, size_t size, size_t *hn, size_t *rn)
{
	const uint8_t *nl = memchr(data, '\n', size);

	*hn = nl != NULL ? (size_t)(nl - data) : size;
	*rn = nl != NULL ? size - *hn - 1 : 0;
	return nl != NULL ? nl + 1 : data + size;
}

/* A directory of this process for the targets that read files: made once,
 * removed at exit. */
const char *fz_dir(void);

/* Replaces the file name in fz_dir() by data[0..size); aborts on error. */
void fz_file(const char *name, const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
