"""ImageNet bounding boxes (PASCAL VOC XML, as in ImageNet's ``Annotation/<wnid>/<wnid>_<n>.xml``).

Layout::

    <root>/Annotation/<wnid>/<wnid>_<n>.xml   (or <root>/<wnid>/*.xml, or *.xml anywhere below <root>)
    <root>/<wnid>/<wnid>_<n>.JPEG             (or Images/<wnid>/..., or beside the XML; any image extension)

Each XML: ``annotation/filename`` (often without extension), ``annotation/size/{width,height}``, and one
``annotation/object`` per box with ``name`` (the synset id) and ``bndbox/{xmin,ymin,xmax,ymax}`` (pixels).
"""
from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Mapping

from ...errors import DatasetError
from ._common import Issues, check_root

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".JPEG", ".jpeg", ".jpg", ".JPG", ".png", ".PNG")

#: Thesis ch. 4 (ImageNet-Instrument): synset → instrument of ``clip2frame.tags.VIDEO_INSTRUMENTS``.
CH4_SYNSETS: dict[str, str] = {
    "n02672831": "accordion",
    "n02992211": "cello",
    "n03249569": "drums",
    "n03372029": "flute",
    "n02676566": "guitar",   # acoustic guitar
    "n03272010": "guitar",   # electric guitar
    "n03452741": "piano",    # grand piano
    "n04515003": "piano",    # upright piano
    "n04141076": "saxophone",
    "n03110669": "trumpet",  # cornet, horn, trumpet, trump
    "n04536866": "violin",
}


@dataclass(frozen=True)
class Box:
    """One labelled bounding box, in pixels of its image."""

    label: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float

    def contains(self, x: float, y: float) -> bool:
        """Whether the point ``(x, y)`` (pixels) lies inside the box, edges included."""
        return self.xmin <= x <= self.xmax and self.ymin <= y <= self.ymax


@dataclass(frozen=True)
class ImageBoxes:
    """The boxes of one image; ``image_path`` is None when the image file was not found."""

    image_id: str
    image_path: Path | None
    width: int
    height: int
    boxes: tuple[Box, ...]


def parse_voc_xml(path: str | Path) -> tuple[str, int, int, list[tuple[str, float, float, float, float]]]:
    """One VOC XML → ``(filename, width, height, [(name, xmin, ymin, xmax, ymax), ...])``."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise DatasetError(f"{path}: not valid XML ({e})") from None
    if root.tag != "annotation":
        raise DatasetError(f"{path}: root element is <{root.tag}>, expected <annotation>")
    try:
        fname = (root.findtext("filename") or path.stem).strip()
        width = int(float(root.findtext("size/width") or ""))
        height = int(float(root.findtext("size/height") or ""))
    except (TypeError, ValueError):
        raise DatasetError(f"{path}: size/width and size/height must be numbers") from None
    objs = []
    for i, obj in enumerate(root.iter("object")):
        name = (obj.findtext("name") or "").strip()
        try:
            coords = [float(obj.findtext(f"bndbox/{k}") or "") for k in ("xmin", "ymin", "xmax", "ymax")]
        except (TypeError, ValueError):
            raise DatasetError(f"{path}: object {i}: bndbox xmin/ymin/xmax/ymax must be numbers") from None
        if not name or coords[2] < coords[0] or coords[3] < coords[1]:
            raise DatasetError(f"{path}: object {i}: empty name or xmax < xmin / ymax < ymin")
        objs.append((name, coords[0], coords[1], coords[2], coords[3]))
    return fname, width, height, objs


def read_boxes(root: str | Path, *, synset_map: Literal["ch4"] | Mapping[str, str] | None = None,
               issues: Issues | None = None) -> list[ImageBoxes]:
    """Read every VOC XML below ``root``.

    ``synset_map`` renames synsets (``"ch4"``: :data:`CH4_SYNSETS`); with a map, boxes of other synsets
    are dropped and images left without boxes are skipped. Malformed XML files are skipped and recorded
    in ``issues`` when given, else raise :class:`DatasetError`.
    """
    root = check_root(root, dataset="ImageNet boxes")
    ann_root = root / "Annotation" if (root / "Annotation").is_dir() else root
    xmls = sorted(ann_root.rglob("*.xml"))
    if not xmls:
        raise DatasetError(f"{root}: no *.xml found — expected Annotation/<wnid>/<wnid>_<n>.xml (PASCAL VOC)")
    mapping = CH4_SYNSETS if synset_map == "ch4" else (dict(synset_map) if synset_map is not None else None)
    out = []
    for x in xmls:
        try:
            fname, w, h, objs = parse_voc_xml(x)
        except DatasetError as e:
            if issues is None:
                raise
            issues.bad_file(x, str(e).split(": ", 1)[-1])
            continue
        boxes = tuple(Box(mapping[n] if mapping is not None else n, *c) for n, *c in objs
                      if mapping is None or n in mapping)
        if mapping is not None and not boxes:
            continue
        stem = Path(fname).stem if Path(fname).suffix in IMAGE_EXTENSIONS else fname
        wnid = x.parent.name
        image = _find_image(root, x, wnid, stem, fname)
        if image is None and issues is not None:
            issues.missing_file(root / wnid / f"{stem}.JPEG")
        out.append(ImageBoxes(stem, image, w, h, boxes))
    return out


def _find_image(root: Path, xml: Path, wnid: str, stem: str, fname: str) -> Path | None:
    dirs = [root / wnid, root / "Images" / wnid, root / "images" / wnid, xml.parent, root]
    for d in dirs:
        if Path(fname).suffix and (d / fname).is_file():
            return d / fname
        for e in IMAGE_EXTENSIONS:
            if (d / f"{stem}{e}").is_file():
                return d / f"{stem}{e}"
    return None
