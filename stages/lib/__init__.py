"""Code shared by the stages: params, video I/O, image sets, detection, alignment, networks, blending, tracking."""
