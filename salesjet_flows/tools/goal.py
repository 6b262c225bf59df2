import ast


def parse_goal(text):
    """A goal as a goal field holds it (a domain on res.partner, as the domain widget writes it) as a domain
    list, ``[]`` when empty. The one reading of goal texts: the flow's goal and a split's goal.

    Raises ``ValueError``/``SyntaxError`` when the text is not a literal domain.
    """
    return ast.literal_eval(text or "[]")
