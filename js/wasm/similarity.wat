;; The similarity pass of js/similarity.js in WebAssembly SIMD: for every node i,
;;   out[i] = f32( f64(dot_i) * unit * f64(inv[i]) ),  dot_i = sum_j code_ij * w_j  (exact int32),
;; with code_ij the int8 eigenvector codes (row stride k bytes) and w_j int16 weights, zero past
;; the columns in use (so the 16 or 32 bytes a row load reads beyond them add nothing). The same
;; operations, in the same order, as the scalar fallback there and Python's state.similarity: the
;; three give bit-identical scores. `npm run wasm` assembles this into similarity.wasm.js.
(module
  (memory (export "memory") 1)
  ;; eig: codes (n rows of k bytes, 32 readable bytes past the last row); w: 32 int16 (64 bytes);
  ;; inv: n float32 (1 / row norm); out: n float32; wide: 1 when columns 16..31 are in use.
  (func (export "scores")
    (param $eig i32) (param $n i32) (param $k i32) (param $w i32) (param $inv i32) (param $out i32)
    (param $unit f64) (param $wide i32)
    (local $i i32) (local $row i32) (local $x v128) (local $acc v128)
    (local $w0 v128) (local $w1 v128) (local $w2 v128) (local $w3 v128)
    (local.set $w0 (v128.load (local.get $w)))
    (local.set $w1 (v128.load offset=16 (local.get $w)))
    (local.set $w2 (v128.load offset=32 (local.get $w)))
    (local.set $w3 (v128.load offset=48 (local.get $w)))
    (local.set $row (local.get $eig))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $x (v128.load (local.get $row)))
        (local.set $acc
          (i32x4.add
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $x)) (local.get $w0))
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $x)) (local.get $w1))))
        (if (local.get $wide)
          (then
            (local.set $x (v128.load offset=16 (local.get $row)))
            (local.set $acc
              (i32x4.add
                (local.get $acc)
                (i32x4.add
                  (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $x)) (local.get $w2))
                  (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $x)) (local.get $w3)))))))
        (f32.store
          (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2)))
          (f32.demote_f64
            (f64.mul
              (f64.mul
                (f64.convert_i32_s
                  (i32.add
                    (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
                    (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc)))))
                (local.get $unit))
              (f64.promote_f32 (f32.load (i32.add (local.get $inv) (i32.shl (local.get $i) (i32.const 2))))))))
        (local.set $row (i32.add (local.get $row) (local.get $k)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))))
