"""A stride benchmark run with `--serve` (benches/common/serve.rs): it prints its plan, then
answers each request line with its JSON timing line. bench/compare.py and
bench/compare_nets.py drive one, so that stride and ONNX Runtime take turns."""

import json
import subprocess
import sys


class Served:
    def __init__(self, bench, bench_args):
        command = ["cargo", "bench", "--bench", bench, "--", "--serve", *bench_args]
        print(f"== {' '.join(command)}", file=sys.stderr)
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)
        self.plan = self.answer()["plan"]

    def answer(self):
        line = self.process.stdout.readline()
        if not line:
            sys.exit(f"the {self.process.args[3]} benchmark stopped (exit code {self.process.wait()})")
        return json.loads(line)

    def ms(self, *request):
        """The median milliseconds of the configuration `request` (its fields, in order)."""
        self.process.stdin.write(" ".join(str(field) for field in request) + "\n")
        self.process.stdin.flush()
        return self.answer()["ms"]

    def close(self):
        self.process.stdin.close()
        self.process.wait()
