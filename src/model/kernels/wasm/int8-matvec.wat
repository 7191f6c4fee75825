;; out[b·N + j] = xScale[b] · rowScale[j] · Σ_k w[j·K + k] · x[b·K + k] + bias[j]   for B inputs x_b at once,
;; for the `count` columns j listed at `columns` (i32; all of 0…N−1, or the ids a position allows)
;; w: int8, one row of K weights per output (K a multiple of 16); x: int16, one row of K per input;
;; rowScale, bias, xScale, out: f32. `quantize` rounds each float input to int16 with its own scale first.
;; Products are summed exactly in int32 lanes by i32x4.dot_i16x8_s, in chunks of 2048 inputs: a lane then
;; adds 512 products of |x·w| ≤ 32767·127, at most 2,130,641,408 < 2^31, so it cannot overflow. The lanes
;; and the chunks are added in f32 (four full lanes would overflow an int32), in the same order for every
;; input: a product is bit for bit the same whether its input came alone or with others.
;; Each product is stored as (xScale[b] · rowScale[j]) · ((lane 0 + lane 1) + (lane 2 + lane 3)) + bias[j].
;; Inputs go four at a time, so each 16 weights are loaded and widened once for four inputs: the step of
;; writing many poems at once reads the weights once, not once per poem.
(module
  ;; shared, so that a helper thread can compute some of a product's columns (product-helper.ts)
  (import "env" "memory" (memory 1 32768 shared))
  (func (export "matmul") (param $w i32) (param $rowScale i32) (param $bias i32) (param $x i32) (param $xScale i32) (param $out i32)
                          (param $K i32) (param $N i32) (param $B i32) (param $columns i32) (param $count i32)
    (local $c i32) (local $j i32) (local $b i32) (local $k i32) (local $end i32) (local $wk i32) (local $wRow i32)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32) (local $xRow i32) (local $scale f32) (local $add f32)
    (local $wv v128) (local $lo v128) (local $hi v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local.set $xRow (i32.shl (local.get $K) (i32.const 1)))
    (loop $rows
      (local.set $j (i32.load (i32.add (local.get $columns) (i32.shl (local.get $c) (i32.const 2)))))
      (local.set $wRow (i32.add (local.get $w) (i32.mul (local.get $j) (local.get $K))))
      (local.set $scale (f32.load (i32.add (local.get $rowScale) (i32.shl (local.get $j) (i32.const 2)))))
      (local.set $add (f32.load (i32.add (local.get $bias) (i32.shl (local.get $j) (i32.const 2)))))
      (local.set $b (i32.const 0))
      ;; four inputs at a time
      (block $fours
        (loop $four
          (br_if $fours (i32.gt_u (i32.add (local.get $b) (i32.const 4)) (local.get $B)))
          (local.set $p0 (i32.add (local.get $x) (i32.mul (local.get $b) (local.get $xRow))))
          (local.set $p1 (i32.add (local.get $p0) (local.get $xRow)))
          (local.set $p2 (i32.add (local.get $p1) (local.get $xRow)))
          (local.set $p3 (i32.add (local.get $p2) (local.get $xRow)))
          (local.set $wk (local.get $wRow))
          (local.set $k (i32.const 0))
          (local.set $s0 (v128.const f32x4 0 0 0 0))
          (local.set $s1 (v128.const f32x4 0 0 0 0))
          (local.set $s2 (v128.const f32x4 0 0 0 0))
          (local.set $s3 (v128.const f32x4 0 0 0 0))
          (loop $chunks4
            (local.set $a0 (v128.const i32x4 0 0 0 0))
            (local.set $a1 (v128.const i32x4 0 0 0 0))
            (local.set $a2 (v128.const i32x4 0 0 0 0))
            (local.set $a3 (v128.const i32x4 0 0 0 0))
            (local.set $end (i32.add (local.get $k) (i32.const 2048)))
            (if (i32.gt_u (local.get $end) (local.get $K)) (then (local.set $end (local.get $K))))
            (loop $cols4
              ;; 16 weights: widen to two halves of 8 int16, multiply-add each with 8 inputs of each x_b
              (local.set $wv (v128.load (local.get $wk)))
              (local.set $lo (i16x8.extend_low_i8x16_s (local.get $wv)))
              (local.set $hi (i16x8.extend_high_i8x16_s (local.get $wv)))
              (local.set $a0 (i32x4.add (i32x4.add (local.get $a0) (i32x4.dot_i16x8_s (local.get $lo) (v128.load (local.get $p0))))
                                        (i32x4.dot_i16x8_s (local.get $hi) (v128.load offset=16 (local.get $p0)))))
              (local.set $a1 (i32x4.add (i32x4.add (local.get $a1) (i32x4.dot_i16x8_s (local.get $lo) (v128.load (local.get $p1))))
                                        (i32x4.dot_i16x8_s (local.get $hi) (v128.load offset=16 (local.get $p1)))))
              (local.set $a2 (i32x4.add (i32x4.add (local.get $a2) (i32x4.dot_i16x8_s (local.get $lo) (v128.load (local.get $p2))))
                                        (i32x4.dot_i16x8_s (local.get $hi) (v128.load offset=16 (local.get $p2)))))
              (local.set $a3 (i32x4.add (i32x4.add (local.get $a3) (i32x4.dot_i16x8_s (local.get $lo) (v128.load (local.get $p3))))
                                        (i32x4.dot_i16x8_s (local.get $hi) (v128.load offset=16 (local.get $p3)))))
              (local.set $wk (i32.add (local.get $wk) (i32.const 16)))
              (local.set $p0 (i32.add (local.get $p0) (i32.const 32)))
              (local.set $p1 (i32.add (local.get $p1) (i32.const 32)))
              (local.set $p2 (i32.add (local.get $p2) (i32.const 32)))
              (local.set $p3 (i32.add (local.get $p3) (i32.const 32)))
              (br_if $cols4 (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 16))) (local.get $end))))
            (local.set $s0 (f32x4.add (local.get $s0) (f32x4.convert_i32x4_s (local.get $a0))))
            (local.set $s1 (f32x4.add (local.get $s1) (f32x4.convert_i32x4_s (local.get $a1))))
            (local.set $s2 (f32x4.add (local.get $s2) (f32x4.convert_i32x4_s (local.get $a2))))
            (local.set $s3 (f32x4.add (local.get $s3) (f32x4.convert_i32x4_s (local.get $a3))))
            (br_if $chunks4 (i32.lt_u (local.get $k) (local.get $K))))
          (f32.store (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (local.get $b) (local.get $N)) (local.get $j)) (i32.const 2)))
            (f32.add (f32.mul (f32.mul (f32.load (i32.add (local.get $xScale) (i32.shl (local.get $b) (i32.const 2)))) (local.get $scale))
              (f32.add (f32.add (f32x4.extract_lane 0 (local.get $s0)) (f32x4.extract_lane 1 (local.get $s0)))
                       (f32.add (f32x4.extract_lane 2 (local.get $s0)) (f32x4.extract_lane 3 (local.get $s0))))) (local.get $add)))
          (f32.store (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (i32.add (local.get $b) (i32.const 1)) (local.get $N)) (local.get $j)) (i32.const 2)))
            (f32.add (f32.mul (f32.mul (f32.load (i32.add (local.get $xScale) (i32.shl (i32.add (local.get $b) (i32.const 1)) (i32.const 2)))) (local.get $scale))
              (f32.add (f32.add (f32x4.extract_lane 0 (local.get $s1)) (f32x4.extract_lane 1 (local.get $s1)))
                       (f32.add (f32x4.extract_lane 2 (local.get $s1)) (f32x4.extract_lane 3 (local.get $s1))))) (local.get $add)))
          (f32.store (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (i32.add (local.get $b) (i32.const 2)) (local.get $N)) (local.get $j)) (i32.const 2)))
            (f32.add (f32.mul (f32.mul (f32.load (i32.add (local.get $xScale) (i32.shl (i32.add (local.get $b) (i32.const 2)) (i32.const 2)))) (local.get $scale))
              (f32.add (f32.add (f32x4.extract_lane 0 (local.get $s2)) (f32x4.extract_lane 1 (local.get $s2)))
                       (f32.add (f32x4.extract_lane 2 (local.get $s2)) (f32x4.extract_lane 3 (local.get $s2))))) (local.get $add)))
          (f32.store (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (i32.add (local.get $b) (i32.const 3)) (local.get $N)) (local.get $j)) (i32.const 2)))
            (f32.add (f32.mul (f32.mul (f32.load (i32.add (local.get $xScale) (i32.shl (i32.add (local.get $b) (i32.const 3)) (i32.const 2)))) (local.get $scale))
              (f32.add (f32.add (f32x4.extract_lane 0 (local.get $s3)) (f32x4.extract_lane 1 (local.get $s3)))
                       (f32.add (f32x4.extract_lane 2 (local.get $s3)) (f32x4.extract_lane 3 (local.get $s3))))) (local.get $add)))
          (local.set $b (i32.add (local.get $b) (i32.const 4)))
          (br $four)))
      ;; the rest, one at a time (the same sums in the same order)
      (block $ones
        (loop $one
          (br_if $ones (i32.ge_u (local.get $b) (local.get $B)))
          (local.set $p0 (i32.add (local.get $x) (i32.mul (local.get $b) (local.get $xRow))))
          (local.set $wk (local.get $wRow))
          (local.set $k (i32.const 0))
          (local.set $s0 (v128.const f32x4 0 0 0 0))
          (loop $chunks1
            (local.set $a0 (v128.const i32x4 0 0 0 0))
            (local.set $end (i32.add (local.get $k) (i32.const 2048)))
            (if (i32.gt_u (local.get $end) (local.get $K)) (then (local.set $end (local.get $K))))
            (loop $cols1
              (local.set $wv (v128.load (local.get $wk)))
              (local.set $a0 (i32x4.add (i32x4.add (local.get $a0)
                  (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $wv)) (v128.load (local.get $p0))))
                  (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $wv)) (v128.load offset=16 (local.get $p0)))))
              (local.set $wk (i32.add (local.get $wk) (i32.const 16)))
              (local.set $p0 (i32.add (local.get $p0) (i32.const 32)))
              (br_if $cols1 (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 16))) (local.get $end))))
            (local.set $s0 (f32x4.add (local.get $s0) (f32x4.convert_i32x4_s (local.get $a0))))
            (br_if $chunks1 (i32.lt_u (local.get $k) (local.get $K))))
          (f32.store (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (local.get $b) (local.get $N)) (local.get $j)) (i32.const 2)))
            (f32.add (f32.mul (f32.mul (f32.load (i32.add (local.get $xScale) (i32.shl (local.get $b) (i32.const 2)))) (local.get $scale))
              (f32.add (f32.add (f32x4.extract_lane 0 (local.get $s0)) (f32x4.extract_lane 1 (local.get $s0)))
                       (f32.add (f32x4.extract_lane 2 (local.get $s0)) (f32x4.extract_lane 3 (local.get $s0))))) (local.get $add)))
          (local.set $b (i32.add (local.get $b) (i32.const 1)))
          (br $one)))
      (br_if $rows (i32.lt_u (local.tee $c (i32.add (local.get $c) (i32.const 1))) (local.get $count)))))

  ;; x[b·K + k] = nearest(in[b·K + k] / xScale[b]) as int16, xScale[b] = max_k |in[b·K + k]| / 32767 (0 for a
  ;; zero input); K a multiple of 16.
  (func (export "quantize") (param $in i32) (param $x i32) (param $xScale i32) (param $K i32) (param $B i32)
    (local $b i32) (local $k i32) (local $p i32) (local $max v128) (local $m f32) (local $s v128) (local $scale f32)
    (block $done
      (loop $inputs
        (br_if $done (i32.ge_u (local.get $b) (local.get $B)))
        (local.set $max (v128.const f32x4 0 0 0 0))
        (local.set $p (local.get $in))
        (local.set $k (i32.const 0))
        (loop $scan
          (local.set $max (f32x4.max (local.get $max) (f32x4.abs (v128.load (local.get $p)))))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br_if $scan (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 4))) (local.get $K))))
        (local.set $m (f32.max (f32.max (f32x4.extract_lane 0 (local.get $max)) (f32x4.extract_lane 1 (local.get $max)))
                               (f32.max (f32x4.extract_lane 2 (local.get $max)) (f32x4.extract_lane 3 (local.get $max)))))
        (local.set $scale (f32.div (local.get $m) (f32.const 32767)))
        (f32.store (local.get $xScale) (local.get $scale))
        ;; a zero input divides by 1 instead: every x is then 0
        (local.set $s (f32x4.splat (select (local.get $scale) (f32.const 1) (f32.gt (local.get $m) (f32.const 0)))))
        (local.set $k (i32.const 0))
        (loop $round
          (v128.store (local.get $x) (i16x8.narrow_i32x4_s
            (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.div (v128.load (local.get $in)) (local.get $s))))
            (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.div (v128.load offset=16 (local.get $in)) (local.get $s))))))
          (local.set $in (i32.add (local.get $in) (i32.const 32)))
          (local.set $x (i32.add (local.get $x) (i32.const 16)))
          (br_if $round (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 8))) (local.get $K))))
        (local.set $xScale (i32.add (local.get $xScale) (i32.const 4)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $inputs))))
)
