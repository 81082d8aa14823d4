"""Audio: decoding (:mod:`.io`), live sources (:mod:`.live`, raw PCM formats in :mod:`.pcm`) and the multi-scale
log-mel front-end (:mod:`.features`). Import from the modules: the package itself imports nothing, so
``clip2frame.audio.pcm`` stays light and ``clip2frame.audio.io`` does not load torch."""
