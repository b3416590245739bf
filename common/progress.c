#include <stdarg.h>
#include <stdio.h>

#include "kptime.h"
#include "msg.h"
#include "progress.h"

void
progress_init(struct progress *p, int on)
{
	p->on = on;
	p->shown = 0;
	p->start_ms = p->last_ms = kptime_mono_ms();
	p->width = 0;
}

int
progress_due(struct progress *p)
{
	return p->on && kptime_mono_ms() - p->last_ms >= 1000;
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
