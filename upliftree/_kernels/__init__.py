"""Compiled kernels: pure Numba functions over arrays, no Python objects and no pandas."""
