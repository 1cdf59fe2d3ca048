"""Wire contracts: inbound event models and the codec (bytes <-> domain event or DLQ
rejection), the outbound ATP records, reorder and rebalance signals and DLQ headers, and the
generated JSON Schemas under `schemas/`."""
