"""The local review page over the stage outputs: every face of a side, sorted and filtered, excluded or restored
with a click; the target's timeline; mask labels drawn on target frames. Run as ``python -m review``."""
