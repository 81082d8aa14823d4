"""The on-disk result files of a tagged or detected recording, one owner for writing and reading them.

* :mod:`.activations`: :class:`~clip2frame.results.activations.FrameActivations` (probs [T, K], boundaries
  [T+1], thresholds [K]) and its events (:meth:`~clip2frame.results.activations.FrameActivations.to_events`);
* :mod:`.formats`: format names and file suffixes (``<stem>.scores.tsv``, ``.events.tsv``, ``.npz``, ...);
* :mod:`.writers`: one writer per format, atomic, ``write_outputs``; the TSV field escaping;
* :mod:`.readers`: the readers beside them, the walk over a results folder, one result's data with the one
  threshold fallback (``DEFAULT_THRESHOLD``);
* :mod:`.provenance`: the ``<stem>.meta.json`` sidecar and the provenance fields of the NPZ and JAMS.

Layer: below ``infer``, ``index`` and ``web`` (which import it), above ``data`` (events and the manifest's
headers). The conversions between a frame grid and events that ``data`` needs itself live in
:mod:`clip2frame.data.events`.
"""
