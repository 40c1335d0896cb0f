/**
 * The protobuf wire format, for the few Tinker messages that open servers (SkyRL 0.4)
 * exchange as protobuf: ForwardBackwardRequest out; ForwardBackwardOutput and
 * SampleResponse in (schema: tinker_public.proto, SDK 0.25). A whole protobuf runtime
 * would be a dependency for five messages; the wire format itself is small.
 */
import { StatesetError } from '../../core/errors.js';

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

export const DTYPE = { float32: 1, int64: 2, int32: 3 } as const;

/** Appends fields to a growing buffer. */
export class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private length = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  private varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    const out: number[] = [];
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) byte |= 0x80;
      out.push(byte);
    } while (v !== 0n);
    this.push(Uint8Array.from(out));
  }

  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  uint(field: number, value: number | bigint): this {
    if (value !== 0 && value !== 0n) {
      this.tag(field, VARINT);
      this.varint(value);
    }
    return this;
  }

  bool(field: number, value: boolean): this {
    return this.uint(field, value ? 1 : 0);
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, LENGTH_DELIMITED);
    this.varint(value.length);
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return value === '' ? this : this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, write: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    write(inner);
    return this.bytes(field, inner.finish());
  }

  double(field: number, value: number): this {
    this.tag(field, FIXED64);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, value, true);
    this.push(b);
    return this;
  }

  /** A map<string, V> entry: key = 1, value = 2. */
  mapEntry(field: number, key: string, writeValue: (w: ProtoWriter) => void): this {
    return this.message(field, (w) => {
      w.string(1, key);
      writeValue(w);
    });
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

export interface ProtoField {
  field: number;
  wire: number;
  /** VARINT and FIXED values. */
  int?: bigint;
  /** LENGTH_DELIMITED payloads. */
  bytes?: Uint8Array;
}

/** Every field of one message, in order (repeated fields appear several times). */
export function readFields(buffer: Uint8Array): ProtoField[] {
  const fields: ProtoField[] = [];
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  let at = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (at >= buffer.length || shift > 63n) malformed('a varint runs past the end');
      const byte = buffer[at++];
      result |= BigInt(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return result;
    }
  };
  while (at < buffer.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === VARINT) fields.push({ field, wire, int: varint() });
    else if (wire === FIXED64) {
      if (at + 8 > buffer.length) malformed('a fixed64 runs past the end');
      fields.push({ field, wire, int: view.getBigUint64(at, true), bytes: buffer.subarray(at, at + 8) });
      at += 8;
    } else if (wire === FIXED32) {
      if (at + 4 > buffer.length) malformed('a fixed32 runs past the end');
      fields.push({ field, wire, int: BigInt(view.getUint32(at, true)), bytes: buffer.subarray(at, at + 4) });
      at += 4;
    } else if (wire === LENGTH_DELIMITED) {
      const length = Number(varint());
      if (at + length > buffer.length) malformed('a length-delimited field runs past the end');
      fields.push({ field, wire, bytes: buffer.subarray(at, at + length) });
      at += length;
    } else malformed(`unknown wire type ${wire}`);
  }
  return fields;
}

function malformed(what: string): never {
  throw new StatesetError('ERR_BACKEND', `the server's protobuf answer is malformed (${what}): is the server a Tinker-compatible one of a supported version?`);
}

/** Little-endian typed views that own their bytes (protobuf payloads are not aligned). */
export function float32s(bytes: Uint8Array | undefined): Float32Array {
  if (!bytes) return new Float32Array(0);
  return new Float32Array(Uint8Array.from(bytes).buffer);
}

export function int32s(bytes: Uint8Array | undefined): Int32Array {
  if (!bytes) return new Int32Array(0);
  return new Int32Array(Uint8Array.from(bytes).buffer);
}

export function int64s(bytes: Uint8Array | undefined): number[] {
  if (!bytes) return [];
  return Array.from(new BigInt64Array(Uint8Array.from(bytes).buffer), Number);
}

export function bytesOf(array: Float32Array | Int32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

export function utf8(bytes: Uint8Array | undefined): string {
  return bytes ? new TextDecoder().decode(bytes) : '';
}
