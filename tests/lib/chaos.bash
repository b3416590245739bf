# shellcheck disable=SC2034 # CKP_* and CHAOS_STREAM are for the callers
# tests/lib/chaos.bash: the chaos run of tests/chaos.bats (load after
# helpers and lib/ckpipe).
#
#   chaos_run MODE INPUT WORK
#   chaos_check WORK PREFIX JOB EXPECTED
#
# MODE is "follow" (the long-running job: kin-read --follow, the last run
# stopped by SIGTERM to kin-read once the stream is drained) or "cron"
# (bounded runs, each to the stream's tip).  INPUT is put into a new 4-shard
# stream in chunks while the pipeline runs: by a producer in the
# background, spread over CHAOS_PUT_SECONDS (follow), or one chunk put
# while each run goes (cron).  The pipeline is started again and again and,
# at a random moment, one random stage (one time in four: every stage) is
# killed with SIGKILL, until CHAOS_KILLS kills were made and every chunk
# is in.  Then a clean run to the end, and an uninterrupted reference run
# of the same mode over the same stream into another prefix.  Both prefixes
# are read back into WORK/chaos and WORK/ref (keys, records).
#
# Environment: CHAOS_SEED (bash RANDOM's seed: the choices of victims,
# moments and cuts; the timing is the machine's; printed first in the log),
# CHAOS_KILLS (default 5), CHAOS_PUT_SECONDS (default 1.5 s a kill).
# Diagnostics (every start with its options, kill and exit) go to CKP_LOG;
# the runs' files stay in WORK.

CHAOS_BUCKET=chaos

# chaos_tips RECEIPTS: "SHARD SEQ" of the last record put on each shard.
chaos_tips() {
	jq -r '"\(.shard) \(.seq)"' "$1" |
	    awk '{ q = $2 ""	# a string: as numbers, 56 digits compare wrong
	        if (!($1 in m) || length(q) > length(m[$1]) ||
	        (length(q) == length(m[$1]) && q > m[$1])) m[$1] = q }
	        END { for (s in m) print s, m[s] }' | sort
}

# chaos_drained CKDIR TIPS: the last commit's position of every shard is
# its tip.
chaos_drained() {
	local s q got
	[[ -s $1/commit.json ]] || return 1
	while read -r s q; do
		got=$(jq -r --arg s "$s" '.positions[$s].seq // empty' "$1/commit.json" 2>/dev/null) ||
		    return 1
		[[ $got == "$q" ]] || return 1
	done <"$2"
}

# chaos_commit_id CKDIR: the id of the last commit, 0 before the first.
chaos_commit_id() {
	jq -r '.id // 0' "$1/commit.json" 2>/dev/null || echo 0
}

# chaos_wait_commit CKDIR ID: waits until the last commit's id is ID or
# more, or the pipeline has ended (at most a minute).
chaos_wait_commit() {
	local i
	for ((i = 0; i < 3000; i++)); do
		(($(chaos_commit_id "$1") >= $2)) && return 0
		ckp_running || return 0
		sleep 0.02
	done
}

# chaos_put CHUNK STREAM RECEIPTS: one chunk into the stream, its
# receipts appended to RECEIPTS.
chaos_put() {
	kin-put --stream "$2" --partition-key-field symbol --receipts \
	    <"$1" >>"$3" 2>>"$1.err" || {
		echo "kin-put failed on $1" >>"$1.err"
		return 1
	}
}

# chaos_producer STREAM RECEIPTS SECONDS CHUNK...: puts the chunks one
# after the other, spread over SECONDS.
chaos_producer() {
	local stream=$1 rec=$2 secs=$3 c pause
	shift 3
	pause=$(awk -v s="$secs" -v n=$# 'BEGIN { printf "%.2f", s / n }')
	for c; do
		chaos_put "$c" "$stream" "$rec" || return 1
		sleep "$pause"
	done
}

# chaos_options MODE [plain]: the stages' options of one run (CKP_*).  Every
# other run also cuts epochs by record count, at a random count, and reads
# at most a random number of records a GetRecords call (at most five calls
# a second a shard: a run of a few thousand records then lasts a few
# seconds and commits several times), so that the shards interleave
# differently in every epoch of every run.  "plain" (the runs to the end):
# none of that, at full speed.
chaos_options() {
	CKP_KR=(--checkpoint-interval 300ms --poll-interval 200ms)
	[[ $1 == follow ]] && CKP_KR+=(--follow)
	if [[ ${2:-} != plain ]] && ((RANDOM % 2)); then
		CKP_KR+=(--checkpoint-records $((RANDOM % 2000 + 100)))
	fi
	if [[ ${2:-} != plain ]] && ((RANDOM % 2)); then
		CKP_KR+=(--limit $((RANDOM % 400 + 100)))
	fi
	CKP_WS=(--key-field symbol --size 1m --emit records)
	CKP_SF=(--all)
	CKP_FILTER=()
	CKP_S3=(--rollover 1s --inactivity 1s --max-records 20000)
}

# chaos_last_run_ok: every stage of the last run exited 0.
chaos_last_run_ok() {
	local rc
	for rc in "${CKP_RCS[@]}"; do
		[[ $rc == 0 ]] || return 1
	done
}

# chaos_finish MODE CKDIR STREAM DEST TIPS: a clean run to the end: a
# bounded run (cron), or --follow stopped by SIGTERM to kin-read once the
# last commit holds every shard's tip.  Returns 1 if a stage failed.
chaos_finish() {
	local mode=$1 ck=$2 stream=$3 dest=$4 tips=$5 i
	chaos_options "$mode" plain
	ckp_start "$WORK/runs" "$ck" "$stream" "$dest"
	if [[ $mode == follow ]]; then
		for ((i = 0; i < 3000; i++)); do
			chaos_drained "$ck" "$tips" && break
			ckp_running || break
			sleep 0.1
		done
		ckp_note "drained: $(chaos_drained "$ck" "$tips" && echo yes || echo NO); SIGTERM to kin-read"
		kill -TERM "${CKP_PIDS[0]}" 2>/dev/null || true
	fi
	if ! ckp_wait 300; then
		ckp_kill_all
		return 1
	fi
	chaos_last_run_ok || {
		ckp_note "final run failed: $(ckp_status)"
		ckp_stderr >>"$CKP_LOG"
		return 1
	}
}

# chaos_kill: the kill of one run (ckp_start done): waits for the moment,
# then SIGKILL to a random stage or, one time in four, to every stage.
# Increments kills when the run was still there to kill.  The moment: one
# time in three early (start, recovery, the first records), else once 1 to
# 3 more checkpoints have been committed, plus up to 300 ms, so that kills
# find the pipeline at work whatever the machine's speed.
chaos_kill() {
	local when delay victims v c names=
	when=$(chaos_commit_id "$WORK/ck")
	if ((RANDOM % 3 == 0)); then
		delay=$((RANDOM % 600 + 10))
		when=start
	else
		chaos_wait_commit "$WORK/ck" $((when + RANDOM % 3 + 1))
		delay=$((RANDOM % 300))
		when="commit $(chaos_commit_id "$WORK/ck")"
	fi
	sleep "$(awk -v r="$delay" 'BEGIN { printf "%.3f", r / 1000 }')"
	ckp_running || return 0
	if ((RANDOM % 4 == 0)); then
		victims=("${!CKP_PIDS[@]}")
	else
		victims=($((RANDOM % ${#CKP_PIDS[@]})))
	fi
	c=$(chaos_commit_id "$WORK/ck")
	for v in "${victims[@]}"; do
		kill -KILL "${CKP_PIDS[$v]}" 2>/dev/null || true
		names+="${CKP_NAMES[$v]} "
	done
	kills=$((kills + 1))
	ckp_note "kill $kills, ${delay}ms after $when: SIGKILL to ${names}(last commit $c)"
}

# chaos_reaped: after a run, every stage ended; a stage that saw a
# neighbour die ends quietly (0), with a runtime error (1) or, having read
# the torn last line of a killed upstream stage, with rejected input (3);
# 2 would mean it found the checkpoint directory broken.
chaos_reaped() {
	local i rc
	if ! ckp_wait 120; then
		ckp_note "a stage did not end after its neighbour was killed: $(ckp_alive)"
		ckp_stderr >>"$CKP_LOG"
		ckp_kill_all
		return 1
	fi
	for i in "${!CKP_RCS[@]}"; do
		rc=${CKP_RCS[$i]}
		if [[ $rc != 0 && $rc != 1 && $rc != 3 && $rc != 137 ]]; then
			ckp_note "unexpected exit status: ${CKP_NAMES[$i]}=$rc"
			ckp_stderr >>"$CKP_LOG"
			return 1
		fi
	done
}

chaos_run() {
	local mode=$1 in=$2 stream dest kills=0 tries=0 prod secs want chunks
	local nchunks ci=0 pp
	WORK=$3
	mkdir -p "$WORK/chunks"
	: "${CHAOS_SEED:=$(((RANDOM << 15 | RANDOM) % 1000000))}"
	RANDOM=$CHAOS_SEED
	want=${CHAOS_KILLS:-5}
	secs=${CHAOS_PUT_SECONDS:-$(awk -v k="$want" 'BEGIN { print k * 1.5 }')}
	stream=$(kp_unique_name "chaos-$mode")
	dest=s3://$CHAOS_BUCKET/chaos-$stream/
	# cron: one chunk put while each run goes, three runs a kill.
	if [[ $mode == cron ]]; then
		nchunks=$((want * 3))
	else
		nchunks=20
	fi
	split -n "l/$nchunks" -d -a 3 "$in" "$WORK/chunks/c."
	chunks=("$WORK"/chunks/c.*)
	ckp_note "chaos $mode: seed $CHAOS_SEED, $(wc -l <"$in") records in $nchunks chunks, $want kills, stream $stream"
	kp_admin create-stream "$stream" 4 >/dev/null
	kp_admin create-bucket "$CHAOS_BUCKET" >/dev/null 2>&1 || true

	if [[ $mode == follow ]]; then
		ckp_note "producer: $nchunks chunks over ${secs}s"
		chaos_producer "$stream" "$WORK/receipts" "$secs" "${chunks[@]}" 3>&- &
		prod=$!
	fi
	# A kill lands only if a run is still going when its moment comes; a
	# bounded run can end first (on a loaded machine a CI run made 3 kills in
	# 65 runs), so runs go on, short and cheap, until the kills are made.
	while ((kills < want || ci < ${#chunks[@]})) && ((tries < want * 30 + nchunks)); do
		tries=$((tries + 1))
		pp=
		if [[ $mode == cron ]] && ((ci < ${#chunks[@]})); then
			chaos_put "${chunks[$ci]}" "$stream" "$WORK/receipts" 3>&- &
			pp=$!
			ci=$((ci + 1))
			ckp_note "putting chunk $ci of $nchunks"
		fi
		chaos_options "$mode"
		ckp_start "$WORK/runs" "$WORK/ck" "$stream" "$dest"
		ckp_note "  options: kin-read ${CKP_KR[*]}"
		if ((kills < want)); then
			chaos_kill
		fi
		chaos_reaped || return 1
		if [[ -n $pp ]] && ! wait "$pp"; then
			ckp_note "the producer failed: $(cat "$WORK"/chunks/*.err)"
			return 1
		fi
		[[ $mode == follow ]] && ci=${#chunks[@]}
	done
	if [[ $mode == follow ]] && ! wait "$prod"; then
		ckp_note "the producer failed: $(cat "$WORK"/chunks/*.err)"
		return 1
	fi
	ckp_note "producer done: $(wc -l <"$WORK/receipts") records put; $kills kills in $tries runs"
	((kills >= want)) || {
		ckp_note "only $kills kills in $tries runs"
		return 1
	}
	chaos_tips "$WORK/receipts" >"$WORK/tips"
	chaos_finish "$mode" "$WORK/ck" "$stream" "$dest" "$WORK/tips" ||
		return 1
	# The reference: one uninterrupted run of the same mode.
	chaos_finish "$mode" "$WORK/ck-ref" "$stream" "s3://$CHAOS_BUCKET/ref-$stream/" "$WORK/tips" ||
		return 1
	node "$KP_ROOT/tests/lib/s3get.js" dump "$CHAOS_BUCKET" "chaos-$stream/" "$WORK/chaos"
	node "$KP_ROOT/tests/lib/s3get.js" dump "$CHAOS_BUCKET" "ref-$stream/" "$WORK/ref"
	CHAOS_STREAM=$stream
}

# chaos_check WORK PREFIX JOB EXPECTED: what chaos_run read back.  S3 holds
# exactly the reference's records (sorted multisets equal), the reference
# holds EXPECTED's (window-stats over the input file, no Kinesis, no
# crash), every key is PREFIX<bucket>/part-JOB-<epoch>-<n>.json, no key
# twice, and the spool of the checkpoint directory is empty.  Reports what
# differs into CKP_LOG and returns 1.
chaos_check() {
	local w=$1 prefix=$2 job=$3 expected=$4 bad=0 n
	LC_ALL=C sort "$w/chaos/records" >"$w/chaos.sorted"
	LC_ALL=C sort "$w/ref/records" >"$w/ref.sorted"
	ckp_note "chaos: $(wc -l <"$w/chaos.sorted") records in $(wc -l <"$w/chaos/keys") objects; reference: $(wc -l <"$w/ref.sorted") records in $(wc -l <"$w/ref/keys") objects; expected $(wc -l <"$expected")"
	if ! cmp -s "$w/ref.sorted" "$expected"; then
		ckp_note "the reference run differs from window-stats | sigma-flag over the input file (does the stream hold each record once?): $(LC_ALL=C comm -23 "$expected" "$w/ref.sorted" | wc -l) missing, $(LC_ALL=C comm -13 "$expected" "$w/ref.sorted" | wc -l) extra"
		bad=1
	fi
	if ! cmp -s "$w/chaos.sorted" "$w/ref.sorted"; then
		LC_ALL=C comm -23 "$w/ref.sorted" "$w/chaos.sorted" >"$w/lost"
		LC_ALL=C comm -13 "$w/ref.sorted" "$w/chaos.sorted" >"$w/extra"
		ckp_note "S3 after the chaos differs from the reference: $(wc -l <"$w/lost") records lost (in $w/lost), $(wc -l <"$w/extra") extra or duplicated (in $w/extra)"
		head -n 3 "$w/lost" "$w/extra" >>"$CKP_LOG"
		bad=1
	fi
	n=$(grep -cvE "^${prefix}[0-9]{4}-[0-9]{2}-[0-9]{2}--[0-9]{2}/part-${job}-[0-9]+-[0-9]+\.json\$" "$w/chaos/keys" || true)
	if ((n > 0)); then
		ckp_note "$n keys not of the form ${prefix}<bucket>/part-${job}-<epoch>-<n>.json:"
		grep -vE "^${prefix}[0-9]{4}-[0-9]{2}-[0-9]{2}--[0-9]{2}/part-${job}-[0-9]+-[0-9]+\.json\$" "$w/chaos/keys" | head >>"$CKP_LOG"
		bad=1
	fi
	if [[ -n $(sort "$w/chaos/keys" | uniq -d) ]]; then
		ckp_note "a key listed twice"
		bad=1
	fi
	n=$(find "$w/ck/s3-put" -type f ! -name dest ! -name lock | wc -l)
	if ((n > 0)); then
		ckp_note "$n files left in the spool after the last run:"
		find "$w/ck/s3-put" -type f ! -name dest ! -name lock | head >>"$CKP_LOG"
		bad=1
	fi
	((bad == 0))
}
