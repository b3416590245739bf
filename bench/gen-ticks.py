#!/usr/bin/env python3
"""gen-ticks.py - synthetic trade ticks for the processor benchmark.

    bench/gen-ticks.py [--count N] [--keys K] [--seed S] > ticks.ndjson

One line per trade, in the schema of the bundled real trades
(tests/data/PROVENANCE.md), about 92 bytes a line:

    {"timestamp":"2024-08-09T00:00:00.010Z","symbol":"SYM03USDT","price":2600.01,"volume":0.51234}

K symbols (default 16) trade in random order, 0 to 15 ms apart (7.5 ms on
average, with many equal timestamps), so a million lines cover about 2.1 hours:
126 one-minute windows per symbol, about 500 trades each.  Prices are random walks in cent ticks from a per-symbol level
(60,000 for the first symbol, then lower), with a rare jump of a few dollars so
that a 3-sigma job has something to flag.  Event time never goes backwards,
so jq, Miller and Python can bucket by the minute of the timestamp and compute
exactly what window-stats computes.  Deterministic for a given seed.

--per-window N scales the spacing so that each of the K symbols trades about N
times a minute whatever K (bench/scaling.sh's keys series: the same number of
windows for 1 key as for 10,000).
"""
import argparse
import random
import sys

LEVELS = (60000.0, 2600.0, 580.0, 150.0, 62000.0, 2700.0, 0.55, 1.02,
          35.0, 7.5, 0.12, 420.0, 61000.0, 2650.0, 19.0, 4.4)


def stamp(ms):
    s, m = divmod(ms, 1000)
    d, s = divmod(s, 86400)
    # 2024-08-09 plus d days: the benchmark stays within a day or two.
    day = 9 + d
    return '2024-08-%02dT%02d:%02d:%02d.%03dZ' % (
        day, s // 3600, s // 60 % 60, s % 60, m)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--count', type=int, default=1000000)
    p.add_argument('--keys', type=int, default=16)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--per-window', type=int, default=0,
                   help='about this many trades per symbol and minute, '
                        'whatever the number of symbols (the spacing is '
                        'scaled); default: 0 to 15 ms apart')
    o = p.parse_args()
    # The mean spacing is 7.5 ms; --per-window scales it so that each of
    # K symbols trades N times a minute: 60,000 / (N * K) ms apart.
    scale = 60000.0 / (o.per_window * o.keys) / 7.5 if o.per_window else 1
    if o.count * 7.5 * scale > 20 * 86400000:
        p.error('--per-window %d over %d keys spreads %d trades over more '
                'than 20 days' % (o.per_window, o.keys, o.count))

    rng = random.Random(o.seed)
    syms = ['SYM%02dUSDT' % i for i in range(o.keys)]
    price = [LEVELS[i % len(LEVELS)] for i in range(o.keys)]
    tick = [0.01 if lv >= 10 else 0.0001 for lv in price]
    ms = 0
    out = sys.stdout
    buf = []
    for _ in range(o.count):
        ms += rng.choice((0, 5, 10, 15)) * scale
        k = rng.randrange(o.keys)
        r = rng.random()
        price[k] += tick[k] * (-1 if r < 0.3 else 1 if r > 0.7 else 0)
        v = price[k]
        if rng.random() < 0.002:
            v += rng.choice((-1, 1)) * tick[k] * rng.randint(200, 600)
        digits = 2 if tick[k] == 0.01 else 4
        buf.append('{"timestamp":"%s","symbol":"%s","price":%.*f,'
                   '"volume":%.5f}\n' % (stamp(int(ms)), syms[k], digits, v,
                                         rng.random()))
        if len(buf) >= 10000:
            out.write(''.join(buf))
            buf = []
    out.write(''.join(buf))


if __name__ == '__main__':
    main()
