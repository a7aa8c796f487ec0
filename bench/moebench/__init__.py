"""moe benchmark suite: the package behind bench/run (docs/benchmarks.md).

  cli          options and main()
  runner       Bench: preflight, versions, upstream, the scenario order
  contenders/  one module per kind of contender (moe, nginx, haproxy, ...)
  scenarios/   one module per kind of scenario (load, grpc, memory, ...)
  report       the per-scenario Markdown (+ PNG) and SUMMARY.md
  loadgen      wrk and h2load command lines and parsers
  procs        the process table and the --proxy-cpu cgroups
  common       paths, ports, helpers

Python 3 standard library only.
"""
