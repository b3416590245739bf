#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "kpfs.h"

#include "kptime.h"
#include "msg.h"
#include "progress.h"

void
progress_init(struct progress *p, int on, const char *stats)
{
	p->on = on;
	p->stats = stats;
	p->warned = 0;
	p->shown = 0;
	p->start_ms = p->last_ms = kptime_mono_ms();
	p->width = 0;
}

int
progress_due(struct progress *p)
{
	return (p->on || p->stats != NULL) &&
	    kptime_mono_ms() - p->last_ms >= 1000;
}

int
progress_wait(const struct progress *p)
{
	int64_t left;

	if (!p->on && p->stats == NULL)
		return -1;
	left = 1000 - (kptime_mono_ms() - p->last_ms);
	return left > 0 ? (int)left : 0;
}

void
progress_span(int64_t ms, char *out, size_t outsz)
{
	if (ms < 60000)
		snprintf(out, outsz, "%.1fs", (double)ms / 1000.0);
	else if (ms < 3600000)
		snprintf(out, outsz, "%lldm%02llds", (long long)(ms / 60000),
		    (long long)(ms / 1000 % 60));
	else
		snprintf(out, outsz, "%lldh%02lldm", (long long)(ms / 3600000),
		    (long long)(ms / 60000 % 60));
}

double
progress_elapsed(const struct progress *p)
{
	return (double)(kptime_mono_ms() - p->start_ms) / 1000.0;
}

void
progress_show(struct progress *p, int final, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	int n;

	p->last_ms = kptime_mono_ms();
	if (!p->on)
		return;
	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n >= (int)sizeof(text))
		n = (int)sizeof(text) - 1;
	/* One write per line, padded over what the last one left. */
	fprintf(stderr, "\r%s: %s%*s%s", msg_prog(), text,
	    p->width > n ? p->width - n : 0, "", final ? "\n" : "");
	fflush(stderr);
	p->width = n;
	p->shown = !final;
	p->last_ms = kptime_mono_ms();
}

int
progress_stats(struct progress *p, int final, const struct buf *fields)
{
	struct buf b = BUF_INIT;
	const char *slash, *base;
	char dir[PATH_MAX];
	int dfd = -1, rc = -1;

	if (p->stats == NULL)
		return 0;
	p->last_ms = kptime_mono_ms();
	buf_lit(&b, "{\"tool\":");
	buf_jstrz(&b, msg_prog());
	buf_lit(&b, ",\"pid\":");
	buf_i64(&b, (int64_t)getpid());
	buf_lit(&b, ",\"time\":");
	buf_time(&b, kptime_now_ms());
	buf_lit(&b, ",\"elapsed_ms\":");
	buf_i64(&b, kptime_mono_ms() - p->start_ms);
	buf_str(&b, final ? ",\"running\":false" : ",\"running\":true");
	if (fields->len > 0) {
		buf_char(&b, ',');
		buf_add(&b, fields->p, fields->len);
	}
	buf_lit(&b, "}\n");
	slash = strrchr(p->stats, '/');
	base = slash != NULL ? slash + 1 : p->stats;
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - p->stats + 1),
		    p->stats);
	if (!b.failed && fields->failed == 0)
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0 && kpfs_write_atomic(dfd, base, b.p, b.len) == 0)
		rc = 0;
	if (rc != 0 && !p->warned) {
		msg_warn("--stats %s: %s", p->stats, b.failed ? "out of memory" :
		    strerror(errno));
		p->warned = 1;
	}
	if (dfd >= 0)
		close(dfd);
	buf_free(&b);
	return rc;
}
