#include <string.h>

#include "sig.h"

volatile sig_atomic_t sig_stop;
volatile sig_atomic_t sig_count;

static void
on_stop(int signo)
{
	sig_stop = signo;
	if (sig_count < 1000)
		sig_count++;
}

int
sig_setup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		return -1;
	sa.sa_handler = on_stop;
	/* One handler at a time: sig_count++ is not atomic. */
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGTERM);
	sa.sa_flags = 0;
	if (sigaction(SIGINT, &sa, NULL) != 0 ||
	    sigaction(SIGTERM, &sa, NULL) != 0)
		return -1;
	return 0;
}
