"""The bin-area classifier: is this crop of a bin zone clean or overflowing?

No public model knows rubbish, and no backbone may be downloaded, so the crop is described by what
the project's own COCO detector already computes: yolov8n's backbone feature maps after stage 6
(128 channels, stride 16) and the SPPF block (256 channels, stride 32), each pooled over the image
by mean and max: a 768-number embedding. The graph that computes them is cut from the verified
model at load time (the `onnx` package; bin_embedding_runtime.py); the model file on disk is
never changed. A logistic regression that `epatrol train-bins` (bin_training.py) fits on real labelled
photos turns the embedding into P(overflowing); its few kilobytes of parameters live in
data/bins_classifier.npz beside this module.

Why this embedding, measured on the same group split of the 1570 de-duplicated photos (held-out
accuracy on 413 photos, see bin_training.py): handcrafted features (HOG + LBP + HSV histograms)
0.69; SPPF alone 0.76; stage 6 alone 0.78; stage 6 + SPPF 0.81; adding stage 4 changed nothing.
Training on each photo twice, as taken and as a camera delivers it (bin_training.as_camera_sees_it),
gave 0.83 (0.80 on camera-like copies of the held-out photos): the parameters shipped here.
Re-measured for issue 11 (docs/reports/overflowing_bins.md): letterbox padding left out, 2x2
spatial pooling, stages 4 and 8, the neck's layers, or all of them moved held-out accuracy by no
more than its noise (0.78..0.83), and adding dusk/night copies traded daylight for dusk accuracy:
the embedding and these parameters stay.

The same embedding feeds a second logistic regression, P(a bin is in the crop)
(data/bins_presence.npz, `epatrol train-bins --presence`, epatrol/training/bins_presence_fit.py):
the judge establishes that its zone holds a bin before it judges it.
Cost: one pass of yolov8n's backbone on the crop, per zone per sample. The judge's embedder
(shared_embedder) runs on the fastest runtime that keeps the packaged parameters' P(overflowing)
and P(bin) on real images, measured at load (bin_embedding_runtime.py: on the 2-core Xeon, OpenVINO
bf16 on the float-folded graph, about 30 ms on one core against 90 ms for the int8 reference and
125..230 ms for the whole int8 graph before; held-out accuracy 0.831 either way, 1.9% of overflow
and 0.3% of presence decisions flipped). Training keeps the reference (runtime "reference").
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from epatrol.models import yolo
from epatrol.models.manifest import ModelError, get_spec, verify_model_file

EMBEDDING_MODEL = "yolov8n_int8"
EMBEDDING_LAYERS = ("/model.6/cv2/act/Mul_output_0", "/model.9/cv2/act/Mul_output_0")
DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "bins_classifier.npz"
PRESENCE_PATH = Path(__file__).resolve().parent / "data" / "bins_presence.npz"


class BinEmbedder:
    """yolov8n's backbone as an image embedding; thread-safe (onnxruntime's run() is, and OpenVINO
    gives each calling thread its own infer request).

    runtime "reference": the shipped int8 graph on onnxruntime CPU, what the parameters were fitted
    on (training uses it). runtime "auto": the fastest way of computing it that keeps the packaged
    parameters' P(overflowing) and P(bin) on real images (bin_embedding_runtime.py; the cache folder
    is derive.cache_dir(cache_dir), EPATROL_CACHE winning)."""

    def __init__(self, models_dir: Path, threads: int = 1, runtime: str = "reference", cache_dir: Path | None = None) -> None:
        from epatrol.detectors.bins import bin_embedding_runtime as rt
        from epatrol.models import derive

        if runtime not in ("auto", "reference"):
            raise ModelError(f"unknown runtime choice {runtime!r}; expected 'auto' or 'reference'")
        spec = get_spec(EMBEDDING_MODEL)
        path = verify_model_file(spec, models_dir)
        self.spec = spec
        self.sha256 = spec.sha256
        folder = derive.cache_dir(cache_dir)
        self.choice = None  # selection.Choice: what was measured, when runtime is "auto"
        if runtime == "reference":
            self._embedding = rt.open_embedding(rt.reference(path), EMBEDDING_LAYERS, folder, threads)
            return
        params, presence = _packaged(DEFAULT_PATH), _packaged(PRESENCE_PATH)
        tensors = [self._tensor(image) for image in rt.agreement_images(Path(models_dir))]

        def score(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return params.score_features(feats), presence.score_features(feats)

        checksums = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (DEFAULT_PATH, PRESENCE_PATH)]
        self._embedding, self.choice = rt.choose(
            spec, path, EMBEDDING_LAYERS, tensors, score, folder, threads, streams=os.cpu_count() or 1, key_parts=checksums
        )

    @property
    def runs_on(self) -> str:
        """e.g. "openvino CPU bf16 (float-folded)": what computes the embedding, for the record."""
        return self._embedding.runs_on

    def _tensor(self, bgr: np.ndarray) -> np.ndarray:
        if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.size == 0 or bgr.dtype != np.uint8:
            raise ValueError(f"expected a non-empty HxWx3 uint8 BGR image, got {bgr.shape} {bgr.dtype}")
        return yolo.preprocess(bgr, self.spec.input_size, rgb=self.spec.channel_order == "rgb", use_letterbox=self.spec.letterbox)[0]

    def embed(self, bgr: np.ndarray) -> np.ndarray:
        return self._embedding.embed(self._tensor(bgr))


_embedders: dict[Path, BinEmbedder] = {}
_embedders_lock = threading.Lock()


def shared_embedder(models_dir: Path) -> BinEmbedder:
    """One embedder per models folder for the whole process (cameras share it, like the detectors)."""
    key = Path(models_dir).resolve()
    with _embedders_lock:
        if key not in _embedders:
            _embedders[key] = BinEmbedder(key, runtime="auto")
        return _embedders[key]


@dataclass(frozen=True)
class BinParameters:
    """Standardised embedding -> logistic regression -> P(overflowing)."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float  # P(overflowing) at or above which a crop counts as overflowing

    def score_features(self, feats: np.ndarray) -> np.ndarray:
        z = ((np.atleast_2d(feats) - self.mean) / self.scale) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))

    def save(self, path: Path | str, **provenance: str) -> str:
        """Write the parameters and what they were trained on; returns the file's SHA-256."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            np.savez_compressed(
                f,
                mean=self.mean.astype(np.float32),
                scale=self.scale.astype(np.float32),
                weights=self.weights.astype(np.float32),
                bias=np.float32(self.bias),
                threshold=np.float32(self.threshold),
                embedding_model_sha256=np.str_(get_spec(EMBEDDING_MODEL).sha256),
                embedding_layers=np.array(EMBEDDING_LAYERS),
                **{f"meta_{k}": np.str_(v) for k, v in provenance.items()},
            )
        return hashlib.sha256(path.read_bytes()).hexdigest()

    @classmethod
    def load(cls, path: Path | str = DEFAULT_PATH) -> "BinParameters":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"bin classifier parameters not found: {path} (train them with `epatrol train-bins`)")
        with np.load(path) as z:
            trained_on = (str(z["embedding_model_sha256"]), tuple(str(x) for x in z["embedding_layers"]))
            if trained_on != (get_spec(EMBEDDING_MODEL).sha256, EMBEDDING_LAYERS):
                raise ValueError(f"{path}: trained on another embedding than {EMBEDDING_MODEL} {EMBEDDING_LAYERS}: retrain with `epatrol train-bins`")
            params = cls(z["mean"], z["scale"], z["weights"], float(z["bias"]), float(z["threshold"]))
        if not (params.mean.shape == params.scale.shape == params.weights.shape and params.mean.ndim == 1):
            raise ValueError(f"{path}: parameter shapes disagree: {params.mean.shape}, {params.scale.shape}, {params.weights.shape}")
        return params


class BinClassifier:
    """P(overflowing) and P(a bin is in it) of a BGR crop of a bin zone, from one embedding."""

    def __init__(self, embedder: BinEmbedder, params: BinParameters, presence: BinParameters) -> None:
        self.embedder = embedder
        self.params = params
        self.presence = presence
        self.threshold = params.threshold
        self.presence_threshold = presence.threshold

    def score(self, bgr: np.ndarray) -> float:
        return float(self.params.score_features(self.embedder.embed(bgr))[0])

    def assess(self, bgr: np.ndarray) -> tuple[float, float]:
        """(P(overflowing), P(bin)): one backbone run serves both."""
        feats = self.embedder.embed(bgr)
        return float(self.params.score_features(feats)[0]), float(self.presence.score_features(feats)[0])


@functools.cache
def _packaged(path: Path) -> BinParameters:
    return BinParameters.load(path)


def load_classifier(models_dir: Path, parameters: Path | None = None, presence: Path | None = None) -> BinClassifier:
    """The shared embedder with the packaged parameters (or those at `parameters` / `presence`)."""
    params = BinParameters.load(parameters) if parameters is not None else _packaged(DEFAULT_PATH)
    found = BinParameters.load(presence) if presence is not None else _packaged(PRESENCE_PATH)
    return BinClassifier(shared_embedder(models_dir), params, found)
