// Makes the demo's shipped model into models/customer-service-tiny (see src/demo/make-model.ts).
// Usage: npm run make:demo-model [-- --out DIR] [--seed N] [--steps N]; prints a JSON summary.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { makeDemoModel } from '../src/demo/make-model.js';
import { SHIPPED_MODEL_DIR } from '../src/demo/model-path.js';

const { values } = parseArgs({ options: { out: { type: 'string' }, seed: { type: 'string' }, steps: { type: 'string' } } });
const summary = await makeDemoModel({
  outDir: values.out ? resolve(values.out) : SHIPPED_MODEL_DIR,
  seed: values.seed === undefined ? undefined : Number(values.seed),
  steps: values.steps === undefined ? undefined : Number(values.steps),
  log: (line) => console.error(line),
});
console.log(JSON.stringify(summary, null, 2));
