"""Public: shipped in the handout as selfcheck/. The worker side (homework, probes, serve, channel) and the public checks."""
