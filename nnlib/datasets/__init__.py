"""Data files shipped with nnlib, and the scripts that generate them (no download, ever)."""
