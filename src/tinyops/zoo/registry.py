"""The registry of model families: names, defaults, and the function that builds each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from tinyops.errors import TinyOpsError
from tinyops.ir import Graph
from tinyops.zoo import mcunet, micronets, mobilenet, mobilenetv3, nas, tiny
from tinyops.zoo.spec import BuildRequest


@dataclass(frozen=True)
class Family:
    name: str
    build: Callable[[BuildRequest], Graph]
    task: str  # dataset the family is published on: imagenet, vww, kws, cifar10, toyadmos
    summary: str
    reference: str
    default_resolution: tuple[int, int]
    default_classes: int | None  # None: no classifier (the autoencoder reconstructs its input)
    default_input_channels: int
    input_kind: str = "image"  # image | spectrogram (frames x coefficients) | vector (frames x bins, flattened)

    @property
    def has_classifier(self) -> bool:
        return self.default_classes is not None


IMAGENET: dict[str, Any] = dict(task="imagenet", default_resolution=(224, 224), default_classes=1000,
                               default_input_channels=3)
MCUNET_REFERENCE = "Lin et al. 2020 (MCUNet), arXiv:2007.10319; released net configs (mcunet model zoo)"
KWS: dict[str, Any] = dict(task="kws", default_resolution=(49, 10), default_classes=12, default_input_channels=1,
           input_kind="spectrogram")


def _mcunet_imagenet(name: str, summary: str, resolution: int) -> Family:
    """An MCUNet ImageNet model at its native square resolution (ReLU6, 1000 classes, RGB)."""
    return Family(name, mcunet.build_mcunet_imagenet, summary=summary, reference=MCUNET_REFERENCE, task="imagenet",
                  default_resolution=(resolution, resolution), default_classes=1000, default_input_channels=3)


MICRONETS_REF = "Banbury et al. 2021 (MicroNets, MLSys), arXiv:2010.11267v6 Table 5"

FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("mobilenetv1", mobilenet.build_mobilenetv1, summary="MobileNetV1, depthwise-separable, ReLU",
           reference="Howard et al. 2017, arXiv:1704.04861", **IMAGENET),
    Family("mobilenetv2", mobilenet.build_mobilenetv2, summary="MobileNetV2, inverted residuals, ReLU6",
           reference="Sandler et al. 2018, arXiv:1801.04381", **IMAGENET),
    Family("mobilenetv3-large", mobilenetv3.build_mobilenetv3_large,
           summary="MobileNetV3-Large, SE + hard-swish", reference="Howard et al. 2019, arXiv:1905.02244",
           **IMAGENET),
    Family("mobilenetv3-large-no-se", mobilenetv3.build_mobilenetv3_large_no_se,
           summary="MobileNetV3-Large without SE: the TinyOpsV2 'MbV3' (3.96M params at w1.00)",
           reference="Sadiq et al. (TinyOpsV2) Tables 1-2; Howard et al. 2019", **IMAGENET),
    Family("mobilenetv3-small", mobilenetv3.build_mobilenetv3_small,
           summary="MobileNetV3-Small, SE + hard-swish", reference="Howard et al. 2019, arXiv:1905.02244",
           **IMAGENET),
    Family("mnasnet-a1", nas.build_mnasnet_a1, summary="MNASNet-A1, SE (sigmoid), ReLU",
           reference="Tan et al. 2019, arXiv:1807.11626", **IMAGENET),
    Family("mnasnet-b1", nas.build_mnasnet_b1, summary="MNASNet-B1 = torchvision mnasnet1_0 (TinyOpsV2 'MNASNet')",
           reference="Tan et al. 2019; torchvision mnasnet1_0", **IMAGENET),
    Family("proxylessnas-mobile", nas.build_proxylessnas_mobile, summary="ProxylessNAS-Mobile, ReLU6",
           reference="Cai et al. 2019, arXiv:1812.00332", **IMAGENET),
    Family("efficientnet-lite0", nas.build_efficientnet_lite0, summary="EfficientNet-Lite0 (B0 without SE, ReLU6)",
           reference="Tan & Le 2019; TensorFlow EfficientNet-Lite", **IMAGENET),
    _mcunet_imagenet("mcunet-in0", "MCUNet-in0 (10fps on F746), ReLU6, native 48x48", 48),
    _mcunet_imagenet("mcunet-in1", "MCUNet-in1 (5fps on F746), ReLU6, native 96x96", 96),
    _mcunet_imagenet("mcunet-in2", "MCUNet-in2 (256 KB SRAM / 1 MB flash), ReLU6, native 160x160", 160),
    _mcunet_imagenet("mcunet-in3", "MCUNet-in3 (320 KB / 1 MB), ReLU6, native 176x176", 176),
    _mcunet_imagenet("mcunet-in4", "MCUNet-in4 (512 KB / 2 MB), ReLU6, native 160x160", 160),
    Family("mcunet-vww1", mcunet.build_mcunet_vww, summary="MCUNet-vww1 = TinyEngine's mcunet_vww.tflite, op for op",
           reference="Lin et al. 2020 (MCUNet), arXiv:2007.10319; TinyEngine mcunet_vww.tflite", task="vww",
           default_resolution=(80, 80), default_classes=2, default_input_channels=3),
    Family("dscnn-s", tiny.build_dscnn_s, summary="DS-CNN-S keyword spotting (MLPerf Tiny KWS reference)",
           reference="Zhang et al. 2017 (Hello Edge), arXiv:1711.07128", **KWS),
    Family("dscnn-m", tiny.build_dscnn_m, summary="DS-CNN-M keyword spotting",
           reference="Zhang et al. 2017 (Hello Edge), arXiv:1711.07128", **KWS),
    Family("dscnn-l", tiny.build_dscnn_l, summary="DS-CNN-L keyword spotting",
           reference="Zhang et al. 2017 (Hello Edge), arXiv:1711.07128", **KWS),
    *(Family(f"micronet-kws-{size}", getattr(micronets, f"build_micronet_kws_{size}"), task="kws",
             summary=f"MicroNet-KWS-{size.upper()}: stem 10x4 s1 + DS blocks (searched by DNAS)",
             reference=MICRONETS_REF, default_resolution=(49, 10), default_classes=12, default_input_channels=1,
             input_kind="spectrogram") for size in ("s", "m", "l")),
    *(Family(f"micronet-ad-{size}", getattr(micronets, f"build_micronet_ad_{size}"), task="mimii",
             summary=f"MicroNet-AD-{size.upper()}: machine-ID classifier on 32x32 log-mel (searched by DNAS)",
             reference=MICRONETS_REF, default_resolution=(32, 32), default_classes=4, default_input_channels=1,
             input_kind="spectrogram") for size in ("s", "m", "l")),
    Family("resnet8", tiny.build_resnet8, task="cifar10", summary="ResNet-8 (MLPerf Tiny image classification)",
           reference="Banbury et al. 2021 (MLPerf Tiny), arXiv:2106.07597", default_resolution=(32, 32),
           default_classes=10, default_input_channels=3),
    Family("fc-autoencoder", tiny.build_fc_autoencoder, task="toyadmos",
           summary="FC autoencoder, 640-dim log-mel (MLPerf Tiny anomaly detection)",
           reference="Banbury et al. 2021 (MLPerf Tiny), arXiv:2106.07597", default_resolution=(5, 128),
           default_classes=None, default_input_channels=1, input_kind="vector"),
)}


def family_names() -> list[str]:
    return list(FAMILIES)


def get_family(name: str) -> Family:
    family = FAMILIES.get(str(name).lower())
    if family is None:
        raise TinyOpsError(f"unknown model family {name!r}; choose one of: {', '.join(FAMILIES)}")
    return family
