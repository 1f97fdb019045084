"""Size and accuracy-impact table of every scheme on the shipped float models (docs/quantization.md).

    python -m tinyops.quant.benchmark /path/to/shared/models

Calibration: 100 seeded synthetic samples (seed 1); evaluation: 200 others (seed 2); both
models run in LiteRT (reference kernels). The published int8 models are scored on the same inputs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tinyops.backends.tflite_writer import to_tflite_bytes
from tinyops.frontends.loader import load_model, load_model_bytes
from tinyops.oracles import litert_run
from tinyops.quant import synthetic
from tinyops.quant.costs import SCHEMES
from tinyops.quant.evaluate import agreement, dequantize_output, quantize_inputs
from tinyops.quant.schemes import quantize_scheme

CASES = [("mlcommons_tiny/ic_resnet8_float32", "mlcommons_tiny/ic_resnet8_int8", synthetic.smooth_images),
         ("mlcommons_tiny/kws_dscnn_float32", "mlcommons_tiny/kws_dscnn_int8", synthetic.kws_mfccs),
         ("tflite_micro/hello_world_float", "tflite_micro/hello_world_int8", synthetic.sine_inputs)]


def main(argv: list[str]) -> int:
    models = Path(argv[0]) if argv else Path("../shared/models")
    print("| model | scheme | file B | weights stored B | SQNR dB | top-1 agr. | Huffman bits | look-ups | nibble unpacks | requant mults |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for float_name, int8_name, generate in CASES:
        graph = load_model(models / f"{float_name}.tflite")
        calibration, evaluation = [[x] for x in generate(100, seed=1)], [[x] for x in generate(200, seed=2)]
        reference = litert_run(to_tflite_bytes(graph), evaluation).outputs[0]
        published_bytes = (models / f"{int8_name}.tflite").read_bytes()
        published = load_model_bytes(published_bytes, int8_name)
        out = dequantize_output(published, litert_run(published_bytes, quantize_inputs(published, evaluation)).outputs[0])
        score = agreement(reference, out)
        print(f"| {Path(int8_name).name} | published int8 | {len(published_bytes)} | | {score.sqnr_db:.2f} | "
              f"{score.top1_agreement:.3f} | | | | |")
        for scheme in SCHEMES:
            result = quantize_scheme(graph, calibration, scheme)
            runnable = to_tflite_bytes(result.graph)
            score = agreement(reference, litert_run(runnable, evaluation).outputs[0])
            c = result.costs
            print(f"| {Path(float_name).name} | {scheme} | {len(result.payload)} | {c['weight_bytes_stored']} | "
                  f"{score.sqnr_db:.2f} | {score.top1_agreement:.3f} | {c['huffman_bits_decoded']} | "
                  f"{c['table_lookups']} | {c['nibble_unpacks']} | {c['requant_multiplies']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
