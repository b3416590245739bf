#!/usr/bin/env bats
# Chaos: the checkpointed reference job (kin-read | window-stats --emit
# records | sigma-flag --all | s3-put, every record in S3 with its window's
# statistics) is killed with SIGKILL, a random stage or all of them at a
# random moment, and started again, over and over while a producer puts the
# six-market trades, repeated an hour apart, into a 4-shard stream; then it
# runs to the end.  S3 must then hold exactly what one uninterrupted run
# writes: no record lost, none twice, no object of another name, nothing
# left in the spool.  Once as the long-running job (kin-read --follow, the
# last run stopped by SIGTERM when drained), once as cron batches.
#
# make check runs the short version (CHAOS_RECORDS=60000, CHAOS_KILLS=5
# per mode); `make chaos` the long one (300,000 records, 20 kills per mode)
# and prints the seed.  CHAOS_SEED replays the same choices (victims,
# delays, epoch cuts; the timing is the machine's).  Diagnostics, the seed
# first, are in $KP_BUILD/chaos/<mode>.log and shown when a test fails;
# the files of the last run of each mode stay in $KP_BUILD/chaos/<mode>/.
#
# The last test runs s3-put against moto (s3rver lists no multipart
# uploads and ignores If-None-Match): no upload left after kills, and no
# name written twice.

bats_require_minimum_version 1.5.0

load helpers
load lib/ckpipe
load lib/chaos

setup_file() {
	kp_stack_start kinesalite s3
	local d=$BATS_FILE_TMPDIR
	python3 "$KP_ROOT/tests/lib/trades-repeat.py" "${CHAOS_RECORDS:-60000}" \
	    "$KP_ROOT/tests/data/market-trades.ndjson.gz" >"$d/in.ndjson"
	# What every run must end with, computed without Kinesis or a crash:
	# the end of a checkpointed input keeps the open windows.
	mkdir -p "$d/offline"
	window-stats --checkpoint-dir "$d/offline" --key-field symbol --size 1m \
	    --emit records <"$d/in.ndjson" | sigma-flag --all |
	    LC_ALL=C sort >"$d/expected"
}

teardown_file() {
	kp_stack_stop
}

setup() {
	T=$BATS_TEST_TMPDIR
	MOTO_PID=
}

teardown() {
	ckp_proxy_stop
	if [[ -n $MOTO_PID ]]; then
		kill "$MOTO_PID" 2>/dev/null || true
		wait "$MOTO_PID" 2>/dev/null || true
	fi
	if [[ -n ${CKP_PIDS:-} ]] && ckp_running; then
		ckp_kill_all || true
	fi
	if [[ -z ${BATS_TEST_COMPLETED:-} && -s ${CKP_LOG:-/nonexistent} ]]; then
		echo "--- $CKP_LOG"
		tail -n 300 "$CKP_LOG"
	fi
}

# chaos MODE: the whole run and its checks.
chaos() {
	local mode=$1 w=$KP_BUILD_DIR/chaos/$1
	# Kept after the run: the checkpoint directory, each run's stderr and
	# stats, what S3 held.
	rm -rf "$w"
	mkdir -p "$w"
	CKP_LOG=$KP_BUILD_DIR/chaos/$mode.log
	: >"$CKP_LOG"
	echo "# chaos $mode: diagnostics in $CKP_LOG, files in $w" >&3
	chaos_run "$mode" "$BATS_FILE_TMPDIR/in.ndjson" "$w"
	echo "# chaos $mode: seed $CHAOS_SEED" >&3
	chaos_check "$w" "chaos-$CHAOS_STREAM/" "$CHAOS_STREAM" "$BATS_FILE_TMPDIR/expected"
}

@test "chaos, long-running: SIGKILLs of any stage while records arrive; S3 ends exactly as one uninterrupted run" {
	chaos follow
}

@test "chaos, cron: SIGKILLs of bounded runs while records arrive; S3 ends exactly as one uninterrupted run" {
	chaos cron
}

# moto_start: a moto_server on a free loopback port; sets MOTO_PID, MOTO.
moto_start() {
	command -v moto_server >/dev/null ||
	    skip "moto_server is not installed (pip install 'moto[server]'): s3rver lists no multipart uploads and ignores If-None-Match"
	local port i
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	moto_server -H 127.0.0.1 -p "$port" >"$T/moto.log" 2>&1 3>&- &
	MOTO_PID=$!
	MOTO=http://127.0.0.1:$port
	for ((i = 0; i < 600; i++)); do
		curl -sf -o /dev/null "$MOTO/" && return 0
		sleep 0.05
	done
	echo "moto_server did not start: $(cat "$T/moto.log")" >&2
	return 1
}

s3get() {
	node "$KP_ROOT/tests/lib/s3get.js" "$@"
}

@test "moto: SIGKILLs in the middle of multipart uploads leave no upload open and every key written once" {
	moto_start
	local s kills=0 i v k
	# Kept after the run, as the chaos runs' files.
	T=$KP_BUILD_DIR/chaos/moto
	rm -rf "$T"
	mkdir -p "$T"
	CKP_LOG=$KP_BUILD_DIR/chaos/moto.log
	: >"$CKP_LOG"
	s=$(kp_unique_name moto)
	kp_admin create-stream "$s" 4 >/dev/null
	# 150,000 trades: some 60 MB of records with their statistics, ten
	# objects of two parts.
	python3 "$KP_ROOT/tests/lib/trades-repeat.py" 150000 \
	    "$KP_ROOT/tests/data/market-trades.ndjson.gz" >"$T/in"
	window-stats --checkpoint-dir "$T/offline" --key-field symbol --size 1m \
	    --emit records <"$T/in" | sigma-flag --all | LC_ALL=C sort >"$T/expected"
	kin-put --stream "$s" --partition-key-field symbol <"$T/in"
	AWS_ENDPOINT_URL_S3=$MOTO kp_admin create-bucket motob >/dev/null
	AWS_ENDPOINT_URL_S3=$MOTO s3get versioning motob
	# Each part of an upload waits 300 ms at a proxy: uploads stay open
	# long enough to be killed in.
	ckp_proxy "$MOTO" '[{"match":{"method":"PUT","path":"partNumber="},"action":{"delay_ms":300}}]' "$T/fp"
	: >>"$T/fp/fp.log"
	export AWS_ENDPOINT_URL_S3=$CKP_FP_URL
	CKP_KR=(--checkpoint-interval 300ms)
	CKP_WS=(--key-field symbol --size 1m --emit records)
	CKP_SF=(--all)
	CKP_FILTER=()
	# Objects of 6 MiB: two parts of a multipart upload each.
	CKP_S3=(--max-bytes 6MiB --part-size 5MiB --rollover 0 --inactivity 0)
	for ((i = 0; i < 40 && kills < 6; i++)); do
		ckp_start "$T/runs" "$T/ck" "$s" s3://motob/m/
		# Killed once a part went up (the upload then is recorded in
		# its manifest): s3-put alone, or every stage.
		k=$(grep -c partNumber= "$T/fp/fp.log" || true)
		for ((v = 0; v < 1200; v++)); do
			(($(grep -c partNumber= "$T/fp/fp.log" || true) > k)) && break
			ckp_running || break
			sleep 0.05
		done
		sleep "0.$((RANDOM % 4))"
		if kill -0 "${CKP_PIDS[3]}" 2>/dev/null; then
			if ((RANDOM % 3 == 0)); then
				kill -KILL "${CKP_PIDS[@]}" 2>/dev/null || true
			else
				kill -KILL "${CKP_PIDS[3]}" 2>/dev/null || true
			fi
			kills=$((kills + 1))
			ckp_note "kill $kills; uploads open: $(AWS_ENDPOINT_URL_S3=$MOTO s3get uploads motob | wc -l)"
		fi
		ckp_wait 120
		# Every status but the kills' is 0 (a stage whose neighbour
		# died may say 1); the job is done once a run ends by itself.
		case " ${CKP_RCS[*]} " in
		*" 2 "* | *" 3 "*)
			ckp_stderr >&2
			false
			;;
		esac
		[ "$(ckp_status)" != "kin-read=0 window-stats=0 sigma-flag=0 s3-put=0" ] || break
	done
	((kills >= 5))
	ckp_start "$T/runs" "$T/ck" "$s" s3://motob/m/
	ckp_wait 300
	[ "$(ckp_status)" = "kin-read=0 window-stats=0 sigma-flag=0 s3-put=0" ]
	ckp_note "$kills kills"
	ckp_proxy_stop
	export AWS_ENDPOINT_URL_S3=$MOTO
	# No upload left open (not even one a kill after its
	# CreateMultipartUpload left unrecorded: the next run's sweep aborts
	# it), and no key with a second version.
	run s3get uploads motob
	assert_output ''
	s3get versions motob m/ >"$T/versions"
	[ "$(jq -r .Key "$T/versions" | sort | uniq -d)" = "" ]
	[ "$(wc -l <"$T/versions")" -ge 4 ]
	s3get dump motob m/ "$T/got"
	LC_ALL=C sort "$T/got/records" | cmp - "$T/expected"
}

@test "moto: a recovery that delivers again an object already written meets If-None-Match (412) and keeps the one version" {
	moto_start
	local i
	export AWS_ENDPOINT_URL_S3=$MOTO
	kp_admin create-bucket motob >/dev/null
	s3get versioning motob
	# moto honours If-None-Match: the test below means something.
	echo x >"$T/x"
	[ "$(s3get put-if-none-match motob probe "$T/x")" = 200 ]
	[ "$(s3get put-if-none-match motob probe "$T/x")" = 412 ]
	# 7 MiB in one hour (a multipart upload), 5 records in the next (one
	# PUT), then the final barrier.
	python3 - >"$T/in" <<'PY'
pad = 'x' * 1000
for i in range(7000):
    print('{"timestamp":"2024-01-01T00:%02d:%02d.000Z","i":%d,"pad":"%s"}' % (i // 600, i // 10 % 60, i, pad))
for i in range(5):
    print('{"timestamp":"2024-01-01T01:00:0%d.000Z","i":%d}' % (i, 7000 + i))
print('{"__kinpipe":{"barrier":1,"version":1,"job":"j","stream":"s","final":true,"positions":{}}}')
PY
	# Every write refused: the epoch commits, nothing is delivered (3).
	ckp_proxy "$MOTO" '[{"match":{"method":["PUT","POST"]},"action":{"preset":"s3-internal"}}]' "$T/fp"
	export AWS_ENDPOINT_URL_S3=$CKP_FP_URL
	run s3-put --job j --checkpoint-dir "$T/ck" --max-attempts 1 s3://motob/p/ <"$T/in"
	assert_equal "$status" 3
	[ "$(jq '.sink.pending | length' "$T/ck/commit.json")" -eq 2 ]
	# The state a SIGKILL leaves after the objects are written and before
	# their spool files are removed: this one, delivered.
	cp -a "$T/ck" "$T/ck.saved"
	echo '[]' >"$T/fp/rules.new"
	mv "$T/fp/rules.new" "$T/fp/rules.json"
	run s3-put --job j --checkpoint-dir "$T/ck" s3://motob/p/ </dev/null
	assert_success
	rm -rf "$T/ck"
	cp -a "$T/ck.saved" "$T/ck"
	: >"$T/fp/fp.log"
	run s3-put --job j --checkpoint-dir "$T/ck" s3://motob/p/ </dev/null
	assert_success
	ckp_proxy_stop
	export AWS_ENDPOINT_URL_S3=$MOTO
	# Both writes were refused by the server, and each key has one version
	# holding its records.
	[ "$(jq -r 'select(.status == 412) | .method' "$T/fp/fp.log" | sort | paste -sd' ')" = "POST PUT" ]
	s3get versions motob p/ >"$T/versions"
	[ "$(wc -l <"$T/versions")" -eq 2 ]
	[ "$(jq -r .Key "$T/versions" | sort -u | wc -l)" -eq 2 ]
	s3get dump motob p/ "$T/got"
	diff <(grep -v __kinpipe "$T/in" | sort) <(sort "$T/got/records")
	run s3get uploads motob
	assert_output ''
}

# lost_create_setup: moto, bucket motob, $T/in (6 MB of records and a
# final barrier: one multipart object), and a fault proxy ($CKP_FP_URL)
# that drops the answer of the first CreateMultipartUpload.
lost_create_setup() {
	moto_start
	export AWS_ENDPOINT_URL_S3=$MOTO
	kp_admin create-bucket motob >/dev/null
	python3 - >"$T/in" <<'PY'
for i in range(6000):
    print('{"timestamp":"2024-01-01T00:00:%02d.000Z","i":%d,"pad":"%s"}' % (i % 60, i, 'x' * 1000))
print('{"__kinpipe":{"barrier":1,"version":1,"job":"j","stream":"s","final":true,"positions":{}}}')
PY
	ckp_proxy "$MOTO" '[{"match":{"method":"POST","path":"[?]uploads$"},"action":{"drop":"after"},"count":1}]' "$T/fp"
}

# When the answer to CreateMultipartUpload is lost (the server made the
# upload; the connection dropped), s3-put creates another and, since its
# create was retried, lists the key's uploads and aborts the first.
@test "moto: a lost CreateMultipartUpload answer leaves no upload open" {
	lost_create_setup
	AWS_ENDPOINT_URL_S3=$CKP_FP_URL run s3-put --job j --checkpoint-dir "$T/ck" s3://motob/l/ <"$T/in"
	assert_success
	[ "$(jq -r 'select(.action == "drop-after") | .method' "$T/fp/fp.log")" = POST ]
	run s3get uploads motob
	assert_output ''
}

# A CreateMultipartUpload whose answer never came back, in a run that then
# gave the part up (--max-attempts 1): the upload it made is unrecorded,
# and the next run, delivering the part again, aborts it.
@test "moto: an upload an earlier run made but never recorded is aborted by the next run" {
	lost_create_setup
	export AWS_ENDPOINT_URL_S3=$CKP_FP_URL
	run s3-put --max-attempts 1 --job j --checkpoint-dir "$T/ck" s3://motob/l/ <"$T/in"
	assert_failure 3
	run s3get uploads motob
	[ "$(printf '%s\n' "$output" | grep -c UploadId)" -eq 1 ]
	run --separate-stderr s3-put -v --job j --checkpoint-dir "$T/ck" s3://motob/l/ </dev/null
	assert_success
	[[ $stderr == *"left open by a lost answer or an earlier run"* ]]
	run s3get uploads motob
	assert_output ''
	s3get dump motob l/ "$T/got"
	diff <(grep -v __kinpipe "$T/in" | sort) <(sort "$T/got/records")
}
