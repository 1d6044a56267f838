//! The ops: one public function per op, a params type where it has parameters, and a layer type
//! that owns its weights for repeated calls.

mod check;
