# bench/jq-flag.jq - the second pass of the reference job in jq, for
# bench/processor.sh: each trade against its window (the first pass,
# bench/jq-windows.jq, wrote the windows):
#   jq -n -c --slurpfile w WINDOWS.jsonl -f bench/jq-flag.jq < ticks.ndjson
# Kept fixed so that the baseline cannot drift.
($w | map({key: (.key + .window_start), value: .}) | from_entries) as $idx
| inputs
| $idx[.symbol + .timestamp[0:16] + ":00.000Z"] as $s
| select($s.stddev > 0 and ((.price - $s.mean) | fabs) > 3 * $s.stddev)
| . + {window: $s, zscore: ((.price - $s.mean) / $s.stddev), sigma: 3}
