"""Adapters for a running IPython kernel: magics, the comm channel and traitlets configuration.

Nothing here is imported by ``import ipython_hotreload``; ``%load_ext ipython_hotreload`` loads
:mod:`.extension`, which wires the rest to the default reloader.
"""
