"""The SimPy simulator: a distributor's network, its feeds and faults, ground truth, reports.

- `spec` / `scenarios`: the scenario schema and the shipped library (`scenarios/*.yaml`).
- `network`: master data as indexed arrays; `truth`: the physical stock, exactly.
- `model`: the physical processes (demand, fulfilment, replenishment, transfers, quality,
  returns, shrinkage, counts); `feeds`: the raw formats each site reports in; `faults`.
- `engine`: one run (model + feeds + delivery clock + sampler); `offline`: the twin core
  in-process; `live`: Kafka and the running dataflows; `parallel`: SKU-sharded offline runs.
- `report` / `plots`: the resilience report; `runner.run_scenario`: the one entry point.
"""
