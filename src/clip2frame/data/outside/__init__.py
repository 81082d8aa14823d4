"""Evaluation-only corpora made outside the training renderer (issue #24): **never train or fit on them**.

* :mod:`~clip2frame.data.outside.arrange` / :mod:`~clip2frame.data.outside.parts` — a second arrangement
  generator (genre templates, harmony, voicing, number and density of parts, entrances/exits, registers),
  written separately from :mod:`clip2frame.data.synth.compose` and sharing none of its arrangement logic;
* :mod:`~clip2frame.data.outside.produce` — a separate producer (relative levels with a part buried
  15-25 dB under the lead, effect chains, panning folded to mono, bus compression, mastering);
* :mod:`~clip2frame.data.outside.render` — ``clip2frame synth outside``: those arrangements rendered with
  the held-out soundfonts only (MuseScore General, TimGM6mb), splits ``val`` (for later model selection
  outside the renderer) and ``test`` (the evaluation axis) from disjoint seed streams, exact frame truth;
* :mod:`~clip2frame.data.outside.real` / :mod:`~clip2frame.data.outside.recorded` — ``clip2frame synth
  real``: real recorded material (Debian ``freepats``, ``lmms-common``, ``sonic-pi-samples``; the one list is
  :data:`clip2frame.data.synth.timbres.EVAL_ONLY_RECORDINGS`) sequenced into parts, truth from stem energy;
* :mod:`~clip2frame.data.outside.nonmusic` — ``clip2frame synth nonmusic``: silence, noise, hum, speech,
  applause, everyday sounds, tones and sweeps (empty truth).

Guards: the training corpus code (:mod:`clip2frame.data.synth`) never imports this package (a test checks
it); :func:`~clip2frame.data.outside.render.heldout_soundfonts` only returns sources marked held-out; the
timbre pools refuse any source under an evaluation-only recording directory; every manifest written here
carries ``"evaluation_only": true`` in ``metadata.json``.
"""
