"""forms registry (catalog, data elements, agreements, redundancy audit)."""
