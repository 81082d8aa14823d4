// clip2frame viewer palette, shared by the file view (app.js) and the live view (live.js):
// one colour per kind group (in group order) and the viridis colour map of probabilities.
"use strict";

(function () {
  const KIND_COLORS = ["#2563eb", "#d97706", "#059669", "#7c3aed", "#dc2626", "#0891b2", "#65a30d", "#db2777"];
  // viridis, 9 stops
  const VIRIDIS = [[68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
                   [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37]];
  function colormap(p) {
    const v = Math.min(1, Math.max(0, p)) * (VIRIDIS.length - 1);
    const i = Math.min(VIRIDIS.length - 2, Math.floor(v));
    const f = v - i, a = VIRIDIS[i], b = VIRIDIS[i + 1];
    return "rgb(" + Math.round(a[0] + f * (b[0] - a[0])) + "," + Math.round(a[1] + f * (b[1] - a[1])) +
      "," + Math.round(a[2] + f * (b[2] - a[2])) + ")";
  }
  window.c2fPalette = { KIND_COLORS: KIND_COLORS, colormap: colormap };
})();
