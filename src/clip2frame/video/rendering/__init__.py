"""Embedded audio-visual corpus: rendered scenes of the nine instruments being played, with exact truth.

Each video shows 1–3 instruments (the colour emoji of Noto Color Emoji; the **cello is the violin glyph
rotated upright and drawn 1.4× larger**; a drawn shape stands in for any glyph the font lacks) held by
simple "players". The players' contact parts — bow, fretting finger, strumming hand, drum sticks, piano
fingers, accordion bellows and hands, wind-instrument fingers — move the way the instrument is played
**when, and only when,** that instrument's notes sound: every playing motion is a function of the
instrument's *played clock* (seconds of sound so far) or of its note onsets, so it stops in rests.
The soundtrack is rendered from the same note events (FluidSynth General-MIDI programs through
``clip2frame.data.synth``; simple additive tones when that is unavailable).

Distractors: idle visible instruments (whose players sometimes wave), a slow body sway of every player
(non-playing motion, always on), walkers crossing the scene, a swinging shape, camera shake and zoom,
2–3 instruments in one scene, varied scale and position, and instruments heard but off-screen.

Appearance (:mod:`~clip2frame.video.rendering.appearance`): ``appearance="fixed"`` (the default) draws every video
the same way; ``"random"`` draws each video's instrument pictures (emoji glyphs, hue-shifted or not, or
filled drawings), background family, player shape and clothes, scale, frame size, frame rate, camera and
H.264 quality from a training pool, and ``n_heldout_style`` adds a ``heldout-style`` split in a style the
pool never uses (outline sketches, tiled backgrounds, stick players), recorded per video in its truth
(``look``).

Difficulty knobs (``VideoSynthConfig``): ``motion_gain`` scales every playing motion and ``shake_px`` the
camera shake. The defaults (1.5 and 1 px; 1.0 and 2 px before 2026-12-03) were set by measurement: at the
old ones the flow at the contact points (2–3 px per flow step) was hardly above the camera's (1.3–1.7 px
over the whole frame) and no action model learned in a CPU budget. ``limb_width`` scales the drawn thickness
of the moving parts (arms, hands, fingers, bow, sticks); at 1.0 they are 1-4 px wide lines, thinner than a
real forearm at this scale, and the flow they make hardly stands out from the distractors' (RESULTS.md,
"Why the action map alone is less precise").

Truth per output frame ``t`` (1.953 fps, taken on the picture shown at ``(t + 0.5)·0.512 s``, in pixels
of the written frame, which is already 256 on its long side): sound fraction per instrument,
on-screen playing instruments, contact key points of the instruments being played, and boxes of every
visible instrument. Video tags are the instruments **played on screen**; an off-screen instrument is heard
but not tagged (its sound events are in ``<split>.strong.tsv``).

Layout written (a manifest directory, see ``clip2frame.data.manifest``)::

    metadata.json  <split>.weak.tsv  <split>.strong.tsv  videos/<id>.mp4  truth/<id>.json

Modules: :mod:`~clip2frame.video.rendering.settings` (the corpus settings), :mod:`~clip2frame.video.rendering.scene`
(scenes and animation),
:mod:`~clip2frame.video.rendering.appearance` (pictures, backgrounds, players, looks),
:mod:`~clip2frame.video.rendering.soundtrack` (audio rendering), :mod:`~clip2frame.video.rendering.corpus`
(writing videos and the corpus), :mod:`~clip2frame.video.rendering.stills` (instrument stills: the object
model's stand-in for ImageNet). Reading a corpus' truth (:func:`~clip2frame.video.training.data.load_truth`)
belongs to the training side. Rendering imports the inference side (``io.write_mp4``, the time base), never
the training side.
"""
