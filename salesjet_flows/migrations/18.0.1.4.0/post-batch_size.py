"""Batches of up to 1,000 due jobs (1.4.0), not 500: a database whose Flows settings were ever saved stored the
old default, which would keep it from the new one; a size chosen on purpose (any other value) is kept."""


def migrate(cr, version):
    if not version:
        return
    cr.execute("""
        UPDATE ir_config_parameter SET value = '1000'
         WHERE key = 'salesjet_flows.job_batch_size' AND value = '500'
    """)
