"""What a device can run: a check that it is there before a fit starts, and
torch's fused Adam kernel where the device has one."""

import functools

import torch

# Optimizer options that choose or exclude an implementation of the step
_IMPLEMENTATION = {
    "optimizer__fused",
    "optimizer__foreach",
    "optimizer__differentiable",
    "optimizer__capturable",
}


def fused_adam_kwargs(optimizer, device, routed):
    """``optimizer__fused=True`` for torch's Adam or AdamW on a device with
    its fused kernel, unless ``routed`` chooses an implementation: the same
    update in one pass over each parameter instead of one per operation
    (measured: a quarter of a small network's fit on CPU, where torch's
    default is the per-operation loop)."""
    if optimizer not in (torch.optim.Adam, torch.optim.AdamW):
        return {}
    if _IMPLEMENTATION & set(routed):
        return {}
    kind = torch.device(device).type
    if kind == "cuda" or (kind == "cpu" and cpu_fused_adam()):
        return {"optimizer__fused": True}
    return {}


@functools.cache
def cpu_fused_adam():
    """Whether this torch has the fused Adam kernel on CPU (2.4 and later)."""
    try:
        torch.optim.Adam([torch.zeros(1, requires_grad=True)], fused=True)
    except (RuntimeError, TypeError, ValueError):
        return False
    return True


def check_device(device):
    """A clear error for an unknown device, or a CUDA device that is not there."""
    try:
        device = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(
            f"device must be a torch device such as 'cpu' or 'cuda', got {device!r}."
        ) from exc
    if device.type == "meta":
        raise ValueError(
            "device='meta' holds shapes but no data: nothing can be trained or "
            "embedded on it; use device='cpu' or a GPU such as 'cuda'."
        )
    if device.type not in ("cpu", "cuda"):
        # e.g. "mps" without Apple's backend: torch would fail mid-fit
        try:
            torch.empty(1, device=device)
        except (RuntimeError, AssertionError, ValueError):
            raise ValueError(
                f"device={str(device)!r} is not available here: torch "
                f"{torch.__version__} cannot place a tensor on it; use "
                "device='cpu' or a device this torch supports."
            ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={str(device)!r} but CUDA is not available here (torch "
            f"{torch.__version__}, built {'with' if torch.version.cuda else 'without'}"
            " CUDA); use device='cpu' or install a CUDA build of torch."
        )
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(
            f"device={str(device)!r} but only {torch.cuda.device_count()} CUDA "
            "device(s) are visible."
        )
