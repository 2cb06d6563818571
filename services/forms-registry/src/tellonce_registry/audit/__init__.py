"""The redundancy audit: which published forms ask residents for the same facts, what that costs
them in hours, and what a tell-once prefill would save."""
