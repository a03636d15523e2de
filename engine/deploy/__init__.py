"""Deployment targets: named device classes (server, mobile, edge) and the pass/fail check of
a deployable ONNX file against each."""
