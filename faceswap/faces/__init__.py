"""Faces: detection, landmarks, geometry, identity, quality, the filter rules, the alignments file and the
time series of a face's points."""
