"""Knowledge distillation: a teacher's soft labels, hidden states and attention train a student.

losses.py (the loss functions), objective.py (the training objective that mixes them with the
task loss), blocks.py / students.py (where a model keeps its blocks; students built from the
teacher), distill.py / distill_config.py (the registered method).
"""
