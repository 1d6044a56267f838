"""Checks the models `tests/onnx_export.rs` wrote: each `<name>.<mode>.onnx` must pass
`onnx.checker` (full check, with shape inference) and, run in ONNX Runtime on
`<name>.input.npy`, give `<name>.output.npy` (stride's output) within the golden tolerance,
`abs(ort - stride) <= 1e-4 * scale + 1e-4 * abs(stride)`, where `scale` is 1 or, when larger,
the output's largest magnitude: seeded weights have no trained batch norm statistics, so a
deep network's outputs grow to 1e5 there, and float32 sums in another order differ by more than
1e-4 in absolute terms on the values near zero (DenseNet-121's, 6.9e-7 of its scale).

    python bench/onnx_check.py target/tmp/onnx

Exits 1 if any model fails, after checking them all. A case where ONNX Runtime itself is known
to differ from PyTorch is listed in KNOWN with the evidence; it is reported, and fails the run
if it starts to match (so the list cannot go stale).
"""

import pathlib
import sys

import numpy as np
import onnx
import onnxruntime as ort

# (model name, mode) -> why ONNX Runtime's output differs from PyTorch's (and stride's).
KNOWN = {}


def main(directory):
    directory = pathlib.Path(directory)
    models = sorted(directory.glob("*.onnx"))
    if not models:
        print(f"no models in {directory}; run `cargo test --release --test onnx_export` first")
        return 1
    failures = 0
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    for path in models:
        name, mode = path.name[: -len(".onnx")].rsplit(".", 1)
        onnx.checker.check_model(str(path), full_check=True)
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        x = np.load(directory / f"{name}.input.npy")
        want = np.load(directory / f"{name}.output.npy")
        (got,) = session.run(["output"], {"input": x})
        if got.shape != want.shape:
            ok, worst = False, f"shape {got.shape}, stride's {want.shape}"
        else:
            scale = max(1.0, float(np.max(np.abs(want))))
            excess = np.abs(got - want) - (1e-4 * scale + 1e-4 * np.abs(want))
            ok = bool(np.all(excess <= 0))
            worst = f"largest difference {np.max(np.abs(got - want)):.2e} (scale {scale:.3g})"
        known = KNOWN.get((name, mode))
        if known and ok:
            print(f"STALE {name} {mode}: listed as a known ORT difference but matches now")
            failures += 1
        elif known:
            print(f"known {name} {mode}: {worst}; {known}")
        elif ok:
            print(f"ok    {name} {mode}: {worst}")
        else:
            print(f"FAIL  {name} {mode}: {worst}")
            failures += 1
    print(f"{len(models) - failures} of {len(models)} models pass onnx.checker and match in "
          f"ONNX Runtime {ort.__version__}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
