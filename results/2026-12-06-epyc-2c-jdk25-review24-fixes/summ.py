import json,glob,collections
rows=collections.OrderedDict()
for f in sorted(glob.glob('*.json')):
    kind,v,r=f[:-5].split('-')
    for b in json.load(open(f)):
        name=b['benchmark'].split('.')[-1]
        m=b['primaryMetric']
        key=(kind,name)
        if kind=='handoff':
            p=m['scorePercentiles']
            val="p50 %.2f p99 %.2f p99.9 %.1f" % (p['50.0'],p['99.0'],p['99.9'])
        else:
            val="%.2f ± %.2f" % (m['score'],m['scoreError'])
        rows.setdefault(key,{})[v+r]=val
print("| bench | case | old r1 | new r1 | old r2 | new r2 |")
print("|---|---|---|---|---|---|")
for (k,n),d in rows.items():
    print("| %s | %s | %s | %s | %s | %s |"%(k,n,d.get('oldr1'),d.get('newr1'),d.get('oldr2'),d.get('newr2')))
