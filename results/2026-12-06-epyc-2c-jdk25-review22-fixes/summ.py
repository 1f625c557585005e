#!/usr/bin/env python3
"""Prints the A/B table (old jar vs new jar, two interleaved rounds) from the JSON files here."""
import glob, json
rows = {}
for f in sorted(glob.glob('*.json')):
    fam, v, r = f[:-5].split('-')
    for b in json.load(open(f)):
        m = b['primaryMetric']
        rows.setdefault((fam, b['benchmark'].split('.')[-1]), {}).setdefault(v, []).append(
            (m['score'], m['scoreError'], m['scoreUnit']))
print('| family | benchmark | unit | old (round 1, round 2) | new (round 1, round 2) |')
print('|---|---|---|---|---|')
for (fam, name), d in sorted(rows.items()):
    fmt = lambda l: ', '.join(f"{s:.2f} ± {e:.2f}" for s, e, u in l)
    print(f"| {fam} | {name} | {d['old'][0][2]} | {fmt(d['old'])} | {fmt(d['new'])} |")
