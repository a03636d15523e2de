"""Model Optimization Workbench engine: pure Python + torch, no Qt.

Entry points: `engine.recipe.Recipe`, `engine.job.Job`, `engine.store.Workspace`.
"""

__version__ = "0.1.0"
