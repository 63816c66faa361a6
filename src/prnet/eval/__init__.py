"""Evaluation: the AFLW2000-3D protocol and speed benchmarks.

* :mod:`prnet.eval.aflw2000` — loading the ``.jpg`` + ``.mat`` pairs; the approximate
  ground-truth mesh rebuilt from the 3DMM parameters.
* :mod:`prnet.eval.metrics` — NME (68-point, dense), yaw bins, ICP reconstruction error, pose
  MAE, CED.
* :mod:`prnet.eval.protocol` — predictors (ours with GT-landmark or detector crops, the
  3DDFA_V2 teacher), the runner, summaries (``prnet eval aflw2000``).
* :mod:`prnet.eval.report` — CSV, Markdown tables, CED plots.
* :mod:`prnet.eval.bench` — pipeline stage times, network latency/throughput (``prnet bench``).
"""
