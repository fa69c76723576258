"""The occlusion-aware mask: a small segmentation network of the visible face (what covers it left out),
trained per project on the target's aligned faces and the mask labels, in DeepFaceLab's XSeg manner."""
