"""Student dashboard (Panel app): ``panel serve dashboards/student.py`` or, in Jupyter,
``{base_url}panel-preview/render/dashboards/student.py``.

Shows the signed-in learner only: through the server, the user the token belongs to; run
outside Jupyter, the learner of this process (``$LEARNPULSE_LEARNER_ID``).
"""

from learnpulse.viz import theme
from learnpulse.viz.launch import dashboard

theme.setup()

dashboard("student").servable(title="learnpulse: my progress")
