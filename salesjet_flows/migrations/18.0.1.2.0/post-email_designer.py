"""Email steps are designed in Odoo's email designer (1.2.0): its design field, new, starts as the body each
email step already had (in every language), so that the designer opens on the email as it is sent."""


def migrate(cr, version):
    if not version:
        return
    cr.execute("""
        UPDATE salesjet_flow_step
           SET email_body_arch = email_body
         WHERE email_body IS NOT NULL AND email_body_arch IS NULL
    """)
