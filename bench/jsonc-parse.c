/*
 * jsonc-parse - the ceiling of any tool that parses each line with json-c:
 * read NDJSON from stdin, parse each line with one reused tokener, read two
 * fields (a string and a number), and do nothing else.  bench/processor.sh
 * compares window-stats with it.
 *
 *   cc -O2 -o jsonc-parse bench/jsonc-parse.c $(pkg-config --cflags --libs json-c)
 *   jsonc-parse [--strict] [KEYFIELD [VALUEFIELD]] < ticks.ndjson
 *
 * --strict sets the tokener flags the kinpipe tools use (strict JSON, UTF-8
 * validated); by default json-c's defaults, the faster of the two.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json.h>

int
main(int argc, char **argv)
{
	const char *kf = "symbol", *vf = "price";
	struct json_tokener *tok = json_tokener_new();
	size_t cap = 1 << 20, start = 0, end = 0;
	char *buf = malloc(cap);
	unsigned long long n = 0, bad = 0, klen = 0;
	double sum = 0;
	int a = 1;
	ssize_t got;

	if (tok == NULL || buf == NULL)
		return 1;
	if (a < argc && strcmp(argv[a], "--strict") == 0) {
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
		    JSON_TOKENER_VALIDATE_UTF8);
		a++;
	}
	if (a < argc)
		kf = argv[a++];
	if (a < argc)
		vf = argv[a++];
	for (;;) {
		char *nl;

		while ((nl = memchr(buf + start, '\n', end - start)) != NULL) {
			struct json_object *o, *k, *v;
			size_t len = (size_t)(nl - (buf + start));

			json_tokener_reset(tok);
			o = json_tokener_parse_ex(tok, buf + start, (int)len);
			if (o != NULL && json_object_object_get_ex(o, kf, &k) &&
			    json_object_object_get_ex(o, vf, &v)) {
				klen += (unsigned long long)json_object_get_string_len(k);
				sum += json_object_get_double(v);
				n++;
			} else {
				bad++;
			}
			json_object_put(o);
			start += len + 1;
		}
		memmove(buf, buf + start, end - start);
		end -= start;
		start = 0;
		if (end == cap) {
			cap *= 2;
			if ((buf = realloc(buf, cap)) == NULL)
				return 1;
		}
		got = read(STDIN_FILENO, buf + end, cap - end);
		if (got <= 0)
			break;
		end += (size_t)got;
	}
	printf("%llu records, %llu bad, key bytes %llu, value sum %.6f\n", n,
	    bad, klen, sum);
	json_tokener_free(tok);
	free(buf);
	return 0;
}
