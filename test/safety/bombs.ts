import { closeSync, openSync, writeSync } from 'node:fs';
import { constants, crc32, deflateRawSync } from 'node:zlib';

/**
 * Decompression bombs, built without holding them in memory: a deflate stream of N zero bytes is the
 * same block repeated, so we compress one 1 MiB block of zeros with Z_FULL_FLUSH and repeat it.
 */
const BLOCK = 1 << 20;
const zeroBlock = Buffer.alloc(BLOCK);

/** Raw deflate of `prefix` followed by `zeros` zero bytes (zeros a multiple of 1 MiB), and its CRC-32. */
function deflateZeros(prefix: Uint8Array, zeros: number): { data: Buffer; crc: number; size: number } {
  if (zeros % BLOCK !== 0) throw new RangeError('zeros must be a multiple of 1 MiB');
  const head = deflateRawSync(prefix, { finishFlush: constants.Z_FULL_FLUSH });
  const block = deflateRawSync(zeroBlock, { finishFlush: constants.Z_FULL_FLUSH });
  const end = deflateRawSync(Buffer.alloc(0)); // a final empty block
  const parts: Buffer[] = [head];
  let crc = crc32(prefix);
  for (let i = 0; i < zeros / BLOCK; i++) {
    parts.push(block);
    crc = crc32(zeroBlock, crc);
  }
  parts.push(end);
  return { data: Buffer.concat(parts), crc, size: prefix.length + zeros };
}

/** A .gz file of `prefix` + `zeros` zero bytes. */
export function gzipBomb(prefix: Uint8Array, zeros: number): Buffer {
  const { data, crc, size } = deflateZeros(prefix, zeros);
  const header = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(size % 2 ** 32, 4);
  return Buffer.concat([header, data, trailer]);
}

export interface BombEntry {
  name: string;
  prefix?: Uint8Array;
  zeros?: number;
  /** The uncompressed size written into the headers (default: the real one); a lie tests the streaming stop. */
  declaredSize?: number;
}

/** A zip (deflated entries) written to `file`; entries may expand to gigabytes. */
export function writeZipBomb(file: string, entries: BombEntry[]): void {
  const fd = openSync(file, 'w');
  const central: Buffer[] = [];
  let offset = 0;
  const write = (b: Buffer) => {
    writeSync(fd, b);
    offset += b.length;
  };
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const { data, crc, size } =
      e.zeros === undefined && e.prefix
        ? { data: deflateRawSync(e.prefix), crc: crc32(e.prefix), size: e.prefix.length }
        : deflateZeros(e.prefix ?? new Uint8Array(0), e.zeros ?? 0);
    const declared = e.declaredSize ?? size;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt32LE(crc >>> 0, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(declared, 22);
    local.writeUInt16LE(name.length, 26);
    const at = offset;
    write(Buffer.concat([local, name, data]));
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(0x0800, 8);
    cd.writeUInt16LE(8, 10);
    cd.writeUInt32LE(crc >>> 0, 16);
    cd.writeUInt32LE(data.length, 20);
    cd.writeUInt32LE(declared, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(at, 42);
    central.push(Buffer.concat([cd, name]));
  }
  const cdStart = offset;
  const cdBytes = Buffer.concat(central);
  write(cdBytes);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cdBytes.length, 12);
  eocd.writeUInt32LE(cdStart, 16);
  write(eocd);
  closeSync(fd);
}

/** An idx header: `00 00 08 <ndim>` and the big-endian dimensions. */
export function idxHeader(dims: number[]): Buffer {
  const b = Buffer.alloc(4 + 4 * dims.length);
  b[2] = 8;
  b[3] = dims.length;
  dims.forEach((d, i) => {
    b.writeUInt32BE(d, 4 + 4 * i);
  });
  return b;
}
