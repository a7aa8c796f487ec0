"""The scenarios, one module per kind of measurement. A scenario module has
  KINDS       the `kind` values of its scenarios
  SCENARIOS   {name: dict(kind, title, what, durations or counts, ...)} in --list order
  table(bench, scname, d, contenders) -> (summary table lines, chart rows, chart, raw lines)
and the function bench/run's runner calls: run_scenarios(bench, names) for the
load scenarios (one set of contenders for all), run_scenario(bench[, scname])
for the others. Optionally env_section(bench, scname) (the report's Setup) or
write(bench, md, png) (a report of its own shape: gobridge)."""

from . import gobridge, grpc, instructions, load, memory

MODULES = (load, grpc, memory, instructions, gobridge)

SCENARIOS = {}  # every scenario, in --list order
MODULE = {}     # kind: its module
for _m in MODULES:
    SCENARIOS.update(_m.SCENARIOS)
    for _kind in _m.KINDS:
        MODULE[_kind] = _m
