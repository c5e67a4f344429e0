"""learnpulse Jupyter server extension."""
