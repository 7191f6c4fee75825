;; out[j] = xScale · rowScale[j] · Σ_k w[j·K + k] · x[k]
;; w: int8, one row of K weights per output (K a multiple of 16); x: int16; rowScale, out: f32.
;; Products are summed exactly in int32 lanes by i32x4.dot_i16x8_s, in chunks of 2048 inputs: a lane then
;; adds 512 products of |x·w| ≤ 32767·127, at most 2,130,641,408 < 2^31, so it cannot overflow. The lanes
;; and the chunks are added in f32 (four full lanes would overflow an int32).
(module
  (memory (export "memory") 1)
  (func (export "matvec") (param $w i32) (param $rowScale i32) (param $x i32) (param $out i32)
                          (param $K i32) (param $N i32) (param $xScale f32)
    (local $j i32) (local $k i32) (local $end i32) (local $xk i32) (local $wv v128) (local $acc v128) (local $sum v128)
    (loop $rows
      (local.set $sum (v128.const f32x4 0 0 0 0))
      (local.set $k (i32.const 0))
      (local.set $xk (local.get $x))
      (loop $chunks
        (local.set $acc (v128.const i32x4 0 0 0 0))
        (local.set $end (i32.add (local.get $k) (i32.const 2048)))
        (if (i32.gt_u (local.get $end) (local.get $K)) (then (local.set $end (local.get $K))))
        (loop $cols
          ;; 16 weights at a time: widen to two halves of 8 int16, multiply-add each with 8 inputs
          (local.set $wv (v128.load (local.get $w)))
          (local.set $acc (i32x4.add (local.get $acc)
            (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $wv)) (v128.load (local.get $xk)))))
          (local.set $acc (i32x4.add (local.get $acc)
            (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $wv)) (v128.load offset=16 (local.get $xk)))))
          (local.set $w (i32.add (local.get $w) (i32.const 16)))
          (local.set $xk (i32.add (local.get $xk) (i32.const 32)))
          (br_if $cols (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 16))) (local.get $end))))
        (local.set $sum (f32x4.add (local.get $sum) (f32x4.convert_i32x4_s (local.get $acc))))
        (br_if $chunks (i32.lt_u (local.get $k) (local.get $K))))
      (f32.store (local.get $out) (f32.mul (f32.mul (local.get $xScale) (f32.load (local.get $rowScale)))
        (f32.add (f32.add (f32x4.extract_lane 0 (local.get $sum)) (f32x4.extract_lane 1 (local.get $sum)))
                 (f32.add (f32x4.extract_lane 2 (local.get $sum)) (f32x4.extract_lane 3 (local.get $sum))))))
      (local.set $out (i32.add (local.get $out) (i32.const 4)))
      (local.set $rowScale (i32.add (local.get $rowScale) (i32.const 4)))
      (br_if $rows (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (local.get $N))))))
