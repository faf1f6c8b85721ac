"""Image I/O on arrays: decoding and encoding, file readers, lesion ROI crops. Imports no layer above it."""
