"""Root access key audit (CIS 1.4, Security Hub IAM.4, Prowler iam_no_root_access_key): the detective control.

Modules: report (pure verdicts), aws (credential report I/O), org (organization-wide), remediate (opt-in root key
deletion via sts:AssumeRoot), publish (CloudWatch, SNS, Security Hub), runner (one run), handler (Lambda), cli.
Nothing here imports tqdm or moto at import time: the Lambda runtime has boto3 only.
"""
