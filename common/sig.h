/*
 * sig.h - process-wide signal set-up shared by every tool.
 *
 * SIGPIPE is ignored, so a closed downstream shows up as EPIPE on write.
 * SIGINT and SIGTERM only set sig_stop; blocking reads and polls return
 * EINTR (no SA_RESTART), and the tool's loop then drains and flushes.
 */
#ifndef KP_SIG_H
#define KP_SIG_H

#include <signal.h>

extern volatile sig_atomic_t sig_stop;

/* Installs the handlers.  Returns 0, or -1. */
int sig_setup(void);

#endif
