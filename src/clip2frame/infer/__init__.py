"""Inference: :mod:`.predict` (one recording -> frame activations), :mod:`.stream` (live), :mod:`.batch` (the batch of ``tag`` and ``detect``), :mod:`.discover`, :mod:`.resume`, :mod:`.summary`."""
