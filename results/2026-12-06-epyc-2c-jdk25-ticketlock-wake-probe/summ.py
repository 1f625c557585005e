#!/usr/bin/env python3
"""Prints table.md from this folder's JMH JSON files: each score, and its ratio to the
same-run reference (unfair ReentrantLock; ReentrantLockFair for over4-*)."""
import glob, json

def rows(pattern, ref):
    out = []
    for f in sorted(glob.glob(pattern)):
        d = json.load(open(f))
        r = {}
        for b in d:
            p = b['params']
            key = (b['benchmark'].split('.')[-1], p.get('lock'), p.get('section', '') + p.get('holderSleeps', ''))
            r[key] = b['primaryMetric']
        for (bn, lock, sec), m in sorted(r.items()):
            if lock == ref:
                continue
            refm = r.get((bn, ref, sec))
            pct = m.get('scorePercentiles', {})
            if m['scoreUnit'] == 'us/op' and 'latency' in f:
                cell = 'p50 %.2f p99 %.2f p99.9 %.1f (ref p99.9 %.1f)' % (
                    pct['50.0'], pct['99.0'], pct['99.9'], refm['scorePercentiles']['99.9'])
            else:
                cell = '%.2f %s, %.3fx ref' % (m['score'], m['scoreUnit'], m['score'] / refm['score'])
            out.append('| %s | %s %s %s | %s |' % (f, bn, lock, sec, cell))
    return out

lines = ['| file | benchmark | result |', '|---|---|---|']
for pat, ref in [('virtual-*.json', 'ReentrantLock'), ('virtual2-*.json', 'ReentrantLock'),
                 ('virtual3-*.json', 'ReentrantLock'), ('final-virtual-*.json', 'ReentrantLock'),
                 ('latency-*.json', 'ReentrantLock'), ('final-throughput-*.json', 'ReentrantLock'),
                 ('over4-*.json', 'ReentrantLockFair')]:
    lines += rows(pat, ref)
open('table.md', 'w').write('\n'.join(lines) + '\n')
print('\n'.join(lines))
