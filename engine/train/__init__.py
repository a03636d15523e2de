"""Fine-tuning: the loop (loop.py), its loss watch (loss_watch.py) and resumable state (state.py).

Import from the module that holds a name (engine.train.loop ...): this package file stays
empty so that reading a training state does not import the loop and the method family.
"""
