// GGUF exports checked by llama.cpp's own code, where a Python that has it is found:
// gguf-py (`pip install gguf`) reads the files and re-encodes their tensors, and
// llama.cpp itself (`pip install llama-cpp-python`, which compiles llama.cpp) loads the
// export and continues a prompt greedily as the project does. Each test skips, saying
// why, when its package is missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { exportGguf, loadModel, makeTinyModel } from '../src/index.js';
import { tempDir } from './helpers/tiny-model.js';

const PYTHON_DIR = join(import.meta.dirname, 'python');
/** Pythons tried in order: $STATESET_TEST_PYTHON, a venv at .venv-llama-cpp, then python3 on PATH. */
const PYTHONS = [process.env.STATESET_TEST_PYTHON, resolve('.venv-llama-cpp/bin/python'), 'python3'].filter((p): p is string => !!p);

/** The first Python that imports `module`, or undefined. */
function pythonWith(module: string): string | undefined {
  return PYTHONS.find((python) => (python === 'python3' || existsSync(python)) && spawnSync(python, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0);
}

function runPython(python: string, script: string, args: string[]): Record<string, unknown> {
  const run = spawnSync(python, [join(PYTHON_DIR, script), ...args], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout.trim().split('\n').at(-1)!);
}

const gguf = pythonWith('gguf');
test('gguf-py reads the exports and re-encodes every tensor to the same bytes', { skip: gguf ? false : 'no python with the gguf package (pip install gguf)' }, async () => {
  for (const arch of ['gpt2', 'llama'] as const) {
    const dir = tempDir();
    makeTinyModel({ arch, outDir: dir, seed: 3 });
    const out = tempDir();
    const files = [];
    for (const type of ['f32', 'f16', 'q8_0'] as const) {
      const to = join(out, `${type}.gguf`);
      await exportGguf({ model: dir, to, type });
      files.push(to);
    }
    const found = runPython(gguf!, 'check_gguf_export.py', [dir, ...files]);
    assert.equal(found.architecture, arch);
    assert.equal(found.names_as_converter_maps_them, true, `${arch}: tensor names differ from gguf-py's map of the HuggingFace names`);
    assert.equal(found.names_llama_cpp_knows, true);
    assert.equal(found.alignment, 32);
    assert.equal(found.data_offsets_aligned, true);
    assert.deepEqual(found.file_types, { f32: 0, f16: 1, q8_0: 7 });
    assert.equal(found.f16_equals_f32_rounded, true, JSON.stringify(found.mismatches));
    assert.equal(found.q8_0_equals_gguf_py_quantize, true, JSON.stringify(found.mismatches));
    const types = found.types as Record<string, string[]>;
    assert.deepEqual(types[`${arch}.context_length`], ['UINT32']);
    assert.deepEqual(types['general.sampling.temp'], ['FLOAT32']);
    assert.deepEqual(types['tokenizer.ggml.tokens'], ['ARRAY', 'STRING']);
    assert.deepEqual(types['tokenizer.ggml.token_type'], ['ARRAY', 'INT32']);
    assert.deepEqual(types['tokenizer.ggml.eos_token_id'], ['UINT32']);
    assert.deepEqual(types['tokenizer.ggml.add_bos_token'], ['BOOL']);
    const storage = found.storage as Record<string, Record<string, string>>;
    assert.equal(storage.q8_0['token_embd.weight'], 'Q8_0');
    assert.equal(storage.q8_0['output_norm.weight'], 'F32');
    assert.equal(storage.f16['blk.0.ffn_down.weight'], 'F16');
  }
});

const llamaCpp = pythonWith('llama_cpp');
test('llama.cpp loads the export, tokenizes like the project and continues greedily as it does', { skip: llamaCpp ? false : 'no python with llama_cpp (pip install llama-cpp-python, which compiles llama.cpp for ~15 minutes)' }, async () => {
  const gpt2 = tempDir();
  makeTinyModel({ arch: 'gpt2', outDir: gpt2, seed: 5 });
  const llama = tempDir();
  makeTinyModel({ arch: 'llama', outDir: llama, seed: 5 });
  const prompt = '<|im_start|>user\nWhere is my order 48213?<|im_end|>\n<|im_start|>assistant\n';
  // The shipped demo model is trained, so its greedy choices are not near-ties.
  for (const model of [resolve('models/customer-service-tiny'), gpt2, llama]) {
    const to = join(tempDir(), 'model.gguf');
    const out = await exportGguf({ model, to, type: 'f32' });
    const ours = await loadModel(model);
    const promptIds = ours.tokenize(prompt);
    const [completion] = await ours.generate([promptIds], { maxNewTokens: 12, temperature: 0, stopTokenIds: [] });
    const theirs = runPython(llamaCpp!, 'llama_cpp_greedy.py', [to, prompt, '12']);
    assert.equal(theirs.architecture, out.architecture);
    assert.deepEqual(theirs.prompt_ids, Array.from(promptIds), `${model}: llama.cpp tokenizes the prompt differently`);
    assert.equal(theirs.chat_template, ours.config.chatTemplate);
    assert.deepEqual(theirs.continuation, Array.from(completion.tokens), `${model}: greedy continuations differ`);
  }
});
