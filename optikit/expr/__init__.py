"""Expression text to SymPy through an allowlist: parsing, the function table, limits, special functions."""

from .text import FUNCTIONS, check_name, check_tree, make_symbol, names, parse

__all__ = ["FUNCTIONS", "check_name", "check_tree", "make_symbol", "names", "parse"]
