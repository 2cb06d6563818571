"""submissions (drafts, prefill, submissions, fan-out)."""
