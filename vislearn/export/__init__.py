"""`vislearn export`: a run as an ONNX graph with its preprocessing, checked for decision parity (see docs/export.md)."""
