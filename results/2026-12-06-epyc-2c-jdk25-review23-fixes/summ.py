#!/usr/bin/env python3
"""Prints the A/B table (old jar vs new jar, two interleaved rounds) from the JSON files here."""
import glob, json
rows = {}
for f in sorted(glob.glob('*.json')):
    fam, v, r = f[:-5].split('-')
    for b in json.load(open(f)):
        m = b['primaryMetric']
        params = ','.join(f"{k}={x}" for k, x in sorted(b.get('params', {}).items()))
        rows.setdefault((fam, b['benchmark'].split('.')[-1], params), {}).setdefault(v, []).append(
            (m['score'], m['scoreError'], m['scoreUnit']))
print('| family | benchmark | params | unit | old (round 1, round 2) | new (round 1, round 2) | new ÷ old (mean) |')
print('|---|---|---|---|---|---|---|')
for (fam, name, params), d in sorted(rows.items()):
    fmt = lambda l: ', '.join(f"{s:.2f} ± {e:.2f}" for s, e, u in l)
    o = sum(s for s, e, u in d.get('old', [])) / max(1, len(d.get('old', [])))
    n = sum(s for s, e, u in d.get('new', [])) / max(1, len(d.get('new', [])))
    unit = (d.get('old') or d.get('new'))[0][2]
    print(f"| {fam} | {name} | {params} | {unit} | {fmt(d.get('old', []))} | {fmt(d.get('new', []))} | {n / o if o else float('nan'):.2f} |")
