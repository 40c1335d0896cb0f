// An independent reader of TensorBoard event files for the tests: it checks both CRCs of
// every record and decodes Event / Summary / Value protobufs field by field.
import { readFileSync } from 'node:fs';
import { maskedCrc32c } from '../src/tracking/tensorboard/crc32c.js';

export interface DecodedEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  values: { tag: string; simpleValue: number }[];
}

interface Field {
  field: number;
  varint?: number;
  bytes?: Buffer;
}

function readVarint(buf: Buffer, pos: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (;;) {
    const b = buf[pos++];
    value += (b & 0x7f) * scale;
    scale *= 128;
    if (b < 0x80) return [value, pos];
  }
}

function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [key, afterKey] = readVarint(buf, pos);
    const field = Math.floor(key / 8);
    const wire = key % 8;
    pos = afterKey;
    if (wire === 0) {
      const [v, next] = readVarint(buf, pos);
      out.push({ field, varint: v });
      pos = next;
    } else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      out.push({ field, bytes: buf.subarray(pos, pos + n) });
      pos += n;
    } else if (wire === 2) {
      const [len, next] = readVarint(buf, pos);
      out.push({ field, bytes: buf.subarray(next, next + len) });
      pos = next + len;
    } else {
      throw new Error(`unexpected wire type ${wire}`);
    }
  }
  return out;
}

function decodeEvent(data: Buffer): DecodedEvent {
  const event: DecodedEvent = { wallTime: NaN, step: 0, values: [] };
  for (const f of fields(data)) {
    if (f.field === 1) event.wallTime = f.bytes!.readDoubleLE(0);
    else if (f.field === 2) event.step = f.varint!;
    else if (f.field === 3) event.fileVersion = f.bytes!.toString('utf8');
    else if (f.field === 5) {
      for (const v of fields(f.bytes!)) {
        const value = { tag: '', simpleValue: NaN };
        for (const g of fields(v.bytes!)) {
          if (g.field === 1) value.tag = g.bytes!.toString('utf8');
          if (g.field === 2) value.simpleValue = g.bytes!.readFloatLE(0);
        }
        event.values.push(value);
      }
    }
  }
  return event;
}

export function readEventFile(path: string): DecodedEvent[] {
  const buf = readFileSync(path);
  const events: DecodedEvent[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const length = Number(buf.readBigUInt64LE(pos));
    if (buf.readUInt32LE(pos + 8) !== maskedCrc32c(buf.subarray(pos, pos + 8))) throw new Error(`bad length CRC at ${pos}`);
    const data = buf.subarray(pos + 12, pos + 12 + length);
    if (buf.readUInt32LE(pos + 12 + length) !== maskedCrc32c(data)) throw new Error(`bad data CRC at ${pos}`);
    events.push(decodeEvent(data));
    pos += 12 + length + 4;
  }
  return events;
}
