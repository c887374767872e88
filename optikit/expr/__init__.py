"""Expression text to SymPy through an allowlist: parsing, the function table, limits, special functions."""

from .build import FUNCTIONS, check_tree
from .names import check_name, make_symbol, names
from .text import parse

__all__ = ["FUNCTIONS", "check_name", "check_tree", "make_symbol", "names", "parse"]
