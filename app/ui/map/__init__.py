"""The map view of the common operating picture (offline Leaflet in Qt WebEngine).

Importing this package before the QApplication exists registers the ``wf://`` URL scheme, which Qt
WebEngine only accepts at that moment.
"""

from PySide6.QtCore import QCoreApplication

from app.ui.map.offline import register_url_schemes

if QCoreApplication.instance() is None:
    register_url_schemes()

from app.ui.map.view import MapView

__all__ = ["MapView", "register_url_schemes"]
