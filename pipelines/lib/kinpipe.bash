# kinpipe.bash: what the scripts of pipelines/ share.  Sourced, never run.
#
# The script sets KP_PROG (its name in messages) and KP_USAGE (its usage
# paragraph, identical to its man page's SYNOPSIS) before sourcing this file.
#
#   kp_msg TEXT...          "PROG: TEXT" on stderr
#   kp_die TEXT...          the same, exit 1 (runtime failure)
#   kp_config_error TEXT... the same, exit 2 (configuration: the reason alone)
#   kp_usage_error TEXT...  the same and the usage paragraph, exit 2
#   kp_value OPT ARG...     a usage error unless OPT has a value (ARG)
#   kp_duration OPT VALUE   a usage error unless VALUE looks like a DURATION
#   kp_tools TOOL...        find the tools: KP_TOOL[TOOL]=path (see below)
#   kp_pipeline_*           the checkpointed pipeline of processor and
#                           replay-batch (below)
#
# Exit statuses are kinpipe(7)'s: 0 ok, 1 runtime failure, 2 usage or
# configuration error, 3 some input rejected.

# make install writes the directory the tools were installed to here, and
# the version.
KP_INSTALLED_BIN=
KP_INSTALLED_VERSION=

# The checkout (or installed tree) this file belongs to.
KP_LIBDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KP_ROOTDIR=$(cd "$KP_LIBDIR/../.." && pwd)

declare -A KP_TOOL=()
KP_MAIN=$BASHPID

# kp_version: "PROG VERSION" on stdout: the version make install wrote, or
# the checkout's (its Makefile).
kp_version() {
	local v=$KP_INSTALLED_VERSION
	[[ -n $v || ! -f $KP_ROOTDIR/Makefile ]] ||
	    v=$(sed -n 's/^VERSION *= *//p' "$KP_ROOTDIR/Makefile")
	printf '%s %s\n' "$KP_PROG" "${v:-unknown}"
}

kp_msg() {
	printf '%s: %s\n' "$KP_PROG" "$*" >&2
}

kp_die() {
	kp_msg "$@"
	exit 1
}

kp_config_error() {
	kp_msg "$@"
	exit 2
}

kp_usage_error() {
	kp_msg "$@"
	printf '%s\n' "$KP_USAGE" >&2
	exit 2
}

# kp_value OPT [VALUE...]: OPT, as in "$@" of the option loop, has a value.
kp_value() {
	(($# >= 2)) || kp_usage_error "$1: needs a value"
}

# kp_duration OPT VALUE: a duration as kinpipe(7) writes them (1m, 250ms,
# 1h30m, 0); the tools check the rest (whole milliseconds, ranges).
kp_duration() {
	[[ $2 =~ ^(0|([0-9]+(\.[0-9]+)?(ms|s|m|h|d))+)$ ]] ||
	    kp_usage_error "$1: not a duration: $2"
}

# kp_tools TOOL...: sets KP_TOOL[TOOL] to the program to run, from the first
# of: $KINPIPE_BIN (a directory: it must hold them all), the build/bin of
# the checkout this script is in when it holds them all, the directory make
# install put them in, $PATH.  A missing tool is a configuration error.
kp_tools() {
	local t dir='' from=''
	if [[ -n ${KINPIPE_BIN:-} ]]; then
		dir=$KINPIPE_BIN
		from=KINPIPE_BIN
	elif kp_holds "$KP_ROOTDIR/build/bin" "$@"; then
		dir=$KP_ROOTDIR/build/bin
	elif [[ -n $KP_INSTALLED_BIN ]] && kp_holds "$KP_INSTALLED_BIN" "$@"; then
		dir=$KP_INSTALLED_BIN
	fi
	for t; do
		if [[ -n $dir ]]; then
			[[ -x $dir/$t && -f $dir/$t ]] ||
			    kp_config_error "$dir/$t: no such program ($from=$dir)"
			KP_TOOL[$t]=$dir/$t
		else
			KP_TOOL[$t]=$(command -v "$t") ||
			    kp_config_error "$t: not found in KINPIPE_BIN, $KP_ROOTDIR/build/bin or PATH (run make, or set KINPIPE_BIN)"
		fi
	done
}

# kp_holds DIR TOOL...: DIR has every TOOL.
kp_holds() {
	local dir=$1 t
	shift
	for t; do
		[[ -x $dir/$t && -f $dir/$t ]] || return 1
	done
}

# kp_worst STATUS...: sets KP_EXIT to the status of several: 2 before 1
# before 3 before 0, as kinpipe(7) orders them (fix the command, retry
# later, rejected input).  A status outside 0-3 (a signal, 126, 127) counts
# as 1.  No subshell: a Ctrl-C must not cut it short.
kp_worst() {
	local s
	KP_EXIT=0
	for s; do
		((s >= 0 && s <= 3)) || s=1
		case $s in
		2) KP_EXIT=2 ;;
		1) ((KP_EXIT == 2)) || KP_EXIT=1 ;;
		3) ((KP_EXIT != 0)) || KP_EXIT=3 ;;
		esac
	done
}

# ---- the checkpointed pipeline (processor, replay-batch) ----
#
# kin-read | window-stats --emit records | sigma-flag | s3-put, every stage
# on the one checkpoint directory.  Each stage runs in a session of its own
# (setsid), so that a Ctrl-C on the terminal reaches the script alone: the
# script then stops kin-read, whose final barrier flows through and is
# committed by s3-put.  The stages are joined by named pipes in a private
# folder so that the script knows each one's pid and exit status.

# The options, set from the environment, then from the command line.
kp_pipeline_defaults() {
	KP_STREAM=${KINPIPE_STREAM:-}
	KP_DEST=${KINPIPE_DEST:-}
	KP_CKDIR=${KINPIPE_CHECKPOINT_DIR:-}
	KP_INTERVAL=${KINPIPE_CHECKPOINT_INTERVAL:-}
	KP_FROM=${KINPIPE_FROM:-}
	KP_JOB=${KINPIPE_JOB:-}
	KP_SIZE=${KINPIPE_WINDOW_SIZE:-1m}
	KP_OOO=${KINPIPE_OUT_OF_ORDERNESS:-}
	KP_SIGMA=${KINPIPE_SIGMA:-3}
	KP_KEY=${KINPIPE_KEY_FIELD:-symbol}
	KP_TIME=${KINPIPE_TIME_FIELD:-timestamp}
	KP_VALUE=${KINPIPE_VALUE_FIELD:-price}
	KP_ROLLOVER=${KINPIPE_ROLLOVER:-}
	KP_STATS=${KINPIPE_STATS:-}
	KP_REGION=
	KP_PROFILE=
	KP_FINAL=0
	KP_VERBOSITY=()
}

# kp_pipeline_options FINAL_OK ARG...: parses the command line; FINAL_OK=1
# accepts --final.  -h and --help print KP_HELP and exit 0.
kp_pipeline_options() {
	local final_ok=$1 c
	shift
	kp_pipeline_defaults
	while (($#)); do
		case $1 in
		--*=*)
			set -- "${1%%=*}" "${1#*=}" "${@:2}"
			continue
			;;
		--help)
			printf '%s\n' "$KP_HELP"
			exit 0
			;;
		--version)
			kp_version
			exit 0
			;;
		--quiet | --verbose)
			KP_VERBOSITY+=("${1:1:2}")
			shift
			continue
			;;
		-[hqv]*)
			c=${1#-}
			while [[ -n $c ]]; do
				case ${c:0:1} in
				h)
					printf '%s\n' "$KP_HELP"
					exit 0
					;;
				q) KP_VERBOSITY+=(-q) ;;
				v) KP_VERBOSITY+=(-v) ;;
				*) kp_usage_error "unknown option: -${c:0:1}" ;;
				esac
				c=${c:1}
			done
			shift
			continue
			;;
		--final)
			((final_ok)) || kp_usage_error "unknown option: $1"
			KP_FINAL=1
			shift
			continue
			;;
		--checkpoint-dir | --checkpoint-interval | --dest | --from | \
		    --job | --key-field | --out-of-orderness | --profile | \
		    --region | --rollover | --sigma | --size | --stats | \
		    --stream | --time-field | --value-field)
			kp_value "$@"
			;;
		-*)
			kp_usage_error "unknown option: $1"
			;;
		*)
			kp_usage_error "unexpected argument: $1"
			;;
		esac
		case $1 in
		--checkpoint-dir) KP_CKDIR=$2 ;;
		--checkpoint-interval) KP_INTERVAL=$2 ;;
		--dest) KP_DEST=$2 ;;
		--from) KP_FROM=$2 ;;
		--job) KP_JOB=$2 ;;
		--key-field) KP_KEY=$2 ;;
		--out-of-orderness) KP_OOO=$2 ;;
		--profile) KP_PROFILE=$2 ;;
		--region) KP_REGION=$2 ;;
		--rollover) KP_ROLLOVER=$2 ;;
		--sigma) KP_SIGMA=$2 ;;
		--size) KP_SIZE=$2 ;;
		--stats) KP_STATS=$2 ;;
		--stream) KP_STREAM=$2 ;;
		--time-field) KP_TIME=$2 ;;
		--value-field) KP_VALUE=$2 ;;
		esac
		shift 2
	done
	[[ -n $KP_STREAM ]] ||
	    kp_usage_error "no stream: --stream NAME or KINPIPE_STREAM"
	[[ -n $KP_DEST ]] ||
	    kp_usage_error "no destination: --dest URI or KINPIPE_DEST"
	[[ -n $KP_CKDIR ]] ||
	    kp_usage_error "no checkpoint directory: --checkpoint-dir DIR or KINPIPE_CHECKPOINT_DIR"
	[[ -z $KP_INTERVAL ]] || kp_duration --checkpoint-interval "$KP_INTERVAL"
	[[ -z $KP_OOO ]] || kp_duration --out-of-orderness "$KP_OOO"
	[[ -z $KP_ROLLOVER ]] || kp_duration --rollover "$KP_ROLLOVER"
	kp_duration --size "$KP_SIZE"
	[[ $KP_SIGMA =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
	    kp_usage_error "--sigma: not a positive number: $KP_SIGMA"
	local f
	for f in "$KP_KEY" "$KP_TIME" "$KP_VALUE"; do
		[[ -n $f ]] || kp_usage_error "a field path is empty"
	done
	if [[ -n $KP_STATS ]]; then
		command -v jq >/dev/null ||
		    kp_config_error "--stats needs jq, which is not installed"
		[[ -d $(dirname "$KP_STATS") ]] ||
		    kp_config_error "$(dirname "$KP_STATS"): No such file or directory"
	fi
	return 0
}

# kp_pipeline_lock: creates the checkpoint directory if needed and takes
# DIR/.pipeline.lock (flock -n) for the life of the script and its stages
# (the descriptor is inherited).  Busy: exit 1 with a message naming it.
kp_pipeline_lock() {
	local lock
	(umask 077 && mkdir -p -- "$KP_CKDIR") ||
	    kp_die "$KP_CKDIR: cannot create the checkpoint directory"
	lock=$KP_CKDIR/.pipeline.lock
	exec {KP_LOCKFD}>>"$lock" || kp_die "$lock: cannot open the lock file"
	flock -n "$KP_LOCKFD" ||
	    kp_die "$lock: locked by another run on this checkpoint directory (a replay-batch or processor still running): not started"
}

# kp_pipeline_start FOLLOW: starts the stages, FOLLOW=1 for a long-running
# job (kin-read --follow).  Sets KP_PID[STAGE], KP_STAGES (in order).  The
# script has found the tools (kp_tools) before it took the lock.
kp_pipeline_start() {
	local follow=$1 kr ws sf sp common=()
	KP_STAGES=(kin-read window-stats sigma-flag s3-put)
	KP_RUN=$(mktemp -d "${TMPDIR:-/tmp}/$KP_PROG.XXXXXX") ||
	    kp_die "cannot create a temporary folder"
	mkfifo "$KP_RUN/ws" "$KP_RUN/sf" "$KP_RUN/sp" "$KP_RUN/out" ||
	    kp_die "$KP_RUN: cannot create the pipes"

	# Four progress lines on one terminal would overwrite each other:
	# --stats is how a pipeline is watched.
	common=(--no-progress "${KP_VERBOSITY[@]}")
	kr=(--stream "$KP_STREAM" --checkpoint-dir "$KP_CKDIR")
	((!follow)) || kr+=(--follow)
	[[ -z $KP_INTERVAL ]] || kr+=(--checkpoint-interval "$KP_INTERVAL")
	[[ -z $KP_FROM ]] || kr+=(--from "$KP_FROM")
	[[ -z $KP_JOB ]] || kr+=(--job "$KP_JOB")
	ws=(--key-field "$KP_KEY" --time-field "$KP_TIME"
	    --value-field "$KP_VALUE" --size "$KP_SIZE" --emit records
	    --checkpoint-dir "$KP_CKDIR")
	[[ -z $KP_OOO ]] || ws+=(--out-of-orderness "$KP_OOO")
	((!KP_FINAL)) || ws+=(--final)
	sf=(--sigma "$KP_SIGMA" --value-field "$KP_VALUE")
	sp=(--checkpoint-dir "$KP_CKDIR" --time-field "$KP_TIME")
	[[ -z $KP_JOB ]] || sp+=(--job "$KP_JOB")
	[[ -z $KP_ROLLOVER ]] || sp+=(--rollover "$KP_ROLLOVER")
	local aws=()
	[[ -z $KP_REGION ]] || aws+=(--region "$KP_REGION")
	[[ -z $KP_PROFILE ]] || aws+=(--profile "$KP_PROFILE")
	kr+=("${aws[@]}")
	sp+=("${aws[@]}")
	if [[ -n $KP_STATS ]]; then
		kr+=(--stats "$KP_RUN/kin-read.json")
		ws+=(--stats "$KP_RUN/window-stats.json")
		sf+=(--stats "$KP_RUN/sigma-flag.json")
		sp+=(--stats "$KP_RUN/s3-put.json")
	fi

	declare -gA KP_PID=() KP_STATUS=()
	KP_STARTED=$(date -u +%s%3N)
	# From here a signal stops the job (kp_pipeline_stop), even one that
	# comes before kin-read is started.
	KP_SIGNALS=0
	trap kp_pipeline_stop TERM INT HUP
	# Downstream first, so that each pipe has its reader.  Only object
	# lines reach stdout: control lines are for the stages.
	setsid sed -u '/^{"__kinpipe":/d' <"$KP_RUN/out" &
	KP_FILTER=$!
	setsid "${KP_TOOL[s3-put]}" "${common[@]}" "${sp[@]}" -- "$KP_DEST" \
	    <"$KP_RUN/sp" >"$KP_RUN/out" &
	KP_PID[s3-put]=$!
	setsid "${KP_TOOL[sigma-flag]}" "${common[@]}" "${sf[@]}" \
	    <"$KP_RUN/sf" >"$KP_RUN/sp" &
	KP_PID[sigma-flag]=$!
	setsid "${KP_TOOL[window-stats]}" "${common[@]}" "${ws[@]}" \
	    <"$KP_RUN/ws" >"$KP_RUN/sf" &
	KP_PID[window-stats]=$!
	setsid "${KP_TOOL[kin-read]}" "${common[@]}" "${kr[@]}" \
	    </dev/null >"$KP_RUN/ws" &
	KP_PID[kin-read]=$!
	((KP_SIGNALS == 0)) || kill -TERM "${KP_PID[kin-read]}" 2>/dev/null ||
	    true
	[[ " ${KP_VERBOSITY[*]} " != *" -v "* ]] ||
	    kp_msg "started: kin-read ${KP_PID[kin-read]}, window-stats ${KP_PID[window-stats]}, sigma-flag ${KP_PID[sigma-flag]}, s3-put ${KP_PID[s3-put]}"
}

# kp_pipeline_stop: the first signal stops kin-read alone (a final barrier,
# committed by s3-put: Flink's stop-with-savepoint); a second one stops
# every stage still running (the last commit stands).
kp_pipeline_stop() {
	local s
	KP_SIGNALS=$((${KP_SIGNALS:-0} + 1))
	if ((KP_SIGNALS == 1)); then
		! kp_running kin-read ||
		    kill -TERM "${KP_PID[kin-read]}" 2>/dev/null || true
	else
		for s in "${KP_STAGES[@]}"; do
			! kp_running "$s" ||
			    kill -TERM "${KP_PID[$s]}" 2>/dev/null || true
		done
	fi
	return 0
}

# kp_running STAGE: STAGE was started and its exit not yet collected.
kp_running() {
	[[ -n ${KP_PID[$1]:-} && -z ${KP_STATUS[$1]:-} ]]
}

# kp_pipeline_wait: collects every stage; writes the --stats file every
# 2 seconds and at the end.  A stage that fails while others run stops
# kin-read, so that the pipeline winds down.  Sets KP_EXIT to the
# pipeline's status (kp_worst of the stages').  Not in a subshell: the
# stages are children of the script.
kp_pipeline_wait() {
	local pids=() s id rc ticker='' statuses=()
	while :; do
		pids=()
		for s in "${KP_STAGES[@]}"; do
			! kp_running "$s" || pids+=("${KP_PID[$s]}")
		done
		((${#pids[@]})) || break
		if [[ -n $KP_STATS && -z $ticker ]]; then
			kp_stats_safe true
			sleep 2 &
			ticker=$!
		fi
		id=
		rc=0
		wait -n -p id "${pids[@]}" ${ticker:+"$ticker"} || rc=$?
		# No id: a signal interrupted the wait (the trap has run).
		[[ -n ${id:-} ]] || continue
		if [[ $id == "$ticker" ]]; then
			ticker=
			continue
		fi
		for s in "${KP_STAGES[@]}"; do
			[[ ${KP_PID[$s]} == "$id" ]] || continue
			KP_STATUS[$s]=$rc
			if ((rc > 128)); then
				kp_msg "$s killed by signal $((rc - 128))"
			elif ((rc != 0)); then
				kp_msg "$s exited with status $rc"
			fi
			if ((rc != 0)) && kp_running kin-read; then
				kill -TERM "${KP_PID[kin-read]}" 2>/dev/null || true
			fi
		done
	done
	# SIGKILL: a ticker not yet exec'd is still a copy of this script,
	# which SIGTERM would send down the script's exit path.
	if [[ -n $ticker ]]; then
		kill -KILL "$ticker" 2>/dev/null || true
		wait "$ticker" 2>/dev/null || true
	fi
	wait "$KP_FILTER" || kp_msg "writing the object lines failed"
	trap - TERM INT HUP
	[[ -z $KP_STATS ]] || kp_stats_safe false
	for s in "${KP_STAGES[@]}"; do
		statuses+=("${KP_STATUS[$s]}")
	done
	kp_worst "${statuses[@]}"
}

# kp_pipeline_cleanup: removes the private folder (call from an EXIT trap).
# A child that is killed between fork and exec runs the EXIT trap it
# inherited: only the script itself may clean up.
kp_pipeline_cleanup() {
	[[ $BASHPID == "$KP_MAIN" ]] || return 0
	[[ -z ${KP_RUN:-} ]] || rm -rf -- "$KP_RUN"
}

# kp_stats_safe RUNNING: kp_stats_write in a subshell that ignores SIGINT
# and SIGHUP, as its commands do: the Ctrl-C of a terminal reaches the
# whole foreground process group, and must stop the job, not the writing.
kp_stats_safe() {
	(
		trap '' INT HUP
		kp_stats_write "$1"
	) || true
}

# kp_stats_write RUNNING: the --stats file, replaced atomically (a temporary
# file in the same directory, then mv).  Fields: kinpipe-processor(1).
kp_stats_write() {
	local running=$1 tmp s now args=() exits=() pids=()
	tmp=$(dirname "$KP_STATS")/.$(basename "$KP_STATS").$$.tmp
	# A tool replaces its stats file by rename, and s3-put its commit
	# record: either is read whole, old or new.
	for s in "${KP_STAGES[@]}" commit; do
		local f=$KP_RUN/$s.json
		[[ $s != commit ]] || f=$KP_CKDIR/commit.json
		if [[ -s $f ]]; then
			args+=(--slurpfile "${s//-/_}" "$f")
		else
			args+=(--argjson "${s//-/_}" '[]')
		fi
	done
	for s in "${KP_STAGES[@]}"; do
		exits+=("${KP_STATUS[$s]:-null}")
		pids+=("${KP_PID[$s]}")
	done
	now=$(date -u +'%s%3N %Y-%m-%dT%H:%M:%S.%3NZ')
	local rc=0
	jq -n -c "${args[@]}" \
	    --arg tool "$KP_PROG" --argjson pid "$$" \
	    --argjson now "${now% *}" --arg time "${now#* }" \
	    --argjson started "$KP_STARTED" --argjson running "$running" \
	    --arg stream "$KP_STREAM" --arg dest "$KP_DEST" \
	    --arg ckdir "$KP_CKDIR" \
	    --argjson pids "[$(IFS=,; printf '%s' "${pids[*]}")]" \
	    --argjson exits "[$(IFS=,; printf '%s' "${exits[*]}")]" '
	    def ms: capture("^(?<s>[^.Z]+)([.](?<f>[0-9]+))?Z$")
	        | ((.s + "Z") | fromdateiso8601) * 1000
	          + (((.f // "0") + "00")[0:3] | tonumber);
	    ($commit[0] // null) as $c
	    | ["kin-read", "window-stats", "sigma-flag", "s3-put"] as $names
	    | [$kin_read[0], $window_stats[0], $sigma_flag[0], $s3_put[0]] as $st
	    | {
	        tool: $tool, pid: $pid, time: $time, running: $running,
	        uptime_ms: ($now - $started),
	        stream: $stream, dest: $dest, checkpoint_dir: $ckdir,
	        job: ($c.job // null),
	        records_in: ($st[0].records_out // null),
	        records_out: ($st[3].records_in // null),
	        flagged: ($st[2].flagged // null),
	        lag_ms: ($st[0].behind_ms // null),
	        checkpoint_id: ($c.id // null),
	        checkpoint_time: ($c.time // null),
	        checkpoint_age_ms: (if $c.time then $now - ($c.time | ms)
	            else null end),
	        objects: ($st[3].objects // null),
	        stages: ([range(4) as $i | {key: $names[$i], value: {
	            pid: $pids[$i], exit: $exits[$i],
	            records_in: (if $st[$i] == null then null
	                elif $i == 0 then $st[0].records_out + $st[0].rejected
	                else $st[$i].records_in end),
	            records_out: (if $st[$i] == null or $i == 3 then null
	                else $st[$i].records_out end),
	            stats: $st[$i]}}] | from_entries)
	    }' >"$tmp" 2>"$KP_RUN/stats.err" || rc=$?
	if ((rc != 0)); then
		kp_msg "--stats: cannot write $KP_STATS: $(head -n 1 "$KP_RUN/stats.err")"
		rm -f -- "$tmp"
		return 0
	fi
	mv -f -- "$tmp" "$KP_STATS" ||
	    kp_msg "--stats: cannot replace $KP_STATS"
	return 0
}
