// Makes the order desk's shipped model into models/order-desk-tiny (see src/demo/order-desk/make-model.ts).
// Usage: npm run make:order-desk-model [-- --out DIR] [--seed N] [--steps N]; prints a JSON summary.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { makeOrderDeskModel } from '../src/demo/order-desk/make-model.js';
import { ORDER_DESK_MODEL_DIR } from '../src/demo/model-path.js';

const { values } = parseArgs({ options: { out: { type: 'string' }, seed: { type: 'string' }, steps: { type: 'string' } } });
const summary = await makeOrderDeskModel({
  outDir: values.out ? resolve(values.out) : ORDER_DESK_MODEL_DIR,
  seed: values.seed === undefined ? undefined : Number(values.seed),
  steps: values.steps === undefined ? undefined : Number(values.steps),
  log: (line) => console.error(line),
});
console.log(JSON.stringify(summary, null, 2));
