/*
 * creds_process.c - the "credential-process" provider: the profile's
 * credential_process, run with /bin/sh -c, prints the JSON document of
 * "Sourcing credentials with an external process" (AWS SDKs and Tools
 * reference guide), "Version": 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "awsconf.h"
#include "creds_provider.h"
#include "msg.h"

/*
 * Starts cmd with /bin/sh -c, stdin from /dev/null (the tools read records
 * on stdin: a credential helper must not eat them), stdout into a pipe
 * whose read end is *rfd, stderr shared with ours.  Returns 0 with *pid,
 * or -1 with a message in err.
 */
static int
spawn(const char *what, const char *cmd, pid_t *pid, int *rfd, char *err,
    size_t errsz)
{
	int fds[2] = { -1, -1 };
	int rc = -1;

	*pid = -1;
	*rfd = -1;
	if (pipe(fds) < 0 || fcntl(fds[0], F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(fds[1], F_SETFD, FD_CLOEXEC) < 0) {
		msg_seterr(err, errsz, "%s: pipe: %s", what, strerror(errno));
		goto out;
	}
	fflush(stderr);
	*pid = fork();
	if (*pid < 0) {
		msg_seterr(err, errsz, "%s: fork: %s", what, strerror(errno));
		goto out;
	}
	if (*pid == 0) {
		/* Child: only async-signal-safe calls until exec. */
		int nullfd = open("/dev/null", O_RDONLY);

		if (nullfd < 0 || dup2(nullfd, STDIN_FILENO) < 0 ||
		    dup2(fds[1], STDOUT_FILENO) < 0)
			_exit(127);
		if (nullfd != STDIN_FILENO)
			close(nullfd);
		/* The tools ignore SIGPIPE; the helper should not inherit
		 * that. */
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	*rfd = fds[0];
	fds[0] = -1;
	rc = 0;
out:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	return rc;
}

/* Reads fd to its end into b (CREDS_MAX_DOC + 1 bytes), stopping once
 * more than CREDS_MAX_DOC came.  Returns 0, or errno of a failed read. */
static int
read_output(int fd, char *b, size_t *n, int *overflow)
{
	ssize_t r;

	*n = 0;
	*overflow = 0;
	for (;;) {
		r = read(fd, b + *n, CREDS_MAX_DOC + 1 - *n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno;
		if (r == 0)
			return 0;
		*n += (size_t)r;
		if (*n > CREDS_MAX_DOC) {
			*overflow = 1;
			return 0;
		}
	}
}

/*
 * Runs cmd (see spawn()) and captures its stdout up to CREDS_MAX_DOC
 * bytes.  Returns 0 with a new NUL-terminated *buf of *len bytes (wipe it
 * before freeing), or -1 with a message in err.
 */
static int
run_process(const char *what, const char *cmd, char **buf, size_t *len,
    char *err, size_t errsz)
{
	int fd = -1, status, rerr = 0, overflow = 0, rc = -1;
	pid_t pid = -1;
	char *b = NULL;
	size_t n = 0;

	*buf = NULL;
	*len = 0;
	b = malloc(CREDS_MAX_DOC + 1);
	if (b == NULL) {
		msg_seterr(err, errsz, "out of memory");
		goto out;
	}
	if (spawn(what, cmd, &pid, &fd, err, errsz) < 0)
		goto out;
	rerr = read_output(fd, b, &n, &overflow);
	/* Closing the pipe first lets a helper that writes too much end. */
	close(fd);
	fd = -1;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			msg_seterr(err, errsz, "%s: waitpid: %s", what,
			    strerror(errno));
			goto out;
		}
	}
	if (overflow) {
		msg_seterr(err, errsz, "%s: more than %d bytes of output", what,
		    CREDS_MAX_DOC);
		goto out;
	}
	if (rerr != 0) {
		msg_seterr(err, errsz, "%s: read: %s", what, strerror(rerr));
		goto out;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
		msg_seterr(err, errsz, "%s exited with status %d", what,
		    WEXITSTATUS(status));
		goto out;
	}
	if (WIFSIGNALED(status)) {
		msg_seterr(err, errsz, "%s was killed by signal %d", what,
		    WTERMSIG(status));
		goto out;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	b = NULL;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (b != NULL) {
		OPENSSL_cleanse(b, n);
		free(b);
	}
	return rc;
}

int
creds_provider_process(struct creds_call *call, struct creds *out)
{
	const char *cmd = creds_nonempty(awsconf_get(call->conf,
	    "credential_process"));
	char what[160], *buf = NULL;
	size_t len = 0;
	int rc = -1;

	if (cmd == NULL)
		return 0;
	snprintf(what, sizeof(what), "credential_process of profile \"%s\"",
	    awsconf_profile(call->conf));
	if (run_process(what, cmd, &buf, &len, call->err, call->errsz) < 0)
		goto out;
	if (creds_from_json(what, buf, len, "SessionToken", 1, out, call->err,
	    call->errsz) < 0)
		goto out;
	rc = 1;
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	return rc;
}
