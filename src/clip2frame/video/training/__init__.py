"""Training and evaluation of the sound, object and action models of thesis ch. 4 (``clip2frame video train``,
``clip2frame video evaluate``, ``clip2frame demo --video``): corpus data (:mod:`.data`), the flow cache
(:mod:`.cache`), action targets (:mod:`.targets`), training loops and configs (:mod:`.training`), Table 4.8
evaluation (:mod:`.evaluate`), movements (:mod:`.movements`), the video demo (:mod:`.demo`) and the packaged
video models (:mod:`.default_models`). Model files are :mod:`clip2frame.models.io`'s."""
