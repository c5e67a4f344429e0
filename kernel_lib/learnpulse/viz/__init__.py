"""Panel/hvplot components for dashboards and notebooks, over polars frames.

- :mod:`~learnpulse.viz.theme`: one look (colours, sizes) and Panel set-up (offline resources,
  Voila comms);
- data: :mod:`~learnpulse.viz.sources` (in-process :class:`~learnpulse.viz.sources.DirectSource`,
  :func:`~learnpulse.viz.sources.default_source`), :mod:`~learnpulse.viz.http` (the server's
  API, as the signed-in user), :mod:`~learnpulse.viz.connection` (how a kernel finds its
  server), :mod:`~learnpulse.viz.data` and :mod:`~learnpulse.viz.predictions` (frames for
  panels);
- views: :mod:`~learnpulse.viz.charts` (HoloViews charts with labelled axes and units),
  :mod:`~learnpulse.viz.components` (reusable ``Viewer`` components);
- apps: :mod:`~learnpulse.viz.instructor`, :mod:`~learnpulse.viz.student`,
  :mod:`~learnpulse.viz.system`, :mod:`~learnpulse.viz.training`, served by
  :mod:`~learnpulse.viz.launch` (``learnpulse dashboard NAME``) or from ``dashboards/``.
"""
