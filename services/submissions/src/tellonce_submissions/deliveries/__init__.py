"""Fan-out: the outbox, webhook endpoints, workers' delivery logic, the pull feed."""
