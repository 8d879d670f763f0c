"""What one grading runs on: its scratch folder and its worker, renewed together after a fault."""
from autograder.sandbox.scratch import Scratch
from autograder.sandbox.worker import Worker


class Ground:
    """What a grading runs on: its scratch folder and its worker. After a fault that is not the
    submission's, `renew()` gives the next attempt a fresh scratch folder and a fresh worker (what was
    learned about the submission, e.g. a file that hangs at import, is kept)."""

    def __init__(self, handout, submitted, limits, slot, confined, zygote, guardian, device="cpu"):
        self.handout, self.submitted, self.slot, self.guardian = handout, submitted, slot, guardian
        self.worker = Worker(self._scratch(), limits, slot.account, confined=confined, zygote=zygote,
                                     guardian=guardian, device=device)

    def _scratch(self):
        scratch = Scratch(self.handout, self.submitted, self.slot.account)
        self.guardian.scratch(scratch.path)
        return scratch

    def renew(self):
        self.worker.stop()
        self.worker.scratch.remove()
        self.worker.scratch = self._scratch()

    def close(self):
        self.worker.stop()
        self.worker.scratch.remove()
