"""Start a district model from weights the project already has, not from a download.

Only the train extra's code (torch, ultralytics) runs here, imported inside the functions. The
shipped yolov8n_int8 is folded back to float (epatrol/models/derive.py); its Conv initializers are
named like Ultralytics' state dict with batch-norm fused in (model.0.conv.weight_quantized_folded,
model.0.conv.bias). A fused weight goes into the unfused model's conv; its batch-norm is set from
the conv's output statistics on the training images so that both the eval and the training
forward give the fused network's output: training starts from COCO features, not from noise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# --init name -> the Ultralytics architecture whose state dict its initializers follow
ARCHITECTURES = {"yolov8n_int8": "yolov8n"}
_SUFFIXES = ("_quantized_folded", "")


def float_initializers(onnx_path: Path) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    return {i.name: numpy_helper.to_array(i).copy() for i in onnx.load(str(onnx_path)).graph.initializer}  # writable: torch warns otherwise


def _weight(found: dict[str, np.ndarray], name: str) -> np.ndarray | None:
    for suffix in _SUFFIXES:
        if name + suffix in found:
            return found[name + suffix]
    return None


def initialised_checkpoint(arch: str, task: str, onnx_path: Path, images: list[Path], imgsz: int, out: Path) -> dict:
    """Write an Ultralytics checkpoint of `arch` holding onnx_path's weights; returns how many
    tensors were loaded and which were left as built (a detector's class scores, when the class
    count differs, are re-learned anyway)."""
    import cv2
    import torch
    from ultralytics.nn.modules import Conv
    from ultralytics.nn.tasks import ClassificationModel, DetectionModel

    found = float_initializers(onnx_path)
    if task == "classify":
        model = ClassificationModel(f"{arch}-cls.yaml", nc=1000, verbose=False)
    else:
        model = DetectionModel(f"{arch}.yaml", nc=80, verbose=False)
    model.eval()
    loaded, missing, stats, hooks = 0, [], {}, []
    for name, module in model.named_modules():
        if isinstance(module, Conv) and hasattr(module, "bn"):
            w, b = _weight(found, f"{name}.conv.weight"), _weight(found, f"{name}.conv.bias")
            if w is None or b is None or tuple(w.shape) != tuple(module.conv.weight.shape):
                missing.append(name)
                continue
            bn = module.bn
            with torch.no_grad():
                module.conv.weight.copy_(torch.from_numpy(w))
                # identity batch-norm plus the fused bias: the eval forward is the fused graph's
                bn.weight.fill_(1.0), bn.bias.copy_(torch.from_numpy(b)), bn.running_mean.zero_()
                bn.running_var.fill_(1.0 - bn.eps)
            stats[name] = (module, b)
            hooks.append(module.conv.register_forward_hook(_collect(stats, name)))
            loaded += 1
        elif isinstance(module, torch.nn.Conv2d) and not name.endswith(".conv"):
            w, b = _weight(found, f"{name}.weight"), _weight(found, f"{name}.bias")
            if w is None or tuple(w.shape) != tuple(module.weight.shape):
                missing.append(name)
                continue
            with torch.no_grad():
                module.weight.copy_(torch.from_numpy(w))
                if b is not None and module.bias is not None:
                    module.bias.copy_(torch.from_numpy(b))
            loaded += 1
    if not loaded:
        raise ValueError(f"{onnx_path}: none of its initializers is named like the {arch} state dict")
    batch = []
    for path in images[:16]:
        img = cv2.imread(str(path))
        if img is not None:
            batch.append(cv2.resize(img, (imgsz, imgsz))[:, :, ::-1].transpose(2, 0, 1) / 255.0)
    with torch.no_grad():
        model(torch.from_numpy(np.stack(batch)).float())
    for h in hooks:
        h.remove()
    with torch.no_grad():
        for name, (module, b) in stats.items():
            mean, var = module._stat_mean, module._stat_var
            bn = module.bn
            # eval: gamma*(x-mean)/sqrt(var+eps)+beta == x + b; training (batch stats ~ these) nearly so
            bn.running_mean.copy_(mean), bn.running_var.copy_(var)
            bn.weight.copy_(torch.sqrt(var + bn.eps)), bn.bias.copy_(mean + torch.from_numpy(b))
            del module._stat_mean, module._stat_var
    out.parent.mkdir(parents=True, exist_ok=True)
    # the task in train_args: without it Ultralytics reads the default (detect) and a classifier
    # checkpoint is handed to the detect trainer
    torch.save({"model": model, "train_args": {"task": task}, "epoch": -1}, out)
    return {"tensors_loaded": loaded, "left_as_built": missing}


def _collect(stats: dict, name: str):
    def hook(conv, _inputs, output):
        module = stats[name][0]
        module._stat_mean = output.mean(dim=(0, 2, 3)).detach()
        module._stat_var = output.var(dim=(0, 2, 3), unbiased=False).detach()

    return hook
