import { unzipSync } from 'fflate';

/** One array of an .npz: dtype descr ('<f4'), shape, Fortran order. Enough to check a model's layout. */
export interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

/** Reads the .npy headers of every entry of an .npz (an independent reader: the training code writes, this checks). */
export function npzHeaders(bytes: Uint8Array): Map<string, NpyHeader> {
  const entries = unzipSync(bytes);
  const out = new Map<string, NpyHeader>();
  for (const [name, data] of Object.entries(entries)) {
    if (data[0] !== 0x93 || String.fromCharCode(...data.subarray(1, 6)) !== 'NUMPY')
      throw new Error(`${name}: not an .npy entry`);
    const major = data[6];
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
    const start = major === 1 ? 10 : 12;
    const header = new TextDecoder().decode(data.subarray(start, start + headerLength));
    const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
    const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
    const shape = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
    if (descr === undefined || fortran === undefined || shape === undefined)
      throw new Error(`${name}: unreadable header ${header}`);
    out.set(name.replace(/\.npy$/, ''), {
      descr,
      fortranOrder: fortran === 'True',
      shape: shape
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .map(Number),
    });
  }
  return out;
}
