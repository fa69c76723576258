"""Putting the swapped face back into the target video: the swapper, masks and blending, placement, evaluation."""
