"""Training analytics (Panel app): ``panel serve dashboards/training.py`` or, in Jupyter,
``{base_url}panel-preview/render/dashboards/training.py``.

Runs are those logged with ``learnpulse.track_training`` that the signed-in user may see.
"""

from learnpulse.viz import theme
from learnpulse.viz.launch import dashboard

theme.setup()

dashboard("training").servable(title="learnpulse: training")
