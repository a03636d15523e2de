"""Comparing variants: lineage tree, Pareto fronts, recipe/layer/graph diffs."""
