/*
 * sig.h - process-wide signal set-up shared by every tool.
 *
 * SIGPIPE is ignored, so a closed downstream shows up as EPIPE on write.
 * SIGINT and SIGTERM only set sig_stop; blocking reads and polls return
 * EINTR (no SA_RESTART), and the tool's loop then drains and flushes.
 * sig_count counts them, so that a tool that stops at once on the second
 * one sees it even when both arrive before its loop looked at sig_stop.
 */
#ifndef KP_SIG_H
#define KP_SIG_H

#include <signal.h>

extern volatile sig_atomic_t sig_stop;
/* SIGINT and SIGTERM received so far (never reset; at most 1000). */
extern volatile sig_atomic_t sig_count;

/* Installs the handlers.  Returns 0, or -1. */
int sig_setup(void);

#endif
