"""Sources: where CloudTrail lives. Each yields inputs (an origin name and a way to read its bytes)."""
