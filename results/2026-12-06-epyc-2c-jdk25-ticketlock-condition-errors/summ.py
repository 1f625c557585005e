import json,glob,collections,gzip,os
HERE=os.path.join(os.path.dirname(os.path.abspath(__file__)),'jmh')
rows=collections.OrderedDict()
for f in sorted(glob.glob(HERE+'/*.json')+glob.glob(HERE+'/*.json.gz')):
    base=os.path.basename(f).replace('.gz','')
    v=base.split('-')[1]; r=base.split('-')[-1][:-5]
    data=json.load(gzip.open(f) if f.endswith('.gz') else open(f))
    for b in data:
        name=b['benchmark'].split('.')[-2]+'.'+b['benchmark'].split('.')[-1]
        p=','.join(f"{k}={x}" for k,x in b.get('params',{}).items())
        pm=b['primaryMetric']
        if pm.get('scorePercentiles') and b['mode']=='sample':
            val=f"p50 {pm['scorePercentiles']['50.0']:.2f} p99 {pm['scorePercentiles']['99.0']:.1f}"
        else:
            val=f"{pm['score']:.2f}±{pm['scoreError']:.2f}"
        rows.setdefault((name,p,b['threads'],pm['scoreUnit']),{})[v+r]=val
for (n,p,t,u),d in rows.items():
    print(f"| {n} {p} t{t} ({u}) | {d.get('oldr1','')} | {d.get('oldr2','')} | {d.get('newr1','')} | {d.get('newr2','')} |")
