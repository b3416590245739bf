# bench/jq-windows.jq - the processor's windows job in jq, for
# bench/processor.sh: jq -n -c -f bench/jq-windows.jq < ticks.ndjson
# Streams with foreach, closing a symbol's window when that symbol reaches a
# later minute (the ticks are in order).  Naive sum-of-squares variance:
# cheaper than Welford, in jq's favour.  Kept fixed so that the baseline
# cannot drift: change it only with a note in bench/README.md.
def stats($k): (.[2] / .[1]) as $m
  | {key: $k, window_start: .[0], count: .[1], mean: $m,
     stddev: ((.[3] / .[1] - $m * $m) | if . < 0 then 0 else . end | sqrt),
     min: .[4], max: .[5], first: .[6], last: .[7], sum: .[2]};
foreach (inputs, null) as $r ({};
  if $r == null then
    .[""] = [to_entries[] | select(.key != "" and .value != null)
             | .key as $k | .value | stats($k)]
  else $r.price as $p | $r.symbol as $k
    | ($r.timestamp[0:16] + ":00.000Z") as $ws | .[$k] as $w
    | if $w == null or $w[0] != $ws then
        .[""] = (if $w == null then null else [$w | stats($k)] end)
        | .[$k] = [$ws, 1, $p, $p * $p, $p, $p, $p, $p]
      else
        .[""] = null
        | .[$k] = [$ws, $w[1] + 1, $w[2] + $p, $w[3] + $p * $p,
                   (if $p < $w[4] then $p else $w[4] end),
                   (if $p > $w[5] then $p else $w[5] end), $w[6], $p]
      end
  end;
  .[""] // empty | .[])
