/**
 * The simulator's inner loop as a tiny WebAssembly module, assembled here from opcodes (no toolchain,
 * no binary file in the repo). JavaScript has no popcount: the loop in plain JS needs a dozen SWAR
 * operations per 32-bit word. WebAssembly SIMD has `i8x16.popcnt` and 128-bit xor, so one neuron of
 * a 1024-bit layer is 8 loads, 8 xors, 8 popcounts and a short add tree.
 *
 * One exported function per row width V (in 128-bit chunks), fully unrolled over V with the input
 * held in locals:
 *   simdV(w, x, out, limit, neurons): for n in 0..neurons-1:
 *     pc = popcount(w[n] xor x);  bit n of out = (pc < limit[n])
 * `neurons` must be a multiple of 32 (it is: 1024 and 64). `countV(w, x, out, _, neurons)` instead writes each
 * neuron's popcount as an int32 to out[n] (the float model needs the exact dot product, not just the bit).
 */

const uleb = (v: number): number[] => {
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
};
const sleb = (v: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
};
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

const I32 = 0x7f;
const op = {
  block: 0x02,
  loop: 0x03,
  end: 0x0b,
  brIf: 0x0d,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  i64Load: 0x29,
  i32Store: 0x36,
  i32Const: 0x41,
  i32Eqz: 0x45,
  i32LtS: 0x48,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32And: 0x71,
  i32Or: 0x72,
  i32Shl: 0x74,
  i32ShrU: 0x76,
  i32LtU: 0x49,
  i64Popcnt: 0x7b,
  i64Add: 0x7c,
  i64Xor: 0x85,
  i32WrapI64: 0xa7,
  void: 0x40,
};

/** Bytes of input each image's activation buffer takes (1024 bits = 128 bytes; room to spare). */
export const ACT_STRIDE = 256;

const V128 = 0x7b;
const simd = (code: number, ...imm: number[]): number[] => [0xfd, ...uleb(code), ...imm];

/**
 * Body of simdV (V = 128-bit chunks per neuron row): the same computation with WebAssembly SIMD:
 * i8x16.popcnt counts bits per byte, 8 chunks are summed bytewise (max 64 per byte, no overflow), then
 * two pairwise widening adds and a 4-lane sum give the neuron's popcount. Params: 0 w, 1 x, 2 out,
 * 3 limit, 4 neurons (a multiple of 32). Out bit n = (popcount(w_n ^ x) < limit[n]).
 * Locals: 5 n, 6 bits (i32), 7.. x chunks (v128), then the accumulator (v128).
 */
function simdBody(V: number, counts = false): number[] {
  const [W, X, OUT, LIM, NEURONS, N, BITS] = [0, 1, 2, 3, 4, 5, 6];
  const xl = (v: number) => 7 + v;
  const c: number[] = [];
  for (let v = 0; v < V; v++) c.push(op.localGet, X, ...simd(0x00, 4, ...uleb(16 * v)), op.localSet, xl(v));
  c.push(op.block, op.void, op.loop, op.void);
  if (counts) c.push(op.localGet, OUT); // address of the i32.store below
  const term = (v: number) => [
    op.localGet,
    W,
    ...simd(0x00, 4, ...uleb(16 * v)),
    op.localGet,
    xl(v),
    ...simd(0x51), // v128.xor
    ...simd(0x62), // i8x16.popcnt
  ];
  const tree = (lo: number, hi: number): number[] =>
    hi - lo === 1 ? term(lo) : [...tree(lo, (lo + hi) >> 1), ...tree((lo + hi) >> 1, hi), ...simd(0x6e)];
  c.push(...tree(0, V));
  c.push(...simd(0x7d), ...simd(0x7f)); // i16x8.extadd_pairwise_i8x16_u, i32x4.extadd_pairwise_i16x8_u
  // Sum the 4 lanes with two swap-and-add steps, then one extract (cheaper than 4 extracts).
  const swap = (lanes: number[]) =>
    simd(0x0d, ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]));
  const add32 = simd(0xae, 0x01);
  c.push(op.localTee, xl(V), op.localGet, xl(V), op.localGet, xl(V), ...swap([2, 3, 0, 1]), ...add32);
  c.push(op.localTee, xl(V), op.localGet, xl(V), op.localGet, xl(V), ...swap([1, 0, 3, 2]), ...add32);
  c.push(...simd(0x1b, 0));
  if (counts) {
    // countV: out[n] = popcount (int32), for the float model and calibration.
    c.push(op.i32Store, 2, 0);
    c.push(op.localGet, OUT, op.i32Const, 4, op.i32Add, op.localSet, OUT);
    c.push(op.localGet, W, op.i32Const, ...sleb(16 * V), op.i32Add, op.localSet, W);
    c.push(op.localGet, N, op.i32Const, 1, op.i32Add, op.localTee, N);
    c.push(op.localGet, NEURONS, op.i32LtU, op.brIf, 0);
    c.push(op.end, op.end, op.end);
    void LIM;
    void BITS;
    const locals = vec([
      [2, I32],
      [...uleb(V + 1), V128],
    ]);
    const body = [...locals, ...c];
    return [...uleb(body.length), ...body];
  }
  c.push(op.localGet, LIM, op.i32Load, 2, 0, op.i32LtS);
  c.push(
    op.localGet,
    N,
    op.i32Const,
    ...sleb(31),
    op.i32And,
    op.i32Shl,
    op.localGet,
    BITS,
    op.i32Or,
    op.localSet,
    BITS,
  );
  c.push(op.localGet, W, op.i32Const, ...sleb(16 * V), op.i32Add, op.localSet, W);
  c.push(op.localGet, LIM, op.i32Const, 4, op.i32Add, op.localSet, LIM);
  c.push(op.localGet, N, op.i32Const, 1, op.i32Add, op.localTee, N);
  c.push(op.i32Const, ...sleb(31), op.i32And, op.i32Eqz, 0x04, op.void);
  c.push(op.localGet, OUT, op.localGet, BITS, op.i32Store, 2, 0);
  c.push(op.i32Const, 0, op.localSet, BITS);
  c.push(op.localGet, OUT, op.i32Const, 4, op.i32Add, op.localSet, OUT);
  c.push(op.end);
  c.push(op.localGet, N, op.localGet, NEURONS, op.i32LtU, op.brIf, 0);
  c.push(op.end, op.end, op.end);
  const locals = vec([
    [2, I32],
    [...uleb(V + 1), V128],
  ]);
  const body = [...locals, ...c];
  return [...uleb(body.length), ...body];
}

/** The module's bytes: imports memory env.mem, exports layer<K> for each K. */
export function assembleKernel(simdChunks: number[]): Uint8Array {
  const type = [0x60, ...vec([[I32], [I32], [I32], [I32], [I32]]), 0x00];
  const bytes = [
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec([type])),
    ...section(2, vec([[...name('env'), ...name('mem'), 0x02, 0x00, 0x01]])),
    ...section(3, vec([...simdChunks, ...simdChunks].map(() => [0x00]))),
    ...section(
      7,
      vec([
        ...simdChunks.map((V, i) => [...name(`simd${V}`), 0x00, ...uleb(i)]),
        ...simdChunks.map((V, i) => [...name(`count${V}`), 0x00, ...uleb(simdChunks.length + i)]),
      ]),
    ),
    ...section(10, vec([...simdChunks.map((V) => simdBody(V)), ...simdChunks.map((V) => simdBody(V, true))])),
  ];
  return new Uint8Array(bytes);
}

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

export type LayerFn = (w: number, x: number, out: number, limit: number, neurons: number) => void;

let compiled: object | undefined;
/** SIMD variants: 128-bit chunks per row (896 = 832 padded, and 1024 bits). */
export const SIMD_CHUNKS = [7, 8];

/** Instantiates the kernel on a fresh memory of at least `bytes` bytes. */
export function instantiateKernel(bytes: number): { memory: WasmMemory; layer: Map<string, LayerFn> } {
  compiled ??= new wasm.Module(assembleKernel(SIMD_CHUNKS));
  const memory = new wasm.Memory({ initial: Math.ceil(bytes / 65536) });
  const instance = new wasm.Instance(compiled, { env: { mem: memory } });
  const layer = new Map<string, LayerFn>();
  for (const V of SIMD_CHUNKS)
    for (const kind of ['simd', 'count'])
      layer.set(`${kind}${V}`, instance.exports[`${kind}${V}`] as LayerFn);
  return { memory, layer };
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
  const strides = matrices.map((m) => Math.ceil(m.words / 4) * 4);
  const maxStride = Math.max(...strides);
  const maxNeurons = Math.max(...matrices.map((m) => m.neurons));
  const input = 0;
  const output = (maxStride * 4 + 15) & ~15;
  let offset = (output + maxNeurons * 4 + 15) & ~15;
  const at = matrices.map((m, i) => {
    const o = offset;
    offset += m.neurons * (strides[i] as number) * 4;
    return o;
  });
  const { memory, layer } = instantiateKernel(offset);
  const u32 = new Uint32Array(memory.buffer);
  const i32 = new Int32Array(memory.buffer);
  const fns = matrices.map((m, i) => {
    const stride = strides[i] as number;
    for (let n = 0; n < m.neurons; n++)
      u32.set(m.bits.subarray(n * m.words, (n + 1) * m.words), (at[i] as number) / 4 + n * stride);
    const fn = layer.get(`count${stride / 4}`);
    if (!fn) throw new RangeError(`no count kernel for ${m.words * 32}-bit rows`);
    return fn;
  });
  return {
    count(matrix, x) {
      const m = matrices[matrix] as BitMatrix;
      u32.fill(0, input / 4, input / 4 + maxStride);
      u32.set(x.subarray(0, m.words), input / 4);
      (fns[matrix] as LayerFn)(at[matrix] as number, input, output, 0, m.neurons);
      return i32.subarray(output / 4, output / 4 + m.neurons);
    },
  };
}
