from markupsafe import Markup


def preview_rows(pairs):
    """A small two-column HTML table from (label, value) pairs; values are escaped unless Markup."""
    body = Markup("").join(
        Markup("<tr><th class='pe-2 align-top'>%s</th><td>%s</td></tr>") % (label, value)
        for label, value in pairs if value not in (None, False)
    )
    return Markup("<table class='table table-sm o_salesjet_preview'>%s</table>") % body
