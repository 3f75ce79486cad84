import { must } from '../defined';
import { BNN_WASM_BASE64 } from './kernels/bnn-wasm';

/**
 * The WebAssembly kernels of lib/bnn/kernels/bnn.wat (built by `npm run build:wasm` with wabt into
 * kernels/bnn-wasm.ts; nothing is assembled at run time). This module owns the memory-layout rules the
 * kernels assume, so the simulators place their data through these constants only.
 */

/** Bytes per 128-bit chunk: rows and inputs are padded to whole chunks (with 0 bits) and 16-byte aligned. */
export const CHUNK_BYTES = 16;
/** The kernels' byte-lane counters hold at most 31 chunks (8 bits per chunk, < 256): 3,968 bits per row. */
export const MAX_CHUNKS = 31;
/** Bytes each lfcW1A1 activation level takes (1,024 bits = 128 bytes; room to spare). */
export const ACT_STRIDE = 256;

/** Chunks of a row of `bits` bits. */
export const chunksFor = (bits: number): number => Math.ceil(bits / 128);
/**
 * Quad layout (xnor_threshold): where 32-bit word `word` of neuron `n`'s row goes, in 32-bit words from
 * the matrix's start, for rows of `words64` 64-bit words. Neurons 4q..4q+3 are interleaved by 64-bit
 * word, so one pointer walks a quad: 64-bit word k of neuron 4q + j at byte (q * words64 + k) * 32 + j * 8.
 */
export const quadWordOffset = (n: number, word: number, words64: number): number =>
  (((n >>> 2) * words64 + (word >>> 1)) * 4 + (n & 3)) * 2 + (word & 1);
/** `offset` rounded up to the kernels' alignment. */
export const align = (offset: number): number => (offset + CHUNK_BYTES - 1) & ~(CHUNK_BYTES - 1);

// Minimal typings of the WebAssembly global (the project's tsconfig has no DOM lib).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Memory: new (d: { initial: number }) => WasmMemory;
  Instance: new (m: object, imports: object) => { exports: Record<string, unknown> };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** The exports of bnn.wat; every address is a byte offset into `memory`. */
export interface BnnKernel {
  memory: WasmMemory;
  /** Packed bits at out: bit i = (byte i at px >= 128), for `bytes` bytes (a multiple of 16). */
  topBits(px: number, out: number, bytes: number): void;
  /** out[n] = popcount(w_n xor x). */
  mismatchCount(w: number, x: number, out: number, neurons: number, chunks: number): void;
  /**
   * Packed bits: bit n = popcount(w_n xor x) < limit[n]; neurons a multiple of 32, rows of `words64`
   * 64-bit words in quad layout (quadWordOffset).
   */
  xnorThreshold(w: number, x: number, out: number, limit: number, neurons: number, words64: number): void;
  /** out[n] = Σ w·a of -1/0/+1 values held as (nonzero, negative) planes. */
  planesDot(
    wnz: number,
    wneg: number,
    xnz: number,
    xneg: number,
    out: number,
    neurons: number,
    chunks: number,
  ): void;
  /** mismatchCount for 4 inputs at x + k·step, results at out + k·ostep. */
  mismatchCount4(
    w: number,
    x: number,
    out: number,
    neurons: number,
    chunks: number,
    step: number,
    ostep: number,
  ): void;
  /** planesDot for 4 inputs at (xnz, xneg) + k·step, results at out + k·ostep. */
  planesDot4(
    wnz: number,
    wneg: number,
    xnz: number,
    xneg: number,
    out: number,
    neurons: number,
    chunks: number,
    step: number,
    ostep: number,
  ): void;
  /** Copies the 3x3 window at input pixel (y, x) (blocks of `block` bytes per pixel) into the column planes. */
  im2col3x3(
    inNz: number,
    inNeg: number,
    inDim: number,
    block: number,
    y: number,
    x: number,
    colNz: number,
    colNeg: number,
  ): void;
  /** out[n] = Σ w·x over int16 lanes. */
  dotI16(w: number, x: number, out: number, neurons: number, chunks: number): void;
  /** Packed (nonzero, negative) planes of the activations of mul·acc[n] + add against 1 or 2 thresholds each. */
  threshold(
    acc: number,
    thr: number,
    nthr: number,
    rows: number,
    mul: number,
    add: number,
    outNz: number,
    outNeg: number,
  ): void;
}

let compiled: object | undefined;

/** Instantiates the kernels on a fresh memory of at least `bytes` bytes. */
export function instantiateBnnKernel(bytes: number): BnnKernel {
  compiled ??= new wasm.Module(Uint8Array.from(Buffer.from(BNN_WASM_BASE64, 'base64')));
  const memory = new wasm.Memory({ initial: Math.max(1, Math.ceil(bytes / 65536)) });
  const e = new wasm.Instance(compiled, { env: { mem: memory } }).exports;
  return {
    memory,
    topBits: e.top_bits as BnnKernel['topBits'],
    mismatchCount: e.mismatch_count as BnnKernel['mismatchCount'],
    xnorThreshold: e.xnor_threshold as BnnKernel['xnorThreshold'],
    planesDot: e.planes_dot as BnnKernel['planesDot'],
    dotI16: e.dot_i16 as BnnKernel['dotI16'],
    im2col3x3: e.im2col3x3 as BnnKernel['im2col3x3'],
    mismatchCount4: e.mismatch_count4 as BnnKernel['mismatchCount4'],
    planesDot4: e.planes_dot4 as BnnKernel['planesDot4'],
    threshold: e.threshold as BnnKernel['threshold'],
  };
}

export interface BitMatrix {
  /** 32-bit words per row (bits past the real width must be 0). */
  words: number;
  neurons: number;
  /** Row-major: row n at words [n * words, (n + 1) * words). */
  bits: Uint32Array;
}

/**
 * popcount(row_n xor x) for every row of a matrix, in the WebAssembly kernel. Rows are padded to whole
 * 128-bit chunks with 0 bits (in rows and input alike, so padding never counts). `count` returns a view
 * that the next call overwrites.
 */
export function createMismatchCounter(matrices: BitMatrix[]): {
  count(matrix: number, x: Uint32Array): Int32Array;
} {
  const input = 0;
  const maxChunks = Math.max(...matrices.map((m) => chunksFor(m.words * 32)));
  if (maxChunks > MAX_CHUNKS) throw new RangeError(`rows wider than ${MAX_CHUNKS * 128} bits`);
  const output = align(maxChunks * CHUNK_BYTES);
  let offset = align(output + Math.max(...matrices.map((m) => m.neurons)) * 4);
  const placed = matrices.map((m) => {
    const chunks = chunksFor(m.words * 32);
    const at = offset;
    offset += m.neurons * chunks * CHUNK_BYTES;
    return { m, chunks, at };
  });
  const kernel = instantiateBnnKernel(offset);
  const u32 = new Uint32Array(kernel.memory.buffer);
  const i32 = new Int32Array(kernel.memory.buffer);
  for (const { m, chunks, at } of placed)
    for (let n = 0; n < m.neurons; n++)
      u32.set(m.bits.subarray(n * m.words, (n + 1) * m.words), at / 4 + n * chunks * 4);
  return {
    count(matrix, x) {
      const { m, chunks, at } = must(placed[matrix], `matrix ${matrix}`);
      u32.fill(0, input / 4, input / 4 + maxChunks * 4);
      u32.set(x.subarray(0, m.words), input / 4);
      kernel.mismatchCount(at, input, output, m.neurons, chunks);
      return i32.subarray(output / 4, output / 4 + m.neurons);
    },
  };
}
