"""Text from the student's process reaches feedback only through redaction.student_text: the type,
the student's line, and a bounded excerpt with numbers hidden however they are spelled."""
from autograder.redaction import student_text

TRACEBACK = ("ValueError: logits were two point one one six, minus zero point five and 3.14159 -2.5e-3\n"
             "  models/gan.py, line 40, in discriminator_loss: loss = helper(logits_real)\n"
             "  models/gan.py, line 12, in helper: raise ValueError(f'logits were {words(x)}')")


def test_the_type_and_the_last_student_frame_are_named():
    text = student_text(TRACEBACK)
    assert text.startswith("ValueError at models/gan.py, line 12, in helper: ")


def test_digits_and_spelled_out_numbers_are_hidden():
    text = student_text(TRACEBACK)
    for leak in ("two", "point", "one", "six", "five", "zero", "minus", "3", "14159", "2.5", "e-"):
        assert leak not in text.split(": ", 1)[1], (leak, text)
    assert "logits were #" in text


def test_the_excerpt_is_bounded_however_long_the_message():
    text = student_text("RuntimeError: " + "abcdefgh " * 10_000, limit=300)
    assert len(text) < 300 + 60 + 20
    assert text.endswith("[...]")


def test_a_message_without_a_traceback_or_a_type_still_passes_through_the_same_rule():
    assert student_text("NotImplementedError: ") == "NotImplementedError"
    assert student_text("printed 1 2 3 four five") == "the error: printed #"
    assert student_text("RuntimeError: The size of tensor a (16) must match the size of tensor b (1)") == (
        "RuntimeError: The size of tensor a (#) must match the size of tensor b (#)")


def test_names_made_at_run_time_cannot_carry_numbers():
    text = student_text("Leak_3_1_4Error: x\n  ewc.py, line 9, in f_two_seven: pass")
    assert "3" not in text and "two" not in text and "seven" not in text


def test_the_graded_functions_names_and_the_line_are_shown_as_they_are():
    text = student_text("IndexError: index 10 is out of bounds\n  diffusion.py, line 27, in q_xt_given_x0: ab[t]")
    assert text == "IndexError at diffusion.py, line 27, in q_xt_given_x0: index # is out of bounds"
