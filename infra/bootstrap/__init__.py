"""The bootstrap project: what an admin creates once per subscription so CI can deploy.

State storage, the Key Vault key that encrypts stack secrets, the identity GitHub Actions logs
in as (OIDC, no client secret), and that identity's least roles. Its own Pulumi project
(infra/bootstrap/Pulumi.yaml); its outputs are the GitHub repository variables to set.
"""
