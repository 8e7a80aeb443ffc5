"""The rehearsal of `pulumi up`: the unmodified program deployed through terraform-provider-aws to moto, every control
read back, judged by the pack, the audit function run as deployed, then destroyed.

One module per concern: world.py (the moto server, the organization, loopback-guarded clients), deploy.py (up and
destroy through preflight.provider_engine), verify.py (boto3 read-back), audit_run.py (the deployed Lambda zip in a
separate interpreter), cli.py (the command and its table).
"""
