# shellcheck disable=SC2034 # CKP_RUN, CKP_FP_URL, ... are for the callers
# tests/lib/ckpipe.bash: a checkpointed pipeline whose stages can be killed
# one by one, for tests/checkpoint.bats and tests/chaos.bats.  Load it after
# helpers (`load lib/ckpipe`).
#
# The pipeline is
#     kin-read | window-stats | sigma-flag [| FILTER...] | s3-put
# with each stage a background process of its own, joined by named pipes
# (mkfifo) instead of `|`, so that each stage has a PID a test can kill.
# Each stage keeps fd 3 closed (bats waits for it otherwise).
#
# Variables (arrays; set them before ckp_start):
#   CKP_KR   kin-read's options (after --stream and --checkpoint-dir)
#   CKP_WS   window-stats' options (after --checkpoint-dir)
#   CKP_SF   sigma-flag's options
#   CKP_FILTER
#            a foreign filter placed between sigma-flag and s3-put (a
#            command and its arguments), or empty
#   CKP_S3   s3-put's options (after --checkpoint-dir, before DEST)
#   CKP_LOG  a file of diagnostics (each start, kill and exit), appended
#
# Functions
#   ckp_start WORK CKDIR STREAM DEST
#       starts the pipeline; its files go to WORK/run.N (N from 1): the
#       fifos, each stage's stderr (kin-read.err ...), --stats files
#       (kin-read.stats ...), s3-put's standard output (s3-put.out).
#       Sets CKP_RUN (that folder), CKP_PIDS and CKP_NAMES (in pipeline
#       order).
#   ckp_wait [SECONDS]
#       waits until every stage has exited (at most SECONDS, default 120)
#       and sets CKP_RCS (their statuses, in order).  Returns 1 when a stage
#       is still running at the end: it is left running (ckp_kill_all).
#   ckp_running
#       true while any stage runs.
#   ckp_kill_all
#       SIGKILL to every stage still running, then waits for them.
#   ckp_status
#       "kin-read=0 window-stats=0 ..." of the last ckp_wait.
#   ckp_note TEXT
#       TEXT on a line of CKP_LOG, after the time.

ckp_note() {
	[[ -n ${CKP_LOG:-} ]] || return 0
	printf '%s %s\n' "$(date +%H:%M:%S.%N | cut -c1-12)" "$*" >>"$CKP_LOG"
}

ckp_start() {
	local work=$1 ck=$2 stream=$3 dest=$4 n=1 d i
	mkdir -p "$work"
	while [[ -e $work/run.$n ]]; do
		n=$((n + 1))
	done
	d=$work/run.$n
	mkdir -p "$d"
	CKP_RUN=$d
	mkfifo "$d/p1" "$d/p2" "$d/p3"
	CKP_NAMES=(kin-read window-stats sigma-flag)
	CKP_PIDS=()
	kin-read --stream "$stream" --checkpoint-dir "$ck" \
	    --stats "$d/kin-read.stats" "${CKP_KR[@]}" \
	    >"$d/p1" 2>"$d/kin-read.err" 3>&- &
	CKP_PIDS+=($!)
	window-stats --checkpoint-dir "$ck" --stats "$d/window-stats.stats" \
	    "${CKP_WS[@]}" <"$d/p1" >"$d/p2" 2>"$d/window-stats.err" 3>&- &
	CKP_PIDS+=($!)
	sigma-flag --stats "$d/sigma-flag.stats" "${CKP_SF[@]}" \
	    <"$d/p2" >"$d/p3" 2>"$d/sigma-flag.err" 3>&- &
	CKP_PIDS+=($!)
	if ((${#CKP_FILTER[@]})); then
		mkfifo "$d/p4"
		"${CKP_FILTER[@]}" <"$d/p3" >"$d/p4" 2>"$d/filter.err" 3>&- &
		CKP_PIDS+=($!)
		CKP_NAMES+=(filter)
		i=$d/p4
	else
		i=$d/p3
	fi
	s3-put --checkpoint-dir "$ck" --stats "$d/s3-put.stats" "${CKP_S3[@]}" \
	    "$dest" <"$i" >"$d/s3-put.out" 2>"$d/s3-put.err" 3>&- &
	CKP_PIDS+=($!)
	CKP_NAMES+=(s3-put)
	ckp_note "start $(basename "$d"): ${CKP_NAMES[*]} = ${CKP_PIDS[*]}"
}

ckp_running() {
	local p
	for p in "${CKP_PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null && return 0
	done
	return 1
}

ckp_wait() {
	local limit=${1:-120} i rc
	# Bash reaps its children as they end: kill -0 fails once one has.
	for ((i = 0; i < limit * 20; i++)); do
		ckp_running || break
		sleep 0.05
	done
	if ckp_running; then
		ckp_note "still running after ${limit}s: $(ckp_alive)"
		return 1
	fi
	CKP_RCS=()
	for i in "${!CKP_PIDS[@]}"; do
		rc=0
		# (bash reports a stage killed by a signal on wait's stderr)
		wait "${CKP_PIDS[$i]}" 2>/dev/null || rc=$?
		CKP_RCS+=("$rc")
	done
	ckp_note "exit $(basename "$CKP_RUN"): $(ckp_status)"
}

# The stages still running, by name.
ckp_alive() {
	local i out=
	for i in "${!CKP_PIDS[@]}"; do
		kill -0 "${CKP_PIDS[$i]}" 2>/dev/null && out+="${CKP_NAMES[$i]} "
	done
	printf '%s\n' "${out% }"
}

ckp_status() {
	local i out=
	for i in "${!CKP_NAMES[@]}"; do
		out+="${CKP_NAMES[$i]}=${CKP_RCS[$i]:-?} "
	done
	printf '%s\n' "${out% }"
}

ckp_kill_all() {
	local p
	for p in "${CKP_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	ckp_wait 30
}

# ckp_stderr: every stage's stderr of the last run, each line after its
# file name (for a failure's report).
ckp_stderr() {
	local f
	for f in "$CKP_RUN"/*.err; do
		[[ -s $f ]] && sed "s|^|$(basename "$f" .err): |" "$f"
	done
	return 0
}

# ckp_proxy UPSTREAM RULES DIR: a fault proxy (tests/lib/faultproxy.js)
# in front of UPSTREAM with the rules RULES (JSON text), its files in DIR
# (rules.json, fp.log, fp.err); sets CKP_FP_PID and CKP_FP_URL.  Stop it
# with ckp_proxy_stop.
ckp_proxy() {
	local i
	mkdir -p "$3"
	printf '%s\n' "$2" >"$3/rules.json"
	rm -f "$3/fp.port"
	"$KP_NODE" "$KP_ROOT/tests/lib/faultproxy.js" --upstream "$1" \
	    --rules "$3/rules.json" --port-file "$3/fp.port" --log "$3/fp.log" \
	    >"$3/fp.out" 2>"$3/fp.err" 3>&- &
	CKP_FP_PID=$!
	for ((i = 0; i < 400; i++)); do
		[[ -s $3/fp.port ]] && break
		sleep 0.05
	done
	[[ -s $3/fp.port ]] || return 1
	CKP_FP_URL=http://127.0.0.1:$(cat "$3/fp.port")
}

ckp_proxy_stop() {
	[[ -n ${CKP_FP_PID:-} ]] || return 0
	kill "$CKP_FP_PID" 2>/dev/null || true
	wait "$CKP_FP_PID" 2>/dev/null || true
	CKP_FP_PID=
}
