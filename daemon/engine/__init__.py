"""The engine: the only package that imports torch/diffusers, and only in its submodules.

Importing this package (or `api`, `registry`, `detect`, `imaging`, `preprocess`) stays torch-free;
`engine.DiffusersEngine` and `demo.build_demo` load the heavy stack when used.
"""

import logging


class _TorchvisionFallback(logging.Filter):
    """transformers announces that its image processors fall back to their PIL versions when
    torchvision is missing. The engine never needs torchvision (the processors it loads feed the
    unused safety checker at most), so that one line is dropped; every other warning stays."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "requires torchvision (not installed)" not in record.getMessage()


logging.getLogger("transformers.utils.import_utils").addFilter(_TorchvisionFallback())
