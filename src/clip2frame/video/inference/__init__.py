"""Video inference (``clip2frame detect``): decoding, flow, visual and sound predictions, fusion, detection,
overlay and map metrics. Imports no module of :mod:`clip2frame.video.rendering` or
:mod:`clip2frame.video.training` (import contract in ``.importlinter``)."""
