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
        (br $next))))
  ;; The selection's direction, c_j = sum over the selected nodes s, in selection order, of
  ;;   f64(code_sj) * scale_j * f64(inv[s])   (multiplied left to right, then added: float64),
  ;; two columns per f64x2 lane pair, with the exact operations of the scalar loop in js/similarity.js
  ;; (no fused multiply-add in WebAssembly): the same bits. Scales past the columns in use are 0.
  ;; Columns 16..31 (wide) are summed only when in use. The 32 sums start from, and are stored
;; back to, out (float64): a selection longer than the id buffer is summed in consecutive calls.
  (func (export "direction")
    (param $eig i32) (param $k i32) (param $sel i32) (param $count i32) (param $inv i32)
    (param $scales i32) (param $out i32) (param $wide i32)
    (local $t i32) (local $row i32) (local $is v128) (local $x v128) (local $h v128) (local $q v128)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128) (local $c4 v128) (local $c5 v128) (local $c6 v128) (local $c7 v128) (local $c8 v128) (local $c9 v128) (local $c10 v128) (local $c11 v128) (local $c12 v128) (local $c13 v128) (local $c14 v128) (local $c15 v128)
    (local.set $c0 (v128.load offset=0 (local.get $out)))
    (local.set $c1 (v128.load offset=16 (local.get $out)))
    (local.set $c2 (v128.load offset=32 (local.get $out)))
    (local.set $c3 (v128.load offset=48 (local.get $out)))
    (local.set $c4 (v128.load offset=64 (local.get $out)))
    (local.set $c5 (v128.load offset=80 (local.get $out)))
    (local.set $c6 (v128.load offset=96 (local.get $out)))
    (local.set $c7 (v128.load offset=112 (local.get $out)))
    (local.set $c8 (v128.load offset=128 (local.get $out)))
    (local.set $c9 (v128.load offset=144 (local.get $out)))
    (local.set $c10 (v128.load offset=160 (local.get $out)))
    (local.set $c11 (v128.load offset=176 (local.get $out)))
    (local.set $c12 (v128.load offset=192 (local.get $out)))
    (local.set $c13 (v128.load offset=208 (local.get $out)))
    (local.set $c14 (v128.load offset=224 (local.get $out)))
    (local.set $c15 (v128.load offset=240 (local.get $out)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $t) (local.get $count)))
        (local.set $row (i32.load (i32.add (local.get $sel) (i32.shl (local.get $t) (i32.const 2)))))
        (local.set $is (f64x2.splat (f64.promote_f32
          (f32.load (i32.add (local.get $inv) (i32.shl (local.get $row) (i32.const 2)))))))
        (local.set $row (i32.add (local.get $eig) (i32.mul (local.get $row) (local.get $k))))
          (local.set $x (v128.load offset=0 (local.get $row)))
          (local.set $h (i16x8.extend_low_i8x16_s (local.get $x)))
          (local.set $q (i32x4.extend_low_i16x8_s (local.get $h)))
          (local.set $c0 (f64x2.add (local.get $c0) (f64x2.mul (f64x2.mul (f64x2.convert_low_i32x4_s (local.get $q)) (v128.load offset=0 (local.get $scales))) (local.get $is))))
          (local.set $c1 (f64x2.add (local.get $c1) (f64x2.mul (f64x2.mul (f64x2.convert_low_i32x4_s (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $q) (local.get $q))) (v128.load offset=16 (local.get $scales))) (local.get $is))))
          (local.set $q (i32x4.extend_high_i16x8_s (local.get $h)))
          (local.set $c2 (f64x2.add (local.get $c2) (f64x2.mul (f64x2.mul (f64x2.convert_low_i32x4_s (local.get $q)) (v128.load offset=32 (local.get $scales))) (local.get $is))))
          (local.set $c3 (f64x2.add (local.get $c3) (f64x2.mul (f64x2.mul (f64x2.convert_low_i32x4_s (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $q) (local.get $q))) (v128.load offset=48 (local.get $scales))) (local.get $is))))
          (local.set $h (i16x8.extend_high_i8x16_s (local.get $x)))
          (local.set $q (i32x4.extend_low_i16x8_s (local.get $h)))
          (local.set $c4 (f64x2.add (local.get $c4) (f64x2.mul (f64x2.mul (f64x2.convert_low_i32x4_s (local.get $q)) (v128.load offset=64 (local.get $scales))) (local.get $is))))
          (local.set $c5 (f64x2.add (local.get $c5) (f64x2.mul (f64x2.mul (f64x2.convert_low_i32x4_s (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $q) (local.get $q))) (v128.load offset=80 (local.get $scales))) (local.get $is))))
          (local.set $q (i32x4.extend_high_i16x8_s (local.get $h)))
          (local.set $c6 (f64x2.add (local.get $c6) (f64x2.mul (f64x2.mul (f64x2.convert_low_i32x4_s (local.get $q)) (v128.load offset=96 (local.get $scales))) (local.get $is))))
          (local.set $c7 (f64x2.add (local.get $c7) (f64x2.mul (f64x2.mul (f64x2.convert_low_i32x4_s (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $q) (local.get $q))) (v128.load offset=112 (local.get $scales))) (local.get $is))))
        (if (local.get $wide)
          (then
          (local.set $x (v128.load offset=16 (local.get $row)))
          (local.set $h (i16x8.extend_low_i8x16_s (local.get $x)))
          (local.set $q (i32x4.extend_low_i16x8_s (local.get $h)))
          (local.set $c8 (f64x2.add (local.get $c8) (f64x2.mul (f64x2.mul (f64x2.convert_low_i32x4_s (local.get $q)) (v128.load offset=128 (local.get $scales))) (local.get $is))))
          (local.set $c9 (f64x2.add (local.get $c9) (f64x2.mul (f64x2.mul (f64x2.convert_low_i32x4_s (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $q) (local.get $q))) (v128.load offset=144 (local.get $scales))) (local.get $is))))
          (local.set $q (i32x4.extend_high_i16x8_s (local.get $h)))
          (local.set $c10 (f64x2.add (local.get $c10) (f64x2.mul (f64x2.mul (f64x2.convert_low_i32x4_s (local.get $q)) (v128.load offset=160 (local.get $scales))) (local.get $is))))
          (local.set $c11 (f64x2.add (local.get $c11) (f64x2.mul (f64x2.mul (f64x2.convert_low_i32x4_s (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $q) (local.get $q))) (v128.load offset=176 (local.get $scales))) (local.get $is))))
          (local.set $h (i16x8.extend_high_i8x16_s (local.get $x)))
          (local.set $q (i32x4.extend_low_i16x8_s (local.get $h)))
          (local.set $c12 (f64x2.add (local.get $c12) (f64x2.mul (f64x2.mul (f64x2.convert_low_i32x4_s (local.get $q)) (v128.load offset=192 (local.get $scales))) (local.get $is))))
          (local.set $c13 (f64x2.add (local.get $c13) (f64x2.mul (f64x2.mul (f64x2.convert_low_i32x4_s (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $q) (local.get $q))) (v128.load offset=208 (local.get $scales))) (local.get $is))))
          (local.set $q (i32x4.extend_high_i16x8_s (local.get $h)))
          (local.set $c14 (f64x2.add (local.get $c14) (f64x2.mul (f64x2.mul (f64x2.convert_low_i32x4_s (local.get $q)) (v128.load offset=224 (local.get $scales))) (local.get $is))))
          (local.set $c15 (f64x2.add (local.get $c15) (f64x2.mul (f64x2.mul (f64x2.convert_low_i32x4_s (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $q) (local.get $q))) (v128.load offset=240 (local.get $scales))) (local.get $is))))))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $next)))
      (v128.store offset=0 (local.get $out) (local.get $c0))
      (v128.store offset=16 (local.get $out) (local.get $c1))
      (v128.store offset=32 (local.get $out) (local.get $c2))
      (v128.store offset=48 (local.get $out) (local.get $c3))
      (v128.store offset=64 (local.get $out) (local.get $c4))
      (v128.store offset=80 (local.get $out) (local.get $c5))
      (v128.store offset=96 (local.get $out) (local.get $c6))
      (v128.store offset=112 (local.get $out) (local.get $c7))
      (v128.store offset=128 (local.get $out) (local.get $c8))
      (v128.store offset=144 (local.get $out) (local.get $c9))
      (v128.store offset=160 (local.get $out) (local.get $c10))
      (v128.store offset=176 (local.get $out) (local.get $c11))
      (v128.store offset=192 (local.get $out) (local.get $c12))
      (v128.store offset=208 (local.get $out) (local.get $c13))
      (v128.store offset=224 (local.get $out) (local.get $c14))
      (v128.store offset=240 (local.get $out) (local.get $c15))))
