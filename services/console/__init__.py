"""The organisers' and partners' web console: pages over the three services' public APIs."""
