"""The compiled batch paths for packets and flow records, and the numba kernels behind them.

Both paths keep one rule: a frame or record that can change nothing (no alert, no binding, no
move; `Engine.settles` decides) is only counted; everything else takes the exact path, in order.
"""
