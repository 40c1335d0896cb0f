/**
 * The Tinker messages the client sends and reads as protobuf (tinker_public.proto,
 * SDK 0.25 / SkyRL 0.4): what goes into a forward_backward request, and what comes back
 * from forward, forward_backward and sample futures.
 */
import { DTYPE, ProtoWriter, bytesOf, float32s, int32s, int64s, readFields, utf8 } from './protobuf.js';

/** One training example: the model reads `tokens`; position i predicts targetTokens[i]. */
export interface Datum {
  tokens: Int32Array;
  lossInputs: Record<string, Float32Array | Int32Array>;
}

export interface ForwardBackwardRequest {
  modelId: string;
  seqId: number;
  data: Datum[];
  lossFn: string;
  lossFnConfig?: Record<string, number>;
  forwardOnly: boolean;
}

/** ForwardBackwardRequest: model_id 1, seq_id 2, data 3, loss_fn 4, loss_fn_config 5, forward_only 6. */
export function encodeForwardBackward(request: ForwardBackwardRequest): Uint8Array {
  const w = new ProtoWriter().string(1, request.modelId).uint(2, request.seqId);
  for (const datum of request.data) w.message(3, (d) => writeDatum(d, datum));
  w.string(4, request.lossFn);
  for (const [key, value] of Object.entries(request.lossFnConfig ?? {})) w.mapEntry(5, key, (e) => e.double(2, value));
  return w.bool(6, request.forwardOnly).finish();
}

/** Datum: model_input 1 (Chunk: encoded_text 1 { tokens 1 }), loss_fn_inputs 2 (map<string, Tensor>). */
function writeDatum(w: ProtoWriter, datum: Datum): void {
  w.message(1, (chunk) => chunk.message(1, (text) => text.bytes(1, bytesOf(datum.tokens))));
  for (const [name, values] of Object.entries(datum.lossInputs)) {
    // Tensor: dense 1, dtype 3, shape 4. Token ids travel as int64, everything else as float32.
    const dense = values instanceof Int32Array ? BigInt64Array.from(values, (v) => BigInt(v)) : values;
    w.mapEntry(2, name, (e) =>
      e.message(2, (t) =>
        t
          .bytes(1, bytesOf(dense))
          .uint(3, values instanceof Int32Array ? DTYPE.int64 : DTYPE.float32)
          .bytes(4, packedVarints([values.length])),
      ),
    );
  }
}

/** A packed repeated int64: the values' varints back to back. */
function packedVarints(values: number[]): Uint8Array {
  const out: number[] = [];
  for (const value of values) {
    let v = value;
    do {
      let byte = v & 0x7f;
      v = Math.floor(v / 128);
      if (v !== 0) byte |= 0x80;
      out.push(byte);
    } while (v !== 0);
  }
  return Uint8Array.from(out);
}

/** Per datum, each named output (e.g. logprobs, elementwise_loss). */
export interface ForwardBackwardOutput {
  outputs: Array<Record<string, Float32Array>>;
  metrics: Record<string, number>;
}

/** ForwardBackwardOutput: loss_fn_output_type 1, loss_fn_outputs 2 (ArrayRecord), metrics 3. */
export function decodeForwardBackward(buffer: Uint8Array): ForwardBackwardOutput {
  const outputs: Array<Record<string, Float32Array>> = [];
  const metrics: Record<string, number> = {};
  for (const f of readFields(buffer)) {
    if (f.field === 2) {
      // ArrayRecord: fields 2 = map<string, BatchedTensor{data 1, offsets 2, dtype 3}>, num_datums 3.
      for (const entry of readFields(f.bytes!).filter((x) => x.field === 2)) {
        const kv = readFields(entry.bytes!);
        const name = utf8(kv.find((x) => x.field === 1)?.bytes);
        const tensor = readFields(kv.find((x) => x.field === 2)?.bytes ?? new Uint8Array(0));
        const data = tensor.find((x) => x.field === 1)?.bytes ?? new Uint8Array(0);
        const offsets = int64s(tensor.find((x) => x.field === 2)?.bytes);
        for (let i = 0; i + 1 < offsets.length; i++) {
          (outputs[i] ??= {})[name] = float32s(data.subarray(offsets[i], offsets[i + 1]));
        }
      }
    } else if (f.field === 3) {
      const kv = readFields(f.bytes!);
      const value = kv.find((x) => x.field === 2)?.bytes;
      if (value) metrics[utf8(kv.find((x) => x.field === 1)?.bytes)] = new DataView(Uint8Array.from(value).buffer).getFloat64(0, true);
    }
  }
  return { outputs, metrics };
}

export interface SampledSequence {
  tokens: Int32Array;
  logprobs: Float32Array;
  stopReason: 'stop' | 'length';
}

export interface SampleResponse {
  sequences: SampledSequence[];
  /** Log-prob of each prompt token given the ones before (NaN for the first). */
  promptLogprobs?: Float32Array;
}

/** SampleResponse: sequences 1 (SampledSequence: stop_reason 1, tokens 2, logprobs 3), prompt_logprobs 2. */
export function decodeSample(buffer: Uint8Array): SampleResponse {
  const sequences: SampledSequence[] = [];
  let promptLogprobs: Float32Array | undefined;
  for (const f of readFields(buffer)) {
    if (f.field === 1) {
      const s = readFields(f.bytes!);
      sequences.push({
        stopReason: Number(s.find((x) => x.field === 1)?.int ?? 0n) === 1 ? 'length' : 'stop',
        tokens: int32s(s.find((x) => x.field === 2)?.bytes),
        logprobs: float32s(s.find((x) => x.field === 3)?.bytes),
      });
    } else if (f.field === 2) promptLogprobs = float32s(f.bytes);
  }
  return { sequences, ...(promptLogprobs ? { promptLogprobs } : {}) };
}
