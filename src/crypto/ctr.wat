;; The XOR kernel of src/crypto/ctr.ts: counter blocks and keystream XOR, 16 bytes at a time
;; (WebAssembly SIMD). No cipher here: AES runs in OpenSSL. ctr.ts embeds the binary;
;; test/crypto/ctr.test.ts compiles this file with wabt and checks the two are the same.
(module
  (memory (export "mem") 4)
  ;; ctr(ivs, out, n, per): for i < n, for j < per: out[16(i*per+j)..] = ivs[16i..16i+12) || BE32(j)
  (func (export "ctr") (param $ivs i32) (param $out i32) (param $n i32) (param $per i32)
    (local $i i32) (local $j i32) (local $iv v128)
    (block $done_i (loop $li
      (br_if $done_i (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $iv (v128.load (i32.add (local.get $ivs) (i32.shl (local.get $i) (i32.const 4)))))
      (local.set $j (i32.const 0))
      (block $done_j (loop $lj
        (br_if $done_j (i32.ge_u (local.get $j) (local.get $per)))
        (v128.store (local.get $out)
          (i32x4.replace_lane 3 (local.get $iv)
            (i32.or (i32.or (i32.shl (local.get $j) (i32.const 24)) (i32.shl (i32.and (local.get $j) (i32.const 0xff00)) (i32.const 8)))
                    (i32.or (i32.and (i32.shr_u (local.get $j) (i32.const 8)) (i32.const 0xff00)) (i32.shr_u (local.get $j) (i32.const 24))))))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $lj)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $li))))
  ;; xorAt(d, s, n, len, stride, slot): for i < n, XOR the len bytes at s + i·slot into d + i·stride
  ;; (16 bytes at a time, then single bytes)
  (func (export "xorAt") (param $d i32) (param $s i32) (param $n i32) (param $len i32) (param $stride i32) (param $slot i32)
    (local $i i32) (local $p i32) (local $q i32) (local $end i32) (local $wide i32)
    (local.set $wide (i32.and (local.get $len) (i32.const -16)))
    (block $done_i (loop $li
      (br_if $done_i (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $p (i32.add (local.get $d) (i32.mul (local.get $i) (local.get $stride))))
      (local.set $q (i32.add (local.get $s) (i32.mul (local.get $i) (local.get $slot))))
      (local.set $end (i32.add (local.get $p) (local.get $wide)))
      (block $done_w (loop $lw
        (br_if $done_w (i32.ge_u (local.get $p) (local.get $end)))
        (v128.store (local.get $p) (v128.xor (v128.load (local.get $p)) (v128.load (local.get $q))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $q (i32.add (local.get $q) (i32.const 16)))
        (br $lw)))
      (local.set $end (i32.add (local.get $end) (i32.sub (local.get $len) (local.get $wide))))
      (block $done_b (loop $lb
        (br_if $done_b (i32.ge_u (local.get $p) (local.get $end)))
        (i32.store8 (local.get $p) (i32.xor (i32.load8_u (local.get $p)) (i32.load8_u (local.get $q))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (local.set $q (i32.add (local.get $q) (i32.const 1)))
        (br $lb)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $li))))
)
