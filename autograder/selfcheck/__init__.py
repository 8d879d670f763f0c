"""Public: shipped whole in the handout as selfcheck/. The runtime the worker shares with students' self-checks
(homework, probes, channel, devices), the checks' vocabulary (expect) and the public checks. The grader's
unshipped code lives elsewhere: autograder/hidden/ (hidden probes), worker/, checks/."""
