"""The C kernels of `tinyops generate`, bit for bit against tinyops.runtime.

Every op kind the C library covers runs as a single-op case (random shapes, parameters and
inputs; in-place layouts; channel-range partitions through an overlay buffer) inside one
self-checking C program, built for the host under ASan/UBSan and as firmware for QEMU's M4, M7,
M33 and M55 with the DSP path and with the portable path (TINYOPS_FORCE_PORTABLE): each build compares
every output with the runtime's, so DSP == portable == runtime. Real models' ops (VWW, KWS DS-CNN,
ResNet-8) run the same way. Builds are cached in the temp folder by source hash.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from tinyops.backends.c import emit_ops
from tinyops.backends.c import kernel_check as K
from tinyops.errors import UnsupportedOpError
from tinyops.frontends import load_model
from tinyops.ir import DType

MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"
SHARED = Path("/work/shared/models")


def _q(scale: float, zp: int) -> "K.Quantization":
    return K.quant(scale, zp)


def _unary(kind: str, shape: tuple[int, ...], in_q: tuple[float, int], out_q: tuple[float, int],
           in_dtype: DType = DType.INT8, out_dtype: DType = DType.INT8, **attrs: object) -> "K.Subgraph":
    x = K.activation("x", shape, _q(*in_q) if in_dtype is not DType.FLOAT32 else None, in_dtype)
    y = K.activation("y", shape, _q(*out_q) if out_dtype is not DType.FLOAT32 else None, out_dtype)
    return K.single_op(kind, [x], [y], **attrs)


def _binary(kind: str, a_shape: tuple[int, ...], b_shape: tuple[int, ...], out_shape: tuple[int, ...],
            act: str = "NONE") -> "K.Subgraph":
    a = K.activation("a", a_shape, _q(0.05, -3))
    b = K.activation("b", b_shape, _q(0.02, 7))
    y = K.activation("y", out_shape, _q(0.06 if kind != "MUL" else 0.01, 4))
    return K.single_op(kind, [a, b], [y], fused_activation_function=act)


def _pool(kind: str, shape: tuple[int, ...], k: int, stride: int, padding: str, out_hw: tuple[int, int],
          act: str = "NONE") -> "K.Subgraph":
    x = K.activation("x", shape, _q(0.05, -2))
    y = K.activation("y", (shape[0], *out_hw, shape[3]), _q(0.05, -2))
    return K.single_op(kind, [x], [y], filter_height=k, filter_width=k, stride_h=stride, stride_w=stride,
                       padding=padding, fused_activation_function=act)


def _small_weights(subgraph: "K.Subgraph") -> "K.Subgraph":
    """Filter values in -2..2, so that a rescale above 1 still leaves most outputs unsaturated."""
    weights = subgraph.ops[0].inputs[1]
    assert weights is not None and weights.data is not None
    weights.data = np.random.default_rng(0).integers(-2, 3, size=weights.data.shape).astype(np.int8)
    return subgraph


def synthetic_cases() -> list[K.KernelCase]:
    """One case per op kind and option the C kernels handle, in-place and partitioned variants."""
    graphs: list[tuple[str, K.Subgraph, K.InPlace, tuple[int, ...]]] = [
        ("conv1x1", K.weighted_op("CONV_2D", (1, 5, 7, 12), 10, (1, 1), activation_fn="RELU6", seed=1), "none", ()),
        ("conv1x1_odd", K.weighted_op("CONV_2D", (2, 3, 3, 7), 5, (1, 1), seed=2), "none", ()),
        ("conv3x3_same", K.weighted_op("CONV_2D", (1, 9, 8, 6), 9, (3, 3), seed=3), "none", ()),
        ("conv3x3_s2_valid", K.weighted_op("CONV_2D", (1, 11, 10, 5), 4, (3, 3), 2, "VALID", seed=4), "none", ()),
        ("conv5x3_dil2", K.weighted_op("CONV_2D", (1, 12, 12, 3), 6, (5, 3), 1, "SAME", 2, "RELU", seed=5),
         "none", ()),
        ("conv1x1_s2", K.weighted_op("CONV_2D", (1, 8, 8, 8), 8, (1, 1), 2, seed=6), "none", ()),
        ("conv_partitioned", K.weighted_op("CONV_2D", (1, 6, 6, 8), 11, (3, 3), seed=7), "none", (3, 8)),
        ("pointwise_inplace_narrow", K.weighted_op("CONV_2D", (1, 6, 5, 16), 8, (1, 1), seed=8), "pointwise", ()),
        ("pointwise_inplace_wide", K.weighted_op("CONV_2D", (1, 5, 5, 8), 24, (1, 1), seed=9), "pointwise", ()),
        ("dw3x3_same", K.weighted_op("DEPTHWISE_CONV_2D", (1, 9, 10, 7), 7, (3, 3), seed=10), "none", ()),
        ("dw3x3_s2", K.weighted_op("DEPTHWISE_CONV_2D", (1, 10, 9, 6), 6, (3, 3), 2, seed=11), "none", ()),
        ("dw3x3_mult2", K.weighted_op("DEPTHWISE_CONV_2D", (1, 7, 7, 4), 8, (3, 3), activation_fn="RELU6",
                                      seed=12), "none", ()),
        ("dw5x5_dil2_valid", K.weighted_op("DEPTHWISE_CONV_2D", (1, 13, 12, 5), 5, (5, 5), 1, "VALID", 2,
                                           seed=13), "none", ()),
        ("dw_inplace", K.weighted_op("DEPTHWISE_CONV_2D", (1, 8, 8, 12), 12, (3, 3), seed=14), "depthwise", ()),
        ("dw_partitioned", K.weighted_op("DEPTHWISE_CONV_2D", (1, 6, 7, 10), 10, (3, 3), seed=15), "none", (4,)),
        ("fc", K.weighted_op("FULLY_CONNECTED", (1, 37), 9, seed=16), "none", ()),
        # rescales with a left shift (output scale below input x filter scale)
        ("conv_left_shift", _small_weights(K.weighted_op("CONV_2D", (1, 4, 4, 2), 6, (1, 1), bias_range=20,
                                                          out_scale=2e-4, seed=20)), "none", ()),
        # accumulators beyond 2^30 (the DSP path's SMMULR rescale does not apply)
        ("conv_large_bias", K.weighted_op("CONV_2D", (1, 5, 4, 8), 6, (3, 3), bias_range=1_100_000_000,
                                          out_scale=8e3, seed=21), "none", ()),
        ("dw_large_bias", K.weighted_op("DEPTHWISE_CONV_2D", (1, 6, 6, 4), 4, (3, 3), bias_range=1_100_000_000,
                                        out_scale=8e3, seed=22), "none", ()),
        ("fc_rows", K.weighted_op("FULLY_CONNECTED", (3, 16), 6, activation_fn="RELU", seed=17), "none", ()),
        ("fc_rows_inplace", K.weighted_op("FULLY_CONNECTED", (4, 20), 12, seed=18), "pointwise", ()),
        ("fc_partitioned", K.weighted_op("FULLY_CONNECTED", (1, 64), 20, seed=19), "none", (7, 13)),
        ("add_broadcast", _binary("ADD", (1, 4, 5, 6), (1, 1, 1, 6), (1, 4, 5, 6), "RELU"), "none", ()),
        ("sub_broadcast", _binary("SUB", (1, 4, 1, 3), (1, 1, 5, 3), (1, 4, 5, 3)), "none", ()),
        ("mul", _binary("MUL", (1, 3, 4, 5), (1, 3, 4, 5), (1, 3, 4, 5), "RELU6"), "none", ()),
        ("add_inplace", _binary("ADD", (1, 6, 5, 4), (1, 6, 5, 4), (1, 6, 5, 4)), "elementwise", ()),
        ("avgpool_same", _pool("AVERAGE_POOL_2D", (1, 7, 6, 5), 3, 2, "SAME", (4, 3)), "none", ()),
        ("avgpool_global", _pool("AVERAGE_POOL_2D", (1, 5, 5, 8), 5, 1, "VALID", (1, 1)), "none", ()),
        ("maxpool_same", _pool("MAX_POOL_2D", (1, 7, 7, 3), 3, 2, "SAME", (4, 4), "RELU"), "none", ()),
        ("softmax", _unary("SOFTMAX", (3, 10), (0.1, 5), (1 / 256, -128), beta=1.0), "none", ()),
        ("softmax_beta", _unary("SOFTMAX", (2, 7), (0.3, -9), (1 / 256, -128), beta=0.6), "none", ()),
        ("softmax_int16", _unary("SOFTMAX", (2, 12), (0.08, 2), (1 / 32768, 0), out_dtype=DType.INT16),
         "none", ()),
        ("logistic", _unary("LOGISTIC", (1, 300), (0.05, 3), (1 / 256, -128)), "none", ()),
        ("hard_swish", _unary("HARD_SWISH", (1, 300), (0.04, -10), (0.03, -50)), "none", ()),
        ("relu", _unary("RELU", (1, 300), (0.05, 3), (0.04, -128)), "none", ()),
        ("relu6_inplace", _unary("RELU6", (1, 300), (0.05, 3), (0.05, 3)), "elementwise", ()),
        ("relu_n1_to_1", _unary("RELU_N1_TO_1", (1, 300), (0.02, 0), (0.01, 1)), "none", ()),
        ("requantize", _unary("QUANTIZE", (1, 300), (0.05, 3), (0.02, -7)), "none", ()),
        ("quantize_float", _unary("QUANTIZE", (1, 200), (1.0, 0), (0.037, 5), in_dtype=DType.FLOAT32), "none", ()),
        ("dequantize", _unary("DEQUANTIZE", (1, 300), (0.037, -5), (1.0, 0), out_dtype=DType.FLOAT32),
         "none", ()),
        ("reshape", _unary("RESHAPE", (1, 24), (0.1, 1), (0.1, 1)), "none", ()),
    ]
    cases = [K.make_case(name, g, 0, inplace, seed=n, ) for n, (name, g, inplace, _) in enumerate(graphs)]
    for case, (_, _, _, splits) in zip(cases, graphs):
        case.splits = splits
    return cases + _data_movement_cases() + _mean_cases() + _constant_operand_cases()


def _constant_operand_cases() -> list[K.KernelCase]:
    """ADD / MUL whose second operand is a constant tensor (emitted as an array of its own)."""
    rng = np.random.default_rng(5)
    cases = []
    for kind in ("ADD", "MUL"):
        a = K.activation("a", (1, 3, 4, 6), _q(0.05, -3))
        b = K.constant_tensor("b", rng.integers(-128, 128, size=(1, 1, 1, 6)), DType.INT8, _q(0.02, 7))
        y = K.activation("y", (1, 3, 4, 6), _q(0.06 if kind == "ADD" else 0.01, 4))
        cases.append(K.make_case(f"{kind.lower()}_constant", K.single_op(kind, [a, b], [y]), 0, seed=9))
    return cases


def _data_movement_cases() -> list[K.KernelCase]:
    x = K.activation("x", (1, 3, 4, 5), _q(0.1, -4))
    pads = K.constant_tensor("p", np.array([[0, 0], [1, 2], [0, 3], [2, 0]]), DType.INT32)
    padded = K.activation("y", (1, 6, 7, 7), _q(0.1, -4))
    pad = K.single_op("PAD", [x, pads, None], [padded])
    value = K.constant_tensor("v", np.array([9]), DType.INT8, _q(0.1, -4))
    padv2 = K.single_op("PADV2", [x, pads, value], [K.activation("y", (1, 6, 7, 7), _q(0.1, -4))])
    x8 = K.activation("x", (1, 4, 4, 8), _q(0.1, -4))
    pads8 = K.constant_tensor("p", np.array([[0, 0], [1, 1], [1, 1], [0, 0]]), DType.INT32)
    pad_inplace = K.single_op("PAD", [x8, pads8], [K.activation("y", (1, 6, 6, 8), _q(0.1, -4))])
    a = K.activation("a", (1, 2, 3, 4), _q(0.1, 0))
    b = K.activation("b", (1, 2, 3, 6), _q(0.1, 0))
    concat = K.single_op("CONCATENATION", [a, b], [K.activation("y", (1, 2, 3, 10), _q(0.1, 0))], axis=-1,
                         fused_activation_function="NONE")
    perm = K.constant_tensor("perm", np.array([0, 3, 1, 2]), DType.INT32)
    transpose = K.single_op("TRANSPOSE", [x, perm], [K.activation("y", (1, 5, 3, 4), _q(0.1, -4))])
    size = K.constant_tensor("size", np.array([7, 9]), DType.INT32)
    resize = K.single_op("RESIZE_NEAREST_NEIGHBOR", [x, size], [K.activation("y", (1, 7, 9, 5), _q(0.1, -4))],
                         align_corners=False, half_pixel_centers=True)
    return [K.make_case("pad", pad, 0, seed=1), K.make_case("padv2", padv2, 0, seed=2),
            K.make_case("pad_inplace", pad_inplace, 0, "pad", seed=3), K.make_case("concat", concat, 0, seed=4),
            K.make_case("transpose", transpose, 0, seed=5), K.make_case("resize", resize, 0, seed=6)]


def _mean_cases() -> list[K.KernelCase]:
    x = K.activation("x", (1, 5, 6, 7), _q(0.05, 3))
    axes = K.constant_tensor("axes", np.array([1, 2]), DType.INT32)
    mean = K.single_op("MEAN", [x, axes], [K.activation("y", (1, 1, 1, 7), _q(0.02, -6))], keep_dims=True)
    same = K.single_op("MEAN", [x, axes], [K.activation("y", (1, 7), _q(0.05, 3))], keep_dims=False)
    return [K.make_case("mean_rescale", mean, 0, seed=7), K.make_case("mean_same", same, 0, seed=8)]


def model_cases() -> list[K.KernelCase]:
    cases = []
    for stem in ("mlcommons_tiny/vww_mobilenetv1_96_int8", "mlcommons_tiny/kws_dscnn_int8",
                 "mlcommons_tiny/ic_resnet8_int8"):
        subgraph = load_model(SHARED / f"{stem}.tflite").main
        tag = stem.split("/")[1].split("_")[0]
        for index, op in enumerate(subgraph.ops):
            cases.append(K.make_case(f"{tag}{index}_{op.kind.lower()}", subgraph, index, seed=index))
    return cases


def _cached(tag: str, source: str) -> Path:
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    return K.build_folder(f"{tag}-{digest}")


@pytest.fixture(scope="module")
def synthetic_source() -> str:
    return K.program_source(synthetic_cases())


def test_every_kernel_bit_exact_on_host_under_sanitizers(synthetic_source: str) -> None:
    exe = K.build_host(synthetic_source, _cached("host-asan", synthetic_source), sanitize=True)
    status, output = K.run_host(exe)
    assert status == 0, output


@pytest.mark.parametrize("core", ["m4", "m7", "m33", "m55"])
def test_dsp_and_portable_paths_bit_exact_on_qemu(synthetic_source: str, core: str) -> None:
    for portable in (False, True):
        elf = K.build_firmware(synthetic_source, _cached(f"{core}-{portable}", synthetic_source), core, portable)
        status, output = K.run_qemu(elf, core)
        assert status == 0, f"{core} portable={portable}: {output}"


@pytest.mark.parametrize("opt", ["-O0", "-Os", "-O3"])
def test_other_optimization_levels_on_m4(synthetic_source: str, opt: str) -> None:
    """-O0 keeps a frame pointer, so the DSP build takes the C loop instead of the assembly one."""
    elf = K.build_firmware(synthetic_source, _cached(f"m4{opt}", synthetic_source), "m4", opt=opt)
    status, output = K.run_qemu(elf, "m4")
    assert status == 0, output


@pytest.mark.slow
def test_real_model_ops_bit_exact_on_host_and_m4() -> None:
    source = K.program_source(model_cases())
    exe = K.build_host(source, _cached("models-host", source), sanitize=True)
    status, output = K.run_host(exe)
    assert status == 0, output
    elf = K.build_firmware(source, _cached("models-m4", source), "m4")
    status, output = K.run_qemu(elf, "m4")
    assert status == 0, output


def test_a_wrong_output_is_caught() -> None:
    case = K.make_case("conv", K.weighted_op("CONV_2D", (1, 4, 4, 4), 4, (3, 3)), 0)
    case.expected.reshape(-1)[3] ^= 1
    source = K.program_source([case])
    status, output = K.run_host(K.build_host(source, _cached("host-bad", source)))
    assert status == 1 and "MISMATCH conv" in output


def test_unsupported_ops_are_refused_with_kind_and_index() -> None:
    tanh = _unary("TANH", (1, 10), (0.05, 0), (1 / 128, 0))
    with pytest.raises(UnsupportedOpError, match=r"TANH \(op 0\)"):
        emit_ops.check_supported(tanh)
    floats = K.single_op("ADD", [K.activation("a", (1, 4), None, DType.FLOAT32),
                                 K.activation("b", (1, 4), None, DType.FLOAT32)],
                         [K.activation("y", (1, 4), None, DType.FLOAT32)])
    with pytest.raises(UnsupportedOpError, match=r"ADD \(op 0\).*float32"):
        emit_ops.emit_op(floats, 0, lambda t: "p")
    assert emit_ops.unsupported_reason(floats.ops[0]) is not None


def test_filters_are_stored_one_channel_per_row() -> None:
    subgraph = K.weighted_op("DEPTHWISE_CONV_2D", (1, 5, 5, 6), 6, (3, 3))
    emitted = emit_ops.emit_op(subgraph, 0, lambda t: "p")
    weights = emitted.filter
    assert weights is not None and weights.rows == 6 and weights.row_elements == 9
    tflite_layout = np.asarray(subgraph.ops[0].inputs[1].data)  # type: ignore[union-attr]  # [1, kh, kw, oc]
    assert np.array_equal(weights.channel_slice(2, 4).reshape(2, 9), tflite_layout.reshape(9, 6)[:, 2:4].T)
    assert "op0_filter + 18" in emitted.call_range(2, 4, "op0_filter + 18")
    assert emitted.scratch_bytes >= 25  # the zero-point-padded 5x5 input plane
