#!/usr/bin/env python3
"""bench/table.py - the one table of `make bench`, from the result rows the
bench/ scripts write (bench/lib/bench.bash, bench_result and bench_note).

    table.py RESULTS [--md FILE] [--tsv FILE]

RESULTS holds tab-separated lines:

    ID  LABEL  WORKLOAD  RECORDS  WALL_S  CPU_S  MAX_RSS_KB  INSTR_PER_RECORD

('-' where a figure is not measured) and note lines "#<TAB>TEXT".  The table
goes to stdout as Markdown (and to --md FILE), with one row per measurement;
a measurement that has a target is compared with its peer (one row per
peer).  --tsv FILE writes the same rows tab-separated, unformatted.

Targets are those of issue 10 (and kin-put --aggregate's of issue 11), set
here and nowhere else:
  cpu    ours / peer, CPU per record, at most the target
  speed  peer / ours, CPU per record ("x times faster"), at least the target
  rate   ours / peer, records per wall second, at least the target
  flat   every row of a scaling series (scale.SERIES.X) against its first:
         CPU per record within +-20 %, max RSS at most 10 % + 2 MiB more
         (the keys series: memory shown per key, not judged, since every
         key holds an open window)
"""

import sys

TARGETS = {
    'proc.reference-job': [
        ('proc.python-reference', 'cpu', 1 / 3, '<= 1/3'),
        ('proc.jq-reference', 'cpu', 1 / 15, '<= 1/15'),
        ('proc.miller-reference', 'cpu', 1 / 15, '<= 1/15')],
    'proc.window-stats-windows': [('proc.bare-json-c', 'speed', 1.5, '>= 1.5x')],
    'proc.sigma-flag-alone': [('proc.bare-json-c-records', 'speed', 2, '>= 2x')],
    'proc.s3-put-local': [('proc.bare-json-c', 'speed', 1.5, '>= 1.5x')],
    'kin.kin-put': [('kin.b3-batch', 'cpu', 1 / 5, '<= 1/5'),
                    ('kin.b3-batch', 'rate', 1, 'records/s >= 1x')],
    'kin.kin-read': [('kin.b3-read', 'cpu', 1 / 5, '<= 1/5')],
    's3.large.s3-put': [('s3.large.aws', 'cpu', 1, '<= 1 (CPU/MiB)')],
    's3.small.s3-put': [('s3.small.aws', 'cpu', 1 / 5, '<= 1/5 (CPU/MiB)')],
    'ck.a.10s': [('ck.a.none', 'wall', 1.05, 'wall < 1.05 (cost < 5 %)')],
    'ck.b.10s': [('ck.b.none', 'cpu', 1.05, 'CPU < 1.05 (cost < 5 %)')],
    # issue 11: the ratio is the point; the target only says "not slower"
    'agg.kin-put-aggregate': [('agg.kin-put', 'rate', 1,
                               'records/s >= 1x (shard limits)')],
}
FLAT_CPU = 0.20
FLAT_RSS = 0.10
FLAT_RSS_KB = 2048
COLUMNS = ['tool', 'peer', 'workload', 'records/s', 'CPU µs/record',
           'instr/record', 'max RSS', 'ratio to peer', 'target', 'met']


def num(s):
    try:
        return float(s)
    except ValueError:
        return None


class Row:
    def __init__(self, f):
        self.id, self.label, self.workload = f[0], f[1], f[2]
        self.records, self.wall, self.cpu = num(f[3]), num(f[4]), num(f[5])
        self.rss, self.ir = num(f[6]), num(f[7])

    def us(self):
        if self.cpu is None or not self.records:
            return None
        return self.cpu * 1e6 / self.records

    def rate(self):
        if self.wall is None or not self.records:
            return None
        return self.records / max(self.wall, 0.005)


def frac(r):
    if r is None:
        return '-'
    return '1/%.1f' % (1 / r) if 0 < r < 1 else '%.2fx' % r


def compare(ours, peer, kind, target):
    """(ratio text, met) of ours against peer."""
    if kind in ('cpu', 'speed'):
        a, b = ours.us(), peer.us()
        if not a or not b:
            return '-', None
        r = a / b if kind == 'cpu' else b / a
        if kind == 'speed':
            text = '%.2fx' % r
        else:   # a fraction, or near 1 (a cost) as a decimal
            text = frac(r) if target < 1 else '%.3f' % r
        if ours.ir and peer.ir:
            ri = ours.ir / peer.ir if kind == 'cpu' else peer.ir / ours.ir
            text += ' (instr %s)' % (frac(ri) if kind == 'cpu' else '%.2fx' % ri)
        return text, (r <= target if kind == 'cpu' else r >= target)
    if kind == 'wall':
        if not ours.wall or not peer.wall:
            return '-', None
        r = ours.wall / peer.wall
        return '%.3f' % r, r < target
    if kind == 'rate':
        a, b = ours.rate(), peer.rate()
        if not a or not b:
            return '-', None
        return '%.2fx records/s' % (a / b), a / b >= target
    raise ValueError(kind)


def flat(ours, first, keys=False):
    """CPU per record within FLAT_CPU of the first row; memory too, except
    in the keys series, where every key holds an open window: there the
    growth is shown per key, not judged (memory follows open windows)."""
    a, b = ours.us(), first.us()
    if not a or not b or ours.rss is None or first.rss is None:
        return '-', None
    r = a / b
    drss = ours.rss - first.rss
    text = 'CPU/rec %.2fx' % r
    if ours.ir and first.ir:
        text += ' (instr %.2fx)' % (ours.ir / first.ir)
    if keys:
        k = num(ours.id.rsplit('.', 1)[1]) or 1
        k0 = num(first.id.rsplit('.', 1)[1]) or 1
        per = drss / max(k - k0, 1)
        return text + ', RSS %+.2f KiB/key' % per, abs(r - 1) <= FLAT_CPU
    ok = abs(r - 1) <= FLAT_CPU and drss <= first.rss * FLAT_RSS + FLAT_RSS_KB
    return text + ', RSS %+.1f MiB' % (drss / 1024), ok


def cells(row, peer, ratio, target, met):
    us, rate = row.us(), row.rate()
    return [row.label, peer, row.workload,
            '{:,.0f}'.format(rate) if rate else '-',
            '%.2f' % us if us is not None else '-',
            '{:,.0f}'.format(row.ir) if row.ir else '-',
            '%.1f MiB' % (row.rss / 1024) if row.rss else '-',
            ratio, target, {True: 'yes', False: '**NO**', None: '-'}[met]]


def table(rows):
    byid = {r.id: r for r in rows}
    firsts = {}
    out = []
    for r in rows:
        series = r.id.rsplit('.', 1)[0] if r.id.startswith('scale.') else None
        if series is not None:
            first = firsts.setdefault(series, r)
            if first is r:
                out.append(cells(r, '-', '-', '-', None))
            else:
                keys = series.startswith('scale.keys.')
                ratio, met = flat(r, first, keys)
                out.append(cells(r, first.label, ratio,
                                 'flat: CPU/rec +-%d %%' % (FLAT_CPU * 100) if keys else
                                 'flat: CPU/rec +-%d %%, RSS <= +%d %% + %d MiB'
                                 % (FLAT_CPU * 100, FLAT_RSS * 100, FLAT_RSS_KB // 1024),
                                 met))
            continue
        targets = TARGETS.get(r.id)
        if not targets:
            out.append(cells(r, '-', '-', '-', None))
            continue
        for pid, kind, target, text in targets:
            peer = byid.get(pid)
            if peer is None:
                out.append(cells(r, '(not measured)', '-', text, None))
                continue
            ratio, met = compare(r, peer, kind, target)
            out.append(cells(r, peer.label, ratio, text, met))
    return out


def markdown(out, notes):
    lines = ['| ' + ' | '.join(COLUMNS) + ' |',
             '| --- | --- | --- | ---: | ---: | ---: | ---: | --- | --- | --- |']
    lines += ['| ' + ' | '.join(c.replace('|', '\\|') for c in o) + ' |' for o in out]
    if notes:
        lines.append('')
        lines += ['- ' + n for n in notes]
    return '\n'.join(lines) + '\n'


def main(argv):
    if len(argv) < 2 or len(argv) % 2:
        print(__doc__.split('\n\n')[1], file=sys.stderr)
        return 2
    opts = dict(zip(argv[2::2], argv[3::2]))
    if set(opts) - {'--md', '--tsv'}:
        print('table.py: unknown option', file=sys.stderr)
        return 2
    rows, notes = [], []
    with open(argv[1], encoding='utf-8') as f:
        for line in f:
            fields = line.rstrip('\n').split('\t')
            if fields[0] == '#':
                notes.append(fields[1] if len(fields) > 1 else '')
            elif len(fields) == 8:
                rows.append(Row(fields))
            elif line.strip():
                print('table.py: bad row: %r' % line, file=sys.stderr)
                return 1
    if not rows:
        print('table.py: no result rows in %s' % argv[1], file=sys.stderr)
        return 1
    out = table(rows)
    md = markdown(out, notes)
    sys.stdout.write(md)
    if '--md' in opts:
        with open(opts['--md'], 'w', encoding='utf-8') as f:
            f.write(md)
    if '--tsv' in opts:
        with open(opts['--tsv'], 'w', encoding='utf-8') as f:
            f.write('\t'.join(COLUMNS) + '\n')
            f.writelines('\t'.join(o) + '\n' for o in out)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
