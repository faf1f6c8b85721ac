"""Image maths on arrays: decoding, masks, B-mode simulation. Imports no stage above it."""
