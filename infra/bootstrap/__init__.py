"""The bootstrap project: what an admin creates once per subscription so CI can deploy.

State storage, the Key Vault key that encrypts stack secrets, the resource groups CI deploys
into, the identities GitHub Actions logs in as (OIDC, no client secret: one that deploys dev,
one for pull requests), and their least roles. Its own Pulumi project
(infra/bootstrap/Pulumi.yaml); its outputs are the GitHub repository variables to set.
"""
