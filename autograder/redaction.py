"""The one way text from the student's process reaches feedback.

Exception messages and printed output come from code the student controls, which sees the hidden
inputs; they may spell those inputs any way at all (digits, words, letters standing for digits).
So no filter of "numbers" can be trusted to catch them: what is shown is bounded instead. A text
becomes the exception's type, where it was raised in the student's file (from the last frame of
homework.describe's traceback that lies in a homework file) and a short excerpt of the message with
digits and English number words hidden. At most `limit` characters of the student's words pass.
"""
import re

from autograder.selfcheck.surface import GRADED

# the graded functions' own names are shown as they are (q_xt_given_x0 has a digit)
KNOWN_FUNCTIONS = {name.rsplit(".", 1)[-1] for names in GRADED.values() for name in names}

# homework.describe writes one line per student frame: "  models/gan.py, line 12, in discriminator_loss: code"
FRAME = re.compile(r"^\s+(?P<file>[\w./-]+\.py), line (?P<line>\d+), in (?P<function>[\w.<>]+)")
# "ValueError: message" (a dotted name for exceptions of modules, e.g. torch._C._LinAlgError)
HEAD = re.compile(r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Warning|Exit|Interrupt|Iteration)|[A-Z]\w*):\s?(?P<rest>.*)$")
NUMBER_WORDS = ("zero oh one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
                "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred "
                "thousand million billion point minus dot half").split()
# bounded by anything but a letter: "f_two_seven" and "2two" hide theirs too
NUMBER_WORD = re.compile(r"(?<![a-z])(?:" + "|".join(NUMBER_WORDS) + r")s?(?![a-z])", re.I)
DIGITS = re.compile(r"[0-9]+")
HIDDEN = "#"


def hide_numbers(text):
    """Digits and English number words replaced by '#', runs of them collapsed to one."""
    text = NUMBER_WORD.sub(HIDDEN, DIGITS.sub(HIDDEN, text))
    return re.sub(r"#(?:[\s.,:;/eE+-]*#)+", HIDDEN, text)


def student_text(text: str, limit: int = 300) -> str:
    """What may be shown of a text from the student's process: '<Type> at <file>, line <n>, in <function>:
    <excerpt>' (the parts that are known), with digits and number words hidden, at most `limit` characters
    of the student's own words."""
    lines = str(text).splitlines() or [""]
    head = HEAD.match(lines[0].strip())
    kind, message = (head["type"], head["rest"]) if head else (None, lines[0])
    frames = [f for f in map(FRAME.match, lines[1:]) if f]
    last = frames[-1] if frames else None
    # the file and line are the student's source, shown as they are; the function's name can be made at run time
    function = last and (last["function"] if last["function"] in KNOWN_FUNCTIONS else hide_numbers(last["function"])[:60])
    where = f" at {last['file']}, line {last['line']}, in {function}" if last else ""
    # the message may go on over several lines (a torch error's second line says which shapes)
    body = " ".join([message.strip()] + [line.strip() for line in lines[1:] if not FRAME.match(line)]).strip()
    excerpt = hide_numbers(body)
    if len(excerpt) > limit:
        excerpt = excerpt[:limit].rstrip() + " [...]"
    # the type's name is the student's words too (a class can be made at run time)
    label = hide_numbers((kind or "the error")[:60]) + where
    return f"{label}: {excerpt}" if excerpt else label
