#!/usr/bin/env python3
"""oracle.py - an independent model of window-stats and sigma-flag.

Written from the semantics (DESIGN.md "Event time", window-stats(1),
sigma-flag(1)), not from the C code, in the Python 3 standard library only.
Statistics are exact: every value is taken as the exact rational value of the
double the tools read (fractions.Fraction), so mean, variance, sums and the
sigma test have no rounding at all; a standard deviation is the correctly
rounded square root of the exact variance.

Model
  - Windows [s, s + size) with s = offset + k * slide (tumbling when slide =
    size), aligned to the epoch; a record at t belongs to every such window
    that contains t.
  - Watermark W = largest event time seen - out-of-orderness, per key (the
    default) or over all keys, updated as each record arrives.
  - A window fires the first time W >= end (or at end of input); it is kept
    for --allowed-lateness more, and a record that reaches a fired window
    within that bound re-fires it at once ("update": N).  A record whose
    every window has W >= end + lateness is late.
  - Windows that fire together fire in the order (end, start, key first
    seen); at end of input every open window fires in that order.  Under
    the global watermark a key that holds no window (every one fired and
    past the lateness; trailing: no closed window either) is forgotten, and
    is seen for the first time again when it comes back.
  - records mode: a first firing writes the window's records in input order,
    each with the window's statistics; a re-firing writes the record that
    caused it.  trailing mode: every record at once, after the firings it
    caused, with the merged statistics of its key's last N fired windows
    (newest by end), or null before the first.
  - Statistics: count, mean, population stddev, sample stddev (null below
    2), min, max, first and last by event time (ties: input order), sum;
    weight_sum and weighted_mean (null when the weights sum to 0).

Commands
  oracle.py gen [--seed N] [--count N]        generated ticks on stdout
  oracle.py expect [window options] INPUT     the expected window-stats
                                               output (sigma options: the
                                               expected sigma-flag output)
  oracle.py check [window options] INPUT GOT  compares GOT (window-stats,
        [--late GOTLATE] [--sigma K ...]      or window-stats | sigma-flag
                                               with --sigma) with the model
  oracle.py summary [window options] INPUT   per key: windows, records,
                                               anomalies, largest |zscore|

check is exact on keys, window bounds, membership, counts, min, max, first,
last, late records and output order; statistics agree within 1e-9 relative
(mean and sum also within 1e-12 of the mean absolute value, the scale any
double computation works at); a zero standard deviation must be exactly 0.
Against sigma-flag, a record whose exact |value - mean| / (K stddev) is within
1e-6 of 1 may go either way, since sigma-flag judges window-stats' rounded
statistics; zscore agrees within 1e-6 (absolute, or relative above 1).
Exit status: 0 agree, 1 differences (listed on stderr), 2 usage.
"""

import argparse
import json
import math
import random
import re
import sys
from fractions import Fraction

# ---------------------------------------------------------------- parsing

_DUR = re.compile(r'(\d+(?:\.\d+)?)(ms|s|m|h|d)')
_UNIT = {'ms': 1, 's': 1000, 'm': 60000, 'h': 3600000, 'd': 86400000}


def parse_duration(s):
    """'1m', '250ms', '1h30m', '-5s' (offsets only) -> milliseconds."""
    neg = s.startswith('-')
    body = s[1:] if neg else s
    if body == '0':
        return 0
    pos, total = 0, Fraction(0)
    while pos < len(body):
        m = _DUR.match(body, pos)
        if not m:
            raise argparse.ArgumentTypeError('bad duration: %s' % s)
        total += Fraction(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    if pos == 0 or total.denominator != 1:
        raise argparse.ArgumentTypeError('bad duration: %s' % s)
    return -int(total) if neg else int(total)


_RFC3339 = re.compile(
    r'(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?'
    r'(?:([Zz])|([+-])(\d{2}):(\d{2}))$')


def _days_from_civil(y, m, d):
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def parse_time(v):
    """An RFC 3339 string or an epoch number -> ms, fractions floored."""
    if isinstance(v, str):
        m = _RFC3339.match(v)
        if not m:
            raise ValueError('not an RFC 3339 time')
        y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
        frac = m.group(7) or ''
        ms = int((frac + '000')[:3])
        t = _days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s
        if m.group(9):
            off = int(m.group(10)) * 3600 + int(m.group(11)) * 60
            t -= off if m.group(9) == '+' else -off
        return t * 1000 + ms
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError('neither an RFC 3339 string nor an epoch number')
    x = float(v)
    scale = 1.0 if abs(x) >= 1e11 else 1000.0
    return int(math.floor(x * scale))


def format_time(ms):
    days, rem = divmod(ms, 86400000)
    z = days + 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y = yoe + era * 400 + (m <= 2)
    return '%04d-%02d-%02dT%02d:%02d:%02d.%03dZ' % (
        y, m, d, rem // 3600000, rem // 60000 % 60, rem // 1000 % 60,
        rem % 1000)


def fmt_num(x):
    """A double the way the tools write it: shortest of %.15g..%.17g."""
    if x is None or not math.isfinite(x):
        return 'null'
    for prec in (15, 16, 17):
        s = '%.*g' % (prec, x)
        if float(s) == x:
            return s
    return s


def get_path(obj, path):
    for seg in path.split('.'):
        if not isinstance(obj, dict) or seg not in obj:
            raise KeyError(path)
        obj = obj[seg]
    return obj


def number(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError('not a number')
    x = float(v)
    if not math.isfinite(x):
        raise ValueError('not a finite number')
    return x


# ---------------------------------------------------------------- statistics

def _dyadic(values):
    """([integers], k) with values[i] == integers[i] / 2**k exactly."""
    pairs = [float(v).as_integer_ratio() for v in values]
    k = max(d.bit_length() - 1 for _, d in pairs)
    return [n << (k - (d.bit_length() - 1)) for n, d in pairs], k


class Stats:
    """Exact statistics of a multiset of (time, seq, value, weight)."""

    def __init__(self, members):
        self.members = members
        n = len(members)
        self.count = n
        # Every double is a dyadic rational: scale all to one power of two
        # and the sums are exact integer arithmetic.
        xi, k = _dyadic([m[2] for m in members])
        s = sum(xi)
        self.sum = Fraction(s, 1 << k)
        self.mean = Fraction(s, n << k)
        # n^2 var = n sum(x^2) - sum(x)^2
        self.var = Fraction(n * sum(x * x for x in xi) - s * s,
                            (n * n) << (2 * k))
        var = self.var
        self.stddev = 0.0 if var == 0 else math.sqrt(var)
        if n < 2:
            self.sample_stddev = None
        else:
            sv = var * n / (n - 1)
            self.sample_stddev = 0.0 if sv == 0 else math.sqrt(sv)
        self.min = min(m[2] for m in members)
        self.max = max(m[2] for m in members)
        self.first = min(members, key=lambda m: (m[0], m[1]))[2]
        self.last = max(members, key=lambda m: (m[0], m[1]))[2]
        wi, kw = _dyadic([m[3] for m in members])
        ws = sum(wi)
        self.weight_sum = Fraction(ws, 1 << kw)
        if ws == 0:
            self.weighted_mean = None
        else:
            self.weighted_mean = Fraction(
                sum(w * x for w, x in zip(wi, xi)), ws << k)
        self.abs_scale = Fraction(sum(abs(x) for x in xi), n << k)
        self._json = None
        self.verified = set()   # window objects already checked against us

    def fields(self, weights):
        """(name, exact or float value) in the tools' output order."""
        f = [('count', self.count), ('mean', self.mean),
             ('stddev', self.stddev), ('sample_stddev', self.sample_stddev),
             ('min', self.min), ('max', self.max), ('first', self.first),
             ('last', self.last), ('sum', self.sum)]
        if weights:
            f += [('weight_sum', self.weight_sum),
                  ('weighted_mean', self.weighted_mean)]
        return f

    def json(self, weights):
        if self._json is None:
            self._json = self._format(weights)
        return self._json

    def _format(self, weights):
        out = []
        for name, v in self.fields(weights):
            if name == 'count':
                out.append('"count":%d' % v)
            else:
                out.append('"%s":%s' % (name, fmt_num(
                    None if v is None else float(v))))
        return ','.join(out)


# ---------------------------------------------------------------- the model

class Window:
    def __init__(self, key, start, end):
        self.key, self.start, self.end = key, start, end
        self.members = []   # (time, seq, value, weight)
        self.pending = []   # records mode: seqs written at the first firing
        self.fires = 0


class Emit:
    """One line the model expects, before formatting."""

    def __init__(self, kind, key=None, start=None, end=None, stats=None,
                 seq=None, update=0, nwin=0):
        self.kind = kind        # 'window', 'record', 'trailing'
        self.key = key          # key JSON text, or None
        self.start, self.end = start, end
        self.stats = stats      # Stats, or None (trailing before history)
        self.seq = seq          # input record index
        self.update = update
        self.nwin = nwin        # trailing: windows merged


class Record:
    def __init__(self, seq, line, obj, t, x, w, keyid, keyjson):
        self.seq, self.line, self.obj = seq, line, obj
        self.t, self.x, self.w = t, x, w
        self.keyid, self.keyjson = keyid, keyjson


def read_records(path, o):
    """The input's records; bad lines are skipped as the tools skip them."""
    recs, bad = [], 0
    keyjsons = {}
    with open(path, 'rb') as f:
        for raw in f:
            line = raw.decode('utf-8').rstrip('\n').rstrip('\r')
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError
                if list(obj) == ['__kinpipe']:
                    continue
                t = parse_time(get_path(obj, o.time_field))
                x = number(get_path(obj, o.value_field))
                w = number(get_path(obj, o.weight_field)) \
                    if o.weight_field else 0.0
                if o.key_field:
                    k = get_path(obj, o.key_field)
                    if isinstance(k, str):
                        keyid = 's' + k
                        if keyid not in keyjsons:
                            keyjsons[keyid] = json.dumps(
                                k, ensure_ascii=False, separators=(',', ':'))
                        keyjson = keyjsons[keyid]
                    else:
                        keyjson = json.dumps(k, separators=(',', ':'))
                        keyid = 'j' + keyjson
                else:
                    keyid, keyjson = '', None
            except (ValueError, KeyError):
                bad += 1
                continue
            recs.append(Record(len(recs), line, obj, t, x, w, keyid, keyjson))
    return recs, bad


def window_starts(t, o):
    last = t - (t - o.offset) % o.slide
    s = last
    out = []
    while s > t - o.size:
        out.append(s)
        s -= o.slide
    return sorted(out)


def run_model(recs, o):
    """Returns (emits, late records) in the order the tool writes them."""
    keyseq = {}
    nextseq = [0]
    wins = {}           # keyid -> {start: Window}
    maxts = {}          # keyid -> largest event time (per-key watermark)
    gmax = None
    closed = {}         # keyid -> [Window] fired, by end (trailing)
    emits, late = [], []
    trail_cache = {}    # keyid -> (windows merged, their Stats)

    def wm(keyid):
        m = gmax if o.watermark == 'global' else maxts.get(keyid)
        return None if m is None else m - o.ooo

    def fire(win, trigger=None):
        st = Stats(win.members)
        if o.emit == 'windows':
            emits.append(Emit('window', win.key, win.start, win.end, st,
                              update=win.fires))
        elif o.emit == 'records':
            if win.fires == 0:
                for seq in win.pending:
                    emits.append(Emit('record', win.key, win.start, win.end,
                                      st, seq=seq))
                win.pending = []
            else:
                emits.append(Emit('record', win.key, win.start, win.end, st,
                                  seq=trigger, update=win.fires))
        else:
            lst = closed.setdefault(win.keyid, [])
            lst[:] = [c for c in lst if c.start != win.start]
            lst.append(win)
            lst.sort(key=lambda c: c.end)
            del lst[:-o.trailing]
        win.fires += 1

    def advance(only):
        keys = [only] if only is not None else sorted(keyseq,
                                                      key=keyseq.get)
        due = []
        for k in keys:
            w = wm(k)
            if w is None:
                continue
            for win in wins.get(k, {}).values():
                if win.fires == 0 and win.end <= w:
                    due.append(win)
        due.sort(key=lambda win: (win.end, win.start, keyseq[win.keyid]))
        for win in due:
            fire(win)
        for k in keys:
            w = wm(k)
            if w is None:
                continue
            for s in [s for s, win in wins.get(k, {}).items()
                      if win.fires > 0 and win.end + o.lateness <= w]:
                del wins[k][s]
            forget(k)

    def forget(k):
        if o.watermark == 'global' and not wins.get(k) and \
                not closed.get(k):
            keyseq.pop(k, None)

    for r in recs:
        if r.keyid not in keyseq:
            keyseq[r.keyid] = nextseq[0]
            nextseq[0] += 1
        maxts[r.keyid] = r.t if r.keyid not in maxts else \
            max(maxts[r.keyid], r.t)
        gmax = r.t if gmax is None else max(gmax, r.t)
        w = wm(r.keyid)
        placed = False
        for s in window_starts(r.t, o):
            e = s + o.size
            if w >= e + o.lateness:
                continue
            placed = True
            kw = wins.setdefault(r.keyid, {})
            if s not in kw:
                kw[s] = Window(r.keyjson, s, e)
                kw[s].keyid = r.keyid
            win = kw[s]
            win.members.append((r.t, r.seq, r.x, r.w))
            if win.fires == 0:
                win.pending.append(r.seq)
            if w >= e:
                fire(win, trigger=r.seq)
        if not placed:
            late.append(r)
            forget(r.keyid)
            continue
        advance(None if o.watermark == 'global' else r.keyid)
        if o.emit == 'trailing':
            lst = closed.get(r.keyid, [])
            if not lst:
                emits.append(Emit('trailing', r.keyjson, seq=r.seq))
            else:
                # The merged statistics change only when a window of the
                # list fires (again): compute them once per change.
                sig = tuple((c.start, c.fires) for c in lst)
                if trail_cache.get(r.keyid, (None,))[0] != sig:
                    members = [m for c in lst for m in c.members]
                    trail_cache[r.keyid] = (sig, Stats(members))
                emits.append(Emit('trailing', r.keyjson, lst[0].start,
                                  lst[-1].end, trail_cache[r.keyid][1],
                                  seq=r.seq, nwin=len(lst)))
    due = [win for k in wins for win in wins[k].values() if win.fires == 0]
    due.sort(key=lambda win: (win.end, win.start, keyseq[win.keyid]))
    for win in due:
        fire(win)
    return emits, late


# ---------------------------------------------------------------- sigma

def sigma_judge(x, st, o):
    """(anomaly, zscore or None, borderline) by the exact statistics."""
    if st is None or st.var == 0:
        return False, None, False
    if o.min_count and st.count < o.min_count:
        judged = False
    else:
        judged = True
    d = Fraction(x) - st.mean
    k = Fraction(o.sigma)
    z = float(d / Fraction(st.stddev)) if st.stddev else None
    # |d| > K * sqrt(var)  <=>  d^2 > K^2 var  (both sides >= 0)
    r2 = d * d / (k * k * st.var)
    side = {'up': d > 0, 'down': d < 0, 'both': True}[o.direction]
    anomaly = judged and side and r2 > 1
    border = judged and side and abs(math.sqrt(float(r2)) - 1) <= 1e-6
    return anomaly, z, border


# ---------------------------------------------------------------- output

def splice(line, frag):
    end = len(line.rstrip(' \t\r\n'))
    brace = end - 1
    inner = line[1:brace].strip(' \t\r\n')
    sep = '' if inner == '' else ','
    return line[:brace] + sep + frag + line[brace:]


def window_frag(e, o):
    if e.kind == 'trailing' and e.stats is None:
        return '"%s":null' % o.window_field
    memo = (e.start, e.end, e.nwin, e.update)
    cache = e.stats.__dict__.setdefault('frags', {})
    if memo not in cache:
        cache[memo] = _window_frag(e, o)
    return cache[memo]


def _window_frag(e, o):
    parts = ['"start":"%s"' % format_time(e.start),
             '"end":"%s"' % format_time(e.end)]
    if e.kind == 'trailing':
        parts.append('"windows":%d' % e.nwin)
    parts.append(e.stats.json(bool(o.weight_field)))
    if e.update:
        parts.append('"update":%d' % e.update)
    return '"%s":{%s}' % (o.window_field, ','.join(parts))


def format_emit(e, recs, o):
    if e.kind == 'window':
        s = '{"key":%s,"window_start":"%s","window_end":"%s",%s' % (
            e.key if e.key is not None else 'null', format_time(e.start),
            format_time(e.end), e.stats.json(bool(o.weight_field)))
        if e.update:
            s += ',"update":%d' % e.update
        return s + '}'
    return splice(recs[e.seq].line, window_frag(e, o))


def expected_lines(recs, emits, o):
    """[(line, emit, anomaly, optional)].  With --sigma, what sigma-flag
    writes; optional: a borderline record sigma-flag may or may not keep."""
    out = []
    for e in emits:
        line = format_emit(e, recs, o)
        if o.sigma is None:
            out.append((line, e, None, False))
            continue
        anomaly, z, border = sigma_judge(recs[e.seq].x, e.stats, o)
        if not (anomaly or border or o.all):
            continue
        add = ',"zscore":%s,"sigma":%s' % (fmt_num(z), fmt_num(o.sigma))
        if o.all:
            add += ',"anomaly":%s' % ('true' if anomaly else 'false')
        end = len(line.rstrip(' \t\r\n')) - 1
        out.append((line[:end] + add + '}', e, anomaly,
                    border and not o.all))
    return out


# ---------------------------------------------------------------- compare

class Diff:
    def __init__(self, limit=30):
        self.n = 0
        self.limit = limit

    def __call__(self, msg):
        self.n += 1
        if self.n <= self.limit:
            print('oracle: ' + msg, file=sys.stderr)


def close(got, exp, name, st):
    """got (a float from the tool) against exp (exact) for statistic name."""
    if exp is None:
        return got is None
    if got is None or isinstance(got, bool):
        return False
    if name in ('count',):
        return got == exp
    if name in ('min', 'max', 'first', 'last'):
        return float(got) == exp
    g = Fraction(got)
    ex = Fraction(exp)
    if name in ('stddev', 'sample_stddev') and ex == 0:
        return g == 0
    tol = abs(ex) * Fraction(1, 10 ** 9)
    if name in ('mean', 'sum', 'weighted_mean', 'weight_sum'):
        scale = st.abs_scale * (st.count if name == 'sum' else 1)
        tol = max(tol, scale * Fraction(1, 10 ** 12))
    return abs(g - ex) <= tol


def check_stats(got, st, o, where, diff):
    if not isinstance(got, dict):
        diff('%s: statistics missing' % where)
        return
    # Every record of a window carries the same object: check it once.
    seen = repr(sorted(got.items()))
    if seen in st.verified:
        return
    st.verified.add(seen)
    for name, exp in st.fields(bool(o.weight_field)):
        if name not in got:
            diff('%s: no "%s"' % (where, name))
        elif not close(got[name], exp, name, st):
            diff('%s: %s = %r, expected %s' % (
                where, name, got[name],
                exp if name == 'count' else fmt_num(
                    None if exp is None else float(exp))))


def strip_member(line, name):
    """Splits off the member `name` spliced last into line's object: returns
    (original line, the member's value) or (None, None)."""
    key = '"%s":' % name
    i = line.rfind(key)
    if i < 0:
        return None, None
    try:
        val, end = json.JSONDecoder().raw_decode(line, i + len(key))
    except ValueError:
        return None, None
    start = i - 1 if i > 0 and line[i - 1] == ',' else i
    return line[:start] + line[end:], val


def compare(exp, recs, late, o, got_path, late_path, diff):
    with open(got_path, encoding='utf-8') as f:
        got = [ln.rstrip('\n') for ln in f]
    if late_path is not None:
        with open(late_path, encoding='utf-8') as f:
            got_late = [ln.rstrip('\n') for ln in f]
        want_late = [r.line for r in late]
        if got_late != want_late:
            diff('late records: %d written, %d expected' % (
                len(got_late), len(want_late)))
            for a, b in zip(got_late, want_late):
                if a != b:
                    diff('late: got %s, expected %s' % (a, b))
                    break
    gi = 0
    for line, e, anomaly, optional in exp:
        if gi < len(got) and match_line(got[gi], e, recs, o, diff):
            gi += 1
            continue
        if optional:
            continue
        if gi >= len(got):
            diff('output ends early: expected %s' % line)
            return
        diff('line %d: got      %s' % (gi + 1, got[gi]))
        diff('line %d: expected %s' % (gi + 1, line))
        return
    while gi < len(got) and diff.n <= diff.limit:
        diff('line %d: unexpected %s' % (gi + 1, got[gi]))
        gi += 1


def match_line(g, e, recs, o, diff):
    """True when the tool's line g is the expected one; differences in the
    statistics are reported but the line still counts as matched."""
    where = 'line for %s' % (
        'key %s window %s' % (e.key, format_time(e.start))
        if e.start is not None else 'record %d' % (e.seq + 1))
    if e.kind == 'window':
        try:
            obj = json.loads(g)
        except ValueError:
            return False
        if obj.get('key') != (None if e.key is None else json.loads(e.key)) \
                or obj.get('window_start') != format_time(e.start) \
                or obj.get('window_end') != format_time(e.end) \
                or obj.get('update', 0) != e.update:
            return False
        check_stats(obj, e.stats, o, where, diff)
        return True
    rest = g
    zs = None
    if o.sigma is not None:
        if o.all:
            rest, an = strip_member(rest, 'anomaly')
            if rest is None:
                return False
        rest, sg = strip_member(rest, 'sigma')
        if rest is None:
            return False
        rest, zs = strip_member(rest, 'zscore')
        if rest is None:
            return False
        if float(sg) != o.sigma:
            diff('%s: sigma %r' % (where, sg))
    orig, win = strip_member(rest, o.window_field)
    if orig is None or orig != recs[e.seq].line:
        return False
    if e.stats is None:
        if win is not None:
            diff('%s: window %r, expected null' % (where, win))
        return True
    if not isinstance(win, dict) or win.get('start') != format_time(e.start) \
            or win.get('end') != format_time(e.end) \
            or win.get('update', 0) != e.update \
            or (e.kind == 'trailing' and win.get('windows') != e.nwin):
        return False
    check_stats(win, e.stats, o, where, diff)
    if o.sigma is not None:
        anomaly, z, border = sigma_judge(recs[e.seq].x, e.stats, o)
        if o.all and an != anomaly and not border:
            diff('%s: anomaly %s, expected %s' % (where, an, anomaly))
        if z is None:
            if zs is not None:
                diff('%s: zscore %r, expected null' % (where, zs))
        elif zs is None or abs(zs - z) > 1e-6 * max(1.0, abs(z)):
            diff('%s: zscore %r, expected %s' % (where, zs, fmt_num(z)))
    return True


# ---------------------------------------------------------------- generator

def generate(seed, count, out):
    """Ticks with everything the model must get right: out-of-order and
    late events, duplicate timestamps, window-boundary timestamps,
    single-record windows, keys appearing and vanishing, prices around
    60,000 with tiny deviations, several time formats."""
    rng = random.Random(seed)
    base = 1723161600000          # 2024-08-09T00:00:00Z
    clock = base + 17
    price = {'BTCUSDT': 60000.0, 'ETHUSDT': 2600.0}
    tiny = 0
    maxseen = {}
    for i in range(count):
        phase = i / count
        keys = ['BTCUSDT'] * 6 + ['TINY'] * 4 + ['ETHUSDT'] * 3 + \
            ['FLAT', 'SIGNED']
        if phase < 0.3:
            keys += ['EARLY'] * 2
        if 0.35 < phase < 0.6:
            keys += ['MIDDLE'] * 2
        if phase > 0.7:
            keys += ['LATE'] * 2
        # The clock: mostly small steps, sometimes none (duplicates).
        step = 0 if rng.random() < 0.15 else int(rng.expovariate(1 / 40.0))
        clock += step
        key = rng.choice(keys)
        if rng.random() < 0.004:
            key = 'SPARSE'
            if maxseen.get('SPARSE', 0) > clock - 150000:
                key = 'BTCUSDT'
        t = clock
        u = rng.random()
        if u < 0.20:
            t -= rng.randint(1, 4000)          # out of order
        elif u < 0.215:
            t -= rng.randint(60000, 200000)    # late for most settings
        elif u < 0.245:
            t = t - t % 60000                  # on a window boundary
        elif u < 0.26:
            t = t - t % 60000 - 1              # last ms of a window
        elif u < 0.27 and key in maxseen:
            t = maxseen[key]                   # duplicate of the newest
        maxseen[key] = max(maxseen.get(key, t), t)
        # Values.
        if key == 'BTCUSDT':
            price[key] += rng.choice((-0.01, 0, 0, 0.01))
            v = price[key]
            if rng.random() < 0.01:
                v += rng.choice((-1, 1)) * rng.uniform(0.3, 2)
            vs = '%.2f' % v
        elif key == 'TINY':
            tiny += rng.choice((-1, 0, 1))
            v = 60000 + tiny * 1e-4 + rng.choice((0, 0, 0, 1e-4, -1e-4))
            if rng.random() < 0.01:
                v += rng.choice((-1, 1)) * 5e-3
            vs = '%.4f' % v
        elif key == 'ETHUSDT':
            price[key] += rng.choice((-0.01, 0, 0.01))
            vs = '%.2f' % price[key]
        elif key == 'FLAT':
            vs = '100'
        elif key == 'SIGNED':
            vs = rng.choice(('%d' % rng.randint(-5, 5),
                             '%.3f' % rng.uniform(-5, 5), '-0.0', '1e-3'))
        else:
            vs = '%.2f' % (1000 + rng.gauss(0, 3))
        vol = '%.5f' % rng.uniform(0, 2) if rng.random() < 0.97 else '0'
        # Time formats.
        f = rng.random()
        if f < 0.85:
            ts = '"%s"' % format_time(t)
        elif f < 0.89:
            ts = '"%s%03dZ"' % (format_time(t)[:-1], rng.randint(0, 999))
        elif f < 0.93:
            ft = format_time(t + 2 * 3600000 + 30 * 60000)
            ts = '"%s+02:30"' % ft[:-1]
        elif f < 0.96:
            ts = '%d' % t
        elif t % 1000 == 0:
            ts = '"%sZ"' % format_time(t)[:-5]
        else:
            ts = '"%s"' % format_time(t).replace('T', ' ').replace('Z', 'z')
        extra = ''
        if rng.random() < 0.05:
            extra = ',"meta":{"venue":"x","ids":[%d,%d],"note":"a}b\\"c"}' % (
                i, i + 1)
        out.write('{"timestamp":%s,"symbol":"%s","price":%s,"volume":%s%s}\n'
                  % (ts, key, vs, vol, extra))


# ---------------------------------------------------------------- main

def add_window_opts(p):
    p.add_argument('--key-field')
    p.add_argument('--time-field', default='timestamp')
    p.add_argument('--value-field', default='price')
    p.add_argument('--weight-field')
    p.add_argument('--size', type=parse_duration, default=60000)
    p.add_argument('--slide', type=parse_duration)
    p.add_argument('--offset', type=parse_duration, default=0)
    p.add_argument('--out-of-orderness', dest='ooo', type=parse_duration,
                   default=0)
    p.add_argument('--allowed-lateness', dest='lateness',
                   type=parse_duration, default=0)
    p.add_argument('--watermark', choices=('per-key', 'global'),
                   default='per-key')
    p.add_argument('--emit', choices=('windows', 'records', 'trailing'),
                   default='windows')
    p.add_argument('--trailing', type=int, default=1)
    p.add_argument('--window-field', default='window')
    p.add_argument('--sigma', type=float,
                   help='model window-stats | sigma-flag --sigma K')
    p.add_argument('--direction', choices=('up', 'down', 'both'),
                   default='both')
    p.add_argument('--min-count', type=int, default=0)
    p.add_argument('--all', action='store_true')


def main(argv):
    p = argparse.ArgumentParser(prog='oracle.py')
    sub = p.add_subparsers(dest='cmd', required=True)
    g = sub.add_parser('gen')
    g.add_argument('--seed', type=int, default=20240809)
    g.add_argument('--count', type=int, default=30000)
    for name in ('expect', 'check', 'summary'):
        c = sub.add_parser(name)
        add_window_opts(c)
        c.add_argument('input')
        if name == 'check':
            c.add_argument('got')
            c.add_argument('--late', help='the --late-output file to check')
    o = p.parse_args(argv)
    if o.cmd == 'gen':
        generate(o.seed, o.count, sys.stdout)
        return 0
    if o.slide is None:
        o.slide = o.size
    if o.size <= 0 or o.slide <= 0 or o.slide > o.size:
        p.error('bad --size/--slide')
    if (o.sigma is not None or o.min_count or o.all) and o.emit == 'windows':
        p.error('--sigma needs --emit records or trailing')
    if o.all and o.sigma is None:
        o.sigma = 3.0
    recs, bad = read_records(o.input, o)
    emits, late = run_model(recs, o)
    if o.cmd == 'expect':
        for line, _, _, _ in expected_lines(recs, emits, o):
            sys.stdout.write(line + '\n')
        return 0
    if o.cmd == 'summary':
        return summary(recs, emits, late, o)
    diff = Diff()
    exp = expected_lines(recs, emits, o)
    compare(exp, recs, late, o, o.got, o.late, diff)
    if diff.n:
        print('oracle: %d difference(s) (%d records, %d late, %d skipped '
              'as bad input)' % (diff.n, len(recs), len(late), bad),
              file=sys.stderr)
        return 1
    print('oracle: agree: %d records, %d lines, %d late, %d bad' % (
        len(recs), len(exp), len(late), bad))
    return 0


def summary(recs, emits, late, o):
    """Per key, for a human review of a golden file: windows, records,
    records with a defined zscore, anomalies, largest |zscore|, smallest
    window count that flagged."""
    per = {}
    for e in emits:
        d = per.setdefault(e.key, {'windows': set(), 'records': 0,
                                   'judged': 0, 'anomalies': 0,
                                   'maxz': 0.0, 'minn': None})
        d['records'] += 1
        if e.stats is None:
            continue
        d['windows'].add(e.start)
        if o.sigma is None:
            continue
        anomaly, z, _ = sigma_judge(recs[e.seq].x, e.stats, o)
        if z is not None:
            d['judged'] += 1
            d['maxz'] = max(d['maxz'], abs(z))
        if anomaly:
            d['anomalies'] += 1
            if d['minn'] is None or e.stats.count < d['minn']:
                d['minn'] = e.stats.count
    print('%-16s %7s %7s %7s %9s %8s %9s' % (
        'key', 'windows', 'records', 'zscore', 'anomalies', 'max|z|',
        'min count'))
    for k, d in per.items():
        print('%-16s %7d %7d %7d %9d %8.3f %9s' % (
            k, len(d['windows']), d['records'], d['judged'], d['anomalies'],
            d['maxz'], d['minn'] if d['minn'] is not None else '-'))
    print('%d late' % len(late))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
