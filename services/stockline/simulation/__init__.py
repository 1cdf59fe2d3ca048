"""`stockline simulate`: a WMS/OMS stand-in for the network file's fulfilment network.

Pure parts: `model` (the synthetic world: SKU catalogue, demand, clocks), `stock` (the
simulator's own stock book), `generator` (domain events from a seed), `closed_loop` (how
signals become ASNs and transfers), `kpi` (the report's numbers). I/O lives in `kafka_io`
(producer and the ATP / signal consumers), `runner` (the open and closed loops),
`sandbox` (an isolated worker per policy) and `report` (kpi.json, PNG, table).
See docs/simulation.md.
"""
