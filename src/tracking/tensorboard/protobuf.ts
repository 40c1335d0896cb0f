/**
 * The few protocol-buffer wire encodings an Event needs (varint, 64-bit, length-delimited,
 * 32-bit), so TensorBoard files can be written without a protobuf dependency.
 */

const enum WireType {
  Varint = 0,
  Fixed64 = 1,
  LengthDelimited = 2,
  Fixed32 = 5,
}

export class ProtoWriter {
  private readonly parts: Uint8Array[] = [];

  /** A non-negative integer up to 2^53, which covers every step count. */
  uint64(field: number, value: number): this {
    return this.key(field, WireType.Varint).varint(value);
  }

  double(field: number, value: number): this {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setFloat64(0, value, true);
    return this.key(field, WireType.Fixed64).push(bytes);
  }

  float(field: number, value: number): this {
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    return this.key(field, WireType.Fixed32).push(bytes);
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  bytes(field: number, value: Uint8Array): this {
    return this.key(field, WireType.LengthDelimited).varint(value.length).push(value);
  }

  finish(): Uint8Array {
    return Buffer.concat(this.parts);
  }

  private key(field: number, wireType: WireType): this {
    return this.varint(field * 8 + wireType);
  }

  private varint(value: number): this {
    const out: number[] = [];
    let rest = value;
    while (rest >= 0x80) {
      out.push((rest % 0x80) | 0x80);
      rest = Math.floor(rest / 0x80);
    }
    out.push(rest);
    return this.push(Uint8Array.from(out));
  }

  private push(bytes: Uint8Array): this {
    this.parts.push(bytes);
    return this;
  }
}
