"""A Python kernel that tells frontends it has no subshells, as ipykernel 6 does: the page
then sends every comm message to the main shell. Run as a kernelspec's program (see
``harness.isolated_env``)."""

from __future__ import annotations

from typing import Any

from ipykernel.ipkernel import IPythonKernel
from ipykernel.kernelapp import IPKernelApp


class KernelWithoutSubshells(IPythonKernel):
    @property
    def kernel_info(self) -> dict[str, Any]:
        info: dict[str, Any] = dict(super().kernel_info)
        features = info.get("supported_features", [])
        info["supported_features"] = [f for f in features if f != "kernel subshells"]
        return info


if __name__ == "__main__":
    IPKernelApp.launch_instance(kernel_class=KernelWithoutSubshells)
