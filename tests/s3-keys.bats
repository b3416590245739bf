#!/usr/bin/env bats
# s3-put's key templates: --bucket-format with {field.path} placeholders,
# against s3rver and a local directory; hostile field values (escaped as
# Hive escapes partition values, or bad input); template syntax errors;
# --max-open-partitions with many distinct values; checkpoints.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	kp_stack_start s3
}

teardown_file() {
	kp_stack_stop
}

setup() {
	T=$BATS_TEST_TMPDIR
}

# keys DIR: the files below DIR, relative, sorted.
keys() {
	(cd "$1" && find . -type f | sed 's|^\./||' | LC_ALL=C sort)
}

@test "Hive-style template: symbol=.../date=... into s3rver and a local directory alike" {
	B=$(kp_unique_name keys)
	kp_admin create-bucket "$B" >/dev/null
	cat >"$T/in" <<'IN'
{"timestamp":"2024-08-09T23:59:59Z","symbol":"BTCUSDT","p":1}
{"timestamp":"2024-08-10T00:00:01Z","symbol":"BTCUSDT","p":2}
{"timestamp":"2024-08-09T12:00:00Z","symbol":"ETHUSDT","p":3}
IN
	run --separate-stderr s3-put --run-id k --bucket-format 'symbol={symbol}/date=%Y-%m-%d' \
	    "s3://$B/t/" <"$T/in"
	assert_success
	run bash -c "kp_admin() { \"$KP_NODE\" \"$KP_ROOT/pipelines/lib/kp-admin.js\" \"\$@\"; }
	    kp_admin list-objects $B t/ | jq -r '.Objects[].Key' | LC_ALL=C sort"
	assert_output "t/symbol=BTCUSDT/date=2024-08-09/part-k-0.json
t/symbol=BTCUSDT/date=2024-08-10/part-k-1.json
t/symbol=ETHUSDT/date=2024-08-09/part-k-2.json"
	kp_admin get-object "$B" t/symbol=ETHUSDT/date=2024-08-09/part-k-2.json >"$T/eth"
	assert_equal "$(cat "$T/eth")" "$(sed -n 3p "$T/in")"
	run --separate-stderr s3-put --run-id k --bucket-format 'symbol={symbol}/date=%Y-%m-%d' \
	    "$T/d" <"$T/in"
	assert_success
	run keys "$T/d"
	assert_output "symbol=BTCUSDT/date=2024-08-09/part-k-0.json
symbol=BTCUSDT/date=2024-08-10/part-k-1.json
symbol=ETHUSDT/date=2024-08-09/part-k-2.json"
}

@test "hostile values are escaped as Hive escapes them; %, /, .. never act; the rest is bad input with its line" {
	long=$(printf 'x%.0s' {1..1100})
	cat >"$T/in" <<IN
{"timestamp":1,"s":"../"}
{"timestamp":1,"s":"/"}
{"timestamp":1,"s":"%Y"}
{"timestamp":1,"s":"a/b"}
{"timestamp":1,"s":"c\u0001d\u0000e\u007f"}
{"timestamp":1,"s":"été€"}
{"timestamp":1,"s":""}
{"timestamp":1,"s":null}
{"timestamp":1,"s":true}
{"timestamp":1,"s":-12.5e3}
{"timestamp":1,"s":"\"#'*:=?\\\\{[]^}<> |"}
{"timestamp":1,"s":".."}
{"timestamp":1,"s":{"a":1}}
{"timestamp":1,"s":[1]}
{"timestamp":1,"t":"no s"}
{"timestamp":1,"s":"$long"}
{"timestamp":1,"s":"."}
IN
	run --separate-stderr s3-put --run-id h --bucket-format 's={s}/%Y' --dead-letter "$T/dl" \
	    "$T/d" <"$T/in"
	assert_failure 3
	run keys "$T/d"
	assert_output "s=%22%23%27%2A%3A%3D%3F%5C%7B%5B%5D%5E}<> |/1970/part-h-9.json
s=%25Y/1970/part-h-2.json
s=%2F/1970/part-h-1.json
s=-12.5e3/1970/part-h-8.json
s=..%2F/1970/part-h-0.json
s=../1970/part-h-10.json
s=./1970/part-h-11.json
s=__HIVE_DEFAULT_PARTITION__/1970/part-h-6.json
s=a%2Fb/1970/part-h-3.json
s=c%01d%00e%7F/1970/part-h-4.json
s=true/1970/part-h-7.json
s=été€/1970/part-h-5.json"
	# The empty string and null share Hive's default partition.
	assert_equal "$(wc -l <"$T/d/s=__HIVE_DEFAULT_PARTITION__/1970/part-h-6.json")" 2
	# Bad input: each reported with its line, kept in the dead letter.
	[[ $stderr == *"s3-put: <stdin>:13: s: an object or array cannot name a partition"* ]]
	[[ $stderr == *"s3-put: <stdin>:14: s: an object or array cannot name a partition"* ]]
	[[ $stderr == *"s3-put: <stdin>:15: s: missing"* ]]
	[[ $stderr == *"s3-put: <stdin>:16: bucket: "*"over the"* ]]
	run sed -n '13,16p' "$T/in"
	assert_equal "$(cat "$T/dl")" "$output"
	# A value that is a whole segment may not be "." or "..".
	printf '%s\n' '{"timestamp":1,"s":".."}' '{"timestamp":1,"s":"."}' \
	    '{"timestamp":1,"s":"..."}' >"$T/dots"
	run --separate-stderr s3-put --run-id h --bucket-format '{s}' "$T/e" <"$T/dots"
	assert_failure 3
	[[ $stderr == *"s3-put: <stdin>:1: bucket: '.' or '..' segment in key"* ]]
	[[ $stderr == *"s3-put: <stdin>:2: bucket: '.' or '..' segment in key"* ]]
	run keys "$T/e"
	assert_output ".../part-h-0.json"
}

@test "nested field paths, several fields, literal braces, a value's % not expanded" {
	printf '%s\n' '{"timestamp":86400,"m":{"ex":"bin%H","sym":"BTC"},"v":7}' >"$T/in"
	run --separate-stderr s3-put --run-id n \
	    --bucket-format 'ex={m.ex}/{{sym}}={m.sym}/%%{v}/d=%d' "$T/d" <"$T/in"
	assert_success
	run keys "$T/d"
	assert_output "ex=bin%25H/{sym}=BTC/%7/d=02/part-n-0.json"
}

@test "a malformed template is a usage error (exit 2) before anything is written" {
	local f
	for f in 'a{' 'a}' '{}' '{a..b}' '{.a}' '%{a}' '{a%b}' '{a{b}' \
	    '{a}{b}{c}{d}{e}{f}{g}{h}{i}{j}{k}{l}{m}{n}{o}{p}{q}'; do
		run --separate-stderr s3-put --bucket-format "$f" "$T/d" </dev/null
		assert_failure 2
		[[ $stderr == "s3-put: --bucket-format: "* ]]
	done
	[ ! -e "$T/d" ]
	# A field placeholder standing for a whole segment is checked too.
	run --separate-stderr s3-put --bucket-format 'a//{x}' "$T/d" </dev/null
	assert_failure 2
}

@test "--max-open-partitions: 2000 distinct values under a low descriptor limit, every record once" {
	for ((i = 0; i < 4000; i++)); do
		printf '{"timestamp":1,"k":"v%d","n":%d}\n' $((i % 2000)) "$i"
	done >"$T/in"
	# 2000 parts open at once would need 2000 descriptors.
	run --separate-stderr bash -c "ulimit -n 64 && exec s3-put --run-id m \
	    --max-open-partitions 16 --bucket-format 'k={k}' '$T/d' <'$T/in'"
	assert_success
	assert_equal "$(find "$T/d" -type f | wc -l)" 4000
	cat "$T"/d/*/* | LC_ALL=C sort >"$T/got"
	LC_ALL=C sort "$T/in" | cmp - "$T/got"
	run --separate-stderr s3-put --max-open-partitions 0 "$T/e" </dev/null
	assert_failure 2
	run --separate-stderr s3-put --max-open-partitions 4097 "$T/e" </dev/null
	assert_failure 2
}

@test "--checkpoint-dir with a template: objects named by job, epoch and part under the field's prefix, exactly once" {
	local b='{"__kinpipe":{"barrier":1,"version":1,"job":"j","stream":"j","final":true,"positions":{}}}'
	for ((i = 0; i < 50; i++)); do
		printf '{"timestamp":1,"k":"v%d","n":%d}\n' $((i % 10)) "$i"
	done >"$T/in"
	printf '%s\n' '{"timestamp":1,"n":"no k"}' "$b" >>"$T/in"
	run --separate-stderr s3-put --checkpoint-dir "$T/ck" --job j --max-open-partitions 4 \
	    --bucket-format 'k={k}' --dead-letter "$T/dl" "$T/d" <"$T/in"
	assert_failure 3
	[[ $stderr == *"<stdin>:51: k: missing"* ]]
	[ "$(jq -r .id "$T/ck/commit.json")" = 1 ]
	cat "$T"/d/*/* | LC_ALL=C sort >"$T/got"
	head -n 50 "$T/in" | LC_ALL=C sort | cmp - "$T/got"
	ls "$T/d/k=v3" | grep -qx 'part-j-1-[0-9]*\.json'
	# Another template is refused by the commit (object options).
	run --separate-stderr s3-put --checkpoint-dir "$T/ck" --job j --bucket-format 'x={k}' "$T/d" </dev/null
	assert_failure 2
}

@test "--checkpoint-dir with a template: parts open at a commit are reopened by the next run under their field's bucket" {
	local b1='{"__kinpipe":{"barrier":1,"version":1,"job":"j","stream":"j","final":false,"positions":{}}}'
	local b2='{"__kinpipe":{"barrier":2,"version":1,"job":"j","stream":"j","final":true,"positions":{}}}'
	printf '%s\n' '{"timestamp":1,"k":"a/b","n":1}' '{"timestamp":1,"k":"c","n":2}' "$b1" \
	    '{"timestamp":1,"k":"c","n":3}' >"$T/in1"
	run --separate-stderr s3-put --checkpoint-dir "$T/ck" --job j --bucket-format 'k={k}' "$T/d" <"$T/in1"
	assert_success
	[ ! -e "$T/d/k=c" ]
	[ "$(jq -r '.sink.open | map(.tb) | sort | join(",")' "$T/ck/commit.json")" = "k=a%2Fb,k=c" ]
	# Record 3 came after the commit: the next run gets it again.
	printf '%s\n' '{"timestamp":1,"k":"c","n":3}' '{"timestamp":1,"k":"d","n":4}' "$b2" >"$T/in2"
	# A lower cap than the run that opened them: both roll before k=d opens.
	run --separate-stderr s3-put --checkpoint-dir "$T/ck" --job j --bucket-format 'k={k}' \
	    --max-open-partitions 1 "$T/d" <"$T/in2"
	assert_success
	run keys "$T/d"
	assert_output "k=a%2Fb/part-j-1-0.json
k=c/part-j-1-1.json
k=d/part-j-2-0.json"
	assert_equal "$(jq -c .n "$T/d/k=c/part-j-1-1.json" | paste -sd,)" "2,3"
}
