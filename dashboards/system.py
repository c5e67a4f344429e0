"""System monitor (Panel app): ``panel serve dashboards/system.py`` or, in Jupyter,
``{base_url}panel-preview/render/dashboards/system.py``.

``$LEARNPULSE_REFRESH_S`` sets the refresh interval (seconds); it can be changed on the page.
"""

import os

from learnpulse.viz import theme
from learnpulse.viz.launch import dashboard
from learnpulse.viz.system import REFRESH_INTERVAL_S

theme.setup()

interval = float(os.environ.get("LEARNPULSE_REFRESH_S", REFRESH_INTERVAL_S))
dashboard("system", interval_s=interval).servable(title="learnpulse: system")
