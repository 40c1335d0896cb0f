/**
 * TensorBoard's on-disk format: a sequence of TFRecords, each holding one `Event` protobuf.
 *
 *   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
 *   Summary { repeated Value value = 1; }
 *   Value   { string tag = 1; float simple_value = 2; }
 *
 *   TFRecord: uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)
 *   (all little-endian)
 */
import { maskedCrc32c } from './crc32c.js';
import { ProtoWriter } from './protobuf.js';

/** The first event of every file; readers check it to know the format version. */
export const FILE_VERSION = 'brain.Event:2';

export function fileVersionEvent(wallTime: number): Uint8Array {
  return new ProtoWriter().double(1, wallTime).uint64(2, 0).string(3, FILE_VERSION).finish();
}

export function scalarsEvent(wallTime: number, step: number, scalars: Record<string, number>): Uint8Array {
  const summary = new ProtoWriter();
  for (const [tag, value] of Object.entries(scalars)) {
    summary.bytes(1, new ProtoWriter().string(1, tag).float(2, value).finish());
  }
  return new ProtoWriter().double(1, wallTime).uint64(2, step).bytes(5, summary.finish()).finish();
}

export function tfRecord(data: Uint8Array): Buffer {
  const record = Buffer.alloc(8 + 4 + data.length + 4);
  record.writeBigUInt64LE(BigInt(data.length), 0);
  record.writeUInt32LE(maskedCrc32c(record.subarray(0, 8)), 8);
  record.set(data, 12);
  record.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return record;
}
