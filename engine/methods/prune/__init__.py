"""Pruning (stage "module"): unstructured and N:M masks, structured cuts that shrink tensors,
their schedules and the importance criteria they share."""
