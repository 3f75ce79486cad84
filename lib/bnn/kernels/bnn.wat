;; The simulators' inner loops (docs/overlays.md §3.2), in WebAssembly text. `npm run build:wasm`
;; (scripts/build-wasm.js, the wabt assembler) turns this file into lib/bnn/kernels/bnn-wasm.ts, which
;; embeds the binary; test/bnn/wasm-kernel.test.ts fails if the two disagree.
;;
;; Why WebAssembly: JavaScript has no popcount (a 32-bit SWAR popcount is a dozen operations), while
;; WebAssembly has a native `i64.popcnt` and SIMD with 128-bit xor/and and `i8x16.popcnt`.
;;
;; Conventions, shared by every function:
;; - Every address is a byte offset into the imported memory `env.mem`, 16-byte aligned.
;; - A matrix is `neurons` rows of `chunks` 128-bit chunks each (row n at w + n * chunks * 16; except
;;   xnor_threshold's: 64-bit words in quad layout, see there); bits past a row's real width are 0 in
;;   rows and inputs alike, so they never count.
;; - `chunks` is at most 31: byte lanes accumulate up to 8 per chunk and must stay below 256.
;; - Results are one i32 per neuron at `out` (except xnor_threshold, which packs bits).
(module
  (import "env" "mem" (memory 1))

  ;; The sum of the 16 unsigned byte lanes of $v.
  (func $sum_bytes (param $v v128) (result i32)
    (local $s v128)
    (local.set $s (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (local.get $v))))
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $s)) (i32x4.extract_lane 1 (local.get $s)))
      (i32.add (i32x4.extract_lane 2 (local.get $s)) (i32x4.extract_lane 3 (local.get $s)))))

  ;; The sum of the 4 i32 lanes of $v.
  (func $sum_i32 (param $v v128) (result i32)
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $v)) (i32x4.extract_lane 1 (local.get $v)))
      (i32.add (i32x4.extract_lane 2 (local.get $v)) (i32x4.extract_lane 3 (local.get $v)))))

  ;; out[n] = popcount(w_n xor x): the mismatches of binary weights and binary inputs. A binary layer's
  ;; XNOR-popcount is `width - out[n]`, its signed sum `width - 2 * out[n]`.
  (func (export "mismatch_count")
    (param $w i32) (param $x i32) (param $out i32) (param $neurons i32) (param $chunks i32)
    (local $stride i32) (local $end i32) (local $c i32) (local $acc v128)
    (local.set $stride (i32.shl (local.get $chunks) (i32.const 4)))
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $neurons) (i32.const 2))))
    (block $done
      (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
      (loop $row
        (local.set $acc (v128.const i64x2 0 0))
        (local.set $c (i32.const 0))
        (loop $chunk
          (local.set $acc
            (i8x16.add (local.get $acc)
              (i8x16.popcnt
                (v128.xor
                  (v128.load (i32.add (local.get $w) (local.get $c)))
                  (v128.load (i32.add (local.get $x) (local.get $c)))))))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br_if $chunk (i32.lt_u (local.get $c) (local.get $stride))))
        (i32.store (local.get $out) (call $sum_bytes (local.get $acc)))
        (local.set $w (i32.add (local.get $w) (local.get $stride)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br_if $row (i32.lt_u (local.get $out) (local.get $end))))))

  ;; The lfcW1A1 input layer's bits: bit i of the packed output at $out is 1 when byte i at $px is >= 128,
  ;; i.e. has its top bit set (the host's binarization of a pixel), for `bytes` bytes (a multiple of 16).
  ;; i8x16.bitmask gathers exactly those top bits, 16 pixels per instruction.
  (func (export "top_bits")
    (param $px i32) (param $out i32) (param $bytes i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $px) (local.get $bytes)))
    (block $done
      (br_if $done (i32.ge_u (local.get $px) (local.get $end)))
      (loop $sixteen
        (i32.store16 (local.get $out) (i8x16.bitmask (v128.load (local.get $px))))
        (local.set $out (i32.add (local.get $out) (i32.const 2)))
        (local.set $px (i32.add (local.get $px) (i32.const 16)))
        (br_if $sixteen (i32.lt_u (local.get $px) (local.get $end))))))

  ;; The lfcW1A1 layer in one call (docs/overlays.md §3.2): bit n of the packed output at $out is
  ;; popcount(w_n xor x) < limit[n], limit = MW - T (so the test is XNOR-popcount > T), over rows of
  ;; `words` 64-bit words (MW / 64: 13 for the first layer, 16 for the others); `neurons` is a multiple
  ;; of 32, the limits are i32 at $limit.
  ;;
  ;; Four neurons per pass share each input word, so the weights are in quad layout
  ;; (lib/bnn/wasm-kernel.ts, quadWordOffset): the rows of neurons 4q..4q+3 interleaved by 64-bit word,
  ;; word k of neuron 4q + j at w + (q * words + k) * 32 + j * 8, so one pointer walks a quad.
  ;; Why scalar i64.popcnt: on x64 it is one instruction, while i8x16.popcnt is a six-instruction table
  ;; lookup; measured on this project's 2-core Xeon, 15.6 µs per MNIST image against 19-22 µs for SIMD
  ;; forms of this loop. Why 64-bit words, not 128-bit chunks: MW = 832 is 13 words, 6.5 chunks.
  ;; Why no branch: whether a neuron fires is data, and a mispredicted `if` per neuron costs as much as the
  ;; popcounts (the SIMD kernel this replaced had one per neuron: 36.7 µs per image, docs/convert-verify.md);
  ;; each comparison's 0/1 is shifted into place instead.
  (func (export "xnor_threshold")
    (param $w i32) (param $x i32) (param $out i32) (param $limit i32) (param $neurons i32) (param $words i32)
    (local $n i32) (local $k i32) (local $end i32) (local $bits i32) (local $xk i64)
    (local $a0 i64) (local $a1 i64) (local $a2 i64) (local $a3 i64)
    (local.set $end (i32.shl (local.get $words) (i32.const 3)))
    (block $done
      (br_if $done (i32.eqz (local.get $neurons)))
      (loop $quad
        (local.set $a0 (i64.const 0))
        (local.set $a1 (i64.const 0))
        (local.set $a2 (i64.const 0))
        (local.set $a3 (i64.const 0))
        (local.set $k (i32.const 0))
        (loop $word
          ;; Input word k against word k of the quad's four rows.
          (local.set $xk (i64.load (i32.add (local.get $x) (local.get $k))))
          (local.set $a0 (i64.add (local.get $a0) (i64.popcnt (i64.xor (local.get $xk) (i64.load offset=0 (local.get $w))))))
          (local.set $a1 (i64.add (local.get $a1) (i64.popcnt (i64.xor (local.get $xk) (i64.load offset=8 (local.get $w))))))
          (local.set $a2 (i64.add (local.get $a2) (i64.popcnt (i64.xor (local.get $xk) (i64.load offset=16 (local.get $w))))))
          (local.set $a3 (i64.add (local.get $a3) (i64.popcnt (i64.xor (local.get $xk) (i64.load offset=24 (local.get $w))))))
          (local.set $w (i32.add (local.get $w) (i32.const 32)))
          (local.set $k (i32.add (local.get $k) (i32.const 8)))
          (br_if $word (i32.lt_u (local.get $k) (local.get $end))))
        ;; Neurons n..n+3 fire or not: four bits, placed at bit n mod 32 of the word being filled.
        (local.set $bits
          (i32.or (local.get $bits)
            (i32.shl
              (i32.or
                (i32.or
                  (i32.lt_s (i32.wrap_i64 (local.get $a0)) (i32.load offset=0 (local.get $limit)))
                  (i32.shl (i32.lt_s (i32.wrap_i64 (local.get $a1)) (i32.load offset=4 (local.get $limit))) (i32.const 1)))
                (i32.or
                  (i32.shl (i32.lt_s (i32.wrap_i64 (local.get $a2)) (i32.load offset=8 (local.get $limit))) (i32.const 2))
                  (i32.shl (i32.lt_s (i32.wrap_i64 (local.get $a3)) (i32.load offset=12 (local.get $limit))) (i32.const 3))))
              (i32.and (local.get $n) (i32.const 31)))))
        (local.set $limit (i32.add (local.get $limit) (i32.const 16)))
        (local.set $n (i32.add (local.get $n) (i32.const 4)))
        (if (i32.eqz (i32.and (local.get $n) (i32.const 31)))
          (then
            (i32.store (local.get $out) (local.get $bits))
            (local.set $bits (i32.const 0))
            (local.set $out (i32.add (local.get $out) (i32.const 4)))))
        (br_if $quad (i32.lt_u (local.get $n) (local.get $neurons))))))

  ;; out[n] = Σ w·a for values -1 / 0 / +1 held as two bit planes, nonzero and negative:
  ;; with nz = w_nz & a_nz, Σ w·a = 2 * popcount(nz & ~(w_neg xor a_neg)) - popcount(nz).
  ;; The weight planes are two matrices with the same row stride (at $wnz and $wneg).
  (func (export "planes_dot")
    (param $wnz i32) (param $wneg i32) (param $xnz i32) (param $xneg i32)
    (param $out i32) (param $neurons i32) (param $chunks i32)
    (local $stride i32) (local $end i32) (local $c i32) (local $nz v128) (local $count v128) (local $agree v128)
    (local.set $stride (i32.shl (local.get $chunks) (i32.const 4)))
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $neurons) (i32.const 2))))
    (block $done
      (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
      (loop $row
        (local.set $count (v128.const i64x2 0 0))
        (local.set $agree (v128.const i64x2 0 0))
        (local.set $c (i32.const 0))
        (loop $chunk
          (local.set $nz
            (v128.and
              (v128.load (i32.add (local.get $wnz) (local.get $c)))
              (v128.load (i32.add (local.get $xnz) (local.get $c)))))
          (local.set $count (i8x16.add (local.get $count) (i8x16.popcnt (local.get $nz))))
          (local.set $agree
            (i8x16.add (local.get $agree)
              (i8x16.popcnt
                (v128.andnot (local.get $nz)
                  (v128.xor
                    (v128.load (i32.add (local.get $wneg) (local.get $c)))
                    (v128.load (i32.add (local.get $xneg) (local.get $c))))))))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br_if $chunk (i32.lt_u (local.get $c) (local.get $stride))))
        (i32.store (local.get $out)
          (i32.sub
            (i32.shl (call $sum_bytes (local.get $agree)) (i32.const 1))
            (call $sum_bytes (local.get $count))))
        (local.set $wnz (i32.add (local.get $wnz) (local.get $stride)))
        (local.set $wneg (i32.add (local.get $wneg) (local.get $stride)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br_if $row (i32.lt_u (local.get $out) (local.get $end))))))

  ;; out[n] = Σ w·x over int16 lanes (8 per chunk): the 8-bit first layer, weights -1 / 0 / +1 against the
  ;; host's signed input bytes.
  (func (export "dot_i16")
    (param $w i32) (param $x i32) (param $out i32) (param $neurons i32) (param $chunks i32)
    (local $stride i32) (local $end i32) (local $c i32) (local $acc v128)
    (local.set $stride (i32.shl (local.get $chunks) (i32.const 4)))
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $neurons) (i32.const 2))))
    (block $done
      (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
      (loop $row
        (local.set $acc (v128.const i64x2 0 0))
        (local.set $c (i32.const 0))
        (loop $chunk
          (local.set $acc
            (i32x4.add (local.get $acc)
              (i32x4.dot_i16x8_s
                (v128.load (i32.add (local.get $w) (local.get $c)))
                (v128.load (i32.add (local.get $x) (local.get $c))))))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br_if $chunk (i32.lt_u (local.get $c) (local.get $stride))))
        (i32.store (local.get $out) (call $sum_i32 (local.get $acc)))
        (local.set $w (i32.add (local.get $w) (local.get $stride)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br_if $row (i32.lt_u (local.get $out) (local.get $end))))))
;; Thresholds `rows` accumulators into packed (nonzero, negative) planes: a = mul * acc[n] + add (the
  ;; layer's units: e.g. popcount = MW - mismatches), then binary (nthr = 1): +1 if t < a else -1; ternary
  ;; (nthr = 2, thresholds adjacent): -1 + [t0 < a] + [t1 < a]. Bit n of the word at out + 4 * (n / 32).
  (func (export "threshold")
    (param $acc i32) (param $thr i32) (param $nthr i32) (param $rows i32) (param $mul i32) (param $add i32)
    (param $outnz i32) (param $outneg i32)
    (local $n i32) (local $a i32) (local $v i32) (local $bit i32) (local $nz i32) (local $neg i32)
    (block $done
      (br_if $done (i32.eqz (local.get $rows)))
      (loop $row
        (local.set $a (i32.add (i32.mul (i32.load (local.get $acc)) (local.get $mul)) (local.get $add)))
        (local.set $bit (i32.shl (i32.const 1) (local.get $n)))
        (if (i32.eq (local.get $nthr) (i32.const 1))
          (then
            (local.set $nz (i32.or (local.get $nz) (local.get $bit)))
            (if (i32.ge_s (i32.load (local.get $thr)) (local.get $a))
              (then (local.set $neg (i32.or (local.get $neg) (local.get $bit))))))
          (else
            (local.set $v
              (i32.add
                (i32.lt_s (i32.load (local.get $thr)) (local.get $a))
                (i32.lt_s (i32.load offset=4 (local.get $thr)) (local.get $a))))
            ;; v = 0: -1 (nonzero, negative); v = 1: 0; v = 2: +1 (nonzero).
            (if (i32.ne (local.get $v) (i32.const 1))
              (then (local.set $nz (i32.or (local.get $nz) (local.get $bit)))))
            (if (i32.eqz (local.get $v))
              (then (local.set $neg (i32.or (local.get $neg) (local.get $bit)))))))
        (local.set $thr (i32.add (local.get $thr) (i32.shl (local.get $nthr) (i32.const 2))))
        (local.set $acc (i32.add (local.get $acc) (i32.const 4)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (if (i32.or
              (i32.eqz (i32.and (local.get $n) (i32.const 31)))
              (i32.eq (local.get $n) (local.get $rows)))
          (then
            (i32.store (local.get $outnz) (local.get $nz))
            (i32.store (local.get $outneg) (local.get $neg))
            (local.set $nz (i32.const 0))
            (local.set $neg (i32.const 0))
            (local.set $outnz (i32.add (local.get $outnz) (i32.const 4)))
            (local.set $outneg (i32.add (local.get $outneg) (i32.const 4)))))
        (br_if $row (i32.lt_u (local.get $n) (local.get $rows))))))
;; mismatch_count for 4 inputs at once (conv layers: 4 output pixels share the weights): inputs at
  ;; x + k·step, results at out + k·ostep, k = 0..3.
  (func (export "mismatch_count4")
    (param $w i32) (param $x i32) (param $out i32) (param $neurons i32) (param $chunks i32)
    (param $step i32) (param $ostep i32)
    (local $stride i32) (local $end i32) (local $c i32) (local $wv v128)
    (local $x0 i32) (local $x1 i32) (local $x2 i32) (local $x3 i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $stride (i32.shl (local.get $chunks) (i32.const 4)))
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $neurons) (i32.const 2))))
    (local.set $x0 (i32.add (local.get $x) (i32.mul (local.get $step) (i32.const 0))))
    (local.set $x1 (i32.add (local.get $x) (i32.mul (local.get $step) (i32.const 1))))
    (local.set $x2 (i32.add (local.get $x) (i32.mul (local.get $step) (i32.const 2))))
    (local.set $x3 (i32.add (local.get $x) (i32.mul (local.get $step) (i32.const 3))))
    (block $done
      (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
      (loop $row
        (local.set $a0 (v128.const i64x2 0 0))
        (local.set $a1 (v128.const i64x2 0 0))
        (local.set $a2 (v128.const i64x2 0 0))
        (local.set $a3 (v128.const i64x2 0 0))
        (local.set $c (i32.const 0))
        (loop $chunk
          (local.set $wv (v128.load (i32.add (local.get $w) (local.get $c))))
          (local.set $a0
            (i8x16.add (local.get $a0)
              (i8x16.popcnt (v128.xor (local.get $wv) (v128.load (i32.add (local.get $x0) (local.get $c)))))))
          (local.set $a1
            (i8x16.add (local.get $a1)
              (i8x16.popcnt (v128.xor (local.get $wv) (v128.load (i32.add (local.get $x1) (local.get $c)))))))
          (local.set $a2
            (i8x16.add (local.get $a2)
              (i8x16.popcnt (v128.xor (local.get $wv) (v128.load (i32.add (local.get $x2) (local.get $c)))))))
          (local.set $a3
            (i8x16.add (local.get $a3)
              (i8x16.popcnt (v128.xor (local.get $wv) (v128.load (i32.add (local.get $x3) (local.get $c)))))))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br_if $chunk (i32.lt_u (local.get $c) (local.get $stride))))
        (i32.store (i32.add (local.get $out) (i32.mul (local.get $ostep) (i32.const 0))) (call $sum_bytes (local.get $a0)))
        (i32.store (i32.add (local.get $out) (i32.mul (local.get $ostep) (i32.const 1))) (call $sum_bytes (local.get $a1)))
        (i32.store (i32.add (local.get $out) (i32.mul (local.get $ostep) (i32.const 2))) (call $sum_bytes (local.get $a2)))
        (i32.store (i32.add (local.get $out) (i32.mul (local.get $ostep) (i32.const 3))) (call $sum_bytes (local.get $a3)))
        (local.set $w (i32.add (local.get $w) (local.get $stride)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br_if $row (i32.lt_u (local.get $out) (local.get $end))))))

  ;; planes_dot for 4 inputs at once: input planes at xnz + k·step and xneg + k·step, results at
  ;; out + k·ostep.
  (func (export "planes_dot4")
    (param $wnz i32) (param $wneg i32) (param $xnz i32) (param $xneg i32)
    (param $out i32) (param $neurons i32) (param $chunks i32) (param $step i32) (param $ostep i32)
    (local $stride i32) (local $end i32) (local $c i32) (local $wz v128) (local $wg v128) (local $nz v128)
    (local $z0 i32) (local $z1 i32) (local $z2 i32) (local $z3 i32)
    (local $s0 i32) (local $s1 i32) (local $s2 i32) (local $s3 i32)
    (local $n0 v128) (local $n1 v128) (local $n2 v128) (local $n3 v128)
    (local $g0 v128) (local $g1 v128) (local $g2 v128) (local $g3 v128)
    (local.set $stride (i32.shl (local.get $chunks) (i32.const 4)))
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $neurons) (i32.const 2))))
    (local.set $z0 (i32.add (local.get $xnz) (i32.mul (local.get $step) (i32.const 0))))
    (local.set $s0 (i32.add (local.get $xneg) (i32.mul (local.get $step) (i32.const 0))))
    (local.set $z1 (i32.add (local.get $xnz) (i32.mul (local.get $step) (i32.const 1))))
    (local.set $s1 (i32.add (local.get $xneg) (i32.mul (local.get $step) (i32.const 1))))
    (local.set $z2 (i32.add (local.get $xnz) (i32.mul (local.get $step) (i32.const 2))))
    (local.set $s2 (i32.add (local.get $xneg) (i32.mul (local.get $step) (i32.const 2))))
    (local.set $z3 (i32.add (local.get $xnz) (i32.mul (local.get $step) (i32.const 3))))
    (local.set $s3 (i32.add (local.get $xneg) (i32.mul (local.get $step) (i32.const 3))))
    (block $done
      (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
      (loop $row
        (local.set $n0 (v128.const i64x2 0 0))
        (local.set $n1 (v128.const i64x2 0 0))
        (local.set $n2 (v128.const i64x2 0 0))
        (local.set $n3 (v128.const i64x2 0 0))
        (local.set $g0 (v128.const i64x2 0 0))
        (local.set $g1 (v128.const i64x2 0 0))
        (local.set $g2 (v128.const i64x2 0 0))
        (local.set $g3 (v128.const i64x2 0 0))
        (local.set $c (i32.const 0))
        (loop $chunk
          (local.set $wz (v128.load (i32.add (local.get $wnz) (local.get $c))))
          (local.set $wg (v128.load (i32.add (local.get $wneg) (local.get $c))))
          (local.set $nz (v128.and (local.get $wz) (v128.load (i32.add (local.get $z0) (local.get $c)))))
          (local.set $n0 (i8x16.add (local.get $n0) (i8x16.popcnt (local.get $nz))))
          (local.set $g0
            (i8x16.add (local.get $g0)
              (i8x16.popcnt
                (v128.andnot (local.get $nz)
                  (v128.xor (local.get $wg) (v128.load (i32.add (local.get $s0) (local.get $c))))))))
          (local.set $nz (v128.and (local.get $wz) (v128.load (i32.add (local.get $z1) (local.get $c)))))
          (local.set $n1 (i8x16.add (local.get $n1) (i8x16.popcnt (local.get $nz))))
          (local.set $g1
            (i8x16.add (local.get $g1)
              (i8x16.popcnt
                (v128.andnot (local.get $nz)
                  (v128.xor (local.get $wg) (v128.load (i32.add (local.get $s1) (local.get $c))))))))
          (local.set $nz (v128.and (local.get $wz) (v128.load (i32.add (local.get $z2) (local.get $c)))))
          (local.set $n2 (i8x16.add (local.get $n2) (i8x16.popcnt (local.get $nz))))
          (local.set $g2
            (i8x16.add (local.get $g2)
              (i8x16.popcnt
                (v128.andnot (local.get $nz)
                  (v128.xor (local.get $wg) (v128.load (i32.add (local.get $s2) (local.get $c))))))))
          (local.set $nz (v128.and (local.get $wz) (v128.load (i32.add (local.get $z3) (local.get $c)))))
          (local.set $n3 (i8x16.add (local.get $n3) (i8x16.popcnt (local.get $nz))))
          (local.set $g3
            (i8x16.add (local.get $g3)
              (i8x16.popcnt
                (v128.andnot (local.get $nz)
                  (v128.xor (local.get $wg) (v128.load (i32.add (local.get $s3) (local.get $c))))))))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br_if $chunk (i32.lt_u (local.get $c) (local.get $stride))))
        (i32.store (i32.add (local.get $out) (i32.mul (local.get $ostep) (i32.const 0)))
          (i32.sub (i32.shl (call $sum_bytes (local.get $g0)) (i32.const 1)) (call $sum_bytes (local.get $n0))))
        (i32.store (i32.add (local.get $out) (i32.mul (local.get $ostep) (i32.const 1)))
          (i32.sub (i32.shl (call $sum_bytes (local.get $g1)) (i32.const 1)) (call $sum_bytes (local.get $n1))))
        (i32.store (i32.add (local.get $out) (i32.mul (local.get $ostep) (i32.const 2)))
          (i32.sub (i32.shl (call $sum_bytes (local.get $g2)) (i32.const 1)) (call $sum_bytes (local.get $n2))))
        (i32.store (i32.add (local.get $out) (i32.mul (local.get $ostep) (i32.const 3)))
          (i32.sub (i32.shl (call $sum_bytes (local.get $g3)) (i32.const 1)) (call $sum_bytes (local.get $n3))))
        (local.set $wnz (i32.add (local.get $wnz) (local.get $stride)))
        (local.set $wneg (i32.add (local.get $wneg) (local.get $stride)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br_if $row (i32.lt_u (local.get $out) (local.get $end))))))
;; im2col for a 3x3 window: copies the 9 pixel blocks (each $block bytes: one plane's channel words)
  ;; of the window whose top-left input pixel is (y, x) into the column, in (ky, kx, c) order, for the
  ;; nonzero and the negative planes alike.
  (func (export "im2col3x3")
    (param $inNz i32) (param $inNeg i32) (param $inDim i32) (param $block i32) (param $y i32) (param $x i32)
    (param $colNz i32) (param $colNeg i32)
    (local $ky i32) (local $kx i32) (local $src i32) (local $dst i32)
    (loop $rows
      (local.set $kx (i32.const 0))
      (loop $cols
        (local.set $src
          (i32.mul
            (i32.add
              (i32.mul (i32.add (local.get $y) (local.get $ky)) (local.get $inDim))
              (i32.add (local.get $x) (local.get $kx)))
            (local.get $block)))
        (local.set $dst
          (i32.mul (i32.add (i32.mul (local.get $ky) (i32.const 3)) (local.get $kx)) (local.get $block)))
        (memory.copy
          (i32.add (local.get $colNz) (local.get $dst)) (i32.add (local.get $inNz) (local.get $src)) (local.get $block))
        (memory.copy
          (i32.add (local.get $colNeg) (local.get $dst)) (i32.add (local.get $inNeg) (local.get $src)) (local.get $block))
        (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
        (br_if $cols (i32.lt_u (local.get $kx) (i32.const 3))))
      (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
      (br_if $rows (i32.lt_u (local.get $ky) (i32.const 3)))))
)
