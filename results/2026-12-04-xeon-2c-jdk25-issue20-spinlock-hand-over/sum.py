import json,glob,sys,re
D=sys.argv[1]
rows={}
for f in sorted(glob.glob(D+'/lat-*.json')):
    m=re.match(r'.*/lat-(.+)-(\d)\.json',f); h,r=m.groups()
    for b in (json.load(open(f)) if open(f).read(1) else []):
        k=(b['benchmark'].split('.')[-1],b['params'].get('section', b['params'].get('cs','')))
        p=b['primaryMetric']['scorePercentiles']
        rows.setdefault(k,{})[(h,r)]=(p['50.0'],p['99.0'],p['99.9'],p['99.99'],p['100.0'])
for k,v in sorted(rows.items()):
    print(k)
    for hr,x in sorted(v.items()):
        print('   %-4s r%s  p50 %7.2f p99 %8.1f p99.9 %8.1f p99.99 %8.1f max %8.1f'%(hr[0],hr[1],*x))
for f in sorted(glob.glob(D+'/thr-*.json'))+sorted(glob.glob(D+'/vt-*.json')):
    for b in (json.load(open(f)) if open(f).read(1) else []):
        print(f.split('/')[-1], b['benchmark'].split('.')[-1], b['params'], '%.2f'%b['primaryMetric']['score'])
