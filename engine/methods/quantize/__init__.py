"""Quantization of the exported ONNX file (stage "artifact"): every method here writes a
new deployable file with onnxruntime's own quantizers and records how it made it."""
