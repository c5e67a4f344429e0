"""Student dashboard (Panel app): ``panel serve dashboards/student.py`` or, in Jupyter,
``{base_url}panel-preview/render/dashboards/student.py``.

Shows the signed-in learner only: through the server, the user the token belongs to; run
outside Jupyter, the learner of this process (``$LEARNPULSE_LEARNER_ID``).
"""

from learnpulse.viz import theme
from learnpulse.viz.sources import default_source
from learnpulse.viz.student import StudentDashboard

theme.setup()

source = default_source()
StudentDashboard(source, learner_id=source.user()).servable(title="learnpulse: my progress")
