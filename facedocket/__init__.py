"""FaceDocket: face recognition with the limits built in."""

from facedocket.errors import FaceDocketError, InvalidImage, NoFaceFound

__version__ = "0.1.0"

__all__ = ["FaceDocketError", "InvalidImage", "NoFaceFound", "__version__"]
