"""Instrument-playing action detection in video (thesis ch. 4), in three subpackages by role.

* :mod:`~clip2frame.video.inference` — what ``clip2frame detect`` needs: io (decode on the shared time base)
  → flow (Farneback stacks) → predict (heat maps of the visual networks of
  :mod:`clip2frame.models.visual`; sound through :mod:`clip2frame.infer.predict`) → fusion → detect; overlay,
  metrics. It imports neither of the other two.
* :mod:`~clip2frame.video.rendering` — the embedded audio-visual corpus (scenes, appearance, soundtrack,
  stills, corpus writer). It imports the inference side (video writing), never the training side.
* :mod:`~clip2frame.video.training` — corpus data, flow cache, targets (VT/OT/ST/SOT), training loops,
  evaluation, movements, the video demo and the packaged video models. It may import both others.

The import contracts are in ``.importlinter`` (checked by ``tests/test_layers.py``).
"""
