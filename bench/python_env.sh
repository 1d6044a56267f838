# Sourced by the scripts that need ONNX Runtime: makes (once) and names a venv under target/
# with onnxruntime, onnx and numpy, the versions pip picks that day (the scripts print them).
#
#     source bench/python_env.sh; "$venv/bin/python" …
venv=target/compare-venv
if ! "$venv/bin/python" -c "import onnxruntime, onnx, numpy" 2>/dev/null; then
    echo "== installing onnxruntime, onnx and numpy into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet onnxruntime onnx numpy
fi
"$venv/bin/python" -c "import onnxruntime, onnx, numpy; print('== onnxruntime', onnxruntime.__version__, 'onnx', onnx.__version__, 'numpy', numpy.__version__)" >&2
