"""The worker's own runtime (copied into each grading's scratch folder as worker/): the request loop
and the kernel confinement. Not shipped to students; the code it shares with their self-checks
(homework loader, probes, channel) is selfcheck/."""
