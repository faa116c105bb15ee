"""What a reload tells the world: payloads and failures, the static analysis of functions, its prefetch."""
