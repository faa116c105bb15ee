"""The pure core: no IPython, ipykernel, comm, ipywidgets or traitlets imports here."""
