// LoRA through the JavaScript API: a fresh adapter is the base model, training moves it,
// and the adapter (PEFT layout) and the merged HuggingFace folder reload to the same model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadModel, type Model } from '../src/index.js';
import { assertClose } from './helpers/random.js';
import { rejectsCode } from './helpers/errors.js';
import { tempDir, tinyModel } from './helpers/tiny-model.js';

const TEXT = 'Your refund was issued today and should arrive within five business days.';

async function scored(model: Model): Promise<Float32Array> {
  return (await model.score([model.tokenize(TEXT)]))[0].logprobs;
}

for (const arch of ['gpt2', 'llama'] as const) {
  test(`${arch}: LoRA starts at the base model, trains, and reloads as an adapter or merged`, async () => {
    const { model: base, dir } = await tinyModel(arch);
    const model = await loadModel(dir, { lora: { rank: 4, alpha: 8, seed: 3 } });
    assert.deepEqual(await scored(model), await scored(base));

    const ids = model.tokenize(TEXT);
    const masks = [Uint8Array.from(ids, (_, i) => (i > 0 ? 1 : 0))];
    for (let step = 0; step < 5; step++) await model.trainStep({ sequences: [ids], masks }, { loss: 'sft', learningRate: 2e-2 });
    const trained = await scored(model);
    const gain = trained.reduce((a, b) => a + b, 0) - (await scored(base)).reduce((a, b) => a + b, 0);
    assert.ok(gain > 1, `LoRA SFT raised the log-likelihood by ${gain}`);

    const adapter = tempDir();
    await model.saveAdapter(adapter);
    const config = JSON.parse(readFileSync(join(adapter, 'adapter_config.json'), 'utf8'));
    assert.equal(config.peft_type, 'LORA');
    assert.equal(config.r, 4);
    assert.ok(existsSync(join(adapter, 'adapter_model.safetensors')));
    assert.deepEqual(await scored(await loadModel(dir, { lora: { adapter } })), trained);
    // The adapter names its base, so the folder alone loads as the trained model.
    assert.equal(config.base_model_name_or_path, resolve(dir));
    assert.deepEqual(await scored(await loadModel(adapter)), trained);

    const merged = tempDir();
    await model.save(merged);
    assertClose(await scored(await loadModel(merged)), trained, 1e-5, 'merged model');
  });
}

test('bad LoRA options are rejected with stable codes', async () => {
  const { model, dir } = await tinyModel('llama');
  await rejectsCode(() => loadModel(dir, { lora: { rank: 0, alpha: 8 } }), 'ERR_INVALID_PARAMETER', /lora.rank/);
  await rejectsCode(() => loadModel(dir, { lora: { rank: 4, alpha: 8, targetModules: ['c_attn'] } }), 'ERR_INVALID_PARAMETER', /c_attn/);
  await rejectsCode(() => loadModel(dir, { lora: { adapter: tempDir() } }), 'ERR_INVALID_MODEL', /adapter_config.json/);
  await rejectsCode(() => model.saveAdapter(tempDir()), 'ERR_INVALID_ARGUMENT', /no LoRA adapters/);
});

test('an adapter folder whose base is unnamed or missing is refused with what to do', async () => {
  const { dir } = await tinyModel('gpt2');
  const model = await loadModel(dir, { lora: { rank: 2, alpha: 4 } });
  const adapter = tempDir();
  await model.saveAdapter(adapter);
  const configPath = join(adapter, 'adapter_config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8'));
  await rejectsCode(() => loadModel(adapter, { lora: { rank: 2, alpha: 4 } }), 'ERR_INVALID_ARGUMENT', /is a LoRA adapter already/);
  writeFileSync(configPath, JSON.stringify({ ...config, base_model_name_or_path: null }));
  await rejectsCode(() => loadModel(adapter), 'ERR_INVALID_MODEL', /does not name its base model.*lora: \{ adapter/);
  writeFileSync(configPath, JSON.stringify({ ...config, base_model_name_or_path: join(tempDir(), 'gone') }));
  await rejectsCode(() => loadModel(adapter), 'ERR_INVALID_MODEL', /which is not on this machine/);
});
