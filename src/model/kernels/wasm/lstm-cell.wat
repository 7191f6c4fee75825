;; The LSTM cell's elementwise step for B sequences at once (the gates after the products):
;;   i, f, o = σ(z + b), g = tanh(z + b) for the four quarters of z (i f g o, each H wide);
;;   c ← f·c + i·g;  h ← o·tanh(c)
;; z: B rows of 4H; bias: rows of 4H, biasStride bytes apart (0: one row for all); c, h: B rows of H; f32.
;; tanh is Eigen's float32 rational fit (13/6, clamped), σ(v) = ½ + ½·tanh(½v), as lstm math in model.ts.
(module
  (memory (export "memory") 1)
  (func $tanh (param $x v128) (result v128)
    (local $x2 v128) (local $p v128) (local $q v128)
    (local.set $x (f32x4.min (f32x4.max (local.get $x) (v128.const f32x4 -7.90531110763549805 -7.90531110763549805 -7.90531110763549805 -7.90531110763549805))
                             (v128.const f32x4 7.90531110763549805 7.90531110763549805 7.90531110763549805 7.90531110763549805)))
    (local.set $x2 (f32x4.mul (local.get $x) (local.get $x)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $x2) (v128.const f32x4 -2.76076847742355e-16 -2.76076847742355e-16 -2.76076847742355e-16 -2.76076847742355e-16))
                             (v128.const f32x4 2.00018790482477e-13 2.00018790482477e-13 2.00018790482477e-13 2.00018790482477e-13)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $x2) (local.get $p)) (v128.const f32x4 -8.60467152213735e-11 -8.60467152213735e-11 -8.60467152213735e-11 -8.60467152213735e-11)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $x2) (local.get $p)) (v128.const f32x4 5.12229709037114e-8 5.12229709037114e-8 5.12229709037114e-8 5.12229709037114e-8)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $x2) (local.get $p)) (v128.const f32x4 1.48572235717979e-5 1.48572235717979e-5 1.48572235717979e-5 1.48572235717979e-5)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $x2) (local.get $p)) (v128.const f32x4 6.37261928875436e-4 6.37261928875436e-4 6.37261928875436e-4 6.37261928875436e-4)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $x2) (local.get $p)) (v128.const f32x4 4.89352455891786e-3 4.89352455891786e-3 4.89352455891786e-3 4.89352455891786e-3)))
    (local.set $q (f32x4.add (f32x4.mul (local.get $x2) (v128.const f32x4 1.19825839466702e-6 1.19825839466702e-6 1.19825839466702e-6 1.19825839466702e-6))
                             (v128.const f32x4 1.18534705686654e-4 1.18534705686654e-4 1.18534705686654e-4 1.18534705686654e-4)))
    (local.set $q (f32x4.add (f32x4.mul (local.get $x2) (local.get $q)) (v128.const f32x4 2.268434632439e-3 2.268434632439e-3 2.268434632439e-3 2.268434632439e-3)))
    (local.set $q (f32x4.add (f32x4.mul (local.get $x2) (local.get $q)) (v128.const f32x4 4.89352518554385e-3 4.89352518554385e-3 4.89352518554385e-3 4.89352518554385e-3)))
    (f32x4.div (f32x4.mul (local.get $x) (local.get $p)) (local.get $q)))

  (func $sigmoid (param $x v128) (result v128)
    (f32x4.add (v128.const f32x4 0.5 0.5 0.5 0.5)
      (f32x4.mul (v128.const f32x4 0.5 0.5 0.5 0.5) (call $tanh (f32x4.mul (v128.const f32x4 0.5 0.5 0.5 0.5) (local.get $x))))))

  (func (export "cells") (param $z i32) (param $bias i32) (param $biasStride i32) (param $c i32) (param $h i32) (param $H i32) (param $B i32)
    (local $b i32) (local $j i32) (local $quarter i32) (local $zj i32) (local $bj i32)
    (local $i v128) (local $f v128) (local $g v128) (local $o v128) (local $cell v128)
    (local.set $quarter (i32.shl (local.get $H) (i32.const 2))) ;; H floats, in bytes
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $b) (local.get $B)))
        (local.set $zj (local.get $z))
        (local.set $bj (local.get $bias))
        (local.set $j (i32.const 0))
        (loop $cols
          (local.set $i (call $sigmoid (f32x4.add (v128.load (local.get $zj)) (v128.load (local.get $bj)))))
          (local.set $f (call $sigmoid (f32x4.add (v128.load (i32.add (local.get $zj) (local.get $quarter))) (v128.load (i32.add (local.get $bj) (local.get $quarter))))))
          (local.set $g (call $tanh (f32x4.add (v128.load (i32.add (local.get $zj) (i32.shl (local.get $quarter) (i32.const 1))))
                                               (v128.load (i32.add (local.get $bj) (i32.shl (local.get $quarter) (i32.const 1)))))))
          (local.set $o (call $sigmoid (f32x4.add (v128.load (i32.add (local.get $zj) (i32.mul (local.get $quarter) (i32.const 3))))
                                                  (v128.load (i32.add (local.get $bj) (i32.mul (local.get $quarter) (i32.const 3)))))))
          (local.set $cell (f32x4.add (f32x4.mul (local.get $f) (v128.load (local.get $c))) (f32x4.mul (local.get $i) (local.get $g))))
          (v128.store (local.get $c) (local.get $cell))
          (v128.store (local.get $h) (f32x4.mul (local.get $o) (call $tanh (local.get $cell))))
          (local.set $zj (i32.add (local.get $zj) (i32.const 16)))
          (local.set $bj (i32.add (local.get $bj) (i32.const 16)))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (local.set $h (i32.add (local.get $h) (i32.const 16)))
          (br_if $cols (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 4))) (local.get $H))))
        (local.set $z (i32.add (local.get $z) (i32.shl (local.get $quarter) (i32.const 2))))
        (local.set $bias (i32.add (local.get $bias) (local.get $biasStride)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $rows))))
)
