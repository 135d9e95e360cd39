"""The notebook surface: the ``%hatchet`` magics, their argument parser and task cells.
IPython is imported only when the extension is loaded."""
