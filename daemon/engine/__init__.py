"""The engine: the only package that imports torch/diffusers, and only in its submodules.

Importing this package (or `api`, `registry`, `detect`, `imaging`, `preprocess`) stays torch-free;
`engine.DiffusersEngine` and `demo.build_demo` load the heavy stack when used.
"""
