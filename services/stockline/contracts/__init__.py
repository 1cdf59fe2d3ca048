"""Wire contracts: inbound event models and the codec (bytes <-> domain event or DLQ
rejection), the outbound `inventory.atp` message and DLQ headers, and the generated JSON
Schemas under `schemas/`."""
