"""Profiling and analysis: where a model's time, memory and energy go (issue #12)."""
