#!/usr/bin/env python3
"""py-job.py - the processor's two jobs in plain Python, for bench/processor.sh.

    py-job.py windows   < ticks.ndjson   one line per (symbol, minute)
    py-job.py reference < ticks.ndjson   trades beyond 3 population standard
                                         deviations of their (symbol, minute)

What a careful Python programmer would write: json.loads per line, windows
keyed by symbol and the minute of the event time, a per-key watermark (the
input is in order, so a key's window closes when that key moves to a later
minute), Welford's running variance, original bytes kept for the output.
"""
import json
import math
import sys


def minute(ts):
    return ts[:16]      # "2024-08-09T00:00" of an RFC 3339 UTC string


def windows(inp, out):
    cur = {}            # symbol -> [minute, n, mean, m2, min, max, first, last, sum]

    def emit(sym, w):
        m, n, mean, m2, lo, hi, first, last, s = w
        out.write(json.dumps({
            'key': sym, 'window_start': m + ':00.000Z', 'count': n,
            'mean': mean, 'stddev': math.sqrt(m2 / n),
            'sample_stddev': math.sqrt(m2 / (n - 1)) if n > 1 else None,
            'min': lo, 'max': hi, 'first': first, 'last': last, 'sum': s},
            separators=(',', ':')) + '\n')

    for line in inp:
        r = json.loads(line)
        sym, x, m = r['symbol'], float(r['price']), minute(r['timestamp'])
        w = cur.get(sym)
        if w is None or w[0] != m:
            if w is not None:
                emit(sym, w)
            w = cur[sym] = [m, 0, 0.0, 0.0, x, x, x, x, 0.0]
        w[1] += 1
        d = x - w[2]
        w[2] += d / w[1]
        w[3] += d * (x - w[2])
        w[4] = min(w[4], x)
        w[5] = max(w[5], x)
        w[7] = x
        w[8] += x
    for sym, w in cur.items():
        emit(sym, w)


def reference(inp, out, k=3.0):
    cur = {}            # symbol -> [minute, n, mean, m2, [(line, x)]]

    def fire(w):
        n, mean, m2 = w[1], w[2], w[3]
        sd = math.sqrt(m2 / n)
        if sd == 0:
            return
        for line, x in w[4]:
            if abs(x - mean) > k * sd:
                out.write('%s,"window":{"count":%d,"mean":%r,"stddev":%r},'
                          '"zscore":%r,"sigma":%g}\n' % (
                              line[:line.rindex('}')], n, mean, sd,
                              (x - mean) / sd, k))

    for line in inp:
        line = line.rstrip('\n')
        r = json.loads(line)
        sym, x, m = r['symbol'], float(r['price']), minute(r['timestamp'])
        w = cur.get(sym)
        if w is None or w[0] != m:
            if w is not None:
                fire(w)
            w = cur[sym] = [m, 0, 0.0, 0.0, []]
        w[1] += 1
        d = x - w[2]
        w[2] += d / w[1]
        w[3] += d * (x - w[2])
        w[4].append((line, x))
    for w in cur.values():
        fire(w)


if __name__ == '__main__':
    job = sys.argv[1] if len(sys.argv) > 1 else 'windows'
    if job == 'windows':
        windows(sys.stdin, sys.stdout)
    elif job == 'reference':
        reference(sys.stdin, sys.stdout)
    else:
        sys.exit('usage: py-job.py windows|reference < ticks.ndjson')
